""""See also": trials similar to a study (or to free text), each with the reason why.

How a query runs
----------------
1. Candidates: the ~200 nearest studies by embedding (`index/vectors.py`: exact numpy
   below 50k studies, faiss HNSW above) plus up to 50 lexical candidates from the BM25
   full-text index when one is built (the target's most specific key-field words, OR-ed).
2. Every candidate is rescored by ONE fused function of the target and candidate features
   (`fused_score`), and the best `limit` are returned with an explanation.

Features (`study_features`, stored per study in the vector index)
------------------------------------------------------------------
- conditions: condition MeSH terms (the record's derived condition MeSH, plus
  `mesh.lookup` of each condition as written). A study with no conditions at all gets the
  disease descriptors `mesh.lookup` finds in its title and brief summary (at most 4). Each
  exact term weighs 1.0; each MeSH ancestor of a term weighs 0.12 x its tree depth (max
  0.6), so "Liver Neoplasms" (depth 4) counts for 0.48 and "Neoplasms" (depth 1) for 0.12.
  Similarity = weighted overlap sum(min) / sqrt(sum(A) * sum(B)).
- interventions: normalised names (lower case, doses, routes, forms and brackets removed;
  placebo and usual-care names dropped) weigh 1.0, intervention MeSH terms 1.0 and their
  ancestors 0.08 x depth (max 0.4); same overlap measure.
- lexical: TF-IDF cosine over title, conditions, interventions and keywords (the brief
  summary is added when those give fewer than 12 words), tokens from `mesh.tokens`.
- embedding: cosine of the study embeddings (`index/embeddings.py`).
- design: phase overlap (Jaccard of phases, "NA" ignored), same study type, same primary
  purpose.

The fused score (weights in `WEIGHTS`)
--------------------------------------
    score = 0.40 embedding + 0.25 lexical + 0.30 conditions + 0.15 interventions
          + 0.04 phase + 0.02 study type + 0.02 primary purpose

Tuned by grid search on the development half (even-numbered targets) of the condition
agreement and SIGIR 2016 co-relevance evaluations in `benchmarks/similar.py`, reported on
the held-out half; see that file and the README for the figures.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from functools import lru_cache

import numpy as np
import orjson

WEIGHTS: dict[str, float] = {
    "emb": 0.40,
    "lex": 0.25,
    "cond": 0.30,
    "intr": 0.15,
    "phase": 0.04,
    "type": 0.02,
    "purpose": 0.02,
}
KNN = 200
LEXICAL = 50
LEX_MIN_TOKENS = 12
DERIVED_CONDITIONS = 4
DERIVED_CHARS = 300

COND_ANCESTOR_STEP, COND_ANCESTOR_MAX = 0.12, 0.6
INTR_ANCESTOR_STEP, INTR_ANCESTOR_MAX = 0.08, 0.4

_GENERIC_INTERVENTIONS = {
    "placebo", "placebos", "saline", "standard care", "standard of care", "usual care",
    "best supportive care", "supportive care", "control", "no intervention", "observation",
    "questionnaire", "questionnaires", "survey", "laboratory biomarker analysis",
    "quality of life assessment", "quality-of-life assessment", "pharmacological study",
    "placebo comparator", "sham", "blood sample", "blood draw", "data collection",
}
_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|µg|ug|ml|mL|l|iu|units?|%|mg/kg|mg/m2|mg/m²|gy)\b(?:/\S+)?", re.I)
_FORM = re.compile(
    r"\b(?:tablets?|capsules?|injections?|oral|intravenous|iv|infusion|solution|"
    r"subcutaneous|sc|im|topical|cream|gel|dose|doses|daily|bid|tid|qd|once|twice|high|low)\b", re.I)
_BRACKETS = re.compile(r"[\(\[].*?[\)\]]")
_PREFIX = re.compile(r"^(?:drug|biological|device|procedure|radiation|behavioral|other|dietary supplement|genetic)\s*:\s*", re.I)

_PHASE_LABEL = {
    "EARLY_PHASE1": "Early Phase 1", "PHASE1": "Phase 1", "PHASE2": "Phase 2",
    "PHASE3": "Phase 3", "PHASE4": "Phase 4",
}


# --- vocabulary helpers ----------------------------------------------------------------
@lru_cache(maxsize=1)
def _vocab():
    try:
        from .mesh import vocabulary

        return vocabulary()
    except Exception:  # the MeSH data is optional for similarity: fall back to record terms
        return None


@lru_cache(maxsize=100_000)
def _ancestors_with_depth(name: str) -> tuple[tuple[str, int], ...]:
    v = _vocab()
    if v is None:
        return ()
    trees = v.tree_numbers(name)
    out = []
    for anc in v.ancestors(name):
        depth = 0
        for tn in v.tree_numbers(anc):
            if any(t.startswith(tn + ".") for t in trees):
                depth = max(depth, tn.count(".") + 1)
        if depth:
            out.append((anc, depth))
    return tuple(out)


@lru_cache(maxsize=200_000)
def _lookup(text: str) -> tuple[str, ...]:
    v = _vocab()
    if v is None or not text:
        return ()
    try:
        return tuple(v.lookup(text))
    except Exception:
        return ()


_TOKEN_CACHE: dict[str, tuple[str, ...]] = {}


def _tokens(text: str) -> list[str]:
    """`mesh.tokens` (case, accents, plurals, stopwords, tumour words folded), cached per
    whitespace-separated chunk since it never joins chunks: ~10x faster on prose."""
    try:
        from .mesh import tokens
    except Exception:  # pragma: no cover
        def tokens(t):
            return re.findall(r"[a-z0-9]+", t.lower())
    cache = _TOKEN_CACHE
    if len(cache) > 500_000:
        cache.clear()
    out: list[str] = []
    for chunk in text.split():
        got = cache.get(chunk)
        if got is None:
            got = cache[chunk] = tuple(t for t in tokens(chunk) if len(t) > 1)
        out.extend(got)
    return out


@lru_cache(maxsize=200_000)
def normalise_intervention(name: str) -> str:
    """"Drug: Sorafenib 400 mg tablets (Nexavar)" -> "sorafenib"."""
    s = _PREFIX.sub("", name.strip())
    s = _BRACKETS.sub(" ", s)
    s = _DOSE.sub(" ", s)
    s = _FORM.sub(" ", s)
    s = re.sub(r"[^\w\s+-]", " ", s.lower())
    s = re.sub(r"\s+", " ", s).strip(" -+")
    return s


# --- features -------------------------------------------------------------------------
def _browse_terms(record: dict, module: str) -> list[str]:
    mod = ((record.get("derivedSection") or {}).get(module)) or {}
    return [m["term"] for m in mod.get("meshes") or [] if isinstance(m, dict) and m.get("term")]


def _weighted(terms: list[str], step: float, cap: float) -> dict[str, float]:
    return dict(_weighted_cached(tuple(terms), step, cap))


@lru_cache(maxsize=100_000)
def _weighted_cached(terms: tuple[str, ...], step: float, cap: float) -> tuple[tuple[str, float], ...]:
    out: dict[str, float] = {}
    for t in terms:
        out[t] = 1.0
    for t in terms:
        for anc, depth in _ancestors_with_depth(t):
            w = min(cap, step * depth)
            if out.get(anc, 0.0) < w:
                out[anc] = w
    return tuple(out.items())


def study_features(record: dict) -> dict:
    """The compact features similarity compares (stored per study in the vector index)."""
    from .index.embeddings import study_fields
    from .record import display_title, validate

    p = record.get("protocolSection") or {}
    f = study_fields(record)
    status = p.get("statusModule") or {}
    design = p.get("designModule") or {}
    info = design.get("designInfo") or {}
    try:  # display_title needs only these modules: validating just them is ~20x faster
        title = display_title(validate({"protocolSection": {
            k: p[k] for k in ("identificationModule", "descriptionModule", "sponsorCollaboratorsModule")
            if k in p}}))
    except Exception:
        title = f["title"] or ""

    conds = _browse_terms(record, "conditionBrowseModule")
    for c in f["conditions"]:
        conds.extend(_lookup(c)[:2])
    derived = False
    if not conds and not f["conditions"]:
        # carefully: the title and the opening of the summary name the disease studied; the
        # rest of the prose also names comorbidities, outcomes and exclusions
        text = " ".join(x for x in (f["title"], (f["summary"] or f["description"])[:DERIVED_CHARS]) if x)
        conds = [t for t in _lookup(text) if t != "Neoplasms"][:DERIVED_CONDITIONS]
        derived = bool(conds)
    conds = list(dict.fromkeys(conds))

    iv_names: dict[str, str] = {}
    for name in f["interventions"]:
        norm = normalise_intervention(name)
        if norm and norm not in _GENERIC_INTERVENTIONS and len(norm) > 1:
            iv_names.setdefault(norm, name.strip())
    imesh = list(dict.fromkeys(_browse_terms(record, "interventionBrowseModule")))
    intr = _weighted(imesh, INTR_ANCESTOR_STEP, INTR_ANCESTOR_MAX)
    for norm in iv_names:
        intr["n:" + norm] = 1.0

    key_text = " ".join([f["title"], *f["conditions"], *conds, *f["interventions"], *f["keywords"]])
    toks = _tokens(key_text)
    if len(toks) < LEX_MIN_TOKENS:
        toks += _tokens((f["summary"] or f["description"])[:1500])
    return {
        "t": title,
        "s": status.get("overallStatus"),
        "p": [x for x in design.get("phases") or [] if x != "NA"],
        "st": design.get("studyType"),
        "pp": info.get("primaryPurpose"),
        "c": conds,
        "cd": derived,
        "cw": _weighted(conds, COND_ANCESTOR_STEP, COND_ANCESTOR_MAX),
        "iv": iv_names,
        "iw": intr,
        "k": dict(Counter(toks)),
    }


def text_features(text: str) -> dict:
    """Features of free text (a patient note, a question) for `similar_to_text`."""
    conds = [t for t in _lookup(text[:3000]) if t != "Neoplasms"][:DERIVED_CONDITIONS]
    return {"t": text[:160], "s": None, "p": [], "st": None, "pp": None, "c": conds, "cd": True,
            "cw": _weighted(conds, COND_ANCESTOR_STEP, COND_ANCESTOR_MAX), "iv": {}, "iw": {},
            "k": dict(Counter(_tokens(text)))}


# --- scoring ----------------------------------------------------------------------------
def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    shared = sum(min(w, b[k]) for k, w in a.items() if k in b)
    if not shared:
        return 0.0
    return shared / math.sqrt(sum(a.values()) * sum(b.values()))


class Lexical:
    """TF-IDF cosine over key-field tokens, with document frequencies from the index."""

    def __init__(self, df: dict[str, int], n_docs: int):
        self.df = df
        self.n = max(n_docs, 1)
        self._idf: dict[str, float] = {}

    def idf(self, tok: str) -> float:
        v = self._idf.get(tok)
        if v is None:
            v = math.log(1.0 + self.n / (1.0 + self.df.get(tok, 0)))
            self._idf[tok] = v
        return v

    def weights(self, counts: dict[str, int]) -> tuple[dict[str, float], float]:
        w = {t: (1.0 + math.log(c)) * self.idf(t) for t, c in counts.items()}
        return w, math.sqrt(sum(x * x for x in w.values())) or 1.0

    def cosine(self, qw: tuple[dict[str, float], float], counts: dict[str, int]) -> float:
        q, qn = qw
        if not q or not counts:
            return 0.0
        dot = 0.0
        norm2 = 0.0
        for t, c in counts.items():
            x = (1.0 + math.log(c)) * self.idf(t)
            norm2 += x * x
            qv = q.get(t)
            if qv:
                dot += qv * x
        return dot / (qn * (math.sqrt(norm2) or 1.0))


def _jaccard(a: list, b: list) -> float:
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)


def components(t: dict, c: dict, emb: float, lex: float) -> dict[str, float]:
    """The fused score's inputs for target t and candidate c (each in [0, 1])."""
    return {
        "emb": max(0.0, emb),
        "lex": lex,
        "cond": _overlap(t["cw"], c["cw"]),
        "intr": _overlap(t["iw"], c["iw"]),
        "phase": _jaccard(t["p"], c["p"]),
        "type": 1.0 if t["st"] and t["st"] == c["st"] else 0.0,
        "purpose": 1.0 if t["pp"] and t["pp"] == c["pp"] else 0.0,
    }


def fused_score(parts: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """THE scoring function: a weighted sum of the components (see the module docstring)."""
    w = weights or WEIGHTS
    return sum(w[k] * parts.get(k, 0.0) for k in w)


def explain(t: dict, c: dict, lexical: Lexical | None = None) -> str:
    """Why c is related to t, e.g. "shares Carcinoma, Hepatocellular · Sorafenib · Phase 3"."""
    parts: list[str] = []
    shared_c = [x for x in t["c"] if x in set(c["c"])]
    if shared_c:
        parts.extend(shared_c[:2])
    else:
        best = None
        for name, w in t["cw"].items():
            cw = c["cw"].get(name)
            if cw and w < 1.0 and min(w, cw) >= 0.36 and (best is None or min(w, cw) > best[1]):
                best = (name, min(w, cw))
        if best:
            parts.append(f"related condition: {best[0]}")
    shared_i = [disp for norm, disp in t["iv"].items() if norm in c["iv"]]
    if not shared_i:
        shared_i = [k for k, w in t["iw"].items() if w == 1.0 and not k.startswith("n:") and c["iw"].get(k) == 1.0]
    parts.extend(shared_i[:2])
    phases = [p for p in t["p"] if p in c["p"]]
    if phases and parts:
        parts.append(" / ".join(_PHASE_LABEL.get(p, p) for p in phases))
    if parts:
        return "shares " + " · ".join(parts)
    shared_k = [k for k in t["k"] if k in c["k"] and len(k) > 2]
    if shared_k:
        if lexical is not None:
            shared_k.sort(key=lambda k: -lexical.idf(k))
        return "similar wording: " + ", ".join(shared_k[:4])
    return "similar description (semantic match)"


# --- queries ----------------------------------------------------------------------------
def _index(store):
    """The store's vector index, built now if it never was (e.g. a store ingested before
    the index existed); a stale one is used as is (ingest keeps it current)."""
    from .index.embeddings import EncoderUnavailable, get_encoder
    from .index.vectors import catch_up, open_index

    try:
        get_encoder()
    except EncoderUnavailable as exc:
        raise _usage_error(str(exc)) from None
    idx = open_index(store)
    if idx is None and store.max_seq() > 0:
        catch_up(store)
        idx = open_index(store)
    return idx


def _lexical_candidates(store, tfeat: dict, lexical: Lexical, limit: int) -> list[str]:
    """NCT ids from the BM25 full-text index for the target's most specific words."""
    if limit <= 0 or not tfeat["k"]:
        return []
    try:
        from .search import Searcher, SearchRequest
    except Exception:
        return []
    words = sorted(tfeat["k"], key=lambda k: -lexical.idf(k))[:8]
    words = [w for w in words if re.fullmatch(r"[a-z0-9]+", w)]
    if not words:
        return []
    try:
        res = Searcher(store).search(SearchRequest(query=" OR ".join(words), limit=limit))
    except Exception:
        return []
    hits = getattr(res, "hits", None) or (res.get("hits") if isinstance(res, dict) else None) or []
    out = []
    for h in hits:
        nct = h.get("nctId") if isinstance(h, dict) else getattr(h, "nct_id", None) or getattr(h, "nctId", None)
        if nct:
            out.append(nct)
    return out


def score_candidates(store, idx, tfeat: dict, tvec: np.ndarray, exclude: str | None,
                     lexical_source=None) -> list[tuple[str, dict, dict[str, float]]]:
    """Candidates (kNN + lexical) for a target, each with its fused-score components.

    `lexical_source(tfeat, lexical, limit) -> [nct ids]` gives the lexical candidates; by
    default the BM25 full-text index (`trialscope.search`) when it is available.
    """
    lexical = Lexical(idx.df(), idx.n_live)
    qw = lexical.weights(tfeat["k"])
    cand: dict[int, float | None] = dict(idx.knn(tvec, KNN))
    if lexical_source is None:
        def lexical_source(tf, lx, limit):
            return _lexical_candidates(store, tf, lx, limit)
    extra = [n for n in lexical_source(tfeat, lexical, LEXICAL) if n != exclude]
    for row in idx.rows_of(extra).values():
        cand.setdefault(row, None)
    feats = idx.features(list(cand))
    out = []
    for row, (nct, cf) in feats.items():
        if nct == exclude or not idx.live[row]:
            continue
        emb = cand[row]
        if emb is None:
            emb = float(idx.vector(row) @ tvec)
        out.append((nct, cf, components(tfeat, cf, emb, lexical.cosine(qw, cf["k"]))))
    return out


def _rank(store, idx, tfeat: dict, tvec: np.ndarray, exclude: str | None, limit: int,
          weights: dict[str, float] | None = None, lexical_source=None) -> list[dict]:
    scored = [(fused_score(parts, weights), nct, cf)
              for nct, cf, parts in score_candidates(store, idx, tfeat, tvec, exclude, lexical_source)]
    scored.sort(key=lambda x: (-x[0], x[1]))
    lexical = Lexical(idx.df(), idx.n_live)
    return [
        {"nctId": nct, "briefTitle": cf["t"], "overallStatus": cf["s"], "phases": cf["p"],
         "score": round(score, 4), "why": explain(tfeat, cf, lexical)}
        for score, nct, cf in scored[:limit]
    ]


def _usage_error(message: str) -> Exception:
    from .cli import UsageError

    return UsageError(message)


def target_of(store, nct: str, idx=None) -> tuple[dict, np.ndarray]:
    """Features and embedding of a stored study: from the index, else computed now."""
    row = idx.row_of(nct) if idx else None
    if row is not None:
        (_, tfeat), = idx.features([row]).values()
        return tfeat, idx.vector(row)
    stored = store.get(nct)
    if stored is None:
        raise _usage_error(f"{nct} is not in the store")
    from .index.embeddings import get_encoder, study_text

    record = stored.record
    return study_features(record), get_encoder().encode([study_text(record)])[0]


def similar_to(store, nct_id: str, limit: int = 10, weights: dict[str, float] | None = None,
               lexical_source=None) -> list[dict]:
    """The `limit` studies most similar to `nct_id`, best first, each with "why".

    Raises trialscope.cli.UsageError for an id that is not in the store.
    """
    from .record import RecordError, normalize_nct

    try:
        nct = normalize_nct(nct_id)
    except RecordError as exc:
        raise _usage_error(str(exc)) from None
    idx = _index(store)
    tfeat, tvec = target_of(store, nct, idx)
    if idx is None:
        return []
    return _rank(store, idx, tfeat, tvec, nct, limit, weights, lexical_source)


def similar_to_text(store, text: str, limit: int = 10) -> list[dict]:
    """Studies most similar to free text (a question, a patient description)."""
    from .index.embeddings import get_encoder

    text = (text or "").strip()
    if not text:
        raise _usage_error("empty text")
    idx = _index(store)
    if idx is None:
        return []
    tfeat = text_features(text)
    tvec = get_encoder().encode([text])[0]
    return _rank(store, idx, tfeat, tvec, None, limit)


# --- CLI --------------------------------------------------------------------------------
def cmd_similar(args: argparse.Namespace) -> int:
    from .index.embeddings import EncoderUnavailable
    from .store import open_store

    store = open_store(args.db)
    if args.reindex:
        from .index.embeddings import get_encoder
        from .index.vectors import rebuild

        try:
            get_encoder()
        except EncoderUnavailable as exc:
            raise _usage_error(str(exc)) from None
        n = rebuild(store, progress=sys.stderr.isatty())
        print(f"vector index rebuilt: {n:,} studies embedded", file=sys.stderr)
        if not (args.nct_id or args.text):
            return 0
    if args.limit < 1:
        raise _usage_error("--limit must be at least 1")
    if args.text:
        if args.nct_id:
            raise _usage_error("give an NCT id or --text, not both")
        results = similar_to_text(store, args.text, limit=args.limit)
        head = {"text": args.text}
    elif args.nct_id:
        results = similar_to(store, args.nct_id, limit=args.limit)
        from .record import normalize_nct

        head = {"nctId": normalize_nct(args.nct_id)}
    else:
        raise _usage_error("give an NCT id or --text \"free text\"")
    if args.json:
        sys.stdout.write(orjson.dumps({**head, "similar": results}, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not results:
        print("no similar studies (is the store empty?)")
    for i, r in enumerate(results, 1):
        phases = ", ".join(_PHASE_LABEL.get(p, p) for p in r["phases"]) or "-"
        print(f"{i:>2}. {r['nctId']}  {r['score']:.3f}  {r['briefTitle']}")
        print(f"    {r['overallStatus'] or '-'} · {phases} · {r['why']}")
    return 0


def register_commands(subparsers, common) -> None:
    p = subparsers.add_parser("similar", parents=[common],
                              help="studies similar to a study (See also), or to free text")
    p.add_argument("nct_id", nargs="?", help="the study to relate others to")
    p.add_argument("--text", default=None, help="free text instead of a study")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--reindex", action="store_true",
                   help="rebuild the vector index from the whole store first "
                        "(TRIALSCOPE_EMBEDDINGS=minilm for the full-MiniLM mode)")
    p.set_defaults(func=cmd_similar)

""""See also": trials similar to a study (or to free text), each with the reason why.

How a query runs
----------------
1. Candidates: the ~200 nearest studies by embedding (`index/vectors.py`: exact numpy
   below 50k studies, faiss HNSW above) plus up to 50 lexical candidates from the BM25
   full-text index when one is built (the target's most specific key-field words, OR-ed).
2. Every candidate is rescored by ONE fused function of the target and candidate features
   (`fused_score`), and the best `limit` are returned with an explanation.

Features (`index/features.py`: computed once per study, stored in the vector index)
----------------------------------------------------------------------------------
- conditions: condition MeSH terms (the record's derived condition MeSH, plus
  `mesh.lookup` of each condition as written). A study with no conditions at all gets the
  disease descriptors `mesh.lookup` finds in its title and brief summary (at most 4). Each
  exact term weighs 1.0; each MeSH ancestor of a term weighs 0.12 x its tree depth (max
  0.6), so "Liver Neoplasms" (depth 4) counts for 0.48 and "Neoplasms" (depth 1) for 0.12.
  Similarity = weighted overlap sum(min) / sqrt(sum(A) * sum(B)).
- interventions: normalised names (lower case, doses, routes, forms and brackets removed;
  placebo and usual-care names dropped) weigh 1.0, intervention MeSH terms 1.0 and their
  ancestors 0.08 x depth (max 0.4); same overlap measure.
- lexical: TF-IDF cosine over title, conditions (+ their MeSH terms), interventions and
  keywords; the brief summary's opening is added only when those give fewer than 12 words
  (adding it always measured slightly worse). Tokens from `mesh.tokens`, crc32-hashed.
- embedding: cosine of the study embeddings (`index/embeddings.py`).
- design: phase overlap (Jaccard of phases, "NA" ignored), same study type, same primary
  purpose.
- population: who the two studies enrol. 0 when their sexes exclude each other (FEMALE vs
  MALE), else the overlap of their eligible age ranges over the union of the two (years;
  a missing bound is open: 0 or 120). Trials that the same patient could join share it.

The fused score (weights in `WEIGHTS`, summing to 1 so scores read as 0..1)
--------------------------------------------------------------------------
    score = 0.42 conditions + 0.31 lexical + 0.14 population + 0.08 embedding
          + 0.025 interventions + 0.015 phase + 0.01 study type (+ 0 primary purpose)

Current trials (on top of the above, so scores can exceed 1 by a little):
    + 0.02 current (recruiting, about to, or active, and not "Unknown status" by the
      registry's rule as of today) + 0.12 era x conditions (start years apart: 1 the same
      year, 0 at 20 years or more; counted only as far as the conditions agree)
Chosen on the dev half from the cached candidates: the era weight moved the condition-
agreement dev NDCG@10 by -0.0004 at 0.12 and -0.0008 at 0.15 (era alone, not multiplied
by the conditions: -0.0025 at 0.04), SIGIR not at all (its records carry no dates). For
NCT03949231 (2019) the top 20 were trials begun 1977-2009; NCT05883644 (2023, first-line
immunotherapy for HCC) rose from 45th to 10th on the sample.

How they were chosen: `benchmarks/similar.py --tune` runs coordinate ascent on the mean
NDCG@10 of both evaluations over the dev half (targets whose NCT id ends in an even digit).
It settles near cond 0.8, lex 0.31-0.6, pop 0.14-0.3, emb 0-0.15, type 0.01 (only ratios
matter). We ship that with small embedding, intervention and phase weights kept as
tie-breakers (same drug, same phase: what a clinician expects, and what neither evaluation
measures), which costs 0.001 of the mean dev NDCG@10, scaled to sum to 1.

Held-out half (odd NCT ids), fused vs BM25 more-like-this vs embeddings alone, with the
95% paired-bootstrap interval of the margin over BM25:
- condition agreement (21k real studies, 382 targets): NDCG@10 0.924 vs 0.695 vs 0.690,
  P@10 0.93 vs 0.72 vs 0.71; margin +0.229 [0.199, 0.258] (flattering: the fused score
  reads condition MeSH itself);
- SIGIR 2016 co-relevance (3,170 title+summary records, 408 targets): NDCG@10 0.356 vs
  0.346 vs 0.309, P@10 0.515 vs 0.501 vs 0.453; margin +0.010 [-0.004, 0.024] (dev half:
  +0.025 [0.010, 0.040]). Before the population feature the fused score only tied BM25
  here (0.338 vs 0.346): on records with nothing but a title and a summary, who a trial
  enrols is what word overlap cannot see.
With the full-MiniLM embeddings (TRIALSCOPE_EMBEDDINGS=minilm) the embeddings alone reach
0.347 on SIGIR. Static model size vs SIGIR embeddings-alone NDCG@10: 64 dims 2.2 MB 0.299,
128 dims 4.0 MB (shipped) 0.309, 256 dims 7.0 MB 0.314.
The embedding's low weight reflects that on these evaluations it mostly finds what lexical
and MeSH overlap find; it still supplies most candidates (kNN) and carries studies with
little structure or wording in common.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
from datetime import date
from functools import lru_cache

import numpy as np
import orjson

from .index.features import (
    COND_ANCESTOR_MAX,
    COND_ANCESTOR_STEP,
    Features,
    Lexical,
    _intervention_weights,
    _weighted_cached,
    study_features,
    text_features,
)

WEIGHTS: dict[str, float] = {
    "emb": 0.08,
    "lex": 0.31,
    "cond": 0.42,
    "intr": 0.025,
    "phase": 0.015,
    "type": 0.01,
    "purpose": 0.0,
    "pop": 0.14,
    # preferences for current trials, both measured (benchmarks/similar.py, same run, with
    # and without): see "Current trials" in the module docstring
    "current": 0.02,
    "era": 0.12,
}
ERA_YEARS = 20.0  # start years this far apart share no era
KNN = 200
CHILDREN_MAX_AGE, OLDER_ADULTS_MIN_AGE = 18.0, 60.0
LEXICAL = 50



_PHASE_LABEL = {
    "EARLY_PHASE1": "Early Phase 1", "PHASE1": "Phase 1", "PHASE2": "Phase 2",
    "PHASE3": "Phase 3", "PHASE4": "Phase 4",
}



# --- scoring ----------------------------------------------------------------------------
def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    shared = 0.0
    for k, w in a.items():
        v = b.get(k)
        if v is not None:
            shared += w if w < v else v
    if not shared:
        return 0.0
    return shared / math.sqrt(_total(a) * _total(b))


def _total(d: dict[str, float]) -> float:
    return sum(d.values())


@lru_cache(maxsize=200_000)
def _cond_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    if not a or not b:
        return 0.0
    return _overlap(_weighted_cached(a, COND_ANCESTOR_STEP, COND_ANCESTOR_MAX),
                    _weighted_cached(b, COND_ANCESTOR_STEP, COND_ANCESTOR_MAX))


@lru_cache(maxsize=200_000)
def _intr_overlap(aim: tuple, aiv: tuple, bim: tuple, biv: tuple) -> float:
    if not (aim or aiv) or not (bim or biv):
        return 0.0
    return _overlap(_intervention_weights(aim, aiv), _intervention_weights(bim, biv))


def _jaccard(a: list, b: list) -> float:
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)


def _population(a: Features, b: Features) -> float:
    """How far two studies enrol the same people: 0 when their sexes exclude each other,
    else the overlap of their age ranges over their union (intervals in years)."""
    if a.sx in ("FEMALE", "MALE") and b.sx in ("FEMALE", "MALE") and a.sx != b.sx:
        return 0.0
    lo, hi = max(a.ag[0], b.ag[0]), min(a.ag[1], b.ag[1])
    if hi < lo:
        return 0.0
    span = max(a.ag[1], b.ag[1]) - min(a.ag[0], b.ag[0])
    return (hi - lo) / span if span > 0 else 1.0


def _population_label(t: Features, c: Features) -> str | None:
    """"children" / "older adults" when both studies enrol only them (else None)."""
    if t.ag[1] <= CHILDREN_MAX_AGE and c.ag[1] <= CHILDREN_MAX_AGE:
        return "children"
    if t.ag[0] >= OLDER_ADULTS_MIN_AGE and c.ag[0] >= OLDER_ADULTS_MIN_AGE:
        return "older adults"
    return None


def components(t: Features, c: Features, emb: float, lex: float) -> dict[str, float]:
    """The fused score's inputs for target t and candidate c (each in [0, 1])."""
    out = {
        "emb": max(0.0, emb),
        "lex": lex,
        "cond": _cond_overlap(tuple(t.c), tuple(c.c)),
        "intr": _intr_overlap(tuple(t.im), tuple(t.iv), tuple(c.im), tuple(c.iv)),
        "phase": _jaccard(t.p, c.p),
        "type": 1.0 if t.st and t.st == c.st else 0.0,
        "purpose": 1.0 if t.pp and t.pp == c.pp else 0.0,
        "pop": _population(t, c),
        "current": 1.0 if is_current(c) else 0.0,
    }
    # contemporary trials of the same disease first: the era (start years apart, 0 at 20
    # years or more) counts only as far as the conditions agree, so it reorders trials of the
    # same disease and never lifts another disease's
    era = max(0.0, 1.0 - abs(t.sy - c.sy) / ERA_YEARS) if t.sy and c.sy else 0.0
    out["era"] = era * out["cond"]
    return out


def is_current(f: Features) -> bool:
    """Recruiting, about to, or active, and not past the registry's "Unknown status" day."""
    return f.cu == 0 or f.cu > _today()


def _today() -> int:
    return int(date.today().strftime("%Y%m%d"))


def fused_score(parts: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """THE scoring function: a weighted sum of the components (see the module docstring)."""
    w = weights or WEIGHTS
    return sum(w[k] * parts.get(k, 0.0) for k in w)


def explain(t: Features, c: Features, lexical: Lexical | None = None) -> str:
    """Why c is related to t, e.g. "shares Carcinoma, Hepatocellular · Sorafenib · Phase 3"."""
    parts: list[str] = []
    shared_c = [x for x in t.c if x in set(c.c)]
    if shared_c:
        parts.extend(shared_c[:2])
    else:
        best = None
        ccw = c.cw
        for name, w in t.cw.items():
            cw = ccw.get(name)
            if cw and w < 1.0 and min(w, cw) >= 0.36 and (best is None or min(w, cw) > best[1]):
                best = (name, min(w, cw))
        if best:
            parts.append(f"related condition: {best[0]}")
    shared_i = [disp for norm, disp in t.iv.items() if norm in c.iv]
    if not shared_i:
        shared_i = [k for k in t.im if k in set(c.im)]
    if not shared_i and not t.iv:  # a target with no interventions list: names in its text
        ttoks = set(t.tokens)
        shared_i = [disp for norm, disp in c.iv.items()
                    if (words := norm.split()) and all(w in ttoks for w in words) and len(norm) > 3]
    parts.extend(shared_i[:2])
    phases = [p for p in t.p if p in c.p]
    if phases and parts:
        parts.append(" / ".join(_PHASE_LABEL.get(p, p) for p in phases))
    population = _population_label(t, c)
    if population and parts:
        parts.append(population)
    if parts:
        return "shares " + " · ".join(parts)
    ctoks = set(c.tokens)
    shared_k = [k for k in t.tokens if k in ctoks and len(k) > 2]
    if shared_k:
        if lexical is not None:
            shared_k.sort(key=lambda k: -lexical.idf_of(k))
        return "similar wording: " + ", ".join(shared_k[:4])
    return "similar description (semantic match)"


# --- queries ----------------------------------------------------------------------------
def _index(store):
    """The store's vector index, built now if it never was (e.g. a store ingested before
    the index existed) or was built by another encoder or feature format; one that is
    merely behind the store is used as is (ingest keeps it current)."""
    from .index.embeddings import EncoderUnavailable, get_encoder
    from .index.vectors import catch_up, is_current, open_index

    try:
        enc = get_encoder()
    except EncoderUnavailable as exc:
        raise _usage_error(str(exc)) from None
    idx = open_index(store)
    if (idx is None and store.max_seq() > 0) or (idx is not None and not is_current(idx, enc)):
        catch_up(store)
        idx = open_index(store)
    return idx


_SEARCHERS: dict[str, tuple[float, object]] = {}
SEARCHER_REFRESH_S = 30.0


def _searcher(store):
    """A full-text Searcher for the store, cached per store URL (None if no index is built:
    similarity never builds the full-text index itself)."""
    import os
    import time

    try:
        from .index import index_path
        from .search import Searcher
    except Exception:
        return None
    path = index_path(store)
    if not os.path.isdir(path):
        return None
    now = time.monotonic()
    got = _SEARCHERS.get(store.url)
    if got is None:
        try:
            searcher = Searcher(store, catch_up=False)
        except Exception:
            return None
        _SEARCHERS[store.url] = (now, searcher)
        return searcher
    stamp, searcher = got
    if now - stamp > SEARCHER_REFRESH_S:  # see what ingest committed meanwhile
        with contextlib.suppress(Exception):
            searcher.reload()
        _SEARCHERS[store.url] = (now, searcher)
    return searcher


def _lexical_candidates(store, tfeat: dict, lexical: Lexical, limit: int) -> list[str]:
    """NCT ids from the BM25 full-text index for the target's 8 most specific words, OR-ed."""
    if limit <= 0 or not tfeat.ks:
        return []
    words = [w for w in lexical.top_words(tfeat, 8) if re.fullmatch(r"[a-z0-9]+", w)]
    searcher = _searcher(store) if words else None
    if searcher is None:
        return []
    try:
        from .search import SearchRequest

        res = searcher.search(SearchRequest(query=" OR ".join(words), limit=limit, facets=False,
                                            snippets=False, expand_mesh=False, lenient=True))
    except Exception:
        return []
    return [h.nct_id for h in res.hits]


def score_candidates(store, idx, tfeat: dict, tvec: np.ndarray, exclude: str | None,
                     lexical_source=None) -> list[tuple[str, dict, dict[str, float]]]:
    """Candidates (kNN + lexical) for a target, each with its fused-score components.

    `lexical_source(tfeat, lexical, limit) -> [nct ids]` gives the lexical candidates; by
    default the BM25 full-text index (`trialscope.search`) when it is available.
    """
    lexical = idx.lexical()
    cand: dict[int, float | None] = dict(idx.knn(tvec, KNN))
    if lexical_source is None:
        def lexical_source(tf, lx, limit):
            return _lexical_candidates(store, tf, lx, limit)
    extra = [n for n in lexical_source(tfeat, lexical, LEXICAL) if n != exclude]
    for row in idx.rows_of(extra).values():
        cand.setdefault(row, None)
    feats = idx.features(list(cand))
    rows = [r for r, (nct, _) in feats.items() if nct != exclude and idx.live[r]]
    lex = lexical.cosines(lexical.query(tfeat), [feats[r][1] for r in rows])
    out = []
    for row, lx in zip(rows, lex.tolist(), strict=True):
        nct, cf = feats[row]
        emb = cand[row]
        if emb is None:
            emb = float(idx.vector(row) @ tvec)
        out.append((nct, cf, components(tfeat, cf, emb, lx)))
    return out


def _rank(store, idx, tfeat: dict, tvec: np.ndarray, exclude: str | None, limit: int,
          weights: dict[str, float] | None = None, lexical_source=None) -> list[dict]:
    scored = [(fused_score(parts, weights), nct, cf)
              for nct, cf, parts in score_candidates(store, idx, tfeat, tvec, exclude, lexical_source)]
    scored.sort(key=lambda x: (-x[0], x[1]))
    lexical = idx.lexical()
    return [
        {"nctId": nct, "briefTitle": cf.t, "overallStatus": cf.s, "phases": cf.p,
         "startYear": cf.sy or None, "score": round(score, 4), "why": explain(tfeat, cf, lexical)}
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

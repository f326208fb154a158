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
import zlib
from collections import Counter
from datetime import date
from functools import lru_cache

import msgspec
import numpy as np
import orjson

from .trust import ACTIVE_STATUSES, stale_from

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
MAX_AGE_YEARS = 120.0
CHILDREN_MAX_AGE, OLDER_ADULTS_MIN_AGE = 18.0, 60.0
LEXICAL = 50
LEX_MIN_TOKENS = 12
LEX_SUMMARY_CHARS = 1500
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


def warm_up() -> None:
    """Load what `study_features` reads (the MeSH vocabulary) now, e.g. before forking."""
    _vocab()


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


def _display_intervention(name: str) -> str:
    """"Drug: sorafenib (Nexavar, BAY43-9006)" -> "Sorafenib" (for explanations)."""
    s = _BRACKETS.sub(" ", _PREFIX.sub("", name.strip()))
    s = re.sub(r"\s+", " ", s).strip(" ,;-") or name.strip()
    return s[:1].upper() + s[1:] if s[:1].islower() else s


# --- features -------------------------------------------------------------------------
def _browse_terms(record: dict, module: str) -> list[str]:
    mod = ((record.get("derivedSection") or {}).get(module)) or {}
    return [m["term"] for m in mod.get("meshes") or [] if isinstance(m, dict) and m.get("term")]


@lru_cache(maxsize=200_000)
def _weighted_cached(terms: tuple[str, ...], step: float, cap: float) -> dict[str, float]:
    """Exact terms 1.0, their MeSH ancestors step x depth (at most cap). Shared: read-only."""
    out: dict[str, float] = {}
    for t in terms:
        out[t] = 1.0
    for t in terms:
        for anc, depth in _ancestors_with_depth(t):
            w = min(cap, step * depth)
            if out.get(anc, 0.0) < w:
                out[anc] = w
    return out


class Features(msgspec.Struct, array_like=True):
    """What similarity compares, stored per study in the vector index (msgpack, compact).

    t title, s overall status, p phases, st study type, pp primary purpose, c condition
    MeSH terms (cd: derived from the summary), im intervention MeSH terms, iv normalised
    intervention name -> name as written, kh/kc/ks key-field tokens (hashes, counts, text),
    ag/sx the eligible population (age range in years, sex).
    """

    t: str
    s: str | None
    p: list[str]
    st: str | None
    pp: str | None
    c: list[str]
    cd: bool
    im: list[str]
    iv: dict[str, str]
    kh: bytes  # key-field token hashes (crc32, uint32, ascending)
    kc: bytes  # their counts (uint16, same order)
    ks: str  # the distinct tokens, space separated (for explanations and lexical candidates)
    ag: tuple[float, float] = (0.0, MAX_AGE_YEARS)  # eligible ages in years, open bounds 0 / 120
    sx: str | None = None  # eligible sex: ALL, FEMALE, MALE
    # current until: -1 not an active status; 0 active and never judged stale; else the day
    # (YYYYMMDD) the registry's rule turns it "Unknown status" (trialscope.trust)
    cu: int = -1
    sy: int = 0  # start year (0: not given)

    @property
    def tokens(self) -> list[str]:
        return self.ks.split()

    @property
    def cw(self) -> dict[str, float]:
        return _weighted_cached(tuple(self.c), COND_ANCESTOR_STEP, COND_ANCESTOR_MAX)

    @property
    def iw(self) -> dict[str, float]:
        return _intervention_weights(tuple(self.im), tuple(self.iv))


@lru_cache(maxsize=200_000)
def _intervention_weights(im: tuple[str, ...], names: tuple[str, ...]) -> dict[str, float]:
    out = dict(_weighted_cached(im, INTR_ANCESTOR_STEP, INTR_ANCESTOR_MAX))
    for norm in names:
        out["n:" + norm] = 1.0
    return out


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Features)


def encode_features(f: Features) -> bytes:
    return _ENCODER.encode(f)


def decode_features(data: bytes) -> Features:
    return _DECODER.decode(data)


def study_features(record: dict) -> Features:
    """The features of a v2 record (see `Features` and the module docstring)."""
    from .index.embeddings import study_fields
    from .record import display_title, validate

    p = record.get("protocolSection") or {}
    f = study_fields(record)
    status = p.get("statusModule") or {}
    design = p.get("designModule") or {}
    info = design.get("designInfo") or {}
    elig = p.get("eligibilityModule") or {}
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
            iv_names.setdefault(norm, _display_intervention(name))
    imesh = list(dict.fromkeys(_browse_terms(record, "interventionBrowseModule")))

    key_text = " ".join([f["title"], *f["conditions"], *conds, *f["interventions"], *f["keywords"]])
    # key fields only: adding the summary to every study measured slightly worse on both
    # evaluations; a study whose key fields give under 12 words gets its summary's opening
    toks = _tokens(key_text)
    if len(toks) < LEX_MIN_TOKENS:
        toks += _tokens((f["summary"] or f["description"])[:LEX_SUMMARY_CHARS])
    if status.get("overallStatus") in ACTIVE_STATUSES:
        turns = stale_from(status)
        current_until = int(turns.strftime("%Y%m%d")) if turns else 0
    else:
        current_until = -1
    start = str((status.get("startDateStruct") or {}).get("date") or "")[:4]
    return Features(
        cu=current_until, sy=int(start) if start.isdigit() else 0, t=title, s=status.get("overallStatus"),
        p=[x for x in design.get("phases") or [] if x != "NA"],
        st=design.get("studyType"), pp=info.get("primaryPurpose"),
        c=conds, cd=derived, im=imesh, iv=iv_names, **_token_fields(toks),
        ag=_age_range(elig), sx=elig.get("sex"),
    )


def _age_range(elig: dict) -> tuple[float, float]:
    """Eligible ages in years; a missing or unreadable bound is open (0 or 120)."""
    from .normalize import age_days

    out = []
    for key, default in (("minimumAge", 0.0), ("maximumAge", MAX_AGE_YEARS)):
        try:
            days = age_days(elig.get(key))
        except ValueError:
            days = None
        out.append(default if days is None else min(MAX_AGE_YEARS, days / 365.25))
    return (out[0], max(out[0], out[1]))


@lru_cache(maxsize=500_000)
def token_hash(tok: str) -> int:
    return zlib.crc32(tok.encode())


def _token_fields(toks: list[str]) -> dict:
    counts = Counter(toks)
    pairs = sorted((token_hash(t), min(c, 65535), t) for t, c in counts.items())
    hs, cs, ts = [], [], []
    for h, c, t in pairs:
        if hs and hs[-1] == h:  # a crc32 collision: count both as one token
            cs[-1] = min(cs[-1] + c, 65535)
            continue
        hs.append(h)
        cs.append(c)
        ts.append(t)
    return {"kh": np.asarray(hs, dtype=np.uint32).tobytes(), "kc": np.asarray(cs, dtype=np.uint16).tobytes(),
            "ks": " ".join(ts)}


def text_features(text: str) -> Features:
    """Features of free text (a patient note, a question) for `similar_to_text`."""
    conds = [t for t in _lookup(text[:3000]) if t != "Neoplasms"][:DERIVED_CONDITIONS]
    return Features(t=text[:160], s=None, p=[], st=None, pp=None, c=conds, cd=True, im=[], iv={},
                    **_token_fields(_tokens(text)))


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


class Lexical:
    """TF-IDF cosine over key-field tokens; document frequencies from the index.

    Tokens are crc32 hashes so that a candidate's tokens decode as one byte string and the
    cosines of all candidates are computed at once with numpy (weights (1 + ln tf) x idf,
    idf = ln(1 + N / (1 + df)), current for every query).
    """

    def __init__(self, df_keys: np.ndarray, df_vals: np.ndarray, n_docs: int):
        self.keys = df_keys
        self.vals = df_vals
        self.n = max(n_docs, 1)

    def idf(self, hashes: np.ndarray) -> np.ndarray:
        if len(self.keys) == 0:
            return np.full(len(hashes), math.log(1.0 + self.n))
        pos = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        df = np.where(self.keys[pos] == hashes, self.vals[pos], 0)
        return np.log1p(self.n / (1.0 + df))

    def idf_of(self, tok: str) -> float:
        return float(self.idf(np.array([token_hash(tok)], dtype=np.uint32))[0])

    def top_words(self, f: Features, n: int) -> list[str]:
        """The feature's n most specific tokens (highest idf)."""
        toks = f.tokens
        if not toks:
            return []
        idf = self.idf(np.array([token_hash(t) for t in toks], dtype=np.uint32))
        return [toks[i] for i in np.argsort(-idf, kind="stable")[:n]]

    def query(self, f: Features) -> tuple[np.ndarray, np.ndarray]:
        h = np.frombuffer(f.kh, dtype=np.uint32)
        w = (1.0 + np.log(np.frombuffer(f.kc, dtype=np.uint16).astype(np.float64))) * self.idf(h)
        norm = np.sqrt((w * w).sum()) or 1.0
        return h, w / norm

    def cosines(self, q: tuple[np.ndarray, np.ndarray], feats: list[Features]) -> np.ndarray:
        """Cosine of the query with every candidate, in one vectorised pass."""
        out = np.zeros(len(feats))
        qh, qw = q
        if not len(qh) or not feats:
            return out
        lens = np.array([len(f.kh) // 4 for f in feats])
        if not lens.sum():
            return out
        h = np.frombuffer(b"".join(f.kh for f in feats), dtype=np.uint32)
        c = np.frombuffer(b"".join(f.kc for f in feats), dtype=np.uint16).astype(np.float64)
        w = (1.0 + np.log(np.maximum(c, 1.0))) * self.idf(h)
        pos = np.minimum(np.searchsorted(qh, h), len(qh) - 1)
        hit = qh[pos] == h
        contrib = np.where(hit, qw[pos] * w, 0.0)
        nonempty = lens > 0
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])[nonempty]
        dots = np.add.reduceat(contrib, starts)
        norms = np.sqrt(np.add.reduceat(w * w, starts))
        out[nonempty] = np.minimum(1.0, dots / np.where(norms > 0, norms, 1.0))
        return out


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

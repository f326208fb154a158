"""The features "See also" compares, computed once per study (in the ingest's parse workers)
and stored in the vector index (`index/vectors.py`); `trialscope.similar` scores them.

- conditions: condition MeSH terms (the record's derived condition MeSH, plus `mesh.lookup`
  of each condition as written; for a study with no conditions at all, at most 4 disease
  descriptors from its title and brief summary), weighed with their MeSH ancestors;
- interventions: normalised names (doses, routes, forms and brackets removed; placebo and
  usual-care names dropped) and intervention MeSH terms with their ancestors;
- lexical: key-field tokens (title, conditions and their MeSH terms, interventions,
  keywords; the brief summary's opening only when those give fewer than 12 words),
  crc32-hashed with their counts;
- design (phases, study type, primary purpose), population (eligible ages and sex), the day
  an active status turns "Unknown status", the start year.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from functools import lru_cache

import msgspec
import numpy as np

from ..trust import ACTIVE_STATUSES, stale_from

MAX_AGE_YEARS = 120.0
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


# --- vocabulary helpers ----------------------------------------------------------------
@lru_cache(maxsize=1)
def _vocab():
    try:
        from ..mesh import vocabulary

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
        from ..mesh import tokens
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
    from ..record import display_title, validate
    from .embeddings import study_fields

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
    from ..normalize import age_days

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

"""Candidates for a patient: several queries made from the facts, fused with the embedding
neighbours by reciprocal-rank fusion, under hard filters.

Each source is one ranked list, `SOURCE_DEPTH[source]` deep:

- `note`: the note's words as one BM25 bag over every field (what `trialscope search` does
  with a note);
- `brief`: the same words over titles and summaries only, where a sparse record (a title and
  a summary, nothing else) competes on equal terms with a full one;
- `elig`: the same words over the eligibility criteria alone, where trials describe the
  patients they want in the words a note describes a patient ("fever for five days,
  conjunctivitis, strawberry tongue" names no disease, and the criteria of its trials say
  just that);
- `cond`: the patient's own diseases (negated, family and past mentions left out; signs
  and symptoms only when the note names no disease; the stated diagnosis alone where the
  note states one) as MeSH-aware `cond:` terms, so trials filed under a narrower
  descriptor match too;
- `key`: the note's most specific words (highest idf over the trials' key fields), OR-ed;
- `intr`: the patient's treatments, in the interventions and in the eligibility text
  (trials "after sorafenib" name it there);
- `knn`: the studies nearest to the note by embedding (`index/vectors.py`);
- `inf`: the diseases the note describes, inferred from its words (`index/conditions.py`:
  one document per disease, made of what its trials say about their patients, ranked by
  BM25 against the note), as `cond:`, `title:` and `summary:` phrases. Signs and findings
  name no disease, but the trials of the disease they describe use the same words;
- `prf`, a second round: the diseases the first round's trials are about
  (`feedback_conditions`: each source's first trials vote for the diseases they study, the
  higher the more, a disease's votes weighed by how rare it is in the corpus), as `cond:` and
  `title:` phrases. A note that describes a disease without naming it ("noncaseating
  granulomas, elevated ACE") still finds trials of it when what it matches agrees on what
  it is.
- `dis` and `dnote`, also in the second round: the diseases that the three readings of the
  note agree on (`described_diseases`: the inferred ones, the feedback ones, the patient's
  own named ones, fused by rank), as `inf` asks them (`dis`); and the same trials in the
  order of the `note` source (`dnote`, `by_the_note`: no search of its own), so that among
  the many trials of a disease those that fit this patient come first.

A study's fused score is `sum(SOURCE_WEIGHTS[s] / (RRF_K + rank_s))` over the sources that
found it. Hard filters (age and sex, where a missing bound never drops a trial; healthy
volunteers; open status; distance; a list of ids) apply to every source, the embedding
neighbours included (age and sex on their own features, the rest through the search
index's filters). The lexical sources run side by side on a small thread pool.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np

from ..essie import MAX_ALL_REQUIRED
from ..index import META
from ..index.fulltext import TEXT_WEIGHTS, analyzer
from ..search import FilterError, Searcher, SearchRequest
from . import hitfilter

DEPTH = 1000  # the fused list at most
# How deep each source reads. Deeper finds more (benchmarks/match.py: all sources 1000 deep
# against these, NDCG@10 TREC 0.543 vs 0.542, SIGIR 0.286 vs 0.280) at twice the cost.
SOURCE_DEPTH: dict[str, int] = {"note": 500, "brief": 500, "elig": 500, "cond": 300, "key": 300, "intr": 100,
                                "knn": 500, "prf": 300, "inf": 300, "dis": 300}
RRF_K = 60
# `elig` at 0.7 (benchmarks/match.py, same run, ranker cross-validated): TREC 2022 NDCG@10
# 0.553 -> 0.579, P@10 0.318 -> 0.326; SIGIR 2016 0.286 -> 0.283. `prf` searches titles as
# well as conditions (a sparse record has a title and no conditions): SIGIR 0.283 -> 0.287,
# TREC P@10 0.326 -> 0.332, NDCG@10 0.579 -> 0.576
SOURCE_WEIGHTS: dict[str, float] = {"note": 1.0, "brief": 0.7, "elig": 0.7, "cond": 1.0, "key": 0.5, "intr": 0.3,
                                    "knn": 0.7, "prf": 0.7, "inf": 0.7,
                                    "dis": 1.0, "dnote": 1.0}
# `inf` (`inferred_conditions`): the INFERRED_TERMS diseases whose trials' words best match the
# note's, as `cond:` and `title:` phrases; INFERRED_KEPT of them feed the ranker's `inf`
# feature. Against no `inf` (benchmarks/match.py, ranker cross-validated, same run): TREC 2022
# NDCG@10 0.595 -> 0.624, P@10 0.344 -> 0.352, relevant trials among the candidates 76.2% ->
# 77.1%; SIGIR 2016 0.308 -> 0.309, 33.3% -> 35.0%. 5 terms: TREC 0.623, SIGIR 0.303
INFERRED_TERMS, INFERRED_KEPT = 3, 10
# searched in summaries as well (same run): SIGIR 2016 NDCG@10 0.309 -> 0.317, P@10 0.125 ->
# 0.132, Recall@100 0.363 -> 0.411; TREC 2022 0.624 -> 0.621. The same for `prf`: both within
# +-0.004, so not done
INFERRED_FIELDS = ("cond", "title", "summary")
# feedback (`feedback_conditions`): the first FEEDBACK_DEPTH trials of each FEEDBACK_SOURCES
# list vote, 1 / (FEEDBACK_K + rank) shared among a trial's diseases; a disease's votes times
# idf ** FEEDBACK_IDF_POWER; the best FEEDBACK_TERMS that at least PRF_MIN trials voted for.
# Against the diseases shared by 3 of the first 10 fused (benchmarks/match.py, ranker
# cross-validated): TREC 2022 NDCG@10 0.578 -> 0.593, P@10 0.326 -> 0.340, relevant trials
# among the candidates 75.0% -> 76.2%; SIGIR 2016 0.286 -> 0.309, 29.7% -> 33.3%. With 3 terms:
# idf 0.584, no idf 0.577; all six lexical sources voting 0.579; 5 terms 0.597 (74.6%)
FEEDBACK_SOURCES = ("note", "brief", "elig", "knn")
FEEDBACK_DEPTH, FEEDBACK_K, FEEDBACK_IDF_POWER, FEEDBACK_TERMS, PRF_MIN = 100, 10, 2.0, 8, 3
# `dis` and `dnote` (`described_diseases`): the DISEASE_TERMS diseases that the inferred ones,
# the feedback ones and the patient's own agree on (reciprocal-rank fusion, DISEASE_K), as
# `inf` asks them (`dis`), and those trials in the note source's order (`dnote`). Against
# neither (benchmarks/match.py, same run, ranker cross-validated, 5 / 10 folds): TREC 2022
# P@10 0.346 -> 0.368 / 0.344 -> 0.370, NDCG@10 0.633 -> 0.625 / 0.632 -> 0.632, fused order
# P@10 0.330 -> 0.354, NDCG@10 0.589 -> 0.616; SIGIR 2016 NDCG@10 0.315 -> 0.315 / 0.314 ->
# 0.316, P@10 0.132 -> 0.139. A condition of an eligible trial among the first 3 diseases
# (TREC / SIGIR topics): inferred 70% / 58%, feedback 73% / 56%, agreed 80% / 62%. `dis`
# alone: TREC P@10 0.364, SIGIR NDCG@10 0.308. `dnote` as a search of the note's words
# within the diseases (instead of the note source's order): the same figures at 3x the CPU
DISEASE_K, DISEASE_TERMS = 10, 3
KEY_WORDS = 12
MAX_QUERY_WORDS = 400  # the note's first distinct words that make its BM25 bag
MAX_CONDITIONS = 8
MAX_TREATMENTS = 8
SEARCHER_REFRESH_S = 2.0

# the lexical sources' threads: as many as cores, up to 4 (on 2 cores, 2 threads measured
# CPU p95 97 vs 107 ms a match and wall no worse than 4: more threads only queue for a core)
_POOL = ThreadPoolExecutor(max_workers=min(4, max(2, os.cpu_count() or 2)), thread_name_prefix="match-source")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DEID = re.compile(r"\[\*\*.*?\*\*\]", re.S)  # de-identification marks: [**2148-10-1**]
_ANALYZER = analyzer()  # the index's "en" analyzer: a bag word's terms


@dataclass
class Filters:
    """Hard filters: a study that fails one is never a candidate.

    `age` in years and `sex` ("female" / "male") keep trials whose limits admit the patient
    (a missing bound is open). `healthy=True` keeps only trials that accept healthy
    volunteers. `near` is (lat, lon, radius_km). `ids` restricts to those studies (one
    trial checked against a note).
    """

    age: float | None = None
    sex: str | None = None
    healthy: bool | None = None
    open_only: bool = False
    near: tuple[float, float, float] | None = None
    ids: list[str] = field(default_factory=list)

    def request(self, **kw) -> SearchRequest:
        """A search request carrying these filters."""
        sex = self.sex.upper() if self.sex else None
        return SearchRequest(
            age=self.age, sex=sex, healthy_volunteers=True if self.healthy else None,
            status=["open"] if self.open_only else [], near=self.near, ids=list(self.ids),
            facets=False, snippets=False, lenient=True, **kw)

    @property
    def active(self) -> bool:
        return bool(self.age is not None or self.sex or self.healthy or self.open_only or self.near
                    or self.ids)


@dataclass
class Candidate:
    """A study found for the patient: its rank in each source, its fused score, and what the
    vector index holds about it (`trialscope.similar.Features`, embedding cosine)."""

    nct_id: str
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    fused: float = 0.0
    features: object | None = None
    emb: float = 0.0


@dataclass
class Queries:
    """The texts each source searches with (shown in the JSON, so a result can be traced)."""

    note: str = ""
    cond: list[tuple[str, float]] = field(default_factory=list)  # MeSH name, condition_weight
    stated: list[str] = field(default_factory=list)  # the diseases the note states as its diagnosis
    key: list[str] = field(default_factory=list)
    intr: list[str] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)  # conditions of the first fused trials
    inferred: list[tuple[str, float]] = field(default_factory=list)  # index.conditions: name, share of the best
    diseases: list[tuple[str, float]] = field(default_factory=list)  # described_diseases: name, share of the best

    def as_json(self) -> dict:
        return {"conditions": [n for n, _ in self.cond], "keyTerms": self.key, "treatments": self.intr,
                "feedbackConditions": self.feedback, "inferredConditions": [n for n, _ in self.inferred],
                "describedDiseases": [n for n, _ in self.diseases]}


def clean_text(text: str) -> str:
    """The note as plain lower-case words: no query syntax, no de-identification marks."""
    text = _DEID.sub(" ", text or "")
    return " ".join(w.lower() for w in _WORD.findall(text))


# Words of notes that say nothing about which trial fits (grammar, and the way notes are written)
_STOP_WORDS = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just me
more most my no nor not now of off on once only or other our out over own same she should so some
such than that the their them then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yo y o s t
patient patients presents presented presenting complains complaining complaint comes came brought
reports reported states stated noted notes note year years old month months week weeks day days
ago history past also well time times since today currently recently prior
don doesn didn isn wasn aren weren hasn haven hadn couldn wouldn shouldn won cannot
"""
_STOP = frozenset(_STOP_WORDS.split())


def _bag(words: str, limit: int = MAX_QUERY_WORDS) -> str:
    """The first `limit` distinct words that carry meaning (a long note repeats itself, and
    each word costs a scorer)."""
    seen: dict[str, None] = {}
    for w in words.split():
        if len(w) > 1 and not w.isdigit() and w not in _STOP:
            seen.setdefault(w, None)
            if len(seen) >= limit:
                break
    return " ".join(seen)


def _quote(name: str) -> str:
    words = _WORD.findall(name)
    return '"' + " ".join(words) + '"' if words else ""


SYMPTOM_WEIGHT = 0.3


@lru_cache(maxsize=20_000)
def condition_weight(name: str) -> float:
    """How much a patient's condition says about which trials fit: 1 for a disease or
    disorder (MeSH C and F03 trees), SYMPTOM_WEIGHT for a sign or symptom only (C23: "Cough",
    "Weight Loss"), 0 for a descriptor that is no condition at all ("Emergencies" has a C23
    tree too, but notes name it for the department) or a name MeSH does not know."""
    from ..mesh import vocabulary

    trees = vocabulary().tree_numbers(name)
    if any(t.startswith(("C", "F03")) and not t.startswith("C23") for t in trees):
        return 1.0
    if any(t.startswith("C23") for t in trees) and not any(t.startswith("N") for t in trees):
        return SYMPTOM_WEIGHT
    return 0.0


# A disease the note names beside its stated diagnosis (`ConditionFact.stated`) weighs this in
# the ranker's `cond` feature, and `cond` searches the stated one alone. Against none
# (benchmarks/match.py, same run, ranker cross-validated, 5 folds / mean of 10 splits): TREC
# 2022 P@10 0.368 -> 0.370 / 0.3674 -> 0.3682, NDCG@10 0.631 -> 0.632 / 0.633 -> 0.634, fused
# order 0.616 / 0.354 -> 0.618 / 0.356; SIGIR 2016 NDCG@10 0.316 -> 0.317 / 0.317 -> 0.317.
# 17 of the 50 TREC notes and 1 of the SIGIR ones state a diagnosis; most already ranked its
# trials first. At 1.0 (stated first in `dis` only): TREC P@10 0.368, NDCG@10 0.631. With the
# pointwise ranker (rank.fit on relevance): TREC P@10 0.378 -> 0.378 / 0.3770 -> 0.3758, NDCG@10
# 0.621 -> 0.621; SIGIR 0.322 -> 0.322: no gain either way, kept as the reading a user sees
COMORBIDITY_WEIGHT = 0.5


def own_conditions(facts) -> list[tuple[str, float]]:
    """MeSH names of the patient's own conditions with their `condition_weight`, diseases
    first, then in note order. Negated, family and past mentions are left out; each mention
    gives its first two descriptors ("liver cancer": Liver Neoplasms, Carcinoma,
    Hepatocellular). Where the note states its diagnosis ("the patient is diagnosed with
    Marfan syndrome"), the other diseases are comorbidities or incidental (the myopia he
    wears glasses for) and weigh COMORBIDITY_WEIGHT; the stated ones come first."""
    out: dict[str, float] = {}
    for c in facts.present_conditions():
        if c.historical:
            continue
        for name in c.mesh[:2]:
            w = condition_weight(name)
            if w > 0 and name not in out:
                out[name] = w
    stated = stated_diagnoses(facts)
    if stated:
        out = {n: COMORBIDITY_WEIGHT if w >= 1.0 and n not in stated else w for n, w in out.items()}
    ranked = sorted(out.items(), key=lambda kv: (-kv[1], kv[0] not in stated))
    return ranked[:MAX_CONDITIONS]


def stated_diagnoses(facts) -> list[str]:
    """The diseases (MeSH, `condition_weight` 1) the note states as its diagnosis
    (`ConditionFact.stated`), in note order."""
    out: list[str] = []
    for c in facts.present_conditions():
        if c.stated:
            out += [n for n in c.mesh[:2] if n not in out and condition_weight(n) >= 1.0]
    return out[:MAX_CONDITIONS]


def treatments(facts) -> list[str]:
    """The patient's prior and current treatments (lower-case names), in note order."""
    out: list[str] = []
    for t in facts.treatments:
        if t.negated or t.status == "planned" or not t.name:
            continue
        if t.name not in out:
            out.append(t.name)
    return out[:MAX_TREATMENTS]


def make_queries(text: str, facts, lexical) -> Queries:
    """What each source asks, from the note and the facts read from it."""
    words = clean_text(text)
    q = Queries(note=_bag(words), cond=own_conditions(facts), stated=stated_diagnoses(facts), intr=treatments(facts))
    if lexical is not None and words:
        top = lexical.top_words(token_features(_bag(words)), KEY_WORDS * 2)
        q.key = [w for w in top if w.isalnum() and not w.isdigit()][:KEY_WORDS]
    return q


def token_features(text: str):
    """`similar.Features` holding only the key-field tokens of `text`: what the lexical
    scorer reads (`text_features` also looks the text up in MeSH, which these never use)."""
    from ..index.features import Features, _token_fields, _tokens

    return Features(t="", s=None, p=[], st=None, pp=None, c=[], cd=True, im=[], iv={},
                    **_token_fields(_tokens(text)))


# --- the searcher and the vector index, shared per store --------------------------------
_SEARCHERS: dict[str, tuple[float, tuple, Searcher]] = {}
_LOCK = threading.Lock()


def searcher_for(store) -> Searcher:
    """A Searcher over the store's index (built or caught up on first use), refreshed at
    most every SEARCHER_REFRESH_S so a long-running process sees new ingests. A refresh
    with nothing new (`_version` unchanged) keeps the open snapshot: reopening it would drop
    the NCT ids `_run` has read from it (re-reading them was a third of a match's CPU)."""
    now = time.monotonic()
    with _LOCK:
        got = _SEARCHERS.get(store.url)
        if got is None:
            searcher = Searcher(store)
            _SEARCHERS[store.url] = (now, _version(store, searcher), searcher)
            return searcher
        stamp, version, searcher = got
        if now - stamp > SEARCHER_REFRESH_S:
            current = version
            with contextlib.suppress(Exception):
                current = _version(store, searcher)
                if current != version:
                    searcher.catch_up()
                    current = _version(store, searcher)
            _SEARCHERS[store.url] = (now, current, searcher)
        return searcher


def _version(store, searcher: Searcher) -> tuple:
    """What a catch-up would act on: the store's seq, the day (statuses are as of today),
    and the index directory as written (its own meta, tantivy's segment list, the directory
    a rebuild swaps in), so another process's commit or rebuild is seen too."""
    path = searcher.index.path
    try:
        files = tuple((st.st_ino, st.st_mtime_ns, st.st_size) for st in (
            os.stat(path), os.stat(os.path.join(path, META)), os.stat(os.path.join(path, "meta.json"))))
    except OSError:  # mid-swap: unknown, so the next refresh catches up
        files = (time.monotonic(),)
    return (store.max_seq(), date.today(), files)


def vector_index(store):
    """The store's vector index (built if it never was), or None for an empty store."""
    from ..similar import _index

    return _index(store)


# --- running the sources ------------------------------------------------------------------
# NCT ids kept per index snapshot, by document address (segment << 32 | doc): ~145 bytes
# each, so the whole registry's (500,000 studies) fits in ~75 MB and is read once; 200,000
# was cleared and read again every few hundred matches at that size
DOC_CACHE = 1_000_000
_DOCS: dict[int, tuple[object, dict[int, str]]] = {}
_COLUMNS: dict[int, tuple[object, hitfilter.Columns]] = {}
_COLUMNS_LOCK = threading.Lock()
# A word of the note in more studies than this (in some text field) is left out of its bag
# searches (`specific_words`). The same bound as a share of the shared 21k corpus (10%,
# benchmarks/match.py, ranker cross-validated, same run): TREC 2022 NDCG@10 0.581 -> 0.560,
# P@10 0.330 -> 0.320, Recall@100 0.886 -> 0.912; SIGIR 2016 NDCG@10 0.285 -> 0.303
MAX_WORD_DOCS = 50_000
WORD_CACHE = 50_000
_WORD_DF: dict[int, tuple[object, dict[str, int]]] = {}


def _run(searcher: Searcher, filters: Filters, depth: int, **kw) -> list[tuple[str, float]]:
    """(NCT id, BM25 score) of a source's hits, best first, ties in NCT order. The searcher
    compiles the query and its filters; the age, sex, healthy-volunteer and withdrawn
    filters are checked on the hits (`hitfilter`: the same hits for half the CPU at 500,000
    studies). Only the ids are read back, and each document's id once per index snapshot
    (reading it from the document store cost a third of a source's time)."""
    req = filters.request(limit=depth, **kw)
    if not 1 <= depth <= 1000:
        raise FilterError("limit", ["1..1000"], depth)
    text, query = searcher.build_query(req)
    index, ids = _snapshot(searcher)
    hits = None
    if text is not None and hitfilter.handles(filters):  # the hard filters on the hits, not in the query
        hits = hitfilter.filtered_hits(index, _columns(searcher, index), text, filters, depth)
    if hits is None:
        hits = index.search(query, depth, count=False).hits
    out = []
    for score, addr in hits:
        key = addr.segment_ord << 32 | addr.doc
        nct = ids.get(key)
        if nct is None:
            nct = ids[key] = index.doc(addr).get_first("nct")
        out.append((nct, float(score)))
    # equal scores (a phrase in a short field scores alike in many trials) in NCT order:
    # the index's own order of ties depends on how its segments happened to be written
    out.sort(key=lambda hit: (-hit[1], hit[0]))
    return out


def _columns(searcher: Searcher, index) -> hitfilter.Columns:
    """The hard filters' columns of this index snapshot (built once per snapshot, by one
    thread while the others wait)."""
    got = _COLUMNS.get(id(searcher))
    if got is not None and got[0] is index:
        return got[1]
    with _COLUMNS_LOCK:
        got = _COLUMNS.get(id(searcher))
        if got is None or got[0] is not index:
            got = _COLUMNS[id(searcher)] = (index, hitfilter.Columns(index, searcher.schema))
        return got[1]


def _snapshot(searcher: Searcher) -> tuple[object, dict[int, str]]:
    """The searcher's current index snapshot and the NCT ids read from it so far: an address
    names the same document for as long as the snapshot lives (a reload makes a new one)."""
    current = searcher._searcher
    with _LOCK:
        got = _DOCS.get(id(searcher))
        if got is None or got[0] is not current or len(got[1]) > DOC_CACHE:
            got = _DOCS[id(searcher)] = (current, {})
        return got


def _lexical_sources(searcher: Searcher, q: Queries, bag: str, filters: Filters, least: int) -> dict[str, Future]:
    """Each lexical source's hits (futures: they run side by side, the index lets go of the
    GIL while it searches); `bag`: the note's `specific_words`; `least`: read at least this
    deep (one trial per id)."""
    def depth(source: str) -> int:
        return max(least, SOURCE_DEPTH[source])

    def run(source: str, **kw) -> None:
        out[source] = _POOL.submit(_run, searcher, filters, depth(source), **kw)

    out: dict[str, Future] = {}
    if bag:
        run("note", query=bag)
        run("brief", query=" OR ".join(f"{f}:({bag})" for f in ("title", "summary")), expand_mesh=False)
        run("elig", query=f"elig:({bag})", expand_mesh=False)
    diseases = [n for n, w in q.cond if w >= 1.0] or [n for n, _ in q.cond]
    names = [n for n in map(_quote, diseases) if n]
    if names:
        run("cond", fields={"cond": " OR ".join(names)})
    if q.key:
        run("key", query=" OR ".join(q.key))
    inferred = [n for n in map(_quote, [n for n, _ in q.inferred[:INFERRED_TERMS]]) if n]
    if inferred:
        # the names as written, as `prf` asks them, and in the summaries too: a sparse record
        # (a title and a summary) names its disease there
        run("inf", query=" OR ".join(f"{f}:{n}" for n in inferred for f in INFERRED_FIELDS), expand_mesh=False)
    drugs = [n for n in map(_quote, q.intr) if n]
    if drugs:
        run("intr", query=" OR ".join(f"intr:{d} OR elig:{d}" for d in drugs))
    return out


def specific_words(searcher: Searcher, bag: str) -> str:
    """The bag's words found in at most MAX_WORD_DOCS studies in every text field. What a
    bag search costs is the postings it reads, and a word that most trials use ("disease",
    "treatment", "blood") reads the longest while weighing least in BM25. The bound is a
    number of studies, not a share: no word of the shared 21,232-study corpus reaches it, so
    its candidates are unchanged; at 500,000 studies it leaves out the words of more than
    10% of them (a fifth of a note's words, two thirds of the postings), and the note's three
    bag searches cost 42% less. A bag that would keep MAX_ALL_REQUIRED words or fewer stays
    whole: the search would require all of so few."""
    if not bag:
        return bag
    index, _ = _snapshot(searcher)
    common = _common_words(index)
    keep = []
    words = bag.split()
    for word in words:
        df = common.get(word)
        if df is None:
            tokens = _ANALYZER.analyze(word)
            df = max((index.doc_freq(f, t) for f in TEXT_WEIGHTS for t in tokens), default=0)
            with _LOCK:
                if len(common) > WORD_CACHE:
                    common.clear()
                common[word] = df
        if df <= MAX_WORD_DOCS:
            keep.append(word)
    if len(keep) <= MAX_ALL_REQUIRED < len(words):  # so few words would all be required
        return bag
    return " ".join(keep)


def _common_words(index) -> dict[str, int]:
    """word -> its highest document frequency over the text fields, per index snapshot."""
    with _LOCK:
        got = _WORD_DF.get(id(index))
        if got is None or got[0] is not index:
            _WORD_DF.clear()
            got = _WORD_DF[id(index)] = (index, {})
        return got[1]


def _nearest(idx, text: str, depth: int) -> tuple[list[tuple[int, float]], np.ndarray | None]:
    """The note's vector and its nearest rows in the vector index (before any filter)."""
    from ..index.embeddings import get_encoder

    words = clean_text(text)
    if idx is None or not words:
        return [], None
    vec = get_encoder().encode([words])[0]
    if not np.any(vec):
        return [], None
    return idx.knn(vec, depth), vec


POPULATION_CACHE = 500_000  # rows whose (NCT id, ages, sex) are kept per vector index
_POPULATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def populations(idx, rows: list[int]) -> dict[int, tuple[str, float, float, str | None]]:
    """row -> (NCT id, lowest age, highest age, sex) from the vector index, decoded once per
    process: the kNN source filters a few hundred neighbours by age and sex in every match,
    and decoding their features was a tenth of a match's time. Only these atoms are kept
    (tuples of them cost the garbage collector nothing; whole Features would, at every full
    collection). Rows are written once (an update adds a row); a rebuilt index is a new
    object."""
    def decode(missing: list[int]) -> dict:
        return {r: (nct, float(f.ag[0]), float(f.ag[1]), f.sx) for r, (nct, f) in idx.features(missing).items()}

    return _kept(_POPULATIONS, idx, rows, decode, POPULATION_CACHE)


def _kept(caches: weakref.WeakKeyDictionary, idx, keys: list, decode, limit: int) -> dict:
    """key -> what `decode(missing keys)` made of the vector index's features, kept per index
    (at most `limit`; a rebuilt index is a new object, so nothing goes stale)."""
    with _LOCK:
        cache = caches.get(idx)
        if cache is None:
            cache = caches[idx] = {}
        out = {k: cache[k] for k in keys if k in cache}
    missing = [k for k in keys if k not in out]
    if missing:
        got = decode(missing)
        with _LOCK:
            if len(cache) + len(got) > limit:
                cache.clear()
            cache.update(got)
        out.update(got)
    return out


def _knn(idx, searcher: Searcher, got: list[tuple[int, float]], filters: Filters) -> list[tuple[str, float]]:
    """The neighbours that pass the filters, nearest first: age and sex from the vector
    index, the rest through the search index."""
    if not got:
        return []
    pops = populations(idx, [r for r, _ in got])
    ranked = [(pops[r][0], s) for r, s in got if r in pops and _admits(filters, pops[r])]
    if (filters.healthy or filters.open_only or filters.near or filters.ids) and ranked:
        keep = {n for n, _ in _run(searcher, _with_ids(filters, [n for n, _ in ranked]), len(ranked))}
        ranked = [(n, s) for n, s in ranked if n in keep]
    return ranked


def _admits(filters: Filters, pop: tuple[str, float, float, str | None]) -> bool:
    """The age and sex filters on a study's population (ages in years, open bounds 0 / 120)."""
    _, low, high, sex = pop
    if filters.age is not None and not low <= filters.age <= high:
        return False
    return not (filters.sex and sex in ("FEMALE", "MALE") and sex != filters.sex.upper())


def _with_ids(filters: Filters, ids: list[str]) -> Filters:
    wanted = [i for i in ids if i in set(filters.ids)] if filters.ids else ids
    return Filters(None, None, filters.healthy, filters.open_only, filters.near, wanted or ["NCT00000000"])


def candidates(store, text: str, facts, filters: Filters | None = None, depth: int = DEPTH,
               detail: int = 100, weights: dict[str, float] | None = None) -> tuple[list[Candidate], Queries]:
    """The fused candidate list for a note (best first, at most `depth`) and the queries;
    the first `detail` carry their vector-index features and embedding cosine.

    Raises `trialscope.search.FilterError` for a filter value out of range.
    """
    filters = filters or Filters()
    weights = weights or SOURCE_WEIGHTS
    searcher = searcher_for(store)
    idx = vector_index(store)
    lexical = idx.lexical() if idx is not None else None
    q = make_queries(text, facts, lexical)
    least = min(len(filters.ids), 1000)
    # the vector kNN first: its matrix product would otherwise wait for the cores the
    # searches hold
    nearest, vec = _nearest(idx, text, max(least, SOURCE_DEPTH["knn"]))
    bag = specific_words(searcher, q.note)
    q.inferred = inferred_conditions(store, bag)
    pending = _lexical_sources(searcher, q, bag, filters, least)
    knn = _knn(idx, searcher, nearest, filters)
    known: dict = {}
    lists = {source: f.result() for source, f in pending.items()}
    if knn:
        lists["knn"] = knn
    by_id: dict[str, Candidate] = {}
    for source, ranked in lists.items():
        _fuse(by_id, source, ranked, weights)
    ordered = sorted(by_id.values(), key=lambda c: (-c.fused, c.nct_id))
    if idx is not None and ordered:
        q.feedback = feedback_conditions(lists, diseases_of(idx, lists), _corpus_frequency(searcher))
        q.diseases = described_diseases(q)
        second: dict[str, Future] = {}
        if q.feedback:
            names = " OR ".join(f"{f}:{_quote(n)}" for n in q.feedback for f in ("cond", "title"))
            # the names as written: MeSH expansion (a broad "Neoplasms" reaching every cancer
            # trial) took twice the time (CPU p50 9.0 vs 5.0 ms) and found nothing more
            second["prf"] = _POOL.submit(_run, searcher, filters, max(least, SOURCE_DEPTH["prf"]), query=names,
                                         expand_mesh=False)
        agreed = [n for n in map(_quote, [n for n, _ in q.diseases[:DISEASE_TERMS]]) if n]
        if agreed and (weights.get("dis") or weights.get("dnote")):
            second["dis"] = _POOL.submit(_run, searcher, filters, max(least, SOURCE_DEPTH["dis"]), expand_mesh=False,
                                         query=" OR ".join(f"{f}:{n}" for n in agreed for f in INFERRED_FIELDS))
        for source, f in second.items():
            lists[source] = f.result()
            _fuse(by_id, source, lists[source], weights)
        if "dis" in lists:
            _fuse(by_id, "dnote", by_the_note(lists["dis"], lists.get("note", [])), weights)
        if second:
            ordered = sorted(by_id.values(), key=lambda c: (-c.fused, c.nct_id))
        ordered = ordered[:depth]
        _attach_features(idx, ordered[:detail], vec, known)
    return ordered[:depth], q


def _fuse(by_id: dict[str, Candidate], source: str, ranked: list[tuple[str, float]], weights: dict) -> None:
    w = weights.get(source, 0.0)
    get = by_id.get
    for rank, (nct, score) in enumerate(ranked, 1):
        c = get(nct)
        if c is None:
            c = by_id[nct] = Candidate(nct, {}, {})
        c.ranks[source] = rank
        c.scores[source] = score
        c.fused += w / (RRF_K + rank)


def inferred_conditions(store, bag: str) -> list[tuple[str, float]]:
    """The diseases the note's words describe (`index.conditions`), each with its score as
    a share of the best one's."""
    from ..index.conditions import open_index

    if not bag:
        return []
    ci = open_index(store)
    if ci is None:
        return []
    got = [(n, s) for n, s, _ in ci.infer(bag, 3 * INFERRED_KEPT) if condition_weight(n) >= 1.0][:INFERRED_KEPT]
    if not got:
        return []
    top = got[0][1]
    return [(n, s / top) for n, s in got]


def described_diseases(q: Queries) -> list[tuple[str, float]]:
    """The diseases the note describes as its three readings agree on them: the inferred
    ones (`q.inferred`, from the note's words), the first round's trials' (`q.feedback`)
    and the patient's own named diseases, fused by reciprocal rank (DISEASE_K), each with
    its score as a share of the best one's. The note's stated diagnosis (`q.stated`) comes
    first: the note says what it is about."""
    own = [n for n, w in q.cond if w >= COMORBIDITY_WEIGHT]
    score: dict[str, float] = {}
    for ranked in ([n for n, _ in q.inferred], q.feedback, own):
        for rank, name in enumerate(ranked, 1):
            score[name] = score.get(name, 0.0) + 1.0 / (DISEASE_K + rank)
    lead = max(score.values(), default=0.0)
    for name in q.stated:  # the note's stated diagnosis first: what the note is about
        score[name] = score.get(name, 0.0) + lead
    best = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:INFERRED_KEPT]
    if not best:
        return []
    return [(n, s / best[0][1]) for n, s in best]


def by_the_note(hits: list[tuple[str, float]], note: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """`hits` (the described diseases' trials) in the order of the `note` source, with its
    BM25 score; those it did not find after them, in their own order, scored 0. A disease's
    trials come in no order of their own (a phrase in a condition list scores alike in
    all), and the note's words say which of them fit this patient. Costs no search: the note
    source has scored them already."""
    wanted = {n for n, _ in hits}
    first = [(n, s) for n, s in note if n in wanted]
    found = {n for n, _ in first}
    return first + [(n, 0.0) for n, _ in hits if n not in found]


def feedback_conditions(lists: dict[str, list[tuple[str, float]]], diseases: dict[str, tuple[str, ...]],
                        frequency) -> list[str]:
    """Pseudo-relevance feedback over conditions: the diseases (MeSH) the first round's
    trials are about, best first (at most FEEDBACK_TERMS).

    Each FEEDBACK_SOURCES list's first FEEDBACK_DEPTH trials vote 1 / (FEEDBACK_K + rank),
    shared among the trial's diseases (a trial of one disease says more about it than one
    of six). A disease's votes are weighed by idf ** FEEDBACK_IDF_POWER, idf = log(N / df)
    over the search index (`frequency(name) -> (df, N)`): common diseases collect votes from
    any note ("COVID-19" from every cough and fever), rare ones only from the notes about
    them. A disease needs the votes of at least PRF_MIN trials."""
    votes: dict[str, float] = {}
    voters: dict[str, set[str]] = {}
    for source in FEEDBACK_SOURCES:
        for rank, (nct, _) in enumerate(lists.get(source, ())[:FEEDBACK_DEPTH], 1):
            names = diseases.get(nct, ())
            for name in names:
                votes[name] = votes.get(name, 0.0) + 1.0 / ((FEEDBACK_K + rank) * len(names))
                voters.setdefault(name, set()).add(nct)
    scored = []
    for name, v in votes.items():
        if len(voters[name]) >= PRF_MIN:
            df, n = frequency(name)
            idf = max(0.0, math.log(max(n, 1) / max(df, 1)))
            scored.append((v * idf ** FEEDBACK_IDF_POWER, name))
    scored.sort(key=lambda sn: (-sn[0], sn[1]))
    return [name for score, name in scored[:FEEDBACK_TERMS] if score > 0]


DISEASE_CACHE = 500_000  # studies whose disease terms are kept per vector index
_DISEASES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def diseases_of(idx, lists: dict[str, list[tuple[str, float]]]) -> dict[str, tuple[str, ...]]:
    """NCT id -> the disease MeSH terms (`condition_weight` 1) the study is filed under, for
    the trials that vote in `feedback_conditions`; read from the vector index's features
    once per process (tuples of strings: nothing for the garbage collector to walk)."""
    wanted = list(dict.fromkeys(n for s in FEEDBACK_SOURCES for n, _ in lists.get(s, ())[:FEEDBACK_DEPTH]))

    def decode(missing: list[str]) -> dict:
        rows = idx.rows_of(missing)
        return {nct: tuple(sorted({t for t in f.c if condition_weight(t) >= 1.0}))
                for nct, f in idx.features(list(rows.values())).values()}

    return _kept(_DISEASES, idx, wanted, decode, DISEASE_CACHE)


def _corpus_frequency(searcher: Searcher):
    """name -> (studies filed under the MeSH term, studies in the index), from the search
    index snapshot (a term lookup each: no scan)."""
    index, _ = _snapshot(searcher)
    total = index.num_docs

    def frequency(name: str) -> tuple[int, int]:
        return index.doc_freq("mesh_facet", name), total

    return frequency


def _attach_features(idx, cands: list[Candidate], vec: np.ndarray | None, known: dict) -> None:
    rows = idx.rows_of([c.nct_id for c in cands])
    for nct, f in idx.features([r for n, r in rows.items() if n not in known]).values():
        known[nct] = f
    need = [c for c in cands if "knn" not in c.scores and c.nct_id in rows]
    if vec is not None and need:
        sims = idx.vectors[[rows[c.nct_id] for c in need]].astype(np.float32) @ vec
        for c, sim in zip(need, sims.tolist(), strict=True):
            c.emb = sim
    for c in cands:
        c.features = known.get(c.nct_id)
        if "knn" in c.scores:
            c.emb = c.scores["knn"]


__all__ = ["DEPTH", "Candidate", "FilterError", "Filters", "Queries", "candidates", "clean_text",
           "make_queries", "own_conditions", "searcher_for", "treatments"]

"""Patient-to-trial matching: from a patient's note to the trials they can join.

    >>> result = match(store, "60-year-old man with advanced HCC, progressed on sorafenib ...")
    >>> result.trials[0].nct_id, result.trials[0].explanation
    ('NCT03949231', 'meets 7 of 9 inclusion criteria; no exclusion applies; unknown: ECOG')

How a match runs (each step its own module):

1. facts: `patient.extract_facts(note)` reads age, sex, conditions (MeSH, with negation and
   family history), stage, performance status, treatments, labs, pregnancy, smoking; the
   caller's structured facts override what was read;
2. candidates: `retrieve.candidates` runs several queries made from the note and the facts,
   fuses them with the embedding neighbours and applies the hard filters (age, sex, healthy
   volunteers, open status, distance);
3. ranking: `rank` scores every candidate from retrieval features, then assesses the best
   `rank.ASSESS` criterion by criterion (`assess.assess`) and re-ranks them with the
   eligibility features; a trial that a criterion decisively excludes says which one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date

from ..collector import paused
from . import rank as _rank
from .retrieve import Candidate, Filters, Queries, candidates, vector_index

MAX_NOTE = 100_000  # characters of a note that are read; a longer one is cut (and says so)
MAX_LIMIT = 100
SEXES = ("female", "male")

__all__ = ["MAX_LIMIT", "MAX_NOTE", "MatchError", "MatchResult", "Trial", "match", "read_facts"]


class MatchError(ValueError):
    """Input the caller can fix (an empty note, an age out of range); `param` names it."""

    def __init__(self, message: str, param: str = "text"):
        super().__init__(message)
        self.param = param


@dataclass
class Trial:
    """One ranked trial: what it is, its score, and its assessment against the patient."""

    nct_id: str
    brief_title: str
    overall_status: str | None
    phases: list[str]
    score: float
    assessment: object | None = None
    found_by: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """"likely eligible", "possibly eligible" or "excluded" (`Assessment.eligible`)."""
        return self.assessment.eligible if self.assessment is not None else "possibly eligible"

    @property
    def explanation(self) -> str:
        return self.assessment.explanation if self.assessment is not None else "not assessed"

    def as_json(self) -> dict:
        a = self.assessment
        return {
            "nctId": self.nct_id, "briefTitle": self.brief_title, "overallStatus": self.overall_status,
            "phases": self.phases, "score": round(self.score, 4), "verdict": self.verdict,
            "explanation": self.explanation, "foundBy": self.found_by,
            "assessment": a.as_json() if a is not None else None,
        }


@dataclass
class MatchResult:
    facts: object
    queries: Queries
    filters: Filters
    trials: list[Trial]
    candidates: int
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # ms per step (benchmarks read it)

    def as_json(self) -> dict:
        f = self.filters
        return {
            "facts": self.facts.as_json(),
            "filters": {"age": f.age, "sex": f.sex, "healthyVolunteer": f.healthy, "openOnly": f.open_only,
                        "near": list(f.near) if f.near else None, "ids": f.ids or None},
            "queries": self.queries.as_json(),
            "candidates": self.candidates,
            "notes": self.notes,
            "trials": [t.as_json() for t in self.trials],
        }


# --- the pipeline, step by step (benchmarks/match.py runs the same steps) ----------------------
def read_facts(text: str, overrides: dict | None = None):
    """The patient's facts from the note, with `overrides` (structured facts) applied."""
    from .patient import extract_facts

    facts = extract_facts(text or "")
    if overrides:
        facts = facts.with_overrides(overrides)
    return facts


def filters_for(facts, *, near=None, open_only: bool = False, ids: list[str] | None = None) -> Filters:
    """The hard filters for a patient: their age and sex, healthy volunteer or not. Trials
    asked for by id are only assessed: the one that excludes a patient by age says so."""
    if ids:
        return Filters(open_only=open_only, near=near, ids=list(ids))
    return Filters(age=facts.age, sex=facts.sex, healthy=True if facts.healthy else None,
                   open_only=open_only, near=near)


@dataclass
class Prepared:
    """One note's candidates in fusion order, with what the ranking compares them with."""

    facts: object
    filters: Filters
    queries: Queries
    cands: list[Candidate]
    patient: _rank.Patient
    lexical: object | None


def prepare(store, text: str, facts, filters: Filters) -> Prepared:
    cands, queries = candidates(store, text, facts, filters)
    idx = vector_index(store)
    lexical = idx.lexical() if idx is not None else None
    return Prepared(facts, filters, queries, cands, _rank.patient_of(queries, text, lexical), lexical)


def assess_many(store, facts, ncts: list[str], judge=None, note: str | None = None) -> dict[str, object]:
    """Each study's assessment against the patient, from the derived criteria index (which
    keeps the record's structured eligibility too: no record is read). `judge` is the
    optional `assess.CriterionJudge` (a local model or a remote API) for what the rules
    leave unknown; off unless given."""
    from ..index.criteria import get_many
    from .assess import assess

    crit = get_many(store, ncts)
    return {n: assess(crit[n], facts, judge=judge, note=note) for n in ncts if n in crit}


def feature_rows(p: Prepared, assessments: dict[str, object], top: int) -> list[dict[str, float]]:
    """The ranking features of the first `top` candidates."""
    cands = p.cands[:top]
    rows = _rank.retrieval_features(cands, p.patient, p.lexical)
    return [r | _rank.eligibility_features(assessments.get(c.nct_id)) for r, c in zip(rows, cands, strict=True)]


def order(p: Prepared, rows: list[dict[str, float]], model: _rank.Stage) -> tuple[list[int], list[float]]:
    """Candidate positions best first with their scores: the first len(rows) re-ranked by
    the model, the rest after them in fusion order. A trial that a criterion excludes keeps
    its place and says why: putting every "excluded" last measured worse (NDCG@10 on TREC
    2022 0.542 -> 0.510), since a trial for the patient's disease is worth reading even
    when one criterion, read by a machine, seems to rule them out."""
    top, scores = _rank.rerank(rows, model)
    floor = float(min(scores)) if len(top) else 0.0
    rest = range(len(rows), len(p.cands))
    return top + list(rest), [float(scores[i]) for i in top] + [floor - 1.0] * len(rest)


@paused()
def match(store, text: str, *, facts: dict | None = None, age: float | None = None,
          sex: str | None = None, near: tuple[float, float, float] | None = None,
          open_only: bool = False, limit: int = 20, ids: list[str] | None = None,
          model: _rank.Stage | None = None, judge=None) -> MatchResult:
    """The trials a patient can join, best first, each assessed criterion by criterion.

    `facts` (structured, as in `MatchResult.facts.as_json()`) and `age` / `sex` override what
    the note says. `near` is (lat, lon, radius_km); `ids` checks the note against just those
    trials. `judge` (an `assess.CriterionJudge`, off by default) decides criteria the rules
    leave unknown. Raises MatchError for input the caller can fix,
    `trialscope.search.FilterError` for a filter out of range.

    The cyclic garbage collector is paused meanwhile (`trialscope.collector`): a match makes
    ~10^5 short-lived objects, and in a caller with a large heap and the default collector
    the passes they set off walked it all (109 dev notes after the benchmark's quality part,
    CPU p95 124.6 -> 108.0 ms, max 402 -> 123; in a fresh process 133.5 -> 103.2).
    """
    notes: list[str] = []
    text = text if isinstance(text, str) else ""
    if not text.strip() and not facts:
        raise MatchError("the note is empty: give the patient's note (or structured facts)")
    if len(text) > MAX_NOTE:
        notes.append(f"the note is {len(text):,} characters; the first {MAX_NOTE:,} were read")
        text = text[:MAX_NOTE]
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise MatchError(f"limit must be 1 to {MAX_LIMIT}", "limit")
    overrides = dict(facts or {})
    if age is not None:
        overrides["age"] = age
    if sex is not None:
        overrides["sex"] = sex
    _check_overrides(overrides)
    clock = _Clock()
    patient = read_facts(text, overrides)
    clock.lap("facts")
    if patient.age is None:
        notes.append("no age found in the note: trials of every age are considered")
    if patient.sex is None:
        notes.append("no sex found in the note: trials for either sex are considered")
    filters = filters_for(patient, near=near, open_only=open_only, ids=ids)
    p = prepare(store, text, patient, filters)
    clock.lap("candidates")
    top = max(_rank.ASSESS, limit)
    assessments = assess_many(store, patient, [c.nct_id for c in p.cands[:top]], judge, text)
    clock.lap("assess")
    ordered, scores = order(p, feature_rows(p, assessments, top), model or _rank.shipped_model())
    clock.lap("rank")
    shown = [(p.cands[i], score) for i, score in zip(ordered[:limit], scores, strict=False)]
    # what a result shows (title, status, phases) is in the vector index's features; the
    # store is read only for a trial they lack (parsing 20 records was 8 ms of a match)
    need = [c.nct_id for c, _ in shown if c.features is None or not c.features.t]
    records = {n: s.record for n, s in store.get_many(need).items()} if need else {}
    trials = [_trial(c, records.get(c.nct_id), score, assessments.get(c.nct_id))
              for c, score in shown if c.nct_id in records or c.nct_id not in need]
    clock.lap("results")
    return MatchResult(patient, p.queries, filters, trials, len(p.cands), notes, clock.laps)


class _Clock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = (now - self.t) * 1000
        self.t = now


def _check_overrides(o: dict) -> None:
    if "age" in o and o["age"] is not None:
        try:
            a = float(o["age"])
        except (TypeError, ValueError):
            raise MatchError("age must be a number of years", "age") from None
        if math.isnan(a) or not 0 <= a <= 120:
            raise MatchError("age must be 0 to 120 years", "age")
        o["age"] = a
    if "sex" in o and o["sex"] is not None:
        s = str(o["sex"]).strip().lower()
        if s not in SEXES:
            raise MatchError("sex must be female or male", "sex")
        o["sex"] = s


_SOURCE_LABEL = {"note": "the note's words", "brief": "title and summary", "elig": "eligibility criteria",
                 "cond": "conditions", "key": "key terms", "intr": "treatments", "knn": "meaning (embedding)",
                 "prf": "conditions of the best matches", "inf": "diseases the note describes",
                 "dis": "diseases the note's readings agree on", "dnote": "the note's words in trials of its diseases"}


def _trial(c: Candidate, record: dict | None, score: float, assessment) -> Trial:
    from ..record import RecordError, display_title, validate
    from ..trust import effective_status

    found = [_SOURCE_LABEL[s] for s in sorted(c.ranks, key=lambda s: c.ranks[s]) if s in _SOURCE_LABEL]
    if record is None:
        f = c.features
        # the status as search shows it: "Unknown status" once the registry's rule turns it
        stale = f.cu > 0 and int(date.today().strftime("%Y%m%d")) >= f.cu
        return Trial(c.nct_id, f.t, "UNKNOWN" if stale else f.s, list(f.p), score, assessment, found)
    p = record.get("protocolSection") or {}
    try:
        title = display_title(validate(record))
    except RecordError:
        title = (p.get("identificationModule") or {}).get("briefTitle") or c.nct_id
    status = effective_status(record).status
    phases = [x for x in (p.get("designModule") or {}).get("phases") or [] if x != "NA"]
    return Trial(c.nct_id, title, status, list(phases), score, assessment, found)

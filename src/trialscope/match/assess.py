"""Assessing a patient against a trial, criterion by criterion.

`assess(criteria, facts, record)` judges every criterion (and the record's structured
eligibility: minimum and maximum age, sex, healthy volunteers) as met, not met or unknown
for this patient, with the words of the note that decided it. A met exclusion or a failed
inclusion is decisive: the patient is excluded, and the result says by which criterion.
A criterion's typed facts (`trialscope.criteria.types`) are compared with the patient's
(`trialscope.match.patient`): ages and sexes directly, labs after unit conversion
(`criteria.units`), stages on their system's order, performance status across ECOG and
Karnofsky, conditions and treatments through MeSH (a patient's condition meets a criterion
naming it or anything broader; a named cancer of another body system fails an inclusion
asking for a cancer), pregnancy and lactation. A range the note implies ("vital signs within
normal limits") decides a threshold it lies wholly on one side of. What the rules cannot decide stays
unknown; commitments (consent, contraception, compliance) are unknown by nature and do not
count against a trial.

Three-valued logic combines facts: in an inclusion criterion all stated requirements must
hold (alternatives of one kind, "HCC or cholangiocarcinoma", need one); an exclusion applies
when any of its facts holds. An exclusion naming a broad class ("history of malignancy")
does not apply to the trial's own disease ("no other malignancy" among inclusions reads the
same). A condition never decides against the patient where the criterion names it for
something else (`Condition.context`: a test result, a treatment of it, a feature of it,
another person), where it is an exception ("other than osteoporosis"), a broad class beside
the narrower one meant ("tumour ... small-cell lung cancer"), or a degree the note does not
state ("severe", "uncontrolled"). `benchmarks/verdicts.py` measures these verdicts against
TREC 2022's judgments.

**An optional judge for what the rules leave unknown.** `assess(..., judge=J, note=text)`
asks `J.judge(criterion_text, section, note, facts)` about every criterion the rules left
unknown (commitments aside). `J` is anything with that method (`CriterionJudge`), e.g. a
local model or a remote API client; it returns a `Judgement` (status, reason, evidence
spans in the note) or None to abstain. It is off by default, nothing in trialscope needs
it, and a judge that raises is treated as abstaining.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

import msgspec

from ..criteria import eligibility_of
from ..criteria.concepts import drug_classes
from ..criteria.kinds import LOWER_BOUNDED
from ..criteria.types import (
    FACT_KIND,
    Age,
    Condition,
    Consent,
    Criteria,
    Criterion,
    Eligibility,
    Lab,
    Performance,
    Reproductive,
    Setting,
    Sex,
    Smoking,
    Stage,
    Therapy,
)
from ..criteria.units import LABELS, REFERENCE_ULN, convert, infer_unit
from ..mesh import vocabulary
from .patient import PatientFacts

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
EXCLUDED, POSSIBLY, LIKELY = "excluded", "possibly eligible", "likely eligible"


def by_verdict(trials: list) -> tuple[list, list]:
    """How results are shown to a patient: the trials they may join ("likely" or "possibly
    eligible") first, then those a criterion excludes them from, each group in the given
    (rank) order. The ranked order itself (the API's) keeps excluded trials in place: TREC
    counts them as half-relevant, and a trial for the patient's disease is worth reading
    even when a rule-read criterion seems to rule them out. `trials` are anything with a
    `verdict`."""
    may_join = [t for t in trials if t.verdict != EXCLUDED]
    return may_join, [t for t in trials if t.verdict == EXCLUDED]


class Evidence(msgspec.Struct, frozen=True, gc=False):
    """Words of the note (`start`, `end` offsets; -1 for a given fact) and what they say."""

    start: int
    end: int
    fact: str  # "age 60", "ALT 85 U/L", "denies diabetes"


class Judgement(msgspec.Struct, frozen=True):
    """What a `CriterionJudge` says about one criterion."""

    status: str  # MET | NOT_MET | UNKNOWN
    reason: str = ""
    evidence: tuple[tuple[int, int], ...] = ()


class CriterionJudge(Protocol):
    """Decides a criterion the rules leave unknown (a local model, a remote API...)."""

    def judge(self, criterion: str, section: str, note: str, facts: PatientFacts) -> Judgement | None: ...


class CriterionResult(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    section: str  # "inclusion" | "exclusion" | "structured"
    criterion: Criterion
    status: str  # MET | NOT_MET | UNKNOWN
    decisive: bool = False  # a met exclusion, or a failed inclusion
    reason: str = ""
    evidence: list[Evidence] = []
    children: list[CriterionResult] = []
    judged_by: str = ""  # "rules", or the judge's name when one decided

    @property
    def label(self) -> str:
        return self.criterion.label

    @property
    def text(self) -> str:
        return self.criterion.text

    @property
    def kind(self) -> str:
        return self.criterion.kind

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "section": self.section, "label": self.criterion.label, "text": self.criterion.text,
            "kind": self.criterion.kind, "status": self.status, "decisive": self.decisive,
            "reason": self.reason, "evidence": [msgspec.to_builtins(e) for e in self.evidence],
            "criterionSpans": [[f.start, f.end] for f in self.criterion.facts],
        }
        if self.children:
            out["children"] = [c.as_json() for c in self.children]
        if self.judged_by and self.judged_by != "rules":
            out["judgedBy"] = self.judged_by
        return out


class Summary(msgspec.Struct, kw_only=True, gc=False):
    inclusion_met: int = 0
    inclusion_not_met: int = 0
    inclusion_unknown: int = 0
    exclusion_met: int = 0
    exclusion_not_met: int = 0
    exclusion_unknown: int = 0
    eligible: str = POSSIBLY  # EXCLUDED | POSSIBLY | LIKELY
    excluded_by: list[str] = []  # labels of the decisive criteria, "inclusion 3", "exclusion 5"
    unknown: list[str] = []  # what stays to be checked, by kind ("ECOG", "platelets")


class Assessment(msgspec.Struct, kw_only=True, gc=False):
    criteria: list[CriterionResult]
    summary: Summary
    explanation: str
    features: dict[str, float]

    @property
    def eligible(self) -> str:
        return self.summary.eligible

    @property
    def decisive(self) -> list[CriterionResult]:
        return [r for r in self.criteria if r.decisive]

    def as_json(self) -> dict[str, Any]:
        return {"eligible": self.summary.eligible, "explanation": self.explanation,
                "summary": msgspec.to_builtins(self.summary), "features": self.features,
                "criteria": [r.as_json() for r in self.criteria]}


# -- the patient, indexed once per facts object -------------------------------------------


class _Patient:
    def __init__(self, facts: PatientFacts):
        self.facts = facts
        self.present: list[tuple[Any, set[str]]] = []  # (condition, its descriptors)
        self.denied: list[tuple[Any, set[str]]] = []
        self.family: list[tuple[Any, set[str]]] = []  # relatives' conditions, had or denied
        for c in facts.conditions:
            names = set(c.mesh)
            if not names:
                continue
            if c.family:
                self.family.append((c, names))
            elif c.negated:
                self.denied.append((c, names))
            elif c.present:
                self.present.append((c, names))
        self.treatments = [t for t in facts.treatments if not t.negated and t.status != "planned"]
        # each treatment's names, lower case, with the classes of its drug ("statins" for atorvastatin)
        self.treatment_names = {id(t): {t.name.lower(), *(m.lower() for m in t.mesh), *drug_classes(t.name),
                                        *(c for m in t.mesh for c in drug_classes(m))} for t in self.treatments}
        self.denied_treatments = [t for t in facts.treatments if t.negated]
        self.labs: dict[str, Any] = {}
        for lab in facts.labs:
            self.labs.setdefault(lab.analyte, lab)
        # the cancers the note names that have a site (`_another_cancer`), with their sites
        self.cancers = [(c, sites) for c, pnames in self.present if not c.uncertain
                        if (sites := frozenset().union(*(_cancer_sites(n) for n in pnames)))]


_LAST: list[_Patient] = []


def _patient(facts: PatientFacts) -> _Patient:
    if _LAST and _LAST[0].facts is facts:
        return _LAST[0]
    p = _Patient(facts)
    _LAST[:] = [p]
    return p


@lru_cache(maxsize=100_000)
def _ancestors(name: str) -> frozenset[str]:
    return frozenset(vocabulary().ancestors(name))


def _strength(criterion_names: set[str] | frozenset[str], patient_names: set[str]) -> float:
    """How well a patient's condition meets a criterion's: 1 the same descriptor, 0.9 the
    patient's is narrower (HCC meets "liver cancer"), 0.5 the criterion's is narrower, 0."""
    if criterion_names & patient_names:
        return 1.0
    best = 0.0
    for p in patient_names:
        if _ancestors(p) & criterion_names:
            return 0.9
    for c in criterion_names:
        if _ancestors(c) & patient_names:
            best = 0.5
    return best


# -- per-fact judgements: True (the statement holds), False, None (unknown) ---------------


class _Verdict:
    __slots__ = ("value", "reason", "evidence", "prior", "degree", "aside", "mesh")

    def __init__(self, value: bool | None, reason: str = "", evidence: list[Evidence] | None = None,
                 prior: bool = False, degree: bool = False):
        self.value = value
        self.reason = reason
        self.evidence = evidence or []
        self.prior = prior  # met by a treatment the patient had before, not one they take now
        self.degree = degree  # unknown for its degree alone: the patient has the condition, how bad?
        self.aside = False  # unknown as named for something else (a test, a treatment of it)
        self.mesh: frozenset = frozenset()


def _span(obj) -> tuple[int, int]:
    if hasattr(obj, "start"):
        return obj.start, obj.end
    return obj if obj else (-1, -1)


def _compare(value: float, op: str, bound: float, bound2: float | None = None) -> bool:
    if op == "range" and bound2 is not None:
        return bound <= value <= bound2
    return {"<": value < bound, "<=": value <= bound + 1e-9, ">": value > bound, ">=": value >= bound - 1e-9,
            "=": abs(value - bound) < 1e-9}.get(op, False)


def _age(fact: Age, p: _Patient) -> _Verdict:
    age = p.facts.age
    if age is None:
        return _Verdict(None, "age not stated")
    ok = True
    if fact.min_years is not None:
        ok &= age >= fact.min_years if fact.min_inclusive else age > fact.min_years
    if fact.max_years is not None:
        # "18 to 80 years": an 80-year-old is in until their 81st birthday
        ok &= age < fact.max_years + 1 if fact.max_inclusive else age < fact.max_years
    s, e = _span(p.facts.age_span)
    return _Verdict(ok, f"age {age:g}", [Evidence(s, e, f"age {age:g}")])


def _sex(fact: Sex, p: _Patient) -> _Verdict:
    if not p.facts.sex:
        return _Verdict(None, "sex not stated")
    s, e = _span(p.facts.sex_span)
    return _Verdict(p.facts.sex == fact.sex, p.facts.sex, [Evidence(s, e, p.facts.sex)])


_ECOG_FROM_KPS = ((90, 0), (70, 1), (50, 2), (30, 3), (0, 4))


def _to_scale(value: float, scale: str, to: str) -> float:
    if scale == to or {scale, to} == {"Karnofsky", "Lansky"}:
        return value
    if to == "ECOG":
        return next(e for k, e in _ECOG_FROM_KPS if value >= k)
    return {0: 95, 1: 75, 2: 55, 3: 35, 4: 15}.get(int(value), 15)


def _performance(fact: Performance, p: _Patient) -> _Verdict:
    if not p.facts.performance:
        return _Verdict(None, "performance status not stated")
    ps = next((x for x in p.facts.performance if x.scale == fact.scale), p.facts.performance[0])
    value = _to_scale(ps.value, ps.scale, fact.scale)
    ok = _compare(value, fact.comparator, fact.value, fact.value2)
    label = f"{ps.scale} {ps.value:g}"
    return _Verdict(ok, label, [Evidence(ps.start, ps.end, label)])


def _lab(fact: Lab, p: _Patient, section: str) -> _Verdict:
    lab = p.labs.get(fact.analyte)
    if lab is None:
        return _Verdict(None, f"{fact.analyte} not stated")
    op = fact.comparator
    if op == "=":  # a bare threshold: a floor for counts, a ceiling for the rest
        floor = fact.analyte in LOWER_BOUNDED
        op = (">=" if floor else "<=") if section != "exclusion" else ("<" if floor else ">")
    crit_unit = fact.unit or infer_unit(fact.analyte, fact.value)
    if lab.high is not None:  # a range the note implies ("vital signs within normal limits")
        ends = [convert(fact.analyte, x, lab.unit, crit_unit) for x in (lab.value, lab.high)]
        label = f"{LABELS.get(fact.analyte, fact.analyte)} normal"
        ev = [Evidence(lab.start, lab.end, label)]
        if None in ends:
            return _Verdict(None, label, ev)
        low_ok, high_ok = (_compare(x, op, fact.value, fact.value2) for x in ends)
        return _Verdict(low_ok if low_ok == high_ok else None, label if low_ok == high_ok else f"{label}: how much?", ev)
    note_unit = lab.unit or infer_unit(fact.analyte, lab.value)
    approx = ""
    if crit_unit in ("×ULN", "×LLN"):
        limit = lab.uln if crit_unit == "×ULN" and lab.uln else None
        if limit is not None:
            value = lab.value / limit
        else:
            canon = convert(fact.analyte, lab.value, note_unit, "")
            ref = REFERENCE_ULN.get(fact.analyte) if crit_unit == "×ULN" else None
            if canon is None or (crit_unit == "×ULN" and ref is None):
                return _Verdict(None, f"{fact.analyte}: no reference range to compare with")
            value = convert(fact.analyte, lab.value, note_unit, crit_unit)
            if value is None:
                return _Verdict(None, f"{fact.analyte}: no reference range to compare with")
            approx = " (against a typical upper limit of normal)"
    else:
        value = convert(fact.analyte, lab.value, note_unit, crit_unit)
        if value is None:
            return _Verdict(None, f"{fact.analyte}: units do not convert")
    ok = _compare(value, op, fact.value, fact.value2)
    label = f"{fact.analyte} {lab.value:g}{(' ' + lab.unit) if lab.unit else ''}"
    return _Verdict(ok, label + approx, [Evidence(lab.start, lab.end, label)])


_ROMAN = {"0": 0, "I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
_LETTERS = {"0": 0, "A": 1, "B": 2, "C": 3, "D": 4}
_STAGE_FAMILY = {"stage": "stage", "FIGO": "stage", "Ann Arbor": "stage", "AJCC": "stage"}


def _ordinal(system: str, value: str) -> float | None:
    """A stage's place on its system's order: "IIIB" 3.2, BCLC "C" 3, Child-Pugh "B7" 2."""
    v = value.strip().upper().rstrip("+-")
    if not v:
        return None
    if system in ("BCLC", "Binet"):
        return float(_LETTERS[v[0]]) if v[0] in _LETTERS else None
    if system == "Child-Pugh":
        if v[0] in "ABC":
            return float(_LETTERS[v[0]])
        if v.isdigit():
            n = int(v)
            return 1.0 if n <= 6 else 2.0 if n <= 9 else 3.0
        return None
    if system.startswith("TNM-"):
        digits = [c for c in v if c.isdigit()]
        if v[1:3] == "IS":
            return 0.5
        if not digits:
            return None
        sub = "ABCD".find(v[-1]) + 1 if v[-1] in "ABCD" else 0
        return int(digits[0]) + sub / 10
    if v.isdigit():
        return float(v)
    roman = v.rstrip("ABC123")
    sub = v[len(roman):]
    if roman not in _ROMAN:
        return None
    frac = ("ABC".find(sub[0]) + 1) / 10 if sub and sub[0] in "ABC" else 0
    return _ROMAN[roman] + frac


def _stage(fact: Stage, p: _Patient) -> _Verdict:
    family = _STAGE_FAMILY.get(fact.system, fact.system)
    mine = [s for s in p.facts.stage if _STAGE_FAMILY.get(s.system, s.system) == family]
    if not mine:
        return _Verdict(None, f"{fact.system} not stated")
    st = mine[0]
    value = _ordinal(st.system, st.value)
    label = f"{st.system if st.system != 'stage' else 'stage'} {st.value}"
    ev = [Evidence(st.start, st.end, label)]
    if value is None:
        return _Verdict(None, label, ev)
    exact_sub = abs(value - int(value)) > 1e-9

    def within(lo: str, hi: str) -> bool | None:
        lo_v = _ordinal(fact.system, lo) if lo else None
        hi_v = _ordinal(fact.system, hi) if hi else None
        if (lo and lo_v is None) or (hi and hi_v is None):
            return None
        if lo_v is not None:
            if lo.endswith("+"):
                if value <= lo_v + (0 if exact_sub or lo_v != int(lo_v) else 0.99):
                    return False
            elif value < lo_v - 1e-9:
                return False
        if hi_v is not None:
            top = hi_v + (0.99 if hi_v == int(hi_v) else 0)
            if hi.endswith("-"):
                if value >= hi_v:
                    return False
            elif value > top + 1e-9:
                return False
        return True

    if fact.values:
        results = []
        for v in fact.values:
            lo, _, hi = v.partition("-")
            results.append(within(lo, hi or lo))
        if any(r for r in results):
            return _Verdict(True, label, ev)
        if all(r is False for r in results):
            return _Verdict(False, label, ev)
        return _Verdict(None, label, ev)
    return _Verdict(within(fact.low, fact.high), label, ev)


# Words an exclusion may put around a disease name and still name just that disease
# ("Known HCC", "Presence of hepatocellular carcinoma", "Patients with a history of HCC.").
_BARE_FILLER = re.compile(r"(?:\b(?:known|presence|evidence|history|diagnosis|diagnosed|documented|confirmed|"
                          r"current|existing|prior|previous|patients?|subjects?|participants?|with|of|a|an|"
                          r"the|any|has|have|having)\b|[\s.,;:()\[\]*-])*", re.IGNORECASE)


def _bare(fact: Condition, text: str) -> bool:
    """Whether a criterion is the fact's disease name and nothing else: the words around it
    are `_BARE_FILLER` alone."""
    if not text or not 0 <= fact.start < fact.end <= len(text):
        return False
    return all(_BARE_FILLER.fullmatch(part) for part in (text[:fact.start], text[fact.end:]))


def _condition(fact: Condition, p: _Patient, section: str, targets: frozenset[str], text: str = "") -> _Verdict:
    names = set(fact.mesh)
    if not names:
        return _Verdict(None, "")
    chronic = _chronic(text, fact)
    if fact.context == "other person":
        return _relatives(names, p)
    best, best_c = 0.0, None
    criterion_symptom = all(_is_symptom(n) for n in names)
    # "No other malignancy" among inclusions reads as "other malignancy" among exclusions
    # (but "no COVID-19 symptoms", naming the trial's disease itself, means it)
    ruling_out = section == "exclusion" or fact.negated
    # an exclusion that is the patient's disease by name and nothing more means it, even when
    # the trial is filed under it: a trial that excludes "HCC" is for those at risk of it
    named_alone = section == "exclusion" and not fact.other and _bare(fact, text)
    for c, pnames in p.present:
        if ruling_out and (fact.other or (_is_target(names, pnames, targets)
                                          and (section == "exclusion" or not names & pnames)
                                          and not (named_alone and names & pnames))):
            continue  # "other malignancy", "history of cancer": not the trial's own disease
        s = _strength(names, pnames)
        if s > 0.5 and not criterion_symptom and c.mesh and _is_symptom(c.mesh[0]):
            s = 0.5  # a cough does not establish a respiratory disease, nor heartburn reflux disease
        if s > 0.5 and not names & pnames and c.mesh and _is_infection(c.mesh[0]) and (
                chronic or all(_respiratory_class(n) for n in names)):
            # COVID-19 is a lung disease, but no "chronic lung disease"; and MeSH files it
            # under viral pneumonia, but an infection of the airways is no pneumonia (or
            # lung disease) until the note says so
            s = 0.5
        if s > best:
            best, best_c = s, c
    if best >= 0.9 and best_c is not None:
        ev = [Evidence(best_c.start, best_c.end, best_c.text)]
        if best_c.uncertain:
            return _Verdict(None, f"possible {best_c.text}", ev)
        if fact.context == "after" and best_c.mesh and _is_infection(best_c.mesh[0]) and not best_c.historical:
            # "recovered from COVID-19", "post-COVID": an infection the note gives as current is not over
            return _Verdict(False, f"{best_c.text} now, not after it", ev)
        if section == "exclusion" and criterion_symptom and (best_c.historical or not _symptoms_now(text, fact)):
            # "pain", "fever", "bleeding" in an exclusion qualify something the rules cannot
            # read; but "symptomatic with fever, cough or sore throat" means the symptoms
            return _Verdict(None, f"{best_c.text} (a symptom: which one is meant?)", ev)
        if ruling_out and fact.active and best_c.historical:
            return _Verdict(None, f"history of {best_c.text} (active?)", ev)
        if ruling_out and fact.severe:
            # "severe or unstable cardiovascular disease", "end-stage lung disease": the
            # patient's hypertension is of the class, but is it as severe as that?
            return _Verdict(None, f"{best_c.text} (of the class; as severe as {fact.text}?)", ev, degree=True)
        return _Verdict(True, best_c.text, ev)
    for c, pnames in p.denied:
        # denying a condition denies everything narrower: "denies diabetes" answers "type 2
        # diabetes"; but a broad class is denied for what it was named for: "denies
        # encephalopathy" (Brain Diseases) says nothing of a stroke
        if names & pnames or (_strength(pnames, names) >= 0.9 and all(_narrow(n) for n in pnames)):
            return _Verdict(False, f"no {c.text}", [Evidence(c.start, c.end, f"no {c.text}")])
    if best_c is not None:
        return _Verdict(None, f"{best_c.text} (related)", [Evidence(best_c.start, best_c.end, best_c.text)])
    if section == "inclusion" and not fact.negated and not fact.other and not fact.context:
        other = _another_cancer(names, p)
        if other is not None:
            return _Verdict(False, f"{other.text}, a cancer of another site",
                            [Evidence(other.start, other.end, other.text)])
    return _Verdict(None, f"{fact.text} not mentioned")


@lru_cache(maxsize=20_000)
def _cancer_sites(name: str) -> frozenset[str]:
    """The body systems a neoplasm's MeSH descriptor is filed under (Neoplasms by Site,
    C04.588's branches: digestive, thoracic, urogenital...), through its ancestors;
    empty for a neoplasm of no site (lymphoma, adenocarcinoma, neoplasms)."""
    vocab = vocabulary()
    return frozenset(t[:11] for n in (name, *_ancestors(name)) for t in vocab.tree_numbers(n)
                     if t.startswith("C04.588."))


def _another_cancer(names: set[str], p: _Patient):
    """The patient's named cancer, when an inclusion asks for a cancer of another site (an
    NSCLC trial for a patient with hepatocellular carcinoma): a different primary, not an
    unknown. Only where both have sites and the patient has no cancer of the asked site."""
    if not p.cancers:
        return None
    asked = [_cancer_sites(n) for n in names]
    if not asked or not all(asked):
        return None
    wanted = frozenset().union(*asked)
    if any(sites & wanted for _c, sites in p.cancers):
        return None
    return p.cancers[0][0]


# An exclusion of having symptoms now, just before the symptom: "Symptomatic with subjective
# fever, cough or sore throat", "signs or symptoms of infection such as fever", "currently
# experiencing cough"; not "relief of symptoms such as ... cough remedies"
_SYMPTOMS_NOW = re.compile(r"(?:\bsymptomatic\b|(?<!relief\sof\s)(?<!treat\s)(?<!for\s)\bsymptoms?\s+(?:of\s+[\w\s-]{1,40}?\s+)?"
                           r"(?:such\s+as|including|like|e\.\s?g\.?|:)|\bcurrent(?:ly)?\s+(?:experiencing|having|has|have|with)\b)"
                           r"[^.;]{0,60}$", re.IGNORECASE)


def _symptoms_now(text: str, fact: Condition) -> bool:
    """Whether an exclusion names the symptom as one the patient must not have now."""
    return _SYMPTOMS_NOW.search(text, max(0, fact.start - 100), fact.start) is not None


@lru_cache(maxsize=20_000)
def _narrow(name: str) -> bool:
    """A descriptor with few narrower ones (Diabetes Mellitus 20, Arthritis 28), whose
    denial also denies them; not a class like Brain Diseases (314) or Lung Diseases (103)."""
    return len(vocabulary().descendants(name)) <= 60


def _relatives(names: set[str], p: _Patient) -> _Verdict:
    """A condition of someone else ("family history of breast cancer", "families with no
    history of type 1 diabetes"): what the note says of the patient's relatives answers it,
    the patient's own conditions do not."""
    for c, pnames in p.family:
        if names & pnames or _strength(names, pnames) >= 0.9:
            what = f"family: {'no ' if c.negated else ''}{c.text}"
            return _Verdict(not c.negated, what, [Evidence(c.start, c.end, what)])
    return _Verdict(None, "named for another person")


def _chronic(text: str, fact: Condition) -> bool:
    """Whether the criterion says "chronic" just before the condition."""
    return text[max(0, fact.start - 9): fact.start].lower().endswith("chronic ")


@lru_cache(maxsize=20_000)
def _is_infection(name: str) -> bool:
    """An infection (MeSH C01, or C02 in the 2019 trees), which is acute unless said otherwise."""
    return any(t.startswith(("C01", "C02")) for t in vocabulary().tree_numbers(name))


@lru_cache(maxsize=20_000)
def _respiratory_class(name: str) -> bool:
    """A respiratory disease that is no infection of its own (MeSH C08 alone: Pneumonia,
    Lung Diseases), which MeSH files respiratory infections under."""
    trees = vocabulary().tree_numbers(name)
    return bool(trees) and all(t.startswith("C08") for t in trees)


@lru_cache(maxsize=20_000)
def _is_symptom(name: str) -> bool:
    """A sign or symptom (MeSH C23: pain, fever, cough, hemorrhage), unless it is also a
    nervous-system or metabolic disorder in its own right (seizures, obesity), or a lesion
    of anatomy (C23.300: a hernia, a cyst, a fistula, a polyp), which is where it is."""
    trees = vocabulary().tree_numbers(name)
    return any(t.startswith("C23") and not t.startswith("C23.300") for t in trees) and not any(
        t.startswith(("C10", "C18")) for t in trees)


def _is_target(crit: set[str], patient: set[str], targets: frozenset[str]) -> bool:
    """Whether the patient's condition is the trial's own disease, which an exclusion of a
    class that holds it ("malignancy" in an HCC trial) cannot mean."""
    if not targets:
        return False
    hits = patient & targets or {p for p in patient if _ancestors(p) & targets}
    if not hits:
        return False
    return not (crit & patient) or bool(crit & targets)


_SYSTEMIC = ("chemotherapy", "immunotherapy", "targeted", "hormonal")


_GENERIC_THERAPY = re.compile(r"^(?:prior\s+|previous\s+|major\s+|systemic\s+)?(?:chemo\w*|cytotoxic\w*|radio\w*|"
                              r"radiation(?:\s+therapy)?|irradiation|immunotherap\w*|surgery|surgical\w*|operation|"
                              r"operated|transplant\w*|targeted\s+therap\w*|hormon\w*\s+therap\w*|"
                              r"endocrine\s+therap\w*|loco-?regional\s+\w+|checkpoint\s+inhibit\w*|anti-?pd-?l?1)$")


def _generic(fact: Therapy) -> bool:
    """Whether a therapy fact names a kind of treatment ("chemotherapy", "surgery") rather
    than one ("hepatectomy", "Whipple"), so any treatment of the kind meets it."""
    return not fact.mesh and all(_GENERIC_THERAPY.match(n.strip()) for n in fact.names)


def _therapy(fact: Therapy, p: _Patient) -> _Verdict:
    if fact.lines is not None:
        lines = p.facts.lines
        if lines is None:
            return _Verdict(None, "lines of therapy not stated")
        ok = _compare(float(lines.prior), fact.lines_comparator or "=", float(fact.lines))
        return _Verdict(ok, f"{lines.prior} prior line(s)", [Evidence(lines.start, lines.end, f"{lines.prior} prior line(s)")])
    want_names = {n.lower() for n in fact.names} | {m.lower() for m in fact.mesh}
    hit = None
    for t in p.treatments:
        names = p.treatment_names[id(t)]
        if want_names & names and fact.category in ("drug", t.category, "surgery", "radiotherapy", "transplant",
                                                    "locoregional"):
            hit = t
            break
        if fact.category == t.category and fact.category != "drug" and _generic(fact):
            hit = t  # "prior chemotherapy", "previous surgery": any of its kind
            break
        if fact.category == "any" and t.category in _SYSTEMIC:
            hit = t
            break
        if fact.category == "chemotherapy" and t.category == "drug" and t.name in fact.names:
            hit = t
            break
    if hit is not None:
        label = f"{hit.name} ({hit.status})"
        ev = [Evidence(hit.start, hit.end, label)]
        if fact.within_days is not None and hit.status != "current":
            return _Verdict(None, f"{label}: when?", ev)
        return _Verdict(True, label, ev, prior=hit.status == "prior")
    for t in p.denied_treatments:
        # "no dexamethasone" denies dexamethasone, not every drug: a kind answers a kind only
        same_kind = fact.category == t.category and fact.category != "drug" and _generic(fact)
        if (same_kind or want_names & {t.name.lower(), *(m.lower() for m in t.mesh)}
                or (fact.category == "any" and t.category in _SYSTEMIC + ("any",))):
            return _Verdict(False, f"no {t.name}", [Evidence(t.start, t.end, f"no {t.name}")])
    if fact.category == "any" and p.facts.lines is not None and p.facts.lines.prior == 0:
        ln = p.facts.lines
        return _Verdict(False, "no prior treatment", [Evidence(ln.start, ln.end, "no prior treatment")])
    return _Verdict(None, f"{' '.join(fact.names) or fact.category} not mentioned")


# "TROP2-targeted", "EGFR targeted", "targeting HER2": a therapy aimed at one target, which a
# targeted drug of the patient's meets only when the criterion names it
_SPECIFIC_TARGET = re.compile(r"\b(?!molecular(?:ly)?\b)[a-z0-9]+-targeted\b|\btargeting\s+(?!therap)[a-z0-9]")


def _named_target(v: _Verdict, low: str, p: _Patient) -> _Verdict:
    """A targeted-therapy verdict as it stands, unless the criterion aims at a target the
    patient's drugs are not named for: then unknown (which target a drug hits is not read)."""
    if not _SPECIFIC_TARGET.search(low) or any(t.name.lower() in low for t in p.treatments):
        return v
    return _Verdict(None, "a therapy of one target: is it the patient's?", v.evidence)


def _reproductive(fact: Reproductive, p: _Patient) -> _Verdict:
    if fact.state == "contraception":
        return _Verdict(None, "commitment at enrolment")
    flag = p.facts.pregnant if fact.state == "pregnant" else p.facts.lactating
    if flag is not None:
        return _Verdict(flag.value, ("" if flag.value else "not ") + fact.state,
                        [Evidence(flag.start, flag.end, ("" if flag.value else "not ") + fact.state)])
    if p.facts.sex == "male":
        s, e = _span(p.facts.sex_span)
        return _Verdict(False, "male", [Evidence(s, e, "male")])
    if p.facts.age is not None and (p.facts.age >= 60 or p.facts.age < 10):
        s, e = _span(p.facts.age_span)
        return _Verdict(False, f"age {p.facts.age:g}", [Evidence(s, e, f"age {p.facts.age:g}")])
    return _Verdict(None, f"{fact.state} not stated")


# Whether a patient's smoking status is the one asked for (None: the note cannot say).
_SMOKING = {
    "current": {"current": True, "former": False, "never": False, "ever": None},
    "never": {"current": False, "former": False, "never": True, "ever": False},
    "former": {"current": False, "former": True, "never": False, "ever": None},
    "ever": {"current": True, "former": True, "never": False, "ever": True},
}


def _smoking(fact: Smoking, p: _Patient) -> _Verdict:
    sm = p.facts.smoker
    if sm is None:
        return _Verdict(None, "smoking not stated")
    ok = _SMOKING.get(fact.status, {}).get(sm.status)
    if ok and fact.pack_years is not None:
        ok = None if sm.pack_years is None else _compare(sm.pack_years, fact.pack_years_comparator, fact.pack_years)
    label = f"{sm.status} smoker" + (f", {sm.pack_years:g} pack-years" if sm.pack_years is not None else "")
    return _Verdict(ok, label, [Evidence(sm.start, sm.end, label)])


# Whether a patient seen in one place (the note's `SettingFact`) is where a criterion asks
# (`Setting.place`): an outpatient is not hospitalised; a patient in the emergency department
# may yet be admitted, a hospitalised one may or may not be in intensive care.
_SETTING = {
    "outpatient": {"outpatient": True, "emergency": None, "inpatient": False, "icu": False, "ventilated": False},
    "inpatient": {"outpatient": False, "emergency": None, "inpatient": True, "icu": True, "ventilated": True},
    "icu": {"outpatient": False, "emergency": None, "inpatient": None, "icu": True, "ventilated": True},
    "ventilated": {"outpatient": False, "emergency": None, "inpatient": None, "icu": None, "ventilated": True},
}


def _setting(fact: Setting, p: _Patient) -> _Verdict:
    st = p.facts.setting
    if st is None:
        return _Verdict(None, "care setting not stated")
    label = {"icu": "in intensive care", "emergency": "in the emergency department"}.get(st.place, st.place)
    return _Verdict(_SETTING.get(fact.place, {}).get(st.place), label, [Evidence(st.start, st.end, label)])


_JUDGES = {
    Age: lambda f, p, section, targets, text: _age(f, p),
    Sex: lambda f, p, section, targets, text: _sex(f, p),
    Performance: lambda f, p, section, targets, text: _performance(f, p),
    Lab: lambda f, p, section, targets, text: _lab(f, p, section),
    Stage: lambda f, p, section, targets, text: _stage(f, p),
    Condition: lambda f, p, section, targets, text: _condition(f, p, section, targets, text),
    Therapy: lambda f, p, section, targets, text: _therapy(f, p),
    Reproductive: lambda f, p, section, targets, text: _reproductive(f, p),
    Smoking: lambda f, p, section, targets, text: _smoking(f, p),
    Setting: lambda f, p, section, targets, text: _setting(f, p),
}


def _fact(fact, p: _Patient, section: str, targets: frozenset[str], text: str = "") -> _Verdict:
    judge = _JUDGES.get(type(fact))
    if judge is None:
        return _Verdict(None, "commitment at enrolment" if isinstance(fact, Consent) else "")
    v = judge(fact, p, section, targets, text)
    if fact.negated and v.value is not None:
        v.value = not v.value
        v.reason = ("not: " if v.value is False else "") + v.reason
    if isinstance(fact, Condition) and fact.context not in ("", "other person", "after") and v.value is not None:
        if fact.context == "test" and section != "exclusion" and "positiv" not in text.lower():
            # "a negative SARS-CoV-2 test" among inclusions asks that the patient not have it
            # (unless a positive one is the other way in: "positive PCR or test-negative with ...")
            v.value = not v.value
            v.reason = f"{'not: ' if v.value is False else ''}{v.reason} (a negative test is asked for)"
        else:
            # "a negative COVID-19 test" among exclusions, "anti-obesity drugs", "conventional
            # therapy for gout", "cancer-related pain": the patient's condition alone decides
            # nothing of what is said of it, either way (what is said of someone else only
            # the family's conditions answer: `_relatives`)
            v.value = None
            v.aside = True
            v.reason = f"{v.reason} (named for {_CONTEXT_WORDS.get(fact.context, fact.context)})"
    return v


_CONTEXT_WORDS = {"test": "a test result", "treatment": "a treatment of it", "qualifier": "a feature or a consequence of it",
                  "imaging": "what an image shows"}


# -- criteria --------------------------------------------------------------------------

_AND_KINDS = ("age", "sex", "performance", "lab", "setting")
_OTHERS_TREATMENT = "treatment of the condition named"  # a by-kind key of _statement
_QUALIFIER_KINDS = ("age", "sex")
_COMMITMENT_KINDS = ("consent",)


def _combine_any(values: list[bool | None]) -> bool | None:
    """True if any holds, False if all fail, else unknown (values are True, False, None)."""
    if True in values:
        return True
    if values and None not in values:
        return False
    return None


def _combine_all(values: list[bool | None]) -> bool | None:
    """False if any fails, True if all hold, else unknown."""
    if False in values:
        return False
    if values and None not in values:
        return True
    return None


# An inclusion that speaks of pregnancy to screen for it, not to ask for it.
_SCREENING = re.compile(r"\btest|childbearing|child-bearing|potential|possib|\bif\b|known\s+to\s+be|contracep|"
                        r"birth\s+control|menstruat|\bsteril")


def _allowed(exceptions: list[Condition], p: _Patient) -> set[tuple[int, int]]:
    """The spans of the patient's conditions that a criterion's exceptions allow ("any bone
    disease other than osteoporosis": her osteoporosis meets nothing else in it either)."""
    return {(c.start, c.end) for f in exceptions for c, pnames in p.present if _strength(set(f.mesh), pnames) >= 0.9}


_FORMULATION = re.compile(r"\b(?:extended|sustained|modified|delayed|immediate|controlled)[- ]release\s+(?:[\w-]+\s+)?$|"
                          r"\b(?:XR|ER|SR|CR|IR)\s+$")
_RECENT = re.compile(r"\bwithin\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+|prior\s+)?[0-9]+\s*(?:days?|weeks?|months?)\b|"
                     r"\brecent\b", re.IGNORECASE)
_LASTING = re.compile(r"\b[0-9]+\s*(?:or\s+(?:more|greater|longer)\s+)?(?:days?|weeks?|months?)\s+(?:of|with)\b|"
                      r"\b(?:more|greater|longer)\s+than\s+[0-9]+\s*(?:days?|weeks?|months?)\s+(?:of|with)\b", re.IGNORECASE)
_FOR_DURATION = re.compile(r"\bfor\s+(?:more\s+than\s+|at\s+least\s+|over\s+|longer\s+than\s+|a\s+minimum\s+of\s+|"
                           r"[≥>]\s*)?[0-9]+\s*(?:days?|weeks?|months?|years?)\b", re.IGNORECASE)
_DURING_STUDY = re.compile(r"\b(?:during|throughout)\s+(?:the\s+)?(?:screening|study|treatment|trial|run-in|washout)\b|"
                           r"\b(?:concomitant|concurrent|anticipated|planned)\s+(?:use|treatment|therapy|administration)",
                           re.IGNORECASE)
# A condition excluded only as far as it hinders the study ("... that would interfere with
# the evaluation", "preventing completion of the walk test")
_HINDERS = re.compile(r"[^.;]*?\b((?:prevent|preclud|interfer|compromis|jeopardi[sz]|impede)\w*[^.;]*|"
                      r"(?:limit|impair)\w*\s+(?:the\s+|their\s+|his\s+|her\s+)?(?:ability|participation|"
                      r"compliance|completion)[^.;]*)", re.IGNORECASE)
_LEADS_A_LIST = re.compile(r"\s*(?:\([^)]{0,20}\)\s*)?:\s*\S")  # a condition, then a colon and what it means
_UNLESS = re.compile(r"[^.;]*?\b(unless\b[^.;]*)")  # after a fact, in its sentence
_QUALIFIES = re.compile(r"[\s-]{0,3}")  # between a stage and the condition it is the stage of
_SET_ASIDE = ("exception", "class")  # conditions that are no requirement of their own


def _statement(criterion: Criterion, p: _Patient, section: str, targets: frozenset[str]):
    """(holds?, reason, evidence) for the criterion's own facts."""
    if not criterion.facts:
        return None, "", []
    by_kind: dict[str, list[_Verdict]] = {}
    screening: bool | None = None
    others: bool | None = None
    exceptions: list[Condition] = []
    conditions: list[_Verdict] = []
    stage: tuple[Stage, _Verdict] | None = None  # the last stage read, which may qualify a condition
    for f in criterion.facts:
        kind = FACT_KIND[type(f)]
        if kind == "condition" and f.context in _SET_ASIDE:
            if f.context == "exception":
                exceptions.append(f)
            continue
        if kind == "condition" and _LEADS_A_LIST.match(criterion.text, f.end) and any(
                isinstance(g, Condition) and g.start > f.end for g in criterion.facts):
            continue  # "Esophageal motility disorder: achalasia or scleroderma": the list says which
        if kind == "grade" or (isinstance(f, Stage) and f.system == "grade"):
            continue  # a toxicity grade qualifies the condition beside it
        if isinstance(f, Reproductive) and f.state == "contraception" and len(criterion.facts) > 1:
            continue
        if isinstance(f, Consent) and len(criterion.facts) > 1 and section != "exclusion":
            continue  # "Age ≥ 18 at the time of signing consent": the commitment beside a fact asks nothing
        v = _fact(f, p, section, targets, criterion.text)
        if isinstance(f, Therapy) and v.value is True and _FORMULATION.search(criterion.text, max(0, f.start - 30), f.start):
            v.value, v.reason = None, f"{v.reason}: which formulation?"  # "extended release metformin"
        if section == "exclusion" and isinstance(f, Condition) and v.value is True and _RECENT.search(criterion.text):
            v.value, v.reason = None, f"{v.reason}: when?"  # "long bone fracture within 6 months"
        if section == "exclusion" and isinstance(f, Condition) and v.value is True and _LASTING.search(criterion.text):
            v.value, v.reason = None, f"{v.reason}: for how long?"  # "10 or more days of COVID-19 symptoms"
        if isinstance(f, Therapy) and v.value is True and _FOR_DURATION.search(criterion.text):
            # "on NSAIDs for more than 2 weeks": the note does not say for how long
            v.value, v.reason = None, f"{v.reason}: for how long?"
        if v.prior and v.value is not None and _DURING_STUDY.search(criterion.text):
            # "use of antacids during the screening period": what the patient took before
            # says nothing of what they will take then
            v.value, v.reason = None, f"{v.reason}: during the study?"
        if section == "exclusion" and v.value is True and isinstance(f, Condition):
            hinders = _HINDERS.match(criterion.text, f.end)
            if hinders:  # "arthritis ... preventing completion of the walk test": is it that bad?
                v.value, v.reason = None, f"{v.reason} ({hinders.group(1)[:50]}?)"
        if v.value is (section == "exclusion") and "unless" in criterion.text:
            unless = _UNLESS.match(criterion.text, f.end)
            if unless:  # "no symptomatic pleural effusion, unless drained": another way in
                v.value, v.reason = None, f"{v.reason} ({unless.group(1)[:60]}?)"
        if isinstance(f, Stage):
            stage = (f, v)
        if kind == "condition":
            v.mesh = frozenset(f.mesh)
            conditions.append(v)
            if stage is not None and _QUALIFIES.fullmatch(criterion.text, stage[0].end, f.start):
                # "Child-Pugh B or C liver disease", "NYHA class III-IV heart failure": the
                # condition at that stage, which a liver disease at another stage is not
                v = _both(stage[1], v)
        if isinstance(f, Therapy) and f.category == "targeted" and v.value is not None:
            v = _named_target(v, criterion.text.lower(), p)
        if isinstance(f, Reproductive) and not f.negated and section != "exclusion" and v.value is not None:
            if screening is None:  # (a positive test asks for the pregnancy: "no visible sac, positive test")
                low = criterion.text.lower()
                screening = _SCREENING.search(low) is not None and "positive" not in low
            if screening:  # "women of childbearing potential: a negative pregnancy test" asks "not pregnant"
                v.value = not v.value
                v.reason = ("not: " if v.value is False else "") + v.reason
        if (section == "exclusion" or f.negated) and isinstance(f, Therapy) and f.category == "any" and others is None:
            others = _treats_another_condition(criterion, p, targets)  # also "no prior therapy for NSCLC"
        if others and isinstance(f, Therapy) and f.category == "any":
            # "an autoimmune disease that required systemic treatment": the treatment is the
            # condition's, so the patient's own therapy does not meet it alone
            kind = _OTHERS_TREATMENT
        by_kind.setdefault(kind, []).append(v)
    if not by_kind:
        return None, "", []
    if "lab" in by_kind and None not in (v.value for v in by_kind["lab"]) and "condition" in by_kind:
        # "uncontrolled hypertension (systolic > 160 mm Hg)": the threshold says how bad
        kept = [v for v in by_kind["condition"] if not v.degree]
        if kept:
            by_kind["condition"] = kept
        else:
            del by_kind["condition"]
    if "condition" in by_kind:
        # "a negative test for SARS-CoV-2 ... anti-SARS-CoV-2 antibodies": the disease named
        # again for its test or treatment says no more than the mention that decides
        decided = [v.mesh for v in by_kind["condition"] if v.value is not None]
        kept = [v for v in by_kind["condition"] if not (v.aside and any(v.mesh & m for m in decided))]
        by_kind["condition"] = kept
    if exceptions and p.present:
        allowed = _allowed(exceptions, p)
        for v in conditions:
            if v.value is not None and any((e.start, e.end) in allowed for e in v.evidence):
                v.value, v.reason = None, f"{v.reason} (an exception the criterion allows)"
    parts: list[bool | None] = []
    qualifiers: list[bool | None] = []
    for kind, verdicts in by_kind.items():
        values = [v.value for v in verdicts]
        if section == "exclusion" and kind in _QUALIFIER_KINDS and len(by_kind) > 1:
            # "Men with an abnormal prostate exam": the sex (or age) says whom the rest is about
            qualifiers.append(_combine_all(values))
        elif kind == _OTHERS_TREATMENT:
            qualifiers.append(_combine_all(values))
        elif section == "exclusion":
            parts.append(_combine_any(values))
        elif kind == "lab" and _labs_either(criterion):
            parts.append(_combine_any(values))  # "SBP ≥ 140 mm Hg or DBP ≥ 90 mm Hg"
        elif kind in _AND_KINDS or (kind == "condition" and _joined_by_and(criterion)):
            parts.append(_combine_all(values))
        else:
            parts.append(_combine_any(values))
    if section == "exclusion":
        value = _combine_any(parts)
        if qualifiers:
            value = _combine_all([value, *qualifiers])
        elif value is True and set(by_kind) <= set(_QUALIFIER_KINDS) and len(criterion.text.split()) > 8:
            value = None  # "Women with a yolk sac on ultrasound": the rest is not read
    else:
        value = _combine_all(parts)
    verdicts = [v for vs in by_kind.values() for v in vs]
    deciding = [v for v in verdicts if v.value is value] if value is not None else verdicts
    reason = "; ".join(dict.fromkeys(v.reason for v in deciding if v.reason))
    evidence = [e for v in deciding for e in v.evidence]
    has_grade = any(isinstance(f, Stage) and f.system == "grade" for f in criterion.facts)
    if has_grade and value is True and section == "exclusion":
        value, reason = None, reason + " (grade not stated)"
    return value, reason, evidence


_AND_BETWEEN = re.compile(r"\s*(?:,\s*)?(?:and|as\s+well\s+as|plus)\s+(?:[\w-]+\s+){0,2}", re.IGNORECASE)


def _joined_by_and(criterion: Criterion) -> bool:
    """Whether the criterion's conditions are all asked for: "eosinophilia and myalgia",
    "HCC and cirrhosis" (with no "or" anywhere, which would make them alternatives)."""
    conds = [f for f in criterion.facts if isinstance(f, Condition) and f.mesh and not f.context]
    if len(conds) < 2 or " or " in criterion.text or "/" in criterion.text:
        return False
    text = criterion.text
    return all(_AND_BETWEEN.fullmatch(text, a.end, b.start) for a, b in zip(conds, conds[1:], strict=False))


_OR = re.compile(r"\bor\b", re.IGNORECASE)


def _labs_either(criterion: Criterion) -> bool:
    """Whether the criterion's thresholds are alternatives: every two of them joined by
    "or" ("systolic ≥ 140 or diastolic ≥ 90"), not "and" or a comma."""
    found = [f for f in criterion.facts if isinstance(f, Lab)]
    return len(found) > 1 and all(_OR.search(criterion.text, a.end, b.start) for a, b in zip(found, found[1:], strict=False))


def _both(a: _Verdict, b: _Verdict) -> _Verdict:
    """Two statements that must both hold, with the reasons of what decided."""
    value = _combine_all([a.value, b.value])
    deciding = [x for x in (a, b) if x.value is value] or [a, b]
    return _Verdict(value, "; ".join(dict.fromkeys(x.reason for x in deciding if x.reason)),
                    [e for x in deciding for e in x.evidence])


def _treats_another_condition(criterion: Criterion, p: _Patient, targets: frozenset[str]) -> bool:
    """Whether the criterion's unnamed treatment ("systemic therapy") is that of a condition
    it names which is neither the patient's disease nor the trial's ("therapy for HCC" is)."""
    conditions = [set(f.mesh) for f in criterion.facts if isinstance(f, Condition) and f.mesh]
    if not conditions or not p.present:
        return False  # (a patient of no stated disease: the treatment may well be for this one)
    for names in conditions:
        if names & targets:
            return False
        for _, pnames in p.present:
            s = _strength(names, pnames)
            if s == 1.0 or (s >= 0.9 and pnames & targets):
                return False
    return True


_ALL_OF = re.compile(r"\b(?:both|all|each)\s+(?:of\s+)?the\s+following\b")  # beats an "or" elsewhere
_STANDING = (Setting,)  # a lead-in's requirement its items do not restate (ages, sexes there are often cohorts)
_LEADS_IN = re.compile(r":\s*$|\bthe following\b|\bany of\b", re.IGNORECASE)


# A criterion about one sex's pregnancy, nursing or contraception ("Females must agree to
# stop breast-feeding", "Women of childbearing potential must meet all of the following")
_ONE_SEX_LED = re.compile(r"^\W*(?:for\s+|all\s+)?(?:(?P<f>females?|women|woman|girls?|female\s+\w+)|"
                          r"(?P<m>males?|men|man|boys?|male\s+\w+))\b", re.IGNORECASE)


def _other_sex(c: Criterion, p: _Patient) -> str | None:
    """The sex a reproductive criterion speaks to, when it is not the patient's: then it
    does not apply to them (a man is not asked to stop breast-feeding)."""
    if not p.facts.sex:
        return None
    m = _ONE_SEX_LED.match(c.text)
    if m is None:
        return None
    sex = "female" if m.group("f") else "male"
    if sex == p.facts.sex:
        return None
    if _MODAL.match(c.text, m.end()):
        return sex  # "Females must have a negative anti-HLA test": asked of women only
    if any(isinstance(f, _NOT_REPRODUCTIVE) for f in c.facts) or not any(
            isinstance(f, Reproductive) for x in c.walk() for f in x.facts):
        return None  # "Women aged 18 to 65", "Female patients with breast cancer": the trial's own limits
    return sex


_MODAL = re.compile(r"\s+(?:must|should|shall|will\s+(?:need|have)|need|are\s+required|who\s+are\s+(?:of|able)|of\s+child)",
                    re.IGNORECASE)


_NOT_REPRODUCTIVE = (Sex, Age, Condition, Lab, Stage, Performance, Smoking)


def _judge_criterion(c: Criterion, section: str, p: _Patient, targets: frozenset[str]) -> CriterionResult:
    own, reason, evidence = _statement(c, p, section, targets)
    children = [_judge_criterion(ch, section, p, targets) for ch in c.children]
    if children and _LEADS_IN.search(c.text):
        # "received the following therapies:": the items say which; but what the items do not
        # speak of stands ("Patients admitted to hospital with one of the following:")
        kinds = {type(f) for ch in c.walk() if ch is not c for f in ch.facts}
        standing = [f for f in c.facts if isinstance(f, _STANDING) and type(f) not in kinds]
        own, reason, evidence = (_statement(msgspec.structs.replace(c, facts=standing, children=[]), p, section,
                                            targets) if standing else (None, "", []))
    value = own
    if children:
        kid_values = [{MET: True, NOT_MET: False}.get(ch.status) for ch in children]
        low = c.text.lower()
        any_of = section == "exclusion" or (_ALL_OF.search(low) is None and (
            any(w in low for w in ("one of", "any of", "either", " or ", "symptom", "such as", "includ", "e.g."))
            or _COHORT.search(low) is not None or _alternative_ages(children)))
        kids = _combine_any(kid_values) if any_of else _combine_all(kid_values)
        if own is None:
            value = kids
        elif kids is not None:
            value = _combine_any([own, kids]) if section == "exclusion" else _combine_all([own, kids])
        if value is not None and own is None:
            decided = [ch for ch, v in zip(children, kid_values, strict=True) if v is value]
            reason = "; ".join(ch.reason for ch in decided if ch.reason)
            evidence = [e for ch in decided for e in ch.evidence]
    status = MET if value is True else NOT_MET if value is False else UNKNOWN
    if status == NOT_MET and section == "inclusion" and (sex := _other_sex(c, p)) is not None:
        s, e = _span(p.facts.sex_span)
        status, reason = MET, f"for {'women' if sex == 'female' else 'men'} only; the patient is {p.facts.sex}"
        evidence = [Evidence(s, e, p.facts.sex)]
    decisive = (section == "exclusion" and status == MET) or (section == "inclusion" and status == NOT_MET)
    if decisive and section == "exclusion" and _OTHER_CRITERIA.search(c.text):
        # "Mild COVID-19 cases not meeting the inclusion criteria symptoms": it is the
        # inclusion criteria that decide
        status, decisive, reason = UNKNOWN, False, f"{reason} (as the inclusion criteria decide)".lstrip()
    if decisive and not p.facts.healthy and (_CONTROLS.search(c.group) or _CONTROLS.search(c.text)
                                             or "healthy" in c.group.lower()):
        # "Healthy controls:", "(will be asked to be healthy control)": another cohort's criterion
        status, decisive, reason = UNKNOWN, False, f"{reason} (a criterion for the control group)".lstrip()
    return CriterionResult(section=section, criterion=c, status=status, decisive=decisive, reason=reason,
                           evidence=_unique(evidence), children=children, judged_by="rules")


_OTHER_CRITERIA = re.compile(r"\b(?:not\s+)?(?:meet|meeting|fulfil+|fulfil+ing|satisfy|satisfying)\s+(?:the\s+|all\s+)?"
                             r"(?:above\s+)?inclusion\s+criteri", re.IGNORECASE)
_COHORT = re.compile(r"\(n\s*=\s*[0-9]")  # "Post-COVID-19 convalescence (n=1000)": its items are cohorts
_CONTROLS = re.compile(r"\b(?:healthy\s+controls?|controls?\s+(?:group|subjects?|participants?|arm|cohort|population)|"
                       r"controls)\b|\bhealthy\s+(?:volunteers?|subjects?|participants?)\s*:", re.IGNORECASE)


def _alternative_ages(children: list[CriterionResult]) -> bool:
    """Sub-items that each start with an age range ("Age >= 60 years", "Age 18-59 and one of
    the following"): nobody is both, so they are alternatives."""
    ages = [f for ch in children for f in ch.criterion.facts[:1] if isinstance(f, Age)]
    return len(ages) >= 2 and len(ages) == len(children)


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    return list(dict.fromkeys(evidence))


def _structured(elig: Eligibility, p: _Patient) -> list[CriterionResult]:
    """The record's structured eligibility as criteria: age limits, sex, healthy volunteers."""
    out: list[CriterionResult] = []
    lo, hi = elig.min_age_years, elig.max_age_years
    if lo is not None or hi is not None:
        if lo is not None and hi is not None:
            text = f"Age {elig.min_age} to {elig.max_age}"
        else:
            text = f"Age {elig.min_age} or older" if lo is not None else f"Age up to {elig.max_age}"
        c = Criterion(text=text, start=-1, end=-1, label="age", kind="age", facts=[Age(min_years=lo, max_years=hi)])
        out.append(_judge_criterion(c, "inclusion", p, frozenset()))
    if elig.sex in ("FEMALE", "MALE"):
        c = Criterion(text=f"Sex: {elig.sex.lower()}", start=-1, end=-1, label="sex", kind="sex",
                      facts=[Sex(sex=elig.sex.lower())])
        out.append(_judge_criterion(c, "inclusion", p, frozenset()))
    if elig.healthy_volunteers is False and p.facts.healthy:
        c = Criterion(text="Does not accept healthy volunteers", start=-1, end=-1, label="healthy", kind="other")
        out.append(CriterionResult(section="inclusion", criterion=c, status=NOT_MET, decisive=True,
                                   reason="healthy volunteer", judged_by="rules"))
    for r in out:
        r.section = "structured"
    return out


def _tested_again(elig: Eligibility, p: _Patient, results: list[CriterionResult]) -> CriterionResult | None:
    """A trial of a drug the patient already had: a first-line trial of sorafenib is seldom
    open to a patient who progressed on it, though its criteria may not say so. Unknown
    (the registry text does not decide it), and it keeps the trial from "likely eligible".
    A trial that asks for that prior drug in a criterion the patient meets (a second-line
    trial "after sorafenib") is not flagged."""
    if not elig.drugs:
        return None
    drugs = set(elig.drugs)
    for t in p.treatments:
        if t.status != "prior":
            continue
        names = {t.name.lower(), *(m.lower() for m in t.mesh)}
        if not names & drugs:
            continue
        for r in results:
            if r.section == "inclusion" and r.status == MET and any(
                    isinstance(f, Therapy) and names & {*(n.lower() for n in f.names), *(m.lower() for m in f.mesh)}
                    for c in r.criterion.walk() for f in c.facts):
                return None
        what = "progressed on" if t.progressed else "had"
        c = Criterion(text=f"Tests {t.name}, which the patient {what}", start=-1, end=-1, label="prior drug",
                      kind="therapy")
        return CriterionResult(section="structured", criterion=c, status=UNKNOWN, judged_by="rules",
                               reason=f"{t.name} ({t.status}): is the trial open to it?",
                               evidence=[Evidence(t.start, t.end, f"{t.name} ({t.status})")])
    return None


def _targets(criteria: Criteria, elig: Eligibility) -> frozenset[str]:
    """The trial's own diseases: its condition MeSH terms, else the conditions its inclusion
    criteria name."""
    if elig.conditions:
        return frozenset(elig.conditions)
    return frozenset(n for c in criteria.inclusion for f in c.facts if isinstance(f, Condition) and not f.negated
                     for n in f.mesh)


_UNKNOWN_NAMES = {"therapy": "prior therapy", "reproductive": "pregnancy", "age": "age", "sex": "sex",
                  "smoking": "smoking", "setting": "care setting", "performance": "performance status",
                  "stage": "stage", "condition": "condition"}


def _unknown_names(r: CriterionResult, p: _Patient) -> list[str]:
    """What the note would have to say to decide this criterion ("ECOG", "platelets")."""
    c = r.criterion
    if c.kind in ("consent", "other"):
        return []
    if r.section == "structured" and c.label == "prior drug":
        return [c.text.split(",")[0].removeprefix("Tests ") + " already taken"]  # "sorafenib already taken"
    if c.kind == "lab":
        return [_fact_name(f) for f in c.facts if isinstance(f, Lab) and f.analyte not in p.labs]
    if c.kind in ("therapy", "performance", "stage", "condition"):
        return [next((n for f in c.facts if FACT_KIND[type(f)] == c.kind for n in [_fact_name(f)] if n),
                     _UNKNOWN_NAMES[c.kind])]
    if c.kind == "reproductive" and all(isinstance(f, Reproductive) and f.state == "contraception"
                                        for f in c.facts):
        return []
    if (c.kind == "age" and p.facts.age is not None) or (c.kind == "sex" and p.facts.sex):
        # the patient's age (sex) is known, so another fact of the criterion left it open:
        # "Cirrhotic, HCV-RNA positive, age < 70" asks for cirrhosis, not the age
        return [n for f in c.facts if not isinstance(f, (Age, Sex)) for n in [_fact_name(f)] if n][:1]
    name = _UNKNOWN_NAMES.get(c.kind)
    return [name] if name else []


def _fact_name(f) -> str:
    """A fact as the explanation's "unknown: ..." names it ("" for a fact it does not name)."""
    if isinstance(f, Therapy):
        return f.names[0] if f.names else ""
    if isinstance(f, Performance):
        return f.scale
    if isinstance(f, Stage):
        return f.system if f.system != "grade" else ""
    if isinstance(f, Condition):
        return f.text.lower()
    if isinstance(f, Lab):
        return LABELS.get(f.analyte, f.analyte)
    return ""


def assess(criteria: Criteria, facts: PatientFacts, record: dict | None = None, *,
           judge: CriterionJudge | None = None, note: str | None = None) -> Assessment:
    """Judge each criterion of a trial for this patient (see the module docstring). The
    structured eligibility comes from `record` when given, else from what the derived
    criteria keep of it (`Criteria.eligibility`), so the record need not be read."""
    p = _patient(facts)
    elig = eligibility_of(record) if record is not None else (criteria.eligibility or Eligibility())
    targets = _targets(criteria, elig)
    results = _structured(elig, p)
    for section, c in criteria.sections():
        results.append(_judge_criterion(c, section, p, targets))
    again = _tested_again(elig, p, results)
    if again is not None:
        results.insert(0, again)
    if judge is not None:
        _ask_judge(judge, results, note or "", facts)
    return _summarise(results, p, targets)


def _ask_judge(judge: CriterionJudge, results: list[CriterionResult], note: str, facts: PatientFacts) -> None:
    name = type(judge).__name__
    for r in results:
        if r.status != UNKNOWN or r.criterion.kind in _COMMITMENT_KINDS or r.section == "structured":
            continue
        try:
            j = judge.judge(r.criterion.text, r.section, note, facts)
        except Exception:  # a judge that fails abstains
            continue
        if j is None or j.status not in (MET, NOT_MET):
            continue
        r.status = j.status
        r.reason = j.reason
        r.evidence = [Evidence(s, e, note[s:e][:80] if 0 <= s <= e <= len(note) else "") for s, e in j.evidence]
        r.decisive = (r.section == "exclusion" and r.status == MET) or (r.section != "exclusion" and r.status == NOT_MET)
        r.judged_by = name


def _summarise(results: list[CriterionResult], p: _Patient, targets: frozenset[str]) -> Assessment:
    s = Summary()
    unknown: list[str] = []
    # the "prior drug" row is the assessment's inference, not one of the trial's criteria:
    # it is not counted among them
    incl = [r for r in results if r.section in ("inclusion", "structured") and r.criterion.label != "prior drug"]
    excl = [r for r in results if r.section == "exclusion"]
    for r in incl:
        if r.status == MET:
            s.inclusion_met += 1
        elif r.status == NOT_MET:
            s.inclusion_not_met += 1
        else:
            s.inclusion_unknown += 1
    for r in excl:
        if r.status == MET:
            s.exclusion_met += 1
        elif r.status == NOT_MET:
            s.exclusion_not_met += 1
        else:
            s.exclusion_unknown += 1
    for r in results:
        if r.status == UNKNOWN:
            for name in _unknown_names(r, p):
                if name not in unknown:
                    unknown.append(name)
    s.unknown = unknown
    s.excluded_by = [f"{r.section} {r.criterion.label or '?'}" for r in results if r.decisive]
    conditions_met = any(r.status == MET and r.criterion.kind == "condition" for r in incl)
    cond_strength = _target_strength(targets, p)
    tested_again = any(r.criterion.label == "prior drug" for r in results if r.section == "structured")
    if s.excluded_by:
        s.eligible = EXCLUDED
    elif not tested_again and (conditions_met or cond_strength >= 0.9) and s.inclusion_met >= max(1, (len(incl) - s.inclusion_unknown) // 2):
        s.eligible = LIKELY
    else:
        s.eligible = POSSIBLY
    return Assessment(criteria=results, summary=s, explanation=_explain(s, results, incl),
                      features=_features(s, results, incl, excl, cond_strength, conditions_met, tested_again))


def _target_strength(targets: frozenset[str], p: _Patient) -> float:
    """How well the patient's conditions meet the trial's own diseases. A registry lists
    the classes above them too ("Arthritis" beside "Arthritis, Rheumatoid"): such a class
    is met by the patient's condition named as it ("arthritis"), not by another disease of
    the class (a gout does not make an RA trial's disease)."""
    specific = frozenset(t for t in targets if not any(t != u and t in _ancestors(u) for u in targets))
    best = 0.0
    for _c, names in p.present:
        best = max(best, _strength(specific, names), 1.0 if names & targets else 0.0)
    return best


def _explain(s: Summary, results: list[CriterionResult], incl: list[CriterionResult]) -> str:
    decisive = [r for r in results if r.decisive]
    if decisive:
        r = decisive[0]
        text = " ".join(r.criterion.text.split())  # one line: a criterion may hold paragraphs
        text = text if len(text) <= 80 else text[:77] + "..."
        if r.section == "structured":
            what = f"the registry's limits ({text})"
        else:
            label = f"{r.section} {r.criterion.label}" if r.criterion.label else f"an {r.section} criterion"
            what = f"{label}{' (not met)' if r.section == 'inclusion' else ''}: {text}"
        because = f" [{r.reason}]" if r.reason else ""
        more = f" (and {len(decisive) - 1} more)" if len(decisive) > 1 else ""
        return f"excluded by {what}{because}{more}"
    parts = [f"meets {s.inclusion_met} of {len(incl)} inclusion criteria"]
    parts.append("no exclusion applies" if s.exclusion_met == 0 else f"{s.exclusion_met} exclusions apply")
    if s.unknown:
        shown = s.unknown[:5]
        more = f" and {len(s.unknown) - 5} more" if len(s.unknown) > 5 else ""
        parts.append("unknown: " + ", ".join(shown) + more)
    return "; ".join(parts)


def _features(s: Summary, results, incl, excl, cond_strength: float, conditions_met: bool,
              tested_again: bool) -> dict[str, float]:
    n_in, n_ex = len(incl), len(excl)

    # per kind: -1 if a criterion of it goes against the patient, else 1 if one is met, else 0
    by_kind: dict[str, float] = {}
    for r in results:
        kind = r.criterion.kind
        if r.status == (MET if r.section == "exclusion" else NOT_MET):
            by_kind[kind] = -1.0
        elif r.status == MET and by_kind.get(kind) != -1.0:
            by_kind[kind] = 1.0

    def kind_status(kind: str) -> float:
        return by_kind.get(kind, 0.0)

    typed_in = [r for r in incl if r.criterion.kind not in ("consent", "other")]
    return {
        "incl_total": float(n_in), "incl_met": float(s.inclusion_met), "incl_not_met": float(s.inclusion_not_met),
        "incl_unknown": float(s.inclusion_unknown), "excl_total": float(n_ex), "excl_met": float(s.exclusion_met),
        "excl_not_met": float(s.exclusion_not_met), "excl_unknown": float(s.exclusion_unknown),
        "decisive": 1.0 if s.excluded_by else 0.0,
        "incl_met_frac": s.inclusion_met / n_in if n_in else 0.0,
        "incl_unknown_frac": s.inclusion_unknown / n_in if n_in else 0.0,
        "excl_met_frac": s.exclusion_met / n_ex if n_ex else 0.0,
        "typed_incl_met_frac": (sum(r.status == MET for r in typed_in) / len(typed_in)) if typed_in else 0.0,
        "cond_strength": cond_strength, "cond_met": 1.0 if conditions_met else 0.0,
        "age_ok": kind_status("age"), "sex_ok": kind_status("sex"),
        "lab_ok": kind_status("lab"), "stage_ok": kind_status("stage"),
        "perf_ok": kind_status("performance"), "therapy_ok": kind_status("therapy"),
        "reproductive_ok": kind_status("reproductive"),
        "smoking_ok": kind_status("smoking"),
        "tests_prior_drug": 1.0 if tested_again else 0.0,
        "eligible": {EXCLUDED: -1.0, POSSIBLY: 0.0, LIKELY: 1.0}[s.eligible],
    }

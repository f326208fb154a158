"""The parsed eligibility criteria of a study: criteria, their structure and typed facts.

Everything here is a msgspec Struct: criteria are derived data, stored compactly (msgpack)
beside the store and served as JSON. Offsets:

- `Criterion.start`/`end` index the study's original `eligibilityCriteria` text;
- a fact's `start`/`end` index its criterion's cleaned `text` (markdown escapes removed,
  full-width symbols folded), the text a page shows, so the words that carry a value can be
  highlighted there.

Comparators are written `<`, `<=`, `>`, `>=`, `=`; a range is `low`..`high`.
"""

from __future__ import annotations

import msgspec


class Fact(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="type", gc=False):
    """One typed statement inside a criterion."""

    start: int = 0
    end: int = 0
    # The criterion asks for the absence of this ("no prior chemotherapy", "not pregnant").
    negated: bool = False


class Age(Fact, tag="age"):
    """An age range in years; a missing side is unbounded."""

    min_years: float | None = None
    max_years: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True


class Sex(Fact, tag="sex"):
    sex: str  # "female" | "male"


class Condition(Fact, tag="condition"):
    """A disease, disorder or sign named by the criterion, with its MeSH descriptors."""

    text: str
    mesh: list[str] = []
    other: bool = False  # "other malignancy", "another primary tumour": not the trial's own
    active: bool = False  # "active infection", "uncontrolled hypertension", "current"
    severe: bool = False  # "uncontrolled hypertension", "severe heart disease", "end-stage" (active too)
    # Named for something else than a patient who has it (`kinds.condition_context`):
    # "after" (post-COVID, recovered from it: the illness is over),
    # "test" (a negative COVID-19 test), "treatment" (anti-obesity drugs, a SARS-CoV-2
    # vaccine), "qualifier" (cancer-related pain, tumour thrombus), "imaging" (CT changes
    # typical for COVID-19: a finding the disease's name does not establish), "other person"
    # (family members with...); or no requirement of its own (`kinds._set_aside`): "exception"
    # (other than osteoporosis), "class" (the tumour of "tumour ... small-cell lung cancer").
    context: str = ""


class Stage(Fact, tag="stage"):
    """A stage or class on a named system: explicit values, or bounds (either may be empty).

    Systems: "stage" (AJCC/generic), "BCLC", "Child-Pugh", "FIGO", "Ann Arbor", "NYHA",
    "TNM-T", "TNM-N", "TNM-M", "Gleason", "grade".
    """

    system: str
    values: list[str] = []
    low: str = ""
    high: str = ""


class Performance(Fact, tag="performance"):
    """A performance-status bound: ECOG (also WHO, Zubrod), Karnofsky or Lansky."""

    scale: str  # "ECOG" | "Karnofsky" | "Lansky"
    comparator: str  # < <= > >= = or "range" (value..value2)
    value: float
    value2: float | None = None


class Lab(Fact, tag="lab"):
    """A laboratory (or measurement) threshold, value and unit as written, unit normalised.

    `unit` is `trialscope.criteria.units.normalize_unit` of what was written ("×10^9/L",
    "µmol/L", "mg/dL", "×ULN", ...), "" when none was given.
    """

    analyte: str  # canonical analyte name (see units.ANALYTES)
    comparator: str  # < <= > >= = or "range" (value..value2)
    value: float
    value2: float | None = None
    unit: str = ""


class Therapy(Fact, tag="therapy"):
    """A prior or current treatment: what it is, and how many lines.

    `category`: "drug", "chemotherapy", "immunotherapy", "targeted", "hormonal",
    "radiotherapy", "surgery", "transplant", "locoregional", "any" (any prior treatment).
    Required or forbidden follows from the section and `negated`.
    """

    category: str
    names: list[str] = []  # drug or procedure names as written, lower-cased
    mesh: list[str] = []
    lines_comparator: str = ""
    lines: int | None = None
    within_days: float | None = None  # "within 4 weeks"


class Reproductive(Fact, tag="reproductive"):
    state: str  # "pregnant" | "lactating" | "contraception"


class Smoking(Fact, tag="smoking"):
    """Smoking status asked for: "current", "never", "former" or "ever" (with pack-years)."""

    status: str
    pack_years_comparator: str = ""
    pack_years: float | None = None


class Setting(Fact, tag="setting"):
    """Where the patient is cared for: "outpatient", "inpatient" (hospitalised, admitted),
    "icu" (intensive care, critically ill) or "ventilated" (mechanically, intubated); each
    after the one before it. "Not hospitalised" is "inpatient", negated."""

    place: str


class Consent(Fact, tag="consent"):
    """Informed consent, willingness or ability to comply: a commitment, not a fact."""


AnyFact = Age | Sex | Condition | Stage | Performance | Lab | Therapy | Reproductive | Smoking | Setting | Consent

# A fact's kind by its type (the tag, without msgspec's slower config lookup).
FACT_KIND: dict[type, str] = {t: t.__struct_config__.tag for t in
                              (Age, Sex, Condition, Stage, Performance, Lab, Therapy, Reproductive, Smoking, Setting,
                               Consent)}

KINDS = ("age", "sex", "condition", "stage", "performance", "lab", "therapy", "reproductive",
         "smoking", "setting", "consent", "other")


class Criterion(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    text: str
    start: int
    end: int
    label: str = ""  # "1", "A", "iii", "*" as written, without punctuation
    kind: str = "other"  # the main kind (one of KINDS): the first typed fact, or "other"
    facts: list[AnyFact] = []
    children: list[Criterion] = []
    group: str = ""  # the sub-heading it sits under ("Prior concurrent therapy", "Allowed")

    def walk(self):
        """This criterion and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class Eligibility(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The record's structured eligibility (minimumAge, maximumAge, sex, healthyVolunteers)
    and the trial's own conditions (MeSH), kept beside the parsed text so a patient can be
    assessed without reading the record."""

    min_age_years: float | None = None
    max_age_years: float | None = None
    min_age: str = ""  # as written ("18 Years")
    max_age: str = ""
    sex: str = ""  # "FEMALE" | "MALE" | "ALL" | ""
    healthy_volunteers: bool | None = None
    conditions: list[str] = []  # MeSH names of the trial's conditions
    drugs: list[str] = []  # the drugs it tests: intervention names and MeSH terms, lower case


class Criteria(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    inclusion: list[Criterion] = []
    exclusion: list[Criterion] = []
    eligibility: Eligibility | None = None  # set by criteria_of(record)
    # Whether each criterion's kind and facts are read (`type_criteria`); the structure
    # alone is what ingest stores, typing runs when a patient is first assessed.
    typed: bool = False

    def sections(self):
        """(section, criterion) for every top-level criterion, inclusion first."""
        for c in self.inclusion:
            yield "inclusion", c
        for c in self.exclusion:
            yield "exclusion", c

    def walk(self):
        """(section, criterion) for every criterion at any depth."""
        for section, top in self.sections():
            for c in top.walk():
                yield section, c

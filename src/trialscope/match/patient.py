"""Patient facts from free text: what a note says about the person, with evidence spans.

`extract_facts(note)` reads age, sex, conditions (MeSH, with negation, family, history and
uncertainty context), stage and grade, performance status, treatments and lines of therapy,
lab values with units (and, for "vital signs within normal limits", an adult's normal ranges),
pregnancy, lactation and smoking. Every fact carries `start`/`end`
offsets into the note, so a page can show the words that decided a criterion. Facts given
as structured values (a form's age field) come in through `PatientFacts.with_overrides`
and carry the span (-1, -1).

Context rules follow NegEx-style triggers with clause scopes: "denies chest pain, dyspnea
or palpitations" negates the three; "mother had breast cancer" and "family history of
diabetes" are family facts; "history of", "s/p" mark the past; "rule out", "concern for"
mark the uncertain. Nothing here raises on any input, and every step is linear in the
note's length (notes are cut at `MAX_NOTE` characters).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..criteria import kinds
from ..criteria.concepts import spot
from ..criteria.text import NUMBER, clean, lower, number
from ..criteria.units import normalize_unit
from ..mesh import vocabulary

MAX_NOTE = 100_000
GIVEN = -1  # the span of a fact given as a structured value, not read from the note


class _F(msgspec.Struct, kw_only=True, omit_defaults=True):
    start: int = GIVEN
    end: int = GIVEN


class _Scalar(msgspec.Struct, frozen=True):
    """A scalar fact's value read from the note, before it is put on PatientFacts."""

    value: Any
    start: int
    end: int
    approximate: bool = False


class ConditionFact(_F):
    text: str
    mesh: list[str] = []
    negated: bool = False  # "denies chest pain", "no history of diabetes", "ruled out"
    family: bool = False  # "mother had breast cancer", "family history of"
    historical: bool = False  # "history of", "s/p", "previous"
    uncertain: bool = False  # "rule out", "concern for", "suspected"
    # the note's stated diagnosis, what it is about: "diagnosed with X", "the diagnosis of X
    # is made", "consistent with X", "confirms X"; never a denied, family, past or uncertain one
    stated: bool = False

    @property
    def present(self) -> bool:
        """The patient's own condition (now or in the past), stated, not denied."""
        return not (self.negated or self.family)


class StageFact(_F):
    system: str  # as in trialscope.criteria.types.Stage
    value: str


class PerformanceFact(_F):
    scale: str  # "ECOG" | "Karnofsky" | "Lansky"
    value: float


class TreatmentFact(_F):
    name: str
    category: str  # as trialscope.criteria.types.Therapy.category
    mesh: list[str] = []
    status: str = "prior"  # "prior" | "current" | "planned"
    negated: bool = False  # "no prior chemotherapy", "has not received"
    progressed: bool = False  # "progressed on", "refractory to", "failed"


class LinesFact(_F):
    prior: int  # lines of systemic therapy already received


class LabFact(_F):
    analyte: str  # trialscope.criteria.units.ANALYTES key
    value: float
    unit: str = ""  # normalize_unit spelling; "" when the note gave none
    uln: float | None = None  # the upper limit of normal the note quotes, in `unit`
    # A range the note implies rather than a value: "vital signs within normal limits" puts
    # the respiratory rate at `value`..`high` (an adult's normal range)
    high: float | None = None


class FlagFact(_F):
    value: bool


class SmokingFact(_F):
    status: str  # "current" | "former" | "never" | "ever"
    pack_years: float | None = None


class SettingFact(_F):
    place: str  # "outpatient" | "emergency" | "inpatient" | "icu" | "ventilated" (see `SETTINGS`)


class PatientFacts(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the note says about the patient. Scalars (`age` in years, `sex` "female" |
    "male") have their evidence in `age_span` / `sex_span` ((-1, -1) when given)."""

    age: float | None = None
    age_span: tuple[int, int] | None = None
    age_approximate: bool = False  # "in her fifties", "newborn"
    sex: str | None = None
    sex_span: tuple[int, int] | None = None
    conditions: list[ConditionFact] = []
    stage: list[StageFact] = []
    performance: list[PerformanceFact] = []
    treatments: list[TreatmentFact] = []
    lines: LinesFact | None = None
    labs: list[LabFact] = []
    pregnant: FlagFact | None = None
    lactating: FlagFact | None = None
    smoker: SmokingFact | None = None
    setting: SettingFact | None = None  # where the patient is seen: the most acute place named
    healthy: bool = False  # "healthy volunteer", no condition at all

    def as_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    def present_conditions(self) -> list[ConditionFact]:
        return [c for c in self.conditions if c.present]

    def with_overrides(self, given: dict[str, Any] | None) -> PatientFacts:
        """These facts with structured values put over what was read: `age` (years),
        `sex`, `conditions` (names or free text, looked up in MeSH), `pregnant`,
        `lactating`, `ecog`, `karnofsky`, `smoker` ("current" | "former" | "never"),
        `setting` (one of `SETTINGS`).
        Unknown keys and unusable values are ignored."""
        if not given:
            return self
        out = msgspec.structs.replace(self)
        age = _as_float(given.get("age"))
        if age is not None and 0 <= age <= 130:
            out.age, out.age_span, out.age_approximate = age, (GIVEN, GIVEN), False
        sex = str(given.get("sex") or "").strip().lower()
        if sex in ("female", "male", "f", "m", "woman", "man"):
            out.sex = "female" if sex in ("female", "f", "woman") else "male"
            out.sex_span = (GIVEN, GIVEN)
        conds = given.get("conditions")
        if isinstance(conds, str):
            conds = [conds]
        if isinstance(conds, list):
            added = [ConditionFact(text=str(c)[:200], mesh=vocabulary().lookup(str(c)[:200])[:5])
                     for c in conds[:50] if str(c).strip()]
            out.conditions = [*added, *self.conditions]
        for key in ("pregnant", "lactating"):
            if isinstance(given.get(key), bool):
                setattr(out, key, FlagFact(value=given[key]))
        for key, scale in (("ecog", "ECOG"), ("karnofsky", "Karnofsky")):
            v = _as_float(given.get(key))
            if v is not None:
                out.performance = [PerformanceFact(scale=scale, value=v),
                                   *(p for p in self.performance if p.scale != scale)]
        smoker = str(given.get("smoker") or "").lower()
        if smoker in ("current", "former", "never", "ever"):
            out.smoker = SmokingFact(status=smoker)
        setting = str(given.get("setting") or "").lower()
        if setting in SETTINGS:
            out.setting = SettingFact(place=setting)
        return out


def _as_float(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def extract_facts(text: str | None) -> PatientFacts:
    """Read a patient note; never raises. Offsets index `text` as given."""
    if not text or not isinstance(text, str):
        return PatientFacts()
    note = text[:MAX_NOTE]
    if not note.isascii() or "\\" in note:
        note = _same_length_fold(note)
    low = lower(note)
    clauses = _Clauses(low)
    facts = PatientFacts()
    age = _age(note, low)
    if age is not None:
        facts.age, facts.age_span, facts.age_approximate = age.value, (age.start, age.end), age.approximate
    sex = _sex(note, low, age)
    if sex is not None:
        facts.sex, facts.sex_span = sex.value, (sex.start, sex.end)
    facts.conditions = _conditions(note, low, clauses)
    facts.conditions += _herniations(note, low, clauses) + _karyotypes(note, low, clauses)
    facts.stage = _stages(low)
    facts.performance = [PerformanceFact(start=p.start, end=p.end, scale=p.scale, value=p.value)
                         for p in kinds.performances(low) if p.comparator in ("=", "range")]
    facts.treatments = _treatments(note, low, clauses)
    facts.lines = _lines(low, facts.treatments)
    facts.labs = _labs(note, low)
    facts.labs += _normal_vitals(low, facts.age, clauses, facts.labs)
    if facts.sex != "male" and (facts.age is None or 10 <= facts.age <= 60):
        # "born at 38 weeks gestation" in a boy's note is his birth, not a pregnancy
        facts.pregnant, facts.lactating = _reproductive(low, clauses, facts.conditions)
    facts.smoker = _smoking(low)
    facts.setting = _setting(note, low)
    facts.healthy = bool(re.search(r"\bhealthy\s+(?:volunteer|adult|subject|individual|man|woman|male|female)", low)) \
        and not facts.present_conditions()
    return facts


def _same_length_fold(note: str) -> str:
    """Full-width digits and symbols folded one character for one, so offsets hold."""
    out = []
    for ch in note:
        f = clean(ch) if not ch.isascii() else ch
        out.append(f if len(f) == 1 else ch)
    return "".join(out)


# -- clause scopes -----------------------------------------------------------------------

_CLAUSE_END = re.compile(r"[.;:!?](?=\s|$)|\n\s*\n|\b(?:but|however|although|though|except|aside\s+from|apart\s+from|"
                         r"yet|which|who|whose|presents?|presented|reports?|complains?|admitted|now)\b")


class _Clauses:
    """Where each clause starts: a context trigger reaches to the end of its clause."""

    def __init__(self, low: str):
        self.ends = [m.start() for m in _CLAUSE_END.finditer(low)]
        self.low = low

    def start_of(self, pos: int) -> int:
        from bisect import bisect_left

        i = bisect_left(self.ends, pos)
        return self.ends[i - 1] + 1 if i > 0 else 0

    def before(self, pos: int, limit: int = 120) -> str:
        """The clause's words before `pos` (at most `limit` characters)."""
        return self.low[max(self.start_of(pos), pos - limit): pos]


# -- age and sex -------------------------------------------------------------------------

_UNITS_W = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_NUMBER = (r"(?:(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(_UNITS_W) + r"))?|"
                + "|".join(_TEENS) + "|" + "|".join(_UNITS_W) + r"|a\s+hundred|one\s+hundred)")
_NUM = r"(?P<n>[0-9]{1,3}(?:\.[0-9])?|" + _WORD_NUMBER + r")"
_AGE_PATTERNS = [
    (re.compile(r"\b" + _NUM + r"[\s-]*(?P<u>year|yr|month|mo|week|wk|day)s?[\s-]*(?:of\s+age|old|-old)\b"), 1.0),
    (re.compile(r"\b" + _NUM + r"\s*(?:yo|y/o|y\.o\.?|yoa|yr?s?\s+old|y)(?P<sx>[mf])?\b"), 1.0),
    (re.compile(r"\b(?:aged?|age:|age\s+of|age\s+is)\s*" + _NUM + r"(?:\s*(?P<u>years?|yrs?|months?|weeks?))?\b"
                r"(?!\s*(?:%|mg|kg|cm|mm|ml|days?\s+(?:ago|after|before)))"), 0.9),
    (re.compile(r"(?<![\w.])(?P<n>[0-9]{1,3})\s?(?P<sx>[MF])\b(?![\w/])"), 0.8),
]
_SEX_CASE_PATTERN = 3  # the "58M" pattern is matched in the note's own case
_DECADE = re.compile(r"\bin\s+(?:his|her|their)\s+(?P<q>early\s+|mid\s*-?\s*|late\s+)?(?P<d>twenties|thirties|forties|"
                     r"fifties|sixties|seventies|eighties|nineties|[2-9]0'?s)\b")
_DECADES = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
            "eighties": 80, "nineties": 90}
_RELATIVE = (r"(?:son|daughter|child|children|kid|brother|sister|mother|father|husband|wife|partner|boyfriend|"
             r"girlfriend|baby|grandson|granddaughter|grandchild|nephew|niece|cousin|sibling|twin|friend|"
             r"neighbou?r|mom|dad|parent)s?")
_POSSESSIVE = re.compile(r"(?:\bher|\bhis|\btheir|\bour|'s)\s+(?:\w+\s+)?$")
_NEWBORN = re.compile(r"\b(?:newborn|neonate|new-born)\b")


def _word_number(text: str) -> float | None:
    t = text.strip().lower().replace("-", " ")
    v = number(t)
    if v is not None:
        return v
    if t in ("a hundred", "one hundred"):
        return 100.0
    total = 0
    for part in t.split():
        if part in _TENS:
            total += 20 + 10 * _TENS.index(part)
        elif part in _TEENS:
            total += 10 + _TEENS.index(part)
        elif part in _UNITS_W:
            total += 1 + _UNITS_W.index(part)
        else:
            return None
    return float(total)


def _age(note: str, low: str) -> _Scalar | None:
    found: list[tuple[int, int, float, float]] = []  # (start, -weight, end, years)
    for i, (pattern, weight) in enumerate(_AGE_PATTERNS):
        source = note if i == _SEX_CASE_PATTERN else low
        for m in pattern.finditer(source):
            n = _word_number(m.group("n"))
            if n is None:
                continue
            unit = (m.groupdict().get("u") or "y").lower()
            years = n / 12 if unit.startswith("mo") else n / 52.18 if unit.startswith("w") else \
                n / 365.25 if unit.startswith("d") else n
            if not 0 <= years <= 120:
                continue
            if _POSSESSIVE.search(low, max(0, m.start() - 12), m.start()):
                continue  # "her 5-year-old son", "breastfeeding her 3-month-old": someone else's age
            if i == _SEX_CASE_PATTERN and not _age_led(low, m.start()):
                continue
            found.append((m.start(), m.end(), years, weight))
    if found:
        s, e, years, _ = min(found, key=lambda f: (f[0], -f[3]))
        return _Scalar(round(years, 3), s, e)
    m = _DECADE.search(low)
    if m:
        d = m.group("d")
        base = _DECADES.get(d) or int(d[0]) * 10
        q = (m.group("q") or "").strip()
        years = base + (2 if q.startswith("early") else 8 if q.startswith("late") else 5)
        return _Scalar(float(years), m.start(), m.end(), approximate=True)
    m = _NEWBORN.search(low)
    if m:
        return _Scalar(0.0, m.start(), m.end(), approximate=True)
    return None


def _age_led(low: str, pos: int) -> bool:
    """"58M" is an age where a note starts with it or a sentence does, not "5 M HCl"."""
    before = low[max(0, pos - 12): pos]
    return pos < 3 or bool(re.search(r"(?:^|[.:;\n]\s*|\b(?:pt|patient|is|a|an)\s+)$", before))


_AGE_WORDS = re.compile(r"\b[0-9]{1,3}[\s-]*(?:year|yr|month|week)s?[\s-]*old\b")
_FEMALE_STRONG = re.compile(r"\b(?:woman|women|female|girl|lady|mrs|ms|miss|gravida|g[0-9]p[0-9])\b")
_MALE_STRONG = re.compile(r"\b(?:man|men|male|boy|gentleman|mr)\b")
_FEMALE_WEAK = re.compile(r"\b(?:she|her|hers|herself|pregnan\w*|menstrua\w*|menses|uterus|uterine|ovar\w*|"
                          r"postmenopausal|premenopausal|menopaus\w*|cervical|vaginal|endometri\w*)\b")
_MALE_WEAK = re.compile(r"\b(?:he|him|his|himself|prostat\w*|testic\w*|testes|scrot\w*|erectile)\b")
_NOT_SELF = re.compile(r"\b(?:partners?|friends?|relatives?|siblings?|children|sons?|daughters?)\s*$")


def _sex(note: str, low: str, age: _Scalar | None) -> _Scalar | None:
    if age is not None:
        near = low[age.start: age.end + 40]
        m = re.search(r"(?:y(?:ears?)?[\s-]*old|yo|y/o|\d)\s*[\w-]*\s*(?:[\w-]+\s+){0,2}?"
                      r"\b(woman|female|girl|lady|man|male|boy|gentleman|f|m)\b", near)
        if m:
            word = m.group(1)
            return _Scalar("female" if word in ("woman", "female", "girl", "lady", "f") else "male",
                           age.start + m.start(1), age.start + m.end(1))
        cased = re.match(r"[0-9]{1,3}\s?(?:yo\s?|y/o\s?)?([MF])\b", note[age.start: age.end + 3])
        if cased:
            return _Scalar("female" if cased.group(1) == "F" else "male", age.start + cased.start(1),
                           age.start + cased.end(1))
    votes = {"female": 0.0, "male": 0.0}
    first: dict[str, tuple[int, int]] = {}
    # "born to a 39-year-old woman": a sex word after someone else's age is not the patient's
    others = [m.end() for m in _AGE_WORDS.finditer(low) if age is None or not age.start <= m.start() < age.end]
    for pattern, sex, weight in ((_FEMALE_STRONG, "female", 3.0), (_MALE_STRONG, "male", 3.0),
                                 (_FEMALE_WEAK, "female", 1.0), (_MALE_WEAK, "male", 1.0)):
        for m in pattern.finditer(low):
            if weight > 1 and _NOT_SELF.search(low[m.end(): m.end() + 12]):
                continue  # "male partners"
            if weight > 1 and any(0 <= m.start() - e <= 25 for e in others):
                continue
            votes[sex] += weight
            if sex not in first or m.start() < first[sex][0]:
                first[sex] = m.span()
    if votes["female"] == votes["male"]:
        return None
    sex = "female" if votes["female"] > votes["male"] else "male"
    s, e = first[sex]
    return _Scalar(sex, s, e)


# -- conditions --------------------------------------------------------------------------

_NEG_PRE = re.compile(
    r"(?:\bno\b|\bnot\b|\bdenies\b|\bdenied\b|\bdeny\b|\bdenying\b|\bwithout\b|\bnegative\s+for\b|\bfree\s+of\b|"
    r"\babsence\s+of\b|\babsent\b|\bruled\s+out\b|\brules\s+out\b|\bnever\b|\bnone\b|\bneither\b|\bnor\b|"
    r"\bunremarkable\s+for\b|\bresolved\b|\bno\s+(?:known|history|evidence|signs?|symptoms?)\b)"
)
_NEG_POST = re.compile(r"[^.;]{0,20}?\b(?:was|were|is|are|has\s+been|have\s+been)?\s*(?:ruled\s+out|excluded|negative|"
                       r"absent|not\s+(?:seen|present|detected|found|identified)|unlikely)\b")
_FAMILY = re.compile(r"\b(?:family\s+(?:history|hx)|fhx|fh\b|" + _RELATIVE.replace("partner|", "") + r"|maternal|paternal|"
                     r"aunt|uncle|grand(?:mother|father|parent)s?)\b(?![-\s]*pugh)")  # Child-Pugh is a score
_FAMILY_AFTER = re.compile(r"\s*(?:in|of)\s+(?:his|her|their|the\s+patient's|a)\s+(?:\w+\s+)?" + _RELATIVE + r"\b")
_FAMILY_HEADING = re.compile(r"\b(?:family\s+(?:history|hx)|fhx|fh)\s*:[^.;\n]*$")
_SELF_RESTART = re.compile(r"\b(?:she|he|patient|pt)\b")
_HISTORY = re.compile(r"(?:\bhistory\s+of\b|\bhx\s+of\b|\bh/o\b|\bpmh\b|\bpast\s+medical\b|\bprevious\w*\b|\bprior\b|"
                      r"\bs/p\b|\bstatus\s+post\b|\bremote\b|\bformer\b|\btreated\s+for\b|\bsurvivor\b|\bin\s+remission\b)")
# past episodes: "has had a few upper respiratory infections", "had several UTIs"; and a
# mention placed in the past after it: "lung infections during childhood", "... years ago"
_EPISODES_BEFORE = re.compile(r"\bha(?:s|ve|d)?\s+had\s+(?:a\s+few|a\s+couple\s+of|several|multiple|many|numerous|"
                              r"occasional|two|three|four|five|[2-9])\b[^.;]{0,40}$")
_PAST_AFTER = re.compile(r"[^.;]{0,40}?\b(?:(?:during|in|throughout)\s+(?:his\s+|her\s+|early\s+)?(?:childhood|"
                         r"infancy|adolescence|youth)|as\s+an?\s+(?:child|infant|teen\w*|adolescent)|"
                         r"(?:\w+\s+)?(?:years?|months?)\s+ago|in\s+the\s+past)\b")
# "high-dose, but not low-dose, dexamethasone": the "not" (its clause starts at "but") is
# closed by the comma, so the name after it is not denied
_CONTRAST = re.compile(r"\bbut\s+not\s+[^,.;]{1,40},\s*$")


def _contrasted(low: str, pos: int) -> bool:
    return bool(_CONTRAST.search(low, max(0, pos - 60), pos))
_UNCERTAIN = re.compile(r"(?:\brule\s+out\b|\br/o\b|\bpossible\b|\bprobable\b|\bsuspect\w*\b|\bsuspicio\w*\b|"
                        r"\bconcern\s+(?:for|of)\b|\bconcerning\s+for\b|\bquestion\s+of\b|\bdifferential\b|"
                        r"\bcannot\s+(?:be\s+)?(?:exclude|ruled\s+out)\b|\bevaluat\w*\s+for\b|\bwork-?up\s+for\b|"
                        r"\bversus\b|\bvs\.?\b|\?)")


# A stated diagnosis: the trigger just before the mention (a few modifiers between: "diagnosed
# as a case of", "consistent with endogenous"), or a verb of diagnosis just after it ("the
# diagnosis of AD is made", "X was confirmed")
_STATED_BEFORE = re.compile(
    r"(?:\bdiagnos(?:ed|is)(?:\s+(?:with|as|of|for|to\s+(?:be|have)|is|was))?|\bdiagnostic\s+of|"
    r"\b(?:consistent|compatible)\s+with|\bconfirm(?:s|ed|ing|ation\s+of)?|\bindicative\s+of)"
    r"\s+(?:(?:a|an|the|case|of|known|definite|definitive|clinical|final|working)\s+)*(?:[\w-]+\s+){0,3}$")
_STATED_AFTER = re.compile(r"\s*(?:\([^)]{0,40}\)\s*)?(?:is|was|has\s+been|had\s+been)\s+(?:then\s+|subsequently\s+|"
                           r"eventually\s+|finally\s+|also\s+)?(?:diagnosed|confirmed|made|established)\b"
                           r"(?!\s+(?:with|as|to)\b)")  # "a man with hypertension is diagnosed with ..."
# a heading: "Diagnosis: psoriasis" (the colon ends a clause)
_STATED_HEADING = re.compile(r"\b(?:diagnosis|diagnoses|dx|impression|assessment)\s*:\s*$")
# a second name of a stated diagnosis: "adrenal insufficiency (Addison disease)", "trisomy of
# chromosome 21 (Down syndrome)"
_APPOSITION = re.compile(r"[^.;()]{0,30}\(\s*$")


def _stated(low: str, before: str, start: int, end: int) -> bool:
    return bool(_STATED_BEFORE.search(before[-80:]) or _STATED_AFTER.match(low, end)
                or _STATED_HEADING.search(low, max(0, start - 20), start))


def _conditions(note: str, low: str, clauses: _Clauses) -> list[ConditionFact]:
    out: list[ConditionFact] = []
    for men in spot(note, ("condition",)):
        before = clauses.before(men.start)
        negated = (bool(_NEG_PRE.search(before)) and not _contrasted(low, men.start)) or bool(
            _NEG_POST.match(low, men.end))
        fam_before = _FAMILY.search(before)
        family = bool(_FAMILY_AFTER.match(low, men.end)) or (
            fam_before is not None and not _SELF_RESTART.search(before[fam_before.end():])) or bool(
            _FAMILY_HEADING.search(low, max(0, men.start - 80), men.start))
        c = ConditionFact(start=men.start, end=men.end, text=note[men.start:men.end], mesh=list(men.names),
                          negated=negated, family=family,
                          historical=bool(_HISTORY.search(before) or _EPISODES_BEFORE.search(before)
                                          or _PAST_AFTER.match(low, men.end)),
                          uncertain=bool(_UNCERTAIN.search(before[-40:])))
        named = out[-1] if out else None
        c.stated = not (c.negated or c.family or c.historical or c.uncertain) and (
            _stated(low, before, men.start, men.end) or (named is not None and named.stated and named.end <= men.start
                                              and bool(_APPOSITION.fullmatch(low, named.end, men.start))))
        out.append(c)
    return out


# A hernia described rather than named: "1/3 of the stomach herniating through the esophageal
# hiatus" is a hiatal hernia, "bowel herniating into the inguinal canal" an inguinal one
_HERNIATING = re.compile(r"\bherniat(?:ing|es|ed|ion)\s+(?:of\s+[\w\s]{1,30}?\s+)?(?:through|into|via|across|at)\s+"
                         r"(?:the\s+|an?\s+)?(?P<site>[a-z]+(?:\s+[a-z]+){0,2})")


def _herniations(note: str, low: str, clauses: _Clauses) -> list[ConditionFact]:
    """The hernia a herniation names by its site: the site's words as an adjective ("hiatus"
    hiatal, "umbilicus" umbilical) before "hernia", the most specific MeSH hernia found."""
    out: list[ConditionFact] = []
    vocab = vocabulary()
    for m in _HERNIATING.finditer(low):
        words = [re.sub(r"us$", "al", w) for w in m.group("site").split()]
        best: list[str] = []
        for i in range(len(words)):  # "esophageal hiatal hernia", "hiatal hernia"; "inguinal canal" -> "inguinal"
            for j in range(len(words), i, -1):
                names = vocab.lookup(" ".join(words[i:j]) + " hernia")
                if names and names[0] != "Hernia" and not best:
                    best = names[:3]
        if not best:
            continue
        before = clauses.before(m.start())
        out.append(ConditionFact(start=m.start(), end=m.end("site"), text=note[m.start():m.end("site")], mesh=best,
                                 negated=bool(_NEG_PRE.search(before)), uncertain=bool(_UNCERTAIN.search(before[-40:]))))
    return out


# A karyotype names its syndrome: "45, XO" Turner, "47,XXY" Klinefelter, "47,XY,+21" Down
_KARYOTYPES = (
    (re.compile(r"\b45\s*,\s*xo?\b(?![,/]?\s*(?:/|4[67]))"), "Turner Syndrome"),  # not a mosaic "45,X/46,XX"
    (re.compile(r"\b47\s*,\s*xxy\b"), "Klinefelter Syndrome"),
    (re.compile(r"\b47\s*,\s*x[xy]\s*,\s*\+\s*21\b"), "Down Syndrome"),
    (re.compile(r"\b47\s*,\s*x[xy]\s*,\s*\+\s*18\b"), "Trisomy 18 Syndrome"),
    (re.compile(r"\b47\s*,\s*x[xy]\s*,\s*\+\s*13\b"), "Trisomy 13 Syndrome"),
)


def _karyotypes(note: str, low: str, clauses: _Clauses) -> list[ConditionFact]:
    """The syndrome a karyotype the note reports names (its own, not a relative's)."""
    out: list[ConditionFact] = []
    for pattern, name in _KARYOTYPES:
        for m in pattern.finditer(low):
            before = clauses.before(m.start())
            out.append(ConditionFact(start=m.start(), end=m.end(), text=note[m.start():m.end()], mesh=[name],
                                     negated=bool(_NEG_PRE.search(before)), family=bool(_FAMILY.search(before)),
                                     uncertain=bool(_UNCERTAIN.search(before[-40:]))))
    return out


def _stages(low: str) -> list[StageFact]:
    out: list[StageFact] = []
    for st in kinds.stages(low):
        value = st.values[0] if st.values else st.low or st.high
        if value:
            out.append(StageFact(start=st.start, end=st.end, system=st.system, value=value.split("-")[0].rstrip("+")))
    return out


# -- treatments ------------------------------------------------------------------------

_PRIOR_CUE = re.compile(r"(?:\bafter\b|\bfollowing\b|\bprogress\w*\s+(?:on|after|through|despite)\b|\bs/p\b|"
                        r"\bstatus\s+post\b|\bprevious\w*\b|\bprior\b|\breceived\b|\btreated\s+with\b|\bfailed\b|"
                        r"\bfailure\s+of\b|\brefractory\s+to\b|\bresistant\s+to\b|\bintoleran\w*\s+(?:of|to)\b|"
                        r"\bhistory\s+of\b|\bunderwent\b|\bundergone\b|\bwas\s+(?:started|treated|given)\b|\bcompleted\b|"
                        r"\bhad\b|\bpost-?)")
_CURRENT_CUE = re.compile(r"(?:\bon\b|\btaking\b|\btakes\b|\bcurrently\b|\breceiving\b|\bmedications?\b|\bmeds\b|"
                          r"\bmaintained\s+on\b|\bstarted\s+on\b|\bcontinues\b|\bdaily\b)")
_PLANNED_CUE = re.compile(r"(?:\bscheduled\s+for\b|\bplanned\b|\bwill\s+(?:undergo|receive|start)\b|\bcandidate\s+for\b|"
                          r"\bconsidered\s+for\b|\breferred\s+for\b|\bawaiting\b)")
_PROGRESS_CUE = re.compile(r"(?:\bprogress\w*\b|\bfailed\b|\bfailure\b|\brefractory\b|\bresistan\w*\b|\brelapsed\b|"
                           r"\brecurr\w*\b)")
_ALLERGY = re.compile(r"(?:allerg\w*|hypersensitiv\w*|anaphyla\w*)[^.;]{0,40}$")
_DRUG_CLASS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"(?:platin|taxel|rubicin|citabine|fosfamide|mustine|tecan|etoposide|vincristine|vinblastine|"
                r"vinorelbine|methotrexate|fluorouracil|5-fu|pemetrexed|bleomycin|mitomycin|dacarbazine|"
                r"temozolomide|busulfan|melphalan|chlorambucil|eribulin|ixabepilone|mitoxantrone|trabectedin|"
                r"adriamycin|folfox|folfiri|folfirinox|xelox|capox)", re.I), "chemotherapy"),
    (re.compile(r"(?:pembrolizumab|nivolumab|atezolizumab|durvalumab|avelumab|cemiplimab|ipilimumab|tremelimumab|"
                r"toripalimab|camrelizumab|sintilimab|tislelizumab|dostarlimab|retifanlimab|spartalizumab|"
                r"relatlimab|penpulimab|serplulimab)", re.I), "immunotherapy"),
    (re.compile(r"(?:nib|ciclib|parib|lisib|rafenib|zomib|limus|mab)$", re.I), "targeted"),
    (re.compile(r"(?:lutamide|strozole|trozole|mestane|xifene|fene|relin|relix|abiraterone|fulvestrant|"
                r"megestrol|goserelin|leuprolide)", re.I), "hormonal"),
]


def drug_category(*names: str) -> str:
    """The treatment class of a drug (its words, its MeSH names): chemotherapy,
    immunotherapy, targeted, hormonal or plain "drug" (by non-proprietary name stems)."""
    for pattern, category in _DRUG_CLASS:
        if any(pattern.search(n) for n in names if n):
            return category
    return "drug"


def _treatments(note: str, low: str, clauses: _Clauses) -> list[TreatmentFact]:
    out: list[TreatmentFact] = []
    taken: list[tuple[int, int]] = [(s, e) for s, e, _ in kinds.analyte_mentions(note, low)]  # labs, not drugs
    mentions = [(m.start, m.end, m.kind, m.names) for m in spot(note, ("drug", "procedure"))]
    for pattern, category in kinds.THERAPY_NOUNS:
        for m in pattern.finditer(low):
            mentions.append((m.start(), m.end(), category, ()))
    for s, e, kind, names in sorted(mentions):
        if any(ts <= s < te for ts, te in taken) or not _treatment_here(low, s, e):
            continue
        before = clauses.before(s)
        if _ALLERGY.search(low[max(0, s - 60): s]):
            continue
        name = low[s:e]
        if kind == "drug":
            category = drug_category(name, *names)
        elif kind == "procedure":
            category = kinds.procedure_category(names)
        else:
            category = kind
        status = "prior"
        if _PLANNED_CUE.search(before[-60:]):
            status = "planned"
        elif _CURRENT_CUE.search(before[-40:]) and not _PRIOR_CUE.search(before[-40:]):
            status = "current"
        progressed = bool(_PROGRESS_CUE.search(before[-50:])) or bool(
            re.match(r"^[^.;]{0,40}?\b(?:progress\w*|fail\w*|refractory|recurr\w*|relapse\w*)", low[e: e + 60]))
        out.append(TreatmentFact(start=s, end=e, name=name, category=category, mesh=list(names), status=status,
                                 negated=bool(_NEG_PRE.search(before[-50:])) and not _contrasted(low, s),
                                 progressed=progressed))
        taken.append((s, e))
    out.sort(key=lambda t: t.start)
    return out


# A drug or substance name that the note uses as a test, a finding or an exposure, not as
# something the patient was treated with: "serum ferritin of 550", "prolactin is elevated",
# "transferrin saturation", "asbestos bodies", "ristocetin cofactor assay", "acid reflux"
_TEST_AFTER = re.compile(
    r"(?:\s*\([^)]{0,15}\))?[\s-]*(?:saturation|levels?|index|counts?|tests?|testing|assay|titers?|titres?|receptors?|"
    r"bodies|cofactor|concerns?|exposure|reflux|stain\w*|proteins?|genes?|expression|mutations?|deficiency|(?:is|was|were|are)\s+(?:elevated|increased|decreased|normal|"
    r"low|high|raised|positive|negative|undetectable|[<>≤≥]?\s*[0-9])|of\s+[<>≤≥]?\s*[0-9]|(?:is|are|was|were)?\s*"
    r"(?:positive|negative)\b|[<>≤≥]?\s*[0-9][0-9.,]*\s*(?:-\s*[0-9.,]+\s*)?(?:%|[a-zµμ]+/(?:d?l|ml|µl|μl|mm3?)\b|"
    r"(?:m?eq|iu|u)/l\b))")
_TEST_BEFORE = re.compile(r"(?:\bserum|\bplasma|\burine|\burinary|\blevels?\s+of|\belevated|\bnormal|\babnormal|"
                          r"\bpositive|\bnegative|\banti-?|[0-9]-)\s*$")
_TOO_GENERIC = frozenset({"acid", "antibodies", "antibody", "lead", "electrolytes", "ointment", "cream", "solution"})


def _treatment_here(low: str, s: int, e: int) -> bool:
    """Whether the name at low[s:e] is a treatment the patient had: a whole word (not
    "hai" inside "hair"), not too generic to name one, not a test or finding."""
    if (s > 0 and low[s - 1].isalnum()) or (e < len(low) and low[e].isalnum()):
        return False
    if low[s:e] in _TOO_GENERIC:
        return False
    return not (_TEST_AFTER.match(low, e, e + 40) or _TEST_BEFORE.search(low, max(0, s - 20), s))


_LINES_NOTE = re.compile(r"\b(?P<n>one|two|three|four|five|[1-6])\s+(?:prior\s+|previous\s+)?(?:lines?|regimens?)\b")
_ORDINAL_NOTE = re.compile(r"\b(?P<o>first|1st|second|2nd|third|3rd|fourth|4th)[- ]line\b")
_NAIVE_NOTE = re.compile(r"\b(?:treatment|therapy|chemotherapy|chemo)[- ]na[iï]ve\b|\bpreviously\s+untreated\b|"
                         r"\bno\s+prior\s+(?:systemic\s+)?(?:therapy|treatment|chemotherapy)\b")
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def _lines(low: str, treatments: list[TreatmentFact]) -> LinesFact | None:
    m = _NAIVE_NOTE.search(low)
    if m:
        return LinesFact(start=m.start(), end=m.end(), prior=0)
    m = _LINES_NOTE.search(low)
    if m:
        n = _WORDS.get(m.group("n")) or int(m.group("n"))
        return LinesFact(start=m.start(), end=m.end(), prior=n)
    m = _ORDINAL_NOTE.search(low)
    if m:
        n = _ORD[m.group("o")]
        # "progressed on first-line X" has had it; "candidate for second-line" has had one fewer
        had = re.search(r"(?:after|progress\w*\s+on|failed|following|completed|received)\s+(?:\w+\s+){0,2}$",
                        low[max(0, m.start() - 40): m.start()])
        return LinesFact(start=m.start(), end=m.end(), prior=n if had else n - 1)
    systemic = {t.name for t in treatments if t.status == "prior" and not t.negated and t.category in
                ("chemotherapy", "immunotherapy", "targeted", "hormonal")}
    if systemic:
        first = min((t for t in treatments if t.name in systemic), key=lambda t: t.start)
        return LinesFact(start=first.start, end=first.end, prior=1)
    return None


# -- labs ------------------------------------------------------------------------------

_NOTE_VALUE = re.compile(
    r"(?P<fill>(?:\s|[:=(,]|\b(?:of|was|is|were|at|level|levels|count|value|values|concentration|elevated|"
    r"increased|decreased|low|high|raised|reduced|only|about|approximately|measured|found|to|be|serum|"
    r"plasma|blood|total|mildly|markedly|slightly|significantly|remains|remained|now)\b){0,30}?)"
    r"(?P<v>" + NUMBER + r")(?:\s*(?P<unit>" + kinds.UNIT + r"))?"
    r"(?P<ref>\s*\(\s*(?:normal|nl|ref(?:erence)?(?:\s+range)?|range|n)?\s*:?\s*(?P<lo>" + NUMBER + r")?\s*(?:-|to|–|<|≤)\s*"
    r"(?P<hi>" + NUMBER + r"))?", re.I)


_BLOOD_PRESSURE = re.compile(r"\b(?:blood\s+pressure|bp)\b\s*(?:is|was|of|:|=|reading\s+of|measured\s+at)?\s*"
                             r"(?:\w+\s+){0,2}?(?P<s>[0-9]{2,3})\s*/\s*(?P<d>[0-9]{2,3})\b(?:\s*mm\s*hg)?")


def _labs(note: str, low: str) -> list[LabFact]:
    out: list[LabFact] = []
    for m in _BLOOD_PRESSURE.finditer(low):  # "Blood pressure is 165/90 mm Hg": systolic and diastolic
        for analyte, group in (("sbp", "s"), ("dbp", "d")):
            out.append(LabFact(start=m.start(), end=m.end(), analyte=analyte, value=float(m.group(group)), unit="mmHg"))
    mentions = kinds.analyte_mentions(note, low)
    for i, (s, e, analyte) in enumerate(mentions):
        nxt = mentions[i + 1][0] if i + 1 < len(mentions) else len(low)
        # "AST/ALT 85/60": paired analytes, paired values
        pair = re.match(r"\s*/\s*", low[e:nxt]) if i + 1 < len(mentions) else None
        if pair and e + pair.end() == nxt:
            s2, e2, analyte2 = mentions[i + 1]
            pv = re.match(r"[\s:=]*(?:of\s+|was\s+|were\s+)?(" + NUMBER + r")\s*/\s*(" + NUMBER + r")(?:\s*(" + kinds.UNIT
                          + r"))?", low[e2: e2 + 40], re.I)
            if pv:
                unit = normalize_unit(note[e2 + pv.start(3): e2 + pv.end(3)], analyte) if pv.group(3) else ""
                for an, val in ((analyte, pv.group(1)), (analyte2, pv.group(2))):
                    v = number(val)
                    if v is not None:
                        out.append(LabFact(start=s, end=e2 + pv.end(), analyte=an, value=v, unit=unit))
                continue
        m = _NOTE_VALUE.match(low, e, min(nxt, e + 80))
        if not m:
            continue
        if re.search(r"[.;]\s", m.group("fill")):
            continue
        v = number(m.group("v"))
        if v is None:
            continue
        if low[m.end("v"): m.end("v") + 1] == "/" and not m.group("unit"):
            continue  # "BP 120/80"-like pairs without a pair of analytes
        unit = normalize_unit(note[m.start("unit"): m.end("unit")], analyte) if m.group("unit") else ""
        if not unit and re.match(r"\s*k\b", low[m.end("v"): m.end("v") + 3]):
            unit = "×10^3/µL"
        uln = number(m.group("hi")) if m.group("hi") else None
        end = m.end("unit") if m.group("unit") else m.end("v")
        if analyte == "spo2":
            air = _ROOM_AIR.match(low, end, end + 40)
            if not air:
                continue  # a saturation on oxygen says little of the patient's own: only room air is read
            end = air.end()
        out.append(LabFact(start=s, end=end, analyte=analyte, value=v, unit=unit, uln=uln))
    return out


# "Vital signs are within normal limits", "vitals normal", "vital signs: WNL": each vital in an adult's
# normal range, unless the note says otherwise ("... except a temperature of 38.5")
_NORMAL_VITALS = re.compile(r"\b(?:vital\s+signs?|vitals)\s*(?::\s*|(?:are|were|is|was|remain\w*)\s+)?(?:all\s+)?"
                            r"(?:within\s+(?:the\s+)?normal\s+(?:limits|range)|normal|unremarkable|wnl|"
                            r"within\s+(?:the\s+)?reference\s+range)\b")
_VITALS_BUT = re.compile(r"\b(?:except|apart\s+from|other\s+than|besides|but|save\s+for|aside\s+from)\b")
_NORMAL_RANGES: dict[str, tuple[float, float, str]] = {  # analyte: an adult's normal range, unit
    "respiratory_rate": (12.0, 20.0, "/min"), "spo2": (95.0, 100.0, "%"),
    "sbp": (90.0, 139.0, "mmHg"), "dbp": (60.0, 89.0, "mmHg")}


def _normal_vitals(low: str, age: float | None, clauses: _Clauses, read: list[LabFact]) -> list[LabFact]:
    """The vitals a note calls normal, as ranges, for an adult (a child's normal rates differ);
    none where the sentence goes on with an exception. A value the note gives is read itself."""
    if age is None or age < 18:
        return []
    m = _NORMAL_VITALS.search(low)
    if m is None or _NEG_PRE.search(clauses.before(m.start(), 40)):
        return []
    end = low.find(".", m.end())
    if _VITALS_BUT.search(low, m.end(), end if end >= 0 else len(low)):
        return []
    have = {lab.analyte for lab in read}
    return [LabFact(start=m.start(), end=m.end(), analyte=a, value=lo, high=hi, unit=unit)
            for a, (lo, hi, unit) in _NORMAL_RANGES.items() if a not in have]


# "98% on room air", "92% RA", "95% breathing ambient air": the only saturations read
_ROOM_AIR = re.compile(r"\s*(?:\(\s*)?(?:(?:on|while|breathing|in|at)\s+){0,2}(?:room\s+air|ambient\s+air|ra\b)")


# -- pregnancy, lactation, smoking ------------------------------------------------------

_PREGNANT_NOTE = re.compile(r"\b(?:pregnant|pregnancy|gravid|gestation(?:al)?\s+(?:age|weeks?)|weeks?\s+(?:of\s+)?gestation|"
                            r"weeks?\s+pregnant|intrauterine\s+pregnancy|trimester)\b")
_NOT_NOW = re.compile(r"(?:\bhistory\s+of\b|\bprevious\b|\bprior\b|\bpast\b|\bafter\b|\bpost\w*\b|\bdelivered\b|"
                      r"\bborn\b|\bbirth\b|\bdelivery\b|"
                      r"\bprevent\w*\b|\bplanning\b|\bwish\w*\b|\bwant\w*\b|\btrying\b|\btest\b)")
# A pregnancy the labs state: a positive pregnancy test, a serum or urine hCG above what
# a woman who is not pregnant has ("Serum beta-hCG level is 1800 mIU/mL")
_HCG = re.compile(r"(?P<pos>\bpositive\s+(?:serum\s+|urine\s+|home\s+)?(?:pregnancy|b(?:eta)?[- ]?hcg)\s+test|"
                  r"\b(?:pregnancy|b(?:eta)?[- ]?hcg)\s+test\s+(?:is\s+|was\s+|came\s+back\s+)?positive)|"
                  r"(?:\bβ|\bbeta|\bb)?[- ]?\bhcg\b[^.;0-9]{0,30}?(?P<v>[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:m?iu|u)/ml")
_HCG_PREGNANT = 25.0  # mIU/mL: the usual cut-off of a positive serum test
_LACTATING_NOTE = re.compile(r"\b(?:breast[- ]?feeding|breast[- ]?feeds|breastfed|lactating|lactation|nursing\s+(?:her|an?)\s+"
                             r"(?:infant|baby|child|newborn))\b")


def _reproductive(low: str, clauses: _Clauses, conditions: list[ConditionFact]) -> tuple[FlagFact | None, FlagFact | None]:
    pregnant = None
    for m in _PREGNANT_NOTE.finditer(low):
        before = clauses.before(m.start(), 60)
        if re.match(r"\s*test", low[m.end(): m.end() + 6]):
            neg = re.search(r"negative|neg\b", low[max(0, m.start() - 20): m.end() + 25])
            if neg:
                pregnant = FlagFact(start=m.start(), end=m.end(), value=False)
            continue
        if _NOT_NOW.search(before[-30:]):
            continue
        negated = bool(_NEG_PRE.search(before[-40:])) or bool(_NEG_POST.match(low, m.end()))
        pregnant = FlagFact(start=m.start(), end=m.end(), value=not negated)
        break
    if pregnant is None:
        for c in conditions:
            if c.present and not c.historical and any(n.startswith("Pregnancy") for n in c.mesh):
                pregnant = FlagFact(start=c.start, end=c.end, value=True)
                break
    if pregnant is None:
        m = _HCG.search(low)
        if m and not _NOT_NOW.search(clauses.before(m.start(), 30)):
            value = number(m.group("v")) if m.group("v") else None
            if m.group("pos") or (value is not None and value >= _HCG_PREGNANT):
                pregnant = FlagFact(start=m.start(), end=m.end(), value=True)
    lactating = None
    m = _LACTATING_NOTE.search(low)
    if m:
        before = clauses.before(m.start(), 60)
        negated = bool(_NEG_PRE.search(before[-40:]))
        lactating = FlagFact(start=m.start(), end=m.end(), value=not negated)
    return pregnant, lactating


_SMOKE = re.compile(r"\b(?:smok\w*|cigarettes?|tobacco|pack[- ]years?|packs?\s+(?:per|a)\s+day|ppd|nicotine|vap\w*)\b")
_PACK_YEARS = re.compile(r"(?P<n>[0-9]{1,3}(?:\.[0-9])?)[\s-]*(?:pack[- ]?years?|py\b|pack[- ]year)")


def _smoking(low: str) -> SmokingFact | None:
    m = _SMOKE.search(low)
    if not m:
        return None
    window = low[max(0, m.start() - 60): m.end() + 60]
    start, end = m.span()
    py = _PACK_YEARS.search(window)
    pack_years = float(py.group("n")) if py else None
    if re.search(r"\bnon-?smok|\b(?:never|denies|denied|doesn't|does\s+not|do\s+not|no)\b[^.;]{0,25}\b(?:smok|tobacco|"
                 r"cigar)", window):
        status = "never"
    elif re.search(r"\b(?:former|ex-?|quit|stopped|previous\w*|prior|remote|used\s+to|gave\s+up)\b[^.;]{0,30}"
                   r"|\b(?:smok\w*|tobacco)\b[^.;]{0,30}\b(?:quit|stopped|ago)\b", window):
        status = "former"
    elif re.search(r"\b(?:current\w*|active\w*|smokes|smoking\s+\d|continues|still)\b", window) or re.search(
            r"packs?\s+(?:per|a)\s+day|ppd|cigarettes?\s+(?:per|a)\s+day", window):
        status = "current"
    else:
        status = "ever"
    return SmokingFact(start=start, end=end, status=status, pack_years=pack_years)


# -- where the patient is seen -----------------------------------------------------------

SETTINGS = ("outpatient", "emergency", "inpatient", "icu", "ventilated")  # in order of acuity
_SEEN = (r"(?:comes?|came|coming|presents?|presented|presenting|brought|(?:is|was)\s+seen|seen|visits?|visited|"
         r"referred|returns?|returned)\s+(?:back\s+)?(?:in|to|at|into)\s+(?:the\s+|his\s+|her\s+|their\s+|your\s+|"
         r"a\s+|an\s+)?")
_PLACES = (
    ("ventilated", re.compile(r"\b(?:intubated|mechanical(?:ly)?\s+ventilat\w*|on\s+(?:a\s+)?ventilator|"
                              r"ventilator\s+support|ecmo)\b")),
    ("icu", re.compile(r"\b(?:intensive\s+care|icu|picu|nicu|micu|sicu|critical\s+care\s+unit)\b")),
    ("emergency", re.compile(r"\b(?:emergency(?:\s+(?:department|room|unit|ward|services?))?|urgent\s+care|"
                             r"a\s*&\s*e)\b|" + _SEEN + r"hospital\b")),
    ("inpatient", re.compile(r"\b(?:admitted|admission|hospitali[sz]ed|in-?patient|on\s+the\s+(?:[\w-]+\s+)?ward|"
                             r"hospital\s+(?:day|course|stay))\b")),
    ("outpatient", re.compile(r"\b" + _SEEN + r"(?:[\w-]+\s+){0,2}?(?:office|clinic|practice|physician|doctor|"
                              r"dermatologist|pediatrician|paediatrician|gp|primary\s+care)\b|"
                              r"\bat\s+the\s+time\s+of\s+(?:the\s+|his\s+|her\s+|this\s+)?visit\b|"
                              r"\b(?:routine|annual|well[- ]child|follow[- ]up|office|clinic)\s+(?:check-?up|visit|"
                              r"examination|exam|physical)\b|\boutpatient\b|\bcheck-?up\b")),
)
_TO_ER = re.compile(r"\s+(?:to|in)\s+(?:the\s+)?(?:emergency|er\b|ed\b)")
_STAY = ("inpatient", "icu", "ventilated")  # places a note may speak of in the past
_ED_ER = re.compile(r"\b(?:ED|ER)\b")  # in the note's own case: "Ed" may be a name
# a place of the past ("hospitalised for pneumonia two years ago"), or denied ("not intubated")
_PLACE_ELSEWHEN = re.compile(r"\b(?:ago|history|previous\w*|prior|past|last\s+(?:year|month|week)|in\s+(?:19|20)[0-9]{2}|"
                             r"before|childhood|discharged|born|birth|delivery)\b")
_PLACE_NOT = re.compile(r"\b(?:not|no|never|without|denies|denied|avoid\w*)\s+(?:[\w-]+\s+){0,3}$")


def _setting(note: str, low: str) -> SettingFact | None:
    """Where the patient is seen now, the most acute place the note names: "comes to the
    office" (outpatient), "brought to the emergency department", "admitted", "in the ICU",
    "intubated". Places of the past and denied ones are not read."""
    best: SettingFact | None = None
    found = [(place, m.start(), m.end()) for place, pattern in _PLACES for m in pattern.finditer(low)]
    found += [("emergency", m.start(), m.end()) for m in _ED_ER.finditer(note)]
    for place, s, e in found:
        if place in _STAY:  # "comes to the clinic with a 2-year history of ..." is today's visit
            if _PLACE_NOT.search(low, max(0, s - 40), s):
                continue
            near = low[max(low.rfind(".", 0, s) + 1, s - 60): min(x for x in (low.find(".", e), e + 60) if x >= 0)]
            if _PLACE_ELSEWHEN.search(near):
                continue
        if place == "inpatient" and _TO_ER.match(low, e):
            place = "emergency"  # "admitted to the ER"
        if best is None or SETTINGS.index(place) > SETTINGS.index(best.place):
            best = SettingFact(start=s, end=e, place=place)
    return best

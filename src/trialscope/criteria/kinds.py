"""Typing a criterion: which facts its words state, with values, units and spans.

Each reader below looks for one kind of statement in a criterion's cleaned text and returns
typed facts (`types.py`) whose spans index that text. The rules are written for how
registries phrase criteria in general (comparators in words or symbols, ranges, lists,
units in any spelling), not for particular studies. A criterion may state several facts
("Child-Pugh A or B; ECOG < 2"); its `kind` is the most specific one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..mesh import vocabulary
from .concepts import spot
from .text import COMPARATOR, NUMBER, comparator, lower, number
from .types import (
    FACT_KIND,
    Age,
    AnyFact,
    Condition,
    Consent,
    Lab,
    Performance,
    Reproductive,
    Setting,
    Sex,
    Smoking,
    Stage,
    Therapy,
)
from .units import ANALYTES, CASE_SENSITIVE, UNIT, UNIT_REQUIRED, normalize_unit

_KIND_ORDER = ("age", "sex", "performance", "lab", "stage", "reproductive", "smoking", "therapy", "condition",
               "setting", "consent")
_MAX_TEXT = 4000  # a criterion longer than this is typed on its first part only


def type_criterion(text: str, group: str = "") -> tuple[str, list[AnyFact]]:
    """(kind, facts) of one criterion's cleaned text; `group` is its sub-heading, which
    gives bare values their sense (an "Age:" group's "18 and over"). The facts are shared
    with other criteria of the same words: read them, do not change them."""
    kind, facts = _typed(text[:_MAX_TEXT], group)
    return kind, list(facts)


@lru_cache(maxsize=20_000)  # registries repeat criteria word for word ("Not pregnant or nursing")
def _typed(text: str, group: str) -> tuple[str, tuple[AnyFact, ...]]:
    low = lower(text)
    facts: list[AnyFact] = []
    digits = _DIGIT_GATE.search(low) is not None
    if digits:
        facts += ages(text, low, group)
    if _SEX_GATE.search(low):
        facts += sexes(low)
    if digits and _PERF_GATE.search(low):
        facts += performances(low)
    lab_facts = labs(text, low) if digits or _NORMAL_GATE.search(low) else []
    facts += lab_facts
    if _STAGE_GATE.search(low) or (digits and _TNM_GATE.search(low)):
        facts += stages(low)
    if _has(low, _REPRODUCTIVE_WORDS):
        facts += reproductive(low)
    if _has(low, _SMOKING_WORDS):
        facts += smoking(low)
    if _has(low, _SETTING_WORDS):
        facts += settings(low)
    if _CONSENT_GATE.search(low):
        facts += consents(low)
    facts += concepts(text, low, group, skip=[(f.start, f.end) for f in lab_facts])
    facts.sort(key=lambda f: f.start)
    kinds = {FACT_KIND[type(f)] for f in facts}
    kind = next((k for k in _KIND_ORDER if k in kinds), "other")
    return kind, tuple(facts)


# Cheap tests (substring searches) that let a reader skip a criterion that cannot hold its
# kind of fact; each reader still decides on its own rules. A short list is one compiled
# alternation (faster than a loop of `in`); a long one with shared letters is a loop.
def _has(low: str, words: tuple[str, ...]) -> bool:
    return any(w in low for w in words)


def _gate(words: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


_DIGIT_GATE = re.compile("[0-9]")
_SEX_GATE = _gate(("male", "men", "man", "girl", "boy", "menopaus"))
_PERF_GATE = _gate(("ecog", "karnofsky", "kps", "lansky", "lps", "zubrod", "performance", "ps", "who",
                    "world health"))
_NORMAL_GATE = _gate(("normal", "wnl", "uln"))
_STAGE_GATE = _gate(("stage", "bclc", "barcelona", "child", "binet", "figo", "nyha", "new york heart", "ann arbor",
                     "rai", "gleason", "grade"))
_TNM_GATE = re.compile(r"\b[cpy]?t(?:[0-4x]|is)")
_REPRODUCTIVE_WORDS = ("pregn", "lactat", "breast", "nursing", "contracep", "birth control", "bearing", "steril",
                "abstin", "condom", "barrier", "gestat", "expecting", "fertile")
_SMOKING_WORDS = ("smok", "cigar", "tobacco", "pack-year", "pack year", "nicotine")
_CONSENT_GATE = _gate(("consent", "assent", "willing", "able to", "comply", "complian", "agree", "adhere"))
_THERAPY_WORDS = ("therap", "chemo", "cytotox", "radi", "transplant", "tace", "arterial", "emboli", "ablation",
                  "rfa", "hai", "regional", "sirt", "surg", "resect", "operat", "ectomy", "otomy", "tki",
                  "kinase", "targeted", "hormon", "endocrine", "androgen", "adt", "aromatase", "systemic",
                  "cancer", "tumo", "prior", "previous", "checkpoint", "pd-", "pd1", "pdl1", "ctla", "immun",
                  "treat", "line", "regimen", "naive", "naïve", "sbrt")


# -- age --------------------------------------------------------------------------------

_N = r"([0-9]{1,3}(?:\.[0-9])?)"
_TUNIT = r"(years?|yrs?|y|months?|mos?|weeks?|wks?|days?)"
_TUNIT_OPT = r"(?:\s*(?:-\s*)?" + _TUNIT + r")?"
_AGE_CTX = r"(?:\bage[ds]?\b|\baged\b|\bold\b|\bof\s+age\b|\byears?\s+of\s+age|\byrs?\s+old|\bbirthday)"
_SUBJECT = re.compile(
    r"^\W*(?:(?:male|female|men|women|man|woman|adults?|patients?|subjects?|participants?|"
    r"volunteers?|children|child|boys?|girls?|infants?|adolescents?|individuals?|persons?|people|"
    r"healthy|outpatients?|inpatients?|males?|females?|and|or|both|sexes|genders?|of|either|sex|"
    r"aged?|age|who|are|is|be|must|should|,|/|-)\s*)+", re.I)
_RANGE = re.compile(
    r"(?:between|from|aged?|age\s*(?:range|group)?\s*(?:of|is|:|=)?)?\s*" + _N + _TUNIT_OPT
    + r"\s*(?:-|to|and|through|until|–)\s*(?P<lt><\s*|≤\s*)?" + _N + _TUNIT_OPT + r"(?P<after>\s*(?:years?\s+)?(?:of\s+age|old|\(inclusive\)|inclusive))?")
# "18 or older", but not "older than 18 years old and younger than 70" ("younger than" is a bound of its own)
_LOWER_WORDS = re.compile(_N + _TUNIT_OPT + r"\s*(?:of\s+age\s*|old\s*)?(?:or|and)\s*(older|over|above|more|greater|up|elder|beyond)"
                          r"(?!\s+than)")
_UPPER_WORDS = re.compile(_N + _TUNIT_OPT + r"\s*(?:of\s+age\s*|old\s*)?(?:or|and)\s*(younger|under|below|less|lower)"
                          r"(?!\s+than)")
_COMPARED = re.compile(r"(?P<comp>" + COMPARATOR + r")\s*(?:the\s+age\s+of\s*)?" + _N + _TUNIT_OPT)
_CONDITIONAL_AGE = re.compile(r"\b(?:if|when|unless|for\s+those|for\s+patients|for\s+subjects)\b[^.;,]{0,25}$")
_AGE_BEFORE = re.compile(r"\bage[ds]?\s*[:=]?\s*$")
_OLDER = re.compile(r"(older|younger)\s+than\s*" + _N + _TUNIT_OPT)
_AGE_OF = re.compile(r"(over|above|under|below)\s+(?:the\s+)?age\s+(?:of\s+)?" + _N + _TUNIT_OPT)
_DURATION = re.compile(r"\b(?:within|past|last|prior|previous|since|ago|for|duration|history|survival|"
                       r"expectancy|follow|diagnos|after|before|interval|period|lasting|least\s+\d+\s+months\s+after)\b")


def _years(value: str, unit: str | None) -> float:
    v = float(value)
    u = (unit or "y").lower()
    if u.startswith("mo"):
        return round(v / 12.0, 4)
    if u.startswith("w"):
        return round(v / 52.1775, 4)
    if u.startswith("d"):
        return round(v / 365.25, 4)
    return v


def ages(text: str, low: str, group: str = "") -> list[Age]:
    """Age bounds: "18-80 years", "aged ≥ 18", "18 years of age or older", "older than 65"."""
    in_age_group = group.lower().rstrip(": ").endswith("age")
    has_ctx = in_age_group or re.search(_AGE_CTX, low) is not None
    subject_led = _SUBJECT.match(low) is not None and _SUBJECT.match(low).end() > 0
    if not has_ctx and not subject_led:
        return []
    out: list[Age] = []
    for m in _RANGE.finditer(low):
        u1, u2 = m.group(2), m.group(5)
        led = low.startswith("age", m.start()) or _AGE_BEFORE.search(low, max(0, m.start() - 8), m.start())
        if not (u1 or u2 or m.group("after") or in_age_group or led):
            continue
        if not _age_place(low, m.start(), m.end(), has_ctx, in_age_group, m.group("after"), bool(led)):
            continue
        lo, hi = _years(m.group(1), u1 or u2), _years(m.group(4), u2 or u1)
        if lo < hi <= 120:
            out.append(Age(start=m.start(), end=m.end(), min_years=lo, max_years=hi,
                           max_inclusive=not (m.group("lt") or "").startswith("<")))
    if out:  # "3 to 7 years for cohort C, and 8 to 12 years for cohort D": the union
        first = out[0]
        lo = min(a.min_years for a in out)
        hi = max(a.max_years for a in out)
        for m in _COMPARED.finditer(low):  # "for men age < 55 and ... for men age 55-65": one more side
            if _AGE_BEFORE.search(low, max(0, m.start() - 8), m.start()):
                op, years = comparator(m.group("comp")), _years(m.group(2), m.group(3))
                if op in ("<", "<=") and years <= lo:
                    lo = 0.0
                elif op in (">", ">=") and years >= hi:
                    hi = 120.0
        return [Age(start=first.start, end=out[-1].end, min_years=lo if lo > 0 else None,
                    max_years=hi if hi < 120 else None,
                    max_inclusive=max(out, key=lambda a: a.max_years).max_inclusive)]
    for pattern, side in ((_LOWER_WORDS, "min"), (_UPPER_WORDS, "max")):
        for m in pattern.finditer(low):
            if not (m.group(2) or in_age_group or re.search(_AGE_CTX, low[max(0, m.start() - 30): m.end() + 15])):
                continue
            if not _age_place(low, m.start(), m.end(), has_ctx, in_age_group, "words"):
                continue
            out.append(_bound(m.group(1), m.group(2), side, True, m.start(), m.end()))
    for m in _OLDER.finditer(low):
        if _age_place(low, m.start(), m.end(), has_ctx, in_age_group, m.group(3)):
            out.append(_bound(m.group(2), m.group(3), "min" if m.group(1) == "older" else "max", False,
                              m.start(), m.end()))
    for m in _AGE_OF.finditer(low):
        out.append(_bound(m.group(2), m.group(3), "min" if m.group(1) in ("over", "above") else "max",
                          False, m.start(), m.end()))
    if not out:
        for m in _COMPARED.finditer(low):
            op = comparator(m.group("comp"))
            if op not in ("<", "<=", ">", ">="):
                continue
            if not (m.group(3) or in_age_group or _AGE_BEFORE.search(low, max(0, m.start() - 8), m.start())):
                continue
            if not _age_place(low, m.start(), m.end(), has_ctx, in_age_group, None):
                continue
            out.append(_bound(m.group(2), m.group(3), "min" if op.startswith(">") else "max",
                              op.endswith("="), m.start(), m.end()))
    found = _merge_ages(out)
    if found and _NOBODY.match(low):  # "No patients less than or equal to 5 years old"
        found[0].negated = True
    return found


_NOBODY = re.compile(r"^\W*no\s+(?:patients?|subjects?|participants?|persons?|individuals?|one|children|adults?|"
                     r"minors?|infants?|adolescents?)\b")


# Someone beside the patient a criterion may speak of (their age, their disease).
_OTHER_PERSON = (r"\b(?:family\s+members?|families|relatives?|donors?|care-?givers?|care-?takers?|partners?|spouses?|parents?|"
                 r"guardians?|mothers?|fathers?|siblings?|brothers?|sisters?|offspring|household|surrogates?|"
                 r"(?:legally\s+(?:authori[sz]ed|acceptable)\s+|legal\s+)representatives?)\b")
_PERSON_GATE = re.compile(r"famil|relative|donor|giver|taker|partner|spouse|parent|guardian|mother|father|sibling|"
                          r"brother|sister|offspring|household|surrogate|representative")
_PERSON_NEAR = re.compile(r"(?:" + _OTHER_PERSON + r")[^.;]*$")
_THING_AGED = re.compile(r"\b(?:symptoms?|onset|lesions?|tumou?rs?|fractures?|injur(?:y|ies)|wounds?|scars?|"
                         r"ulcers?|specimens?|samples?|biops(?:y|ies)|tissues?|blocks?|scans?|images?|results?|"
                         r"data|records?|grafts?|infarcts?)\s+(?:\w+\s+){0,2}$")
_EXAMPLE_AGE = re.compile(r"\b(?:such\s+as|e\.\s?g\.?|for\s+example|risk\s+factors?)\b[^.;]*$")
_POTENTIAL = re.compile(r"\b(?:child-?\s?bearing|reproductive)\s+potential\b")
_DURATION_AFTER = re.compile(r"\s*(?:from|after|before|since|prior|following|post|of\s+(?:symptoms?|onset|illness|"
                             r"treatment|therapy|diagnosis|dosing|the\s+(?:first|last|final|study)))\b")


def _age_place(low: str, start: int, end: int, has_ctx: bool, in_age_group: bool, after, led: bool = False) -> bool:
    """An age, not a duration: near an age word or led by who it is about, and not
    after "within", "for", "history" and the like, nor before "from onset", "after the
    final dose"; and the patient's, not a parent's or a caregiver's ("a parent aged 18 or
    older", "family members who are caregivers will be at least 18"); nor an example, nor
    part of a definition of childbearing potential. `led`: an age word just before it
    ("with age between 45-75"), which beats the duration words before that."""
    if _DURATION_AFTER.match(low, end):
        return False
    if _PERSON_GATE.search(low) and _PERSON_NEAR.search(low[max(0, start - 80): start]):
        return False
    if _THING_AGED.search(low, max(0, start - 40), start):
        return False  # "first symptoms less than 6 months old": the age of something else
    if _EXAMPLE_AGE.search(low, max(0, start - 60), start):
        return False  # "or an additional risk factor such as age 65 or greater": one of several ways in
    if _POTENTIAL.search(low, 0, start):
        return False  # "childbearing potential unless ... ≥ 50 years of age with amenorrhea": a definition
    if in_age_group:
        return True
    if "gestation" in low[max(0, start - 30): end + 30]:
        return False  # a gestational age is no age limit
    if _CONDITIONAL_AGE.search(low, max(0, start - 30), start):
        return False  # "post-menopausal if between the ages of 45 - 50": a condition on something else
    if led:
        return True
    before = low[max(0, start - 40): start]
    if _DURATION.search(before.split(",")[-1].split(";")[-1]):
        return False
    near = low[max(0, start - 25): end + 32]
    return bool(re.search(_AGE_CTX, near)) or (after is not None and bool(after)) or (
        _SUBJECT.match(low) is not None and start <= _SUBJECT.match(low).end() + 12)


def _bound(value: str, unit: str | None, side: str, inclusive: bool, start: int, end: int) -> Age:
    years = _years(value, unit)
    if side == "min":
        return Age(start=start, end=end, min_years=years, min_inclusive=inclusive)
    return Age(start=start, end=end, max_years=years, max_inclusive=inclusive)


def _merge_ages(found: list[Age]) -> list[Age]:
    """"≥ 18 and ≤ 75 years" is one range."""
    if len(found) < 2:
        return found[:1]
    lo = next((a for a in found if a.min_years is not None), None)
    hi = next((a for a in found if a.max_years is not None), None)
    if lo and hi and (lo.min_years or 0) < (hi.max_years or 0):
        return [Age(start=min(lo.start, hi.start), end=max(lo.end, hi.end), min_years=lo.min_years,
                    max_years=hi.max_years, min_inclusive=lo.min_inclusive, max_inclusive=hi.max_inclusive)]
    return found[:1]


# -- sex --------------------------------------------------------------------------------

_FEMALE = re.compile(r"\b(?:female|females|women|woman|girls?|ladies|postmenopausal|premenopausal|"
                     r"pre-menopausal|post-menopausal)\b")
_MALE = re.compile(r"\b(?:male|males|men|man|boys?)\b")
_SEX_LED = re.compile(r"^\W*(?:(?:healthy|adult|postmenopausal|premenopausal|post-menopausal|"
                      r"pre-menopausal|ambulatory|non-pregnant|nonpregnant)\s+)*(?:females?|males?|women|"
                      r"men|woman|man|girls?|boys?)\b|\b(?:only|must\s+be|are)\s+(?:female|male|women|men)\b|"
                      r"\b(?:female|male|women|men)\s+only\b")
_REPRO_WORDS = re.compile(r"childbearing|child-bearing|pregnan|contracept|lactat|breast-?feed|fertile|"
                          r"partner|potential|sterili|barrier|condom")


def sexes(low: str) -> list[Sex]:
    """A criterion that admits one sex only ("Female patients", "Men aged 40 or older")."""
    m = _SEX_LED.search(low)
    if not m or _REPRO_WORDS.search(low):
        return []
    female, male = _FEMALE.search(low), _MALE.search(low)
    if female and not male:
        return [Sex(start=female.start(), end=female.end(), sex="female")]
    if male and not female:
        return [Sex(start=male.start(), end=male.end(), sex="male")]
    return []


# -- performance status -----------------------------------------------------------------

_SCALE = re.compile(
    r"\b(?P<scale>ecog|eastern\s+cooperative\s+oncology\s+group|zubrod|karnofsky|kps|lansky|lps|"
    r"who(?=\s*(?:performance|ps\b))|world\s+health\s+organi[sz]ation(?=\s*(?:\(who\)\s*)?performance)|"
    r"performance\s+status|\bps\b)"
)
_FILLER = re.compile(r"(?:\s|[(),:/\-]|performance|status|score|scale|\(?ecog\)?|\(?who\)?|\(?ps\)?|\bps\b|"
                     r"\(?kps\)?|of|grade|must|be|should|is|level|index|rating|between|\(?zubrod\)?)*")
_VALUES = re.compile(r"(?P<comp>" + COMPARATOR + r")?\s*(?P<v1>[0-9]{1,3})\s*%?"
                     r"(?P<rest>(?:\s*(?:-|–|to|or|and|,|/|through)\s*[0-9]{1,3}\s*%?)*)"
                     r"(?P<post>\s*(?:or\s+(?:less|lower|better|higher|greater|more|above|below)|and\s+(?:above|below|over|under)))?")


def performances(low: str) -> list[Performance]:
    """ECOG/WHO/Zubrod, Karnofsky and Lansky bounds: "ECOG 0-1", "KPS ≥ 70%", "ECOG score < 2"."""
    out: list[Performance] = []
    pos = 0
    while len(out) < 4:
        m = _SCALE.search(low, pos)
        if not m:
            break
        pos = m.end()
        f = _FILLER.match(low, m.end())
        v = _VALUES.match(low, f.end())
        if not v or f.end() - m.end() > 60:
            continue
        word = m.group("scale")
        first = float(v.group("v1"))
        others = [float(x) for x in re.findall(r"[0-9]{1,3}", v.group("rest") or "")]
        if word.startswith(("karnofsky", "kps")):
            scale = "Karnofsky"
        elif word.startswith(("lansky", "lps")):
            scale = "Lansky"
        elif word.startswith(("performance", "ps")):
            scale = "Karnofsky" if first >= 10 else "ECOG"
            if re.search(r"karnofsky|kps", low[m.end(): v.end() + 20]):
                scale = "Karnofsky"
        else:
            scale = "ECOG"
        limit = 100 if scale != "ECOG" else 5
        if first > limit or any(o > limit for o in others):
            continue
        op = comparator(v.group("comp")) if v.group("comp") else ""
        post = (v.group("post") or "").strip()
        if others:
            values = [first, *others]
            fact = Performance(start=m.start(), end=v.end(), scale=scale, comparator="range",
                               value=min(values), value2=max(values))
        else:
            if not op or op == "=":
                if post:
                    better_low = scale == "ECOG"
                    up = any(w in post for w in ("higher", "greater", "more", "above", "over"))
                    if "better" in post:
                        up = not better_low
                    elif "less" in post or "lower" in post or "below" in post or "under" in post:
                        up = False
                    op = ">=" if up else "<="
                else:
                    op = "="
            fact = Performance(start=m.start(), end=v.end(), scale=scale, comparator=op, value=first)
        out.append(fact)
        pos = v.end()
    return out


# -- laboratory values ------------------------------------------------------------------


def _analyte_regexes() -> tuple[re.Pattern, re.Pattern, dict[str, str]]:
    by_name: dict[str, str] = {}
    loose, strict = [], []
    for analyte, (_, names) in ANALYTES.items():
        for name in names:
            by_name[name] = analyte
            (strict if name in CASE_SENSITIVE else loose).append(name)
    loose.sort(key=len, reverse=True)
    strict.sort(key=len, reverse=True)
    loose_re = re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in loose) + r")(?![\w-])")
    strict_re = re.compile(r"(?<![\w-])(" + "|".join(re.escape(n.upper()) for n in strict)
                           + r"|Hb|Hgb|Cr|SCr|Creat|Alb|Plt|Plts|K\+|Na\+|Tbil|TBil|T-Bil|Tbili)(?![\w-])")
    return loose_re, strict_re, by_name


_LOOSE, _STRICT, _ANALYTE_BY_NAME = _analyte_regexes()
_VALUE = re.compile(
    r"(?P<fill>[^0-9;≤≥<>=]{0,45}?)(?P<comp>" + COMPARATOR + r")?\s*(?P<v>" + NUMBER + r")"
    r"(?:\s*%?\s*(?:-|to|–|and)\s*(?P<v2>" + NUMBER + r"))?\s*(?P<unit>" + UNIT + r")?", re.I)
_UNIT_RANGE = re.compile(r"\s*(?:-|to|–)\s*(" + NUMBER + r")")
_FILL_STOP = re.compile(r"[.;]\s|\bwithin\b|\bdays?\b|\bweeks?\b|\bmonths?\b|\bgrade\b")
_WNL = re.compile(r"[^;.]{0,25}?\b(?:within\s+(?:the\s+)?(?:institutional\s+)?normal\s+(?:limits|range)|wnl|"
                  r"normal\s+range|(?:is|be|are)\s+normal)\b")
_TIME_AFTER = re.compile(r"\s*(?:days?|weeks?|months?|years?|hours?|hrs?|minutes?|times|cycles?|doses?)\b")
# Analytes whose bare threshold in an inclusion criterion is a floor (the rest are ceilings).
LOWER_BOUNDED = frozenset({"platelets", "anc", "wbc", "lymphocytes", "cd4", "hemoglobin", "albumin",
                           "egfr", "creatinine_clearance", "lvef", "fev1", "sodium", "potassium",
                           "calcium", "magnesium", "testosterone"})


def analyte_mentions(text: str, low: str) -> list[tuple[int, int, str]]:
    found: dict[int, tuple[int, int, str]] = {}
    for m in _LOOSE.finditer(low):
        if m.group(1) in CASE_SENSITIVE:
            continue
        found[m.start()] = (m.start(), m.end(), _ANALYTE_BY_NAME[m.group(1)])
    for m in _STRICT.finditer(text):
        name = m.group(1).lower()
        name = {"hgb": "hgb", "creat": "creat", "plts": "plts", "tbili": "tbili"}.get(name, name)
        analyte = _ANALYTE_BY_NAME.get(name)
        if analyte and m.start() not in found:
            found[m.start()] = (m.start(), m.end(), analyte)
    out = sorted(found.values())
    # drop mentions inside longer ones ("hemoglobin a1c" holds "hemoglobin")
    kept: list[tuple[int, int, str]] = []
    for s, e, a in out:
        if kept and s < kept[-1][1]:
            continue
        kept.append((s, e, a))
    return kept


def labs(text: str, low: str) -> list[Lab]:
    """Thresholds on named analytes: "PLT ≥50×10E9/L", "total bilirubin < 51 µmol/L",
    "creatinine ≤ 1.5 × ULN", "ALT/AST ≤ 2.5 x ULN", "hemoglobin of at least 9 g/dL"."""
    mentions = analyte_mentions(text, low)
    out: list[Lab] = []
    pending: list[tuple[int, int, str]] = []  # "ALT/AST": analytes sharing the next value
    for i, (s, e, analyte) in enumerate(mentions):
        nxt = mentions[i + 1][0] if i + 1 < len(mentions) else len(low)
        between = low[e:nxt]
        if i + 1 < len(mentions) and re.fullmatch(r"\s*(?:\(|/|,|&|and|or|and/or|\)\s*(?:and|or|/)?)\s*", between):
            if mentions[i + 1][2] != analyte:
                pending.append((s, e, analyte))
            continue
        window_end = min(len(low), e + 90, nxt if nxt > e else len(low))
        v = _VALUE.match(low, e, window_end)
        group = [*pending, (s, e, analyte)]
        pending = []
        if _TARGET.search(low, max(0, group[0][0] - 30), group[0][0]):
            continue  # "oxygen therapy to maintain oxygen saturation > 94%": a target of care, not the patient's
        if analyte in UNIT_REQUIRED and (v is None or _FILL_STOP.search(v.group("fill")) or not v.group("unit")):
            before = _VALUE_BEFORE.search(low, max(0, s - 40), s)  # "severe hemophilia A (< 1% FVIII:C)"
            if before is not None:
                value = number(before.group("v"))
                if value is not None:
                    out.append(Lab(start=before.start(), end=e, analyte=analyte, comparator=comparator(before.group("comp")),
                                   value=value, unit=normalize_unit(text[before.start("unit"):before.end("unit")], analyte)))
            continue
        if v is None or _FILL_STOP.search(v.group("fill")):
            w = _WNL.match(low, e, window_end)
            if w:
                for gs, _ge, ga in group:
                    out.append(Lab(start=gs, end=w.end(), analyte=ga, comparator="<=" if ga not in LOWER_BOUNDED else ">=",
                                   value=1.0, unit="×ULN" if ga not in LOWER_BOUNDED else "×LLN"))
            continue
        value = number(v.group("v"))
        if value is None or not (v.group("comp") or v.group("unit")):
            continue  # a bare number near an analyte ("testosterone pellets in the 6-month period")
        if not v.group("unit") and _TIME_AFTER.match(low, v.end()):
            continue  # "testosterone products: wash-out for at least 7 days"
        value2 = number(v.group("v2")) if v.group("v2") else None
        if value2 is None and v.group("unit") and not v.group("comp"):
            after = _UNIT_RANGE.match(low, v.end())  # "BMI between 18 kg/m2-30 kg/m2"
            value2 = number(after.group(1)) if after else None
        written = text[v.start("unit"):v.end("unit")] if v.group("unit") else ""
        op = comparator(v.group("comp")) if v.group("comp") else "="
        if value2 is not None and value2 > value:
            op = "range"
        negated = (_NONE_OF.match(low) is not None and s > 0) or (
            op == "range" and _OUTSIDE.search(low, max(0, group[0][0] - 30), v.start("v")) is not None)
        for gs, _ge, ga in group:
            out.append(Lab(start=gs, end=v.end(), analyte=ga, comparator=op, value=value,
                           value2=value2 if op == "range" else None, unit=normalize_unit(written, ga), negated=negated))
    return out


# "No uncontrolled hypertension (systolic BP > 170 mm Hg)": the threshold says what is ruled out
_NONE_OF = re.compile(r"^\W*(?:no|without|absence\s+of|free\s+of)\s")
_VALUE_BEFORE = re.compile(r"(?P<comp>" + COMPARATOR + r")\s*(?P<v>" + NUMBER + r")\s*(?P<unit>" + UNIT + r")\s*(?:of\s+)?$", re.I)
_TARGET = re.compile(r"\b(?:to\s+(?:achieve|maintain|keep|reach|obtain|attain)|target(?:ing|ed)?|goal)\s+(?:an?\s+|the\s+|of\s+)?$")
_OUTSIDE = re.compile(r"\boutside\b")  # "blood pressure outside a range of 90-140 mmHg"


# -- stage, class, grade ----------------------------------------------------------------

_ROMAN_STAGE = r"(?:iv|i{1,3}|0|[1-4])[a-c]?[1-3]?"
_SEP = r"\s*(?:-|–|to|through|or|and|,|/|and/or)\s*"
_STAGE_RE = re.compile(
    r"\bstages?\s*(?:of\s*)?(?P<comp>" + COMPARATOR + r")?\s*(?P<vals>" + _ROMAN_STAGE
    + r"(?:" + _SEP + r"(?:stage\s*)?" + _ROMAN_STAGE + r")*)(?![a-z0-9])"
    r"(?P<post>\s*(?:or\s+(?:higher|greater|above|more|later|worse)|and\s+above|or\s+(?:lower|less|earlier)))?"
)
_LETTER_STAGE = re.compile(
    r"\b(?P<sys>bclc|barcelona[\w\s-]{0,30}?(?:\(bclc\)|\[bclc\])?|binet|child[- ]?(?:turcotte[- ]?)?pugh|child|"
    r"ann\s+arbor|figo|nyha|new\s+york\s+heart\s+association(?:\s*\(nyha\))?|rai)"
    r"(?:\s*(?:\(bclc\)|\[bclc\]))?\s*(?:stages?|class(?:es|ification)?|score|grade|category)?\s*(?:of\s*)?"
    r"(?P<comp>" + COMPARATOR + r")?\s*"
    r"(?P<vals>(?:[0abcd]|[0-9]{1,2}|iv|i{1,3})[a-c]?[0-9]?(?:" + _SEP + r"(?:[abcd]|[0-9]{1,2}|iv|i{1,3})[a-c]?[0-9]?)*)(?![a-z0-9])"
)
_STAGE_LETTER_AFTER = re.compile(r"\bstages?\s*(?P<vals>[0abcd](?:" + _SEP + r"[abcd])*)(?![a-z0-9])")
_TNM = re.compile(r"\b[cpy]?(?P<t>t(?:[0-4]|is|x)[a-d]?(?:-t?[0-4][a-d]?)?)\s*,?\s*(?P<n>n(?:[0-3]|x)[a-c]?)?\s*,?\s*(?P<m>m(?:[01]|x)[a-c]?)?(?![a-z0-9])")
_GLEASON = re.compile(r"\bgleason\s*(?:score|sum|grade)?\s*(?:of\s*)?(?P<comp>" + COMPARATOR + r")?\s*(?P<v>[0-9]{1,2})"
                      r"(?:\s*(?:-|to)\s*(?P<v2>[0-9]{1,2}))?")
_GRADE = re.compile(r"(?:(?P<pre>" + COMPARATOR + r")\s*)?\bgrades?\s*(?P<comp>" + COMPARATOR
                    + r")?\s*(?P<vals>[0-5](?:" + _SEP + r"[0-5])*|iv|i{1,3})(?![a-z0-9])"
                    r"(?P<post>\s*(?:or\s+(?:higher|greater|above|more|worse)|and\s+above|or\s+(?:lower|less)))?")


def _system_name(word: str) -> str:
    w = word.lower()
    if w.startswith(("bclc", "barcelona")):
        return "BCLC"
    if w.startswith("child"):
        return "Child-Pugh"
    if w.startswith("ann"):
        return "Ann Arbor"
    if w.startswith(("nyha", "new")):  # "new york heart association" arrives as its first word
        return "NYHA"
    return {"binet": "Binet", "figo": "FIGO", "rai": "Rai"}.get(w, w.upper())


def _stage_values(vals: str) -> list[str]:
    parts = re.split(r"(\s*(?:-|–|to|through)\s*|" + r"\s*(?:or|and|,|/|and/or)\s*)", vals)
    out: list[str] = []
    range_next = False
    for p in parts:
        if not p.strip():
            continue
        if re.fullmatch(r"\s*(?:-|–|to|through)\s*", p):
            range_next = True
            continue
        if re.fullmatch(r"\s*(?:or|and|,|/|and/or)\s*", p):
            continue
        v = p.strip().removeprefix("stage").strip().upper()
        if range_next and out:
            out[-1] = out[-1] + "-" + v
            range_next = False
        else:
            out.append(v)
    return out


_STAGE_POST = re.compile(r"\s*(?:or\s+(?:higher|greater|above|more|later|worse|less|lower|fewer|below|better|"
                         r"earlier)|and\s+(?:above|below))\b")


def _bounded_stage(system: str, comp: str | None, post: str | None, vals: list[str], s: int, e: int) -> Stage:
    op = comparator(comp) if comp else ""
    post = (post or "").strip()
    if post:
        op = ">=" if any(w in post for w in ("higher", "greater", "above", "more", "later", "worse")) else "<="
    if op in (">", ">=") and len(vals) == 1:
        return Stage(start=s, end=e, system=system, low=vals[0] + ("+" if op == ">" else ""))
    if op in ("<", "<=") and len(vals) == 1:
        return Stage(start=s, end=e, system=system, high=vals[0] + ("-" if op == "<" else ""))
    ranges = [v for v in vals if "-" in v]
    if len(vals) == 1 and ranges:
        lo, hi = vals[0].split("-", 1)
        return Stage(start=s, end=e, system=system, low=lo, high=hi)
    return Stage(start=s, end=e, system=system, values=vals)


def stages(low: str) -> list[Stage]:
    """Stages and classes: "stage IIIB-IV", "BCLC stage B or C", "Child-Pugh A or B",
    "NYHA class III or IV", "T1-2 N0 M0", "Gleason ≥ 7", "grade ≥ 3"."""
    out: list[Stage] = []
    taken: list[tuple[int, int]] = []
    for m in _LETTER_STAGE.finditer(low):
        system = _system_name(m.group("sys").split()[0] if not m.group("sys").startswith("barcelona") else "bclc")
        vals = _stage_values(m.group("vals"))
        if system == "Child-Pugh" and not all(re.fullmatch(r"[ABC][0-9]?|[0-9]{1,2}", v.split("-")[0]) for v in vals):
            continue
        if system in ("BCLC", "Binet") and not all(re.fullmatch(r"[0ABCD](?:-[0ABCD])?", v) for v in vals):
            continue
        if system == "Child" and not re.search(r"child", m.group("sys")):
            continue
        post = _STAGE_POST.match(low, m.end())  # "Child-Pugh score of 7 or less"
        out.append(_bounded_stage(system, m.group("comp"), post.group(0) if post else None, vals, m.start(),
                                  post.end() if post else m.end()))
        taken.append(m.span())
    for m in _STAGE_RE.finditer(low):
        if any(s <= m.start() < e for s, e in taken):
            continue
        system = "stage"
        ctx = low[max(0, m.start() - 40): m.end() + 60]
        for word, name in (("figo", "FIGO"), ("ann arbor", "Ann Arbor"), ("ajcc", "stage"), ("rai", "Rai")):
            if word in ctx:
                system = name
        vals = _stage_values(m.group("vals"))
        out.append(_bounded_stage(system, m.group("comp"), m.group("post"), vals, m.start(), m.end()))
        taken.append(m.span())
    for m in _STAGE_LETTER_AFTER.finditer(low):
        if any(s <= m.start() < e for s, e in taken):
            continue
        ctx = low[max(0, m.start() - 60): m.end() + 80]
        system = "BCLC" if re.search(r"bclc|barcelona|hepatocellular|hcc|liver", ctx) else (
            "Binet" if "binet" in ctx else "")
        if system:
            out.append(_bounded_stage(system, None, None, _stage_values(m.group("vals")), m.start(), m.end()))
            taken.append(m.span())
    for m in _TNM.finditer(low):
        if not (m.group("n") or m.group("m")) and not re.search(r"\btnm|\bajcc|\bstage|\btumou?r", low):
            continue
        for key, system in (("t", "TNM-T"), ("n", "TNM-N"), ("m", "TNM-M")):
            if m.group(key):
                out.append(Stage(start=m.start(key), end=m.end(key), system=system, values=[m.group(key).upper()]))
    for m in _GLEASON.finditer(low):
        vals = [m.group("v")] if not m.group("v2") else [m.group("v") + "-" + m.group("v2")]
        out.append(_bounded_stage("Gleason", m.group("comp"), None, vals, m.start(), m.end()))
    for m in _GRADE.finditer(low):
        comp = m.group("comp") or m.group("pre")
        vals = _stage_values(m.group("vals"))
        out.append(_bounded_stage("grade", comp, m.group("post"), vals, m.start(), m.end()))
    return out


# -- pregnancy, lactation, contraception ------------------------------------------------

# a pregnancy now, or "at 20 weeks of gestation"; not "5 pregnancies in total" (a count of
# past ones), "pregnancy loss", "the week of gestation of the loss", "a gestational sac
# greater than 13 mm", "gestational trophoblastic neoplasia" (what a pregnancy holds or leaves),
# nor an ectopic or molar pregnancy (a disorder, which a pregnant woman need not have)
_PREGNANT = re.compile(r"(?<!ectopic\s)(?<!molar\s)(?<!tubal\s)\bpregnan(?!cies)\w*\b(?!\s+loss)|"
                       r"\b[0-9]+\s*(?:weeks?|wks?)['’]?\s+(?:of\s+)?gestation\b|"
                       r"\bexpecting\s+a\s+(?:baby|child)")
_LACTATING = re.compile(r"\b(?:lactat\w*|breast[- ]?feed\w*|breast[- ]?fed|nursing(?!\s+(?:home|staff|care|facility)))")
_CONTRACEPTION = re.compile(r"\b(?:contracept\w*|birth\s+control|(?:child|child-)bearing\s+potential|"
                            r"barrier\s+method|abstinence|sterili[sz]\w*|condoms?)")
_REPRO_NEG = re.compile(r"(?:\bnot\b|\bnon-?|\bnegative\b|\bno\b|\bneither\b|\bnor\b|\brul(?:e|ing)\s+out\b|"
                        r"\babsence\s+of\b)[^.;]{0,25}$")
_PREG_TEST = re.compile(r"negative\s+(?:serum\s+|urine\s+)*(?:\w+\s+)?pregnancy\s+test|pregnancy\s+test\s+(?:must\s+be\s+|is\s+)?negative")


_CAN_BECOME = re.compile(r"(?:can|could|may|able\s+to|capable\s+of|potential\s+(?:to|for)|likely\s+to|plan\w*\s+to|"
                         r"wish\w*\s+to|want\w*\s+to|intend\w*\s+to|risk\s+of)\s+(?:become|becoming|get|getting)\s+$")


def _first_mention(pattern: re.Pattern, low: str, state: str):
    """The first mention that states a condition of the patient; "women who can become
    pregnant" says who must use contraception, not that she is pregnant."""
    for m in pattern.finditer(low):
        if state == "pregnant" and _CAN_BECOME.search(low, max(0, m.start() - 30), m.start()):
            continue
        return m
    return None


def reproductive(low: str) -> list[Reproductive]:
    out: list[Reproductive] = []
    test = _PREG_TEST.search(low)
    for pattern, state in ((_PREGNANT, "pregnant"), (_LACTATING, "lactating"), (_CONTRACEPTION, "contraception")):
        m = _first_mention(pattern, low, state)
        if not m:
            if state == "pregnant" and test:
                out.append(Reproductive(start=test.start(), end=test.end(), state="pregnant", negated=True))
            continue
        if (state == "pregnant" and not test and re.match(r"pregnancy\s+test", low[m.start():])
                and not re.search(r"\bpregnan(?!cy\s+test)", low)):
            continue  # "a pregnancy test will be done": says nothing of the patient
        # "Pregnant or breast-feeding. Women ... must have a negative pregnancy test": the
        # test negates only the mention it holds
        in_test = test is not None and test.start() <= m.start() < test.end()
        negated = state != "contraception" and (bool(_REPRO_NEG.search(low[max(0, m.start() - 30): m.start()]))
                                              or (state == "pregnant" and in_test))
        out.append(Reproductive(start=m.start(), end=m.end(), state=state, negated=negated))
    return out


# -- smoking ----------------------------------------------------------------------------

_NEVER_SMOKER = re.compile(r"\bnon-?\s?smok\w*|\bnever[- ]smok\w*|\bnever\s+(?:have\s+)?smoked|\bno\s+(?:history\s+of\s+)?"
                           r"(?:smoking|tobacco)|\bnot\s+(?:a\s+)?(?:current\s+)?smok\w*|\blifelong\s+non")
_FORMER_SMOKER = re.compile(r"\b(?:former|ex-?|past|previous)[- ]?smok\w*|\bquit\s+smoking|\bstopped\s+smoking|"
                            r"\bformer\s+(?:tobacco|cigarette)")
_CURRENT_SMOKER = re.compile(r"\b(?:current|active|daily|regular|heavy)\s+(?:cigarette\s+|tobacco\s+)?(?:smok\w*|users?)|"
                             r"\bsmok\w*\s+(?:at\s+least|≥|>|more\s+than)?\s*[0-9]+\s+cigarettes?|"
                             r"\bcurrently\s+smok\w*|\bsmokers?\b")
_EVER_SMOKER = re.compile(r"\b(?:current|active)\s*(?:or|and/or|/)\s*(?:former|ex-?|past)[- ]?(?:cigarette\s+)?smok\w*|"
                          r"\b(?:former|ex-?|past)\s*(?:or|and/or|/)\s*current[- ]?(?:cigarette\s+)?smok\w*|"
                          r"\bever[- ]smok\w*|\bhistory\s+of\s+(?:cigarette\s+)?smoking")
_PACK_YEARS = re.compile(r"(?P<comp>" + COMPARATOR + r")?\s*(?P<n>[0-9]{1,3}(?:\.[0-9])?)\s*(?:or\s+more\s+)?"
                         r"pack[- ]?years?")


_SMOKING_EXCEPTED = re.compile(r"\b(?:except(?:\s+for)?|other\s+than|excluding|apart\s+from|unless)\b[^.;]*$")


def smoking(low: str) -> list[Smoking]:
    """Smoking status asked for: "non-smokers", "current smokers", "≥ 10 pack-years"."""
    py = _PACK_YEARS.search(low)
    found: dict[str, re.Match] = {}
    taken: list[tuple[int, int]] = []
    for pattern, status in ((_NEVER_SMOKER, "never"), (_EVER_SMOKER, "ever"), (_FORMER_SMOKER, "former"),
                            (_CURRENT_SMOKER, "current")):
        for m in pattern.finditer(low):
            if _SMOKING_EXCEPTED.search(low, max(0, m.start() - 60), m.start()):
                continue  # "no psychiatric disorder, except nicotine dependence in smokers": allowed, not asked
            if not any(s < m.end() and m.start() < e for s, e in taken):  # "non-smokers" holds "smokers"
                found.setdefault(status, m)
                taken.append(m.span())
    if len(found) > 1:
        # "current or former smokers" is anyone who ever smoked; "smokers or non-smokers", anyone
        if set(found) != {"current", "former"}:
            return []
        found = {"ever": min(found.values(), key=lambda m: m.start())}
    if found:
        ((status, m),) = found.items()
        if status == "current" and py and not re.search(r"current|active|daily|currently", low):
            status = "ever"  # "smokers with ≥ 20 pack-years": current or former
        fact = Smoking(start=m.start(), end=m.end(), status=status)
    else:
        if not py:
            return []
        fact = Smoking(start=py.start(), end=py.end(), status="ever")
    if py:
        fact.pack_years = float(py.group("n"))
        fact.pack_years_comparator = comparator(py.group("comp")) if py.group("comp") else ">="
        if fact.pack_years_comparator == "=":
            fact.pack_years_comparator = ">="
    return [fact]


# -- consent and commitments -----------------------------------------------------------

_SETTING_WORDS = ("hospital", "admitted", "admission", "inpatient", "in-patient", "outpatient", "out-patient", "icu",
                  "intensive", "critical", "ventilat", "intubat", "ecmo", "ambulatory", "home")
# Where a patient is cared for, most specific first (`types.Setting`)
SETTING_PLACES = ("outpatient", "inpatient", "icu", "ventilated")
_SETTING_RES = (
    ("ventilated", re.compile(r"\b(?:(?:invasive\s+)?mechanical(?:ly)?\s+ventilat\w*|invasive\s+ventilation|"
                              r"intubat(?:ed|ion)|on\s+(?:a\s+)?ventilator|ventilator[- ]dependen\w*|"
                              r"(?:requir\w*|need\w*)\s+(?:for\s+)?ventilat\w*|ventilated|ecmo)\b")),
    ("icu", re.compile(r"\b(?:intensive\s+care(?:\s+units?)?|icu|critical\s+care(?:\s+units?)?|critically\s+ill)\b"
                       r"(?!\s*(?:staff|personnel|physicians?|doctors?|nurses?|nursing|workers?|teams?|providers?|"
                       r"clinicians?|beds?\s+(?:availab|capacit)))")),
    ("inpatient", re.compile(r"\b(?:hospitali[sz]ed|hospitali[sz]ations?|in-?patients?|admitted(?!\s+(?:to|in|into)\s+"
                             r"(?:the\s+|a\s+)?(?:study|trial|nursing|rehab\w*|care\s+homes?|community|"
                             r"isolation|quarantine|residential))|"
                             r"(?:hospital|inpatient)\s+admissions?|admission\s+(?:to|in)\s+(?:the\s+|a\s+)?hospital|"
                             r"(?:need|requir)\w*\s+(?:for\s+)?admission|(?:on|at|upon)\s+admission)\b")),
    ("outpatient", re.compile(r"\b(?:out-?patients?|ambulatory\s+(?:patients?|care|settings?|subjects?|participants?|"
                              r"adults?|individuals?)|(?:managed|treated|cared\s+for|isolat\w+|quarantin\w+|recover\w*|"
                              r"stay\w*|remain\w*|or)\s+at\s+home|home\s+(?:isolation|quarantine|care|treatment|management))\b")),
)
# "admitted in an emergency unit or hospitalised": the emergency department too, which is no
# place of `SETTING_PLACES`
_EMERGENCY = re.compile(r"\bemergency\s+(?:department|room|unit|ward|services?)|\bed\b|\burgent\s+care\b")
_NEXT_SENTENCE = re.compile(r"(?<=[a-z0-9)\]]{2})[.!?]\s+(?=[a-z(])")  # not "1. Adults", "e.g. cough"
_NUMBERED_COHORT = re.compile(r"\bcohort\s*(?:[0-9]+|[a-d]|[ivx]+)\b")  # "Cohort 2)": each cohort its own place
# "consented within the first 48 hours of hospitalization": a time in the stay, which is now
_WITHIN_STAY = re.compile(r"\bwithin\s+(?:the\s+)?(?:first\s+)?[0-9]+\s*\w+\s+(?:of|after|from)\s+(?:the\s+)?"
                          r"(?:hospitali[sz]ation|(?:hospital\s+)?admission)")
_NON_INVASIVE = re.compile(r"non-?\s?(?:invasive\s+)?$")  # "non-invasive ventilation" is no invasive one
_SETTING_NOT = re.compile(r"(?:\b(?:not|no|without|never|nor|neither|absence\s+of)\s+(?:[\w/-]+\s+){0,5}|"
                          r"\bnon-?\s?)$")
# a place the patient was, or may be: a history, a risk, a time window, not where they are
_SETTING_ELSEWHEN = re.compile(r"\b(?:within|previous\w*|prior|history|past|last|ago|since|before|recent\w*|"
                               r"discharg\w*|re-?admi\w*|risk|prevent\w*|reduc\w*|avoid\w*|likely|expected|"
                               r"anticipat\w*|planned|future|may(?!\s+[0-9])|might|could|would|if|unless|in\s+case|whether|was|were|had|during\s+(?:the\s+)?(?:study|trial)|"
                               r"post-?|number\s+of|episodes?|[0-9]+\s+(?:or\s+more\s+)?(?:hospitali|admissions))\b")


def settings(low: str) -> list[Setting]:
    """Where the patient must (not) be cared for: "hospitalised adults", "admitted to the
    ICU", "requiring mechanical ventilation", "outpatients", "not hospitalised". Places the
    criterion speaks of in the past or as a risk ("hospitalised within 6 months", "at
    risk of hospitalisation") are not read. One place asked for (the most specific: a
    hospitalised patient "requiring ventilation" must be ventilated) and one refused (the
    least specific); "hospitalised or outpatient" asks for none."""
    found: list[Setting] = []
    taken: list[tuple[int, int]] = []
    first = _NEXT_SENTENCE.search(low)  # "... In addition, we will include ... hospitalised": another way in
    for place, pattern in _SETTING_RES:
        for m in pattern.finditer(low, 0, first.start() if first else len(low)):
            s, e = m.span()
            if any(a < e and s < b for a, b in taken) or (
                    place == "ventilated" and _NON_INVASIVE.search(low, max(0, s - 14), s)):
                continue
            taken.append((s, e))
            clause_start = max(low.rfind(".", 0, s), low.rfind(";", 0, s), s - 80)
            clause_end = min(x for x in (low.find(".", e), low.find(";", e), e + 150, len(low)) if x >= 0)
            window = _WITHIN_STAY.sub(" ", low[clause_start + 1:clause_end])
            if _SETTING_ELSEWHEN.search(window):
                continue
            negated = bool(_SETTING_NOT.search(low, max(0, s - 50), s))
            found.append(Setting(start=s, end=e, place=place, negated=negated))
    wanted = [f for f in found if not f.negated]
    refused = [f for f in found if f.negated]
    rank = SETTING_PLACES.index
    if len(found) > 3 or (wanted and refused and min(rank(f.place) for f in wanted)
                          >= min(rank(f.place) for f in refused)):
        return []  # a scale's levels ("1 not hospitalised ... 7 ventilated"), or both ways
    out: list[Setting] = []
    places = {f.place for f in wanted}
    if wanted and not (("outpatient" in places and len(places) > 1) or _EMERGENCY.search(low)
                                                                   or _NUMBERED_COHORT.search(low)):
        out.append(max(wanted, key=lambda f: rank(f.place)))
    if refused:
        out.append(min(refused, key=lambda f: rank(f.place)))
    return sorted(out, key=lambda f: f.start)


_CONSENT = re.compile(r"\b(?:informed\s+consent|consent\s+form|written\s+consent|give\s+consent|provide\s+consent|"
                      r"signed?\s+(?:the\s+)?consent|consent(?:ed)?\b|assent|willing(?:ness)?\b|able\s+to\s+(?:comply|"
                      r"understand|follow|read)|comply\s+with|compliance|agree(?:s|d)?\s+to|adhere\s+to)")


def consents(low: str) -> list[Consent]:
    m = _CONSENT.search(low)
    return [Consent(start=m.start(), end=m.end())] if m else []


# -- conditions and treatments ---------------------------------------------------------

THERAPY_NOUNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\b(?:chemotherap\w*|chemo\b|cytotoxic\w*|chemoradi\w*)"), "chemotherapy"),
    (re.compile(r"\b(?:immunotherap\w*|checkpoint\s+inhibit\w*|immune\s+checkpoint|anti-?pd-?(?:l)?1|pd-?(?:l)?1\s+"
                r"(?:inhibit|antibod|blockade)\w*|anti-?ctla-?4)"), "immunotherapy"),
    (re.compile(r"\b(?:radiotherap\w*|radiation(?:\s+therapy)?|irradiation|radiosurgery|sbrt|brachytherap\w*|"
                r"radiat\w*\s+treatment)"), "radiotherapy"),
    (re.compile(r"\b(?:transplant\w*)"), "transplant"),
    (re.compile(r"\b(?:tace|transarterial\s+\w+|chemoemboli[sz]ation|emboli[sz]ation|radiofrequency\s+ablation|rfa|"
                r"ablation|hepatic\s+arterial\s+infusion|hai[ct]?|loco-?regional\s+\w+|sirt|radioemboli[sz]ation|"
                r"microwave\s+ablation|percutaneous\s+ethanol)"), "locoregional"),
    (re.compile(r"\b(?:surgery|surgical\w*|resection|resected|operation|operated|\w+ectomy|\w+otomy)\b"), "surgery"),
    (re.compile(r"\b(?:tyrosine\s+kinase\s+inhibitors?|tkis?\b|targeted\s+therap\w*|kinase\s+inhibitors?)"), "targeted"),
    (re.compile(r"\b(?:hormon\w*\s+therap\w*|endocrine\s+therap\w*|androgen[- ]deprivation|adt\b|anti-?androgen\w*|"
                r"aromatase\s+inhibitors?)"), "hormonal"),
    (re.compile(r"\b(?:systemic\s+(?:therap\w*|treatment\w*|anti-?cancer)|anti-?cancer\s+(?:therap\w*|treatment\w*|"
                r"agents?)|anti-?tumou?r\s+(?:therap\w*|treatment\w*)|(?:prior|previous)\s+(?:therap\w*|treatment\w*))"),
     "any"),
]
_THERAPY_ANY = re.compile("|".join(f"(?P<t{i}>{p.pattern})" for i, (p, _) in enumerate(THERAPY_NOUNS)))
_LINES_GATE = re.compile(r"line|regimen|na[iï]ve|untreated|no\s+prior")
_THERAPY_CUE_WORDS = ("receiv", "treat", "exposure", "exposed", "refractory", "progress", "fail", "intoleran",
                      "resistan", "administ", "taking", "use of", "using", "user", "concomitant", "concurrent", "current",
                      "history of", "after", "following", "s/p", "status post", "undergo", "underwent")
_THERAPY_CUE = re.compile(r"\b(?:prior|previous\w*|received|receiving|treated|treatment|therap\w*|exposure|exposed|naive|"
                          r"naïve|untreated|refractory|progress\w*|failed|failure|intoleran\w*|resistan\w*|lines?\b|"
                          r"regimens?|administ\w*|taking|use\s+of|using|users?\b|concomitant|concurrent|current\w*|history\s+of|"
                          r"after|following|s/p|status\s+post|undergone|underwent)")
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "single": 1, "a": 1, "1": 1,
                 "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "zero": 0, "0": 0}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_LINES = re.compile(r"(?P<comp>" + COMPARATOR + r")?\s*(?P<n>one|two|three|four|five|six|single|zero|[0-6])\s*"
                    r"(?P<post>or\s+more\s+|or\s+fewer\s+|or\s+less\s+|\+\s*)?(?:prior\s+|previous\s+|systemic\s+|"
                    r"standard\s+|chemotherapy\s+|treatment\s+|therapeutic\s+|different\s+)*(?:lines?|regimens?)\b")
_ORDINAL_LINE = re.compile(r"\b(?P<o>first|1st|second|2nd|third|3rd|fourth|4th)[- ]line\b(?P<post>\s+or\s+(?:later|"
                           r"greater|higher|beyond|subsequent))?")
_NAIVE = re.compile(r"\b(?:treatment[- ]na[iï]ve|therapy[- ]na[iï]ve|chemotherapy[- ]na[iï]ve|na[iï]ve\s+to|"
                    r"previously\s+untreated|no\s+prior\s+(?:systemic\s+)?(?:therapy|treatment))")
_WITHIN = re.compile(r"\bwithin\s+(?:the\s+)?(?:past\s+|last\s+|previous\s+)?(?P<n>[0-9]{1,3}|one|two|three|four|five|"
                     r"six)\s*(?P<u>days?|weeks?|months?|years?)")
_DAYS = {"d": 1, "w": 7, "m": 30.4375, "y": 365.25}


# "Diagnostic and Statistical Manual of Mental Disorders", "International Classification of
# Diseases": the title of a reference, which names no disease
_TITLE_OF = re.compile(r"\b(?:manual|classification|statistics)\s+of\s+$")


def concepts(text: str, low: str, group: str = "", skip=()) -> list[AnyFact]:
    """Conditions (MeSH) and treatments named by the criterion, with negation and context;
    `skip` spans (lab thresholds) name analytes, not drugs."""
    out: list[AnyFact] = []
    therapy_words = _has(low, _THERAPY_WORDS)
    therapy_ctx = "therapy" in group.lower() or "medication" in group.lower() or (
        (therapy_words or _has(low, _THERAPY_CUE_WORDS)) and _THERAPY_CUE.search(low) is not None)
    covered: list[tuple[int, int]] = []
    if therapy_ctx and _ALLERGY_LED.match(low):
        therapy_ctx = False  # "Known contra-indications to naproxen (e.g. ...), analgesics or NSAIDs": none taken
    mentions = spot(text)
    for men in mentions:
        if any(s <= men.start < e for s, e in skip) or _TITLE_OF.search(low, max(0, men.start - 30), men.start):
            continue
        flags = men.cues
        if men.kind == "condition":
            out.append(Condition(start=men.start, end=men.end, text=text[men.start:men.end], mesh=list(men.names),
                                 negated="neg" in flags, other="other" in flags,
                                 active="active" in flags or "severe" in flags, severe="severe" in flags,
                                 context=condition_context(low, men.start, men.end)))
        elif therapy_ctx and "allergy" not in flags and not _candidacy(low, men.start) and not _HARM_AFTER.match(
                low, men.end):
            category = "drug" if men.kind == "drug" else procedure_category(men.names)
            out.append(Therapy(start=men.start, end=men.end, category=category,
                               names=[low[men.start:men.end]], mesh=list(men.names), negated="neg" in flags))
            covered.append((men.start, men.end))
    if therapy_ctx and therapy_words:
        for m in _THERAPY_ANY.finditer(low):
            if any(s <= m.start() < e or m.start() <= s < m.end() for s, e in covered):
                continue
            flags = _cues_at(low, m.start())
            if "allergy" in flags or _candidacy(low, m.start()):
                continue
            category = THERAPY_NOUNS[int(m.lastgroup[1:])][1]
            if category == "any" and _QUALIFIED.match(low, m.end()):
                continue  # "prior therapy with mTOR inhibitors": what follows says which
            out.append(Therapy(start=m.start(), end=m.end(), category=category, names=[m.group(0)],
                               negated="neg" in flags))
        if _LINES_GATE.search(low):
            lines = _lines_of_therapy(low)
            if lines is not None:
                out.append(lines)
    conditions = [f for f in out if isinstance(f, Condition) and f.mesh]
    if conditions:
        _set_aside(low, conditions)
    if "within" in low and any(isinstance(f, Therapy) for f in out):
        w = _WITHIN.search(low)
        if w:
            n = _NUMBER_WORDS.get(w.group("n"))
            n = n if n is not None else int(w.group("n"))
            for f in out:
                if isinstance(f, Therapy):
                    f.within_days = n * _DAYS[w.group("u")[0]]
    return out


# Where a condition is named for something else than a patient who has it. Each pattern
# reads the words just before the mention (its clause) or just after it.
_CLAUSE_START = re.compile(r".*[.;:(]")
_IMAGING = (r"ct|hrct|x-?rays?|cxr|radiograph\w*|radiolog\w*|imaging|scans?|tomograph\w*|ultrasound|"
            r"ultrasonograph\w*|mri|pet|echocardiograph\w*")
_CONTEXT_BEFORE = (
    # the illness over: "post-COVID", "recovered from COVID-19", "beyond 28 days of the
    # resolution of their acute COVID-19 illness", "convalescent from"
    ("after", re.compile(r"(?:\bpost[- ]?|\bpost\s+(?:documented|acute|confirmed)\s+|\b(?:after|following)\s+(?:an?\s+|the\s+)?"
                         r"(?:acute\s+)?|\brecover(?:ed|ing|y)\s+from\s+(?:an?\s+|the\s+)?|\bconvalescen\w*\s+(?:from\s+|of\s+)?|"
                         r"\bsurvivors?\s+of\s+|\blong[- ]|\bresolution\s+of\s+(?:their\s+|the\s+|an?\s+)?(?:acute\s+)?)(?:[\w-]+\s+){0,1}$")),
    ("other person", re.compile(_OTHER_PERSON + r"|\b(?:family\s+history|close\s+contacts?|contacts?\s+(?:with|of)|"
                                r"exposure\s+to|exposed\s+to)\b")),
    ("treatment", re.compile(r"(?:\banti-?|\b(?:treatments?|\w*therap(?:y|ies)|surgery|resection|drugs?|medications?|medicines?|agents?|"
                             r"vaccines?|vaccinations?|immuni[sz]ations?|prophylaxis|prevention)\s+(?:for|of|against)\s+"
                             r"(?:[\w-]+\s+){0,2}|\bto\s+(?:treat|prevent)\s+(?:[\w-]+\s+){0,2}|"
                             # "antiviral drug with potential effect against SARS-CoV-2"
                             r"\b(?:effect|effective|activity|active)\s+against\s+(?:[\w-]+\s+){0,2})$")),
    # what an image shows: "bilateral CT changes typical for COVID-19", "radiological evidence of
    # pneumonia", "infiltrates consistent with": a finding, which the disease's name is not
    ("imaging", re.compile(r"\b(?:" + _IMAGING + r")(?:[\s-]+[\w-]+){0,3}?[\s-]+(?:(?:typical|consistent|compatible|"
                           r"suggestive|characteristic|indicative|diagnostic)\s+(?:of|for|with)|associated\s+with|"
                           r"(?:changes?|findings?|evidence|signs?|features?|patterns?|infiltrates?|opacit(?:y|ies)|"
                           r"abnormalit(?:y|ies)|lesions?)\s+(?:of|for))\s+(?:[\w-]+\s+){0,2}$")),
    ("qualifier", re.compile(r"\b(?:due|secondary|attributable|related)\s+to\s+(?:[\w-]+\s+){0,2}$|"
                             r"\bcaused\s+by\s+(?:[\w-]+\s+){0,2}$|\bresult(?:s|ing)?\s+(?:of|from)\s+(?:[\w-]+\s+){0,2}$|"
                             r"\b(?:bleeding|ha?emorrhage|rupture)\s+(?:from|of)\s+(?:[\w-]+\s+){0,2}$|"
                             # an event or a reference named for it: "ED visit for suspected COVID-19",
                             # "hospitalized for", "as per the guideline for COVID-19" (but "criteria for X" ask for X)
                             r"\b(?:visits?|admissions?|admitted|hospitali[sz]ations?|hospitali[sz]ed|presentations?|"
                             r"consultations?|referrals?|guidelines?)\s+(?:for|of|with|due\s+to)\s+"
                             r"(?:[\w-]+\s+){0,3}$")),
)
_CONTEXT_AFTER = (
    # "COVID pneumonia by chest imaging" (not "HCC diagnosed by CT or MRI": a diagnosis, made so)
    ("imaging", re.compile(r"(?:[\s-]+(?![\w-]*ed\b)[\w-]+){0,2}?\s+(?:(?:seen|evident|visible|shown)\s+)?(?:by|on|in)\s+(?:an?\s+|the\s+)?(?:chest\s+|lung\s+|thoracic\s+)?"
                           r"(?:" + _IMAGING + r")\b")),
    ("treatment", re.compile(r"[\s-]*(?:vaccines?|vaccinations?|medications?|drugs?|treatments?|therap(?:y|ies)|"
                             r"prophylaxis|surgery|surgeries|surgical\s+repair|repair|operations?)\b")),
    ("qualifier", re.compile(r"[\s-]*(?:related|associated|induced|caused|specific)\b")),
    # a feature of it: "tumour thrombus", "tumour invasion of the bile duct", "tumour burden"
    ("qualifier", re.compile(r"\s+(?:thromb\w*|invasion|invading|burden|compression|stenosis|obstruction|infiltration|"
                             r"involvement|rupture|lysis|necrosis|markers?|size|volume|emboli\w*|bleeding|"
                             r"ha?emorrhage|pain|extension|spread)\b")),
    # someone else's: "movement disorders affecting 2 or more family members"
    ("other person", re.compile(r"\s+(?:affecting|in|among|of)\s+(?:[\w-]+\s+){0,3}" + _OTHER_PERSON)),
)
# "after COVID-19 diagnosis", "following COVID-19 symptom onset": the illness is on
_STILL_ILL = re.compile(r"[\s-]*(?:diagnos\w*|onset|symptom\w*|tests?|testing|positiv\w*|confirm\w*|"
                        r"hospitali[sz]\w*|admission|pcr)\b")
# "a negative COVID-19 test", "negative screening for", "PCR negative": a result, not a disease
_NEGATIVE_TEST = re.compile(r"\bnegative\b[^.;]{0,40}\b(?:tests?|testing|pcr|screen\w*|swabs?|assays?|serolog\w*|"
                            r"results?)\b|\b(?:tests?|tested|testing|pcr|screen\w*|swabs?|assays?|serolog\w*|"
                            r"results?)\b[^.;]{0,40}\bnegative\b")


_EXCEPT_GATE = re.compile(r"other\s+than|except|excluding|besides|apart\s+from|not\s+including")
_EXCEPT = re.compile(r"\b(?:other\s+than|except(?:\s+for)?|excluding|besides|apart\s+from|with\s+the\s+exception\s+of|"
                     r"not\s+including)\b[^.;]*$")
_LISTING = re.compile(r"\b(?:includ\w*|defin\w*|such\s+as|e\.\s?g\.?|for\s+example|any|other|like)\b")


def _set_aside(low: str, conditions: list[Condition]) -> None:
    """Conditions that are no requirement of their own (their `context`):
    - "exception": what the criterion allows ("any bone disease other than osteoporosis");
    - "class": a broad class beside a narrower one it holds ("tumour ... small-cell lung
      cancer"): the narrower one says which (unless the criterion lists examples of the
      class: "any tumour, including small-cell lung cancer")."""
    if _EXCEPT_GATE.search(low):
        for f in conditions:
            if _EXCEPT.search(low, max(0, f.start - 50), f.start):
                f.context = "exception"
    if len(conditions) < 2 or _LISTING.search(low):
        return
    vocab = vocabulary()
    for a in conditions:
        if a.context or a.negated:
            continue
        broad = set(a.mesh)
        for b in conditions:
            if b is a or b.negated or b.context == "exception" or broad & set(b.mesh):
                continue
            ancestors = {n for m in b.mesh for n in vocab.ancestors(m)}
            if broad <= ancestors:
                a.context = "class"
                break


def condition_context(low: str, start: int, end: int) -> str:
    """Why a named condition is not the patient's own, if the words around it say so:
    "after", "other person", "treatment", "imaging", "qualifier", "test" (see
    `types.Condition.context`)."""
    before = low[max(0, start - 60): start]
    cut = _CLAUSE_START.match(before)
    if cut:
        before = before[cut.end():]
    for name, pattern in _CONTEXT_BEFORE:
        if pattern.search(before) and not (name == "after" and _STILL_ILL.match(low, end)):
            return name
    for name, pattern in _CONTEXT_AFTER:
        if pattern.match(low, end, end + 60):
            return name
    if "negativ" in low:
        clause = low[max(0, start - 60): end + 40]
        if _NEGATIVE_TEST.search(clause):
            return "test"
    return ""


_CANDIDACY = re.compile(r"\b(?:suitable|eligible|amenable|candidates?|appropriate|fit|indicated|considered|"
                        r"refus\w*|declin\w*|scheduled|planned|plans?|awaiting|waiting\s+list)\s+(?:for|to)?\b[^.;]{0,40}$")
_QUALIFIED = re.compile(r"\s+(?:with|targeting|directed|against|including|containing|using|by)\b")


def _candidacy(low: str, pos: int) -> bool:
    """A treatment named as what the patient could or will have ("not suitable for
    resection", "candidates for transplant"), not as a treatment they had."""
    before = low[max(0, pos - 60): pos]
    return ("for" in before or "to " in before or "refus" in before or "declin" in before) and \
        _CANDIDACY.search(before) is not None


_NOUN_NEG = re.compile(r"(?:\bno\b|\bnot\b|\bwithout\b|\bnever\b|\bnone\b|\bneither\b|\bnor\b)[^.;:]{0,60}$")
# A harm of the treatment, not the treatment: "prior NSAID gastrointestinal complications",
# "chemotherapy-related toxicity", "steroid-induced diabetes"
_HARM_AFTER = re.compile(r"[\s-]*(?:(?:related|induced|associated|caused)\s+)?(?:gastrointestinal\s+|gi\s+|serious\s+|severe\s+)?"
                         r"(?:complications?|toxicit(?:y|ies)|side[\s-]effects?|adverse\s+(?:events?|reactions?|effects?)|"
                         r"reactions?|intoleran\w*)\b|-(?:related|induced|associated)\b")
# A criterion about what the patient must not receive: every drug it lists is that
_ALLERGY_LED = re.compile(r"^\W*(?:(?:subjects?|patients?|participants?|individuals?|persons?)\s+(?:with|who\s+have)\s+)?"
                          r"(?:(?:an?|any|known|documented|suspected|history\s+of|prior|previous)\s+)*(?:allerg\w*|"
                          r"hypersensitiv\w*|intoleran\w*|contra-?\s?indicat\w*)\s+(?:reactions?\s+)?(?:to|of|for|against)\b")
_NOUN_ALLERGY = re.compile(r"(?:allerg|hypersensitiv|contraindicat)[^.;]{0,60}$")


def _cues_at(low: str, pos: int) -> frozenset[str]:
    """Negation and allergy cues in the 80 characters before a therapy noun."""
    before = low[max(0, pos - 80): pos]
    found = set()
    if ("no" in before or "never" in before or "without" in before) and _NOUN_NEG.search(before):
        found.add("neg")
    if ("allerg" in before or "hypersens" in before or "contraindic" in before) and _NOUN_ALLERGY.search(before):
        found.add("allergy")
    return frozenset(found)


def procedure_category(names: tuple[str, ...]) -> str:
    joined = " ".join(names).lower()
    if "radio" in joined or "radiation" in joined:
        return "radiotherapy"
    if "transplant" in joined:
        return "transplant"
    if "ablation" in joined or "emboli" in joined:
        return "locoregional"
    if "drug therapy" in joined or "chemotherapy" in joined:
        return "chemotherapy"
    if "immunotherapy" in joined:
        return "immunotherapy"
    return "surgery"


def _lines_of_therapy(low: str) -> Therapy | None:
    m = _NAIVE.search(low)
    if m:
        return Therapy(start=m.start(), end=m.end(), category="any", lines_comparator="=", lines=0)
    m = _LINES.search(low)
    if m:
        n = _NUMBER_WORDS[m.group("n")]
        post = (m.group("post") or "").strip()
        op = comparator(m.group("comp")) if m.group("comp") else ""
        if post.startswith(("or more", "+")):
            op = ">="
        elif post.startswith(("or fewer", "or less")):
            op = "<="
        elif not op or op == "=":
            op = ">=" if re.search(r"\bat\s+least\b|\bprior\b|\bprevious\b", low[max(0, m.start() - 20): m.end()]) and not \
                re.search(r"\bonly\b|\bexactly\b", low) else "="
        return Therapy(start=m.start(), end=m.end(), category="any", lines_comparator=op, lines=n)
    m = _ORDINAL_LINE.search(low)
    if m:
        prior = _ORDINALS[m.group("o")] - 1
        op = ">=" if m.group("post") else "="
        return Therapy(start=m.start(), end=m.end(), category="any", lines_comparator=op, lines=prior)
    return None

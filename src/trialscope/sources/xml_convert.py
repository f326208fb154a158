"""Legacy `clinical_study` XML (public.xsd) -> ClinicalTrials.gov API v2 study dict.

The mapping follows how ClinicalTrials.gov itself carried legacy fields into API v2:
display strings become v2 enums (`Phase 1/Phase 2` -> `["PHASE1", "PHASE2"]`, `U.S. Fed`
-> `FED`), dates become ISO (`January 1, 2019` -> `2019-01-01`) with `Actual` -> `ACTUAL`
and `Anticipated`/`Estimate` -> `ESTIMATED`, and wrapped, indented text blocks are
re-flowed the way v2 stores them. Anything without a v2 home (or a value that does not fit
its v2 field, such as an unparseable date) is kept under ``legacySection``, keyed by its
XML path (`primary_outcome[2]/safety_issue`), so nothing the XML holds is dropped.
`clinical_results` is converted elsewhere (`xml_results`) and skipped here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from ..normalize import age_days, parse_date, years_to_days
from ..record import RecordError, normalize_nct

Element = etree._Element

# --- enumerations ---------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def _enum_name(text: str) -> str:
    """`Active, not recruiting` -> `ACTIVE_NOT_RECRUITING` (v2's own naming rule)."""
    return _NON_ALNUM.sub("_", text.upper()).strip("_")


def _enum(allowed: set[str], special: dict[str, str] | None = None) -> Callable[[str], str | None]:
    """A converter from a legacy display string to a v2 enum value, None if not in `allowed`."""
    special = special or {}
    cache: dict[str, str | None] = {}

    def convert(text: str) -> str | None:
        try:
            return cache[text]
        except KeyError:
            value = special.get(text.lower()) or _enum_name(text)
            result = cache[text] = value if value in allowed else None
            return result

    return convert


STATUS = _enum(
    {
        "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
        "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
        "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
    },
    {"unknown status": "UNKNOWN"},
)
PHASE = _enum(
    {"NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"},
    {"n/a": "NA", "early phase 1": "EARLY_PHASE1", "phase 0": "EARLY_PHASE1",
     "phase 1": "PHASE1", "phase 2": "PHASE2", "phase 3": "PHASE3", "phase 4": "PHASE4"},
)
STUDY_TYPE = _enum({"INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"})
ALLOCATION = _enum({"RANDOMIZED", "NON_RANDOMIZED", "NA"}, {"n/a": "NA"})
INTERVENTION_MODEL = _enum(
    {"SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL"},
    {"single group assignment": "SINGLE_GROUP", "parallel assignment": "PARALLEL",
     "crossover assignment": "CROSSOVER", "factorial assignment": "FACTORIAL",
     "sequential assignment": "SEQUENTIAL"},
)
PRIMARY_PURPOSE = _enum(
    {"TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT", "SUPPORTIVE_CARE", "SCREENING",
     "HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE", "DEVICE_FEASIBILITY", "OTHER"},
    {"educational/counseling/training": "ECT"},
)
MASKING = _enum(
    {"NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"},
    {"none (open label)": "NONE", "open label": "NONE", "none": "NONE", "no masking": "NONE",
     "single blind": "SINGLE", "double blind": "DOUBLE", "double-blind": "DOUBLE",
     "triple blind": "TRIPLE", "quadruple blind": "QUADRUPLE", "single-blind": "SINGLE"},
)
WHO_MASKED = _enum(
    {"PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"},
    {"subject": "PARTICIPANT", "caregiver": "CARE_PROVIDER"},
)
OBSERVATIONAL_MODEL = _enum(
    {"COHORT", "CASE_CONTROL", "CASE_ONLY", "CASE_CROSSOVER", "ECOLOGIC_OR_COMMUNITY",
     "FAMILY_BASED", "DEFINED_POPULATION", "NATURAL_HISTORY", "OTHER"}
)
TIME_PERSPECTIVE = _enum({"RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL", "OTHER"})
RETENTION = _enum({"NONE_RETAINED", "SAMPLES_WITH_DNA", "SAMPLES_WITHOUT_DNA"})
SAMPLING = _enum({"PROBABILITY_SAMPLE", "NON_PROBABILITY_SAMPLE"})
SEX = _enum({"ALL", "FEMALE", "MALE"}, {"both": "ALL"})
AGENCY_CLASS = _enum(
    {"NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"},
    {"u.s. fed": "FED"},
)
ARM_TYPE = _enum(
    {"EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR",
     "NO_INTERVENTION", "OTHER"}
)
INTERVENTION_TYPE = _enum(
    {"BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
     "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER"}
)
OFFICIAL_ROLE = _enum({"STUDY_CHAIR", "STUDY_DIRECTOR", "PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR"})
RESPONSIBLE_PARTY = _enum({"SPONSOR", "PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"})
DATE_TYPE = {"Actual": "ACTUAL", "Anticipated": "ESTIMATED", "Estimate": "ESTIMATED"}
YES_NO = {"Yes": True, "No": False}
HEALTHY = {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}
IPD_SHARING = _enum({"YES", "NO", "UNDECIDED"})
IPD_INFO = _enum(
    {"STUDY_PROTOCOL", "SAP", "ICF", "CSR", "ANALYTIC_CODE"},
    {"statistical analysis plan (sap)": "SAP", "informed consent form (icf)": "ICF",
     "clinical study report (csr)": "CSR"},
)

# --- text -----------------------------------------------------------------------------

# v2 stores free text as markdown and escapes these characters in it.
_MD_SPECIAL = re.compile(r"[\\<>\[\]&*^~]")
_MD_ESCAPE = str.maketrans({c: "\\" + c for c in "\\<>[]&*^~"})
_ITEM = re.compile(r"(-|\*|•|[0-9]{1,3}[.)])\s+")
_ITEM_START = frozenset("-*•0123456789")  # the characters an _ITEM match can begin with


def markdown(text: str) -> str:
    """Plain text as v2 stores it: stripped, markdown characters escaped (`<` -> `\\<`)."""
    text = text.strip()
    return text.translate(_MD_ESCAPE) if _MD_SPECIAL.search(text) else text


def textblock(text: str) -> str:
    """Re-flow an XML text block the way v2 stores it (markdown).

    The XML exporter indented everything, wrapped lines at about 100 columns, put a blank
    line between list items and wrote bullets as `-`. v2 holds one line per paragraph or
    list item, bullets as `* `, nested items indented two spaces per level, and no blank
    line between items of the same list.
    """
    blocks: list[tuple[int, str, list[str]]] = []  # (level or -1 for a paragraph, marker, words)
    columns: list[int] = []  # content column of each open list level
    open_block = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            open_block = False
            continue
        # most lines are wrapped prose: try the item pattern only where one could start
        item = _ITEM.match(stripped) if stripped[0] in _ITEM_START else None
        if open_block and item is None:
            blocks[-1][2].append(stripped)
            continue
        indent = len(line) - len(line.lstrip())
        if item is None:
            while columns and columns[-1] > indent:
                columns.pop()
            if columns and columns[-1] != indent:  # not a paragraph inside an open item
                columns.clear()
            blocks.append((-1, "", [stripped]))
        else:
            column = indent + item.end()
            while columns and columns[-1] >= column:
                columns.pop()
            marker = item.group(1)
            blocks.append((len(columns), "*" if marker in "-*•" else marker, [stripped[item.end():]]))
            columns.append(column)
        open_block = True
    out: list[str] = []
    previous = -1
    for level, marker, words in blocks:
        body = " ".join(words)
        if _MD_SPECIAL.search(body):
            body = body.translate(_MD_ESCAPE)
        if out:
            out.append("\n" if level >= 0 and previous >= 0 and level <= previous else "\n\n")
        out.append(f"{'  ' * level}{marker} {body}" if level >= 0 else body)
        previous = level
    return "".join(out)


def _text(el: Element) -> str:
    """The text of a leaf, stripped."""
    return (el.text or "").strip()


# --- conversion -----------------------------------------------------------------------


class _Builder:
    """Accumulates one study's v2 dict and its legacy leftovers."""

    __slots__ = ("p", "derived", "legacy", "counts", "arms", "interventions", "lead_class", "source", "documents")

    def __init__(self) -> None:
        self.p: dict[str, dict[str, Any]] = {}
        self.derived: dict[str, dict[str, Any]] = {}
        self.legacy: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.arms: list[dict[str, Any]] = []
        self.interventions: list[dict[str, Any]] = []
        self.lead_class: str | None = None
        self.source: str | None = None
        self.documents: list[dict[str, Any]] = []

    def mod(self, name: str) -> dict[str, Any]:
        m = self.p.get(name)
        if m is None:
            m = self.p[name] = {}
        return m

    def index(self, tag: str) -> str:
        """The XML path of the next repeated element `tag`, e.g. `primary_outcome[2]`."""
        n = self.counts.get(tag, 0) + 1
        self.counts[tag] = n
        return f"{tag}[{n}]"

    def keep(self, path: str, value: Any) -> None:
        self.legacy[path] = value

    def block(self, el: Element, path: str) -> str:
        """The re-flowed `textblock` of a text element (other children go to legacySection)."""
        if not len(el):
            return (el.text or "").strip()
        text = ""
        for child in el:
            if child.tag == "textblock":
                text = textblock(child.text or "")
            elif isinstance(child.tag, str):
                self.keep(f"{path}/{child.tag}", _generic(child))
        return text

    def date(self, path: str, text: str) -> str | None:
        try:
            return parse_date(text)
        except ValueError:
            self.keep(path, text)
            return None

    def date_struct(self, el: Element, path: str) -> dict[str, str] | None:
        value = self.date(path, _text(el))
        if value is None:
            return None
        struct = {"date": value}
        kind = el.get("type")
        if kind is not None:
            if kind in DATE_TYPE:
                struct["type"] = DATE_TYPE[kind]
            else:
                self.keep(path + "/@type", kind)
        return struct

    def enum(self, path: str, text: str, convert: Callable[[str], str | None]) -> str | None:
        value = convert(text)
        if value is None:
            self.keep(path, text)
        return value

    def flag(self, path: str, text: str, table: dict[str, bool] = YES_NO) -> bool | None:
        value = table.get(text)
        if value is None:
            self.keep(path, text)
        return value


def _generic(el: Element) -> Any:
    """Any element as plain data: leaf text, else {child: value or [values]} (+ `@attr`)."""
    if not len(el) and not el.attrib:
        return (el.text or "").strip()
    out: dict[str, Any] = {f"@{k}": v for k, v in el.attrib.items()}
    if not len(el):
        out["#text"] = (el.text or "").strip()
        return out
    for child in el:
        if not isinstance(child.tag, str):
            continue
        value = _generic(child)
        if child.tag in out:
            prev = out[child.tag]
            if isinstance(prev, list):
                prev.append(value)
            else:
                out[child.tag] = [prev, value]
        else:
            out[child.tag] = value
    return out


_NAME_PARTS = ("first_name", "middle_name", "last_name", "degrees")
_CONTACT_KEYS = {"phone": "phone", "phone_ext": "phoneExt", "email": "email"}


def _fields(b: _Builder, el: Element, path: str, known: frozenset[str]) -> dict[str, str]:
    """The texts of `el`'s children named in `known`; any other child goes to legacySection."""
    out: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag in known:
            out[tag] = _text(child)
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", _generic(child))
    return out


def _list(b: _Builder, el: Element, tag: str) -> list[str]:
    """The texts of `el`'s `tag` children (a repeated list); any other child goes to legacySection."""
    values = []
    for child in el:
        if child.tag == tag:
            values.append(_text(child))
        elif isinstance(child.tag, str):
            b.keep(f"{el.tag}/{child.tag}", _generic(child))
    return values


def _person(b: _Builder, el: Element, path: str, extra: tuple[str, ...] = ()) -> tuple[str, dict[str, str]]:
    """`first middle last, degrees` and the other child texts (`extra` tags) of a person element."""
    parts: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag in _NAME_PARTS or tag in _CONTACT_KEYS or tag in extra:
            parts[tag] = (child.text or "").strip()
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", _generic(child))
    name = " ".join(parts[t] for t in _NAME_PARTS[:3] if parts.get(t))
    degrees = parts.get("degrees")
    if degrees:
        name = f"{name}, {degrees}" if name else degrees
    return name, parts


def _contact(b: _Builder, el: Element, path: str, role: str | None) -> dict[str, str]:
    name, parts = _person(b, el, path)
    contact: dict[str, str] = {}
    if name:
        contact["name"] = name
    if role:
        contact["role"] = role
    for tag, key in _CONTACT_KEYS.items():
        value = parts.get(tag)
        if value:
            contact[key] = value
    return contact


def _outcome(el: Element, b: _Builder, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag == "measure":
            out["measure"] = _text(child)
        elif tag == "description":
            out["description"] = markdown(child.text or "")
        elif tag == "time_frame":
            out["timeFrame"] = _text(child)
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", _generic(child))
    return out


_STATUS_DATES = {
    "study_first_submitted": "studyFirstSubmitDate",
    "firstreceived_date": "studyFirstSubmitDate",
    "study_first_submitted_qc": "studyFirstSubmitQcDate",
    "results_first_submitted": "resultsFirstSubmitDate",
    "firstreceived_results_date": "resultsFirstSubmitDate",
    "results_first_submitted_qc": "resultsFirstSubmitQcDate",
    "last_update_submitted": "lastUpdateSubmitDate",
    "lastchanged_date": "lastUpdateSubmitDate",
    "disposition_first_submitted": "dispFirstSubmitDate",
    "firstreceived_results_disposition_date": "dispFirstSubmitDate",
    "disposition_first_submitted_qc": "dispFirstSubmitQcDate",
}
_STATUS_STRUCTS = {
    "start_date": "startDateStruct",
    "primary_completion_date": "primaryCompletionDateStruct",
    "completion_date": "completionDateStruct",
    "study_first_posted": "studyFirstPostDateStruct",
    "results_first_posted": "resultsFirstPostDateStruct",
    "last_update_posted": "lastUpdatePostDateStruct",
    "disposition_first_posted": "dispFirstPostDateStruct",
}
_OVERSIGHT = {
    "has_dmc": "oversightHasDmc",
    "is_fda_regulated_drug": "isFdaRegulatedDrug",
    "is_fda_regulated_device": "isFdaRegulatedDevice",
    "is_unapproved_device": "isUnapprovedDevice",
    "is_ppsd": "isPpsd",
    "is_us_export": "isUsExport",
}
_DESIGN_INFO: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "allocation": ("allocation", ALLOCATION),
    "intervention_model": ("interventionModel", INTERVENTION_MODEL),
    "primary_purpose": ("primaryPurpose", PRIMARY_PURPOSE),
    "observational_model": ("observationalModel", OBSERVATIONAL_MODEL),
    "time_perspective": ("timePerspective", TIME_PERSPECTIVE),
}
_MASKING = re.compile(r"^\s*([^()]*?)\s*(?:\((.*)\))?\s*$")


def _masking(b: _Builder, info: dict[str, Any], path: str, text: str) -> None:
    """`Double (Participant, Investigator)` -> masking DOUBLE, whoMasked [...]."""
    m = _MASKING.match(text)
    level = MASKING(m.group(1)) if m else None
    if level is None:
        b.keep(path, text)
        return
    masking = info.setdefault("maskingInfo", {})
    masking["masking"] = level
    if level != "NONE" and m and m.group(2):
        who = [WHO_MASKED(w.strip()) for w in m.group(2).split(",")]
        if None in who:
            b.keep(path, text)
        else:
            masking["whoMasked"] = who


_OLD_DESIGN = re.compile(
    r"(Allocation|Endpoint Classification|Intervention Model|Masking|Primary Purpose|"
    r"Observational Model|Time Perspective):\s*"
)


def _old_study_design(b: _Builder, text: str) -> None:
    """The pre-2017 one-line `study_design` (`Allocation: Randomized, Masking: ...`)."""
    b.keep("study_design", text)
    parts = _OLD_DESIGN.split(text)
    info = b.mod("designModule").setdefault("designInfo", {})
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        value = value.strip().rstrip(",").strip()
        if key == "Masking":
            m = _MASKING.match(value)
            level = MASKING(m.group(1)) if m else None
            if level is not None:
                masking = info.setdefault("maskingInfo", {})
                masking["masking"] = level
                who = [WHO_MASKED(w.strip()) for w in (m.group(2) or "").split(",") if w.strip()]
                if who and None not in who:
                    masking["whoMasked"] = who
            continue
        field = {
            "Allocation": ("allocation", ALLOCATION),
            "Intervention Model": ("interventionModel", INTERVENTION_MODEL),
            "Primary Purpose": ("primaryPurpose", PRIMARY_PURPOSE),
            "Observational Model": ("observationalModel", OBSERVATIONAL_MODEL),
            "Time Perspective": ("timePerspective", TIME_PERSPECTIVE),
        }.get(key)
        if field:
            converted = field[1](value)
            if converted is not None:
                info[field[0]] = converted
    if not info:
        del b.mod("designModule")["designInfo"]


def std_ages(minimum: str | None, maximum: str | None) -> list[str]:
    """v2's derived age groups: CHILD (<18 y), ADULT (18-64 y), OLDER_ADULT (>=65 y)."""
    try:
        low = age_days(minimum) or 0.0
        high = age_days(maximum)
    except ValueError:
        return []
    groups = []
    if low < years_to_days(18):
        groups.append("CHILD")
    if low < years_to_days(65) and (high is None or high >= years_to_days(18)):
        groups.append("ADULT")
    if high is None or high >= years_to_days(65):
        groups.append("OLDER_ADULT")
    return groups


def _eligibility(b: _Builder, el: Element) -> None:
    mod = b.mod("eligibilityModule")
    for child in el:
        tag = child.tag
        path = f"eligibility/{tag}"
        if tag == "criteria":
            mod["eligibilityCriteria"] = b.block(child, path)
        elif tag == "gender":
            value = b.enum(path, _text(child), SEX)
            if value:
                mod["sex"] = value
        elif tag == "gender_based":
            value = b.flag(path, _text(child))
            if value is not None:
                mod["genderBased"] = value
        elif tag == "gender_description":
            mod["genderDescription"] = _text(child)
        elif tag in ("minimum_age", "maximum_age"):
            text = _text(child)
            try:
                limited = age_days(text) is not None
            except ValueError:
                b.keep(path, text)
                continue
            if limited:
                mod["minimumAge" if tag == "minimum_age" else "maximumAge"] = text
        elif tag == "healthy_volunteers":
            value = b.flag(path, _text(child), HEALTHY)
            if value is not None:
                mod["healthyVolunteers"] = value
        elif tag == "study_pop":
            mod["studyPopulation"] = b.block(child, path)
        elif tag == "sampling_method":
            value = b.enum(path, _text(child), SAMPLING)
            if value:
                mod["samplingMethod"] = value
        elif isinstance(tag, str):
            b.keep(path, _generic(child))
    ages = std_ages(mod.get("minimumAge"), mod.get("maximumAge"))
    if ages:
        mod["stdAges"] = ages


def _location(b: _Builder, el: Element) -> dict[str, Any]:
    n = b.counts["location"] = b.counts.get("location", 0) + 1
    loc: dict[str, Any] = {}
    contacts: list[dict[str, str]] = []
    for child in el:
        tag = child.tag
        if tag == "facility":
            for part in child:
                if part.tag == "name":
                    loc["facility"] = (part.text or "").strip()
                elif part.tag == "address":
                    for a in part:
                        if a.tag in _ADDRESS:
                            loc[a.tag] = (a.text or "").strip()
                        elif isinstance(a.tag, str):
                            b.keep(f"location[{n}]/facility/address/{a.tag}", _generic(a))
                elif isinstance(part.tag, str):
                    b.keep(f"location[{n}]/facility/{part.tag}", _generic(part))
        elif tag == "status":
            value = b.enum(f"location[{n}]/status", _text(child), STATUS)
            if value:
                loc["status"] = value
        elif tag == "contact" or tag == "contact_backup":
            contacts.append(_contact(b, child, f"location[{n}]/{tag}", "CONTACT"))
        elif tag == "investigator":
            contacts.append(_investigator(b, child, f"location[{n}]/investigator"))
        elif isinstance(tag, str):
            b.keep(f"location[{n}]/{tag}", _generic(child))
    if contacts:
        loc["contacts"] = contacts
    return loc


_ADDRESS = frozenset(("city", "state", "zip", "country"))


def _investigator(b: _Builder, el: Element, path: str) -> dict[str, str]:
    """A site investigator: a v2 location contact with the investigator's role."""
    name, parts = _person(b, el, path, ("role",))
    contact = {"name": name} if name else {}
    role_text = parts.get("role")
    if role_text:
        role = b.enum(f"{path}/role", role_text, OFFICIAL_ROLE)
        if role:
            contact["role"] = role
    for tag, key in _CONTACT_KEYS.items():
        value = parts.get(tag)
        if value:
            contact[key] = value
    return contact


Handler = Callable[[_Builder, Element], None]
_HANDLERS: dict[str, Handler] = {}


def _on(*tags: str) -> Callable[[Handler], Handler]:
    """Register a converter for the top-level elements `tags`."""

    def register(fn: Handler) -> Handler:
        for tag in tags:
            _HANDLERS[tag] = fn
        return fn

    return register


def _simple(tag: str, module: str, key: str, convert: Callable[[str], str | None] | None = None) -> None:
    """A top-level leaf (or text block) that maps to one v2 field, through `convert` if given."""

    def handle(b: _Builder, el: Element) -> None:
        text = _text(el)
        value = text if convert is None else b.enum(tag, text, convert)
        if value is not None:
            b.mod(module)[key] = value

    _HANDLERS[tag] = handle


for _tag, _module, _key, _convert in (
    ("brief_title", "identificationModule", "briefTitle", None),
    ("official_title", "identificationModule", "officialTitle", None),
    ("acronym", "identificationModule", "acronym", None),
    ("overall_status", "statusModule", "overallStatus", STATUS),
    ("last_known_status", "statusModule", "lastKnownStatus", STATUS),
    ("why_stopped", "statusModule", "whyStopped", None),
    ("target_duration", "designModule", "targetDuration", None),
):
    _simple(_tag, _module, _key, _convert)


@_on("brief_summary", "detailed_description")
def _description(b: _Builder, el: Element) -> None:
    key = "briefSummary" if el.tag == "brief_summary" else "detailedDescription"
    b.mod("descriptionModule")[key] = b.block(el, el.tag)


@_on("source")
def _source(b: _Builder, el: Element) -> None:
    b.source = _text(el)


@_on("id_info")
def _id_info(b: _Builder, el: Element) -> None:
    ident = b.p["identificationModule"]
    for child in el:
        tag = child.tag
        if tag == "org_study_id":
            ident["orgStudyIdInfo"] = {"id": _text(child)}
        elif tag == "secondary_id":
            ident.setdefault("secondaryIdInfos", []).append({"id": _text(child)})
        elif tag == "nct_alias":
            ident.setdefault("nctIdAliases", []).append(_text(child))
        elif tag != "nct_id" and isinstance(tag, str):
            b.keep(f"id_info/{tag}", _generic(child))


_SPONSOR_FIELDS = frozenset(("agency", "agency_class"))


@_on("sponsors")
def _sponsors(b: _Builder, el: Element) -> None:
    mod = b.mod("sponsorCollaboratorsModule")
    for child in el:
        tag = child.tag
        if tag not in ("lead_sponsor", "collaborator"):
            if isinstance(tag, str):
                b.keep(f"sponsors/{tag}", _generic(child))
            continue
        path = "sponsors/lead_sponsor" if tag == "lead_sponsor" else b.index("sponsors/collaborator")
        fields = _fields(b, child, path, _SPONSOR_FIELDS)
        sponsor = {"name": fields.get("agency", "")}
        cls = fields.get("agency_class")
        if cls:
            value = b.enum(f"{path}/agency_class", cls, AGENCY_CLASS)
            if value:
                sponsor["class"] = value
        if tag == "lead_sponsor":
            mod["leadSponsor"] = sponsor
            b.lead_class = sponsor.get("class")
        else:
            mod.setdefault("collaborators", []).append(sponsor)


@_on("oversight_info")
def _oversight(b: _Builder, el: Element) -> None:
    mod = b.mod("oversightModule")
    for child in el:
        tag = child.tag
        key = _OVERSIGHT.get(tag)
        if key:
            value = b.flag(f"oversight_info/{tag}", _text(child))
            if value is not None:
                mod[key] = value
        elif isinstance(tag, str):  # e.g. the pre-2017 `authority`, repeated
            b.legacy.setdefault(f"oversight_info/{tag}", []).append(_text(child))


@_on("verification_date", *_STATUS_DATES)
def _status_date(b: _Builder, el: Element) -> None:
    value = b.date(el.tag, _text(el))
    if value:
        b.p["statusModule"][_STATUS_DATES.get(el.tag, "statusVerifiedDate")] = value


@_on(*_STATUS_STRUCTS)
def _status_struct(b: _Builder, el: Element) -> None:
    struct = b.date_struct(el, el.tag)
    if struct:
        b.p["statusModule"][_STATUS_STRUCTS[el.tag]] = struct


@_on("has_expanded_access")
def _has_expanded_access(b: _Builder, el: Element) -> None:
    value = b.flag(el.tag, _text(el))
    if value is not None:
        b.p["statusModule"]["expandedAccessInfo"] = {"hasExpandedAccess": value}


@_on("expanded_access_info")
def _expanded_access_info(b: _Builder, el: Element) -> None:
    types = {}
    for child in el:
        if isinstance(child.tag, str):
            value = b.flag(f"expanded_access_info/{child.tag}", _text(child))
            if value is not None:
                types[child.tag.removeprefix("expanded_access_type_")] = value
    if types:
        b.mod("designModule")["expandedAccessTypes"] = types


@_on("phase")
def _phase(b: _Builder, el: Element) -> None:
    text = _text(el)
    phases = [PHASE(text)] if text == "N/A" else [PHASE(p.strip()) for p in text.split("/")]
    if None in phases:
        b.keep("phase", text)
    else:
        b.mod("designModule")["phases"] = phases


@_on("study_type")
def _study_type(b: _Builder, el: Element) -> None:
    text = _text(el)
    registry = text.endswith("[Patient Registry]")
    value = b.enum("study_type", text.removesuffix("[Patient Registry]").strip(), STUDY_TYPE)
    if value:
        design = b.mod("designModule")
        design["studyType"] = value
        if registry:
            design["patientRegistry"] = True


@_on("study_design_info")
def _study_design_info(b: _Builder, el: Element) -> None:
    info = b.mod("designModule").setdefault("designInfo", {})
    for child in el:
        tag = child.tag
        path = f"study_design_info/{tag}"
        if tag == "masking":
            _masking(b, info, path, _text(child))
        elif tag == "masking_description":
            info.setdefault("maskingInfo", {})["maskingDescription"] = markdown(child.text or "")
        elif tag == "intervention_model_description":
            info["interventionModelDescription"] = markdown(child.text or "")
        elif tag in _DESIGN_INFO:
            key, convert = _DESIGN_INFO[tag]
            value = b.enum(path, _text(child), convert)
            if value:
                info[key] = value
        elif isinstance(tag, str):
            b.keep(path, _generic(child))


@_on("study_design")
def _study_design(b: _Builder, el: Element) -> None:
    _old_study_design(b, _text(el))


@_on("biospec_retention")
def _biospec_retention(b: _Builder, el: Element) -> None:
    value = b.enum(el.tag, _text(el), RETENTION)
    if value:
        b.mod("designModule").setdefault("bioSpec", {})["retention"] = value


@_on("biospec_descr")
def _biospec_descr(b: _Builder, el: Element) -> None:
    b.mod("designModule").setdefault("bioSpec", {})["description"] = b.block(el, el.tag)


@_on("enrollment")
def _enrollment(b: _Builder, el: Element) -> None:
    text = _text(el)
    if not text.isdigit():
        b.keep("enrollment", _generic(el))
        return
    info: dict[str, Any] = {"count": int(text)}
    kind = el.get("type")
    if kind in DATE_TYPE:
        info["type"] = DATE_TYPE[kind]
    elif kind is not None:
        b.keep("enrollment/@type", kind)
    b.mod("designModule")["enrollmentInfo"] = info


_OUTCOME_KEYS = {
    "primary_outcome": "primaryOutcomes", "secondary_outcome": "secondaryOutcomes", "other_outcome": "otherOutcomes",
}


@_on(*_OUTCOME_KEYS)
def _outcomes(b: _Builder, el: Element) -> None:
    b.mod("outcomesModule").setdefault(_OUTCOME_KEYS[el.tag], []).append(_outcome(el, b, b.index(el.tag)))


@_on("condition", "keyword")
def _conditions(b: _Builder, el: Element) -> None:
    key = "conditions" if el.tag == "condition" else "keywords"
    b.mod("conditionsModule").setdefault(key, []).append(_text(el))


@_on("arm_group")
def _arm_group(b: _Builder, el: Element) -> None:
    path = b.index("arm_group")
    arm: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        if tag == "arm_group_label":
            arm["label"] = _text(child)
        elif tag == "arm_group_type":
            value = b.enum(f"{path}/arm_group_type", _text(child), ARM_TYPE)
            if value:
                arm["type"] = value
        elif tag == "description":
            arm["description"] = markdown(child.text or "")
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", _generic(child))
    b.arms.append(arm)


@_on("intervention")
def _intervention(b: _Builder, el: Element) -> None:
    path = b.index("intervention")
    item: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        if tag == "intervention_type":
            value = b.enum(f"{path}/intervention_type", _text(child), INTERVENTION_TYPE)
            if value:
                item["type"] = value
        elif tag == "intervention_name":
            item["name"] = _text(child)
        elif tag == "description":
            item["description"] = markdown(child.text or "")
        elif tag == "arm_group_label":
            item.setdefault("armGroupLabels", []).append(_text(child))
        elif tag == "other_name":
            item.setdefault("otherNames", []).append(_text(child))
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", _generic(child))
    b.interventions.append(item)


_HANDLERS["eligibility"] = _eligibility


@_on("overall_contact", "overall_contact_backup")
def _overall_contact(b: _Builder, el: Element) -> None:
    contact = _contact(b, el, el.tag, "CONTACT")
    b.mod("contactsLocationsModule").setdefault("centralContacts", []).append(contact)


@_on("overall_official")
def _overall_official(b: _Builder, el: Element) -> None:
    path = b.index("overall_official")
    name, parts = _person(b, el, path, ("affiliation", "role"))
    official: dict[str, str] = {"name": name} if name else {}
    if parts.get("affiliation"):
        official["affiliation"] = parts["affiliation"]
    if parts.get("role"):
        value = b.enum(f"{path}/role", parts["role"], OFFICIAL_ROLE)
        if value:
            official["role"] = value
    b.mod("contactsLocationsModule").setdefault("overallOfficials", []).append(official)


@_on("location")
def _locations(b: _Builder, el: Element) -> None:
    b.mod("contactsLocationsModule").setdefault("locations", []).append(_location(b, el))


_REFERENCE_FIELDS = frozenset(("PMID", "citation"))


@_on("reference", "results_reference")
def _reference(b: _Builder, el: Element) -> None:
    fields = _fields(b, el, b.index(el.tag), _REFERENCE_FIELDS)
    ref: dict[str, str] = {}
    if fields.get("PMID"):
        ref["pmid"] = fields["PMID"]
    ref["type"] = "RESULT" if el.tag == "results_reference" else "BACKGROUND"
    if fields.get("citation"):
        ref["citation"] = fields["citation"]
    b.mod("referencesModule").setdefault("references", []).append(ref)


_LINK_FIELDS = frozenset(("url", "description"))


@_on("link")
def _link(b: _Builder, el: Element) -> None:
    fields = _fields(b, el, b.index("link"), _LINK_FIELDS)
    link: dict[str, str] = {}
    if fields.get("description"):
        link["label"] = markdown(fields["description"])
    link["url"] = fields.get("url", "")
    b.mod("referencesModule").setdefault("seeAlsoLinks", []).append(link)


_DOC_KEYS = {"doc_id": "id", "doc_type": "type", "doc_url": "url", "doc_comment": "comment"}
_DOC_FIELDS = frozenset(_DOC_KEYS)


@_on("study_docs")
def _study_docs(b: _Builder, el: Element) -> None:
    docs = b.mod("referencesModule").setdefault("availIpds", [])
    for doc in el:
        if doc.tag == "study_doc":
            fields = _fields(b, doc, b.index("study_docs/study_doc"), _DOC_FIELDS)
            docs.append({_DOC_KEYS[tag]: value for tag, value in fields.items()})
        elif isinstance(doc.tag, str):
            b.keep(f"study_docs/{doc.tag}", _generic(doc))


@_on("patient_data")
def _patient_data(b: _Builder, el: Element) -> None:
    ipd = b.mod("ipdSharingStatementModule")
    for child in el:
        tag = child.tag
        path = f"patient_data/{tag}"
        if tag == "sharing_ipd":
            value = b.enum(path, _text(child), IPD_SHARING)
            if value:
                ipd["ipdSharing"] = value
        elif tag == "ipd_info_type":
            value = b.enum(path, _text(child), IPD_INFO)
            if value:
                ipd.setdefault("infoTypes", []).append(value)
        elif tag in ("ipd_description", "ipd_access_criteria"):
            ipd["description" if tag == "ipd_description" else "accessCriteria"] = markdown(child.text or "")
        elif tag == "ipd_time_frame":
            ipd["timeFrame"] = _text(child)
        elif tag == "ipd_url":
            ipd["url"] = _text(child)
        elif isinstance(tag, str):
            b.keep(path, _generic(child))


_PARTY_KEYS = {
    "investigator_full_name": "investigatorFullName", "investigator_title": "investigatorTitle",
    "investigator_affiliation": "investigatorAffiliation", "name_title": "oldNameTitle",
    "organization": "oldOrganization",
}


@_on("responsible_party")
def _responsible_party(b: _Builder, el: Element) -> None:
    party: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag == "responsible_party_type":
            value = b.enum("responsible_party/responsible_party_type", _text(child), RESPONSIBLE_PARTY)
            if value:
                party["type"] = value
        elif tag in _PARTY_KEYS:
            party[_PARTY_KEYS[tag]] = _text(child)
        elif isinstance(tag, str):
            b.keep(f"responsible_party/{tag}", _generic(child))
    if party:
        b.mod("sponsorCollaboratorsModule")["responsibleParty"] = party


_DOC_FLAGS = {"document_has_protocol": "hasProtocol", "document_has_sap": "hasSap", "document_has_icf": "hasIcf"}
_DOC_FILE = re.compile(r"([^/]+?)_[0-9]+\.[A-Za-z]+$")


@_on("provided_document_section")
def _provided_documents(b: _Builder, el: Element) -> None:
    """Uploaded protocol/SAP/ICF documents -> v2 `documentSection.largeDocumentModule`."""
    docs = []
    for doc in el:
        if doc.tag != "provided_document":
            if isinstance(doc.tag, str):
                b.keep(f"provided_document_section/{doc.tag}", _generic(doc))
            continue
        path = b.index("provided_document_section/provided_document")
        entry: dict[str, Any] = {}
        for child in doc:
            tag = child.tag
            if tag == "document_type":
                entry["label"] = _text(child)
            elif tag in _DOC_FLAGS:
                value = b.flag(f"{path}/{tag}", _text(child))
                if value is not None:
                    entry[_DOC_FLAGS[tag]] = value
            elif tag == "document_date":
                value = b.date(f"{path}/{tag}", _text(child))
                if value:
                    entry["date"] = value
            elif tag == "document_url":  # .../ProvidedDocs/31/NCT03949231/Prot_SAP_000.pdf
                url = _text(child)
                b.keep(f"{path}/{tag}", url)
                filename = url.rsplit("/", 1)[-1]
                m = _DOC_FILE.match(filename)
                if m:
                    entry["typeAbbrev"] = m.group(1)
                    entry["filename"] = filename
            elif isinstance(tag, str):
                b.keep(f"{path}/{tag}", _generic(child))
        docs.append(entry)
    if docs:
        b.documents = docs


@_on("condition_browse", "intervention_browse")
def _browse(b: _Builder, el: Element) -> None:
    meshes = [{"term": term} for term in _list(b, el, "mesh_term")]
    if meshes:
        key = "conditionBrowseModule" if el.tag == "condition_browse" else "interventionBrowseModule"
        b.derived[key] = {"meshes": meshes}


@_on("removed_countries")
def _removed_countries(b: _Builder, el: Element) -> None:
    countries = _list(b, el, "country")
    b.derived.setdefault("miscInfoModule", {})["removedCountries"] = countries


@_on("location_countries")
def _location_countries(b: _Builder, el: Element) -> None:
    b.keep("location_countries", _list(b, el, "country"))


def _skip(b: _Builder, el: Element) -> None:
    """`clinical_results` is converted by `xml_results` (see `sources.xml`)."""


_HANDLERS["clinical_results"] = _skip


def _keep(b: _Builder, el: Element) -> None:
    if isinstance(el.tag, str):
        b.keep(el.tag, _generic(el))


def convert_study(root: Element) -> dict[str, Any]:
    """Convert one `<clinical_study>` element into an API v2 study dict.

    Raises RecordError if the study has no valid `id_info/nct_id`.
    """
    nct_text = root.findtext("id_info/nct_id")
    if nct_text is None or not nct_text.strip():
        raise RecordError("missing id_info/nct_id")
    try:
        nct = normalize_nct(nct_text)
    except RecordError as exc:
        raise RecordError(f"id_info/nct_id: {exc}") from None

    b = _Builder()
    ident = b.p["identificationModule"] = {"nctId": nct}
    b.p["statusModule"] = {}
    for name, value in root.attrib.items():  # e.g. the 2016 snapshot's `rank`
        b.keep(f"@{name}", value)
    handlers = _HANDLERS
    for el in root:
        handlers.get(el.tag, _keep)(b, el)

    if b.source:
        org = {"fullName": b.source}
        if b.lead_class:  # v2 gives the organization its lead sponsor's class
            org["class"] = b.lead_class
        ident["organization"] = org
    if b.arms or b.interventions:
        _link_arms(b.arms, b.interventions)
        mod = b.mod("armsInterventionsModule")
        if b.arms:
            mod["armGroups"] = b.arms
        if b.interventions:
            mod["interventions"] = b.interventions
    if not b.p["statusModule"]:
        del b.p["statusModule"]
    design = b.p.get("designModule")
    if design is not None and design.get("designInfo") == {}:
        del design["designInfo"]

    record: dict[str, Any] = {"protocolSection": _ordered(b.p)}
    if b.documents:
        record["documentSection"] = {"largeDocumentModule": {"largeDocs": b.documents}}
    if b.derived:
        record["derivedSection"] = b.derived
    record["hasResults"] = False
    if b.legacy:
        record["legacySection"] = b.legacy
    return record


def _link_arms(arms: list[dict[str, Any]], interventions: list[dict[str, Any]]) -> None:
    """v2 lists each arm's interventions as `Type: Name` (`Drug: Toripalimab`)."""
    by_label = {arm.get("label"): arm for arm in arms}
    for item in interventions:
        kind = item.get("type")
        name = item.get("name", "")
        display = f"{_TYPE_DISPLAY.get(kind, kind)}: {name}" if kind else name
        for label in item.get("armGroupLabels", ()):
            arm = by_label.get(label)
            if arm is not None:
                arm.setdefault("interventionNames", []).append(display)


_TYPE_DISPLAY = {
    "BEHAVIORAL": "Behavioral", "BIOLOGICAL": "Biological", "COMBINATION_PRODUCT": "Combination Product",
    "DEVICE": "Device", "DIAGNOSTIC_TEST": "Diagnostic Test", "DIETARY_SUPPLEMENT": "Dietary Supplement",
    "DRUG": "Drug", "GENETIC": "Genetic", "PROCEDURE": "Procedure", "RADIATION": "Radiation", "OTHER": "Other",
}

_MODULE_ORDER = (
    "identificationModule", "statusModule", "sponsorCollaboratorsModule", "oversightModule",
    "descriptionModule", "conditionsModule", "designModule", "armsInterventionsModule",
    "outcomesModule", "eligibilityModule", "contactsLocationsModule", "referencesModule",
    "ipdSharingStatementModule",
)


def _ordered(modules: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Modules in v2's order (readers showing raw JSON see the familiar layout)."""
    return {name: modules[name] for name in _MODULE_ORDER if name in modules}

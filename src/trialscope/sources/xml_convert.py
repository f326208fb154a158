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
    {"none (open label)": "NONE", "open label": "NONE", "none": "NONE",
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
_MD_ESCAPE = str.maketrans({c: "\\" + c for c in "\\<>[]&*^~"})
_ITEM = re.compile(r"(-|\*|•|\d{1,3}[.)])\s+")


def markdown(text: str) -> str:
    """Plain text as v2 stores it: stripped, markdown characters escaped (`<` -> `\\<`)."""
    return text.strip().translate(_MD_ESCAPE)


def textblock(text: str) -> str:
    """Re-flow an XML text block the way v2 stores it (markdown).

    The XML exporter indented everything, wrapped lines at about 100 columns, put a blank
    line between list items and wrote bullets as `-`. v2 holds one line per paragraph or
    list item, bullets as `* `, nested items indented two spaces per level, and no blank
    line between items of the same list.
    """
    lines = [line.rstrip() for line in text.split("\n")]
    blocks: list[tuple[int, str, list[str]]] = []  # (level or -1 for a paragraph, marker, words)
    columns: list[int] = []  # content column of each open list level
    open_block = False
    for line in lines:
        stripped = line.lstrip()
        if not stripped:
            open_block = False
            continue
        item = _ITEM.match(stripped)
        if open_block and item is None:
            blocks[-1][2].append(stripped)
            continue
        indent = len(line) - len(stripped)
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
        body = " ".join(words).translate(_MD_ESCAPE)
        if out:
            out.append("\n" if level >= 0 and previous >= 0 and level <= previous else "\n\n")
        out.append(f"{'  ' * level}{marker} {body}" if level >= 0 else body)
        previous = level
    return "".join(out)


def _text(el: Element) -> str:
    """The text of a leaf, or of its `textblock` child, stripped."""
    if len(el):
        block = el.find("textblock")
        if block is not None:
            return textblock(block.text or "")
    return (el.text or "").strip()


# --- conversion -----------------------------------------------------------------------


class _Builder:
    """Accumulates one study's v2 dict and its legacy leftovers."""

    __slots__ = ("p", "derived", "legacy", "counts")

    def __init__(self) -> None:
        self.p: dict[str, dict[str, Any]] = {}
        self.derived: dict[str, dict[str, Any]] = {}
        self.legacy: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

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


def _person(el: Element) -> str:
    """`first middle last, degrees` from a contact/investigator element."""
    parts = [t for t in (el.findtext("first_name"), el.findtext("middle_name"), el.findtext("last_name")) if t]
    name = " ".join(p.strip() for p in parts)
    degrees = el.findtext("degrees")
    if degrees:
        name = f"{name}, {degrees.strip()}" if name else degrees.strip()
    return name


def _contact(el: Element, role: str | None) -> dict[str, str]:
    contact: dict[str, str] = {}
    name = _person(el)
    if name:
        contact["name"] = name
    if role:
        contact["role"] = role
    for tag, key in (("phone", "phone"), ("phone_ext", "phoneExt"), ("email", "email")):
        value = el.findtext(tag)
        if value:
            contact[key] = value.strip()
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
    "intervention_model_description": ("interventionModelDescription", markdown),
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
            mod["eligibilityCriteria"] = _text(child)
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
            mod["studyPopulation"] = _text(child)
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
    path = b.index("location")
    loc: dict[str, Any] = {}
    contacts: list[dict[str, str]] = []
    for child in el:
        tag = child.tag
        if tag == "facility":
            for part in child:
                if part.tag == "name":
                    loc["facility"] = _text(part)
                elif part.tag == "address":
                    for a in part:
                        if a.tag in ("city", "state", "zip", "country"):
                            loc[a.tag] = _text(a)
                        elif isinstance(a.tag, str):
                            b.keep(f"{path}/facility/address/{a.tag}", _generic(a))
                elif isinstance(part.tag, str):
                    b.keep(f"{path}/facility/{part.tag}", _generic(part))
        elif tag == "status":
            value = b.enum(f"{path}/status", _text(child), STATUS)
            if value:
                loc["status"] = value
        elif tag in ("contact", "contact_backup"):
            contacts.append(_contact(child, "CONTACT"))
        elif tag == "investigator":
            role_text = child.findtext("role")
            role = OFFICIAL_ROLE(role_text) if role_text else None
            if role_text and role is None:
                b.keep(f"{path}/investigator/role", role_text)
            contacts.append(_contact(child, role))
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", _generic(child))
    if contacts:
        loc["contacts"] = contacts
    return loc


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
    ident = b.mod("identificationModule")
    ident["nctId"] = nct
    status = b.mod("statusModule")
    arms: list[dict[str, Any]] = []
    interventions: list[dict[str, Any]] = []
    lead_class: str | None = None
    source: str | None = None
    for name, value in root.attrib.items():  # e.g. the 2016 snapshot's `rank`
        b.keep(f"@{name}", value)

    for el in root:
        tag = el.tag
        if not isinstance(tag, str) or tag == "clinical_results":
            continue
        if tag == "id_info":
            for child in el:
                if child.tag == "org_study_id":
                    ident["orgStudyIdInfo"] = {"id": _text(child)}
                elif child.tag == "secondary_id":
                    ident.setdefault("secondaryIdInfos", []).append({"id": _text(child)})
                elif child.tag == "nct_alias":
                    ident.setdefault("nctIdAliases", []).append(_text(child))
                elif child.tag != "nct_id" and isinstance(child.tag, str):
                    b.keep(f"id_info/{child.tag}", _generic(child))
        elif tag == "brief_title":
            ident["briefTitle"] = _text(el)
        elif tag == "official_title":
            ident["officialTitle"] = _text(el)
        elif tag == "acronym":
            ident["acronym"] = _text(el)
        elif tag == "source":
            source = _text(el)
        elif tag == "sponsors":
            mod = b.mod("sponsorCollaboratorsModule")
            for child in el:
                if child.tag not in ("lead_sponsor", "collaborator"):
                    if isinstance(child.tag, str):
                        b.keep(f"sponsors/{child.tag}", _generic(child))
                    continue
                sponsor = {"name": child.findtext("agency", "").strip()}
                cls = child.findtext("agency_class")
                if cls:
                    path = "sponsors/lead_sponsor" if child.tag == "lead_sponsor" else b.index("sponsors/collaborator")
                    value = b.enum(f"{path}/agency_class", cls.strip(), AGENCY_CLASS)
                    if value:
                        sponsor["class"] = value
                if child.tag == "lead_sponsor":
                    mod["leadSponsor"] = sponsor
                    lead_class = sponsor.get("class")
                else:
                    mod.setdefault("collaborators", []).append(sponsor)
        elif tag == "oversight_info":
            mod = b.mod("oversightModule")
            for child in el:
                key = _OVERSIGHT.get(child.tag)
                if key:
                    value = b.flag(f"oversight_info/{child.tag}", _text(child))
                    if value is not None:
                        mod[key] = value
                elif isinstance(child.tag, str):
                    b.legacy.setdefault(f"oversight_info/{child.tag}", []).append(_text(child))
        elif tag == "brief_summary":
            b.mod("descriptionModule")["briefSummary"] = _text(el)
        elif tag == "detailed_description":
            b.mod("descriptionModule")["detailedDescription"] = _text(el)
        elif tag == "overall_status":
            value = b.enum(tag, _text(el), STATUS)
            if value:
                status["overallStatus"] = value
        elif tag == "last_known_status":
            value = b.enum(tag, _text(el), STATUS)
            if value:
                status["lastKnownStatus"] = value
        elif tag == "why_stopped":
            status["whyStopped"] = _text(el)
        elif tag == "verification_date":
            value = b.date(tag, _text(el))
            if value:
                status["statusVerifiedDate"] = value
        elif tag in _STATUS_STRUCTS:
            struct = b.date_struct(el, tag)
            if struct:
                status[_STATUS_STRUCTS[tag]] = struct
        elif tag in _STATUS_DATES:
            value = b.date(tag, _text(el))
            if value:
                status[_STATUS_DATES[tag]] = value
        elif tag == "has_expanded_access":
            value = b.flag(tag, _text(el))
            if value is not None:
                status["expandedAccessInfo"] = {"hasExpandedAccess": value}
        elif tag == "expanded_access_info":
            types = {}
            for child in el:
                if isinstance(child.tag, str):
                    value = b.flag(f"expanded_access_info/{child.tag}", _text(child))
                    if value is not None:
                        types[child.tag.removeprefix("expanded_access_type_")] = value
            if types:
                b.mod("designModule")["expandedAccessTypes"] = types
        elif tag == "phase":
            text = _text(el)
            phases = [PHASE(p.strip()) for p in text.split("/")]
            if None in phases:
                b.keep(tag, text)
            else:
                b.mod("designModule")["phases"] = phases
        elif tag == "study_type":
            text = _text(el)
            registry = text.endswith("[Patient Registry]")
            value = b.enum(tag, text.removesuffix("[Patient Registry]").strip(), STUDY_TYPE)
            if value:
                design = b.mod("designModule")
                design["studyType"] = value
                if registry:
                    design["patientRegistry"] = True
        elif tag == "study_design_info":
            info = b.mod("designModule").setdefault("designInfo", {})
            for child in el:
                ctag = child.tag
                path = f"study_design_info/{ctag}"
                if ctag == "masking":
                    _masking(b, info, path, _text(child))
                elif ctag == "masking_description":
                    info.setdefault("maskingInfo", {})["maskingDescription"] = markdown(child.text or "")
                elif ctag in _DESIGN_INFO:
                    key, convert = _DESIGN_INFO[ctag]
                    if convert is markdown:
                        value = markdown(child.text or "")
                    else:
                        value = b.enum(path, _text(child), convert)
                    if value:
                        info[key] = value
                elif isinstance(ctag, str):
                    b.keep(path, _generic(child))
        elif tag == "study_design":
            _old_study_design(b, _text(el))
        elif tag == "target_duration":
            b.mod("designModule")["targetDuration"] = _text(el)
        elif tag == "biospec_retention":
            value = b.enum(tag, _text(el), RETENTION)
            if value:
                b.mod("designModule").setdefault("bioSpec", {})["retention"] = value
        elif tag == "biospec_descr":
            b.mod("designModule").setdefault("bioSpec", {})["description"] = _text(el)
        elif tag == "enrollment":
            text = _text(el)
            if text.isdigit():
                info = {"count": int(text)}
                kind = el.get("type")
                if kind in DATE_TYPE:
                    info["type"] = DATE_TYPE[kind]
                elif kind is not None:
                    b.keep("enrollment/@type", kind)
                b.mod("designModule")["enrollmentInfo"] = info
            else:
                b.keep(tag, _generic(el))
        elif tag in ("primary_outcome", "secondary_outcome", "other_outcome"):
            key = {"primary_outcome": "primaryOutcomes", "secondary_outcome": "secondaryOutcomes",
                   "other_outcome": "otherOutcomes"}[tag]
            b.mod("outcomesModule").setdefault(key, []).append(_outcome(el, b, b.index(tag)))
        elif tag == "condition":
            b.mod("conditionsModule").setdefault("conditions", []).append(_text(el))
        elif tag == "keyword":
            b.mod("conditionsModule").setdefault("keywords", []).append(_text(el))
        elif tag == "arm_group":
            path = b.index(tag)
            arm: dict[str, Any] = {}
            for child in el:
                if child.tag == "arm_group_label":
                    arm["label"] = _text(child)
                elif child.tag == "arm_group_type":
                    value = b.enum(f"{path}/arm_group_type", _text(child), ARM_TYPE)
                    if value:
                        arm["type"] = value
                elif child.tag == "description":
                    arm["description"] = markdown(child.text or "")
                elif isinstance(child.tag, str):
                    b.keep(f"{path}/{child.tag}", _generic(child))
            arms.append(arm)
        elif tag == "intervention":
            path = b.index(tag)
            item: dict[str, Any] = {}
            for child in el:
                ctag = child.tag
                if ctag == "intervention_type":
                    value = b.enum(f"{path}/intervention_type", _text(child), INTERVENTION_TYPE)
                    if value:
                        item["type"] = value
                elif ctag == "intervention_name":
                    item["name"] = _text(child)
                elif ctag == "description":
                    item["description"] = markdown(child.text or "")
                elif ctag == "arm_group_label":
                    item.setdefault("armGroupLabels", []).append(_text(child))
                elif ctag == "other_name":
                    item.setdefault("otherNames", []).append(_text(child))
                elif isinstance(ctag, str):
                    b.keep(f"{path}/{ctag}", _generic(child))
            interventions.append(item)
        elif tag == "eligibility":
            _eligibility(b, el)
        elif tag in ("overall_contact", "overall_contact_backup"):
            b.mod("contactsLocationsModule").setdefault("centralContacts", []).append(_contact(el, "CONTACT"))
        elif tag == "overall_official":
            path = b.index(tag)
            official: dict[str, str] = {}
            name = _person(el)
            if name:
                official["name"] = name
            affiliation = el.findtext("affiliation")
            if affiliation:
                official["affiliation"] = affiliation.strip()
            role = el.findtext("role")
            if role:
                value = b.enum(f"{path}/role", role.strip(), OFFICIAL_ROLE)
                if value:
                    official["role"] = value
            b.mod("contactsLocationsModule").setdefault("overallOfficials", []).append(official)
        elif tag == "location":
            b.mod("contactsLocationsModule").setdefault("locations", []).append(_location(b, el))
        elif tag in ("reference", "results_reference"):
            ref: dict[str, str] = {}
            pmid = el.findtext("PMID")
            if pmid:
                ref["pmid"] = pmid.strip()
            ref["type"] = "RESULT" if tag == "results_reference" else "BACKGROUND"
            citation = el.findtext("citation")
            if citation:
                ref["citation"] = citation.strip()
            b.mod("referencesModule").setdefault("references", []).append(ref)
        elif tag == "link":
            link: dict[str, str] = {}
            label = el.findtext("description")
            if label:
                link["label"] = markdown(label)
            link["url"] = (el.findtext("url") or "").strip()
            b.mod("referencesModule").setdefault("seeAlsoLinks", []).append(link)
        elif tag == "study_docs":
            docs = b.mod("referencesModule").setdefault("availIpds", [])
            for doc in el:
                if doc.tag != "study_doc":
                    continue
                entry: dict[str, str] = {}
                for child in doc:
                    key = {"doc_id": "id", "doc_type": "type", "doc_url": "url", "doc_comment": "comment"}.get(child.tag)
                    if key:
                        entry[key] = _text(child)
                docs.append(entry)
        elif tag == "patient_data":
            ipd = b.mod("ipdSharingStatementModule")
            for child in el:
                ctag = child.tag
                path = f"patient_data/{ctag}"
                if ctag == "sharing_ipd":
                    value = b.enum(path, _text(child), IPD_SHARING)
                    if value:
                        ipd["ipdSharing"] = value
                elif ctag == "ipd_description":
                    ipd["description"] = markdown(child.text or "")
                elif ctag == "ipd_info_type":
                    value = b.enum(path, _text(child), IPD_INFO)
                    if value:
                        ipd.setdefault("infoTypes", []).append(value)
                elif ctag == "ipd_time_frame":
                    ipd["timeFrame"] = _text(child)
                elif ctag == "ipd_access_criteria":
                    ipd["accessCriteria"] = markdown(child.text or "")
                elif ctag == "ipd_url":
                    ipd["url"] = _text(child)
                elif isinstance(ctag, str):
                    b.keep(path, _generic(child))
        elif tag == "responsible_party":
            party: dict[str, str] = {}
            for child in el:
                ctag = child.tag
                if ctag == "responsible_party_type":
                    value = b.enum("responsible_party/responsible_party_type", _text(child), RESPONSIBLE_PARTY)
                    if value:
                        party["type"] = value
                elif ctag == "investigator_full_name":
                    party["investigatorFullName"] = _text(child)
                elif ctag == "investigator_title":
                    party["investigatorTitle"] = _text(child)
                elif ctag == "investigator_affiliation":
                    party["investigatorAffiliation"] = _text(child)
                elif ctag == "name_title":
                    party["oldNameTitle"] = _text(child)
                elif ctag == "organization":
                    party["oldOrganization"] = _text(child)
                elif isinstance(ctag, str):
                    b.keep(f"responsible_party/{ctag}", _generic(child))
            if party:
                b.mod("sponsorCollaboratorsModule")["responsibleParty"] = party
        elif tag in ("condition_browse", "intervention_browse"):
            key = "conditionBrowseModule" if tag == "condition_browse" else "interventionBrowseModule"
            meshes = [{"term": _text(t)} for t in el if t.tag == "mesh_term"]
            if meshes:
                b.derived[key] = {"meshes": meshes}
        elif tag == "removed_countries":
            countries = [_text(c) for c in el if c.tag == "country"]
            b.derived.setdefault("miscInfoModule", {})["removedCountries"] = countries
        elif tag == "location_countries":
            b.keep(tag, [_text(c) for c in el if c.tag == "country"])
        else:
            b.keep(tag, _generic(el))

    if source:
        org = {"fullName": source}
        if lead_class:  # v2 gives the organization its lead sponsor's class
            org["class"] = lead_class
        ident["organization"] = org
    if arms or interventions:
        _link_arms(arms, interventions)
        mod = b.mod("armsInterventionsModule")
        if arms:
            mod["armGroups"] = arms
        if interventions:
            mod["interventions"] = interventions
    for mod_name in ("statusModule",):
        if not b.p.get(mod_name):
            b.p.pop(mod_name, None)
    design = b.p.get("designModule")
    if design is not None and design.get("designInfo") == {}:
        del design["designInfo"]

    record: dict[str, Any] = {"protocolSection": _ordered(b.p)}
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

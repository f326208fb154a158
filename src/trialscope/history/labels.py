"""Words for people: module and field names of the v2 structure, enum values, dates, counts.

A diff speaks of "Enrollment: 200 (estimated) → 187 (actual)", not of
`protocolSection.designModule.enrollmentInfo`; everything shown is made here.
"""

from __future__ import annotations

import re
from typing import Any

from ..normalize import unescape_markdown

# (section, module) -> label, in the order the record page shows them
MODULES: dict[tuple[str, str], str] = {
    ("protocolSection", "identificationModule"): "Identification",
    ("protocolSection", "statusModule"): "Status",
    ("protocolSection", "sponsorCollaboratorsModule"): "Sponsor and collaborators",
    ("protocolSection", "oversightModule"): "Oversight",
    ("protocolSection", "descriptionModule"): "Description",
    ("protocolSection", "conditionsModule"): "Conditions and keywords",
    ("protocolSection", "designModule"): "Design",
    ("protocolSection", "armsInterventionsModule"): "Arms and interventions",
    ("protocolSection", "outcomesModule"): "Outcome measures",
    ("protocolSection", "eligibilityModule"): "Eligibility",
    ("protocolSection", "contactsLocationsModule"): "Contacts and locations",
    ("protocolSection", "referencesModule"): "References",
    ("protocolSection", "ipdSharingStatementModule"): "Individual participant data sharing",
    ("resultsSection", "participantFlowModule"): "Results: participant flow",
    ("resultsSection", "baselineCharacteristicsModule"): "Results: baseline characteristics",
    ("resultsSection", "outcomeMeasuresModule"): "Results: outcome measures",
    ("resultsSection", "adverseEventsModule"): "Results: adverse events",
    ("resultsSection", "moreInfoModule"): "Results: more information",
    ("resultsSection", "legacy"): "Results: legacy XML fields",
    ("annotationSection", "annotationModule"): "Annotations",
    ("documentSection", "largeDocumentModule"): "Documents",
    ("derivedSection", "conditionBrowseModule"): "Condition MeSH terms",
    ("derivedSection", "interventionBrowseModule"): "Intervention MeSH terms",
    ("derivedSection", "miscInfoModule"): "Registry information",
    ("legacySection", ""): "Legacy XML fields",
    ("", ""): "Record",
}
MODULE_ORDER = {key: i for i, key in enumerate(MODULES)}

FIELDS: dict[str, str] = {
    "nctId": "NCT number", "nctIdAliases": "NCT aliases", "orgStudyIdInfo": "Organization's study id",
    "secondaryIdInfos": "Secondary ids", "briefTitle": "Brief title", "officialTitle": "Official title",
    "acronym": "Acronym", "organization": "Organization", "fullName": "Name", "class": "Class",
    "statusVerifiedDate": "Status verified", "overallStatus": "Overall status",
    "lastKnownStatus": "Last known status", "whyStopped": "Why stopped",
    "expandedAccessInfo": "Expanded access", "hasExpandedAccess": "Has expanded access",
    "startDateStruct": "Start date", "primaryCompletionDateStruct": "Primary completion date",
    "completionDateStruct": "Completion date", "studyFirstSubmitDate": "First submitted",
    "studyFirstSubmitQcDate": "First submitted (QC)", "studyFirstPostDateStruct": "First posted",
    "resultsFirstSubmitDate": "Results first submitted",
    "resultsFirstSubmitQcDate": "Results first submitted (QC)",
    "resultsFirstPostDateStruct": "Results first posted", "lastUpdateSubmitDate": "Last update submitted",
    "lastUpdatePostDateStruct": "Last update posted", "responsibleParty": "Responsible party",
    "leadSponsor": "Lead sponsor", "collaborators": "Collaborators",
    "oversightHasDmc": "Has a data monitoring committee", "isFdaRegulatedDrug": "FDA-regulated drug",
    "isFdaRegulatedDevice": "FDA-regulated device", "isUnapprovedDevice": "Unapproved device",
    "isUsExport": "US export", "briefSummary": "Brief summary",
    "detailedDescription": "Detailed description", "conditions": "Conditions", "keywords": "Keywords",
    "studyType": "Study type", "phases": "Phase", "designInfo": "Design", "allocation": "Allocation",
    "interventionModel": "Intervention model", "observationalModel": "Observational model",
    "timePerspective": "Time perspective", "primaryPurpose": "Primary purpose",
    "maskingInfo": "Masking", "masking": "Masking", "whoMasked": "Who is masked",
    "enrollmentInfo": "Enrollment", "armGroups": "Arms", "interventions": "Interventions",
    "interventionNames": "Interventions", "armGroupLabels": "Arms", "otherNames": "Other names",
    "primaryOutcomes": "Primary outcomes", "secondaryOutcomes": "Secondary outcomes",
    "otherOutcomes": "Other outcomes", "measure": "Measure", "timeFrame": "Time frame",
    "description": "Description", "eligibilityCriteria": "Eligibility criteria",
    "healthyVolunteers": "Accepts healthy volunteers", "sex": "Sex", "minimumAge": "Minimum age",
    "maximumAge": "Maximum age", "stdAges": "Age groups", "studyPopulation": "Study population",
    "samplingMethod": "Sampling method", "centralContacts": "Central contacts",
    "overallOfficials": "Overall officials", "locations": "Sites", "facility": "Facility",
    "geoPoint": "Coordinates", "references": "References", "seeAlsoLinks": "Links",
    "ipdSharing": "Shares individual participant data", "label": "Label", "type": "Type",
    "name": "Name", "role": "Role", "affiliation": "Affiliation", "phone": "Phone", "email": "Email",
    "city": "City", "state": "State", "zip": "Postal code", "country": "Country", "status": "Status",
    "citation": "Citation", "pmid": "PubMed id", "hasResults": "Has results", "meshes": "MeSH terms",
    "ancestors": "MeSH ancestors", "browseLeaves": "MeSH browse leaves",
    "browseBranches": "MeSH browse branches", "term": "Term", "title": "Title",
}

ENUMS: dict[str, str] = {
    "RECRUITING": "Recruiting", "NOT_YET_RECRUITING": "Not yet recruiting",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting", "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "UNKNOWN": "Unknown status", "EARLY_PHASE1": "Early phase 1", "PHASE1": "Phase 1",
    "PHASE2": "Phase 2", "PHASE3": "Phase 3", "PHASE4": "Phase 4", "NA": "Not applicable",
    "CHILD": "Child", "ADULT": "Adult", "OLDER_ADULT": "Older adult",
    "ESTIMATED": "estimated", "ACTUAL": "actual", "ANTICIPATED": "anticipated",
}

# fields whose values are v2 enums (RECRUITING, PHASE2, DRUG...), shown as words; other
# upper-case text (COPD, HIV) is left as written
ENUM_FIELDS = frozenset({
    "overallStatus", "lastKnownStatus", "studyType", "phases", "allocation", "interventionModel",
    "observationalModel", "timePerspective", "primaryPurpose", "masking", "whoMasked", "type",
    "class", "sex", "stdAges", "role", "status", "ipdSharing", "samplingMethod", "infoTypes",
    "statusForNctId", "designAllocation", "purpose",
})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ENUM = re.compile(r"^[A-Z][A-Z0-9_]*$")
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def module_label(key: tuple[str, str]) -> str:
    if key in MODULES:
        return MODULES[key]
    return words(key[1] or key[0])


def words(key: str) -> str:
    """`primaryCompletionDateStruct` -> "Primary completion date" (for keys with no label)."""
    key = re.sub(r"(Struct|Module|Info|Infos)$", "", key) or key
    text = _CAMEL.sub(" ", key).replace("_", " ").replace("/", " / ").strip().lower()
    return text[:1].upper() + text[1:]


def field_label(key: str) -> str:
    return FIELDS.get(key) or words(key)


def enum(value: str) -> str:
    """An enum value as a word: RECRUITING -> "Recruiting"; other text is left as it is."""
    if value in ENUMS:
        return ENUMS[value]
    if _ENUM.match(value):
        return value.replace("_", " ").capitalize()
    return value


def is_date_struct(value: Any) -> bool:
    return isinstance(value, dict) and "date" in value and set(value) <= {"date", "type"}


def is_count_struct(value: Any) -> bool:
    return isinstance(value, dict) and "count" in value and set(value) <= {"count", "type"}


def plain(text: str) -> str:
    """Record text for reading: markdown escapes removed, runs of space made one."""
    return " ".join(unescape_markdown(text).split())


def show(value: Any, limit: int = 600, key: str | None = None) -> str:
    """Any v2 value as one line for people (enums as words, dates and counts with their type);
    ``key``: the field it is the value of (enum fields read as words)."""
    text = _show(value, key)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _show(value: Any, key: str | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, str):
        return enum(value) if key in ENUM_FIELDS else plain(value)
    if is_date_struct(value) or is_count_struct(value):
        main = value.get("date", value.get("count"))
        kind = value.get("type")
        return _show(main) + (f" ({enum(kind)})" if kind else "")
    if isinstance(value, list):
        return "; ".join(_show(v, key) for v in value)
    if isinstance(value, dict):
        key, head = _titled(value)
        rest = [f"{field_label(k)}: {_show(v, k)}" for k, v in value.items()
                if v not in (None, "", [], {}) and k != key]
        return " — ".join([head, "; ".join(rest)]) if head and rest else head or "; ".join(rest)
    return str(value)


def details(item: Any, limit: int = 600) -> str:
    """An element of a list (an outcome, a site) without what names it: its other fields."""
    text = show(item, limit)
    head = item_title(item)
    if head and text.startswith(head):
        text = text[len(head):].removeprefix(" — ")
    return text or head


# what names one element of a list of objects (an outcome, a site, an arm...), in order
_TITLE_KEYS = ("measure", "label", "title", "name", "facility", "term", "citation", "url", "id",
               "nctId", "fullName", "groupId")


def item_title(item: Any) -> str:
    """What names an element of a list: an outcome's measure, a site's facility and place..."""
    if not isinstance(item, dict):
        return _show(item) if item is not None else ""
    return _titled(item)[1]


def _titled(item: dict) -> tuple[str | None, str]:
    """(the key that names the element, its name)."""
    for key in _TITLE_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            if key == "facility":
                place = ", ".join(x for x in (item.get("city"), item.get("country")) if isinstance(x, str))
                return key, plain(value) + (f" ({place})" if place else "")
            return key, plain(value)
    return None, ""

"""The study record: the ClinicalTrials.gov API v2 study structure, typed.

Every source format converts into this one structure, so the rest of trialscope reads a
study the same way whatever it came in as. The stored record is the plain v2 JSON object
(so nothing a source carries is lost, including fields this module does not type); the
Structs below validate it on ingest (wrong types are rejected) and give typed access.
Fields a legacy XML record carries that have no v2 home live under ``legacySection``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import orjson

from .normalize import iso_date

# [0-9], not \d: \d matches every script's digits (NCT٩٨000205 is no NCT id)
NCT_RE = re.compile(r"^NCT[0-9]{8}$")


class RecordError(ValueError):
    """A record that cannot be accepted, with a message saying why."""


class _S(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    pass


class DateStruct(_S):
    date: str | None = None
    type: str | None = None


class Organization(_S):
    full_name: str | None = None
    class_: str | None = msgspec.field(default=None, name="class")


class IdInfo(_S):
    id: str | None = None
    type: str | None = None
    domain: str | None = None
    link: str | None = None


class IdentificationModule(_S):
    nct_id: str
    nct_id_aliases: list[str] | None = None
    org_study_id_info: IdInfo | None = None
    secondary_id_infos: list[IdInfo] | None = None
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    organization: Organization | None = None


class ExpandedAccessInfo(_S):
    has_expanded_access: bool | None = None
    nct_id: str | None = None
    status_for_nct_id: str | None = None


class StatusModule(_S):
    status_verified_date: str | None = None
    overall_status: str | None = None
    last_known_status: str | None = None
    why_stopped: str | None = None
    expanded_access_info: ExpandedAccessInfo | None = None
    start_date_struct: DateStruct | None = None
    primary_completion_date_struct: DateStruct | None = None
    completion_date_struct: DateStruct | None = None
    study_first_submit_date: str | None = None
    study_first_submit_qc_date: str | None = None
    study_first_post_date_struct: DateStruct | None = None
    results_first_submit_date: str | None = None
    results_first_submit_qc_date: str | None = None
    results_first_post_date_struct: DateStruct | None = None
    last_update_submit_date: str | None = None
    last_update_post_date_struct: DateStruct | None = None


class Sponsor(_S):
    name: str | None = None
    class_: str | None = msgspec.field(default=None, name="class")


class ResponsibleParty(_S):
    type: str | None = None
    investigator_full_name: str | None = None
    investigator_title: str | None = None
    investigator_affiliation: str | None = None
    old_name_title: str | None = None
    old_organization: str | None = None


class SponsorCollaboratorsModule(_S):
    responsible_party: ResponsibleParty | None = None
    lead_sponsor: Sponsor | None = None
    collaborators: list[Sponsor] | None = None


class OversightModule(_S):
    oversight_has_dmc: bool | None = None
    is_fda_regulated_drug: bool | None = None
    is_fda_regulated_device: bool | None = None
    is_unapproved_device: bool | None = None
    is_ppsd: bool | None = None
    is_us_export: bool | None = None


class DescriptionModule(_S):
    brief_summary: str | None = None
    detailed_description: str | None = None


class ConditionsModule(_S):
    conditions: list[str] | None = None
    keywords: list[str] | None = None


class MaskingInfo(_S):
    masking: str | None = None
    masking_description: str | None = None
    who_masked: list[str] | None = None


class DesignInfo(_S):
    allocation: str | None = None
    intervention_model: str | None = None
    intervention_model_description: str | None = None
    primary_purpose: str | None = None
    observational_model: str | None = None
    time_perspective: str | None = None
    masking_info: MaskingInfo | None = None


class EnrollmentInfo(_S):
    count: int | None = None
    type: str | None = None


class BioSpec(_S):
    retention: str | None = None
    description: str | None = None


class DesignModule(_S):
    study_type: str | None = None
    patient_registry: bool | None = None
    target_duration: str | None = None
    phases: list[str] | None = None
    design_info: DesignInfo | None = None
    bio_spec: BioSpec | None = None
    enrollment_info: EnrollmentInfo | None = None


class ArmGroup(_S):
    label: str | None = None
    type: str | None = None
    description: str | None = None
    intervention_names: list[str] | None = None


class Intervention(_S):
    type: str | None = None
    name: str | None = None
    description: str | None = None
    arm_group_labels: list[str] | None = None
    other_names: list[str] | None = None


class ArmsInterventionsModule(_S):
    arm_groups: list[ArmGroup] | None = None
    interventions: list[Intervention] | None = None


class Outcome(_S):
    measure: str | None = None
    description: str | None = None
    time_frame: str | None = None


class OutcomesModule(_S):
    primary_outcomes: list[Outcome] | None = None
    secondary_outcomes: list[Outcome] | None = None
    other_outcomes: list[Outcome] | None = None


class EligibilityModule(_S):
    eligibility_criteria: str | None = None
    healthy_volunteers: bool | None = None
    sex: str | None = None
    gender_based: bool | None = None
    gender_description: str | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    std_ages: list[str] | None = None
    study_population: str | None = None
    sampling_method: str | None = None


class Contact(_S):
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    phone_ext: str | None = None
    email: str | None = None


class Official(_S):
    name: str | None = None
    affiliation: str | None = None
    role: str | None = None


class GeoPoint(_S):
    lat: float
    lon: float


class Location(_S):
    facility: str | None = None
    status: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    contacts: list[Contact] | None = None
    geo_point: GeoPoint | None = None


class ContactsLocationsModule(_S):
    central_contacts: list[Contact] | None = None
    overall_officials: list[Official] | None = None
    locations: list[Location] | None = None


class Reference(_S):
    pmid: str | None = None
    type: str | None = None
    citation: str | None = None


class SeeAlsoLink(_S):
    label: str | None = None
    url: str | None = None


class ReferencesModule(_S):
    references: list[Reference] | None = None
    see_also_links: list[SeeAlsoLink] | None = None


class ProtocolSection(_S):
    identification_module: IdentificationModule
    status_module: StatusModule | None = None
    sponsor_collaborators_module: SponsorCollaboratorsModule | None = None
    oversight_module: OversightModule | None = None
    description_module: DescriptionModule | None = None
    conditions_module: ConditionsModule | None = None
    design_module: DesignModule | None = None
    arms_interventions_module: ArmsInterventionsModule | None = None
    outcomes_module: OutcomesModule | None = None
    eligibility_module: EligibilityModule | None = None
    contacts_locations_module: ContactsLocationsModule | None = None
    references_module: ReferencesModule | None = None


class Mesh(_S):
    id: str | None = None
    term: str | None = None


class BrowseModule(_S):
    meshes: list[Mesh] | None = None
    ancestors: list[Mesh] | None = None


class DerivedSection(_S):
    condition_browse_module: BrowseModule | None = None
    intervention_browse_module: BrowseModule | None = None


class Study(_S):
    """A study; results modules are validated loosely (they are objects) and kept whole."""

    protocol_section: ProtocolSection
    derived_section: DerivedSection | None = None
    results_section: dict[str, Any] | None = None
    has_results: bool | None = None
    legacy_section: dict[str, Any] | None = None


def normalize_nct(value: str) -> str:
    """NCT ids are accepted in any letter case and with surrounding space."""
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        raise RecordError(f"not an NCT id: {value!r} (expected NCT followed by 8 digits)")
    return nct


def validate(record: Any) -> Study:
    """Type-check a v2 study object; raise RecordError naming the bad field."""
    if not isinstance(record, dict):
        raise RecordError(f"a study must be a JSON object, got {type(record).__name__}")
    try:
        study = msgspec.convert(record, Study)
    except msgspec.ValidationError as exc:
        raise RecordError(f"invalid study record: {exc}") from None
    nct = study.protocol_section.identification_module.nct_id
    if not NCT_RE.match(nct):
        raise RecordError(f"malformed NCT id {nct!r} at $.protocolSection.identificationModule.nctId")
    return study


# The v2 enumerations (API v2 spec, components/schemas) of the fields checked on ingest.
STATUS = ("ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
          "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
          "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN")
RECRUITMENT_STATUS = ("ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION",
                      "NOT_YET_RECRUITING", "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN",
                      "AVAILABLE")
DATE_TYPE = ("ACTUAL", "ESTIMATED")
ENUMS: dict[str, tuple[str, ...]] = {
    "statusModule.overallStatus": STATUS,
    "statusModule.lastKnownStatus": STATUS,
    "statusModule.startDateStruct.type": DATE_TYPE,
    "statusModule.primaryCompletionDateStruct.type": DATE_TYPE,
    "statusModule.completionDateStruct.type": DATE_TYPE,
    "statusModule.studyFirstPostDateStruct.type": DATE_TYPE,
    "statusModule.resultsFirstPostDateStruct.type": DATE_TYPE,
    "statusModule.lastUpdatePostDateStruct.type": DATE_TYPE,
    "designModule.studyType": ("EXPANDED_ACCESS", "INTERVENTIONAL", "OBSERVATIONAL"),
    "designModule.phases[]": ("NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"),
    "designModule.designInfo.allocation": ("RANDOMIZED", "NON_RANDOMIZED", "NA"),
    "designModule.designInfo.interventionModel": ("SINGLE_GROUP", "PARALLEL", "CROSSOVER",
                                                  "FACTORIAL", "SEQUENTIAL"),
    "designModule.designInfo.primaryPurpose": ("TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT",
                                               "SUPPORTIVE_CARE", "SCREENING",
                                               "HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE",
                                               "DEVICE_FEASIBILITY", "OTHER"),
    "designModule.designInfo.observationalModel": ("COHORT", "CASE_CONTROL", "CASE_ONLY",
                                                   "CASE_CROSSOVER", "ECOLOGIC_OR_COMMUNITY",
                                                   "FAMILY_BASED", "DEFINED_POPULATION",
                                                   "NATURAL_HISTORY", "OTHER"),
    "designModule.designInfo.timePerspective": ("RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL",
                                                "OTHER"),
    "designModule.designInfo.maskingInfo.masking": ("NONE", "SINGLE", "DOUBLE", "TRIPLE",
                                                    "QUADRUPLE"),
    "designModule.designInfo.maskingInfo.whoMasked[]": ("PARTICIPANT", "CARE_PROVIDER",
                                                        "INVESTIGATOR", "OUTCOMES_ASSESSOR"),
    "designModule.enrollmentInfo.type": ("ACTUAL", "ESTIMATED"),
    "designModule.bioSpec.retention": ("NONE_RETAINED", "SAMPLES_WITH_DNA", "SAMPLES_WITHOUT_DNA"),
    "armsInterventionsModule.armGroups[].type": ("EXPERIMENTAL", "ACTIVE_COMPARATOR",
                                                 "PLACEBO_COMPARATOR", "SHAM_COMPARATOR",
                                                 "NO_INTERVENTION", "OTHER"),
    "armsInterventionsModule.interventions[].type": ("BEHAVIORAL", "BIOLOGICAL",
                                                     "COMBINATION_PRODUCT", "DEVICE",
                                                     "DIAGNOSTIC_TEST", "DIETARY_SUPPLEMENT", "DRUG",
                                                     "GENETIC", "PROCEDURE", "RADIATION", "OTHER"),
    "eligibilityModule.sex": ("FEMALE", "MALE", "ALL"),
    "eligibilityModule.stdAges[]": ("CHILD", "ADULT", "OLDER_ADULT"),
    "eligibilityModule.samplingMethod": ("PROBABILITY_SAMPLE", "NON_PROBABILITY_SAMPLE"),
    "sponsorCollaboratorsModule.leadSponsor.class": ("NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY",
                                                     "NETWORK", "AMBIG", "OTHER", "UNKNOWN"),
    "sponsorCollaboratorsModule.collaborators[].class": ("NIH", "FED", "OTHER_GOV", "INDIV",
                                                         "INDUSTRY", "NETWORK", "AMBIG", "OTHER",
                                                         "UNKNOWN"),
    "sponsorCollaboratorsModule.responsibleParty.type": ("SPONSOR", "PRINCIPAL_INVESTIGATOR",
                                                         "SPONSOR_INVESTIGATOR"),
    "contactsLocationsModule.locations[].status": RECRUITMENT_STATUS,
    "referencesModule.references[].type": ("BACKGROUND", "RESULT", "DERIVED"),
}
# Dates: ISO (YYYY, YYYY-MM or YYYY-MM-DD) and real calendar dates. Those the registry stamps
# when a record is submitted or posted cannot lie in the future (a day's grace for time
# zones): one that does is rejected, so a mistyped year can never pin a record against every
# real update (see store.base: an invalid last-update date never wins).
DATES = (
    "statusModule.statusVerifiedDate", "statusModule.startDateStruct.date",
    "statusModule.primaryCompletionDateStruct.date", "statusModule.completionDateStruct.date",
)
STAMPS = (
    "statusModule.studyFirstSubmitDate", "statusModule.studyFirstSubmitQcDate",
    "statusModule.studyFirstPostDateStruct.date", "statusModule.resultsFirstSubmitDate",
    "statusModule.resultsFirstSubmitQcDate", "statusModule.resultsFirstPostDateStruct.date",
    "statusModule.lastUpdateSubmitDate", "statusModule.lastUpdatePostDateStruct.date",
)
FUTURE_GRACE_DAYS = 1


def check_values(record: dict, today: date | None = None) -> None:
    """Enumerations and dates of a (type-checked) v2 record, checked before it is stored;
    raises RecordError naming the field and the value."""
    latest = (today or datetime.now(UTC).date()) + timedelta(days=FUTURE_GRACE_DAYS)
    _walk(record["protocolSection"], _CHECKS, latest)


class _Leaf(msgspec.Struct, frozen=True):
    path: str
    allowed: frozenset[str] | None  # an enumeration; None: a date
    stamp: bool = False  # a date the registry stamped (never in the future)


def _checks() -> dict:
    """The checked fields as a tree of keys (``name[]``: each item of a list), so a record
    is walked once however many fields are checked."""
    tree: dict = {}
    leaves = [_Leaf(path, frozenset(allowed)) for path, allowed in ENUMS.items()]
    leaves += [_Leaf(path, None, path in STAMPS) for path in (*DATES, *STAMPS)]
    for leaf in leaves:
        node = tree
        *steps, last = leaf.path.split(".")
        for step in steps:
            node = node.setdefault(step, {})
        node[last] = leaf
    return tree


def plausible_stamp(value: str, today: date | None = None) -> bool:
    """Whether a stored last-update date can stand against a new version: no date at all
    (''), or a real ISO date not in the future. A store written before dates were checked
    may hold one that is not; the next valid version then replaces it."""
    if not value:
        return True
    try:
        when = iso_date(value)
    except ValueError:
        return False
    return when <= (today or datetime.now(UTC).date()) + timedelta(days=FUTURE_GRACE_DAYS)


def _walk(node: dict, tree: dict, latest: date) -> None:
    for step, sub in tree.items():
        key = step.removesuffix("[]")
        value = node.get(key)
        if value is None:
            continue
        items = value if step.endswith("[]") and isinstance(value, list) else (value,)
        for item in items:
            if item is None:
                continue
            if isinstance(sub, dict):
                if isinstance(item, dict):
                    _walk(item, sub, latest)
            elif sub.allowed is not None:
                if item not in sub.allowed:
                    choices = ENUMS[sub.path]
                    raise RecordError(
                        f"{sub.path.replace('[]', '')} is {item!r}, not a v2 value (one of"
                        f" {', '.join(choices[:6])}{', ...' if len(choices) > 6 else ''})")
            else:
                try:
                    when = iso_date(item)
                except (ValueError, TypeError):
                    raise RecordError(f"{sub.path} is {item!r}, not a date (YYYY-MM-DD)") from None
                if sub.stamp and when > latest:
                    raise RecordError(f"{sub.path} is {item!r}, a date in the future")


_CHECKS = _checks()


def nct_id_of(record: dict) -> str | None:
    """The NCT id of a raw v2 object, if it has a string one (for error messages)."""
    try:
        value = record["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def last_update(record: dict) -> str:
    """The version stamp used for upserts: last update posted, else submitted, else ''."""
    status = (record.get("protocolSection") or {}).get("statusModule") or {}
    date = (status.get("lastUpdatePostDateStruct") or {}).get("date")
    return date or status.get("lastUpdateSubmitDate") or ""


def dumps(record: dict) -> bytes:
    return orjson.dumps(record)


def display_title(study: Study) -> str:
    """A heading for any study: brief title, else official title, else a made-up one."""
    ident = study.protocol_section.identification_module
    if ident.brief_title:
        return ident.brief_title
    if ident.official_title:
        return ident.official_title
    summary = (study.protocol_section.description_module or DescriptionModule()).brief_summary
    if summary:
        first = re.split(r"(?<=[.!?])\s", summary.strip(), maxsplit=1)[0]
        return first if len(first) <= 160 else first[:157].rstrip() + "…"
    sponsor = (study.protocol_section.sponsor_collaborators_module or SponsorCollaboratorsModule()).lead_sponsor
    if sponsor and sponsor.name:
        return f"Untitled study by {sponsor.name}"
    return f"Untitled study {ident.nct_id}"

"""Legacy display strings -> v2 enum values (`Phase 1/Phase 2` -> `PHASE1`, `U.S. Fed` ->
`FED`): one converter per v2 enum, None for a value v2 does not know."""

from __future__ import annotations

import re
from collections.abc import Callable

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

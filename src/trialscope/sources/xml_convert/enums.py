"""Legacy display strings -> v2 enum values (`Phase 1/Phase 2` -> `PHASE1`, `U.S. Fed` ->
`FED`): one converter per v2 enum, None for a value v2 does not know. The values come from
``record.ENUMS``, which the ingest check holds records to, wherever it lists the enum."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from ...record import ENUMS as V2

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def _enum_name(text: str) -> str:
    """`Active, not recruiting` -> `ACTIVE_NOT_RECRUITING` (v2's own naming rule)."""
    return _NON_ALNUM.sub("_", text.upper()).strip("_")


def _enum(allowed: Collection[str],
          special: dict[str, str] | None = None) -> Callable[[str], str | None]:
    """A converter from a legacy display string to a v2 enum value, None if not in `allowed`."""
    values = frozenset(allowed)
    special = special or {}
    cache: dict[str, str | None] = {}

    def convert(text: str) -> str | None:
        try:
            return cache[text]
        except KeyError:
            value = special.get(text.lower()) or _enum_name(text)
            result = cache[text] = value if value in values else None
            return result

    return convert


STATUS = _enum(V2["statusModule.overallStatus"], {"unknown status": "UNKNOWN"})
PHASE = _enum(
    V2["designModule.phases[]"],
    {"n/a": "NA", "early phase 1": "EARLY_PHASE1", "phase 0": "EARLY_PHASE1",
     "phase 1": "PHASE1", "phase 2": "PHASE2", "phase 3": "PHASE3", "phase 4": "PHASE4"},
)
STUDY_TYPE = _enum(V2["designModule.studyType"])
ALLOCATION = _enum(V2["designModule.designInfo.allocation"], {"n/a": "NA"})
INTERVENTION_MODEL = _enum(
    V2["designModule.designInfo.interventionModel"],
    {"single group assignment": "SINGLE_GROUP", "parallel assignment": "PARALLEL",
     "crossover assignment": "CROSSOVER", "factorial assignment": "FACTORIAL",
     "sequential assignment": "SEQUENTIAL"},
)
PRIMARY_PURPOSE = _enum(
    V2["designModule.designInfo.primaryPurpose"],
    {"educational/counseling/training": "ECT"},
)
MASKING = _enum(
    V2["designModule.designInfo.maskingInfo.masking"],
    {"none (open label)": "NONE", "open label": "NONE", "none": "NONE", "no masking": "NONE",
     "single blind": "SINGLE", "double blind": "DOUBLE", "double-blind": "DOUBLE",
     "triple blind": "TRIPLE", "quadruple blind": "QUADRUPLE", "single-blind": "SINGLE"},
)
WHO_MASKED = _enum(
    V2["designModule.designInfo.maskingInfo.whoMasked[]"],
    {"subject": "PARTICIPANT", "caregiver": "CARE_PROVIDER"},
)
OBSERVATIONAL_MODEL = _enum(V2["designModule.designInfo.observationalModel"])
TIME_PERSPECTIVE = _enum(V2["designModule.designInfo.timePerspective"])
RETENTION = _enum(V2["designModule.bioSpec.retention"])
SAMPLING = _enum(V2["eligibilityModule.samplingMethod"])
SEX = _enum(V2["eligibilityModule.sex"], {"both": "ALL"})
AGENCY_CLASS = _enum(V2["sponsorCollaboratorsModule.leadSponsor.class"], {"u.s. fed": "FED"})
ARM_TYPE = _enum(V2["armsInterventionsModule.armGroups[].type"])
INTERVENTION_TYPE = _enum(V2["armsInterventionsModule.interventions[].type"])
RESPONSIBLE_PARTY = _enum(V2["sponsorCollaboratorsModule.responsibleParty.type"])
# enums the ingest check does not list (record.ENUMS), so listed here
OFFICIAL_ROLE = _enum({"STUDY_CHAIR", "STUDY_DIRECTOR", "PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR"})
IPD_SHARING = _enum({"YES", "NO", "UNDECIDED"})
IPD_INFO = _enum(
    {"STUDY_PROTOCOL", "SAP", "ICF", "CSR", "ANALYTIC_CODE"},
    {"statistical analysis plan (sap)": "SAP", "informed consent form (icf)": "ICF",
     "clinical study report (csr)": "CSR"},
)
DATE_TYPE = {"Actual": "ACTUAL", "Anticipated": "ESTIMATED", "Estimate": "ESTIMATED"}
YES_NO = {"Yes": True, "No": False}
HEALTHY = {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}

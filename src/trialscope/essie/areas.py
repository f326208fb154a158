"""The one registry of what a query can name: the pieces of the study structure and the
search areas built from them.

Everything that names a field reads it from here: the compiler (AREA[...], RANGE, MISSING),
the API's `/studies/search-areas`, `/studies/metadata`, `fields` and `sort`, so they cannot
drift apart. A piece is a leaf (or a leaf list) of the ClinicalTrials.gov API v2 study
structure under the registry's name for it (NCTId, BriefTitle, LocationZip, ...); its type says
how a query value is read: text (words), markup (long text), enum (an exact code), date,
number, boolean, age (`18 years`), geo. A search area (BasicSearch, ConditionSearch, ...) is a
weighted set of pieces, searched as one, with the query parameter that targets it.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = ("text", "markup", "enum", "date", "number", "boolean", "age", "geo")


@dataclass(frozen=True)
class Piece:
    name: str
    path: str  # dotted v2 path; list items are crossed transparently
    type: str
    values: tuple[str, ...] = ()  # an enum's allowed values, where the structure fixes them

    @property
    def sortable(self) -> bool:
        return self.type in ("date", "number", "age")

    @property
    def indexed(self) -> bool:
        """Searchable by AREA[]: every piece but the results' numbers and geo points."""
        return self.type != "geo" and not self.path.startswith(_UNINDEXED)


_UNINDEXED = ("resultsSection.outcomeMeasuresModule.outcomeMeasures.classes",
              "resultsSection.baselineCharacteristicsModule.measures.classes")

_PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")
_STATUSES = ("ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
             "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
             "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN")
_ENUMS: dict[str, tuple[str, ...]] = {
    "Phase": _PHASES,
    "OverallStatus": _STATUSES,
    "LastKnownStatus": _STATUSES,
    "LocationStatus": _STATUSES,
    "StudyType": ("INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"),
    "Sex": ("ALL", "FEMALE", "MALE"),
    "StdAge": ("CHILD", "ADULT", "OLDER_ADULT"),
    "InterventionType": ("BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
                         "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER"),
    "LeadSponsorClass": ("NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"),
    "CollaboratorClass": ("NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"),
    "OrgClass": ("NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"),
    "DesignAllocation": ("RANDOMIZED", "NON_RANDOMIZED", "NA"),
    "DesignMasking": ("NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"),
    "EnrollmentType": ("ACTUAL", "ESTIMATED"),
    "StartDateType": ("ACTUAL", "ESTIMATED"),
    "PrimaryCompletionDateType": ("ACTUAL", "ESTIMATED"),
    "CompletionDateType": ("ACTUAL", "ESTIMATED"),
}

_P, _R, _D = "protocolSection", "resultsSection", "derivedSection"
# name, path below its section, type ("E" enum, "T" text, "M" markup, "D" date, "N" number,
# "B" boolean, "A" age, "G" geo)
_TABLE = f"""
NCTId {_P}.identificationModule.nctId T
NCTIdAlias {_P}.identificationModule.nctIdAliases T
OrgStudyId {_P}.identificationModule.orgStudyIdInfo.id T
OrgStudyIdType {_P}.identificationModule.orgStudyIdInfo.type E
OrgStudyIdDomain {_P}.identificationModule.orgStudyIdInfo.domain T
OrgStudyIdLink {_P}.identificationModule.orgStudyIdInfo.link T
SecondaryId {_P}.identificationModule.secondaryIdInfos.id T
SecondaryIdType {_P}.identificationModule.secondaryIdInfos.type E
SecondaryIdDomain {_P}.identificationModule.secondaryIdInfos.domain T
SecondaryIdLink {_P}.identificationModule.secondaryIdInfos.link T
BriefTitle {_P}.identificationModule.briefTitle T
OfficialTitle {_P}.identificationModule.officialTitle T
Acronym {_P}.identificationModule.acronym T
OrgFullName {_P}.identificationModule.organization.fullName T
OrgClass {_P}.identificationModule.organization.class E
StatusVerifiedDate {_P}.statusModule.statusVerifiedDate D
OverallStatus {_P}.statusModule.overallStatus E
LastKnownStatus {_P}.statusModule.lastKnownStatus E
WhyStopped {_P}.statusModule.whyStopped T
HasExpandedAccess {_P}.statusModule.expandedAccessInfo.hasExpandedAccess B
ExpandedAccessNCTId {_P}.statusModule.expandedAccessInfo.nctId T
ExpandedAccessStatusForNCTId {_P}.statusModule.expandedAccessInfo.statusForNctId E
StartDate {_P}.statusModule.startDateStruct.date D
StartDateType {_P}.statusModule.startDateStruct.type E
PrimaryCompletionDate {_P}.statusModule.primaryCompletionDateStruct.date D
PrimaryCompletionDateType {_P}.statusModule.primaryCompletionDateStruct.type E
CompletionDate {_P}.statusModule.completionDateStruct.date D
CompletionDateType {_P}.statusModule.completionDateStruct.type E
StudyFirstSubmitDate {_P}.statusModule.studyFirstSubmitDate D
StudyFirstSubmitQCDate {_P}.statusModule.studyFirstSubmitQcDate D
StudyFirstPostDate {_P}.statusModule.studyFirstPostDateStruct.date D
StudyFirstPostDateType {_P}.statusModule.studyFirstPostDateStruct.type E
ResultsFirstSubmitDate {_P}.statusModule.resultsFirstSubmitDate D
ResultsFirstSubmitQCDate {_P}.statusModule.resultsFirstSubmitQcDate D
ResultsFirstPostDate {_P}.statusModule.resultsFirstPostDateStruct.date D
ResultsFirstPostDateType {_P}.statusModule.resultsFirstPostDateStruct.type E
LastUpdateSubmitDate {_P}.statusModule.lastUpdateSubmitDate D
LastUpdatePostDate {_P}.statusModule.lastUpdatePostDateStruct.date D
LastUpdatePostDateType {_P}.statusModule.lastUpdatePostDateStruct.type E
ResponsiblePartyType {_P}.sponsorCollaboratorsModule.responsibleParty.type E
ResponsiblePartyInvestigatorFullName {_P}.sponsorCollaboratorsModule.responsibleParty.investigatorFullName T
ResponsiblePartyInvestigatorTitle {_P}.sponsorCollaboratorsModule.responsibleParty.investigatorTitle T
ResponsiblePartyInvestigatorAffiliation {_P}.sponsorCollaboratorsModule.responsibleParty.investigatorAffiliation T
ResponsiblePartyOldNameTitle {_P}.sponsorCollaboratorsModule.responsibleParty.oldNameTitle T
ResponsiblePartyOldOrganization {_P}.sponsorCollaboratorsModule.responsibleParty.oldOrganization T
LeadSponsorName {_P}.sponsorCollaboratorsModule.leadSponsor.name T
LeadSponsorClass {_P}.sponsorCollaboratorsModule.leadSponsor.class E
CollaboratorName {_P}.sponsorCollaboratorsModule.collaborators.name T
CollaboratorClass {_P}.sponsorCollaboratorsModule.collaborators.class E
OversightHasDMC {_P}.oversightModule.oversightHasDmc B
IsFDARegulatedDrug {_P}.oversightModule.isFdaRegulatedDrug B
IsFDARegulatedDevice {_P}.oversightModule.isFdaRegulatedDevice B
IsUnapprovedDevice {_P}.oversightModule.isUnapprovedDevice B
IsPPSD {_P}.oversightModule.isPpsd B
IsUSExport {_P}.oversightModule.isUsExport B
BriefSummary {_P}.descriptionModule.briefSummary M
DetailedDescription {_P}.descriptionModule.detailedDescription M
Condition {_P}.conditionsModule.conditions T
Keyword {_P}.conditionsModule.keywords T
StudyType {_P}.designModule.studyType E
PatientRegistry {_P}.designModule.patientRegistry B
TargetDuration {_P}.designModule.targetDuration T
Phase {_P}.designModule.phases E
DesignAllocation {_P}.designModule.designInfo.allocation E
DesignInterventionModel {_P}.designModule.designInfo.interventionModel E
DesignInterventionModelDescription {_P}.designModule.designInfo.interventionModelDescription T
DesignPrimaryPurpose {_P}.designModule.designInfo.primaryPurpose E
DesignObservationalModel {_P}.designModule.designInfo.observationalModel E
DesignTimePerspective {_P}.designModule.designInfo.timePerspective E
DesignMasking {_P}.designModule.designInfo.maskingInfo.masking E
DesignMaskingDescription {_P}.designModule.designInfo.maskingInfo.maskingDescription T
DesignWhoMasked {_P}.designModule.designInfo.maskingInfo.whoMasked E
BioSpecRetention {_P}.designModule.bioSpec.retention E
BioSpecDescription {_P}.designModule.bioSpec.description T
EnrollmentCount {_P}.designModule.enrollmentInfo.count N
EnrollmentType {_P}.designModule.enrollmentInfo.type E
ArmGroupLabel {_P}.armsInterventionsModule.armGroups.label T
ArmGroupType {_P}.armsInterventionsModule.armGroups.type E
ArmGroupDescription {_P}.armsInterventionsModule.armGroups.description T
ArmGroupInterventionName {_P}.armsInterventionsModule.armGroups.interventionNames T
InterventionType {_P}.armsInterventionsModule.interventions.type E
InterventionName {_P}.armsInterventionsModule.interventions.name T
InterventionDescription {_P}.armsInterventionsModule.interventions.description T
InterventionArmGroupLabel {_P}.armsInterventionsModule.interventions.armGroupLabels T
InterventionOtherName {_P}.armsInterventionsModule.interventions.otherNames T
PrimaryOutcomeMeasure {_P}.outcomesModule.primaryOutcomes.measure T
PrimaryOutcomeDescription {_P}.outcomesModule.primaryOutcomes.description T
PrimaryOutcomeTimeFrame {_P}.outcomesModule.primaryOutcomes.timeFrame T
SecondaryOutcomeMeasure {_P}.outcomesModule.secondaryOutcomes.measure T
SecondaryOutcomeDescription {_P}.outcomesModule.secondaryOutcomes.description T
SecondaryOutcomeTimeFrame {_P}.outcomesModule.secondaryOutcomes.timeFrame T
OtherOutcomeMeasure {_P}.outcomesModule.otherOutcomes.measure T
OtherOutcomeDescription {_P}.outcomesModule.otherOutcomes.description T
OtherOutcomeTimeFrame {_P}.outcomesModule.otherOutcomes.timeFrame T
EligibilityCriteria {_P}.eligibilityModule.eligibilityCriteria M
HealthyVolunteers {_P}.eligibilityModule.healthyVolunteers B
Sex {_P}.eligibilityModule.sex E
GenderBased {_P}.eligibilityModule.genderBased B
GenderDescription {_P}.eligibilityModule.genderDescription T
MinimumAge {_P}.eligibilityModule.minimumAge A
MaximumAge {_P}.eligibilityModule.maximumAge A
StdAge {_P}.eligibilityModule.stdAges E
StudyPopulation {_P}.eligibilityModule.studyPopulation T
SamplingMethod {_P}.eligibilityModule.samplingMethod E
CentralContactName {_P}.contactsLocationsModule.centralContacts.name T
CentralContactRole {_P}.contactsLocationsModule.centralContacts.role E
CentralContactPhone {_P}.contactsLocationsModule.centralContacts.phone T
CentralContactPhoneExt {_P}.contactsLocationsModule.centralContacts.phoneExt T
CentralContactEMail {_P}.contactsLocationsModule.centralContacts.email T
OverallOfficialName {_P}.contactsLocationsModule.overallOfficials.name T
OverallOfficialAffiliation {_P}.contactsLocationsModule.overallOfficials.affiliation T
OverallOfficialRole {_P}.contactsLocationsModule.overallOfficials.role E
LocationFacility {_P}.contactsLocationsModule.locations.facility T
LocationStatus {_P}.contactsLocationsModule.locations.status E
LocationCity {_P}.contactsLocationsModule.locations.city T
LocationState {_P}.contactsLocationsModule.locations.state T
LocationZip {_P}.contactsLocationsModule.locations.zip T
LocationCountry {_P}.contactsLocationsModule.locations.country T
LocationContactName {_P}.contactsLocationsModule.locations.contacts.name T
LocationContactRole {_P}.contactsLocationsModule.locations.contacts.role E
LocationContactPhone {_P}.contactsLocationsModule.locations.contacts.phone T
LocationContactPhoneExt {_P}.contactsLocationsModule.locations.contacts.phoneExt T
LocationContactEMail {_P}.contactsLocationsModule.locations.contacts.email T
LocationGeoPoint {_P}.contactsLocationsModule.locations.geoPoint G
ReferencePMID {_P}.referencesModule.references.pmid T
ReferenceType {_P}.referencesModule.references.type E
ReferenceCitation {_P}.referencesModule.references.citation T
SeeAlsoLinkLabel {_P}.referencesModule.seeAlsoLinks.label T
SeeAlsoLinkURL {_P}.referencesModule.seeAlsoLinks.url T
IPDSharing {_P}.ipdSharingStatementModule.ipdSharing E
IPDSharingDescription {_P}.ipdSharingStatementModule.description T
IPDSharingInfoType {_P}.ipdSharingStatementModule.infoTypes E
IPDSharingTimeFrame {_P}.ipdSharingStatementModule.timeFrame T
IPDSharingAccessCriteria {_P}.ipdSharingStatementModule.accessCriteria T
IPDSharingURL {_P}.ipdSharingStatementModule.url T
FlowRecruitmentDetails {_R}.participantFlowModule.recruitmentDetails T
FlowPreAssignmentDetails {_R}.participantFlowModule.preAssignmentDetails T
FlowGroupTitle {_R}.participantFlowModule.groups.title T
FlowGroupDescription {_R}.participantFlowModule.groups.description T
FlowPeriodTitle {_R}.participantFlowModule.periods.title T
BaselineGroupTitle {_R}.baselineCharacteristicsModule.groups.title T
BaselineGroupDescription {_R}.baselineCharacteristicsModule.groups.description T
BaselinePopulationDescription {_R}.baselineCharacteristicsModule.populationDescription T
BaselineMeasureTitle {_R}.baselineCharacteristicsModule.measures.title T
BaselineMeasureDescription {_R}.baselineCharacteristicsModule.measures.description T
BaselineMeasureParamType {_R}.baselineCharacteristicsModule.measures.paramType E
BaselineMeasureUnitOfMeasure {_R}.baselineCharacteristicsModule.measures.unitOfMeasure T
BaselineMeasurementValue {_R}.baselineCharacteristicsModule.measures.classes.categories.measurements.value T
OutcomeMeasureType {_R}.outcomeMeasuresModule.outcomeMeasures.type E
OutcomeMeasureTitle {_R}.outcomeMeasuresModule.outcomeMeasures.title T
OutcomeMeasureDescription {_R}.outcomeMeasuresModule.outcomeMeasures.description T
OutcomeMeasurePopulationDescription {_R}.outcomeMeasuresModule.outcomeMeasures.populationDescription T
OutcomeMeasureReportingStatus {_R}.outcomeMeasuresModule.outcomeMeasures.reportingStatus E
OutcomeMeasureParamType {_R}.outcomeMeasuresModule.outcomeMeasures.paramType E
OutcomeMeasureDispersionType {_R}.outcomeMeasuresModule.outcomeMeasures.dispersionType E
OutcomeMeasureUnitOfMeasure {_R}.outcomeMeasuresModule.outcomeMeasures.unitOfMeasure T
OutcomeMeasureTimeFrame {_R}.outcomeMeasuresModule.outcomeMeasures.timeFrame T
OutcomeGroupTitle {_R}.outcomeMeasuresModule.outcomeMeasures.groups.title T
OutcomeMeasurementValue {_R}.outcomeMeasuresModule.outcomeMeasures.classes.categories.measurements.value T
OutcomeAnalysisStatisticalMethod {_R}.outcomeMeasuresModule.outcomeMeasures.analyses.statisticalMethod T
OutcomeAnalysisPValue {_R}.outcomeMeasuresModule.outcomeMeasures.analyses.pValue T
AdverseEventsFrequencyThreshold {_R}.adverseEventsModule.frequencyThreshold T
AdverseEventsTimeFrame {_R}.adverseEventsModule.timeFrame T
AdverseEventsDescription {_R}.adverseEventsModule.description T
EventGroupTitle {_R}.adverseEventsModule.eventGroups.title T
SeriousEventTerm {_R}.adverseEventsModule.seriousEvents.term T
SeriousEventOrganSystem {_R}.adverseEventsModule.seriousEvents.organSystem T
OtherEventTerm {_R}.adverseEventsModule.otherEvents.term T
OtherEventOrganSystem {_R}.adverseEventsModule.otherEvents.organSystem T
LimitationsAndCaveatsDescription {_R}.moreInfoModule.limitationsAndCaveats.description T
PointOfContactTitle {_R}.moreInfoModule.pointOfContact.title T
PointOfContactOrganization {_R}.moreInfoModule.pointOfContact.organization T
PointOfContactEMail {_R}.moreInfoModule.pointOfContact.email T
AgreementPISponsorEmployee {_R}.moreInfoModule.certainAgreement.piSponsorEmployee B
AgreementRestrictionType {_R}.moreInfoModule.certainAgreement.restrictionType E
ConditionMeshId {_D}.conditionBrowseModule.meshes.id T
ConditionMeshTerm {_D}.conditionBrowseModule.meshes.term T
ConditionAncestorId {_D}.conditionBrowseModule.ancestors.id T
ConditionAncestorTerm {_D}.conditionBrowseModule.ancestors.term T
ConditionBrowseLeafId {_D}.conditionBrowseModule.browseLeaves.id T
ConditionBrowseLeafName {_D}.conditionBrowseModule.browseLeaves.name T
ConditionBrowseLeafAsFound {_D}.conditionBrowseModule.browseLeaves.asFound T
ConditionBrowseLeafRelevance {_D}.conditionBrowseModule.browseLeaves.relevance E
ConditionBrowseBranchAbbrev {_D}.conditionBrowseModule.browseBranches.abbrev T
ConditionBrowseBranchName {_D}.conditionBrowseModule.browseBranches.name T
InterventionMeshId {_D}.interventionBrowseModule.meshes.id T
InterventionMeshTerm {_D}.interventionBrowseModule.meshes.term T
InterventionAncestorId {_D}.interventionBrowseModule.ancestors.id T
InterventionAncestorTerm {_D}.interventionBrowseModule.ancestors.term T
InterventionBrowseLeafId {_D}.interventionBrowseModule.browseLeaves.id T
InterventionBrowseLeafName {_D}.interventionBrowseModule.browseLeaves.name T
InterventionBrowseLeafAsFound {_D}.interventionBrowseModule.browseLeaves.asFound T
InterventionBrowseLeafRelevance {_D}.interventionBrowseModule.browseLeaves.relevance E
InterventionBrowseBranchAbbrev {_D}.interventionBrowseModule.browseBranches.abbrev T
InterventionBrowseBranchName {_D}.interventionBrowseModule.browseBranches.name T
VersionHolder {_D}.miscInfoModule.versionHolder D
RemovedCountry {_D}.miscInfoModule.removedCountries T
HasResults hasResults B
"""
_TYPE_CODES = {"T": "text", "M": "markup", "E": "enum", "D": "date", "N": "number", "B": "boolean",
               "A": "age", "G": "geo"}


def _load() -> dict[str, Piece]:
    out: dict[str, Piece] = {}
    for line in _TABLE.strip().splitlines():
        name, path, code = line.split()
        out[name] = Piece(name, path, _TYPE_CODES[code], _ENUMS.get(name, ()))
    return out


PIECES: dict[str, Piece] = _load()
_BY_LOWER = {k.lower(): v for k, v in PIECES.items()}


def piece(name: str) -> Piece | None:
    """A piece by name, in any letter case."""
    return _BY_LOWER.get(name.lower())


def pieces_by_type(kind: str) -> list[Piece]:
    return [p for p in PIECES.values() if p.type == kind]


# -- search areas ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    pieces: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class Area:
    name: str
    param: str | None  # the API query parameter (query.<param>), or None
    ui_label: str
    parts: tuple[Part, ...]
    index_fields: tuple[str, ...]  # the BM25 fields of the full-text index that evaluate it
    synonyms: bool = False  # conditions: MeSH names and lay terms expand the query


def _parts(spec: str) -> tuple[Part, ...]:
    out = []
    for chunk in spec.split(";"):
        weight, names = chunk.split(":")
        out.append(Part(tuple(names.split()), float(weight)))
    return tuple(out)


_ALL_TEXT = ("title", "acronym", "cond", "mesh", "mesh_anc", "intr", "kw", "summary", "descr", "elig",
             "outc", "lead", "collab", "loc", "ids")
AREAS: dict[str, Area] = {a.name: a for a in (
    Area("BasicSearch", "term", "Other terms", _parts(
        "1.0:NCTId NCTIdAlias Acronym;0.95:BriefTitle OfficialTitle Condition;0.9:ConditionMeshTerm Keyword;"
        "0.85:InterventionName InterventionOtherName InterventionMeshTerm;0.8:ArmGroupLabel ArmGroupInterventionName;"
        "0.7:PrimaryOutcomeMeasure SecondaryOutcomeMeasure OtherOutcomeMeasure OutcomeMeasureTitle;"
        "0.6:BriefSummary LeadSponsorName CollaboratorName OrgStudyId SecondaryId;"
        "0.5:ConditionAncestorTerm DetailedDescription LocationFacility LocationCity LocationState LocationCountry;"
        "0.3:EligibilityCriteria"), _ALL_TEXT, synonyms=True),
    Area("ConditionSearch", "cond", "Conditions or disease", _parts(
        "1.0:Condition ConditionMeshTerm;0.7:BriefTitle OfficialTitle Keyword;0.5:ConditionAncestorTerm"),
        ("cond", "mesh"), synonyms=True),
    Area("InterventionSearch", "intr", "Intervention / treatment", _parts(
        "1.0:InterventionName InterventionOtherName InterventionMeshTerm;0.6:ArmGroupInterventionName"),
        ("intr",)),
    Area("OutcomeSearch", "outc", "Outcome measure", _parts(
        "1.0:PrimaryOutcomeMeasure SecondaryOutcomeMeasure OtherOutcomeMeasure OutcomeMeasureTitle;"
        "0.6:PrimaryOutcomeDescription SecondaryOutcomeDescription OtherOutcomeDescription OutcomeMeasureDescription"),
        ("outc",)),
    Area("TitleSearch", "titles", "Title / acronym", _parts("1.0:Acronym BriefTitle OfficialTitle"),
         ("title", "acronym")),
    Area("LocationSearch", "locn", "Location terms", _parts(
        "1.0:LocationCity LocationState LocationCountry LocationZip;0.8:LocationFacility"), ("loc",)),
    Area("SponsorSearch", "spons", "Sponsor / collaborator", _parts("1.0:LeadSponsorName;0.9:CollaboratorName"),
         ("lead", "collab")),
    Area("LeadSponsorSearch", "lead", "Lead sponsor", _parts("1.0:LeadSponsorName"), ("lead",)),
    Area("IdSearch", "id", "Study IDs", _parts("1.0:NCTId NCTIdAlias OrgStudyId SecondaryId;0.8:Acronym"),
         ("ids", "acronym")),
    Area("PatientSearch", "patient", "Patient", _parts(
        "1.0:Condition ConditionMeshTerm;0.8:BriefTitle OfficialTitle Keyword;0.6:BriefSummary;"
        "0.5:EligibilityCriteria InterventionName"),
        ("cond", "mesh", "title", "kw", "summary", "elig", "intr"), synonyms=True),
    Area("KeywordSearch", None, "Keywords", _parts("1.0:Keyword"), ("kw",)),
    Area("EligibilitySearch", None, "Eligibility criteria", _parts("1.0:EligibilityCriteria"), ("elig",)),
    Area("DescriptionSearch", None, "Summary and description", _parts("1.0:BriefSummary;0.8:DetailedDescription"),
         ("summary", "descr")),
)}
_AREAS_LOWER = {k.lower(): v for k, v in AREAS.items()}

# trialscope's short field names (`cond:"liver cancer"`) -> the search area they stand for
SUGAR: dict[str, str] = {
    "cond": "ConditionSearch", "intr": "InterventionSearch", "term": "BasicSearch", "title": "TitleSearch",
    "titles": "TitleSearch", "outc": "OutcomeSearch", "spons": "SponsorSearch", "lead": "LeadSponsorSearch",
    "loc": "LocationSearch", "locn": "LocationSearch", "id": "IdSearch", "kw": "KeywordSearch",
    "elig": "EligibilitySearch", "summary": "DescriptionSearch",
}
AREA_BY_PARAM = {a.param: a for a in AREAS.values() if a.param}

# SEARCH[group](...): the pieces that make up one element of the group
GROUPS: dict[str, tuple[str, ...]] = {
    "Location": ("LocationFacility", "LocationStatus", "LocationCity", "LocationState", "LocationZip",
                 "LocationCountry"),
}


def area(name: str) -> Area | None:
    """A search area by name (any letter case) or by trialscope short name (`cond`)."""
    if name in SUGAR:
        return AREAS[SUGAR[name]]
    return _AREAS_LOWER.get(name.lower())


def resolve(name: str | None) -> Area | Piece | None:
    """What a leaf's field names: an area, a piece, or None for every text field."""
    if name is None:
        return None
    return area(name) or piece(name)


def search_areas_json() -> list[dict]:
    """The body of `/studies/search-areas` (the spec's SearchDocumentList)."""
    areas = []
    for a in AREAS.values():
        parts = []
        for part in a.parts:
            for name in part.pieces:
                p = PIECES[name]
                parts.append({"isEnum": p.type == "enum", "isSynonyms": a.synonyms and p.type == "text",
                              "pieces": [name], "type": _API_TYPE[p.type], "weight": part.weight})
        body = {"name": a.name, "parts": parts, "uiLabel": a.ui_label}
        if a.param:
            body["param"] = a.param
        areas.append(body)
    return [{"name": "Study", "areas": areas}]


_API_TYPE = {"text": "string", "markup": "markup", "enum": "enum", "date": "date", "number": "integer",
             "boolean": "boolean", "age": "age", "geo": "geo"}
__all__ = ["PIECES", "AREAS", "SUGAR", "GROUPS", "AREA_BY_PARAM", "Piece", "Area", "Part", "piece", "area",
           "resolve", "pieces_by_type", "search_areas_json"]

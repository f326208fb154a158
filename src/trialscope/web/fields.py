"""The API v2 `fields` parameter: piece names, module names and dotted paths → a projection."""

from __future__ import annotations

from typing import Any

from .params import ParamError

P = "protocolSection"
_MODULES = {
    "identificationModule": P, "statusModule": P, "sponsorCollaboratorsModule": P, "oversightModule": P,
    "descriptionModule": P, "conditionsModule": P, "designModule": P, "armsInterventionsModule": P,
    "outcomesModule": P, "eligibilityModule": P, "contactsLocationsModule": P, "referencesModule": P,
    "ipdSharingStatementModule": P, "participantFlowModule": "resultsSection",
    "baselineCharacteristicsModule": "resultsSection", "outcomeMeasuresModule": "resultsSection",
    "adverseEventsModule": "resultsSection", "moreInfoModule": "resultsSection",
    "annotationModule": "annotationSection", "largeDocumentModule": "documentSection",
    "miscInfoModule": "derivedSection", "conditionBrowseModule": "derivedSection",
    "interventionBrowseModule": "derivedSection",
}

# piece name → path (a list item's child is reached through the list transparently)
_PIECES: dict[str, str] = {
    "NCTId": "protocolSection.identificationModule.nctId",
    "NCTIdAlias": "protocolSection.identificationModule.nctIdAliases",
    "OrgStudyId": "protocolSection.identificationModule.orgStudyIdInfo.id",
    "SecondaryId": "protocolSection.identificationModule.secondaryIdInfos.id",
    "BriefTitle": "protocolSection.identificationModule.briefTitle",
    "OfficialTitle": "protocolSection.identificationModule.officialTitle",
    "Acronym": "protocolSection.identificationModule.acronym",
    "OrgFullName": "protocolSection.identificationModule.organization.fullName",
    "OrgClass": "protocolSection.identificationModule.organization.class",
    "StatusVerifiedDate": "protocolSection.statusModule.statusVerifiedDate",
    "OverallStatus": "protocolSection.statusModule.overallStatus",
    "LastKnownStatus": "protocolSection.statusModule.lastKnownStatus",
    "WhyStopped": "protocolSection.statusModule.whyStopped",
    "StartDate": "protocolSection.statusModule.startDateStruct.date",
    "StartDateType": "protocolSection.statusModule.startDateStruct.type",
    "PrimaryCompletionDate": "protocolSection.statusModule.primaryCompletionDateStruct.date",
    "CompletionDate": "protocolSection.statusModule.completionDateStruct.date",
    "StudyFirstSubmitDate": "protocolSection.statusModule.studyFirstSubmitDate",
    "StudyFirstPostDate": "protocolSection.statusModule.studyFirstPostDateStruct.date",
    "ResultsFirstPostDate": "protocolSection.statusModule.resultsFirstPostDateStruct.date",
    "LastUpdateSubmitDate": "protocolSection.statusModule.lastUpdateSubmitDate",
    "LastUpdatePostDate": "protocolSection.statusModule.lastUpdatePostDateStruct.date",
    "LeadSponsorName": "protocolSection.sponsorCollaboratorsModule.leadSponsor.name",
    "LeadSponsorClass": "protocolSection.sponsorCollaboratorsModule.leadSponsor.class",
    "CollaboratorName": "protocolSection.sponsorCollaboratorsModule.collaborators.name",
    "ResponsiblePartyType": "protocolSection.sponsorCollaboratorsModule.responsibleParty.type",
    "BriefSummary": "protocolSection.descriptionModule.briefSummary",
    "DetailedDescription": "protocolSection.descriptionModule.detailedDescription",
    "Condition": "protocolSection.conditionsModule.conditions",
    "Keyword": "protocolSection.conditionsModule.keywords",
    "StudyType": "protocolSection.designModule.studyType",
    "Phase": "protocolSection.designModule.phases",
    "DesignAllocation": "protocolSection.designModule.designInfo.allocation",
    "DesignInterventionModel": "protocolSection.designModule.designInfo.interventionModel",
    "DesignPrimaryPurpose": "protocolSection.designModule.designInfo.primaryPurpose",
    "DesignMasking": "protocolSection.designModule.designInfo.maskingInfo.masking",
    "EnrollmentCount": "protocolSection.designModule.enrollmentInfo.count",
    "EnrollmentType": "protocolSection.designModule.enrollmentInfo.type",
    "ArmGroupLabel": "protocolSection.armsInterventionsModule.armGroups.label",
    "ArmGroupType": "protocolSection.armsInterventionsModule.armGroups.type",
    "InterventionType": "protocolSection.armsInterventionsModule.interventions.type",
    "InterventionName": "protocolSection.armsInterventionsModule.interventions.name",
    "PrimaryOutcomeMeasure": "protocolSection.outcomesModule.primaryOutcomes.measure",
    "PrimaryOutcomeTimeFrame": "protocolSection.outcomesModule.primaryOutcomes.timeFrame",
    "SecondaryOutcomeMeasure": "protocolSection.outcomesModule.secondaryOutcomes.measure",
    "EligibilityCriteria": "protocolSection.eligibilityModule.eligibilityCriteria",
    "HealthyVolunteers": "protocolSection.eligibilityModule.healthyVolunteers",
    "Sex": "protocolSection.eligibilityModule.sex",
    "MinimumAge": "protocolSection.eligibilityModule.minimumAge",
    "MaximumAge": "protocolSection.eligibilityModule.maximumAge",
    "StdAge": "protocolSection.eligibilityModule.stdAges",
    "CentralContactName": "protocolSection.contactsLocationsModule.centralContacts.name",
    "CentralContactPhone": "protocolSection.contactsLocationsModule.centralContacts.phone",
    "CentralContactEMail": "protocolSection.contactsLocationsModule.centralContacts.email",
    "OverallOfficialName": "protocolSection.contactsLocationsModule.overallOfficials.name",
    "LocationFacility": "protocolSection.contactsLocationsModule.locations.facility",
    "LocationCity": "protocolSection.contactsLocationsModule.locations.city",
    "LocationState": "protocolSection.contactsLocationsModule.locations.state",
    "LocationCountry": "protocolSection.contactsLocationsModule.locations.country",
    "LocationStatus": "protocolSection.contactsLocationsModule.locations.status",
    "LocationGeoPoint": "protocolSection.contactsLocationsModule.locations.geoPoint",
    "ReferencePMID": "protocolSection.referencesModule.references.pmid",
    "ReferenceCitation": "protocolSection.referencesModule.references.citation",
    "ConditionMeshTerm": "derivedSection.conditionBrowseModule.meshes.term",
    "ConditionMeshId": "derivedSection.conditionBrowseModule.meshes.id",
    "InterventionMeshTerm": "derivedSection.interventionBrowseModule.meshes.term",
    "HasResults": "hasResults",
    "ProtocolSection": "protocolSection",
    "ResultsSection": "resultsSection",
    "DerivedSection": "derivedSection",
    "DocumentSection": "documentSection",
    "AnnotationSection": "annotationSection",
}
for _m, _sec in _MODULES.items():
    _PIECES[_m[0].upper() + _m[1:]] = f"{_sec}.{_m}"
_LOWER = {k.lower(): v for k, v in _PIECES.items()}
_ROOTS = {"protocolSection", "resultsSection", "derivedSection", "documentSection", "annotationSection", "hasResults"}

Tree = dict[str, Any]  # key → subtree, or True for "all of it"


def parse_fields(value: str) -> Tree | None:
    """`fields` → a projection tree, or None for the whole record. Unknown names → ParamError."""
    names = [v.strip() for v in value.replace("|", ",").split(",") if v.strip()]
    if not names:
        return None
    tree: Tree = {}
    for name in names:
        path = _LOWER.get(name.lower())
        if path is None:
            if "." in name and name.split(".")[0] in _ROOTS:
                path = name
            elif name in _MODULES:
                path = f"{_MODULES[name]}.{name}"
            else:
                raise ParamError(
                    "fields", f"unknown field {name!r}",
                    "piece names (NCTId, BriefTitle, OverallStatus, Phase, Condition, ...), module names "
                    "(ConditionsModule, ...) or paths (protocolSection.designModule.phases)")
        node = tree
        parts = path.split(".")
        for i, part in enumerate(parts):
            if node.get(part) is True:
                break
            if i == len(parts) - 1:
                node[part] = True
            else:
                node = node.setdefault(part, {})
    return tree


def project(value: Any, tree: Tree | bool) -> Any:
    """The parts of ``value`` the tree names; lists are projected element by element."""
    if tree is True:
        return value
    if isinstance(value, list):
        out = [project(v, tree) for v in value]
        return [v for v in out if v not in (None, {}, [])]
    if not isinstance(value, dict):
        return None
    out = {}
    for key, sub in tree.items():
        if key in value:
            got = project(value[key], sub)
            if got not in (None, {}, []):
                out[key] = got
    return out


def all_piece_names() -> list[str]:
    return sorted(_PIECES)

"""A study as a FHIR R4 ResearchStudy (`/api/v2/studies/{nctId}?format=fhir.json`)."""

from __future__ import annotations

from .view import g

_STATUS = {
    "RECRUITING": "active", "ENROLLING_BY_INVITATION": "active", "NOT_YET_RECRUITING": "approved",
    "ACTIVE_NOT_RECRUITING": "closed-to-accrual", "SUSPENDED": "temporarily-closed-to-accrual",
    "COMPLETED": "completed", "TERMINATED": "administratively-completed", "WITHDRAWN": "withdrawn",
    "AVAILABLE": "active", "NO_LONGER_AVAILABLE": "closed-to-accrual",
    "TEMPORARILY_NOT_AVAILABLE": "temporarily-closed-to-accrual", "APPROVED_FOR_MARKETING": "completed",
    "WITHHELD": "in-review", "UNKNOWN": "in-review",
}
_PHASE = {
    ("EARLY_PHASE1",): "early-phase-1", ("PHASE1",): "phase-1", ("PHASE1", "PHASE2"): "phase-1-phase-2",
    ("PHASE2",): "phase-2", ("PHASE2", "PHASE3"): "phase-2-phase-3", ("PHASE3",): "phase-3",
    ("PHASE4",): "phase-4", ("NA",): "n-a",
}
PHASE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-phase"


def research_study(record: dict) -> dict:
    """The FHIR R4 ResearchStudy resource of a v2 study (the fields FHIR has a place for)."""
    p = record.get("protocolSection") or {}
    ident = p.get("identificationModule") or {}
    status = p.get("statusModule") or {}
    nct = ident.get("nctId", "")
    out: dict = {
        "resourceType": "ResearchStudy",
        "id": nct,
        "identifier": [{"system": "https://clinicaltrials.gov", "value": nct}],
        "status": _STATUS.get(status.get("overallStatus") or "UNKNOWN", "in-review"),
    }
    org_id = g(ident, "orgStudyIdInfo", "id")
    if org_id:
        out["identifier"].append({"value": org_id, "assigner": {"display": g(ident, "organization", "fullName")}})
    title = ident.get("briefTitle") or ident.get("officialTitle")
    if title:
        out["title"] = title
    phases = tuple(g(p, "designModule", "phases", default=[]) or [])
    if phases in _PHASE:
        out["phase"] = {"coding": [{"system": PHASE_SYSTEM, "code": _PHASE[phases]}]}
    conditions = g(p, "conditionsModule", "conditions", default=[]) or []
    if conditions:
        out["condition"] = [{"text": c} for c in conditions]
    keywords = g(p, "conditionsModule", "keywords", default=[]) or []
    if keywords:
        out["keyword"] = [{"text": k} for k in keywords]
    summary = g(p, "descriptionModule", "briefSummary")
    if summary:
        out["description"] = summary
    start = g(status, "startDateStruct", "date")
    end = g(status, "completionDateStruct", "date")
    if start or end:
        out["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    sponsor = g(p, "sponsorCollaboratorsModule", "leadSponsor", "name")
    if sponsor:
        out["sponsor"] = {"display": sponsor}
    countries = sorted({loc.get("country") for loc in g(p, "contactsLocationsModule", "locations", default=[]) or []
                        if isinstance(loc, dict) and loc.get("country")})
    if countries:
        out["location"] = [{"text": c} for c in countries]
    arms = [{"name": a.get("label") or "", **({"description": a["description"]} if a.get("description") else {}),
             **({"type": {"text": a["type"]}} if a.get("type") else {})}
            for a in g(p, "armsInterventionsModule", "armGroups", default=[]) or [] if isinstance(a, dict)]
    if arms:
        out["arm"] = arms
    return out

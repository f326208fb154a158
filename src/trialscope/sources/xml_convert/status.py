"""statusModule: overall and last known status, why stopped, and its dates (submitted and
posted dates, start and completion as date structs with Actual/Estimated)."""

from __future__ import annotations

from .builder import Builder, Element, leaf_text
from .enums import STATUS
from .handlers import Handlers

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


HANDLERS = Handlers()

HANDLERS.simple("overall_status", "statusModule", "overallStatus", STATUS)
HANDLERS.simple("last_known_status", "statusModule", "lastKnownStatus", STATUS)
HANDLERS.simple("why_stopped", "statusModule", "whyStopped")


@HANDLERS.on("verification_date", *_STATUS_DATES)
def _status_date(b: Builder, el: Element) -> None:
    value = b.date(el.tag, leaf_text(el))
    if value:
        b.p["statusModule"][_STATUS_DATES.get(el.tag, "statusVerifiedDate")] = value


@HANDLERS.on(*_STATUS_STRUCTS)
def _status_struct(b: Builder, el: Element) -> None:
    struct = b.date_struct(el, el.tag)
    if struct:
        b.p["statusModule"][_STATUS_STRUCTS[el.tag]] = struct


@HANDLERS.on("has_expanded_access")
def _has_expanded_access(b: Builder, el: Element) -> None:
    value = b.flag(el.tag, leaf_text(el))
    if value is not None:
        b.p["statusModule"]["expandedAccessInfo"] = {"hasExpandedAccess": value}

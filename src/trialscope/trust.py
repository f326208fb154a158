"""How current a study's status is: the registry's "Unknown status" rule, in one place.

ClinicalTrials.gov shows a study as *Unknown status* when its last known status was
recruiting, not yet recruiting, active (not recruiting) or enrolling by invitation, it has
passed its completion date, and its status has not been verified within the past two years.
The stored record keeps the status as ingested; search, facets and pages show the effective
one. When a record gives no (actual or anticipated) completion date, its primary completion
date stands in for it; with neither, the study is never judged stale (nothing says it should
have ended).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

ACTIVE_STATUSES = frozenset({
    "RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING", "ENROLLING_BY_INVITATION",
})
VERIFY_WITHIN_DAYS = 730  # "within the past two years"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


@dataclass(frozen=True)
class EffectiveStatus:
    status: str | None  # what to show and filter on
    reported: str | None  # the status as the record gives it
    verified: str | None  # statusVerifiedDate (YYYY-MM or YYYY-MM-DD)
    stale_from: date | None  # the first day the rule turns (or turned) it to UNKNOWN

    @property
    def is_stale(self) -> bool:
        return self.status == "UNKNOWN" and self.reported != "UNKNOWN"


def _day(text: str | None, end_of_month: bool = False) -> date | None:
    """`2019-05-17`, `2019-05` (the month's last day when `end_of_month`), `2019`; else None."""
    if not text or len(text) < 4 or not text[:4].isdigit():
        return None
    try:
        y = int(text[:4])
        m = int(text[5:7]) if len(text) >= 7 else (12 if end_of_month else 1)
        if len(text) >= 10:
            return date(y, m, int(text[8:10]))
        if end_of_month:
            nxt = date(y + (m == 12), m % 12 + 1, 1)
            return nxt - timedelta(days=1)
        return date(y, m, 1)
    except ValueError:
        return None


def stale_from(status_module: dict) -> date | None:
    """The day a study with this status module becomes "Unknown status" (None: never)."""
    if (status_module.get("overallStatus") or "") not in ACTIVE_STATUSES:
        return None
    end = (_day((status_module.get("completionDateStruct") or {}).get("date"), True)
           or _day((status_module.get("primaryCompletionDateStruct") or {}).get("date"), True))
    if end is None:
        return None
    verified = _day(status_module.get("statusVerifiedDate"), True)
    # past the completion date: the day after it; not verified within two years: the day
    # after the second anniversary of the verification (a missing one is never current)
    unverified = verified + timedelta(days=VERIFY_WITHIN_DAYS + 1) if verified else date.min
    return max(end + timedelta(days=1), unverified)


def effective_status(record: dict, today: date | None = None) -> EffectiveStatus:
    """The status to show and filter on for a v2 record as of `today` (default: today)."""
    sm = (record.get("protocolSection") or {}).get("statusModule") or {}
    reported = sm.get("overallStatus")
    turns = stale_from(sm)
    today = today or date.today()
    status = "UNKNOWN" if turns is not None and today >= turns else reported
    return EffectiveStatus(status, reported, sm.get("statusVerifiedDate"), turns)


def month_year(text: str | None) -> str | None:
    """`2019-05` / `2019-05-17` -> `May 2019` (as the registry writes verification dates)."""
    d = _day(text)
    if d is None:
        return text or None
    return f"{MONTHS[d.month - 1]} {d.year}" if text and len(text) >= 7 else str(d.year)

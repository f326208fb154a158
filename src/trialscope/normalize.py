"""Dates and ages as the legacy registry wrote them, in the forms API v2 uses.

ClinicalTrials.gov wrote `January 1, 2019` and `May 2019` in its XML and `2019-01-01` and
`2019-05` in API v2; ages are kept as written (`18 Years`) and also as days for filtering.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

# [0-9], not \d: \d matches other scripts' digits too, and int() would accept them.
_DAY_MONTH_YEAR = re.compile(r"^([A-Za-z]+)\.?\s+([0-9]{1,2}),?\s+([0-9]{4})$")
_MONTH_YEAR = re.compile(r"^([A-Za-z]+)\.?,?\s+([0-9]{4})$")
_ISO = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")


@lru_cache(maxsize=65_536)  # a registry dump repeats its dates: "January 2019" thousands of times
def parse_date(text: str) -> str:
    """`January 1, 2019` -> `2019-01-01`; `May 2019` -> `2019-05`; ISO forms pass through.

    Raises ValueError for anything else, so a bad date is reported, never guessed.
    """
    value = text.strip()
    m = _ISO.match(value)
    if m:
        y, mo, d = m.groups()
        _check(int(y), int(mo or 1), int(d or 1), text)
        return value
    m = _DAY_MONTH_YEAR.match(value)
    if m:
        month = MONTHS.get(m.group(1).lower())
        if month:
            day, year = int(m.group(2)), int(m.group(3))
            _check(year, month, day, text)
            return f"{year:04d}-{month:02d}-{day:02d}"
    m = _MONTH_YEAR.match(value)
    if m:
        month = MONTHS.get(m.group(1).lower())
        if month:
            year = int(m.group(2))
            _check(year, month, 1, text)
            return f"{year:04d}-{month:02d}"
    raise ValueError(f"unrecognised date {text!r}")


@lru_cache(maxsize=65_536)
def iso_date(text: str) -> date:
    """An ISO date as v2 writes it (`2019`, `2019-05` or `2019-05-17`), as its first day;
    raises ValueError for any other form or an impossible date (`2021-13-45`)."""
    m = _ISO.match(text)
    if not m:
        raise ValueError(f"not an ISO date {text!r}")
    y, mo, d = m.groups()
    _check(int(y), int(mo or 1), int(d or 1), text)
    return date(int(y), int(mo or 1), int(d or 1))


def _check(year: int, month: int, day: int, text: str) -> None:
    try:
        date(year, month, day)
    except ValueError:
        raise ValueError(f"impossible date {text!r}") from None


DAYS_PER_UNIT = {
    "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25,
}
_AGE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+?)s?\s*$")


def age_days(text: str | None) -> float | None:
    """`18 Years` -> 6574.5 days; `N/A`, empty or None -> None (no limit)."""
    if text is None:
        return None
    value = text.strip()
    if not value or value.upper() in {"N/A", "NA", "NONE"}:
        return None
    m = _AGE.match(value)
    if not m or m.group(2).lower() not in DAYS_PER_UNIT:
        raise ValueError(f"unrecognised age {text!r}")
    return float(m.group(1)) * DAYS_PER_UNIT[m.group(2).lower()]


def years_to_days(years: float) -> float:
    return years * DAYS_PER_UNIT["year"]


_MD_ESCAPED = re.compile(r"\\([\\<>\[\]&*^~.\-_()#+!`{}|])")


def unescape_markdown(text: str) -> str:
    r"""v2 free text as plain text: `\<3 years` -> `<3 years` (v2 escapes markdown characters).

    For showing v2 text outside a markdown renderer; list markers (`* `) are left as they are.
    """
    return _MD_ESCAPED.sub(r"\1", text) if "\\" in text else text

"""Property tests: legacy dates and ages parse to what they say, and nothing else gets through."""

from __future__ import annotations

import calendar
import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialscope.normalize import DAYS_PER_UNIT, age_days, parse_date, unescape_markdown

dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
ISO_RESULT = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")


@given(dates)
def test_day_month_year_round_trips(d: date) -> None:
    assert parse_date(f"{calendar.month_name[d.month]} {d.day}, {d.year:04d}") == d.isoformat()
    assert parse_date(f"{calendar.month_abbr[d.month]} {d.day} {d.year:04d}") == d.isoformat()


@given(dates)
def test_month_year_round_trips(d: date) -> None:
    assert parse_date(f"{calendar.month_name[d.month]} {d.year:04d}") == d.isoformat()[:7]
    assert parse_date(f"  {calendar.month_name[d.month].upper()} {d.year:04d}\n") == d.isoformat()[:7]


@given(dates, st.sampled_from([4, 7, 10]))
def test_iso_passes_through(d: date, width: int) -> None:
    text = d.isoformat()[:width]
    assert parse_date(text) == text
    assert parse_date(parse_date(text)) == text  # idempotent


@given(st.integers(1, 12), st.integers(1, 31), st.integers(1900, 2100))
def test_impossible_days_are_rejected(month: int, day: int, year: int) -> None:
    text = f"{calendar.month_name[month]} {day}, {year}"
    if day <= calendar.monthrange(year, month)[1]:
        assert parse_date(text) == f"{year:04d}-{month:02d}-{day:02d}"
    else:
        with pytest.raises(ValueError, match="impossible date"):
            parse_date(text)


@given(st.text(max_size=30))
def test_any_text_gives_an_iso_date_or_value_error(text: str) -> None:
    try:
        result = parse_date(text)
    except ValueError:
        return
    assert ISO_RESULT.match(result), (text, result)


def test_other_scripts_digits_are_not_dates() -> None:
    with pytest.raises(ValueError):
        parse_date("٢٠١٩")  # Arabic-Indic digits: \d would match them
    with pytest.raises(ValueError):
        parse_date("May 0000")
    with pytest.raises(ValueError):
        age_days("١٨ Years")


units = st.sampled_from(sorted(DAYS_PER_UNIT))


@given(st.integers(0, 200), units, st.booleans(), st.booleans())
def test_age_round_trips(n: int, unit: str, plural: bool, title: bool) -> None:
    word = unit + ("s" if plural else "")
    text = f"{n} {word.title() if title else word}"
    assert age_days(text) == pytest.approx(n * DAYS_PER_UNIT[unit])


@given(st.integers(0, 150), st.integers(0, 150), units)
def test_ages_order_like_their_numbers(a: int, b: int, unit: str) -> None:
    da, db = age_days(f"{a} {unit}s"), age_days(f"{b} {unit}s")
    assert (da < db) == (a < b)


@pytest.mark.parametrize("text", [None, "", "  ", "N/A", "n/a", "NA", "None"])
def test_no_limit(text: str | None) -> None:
    assert age_days(text) is None


def test_known_values() -> None:
    assert age_days("18 Years") == 18 * 365.25
    assert age_days("6 Months") == 6 * 30.4375
    assert parse_date("January 1, 2019") == "2019-01-01"
    assert parse_date("May 2019") == "2019-05"
    assert parse_date("Sept. 3, 2019") == "2019-09-03"


@given(st.text(max_size=20))
def test_any_text_gives_days_none_or_value_error(text: str) -> None:
    try:
        result = age_days(text)
    except ValueError:
        return
    assert result is None or result >= 0


def test_unescape_markdown() -> None:
    assert unescape_markdown("Life expectancy \\<3 years \\& \\[BCLC\\] \\*note") == "Life expectancy <3 years & [BCLC] *note"
    assert unescape_markdown("a\\\\b") == "a\\b"
    assert unescape_markdown("* item") == "* item"


@given(st.text(max_size=40))
def test_unescape_inverts_the_xml_converters_escaping(text: str) -> None:
    from trialscope.sources.xml_convert.text import markdown

    assert unescape_markdown(markdown(text)) == text.strip()

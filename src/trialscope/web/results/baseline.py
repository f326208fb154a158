"""Baseline characteristics: one table per measure, age, sex and race first."""

from __future__ import annotations

from dataclasses import dataclass

from .dispersion import Dispersion, dispersion_of
from .table import Group, Row, counted_groups, denominators, is_count, measure_rows
from .values import as_list, as_text, humanize, num


@dataclass(slots=True)
class BaselineMeasure:
    title: str
    param: str
    dispersion: Dispersion
    unit: str
    rows: list[Row]
    description: str = ""


@dataclass(slots=True)
class Baseline:
    groups: list[Group]
    measures: list[BaselineMeasure]
    units: str = ""
    population: str = ""


def _key_rank(title: str) -> int:
    t = title.lower()
    if t.startswith("age"):
        return 0
    if t.startswith("sex") and "orientation" not in t or t.startswith("gender"):
        return 1
    if t.startswith(("race", "ethnic")):
        return 2
    return 3


def baseline_of(mod: dict) -> Baseline | None:
    """The baseline characteristics module as tables, None when it holds nothing."""
    groups, units, totals = counted_groups(mod, "BG")
    measures = []
    for m in as_list(mod.get("measures")):
        if not isinstance(m, dict):
            continue
        disp = dispersion_of(m.get("dispersionType"))
        counts_here = is_count(m.get("paramType"))
        m_totals = totals
        m_units, m_counts = denominators(m.get("denoms"))
        if m_counts and counts_here:
            m_totals = {k: f for k, v in m_counts.items() if (f := num(v)) is not None}
        measures.append(BaselineMeasure(
            as_text(m.get("title")) or "Measure", humanize(m.get("paramType")), disp,
            as_text(m.get("unitOfMeasure")), measure_rows(m, groups, disp, counts_here, m_totals),
            as_text(m.get("description"))))
    measures.sort(key=lambda x: _key_rank(x.title))
    if not groups and not measures:
        return None
    return Baseline(groups, measures, units, as_text(mod.get("populationDescription")))

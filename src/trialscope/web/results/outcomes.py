"""Outcome measures: their tables, a chart where the values allow one, and their
statistical analyses in words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from .charts import bar_chart
from .dispersion import Dispersion, dispersion_of
from .table import Group, Row, counted_groups, is_count, measure_rows
from .values import as_list, as_text, humanize, num

OUTCOME_CAP = 15  # outcome measures shown in full (primary ones first), the rest as links
MAX_BARS = 40  # more bars than this in one outcome: a table only


@dataclass(slots=True)
class Analysis:
    groups: str  # "Drug A vs Placebo"
    sentence: str  # "Hazard Ratio 0.75, 95% CI 0.62–0.91, p = 0.003, Log Rank"
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    anchor: str
    type: str
    title: str
    description: str
    time_frame: str
    population: str
    unit: str
    param: str
    dispersion: Dispersion
    groups: list[Group]
    rows: list[Row]
    chart: Markup | None
    chart_note: str
    analyses: list[Analysis]
    posted: bool = True
    primary: bool = False
    denom_units: str = ""


def format_p(value: Any) -> str:
    """"0.003" -> "p = 0.003"; "<0.0001" -> "p < 0.0001"; "NS" -> "p NS"."""
    s = as_text(value)
    if not s:
        return ""
    s = s.replace("≤", "<=").replace("≥", ">=")
    m = re.match(r"^(<=|>=|=<|=>|<|>|=)\s*(.+)$", s)
    if m:
        op = {"=<": "≤", "<=": "≤", "=>": "≥", ">=": "≥"}.get(m.group(1), m.group(1))
        return f"p {op} {m.group(2).strip()}"
    if s.lower().startswith("p"):
        return s
    return f"p = {s}" if num(s) is not None else f"p {s}"


def _range(lo: str, hi: str) -> str:
    if not lo and not hi:
        return ""
    if not hi or hi.upper() == "NA":
        return f"lower limit {lo}"
    if not lo or lo.upper() == "NA":
        return f"upper limit {hi}"
    neg = lo.startswith("-") or hi.startswith("-")
    return f"{lo or '?'}{' to ' if neg else '–'}{hi or '?'}"


def analysis_sentence(a: Mapping[str, Any]) -> str:
    """A statistical analysis in words: "Hazard Ratio 0.75, 95% CI 0.62–0.91, p = 0.003,
    Log Rank". Pieces that are missing are left out."""
    parts = []
    ptype = humanize(a.get("paramType"))
    pval = as_text(a.get("paramValue"))
    if ptype or pval:
        parts.append(" ".join(x for x in (ptype or "Estimate", pval) if x))
    rng = _range(as_text(a.get("ciLowerLimit")), as_text(a.get("ciUpperLimit")))
    if rng:
        pct = as_text(a.get("ciPctValue"))
        sides = as_text(a.get("ciNumSides")).upper()
        ci = f"{pct}% CI" if pct else "CI"
        if sides.startswith("ONE"):
            ci = f"{ci} (one-sided)"
        parts.append(f"{ci} {rng}")
    disp_v = as_text(a.get("dispersionValue"))
    if disp_v and not rng:
        d = dispersion_of(a.get("dispersionType"))
        parts.append(f"{d.short or 'dispersion'} {disp_v}")
    p = format_p(a.get("pValue"))
    if p:
        parts.append(p)
    method = as_text(a.get("statisticalMethod"))
    if method:
        parts.append(method)
    return ", ".join(parts)


def _analysis(a: dict, titles: dict[str, str]) -> Analysis:
    ids = [as_text(x) for x in as_list(a.get("groupIds"))]
    groups = " vs ".join(titles.get(i, i) for i in ids)
    notes = []
    ni = as_text(a.get("nonInferiorityType")).upper()
    if ni.startswith(("NON_INFERIORITY", "EQUIVALENCE")):
        notes.append(humanize(ni.replace("_LEGACY", "")) + " test")
    for key in ("groupDescription", "pValueComment", "estimateComment", "statisticalComment",
                "nonInferiorityComment"):
        t = as_text(a.get(key))
        if t:
            notes.append(t)
    return Analysis(groups, analysis_sentence(a) or "No figures posted", notes)


_TIME_UNIT = re.compile(r"\b(months?|weeks?|days?|years?|hours?|hrs?|minutes?|mins?)\b", re.I)

OUTCOME_TYPES = {"PRIMARY": "Primary", "SECONDARY": "Secondary",
                 "OTHER_PRE_SPECIFIED": "Other pre-specified", "POST_HOC": "Post hoc"}


def outcome_of(i: int, om: dict) -> Outcome:
    """The `i`-th outcome measure: its table, its chart where one fits, its analyses."""
    disp = dispersion_of(om.get("dispersionType"))
    groups, d_units, totals = counted_groups(om, "OG")
    param_raw = as_text(om.get("paramType"))
    unit = as_text(om.get("unitOfMeasure"))
    counts_here = is_count(param_raw)
    rows = measure_rows(om, groups, disp, counts_here, totals)
    titles = {g.id: g.title for g in groups}
    analyses = [_analysis(a, titles) for a in as_list(om.get("analyses")) if isinstance(a, dict)]
    status = as_text(om.get("reportingStatus")).upper()
    t = as_text(om.get("type")).upper()
    title = as_text(om.get("title")) or f"Outcome {i + 1}"
    param = humanize(param_raw)
    is_time = param_raw.upper() == "MEDIAN" and bool(_TIME_UNIT.search(unit))
    chart, note = None, ""
    data_rows = [r for r in rows if not r.head]
    n_bars = len(data_rows) * len(groups)
    if groups and data_rows and any(c.value is not None for r in data_rows for c in r.cells):
        if n_bars <= MAX_BARS:
            kind = "dots" if is_time else "bars"
            chart = bar_chart(title, groups, [(r.label, r.cells) for r in data_rows], unit,
                              kind=kind, anchor=f"o{i}")
            note = _chart_note(param or "Value", disp, kind, rows)
        else:
            note = f"{n_bars} values: too many to chart at a glance; see the table."
    return Outcome(
        anchor=f"outcome-{i + 1}", type=OUTCOME_TYPES.get(t, humanize(t)), title=title,
        description=as_text(om.get("description")), time_frame=as_text(om.get("timeFrame")),
        population=as_text(om.get("populationDescription")), unit=unit, param=param,
        dispersion=disp, groups=groups, rows=rows, chart=chart, chart_note=note,
        analyses=analyses, posted=status != "NOT_POSTED", primary=t == "PRIMARY",
        denom_units=d_units)


def _chart_note(param: str, disp: Dispersion, kind: str, rows: list[Row]) -> str:
    has_whisker = any(c.lo is not None or c.hi is not None or c.open_hi
                      for r in rows for c in r.cells)
    mark = "Dots" if kind == "dots" else "Bars"
    what = f"{mark}: {param.lower()}"
    if not has_whisker:
        return what + "." + (" No dispersion posted." if not disp.kind else "")
    if disp.kind in ("sd", "se"):
        w = f"whiskers: ± 1 {disp.label} ({disp.short})"
    elif disp.kind:
        w = f"whiskers: {disp.label}"
    else:
        w = "whiskers: posted lower to upper limit"
    extra = ""
    if any(c.open_hi for r in rows for c in r.cells):
        extra = " An arrow marks an upper limit that was not reached or not estimable (NA)."
    return f"{what}; {w}.{extra}"


@dataclass(slots=True)
class OutcomeLink:
    anchor: str
    type: str
    title: str
    href: str


@dataclass(slots=True)
class OutcomesView:
    """The outcome measures as the page shows them: all primary ones and the first others
    up to OUTCOME_CAP in full, the rest as links (``?outcomes=all`` shows everything)."""

    shown: list[Outcome]
    hidden: list[OutcomeLink]
    total: int
    show_all: bool
    all_href: str
    less_href: str
    cappable: bool  # some would be links without ?outcomes=all

"""Posted results, readable at a glance: the view model of a record's ``resultsSection``.

``view(record)`` turns the API v2 results of a study (participant flow, baseline
characteristics, outcome measures with their statistical analyses, adverse events) into
plain objects the ``_results.html`` partial lays out, plus server-side SVG charts:

- an outcome measure becomes horizontal bars with whiskers (SD, SE, confidence interval,
  inter-quartile or full range; the chart says which), or a dot-and-interval plot when it is
  a median time (time to event: median with its interval; an upper limit that is not a
  number is drawn open, "not reached"); several categories become grouped bars;
- the most frequent adverse events become horizontal bars, one per group (% affected);
- participant flow gets one completion bar per group.

Everything is defensive: values that are not numbers ("NA", text) are shown as text and
never charted, missing pieces are skipped, and nothing in a record can raise. All record
text that lands in SVG goes through ``markupsafe.escape``; the template relies on Jinja's
autoescape for the rest. The charts are plain SVG (attributes and classes, no ``style``),
so the page's strict CSP allows them.
"""

from __future__ import annotations

import gc
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

__all__ = [
    "AE_CAP",
    "OUTCOME_CAP",
    "Results",
    "analysis_sentence",
    "bar_chart",
    "dispersion_of",
    "format_p",
    "num",
    "view",
]

AE_CAP = 40  # adverse-event rows shown per table before "show all"
OUTCOME_CAP = 15  # outcome measures shown in full (primary ones first), the rest as links
TOP_AE = 10  # events in the most-frequent chart
MAX_BARS = 40  # more bars than this in one outcome: a table only

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948",
           "#9c755f", "#ff9da7", "#bab0ac")

# ---------------------------------------------------------------------------- numbers


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def num(value: Any) -> float | None:
    """A finite number from a record value ("12.5", 12, "26,300"), else None ("NA", text)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    s = str(value).strip()
    if not s:
        return None
    try:
        f = float(s)
    except ValueError:
        if _THOUSANDS.match(s):
            return float(s.replace(",", ""))
        return None
    if "_" in s or not math.isfinite(f):
        return None
    return f


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def fmt(x: float) -> str:
    """A short number for axes and percentages: 12, 12.5, 0.031, 1.2e+06."""
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e6 or a < 1e-3:
        return f"{x:.3g}"
    if a >= 100:
        s = f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"
    elif a >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def pct_text(part: float, whole: float) -> str:
    if not whole:
        return ""
    p = 100.0 * part / whole
    s = f"{p:.1f}"
    return (s[:-2] if s.endswith(".0") else s) + "%"


def humanize(value: Any) -> str:
    """"LEAST_SQUARES_MEAN" -> "Least squares mean"; free text is kept as written."""
    s = _text(value)
    if not s:
        return ""
    if "_" in s or (s.isupper() and " " not in s):
        s = s.replace("_", " ").lower()
        return s[:1].upper() + s[1:]
    return s


_ABBREV = {"Ci": "CI"}

# ------------------------------------------------------------------------- dispersion


@dataclass(frozen=True, slots=True)
class Dispersion:
    kind: str  # sd, se, ci, iqr, range, other, "" (none)
    label: str  # "standard deviation", "95% confidence interval"
    short: str  # "SD", "95% CI"

    @property
    def symmetric(self) -> bool:
        return self.kind in ("sd", "se")


NO_DISPERSION = Dispersion("", "", "")


def dispersion_of(value: Any) -> Dispersion:
    """Both the v2 enums (STANDARD_DEVIATION, CONFIDENCE_95) and the older words
    ("Standard Deviation", "95% Confidence Interval") a record may carry."""
    raw = _text(value)
    if not raw:
        return NO_DISPERSION
    key = re.sub(r"[^A-Z0-9]+", "_", raw.upper()).strip("_")
    if key == "NA" or key == "NONE":
        return NO_DISPERSION
    if key.startswith("STANDARD_DEVIATION"):
        return Dispersion("sd", "standard deviation", "SD")
    if key.startswith("STANDARD_ERROR"):
        return Dispersion("se", "standard error", "SE")
    if "CONFIDENCE" in key:
        digits = re.findall(r"\d+", key)
        level = ""
        if digits:
            d = digits[0]
            level = d if len(d) <= 2 else f"{d[:2]}.{d[2:]}"
        lab = f"{level}% confidence interval" if level else "confidence interval"
        return Dispersion("ci", lab, f"{level}% CI" if level else "CI")
    if "QUARTILE" in key:
        return Dispersion("iqr", "inter-quartile range", "IQR")
    if key == "FULL_RANGE" or key == "RANGE":
        return Dispersion("range", "full range (min to max)", "range")
    if key.startswith("GEOMETRIC_COEFFICIENT"):
        return Dispersion("other", "geometric coefficient of variation", "geometric CV")
    lab = humanize(raw).lower() if "_" in raw else raw
    return Dispersion("other", lab, lab)


# ------------------------------------------------------------------------------ cells


@dataclass(slots=True)
class Cell:
    """One group's value in a table row, and what a chart needs of it."""

    text: str  # as posted: "12.3 ± 4.5", "104.5 (28.0 to 753.0)", "NA"
    value: float | None = None
    lo: float | None = None  # whisker extents, absolute
    hi: float | None = None
    open_hi: bool = False  # an upper limit that is not a number (median not reached)
    open_lo: bool = False
    note: str = ""  # a measurement's comment
    pct: str = ""  # share of the group's participants, for counts

    @property
    def numeric(self) -> bool:
        return self.value is not None


EMPTY = Cell("—")


def make_cell(m: Mapping[str, Any] | None, disp: Dispersion) -> Cell:
    if not m:
        return EMPTY
    v = _text(m.get("value"))
    value = num(v)
    text = v or "—"
    if len(m) <= 2 and "comment" not in m:  # the common case: groupId and value only
        return Cell(text, value)
    spread = _text(m.get("spread"))
    lo_t = _text(m.get("lowerLimit"))
    hi_t = _text(m.get("upperLimit"))
    lo = hi = None
    open_lo = open_hi = False
    if lo_t or hi_t:
        text = f"{text} ({lo_t or '?'} to {hi_t or '?'})"
        lo, hi = num(lo_t), num(hi_t)
        if value is not None:
            if lo is None and lo_t:
                open_lo, lo = True, None
            if hi is None and hi_t:
                open_hi, hi = True, None
    elif spread:
        text = f"{text} ± {spread}" if disp.kind in ("sd", "se", "") else f"{text} ({spread})"
        s = num(spread)
        if value is not None and s is not None and disp.kind in ("sd", "se", ""):
            lo, hi = value - abs(s), value + abs(s)
    return Cell(text, value, lo, hi, open_hi, open_lo, _text(m.get("comment")))


# ----------------------------------------------------------------------------- groups


@dataclass(slots=True)
class Group:
    id: str
    title: str
    description: str = ""
    n: str = ""  # participants analysed (denominator), as posted
    color: int = 0  # palette index: class "g{color}"

    @property
    def css(self) -> str:
        return f"g{self.color % len(PALETTE)}"


def _groups(raw: Any, prefix: str = "") -> list[Group]:
    out = []
    for i, g in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(g, dict):
            continue
        gid = _text(g.get("id")) or f"{prefix}{i:03d}"
        out.append(Group(gid, _text(g.get("title")) or gid, _text(g.get("description")), "", i))
    return out


def _denoms(raw: Any) -> tuple[str, dict[str, str]]:
    """The first denominator (units, {groupId: count}); outcome denoms may list several
    units (participants, eyes...): the participants one comes first when present."""
    if not isinstance(raw, list) or not raw:
        return "", {}
    best = raw[0]
    for d in raw:
        if isinstance(d, dict) and _text(d.get("units")).lower() == "participants":
            best = d
            break
    if not isinstance(best, dict):
        return "", {}
    counts = {}
    for c in best.get("counts") or []:
        if isinstance(c, dict):
            counts[_text(c.get("groupId"))] = _text(c.get("value"))
    return _text(best.get("units")), counts


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------------ participant flow


@dataclass(slots=True)
class FlowRow:
    label: str
    kind: str  # started, completed, not-completed, milestone, reason
    cells: list[str]


@dataclass(slots=True)
class FlowPeriod:
    title: str
    rows: list[FlowRow]
    chart: Markup | None = None


@dataclass(slots=True)
class Flow:
    groups: list[Group]
    periods: list[FlowPeriod]
    recruitment: str = ""
    pre_assignment: str = ""


_MILESTONE = {"STARTED": ("Started", "started"), "COMPLETED": ("Completed", "completed"),
              "NOT COMPLETED": ("Not completed", "not-completed"),
              "NOT_COMPLETED": ("Not completed", "not-completed")}


def _flow(mod: dict) -> Flow | None:
    groups = _groups(mod.get("groups"), "FG")
    periods = []
    for p_i, p in enumerate(_list(mod.get("periods"))):
        if not isinstance(p, dict):
            continue
        rows: list[FlowRow] = []
        started: dict[str, float] = {}
        completed: dict[str, float] = {}
        for ms in _list(p.get("milestones")):
            if not isinstance(ms, dict):
                continue
            t = _text(ms.get("type"))
            label, kind = _MILESTONE.get(t.upper(), (t or "Milestone", "milestone"))
            by = {}
            for a in _list(ms.get("achievements")):
                if isinstance(a, dict):
                    by[_text(a.get("groupId"))] = _text(a.get("numSubjects"))
            if kind == "started":
                started = {k: f for k, v in by.items() if (f := num(v)) is not None}
            elif kind == "completed":
                completed = {k: f for k, v in by.items() if (f := num(v)) is not None}
            cells = []
            for g in groups:
                v = by.get(g.id, "")
                n = num(v)
                if kind in ("completed", "not-completed") and n is not None and started.get(g.id):
                    v = f"{v} ({pct_text(n, started[g.id])})"
                cells.append(v or "—")
            rows.append(FlowRow(label, kind, cells))
        reasons = []
        for dw in _list(p.get("dropWithdraws")):
            if not isinstance(dw, dict):
                continue
            by = {_text(r.get("groupId")): _text(r.get("numSubjects"))
                  for r in _list(dw.get("reasons")) if isinstance(r, dict)}
            reasons.append(FlowRow(humanize(dw.get("type")) or "Other", "reason",
                                   [by.get(g.id, "") or "—" for g in groups]))
        if reasons:
            rows.append(FlowRow("Reasons for not completing", "reason-head", ["" for _ in groups]))
            rows.extend(reasons)
        chart = None
        if started and completed:
            chart = flow_chart(groups, started, completed, f"flow-{p_i}")
        periods.append(FlowPeriod(_text(p.get("title")) or f"Period {p_i + 1}", rows, chart))
    if not groups and not periods:
        return None
    return Flow(groups, periods, _text(mod.get("recruitmentDetails")),
                _text(mod.get("preAssignmentDetails")))


# ------------------------------------------------------------------------------ baseline


@dataclass(slots=True)
class Row:
    label: str
    cells: list[Cell]
    head: bool = False  # a class title above its categories


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


def _rows(measure: dict, groups: list[Group], disp: Dispersion, counts: bool,
          totals: dict[str, float]) -> list[Row]:
    """Rows of a measure: one per category, under their class titles."""
    rows: list[Row] = []
    classes = [c for c in _list(measure.get("classes")) if isinstance(c, dict)]
    for c in classes:
        c_title = _text(c.get("title"))
        cats = [k for k in _list(c.get("categories")) if isinstance(k, dict)]
        if c_title and len(cats) > 1:
            rows.append(Row(c_title, [], head=True))
        for k in cats:
            k_title = _text(k.get("title"))
            label = k_title if (k_title and len(cats) > 1) else (
                " · ".join(x for x in (c_title, k_title) if x))
            by = {}
            for m in _list(k.get("measurements")):
                if isinstance(m, dict):
                    by[_text(m.get("groupId"))] = m
            cells = []
            for g in groups:
                cell = make_cell(by.get(g.id), disp)
                if counts and cell.value is not None and totals.get(g.id):
                    cell = Cell(cell.text, cell.value, cell.lo, cell.hi, cell.open_hi,
                                cell.open_lo, cell.note, pct_text(cell.value, totals[g.id]))
                cells.append(cell)
            rows.append(Row(label, cells))
    return rows


def _is_count(param: Any) -> bool:
    p = _text(param).upper().replace(" ", "_")
    return p.startswith("COUNT_OF_PARTICIPANTS") or p == "NUMBER_OF_PARTICIPANTS"


def _baseline(mod: dict) -> Baseline | None:
    groups = _groups(mod.get("groups"), "BG")
    units, counts = _denoms(mod.get("denoms"))
    totals = {}
    for g in groups:
        g.n = counts.get(g.id, "")
        if (f := num(g.n)) is not None:
            totals[g.id] = f
    measures = []
    for m in _list(mod.get("measures")):
        if not isinstance(m, dict):
            continue
        disp = dispersion_of(m.get("dispersionType"))
        counts_here = _is_count(m.get("paramType"))
        m_totals = totals
        m_units, m_counts = _denoms(m.get("denoms"))
        if m_counts and counts_here:
            m_totals = {k: f for k, v in m_counts.items() if (f := num(v)) is not None}
        measures.append(BaselineMeasure(
            _text(m.get("title")) or "Measure", humanize(m.get("paramType")), disp,
            _text(m.get("unitOfMeasure")), _rows(m, groups, disp, counts_here, m_totals),
            _text(m.get("description"))))
    measures.sort(key=lambda x: _key_rank(x.title))
    if not groups and not measures:
        return None
    return Baseline(groups, measures, units, _text(mod.get("populationDescription")))


# ------------------------------------------------------------------------ outcome measures


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
    s = _text(value)
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
    pval = _text(a.get("paramValue"))
    if ptype or pval:
        parts.append(" ".join(x for x in (ptype or "Estimate", pval) if x))
    rng = _range(_text(a.get("ciLowerLimit")), _text(a.get("ciUpperLimit")))
    if rng:
        pct = _text(a.get("ciPctValue"))
        sides = _text(a.get("ciNumSides")).upper()
        ci = f"{pct}% CI" if pct else "CI"
        if sides.startswith("ONE"):
            ci = f"{ci} (one-sided)"
        parts.append(f"{ci} {rng}")
    disp_v = _text(a.get("dispersionValue"))
    if disp_v and not rng:
        d = dispersion_of(a.get("dispersionType"))
        parts.append(f"{d.short or 'dispersion'} {disp_v}")
    p = format_p(a.get("pValue"))
    if p:
        parts.append(p)
    method = _text(a.get("statisticalMethod"))
    if method:
        parts.append(method)
    return ", ".join(parts)


def _analysis(a: dict, titles: dict[str, str]) -> Analysis:
    ids = [_text(x) for x in _list(a.get("groupIds"))]
    groups = " vs ".join(titles.get(i, i) for i in ids)
    notes = []
    ni = _text(a.get("nonInferiorityType")).upper()
    if ni.startswith(("NON_INFERIORITY", "EQUIVALENCE")):
        notes.append(humanize(ni.replace("_LEGACY", "")) + " test")
    for key in ("groupDescription", "pValueComment", "estimateComment", "statisticalComment",
                "nonInferiorityComment"):
        t = _text(a.get(key))
        if t:
            notes.append(t)
    return Analysis(groups, analysis_sentence(a) or "No figures posted", notes)


_TIME_UNIT = re.compile(r"\b(months?|weeks?|days?|years?|hours?|hrs?|minutes?|mins?)\b", re.I)

_TYPES = {"PRIMARY": "Primary", "SECONDARY": "Secondary", "OTHER_PRE_SPECIFIED": "Other pre-specified",
          "POST_HOC": "Post hoc"}


def _outcome(i: int, om: dict) -> Outcome:
    disp = dispersion_of(om.get("dispersionType"))
    groups = _groups(om.get("groups"), "OG")
    d_units, counts = _denoms(om.get("denoms"))
    totals = {}
    for g in groups:
        g.n = counts.get(g.id, "")
        if (f := num(g.n)) is not None:
            totals[g.id] = f
    param_raw = _text(om.get("paramType"))
    unit = _text(om.get("unitOfMeasure"))
    counts_here = _is_count(param_raw)
    rows = _rows(om, groups, disp, counts_here, totals)
    titles = {g.id: g.title for g in groups}
    analyses = [_analysis(a, titles) for a in _list(om.get("analyses")) if isinstance(a, dict)]
    status = _text(om.get("reportingStatus")).upper()
    t = _text(om.get("type")).upper()
    title = _text(om.get("title")) or f"Outcome {i + 1}"
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
        anchor=f"outcome-{i + 1}", type=_TYPES.get(t, humanize(t)), title=title,
        description=_text(om.get("description")), time_frame=_text(om.get("timeFrame")),
        population=_text(om.get("populationDescription")), unit=unit, param=param,
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


# ------------------------------------------------------------------------ adverse events


@dataclass(slots=True)
class AECell:
    text: str  # "3/59 (5.1%)"
    affected: float | None
    at_risk: float | None
    pct: float | None  # 0-100
    events: str = ""


class AERow:
    """One adverse event. Its per-group cells are built only when shown (a study may list
    hundreds of events; the page shows AE_CAP of them unless asked for all)."""

    __slots__ = ("term", "organ", "term_key", "organ_key", "serious", "pcts", "total_pct", "total_affected", "_stats",
                 "_cells")

    def __init__(self, term: str, organ: str, serious: bool, stats: list, pcts: list,
                 total_pct: float, total_affected: float):
        self.term = term
        self.organ = organ
        self.term_key = term.lower()
        self.organ_key = organ.lower()
        self.serious = serious
        self.pcts = pcts  # % affected per group (None where unknown), for sorting
        self.total_pct = total_pct  # affected / at risk over all groups, the default order
        self.total_affected = total_affected
        self._stats = stats  # per group: the stats dict or None
        self._cells: list[AECell] | None = None

    @property
    def cells(self) -> list[AECell]:
        if self._cells is None:
            cells = []
            for s, p in zip(self._stats, self.pcts, strict=True):
                if s is None:
                    cells.append(AECell("—", None, None, None))
                    continue
                a_raw, r_raw = s.get("numAffected"), s.get("numAtRisk")
                a, r = num(a_raw), num(r_raw)
                ev = _text(s.get("numEvents"))
                text = _ae_text(a, r, _text(a_raw), _text(r_raw))
                if a is None and ev:
                    text = f"{ev} events"
                cells.append(AECell(text, a, r, p, ev))
            self._cells = cells
        return self._cells


@dataclass(slots=True)
class AESummary:
    label: str
    cells: list[str]


@dataclass(slots=True)
class AETable:
    kind: str  # serious, other
    title: str
    rows: list[AERow]
    total: int
    capped: bool


@dataclass(slots=True)
class AESort:
    key: str
    label: str
    href: str
    active: bool


@dataclass(slots=True)
class AEView:
    """The adverse events as the page shows them for one query: sorted, capped."""

    groups: list[Group]
    summary: list[AESummary]
    tables: list[AETable]
    sorts: list[AESort]  # term, organ, then one per group
    sort: str
    show_all: bool
    all_href: str
    less_href: str
    chart: Markup | None
    time_frame: str
    description: str
    threshold: str
    vocabulary: str

    def sort_for(self, key: str) -> AESort | None:
        for s in self.sorts:
            if s.key == key:
                return s
        return None


class AdverseEvents:
    """All adverse events of a study; ``view(query)`` gives the sorted, capped tables."""

    __slots__ = ("groups", "summary", "serious", "other", "chart", "top_n", "time_frame",
                 "description", "threshold", "vocabulary")

    def __init__(self, mod: dict):
        self.groups = _groups(mod.get("eventGroups"), "EG")
        raw = {g.id: g for g in self.groups}
        gdict = {_text(g.get("id")): g for g in _list(mod.get("eventGroups")) if isinstance(g, dict)}
        self.summary = []
        for label, a_key, r_key in (("Deaths (all causes)", "deathsNumAffected", "deathsNumAtRisk"),
                                    ("Serious adverse events", "seriousNumAffected", "seriousNumAtRisk"),
                                    ("Other adverse events", "otherNumAffected", "otherNumAtRisk")):
            cells = []
            any_v = False
            for g in self.groups:
                d = gdict.get(g.id, {})
                a, r = d.get(a_key), d.get(r_key)
                if a is None and r is None:
                    cells.append("—")
                    continue
                any_v = True
                cells.append(_ae_text(num(a), num(r), _text(a), _text(r)))
            if any_v:
                self.summary.append(AESummary(label, cells))
        for g in self.groups:
            d = gdict.get(g.id, {})
            g.n = _text(d.get("seriousNumAtRisk") or d.get("otherNumAtRisk"))
        vocab: set[str] = set()
        self.serious = self._rows(mod.get("seriousEvents"), True, raw, vocab)
        self.other = self._rows(mod.get("otherEvents"), False, raw, vocab)
        self.chart = None
        top = sorted(self.serious + self.other, key=lambda r: (-r.total_pct, r.term_key))
        # fewer events when there are many groups, so the chart stays about 40 bars
        limit = max(3, min(TOP_AE, 40 // max(len(self.groups), 1)))
        top = [r for r in top if r.total_affected > 0][:limit]
        self.top_n = len(top)
        if top and self.groups:
            self.chart = bar_chart(
                "Most frequent adverse events", self.groups,
                [(r.term + (" (serious)" if r.serious else ""),
                  [Cell(f"{p:.1f}%".replace(".0%", "%") if p is not None else "—", p)
                   for p in r.pcts]) for r in top],
                "% of participants affected", kind="bars", anchor="ae", percent=True)
        self.time_frame = _text(mod.get("timeFrame"))
        self.description = _text(mod.get("description"))
        self.threshold = _text(mod.get("frequencyThreshold"))
        self.vocabulary = ", ".join(sorted(vocab)[:3])

    def _rows(self, events: Any, serious: bool, groups: dict[str, Group],
              vocab: set[str]) -> list[AERow]:
        # the hot loop of a results page (some studies list well over a thousand events):
        # plain type checks, no per-cell formatting (AERow.cells does that when shown)
        out = []
        order = list(groups)
        for e in _list(events):
            if type(e) is not dict:
                continue
            by = {}
            stats = e.get("stats")
            if type(stats) is list:
                for st in stats:
                    if type(st) is dict:
                        by[st.get("groupId")] = st
            per = [by.get(gid) for gid in order]
            pcts: list[float | None] = []
            ta = tr = 0.0
            for st in per:
                if st is None:
                    pcts.append(None)
                    continue
                a, r = st.get("numAffected"), st.get("numAtRisk")
                if type(a) is not int:
                    a = num(a)
                    if a is None:
                        pcts.append(None)
                        continue
                if type(r) is not int:
                    r = num(r)
                ta += a
                if r:
                    tr += r
                    pcts.append(100.0 * a / r)
                else:
                    pcts.append(None)
            v = e.get("sourceVocabulary")
            if v and type(v) is str:
                vocab.add(v)
            term = e.get("term")
            organ = e.get("organSystem")
            out.append(AERow(term.strip() if type(term) is str and term.strip() else
                             (_text(term) or "(no term)"),
                             organ.strip() if type(organ) is str else _text(organ),
                             serious, per, pcts, 100.0 * ta / tr if tr else 0.0, ta))
        return out

    def __bool__(self) -> bool:
        return bool(self.groups or self.serious or self.other)

    def view(self, query: Mapping[str, Any] | None = None) -> AEView:
        q = _query(query)
        keys = ["term", "organ"] + [g.id for g in self.groups]
        sort = q.get("ae_sort", "")
        if sort not in keys and sort != "freq":
            sort = "freq"
        show_all = q.get("ae_all", "") not in ("", "0", "false")
        key = _ae_key(sort, [g.id for g in self.groups])
        tables = []
        for kind, title, rows in (("serious", "Serious adverse events", self.serious),
                                  ("other", "Other (not serious) adverse events", self.other)):
            if not rows:
                continue
            ordered = sorted(rows, key=key)
            capped = not show_all and len(ordered) > AE_CAP
            tables.append(AETable(kind, title, ordered[:AE_CAP] if capped else ordered,
                                  len(rows), capped))
        labels = {"term": "Term", "organ": "Organ system"}
        labels.update({g.id: g.title for g in self.groups})
        sorts = [AESort(k, labels[k], _href(q, ae_sort=k), k == sort) for k in keys]
        return AEView(
            groups=self.groups, summary=self.summary, tables=tables, sorts=sorts, sort=sort,
            show_all=show_all, all_href=_href(q, ae_all="1"), less_href=_href(q, ae_all=None),
            chart=self.chart, time_frame=self.time_frame, description=self.description,
            threshold=self.threshold, vocabulary=self.vocabulary)


def _ae_text(a: float | None, r: float | None, a_t: str, r_t: str) -> str:
    if a is None and r is None:
        return a_t or "—"
    base = f"{a_t or '?'}/{r_t or '?'}"
    if a is not None and r:
        return f"{base} ({pct_text(a, r)})"
    return base


def _ae_key(sort: str, gids: list[str]):
    if sort == "term":
        return lambda r: (r.term_key, r.organ_key)
    if sort == "organ":
        return lambda r: (r.organ_key, r.term_key)
    if sort in gids:
        i = gids.index(sort)
        return lambda r: (-(r.pcts[i] if r.pcts[i] is not None else -1.0),
                          -r.total_pct, r.term_key)
    return lambda r: (-r.total_pct, -r.total_affected, r.term_key)


def _query(query: Any) -> dict[str, str]:
    if not query:
        return {}
    try:
        items = query.items()
    except AttributeError:
        return {}
    out = {}
    for k, v in items:
        out[str(k)] = str(v)
    return out


def _href(q: dict[str, str], anchor: str = "results-ae", **changes: str | None) -> str:
    merged = dict(q)
    for k, v in changes.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return ("?" + urlencode(merged) if merged else "?") + "#" + anchor


# ------------------------------------------------------------------------------ charts

W = 720.0  # viewBox width
LABEL_R = 210.0  # labels end here (text-anchor end)
X1 = 500.0  # plot area's right end (it starts after the labels)
VAL_X = 510.0  # value labels start here (up to ~30 characters)
BAR_H = 16.0
BAR_GAP = 4.0
BLOCK_GAP = 12.0
TOP = 8.0
AXIS_H = 34.0
LEGEND_ROW = 16.0


def _nice(x: float, round_: bool) -> float:
    if x <= 0:
        return 1.0
    e = math.floor(math.log10(x))
    f = x / 10 ** e
    if round_:
        nf = 1 if f < 1.5 else 2 if f < 3 else 5 if f < 7 else 10
    else:
        nf = 1 if f <= 1 else 2 if f <= 2 else 5 if f <= 5 else 10
    return nf * 10 ** e


def ticks(lo: float, hi: float, n: int = 5) -> tuple[float, float, list[float]]:
    """A nice axis covering [lo, hi]: (start, end, ticks)."""
    if hi <= lo:
        hi = lo + 1.0
    span = _nice(hi - lo, False)
    step = _nice(span / (n - 1), True)
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step) * step
    out = []
    t = start
    k = 0
    while t <= end + step * 1e-9 and k < 50:
        out.append(round(t, 12))
        k += 1
        t = start + k * step
    return start, end, out


def _label_width(titles) -> float:
    """Room for bar labels (clipped at 28 characters, ~7.2 units a character at size 12)."""
    longest = max((min(len(t), 28) for t in titles), default=0)
    return min(LABEL_R, max(40.0, 7.2 * longest + 4))


def _clip_mid(text: str, limit: int) -> str:
    """Group names often differ at the end ("Drug 10 mg" / "Drug 20 mg"): keep both ends."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head].rstrip() + "…" + text[-tail:].lstrip()


def _clip_all(titles: list[str], limit: int) -> dict[str, str]:
    """title -> its label, each clipped with `_clip_mid`; where two clip alike ("Cohort A:
    Sorafenib…800 mg" twice), those show what tells them apart, after their shared opening."""
    out = {t: _clip_mid(t, limit) for t in titles}
    seen: dict[str, list[str]] = {}
    for t, c in out.items():
        seen.setdefault(c, []).append(t)
    for group in (g for g in seen.values() if len(g) > 1):
        common = len(os.path.commonprefix(group))
        for t in group:
            rest = t[max(0, common - 4):]
            out[t] = "…" + _clip_mid(rest, limit - 1) if common > 4 else _clip_mid(rest, limit)
    return out


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(title: str, groups: list[Group], rows: list[tuple[str, list[Cell]]],
              unit: str, *, kind: str = "bars", anchor: str = "c",
              percent: bool = False) -> Markup:
    """Horizontal bars (kind "bars") or dots with intervals (kind "dots"), one per group in
    each row; whiskers where a cell has lo/hi. One row: group names label the bars; several
    rows: row labels head each block and a legend names the groups. Every piece of record
    text is escaped here."""
    single = len(rows) == 1
    values = [c.value for _, cells in rows for c in cells if c.value is not None]
    ends = [x for _, cells in rows for c in cells for x in (c.lo, c.hi) if x is not None]
    lo = min([0.0] + values + ends)
    hi = max([0.0] + values + ends)
    if percent:
        hi = max(hi, 1.0)
    start, end, tks = ticks(lo, hi)
    # one row: group names label the bars, as wide as the longest needs (at most LABEL_R);
    # several: row labels head each block and the bars can start at the left edge
    lab_r = _label_width(g.title for g in groups) if single else 4.0
    x0 = lab_r + 8.0
    scale = (X1 - x0) / (end - start)

    def x(v: float) -> float:
        return x0 + (v - start) * scale

    ng = len(groups)
    bar_h = BAR_H if (single or ng <= 2) else 11.0
    legend = not single
    # legend columns: as many as the longest group name allows (3, 2 or 1)
    longest = max((len(g.title) for g in groups), default=0)
    cols = 3 if longest <= 31 else 2 if longest <= 48 else 1
    col_w, col_chars = {3: (236.0, 31), 2: (354.0, 48), 1: (708.0, 100)}[cols]
    legend_h = (math.ceil(ng / cols) * LEGEND_ROW + 4) if legend else 0.0
    block_h = ng * (bar_h + BAR_GAP) - BAR_GAP
    label_h = 0.0 if single else 14.0
    plot_top = TOP + legend_h
    height = plot_top + len(rows) * (label_h + block_h + BLOCK_GAP) + AXIS_H
    out: list[str] = []
    a = out.append
    title_e = escape(title)
    a(f'<svg xmlns="http://www.w3.org/2000/svg" class="rchart rchart-{kind}" '
      f'viewBox="0 0 {_n(W)} {_n(height)}" width="{_n(W)}" height="{_n(height)}" '
      f'role="img" aria-labelledby="t-{anchor}" font-size="12" '
      f'font-family="system-ui, sans-serif"><title id="t-{anchor}">{title_e}</title>')
    legend_labels = _clip_all([g.title for g in groups], col_chars)
    bar_labels = _clip_all([g.title for g in groups], 28)
    if legend:
        for i, g in enumerate(groups):
            lx = 8 + (i % cols) * col_w
            ly = TOP + (i // cols) * LEGEND_ROW
            a(f'<rect class="sw {g.css}" fill="{PALETTE[g.color % len(PALETTE)]}" x="{_n(lx)}" '
              f'y="{_n(ly)}" width="10" height="10"/><text x="{_n(lx + 14)}" y="{_n(ly + 9)}">'
              f'<title>{escape(g.title)}</title>{escape(legend_labels[g.title])}</text>')
    bottom = height - AXIS_H + 4
    # grid and axis
    for t in tks:
        tx = x(t)
        cls = "zero" if t == 0 else "grid"
        a(f'<line class="{cls}" x1="{_n(tx)}" x2="{_n(tx)}" y1="{_n(plot_top - 2)}" '
          f'y2="{_n(bottom)}" stroke="{"#555" if t == 0 else "#ddd"}"/>'
          f'<text class="tick" x="{_n(tx)}" y="{_n(bottom + 13)}" text-anchor="middle">'
          f'{fmt(t)}</text>')
    if unit:
        a(f'<text class="axis" x="{_n((x0 + X1) / 2)}" y="{_n(bottom + 27)}" '
          f'text-anchor="middle">{escape(_clip(unit, 80))}</text>')
    y = plot_top
    zero_x = x(0.0) if start <= 0 <= end else x0
    for label, cells in rows:
        if not single:
            a(f'<text class="rowlabel" x="4" y="{_n(y + 10)}"><title>{escape(label)}</title>'
              f'{escape(_clip(label or "—", 100))}</text>')
            y += label_h
        for gi, g in enumerate(groups):
            c = cells[gi] if gi < len(cells) else EMPTY
            cy = y + bar_h / 2
            color = PALETTE[g.color % len(PALETTE)]
            a('<g class="bar-row">')
            if single:
                a(f'<text class="glabel" x="{_n(lab_r)}" y="{_n(cy + 4)}" text-anchor="end">'
                  f'<title>{escape(g.title)}</title>{escape(bar_labels[g.title])}</text>')
            if c.value is None:
                a(f'<text class="na" x="{_n(zero_x + 4)}" y="{_n(cy + 4)}">'
                  f'{escape(_clip(c.text, 60))}</text></g>')
                y += bar_h + BAR_GAP
                continue
            vx = x(c.value)
            if kind == "bars":
                bx, bw = (zero_x, vx - zero_x) if vx >= zero_x else (vx, zero_x - vx)
                a(f'<rect class="bar {g.css}" fill="{color}" x="{_n(bx)}" y="{_n(y)}" '
                  f'width="{_n(max(bw, 0.8))}" height="{_n(bar_h)}"><title>'
                  f'{escape(g.title)}: {escape(c.text)}</title></rect>')
            w_lo = x(c.lo) if c.lo is not None else None
            w_hi = x(c.hi) if c.hi is not None else None
            if c.open_hi:
                w_hi = X1 + 6
            if c.open_lo:
                w_lo = x0 - 4
            if w_lo is not None or w_hi is not None:
                l_ = w_lo if w_lo is not None else vx
                r_ = w_hi if w_hi is not None else vx
                a(f'<line class="whisker" x1="{_n(l_)}" x2="{_n(r_)}" y1="{_n(cy)}" '
                  f'y2="{_n(cy)}" stroke="#222"/>')
                for wx, is_open, sign in ((w_lo, c.open_lo, -1), (w_hi, c.open_hi, 1)):
                    if wx is None:
                        continue
                    if is_open:
                        a(f'<path class="whisker" d="M{_n(wx - 5 * sign)} {_n(cy - 4)}'
                          f'L{_n(wx)} {_n(cy)}L{_n(wx - 5 * sign)} {_n(cy + 4)}" fill="none" '
                          f'stroke="#222"/>')
                    else:
                        a(f'<line class="whisker" x1="{_n(wx)}" x2="{_n(wx)}" '
                          f'y1="{_n(cy - 4)}" y2="{_n(cy + 4)}" stroke="#222"/>')
            if kind == "dots":
                a(f'<circle class="dot {g.css}" fill="{color}" stroke="#222" cx="{_n(vx)}" '
                  f'cy="{_n(cy)}" r="4.5"><title>{escape(g.title)}: {escape(c.text)}</title>'
                  f'</circle>')
            a(f'<text class="val" x="{_n(VAL_X + (8 if c.open_hi else 0))}" y="{_n(cy + 4)}">'
              f'{escape(_clip(c.text, 30))}</text></g>')
            y += bar_h + BAR_GAP
        y += BLOCK_GAP - BAR_GAP
    a("</svg>")
    return Markup("".join(out))


def flow_chart(groups: list[Group], started: dict[str, float], completed: dict[str, float],
               anchor: str) -> Markup | None:
    """One bar per group: completed (filled) out of started (outline)."""
    rows = [(g, started.get(g.id), completed.get(g.id)) for g in groups]
    rows = [(g, s, c) for g, s, c in rows if s]
    if not rows:
        return None
    height = TOP + len(rows) * (BAR_H + BAR_GAP) + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="rchart rchart-flow" '
           f'viewBox="0 0 {_n(W)} {_n(height)}" width="{_n(W)}" height="{_n(height)}" '
           f'role="img" aria-labelledby="t-{anchor}" font-size="12" '
           f'font-family="system-ui, sans-serif"><title id="t-{anchor}">'
           f'Participants completing, per group</title>']
    lab_r = _label_width(g.title for g, _, _ in rows)
    labels = _clip_all([g.title for g, _, _ in rows], 28)
    x0 = lab_r + 8.0
    y = TOP
    for g, s, c in rows:
        cy = y + BAR_H / 2
        done = min(max((c or 0.0) / s, 0.0), 1.0)
        out.append(
            f'<text class="glabel" x="{_n(lab_r)}" y="{_n(cy + 4)}" text-anchor="end">'
            f'<title>{escape(g.title)}</title>{escape(labels[g.title])}</text>'
            f'<rect class="flow-all" x="{_n(x0)}" y="{_n(y)}" width="{_n(X1 - x0)}" '
            f'height="{_n(BAR_H)}" fill="#eee" stroke="#999"/>'
            f'<rect class="flow-done {g.css}" fill="{PALETTE[g.color % len(PALETTE)]}" '
            f'x="{_n(x0)}" y="{_n(y)}" width="{_n((X1 - x0) * done)}" height="{_n(BAR_H)}"/>'
            f'<text class="val" x="{_n(VAL_X)}" y="{_n(cy + 4)}">{fmt(c or 0.0)} of {fmt(s)} '
            f'completed ({pct_text(c or 0.0, s)})</text>')
        y += BAR_H + BAR_GAP
    out.append("</svg>")
    return Markup("".join(out))


# ------------------------------------------------------------------------------- view


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building a big results view allocates many small acyclic objects, which triggers
    cyclic-GC passes (tens of ms on a large heap) for nothing: reference counting frees
    them all. Pause the collector meanwhile; whoever paused it turns it back on."""
    was = gc.isenabled()
    if was:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()



@dataclass(slots=True)
class MoreInfo:
    limitations: str = ""
    contact: str = ""
    agreement: str = ""


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


class Results:
    """A study's posted results, ready for ``_results.html``. Outcome measures are built
    when first asked for (a study may post well over a hundred)."""

    __slots__ = ("flow", "baseline", "adverse", "more", "nct_id", "_query", "_raw", "_built")

    def __init__(self, flow: Flow | None, baseline: Baseline | None, outcomes: list[dict],
                 adverse: AdverseEvents | None, more: MoreInfo, nct_id: str,
                 query: Mapping[str, Any] | None = None):
        self.flow = flow
        self.baseline = baseline
        self._raw = outcomes
        self._built: dict[int, Outcome] = {}
        self.adverse = adverse
        self.more = more
        self.nct_id = nct_id
        self._query = query

    def __bool__(self) -> bool:
        return bool(self.flow or self.baseline or self._raw or self.adverse)

    def outcome(self, i: int) -> Outcome:
        o = self._built.get(i)
        if o is None:
            o = self._built[i] = _outcome(i, self._raw[i])
        return o

    @property
    def outcome_count(self) -> int:
        return len(self._raw)

    @property
    def outcomes(self) -> list[Outcome]:
        """Every outcome measure, in the record's order."""
        return [self.outcome(i) for i in range(len(self._raw))]

    @property
    def primary(self) -> list[Outcome]:
        return [self.outcome(i) for i, om in enumerate(self._raw)
                if _text(om.get("type")).upper() == "PRIMARY"]

    def outcomes_view(self, query: Mapping[str, Any] | None = None) -> OutcomesView:
        with _gc_paused():
            return self._outcomes_view(query)

    def _outcomes_view(self, query: Mapping[str, Any] | None) -> OutcomesView:
        q = _query(query if query is not None else self._query)
        show_all = q.get("outcomes", "") == "all"
        n = len(self._raw)
        if show_all or n <= OUTCOME_CAP:
            keep = range(n)
        else:  # primary ones first, then the others in order; shown in the record's order
            ranked = sorted(range(n), key=lambda i: _text(self._raw[i].get("type")).upper()
                            != "PRIMARY")
            keep = set(ranked[:OUTCOME_CAP])
        shown, hidden = [], []
        for i, om in enumerate(self._raw):
            if i in keep:
                shown.append(self.outcome(i))
            else:
                t = _text(om.get("type")).upper()
                hidden.append(OutcomeLink(
                    f"outcome-{i + 1}", _TYPES.get(t, humanize(t)),
                    _text(om.get("title")) or f"Outcome {i + 1}",
                    _href(q, outcomes="all", anchor=f"outcome-{i + 1}")))
        return OutcomesView(shown, hidden, len(self._raw), show_all,
                            _href(q, outcomes="all", anchor="results-outcomes"),
                            _href(q, outcomes=None, anchor="results-outcomes"),
                            n > OUTCOME_CAP)

    def adverse_events(self, query: Mapping[str, Any] | None = None) -> AEView | None:
        """The AE tables sorted and capped per the page's query (ae_sort, ae_all)."""
        if not self.adverse:
            return None
        with _gc_paused():
            return self.adverse.view(query if query is not None else self._query)


def view(record: Mapping[str, Any] | None, query: Mapping[str, Any] | None = None) -> Results | None:
    """The results view of a v2 study record, or None when it has no posted results."""
    with _gc_paused():
        return _view(record, query)


def _view(record: Mapping[str, Any] | None, query: Mapping[str, Any] | None) -> Results | None:
    if not isinstance(record, Mapping):
        return None
    rs = record.get("resultsSection")
    if not isinstance(rs, dict) or not rs:
        return None
    flow = _flow(_dict(rs.get("participantFlowModule"))) if rs.get("participantFlowModule") else None
    base = (_baseline(_dict(rs.get("baselineCharacteristicsModule")))
            if rs.get("baselineCharacteristicsModule") else None)
    outcomes = [om for om in _list(_dict(rs.get("outcomeMeasuresModule")).get("outcomeMeasures"))
                if isinstance(om, dict)]
    ae = None
    if isinstance(rs.get("adverseEventsModule"), dict):
        ae = AdverseEvents(rs["adverseEventsModule"]) or None
    mi = _dict(rs.get("moreInfoModule"))
    lim = _dict(mi.get("limitationsAndCaveats"))
    poc = _dict(mi.get("pointOfContact"))
    contact = ", ".join(x for x in (_text(poc.get("title")), _text(poc.get("organization"))) if x)
    more = MoreInfo(_text(lim.get("description")), contact)
    nct = _text(_dict(_dict(record.get("protocolSection")).get("identificationModule")).get("nctId"))
    res = Results(flow, base, outcomes, ae, more, nct, query)
    return res if res else None

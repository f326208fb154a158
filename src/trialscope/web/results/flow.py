"""Participant flow: milestones and reasons for not completing, per period and group, with
a completion bar per group."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from .charts import flow_chart
from .table import Group, groups_of
from .values import as_list, as_text, humanize, num, pct_text


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


def flow_of(mod: dict) -> Flow | None:
    """The participant flow module as tables per period, None when it holds nothing."""
    groups = groups_of(mod.get("groups"), "FG")
    periods = []
    for p_i, p in enumerate(as_list(mod.get("periods"))):
        if not isinstance(p, dict):
            continue
        rows: list[FlowRow] = []
        started: dict[str, float] = {}
        completed: dict[str, float] = {}
        for ms in as_list(p.get("milestones")):
            if not isinstance(ms, dict):
                continue
            t = as_text(ms.get("type"))
            label, kind = _MILESTONE.get(t.upper(), (t or "Milestone", "milestone"))
            by = {}
            for a in as_list(ms.get("achievements")):
                if isinstance(a, dict):
                    by[as_text(a.get("groupId"))] = as_text(a.get("numSubjects"))
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
        for dw in as_list(p.get("dropWithdraws")):
            if not isinstance(dw, dict):
                continue
            by = {as_text(r.get("groupId")): as_text(r.get("numSubjects"))
                  for r in as_list(dw.get("reasons")) if isinstance(r, dict)}
            reasons.append(FlowRow(humanize(dw.get("type")) or "Other", "reason",
                                   [by.get(g.id, "") or "—" for g in groups]))
        if reasons:
            rows.append(FlowRow("Reasons for not completing", "reason-head", ["" for _ in groups]))
            rows.extend(reasons)
        chart = None
        if started and completed:
            chart = flow_chart(groups, started, completed, f"flow-{p_i}")
        periods.append(FlowPeriod(as_text(p.get("title")) or f"Period {p_i + 1}", rows, chart))
    if not groups and not periods:
        return None
    return Flow(groups, periods, as_text(mod.get("recruitmentDetails")),
                as_text(mod.get("preAssignmentDetails")))

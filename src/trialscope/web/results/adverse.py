"""Adverse events: the summary, the serious and other tables (sortable, capped until asked
for all) and a chart of the most frequent events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from .charts import bar_chart
from .links import href, query_params
from .table import Cell, Group, groups_of
from .values import as_list, as_text, num, pct_text

AE_CAP = 40  # adverse-event rows shown per table before "show all"
TOP_AE = 10  # events in the most-frequent chart


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

    __slots__ = ("term", "organ", "term_key", "organ_key", "serious", "pcts", "total_pct",
                 "total_affected", "_stats", "_cells")

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
                ev = as_text(s.get("numEvents"))
                text = _ae_text(a, r, as_text(a_raw), as_text(r_raw))
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
        self.groups = groups_of(mod.get("eventGroups"), "EG")
        raw = {g.id: g for g in self.groups}
        gdict = {as_text(g.get("id")): g for g in as_list(mod.get("eventGroups"))
                 if isinstance(g, dict)}
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
                cells.append(_ae_text(num(a), num(r), as_text(a), as_text(r)))
            if any_v:
                self.summary.append(AESummary(label, cells))
        for g in self.groups:
            d = gdict.get(g.id, {})
            g.n = as_text(d.get("seriousNumAtRisk") or d.get("otherNumAtRisk"))
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
        self.time_frame = as_text(mod.get("timeFrame"))
        self.description = as_text(mod.get("description"))
        self.threshold = as_text(mod.get("frequencyThreshold"))
        self.vocabulary = ", ".join(sorted(vocab)[:3])

    def _rows(self, events: Any, serious: bool, groups: dict[str, Group],
              vocab: set[str]) -> list[AERow]:
        # the hot loop of a results page (some studies list well over a thousand events):
        # plain type checks, no per-cell formatting (AERow.cells does that when shown)
        out = []
        order = list(groups)
        for e in as_list(events):
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
                             (as_text(term) or "(no term)"),
                             organ.strip() if type(organ) is str else as_text(organ),
                             serious, per, pcts, 100.0 * ta / tr if tr else 0.0, ta))
        return out

    def __bool__(self) -> bool:
        return bool(self.groups or self.serious or self.other)

    def view(self, query: Mapping[str, Any] | None = None) -> AEView:
        q = query_params(query)
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
        sorts = [AESort(k, labels[k], href(q, ae_sort=k), k == sort) for k in keys]
        return AEView(
            groups=self.groups, summary=self.summary, tables=tables, sorts=sorts, sort=sort,
            show_all=show_all, all_href=href(q, ae_all="1"), less_href=href(q, ae_all=None),
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

"""The table model that baseline and outcome measures share: arm groups (each keeps its
colour in every table and chart), per-group cells and the rows of a measure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dispersion import Dispersion
from .values import as_list, as_text, num, pct_text

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948",
           "#9c755f", "#ff9da7", "#bab0ac")


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
    """One measurement as posted, with the whisker ends its dispersion gives."""
    if not m:
        return EMPTY
    v = as_text(m.get("value"))
    value = num(v)
    text = v or "—"
    if len(m) <= 2 and "comment" not in m:  # the common case: groupId and value only
        return Cell(text, value)
    spread = as_text(m.get("spread"))
    lo_t = as_text(m.get("lowerLimit"))
    hi_t = as_text(m.get("upperLimit"))
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
    return Cell(text, value, lo, hi, open_hi, open_lo, as_text(m.get("comment")))


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


def groups_of(raw: Any, prefix: str = "") -> list[Group]:
    """A module's groups, each with its palette colour; ids made up where missing."""
    out = []
    for i, g in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(g, dict):
            continue
        gid = as_text(g.get("id")) or f"{prefix}{i:03d}"
        out.append(Group(gid, as_text(g.get("title")) or gid, as_text(g.get("description")), "", i))
    return out


def denominators(raw: Any) -> tuple[str, dict[str, str]]:
    """The first denominator (units, {groupId: count}); outcome denoms may list several
    units (participants, eyes...): the participants one comes first when present."""
    if not isinstance(raw, list) or not raw:
        return "", {}
    best = raw[0]
    for d in raw:
        if isinstance(d, dict) and as_text(d.get("units")).lower() == "participants":
            best = d
            break
    if not isinstance(best, dict):
        return "", {}
    counts = {}
    for c in best.get("counts") or []:
        if isinstance(c, dict):
            counts[as_text(c.get("groupId"))] = as_text(c.get("value"))
    return as_text(best.get("units")), counts


def counted_groups(mod: dict, prefix: str) -> tuple[list[Group], str, dict[str, float]]:
    """A module's groups with their denominators set, the denominators' units, and the counts
    that are numbers by group id: what percentages of a group are taken of."""
    groups = groups_of(mod.get("groups"), prefix)
    units, counts = denominators(mod.get("denoms"))
    totals = {}
    for g in groups:
        g.n = counts.get(g.id, "")
        if (f := num(g.n)) is not None:
            totals[g.id] = f
    return groups, units, totals


@dataclass(slots=True)
class Row:
    label: str
    cells: list[Cell]
    head: bool = False  # a class title above its categories


def measure_rows(measure: dict, groups: list[Group], disp: Dispersion, counts: bool,
                 totals: dict[str, float]) -> list[Row]:
    """Rows of a measure: one per category, under their class titles."""
    rows: list[Row] = []
    classes = [c for c in as_list(measure.get("classes")) if isinstance(c, dict)]
    for c in classes:
        c_title = as_text(c.get("title"))
        cats = [k for k in as_list(c.get("categories")) if isinstance(k, dict)]
        if c_title and len(cats) > 1:
            rows.append(Row(c_title, [], head=True))
        for k in cats:
            k_title = as_text(k.get("title"))
            label = k_title if (k_title and len(cats) > 1) else (
                " · ".join(x for x in (c_title, k_title) if x))
            by = {}
            for m in as_list(k.get("measurements")):
                if isinstance(m, dict):
                    by[as_text(m.get("groupId"))] = m
            cells = []
            for g in groups:
                cell = make_cell(by.get(g.id), disp)
                if counts and cell.value is not None and totals.get(g.id):
                    cell = Cell(cell.text, cell.value, cell.lo, cell.hi, cell.open_hi,
                                cell.open_lo, cell.note, pct_text(cell.value, totals[g.id]))
                cells.append(cell)
            rows.append(Row(label, cells))
    return rows


def is_count(param: Any) -> bool:
    """Whether a measure counts participants (so its cells get a % of the group)."""
    p = as_text(param).upper().replace(" ", "_")
    return p.startswith("COUNT_OF_PARTICIPANTS") or p == "NUMBER_OF_PARTICIPANTS"

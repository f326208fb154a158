"""`/stats/field/values` and `/stats/field/sizes`: statistics of every piece, counted over the store.

One pass over the stored records counts what the contract asks for each piece: the most
frequent values and how many studies lack the piece (enums and text), the true and false
counts (booleans), the range (dates, numbers), and the sizes of list pieces. The pass runs
once per store state (`Web.cached`) and only for the pieces asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from ..essie.areas import PIECES, Piece, piece
from .params import ParamError

TOP_VALUES = 25
STATS_TYPE = {"enum": "ENUM", "text": "STRING", "markup": "STRING", "age": "STRING", "date": "DATE",
              "number": "INTEGER", "boolean": "BOOLEAN"}
STAT_PIECES = [p for p in PIECES.values() if p.type in STATS_TYPE]


def values_at(value: Any, parts: list[str]) -> tuple[list[Any], bool]:
    """The leaf values at a dotted path (lists crossed transparently), and whether a list was crossed."""
    out: list[Any] = []
    crossed = False
    stack = [(value, 0)]
    while stack:
        node, i = stack.pop()
        if isinstance(node, list):
            crossed = True
            stack.extend((v, i) for v in reversed(node))
        elif i == len(parts):
            if node is not None:
                out.append(node)
        elif isinstance(node, dict) and parts[i] in node:
            stack.append((node[parts[i]], i + 1))
    return out, crossed


def select(fields: str | None, types: str | None) -> list[Piece]:
    """The pieces a request names (piece names or v2 paths), filtered by stats type."""
    names = [v.strip() for v in (fields or "").replace("|", ",").split(",") if v.strip()]
    by_path = {p.path: p for p in STAT_PIECES}
    chosen: list[Piece] = []
    for name in names:
        p = piece(name) or by_path.get(name)
        if p is None or p.type not in STATS_TYPE:
            raise ParamError("fields", f"no value statistics for {name[:80]!r}",
                             "piece names (Phase, Condition, InterventionName, ...) or v2 paths of leaf fields")
        if p not in chosen:
            chosen.append(p)
    wanted = [t.strip().upper() for t in (types or "").replace("|", ",").split(",") if t.strip()]
    for t in wanted:
        if t not in ("ENUM", "STRING", "DATE", "INTEGER", "NUMBER", "BOOLEAN"):
            raise ParamError("types", f"unknown field type {t[:40]!r}",
                             ["ENUM", "STRING", "DATE", "INTEGER", "NUMBER", "BOOLEAN"])
    chosen = chosen or STAT_PIECES
    if wanted:
        chosen = [p for p in chosen if STATS_TYPE[p.type] in wanted]
    return chosen


class _Acc:
    """What one piece's statistics need, gathered study by study."""

    def __init__(self, p: Piece):
        self.piece = p
        self.parts = p.path.split(".")
        self.values: Counter = Counter()
        self.missing = 0
        self.sizes: Counter = Counter()
        self.is_list = False
        self.longest: tuple[int, str, str] = (-1, "", "")
        self.true = self.false = 0

    def add(self, record: dict, nct: str) -> None:
        vals, crossed = values_at(record, self.parts)
        self.is_list |= crossed
        if not vals:
            self.missing += 1
            return
        if crossed:
            self.sizes[len(vals)] += 1
        if self.piece.type == "boolean":
            if any(v is True for v in vals):
                self.true += 1
            else:
                self.false += 1
            return
        for v in set(_text(v) for v in vals):
            self.values[v] += 1
            if self.piece.type in ("text", "markup") and len(v) > self.longest[0]:
                self.longest = (len(v), nct, v)

    def values_json(self) -> dict:
        p = self.piece
        kind = STATS_TYPE[p.type]
        out: dict[str, Any] = {"field": p.path, "piece": p.name, "type": kind, "missingStudiesCount": self.missing}
        if kind == "BOOLEAN":
            out.update(trueCount=self.true, falseCount=self.false)
        elif kind == "DATE":
            dates = sorted(self.values)
            out["formats"] = sorted({_date_format(d) for d in dates})
            if dates:
                out.update(min=dates[0], max=dates[-1])
        elif kind == "INTEGER":
            nums = [float(v) for v in self.values.elements() if _is_number(v)]
            if nums:
                out.update(min=int(min(nums)), max=int(max(nums)), avg=round(sum(nums) / len(nums), 3))
        else:
            top = sorted(self.values.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]
            out["uniqueValuesCount"] = len(self.values)
            out["topValues"] = [{"value": v, "studiesCount": n} for v, n in top]
            if self.longest[0] >= 0:
                length, nct, value = self.longest
                out["longest"] = {"length": length, "nctId": nct, "value": value[:200]}
        return out

    def sizes_json(self) -> dict:
        p = self.piece
        out: dict[str, Any] = {"field": p.path, "piece": p.name, "uniqueSizesCount": len(self.sizes)}
        if self.sizes:
            out.update(minSize=min(self.sizes), maxSize=max(self.sizes),
                       topSizes=[{"size": s, "studiesCount": n}
                                 for s, n in sorted(self.sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]])
        return out


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else orjson.dumps(v).decode()


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _date_format(d: str) -> str:
    return {4: "yyyy", 7: "yyyy-MM", 10: "yyyy-MM-dd"}.get(len(d), "other")


def gather(records: Iterable[tuple[str, bytes]]) -> dict[str, _Acc]:
    """One pass over (nct id, record JSON) pairs for every piece."""
    accs = {p.name: _Acc(p) for p in STAT_PIECES}
    for nct, raw in records:
        record = orjson.loads(raw)
        for acc in accs.values():
            acc.add(record, nct)
    return accs


def field_values(accs: dict[str, _Acc], pieces: list[Piece]) -> list[dict]:
    return [accs[p.name].values_json() for p in pieces]


def field_sizes(accs: dict[str, _Acc], pieces: list[Piece], explicit: bool) -> list[dict]:
    """The list pieces among those asked for; a piece named explicitly that is no list in any
    study is a ParamError."""
    if explicit:
        for p in pieces:
            if not accs[p.name].is_list:
                raise ParamError("fields", f"{p.name} is not a list field",
                                 sorted(a.piece.name for a in accs.values() if a.is_list))
    return [accs[p.name].sizes_json() for p in pieces if accs[p.name].is_list]

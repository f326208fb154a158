"""`/stats/field/values` and `/stats/field/sizes`: statistics of every piece.

Enums with fixed values and booleans are counted from the search index (`from_index`): one
count per value and one for the studies that have the piece, whatever the store's size.
Everything else takes one pass over the stored records, which counts what the contract asks
for each piece: the most frequent values and how many studies lack the piece (text), the
range (dates, numbers), and the sizes of list pieces. The pass runs once per store state
(`Web.cached`) and only for the pieces asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from ..essie.areas import PIECES, Piece
from .metadata import branches
from .params import ParamError

TOP_VALUES = 25
STATS_TYPE = {"enum": "ENUM", "text": "STRING", "markup": "STRING", "age": "STRING", "date": "DATE",
              "number": "INTEGER", "boolean": "BOOLEAN"}
STAT_PIECES = [p for p in PIECES.values() if p.type in STATS_TYPE]


def _list_branches() -> list[Piece]:
    """List-valued branches (Intervention, Location, ...), counted for /stats/field/sizes."""
    return [Piece(name, path, "list") for name, (path, is_list) in branches().items() if is_list]


def select(fields: str | None, types: str | None, lists: bool = False) -> list[Piece]:
    """The pieces a request names (piece names or v2 paths), filtered by stats type;
    `lists` also takes list-valued branches (for sizes)."""
    names = [v.strip() for v in (fields or "").replace("|", ",").split(",") if v.strip()]
    pool = STAT_PIECES + (_list_branches() if lists else [])
    by_path = {p.path: p for p in pool}
    by_name = {p.name.lower(): p for p in pool}
    chosen: list[Piece] = []
    for name in names:
        p = by_name.get(name.lower()) or by_path.get(name)
        if p is None:
            raise ParamError("fields", f"no value statistics for {name[:80]!r}",
                             "piece names (Phase, Condition, InterventionName, ...) or v2 paths of leaf fields")
        if p not in chosen:
            chosen.append(p)
    wanted = [t.strip().upper() for t in (types or "").replace("|", ",").split(",") if t.strip()]
    for t in wanted:
        if t not in ("ENUM", "STRING", "DATE", "INTEGER", "NUMBER", "BOOLEAN"):
            raise ParamError("types", f"unknown field type {t[:40]!r}",
                             ["ENUM", "STRING", "DATE", "INTEGER", "NUMBER", "BOOLEAN"])
    chosen = chosen or pool
    if wanted:
        chosen = [p for p in chosen if STATS_TYPE.get(p.type) in wanted]
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

    def add(self, vals: list[Any], crossed: bool, nct: str) -> None:
        """One study's values of this piece (none: the study lacks it)."""
        self.is_list |= crossed
        if not vals:
            self.missing += 1
            return
        if crossed:
            self.sizes[len(vals)] += 1
        if self.piece.type == "list":
            return
        if self.piece.type == "boolean":
            if any(v is True for v in vals):
                self.true += 1
            else:
                self.false += 1
            return
        for v in {v if isinstance(v, str) else _text(v) for v in vals}:
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


def _trie(accs: Iterable[_Acc]) -> dict:
    """The pieces' paths as one tree (key -> subtree; None -> the pieces ending there)."""
    root: dict = {}
    for acc in accs:
        node = root
        for part in acc.parts:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(acc)
    return root


def _walk(record: dict, trie: dict) -> dict[_Acc, list]:
    """Every piece's values in one walk of the record (lists crossed transparently):
    acc -> [values, whether a list was crossed]."""
    found: dict[_Acc, list] = {}
    stack: list[tuple[Any, dict, bool]] = [(record, trie, False)]
    while stack:
        value, node, crossed = stack.pop()
        if isinstance(value, list):
            stack.extend((v, node, True) for v in reversed(value))
            continue
        if value is None:
            continue
        for acc in node.get(None, ()):
            got = found.get(acc)
            if got is None:
                found[acc] = [[value], crossed]
            else:
                got[0].append(value)
                got[1] |= crossed
        if isinstance(value, dict):
            for key, child in node.items():
                if key is not None and key in value:
                    stack.append((value[key], child, crossed))
    return found


def gather(records: Iterable[tuple[str, bytes]], pieces: list[Piece]) -> dict[str, _Acc]:
    """One pass over (nct id, record JSON) pairs, one walk per record, for the pieces asked for."""
    accs = {p.name: _Acc(p) for p in pieces}
    trie = _trie(accs.values())
    for nct, raw in records:
        found = _walk(orjson.loads(raw), trie)
        for acc in accs.values():
            vals, crossed = found.get(acc) or ((), False)
            acc.add(list(vals), crossed, nct)
    return accs


def from_index(p: Piece) -> bool:
    """Whether the index answers this piece's value statistics: its values are exact keys
    there and known in advance (an enum the structure fixes, or a boolean)."""
    return p.indexed and (p.type == "boolean" or (p.type == "enum" and bool(p.values)))


def index_values(searcher, p: Piece) -> dict:
    """`values_json` of an enum or boolean piece, from the index: the studies holding each
    value, and those holding the piece at all (the rest lack it). Counts are of the studies
    as indexed: OverallStatus is the effective status, as search and its filters see it."""
    from tantivy import Query

    from ..index.fulltext import PIECE_KEY, PRESENT_KEY

    def count(path: str, value: str) -> int:
        return searcher.count(Query.term_query(searcher.schema, path, value))

    present = count(f"{PIECE_KEY}.{PRESENT_KEY}", p.name)
    out: dict[str, Any] = {"field": p.path, "piece": p.name, "type": STATS_TYPE[p.type],
                           "missingStudiesCount": searcher.num_docs - present}
    if p.type == "boolean":
        true = count(f"{PIECE_KEY}.{p.name}", "true")
        out.update(trueCount=true, falseCount=present - true)
        return out
    counts = [(v, count(f"{PIECE_KEY}.{p.name}", v)) for v in p.values]
    top = sorted(((v, n) for v, n in counts if n), key=lambda kv: (-kv[1], kv[0]))
    out["uniqueValuesCount"] = len(top)
    out["topValues"] = [{"value": v, "studiesCount": n} for v, n in top[:TOP_VALUES]]
    return out


def field_sizes(accs: dict[str, _Acc], pieces: list[Piece], explicit: bool) -> list[dict]:
    """The list pieces among those asked for; a piece named explicitly that is no list in any
    study is a ParamError."""
    if explicit:
        for p in pieces:
            if not accs[p.name].is_list:
                raise ParamError("fields", f"{p.name} is not a list field in any study",
                                 "list fields: Phase, Condition, Intervention, Location, ...")
    return [accs[p.name].sizes_json() for p in pieces if accs[p.name].is_list]

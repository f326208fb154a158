"""`/studies/metadata`: the study data model as a tree of fields, generated from the piece
registry (`trialscope.essie.areas.PIECES`, which the query language and `fields` also read)
and the typed record structure (`trialscope.record`, for which fields are lists), so the
three cannot drift apart."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec.inspect as mi

from ..essie.areas import PIECES
from ..record import Study

_SOURCE = {"text": "TEXT", "markup": "MARKUP", "enum": "ENUM", "date": "DATE", "number": "NUMERIC",
           "boolean": "BOOLEAN", "age": "TEXT", "geo": "GEO_POINT"}
_TYPE = {"text": "text", "markup": "markup", "enum": "enum", "date": "PartialDate", "number": "integer",
         "boolean": "boolean", "age": "NormalizedTime", "geo": "GeoPoint"}


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _list_paths() -> set[str]:
    """Dotted paths of the typed structure whose value is a list."""
    out: set[str] = set()

    def walk(t: Any, path: str) -> None:
        if isinstance(t, mi.UnionType):
            for x in t.types:
                walk(x, path)
        elif isinstance(t, mi.ListType):
            out.add(path)
            walk(t.item_type, path)
        elif isinstance(t, mi.StructType):
            for f in t.fields:
                walk(f.type, f"{path}.{f.encode_name}" if path else f.encode_name)

    walk(mi.type_info(Study), "")
    return out


@lru_cache(maxsize=1)
def metadata() -> list[dict]:
    """The FieldNodeList: every piece, under its sections and modules."""
    lists = _list_paths()
    roots: dict[str, dict] = {}
    for p in PIECES.values():
        parts = p.path.split(".")
        level = roots
        for i, part in enumerate(parts):
            path = ".".join(parts[: i + 1])
            node = level.get(part)
            if node is None:
                node = level[part] = {"name": part, "piece": _pascal(part), "sourceType": "STRUCT",
                                      "type": _pascal(part), "_children": {}}
                if path in lists:
                    node["type"] += "[]"
            if i == len(parts) - 1:
                node["piece"] = p.name
                if not node["_children"]:  # a leaf (a piece that is also a branch stays a branch)
                    node["sourceType"] = _SOURCE[p.type]
                    node["type"] = _TYPE[p.type] + ("[]" if path in lists else "")
                    node["isEnum"] = p.type == "enum"
            level = node["_children"]

    def finish(node: dict) -> dict:
        children = node.pop("_children")
        if children:
            node["children"] = [finish(c) for c in children.values()]
        return node

    return [finish(n) for n in roots.values()]

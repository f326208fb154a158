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


_NOT_LISTS = {"limitationsAndCaveats", "status", "class", "phases"}


def _singular(name: str) -> str:
    if name.endswith("yses"):
        return name[:-2] + "is"  # analyses -> analysis
    for tail, repl in (("ies", "y"), ("ves", "f"), ("shes", "sh"), ("ches", "ch"), ("sses", "ss"), ("s", "")):
        if name.endswith(tail):
            return name[: -len(tail)] + repl
    return name


def _branch_piece(name: str, is_list: bool) -> str:
    """A branch's piece name: PascalCase, a list named for one item (references -> Reference)."""
    return _pascal(_singular(name) if is_list else name)


def _is_list(path: str, typed_lists: set[str]) -> bool:
    """Typed parts say; the untyped results section's containers are lists when plural."""
    if path.startswith(("resultsSection.", "documentSection.", "annotationSection.")) and path.count(".") > 1:
        name = path.rsplit(".", 1)[1]
        return name.endswith("s") and name not in _NOT_LISTS
    return path in typed_lists


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
def _build() -> tuple[list[dict], dict[str, tuple[str, bool]]]:
    typed_lists = _list_paths()
    roots: dict[str, dict] = {}
    branch: dict[str, tuple[str, bool]] = {}
    for p in PIECES.values():
        parts = p.path.split(".")
        level = roots
        for i, part in enumerate(parts):
            path = ".".join(parts[: i + 1])
            is_list = _is_list(path, typed_lists)
            node = level.get(part)
            if node is None:
                piece = _branch_piece(part, is_list)
                node = level[part] = {"name": part, "piece": piece, "sourceType": "STRUCT",
                                      "type": piece + ("[]" if is_list else ""), "_children": {}}
            if i == len(parts) - 1:
                node["piece"] = p.name
                if not node["_children"]:  # a leaf (a piece that is also a branch stays a branch)
                    node["sourceType"] = _SOURCE[p.type]
                    node["type"] = _TYPE[p.type] + ("[]" if is_list else "")
                    node["isEnum"] = p.type == "enum"
            else:
                branch.setdefault(node["piece"], (path, is_list))
            level = node["_children"]

    def finish(node: dict) -> dict:
        children = node.pop("_children")
        if children:
            node["children"] = [finish(c) for c in children.values()]
        return node

    return [finish(n) for n in roots.values()], branch


def metadata() -> list[dict]:
    """The FieldNodeList: every piece, under its sections and modules."""
    return _build()[0]


def branches() -> dict[str, tuple[str, bool]]:
    """Branch pieces (ProtocolSection, Location, Reference, ...) -> (v2 path, whether a list)."""
    return _build()[1]

"""ClinicalTrials.gov API v2 JSON: a study, an API page, a JSON array, or JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from ..record import nct_id_of
from .base import Origin, Reject, SourceRecord

BOM = b"\xef\xbb\xbf"


def read_document(data: bytes, origin: Origin) -> Iterator[SourceRecord | Reject]:
    """One JSON document: a single study, an API page `{"studies": [...]}` or an array.

    Text that is no JSON document but whose lines are (some of them) complete objects is
    JSON Lines whose start did not show it (a first line too long to tell): read by line."""
    try:
        doc = orjson.loads(data.removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        lines = data.split(b"\n")
        if sum(1 for line in lines if line.strip()) > 1 and any(_is_object(line) for line in lines):
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield read_line(line, Origin(origin.path, origin.entry, number))
            return
        yield Reject(origin, invalid_json(data, exc))
        return
    if isinstance(doc, dict) and isinstance(doc.get("studies"), list):
        yield from _many(doc["studies"], origin)
    elif isinstance(doc, list):
        yield from _many(doc, origin)
    elif isinstance(doc, dict) and "protocolSection" in doc:
        yield SourceRecord(doc, data, origin, "json")
    else:
        yield Reject(origin, "JSON is neither a v2 study (protocolSection) nor an API page (studies)")


def _many(items: list, origin: Origin) -> Iterator[SourceRecord | Reject]:
    for i, item in enumerate(items):
        where = Origin(origin.path, f"{origin.entry + '/' if origin.entry else ''}studies[{i}]")
        if isinstance(item, dict) and "protocolSection" in item:
            yield SourceRecord(item, orjson.dumps(item), where, "json")
        else:
            yield Reject(where, "not a v2 study object (no protocolSection)",
                         nct_id_of(item) if isinstance(item, dict) else None)


def read_line(line: bytes, origin: Origin) -> SourceRecord | Reject:
    """One JSON Lines line: a study, or a reject naming the line."""
    try:
        doc = orjson.loads(line.removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        return Reject(origin, invalid_json(line, exc))
    if isinstance(doc, dict) and "protocolSection" in doc:
        return SourceRecord(doc, line.rstrip(b"\r\n"), origin, "json")
    return Reject(origin, f"not a v2 study object (no protocolSection): a JSON {_kind(doc)}")


def invalid_json(data: bytes, exc: orjson.JSONDecodeError) -> str:
    """Why bytes are no JSON: the first byte that is not UTF-8 (JSON is UTF-8 only), else
    the parser's own message."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not UTF-8: byte 0x{data[bad.start]:02X} at offset {bad.start}"
    return f"invalid JSON: {exc}"


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else "number")

"""ClinicalTrials.gov API v2 JSON: a study, an API page, a JSON array, or JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from ..record import nct_id_of
from .base import Origin, Reject, SourceRecord


def read_document(data: bytes, origin: Origin) -> Iterator[SourceRecord | Reject]:
    """One JSON document: a single study, an API page `{"studies": [...]}` or an array."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield Reject(origin, f"invalid JSON: {exc}")
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
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Reject(origin, f"invalid JSON: {exc}")
    if isinstance(doc, dict) and "protocolSection" in doc:
        return SourceRecord(doc, line.rstrip(b"\r\n"), origin, "json")
    return Reject(origin, "not a v2 study object (no protocolSection)")

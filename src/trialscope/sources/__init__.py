"""Readers for every format ClinicalTrials.gov has published, detected by content.

Reading is two stages: `documents(path)` splits a source into unparsed documents (files,
archive entries, JSON Lines lines), streaming, so memory stays bounded whatever the size;
`parse(document)` turns one into `SourceRecord` or `Reject` items. `read(path)` chains them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from . import jsonv2, xml
from .archive import zip_documents
from .base import TOO_LONG, Document, Origin, Reject, SourceFailure, SourceRecord, split_lines
from .limits import Limits

__all__ = [
    "Document", "Limits", "Origin", "Reject", "SourceFailure", "SourceRecord",
    "detect", "documents", "parse", "read",
]

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
BOM = b"\xef\xbb\xbf"
FILE_HEAD = 1 << 20  # bytes of a plain file read to tell its format


def detect(head: bytes, whole: bool = False) -> str:
    """Name the format of a file from its first bytes: zip, xml, json, jsonl or unknown.

    JSON Lines is told from one JSON document by structure: more than one line, where the
    first line is a complete JSON object on its own, or (the first line broken) the whole
    text is no JSON document and other lines are complete objects. ``whole`` says ``head``
    is the whole file (else its last line may be cut short). A JSON array, or a document
    pretty-printed over many lines, reads as one document.
    """
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "zip"
    text = head.removeprefix(BOM).lstrip(b" \t\r\n")
    if text.startswith(b"<"):
        return "xml"
    if text.startswith(b"["):
        return "json"
    if not text.startswith(b"{"):
        return "unknown"
    lines = text.split(b"\n")
    if not whole:
        lines.pop()  # may be cut short
    lines = [line for line in (line.strip() for line in lines) if line]
    if len(lines) < 2 and (whole or not lines or b"\n" not in text.rstrip()):
        return "json"
    if _is_object(lines[0]):
        return "jsonl"
    objects = sum(1 for line in lines[1:] if _is_object(line))
    if whole:
        return "jsonl" if objects and not _is_json(text) else "json"
    return "jsonl" if objects >= 2 else "json"


def _is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _is_object(line: bytes) -> bool:
    if not line.startswith(b"{"):
        return False
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and bool(value)


def read(path: str | Path) -> Iterator[SourceRecord | Reject]:
    """Every record under a path: a file, an archive, or a folder of either."""
    for doc in documents(path):
        if isinstance(doc, Reject):
            yield doc
        else:
            yield from parse(doc)


def parse(doc: Document) -> Iterator[SourceRecord | Reject]:
    if doc.kind == "jsonline":  # lines are split from inflated bytes: never deflated
        yield jsonv2.read_line(doc.data, doc.origin)
        return
    try:
        data = doc.payload()
    except ValueError as exc:
        yield Reject(doc.origin, f"corrupt archive entry: {exc}")
        return
    items = (jsonv2.read_document if doc.kind == "json" else xml.read_document)(data, doc.origin)
    for item in items:
        if doc.deflated is not None and isinstance(item, SourceRecord) and item.raw is data:
            item.deflated = doc.data  # the whole entry is this record: keep its deflate stream
        yield item


def documents(path: str | Path, limits: Limits | None = None) -> Iterator[Document | Reject]:
    """Split a path into documents; a source that cannot be read at all raises SourceFailure.

    ``limits`` bound what any one source may make this read (default: Limits.from_env())."""
    limits = limits or Limits.from_env()
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise SourceFailure(f"{p}: folder holds no files")
        for f in files:
            try:
                yield from _file_documents(f, limits)
            except SourceFailure as exc:
                yield Reject(Origin(str(f)), str(exc))
        return
    if not p.exists():
        raise SourceFailure(f"{p}: no such file or folder")
    yield from _file_documents(p, limits)


def _file_documents(p: Path, limits: Limits) -> Iterator[Document | Reject]:
    origin = Origin(str(p))
    try:
        with p.open("rb") as fh:
            head = fh.read(FILE_HEAD)
            kind = detect(head, whole=len(head) < FILE_HEAD)
            if kind == "jsonl":
                fh.seek(0)
                yield from line_documents(iter(lambda: fh.read(1 << 20), b""), origin, limits)
                return
            if kind in ("json", "xml"):
                fh.seek(0)
                too_big = os.fstat(fh.fileno()).st_size > limits.file_bytes
                data = b"" if too_big else fh.read(limits.file_bytes + 1)  # (it may be growing)
                if too_big or len(data) > limits.file_bytes:
                    yield Reject(origin, limits.past("file is larger than", "file_bytes")
                                 + ": split it, or give it as JSON Lines or a zip of studies")
                else:
                    yield Document(data, origin, kind)
                return
    except OSError as exc:
        raise SourceFailure(f"{p}: cannot read ({exc.strerror or exc})") from None
    if kind == "zip":
        yield from zip_documents(p, limits)
    elif not head.strip():
        raise SourceFailure(f"{p}: file is empty")
    else:
        raise SourceFailure(
            f"{p}: unknown format (expected API v2 JSON, JSON Lines, legacy XML or a zip of them)"
        )


def line_documents(pieces: Iterable[bytes], origin: Origin, limits: Limits) -> Iterator[Document | Reject]:
    """Each non-blank line of a JSON Lines stream (given in bounded pieces) as a document;
    a line longer than the limit is a reject naming its number."""
    for number, line in split_lines(pieces, limits.line_bytes):
        where = Origin(origin.path, origin.entry, number)
        if line is TOO_LONG:
            yield Reject(where, limits.past("JSON Lines line runs", "line_bytes"))
        elif line.strip():
            yield Document(line, where, "jsonline")

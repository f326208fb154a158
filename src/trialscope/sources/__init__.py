"""Readers for every format ClinicalTrials.gov has published, detected by content.

Reading is two stages: `documents(path)` splits a source into unparsed documents (files,
archive entries, JSON Lines lines), streaming, so memory stays bounded whatever the size;
`parse(document)` turns one into `SourceRecord` or `Reject` items. `read(path)` chains them.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from . import jsonv2, xml
from .base import Document, Origin, Reject, SourceFailure, SourceRecord, inflate_entry

__all__ = [
    "Document", "Origin", "Reject", "SourceFailure", "SourceRecord",
    "detect", "documents", "parse", "read",
]

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def detect(head: bytes) -> str:
    """Name the format of a file from its first bytes: zip, xml, json, jsonl or unknown."""
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "xml"
    if text.startswith((b"{", b"[")):
        first, sep, rest = text.partition(b"\n")
        if sep and rest.strip().startswith(b"{") and _is_json(first):
            return "jsonl"
        return "json"
    return "unknown"


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


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


def documents(path: str | Path) -> Iterator[Document | Reject]:
    """Split a path into documents; a source that cannot be read at all raises SourceFailure."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise SourceFailure(f"{p}: folder holds no files")
        for f in files:
            try:
                yield from _file_documents(f)
            except SourceFailure as exc:
                yield Reject(Origin(str(f)), str(exc))
        return
    if not p.exists():
        raise SourceFailure(f"{p}: no such file or folder")
    yield from _file_documents(p)


def _file_documents(p: Path) -> Iterator[Document | Reject]:
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise SourceFailure(f"{p}: cannot read ({exc.strerror or exc})") from None
    kind = detect(head)
    if kind == "zip":
        yield from _zip_documents(p)
    elif kind == "jsonl":
        with p.open("rb") as fh:
            yield from _lines(fh, Origin(str(p)))
    elif kind in ("json", "xml"):
        yield Document(p.read_bytes(), Origin(str(p)), kind)
    elif not head.strip():
        raise SourceFailure(f"{p}: file is empty")
    else:
        raise SourceFailure(
            f"{p}: unknown format (expected API v2 JSON, JSON Lines, legacy XML or a zip of them)"
        )


def _lines(stream, origin: Origin) -> Iterator[Document]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield Document(line, Origin(origin.path, origin.entry, number), "jsonline")


def _zip_documents(p: Path) -> Iterator[Document | Reject]:
    try:
        archive = zipfile.ZipFile(p)
        raw = p.open("rb")
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceFailure(f"{p}: broken or truncated zip archive ({exc})") from None
    with archive, raw:
        for info in archive.infolist():
            if info.is_dir() or Path(info.filename).name.startswith("."):
                continue
            origin = Origin(str(p), info.filename)
            try:
                data = _deflated_bytes(raw, info)
                if data is None:  # zipfile reads it
                    data, deflated = archive.read(info), None
                    kind = detect(data[:HEAD])
                else:  # left deflated: the worker that parses it inflates it
                    deflated = (info.file_size, info.CRC)
                    kind = detect(_head(data))
                    if kind == "jsonl":  # split into lines here: each line is a document
                        data, deflated = inflate_entry(data, *deflated), None
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                yield Reject(origin, f"corrupt archive entry: {exc}")
                continue
            if kind == "jsonl":
                yield from _lines(iter(data.splitlines(keepends=True)), origin)
            elif kind in ("json", "xml"):
                yield Document(data, origin, kind, deflated)
            else:
                yield Reject(origin, "archive entry is neither JSON nor XML")


HEAD = 65536  # bytes of a document enough to detect its format


def _head(packed: bytes) -> bytes:
    """Inflate just enough of an entry to tell its format: its opening bytes, and for one
    that opens like JSON, its first line (JSON Lines vs a JSON document; at most HEAD)."""
    inflater = zlib.decompressobj(-15)
    head = inflater.decompress(packed, 512)
    while len(head) < HEAD and inflater.unconsumed_tail:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if text and (text[:1] not in b"{[" or b"\n" in text):
            break
        head += inflater.decompress(inflater.unconsumed_tail, 4096)
    return head


def _deflated_bytes(fh, info: zipfile.ZipInfo) -> bytes | None:
    """The still-deflated bytes of a plain deflate entry, read straight from the archive;
    None for any other entry (stored, other methods, encrypted: zipfile reads those)."""
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        return None
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != ZIP_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    data = fh.read(info.compress_size)
    if len(data) < info.compress_size:
        raise EOFError("entry is truncated")
    return data

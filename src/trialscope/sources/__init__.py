"""Readers for every format ClinicalTrials.gov has published, detected by content.

`read(path)` yields `SourceRecord` or `Reject` items, streaming: archives are read one
entry at a time and JSON Lines one line at a time, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from . import jsonv2, xml
from .base import Origin, Reject, SourceFailure, SourceRecord

__all__ = ["Origin", "Reject", "SourceFailure", "SourceRecord", "read", "detect"]

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
    import orjson

    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def read(path: str | os.PathLike) -> Iterator[SourceRecord | Reject]:
    """Every record under a path: a file, an archive, or a folder of either."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise SourceFailure(f"{p}: folder holds no files")
        for f in files:
            try:
                yield from _read_file(f)
            except SourceFailure as exc:
                yield Reject(Origin(str(f)), str(exc))
        return
    if not p.exists():
        raise SourceFailure(f"{p}: no such file or folder")
    yield from _read_file(p)


def _read_file(p: Path) -> Iterator[SourceRecord | Reject]:
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise SourceFailure(f"{p}: cannot read ({exc.strerror or exc})") from None
    kind = detect(head)
    origin = Origin(str(p))
    if kind == "zip":
        yield from _read_zip(p)
    elif kind == "jsonl":
        with p.open("rb") as fh:
            yield from jsonv2.read_lines(fh, origin)
    elif kind in ("json", "xml"):
        data = p.read_bytes()
        yield from (jsonv2 if kind == "json" else xml).read_document(data, origin)
    elif not head.strip():
        raise SourceFailure(f"{p}: file is empty")
    else:
        raise SourceFailure(
            f"{p}: unknown format (expected API v2 JSON, JSON Lines, legacy XML or a zip of them)"
        )


def _read_zip(p: Path) -> Iterator[SourceRecord | Reject]:
    try:
        archive = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceFailure(f"{p}: broken or truncated zip archive ({exc})") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or Path(info.filename).name.startswith("."):
                continue
            origin = Origin(str(p), info.filename)
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                yield Reject(origin, f"corrupt archive entry: {exc}")
                continue
            kind = detect(data[:65536])
            if kind == "json":
                yield from jsonv2.read_document(data, origin)
            elif kind == "jsonl":
                import io

                yield from jsonv2.read_lines(io.BytesIO(data), origin)
            elif kind == "xml":
                yield from xml.read_document(data, origin)
            else:
                yield Reject(origin, "archive entry is neither JSON nor XML")

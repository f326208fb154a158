"""What every reader yields: a parsed record with its raw bytes and origin, or a reject."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


class SourceFailure(Exception):
    """The whole source cannot be read: unreadable path, unknown format, broken archive."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: file, archive entry and line, as far as known."""

    path: str
    entry: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.entry:
            text += f"!{self.entry}"
        if self.line is not None:
            text += f":{self.line}"
        return text


@dataclass(slots=True)
class Document:
    """One unparsed unit of a source: a file, an archive entry or a JSON Lines line.

    Splitting a source into documents is cheap and sequential; parsing them is the costly
    part, and can run in worker processes.
    """

    data: bytes
    origin: Origin
    kind: str  # "json", "jsonline" or "xml"
    # a zip entry still deflated (inflated by `payload`, in the worker that parses it, so
    # the process splitting the archive only copies compressed bytes): its size and CRC-32
    deflated: tuple[int, int] | None = None

    def payload(self) -> bytes:
        """The document's bytes; raises ValueError naming the fault of a corrupt entry."""
        return self.data if self.deflated is None else inflate_entry(self.data, *self.deflated)


def inflate_entry(data: bytes, size: int, crc: int) -> bytes:
    """A zip entry's deflate stream inflated and checked against its directory's size and
    CRC-32; raises ValueError naming the fault."""
    try:
        out = zlib.decompress(data, -15)
    except zlib.error as exc:
        raise ValueError(str(exc)) from None
    if len(out) != size or zlib.crc32(out) != crc:
        raise ValueError("size or CRC-32 does not match the archive's directory")
    return out


@dataclass(slots=True)
class SourceRecord:
    record: dict
    raw: bytes
    origin: Origin
    format: str  # "json" or "xml": the format of ``raw``
    deflated: bytes | None = None  # ``raw`` as its zip archive held it (a deflate stream)


@dataclass(slots=True)
class Reject:
    origin: Origin
    message: str
    nct_id: str | None = None

"""What every reader yields: a parsed record with its raw bytes and origin, or a reject."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
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
    CRC-32; raises ValueError naming the fault.

    Inflation stops one byte past the declared size, so an entry that lies about its size
    costs no more memory than it declared (and the declared size was checked against the
    limits when the archive was split)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, size + 1)
    except zlib.error as exc:
        raise ValueError(str(exc)) from None
    if len(out) > size:
        raise ValueError(f"inflates past its declared size of {size} bytes")
    if not inflater.eof:
        raise ValueError("deflate stream ends early (truncated entry)")
    if len(out) != size or zlib.crc32(out) != crc:
        raise ValueError("size or CRC-32 does not match the archive's directory")
    return out


TOO_LONG = None  # what split_lines yields in place of a line longer than its limit


def split_lines(chunks: Iterable[bytes], max_line: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line with its newline) for each line of a byte stream given in chunks,
    holding at most ``max_line`` bytes of one line: a longer one is skipped to its end and
    yielded as TOO_LONG, so a file with no newline costs no more memory than one line may."""
    number = 0
    parts: list[bytes] = []
    held = 0
    skipping = False
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not skipping and start < len(chunk):
                    held += len(chunk) - start
                    if held > max_line:
                        skipping, parts, held = True, [], 0
                    else:
                        parts.append(chunk[start:])
                break
            number += 1
            piece = chunk[start : end + 1]
            if skipping or held + len(piece) > max_line:
                yield number, TOO_LONG
            else:
                yield number, b"".join((*parts, piece)) if parts else piece
            skipping, parts, held = False, [], 0
            start = end + 1
    if skipping:
        yield number + 1, TOO_LONG
    elif parts:
        yield number + 1, b"".join(parts)


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

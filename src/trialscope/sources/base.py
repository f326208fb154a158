"""What every reader yields: a parsed record with its raw bytes and origin, or a reject."""

from __future__ import annotations

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


@dataclass(slots=True)
class SourceRecord:
    record: dict
    raw: bytes
    origin: Origin
    format: str  # "json" or "xml": the format of ``raw``


@dataclass(slots=True)
class Reject:
    origin: Origin
    message: str
    nct_id: str | None = None

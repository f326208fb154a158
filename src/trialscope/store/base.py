"""The Store interface every backend implements, and the values that cross it.

Callers (ingest, index, web, sync) only use this interface, so SQLite and PostgreSQL are
interchangeable. Versioning rule, the same on every backend:
- a study not yet stored is added;
- a version with a newer last-update date replaces the current one, which moves to history;
- an older version never overwrites a newer one; it is kept in history;
- the same date with the same raw bytes is a no-op; the same date with other bytes keeps
  the current version and files the other in history (first seen wins, so the outcome of a
  tie does not depend on which copy came last but on what is already there).
Every write bumps a store-wide sequence number, so indexes can catch up incrementally.
"""

from __future__ import annotations

import enum
import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from ..sources.base import Reject


class Outcome(enum.StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    OLDER = "older"  # an older version than the stored one: filed in history


RAW_DEFLATE = "deflate"


def inflate_raw(data: bytes, codec: str | None) -> bytes:
    """The source bytes from raw bytes as stored: as read, or (codec "deflate") the
    deflate stream a zip archive held them in, kept as it was rather than inflated
    and stored again (a third of the size, and no work for the writer)."""
    if codec is None:
        return data
    if codec == RAW_DEFLATE:
        return zlib.decompress(data, -15)
    raise ValueError(f"unknown raw codec {codec!r}")


@dataclass(slots=True)
class StudyVersion:
    """One version of a study as a source delivered it, ready to store."""

    nct_id: str
    last_update: str
    record: bytes  # the v2 JSON object, serialized
    raw: bytes  # the source bytes exactly as read, or their deflate stream (raw_codec)
    raw_format: str  # "json" or "xml"
    source: str  # where it came from (file!entry:line or URL)
    summary: dict[str, Any] = field(default_factory=dict)  # denormalized facts for stats
    raw_codec: str | None = None  # None, or RAW_DEFLATE (see inflate_raw)
    # SHA-1 of the source bytes: given by the ingest worker that had them inflated, so the
    # writer never hashes (or inflates) them; computed here when not given
    raw_sha: str = ""

    def __post_init__(self) -> None:
        if not self.raw_sha:
            self.raw_sha = hashlib.sha1(self.source_bytes).hexdigest()

    @property
    def source_bytes(self) -> bytes:
        return inflate_raw(self.raw, self.raw_codec)


@dataclass(slots=True)
class StoredStudy:
    nct_id: str
    last_update: str
    record_json: bytes
    stored_raw: bytes  # as stored: see raw_codec
    raw_format: str
    source: str
    ingested_at: str
    seq: int
    withdrawn_at: str | None = None
    raw_codec: str | None = None

    @property
    def record(self) -> dict:
        return orjson.loads(self.record_json)

    @property
    def raw(self) -> bytes:
        """The source bytes exactly as ingested."""
        return inflate_raw(self.stored_raw, self.raw_codec)


@dataclass(slots=True)
class HistoryEntry:
    nct_id: str
    last_update: str
    record_json: bytes
    stored_raw: bytes
    raw_format: str
    source: str
    replaced_at: str
    raw_codec: str | None = None

    @property
    def raw(self) -> bytes:
        return inflate_raw(self.stored_raw, self.raw_codec)


@dataclass(slots=True)
class IngestRun:
    id: int
    kind: str  # "ingest" or "sync"
    source: str
    started_at: str
    finished_at: str | None
    status: str  # running, done, failed, interrupted
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duration_s: float | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class RejectEntry:
    run_id: int
    origin: str
    nct_id: str | None
    message: str


COUNTED_AS = {
    Outcome.ADDED: "added",
    Outcome.UPDATED: "updated",
    Outcome.UNCHANGED: "unchanged",
    Outcome.OLDER: "unchanged",
}


class Store(Protocol):
    """A store of record: studies (current), history, ingest runs and rejects."""

    url: str

    def upsert_batch(
        self, run_id: int, versions: list[StudyVersion], rejects: list[Reject]
    ) -> list[Outcome]:
        """Apply versions and log rejects in one transaction; bump the run's counts."""

    def get(self, nct_id: str) -> StoredStudy | None: ...

    def get_many(self, nct_ids: Iterable[str]) -> dict[str, StoredStudy]: ...

    def history(self, nct_id: str) -> list[HistoryEntry]: ...

    def iter_studies(self, batch_size: int = 1000) -> Iterator[StoredStudy]:
        """Every current study, in NCT id order, streamed."""

    def iter_history(self, batch_size: int = 1000) -> Iterator[HistoryEntry]: ...

    def changes_since(self, seq: int, limit: int = 1000) -> list[StoredStudy]:
        """Studies written after sequence number ``seq``, oldest first."""

    def max_seq(self) -> int: ...

    def recent_changes(self, before_seq: int | None = None, limit: int = 500) -> list[tuple[str, int]]:
        """(nct_id, seq) of the studies last written before ``before_seq`` (None: the newest),
        newest first; an index range scan on seq (feeds page back through it)."""

    def count(self) -> int: ...

    def nct_ids(self) -> Iterator[str]: ...

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts of current studies by overall status, phase and study type."""

    def mark_withdrawn(self, nct_ids: Iterable[str], when: str) -> int:
        """Mark studies gone upstream (never deletes them); returns how many changed."""

    def begin_run(self, kind: str, source: str) -> int: ...

    def finish_run(
        self, run_id: int, status: str, message: str | None = None, duration_s: float | None = None
    ) -> IngestRun: ...

    def runs(self, limit: int = 20, kind: str | None = None) -> list[IngestRun]: ...

    def rejects(self, run_id: int | None = None, limit: int = 1000) -> list[RejectEntry]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str | None) -> None: ...

    def close(self) -> None: ...

    # Added for sync, status and copy (both backends implement them). ``upsert_batch`` also
    # takes ``meta={key: value-or-None}``, written in the batch's own transaction (sync
    # commits its resume cursor atomically with each page).

    def schema_version(self) -> int: ...

    def unmark_withdrawn(self, nct_ids: Iterable[str]) -> int:
        """Studies back upstream: clear their withdrawn mark; returns how many changed."""

    def withdrawn(self) -> dict[str, str]:
        """nct_id -> the date it was found gone upstream."""

    def newest_update(self) -> str | None:
        """The newest last-update date of any current study."""

    def history_count(self) -> int: ...

    def iter_rejects(self) -> Iterator[RejectEntry]: ...

    def meta_items(self) -> dict[str, str]: ...

    # Bulk load, rows written as they are (seq, ingested_at, withdrawn_at, run ids kept).
    def import_studies(self, studies: list[StoredStudy]) -> None: ...

    def import_history(self, entries: list[HistoryEntry]) -> None: ...

    def import_runs(self, runs: list[IngestRun]) -> None: ...

    def import_rejects(self, rejects: list[RejectEntry]) -> None: ...

    def import_meta(self, items: dict[str, str]) -> None: ...


def decide(
    current_update: str | None, current_sha: str | None, new: StudyVersion
) -> Outcome:
    """The versioning rule of the module docstring, shared by every backend."""
    if current_update is None:
        return Outcome.ADDED
    if new.last_update > current_update:
        return Outcome.UPDATED
    if new.last_update < current_update:
        return Outcome.OLDER
    return Outcome.UNCHANGED if new.raw_sha == current_sha else Outcome.OLDER


def summary_of(record: dict) -> dict[str, Any]:
    """The few facts stored beside a record so stats need not parse every record."""
    proto = record.get("protocolSection") or {}
    status = proto.get("statusModule") or {}
    design = proto.get("designModule") or {}
    return {
        "overall_status": status.get("overallStatus"),
        "study_type": design.get("studyType"),
        "phases": design.get("phases") or [],
        "has_results": bool(record.get("hasResults") or record.get("resultsSection")),
    }


def stats_from(execute: Callable[[str], Iterable[tuple]]) -> dict[str, dict[str, int]]:
    """Counts by status, study type, phase and results, from the denormalized columns.

    ``execute`` runs one SQL statement and returns its rows; the SQL is the same on every backend.
    """
    out: dict[str, dict[str, int]] = {}
    for key, col in (("overallStatus", "overall_status"), ("studyType", "study_type")):
        out[key] = {
            (v or "(not stated)"): n
            for v, n in execute(
                f"SELECT {col}, count(*) FROM studies GROUP BY {col} ORDER BY count(*) DESC"
            )
        }
    phases: dict[str, int] = {}
    for v, n in execute("SELECT phases, count(*) FROM studies GROUP BY phases"):
        for p in orjson.loads(v or "[]") or ["NA"]:
            phases[p] = phases.get(p, 0) + n
    out["phase"] = dict(sorted(phases.items(), key=lambda kv: -kv[1]))
    out["hasResults"] = {
        ("true" if v else "false"): n
        for v, n in execute("SELECT has_results, count(*) FROM studies GROUP BY has_results")
    }
    return out

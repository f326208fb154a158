"""Ingest: sources -> validated v2 records -> store, in batches, with a run record.

Each batch (records and rejects) is one transaction, so an interrupted ingest leaves the
store consistent and the same ingest run again completes it (stored versions are no-ops).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import sources
from .progress import Progress
from .record import RecordError, check_values, dumps, last_update, nct_id_of, validate
from .sources.base import Document, Reject, SourceFailure, SourceRecord
from .sources.limits import Limits
from .store.base import COUNTED_AS, RAW_DEFLATE, Store, StudyVersion, summary_of

BATCH_SIZE = 500
CHUNK = 64  # documents per task sent to a parsing worker
IN_FLIGHT = 4  # tasks per worker queued ahead (bounds memory)


@dataclass
class IngestSummary:
    run_id: int
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # same date as the stored version, other content: filed in history
    rejected: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)  # sources that could not be read at all

    @property
    def read(self) -> int:
        return self.added + self.updated + self.unchanged + self.conflicts + self.rejected

    def as_dict(self) -> dict:
        return {
            "run": self.run_id, "source": self.source, "added": self.added,
            "updated": self.updated, "unchanged": self.unchanged, "conflicts": self.conflicts,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.read / self.seconds, 1) if self.seconds else None,
            "failures": self.failures,
        }


def to_version(item: SourceRecord) -> StudyVersion | Reject:
    """Validate one parsed record; a record that fails becomes a reject naming why."""
    try:
        study = validate(item.record)
        check_values(item.record)
    except RecordError as exc:
        return Reject(item.origin, str(exc), nct_id_of(item.record))
    record = item.record
    nct = study.protocol_section.identification_module.nct_id
    packed = item.deflated is not None
    return StudyVersion(
        nct_id=nct,
        last_update=last_update(record),
        record=dumps(record),
        raw=item.deflated if packed else item.raw,
        raw_format=item.format,
        source=str(item.origin),
        summary=summary_of(record),
        raw_codec=RAW_DEFLATE if packed else None,
        raw_sha=hashlib.sha1(item.raw).hexdigest(),
    )


def estimate_total(paths: Iterable[str]) -> int | None:
    """Records to expect, where cheap to know (archive entries, files); None if unknown."""
    total = 0
    for path in paths:
        p = Path(path)
        try:
            if p.is_dir():
                total += sum(1 for f in p.rglob("*") if f.is_file())
            elif zipfile.is_zipfile(p):
                with zipfile.ZipFile(p) as z:
                    total += sum(1 for i in z.infolist() if not i.is_dir())
            else:
                return None
        except (OSError, zipfile.BadZipFile):
            return None
    return total


def _documents(
    paths: Iterable[str], failures: list[str], limits: Limits | None = None
) -> Iterator[Document | Reject]:
    for path in paths:
        try:
            yield from sources.documents(path, limits)
        except SourceFailure as exc:
            failures.append(str(exc))


def _convert(docs: list[Document | Reject]) -> list[StudyVersion | Reject]:
    """Parse, convert and validate documents: the costly part, run in worker processes."""
    out: list[StudyVersion | Reject] = []
    for doc in docs:
        if isinstance(doc, Reject):
            out.append(doc)
            continue
        for item in sources.parse(doc):
            out.append(to_version(item) if isinstance(item, SourceRecord) else item)
    return out


def _chunked(items: Iterator, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def convert_all(
    paths: Iterable[str], failures: list[str], workers: int, limits: Limits | None = None
) -> Iterator[StudyVersion | Reject]:
    """Versions and rejects from every source, in source order.

    With several workers, parsing runs in a process pool with a bounded window of tasks in
    flight, so memory stays bounded however large the input.
    """
    chunks = _chunked(_documents(paths, failures, limits), CHUNK)
    if workers <= 1:
        for chunk in chunks:
            yield from _convert(chunk)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_convert, (chunk,)))
            if len(pending) >= workers * IN_FLIGHT:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def ingest(
    store: Store,
    paths: list[str],
    *,
    progress: bool | None = None,
    items: Iterable[SourceRecord | Reject] | None = None,
    kind: str = "ingest",
    source: str | None = None,
    on_batch: Callable[[], None] | None = None,
    workers: int | None = None,
    limits: Limits | None = None,
) -> IngestSummary:
    """Ingest every record under ``paths`` (or the given ``items``) into ``store``.

    ``workers`` parsing processes (default: one per core, when there is enough to parse).
    ``limits``: the most one source may make this read (default: from the environment,
    see sources.limits); a document past one is rejected, naming the limit.
    """
    label = source or " ".join(paths)
    run_id = store.begin_run(kind, label)
    summary = IngestSummary(run_id, label)
    started = time.perf_counter()
    total = estimate_total(paths) if items is None else None
    bar = Progress("ingest", total, progress)
    if workers is None:
        workers = (os.cpu_count() or 1) if (total is None or total > 2000) else 1
    if items is not None:
        stream: Iterable[StudyVersion | Reject] = (
            to_version(i) if isinstance(i, SourceRecord) else i for i in items
        )
    else:
        stream = convert_all(paths, summary.failures, workers, limits or Limits.from_env())
    versions: list[StudyVersion] = []
    rejects: list[Reject] = []
    status = "interrupted"
    try:
        for got in stream:
            (rejects if isinstance(got, Reject) else versions).append(got)
            bar.advance()
            if len(versions) + len(rejects) >= BATCH_SIZE:
                _flush(store, run_id, versions, rejects, summary)
                if on_batch:
                    on_batch()
        _flush(store, run_id, versions, rejects, summary)
        status = "failed" if summary.failures and not summary.read else "done"
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - started
        store.finish_run(run_id, status, "; ".join(summary.failures) or None, summary.seconds)
    return summary


def _flush(store: Store, run_id: int, versions: list, rejects: list, summary: IngestSummary) -> None:
    if not versions and not rejects:
        return
    for outcome in store.upsert_batch(run_id, versions, rejects):
        counted = COUNTED_AS[outcome]
        setattr(summary, counted, getattr(summary, counted) + 1)
    summary.rejected += len(rejects)
    versions.clear()
    rejects.clear()

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
from .pipeline import Pipeline
from .progress import Progress
from .record import RecordError, check_values, dumps, last_update, nct_id_of, validate
from .sources.base import Document, Reject, SourceFailure, SourceRecord
from .sources.limits import Limits
from .store.base import COUNTED_AS, RAW_DEFLATE, Store, StudyVersion, summary_of

BATCH_SIZE = 500
CHUNK = 64  # documents per task sent to a parsing worker
IN_FLIGHT = 8  # tasks per worker queued ahead (bounds memory; about two batches)

# what the parse workers run on the records they converted, besides converting them: the
# `prepare` of the run's pipeline (trialscope.pipeline); set before the workers fork
_PREPARE: Callable[[list[dict]], list] | None = None


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
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            try:
                if zipfile.is_zipfile(f):  # an archive holds many records, in a folder too
                    with zipfile.ZipFile(f) as z:
                        total += sum(1 for i in z.infolist() if not i.is_dir())
                elif p.is_dir():
                    total += 1
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


def _convert(docs: list[Document | Reject]) -> list[tuple[StudyVersion | Reject, object]]:
    """Parse, convert and validate documents, and prepare the valid records for the
    pipeline's stages: the costly part, run in worker processes. -> (version or reject,
    what the stages prepared for it, or None)."""
    out: list[StudyVersion | Reject] = []
    records: list[dict] = []
    at: list[int] = []
    for doc in docs:
        if isinstance(doc, Reject):
            out.append(doc)
            continue
        for item in sources.parse(doc):
            got = to_version(item) if isinstance(item, SourceRecord) else item
            if _PREPARE is not None and isinstance(got, StudyVersion):
                records.append(item.record)
                at.append(len(out))
            out.append(got)
    prepared: list = [None] * len(out)
    if records:
        for i, value in zip(at, _PREPARE(records), strict=True):
            prepared[i] = value
    return list(zip(out, prepared, strict=True))


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
) -> Iterator[tuple[StudyVersion | Reject, object]]:
    """Versions and rejects from every source, in source order, each with what the
    pipeline's stages prepared for it (see `_convert`).

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
    pipeline: Pipeline | None = None,
) -> IngestSummary:
    """Ingest every record under ``paths`` (or the given ``items``) into ``store``.

    ``workers`` parsing processes (default: one per core, when there is enough to parse).
    ``limits``: the most one source may make this read (default: from the environment,
    see sources.limits); a document past one is rejected, naming the limit.
    ``pipeline``: derived stages fed each committed batch (trialscope.pipeline); the caller
    finishes it. ``summary.seconds`` is the time to the last store commit.
    """
    global _PREPARE
    label = source or " ".join(paths)
    run_id = store.begin_run(kind, label)
    summary = IngestSummary(run_id, label)
    started = time.perf_counter()
    total = estimate_total(paths) if items is None else None
    bar = Progress("ingest", total, progress)
    if pipeline is not None:
        bar.detail = lambda: "  ".join(f"{n} {c:,}" for n, c in pipeline.done.items())
    if workers is None:
        workers = (os.cpu_count() or 1) if (total is None or total > 2000) else 1
    prepare = pipeline.prepare if pipeline is not None and pipeline.stages else None
    if items is not None:
        stream: Iterable[tuple[StudyVersion | Reject, object]] = (
            (to_version(i) if isinstance(i, SourceRecord) else i, None) for i in items
        )
    else:
        _PREPARE = prepare  # the workers fork with it
        stream = convert_all(paths, summary.failures, workers, limits or Limits.from_env())
    batch = _Batch(store, run_id, summary, pipeline)
    status = "interrupted"
    try:
        waited = time.perf_counter()
        for got, prepared in stream:
            if pipeline is not None:
                pipeline._count("read", waited)
            batch.add(got, prepared)
            bar.advance()
            if batch.size >= BATCH_SIZE:
                batch.flush()
                if on_batch:
                    on_batch()
            waited = time.perf_counter()
        batch.flush()
        status = "failed" if summary.failures and not summary.read else "done"
    finally:
        _PREPARE = None
        bar.close()
        summary.seconds = time.perf_counter() - started
        store.finish_run(run_id, status, "; ".join(summary.failures) or None, summary.seconds)
    return summary


class _Batch:
    """The versions and rejects of the next store transaction, with what the pipeline's
    stages prepared for each version."""

    def __init__(self, store: Store, run_id: int, summary: IngestSummary, pipeline: Pipeline | None):
        self.store, self.run_id, self.summary, self.pipeline = store, run_id, summary, pipeline
        self.versions: list[StudyVersion] = []
        self.prepared: list = []
        self.rejects: list[Reject] = []

    @property
    def size(self) -> int:
        return len(self.versions) + len(self.rejects)

    def add(self, got: StudyVersion | Reject, prepared: object) -> None:
        if isinstance(got, Reject):
            self.rejects.append(got)
        else:
            self.versions.append(got)
            self.prepared.append(prepared)

    def flush(self) -> None:
        if not self.size:
            return
        start = time.perf_counter()
        outcomes = self.store.upsert_batch(self.run_id, self.versions, self.rejects)
        summary = self.summary
        for outcome in outcomes:
            counted = COUNTED_AS[outcome]
            setattr(summary, counted, getattr(summary, counted) + 1)
        summary.rejected += len(self.rejects)
        if self.pipeline is not None:
            self.pipeline._count("store", start)
            self.pipeline.committed(self.versions, outcomes, self.prepared)
        self.versions, self.prepared, self.rejects = [], [], []

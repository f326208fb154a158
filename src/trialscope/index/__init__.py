"""The search index: derived from the store, rebuildable, updated incrementally.

The index lives at `derived_dir(store.url, "index")` (a tantivy directory) with
`trialscope-index.json` beside the segments holding the schema version and the store
sequence number indexed so far. `catch_up(store)` applies `changes_since(seq)`;
`rebuild(store)` builds a fresh index in a sibling directory and swaps it in. The store
stays the store of record: deleting the index directory loses nothing.

Several processes may read the index; one writes at a time (tantivy's writer lock). A
process that cannot take the lock leaves catching up to the one holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterable
from datetime import date

import orjson
import tantivy

from ..history.flags import with_flags
from ..store import derived_dir
from .fulltext import (
    SCHEMA_VERSION,
    STALE_FIELD,
    analyzer,
    build_schema,
    date_int,
    folding_analyzer,
    study_json,
    warm,
)

META = "trialscope-index.json"
WRITER_HEAP = 512_000_000
# bulk builds of a known size (see bulk_build): tantivy's log merge policy merges 8 segments
# of one size into one; the heap an indexed study takes before its part is committed
# (about 9.3 kB at 500,000 studies, with a margin); tantivy's per-thread heap limit
MERGE_PARTS = 8
HEAP_PER_DOC = 12_000
MAX_HEAP = 3_900_000_000

__all__ = ["FullTextIndex", "IndexStage", "bulk_build", "catch_up", "rebuild", "reindex", "index_path", "stage"]


def index_path(store) -> str:
    return derived_dir(store.url, "index")


class FullTextIndex:
    """A tantivy index directory plus the store seq it reflects."""

    def __init__(self, path: str, create: bool = True):
        self.path = path
        if not self._usable(path):
            if not create:
                raise FileNotFoundError(f"no search index at {path}")
            # under the write lock: several server processes may start on a store without an
            # index, and a rebuild swapping directories leaves `path` missing for a moment
            with _write_lock(path, wait=True):
                if not self._usable(path):
                    self._create(path)
        self.index = tantivy.Index.open(path)
        self.inode = os.stat(path).st_ino  # a rebuild swaps in a new directory: see `swapped`
        self._register(self.index)
        self.schema = self.index.schema

    @classmethod
    def _usable(cls, path: str) -> bool:
        meta = cls._read_meta(path)
        return meta is not None and meta.get("schema") == SCHEMA_VERSION and tantivy.Index.exists(path)

    @property
    def swapped(self) -> bool:
        """True when `path` now holds another directory (a rebuild in another process)."""
        try:
            return os.stat(self.path).st_ino != self.inode
        except FileNotFoundError:
            return False  # mid-swap: keep reading the open one

    @staticmethod
    def _register(index: tantivy.Index) -> None:
        index.register_tokenizer("en", analyzer())
        index.register_tokenizer("en_fold", folding_analyzer())

    @staticmethod
    def _read_meta(path: str) -> dict | None:
        try:
            with open(os.path.join(path, META), "rb") as fh:
                return orjson.loads(fh.read())
        except (OSError, orjson.JSONDecodeError):
            return None

    @staticmethod
    def _write_meta(path: str, meta: dict) -> None:
        tmp = os.path.join(path, META + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(meta))
        os.replace(tmp, os.path.join(path, META))

    @classmethod
    def _create(cls, path: str) -> None:
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.makedirs(path, exist_ok=True)
        tantivy.Index(build_schema(), path=path, reuse=False)
        cls._write_meta(path, {"schema": SCHEMA_VERSION, "seq": 0})

    def reopen(self) -> None:
        """Open the directory now at `path` (after a rebuild swapped it in)."""
        self.index = tantivy.Index.open(self.path)
        self._register(self.index)
        self.schema = self.index.schema
        self.inode = os.stat(self.path).st_ino

    @property
    def seq(self) -> int:
        meta = self._read_meta(self.path) or {}
        return int(meta.get("seq") or 0)

    @property
    def asof(self) -> date | None:
        """The date the indexed (effective) statuses hold for; see `redate`."""
        meta = self._read_meta(self.path) or {}
        try:
            return date.fromisoformat(meta["asof"])
        except (KeyError, TypeError, ValueError):
            return None

    def set_seq(self, seq: int, asof: date | None = None) -> None:
        asof = asof or self.asof or date.today()
        self._write_meta(self.path, {"schema": SCHEMA_VERSION, "seq": seq, "asof": asof.isoformat(),
                                     "updated": time.time()})

    def writer(self, heap: int = WRITER_HEAP, threads: int = 0) -> tantivy.IndexWriter:
        return self.index.writer(heap_size=heap, num_threads=threads)


@contextlib.contextmanager
def _write_lock(path: str, wait: bool):
    """One writer per index across processes (an flock); yields False when
    `wait` is off and another process holds it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # beside the index, not in it (a rebuild swaps the directory); `x.db-index.lock` for
    # `x.db.index`, which the repository's `*.db-*` ignore rule covers
    lock = path.removesuffix(".index") + "-index.lock" if path.endswith(".index") else path + ".lock"
    held = _held_locks()
    if lock in held:  # this thread holds it already (flock would wait on itself)
        yield True
        return
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        held.add(lock)
        try:
            yield True
        finally:
            held.discard(lock)
            fcntl.flock(fh, fcntl.LOCK_UN)


_local = threading.local()


def _held_locks() -> set[str]:
    if not hasattr(_local, "held"):
        _local.held = set()
    return _local.held


def catch_up(store, index: FullTextIndex | None = None, batch: int = 1000) -> int:
    """Index every store change since the index's seq; returns how many studies were applied.

    The AFTER_INGEST hook. Returns 0 without waiting when another process is writing the
    index (it will apply the changes).
    """
    path = index.path if index is not None else index_path(store)
    with _write_lock(path, wait=False) as locked:
        if not locked:
            return 0
        idx = index or FullTextIndex(path)
        return _catch_up(store, idx, batch)


class IndexStage:
    """The full-text index as a stage of the ingest pipeline (trialscope.pipeline): one
    writer for the whole run, committed once at the end (one segment, as a bulk build)."""

    name = "index"

    def __init__(self) -> None:
        self._lock: contextlib.AbstractContextManager | None = None
        self.idx: FullTextIndex | None = None
        self.writer: tantivy.IndexWriter | None = None
        self.today = date.today()
        self.empty = False  # the index held no study at the start: nothing to delete
        self.seen: set[str] = set()

    def prepare(self, records: list[dict]) -> list[str]:
        """Each record's document as JSON (`study_json`), built in the parse workers: the
        main process only adds it (a tantivy document object costs more to pickle than to
        build; its JSON costs next to nothing). Effective statuses as of `today`, the day
        the stage was made, before the workers forked; the outcome-switch flag, which needs
        the store, is set in `add`."""
        return [study_json(r, asof=self.today) for r in records]

    def begin(self, store) -> bool:
        path = index_path(store)
        lock = _write_lock(path, wait=False)
        if not lock.__enter__():
            lock.__exit__(None, None, None)
            return False
        self._lock = lock
        warm()  # before the parse workers fork: they build the documents
        self.idx = FullTextIndex(path)
        _catch_up(store, self.idx, 1000)
        self.empty = self.idx.seq == 0
        try:
            # one indexing thread: it runs beside the parse workers and the store writer, and
            # costs less CPU per study than two (0.78 vs 0.93 ms on the shared corpus)
            self.writer = self.idx.writer(threads=1)
        except ValueError:  # tantivy's own lock: a writer of another kind is at work
            return False
        return True

    def add(self, items) -> None:
        writer, seen = self.writer, self.seen
        for c in items:
            if not self.empty or c.nct_id in seen:
                writer.delete_documents_by_term("nct", c.nct_id)
            seen.add(c.nct_id)
            prepared = c.prepared
            if not isinstance(prepared, str) or c.outcome_switched:  # not from a worker (sync), or flagged
                prepared = study_json(c.record, asof=self.today, outcome_switched=c.outcome_switched)
            writer.add_json(prepared)

    def finish(self, seq: int) -> None:
        writer, self.writer = self.writer, None
        try:
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self.idx.set_seq(seq, self.today)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.rollback()
            self.writer = None
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None


def stage() -> IndexStage:
    return IndexStage()


def _catch_up(store, idx: FullTextIndex, batch: int) -> int:
    seq = idx.seq
    today = date.today()
    redated = 0
    if seq and idx.asof != today:
        redated = _redate(store, idx, today)
    if store.max_seq() <= seq:
        return redated
    if seq == 0:  # a fresh index: a bulk build is faster than replaying changes
        return _rebuild(store, idx)
    try:
        writer = idx.writer(heap=128_000_000)
    except Exception:  # tantivy's own lock: another writer is at work
        return 0
    applied = 0
    try:
        while True:
            changes = store.changes_since(seq, batch)
            if not changes:
                break
            for s, switched in with_flags(store, changes):
                writer.delete_documents_by_term("nct", s.nct_id)
                writer.add_json(study_json(s.record, withdrawn=s.withdrawn_at is not None,
                                           asof=today, outcome_switched=switched))
                seq = max(seq, s.seq)
                applied += 1
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise
    idx.set_seq(seq, today)
    idx.index.reload()
    return applied + redated


def _redate(store, idx: FullTextIndex, today: date) -> int:
    """Move the index's effective statuses from its as-of date to `today`: re-index the
    studies whose `stale_at` day lies between the two (a range query finds them; usually a
    handful a day), then record the new date."""
    lo, hi = sorted((idx.asof or date.min, today))  # the statuses that differ flip in (lo, hi]
    lo_i, hi_i = date_int(lo.isoformat()) + 1, date_int(hi.isoformat())
    idx.index.reload()
    searcher = idx.index.searcher()
    q = tantivy.Query.range_query(idx.schema, STALE_FIELD, tantivy.FieldType.Integer, lo_i, hi_i)
    total = searcher.search(q, 1, count=True).count
    ids = [searcher.doc(a).get_first("nct") for _, a in searcher.search(q, total).hits] if total else []
    if ids:
        try:
            writer = idx.writer(heap=64_000_000)
        except ValueError:  # tantivy's own lock: another writer is at work; try next time
            return 0
        try:
            got = store.get_many(ids)
            for s, switched in with_flags(store, got.values()):
                writer.delete_documents_by_term("nct", s.nct_id)
                writer.add_json(study_json(s.record, withdrawn=s.withdrawn_at is not None,
                                           asof=today, outcome_switched=switched))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        del writer
    idx.set_seq(idx.seq, today)
    idx.index.reload()
    return len(ids)


def bulk_build(path: str, docs: Iterable[tantivy.Document | str], progress=None, expected: int | None = None) -> int:
    """A fresh index at `path` from `docs` (documents, or their JSON: `study_json`):
    -> documents added.

    Every query pays per segment (at 50,000 studies, 6 segments -> 2 cut the page's facet
    pass from 2.13 to 1.41 ms CPU at p95 and the API's search from 1.67 to 1.11 ms), so a
    bulk build aims at one. Without `expected` it commits once at the end: one segment per
    writer thread and heap fill. With `expected` (how many documents `docs` holds) one
    indexing thread commits them in MERGE_PARTS equal parts, with a heap sized so that no
    part flushes on its own: the merge policy then merges those equal segments into one
    while the build waits. A build that dies leaves only the unswapped directory behind."""
    FullTextIndex._create(path)
    fresh = FullTextIndex(path)
    part = None
    if expected and expected > 0:
        part = -(-expected // MERGE_PARTS)
        writer = fresh.writer(heap=min(max(WRITER_HEAP, part * HEAP_PER_DOC), MAX_HEAP), threads=1)
    else:
        writer = fresh.writer()
    n = 0
    for doc in docs:
        if isinstance(doc, str):
            writer.add_json(doc)
        else:
            writer.add_document(doc)
        n += 1
        if part is not None and n % part == 0:
            writer.commit()
        if progress is not None:
            progress(n)
    writer.commit()
    writer.wait_merging_threads()
    return n


def reindex(store, nct_ids: list[str]) -> int:
    """Index these studies again (derived facts of theirs changed without a new seq, e.g.
    an older version filed in history); waits for the index's writer. Returns how many."""
    path = index_path(store)
    with _write_lock(path, wait=True):
        idx = FullTextIndex(path)
        asof = idx.asof or date.today()  # as the rest of the index
        writer = idx.writer(heap=128_000_000)
        n = 0
        try:
            for i in range(0, len(nct_ids), 1000):
                got = store.get_many(nct_ids[i : i + 1000])
                for s, switched in with_flags(store, got.values()):
                    writer.delete_documents_by_term("nct", s.nct_id)
                    writer.add_json(study_json(s.record, withdrawn=s.withdrawn_at is not None,
                                               asof=asof, outcome_switched=switched))
                    n += 1
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        idx.index.reload()
        return n


def rebuild(store, index: FullTextIndex | None = None, progress=None) -> int:
    """Build the index afresh from every current study; returns the number indexed.

    Built beside the live index and swapped in, so readers keep working meanwhile."""
    path = index.path if index is not None else index_path(store)
    with _write_lock(path, wait=True):
        return _rebuild(store, index, progress, path)


def _rebuild(store, index: FullTextIndex | None = None, progress=None, path: str | None = None) -> int:
    path = path or (index.path if index is not None else index_path(store))
    seq = store.max_seq()  # studies written after this point are caught up later
    today = date.today()
    tmp = path + ".building"
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    docs = (study_json(s.record, withdrawn=s.withdrawn_at is not None, asof=today,
                       outcome_switched=switched)
            for s, switched in with_flags(store, store.iter_studies()))
    n = bulk_build(tmp, docs, progress, expected=store.count())
    FullTextIndex(tmp).set_seq(seq, today)
    old = path + ".old"
    if os.path.isdir(old):
        shutil.rmtree(old)
    if os.path.isdir(path):
        os.rename(path, old)
    os.rename(tmp, path)
    if os.path.isdir(old):
        shutil.rmtree(old, ignore_errors=True)
    if index is not None:
        index.reopen()
    # anything written while we built
    rest = _catch_up(store, index or FullTextIndex(path), 1000) if store.max_seq() > seq else 0
    return n + rest

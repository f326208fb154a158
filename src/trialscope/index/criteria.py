"""Parsed eligibility criteria for every study: derived from the store, rebuildable.

Lives in `derived_dir(store.url, "criteria")/criteria.sqlite`:
`criteria(nct PRIMARY KEY, seq, data, typed)` holds `trialscope.criteria.criteria_of(record)`
(msgpack) of the study version with store seq `seq` (`typed` once typed), `meta` the store seq caught up to and
the parser's `FORMAT`. `catch_up(store)` (the AFTER_INGEST hook) applies
`store.changes_since(seq)`; `rebuild(store)` starts over; a parser of another FORMAT finds
the file stale and rebuilds it. The store stays the store of record: deleting the folder
loses nothing, and `get_many` parses on the fly any study the file does not hold yet.

Ingest stores the split criteria only; typing them costs five times as much and only
matters for the studies a patient is assessed against. `get_many` types what it serves and
writes the typed form back, for that row's version only (`seq` unchanged), so a catch-up
that replaced the row meanwhile always wins; `warm(store)` types every row up front.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from contextlib import ExitStack
from pathlib import Path

import orjson

from ..criteria import FORMAT, Criteria, criteria_of, decode, encode, read_record, type_criteria
from ..store import derived_dir
from .folders import locked, meta, set_meta

BATCH = 1000
POOL_OVER = 2000  # changed studies above which parsing runs in a process pool


def index_dir(store_or_url) -> Path:
    url = store_or_url if isinstance(store_or_url, str) else store_or_url.url
    return Path(derived_dir(url, "criteria"))


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS criteria (nct TEXT PRIMARY KEY, seq INTEGER NOT NULL, data BLOB NOT NULL,
                                             typed INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )
    return db


def _wipe(folder: Path) -> None:
    for name in ("criteria.sqlite", "criteria.sqlite-wal", "criteria.sqlite-shm"):
        (folder / name).unlink(missing_ok=True)


def seq(store) -> int:
    """The store seq the derived criteria reflect (0 when never built or stale)."""
    path = index_dir(store) / "criteria.sqlite"
    if not path.exists():
        return 0
    db = _connect(path)
    try:
        if meta(db, "format") != str(FORMAT):
            return 0
        return int(meta(db, "seq", 0))
    finally:
        db.close()


def _parse_batch(rows: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    """(nct, seq, stored criteria) for (nct, seq, record JSON) rows: a pool worker's work."""
    return [(nct, seq, criteria_of(orjson.loads(record))) for nct, seq, record in rows]


def _open_current(folder: Path) -> sqlite3.Connection:
    """The file, wiped first when another FORMAT of the parser wrote it (lock held)."""
    db = _connect(folder / "criteria.sqlite")
    if meta(db, "format") not in (None, str(FORMAT)):
        db.close()
        _wipe(folder)
        db = _connect(folder / "criteria.sqlite")
    return db


def _write(db: sqlite3.Connection, rows: list[tuple[str, int, bytes]], seq: int) -> None:
    """Rows (nct, seq, data) and the seq they bring the file to, in one transaction."""
    db.executemany("INSERT OR REPLACE INTO criteria (nct, seq, data) VALUES (?, ?, ?)", rows)
    set_meta(db, "seq", seq)
    set_meta(db, "format", FORMAT)
    db.commit()


def catch_up(store, progress=None, workers: int | None = None) -> int:
    """Parse the criteria of every study changed since the last catch-up; returns how many.

    Called after every ingest and sync (cli.AFTER_INGEST). A file written by another
    FORMAT of the parser is rebuilt from scratch. Parsing runs in `workers` processes
    (default: one per core when more than `POOL_OVER` studies changed); the store is read
    and the file written by this process alone.
    """
    folder = index_dir(store)
    with locked(folder):
        db = _open_current(folder)
        try:
            return _catch_up(store, db, progress, workers)
        finally:
            db.close()


def _catch_up(store, db: sqlite3.Connection, progress=None, workers: int | None = None) -> int:
    done_seq = int(meta(db, "seq", 0))
    if store.max_seq() <= done_seq:
        return 0
    if workers is None:
        workers = (os.cpu_count() or 1) if store.max_seq() - done_seq > POOL_OVER else 1
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        return _apply(store, db, done_seq, pool, workers, progress)
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _apply(store, db: sqlite3.Connection, done_seq: int, pool, workers: int, progress) -> int:
    done = 0
    while True:
        batch = store.changes_since(done_seq, BATCH * max(1, workers))
        if not batch:
            return done
        if pool is None:  # the record as the store gives it (a store that holds dicts skips a JSON round trip)
            parsed = [(s.nct_id, s.seq, criteria_of(s.record)) for s in batch]
        else:
            rows = [(s.nct_id, s.seq, s.record_json) for s in batch]
            step = max(1, len(rows) // (workers * 4))
            parsed = [r for part in pool.map(_parse_batch, [rows[i : i + step] for i in range(0, len(rows), step)])
                      for r in part]
        done_seq = max(s.seq for s in batch)
        _write(db, parsed, done_seq)
        done += len(parsed)
        if progress is not None:
            progress(done)


class Stage:
    """The criteria as a stage of the ingest pipeline (`trialscope.pipeline.Stage`):
    `prepare` splits records in the parse workers, the main process writes what they give
    as they come, in one open transaction that `finish` commits with the seq. A row's
    version tag is the store's seq when it is added (the version is committed by then, and
    a later version gets a later one), which is all a typed write-back checks."""

    name = "criteria"

    def __init__(self) -> None:
        self._held = ExitStack()
        self._db: sqlite3.Connection | None = None
        self._store = None

    def prepare(self, records: list[dict]) -> list[bytes]:
        return [criteria_of(r) for r in records]

    def begin(self, store) -> bool:
        folder = index_dir(store)
        self._held.enter_context(locked(folder))
        self._db = _open_current(folder)
        _catch_up(store, self._db)
        self._store = store
        return True

    def add(self, items) -> None:
        tag = self._store.max_seq()
        self._db.executemany("INSERT OR REPLACE INTO criteria (nct, seq, data) VALUES (?, ?, ?)", [
            (it.nct_id, tag, it.prepared if isinstance(it.prepared, bytes) else criteria_of(it.record))
            for it in items])

    def finish(self, seq: int) -> None:
        _write(self._db, [], seq)

    def close(self) -> None:
        if self._db is not None:
            self._db.rollback()
            self._db.close()
            self._db = None
        self._held.close()


def stage() -> Stage:
    """A fresh criteria stage for one pipeline run."""
    return Stage()


def rebuild(store, progress=None, workers: int | None = None) -> int:
    """Drop the derived criteria and parse every study again."""
    folder = index_dir(store)
    with locked(folder):
        _wipe(folder)
    return catch_up(store, progress=progress, workers=workers)


_READERS: dict[str, tuple[int, sqlite3.Connection, threading.Lock]] = {}
_READERS_LOCK = threading.Lock()


def _reader(folder: Path) -> tuple[sqlite3.Connection, threading.Lock] | None:
    """A shared read connection, reopened when a rebuild replaced the file."""
    path = folder / "criteria.sqlite"
    try:
        inode = os.stat(path).st_ino
    except OSError:
        return None
    key = str(path)
    with _READERS_LOCK:
        got = _READERS.get(key)
        if got is None or got[0] != inode:
            if got is not None:
                got[1].close()
            db = _connect(path)
            db.execute("PRAGMA busy_timeout = 200")  # a typed write-back never waits long
            got = (inode, db, threading.Lock())
            _READERS[key] = got
        return got[1], got[2]


def get_many(store, ncts) -> dict[str, Criteria]:
    """Parsed and typed criteria of these studies: from the derived file, or parsed now from
    the store for any study it lacks (a fresh ingest not yet caught up, or no file at all).
    Rows not typed yet are typed now and written back (best effort: a busy file is left
    for the next caller)."""
    ncts = list(dict.fromkeys(ncts))
    out: dict[str, Criteria] = {}
    reader = _reader(index_dir(store))
    if reader is not None:
        db, lock = reader
        typed: list[tuple[bytes, str, int]] = []
        with lock:
            current = meta(db, "format") == str(FORMAT)
            if current:
                for i in range(0, len(ncts), 500):
                    chunk = ncts[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    for nct, seq, data in db.execute(
                            f"SELECT nct, seq, data FROM criteria WHERE nct IN ({marks})", chunk):
                        c = out[nct] = decode(data)
                        if not c.typed:
                            typed.append((encode(type_criteria(c)), nct, seq))
            if typed:
                _write_back(db, typed)
    missing = [n for n in ncts if n not in out]
    if missing:
        for nct, study in store.get_many(missing).items():
            out[nct] = read_record(study.record)
    return out


def _write_back(db: sqlite3.Connection, typed: list[tuple[bytes, str, int]]) -> None:
    """Keep typed criteria for the row versions they were read from."""
    try:
        db.executemany("UPDATE criteria SET data = ?, typed = 1 WHERE nct = ? AND seq = ?", typed)
        db.commit()
    except sqlite3.Error:  # locked by a catch-up, or read-only: typed again next time
        db.rollback()


def get(store, nct: str) -> Criteria | None:
    return get_many(store, [nct]).get(nct)


def _type_batch(rows: list[tuple[str, int, bytes]]) -> list[tuple[bytes, str, int]]:
    return [(encode(type_criteria(decode(data))), nct, seq) for nct, seq, data in rows]


def warm(store, workers: int | None = None, progress=None, stop=None) -> int:
    """Type every row not typed yet (what `get_many` would do on first use), over `workers`
    processes; returns how many. For whoever wants first assessments at full speed. Rows
    are typed outside the writer lock and written a batch at a time under it (for that
    row version only, as `get_many` does), so an ingest's catch-up never waits for more than
    one batch; `stop()` true ends it early."""
    folder = index_dir(store)
    catch_up(store)
    workers = workers or os.cpu_count() or 1
    done = 0
    db = _connect(folder / "criteria.sqlite")
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        while stop is None or not stop():
            rows = db.execute("SELECT nct, seq, data FROM criteria WHERE typed = 0 LIMIT ?",
                              (BATCH * workers,)).fetchall()
            if not rows:
                break
            if pool is None:
                typed = _type_batch(rows)
            else:
                step = max(1, len(rows) // (workers * 4))
                typed = [t for part in pool.map(_type_batch, [rows[i : i + step] for i in
                                                              range(0, len(rows), step)]) for t in part]
            with locked(folder):
                db.executemany("UPDATE criteria SET data = ?, typed = 1 WHERE nct = ? AND seq = ?", typed)
                db.commit()
            done += len(typed)
            if progress is not None:
                progress(done)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        db.close()
    return done


def untyped(url: str) -> bool:
    """Whether the store's criteria file holds rows not yet typed, or is absent or of another
    FORMAT (what `warm` would do work for; see match/warmup.py)."""
    path = index_dir(url) / "criteria.sqlite"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return meta(db, "format") != str(FORMAT) or db.execute(
                "SELECT 1 FROM criteria WHERE typed = 0 LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return True  # no file yet, or unreadable: the warm-up's catch-up builds it

"""The embedded default store: one SQLite file.

WAL mode, one transaction per batch: a kill at any point leaves the last committed batch
and nothing half-written, and re-running the same ingest completes it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence

import orjson

from ..sources.base import Reject
from .base import (
    HistoryEntry,
    IngestRun,
    Outcome,
    RejectEntry,
    StoredStudy,
    StudyVersion,
    summary_of,
)
from .sql import RUN_COUNTS, SQLStore, now, plan_batch, run_counts, set_meta

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE studies (
        nct_id TEXT PRIMARY KEY,
        last_update TEXT NOT NULL,
        raw_sha TEXT NOT NULL,
        record BLOB NOT NULL,
        raw BLOB NOT NULL,
        raw_format TEXT NOT NULL,
        source TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        seq INTEGER NOT NULL,
        withdrawn_at TEXT,
        overall_status TEXT,
        study_type TEXT,
        phases TEXT,
        has_results INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX studies_seq ON studies(seq);
    CREATE TABLE study_history (
        nct_id TEXT NOT NULL,
        last_update TEXT NOT NULL,
        raw_sha TEXT NOT NULL,
        record BLOB NOT NULL,
        raw BLOB NOT NULL,
        raw_format TEXT NOT NULL,
        source TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        PRIMARY KEY (nct_id, last_update, raw_sha)
    );
    CREATE TABLE ingest_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        added INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        duration_s REAL,
        message TEXT
    );
    CREATE TABLE rejects (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES ingest_runs(id),
        origin TEXT NOT NULL,
        nct_id TEXT,
        message TEXT NOT NULL
    );
    CREATE INDEX rejects_run ON rejects(run_id);
    """,
    # 2: raw bytes may be kept as the deflate stream their zip archive held them in
    # (raw_codec 'deflate'; NULL: as read). See store.base.inflate_raw.
    """
    ALTER TABLE studies ADD COLUMN raw_codec TEXT;
    ALTER TABLE study_history ADD COLUMN raw_codec TEXT;
    """,
    # 3: history by the time a version was filed (derived data that depends on a study's
    # versions, such as the outcome-switch flag, finds what an ingest filed; history_ids)
    """
    CREATE INDEX study_history_replaced ON study_history(replaced_at, nct_id);
    """,
    # 4: runs count same-date conflicts, and record the process that runs them (a run whose
    # process ended without finishing it is marked died: see base.owner_gone)
    """
    ALTER TABLE ingest_runs ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE ingest_runs ADD COLUMN pid INTEGER;
    ALTER TABLE ingest_runs ADD COLUMN host TEXT;
    ALTER TABLE ingest_runs ADD COLUMN pid_start TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SQLiteStore(SQLStore):
    def __init__(self, path: str):
        self.url = path
        self._local = threading.local()
        self._migrate()

    @property
    def db(self) -> sqlite3.Connection:
        """One connection per thread (the web server reads from a thread pool)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.url, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait too
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        db = self.db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.url}: store schema v{version} is newer than this trialscope (v{SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                # another process opening the same new file may have migrated meanwhile
                if db.execute("PRAGMA user_version").fetchone()[0] > number:
                    db.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={number + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- writes ---------------------------------------------------------------------------

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def upsert_batch(
        self,
        run_id: int,
        versions: list[StudyVersion],
        rejects: list[Reject],
        meta: dict[str, str | None] | None = None,
    ) -> list[Outcome]:
        db = self.db
        stamp = now()
        db.execute("BEGIN IMMEDIATE")
        try:
            stored: dict[str, tuple[str, str]] = {}
            for chunk in _chunks([v.nct_id for v in versions], 500):
                marks = ",".join("?" * len(chunk))
                for nct, upd, sha in db.execute(
                    f"SELECT nct_id, last_update, raw_sha FROM studies WHERE nct_id IN ({marks})", chunk
                ):
                    stored[nct] = (upd, sha)
            plan = plan_batch(versions, stored, self.max_seq())
            for chunk in _chunks(plan.replaced, 500):
                db.execute(
                    "INSERT OR IGNORE INTO study_history SELECT nct_id, last_update, raw_sha, record, raw,"
                    f" raw_format, source, ?, raw_codec FROM studies WHERE nct_id IN ({','.join('?' * len(chunk))})",
                    (stamp, *chunk),
                )
            db.executemany(
                "INSERT OR IGNORE INTO study_history VALUES (?,?,?,?,?,?,?,?,?)",
                [(v.nct_id, v.last_update, v.raw_sha, v.record, v.raw, v.raw_format, v.source, stamp, v.raw_codec)
                 for v in plan.history],
            )
            db.executemany(
                "INSERT OR REPLACE INTO studies VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?)",
                [_study_row(v, stamp, seq) for v, seq in plan.current.values()],
            )
            db.executemany(
                "INSERT INTO rejects (run_id, origin, nct_id, message) VALUES (?,?,?,?)",
                [(run_id, str(r.origin), r.nct_id, r.message) for r in rejects],
            )
            db.execute(RUN_COUNTS, run_counts(plan, len(rejects), run_id))
            for key, value in {"seq": str(plan.seq), **(meta or {})}.items():
                set_meta(db.execute, key, value)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return plan.outcomes

    def _set_withdrawn(self, nct_ids: Iterable[str], when: str | None) -> int:
        """Set (a date) or clear (None) the withdrawn mark; each change takes a new seq."""
        db = self.db
        condition = "withdrawn_at IS NULL" if when else "withdrawn_at IS NOT NULL"
        changed = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = self.max_seq()
            for nct in sorted(set(nct_ids)):
                if db.execute(
                    f"UPDATE studies SET withdrawn_at = ?, seq = ? WHERE nct_id = ? AND {condition}",
                    (when, seq + 1, nct),
                ).rowcount:
                    seq += 1
                    changed += 1
            set_meta(db.execute, "seq", str(seq))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    # -- bulk load (trialscope copy): rows written as they are, seq and dates kept ------------

    def _bulk(self, sql: str, rows: list[tuple]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def import_studies(self, studies: list[StoredStudy]) -> None:
        rows = []
        for st in studies:
            s = summary_of(orjson.loads(st.record_json))
            rows.append((
                st.nct_id, st.last_update, hashlib.sha1(st.raw).hexdigest(), st.record_json, st.stored_raw,
                st.raw_format, st.source, st.ingested_at, st.seq, st.withdrawn_at,
                s.get("overall_status"), s.get("study_type"),
                orjson.dumps(s.get("phases") or []).decode(), int(bool(s.get("has_results"))), st.raw_codec,
            ))
        self._bulk("INSERT OR REPLACE INTO studies VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def import_history(self, entries: list[HistoryEntry]) -> None:
        rows = [
            (h.nct_id, h.last_update, hashlib.sha1(h.raw).hexdigest(), h.record_json, h.stored_raw,
             h.raw_format, h.source, h.replaced_at, h.raw_codec)
            for h in entries
        ]
        self._bulk("INSERT OR IGNORE INTO study_history VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def import_runs(self, runs: list[IngestRun]) -> None:
        self._bulk(
            "INSERT INTO ingest_runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [tuple(r.as_dict().values()) for r in runs],
        )

    def import_rejects(self, rejects: list[RejectEntry]) -> None:
        self._bulk(
            "INSERT INTO rejects (run_id, origin, nct_id, message) VALUES (?,?,?,?)",
            [(r.run_id, r.origin, r.nct_id, r.message) for r in rejects],
        )

    def import_meta(self, items: dict[str, str]) -> None:
        self._bulk("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    # -- reads (the shared ones are sql.SQLStore's) ---------------------------------------------

    _study_cols = ("nct_id, last_update, record, raw, raw_format, source, ingested_at, seq, withdrawn_at,"
                   " raw_codec")
    _history_cols = "nct_id, last_update, raw_sha, record, raw, raw_format, source, replaced_at, raw_codec"

    def _rows(self, sql: str, args: Sequence = ()) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()

    def _execute(self, sql: str, args: Sequence = ()) -> None:
        self.db.execute(sql, args)

    def get_many(self, nct_ids: Iterable[str]) -> dict[str, StoredStudy]:
        out: dict[str, StoredStudy] = {}
        for chunk in _chunks(list(nct_ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT {self._study_cols} FROM studies WHERE nct_id IN ({marks})", chunk
            ):
                out[row[0]] = StoredStudy(*row)
        return out

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _study_row(v: StudyVersion, stamp: str, seq: int) -> tuple:
    s = v.summary
    return (
        v.nct_id, v.last_update, v.raw_sha, v.record, v.raw, v.raw_format, v.source, stamp, seq,
        s.get("overall_status"), s.get("study_type"), orjson.dumps(s.get("phases") or []).decode(),
        int(bool(s.get("has_results"))), v.raw_codec,
    )


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

"""The embedded default store: one SQLite file.

WAL mode, one transaction per batch: a kill at any point leaves the last committed batch
and nothing half-written, and re-running the same ingest completes it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import orjson

from ..sources.base import Reject
from .base import (
    COUNTED_AS,
    HistoryEntry,
    IngestRun,
    Outcome,
    RejectEntry,
    StoredStudy,
    StudyVersion,
    decide,
    stats_from,
    summary_of,
)

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
]

SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SQLiteStore:
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
        outcomes: list[Outcome] = []
        stamp = now()
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = int(self._meta(db, "seq") or 0)
            ids = [v.nct_id for v in versions]
            current: dict[str, tuple[str, str]] = {}
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                for nct, upd, sha in db.execute(
                    f"SELECT nct_id, last_update, raw_sha FROM studies WHERE nct_id IN ({marks})",
                    chunk,
                ):
                    current[nct] = (upd, sha)
            counts = {"added": 0, "updated": 0, "unchanged": 0}
            for v in versions:
                cur = current.get(v.nct_id)
                outcome = decide(cur[0] if cur else None, cur[1] if cur else None, v)
                outcomes.append(outcome)
                counts[COUNTED_AS[outcome]] += 1
                if outcome is Outcome.UNCHANGED:
                    continue
                if outcome is Outcome.OLDER:
                    self._to_history(db, v, stamp)
                    continue
                if outcome is Outcome.UPDATED:
                    db.execute(
                        "INSERT OR IGNORE INTO study_history SELECT nct_id, last_update, raw_sha,"
                        " record, raw, raw_format, source, ?, raw_codec FROM studies WHERE nct_id = ?",
                        (stamp, v.nct_id),
                    )
                seq += 1
                s = v.summary
                db.execute(
                    "INSERT OR REPLACE INTO studies VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?)",
                    (
                        v.nct_id, v.last_update, v.raw_sha, v.record, v.raw, v.raw_format,
                        v.source, stamp, seq, s.get("overall_status"), s.get("study_type"),
                        orjson.dumps(s.get("phases") or []).decode(), int(bool(s.get("has_results"))),
                        v.raw_codec,
                    ),
                )
                current[v.nct_id] = (v.last_update, v.raw_sha)
            db.executemany(
                "INSERT INTO rejects (run_id, origin, nct_id, message) VALUES (?,?,?,?)",
                [(run_id, str(r.origin), r.nct_id, r.message) for r in rejects],
            )
            db.execute(
                "UPDATE ingest_runs SET added = added + ?, updated = updated + ?,"
                " unchanged = unchanged + ?, rejected = rejected + ? WHERE id = ?",
                (counts["added"], counts["updated"], counts["unchanged"], len(rejects), run_id),
            )
            self._set_meta(db, "seq", str(seq))
            for key, value in (meta or {}).items():
                self._set_meta(db, key, value)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return outcomes

    @staticmethod
    def _to_history(db: sqlite3.Connection, v: StudyVersion, stamp: str) -> None:
        db.execute(
            "INSERT OR IGNORE INTO study_history VALUES (?,?,?,?,?,?,?,?,?)",
            (v.nct_id, v.last_update, v.raw_sha, v.record, v.raw, v.raw_format, v.source, stamp, v.raw_codec),
        )

    def mark_withdrawn(self, nct_ids: Iterable[str], when: str) -> int:
        return self._set_withdrawn(nct_ids, when)

    def unmark_withdrawn(self, nct_ids: Iterable[str]) -> int:
        """Studies back upstream: clear their withdrawn mark; returns how many changed."""
        return self._set_withdrawn(nct_ids, None)

    def _set_withdrawn(self, nct_ids: Iterable[str], when: str | None) -> int:
        """Set (a date) or clear (None) the withdrawn mark; each change takes a new seq."""
        db = self.db
        condition = "withdrawn_at IS NULL" if when else "withdrawn_at IS NOT NULL"
        changed = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = int(self._meta(db, "seq") or 0)
            for nct in sorted(set(nct_ids)):
                if db.execute(
                    f"UPDATE studies SET withdrawn_at = ?, seq = ? WHERE nct_id = ? AND {condition}",
                    (when, seq + 1, nct),
                ).rowcount:
                    seq += 1
                    changed += 1
            self._set_meta(db, "seq", str(seq))
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
            "INSERT INTO ingest_runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [tuple(r.as_dict().values()) for r in runs],
        )

    def import_rejects(self, rejects: list[RejectEntry]) -> None:
        self._bulk(
            "INSERT INTO rejects (run_id, origin, nct_id, message) VALUES (?,?,?,?)",
            [(r.run_id, r.origin, r.nct_id, r.message) for r in rejects],
        )

    def import_meta(self, items: dict[str, str]) -> None:
        self._bulk("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    def begin_run(self, kind: str, source: str) -> int:
        cur = self.db.execute(
            "INSERT INTO ingest_runs (kind, source, started_at, status) VALUES (?,?,?, 'running')",
            (kind, source, now()),
        )
        return int(cur.lastrowid)

    def finish_run(
        self, run_id: int, status: str, message: str | None = None, duration_s: float | None = None
    ) -> IngestRun:
        stamp = now()
        duration = duration_s
        if duration is None:
            started = self.db.execute(
                "SELECT started_at FROM ingest_runs WHERE id = ?", (run_id,)
            ).fetchone()[0]
            duration = (datetime.fromisoformat(stamp) - datetime.fromisoformat(started)).total_seconds()
        self.db.execute(
            "UPDATE ingest_runs SET finished_at = ?, status = ?, message = ?, duration_s = ? WHERE id = ?",
            (stamp, status, message, duration, run_id),
        )
        row = self.db.execute("SELECT * FROM ingest_runs WHERE id = ?", (run_id,)).fetchone()
        return IngestRun(*row)

    def set_meta(self, key: str, value: str | None) -> None:
        self._set_meta(self.db, key, value)

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- reads ----------------------------------------------------------------------------

    _STUDY_COLS = ("nct_id, last_update, record, raw, raw_format, source, ingested_at, seq, withdrawn_at,"
                   " raw_codec")

    def get(self, nct_id: str) -> StoredStudy | None:
        row = self.db.execute(
            f"SELECT {self._STUDY_COLS} FROM studies WHERE nct_id = ?", (nct_id,)
        ).fetchone()
        return StoredStudy(*row) if row else None

    def get_many(self, nct_ids: Iterable[str]) -> dict[str, StoredStudy]:
        out: dict[str, StoredStudy] = {}
        for chunk in _chunks(list(nct_ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT {self._STUDY_COLS} FROM studies WHERE nct_id IN ({marks})", chunk
            ):
                out[row[0]] = StoredStudy(*row)
        return out

    def history(self, nct_id: str) -> list[HistoryEntry]:
        rows = self.db.execute(
            "SELECT nct_id, last_update, record, raw, raw_format, source, replaced_at, raw_codec"
            " FROM study_history WHERE nct_id = ? ORDER BY last_update DESC",
            (nct_id,),
        )
        return [HistoryEntry(*r) for r in rows]

    def iter_studies(self, batch_size: int = 1000) -> Iterator[StoredStudy]:
        last = ""
        while True:
            rows = self.db.execute(
                f"SELECT {self._STUDY_COLS} FROM studies WHERE nct_id > ? ORDER BY nct_id LIMIT ?",
                (last, batch_size),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield StoredStudy(*row)
            last = rows[-1][0]

    def iter_history(self, batch_size: int = 1000) -> Iterator[HistoryEntry]:
        last: tuple = ("", "", "")
        while True:
            rows = self.db.execute(
                "SELECT nct_id, last_update, raw_sha, record, raw, raw_format, source, replaced_at, raw_codec"
                " FROM study_history WHERE (nct_id, last_update, raw_sha) > (?, ?, ?)"
                " ORDER BY nct_id, last_update, raw_sha LIMIT ?",
                (*last, batch_size),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield HistoryEntry(r[0], r[1], r[3], r[4], r[5], r[6], r[7], r[8])
            last = rows[-1][:3]

    def changes_since(self, seq: int, limit: int = 1000) -> list[StoredStudy]:
        rows = self.db.execute(
            f"SELECT {self._STUDY_COLS} FROM studies WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [StoredStudy(*r) for r in rows]

    def max_seq(self) -> int:
        return int(self._meta(self.db, "seq") or 0)

    def recent_changes(self, before_seq: int | None = None, limit: int = 500) -> list[tuple[str, int]]:
        before = before_seq if before_seq is not None else 2**62
        return self.db.execute(
            "SELECT nct_id, seq FROM studies WHERE seq < ? ORDER BY seq DESC LIMIT ?", (before, limit)
        ).fetchall()

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM studies").fetchone()[0]

    def nct_ids(self) -> Iterator[str]:
        for (nct,) in self.db.execute("SELECT nct_id FROM studies ORDER BY nct_id"):
            yield nct

    def withdrawn(self) -> dict[str, str]:
        """Studies marked gone upstream, with the date they were found gone."""
        return dict(self.db.execute(
            "SELECT nct_id, withdrawn_at FROM studies WHERE withdrawn_at IS NOT NULL ORDER BY nct_id"
        ).fetchall())

    def newest_update(self) -> str | None:
        """The newest last-update date of any current study."""
        return self.db.execute("SELECT max(last_update) FROM studies").fetchone()[0]

    def history_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM study_history").fetchone()[0]

    def iter_rejects(self) -> Iterator[RejectEntry]:
        """Every reject of every run, in the order they were logged."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, run_id, origin, nct_id, message FROM rejects WHERE id > ? ORDER BY id LIMIT 5000",
                (last,),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield RejectEntry(*r[1:])
            last = rows[-1][0]

    def meta_items(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    def stats(self) -> dict[str, dict[str, int]]:
        return stats_from(self.db.execute)

    def runs(self, limit: int = 20, kind: str | None = None) -> list[IngestRun]:
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self.db.execute(
            f"SELECT * FROM ingest_runs {where} ORDER BY id DESC LIMIT ?", (*args, limit)
        )
        return [IngestRun(*r) for r in rows]

    def rejects(self, run_id: int | None = None, limit: int = 1000) -> list[RejectEntry]:
        if run_id is None:
            row = self.db.execute("SELECT max(id) FROM ingest_runs").fetchone()
            run_id = row[0] if row else None
        rows = self.db.execute(
            "SELECT run_id, origin, nct_id, message FROM rejects WHERE run_id = ? ORDER BY id LIMIT ?",
            (run_id, limit),
        )
        return [RejectEntry(*r) for r in rows]

    def get_meta(self, key: str) -> str | None:
        return self._meta(self.db, key)

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

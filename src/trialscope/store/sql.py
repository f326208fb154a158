"""What the SQLite and PostgreSQL stores share: how a batch is versioned, and every
statement both dialects read the same way.

A backend keeps what really differs: its connections and transactions, its schema and
migrations, how it writes rows in bulk (executemany in SQLite, binary COPY in PostgreSQL)
and the few statements whose dialect differs. Shared statements are written with ``?``
placeholders; a backend whose driver wants another style translates them in ``_rows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .base import (
    COUNTED_AS,
    DIED,
    HistoryEntry,
    IngestRun,
    Outcome,
    RejectEntry,
    StoredStudy,
    StudyVersion,
    decide,
    new_counts,
    stats_from,
    this_process,
    with_dead_marked,
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class BatchPlan:
    """What one batch writes, decided before any row is written."""

    outcomes: list[Outcome] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=new_counts)
    # stored current rows that a newer version replaces: moved to history before the
    # new rows are written
    replaced: list[str] = field(default_factory=list)
    # versions filed in history as they are: older ones, same-date conflicts, and a
    # version of this batch that a later one of the same batch replaces
    history: list[StudyVersion] = field(default_factory=list)
    # the new current version of each study, with the seq it takes
    current: dict[str, tuple[StudyVersion, int]] = field(default_factory=dict)
    seq: int = 0


def plan_batch(versions: Iterable[StudyVersion], stored: dict[str, tuple[str, str]], seq: int) -> BatchPlan:
    """The versioning rule (base.decide) over a batch, given the stored (last_update,
    raw_sha) of its studies and the store's seq: every new current version takes the next
    seq, so readers following seq see each change."""
    plan = BatchPlan(seq=seq)
    current = dict(stored)
    for v in versions:
        cur = current.get(v.nct_id)
        outcome = decide(cur[0] if cur else None, cur[1] if cur else None, v)
        plan.outcomes.append(outcome)
        plan.counts[COUNTED_AS[outcome]] += 1
        if outcome is Outcome.UNCHANGED:
            continue
        if outcome in (Outcome.OLDER, Outcome.CONFLICT):
            plan.history.append(v)
            continue
        if outcome is Outcome.UPDATED:
            if v.nct_id in plan.current:
                plan.history.append(plan.current[v.nct_id][0])
            else:
                plan.replaced.append(v.nct_id)
        plan.seq += 1
        plan.current[v.nct_id] = (v, plan.seq)
        current[v.nct_id] = (v.last_update, v.raw_sha)
    return plan


def set_meta(execute: Callable[[str, Sequence], object], key: str, value: str | None) -> None:
    """Set (or, with None, delete) one meta key, in the caller's transaction."""
    if value is None:
        execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


RUN_COUNTS = (
    "UPDATE ingest_runs SET added = added + ?, updated = updated + ?, unchanged = unchanged + ?,"
    " conflicts = conflicts + ?, rejected = rejected + ? WHERE id = ?"
)


def run_counts(plan: BatchPlan, rejected: int, run_id: int) -> tuple:
    """The arguments of RUN_COUNTS for a batch."""
    c = plan.counts
    return (c["added"], c["updated"], c["unchanged"], c["conflicts"], rejected, run_id)


class SQLStore:
    """The reads and run bookkeeping both backends run as the same SQL.

    A subclass provides ``_rows(sql, args)`` (the rows of one statement) and
    ``_execute(sql, args)`` (a statement without rows), each autocommitted, and ``_study_cols`` and ``_history_cols`` (the columns it stores: SQLite keeps raw bytes
    compressed, with their codec; PostgreSQL inflated)."""

    _study_cols: str
    _history_cols: str  # nct_id, last_update, raw_sha, then HistoryEntry's fields from record_json

    def _rows(self, sql: str, args: Sequence = ()) -> list[tuple]:
        raise NotImplementedError

    def _execute(self, sql: str, args: Sequence = ()) -> None:
        raise NotImplementedError

    def _value(self, sql: str, args: Sequence = ()):
        rows = self._rows(sql, args)
        return rows[0][0] if rows else None

    # -- studies ----------------------------------------------------------------------------

    def get(self, nct_id: str) -> StoredStudy | None:
        rows = self._rows(f"SELECT {self._study_cols} FROM studies WHERE nct_id = ?", (nct_id,))
        return StoredStudy(*rows[0]) if rows else None

    def iter_studies(self, batch_size: int = 1000) -> Iterator[StoredStudy]:
        last = ""
        while rows := self._rows(
            f"SELECT {self._study_cols} FROM studies WHERE nct_id > ? ORDER BY nct_id LIMIT ?",
            (last, batch_size),
        ):
            for row in rows:
                yield StoredStudy(*row)
            last = rows[-1][0]

    def changes_since(self, seq: int, limit: int = 1000) -> list[StoredStudy]:
        rows = self._rows(
            f"SELECT {self._study_cols} FROM studies WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [StoredStudy(*r) for r in rows]

    def max_seq(self) -> int:
        return int(self.get_meta("seq") or 0)

    def recent_changes(self, before_seq: int | None = None, limit: int = 500) -> list[tuple[str, int]]:
        before = before_seq if before_seq is not None else 2**62
        return [
            (nct, seq)
            for nct, seq in self._rows(
                "SELECT nct_id, seq FROM studies WHERE seq < ? ORDER BY seq DESC LIMIT ?", (before, limit)
            )
        ]

    def count(self) -> int:
        return self._value("SELECT count(*) FROM studies")

    def nct_ids(self) -> Iterator[str]:
        last = ""
        while rows := self._rows(
            "SELECT nct_id FROM studies WHERE nct_id > ? ORDER BY nct_id LIMIT 10000", (last,)
        ):
            for (nct,) in rows:
                yield nct
            last = rows[-1][0]

    def withdrawn(self) -> dict[str, str]:
        """Studies marked gone upstream, with the date they were found gone."""
        return dict(self._rows(
            "SELECT nct_id, withdrawn_at FROM studies WHERE withdrawn_at IS NOT NULL ORDER BY nct_id"
        ))

    def newest_update(self) -> str | None:
        """The newest last-update date of any current study."""
        return self._value("SELECT max(last_update) FROM studies")

    def stats(self) -> dict[str, dict[str, int]]:
        return stats_from(self._rows)

    def mark_withdrawn(self, nct_ids: Iterable[str], when: str) -> int:
        """Mark studies gone upstream (never deletes them); returns how many changed."""
        return self._set_withdrawn(nct_ids, when)

    def unmark_withdrawn(self, nct_ids: Iterable[str]) -> int:
        """Studies back upstream: clear their withdrawn mark; returns how many changed."""
        return self._set_withdrawn(nct_ids, None)

    def _set_withdrawn(self, nct_ids: Iterable[str], when: str | None) -> int:
        raise NotImplementedError

    # -- history ----------------------------------------------------------------------------

    def history(self, nct_id: str) -> list[HistoryEntry]:
        rows = self._rows(
            f"SELECT {self._history_cols} FROM study_history WHERE nct_id = ? ORDER BY last_update DESC",
            (nct_id,),
        )
        return [HistoryEntry(r[0], r[1], *r[3:]) for r in rows]

    def iter_history(self, batch_size: int = 1000) -> Iterator[HistoryEntry]:
        last: tuple = ("", "", "")
        while rows := self._rows(
            f"SELECT {self._history_cols} FROM study_history WHERE (nct_id, last_update, raw_sha) > (?, ?, ?)"
            " ORDER BY nct_id, last_update, raw_sha LIMIT ?",
            (*last, batch_size),
        ):
            for r in rows:
                yield HistoryEntry(r[0], r[1], *r[3:])
            last = rows[-1][:3]

    def history_count(self) -> int:
        return self._value("SELECT count(*) FROM study_history")

    def history_ids(self, since: str | None = None) -> set[str]:
        if since is None:
            return {r[0] for r in self._rows("SELECT DISTINCT nct_id FROM study_history")}
        return {r[0] for r in self._rows(
            "SELECT DISTINCT nct_id FROM study_history WHERE replaced_at >= ?", (since,))}

    # -- runs and rejects ---------------------------------------------------------------------

    def begin_run(self, kind: str, source: str) -> int:
        """Record a new run, owned by this process, after marking the runs whose process
        ended without finishing them as died."""
        running = [IngestRun(*r) for r in self._rows("SELECT * FROM ingest_runs WHERE status = 'running'")]
        for run in with_dead_marked(running):
            if run.status == DIED:
                self._execute(
                    "UPDATE ingest_runs SET status = ?, message = ? WHERE id = ? AND status = 'running'",
                    (DIED, run.message, run.id),
                )
        return self._value(
            "INSERT INTO ingest_runs (kind, source, started_at, status, pid, host, pid_start)"
            " VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id",
            (kind, source, now(), *this_process()),
        )

    def finish_run(
        self, run_id: int, status: str, message: str | None = None, duration_s: float | None = None
    ) -> IngestRun:
        stamp = now()
        duration = duration_s
        if duration is None:
            started = self._value("SELECT started_at FROM ingest_runs WHERE id = ?", (run_id,))
            duration = (datetime.fromisoformat(stamp) - datetime.fromisoformat(started)).total_seconds()
        rows = self._rows(
            "UPDATE ingest_runs SET finished_at = ?, status = ?, message = ?, duration_s = ?"
            " WHERE id = ? RETURNING *",
            (stamp, status, message, duration, run_id),
        )
        return IngestRun(*rows[0])

    def runs(self, limit: int = 20, kind: str | None = None) -> list[IngestRun]:
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._rows(f"SELECT * FROM ingest_runs {where} ORDER BY id DESC LIMIT ?", (*args, limit))
        return with_dead_marked([IngestRun(*r) for r in rows])

    def rejects(self, run_id: int | None = None, limit: int = 1000) -> list[RejectEntry]:
        if run_id is None:
            run_id = self._value("SELECT max(id) FROM ingest_runs")
        rows = self._rows(
            "SELECT run_id, origin, nct_id, message FROM rejects WHERE run_id = ? ORDER BY id LIMIT ?",
            (run_id, limit),
        )
        return [RejectEntry(*r) for r in rows]

    def iter_rejects(self) -> Iterator[RejectEntry]:
        """Every reject of every run, in the order they were logged."""
        last = 0
        while rows := self._rows(
            "SELECT id, run_id, origin, nct_id, message FROM rejects WHERE id > ? ORDER BY id LIMIT 5000",
            (last,),
        ):
            for r in rows:
                yield RejectEntry(*r[1:])
            last = rows[-1][0]

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        return self._value("SELECT value FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str | None) -> None:
        set_meta(self._execute, key, value)

    def meta_items(self) -> dict[str, str]:
        return dict(self._rows("SELECT key, value FROM meta ORDER BY key"))

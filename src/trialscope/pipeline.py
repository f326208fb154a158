"""From archive to searchable in one pass: parse workers -> store writer -> derived stages.

`trialscope ingest` and `sync` run one pipeline instead of storing everything and then
re-reading it stage by stage:

- the parse workers (forked processes, `ingest.convert_all`) read, convert and validate, and
  also run each stage's `prepare` on the records they hold: per-study work that needs only
  the record (the index's documents, as JSON; features, embeddings; the criteria's split)
  runs there, on every core;
- the main process writes each batch to the store; once the batch is committed, the versions
  that became current are handed to every stage's `add`, which only writes what its
  `prepare` made (a record is decoded, once for all stages, only where a stage needs it:
  a sync's records, which no worker prepared, or a study whose outcome-switch flag is set);
- each stage commits once at the end (`finish`) and records the store seq it reflects.

The store stays the store of record. A stage commits only what the store had committed, so a
kill at any point leaves each derived index at an older seq, and the next run (or any
`catch_up`) brings it up from `store.changes_since`. A stage that cannot begin (another
process holds its lock, its model is unavailable) is left to its `catch_up` after the run,
as are the modules in `AFTER` (derived data that has no stage yet).
"""

from __future__ import annotations

import importlib
import inspect
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .progress import Progress
from .store.base import Outcome, StudyVersion

# "module:function" factories of the stages fed while the store is written (a module without
# the function yet is caught up after the run by its `catch_up`)
STAGES: list[str] = ["trialscope.index:stage", "trialscope.index.vectors:stage",
                     "trialscope.index.criteria:stage"]
# "module:function" catch-ups run after the store, each by the last part of its module's name
AFTER: list[str] = ["trialscope.history.flags:catch_up"]

CURRENT = (Outcome.ADDED, Outcome.UPDATED)  # the outcomes that make a version current


class Committed:
    """A version the store committed as current, as a stage receives it: `prepared` is what
    the stage's `prepare` gave for it in a parse worker (None if none), `outcome_switched`
    the history flag (trialscope.history.flags). `record` is decoded on first use, once for
    all the stages: a stage whose worker prepared the record never needs it."""

    __slots__ = ("nct_id", "prepared", "outcome_switched", "_record")

    def __init__(self, nct_id: str, record: dict | _Decoded, prepared: Any = None,
                 outcome_switched: bool = False):
        self.nct_id, self.prepared, self.outcome_switched = nct_id, prepared, outcome_switched
        self._record = record

    @property
    def record(self) -> dict:
        got = self._record
        return got.value if isinstance(got, _Decoded) else got

    def to(self, stage: str) -> Committed:
        """This version as `stage` receives it: its own prepared value, the same record."""
        return Committed(self.nct_id, self._record, (self.prepared or {}).get(stage), self.outcome_switched)


class _Decoded:
    """A stored record's JSON, decoded on first use."""

    __slots__ = ("raw", "_value")

    def __init__(self, raw: bytes):
        self.raw, self._value = raw, None

    @property
    def value(self) -> dict:
        if self._value is None:
            import orjson

            self._value = orjson.loads(self.raw)
        return self._value


class Stage(Protocol):
    name: str

    def prepare(self, records: list[dict]) -> list | None:
        """In a parse worker: one picklable value per record (None: nothing to prepare)."""

    def begin(self, store) -> bool:
        """Take the stage's lock and catch up to the store; False leaves it to catch_up."""

    def add(self, items: list[Committed]) -> None: ...

    def finish(self, seq: int) -> None:
        """Commit durably, recording that the stage reflects the store up to `seq`."""

    def close(self) -> None:
        """Release what `begin` took; discards what `finish` did not commit."""


@dataclass
class Pipeline:
    """The derived stages of one ingest or sync run, fed after every store batch."""

    store: Any
    stages: list = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # main-process time per stage
    done: dict[str, int] = field(default_factory=dict)  # studies each stage was given
    start_seq: int = 0
    written: int = 0  # current versions this run committed
    later: list[str] = field(default_factory=list)  # catch-ups to run after the run
    _history: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, store, names: list[str] | None = None) -> Pipeline:
        """The stages of `names` (default `STAGES`) that could begin on this store."""
        pipe = cls(store, start_seq=store.max_seq())  # before the stages catch up to it
        for name in STAGES if names is None else names:
            module, func = name.split(":")
            factory = getattr(importlib.import_module(module), func, None)
            if factory is None:
                pipe.later.append(f"{module}:catch_up")
                continue
            stage = factory()
            start = time.perf_counter()
            began = stage.begin(store)
            pipe.seconds[stage.name] = time.perf_counter() - start
            if began:
                pipe.stages.append(stage)
                pipe.done[stage.name] = 0
            else:
                stage.close()
        pipe._history = store.history_ids() if pipe.stages else set()
        return pipe

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def prepare(self, records: list[dict]) -> list[dict | None]:
        """Each stage's prepared value of each record (run in the parse workers)."""
        out: list[dict | None] = [None] * len(records)
        for stage in self.stages:
            values = stage.prepare(records)
            if values is None:
                continue
            for i, v in enumerate(values):
                if out[i] is None:
                    out[i] = {}
                out[i][stage.name] = v
        return out

    def committed(self, versions: list[StudyVersion], outcomes: list[Outcome],
                  prepared: list[dict | None] | None = None) -> None:
        """Feed the stages the versions one store batch made current (after its commit)."""
        if not self.stages:
            return
        from .history.flags import flagged

        start = time.perf_counter()
        chosen: list[tuple[StudyVersion, dict | None]] = []
        for i, (v, outcome) in enumerate(zip(versions, outcomes, strict=True)):
            if outcome in CURRENT:
                chosen.append((v, prepared[i] if prepared else None))
            if outcome is not Outcome.ADDED:  # an earlier version is now in history
                self._history.add(v.nct_id)
        self.written += len(chosen)
        items = []
        for v, prep in chosen:
            switched = v.nct_id in self._history and flagged(self.store, self.store.get(v.nct_id), self._history)
            items.append(Committed(v.nct_id, _Decoded(v.record), prep, switched))
        self._count("flags", start)
        if not items:
            return
        for stage in self.stages:
            start = time.perf_counter()
            stage.add([c.to(stage.name) for c in items])
            self.done[stage.name] += len(items)
            self._count(stage.name, start)

    def finish(self) -> None:
        """Commit every stage. The store seq moved by exactly this run's writes unless another
        writer (another process, a sync's withdrawals) moved it too; then each stage records
        the seq the run began at, and its catch-up (in `later`) applies what it may lack."""
        seq = self.store.max_seq()
        behind = seq != self.start_seq + self.written
        try:
            for stage in self.stages:
                start = time.perf_counter()
                stage.finish(self.start_seq if behind else seq)
                self._count(stage.name, start)
                if behind:
                    self.later.append(type(stage).__module__ + ":catch_up")
        finally:
            self.close()

    def close(self) -> None:
        for stage in self.stages:
            stage.close()
        self.stages = []

    def _count(self, name: str, start: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def after(store, names: list[str] | None = None, progress: bool | None = None,
          total: int | None = None) -> dict[str, float]:
    """Run the catch-ups of `names` (default `AFTER`): -> seconds each took. A catch-up
    that takes a `progress` callback (of the studies done) shows a bar of its own."""
    took: dict[str, float] = {}
    for name in AFTER if names is None else names:
        module, func = name.split(":")
        short = module.rsplit(".", 1)[-1]
        fn = getattr(importlib.import_module(module), func)
        bar = Progress(short, total or None, progress)
        start = time.perf_counter()
        if "progress" in inspect.signature(fn).parameters and bar.enabled:
            fn(store, progress=lambda n, bar=bar: bar.advance(n - bar.done))
        else:
            fn(store)
        took[short] = time.perf_counter() - start
        if bar.done:
            bar.close()
    return took


def until_searchable(store, write: Callable[[Pipeline], Any], progress: bool | None = None) -> tuple[Any, dict]:
    """Run `write(pipeline)` (an ingest or a sync feeding the pipeline's stages as it
    commits), commit the stages, then run the catch-ups of `AFTER`. -> (what `write`
    returned, `whole_command` figures from the start of this call)."""
    started, cpu0 = time.perf_counter(), cpu_seconds()
    pipe = Pipeline.open(store)
    try:
        try:
            result = write(pipe)
        except Exception:
            pipe.finish()  # what the store committed and the stages were given is kept
            raise
        say = status_line(progress)
        if pipe.stages:
            say(f"committing {', '.join(pipe.names)} ...")
        pipe.finish()
        say("")
    finally:
        pipe.close()
    seconds = {k: pipe.seconds[k] for k in ("read", "store", "flags", *pipe.done) if pipe.seconds.get(k)}
    for name, took in after(store, pipe.later + AFTER, progress=progress, total=pipe.written).items():
        seconds[name] = seconds.get(name, 0.0) + took
    cpu1 = cpu_seconds()
    whole = whole_command(result.read, time.perf_counter() - started, seconds,
                          (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]))
    return result, whole


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process and of its reaped children (the parse workers, a catch-up's
    pool): -> (this process, children)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def whole_command(records: int, seconds: float, stages: dict[str, float],
                  cpu: tuple[float, float] | None = None) -> dict:
    """What a user waits for: the whole command's wall time, each stage's share of it (what
    no stage accounts for, opening the store and such, is "other"), end-to-end records/s,
    and the CPU seconds it used: in all, and of that in the worker processes."""
    stages = {**stages, "other": max(seconds - sum(stages.values()), 0.0)}
    out = {
        "seconds": round(seconds, 3),
        "records_per_s": round(records / seconds, 1) if seconds and records else None,
        "stages": {name: {"seconds": round(s, 3), "share": round(s / seconds, 3) if seconds else 0.0}
                   for name, s in stages.items()},
    }
    if cpu is not None:
        out["cpu_s"] = round(sum(cpu), 3)
        out["cpu_workers_s"] = round(cpu[1], 3)
    return out


def summary_line(whole: dict) -> str:
    """`searchable in 9.1s: read 2.0s (22%), store 1.5s (16%), ...; 918 records/s end to end`."""
    shares = ", ".join(f"{name} {st['seconds']:.1f}s ({st['share']:.0%})"
                       for name, st in whole["stages"].items() if st["seconds"] >= 0.05 or name == "store")
    rate = whole["records_per_s"]
    return (f"searchable in {whole['seconds']:.1f}s: {shares}"
            + (f"; {rate:,.0f} records/s end to end" if rate else "")
            + (f"; {whole['cpu_s']:.1f} CPU-s ({whole['cpu_workers_s']:.1f} in workers)" if "cpu_s" in whole else ""))


def status_line(enabled: bool | None) -> Callable[[str], None]:
    """A writer of one-line statuses on stderr (only on a terminal unless `enabled`)."""
    on = sys.stderr.isatty() if enabled is None else enabled

    def say(text: str) -> None:
        if on:
            sys.stderr.write(f"\r{text}\x1b[K" if os.environ.get("TERM") != "dumb" else f"\r{text}   ")
            sys.stderr.flush()

    return say

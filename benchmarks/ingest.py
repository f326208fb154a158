"""Ingest throughput: until searchable (the whole `trialscope ingest` command) vs store only.

Reads the shared archives (../shared/data/ctgov by default; `--extra` adds ctgov-extra).
- "whole command": `trialscope ingest --json` run as its own process into a fresh SQLite
  store, timed from outside: wall time and records/s until searchable (the store, the
  pipeline's stages fed as it commits: full-text index, vectors, criteria; then the history
  flags), and the CPU seconds of it and its parse workers (getrusage of children).
  `--baseline DIR` runs the same command from another source tree (e.g. `git worktree add
  /tmp/base main`), interleaved with this one, so both are timed under the same load.
- "store only" (end to end into the store): validation, serialization and the versioned
  upserts, without the derived stages; "parse only" is decompress + parse + convert: the
  limit the store part can reach.
- "stages": the CPU seconds per study of each piece of the pipeline, each run alone over
  the same records in this process (process time, threads included): parse (the workers'
  read + convert + validate), each stage's `prepare` (the workers' share of its work), the
  store writes, and each stage's `add` + `finish`
  (the main process's share, tantivy's indexing thread included). The ceiling is cores /
  sum: the records/s that a perfectly overlapped pipeline could reach on this machine.
- "fixed_cost": the whole command on a one-study input (start-up and model loads), and
  "over_pieces": the whole command's CPU per study beyond the pieces, in the parse workers
  and in the main process (less the fixed cost).
The machine may be shared: the load average is reported, and CPU figures beside wall times.
Prints JSON; medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trialscope import sources
from trialscope.ingest import CHUNK, _chunked, ingest
from trialscope.sources.base import SourceRecord
from trialscope.store import open_store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _parse(chunk: list) -> int:
    return sum(
        isinstance(item, SourceRecord)
        for doc in chunk if isinstance(doc, sources.Document)
        for item in sources.parse(doc)
    )


def parse_only(paths: list[str], workers: int) -> tuple[int, float]:
    """Decompress + parse + convert, with the same worker pool ingest uses: the limit."""
    start = time.perf_counter()
    chunks = _chunked((d for p in paths for d in sources.documents(p)), CHUNK)
    if workers <= 1:
        n = sum(_parse(c) for c in chunks)
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            n = sum(pool.imap(_parse, chunks))
    return n, time.perf_counter() - start


def end_to_end(paths: list[str], workers: int) -> tuple[dict, float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = open_store(str(path))
        summary = ingest(store, paths, progress=False, workers=workers)
        sizes = store_sizes(store, path)
        store.close()
    return summary.as_dict(), summary.seconds, sizes


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def whole_command(paths: list[str], source: Path | None = None) -> dict:
    """`trialscope ingest --json` into a fresh store, as a user runs it: wall and CPU.
    `source`: a source tree whose src/ is run instead of this one (the baseline)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, start = _children_cpu(), time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "trialscope.cli", "ingest", "--json",
                              "--db", str(Path(tmp) / "bench.db"), *paths],
                             capture_output=True, text=True, check=True, env=env)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    summary = json.loads(out.stdout)
    read = summary["added"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
    return {"records": read, "wall_s": round(wall, 3), "records_per_s": round(read / wall, 1),
            "cpu_s": round(cpu, 3), "cpu_ms_per_study": round(1000 * cpu / read, 3),
            "load_1min": round(os.getloadavg()[0], 1), "as_printed": summary["command"]}


def fixed_cost(paths: list[str], source: Path | None = None) -> dict:
    """The whole command on a one-study input (the first entry of the first archive): what
    a run costs whatever its size (start-up, imports, the vocabularies and the model loaded
    before the workers fork, the commits), in CPU seconds."""
    import zipfile

    with zipfile.ZipFile(paths[0]) as z, tempfile.TemporaryDirectory() as tmp:
        entry = next(i for i in z.infolist() if not i.is_dir())
        one = Path(tmp) / Path(entry.filename).name
        one.write_bytes(z.read(entry))
        got = whole_command([str(one)], source)
    return {"wall_s": got["wall_s"], "cpu_s": got["cpu_s"]}


def over_pieces(whole: dict, stages: dict, fixed: dict) -> dict:
    """Where the whole command's CPU per study goes beyond the pieces timed alone: the
    parse workers' CPU against parse + the stages' `prepare`, the main process's (less the
    one-study run's fixed cost, spread over the records) against the store and the stages'
    `add`."""
    n = whole["records"]
    pieces = stages["cpu_ms_per_study"]
    in_workers = sum(v for k, v in pieces.items() if k == "parse" or "workers" in k)
    workers = 1000 * whole["as_printed"]["cpu_workers_s"] / n
    main = whole["cpu_ms_per_study"] - workers
    fixed_ms = 1000 * fixed["cpu_s"] / n
    return {
        "workers_ms": round(workers, 3), "workers_pieces_ms": round(in_workers, 3),
        "workers_over_ms": round(workers - in_workers, 3),
        "main_ms": round(main, 3), "main_pieces_ms": round(stages["total_cpu_ms_per_study"] - in_workers, 3),
        "fixed_ms": round(fixed_ms, 3),
        "main_over_ms": round(main - fixed_ms - (stages["total_cpu_ms_per_study"] - in_workers), 3),
    }


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda w: w["records_per_s"])[len(runs) // 2]


def stage_costs(paths: list[str]) -> dict:
    """The CPU per study of each piece of the pipeline, each alone over the same records."""
    import orjson

    from trialscope import pipeline as pl
    from trialscope.ingest import _convert, _documents
    from trialscope.sources.limits import Limits
    from trialscope.store.base import StudyVersion

    costs: dict[str, float] = {}

    def cpu(name: str, fn):
        """Process time (threads included) plus that of the workers it reaped (a catch-up's pool)."""
        start, kids = time.process_time(), _children_cpu()
        out = fn()
        costs[name] = costs.get(name, 0.0) + time.process_time() - start + _children_cpu() - kids
        return out

    docs = list(_documents(paths, [], Limits.from_env()))
    got = cpu("parse", lambda: [g for i in range(0, len(docs), CHUNK) for g, _ in _convert(docs[i:i + CHUNK])])
    versions = [g for g in got if isinstance(g, StudyVersion)]
    records = [orjson.loads(v.record) for v in versions]
    n = len(got)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        run = store.begin_run("ingest", "bench")
        outcomes = cpu("store", lambda: [o for i in range(0, len(versions), 500)
                                         for o in store.upsert_batch(run, versions[i:i + 500], [])])
        current = [i for i, o in enumerate(outcomes) if o in pl.CURRENT]
        for name in pl.STAGES:
            module, func = name.split(":")
            mod = __import__(module, fromlist=[func])
            short = module.rsplit(".", 1)[-1]
            factory = getattr(mod, func, None)
            if factory is None:  # no stage: its catch-up after the store, as the command runs it
                cpu(f"{short}.catch_up", lambda mod=mod: mod.catch_up(store))
                continue
            stage = factory()
            stage.begin(store)
            prepared = cpu(f"{short}.prepare (workers)",
                           lambda stage=stage: [v for i in range(0, len(records), CHUNK)
                                                for v in (stage.prepare(records[i:i + CHUNK]) or [None] * len(records[i:i + CHUNK]))])
            items = [pl.Committed(versions[i].nct_id, records[i], prepared[i]) for i in current]
            cpu(f"{short}.add", lambda stage=stage, items=items: [stage.add(items[i:i + 500]) for i in range(0, len(items), 500)])
            cpu(f"{short}.add", lambda stage=stage: stage.finish(store.max_seq()))
            stage.close()
        for name in pl.AFTER:
            module, func = name.split(":")
            mod = __import__(module, fromlist=[func])
            cpu(module.rsplit(".", 1)[-1], lambda mod=mod, func=func: getattr(mod, func)(store))
        store.close()
    per_study = {k: round(1000 * v / n, 3) for k, v in costs.items()}
    total_ms = sum(per_study.values())
    cores = os.cpu_count() or 1
    return {
        "records": n,
        "cpu_ms_per_study": per_study,
        "of_which_in_workers_ms": round(sum(v for k, v in per_study.items() if k == "parse" or "workers" in k), 3),
        "total_cpu_ms_per_study": round(total_ms, 3),
        "cores": cores,
        "ceiling_records_per_s": round(1000 * cores / total_ms, 1),
    }


def store_sizes(store, path: Path) -> dict:
    """The store file, and its raw bytes as stored (zip entries keep their deflate stream)
    vs as the source held them."""
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = store.db.execute("SELECT sum(length(raw)), sum(length(record)) FROM studies").fetchone()
    source = sum(len(s.raw) for s in store.iter_studies())
    return {"file_mb": round(path.stat().st_size / 1e6, 1), "raw_stored_mb": round(stored[0] / 1e6, 1),
            "raw_source_mb": round(source / 1e6, 1), "record_mb": round(stored[1] / 1e6, 1)}


def ctgov_inputs(extra: bool) -> tuple[list[str], list[str]]:
    """The shared archives the ingest benchmarks read (ctgov/, and ctgov-extra/ with `extra`),
    and those of them absent."""
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip"]
    if extra:
        paths.append(SHARED / "ctgov-extra" / "AllPublicXML-extra.zip")
    return [str(p) for p in paths], [str(p) for p in paths if not p.exists()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="store_true", help="also ingest ctgov-extra (13k XML studies)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-stages", action="store_true", help="skip the stage-by-stage CPU costs")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a source tree (its src/) to time the same whole command with, interleaved")
    args = parser.parse_args()
    names, missing = ctgov_inputs(args.extra)
    if missing:
        print(json.dumps({"benchmark": "ingest", "skipped": f"shared data absent: {missing}"}))
        return 0
    load_before = os.getloadavg()
    parse_rates, e2e_rates, wholes, bases, summary = [], [], [], [], {}
    for _ in range(args.repeat):
        n, seconds = parse_only(names, args.workers)
        parse_rates.append(n / seconds)
        summary, seconds, sizes = end_to_end(names, args.workers)
        read = summary["added"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
        e2e_rates.append(read / seconds)
        wholes.append(whole_command(names))
        if args.baseline is not None:
            bases.append(whole_command(names, args.baseline))
    parse, e2e = statistics.median(parse_rates), statistics.median(e2e_rates)
    whole = _median_run(wholes)
    base = _median_run(bases) if bases else None
    stages = None if args.no_stages else stage_costs(names)
    fixed = fixed_cost(names)
    fixed_base = fixed_cost(names, args.baseline) if args.baseline is not None else None
    print(json.dumps({
        "benchmark": "ingest",
        "inputs": [str(Path(p).relative_to(SHARED)) for p in names],
        "records": n,
        "store": "sqlite (fresh file)",
        "repeat": args.repeat,
        "workers": args.workers,
        "load_average": {"before": [round(x, 1) for x in load_before],
                         "after": [round(x, 1) for x in os.getloadavg()]},
        "until_searchable_records_per_s": whole["records_per_s"],
        "until_searchable_runs_records_per_s": [w["records_per_s"] for w in wholes],
        "whole_command": whole,
        "cpu_ms_per_study_median": statistics.median(w["cpu_ms_per_study"] for w in wholes),
        "baseline": None if base is None else {
            "source": str(args.baseline),
            "until_searchable_records_per_s": base["records_per_s"],
            "runs_records_per_s": [b["records_per_s"] for b in bases],
            "cpu_ms_per_study_median": statistics.median(b["cpu_ms_per_study"] for b in bases),
            "whole_command": base,
            "speedup": round(whole["records_per_s"] / base["records_per_s"], 2),
            "fixed_cost": fixed_base,
        },
        "fixed_cost": fixed,
        "over_pieces": over_pieces(whole, stages, fixed) if stages else None,
        "share_of_ceiling": round(whole["records_per_s"] / stages["ceiling_records_per_s"], 3) if stages else None,
        "stage_costs": stages,
        "parse_only_records_per_s": round(parse),
        "end_to_end_records_per_s": round(e2e),
        "end_to_end_share_of_parse_only": round(e2e / parse, 3),
        "store_sizes": sizes,
        "last_run": summary,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

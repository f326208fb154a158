"""Ingest throughput: until searchable (the whole `trialscope ingest` command) vs store only.

Reads the shared archives (../shared/data/ctgov by default; `--extra` adds ctgov-extra).
- "whole command": `trialscope ingest --json` run as its own process into a fresh SQLite
  store, timed from outside: wall time and records/s until searchable (the store plus every
  AFTER_INGEST catch-up: full-text index, vectors, parsed criteria, history flags), and the
  CPU seconds of it and its parse workers (getrusage of children).
- "store only" (end to end into the store): validation, serialization and the versioned
  upserts, without the derived stages; "parse only" is decompress + parse + convert: the
  limit the store part can reach.
- "stages": each stage run in this process one after another on a fresh store, with its CPU
  seconds per study (process time, threads included, plus the worker processes it ran:
  getrusage of children; for the store stage those are the parse workers). The full text and
  vectors stages are split further by timing their per-study pieces alone (document build,
  embedding, features) over the same records. The ceiling is cores / sum of per-study CPU:
  the records/s that a perfectly overlapped pipeline could reach on this machine.
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
from datetime import date
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


def whole_command(paths: list[str]) -> dict:
    """`trialscope ingest --json` into a fresh store, as a user runs it: wall and CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, start = _children_cpu(), time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "trialscope.cli", "ingest", "--json",
                              "--db", str(Path(tmp) / "bench.db"), *paths],
                             capture_output=True, text=True, check=True)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    summary = json.loads(out.stdout)
    read = summary["added"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
    return {"records": read, "wall_s": round(wall, 3), "records_per_s": round(read / wall, 1),
            "cpu_s": round(cpu, 3), "cpu_ms_per_study": round(1000 * cpu / read, 3),
            "as_printed": summary["command"]}


def stage_costs(paths: list[str], workers: int) -> dict:
    """Each stage of `trialscope ingest`, one after another on a fresh store: wall and CPU."""
    from trialscope import cli
    from trialscope.history.flags import with_flags
    from trialscope.index.embeddings import get_encoder, study_text
    from trialscope.index.fulltext import study_document
    from trialscope.similar import study_features

    stages: dict[str, dict] = {}

    def timed(name: str, fn) -> object:
        """Wall and CPU of one stage; CPU includes the worker processes it reaped."""
        cpu0, child0, start = time.process_time(), _children_cpu(), time.perf_counter()
        result = fn()
        stages[name] = {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu0,
                        "workers_cpu_s": _children_cpu() - child0}
        return result

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        summary = timed("store", lambda: ingest(store, paths, progress=False, workers=workers))
        n = summary.read
        for hook in cli.AFTER_INGEST:
            module, func = hook.split(":")
            mod = __import__(module, fromlist=[func])
            timed(module.rsplit(".", 1)[-1], lambda mod=mod, func=func: getattr(mod, func)(store))
        # the pieces of the derived stages, alone over the same records
        studies = list(store.iter_studies())
        flagged = list(with_flags(store, studies))
        today = date.today()
        pieces: dict[str, float] = {}
        for name, fn in (
            ("fulltext.study_document", lambda: [study_document(s.record, withdrawn=s.withdrawn_at is not None,
                                                                asof=today, outcome_switched=f) for s, f in flagged]),
            ("vectors.study_text", lambda: [study_text(s.record) for s in studies]),
            ("vectors.study_features", lambda: [study_features(s.record) for s in studies]),
        ):
            cpu0 = time.process_time()
            fn()
            pieces[name] = time.process_time() - cpu0
        enc = get_encoder()
        texts = [study_text(s.record) for s in studies]
        cpu0 = time.process_time()
        enc.encode(texts)
        pieces["vectors.encode"] = time.process_time() - cpu0
        store.close()
    per_study = {}
    for name, st in stages.items():
        cpu = st["cpu_s"] + st["workers_cpu_s"]
        per_study[name] = {"wall_s": round(st["wall_s"], 3), "cpu_s": round(cpu, 3),
                           "cpu_ms_per_study": round(1000 * cpu / n, 3),
                           "of_which_workers_ms": round(1000 * st["workers_cpu_s"] / n, 3)}
    total_ms = sum(v["cpu_ms_per_study"] for v in per_study.values())
    cores = os.cpu_count() or 1
    return {
        "records": n,
        "stages": per_study,
        "pieces_cpu_ms_per_study": {k: round(1000 * v / n, 3) for k, v in pieces.items()},
        "cpu_ms_per_study": round(total_ms, 3),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="store_true", help="also ingest ctgov-extra (13k XML studies)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-stages", action="store_true", help="skip the stage-by-stage CPU costs")
    args = parser.parse_args()
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip"]
    if args.extra:
        paths.append(SHARED / "ctgov-extra" / "AllPublicXML-extra.zip")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(json.dumps({"benchmark": "ingest", "skipped": f"shared data absent: {missing}"}))
        return 0
    names = [str(p) for p in paths]
    load_before = os.getloadavg()
    parse_rates, e2e_rates, wholes, summary = [], [], [], {}
    for _ in range(args.repeat):
        n, seconds = parse_only(names, args.workers)
        parse_rates.append(n / seconds)
        summary, seconds, sizes = end_to_end(names, args.workers)
        read = summary["added"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
        e2e_rates.append(read / seconds)
        wholes.append(whole_command(names))
    parse, e2e = statistics.median(parse_rates), statistics.median(e2e_rates)
    whole = sorted(wholes, key=lambda w: w["records_per_s"])[len(wholes) // 2]
    stages = None if args.no_stages else stage_costs(names, args.workers)
    print(json.dumps({
        "benchmark": "ingest",
        "inputs": [str(p.relative_to(SHARED)) for p in paths],
        "records": n,
        "store": "sqlite (fresh file)",
        "repeat": args.repeat,
        "workers": args.workers,
        "load_average": {"before": [round(x, 1) for x in load_before],
                         "after": [round(x, 1) for x in os.getloadavg()]},
        "until_searchable_records_per_s": whole["records_per_s"],
        "until_searchable_runs_records_per_s": [w["records_per_s"] for w in wholes],
        "whole_command": whole,
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

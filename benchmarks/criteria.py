"""What parsing eligibility criteria costs, beside what ingest costs, in the same run.

Reads the shared archives (../shared/data/ctgov, and ctgov-extra with --extra). Per repeat:

- `ingest`: `trialscope.ingest.ingest` end to end into a fresh SQLite store (decompress,
  parse, convert, validate, store; the search index and vectors are their own stages);
- `criteria_catch_up`: `trialscope.index.criteria.catch_up` on that store, the
  AFTER_INGEST hook as `trialscope ingest` runs it: read every study, parse and type its
  criteria (`criteria_of`), write the derived SQLite file; one process;
- `criteria_parse_only`: `criteria_of(record)` alone over the same records (no store I/O),
  serial, and over the ingest worker count (what it adds when run in the parse workers);
- per-study parse times (median, p95, max) from the serial pass;
- CPU seconds (this process and the ingest's worker processes) beside the wall times: on a
  shared machine the wall times swing with the load, the CPU ratio much less.

The headline ratio is catch-up time over ingest time. Prints JSON; medians over --repeat.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from trialscope.criteria import criteria_of
from trialscope.index import criteria as criteria_index
from trialscope.ingest import ingest
from trialscope.store import open_store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _parse_chunk(records: list[bytes]) -> int:
    return sum(len(criteria_of(orjson.loads(r))) for r in records)


def parse_only(records: list[bytes], workers: int) -> float:
    """Seconds to parse every record's criteria, serially or over a fork pool."""
    start = time.perf_counter()
    if workers <= 1:
        _parse_chunk(records)
    else:
        chunks = [records[i : i + 200] for i in range(0, len(records), 200)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            sum(pool.imap_unordered(_parse_chunk, chunks))
    return time.perf_counter() - start


def per_study(records: list[bytes]) -> list[float]:
    times = []
    for r in records:
        rec = orjson.loads(r)
        t = time.perf_counter()
        criteria_of(rec)
        times.append(time.perf_counter() - t)
    return sorted(times)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the ingest workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one_run(paths: list[str], workers: int, limit: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        cpu = _cpu()
        summary = ingest(store, paths, progress=False, workers=workers)
        ingest_cpu = _cpu() - cpu
        ingest_s = summary.seconds
        studies = store.count()
        cpu = _cpu()
        t = time.perf_counter()
        criteria_index.catch_up(store)
        catch_up_s = time.perf_counter() - t
        catch_up_cpu = _cpu() - cpu
        size = (criteria_index.index_dir(store) / "criteria.sqlite").stat().st_size
        records = [s.record_json for s in store.iter_studies()][:limit]
        store.close()
    serial = parse_only(records, 1)
    pooled = parse_only(records, workers)
    times = per_study(records)
    return {"studies": studies, "ingest_s": ingest_s, "catch_up_s": catch_up_s, "ingest_cpu_s": ingest_cpu,
            "catch_up_cpu_s": catch_up_cpu, "parse_serial_s": serial,
            "parse_pool_s": pooled, "parsed": len(records), "times": times, "derived_mb": size / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="store_true", help="also ctgov-extra (13k XML studies)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=None, help="parse-only passes over the first N studies")
    args = parser.parse_args()
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip"]
    if args.extra:
        paths.append(SHARED / "ctgov-extra" / "AllPublicXML-extra.zip")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(json.dumps({"benchmark": "criteria", "skipped": f"shared data absent: {missing}"}))
        return 0
    runs = [one_run([str(p) for p in paths], args.workers, args.limit) for _ in range(args.repeat)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    n, parsed = runs[0]["studies"], runs[0]["parsed"]
    times = runs[-1]["times"]
    ingest_s, catch_up_s = med("ingest_s"), med("catch_up_s")
    print(json.dumps({
        "benchmark": "criteria",
        "inputs": [str(p.relative_to(SHARED)) for p in paths],
        "studies": n,
        "repeat": args.repeat,
        "workers": args.workers,
        "ingest_us_per_study": round(ingest_s / n * 1e6),
        "criteria_catch_up_us_per_study": round(catch_up_s / n * 1e6),
        "catch_up_over_ingest": round(catch_up_s / ingest_s, 3),
        "cpu_us_per_study": {"ingest": round(med("ingest_cpu_s") / n * 1e6),
                             "criteria_catch_up": round(med("catch_up_cpu_s") / n * 1e6)},
        "catch_up_over_ingest_cpu": round(med("catch_up_cpu_s") / med("ingest_cpu_s"), 3),
        "criteria_parse_us_per_study_serial": round(med("parse_serial_s") / parsed * 1e6),
        "criteria_parse_us_per_study_in_workers": round(med("parse_pool_s") / parsed * 1e6),
        "parse_in_workers_over_ingest": round((med("parse_pool_s") / parsed) / (ingest_s / n), 3),
        "per_study_parse_us": {"median": round(statistics.median(times) * 1e6),
                               "p95": round(times[int(len(times) * 0.95)] * 1e6),
                               "max": round(times[-1] * 1e6)},
        "derived_file_mb": round(runs[-1]["derived_mb"], 1),
        "seconds": {"ingest": round(ingest_s, 2), "criteria_catch_up": round(catch_up_s, 2)},
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

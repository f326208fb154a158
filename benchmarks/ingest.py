"""Ingest throughput: end to end into a fresh SQLite store vs parsing alone, same run.

Reads the shared archives (../shared/data/ctgov by default; `--extra` adds ctgov-extra).
"Parse only" is decompress + parse + convert to the v2 record: the limit ingest can reach.
"End to end" adds validation, serialization and the store's versioned upserts (search index
and vectors are built by their own stages and measured by their own benchmarks).
Prints JSON; medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
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
    args = parser.parse_args()
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip"]
    if args.extra:
        paths.append(SHARED / "ctgov-extra" / "AllPublicXML-extra.zip")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(json.dumps({"benchmark": "ingest", "skipped": f"shared data absent: {missing}"}))
        return 0
    names = [str(p) for p in paths]
    parse_rates, e2e_rates, summary = [], [], {}
    for _ in range(args.repeat):
        n, seconds = parse_only(names, args.workers)
        parse_rates.append(n / seconds)
        summary, seconds, sizes = end_to_end(names, args.workers)
        read = summary["added"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
        e2e_rates.append(read / seconds)
    parse, e2e = statistics.median(parse_rates), statistics.median(e2e_rates)
    print(json.dumps({
        "benchmark": "ingest",
        "inputs": [str(p.relative_to(SHARED)) for p in paths],
        "records": n,
        "store": "sqlite (fresh file)",
        "repeat": args.repeat,
        "workers": args.workers,
        "parse_only_records_per_s": round(parse),
        "end_to_end_records_per_s": round(e2e),
        "end_to_end_share_of_parse_only": round(e2e / parse, 3),
        "store_sizes": sizes,
        "last_run": summary,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

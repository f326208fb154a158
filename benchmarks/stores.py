"""Store benchmark: SQLite vs PostgreSQL, side by side in the same run.

For the shared corpus (../shared/data ctgov/ + ctgov-extra/; without it the in-repo
sample/, and the JSON says so), on both stores:
- store writes: pre-parsed versions through ``upsert_batch`` in 500-record batches (the
  store's own cost; PostgreSQL with COPY and with executemany), then the same again (every
  record a versioning no-op: what a repeated ingest or an overlapping sync costs);
- ingest end to end (``trialscope ingest``'s code: parse in worker processes + write);
- sync over loopback: ``trialscope serve`` serves the ingested SQLite store, a full sync
  (every page of 1000, then the NCT id sweep) fills a fresh store of each kind;
- copy: ``trialscope copy``'s code, SQLite -> PostgreSQL and back, and its verification.

PostgreSQL is a private throwaway server (fsync on, synchronous_commit off, which is the
same durability as SQLite's WAL with synchronous=NORMAL: a power cut may lose the last
commits, never corrupt). Prints JSON.

    python benchmarks/stores.py            # shared corpus (about 21k studies)
    python benchmarks/stores.py --sample   # the in-repo sample (564 studies)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from trialscope.ingest import BATCH_SIZE, convert_all, ingest
from trialscope.sources.base import Reject
from trialscope.store import open_store
from trialscope.store.copy import copy_store, verify
from trialscope.store.postgres import PostgresStore, TemporaryServer, find_bindir
from trialscope.sync import Politeness, sync

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def corpus(sample: bool) -> tuple[str, list[str]]:
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip",
             SHARED / "ctgov-extra" / "AllPublicXML-extra.zip"]
    if not sample and all(p.exists() for p in paths):
        return "shared ctgov + ctgov-extra", [str(p) for p in paths]
    label = "in-repo sample" + ("" if sample else " (shared data ABSENT: ../shared/data not found)")
    return label, [str(ROOT / "sample")]


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds else 0.0


def write_batches(store, versions: list) -> dict:
    run = store.begin_run("ingest", "benchmark")
    started = time.perf_counter()
    outcomes: dict[str, int] = {}
    for i in range(0, len(versions), BATCH_SIZE):
        for o in store.upsert_batch(run, versions[i : i + BATCH_SIZE], []):
            outcomes[str(o)] = outcomes.get(str(o), 0) + 1
    seconds = time.perf_counter() - started
    store.finish_run(run, "done")
    return {"records": len(versions), "seconds": round(seconds, 2),
            "records_per_s": rate(len(versions), seconds), "outcomes": outcomes}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`trialscope serve --db DB` on loopback."""

    def __init__(self, db: str):
        self.port = free_port()
        exe = Path(sys.executable).parent / "trialscope"
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--db", db, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 600
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("trialscope serve exited")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("trialscope serve did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", action="store_true", help="use the in-repo sample only")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-ingest", action="store_true", help="skip the end-to-end ingests")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the servers on kill
    if find_bindir() is None:
        print(json.dumps({"error": "PostgreSQL server binaries not found (make sysdeps)"}))
        return 1
    label, paths = corpus(args.sample)
    out: dict = {"corpus": label, "paths": paths, "cores": os.cpu_count(),
                 "postgres": "local throwaway server, fsync on, synchronous_commit off"}
    print(f"corpus: {label}", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="trialscope-bench-")
    server = TemporaryServer(durable=True, options="-c synchronous_commit=off").start()
    try:
        # 1. parse once, then the stores' own write cost
        failures: list[str] = []
        started = time.perf_counter()
        items = list(convert_all(paths, failures, args.workers))
        parse_s = time.perf_counter() - started
        versions = [v for v in items if not isinstance(v, Reject)]
        out["parse"] = {"records": len(items), "rejects": len(items) - len(versions),
                        "seconds": round(parse_s, 2), "records_per_s": rate(len(items), parse_s),
                        "workers": args.workers}
        print(f"parsed {len(items)} in {parse_s:.1f}s", file=sys.stderr)
        writes = {}
        for name in ("sqlite", "postgres", "postgres_executemany"):
            if name == "sqlite":
                st = open_store(os.path.join(tmp, "write.db"))
            else:
                method = "executemany" if name.endswith("executemany") else "copy"
                st = PostgresStore(server.create_database(), write_method=method)
            first = write_batches(st, versions)
            again = write_batches(st, versions)
            writes[name] = {"new": first, "repeat_noop": again}
            st.close()
            print(f"write {name}: {first['records_per_s']}/s, repeat {again['records_per_s']}/s",
                  file=sys.stderr)
        out["store_write"] = writes
        del items, versions

        # 2. ingest end to end (parse in workers + write), each store
        sqlite_db = os.path.join(tmp, "ingest.db")
        pg_url = server.create_database("ingested")
        if not args.skip_ingest:
            out["ingest"] = {}
            for name, target in (("sqlite", sqlite_db), ("postgres", pg_url)):
                st = open_store(target)
                s = ingest(st, paths, progress=False, workers=args.workers)
                st.close()
                out["ingest"][name] = {"records": s.read, "added": s.added, "updated": s.updated,
                                       "seconds": round(s.seconds, 2),
                                       "records_per_s": rate(s.read, s.seconds)}
                print(f"ingest {name}: {out['ingest'][name]['records_per_s']}/s", file=sys.stderr)
        else:
            st = open_store(sqlite_db)
            ingest(st, paths, progress=False, workers=args.workers)
            st.close()

        # 3. sync over loopback from a trialscope server serving the SQLite store
        from trialscope.cli import after_ingest

        st = open_store(sqlite_db)
        after_ingest(st)  # the server's search index, built before timing
        served = st.count()
        st.close()
        srv = Serve(sqlite_db)
        out["sync"] = {"served_studies": served}
        try:
            for name in ("sqlite", "postgres"):
                target = os.path.join(tmp, "mirror.db") if name == "sqlite" else server.create_database("mirror")
                st = open_store(target)
                s = sync(st, srv.base + "/api/v2", full=True, page_size=1000,
                         polite=Politeness(rate=0, timeout=300), progress=False)
                ok = st.count() == served
                st.close()
                out["sync"][name] = {"records": s.read, "pages": s.pages, "requests": s.requests,
                                     "seconds": round(s.seconds, 2),
                                     "waiting_on_server_s": s.fetch_seconds,
                                     "records_per_s": rate(s.read, s.seconds), "complete": ok}
                print(f"sync {name}: {out['sync'][name]['records_per_s']}/s", file=sys.stderr)
        finally:
            srv.stop()

        # 4. copy both ways, with the verification timed apart
        out["copy"] = {}
        for name, (src_url, dst_url) in (
            ("sqlite_to_postgres", (sqlite_db, server.create_database("copied"))),
            ("postgres_to_sqlite", (pg_url if not args.skip_ingest else None, os.path.join(tmp, "copied.db"))),
        ):
            if src_url is None:
                continue
            src, dst = open_store(src_url), open_store(dst_url)
            c = copy_store(src, dst, progress=False)
            started = time.perf_counter()
            check = verify(src, dst)
            verify_s = time.perf_counter() - started
            out["copy"][name] = {**c, "verify_seconds": round(verify_s, 2), "verified": check["ok"]}
            src.close()
            dst.close()
            print(f"copy {name}: {c['records_per_s']}/s", file=sys.stderr)
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", tmp], check=False)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

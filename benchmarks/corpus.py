"""A scaled benchmark corpus: N synthetic studies recombined from the shared real records.

`build_corpus(n, seed)` yields API v2 study dicts with new NCT ids (NCT9xxxxxxx, never a real
registry id) whose modules are taken from different real studies: identification, status,
description, design and eligibility from one; conditions (+ condition MeSH browse data) from a
second; arms/interventions (+ intervention MeSH) from a third; sponsors and locations from a
fourth; outcomes (+ posted results) from a fifth. Text and structure are real, their
combination is not. Deterministic for a given (n, seed, base pool).

The base pool is every distinct real study in ../shared/data (ctgov/ JSON + XML, and
ctgov-extra/ XML), newest version of each, cached as benchmarks/out/base-records.jsonl;
without the shared data it falls back to the in-repo sample (564 studies) and says so.

`corpus_store(n, seed)` ingests the corpus into a SQLite store file under benchmarks/out/
(cached: built once per (n, seed)); note the store keeps each record twice (record + raw),
so 500k studies take ~20 GB: prefer streaming `build_corpus` where a store is not needed.

    python benchmarks/corpus.py --n 50000 --store   # build/cache benchmarks/out/corpus-50000-1.db
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "sample"
OUT = Path(__file__).resolve().parent / "out"
FIRST_ID = 90_000_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def source_paths() -> tuple[list[Path], str]:
    """The archives the base pool is read from, and a line saying which."""
    paths = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip",
             SHARED / "ctgov-extra" / "AllPublicXML-extra.zip"]
    found = [p for p in paths if p.exists()]
    if found:
        return found, f"shared real records ({', '.join(p.name for p in found)})"
    return [SAMPLE], "SHARED DATA ABSENT: the in-repo sample only (564 studies)"


_BASE: list[dict] | None = None


def base_records() -> tuple[list[dict], str]:
    """The real studies the corpus is recombined from (cached on disk and in memory)."""
    global _BASE
    paths, what = source_paths()
    cache = OUT / ("base-records.jsonl" if paths[0] != SAMPLE else "base-records-sample.jsonl")
    if _BASE is not None:
        return _BASE, what
    if cache.exists():
        with cache.open("rb") as fh:
            _BASE = [orjson.loads(line) for line in fh]
        return _BASE, what
    from trialscope import sources
    from trialscope.record import last_update
    from trialscope.sources.base import SourceRecord

    t0 = time.perf_counter()
    newest: dict[str, tuple[str, dict]] = {}
    for p in paths:
        for item in sources.read(p):
            if not isinstance(item, SourceRecord):
                continue
            rec = item.record
            try:
                nct = rec["protocolSection"]["identificationModule"]["nctId"]
            except (KeyError, TypeError):
                continue
            stamp = last_update(rec)
            if nct not in newest or stamp > newest[nct][0]:
                newest[nct] = (stamp, rec)
    _BASE = [newest[k][1] for k in sorted(newest)]
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for rec in _BASE:
            fh.write(orjson.dumps(rec) + b"\n")
    tmp.replace(cache)
    log(f"base pool: {len(_BASE):,} real studies read in {time.perf_counter() - t0:.0f}s -> {cache}")
    return _BASE, what


def nct_for(i: int) -> str:
    return f"NCT{FIRST_ID + i:08d}"


def recombine(i: int, a: dict, b: dict, c: dict, d: dict, e: dict) -> dict:
    """Study i from five real studies (shallow: the dicts share unchanged sub-objects)."""
    pa = a.get("protocolSection") or {}
    proto = dict(pa)
    ident = dict(pa.get("identificationModule") or {})
    ident["nctId"] = nct_for(i)
    ident.pop("nctIdAliases", None)
    proto["identificationModule"] = ident
    for src, keys in ((b, ("conditionsModule",)), (c, ("armsInterventionsModule",)),
                      (d, ("sponsorCollaboratorsModule", "contactsLocationsModule")),
                      (e, ("outcomesModule",))):
        sp = src.get("protocolSection") or {}
        for k in keys:
            if k in sp:
                proto[k] = sp[k]
            else:
                proto.pop(k, None)
    out: dict = {"protocolSection": proto}
    derived = {}
    cb = (b.get("derivedSection") or {}).get("conditionBrowseModule")
    ib = (c.get("derivedSection") or {}).get("interventionBrowseModule")
    if cb:
        derived["conditionBrowseModule"] = cb
    if ib:
        derived["interventionBrowseModule"] = ib
    if derived:
        out["derivedSection"] = derived
    if e.get("resultsSection"):
        out["resultsSection"] = e["resultsSection"]
        out["hasResults"] = True
    return out


def build_corpus(n: int, seed: int = 1, base: list[dict] | None = None) -> Iterator[dict]:
    """`n` recombined v2 study dicts, NCT90000000 upwards. Treat them as read-only."""
    pool = base if base is not None else base_records()[0]
    rng = random.Random(seed)
    size = len(pool)
    for i in range(n):
        picks = [pool[rng.randrange(size)] for _ in range(5)]
        yield recombine(i, *picks)


def corpus_store(n: int, seed: int = 1, path: str | Path | None = None) -> str:
    """A SQLite store holding build_corpus(n, seed), built once and cached under benchmarks/out."""
    from trialscope.record import dumps, last_update
    from trialscope.store import open_store
    from trialscope.store.base import StudyVersion, summary_of

    target = Path(path) if path else OUT / f"corpus-{n}-{seed}.db"
    tag = f"{n}:{seed}"
    if target.exists():
        store = open_store(str(target))
        done = store.get_meta("benchmark_corpus") == tag
        store.close()
        if done:
            return str(target)
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(str(target))
    run = store.begin_run("ingest", f"benchmarks/corpus.py n={n} seed={seed}")
    t0 = time.perf_counter()
    batch: list[StudyVersion] = []
    for i, rec in enumerate(build_corpus(n, seed), 1):
        raw = dumps(rec)
        batch.append(StudyVersion(rec["protocolSection"]["identificationModule"]["nctId"], last_update(rec),
                                  raw, raw, "json", f"corpus:{seed}:{i}", summary_of(rec)))
        if len(batch) == 2000:
            store.upsert_batch(run, batch, [])
            batch = []
            if i % 50_000 == 0:
                log(f"  corpus store: {i:,} studies, {i / (time.perf_counter() - t0):,.0f}/s")
    if batch:
        store.upsert_batch(run, batch, [])
    store.finish_run(run, "done", duration_s=time.perf_counter() - t0)
    store.set_meta("benchmark_corpus", tag)
    store.close()
    return str(target)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", action="store_true", help="also ingest it into benchmarks/out/corpus-N-SEED.db")
    args = ap.parse_args(argv)
    base, what = base_records()
    t0 = time.perf_counter()
    count = sum(1 for _ in build_corpus(args.n, args.seed, base))
    out = {"base_studies": len(base), "base_source": what, "n": count,
           "generate_s": round(time.perf_counter() - t0, 2)}
    if args.store:
        t0 = time.perf_counter()
        out["store"] = corpus_store(args.n, args.seed)
        out["store_s"] = round(time.perf_counter() - t0, 1)
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`trialscope copy SRC DST`: a whole store from one backend to another, then verified.

Copies everything a store holds — current studies (with their sequence numbers, ingest
times and withdrawn marks), history, ingest runs, rejects and meta (the sync cursor and
high-water mark included) — between SQLite and PostgreSQL in either direction (or between
two of the same kind). The destination must be empty. Afterwards both stores are read back
and compared: counts, and for every study its last-update date, raw sha1 and record sha1,
and digests of history, runs, rejects and meta. Any difference: exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterator

import orjson

from ..progress import Progress
from . import open_store
from .base import Store

BATCH = 1000


class CopyError(Exception):
    pass


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _all_runs(store: Store) -> list:
    return sorted(store.runs(limit=2**62), key=lambda r: r.id)


def is_empty(store: Store) -> bool:
    return store.count() == 0 and store.history_count() == 0 and not store.runs(limit=1)


def copy_store(src: Store, dst: Store, *, progress: bool | None = None) -> dict:
    """Copy ``src`` into the empty ``dst``; returns counts and timing (not the verification)."""
    if not is_empty(dst):
        raise CopyError(f"the destination {_label(dst)} is not empty; copy needs an empty store")
    started = time.perf_counter()
    runs = _all_runs(src)
    dst.import_runs(runs)
    rejects = 0
    for batch in _batches(src.iter_rejects(), 5000):
        dst.import_rejects(batch)
        rejects += len(batch)
    bar = Progress("copy", src.count(), progress)
    studies = 0
    for batch in _batches(src.iter_studies(batch_size=BATCH), BATCH):
        dst.import_studies(batch)
        studies += len(batch)
        bar.advance(len(batch))
    bar.close()
    history = 0
    for batch in _batches(src.iter_history(batch_size=BATCH), BATCH):
        dst.import_history(batch)
        history += len(batch)
    dst.import_meta(src.meta_items())
    seconds = time.perf_counter() - started
    return {
        "studies": studies, "history": history, "runs": len(runs), "rejects": rejects,
        "seconds": round(seconds, 3),
        "records_per_s": round((studies + history) / seconds, 1) if seconds else None,
    }


def _study_digest(store: Store) -> Iterator[tuple]:
    for s in store.iter_studies(batch_size=BATCH):
        yield (s.nct_id, s.last_update, hashlib.sha1(s.raw).hexdigest(),
               hashlib.sha1(s.record_json).hexdigest(), s.raw_format, s.source, s.ingested_at,
               s.seq, s.withdrawn_at)


def _digest(rows: Iterator[tuple]) -> tuple[int, str]:
    h = hashlib.sha1()
    n = 0
    for row in rows:
        h.update(orjson.dumps(list(row)))
        n += 1
    return n, h.hexdigest()


def verify(src: Store, dst: Store) -> dict:
    """Compare two stores; ``ok`` is true when they hold the same data."""
    mismatched: list[str] = []
    a, b = _study_digest(src), _study_digest(dst)
    n_src = n_dst = 0
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] < y[0]):
            mismatched.append(f"{x[0]}: only in source")
            n_src += 1
            x = next(a, None)
        elif x is None or y[0] < x[0]:
            mismatched.append(f"{y[0]}: only in destination")
            n_dst += 1
            y = next(b, None)
        else:
            if x != y:
                fields = ["nct_id", "last_update", "raw_sha", "record_sha", "raw_format", "source",
                          "ingested_at", "seq", "withdrawn_at"]
                diff = [f for f, p, q in zip(fields, x, y, strict=True) if p != q]
                mismatched.append(f"{x[0]}: {', '.join(diff)} differ")
            n_src += 1
            n_dst += 1
            x, y = next(a, None), next(b, None)

    def hist(st: Store) -> Iterator[tuple]:
        for h in st.iter_history(batch_size=BATCH):
            yield (h.nct_id, h.last_update, hashlib.sha1(h.raw).hexdigest(),
                   hashlib.sha1(h.record_json).hexdigest(), h.raw_format, h.source, h.replaced_at)

    def runs(st: Store) -> Iterator[tuple]:
        for r in _all_runs(st):
            yield tuple(r.as_dict().values())

    def rejects(st: Store) -> Iterator[tuple]:
        for r in st.iter_rejects():
            yield (r.run_id, r.origin, r.nct_id, r.message)

    checks = {
        "studies": {"source": n_src, "destination": n_dst, "same": not mismatched},
    }
    for name, fn in (("history", hist), ("runs", runs), ("rejects", rejects),
                     ("meta", lambda st: iter(sorted(st.meta_items().items())))):
        (ns, ds), (nd, dd) = _digest(fn(src)), _digest(fn(dst))
        checks[name] = {"source": ns, "destination": nd, "same": ds == dd and ns == nd}
    checks["withdrawn"] = {"source": len(src.withdrawn()), "destination": len(dst.withdrawn())}
    checks["withdrawn"]["same"] = src.withdrawn() == dst.withdrawn()
    checks["max_seq"] = {"source": src.max_seq(), "destination": dst.max_seq()}
    checks["max_seq"]["same"] = checks["max_seq"]["source"] == checks["max_seq"]["destination"]
    return {
        "ok": all(c["same"] for c in checks.values()),
        "checks": checks,
        "mismatched": mismatched[:50],
        "mismatched_count": len(mismatched),
    }


def _label(store: Store) -> str:
    from .postgres import _safe

    return _safe(store.url)


# -- command line ---------------------------------------------------------------------------


def cmd_copy(args: argparse.Namespace) -> int:
    from ..cli import UsageError, after_ingest

    if args.source == args.destination:
        raise UsageError("source and destination are the same store")
    if not args.source.startswith(("postgresql://", "postgres://")) and not os.path.isfile(
        args.source
    ):
        raise UsageError(f"the source {args.source} does not exist")
    try:
        src = open_store(args.source)
    except Exception as exc:  # connection refused, bad file, newer schema
        raise UsageError(f"cannot open the source {args.source}: {exc}") from None
    try:
        dst = open_store(args.destination)
    except Exception as exc:
        src.close()
        raise UsageError(f"cannot open the destination {args.destination}: {exc}") from None
    try:
        summary = copy_store(src, dst, progress=args.progress)
        check = verify(src, dst)
        after_ingest(dst)
    except CopyError as exc:
        raise UsageError(str(exc)) from None
    finally:
        src.close()
        dst.close()
    if args.json:
        sys.stdout.write(orjson.dumps({"copy": summary, "verify": check},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(f"copied {summary['studies']:,} studies, {summary['history']:,} history versions, "
              f"{summary['runs']:,} runs, {summary['rejects']:,} rejects in {summary['seconds']:.1f}s"
              + (f" ({summary['records_per_s']:,.0f} records/s)" if summary["records_per_s"] else ""))
        print("verification (source / destination):")
        for name, c in check["checks"].items():
            print(f"  {name:<10} {c['source']!s:>10} / {c['destination']!s:<10} "
                  f"{'ok' if c['same'] else 'DIFFERENT'}")
        print("  per study: last_update, raw sha1, record sha1, seq, withdrawn: "
              + ("all equal" if not check["mismatched_count"]
                 else f"{check['mismatched_count']} differ"))
        for line in check["mismatched"][:20]:
            print(f"    {line}")
        print("OK: the stores agree" if check["ok"] else "FAILED: the stores differ")
    return 0 if check["ok"] else 1


def register_commands(subparsers, common) -> None:
    p = subparsers.add_parser(
        "copy", help="copy a whole store between SQLite and PostgreSQL, then verify",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("source", help="SQLite file or postgresql:// URL")
    p.add_argument("destination", help="SQLite file or postgresql:// URL (must be empty)")
    p.add_argument("--json", action="store_true", help="print the copy and verification as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=cmd_copy)

"""The `trialscope` command. Each subcommand mirrors a library function and can print JSON.

Errors the user can fix (bad paths, unknown ids, bad queries) print one line on stderr and
exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import orjson

from .record import RecordError, normalize_nct, validate
from .store import StoreUnavailable, default_db, open_store


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _store(args: argparse.Namespace):
    return open_store(args.db)


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest
    from .pipeline import summary_line, until_searchable
    from .sources.limits import Limits

    try:
        limits = Limits.from_env()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    progress = False if args.json else args.progress
    store = _store(args)
    held = store.count()
    summary, whole = until_searchable(
        store, lambda pipe: ingest(store, args.paths, progress=progress, limits=limits, pipeline=pipe), progress)
    if args.json:
        _print_json({**summary.as_dict(), "command": whole})
    else:
        rate = summary.as_dict()["records_per_s"]
        print(
            f"run {summary.run_id}: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, "
            + (f"{summary.conflicts} conflicts, " if summary.conflicts else "")
            + f"{summary.rejected} rejected; "
            f"stored in {summary.seconds:.1f}s" + (f" ({rate:,.0f} records/s)" if rate else "")
        )
        if summary.updated and not held:  # an empty store: every update is within this run
            print(f"  {summary.updated} updated: later versions of studies this run had already read;"
                  " the earlier versions are kept in their history")
        if summary.conflicts:
            print(f"  {summary.conflicts} conflicts: the same last-update date as the stored version"
                  " with other content; the stored one stays current, the other is in its history")
        if summary.rejected:
            print(f"  see the rejects with: trialscope rejects --run {summary.run_id}")
        print(summary_line(whole))
    for failure in summary.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if summary.failures and summary.read == 0 else 0


def after_ingest(store) -> dict[str, float]:
    """Bring every derived index (search index, vectors, criteria, flags) up to the store
    by its catch-up; returns the seconds each took, by the name of its module's last part.
    (`trialscope ingest` and `sync` feed the first two while they write: trialscope.pipeline.)"""
    from .pipeline import after

    return after(store, AFTER_INGEST, progress=False)


# "module:function" hooks called with the store after every ingest or sync.
AFTER_INGEST: list[str] = ["trialscope.index:catch_up", "trialscope.index.vectors:catch_up",
                           "trialscope.index.criteria:catch_up", "trialscope.history.flags:catch_up",
                           "trialscope.index.conditions:catch_up"]


def cmd_show(args: argparse.Namespace) -> int:
    nct = _nct(args.nct_id)
    stored = _store(args).get(nct)
    if stored is None:
        raise UsageError(f"{nct} is not in the store {args.db or default_db()}")
    if args.raw:
        raw = stored.raw
        sys.stdout.buffer.write(raw)
        if not raw.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
    elif args.json:
        _print_json(stored.record)
    else:
        from .textview import render

        print(render(validate(stored.record), stored.source, stored.last_update))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = _store(args)
    stats = {"total": store.count(), **store.stats()}
    if args.json:
        _print_json(stats)
        return 0
    from .web.params import label

    print(f"{stats['total']:,} studies")
    for key, title in (("overallStatus", "By status (as the records give it)"), ("phase", "By phase"),
                       ("studyType", "By study type")):
        print(f"\n{title}")
        for value, n in stats[key].items():
            print(f"  {label(value):<28} {n:>8,}")
    return 0


def cmd_rejects(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = store.rejects(args.run, limit=args.limit)
    if args.json:
        _print_json([{"run": r.run_id, "origin": r.origin, "nctId": r.nct_id, "message": r.message} for r in rows])
        return 0
    if not rows:
        print("no rejects in that run")
    for r in rows:
        print(f"{r.origin}: {r.message}" + (f" [{r.nct_id}]" if r.nct_id else ""))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    runs = _store(args).runs(limit=args.limit)
    if args.json:
        _print_json([r.as_dict() for r in runs])
        return 0
    for r in runs:
        print(f"#{r.id} {r.kind:<6} {r.status:<11} {r.started_at}  +{r.added} ~{r.updated} ={r.unchanged} "
              + (f"≠{r.conflicts} " if r.conflicts else "")
              + f"!{r.rejected}  {r.duration_s or 0:.1f}s  {r.source}"
              + (f"  ({r.message})" if r.status == "died" else ""))
    return 0


def _nct(value: str) -> str:
    try:
        return normalize_nct(value)
    except RecordError as exc:
        raise UsageError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialscope", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"trialscope {__import__('trialscope').__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None, help="SQLite file or postgresql:// URL (default: $TRIALSCOPE_DB or trialscope.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="load studies from files, folders or archives")
    p.add_argument("paths", nargs="+", help="API v2 JSON / JSON Lines / legacy XML files, folders or zips")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("show", parents=[common], help="show one study")
    p.add_argument("nct_id")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the record in the API v2 structure")
    fmt.add_argument("--raw", action="store_true", help="the source bytes as ingested")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("stats", parents=[common], help="counts by status, phase and study type")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("rejects", parents=[common], help="records an ingest run rejected, and why")
    p.add_argument("--run", type=int, default=None, help="run id (default: the latest run)")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rejects)

    p = sub.add_parser("runs", parents=[common], help="recent ingest and sync runs")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    for name in FEATURE_COMMANDS:
        importlib.import_module(name).register_commands(sub, common)
    return parser


# Modules whose register_commands(subparsers, common_parent) adds their subcommands.
FEATURE_COMMANDS: list[str] = ["trialscope.search", "trialscope.store.copy", "trialscope.web", "trialscope.similar", "trialscope.sync",
                              "trialscope.history.cli", "trialscope.match.cli"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the store holds every batch committed so far", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

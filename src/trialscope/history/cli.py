"""`trialscope history NCT… [--diff A..B] [--json]`: a study's versions, or a diff of two;
`trialscope watch add|list|remove|check`: saved searches and what is new for them."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap

import orjson

from . import VersionError, compare_versions, pick_range, study_history
from .diff import ModuleDiff

WIDTH = 96
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
KIND_MARK = {"added": "+", "removed": "-", "changed": "~"}


def clean(text: str) -> str:
    """Record text for a terminal: no control characters (no escape sequences from a record)."""
    return _CONTROL.sub("", text)


def cmd_history(args: argparse.Namespace) -> int:
    from ..cli import UsageError, _nct
    from ..store import default_db, open_store

    nct = _nct(args.nct_id)
    store = open_store(args.db)
    history = study_history(store, nct)
    if history is None:
        raise UsageError(f"{nct} is not in the store {args.db or default_db()}")
    if args.diff is not None:
        try:
            earlier, later = pick_range(history.versions, args.diff)
        except VersionError as exc:
            raise UsageError(f"{nct}: {exc}") from None
        result = compare_versions(earlier, later)
        if args.json:
            _print_json({"nctId": nct, **result.as_json()})
        else:
            print(render_diff(nct, result))
        return 0
    if args.json:
        _print_json(history.as_json())
    else:
        print(render_versions(history))
    return 0


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(clean(text), WIDTH, initial_indent=indent, subsequent_indent=indent)


def render_versions(history) -> str:
    n = len(history.versions)
    head = f"{history.nct_id}: {n} version{'s' if n != 1 else ''} held"
    switch = history.switch
    if switch.flagged:
        head += f" · OUTCOME SWITCHED after the start date ({switch.start_date})"
    out = [head]
    for v in history.versions:
        mark = "  (current)" if v.current else ""
        out.append(f"  v{v.number:<3} {v.last_update or '(no date)':<10}  {v.raw_format:<4}{mark}  {clean(v.source)}")
        out.append(_wrap(history.summary(v), "        "))
    if switch.events:
        out.append("")
        out.append("Primary outcome changes" + ("" if switch.flagged else " (none after the start date)"))
        for e in switch.events:
            when = "" if e.after_start else "  [before the start date]"
            out.append(_wrap(f"v{e.from_version} → v{e.to_version}: {e.text}{when}", "  "))
    if n > 1:
        out.append("")
        out.append(f"diff: trialscope history {history.nct_id} --diff {n - 1}..{n}")
    return "\n".join(out)


def render_diff(nct: str, result) -> str:
    a, b = result.earlier, result.later
    out = [f"{nct}: v{a.number} ({a.last_update or 'no date'}) → v{b.number} ({b.last_update or 'no date'})",
           _wrap(result.changes.line(), "")]
    if not result.modules:
        out.append("\nno differences")
    for md in result.modules:
        out.append("")
        out.append(render_module(md))
    return "\n".join(out)


def render_module(md: ModuleDiff) -> str:
    lines = [f"{md.label} ({md.count} change{'s' if md.count != 1 else ''})"]
    for c in md.changes:
        mark = KIND_MARK[c.kind]
        if c.words is not None:
            text = " ".join(_word(op, w) for op, w in c.words)
            lines.append(_wrap(f"{mark} {c.label}:", "  "))
            lines.append(_wrap(text, "      "))
        elif c.kind == "changed":
            lines.append(_wrap(f"{mark} {c.label}: {c.old} → {c.new}", "  "))
        else:
            lines.append(_wrap(f"{mark} {c.label}: {c.new if c.kind == 'added' else c.old}", "  "))
    if md.more:
        lines.append(f"  … and {md.more:,} more changes in this module (see --json)")
    return "\n".join(lines)


def _word(op: str, text: str) -> str:
    if op == "-":
        return f"[-{text}-]"
    if op == "+":
        return f"{{+{text}+}}"
    if op == "…":
        return f"[… {text} …]"
    return text


def cmd_watch_add(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..search import FilterError, QueryError, Searcher
    from ..search.cli import request_from_args
    from ..store import open_store
    from . import watch

    store = open_store(args.db)
    req = request_from_args(args)
    try:  # a search that cannot run is refused now, not at every check
        Searcher(store).search(watch.Watch("", watch.spec_of(req), "", 0, "").request(limit=1, facets=False,
                                                                                     snippets=False))
        w = watch.add(store, args.name, req)
    except (QueryError, FilterError, watch.WatchError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _print_json(w.as_json())
    else:
        print(f"saved {w.name!r}: {clean(w.describe())}")
        print("  `trialscope watch check` reports what is new or changed from now on")
    return 0


def cmd_watch_list(args: argparse.Namespace) -> int:
    from ..store import open_store
    from . import watch

    watches = watch.saved(open_store(args.db))
    if args.json:
        _print_json([w.as_json() for w in watches])
        return 0
    if not watches:
        print("no saved searches (add one with: trialscope watch add NAME QUERY… [filters])")
    for w in watches:
        print(f"{w.name}: {clean(w.describe())}  (last checked {w.checked_at})")
    return 0


def cmd_watch_remove(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..store import open_store
    from . import watch

    try:
        watch.remove(open_store(args.db), args.name)
    except watch.WatchError as exc:
        raise UsageError(str(exc)) from None
    print(f"removed {args.name!r}")
    return 0


def cmd_watch_check(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..index import catch_up
    from ..search import Searcher
    from ..store import open_store
    from . import mail, watch

    store = open_store(args.db)
    try:
        watches = watch.saved(store, args.names or None)
        config = mail.load_config(args.config)
        mailing = args.mail or config.send
        if mailing:
            config.ready()
    except (watch.WatchError, mail.MailError) as exc:
        raise UsageError(str(exc)) from None
    catch_up(store)  # the index must hold every change the check reads
    results = watch.check(store, Searcher(store), watches)
    sent = None
    if mailing:
        message = mail.compose(config, results)
        if message is not None:
            try:
                mail.send(config, message)
            except mail.MailError as exc:
                print(f"error: {exc}; nothing was marked as seen", file=sys.stderr)
                return 1
            sent = list(config.to)
    if not args.peek:
        watch.mark_checked(store, results)
    if args.json:
        _print_json({"searches": [r.as_json() for r in results], "mailedTo": sent, "marked": not args.peek})
        return 0
    print(render_check(results, sent))
    return 0


def render_check(results, sent: list[str] | None) -> str:
    if not results:
        return "no saved searches (add one with: trialscope watch add NAME QUERY… [filters])"
    out = []
    for r in results:
        n = len(r.entries)
        since = r.since_time
        out.append(f"{r.watch.name}: " + (f"{n}{'+' if r.more else ''} new or changed since {since}" if n
                                           else f"nothing new since {since}"))
        for e in r.entries:
            head = {"new": "NEW", "updated": "UPDATED", "withdrawn": "GONE"}[e.kind]
            versions = f"  (v{e.from_version} → v{e.to_version})" if e.from_version else ""
            out.append(f"  {head:<8} {e.nct_id}  {clean(e.title)}{versions}")
            if e.facts:
                out.append(_wrap("; ".join(e.facts), "           "))
    if sent:
        out.append(f"\nmailed to {', '.join(sent)}")
    return "\n".join(out)


def register_commands(sub, common) -> None:
    p = sub.add_parser("history", parents=[common],
                       help="the versions of a study held, what changed in each, or a diff of two")
    p.add_argument("nct_id")
    p.add_argument("--diff", metavar="A..B", nargs="?", const="",
                   help="compare two versions: numbers or last-update dates (e.g. 1..2, "
                        "2020-09-18..2023-05-18, 1.. for the first against the latest); "
                        "alone: the latest against the one before")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    from ..search.cli import add_search_arguments

    watch = sub.add_parser("watch", help="saved searches: what is new or changed since the last check")
    wsub = watch.add_subparsers(dest="watch_command", required=True)
    p = wsub.add_parser("add", parents=[common], help="save a search (the query and filters of `search`)")
    p.add_argument("name", help="a name for it (letters, digits, spaces, _ . -)")
    add_search_arguments(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_watch_add)
    p = wsub.add_parser("list", parents=[common], help="the saved searches")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_watch_list)
    p = wsub.add_parser("remove", parents=[common], help="forget a saved search")
    p.add_argument("name")
    p.set_defaults(func=cmd_watch_remove)
    p = wsub.add_parser("check", parents=[common],
                        help="what is new or changed for each saved search since its last check")
    p.add_argument("names", nargs="*", help="only these saved searches (default: all)")
    p.add_argument("--mail", action="store_true", help="also send it by e-mail (see the README: SMTP settings)")
    p.add_argument("--config", help="a TOML file with a [mail] table (default: $TRIALSCOPE_CONFIG or ./trialscope.toml)")
    p.add_argument("--peek", action="store_true", help="show, but do not mark as seen")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_watch_check)

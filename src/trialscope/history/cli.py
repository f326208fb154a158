"""`trialscope history NCT… [--diff A..B] [--json]`: a study's versions, or a diff of two."""

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

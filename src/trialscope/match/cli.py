"""`trialscope match NOTE.txt|-`: the trials a patient can join, from their note.

    trialscope match note.txt --limit 10
    echo "58-year-old woman with HER2+ breast cancer ..." | trialscope match - --near "Boston, MA, 50mi"
    trialscope match note.txt --nct NCT03949231 --json    # this trial, criterion by criterion
"""

from __future__ import annotations

import argparse
import sys

import orjson

MAX_FILE = 5_000_000  # bytes read from a note file (the first MAX_NOTE characters are used)


def near_of(text: str | None) -> tuple[tuple[float, float, float] | None, str | None]:
    """(lat, lon, km) and a label from "PLACE[,RADIUS]" or "LAT,LON[,RADIUS]" (km or mi,
    100 km by default); raises trialscope.geo.PlaceError for a place not found."""
    if not text or not text.strip():
        return None, None
    from ..geo import parse_near

    place, km = parse_near(text)
    return (place.lat, place.lon, km), f"{place.label} ({km:,.0f} km)"


def read_note(path: str) -> str:
    from ..cli import UsageError

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_FILE)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE)
    except OSError as exc:
        raise UsageError(f"cannot read the note {path!r}: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="replace")


def cmd_match(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..geo import PlaceError
    from ..search import FilterError
    from ..store import open_store
    from . import MatchError, match

    text = read_note(args.note)
    try:
        near, where = near_of(args.near)
    except PlaceError as exc:
        raise UsageError(f"--near: {exc}") from None
    ids = [i.strip().upper() for v in args.nct or [] for i in v.split(",") if i.strip()]
    try:
        result = match(open_store(args.db), text, age=args.age, sex=args.sex, near=near,
                       open_only=args.open_only, limit=args.limit, ids=ids or None)
    except (MatchError, FilterError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        sys.stdout.write(orjson.dumps(result.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(describe(result, where))
    return 0


def describe(result, where: str | None = None) -> str:
    """The result as the terminal shows it: the facts read, then each trial and why."""
    f = result.facts
    lines = [f"Patient: {facts_line(f)}"]
    if where:
        lines.append(f"Near: {where}")
    lines += [f"Note: {n}" for n in result.notes]
    if not result.trials:
        lines.append("\nNo trial matches (filters too narrow, or an empty store?)")
        return "\n".join(lines)
    from .assess import by_verdict

    may_join, excluded = by_verdict(result.trials)
    rank = {id(t): i for i, t in enumerate(result.trials, 1)}
    if len(result.trials) > 1:  # (one trial asked for by id: its verdict says it all)
        lines.append(f"\n{len(may_join)} trial{'s' if len(may_join) != 1 else ''} the patient may join"
                     + (", best first:" if may_join else "."))
    for i, t in enumerate(may_join, 1):
        lines += _trial_lines(i, t, rank[id(t)])
    if excluded:
        if len(result.trials) > 1:
            lines.append(f"\n{len(excluded)} trial{'s' if len(excluded) != 1 else ''} the patient appears excluded "
                         "from (by a criterion, as the note reads):")
        for i, t in enumerate(excluded, 1):
            lines += _trial_lines(i, t, rank[id(t)])
    return "\n".join(lines)


def _trial_lines(i: int, t, rank: int) -> list[str]:
    phases = "/".join(t.phases) or "-"
    out = [f"\n{i:>2}. {t.nct_id}  [{t.overall_status or '?'}]  {phases}  {t.verdict.upper()}"
           + (f"  (rank {rank})" if rank != i else ""),
           f"    {t.brief_title}", f"    {t.explanation}"]
    for d in (t.assessment.decisive if t.assessment is not None else [])[:2]:
        where = f"{d.section} {d.label}" if d.label else d.section
        out.append(f"    ✗ {where}: {_cut(d.text, 90)}" + (f"  [{d.reason}]" if d.reason else ""))
    return out


def facts_line(f) -> str:
    parts = [f"{f.age:g} years" if f.age is not None else "age unknown", f.sex or "sex unknown"]
    own = [c.text for c in f.present_conditions()][:6]
    if own:
        parts.append("; ".join(own))
    if f.treatments:
        parts.append("treated with " + ", ".join(t.name for t in f.treatments if not t.negated)[:120])
    if f.setting:
        parts.append("seen " + _SEEN.get(f.setting.place, f.setting.place))
    return ", ".join(parts)


_SEEN = {"outpatient": "as an outpatient", "emergency": "in the emergency department", "inpatient": "in hospital",
         "icu": "in intensive care", "ventilated": "ventilated"}


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def register_commands(subparsers, common) -> None:
    p = subparsers.add_parser("match", parents=[common],
                              help="trials a patient can join, from their note, criterion by criterion")
    p.add_argument("note", help="a text file with the patient's note, or - for standard input")
    p.add_argument("--age", type=float, help="the patient's age in years (overrides the note)")
    p.add_argument("--sex", choices=["female", "male"], help="overrides the note")
    p.add_argument("--near", help='PLACE[,RADIUS] or LAT,LON[,RADIUS]: "Lyon, France, 50km", "60611,30mi"')
    p.add_argument("--open-only", action="store_true", help="only trials recruiting or about to")
    p.add_argument("--nct", action="append", help="assess the note against these trials only (NCT ids)")
    p.add_argument("--limit", type=int, default=20, help="how many trials (1-100, default 20)")
    p.add_argument("--json", action="store_true", help="facts, trials and every criterion's verdict as JSON")
    p.set_defaults(func=cmd_match)

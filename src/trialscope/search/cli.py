"""The `search` and `index` commands."""

from __future__ import annotations

import argparse
import html
import re
import sys

import orjson

from ..essie import QueryError
from ..index import catch_up as _catch_up
from ..index import index_path
from ..index import rebuild as _rebuild
from ..index.fulltext import DATE_FIELDS
from .request import SORT_KEYS, FilterError, SearchRequest
from .searcher import Searcher


def status_text(h) -> str:
    """`RECRUITING (verified 2024-05)`, `UNKNOWN (last said RECRUITING, verified 2019-05)`."""
    text = h.overall_status or "?"
    if h.reported_status and h.reported_status != h.overall_status:
        text += f" (last said {h.reported_status}"
        return text + (f", verified {h.status_verified})" if h.status_verified else ")")
    return text + (f" (verified {h.status_verified})" if h.status_verified else "")


def _parse_near(text: str) -> tuple[float, float, float]:
    """--near: a place, a US ZIP code or coordinates, with an optional radius (km or mi)."""
    from ..cli import UsageError
    from ..geo import PlaceError, parse_near

    try:
        place, km = parse_near(text)
    except PlaceError as exc:
        raise UsageError(f"--near: {exc}") from None
    return place.lat, place.lon, km


def _date_range(text: str | None) -> tuple[str | None, str | None] | None:
    if not text:
        return None
    lo, sep, hi = text.partition("..")
    if not sep:
        return (lo.strip() or None, lo.strip() or None)
    return (lo.strip() or None, hi.strip() or None)


def _yes_no(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.strip().lower() in ("yes", "y", "true", "1")


def request_from_args(args: argparse.Namespace) -> SearchRequest:
    """The SearchRequest of the search options (`add_search_arguments`); `watch add` shares them."""
    dates = {}
    for key in DATE_FIELDS:
        rng = _date_range(getattr(args, key))
        if rng:
            dates[key] = rng
    return SearchRequest(
        query=" ".join(args.query), fields={k: v for k, v in (
            ("cond", args.cond), ("intr", args.intr), ("term", args.term), ("titles", args.titles),
            ("outc", args.outc), ("spons", args.spons), ("lead", args.lead), ("locn", args.locn),
            ("id", args.id)) if v},
        status=args.status or [], phase=args.phase or [], study_type=args.study_type or [],
        intervention_type=args.intervention_type or [], sponsor_class=args.sponsor_class or [],
        sex=args.sex, age=args.age, healthy_volunteers=_yes_no(args.healthy_volunteers),
        country=args.country or [], has_results=_yes_no(args.has_results), dates=dates,
        outcome_switched=_yes_no(args.outcome_switched),
        near=_parse_near(args.near) if args.near else None, ids=args.ids or [],
        expand_mesh=not args.no_expand, include_withdrawn=not args.exclude_withdrawn, lenient=args.lenient,
    )


def cmd_search(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..store import open_store

    req = request_from_args(args)
    req.sort, req.limit, req.page_token, req.snippets = args.sort, args.limit, args.page_token, not args.json
    try:
        store = open_store(args.db)
        result = Searcher(store).search(req)
    except (QueryError, FilterError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        out = result.as_json()
        keep = ("nctId", "briefTitle", "overallStatus", "reportedStatus", "statusVerifiedDate",
                "phases", "score", "nearestSite")
        out["studies"] = [{k: s[k] for k in keep if k in s} for s in out["studies"]]
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"{result.total:,} studies" + (f" (showing {len(result.hits)})" if result.hits else ""))
    for h in result.hits:
        phase = "/".join(h.phases) if h.phases else "-"
        print(f"\n{h.nct_id}  [{status_text(h)}]  {phase}")
        print(f"  {h.brief_title}")
        if h.nearest:
            approx = " (city-level position)" if h.nearest["approximate"] else ""
            print(f"  nearest site: {h.nearest['label']}, {h.nearest['km']:,.0f} km{approx}")
        if h.snippet:
            text = html.unescape(re.sub(r"</?mark>", "*", h.snippet))
            print(f"  {text}")
    if result.facets:
        print()
        for name, vals in result.facets.items():
            if vals:
                shown = ", ".join(f"{v} {n:,}" for v, n in vals[:6])
                print(f"{name}: {shown}")
    if result.next_page_token:
        print(f"\nmore: --page-token {result.next_page_token}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    import time

    from ..store import open_store

    store = open_store(args.db)
    t0 = time.perf_counter()
    if args.catch_up:
        n = _catch_up(store)
        verb = "caught up"
    else:
        n = _rebuild(store)
        verb = "indexed"
    dt = time.perf_counter() - t0
    if args.json:
        sys.stdout.write(orjson.dumps({"studies": n, "seconds": round(dt, 3), "path": index_path(store)}).decode() + "\n")
    else:
        rate = f" ({n / dt:,.0f} studies/s)" if n and dt else ""
        print(f"{verb} {n:,} studies in {dt:.1f}s{rate} -> {index_path(store)}")
    return 0


def register_commands(subparsers, common) -> None:
    p = subparsers.add_parser("index", parents=[common], help="rebuild the search index from the store")
    p.add_argument("--catch-up", action="store_true", help="only apply store changes since the last run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_index)

    p = subparsers.add_parser("search", parents=[common], help="search studies (query language, filters, facets)")
    add_search_arguments(p)
    p.add_argument("--sort", default="relevance", help=", ".join(SORT_KEYS) + " (optionally :asc/:desc)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--page-token")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """The query and filter options of `search` (read back by `request_from_args`)."""
    p.add_argument("query", nargs="*", help='e.g. cond:"liver cancer" intr:sorafenib NOT pediatric')
    p.add_argument("--cond"); p.add_argument("--intr"); p.add_argument("--term")  # noqa: E702
    p.add_argument("--titles"); p.add_argument("--outc"); p.add_argument("--spons")  # noqa: E702
    p.add_argument("--lead"); p.add_argument("--locn"); p.add_argument("--id")  # noqa: E702
    p.add_argument("--status", action="append", help="status (repeatable; 'open' = recruiting or about to)")
    p.add_argument("--phase", action="append")
    p.add_argument("--study-type", action="append")
    p.add_argument("--intervention-type", action="append")
    p.add_argument("--sponsor-class", action="append")
    p.add_argument("--sex", help="ALL, FEMALE or MALE")
    p.add_argument("--age", type=float, help="a person's age in years")
    p.add_argument("--healthy-volunteers", help="yes/no")
    p.add_argument("--country", action="append")
    p.add_argument("--has-results", help="yes/no")
    p.add_argument("--outcome-switched", nargs="?", const="yes", metavar="yes/no",
                   help="a primary outcome changed after the start date (see `trialscope history`)")
    for key in DATE_FIELDS:
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, help="date range FROM..TO (YYYY[-MM[-DD]])")
    p.add_argument("--near", help='a place, ZIP code or LAT,LON, then an optional ,RADIUS in km '
                   '(default 100) or mi: "Chicago, IL", "60611,50km", "41.88,-87.63,100km"')
    p.add_argument("--ids", action="append", help="NCT ids (comma separated or repeated)")
    p.add_argument("--no-expand", action="store_true", help="no MeSH expansion for cond:")
    p.add_argument("--exclude-withdrawn", action="store_true", help="leave out studies withdrawn upstream")
    p.add_argument("--lenient", action="store_true", help="read a malformed query as plain words")


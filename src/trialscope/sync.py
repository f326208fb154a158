"""`trialscope sync`: keep the store a mirror of ClinicalTrials.gov (or any API v2 server).

Incremental (the default once a sync has succeeded): pages through
``GET {url}/studies?filter.advanced=AREA[LastUpdatePostDate]RANGE[<date>,MAX]&pageSize=1000``
where <date> is the newest last-update date the last successful sync received, inclusive,
so a study posted later that same day is not missed (refetched ones are versioning no-ops).

Full (``--full``, or the first sync): every study, then a sweep of every NCT id upstream
(``fields=NCTId``); studies the store holds that are gone upstream are marked withdrawn with
the date they disappeared (never deleted), and ones that came back are unmarked.

Resumable: each page is committed in one transaction together with the sync cursor (mode,
phase, next page token, high-water mark) in store meta, so a sync killed at any point
resumes from the first page not committed. Polite: a request rate limit (5/s default),
a timeout, retries with exponential backoff and full jitter on 429, 5xx, timeouts and
connection errors, honouring Retry-After. Defensive: an empty page, or a page token seen
before, ends the listing (never loops); a malformed record is rejected into the run's reject
log and the sync goes on. Recorded as an ingest run of kind "sync".
"""

from __future__ import annotations

import argparse
import email.utils
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx
import orjson

from .ingest import to_version
from .pipeline import Pipeline
from .progress import Progress
from .record import nct_id_of
from .sources.base import Origin, Reject, SourceRecord
from .store.base import Outcome, Store, StudyVersion

DEFAULT_URL = "https://clinicaltrials.gov/api/v2"
CURSOR_KEY = "sync.cursor"  # the sync in progress: where to resume
LAST_KEY = "sync.last"  # the last successful sync: its high-water mark
RETRY_STATUS = {429, 500, 502, 503, 504}
DATE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


class SyncError(Exception):
    """The sync could not go on (upstream keeps failing, or answers nonsense)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status of a refused request, if that was it


# -- HTTP ---------------------------------------------------------------------------------


@dataclass
class Politeness:
    rate: float = 5.0  # requests per second at most
    timeout: float = 60.0  # seconds per request
    retries: int = 6  # tries after the first, per request
    backoff: float = 1.0  # first retry waits up to this (full jitter), doubling
    max_backoff: float = 60.0
    max_retry_after: float = 600.0


class Client:
    """GETs pages of an API v2 server, politely; returns the parsed JSON object."""

    def __init__(
        self,
        base_url: str,
        polite: Politeness | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        from . import __version__

        self.base_url = base_url.rstrip("/")
        self.polite = polite or Politeness()
        self.sleep = sleep
        self.requests = 0
        self.retried = 0
        self.fetch_seconds = 0.0  # waiting on upstream (network + server), sleeps excluded
        self._next_at = 0.0
        self.http = httpx.Client(
            timeout=httpx.Timeout(self.polite.timeout),
            headers={"User-Agent": f"trialscope/{__version__} (sync)", "Accept": "application/json"},
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def _throttle(self) -> None:
        if self.polite.rate <= 0:
            return
        wait = self._next_at - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._next_at = max(self._next_at, time.monotonic()) + 1.0 / self.polite.rate

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = _retry_after(response.headers.get("Retry-After"))
            if after is not None:
                return min(after, self.polite.max_retry_after)
        cap = min(self.polite.max_backoff, self.polite.backoff * 2**attempt)
        return random.uniform(0, cap)

    def studies(self, params: dict[str, str]) -> dict:
        """One page of ``/studies``; retries what is worth retrying, then raises SyncError."""
        url = f"{self.base_url}/studies"
        last_problem = ""
        for attempt in range(self.polite.retries + 1):
            if attempt:
                self.retried += 1
            self._throttle()
            self.requests += 1
            response = None
            sent = time.perf_counter()
            try:
                response = self.http.get(url, params=params)
                self.fetch_seconds += time.perf_counter() - sent
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        doc = orjson.loads(response.content)
                    except orjson.JSONDecodeError as exc:
                        last_problem = f"invalid JSON page: {exc}"
                    else:
                        if isinstance(doc, dict) and isinstance(doc.get("studies", []), list):
                            return doc
                        last_problem = "the page is not an API v2 studies page"
                elif response.status_code in RETRY_STATUS:
                    last_problem = f"HTTP {response.status_code}"
                else:
                    raise SyncError(
                        f"GET {response.url} answered HTTP {response.status_code}: "
                        f"{response.text[:300]}",
                        response.status_code,
                    ) from None
            if attempt < self.polite.retries:
                self.sleep(self._delay(attempt, response))
        raise SyncError(f"GET {url} failed {self.polite.retries + 1} times; last: {last_problem}")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


# -- the sync -------------------------------------------------------------------------------


@dataclass
class SyncSummary:
    run_id: int
    source: str
    mode: str  # "full" or "incremental"
    since: str | None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # same date as the stored version, other content (see store.base)
    rejected: int = 0
    withdrawn: int = 0
    restored: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    fetch_seconds: float = 0.0  # of ``seconds``, spent waiting on upstream
    high_water: str | None = None
    resumed_from_page: int | None = None
    complete: bool = True
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "running"

    @property
    def read(self) -> int:
        return self.added + self.updated + self.unchanged + self.conflicts + self.rejected

    def as_dict(self) -> dict:
        d = asdict(self)
        d["run"] = d.pop("run_id")
        d["seconds"] = round(self.seconds, 3)
        d["records_per_s"] = round(self.read / self.seconds, 1) if self.seconds else None
        return d


def _load(store: Store, key: str) -> dict | None:
    value = store.get_meta(key)
    if not value:
        return None
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _as_date(value: str | None) -> str | None:
    """A last-update value usable in RANGE[...]: YYYY-MM-DD (YYYY-MM becomes the 1st)."""
    if not value or not DATE_RE.match(value):
        return None
    return value if len(value) == 10 else value + "-01"


def _page_items(
    studies: list, base: str, page: int
) -> Iterator[SourceRecord | Reject]:
    for i, item in enumerate(studies):
        if isinstance(item, dict) and "protocolSection" in item:
            nct = nct_id_of(item)
            # raw is filled in from the serialized record (the same bytes: the API's JSON
            # object), so each study is serialized once
            yield SourceRecord(item, b"", Origin(f"{base}/studies/{nct or '?'}"), "json")
        else:
            where = Origin(f"{base}/studies", f"page{page}/studies[{i}]")
            nct = nct_id_of(item) if isinstance(item, dict) else None
            yield Reject(where, "not a v2 study object (no protocolSection)", nct)


def sync(
    store: Store,
    base_url: str = DEFAULT_URL,
    *,
    since: str | None = None,
    full: bool = False,
    page_size: int = 1000,
    polite: Politeness | None = None,
    progress: bool | None = None,
    client: Client | None = None,
    today: str | None = None,
    log: Callable[[str], None] | None = None,
    pipeline: Pipeline | None = None,
) -> SyncSummary:
    """Bring ``store`` up to date with the API v2 server at ``base_url``.

    Raises SyncError when upstream fails beyond the retries; the run is then recorded as
    failed and the cursor kept, so the next call resumes. ``pipeline``: derived stages fed
    each committed page (trialscope.pipeline); the caller finishes it.
    """
    base = base_url.rstrip("/")
    say = log or (lambda msg: None)
    own_client = client is None
    client = client or Client(base, polite)
    cursor = _load(store, CURSOR_KEY)
    last = _load(store, LAST_KEY)
    if last and last.get("source") != base:
        last = None  # a high-water mark from another server means nothing here
    resumable = (
        cursor is not None
        and cursor.get("source") == base
        and (not full or cursor.get("mode") == "full")
        and (since is None or since == cursor.get("since"))
    )
    run_id = store.begin_run("sync", base)
    if resumable:
        previous = cursor.get("run")
        for r in store.runs(limit=50, kind="sync"):
            if r.id == previous and r.status in ("running", "died"):  # died: begin_run saw it gone
                store.finish_run(previous, "interrupted", f"resumed by run {run_id}")
        say(f"resuming the {cursor['mode']} sync of run {previous} at page {cursor.get('pages', 0) + 1}")
    else:
        if full or (since is None and not (last and last.get("high_water"))):
            mode, start = "full", None
        else:
            mode, start = "incremental", since or last["high_water"]
        cursor = {"source": base, "mode": mode, "since": start, "phase": "studies",
                  "token": None, "pages": 0, "high_water": None}
    cursor["run"] = run_id
    store.set_meta(CURSOR_KEY, orjson.dumps(cursor).decode())
    summary = SyncSummary(run_id, base, cursor["mode"], cursor["since"])
    if resumable:
        summary.resumed_from_page = cursor.get("pages", 0) + 1
    started = time.perf_counter()
    status = "interrupted"
    bar = Progress("sync", None, progress)
    try:
        if cursor["phase"] == "studies":
            try:
                _list_studies(store, client, cursor, summary, page_size, bar, say, pipeline)
            except SyncError as exc:
                if not (resumable and cursor.get("token") and exc.status in (400, 404, 410)):
                    raise
                # the saved page token expired upstream: list again from the first page
                # (what was committed stays; refetched studies are no-ops)
                say(f"the saved page token was refused ({exc.status}); listing from the start")
                summary.warnings.append("resume token refused upstream; listed from the start")
                cursor.update(token=None, pages=0)
                _list_studies(store, client, cursor, summary, page_size, bar, say, pipeline)
            cursor.update(phase="sweep" if cursor["mode"] == "full" else "done", token=None)
            store.set_meta(CURSOR_KEY, orjson.dumps(cursor).decode())
        if cursor["phase"] == "sweep":
            _sweep(store, client, summary, page_size, today or date.today().isoformat(), say)
        # success: remember the high-water mark, forget the cursor
        marks = [m for m in (cursor.get("high_water"), (last or {}).get("high_water")) if m]
        if not cursor.get("listing_complete", summary.complete):
            marks = [m for m in ((last or {}).get("high_water"),) if m]  # do not skip past a gap
        summary.high_water = max(marks) if marks else None
        status = "done"
    except SyncError as exc:
        status = "failed"
        summary.warnings.append(str(exc))
        raise
    finally:
        bar.close()
        summary.requests, summary.retries = client.requests, client.retried
        summary.fetch_seconds = round(client.fetch_seconds, 3)
        summary.seconds = time.perf_counter() - started
        summary.status = status
        if status == "done":
            store.set_meta(LAST_KEY, orjson.dumps({
                "source": base, "run": run_id, "mode": summary.mode,
                "high_water": summary.high_water,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "added": summary.added, "updated": summary.updated,
                "unchanged": summary.unchanged, "conflicts": summary.conflicts,
                "rejected": summary.rejected, "withdrawn": summary.withdrawn, "restored": summary.restored,
            }).decode())
            store.set_meta(CURSOR_KEY, None)
        message = "; ".join(summary.warnings) or None
        extra = f"{summary.mode}; {summary.pages} pages; withdrawn {summary.withdrawn}"
        store.finish_run(run_id, status, f"{extra}; {message}" if message else extra,
                         summary.seconds)
        if own_client:
            client.close()
    return summary


def _pages(
    client: Client, params: dict[str, str], token: str | None, summary: SyncSummary,
    say: Callable[[str], None],
) -> Iterator[tuple[int | None, list, str | None]]:
    """(totalCount, studies, next token) per page, stopping on an empty page or a loop.

    The next page is fetched in a background thread while the caller validates and commits
    the current one, so upstream's work and ours overlap (one request in flight at a time:
    the rate limit and retries are unchanged).
    """
    seen: set[str] = set()
    if token:
        seen.add(token)

    def fetch(tok: str | None, first: bool) -> dict:
        query = dict(params)
        if first:
            query["countTotal"] = "true"
        if tok:
            query["pageToken"] = tok
        return client.studies(query)

    pool = ThreadPoolExecutor(1, thread_name_prefix="trialscope-sync")
    try:
        pending = pool.submit(fetch, token, True)
        first = True
        while True:
            doc = pending.result()
            total = doc.get("totalCount") if first else None
            first = False
            studies = doc.get("studies") or []
            nxt = doc.get("nextPageToken")
            if nxt is not None and not isinstance(nxt, str):
                nxt = str(nxt)
            if studies and nxt and nxt in seen:
                summary.complete = False
                summary.warnings.append(f"upstream repeated page token {nxt[:40]!r}; stopped paging")
                say(summary.warnings[-1])
                yield total, studies, None
                return
            last = not studies or not nxt
            if not last:
                seen.add(nxt)
                pending = pool.submit(fetch, nxt, False)
            yield total, studies, nxt if studies else None
            if last:
                return
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _list_studies(
    store: Store, client: Client, cursor: dict, summary: SyncSummary, page_size: int,
    bar: Progress, say: Callable[[str], None], pipeline: Pipeline | None = None,
) -> None:
    params = {"pageSize": str(page_size)}
    if pipeline is not None:
        bar.detail = lambda: "  ".join(f"{n} {c:,}" for n, c in pipeline.done.items())
    ceiling = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    if cursor.get("since"):
        params["filter.advanced"] = f"AREA[LastUpdatePostDate]RANGE[{cursor['since']},MAX]"
    for total, studies, nxt in _pages(client, params, cursor.get("token"), summary, say):
        if total is not None and bar.total is None and isinstance(total, int):
            bar.total = total if not cursor.get("pages") else None
        page = cursor["pages"] + 1
        versions: list[StudyVersion] = []
        rejects: list[Reject] = []
        for item in _page_items(studies, client.base_url, page):
            got = to_version(item) if isinstance(item, SourceRecord) else item
            if isinstance(got, StudyVersion):
                got.raw = got.record
            if isinstance(got, Reject):
                rejects.append(got)
            else:
                versions.append(got)
                mark = _as_date(got.last_update)
                if mark and mark > ceiling:  # a date in the future is bad data: never jump past today
                    mark = ceiling
                if mark and (cursor["high_water"] is None or mark > cursor["high_water"]):
                    cursor["high_water"] = mark
        cursor.update(token=nxt, pages=page)
        if nxt is None:
            cursor["phase"] = "sweep" if cursor["mode"] == "full" else "done"
            cursor["listing_complete"] = summary.complete
        meta = {CURSOR_KEY: orjson.dumps(cursor).decode()}
        if versions or rejects:
            outcomes = store.upsert_batch(summary.run_id, versions, rejects, meta=meta)
            if pipeline is not None:
                pipeline.committed(versions, outcomes)
            for outcome in outcomes:
                if outcome is Outcome.ADDED:
                    summary.added += 1
                elif outcome is Outcome.UPDATED:
                    summary.updated += 1
                elif outcome is Outcome.CONFLICT:
                    summary.conflicts += 1
                else:
                    summary.unchanged += 1
            summary.rejected += len(rejects)
        else:
            store.set_meta(CURSOR_KEY, meta[CURSOR_KEY])
        summary.pages += 1
        bar.advance(len(studies))


def _sweep(
    store: Store, client: Client, summary: SyncSummary, page_size: int, today: str,
    say: Callable[[str], None],
) -> None:
    """Every NCT id upstream; mark the ones gone withdrawn (and unmark the ones back)."""
    upstream: set[str] = set()
    expected: int | None = None
    complete_before = summary.complete
    summary.complete = True
    for total, studies, _ in _pages(client, {"fields": "NCTId", "pageSize": str(page_size)},
                                    None, summary, say):
        if isinstance(total, int):
            expected = total
        for item in studies:
            nct = nct_id_of(item) if isinstance(item, dict) else None
            if nct:
                upstream.add(nct)
    sweep_ok = summary.complete
    summary.complete = complete_before and sweep_ok
    if not sweep_ok or not upstream or (expected is not None and len(upstream) < expected):
        summary.warnings.append(
            f"the NCT id sweep looks incomplete ({len(upstream)} ids"
            + (f" of {expected}" if expected is not None else "") + "); nothing marked withdrawn"
        )
        say(summary.warnings[-1])
        return
    gone = [n for n in store.nct_ids() if n not in upstream]
    summary.withdrawn = store.mark_withdrawn(gone, today)
    back = [n for n in store.withdrawn() if n in upstream]
    summary.restored = store.unmark_withdrawn(back) if back else 0


# -- status ---------------------------------------------------------------------------------


def _age_seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(seconds, 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{int(seconds)} seconds"


def status(store: Store) -> dict:
    """The store's freshness: last sync, its counts, the data's age, a pending sync."""
    newest = store.newest_update()
    data_age = None
    if _as_date(newest):
        data_age = (date.today() - date.fromisoformat(_as_date(newest))).days
    syncs = store.runs(limit=50, kind="sync")
    last_ok = next((r for r in syncs if r.status == "done"), None)
    ingests = store.runs(limit=1, kind="ingest")
    return {
        "store": _safe(store.url),
        "studies": store.count(),
        "withdrawn": len(store.withdrawn()),
        "newest_update": newest,
        "data_age_days": data_age,
        "last_sync": syncs[0].as_dict() if syncs else None,
        "last_successful_sync": last_ok.as_dict() if last_ok else None,
        "since_last_successful_sync_s": _age_seconds(last_ok.finished_at) if last_ok else None,
        "high_water": (_load(store, LAST_KEY) or {}).get("high_water"),
        "pending_sync": _load(store, CURSOR_KEY),
        "last_ingest": ingests[0].as_dict() if ingests else None,
    }


def _safe(url: str) -> str:
    from .store.postgres import _safe as safe

    return safe(url)


# -- command line ---------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    from .cli import UsageError, after_ingest, default_db, open_store
    from .pipeline import summary_line, until_searchable

    if not args.source.startswith(("http://", "https://")):
        raise UsageError(f"--from needs an http(s) URL of an API v2 server, got {args.source!r}")
    if args.since is not None:
        try:
            date.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since needs a date YYYY-MM-DD, got {args.since!r}") from None
        if args.full:
            raise UsageError("--since and --full do not go together")
    if not 1 <= args.page_size <= 1000:
        raise UsageError("--page-size must be 1 to 1000")
    polite = Politeness(rate=args.rate, timeout=args.timeout, retries=args.retries,
                        backoff=args.backoff)
    store = open_store(args.db)
    quiet = args.json
    log = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr))
    progress = False if args.json else args.progress
    try:
        summary, whole = until_searchable(store, lambda pipe: sync(
            store, args.source, since=args.since, full=args.full, page_size=args.page_size,
            polite=polite, progress=progress, log=log, pipeline=pipe), progress)
    except SyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"  the pages committed so far are kept; run `trialscope sync --db "
              f"{_safe(args.db or default_db())}` again to resume", file=sys.stderr)
        after_ingest(store)
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps({**summary.as_dict(), "command": whole},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    rate = summary.as_dict()["records_per_s"]
    what = f"{summary.mode} sync" + (f" since {summary.since}" if summary.since else "")
    if summary.resumed_from_page:
        what += f", resumed at page {summary.resumed_from_page}"
    print(f"run {summary.run_id} ({what}): {summary.added} added, {summary.updated} updated, "
          f"{summary.unchanged} unchanged, "
          + (f"{summary.conflicts} conflicts, " if summary.conflicts else "")
          + f"{summary.rejected} rejected, "
          f"{summary.withdrawn} withdrawn, {summary.restored} restored; {summary.pages} pages, "
          f"{summary.requests} requests ({summary.retries} retried) in {summary.seconds:.1f}s"
          + (f" ({rate:,.0f} records/s)" if rate else ""))
    if summary.high_water:
        print(f"  high-water mark {summary.high_water}: the next sync asks for studies updated since then")
    for w in summary.warnings:
        print(f"  warning: {w}")
    if summary.rejected:
        print(f"  see the rejects with: trialscope rejects --run {summary.run_id}")
    print(summary_line(whole))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .cli import open_store

    st = status(open_store(args.db))
    if args.json:
        sys.stdout.write(orjson.dumps(st, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"store {st['store']}: {st['studies']:,} studies ({st['withdrawn']:,} withdrawn upstream)")
    if st["newest_update"]:
        age = f", {st['data_age_days']} days old" if st["data_age_days"] is not None else ""
        print(f"newest last-update date: {st['newest_update']}{age}")
    last, ok = st["last_sync"], st["last_successful_sync"]
    if last is None:
        print("never synced (trialscope sync)")
    else:
        print(f"last sync: run {last['id']} {last['status']} at {last['finished_at'] or last['started_at']}"
              f" from {last['source']}: +{last['added']} ~{last['updated']} ={last['unchanged']}"
              f" !{last['rejected']} ({last['message'] or ''})")
    if ok:
        print(f"last successful sync: run {ok['id']}, {_human(st['since_last_successful_sync_s'])} ago"
              + (f"; high-water mark {st['high_water']}" if st["high_water"] else ""))
    pending = st["pending_sync"]
    if pending:
        print(f"unfinished {pending.get('mode')} sync (run {pending.get('run')}): "
              f"{pending.get('pages', 0)} pages committed; `trialscope sync` resumes it")
    if st["last_ingest"]:
        li = st["last_ingest"]
        print(f"last ingest: run {li['id']} {li['status']} at {li['finished_at'] or li['started_at']}"
              f": +{li['added']} ~{li['updated']} ={li['unchanged']} !{li['rejected']}")
    return 0


def register_commands(subparsers, common) -> None:
    p = subparsers.add_parser("sync", parents=[common],
                              help="update the store from ClinicalTrials.gov (or any API v2 server)")
    p.add_argument("--from", dest="source", default=DEFAULT_URL,
                   help=f"API v2 base URL (default {DEFAULT_URL}; a trialscope server's /api/v2 works)")
    p.add_argument("--since", default=None,
                   help="fetch studies updated on or after this date (default: the last sync's high-water mark)")
    p.add_argument("--full", action="store_true",
                   help="fetch every study, then mark studies gone upstream as withdrawn")
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--rate", type=float, default=5.0, help="requests per second at most (default 5)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    p.add_argument("--retries", type=int, default=6, help="retries per request (default 6)")
    p.add_argument("--backoff", type=float, default=1.0,
                   help="first retry delay in seconds, doubling, with jitter (default 1)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=cmd_sync)

    p = subparsers.add_parser("status", parents=[common],
                              help="the data's age, the last sync and its counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

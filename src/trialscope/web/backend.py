"""The web layer's view of the store and the search: one shared context per process.

`trialscope.search` is the search engine. Searches call `catch_up()` at most every
CATCH_UP_S seconds, so a running server sees studies ingested by other processes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from typing import Any

from ..search import FilterError, QueryError, Searcher, SearchRequest, SearchResult  # noqa: F401
from ..store import open_store

log = logging.getLogger("trialscope.web")

CATCH_UP_S = 2.0


class Web:
    """Store + searcher shared by every request of one server process."""

    def __init__(self, db: str | None):
        self.store = open_store(db)
        self._searcher: Any = None
        self._lock = threading.Lock()
        self._caught_up_at = 0.0
        self._cache: dict[Any, Any] = {}
        self._similar: OrderedDict[tuple, tuple[int, list[dict]]] = OrderedDict()
        self._pages: OrderedDict[tuple, str] = OrderedDict()
        self._mem = threading.Lock()  # guards the in-memory caches (requests run in threads)
        self.page_cache = os.environ.get("TRIALSCOPE_PAGE_CACHE", "1") != "0"

    def page_get(self, key: tuple) -> str | None:
        """A rendered record page for this store state (pages are pure functions of it)."""
        if not self.page_cache:
            return None
        full = (self.store.max_seq(), *key)
        with self._mem:
            html = self._pages.get(full)
            if html is not None:
                self._pages.move_to_end(full)
        return html

    def page_put(self, key: tuple, html: str) -> None:
        if not self.page_cache or len(html) > 3_000_000:
            return
        full = (self.store.max_seq(), *key)
        with self._mem:
            self._pages[full] = html
            while len(self._pages) > 256:
                self._pages.popitem(last=False)

    def similar_cached(self, nct_id: str, limit: int) -> list[dict] | None:
        """See-also rows computed earlier for this store state, or None."""
        hit = self._similar.get((nct_id, limit))
        if hit is not None and hit[0] == self.store.max_seq():
            return hit[1]
        return None

    def remember_similar(self, nct_id: str, limit: int, rows: list[dict]) -> None:
        seq = self.store.max_seq()
        with self._mem:
            self._similar[(nct_id, limit)] = (seq, rows)
            self._similar.move_to_end((nct_id, limit))
            while len(self._similar) > 4096:
                self._similar.popitem(last=False)

    @property
    def searcher(self):
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:
                    self._searcher = Searcher(self.store)
                    self._caught_up_at = time.monotonic()
        return self._searcher

    def catch_up(self) -> None:
        searcher = self.searcher
        if time.monotonic() - self._caught_up_at < CATCH_UP_S:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is catching up; search what is there
        try:
            self._caught_up_at = time.monotonic()
            searcher.catch_up()
        except Exception:  # a failed catch-up must not fail the search
            log.exception("search catch_up failed")
        finally:
            self._lock.release()

    def search(self, req) -> SearchResult:
        self.catch_up()
        return self.searcher.search(req)

    def data_age(self) -> dict:
        """How old the data is, for every page: the last successful sync, else the newest
        last-update date held (cached until the store changes)."""

        def compute() -> dict:
            from ..sync import status

            try:
                st = status(self.store)
            except Exception:  # a page must not fail for its footer
                log.exception("data age failed")
                return {}
            last = st.get("last_successful_sync") or {}
            return {"newest_update": st.get("newest_update"), "age_days": st.get("data_age_days"),
                    "last_sync": (last.get("finished_at") or last.get("started_at") or "")[:10] or None,
                    "studies": st.get("studies")}

        return self.cached(("data_age",), compute)

    def facet_counts(self, req) -> tuple[dict[str, list[tuple[str, int]]], bool]:
        """A search's facets alone (the search page loads them after its hits)."""
        self.catch_up()
        return self.searcher.facet_counts(req)

    def cached(self, key: Any, compute):
        """Memoize an expensive derived value until the store changes."""
        stamp = self.store.max_seq()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = compute()
        with self._mem:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (stamp, value)
        return value


def similar(web: Web, nct_id: str, record: dict, limit: int = 6) -> list[dict]:
    """See also (cached per store state): `trialscope.similar`, else search hits for the same
    conditions; each row with its effective status and when it was last verified."""
    rows = web.similar_cached(nct_id, limit)
    if rows is None:
        rows = with_trust(web.store, _similar(web, nct_id, record, limit))
        web.remember_similar(nct_id, limit, rows)
    return rows


def with_trust(store, rows: list[dict]) -> list[dict]:
    """Rows of studies with `overallStatus` made effective (trialscope.trust), and
    `reportedStatus` / `statusVerifiedDate` beside it."""
    from ..trust import effective_status

    got = store.get_many([r["nctId"] for r in rows])
    out = []
    for r in rows:
        s = got.get(r["nctId"])
        if s is None:
            out.append(r)
            continue
        e = effective_status(s.record)
        out.append({**r, "overallStatus": e.status, "reportedStatus": e.reported, "statusVerifiedDate": e.verified})
    return out


def _similar(web: Web, nct_id: str, record: dict, limit: int) -> list[dict]:
    try:
        from ..similar import similar_to
    except ModuleNotFoundError as exc:
        if exc.name != "trialscope.similar":
            raise
        return search_related(web, nct_id, record, limit)
    try:
        return similar_to(web.store, nct_id, limit)
    except Exception as exc:  # e.g. no embedding model installed: fall back to search
        log.warning("similar_to failed for %s (%s); See also uses search", nct_id, exc)
        return search_related(web, nct_id, record, limit)


def search_related(web: Web, nct_id: str, record: dict, limit: int) -> list[dict]:
    proto = record.get("protocolSection") or {}
    conditions = (proto.get("conditionsModule") or {}).get("conditions") or []
    if conditions:
        req = SearchRequest(fields={"cond": " OR ".join(_quote(c) for c in conditions[:5])},
                            limit=limit + 1, snippets=False, facets=False, lenient=True)
    else:
        desc = proto.get("descriptionModule") or {}
        ident = proto.get("identificationModule") or {}
        text = " ".join(filter(None, [ident.get("briefTitle"), ident.get("officialTitle"), desc.get("briefSummary")]))
        words = [w for w in _words(text) if len(w) > 3][:12]
        if not words:
            return []
        req = SearchRequest(query=" OR ".join(words), limit=limit + 1, snippets=False, facets=False,
                            lenient=True)
    try:
        result = web.search(req)
    except (QueryError, FilterError):
        return []
    return [
        {"nctId": h.nct_id, "briefTitle": h.brief_title, "overallStatus": h.overall_status,
         "phases": h.phases, "score": h.score, "why": None}
        for h in result.hits if h.nct_id != nct_id
    ][:limit]


def _quote(text: str) -> str:
    return '"' + " ".join(_words(text)) + '"'


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text)

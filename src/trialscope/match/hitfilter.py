"""The matcher's hard filters applied to a search's hits instead of inside its query.

A patient's age and sex (and healthy volunteers, and the withdrawn studies every search
leaves out) are constant-score clauses of each source's query. Each costs the whole index
on every search: the ~430,000 "sex:ALL" postings read into a bitset, the age columns
scanned. At 500,000 studies that was half of a bag search's CPU (benchmarks/match.py), and
a match runs seven of them with the same filters. So the text query runs alone and its hits
are checked against per-snapshot columns (each live document's age limits as fast fields,
the filter terms as bool arrays), read deeper when too few pass.

The result is the filtered search's: a constant clause adds 0 to every score, so the
filtered top `depth` is the unfiltered ranking restricted to the documents that pass, in
the same order (score, then document address).
"""

from __future__ import annotations

import math
import threading

import numpy as np
from tantivy import Query

from ..index.fulltext import OPEN_MAX_AGE
from ..normalize import years_to_days

# The first read is `depth / share * OVERREAD` deep (`share`: the corpus's studies that pass),
# the next READ_AGAIN times that; a filter that passes fewer than MIN_SHARE of the studies
# (a newborn, healthy volunteers of 90) stays in the query: there the text query alone would
# read and convert far more hits than it keeps. Over the 109 dev notes at 500k studies,
# 3x needs a second read in 1% of the searches (1.2x in 12%). At 21k, 1.5x reads again in 8
# of the 670 source searches (3x: none) and converts 44% fewer hits (each a Python object,
# made and checked holding the GIL), but CPU p50 fell only 60.2 -> 58.6 ms, and at 500k a
# second read repeats a search of tens of ms in more matches: 3x stays
OVERREAD, READ_AGAIN, MIN_SHARE, MAX_READ = 3.0, 4, 0.15, 100_000
MASKS = 16  # filter combinations kept per snapshot (one match's sources share one)


class Columns:
    """What the hard filters read, for one index snapshot (a tantivy Searcher): per
    segment, each document's age limits (days) and the documents holding each filter
    term. Built on first use (0.6 s CPU at 500,000 studies, ~9 MB)."""

    def __init__(self, searcher, schema):
        self.searcher, self.schema = searcher, schema
        self.num_docs = searcher.num_docs
        hits = searcher.search(Query.all_query(), max(1, self.num_docs), count=False).hits if self.num_docs else []
        by_segment: dict[int, list] = {}
        for _, addr in hits:
            by_segment.setdefault(addr.segment_ord, []).append(addr)
        self.sizes = [0] * (max(by_segment, default=-1) + 1)
        self.min_age: list[np.ndarray] = []
        self.max_age: list[np.ndarray] = []
        for seg in range(len(self.sizes)):
            addrs = by_segment.get(seg, [])
            docs = np.fromiter((a.doc for a in addrs), dtype=np.int64, count=len(addrs))
            self.sizes[seg] = int(docs.max()) + 1 if len(docs) else 0
            for name, out in (("min_age", self.min_age), ("max_age", self.max_age)):
                col = np.full(self.sizes[seg], np.nan)
                if len(addrs):
                    col[docs] = [math.nan if v is None else v for v in searcher.fast_field_values(name, addrs)]
                out.append(col)
        self._terms: dict[tuple[str, str], list[np.ndarray]] = {}
        self._masks: dict[tuple, tuple[list[bytes], int]] = {}
        self._lock = threading.Lock()

    def has(self, field: str, value: str) -> list[np.ndarray]:
        """Per segment: the documents holding the term (what a term query matches)."""
        got = self._terms.get((field, value))
        if got is None:
            got = [np.zeros(n, dtype=bool) for n in self.sizes]
            q = Query.term_query(self.schema, field, value)
            for _, addr in self.searcher.search(q, max(1, self.num_docs), count=False).hits:
                got[addr.segment_ord][addr.doc] = True
            self._terms[(field, value)] = got
        return got

    def mask(self, age: float | None, sex: str | None, healthy: bool) -> tuple[list[bytes], int]:
        """Per segment, the documents that pass (as `search.filters.Filters.build` writes the
        clauses: sex one of (SEX, ALL); 0 <= min_age <= age <= max_age <= open; healthy
        volunteers accepted; not withdrawn), one byte each (indexing bytes is twice as fast
        as a numpy array's scalars, over thousands of hits a search), and how many pass."""
        key = (age, sex, healthy)
        with self._lock:
            got = self._masks.get(key)
            if got is not None:
                return got
            masks = [~w for w in self.has("withdrawn", "true")]
            if sex:
                for m, a, b in zip(masks, self.has("sex", sex.upper()), self.has("sex", "ALL"), strict=True):
                    m &= a | b
            if age is not None:
                days = years_to_days(age)
                for m, lo, hi in zip(masks, self.min_age, self.max_age, strict=True):
                    m &= (lo >= 0.0) & (lo <= days) & (hi >= days) & (hi <= OPEN_MAX_AGE)
            if healthy:
                for m, hv in zip(masks, self.has("hv", "true"), strict=True):
                    m &= hv
            if len(self._masks) >= MASKS:
                self._masks.pop(next(iter(self._masks)))
            got = self._masks[key] = ([m.tobytes() for m in masks], int(sum(int(m.sum()) for m in masks)))
            return got


def handles(filters) -> bool:
    """Whether these filters can be checked on the hits (open status, distance and a list of
    ids stay in the query)."""
    return not (filters.open_only or filters.near or filters.ids)


def filtered_hits(searcher, columns: Columns, text_query, filters, depth: int) -> list | None:
    """The first `depth` (score, address) hits of `text_query` that pass `filters`, as the
    filtered query would return them; None when the filter passes too few studies to be
    worth it (the caller runs the filtered query)."""
    masks, passing = columns.mask(filters.age, filters.sex, bool(filters.healthy))
    if not columns.num_docs or passing < MIN_SHARE * columns.num_docs:
        return None
    limit = min(columns.num_docs, math.ceil(depth * columns.num_docs / passing * OVERREAD) + 20)
    while limit <= MAX_READ:
        hits = searcher.search(text_query, limit, count=False).hits
        kept = [hit for hit in hits if masks[hit[1].segment_ord][hit[1].doc]]
        if len(kept) >= depth or len(hits) < limit:
            return kept[:depth]
        if limit >= columns.num_docs:
            return kept[:depth]
        limit = min(columns.num_docs, limit * READ_AGAIN)
    return None

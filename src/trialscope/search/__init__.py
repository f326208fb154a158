"""Search: the query language, filters, facets, sorting, cursor paging and snippets.

`Searcher(store).search(SearchRequest(...))` runs over the tantivy index derived from the
store (see `trialscope.index`). Free text is BM25 over weighted fields
(`trialscope.index.fulltext.TEXT_WEIGHTS`, compiled in `compile.py`); filters are
constant-score clauses on raw fields (`filters.py`); facets are tantivy terms aggregations
over the filtered result set, counted in Rust (`searcher.py`); pages are opaque, bounded
cursors (`cursor.py`).
"""

from ..essie import QueryError
from .cli import register_commands
from .request import (
    OPEN_STATUSES,
    PHASE_VALUES,
    STATUS_VALUES,
    FilterError,
    Hit,
    SearchRequest,
    SearchResult,
)
from .searcher import Searcher

__all__ = [
    "QueryError", "FilterError", "SearchRequest", "Hit", "SearchResult", "Searcher",
    "register_commands", "STATUS_VALUES", "PHASE_VALUES", "OPEN_STATUSES",
]

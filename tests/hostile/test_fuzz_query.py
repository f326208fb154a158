"""Fuzzing the query language (hypothesis): the Essie parser, its evaluator, and
filter.advanced. Any input is a QueryError (or FilterError) with a message, or a result:
never another exception, never a crash. Bounded: a few hundred inputs, well under a minute."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.essie import QueryError, parse
from trialscope.search import FilterError, Searcher, SearchRequest
from trialscope.store import open_store

FRAGMENTS = [
    "AREA[", "AREA[Phase]", "AREA[Condition]", "AREA[StartDate]", "AREA[MinimumAge]", "AREA[EnrollmentCount]",
    "AREA[HasResults]", "AREA[LocationCity]", "AREA[ConditionSearch]", "AREA[Nope]", "AREA[]", "SEARCH[Location]",
    "SEARCH[", "EXPANSION[None]", "EXPANSION[Lossy]", "EXPANSION[x]", "COVERAGE[FullMatch]", "COVERAGE[StartsWith]",
    "TILT[StartDate]", "RANGE[", "RANGE[MIN,MAX]", "RANGE[2020-01-01, MAX]", "RANGE[MIN, 16 years]", "RANGE[1,2,3]",
    "RANGE[a,b]", "MISSING", "ALL", "\\MISSING", "PHASE3", "true", "2022", "16 years", "liver", "cancer", "hepat*",
    "x*", "cond:", "intr:", "foo:", "-", "NOT ", " AND ", " OR ", "and", "(", ")", '"', '\\"', "]", "[", " ", ",",
    "é", "\u200b", "\x00", "10:30", "[**2148**]",
]
expressions = st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join)


@pytest.fixture(scope="module")
def searcher(sample_db):
    store = open_store(sample_db)
    yield Searcher(store)
    store.close()


@settings(max_examples=400, deadline=None)
@given(st.one_of(expressions, st.text(max_size=60)))
def test_parser_never_raises_anything_but_a_query_error(text):
    try:
        parse(text)
    except QueryError as exc:
        assert exc.message and (exc.position is None or 0 <= exc.position <= len(text))
    parse(text, lenient=True)  # patient notes: never raises


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions, st.sampled_from(["query", "cond", "locn", "advanced"]))
def test_evaluator_never_raises_anything_but_a_query_error(searcher, text, where):
    kw = {"query": {"query": text}, "cond": {"fields": {"cond": text}}, "locn": {"fields": {"locn": text}},
          "advanced": {"advanced": [("filter.advanced", text)]}}[where]
    try:
        result = searcher.search(SearchRequest(limit=5, facets=False, snippets=False, **kw))
    except (QueryError, FilterError) as exc:
        assert str(exc)
        if where == "advanced":
            assert isinstance(exc, FilterError) or exc.param == "filter.advanced"
        return
    assert result.total >= 0 and len(result.hits) <= 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=40, max_value=2000), st.sampled_from(["(", "NOT ", "-(", "AREA[Condition]",
                                                                   "COVERAGE[Contains]", "cond: "]))
def test_deep_or_long_inputs_are_bounded(searcher, n, unit):
    text = unit * n + "x"
    with pytest.raises(QueryError):
        parse(text)
    searcher.search(SearchRequest(query=text, lenient=True, limit=1, facets=False, snippets=False))

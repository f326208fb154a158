"""Fuzzing the query language (hypothesis): the Essie parser, its evaluator, and
filter.advanced, in the library and through a real server. Any input is a QueryError (or FilterError) with a message, or a result:
never another exception, never a crash. Bounded: a few hundred inputs, well under a minute."""

from __future__ import annotations

import httpx
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
    "RANGE[a,b]", "RANGE[MIN, 99999999999999999999 years]", "RANGE[-1e300,1e300]", "MISSING", "ALL", "\\MISSING", "PHASE3", "true", "2022", "16 years", "liver", "cancer", "hepat*",
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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions)
def test_lenient_search_never_raises(searcher, text):
    """Patient notes (lenient): whatever the text, a result, never an error."""
    result = searcher.search(SearchRequest(query=text, lenient=True, limit=3, facets=False, snippets=False))
    assert result.total >= 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=40, max_value=2000), st.sampled_from(["(", "NOT ", "-(", "AREA[Condition]",
                                                                   "COVERAGE[Contains]", "cond: "]))
def test_deep_or_long_inputs_are_bounded(searcher, n, unit):
    text = unit * n + "x"
    with pytest.raises(QueryError):
        parse(text)
    searcher.search(SearchRequest(query=text, lenient=True, limit=1, facets=False, snippets=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions, st.sampled_from(["filter.advanced", "postFilter.advanced", "query.term", "query.cond",
                                     "query.locn", "query.id"]))
def test_the_api_answers_200_or_a_400_naming_the_parameter(hostile_server, text, param):
    r = httpx.get(f"{hostile_server}/api/v2/studies", params={param: text, "pageSize": "2"}, timeout=30)
    assert r.status_code in (200, 400), (param, text, r.status_code, r.text[:200])
    body = r.json()
    if r.status_code == 400:
        assert param in str(body), (param, text, body)
    else:
        assert "studies" in body

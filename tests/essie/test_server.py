"""Essie through a real `trialscope serve`: every query.* parameter and filter.advanced."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import running_server


@pytest.fixture(scope="module")
def base(sample_db):
    with running_server(sample_db) as url:
        yield url


def total(base: str, **params) -> int:
    r = httpx.get(f"{base}/api/v2/studies", params={"countTotal": "true", "pageSize": "1", **params}, timeout=30)
    assert r.status_code == 200, (params, r.status_code, r.text[:300])
    return r.json()["totalCount"]


def test_the_specs_example_is_not_empty(base):
    assert total(base, **{"query.term": "AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX]"}) > 0


def test_query_term_equals_filter_advanced(base):
    term = total(base, **{"query.term": "AREA[Phase]PHASE3"})
    assert term == total(base, **{"filter.advanced": "AREA[Phase]PHASE3"}) > 0
    assert total(base, **{"query.term": "AREA[Phase]PHASE3 OR AREA[Phase]PHASE2"}) > term
    assert total(base, **{"query.term": "AREA[Phase]PHASE3 NOT AREA[Phase]PHASE2"}) < term


@pytest.mark.parametrize(("param", "expr"), [
    ("query.cond", "EXPANSION[Concept]liver"),
    ("query.cond", 'COVERAGE[FullMatch]"hepatocellular carcinoma"'),
    ("query.cond", "AREA[ConditionMeshTerm]Carcinoma"),
    ("query.locn", "SEARCH[Location](AREA[LocationCity]Chicago AND AREA[LocationState]Illinois)"),
    ("query.locn", "AREA[LocationCountry]China"),
    ("query.term", "AREA[EnrollmentCount]RANGE[100, MAX] AND AREA[HasResults]true"),
    ("query.term", "AREA[StdAge]CHILD AND AREA[MinimumAge]RANGE[MIN, 16 years]"),
])
def test_operators_in_query_params_find_studies(base, param, expr):
    assert total(base, **{param: expr}) > 0


@pytest.mark.parametrize(("param", "expr", "says"), [
    ("query.term", "AREA[Phase]PHASE9", "PHASE9"),
    ("query.cond", "AREA[Nope]x", "unknown area"),
    ("query.locn", "SEARCH[Location](AREA[LocationCity]x", "unclosed parenthesis"),
    ("query.term", "AREA[Condition]RANGE[1,2]", "RANGE[]"),
])
def test_what_cannot_be_evaluated_is_a_400_naming_it(base, param, expr, says):
    r = httpx.get(f"{base}/api/v2/studies", params={param: expr}, timeout=30)
    assert r.status_code == 400, r.text[:300]
    assert says in r.text and param in r.text

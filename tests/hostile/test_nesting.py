"""Deeply nested queries: the parser is depth-bounded, so nesting is a 400 that says so,
on every surface that takes a query."""

from __future__ import annotations

import httpx
import pytest

from tests.hostile.conftest import assert_alive
from trialscope.essie import MAX_DEPTH, QueryError, parse

NESTED = ["(" * 300 + "a" + ")" * 300, "(" * 300, "-(" * 600 + "a", "NOT " * 400 + "a",
          "cond: " * 300 + "x"]


@pytest.mark.parametrize("text", NESTED)
def test_parser_refuses_deep_nesting(text):
    with pytest.raises(QueryError, match="nests more than"):
        parse(text)
    parse(text, lenient=True)  # patient notes never raise


def test_nesting_up_to_the_limit_parses():
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)


@pytest.mark.parametrize("path,param", [("/api/v2/studies", "query.term"), ("/api/v2/studies", "query.cond"),
                                        ("/", "q"), ("/stats", "q"), ("/export.csv", "q")])
@pytest.mark.parametrize("text", NESTED[:3])
def test_every_surface_answers_400(hostile_server, path, param, text):
    r = httpx.get(f"{hostile_server}{path}", params={param: text}, timeout=30)
    assert r.status_code == 400, (path, r.status_code, r.text[:200])
    assert "nests more than" in r.text
    assert_alive(hostile_server)

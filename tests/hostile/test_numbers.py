"""Numbers in parameters are parsed strictly: a malformed one is a 400 naming the parameter."""

from __future__ import annotations

import httpx
import pytest

from tests.hostile.conftest import assert_alive

BAD = [
    ("/api/v2/studies", {"filter.geo": "distance(1.2.3,4,5mi)"}, "filter.geo"),
    ("/api/v2/studies", {"filter.geo": "distance(1,2,-5mi)"}, "filter.geo"),
    ("/api/v2/studies", {"filter.geo": "distance(1,2," + "9" * 500 + "km)"}, "filter.geo"),
    ("/api/v2/studies", {"filter.geo": "distance(nan,2,5mi)"}, "filter.geo"),
    ("/api/v2/studies", {"sort": ","}, "sort"),
    ("/api/v2/studies", {"sort": "|"}, "sort"),
    ("/api/v2/studies", {"pageSize": "1e3"}, "pageSize"),
    ("/api/v2/studies", {"pageSize": "9" * 5000}, "pageSize"),
    ("/", {"age": "seventy"}, "age"),
    ("/", {"age": "nan"}, "age"),
    ("/", {"lat": "1.2.3", "lon": "4"}, "lat"),
]


@pytest.mark.parametrize("path,params,param", BAD)
def test_malformed_numbers_are_a_400(hostile_server, path, params, param):
    r = httpx.get(f"{hostile_server}{path}", params=params, timeout=30)
    assert r.status_code == 400, (params, r.status_code, r.text[:200])
    if path.startswith("/api/"):
        assert r.json()["parameter"] == param
    else:
        assert param in r.text
    assert_alive(hostile_server)


def test_blank_sort_is_the_default_order(hostile_server):
    plain = httpx.get(f"{hostile_server}/api/v2/studies", timeout=30)
    blank = httpx.get(f"{hostile_server}/api/v2/studies", params={"sort": " "}, timeout=30)
    assert blank.status_code == 200 and blank.json() == plain.json()

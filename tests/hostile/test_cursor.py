"""Page cursors: a forged pageToken (or the web page's page=) can ask for any offset; the
offset is bounded and checked against the result size, never collected blindly."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.hostile.conftest import assert_alive, forged_token

OFFSETS = [10**10, 2**63 - 1, 2**63, 2**64, 10**30, -1, 1.5, "7", None]


def _first_token(base: str, path: str, params: dict, key: str) -> str:
    r = httpx.get(f"{base}{path}", params=params, timeout=30)
    assert r.status_code == 200
    if key == "json":
        return r.json()["nextPageToken"]
    m = re.search(r"page=([A-Za-z0-9_-]+)", r.text)
    assert m, "the search page links its next page"
    return m.group(1)


@pytest.mark.parametrize("offset", OFFSETS)
def test_api_forged_page_token_is_a_400(hostile_server, offset):
    token = _first_token(hostile_server, "/api/v2/studies", {"query.cond": "cancer", "pageSize": 5}, "json")
    r = httpx.get(f"{hostile_server}/api/v2/studies",
                  params={"query.cond": "cancer", "pageSize": 5, "pageToken": forged_token(token, offset)},
                  timeout=30)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["parameter"] == "pageToken" and "page_token" in body["message"]
    assert_alive(hostile_server)


@pytest.mark.parametrize("offset", [10**10, 2**63, 2**64])
def test_web_page_parameter_forged_offset_is_a_400(hostile_server, offset):
    token = _first_token(hostile_server, "/", {"q": "cancer"}, "html")
    r = httpx.get(f"{hostile_server}/", params={"q": "cancer", "page": forged_token(token, offset)}, timeout=30)
    assert r.status_code == 400
    assert "page_token" in r.text
    assert_alive(hostile_server)


def test_offset_past_the_results_names_the_size(hostile_server):
    token = _first_token(hostile_server, "/api/v2/studies", {"query.cond": "cancer", "pageSize": 5}, "json")
    r = httpx.get(f"{hostile_server}/api/v2/studies",
                  params={"query.cond": "cancer", "pageSize": 5, "pageToken": forged_token(token, 50_000)},
                  timeout=30)
    assert r.status_code == 400 and "past the end" in r.json()["message"]


def test_real_tokens_page_to_the_end(hostile_server):
    seen, token, total = [], None, None
    for _ in range(100):
        params = {"query.cond": "liver cancer", "pageSize": 25, "countTotal": "true"}
        if token:
            params["pageToken"] = token
        body = httpx.get(f"{hostile_server}/api/v2/studies", params=params, timeout=30).json()
        seen += [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]
        total = body.get("totalCount", total)
        token = body.get("nextPageToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == total > 25


@pytest.mark.parametrize("token", ["x" * 5000, "%%%", "eyJvIjoxfQ", "W10", "bnVsbA"])
def test_garbage_tokens_are_a_400(hostile_server, token):
    r = httpx.get(f"{hostile_server}/api/v2/studies", params={"pageToken": token}, timeout=30)
    assert r.status_code == 400 and r.json()["parameter"] == "pageToken"

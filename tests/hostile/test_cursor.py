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


# -- fuzz: any string as a token is an offset or a FilterError, never anything else --------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from trialscope.search.cursor import MAX_OFFSET, fingerprint, make_token, read_token  # noqa: E402
from trialscope.search.request import FilterError, SearchRequest  # noqa: E402

FP = fingerprint(SearchRequest(query="cancer"))
_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
                            max_leaves=10)


def _read(token):
    try:
        offset = read_token(token, FP)
    except FilterError as exc:
        assert exc.param == "page_token" and str(exc)
        return None
    assert type(offset) is int and 0 <= offset <= MAX_OFFSET
    return offset


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_as_a_token(token):
    _read(token)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["o", "f", "x"]), _json_values, max_size=3))
def test_any_json_object_as_a_token(data):
    import base64
    import json

    token = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    got = _read(token)
    if got is not None:  # only a well-formed token of this search reads
        assert data == {"o": got, "f": FP}


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_any_offset_in_a_real_shaped_token(offset):
    import base64
    import json

    token = base64.urlsafe_b64encode(json.dumps({"o": offset, "f": FP}, separators=(",", ":")).encode()).decode().rstrip("=")
    if 0 <= offset <= MAX_OFFSET:
        assert token == make_token(offset, FP)
    got = _read(token)
    assert got == (offset if 0 <= offset <= MAX_OFFSET else None)

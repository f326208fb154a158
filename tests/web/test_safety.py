"""The last safety net: a Rust panic in tantivy (pyo3's PanicException is a BaseException,
which the app's Exception handler never sees) becomes the app's 500, with its headers.

The panic is a real one: tantivy asserts that a search asks for at least one hit. It is
raised from a route added to the real app for this test: no request of the hostile suite or
of the schemathesis run reaches a panic today (pages and limits are validated before tantivy
sees them), so the net is tested on its own."""

from __future__ import annotations

import logging

import pytest
import tantivy
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def app(sample_db):
    from trialscope.web import create_app

    app = create_app(sample_db)
    web = app.state.web

    def panic():
        web.searcher._searcher.search(tantivy.Query.all_query(), 0)  # tantivy: "Limit must be greater than 0"

    app.add_api_route("/api/v2/test-panic", panic, include_in_schema=False)
    app.add_api_route("/test-panic", panic, include_in_schema=False)
    return app


def test_a_tantivy_panic_is_a_base_exception(app):
    with pytest.raises(BaseException) as info:
        app.state.web.searcher._searcher.search(tantivy.Query.all_query(), 0)
    assert not isinstance(info.value, Exception)


@pytest.mark.parametrize("path,kind", [("/api/v2/test-panic", "application/json"), ("/test-panic", "text/html")])
def test_panic_becomes_the_apps_500(app, path, kind, caplog):
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR, "trialscope.web"):
        r = client.get(path)
        assert client.get("/healthz").status_code == 200  # the server goes on
    assert r.status_code == 500
    assert r.headers["content-type"].startswith(kind)
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    if kind == "application/json":
        assert r.json() == {"error": "internal error", "status": 500}
    else:
        assert "Something went wrong" in r.text
    lines = [rec for rec in caplog.records if "PanicException" in rec.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line, no traceback

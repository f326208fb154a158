"""Stored XSS: studies whose every text field carries a script payload, opened in a real
browser (Debian chromium) on every page that shows record text. Not one dialog may open, even
with the Content-Security-Policy bypassed (so escaping, not only the CSP, holds them back),
and the raw source record is a download, never a document of this origin."""

from __future__ import annotations

import httpx
import pytest

from tests.hostile.records import serve_records, with_text_everywhere

PAYLOADS = {
    "NCT09999921": "<script>alert('s')</script>",
    "NCT09999922": "<img src=x onerror=alert('i')>",
    "NCT09999923": "<svg onload=alert('v')><svg/onload=alert('v2')>",
    "NCT09999924": "\"><script>alert('q')</script><a href=\"javascript:alert('h')\">x</a>",
    "NCT09999925": "</textarea></pre></title><script>alert('t')</script>",
    "NCT09999926": "[click](javascript:alert('m')) <iframe src=\"javascript:alert('f')\"></iframe>",
    "NCT09999927": "'-alert('j')-' {{7*7}} ${alert('x')} <details open ontoggle=alert('d')>",
}


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory):
    records = [with_text_everywhere(nct, payload) for nct, payload in PAYLOADS.items()]
    with serve_records(tmp_path_factory.mktemp("xss"), records) as base:
        yield base



def _pages(base: str) -> list[str]:
    urls = [f"{base}/", f"{base}/?q=alert", f"{base}/?q=script&status=RECRUITING", f"{base}/stats",
            f"{base}/stats?q=alert", f"{base}/docs"]
    for nct in PAYLOADS:
        urls += [f"{base}/study/{nct}", f"{base}/study/{nct}/preview?kind=raw",
                 f"{base}/study/{nct}/preview?kind=v2", f"{base}/study/{nct}/see-also"]
    return urls


@pytest.mark.parametrize("bypass_csp", [False, True])
def test_no_payload_runs_in_a_browser(xss_server, browser, bypass_csp):
    ctx = browser.new_context(bypass_csp=bypass_csp)
    page = ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(f"{page.url}: {d.message}"), d.dismiss()))
    for url in _pages(xss_server):
        resp = page.goto(url)
        assert resp is not None and resp.status == 200, url
        page.wait_for_load_state("networkidle")
        # open every collapsible part (the source preview, long lists) so lazy content loads
        for details in page.locator("details").all():
            details.evaluate("d => d.open = true")
        page.wait_for_load_state("networkidle")
        assert page.locator("a[href^='javascript:' i], iframe[src^='javascript:' i]").count() == 0, url
        assert page.locator("script:not([src])").count() == 0, url  # no inline script at all
    ctx.close()
    assert dialogs == []


def test_record_text_is_shown_as_text(xss_server, browser):
    page = browser.new_page()
    page.goto(f"{xss_server}/study/NCT09999921")
    assert "<script>alert('s')</script>" in page.inner_text("h1#study-title")
    page.close()


@pytest.mark.parametrize("nct", list(PAYLOADS))
def test_raw_source_is_a_download(xss_server, browser, nct):
    r = httpx.get(f"{xss_server}/study/{nct}/raw", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with page.expect_download() as info:
        try:
            page.goto(f"{xss_server}/study/{nct}/raw")
        except Exception as exc:  # chromium aborts the navigation: it is a download, not a page
            assert "Download is starting" in str(exc) or "ERR_ABORTED" in str(exc), exc
    assert info.value.suggested_filename == f"{nct}.json"
    assert dialogs == []
    page.close()

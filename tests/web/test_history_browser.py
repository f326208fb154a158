"""A real browser (Debian chromium via Playwright) on the record page's History section and
the diff view, with and without JavaScript; screenshots for the README."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.browser import DOCS
from tests.history.conftest import STATUS_AND_ENROLLMENT, SWITCHED, pairs_db  # noqa: F401 (fixture)
from tests.servers import running_server


@pytest.fixture(scope="module")
def pairs_server(pairs_db):  # noqa: F811 (the fixture)
    with running_server(pairs_db) as base:
        yield base


def test_history_section_and_diff_view(pairs_server, browser, artifacts):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{pairs_server}/study/{SWITCHED}")
    page.click("nav.toc a[href='#history']")
    section = page.locator("section#history")
    assert section.is_visible()
    assert section.locator(".switch-flag").is_visible()
    assert "Outcome switched" in section.locator(".switch-flag").inner_text()
    rows = section.locator("table.versions tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text().startswith("v2")
    assert "enrollment 410 (estimated) → 227 (actual)" in rows.nth(0).inner_text()
    assert "first version held" in rows.nth(1).inner_text()
    section.screenshot(path=str(artifacts / "history-section.png"))

    section.locator("a", has_text="Compare with v1").click()
    page.wait_for_url(f"**/study/{SWITCHED}/history?from=1&to=2")
    assert page.locator("h1").inner_text().startswith("History of A CBT-based Mobile Intervention")
    modules = page.locator("section.diff-module h2")
    labels = [modules.nth(i).inner_text().split(" (")[0] for i in range(modules.count())]
    assert labels[:3] == ["Status", "Description", "Design"]
    status = page.locator("section.diff-module:has(h2:text('Status')) tr:has(th:text('Overall status'))")
    assert status.locator("td.old").inner_text() == "Recruiting" and status.locator("td.new").inner_text() == "Completed"
    assert page.locator("table.diff ins").first.is_visible() and page.locator("table.diff del").first.is_visible()
    page.screenshot(path=str(artifacts / "history-diff.png"), full_page=False)
    outcomes = page.locator("section.diff-module").filter(
        has=page.locator("h2", has_text=re.compile(r"^Outcome measures \(")))
    outcomes.screenshot(path=str(artifacts / "history-outcomes.png"))
    assert not errors, errors  # nothing blocked by the CSP, no script errors
    page.close()

    if os.environ.get("TRIALSCOPE_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in ("history-section.png", "history-diff.png", "history-outcomes.png"):
            shutil.copy(artifacts / name, DOCS / name)


def test_choosing_versions_works_without_javascript(pairs_server, browser):  # noqa: F811
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{pairs_server}/study/{STATUS_AND_ENROLLMENT}")
    page.click("section#history a:has-text('Compare any two versions')")
    page.wait_for_url(f"**/study/{STATUS_AND_ENROLLMENT}/history")
    page.select_option("select#from", "1")
    page.select_option("select#to", "2")
    page.click("form.compare button[type=submit]")
    page.wait_for_url("**history?from=1&to=2")
    row = page.locator("tr:has(th:text('Enrollment'))")
    assert row.locator("td.old").inner_text() == "130 (estimated)"
    assert row.locator("td.new").inner_text() == "52 (actual)"
    ctx.close()

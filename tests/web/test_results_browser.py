"""The Results section in a real browser: a real `trialscope serve` on the sample store,
Debian chromium driven by Playwright. It sees the participant-flow table, an outcome chart
(SVG), the adverse-event tables, sorts them (in the page, and on the server for a table cut
short), and saves screenshots to test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from playwright import sync_api

from tests.browser import ARGS, CHROMIUM, DOCS
from tests.servers import running_server

STUDY = "NCT00777179"  # v2 JSON, 2 arms, median PFS/OS with CIs, 20 serious + 42 other AEs
DOCS_SHOT = DOCS / "results.png"



@pytest.fixture(scope="module")
def browser_page(sample_db):
    with running_server(sample_db) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            yield base, page, problems
        finally:
            browser.close()


def _column(page, table: str, col: int) -> list[str]:
    return page.eval_on_selector_all(
        f"{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].getAttribute('data-v'))")


def test_results_section_in_the_browser(browser_page, artifacts):
    base, page, problems = browser_page
    page.goto(f"{base}/study/{STUDY}")
    results = page.locator("#results-body")
    sync_api.expect(results).to_be_visible()

    # participant flow
    flow = page.locator("#results-flow table.flow-table").first
    sync_api.expect(flow).to_be_visible()
    sync_api.expect(flow.locator("tr.fr-started th")).to_have_text("Started")
    assert flow.locator("thead th").count() == 3  # milestone + 2 arms

    # an outcome chart: SVG, one bar or dot per arm, and its analysis or note
    first = page.locator("#results-outcomes details.outcome").first
    sync_api.expect(first.locator("svg.rchart")).to_be_visible()
    pfs = page.locator("#outcome-2")
    sync_api.expect(pfs.locator("svg.rchart-dots circle")).to_have_count(2)
    sync_api.expect(pfs.locator("figcaption")).to_contain_text("95% confidence interval")

    # the adverse events: summary, top-10 chart, sortable tables
    ae = page.locator("#results-ae")
    sync_api.expect(ae.locator("table.ae-summary")).to_be_visible()
    sync_api.expect(ae.locator("svg.rchart")).to_be_visible()
    serious = "#results-ae table.ae-table[data-kind=serious]"
    sync_api.expect(page.locator(serious)).to_be_visible()
    assert page.locator(f"{serious} tbody tr").count() == 20

    results.screenshot(path=str(artifacts / "results-full.png"))
    page.locator("#results-outcomes").evaluate("e => { e.scrollIntoView(); window.scrollBy(0, -60); }")
    page.screenshot(path=str(artifacts / "results.png"))
    if os.environ.get("TRIALSCOPE_UPDATE_SCREENSHOTS"):
        shutil.copyfile(artifacts / "results.png", DOCS_SHOT)
    pfs.screenshot(path=str(artifacts / "results-outcome-median.png"))

    # in-page sort (JS): the whole table is there, so no reload
    url = page.url
    page.locator(f"{serious} th[data-sort=term] a").click()
    sync_api.expect(page.locator(f"{serious} th[data-sort=term]")).to_have_attribute("aria-sort", "ascending")
    terms = _column(page, serious, 0)
    assert terms == sorted(terms)
    arm = page.locator(f"{serious} thead th[data-type=num]").first
    arm.locator("a").click()
    sync_api.expect(arm).to_have_attribute("aria-sort", "descending")
    pcts = [float(v) for v in _column(page, serious, 2)]
    assert pcts == sorted(pcts, reverse=True)
    arm.locator("a").click()
    sync_api.expect(arm).to_have_attribute("aria-sort", "ascending")
    assert page.url == url
    page.locator(serious).screenshot(path=str(artifacts / "results-ae-sorted.png"))
    assert not [p for p in problems if "Content Security Policy" in p or "results" in p], problems


def test_server_side_sort_and_show_all(browser_page, artifacts):
    base, page, _ = browser_page
    page.goto(f"{base}/study/{STUDY}")
    other = "#results-ae table.ae-table[data-kind=other]"
    sync_api.expect(page.locator(other)).to_have_attribute("data-truncated", "true")
    assert page.locator(f"{other} tbody tr").count() == 40
    # a table cut short sorts on the server: the link is followed
    page.locator(f"{other} th[data-sort=term] a").click()
    page.wait_for_url(re.compile(r"ae_sort=term"))
    sync_api.expect(page.locator(f"{other} th[data-sort=term]")).to_have_attribute("aria-sort", "ascending")
    terms = _column(page, other, 0)
    assert terms == sorted(terms) and terms[0].startswith("a")
    page.locator("#results-ae a", has_text="Show all 42").click()
    page.wait_for_url(re.compile(r"ae_all=1"))
    assert page.locator(f"{other} tbody tr").count() == 42
    page.locator(other).screenshot(path=str(artifacts / "results-ae-all.png"))


def test_outcome_analysis_in_words(browser_page, artifacts):
    base, page, _ = browser_page
    page.goto(f"{base}/study/NCT02397473")
    first = page.locator("#outcome-1")
    sync_api.expect(first.locator(".a-sentence")).to_have_text(
        "LSMean Difference -3.47, 95% CI -6.72 to -0.23, p = 0.036, Mixed Models Analysis")
    sync_api.expect(first.locator("svg.rchart rect.bar")).to_have_count(2)
    assert first.locator("svg.rchart line.whisker").count() == 6  # SE whiskers with caps
    first.screenshot(path=str(artifacts / "results-outcome-analysis.png"))

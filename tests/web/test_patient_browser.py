"""A patient's journey in a real browser (Debian chromium via Playwright): open trials near
home, a status that can be trusted, errors in place, the record page on a phone, maps."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.browser import DOCS


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in (
        m.location.get("url") or "") and "400" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _total(page) -> int:
    return int(re.sub(r"\D", "", page.inner_text("#results-h").split("stud")[0]) or 0)


def _update_docs(artifacts, *names):
    if os.environ.get("TRIALSCOPE_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(artifacts / name, DOCS / name)


def test_stale_recruiting_study_is_shown_and_filtered_as_unknown(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _errors(page)
    page.goto(server + "/study/NCT03949231")
    head = page.inner_text(".study-head .status-line")
    assert "Unknown status" in head and "last said Recruiting, verified May 2019" in head
    facts = page.inner_text("section.facts")
    assert "Last verified" in facts and "May 2019" in facts and "2021-01-02 (estimated)" in facts
    assert "Data as of" in page.inner_text(".data-age")
    # the search results say the same, and the status filters treat it as unknown
    page.goto(server + "/?q=toripalimab+hepatic")
    hit = page.locator("li.hit", has=page.locator("a[href='/study/NCT03949231']"))
    assert "last said Recruiting, verified May 2019" in hit.inner_text()
    page.goto(server + "/?q=toripalimab+hepatic&status=RECRUITING")
    assert page.locator("ol.hits a[href='/study/NCT03949231']").count() == 0
    page.goto(server + "/?q=toripalimab+hepatic&status=open")
    assert page.locator("ol.hits a[href='/study/NCT03949231']").count() == 0
    page.goto(server + "/?q=toripalimab+hepatic&status=UNKNOWN")
    assert page.locator("ol.hits a[href='/study/NCT03949231']").count() == 1
    # See also carries statuses with their verification dates too
    page.goto(server + "/study/NCT03949231")
    page.wait_for_selector("#see-also ul.see-also li")
    assert page.locator("#see-also .status-line .verified, #see-also .status-line .last-said").count() > 0
    assert not errors, errors
    page.close()


def test_two_statuses_combine(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/")
    status = page.locator("fieldset.facet:has(legend:text('Status'))")
    status.locator("a:has-text('Recruiting')").first.click()
    page.wait_for_url("**status=RECRUITING*")
    recruiting = _total(page)
    # Not yet recruiting is still offered, counted without the status choice
    status = page.locator("fieldset.facet:has(legend:text('Status'))")
    nyr = status.locator("a:has-text('Not yet recruiting')")
    nyr.wait_for()  # the facets load after the hits
    assert nyr.count() == 1
    nyr_count = int(nyr.locator(".count").inner_text().replace(",", ""))
    nyr.click()
    page.wait_for_url("**NOT_YET_RECRUITING*")
    assert "status=RECRUITING" in page.url
    assert _total(page) == recruiting + nyr_count
    chosen = page.locator("fieldset.facet:has(legend:text('Status')) a[aria-current=true]")
    chosen.nth(1).wait_for()
    assert chosen.count() == 2
    page.close()


def test_near_chicago_finds_legacy_xml_studies(server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = _errors(page)
    page.goto(server + "/?q=liver+cancer")
    page.locator("#near").press_sequentially("Chica", delay=40)
    page.wait_for_selector("#near-list option", state="attached")
    assert page.locator("#near-list option").first.get_attribute("value") == "Chicago, Illinois"
    page.fill("#near", "Chicago, IL")
    page.locator("form.searchbar button[type=submit]").click()
    page.wait_for_url("**near=Chicago*")
    page.wait_for_selector("p.near-note")
    assert _total(page) >= 5
    nearest = page.locator("li.hit p.nearest").first.inner_text()
    assert re.search(r"Nearest site: .+ · [\d.]+ km", nearest), nearest
    assert page.locator("details.map-card[open] svg.search-map circle.site").count() > 0
    assert page.locator("svg.search-map path.land").count() == 1
    page.screenshot(path=str(artifacts / "near-search.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": 1400})
    # sorted by distance, nearest first
    page.goto(server + "/?q=liver+cancer&near=60611&sort=distance")
    kms = [float(re.search(r"([\d.,]+) km", t).group(1).replace(",", ""))
           for t in page.locator("li.hit p.nearest").all_inner_texts()]
    assert kms and kms == sorted(kms)
    assert not errors, errors
    page.close()
    _update_docs(artifacts, "near-search.png")


@pytest.mark.parametrize(("fill", "expect"), [
    ({"#q": 'liver "cancer'}, "unclosed quote"),
    ({"#age": "seventy"}, "age must be a number"),
    ({"#lat": "41.9"}, "lon must be a number"),
])
def test_errors_show_in_place_with_javascript(server, browser, fill, expect):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/?q=liver+cancer")
    page.wait_for_selector("ol.hits li.hit")
    for sel, value in fill.items():
        if sel in ("#lat",):
            page.locator("details.coords summary").click()
        page.fill(sel, value)
        button = "form.searchbar button[type=submit]" if sel == "#q" else "form.who button[type=submit]"
        page.locator(button).click()
    page.wait_for_selector(".error-page", timeout=10_000)
    assert expect in page.inner_text(".error-page .message")
    assert page.locator("ol.hits").count() == 0  # the old results are gone
    page.close()


def test_record_page_on_a_phone(server, browser, artifacts):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    errors = _errors(page)
    page.goto(server + "/study/NCT03949231")
    facts = page.locator("#h-facts").bounding_box()
    description = page.locator("#h-description").bounding_box()
    summary = page.locator("#h-summary").bounding_box()
    assert facts["y"] < summary["y"] < description["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing overflows
    tel = page.locator("section.facts a[href^='tel:']")
    assert tel.count() >= 1 and re.fullmatch(r"tel:\+?\d{5,}(;ext=\d+)?", tel.first.get_attribute("href"))
    assert page.locator("section.facts a[href^='mailto:']").count() >= 1
    # each site's own contacts, with links; wide tables scroll inside their card
    assert page.locator("table.locations a[href^='tel:']").count() >= 1
    box = page.locator("#locations").bounding_box()
    assert box["x"] + box["width"] <= 390
    page.screenshot(path=str(artifacts / "record-phone.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 390, "height": min(1500, facts["y"] + 700)})
    assert not errors, errors
    page.close()
    _update_docs(artifacts, "record-phone.png")


def test_study_map(server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/study/NCT02465060")  # 1,200+ legacy-XML sites, no registry coordinates
    svg = page.locator("#locations svg.study-map")
    assert svg.count() == 1
    assert page.locator("#locations svg.study-map circle.site.approx").count() > 100
    page.locator("#locations figure.map-card").screenshot(path=str(artifacts / "study-map.png"))
    page.close()
    _update_docs(artifacts, "study-map.png")

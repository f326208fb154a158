"""A real browser (Debian chromium via Playwright) walks search → facet → record → See also."""

from __future__ import annotations

import os
import shutil

from tests.browser import DOCS


def test_search_facet_record_see_also(server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text} @ {m.location.get('url')}")
            if m.type == "error" and "favicon" not in m.location.get("url", "") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server + "/")
    page.fill("#q", "liver cancer")
    page.click("form.searchbar button[type=submit]")
    page.wait_for_url(lambda url: "q=liver" in url)
    page.wait_for_selector("#results-h")
    total_before = page.inner_text("#results-h")
    page.screenshot(path=str(artifacts / "search.png"), full_page=False)

    # a phase facet is a link; clicking it filters and keeps the query in the URL
    page.click("fieldset.facet:has(legend:text('Phase')) a:has-text('Phase 3')")
    page.wait_for_url("**phase=PHASE3*")
    page.wait_for_selector("a[href='/study/NCT03949231']")
    assert page.inner_text("#results-h") != total_before
    assert "q=liver+cancer" in page.url
    page.screenshot(path=str(artifacts / "search-phase3.png"), full_page=False)

    page.click("a[href='/study/NCT03949231']")
    page.wait_for_url("**/study/NCT03949231")
    page.wait_for_selector("h1#study-title")
    for heading in ("Summary", "Description", "Study design", "Arms and interventions", "Outcomes",
                    "Eligibility", "Conditions, MeSH terms and keywords", "Key facts", "Locations",
                    "See also", "Record data", "Source"):
        assert page.locator("h2", has_text=heading).first.is_visible(), heading
    assert page.locator("ul.criteria.inclusion li").count() > 0
    assert page.locator("ul.criteria.exclusion li").count() > 0
    page.screenshot(path=str(artifacts / "record.png"), full_page=False)

    preview = page.locator("details#json-preview")
    assert preview.get_attribute("open") is None
    preview.locator("summary").click()
    assert preview.get_attribute("open") is not None
    assert page.locator("details#json-preview pre").is_visible()
    assert "NCT03949231" in page.inner_text("details#json-preview pre")

    page.wait_for_selector("#see-also ul.see-also a")  # loaded by htmx after the page
    link = page.locator("#see-also ul.see-also a").first
    target = link.get_attribute("href")
    assert target and target.startswith("/study/NCT") and target != "/study/NCT03949231"
    link.click()
    page.wait_for_url("**" + target)
    page.wait_for_selector("h1#study-title")
    assert page.locator("h2", has_text="Summary").first.is_visible()

    # a big record loads its preview when the <details> opens (htmx)
    page.goto(server + "/study/NCT02465060")
    page.locator("details#json-preview summary").click()
    page.wait_for_selector("details#json-preview pre")
    assert "clinical_study" in page.inner_text("details#json-preview pre")

    page.goto(server + "/stats?q=liver+cancer")
    page.wait_for_selector("svg.chart")
    page.screenshot(path=str(artifacts / "stats.png"), full_page=False)
    page.goto(server + "/docs")  # offline API docs: rendered from /openapi.json by a static script
    page.wait_for_selector("article.endpoint")
    assert page.locator("article.endpoint code", has_text="/api/v2/studies").count() >= 1
    # CSP: no inline script or style got blocked, no JS errors
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    assert not errors, errors
    page.close()

    if os.environ.get("TRIALSCOPE_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in ("search-phase3.png", "record.png", "stats.png"):
            shutil.copy(artifacts / name, DOCS / name)


def test_works_without_javascript(server, browser):
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(server + "/?q=liver+cancer")
    # the filter counts load after the page with JavaScript; without it they are one link away
    page.click("#facets a[href^='/facets?q=liver+cancer']")
    page.wait_for_url("**/facets?q=liver+cancer*")
    page.click("fieldset.facet:has(legend:text('Phase')) a:has-text('Phase 3')")
    page.wait_for_url("**phase=PHASE3*")
    page.click("a[href='/study/NCT03949231']")
    page.wait_for_url("**/study/NCT03949231")
    page.locator("details#json-preview summary").click()
    assert page.locator("details#json-preview pre").is_visible()
    see_also = page.locator("#see-also a").first  # inline, or a link to the related-studies page
    see_also.click()
    page.wait_for_selector("a[href^='/study/NCT']")
    assert "/study/NCT" in page.url
    ctx.close()

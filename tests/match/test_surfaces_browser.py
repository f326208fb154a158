"""A real browser (Debian chromium via Playwright) matches a patient on /match, with and
without JavaScript: note -> facts read back -> ranked trials with their criteria -> edit a
fact -> match again; and from a record page, "check a patient against this trial"."""

from __future__ import annotations

import os
import shutil

import httpx

from tests.browser import DOCS

from .conftest import HCC, HCC_NOTE


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_match_a_patient(match_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = _errors(page)
    page.goto(match_server + "/")
    page.click("nav a[href='/match']")
    page.wait_for_selector("#note")
    page.fill("#note", HCC_NOTE)
    page.select_option("#limit", "100")  # deep enough to hold trials a criterion excludes her from
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(".match-list .match-trial")
    assert page.input_value("#limit") == "100" and page.locator(".match-list .match-trial").count() == 100
    assert page.input_value("#f-age") == "60"
    assert page.input_value("#f-sex") == "female"
    assert "hepatocellular carcinoma" in page.input_value("#f-conditions")
    first = page.locator(".match-list .match-trial").first
    assert first.locator("details.criteria-detail").get_attribute("open") is not None
    assert first.locator(".crit li.c-met").count() > 0
    assert first.locator(".crit li mark").count() > 0  # the note's words that decided a criterion
    assert page.locator(f".match-trial h3 a[href='/study/{HCC}']").count() == 1
    page.screenshot(path=str(artifacts / "match.png"), full_page=False)

    # the trials she may join first, then those a criterion excludes her from, each saying which;
    # the API keeps the ranked order with each verdict
    joinable = page.locator(".match-list.may-join .match-trial")
    excluded = page.locator(".match-list.excluded .match-trial")
    assert joinable.count() > 0 and excluded.count() > 0
    assert {v.lower() for v in joinable.locator(".verdict").all_inner_texts()} <= {"likely eligible", "possibly eligible"}
    assert set(excluded.locator(".verdict").all_inner_texts()) == {"Excluded"}
    assert all(t.locator("li.decisive").count() > 0 for t in excluded.all())
    shown = [a.split("/")[-1] for a in page.locator(".match-trial h3 a").evaluate_all("els => els.map(e => e.href)")]
    api = httpx.post(f"{match_server}/api/v2/match", json={"text": HCC_NOTE, "limit": 100}, timeout=60).json()["trials"]
    ranked = [t["nctId"] for t in api]
    assert shown == [t["nctId"] for t in api if t["verdict"] != "excluded"] + [
        t["nctId"] for t in api if t["verdict"] == "excluded"]
    assert ranked != shown, "the sample ranks no excluded trial above a joinable one: the grouping is untested"
    heading = page.locator("#excluded-h")
    heading.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "match-excluded.png"), full_page=False)

    # correct a fact and match again: the edit overrides the note
    page.fill("#f-age", "85")
    page.click("#facts-form button[type=submit]")
    page.wait_for_selector("#results-h")
    assert page.input_value("#f-age") == "85" and page.input_value("#limit") == "100"  # the length is kept
    assert page.locator(f".match-trial h3 a[href='/study/{HCC}']").count() == 0  # 18 to 80 years

    # from the record page: check a patient against this one trial
    page.goto(f"{match_server}/study/{HCC}")
    page.click(f"a[href='/match?nct={HCC}']")
    page.wait_for_selector("#note")
    page.fill("#note", HCC_NOTE + " She is pregnant.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(".match-list.excluded .match-trial")
    trial = page.locator(".match-list.excluded .match-trial")
    assert trial.count() == 1 and "Excluded" in trial.locator(".verdict").inner_text()
    assert "regnan" in trial.locator("li.decisive").first.inner_text()
    page.screenshot(path=str(artifacts / "match-one-trial.png"), full_page=False)
    assert not errors, errors
    page.close()
    if os.environ.get("TRIALSCOPE_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in ("match.png", "match-excluded.png"):
            shutil.copy(artifacts / name, DOCS / name)


def test_match_works_without_javascript(match_server, browser):
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(match_server + "/match")
    page.fill("#note", HCC_NOTE)
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(".match-list .match-trial")
    page.locator(".match-list .match-trial details.criteria-detail summary").nth(1).click()
    assert page.locator(".match-list .match-trial details.criteria-detail[open]").count() >= 2
    page.select_option("#f-pregnant", "yes")
    page.click("#facts-form button[type=submit]")
    page.wait_for_selector("#results-h")
    assert page.locator("#f-pregnant").input_value() == "yes"
    ctx.close()

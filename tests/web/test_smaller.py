"""The smaller things of issue 14: text shown as the record means it, counts that agree,
empty answers that say why, labels that stay distinct."""

from __future__ import annotations

import re

import httpx
import pytest

from trialscope.cli import main
from trialscope.web.app import _paragraphs
from trialscope.web.results.charts import _clip_all
from trialscope.web.view import display_text, split_criteria


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def test_full_width_forms_and_bullets():
    assert display_text("ECOG score ＜ 2, ＞１８ years") == "ECOG score < 2, >18 years"
    crit = split_criteria("Inclusion Criteria:\n\n* ECOG ＜２\n\nExclusion Criteria:\n\n* age ＞ 75")
    assert crit["inclusion"] == ["ECOG <2"] and crit["exclusion"] == ["age > 75"]
    blocks = _paragraphs("Aims:\n\n* first aim\n* second aim\n  continued\n\nPlain text.")
    assert [b.items for b in blocks] == [None, ["first aim", "second aim continued"], None]
    assert str(blocks[2]) == "Plain text."


def test_chart_labels_stay_distinct():
    titles = ["Group 1: drug X low dose then maintenance therapy",
              "Group 1: drug X high dose then maintenance therapy", "Placebo"]
    labels = _clip_all(titles, 28)
    assert len(set(labels.values())) == 3 and labels["Placebo"] == "Placebo"
    assert all(len(v) <= 28 for v in labels.values())


def test_home_page_counts_read_right(client):
    html = client.get("/").text
    text = re.sub(r"<[^>]+>", "", html)
    assert re.search(r"\d studies\s+in this registry copy", text)


def test_stats_and_filters_agree(client):
    stats = client.get("/stats").text
    desc = re.search(r'<desc id="c-status-d">(.*?)</desc>', stats).group(1)
    counts = {k.strip(): v for k, v in re.findall(r"([A-Za-z ,]+): ([\d,]+)", desc)}
    for status, name in (("UNKNOWN", "Unknown status"), ("RECRUITING", "Recruiting"), ("COMPLETED", "Completed")):
        page = client.get(f"/?status={status}").text
        total = re.search(r'<h2 id="results-h">([\d,]+) stud', page).group(1)
        assert counts[name] == total, (status, counts, total)
    phases = re.search(r'<desc id="c-phase-d">(.*?)</desc>', stats).group(1)
    na = re.search(r"Not applicable: ([\d,]+)", phases).group(1)
    assert na == re.search(r'<h2 id="results-h">([\d,]+) stud', client.get("/?phase=NA").text).group(1)


def test_empty_eligibility_says_not_stated(client, sample_db):
    from trialscope.store import open_store

    store = open_store(sample_db)
    nct = next(s.nct_id for s in store.iter_studies()
               if not (s.record.get("protocolSection") or {}).get("eligibilityModule"))
    html = client.get(f"/study/{nct}").text
    section = html[html.index('id="eligibility"'):html.index('id="conditions"')]
    assert "not stated" in section


def test_stats_cli_prints_labels(sample_db, capsys):
    assert main(["stats", "--db", sample_db]) == 0
    out = capsys.readouterr().out
    assert "Recruiting" in out and "Not yet recruiting" in out and "NOT_YET_RECRUITING" not in out


def test_empty_search_says_why(sample_db, capsys):
    assert main(["search", "--db", sample_db, 'cond:"liver cancer" AND intr:sorafenib',
                 "--status", "open", "--age", "70"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"without --status: \d+ studies", err), err


def test_see_also_twenty_and_more(client):
    frag = client.get("/study/NCT03949231/see-also", headers={"HX-Request": "true"}).text
    assert frag.count("<li>") == 20
    assert 'href="/study/NCT03949231/see-also?limit=50"' in frag
    more = client.get("/study/NCT03949231/see-also", params={"limit": "50"}).text
    rows = more[more.index('<ul class="see-also">'):]
    assert rows[:rows.index("</ul>")].count("<li>") == 50 and "<html" in more
    assert client.get("/study/NCT03949231/see-also", params={"limit": "5000"}).status_code == 400


def test_place_suggestions_endpoint(client):
    r = client.get("/places/suggest", params={"q": "chicago, il"})
    assert r.status_code == 200
    places = r.json()["places"]
    assert places[0]["label"] == "Chicago, Illinois" and places[0]["kind"] == "city"
    assert client.get("/places/suggest", params={"q": "606"}).json()["places"][0]["kind"] == "postal_code"
    assert client.get("/places/suggest", params={"q": "x" * 5000}).json()["places"] == []


def test_unknown_place_is_a_clear_400(client):
    r = client.get("/", params={"q": "cancer", "near": "Nowhere-upon-Nothing"})
    assert r.status_code == 400 and "no place called" in r.text

"""Record history on the web, against real `trialscope serve` processes: the history API
(validated against its own response schema), the record page's History section, the diff
page, the Atom feed (read by feedparser, as a feed reader does), escaping and CSP."""

from __future__ import annotations

import json
import time

import feedparser
import httpx
import orjson
import pytest
from lxml import etree

from tests.history.conftest import STATUS_AND_ENROLLMENT, SWITCHED, V1, V2, ingest_into
from tests.servers import running_server
from tests.web.conftest import EVIL_TITLE, evil_record
from trialscope.web.history import ErrorBody, HistoryResponse

EVIL = "NCT09999903"
EVIL_TITLE_2 = "Renamed \x0b<script>alert('v2')</script> & <img src=x onerror=alert(9)> trial"


def evil_versions(folder) -> None:
    """Two versions of a study whose text is hostile, the second changing title and status."""
    v1 = evil_record(EVIL)
    v2 = orjson.loads(orjson.dumps(v1))
    ident = v2["protocolSection"]["identificationModule"]
    ident["briefTitle"] = EVIL_TITLE_2
    status = v2["protocolSection"]["statusModule"]
    status["overallStatus"] = "TERMINATED"
    status["whyStopped"] = "<script>alert('why')</script>"
    status["lastUpdatePostDateStruct"] = {"date": "2024-06-01", "type": "ACTUAL"}
    (folder / "v1").mkdir()
    (folder / "v2").mkdir()
    (folder / "v1" / f"{EVIL}.json").write_bytes(orjson.dumps(v1))
    (folder / "v2" / f"{EVIL}.json").write_bytes(orjson.dumps(v2))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history-web")
    evil_versions(folder)
    db = str(folder / "h.db")
    ingest_into(db, V1, folder / "v1")
    ingest_into(db, V2, folder / "v2")
    with running_server(db) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_history_api_matches_its_schema(site):
    r = site.get(f"/api/v2/studies/{SWITCHED.lower()}/history")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = HistoryResponse.model_validate(r.json())
    assert body.nctId == SWITCHED and "not part of the ClinicalTrials.gov API v2 contract" in body.note
    assert [(v.version, v.lastUpdate, v.current) for v in body.versions] == [
        (1, "2020-09-18", False), (2, "2023-05-18", True)]
    assert body.versions[1].changes.keys[:2] == ["status", "enrollment"]
    assert body.outcomeSwitch.flagged and body.diff is None


@pytest.mark.parametrize("params", [{"from": "1", "to": "2"}, {"from": "2021-02-01", "to": "2022-12-14"},
                                    {"from": "1"}, {"to": "2"}, {"to": "latest"}])
def test_history_api_diff(site, params):
    body = HistoryResponse.model_validate(
        site.get(f"/api/v2/studies/{STATUS_AND_ENROLLMENT}/history", params=params).json())
    diff = body.diff
    assert (diff.from_.version, diff.to.version) == (1, 2)
    design = next(m for m in diff.modules if m.label == "Design")
    enrollment = next(c for c in design.changes if c.label == "Enrollment")
    assert (enrollment.old, enrollment.new) == ("130 (estimated)", "52 (actual)")
    assert diff.summary.startswith("status Recruiting → Completed")


@pytest.mark.parametrize("path, params, status, param", [
    (f"/api/v2/studies/{SWITCHED}/history", {"from": "9"}, 400, "from"),
    (f"/api/v2/studies/{SWITCHED}/history", {"to": "2001-01-01"}, 400, "to"),
    (f"/api/v2/studies/{SWITCHED}/history", {"from": "x" * 40}, 400, "from"),
    ("/api/v2/studies/NCT123/history", {}, 400, "nctId"),
    ("/api/v2/studies/NCT09999999/history", {}, 404, None),
])
def test_history_api_errors(site, path, params, status, param):
    r = site.get(path, params=params)
    assert r.status_code == status
    body = ErrorBody.model_validate(r.json())
    assert body.error
    if param:
        assert body.parameter == param


def test_openapi_documents_the_extension(site):
    spec = site.get("/openapi.json").json()
    op = spec["paths"]["/api/v2/studies/{nctId}/history"]["get"]
    assert "trialscope extension" in op["summary"] and "Beyond the ClinicalTrials.gov API v2 contract" in op["description"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HistoryResponse")
    assert {"400", "404"} <= set(op["responses"])
    assert {p["name"] for p in op["parameters"]} == {"nctId", "from", "to"}
    assert "HistoryResponse" in spec["components"]["schemas"]


def test_record_page_history_section(site):
    html = site.get(f"/study/{SWITCHED}").text
    section = html[html.index('<section id="history"'):]
    section = section[: section.index("</section>")]
    assert "Outcome switched" in section and "start date 2020-07-20" in section
    assert "v1 → v2: added “Phase I - Feasibility (Eligibility)”" in section
    table = section[section.index("<tbody>"):]
    assert table.index("<td>v2") < table.index("<td>v1")  # newest first
    assert "status Recruiting → Completed; enrollment 410 (estimated) → 227 (actual)" in section
    assert f'href="/study/{SWITCHED}/history?from=1&amp;to=2"' in section
    assert "NCT04524598.xml" in section and "2020-09-18" in section
    assert '<a href="#history">History</a>' in html
    plain = site.get(f"/study/{STATUS_AND_ENROLLMENT}").text
    assert "Outcome switched" not in plain and 'id="history"' in plain


def test_diff_page(site):
    r = site.get(f"/study/{STATUS_AND_ENROLLMENT}/history", params={"from": "1", "to": "2"})
    assert r.status_code == 200 and "Content-Security-Policy" in r.headers
    html = r.text
    assert "<h2 id=\"m-1\">Identification" in html or "Identification" in html
    row = html[html.index(">Enrollment <span class=\"kind\">"):]
    assert '<td class="old">130 (estimated)</td><td class="new">52 (actual)</td>' in row[:400]
    assert "<del>" in html and "<ins>" in html  # long texts word by word
    assert '<select id="from" name="from">' in html  # choosing versions works without JavaScript
    assert "<script>" not in html.split("</head>")[1] and " style=" not in html and "<style" not in html
    # defaults: the latest against the one before; bad versions are a 400 page; any letter case
    assert site.get(f"/study/{STATUS_AND_ENROLLMENT}/history").text.count("<del>") == html.count("<del>")
    bad = site.get(f"/study/{STATUS_AND_ENROLLMENT}/history", params={"from": "7"})
    assert bad.status_code == 400 and "there is no version 7" in bad.text
    moved = site.get(f"/study/{STATUS_AND_ENROLLMENT.lower()}/history?from=1", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == f"/study/{STATUS_AND_ENROLLMENT}/history?from=1"
    assert site.get("/study/NCT09999999/history").status_code == 404
    assert site.get("/study/bogus/history").status_code == 404


def test_hostile_text_is_escaped_in_history_pages_and_api(site):
    for path in (f"/study/{EVIL}", f"/study/{EVIL}/history?from=1&to=2"):
        html = site.get(path).text
        body = html.split("</head>")[1]
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert "&lt;script&gt;alert(&#39;v2&#39;)&lt;/script&gt;" in body or "&lt;script&gt;" in body
    body = site.get(f"/api/v2/studies/{EVIL}/history", params={"from": "1", "to": "2"}).json()
    assert body["diff"]["keyFacts"][0] == "status Recruiting → Terminated"
    titles = [c for m in body["diff"]["modules"] for c in m["changes"] if c["label"] == "Brief title"]
    assert titles[0]["before"] == EVIL_TITLE and titles[0]["after"] == EVIL_TITLE_2


def test_search_page_links_its_feed(site):
    html = site.get("/", params={"q": "depression"}).text
    assert '<link rel="alternate" type="application/atom+xml" title="New and changed studies for this search" ' \
           'href="/feed.atom?q=depression">' in html
    assert '<a href="/feed.atom?q=depression" type="application/atom+xml">' in html


def parse_feed(client, params=None):
    r = client.get("/feed.atom", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    etree.fromstring(r.content)  # well-formed XML, or this raises
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    return feed


def test_feed_shows_an_update_with_what_changed(tmp_path):
    """Ingest, then a newer version of one study: the feed lists it as updated, with what
    changed, newest first; the others stay as new."""
    db = str(tmp_path / "f.db")
    ingest_into(db, V1)
    with running_server(db) as base, httpx.Client(base_url=base, timeout=30) as client:
        feed = parse_feed(client)
        assert feed.feed.title == "trialscope: all studies"
        assert sorted(e.title.split(": ", 1)[0] for e in feed.entries) == ["New"] * 3
        ingest_into(db, V2 / f"{STATUS_AND_ENROLLMENT}.json")
        deadline = time.monotonic() + 20
        while True:  # a running server sees a new ingest within a few seconds
            feed = parse_feed(client)
            if feed.entries and feed.entries[0].title.startswith("Updated"):
                break
            assert time.monotonic() < deadline, [e.title for e in feed.entries]
            time.sleep(0.5)
        top = feed.entries[0]
        assert top.title == ("Updated: A Remote, Decentralized Opioid Use Disorder Study to Evaluate Patient "
                             f"Engagement With a Game-Based Digital Therapeutic ({STATUS_AND_ENROLLMENT})")
        assert top.summary.startswith("Updated: status Recruiting → Completed; enrollment 130 (estimated) → 52 (actual)")
        assert top.link == f"{base}/study/{STATUS_AND_ENROLLMENT}"
        assert f"{base}/study/{STATUS_AND_ENROLLMENT}/history?from=1&to=2" in [link.href for link in top.links]
        assert "<li>status Recruiting → Completed</li>" in top.content[0].value
        assert [t.term for t in top.tags] == ["updated"]
        assert len(feed.entries) == 3 and [e.title.split(":")[0] for e in feed.entries[1:]] == ["New", "New"]
        stamps = [e.updated_parsed for e in feed.entries]
        assert stamps == sorted(stamps, reverse=True)
        # the same parameters as the search page: a search narrows the feed
        narrow = parse_feed(client, {"q": "opioid"})
        assert [e.link.rsplit("/", 1)[1] for e in narrow.entries] == [STATUS_AND_ENROLLMENT]
        assert parse_feed(client, {"status": "COMPLETED"}).entries[0].title.startswith("Updated")
        assert client.get("/feed.atom", params={"status": "SLEEPING"}).status_code == 400


def test_feed_of_hostile_records_is_well_formed(site):
    feed = parse_feed(site, {"q": "evil OR renamed"})
    [entry] = [e for e in feed.entries if EVIL in e.title]
    assert entry.title == f"Updated: {EVIL_TITLE_2.replace(chr(11), '')} ({EVIL})"  # text, exactly, minus the control character
    assert "why stopped added" in entry.summary
    raw = site.get("/feed.atom", params={"q": "evil OR renamed"}).content
    assert b"<script>" not in raw and b"&lt;script&gt;" in raw


def test_feed_json_shape_for_no_matches(site):
    feed = parse_feed(site, {"q": "zzzznotaword"})
    assert feed.entries == [] and feed.feed.updated
    assert json.dumps(feed.feed.title)


def test_outcome_switch_filter_on_the_search_page_api_and_stats(site):
    html = site.get("/", params={"switched": "true"}).text
    assert "2 studies" in html and SWITCHED in html and "NCT00498550" in html and STATUS_AND_ENROLLMENT not in html
    facets = site.get("/facets").text  # the search page loads its facets from here
    assert "<legend>Outcome switched</legend>" in facets and "/?switched=true" in facets
    body = site.get("/api/v2/studies", params={"filter.outcomeSwitched": "true", "fields": "NCTId"}).json()
    assert {s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]} == {SWITCHED, "NCT00498550"}
    bad = site.get("/api/v2/studies", params={"filter.outcomeSwitched": "maybe"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "filter.outcomeSwitched"
    assert site.get("/", params={"switched": "maybe"}).status_code == 400
    stats = site.get("/stats").text
    assert '<a href="/?switched=true">2 studies</a> with an outcome switched' in stats
    assert '<a href="/?q=depression&amp;switched=true">1 study</a>' in site.get("/stats", params={"q": "depression"}).text
    spec = site.get("/openapi.json").json()
    names = {p["name"] for p in spec["paths"]["/api/v2/studies"]["get"]["parameters"]}
    assert "filter.outcomeSwitched" in names


def test_record_page_shows_a_late_older_version(tmp_path):
    """An older version ingested after the current one is filed in history without moving
    the store's seq: the cached record page must still show it at once."""
    db = str(tmp_path / "late.db")
    ingest_into(db, V2)
    with running_server(db) as base, httpx.Client(base_url=base, timeout=30) as client:
        page = client.get(f"/study/{STATUS_AND_ENROLLMENT}").text
        assert "1 version of this record held" in page
        assert client.get(f"/study/{STATUS_AND_ENROLLMENT}").text == page  # served from the page cache
        ingest_into(db, V1)  # the older versions arrive late
        page = client.get(f"/study/{STATUS_AND_ENROLLMENT}").text
        assert "2 versions of this record held" in page and "status Recruiting → Completed" in page

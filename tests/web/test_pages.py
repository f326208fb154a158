"""Server-rendered pages against a real server: sections, errors, exports, escaping."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import EVIL_TITLE


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


SECTIONS = ["Summary", "Description", "Study design", "Arms and interventions", "Outcomes", "Eligibility",
            "Conditions, MeSH terms and keywords", "Key facts", "Locations", "See also", "Record data", "Source"]


def test_record_page_sections(client):
    r = client.get("/study/NCT03949231")
    assert r.status_code == 200
    html = r.text
    for heading in SECTIONS:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>", html), heading
    assert "ClinicalTrials.gov (US)" in html and "NCT03949231" in html
    assert "Inclusion criteria" in html and "Exclusion criteria" in html
    assert 'href="https://clinicaltrials.gov/study/NCT03949231"' in html
    assert "/study/NCT03949231/raw" in html and "<details" in html
    assert "may not be current" in html
    assert "Phase 3" in html
    # conditions link to a search
    assert re.search(r'href="/\?cond=', html)


def test_case_insensitive_redirect_and_404(client):
    r = client.get("/study/nct03949231", follow_redirects=False)
    assert r.status_code in (301, 308) and r.headers["location"].endswith("/study/NCT03949231")
    r = client.get("/study/NCT00000001")
    assert r.status_code == 404 and "not in this registry copy" in r.text
    assert client.get("/study/garbage").status_code == 404


def test_untitled_study_has_a_heading(client):
    html = client.get("/study/NCT05113290").text
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    assert len(h1.strip()) > 10 and "None" not in h1


def test_see_also_fragment_and_page(client):
    html = client.get("/study/NCT03949231").text
    assert 'hx-get="/study/NCT03949231/see-also"' in html or "ul class=\"see-also\"" in html
    frag = client.get("/study/NCT03949231/see-also", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    links = re.findall(r'href="/study/(NCT\d{8})"', frag.text)
    assert links and "NCT03949231" not in links
    full = client.get("/study/NCT03949231/see-also")
    assert full.status_code == 200 and "<html" in full.text and "Studies related to" in full.text
    # once computed, the record page carries See also inline
    assert 'class="see-also"' in client.get("/study/NCT03949231").text


def test_big_records_load_their_preview_on_demand(client):
    html = client.get("/study/NCT02465060").text  # a ~750 KB legacy XML record with results
    assert 'hx-get="/study/NCT02465060/preview?kind=raw"' in html
    assert 'hx-get="/study/NCT02465060/preview?kind=v2"' in html
    assert "&lt;clinical_study" not in html  # not inlined
    frag = client.get("/study/NCT02465060/preview", params={"kind": "raw"}, headers={"HX-Request": "true"})
    assert frag.status_code == 200 and frag.text.startswith("<pre") and "&lt;clinical_study" in frag.text
    assert "preview stops at 60,000" in frag.text
    v2 = client.get("/study/NCT02465060/preview", params={"kind": "v2"}).text  # no JS: a whole page
    assert "<html" in v2 and "&#34;protocolSection&#34;" in v2
    assert client.get("/study/NCT02465060/preview", params={"kind": "x"}).status_code == 400
    small = client.get("/study/NCT03949231").text
    assert "hx-get=\"/study/NCT03949231/preview" not in small and "&lt;clinical_study" in small


def test_raw_record(client):
    r = client.get("/study/NCT03949231/raw")
    assert r.status_code == 200
    # untrusted bytes are a download, never rendered by the browser
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="NCT03949231.xml"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content.lstrip().startswith(b"<?xml") or b"<clinical_study" in r.content[:500]


def test_search_page(client):
    r = client.get("/", params={"q": "liver cancer"})
    assert r.status_code == 200
    assert re.search(r"[\d,]+ studies", r.text)
    assert "/study/NCT" in r.text and "badge" in r.text
    assert 'name="q"' in r.text and 'value="liver cancer"' in r.text
    # the filter counts are not computed with the page: htmx loads them after it, and
    # without JavaScript the same address is a link to a page of its own
    assert re.search(r'hx-get="/facets\?q=liver\+cancer&amp;n=\d+"', r.text)
    assert re.search(r'href="/facets\?q=liver\+cancer&amp;n=\d+"', r.text)
    assert "facet-link" not in r.text
    frag = client.get("/facets", params={"q": "liver cancer"}, headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    # facets are plain links to the search page that keep the query
    assert re.search(r'href="/\?q=liver\+cancer&amp;phase=PHASE\d', frag.text)
    assert re.search(r'<legend>Phase</legend>.*?Phase 3</span> <span class="count">\d', frag.text, re.S)
    full = client.get("/facets", params={"q": "liver cancer", "sort": "last_update:desc"})
    assert full.status_code == 200 and "<html" in full.text and "Back to the results" in full.text
    assert re.search(r'href="/\?q=liver\+cancer&amp;phase=PHASE\d[^"]*sort=last_update', full.text)
    assert client.get("/facets", params={"status": "RUNNING"}).status_code == 400
    r2 = client.get("/", params={"q": "liver cancer", "phase": "PHASE3", "sort": "last_update:desc"})
    assert r2.status_code == 200


def test_paging_links(client):
    html = client.get("/", params={"q": "cancer"}).text
    m = re.search(r'rel="next" href="([^"]+)"', html)
    assert m
    r = client.get(m.group(1).replace("&amp;", "&"))
    assert r.status_code == 200 and "Showing 21" in r.text
    m2 = re.search(r'rel="next" href="([^"]+)"', r.text)
    r3 = client.get(m2.group(1).replace("&amp;", "&"))
    assert "Showing 41" in r3.text
    prev = re.search(r'rel="prev" href="([^"]+)"', r3.text).group(1).replace("&amp;", "&")
    back = client.get(prev)
    assert "Showing 21" in back.text
    first = re.search(r'rel="prev" href="([^"]+)"', back.text).group(1).replace("&amp;", "&")
    assert "Showing 1–" in client.get(first).text


@pytest.mark.parametrize("params", [{"q": '"unclosed'}, {"q": "(liver"}, {"status": "RUNNING"},
                                    {"q": "x" * 2001}, {"lat": "999", "lon": "1"}, {"sort": "nope"}, {"age": "abc"}])
def test_bad_search_is_friendly_400(client, params):
    r = client.get("/", params=params)
    assert r.status_code == 400
    assert "could not" in r.text and "Traceback" not in r.text


def test_stats_page(client):
    r = client.get("/stats")
    assert r.status_code == 200
    assert r.text.count("<svg") == 5
    for title in ("Studies by status", "Studies by phase", "Studies by start year", "Top conditions", "Top countries"):
        assert "<title id=" in r.text and title in r.text
    assert client.get("/stats", params={"q": "liver"}).status_code == 200


def test_exports(client):
    r = client.get("/export.csv", params={"q": "liver"})
    assert r.status_code == 200 and r.text.startswith("NCT Number,")
    r = client.get("/export.ris", params={"q": "liver"})
    assert r.status_code == 200 and "TY  - DBASE" in r.text and "ER  - " in r.text
    for entry in r.text.split("ER  - ")[:-1]:  # a keyword that repeats a condition is listed once
        words = [line[6:].casefold() for line in entry.splitlines() if line.startswith("KW  - ")]
        assert len(words) == len(set(words)), entry[:300]


def test_static_htmx_is_vendored(client):
    r = client.get("/static/htmx.min.js")
    assert r.status_code == 200 and len(r.content) > 10_000
    assert "unpkg" not in client.get("/").text


def test_record_text_is_escaped(evil_server):
    with httpx.Client(base_url=evil_server, timeout=30) as c:
        html = c.get("/study/NCT09999901").text
        assert "<script>alert" not in html
        assert "<img src=x" not in html and "<svg onload" not in html
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html or "&lt;script&gt;" in html
        # the criteria are still split into lists
        assert "Inclusion criteria" in html and "Exclusion criteria" in html
        search = c.get("/", params={"q": "evil"}).text
        assert "<script>alert" not in search and "<img src=x" not in search
        assert "NCT09999901" in search
        api = c.get("/api/v2/studies/NCT09999901").json()
        assert api["protocolSection"]["identificationModule"]["briefTitle"] == EVIL_TITLE
        stats = c.get("/stats").text
        assert "<b>cancer" not in stats

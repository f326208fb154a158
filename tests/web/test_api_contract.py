"""The API v2 contract's parameters and paths, one by one, against a real server on the sample."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx
import pytest


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def _ids(body: dict) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# -- CSV ------------------------------------------------------------------------------------

def test_csv_default_columns_are_the_registry_download(client):
    rows = _rows(client.get("/api/v2/studies", params={"format": "csv", "pageSize": 3}).text)
    assert rows[0] == [
        "NCT Number", "Study Title", "Study URL", "Acronym", "Study Status", "Brief Summary", "Study Results",
        "Conditions", "Interventions", "Primary Outcome Measures", "Secondary Outcome Measures",
        "Other Outcome Measures", "Sponsor", "Collaborators", "Sex", "Age", "Phases", "Enrollment",
        "Funder Type", "Study Type", "Study Design", "Other IDs", "Start Date", "Primary Completion Date",
        "Completion Date", "First Posted", "Results First Posted", "Last Update Posted", "Locations",
        "Study Documents"]
    assert len(rows) == 4 and all(len(r) == 30 for r in rows)


def test_csv_fields_are_column_names_in_the_order_given(client):
    r = client.get("/api/v2/studies", params={"format": "csv", "fields": "NCT Number|Study Title|Phases",
                                              "filter.ids": "NCT03949231"})
    assert _rows(r.text) == [["NCT Number", "Study Title", "Phases"],
                             ["NCT03949231", _rows(r.text)[1][1], "PHASE3"]]
    assert "Toripalimab" in _rows(r.text)[1][1]
    # piece names stand for the column that shows them
    r = client.get("/api/v2/studies", params={"format": "csv", "fields": "NCTId,OverallStatus", "pageSize": 2})
    assert _rows(r.text)[0] == ["NCT Number", "Study Status"]
    r = client.get("/api/v2/studies", params={"format": "csv", "fields": "Nonsense Column"})
    assert r.status_code == 400 and r.json()["parameter"] == "fields" and "NCT Number" in r.json()["allowed"]


def test_csv_pages_header_once_and_paging_headers(client):
    params = {"format": "csv", "fields": "NCT Number", "query.cond": "liver", "pageSize": 20, "countTotal": "true"}
    r = client.get("/api/v2/studies", params=params)
    total = int(r.headers["x-total-count"])
    seen = [row[0] for row in _rows(r.text)[1:]]
    assert _rows(r.text)[0] == ["NCT Number"]
    pages = 1
    while "x-next-page-token" in r.headers:
        r = client.get("/api/v2/studies", params={**params, "pageToken": r.headers["x-next-page-token"]})
        assert "x-total-count" not in r.headers  # countTotal: the first page only
        rows = _rows(r.text)
        assert rows and rows[0] != ["NCT Number"]  # no header on later pages
        seen += [row[0] for row in rows]
        pages += 1
    assert pages > 2 and len(seen) == len(set(seen)) == total


def test_csv_column_contents(client):
    r = client.get("/api/v2/studies/NCT03949231", params={"format": "csv"})
    header, row = _rows(r.text)
    got = dict(zip(header, row, strict=True))
    assert got["Study URL"] == "https://clinicaltrials.gov/study/NCT03949231"
    assert got["Study Design"].startswith("Allocation: ")
    assert "Primary Purpose: TREATMENT" in got["Study Design"]
    assert got["Interventions"].startswith("DRUG: ") or got["Interventions"].startswith("BIOLOGICAL: ")
    assert got["Other IDs"] and got["Locations"]
    assert got["Secondary Outcome Measures"]


# -- paging, counts, sorting -----------------------------------------------------------------

def test_page_size_zero_is_the_default_and_large_is_cut(client):
    assert len(client.get("/api/v2/studies", params={"pageSize": 0, "fields": "NCTId"}).json()["studies"]) == 10
    body = client.get("/api/v2/studies", params={"pageSize": 5000, "fields": "NCTId", "countTotal": "true"}).json()
    assert len(body["studies"]) == min(1000, body["totalCount"]) and body["totalCount"] > 500
    assert client.get("/api/v2/studies", params={"pageSize": -1}).status_code == 400


def test_count_total_on_the_first_page_only(client):
    first = client.get("/api/v2/studies", params={"countTotal": "true", "fields": "NCTId"}).json()
    assert first["totalCount"] > 500
    second = client.get("/api/v2/studies", params={"countTotal": "true", "fields": "NCTId",
                                                   "pageToken": first["nextPageToken"]}).json()
    assert "totalCount" not in second and second["studies"]


def _dates(body: dict, key: str) -> list[str]:
    """The sort date of each study (legacy records without a posted date sort by the submit date)."""
    out = []
    for s in body["studies"]:
        st = s.get("protocolSection", {}).get("statusModule", {})
        out.append(st.get(key, {}).get("date") or st.get("studyFirstSubmitDate"))
    return out


@pytest.mark.parametrize("piece,path", [
    ("StartDate", "startDateStruct"), ("StudyFirstPostDate", "studyFirstPostDateStruct"),
    ("CompletionDate", "completionDateStruct"), ("ResultsFirstPostDate", "resultsFirstPostDateStruct")])
def test_sort_dates_default_to_descending(client, piece, path):
    fields = f"{piece},StudyFirstSubmitDate" if piece == "StudyFirstPostDate" else piece
    body = client.get("/api/v2/studies", params={"sort": piece, "fields": fields, "pageSize": 1000}).json()
    raw = _dates(body, path)
    dates = [d for d in raw if d]
    assert all(raw[: len(dates)]), "studies missing the sort field come last"
    assert len(dates) >= 10 and [d[:7] for d in dates] == sorted((d[:7] for d in dates), reverse=True)
    asc = client.get("/api/v2/studies", params={"sort": f"{piece}:asc", "fields": fields, "pageSize": 50}).json()
    dates = [d for d in _dates(asc, path) if d]
    assert [d[:7] for d in dates] == sorted(d[:7] for d in dates)


def test_sort_numbers_default_to_ascending_and_two_keys(client):
    def counts(sort: str) -> list[int]:
        body = client.get("/api/v2/studies", params={"sort": sort, "fields": "EnrollmentCount", "pageSize": 100,
                                                     "filter.advanced": "AREA[EnrollmentCount]RANGE[1,MAX]"}).json()
        return [s["protocolSection"]["designModule"]["enrollmentInfo"]["count"] for s in body["studies"]]

    up = counts("EnrollmentCount")
    assert up == sorted(up) and up[0] >= 1
    down = counts("EnrollmentCount:desc|@relevance")
    assert down == sorted(down, reverse=True) and down[0] >= up[-1]
    for bad in ("BriefTitle", "StartDate:up", ",", "a,b,c", "@relevance:asc"):
        r = client.get("/api/v2/studies", params={"sort": bad})
        assert r.status_code == 400 and r.json()["parameter"] == "sort", bad


def test_two_keys_and_pieces_without_an_index_column(client):
    """A second key, or a date/number piece the index has no sort column for, sorts a result
    set of at most 1,000 studies by the records (the sample's 564 fit)."""
    def rows(sort: str, fields: str, **extra) -> list[dict]:
        seen, token = [], None
        while True:
            params = {"sort": sort, "fields": fields, "pageSize": 100, **extra}
            if token:
                params["pageToken"] = token
            body = client.get("/api/v2/studies", params=params).json()
            seen += body["studies"]
            token = body.get("nextPageToken")
            if not token:
                return seen

    got = rows("StartDate:asc|EnrollmentCount:desc",
               "NCTId,StartDate,EnrollmentCount", **{"query.cond": "cancer"})
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in got]
    assert len(ids) == len(set(ids)) > 100  # paging covers each study once
    keys = [((s["protocolSection"].get("statusModule") or {}).get("startDateStruct", {}).get("date"),
             ((s["protocolSection"].get("designModule") or {}).get("enrollmentInfo") or {}).get("count")) for s in got]
    dated = [k for k in keys if k[0]]
    assert all(k[0] for k in keys[: len(dated)]), "missing start dates come last"
    for (d1, n1), (d2, n2) in zip(dated, dated[1:], strict=False):
        assert d1[:7] <= d2[:7], (d1, d2)
        if d1 == d2 and n1 is not None and n2 is not None:
            assert n1 >= n2, (d1, n1, n2)
    # a date piece with no index column, default direction desc
    got = rows("PrimaryCompletionDate", "PrimaryCompletionDate")
    dates = [s.get("protocolSection", {}).get("statusModule", {}).get("primaryCompletionDateStruct", {}).get("date")
             for s in got]
    present = [d for d in dates if d]
    assert len(present) > 300 and all(dates[: len(present)])
    assert [d[:7] for d in present] == sorted((d[:7] for d in present), reverse=True)
    # an age piece
    ages = rows("MinimumAge:desc", "MinimumAge", **{"query.cond": "liver"})
    assert ages[0]["protocolSection"]["eligibilityModule"]["minimumAge"].endswith("Years")


# -- filters the contract names ----------------------------------------------------------------

def test_post_filters_filter_like_filters(client):
    for name, value in [("overallStatus", "COMPLETED"), ("ids", "NCT03949231|NCT05113290"),
                        ("geo", "distance(39.0035707,-77.1013313,50mi)"), ("advanced", "AREA[Phase]PHASE3")]:
        a = client.get("/api/v2/studies", params={f"filter.{name}": value, "countTotal": "true", "fields": "NCTId"})
        b = client.get("/api/v2/studies", params={f"postFilter.{name}": value, "countTotal": "true", "fields": "NCTId"})
        assert a.status_code == b.status_code == 200, (name, a.text, b.text)
        assert a.json()["totalCount"] == b.json()["totalCount"] > 0, name


def test_agg_filters(client):
    base = client.get("/api/v2/studies", params={"countTotal": "true", "fields": "NCTId"}).json()["totalCount"]
    got = client.get("/api/v2/studies", params={"aggFilters": "results:with,status:com", "countTotal": "true",
                                                "fields": "OverallStatus,HasResults", "pageSize": 1000}).json()
    assert 0 < got["totalCount"] < base
    assert all(s["hasResults"] and s["protocolSection"]["statusModule"]["overallStatus"] == "COMPLETED"
               for s in got["studies"])
    got = client.get("/api/v2/studies", params={"aggFilters": "status:not rec,sex:f,phase:2 3",
                                                "countTotal": "true", "fields": "OverallStatus,Phase,Sex",
                                                "pageSize": 1000}).json()
    for s in got["studies"]:
        p = s["protocolSection"]
        assert p["statusModule"]["overallStatus"] in ("NOT_YET_RECRUITING", "RECRUITING")
        assert set(p["designModule"]["phases"]) & {"PHASE2", "PHASE3"}
    r = client.get("/api/v2/studies", params={"aggFilters": "docs:prot"})
    assert r.status_code == 400 and r.json()["parameter"] == "aggFilters"
    # the same field filtered twice: both apply, and contradicting filters find nothing
    none = client.get("/api/v2/studies", params={"aggFilters": "status:com", "filter.overallStatus": "RECRUITING",
                                                 "countTotal": "true"}).json()
    assert none["totalCount"] == 0 and none["studies"] == []


def test_unsupported_parameters_are_400s_that_name_them(client):
    for params, name in [({"filter.synonyms": "ConditionSearch:1651367"}, "filter.synonyms"),
                         ({"postFilter.synonyms": "BasicSearch:2013558"}, "postFilter.synonyms"),
                         ({"filter.geo": "distance(39.0,-77.1,50mi)",
                           "geoDecay": "func:linear,scale:0km,offset:10km,decay:0.1"}, "geoDecay"),
                         ({"geoDecay": "func:cubic"}, "geoDecay"), ({"markupFormat": "html"}, "markupFormat"),
                         ({"countTotal": "maybe"}, "countTotal")]:
        r = client.get("/api/v2/studies", params=params)
        assert r.status_code == 400 and r.json()["parameter"] == name, (params, r.text)
    # geoDecay without filter.geo is ignored, as the contract says
    assert client.get("/api/v2/studies", params={"geoDecay": "func:exp,scale:300mi,offset:0mi,decay:0.5"}).status_code == 200


def test_geo_decay_ranks_by_the_closest_site(client):
    import math

    lat0, lon0 = 39.0035, -77.1013

    def closest(s):
        """The nearest site, for studies whose every site has coordinates (others: None; the
        index may place a site from its city)."""
        locs = (s.get("protocolSection", {}).get("contactsLocationsModule") or {}).get("locations") or []
        if not locs or not all("geoPoint" in loc for loc in locs):
            return None
        return min(_km(lat0, lon0, loc["geoPoint"]["lat"], loc["geoPoint"]["lon"]) for loc in locs)

    def _km(a, b, c, d):
        p1, p2 = math.radians(a), math.radians(c)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(d - b) / 2) ** 2
        return 2 * 6371.0088 * math.asin(math.sqrt(h))

    for func in ("exp", "gauss", "linear"):
        body = client.get("/api/v2/studies", params={
            "filter.geo": f"distance({lat0},{lon0},1000mi)", "geoDecay": f"func:{func},scale:200mi,offset:0mi,decay:0.5",
            "fields": "NCTId,LocationGeoPoint", "pageSize": 1000}).json()
        dist = [d for d in (closest(s) for s in body["studies"]) if d is not None]
        assert len(dist) > 20
        if func == "linear":  # beyond the scale / (1 - decay) every factor is 0: ties keep their order
            dist = [d for d in dist if d < 200 * 1.609344 / 0.5]
        # no text query: proximity alone ranks (to the search's distance, which is rounded to 0.1 km)
        assert all(b >= a - 0.5 for a, b in zip(dist, dist[1:], strict=False)), func
    plain = client.get("/api/v2/studies", params={"filter.geo": f"distance({lat0},{lon0},1000mi)",
                                                  "fields": "NCTId", "pageSize": 1000}).json()
    assert sorted(_ids(plain)) == sorted(_ids(body))  # the same studies, in another order


def test_markup_format_legacy_unescapes_markdown(client):
    md = client.get("/api/v2/studies/NCT00214461", params={"fields": "BriefSummary"}).json()
    legacy = client.get("/api/v2/studies/NCT00214461", params={"fields": "BriefSummary", "markupFormat": "legacy"}).json()
    text_md = md["protocolSection"]["descriptionModule"]["briefSummary"]
    text_legacy = legacy["protocolSection"]["descriptionModule"]["briefSummary"]
    assert "\\>" in text_md and "\\>" not in text_legacy and "> or = 65" in text_legacy
    page = client.get("/api/v2/studies", params={"filter.ids": "NCT00214461", "markupFormat": "legacy",
                                                 "fields": "BriefSummary"}).json()
    assert page["studies"][0]["protocolSection"]["descriptionModule"]["briefSummary"] == text_legacy


# -- one study -----------------------------------------------------------------------------------

def test_single_study_formats(client):
    j = client.get("/api/v2/studies/NCT03949231").json()
    z = client.get("/api/v2/studies/NCT03949231", params={"format": "json.zip"})
    assert z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
        assert archive.namelist() == ["NCT03949231.json"]
        import json
        assert json.loads(archive.read("NCT03949231.json")) == j
    f = client.get("/api/v2/studies/NCT03949231", params={"format": "fhir.json"})
    assert f.headers["content-type"] == "application/fhir+json"
    fhir = f.json()
    assert fhir["resourceType"] == "ResearchStudy" and fhir["identifier"][0]["value"] == "NCT03949231"
    assert fhir["phase"]["coding"][0]["code"] == "phase-3" and fhir["condition"]
    ris = client.get("/api/v2/studies/NCT03949231", params={"format": "ris"}).text
    assert ris.startswith("TY  - DBASE") and "AN  - NCT03949231" in ris
    assert client.get("/api/v2/studies/NCT03949231", params={"format": "fhir.json", "fields": "NCTId"}).status_code == 400
    assert client.get("/api/v2/studies/NCT03949231", params={"format": "xml"}).status_code == 400


def test_obsolete_ids_redirect_to_the_current_study(client):
    r = client.get("/api/v2/studies/NCT00002606", params={"fields": "NCTId"}, follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/api/v2/studies/NCT00007644?fields=NCTId"
    assert client.get("/api/v2/studies/nct00002606", follow_redirects=True).json()[
        "protocolSection"]["identificationModule"]["nctId"] == "NCT00007644"
    body = client.get("/api/v2/studies", params={"filter.ids": "NCT00002606,NCT00048919", "fields": "NCTId"}).json()
    assert sorted(_ids(body)) == ["NCT00007644", "NCT00044512"]
    body = client.get("/api/v2/studies", params={"query.id": "NCT00058383", "fields": "NCTId"}).json()
    assert _ids(body) == ["NCT00044512"]
    assert client.get("/api/v2/studies/NCT00000001").status_code == 404


def test_fields_take_area_names_and_at_query(client):
    body = client.get("/api/v2/studies/NCT03949231", params={"fields": "TitleSearch"}).json()
    assert set(body["protocolSection"]["identificationModule"]) <= {"briefTitle", "officialTitle", "acronym"}
    body = client.get("/api/v2/studies", params={"query.intr": "sorafenib", "fields": "@query", "pageSize": 3}).json()
    for s in body["studies"]:
        assert set(s["protocolSection"]) <= {"armsInterventionsModule"} and set(s) <= {"protocolSection", "derivedSection"}
    body = client.get("/api/v2/studies/NCT03949231", params={"fields": "LocationZip|InterventionDescription"}).json()
    assert set(body["protocolSection"]) == {"contactsLocationsModule", "armsInterventionsModule"}


# -- metadata, search areas, field statistics ---------------------------------------------------

def test_metadata_and_search_areas_are_not_nct_ids(client):
    meta = client.get("/api/v2/studies/metadata")
    assert meta.status_code == 200
    tree = meta.json()
    names = {n["name"] for n in tree}
    assert {"protocolSection", "derivedSection", "hasResults"} <= names

    def pieces(nodes):
        for n in nodes:
            yield n["piece"]
            yield from pieces(n.get("children", []))

    found = set(pieces(tree))
    assert {"NCTId", "BriefTitle", "LocationZip", "InterventionDescription", "Phase", "EnrollmentCount"} <= found
    areas = client.get("/api/v2/studies/search-areas").json()
    assert areas[0]["name"] == "Study"
    by_name = {a["name"]: a for a in areas[0]["areas"]}
    assert by_name["ConditionSearch"]["param"] == "cond" and by_name["BasicSearch"]["param"] == "term"
    assert client.get("/api/v2/studies/metadata", params={"includeIndexedOnly": "true"}).status_code == 200


def test_field_values_for_every_field_kind(client):
    body = client.get("/api/v2/stats/field/values",
                      params={"fields": "Phase|HasResults|HealthyVolunteers|Condition|StartDate|EnrollmentCount"}).json()
    by = {v["piece"]: v for v in body}
    assert by["Phase"]["type"] == "ENUM" and by["Phase"]["missingStudiesCount"] > 0
    assert by["Phase"]["uniqueValuesCount"] == 6
    hr = by["HasResults"]
    assert hr["type"] == "BOOLEAN" and hr["trueCount"] > 100 and hr["falseCount"] > 100
    assert "topValues" not in hr
    hv = by["HealthyVolunteers"]
    assert hv["trueCount"] + hv["falseCount"] + hv["missingStudiesCount"] >= 564
    assert by["Condition"]["type"] == "STRING" and by["Condition"]["topValues"][0]["studiesCount"] > 5
    assert by["StartDate"]["type"] == "DATE" and by["StartDate"]["min"] < by["StartDate"]["max"]
    assert by["EnrollmentCount"]["type"] == "INTEGER" and by["EnrollmentCount"]["max"] > 1000
    everything = client.get("/api/v2/stats/field/values").json()
    assert len(everything) > 150
    enums = client.get("/api/v2/stats/field/values", params={"types": "ENUM|BOOLEAN"}).json()
    assert {v["type"] for v in enums} == {"ENUM", "BOOLEAN"}
    assert client.get("/api/v2/stats/field/values", params={"fields": "Nope"}).status_code == 400


def test_field_sizes(client):
    body = client.get("/api/v2/stats/field/sizes", params={"fields": "Phase|Condition"}).json()
    by = {v["piece"]: v for v in body}
    assert by["Phase"]["maxSize"] == 2 and by["Phase"]["minSize"] == 1
    assert sum(t["studiesCount"] for t in by["Condition"]["topSizes"]) > 400
    assert client.get("/api/v2/stats/field/sizes", params={"fields": "BriefTitle"}).status_code == 400
    assert len(client.get("/api/v2/stats/field/sizes").json()) > 20


def test_a_query_of_only_nct_ids_ignores_the_filters(client):
    """The contract: 'If any query parameter contains only NCT IDs (comma- and/or space-separated),
    filters are ignored.'"""
    params = {"filter.overallStatus": "COMPLETED", "filter.ids": "NCT00000001", "fields": "NCTId"}
    for q in ("NCT03949231,NCT05113290", "nct03949231 NCT05113290", " NCT03949231 , NCT05113290 "):
        body = client.get("/api/v2/studies", params={"query.term": q, **params}).json()
        assert sorted(_ids(body)) == ["NCT03949231", "NCT05113290"], q
    # a query with other words keeps the filters
    body = client.get("/api/v2/studies", params={"query.term": "NCT03949231 liver", **params}).json()
    assert body["studies"] == []
    # ignored filters are still checked
    r = client.get("/api/v2/studies", params={"query.id": "NCT03949231", "filter.advanced": "AREA[Nope]x"})
    assert r.status_code == 400 and r.json()["parameter"] == "filter.advanced"
    r = client.get("/api/v2/studies", params={"query.id": "NCT03949231", "filter.overallStatus": "RUNNING"})
    assert r.status_code == 400 and r.json()["parameter"] == "filter.overallStatus"


def test_enum_and_boolean_values_come_from_the_index(sample_db):
    """Enum and boolean statistics are counted from the index, without a pass over the store:
    the same figures the pass gives (OverallStatus aside: the index holds the effective status)."""
    from trialscope.search import Searcher
    from trialscope.store import open_store
    from trialscope.web import field_stats

    store = open_store(sample_db)
    searcher = Searcher(store)
    pieces = [p for p in field_stats.STAT_PIECES if field_stats.from_index(p) and p.name != "OverallStatus"]
    assert {"Phase", "StudyType", "HasResults", "HealthyVolunteers", "Sex"} <= {p.name for p in pieces}
    walked = field_stats.gather(((s.nct_id, s.record_json) for s in store.iter_studies()), pieces)
    for p in pieces:
        assert field_stats.index_values(searcher, p) == walked[p.name].values_json(), p.name
    status = field_stats.index_values(searcher, next(p for p in field_stats.STAT_PIECES if p.name == "OverallStatus"))
    assert sum(v["studiesCount"] for v in status["topValues"]) + status["missingStudiesCount"] == store.count()

"""API v2 against a real server process on loopback, on the in-repo sample."""

from __future__ import annotations

import csv
import io

import httpx
import pytest


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


def test_studies_shape_and_total(client):
    r = client.get("/api/v2/studies", params={"query.cond": "hepatocellular carcinoma", "countTotal": "true"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) <= {"studies", "nextPageToken", "totalCount"}
    assert body["totalCount"] > 10
    assert len(body["studies"]) == 10  # default pageSize
    study = body["studies"][0]
    assert study["protocolSection"]["identificationModule"]["nctId"].startswith("NCT")
    assert all(isinstance(s["hasResults"], bool) for s in body["studies"])
    assert "nextPageToken" in body


def test_total_only_when_asked(client):
    body = client.get("/api/v2/studies", params={"query.term": "liver"}).json()
    assert "totalCount" not in body


def test_pagination_walks_every_study_once(client):
    params = {"query.cond": "liver", "pageSize": "7", "countTotal": "true", "fields": "NCTId"}
    first = client.get("/api/v2/studies", params=params).json()
    total = first["totalCount"]
    seen, body = [], first
    while True:
        seen += [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]
        token = body.get("nextPageToken")
        if not token:
            break
        body = client.get("/api/v2/studies", params={**params, "pageToken": token}).json()
    assert len(seen) == total == len(set(seen))


def test_fields_filter(client):
    body = client.get("/api/v2/studies", params={
        "query.cond": "liver", "fields": "NCTId,BriefTitle,OverallStatus,Phase", "pageSize": "5"}).json()
    for s in body["studies"]:
        assert set(s) == {"protocolSection"}
        assert set(s["protocolSection"]) <= {"identificationModule", "statusModule", "designModule"}
        assert set(s["protocolSection"]["identificationModule"]) <= {"nctId", "briefTitle"}
    body = client.get("/api/v2/studies", params={"filter.ids": "NCT03949231", "fields": "ConditionsModule"}).json()
    assert body["studies"] == [{"protocolSection": {"conditionsModule": body["studies"][0]["protocolSection"]["conditionsModule"]}}]
    path = client.get("/api/v2/studies", params={"filter.ids": "NCT03949231",
                                                  "fields": "protocolSection.designModule.phases"}).json()
    assert path["studies"][0] == {"protocolSection": {"designModule": {"phases": ["PHASE3"]}}}


def test_filter_ids_and_status(client):
    body = client.get("/api/v2/studies", params={"filter.ids": "NCT03949231|nct05113290", "fields": "NCTId,OverallStatus"}).json()
    ids = {s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]}
    assert ids == {"NCT03949231", "NCT05113290"}
    body = client.get("/api/v2/studies", params={"filter.overallStatus": "RECRUITING|NOT_YET_RECRUITING",
                                                  "fields": "OverallStatus", "pageSize": "50"}).json()
    assert body["studies"]
    assert {s["protocolSection"]["statusModule"]["overallStatus"] for s in body["studies"]} <= {"RECRUITING", "NOT_YET_RECRUITING"}


def test_filter_advanced(client):
    adv = "AREA[Phase]PHASE3 AND AREA[StudyType]INTERVENTIONAL AND AREA[LastUpdatePostDate]RANGE[2015-01-01,MAX]"
    body = client.get("/api/v2/studies", params={
        "filter.advanced": adv, "fields": "Phase,StudyType,LastUpdatePostDate,LastUpdateSubmitDate",
        "pageSize": "100", "countTotal": "true"}).json()
    assert body["totalCount"] > 0
    for s in body["studies"]:
        d = s["protocolSection"]
        assert "PHASE3" in d["designModule"]["phases"]
        assert d["designModule"]["studyType"] == "INTERVENTIONAL"
        # legacy XML records may carry only the submit date, which the index falls back to
        st = d["statusModule"]
        assert (st.get("lastUpdatePostDateStruct", {}).get("date") or st["lastUpdateSubmitDate"]) >= "2015-01-01"
    with_results = client.get("/api/v2/studies", params={
        "filter.advanced": "AREA[ResultsFirstPostDate]RANGE[MIN,MAX]", "fields": "NCTId,HasResults", "pageSize": "50"}).json()
    assert with_results["studies"] and all(s["hasResults"] for s in with_results["studies"])
    for area in ("StartDate", "StudyFirstPostDate", "CompletionDate", "ResultsFirstPostDate"):
        r = client.get("/api/v2/studies", params={"filter.advanced": f"AREA[{area}]RANGE[MIN,2030-12-31]"})
        assert r.status_code == 200, (area, r.text)


def test_sort_last_update_desc(client):
    body = client.get("/api/v2/studies", params={"sort": "LastUpdatePostDate:desc", "pageSize": "20",
                                                  "fields": "LastUpdatePostDate,LastUpdateSubmitDate"}).json()
    st = [s["protocolSection"]["statusModule"] for s in body["studies"]]
    dates = [x.get("lastUpdatePostDateStruct", {}).get("date") or x["lastUpdateSubmitDate"] for x in st]
    assert dates == sorted(dates, reverse=True)
    assert client.get("/api/v2/studies", params={"sort": "@relevance", "query.term": "liver"}).status_code == 200


def test_geo(client):
    r = client.get("/api/v2/studies", params={"filter.geo": "distance(39.0035,-77.1013,50mi)", "countTotal": "true"})
    assert r.status_code == 200 and r.json()["totalCount"] >= 1


def test_csv(client):
    r = client.get("/api/v2/studies", params={"query.cond": "liver", "format": "csv", "pageSize": "5"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["NCT Number", "Study Title", "Study URL"]
    assert len(rows) == 6


def test_single_study_any_case_and_404(client):
    r = client.get("/api/v2/studies/nct03949231")
    assert r.status_code == 200
    assert r.json()["protocolSection"]["identificationModule"]["nctId"] == "NCT03949231"
    r = client.get("/api/v2/studies/NCT00000001")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert client.get("/api/v2/studies/NCT03949231", params={"fields": "NCTId"}).json() == {
        "protocolSection": {"identificationModule": {"nctId": "NCT03949231"}}}


@pytest.mark.parametrize("params,param", [
    ({"pageSize": "-1"}, "pageSize"),
    ({"pageSize": "ten"}, "pageSize"),
    ({"filter.overallStatus": "RUNNING"}, "filter.overallStatus"),
    ({"filter.advanced": "AREA[Phase]PHASE9"}, "filter.advanced"),
    ({"filter.advanced": "AREA[Nope]x"}, "filter.advanced"),
    ({"postFilter.advanced": "AREA[Phase"}, "postFilter.advanced"),
    ({"filter.geo": "near(1,2)"}, "filter.geo"),
    ({"fields": "NoSuchField"}, "fields"),
    ({"sort": "Bogus:desc"}, "sort"),
    ({"format": "xml"}, "format"),
    ({"query.term": "x" * 2001}, "query.term"),
    ({"query.term": "(liver"}, "query.term"),
    ({"query.term": '"unclosed'}, "query.term"),
    ({"pageToken": "not-a-token"}, "pageToken"),
    ({"bogus": "1"}, "bogus"),
    ({"filter.ids": "NCT1"}, "filter.ids"),
])
def test_bad_parameters_are_400_json(client, params, param):
    r = client.get("/api/v2/studies", params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert "message" in body
    if param:
        assert body["parameter"] == param


def test_page_token_of_another_query_is_400(client):
    token = client.get("/api/v2/studies", params={"query.term": "liver"}).json()["nextPageToken"]
    r = client.get("/api/v2/studies", params={"query.term": "diabetes", "pageToken": token})
    assert r.status_code == 400 and r.json()["parameter"] == "pageToken"


def test_version_size_similar(client):
    v = client.get("/api/v2/version").json()
    assert set(v) >= {"apiVersion", "dataTimestamp"}
    size = client.get("/api/v2/stats/size").json()
    assert size["totalStudies"] >= 500 and size["averageSizeBytes"] > 0
    sim = client.get("/api/v2/studies/NCT03949231/similar").json()
    assert sim["similar"] and all(s["nctId"] != "NCT03949231" for s in sim["similar"])
    assert {"nctId", "briefTitle", "overallStatus", "phases"} <= set(sim["similar"][0])


def test_openapi_and_offline_docs(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v2/studies" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "/static/docs.js" in docs.text


def test_security_headers(client):
    for path in ("/", "/api/v2/studies", "/study/NCT03949231", "/nope"):
        h = client.get(path).headers
        assert "default-src 'self'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"]


def test_head_requests(client):
    r = client.head("/study/NCT03949231")
    assert r.status_code == 200 and r.content == b"" and r.headers["content-security-policy"]
    assert client.head("/api/v2/studies/NCT03949231").status_code == 200


def test_no_write_endpoints(client):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert client.request(method, "/api/v2/studies").status_code in (404, 405)


def test_post_filter_alias_enums_and_field_values(client):
    a = client.get("/api/v2/studies", params={"postFilter.overallStatus": "COMPLETED", "countTotal": "true"}).json()
    b = client.get("/api/v2/studies", params={"filter.overallStatus": "COMPLETED", "countTotal": "true"}).json()
    assert a["totalCount"] == b["totalCount"] > 0
    enums = client.get("/api/v2/studies/enums").json()
    status = next(e for e in enums if e["type"] == "Status")
    assert "OverallStatus" in status["pieces"] and {"value": "RECRUITING", "legacyValue": "Recruiting"} in status["values"]
    values = client.get("/api/v2/stats/field/values", params={"fields": "OverallStatus,Phase"}).json()
    assert [v["piece"] for v in values] == ["OverallStatus", "Phase"]
    assert sum(t["studiesCount"] for t in values[0]["topValues"]) >= 500
    assert client.get("/api/v2/stats/field/values", params={"fields": "Nope"}).status_code == 400

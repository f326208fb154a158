"""Conformance with the registry's published API v2 contract (`ctg-oas-v2.yaml`).

The spec is read from the shared folder (it is the registry's document; it does not ship in
this repository). Against a real `trialscope serve` on the sample, every path of the spec is
called, and every parameter with realistic values (the spec's own examples and enums first);
each 200 body is validated against the spec's response schema. The test fails when the spec
has a path or a parameter that trialscope neither honours nor refuses by name (NOT_HONOURED,
each with its reason). The examples in the spec's descriptions are checked for what they say.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SPEC = SHARED / "reference" / "ctgov-api-v2" / "ctg-oas-v2.yaml"

# parameters trialscope answers with a 400 that names them (or, once honoured, a 200)
NOT_HONOURED = {
    ("/studies", "filter.synonyms"): "trialscope has no registry synonym ids",
    ("/studies", "postFilter.synonyms"): "trialscope has no registry synonym ids",
    ("/studies", "query.patient"): "the matching work adds query.patient",
}
# single values of the spec's examples that trialscope refuses by name (a 400 naming the parameter)
NOT_HONOURED_VALUES: dict[tuple[str, str, str], str] = {}
# realistic values for parameters whose spec gives no example (the sample's content)
VALUES: dict[tuple[str, str], list[str]] = {
    ("/studies", "query.locn"): ["Boston", "China"],
    ("/studies", "query.titles"): ["hepatocellular carcinoma"],
    ("/studies", "query.intr"): ["sorafenib"],
    ("/studies", "query.outc"): ["overall survival"],
    ("/studies", "query.spons"): ["National Cancer Institute"],
    ("/studies", "query.lead"): ["Pfizer"],
    ("/studies", "query.id"): ["NCT03949231"],
    ("/studies", "query.patient"): ["65 year old man with hepatocellular carcinoma"],
    ("/studies/{nctId}", "nctId"): ["NCT03949231", "nct05113290"],
}


@pytest.fixture(scope="module")
def spec() -> dict:
    if not SHARED.exists():
        pytest.skip(f"shared folder absent ({SHARED}): the registry's spec lives there, not in the repository")
    if not SPEC.exists():
        pytest.fail(f"the registry's API v2 spec is missing: expected {SPEC}")
    return yaml.safe_load(SPEC.read_text())


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server + "/api/v2", timeout=60) as c:
        yield c


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield path, method, op


def _schema_for(spec: dict, op: dict, media: str) -> dict | None:
    content = (op["responses"].get("200") or {}).get("content") or {}
    schema = (content.get(media) or {}).get("schema")
    return None if schema is None else {**schema, "components": spec["components"]}


def _validate(spec: dict, op: dict, r: httpx.Response, where: str) -> None:
    media = r.headers["content-type"].split(";")[0]
    content = dict(op["responses"]["200"].get("content") or {})
    if any(p["name"] == "format" and "csv" in p["schema"].get("enum", []) for p in op.get("parameters", [])):
        content.setdefault("text/csv", {})  # format=csv, as the parameter's description says
    assert media in content, f"{where}: content type {media} not in the spec's {sorted(content)}"
    if media.endswith("json"):
        schema = _schema_for(spec, op, media)
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(r.json()), key=lambda e: list(e.path))
        assert not errors, f"{where}: {len(errors)} schema violations, first: {errors[0].message} at {list(errors[0].path)}"


def _values(path: str, param: dict) -> list[str]:
    """The spec's examples (array values pipe-joined), else its enum or boolean values, else ours;
    a study id is one of the sample's (the spec's examples are not in it)."""
    if param["in"] == "path":
        return VALUES[(path, param["name"])]
    out = []
    for ex in (param.get("examples") or {}).values():
        v = ex["value"]
        out.append("|".join(map(str, v)) if isinstance(v, list) else str(v))
    schema = param.get("schema") or {}
    if not out:
        if schema.get("enum"):
            out = list(schema["enum"])
        elif schema.get("type") == "boolean":
            out = ["true", "false"]
        elif (schema.get("items") or {}).get("$ref", "").endswith("/Status"):
            out = ["RECRUITING|COMPLETED"]
    return out or VALUES.get((path, param["name"]), [])


def _url(path: str) -> str:
    return path.replace("{nctId}", "NCT03949231")


def test_every_path_of_the_spec_is_served(spec, api, server):
    ours = httpx.get(server + "/openapi.json").json()["paths"]
    for path, method, op in _operations(spec):
        r = api.request(method.upper(), _url(path))
        assert r.status_code == 200, f"{method.upper()} {path}: {r.status_code} {r.text[:200]}"
        _validate(spec, op, r, path)
        assert "/api/v2" + path in ours, f"{path} is not in /openapi.json"


def test_every_parameter_with_realistic_values(spec, api, server):
    ours = httpx.get(server + "/openapi.json").json()["paths"]
    token = api.get("/studies", params={"pageSize": 2}).json()["nextPageToken"]
    calls = 0
    for path, method, op in _operations(spec):
        documented = {p["name"] for p in ours["/api/v2" + path][method].get("parameters", [])}
        for param in op.get("parameters", []):
            name = param["name"]
            key = (path, name)
            values = [token] if name == "pageToken" else _values(path, param)
            assert values, f"no realistic value for {name} of {path}: add one to VALUES"
            if key not in NOT_HONOURED:
                assert name in documented, f"{name} of {path} is not documented in /openapi.json"
            for value in values:
                if param["in"] == "path":
                    url, params = path.replace("{" + name + "}", value), {}
                else:
                    url, params = _url(path), {name: value}
                r = api.request(method.upper(), url, params=params)
                calls += 1
                where = f"{method.upper()} {path}?{name}={value}"
                if (key in NOT_HONOURED or (path, name, value) in NOT_HONOURED_VALUES) and r.status_code == 400:
                    assert r.json()["parameter"] == name, where
                    continue
                assert r.status_code == 200, f"{where}: {r.status_code} {r.text[:300]}"
                _validate(spec, op, r, where)
    print(f"conformance: {calls} calls over {sum(1 for _ in _operations(spec))} operations")
    assert calls > 60


# -- the examples in the spec's descriptions say what they return ------------------------------

def _studies(api, **params) -> list[dict]:
    body = api.get("/studies", params={"pageSize": 1000, **params}).json()
    assert body["studies"], params
    return body["studies"]


def _get(d: dict, path: str):
    for k in path.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _days(age: str | None) -> float | None:
    if not age:
        return None
    n, unit = age.split()[:2]
    return float(n) * {"year": 365.25, "month": 30.44, "week": 7, "day": 1, "hour": 1 / 24,
                       "minute": 1 / 1440}[unit.lower().rstrip("s")]


def test_example_last_update_range(api):
    for s in _studies(api, **{"query.term": "AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX]",
                              "fields": "LastUpdatePostDate"}):
        assert _get(s, "protocolSection.statusModule.lastUpdatePostDateStruct.date") >= "2023-01-15"


def test_example_start_date_2022(api):
    for s in _studies(api, **{"filter.advanced": "AREA[StartDate]2022", "fields": "StartDate"}):
        assert _get(s, "protocolSection.statusModule.startDateStruct.date").startswith("2022")


def test_example_ages_around_16(api):
    expr = "AREA[MinimumAge]RANGE[MIN, 16 years] AND AREA[MaximumAge]RANGE[16 years, MAX]"
    for s in _studies(api, **{"filter.advanced": expr, "fields": "MinimumAge,MaximumAge"}):
        lo = _days(_get(s, "protocolSection.eligibilityModule.minimumAge"))
        hi = _days(_get(s, "protocolSection.eligibilityModule.maximumAge"))
        assert (lo is None or lo <= 16 * 365.25 + 1) and (hi is None or hi >= 16 * 365.25 - 1), (lo, hi)


def test_example_statuses(api):
    for value, allowed in [("NOT_YET_RECRUITING|RECRUITING", {"NOT_YET_RECRUITING", "RECRUITING"}),
                           ("COMPLETED", {"COMPLETED"})]:
        for param in ("filter.overallStatus", "postFilter.overallStatus"):
            got = {_get(s, "protocolSection.statusModule.overallStatus")
                   for s in _studies(api, **{param: value, "fields": "OverallStatus"})}
            assert got == allowed or got <= allowed


def test_example_geo_distance(api):
    lat0, lon0 = 39.0035707, -77.1013313

    def miles(lat, lon):
        p1, p2 = math.radians(lat0), math.radians(lat)
        a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon - lon0) / 2) ** 2
        return 2 * 3958.76 * math.asin(math.sqrt(a))

    studies = _studies(api, **{"filter.geo": "distance(39.0035707,-77.1013313,50mi)",
                               "fields": "LocationGeoPoint,LocationCity"})
    for s in studies:
        locs = _get(s, "protocolSection.contactsLocationsModule.locations") or []
        points = [loc["geoPoint"] for loc in locs if "geoPoint" in loc]
        if len(points) < len(locs):  # a site without coordinates may be placed from its city
            continue
        assert min(miles(p["lat"], p["lon"]) for p in points) <= 50 * 1.03


def test_example_ids(api):
    ids = ["NCT04852770", "NCT01728545", "NCT02109302", "NCT03949231"]
    body = api.get("/studies", params={"filter.ids": "|".join(ids), "fields": "NCTId"}).json()
    got = [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]
    assert "NCT03949231" in got and set(got) <= set(ids)


def test_example_agg_filters(api):
    for s in _studies(api, aggFilters="results:with,status:com", fields="OverallStatus,HasResults"):
        assert s["hasResults"] and _get(s, "protocolSection.statusModule.overallStatus") == "COMPLETED"
    for s in _studies(api, aggFilters="status:not rec,sex:f,healthy:y", fields="OverallStatus,Sex,HealthyVolunteers"):
        assert _get(s, "protocolSection.statusModule.overallStatus") in ("NOT_YET_RECRUITING", "RECRUITING")
        assert _get(s, "protocolSection.eligibilityModule.sex") in ("FEMALE", "ALL")
        assert _get(s, "protocolSection.eligibilityModule.healthyVolunteers") is True


def test_example_fields(api):
    for s in _studies(api, fields="NCTId|BriefTitle|OverallStatus|HasResults", pageSize=20):
        assert set(s) <= {"protocolSection", "hasResults"} and "hasResults" in s
        assert set(s["protocolSection"]) <= {"identificationModule", "statusModule"}
    for s in _studies(api, fields="ProtocolSection", pageSize=5):
        assert set(s) == {"protocolSection"}
    one = api.get("/studies/NCT03949231", params={"fields": "ConditionsModule|EligibilityModule"}).json()
    assert set(one["protocolSection"]) == {"conditionsModule", "eligibilityModule"}
    one = api.get("/studies/NCT03949231", params={"fields": "NCTId|BriefTitle|Reference"}).json()
    assert set(one["protocolSection"]["identificationModule"]) == {"nctId", "briefTitle"}


def test_example_sorts(api):
    dates = [_get(s, "protocolSection.statusModule.lastUpdatePostDateStruct.date")
             for s in _studies(api, sort="LastUpdatePostDate", fields="LastUpdatePostDate", pageSize=100)]
    dates = [d for d in dates if d]
    assert dates == sorted(dates, reverse=True)  # a date field sorts descending by default
    assert api.get("/studies", params={"sort": "@relevance", "query.cond": "lung cancer"}).status_code == 200
    counts = [_get(s, "protocolSection.designModule.enrollmentInfo.count")
              for s in _studies(api, sort="EnrollmentCount:desc", fields="EnrollmentCount", pageSize=100)]
    assert counts == sorted(counts, reverse=True)
    # example 3: enrollment descending, then the number of arm groups ascending (a number's default)
    got = _studies(api, sort="EnrollmentCount:desc|NumArmGroups", fields="EnrollmentCount,ArmGroupLabel",
                   **{"filter.advanced": "AREA[EnrollmentCount]RANGE[0,100]"})
    keys = [(_get(s, "protocolSection.designModule.enrollmentInfo.count"),
             len(_get(s, "protocolSection.armsInterventionsModule.armGroups") or [])) for s in got]
    assert len(keys) > 50 and keys == sorted(keys, key=lambda k: (-k[0], k[1]))


def test_example_page_sizes_and_count(api):
    assert len(api.get("/studies", params={"pageSize": 2}).json()["studies"]) == 2
    assert len(api.get("/studies", params={"pageSize": 100}).json()["studies"]) == 100
    assert api.get("/studies", params={"countTotal": "true"}).json()["totalCount"] >= 564


def test_example_csv_first_page_header(api):
    r = api.get("/studies", params={"format": "csv", "pageSize": 5, "countTotal": "true"})
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert rows[0][0] == "NCT Number" and len(rows) == 6
    assert int(r.headers["x-total-count"]) >= 564 and r.headers["x-next-page-token"]


def test_example_field_stats(api):
    assert {v["type"] for v in api.get("/stats/field/values", params={"types": "ENUM|BOOLEAN"}).json()} == {
        "ENUM", "BOOLEAN"}
    assert {v["type"] for v in api.get("/stats/field/values", params={"types": "INTEGER|NUMBER"}).json()} == {"INTEGER"}
    assert [v["piece"] for v in api.get("/stats/field/values", params={"fields": "Phase"}).json()] == ["Phase"]
    got = api.get("/stats/field/values", params={"fields": "Condition|InterventionName"}).json()
    assert [v["piece"] for v in got] == ["Condition", "InterventionName"]
    path = "protocolSection.armsInterventionsModule.armGroups.interventionNames"
    assert [v["field"] for v in api.get("/stats/field/values", params={"fields": path}).json()] == [path]
    sizes = api.get("/stats/field/sizes", params={"fields": "Condition|Intervention"}).json()
    assert [v["piece"] for v in sizes] == ["Condition", "Intervention"]


def test_example_phase_size(api):
    """/stats/field/sizes: `AREA[Phase:size] 2` finds studies with 2 phases."""
    body = api.get("/studies", params={"query.term": "AREA[Phase:size] 2", "fields": "Phase", "countTotal": "true"})
    assert body.status_code == 200, body.text
    studies = body.json()["studies"]
    assert studies and all(len(s["protocolSection"]["designModule"]["phases"]) == 2 for s in studies)
    sizes = {t["size"]: t["studiesCount"] for t in api.get("/stats/field/sizes", params={"fields": "Phase"}).json()[0]["topSizes"]}
    assert body.json()["totalCount"] == sizes[2]


def test_example_unknown_single_studies_are_404(api):
    for nct in ("NCT00841061", "NCT04000165"):  # the spec's examples are not in the sample
        r = api.get(f"/studies/{nct}")
        assert r.status_code in (200, 404) and (r.status_code == 404) == (r.status_code != 200)

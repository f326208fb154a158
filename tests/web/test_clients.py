"""Third-party ClinicalTrials.gov API v2 clients from PyPI, pointed at a real `trialscope serve`
on loopback, each in the session a user of it would run.

- pytrials: `ClinicalTrials._BASE_URL = "<server>/api/v2/"` before constructing the client.
- altissimo-clinicaltrials (generated from the registry's OpenAPI spec):
  `clinicaltrials.Configuration(host="<server>/api/v2")`.
"""

from __future__ import annotations

import csv
import io
import json

import pytest


@pytest.fixture
def pytrials_client(server, monkeypatch):
    from pytrials.client import ClinicalTrials

    monkeypatch.setattr(ClinicalTrials, "_BASE_URL", f"{server}/api/v2/")
    return ClinicalTrials()


def test_pytrials_session(pytrials_client):
    ct = pytrials_client
    version, timestamp = ct.api_info
    assert version == "2.0.3" and timestamp
    # a condition search in Essie, with fields as CSV column names (get_study_fields)
    rows = ct.get_study_fields(search_expr='AREA[ConditionSearch]"liver cancer"',
                               fields=["NCT Number", "Study Title", "Conditions", "Phases"], max_studies=50)
    assert rows[0] == ["NCT Number", "Study Title", "Conditions", "Phases"]
    assert 10 < len(rows) <= 51 and all(r[0].startswith("NCT") for r in rows[1:])
    # the same as JSON with piece names
    body = ct.get_study_fields(search_expr='AREA[ConditionSearch]"liver cancer"',
                               fields=["NCTId", "BriefTitle", "OverallStatus"], max_studies=50, fmt="json")
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]
    assert ids == [r[0] for r in rows[1:]]
    assert all(set(s["protocolSection"]) <= {"identificationModule", "statusModule"} for s in body["studies"])
    # full studies (markupFormat=legacy, as pytrials asks), JSON and CSV
    full = ct.get_full_studies(search_expr="AREA[Phase]PHASE3 AND sorafenib", max_studies=20, fmt="json")
    assert full["studies"] and all("PHASE3" in s["protocolSection"]["designModule"]["phases"] for s in full["studies"])
    table = ct.get_full_studies(search_expr="sorafenib", max_studies=20)
    assert len(table[0]) == 30 and len(table) > 2


@pytest.fixture
def studies_api(server):
    import clinicaltrials as ct

    with ct.ApiClient(ct.Configuration(host=f"{server}/api/v2")) as client:
        yield ct, client


def test_altissimo_session(studies_api):
    ct, client = studies_api
    studies = ct.StudiesApi(client)
    # a condition search with Essie and fields, paged to the end
    first = studies.list_studies(query_cond='"hepatocellular carcinoma" OR AREA[ConditionMeshTerm]"Liver Neoplasms"',
                                 fields=["NCTId", "BriefTitle", "OverallStatus"], page_size=25, count_total=True)
    assert first.total_count > 25
    seen = [s.protocol_section.identification_module.nct_id for s in first.studies]
    token = first.next_page_token
    while token:
        page = studies.list_studies(query_cond='"hepatocellular carcinoma" OR AREA[ConditionMeshTerm]"Liver Neoplasms"',
                                    fields=["NCTId", "BriefTitle", "OverallStatus"], page_size=25, page_token=token)
        assert page.total_count is None
        seen += [s.protocol_section.identification_module.nct_id for s in page.studies]
        token = page.next_page_token
    assert len(seen) == len(set(seen)) == first.total_count
    # typed filters and sort
    page = studies.list_studies(filter_overall_status=[ct.Status.RECRUITING, ct.Status.NOT_YET_RECRUITING],
                                sort=["LastUpdatePostDate:desc"], fields=["NCTId", "OverallStatus", "LastUpdatePostDate"],
                                page_size=20, filter_advanced="AREA[Phase](PHASE2 OR PHASE3)")
    assert page.studies and {s.protocol_section.status_module.overall_status for s in page.studies} <= {
        ct.Status.RECRUITING, ct.Status.NOT_YET_RECRUITING}
    # CSV with fields (the generated client types a page as JSON: the raw response is read)
    raw = studies.list_studies_without_preload_content(format="csv", fields=["NCT Number", "Study Title"],
                                                       query_cond="liver", page_size=5, count_total=True)
    rows = list(csv.reader(io.StringIO(raw.data.decode(), newline="")))
    assert raw.status == 200 and rows[0] == ["NCT Number", "Study Title"] and len(rows) == 6
    assert int(raw.headers["x-total-count"]) > 5 and raw.headers["x-next-page-token"]
    # one study (the generated client types it as a string: the raw response is read), and an
    # obsolete id that the client follows to the current one
    raw_one = studies.fetch_study_without_preload_content("NCT03949231")
    assert json.loads(raw_one.data)["protocolSection"]["identificationModule"]["nctId"] == "NCT03949231"
    moved = studies.fetch_study_without_preload_content("NCT00002606")
    assert json.loads(moved.data)["protocolSection"]["identificationModule"]["nctId"] == "NCT00007644"
    # the data model, search areas and enums
    assert {n.name for n in studies.studies_metadata()} >= {"protocolSection", "derivedSection"}
    assert "ConditionSearch" in {a.name for a in studies.search_areas()[0].areas}
    assert "Phase" in {e.type for e in studies.enums()}


def test_altissimo_stats(studies_api):
    ct, client = studies_api
    stats = ct.StatsApi(client)
    values = stats.field_values_stats(fields=["Phase", "OverallStatus"])
    by_piece = {v.actual_instance.piece: v.actual_instance for v in values}
    assert by_piece["Phase"].unique_values_count == 6 and by_piece["Phase"].missing_studies_count > 0
    status = by_piece["OverallStatus"]
    total = stats.size_stats().total_studies
    assert sum(t.studies_count for t in status.top_values) + status.missing_studies_count == total >= 564
    sizes = stats.list_field_sizes_stats(fields=["Phase", "Condition"])
    assert {s.piece for s in sizes} == {"Phase", "Condition"} and sizes[0].max_size >= 2
    assert ct.VersionApi(client).version().api_version == "2.0.3"

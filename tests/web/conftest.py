"""Fixtures for the web tests: real `trialscope serve` processes on loopback."""

from __future__ import annotations

import json

import pytest

from tests.servers import running_server

EVIL_TITLE = "<script>alert('t')</script> Evil <img src=x onerror=alert(1)> trial"
EVIL_CRITERIA = (
    "Inclusion Criteria:\n\n* adults <script>alert('c')</script>\n* <img src=x onerror=alert(2)>\n\n"
    "Exclusion Criteria:\n\n* pregnancy\n* \"quoted\" & <b>bold</b>"
)


def evil_record(nct: str = "NCT09999901") -> dict:
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct, "briefTitle": EVIL_TITLE,
                                     "officialTitle": "Official <svg onload=alert(3)> title"},
            "statusModule": {"overallStatus": "RECRUITING",
                             "lastUpdatePostDateStruct": {"date": "2024-01-02"},
                             "studyFirstPostDateStruct": {"date": "2023-05-06"}},
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Sponsor <i>x</i>", "class": "OTHER"}},
            "descriptionModule": {"briefSummary": "Summary with <script>alert('s')</script> in it."},
            "conditionsModule": {"conditions": ["Liver <b>cancer</b>"], "keywords": ["<img src=x>"]},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"]},
            "eligibilityModule": {"eligibilityCriteria": EVIL_CRITERIA, "sex": "ALL", "minimumAge": "18 Years"},
            "contactsLocationsModule": {"locations": [{"facility": "<script>x</script> Hospital", "city": "Lyon",
                                                       "country": "France"}]},
        }
    }


@pytest.fixture(scope="session")
def server(sample_db) -> str:
    with running_server(sample_db) as base:
        yield base


@pytest.fixture(scope="session")
def evil_server(tmp_path_factory) -> str:
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    folder = tmp_path_factory.mktemp("evil")
    (folder / "NCT09999901.json").write_text(json.dumps(evil_record()))
    db = str(folder / "evil.db")
    store = open_store(db)
    ingest(store, [str(folder / "NCT09999901.json")], progress=False)
    after_ingest(store)
    store.close()
    with running_server(db) as base:
        yield base

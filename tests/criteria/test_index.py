"""The derived criteria index: built by ingest, caught up incrementally, rebuildable."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import orjson

from trialscope.cli import main
from trialscope.criteria import parse_criteria
from trialscope.index import criteria as index
from trialscope.ingest import ingest
from trialscope.store import open_store

SAMPLE = Path(__file__).resolve().parents[2] / "sample"


def _study(nct: str, criteria: str, last_update: str) -> dict:
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        doc = json.loads(z.read(sorted(z.namelist())[0]))
    doc["protocolSection"]["identificationModule"]["nctId"] = nct
    doc["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": last_update, "type": "ACTUAL"}
    doc["protocolSection"].setdefault("eligibilityModule", {})["eligibilityCriteria"] = criteria
    return doc


def test_ingest_builds_it_for_the_whole_sample(sample_db):
    store = open_store(sample_db)
    try:
        assert index.seq(store) == store.max_seq()
        ncts = [s.nct_id for s in store.iter_studies()]
        got = index.get_many(store, ncts)
        assert set(got) == set(ncts)
        record = store.get("NCT03949231").record
        mine = got["NCT03949231"]
        assert mine.inclusion == parse_criteria(record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]).inclusion
        assert (mine.eligibility.min_age_years, mine.eligibility.max_age_years) == (18.0, 80.0)
        assert mine.eligibility.sex == "ALL" and mine.eligibility.healthy_volunteers is False
        assert mine.eligibility.conditions == ["Liver Neoplasms"]  # the record's condition MeSH term
        assert len(got["NCT03949231"].exclusion[5].children) == 4
    finally:
        store.close()


def test_catch_up_follows_new_versions_and_rebuild_starts_over(tmp_path):
    path = tmp_path / "s.db"
    v1 = _study("NCT90000001", "Inclusion Criteria:\n* Age ≥ 18\nExclusion Criteria:\n* Pregnancy", "2020-01-01")
    (tmp_path / "v1.json").write_bytes(orjson.dumps(v1))
    assert main(["ingest", str(tmp_path / "v1.json"), "--db", str(path)]) == 0  # the hook runs
    store = open_store(str(path))
    c = index.get(store, "NCT90000001")
    assert [x.text for x in c.exclusion] == ["Pregnancy"]
    assert index.catch_up(store) == 0  # nothing new

    v2 = _study("NCT90000001", "Inclusion Criteria:\n* Age ≥ 21\nExclusion Criteria:\n* Pregnancy\n* HIV",
                "2021-01-01")
    (tmp_path / "v2.json").write_bytes(orjson.dumps(v2))
    ingest(store, [str(tmp_path / "v2.json")], progress=False)
    # until caught up, the derived file serves the version it holds (like the search index)
    assert [x.text for x in index.get(store, "NCT90000001").exclusion] == ["Pregnancy"]  # stale file row
    assert index.catch_up(store) == 1
    assert [x.text for x in index.get(store, "NCT90000001").exclusion] == ["Pregnancy", "HIV"]
    assert index.seq(store) == store.max_seq()
    assert index.rebuild(store) == 1
    assert index.get(store, "NCT90000001").inclusion[0].text == "Age ≥ 21"
    store.close()


def test_missing_or_stale_file_loses_nothing(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    doc = _study("NCT90000002", "* ECOG 0-1", "2020-01-01")
    (tmp_path / "d.json").write_bytes(orjson.dumps(doc))
    store = open_store(str(path))
    ingest(store, [str(tmp_path / "d.json")], progress=False)
    # never built: parsed from the store
    assert index.get(store, "NCT90000002").inclusion[0].kind == "performance"
    index.catch_up(store)
    shutil.rmtree(index.index_dir(store))
    assert index.get(store, "NCT90000002").inclusion[0].kind == "performance"
    # a file written by another parser format is stale: rebuilt on catch-up
    index.catch_up(store)
    monkeypatch.setattr(index, "FORMAT", index.FORMAT + 1)
    assert index.seq(store) == 0
    assert index.catch_up(store, workers=2) == 1  # the process-pool path
    assert index.seq(store) == store.max_seq()
    assert index.get_many(store, ["NCT90000002", "NCT00000000"]).keys() == {"NCT90000002"}
    store.close()

"""The derived criteria index: built by ingest, caught up incrementally, rebuildable."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import orjson

from trialscope.cli import main
from trialscope.criteria import parse_criteria
from trialscope.index import conditions
from trialscope.index import criteria as index
from trialscope.ingest import ingest
from trialscope.match import warmup
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


def _rows(store) -> dict[str, tuple[int, int]]:
    import sqlite3

    db = sqlite3.connect(str(index.index_dir(store) / "criteria.sqlite"))
    try:
        return {n: (seq, typed) for n, seq, typed in db.execute("SELECT nct, seq, typed FROM criteria")}
    finally:
        db.close()


def test_ingest_stores_the_structure_and_the_first_assessment_types_it(tmp_path):
    path = tmp_path / "s.db"
    doc = _study("NCT90000003", "Inclusion Criteria:\n* ECOG 0-1\n* Platelets ≥ 50×10⁹/L\n"
                 "Exclusion Criteria:\n* Pregnancy", "2020-01-01")
    (tmp_path / "d.json").write_bytes(orjson.dumps(doc))
    store = open_store(str(path))
    ingest(store, [str(tmp_path / "d.json")], progress=False)
    index.catch_up(store)
    assert _rows(store)["NCT90000003"][1] == 0  # split only: ingest does not pay for typing
    c = index.get(store, "NCT90000003")
    assert c.typed and [x.kind for x in c.inclusion] == ["performance", "lab"]
    assert c.exclusion[0].kind == "reproductive"
    assert _rows(store)["NCT90000003"][1] == 1  # typed once, kept
    again = index.get(store, "NCT90000003")
    assert again == c
    store.close()


def test_a_typed_write_back_never_replaces_a_newer_version(tmp_path):
    path = tmp_path / "s.db"
    v1 = _study("NCT90000004", "* Age ≥ 18", "2020-01-01")
    (tmp_path / "v1.json").write_bytes(orjson.dumps(v1))
    store = open_store(str(path))
    ingest(store, [str(tmp_path / "v1.json")], progress=False)
    index.catch_up(store)
    old_seq = _rows(store)["NCT90000004"][0]
    v2 = _study("NCT90000004", "* Age ≥ 21", "2021-01-01")
    (tmp_path / "v2.json").write_bytes(orjson.dumps(v2))
    ingest(store, [str(tmp_path / "v2.json")], progress=False)
    index.catch_up(store)  # the row now holds v2, not yet typed
    db, _lock = index._reader(index.index_dir(store))
    stale = index.encode(parse_criteria("* Age ≥ 18"))
    index._write_back(db, [(stale, "NCT90000004", old_seq)])  # typed from v1, read before the catch-up
    assert index.get(store, "NCT90000004").inclusion[0].text == "Age ≥ 21"
    assert index.get(store, "NCT90000004").inclusion[0].facts[0].min_years == 21
    store.close()


def test_warm_types_every_row(tmp_path):
    path = tmp_path / "s.db"
    docs = [_study(f"NCT9000001{i}", f"* Age ≥ {18 + i}\n* Hemoglobin ≥ 9 g/dL", "2020-01-01") for i in range(3)]
    for i, d in enumerate(docs):
        (tmp_path / f"d{i}.json").write_bytes(orjson.dumps(d))
    store = open_store(str(path))
    ingest(store, [str(tmp_path / f"d{i}.json") for i in range(3)], progress=False)
    assert index.warm(store, workers=1) == 3
    assert {t for _s, t in _rows(store).values()} == {1}
    assert index.warm(store, workers=2) == 0
    assert index.get(store, "NCT90000012").inclusion[0].facts[0].min_years == 20
    store.close()


def test_serve_types_the_criteria_in_the_background(tmp_path):
    path = tmp_path / "s.db"
    docs = [_study(f"NCT9000002{i}", f"* Age ≥ {30 + i}\n* Platelets ≥ 100 x10^9/L", "2020-01-01") for i in range(3)]
    for i, d in enumerate(docs):
        (tmp_path / f"d{i}.json").write_bytes(orjson.dumps(d))
    store = open_store(str(path))
    ingest(store, [str(tmp_path / f"d{i}.json") for i in range(3)], progress=False)
    assert index.catch_up(store) == 3  # what the ingest hook does: split, never typed
    assert {t for _s, t in _rows(store).values()} == {0}
    child = warmup.start(str(path))
    assert child is not None
    child.join(60)
    assert child.exitcode == 0
    assert {t for _s, t in _rows(store).values()} == {1}
    assert index.get(store, "NCT90000022").inclusion[0].facts[0].min_years == 32
    assert not index.untyped(str(path))
    store.close()


def test_serve_starts_typing_at_start(tmp_path):
    import time

    from tests.servers import running_server

    path = tmp_path / "s.db"
    docs = [_study(f"NCT9000003{i}", f"* Age ≥ {40 + i}", "2020-01-01") for i in range(2)]
    for i, d in enumerate(docs):
        (tmp_path / f"d{i}.json").write_bytes(orjson.dumps(d))
    assert main(["ingest", str(tmp_path / "d0.json"), str(tmp_path / "d1.json"), "--db", str(path)]) == 0
    store = open_store(str(path))
    assert {t for _s, t in _rows(store).values()} == {0}
    with running_server(str(path)):
        deadline = time.monotonic() + 60
        while {t for _s, t in _rows(store).values()} != {1} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {t for _s, t in _rows(store).values()} == {1}  # typed before any match asked
        while conditions.stale(store) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not conditions.stale(store)  # the condition index too: the first match need not build it
    assert warmup.start(str(path)) is None  # nothing left to prepare: no process
    store.close()


def test_the_pipeline_stage_writes_what_the_workers_prepared(tmp_path):
    from types import SimpleNamespace

    path = tmp_path / "s.db"
    v1 = _study("NCT90000005", "* Age ≥ 18", "2020-01-01")
    (tmp_path / "v1.json").write_bytes(orjson.dumps(v1))
    store = open_store(str(path))
    ingest(store, [str(tmp_path / "v1.json")], progress=False)
    stage = index.stage()
    assert stage.begin(store)  # caught up to the store under the stage's lock
    assert index.get(store, "NCT90000005").inclusion[0].text == "Age ≥ 18"
    v2 = _study("NCT90000005", "* Age ≥ 30", "2021-01-01")
    prepared = stage.prepare([v2])  # in a parse worker
    stage.add([SimpleNamespace(nct_id="NCT90000005", record=v2, prepared=prepared[0])])
    stage.finish(store.max_seq() + 1)
    v3 = _study("NCT90000005", "* Age ≥ 40", "2022-01-01")
    stage.add([SimpleNamespace(nct_id="NCT90000005", record=v3, prepared=None)])
    stage.close()  # not finished: discarded
    assert index.seq(store) == store.max_seq() + 1
    assert index.get(store, "NCT90000005").inclusion[0].facts[0].min_years == 30
    store.close()

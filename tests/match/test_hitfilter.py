"""The hard filters checked on the hits (`match.hitfilter`) give the filtered search's hits."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from trialscope.match import hitfilter, retrieve
from trialscope.match.retrieve import Filters

QUERIES = [
    {"query": "hepatocellular carcinoma sorafenib cirrhosis liver transplant bilirubin platelets pain fever"},
    {"query": "elig:(pregnant breast cancer chemotherapy creatinine)", "expand_mesh": False},
    {"query": 'cond:"Breast Neoplasms" OR title:"Breast Neoplasms" OR cond:"Diabetes Mellitus"', "expand_mesh": False},
    {"fields": {"cond": '"Carcinoma, Hepatocellular" OR "Liver Neoplasms"'}},
    {"query": "healthy volunteers vaccine"},
]
FILTERS = [Filters(age=60, sex="female"), Filters(age=8, sex="male"), Filters(age=35.5), Filters(sex="male"),
           Filters(), Filters(age=30, healthy=True)]


def _both(searcher, monkeypatch, filters, depth, **kw):
    """(_run with the filters on the hits, _run with them in the query)."""
    on_hits = retrieve._run(searcher, filters, depth, **kw)
    with monkeypatch.context() as m:
        m.setattr(hitfilter, "handles", lambda f: False)
        in_query = retrieve._run(searcher, filters, depth, **kw)
    return on_hits, in_query


@pytest.mark.parametrize("kw", QUERIES)
def test_filtered_hits_are_the_filtered_searchs(store, monkeypatch, kw):
    searcher = retrieve.searcher_for(store)
    found = 0
    for filters in FILTERS:
        for depth in (1, 7, 100, 1000):
            on_hits, in_query = _both(searcher, monkeypatch, filters, depth, **kw)
            assert on_hits == in_query, (filters, depth)
            found += len(on_hits)
    assert found > 0


def test_a_shallow_first_read_reads_again_and_a_rare_filter_stays_in_the_query(store, monkeypatch):
    searcher = retrieve.searcher_for(store)
    index, _ = retrieve._snapshot(searcher)
    columns = retrieve._columns(searcher, index)
    text, _ = searcher.build_query(Filters().request(limit=10, query="cancer chemotherapy"))
    reads = []
    real = index.search
    monkeypatch.setattr(hitfilter, "OVERREAD", 0.05)
    # the tantivy searcher is read-only: count the reads through a proxy
    proxy = type("P", (), {"search": lambda self, q, n, count=False: reads.append(n) or real(q, n, count=count)})()
    hits = hitfilter.filtered_hits(proxy, columns, text, Filters(age=50, sex="female"), 60)
    assert len(reads) >= 2 and reads[1] == reads[0] * hitfilter.READ_AGAIN
    on_hits, in_query = _both(searcher, monkeypatch, Filters(age=50, sex="female"), 60, query="cancer chemotherapy")
    assert [n for n, _ in on_hits] == [n for n, _ in in_query] and len(hits) == 60
    masks, passing = columns.mask(0.01, "male", True)  # newborn healthy volunteers: few trials
    assert passing < hitfilter.MIN_SHARE * columns.num_docs
    assert hitfilter.filtered_hits(index, columns, text, Filters(age=0.01, sex="male", healthy=True), 10) is None


def test_columns_follow_updates_and_segments(tmp_path, monkeypatch):
    """A study updated (its old document deleted, the new one in another segment) is
    filtered on its new age and sex limits, as the filtered query does."""
    from trialscope.cli import main
    from trialscope.store import open_store

    with zipfile.ZipFile(Path(__file__).resolve().parents[2] / "sample" / "ctg-studies.json.zip") as z:
        docs = [json.loads(z.read(n)) for n in sorted(z.namelist())[:40]]
    path = tmp_path / "s.db"
    (tmp_path / "a.json").write_bytes(json.dumps(docs).encode())
    assert main(["ingest", str(tmp_path / "a.json"), "--db", str(path)]) == 0
    changed = docs[3]
    old_title = changed["protocolSection"]["identificationModule"]["briefTitle"]
    elig = changed["protocolSection"].setdefault("eligibilityModule", {})
    elig.update({"sex": "FEMALE", "minimumAge": "70 Years", "maximumAge": "90 Years"})
    changed["protocolSection"]["identificationModule"]["briefTitle"] = "Zyxwvut trial of older women"
    changed["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2026-11-30", "type": "ACTUAL"}
    (tmp_path / "b.json").write_bytes(json.dumps([changed]).encode())
    assert main(["ingest", str(tmp_path / "b.json"), "--db", str(path)]) == 0
    store = open_store(str(path))
    try:
        searcher = retrieve.searcher_for(store)
        searcher.catch_up()
        nct = changed["protocolSection"]["identificationModule"]["nctId"]
        assert searcher._searcher.num_segments >= 2  # the new version in a segment of its own
        query = f"zyxwvut {old_title}"  # the old version's words too (its document is deleted)
        for filters, kept in ((Filters(), True), (Filters(age=75, sex="female"), True),
                              (Filters(age=75, sex="male"), False), (Filters(age=40, sex="female"), False),
                              (Filters(age=40), False)):
            on_hits, in_query = _both(searcher, monkeypatch, filters, 50, query=query)
            assert on_hits == in_query
            assert (nct in {n for n, _ in on_hits}) is kept
    finally:
        store.close()

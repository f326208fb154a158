"""What history reads from the store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from tests.history.conftest import STATUS_AND_ENROLLMENT, SWITCHED, V1, V2
from trialscope.history import study_history, versions
from trialscope.ingest import ingest
from trialscope.store import open_store


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_versions_in_date_order_with_raw_bytes_exact(store, order):
    paths = [str(V1), str(V2)] if order == "older first" else [str(V2), str(V1)]
    for p in paths:
        ingest(store, [p], progress=False)
    held = versions(store, SWITCHED)
    assert [(v.number, v.last_update, v.raw_format, v.current) for v in held] == [
        (1, "2020-09-18", "xml", False), (2, "2023-05-18", "json", True)]
    assert held[0].source.endswith("NCT04524598.xml") and held[1].source.endswith("NCT04524598.json")
    # the raw bytes of both versions come back exactly as the files held them
    raws = {h.last_update: h.raw for h in store.history(SWITCHED)}
    assert raws["2020-09-18"] == (V1 / f"{SWITCHED}.xml").read_bytes()
    assert store.get(SWITCHED).raw == (V2 / f"{SWITCHED}.json").read_bytes()
    assert study_history(store, SWITCHED).switch.flagged
    assert study_history(store, "NCT09999999") is None
    assert versions(store, "NCT09999999") == []


def test_recent_changes_newest_first_and_paged(store):
    ingest(store, [str(V1)], progress=False)
    first = store.recent_changes()
    assert len(first) == 3 and [s for _, s in first] == sorted((s for _, s in first), reverse=True)
    top = store.max_seq()
    assert first[0][1] == top
    ingest(store, [str(V2 / f"{STATUS_AND_ENROLLMENT}.json")], progress=False)  # an update
    again = store.recent_changes(limit=2)
    assert again[0] == (STATUS_AND_ENROLLMENT, top + 1)
    assert len(again) == 2
    # paging back: before the oldest seq of one page comes the next
    rest = store.recent_changes(before_seq=again[-1][1])
    assert [n for n, _ in again + rest].count(STATUS_AND_ENROLLMENT) == 1
    assert {n for n, _ in again + rest} == {n for n, _ in first}
    assert store.recent_changes(before_seq=1) == []
    # an older version filed in history is no change of the current record: no new seq
    ingest(store, [str(V1 / f"{STATUS_AND_ENROLLMENT}.xml")], progress=False)
    assert store.max_seq() == top + 1

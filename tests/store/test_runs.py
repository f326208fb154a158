"""Runs on every backend: a run whose process died is marked so, and same-date conflicts
are counted apart from true no-ops."""

from __future__ import annotations

import subprocess
import sys

import orjson

from trialscope.ingest import ingest, to_version
from trialscope.sources.base import Origin, SourceRecord
from trialscope.store import open_store
from trialscope.store.base import Outcome

ABANDON = (
    "import os, sys\n"
    "from trialscope.store import open_store\n"
    "store = open_store(sys.argv[1])\n"
    "print(store.begin_run('ingest', 'abandoned'), flush=True)\n"
    "os._exit(0)  # ends without finishing the run, as a kill -9 would\n"
)


def test_a_run_whose_process_ended_is_marked_died(store_url):
    out = subprocess.run([sys.executable, "-c", ABANDON, store_url], capture_output=True, text=True,
                         timeout=120, check=True)
    dead = int(out.stdout.split()[-1])
    store = open_store(store_url)
    try:
        (listed,) = store.runs()
        assert listed.id == dead and listed.status == "died" and "ended without finishing" in listed.message
        mine = store.begin_run("ingest", "next")  # marks the dead run in the store
        alive = {r.id: r.status for r in store.runs()}
        assert alive == {dead: "died", mine: "running"}  # this process's own run is alive
        store.finish_run(mine, "done")
    finally:
        store.close()
    again = open_store(store_url)
    try:
        assert {r.id: r.status for r in again.runs()} == {dead: "died", mine: "done"}
    finally:
        again.close()


def _item(nct: str, title: str) -> SourceRecord:
    rec = {"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": title},
        "statusModule": {"overallStatus": "RECRUITING", "lastUpdatePostDateStruct": {"date": "2021-01-01"}},
    }}
    return SourceRecord(rec, orjson.dumps(rec), Origin(f"{title}.json"), "json")


def test_same_date_other_content_is_a_conflict_counted_apart(store_url):
    store = open_store(store_url)
    try:
        first = ingest(store, [], items=[_item("NCT00000001", "first")], progress=False)
        assert first.added == 1
        second = ingest(store, [], items=[_item("NCT00000001", "first"), _item("NCT00000001", "second")],
                        progress=False)
        assert (second.unchanged, second.conflicts) == (1, 1)
        assert second.as_dict()["conflicts"] == 1
        (run, _) = store.runs()
        assert (run.unchanged, run.conflicts) == (1, 1)
        # first seen wins; the other is filed in history with its source
        assert store.get("NCT00000001").source == "first.json"
        assert [h.source for h in store.history("NCT00000001")] == ["second.json"]
        v = to_version(_item("NCT00000001", "third"))
        r = store.begin_run("ingest", "t")
        assert store.upsert_batch(r, [v], []) == [Outcome.CONFLICT]
        store.finish_run(r, "done")
    finally:
        store.close()


def test_a_stored_implausible_date_is_replaced_by_the_next_valid_version(store_url):
    """A store written before dates were checked may hold a far-future version: it does not
    pin the study; the next valid version replaces it (and it moves to history)."""
    store = open_store(store_url)
    try:
        pinned = to_version(_item("NCT00000001", "pinned"))
        pinned.last_update = "2999-01-01"  # as an unchecked older trialscope stored it
        r = store.begin_run("ingest", "old")
        assert store.upsert_batch(r, [pinned], []) == [Outcome.ADDED]
        real = to_version(_item("NCT00000001", "real"))  # 2021-01-01
        assert store.upsert_batch(r, [real], []) == [Outcome.UPDATED]
        assert store.get("NCT00000001").last_update == "2021-01-01"
        assert [h.last_update for h in store.history("NCT00000001")] == ["2999-01-01"]
        store.finish_run(r, "done")
    finally:
        store.close()

"""The outcome-switch flag in search: indexed from the store's versions (on both stores),
also when an older version arrives after the newer one, filterable and counted."""

from __future__ import annotations

import json

import pytest

from tests.history.conftest import REWORDED, STATUS_AND_ENROLLMENT, SWITCHED, V1, V2
from trialscope.cli import after_ingest, main
from trialscope.index import rebuild
from trialscope.ingest import ingest
from trialscope.search import Searcher, SearchRequest
from trialscope.store import open_store


def ids(searcher, **kw) -> set[str]:
    return {h.nct_id for h in searcher.search(SearchRequest(limit=100, **kw)).hits}


@pytest.mark.parametrize("order", ["newer first", "older first"])
def test_flag_is_indexed_filtered_and_counted(store_url, order):
    store = open_store(store_url)
    for folder in ([V2, V1] if order == "newer first" else [V1, V2]):
        ingest(store, [str(folder)], progress=False)
        after_ingest(store)  # newer first: the older versions change no seq, the hook re-indexes
    searcher = Searcher(store)
    assert ids(searcher, outcome_switched=True) == {SWITCHED, REWORDED}
    assert ids(searcher, outcome_switched=False) == {STATUS_AND_ENROLLMENT}
    assert ids(searcher, outcome_switched=True, query="depression") == {SWITCHED}
    facets = dict(searcher.search(SearchRequest()).facets["outcome_switched"])
    assert facets == {"true": 2, "false": 1}
    rebuild(store)  # a rebuilt index computes the same flags
    searcher = Searcher(store)
    assert ids(searcher, outcome_switched=True) == {SWITCHED, REWORDED}
    store.close()


def test_cli_filter(pairs_db, capsys):
    assert main(["search", "--db", pairs_db, "--outcome-switched", "--json"]) == 0
    found = {s["nctId"] for s in json.loads(capsys.readouterr().out)["studies"]}
    assert found == {SWITCHED, REWORDED}
    assert main(["search", "--db", pairs_db, "--outcome-switched", "no", "--json"]) == 0
    assert {s["nctId"] for s in json.loads(capsys.readouterr().out)["studies"]} == {STATUS_AND_ENROLLMENT}

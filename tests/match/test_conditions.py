"""The condition index (`trialscope.index.conditions`): diseases inferred from a note's words,
and the matcher's `inf` source that asks for them (the in-repo sample)."""

from __future__ import annotations

import time

import orjson
import pytest

from trialscope.cli import after_ingest
from trialscope.index import conditions
from trialscope.ingest import ingest
from trialscope.match import filters_for, read_facts
from trialscope.match.retrieve import candidates, inferred_conditions
from trialscope.store import open_store

from .conftest import HCC

# hepatocellular carcinoma by its signs: the note never names it
DESCRIBED = ("A 62-year-old man with a 6 cm liver mass with arterial enhancement and portal venous washout "
             "on CT, alpha-fetoprotein 900 ng/mL, on a background of alcoholic cirrhosis.")


def test_signs_are_read_as_the_disease_whose_trials_use_those_words(store):
    index = conditions.open_index(store)
    got = index.infer("liver mass arterial enhancement portal venous washout alpha fetoprotein cirrhosis", 5)
    assert got[0][0] == "Carcinoma, Hepatocellular"
    name, score, trials = got[0]
    assert score > got[-1][1] and trials >= 50  # the sample's HCC trials
    assert index.infer("", 5) == [] and index.infer("zzzqqq xxyyzz", 5) == []


def test_the_inferred_diseases_are_queried_and_shared_out(store):
    facts = read_facts(DESCRIBED)
    cands, queries = candidates(store, DESCRIBED, facts, filters_for(facts))
    assert "Carcinoma, Hepatocellular" not in [n for n, _ in queries.cond]
    names = [n for n, _ in queries.inferred]
    assert names[0] == "Carcinoma, Hepatocellular"
    assert queries.inferred[0][1] == 1.0 and all(0 < s <= 1 for _, s in queries.inferred)
    assert HCC in [c.nct_id for c in cands if "inf" in c.ranks]
    assert queries.as_json()["inferredConditions"] == names
    assert inferred_conditions(store, "") == []


def test_built_whole_and_rebuilt_only_when_the_store_has_moved(tmp_path, store):
    """After an ingest the hook builds it; a catch-up with little new keeps it; a tenth more
    studies rebuilds it, by the hook or, when a match finds it outgrown, in the background
    while the old one serves."""
    records = [s.record for s in store.iter_studies()][:70]
    folders = [tmp_path / name for name in ("first", "more", "later")]
    for f in folders:
        f.mkdir()
    for i, r in enumerate(records):
        (folders[0 if i < 50 else 1 if i < 60 else 2] / f"{i}.json").write_bytes(orjson.dumps(r))
    small = open_store(str(tmp_path / "small.db"))
    try:
        ingest(small, [str(folders[0])], progress=False)
        after_ingest(small)  # the vectors, then this index
        assert not conditions.stale(small)
        assert conditions.catch_up(small) == 0
        before = conditions.open_index(small)
        held = before.searcher.num_docs
        assert held > 0 and before.seq == small.max_seq()
        ingest(small, [str(folders[1])], progress=False)
        assert conditions.stale(small)  # 50 -> 60 studies
        after_ingest(small)
        again = conditions.open_index(small)
        assert again is not before and again.searcher.num_docs >= held
        assert not conditions.stale(small)
        ingest(small, [str(folders[2])], progress=False)  # no hook: 60 -> 70
        from trialscope.index import vectors

        vectors.catch_up(small)
        assert conditions.open_index(small) is again  # served while it is rebuilt
        deadline = time.monotonic() + 120
        while conditions.stale(small) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not conditions.stale(small)
        latest = conditions.open_index(small)
        assert latest is not again and latest.seq == small.max_seq()
    finally:
        small.close()


def test_another_format_is_stale(store, monkeypatch):
    assert not conditions.stale(store)
    monkeypatch.setattr(conditions, "FORMAT", conditions.FORMAT + 1)
    assert conditions.stale(store)
    assert conditions.open_index(store, build_missing=False) is None


def test_a_studys_text_is_the_same_from_its_json_and_odd_shapes_still_read(store):
    studies = list(store.get_many([HCC, "NCT05113290"]).values())
    for s in studies:
        text = conditions.study_text_json(s.record_json)
        assert text == conditions.study_text(s.record) and text
    hcc = next(s for s in studies if s.nct_id == HCC)
    text = conditions.study_text_json(hcc.record_json)
    elig = hcc.record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    cut = elig.lower().index("exclusion criteria")
    assert elig[cut - 200: cut - 20].strip() in text and elig[cut + 20: cut + 200].strip() not in text
    odd = {"protocolSection": {"identificationModule": {"briefTitle": 7},
                               "conditionsModule": {"conditions": ["Gout", 3], "keywords": "x"},
                               "eligibilityModule": {"eligibilityCriteria": "Inclusion: gout\nExclusion Criteria: pregnancy"}}}
    raw = orjson.dumps(odd)
    assert conditions.study_text_json(raw) == conditions.study_text(odd) == "Gout\nInclusion: gout\n"
    assert conditions.study_text_json(b"{}") == ""


@pytest.fixture
def unindexed(tmp_path, store):
    """A store of 30 sample studies, its vectors built and its condition index removed."""
    import shutil

    folder = tmp_path / "few"
    folder.mkdir()
    for i, s in enumerate(list(store.iter_studies())[:30]):
        (folder / f"{i}.json").write_bytes(s.record_json)
    small = open_store(str(tmp_path / "few.db"))
    try:
        ingest(small, [str(folder)], progress=False)
        after_ingest(small)
        shutil.rmtree(conditions.index_dir(small))
        yield small
    finally:
        small.close()


def test_matches_arriving_together_wait_for_one_build(unindexed, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    small = unindexed
    builds = []
    real = conditions._build_locked
    monkeypatch.setattr(conditions, "_build_locked", lambda st: builds.append(1) or real(st))
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: conditions.open_index(small), range(4)))
    assert len(builds) == 1 and all(g is got[0] for g in got) and got[0].searcher.num_docs > 0


def test_a_match_during_another_builders_build_waits_for_it_and_does_not_repeat_it(unindexed, monkeypatch):
    """serve's warm-up child builds the index in its own process; a match arriving meanwhile
    waits on the folder's writer lock and then opens that build instead of making its own."""
    import threading

    from trialscope.index.folders import locked

    small = unindexed
    real = conditions._build_locked
    builds = []
    got = []
    with locked(conditions.index_dir(small)):  # the other builder holds the lock ...
        monkeypatch.setattr(conditions, "_build_locked", lambda st: builds.append(1) or real(st))
        waiting = threading.Thread(target=lambda: got.append(conditions.open_index(small)))
        waiting.start()
        time.sleep(0.3)
        assert got == []  # ... so the match waits
        monkeypatch.setattr(conditions, "_build_locked", real)
        real(small)  # ... and finishes its build
    waiting.join(30)
    assert builds == [] and got and got[0] is not None and got[0].searcher.num_docs > 0

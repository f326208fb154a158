"""The ingest pipeline (trialscope.pipeline): stages fed what the store committed, per-study
work in the parse workers, and a writer beside the run caught up, on both store backends."""

from __future__ import annotations

import os

from tests.conftest import sample_archives
from trialscope.index import FullTextIndex, index_path
from trialscope.index.vectors import open_index
from trialscope.ingest import ingest
from trialscope.pipeline import AFTER, Committed, Pipeline, after
from trialscope.store import open_store


def indexed(store) -> int:
    idx = FullTextIndex(index_path(store), create=False)
    idx.index.reload()
    return idx.index.searcher().num_docs


def test_one_pass_leaves_every_derived_index_at_the_store(store_url: str) -> None:
    store = open_store(store_url)
    pipe = Pipeline.open(store)
    assert {"index", "vectors"} <= set(pipe.names)
    summary = ingest(store, sample_archives(), progress=False, workers=2, pipeline=pipe)
    pipe.finish()
    assert pipe.later == [n for n in pipe.later if n.endswith("criteria:catch_up")]  # nothing behind
    after(store, pipe.later + AFTER, progress=False)
    n = store.count()
    assert n == summary.added and pipe.written == store.max_seq()
    assert indexed(store) == n
    assert FullTextIndex(index_path(store), create=False).seq == store.max_seq()
    vectors = open_index(store)
    assert vectors.n_live == n and vectors.rows == pipe.written  # a row per version given
    from trialscope.index import criteria

    assert criteria.seq(store) == store.max_seq()
    store.close()


def test_a_writer_beside_the_run_is_caught_up_after_it(tmp_path) -> None:
    """Another write moves the store's seq during the run: the stages record the seq the run
    began at, and their catch-ups (run after) apply the studies they were not given."""
    from trialscope.ingest import to_version
    from trialscope.sources.base import Origin, SourceRecord

    from .test_ingest import json_studies, with_id

    store = open_store(str(tmp_path / "s.db"))
    pipe = Pipeline.open(store)
    other = to_version(SourceRecord(with_id(json_studies()[0], 1), b"{}", Origin("other"), "json"))
    run = store.begin_run("ingest", "other")
    written = []

    def beside() -> None:
        if not written:
            written.extend(store.upsert_batch(run, [other], []))

    ingest(store, sample_archives(), progress=False, pipeline=pipe, on_batch=beside)
    pipe.finish()
    assert {"trialscope.index:catch_up", "trialscope.index.vectors:catch_up"} <= set(pipe.later)
    assert FullTextIndex(index_path(store), create=False).seq == 0  # the seq the run began at
    after(store, pipe.later, progress=False)
    assert indexed(store) == store.count()
    assert open_index(store).row_of(other.nct_id) is not None
    store.close()


class Recording:
    """A stage that records where `prepare` ran and what `add` was given."""

    name = "recording"

    def __init__(self) -> None:
        self.items: list[Committed] = []
        self.finished: int | None = None

    def prepare(self, records: list[dict]) -> list[int]:
        return [os.getpid()] * len(records)

    def begin(self, store) -> bool:
        return True

    def add(self, items: list[Committed]) -> None:
        self.items += items

    def finish(self, seq: int) -> None:
        self.finished = seq

    def close(self) -> None:
        pass


def recording_stage() -> Recording:
    return Recording()


def test_prepare_runs_in_the_parse_workers_and_add_gets_committed_versions(tmp_path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    pipe = Pipeline.open(store, ["tests.test_pipeline:recording_stage"])
    [stage] = pipe.stages
    ingest(store, sample_archives(), progress=False, workers=2, pipeline=pipe)
    pipe.finish()
    assert stage.finished == store.max_seq()
    pids = {c.prepared for c in stage.items}
    assert pids and os.getpid() not in pids  # prepared in the workers, not here
    assert len(stage.items) == store.max_seq()  # each committed current version once
    by_id = {c.nct_id: c for c in stage.items}
    assert set(by_id) == set(store.nct_ids())
    some = next(iter(by_id.values()))
    assert some.record == store.get(some.nct_id).record or some.nct_id in store.history_ids()
    store.close()


QUERIES = [
    "", "cancer", 'cond:"liver cancer" AND intr:sorafenib', "AREA[Condition]COVERAGE[StartsWith]advanced",
    "AREA[ConditionMeshTerm]Carcinoma", "AREA[LocationCountry]United States", "AREA[HasResults]true",
    "AREA[EnrollmentCount]RANGE[100, 200]", "AREA[MinimumAge]RANGE[MIN, 16 years]", "AREA[ResultsFirstPostDate]MISSING",
    "AREA[Condition:size]RANGE[3,MAX]", "AREA[BriefSummary]sorafenib", "SEARCH[Location](AREA[LocationCity]Chicago)",
    'elig:"heart failure"', "loc:Boston", "spons:pfizer", "id:NCT03949231", "AREA[ReferenceCitation]randomized",
]


def test_the_pipelines_index_equals_a_rebuild_of_the_store(tmp_path) -> None:
    """The documents the parse workers build (as JSON) index the same as `trialscope index`
    rebuilding from the store: the same stored fields per study, and the same hits, scores,
    totals and facets for queries over every kind of field (text, pieces, numbers, places).
    One archive, so that no study is indexed twice (a replaced document counts in BM25's
    statistics until its segment merges)."""
    from trialscope.index import rebuild
    from trialscope.search import Searcher, SearchRequest

    piped = open_store(str(tmp_path / "piped.db"))
    pipe = Pipeline.open(piped, ["trialscope.index:stage"])
    archive = [p for p in sample_archives() if p.endswith(".json.zip")]
    assert len(archive) == 1
    ingest(piped, archive, progress=False, workers=2, pipeline=pipe)
    pipe.finish()
    rebuilt = open_store(str(tmp_path / "rebuilt.db"))
    ingest(rebuilt, archive, progress=False, workers=2)
    assert rebuild(rebuilt) == rebuilt.count() == piped.count()

    def stored(store) -> dict:
        idx = FullTextIndex(index_path(store), create=False)
        searcher = idx.index.searcher()
        docs = [searcher.doc(addr).to_dict() for addr in _addresses(searcher)]
        return {d["nct"][0]: d for d in docs}

    a, b = stored(piped), stored(rebuilt)
    assert len(a) == piped.count() and a == b
    sa, sb = Searcher(piped, catch_up=False), Searcher(rebuilt, catch_up=False)
    for q in QUERIES:
        # every hit with its score (equal scores come in index order, which differs)
        ra, rb = (s.search(SearchRequest(query=q, limit=1000, snippets=False)) for s in (sa, sb))
        assert ra.total == rb.total == len(ra.hits), q
        assert sorted((h.nct_id, round(h.score, 4)) for h in ra.hits) == sorted(
            (h.nct_id, round(h.score, 4)) for h in rb.hits), q
        assert ra.facets == rb.facets, q
    assert sa.search(SearchRequest(query="AREA[LocationCountry]United States")).total > 0
    piped.close()
    rebuilt.close()


def _addresses(searcher) -> list:
    import tantivy

    return [addr for _, addr in searcher.search(tantivy.Query.all_query(), searcher.num_docs).hits]

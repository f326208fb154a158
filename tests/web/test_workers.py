"""`trialscope serve --workers 2`: two real server processes sharing one store and one index."""

from __future__ import annotations

import httpx

from tests.servers import running_server

from .conftest import evil_record
from .test_live import _ingest


def _zebra(nct: str, title: str) -> dict:
    rec = evil_record(nct)
    rec["protocolSection"]["identificationModule"]["briefTitle"] = title
    return rec


def _probe(base: str) -> tuple[int, int]:
    """(worker pid, zebrafish total) from one fresh connection, so one worker answers both."""
    with httpx.Client(base_url=base, timeout=30) as c:
        pid = c.get("/healthz").json()["pid"]
        total = c.get("/api/v2/studies", params={"query.term": "zebrafish", "countTotal": "true"}).json()["totalCount"]
    return pid, total


def _totals_by_worker(base: str, want: int, workers: int = 2, tries: int = 400) -> dict[int, int]:
    """Probe until every one of `workers` processes has answered `want` (or tries run out)."""
    import time

    seen: dict[int, int] = {}
    for _ in range(tries):
        pid, total = _probe(base)
        seen[pid] = total
        if len(seen) >= workers and all(t == want for t in seen.values()):
            break
        time.sleep(0.05)
    return seen


def test_two_workers_answer_and_see_an_ingest_while_serving(tmp_path):
    db = str(tmp_path / "workers.db")
    _ingest(db, tmp_path, [_zebra("NCT09999921", "Zebrafish alpha study")])
    with running_server(db, args=["--workers", "2"]) as base:
        seen = _totals_by_worker(base, 1)
        assert len(seen) == 2, seen  # two processes answer
        assert set(seen.values()) == {1}
        _ingest(db, tmp_path, [_zebra("NCT09999922", "Zebrafish beta study")])
        seen = _totals_by_worker(base, 2)
        assert len(seen) == 2 and set(seen.values()) == {2}, seen  # each sees the new study


def test_two_workers_build_a_missing_index_once(tmp_path):
    """A store with no index yet: both workers start at once; one builds it, both search it."""
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    db = str(tmp_path / "fresh.db")
    path = tmp_path / "NCT09999931.json"
    import json

    path.write_text(json.dumps(_zebra("NCT09999931", "Zebrafish gamma study")))
    store = open_store(db)
    ingest(store, [str(path)], progress=False)  # the store only: no derived data
    store.close()
    with running_server(db, args=["--workers", "2"]) as base:
        seen = _totals_by_worker(base, 1)
        assert len(seen) == 2 and set(seen.values()) == {1}, seen
    assert not (tmp_path / "fresh.db.index.building").exists()

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


def test_small_responses_do_not_wait_for_a_delayed_ack(tmp_path):
    """With --workers N uvicorn binds the socket itself and asyncio left TCP_NODELAY off:
    every small response (headers and body in two writes) waited ~40 ms for the client's
    delayed ACK. The 11th fastest of 40 requests on one connection shows it: with the bug only
    the first few (the kernel's quick-ACK start of a connection) beat 40 ms; without it a
    quarter of them take a few milliseconds even on a loaded machine."""
    import http.client
    import time
    from urllib.parse import urlsplit

    db = str(tmp_path / "nodelay.db")
    _ingest(db, tmp_path, [_zebra("NCT09999941", "Zebrafish gamma study")])
    with running_server(db, args=["--workers", "2"]) as base:
        url = urlsplit(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        times = []
        for _ in range(40):
            t = time.perf_counter()
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            assert r.status == 200 and r.read()
            times.append((time.perf_counter() - t) * 1000)
        conn.close()
    assert sorted(times)[10] < 30, sorted(times)[:12]

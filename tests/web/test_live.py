"""A running server sees new ingests; real bugs give a clean 500 (page or JSON), never a traceback."""

from __future__ import annotations

import json
import time

import httpx
from fastapi.testclient import TestClient

from tests.servers import running_server

from .conftest import evil_record


def _ingest(db: str, folder, records: list[dict]) -> None:
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    paths = []
    for rec in records:
        nct = rec["protocolSection"]["identificationModule"]["nctId"]
        path = folder / f"{nct}.json"
        path.write_text(json.dumps(rec))
        paths.append(str(path))
    store = open_store(db)
    ingest(store, paths, progress=False)
    after_ingest(store)
    store.close()


def test_server_sees_new_ingests(tmp_path):
    db = str(tmp_path / "live.db")
    first = evil_record("NCT09999911")
    first["protocolSection"]["identificationModule"]["briefTitle"] = "Zebrafish alpha study"
    _ingest(db, tmp_path, [first])
    with running_server(db) as base, httpx.Client(base_url=base, timeout=30) as c:
        assert c.get("/api/v2/studies", params={"query.term": "zebrafish", "countTotal": "true"}).json()["totalCount"] == 1
        second = evil_record("NCT09999912")
        second["protocolSection"]["identificationModule"]["briefTitle"] = "Zebrafish beta study"
        _ingest(db, tmp_path, [second])
        deadline = time.monotonic() + 15
        while True:
            body = c.get("/api/v2/studies", params={"query.term": "zebrafish", "countTotal": "true"}).json()
            if body["totalCount"] == 2:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.5)
        assert c.get("/study/NCT09999912").status_code == 200


def test_unexpected_errors_are_clean_500s(sample_db):
    from trialscope.web import create_app

    app = create_app(sample_db)

    def boom(*a, **k):
        raise RuntimeError("simulated bug")

    app.state.web.store.get = boom
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/study/NCT03949231")
    assert r.status_code == 500 and "Something went wrong" in r.text
    assert "Traceback" not in r.text and "simulated bug" not in r.text
    assert r.headers["content-security-policy"]
    r = client.get("/api/v2/studies/NCT03949231")
    assert r.status_code == 500 and r.json() == {"error": "internal error", "status": 500}

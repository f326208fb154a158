"""The team setup: two `trialscope serve` processes on one PostgreSQL store; a write by
another process (an ingest, a sync) becomes visible through both."""

from __future__ import annotations

import time
from datetime import date

import httpx
import orjson

from tests.servers import running_server
from trialscope.ingest import ingest
from trialscope.sources.base import Origin, SourceRecord
from trialscope.store import open_store

TODAY = date.today().isoformat()  # a newer version than any sample study's


def _total(base: str, **params: str) -> int | None:
    q = {"countTotal": "true", "fields": "NCTId", "pageSize": "1", **params}
    return httpx.get(base + "/api/v2/studies", params=q, timeout=30).json().get("totalCount")


def test_two_servers_share_one_postgres_store(pg_server, sample_dir, tmp_path):
    url = pg_server.create_database()
    store = open_store(url)
    first = ingest(store, [str(sample_dir / "ctg-studies.json.zip")], progress=False)
    with (
        running_server(url, env={"TRIALSCOPE_DATA": str(tmp_path / "a")}) as a,
        running_server(url, env={"TRIALSCOPE_DATA": str(tmp_path / "b")}) as b,
    ):
        assert _total(a) == _total(b) == first.added
        nct = next(iter(store.nct_ids()))
        rec = store.get(nct).record
        rec["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": TODAY}
        ingest(store, [], items=[SourceRecord(rec, orjson.dumps(rec), Origin("cron"), "json")],
               progress=False)
        deadline = time.monotonic() + 30
        for base in (a, b):
            while _total(base, **{"filter.advanced": f"AREA[LastUpdatePostDate]RANGE[{TODAY},MAX]"}) != 1:
                assert time.monotonic() < deadline, f"{base} never saw the new version"
                time.sleep(0.2)
            got = httpx.get(f"{base}/api/v2/studies/{nct}", timeout=30).json()
            assert got["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] == TODAY
    store.close()

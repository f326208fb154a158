"""Fixtures for the history tests: real two-version studies (tests/data/history) in a store."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "history"
V1, V2 = DATA / "v1", DATA / "v2"
STATUS_AND_ENROLLMENT = "NCT04542642"  # Recruiting → Completed, 130 (estimated) → 52 (actual)
SWITCHED = "NCT04524598"  # four primary outcomes added after the start date
REWORDED = "NCT00498550"  # a primary outcome reworded, another removed, after the start


def ingest_into(db: str, *paths: Path) -> None:
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    store = open_store(db)
    try:
        summary = ingest(store, [str(p) for p in paths], progress=False)
        assert summary.rejected == 0
        after_ingest(store)
    finally:
        store.close()


@pytest.fixture(scope="session")
def pairs_db(tmp_path_factory) -> str:
    """A SQLite store holding both versions of every fixture study (older ingested first)."""
    db = str(tmp_path_factory.mktemp("pairs") / "pairs.db")
    ingest_into(db, V1)
    ingest_into(db, V2)
    return db


def newer_version(record: dict, date: str, edit) -> bytes:
    """A copy of a v2 record with its last-update date moved to `date` and `edit` applied."""
    copy = orjson.loads(orjson.dumps(record))
    status = copy["protocolSection"]["statusModule"]
    status["lastUpdatePostDateStruct"] = {"date": date, "type": "ACTUAL"}
    status["lastUpdateSubmitDate"] = date
    edit(copy)
    return orjson.dumps(copy)

"""`trialscope copy`: SQLite -> PostgreSQL -> SQLite loses nothing, and verification catches
a difference."""

from __future__ import annotations

import os
import shutil

import orjson
import pytest

from trialscope.cli import main
from trialscope.sources.base import Origin, Reject
from trialscope.store import open_store
from trialscope.store.copy import CopyError, copy_store, verify


@pytest.fixture
def source(sample_db, tmp_path) -> str:
    """The sample store plus what a store gathers over time: withdrawn marks, sync meta."""
    path = str(tmp_path / "source.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(sample_db + suffix):
            shutil.copy(sample_db + suffix, path + suffix)
    st = open_store(path)
    st.mark_withdrawn(["NCT00000131", "NCT00001159"], "2026-01-02")
    st.set_meta("sync.last", '{"high_water": "2025-09-12"}')
    run = st.begin_run("sync", "http://upstream.test/api/v2")
    st.upsert_batch(run, [], [Reject(Origin("page1", "studies[0]"), "bad record", "NCT00000001")])
    st.finish_run(run, "done")
    st.close()
    return path


def test_round_trip_sqlite_postgres_sqlite(source, pg_server, tmp_path):
    src = open_store(source)
    assert src.history_count() > 0 and list(src.iter_rejects())
    pg = open_store(pg_server.create_database())
    done = copy_store(src, pg, progress=False)
    assert done["studies"] == src.count() and done["history"] == src.history_count()
    check = verify(src, pg)
    assert check["ok"], check
    assert pg.withdrawn() == src.withdrawn() and pg.max_seq() == src.max_seq()
    assert pg.get_meta("sync.last") == '{"high_water": "2025-09-12"}'
    assert pg.stats() == src.stats()
    nct = next(n for n in src.nct_ids() if n not in src.withdrawn())
    assert pg.get(nct).raw == src.get(nct).raw
    # new writes after the copy continue the sequence and run ids
    run = pg.begin_run("ingest", "after copy")
    assert run == max(r.id for r in src.runs()) + 1
    back = open_store(str(tmp_path / "back.db"))
    copy_store(pg, back, progress=False)
    assert verify(pg, back)["ok"]  # (pg now has one more run than src)
    with pytest.raises(CopyError, match="not empty"):
        copy_store(src, back)
    # a difference is found and named
    assert back.mark_withdrawn([nct], "2030-01-01") == 1, (nct, back.withdrawn())
    bad = verify(pg, back)
    assert not bad["ok"] and any(nct in m for m in bad["mismatched"]), bad
    for st in (src, pg, back):
        st.close()


def test_copy_command(source, pg_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRIALSCOPE_DATA", str(tmp_path / "var"))
    url = pg_server.create_database()
    assert main(["copy", source, url, "--json", "--no-progress"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["verify"]["ok"] and out["copy"]["studies"] == out["verify"]["checks"]["studies"]["source"]
    assert main(["copy", url, str(tmp_path / "b.db"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "OK: the stores agree" in text and "per study" in text
    assert main(["copy", source, url]) == 2  # destination not empty
    assert main(["copy", str(tmp_path / "missing.db"), str(tmp_path / "c.db")]) == 2
    assert not os.path.exists(tmp_path / "missing.db")

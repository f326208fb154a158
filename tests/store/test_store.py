"""The store contract, run on every backend: SQLite and a real local PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import date

import orjson
import pytest

from trialscope.ingest import to_version
from trialscope.sources.base import Origin, Reject, SourceRecord
from trialscope.store import open_store
from trialscope.store.base import Outcome


def record(nct: str, date: str, title: str = "A study", status: str = "RECRUITING") -> dict:
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct, "briefTitle": title},
            "statusModule": {"overallStatus": status, "lastUpdatePostDateStruct": {"date": date}},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"]},
        }
    }


def version(nct: str, date: str, title: str = "A study", raw: bytes | None = None, **kw):
    rec = record(nct, date, title, **kw)
    return to_version(
        SourceRecord(rec, raw if raw is not None else orjson.dumps(rec), Origin("test.json"), "json")
    )


@pytest.fixture
def store(store_url):
    st = open_store(store_url)
    yield st
    st.close()


def write(store, versions, rejects=(), meta=None):
    run = store.begin_run("ingest", "test")
    kwargs = {"meta": meta} if meta is not None else {}
    out = store.upsert_batch(run, list(versions), list(rejects), **kwargs)
    store.finish_run(run, "done")
    return out


def test_add_get_raw_byte_exact(store):
    raw = b"\xef\xbb\xbf<clinical_study>\x00\xff\r\n caf\xc3\xa9 </clinical_study>\n"
    v = version("NCT00000001", "2020-01-02", raw=raw)
    v.raw_format = "xml"
    assert write(store, [v]) == [Outcome.ADDED]
    got = store.get("NCT00000001")
    assert got.raw == raw and isinstance(got.raw, bytes)
    assert got.record_json == v.record and isinstance(got.record_json, bytes)
    assert got.record["protocolSection"]["identificationModule"]["briefTitle"] == "A study"
    assert (got.last_update, got.raw_format, got.source) == ("2020-01-02", "xml", "test.json")
    assert got.withdrawn_at is None
    assert store.get("NCT09999999") is None
    assert set(store.get_many(["NCT00000001", "NCT09999999"])) == {"NCT00000001"}
    assert store.get_many([]) == {}
    assert store.count() == 1


def test_versioning_rule(store):
    assert write(store, [version("NCT00000001", "2020-01-01", "v1")]) == [Outcome.ADDED]
    seq1 = store.max_seq()
    # newer replaces, the old one goes to history
    assert write(store, [version("NCT00000001", "2021-01-01", "v2")]) == [Outcome.UPDATED]
    cur = store.get("NCT00000001")
    assert cur.last_update == "2021-01-01" and cur.seq > seq1
    hist = store.history("NCT00000001")
    assert [(h.last_update, orjson.loads(h.record_json)["protocolSection"]["identificationModule"]["briefTitle"]) for h in hist] == [("2020-01-01", "v1")]
    # older never overwrites; it is kept in history
    seq2 = store.max_seq()
    assert write(store, [version("NCT00000001", "2019-06-01", "v0")]) == [Outcome.OLDER]
    assert store.get("NCT00000001").last_update == "2021-01-01"
    assert [h.last_update for h in store.history("NCT00000001")] == ["2020-01-01", "2019-06-01"]
    assert store.max_seq() == seq2  # current did not change
    # the same version again is a no-op
    assert write(store, [version("NCT00000001", "2021-01-01", "v2")]) == [Outcome.UNCHANGED]
    assert store.max_seq() == seq2 and len(store.history("NCT00000001")) == 2
    # same date, other bytes: first seen wins, the other goes to history
    assert write(store, [version("NCT00000001", "2021-01-01", "v2bis")]) == [Outcome.CONFLICT]
    assert store.get("NCT00000001").record["protocolSection"]["identificationModule"]["briefTitle"] == "v2"
    assert len(store.history("NCT00000001")) == 3
    # filing the same old version twice keeps one history row
    write(store, [version("NCT00000001", "2019-06-01", "v0")])
    assert len(store.history("NCT00000001")) == 3


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_two_versions_in_one_batch(store, order):
    old, new = version("NCT00000002", "2020-01-01", "old"), version("NCT00000002", "2022-01-01", "new")
    batch = [old, new] if order == "old-first" else [new, old]
    write(store, batch)
    assert store.get("NCT00000002").last_update == "2022-01-01"
    assert [h.last_update for h in store.history("NCT00000002")] == ["2020-01-01"]
    # and against a stored version, three in a batch
    write(store, [version("NCT00000002", "2023-01-01", "c"), version("NCT00000002", "2024-01-01", "d"),
                  version("NCT00000002", "2021-01-01", "b")])
    assert store.get("NCT00000002").last_update == "2024-01-01"
    assert [h.last_update for h in store.history("NCT00000002")] == [
        "2023-01-01", "2022-01-01", "2021-01-01", "2020-01-01"]


def test_runs_and_rejects(store):
    run = store.begin_run("sync", "https://example.org/api/v2")
    rej = [Reject(Origin("page1", "studies[3]"), "invalid study record: bad", "NCT00000009"),
           Reject(Origin("page1", "studies[4]"), "not a v2 study object")]
    store.upsert_batch(run, [version("NCT00000001", "2020-01-01"), version("NCT00000003", "2020-01-01")], rej)
    store.upsert_batch(run, [version("NCT00000001", "2021-01-01"), version("NCT00000001", "2021-01-01")], [])
    done = store.finish_run(run, "done", "ok", 1.5)
    assert (done.id, done.kind, done.status, done.message, done.duration_s) == (run, "sync", "done", "ok", 1.5)
    assert (done.added, done.updated, done.unchanged, done.rejected) == (2, 1, 1, 2)
    assert done.finished_at
    other = store.begin_run("ingest", "x")
    failed = store.finish_run(other, "failed")
    assert failed.duration_s is not None and failed.duration_s >= 0
    assert [r.id for r in store.runs()] == [other, run]
    assert [r.id for r in store.runs(kind="sync")] == [run]
    got = store.rejects(run)
    assert [(r.run_id, r.origin, r.nct_id, r.message) for r in got] == [
        (run, "page1!studies[3]", "NCT00000009", "invalid study record: bad"),
        (run, "page1!studies[4]", None, "not a v2 study object"),
    ]
    assert store.rejects() == []  # the latest run had none
    assert len(store.rejects(run, limit=1)) == 1


def test_seq_and_changes_since(store):
    assert store.max_seq() == 0 and store.changes_since(0) == []
    write(store, [version(f"NCT0000001{i}", "2020-01-01") for i in range(5)])
    assert store.max_seq() == 5
    changes = store.changes_since(0)
    assert [c.seq for c in changes] == [1, 2, 3, 4, 5]
    assert [c.nct_id for c in store.changes_since(3)] == ["NCT00000013", "NCT00000014"]
    assert len(store.changes_since(0, limit=2)) == 2
    write(store, [version("NCT00000011", "2021-01-01")])
    assert [(c.nct_id, c.seq) for c in store.changes_since(5)] == [("NCT00000011", 6)]
    write(store, [version("NCT00000011", "2021-01-01")])  # no-op: no new seq
    assert store.max_seq() == 6


def test_withdrawn_marking(store):
    write(store, [version("NCT00000001", "2020-01-01"), version("NCT00000002", "2020-01-01")])
    seq = store.max_seq()
    assert store.mark_withdrawn(["NCT00000001", "NCT09999999"], "2024-05-01") == 1
    got = store.get("NCT00000001")
    assert got.withdrawn_at == "2024-05-01" and got.seq > seq  # indexes see the change
    assert store.count() == 2  # never deleted
    assert store.mark_withdrawn(["NCT00000001"], "2024-06-01") == 0  # keeps the first date
    assert store.get("NCT00000001").withdrawn_at == "2024-05-01"
    assert store.withdrawn() == {"NCT00000001": "2024-05-01"}
    assert [c.nct_id for c in store.changes_since(seq)] == ["NCT00000001"]
    assert store.unmark_withdrawn(["NCT00000001", "NCT00000002"]) == 1
    assert store.get("NCT00000001").withdrawn_at is None and store.withdrawn() == {}


def test_meta_and_atomic_meta(store):
    assert store.get_meta("sync.cursor") is None
    store.set_meta("sync.cursor", '{"page": 1}')
    assert store.get_meta("sync.cursor") == '{"page": 1}'
    store.set_meta("sync.cursor", '{"page": 2}')
    assert store.get_meta("sync.cursor") == '{"page": 2}'
    write(store, [version("NCT00000001", "2020-01-01")], meta={"sync.cursor": "3", "other": None})
    assert store.get_meta("sync.cursor") == "3"
    store.set_meta("sync.cursor", None)
    assert store.get_meta("sync.cursor") is None
    assert "seq" in store.meta_items()


def test_failed_batch_leaves_nothing(store):
    write(store, [version("NCT00000001", "2020-01-01")])
    run = store.begin_run("ingest", "t")
    bad = version("NCT00000002", "2020-01-01")
    bad.raw = None  # NOT NULL violation inside the batch
    with pytest.raises(Exception):  # noqa: B017 - either driver's integrity error
        store.upsert_batch(run, [version("NCT00000003", "2020-01-01"), bad], [],
                           meta={"sync.cursor": "x"})
    assert store.count() == 1 and store.get("NCT00000003") is None
    assert store.get_meta("sync.cursor") is None and store.max_seq() == 1


def test_iteration(store):
    ids = [f"NCT000000{i:02d}" for i in range(30, 0, -1)]
    write(store, [version(n, "2020-01-01") for n in ids])
    write(store, [version(n, "2021-01-01") for n in ids[:5]])
    assert [s.nct_id for s in store.iter_studies(batch_size=7)] == sorted(ids)
    assert list(store.nct_ids()) == sorted(ids)
    hist = list(store.iter_history(batch_size=2))
    assert [h.nct_id for h in hist] == sorted(ids[:5])
    assert store.history_count() == 5
    assert store.newest_update() == "2021-01-01"
    stats = store.stats()
    assert stats["overallStatus"] == {"RECRUITING": 30}
    assert stats["phase"] == {"PHASE2": 30} and stats["hasResults"] == {"false": 30}


def test_schema_version_and_migrations(store_url):
    from trialscope.store import postgres, sqlite

    st = open_store(store_url)
    expected = postgres.SCHEMA_VERSION if store_url.startswith("postgresql") else sqlite.SCHEMA_VERSION
    assert st.schema_version() == expected
    write(st, [version("NCT00000001", "2020-01-01")])
    st.close()
    again = open_store(store_url)  # reopening migrates nothing and keeps the data
    assert again.schema_version() == expected and again.count() == 1
    # a store written by a newer trialscope is refused, not damaged
    if store_url.startswith("postgresql"):
        with again.pool.connection() as conn:
            conn.execute("INSERT INTO schema_migrations VALUES (99, 'future')")
    else:
        again.db.execute("PRAGMA user_version=99")
    again.close()
    with pytest.raises(RuntimeError, match="newer"):
        open_store(store_url)


def test_concurrent_writers_and_readers(store_url):
    """Two writers and a reader following changes_since: the reader misses nothing."""
    stores = [open_store(store_url) for _ in range(3)]
    setup = stores[0]
    write(setup, [version("NCT00000001", "2000-01-01")])
    errors: list[BaseException] = []
    seen: dict[str, str] = {}
    stop = threading.Event()

    def writer(st, prefix: int) -> None:
        try:
            for b in range(8):
                run = st.begin_run("ingest", f"w{prefix}")
                batch = [version(f"NCT{prefix}{b:03d}{i:04d}", f"2020-01-{b + 1:02d}") for i in range(25)]
                batch.append(version("NCT00000001", f"20{prefix - 1}{b}-01-01"))  # contended row
                st.upsert_batch(run, batch, [])
                st.finish_run(run, "done")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader(st) -> None:
        last = 0
        try:
            while True:
                done = stop.is_set()
                changes = st.changes_since(last, limit=50)
                for change in changes:
                    assert change.seq > last
                    last = change.seq
                    seen[change.nct_id] = change.last_update
                if done and not changes:
                    return
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(stores[0], 1)),
               threading.Thread(target=writer, args=(stores[1], 2))]
    follow = threading.Thread(target=reader, args=(stores[2],))
    follow.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    follow.join()
    assert not errors, errors
    final = {s.nct_id: s.last_update for s in setup.iter_studies()}
    assert len(final) == 1 + 2 * 8 * 25
    assert seen == final  # the follower's view equals the store
    assert final["NCT00000001"] == "2017-01-01"
    seqs = [s.seq for s in setup.iter_studies()]
    assert len(set(seqs)) == len(seqs) and max(seqs) == setup.max_seq()
    for st in stores:
        st.close()


def test_sample_ingest_matches_across_backends(store_url, sample_dir, manifest):
    from trialscope.ingest import ingest

    st = open_store(store_url)
    summary = ingest(st, [str(sample_dir / "ctg-studies.json.zip")], progress=False)
    assert summary.added == manifest["entries"]["ctg-studies.json.zip"] - summary.rejected
    assert st.count() == summary.added
    again = ingest(st, [str(sample_dir / "ctg-studies.json.zip")], progress=False)
    assert again.added == again.updated == 0
    st.close()


def test_postgres_read_only_connection_serves_reads(pg_server):
    """What a serve process on a streaming replica sees: reads work, writes are refused."""
    url = pg_server.create_database()
    primary = open_store(url)
    write(primary, [version("NCT00000001", "2020-01-01")])
    replica_url = url + "?options=-c%20default_transaction_read_only%3Don"
    replica = open_store(replica_url)  # no migration DDL on an up-to-date schema
    assert replica.get("NCT00000001").last_update == "2020-01-01"
    assert [c.nct_id for c in replica.changes_since(0)] == ["NCT00000001"]
    with pytest.raises(Exception, match="read-only"):
        replica.begin_run("ingest", "x")
    replica.close()
    primary.close()
    # an empty database behind a read-only connection: a clear message, not a crash
    fresh = pg_server.create_database() + "?options=-c%20default_transaction_read_only%3Don"
    with pytest.raises(RuntimeError, match="read-only"):
        open_store(fresh)


def test_zip_entries_keep_their_deflate_stream_and_read_back_exact(store_url, sample_dir, tmp_path):
    """A study from a zip archive is stored as the archive's deflate stream (SQLite) and
    read back byte-exact; a newer version files it in history, still exact."""
    import zipfile

    from trialscope.ingest import ingest

    archive = sample_dir / "ctg-studies.json.zip"
    with zipfile.ZipFile(archive) as z:
        original = z.read("NCT05113290.json")
    st = open_store(store_url)
    ingest(st, [str(archive)], progress=False)
    got = st.get("NCT05113290")
    assert got.raw == original
    if not store_url.startswith("postgresql"):
        codec, size = st.db.execute(
            "SELECT raw_codec, length(raw) FROM studies WHERE nct_id = 'NCT05113290'").fetchone()
        assert codec == "deflate" and size < len(original)
    newer = orjson.loads(original)
    newer["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": date.today().isoformat(), "type": "ACTUAL"}
    write(st, [to_version(SourceRecord(newer, orjson.dumps(newer), Origin("newer.json"), "json"))])
    (old,) = st.history("NCT05113290")
    assert old.raw == original and st.get("NCT05113290").raw == orjson.dumps(newer)
    assert [h.raw for h in st.iter_history()] == [original]
    st.close()


def test_sqlite_store_of_schema_v1_migrates_and_keeps_its_rows(tmp_path):
    import sqlite3

    from trialscope.store import sqlite

    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(sqlite.MIGRATIONS[0])
    rec = record("NCT00000001", "2020-01-01")
    db.execute("INSERT INTO studies VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?,?)",
               ("NCT00000001", "2020-01-01", "sha", orjson.dumps(rec), b"<raw/>", "xml", "old.xml",
                "2020-01-02", 1, "RECRUITING", "INTERVENTIONAL", '["PHASE2"]', 0))
    db.execute("PRAGMA user_version=1")
    db.close()
    st = open_store(str(path))
    assert st.schema_version() == sqlite.SCHEMA_VERSION
    got = st.get("NCT00000001")
    assert got.raw == b"<raw/>" and got.raw_codec is None and got.record == rec
    st.close()

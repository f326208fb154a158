"""Sync end to end against a REAL `trialscope serve` on loopback serving the sample.

After each scenario the mirror must match the source exactly: the same NCT ids, the same
last-update dates, the same record JSON; nothing lost, nothing duplicated.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import orjson
import pytest

from tests.servers import running_server
from trialscope.ingest import ingest
from trialscope.sources.base import Origin, SourceRecord
from trialscope.store import open_store
from trialscope.sync import CURSOR_KEY, Politeness, sync

FAST = Politeness(rate=0, backoff=0.01, max_backoff=0.05, timeout=30)


@pytest.fixture(scope="module")
def upstream(sample_db, tmp_path_factory):
    """A copy of the sample store (upstream changes go there), served for the module."""
    folder = tmp_path_factory.mktemp("upstream")
    db = folder / "up.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(sample_db + suffix):
            shutil.copy(sample_db + suffix, str(db) + suffix)
    for derived in (".index", ".vectors"):
        if os.path.isdir(sample_db + derived):
            shutil.copytree(sample_db + derived, str(db) + derived)
    with running_server(str(db)) as base:
        yield SimpleNamespace(db=str(db), base=base + "/api/v2", folder=folder)


def snapshot(db: str) -> dict[str, tuple[str, bytes]]:
    st = open_store(db)
    try:
        return {s.nct_id: (s.last_update, s.record_json) for s in st.iter_studies()}
    finally:
        st.close()


def assert_mirror(mirror: str, source: str, withdrawn: set[str] = frozenset()) -> None:
    want, got = snapshot(source), snapshot(mirror)
    assert set(got) - set(want) == set(withdrawn), "the mirror holds studies the source lacks"
    missing = set(want) - set(got)
    assert not missing, f"{len(missing)} studies missing, e.g. {sorted(missing)[:3]}"
    for nct, (update, record) in want.items():
        assert got[nct][0] == update, nct
        assert orjson.loads(got[nct][1]) == orjson.loads(record), nct
        assert got[nct][1] == record, nct  # byte for byte
    st = open_store(mirror)
    try:
        assert set(st.withdrawn()) == set(withdrawn)
    finally:
        st.close()


def amend(upstream, ids: list[str], date: str) -> None:
    """New versions of some studies upstream: later last-update date, changed title."""
    st = open_store(upstream.db)
    items = []
    for nct in ids:
        rec = st.get(nct).record
        rec["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": date, "type": "ACTUAL"}
        rec["protocolSection"]["identificationModule"]["briefTitle"] = f"Amended on {date}: {nct}"
        raw = orjson.dumps(rec)
        items.append(SourceRecord(rec, raw, Origin("amended.json"), "json"))
    summary = ingest(st, [], items=items, progress=False)
    assert summary.updated == len(ids)
    st.close()
    # a running server's search catches up with other processes' writes within seconds
    deadline = time.monotonic() + 20
    params = {"filter.advanced": f"AREA[LastUpdatePostDate]RANGE[{date},MAX]",
              "countTotal": "true", "fields": "NCTId"}
    while httpx.get(upstream.base + "/studies", params=params).json().get("totalCount") != len(ids):
        assert time.monotonic() < deadline, "the server never saw the new versions"
        time.sleep(0.2)


def test_full_then_incremental(upstream, tmp_path):
    mirror = str(tmp_path / "mirror.db")
    st = open_store(mirror)
    first = sync(st, upstream.base, polite=FAST, page_size=100, today="2026-01-01")
    assert first.mode == "full" and first.status == "done" and first.complete
    assert first.added == st.count() == len(snapshot(upstream.db))
    assert first.withdrawn == 0
    assert_mirror(mirror, upstream.db)

    changed = ["NCT00000131", "NCT00001159", "NCT00002485"]
    amend(upstream, changed, "2026-04-01")
    second = sync(st, upstream.base, polite=FAST, page_size=100)
    assert second.mode == "incremental" and second.since == first.high_water
    assert second.updated == 3 and second.added == 0
    assert second.read < 20  # only the recent studies were fetched
    assert second.high_water == "2026-04-01"
    assert_mirror(mirror, upstream.db)
    for nct in changed:  # the replaced versions went to history
        assert st.history(nct)[0].last_update < "2026-04-01"
    # nothing new: the overlap day is refetched and is a no-op
    third = sync(st, upstream.base, polite=FAST)
    assert (third.added, third.updated, third.unchanged) == (0, 0, 3)
    assert third.high_water == "2026-04-01"
    st.close()


def test_removed_upstream_is_marked_withdrawn(upstream, tmp_path):
    mirror = str(tmp_path / "mirror.db")
    st = open_store(mirror)
    sync(st, upstream.base, polite=FAST, page_size=200)
    # another upstream without two studies (its own server)
    gone = {"NCT00000410", "NCT00003044"}
    subset_db = str(tmp_path / "subset.db")
    source = open_store(upstream.db)
    items = [SourceRecord(s.record, s.record_json, Origin("subset"), "json")
             for s in source.iter_studies() if s.nct_id not in gone]
    source.close()
    sub = open_store(subset_db)
    ingest(sub, [], items=items, progress=False)
    sub.close()
    with running_server(subset_db) as base:
        s = sync(st, base + "/api/v2", full=True, polite=FAST, page_size=200, today="2026-05-06")
    assert s.withdrawn == 2 and s.status == "done"
    assert st.withdrawn() == dict.fromkeys(sorted(gone), "2026-05-06")
    assert st.get("NCT00000410") is not None  # kept, not deleted
    assert_mirror(mirror, subset_db, withdrawn=gone)
    st.close()


class FlakyProxy:
    """A loopback HTTP proxy answering 503 to every third request, forwarding the rest."""

    def __init__(self, target: str):
        self.target = target.rstrip("/")
        self.count = 0
        self.failed = 0
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with lock:
                    proxy.count += 1
                    fail = proxy.count % 3 == 0
                    proxy.failed += fail
                if fail:
                    body = b"upstream overloaded"
                    self.send_response(503)
                else:
                    r = httpx.get(proxy.target + self.path, timeout=30)
                    body = r.content
                    self.send_response(r.status_code)
                    self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_upstream_failing_every_third_request(upstream, tmp_path):
    mirror = str(tmp_path / "mirror.db")
    st = open_store(mirror)
    host = upstream.base.rsplit("/api/v2", 1)[0]
    with FlakyProxy(host) as proxy:
        s = sync(st, proxy.url + "/api/v2", polite=FAST, page_size=50, today="2026-01-01")
    assert s.status == "done" and s.complete
    assert proxy.failed >= 5 and s.retries == proxy.failed
    assert s.added == st.count()
    assert s.withdrawn == 0  # the sweep came through the same failures intact
    assert_mirror(mirror, upstream.db)
    assert not st.rejects(s.run_id)
    st.close()


def _cli(*args: str) -> list[str]:
    exe = Path(sys.executable).parent / "trialscope"
    return [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "trialscope.cli"]), *args]


def test_kill_9_mid_sync_then_resume(upstream, tmp_path):
    mirror = str(tmp_path / "mirror.db")
    page = 20
    proc = subprocess.Popen(
        _cli("sync", "--from", upstream.base, "--db", mirror, "--page-size", str(page),
             "--rate", "6", "--no-progress"),
        stdout=subprocess.DEVNULL, stderr=(log := open(tmp_path / "sync.log", "wb")),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    pages = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(mirror):
                try:
                    st = open_store(mirror)
                    cursor = st.get_meta(CURSOR_KEY)
                    st.close()
                except Exception:
                    cursor = None
                pages = orjson.loads(cursor).get("pages", 0) if cursor else 0
                if pages >= 4:
                    break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    assert pages >= 4, "the sync finished or stalled before it could be killed: " + (
        tmp_path / "sync.log").read_text(errors="replace")[-2000:]
    st = open_store(mirror)
    cursor = orjson.loads(st.get_meta(CURSOR_KEY))
    # every committed page is whole: studies == pages x page size, nothing half-written
    assert st.count() == cursor["pages"] * page
    total = len(snapshot(upstream.db))
    assert st.count() < total
    st.close()

    done = subprocess.run(
        _cli("sync", "--from", upstream.base, "--db", mirror, "--rate", "0", "--json"),
        capture_output=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    summary = orjson.loads(done.stdout)
    assert summary["resumed_from_page"] == cursor["pages"] + 1
    assert summary["mode"] == "full" and summary["status"] == "done"
    assert summary["added"] == total - cursor["pages"] * page  # nothing fetched twice as new
    assert_mirror(mirror, upstream.db)
    st = open_store(mirror)
    kinds = [(r.kind, r.status) for r in st.runs()]
    assert kinds == [("sync", "done"), ("sync", "interrupted")]
    assert st.get_meta(CURSOR_KEY) is None
    st.close()
    status = subprocess.run(_cli("status", "--db", mirror, "--json"), capture_output=True, timeout=60)
    assert status.returncode == 0, status.stderr.decode()
    info = orjson.loads(status.stdout)
    assert info["studies"] == total and info["pending_sync"] is None
    assert info["last_successful_sync"]["id"] == summary["run"]
    assert info["newest_update"] and info["since_last_successful_sync_s"] < 600

"""Sync against scripted upstream answers (httpx MockTransport): paging edge cases,
retries, Retry-After, malformed records, the sweep's safety."""

from __future__ import annotations

import httpx
import orjson
import pytest

from trialscope.store import open_store
from trialscope.sync import CURSOR_KEY, LAST_KEY, Client, Politeness, SyncError, _retry_after, sync

BASE = "http://upstream.test/api/v2"


def study(nct: str, date: str = "2024-01-02", title: str = "T") -> dict:
    return {"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": title},
        "statusModule": {"overallStatus": "RECRUITING", "lastUpdatePostDateStruct": {"date": date}},
    }}


class Upstream:
    """Answers /studies from a list of pages keyed by page token; records every request."""

    def __init__(self, pages: dict[str | None, dict], ids: list[str] | None = None, fail: dict | None = None):
        self.pages = pages
        self.ids = ids
        self.fail = dict(fail or {})  # request number -> response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        n = len(self.requests)
        if n in self.fail:
            return self.fail[n]
        params = request.url.params
        if params.get("fields") == "NCTId":
            ids = self.ids if self.ids is not None else sorted(
                s["protocolSection"]["identificationModule"]["nctId"]
                for p in self.pages.values() for s in p.get("studies", []) if isinstance(s, dict)
                and "protocolSection" in s)
            body = {"studies": [{"protocolSection": {"identificationModule": {"nctId": i}}} for i in ids]}
            if params.get("countTotal"):
                body["totalCount"] = len(ids)
            return httpx.Response(200, json=body)
        return httpx.Response(200, content=orjson.dumps(self.pages[params.get("pageToken")]))


def make(upstream: Upstream, sleeps: list | None = None, **polite) -> Client:
    record = sleeps if sleeps is not None else []
    return Client(BASE, Politeness(rate=0, backoff=0.5, **polite),
                  transport=httpx.MockTransport(upstream), sleep=record.append)


@pytest.fixture
def store(tmp_path):
    st = open_store(str(tmp_path / "m.db"))
    yield st
    st.close()


def test_pages_rejects_and_resume_state(store):
    up = Upstream({
        None: {"studies": [study("NCT00000001"), study("NCT00000002", "2024-03-04")], "nextPageToken": "a"},
        "a": {"studies": [
            study("NCT00000003"),
            {"protocolSection": {"identificationModule": {"nctId": "NCT00000004"}, "statusModule": 7}},
            {"no": "protocol"},
        ]},
    })
    s = sync(store, BASE, client=make(up), today="2025-01-01")
    assert (s.mode, s.added, s.rejected, s.pages, s.status) == ("full", 3, 2, 2, "done")
    assert s.high_water == "2024-03-04"
    assert store.count() == 3
    rej = store.rejects(s.run_id)
    assert {r.nct_id for r in rej} == {"NCT00000004", None}
    assert store.get_meta(CURSOR_KEY) is None
    assert orjson.loads(store.get_meta(LAST_KEY))["high_water"] == "2024-03-04"
    assert store.runs(kind="sync")[0].rejected == 2
    # the next sync is incremental from the high-water mark, inclusive
    s2 = sync(store, BASE, client=make(up2 := Upstream(up.pages)))
    assert s2.mode == "incremental" and s2.since == "2024-03-04"
    assert "RANGE[2024-03-04,MAX]" in up2.requests[0].url.params["filter.advanced"]
    assert s2.unchanged == 3 and s2.added == 0


@pytest.mark.parametrize("case", ["empty-page", "full-last-page", "repeated-token"])
def test_paging_never_loops(store, case):
    pages = {
        None: {"studies": [study("NCT00000001")], "nextPageToken": "a"},
        "a": {"studies": [study("NCT00000002")], "nextPageToken": "b"},
    }
    if case == "empty-page":
        pages["b"] = {"studies": [], "nextPageToken": "c"}
    elif case == "full-last-page":
        pages["b"] = {"studies": []}
    else:
        pages["b"] = {"studies": [study("NCT00000003")], "nextPageToken": "a"}
    up = Upstream(pages)
    s = sync(store, BASE, client=make(up), today="2025-01-01")
    listing = [r for r in up.requests if r.url.params.get("fields") != "NCTId"]
    assert len(listing) == 3
    assert s.status == "done"
    if case == "repeated-token":
        assert not s.complete and any("repeated" in w for w in s.warnings)
        assert s.high_water is None  # an incomplete listing does not move the mark
        assert store.count() == 3
    else:
        assert s.complete and store.count() == 2


def test_retries_honour_retry_after_then_succeed(store):
    up = Upstream({None: {"studies": [study("NCT00000001")]}}, fail={
        1: httpx.Response(503),
        2: httpx.Response(429, headers={"Retry-After": "7"}),
        3: httpx.Response(200, content=b"{not json"),
    })
    sleeps: list[float] = []
    s = sync(store, BASE, client=make(up, sleeps))
    assert s.added == 1 and s.retries == 3
    assert 7.0 in sleeps  # Retry-After honoured
    assert all(0 <= x <= 60 for x in sleeps)


def test_transport_errors_and_give_up(store):
    calls = []

    def broken(request):
        calls.append(request)
        raise httpx.ConnectTimeout("too slow", request=request)

    client = Client(BASE, Politeness(rate=0, retries=3), transport=httpx.MockTransport(broken),
                    sleep=lambda s: None)
    with pytest.raises(SyncError, match="failed 4 times"):
        sync(store, BASE, client=client)
    assert len(calls) == 4
    run = store.runs(kind="sync")[0]
    assert run.status == "failed" and "ConnectTimeout" in run.message
    assert store.get_meta(CURSOR_KEY) is not None  # kept for the resume


def test_client_error_is_not_retried(store):
    up = Upstream({}, fail={1: httpx.Response(400, text="bad filter")})
    with pytest.raises(SyncError, match="HTTP 400"):
        sync(store, BASE, client=make(up))
    assert len(up.requests) == 1


def test_rate_limit_spaces_requests():
    import time

    up = Upstream({None: {"studies": []}})
    client = Client(BASE, Politeness(rate=20), transport=httpx.MockTransport(up))
    started = time.monotonic()
    for _ in range(6):
        client.studies({})
    assert time.monotonic() - started >= 0.25  # 6 requests at 20/s: at least 5 gaps of 50 ms


def test_retry_after_forms():
    assert _retry_after("3") == 3.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after("soon") is None and _retry_after(None) is None


def test_sweep_marks_withdrawn_and_restores(store):
    pages = {None: {"studies": [study("NCT00000001"), study("NCT00000002"), study("NCT00000003")]}}
    sync(store, BASE, client=make(Upstream(pages)), today="2025-01-01")
    s = sync(store, BASE, full=True, client=make(Upstream(pages, ids=["NCT00000001", "NCT00000003"])),
             today="2025-02-03")
    assert s.withdrawn == 1 and store.withdrawn() == {"NCT00000002": "2025-02-03"}
    assert store.count() == 3  # never deleted
    # an empty or short sweep marks nothing
    s = sync(store, BASE, full=True, client=make(Upstream(pages, ids=[])), today="2025-03-01")
    assert s.withdrawn == 0 and any("incomplete" in w for w in s.warnings)
    s = sync(store, BASE, full=True, client=make(Upstream(pages)), today="2025-04-01")
    assert s.restored == 1 and store.withdrawn() == {}


def test_interrupted_sync_resumes_at_the_next_page(store):
    pages = {
        None: {"studies": [study("NCT00000001")], "nextPageToken": "a"},
        "a": {"studies": [study("NCT00000002")], "nextPageToken": "b"},
        "b": {"studies": [study("NCT00000003")]},
    }
    up = Upstream(pages, fail={2: httpx.Response(500)})
    with pytest.raises(SyncError):
        sync(store, BASE, client=make(up, retries=0))
    assert store.count() == 1
    cursor = orjson.loads(store.get_meta(CURSOR_KEY))
    assert (cursor["token"], cursor["pages"], cursor["mode"]) == ("a", 1, "full")
    up2 = Upstream(pages)
    s = sync(store, BASE, client=make(up2))
    assert s.resumed_from_page == 2 and s.added == 2
    assert up2.requests[0].url.params["pageToken"] == "a"
    assert store.count() == 3 and store.get_meta(CURSOR_KEY) is None
    statuses = [r.status for r in store.runs(kind="sync")]
    assert statuses == ["done", "failed"]


def test_expired_resume_token_lists_again_from_the_start(store):
    pages = {
        None: {"studies": [study("NCT00000001")], "nextPageToken": "a"},
        "a": {"studies": [study("NCT00000002")]},
    }
    with pytest.raises(SyncError):
        sync(store, BASE, client=make(Upstream(pages, fail={2: httpx.Response(500)}), retries=0))
    expired = Upstream(pages, fail={1: httpx.Response(400, text="invalid pageToken")})
    s = sync(store, BASE, client=make(expired))
    assert s.status == "done" and store.count() == 2
    assert s.unchanged == 1 and s.added == 1
    assert any("token refused" in w for w in s.warnings)


def test_incomplete_sweep_still_moves_the_high_water_mark(store):
    pages = {None: {"studies": [study("NCT00000001", "2024-05-06")]}}
    s = sync(store, BASE, client=make(Upstream(pages, ids=[])))
    assert any("incomplete" in w for w in s.warnings) and s.withdrawn == 0
    assert s.high_water == "2024-05-06"  # the listing itself was whole


def test_a_future_date_does_not_push_the_mark_past_today(store):
    from datetime import UTC, datetime, timedelta

    pages = {None: {"studies": [study("NCT00000001", "2099-01-01"), study("NCT00000002", "2024-01-01")]}}
    s = sync(store, BASE, client=make(Upstream(pages)))
    assert s.high_water <= (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    # the future-dated record is rejected (record.check_values), so it moves nothing
    assert s.high_water == "2024-01-01" and s.rejected == 1 and s.added == 1


def test_cli_usage_errors_and_status_text(tmp_path, capsys):
    from trialscope.cli import main

    db = str(tmp_path / "s.db")
    assert main(["sync", "--db", db, "--from", "ftp://example.org"]) == 2
    assert main(["sync", "--db", db, "--since", "last week"]) == 2
    assert main(["sync", "--db", db, "--since", "2024-01-01", "--full"]) == 2
    assert main(["sync", "--db", db, "--page-size", "5000"]) == 2
    capsys.readouterr()
    assert main(["status", "--db", db]) == 0
    assert "never synced" in capsys.readouterr().out
    st = open_store(db)
    sync(st, BASE, client=make(Upstream({None: {"studies": [study("NCT00000001", "2024-02-03")]}})))
    st.close()
    assert main(["status", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "1 studies" in out and "newest last-update date: 2024-02-03" in out
    assert "last successful sync" in out and "high-water mark 2024-02-03" in out
    assert main(["status", "--db", db, "--json"]) == 0
    info = orjson.loads(capsys.readouterr().out)
    assert info["last_sync"]["added"] == 1 and info["high_water"] == "2024-02-03"
    assert info["data_age_days"] > 0

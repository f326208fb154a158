"""The registry's "Unknown status" rule (trialscope.trust) and the index's as-of date."""

from __future__ import annotations

from datetime import date

import pytest

from trialscope.trust import effective_status, month_year, stale_from


def record(status="RECRUITING", completion="2021-01-02", primary=None, verified="2019-05"):
    sm = {"overallStatus": status, "statusVerifiedDate": verified}
    if completion:
        sm["completionDateStruct"] = {"date": completion, "type": "ESTIMATED"}
    if primary:
        sm["primaryCompletionDateStruct"] = {"date": primary}
    return {"protocolSection": {"statusModule": sm}}


@pytest.mark.parametrize("status", ["RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING",
                                    "ENROLLING_BY_INVITATION"])
def test_stale_active_study_is_unknown(status):
    e = effective_status(record(status), date(2026, 12, 1))
    assert e.status == "UNKNOWN" and e.reported == status and e.verified == "2019-05" and e.is_stale


def test_each_condition_is_needed():
    today = date(2026, 12, 1)
    assert effective_status(record("COMPLETED"), today).status == "COMPLETED"
    # verified within two years: current, whatever the completion date
    assert effective_status(record(verified="2025-06"), today).status == "RECRUITING"
    # completion still ahead: current even when verification is old
    assert effective_status(record(completion="2027-03"), today).status == "RECRUITING"
    # no completion date: the primary completion stands in; with neither, never stale
    assert effective_status(record(completion=None, primary="2020-01"), today).status == "UNKNOWN"
    assert effective_status(record(completion=None), today).status == "RECRUITING"


def test_the_day_it_turns():
    r = record(completion="2025-03", verified="2024-11-15")
    # completion: end of March 2025; verified + 2 years: 2026-11-15 -> the later, plus a day
    assert stale_from(r["protocolSection"]["statusModule"]) == date(2026, 11, 16)
    assert effective_status(r, date(2026, 11, 15)).status == "RECRUITING"
    assert effective_status(r, date(2026, 11, 16)).status == "UNKNOWN"


def test_month_year():
    assert month_year("2019-05") == "May 2019"
    assert month_year("2019-05-17") == "May 2019"
    assert month_year(None) is None


def test_index_redates_when_the_day_moves_on(tmp_path):
    """An index built on one day re-indexes exactly the studies whose status flipped since."""
    import orjson

    from trialscope.index import FullTextIndex, catch_up, index_path
    from trialscope.index.fulltext import study_document
    from trialscope.ingest import ingest
    from trialscope.search import Searcher, SearchRequest
    from trialscope.store import open_store

    folder = tmp_path / "in"
    folder.mkdir()
    for nct, completion, verified in (("NCT09000001", "2030-01", "2026-01"),  # current
                                      ("NCT09000002", "2026-06", "2024-01")):  # turned 2026-07-01
        rec = record(completion=completion, verified=verified)
        rec["protocolSection"]["identificationModule"] = {"nctId": nct, "briefTitle": nct}
        rec["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2026-01-02"}
        (folder / f"{nct}.json").write_bytes(orjson.dumps(rec))
    store = open_store(str(tmp_path / "t.db"))
    ingest(store, [str(folder)], progress=False)
    catch_up(store)
    idx = FullTextIndex(index_path(store))
    assert idx.asof == date.today()

    def statuses() -> dict[str, list[str]]:
        searcher = Searcher(store, catch_up=False)
        return {s: [h.nct_id for h in searcher.search(SearchRequest(status=[s])).hits]
                for s in ("RECRUITING", "UNKNOWN")}

    assert statuses() == {"RECRUITING": ["NCT09000001"], "UNKNOWN": ["NCT09000002"]}
    # as if indexed on 1 May 2026, before NCT09000002 turned
    then = date(2026, 5, 1)
    writer = idx.writer(heap=15_000_000)
    for s in store.iter_studies():
        writer.delete_documents_by_term("nct", s.nct_id)
        writer.add_document(study_document(s.record, asof=then))
    writer.commit()
    del writer
    idx.set_seq(idx.seq, then)
    assert statuses() == {"RECRUITING": ["NCT09000001", "NCT09000002"], "UNKNOWN": []}
    # the next catch-up moves the index to today: one study re-indexed, nothing else
    assert catch_up(store) == 1
    assert FullTextIndex(index_path(store)).asof == date.today()
    assert statuses() == {"RECRUITING": ["NCT09000001"], "UNKNOWN": ["NCT09000002"]}
    assert catch_up(store) == 0
    # the stored record keeps what was ingested
    assert store.get("NCT09000002").record["protocolSection"]["statusModule"]["overallStatus"] == "RECRUITING"

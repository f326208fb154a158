"""Records that must be rejected (named by field and value) or kept: each is ingested beside a
valid study that must come through, and a bad version never replaces a good one."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.hostile.inputs import VALID_NCT, ingest_cli, stored_ids, study
from trialscope.record import RecordError, check_values, normalize_nct

FAR = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
NEXT_WEEK = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()


def _with(nct: str, path: str, value) -> dict:
    doc = study(nct)
    *keys, last = path.split(".")
    node = doc["protocolSection"]
    for key in keys:
        node = node.setdefault(key, {})
    node[last] = value
    return doc


BAD = [
    ("identificationModule.nctId", "NCT٩٨000205", "NCT٩٨000205"),
    ("identificationModule.nctId", "NCT0000020５", "NCT0000020５"),
    ("statusModule.overallStatus", "NOT_A_STATUS", "statusModule.overallStatus is 'NOT_A_STATUS'"),
    ("statusModule.lastKnownStatus", "recruiting", "statusModule.lastKnownStatus is 'recruiting'"),
    ("designModule.phases", ["PHASE3", "PHASE9"], "designModule.phases is 'PHASE9'"),
    ("statusModule.startDateStruct", {"date": "yesterday"},
     "statusModule.startDateStruct.date is 'yesterday', not a date"),
    ("statusModule.lastUpdatePostDateStruct", {"date": "2021-13-45"},
     "statusModule.lastUpdatePostDateStruct.date is '2021-13-45', not a date"),
    ("statusModule.lastUpdatePostDateStruct", {"date": FAR},
     f"statusModule.lastUpdatePostDateStruct.date is '{FAR}', a date in the future"),
    ("statusModule.lastUpdateSubmitDate", NEXT_WEEK, "a date in the future"),
    ("statusModule.statusVerifiedDate", "2020-02-30", "statusModule.statusVerifiedDate is '2020-02-30'"),
    ("contactsLocationsModule.locations", [{"city": "Oslo", "status": "OPEN"}],
     "contactsLocationsModule.locations.status is 'OPEN'"),
    ("sponsorCollaboratorsModule.leadSponsor", {"name": "X", "class": "PHARMA"},
     "sponsorCollaboratorsModule.leadSponsor.class is 'PHARMA'"),
]


@pytest.mark.parametrize("path,value,message", BAD, ids=[f"{p}={v}" for p, v, _ in BAD])
def test_bad_record_is_rejected_naming_field_and_value(tmp_path, path, value, message):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.json").write_text(json.dumps(_with("NCT09999902", path, value)))
    (folder / "good.json").write_text(json.dumps(study()))
    summary, rejects = ingest_cli(tmp_path / "s.db", folder)
    assert summary["added"] == 1 and stored_ids(tmp_path / "s.db") == {VALID_NCT}
    assert len(rejects) == 1 and message in rejects[0]["message"], rejects


@pytest.mark.parametrize("update", ["2021-13-45", FAR])
def test_an_invalid_last_update_never_replaces_the_stored_version(tmp_path, update):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(study(lastUpdatePostDateStruct={"date": "2021-06-01", "type": "ACTUAL"})))
    db = tmp_path / "s.db"
    ingest_cli(db, good)
    bad = tmp_path / "bad.json"
    doc = study(lastUpdatePostDateStruct={"date": update, "type": "ACTUAL"})
    doc["protocolSection"]["identificationModule"]["briefTitle"] = "a hijacked title"
    bad.write_text(json.dumps(doc))
    summary, rejects = ingest_cli(db, bad)
    assert (summary["updated"], summary["rejected"]) == (0, 1) and update in rejects[0]["message"]
    # a real, later update still goes in
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(study(lastUpdatePostDateStruct={"date": "2022-01-01", "type": "ACTUAL"})))
    assert ingest_cli(db, newer)[0]["updated"] == 1
    from trialscope.store import open_store

    store = open_store(str(db))
    assert store.get(VALID_NCT).last_update == "2022-01-01"
    assert all("hijacked" not in h.record_json.decode() for h in store.history(VALID_NCT))


def test_same_date_duplicate_with_other_content_is_reported_as_a_conflict(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps(study()))
    other = study()
    other["protocolSection"]["identificationModule"]["briefTitle"] = "Other title, same date"
    two = tmp_path / "two.json"
    two.write_text(json.dumps(other))
    db = tmp_path / "s.db"
    ingest_cli(db, one)
    summary, _ = ingest_cli(db, two, one)
    assert (summary["conflicts"], summary["unchanged"]) == (1, 1)
    text = subprocess.run([sys.executable, "-m", "trialscope.cli", "ingest", str(two), "--db", str(db),
                           "--no-progress"], capture_output=True, text=True, timeout=120).stdout
    assert "1 conflicts" in text and "stays current" in text


def test_valid_values_pass_and_partial_dates_are_dates():
    doc = study()
    doc["protocolSection"]["statusModule"]["startDateStruct"] = {"date": "2019-05", "type": "ACTUAL"}
    doc["protocolSection"]["statusModule"]["statusVerifiedDate"] = "2019"
    check_values(doc)
    # a future start or completion date is a plan, not an error
    doc["protocolSection"]["statusModule"]["completionDateStruct"] = {"date": FAR, "type": "ESTIMATED"}
    check_values(doc)


@pytest.mark.parametrize("text", ["NCT٩٨000205", "nct0000020５", "NCT１２３４５６７８"])
def test_non_ascii_digits_are_no_nct_id(text):
    with pytest.raises(RecordError):
        normalize_nct(text)
    assert normalize_nct(" nct00000205 ") == "NCT00000205"

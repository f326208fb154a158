"""`trialscope history`: the versions, a diff, JSON, and clear errors."""

from __future__ import annotations

import json

import pytest

from tests.history.conftest import STATUS_AND_ENROLLMENT, SWITCHED
from trialscope.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_lists_versions_with_what_changed(pairs_db, capsys):
    code, out, _ = run(capsys, "history", SWITCHED.lower(), "--db", pairs_db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{SWITCHED}: 2 versions held · OUTCOME SWITCHED after the start date (2020-07-20)"
    assert lines[1].startswith("  v1   2020-09-18  xml") and lines[1].endswith("NCT04524598.xml")
    assert "(current)" in lines[3] and "2023-05-18" in lines[3]
    assert "status Recruiting → Completed; enrollment 410 (estimated) → 227 (actual)" in " ".join(out.split())
    assert "v1 → v2: added “Phase I - Feasibility (Eligibility)”" in out
    assert f"trialscope history {SWITCHED} --diff 1..2" in out


def test_diff_by_numbers_or_dates(pairs_db, capsys):
    code, by_number, _ = run(capsys, "history", STATUS_AND_ENROLLMENT, "--db", pairs_db, "--diff", "1..2")
    assert code == 0
    code, by_date, _ = run(capsys, "history", STATUS_AND_ENROLLMENT, "--db", pairs_db, "--diff", "2021-02-01..2022-12-14")
    assert by_number == by_date
    assert by_number.startswith(f"{STATUS_AND_ENROLLMENT}: v1 (2021-02-01) → v2 (2022-12-14)")
    assert "\nStatus (" in by_number and "  ~ Overall status: Recruiting → Completed" in by_number
    assert "  ~ Enrollment: 130 (estimated) → 52 (actual)" in by_number
    code, latest, _ = run(capsys, "history", STATUS_AND_ENROLLMENT, "--db", pairs_db, "--diff")
    assert latest == by_number  # alone: the latest against the one before


def test_json(pairs_db, capsys):
    code, out, _ = run(capsys, "history", SWITCHED, "--db", pairs_db, "--json")
    body = json.loads(out)
    assert body["nctId"] == SWITCHED and body["outcomeSwitch"]["flagged"] is True
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["versions"][1]["changes"]["keys"][:2] == ["status", "enrollment"]
    code, out, _ = run(capsys, "history", SWITCHED, "--db", pairs_db, "--json", "--diff", "1..2")
    diff = json.loads(out)
    assert diff["from"]["version"] == 1 and diff["to"]["version"] == 2
    status = next(m for m in diff["modules"] if m["label"] == "Status")
    overall = next(c for c in status["changes"] if c["label"] == "Overall status")
    assert (overall["before"], overall["after"]) == ("RECRUITING", "COMPLETED")


@pytest.mark.parametrize("argv, message", [
    (["history", "NCT09999999"], "NCT09999999 is not in the store"),
    (["history", "NCT1"], "not an NCT id"),
    (["history", SWITCHED, "--diff", "1..7"], "there is no version 7: versions 1 to 2 are held"),
    (["history", SWITCHED, "--diff", "1"], "version 1 is the oldest held"),
])
def test_errors_are_one_line(pairs_db, capsys, argv, message):
    code, out, err = run(capsys, *argv, "--db", pairs_db)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_terminal_output_has_no_control_characters():
    from trialscope.history.cli import clean

    assert clean("title\x1b[31m red\x07") == "title[31m red"

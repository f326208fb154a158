"""History of real studies with two registry versions (tests/data/history, copied from the
shared data by scripts/make_history_fixtures.py), and of the in-repo sample's pairs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import orjson
import pytest

from tests.conftest import SHARED
from tests.history.conftest import (
    REWORDED,
    STATUS_AND_ENROLLMENT,
    SWITCHED,
    V2,
    ingest_into,
    newer_version,
)
from trialscope.history import compare_versions, pick_range, study_history
from trialscope.store import open_store


@pytest.fixture(scope="module")
def store(pairs_db):
    s = open_store(pairs_db)
    yield s
    s.close()


def change(diff, label: str):
    return next(c for m in diff.modules for c in m.changes if c.label == label)


def test_enrollment_estimated_to_actual_is_shown(store):
    history = study_history(store, STATUS_AND_ENROLLMENT)
    assert [v.last_update for v in history.versions] == ["2021-02-01", "2022-12-14"]
    assert [v.raw_format for v in history.versions] == ["xml", "json"]
    assert "enrollment 130 (estimated) → 52 (actual)" in history.summary(history.versions[1])
    diff = compare_versions(*history.versions)
    c = change(diff, "Enrollment")
    assert (c.kind, c.old, c.new) == ("changed", "130 (estimated)", "52 (actual)")
    assert c.before == {"count": 130, "type": "ESTIMATED"} and c.after == {"count": 52, "type": "ACTUAL"}
    assert c.path == "$.protocolSection.designModule.enrollmentInfo"
    assert [m.label for m in diff.modules if c in m.changes] == ["Design"]


def test_status_change_is_shown(store):
    history = study_history(store, STATUS_AND_ENROLLMENT)
    line = history.summary(history.versions[1])
    assert line.startswith("status Recruiting → Completed; enrollment 130 (estimated) → 52 (actual)")
    c = change(compare_versions(*history.versions), "Overall status")
    assert (c.old, c.new, c.before, c.after) == ("Recruiting", "Completed", "RECRUITING", "COMPLETED")
    assert history.summary(history.versions[0]) == "first version held"


def test_real_outcome_change_after_the_start_is_flagged(store):
    history = study_history(store, SWITCHED)
    switch = history.switch
    assert switch.flagged and switch.start_date == "2020-07-20"
    assert sorted(e.kind for e in switch.events) == ["added"] * 4
    assert all(e.after_start and (e.from_version, e.to_version) == (1, 2) for e in switch.events)
    assert "Phase I - Feasibility (Eligibility)" in {e.new for e in switch.events}
    assert "primary outcome changed (4 added)" in history.summary(history.versions[1])
    # the old primary outcome lives on, made more specific: paired, its measure shown changed
    c = change(compare_versions(*history.versions),
               "Primary outcomes › “Phase II - Change in Depressive Symptoms” › Measure")
    assert (c.old, c.new) == ("Change in depressive symptoms", "Phase II - Change in Depressive Symptoms")


def test_real_rewording_and_removal_are_flagged(store):
    switch = study_history(store, REWORDED).switch
    assert switch.flagged
    assert sorted(e.kind for e in switch.events) == ["removed", "reworded"]
    removed = next(e for e in switch.events if e.kind == "removed")
    assert removed.old == "Brief Psychiatric Rating Scale (BPRS) Total Score"


def test_unchanged_outcome_is_not_flagged(store):
    switch = study_history(store, STATUS_AND_ENROLLMENT).switch
    assert not switch.flagged and switch.events == []


def test_outcome_text_changed_only_in_case_or_spacing_is_not_flagged(tmp_path):
    """A real record, and a newer version whose primary outcome differs only in case,
    spacing and markdown escapes: no flag, no "primary outcome changed"; the diff shows the
    case change (spacing and escapes alone are no change there)."""
    original = json.loads((V2 / f"{STATUS_AND_ENROLLMENT}.json").read_bytes())
    measure = original["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]["measure"]

    def recase(record: dict) -> None:
        outcome = record["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]
        outcome["measure"] = "  " + measure.upper().replace(" ", "   ").replace("-", "\\-") + " "

    folder = tmp_path / "v3"
    folder.mkdir()
    (folder / "study.json").write_bytes(newer_version(original, "2023-06-01", recase))
    db = str(tmp_path / "s.db")
    ingest_into(db, V2 / f"{STATUS_AND_ENROLLMENT}.json")
    ingest_into(db, folder)
    store = open_store(db)
    history = study_history(store, STATUS_AND_ENROLLMENT)
    assert len(history.versions) == 2
    assert history.versions[1].record["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]["measure"] != measure
    assert not history.switch.flagged and history.switch.events == []
    diff = compare_versions(*history.versions)
    [module] = diff.modules
    [c] = module.changes
    assert (module.label, c.label, c.old, c.new) == ("Outcome measures", f"Primary outcomes › “{measure.upper()}” › Measure",
                                                    measure, measure.upper())
    assert history.summary(history.versions[1]) == "also changed: Outcome measures"
    store.close()


def test_sample_pairs(sample_db, manifest):
    """Every study the sample holds in two versions lists both, oldest first, with a
    summary, and a diff of the two."""
    store = open_store(sample_db)
    pairs = manifest["versions_in_extra"]
    assert len(pairs) >= 10
    for nct in pairs:
        history = study_history(store, nct)
        assert len(history.versions) == 2, nct
        older, newer = history.versions
        assert older.last_update < newer.last_update and newer.current and not older.current
        assert history.summary(newer) and history.summary(newer) != "first version held"
        diff = compare_versions(*pick_range(history.versions, "1..2"))
        assert diff.earlier is older and diff.later is newer
        assert not history.switch.flagged, nct  # none of the sample's pairs changed its primary outcomes
    store.close()


def _shared_pairs(tmp: Path) -> list[str]:
    """The studies the shared data holds in two versions, copied into folders to ingest."""
    archives = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip",
                SHARED / "ctgov-extra" / "AllPublicXML-extra.zip"]
    names: dict[Path, dict[str, str]] = {}
    for a in archives:
        with zipfile.ZipFile(a) as zf:
            names[a] = {Path(n).stem.upper(): n for n in zf.namelist() if n.lower().endswith((".xml", ".json"))}
    base = set(names[archives[0]]) | set(names[archives[1]])
    both = sorted(base & set(names[archives[2]]))
    for i, a in enumerate(archives):
        with zipfile.ZipFile(a) as zf:
            for nct in both:
                if nct in names[a]:
                    out = tmp / f"a{i}" / Path(names[a][nct]).name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(names[a][nct]))
    return both


@pytest.mark.skipif(not SHARED.exists(), reason="shared data (../shared/data) is absent: "
                    "the in-repo pairs above cover the same cases")
def test_every_shared_pair(tmp_path):
    """All 284 studies the shared data holds in two versions (more, counting the both-format
    ones): each has a history and a diff, and the flag holds on the cases studied by hand."""
    both = _shared_pairs(tmp_path)
    assert len(both) >= 284
    db = str(tmp_path / "shared-pairs.db")
    ingest_into(db, *sorted(p for p in tmp_path.iterdir() if p.is_dir()))
    store = open_store(db)
    flagged = set()
    for nct in both:
        history = study_history(store, nct)
        assert len(history.versions) == 2, nct
        compare_versions(*history.versions)
        orjson.dumps(history.as_json())
        if history.switch.flagged:
            flagged.add(nct)
    store.close()
    assert {SWITCHED, REWORDED, "NCT00492336"} <= flagged  # outcomes added / reworded / removed
    # enrollment and status changed, outcomes did not; outcomes only made more specific
    # ("Body Weight" → "Change in Body Weight From Baseline to 12 Months"; "Erectile Function"
    # → "International Index of Erectile Function (IIEF)")
    assert not flagged & {STATUS_AND_ENROLLMENT, "NCT00493012", "NCT01105130"}
    assert len(flagged) <= 10, sorted(flagged)

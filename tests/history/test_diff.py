"""The field-level diff (history.diff), the one-line summary and picking versions."""

from __future__ import annotations

import pytest

from trialscope.history import Version, VersionError, diff_records, pick, pick_range, summarize
from trialscope.history.diff import word_diff


def study(**modules) -> dict:
    return {"protocolSection": {"identificationModule": {"nctId": "NCT01234567"}, **modules}}


def changes(a: dict, b: dict) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(m.label, c.label, c.kind, c.old, c.new) for m in diff_records(a, b) for c in m.changes]


def site(facility: str, city: str = "Lyon", status: str = "RECRUITING") -> dict:
    return {"facility": facility, "city": city, "country": "France", "status": status}


def test_scalars_enums_and_dates_for_people():
    a = study(statusModule={"overallStatus": "NOT_YET_RECRUITING", "startDateStruct": {"date": "2021-02", "type": "ESTIMATED"}},
              designModule={"phases": ["PHASE2"], "enrollmentInfo": {"count": 1200, "type": "ESTIMATED"}})
    b = study(statusModule={"overallStatus": "RECRUITING", "startDateStruct": {"date": "2021-03-04", "type": "ACTUAL"}},
              designModule={"phases": ["PHASE2", "PHASE3"], "enrollmentInfo": {"count": 1187, "type": "ACTUAL"}})
    assert changes(a, b) == [
        ("Status", "Overall status", "changed", "Not yet recruiting", "Recruiting"),
        ("Status", "Start date", "changed", "2021-02 (estimated)", "2021-03-04 (actual)"),
        ("Design", "Phase", "added", None, "Phase 3"),
        ("Design", "Enrollment", "changed", "1,200 (estimated)", "1,187 (actual)"),
    ]
    line = summarize(a, b).line()
    assert line == ("status Not yet recruiting → Recruiting; enrollment 1,200 (estimated) → 1,187 (actual); "
                    "phase Phase 2 → Phase 2; Phase 3; start date 2021-02 (estimated) → 2021-03-04 (actual)")


def test_version_stamps_spacing_and_order_are_no_change():
    a = study(statusModule={"lastUpdatePostDateStruct": {"date": "2020-01-01"}, "lastUpdateSubmitDate": "2019-12-30"},
              descriptionModule={"briefSummary": "A  trial of\ndrug \\<X\\>."},
              conditionsModule={"conditions": ["Asthma", "COPD"]})
    b = study(statusModule={"lastUpdatePostDateStruct": {"date": "2021-01-01"}, "lastUpdateSubmitDate": "2020-12-30"},
              descriptionModule={"briefSummary": "A trial of drug <X>."},
              conditionsModule={"conditions": ["COPD", "Asthma"]})
    assert diff_records(a, b) == []
    assert summarize(a, b).line() == "no change in the record's content"


def test_list_items_align_by_what_names_them():
    a = study(contactsLocationsModule={"locations": [site("Hôpital A"), site("Hôpital B")]})
    b = study(contactsLocationsModule={"locations": [site("Clinic Z", "Paris"), site("Hôpital A", status="COMPLETED"),
                                                     site("Hôpital B")]})
    assert changes(a, b) == [
        ("Contacts and locations", "Sites › “Hôpital A (Lyon, France)” › Status", "changed", "Recruiting", "Completed"),
        ("Contacts and locations", "Sites › “Clinic Z (Paris, France)”", "added", None,
         "City: Paris; Country: France; Status: Recruiting"),
    ]
    assert summarize(a, b).line() == "1 site added; also changed: Contacts and locations"


def test_values_added_and_removed_from_lists():
    a = study(conditionsModule={"conditions": ["Asthma", "COPD"], "keywords": ["lung"]})
    b = study(conditionsModule={"conditions": ["Asthma", "Bronchiectasis"], "keywords": ["lung"]})
    assert changes(a, b) == [
        ("Conditions and keywords", "Conditions", "removed", "COPD", None),
        ("Conditions and keywords", "Conditions", "added", None, "Bronchiectasis"),
    ]


def test_long_text_word_by_word():
    before = "Participants " + " ".join(f"w{i}" for i in range(60)) + " will receive drug A daily."
    after = "Participants " + " ".join(f"w{i}" for i in range(60)) + " will receive drug B twice daily."
    [c] = [c for m in diff_records(study(descriptionModule={"detailedDescription": before}),
                                  study(descriptionModule={"detailedDescription": after})) for c in m.changes]
    assert c.label == "Detailed description"
    assert c.words[0] == ("…", "52 unchanged words")  # 64 unchanged, the last 12 kept
    assert ("-", "A") in c.words and ("+", "B twice") in c.words
    assert c.words[-1] == ("=", "daily.")
    assert word_diff("short text", "short texts") is None  # short texts read whole: old → new


def test_outcomes_pair_by_wording_and_show_field_changes():
    a = study(outcomesModule={"primaryOutcomes": [{"measure": "Overall Survival", "timeFrame": "5 years"}]})
    b = study(outcomesModule={"primaryOutcomes": [
        {"measure": "Quality of life (EORTC QLQ-C30)", "timeFrame": "1 year"},
        {"measure": "overall survival", "timeFrame": "3 years"}]})
    assert changes(a, b) == [
        ("Outcome measures", "Primary outcomes › “overall survival” › Measure", "changed", "Overall Survival", "overall survival"),
        ("Outcome measures", "Primary outcomes › “overall survival” › Time frame", "changed", "5 years", "3 years"),
        ("Outcome measures", "Primary outcomes › “Quality of life (EORTC QLQ-C30)”", "added", None, "Time frame: 1 year"),
    ]
    assert summarize(a, b).line() == "primary outcome changed (added)"


def test_results_posted_is_one_line_not_every_value():
    results = {"participantFlowModule": {"groups": [{"id": f"FG{i}", "title": f"Arm {i}"} for i in range(10)]}}
    a, b = study(), {**study(), "resultsSection": results, "hasResults": True}
    [(label, field, kind, old, new)] = changes(a, b)[:1]
    assert (label, kind, old, new) == ("Results: participant flow", "added", None, "20 values")
    assert summarize(a, b).line() == "results posted"


def test_hostile_text_is_kept_as_text():
    a = study(identificationModule={"nctId": "NCT01234567", "briefTitle": "Trial"})
    b = study(identificationModule={"nctId": "NCT01234567", "briefTitle": "<script>alert(1)</script>"})
    assert changes(a, b) == [("Identification", "Brief title", "changed", "Trial", "<script>alert(1)</script>")]


def held(*dates: str) -> list[Version]:
    return [Version(i + 1, d, "src", "json", i == len(dates) - 1, "", b"{}") for i, d in enumerate(dates)]


def test_pick_versions_by_number_date_or_name():
    vs = held("2019-01-01", "2020-01-01", "2021-06-30")
    assert pick(vs, "2").number == 2 and pick(vs, "v2").number == 2
    assert pick(vs, "2021-06-30").number == 3 and pick(vs, "latest").number == 3 and pick(vs, "first").number == 1
    assert [v.number for v in pick_range(vs, "1..3")] == [1, 3]
    assert [v.number for v in pick_range(vs, "2019-01-01..2020-01-01")] == [1, 2]
    assert [v.number for v in pick_range(vs, "2..")] == [2, 3]
    assert [v.number for v in pick_range(vs, "")] == [2, 3]  # the latest against the one before
    assert [v.number for v in pick_range(vs, "2")] == [1, 2]


@pytest.mark.parametrize("spec, message", [
    ("4..5", "there is no version 4: versions 1 to 3 are held"),
    ("1..2022-02-02", "no version last updated on 2022-02-02"),
    ("1..soon", "cannot read version 'soon'"),
    ("1", "version 1 is the oldest held"),
    ("1.." + "9" * 80, "version range too long"),
])
def test_bad_version_ranges_say_why(spec, message):
    with pytest.raises(VersionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pick_range(held("2019-01-01", "2020-01-01", "2021-06-30"), spec)

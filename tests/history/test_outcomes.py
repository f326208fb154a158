"""The outcome-switch definition (history.outcomes), case by case."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from trialscope.history.outcomes import (
    SAME,
    compare,
    outcome_switch,
    same_outcome,
    similarity,
    tokens,
)


def record(primary: list[str], secondary: list[str] = (), start: str | None = "2020-01-15") -> dict:
    status = {"startDateStruct": {"date": start, "type": "ACTUAL"}} if start else {}
    return {"protocolSection": {
        "statusModule": status,
        "outcomesModule": {"primaryOutcomes": [{"measure": m, "timeFrame": "12 weeks"} for m in primary],
                           "secondaryOutcomes": [{"measure": m} for m in secondary]}}}


@dataclass
class V:
    number: int
    last_update: str
    record: dict


def kinds(a: dict, b: dict) -> list[str]:
    return sorted(e.kind for e in compare(a, b))


@pytest.mark.parametrize("later", [
    "overall survival",  # case
    "Overall   Survival ",  # spacing
    "Overall survival.",  # punctuation
    "Overall\\-survival",  # a markdown escape
    "Överall survival",  # an accent
    "The overall survival",  # a word with no meaning alone
])
def test_case_spacing_punctuation_and_escapes_are_no_change(later):
    assert tokens("Overall Survival") == tokens(later)
    assert same_outcome("Overall Survival", later)
    assert compare(record(["Overall Survival"]), record([later])) == []


def test_similarity_is_dice_over_word_sequences():
    assert similarity("a b c d", "a b c d") == 1.0
    # 2 words of 4 + 4 shared in order: 2*2/8
    assert similarity("alpha beta gamma delta", "alpha beta epsilon zeta") == 0.5
    assert similarity("alpha beta", "gamma delta") == 0.0


def test_threshold_boundary():
    assert SAME == 0.5
    assert same_outcome("alpha beta gamma delta", "alpha beta epsilon zeta")  # exactly 0.5
    assert not same_outcome("alpha beta gamma delta", "alpha epsilon zeta eta")  # 0.25


def test_made_more_specific_is_the_same_outcome():
    # real rewordings from registry histories: the earlier wording survives whole
    assert same_outcome("Body Weight", "Change in Body Weight From Baseline to 12 Months")
    assert same_outcome("Erectile Function", "International Index of Erectile Function (IIEF)")
    # ...but only in that direction: dropping words is a change when little is left
    assert not same_outcome("Change in Body Weight From Baseline to 12 Months and Waist", "Body Weight")


def test_substantial_rewording_is_a_switch():
    old = "Days of Cannabis Use as Measured by the Timeline Followback"
    new = "Average Over Time of Intensity of Cannabis Use (Used to Evaluate Treatment Efficacy)"
    assert similarity(old, new) < SAME
    events = compare(record([old]), record([new]))
    assert [(e.kind, e.old, e.new) for e in events] == [("reworded", old, new)]


def test_added_removed_demoted_promoted():
    a, b = "Overall survival", "Progression-free survival at 2 years"
    assert kinds(record([a]), record([a, "Quality of life score"])) == ["added"]
    assert kinds(record([a, "Quality of life score"]), record([a])) == ["removed"]
    assert kinds(record([a, b]), record([a], secondary=[b])) == ["demoted"]
    assert kinds(record([a], secondary=[b]), record([a, b])) == ["promoted"]


def test_merging_identical_outcomes_is_no_switch():
    # two primary outcomes of the same wording (different time frames) became one
    assert compare(record(["All Cause Mortality", "All Cause Mortality"]), record(["All Cause Mortality"])) == []


def test_a_version_without_primary_outcomes_is_skipped():
    assert compare(record([]), record(["Overall survival"])) == []
    assert compare(record(["Overall survival"]), record([])) == []
    versions = [V(1, "2021-01-01", record(["Overall survival"])), V(2, "2021-06-01", record([])),
                V(3, "2022-01-01", record(["Overall survival"]))]
    assert outcome_switch(versions).events == []


def test_flag_needs_the_change_after_the_start_date():
    before = [V(1, "2019-06-01", record(["Overall survival"], start="2020-01-15")),
              V(2, "2020-06-01", record(["Tumour response rate"], start="2020-01-15"))]
    switch = outcome_switch(before)
    assert [e.kind for e in switch.events] == ["reworded"]
    assert not switch.events[0].after_start and not switch.flagged  # v1 predates the start

    after = [V(1, "2020-02-01", before[0].record), V(2, "2021-06-01", before[1].record)]
    switch = outcome_switch(after)
    assert switch.flagged and switch.events[0].after_start
    assert (switch.events[0].from_version, switch.events[0].to_version) == (1, 2)


def test_start_date_to_the_month_counts_from_its_last_day():
    versions = [V(1, "2020-01-20", record(["Overall survival"], start="2020-01")),
                V(2, "2021-01-01", record(["Tumour response rate"], start="2020-01"))]
    assert not outcome_switch(versions).flagged  # 2020-01-20 may be before the start
    versions[0].last_update = "2020-01-31"
    assert outcome_switch(versions).flagged


def test_newest_start_date_is_used_and_no_start_date_never_flags():
    old = record(["Overall survival"], start="2019-01")  # estimated early, started later
    new = record(["Tumour response rate"], start="2020-06-01")
    assert not outcome_switch([V(1, "2020-01-01", old), V(2, "2021-01-01", new)]).flagged
    none = [V(1, "2020-01-01", record(["Overall survival"], start=None)),
            V(2, "2021-01-01", record(["Tumour response rate"], start=None))]
    switch = outcome_switch(none)
    assert switch.events and not switch.flagged and switch.start_date is None

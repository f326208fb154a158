"""parse_criteria never raises and stays bounded, whatever the text."""

from __future__ import annotations

import time

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.criteria import Criteria, Eligibility, criteria_of, decode, encode, parse_criteria

PIECES = st.sampled_from([
    "Inclusion Criteria:", "Exclusion Criteria:", "INCLUSION:", "\n", "\n\n", "  ", "* ", "- ", "1. ", "2) ",
    "(3) ", "a. ", "B. ", "iv. ", "• ", "Age ≥ 18", "ECOG ＜ 2", "\\<", "\\>", "platelets ≥ 50×10E9/L",
    "bilirubin < 51 µmol/L", "stage IIIB", "BCLC C", "Child-Pugh A", "pregnant", "no prior chemotherapy",
    "HCC", "sorafenib", ";", ".", ":", ",", "(", ")", "[", "]", "≤", "≧", "10^9", "x ULN", "DISEASE CHARACTERISTICS:",
    "Age:", "Other:", "Patients with the following are excluded:", "Allowed:", "\t", "é", "中文", "٣",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=60).map("".join))
def test_structured_noise(text):
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text(text):
    _check(text)


def _check(text):
    c = parse_criteria(text)
    assert isinstance(c, Criteria)
    for _section, crit in c.walk():
        assert 0 <= crit.start <= crit.end <= len(text)
        for f in crit.facts:
            assert 0 <= f.start <= f.end <= len(crit.text)
    assert decode(encode(c)) == c
    msgspec.json.encode(c)


def test_one_megabyte_is_bounded():
    unit = ("Inclusion Criteria:\n\n1. Age ≥ 18 with hepatocellular carcinoma; ECOG 0-1; platelets ≥ 75,000/µL\n"
            "* nested (a) item; no prior sorafenib. B. another item C. third\n")
    text = unit * (1_000_000 // len(unit))
    start = time.perf_counter()
    c = parse_criteria(text)
    seconds = time.perf_counter() - start
    assert c.inclusion
    assert seconds < 60  # bounded: the text is cut and the item count capped
    one_line = "x" * 1_000_000
    start = time.perf_counter()
    parse_criteria(one_line)
    assert time.perf_counter() - start < 30


def test_criteria_of_bad_records():
    bad = ({}, {"protocolSection": None}, {"protocolSection": {"eligibilityModule": {"eligibilityCriteria": 5}}},
           {"protocolSection": {"eligibilityModule": {"minimumAge": "soon", "sex": 3, "healthyVolunteers": "y"}}},
           {"derivedSection": {"conditionBrowseModule": {"meshes": [None, {"term": 7}]}}}, [], None)
    for record in bad:
        c = decode(criteria_of(record))
        assert c.inclusion == [] and c.exclusion == [] and c.eligibility == Eligibility()

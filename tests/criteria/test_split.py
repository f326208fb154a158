"""The structure of eligibility texts: headings, lists, nesting, prose, offsets."""

from __future__ import annotations

import pytest

from trialscope.criteria import parse_criteria


def _texts(items):
    return [x.text for x in items]


@pytest.mark.parametrize("inc, exc", [
    ("Inclusion Criteria:", "Exclusion Criteria:"),
    ("INCLUSION:", "EXCLUSION:"),
    ("Key inclusion criteria", "Key exclusion criteria"),
    ("Inclusion criteria include:", "Exclusion criteria include:"),
    ("* Inclusion Criteria:", "* Exclusion Criteria:"),
    ("**Inclusion criteria**", "**Exclusion criteria**"),
    ("Main Inclusion Criteria for Part A:", "Main Exclusion Criteria for Part A:"),
    ("Criteria for inclusion:", "Criteria for exclusion:"),
    ("Eligibility criteria:", "Ineligibility criteria:"),
])
def test_heading_spellings(inc, exc):
    c = parse_criteria(f"{inc}\n\n* Adults with asthma\n* FEV1 ≥ 60%\n\n{exc}\n\n* Current smokers\n")
    assert _texts(c.inclusion) == ["Adults with asthma", "FEV1 ≥ 60%"]
    assert _texts(c.exclusion) == ["Current smokers"]


def test_heading_with_content_on_its_line():
    c = parse_criteria("Inclusion Criteria: age 18 or older\nExclusion criteria include pregnancy")
    assert _texts(c.inclusion) == ["age 18 or older"]
    assert _texts(c.exclusion) == ["pregnancy"]


def test_no_heading_is_inclusion():
    c = parse_criteria("* Type 2 diabetes\n* HbA1c 7-10%")
    assert _texts(c.inclusion) == ["Type 2 diabetes", "HbA1c 7-10%"]
    assert c.exclusion == []


@pytest.mark.parametrize("markers", [
    ("1.", "2.", "3."), ("1)", "2)", "3)"), ("(1)", "(2)", "(3)"), ("a.", "b.", "c."), ("A)", "B)", "C)"),
    ("i.", "ii.", "iii."), ("-", "-", "-"), ("•", "•", "•"), ("·", "·", "·"),
])
def test_list_markers(markers):
    text = "Inclusion Criteria:\n" + "\n".join(f"{m} item {k}" for k, m in enumerate(markers, 1))
    c = parse_criteria(text)
    assert _texts(c.inclusion) == ["item 1", "item 2", "item 3"]
    labels = [x.label for x in c.inclusion]
    assert labels == [m.strip("().") if m[0].isalnum() or m[0] == "(" else "" for m in markers]


def test_nested_by_indentation_and_by_marker():
    text = (
        "Inclusion Criteria:\n\n"
        "* Adequate organ function:\n\n"
        "  * ANC ≥ 1.5 × 10^9/L\n"
        "  * Platelets ≥ 100 × 10^9/L\n"
        "* Measurable disease\n\n"
        "Exclusion Criteria:\n\n"
        "1. Active infection\n"
        "2. Any of the following:\n"
        "a. myocardial infarction\n"
        "b. stroke\n"
        "3. Pregnancy\n"
    )
    c = parse_criteria(text)
    assert _texts(c.inclusion) == ["Adequate organ function:", "Measurable disease"]
    assert _texts(c.inclusion[0].children) == ["ANC ≥ 1.5 × 10^9/L", "Platelets ≥ 100 × 10^9/L"]
    assert [x.label for x in c.exclusion] == ["1", "2", "3"]
    assert _texts(c.exclusion[1].children) == ["myocardial infarction", "stroke"]


def test_items_run_on_one_line_become_siblings():
    c = parse_criteria("Exclusion:\n1. Heart failure.\n2. Renal failure. 3. Known HIV. 4. Pregnancy\n")
    assert [x.label for x in c.exclusion] == ["1", "2", "3", "4"]
    assert _texts(c.exclusion) == ["Heart failure.", "Renal failure.", "Known HIV.", "Pregnancy"]


def test_lettered_lists_do_not_start_at_any_capital():
    c = parse_criteria("Inclusion:\n* U.S. residents\n* I. e. adults\n")
    assert _texts(c.inclusion) == ["U.S. residents", "I. e. adults"]


def test_prose_sentences_and_semicolons():
    c = parse_criteria("Inclusion Criteria: Patients aged 18-75 with HCC; ECOG 0-1; Child-Pugh A. "
                       "No prior systemic therapy, e.g. sorafenib. Exclusion Criteria: Pregnancy.")
    assert _texts(c.inclusion) == ["Patients aged 18-75 with HCC", "ECOG 0-1", "Child-Pugh A.",
                                   "No prior systemic therapy, e.g. sorafenib."]
    assert _texts(c.exclusion) == ["Pregnancy."]


def test_sub_headings_flip_the_sense():
    text = ("Inclusion Criteria\n\nPatients must have:\n\n* HIV infection.\n\n"
            "Patients with the following conditions are excluded:\n\n* Active hepatitis.\n\n"
            "Concurrent medication:\n\nAllowed:\n\n* Acyclovir.\n")
    c = parse_criteria(text)
    assert _texts(c.exclusion) == ["Active hepatitis."]
    assert "HIV infection." in _texts(c.inclusion)
    allowed = next(x for x in c.inclusion if x.text == "Acyclovir.")
    assert allowed.group.lower().startswith("allowed")


def test_markdown_escapes_and_full_width_symbols():
    c = parse_criteria("Inclusion Criteria:\n\n* ECOG ＜ 2\n* Bilirubin \\< 1.5 x ULN\n* Age ≧ 18 years\n")
    assert _texts(c.inclusion) == ["ECOG < 2", "Bilirubin < 1.5 x ULN", "Age ≥ 18 years"]


def test_offsets_index_the_original_text():
    text = "Inclusion Criteria:\n\n1. Age ≥ 18\n2. Signed consent\n\nExclusion Criteria:\n\n* Pregnant"
    c = parse_criteria(text)
    for _section, crit in c.walk():
        assert text[crit.start:crit.end] == crit.text


@pytest.mark.parametrize("text", [None, "", "   \n\n  ", "Inclusion Criteria:", "Exclusion Criteria:\n\n"])
def test_empty_texts(text):
    c = parse_criteria(text)
    assert c.inclusion == [] and c.exclusion == []


def test_not_a_heading():
    c = parse_criteria("Inclusion of patients with stable angina\nExclusion of women is not intended")
    assert len(c.inclusion) == 2 and c.exclusion == []

"""Criteria of real studies from the in-repo sample, parsed and typed."""

from __future__ import annotations

import pytest

from trialscope.criteria import Age, Lab, Performance, Reproductive, Stage, parse_criteria
from trialscope.store import open_store


@pytest.fixture(scope="module")
def store(sample_db):
    s = open_store(sample_db)
    yield s
    s.close()


def _text(store, nct: str) -> str:
    return store.get(nct).record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]


def _facts(criterion, kind):
    return [f for f in criterion.facts if isinstance(f, kind)]


def test_nct03949231_structure(store):
    text = _text(store, "NCT03949231")
    c = parse_criteria(text)
    assert [x.label for x in c.inclusion] == [str(i) for i in range(1, 11)]
    assert [x.label for x in c.exclusion] == [str(i) for i in range(1, 11)]
    six = c.exclusion[5]
    assert [x.label for x in six.children] == ["A", "B", "C", "D"]
    assert six.children[2].text == "Known severe atheromatosis."
    assert six.children[1].text.startswith("Renal failure")
    assert all(not x.children for x in c.exclusion if x is not six)
    # offsets point into the original text
    for _section, crit in c.walk():
        assert crit.text.split()[0].strip("\\") in text[crit.start:crit.end].replace("\\", "")


def test_nct03949231_typed_values(store):
    c = parse_criteria(_text(store, "NCT03949231"))
    age = _facts(c.inclusion[2], Age)
    assert c.inclusion[2].kind == "age"
    assert (age[0].min_years, age[0].max_years) == (18.0, 80.0)
    ecog = _facts(c.inclusion[3], Performance)
    assert (ecog[0].scale, ecog[0].comparator, ecog[0].value) == ("ECOG", "<", 2.0)  # written "＜ 2"
    child_pugh = [s for s in _facts(c.inclusion[3], Stage) if s.system == "Child-Pugh"]
    assert child_pugh[0].values == ["A", "B"]
    labs = {f.analyte: f for f in _facts(c.inclusion[5], Lab)}
    assert (labs["platelets"].comparator, labs["platelets"].value, labs["platelets"].unit) == (">=", 50.0, "×10^9/L")
    assert (labs["bilirubin"].comparator, labs["bilirubin"].value, labs["bilirubin"].unit) == ("<", 51.0, "µmol/L")
    assert (labs["hemoglobin"].value, labs["hemoglobin"].unit) == (90.0, "g/L")
    assert (labs["inr"].comparator, labs["inr"].value) == ("<", 2.3)  # written "\\< 2.3"
    assert (labs["creatinine"].comparator, labs["creatinine"].unit) == ("<=", "µmol/L")  # "umul/L"
    bclc = _facts(c.inclusion[7], Stage)
    assert bclc[0].system == "BCLC" and bclc[0].values == ["C"]
    preg = {f.state for f in _facts(c.exclusion[4], Reproductive)}
    assert {"pregnant", "lactating"} <= preg
    platelets = _facts(c.exclusion[5].children[0], Lab)[0]  # "platelet count \\< 60000/mm3"
    assert (platelets.comparator, platelets.value, platelets.unit) == ("<", 60000.0, "/µL")


def test_old_nci_layout_run_on(store):
    """NCT00003222: the PDQ layout with its line breaks lost ("Age: 18 to 79 Performance
    status: ECOG 0-1 ... Platelet count greater than 100,000/mm3 Hemoglobin ...")."""
    c = parse_criteria(_text(store, "NCT00003222"))
    assert c.exclusion == []
    texts = [x.text for x in c.inclusion]
    assert "ECOG 0-1" in texts
    assert "Platelet count greater than 100,000/mm3" in texts
    assert "Not pregnant or nursing" in texts
    age = next(f for x in c.inclusion for f in x.facts if isinstance(f, Age))
    assert (age.min_years, age.max_years) == (18.0, 79.0)
    ecog = next(f for x in c.inclusion for f in x.facts if isinstance(f, Performance))
    assert (ecog.comparator, ecog.value, ecog.value2) == ("range", 0.0, 1.0)
    nursing = next(x for x in c.inclusion if x.text == "Not pregnant or nursing")
    assert all(f.negated for f in nursing.facts if isinstance(f, Reproductive))
    groups = {x.group.split(":")[0] for x in c.inclusion}
    assert {"Disease characteristics", "Patient characteristics", "Prior concurrent therapy"} <= groups


def test_lead_in_headings_without_the_word_criteria(store):
    """NCT00405912 has no "Inclusion Criteria" heading: "Subjects will be eligible ... if they:"
    and "Individuals will be excluded from study participation if they:"."""
    c = parse_criteria(_text(store, "NCT00405912"))
    assert len(c.inclusion) == 5
    assert len(c.exclusion) >= 15
    assert c.inclusion[0].kind == "age"
    assert _facts(c.inclusion[0], Age)[0].min_years == 18.0
    assert c.exclusion[0].label == "1" and "major depressive disorder" in c.exclusion[0].text


def test_every_sample_study_parses(store):
    empty = []
    for study in store.iter_studies():
        module = study.record["protocolSection"].get("eligibilityModule") or {}
        text = module.get("eligibilityCriteria")
        c = parse_criteria(text)
        if text and len(text) > 40 and not (c.inclusion or c.exclusion):
            empty.append(study.nct_id)
        for _section, crit in c.walk():
            assert 0 <= crit.start <= crit.end <= len(text)
            for f in crit.facts:
                assert 0 <= f.start <= f.end <= len(crit.text)
    assert empty == []

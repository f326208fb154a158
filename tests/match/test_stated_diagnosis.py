"""The note's stated diagnosis ("the patient is diagnosed with X"): read with its context, and
what retrieval leans on when a note has one."""

from __future__ import annotations

import pytest

from trialscope.match import filters_for, read_facts
from trialscope.match.patient import extract_facts
from trialscope.match.retrieve import (
    COMORBIDITY_WEIGHT,
    Queries,
    candidates,
    described_diseases,
    own_conditions,
)


def stated(note: str) -> list[str]:
    return [c.text.lower() for c in extract_facts(note).conditions if c.stated]


@pytest.mark.parametrize("note, name", [
    ("The patient is diagnosed with Marfan syndrome, and he is cooperative.", "marfan syndrome"),
    ("He is diagnosed as a case of hemochromatosis.", "hemochromatosis"),
    ("The diagnosis of essential tremor is confirmed.", "essential tremor"),
    ("The diagnosis of Alzheimer disease is made using the NIA-AA criteria.", "alzheimer disease"),
    ("This patient's findings are consistent with endogenous Cushing syndrome.", "cushing syndrome"),
    ("Low bone density, which confirms the diagnosis of osteoporosis.", "osteoporosis"),
    ("She is under treatment of riluzole with the diagnosis of ALS.", "als"),
    ("Karyotype 47,XXY compatible with Klinefelter syndrome.", "klinefelter syndrome"),
    ("He comes for follow up of his confirmed oculocutaneous albinism.", "oculocutaneous albinism"),
    ("Asthma was diagnosed after spirometry.", "asthma"),
    ("Diagnosis: psoriasis.", "psoriasis"),
])
def test_a_stated_diagnosis_is_marked(note, name):
    assert name in stated(note)


@pytest.mark.parametrize("note", [
    "She has hypertension and wears glasses for myopia.",  # named, not stated as the diagnosis
    "He was not diagnosed with diabetes.",
    "Lupus was ruled out; the findings are not consistent with lupus.",
    "His mother was diagnosed with breast cancer.",
    "Family history: father diagnosed with colon cancer.",
    "She uses levothyroxine because of the previously diagnosed Hashimoto disease.",
    "History of asthma diagnosed in childhood.",
    "The differential diagnosis includes possible sarcoidosis.",
    "The findings are suspicious for lymphoma, diagnosis pending.",
])
def test_denied_family_past_and_uncertain_diagnoses_are_not_stated(note):
    assert stated(note) == []


def test_a_second_name_in_brackets_is_stated_too():
    got = stated("Replacement starts with the diagnosis of primary adrenal insufficiency (Addison disease).")
    assert got == ["adrenal insufficiency", "addison disease"]
    assert stated("She has adrenal insufficiency (Addison disease).") == []


def test_the_subject_of_diagnosed_with_is_the_patient_not_a_diagnosis():
    assert stated("A 60-year-old man with hypertension is diagnosed with gout.") == ["gout"]


def test_the_other_diseases_weigh_less_when_a_diagnosis_is_stated():
    note = ("A 70-year-old man with hypertension and type 2 diabetes. "
            "The diagnosis of Alzheimer disease is made. He has fatigue.")
    cond = dict(own_conditions(extract_facts(note)))
    assert cond["Alzheimer Disease"] == 1.0 and list(cond)[0] == "Alzheimer Disease"
    assert cond["Hypertension"] == COMORBIDITY_WEIGHT
    assert cond["Fatigue"] < COMORBIDITY_WEIGHT  # a symptom stays a symptom
    unstated = dict(own_conditions(extract_facts(note.replace("The diagnosis of Alzheimer disease is made",
                                                              "He has Alzheimer disease"))))
    assert unstated["Hypertension"] == unstated["Alzheimer Disease"] == 1.0


def test_the_stated_diagnosis_leads_the_described_diseases():
    # "Myopia" is what the note's words and the first round agree on; "Marfan Syndrome" is stated
    q = Queries(inferred=[("Myopia", 1.0), ("Astigmatism", 0.9)], feedback=["Myopia", "Astigmatism"],
                cond=[("Marfan Syndrome", 1.0), ("Myopia", COMORBIDITY_WEIGHT)], stated=["Marfan Syndrome"])
    got = [n for n, _ in described_diseases(q)]
    assert got[:2] == ["Marfan Syndrome", "Myopia"]
    assert [n for n, _ in described_diseases(Queries(inferred=q.inferred, feedback=q.feedback, cond=q.cond))][0] \
        == "Myopia"


def test_the_condition_source_asks_for_the_stated_diagnosis(store):
    # the same patient, the liver cancer named as a comorbidity or stated as the diagnosis
    named = ("A 60-year-old man with hypertension and hepatocellular carcinoma (BCLC stage C). "
             "He progressed on sorafenib. ECOG 1.")
    diagnosed = named.replace("with hypertension and hepatocellular carcinoma",
                              "with hypertension is diagnosed with hepatocellular carcinoma")
    runs = {}
    for label, note in (("named", named), ("diagnosed", diagnosed)):
        facts = read_facts(note)
        runs[label] = candidates(store, note, facts, filters_for(facts))
    cond_of = {label: dict(q.cond) for label, (_, q) in runs.items()}
    assert cond_of["named"]["Hypertension"] == 1.0
    assert cond_of["diagnosed"]["Hypertension"] == COMORBIDITY_WEIGHT
    assert runs["diagnosed"][1].stated == ["Carcinoma, Hepatocellular"]
    assert runs["diagnosed"][1].diseases[0][0] == "Carcinoma, Hepatocellular"
    # the `cond` source searches the stated diagnosis alone: the hypertension trials it found
    # for the named note are not among its hits now
    by_cond = {label: {c.nct_id for c in cands if "cond" in c.ranks} for label, (cands, _) in runs.items()}
    assert by_cond["diagnosed"] and by_cond["diagnosed"] < by_cond["named"]

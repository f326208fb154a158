"""Typing criteria: the facts each phrasing states, with values and units."""

from __future__ import annotations

import pytest

from trialscope.criteria import (
    Age,
    Condition,
    Consent,
    Lab,
    Performance,
    Reproductive,
    Setting,
    Sex,
    Smoking,
    Stage,
    Therapy,
    parse_criteria,
)
from trialscope.criteria.kinds import type_criterion


def facts(text, kind, group=""):
    return [f for f in type_criterion(text, group)[1] if isinstance(f, kind)]


@pytest.mark.parametrize("text, lo, hi", [
    ("Age 18 to 80 years", 18, 80),
    ("Aged ≥ 18 years", 18, None),
    ("Age > 18", 18, None),
    ("18 years of age or older", 18, None),
    ("Men and women 18-65 years old", 18, 65),
    ("Between 18 and 75 years of age", 18, 75),
    ("Patients older than 65 years", 65, None),
    ("Patients must be at least 18 years old", 18, None),
    ("Age 6 months to 17 years", 0.5, 17),
    ("Adults aged 40 years and above", 40, None),
    ("Participants ≤ 75 years", None, 75),
    ("Under the age of 12", None, 12),
    # an age word just before beats the duration words before it
    ("Postmenopausal women with menopause duration more than 5 years and with age between 45-75 years old", 45, 75),
    # one threshold for men under 55, another for men of 55-65: the union
    ("Testosterone < 350 ng/dL for men age < 55 and < 300 ng/dL for men age 55-65", None, 65),
])
def test_ages(text, lo, hi):
    (age,) = facts(text, Age)
    assert (age.min_years, age.max_years) == (lo, hi)


def test_age_group_label_gives_bare_numbers_their_sense():
    (age,) = facts("18 and over", Age, group="Patient characteristics: Age")
    assert (age.min_years, age.max_years) == (18, None)


@pytest.mark.parametrize("text", [
    "No chemotherapy within 4 weeks", "Life expectancy of at least 12 weeks",
    "History of cancer in the past 5 years", "Diagnosed at least 6 months before enrolment",
    "First symptoms less than 6 months old on the day of inclusion",  # the symptoms' age
    # one of several ways in, not a limit
    "T-score of -2.0 or lower and a prior fracture, or an additional risk factor such as age 65 or greater",
    # a definition of childbearing potential, not a limit
    "Women of childbearing potential must use contraception. A woman is of childbearing potential unless she "
    "is ≥ 50 years of age with amenorrhea for 12 months",
])
def test_durations_are_not_ages(text):
    assert facts(text, Age) == []


@pytest.mark.parametrize("text, scale, op, value, value2", [
    ("ECOG performance status 0-1", "ECOG", "range", 0, 1),
    ("ECOG score < 2", "ECOG", "<", 2, None),
    ("ECOG PS ≤ 2", "ECOG", "<=", 2, None),
    ("Eastern Cooperative Oncology Group (ECOG) performance status of 0, 1 or 2", "ECOG", "range", 0, 2),
    ("WHO performance status 0 or 1", "ECOG", "range", 0, 1),
    ("Zubrod 0-2", "ECOG", "range", 0, 2),
    ("Karnofsky performance status ≥ 70%", "Karnofsky", ">=", 70, None),
    ("KPS of at least 60", "Karnofsky", ">=", 60, None),
    ("Lansky score ≥ 50", "Lansky", ">=", 50, None),
    ("Performance status 2 or less", "ECOG", "<=", 2, None),
])
def test_performance(text, scale, op, value, value2):
    (p,) = facts(text, Performance)
    assert (p.scale, p.comparator, p.value, p.value2) == (scale, op, value, value2)


@pytest.mark.parametrize("text, analyte, op, value, unit", [
    ("Platelets ≥ 100 x 10^9/L", "platelets", ">=", 100, "×10^9/L"),
    ("Platelet count ≥ 100,000/mm³", "platelets", ">=", 100000, "/µL"),
    ("PLT ≥50×10E9/L", "platelets", ">=", 50, "×10^9/L"),
    ("Absolute neutrophil count (ANC) ≥ 1500/µL", "anc", ">=", 1500, "/µL"),
    ("Hemoglobin ≥ 9 g/dL", "hemoglobin", ">=", 9, "g/dL"),
    ("Haemoglobin of at least 90 g/L", "hemoglobin", ">=", 90, "g/L"),
    ("Total bilirubin < 51 μmol/L", "bilirubin", "<", 51, "µmol/L"),
    ("Serum bilirubin no greater than 1.5 mg/dl", "bilirubin", "<=", 1.5, "mg/dL"),
    ("Creatinine ≤ 1.5 × ULN", "creatinine", "<=", 1.5, "×ULN"),
    ("Serum creatinine ≤ 1.5 times the upper limit of normal", "creatinine", "<=", 1.5, "×ULN"),
    ("Creatinine clearance ≥ 60 mL/min", "creatinine_clearance", ">=", 60, "mL/min"),
    ("eGFR ≥ 45 mL/min/1.73 m2", "egfr", ">=", 45, "mL/min/1.73m²"),
    ("INR ≤ 1.5", "inr", "<=", 1.5, ""),
    ("HbA1c between 7.0% and 10.5%", "hba1c", "range", 7.0, "%"),
    ("HbA1c > 53 mmol/mol", "hba1c", ">", 53, "mmol/mol"),
    ("LVEF ≥ 50%", "lvef", ">=", 50, "%"),
    ("BMI 18.5-30 kg/m2", "bmi", "range", 18.5, "kg/m²"),
    ("BMI between 18 kg/m2-30 kg/m2", "bmi", "range", 18, "kg/m²"),  # the unit on both sides
    ("CD4 count > 200 cells/mm3", "cd4", ">", 200, "/µL"),
])
def test_labs(text, analyte, op, value, unit):
    got = [f for f in facts(text, Lab) if f.analyte == analyte]
    assert got, facts(text, Lab)
    lab = got[0]
    assert (lab.comparator, lab.value, lab.unit) == (op, value, unit)


def test_shared_thresholds():
    labs = {f.analyte: f for f in facts("AST/ALT ≤ 2.5 x ULN (≤ 5 x ULN with liver metastases)", Lab)}
    assert set(labs) == {"ast", "alt"}
    assert all((f.comparator, f.value, f.unit) == ("<=", 2.5, "×ULN") for f in labs.values())
    labs = {f.analyte: f for f in facts("AST and ALT no greater than 2.5 times ULN", Lab)}
    assert set(labs) == {"ast", "alt"}


def test_lab_spans_cover_the_words():
    text = "Adequate function: platelets ≥ 75,000/µL and bilirubin ≤ 2 mg/dL"
    for lab in facts(text, Lab):
        assert text[lab.start:lab.end].lower().startswith(("platelets", "bilirubin"))


@pytest.mark.parametrize("text, system, values, low, high", [
    ("Stage IIIB or IV NSCLC", "stage", ["IIIB", "IV"], "", ""),
    ("Stage III-IV", "stage", [], "III", "IV"),
    ("BCLC stage B or C", "BCLC", ["B", "C"], "", ""),
    ("Child-Pugh class A", "Child-Pugh", ["A"], "", ""),
    ("Child-Pugh score ≤ 7", "Child-Pugh", [], "", "7"),
    ("NYHA class III or IV heart failure", "NYHA", ["III", "IV"], "", ""),
    ("New York Heart Association class III or IV", "NYHA", ["III", "IV"], "", ""),
    ("FIGO stage IB2-IIA", "FIGO", [], "IB2", "IIA"),
    ("Gleason score ≥ 7", "Gleason", [], "7", ""),
])
def test_stages(text, system, values, low, high):
    got = [s for s in facts(text, Stage) if s.system == system]
    assert got, facts(text, Stage)
    assert (got[0].values, got[0].low, got[0].high) == (values, low, high)


def test_tnm():
    systems = {s.system: s.values for s in facts("T1-3 N0 M0 breast cancer (AJCC stage)", Stage)}
    assert systems["TNM-N"] == ["N0"] and systems["TNM-M"] == ["M0"]


def test_conditions_with_mesh_negation_and_other():
    (hcc,) = facts("Histologically confirmed hepatocellular carcinoma", Condition)
    assert hcc.mesh[0] == "Carcinoma, Hepatocellular" and not hcc.negated
    conds = facts("No history of other malignancy, uncontrolled hypertension or active hepatitis B", Condition)
    by = {c.text.lower(): c for c in conds}
    assert by["malignancy"].negated and by["malignancy"].other
    assert by["hypertension"].active and by["hypertension"].negated
    assert "Hepatitis B" in by["hepatitis b"].mesh


@pytest.mark.parametrize("text", [
    "Active or history of autoimmune disease, including, but not limited to, myasthenia gravis, lupus",
    "Autoimmune disease including without limitation myasthenia gravis or lupus",
    "Any autoimmune disease whether or not it needed treatment: myasthenia gravis, lupus",
])
def test_examples_and_either_way_clauses_negate_nothing(text):
    conds = facts(text, Condition)
    assert {"Myasthenia Gravis", "Lupus Erythematosus, Systemic"} <= {m for c in conds for m in c.mesh}
    assert not any(c.negated for c in conds), conds


@pytest.mark.parametrize("text, category, negated, lines, op", [
    ("Prior treatment with sorafenib", "drug", False, None, ""),
    ("No prior systemic chemotherapy", "chemotherapy", True, None, ""),
    ("Must have received at least one prior line of therapy", "any", False, 1, ">="),
    ("At least 2 prior lines of systemic therapy", "any", False, 2, ">="),
    ("Treatment-naive patients", "any", False, 0, "="),
    ("Candidates for second-line treatment", "any", False, 1, "="),
    ("Prior radiotherapy to the target lesion", "radiotherapy", False, None, ""),
    ("Previous liver transplantation", "transplant", False, None, ""),
])
def test_therapies(text, category, negated, lines, op):
    got = facts(text, Therapy)
    if lines is not None:
        got = [t for t in got if t.lines is not None]
        assert got and (got[0].lines, got[0].lines_comparator) == (lines, op)
        return
    got = [t for t in got if t.category == category]
    assert got, facts(text, Therapy)
    assert got[0].negated is negated


def test_allergy_to_a_drug_is_not_a_therapy():
    assert [t for t in facts("Known allergy to doxorubicin", Therapy) if t.names == ["doxorubicin"]] == []


@pytest.mark.parametrize("text, states", [
    ("Pregnant or breastfeeding women", {("pregnant", False), ("lactating", False)}),
    ("Not pregnant or nursing", {("pregnant", True), ("lactating", True)}),
    ("Negative serum pregnancy test", {("pregnant", True)}),
    ("Women of childbearing potential must use effective contraception", {("contraception", False)}),
])
def test_reproductive(text, states):
    assert {(f.state, f.negated) for f in facts(text, Reproductive)} == states


def test_sex_only_when_one_sex_is_admitted():
    assert [f.sex for f in facts("Female patients with breast cancer", Sex)] == ["female"]
    assert [f.sex for f in facts("Men aged 40 or older", Sex)] == ["male"]
    assert facts("Male or female", Sex) == []
    assert facts("Women of childbearing potential must agree to contraception", Sex) == []


def test_consent_and_kind():
    kind, fs = type_criterion("Signed written informed consent")
    assert kind == "consent" and any(isinstance(f, Consent) for f in fs)
    assert type_criterion("Willing to comply with the study schedule")[0] == "consent"
    assert type_criterion("Measurable disease per RECIST 1.1")[0] == "other"


def test_kind_prefers_the_most_specific_fact():
    c = parse_criteria("Inclusion:\n* Age 18-75 with HCC\n* ECOG 0-1 and Child-Pugh A\n")
    assert [x.kind for x in c.inclusion] == ["age", "performance"]


@pytest.mark.parametrize("text, status, pack_years", [
    ("Current smokers", "current", None), ("Non-smokers", "never", None), ("Never smoked", "never", None),
    ("Former smokers who quit at least 1 year ago", "former", None),
    ("Smoking history of at least 20 pack-years", "ever", 20.0),
    ("Smokes more than 10 cigarettes per day", "current", None),
])
def test_smoking(text, status, pack_years):
    (s,) = facts(text, Smoking)
    assert (s.status, s.pack_years) == (status, pack_years)
    assert facts(text, Condition) == []


def test_smoking_an_exception_allows_is_not_asked_for():
    text = "No psychiatric disorder in 2 preceding years, except nicotine dependence in smokers"
    assert facts(text, Smoking) == []


@pytest.mark.parametrize("text, mesh", [
    # a coordinated descriptor's halves name it: MeSH "Esophageal and Gastric Varices"
    ("History of esophageal varices", "Esophageal and Gastric Varices"),
    ("Known gastric varices", "Esophageal and Gastric Varices"),
    ("Oesophageal varices requiring banding", "Esophageal and Gastric Varices"),  # British spelling
    ("Gastroesophageal varices", "Esophageal and Gastric Varices"),
    ("Prior variceal bleeding", "Gastrointestinal Hemorrhage"),
    ("Known varices", "Varicose Veins"),
    ("Squamous cell neck cancer", "Head and Neck Neoplasms"),
    ("Oesophageal cancer", "Esophageal Neoplasms"),
    ("Coeliac disease", "Celiac Disease"),
    ("Haematological malignancy", "Hematologic Neoplasms"),
])
def test_conditions_named_otherwise_than_mesh(text, mesh):
    assert mesh in {m for c in facts(text, Condition) for m in c.mesh}, facts(text, Condition)


def test_someone_elses_condition_is_named_for_them():
    (c,) = facts("Families with no history of type 1 diabetes", Condition)
    assert c.context == "other person" and c.negated
    (c,) = facts("Organ from a donor with hepatitis B", Condition)
    assert c.context == "other person"


def test_a_negation_of_a_need_is_not_of_the_condition_after():
    (c,) = facts("Do not require hospitalization (COVID-19 patients discharged within 24 hours are eligible)",
                 Condition)
    assert not c.negated


@pytest.mark.parametrize("text, mesh", [
    ("Taking nonsteroidal anti-inflammatory drugs (NSAIDs)", "Anti-Inflammatory Agents, Non-Steroidal"),
    ("Current use of statins", "Hydroxymethylglutaryl-CoA Reductase Inhibitors"),
    ("Prior treatment with antiviral drugs", "Antiviral Agents"),  # "... Agents" in everyday words
    ("Treatment with systemic corticosteroids", "Adrenal Cortex Hormones"),
])
def test_drug_classes_are_therapies(text, mesh):
    assert mesh in {m for t in facts(text, Therapy) for m in t.mesh}, facts(text, Therapy)


def test_a_drugs_class_is_read_from_its_stem_or_its_name():
    from trialscope.criteria.concepts import drug_classes
    assert "hydroxymethylglutaryl-coa reductase inhibitors" in drug_classes("Atorvastatin")
    assert "adrenal cortex hormones" in drug_classes("prednisone")
    assert drug_classes("nystatin") == frozenset()


@pytest.mark.parametrize("text, mesh", [
    ("Diagnosis of DMD", "Muscular Dystrophy, Duchenne"),
    ("Known HPV infection", "Papillomavirus Infections"),
    ("Gastric adenocarcinoma", "Stomach Neoplasms"),  # an adenocarcinoma of the stomach is a gastric cancer
    ("Lung adenocarcinoma", "Adenocarcinoma of Lung"),
    ("Laboratory confirmed diagnosis of infection with SARS-CoV-2 by PCR", "COVID-19"),  # not SARS (2003)
    ("Heartburn and acid reflux", "Gastroesophageal Reflux"),
])
def test_abbreviations_and_adenocarcinomas(text, mesh):
    assert mesh in {m for c in facts(text, Condition) for m in c.mesh}, facts(text, Condition)


@pytest.mark.parametrize("text, sex", [("Males.", "male"), ("Females", "female"), ("Postmenopausal females", "female")])
def test_a_sex_named_in_the_plural(text, sex):
    assert [s.sex for s in facts(text, Sex)] == [sex]


def test_a_condition_a_drug_acts_against_is_named_for_the_drug():
    text = "If using remdesivir or any other antiviral drug with potential effect against SARS-CoV-2 infection"
    assert {c.context for c in facts(text, Condition)} == {"treatment"}


def _settings(text: str) -> list[tuple[str, bool]]:
    return [(f.place, f.negated) for f in type_criterion(text)[1] if isinstance(f, Setting)]


@pytest.mark.parametrize("text, places", [
    ("Hospitalized patients with confirmed COVID-19", [("inpatient", False)]),
    ("Hospital admission", [("inpatient", False)]),
    ("All inpatients in a hospital environment", [("inpatient", False)]),
    ("Admitted to the ICU", [("icu", False)]),
    ("Critically ill patients", [("icu", False)]),
    ("Requiring invasive mechanical ventilation", [("ventilated", False)]),
    ("Hospitalized patients requiring mechanical ventilation", [("ventilated", False)]),  # the most specific
    ("Hospitalized patients not on mechanical ventilation", [("inpatient", False), ("ventilated", True)]),
    ("Outpatients with mild COVID-19", [("outpatient", False)]),
    ("Home isolation", [("outpatient", False)]),
    ("Not hospitalized", [("inpatient", True)]),
    ("Non-hospitalized adults", [("inpatient", True)]),
    ("Not requiring respiratory assistance and/or other intensive care", [("icu", True)]),
    ("1. Adults ≥18 years old requiring hospital admission for COVID-19", [("inpatient", False)]),  # a list number
    ("Currently hospitalized and consented within the first 48 hours of hospitalization", [("inpatient", False)]),
    ("Temperature ≥37.5 and cough on admission", [("inpatient", False)]),
    ("Patient hospitalized for COVID-19 and included in the Covid-19 cohort", [("inpatient", False)]),
    # a date is no modal ("as of May 20"), but "may be admitted" is a possibility
    ("Persons over 18 admitted with a diagnosis of a suspected case of COVID-19, as defined as of May 20, 2020",
     [("inpatient", False)]),
    ("Patients who may be admitted", []),
    # alternatives, the past, a risk, a condition, staff, another way in: no place asked for
    ("Hospitalized or at home", []),
    ("Admitted to hospital\n\nCohort 2)", []),
    ("Positive PCR test upon emergency department admission", []),
    ("Patients hospitalized or outpatients", []),
    ("Patient admitted in an emergency unit or hospitalized", []),
    ("Hospitalization within the past 6 months", []),
    ("Previously hospitalized for heart failure", []),
    ("At high risk of hospitalization", []),
    ("A study partner who completes the forms if the subject has been hospitalized", []),
    ("ICU staff", []),
    ("Non-invasive ventilation", []),
    ("Patients admitted to the study", []),
    ("Lack of access to the internet at home", []),
    ("Mild COVID-19. In addition, we will include patients with comorbidities hospitalized for observation.", []),
    ("1 not hospitalized; 2 hospitalized, no oxygen; 3 hospitalized on oxygen; 4 mechanically ventilated", []),
])
def test_the_care_setting_a_criterion_asks_for(text, places):
    assert _settings(text) == places


def test_no_minors_under_an_age_asks_for_that_age():
    (age,) = [f for f in type_criterion("No minors less than 18 years of age.")[1] if isinstance(f, Age)]
    assert age.max_years == 18 and age.negated


def test_a_reference_manuals_title_names_no_disease():
    kind, facts = type_criterion("Diagnostic and Statistical Manual of Mental Disorders (DSM-IV) defined ADHD.")
    assert [f.mesh for f in facts if isinstance(f, Condition)] == [["Attention Deficit Disorder with Hyperactivity"]]
    assert [f.mesh for f in type_criterion("History of mental disorders")[1]] == [["Mental Disorders"]]


@pytest.mark.parametrize("text, labs", [
    ("Supine diastolic blood pressure of 100 to 115 mmHg", [("dbp", "range", 100.0, False)]),
    ("Mean SBP (systolic blood pressure) ≥ 140 mm Hg or mean DBP ≥ 90 mm Hg",
     [("sbp", ">=", 140.0, False), ("dbp", ">=", 90.0, False)]),
    # what an inclusion rules out: "no" before it
    ("No uncontrolled hypertension (systolic BP > 170 mm Hg and/or diastolic BP > 100 mm Hg)",
     [("sbp", ">", 170.0, True), ("dbp", ">", 100.0, True)]),
    ("History of SBP", []),  # spontaneous bacterial peritonitis, with no value
])
def test_blood_pressure_thresholds(text, labs):
    assert [(f.analyte, f.comparator, f.value, f.negated) for f in type_criterion(text)[1] if isinstance(f, Lab)] == labs
    assert all(f.unit == "mmHg" for f in type_criterion(text)[1] if isinstance(f, Lab))


@pytest.mark.parametrize("text, labs", [
    ("SpO2 ≤ 93% on room air", [("spo2", "<=", 93.0)]),
    ("Oxygen saturation < 94% while breathing ambient air", [("spo2", "<", 94.0)]),
    ("Transferrin saturation > 45%", []),
])
def test_oxygen_saturation_thresholds(text, labs):
    assert [(f.analyte, f.comparator, f.value) for f in type_criterion(text)[1] if isinstance(f, Lab)] == labs


@pytest.mark.parametrize("text, labs", [
    ("Respiratory Rate ≥ 22", [("respiratory_rate", ">=", 22.0, "")]),
    ("RR ≥ 30 breaths/min", [("respiratory_rate", ">=", 30.0, "/min")]),
    ("Respiratory rate > 24 breaths per minute", [("respiratory_rate", ">", 24.0, "/min")]),
    ("Relative risk (rr) of 2", []),  # "RR" is the respiratory rate only in capitals
])
def test_respiratory_rate_thresholds(text, labs):
    assert [(f.analyte, f.comparator, f.value, f.unit) for f in type_criterion(text)[1] if isinstance(f, Lab)] == labs


def test_a_target_of_care_is_no_threshold_on_the_patient():
    # the saturation oxygen therapy aims at says nothing of the patient's own
    text = "Severe infection requiring oxygen therapy > 4 l/min to achieve oxygen saturation > 94%."
    assert [f for f in type_criterion(text)[1] if isinstance(f, Lab)] == []
    text = "SpO2 ≤ 93% on room air or requirement for supplemental oxygen to maintain oxygen saturation > 93%"
    assert [(f.comparator, f.value) for f in type_criterion(text)[1] if isinstance(f, Lab)] == [("<=", 93.0)]


def test_a_value_outside_a_range_is_the_range_negated():
    text = "Supine blood pressure outside a systolic blood pressure range of 90-140 mmHg"
    (lab,) = [f for f in type_criterion(text)[1] if isinstance(f, Lab)]
    assert (lab.comparator, lab.value, lab.value2, lab.negated) == ("range", 90.0, 140.0, True)
    (lab,) = [f for f in type_criterion("Systolic blood pressure 90-140 mmHg")[1] if isinstance(f, Lab)]
    assert not lab.negated


@pytest.mark.parametrize("text, contexts", [
    # what an image shows is a finding, not the disease's name
    ("Bilateral CT changes typical for COVID-19", {"imaging"}),
    ("Lung changes associated with COVID pneumonia by chest imaging", {"imaging"}),
    ("Presence of radiological findings of pneumonia", {"imaging"}),
    ("Chest CT consistent with COVID-19 pneumonia", {"imaging"}),
    ("Pneumonia on chest X-ray", {"imaging"}),
    # a diagnosis made by imaging, or confirmed by it, is the disease
    ("Hepatocellular carcinoma diagnosed by CT or MRI", {""}),
    ("Radiologically confirmed HCC", {""}),
    ("Confirmed COVID-19 by PCR", {""}),
    ("Evidence of active infection", {""}),
])
def test_a_condition_named_as_an_imaging_finding(text, contexts):
    assert {c.context for c in facts(text, Condition)} == contexts


@pytest.mark.parametrize("text, labs", [
    ("Severe hemophilia A (FVIII:C ≤ 1%)", [("fviii", "<=", 1.0, "%")]),
    ("Severe hemophilia A defined as < 1% FVIII:C", [("fviii", "<", 1.0, "%")]),  # the value first
    ("FVIII < 1 IU/dL", [("fviii", "<", 1.0, "IU/dL")]),
    ("Mild hemophilia A (FVIII:C ≥ 0.05 U/ml)", [("fviii", ">=", 0.05, "IU/mL")]),
    ("Factor IX activity ≤ 2%", [("fix", "<=", 2.0, "%")]),
    # a number without its unit is no activity: exposure days, a count of treatments
    ("Previously treated with FVIII concentrate for at least 150 EDs", []),
    (">/= 150 days of previous treatment with FVIII in lifetime", []),
])
def test_clotting_factor_activity_thresholds(text, labs):
    assert [(f.analyte, f.comparator, f.value, f.unit) for f in type_criterion(text)[1] if isinstance(f, Lab)] == labs


@pytest.mark.parametrize("text, contexts", [
    # the illness over
    ("Recovered from COVID-19", {"after"}),
    ("Post-COVID-19 patients", {"after"}),
    ("Beyond 28 days of the resolution of their acute COVID-19 illness", {"after"}),
    ("Adults with long COVID", {"after"}),
    # the illness on: a time since its diagnosis, its onset, its test
    ("Within 7 days after COVID-19 diagnosis", {""}),
    ("Randomised within 48 hours following COVID-19 symptom onset", {""}),
])
def test_a_condition_named_as_over(text, contexts):
    assert {c.context for c in facts(text, Condition) if "COVID-19" in c.mesh} == contexts


@pytest.mark.parametrize("text", [
    # what the patient must not receive, or a harm of it, is no treatment they had
    "Subjects with known contra-indications to naproxen (e.g. heart problems, ulcer disease etc.), analgesics, or NSAIDs.",
    "Known hypersensitivity to aspirin or NSAIDs",
    "Any history of prior NSAID gastrointestinal complications for the past 5 years.",
])
def test_no_therapy_where_the_drug_is_to_be_avoided(text):
    assert not [f for f in type_criterion(text)[1] if isinstance(f, Therapy)]


def test_a_therapy_taken_is_still_one():
    assert [f.names for f in type_criterion("Prior treatment with NSAIDs")[1] if isinstance(f, Therapy)] == [["nsaids"]]



def test_a_conditions_surgery_is_named_for_its_treatment():
    assert {c.context for c in facts("Prior hiatus hernia surgery or fundoplication", Condition)} == {"treatment"}
    assert {c.context for c in facts("Previous inguinal hernia repair", Condition)} == {"treatment"}


@pytest.mark.parametrize("text, mesh", [
    # a term the vocabulary files under a broader class than the disease it names
    ("Active rheumatoid arthritis defined as >= 3 swollen joints", ["Arthritis, Rheumatoid"]),
    ("Acute myeloid leukemia", ["Leukemia, Myeloid, Acute"]),  # its own descriptor: kept
    ("Chronic kidney disease", ["Renal Insufficiency, Chronic"]),
])
def test_a_course_word_does_not_broaden_the_disease(text, mesh):
    assert [c.mesh[:1] for c in facts(text, Condition)] == [mesh]



@pytest.mark.parametrize("text, pregnant", [
    ("Pregnancy", True),
    ("Pregnant women at 20 weeks of gestation", True),
    # a count, a loss, what a pregnancy holds or leaves, a disorder of one: no pregnancy asked for
    ("No more than 5 pregnancies in total", False),
    ("Women with one or two pregnancy losses, regardless of the week of gestation of the loss", False),
    ("Women with a gestational sac greater than 13mm", False),
    ("No prior chemotherapy for gestational trophoblastic neoplasia", False),
    ("High suspicion for ectopic pregnancy", False),
])
def test_what_reads_as_a_pregnancy(text, pregnant):
    got = [f for f in type_criterion(text)[1] if isinstance(f, Reproductive) and f.state == "pregnant"]
    assert bool(got) is pregnant

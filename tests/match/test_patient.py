"""Patient facts from free-text notes: what is read, with its evidence, and what is not."""

from __future__ import annotations

import time

import orjson
import pytest

from trialscope.match.patient import GIVEN, PatientFacts, extract_facts

HCC_NOTE = (
    "Mr. [**Known lastname 1234**] is a 60-year-old man with advanced hepatocellular carcinoma "
    "(BCLC stage C, Child-Pugh A) that progressed on sorafenib after 8 months; s/p right hepatectomy "
    "[**2148-10-1**]. ECOG 1. He denies chest pain, dyspnea or nausea. No history of diabetes. "
    "His mother had breast cancer. Labs: platelets 98 K/uL, total bilirubin 1.4 mg/dL (normal 0.2-1.2), "
    "creatinine 88 umol/L, AST/ALT 62/48 U/L, INR 1.1, albumin 3.6 g/dL. Former smoker, 30 pack-years."
)


class _ByText(dict):
    """Conditions by their words; a longer phrase holding the words also answers."""

    def __missing__(self, name):
        for text, c in self.items():
            if name in text:
                return c
        raise KeyError(name)


def by_text(facts: PatientFacts):
    return _ByText({c.text.lower(): c for c in facts.conditions})


@pytest.mark.parametrize("note, age", [
    ("A 58-year-old woman presents", 58), ("58 yo F with chest pain", 58), ("Patient aged 58 with HTN", 58),
    ("58M presents with chest pain", 58), ("Pt is a 58 y/o male", 58), ("58 year old man", 58),
    ("A forty-five-year-old teacher", 45), ("A 7-month-old boy", 7 / 12), ("A 15-week-old infant", 15 / 52.18),
    ("Age: 72. Female.", 72), ("a woman in her late fifties", 58),
])
def test_age_forms(note, age):
    facts = extract_facts(note)
    assert facts.age == pytest.approx(age, abs=0.01)
    s, e = facts.age_span
    assert any(ch.isdigit() for ch in note[s:e]) or "fift" in note[s:e] or "forty" in note[s:e]


def test_someone_elses_age_is_not_the_patients():
    facts = extract_facts("She brought her 5-year-old son. The patient, a 34-year-old teacher, reports cough.")
    assert facts.age == 34


@pytest.mark.parametrize("note, sex", [
    ("A 58-year-old woman", "female"), ("A 19-year-old male", "male"), ("Mrs. Smith reports", "female"),
    ("Mr. Jones reports", "male"), ("58F with pain", "female"), ("A 3-year-old girl", "female"),
    ("An 8-year-old boy", "male"), ("The patient says she has had pain; her husband agrees", "female"),
    ("Patient reports that he has had cough and his wife is worried", "male"),
    ("A 15-week-old infant. He was born to a 39-year-old woman.", "male"),
])
def test_sex_forms(note, sex):
    facts = extract_facts(note)
    assert facts.sex == sex
    s, e = facts.sex_span
    assert note[s:e]


def test_no_age_no_sex():
    facts = extract_facts("Patient with cough and fever for two days.")
    assert facts.age is None and facts.sex is None


def test_conditions_negation_family_history():
    facts = extract_facts(HCC_NOTE)
    c = by_text(facts)
    assert "Carcinoma, Hepatocellular" in c["hepatocellular carcinoma"].mesh
    assert c["hepatocellular carcinoma"].present
    for denied in ("chest pain", "dyspnea", "nausea"):
        assert c[denied].negated and not c[denied].present, denied
    assert c["diabetes"].negated
    assert c["breast cancer"].family and not c["breast cancer"].present
    own = {n for x in facts.present_conditions() for n in x.mesh}
    assert "Breast Neoplasms" not in own and "Diabetes Mellitus" not in own and "Chest Pain" not in own
    assert "Carcinoma, Hepatocellular" in own


@pytest.mark.parametrize("note, name", [
    ("Patient denies diabetes.", "diabetes"),
    ("Negative for hepatitis B.", "hepatitis b"),
    ("Pulmonary embolism was ruled out.", "pulmonary embolism"),
    ("CT negative; no evidence of metastasis or ascites.", "ascites"),
    ("Without fever.", "fever"),
])
def test_negations(note, name):
    assert by_text(extract_facts(note))[name].negated


def test_negation_stops_at_the_clause():
    c = by_text(extract_facts("No fever, but she has asthma. Denies nausea; reports headache."))
    assert c["fever"].negated and c["nausea"].negated
    assert not c["asthma"].negated and not c["headache"].negated


@pytest.mark.parametrize("note, name", [
    ("Family history of colon cancer.", "colon cancer"),
    ("Her father died of myocardial infarction at 50.", "myocardial infarction"),
    ("Breast cancer in her mother and sister.", "breast cancer"),
    ("FHx: diabetes.", "diabetes"),
])
def test_family(note, name):
    c = by_text(extract_facts(note))[name]
    assert c.family and not c.present


def test_a_score_named_after_a_person_is_no_relative():
    c = by_text(extract_facts("Child-Pugh A cirrhosis from hepatitis B. Child Pugh B7 liver disease."))
    assert c["cirrhosis"].present and c["hepatitis b"].present and c["liver disease"].present
    assert by_text(extract_facts("Her child has asthma."))["asthma"].family


def test_history_and_uncertain():
    c = by_text(extract_facts("History of stroke. Concern for pneumonia. Possible sepsis."))
    assert c["stroke"].historical and c["stroke"].present
    assert c["pneumonia"].uncertain and c["sepsis"].uncertain


@pytest.mark.parametrize("note, name", [
    ("The patient has had a few upper respiratory infections but no major illnesses.", "respiratory infections"),
    ("The patient had multiple lung infections during childhood.", "infections"),
    ("He had a stroke 3 years ago.", "stroke"),
])
def test_past_episodes_are_history(note, name):
    c = by_text(extract_facts(note))[name]
    assert c.historical and c.present


def test_a_condition_now_is_no_history():
    c = by_text(extract_facts("She has had diabetes for 10 years. He has pneumonia."))
    assert not c["diabetes"].historical and not c["pneumonia"].historical


def test_but_not_closes_at_the_comma():
    t = {x.name: x for x in extract_facts("Cortisol is suppressed by high-dose, but not low-dose, "
                                          "dexamethasone.").treatments}
    assert not t["dexamethasone"].negated
    t = {x.name: x for x in extract_facts("He takes aspirin but not warfarin.").treatments}
    assert t["warfarin"].negated and not t["aspirin"].negated
    c = by_text(extract_facts("No fever, chills, or cough."))
    assert c["fever"].negated and c["chills"].negated and c["cough"].negated


def test_stage_and_performance():
    facts = extract_facts(HCC_NOTE + " Karnofsky 80%. Stage IIIB NSCLC. Gleason 7.")
    systems = {(s.system, s.value) for s in facts.stage}
    assert {("BCLC", "C"), ("Child-Pugh", "A"), ("stage", "IIIB"), ("Gleason", "7")} <= systems
    scales = {(p.scale, p.value) for p in facts.performance}
    assert ("ECOG", 1.0) in scales and ("Karnofsky", 80.0) in scales


def test_treatments_and_lines():
    facts = extract_facts(HCC_NOTE)
    t = {x.name: x for x in facts.treatments}
    assert t["sorafenib"].category == "targeted" and t["sorafenib"].progressed and t["sorafenib"].status == "prior"
    assert "Sorafenib" in t["sorafenib"].mesh
    assert t["hepatectomy"].category == "surgery"
    assert facts.lines is not None and facts.lines.prior >= 1
    facts = extract_facts("Treatment-naive. No prior chemotherapy. Currently on metformin and lisinopril.")
    assert facts.lines.prior == 0
    t = {x.name: x for x in facts.treatments}
    assert t["chemotherapy"].negated
    assert t["metformin"].status == "current" and t["lisinopril"].status == "current"
    facts = extract_facts("Progressed after two lines of platinum-based chemotherapy; now second-line candidate.")
    assert facts.lines.prior == 2
    assert "Penicillins" not in {m for x in extract_facts("Allergic to penicillin.").treatments for m in x.mesh}


@pytest.mark.parametrize("note, name", [
    ("Labs: serum ferritin of 550 ug/L and transferrin saturation of 55%.", "ferritin"),
    ("Labs: serum ferritin of 550 ug/L and transferrin saturation of 55%.", "transferrin"),
    ("TSH is normal, but prolactin is elevated.", "prolactin"),
    ("Troponin T was 0.40 ng/ml.", "troponin t"),
    ("Heartburn and acid reflux for a year.", "acid"),
    ("There is some pubic hair.", "hai"),
    ("Asbestos bodies in the lower lobes.", "asbestos"),
    ("Muscle biopsy shows absence of dystrophin protein.", "dystrophin"),
])
def test_tests_and_findings_are_no_treatments(note, name):
    assert name not in {t.name for t in extract_facts(note).treatments}


def test_doses_stay_treatments():
    names = {t.name for t in extract_facts("On aspirin 81 mg daily; received cisplatin 75 mg/m2 and "
                                           "carboplatin AUC 5.").treatments}
    assert {"aspirin", "cisplatin", "carboplatin"} <= names


def test_new_drug_names_by_their_stems():
    t = {x.name: x for x in extract_facts("Received toripalimab and lenvatinib, then pembrolizumab.").treatments}
    assert t["toripalimab"].category == "immunotherapy"
    assert t["lenvatinib"].category == "targeted"


def test_labs_with_units():
    facts = extract_facts(HCC_NOTE)
    labs = {x.analyte: x for x in facts.labs}
    assert (labs["platelets"].value, labs["platelets"].unit) == (98, "×10^3/µL")
    assert (labs["bilirubin"].value, labs["bilirubin"].unit, labs["bilirubin"].uln) == (1.4, "mg/dL", 1.2)
    assert (labs["creatinine"].value, labs["creatinine"].unit) == (88, "µmol/L")
    assert (labs["ast"].value, labs["alt"].value, labs["alt"].unit) == (62, 48, "U/L")
    assert labs["inr"].value == 1.1 and labs["albumin"].unit == "g/dL"
    s, e = labs["platelets"].start, labs["platelets"].end
    assert HCC_NOTE[s:e].startswith("platelets")
    labs = {x.analyte: x for x in extract_facts("WBC 12,300, Hgb 10.2 g/dl, Plt 450, HbA1c 8.1%, eGFR 52").labs}
    assert labs["wbc"].value == 12300 and labs["hemoglobin"].value == 10.2 and labs["platelets"].value == 450
    assert labs["hba1c"].value == 8.1 and labs["egfr"].value == 52
    assert [(x.analyte, x.value) for x in extract_facts("BP 120/80, HR 70.").labs] == [("sbp", 120), ("dbp", 80)]


def test_pregnancy_lactation_smoking():
    f = extract_facts("A 28-year-old woman, currently 12 weeks pregnant, non-smoker.")
    assert f.pregnant.value is True and f.smoker.status == "never"
    f = extract_facts("She is breastfeeding her 3-month-old. Negative pregnancy test. Smokes 1 ppd.")
    assert f.lactating.value is True and f.pregnant.value is False and f.smoker.status == "current"
    f = extract_facts("Not pregnant. Quit smoking 10 years ago.")
    assert f.pregnant.value is False and f.smoker.status == "former"
    assert extract_facts("History of pregnancy-induced hypertension.").pregnant is None


@pytest.mark.parametrize("note", [
    "", "   ", "[**2148-10-1**] [**Hospital 123**] \"quoted\" (brackets) {braces} <tags> \\ back\\slash",
    "患者は60歳の男性で、肝細胞癌があります。", "Paciente de 60 años con carcinoma hepatocelular.",
    "\x00\x01\x02 control characters", "１２３ full-width ＜ 2",
])
def test_bad_input_never_raises(note):
    facts = extract_facts(note)
    orjson.dumps(facts.as_json())


def test_spans_stay_inside_the_note():
    for note in (HCC_NOTE, "Ｐａｔｉｅｎｔ ６０ ｙｏ ｍａｌｅ with HCC", "[**Name**] 45F HTN DM"):
        f = extract_facts(note)
        spans = [f.age_span, f.sex_span] + [(c.start, c.end) for c in f.conditions] + \
            [(x.start, x.end) for x in f.treatments] + [(x.start, x.end) for x in f.labs]
        for span in spans:
            if span:
                assert 0 <= span[0] <= span[1] <= len(note)


def test_one_megabyte_note_is_bounded():
    note = HCC_NOTE * (1_000_000 // len(HCC_NOTE))
    start = time.perf_counter()
    facts = extract_facts(note)
    assert time.perf_counter() - start < 60
    assert facts.age == 60


def test_json_and_overrides():
    facts = extract_facts(HCC_NOTE)
    data = facts.as_json()
    assert data["age"] == 60 and data["sex"] == "male"
    assert any("hepatocellular carcinoma" in c["text"] for c in data["conditions"])
    orjson.dumps(data)
    given = facts.with_overrides({"age": 85, "sex": "female", "pregnant": True, "ecog": 2,
                                  "conditions": ["type 2 diabetes"], "unknown": 1, "smoker": "never"})
    assert given.age == 85 and given.age_span == (GIVEN, GIVEN) and given.sex == "female"
    assert given.pregnant.value is True and given.performance[0].value == 2
    assert "Diabetes Mellitus, Type 2" in given.conditions[0].mesh and given.smoker.status == "never"
    assert facts.age == 60  # the original is unchanged
    assert facts.with_overrides({"age": "old", "sex": "x"}).age == 60


@pytest.mark.parametrize("note, place", [
    ("A 45-year-old woman comes to the office complaining of knee pain for the past 2 years.", "outpatient"),
    ("A 38-year-old man with cough. He has low grade fever at the time of visit.", "outpatient"),
    ("A 55-year-old woman comes for a routine checkup.", "outpatient"),
    ("A 32 year old female with no previous medical history presents to clinic to discuss lab results.",
     "outpatient"),
    ("A 7-month-old boy is brought to emergency by his parents due to irritability for the past 3 days.", "emergency"),
    ("A 58-year-old woman presents to the ER with chest pain.", "emergency"),
    ("A 32-year-old woman is admitted to the ER following a car accident.", "emergency"),
    ("He is admitted to the hospital, and his workup shows anemia.", "inpatient"),
    ("Brought to the emergency room after a fall; he is admitted to the ICU for further care.", "icu"),
    ("A 70-year-old man in the ICU, intubated for respiratory failure.", "ventilated"),
    # places of the past, or denied, are not where the patient is seen
    ("A 60-year-old man. He was hospitalized for pneumonia two years ago.", None),
    ("A 60-year-old man with COVID-19 who does not require intubation.", None),
    ("A 40-year-old man with a rash.", None),
])
def test_where_the_patient_is_seen(note, place):
    setting = extract_facts(note).setting
    assert (setting.place if setting else None) == place
    if setting:
        assert note[setting.start:setting.end]  # the words that say it


def test_the_setting_given_on_a_form():
    facts = extract_facts("A 45-year-old woman comes to the office.").with_overrides({"setting": "icu"})
    assert facts.setting.place == "icu" and facts.setting.start == GIVEN
    assert extract_facts("x").with_overrides({"setting": "ward"}).setting is None  # not a place it knows


def test_blood_pressure_is_two_values():
    note = "A 47-year-old man. Blood pressure is 165/90 mm Hg and pulse is 85/min."
    got = {lab.analyte: (lab.value, lab.unit) for lab in extract_facts(note).labs}
    assert got["sbp"] == (165.0, "mmHg") and got["dbp"] == (90.0, "mmHg")
    assert "sbp" not in {lab.analyte for lab in extract_facts("Her pulse is 85/min.").labs}


@pytest.mark.parametrize("note, value", [
    ("A 45-year-old man. Oxygen saturation is 97% on room air.", 97.0),
    ("O2 sat 92% RA, BP 120/80.", 92.0),
    ("His oxygen saturation was 85% while breathing ambient air.", 85.0),
    ("SpO2 88% on 4 L nasal cannula.", None),  # on oxygen: not the patient's own saturation
    ("Transferrin saturation 50%.", None),
])
def test_oxygen_saturation_is_read_on_room_air_only(note, value):
    got = [lab.value for lab in extract_facts(note).labs if lab.analyte == "spo2"]
    assert got == ([value] if value is not None else [])


def _ranges(note: str) -> dict[str, tuple[float, float | None]]:
    return {lab.analyte: (lab.value, lab.high) for lab in extract_facts(note).labs}


def test_normal_vital_signs_are_normal_ranges():
    got = _ranges("A 38-year-old man with cough. His vital signs are within normal limits with a body temperature "
                  "of 37.9 C.")
    assert got["respiratory_rate"] == (12.0, 20.0) and got["spo2"] == (95.0, 100.0)
    assert got["sbp"] == (90.0, 139.0) and got["dbp"] == (60.0, 89.0)
    assert _ranges("A 48-year-old man. Vital signs are normal.")["respiratory_rate"] == (12.0, 20.0)
    # a value the note gives is the value
    assert _ranges("A 50-year-old woman. Vital signs are normal. BP 150/95.")["sbp"] == (150.0, None)


@pytest.mark.parametrize("note", [
    "A 6-year-old boy. Vital signs are within normal limits.",  # a child's normal rates are others
    "A 60-year-old man. Vital signs are within normal limits except for tachypnea.",
    "A 60-year-old man. Vital signs were not within normal limits.",
    "A 60-year-old man with flu vs normal cold.",
])
def test_no_normal_vitals_read(note):
    assert "respiratory_rate" not in _ranges(note)


def test_an_illness_months_ago_is_past():
    (c,) = [c for c in extract_facts("A 60-year-old man had COVID-19 two months ago.").conditions if "COVID-19" in c.mesh]
    assert c.historical
    (c,) = [c for c in extract_facts("A 38-year-old man with cough that started 3 days ago.").conditions]
    assert not c.historical  # days ago: it is going on



@pytest.mark.parametrize("note, mesh, negated", [
    ("A barium swallow reveals 1/3 of the stomach herniating through the esophageal hiatus.", "Hernia, Hiatal", False),
    ("Loops of bowel herniating into the inguinal canal.", "Hernia, Inguinal", False),
    ("Omentum herniating through the umbilicus.", "Hernia, Umbilical", False),
    ("No bowel herniating through the abdominal wall.", "Hernia, Abdominal", True),
])
def test_a_hernia_described_by_its_site(note, mesh, negated):
    (c,) = [c for c in extract_facts(note).conditions if mesh in c.mesh]
    assert c.negated is negated


def test_a_herniation_of_no_known_site_names_no_hernia():
    assert not [c for c in extract_facts("Tissue herniating through the defect.").conditions if c.mesh[:1] == ["Hernia"]]



@pytest.mark.parametrize("note, pregnant", [
    ("A 32-year-old woman. Serum beta-hCG level is 1800 mIU/mL and rises to 2100 mIU/mL.", True),
    ("A 30-year-old woman with a positive urine pregnancy test.", True),
    ("A 30-year-old woman. hCG 2 mIU/mL.", None),  # below a positive test's cut-off
    ("A 30-year-old woman. Her pregnancy test was negative.", False),
    ("A 30-year-old woman with a history of a positive pregnancy test last year.", None),
])
def test_a_pregnancy_the_labs_state(note, pregnant):
    flag = extract_facts(note).pregnant
    assert (flag.value if flag else None) is pregnant


@pytest.mark.parametrize("note, mesh, family", [
    ("A 9-year-old girl. Chromosomal analysis reveals a 45, XO karyotype.", ["Turner Syndrome"], False),
    ("Karyotype 47,XXY.", ["Klinefelter Syndrome"], False),
    ("Karyotype 47,XY,+21.", ["Down Syndrome"], False),
    ("His brother has 47,XXY.", ["Klinefelter Syndrome"], True),
])
def test_a_karyotype_names_its_syndrome(note, mesh, family):
    (c,) = extract_facts(note).conditions
    assert c.mesh == mesh and c.family is family


@pytest.mark.parametrize("note", ["A 46,XX karyotype.", "A mosaic 45,X/46,XX karyotype."])
def test_a_normal_or_mosaic_karyotype_names_no_syndrome(note):
    assert extract_facts(note).conditions == []

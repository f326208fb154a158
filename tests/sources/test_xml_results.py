"""Legacy ``clinical_results`` -> v2 ``resultsSection``: golden values, losslessness, round trips.

Golden values were read off the real XML of four varied sample studies (values pinned
here by hand, not produced by the converter):
NCT04523831 (2020 schema: analyzed lists, analyses with p-value, hazard ratio, 95% CI),
NCT00753675 (2016 schema, 269 adverse events), NCT00455455 (four flow periods), and
NCT00003222 (2016 schema "Number of Participants" measures, milestone comment).
NCT01254396, in the sample in both formats, checks the whole mapping against
ClinicalTrials.gov's own v2 conversion of the same results.
"""

from __future__ import annotations

import copy
import json
import zipfile
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from trialscope.ingest import ingest
from trialscope.sources.xml_results import convert_results, coverage, enum, posting_date
from trialscope.store import open_store

SAMPLE = Path(__file__).resolve().parents[2] / "sample"
XML_ARCHIVES = ("AllPublicXML-extra.zip", "AllPublicXML.zip")


@cache
def _element(nct: str) -> etree._Element:
    entry = f"{nct[:7]}xxxx/{nct}.xml"
    with zipfile.ZipFile(SAMPLE / "AllPublicXML-extra.zip") as z:
        return etree.fromstring(z.read(entry)).find("clinical_results")


def _results(nct: str) -> dict:
    return convert_results(_element(nct))


def _results_studies() -> list[tuple[str, bytes]]:
    found = []
    for archive in XML_ARCHIVES:
        with zipfile.ZipFile(SAMPLE / archive) as z:
            for name in sorted(z.namelist()):
                data = z.read(name)
                if b"<clinical_results>" in data:
                    found.append((name, data))
    return found


# -- golden: NCT04523831 (analyses, 2020 schema) ------------------------------------------


def test_golden_flow_nct04523831() -> None:
    flow = _results("NCT04523831")["participantFlowModule"]
    assert flow["preAssignmentDetails"].startswith("Of 556 patients who screened")
    assert flow["recruitmentDetails"].startswith("The trial was designed to evaluate")
    assert [(g["id"], g["title"]) for g in flow["groups"]] == [
        ("FG000", "Ivermectin and Doxycycline"), ("FG001", "Placebo"),
    ]
    assert flow["groups"][1]["description"] == "Standard treatment"
    (period,) = flow["periods"]
    assert period["title"] == "Overall Study"
    assert [m["type"] for m in period["milestones"]] == ["STARTED", "COMPLETED", "NOT COMPLETED"]
    assert period["milestones"][1]["achievements"] == [
        {"groupId": "FG000", "numSubjects": "183"}, {"groupId": "FG001", "numSubjects": "180"},
    ]
    assert [(d["type"], [r["numSubjects"] for r in d["reasons"]]) for d in period["dropWithdraws"]] == [
        ("Lost to Follow-up", ["15", "17"]), ("Death", ["0", "3"]), ("Adverse Event", ["2", "0"]),
    ]
    assert period["dropWithdraws"][1]["reasons"][1]["groupId"] == "FG001"


def test_golden_baseline_nct04523831() -> None:
    base = _results("NCT04523831")["baselineCharacteristicsModule"]
    assert base["populationDescription"].startswith("We followed intention to treat analysis")
    assert [g["id"] for g in base["groups"]] == ["BG000", "BG001", "BG002"]
    assert base["groups"][2] == {"id": "BG002", "title": "Total", "description": "Total of all reporting groups"}
    assert base["denoms"] == [{"units": "Participants", "counts": [
        {"groupId": "BG000", "value": "200"}, {"groupId": "BG001", "value": "200"}, {"groupId": "BG002", "value": "400"},
    ]}]
    age, sex, race = base["measures"]
    assert (age["title"], age["paramType"], age["dispersionType"], age["unitOfMeasure"]) == (
        "Age", "MEAN", "STANDARD_DEVIATION", "years")
    (cls,) = age["classes"]
    assert cls["denoms"][0]["counts"][2] == {"groupId": "BG002", "value": "400"}
    assert cls["categories"][0]["measurements"][0] == {"groupId": "BG000", "value": "40.72", "spread": "14.28"}
    assert sex["paramType"] == "COUNT_OF_PARTICIPANTS"
    assert [(c["title"], c["measurements"][2]["value"]) for c in sex["classes"][0]["categories"]] == [
        ("Female", "165"), ("Male", "235"),
    ]
    assert race["populationDescription"] == "Race and Ethnicity were not collected from any participant."
    assert race["classes"][0]["categories"][0]["measurements"] == [{"groupId": "BG002", "value": "0"}]


def test_golden_outcome_analysis_nct04523831() -> None:
    first = _results("NCT04523831")["outcomeMeasuresModule"]["outcomeMeasures"][0]
    assert first["type"] == "PRIMARY"
    assert first["title"] == "Number of Patients With Early Clinical Improvement"
    assert first["timeFrame"] == "7 days"
    assert first["populationDescription"] == "Intention to treat analysis. Linear logistic regression"
    assert first["reportingStatus"] == "POSTED"
    assert (first["paramType"], first["unitOfMeasure"]) == ("COUNT_OF_PARTICIPANTS", "Participants")
    assert [g["id"] for g in first["groups"]] == ["OG000", "OG001"]
    assert first["denoms"] == [{"units": "Participants", "counts": [
        {"groupId": "OG000", "value": "183"}, {"groupId": "OG001", "value": "180"},
    ]}]
    assert first["classes"] == [{"categories": [{"measurements": [
        {"groupId": "OG000", "value": "111"}, {"groupId": "OG001", "value": "80"},
    ]}]}]
    assert first["analyses"] == [{
        "groupIds": ["OG000", "OG001"],
        "nonInferiorityType": "SUPERIORITY",
        "pValue": "<0.03",
        "statisticalMethod": "Regression, Linear",
        "paramType": "Cox Proportional Hazard",
        "paramValue": "0.53",
        "ciPctValue": "95",
        "ciNumSides": "TWO_SIDED",
        "ciLowerLimit": "0.30",
        "ciUpperLimit": "0.96",
    }]


def test_golden_events_and_more_info_nct04523831() -> None:
    results = _results("NCT04523831")
    ae = results["adverseEventsModule"]
    assert (ae["timeFrame"], ae["frequencyThreshold"]) == ("1 month", "3.8")
    # the "Total" rows (written "00", "03", "02" in the XML) become integer group totals
    assert ae["eventGroups"][0] == {
        "id": "EG000", "title": "Ivermectin and Doxycycline",
        "description": "Ivermectin Plus Doxycycline plus standard of care",
        "deathsNumAffected": 0, "deathsNumAtRisk": 183,
        "seriousNumAffected": 2, "seriousNumAtRisk": 183,
        "otherNumAffected": 7, "otherNumAtRisk": 183,
    }
    assert ae["eventGroups"][1]["deathsNumAffected"] == 3
    assert ae["seriousEvents"] == [{
        "term": "Erosive esophagitis", "organSystem": "Gastrointestinal disorders",
        "sourceVocabulary": "MedDRA (10.0)", "assessmentType": "SYSTEMATIC_ASSESSMENT",
        "stats": [{"groupId": "EG000", "numEvents": 2, "numAffected": 2, "numAtRisk": 183},
                  {"groupId": "EG001", "numEvents": 0, "numAffected": 0, "numAtRisk": 180}],
    }]
    assert [e["term"] for e in ae["otherEvents"]] == ["Non ulcer Dyspepsia"]
    more = results["moreInfoModule"]
    agreement = more["certainAgreement"]
    assert (agreement["piSponsorEmployee"], agreement["restrictiveAgreement"], agreement["restrictionType"]) == (
        False, True, "OTHER")
    assert agreement["otherDetails"].startswith("There IS an agreement")
    assert more["pointOfContact"]["title"] == "Dr. Reaz Mahmud, Principal investigator"
    assert more["pointOfContact"]["organization"] == "Dhaka Medical College"
    assert more["pointOfContact"]["phone"] == "01912270803 ext +88"
    assert more["limitationsAndCaveats"]["description"].startswith("We followed up the patients by telephonic")


# -- golden: NCT00753675 (many adverse events) -----------------------------------------


def test_golden_many_events_nct00753675() -> None:
    ae = _results("NCT00753675")["adverseEventsModule"]
    assert [g["id"] for g in ae["eventGroups"]] == ["EG000", "EG001", "EG002"]
    assert [(g["seriousNumAffected"], g["seriousNumAtRisk"]) for g in ae["eventGroups"]] == [
        (16, 59), (15, 58), (12, 56),
    ]
    # 269 <event> rows in the XML, two of them the serious/other "Total" rows
    assert len(ae["seriousEvents"]) + len(ae["otherEvents"]) == 267
    dic = ae["seriousEvents"][0]
    assert dic["term"] == "Disseminated Intravascular"
    assert dic["organSystem"] == "Blood and lymphatic system disorders"
    assert dic["sourceVocabulary"] == "MedDRA 15.0"  # its own vocab, not the default "MeDRA 15.0"
    assert dic["stats"][0] == {"groupId": "EG000", "numEvents": 1, "numAffected": 1, "numAtRisk": 59}
    assert ae["seriousEvents"][1]["sourceVocabulary"] == "MeDra"
    assert all(e["organSystem"] != "Total" for e in ae["seriousEvents"] + ae["otherEvents"])


# -- golden: NCT00455455 (four flow periods) --------------------------------------------


def test_golden_flow_periods_nct00455455() -> None:
    flow = _results("NCT00455455")["participantFlowModule"]
    assert flow["recruitmentDetails"].startswith("Participants recruited from local communities")
    assert [p["title"] for p in flow["periods"]] == ["Washout", "First Intervention", "Washout", "Second Intervention"]
    started = [[a["numSubjects"] for a in p["milestones"][0]["achievements"]] for p in flow["periods"]]
    assert started == [["25", "25"], ["25", "24"], ["25", "24"], ["24", "24"]]
    assert "dropWithdraws" not in flow["periods"][1]
    assert flow["periods"][2]["dropWithdraws"] == [{"type": "Withdrawal by Subject", "reasons": [
        {"groupId": "FG000", "numSubjects": "1"}, {"groupId": "FG001", "numSubjects": "0"},
    ]}]


# -- golden: NCT00003222 (2016 schema measures) ------------------------------------------


def test_golden_2016_schema_nct00003222() -> None:
    results = _results("NCT00003222")
    completed = results["participantFlowModule"]["periods"][0]["milestones"][1]
    assert completed["achievements"][1] == {
        "groupId": "FG001", "numSubjects": "27",
        "comment": "Decline in performance status between enrollment and initiation of therapy.",
    }
    base = results["baselineCharacteristicsModule"]
    # the leading "Number of Participants" measure is the baseline denominator
    assert base["denoms"] == [{"units": "Participants", "counts": [
        {"groupId": "BG000", "value": "13"}, {"groupId": "BG001", "value": "28"}, {"groupId": "BG002", "value": "41"},
    ]}]
    # standard measures take v2's names and count participants, as ClinicalTrials.gov's own records do
    assert [(m["title"], m["paramType"], m["unitOfMeasure"]) for m in base["measures"]] == [
        ("Age, Categorical", "COUNT_OF_PARTICIPANTS", "Participants"),
        ("Age, Continuous", "MEAN", "years"),
        ("Sex: Female, Male", "COUNT_OF_PARTICIPANTS", "Participants"),
        ("Region of Enrollment", "NUMBER", "participants"),
    ]
    # pre-2017 <sub_title>s: categories in the standard Age/Gender measures, classes elsewhere,
    # as in ClinicalTrials.gov's own v2 records of legacy results
    (age_class,) = base["measures"][0]["classes"]
    assert [c["title"] for c in age_class["categories"]] == ["<=18 years", "Between 18 and 65 years", ">=65 years"]
    assert age_class["categories"][1]["measurements"] == [
        {"groupId": "BG000", "value": "9"}, {"groupId": "BG001", "value": "23"}, {"groupId": "BG002", "value": "32"},
    ]
    assert base["measures"][3]["classes"] == [{"title": "United States", "categories": [{"measurements": [
        {"groupId": "BG000", "value": "13"}, {"groupId": "BG001", "value": "28"}, {"groupId": "BG002", "value": "41"},
    ]}]}]
    outcome = results["outcomeMeasuresModule"]["outcomeMeasures"][0]
    assert outcome["denoms"][0]["counts"] == [{"groupId": "OG000", "value": "13"}, {"groupId": "OG001", "value": "13"}]
    assert [c["title"] for c in outcome["classes"]] == [
        "Complete Response", "Partial Response", "Stable Disease", "Progressive Disease",
    ]
    analysis = results["outcomeMeasuresModule"]["outcomeMeasures"][1]["analyses"][0]
    assert (analysis["pValue"], analysis["statisticalMethod"]) == ("0.13", "Chi-squared")
    assert analysis["nonInferiorityType"] == "SUPERIORITY_OR_OTHER_LEGACY"  # <non_inferiority>No
    assert "testedNonInferiority" not in analysis
    # the stock "There is NOT an agreement..." sentence is v2's restrictiveAgreement false
    assert results["moreInfoModule"]["certainAgreement"] == {"piSponsorEmployee": True, "restrictiveAgreement": False}
    # safety_issue has no v2 home: it is kept under legacy, by XML path
    assert results["legacy"]["outcome_list/outcome[1]/safety_issue"] == "No"


# -- cross-format: the same study as ClinicalTrials.gov itself converted it ------------------


def test_matches_clinicaltrials_gov_own_conversion_nct01254396() -> None:
    """NCT01254396 is in the sample twice: legacy XML (2016) and API v2 JSON. Apart from
    the ``legacy`` stash (safety_issue), our conversion is the v2 resultsSection exactly."""
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        name = next(n for n in z.namelist() if "NCT01254396" in n)
        official = json.loads(z.read(name))["resultsSection"]
    ours = _results("NCT01254396")
    assert set(ours.pop("legacy")) == {f"outcome_list/outcome[{i}]/safety_issue" for i in range(1, 6)}
    assert ours == official


# -- normalisations and the legacy stash -------------------------------------------------


def test_enum_spellings() -> None:
    assert enum("Other Pre-specified") == "OTHER_PRE_SPECIFIED"
    assert enum("Post-Hoc") == "POST_HOC"
    assert enum("Least Squares Mean") == "LEAST_SQUARES_MEAN"
    assert enum("Inter-Quartile Range") == "INTER_QUARTILE_RANGE"
    assert enum("2-Sided") == "TWO_SIDED"
    assert enum("Non-systematic Assessment") == "NON_SYSTEMATIC_ASSESSMENT"
    assert enum("Standard Error of the Mean") == "STANDARD_ERROR_OF_MEAN"
    assert posting_date("12/2015") == "2015-12"


LTE60 = (
    "The only disclosure restriction on the PI is that the sponsor can review results communications prior to public"
    " release and can embargo communications regarding trial results for a period that is less than or equal to 60"
    " days. The sponsor cannot require changes to the communication and cannot extend the embargo."
)


def test_stock_agreement_sentences_become_restriction_types() -> None:
    element = etree.fromstring(
        f"<clinical_results><certain_agreements><pi_employee>Principal Investigators are NOT employed by the"
        f" organization sponsoring the study.</pi_employee><restrictive_agreement>{LTE60}</restrictive_agreement>"
        f"</certain_agreements></clinical_results>".encode()
    )
    results = convert_results(element)
    assert results == {"moreInfoModule": {"certainAgreement": {
        "piSponsorEmployee": False, "restrictiveAgreement": True, "restrictionType": "LTE60",
    }}}
    assert coverage(element, results).dropped == []


SYNTHETIC = b"""<clinical_results>
  <participant_flow>
    <group_list><group group_id="P1" colour="red"><title>A</title><title>A again</title></group></group_list>
    <period_list><period><title>Only</title><note>kept</note></period></period_list>
  </participant_flow>
  <outcome_list><outcome><type>Post-Hoc</type><title>T</title><posting_date>05/2018</posting_date>
    <time_frame>1 y</time_frame></outcome></outcome_list>
  <new_section><x a="1">y</x></new_section>
</clinical_results>"""


def test_unknown_content_goes_to_legacy_by_path() -> None:
    element = etree.fromstring(SYNTHETIC)
    results = convert_results(element)
    assert results["legacy"] == {
        "participant_flow/group_list/group/@colour": "red",
        "participant_flow/group_list/group/title[2]": "A again",
        "participant_flow/period_list/period/note": "kept",
        "new_section": {"x": [{"@a": "1", "#text": "y"}]},
    }
    outcome = results["outcomeMeasuresModule"]["outcomeMeasures"][0]
    assert (outcome["type"], outcome["reportingStatus"], outcome["anticipatedPostingDate"]) == (
        "POST_HOC", "NOT_POSTED", "2018-05")
    report = coverage(element, results)
    assert report.dropped == [] and report.kept == report.leaves == 12


def test_unmapped_attributes_on_value_rows_are_kept() -> None:
    element = copy.deepcopy(_element("NCT04523831"))
    element.find(".//measurement").set("note", "m")
    element.find(".//participants").set("note", "p")
    element.find(".//count").text = "c"
    element.find(".//event/counts").set("note", "e")  # a "Total" row
    element.find(".//category[2]/event_list/event/counts").set("note", "s")  # a serious event
    legacy = convert_results(element)["legacy"]
    assert sorted(v for k, v in legacy.items() if k.endswith(("/@note", "/text()"))) == ["c", "e", "m", "p", "s"]
    assert coverage(element, convert_results(element)).dropped == []


# -- losslessness over the whole sample ---------------------------------------------------


def test_every_sample_results_study_is_lossless() -> None:
    studies = _results_studies()
    assert len(studies) >= 100
    leaves = 0
    for name, data in studies:
        element = etree.fromstring(data).find("clinical_results")
        report = coverage(element, convert_results(element))
        assert report.dropped == [], name
        leaves += report.leaves
    assert leaves > 100_000


def test_coverage_notices_a_dropped_value() -> None:
    element = _element("NCT04523831")
    results = _results("NCT04523831")
    assert coverage(element, results).dropped == []
    broken = copy.deepcopy(results)
    broken["outcomeMeasuresModule"]["outcomeMeasures"][0]["analyses"][0]["ciUpperLimit"] = "0.97"
    del broken["moreInfoModule"]["pointOfContact"]
    dropped = {value for _, value in coverage(element, broken).dropped}
    assert {"0.96", "Dr. Reaz Mahmud, Principal investigator", "Dhaka Medical College"} <= dropped


# -- through ingest -----------------------------------------------------------------------


def test_xml_results_survive_ingest(tmp_path: Path) -> None:
    entry = "NCT0452xxxx/NCT04523831.xml"
    with zipfile.ZipFile(SAMPLE / "AllPublicXML-extra.zip") as z:
        raw = z.read(entry)
    path = tmp_path / "NCT04523831.xml"
    path.write_bytes(raw)
    store = open_store(str(tmp_path / "x.db"))
    summary = ingest(store, [str(path)], progress=False)
    assert (summary.added, summary.rejected) == (1, 0)
    stored = store.get("NCT04523831")
    assert stored is not None and stored.raw == raw
    assert stored.record["hasResults"] is True
    assert stored.record["resultsSection"] == convert_results(etree.fromstring(raw).find("clinical_results"))
    store.close()


@pytest.fixture(scope="module")
def v2_results_study() -> bytes:
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        for name in sorted(z.namelist()):
            raw = z.read(name)
            if b'"resultsSection"' in raw and "adverseEventsModule" in json.loads(raw).get("resultsSection", {}):
                return raw
    raise AssertionError("the sample has no v2 study with results")


def test_v2_results_round_trip(tmp_path: Path, v2_results_study: bytes) -> None:
    original = json.loads(v2_results_study)
    nct = original["protocolSection"]["identificationModule"]["nctId"]
    path = tmp_path / f"{nct}.json"
    path.write_bytes(v2_results_study)
    store = open_store(str(tmp_path / "v2.db"))
    summary = ingest(store, [str(path)], progress=False)
    assert (summary.added, summary.rejected) == (1, 0)
    stored = store.get(nct)
    assert stored is not None
    assert stored.raw == v2_results_study
    assert stored.record["resultsSection"] == original["resultsSection"]
    store.close()

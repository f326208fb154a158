"""Legacy XML -> API v2: a golden study field by field, enum and text mapping, errors, no loss."""

from __future__ import annotations

import contextlib
import random
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from trialscope.normalize import parse_date
from trialscope.record import RecordError, validate
from trialscope.sources.xml_convert import convert_study
from trialscope.sources.xml_convert.eligibility import std_ages
from trialscope.sources.xml_convert.enums import AGENCY_CLASS, INTERVENTION_MODEL, PHASE, STATUS
from trialscope.sources.xml_convert.text import textblock

SAMPLE = Path(__file__).resolve().parents[2] / "sample"
XML_ZIPS = ("AllPublicXML.zip", "AllPublicXML-extra.zip")


def sample_xml() -> Iterator[tuple[str, bytes]]:
    for name in XML_ZIPS:
        with zipfile.ZipFile(SAMPLE / name) as z:
            for entry in sorted(z.namelist()):
                if entry.endswith(".xml"):
                    yield f"{name}!{entry}", z.read(entry)


def study_root(nct: str) -> etree._Element:
    for _, data in sample_xml():
        root = etree.fromstring(data)
        if root.findtext("id_info/nct_id") == nct:
            return root
    raise LookupError(nct)


def convert(xml: str) -> dict:
    return convert_study(etree.fromstring(xml))


def minimal(body: str = "", nct: str = "NCT01234567") -> str:
    return f"<clinical_study><id_info><nct_id>{nct}</nct_id></id_info>{body}</clinical_study>"


@pytest.fixture(scope="module")
def golden() -> dict:
    return convert_study(study_root("NCT03949231"))


def test_golden_identification_and_status(golden: dict) -> None:
    p = golden["protocolSection"]
    ident = p["identificationModule"]
    assert ident["nctId"] == "NCT03949231"
    assert ident["orgStudyIdInfo"] == {"id": "Artery Toripalimab for HCC"}
    assert ident["briefTitle"] == (
        "Infusion of Toripalimab Via Hepatic Arterial Versus Vein for Immunotherapy of "
        "Advanced Hepatocellular Carcinoma"
    )
    assert ident["officialTitle"].startswith("A Phase III Randomized Trial of Comparison of Survival")
    assert ident["officialTitle"].endswith("Versus Vein for Immunotherapy of Advanced Liver Cancer")
    assert ident["organization"] == {
        "fullName": "Second Affiliated Hospital of Guangzhou Medical University", "class": "OTHER",
    }
    assert p["statusModule"] == {
        "overallStatus": "RECRUITING",
        "startDateStruct": {"date": "2019-01-01", "type": "ACTUAL"},
        "completionDateStruct": {"date": "2021-01-02", "type": "ESTIMATED"},
        "primaryCompletionDateStruct": {"date": "2021-01-01", "type": "ESTIMATED"},
        "expandedAccessInfo": {"hasExpandedAccess": False},
        "statusVerifiedDate": "2019-05",
        "studyFirstSubmitDate": "2019-05-13",
        "studyFirstSubmitQcDate": "2019-05-13",
        "studyFirstPostDateStruct": {"date": "2019-05-14", "type": "ACTUAL"},
        "lastUpdateSubmitDate": "2019-05-13",
        "lastUpdatePostDateStruct": {"date": "2019-05-14", "type": "ACTUAL"},
    }
    assert p["sponsorCollaboratorsModule"] == {
        "leadSponsor": {"name": "Second Affiliated Hospital of Guangzhou Medical University", "class": "OTHER"},
        "responsibleParty": {"type": "SPONSOR"},
    }
    assert p["oversightModule"] == {
        "oversightHasDmc": False, "isFdaRegulatedDrug": False, "isFdaRegulatedDevice": False,
    }


def test_golden_description_conditions_design(golden: dict) -> None:
    p = golden["protocolSection"]
    desc = p["descriptionModule"]
    assert desc["briefSummary"] == (
        "This trial was designed to investigate the survival outcomes, response rates, and safety of "
        "patients with Barcelona-Clinical Hepatocellular Carcinoma (BCLC)-C-stage liver cancer by "
        "hepatic artery versus vein infusion of Toripalimab."
    )
    paragraphs = desc["detailedDescription"].split("\n\n")
    assert len(paragraphs) == 2 and "\n" not in desc["detailedDescription"].replace("\n\n", "")
    assert paragraphs[1].startswith("Toripalimab is a PD1 monoclonal antibody")
    assert '"first pass effect"' in paragraphs[1]
    assert p["conditionsModule"] == {
        "conditions": ["Liver Cancer"], "keywords": ["Liver Cancer", "PD1 antibody", "Artery infusion"],
    }
    assert p["designModule"] == {
        "phases": ["PHASE3"],
        "studyType": "INTERVENTIONAL",
        "designInfo": {
            "allocation": "RANDOMIZED", "interventionModel": "PARALLEL", "primaryPurpose": "TREATMENT",
            "maskingInfo": {"masking": "NONE"},
        },
        "enrollmentInfo": {"count": 200, "type": "ESTIMATED"},
    }


def test_golden_arms_interventions_outcomes(golden: dict) -> None:
    p = golden["protocolSection"]
    arms = p["armsInterventionsModule"]
    assert arms["armGroups"] == [
        {
            "label": "Toripalimab hepatic artery infusion", "type": "EXPERIMENTAL",
            "description": "Interventional technique to place microcatheter in hepatic artery to infuse "
            "Toripalimab in 30 minutes.",
            "interventionNames": ["Drug: Toripalimab"],
        },
        {
            "label": "Toripalimab vein infusion", "type": "EXPERIMENTAL",
            "description": "Regular IV infusion of Toripalimab in 30 minutes.",
            "interventionNames": ["Drug: Toripalimab"],
        },
    ]
    assert arms["interventions"] == [{
        "type": "DRUG", "name": "Toripalimab",
        "description": "Infusion of Toripalimab through peripheral vein or hepatic artery.",
        "armGroupLabels": ["Toripalimab hepatic artery infusion", "Toripalimab vein infusion"],
    }]
    outcomes = p["outcomesModule"]
    assert [o["measure"] for o in outcomes["primaryOutcomes"]] == ["Overall survival"]
    assert outcomes["primaryOutcomes"][0]["timeFrame"] == "2 years"
    assert outcomes["primaryOutcomes"][0]["description"].startswith("Overall survival (OS) will be defined")
    assert [o["measure"] for o in outcomes["secondaryOutcomes"]] == [
        "Progression-free survival", "Adverse event rate",
    ]
    assert "otherOutcomes" not in outcomes


def test_golden_eligibility(golden: dict) -> None:
    e = golden["protocolSection"]["eligibilityModule"]
    assert {k: v for k, v in e.items() if k != "eligibilityCriteria"} == {
        "sex": "ALL", "minimumAge": "18 Years", "maximumAge": "80 Years",
        "healthyVolunteers": False, "stdAges": ["ADULT", "OLDER_ADULT"],
    }
    criteria = e["eligibilityCriteria"]
    assert criteria.startswith(
        "Inclusion Criteria:\n\n1. Cytohistological confirmation is required for diagnosis of HCC.、\n"
        "2. Signed informed consent before recruiting\n"
    )
    # a wrapped item is one line; `<` is escaped the way v2 escapes markdown
    assert (
        "\n6. Laboratory examination test within 7 days prior to procedure: WBC≥3.0×10E9/L; "
        "Hb≥90g/L； PLT ≥50×10E9/L；INR \\< 2.3 or PT \\< 6 seconds"
    ) in criteria
    assert "\n10. Willing and able to comply with scheduled visits, treatment plan and laboratory tests.\n\n" \
        "Exclusion Criteria:\n\n1. Patients participated" in criteria
    assert criteria.endswith("\n10. Subjects unable to suffer the discomfort of the HAI procedure")
    assert "  " not in criteria.replace("\n", "")


def test_golden_contacts_locations_derived_legacy(golden: dict) -> None:
    cl = golden["protocolSection"]["contactsLocationsModule"]
    contact = {"name": "Hui Lian, MD", "role": "CONTACT", "phone": "02034153532", "email": "lian-hui-2008@163.com"}
    assert cl["centralContacts"] == [contact]
    assert cl["locations"] == [{
        "facility": "The Second Affiliated Hospital of Guangzhou Medical University",
        "city": "Guanzhou", "state": "Guangdong", "zip": "51260", "country": "China",
        "status": "RECRUITING", "contacts": [contact],
    }]
    assert "overallOfficials" not in cl
    assert golden["derivedSection"] == {"conditionBrowseModule": {"meshes": [{"term": "Liver Neoplasms"}]}}
    assert golden["hasResults"] is False
    legacy = golden["legacySection"]
    assert legacy["required_header"]["download_date"] == "ClinicalTrials.gov processed this data on July 28, 2020"
    assert legacy["required_header"]["url"] == "https://clinicaltrials.gov/show/NCT03949231"
    assert legacy["number_of_arms"] == "2"
    assert legacy["location_countries"] == ["China"]
    validate(golden)


@pytest.mark.parametrize(
    ("convert_fn", "text", "expected"),
    [
        (PHASE, "Phase 3", "PHASE3"), (PHASE, "N/A", "NA"), (PHASE, "Early Phase 1", "EARLY_PHASE1"),
        (PHASE, "Phase 0", "EARLY_PHASE1"), (PHASE, "Phase 5", None),
        (STATUS, "Active, not recruiting", "ACTIVE_NOT_RECRUITING"), (STATUS, "Unknown status", "UNKNOWN"),
        (STATUS, "Not yet recruiting", "NOT_YET_RECRUITING"), (STATUS, "Sleeping", None),
        (INTERVENTION_MODEL, "Single Group Assignment", "SINGLE_GROUP"),
        (INTERVENTION_MODEL, "Crossover Assignment", "CROSSOVER"),
        (AGENCY_CLASS, "U.S. Fed", "FED"), (AGENCY_CLASS, "NIH", "NIH"), (AGENCY_CLASS, "Industry", "INDUSTRY"),
    ],
)
def test_enums(convert_fn, text: str, expected: str | None) -> None:
    assert convert_fn(text) == expected


def test_design_phases_masking_and_types() -> None:
    record = convert(minimal(
        "<phase>Phase 1/Phase 2</phase><study_type>Observational [Patient Registry]</study_type>"
        "<study_design_info><allocation>Non-Randomized</allocation>"
        "<intervention_model>Factorial Assignment</intervention_model>"
        "<primary_purpose>Educational/Counseling/Training</primary_purpose>"
        "<masking>Double (Participant, Investigator)</masking>"
        "<observational_model>Case-Control</observational_model>"
        "<time_perspective>Cross-Sectional</time_perspective></study_design_info>"
        "<arm_group><arm_group_label>A</arm_group_label><arm_group_type>Placebo Comparator</arm_group_type></arm_group>"
        "<arm_group><arm_group_label>B</arm_group_label><arm_group_type>No Intervention</arm_group_type></arm_group>"
        "<intervention><intervention_type>Dietary Supplement</intervention_type>"
        "<intervention_name>Fish oil</intervention_name><arm_group_label>A</arm_group_label></intervention>"
        "<intervention><intervention_type>Drug</intervention_type><intervention_name>Placebo</intervention_name>"
        "<arm_group_label>A</arm_group_label><other_name>Sugar pill</other_name></intervention>"
    ))
    design = record["protocolSection"]["designModule"]
    assert design["phases"] == ["PHASE1", "PHASE2"]
    assert design["studyType"] == "OBSERVATIONAL" and design["patientRegistry"] is True
    assert design["designInfo"] == {
        "allocation": "NON_RANDOMIZED", "interventionModel": "FACTORIAL", "primaryPurpose": "ECT",
        "maskingInfo": {"masking": "DOUBLE", "whoMasked": ["PARTICIPANT", "INVESTIGATOR"]},
        "observationalModel": "CASE_CONTROL", "timePerspective": "CROSS_SECTIONAL",
    }
    arms = record["protocolSection"]["armsInterventionsModule"]
    assert arms["armGroups"] == [
        {"label": "A", "type": "PLACEBO_COMPARATOR",
         "interventionNames": ["Dietary Supplement: Fish oil", "Drug: Placebo"]},
        {"label": "B", "type": "NO_INTERVENTION"},
    ]
    assert arms["interventions"][0]["type"] == "DIETARY_SUPPLEMENT"
    assert arms["interventions"][1]["otherNames"] == ["Sugar pill"]
    assert "legacySection" not in record


@pytest.mark.parametrize(
    ("xml", "phases"),
    [("Phase 3", ["PHASE3"]), ("N/A", ["NA"]), ("Phase 2/Phase 3", ["PHASE2", "PHASE3"]), ("Early Phase 1", ["EARLY_PHASE1"])],
)
def test_phases(xml: str, phases: list[str]) -> None:
    record = convert(minimal(f"<phase>{xml}</phase>"))
    assert record["protocolSection"]["designModule"]["phases"] == phases
    assert "legacySection" not in record


def test_sponsors_officials_references_links_ipd() -> None:
    record = convert(minimal(
        "<sponsors><lead_sponsor><agency>NCI</agency><agency_class>NIH</agency_class></lead_sponsor>"
        "<collaborator><agency>VA</agency><agency_class>U.S. Fed</agency_class></collaborator></sponsors>"
        "<source>National Cancer Institute (NCI)</source>"
        "<overall_official><last_name>Jane Roe, MD</last_name><role>Principal Investigator</role>"
        "<affiliation>NCI</affiliation></overall_official>"
        "<location><facility><name>Site</name></facility><status>Withdrawn</status>"
        "<investigator><last_name>Bob Smith</last_name><role>Sub-Investigator</role></investigator></location>"
        "<reference><citation>Old paper.</citation><PMID>123</PMID></reference>"
        "<results_reference><citation>Result paper.</citation><PMID>456</PMID></results_reference>"
        "<link><url>https://example.org</url><description>More &amp; info</description></link>"
        "<responsible_party><responsible_party_type>Principal Investigator</responsible_party_type>"
        "<investigator_full_name>Jane Roe</investigator_full_name></responsible_party>"
        "<patient_data><sharing_ipd>Yes</sharing_ipd><ipd_info_type>Study Protocol</ipd_info_type>"
        "<ipd_info_type>Statistical Analysis Plan (SAP)</ipd_info_type></patient_data>"
        "<removed_countries><country>Peru</country></removed_countries>"
    ))
    p = record["protocolSection"]
    assert p["identificationModule"]["organization"] == {"fullName": "National Cancer Institute (NCI)", "class": "NIH"}
    assert p["sponsorCollaboratorsModule"] == {
        "leadSponsor": {"name": "NCI", "class": "NIH"},
        "collaborators": [{"name": "VA", "class": "FED"}],
        "responsibleParty": {"type": "PRINCIPAL_INVESTIGATOR", "investigatorFullName": "Jane Roe"},
    }
    cl = p["contactsLocationsModule"]
    assert cl["overallOfficials"] == [{"name": "Jane Roe, MD", "affiliation": "NCI", "role": "PRINCIPAL_INVESTIGATOR"}]
    assert cl["locations"] == [
        {"facility": "Site", "status": "WITHDRAWN", "contacts": [{"name": "Bob Smith", "role": "SUB_INVESTIGATOR"}]}
    ]
    assert p["referencesModule"] == {
        "references": [
            {"pmid": "123", "type": "BACKGROUND", "citation": "Old paper."},
            {"pmid": "456", "type": "RESULT", "citation": "Result paper."},
        ],
        "seeAlsoLinks": [{"label": "More \\& info", "url": "https://example.org"}],
    }
    assert p["ipdSharingStatementModule"] == {"ipdSharing": "YES", "infoTypes": ["STUDY_PROTOCOL", "SAP"]}
    assert record["derivedSection"] == {"miscInfoModule": {"removedCountries": ["Peru"]}}


def test_old_format_2016() -> None:
    """The pre-2017 schema: firstreceived/lastchanged dates, one-line study_design, gender Both."""
    record = convert(minimal(
        "<firstreceived_date>September 23, 1999</firstreceived_date>"
        "<lastchanged_date>October 14, 2015</lastchanged_date>"
        "<firstreceived_results_date>June 12, 2015</firstreceived_results_date>"
        "<study_design>Allocation: Randomized, Endpoint Classification: Safety/Efficacy Study, "
        "Intervention Model: Parallel Assignment, Masking: Double Blind (Subject, Caregiver), "
        "Primary Purpose: Treatment</study_design>"
        "<eligibility><gender>Both</gender><minimum_age>N/A</minimum_age><maximum_age>N/A</maximum_age>"
        "<healthy_volunteers>Accepts Healthy Volunteers</healthy_volunteers></eligibility>"
        "<primary_outcome><measure>M</measure><safety_issue>Yes</safety_issue></primary_outcome>"
    ))
    p = record["protocolSection"]
    assert p["statusModule"] == {
        "studyFirstSubmitDate": "1999-09-23", "lastUpdateSubmitDate": "2015-10-14",
        "resultsFirstSubmitDate": "2015-06-12",
    }
    assert p["designModule"]["designInfo"] == {
        "allocation": "RANDOMIZED", "interventionModel": "PARALLEL", "primaryPurpose": "TREATMENT",
        "maskingInfo": {"masking": "DOUBLE", "whoMasked": ["PARTICIPANT", "CARE_PROVIDER"]},
    }
    assert p["eligibilityModule"] == {
        "sex": "ALL", "healthyVolunteers": True, "stdAges": ["CHILD", "ADULT", "OLDER_ADULT"],
    }
    assert record["legacySection"]["study_design"].startswith("Allocation: Randomized, Endpoint Classification")
    assert record["legacySection"]["primary_outcome[1]/safety_issue"] == "Yes"


def test_missing_or_bad_nct_id_rejects() -> None:
    with pytest.raises(RecordError, match="id_info/nct_id"):
        convert("<clinical_study><brief_title>T</brief_title></clinical_study>")
    with pytest.raises(RecordError, match="id_info/nct_id"):
        convert(minimal(nct="   "))
    with pytest.raises(RecordError, match=r"id_info/nct_id.*'NCT123'"):
        convert(minimal(nct="NCT123"))
    assert convert(minimal(nct=" nct01234567 "))["protocolSection"]["identificationModule"]["nctId"] == "NCT01234567"


def test_unparseable_values_are_kept_in_legacy_not_rejected() -> None:
    record = convert(minimal(
        "<start_date type='Actual'>Spring 2019</start_date>"
        "<completion_date type='Guessed'>May 2020</completion_date>"
        "<verification_date>sometime</verification_date>"
        "<overall_status>Sleeping</overall_status><phase>Phase 1/Phase 9</phase>"
        "<enrollment type='Actual'>about 40</enrollment>"
        "<eligibility><minimum_age>eighteen</minimum_age><gender>Any</gender></eligibility>"
    ))
    status = record["protocolSection"]["statusModule"]
    assert status == {"completionDateStruct": {"date": "2020-05"}}
    assert record["legacySection"] == {
        "start_date": "Spring 2019", "completion_date/@type": "Guessed", "verification_date": "sometime",
        "overall_status": "Sleeping", "phase": "Phase 1/Phase 9",
        "enrollment": {"@type": "Actual", "#text": "about 40"},
        "eligibility/minimum_age": "eighteen", "eligibility/gender": "Any",
    }
    validate(record)


def test_textblock_lists_nesting_and_escapes() -> None:
    text = """
        Inclusion Criteria:

          -  Patients must have:

               1. Cognitive dysfunction on neuropsychological testing which
                  lasts.

               2. HIV antibody positivity.

          -  Bilirubin <= 3 [total] & ALT*2

        Exclusion Criteria:

          1. History of seizures.

         10. Pregnancy.
      """
    assert textblock(text) == (
        "Inclusion Criteria:\n\n"
        "* Patients must have:\n\n"
        "  1. Cognitive dysfunction on neuropsychological testing which lasts.\n"
        "  2. HIV antibody positivity.\n"
        "* Bilirubin \\<= 3 \\[total\\] \\& ALT\\*2\n\n"
        "Exclusion Criteria:\n\n"
        "1. History of seizures.\n"
        "10. Pregnancy."
    )
    assert textblock("\n      One paragraph\n      wrapped.\n\n      Two.\n    ") == "One paragraph wrapped.\n\nTwo."
    assert textblock("   \n  ") == ""


def test_std_ages() -> None:
    assert std_ages("18 Years", "64 Years") == ["ADULT"]
    assert std_ages("18 Years", "65 Years") == ["ADULT", "OLDER_ADULT"]
    assert std_ages(None, "17 Years") == ["CHILD"]
    assert std_ages("6 Months", None) == ["CHILD", "ADULT", "OLDER_ADULT"]
    assert std_ages("65 Years", None) == ["OLDER_ADULT"]
    assert std_ages("garbage", None) == []


# --- nothing the XML holds is silently dropped ---------------------------------------

# Documented renames: the XML's display value -> the v2 value it becomes.
RENAMES = {
    "Anticipated": "ESTIMATED", "Estimate": "ESTIMATED", "Both": "ALL", "U.S. Fed": "FED",
    "Unknown status": "UNKNOWN", "Phase 0": "EARLY_PHASE1", "Educational/Counseling/Training": "ECT",
    "Accepts Healthy Volunteers": "yes", "Observational [Patient Registry]": "OBSERVATIONAL",
    "None (Open Label)": "NONE", "Open Label": "NONE", "No masking": "NONE", "Statistical Analysis Plan (SAP)": "SAP",
    "Informed Consent Form (ICF)": "ICF", "Clinical Study Report (CSR)": "CSR",
}
_ASSIGNMENT = re.compile(r" Assignment$")
_MASKING = re.compile(r"^(\w+)(?: \((.*)\))?$")


def _norm(value: str) -> str:
    """Compare on words only: reflow, list markers, escapes and enum underscores vanish."""
    return re.sub(r"[\W_]+", "", value.lower())


def _values(node: object, out: set[str]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _values(value, out)
    elif isinstance(node, list):
        if node and all(isinstance(v, str) for v in node):
            out.add(_norm("".join(node)))
        for value in node:
            _values(value, out)
    elif isinstance(node, bool):
        out.add("yes" if node else "no")
    elif node is not None:
        out.add(_norm(str(node)))


def _forms(path: str, value: str) -> list[tuple[str, ...]]:
    """The normalised forms a leaf may take in the record; each needs all of its parts."""
    forms = [value, RENAMES.get(value, value), _ASSIGNMENT.sub("", value)]
    with contextlib.suppress(ValueError):
        forms.append(parse_date(value))
    alternatives = [(_norm(f),) for f in forms]
    m = _MASKING.match(value)
    if path.endswith("masking") and m and m.group(2):  # masking level + whoMasked list
        alternatives.append((_norm(m.group(1)), _norm(m.group(2))))
    return alternatives


def _leaves(el: etree._Element, path: str) -> Iterator[tuple[str, str]]:
    for name, value in el.attrib.items():
        yield f"{path}/@{name}", value
    children = [c for c in el if isinstance(c.tag, str)]
    if not children and el.text and el.text.strip():
        yield path, el.text
    for child in children:
        if child.tag != "clinical_results":
            yield from _leaves(child, f"{path}/{child.tag}")


def test_every_xml_leaf_survives_conversion() -> None:
    checked = 0
    missing: list[str] = []
    for where, data in sample_xml():
        root = etree.fromstring(data)
        values: set[str] = set()
        _values(convert_study(root), values)
        for path, value in _leaves(root, "clinical_study"):
            checked += 1
            if path.endswith("_age") and value.strip() == "N/A":
                continue  # documented: N/A means no limit, and v2 leaves the field out
            if not any(all(part in values for part in form) for form in _forms(path, value)):
                missing.append(f"{where} {path} = {value.strip()[:80]!r}")
    assert checked > 20_000
    assert not missing, "\n".join(missing[:30])


def test_every_sample_study_validates() -> None:
    count = 0
    for _, data in sample_xml():
        validate(convert_study(etree.fromstring(data)))
        count += 1
    assert count == 394


def test_provided_documents_become_large_docs() -> None:
    record = convert(minimal(
        "<provided_document_section><provided_document>"
        "<document_type>Study Protocol and Statistical Analysis Plan</document_type>"
        "<document_has_protocol>Yes</document_has_protocol><document_has_icf>No</document_has_icf>"
        "<document_has_sap>Yes</document_has_sap><document_date>December 17, 2020</document_date>"
        "<document_url>https://ClinicalTrials.gov/ProvidedDocs/77/NCT00001277/Prot_SAP_000.pdf</document_url>"
        "</provided_document></provided_document_section>"
    ))
    assert record["documentSection"] == {"largeDocumentModule": {"largeDocs": [{
        "label": "Study Protocol and Statistical Analysis Plan", "hasProtocol": True, "hasIcf": False,
        "hasSap": True, "date": "2020-12-17", "typeAbbrev": "Prot_SAP", "filename": "Prot_SAP_000.pdf",
    }]}}
    assert record["legacySection"] == {
        "provided_document_section/provided_document[1]/document_url":
            "https://ClinicalTrials.gov/ProvidedDocs/77/NCT00001277/Prot_SAP_000.pdf",
    }


# XML paths with no v2 home: the only ones the sample may leave in legacySection.
NO_V2_HOME = {
    "@rank", "required_header", "location_countries", "number_of_arms", "number_of_groups",
    "last_update_submitted_qc", "oversight_info/authority", "study_design", "is_fda_regulated",
    "is_section_801", "pending_results", "primary_outcome[]/safety_issue", "secondary_outcome[]/safety_issue",
    "other_outcome[]/safety_issue", "provided_document_section/provided_document[]/document_url",
    "study_type",  # `N/A` on withheld records: v2's studyType has no such value
}


def test_only_fields_without_a_v2_home_stay_legacy() -> None:
    """A value that fails its v2 mapping falls back to legacySection: none in the sample should."""
    found: dict[str, str] = {}
    for where, data in sample_xml():
        for key in convert_study(etree.fromstring(data)).get("legacySection", {}):
            found.setdefault(re.sub(r"\[\d+\]", "[]", key), where)
    unexpected = {k: v for k, v in found.items() if k not in NO_V2_HOME}
    assert not unexpected
    assert {"required_header", "study_design", "primary_outcome[]/safety_issue"} <= found.keys()


def test_mangled_xml_converts_or_is_rejected_cleanly() -> None:
    """Blanked, junk-valued, extra, re-typed or missing elements: a valid record or a RecordError."""
    rnd = random.Random(20190101)
    studies = [data for _, data in sample_xml()][:80]
    junk = ["", " ", "N/A", "Yes", "garbage", "12", "May 2019", "<", "1/2/3", "Phase 9"]
    rejected = 0
    for _ in range(400):
        root = etree.fromstring(rnd.choice(studies))
        elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root and e.tag != "nct_id"]
        for el in rnd.sample(elements, min(6, len(elements))):
            op = rnd.random()
            if op < 0.3:
                for child in list(el):
                    el.remove(child)
                el.text = rnd.choice(junk)
            elif op < 0.5:
                el.text = rnd.choice(junk)
            elif op < 0.7:
                etree.SubElement(el, "unexpected").text = "x"
            elif op < 0.85:
                el.set("type", rnd.choice(junk))
            elif el.getparent() is not None:
                el.getparent().remove(el)
        try:
            validate(convert_study(root))
        except RecordError as exc:
            assert "id_info/nct_id" in str(exc)
            rejected += 1
    assert rejected < 400


def _count_key(node: object, name: str) -> int:
    if isinstance(node, dict):
        return sum((k == name or k.endswith("/" + name)) + _count_key(v, name) for k, v in node.items())
    if isinstance(node, list):
        return sum(_count_key(v, name) for v in node)
    return 0


def test_unknown_children_anywhere_are_kept() -> None:
    """A child element the converter does not know, in any container, lands in legacySection."""
    for _, data in list(sample_xml())[:60]:
        root = etree.fromstring(data)
        containers = [
            el for el in root.iter()
            if isinstance(el.tag, str) and el.tag != "clinical_results" and len(el)
            and not any(a.tag == "clinical_results" for a in el.iterancestors())
        ]
        for el in containers:
            etree.SubElement(el, "unexpected").text = "x"
        record = convert_study(root)
        assert _count_key(record.get("legacySection", {}), "unexpected") == len(containers)

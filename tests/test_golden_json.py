"""Golden test, field by field: NCT05113290 from the API v2 JSON archive, through ingest.

The record holds a summary, description, sponsor, contact, status, phase and dates, but no
title, conditions, MeSH terms or interventions list: it must be kept whole and read sensibly.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from trialscope.record import display_title, validate
from trialscope.store import open_store

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


def test_nct05113290_field_by_field(sample_db: str) -> None:
    stored = open_store(sample_db).get("NCT05113290")
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        assert stored.raw == z.read("NCT05113290.json")  # byte-exact
    assert stored.raw_format == "json"
    assert stored.source.endswith("ctg-studies.json.zip!NCT05113290.json")
    assert stored.last_update == ""  # the page showed no last-update date

    study = validate(stored.record)
    p = study.protocol_section
    ident = p.identification_module
    assert ident.nct_id == "NCT05113290"
    assert ident.brief_title is None and ident.official_title is None
    assert ident.organization.full_name == "First Affiliated Hospital Xi'an Jiaotong University"
    assert p.status_module.overall_status == "NOT_YET_RECRUITING"
    assert p.status_module.start_date_struct.date == "2021-12-01"
    assert p.status_module.start_date_struct.type is None
    assert p.status_module.completion_date_struct.date == "2023-12-01"
    assert p.sponsor_collaborators_module.lead_sponsor.name == ident.organization.full_name
    assert p.sponsor_collaborators_module.collaborators is None
    assert p.description_module.brief_summary.startswith(
        "Sorafenib, as a first-line treatment for patients with advanced HCC"
    )
    assert "recombinant human adenovirus type 5 (H101)" in p.description_module.brief_summary
    assert p.description_module.detailed_description.startswith(
        "Primary liver cancer is the fourth most common malignant tumor"
    )
    assert p.design_module.study_type == "INTERVENTIONAL"
    assert p.design_module.phases == ["PHASE4"]
    [contact] = p.contacts_locations_module.central_contacts
    assert (contact.name, contact.role, contact.phone) == ("Chang Liu, MD", "CONTACT", "0086-18991232095")
    assert contact.email is None and p.contacts_locations_module.locations is None
    assert p.conditions_module is None and p.arms_interventions_module is None
    assert p.eligibility_module is None and p.outcomes_module is None
    assert study.derived_section is None and study.results_section is None
    assert study.has_results is False
    # No title: the heading is the summary's first sentence.
    assert display_title(study).startswith("Sorafenib, as a first-line treatment")

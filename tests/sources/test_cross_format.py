"""The same trial in both formats: the converted XML must agree with ClinicalTrials.gov's v2 JSON.

The sample holds 5 studies in both formats (MANIFEST `both_formats`), each a snapshot of
the same trial at a different date. Every field both carry must be equal, except the ones
listed below with the reason they may differ; a field only one side carries must be one of
the listed kinds. Text is compared exactly, so the XML's re-flowed text blocks must come
out as v2 writes them (markdown lists and escapes).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from trialscope.sources.xml_convert import convert_study

# Fields that legitimately change between two snapshots of one trial.
SNAPSHOT_DEPENDENT = {
    # a later update moves these on
    ".protocolSection.statusModule.statusVerifiedDate": "re-verified at every update",
    ".protocolSection.statusModule.lastUpdateSubmitDate": "the update itself",
    ".protocolSection.statusModule.lastUpdatePostDateStruct": "the update itself",
    ".protocolSection.statusModule.overallStatus": "recruitment moves on",
    ".protocolSection.statusModule.primaryCompletionDateStruct": "estimates become actual",
    ".protocolSection.statusModule.completionDateStruct": "estimates become actual",
    ".protocolSection.designModule.enrollmentInfo": "estimates become actual",
    # people and sites come and go
    ".protocolSection.contactsLocationsModule.centralContacts": "contacts are replaced",
    ".protocolSection.contactsLocationsModule.locations": "sites and their contacts change",
    # PubMed links are added to the registry record as papers appear
    ".protocolSection.referencesModule.references": "publications added later",
}

# Fields only v2 has: the XML never carried them.
V2_ONLY = [
    (r"\.geoPoint$", "the XML has no coordinates"),
    (r"\.meshes\[\d+\]\.id$", "the XML names MeSH terms without descriptor ids"),
    (r"BrowseModule\.(ancestors|browseLeaves|browseBranches)$", "derived later by ClinicalTrials.gov"),
    (r"\.miscInfoModule(\.versionHolder)?$", "the v2 export's own version stamp"),
    (r"\.secondaryIdInfos\[\d+\]\.(type|domain|link)$", "the XML gives a secondary id's text only"),
]

ROOT = Path(__file__).resolve().parents[2] / "sample"


def _load(manifest: dict) -> list[tuple[str, dict, dict]]:
    wanted = set(manifest["both_formats"])
    v2: dict[str, dict] = {}
    with zipfile.ZipFile(ROOT / "ctg-studies.json.zip") as z:
        for name in z.namelist():
            nct = Path(name).stem
            if nct in wanted:
                v2[nct] = json.loads(z.read(name))
    pairs = []
    for archive in ("AllPublicXML.zip", "AllPublicXML-extra.zip"):
        with zipfile.ZipFile(ROOT / archive) as z:
            for name in sorted(z.namelist()):
                nct = Path(name).stem
                if nct in wanted:
                    pairs.append((nct, convert_study(etree.fromstring(z.read(name))), v2[nct]))
    return pairs


def _diff(xml: Any, v2: Any, path: str, out: list[str]) -> None:
    if path in SNAPSHOT_DEPENDENT:
        return
    if isinstance(xml, dict) and isinstance(v2, dict):
        for key in xml.keys() | v2.keys():
            sub = f"{path}.{key}"
            if key not in v2:
                out.append(f"only in XML: {sub}")
            elif key not in xml:
                if not any(re.search(pattern, sub) for pattern, _ in V2_ONLY):
                    out.append(f"only in v2: {sub} = {json.dumps(v2[key])[:120]}")
            else:
                _diff(xml[key], v2[key], sub, out)
    elif isinstance(xml, list) and isinstance(v2, list) and len(xml) == len(v2):
        for i, (a, b) in enumerate(zip(xml, v2, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif xml != v2:
        out.append(f"differs: {path}\n  xml: {json.dumps(xml)[:200]}\n  v2:  {json.dumps(v2)[:200]}")


@pytest.fixture(scope="module")
def pairs(manifest: dict) -> list[tuple[str, dict, dict]]:
    found = _load(manifest)
    assert sorted({nct for nct, _, _ in found}) == sorted(manifest["both_formats"])
    return found


def test_both_formats_agree(pairs: list[tuple[str, dict, dict]]) -> None:
    problems = []
    for nct, xml, v2 in pairs:
        xml = {k: v for k, v in xml.items() if k != "legacySection"}  # XML-only by design
        out: list[str] = []
        _diff(xml, v2, "", out)
        problems += [f"{nct} {line}" for line in out]
    assert not problems, "\n".join(problems)


def test_agreement_covers_the_substance(pairs: list[tuple[str, dict, dict]]) -> None:
    """Guard against a vacuous pass: the compared modules are really there on both sides."""
    for nct, xml, v2 in pairs:
        for module in ("identificationModule", "conditionsModule", "designModule", "eligibilityModule"):
            assert module in xml["protocolSection"] and module in v2["protocolSection"], (nct, module)
        criteria = xml["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
        assert criteria == v2["protocolSection"]["eligibilityModule"]["eligibilityCriteria"], nct

"""Build the in-repo sample (sample/*.zip) from the shared ClinicalTrials.gov data.

Run once by a developer: `python scripts/make_sample.py ../shared/data`. Deterministic.
The sample keeps the shared archives' formats and layouts, so `make run` and the tests read
it with the same readers as the full data. It holds: NCT03949231 and NCT05113290; every
liver / hepatocellular-carcinoma trial; the studies present in both formats; and a seeded
mix of studies with results, with site coordinates, sparse records and COVID-19 studies.
"""

from __future__ import annotations

import json
import random
import re
import sys
import zipfile
from pathlib import Path

LIVER = re.compile(
    r"hepatocellular|\bHCC\b|liver (cancer|neoplasm|carcinoma|tumou?r|metasta)|hepatoma|"
    r"liver cell carcinoma|Liver Neoplasms|Carcinoma, Hepatocellular",
    re.I,
)
ANCHORS = {"NCT03949231", "NCT05113290"}


def nct_of(name: str) -> str:
    return Path(name).stem.upper()


def xml_facts(data: bytes) -> dict:
    text = data.decode("utf-8", "replace")
    conds = " ".join(re.findall(r"<(?:condition|mesh_term|keyword|brief_title|official_title)>(.*?)</", text))
    return {
        "liver": bool(LIVER.search(conds)),
        "results": "<clinical_results>" in text,
        "coords": "<geodata>" in text or "<latitude>" in text,
        "covid": bool(re.search(r"covid|sars-cov-2", conds, re.I)),
        "sparse": "<condition>" not in text,
        "size": len(data),
    }


def json_facts(data: bytes) -> dict:
    doc = json.loads(data)
    p = doc.get("protocolSection", {})
    conds = p.get("conditionsModule", {})
    meshes = doc.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", [])
    ident = p.get("identificationModule", {})
    text = " ".join(
        [*conds.get("conditions", []), *conds.get("keywords", []), *(m.get("term", "") for m in meshes),
         ident.get("briefTitle", ""), ident.get("officialTitle", "")]
    )
    locs = p.get("contactsLocationsModule", {}).get("locations", [])
    return {
        "liver": bool(LIVER.search(text)) or "hepatocellular" in json.dumps(p.get("descriptionModule", {})).lower(),
        "results": bool(doc.get("hasResults")),
        "coords": any("geoPoint" in loc for loc in locs),
        "covid": bool(re.search(r"covid|sars-cov-2", text, re.I)),
        "sparse": not conds.get("conditions"),
        "size": len(data),
    }


def pick(facts: dict[str, dict], rng: random.Random, quotas: dict[str, int], extra_ids: set[str]) -> set[str]:
    chosen = {n for n, f in facts.items() if f["liver"] or n in ANCHORS or n in extra_ids}
    for key, quota in quotas.items():
        pool = sorted(n for n, f in facts.items() if (f[key] if key != "any" else True) and n not in chosen)
        # Prefer records of moderate size so the sample stays a few MB.
        pool = [n for n in pool if facts[n]["size"] < 120_000] or pool
        chosen |= set(rng.sample(pool, min(quota, len(pool))))
    return chosen


def copy_entries(src: Path, dst: Path, wanted: set[str]) -> int:
    n = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for info in zin.infolist():
            if not info.is_dir() and nct_of(info.filename) in wanted:
                zout.writestr(info.filename, zin.read(info))
                n += 1
    return n


def main(shared: Path, out: Path) -> None:
    rng = random.Random(20261121)
    jzip = shared / "ctgov" / "ctg-studies.json.zip"
    xzip = shared / "ctgov" / "AllPublicXML.zip"
    ezip = shared / "ctgov-extra" / "AllPublicXML-extra.zip"
    with zipfile.ZipFile(jzip) as z:
        jfacts = {nct_of(i.filename): json_facts(z.read(i)) for i in z.infolist() if not i.is_dir()}
    with zipfile.ZipFile(xzip) as z:
        xfacts = {nct_of(i.filename): xml_facts(z.read(i)) for i in z.infolist() if not i.is_dir()}
    with zipfile.ZipFile(ezip) as z:
        efacts = {nct_of(i.filename): xml_facts(z.read(i)) for i in z.infolist() if not i.is_dir()}
    both_formats = set(jfacts) & set(xfacts)
    overlap_extra = sorted((set(jfacts) | set(xfacts)) & set(efacts))
    extra_versions = set(rng.sample(overlap_extra, min(12, len(overlap_extra))))

    jsel = pick(jfacts, rng, {"results": 40, "coords": 60, "sparse": 15, "any": 80}, both_formats | extra_versions)
    xsel = pick(xfacts, rng, {"coords": 40, "sparse": 10, "any": 100}, both_formats | extra_versions)
    esel = pick(efacts, rng, {"results": 70, "covid": 30, "any": 10}, extra_versions)

    out.mkdir(parents=True, exist_ok=True)
    counts = {
        "ctg-studies.json.zip": copy_entries(jzip, out / "ctg-studies.json.zip", jsel),
        "AllPublicXML.zip": copy_entries(xzip, out / "AllPublicXML.zip", xsel),
        "AllPublicXML-extra.zip": copy_entries(ezip, out / "AllPublicXML-extra.zip", esel),
    }
    liver = sorted({n for n, f in {**jfacts, **xfacts, **efacts}.items() if f["liver"]})
    manifest = {
        "built_by": "scripts/make_sample.py",
        "entries": counts,
        "distinct_studies": len(jsel | xsel | esel),
        "both_formats": sorted(both_formats),
        "versions_in_extra": sorted(extra_versions),
        "liver_or_hcc": liver,
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps({k: v for k, v in manifest.items() if k != "liver_or_hcc"}, indent=1))
    print("liver/HCC:", len(liver))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"), Path("sample"))

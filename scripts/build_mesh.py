"""Build the shipped MeSH data (src/trialscope/data/mesh/) from the shared data folder.

Run by a developer after changing the sources or `trialscope.mesh.term_key`:
`python scripts/build_mesh.py [../shared/data]`. Deterministic: same input, same bytes.

Three sources feed the term index, in rank order for a key:
1. MeSH names themselves (keys already fold case, plurals, word order and tumour words);
2. LAY_TERMS below, hand-written everyday names;
3. condition strings from the shared study records, mapped to the condition MeSH terms the
   registry assigned, where that mapping holds across studies (see `record_synonyms`).
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from trialscope.mesh import _variants, term_key, tokens  # noqa: E402

OUT = ROOT / "src" / "trialscope" / "data" / "mesh"

# Everyday names for common conditions -> MeSH descriptors, best first.
LAY_TERMS: dict[str, list[str]] = {
    "heart attack": ["Myocardial Infarction"],
    "heart failure": ["Heart Failure"],
    "heart disease": ["Heart Diseases"],
    "high blood pressure": ["Hypertension"],
    "low blood pressure": ["Hypotension"],
    "high cholesterol": ["Hypercholesterolemia"],
    "stroke": ["Stroke"],
    "mini stroke": ["Ischemic Attack, Transient"],
    "diabetes": ["Diabetes Mellitus"],
    "type 1 diabetes": ["Diabetes Mellitus, Type 1"],
    "type 2 diabetes": ["Diabetes Mellitus, Type 2"],
    "t1d": ["Diabetes Mellitus, Type 1"],
    "t2d": ["Diabetes Mellitus, Type 2"],
    "t2dm": ["Diabetes Mellitus, Type 2"],
    "covid": ["COVID-19", "Coronavirus Infections"],
    "covid 19": ["COVID-19", "Coronavirus Infections"],
    "coronavirus": ["COVID-19", "Coronavirus Infections"],
    "sars cov 2": ["SARS-CoV-2", "COVID-19"],
    "flu": ["Influenza, Human"],
    "influenza": ["Influenza, Human"],
    "liver cancer": ["Liver Neoplasms", "Carcinoma, Hepatocellular"],
    "hcc": ["Carcinoma, Hepatocellular"],
    "hepatoma": ["Carcinoma, Hepatocellular"],
    "kidney cancer": ["Kidney Neoplasms", "Carcinoma, Renal Cell"],
    "renal cancer": ["Kidney Neoplasms", "Carcinoma, Renal Cell"],
    "rcc": ["Carcinoma, Renal Cell"],
    "lung cancer": ["Lung Neoplasms"],
    "nsclc": ["Carcinoma, Non-Small-Cell Lung"],
    "sclc": ["Small Cell Lung Carcinoma"],
    "breast cancer": ["Breast Neoplasms"],
    "prostate cancer": ["Prostatic Neoplasms"],
    "colon cancer": ["Colonic Neoplasms", "Colorectal Neoplasms"],
    "bowel cancer": ["Colorectal Neoplasms"],
    "colorectal cancer": ["Colorectal Neoplasms"],
    "crc": ["Colorectal Neoplasms"],
    "stomach cancer": ["Stomach Neoplasms"],
    "gastric cancer": ["Stomach Neoplasms"],
    "pancreatic cancer": ["Pancreatic Neoplasms"],
    "ovarian cancer": ["Ovarian Neoplasms"],
    "cervical cancer": ["Uterine Cervical Neoplasms"],
    "bladder cancer": ["Urinary Bladder Neoplasms"],
    "skin cancer": ["Skin Neoplasms"],
    "brain tumor": ["Brain Neoplasms"],
    "blood cancer": ["Hematologic Neoplasms"],
    "cancer": ["Neoplasms"],
    "aids": ["Acquired Immunodeficiency Syndrome", "HIV Infections"],
    "hiv": ["HIV Infections"],
    "copd": ["Pulmonary Disease, Chronic Obstructive"],
    "ckd": ["Renal Insufficiency, Chronic"],
    "chronic kidney disease": ["Renal Insufficiency, Chronic"],
    "kidney failure": ["Renal Insufficiency"],
    "fatty liver": ["Fatty Liver"],
    "nafld": ["Non-alcoholic Fatty Liver Disease"],
    "nash": ["Non-alcoholic Fatty Liver Disease"],
    "cirrhosis": ["Liver Cirrhosis"],
    "hepatitis b": ["Hepatitis B"],
    "hepatitis c": ["Hepatitis C"],
    "alzheimer": ["Alzheimer Disease"],
    "dementia": ["Dementia"],
    "parkinson": ["Parkinson Disease"],
    "depression": ["Depression", "Depressive Disorder"],
    "anxiety": ["Anxiety", "Anxiety Disorders"],
    "adhd": ["Attention Deficit Disorder with Hyperactivity"],
    "autism": ["Autistic Disorder", "Autism Spectrum Disorder"],
    "ptsd": ["Stress Disorders, Post-Traumatic"],
    "asthma": ["Asthma"],
    "arthritis": ["Arthritis"],
    "rheumatoid arthritis": ["Arthritis, Rheumatoid"],
    "osteoarthritis": ["Osteoarthritis"],
    "obesity": ["Obesity"],
    "overweight": ["Overweight"],
    "back pain": ["Back Pain"],
    "migraine": ["Migraine Disorders"],
    "seizure": ["Seizures", "Epilepsy"],
    "epilepsy": ["Epilepsy"],
    "sickle cell": ["Anemia, Sickle Cell"],
    "tb": ["Tuberculosis"],
    "uti": ["Urinary Tract Infections"],
    "blood clot": ["Thrombosis"],
    "dvt": ["Venous Thrombosis"],
    "afib": ["Atrial Fibrillation"],
    "atrial fibrillation": ["Atrial Fibrillation"],
    "ibd": ["Inflammatory Bowel Diseases"],
    "ibs": ["Irritable Bowel Syndrome"],
    "crohn": ["Crohn Disease"],
    "lupus": ["Lupus Erythematosus, Systemic"],
    "sle": ["Lupus Erythematosus, Systemic"],
    "insomnia": ["Sleep Initiation and Maintenance Disorders"],
    "sleep apnea": ["Sleep Apnea Syndromes"],
    "impotence": ["Erectile Dysfunction"],
    "bph": ["Prostatic Hyperplasia"],
    "enlarged prostate": ["Prostatic Hyperplasia"],
    "pneumonia": ["Pneumonia"],
    "malaria": ["Malaria"],
    "hay fever": ["Rhinitis, Allergic, Seasonal"],
    "pink eye": ["Conjunctivitis"],
    "shortness of breath": ["Dyspnea"],
    "ards": ["Respiratory Distress Syndrome"],
    "arrhythmia": ["Arrhythmias, Cardiac"],
    "irregular heartbeat": ["Arrhythmias, Cardiac"],
    "pertussis": ["Whooping Cough"],
    "sexual dysfunction": ["Sexual Dysfunction, Physiological", "Sexual Dysfunctions, Psychological"],
    "stress": ["Stress, Psychological"],
    "cytokine storm": ["Cytokine Release Syndrome"],
    "osteopenia": ["Bone Diseases, Metabolic"],
    "renal failure": ["Renal Insufficiency"],
    "nicotine dependence": ["Tobacco Use Disorder"],
    "nicotine addiction": ["Tobacco Use Disorder"],
    "myeloma": ["Multiple Myeloma"],
    "plasma cell myeloma": ["Multiple Myeloma"],
    "alcohol abuse": ["Alcoholism"],
    "polio": ["Poliomyelitis"],
    "aki": ["Acute Kidney Injury"],
    "dry eye": ["Dry Eye Syndromes"],
    "bleeding": ["Hemorrhage"],
    "neuropathy": ["Peripheral Nervous System Diseases"],
    "immunodeficiency": ["Immunologic Deficiency Syndromes"],
    "broken bone": ["Fractures, Bone"],
    "fracture": ["Fractures, Bone"],
    "heavy menstrual bleeding": ["Menorrhagia"],
    "opioid dependence": ["Opioid-Related Disorders"],
    "obese": ["Obesity"],
    "prematurity": ["Premature Birth", "Infant, Premature"],
    "cephalgia": ["Headache"],
    "ivf": ["Fertilization in Vitro"],
    "healthy": ["Healthy Volunteers"],
    "trauma": ["Wounds and Injuries"],
    "shingles": ["Herpes Zoster"],
    "chickenpox": ["Chickenpox"],
    "glaucoma": ["Glaucoma"],
    "cataract": ["Cataract"],
    "macular degeneration": ["Macular Degeneration"],
    "amd": ["Macular Degeneration"],
    "osteoporosis": ["Osteoporosis"],
    "anemia": ["Anemia"],
    "anaemia": ["Anemia"],
    "leukaemia": ["Leukemia"],
    "aml": ["Leukemia, Myeloid, Acute"],
    "cll": ["Leukemia, Lymphocytic, Chronic, B-Cell"],
    "cml": ["Leukemia, Myelogenous, Chronic, BCR-ABL Positive"],
    "melanoma": ["Melanoma"],
    "gerd": ["Gastroesophageal Reflux"],
    "heartburn": ["Heartburn", "Gastroesophageal Reflux"],
    "smoking": ["Tobacco Use Disorder", "Smoking"],
    "alcoholism": ["Alcoholism"],
    "opioid addiction": ["Opioid-Related Disorders"],
    "chronic pain": ["Chronic Pain"],
}

# Descriptors newer than the 2019 trees, placed under the 2019 parent they belong to, so they
# get ancestors and a branch. Suffixes ".9xx" are not real MeSH tree numbers; they only keep
# these positions apart from the real ones.
PLACEMENTS: dict[str, list[str]] = {
    "COVID-19": ["Coronavirus Infections", "Pneumonia, Viral"],
    "SARS-CoV-2": ["Betacoronavirus"],
    "Post-Acute COVID-19 Syndrome": ["COVID-19"],
    "Cytokine Release Syndrome": ["Systemic Inflammatory Response Syndrome"],
    "Ischemic Stroke": ["Stroke", "Brain Ischemia"],
    "Mesothelioma, Malignant": ["Mesothelioma"],
    "Hyperthermia": ["Body Temperature Changes"],
    "Pulmonary Arterial Hypertension": ["Hypertension, Pulmonary"],
}

# Old descriptor names (as older records and the 2019 trees write them) -> current names,
# where the words changed; renames that only reorder or inflect words are found by key.
RENAMES: dict[str, str] = {
    "Respiratory Distress Syndrome, Adult": "Respiratory Distress Syndrome",
    "Wegener Granulomatosis": "Granulomatosis with Polyangiitis",
    "Metabolic Syndrome X": "Metabolic Syndrome",
    "Sleep Disorders": "Sleep Wake Disorders",
    "Eating Disorders": "Feeding and Eating Disorders",
    "Mild Cognitive Impairment": "Cognitive Dysfunction",
}

# Terms the registry's algorithm attaches to many condition strings for a single word in them
# ("... Syndrome" -> Syndrome): never a synonym of anything.
GENERIC = frozenset({"Disease", "Syndrome", "Chronic Disease", "Recurrence", "Pathologic Processes"})
MIN_STUDIES = 2  # a condition string must map the same way in at least this many studies
MIN_WEIGHT = 1.0  # ... with this much evidence, when shared among the study's conditions
MIN_SHARE = 0.5  # ... and in at least this share of the studies that use it
MAX_RECORD_NAMES = 4  # record-derived descriptors kept per key


def read_tsv(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines[1:] if line]


def load_mesh(shared: Path) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """Names -> UI, names -> tree numbers, and old names -> current names.

    tree.tsv names are 2019 names, descriptors.tsv names are current: a 2019 name that a
    rename split off ("Asian Americans" -> "Asian American") is joined to the current name
    when exactly one current name, missing from the trees, has the same key, or RENAMES
    says so; the current name takes over its tree numbers.
    """
    ui_of = {name: ui for ui, name in read_tsv(shared / "mesh" / "descriptors.tsv")}
    trees: dict[str, list[str]] = defaultdict(list)
    for tn, name in read_tsv(shared / "mesh" / "tree.tsv"):
        trees[name].append(tn)
    untreed = defaultdict(list)
    for name in ui_of:
        if name not in trees:
            untreed[term_key(name)].append(name)
    renamed: dict[str, str] = {}
    for old in sorted(trees):
        if old not in ui_of and len(untreed.get(term_key(old), [])) == 1:
            renamed[old] = untreed[term_key(old)][0]
    for old, new in RENAMES.items():
        assert new in ui_of and old not in ui_of, (old, new)
        renamed[old] = new
    for old, new in renamed.items():
        if old in trees and not trees.get(new):
            trees[new] = trees.pop(old)
    name_at = {tn: name for name, tns in trees.items() for tn in tns}
    for name, parents in PLACEMENTS.items():
        if trees.get(name):
            continue  # the trees know it now: nothing to invent
        for parent in parents:
            for i, tn in enumerate(sorted(trees[parent])):
                placed = f"{tn}.9{i:02d}"
                assert placed not in name_at, placed
                trees[name].append(placed)
                name_at[placed] = name
    names = {name: ui_of.get(name, "") for name in set(ui_of) | set(trees)}
    return names, {n: sorted(t) for n, t in trees.items()}, renamed


def studies(shared: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(NCT id, condition strings, condition MeSH terms) of every shared study record."""
    with zipfile.ZipFile(shared / "ctgov" / "ctg-studies.json.zip") as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if not info.filename.endswith(".json"):
                continue
            doc = json.loads(zf.read(info))
            conditions = doc.get("protocolSection", {}).get("conditionsModule", {})
            browse = doc.get("derivedSection", {}).get("conditionBrowseModule", {})
            yield (
                Path(info.filename).stem,
                conditions.get("conditions", []),
                [m["term"] for m in browse.get("meshes", []) if m.get("term")],
            )
    for archive in (shared / "ctgov" / "AllPublicXML.zip", shared / "ctgov-extra" / "AllPublicXML-extra.zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if not info.filename.endswith(".xml"):
                    continue
                root = etree.parse(io.BytesIO(zf.read(info))).getroot()
                yield (
                    Path(info.filename).stem,
                    [c.text.strip() for c in root.iterfind("condition") if c.text],
                    [m.text.strip() for m in root.iterfind("condition_browse/mesh_term") if m.text],
                )


def record_synonyms(
    records: dict[str, tuple[list[str], list[str]]],
    names: dict[str, str],
    trees: dict[str, list[str]],
    direct: dict[str, list[str]],
) -> dict[str, list[str]]:
    """Condition-string keys -> the MeSH terms studies using them were given, where consistent.

    In a study, a condition whose own name is among its MeSH terms is explained; the terms
    no condition names are credited to the unexplained conditions, split evenly, so a long
    list of subtypes sharing a long list of terms gives each pair little weight. Kept: terms
    with weight >= MIN_WEIGHT from >= MIN_STUDIES studies, holding >= MIN_SHARE of the
    studies where the key was unexplained; except GENERIC terms and those broader than
    another candidate, by words ("Hyperplasia" beside "Prostatic Hyperplasia") or by tree
    ("Liver Neoplasms" beside "Carcinoma, Hepatocellular"): a broader term would make
    `expand` match far too much.
    """
    uses: Counter[str] = Counter()
    weight: dict[str, Counter[str]] = defaultdict(Counter)
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for conditions, meshes in records.values():
        terms = {m for m in meshes if m in names}
        keys = list(dict.fromkeys(k for k in map(term_key, conditions) if k))
        named = {k: set(_named(k, direct)) for k in keys}
        residual = terms.difference(*named.values())
        unexplained = [k for k in keys if not named[k] & terms]
        for key in unexplained:
            uses[key] += 1
            for term in residual:
                weight[key][term] += 1 / len(unexplained)
                seen[key][term] += 1
    out: dict[str, list[str]] = {}
    for key, weights in weight.items():
        kept = [
            t for t, w in weights.items()
            if w >= MIN_WEIGHT and seen[key][t] >= MIN_STUDIES and seen[key][t] >= MIN_SHARE * uses[key]
        ]
        others = [*kept, *_named(key, direct)]
        kept = [
            t for t in kept
            if t not in GENERIC
            and not any(_narrower_words(t, o) or _broader(t, o, trees) for o in others if o != t)
        ]
        kept.sort(key=lambda t: (-weights[t], -max((tn.count(".") for tn in trees.get(t, [])), default=0), t))
        if kept:
            out[key] = kept[:MAX_RECORD_NAMES]
    return out


def _named(key: str, direct: dict[str, list[str]]) -> list[str]:
    return [n for k in _variants(key.split()) for n in direct.get(k, [])]


def _broader(generic: str, specific: str, trees: dict[str, list[str]]) -> bool:
    """Whether `generic` is an ancestor of `specific` in the trees."""
    return any(s.startswith(g + ".") for g in trees.get(generic, []) for s in trees.get(specific, []))


def _narrower_words(generic: str, specific: str) -> bool:
    g, s = set(tokens(generic)), set(tokens(specific))
    return g < s


def build(shared: Path) -> dict[str, int]:
    names, trees, renamed = load_mesh(shared)
    direct: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        direct[term_key(name)].append(name)
    for old, new in sorted(renamed.items()):
        direct[term_key(old)].append(new)

    for term, targets in LAY_TERMS.items():
        missing = [t for t in targets if t not in names]
        assert not missing, f"LAY_TERMS[{term!r}] names unknown descriptors {missing}"

    records: dict[str, tuple[list[str], list[str]]] = {}
    for nct, conditions, meshes in studies(shared):
        records[nct] = (conditions, meshes)  # later archives hold later versions
    from_records = record_synonyms(records, names, trees, direct)

    index: dict[str, list[str]] = defaultdict(list)
    for key, found in direct.items():
        index[key].extend(found)
    for term, targets in LAY_TERMS.items():
        index[term_key(term)].extend(targets)
    for key, found in from_records.items():
        index[key].extend(found)

    OUT.mkdir(parents=True, exist_ok=True)
    desc_rows = [f"{names[n]}\t{n}\t{' '.join(trees.get(n, []))}" for n in sorted(names)]
    term_rows = [f"{k}\t{'|'.join(dict.fromkeys(v))}" for k, v in sorted(index.items()) if k]
    write_gz(OUT / "descriptors.tsv.gz", desc_rows)
    write_gz(OUT / "terms.tsv.gz", term_rows)
    write_gz(OUT / "aliases.tsv.gz", [f"{old}\t{new}" for old, new in sorted(renamed.items())])
    return {
        "descriptors": len(names),
        "with_tree": sum(1 for n in names if trees.get(n)),
        "aliases": len(renamed),
        "studies": len(records),
        "keys": len(term_rows),
        "record_keys": len(from_records),
        "record_keys_new": sum(1 for k in from_records if k not in direct),
        "lay_terms": len(LAY_TERMS),
    }


def write_gz(path: Path, rows: list[str]) -> None:
    """gzip with a fixed timestamp and no file name, so rebuilds are byte-identical."""
    data = ("\n".join(rows) + "\n").encode("utf-8")
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(data)


if __name__ == "__main__":
    shared_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    print(json.dumps(build(shared_dir), indent=2))

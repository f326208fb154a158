"""MeSH vocabulary: the shipped data, the lookup rules, and the tree walks."""

from __future__ import annotations

import gzip
import importlib.util
from importlib import resources
from pathlib import Path

import pytest

from trialscope.mesh import MeshVocabulary, term_key, tokens, vocabulary

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mesh() -> MeshVocabulary:
    return vocabulary()


def test_vocabulary_is_a_singleton() -> None:
    assert vocabulary() is vocabulary()


def test_descriptor_ids_and_names(mesh: MeshVocabulary) -> None:
    assert mesh.descriptor_id("Carcinoma, Hepatocellular") == "D006528"
    assert mesh.descriptor_id("  carcinoma, HEPATOCELLULAR ") == "D006528"
    assert mesh.name("D006528") == "Carcinoma, Hepatocellular"
    assert mesh.descriptor_id("hepatocellular carcinoma") is None  # exact names only
    assert mesh.name("D999999999") is None


def test_tree_numbers_and_branch(mesh: MeshVocabulary) -> None:
    assert "C04.588.274.623.160" in mesh.tree_numbers("Carcinoma, Hepatocellular")
    assert mesh.branch("Carcinoma, Hepatocellular") >= {"C04.588", "C06.552"}
    assert mesh.branch("Liver Neoplasms", depth=1) == {"C04", "C06"}
    assert mesh.branch("no such descriptor") == set()


def test_ancestors_cover_all_branches_nearest_first(mesh: MeshVocabulary) -> None:
    up = mesh.ancestors("Carcinoma, Hepatocellular")
    assert {"Liver Neoplasms", "Neoplasms", "Liver Diseases", "Adenocarcinoma"} <= set(up)
    assert "Carcinoma, Hepatocellular" not in up
    assert len(up) == len(set(up))
    assert up.index("Liver Neoplasms") < up.index("Neoplasms")
    assert mesh.ancestors("Neoplasms") == []


def test_descendants(mesh: MeshVocabulary) -> None:
    down = mesh.descendants("Liver Neoplasms")
    assert "Carcinoma, Hepatocellular" in down
    assert "Liver Neoplasms" not in down
    assert "Lung Neoplasms" not in down
    assert mesh.descendants("Carcinoma, Hepatocellular") == []


@pytest.mark.parametrize(
    "text",
    ["HCC", "hepatocellular carcinoma", "Hepatocellular Carcinoma", "Carcinoma, Hepatocellular",
     "hepatocellular cancer", "Advanced Hepatocellular Carcinoma (HCC)"],
)
def test_lookup_hepatocellular_carcinoma(mesh: MeshVocabulary, text: str) -> None:
    assert mesh.lookup(text)[0] == "Carcinoma, Hepatocellular"


def test_liver_cancer(mesh: MeshVocabulary) -> None:
    assert mesh.lookup("liver cancer")[0] == "Liver Neoplasms"
    assert mesh.lookup("Liver Tumours") == mesh.lookup("liver cancer")
    expanded = mesh.expand("liver cancer")
    assert {"Liver Neoplasms", "Carcinoma, Hepatocellular"} <= set(expanded)
    assert "Lung Neoplasms" not in expanded


@pytest.mark.parametrize(
    ("text", "descriptor"),
    [
        ("heart attack", "Myocardial Infarction"),
        ("High Blood Pressure", "Hypertension"),
        ("kidney cancer", "Kidney Neoplasms"),
        ("lung cancer", "Lung Neoplasms"),
        ("breast cancer", "Breast Neoplasms"),
        ("stroke", "Stroke"),
        ("diabetes", "Diabetes Mellitus"),
        ("Type 2 Diabetes", "Diabetes Mellitus, Type 2"),
        ("covid", "COVID-19"),
        ("COVID-19", "COVID-19"),
        ("flu", "Influenza, Human"),
        ("Parkinson's disease", "Parkinson Disease"),
        ("impotence", "Erectile Dysfunction"),
    ],
)
def test_lay_terms(mesh: MeshVocabulary, text: str, descriptor: str) -> None:
    assert mesh.lookup(text)[0] == descriptor


def test_partial_phrases_yield_only_conditions(mesh: MeshVocabulary) -> None:
    assert mesh.lookup("breast cancer patients receiving chemotherapy") == ["Breast Neoplasms"]
    found = mesh.lookup("Stage IV Non-small Cell Lung Cancer")
    assert found[0] == "Carcinoma, Non-Small-Cell Lung"


@pytest.mark.parametrize("text", ["", "   ", "xyzzy plugh", "the and of", "[**2148-10-1**]"])
def test_unknown_text_gives_nothing(mesh: MeshVocabulary, text: str) -> None:
    assert mesh.lookup(text) == []
    assert mesh.expand(text) == []


def test_newer_descriptors_get_a_place_in_the_2019_trees(mesh: MeshVocabulary) -> None:
    assert "Coronavirus Infections" in mesh.ancestors("COVID-19")
    assert "COVID-19" in mesh.descendants("Coronavirus Infections")
    assert "COVID-19" in mesh.expand("coronavirus infections")


@pytest.mark.parametrize(
    ("old", "current"),
    [
        ("Infection", "Infections"),  # 2019 tree name, renamed since
        ("Pain, Postoperative", "Postoperative Pain"),
        ("Wegener Granulomatosis", "Granulomatosis with Polyangiitis"),  # older records
    ],
)
def test_old_names_from_records_still_work(mesh: MeshVocabulary, old: str, current: str) -> None:
    assert mesh.descriptor_id(old) == mesh.descriptor_id(current) is not None
    assert mesh.tree_numbers(old) == mesh.tree_numbers(current) != []
    assert mesh.ancestors(old) == mesh.ancestors(current)
    assert mesh.lookup(old)[0] == current


def test_keys_fold_spelling_differences() -> None:
    assert term_key("Carcinoma, Hepatocellular") == term_key("hepatocellular carcinomas")
    assert term_key("Liver Neoplasms") == term_key("cancer of the liver") == term_key("liver tumour")
    assert term_key("Sjögren's Syndrome") == term_key("sjogren syndrome")
    assert tokens("COVID19") == tokens("covid-19") == ["covid", "19"]
    assert term_key("Venous Thromboses") == term_key("venous thrombosis")
    assert term_key("Hepatitis") != term_key("Hepatitis B")


def test_every_descriptor_name_looks_up_itself(mesh: MeshVocabulary) -> None:
    """Guards the shipped index against a change in term_key without a rebuild."""
    path = resources.files("trialscope") / "data" / "mesh" / "descriptors.tsv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        names = [line.split("\t")[1] for line in fh]
    assert len(names) > 30_000
    missing = [n for n in names if n not in mesh.lookup(n)]
    assert missing == []


def _build_script():
    spec = importlib.util.spec_from_file_location("build_mesh", ROOT / "scripts" / "build_mesh.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_synonyms_keep_only_consistent_specific_mappings() -> None:
    build = _build_script()
    trees = {
        "Liver Neoplasms": ["C04.588.274.623"],
        "Carcinoma, Hepatocellular": ["C04.588.274.623.160"],
        "Prostatic Neoplasms": ["C04.588.945.440.770"],
        "Erectile Dysfunction": ["C12.294.644.486"],
        "Hyperplasia": ["C23.550.449"],
        "Prostatic Hyperplasia": ["C12.294.565"],
        "Syndrome": ["C23.888"],
        "Leukemia": ["C04.557.337"],
    }
    names = {name: "" for name in trees}
    direct = {term_key(name): [name] for name in names}
    subtypes = [f"Leukemia Subtype {c}" for c in "abcdef"]
    records = {
        "s1": (["HCC"], ["Carcinoma, Hepatocellular", "Liver Neoplasms"]),
        "s2": (["HCC"], ["Carcinoma, Hepatocellular"]),
        # Neither condition names a term ("prostate" is not "prostatic"): each gets half of both.
        "s3": (["Impotence", "Prostate Cancer"], ["Prostatic Neoplasms", "Erectile Dysfunction"]),
        "s4": (["Impotence"], ["Erectile Dysfunction"]),
        # Erectile Dysfunction is named outright, so Prostate Cancer gets only the other term.
        "s5": (["Prostate Cancer", "Erectile Dysfunction"], ["Prostatic Neoplasms", "Erectile Dysfunction"]),
        "s6": (["BPH"], ["Prostatic Hyperplasia", "Hyperplasia", "Syndrome"]),
        "s7": (["BPH"], ["Prostatic Hyperplasia", "Hyperplasia", "Syndrome"]),
        "s8": (["Once Only"], ["Leukemia"]),
        "s9": (subtypes, ["Leukemia", "Syndrome"]),
        "s10": (subtypes, ["Leukemia", "Syndrome"]),
        "s11": (["Flaky"], ["Leukemia"]),
        "s12": (["Flaky"], ["Leukemia"]),
        "s13": (["Flaky"], []),
        "s14": (["Flaky"], []),
        "s15": (["Flaky"], []),
    }
    found = build.record_synonyms(records, names, trees, direct)
    assert found == {
        "hcc": ["Carcinoma, Hepatocellular"],  # Liver Neoplasms is broader: dropped
        "impotence": ["Erectile Dysfunction"],
        "neoplasm prostate": ["Prostatic Neoplasms"],  # Erectile Dysfunction: weight 0.5 only
        "bph": ["Prostatic Hyperplasia"],  # Hyperplasia is a word subset, Syndrome generic
    }

"""Spotting MeSH concepts in free text, with their spans: conditions, drugs, procedures.

`MeshVocabulary.lookup` answers "which descriptors does this text name"; matching needs
"where": the words of a criterion or a note that name a disease, so a verdict can point at
them and negation can be scoped. `spot(text)` walks the text once, growing a window of
normalised tokens only while every pair of its tokens co-occurs in some term of the
vocabulary (a pair index built once per process), so it costs a few set lookups per word
instead of a lookup per phrase length; punctuation ends a window ("ascites, hepatic
encephalopathy" is two concepts).

Drug names newer than the shipped MeSH (toripalimab, camrelizumab) are recognised by the
stems of the international non-proprietary names (`-mab`, `-nib`, `-platin`, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from .. import mesh

_WORD = re.compile(r"[^\W_]+(?:'s)?")
_BREAK = re.compile(r"[,.;:()\[\]{}/|!?\"]|\s-\s")
MAX_PHRASE = 8

# Descriptors too general to say anything about a patient when spotted alone.
_TOO_GENERAL = frozenset({
    "Disease", "Syndrome", "Pathologic Processes", "Signs and Symptoms", "Acute Disease",
    "Chronic Disease", "Disease Progression", "Recurrence", "Emergencies", "Critical Illness",
    "Body Weight", "Pathological Conditions, Signs and Symptoms", "Disease Attributes",
    "Neoplasm Metastasis", "Neoplasm Recurrence, Local", "Drug-Related Side Effects and Adverse Reactions",
    "Infant, Newborn, Diseases", "Pregnancy Complications", "Wounds and Injuries", "Toxicity",
    "Hypersensitivity", "Drug Hypersensitivity", "Death", "Weight Loss", "Therapeutics",
    "Pharmaceutical Preparations", "Drug Therapy", "Water", "Oxygen", "Placebos", "Control Groups",
})
# Clinical shorthand the term index does not hold (matched in upper case only).
_ABBREVIATIONS = {
    "CHF": "Heart Failure", "HF": "Heart Failure", "MI": "Myocardial Infarction",
    "STEMI": "ST Elevation Myocardial Infarction", "NSTEMI": "Non-ST Elevated Myocardial Infarction",
    "HTN": "Hypertension", "DM": "Diabetes Mellitus", "T2DM": "Diabetes Mellitus, Type 2",
    "T1DM": "Diabetes Mellitus, Type 1", "CAD": "Coronary Artery Disease", "CKD": "Renal Insufficiency, Chronic",
    "ESRD": "Kidney Failure, Chronic", "AKI": "Acute Kidney Injury", "AF": "Atrial Fibrillation",
    "AFIB": "Atrial Fibrillation", "PE": "Pulmonary Embolism", "DVT": "Venous Thrombosis",
    "VTE": "Venous Thromboembolism", "UTI": "Urinary Tract Infections", "GERD": "Gastroesophageal Reflux",
    "OSA": "Sleep Apnea, Obstructive", "RA": "Arthritis, Rheumatoid", "SLE": "Lupus Erythematosus, Systemic",
    "TB": "Tuberculosis", "CVA": "Stroke", "TIA": "Ischemic Attack, Transient", "BPH": "Prostatic Hyperplasia",
    "COPD": "Pulmonary Disease, Chronic Obstructive", "ARDS": "Respiratory Distress Syndrome",
    "HCC": "Carcinoma, Hepatocellular", "NSCLC": "Carcinoma, Non-Small-Cell Lung",
    "SCLC": "Small Cell Lung Carcinoma", "CRC": "Colorectal Neoplasms", "RCC": "Carcinoma, Renal Cell",
    "AML": "Leukemia, Myeloid, Acute", "ALL": "Precursor Cell Lymphoblastic Leukemia-Lymphoma",
    "CLL": "Leukemia, Lymphocytic, Chronic, B-Cell", "CML": "Leukemia, Myelogenous, Chronic, BCR-ABL Positive",
    "MDS": "Myelodysplastic Syndromes", "DLBCL": "Lymphoma, Large B-Cell, Diffuse", "MM": "Multiple Myeloma",
    "HIV": "HIV Infections", "HBV": "Hepatitis B", "HCV": "Hepatitis C", "IBD": "Inflammatory Bowel Diseases",
    "IBS": "Irritable Bowel Syndrome", "MS": "Multiple Sclerosis", "ALS": "Amyotrophic Lateral Sclerosis",
    "PD": "Parkinson Disease", "AD": "Alzheimer Disease", "ADHD": "Attention Deficit Disorder with Hyperactivity",
    "PTSD": "Stress Disorders, Post-Traumatic", "MDD": "Depressive Disorder, Major", "OCD": "Obsessive-Compulsive Disorder",
    "NASH": "Non-alcoholic Fatty Liver Disease", "NAFLD": "Non-alcoholic Fatty Liver Disease",
    "PCOS": "Polycystic Ovary Syndrome", "SAH": "Subarachnoid Hemorrhage", "ICH": "Cerebral Hemorrhage",
    "PAD": "Peripheral Arterial Disease", "CABG": "Coronary Artery Bypass", "GBM": "Glioblastoma",
    "HNSCC": "Squamous Cell Carcinoma of Head and Neck", "TNBC": "Triple Negative Breast Neoplasms",
}
_CONDITION_TREES = ("C", "F03")
_DRUG_TREES = ("D",)
_PROCEDURE_TREES = ("E02", "E04", "E05.")

# Stems of non-proprietary drug names: a word ending so is a drug even if MeSH lacks it.
_DRUG_STEM = re.compile(
    r"^[a-z]{3,}(?:mab|nib|tinib|parib|lisib|ciclib|rafenib|zomib|platin|taxel|rubicin|"
    r"citabine|fosfamide|mustine|tecan|mycin|micin|cillin|cycline|floxacin|conazole|azole|"
    r"vudine|navir|previr|asvir|buvir|tegravir|virine|ciclovir|statin|sartan|pril|olol|dipine|"
    r"gliptin|gliflozin|glutide|glinide|parin|xaban|gatran|lukast|tidine|prazole|setron|"
    r"semide|thiazide|dronate|tinib|limus|relin|relix|lutamide|strozole|trozole|mestane|"
    r"fene|xifene|cept|kin|leukin|ase|plase|teplase|imod|lidomide|zumab|ximab|tumab|umab|"
    r"lumab|limumab|stim|grastim|poetin|afil|triptan|oxetine|aline|azepam|zolam|done|"
    r"peridol|apine|idone|barbital|caine|profen|coxib|fenac|ximab|bart)$"
)
_NOT_DRUGS = frozenset({
    "disease", "database", "base", "case", "phase", "release", "increase", "decrease", "purchase",
    "done", "none", "bone", "alone", "phone", "someone", "anyone", "everyone", "tone", "zone",
    "kin", "skin", "akin", "begin", "within", "margin", "origin", "cabin", "napkin", "pumpkin",
    "concept", "except", "accept", "intercept", "crease", "lease", "please", "ease", "cease",
    "metastase", "line", "aline", "saline", "baseline", "guideline", "deadline", "decline",
    "outline", "timeline", "online", "incline", "fene", "scene", "gene", "assay",
})


@dataclass(slots=True, frozen=True)
class Mention:
    start: int
    end: int
    names: tuple[str, ...]  # MeSH descriptors, best first ("" for a stem-only drug)
    kind: str  # "condition" | "drug" | "procedure"


class _Index:
    """The term keys and the token-pair index over them."""

    def __init__(self, vocab: mesh.MeshVocabulary):
        self.vocab = vocab
        self.tokens: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()
        for key in vocab.term_keys():
            toks = key.split(" ")
            canon = sorted({_canon(t) for t in toks})
            self.tokens.update(canon)
            for i, a in enumerate(canon):
                for b in canon[i + 1 :]:
                    self.pairs.add((a, b))

    def pair(self, a: str, b: str) -> bool:
        a, b = _canon(a), _canon(b)
        if a == b:
            return True
        return (a, b) in self.pairs if a < b else (b, a) in self.pairs


def _canon(tok: str) -> str:
    return "neoplasm" if tok == "carcinoma" else tok


@cache
def _index() -> _Index:
    return _Index(mesh.vocabulary())


@lru_cache(maxsize=200_000)
def _norm(word: str) -> tuple[str, ...]:
    return tuple(mesh.tokens(word))


@lru_cache(maxsize=100_000)
def _names(key_tokens: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """(descriptors, kind) a sorted token tuple names, for a phrase; ((), "") if none."""
    vocab = _index().vocab
    keys = [" ".join(key_tokens)]
    if "neoplasm" in key_tokens:
        keys.append(" ".join(sorted("carcinoma" if t == "neoplasm" else t for t in key_tokens)))
    if "carcinoma" in key_tokens:
        keys.append(" ".join(sorted("neoplasm" if t == "carcinoma" else t for t in key_tokens)))
    for key in keys:
        names = vocab.names_for_key(key)
        if not names:
            continue
        for kind, trees in (("condition", _CONDITION_TREES), ("drug", _DRUG_TREES),
                            ("procedure", _PROCEDURE_TREES)):
            chosen = tuple(n for n in names if n not in _TOO_GENERAL and _in_trees(n, trees))
            if chosen:
                return chosen, kind
    return (), ""


@lru_cache(maxsize=50_000)
def _in_trees(name: str, trees: tuple[str, ...]) -> bool:
    return any(tn.startswith(trees) for tn in _index().vocab.tree_numbers(name))


def _words(text: str) -> list[tuple[int, int, tuple[str, ...], int]]:
    """(start, end, normalised tokens, segment) per word; segments end at punctuation."""
    breaks = [m.start() for m in _BREAK.finditer(text)]
    out = []
    seg = 0
    bi = 0
    for m in _WORD.finditer(text):
        while bi < len(breaks) and breaks[bi] < m.start():
            bi += 1
            seg = bi
        low = m.group(0)
        toks = _norm(low)
        if toks:
            out.append((m.start(), m.end(), toks, seg))
    return out


def spot(text: str, kinds: tuple[str, ...] = ("condition", "drug", "procedure")) -> list[Mention]:
    """MeSH concepts the text names, left to right, longest phrase first at each place."""
    idx = _index()
    words = _words(text)
    out: list[Mention] = []
    i = 0
    n = len(words)
    while i < n:
        best: Mention | None = None
        best_j = i
        window: list[str] = []
        for j in range(i, min(n, i + MAX_PHRASE)):
            if words[j][3] != words[i][3]:
                break
            new = words[j][2]
            if any(_canon(t) not in idx.tokens for t in new):
                break
            if not all(idx.pair(a, b) for a in window for b in new):
                break
            window.extend(new)
            names, kind = _names(tuple(sorted(window)))
            if names and kind in kinds:
                best = Mention(words[i][0], words[j][1], names, kind)
                best_j = j
        if best is None:
            word = text[words[i][0]:words[i][1]]
            abbrev = _ABBREVIATIONS.get(word.upper()) if word.isupper() and len(word) >= 2 else None
            if abbrev and "condition" in kinds:
                best = Mention(words[i][0], words[i][1], (abbrev,), "condition")
            elif "drug" in kinds and is_drug_word(word):
                best = Mention(words[i][0], words[i][1], (), "drug")
        if best is not None:
            out.append(best)
            i = best_j + 1
        else:
            i += 1
    return out


def is_drug_word(word: str) -> bool:
    """Whether a word has the shape of a drug's non-proprietary name (sorafenib, toripalimab)."""
    low = word.lower()
    return len(low) >= 6 and low.isalpha() and low not in _NOT_DRUGS and bool(_DRUG_STEM.match(low))

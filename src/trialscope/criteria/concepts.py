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
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache, lru_cache

from .. import mesh

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
# Clinical words the term index does not hold (matched in any case).
_LAY = {"febrile": "Fever", "afebrile": "Fever", "hypercholesteremia": "Hypercholesterolemia",
        "breathlessness": "Dyspnea", "sob": "Dyspnea", "dyspnoea": "Dyspnea", "oedema": "Edema",
        "haemorrhage": "Hemorrhage", "anaemia": "Anemia", "anaemic": "Anemia", "anemic": "Anemia",
        "diarrhoea": "Diarrhea", "leukaemia": "Leukemia",
        "a-fib": "Atrial Fibrillation", "afib": "Atrial Fibrillation", "cirrhotic": "Liver Cirrhosis",
        "diabetic": "Diabetes Mellitus", "hypertensive": "Hypertension", "obese": "Obesity",
        "septic": "Sepsis", "asthmatic": "Asthma", "epileptic": "Epilepsy"}
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
    "DMD": "Muscular Dystrophy, Duchenne", "SMA": "Muscular Atrophy, Spinal", "CVID": "Common Variable Immunodeficiency",
    "HPV": "Papillomavirus Infections", "IPF": "Idiopathic Pulmonary Fibrosis",
    "ITP": "Purpura, Thrombocytopenic, Idiopathic", "AAA": "Aortic Aneurysm, Abdominal", "UC": "Colitis, Ulcerative",
    "OA": "Osteoarthritis", "PMR": "Polymyalgia Rheumatica", "JIA": "Arthritis, Juvenile",
    "NHL": "Lymphoma, Non-Hodgkin", "SCC": "Carcinoma, Squamous Cell", "BCC": "Carcinoma, Basal Cell",
    "MCI": "Cognitive Dysfunction", "TBI": "Brain Injuries, Traumatic", "SCI": "Spinal Cord Injuries",
    "RLS": "Restless Legs Syndrome", "DKA": "Diabetic Ketoacidosis", "ACS": "Acute Coronary Syndrome",
    "IHD": "Myocardial Ischemia", "PVD": "Peripheral Vascular Diseases", "HSV": "Herpes Simplex",
    "CMV": "Cytomegalovirus Infections", "EBV": "Epstein-Barr Virus Infections",
    "RSV": "Respiratory Syncytial Virus Infections",
}
_CONDITION_TREES = ("C", "F03")
_DRUG_TREES = ("D",)
_PROCEDURE_TREES = ("E02", "E04")
_DIAGNOSTIC_TREES = ("E01", "E05")  # biopsy, endoscopy, genetic testing: not treatments
# Chemicals that are not treatments when named alone ("smokes", "alcohol", "barium swallow"),
# and descriptors of molecules rather than medicines.
_NOT_TREATMENTS = frozenset({"Smoke", "Tobacco", "Tobacco Products", "Ethanol", "Alcohols", "Barium",
                             "Barium Sulfate", "Contrast Media", "Food", "Bilirubin", "Creatinine", "Glucose",
                             "Cholesterol", "Hemoglobins", "Albumins", "Oxygen", "Water", "Sodium", "Potassium",
                             "Calcium", "Iron", "Urea", "Biomarkers", "Caffeine", "Coffee", "Air"})
# Procedures that are no treatment of a disease: a stay, a commitment at enrolment.
_NOT_PROCEDURES = frozenset({"Hospitalization", "Patient Admission", "Contraception", "Contraception, Barrier",
                             "Sexual Abstinence", "Breast Feeding", "Informed Consent"})
_MOLECULE = re.compile(r"\b(?:Receptors?|Genes?|Proteins?|Antigens?|Enzymes?|Cells?|RNA|DNA|Mutation|Peptides?|"
                       r"Ligands?|Kinases?)\b")

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
    names: tuple[str, ...]  # MeSH descriptors, best first (empty for a stem-only drug)
    kind: str  # "condition" | "drug" | "procedure"
    # Cues before it in its clause: "neg" (no, not, without, free of), "other" (other,
    # another, prior), "active" (active, current), "severe" (uncontrolled, severe,
    # end-stage), "allergy" (allergic to).
    cues: frozenset[str] = frozenset()


# Cue words, read in the same pass as the concepts. A negation reaches across a list
# ("no ascites, encephalopathy or bleeding"); "other" and "active" end at a comma.
_CUE_WORDS = {
    **dict.fromkeys(("no", "not", "without", "never", "none", "neither", "nor", "absence", "absent",
                     "exclude", "excluded", "excluding", "unsuspected"), "neg"),
    **dict.fromkeys(("other", "another", "second", "additional", "secondary", "previous", "prior",
                     "concurrent", "concomitant", "synchronous", "metachronous"), "other"),
    **dict.fromkeys(("active", "current", "currently", "ongoing", "symptomatic", "untreated", "acute"), "active"),
    # a degree of the condition beside its presence ("asymptomatic COVID-19 cases"):
    # "active" too, and "severe"
    **dict.fromkeys(("uncontrolled", "unstable", "severe", "significant", "decompensated", "poorly", "inadequately",
                     "end", "advanced", "serious", "major", "refractory", "life-threatening", "asymptomatic"),
                    "severe"),
    **dict.fromkeys(("allergy", "allergies", "allergic", "hypersensitivity", "hypersensitive", "intolerance",
                     "intolerant", "contraindication", "contraindications", "contraindicated", "anaphylaxis"),
                    "allergy"),
    **dict.fromkeys(("but", "except", "however", "unless", "although", "if"), "stop"),
    # a negation before these is about them, not the condition after ("not taking
    # medications for essential tremor", "do not require hospitalization (COVID-19 patients ...)")
    **dict.fromkeys(("medication", "medications", "medicine", "medicines", "drug", "drugs", "treatment",
                     "treatments", "therapy", "therapies", "taking", "receiving", "using", "tested", "require",
                     "requires", "requiring", "need", "needs", "needing"), "absorb"),
}
# Smoking is read as a status of its own (a Smoking fact, PatientFacts.smoker), not a disorder.
_SMOKING_WORDS = frozenset({"smoking", "smoker", "smokers", "smokes", "smoke", "smoked", "tobacco", "cigarettes"})
_CUE_PAIRS = {("free", "of"): "neg", ("negative", "for"): "neg", ("other", "than"): "stop",
              ("or", "without"): "", ("or", "not"): "",  # "with or without", "whether or not" negate nothing
              # examples, not a negation: "including, but not limited to, myasthenia gravis"
              ("contra", "indication"): "allergy", ("contra", "indications"): "allergy",
              ("contra", "indicated"): "allergy",
              ("not", "limited"): "stop", ("not", "restricted"): "stop", ("without", "limitation"): "stop",
              # a bound, not a negation: "no more than 10 days from the onset of COVID-19"
              **dict.fromkeys((("no", w) for w in ("more", "less", "later", "earlier", "longer", "fewer",
                                                    "greater", "sooner")), "stop"),
              **dict.fromkeys((("not", w) for w in ("more", "less", "later", "exceeding", "longer", "greater")),
                              "stop")}
_PAIR_HEADS = frozenset(a for a, _b in _CUE_PAIRS)
_CUE_REACH = {"neg": (60, False), "allergy": (80, False), "other": (30, True), "active": (30, True),
              "severe": (30, True)}
_STOP_MARKS = frozenset(".;:!?")


def _cues_before(ends: list[int], cues: list[str], pos: int) -> frozenset[str]:
    found: set[str] = set()
    i = bisect_right(ends, pos) - 1
    commas = 0
    absorbed = False
    while i >= 0:
        end, cue = ends[i], cues[i]
        i -= 1
        if pos - end > 80 or cue == "stop":
            break
        if cue == "comma":
            commas += 1
            continue
        if cue == "absorb":
            absorbed = True
            continue
        reach, comma_ends = _CUE_REACH[cue]
        if pos - end <= reach and not (comma_ends and commas) and not (absorbed and cue == "neg"):
            found.add(cue)
    return frozenset(found)


# Phrases the term index lacks, each a MeSH descriptor's everyday form (criteria say
# "oesophageal varices" and "variceal bleeding", MeSH "Esophageal and Gastric Varices").
_PHRASES = {
    "varices": ("Varicose Veins",), "gastroesophageal varices": ("Esophageal and Gastric Varices",),
    "esophagogastric varices": ("Esophageal and Gastric Varices",),
    # a bleeding from varices is a bleeding: varices that never bled are not it
    "variceal bleeding": ("Gastrointestinal Hemorrhage",), "variceal hemorrhage": ("Gastrointestinal Hemorrhage",),
    "acid reflux": ("Gastroesophageal Reflux",),
    "infection with sars-cov-2": ("COVID-19",), "sars-cov-2 infection": ("COVID-19",),
    "severe acute respiratory syndrome coronavirus 2": ("COVID-19",),
    # classes of drugs as criteria name them (MeSH names them for their action)
    "nsaids": ("Anti-Inflammatory Agents, Non-Steroidal",),
    "nonsteroidal anti-inflammatory drugs": ("Anti-Inflammatory Agents, Non-Steroidal",),
    "statins": ("Hydroxymethylglutaryl-CoA Reductase Inhibitors",),
    "beta blockers": ("Adrenergic beta-Antagonists",), "beta-adrenergic blockers": ("Adrenergic beta-Antagonists",),
    "ace inhibitors": ("Angiotensin-Converting Enzyme Inhibitors",), "aceis": ("Angiotensin-Converting Enzyme Inhibitors",),
    "angiotensin receptor blockers": ("Angiotensin Receptor Antagonists",), "arbs": ("Angiotensin Receptor Antagonists",),
    "opioids": ("Analgesics, Opioid",), "opiates": ("Analgesics, Opioid",), "opioid analgesics": ("Analgesics, Opioid",),
    "corticosteroids": ("Adrenal Cortex Hormones",), "antibiotics": ("Anti-Bacterial Agents",),
    "bisphosphonates": ("Diphosphonates",), "ssris": ("Serotonin Uptake Inhibitors",),
    "antidepressants": ("Antidepressive Agents",), "tricyclic antidepressants": ("Antidepressive Agents, Tricyclic",),
    "antipsychotics": ("Antipsychotic Agents",), "neuroleptics": ("Antipsychotic Agents",),
    "immunosuppressants": ("Immunosuppressive Agents",), "dmards": ("Antirheumatic Agents",),
    "antiepileptics": ("Anticonvulsants",), "antiepileptic drugs": ("Anticonvulsants",),
    "antiplatelets": ("Platelet Aggregation Inhibitors",), "antiplatelet agents": ("Platelet Aggregation Inhibitors",),
    "blood thinners": ("Anticoagulants",), "h2 blockers": ("Histamine H2 Antagonists",),
    "antihistamines": ("Histamine Antagonists",), "ppis": ("Proton Pump Inhibitors",),
    "sglt2 inhibitors": ("Sodium-Glucose Transporter 2 Inhibitors",),
    "dpp-4 inhibitors": ("Dipeptidyl-Peptidase IV Inhibitors",), "sulfonylureas": ("Sulfonylurea Compounds",),
    "antivirals": ("Antiviral Agents",), "antiretrovirals": ("Anti-Retroviral Agents",),
    "anticholinergics": ("Cholinergic Antagonists",), "maois": ("Monoamine Oxidase Inhibitors",),
    "antihypertensives": ("Antihypertensive Agents",), "antifungals": ("Antifungal Agents",),
    "sedatives": ("Hypnotics and Sedatives",), "hypnotics": ("Hypnotics and Sedatives",),
    "stimulants": ("Central Nervous System Stimulants",),
}
# "Antiviral Agents": also "antiviral drugs", "antiviral medications", "antivirals"
_AGENTS = re.compile(r"^([A-Z][a-z-]+) Agents$")
# A coordinated descriptor, "Esophageal and Gastric Varices": each of its two heads with
# the shared rest is a name of it too ("esophageal varices", "gastric varices").
_COORDINATED = re.compile(r"^(?!Related |Other )([A-Z][a-z]+) and (?!Related |Other )([A-Z][a-z]+) "
                          r"([A-Z][a-z]+(?: [A-Z][a-z]+)*)$")


def _extra_keys(vocab: mesh.MeshVocabulary) -> dict[str, tuple[str, ...]]:
    """Term keys for `_PHRASES`, the halves of coordinated condition descriptors and the
    everyday forms of "... Agents" drug classes, where the term index has no key of its own."""
    extra: dict[str, tuple[str, ...]] = {}

    def add(phrase: str, name: str) -> None:
        key = mesh.term_key(phrase)
        if not vocab.names_for_key(key):
            extra.setdefault(key, (name,))

    names = {n for key in vocab.term_keys() for n in vocab.names_for_key(key) if " and " in n or n.endswith(" Agents")}
    for name in sorted(names):
        trees = vocab.tree_numbers(name)
        if (m := _COORDINATED.match(name)) and any(t.startswith(_CONDITION_TREES) for t in trees):
            add(f"{m.group(1)} {m.group(3)}", name)
            add(f"{m.group(2)} {m.group(3)}", name)
        elif (m := _AGENTS.match(name)) and any(t.startswith(_DRUG_TREES) for t in trees):
            for phrase in (m.group(1), f"{m.group(1)} drugs", f"{m.group(1)} medications"):
                add(phrase, name)
    for phrase, known in _PHRASES.items():
        key = mesh.term_key(phrase)
        known = tuple(n for n in known if vocab.tree_numbers(n))
        if known and not vocab.names_for_key(key):
            extra[key] = known
    return extra


class _Index:
    """The term keys and the token-pair index over them."""

    def __init__(self, vocab: mesh.MeshVocabulary):
        self.vocab = vocab
        self.extra = _extra_keys(vocab)
        self.tokens: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()
        for key in (*vocab.term_keys(), *self.extra):
            canon = sorted({_canon(t) for t in key.split(" ")})
            self.tokens.update(canon)
            for i, a in enumerate(canon):
                for b in canon[i + 1 :]:
                    self.pairs.add((a, b))


def _canon(tok: str) -> str:
    return "neoplasm" if tok == "carcinoma" else tok


@cache
def _index() -> _Index:
    return _Index(mesh.vocabulary())


class _Word:
    """What spotting needs of one written word, computed once per distinct word."""

    __slots__ = ("toks", "known", "alone", "low", "cue", "useful")

    def __init__(self, word: str, idx: _Index):
        self.low = word.lower()
        self.cue = _CUE_WORDS.get(self.low)
        self.toks = tuple(_canon(_american(t, idx.tokens)) for t in mesh.tokens(word))
        self.known = bool(self.toks) and all(t in idx.tokens for t in self.toks)
        alone: tuple[tuple[str, ...], str] = ((), "")
        if self.known and self.low not in _SMOKING_WORDS:
            alone = _names(tuple(sorted(self.toks)))
        if not alone[0]:
            abbrev = _ABBREVIATIONS.get(word.upper()) if word.isupper() and len(word) >= 2 else None
            abbrev = abbrev or _LAY.get(self.low) or None
            if abbrev:
                alone = ((abbrev,), "condition")
            elif is_drug_word(word):
                alone = ((), "drug")
        self.alone = alone
        # a word that can neither name a concept nor be part of a phrase ends a window
        self.useful = self.known or bool(alone[0]) or alone[1] == "drug"


_BRITISH = re.compile(r"(?<=[a-z])ae|^ae(?=[mt])|^oe|(?<=[a-z])oe(?=[adlmt])")


def _american(tok: str, known: set[str]) -> str:
    """MeSH's spelling of a British word (oesophageal, haemorrhage, anaemia, oedema,
    coeliac, paediatric), so that its phrases are MeSH's ("oesophageal varices")."""
    if "ae" not in tok and "oe" not in tok:
        return tok
    folded = _BRITISH.sub(lambda m: "e", tok)
    return folded if folded in known else tok


_WORDS: dict[str, _Word] = {}  # a cache of every distinct written word seen (bounded below)
_MAX_WORDS = 500_000


def _word(word: str) -> _Word:
    w = _WORDS.get(word)
    if w is None:
        if len(_WORDS) >= _MAX_WORDS:
            _WORDS.clear()
        w = _WORDS[word] = _Word(word, _index()) if word[0].isalnum() else _break(word)
    return w


@lru_cache(maxsize=100_000)
def _names(key_tokens: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """(descriptors, kind) a sorted tuple of canonical tokens names; ((), "") if none."""
    names, kind = _key_names(key_tokens)
    if kind in ("condition", "") and "adenocarcinoma" in key_tokens and len(key_tokens) > 1:
        # "gastric adenocarcinoma": an adenocarcinoma, and a gastric cancer (Stomach Neoplasms)
        organ, organ_kind = _key_names(tuple(sorted("neoplasm" if t == "adenocarcinoma" else t for t in key_tokens)))
        if organ_kind == "condition":
            return tuple(dict.fromkeys((*names, *organ))), "condition"
    return names, kind


# Words of a disease's course or degree, which some registry-derived terms file under a
# broader descriptor than the disease they name ("active rheumatoid arthritis": Arthritis)
_COURSE_TOKENS = frozenset({"active", "acute", "chronic", "current", "recurrent", "severe", "moderate", "mild",
                            "adult", "childhood", "early", "advanced"})


def _narrower_without_course(key: str, names: list[str]) -> list[str]:
    """The names of the key without its course words when every one of those is narrower
    than every one of the key's own ("rheumatoid arthritis" under "Arthritis")."""
    toks = key.split(" ")
    rest = [t for t in toks if t not in _COURSE_TOKENS]
    if len(rest) == len(toks) or not rest:
        return names
    vocab = _index().vocab
    narrower = vocab.names_for_key(" ".join(rest))
    if narrower and all(n not in names and set(names) & set(vocab.ancestors(n)) for n in narrower):
        return list(narrower)
    return names


def _key_names(key_tokens: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    vocab = _index().vocab
    keys = [" ".join(key_tokens)]
    if "neoplasm" in key_tokens:
        keys.append(" ".join(sorted("carcinoma" if t == "neoplasm" else t for t in key_tokens)))
    extra = _index().extra
    for key in keys:
        names = vocab.names_for_key(key) or list(extra.get(key, ()))
        if not names:
            continue
        names = _narrower_without_course(key, names)
        for kind, trees in (("condition", _CONDITION_TREES), ("drug", _DRUG_TREES),
                            ("procedure", _PROCEDURE_TREES)):
            chosen = tuple(n for n in names if n not in _TOO_GENERAL and _in_trees(n, trees))
            if kind == "drug":
                chosen = tuple(n for n in chosen if n not in _NOT_TREATMENTS and not _MOLECULE.search(n))
            elif kind == "procedure":
                chosen = tuple(n for n in chosen if n not in _NOT_PROCEDURES and not _in_trees(n, _DIAGNOSTIC_TREES))
            if chosen:
                return chosen, kind
    return (), ""


@lru_cache(maxsize=50_000)
def _in_trees(name: str, trees: tuple[str, ...]) -> bool:
    return any(tn.startswith(trees) for tn in _index().vocab.tree_numbers(name))


_WORD_OR_BREAK = re.compile(r"[^\W_]+(?:'s)?|[,.;:()\[\]{}/|!?\"]|\s-\s")


def _break(mark: str) -> _Word:
    w = _Word.__new__(_Word)
    w.toks, w.known, w.alone, w.useful, w.low = (), False, ((), ""), False, ""
    w.cue = "comma" if mark == "," else "stop" if mark[0] in _STOP_MARKS else "break"
    return w


def spot(text: str, kinds: tuple[str, ...] = ("condition", "drug", "procedure")) -> list[Mention]:
    """MeSH concepts the text names, left to right, longest phrase first at each place,
    each with the context cues before it."""
    out: list[Mention] = []
    segment: list[tuple[int, int, _Word]] = []
    ends: list[int] = []
    cues: list[str] = []
    prev = ""
    get = _WORDS.get
    find = text.find
    pairs = _index().pairs
    pos = 0
    for g in _WORD_OR_BREAK.findall(text):
        # findall's tokens come in order, and the characters between them hold no word
        # character, so each token starts at its first occurrence after the previous one
        start = find(g, pos)
        pos = start + len(g)
        w = get(g) or _word(g)
        cue = w.cue
        if w.toks or w.low:  # a word
            if prev in _PAIR_HEADS:
                cue = _CUE_PAIRS.get((prev, w.low), cue)
            if cue:
                ends.append(pos)
                cues.append(cue)
            prev = w.low
            if w.useful:
                segment.append((start, pos, w))
            elif w.toks and segment:
                _scan(segment, kinds, out, ends, cues, pairs)
                segment = []
            continue
        if segment:  # a break
            _scan(segment, kinds, out, ends, cues, pairs)
            segment = []
        prev = ""
        if cue != "break":
            ends.append(pos)
            cues.append(cue)
    if segment:
        _scan(segment, kinds, out, ends, cues, pairs)
    return out


def _pairs_ok(pairs: set[tuple[str, str]], window: list[str], toks: tuple[str, ...]) -> bool:
    """Whether every token of the window co-occurs with every new token in some term."""
    for b in toks:
        for a in window:
            if a != b and ((a, b) if a < b else (b, a)) not in pairs:
                return False
    return True


def _scan(words: list[tuple[int, int, _Word]], kinds: tuple[str, ...], out: list[Mention],
          ends: list[int], cues: list[str], pairs: set[tuple[str, str]]) -> None:
    n = len(words)
    i = 0
    while i < n:
        start, end, w = words[i]
        best_j = i
        names, kind = w.alone
        best = (names, kind) if (names or kind == "drug") and kind in kinds else None
        if w.known and i + 1 < n:
            window = list(w.toks)
            for j in range(i + 1, min(n, i + MAX_PHRASE)):
                nw = words[j][2]
                if not nw.known:
                    break
                if not _pairs_ok(pairs, window, nw.toks):
                    break
                window.extend(nw.toks)
                names, kind = _names(tuple(sorted(window)))
                if names and kind in kinds:
                    best, best_j = (names, kind), j
        if best is not None:
            out.append(Mention(start, words[best_j][1], best[0], best[1], _cues_before(ends, cues, start)))
            i = best_j + 1
        else:
            i += 1


# The class a drug belongs to, by the stem of its non-proprietary name or by name (MeSH
# files classes by pharmacological action, outside the trees): "atorvastatin" meets
# "statins", "prednisone" "corticosteroids". Only a patient's drug is given its class; a
# criterion naming one drug asks for that drug.
_CLASS_STEMS = (
    ("statin", "Hydroxymethylglutaryl-CoA Reductase Inhibitors"), ("olol", "Adrenergic beta-Antagonists"),
    ("pril", "Angiotensin-Converting Enzyme Inhibitors"), ("sartan", "Angiotensin Receptor Antagonists"),
    ("prazole", "Proton Pump Inhibitors"), ("tidine", "Histamine H2 Antagonists"),
    ("dipine", "Calcium Channel Blockers"), ("gliflozin", "Sodium-Glucose Transporter 2 Inhibitors"),
    ("gliptin", "Dipeptidyl-Peptidase IV Inhibitors"), ("azepam", "Benzodiazepines"), ("zolam", "Benzodiazepines"),
    ("profen", "Anti-Inflammatory Agents, Non-Steroidal"), ("fenac", "Anti-Inflammatory Agents, Non-Steroidal"),
    ("coxib", "Anti-Inflammatory Agents, Non-Steroidal"), ("floxacin", "Anti-Bacterial Agents"),
    ("cillin", "Anti-Bacterial Agents"), ("cycline", "Anti-Bacterial Agents"), ("dronate", "Diphosphonates"),
    ("parin", "Anticoagulants"), ("xaban", "Anticoagulants"), ("gatran", "Anticoagulants"),
    ("semide", "Diuretics"), ("thiazide", "Diuretics"),
)
_CLASS_MEMBERS = {
    "Anti-Inflammatory Agents, Non-Steroidal": ("aspirin", "naproxen", "indomethacin", "meloxicam", "ketorolac"),
    "Adrenal Cortex Hormones": ("prednisone", "prednisolone", "methylprednisolone", "dexamethasone", "hydrocortisone",
                                "budesonide", "fluticasone", "triamcinolone", "betamethasone", "cortisone"),
    "Analgesics, Opioid": ("morphine", "oxycodone", "hydrocodone", "fentanyl", "tramadol", "codeine", "methadone",
                           "buprenorphine", "hydromorphone", "tapentadol"),
    "Anticoagulants": ("warfarin", "heparin", "apixaban", "rivaroxaban", "dabigatran", "edoxaban", "enoxaparin"),
    "Platelet Aggregation Inhibitors": ("aspirin", "clopidogrel", "ticagrelor", "prasugrel", "dipyridamole"),
    "Hypoglycemic Agents": ("metformin", "insulin", "glipizide", "glyburide", "glimepiride", "sitagliptin",
                            "empagliflozin", "dapagliflozin", "liraglutide", "semaglutide", "pioglitazone"),
    "Immunosuppressive Agents": ("tacrolimus", "cyclosporine", "ciclosporin", "azathioprine", "mycophenolate",
                                 "sirolimus", "methotrexate", "everolimus"),
    "Antirheumatic Agents": ("methotrexate", "hydroxychloroquine", "sulfasalazine", "leflunomide"),
    "Serotonin Uptake Inhibitors": ("fluoxetine", "sertraline", "paroxetine", "citalopram", "escitalopram",
                                    "fluvoxamine"),
    "Antidepressive Agents": ("fluoxetine", "sertraline", "paroxetine", "citalopram", "escitalopram", "venlafaxine",
                              "duloxetine", "bupropion", "mirtazapine", "amitriptyline", "nortriptyline"),
    "Anti-Bacterial Agents": ("azithromycin", "clarithromycin", "vancomycin", "metronidazole", "trimethoprim",
                              "cephalexin", "ceftriaxone", "nitrofurantoin", "clindamycin", "gentamicin"),
}
_CLASS_BY_MEMBER: dict[str, list[str]] = {}
for _class, _members in _CLASS_MEMBERS.items():
    for _member in _members:
        _CLASS_BY_MEMBER.setdefault(_member, []).append(_class)


@lru_cache(maxsize=20_000)
def drug_classes(name: str) -> frozenset[str]:
    """The MeSH classes a drug (a non-proprietary name, any case) belongs to, lower case."""
    low = name.strip().lower()
    found = {c for stem, c in _CLASS_STEMS if low.endswith(stem) and len(low) > len(stem) + 2 and low not in _NOT_OF_STEM}
    found.update(_CLASS_BY_MEMBER.get(low, ()))
    return frozenset(c.lower() for c in found)


_NOT_OF_STEM = frozenset({"nystatin", "somatostatin", "pentostatin", "cilastatin", "ecallantide"})


@lru_cache(maxsize=100_000)
def is_drug_word(word: str) -> bool:
    """Whether a word has the shape of a drug's non-proprietary name (sorafenib, toripalimab)."""
    low = word.lower()
    return len(low) >= 6 and low.isalpha() and low not in _NOT_DRUGS and bool(_DRUG_STEM.match(low))

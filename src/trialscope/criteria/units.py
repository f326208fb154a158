"""Laboratory analytes, their units and the conversions between them.

One module for both sides of matching: criteria typing names the analyte and unit a
threshold is written in, patient-note reading names the analyte and unit of a value, and
assessment compares the two after `convert`ing the patient's value into the criterion's
unit. Multiples of the upper limit of normal (`×ULN`) convert through the reference upper
limits below where a typical adult range is well established; they are approximations,
so assessment says when a verdict rests on one.
"""

from __future__ import annotations

import re

# analyte -> (canonical unit, names people write, longest first in matching)
ANALYTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "hba1c": ("%", ("hemoglobin a1c", "haemoglobin a1c", "glycated hemoglobin", "glycated haemoglobin",
                    "glycosylated hemoglobin", "glycosylated haemoglobin", "hba1c", "hb a1c", "hgba1c", "a1c")),
    "platelets": ("×10^9/L", ("platelet count", "platelets", "platelet", "plt", "plts", "thrombocytes",
                             "thrombocyte count")),
    "anc": ("×10^9/L", ("absolute neutrophil count", "absolute granulocyte count", "neutrophil count",
                       "neutrophils", "neutrophil", "granulocytes", "granulocyte count", "anc", "agc")),
    "wbc": ("×10^9/L", ("white blood cell count", "white blood cells", "white blood cell", "white cell count",
                       "leukocyte count", "leukocytes", "leucocytes", "wbc", "wbcs")),
    "lymphocytes": ("×10^9/L", ("absolute lymphocyte count", "lymphocyte count", "lymphocytes", "alc")),
    "cd4": ("/µL", ("cd4+ t-cell count", "cd4+ count", "cd4 count", "cd4 cell count", "cd4+ cells",
                    "cd4 cells", "cd4+", "cd4")),
    "hemoglobin": ("g/L", ("hemoglobin", "haemoglobin", "hgb", "hb")),
    "bilirubin": ("µmol/L", ("total serum bilirubin", "serum total bilirubin", "total bilirubin",
                             "serum bilirubin", "bilirubin total", "bilirubin", "t-bil", "tbil", "tbili", "t bili")),
    "direct_bilirubin": ("µmol/L", ("direct bilirubin", "conjugated bilirubin", "dbil")),
    "alt": ("U/L", ("alanine aminotransferase", "alanine transaminase", "sgpt", "alt")),
    "ast": ("U/L", ("aspartate aminotransferase", "aspartate transaminase", "sgot", "ast")),
    "alp": ("U/L", ("alkaline phosphatase", "alk phos", "alp")),
    "ggt": ("U/L", ("gamma-glutamyl transferase", "gamma glutamyl transferase", "ggt")),
    "creatinine_clearance": ("mL/min", ("creatinine clearance", "crcl", "clcr", "cockcroft-gault")),
    "egfr": ("mL/min/1.73m²", ("estimated glomerular filtration rate", "glomerular filtration rate",
                               "egfr", "gfr")),
    "creatinine": ("µmol/L", ("serum creatinine", "creatinine", "creat", "scr", "cr")),
    "bun": ("mmol/L", ("blood urea nitrogen", "bun", "urea")),
    "albumin": ("g/L", ("serum albumin", "albumin", "alb")),
    "inr": ("", ("international normalized ratio", "international normalised ratio", "pt-inr", "pt/inr", "inr")),
    "aptt": ("s", ("activated partial thromboplastin time", "partial thromboplastin time", "aptt", "ptt")),
    "pt": ("s", ("prothrombin time", "pt")),
    "glucose": ("mmol/L", ("fasting plasma glucose", "fasting blood glucose", "fasting glucose", "blood glucose",
                           "plasma glucose", "glucose", "fpg", "fbg")),
    "ldl": ("mmol/L", ("ldl cholesterol", "ldl-c", "ldl")),
    "cholesterol": ("mmol/L", ("total cholesterol", "cholesterol")),
    "triglycerides": ("mmol/L", ("triglycerides", "triglyceride", "tg")),
    "potassium": ("mmol/L", ("potassium", "k+")),
    "sodium": ("mmol/L", ("sodium", "na+")),
    "calcium": ("mmol/L", ("corrected calcium", "serum calcium", "calcium")),
    "magnesium": ("mmol/L", ("magnesium", "mg2+")),
    "lvef": ("%", ("left ventricular ejection fraction", "ejection fraction", "lvef", "ef")),
    "qtc": ("ms", ("qtcf", "qtc interval", "qtc", "corrected qt interval")),
    "bmi": ("kg/m²", ("body mass index", "bmi")),
    "psa": ("ng/mL", ("prostate-specific antigen", "prostate specific antigen", "psa")),
    "afp": ("ng/mL", ("alpha-fetoprotein", "alpha fetoprotein", "α-fetoprotein", "afp")),
    "testosterone": ("nmol/L", ("serum testosterone", "testosterone")),
    "tsh": ("mIU/L", ("thyroid stimulating hormone", "thyroid-stimulating hormone", "tsh")),
    "lipase": ("U/L", ("lipase",)),
    "amylase": ("U/L", ("amylase",)),
    "ldh": ("U/L", ("lactate dehydrogenase", "ldh")),
    "uric_acid": ("µmol/L", ("uric acid",)),
    "fev1": ("%", ("fev1",)),
    "viral_load": ("copies/mL", ("viral load", "hiv rna", "hiv-1 rna")),
    "sbp": ("mmHg", ("systolic blood pressure", "systolic bp", "systolic", "sbp")),
    "dbp": ("mmHg", ("diastolic blood pressure", "diastolic bp", "diastolic", "dbp")),
    "spo2": ("%", ("oxygen saturation", "o2 saturation", "o2 sat", "o2 sats", "oxygen sat", "spo2", "sao2", "sp02",
                   "pulse oximetry", "peripheral oxygen saturation", "saturation of oxygen")),
    # clotting factor activity: "FVIII:C ≤ 1%", "factor VIII activity 40%", "FVIII:C = 0.37 IU/mL"
    "fviii": ("%", ("factor viii activity", "factor viii level", "factor viii:c", "factor viii", "fviii activity",
                    "fviii level", "fviii:c", "fviii", "fviiic")),
    "fix": ("%", ("factor ix activity", "factor ix level", "factor ix:c", "factor ix", "fix activity", "fix level",
                  "fix:c")),
    "respiratory_rate": ("/min", ("respiratory rate", "respiration rate", "respiratory frequency", "breathing rate",
                                  "rr")),
}

# How an analyte is named to a reader.
LABELS = {"hba1c": "HbA1c", "anc": "ANC", "wbc": "WBC", "cd4": "CD4 count", "alt": "ALT", "ast": "AST",
          "alp": "ALP", "ggt": "GGT", "inr": "INR", "aptt": "aPTT", "pt": "PT", "egfr": "eGFR",
          "creatinine_clearance": "creatinine clearance", "direct_bilirubin": "direct bilirubin", "bun": "BUN",
          "ldl": "LDL", "lvef": "LVEF", "qtc": "QTc", "bmi": "BMI", "psa": "PSA", "afp": "AFP", "tsh": "TSH",
          "ldh": "LDH", "fev1": "FEV1", "uric_acid": "uric acid", "viral_load": "viral load",
          "sbp": "systolic blood pressure", "dbp": "diastolic blood pressure", "spo2": "oxygen saturation",
          "respiratory_rate": "respiratory rate", "fviii": "factor VIII activity", "fix": "factor IX activity"}

# Names that are words as well ("Hb", "Cr", "PT", "ALT"): only matched in their written case.
CASE_SENSITIVE = frozenset({"hb", "cr", "pt", "alt", "ast", "alb", "ef", "tg", "k+", "na+", "alp", "ggt",
                            "scr", "urea", "creat", "gfr", "ptt", "psa", "afp", "tsh", "ldh", "bun", "plt",
                            "anc", "agc", "wbc", "alc", "inr", "bmi", "fpg", "fbg", "ldl", "crcl", "clcr",
                            "sbp", "dbp", "rr"})

# Reference upper limits of normal (adult), in canonical units: for ×ULN conversions only.
REFERENCE_ULN: dict[str, float] = {
    "alt": 40.0, "ast": 40.0, "alp": 120.0, "ggt": 60.0, "bilirubin": 21.0, "direct_bilirubin": 5.0,
    "creatinine": 106.0, "lipase": 60.0, "amylase": 100.0, "ldh": 250.0, "aptt": 35.0, "pt": 13.5,
    "inr": 1.2, "uric_acid": 420.0, "tsh": 4.5,
}
# Reference lower limits of normal, for ×LLN.
REFERENCE_LLN: dict[str, float] = {"albumin": 35.0, "hemoglobin": 120.0, "platelets": 150.0, "anc": 1.8,
                                   "wbc": 4.0, "lvef": 50.0}

# How many canonical units one written unit is, per analyte (mass -> molar factors).
_MOLAR: dict[str, dict[str, float]] = {
    "bilirubin": {"mg/dL": 17.104, "mg/L": 1.7104, "µmol/L": 1.0, "mmol/L": 1000.0},
    "direct_bilirubin": {"mg/dL": 17.104, "mg/L": 1.7104, "µmol/L": 1.0},
    "creatinine": {"mg/dL": 88.42, "mg/L": 8.842, "µmol/L": 1.0, "mmol/L": 1000.0},
    "uric_acid": {"mg/dL": 59.48, "µmol/L": 1.0, "mmol/L": 1000.0},
    "hemoglobin": {"g/dL": 10.0, "g/L": 1.0, "mg/dL": 0.01, "mmol/L": 16.114, "g/100mL": 10.0},
    "albumin": {"g/dL": 10.0, "g/L": 1.0, "mg/dL": 0.01},
    "glucose": {"mg/dL": 1 / 18.016, "mmol/L": 1.0, "mg/L": 1 / 180.16},
    "ldl": {"mg/dL": 1 / 38.67, "mmol/L": 1.0},
    "cholesterol": {"mg/dL": 1 / 38.67, "mmol/L": 1.0},
    "triglycerides": {"mg/dL": 1 / 88.57, "mmol/L": 1.0},
    "calcium": {"mg/dL": 0.2495, "mmol/L": 1.0, "mEq/L": 0.5},
    "magnesium": {"mg/dL": 0.4114, "mmol/L": 1.0, "mEq/L": 0.5},
    "potassium": {"mmol/L": 1.0, "mEq/L": 1.0},
    "sodium": {"mmol/L": 1.0, "mEq/L": 1.0},
    "bun": {"mg/dL": 0.357, "mmol/L": 1.0},
    "testosterone": {"ng/dL": 1 / 28.84, "ng/mL": 100 / 28.84, "nmol/L": 1.0},  # 1 ng/mL = 100 ng/dL
    "afp": {"ng/mL": 1.0, "µg/L": 1.0, "IU/mL": 1.21},
    "psa": {"ng/mL": 1.0, "µg/L": 1.0},
    "fviii": {"%": 1.0, "IU/mL": 100.0, "IU/dL": 1.0},  # 1 IU/mL is a normal plasma's activity, 100%
    "fix": {"%": 1.0, "IU/mL": 100.0, "IU/dL": 1.0},
}
# Analytes whose threshold must carry its unit to be one: "FVIII ≤ 1%", not "FVIII concentrate
# for at least 150 exposure days"
UNIT_REQUIRED = frozenset({"fviii", "fix"})
# Cell counts: per µL (= per mm³) and multiples of 10^n per L or per µL.
_COUNT = {"×10^9/L": 1.0, "/µL": 0.001, "×10^3/µL": 1.0, "×10^4/µL": 10.0, "×10^5/µL": 100.0,
          "×10^6/L": 0.001, "×10^12/L": 1000.0, "×10^10/L": 10.0, "×10^11/L": 100.0}
_COUNTED = {"platelets", "anc", "wbc", "lymphocytes"}

_UNIT_FORMS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^(?:x|×|\*)?\s*(?:the\s+)?(?:institutional\s+|site\s+|local\s+)?(?:laboratory\s+|lab\s+)?"
                r"(?:uln|upper\s+limits?(?:\s+of\s+(?:the\s+)?(?:institutional\s+)?(?:normal|reference)(?:\s+range)?)?"
                r"|upper\s+normal\s+limits?|ulrr|nl|normal(?:\s+values?)?)$", re.I), "×ULN"),
    (re.compile(r"^(?:x|×|\*)?\s*(?:the\s+)?(?:lln|lower\s+limits?\s+of\s+normal)$", re.I), "×LLN"),
    (re.compile(r"^(?:x|×|\*)?\s*10\s*(?:\^|e|\*\*)?\s*9\s*/\s*l$|^(?:g|giga)/l$|^bil/l$|^10\^9/l$", re.I), "×10^9/L"),
    (re.compile(r"^(?:x|×|\*)?\s*10\s*(?:\^|e|\*\*)?\s*12\s*/\s*l$|^t/l$", re.I), "×10^12/L"),
    (re.compile(r"^(?:x|×|\*)?\s*10\s*(?:\^|e|\*\*)?\s*6\s*/\s*l$", re.I), "×10^6/L"),
    (re.compile(r"^(?:x|×|\*)?\s*10\s*(?:\^|e|\*\*)?\s*(10|11)\s*/\s*l$", re.I), "×10^{0}/L"),
    (re.compile(r"^(?:x|×|\*)?\s*10\s*(?:\^|e|\*\*)?\s*([345])\s*/\s*(?:µl|ul|mcl|mm\^?3|mm³|cumm|cmm)$", re.I),
     "×10^{0}/µL"),
    (re.compile(r"^(?:x|×|\*)?\s*(?:10\^?3|10e3|k|thousand)\s*/?\s*(?:µl|ul|mcl|mm\^?3|mm³|cumm)?$", re.I),
     "×10^3/µL"),
    (re.compile(r"^(?:cells?\s*)?(?:/|per\s*)\s*(?:µl|ul|mcl|mm\^?3|mm³|cu\.?\s?mm|cmm|microliter|cubic\s+mm)$"
                r"|^cells?/(?:µl|ul|mm\^?3|mm³)$|^/mm$", re.I), "/µL"),
    (re.compile(r"^(?:µ|u|micro|mc)mol(?:e)?s?\s*/\s*l(?:iter|itre)?$|^umul/l$|^µm$|^um/l$", re.I), "µmol/L"),
    (re.compile(r"^mmol\s*/\s*mol$", re.I), "mmol/mol"),
    (re.compile(r"^mmol\s*/\s*l$|^mm$", re.I), "mmol/L"),
    (re.compile(r"^nmol\s*/\s*l$", re.I), "nmol/L"),
    (re.compile(r"^meq\s*/\s*l$", re.I), "mEq/L"),
    (re.compile(r"^mg\s*/\s*(?:dl|100\s*ml|deciliter)$|^mg%$", re.I), "mg/dL"),
    (re.compile(r"^mg\s*/\s*l$", re.I), "mg/L"),
    (re.compile(r"^g\s*/\s*(?:dl|100\s*ml)$|^gm?/dl$|^gm?%$", re.I), "g/dL"),
    (re.compile(r"^g\s*/\s*l$|^gm?/l$", re.I), "g/L"),
    (re.compile(r"^ng\s*/\s*dl$", re.I), "ng/dL"),
    (re.compile(r"^(?:ng\s*/\s*ml|µg\s*/\s*l|ug\s*/\s*l|mcg\s*/\s*l)$", re.I), "ng/mL"),
    (re.compile(r"^(?:iu|u|units?)\s*/\s*l$|^iu/l$|^u/l$", re.I), "U/L"),
    (re.compile(r"^(?:iu|u|units?)\s*/\s*dl$", re.I), "IU/dL"),
    (re.compile(r"^(?:iu|u|units?)\s*/\s*ml$", re.I), "IU/mL"),
    (re.compile(r"^(?:m?iu|mu)\s*/\s*(?:l|ml)$", re.I), "mIU/L"),
    (re.compile(r"^ml\s*/\s*min(?:ute)?\s*/\s*1[.,]73\s*(?:m2|m\^2|m²|sq\.?\s*m|square\s+meters?)$|"
                r"^ml/min/1\.73$", re.I), "mL/min/1.73m²"),
    (re.compile(r"^(?:ml|cc)\s*/\s*min(?:ute)?$", re.I), "mL/min"),
    (re.compile(r"^kg\s*/\s*(?:m2|m\^2|m²|sq\.?\s*m)$", re.I), "kg/m²"),
    (re.compile(r"^(?:copies|cp)\s*/\s*ml$", re.I), "copies/mL"),
    (re.compile(r"^(?:ms|msec|milliseconds?)$", re.I), "ms"),
    (re.compile(r"^(?:s|sec|secs|seconds?)$", re.I), "s"),
    (re.compile(r"^%$|^percent$|^per\s*cent$", re.I), "%"),
    (re.compile(r"^mm\s*hg$", re.I), "mmHg"),
    (re.compile(r"^(?:breaths?\s*)?(?:/|per\s*)\s*min(?:ute)?$|^(?:breaths?\s*)?/\s*mn$", re.I), "/min"),
]

# What unit the words after a number can be (for the typing and reading regexes).
UNIT = (
    r"(?:(?:x|×|\*)\s*10\s*(?:\^|e|\*\*)?\s*(?:9|12|6|10|11|3|4|5)\s*/\s*(?:l|µl|ul|mcl|mm\^?3|mm³|cumm|cmm)"
    r"|(?:x|×|\*|times)?\s*(?:the\s+)?(?:institutional\s+|site\s+|local\s+)?(?:laboratory\s+|lab\s+)?"
    r"(?:uln|upper\s+limits?(?:\s+of\s+(?:the\s+)?(?:institutional\s+)?(?:normal|reference)(?:\s+range)?)?"
    r"|upper\s+normal\s+limits?|ulrr|lln|lower\s+limits?\s+of\s+normal)"
    r"|(?:x|×|\*|times)\s*(?:the\s+)?(?:normal|nl)\b"
    r"|ml\s*/\s*min(?:ute)?\s*/\s*1[.,]73\s*(?:m2|m\^2|m²|sq\.?\s*m)|(?:ml|cc)\s*/\s*min(?:ute)?"
    r"|(?:µ|u|micro|mc)mol(?:e)?s?\s*/\s*l|umul/l|mmol\s*/\s*mol|mmol\s*/\s*l|nmol\s*/\s*l|meq\s*/\s*l"
    r"|mg\s*/\s*(?:dl|100\s*ml|l)|mg%|gm?\s*/\s*(?:dl|l|100\s*ml)|gm?%|ng\s*/\s*(?:dl|ml)|(?:µg|ug|mcg)\s*/\s*l"
    r"|(?:m?iu|u|units?|mu)\s*/\s*(?:dl|l|ml)|(?:cells?\s*)?/\s*(?:µl|ul|mcl|mm\^?3|mm³|cu\.?\s?mm|cmm)"
    r"|cells?/(?:µl|ul|mm\^?3|mm³)|(?:g|giga|t)/l|kg\s*/\s*(?:m2|m\^2|m²)|(?:copies|cp)\s*/\s*ml"
    r"|msec|ms|seconds?|secs?|%|k/(?:µl|ul)|mm\s*hg|(?:breaths?\s*)?(?:/|per\s+)\s*min(?:ute)?\b|k(?![a-z]))"
)


def normalize_unit(text: str | None, analyte: str = "") -> str:
    """One spelling of a written unit: "umol/l", "μmol/L" -> "µmol/L"; "x10E9/L", "G/L" ->
    "×10^9/L"; "/mm3", "cells/µl" -> "/µL"; "times the upper limit of normal" -> "×ULN".
    "g/l" is grams per litre, except for cell counts, where it is giga per litre. An
    unrecognised unit comes back stripped; "" for none."""
    if not text:
        return ""
    if re.fullmatch(r"\s*g\s*/\s*l\s*", text, re.I):
        return "×10^9/L" if analyte in _COUNTED or (not analyte and text.strip()[0] == "G") else "g/L"
    t = re.sub(r"\s+", " ", text.replace("μ", "µ").replace("³", "3").replace("²", "2")).strip(" .,;")
    t = re.sub(r"^times\s+", "×", t, flags=re.I)
    for pattern, unit in _UNIT_FORMS:
        m = pattern.match(t)
        if m:
            return unit.format(*m.groups()) if "{0}" in unit else unit
    return t


def canonical_unit(analyte: str) -> str:
    return ANALYTES[analyte][0] if analyte in ANALYTES else ""


def convert(analyte: str, value: float, unit: str, to_unit: str) -> float | None:
    """`value` `unit` of `analyte` in `to_unit`; None when no conversion is known.

    Units are `normalize_unit` spellings; "" means "as the analyte is usually written" and
    is resolved by `infer_unit`.
    """
    if unit == to_unit:
        return value
    unit = unit or infer_unit(analyte, value)
    to_unit = to_unit or canonical_unit(analyte)
    if unit == to_unit:
        return value
    base = _to_canonical(analyte, value, unit)
    if base is None:
        return None
    return _from_canonical(analyte, base, to_unit)


def _to_canonical(analyte: str, value: float, unit: str) -> float | None:
    canon = canonical_unit(analyte)
    if unit == canon:
        return value
    if unit == "×ULN":
        uln = REFERENCE_ULN.get(analyte)
        return value * uln if uln is not None else None
    if unit == "×LLN":
        lln = REFERENCE_LLN.get(analyte)
        return value * lln if lln is not None else None
    if analyte in _COUNTED or analyte == "cd4":
        factor = _COUNT.get(unit)
        if factor is None:
            return None
        per_l9 = value * factor
        return per_l9 * 1000.0 if analyte == "cd4" else per_l9
    if analyte == "hba1c" and unit == "mmol/mol":
        return value / 10.929 + 2.15
    if analyte in ("egfr", "creatinine_clearance") and unit in ("mL/min", "mL/min/1.73m²"):
        return value
    factor = _MOLAR.get(analyte, {}).get(unit)
    return value * factor if factor is not None else None


def _from_canonical(analyte: str, value: float, unit: str) -> float | None:
    one = _to_canonical(analyte, 1.0, unit)
    if not one:
        if analyte == "hba1c" and unit == "mmol/mol":
            return (value - 2.15) * 10.929
        return None
    if analyte == "hba1c" and unit == "mmol/mol":
        return (value - 2.15) * 10.929
    return value / one


def infer_unit(analyte: str, value: float) -> str:
    """The unit a bare number most likely has ("platelets 90,000" is per µL, "platelets 90"
    is ×10^9/L; "creatinine 1.2" is mg/dL, "creatinine 106" µmol/L)."""
    if analyte in _COUNTED:
        return "/µL" if value >= 500 else "×10^9/L"
    if analyte == "cd4":
        return "/µL"
    if analyte == "hemoglobin":
        return "g/dL" if value < 25 else "g/L"
    if analyte == "albumin":
        return "g/dL" if value < 10 else "g/L"
    if analyte in ("bilirubin", "direct_bilirubin"):
        return "mg/dL" if value < 10 else "µmol/L"
    if analyte == "creatinine":
        return "mg/dL" if value < 15 else "µmol/L"
    if analyte == "glucose":
        return "mg/dL" if value > 35 else "mmol/L"
    if analyte in ("ldl", "cholesterol", "triglycerides"):
        return "mg/dL" if value > 25 else "mmol/L"
    if analyte == "calcium":
        return "mg/dL" if value > 4 else "mmol/L"
    if analyte == "hba1c":
        return "mmol/mol" if value > 20 else "%"
    if analyte == "testosterone":
        return "ng/dL" if value > 60 else "nmol/L"
    if analyte == "bun":
        return "mg/dL" if value > 15 else "mmol/L"
    return canonical_unit(analyte)

"""Units: one spelling each, and conversions between them."""

from __future__ import annotations

import pytest

from trialscope.criteria.units import convert, infer_unit, normalize_unit


@pytest.mark.parametrize("written, unit", [
    ("umol/l", "µmol/L"), ("μmol/L", "µmol/L"), ("umul/L", "µmol/L"), ("micromol/L", "µmol/L"),
    ("x10E9/L", "×10^9/L"), ("× 10^9/l", "×10^9/L"), ("*10^9/L", "×10^9/L"), ("G/L", "×10^9/L"),
    ("/mm3", "/µL"), ("/mm^3", "/µL"), ("cells/µl", "/µL"), ("/cumm", "/µL"),
    ("x 10^3/µL", "×10^3/µL"), ("K/uL", "×10^3/µL"),
    ("mg/dl", "mg/dL"), ("g/dl", "g/dL"), ("g/L", "g/L"), ("mmol/mol", "mmol/mol"),
    ("times the upper limit of normal", "×ULN"), ("x ULN", "×ULN"), ("× institutional ULN", "×ULN"),
    ("mL/min/1.73 m2", "mL/min/1.73m²"), ("ml/min", "mL/min"), ("kg/m2", "kg/m²"), ("IU/L", "U/L"),
])
def test_normalize_unit(written, unit):
    assert normalize_unit(written) == unit


def test_g_per_litre_is_grams_except_for_counts():
    assert normalize_unit("g/L", "hemoglobin") == "g/L"
    assert normalize_unit("g/l", "platelets") == "×10^9/L"


@pytest.mark.parametrize("analyte, value, unit, to, expected", [
    ("bilirubin", 1.0, "mg/dL", "µmol/L", 17.1),
    ("bilirubin", 51.0, "µmol/L", "mg/dL", 2.98),
    ("creatinine", 1.0, "mg/dL", "µmol/L", 88.4),
    ("creatinine", 145.5, "µmol/L", "mg/dL", 1.65),
    ("hemoglobin", 9.0, "g/dL", "g/L", 90.0),
    ("hemoglobin", 90.0, "g/L", "g/dL", 9.0),
    ("platelets", 100000, "/µL", "×10^9/L", 100.0),
    ("platelets", 50, "×10^9/L", "/µL", 50000.0),
    ("platelets", 150, "×10^3/µL", "×10^9/L", 150.0),
    ("anc", 1.5, "×10^9/L", "/µL", 1500.0),
    ("glucose", 126, "mg/dL", "mmol/L", 6.99),
    ("hba1c", 53, "mmol/mol", "%", 7.0),
    ("hba1c", 7.0, "%", "mmol/mol", 53.0),
    ("albumin", 3.5, "g/dL", "g/L", 35.0),
    ("alt", 100, "U/L", "×ULN", 2.5),
    ("bilirubin", 1.5, "×ULN", "µmol/L", 31.5),
])
def test_convert(analyte, value, unit, to, expected):
    assert convert(analyte, value, unit, to) == pytest.approx(expected, rel=0.01)


def test_convert_unknown():
    assert convert("inr", 1.2, "mg/dL", "") is None
    assert convert("creatinine", 1.2, "×ULN", "mg/dL") == pytest.approx(1.2 * 106 / 88.42, rel=0.01)
    assert convert("lvef", 50, "×ULN", "%") is None


def test_bare_numbers_take_the_usual_unit():
    assert infer_unit("platelets", 90000) == "/µL"
    assert infer_unit("platelets", 90) == "×10^9/L"
    assert infer_unit("creatinine", 1.2) == "mg/dL"
    assert infer_unit("creatinine", 106) == "µmol/L"
    assert infer_unit("hemoglobin", 10.5) == "g/dL"


def test_clotting_factor_units():
    assert normalize_unit("IU/mL") == "IU/mL" and normalize_unit("U/ml") == "IU/mL"
    assert normalize_unit("IU/dL") == "IU/dL"
    assert convert("fviii", 0.37, "IU/mL", "%") == pytest.approx(37.0)
    assert convert("fviii", 40.0, "%", "IU/dL") == pytest.approx(40.0)

"""What a posted spread means (SD, SE, a confidence interval, a range), read from the v2
enums and the older words alike, so tables and charts can say what their whiskers are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .values import as_text, humanize


@dataclass(frozen=True, slots=True)
class Dispersion:
    kind: str  # sd, se, ci, iqr, range, other, "" (none)
    label: str  # "standard deviation", "95% confidence interval"
    short: str  # "SD", "95% CI"

    @property
    def symmetric(self) -> bool:
        return self.kind in ("sd", "se")


NO_DISPERSION = Dispersion("", "", "")


def dispersion_of(value: Any) -> Dispersion:
    """Both the v2 enums (STANDARD_DEVIATION, CONFIDENCE_95) and the older words
    ("Standard Deviation", "95% Confidence Interval") a record may carry."""
    raw = as_text(value)
    if not raw:
        return NO_DISPERSION
    key = re.sub(r"[^A-Z0-9]+", "_", raw.upper()).strip("_")
    if key == "NA" or key == "NONE":
        return NO_DISPERSION
    if key.startswith("STANDARD_DEVIATION"):
        return Dispersion("sd", "standard deviation", "SD")
    if key.startswith("STANDARD_ERROR"):
        return Dispersion("se", "standard error", "SE")
    if "CONFIDENCE" in key:
        digits = re.findall(r"\d+", key)
        level = ""
        if digits:
            d = digits[0]
            level = d if len(d) <= 2 else f"{d[:2]}.{d[2:]}"
        lab = f"{level}% confidence interval" if level else "confidence interval"
        return Dispersion("ci", lab, f"{level}% CI" if level else "CI")
    if "QUARTILE" in key:
        return Dispersion("iqr", "inter-quartile range", "IQR")
    if key == "FULL_RANGE" or key == "RANGE":
        return Dispersion("range", "full range (min to max)", "range")
    if key.startswith("GEOMETRIC_COEFFICIENT"):
        return Dispersion("other", "geometric coefficient of variation", "geometric CV")
    lab = humanize(raw).lower() if "_" in raw else raw
    return Dispersion("other", lab, lab)

"""eligibilityModule: criteria, sex, ages (with v2's derived age groups), healthy volunteers,
study population and sampling."""

from __future__ import annotations

from ...normalize import age_days, years_to_days
from .builder import Builder, Element, as_data, leaf_text
from .enums import HEALTHY, SAMPLING, SEX
from .handlers import Handlers


def std_ages(minimum: str | None, maximum: str | None) -> list[str]:
    """v2's derived age groups: CHILD (<18 y), ADULT (18-64 y), OLDER_ADULT (>=65 y)."""
    try:
        low = age_days(minimum) or 0.0
        high = age_days(maximum)
    except ValueError:
        return []
    groups = []
    if low < years_to_days(18):
        groups.append("CHILD")
    if low < years_to_days(65) and (high is None or high >= years_to_days(18)):
        groups.append("ADULT")
    if high is None or high >= years_to_days(65):
        groups.append("OLDER_ADULT")
    return groups


HANDLERS = Handlers()


@HANDLERS.on("eligibility")
def _eligibility(b: Builder, el: Element) -> None:
    mod = b.mod("eligibilityModule")
    for child in el:
        tag = child.tag
        path = f"eligibility/{tag}"
        if tag == "criteria":
            mod["eligibilityCriteria"] = b.block(child, path)
        elif tag == "gender":
            b.put_enum(mod, "sex", path, leaf_text(child), SEX)
        elif tag == "gender_based":
            b.put_flag(mod, "genderBased", path, leaf_text(child))
        elif tag == "gender_description":
            mod["genderDescription"] = leaf_text(child)
        elif tag in ("minimum_age", "maximum_age"):
            text = leaf_text(child)
            try:
                limited = age_days(text) is not None
            except ValueError:
                b.keep(path, text)
                continue
            if limited:
                mod["minimumAge" if tag == "minimum_age" else "maximumAge"] = text
        elif tag == "healthy_volunteers":
            b.put_flag(mod, "healthyVolunteers", path, leaf_text(child), HEALTHY)
        elif tag == "study_pop":
            mod["studyPopulation"] = b.block(child, path)
        elif tag == "sampling_method":
            b.put_enum(mod, "samplingMethod", path, leaf_text(child), SAMPLING)
        elif isinstance(tag, str):
            b.keep(path, as_data(child))
    ages = std_ages(mod.get("minimumAge"), mod.get("maximumAge"))
    if ages:
        mod["stdAges"] = ages

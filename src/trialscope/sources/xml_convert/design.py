"""designModule: study type, phases, design info (allocation, model, masking, from both the
structured and the pre-2017 one-line form), biospecimens, enrollment, expanded access."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .builder import Builder, Element, as_data, leaf_text
from .enums import (
    ALLOCATION,
    DATE_TYPE,
    INTERVENTION_MODEL,
    MASKING,
    OBSERVATIONAL_MODEL,
    PHASE,
    PRIMARY_PURPOSE,
    RETENTION,
    STUDY_TYPE,
    TIME_PERSPECTIVE,
    WHO_MASKED,
)
from .handlers import Handlers
from .text import markdown

_DESIGN_INFO: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "allocation": ("allocation", ALLOCATION),
    "intervention_model": ("interventionModel", INTERVENTION_MODEL),
    "primary_purpose": ("primaryPurpose", PRIMARY_PURPOSE),
    "observational_model": ("observationalModel", OBSERVATIONAL_MODEL),
    "time_perspective": ("timePerspective", TIME_PERSPECTIVE),
}
_MASKING = re.compile(r"^\s*([^()]*?)\s*(?:\((.*)\))?\s*$")


def _masking(b: Builder, info: dict[str, Any], path: str, text: str) -> None:
    """`Double (Participant, Investigator)` -> masking DOUBLE, whoMasked [...]."""
    m = _MASKING.match(text)
    level = MASKING(m.group(1)) if m else None
    if level is None:
        b.keep(path, text)
        return
    masking = info.setdefault("maskingInfo", {})
    masking["masking"] = level
    if level != "NONE" and m and m.group(2):
        who = [WHO_MASKED(w.strip()) for w in m.group(2).split(",")]
        if None in who:
            b.keep(path, text)
        else:
            masking["whoMasked"] = who


_OLD_DESIGN = re.compile(
    r"(Allocation|Endpoint Classification|Intervention Model|Masking|Primary Purpose|"
    r"Observational Model|Time Perspective):\s*"
)


def _old_study_design(b: Builder, text: str) -> None:
    """The pre-2017 one-line `study_design` (`Allocation: Randomized, Masking: ...`)."""
    b.keep("study_design", text)
    parts = _OLD_DESIGN.split(text)
    info = b.mod("designModule").setdefault("designInfo", {})
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        value = value.strip().rstrip(",").strip()
        if key == "Masking":
            m = _MASKING.match(value)
            level = MASKING(m.group(1)) if m else None
            if level is not None:
                masking = info.setdefault("maskingInfo", {})
                masking["masking"] = level
                who = [WHO_MASKED(w.strip()) for w in (m.group(2) or "").split(",") if w.strip()]
                if who and None not in who:
                    masking["whoMasked"] = who
            continue
        field = {
            "Allocation": ("allocation", ALLOCATION),
            "Intervention Model": ("interventionModel", INTERVENTION_MODEL),
            "Primary Purpose": ("primaryPurpose", PRIMARY_PURPOSE),
            "Observational Model": ("observationalModel", OBSERVATIONAL_MODEL),
            "Time Perspective": ("timePerspective", TIME_PERSPECTIVE),
        }.get(key)
        if field:
            converted = field[1](value)
            if converted is not None:
                info[field[0]] = converted
    if not info:
        del b.mod("designModule")["designInfo"]


HANDLERS = Handlers()

HANDLERS.simple("target_duration", "designModule", "targetDuration")


@HANDLERS.on("expanded_access_info")
def _expanded_access_info(b: Builder, el: Element) -> None:
    types = {}
    for child in el:
        if isinstance(child.tag, str):
            b.put_flag(types, child.tag.removeprefix("expanded_access_type_"),
                       f"expanded_access_info/{child.tag}", leaf_text(child))
    if types:
        b.mod("designModule")["expandedAccessTypes"] = types


@HANDLERS.on("phase")
def _phase(b: Builder, el: Element) -> None:
    text = leaf_text(el)
    phases = [PHASE(text)] if text == "N/A" else [PHASE(p.strip()) for p in text.split("/")]
    if None in phases:
        b.keep("phase", text)
    else:
        b.mod("designModule")["phases"] = phases


@HANDLERS.on("study_type")
def _study_type(b: Builder, el: Element) -> None:
    text = leaf_text(el)
    registry = text.endswith("[Patient Registry]")
    value = b.enum("study_type", text.removesuffix("[Patient Registry]").strip(), STUDY_TYPE)
    if value:
        design = b.mod("designModule")
        design["studyType"] = value
        if registry:
            design["patientRegistry"] = True


@HANDLERS.on("study_design_info")
def _study_design_info(b: Builder, el: Element) -> None:
    info = b.mod("designModule").setdefault("designInfo", {})
    for child in el:
        tag = child.tag
        path = f"study_design_info/{tag}"
        if tag == "masking":
            _masking(b, info, path, leaf_text(child))
        elif tag == "masking_description":
            info.setdefault("maskingInfo", {})["maskingDescription"] = markdown(child.text or "")
        elif tag == "intervention_model_description":
            info["interventionModelDescription"] = markdown(child.text or "")
        elif tag in _DESIGN_INFO:
            key, convert = _DESIGN_INFO[tag]
            b.put_enum(info, key, path, leaf_text(child), convert)
        elif isinstance(tag, str):
            b.keep(path, as_data(child))


@HANDLERS.on("study_design")
def _study_design(b: Builder, el: Element) -> None:
    _old_study_design(b, leaf_text(el))


@HANDLERS.on("biospec_retention")
def _biospec_retention(b: Builder, el: Element) -> None:
    value = b.enum(el.tag, leaf_text(el), RETENTION)
    if value:
        b.mod("designModule").setdefault("bioSpec", {})["retention"] = value


@HANDLERS.on("biospec_descr")
def _biospec_descr(b: Builder, el: Element) -> None:
    b.mod("designModule").setdefault("bioSpec", {})["description"] = b.block(el, el.tag)


@HANDLERS.on("enrollment")
def _enrollment(b: Builder, el: Element) -> None:
    text = leaf_text(el)
    if not text.isdigit():
        b.keep("enrollment", as_data(el))
        return
    info: dict[str, Any] = {"count": int(text)}
    kind = el.get("type")
    if kind in DATE_TYPE:
        info["type"] = DATE_TYPE[kind]
    elif kind is not None:
        b.keep("enrollment/@type", kind)
    b.mod("designModule")["enrollmentInfo"] = info

"""armsInterventionsModule: arm groups and interventions, each arm listing its interventions
as v2 does (`Drug: Toripalimab`)."""

from __future__ import annotations

from typing import Any

from .builder import Builder, Element, as_data, leaf_text
from .enums import ARM_TYPE, INTERVENTION_TYPE
from .handlers import Handlers
from .text import markdown

HANDLERS = Handlers()


@HANDLERS.on("arm_group")
def _arm_group(b: Builder, el: Element) -> None:
    path = b.index("arm_group")
    arm: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        if tag == "arm_group_label":
            arm["label"] = leaf_text(child)
        elif tag == "arm_group_type":
            b.put_enum(arm, "type", f"{path}/arm_group_type", leaf_text(child), ARM_TYPE)
        elif tag == "description":
            arm["description"] = markdown(child.text or "")
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", as_data(child))
    b.arms.append(arm)


@HANDLERS.on("intervention")
def _intervention(b: Builder, el: Element) -> None:
    path = b.index("intervention")
    item: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        if tag == "intervention_type":
            b.put_enum(item, "type", f"{path}/intervention_type", leaf_text(child),
                       INTERVENTION_TYPE)
        elif tag == "intervention_name":
            item["name"] = leaf_text(child)
        elif tag == "description":
            item["description"] = markdown(child.text or "")
        elif tag == "arm_group_label":
            item.setdefault("armGroupLabels", []).append(leaf_text(child))
        elif tag == "other_name":
            item.setdefault("otherNames", []).append(leaf_text(child))
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", as_data(child))
    b.interventions.append(item)


def link_arms(arms: list[dict[str, Any]], interventions: list[dict[str, Any]]) -> None:
    """v2 lists each arm's interventions as `Type: Name` (`Drug: Toripalimab`)."""
    by_label = {arm.get("label"): arm for arm in arms}
    for item in interventions:
        kind = item.get("type")
        name = item.get("name", "")
        display = f"{_TYPE_DISPLAY.get(kind, kind)}: {name}" if kind else name
        for label in item.get("armGroupLabels", ()):
            arm = by_label.get(label)
            if arm is not None:
                arm.setdefault("interventionNames", []).append(display)


_TYPE_DISPLAY = {
    "BEHAVIORAL": "Behavioral", "BIOLOGICAL": "Biological", "COMBINATION_PRODUCT": "Combination Product",
    "DEVICE": "Device", "DIAGNOSTIC_TEST": "Diagnostic Test", "DIETARY_SUPPLEMENT": "Dietary Supplement",
    "DRUG": "Drug", "GENETIC": "Genetic", "PROCEDURE": "Procedure", "RADIATION": "Radiation", "OTHER": "Other",
}

"""outcomesModule: primary, secondary and other outcome measures as registered."""

from __future__ import annotations

from .builder import Builder, Element, as_data, leaf_text
from .handlers import Handlers
from .text import markdown


def _outcome(el: Element, b: Builder, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag == "measure":
            out["measure"] = leaf_text(child)
        elif tag == "description":
            out["description"] = markdown(child.text or "")
        elif tag == "time_frame":
            out["timeFrame"] = leaf_text(child)
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", as_data(child))
    return out


_OUTCOME_KEYS = {
    "primary_outcome": "primaryOutcomes", "secondary_outcome": "secondaryOutcomes", "other_outcome": "otherOutcomes",
}


HANDLERS = Handlers()


@HANDLERS.on(*_OUTCOME_KEYS)
def _outcomes(b: Builder, el: Element) -> None:
    b.mod("outcomesModule").setdefault(_OUTCOME_KEYS[el.tag], []).append(_outcome(el, b, b.index(el.tag)))

"""What the study is about: its summary and description (descriptionModule), conditions and
keywords (conditionsModule)."""

from __future__ import annotations

from .builder import Builder, Element, leaf_text
from .handlers import Handlers

HANDLERS = Handlers()


@HANDLERS.on("brief_summary", "detailed_description")
def _description(b: Builder, el: Element) -> None:
    key = "briefSummary" if el.tag == "brief_summary" else "detailedDescription"
    b.mod("descriptionModule")[key] = b.block(el, el.tag)


@HANDLERS.on("condition", "keyword")
def _conditions(b: Builder, el: Element) -> None:
    key = "conditions" if el.tag == "condition" else "keywords"
    b.mod("conditionsModule").setdefault(key, []).append(leaf_text(el))

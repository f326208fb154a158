"""identificationModule: titles, acronym, ids and the organization (`source`)."""

from __future__ import annotations

from .builder import Builder, Element, as_data, leaf_text
from .handlers import Handlers

HANDLERS = Handlers()

HANDLERS.simple("brief_title", "identificationModule", "briefTitle")
HANDLERS.simple("official_title", "identificationModule", "officialTitle")
HANDLERS.simple("acronym", "identificationModule", "acronym")


@HANDLERS.on("source")
def _source(b: Builder, el: Element) -> None:
    b.source = leaf_text(el)


@HANDLERS.on("id_info")
def _id_info(b: Builder, el: Element) -> None:
    ident = b.p["identificationModule"]
    for child in el:
        tag = child.tag
        if tag == "org_study_id":
            ident["orgStudyIdInfo"] = {"id": leaf_text(child)}
        elif tag == "secondary_id":
            ident.setdefault("secondaryIdInfos", []).append({"id": leaf_text(child)})
        elif tag == "nct_alias":
            ident.setdefault("nctIdAliases", []).append(leaf_text(child))
        elif tag != "nct_id" and isinstance(tag, str):
            b.keep(f"id_info/{tag}", as_data(child))

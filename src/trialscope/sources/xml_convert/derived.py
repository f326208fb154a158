"""derivedSection: the MeSH terms the registry derived for conditions and interventions, and
the countries removed from the study (the XML's list of site countries is kept as legacy: v2
derives it from the sites)."""

from __future__ import annotations

from .builder import Builder, Element, child_texts
from .handlers import Handlers

HANDLERS = Handlers()


@HANDLERS.on("condition_browse", "intervention_browse")
def _browse(b: Builder, el: Element) -> None:
    meshes = [{"term": term} for term in child_texts(b, el, "mesh_term")]
    if meshes:
        key = "conditionBrowseModule" if el.tag == "condition_browse" else "interventionBrowseModule"
        b.derived[key] = {"meshes": meshes}


@HANDLERS.on("removed_countries")
def _removed_countries(b: Builder, el: Element) -> None:
    countries = child_texts(b, el, "country")
    b.derived.setdefault("miscInfoModule", {})["removedCountries"] = countries


@HANDLERS.on("location_countries")
def _location_countries(b: Builder, el: Element) -> None:
    b.keep("location_countries", child_texts(b, el, "country"))

"""One `<clinical_study>` element -> one v2 study dict: every top-level element goes to the
converter its part registered, the rest to ``legacySection``."""

from __future__ import annotations

from typing import Any

from ...record import RecordError, normalize_nct
from . import (
    arms,
    derived,
    description,
    design,
    documents,
    eligibility,
    identification,
    locations,
    outcomes,
    references,
    sponsors,
    status,
)
from .arms import link_arms
from .builder import Builder, Element, as_data
from .handlers import Handler


def _skip(b: Builder, el: Element) -> None:
    """`clinical_results` is converted by `xml_results` (see `sources.xml`)."""


_HANDLERS: dict[str, Handler] = {
    **identification.HANDLERS, **status.HANDLERS, **sponsors.HANDLERS,
    **description.HANDLERS, **design.HANDLERS, **arms.HANDLERS, **outcomes.HANDLERS,
    **eligibility.HANDLERS, **locations.HANDLERS, **references.HANDLERS,
    **documents.HANDLERS, **derived.HANDLERS, "clinical_results": _skip,
}


def _keep(b: Builder, el: Element) -> None:
    if isinstance(el.tag, str):
        b.keep(el.tag, as_data(el))


def convert_study(root: Element) -> dict[str, Any]:
    """Convert one `<clinical_study>` element into an API v2 study dict.

    Raises RecordError if the study has no valid `id_info/nct_id`.
    """
    nct_text = root.findtext("id_info/nct_id")
    if nct_text is None or not nct_text.strip():
        raise RecordError("missing id_info/nct_id")
    try:
        nct = normalize_nct(nct_text)
    except RecordError as exc:
        raise RecordError(f"id_info/nct_id: {exc}") from None

    b = Builder()
    ident = b.p["identificationModule"] = {"nctId": nct}
    b.p["statusModule"] = {}
    for name, value in root.attrib.items():  # e.g. the 2016 snapshot's `rank`
        b.keep(f"@{name}", value)
    handlers = _HANDLERS
    for el in root:
        handlers.get(el.tag, _keep)(b, el)

    if b.source:
        org = {"fullName": b.source}
        if b.lead_class:  # v2 gives the organization its lead sponsor's class
            org["class"] = b.lead_class
        ident["organization"] = org
    if b.arms or b.interventions:
        link_arms(b.arms, b.interventions)
        mod = b.mod("armsInterventionsModule")
        if b.arms:
            mod["armGroups"] = b.arms
        if b.interventions:
            mod["interventions"] = b.interventions
    if not b.p["statusModule"]:
        del b.p["statusModule"]
    design = b.p.get("designModule")
    if design is not None and design.get("designInfo") == {}:
        del design["designInfo"]

    record: dict[str, Any] = {"protocolSection": _ordered(b.p)}
    if b.documents:
        record["documentSection"] = {"largeDocumentModule": {"largeDocs": b.documents}}
    if b.derived:
        record["derivedSection"] = b.derived
    record["hasResults"] = False
    if b.legacy:
        record["legacySection"] = b.legacy
    return record


_MODULE_ORDER = (
    "identificationModule", "statusModule", "sponsorCollaboratorsModule", "oversightModule",
    "descriptionModule", "conditionsModule", "designModule", "armsInterventionsModule",
    "outcomesModule", "eligibilityModule", "contactsLocationsModule", "referencesModule",
    "ipdSharingStatementModule",
)


def _ordered(modules: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Modules in v2's order (readers showing raw JSON see the familiar layout)."""
    return {name: modules[name] for name in _MODULE_ORDER if name in modules}

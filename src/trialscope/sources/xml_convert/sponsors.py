"""Who answers for the study: sponsors and collaborators, the responsible party
(sponsorCollaboratorsModule) and regulatory oversight (oversightModule)."""

from __future__ import annotations

from .builder import Builder, Element, as_data, child_fields, leaf_text
from .enums import AGENCY_CLASS, RESPONSIBLE_PARTY
from .handlers import Handlers

_OVERSIGHT = {
    "has_dmc": "oversightHasDmc",
    "is_fda_regulated_drug": "isFdaRegulatedDrug",
    "is_fda_regulated_device": "isFdaRegulatedDevice",
    "is_unapproved_device": "isUnapprovedDevice",
    "is_ppsd": "isPpsd",
    "is_us_export": "isUsExport",
}
_PARTY_KEYS = {
    "investigator_full_name": "investigatorFullName", "investigator_title": "investigatorTitle",
    "investigator_affiliation": "investigatorAffiliation", "name_title": "oldNameTitle",
    "organization": "oldOrganization",
}
_SPONSOR_FIELDS = frozenset(("agency", "agency_class"))


HANDLERS = Handlers()


@HANDLERS.on("sponsors")
def _sponsors(b: Builder, el: Element) -> None:
    mod = b.mod("sponsorCollaboratorsModule")
    for child in el:
        tag = child.tag
        if tag not in ("lead_sponsor", "collaborator"):
            if isinstance(tag, str):
                b.keep(f"sponsors/{tag}", as_data(child))
            continue
        path = "sponsors/lead_sponsor" if tag == "lead_sponsor" else b.index("sponsors/collaborator")
        fields = child_fields(b, child, path, _SPONSOR_FIELDS)
        sponsor = {"name": fields.get("agency", "")}
        cls = fields.get("agency_class")
        if cls:
            b.put_enum(sponsor, "class", f"{path}/agency_class", cls, AGENCY_CLASS)
        if tag == "lead_sponsor":
            mod["leadSponsor"] = sponsor
            b.lead_class = sponsor.get("class")
        else:
            mod.setdefault("collaborators", []).append(sponsor)


@HANDLERS.on("oversight_info")
def _oversight(b: Builder, el: Element) -> None:
    mod = b.mod("oversightModule")
    for child in el:
        tag = child.tag
        key = _OVERSIGHT.get(tag)
        if key:
            b.put_flag(mod, key, f"oversight_info/{tag}", leaf_text(child))
        elif isinstance(tag, str):  # e.g. the pre-2017 `authority`, repeated
            b.legacy.setdefault(f"oversight_info/{tag}", []).append(leaf_text(child))


@HANDLERS.on("responsible_party")
def _responsible_party(b: Builder, el: Element) -> None:
    party: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag == "responsible_party_type":
            b.put_enum(party, "type", "responsible_party/responsible_party_type", leaf_text(child),
                       RESPONSIBLE_PARTY)
        elif tag in _PARTY_KEYS:
            party[_PARTY_KEYS[tag]] = leaf_text(child)
        elif isinstance(tag, str):
            b.keep(f"responsible_party/{tag}", as_data(child))
    if party:
        b.mod("sponsorCollaboratorsModule")["responsibleParty"] = party

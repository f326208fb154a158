"""contactsLocationsModule: central contacts, overall officials and sites, with the people
named in them (`first middle last, degrees`)."""

from __future__ import annotations

from typing import Any

from .builder import Builder, Element, as_data, leaf_text
from .enums import OFFICIAL_ROLE, STATUS
from .handlers import Handlers

_NAME_PARTS = ("first_name", "middle_name", "last_name", "degrees")
_CONTACT_KEYS = {"phone": "phone", "phone_ext": "phoneExt", "email": "email"}


def _person(b: Builder, el: Element, path: str, extra: tuple[str, ...] = ()) -> tuple[str, dict[str, str]]:
    """`first middle last, degrees` and the other child texts (`extra` tags) of a person element."""
    parts: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag in _NAME_PARTS or tag in _CONTACT_KEYS or tag in extra:
            parts[tag] = (child.text or "").strip()
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", as_data(child))
    name = " ".join(parts[t] for t in _NAME_PARTS[:3] if parts.get(t))
    degrees = parts.get("degrees")
    if degrees:
        name = f"{name}, {degrees}" if name else degrees
    return name, parts


def _contact(b: Builder, el: Element, path: str, role: str | None) -> dict[str, str]:
    name, parts = _person(b, el, path)
    return _contact_entry(name, role, parts)


def _contact_entry(name: str, role: str | None, parts: dict[str, str]) -> dict[str, str]:
    """A v2 contact: its name and role, then phone, extension and email where given."""
    contact: dict[str, str] = {}
    if name:
        contact["name"] = name
    if role:
        contact["role"] = role
    for tag, key in _CONTACT_KEYS.items():
        value = parts.get(tag)
        if value:
            contact[key] = value
    return contact


def _location(b: Builder, el: Element) -> dict[str, Any]:
    n = b.counts["location"] = b.counts.get("location", 0) + 1
    loc: dict[str, Any] = {}
    contacts: list[dict[str, str]] = []
    for child in el:
        tag = child.tag
        if tag == "facility":
            for part in child:
                if part.tag == "name":
                    loc["facility"] = (part.text or "").strip()
                elif part.tag == "address":
                    for a in part:
                        if a.tag in _ADDRESS:
                            loc[a.tag] = (a.text or "").strip()
                        elif isinstance(a.tag, str):
                            b.keep(f"location[{n}]/facility/address/{a.tag}", as_data(a))
                elif isinstance(part.tag, str):
                    b.keep(f"location[{n}]/facility/{part.tag}", as_data(part))
        elif tag == "status":
            b.put_enum(loc, "status", f"location[{n}]/status", leaf_text(child), STATUS)
        elif tag == "contact" or tag == "contact_backup":
            contacts.append(_contact(b, child, f"location[{n}]/{tag}", "CONTACT"))
        elif tag == "investigator":
            contacts.append(_investigator(b, child, f"location[{n}]/investigator"))
        elif isinstance(tag, str):
            b.keep(f"location[{n}]/{tag}", as_data(child))
    if contacts:
        loc["contacts"] = contacts
    return loc


_ADDRESS = frozenset(("city", "state", "zip", "country"))


def _investigator(b: Builder, el: Element, path: str) -> dict[str, str]:
    """A site investigator: a v2 location contact with the investigator's role."""
    name, parts = _person(b, el, path, ("role",))
    role_text = parts.get("role")
    role = b.enum(f"{path}/role", role_text, OFFICIAL_ROLE) if role_text else None
    return _contact_entry(name, role, parts)


HANDLERS = Handlers()


@HANDLERS.on("overall_contact", "overall_contact_backup")
def _overall_contact(b: Builder, el: Element) -> None:
    contact = _contact(b, el, el.tag, "CONTACT")
    b.mod("contactsLocationsModule").setdefault("centralContacts", []).append(contact)


@HANDLERS.on("overall_official")
def _overall_official(b: Builder, el: Element) -> None:
    path = b.index("overall_official")
    name, parts = _person(b, el, path, ("affiliation", "role"))
    official: dict[str, str] = {"name": name} if name else {}
    if parts.get("affiliation"):
        official["affiliation"] = parts["affiliation"]
    if parts.get("role"):
        b.put_enum(official, "role", f"{path}/role", parts["role"], OFFICIAL_ROLE)
    b.mod("contactsLocationsModule").setdefault("overallOfficials", []).append(official)


@HANDLERS.on("location")
def _locations(b: Builder, el: Element) -> None:
    b.mod("contactsLocationsModule").setdefault("locations", []).append(_location(b, el))

"""One study's v2 modules as they are being built, and how the converters read elements:
whatever has no v2 home goes to ``legacySection`` under its XML path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from ...normalize import parse_date
from .enums import DATE_TYPE, YES_NO
from .text import textblock

Element = etree._Element


def leaf_text(el: Element) -> str:
    """The text of a leaf, stripped."""
    return (el.text or "").strip()


class Builder:
    """Accumulates one study's v2 dict and its legacy leftovers."""

    __slots__ = ("p", "derived", "legacy", "counts", "arms", "interventions", "lead_class", "source", "documents")

    def __init__(self) -> None:
        self.p: dict[str, dict[str, Any]] = {}
        self.derived: dict[str, dict[str, Any]] = {}
        self.legacy: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.arms: list[dict[str, Any]] = []
        self.interventions: list[dict[str, Any]] = []
        self.lead_class: str | None = None
        self.source: str | None = None
        self.documents: list[dict[str, Any]] = []

    def mod(self, name: str) -> dict[str, Any]:
        m = self.p.get(name)
        if m is None:
            m = self.p[name] = {}
        return m

    def index(self, tag: str) -> str:
        """The XML path of the next repeated element `tag`, e.g. `primary_outcome[2]`."""
        n = self.counts.get(tag, 0) + 1
        self.counts[tag] = n
        return f"{tag}[{n}]"

    def keep(self, path: str, value: Any) -> None:
        self.legacy[path] = value

    def block(self, el: Element, path: str) -> str:
        """The re-flowed `textblock` of a text element (other children go to legacySection)."""
        if not len(el):
            return (el.text or "").strip()
        text = ""
        for child in el:
            if child.tag == "textblock":
                text = textblock(child.text or "")
            elif isinstance(child.tag, str):
                self.keep(f"{path}/{child.tag}", as_data(child))
        return text

    def date(self, path: str, text: str) -> str | None:
        try:
            return parse_date(text)
        except ValueError:
            self.keep(path, text)
            return None

    def date_struct(self, el: Element, path: str) -> dict[str, str] | None:
        value = self.date(path, leaf_text(el))
        if value is None:
            return None
        struct = {"date": value}
        kind = el.get("type")
        if kind is not None:
            if kind in DATE_TYPE:
                struct["type"] = DATE_TYPE[kind]
            else:
                self.keep(path + "/@type", kind)
        return struct

    def enum(self, path: str, text: str, convert: Callable[[str], str | None]) -> str | None:
        value = convert(text)
        if value is None:
            self.keep(path, text)
        return value

    def flag(self, path: str, text: str, table: dict[str, bool] = YES_NO) -> bool | None:
        value = table.get(text)
        if value is None:
            self.keep(path, text)
        return value

    def put_enum(self, target: dict[str, Any], key: str, path: str, text: str,
                 convert: Callable[[str], str | None]) -> None:
        """``target[key]``: the v2 value of `text`, where it has one (`enum`)."""
        value = self.enum(path, text, convert)
        if value:
            target[key] = value

    def put_flag(self, target: dict[str, Any], key: str, path: str, text: str,
                 table: dict[str, bool] = YES_NO) -> None:
        """``target[key]``: `text` as a boolean, where it reads as one (`flag`)."""
        value = self.flag(path, text, table)
        if value is not None:
            target[key] = value


def as_data(el: Element) -> Any:
    """Any element as plain data: leaf text, else {child: value or [values]} (+ `@attr`)."""
    if not len(el) and not el.attrib:
        return (el.text or "").strip()
    out: dict[str, Any] = {f"@{k}": v for k, v in el.attrib.items()}
    if not len(el):
        out["#text"] = (el.text or "").strip()
        return out
    for child in el:
        if not isinstance(child.tag, str):
            continue
        value = as_data(child)
        if child.tag in out:
            prev = out[child.tag]
            if isinstance(prev, list):
                prev.append(value)
            else:
                out[child.tag] = [prev, value]
        else:
            out[child.tag] = value
    return out


def child_fields(b: Builder, el: Element, path: str, known: frozenset[str]) -> dict[str, str]:
    """The texts of `el`'s children named in `known`; any other child goes to legacySection."""
    out: dict[str, str] = {}
    for child in el:
        tag = child.tag
        if tag in known:
            out[tag] = leaf_text(child)
        elif isinstance(tag, str):
            b.keep(f"{path}/{tag}", as_data(child))
    return out


def child_texts(b: Builder, el: Element, tag: str) -> list[str]:
    """The texts of `el`'s `tag` children (a repeated list); any other child goes to legacySection."""
    values = []
    for child in el:
        if child.tag == tag:
            values.append(leaf_text(child))
        elif isinstance(child.tag, str):
            b.keep(f"{el.tag}/{child.tag}", as_data(child))
    return values

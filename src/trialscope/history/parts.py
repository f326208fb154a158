"""A v2 record split into its modules, each parsed only when asked for.

Listing 50 versions of a study compares each with the one before, mostly module by module
and mostly finding them equal. Parsing every record whole costs ~0.6 ms per 60 KB record;
splitting it into modules left as raw JSON (msgspec.Raw) costs a quarter of that, two
equal modules are then equal bytes, and only the few modules the summary reads (status,
design, outcomes...) or that differ are parsed. Records given as dicts (tests, callers that
have them parsed) work the same way, without the raw shortcut.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

SECTIONS = ("protocolSection", "resultsSection", "annotationSection", "documentSection", "derivedSection")
LEGACY = "legacySection"
Key = tuple[str, str]  # (section, module); ("legacySection", "") and ("", "") for the top-level rest

_SPLIT = msgspec.json.Decoder(dict[str, msgspec.Raw])


class Parts:
    __slots__ = ("_record", "_top", "_sections", "_parsed")

    def __init__(self, record_json: bytes | None = None, record: dict | None = None):
        self._record = record
        self._top: dict[str, msgspec.Raw] | None = None
        self._sections: dict[str, dict[str, msgspec.Raw] | None] = {}
        self._parsed: dict[Key, Any] = {}
        if record is None:
            try:
                self._top = _SPLIT.decode(record_json or b"{}")
            except (msgspec.DecodeError, msgspec.ValidationError):
                self._record = _loads(record_json or b"{}")

    def top_keys(self) -> list[str]:
        return list(self._top if self._top is not None else self._record or {})

    def has(self, section: str) -> bool:
        """Whether the record has the section with something in it (empty values, however
        nested, are nothing); a long section is not parsed to tell."""
        if self._top is None:
            return not empty((self._record or {}).get(section))
        raw = self._top.get(section)
        if raw is None:
            return False
        data = bytes(raw)
        return len(data) > 256 or not empty(_loads(data))

    def modules(self, section: str) -> list[str]:
        if self._top is None:
            value = (self._record or {}).get(section)
            return list(value) if isinstance(value, dict) else []
        split = self._split(section)
        return list(split) if split is not None else []

    def module_keys(self, skip: set[str] | frozenset[str] = frozenset()) -> list[Key]:
        """Every module key this record has, in the order of the v2 structure (but those of
        the sections in `skip`)."""
        out: list[Key] = []
        top = self.top_keys()
        for section in SECTIONS:
            if section in top and section not in skip:
                out += [(section, m) for m in self.modules(section)]
        if LEGACY in top:
            out.append((LEGACY, ""))
        if any(k not in SECTIONS and k != LEGACY for k in top):
            out.append(("", ""))
        return out

    def raw(self, key: Key) -> bytes | None:
        """The module's JSON as stored (None when unknown: a dict record, or the rest)."""
        section, module = key
        if self._top is None or not section:
            return None
        if not module:
            value = self._top.get(section)
            return bytes(value) if value is not None else None
        split = self._split(section)
        value = split.get(module) if split is not None else None
        return bytes(value) if value is not None else None

    def get(self, key: Key) -> Any:
        """The module's value, parsed (for ("", ""): the top-level values outside sections)."""
        if key in self._parsed:
            return self._parsed[key]
        section, module = key
        if self._record is not None:
            value = _from_dict(self._record, key)
        elif not section:
            value = {k: _loads(bytes(v)) for k, v in self._top.items() if k not in SECTIONS and k != LEGACY}
        else:
            raw = self.raw(key)
            value = _loads(raw) if raw is not None else None
        self._parsed[key] = value
        return value

    def _split(self, section: str) -> dict[str, msgspec.Raw] | None:
        if section not in self._sections:
            raw = self._top.get(section) if self._top is not None else None
            try:
                self._sections[section] = _SPLIT.decode(raw) if raw is not None else None
            except (msgspec.DecodeError, msgspec.ValidationError):  # not an object: no modules
                self._sections[section] = None
        return self._sections[section]


def empty(value: Any) -> bool:
    """None, "", or containers of nothing but empty values."""
    if isinstance(value, dict):
        return all(empty(v) for v in value.values())
    if isinstance(value, list):
        return all(empty(v) for v in value)
    return value is None or value == ""


def _from_dict(record: dict, key: Key) -> Any:
    section, module = key
    if not section:
        return {k: v for k, v in record.items() if k not in SECTIONS and k != LEGACY}
    value = record.get(section)
    if not module:
        return value
    return value.get(module) if isinstance(value, dict) else None


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None

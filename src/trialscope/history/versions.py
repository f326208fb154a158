"""The versions of a study the store holds: the current one and its history, oldest first.

Versions are numbered from 1 (the oldest held) in last-update order, as ClinicalTrials.gov
numbers its own record history. Two versions with the same last-update date (the same
update read from two formats) keep the order they were filed in, the current one last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import orjson

from .parts import Parts


class VersionError(ValueError):
    """A version that is not held, or a version range that cannot be read."""


@dataclass
class Version:
    number: int
    last_update: str
    source: str
    raw_format: str
    current: bool
    stored_at: str  # when it was ingested (current) or filed in history
    record_json: bytes = field(repr=False)

    @cached_property
    def parts(self) -> Parts:
        """The record's modules, each parsed when asked for (cheap summaries)."""
        return Parts(self.record_json)

    @cached_property
    def record(self) -> dict:
        try:
            value = orjson.loads(self.record_json)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def as_json(self) -> dict:
        return {"version": self.number, "lastUpdate": self.last_update or None, "source": self.source,
                "format": self.raw_format, "current": self.current, "storedAt": self.stored_at}


def versions(store, nct_id: str, current=None, entries=None) -> list[Version]:
    """Every version of a study the store holds, oldest first; [] for a study it lacks.
    ``current``: its StoredStudy, ``entries``: its `store.history`, when the caller has read
    them already."""
    current = current if current is not None else store.get(nct_id)
    if current is None:
        return []
    entries = entries if entries is not None else store.history(nct_id)
    rows = [(h.last_update, 0, h.replaced_at, h) for h in entries]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    out = [
        Version(i + 1, h.last_update, h.source, h.raw_format, False, h.replaced_at, h.record_json)
        for i, (_, _, _, h) in enumerate(rows)
    ]
    out.append(Version(len(out) + 1, current.last_update, current.source, current.raw_format, True,
                       current.ingested_at, current.record_json))
    # the current version is the newest, but a history entry filed with the same date sorts
    # before it and an older-dated one can never be after it: keep numbers in date order
    out.sort(key=lambda v: (v.last_update, v.current, v.stored_at))
    for i, v in enumerate(out):
        v.number = i + 1
    return out


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def pick(held: list[Version], ref: str) -> Version:
    """A version by number ("2", "v2"), by last-update date ("2023-05-18"), or "latest"."""
    ref = ref.strip().lower().removeprefix("v")
    if not held:
        raise VersionError("no versions held")
    if ref in ("latest", "current", ""):
        return held[-1]
    if ref in ("first", "oldest"):
        return held[0]
    if ref.isdigit():
        n = int(ref)
        if 1 <= n <= len(held):
            return held[n - 1]
        raise VersionError(f"there is no version {n}: versions 1 to {len(held)} are held")
    if _DATE.match(ref):
        dated = [v for v in held if v.last_update == ref]
        if dated:
            return dated[-1]
        raise VersionError(f"no version last updated on {ref}; held: "
                           + ", ".join(v.last_update or "(no date)" for v in held))
    raise VersionError(f"cannot read version {ref!r}: give a number (1 to {len(held)}), "
                       "a last-update date (YYYY-MM-DD) or 'latest'")


def pick_range(held: list[Version], spec: str) -> tuple[Version, Version]:
    """ "A..B" (either side a number or a date; an empty side is the first / the latest);
    a single "B" compares B with the version before it."""
    spec = (spec or "").strip()
    if len(spec) > 64:
        raise VersionError("version range too long")
    if ".." in spec:
        a, _, b = spec.partition("..")
        return pick(held, a or "first"), pick(held, b or "latest")
    later = pick(held, spec or "latest")
    if later.number == 1:
        raise VersionError("version 1 is the oldest held: there is nothing before it to compare with")
    return held[later.number - 2], later

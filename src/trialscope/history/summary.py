"""What changed from one version to the next, in a line: the key facts first, then the rest.

"status Recruiting → Completed; enrollment 200 (estimated) → 187 (actual); primary outcome
changed; results posted; and 12 other changes (Design, Contacts and locations)". The key
facts are what a reader of a registry watches: status, enrollment, phase, primary outcomes,
the start and completion dates, posted results, the title, the lead sponsor, eligibility
and the sites. Feeds and saved searches report a study as changed only when one of them did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import labels
from .diff import changed_modules, same_content, strip_ignored
from .outcomes import compare


def _g(record: dict, *path: str) -> Any:
    d: Any = record
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _p(*path: str) -> tuple[str, ...]:
    return ("protocolSection", *path)


# fact -> (its words, where it lives); a fact changed when the value there differs
FACTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("status", "status", _p("statusModule", "overallStatus")),
    ("why_stopped", "why stopped", _p("statusModule", "whyStopped")),
    ("enrollment", "enrollment", _p("designModule", "enrollmentInfo")),
    ("phase", "phase", _p("designModule", "phases")),
    ("start", "start date", _p("statusModule", "startDateStruct")),
    ("primary_completion", "primary completion", _p("statusModule", "primaryCompletionDateStruct")),
    ("completion", "completion", _p("statusModule", "completionDateStruct")),
    ("title", "title", _p("identificationModule", "briefTitle")),
    ("sponsor", "lead sponsor", _p("sponsorCollaboratorsModule", "leadSponsor", "name")),
]
# what each key fact already says, left out when looking for other changes once it is
# said: fact -> ((section, module), key of that module, or None for the whole module)
SAID_BY: dict[str, tuple[tuple[str, str], str | None]] = {
    **{key: (("protocolSection", path[1]), path[2]) for key, _, path in FACTS},
    "primary_outcomes": (("protocolSection", "outcomesModule"), "primaryOutcomes"),
    "eligibility": (("protocolSection", "eligibilityModule"), None),
}
_QUOTED = {"why_stopped", "title"}


@dataclass(slots=True)
class VersionChanges:
    """The changes from one version to the next: key facts, and the other modules changed."""

    facts: list[str] = field(default_factory=list)  # e.g. "status Recruiting → Completed"
    keys: list[str] = field(default_factory=list)  # which facts: "status", "enrollment", ...
    other_modules: list[str] = field(default_factory=list)  # labels of modules changed otherwise
    note: str | None = None  # e.g. the same update read from another format

    @property
    def key_facts_changed(self) -> bool:
        return bool(self.facts)

    def line(self) -> str:
        parts = list(self.facts)
        if self.other_modules:
            shown = ", ".join(self.other_modules[:4]) + (", …" if len(self.other_modules) > 4 else "")
            parts.append(f"also changed: {shown}")
        text = "; ".join(parts) if parts else "no change in the record's content"
        return f"{self.note}: {text}" if self.note else text

    def as_json(self) -> dict:
        return {"summary": self.line(), "keyFacts": self.facts, "keys": self.keys,
                "otherModules": self.other_modules}


def summarize(earlier: dict, later: dict) -> VersionChanges:
    """Key facts and the other modules changed between two records. Cheap (no full diff):
    it compares the facts and then whole modules, which is what a list of 50 versions needs."""
    out = VersionChanges()
    for key, words, path in FACTS:
        a, b = _g(earlier, *path), _g(later, *path)
        if _same(a, b):
            continue
        out.keys.append(key)
        if key in _QUOTED:
            out.facts.append(f"{words} changed" if a and b else f"{words} {'added' if b else 'removed'}")
        else:
            out.facts.append(f"{words} {labels.show(a, 80, path[-1])} → {labels.show(b, 80, path[-1])}")
    outcome_fact = _outcomes_fact(earlier, later)
    if outcome_fact:
        out.keys.append("primary_outcomes")
        out.facts.append(outcome_fact)
    has_a, has_b = bool(earlier.get("resultsSection")), bool(later.get("resultsSection"))
    if has_a != has_b:
        out.keys.append("results")
        out.facts.append("results posted" if has_b else "results no longer shown")
    if not same_content(_g(earlier, "protocolSection", "eligibilityModule"),
                        _g(later, "protocolSection", "eligibilityModule")):
        out.keys.append("eligibility")
        out.facts.append("eligibility changed")
    sites = _sites_fact(earlier, later)
    if sites:
        out.keys.append("sites")
        out.facts.append(sites)
    for key in changed_modules(earlier, later):
        if key == ("", "") and has_a != has_b:
            continue  # hasResults, said by "results posted"
        if key[0] == "resultsSection" and (not has_a or not has_b):
            continue
        said = [SAID_BY[k][1] for k in out.keys if k in SAID_BY and SAID_BY[k][0] == key]
        if None in said:
            continue
        drop = frozenset(said)
        a = strip_ignored(key, _module(earlier, key))
        b = strip_ignored(key, _module(later, key))
        if not same_content(_without(a, drop), _without(b, drop)):
            out.other_modules.append(labels.module_label(key))
    return out


def _module(record: dict, key: tuple[str, str]) -> Any:
    section, module = key
    if not section:
        return {k: v for k, v in record.items() if not k.endswith("Section")}
    value = record.get(section)
    return value.get(module) if module and isinstance(value, dict) else value


def _without(value: Any, drop: frozenset[str]) -> Any:
    return {k: v for k, v in value.items() if k not in drop} if isinstance(value, dict) else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list) and all(isinstance(x, str) for x in (*a, *b)):
        return sorted(a) == sorted(b)
    return same_content(a, b)


def _outcomes_fact(earlier: dict, later: dict) -> str | None:
    events = compare(earlier, later)
    if not events:
        a = _g(earlier, "protocolSection", "outcomesModule", "primaryOutcomes")
        b = _g(later, "protocolSection", "outcomesModule", "primaryOutcomes")
        if not a and b:
            return "primary outcomes registered"
        return None
    kinds = [e.kind for e in events]
    parts = []
    for kind, words in (("reworded", "reworded"), ("removed", "removed"), ("added", "added"),
                        ("promoted", "made primary from secondary"), ("demoted", "made secondary")):
        n = kinds.count(kind)
        if n:
            parts.append(words if n == 1 else f"{n} {words}")
    return "primary outcome changed (" + ", ".join(parts) + ")"


def _sites_fact(earlier: dict, later: dict) -> str | None:
    def sites(record: dict) -> set[str]:
        locs = _g(record, "protocolSection", "contactsLocationsModule", "locations") or []
        return {labels.item_title(x).lower() for x in locs if isinstance(x, dict)}

    a, b = sites(earlier), sites(later)
    added, removed = len(b - a), len(a - b)
    parts = []
    if added:
        parts.append(f"{added} site{'s' if added != 1 else ''} added")
    if removed:
        parts.append(f"{removed} site{'s' if removed != 1 else ''} removed")
    return ", ".join(parts) or None

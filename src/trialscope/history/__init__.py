"""Record history: the versions of a study the store holds, what changed between any two,
and the outcome-switch flag.

The store keeps every version it has seen (see `store.base`); this package reads them:
- `versions(store, nct)`: the versions, oldest first, numbered from 1;
- `diff_records(a, b)`: a field-level diff over the v2 structure, grouped by module, for people
  (field and enum labels, dates with their type, long texts word by word);
- `summarize(a, b)` / `step(va, vb)`: what changed in a line, key facts first;
- `outcome_switch(versions)`: the flag (defined in `history.outcomes`);
- `study_history(store, nct)`: all of it for one study, as the CLI, API and pages show it.
Feeds (`history.recent`) and saved searches (`history.watch`) build on the same pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

from .diff import Change, ModuleDiff, diff_records
from .outcomes import OutcomeSwitch, outcome_switch
from .summary import VersionChanges, summarize
from .versions import Version, VersionError, pick, pick_range, versions

__all__ = [
    "Change", "ModuleDiff", "OutcomeSwitch", "StudyHistory", "Version", "VersionChanges",
    "VersionDiff", "VersionError", "compare_versions", "diff_records", "outcome_switch",
    "outcome_switched", "pick", "pick_range", "step", "study_history", "summarize", "versions",
]

EXTENSION_NOTE = ("trialscope extension: record history is not part of the ClinicalTrials.gov "
                  "API v2 contract")


@dataclass(slots=True)
class VersionDiff:
    earlier: Version
    later: Version
    modules: list[ModuleDiff]
    changes: VersionChanges

    def as_json(self) -> dict:
        return {"from": self.earlier.as_json(), "to": self.later.as_json(), **self.changes.as_json(),
                "count": sum(m.count for m in self.modules),
                "modules": [m.as_json() for m in self.modules]}


def compare_versions(earlier: Version, later: Version) -> VersionDiff:
    return VersionDiff(earlier, later, diff_records(earlier.record, later.record), step(earlier, later))


def step(earlier: Version, later: Version) -> VersionChanges:
    """The summary of the changes from one version to another."""
    out = summarize(earlier.parts, later.parts)
    if earlier.last_update == later.last_update:
        formats = (f" ({earlier.raw_format} and {later.raw_format})"
                   if earlier.raw_format != later.raw_format else "")
        out.note = f"the same update, read from another source{formats}"
    return out


@dataclass(slots=True)
class StudyHistory:
    nct_id: str
    versions: list[Version]
    steps: list[VersionChanges | None]  # per version: the changes from the one before (None: the first)
    switch: OutcomeSwitch

    def summary(self, version: Version) -> str:
        step = self.steps[version.number - 1]
        return "first version held" if step is None else step.line()

    def as_json(self) -> dict:
        rows = []
        for v, step in zip(self.versions, self.steps, strict=True):
            row = v.as_json()
            row["summary"] = self.summary(v)
            if step is not None:
                row["changes"] = step.as_json()
            rows.append(row)
        return {"nctId": self.nct_id, "note": EXTENSION_NOTE, "versions": rows,
                "outcomeSwitch": self.switch.as_json()}


def study_history(store, nct_id: str, current=None, entries=None) -> StudyHistory | None:
    """Every version of a study with what changed in each, and its outcome-switch flag;
    None for a study the store does not hold. ``current``, ``entries``: see `versions`."""
    held = versions(store, nct_id, current, entries)
    if not held:
        return None
    steps: list[VersionChanges | None] = [None]
    steps += [step(earlier, later) for earlier, later in zip(held, held[1:], strict=False)]
    return StudyHistory(nct_id, held, steps, outcome_switch(held))


def outcome_switched(store, nct_id: str) -> bool:
    """The flag alone (what the search index stores)."""
    held = versions(store, nct_id)
    return len(held) > 1 and outcome_switch(held).flagged

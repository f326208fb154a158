"""Outcome switching: did a study's primary outcomes change after it started?

Meta-researchers (COMPare, and studies of registry histories) flag trials whose primary
outcome changed once the trial was under way. This module compares the primary outcomes of
consecutive versions of a study and sets the **outcome-switch flag** when, after the study's
start date, a primary outcome was added, removed or substantially reworded, or a primary
outcome became a secondary one.

"Substantially reworded", exactly:
- Wordings are normalised first: markdown escapes removed (`\\<` → `<`), accents folded,
  lower-cased and split into words of letters and digits, leaving out the few words that
  carry no meaning alone (`STOP_WORDS`: a, an, the, of, in, on, at, to, for, by, with, from,
  as). So case, spacing, punctuation and markdown escapes never count as a change.
- ``similarity(a, b) = 2·M / (|a| + |b|)`` over the two word sequences, where M is the number
  of words they share in order (difflib's ratio): 1 for the same words, 0 for none in common.
- Two wordings name the **same outcome** when their similarity is at least ``SAME`` (0.5), or
  when the earlier wording appears whole, word for word, inside the later one (the outcome
  was only made more specific: "Body Weight" → "Change in Body Weight From Baseline to 12
  Months"). Otherwise the outcome was substantially reworded.

Comparing two versions: the earlier version's primary outcomes are paired with the later
one's, identical wordings first, then the most similar pairs that name the same outcome.
What is left over becomes events:
- ``demoted``: an earlier primary outcome that is the same outcome as a later secondary one;
- ``promoted``: a later primary outcome that was a secondary one (a primary outcome added);
- ``reworded``: an earlier primary outcome replaced by a later one that is not the same
  outcome (left-overs on both sides are paired, most similar first);
- ``removed`` / ``added``: the rest.
An earlier primary outcome whose wording survives as another, already paired, primary
outcome (two identical outcomes merged into one, or one split into two) is no event.

The flag is set by an event between two versions of which the earlier one was last updated
on or after the study's start date (the newest version's start date; a start date given to
the month counts from that month's last day, to the year from its last day): the outcome
stood registered while the study was under way, and then changed. A version with no primary
outcome at all is skipped (its outcomes were not registered yet, so none was switched), and a
study with no start date is never flagged.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from ..normalize import unescape_markdown

SAME = 0.5
STOP_WORDS = frozenset({"a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "from", "as"})
SWITCH_KINDS = ("reworded", "removed", "added", "demoted", "promoted")
_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[str, ...]:
    """The words of a wording, normalised (see the module docstring)."""
    folded = unicodedata.normalize("NFKD", unescape_markdown(text or ""))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return tuple(w for w in _WORD.findall(folded) if w not in STOP_WORDS)


def similarity(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    if ta == tb:
        return 1.0
    return SequenceMatcher(None, ta, tb, autojunk=False).ratio()


def _contains(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    n = len(inner)
    return 0 < n <= len(outer) and any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def same_outcome(earlier: str, later: str) -> bool:
    """Whether two wordings name the same outcome (not substantially reworded)."""
    te, tl = tokens(earlier), tokens(later)
    if te == tl:
        return True
    return _contains(te, tl) or similarity(earlier, later) >= SAME


def outcome_text(outcome: Any) -> str:
    """What names an outcome: its measure (its description when it has none)."""
    if not isinstance(outcome, dict):
        return ""
    for key in ("measure", "description"):
        value = outcome.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def outcomes_of(record: dict, kind: str) -> list[str]:
    """The wordings of a record's primary (kind "primary") or secondary outcomes."""
    module = (record.get("protocolSection") or {}).get("outcomesModule") or {}
    items = module.get(f"{kind}Outcomes") or []
    return [t for t in (outcome_text(o) for o in items if isinstance(items, list)) if t]


@dataclass(slots=True)
class Event:
    """One change to the primary outcomes between two versions."""

    kind: str  # one of SWITCH_KINDS
    old: str | None  # the earlier wording
    new: str | None  # the later wording
    similarity: float | None = None  # of old and new, for "reworded"


def _greedy(left: list[str], right: list[str], accept) -> list[tuple[int, int]]:
    """Pairs (i, j), most similar first, each index used once, where accept(l, r) holds."""
    scored = sorted(
        ((similarity(lt, rt), i, j) for i, lt in enumerate(left) for j, rt in enumerate(right)),
        key=lambda x: (-x[0], x[1], x[2]),
    )
    used_l: set[int] = set()
    used_r: set[int] = set()
    pairs = []
    for _, i, j in scored:
        if i in used_l or j in used_r or not accept(left[i], right[j]):
            continue
        used_l.add(i)
        used_r.add(j)
        pairs.append((i, j))
    return pairs


def compare(earlier: dict, later: dict) -> list[Event]:
    """The primary-outcome events from one version to the next (see the module docstring).

    Empty when either version has no primary outcome (none registered yet, or a record
    that does not carry them)."""
    old, new = outcomes_of(earlier, "primary"), outcomes_of(later, "primary")
    if not old or not new or [tokens(t) for t in old] == [tokens(t) for t in new]:
        return []
    pairs = _greedy(old, new, same_outcome)
    old_left = [i for i in range(len(old)) if i not in {p[0] for p in pairs}]
    new_left = [j for j in range(len(new)) if j not in {p[1] for p in pairs}]
    events: list[Event] = []
    later_secondary = outcomes_of(later, "secondary")
    earlier_secondary = outcomes_of(earlier, "secondary")
    old_rest = []
    for i in old_left:
        if any(same_outcome(old[i], s) for s in later_secondary):
            events.append(Event("demoted", old[i], None))
        elif not any(same_outcome(old[i], n) for n in new):  # else merged into a kept one
            old_rest.append(old[i])
    new_rest = []
    for j in new_left:
        if any(same_outcome(s, new[j]) for s in earlier_secondary):
            events.append(Event("promoted", None, new[j]))
        elif not any(same_outcome(o, new[j]) for o in old):  # else split from a kept one
            new_rest.append(new[j])
    reworded = _greedy(old_rest, new_rest, lambda a, b: True)
    for i, j in reworded:
        events.append(Event("reworded", old_rest[i], new_rest[j], round(similarity(old_rest[i], new_rest[j]), 3)))
    events += [Event("removed", o, None) for i, o in enumerate(old_rest) if i not in {p[0] for p in reworded}]
    events += [Event("added", None, n) for j, n in enumerate(new_rest) if j not in {p[1] for p in reworded}]
    return events


def start_date(record: dict) -> str | None:
    status = (record.get("protocolSection") or {}).get("statusModule") or {}
    date = (status.get("startDateStruct") or {}).get("date")
    return date if isinstance(date, str) and re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", date) else None


def last_day(date: str) -> str:
    """A date given to the month or the year as its last day ("2020-07" -> "2020-07-31")."""
    parts = date.split("-")
    if len(parts) == 3:
        return date
    year = int(parts[0])
    month = int(parts[1]) if len(parts) == 2 else 12
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


@dataclass(slots=True)
class SwitchEvent:
    """An Event between two numbered versions, and whether it counts for the flag."""

    kind: str
    old: str | None
    new: str | None
    similarity: float | None
    from_version: int
    to_version: int
    from_date: str
    to_date: str
    after_start: bool

    @property
    def text(self) -> str:
        """The event in words, e.g. 'removed “Brief Psychiatric Rating Scale (BPRS) Total Score”'."""
        if self.kind == "reworded":
            return f"reworded “{self.old}” → “{self.new}” (similarity {self.similarity:.2f})"
        if self.kind == "removed":
            return f"removed “{self.old}”"
        if self.kind == "added":
            return f"added “{self.new}”"
        if self.kind == "demoted":
            return f"made secondary: “{self.old}”"
        return f"made primary (was secondary): “{self.new}”"


@dataclass(slots=True)
class OutcomeSwitch:
    flagged: bool
    start_date: str | None
    events: list[SwitchEvent]

    def as_json(self) -> dict:
        return {
            "flagged": self.flagged,
            "startDate": self.start_date,
            "events": [
                {"kind": e.kind, "old": e.old, "new": e.new, "similarity": e.similarity,
                 "fromVersion": e.from_version, "toVersion": e.to_version, "fromDate": e.from_date,
                 "toDate": e.to_date, "afterStart": e.after_start}
                for e in self.events
            ],
        }


def outcome_switch(versions: list) -> OutcomeSwitch:
    """The flag over a study's versions (oldest first; each with .number, .last_update, .record)."""
    start = None
    for v in reversed(versions):
        start = start_date(v.record)
        if start:
            break
    events: list[SwitchEvent] = []
    held = [v for v in versions if outcomes_of(v.record, "primary")]  # the others are skipped
    for earlier, later in zip(held, held[1:], strict=False):
        after = start is not None and bool(earlier.last_update) and earlier.last_update >= last_day(start)
        for e in compare(earlier.record, later.record):
            events.append(SwitchEvent(**asdict(e), from_version=earlier.number, to_version=later.number,
                                      from_date=earlier.last_update, to_date=later.last_update,
                                      after_start=after))
    return OutcomeSwitch(any(e.after_start for e in events), start, events)

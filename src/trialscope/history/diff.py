"""A field-level diff of two versions of a study, over the v2 structure, grouped by module.

Lists of objects are aligned by what names their elements (an outcome by its measure, a
site by its facility, an arm by its label), so a site added at the top does not read as
every site changed; lists of values (conditions, phases) read as values added and removed,
and a list merely reordered is no change. Long texts carry a word-by-word diff. The version
stamps themselves (last update posted / submitted, the registry's export date) are left out:
every version differs there, and so are changes in spacing or markdown escapes alone (the
same text converted from legacy XML and from v2 JSON differs in both).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from . import labels
from .outcomes import same_outcome, similarity

# paths every version differs in by definition (its own date stamps)
IGNORED: frozenset[tuple[str, ...]] = frozenset({
    ("protocolSection", "statusModule", "lastUpdatePostDateStruct"),
    ("protocolSection", "statusModule", "lastUpdateSubmitDate"),
    ("derivedSection", "miscInfoModule", "versionHolder"),
    ("legacySection", "@rank"),
    ("legacySection", "required_header"),
    ("legacySection", "last_update_submitted_qc"),
})
SECTIONS = ("protocolSection", "resultsSection", "annotationSection", "documentSection", "derivedSection")
OUTCOME_LISTS = frozenset({"primaryOutcomes", "secondaryOutcomes", "otherOutcomes"})
LONG_TEXT_WORDS = 12  # texts longer than this (on either side) get a word-by-word diff
CONTEXT_WORDS = 12  # unchanged words kept around each change in a word diff
MAX_WORDS = 20_000  # longer texts are compared whole
MAX_CHANGES = 300  # per module; the rest is counted
SMALL_SUBTREE = 12  # an added / removed object with at most this many values is listed field by field


@dataclass(slots=True)
class Change:
    path: str  # JSONPath-like, e.g. $.protocolSection.statusModule.overallStatus
    label: str  # for people, e.g. "Primary outcomes › “Change in depressive symptoms” › Time frame"
    kind: str  # "added", "removed" or "changed"
    before: Any  # the values as the record holds them
    after: Any
    old: str | None  # and as shown to people
    new: str | None
    words: list[tuple[str, str]] | None = None  # ("=", "-", "+" or "…", text) for long texts

    def as_json(self) -> dict:
        out = {"path": self.path, "label": self.label, "kind": self.kind, "before": self.before,
               "after": self.after, "old": self.old, "new": self.new}
        if self.words is not None:
            out["words"] = [list(w) for w in self.words]
        return out


@dataclass(slots=True)
class ModuleDiff:
    key: tuple[str, str]
    label: str
    changes: list[Change] = field(default_factory=list)
    more: int = 0  # changes beyond MAX_CHANGES, not listed

    @property
    def count(self) -> int:
        return len(self.changes) + self.more

    def as_json(self) -> dict:
        return {"module": ".".join(k for k in self.key if k) or "record", "label": self.label,
                "count": self.count, "changes": [c.as_json() for c in self.changes],
                "notListed": self.more}


def diff_records(earlier: dict, later: dict) -> list[ModuleDiff]:
    """What changed from one v2 record to another, by module, in the record page's order."""
    out: dict[tuple[str, str], ModuleDiff] = {}
    for key, a, b in _modules(earlier, later):
        if same_content(strip_ignored(key, a), strip_ignored(key, b)):
            continue
        md = ModuleDiff(key, labels.module_label(key))
        section, module = key
        path = tuple(p for p in (section, module) if p)
        walker = _Walker(md)
        if not section:  # top-level values (hasResults...)
            walker.walk(a, b, (), ())
        else:
            walker.walk(a, b, path, ())
        if md.count:
            out[key] = md
    return sorted(out.values(), key=lambda m: (labels.MODULE_ORDER.get(m.key, 999), m.key))


def changed_modules(earlier: dict, later: dict) -> list[tuple[str, str]]:
    """The modules that differ (ignoring the version stamps, spacing and markdown escapes),
    without walking them: cheap."""
    return [key for key, a, b in _modules(earlier, later)
            if not same_content(strip_ignored(key, a), strip_ignored(key, b))]


_EMPTY = (None, "", [], {})


def same_content(a: Any, b: Any) -> bool:
    """Equal, or equal once text is read as people read it (spacing, markdown escapes) and
    empty values as absent, lists of values in any order. Stops at the first difference."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return labels.plain(a) == labels.plain(b)
    if isinstance(a, dict) and isinstance(b, dict):
        keys = {k for k, v in a.items() if v not in _EMPTY}
        if keys != {k for k, v in b.items() if v not in _EMPTY}:
            return False
        return all(same_content(a[k], b[k]) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        if all(not isinstance(x, dict | list) for x in (*a, *b)):  # values: order does not count
            return Counter(map(_plain, a)) == Counter(map(_plain, b))
        return all(same_content(x, y) for x, y in zip(a, b, strict=True))
    return a in _EMPTY and b in _EMPTY


def _plain(x: Any) -> Any:
    return labels.plain(x) if isinstance(x, str) else x


def strip_ignored(key: tuple[str, str], value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    drop = {p[-1] for p in IGNORED if p[:-1] == tuple(k for k in key if k)}
    return {k: v for k, v in value.items() if k not in drop} if drop else value


def _modules(a: dict, b: dict):
    """(module key, earlier value, later value) for every module either record has."""
    for section in SECTIONS:
        sa, sb = a.get(section), b.get(section)
        if sa == sb:
            continue
        sa = sa if isinstance(sa, dict) else {}
        sb = sb if isinstance(sb, dict) else {}
        for module in _keys(sa, sb):
            yield (section, module), sa.get(module), sb.get(module)
    # legacy XML fields compare between two XML versions only (v2 JSON has none: their absence
    # there says nothing about the study)
    if a.get("legacySection") and b.get("legacySection") and a["legacySection"] != b["legacySection"]:
        yield ("legacySection", ""), a.get("legacySection"), b.get("legacySection")
    rest_a = {k: v for k, v in a.items() if k not in SECTIONS and k != "legacySection"}
    rest_b = {k: v for k, v in b.items() if k not in SECTIONS and k != "legacySection"}
    if rest_a != rest_b:
        yield ("", ""), rest_a, rest_b


def _keys(a: dict, b: dict) -> list[str]:
    return list(b) + [k for k in a if k not in b]


def _atomic(value: Any) -> bool:
    return labels.is_date_struct(value) or labels.is_count_struct(value) or (
        isinstance(value, dict) and set(value) <= {"lat", "lon"} and bool(value))


def _leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 1


class _Walker:
    def __init__(self, md: ModuleDiff):
        self.md = md

    def add(self, path: tuple, names: tuple, kind: str, a: Any, b: Any) -> None:
        if len(self.md.changes) >= MAX_CHANGES:
            self.md.more += 1
            return
        key = next((p for p in reversed(path) if isinstance(p, str)), None)
        change = Change(_jsonpath(path), " › ".join(names) or self.md.label, kind, a, b,
                        None if a is None else _shown(a, key), None if b is None else _shown(b, key))
        if kind == "changed" and isinstance(a, str) and isinstance(b, str):
            change.words = word_diff(a, b)
        self.md.changes.append(change)

    def walk(self, a: Any, b: Any, path: tuple, names: tuple) -> None:
        if a == b or path in IGNORED:
            return
        if isinstance(a, str) and isinstance(b, str) and labels.plain(a) == labels.plain(b):
            return  # spacing or markdown escapes only
        if a in (None, "", [], {}) and b in (None, "", [], {}):
            return
        if isinstance(a, dict) and isinstance(b, dict) and not (_atomic(a) and _atomic(b)):
            for k in _keys(a, b):
                self.walk(a.get(k), b.get(k), (*path, k), (*names, labels.field_label(k)))
            return
        if isinstance(a, list) and isinstance(b, list):
            self.lists(a, b, path, names)
            return
        if a in (None, "", [], {}):
            self.one_side(b, path, names, "added")
        elif b in (None, "", [], {}):
            self.one_side(a, path, names, "removed")
        else:
            self.add(path, names, "changed", a, b)

    def one_side(self, value: Any, path: tuple, names: tuple, kind: str) -> None:
        """A value only one version has: listed field by field when it is a small object."""
        if isinstance(value, dict) and not _atomic(value) and _leaves(value) <= SMALL_SUBTREE:
            empty: dict = {}
            pair = (empty, value) if kind == "added" else (value, empty)
            for k in value:
                self.walk(pair[0].get(k), pair[1].get(k), (*path, k), (*names, labels.field_label(k)))
            return
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                self.item(item, (*path, i), names, kind)
            return
        self.add(path, names, kind, None if kind == "added" else value, value if kind == "added" else None)

    def item(self, item: Any, path: tuple, names: tuple, kind: str) -> None:
        """A whole element of a list added or removed, named in the label, detailed in the text."""
        title = labels.item_title(item)
        label = (*names, f"“{title}”") if title else names
        self.add(path, label, kind, None if kind == "added" else item, item if kind == "added" else None)
        change = self.md.changes[-1] if self.md.changes else None
        if change is not None and change.path == _jsonpath(path) and title:
            text = labels.details(item) if isinstance(item, dict) else title
            if kind == "added":
                change.new = text
            else:
                change.old = text

    def lists(self, a: list, b: list, path: tuple, names: tuple) -> None:
        if all(not isinstance(x, dict | list) for x in (*a, *b)):
            if Counter(map(_hashable, a)) == Counter(map(_hashable, b)):
                return  # reordered only
            gone = Counter(map(_hashable, a)) - Counter(map(_hashable, b))
            new = Counter(map(_hashable, b)) - Counter(map(_hashable, a))
            for x in a:
                if gone[_hashable(x)] > 0:
                    gone[_hashable(x)] -= 1
                    self.add(path, names, "removed", x, None)
            for x in b:
                if new[_hashable(x)] > 0:
                    new[_hashable(x)] -= 1
                    self.add(path, names, "added", None, x)
            return
        outcomes = bool(path) and path[-1] in OUTCOME_LISTS
        for i, j in align(a, b, outcomes):
            if i is None:
                self.item(b[j], (*path, j), names, "added")
            elif j is None:
                self.item(a[i], (*path, i), names, "removed")
            elif a[i] != b[j]:
                title = labels.item_title(b[j]) or labels.item_title(a[i])
                label = (*names, f"“{title}”") if title else (*names, f"#{j + 1}")
                self.walk(a[i], b[j], (*path, j), label)


def _hashable(x: Any) -> Any:
    return x if not isinstance(x, dict | list) else repr(x)


def align(a: list, b: list, outcomes: bool = False) -> list[tuple[int | None, int | None]]:
    """Pairs (i, j) of the elements of two lists that are the same element; (i, None) for
    one removed, (None, j) for one added. Equal elements pair first, then elements with the
    same title, then (outcomes by `same_outcome`, others by title similarity >= 0.5) the
    most similar; elements without titles pair by position."""
    titles_a = [labels.item_title(x) for x in a]
    titles_b = [labels.item_title(x) for x in b]
    pairs: dict[int, int] = {}
    used_b: set[int] = set()

    def bucket(pick):
        index: dict[Any, list[int]] = defaultdict(list)
        for j, x in enumerate(b):
            if j not in used_b:
                index[pick(j, x, titles_b[j])].append(j)
        for i, x in enumerate(a):
            if i in pairs:
                continue
            key = pick(i, x, titles_a[i])
            if key is None:
                continue
            js = index.get(key)
            if js:
                j = js.pop(0)
                pairs[i] = j
                used_b.add(j)

    bucket(lambda _, x, __: _hashable(x))
    bucket(lambda _, __, t: t.lower() if t else None)
    rest_a = [i for i in range(len(a)) if i not in pairs and titles_a[i]]
    rest_b = [j for j in range(len(b)) if j not in used_b and titles_b[j]]
    if rest_a and rest_b and len(rest_a) * len(rest_b) <= 40_000:
        scored = sorted(((similarity(titles_a[i], titles_b[j]), i, j) for i in rest_a for j in rest_b),
                        key=lambda s: (-s[0], s[1], s[2]))
        for score, i, j in scored:
            if i in pairs or j in used_b:
                continue
            ok = same_outcome(titles_a[i], titles_b[j]) if outcomes else score >= 0.5
            if ok:
                pairs[i] = j
                used_b.add(j)
    untitled_a = [i for i in range(len(a)) if i not in pairs and not titles_a[i]]
    untitled_b = [j for j in range(len(b)) if j not in used_b and not titles_b[j]]
    for i, j in zip(untitled_a, untitled_b, strict=False):
        pairs[i] = j
        used_b.add(j)
    out: list[tuple[int | None, int | None]] = [(i, pairs.get(i)) for i in range(len(a))]
    out += [(None, j) for j in range(len(b)) if j not in used_b]
    return out


def word_diff(a: str, b: str) -> list[tuple[str, str]] | None:
    """A word-by-word diff of two texts: ("=", same), ("-", removed), ("+", added) and
    ("…", "N unchanged words") for long unchanged stretches. None for short texts, which
    read best whole, and for texts too long to compare."""
    wa, wb = labels.plain(a).split(), labels.plain(b).split()
    if max(len(wa), len(wb)) <= LONG_TEXT_WORDS or max(len(wa), len(wb)) > MAX_WORDS:
        return None
    out: list[tuple[str, str]] = []
    ops = SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        if op == "equal":
            run = wa[i1:i2]
            head = CONTEXT_WORDS if n > 0 else 0  # words kept after the change before
            tail = CONTEXT_WORDS if n < len(ops) - 1 else 0  # and before the next one
            if len(run) > head + tail + 4:
                if head:
                    out.append(("=", " ".join(run[:head])))
                out.append(("…", f"{len(run) - head - tail:,} unchanged words"))
                if tail:
                    out.append(("=", " ".join(run[-tail:])))
            else:
                out.append(("=", " ".join(run)))
            continue
        if i2 > i1:
            out.append(("-", " ".join(wa[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(wb[j1:j2])))
    return out


def _shown(value: Any, key: str | None) -> str:
    if isinstance(value, dict) and not _atomic(value) and _leaves(value) > SMALL_SUBTREE:
        head = labels.item_title(value)
        n = _leaves(value)
        return (f"{head} ({n:,} values)" if head else f"{n:,} values")
    return labels.show(value, key=key)


def _jsonpath(path: tuple) -> str:
    out = "$"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out

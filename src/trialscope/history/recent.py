"""What is new or changed in the store, for a search: the core of feeds and saved searches.

Every store write takes the next sequence number (seq), and each study keeps the seq of
its last write. So the most recent changes are an index range scan on seq, newest first
(`Store.recent_changes`), never a scan of the store: they are read back a page at a time,
each page's NCT ids are matched against the search (one search restricted to those ids),
and the matches are described against the version before. A study counts as changed when
one of its key facts did (`history.summary`); an update of, say, a contact's phone number
alone is no entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..normalize import unescape_markdown
from . import labels
from .parts import Parts
from .versions import Version, versions

PAGE = 1000  # store changes read (and matched against the search: one search) at a time
FEED_SCAN = 5000  # a feed covers at most this many of the newest store changes
FEED_ENTRIES = 50
READ = 64  # matching studies read from the store at a time

Matcher = Callable[[list[str]], set[str]]  # NCT ids -> those the search matches


@dataclass(slots=True)
class ChangeEntry:
    nct_id: str
    seq: int
    kind: str  # "new", "updated" or "withdrawn"
    title: str
    status: str | None
    changed_at: str  # when the store took the change (ISO 8601, UTC)
    last_update: str  # the registry's last-update date of the current version
    facts: list[str] = field(default_factory=list)  # what changed (or, for a new study, what it is)
    from_version: int | None = None
    to_version: int | None = None

    @property
    def summary(self) -> str:
        head = {"new": "New study", "updated": "Updated", "withdrawn": "No longer on the registry"}[self.kind]
        return f"{head}: " + "; ".join(self.facts) if self.facts else head

    def as_json(self) -> dict:
        return {"nctId": self.nct_id, "seq": self.seq, "kind": self.kind, "title": self.title,
                "overallStatus": self.status, "changedAt": self.changed_at,
                "lastUpdate": self.last_update or None, "changes": self.facts, "summary": self.summary,
                "fromVersion": self.from_version, "toVersion": self.to_version}


def recent(store, match: Matcher, *, limit: int = FEED_ENTRIES, scan: int = FEED_SCAN,
           since_seq: int = 0, since_time: str | None = None,
           until_seq: int | None = None) -> tuple[list[ChangeEntry], int]:
    """The newest changes matching a search, newest first: (entries, changes scanned).

    Reads at most ``scan`` store changes, none at or before ``since_seq`` and none after
    ``until_seq``. With ``since_time`` (a saved search's last check) each study is described
    against the version it had then rather than against the version before the current one."""
    out: list[ChangeEntry] = []
    scanned = 0
    before: int | None = None if until_seq is None else until_seq + 1
    while scanned < scan and len(out) < limit:
        rows = [r for r in store.recent_changes(before, min(PAGE, scan - scanned)) if r[1] > since_seq]
        if not rows:
            break
        scanned += len(rows)
        before = rows[-1][1]
        matched = match([nct for nct, _ in rows])
        wanted = [(nct, seq) for nct, seq in rows if nct in matched]
        while wanted and len(out) < limit:  # read records only as far as entries are needed
            chunk, wanted = wanted[:READ], wanted[READ:]
            current = store.get_many([nct for nct, _ in chunk])
            for nct, seq in chunk:
                stored = current.get(nct)
                if stored is None or stored.seq != seq:
                    continue  # written again meanwhile: its newer change comes first
                entry = describe(store, stored, since_time)
                if entry is not None:
                    out.append(entry)
                    if len(out) >= limit:
                        break
    return out, scanned


def describe(store, stored, since_time: str | None = None) -> ChangeEntry | None:
    """A study's last change as an entry, or None when no key fact changed."""
    from . import step

    held = versions(store, stored.nct_id, current=stored)
    if not held:
        return None
    current = held[-1]
    ident = current.parts.get(("protocolSection", "identificationModule"))
    status = current.parts.get(("protocolSection", "statusModule"))
    entry = ChangeEntry(stored.nct_id, stored.seq, "new", title_of(ident, stored.nct_id),
                        _str((status or {}).get("overallStatus") if isinstance(status, dict) else None),
                        stored.ingested_at, current.last_update, to_version=current.number)
    if stored.withdrawn_at:
        entry.kind = "withdrawn"
        entry.facts = [f"not found on the registry since {stored.withdrawn_at[:10]}"]
        return entry
    base = baseline(held, since_time)
    if base is None:
        entry.facts = new_facts(current.parts)
        return entry
    if base is current:
        return None  # nothing but a mark changed, and no mark is set now
    changes = step(base, current)
    if not changes.key_facts_changed:
        return None
    entry.kind = "updated"
    entry.facts = changes.facts
    entry.from_version = base.number
    return entry


def baseline(held: list[Version], since_time: str | None) -> Version | None:
    """The version to describe the current one against: the one before it; or, for a
    saved search last checked at ``since_time``, the one that was current then. None when
    the study is new (since then).

    The study was written after the check (its seq says so), so the version current then
    has been filed in history since: the oldest version filed at or after the check time
    (that is newer than everything filed before it). Times are to the second, so a version
    filed in the second of the check counts as filed after it: a change is never missed,
    at worst described from one version earlier."""
    current = held[-1]
    if since_time is None:
        return held[-2] if len(held) > 1 else None
    before = [v for v in held[:-1] if v.stored_at < since_time]
    floor = before[-1].number if before else 0
    after = [v for v in held[:-1] if v.stored_at >= since_time and v.number > floor]
    if after:
        return after[0]
    if current.stored_at >= since_time:  # written since, replacing nothing then held: new
        return before[-1] if before else None
    return current  # the record is as it was: only a mark changed


def new_facts(parts: Parts) -> list[str]:
    """What a new study is, in a few words: status, phase, enrollment, conditions."""
    status = _get(parts, "statusModule").get("overallStatus")
    design = _get(parts, "designModule")
    phases = design.get("phases") or []
    phases = phases if isinstance(phases, list) else []
    enrollment = design.get("enrollmentInfo")
    conditions = _get(parts, "conditionsModule").get("conditions") or []
    conditions = [c for c in conditions if isinstance(c, str)] if isinstance(conditions, list) else []
    out = []
    if isinstance(status, str) and status:
        out.append(labels.show(status, key="overallStatus"))
    if phases and phases != ["NA"]:
        out.append(", ".join(labels.show(x, key="phases") for x in phases if isinstance(x, str)))
    if isinstance(enrollment, dict) and enrollment.get("count") is not None:
        out.append(f"enrollment {labels.show(enrollment, 60)}")
    if conditions:
        out.append("conditions: " + labels.show(conditions[:5], 200))
    return out


def _get(parts: Parts, module: str) -> dict:
    value = parts.get(("protocolSection", module))
    return value if isinstance(value, dict) else {}


def title_of(ident: dict | None, nct_id: str) -> str:
    """A study's title from its identification module (brief, else official)."""
    ident = ident if isinstance(ident, dict) else {}
    for key in ("briefTitle", "officialTitle"):
        value = ident.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(unescape_markdown(value).split())
    return f"Untitled study {nct_id}"


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def search_matcher(searcher, request_for: Callable[[list[str]], object]) -> Matcher:
    """A Matcher running ``request_for(ids)`` (a SearchRequest restricted to those ids)."""

    def match(ids: list[str]) -> set[str]:
        if not ids:
            return set()
        result = searcher.search(request_for(ids))
        return {h.nct_id for h in result.hits}

    return match


"""Saved searches: what is new or changed for each since its last check.

A saved search is a search (query and filters) with a name, kept in the store's meta table
(key ``watch:NAME``), so it lives in the store on both backends, travels with
`trialscope copy`, and needs no schema of its own. Beside the search it keeps the store's
sequence number and the time of its last check: `check` reports the studies written since
that seq that match the search and are new or had a key fact change (`history.recent`),
each against the version it had at the last check, then moves the mark on.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import orjson

from ..search import SearchRequest
from .recent import ChangeEntry, recent

PREFIX = "watch:"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
CHECK_SCAN = 200_000  # store changes one check reads at most (a first sync may write many)
CHECK_ENTRIES = 200  # entries one saved search reports at most per check
# the SearchRequest fields a saved search keeps (paging, sorting, facets are not the search)
SPEC_FIELDS = ("query", "fields", "status", "phase", "study_type", "intervention_type", "sponsor_class",
               "sex", "age", "healthy_volunteers", "country", "has_results", "dates", "near", "ids",
               "expand_mesh", "include_withdrawn", "lenient")


class WatchError(ValueError):
    """A saved search that does not exist, exists already, or has a bad name."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class Watch:
    name: str
    spec: dict[str, Any]  # SearchRequest fields that differ from the defaults
    created: str
    seq: int  # the store's seq at the last check (or when saved)
    checked_at: str

    def request(self, **extra: Any) -> SearchRequest:
        known = {f.name for f in fields(SearchRequest)}
        return SearchRequest(**{**{k: v for k, v in self.spec.items() if k in known}, **extra})

    def describe(self) -> str:
        """The search as `trialscope search` options."""
        spec = self.spec
        parts = [spec["query"]] if spec.get("query") else []
        parts += [f"--{k} {_quote(v)}" for k, v in (spec.get("fields") or {}).items()]
        for key, value in spec.items():
            if key in ("query", "fields"):
                continue
            flag = "--" + key.replace("_", "-")
            if key == "dates":
                parts += [f"--{d.replace('_', '-')} {lo or ''}..{hi or ''}" for d, (lo, hi) in value.items()]
            elif key == "near":
                parts.append(f"{flag} {value[0]},{value[1]},{value[2]}km")
            elif key in ("expand_mesh", "include_withdrawn"):
                parts.append({"expand_mesh": "--no-expand", "include_withdrawn": "--exclude-withdrawn"}[key])
            elif key == "lenient":
                parts.append(flag)
            elif isinstance(value, list):
                parts += [f"{flag} {_quote(str(v))}" for v in value]
            elif isinstance(value, bool):
                parts.append(f"{flag} {'yes' if value else 'no'}")
            else:
                parts.append(f"{flag} {_quote(str(value))}")
        return " ".join(parts) or "(every study)"

    def as_json(self) -> dict:
        return {"name": self.name, "search": self.describe(), "request": self.spec, "created": self.created,
                "lastCheckedSeq": self.seq, "lastChecked": self.checked_at}


def _quote(text: str) -> str:
    return f"'{text}'" if re.search(r"\s|[\"'()]", text) else text


def spec_of(req: SearchRequest) -> dict[str, Any]:
    default = asdict(SearchRequest())
    got = asdict(req)
    return {k: got[k] for k in SPEC_FIELDS if got[k] != default[k]}


def _load(name: str, raw: str) -> Watch:
    data = orjson.loads(raw)
    return Watch(name, data.get("spec") or {}, data.get("created") or "", int(data.get("seq") or 0),
                 data.get("checked_at") or "")


def _save(store, w: Watch) -> None:
    store.set_meta(PREFIX + w.name, orjson.dumps({"spec": w.spec, "created": w.created, "seq": w.seq,
                                                  "checked_at": w.checked_at}).decode())


def add(store, name: str, req: SearchRequest) -> Watch:
    if not NAME.match(name):
        raise WatchError(f"bad name {name!r}: 1 to 64 letters, digits, spaces, '_', '.' or '-', "
                         "starting with a letter or digit")
    if store.get_meta(PREFIX + name) is not None:
        raise WatchError(f"a saved search named {name!r} exists already (remove it first)")
    stamp = now()
    w = Watch(name, spec_of(req), stamp, store.max_seq(), stamp)
    _save(store, w)
    return w


def remove(store, name: str) -> None:
    if store.get_meta(PREFIX + name) is None:
        raise WatchError(f"no saved search named {name!r}")
    store.set_meta(PREFIX + name, None)


def saved(store, names: list[str] | None = None) -> list[Watch]:
    """The saved searches, by name (all of them, or those named, in that order)."""
    items = {k[len(PREFIX):]: v for k, v in store.meta_items().items() if k.startswith(PREFIX)}
    if names:
        missing = [n for n in names if n not in items]
        if missing:
            raise WatchError(f"no saved search named {missing[0]!r}")
        return [_load(n, items[n]) for n in names]
    return [_load(n, items[n]) for n in sorted(items)]


@dataclass(slots=True)
class CheckResult:
    watch: Watch
    entries: list[ChangeEntry]
    more: bool  # more entries than CHECK_ENTRIES (the newest are listed)
    scanned: int  # store changes read
    seq: int  # the store's seq this check covers up to
    since_seq: int  # the last check's (the watch moves on once this one is marked)
    since_time: str

    def as_json(self) -> dict:
        return {"name": self.watch.name, "search": self.watch.describe(),
                "since": {"seq": self.since_seq, "time": self.since_time},
                "untilSeq": self.seq, "entries": [e.as_json() for e in self.entries], "more": self.more}


def check(store, searcher, watches: list[Watch]) -> list[CheckResult]:
    """What is new or changed for each saved search since its last check (nothing is marked
    as seen here: `mark_checked` does that, once the results are delivered)."""
    until = store.max_seq()
    out = []
    for w in watches:
        entries, scanned = recent(store, _matcher(searcher, w), limit=CHECK_ENTRIES + 1,
                                  scan=CHECK_SCAN, since_seq=w.seq, since_time=w.checked_at,
                                  until_seq=until)
        out.append(CheckResult(w, entries[:CHECK_ENTRIES], len(entries) > CHECK_ENTRIES, scanned, until,
                               w.seq, w.checked_at))
    return out


def _matcher(searcher, w: Watch):
    """The saved search restricted to given NCT ids (and to its own ids, if it names some)."""
    own = set(w.spec.get("ids") or ())

    def match(ids: list[str]) -> set[str]:
        wanted = [i for i in ids if i in own] if own else ids
        if not wanted:
            return set()
        result = searcher.search(w.request(ids=wanted, limit=len(wanted), facets=False, snippets=False))
        return {h.nct_id for h in result.hits}

    return match


def mark_checked(store, results: list[CheckResult]) -> None:
    stamp = now()
    for r in results:
        r.watch.seq, r.watch.checked_at = r.seq, stamp
        _save(store, r.watch)

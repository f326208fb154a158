"""The outcome-switch flag as the search index stores it: computed from the store's versions
when a study is indexed, and again when an ingest files an older version of a study in
history (which changes its versions, not its current record, so no seq moves).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from .outcomes import outcome_switch
from .versions import versions

MARK = "history.flags.filed_since"  # meta: history filed from this time on is not indexed yet


def flagged(store, stored, with_history: set[str]) -> bool:
    """Whether a study (a StoredStudy) is outcome-switched; `with_history`: the NCT ids that
    have any version in history (the others cannot be)."""
    if stored.nct_id not in with_history:
        return False
    held = versions(store, stored.nct_id, current=stored)
    return len(held) > 1 and outcome_switch(held).flagged


def with_flags(store, studies: Iterable) -> Iterator[tuple[object, bool]]:
    """(study, flag) for each StoredStudy, reading the set of studies with history once."""
    have = store.history_ids()
    for s in studies:
        yield s, flagged(store, s, have)


def catch_up(store) -> int:
    """The AFTER_INGEST hook: re-index the studies an ingest or sync filed older versions of
    (their flag may have changed). Returns how many were re-indexed."""
    from ..index import reindex

    since = store.get_meta(MARK)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    ids = store.history_ids(since)
    if since is not None and ids:
        reindex(store, sorted(ids))
    store.set_meta(MARK, started)
    return len(ids) if since is not None else 0

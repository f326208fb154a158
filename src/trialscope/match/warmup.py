"""What `serve` prepares at start, in a low-priority child process, so that the first matches
on a new or grown store do not wait for it: the condition index (built whole: seconds at
20,000 studies, minutes at 500,000) and the typing of the criteria (~1.2 ms a candidate,
90-140 ms for a match)."""

from __future__ import annotations

import multiprocessing
import os
import signal

from ..index import conditions, criteria
from ..store import StoreUnavailable, open_store


def needed(url: str) -> bool:
    """Whether either piece has work to do for this store."""
    if criteria.untyped(url):
        return True
    try:
        store = open_store(url)
    except StoreUnavailable:
        return False
    try:
        return store.max_seq() > 0 and conditions.stale(store)
    finally:
        store.close()


def start(url: str):
    """Start the warm-up child; returns the process, or None when there is nothing to do.
    The child ends when done, or when its parent is gone."""
    if not needed(url):
        return None
    child = multiprocessing.get_context("fork").Process(target=_child, args=(url, os.getpid()),
                                                        name="match-warm-up", daemon=True)
    child.start()
    return child


def _child(url: str, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which ends this
    os.nice(10)
    try:
        store = open_store(url)
        try:
            conditions.catch_up(store)  # first: without it the first match builds it, and waits
            criteria.warm(store, workers=1, stop=lambda: os.getppid() != parent)
        finally:
            store.close()
    except Exception:  # a read-only folder, a store gone: the first matches build what they use
        return

"""The cyclic garbage collector paused around work that makes many short-lived objects.

Reference counting frees what a results page or a match allocates (10^5 small objects
that hold no cycles), but every 700 of them start a collector pass, and on a large heap
some of those passes walk every long-lived object: tens of ms for nothing. `serve` freezes
its start-up objects and raises the first threshold (web.app_factory); a library caller
or the CLI has no such settings, and its own heap can be large.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection meanwhile; whoever paused it turns it back on (so nested and
    concurrent pauses leave it as the outermost found it)."""
    was = gc.isenabled()
    if was:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

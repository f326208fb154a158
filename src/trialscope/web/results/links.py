"""The results section's own links: each changes one parameter of the page's query (sort,
show all) and keeps the rest."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


def query_params(query: Any) -> dict[str, str]:
    """The page's query as plain strings, from a mapping or starlette's QueryParams."""
    if not query:
        return {}
    try:
        items = query.items()
    except AttributeError:
        return {}
    out = {}
    for k, v in items:
        out[str(k)] = str(v)
    return out


def href(q: dict[str, str], anchor: str = "results-ae", **changes: str | None) -> str:
    """A link to this page with `changes` applied (None removes a parameter), at `anchor`."""
    merged = dict(q)
    for k, v in changes.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return ("?" + urlencode(merged) if merged else "?") + "#" + anchor

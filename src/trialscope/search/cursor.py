"""The page cursor: an opaque token that says where the next page of one search starts.

A token is base64url JSON `{"o": offset, "f": fingerprint}`, the fingerprint being a hash of
the request without its paging. Tokens are not secret: anyone can write one, so reading one
checks everything a hand-made token could get wrong, and the offset it carries is bounded
twice: by MAX_OFFSET here (so it is always a small integer) and by the size of the result
set when the search runs (`Searcher.search`), so a token can never ask for more work or
memory than paging through the results by hand would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import fields

import orjson

from .request import FilterError, SearchRequest

MAX_TOKEN_CHARS = 200
# above the size of the whole registry (about 570,000 studies); offsets are also capped to
# the result size when the search runs
MAX_OFFSET = 10_000_000
_FINGERPRINT = re.compile(r"^[0-9a-f]{12}$")
_UNPAGED = ("page_token", "limit", "facets", "snippets")
_PAGED = tuple(f.name for f in fields(SearchRequest) if f.name not in _UNPAGED)


def fingerprint(req: SearchRequest) -> str:
    """What identifies a search across its pages: everything but the paging options (a
    shallow dict: the same JSON as dataclasses.asdict, without its deep copy, ~10x the cost)."""
    d = {name: getattr(req, name) for name in _PAGED}
    return hashlib.sha1(orjson.dumps(d, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:12]


def make_token(offset: int, fp: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "f": fp})).decode().rstrip("=")


def _bad(token: str, message: str) -> FilterError:
    return FilterError("page_token", ["a next_page_token from a previous page of the same search"],
                       token, message)


def read_token(token: str | None, fp: str) -> int:
    """The offset a token points at (0 for none); FilterError for anything else."""
    if not token:
        return 0
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise _bad(str(token)[:40], f"page_token is longer than {MAX_TOKEN_CHARS} characters")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _bad(token, "page_token is not a token this search returned") from None
    offset = data.get("o") if isinstance(data, dict) else None
    fp_in = data.get("f") if isinstance(data, dict) else None
    if (type(offset) is not int or not isinstance(fp_in, str) or not _FINGERPRINT.match(fp_in)
            or set(data) != {"o", "f"}):
        raise _bad(token, "page_token is not a token this search returned")
    if fp_in != fp:
        raise _bad(token, "page_token belongs to a different query or filters")
    if not 0 <= offset <= MAX_OFFSET:
        raise _bad(token, f"page_token offset is out of range (0 to {MAX_OFFSET:,})")
    return offset


def past_end(token: str | None, offset: int, total: int) -> FilterError:
    return _bad(token or "", f"page_token points past the end of the results "
                             f"(offset {offset:,}, {total:,} matches)")

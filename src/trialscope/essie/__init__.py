"""The query language: Essie (the registry's syntax) with trialscope's short forms.

`parse(text)` gives the tree (`essie.ast`); `essie.areas` is the one registry of the search
areas and pieces a query can name; `trialscope.search.compile` turns a tree into a tantivy
query over the full-text index.
"""

from .ast import (
    And,
    Leaf,
    MatchAll,
    Missing,
    Node,
    Not,
    Or,
    Phrase,
    QueryError,
    Range,
    Search,
    Term,
    to_string,
)
from .lexer import FIELDS
from .parser import MAX_ALL_REQUIRED, MAX_DEPTH, parse

__all__ = [
    "parse", "to_string", "QueryError", "Node", "Leaf", "Term", "Phrase", "Range", "Missing", "And", "Or",
    "Not", "Search", "MatchAll", "FIELDS", "MAX_DEPTH", "MAX_ALL_REQUIRED",
]

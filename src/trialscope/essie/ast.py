"""The query tree that every query surface shares (search box, CLI, query.*, filter.advanced).

Leaves carry their whole context (the area or piece they search, EXPANSION, COVERAGE), pushed
down by the parser, so the compiler sees one leaf at a time and never walks back up.
`field` is None (every text field), a trialscope field name (`cond`), an Essie search area
(`ConditionSearch`) or a piece of the study structure (`Phase`); `essie.areas` resolves it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

EXPANSIONS = ("None", "Term", "Concept", "Relaxation", "Lossy")
COVERAGES = ("FullMatch", "StartsWith", "EndsWith", "Contains")
DEFAULT_EXPANSION = "Relaxation"
DEFAULT_COVERAGE = "Contains"


class QueryError(ValueError):
    """A malformed or unevaluable query. `position` is the 0-based character offset of the
    problem (None when it is not one place); `param` names the request parameter, when known."""

    def __init__(self, message: str, position: int | None = None, param: str | None = None):
        self.message = message
        self.position = position
        self.param = param
        super().__init__(self._text())

    def _text(self) -> str:
        text = self.message if self.position is None else f"{self.message} at position {self.position}"
        return f"{self.param}: {text}" if self.param else text

    def with_param(self, param: str) -> QueryError:
        self.param = param
        self.args = (self._text(),)
        return self


@dataclass
class Term:
    text: str
    field: str | None = None
    prefix: bool = False
    expansion: str = DEFAULT_EXPANSION
    coverage: str = DEFAULT_COVERAGE
    pos: int = dataclasses.field(default=0, compare=False)


@dataclass
class Phrase:
    text: str
    field: str | None = None
    expansion: str = DEFAULT_EXPANSION
    coverage: str = DEFAULT_COVERAGE
    pos: int = dataclasses.field(default=0, compare=False)


@dataclass
class Range:
    """RANGE[lo,hi] on a date, number or age piece; MIN / MAX (or empty) are open ends."""

    lo: str
    hi: str
    field: str | None = None
    pos: int = dataclasses.field(default=0, compare=False)


@dataclass
class Missing:
    """AREA[piece]MISSING: studies without a value for the piece."""

    field: str | None = None
    pos: int = dataclasses.field(default=0, compare=False)


@dataclass
class And:
    children: list = dataclasses.field(default_factory=list)
    implicit: bool = False  # words side by side, no operator


@dataclass
class Or:
    children: list = dataclasses.field(default_factory=list)


@dataclass
class Not:
    child: object


@dataclass
class Search:
    """SEARCH[Location](...): every condition inside holds within one element (one site)."""

    group: str
    child: object
    pos: int = dataclasses.field(default=0, compare=False)


@dataclass
class MatchAll:
    pass


Node = Term | Phrase | Range | Missing | And | Or | Not | Search | MatchAll
Leaf = Term | Phrase | Range | Missing


def to_string(node: Node) -> str:
    """A canonical text form (for tests and debugging)."""
    def ctx(n) -> str:
        out = ""
        if getattr(n, "expansion", DEFAULT_EXPANSION) != DEFAULT_EXPANSION:
            out += f"EXPANSION[{n.expansion}]"
        if getattr(n, "coverage", DEFAULT_COVERAGE) != DEFAULT_COVERAGE:
            out += f"COVERAGE[{n.coverage}]"
        return out + (n.field + ":" if n.field else "")

    if isinstance(node, Term):
        return f"{ctx(node)}{node.text}{'*' if node.prefix else ''}"
    if isinstance(node, Phrase):
        return f'{ctx(node)}"{node.text}"'
    if isinstance(node, Range):
        return f"{ctx(node)}RANGE[{node.lo},{node.hi}]"
    if isinstance(node, Missing):
        return f"{ctx(node)}MISSING"
    if isinstance(node, And):
        return "(" + (" " if node.implicit else " AND ").join(map(to_string, node.children)) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(map(to_string, node.children)) + ")"
    if isinstance(node, Not):
        return "NOT " + to_string(node.child)
    if isinstance(node, Search):
        return f"SEARCH[{node.group}]{to_string(node.child)}"
    return "*"

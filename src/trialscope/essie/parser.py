"""Essie (the registry's query syntax) and trialscope's short forms, parsed into one tree.

    hepatocellular carcinoma immunotherapy     words side by side (all required while few;
                                               a long text such as a patient note ranks by BM25)
    "liver cancer"                             phrase
    a OR b, a AND b, NOT a, a NOT b, -a        boolean operators, upper case; precedence from
                                               high to low: terms and RANGE/MISSING, NOT and the
                                               context operators, AND, OR
    (a OR b) c                                 grouping
    AREA[Condition]"liver cancer"              search one piece (Condition, Phase, LocationZip…)
    AREA[ConditionSearch](liver OR hcc)        or one search area (BasicSearch, ConditionSearch…)
    AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX], AREA[MinimumAge]RANGE[MIN, 16 years]
    AREA[ResultsFirstPostDate]MISSING          studies without the piece
    AREA[StartDate]2022                        a date piece matches the dates within 2022
    SEARCH[Location](AREA[LocationCity]Portland AND AREA[LocationState]Maine)   one site
    EXPANSION[None|Term|Concept|Relaxation|Lossy] x, COVERAGE[FullMatch|StartsWith|EndsWith|Contains] x
    cond:"liver cancer" intr:sorafenib hepat*  trialscope's short forms: fields, prefixes

A context operator applies to the term or group right after it and is pushed down onto its
leaves. Nesting (parentheses, NOT, operators, fields) is bounded by MAX_DEPTH, so no input
can exhaust the stack; deeper is a QueryError naming the position. `parse(text,
lenient=True)` never raises: on any error it reads the text as plain words (patient notes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from . import areas
from .ast import (
    COVERAGES,
    DEFAULT_COVERAGE,
    DEFAULT_EXPANSION,
    EXPANSIONS,
    And,
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
)
from .lexer import FIELDS, Tok, lex

MAX_ALL_REQUIRED = 6  # bare words beyond this are ranked, not all required
MAX_DEPTH = 32  # nested parentheses, NOTs, operators and fields; deeper is an error
_PREFIX_RE = re.compile(r"^\w{2,}\*$", re.UNICODE)


@dataclass(frozen=True)
class _Scope:
    field: str | None = None
    expansion: str = DEFAULT_EXPANSION
    coverage: str = DEFAULT_COVERAGE
    area_pos: int | None = None  # set right after AREA[...]: RANGE / MISSING may follow
    sugar: str | None = None  # inside cond: ... (no other short field may nest)
    group: str | None = None  # inside SEARCH[group](...)


def _canonical(name: str, pos: int, group: str | None) -> str:
    found = areas.area(name) if name not in areas.SUGAR else None
    if found is not None:
        if group:
            raise QueryError(f"AREA[{name}] inside SEARCH[{group}]: only the group's pieces "
                             f"({', '.join(areas.GROUPS[group])})", pos)
        return found.name
    p = areas.piece(name)
    if p is None:
        raise QueryError(f"unknown area {name!r} (a search area such as ConditionSearch, or a piece "
                         "such as Condition, Phase, StartDate, LocationCity)", pos)
    if group and p.name not in areas.GROUPS[group]:
        raise QueryError(f"AREA[{p.name}] inside SEARCH[{group}]: only the group's pieces "
                         f"({', '.join(areas.GROUPS[group])})", pos)
    return p.name


class _Parser:
    def __init__(self, toks: list[Tok], text: str):
        self.toks = toks
        self.i = 0
        self.text = text
        self.depth = 0

    def nest(self, tok: Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"query nests more than {MAX_DEPTH} levels (parentheses, NOT, operators or fields)",
                             tok.pos)

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self, scope: _Scope) -> Node:
        if not self.toks:
            return MatchAll()
        node = self.or_expr(scope)
        tok = self.peek()
        if tok is not None:
            if tok.kind == "RPAREN":
                raise QueryError("unmatched ')'", tok.pos)
            raise QueryError(f"unexpected {tok.value!r}", tok.pos)
        return node

    def _needs_right(self, tok: Tok) -> None:
        nxt = self.peek()
        if nxt is None or nxt.kind in ("RPAREN", "OR", "AND"):
            raise QueryError(f"{tok.value} needs something on its right", tok.pos)

    def or_expr(self, scope: _Scope) -> Node:
        children = [self.and_expr(scope)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            self._needs_right(tok)
            children.append(self.and_expr(scope))
        return children[0] if len(children) == 1 else Or(children)

    def and_expr(self, scope: _Scope) -> Node:
        """Words side by side form one implicit group (a multi-word term); explicit ANDs join
        groups: `dizziness AND shortness of breath` is dizziness AND (shortness of breath)."""
        tok = self.peek()
        if tok is not None and tok.kind in ("AND", "OR"):
            raise QueryError(f"{tok.kind} needs something on its left", tok.pos)
        groups: list[list[Node]] = [[self.unary(scope)]]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RPAREN"):
            if tok.kind == "AND":
                self.take()
                self._needs_right(tok)
                groups.append([])
            groups[-1].append(self.unary(scope))
        parts = [g[0] if len(g) == 1 else And(g, implicit=True) for g in groups]
        return parts[0] if len(parts) == 1 else And(parts)

    def unary(self, scope: _Scope) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("query ends too early", len(self.text))
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            self._needs_right(tok)
            self.nest(tok)
            node = Not(self.unary(replace(scope, area_pos=None)))
            self.depth -= 1
            return node
        if tok.kind == "OP" and tok.value in ("AREA", "SEARCH", "EXPANSION", "COVERAGE", "TILT"):
            self.take()
            self._needs_right(tok)
            self.nest(tok)
            node = self.unary(self.context(tok, scope))
            if tok.value == "SEARCH":
                node = Search(tok.arg, node, tok.pos)
            self.depth -= 1
            return node
        return self.primary(scope)

    def context(self, tok: Tok, scope: _Scope) -> _Scope:
        op, arg = tok.value, tok.arg
        if op == "AREA":
            if not arg:
                raise QueryError("AREA[] needs an area or piece name", tok.pos)
            return replace(scope, field=_canonical(arg, tok.pos, scope.group), area_pos=tok.pos)
        if op == "SEARCH":
            group = next((g for g in areas.GROUPS if g.lower() == arg.lower()), None)
            if group is None:
                raise QueryError(f"unknown SEARCH[{arg}] (known: {', '.join(areas.GROUPS)})", tok.pos)
            if scope.group:
                raise QueryError(f"SEARCH[{group}] inside SEARCH[{scope.group}]", tok.pos)
            return replace(scope, group=group, field=None, area_pos=None)
        if op == "EXPANSION":
            value = next((v for v in EXPANSIONS if v.lower() == arg.lower()), None)
            if value is None:
                raise QueryError(f"unknown EXPANSION[{arg}] (known: {', '.join(EXPANSIONS)})", tok.pos)
            return replace(scope, expansion=value, area_pos=None)
        if op == "COVERAGE":
            value = next((v for v in COVERAGES if v.lower() == arg.lower()), None)
            if value is None:
                raise QueryError(f"unknown COVERAGE[{arg}] (known: {', '.join(COVERAGES)})", tok.pos)
            return replace(scope, coverage=value, area_pos=None)
        # TILT[date piece]: a ranking bias toward recent dates; the order is by relevance here
        p = areas.piece(arg)
        if p is None or p.type != "date":
            raise QueryError(f"TILT[{arg}] needs a date piece such as StartDate", tok.pos)
        return replace(scope, area_pos=None)

    def primary(self, scope: _Scope) -> Node:
        tok = self.take()
        if tok.kind == "FIELD":
            if scope.sugar is not None and scope.sugar != tok.value:
                raise QueryError(f"field {tok.value}: inside {scope.sugar}:", tok.pos)
            if scope.group:
                raise QueryError(f"field {tok.value}: inside SEARCH[{scope.group}]", tok.pos)
            nxt = self.peek()
            if nxt is None or nxt.kind in ("RPAREN", "OR", "AND"):
                raise QueryError(f"{tok.value}: needs a value", tok.pos)
            inner = replace(scope, field=tok.value, sugar=tok.value, area_pos=None)
            self.nest(tok)
            node = self.unary(inner) if self.peek().kind in ("NOT", "MINUS", "OP") else self.primary(inner)
            self.depth -= 1
            return node
        if tok.kind == "LPAREN":
            if self.peek() is None:
                raise QueryError("unclosed parenthesis", tok.pos)
            if self.peek().kind == "RPAREN":
                raise QueryError("empty parentheses", tok.pos)
            self.nest(tok)
            node = self.or_expr(replace(scope, area_pos=None))
            self.depth -= 1
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise QueryError("unclosed parenthesis", tok.pos)
            self.take()
            return node
        if tok.kind == "RPAREN":
            raise QueryError("unmatched ')'", tok.pos)
        if tok.kind == "OP":  # RANGE[...]
            if scope.area_pos is None:
                raise QueryError("RANGE[] needs an AREA[piece] right before it", tok.pos)
            lo, sep, hi = tok.arg.partition(",")
            if not sep or "," in hi:
                raise QueryError("RANGE[] takes two bounds: RANGE[low, high] (MIN and MAX for open ends)", tok.pos)
            return Range(lo.strip(), hi.strip(), scope.field, tok.pos)
        kw = {"field": scope.field, "expansion": scope.expansion, "coverage": scope.coverage, "pos": tok.pos}
        if tok.kind == "PHRASE":
            return Phrase(tok.value, **kw)
        if tok.kind == "WORD":
            if scope.area_pos is not None and not tok.escaped and tok.value in ("MISSING", "ALL"):
                return Missing(scope.field, tok.pos) if tok.value == "MISSING" else MatchAll()
            if not tok.escaped and _PREFIX_RE.match(tok.value):
                return Term(tok.value[:-1], prefix=True, **kw)
            return Term(tok.value, **kw)
        raise QueryError(f"unexpected {tok.value!r}", tok.pos)


def parse(text: str, default_field: str | None = None, lenient: bool = False) -> Node:
    """Parse a query; `default_field` is the field bare words search (a short name such as
    `cond`, a search area or a piece). See the module docstring."""
    scope = _Scope()
    if default_field is not None:
        if default_field in FIELDS:
            scope = _Scope(field=default_field)
        elif areas.resolve(default_field) is not None:
            scope = _Scope(field=_canonical(default_field, 0, None))
        else:
            raise QueryError(f"unknown field {default_field!r} (known: {', '.join(FIELDS)})")
    try:
        return _Parser(lex(text), text).parse(scope)
    except QueryError:
        if not lenient:
            raise
        words = [Term(w, scope.field) for w in re.split(r"[\s()\"]+", text) if w]
        if not words:
            return MatchAll()
        return words[0] if len(words) == 1 else And(words, implicit=True)

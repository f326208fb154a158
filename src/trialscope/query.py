"""The registry query language, parsed into a small tree.

    hepatocellular carcinoma immunotherapy        words (up to 6 are all required; a longer
                                                  text, e.g. a patient note, ranks by BM25
                                                  with any word matching)
    "liver cancer"                                phrase
    sorafenib OR lenvatinib, a AND b, NOT x, -x   boolean operators (upper case only)
    hepat*                                        prefix
    (a OR b) c                                    grouping
    cond:"liver cancer" intr:sorafenib            fielded: cond intr term title titles outc
    spons:pfizer lead:... loc:boston id:NCT...    spons lead loc locn id kw elig summary

Lenient where text is not syntax: lower-case `and`/`or`/`not` are words, a colon after a
word that is not a field name (`Diagnosis: HCC`, `BP 120/80`, `10:30`) is text, brackets and
asterisks inside words (`[**2148-10-1**]`) are text. Real syntax errors (an unclosed quote or
parenthesis, a dangling operator, `unknown:"..."`) raise `QueryError` with the position
(0-based character offset). `parse(text, lenient=True)` never raises: on a syntax error it
reads the text as plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIELDS = (
    "cond", "intr", "term", "title", "titles", "outc", "spons", "lead", "loc", "locn", "id",
    "kw", "elig", "summary",
)
MAX_ALL_REQUIRED = 6  # bare words beyond this are ranked, not all required
MAX_DEPTH = 32  # nested parentheses and NOTs; deeper is an error (the parser recurses)


class QueryError(ValueError):
    """A malformed query; `position` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message if position is None else f"{message} at position {position}")
        self.position = position


@dataclass
class Term:
    text: str
    field: str | None = None
    prefix: bool = False


@dataclass
class Phrase:
    text: str
    field: str | None = None


@dataclass
class And:
    children: list = field(default_factory=list)
    implicit: bool = False  # words side by side, no operator


@dataclass
class Or:
    children: list = field(default_factory=list)


@dataclass
class Not:
    child: object


@dataclass
class MatchAll:
    pass


Node = Term | Phrase | And | Or | Not | MatchAll

_FIELD_RE = re.compile(r"^([a-z]+):")
_PREFIX_RE = re.compile(r"^\w{2,}\*$", re.UNICODE)


@dataclass
class _Tok:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT MINUS FIELD
    value: str
    pos: int


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise QueryError("unclosed quote", i)
            toks.append(_Tok("PHRASE", text[i + 1 : j], i))
            i = j + 1
            continue
        if c == "(":
            toks.append(_Tok("LPAREN", c, i))
            i += 1
            continue
        if c == ")":
            toks.append(_Tok("RPAREN", c, i))
            i += 1
            continue
        if c == "-" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] in '"(') and (
            i == 0 or text[i - 1].isspace() or text[i - 1] == "("
        ):
            toks.append(_Tok("MINUS", c, i))
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in '()"':
            j += 1
        word = text[i:j]
        m = _FIELD_RE.match(word)
        if m:
            name, rest = m.group(1), word[m.end():]
            after = text[j] if j < n else ""
            if name in FIELDS:
                toks.append(_Tok("FIELD", name, i))
                if rest:
                    toks.append(_Tok("WORD", rest, i + m.end()))
                i = j
                continue
            if not rest and after in ('"', "("):
                raise QueryError(f"unknown field {name!r} (known: {', '.join(FIELDS)})", i)
        if word in ("AND", "OR", "NOT"):
            toks.append(_Tok(word, word, i))
        else:
            toks.append(_Tok("WORD", word, i))
        i = j
    return toks


class _Parser:
    def __init__(self, toks: list[_Tok], text: str, default_field: str | None):
        self.toks = toks
        self.i = 0
        self.text = text
        self.default_field = default_field
        self.depth = 0

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"query nests more than {MAX_DEPTH} levels (parentheses, NOT or fields)", tok.pos)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            return MatchAll()
        node = self.or_expr(None)
        tok = self.peek()
        if tok is not None:
            if tok.kind == "RPAREN":
                raise QueryError("unmatched ')'", tok.pos)
            raise QueryError(f"unexpected {tok.value!r}", tok.pos)
        return node

    def or_expr(self, fld: str | None) -> Node:
        children = [self.and_expr(fld)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            if self.peek() is None or self.peek().kind in ("RPAREN", "OR", "AND"):
                raise QueryError("OR needs something on its right", tok.pos)
            children.append(self.and_expr(fld))
        return children[0] if len(children) == 1 else Or(children)

    def and_expr(self, fld: str | None) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind in ("AND", "OR"):
            raise QueryError(f"{tok.kind} needs something on its left", tok.pos)
        children = [self.unary(fld)]
        explicit = False
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RPAREN"):
            if tok.kind == "AND":
                self.take()
                nxt = self.peek()
                if nxt is None or nxt.kind in ("RPAREN", "OR", "AND"):
                    raise QueryError("AND needs something on its right", tok.pos)
                explicit = True
            children.append(self.unary(fld))
        if len(children) == 1:
            return children[0]
        return And(children, implicit=not explicit)

    def unary(self, fld: str | None) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("query ends too early", len(self.text))
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("RPAREN", "OR", "AND"):
                raise QueryError(f"{tok.value} needs something on its right", tok.pos)
            self.nest(tok)
            node = Not(self.unary(fld))
            self.depth -= 1
            return node
        return self.primary(fld)

    def primary(self, fld: str | None) -> Node:
        tok = self.take()
        if tok.kind == "FIELD":
            if fld is not None and fld != tok.value:
                raise QueryError(f"field {tok.value}: inside {fld}:", tok.pos)
            nxt = self.peek()
            if nxt is None or nxt.kind in ("RPAREN", "OR", "AND"):
                raise QueryError(f"{tok.value}: needs a value", tok.pos)
            self.nest(tok)
            node = self.unary(tok.value) if nxt.kind in ("NOT", "MINUS") else self.primary(tok.value)
            self.depth -= 1
            return node
        if tok.kind == "LPAREN":
            if self.peek() is None:
                raise QueryError("unclosed parenthesis", tok.pos)
            if self.peek().kind == "RPAREN":
                raise QueryError("empty parentheses", tok.pos)
            self.nest(tok)
            node = self.or_expr(fld)
            self.depth -= 1
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise QueryError("unclosed parenthesis", tok.pos)
            self.take()
            return node
        if tok.kind == "RPAREN":
            raise QueryError("unmatched ')'", tok.pos)
        target = fld or self.default_field
        if tok.kind == "PHRASE":
            return Phrase(tok.value, target)
        if tok.kind == "WORD":
            if _PREFIX_RE.match(tok.value):
                return Term(tok.value[:-1], target, prefix=True)
            return Term(tok.value, target)
        raise QueryError(f"unexpected {tok.value!r}", tok.pos)


def parse(text: str, default_field: str | None = None, lenient: bool = False) -> Node:
    """Parse the query language; see the module docstring."""
    if default_field is not None and default_field not in FIELDS:
        raise QueryError(f"unknown field {default_field!r} (known: {', '.join(FIELDS)})")
    try:
        return _Parser(_lex(text), text, default_field).parse()
    except QueryError:
        if not lenient:
            raise
        words = [Term(w, default_field) for w in re.split(r"[\s()\"]+", text) if w]
        if not words:
            return MatchAll()
        return words[0] if len(words) == 1 else And(words, implicit=True)


def to_string(node: Node) -> str:
    """A canonical text form (for tests and debugging)."""
    if isinstance(node, Term):
        return f"{node.field + ':' if node.field else ''}{node.text}{'*' if node.prefix else ''}"
    if isinstance(node, Phrase):
        return f'{node.field + ":" if node.field else ""}"{node.text}"'
    if isinstance(node, And):
        return "(" + (" " if node.implicit else " AND ").join(map(to_string, node.children)) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(map(to_string, node.children)) + ")"
    if isinstance(node, Not):
        return "NOT " + to_string(node.child)
    return "*"

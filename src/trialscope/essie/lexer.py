"""Tokens of the query language: Essie's operators and trialscope's short forms.

Lenient where text is not syntax: lower-case `and`/`or`/`not` are words; a colon after a word
that is not a field name (`Diagnosis: HCC`, `10:30`) is text; brackets inside words
(`[**2148-10-1**]`) are text; only the upper-case operators directly followed by `[`
(`AREA[`, `SEARCH[`, `EXPANSION[`, `COVERAGE[`, `TILT[`, `RANGE[`) are operators. A backslash
makes the next word or quote literal (`\\MISSING`, `\\"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .ast import QueryError

FIELDS = (
    "cond", "intr", "term", "title", "titles", "outc", "spons", "lead", "loc", "locn", "id",
    "kw", "elig", "summary",
)
BRACKET_OPS = ("AREA", "SEARCH", "EXPANSION", "COVERAGE", "TILT", "RANGE")
_FIELD_RE = re.compile(r"^([a-z]+):")
_OP_RE = re.compile(r"(AREA|SEARCH|EXPANSION|COVERAGE|TILT|RANGE)\[")
MAX_OP_ARG = 200


@dataclass
class Tok:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT MINUS FIELD OP
    value: str
    pos: int
    arg: str = ""  # OP: what is inside the brackets
    escaped: bool = False  # WORD: written with a backslash, never an operator


def lex(text: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n and text[j + 1] == '"':
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise QueryError("unclosed quote", i)
            toks.append(Tok("PHRASE", "".join(buf), i))
            i = j + 1
            continue
        if c in "()":
            toks.append(Tok("LPAREN" if c == "(" else "RPAREN", c, i))
            i += 1
            continue
        if c == "-" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] in '"(') and (
            i == 0 or text[i - 1].isspace() or text[i - 1] == "("
        ):
            toks.append(Tok("MINUS", c, i))
            i += 1
            continue
        m = _OP_RE.match(text, i)
        if m:
            close = text.find("]", m.end())
            if close < 0 or close - m.end() > MAX_OP_ARG:
                raise QueryError(f"unclosed {m.group(1)}[", i)
            toks.append(Tok("OP", m.group(1), i, arg=text[m.end():close].strip()))
            i = close + 1
            continue
        escaped = c == "\\" and i + 1 < n and not text[i + 1].isspace()
        start = i + 1 if escaped else i
        j = start
        while j < n and not text[j].isspace() and text[j] not in '()"':
            if j > start and _OP_RE.match(text, j) and text[j - 1] in "]":
                break  # AREA[a]AREA[b]...: operators written back to back
            j += 1
        word = text[start:j]
        if escaped and j < n and text[j] == '"' and not word:
            # \" outside a phrase: a literal quote
            toks.append(Tok("WORD", '"', i, escaped=True))
            i = j + 1
            continue
        if not escaped:
            fm = _FIELD_RE.match(word)
            if fm:
                name, rest = fm.group(1), word[fm.end():]
                after = text[j] if j < n else ""
                if name in FIELDS:
                    toks.append(Tok("FIELD", name, i))
                    if rest:
                        toks.append(Tok("WORD", rest, i + fm.end()))
                    i = j
                    continue
                if not rest and after in ('"', "("):
                    raise QueryError(f"unknown field {name!r} (known: {', '.join(FIELDS)})", i)
            if word in ("AND", "OR", "NOT"):
                toks.append(Tok(word, word, i))
                i = j
                continue
        if word:
            toks.append(Tok("WORD", word, i, escaped=escaped))
        i = j
    return toks

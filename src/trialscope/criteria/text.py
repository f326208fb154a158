"""Text folding shared by criteria typing and patient-note reading.

Registries write the same comparison many ways (`＜ 2`, `\\< 2`, `≧18`, `=<`, `no greater
than`) and numbers with thousands separators or decimal commas. `clean` folds the symbols so
the typing rules see one spelling; `number` and `comparator` read what they mean.
"""

from __future__ import annotations

import re
import unicodedata

from ..normalize import unescape_markdown

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPER_RUN = re.compile(r"([0-9])\s?([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)")
# Symbols NFKC leaves alone (or that need a specific spelling), folded after it.
_SYMBOLS = {
    "≧": "≥", "⩾": "≥", "≦": "≤", "⩽": "≤", "\u2264": "≤", "\u2265": "≥",
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-",
    "\u00d7": "×", "\u2715": "×", "\u2716": "×",
    "\u03bc": "µ",  # Greek mu -> micro sign: one spelling of µmol/L
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
    "\u00a0": " ", "\u3000": " ", "\u3001": ",", "\u3002": ".",
}
_SYMBOL_TABLE = str.maketrans(_SYMBOLS)
_ASCII_COMPARATORS = re.compile(r">\s?=|=\s?>|<\s?=|=\s?<|\+/-")
_ASCII_FOLD = {">=": "≥", "=>": "≥", "<=": "≤", "=<": "≤", "+/-": "±"}
_SPACES = re.compile(r"[ \t\r\f\v]+")


def fold(text: str) -> str:
    """Full-width forms, comparison symbols and superscripts in one spelling.

    `＜ 2` -> `< 2`, `≧18` -> `≥18`, `10⁹/L` -> `10^9/L`, `>=` -> `≥`; the length may change.
    """
    if not text.isascii():
        text = _SUPER_RUN.sub(lambda m: m.group(1) + "^" + m.group(2).translate(_SUPERSCRIPT), text)
        text = unicodedata.normalize("NFKC", text).translate(_SYMBOL_TABLE)
    if "=" in text or "+/-" in text:
        text = _ASCII_COMPARATORS.sub(lambda m: _ASCII_FOLD[re.sub(r"\s", "", m.group(0))], text)
    return text


def clean(text: str) -> str:
    """A criterion or note as plain, folded text: markdown escapes gone, spaces collapsed."""
    return _SPACES.sub(" ", fold(unescape_markdown(text))).strip()


def lower(text: str) -> str:
    """Lower case with the same length (and so the same offsets) as `text`."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


# A number as people write it: 1,500 and 1 500 (thousands), 1.5 and 1,5 (decimal), 10^9.
NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+(?:[.,][0-9]+)?|\.[0-9]+)"


def number(text: str) -> float | None:
    """`1,500` -> 1500, `1,5` -> 1.5, `0.5` -> 0.5; None for anything else."""
    t = text.strip()
    t = t.replace(",", "") if re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+", t) else t.replace(",", ".")
    try:
        return float(t)
    except ValueError:
        return None


# Comparators in words and symbols, longest first; each maps to < <= > >= =.
_COMPARATOR_WORDS = [
    ("greater than or equal to", ">="), ("more than or equal to", ">="),
    ("less than or equal to", "<="), ("equal to or greater than", ">="),
    ("equal to or more than", ">="), ("equal to or less than", "<="), ("equal or greater than", ">="),
    ("equal or less than", "<="), ("no greater than", "<="), ("not greater than", "<="),
    ("no more than", "<="), ("not more than", "<="), ("not exceeding", "<="),
    ("not to exceed", "<="), ("does not exceed", "<="), ("no higher than", "<="),
    ("not higher than", "<="), ("no less than", ">="), ("not less than", ">="),
    ("no lower than", ">="), ("not lower than", ">="), ("at least", ">="), ("at most", "<="),
    ("a minimum of", ">="), ("minimum of", ">="), ("minimum", ">="), ("a maximum of", "<="),
    ("maximum of", "<="), ("maximum", "<="), ("up to", "<="), ("or more", ">="),
    ("greater than", ">"), ("more than", ">"), ("higher than", ">"), ("larger than", ">"),
    ("in excess of", ">"), ("exceeding", ">"), ("exceeds", ">"), ("above", ">"), ("over", ">"),
    ("less than", "<"), ("lower than", "<"), ("fewer than", "<"), ("below", "<"),
    ("under", "<"), ("≥", ">="), ("≤", "<="), (">", ">"), ("<", "<"), ("=", "="), ("of", "="),
    ("is", "="), (":", "="),
]
COMPARATOR = "(?:" + "|".join(re.escape(w) for w, _ in _COMPARATOR_WORDS) + ")"
_COMPARATOR_MAP = dict(_COMPARATOR_WORDS)


def comparator(text: str) -> str:
    """The comparator a matched phrase means ("no greater than" -> "<="); "=" when unknown."""
    return _COMPARATOR_MAP.get(_SPACES.sub(" ", text.strip().lower()), "=")


def flip(op: str) -> str:
    """The comparator with its sides swapped ("18 < age" is "age > 18")."""
    return {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)


def negate(op: str) -> str:
    """The comparator that holds when `op` does not ("not > 3" is "<= 3")."""
    return {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}.get(op, op)

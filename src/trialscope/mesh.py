"""MeSH vocabulary: descriptor names, the 2019 trees, and free text -> descriptor lookup.

Registries and patients write conditions as they like ("HCC", "liver cancer", "Carcinoma,
Hepatocellular"); search and similarity need the MeSH descriptors behind them and the tree
around those. The data ships in `trialscope/data/mesh/` (built by `scripts/build_mesh.py`):

- `descriptors.tsv.gz`: `ui<TAB>name<TAB>tree numbers` (space separated; ui may be empty for
  names only the 2019 trees know, tree numbers empty for descriptors newer than them);
- `terms.tsv.gz`: `key<TAB>name|name|...`, the lookup index, best descriptor first. Keys are
  `term_key()` of MeSH names, record-derived condition strings and hand-written lay terms;
- `aliases.tsv.gz`: `old name<TAB>current name`, so the older names that registry records
  carry ("Infection", "Wegener Granulomatosis") work wherever a name is expected.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from functools import cache
from importlib import resources

# Words that vary between how people and MeSH name the same tumour; one canonical token
# makes "liver cancer", "liver tumour" and "Liver Neoplasms" the same key.
_NEOPLASM_WORDS = frozenset({"cancer", "tumor", "tumour", "neoplasm", "neoplasia", "malignancy"})
_STOPWORDS = frozenset({"a", "an", "and", "by", "for", "in", "of", "on", "or", "the", "to", "with"})
_TOKEN = re.compile(r"[a-z]+|[0-9]+")
# Disease and mental-disorder trees: the only descriptors a partial phrase match may yield, so
# "breast cancer patients" gives Breast Neoplasms and not Patients.
_CONDITION_TREES = ("C", "F03")
_MAX_PHRASE = 8


def _singular(token: str) -> str:
    if len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("oses") and len(token) >= 7:  # thromboses, diagnoses, psychoses
        return token[:-2] + "is"
    if token.endswith(("sses", "uses")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Normalised tokens in text order: accents, case, punctuation, plurals, stopwords and
    tumour-word variants removed, so that spelling differences do not split one concept."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = folded.replace("'s", "").replace("\u2019s", "")
    out = []
    for tok in _TOKEN.findall(folded):
        if tok in _STOPWORDS:
            continue
        tok = _singular(tok)
        out.append("neoplasm" if tok in _NEOPLASM_WORDS else tok)
    return out


def _key(toks: list[str]) -> str:
    return " ".join(sorted(toks))


def term_key(text: str) -> str:
    """The lookup key: normalised tokens, sorted, so inverted MeSH forms ("Carcinoma,
    Hepatocellular") and natural word order ("hepatocellular carcinoma") coincide."""
    return _key(tokens(text))


def _variants(toks: list[str]) -> list[str]:
    """Keys to try for a phrase: itself, then with carcinoma <-> neoplasm swapped, since
    people say "hepatocellular cancer" for what MeSH calls a carcinoma."""
    keys = [_key(toks)]
    if "neoplasm" in toks:
        keys.append(_key(["carcinoma" if t == "neoplasm" else t for t in toks]))
    if "carcinoma" in toks:
        keys.append(_key(["neoplasm" if t == "carcinoma" else t for t in toks]))
    return keys


class MeshVocabulary:
    """Descriptors, their tree positions and the term index; names are MeSH preferred names."""

    def __init__(
        self,
        descriptors: list[tuple[str, str, list[str]]],
        terms: dict[str, str],
        aliases: dict[str, str],
    ):
        self._ui_by_name: dict[str, str] = {}
        self._name_by_ui: dict[str, str] = {}
        self._canonical: dict[str, str] = {}  # lower-cased name -> name
        self._trees: dict[str, list[str]] = {}
        tree_name: dict[str, str] = {}
        for ui, name, trees in descriptors:
            self._canonical[name.lower()] = name
            self._trees[name] = trees
            if ui:
                self._ui_by_name[name] = ui
                self._name_by_ui[ui] = name
            for tn in trees:
                tree_name[tn] = name
        for old, current in aliases.items():
            self._canonical.setdefault(old.lower(), current)
        self._tree_name = tree_name
        self._sorted_trees = sorted(tree_name)
        self._terms = terms  # key -> "name|name", split only when used: most keys never are

    def _resolve(self, name: str) -> str | None:
        """The current preferred name for a name in any case, or an old name."""
        return self._canonical.get(name.strip().lower())

    def descriptor_id(self, name: str) -> str | None:
        """Descriptor UI ("D006528") of an exact name (or an old name), case-insensitive."""
        canonical = self._resolve(name)
        return self._ui_by_name.get(canonical) if canonical else None

    def name(self, ui: str) -> str | None:
        return self._name_by_ui.get(ui.strip().upper())

    def tree_numbers(self, name: str) -> list[str]:
        canonical = self._resolve(name)
        return list(self._trees.get(canonical, [])) if canonical else []

    def ancestors(self, name: str) -> list[str]:
        """Broader descriptors on every branch, nearest first, without the name itself."""
        canonical = self._resolve(name)
        if not canonical:
            return []
        by_distance: list[tuple[int, str, str]] = []
        for tn in self._trees[canonical]:
            parts = tn.split(".")
            for depth in range(len(parts) - 1, 0, -1):
                prefix = ".".join(parts[:depth])
                if prefix in self._tree_name:
                    by_distance.append((len(parts) - depth, prefix, self._tree_name[prefix]))
        return _unique(n for _, _, n in sorted(by_distance) if n != canonical)

    def descendants(self, name: str) -> list[str]:
        """Narrower descriptors on every branch, nearest first."""
        canonical = self._resolve(name)
        if not canonical:
            return []
        found: list[tuple[int, str, str]] = []
        for tn in self._trees[canonical]:
            stem = tn + "."
            i = bisect_left(self._sorted_trees, stem)
            while i < len(self._sorted_trees) and self._sorted_trees[i].startswith(stem):
                child = self._sorted_trees[i]
                found.append((child.count("."), child, self._tree_name[child]))
                i += 1
        return _unique(n for _, _, n in sorted(found) if n != canonical)

    def lookup(self, text: str) -> list[str]:
        """Descriptors that free text names, best first; [] when nothing is recognised.

        The whole text is tried first (exact key, then tumour-word variants); failing that,
        the longest phrases inside it that name a disease, e.g. "advanced HCC (BCLC B)".
        """
        toks = tokens(text)
        if not toks:
            return []
        for key in _variants(toks):
            if key in self._terms:
                return self._terms[key].split("|")
        covered = [False] * len(toks)
        found: list[str] = []
        for n in range(min(_MAX_PHRASE, len(toks) - 1), 0, -1):
            for i in range(len(toks) - n + 1):
                if any(covered[i : i + n]):
                    continue
                names = self._phrase(toks[i : i + n])
                if names:
                    found.extend(names)
                    covered[i : i + n] = [True] * n
        return _unique(found)

    def lookup_whole(self, text: str) -> list[str]:
        """Descriptors that the whole text names (no phrase inside it); [] otherwise."""
        toks = tokens(text)
        for key in _variants(toks) if toks else ():
            if key in self._terms:
                return self._terms[key].split("|")
        return []

    def _phrase(self, toks: list[str]) -> list[str]:
        for key in _variants(toks):
            names = [n for n in self._terms.get(key, "").split("|") if self._is_condition(n)]
            if names:
                return names
        return []

    def names_for_key(self, key: str) -> list[str]:
        """Descriptors whose term key (`term_key`) is exactly `key`, best first."""
        names = self._terms.get(key)
        return names.split("|") if names else []

    def term_keys(self) -> Iterable[str]:
        """Every key of the term index (for building phrase spotters over it)."""
        return self._terms.keys()

    def _is_condition(self, name: str) -> bool:
        return any(tn.startswith(_CONDITION_TREES) for tn in self._trees.get(name, ()))

    def expand(self, text: str) -> list[str]:
        """What a condition search for `text` should match: its descriptors and all narrower."""
        found = self.lookup(text)
        return _unique([*found, *(d for n in found for d in self.descendants(n))])

    def branch(self, name: str, depth: int = 2) -> set[str]:
        """Tree-number prefixes at `depth` levels ({"C04.588", "C06.301"}), for comparing
        whether two descriptors sit in the same part of the hierarchy."""
        return {".".join(tn.split(".")[:depth]) for tn in self.tree_numbers(name)}


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _read_tsv(filename: str) -> list[list[str]]:
    path = resources.files("trialscope") / "data" / "mesh" / filename
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    return [line.split("\t") for line in text.splitlines()]


def load() -> MeshVocabulary:
    """Read the shipped vocabulary (use `vocabulary()` for the shared instance)."""
    descriptors = [(ui, name, trees.split()) for ui, name, trees in _read_tsv("descriptors.tsv.gz")]
    terms = dict(_read_tsv("terms.tsv.gz"))
    aliases = dict(_read_tsv("aliases.tsv.gz"))
    return MeshVocabulary(descriptors, terms, aliases)


@cache
def vocabulary() -> MeshVocabulary:
    """The shipped vocabulary, loaded once per process."""
    return load()

"""Query trees (`trialscope.query`) compiled into tantivy queries over the weighted fields.

A word is BM25 over every field (`TEXT_WEIGHTS`) as a disjunction-max with a small tie
breaker; a fielded term only over its fields; `cond:` also over condition MeSH ancestors and
the descriptors a lookup names (with their descendants). Long texts (patient notes) become a
bag of distinct words that rank by how much of them matches.
"""

from __future__ import annotations

from functools import lru_cache

import tantivy
from tantivy import Occur, Query

from ..index.fulltext import (
    NO_POSITIONS,
    QUERY_FIELDS,
    TEXT_WEIGHTS,
    _vocab,
    analyzer,
    folding_analyzer,
    mesh_lookup,
)
from ..query import MAX_ALL_REQUIRED, And, MatchAll, Node, Not, Or, Phrase, Term

MAX_MESH_EXPANSION = 256


class Compiler:
    """Compiles query trees against one index schema."""

    def __init__(self, schema: tantivy.Schema, expand_mesh: bool):
        self.schema = schema
        self.expand_mesh = expand_mesh
        self.an = _ANALYZER
        self.fold = _FOLDING

    def compile(self, node: Node) -> Query | None:
        if isinstance(node, MatchAll):
            return None
        if isinstance(node, (Term, Phrase)):
            return self.leaf(node)
        if isinstance(node, Not):
            inner = self.compile(node.child)
            if inner is None:
                return None
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, inner)])
        if isinstance(node, Or):
            parts = [q for q in map(self.compile, node.children) if q is not None]
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else Query.boolean_query([(Occur.Should, q) for q in parts])
        if isinstance(node, And):
            positive = [c for c in node.children if not isinstance(c, Not)]
            negative = [c.child for c in node.children if isinstance(c, Not)]
            if node.implicit and len(positive) > MAX_ALL_REQUIRED:
                positive = self._bag(positive)
            pos_q = [q for q in map(self.compile, positive) if q is not None]
            neg_q = [q for q in map(self.compile, negative) if q is not None]
            # a long text (e.g. a patient note): rank by how much of it matches
            occur = Occur.Should if node.implicit and len(pos_q) > MAX_ALL_REQUIRED else Occur.Must
            clauses = [(occur, q) for q in pos_q] + [(Occur.MustNot, q) for q in neg_q]
            if not pos_q:
                if not neg_q:
                    return None
                clauses.insert(0, (Occur.Must, Query.all_query()))
            if len(clauses) == 1 and clauses[0][0] is not Occur.MustNot:
                return clauses[0][1]
            return Query.boolean_query(clauses)
        raise TypeError(node)

    def _bag(self, nodes: list) -> list:
        """The words of a long text once each, without stop words: a patient note repeats
        itself, and every word costs a scorer per field. Phrases and fielded terms stay."""
        out, seen = [], set()
        for n in nodes:
            if isinstance(n, Term) and not n.prefix and n.field is None:
                for tok in self.an.analyze(n.text):
                    if tok in seen or tok in _STOP or len(tok) < 2 or tok.isdigit():
                        continue
                    seen.add(tok)
                    out.append(Term(tok))
            else:
                out.append(n)
        return out

    def fields_for(self, name: str | None) -> list[tuple[str, float]]:
        names = list(TEXT_WEIGHTS) if name is None else QUERY_FIELDS[name]
        if name == "cond" and self.expand_mesh:
            names = [*names, "mesh_anc"]
        return [(f, TEXT_WEIGHTS[f]) for f in names]

    def leaf(self, node: Term | Phrase) -> Query | None:
        fields = self.fields_for(node.field)
        clauses: list[Query] = []
        if isinstance(node, Term) and node.prefix:
            stems = self.an.analyze(node.text)
            folded = self.fold.analyze(node.text)
            if not folded:
                return None
            if node.field is None:  # a prefix over every field costs more than it finds
                fields = [(f, w) for f, w in fields if f in PREFIX_FIELDS]
            if len(folded) == 1:
                stem, word = (stems or folded)[0], folded[0]
                if word.startswith(stem):  # "diabetes*" -> diabet.*, which also covers diabetes.*
                    pattern = _re_escape(stem) + ".*"
                else:
                    pattern = "(" + "|".join(sorted({_re_escape(stem), _re_escape(word)})) + ").*"
                for f, w in fields:
                    clauses.append(Query.boost_query(_regex_query(self.schema, f, pattern), w))
            else:
                words = [*stems[: len(folded) - 1], folded[-1]]
                for f, w in fields:
                    clauses.append(Query.boost_query(Query.phrase_prefix_query(self.schema, f, words), w))
        else:
            tokens = self.an.analyze(node.text)
            if not tokens:
                return None
            for f, w in fields:
                if len(tokens) == 1:
                    q = Query.term_query(self.schema, f, tokens[0])
                elif f in NO_POSITIONS:
                    q = Query.boolean_query([(Occur.Must, Query.term_query(self.schema, f, t)) for t in tokens])
                else:
                    q = Query.phrase_query(self.schema, f, tokens)
                clauses.append(Query.boost_query(q, w))
        if node.field == "cond" and self.expand_mesh:
            names = _mesh_names(node.text)
            if names:
                q = Query.term_set_query(self.schema, "mesh_exact", names)
                clauses.append(Query.const_score_query(q, TEXT_WEIGHTS["mesh"]))
        if len(clauses) == 1:
            return clauses[0]
        if TIE_BREAKER is not None:
            return Query.disjunction_max_query(clauses, tie_breaker=TIE_BREAKER)
        return Query.boolean_query([(Occur.Should, q) for q in clauses])


TIE_BREAKER: float | None = 0.1  # a word's score: best field + this share of the others
_ANALYZER = analyzer()
# stop words of long free texts (stemmed forms, as the analyzer gives them)
_STOP = frozenset(
    ["a", "about", "abov", "after", "again", "against", "all", "also", "am", "an", "and", "ani", "are", "as", "at", "be", "becaus", "been", "befor", "be", "below", "between", "both", "but", "by", "can", "could", "did", "do", "doe", "dure", "each", "few", "for", "from", "further", "had", "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "it", "itself", "me", "more", "most", "my", "no", "nor", "not", "of", "off", "on", "onc", "onli", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "veri", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whi", "will", "with", "would", "you", "your", "yo", "y", "o", "s", "t", "patient", "histori"]
)
_FOLDING = folding_analyzer()


# Fields a free-text prefix (hepat*) looks in.
PREFIX_FIELDS = frozenset({"title", "acronym", "cond", "mesh", "intr", "kw", "summary"})


@lru_cache(maxsize=2048)
def _regex_query_cached(schema_id: int, field: str, pattern: str) -> Query:
    return Query.regex_query(_SCHEMAS[schema_id], field, pattern)


_SCHEMAS: dict[int, tantivy.Schema] = {}


def _regex_query(schema: tantivy.Schema, field: str, pattern: str) -> Query:
    """Regex queries compile an automaton (~1 ms); the same prefix is asked for again and again."""
    _SCHEMAS.setdefault(id(schema), schema)
    return _regex_query_cached(id(schema), field, pattern)


def _re_escape(token: str) -> str:
    return "".join(c if c.isalnum() else "\\" + c for c in token)


@lru_cache(maxsize=4096)
def _mesh_names(text: str) -> list[str]:
    """Lower-cased MeSH names a condition text names, with their descendants (capped)."""
    names = list(mesh_lookup(text))
    if not names:
        return []
    out = dict.fromkeys(n.lower() for n in names)
    vocab = _vocab()
    if vocab is not None:
        for n in names:
            try:
                for d in vocab.descendants(n):
                    if len(out) >= MAX_MESH_EXPANSION:
                        break
                    out[d.lower()] = None
            except Exception:
                pass
    return list(out)



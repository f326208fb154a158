"""Query trees (`trialscope.essie`) compiled into tantivy queries over the full-text index.

One evaluator for every surface. A word is BM25 over every field (`TEXT_WEIGHTS`) as a
disjunction-max with a small tie breaker; a word in a search area (`cond:`, AREA[ConditionSearch],
query.cond) only over the area's fields; conditions also over their MeSH ancestors and the
descriptors a lookup names (with their descendants). AREA[piece] searches one piece of the
record by its type: words (with COVERAGE as sentinel phrases), exact enum codes and booleans,
dates, numbers and ages (RANGE, MISSING). SEARCH[Location](...) holds within one site. Words
side by side are one multi-word term: all required while few, the phrase and the condition it
names ranked first (EXPANSION[Lossy]: any of them); long texts (patient notes) become a bag of
distinct words that rank by how much of them matches. What cannot be evaluated is a QueryError
that names it, never an empty result.
"""

from __future__ import annotations

import math
import re
import threading
from functools import lru_cache

import orjson
import tantivy
from tantivy import FieldType, Occur, Query

from ..essie import areas
from ..essie.ast import (
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
    to_string,
)
from ..essie.parser import MAX_ALL_REQUIRED
from ..index.fulltext import (
    NO_POSITIONS,
    OWN_FIELD,
    PIECE_KEY,
    PIECE_LONG,
    PIECE_SITES,
    PIECE_TEXT,
    PRESENT_KEY,
    SITE_PARTS,
    TEXT_WEIGHTS,
    VALUE_END,
    VALUE_START,
    _vocab,
    analyzer,
    date_int,
    folding_analyzer,
    mesh_lookup,
    number_field,
    size_field,
)
from ..normalize import age_days

MAX_MESH_EXPANSION = 256
MAX_SITE_CANDIDATES = 50_000  # SEARCH[Location] checks at most this many studies site by site
# the fields each word of a plain multi-word term must be found in: what a study is about, who
# runs it and where (so "liver cancer chicago" works), but not the criteria, the detailed
# description or the outcomes, so that "liver cancer" is not a lung-cancer trial that asks for
# adequate liver function
TOPICAL_FIELDS = ("title", "acronym", "cond", "mesh", "intr", "kw", "summary", "ids", "lead", "collab", "loc")
PHRASE_BOOST = 2.0  # the words as a phrase (in a positional field)
CONCEPT_BOOST = 3.0  # the words name the study's condition in MeSH


class Compiler:
    """Compiles query trees against one index (schema; the searcher for SEARCH[] groups)."""

    def __init__(self, schema: tantivy.Schema, expand_mesh: bool, searcher: tantivy.Searcher | None = None):
        self.schema = schema
        self.expand_mesh = expand_mesh
        self.searcher = searcher
        self.an = _ANALYZER
        self.fold = _FOLDING

    def compile(self, node: Node) -> Query | None:
        if isinstance(node, MatchAll):
            return None
        if isinstance(node, (Term, Phrase, Range, Missing)):
            return self.leaf(node)
        if isinstance(node, Not):
            inner = self.compile(node.child)
            if inner is None:
                return Query.empty_query()
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, inner)])
        if isinstance(node, Or):
            parts = [self.compile(c) for c in node.children]
            if any(q is None for q in parts):  # x OR everything
                return None
            return parts[0] if len(parts) == 1 else Query.boolean_query([(Occur.Should, q) for q in parts])
        if isinstance(node, Search):
            return self.group(node)
        if isinstance(node, And):
            return self.conjunction(node)
        raise TypeError(node)

    def conjunction(self, node: And) -> Query | None:
        positive = [c for c in node.children if not isinstance(c, Not)]
        negative = [c.child for c in node.children if isinstance(c, Not)]
        occur = Occur.Must
        if node.implicit:
            words = [c for c in positive if isinstance(c, Term) and not c.prefix]
            if len(positive) > MAX_ALL_REQUIRED:
                positive = self._bag(positive)
                occur = Occur.Should  # a long text (e.g. a patient note): rank by how much matches
            elif words and all(w.expansion == "Lossy" for w in words):
                occur = Occur.Should
            elif words and len(words) == len(positive) and all(_is_id_area(w.field) for w in words):
                occur = Occur.Should  # a list of study ids: any of them, as the registry's IdSearch
            elif len(words) >= 2:
                return self.multiword(words, positive, negative)
        pos_q = [q for q in map(self.compile, positive) if q is not None]
        neg_q = [q for q in map(self.compile, negative) if q is not None]
        clauses = [(occur, q) for q in pos_q] + [(Occur.MustNot, q) for q in neg_q]
        if not pos_q:
            if not neg_q:
                return None
            clauses.insert(0, (Occur.Must, Query.all_query()))
        if len(clauses) == 1 and clauses[0][0] is not Occur.MustNot:
            return clauses[0][1]
        return Query.boolean_query(clauses)

    def multiword(self, words: list[Term], positive: list, negative: list) -> Query:
        """A few words side by side: one multi-word term. Every word is required; in free text
        (no field) every word must be in a topical field (title, conditions, interventions,
        keywords, summary, ids), not only in the criteria or the site list; the phrase and the
        condition the words name in MeSH rank first, and also match on their own."""
        text = " ".join(w.text for w in words)
        fld = words[0].field
        same_scope = all(w.field == fld and w.expansion == words[0].expansion for w in words)
        others = [c for c in positive if not (isinstance(c, Term) and not c.prefix)]
        clauses: list[tuple[Occur, Query]] = []
        for c in others:
            q = self.compile(c)
            if q is not None:
                clauses.append((Occur.Must, q))
        for c in negative:
            q = self.compile(c)
            if q is not None:
                clauses.append((Occur.MustNot, q))
        topical = [(f, TEXT_WEIGHTS[f]) for f in TOPICAL_FIELDS]
        required = []
        for w in words:
            # free text: each word in a topical field
            q = self.text_leaf(w, topical, None) if same_scope and fld is None else self.leaf(w)
            if q is not None:
                required.append(q)
        words_q = required[0] if len(required) == 1 else Query.boolean_query([(Occur.Must, q) for q in required])
        alternatives = [words_q]
        target = areas.resolve(fld)
        if same_scope and isinstance(target, areas.Piece):
            phrase = self.leaf(Phrase(text, fld, expansion="None")) if target.type == "text" else None
            if phrase is not None:
                alternatives.append(Query.boost_query(phrase, PHRASE_BOOST))
        elif same_scope:
            positional = [(f, w) for f, w in self.fields_for(target, "None") if f not in NO_POSITIONS]
            phrase = self.text_leaf(Phrase(text, fld, expansion="None"), positional, target) if positional else None
            if phrase is not None:
                alternatives.append(Query.boost_query(phrase, PHRASE_BOOST))
            if (target is None or target.synonyms) and self._expands(words[0].expansion):
                names = _mesh_names(text, whole=True)
                if names:
                    alternatives.append(Query.const_score_query(self.concept(names), CONCEPT_BOOST * TEXT_WEIGHTS["mesh"]))
        main = alternatives[0] if len(alternatives) == 1 else Query.boolean_query(
            [(Occur.Should, q) for q in alternatives])
        clauses.insert(0, (Occur.Must, main))
        if len(clauses) == 1:
            return main
        return Query.boolean_query(clauses)

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

    # -- leaves -------------------------------------------------------------------------

    def leaf(self, node) -> Query | None:
        counted = areas.sized(node.field)
        if counted is not None:
            return self.piece_size(node, counted)
        target = areas.resolve(node.field)
        if isinstance(target, areas.Piece):
            return self.piece_leaf(node, target)
        if isinstance(node, (Range, Missing)):
            what = "RANGE[]" if isinstance(node, Range) else "MISSING"
            where = f"the search area {target.name}" if target else "free text"
            raise QueryError(f"{what} needs AREA[piece] of a single piece (e.g. AREA[StartDate]); "
                             f"not {where}", node.pos)
        if node.coverage != "Contains":
            names = [p for part in (target or areas.AREAS["BasicSearch"]).parts for p in part.pieces
                     if areas.PIECES[p].type == "text"]
            parts = [self.piece_text(node, areas.PIECES[n]) for n in names]
            parts = [q for q in parts if q is not None]
            return Query.boolean_query([(Occur.Should, q) for q in parts]) if parts else None
        return self.text_leaf(node, self.fields_for(target, node.expansion), target)

    def fields_for(self, target: areas.Area | None, expansion: str = "Relaxation") -> list[tuple[str, float]]:
        names = list(TEXT_WEIGHTS) if target is None else list(target.index_fields)
        if target is not None and target.name == "ConditionSearch" and self._expands(expansion):
            names = [*names, "mesh_anc"]
        return [(f, TEXT_WEIGHTS[f]) for f in names]

    def _expands(self, expansion: str) -> bool:
        return self.expand_mesh and expansion not in ("None", "Term")

    def text_leaf(self, node: Term | Phrase, fields: list[tuple[str, float]], target) -> Query | None:
        clauses: list[Query] = []
        if isinstance(node, Term) and node.prefix:
            stems = self.an.analyze(node.text)
            folded = self.fold.analyze(node.text)
            if not folded:
                return None
            if target is None:  # a prefix over every field costs more than it finds
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
            lossy = node.expansion == "Lossy" and len(tokens) > 1
            for f, w in fields:
                if len(tokens) == 1:
                    q = Query.term_query(self.schema, f, tokens[0])
                elif f in NO_POSITIONS or lossy:
                    occur = Occur.Should if lossy else Occur.Must
                    q = Query.boolean_query([(occur, Query.term_query(self.schema, f, t)) for t in tokens])
                else:
                    q = Query.phrase_query(self.schema, f, tokens)
                clauses.append(Query.boost_query(q, w))
        if target is not None and target.synonyms and target.name != "BasicSearch" and self._expands(node.expansion):
            names = _mesh_names(node.text)
            if names:
                clauses.append(Query.const_score_query(self.concept(names), TEXT_WEIGHTS["mesh"]))
        if len(clauses) == 1:
            return clauses[0]
        if TIE_BREAKER is not None:
            return Query.disjunction_max_query(clauses, tie_breaker=TIE_BREAKER)
        return Query.boolean_query([(Occur.Should, q) for q in clauses])

    def piece_leaf(self, node, p: areas.Piece) -> Query | None:
        if isinstance(node, Missing):
            present = self.present(p.name)
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, present)])
        if not p.indexed:
            raise QueryError(f"AREA[{p.name}] is not searchable here ({p.type} values of posted results); "
                             "search the measure or group titles instead", node.pos)
        if p.type in ("date", "number", "age"):
            return self.piece_number(node, p)
        if isinstance(node, Range):
            raise QueryError(f"RANGE[] needs a date, number or age piece; {p.name} is {p.type}", node.pos)
        if p.type in ("enum", "boolean"):
            return self.piece_key(node, p)
        if p.type == "markup":
            if node.coverage != "Contains":
                raise QueryError(f"COVERAGE[{node.coverage}] on {p.name} (long text): only Contains", node.pos)
            fld = OWN_FIELD.get(p.name)
            if fld is not None:
                return self.text_leaf(node, [(fld, 1.0)], None)
            path = f"{PIECE_LONG}.{p.name}"
            if isinstance(node, Term) and node.prefix:
                raise QueryError(f"a prefix on AREA[{p.name}] (long text, searched by whole words)", node.pos)
            tokens = self.an.analyze(node.text)
            if not tokens:
                return None
            if len(tokens) == 1:
                return Query.term_query(self.schema, path, tokens[0])
            return Query.boolean_query([(Occur.Must, Query.term_query(self.schema, path, t)) for t in tokens])
        return self.piece_text(node, p)

    def piece_text(self, node: Term | Phrase, p: areas.Piece) -> Query | None:
        path = f"{PIECE_TEXT}.{p.name}"
        if isinstance(node, Term) and node.prefix:
            words = self.fold.analyze(node.text)
            if not words:
                return None
            stems = self.an.analyze(node.text)
            head = [*stems[: len(words) - 1], words[-1]]
            if node.coverage in ("FullMatch", "StartsWith"):
                head = [_SENTINEL_START, *head]
            return Query.phrase_prefix_query(self.schema, path, head)
        tokens = self.an.analyze(node.text)
        if not tokens:
            return None
        if node.coverage in ("FullMatch", "StartsWith"):
            tokens = [_SENTINEL_START, *tokens]
        if node.coverage in ("FullMatch", "EndsWith"):
            tokens = [*tokens, _SENTINEL_END]
        if len(tokens) == 1:
            return Query.term_query(self.schema, path, tokens[0])
        if node.expansion == "Lossy" and node.coverage == "Contains":
            return Query.boolean_query([(Occur.Should, Query.term_query(self.schema, path, t)) for t in tokens])
        return Query.phrase_query(self.schema, path, tokens)

    def piece_key(self, node: Term | Phrase, p: areas.Piece) -> Query:
        value = enum_value(node.text, p)
        if p.type == "boolean":
            if value not in ("true", "false"):
                raise QueryError(f"AREA[{p.name}] takes true or false, not {node.text!r}", node.pos)
        elif p.values and value not in p.values:
            raise QueryError(f"unknown value {node.text!r} for AREA[{p.name}] (allowed: {', '.join(p.values)})",
                             node.pos)
        return Query.term_query(self.schema, f"{PIECE_KEY}.{p.name}", value)

    def piece_number(self, node, p: areas.Piece) -> Query:
        fld = number_field(p.name)
        if isinstance(node, Range):
            lo = bound(p, node.lo, upper=False, pos=node.pos)
            hi = bound(p, node.hi, upper=True, pos=node.pos)
        else:
            if isinstance(node, Term) and node.prefix:
                raise QueryError(f"a prefix on AREA[{p.name}] ({p.type}); use RANGE[low, high]", node.pos)
            lo = bound(p, node.text, upper=False, pos=node.pos)
            hi = bound(p, node.text, upper=True, pos=node.pos)
        lo = _I64_MIN if lo is None else lo
        hi = _I64_MAX if hi is None else hi
        if lo > hi:
            return Query.empty_query()
        return Query.range_query(self.schema, fld, FieldType.Integer, lo, hi)

    def piece_size(self, node, p: areas.Piece) -> Query:
        """AREA[Phase:size]2 or RANGE[lo,hi]: the number of values; 0 is a study without any."""
        count = areas.PIECES["EnrollmentCount"]  # read bounds as whole numbers
        if isinstance(node, Missing):
            return self.piece_leaf(node, p)
        if isinstance(node, Range):
            lo, hi = bound(count, node.lo, False, node.pos), bound(count, node.hi, True, node.pos)
        elif isinstance(node, Term) and not node.prefix:
            lo = hi = bound(count, node.text, False, node.pos)
        else:
            raise QueryError(f"AREA[{p.name}:size] takes a count or RANGE[low, high]", node.pos)
        lo = 0 if lo is None else max(lo, 0)
        hi = _I64_MAX if hi is None else hi
        if lo > hi:
            return Query.empty_query()
        # a list piece with two or more values has its count indexed; one value is only present
        parts = []
        if lo <= 0:
            parts.append(self.piece_leaf(Missing(p.name, node.pos), p))
        many = (Query.range_query(self.schema, size_field(p.name), FieldType.Integer, 2, _I64_MAX)
                if p.is_list else Query.empty_query())
        if lo <= 1 <= hi:
            parts.append(Query.boolean_query([(Occur.Must, self.present(p.name)), (Occur.MustNot, many)]))
        if hi >= 2 and p.is_list:
            parts.append(Query.range_query(self.schema, size_field(p.name), FieldType.Integer, max(lo, 2), hi))
        if not parts:
            return Query.empty_query()
        return parts[0] if len(parts) == 1 else Query.boolean_query([(Occur.Should, q) for q in parts])

    def present(self, piece_name: str) -> Query:
        """The studies that have a value for the piece."""
        return Query.term_query(self.schema, f"{PIECE_KEY}.{PRESENT_KEY}", piece_name)

    def concept(self, names: list[str]) -> Query:
        """The studies whose conditions are any of `names` in MeSH (a descriptor and its
        descendants, as `mesh_exact` holds them): the same studies as the term set of all of
        them, asked as the few names that cover the rest in this index snapshot. A study's
        `mesh_exact` holds its terms' ancestors, so "neoplasms" alone finds every study of its
        256 descendants; postings of the whole set cost 2-4 ms at 500k studies, the cover 0.1-1."""
        if self.searcher is None or len(names) < COVER_FROM:
            return _mesh_terms(self.schema, names)
        key = (id(self.searcher), tuple(names))
        cached = _COVERS.get(key)
        if cached is not None and cached[0] is self.searcher:
            cover = cached[1]
        else:
            cover = _cover(self.schema, self.searcher, names)
            with _COVER_LOCK:
                if len(_COVERS) >= 512:
                    _COVERS.pop(next(iter(_COVERS)))
                _COVERS[key] = (self.searcher, cover)
        return _mesh_terms(self.schema, cover)

    # -- SEARCH[Location](...) -----------------------------------------------------------

    def group(self, node: Search) -> Query:
        """Every condition inside holds within one site: the studies that match at study level
        are checked site by site on their stored sites."""
        if self.searcher is None:
            raise QueryError(f"SEARCH[{node.group}] needs an open index", node.pos)
        check = _SiteCheck(self.an, node.pos)
        check.validate(node.child)
        if not _has_and_or_not(node.child):  # one condition (or alternatives): a site has it iff the study has
            q = self.compile(node.child)
            return Query.all_query() if q is None else q
        key = (id(self.searcher), to_string(node), self.expand_mesh)
        cached = _SITE_MATCHES.get(key)
        if cached is not None and cached[0] is self.searcher:  # the next page of the same search
            ids = cached[1]
            return Query.term_set_query(self.schema, "nct", ids) if ids else Query.empty_query()
        pre = None if _has_not(node.child) else self.compile(node.child)
        if pre is None:
            pre = self.present("LocationCity")
        res = self.searcher.search(pre, MAX_SITE_CANDIDATES + 1)
        if len(res.hits) > MAX_SITE_CANDIDATES:
            raise QueryError(f"SEARCH[{node.group}](...) matches more than {MAX_SITE_CANDIDATES:,} studies before "
                             "its sites are checked; add a narrower condition inside it", node.pos)
        ids = []
        for _, addr in res.hits:
            doc = self.searcher.doc(addr)
            raw = doc.get_first(PIECE_SITES)
            if raw and any(check.site_holds(node.child, site) for site in orjson.loads(raw)):
                ids.append(doc.get_first("nct"))
        with _SITE_LOCK:
            if len(_SITE_MATCHES) >= 32:
                _SITE_MATCHES.pop(next(iter(_SITE_MATCHES)))
            _SITE_MATCHES[key] = (self.searcher, ids)
        if not ids:
            return Query.empty_query()
        return Query.term_set_query(self.schema, "nct", ids)


COVER_FROM = 8  # fewer names cost less than finding their cover
# concept covers (see Compiler.concept), per open index searcher: found once per snapshot
_COVERS: dict[tuple, tuple] = {}
_COVER_LOCK = threading.Lock()


def _mesh_terms(schema: tantivy.Schema, names: list[str]) -> Query:
    if len(names) == 1:
        return Query.term_query(schema, "mesh_exact", names[0])
    return Query.term_set_query(schema, "mesh_exact", names)


def _cover(schema: tantivy.Schema, searcher: tantivy.Searcher, names: list[str]) -> list[str]:
    """The names (the first always among them) whose studies are all the studies of `names` in `searcher`'s
    snapshot: a group of names is left out when none of its studies lacks one already kept,
    else split in two (a descendant outside its ancestor's studies is kept on its own)."""
    cover = [names[0]]
    groups = [names[1:]]
    while groups:
        group = groups.pop()
        if not group:
            continue
        outside = Query.boolean_query([(Occur.Must, _mesh_terms(schema, group)),
                                       (Occur.MustNot, _mesh_terms(schema, cover))])
        if not searcher.search(outside, 1, count=True).count:
            continue
        if len(group) == 1:
            cover.append(group[0])
        else:
            mid = len(group) // 2
            groups += [group[mid:], group[:mid]]
    return cover


# SEARCH[...] results of recent searches, per open index searcher (paging asks again)
_SITE_MATCHES: dict[tuple, tuple] = {}
_SITE_LOCK = threading.Lock()
_SITE_KEYS = {"LocationFacility": "facility", "LocationStatus": "status", "LocationCity": "city",
              "LocationState": "state", "LocationZip": "zip", "LocationCountry": "country"}


class _SiteCheck:
    """Evaluates a SEARCH[Location] tree on one site (the same analyzer as the index)."""

    def __init__(self, an, pos: int):
        self.an = an
        self.pos = pos
        self._tokens: dict[str, list[str]] = {}
        self._seen: dict[tuple, bool] = {}

    def validate(self, node) -> None:
        if isinstance(node, (Range,)):
            raise QueryError("RANGE[] inside SEARCH[Location]: site parts are words and codes", node.pos)
        if isinstance(node, Search):
            raise QueryError("SEARCH[] inside SEARCH[]", node.pos)
        for child in getattr(node, "children", ()):
            self.validate(child)
        if isinstance(node, Not):
            self.validate(node.child)

    def site_holds(self, node, site: list) -> bool:
        """`holds` for a stored site, remembered per distinct site (sites repeat across studies)."""
        key = tuple(site)
        hit = self._seen.get(key)
        if hit is None:
            hit = self._seen[key] = self.holds(node, dict(zip(SITE_PARTS, site, strict=False)))
        return hit

    def toks(self, text: str) -> list[str]:
        if text not in self._tokens:
            self._tokens[text] = self.an.analyze(text)
        return self._tokens[text]

    def holds(self, node, site: dict) -> bool:
        if isinstance(node, MatchAll):
            return True
        if isinstance(node, And):
            return all(self.holds(c, site) for c in node.children)
        if isinstance(node, Or):
            return any(self.holds(c, site) for c in node.children)
        if isinstance(node, Not):
            return not self.holds(node.child, site)
        keys = [_SITE_KEYS[node.field]] if node.field in _SITE_KEYS else list(SITE_PARTS)
        if isinstance(node, Missing):
            return all(not site.get(k) for k in keys)
        for key in keys:
            value = site.get(key)
            if not value:
                continue
            if key == "status":
                if str(value).upper() == enum_value(node.text, areas.PIECES["LocationStatus"]):
                    return True
                continue
            if _matches(self.toks(str(value)), self.toks(node.text), node.coverage,
                        isinstance(node, Term) and node.prefix):
                return True
        return False


def _matches(have: list[str], want: list[str], coverage: str, prefix: bool) -> bool:
    if not want:
        return False
    n = len(want)
    spans = range(len(have) - n + 1)
    if coverage == "FullMatch":
        spans = [0] if len(have) == n else []
    elif coverage == "StartsWith":
        spans = [0] if len(have) >= n else []
    elif coverage == "EndsWith":
        spans = [len(have) - n] if len(have) >= n else []
    for i in spans:
        if have[i : i + n - 1] == want[:-1] and (
            have[i + n - 1].startswith(want[-1]) if prefix else have[i + n - 1] == want[-1]
        ):
            return True
    return False


def _is_id_area(name: str | None) -> bool:
    target = areas.resolve(name)
    return isinstance(target, areas.Area) and target.name == "IdSearch"


def _has_and_or_not(node) -> bool:
    if isinstance(node, (And, Not)):
        return True
    return any(_has_and_or_not(c) for c in getattr(node, "children", ()))


def _has_not(node) -> bool:
    if isinstance(node, Not):
        return True
    return any(_has_not(c) for c in getattr(node, "children", ()))


# -- values ------------------------------------------------------------------------------

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_PHASE_ALIASES = {"1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4", "PHASE_1": "PHASE1",
                  "PHASE_2": "PHASE2", "PHASE_3": "PHASE3", "PHASE_4": "PHASE4", "EARLY_PHASE_1": "EARLY_PHASE1",
                  "N/A": "NA", "NOT_APPLICABLE": "NA"}
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_AGE_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def enum_value(text: str, p: areas.Piece) -> str:
    """A query's enum code as the index holds it: `Phase 3`, `phase3` -> PHASE3; true/yes -> true."""
    raw = text.strip().strip('"').strip()
    if p.type == "boolean":
        return {"true": "true", "yes": "true", "y": "true", "false": "false", "no": "false", "n": "false"}.get(
            raw.lower(), raw.lower())
    key = re.sub(r"[\s\-,]+", "_", raw.upper())
    if p.name == "Phase":
        key = _PHASE_ALIASES.get(key, key)
    return key


def bound(p: areas.Piece, text: str, upper: bool, pos: int) -> int | None:
    """One end of a RANGE (or a single value) as the piece's integer; None for MIN / MAX."""
    value = text.strip()
    if value.upper() in ("", "MIN", "MAX"):
        return None
    if p.type == "date":
        m = _ISO_DATE.match(value)
        us = _US_DATE.match(value)
        if us:
            y, mo, d = int(us.group(3)), int(us.group(1)), int(us.group(2))
        elif m:
            y = int(m.group(1))
            mo = int(m.group(2)) if m.group(2) else (12 if upper else 1)
            d = int(m.group(3)) if m.group(3) else (31 if upper else 1)
        else:
            raise QueryError(f"bad date {value!r} for AREA[{p.name}] (YYYY, YYYY-MM, YYYY-MM-DD or MM/DD/YYYY; "
                             "MIN and MAX for open ends)", pos)
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            raise QueryError(f"bad date {value!r} for AREA[{p.name}]", pos)
        return date_int(f"{y:04d}-{mo:02d}-{d:02d}")
    if p.type == "age":
        m = _AGE_TEXT.match(value)
        try:
            days = age_days(f"{m.group(1)} {m.group(2) or 'years'}") if m else None
        except ValueError:
            days = None
        if days is None or not days < 1e9:  # 1e9 days: well beyond any age, far inside an integer
            raise QueryError(f"bad age {value!r} for AREA[{p.name}] (e.g. 16 years, 6 months, at most "
                             "a million years; MIN and MAX for open ends)", pos)
        return math.ceil(days) if upper else math.floor(days)
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if math.isnan(x) or math.isinf(x) or abs(x) > 1e15:
        raise QueryError(f"bad number {value!r} for AREA[{p.name}] (MIN and MAX for open ends)", pos)
    return math.floor(x) if upper else math.ceil(x)


TIE_BREAKER: float | None = 0.1  # a word's score: best field + this share of the others
_ANALYZER = analyzer()
# stop words of long free texts (stemmed forms, as the analyzer gives them)
_STOP = frozenset(
    ["a", "about", "abov", "after", "again", "against", "all", "also", "am", "an", "and", "ani", "are", "as", "at", "be", "becaus", "been", "befor", "be", "below", "between", "both", "but", "by", "can", "could", "did", "do", "doe", "dure", "each", "few", "for", "from", "further", "had", "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "it", "itself", "me", "more", "most", "my", "no", "nor", "not", "of", "off", "on", "onc", "onli", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "veri", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whi", "will", "with", "would", "you", "your", "yo", "y", "o", "s", "t", "patient", "histori"]
)
_FOLDING = folding_analyzer()
_SENTINEL_START = _ANALYZER.analyze(VALUE_START)[0]
_SENTINEL_END = _ANALYZER.analyze(VALUE_END)[0]


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
def _mesh_names(text: str, whole: bool = False) -> list[str]:
    """Lower-cased MeSH names a condition text names (`whole`: the whole text, not a phrase
    inside it), with their descendants (capped)."""
    vocab = _vocab()
    if whole:
        try:
            names = list(vocab.lookup_whole(text)) if vocab is not None else []
        except Exception:
            names = []
    else:
        names = list(mesh_lookup(text))
    if not names:
        return []
    out = dict.fromkeys(n.lower() for n in names)
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

"""Search: the query language, filters, facets, sorting, cursor paging and snippets.

`Searcher(store).search(SearchRequest(...))` runs over the tantivy index derived from the
store (see `trialscope.index`). Free text is BM25 over weighted fields
(`trialscope.index.fulltext.TEXT_WEIGHTS`); filters are constant-score clauses on raw fast
fields; facets are tantivy terms aggregations over the filtered result set (counted in Rust).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import math
import sys
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import orjson
import tantivy
from tantivy import FieldType, Occur, Order, Query

from .index import FullTextIndex, index_path
from .index import catch_up as _catch_up
from .index import rebuild as _rebuild
from .index.fulltext import (
    DATE_FIELDS,
    GROUPED_FACETS,
    NO_POSITIONS,
    OPEN_MAX_AGE,
    QUERY_FIELDS,
    SHARDS,
    TEXT_WEIGHTS,
    _vocab,
    analyzer,
    date_int,
    folding_analyzer,
    geo_cover,
    hit_data,
    mesh_lookup,
)
from .normalize import years_to_days
from .query import MAX_ALL_REQUIRED, And, MatchAll, Node, Not, Or, Phrase, QueryError, Term, parse
from .record import RecordError, normalize_nct

__all__ = [
    "QueryError", "FilterError", "SearchRequest", "Hit", "SearchResult", "Searcher",
    "register_commands", "STATUS_VALUES", "PHASE_VALUES",
]


class FilterError(ValueError):
    """A filter value outside the allowed set; names the parameter and lists what is allowed."""

    def __init__(self, param: str, allowed: list[str], value: object = None, message: str | None = None):
        self.param = param
        self.allowed = list(allowed)
        if message is None:
            message = f"unknown {param} value {value!r}; allowed: {', '.join(self.allowed)}"
        super().__init__(message)


OPEN_STATUSES = ["RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"]
STATUS_VALUES = [
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
]
PHASE_VALUES = ["EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"]
STUDY_TYPE_VALUES = ["INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"]
INTERVENTION_TYPE_VALUES = [
    "BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
    "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER",
]
SPONSOR_CLASS_VALUES = ["NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"]
SEX_VALUES = ["ALL", "FEMALE", "MALE"]
SORT_KEYS = ["relevance", "last_update", "start_date", "enrollment", "results_first_posted"]
_SORT_FIELD = {
    "last_update": "last_update", "start_date": "start", "enrollment": "enrollment",
    "results_first_posted": "results_first_posted",
}
# facet name -> (index field, number of buckets)
FACETS = {
    "status": ("status", 20),
    "phase": ("phase", 10),
    "study_type": ("stype", 5),
    "intervention_type": ("itype", 15),
    "sponsor_class": ("sclass", 10),
    "country": ("country", 25),
    "condition_mesh": ("mesh_facet", 15),
    "has_results": ("results", 2),
}
MAX_LIMIT = 1000
# Above this many matches facets are counted on a hash sample of about FACET_SAMPLE_TARGET
# documents (SearchResult.facets_approximate) unless SearchRequest.exact_facets.
FACET_SAMPLE_ABOVE = 25_000
FACET_SAMPLE_TARGET = 12_000
MAX_MESH_EXPANSION = 256


@dataclass
class SearchRequest:
    query: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    status: list[str] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    study_type: list[str] = field(default_factory=list)
    intervention_type: list[str] = field(default_factory=list)
    sponsor_class: list[str] = field(default_factory=list)
    sex: str | None = None
    age: float | None = None
    healthy_volunteers: bool | None = None
    country: list[str] = field(default_factory=list)
    has_results: bool | None = None
    dates: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    near: tuple[float, float, float] | None = None
    ids: list[str] = field(default_factory=list)
    sort: str = "relevance"
    limit: int = 20
    page_token: str | None = None
    facets: bool = True
    expand_mesh: bool = True
    snippets: bool = True
    include_withdrawn: bool = True  # studies withdrawn upstream (gone from the registry)
    lenient: bool = False  # read a malformed query as plain words instead of raising
    exact_facets: bool = False  # count facets over every match even for huge result sets


@dataclass
class Hit:
    nct_id: str
    score: float
    brief_title: str
    overall_status: str | None
    phases: list[str]
    conditions: list[str]
    sponsor: str | None
    snippet: str | None
    study_type: str | None = None
    start_date: str | None = None
    last_update: str | None = None


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    next_page_token: str | None
    # True when the result set was so large (> FACET_SAMPLE_ABOVE) that facets were counted
    # on a uniform hash sample and scaled (show them as "≈"); total is always exact
    facets_approximate: bool = False

    def as_json(self) -> dict:
        """The CLI / web JSON shape."""
        return {
            "total": self.total,
            "studies": [
                {"nctId": h.nct_id, "briefTitle": h.brief_title, "overallStatus": h.overall_status,
                 "phases": h.phases, "score": round(h.score, 4), "conditions": h.conditions,
                 "sponsor": h.sponsor, "snippet": h.snippet, "studyType": h.study_type,
                 "startDate": h.start_date, "lastUpdate": h.last_update}
                for h in self.hits
            ],
            "facets": {k: [[v, n] for v, n in vals] for k, vals in self.facets.items()},
            "facetsApproximate": self.facets_approximate,
            "nextPageToken": self.next_page_token,
        }


# ---------------------------------------------------------------------------------------
# Query compilation


class _Compiler:
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


# ---------------------------------------------------------------------------------------
# Filters


def _norm_enum(value: str) -> str:
    return str(value).strip().upper().replace(" ", "_").replace("-", "_")


def _enum_values(param: str, values: list[str], allowed: list[str], extra: dict | None = None) -> list[str]:
    out: list[str] = []
    for v in values:
        key = _norm_enum(v)
        if extra and key.lower() in extra:
            out.extend(extra[key.lower()])
        elif param == "phase" and key in ("1", "2", "3", "4", "PHASE_1", "PHASE_2", "PHASE_3", "PHASE_4"):
            out.append("PHASE" + key[-1])
        elif key in allowed:
            out.append(key)
        else:
            shown = allowed + (list(extra) if extra else [])
            raise FilterError(param, shown, v)
    return list(dict.fromkeys(out))


def _const(q: Query) -> Query:
    return Query.const_score_query(q, 0.0)


def _date_bound(param: str, text: str | None, upper: bool) -> int | None:
    if text is None or text == "":
        return None
    from .normalize import parse_date

    try:
        iso = parse_date(str(text))
    except ValueError:
        raise FilterError(param, ["YYYY", "YYYY-MM", "YYYY-MM-DD"], text,
                          f"bad {param} date {text!r}; use YYYY, YYYY-MM or YYYY-MM-DD") from None
    y = int(iso[:4])
    if len(iso) == 4:
        return y * 10000 + (1231 if upper else 101)
    m = int(iso[5:7])
    if len(iso) == 7:
        return y * 10000 + m * 100 + (31 if upper else 1)
    return date_int(iso)


def _sort(value: str) -> tuple[str, bool]:
    """-> (key, descending)."""
    text = (value or "relevance").strip().lower()
    key, _, direction = text.partition(":")
    allowed = SORT_KEYS + [f"{k}:{d}" for k in SORT_KEYS[1:] for d in ("asc", "desc")]
    if key not in SORT_KEYS or direction not in ("", "asc", "desc") or (key == "relevance" and direction == "asc"):
        raise FilterError("sort", allowed, value)
    return key, direction != "asc"


# ---------------------------------------------------------------------------------------


class Searcher:
    """Searches the index derived from `store`; opens it, building or catching it up first."""

    def __init__(self, store, catch_up: bool = True) -> None:
        self.store = store
        self.index = FullTextIndex(index_path(store))
        self.schema = self.index.schema
        self._lock = threading.Lock()
        self._countries: dict[str, str] | None = None
        if catch_up:
            self.catch_up()
        self.index.index.reload()
        self._searcher = self.index.index.searcher()

    def catch_up(self) -> int:
        """Apply store changes since the index's seq (or pick up another process's)."""
        with self._lock:
            n = _catch_up(self.store, self.index)
            self.reload()
            return n

    def reload(self) -> None:
        """See the latest committed index (another process may have written it)."""
        self.index.index.reload()
        self._searcher = self.index.index.searcher()
        self._countries = None

    @property
    def num_docs(self) -> int:
        return self._searcher.num_docs

    # -- building the query ------------------------------------------------------------

    def build_query(self, req: SearchRequest) -> tuple[Query | None, Query]:
        """-> (the text query for scoring and snippets, the full query with filters)."""
        compiler = _Compiler(self.schema, req.expand_mesh)
        text_parts: list[Query] = []
        node = parse(req.query or "", lenient=req.lenient)
        q = compiler.compile(node)
        if q is not None:
            text_parts.append(q)
        for key, value in (req.fields or {}).items():
            name = key.removeprefix("query.")
            if name not in QUERY_FIELDS:
                raise FilterError("fields", sorted(QUERY_FIELDS), key)
            if value is None or not str(value).strip():
                continue
            q = compiler.compile(parse(str(value), default_field=name, lenient=req.lenient))
            if q is not None:
                text_parts.append(q)
        text_q = None
        if len(text_parts) == 1:
            text_q = text_parts[0]
        elif text_parts:
            text_q = Query.boolean_query([(Occur.Must, p) for p in text_parts])
        filters = self.filters(req)
        if not filters:
            return text_q, text_q if text_q is not None else Query.all_query()
        clauses = [(Occur.Must, text_q if text_q is not None else Query.all_query())]
        clauses += [(Occur.Must, _const(f)) for f in filters]
        return text_q, Query.boolean_query(clauses)

    def _terms(self, fld: str, values: list[str]) -> Query:
        if len(values) == 1:
            return Query.term_query(self.schema, fld, values[0])
        return Query.term_set_query(self.schema, fld, values)

    def filters(self, req: SearchRequest) -> list[Query]:
        out: list[Query] = []
        s = self.schema
        if req.status:
            vals = _enum_values("status", _as_list(req.status), STATUS_VALUES, {"open": OPEN_STATUSES})
            out.append(self._terms("status", vals))
        if req.phase:
            out.append(self._terms("phase", _enum_values("phase", _as_list(req.phase), PHASE_VALUES)))
        if req.study_type:
            out.append(self._terms("stype", _enum_values("study_type", _as_list(req.study_type), STUDY_TYPE_VALUES)))
        if req.intervention_type:
            vals = _enum_values("intervention_type", _as_list(req.intervention_type), INTERVENTION_TYPE_VALUES)
            out.append(self._terms("itype", vals))
        if req.sponsor_class:
            vals = _enum_values("sponsor_class", _as_list(req.sponsor_class), SPONSOR_CLASS_VALUES)
            out.append(self._terms("sclass", vals))
        if req.sex:
            (sex,) = _enum_values("sex", [req.sex], SEX_VALUES)
            out.append(self._terms("sex", ["ALL"] if sex == "ALL" else [sex, "ALL"]))
        if req.age is not None:
            try:
                age = float(req.age)
            except (TypeError, ValueError):
                raise FilterError("age", ["a number of years, 0-150"], req.age) from None
            if not 0 <= age <= 150 or math.isnan(age):
                raise FilterError("age", ["a number of years, 0-150"], req.age)
            days = years_to_days(age)
            out.append(Query.range_query(s, "min_age", FieldType.Float, 0.0, days))
            out.append(Query.range_query(s, "max_age", FieldType.Float, days, OPEN_MAX_AGE))
        if req.healthy_volunteers is not None:
            q = Query.term_query(s, "hv", "true")
            out.append(q if req.healthy_volunteers else _not(q))
        if req.country:
            out.append(self._terms("country", self._country_values(_as_list(req.country))))
        if req.has_results is not None:
            out.append(Query.term_query(s, "results", "true" if req.has_results else "false"))
        for key, bounds in (req.dates or {}).items():
            if key not in DATE_FIELDS:
                raise FilterError("dates", list(DATE_FIELDS), key)
            if bounds is None:
                continue
            if isinstance(bounds, str) or len(bounds) != 2:
                raise FilterError(f"dates.{key}", ["(from, to) with YYYY[-MM[-DD]] or None"], bounds,
                                  f"dates.{key} must be a (from, to) pair")
            lo = _date_bound(f"dates.{key}", bounds[0], upper=False)
            hi = _date_bound(f"dates.{key}", bounds[1], upper=True)
            if lo is None and hi is None:
                continue
            out.append(Query.range_query(s, key, FieldType.Integer, lo if lo is not None else 1,
                                         hi if hi is not None else 99991231))
        if req.near is not None:
            try:
                lat, lon, radius = (float(x) for x in req.near)
            except (TypeError, ValueError):
                raise FilterError("near", ["(lat, lon, radius_km)"], req.near) from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= 20000):
                raise FilterError("near", ["lat -90..90, lon -180..180, radius 0..20000 km"], req.near)
            cells = geo_cover(lat, lon, radius)
            out.append(Query.term_set_query(s, "geo", cells) if cells else Query.empty_query())
        if req.ids:
            try:
                ids = [normalize_nct(i) for i in _as_list(req.ids)]
            except RecordError as exc:
                raise FilterError("ids", ["NCT ids (NCT followed by 8 digits)"], message=f"ids: {exc}") from None
            out.append(self._terms("nct", ids))
        if not req.include_withdrawn:
            out.append(_not(Query.term_query(s, "withdrawn", "true")))
        return out

    def _country_values(self, values: list[str]) -> list[str]:
        if self._countries is None:
            terms = self._searcher.terms_with_prefix("country", "", limit=None)
            self._countries = {t.lower(): t for t, _ in terms}
        out = []
        for v in values:
            key = str(v).strip().lower()
            if key in self._countries:
                out.append(self._countries[key])
            elif self._countries:
                raise FilterError("country", sorted(self._countries.values()), v)
            else:
                out.append(str(v).strip())
        return out

    # -- running it ----------------------------------------------------------------------

    def search(self, req: SearchRequest) -> SearchResult:
        if not isinstance(req.limit, int) or not 1 <= req.limit <= MAX_LIMIT:
            raise FilterError("limit", [f"1..{MAX_LIMIT}"], req.limit)
        sort_key, desc = _sort(req.sort)
        text_q, full_q = self.build_query(req)
        fingerprint = _fingerprint(req)
        offset = _read_token(req.page_token, fingerprint)
        searcher = self._searcher
        if sort_key == "relevance":
            res = searcher.search(full_q, req.limit, count=True, offset=offset)
        else:
            fld = _SORT_FIELD[sort_key]
            res = searcher.search(full_q, req.limit, count=True, offset=offset,
                                  order_by_field=fld if desc else "neg_" + fld, order=Order.Desc)
        total = res.count
        facets: dict[str, list[tuple[str, int]]] = {}
        approximate = False
        if req.facets and total:
            if req.exact_facets or total <= FACET_SAMPLE_ABOVE:
                facets = self.facets(full_q)
            else:
                facets, approximate = self._sampled_facets(full_q, total), True
        snippet_gen = None
        if req.snippets and text_q is not None:
            snippet_gen = tantivy.SnippetGenerator.create(searcher, text_q, self.schema, "summary")
            snippet_gen.set_max_num_chars(240)
        hits = []
        for score, addr in res.hits:
            doc = searcher.doc(addr)
            data = hit_data(doc)
            snippet = _snippet(doc, snippet_gen) if req.snippets else None
            hits.append(Hit(
                nct_id=doc.get_first("nct"),
                score=float(score) if sort_key == "relevance" else 0.0,
                brief_title=data.get("t") or "", overall_status=data.get("s"),
                phases=data.get("p") or [], conditions=data.get("c") or [], sponsor=data.get("sp"),
                snippet=snippet, study_type=data.get("ty"), start_date=data.get("sd"),
                last_update=data.get("lu"),
            ))
        end = offset + len(hits)
        token = _make_token(end, fingerprint) if hits and end < total else None
        return SearchResult(total=total, hits=hits, facets=facets, next_page_token=token,
                            facets_approximate=approximate)

    def _sampled_facets(self, query: Query, total: int) -> dict[str, list[tuple[str, int]]]:
        """Facets of a very large result set, counted on a fixed hash sample of it (the
        documents whose `shard` is below m of SHARDS) and scaled up: about FACET_SAMPLE_TARGET
        documents are counted whatever the total, so the cost stays bounded."""
        m = max(1, min(SHARDS, math.ceil(SHARDS * FACET_SAMPLE_TARGET / total)))
        if m >= SHARDS:
            return self.facets(query)
        # the shard postings lead the intersection: only sampled documents evaluate the query
        shard = Query.range_query(self.schema, "shard", FieldType.Unsigned, 0, m - 1, use_inverted_index=True)
        sample = Query.boolean_query([(Occur.Must, query), (Occur.Must, _const(shard))])
        scale = SHARDS / m
        out = {}
        for name, vals in self.facets(sample).items():
            out[name] = [(v, min(total, round(n * scale))) for v, n in vals]
        return out

    def facets(self, query: Query) -> dict[str, list[tuple[str, int]]]:
        """Counts over the documents `query` matches: three terms aggregations in one pass
        (the grouped low-cardinality column, countries, condition MeSH terms), in Rust."""
        aggs = {
            "facet": {"terms": {"field": "facet", "size": 1000}},
            "country": {"terms": {"field": "country_facet", "size": FACETS["country"][1]}},
            "condition_mesh": {"terms": {"field": "mesh_facet", "size": FACETS["condition_mesh"][1]}},
        }
        result = self._searcher.aggregate(query, aggs)
        grouped: dict[str, list[tuple[str, int]]] = {name: [] for name in GROUPED_FACETS}
        for b in (result.get("facet") or {}).get("buckets") or []:
            name, _, value = str(b["key"]).partition(":")
            if name in grouped:
                grouped[name].append((value, int(b["doc_count"])))
        out: dict[str, list[tuple[str, int]]] = {}
        for name, (_, size) in FACETS.items():
            if name in grouped:
                vals = sorted(grouped[name], key=lambda kv: (-kv[1], kv[0]))[:size]
            else:
                buckets = (result.get(name) or {}).get("buckets") or []
                vals = [(str(b["key"]), int(b["doc_count"])) for b in buckets]
            out[name] = vals
        return out


def _as_list(value) -> list:
    """A list of values; strings are split on commas ("RECRUITING,COMPLETED")."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        if isinstance(item, str):
            out.extend(v.strip() for v in item.split(",") if v.strip())
        else:
            out.append(item)
    return out


def _not(q: Query) -> Query:
    return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, q)])


def _snippet(doc: tantivy.Document, gen) -> str | None:
    text = doc.get_first("summary")
    if not text:
        return None
    if gen is not None:
        sn = gen.snippet_from_doc(doc)
        frag = sn.fragment()
        ranges = [(r.start, r.end) for r in sn.highlighted()]
        if frag and ranges:
            raw = frag.encode("utf-8")
            out, pos = [], 0
            for a, b in sorted(ranges):
                if a < pos:
                    continue
                out.append(html.escape(raw[pos:a].decode("utf-8", "replace")))
                out.append("<mark>" + html.escape(raw[a:b].decode("utf-8", "replace")) + "</mark>")
                pos = b
            out.append(html.escape(raw[pos:].decode("utf-8", "replace")))
            return "".join(out).strip()
    plain = " ".join(text.split())
    if len(plain) > 240:
        plain = plain[:237].rsplit(" ", 1)[0] + "…"
    return html.escape(plain)


def _fingerprint(req: SearchRequest) -> str:
    d = asdict(req)
    d.pop("page_token", None)
    d.pop("limit", None)
    d.pop("facets", None)
    d.pop("snippets", None)
    return hashlib.sha1(orjson.dumps(d, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:12]


def _make_token(offset: int, fingerprint: str) -> str:
    raw = orjson.dumps({"o": offset, "f": fingerprint})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str | None, fingerprint: str) -> int:
    if not token:
        return 0
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, fp = int(data["o"]), data["f"]
    except Exception:
        raise FilterError("page_token", ["a next_page_token from a previous page"], token,
                          "page_token is not a token this search returned") from None
    if fp != fingerprint:
        raise FilterError("page_token", ["a next_page_token from the same query and filters"], token,
                          "page_token belongs to a different query or filters")
    if offset < 0:
        raise FilterError("page_token", ["a next_page_token from a previous page"], token)
    return offset


# ---------------------------------------------------------------------------------------
# CLI


def _parse_near(text: str) -> tuple[float, float, float]:
    from .cli import UsageError

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise UsageError(f"--near expects LAT,LON,RADIUS[km|mi], got {text!r}")
    radius = parts[2].lower()
    factor = 1.0
    if radius.endswith("mi"):
        factor, radius = 1.609344, radius[:-2]
    elif radius.endswith("km"):
        radius = radius[:-2]
    try:
        return float(parts[0]), float(parts[1]), float(radius) * factor
    except ValueError:
        raise UsageError(f"--near expects LAT,LON,RADIUS[km|mi], got {text!r}") from None


def _date_range(text: str | None) -> tuple[str | None, str | None] | None:
    if not text:
        return None
    lo, sep, hi = text.partition("..")
    if not sep:
        return (lo.strip() or None, lo.strip() or None)
    return (lo.strip() or None, hi.strip() or None)


def _yes_no(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.strip().lower() in ("yes", "y", "true", "1")


def cmd_search(args: argparse.Namespace) -> int:
    from .cli import UsageError
    from .store import open_store

    dates = {}
    for key in DATE_FIELDS:
        rng = _date_range(getattr(args, key))
        if rng:
            dates[key] = rng
    req = SearchRequest(
        query=" ".join(args.query), fields={k: v for k, v in (
            ("cond", args.cond), ("intr", args.intr), ("term", args.term), ("titles", args.titles),
            ("outc", args.outc), ("spons", args.spons), ("lead", args.lead), ("locn", args.locn),
            ("id", args.id)) if v},
        status=args.status or [], phase=args.phase or [], study_type=args.study_type or [],
        intervention_type=args.intervention_type or [], sponsor_class=args.sponsor_class or [],
        sex=args.sex, age=args.age, healthy_volunteers=_yes_no(args.healthy_volunteers),
        country=args.country or [], has_results=_yes_no(args.has_results), dates=dates,
        near=_parse_near(args.near) if args.near else None, ids=args.ids or [],
        sort=args.sort, limit=args.limit, page_token=args.page_token, expand_mesh=not args.no_expand,
        snippets=not args.json, include_withdrawn=not args.exclude_withdrawn, lenient=args.lenient,
    )
    try:
        store = open_store(args.db)
        result = Searcher(store).search(req)
    except (QueryError, FilterError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        out = result.as_json()
        out["studies"] = [{k: s[k] for k in ("nctId", "briefTitle", "overallStatus", "phases", "score")}
                          for s in out["studies"]]
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    import re

    print(f"{result.total:,} studies" + (f" (showing {len(result.hits)})" if result.hits else ""))
    for h in result.hits:
        phase = "/".join(h.phases) if h.phases else "-"
        print(f"\n{h.nct_id}  [{h.overall_status or '?'}]  {phase}")
        print(f"  {h.brief_title}")
        if h.snippet:
            text = html.unescape(re.sub(r"</?mark>", "*", h.snippet))
            print(f"  {text}")
    if result.facets:
        print()
        for name, vals in result.facets.items():
            if vals:
                shown = ", ".join(f"{v} {n:,}" for v, n in vals[:6])
                print(f"{name}: {shown}")
    if result.next_page_token:
        print(f"\nmore: --page-token {result.next_page_token}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    import time

    from .store import open_store

    store = open_store(args.db)
    t0 = time.perf_counter()
    if args.catch_up:
        n = _catch_up(store)
        verb = "caught up"
    else:
        n = _rebuild(store)
        verb = "indexed"
    dt = time.perf_counter() - t0
    if args.json:
        sys.stdout.write(orjson.dumps({"studies": n, "seconds": round(dt, 3), "path": index_path(store)}).decode() + "\n")
    else:
        rate = f" ({n / dt:,.0f} studies/s)" if n and dt else ""
        print(f"{verb} {n:,} studies in {dt:.1f}s{rate} -> {index_path(store)}")
    return 0


def register_commands(subparsers, common) -> None:
    p = subparsers.add_parser("index", parents=[common], help="rebuild the search index from the store")
    p.add_argument("--catch-up", action="store_true", help="only apply store changes since the last run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_index)

    p = subparsers.add_parser("search", parents=[common], help="search studies (query language, filters, facets)")
    p.add_argument("query", nargs="*", help='e.g. cond:"liver cancer" intr:sorafenib NOT pediatric')
    p.add_argument("--cond"); p.add_argument("--intr"); p.add_argument("--term")  # noqa: E702
    p.add_argument("--titles"); p.add_argument("--outc"); p.add_argument("--spons")  # noqa: E702
    p.add_argument("--lead"); p.add_argument("--locn"); p.add_argument("--id")  # noqa: E702
    p.add_argument("--status", action="append", help="status (repeatable; 'open' = recruiting or about to)")
    p.add_argument("--phase", action="append")
    p.add_argument("--study-type", action="append")
    p.add_argument("--intervention-type", action="append")
    p.add_argument("--sponsor-class", action="append")
    p.add_argument("--sex", help="ALL, FEMALE or MALE")
    p.add_argument("--age", type=float, help="a person's age in years")
    p.add_argument("--healthy-volunteers", help="yes/no")
    p.add_argument("--country", action="append")
    p.add_argument("--has-results", help="yes/no")
    for key in DATE_FIELDS:
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, help="date range FROM..TO (YYYY[-MM[-DD]])")
    p.add_argument("--near", help="LAT,LON,RADIUS with km (default) or mi")
    p.add_argument("--ids", action="append", help="NCT ids (comma separated or repeated)")
    p.add_argument("--sort", default="relevance", help=", ".join(SORT_KEYS) + " (optionally :asc/:desc)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--page-token")
    p.add_argument("--no-expand", action="store_true", help="no MeSH expansion for cond:")
    p.add_argument("--exclude-withdrawn", action="store_true", help="leave out studies withdrawn upstream")
    p.add_argument("--lenient", action="store_true", help="read a malformed query as plain words")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

"""The searcher: one open index, queries compiled with their filters, hits, facets, pages."""

from __future__ import annotations

import math
import threading

import tantivy
from tantivy import FieldType, Occur, Order, Query

from ..essie import QueryError, areas, parse
from ..essie.parser import as_words
from ..index import FullTextIndex, index_path
from ..index import catch_up as _catch_up
from ..index.fulltext import GROUPED_FACETS, SHARDS, HitSites, geo_cover, hit_data
from .compile import Compiler
from .cursor import fingerprint, make_token, past_end, read_token
from .filters import Filters, const, parse_sort
from .request import _SORT_FIELD, FACETS, MAX_LIMIT, FilterError, Hit, SearchRequest, SearchResult
from .snippets import snippet

# Above this many matches facets are counted on a hash sample of about FACET_SAMPLE_TARGET
# documents (SearchResult.facets_approximate) unless SearchRequest.exact_facets.
FACET_SAMPLE_ABOVE = 25_000
FACET_SAMPLE_TARGET = 12_000
PRECOUNT_ABOVE = 10_000  # page offsets beyond this are checked against the result size first


class Searcher:
    """Searches the index derived from `store`; opens it, building or catching it up first."""

    def __init__(self, store, catch_up: bool = True) -> None:
        self.store = store
        self.index = FullTextIndex(index_path(store))
        self.schema = self.index.schema
        self._lock = threading.Lock()
        self._countries: dict[str, str] | None = None
        self._rings: dict[tuple, list[Query]] = {}
        self._filters = Filters(self.schema, self._known_countries)
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
        """See the latest committed index (another process may have written it, or
        rebuilt it into a new directory)."""
        if self.index.swapped:
            self.index.reopen()
        self.index.index.reload()
        self._searcher = self.index.index.searcher()
        self._countries = None

    @property
    def num_docs(self) -> int:
        return self._searcher.num_docs

    def count(self, query: Query) -> int:
        """The live documents `query` matches (deleted ones not counted)."""
        return self._searcher.search(query, 1, count=True).count

    # -- building the query ------------------------------------------------------------

    def build_query(self, req: SearchRequest) -> tuple[Query | None, Query]:
        """-> (the text query for scoring and snippets, the full query with filters).

        `req.query` and `req.fields` score; `req.advanced` (filter.advanced, postFilter.advanced)
        filters without scoring. Every one is parsed and compiled by the same essie evaluator;
        a QueryError names the parameter it came from."""
        compiler = Compiler(self.schema, req.expand_mesh, self._searcher)
        text_parts: list[Query] = []
        sources = [(None, None, req.query or "")]
        for key, value in (req.fields or {}).items():
            name = key.removeprefix("query.")
            if name not in areas.SUGAR and name not in areas.AREA_BY_PARAM:
                raise FilterError("fields", sorted({*areas.SUGAR, *areas.AREA_BY_PARAM}), key)
            if value is not None and str(value).strip():
                field = name if name in areas.SUGAR else areas.AREA_BY_PARAM[name].name
                sources.append((f"query.{name}", field, str(value)))
        for param, field, text in sources:
            try:
                try:
                    q = compiler.compile(parse(text, default_field=field, lenient=req.lenient))
                except QueryError:
                    if not req.lenient:
                        raise
                    q = compiler.compile(as_words(text, field))  # lenient: never an error
            except QueryError as exc:
                raise (exc.with_param(param) if param else exc) from None
            if q is not None:
                text_parts.append(q)
        text_q = None
        if len(text_parts) == 1:
            text_q = text_parts[0]
        elif text_parts:
            text_q = Query.boolean_query([(Occur.Must, p) for p in text_parts])
        filters = self.filters(req)
        for param, expr in req.advanced or ():
            try:
                q = compiler.compile(parse(expr))
            except QueryError as exc:
                raise exc.with_param(param) from None
            if q is not None:
                filters.append(q)
        if not filters:
            return text_q, text_q if text_q is not None else Query.all_query()
        clauses = [(Occur.Must, text_q if text_q is not None else Query.all_query())]
        clauses += [(Occur.Must, const(f)) for f in filters]
        return text_q, Query.boolean_query(clauses)

    def filters(self, req: SearchRequest) -> list[Query]:
        return self._filters.build(req)

    def _known_countries(self) -> dict[str, str]:
        if self._countries is None:
            terms = self._searcher.terms_with_prefix("country", "", limit=None)
            self._countries = {t.lower(): t for t, _ in terms}
        return self._countries

    def search(self, req: SearchRequest) -> SearchResult:
        if not isinstance(req.limit, int) or not 1 <= req.limit <= MAX_LIMIT:
            raise FilterError("limit", [f"1..{MAX_LIMIT}"], req.limit)
        sort_key, desc = parse_sort(req.sort)
        text_q, full_q = self.build_query(req)
        fp = fingerprint(req)
        offset = read_token(req.page_token, fp)
        searcher = self._searcher
        # a page's cost grows with its offset (the top offset+limit are kept): a deep offset
        # is checked against the result size before it is collected
        if offset > PRECOUNT_ABOVE:
            total = searcher.search(full_q, 1, count=True).count
            if offset > total:
                raise past_end(req.page_token, offset, total)
        if sort_key == "distance":
            if req.near is None:
                raise FilterError("sort", ["distance needs near (a place or point and a radius)"], req.sort)
            res = searcher.search(self.distance_rings(full_q, req.near), req.limit, count=True,
                                  offset=offset)
        elif sort_key == "relevance":
            res = searcher.search(full_q, req.limit, count=True, offset=offset)
        else:
            fld = _SORT_FIELD[sort_key]
            res = searcher.search(full_q, req.limit, count=True, offset=offset,
                                  order_by_field=fld if desc else "neg_" + fld, order=Order.Desc)
        total = res.count
        if offset > total:
            raise past_end(req.page_token, offset, total)
        facets: dict[str, list[tuple[str, int]]] = {}
        approximate = False
        if req.facets:  # after the hits, which gave the total that chooses exact or sampled
            facets, approximate = self._facets_of(searcher, full_q, req.exact_facets, total=total)
        snippet_gen = None
        if req.snippets and text_q is not None:
            snippet_gen = tantivy.SnippetGenerator.create(searcher, text_q, self.schema, "summary")
            snippet_gen.set_max_num_chars(240)
        hits = []
        for score, addr in res.hits:
            doc = searcher.doc(addr)
            data = hit_data(doc)
            text = snippet(doc, snippet_gen) if req.snippets else None
            hits.append(Hit(
                nct_id=doc.get_first("nct"),
                score=float(score) if sort_key == "relevance" else 0.0,
                brief_title=data.get("t") or "", overall_status=data.get("s"),
                phases=data.get("p") or [], conditions=data.get("c") or [], sponsor=data.get("sp"),
                snippet=text, study_type=data.get("ty"), start_date=data.get("sd"),
                last_update=data.get("lu"), reported_status=data.get("s0", data.get("s")),
                status_verified=data.get("v"), sites=(sites := HitSites(doc, data.get("gl"))),
                nearest=sites.nearest(float(req.near[0]), float(req.near[1])) if req.near else None,
            ))
        if sort_key == "distance":  # exact order within the page (rings order it across pages)
            hits.sort(key=lambda h: h.nearest["km"] if h.nearest else math.inf)
        end = offset + len(hits)
        token = make_token(end, fp) if hits and end < total else None
        return SearchResult(total=total, hits=hits, facets=facets, next_page_token=token,
                            facets_approximate=approximate)

    def distance_rings(self, query: Query, near) -> Query:
        """`query` scored by how near its nearest site is: one constant point per ring (of
        radius r, 0.55 r, 0.3 r, ...) the study has a site in, so sorting by score is sorting
        by distance to within a ring's width; the page is then put in exact order. The rings
        are built once per point and radius."""
        lat, lon, radius = (float(x) for x in near)
        key = (round(lat, 5), round(lon, 5), round(radius, 3))
        rings = self._rings.get(key)
        if rings is None:
            rings = []
            for k in range(RINGS):
                cells = geo_cover(lat, lon, radius * 0.55**k, steps=RING_STEPS)
                if not cells:
                    break
                rings.append(Query.const_score_query(Query.term_set_query(self.schema, "geo", cells), 1.0))
            if len(self._rings) > 256:
                self._rings.clear()
            self._rings[key] = rings
        return Query.boolean_query([(Occur.Must, const(query)), *((Occur.Should, q) for q in rings)])

    def facet_counts(self, req: SearchRequest, names=None, total: int | None = None
                     ) -> tuple[dict[str, list[tuple[str, int]]], bool]:
        """The facets of a search alone, without its hits: -> (facets, approximate).

        `names`: the FACETS to count (default all; a page counts only those it shows).
        `total`: the search's match count when the caller has it (the page it was shown on):
        it saves the count pass that chooses between exact and sampled counts. It only steers
        that choice (sampled counts are marked approximate either way), so a wrong one costs
        time or precision, never an unmarked estimate."""
        return self._facets_of(self._searcher, self.build_query(req)[1], req.exact_facets, names, total)

    def _facets_of(self, searcher, query: Query, exact: bool, names=None, total: int | None = None
                   ) -> tuple[dict[str, list[tuple[str, int]]], bool]:
        """Exact facets up to FACET_SAMPLE_ABOVE matches, sampled ones above."""
        if total is None:
            total = searcher.search(query, 1, count=True).count
        if not total:
            return {}, False
        if exact or total <= FACET_SAMPLE_ABOVE:
            return self.facets(query, searcher, names), False
        return self._sampled_facets(query, total, searcher, names)

    def _sampled_facets(self, query: Query, total: int, searcher=None, names=None
                        ) -> tuple[dict[str, list[tuple[str, int]]], bool]:
        """Facets of a very large result set, counted on a fixed hash sample of it (the
        documents whose `shard` is below m of SHARDS) and scaled up: about FACET_SAMPLE_TARGET
        documents are counted whatever the total, so the cost stays bounded."""
        m = max(1, min(SHARDS, math.ceil(SHARDS * FACET_SAMPLE_TARGET / total)))
        if m >= SHARDS:
            return self.facets(query, searcher, names), False
        # the shard postings lead the intersection: only sampled documents evaluate the query
        shard = Query.range_query(self.schema, "shard", FieldType.Unsigned, 0, m - 1, use_inverted_index=True)
        sample = Query.boolean_query([(Occur.Must, query), (Occur.Must, const(shard))])
        scale = SHARDS / m
        out = {}
        for name, vals in self.facets(sample, searcher, names).items():
            out[name] = [(v, min(total, round(n * scale))) for v, n in vals]
        return out, True

    def facets(self, query: Query, searcher=None, names=None) -> dict[str, list[tuple[str, int]]]:
        """Counts over the documents `query` matches: up to three terms aggregations in one
        pass (the grouped low-cardinality column, countries, condition MeSH terms), in Rust;
        only the columns `names` (default: every facet) need are read."""
        names = list(FACETS) if names is None else [n for n in FACETS if n in names]
        aggs = {}
        if any(n in GROUPED_FACETS for n in names):
            aggs["facet"] = {"terms": {"field": "facet", "size": 1000}}
        if "country" in names:
            aggs["country"] = {"terms": {"field": "country_facet", "size": FACETS["country"][1]}}
        if "condition_mesh" in names:
            aggs["condition_mesh"] = {"terms": {"field": "mesh_facet", "size": FACETS["condition_mesh"][1]}}
        if not aggs:
            return {}
        result = (searcher or self._searcher).aggregate(query, aggs)
        grouped: dict[str, list[tuple[str, int]]] = {name: [] for name in GROUPED_FACETS}
        for b in (result.get("facet") or {}).get("buckets") or []:
            name, _, value = str(b["key"]).partition(":")
            if name in grouped:
                grouped[name].append((value, int(b["doc_count"])))
        out: dict[str, list[tuple[str, int]]] = {}
        for name in names:
            size = FACETS[name][1]
            if name in grouped:
                vals = sorted(grouped[name], key=lambda kv: (-kv[1], kv[0]))[:size]
            else:
                buckets = (result.get(name) or {}).get("buckets") or []
                vals = [(str(b["key"]), int(b["doc_count"])) for b in buckets]
            out[name] = vals
        return out


# -- distance (issue 14) ------------------------------------------------------------------

RINGS = 8  # radius x 0.55^k, k < RINGS: down to 1.5% of the radius
RING_STEPS = 8  # ring covers are coarser than the filter's: they only order the hits

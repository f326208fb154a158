"""`/api/v2`: the ClinicalTrials.gov API v2 contract (read-only) over the local store.

Every path of the contract, with its parameters (`api_params.py`), its response shapes and
status codes as `/openapi.json` documents them (`api_schema.py`). Fixed paths are declared
before `/studies/{nctId}`, so `/studies/metadata` is not read as an NCT id.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from typing import Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from ..essie.areas import AREA_BY_PARAM, PIECES, search_areas_json
from ..index.fulltext import haversine_km, piece_number, piece_values
from ..normalize import unescape_markdown
from ..record import ENUMS as V2_ENUMS
from ..record import NCT_RE
from ..search.cursor import fingerprint, make_token, past_end, read_token
from . import api_schema as S
from . import field_stats
from .api_params import API_SORTS, MAX_SORTED, ApiOptions, api_request, count_path
from .backend import FilterError, QueryError, SearchRequest, Web, similar
from .export import csv_columns, to_csv, to_ris
from .fhir import research_study
from .fields import parse_fields, project
from .metadata import metadata
from .params import AGES, LABELS, PHASES, SEXES, STATUSES, STUDY_TYPES, ParamError

API_VERSION = "2.0.3"
GEO_DECAY_IGNORED_ABOVE = 10_000  # the contract: geoDecay is ignored for larger result sets

# search-layer parameter names -> the API v2 parameter a client gave
_API_PARAM = {
    "page_token": "pageToken", "limit": "pageSize", "near": "filter.geo", "dates": "filter.advanced",
    "status": "filter.overallStatus", "ids": "filter.ids", "phase": "filter.advanced",
    "study_type": "filter.advanced", "sex": "filter.advanced", "sort": "sort",
}
_INTERVENTION_TYPES = list(V2_ENUMS["armsInterventionsModule.interventions[].type"])
_AGENCY_CLASSES = list(V2_ENUMS["sponsorCollaboratorsModule.leadSponsor.class"])
_MARKUP_PATHS = [p.path.split(".") for p in PIECES.values() if p.type == "markup"]
_NCT_PATTERN = r"^[Nn][Cc][Tt][0-9]{8}$"


def _enum(type_: str, pieces: list[str], values: list[str]) -> dict:
    return {"type": type_, "pieces": pieces,
            "values": [{"value": v, "legacyValue": LABELS.get(v, v.replace("_", " ").title())} for v in values]}


ENUMS = [
    _enum("Status", ["OverallStatus", "LastKnownStatus", "LocationStatus"], STATUSES),
    _enum("Phase", ["Phase"], PHASES),
    _enum("StudyType", ["StudyType"], STUDY_TYPES),
    _enum("Sex", ["Sex"], SEXES),
    _enum("StandardAge", ["StdAge"], AGES),
    _enum("InterventionType", ["InterventionType"], _INTERVENTION_TYPES),
    _enum("AgencyClass", ["LeadSponsorClass", "CollaboratorClass"], _AGENCY_CLASSES),
]


def _json(body, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _v2_bytes(record_json: bytes) -> bytes:
    """The stored record as the v2 API serves it: `hasResults` is always present there."""
    if b'"hasResults"' in record_json or not record_json.endswith(b"}"):
        return record_json
    return record_json[:-1] + b',"hasResults":false}'


def _v2(record_json: bytes) -> dict:
    record = orjson.loads(record_json)
    record.setdefault("hasResults", False)
    return record


def legacy_markup(record: dict) -> dict:
    """markupFormat=legacy: markup fields as plain text (v2 escapes markdown characters)."""
    for parts in _MARKUP_PATHS:
        _rewrite(record, parts)
    return record


def _rewrite(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for v in node:
            _rewrite(v, parts)
    elif isinstance(node, dict) and parts and parts[0] in node:
        if len(parts) == 1:
            if isinstance(node[parts[0]], str):
                node[parts[0]] = unescape_markdown(node[parts[0]])
        else:
            _rewrite(node[parts[0]], parts[1:])


def query_error_json(exc) -> dict:
    pos = getattr(exc, "position", None)
    msg = str(exc) or "the query could not be parsed"
    body = {"error": "bad query", "parameter": getattr(exc, "param", None) or "query", "message": msg}
    if pos is not None:
        body["position"] = pos
    return body


def filter_error_json(exc) -> dict:
    body = {"error": "bad parameter", "parameter": getattr(exc, "param", None) or "filter",
            "message": str(exc) or "bad filter value"}
    allowed = getattr(exc, "allowed", None)
    if allowed is not None:
        body["allowed"] = list(allowed) if not isinstance(allowed, str) else allowed
    return body


def _nct_or_error(value: str) -> str:
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        raise ParamError("nctId", f"not an NCT id: {value[:40]!r}", "NCT followed by 8 digits, e.g. NCT03949231")
    return nct


def current_id(web: Web, nct: str) -> str | None:
    """The current study that lists `nct` among its obsolete ids (nctIdAliases), if any."""
    result = web.search(SearchRequest(fields={"id": nct}, limit=20, facets=False, snippets=False, lenient=True))
    ids = [h.nct_id for h in result.hits if h.nct_id != nct]
    for s in web.store.get_many(ids).values():
        ident = (orjson.loads(s.record_json).get("protocolSection") or {}).get("identificationModule") or {}
        if nct in (ident.get("nctIdAliases") or []):
            return s.nct_id
    return None


def _with_aliases(web: Web, ids: list[str]) -> list[str]:
    """filter.ids: an obsolete id stands for the study that now holds it."""
    held = web.store.get_many(ids)
    out = []
    for i in ids:
        out.append(i if i in held else (current_id(web, i) or i))
    return list(dict.fromkeys(out))


def _query_fields(params) -> str:
    """`@query` in fields: the pieces of every search area the request's query.* parameters use."""
    names = []
    for key in params:
        if key.startswith("query.") and params.get(key) and key[6:] in AREA_BY_PARAM:
            names += [n for part in AREA_BY_PARAM[key[6:]].parts for n in part.pieces]
    return ",".join(dict.fromkeys(names)) or "NCTId"


def _search_page(web: Web, request: Request) -> Response:
    req, opts = api_request(request.query_params)
    fields = opts.fields
    if "@query" in fields:
        fields = fields.replace("@query", _query_fields(request.query_params))
    tree = parse_fields(fields) if opts.format == "json" else None
    columns = csv_columns(fields) if opts.format == "csv" else None
    if req.ids:
        req.ids = _with_aliases(web, req.ids)
    hits, total, token = [], 0, None
    patient = request.query_params.get("query.patient")
    if patient and patient.strip() and not opts.nothing:  # the matcher ranks; the rest restricts
        from .match import patient_page

        hits, total, token = patient_page(web, req, patient)
    elif not opts.nothing:
        try:
            if opts.record_sort:
                hits, total, token = record_sorted(web, req, opts)
            else:
                result = web.search(req)
                hits, total, token = [h.nct_id for h in result.hits], result.total, result.next_page_token
        except QueryError as exc:
            if not getattr(exc, "param", None):
                given = [k for k in request.query_params if k.startswith("query.")]
                exc.param = given[0] if len(given) == 1 else "query.*"
            raise
        except FilterError as exc:  # name the API parameter, not the search field
            base = str(exc.param).split(".")[0]
            exc.param = _API_PARAM.get(base, exc.param)
            raise
    got = web.store.get_many(hits)
    if opts.format == "csv":
        # markupFormat applies to JSON only (the contract); CSV cells carry the markdown text
        return _csv_page(opts, [_v2(got[i].record_json) for i in hits if i in got],
                         columns, token, total)
    tail = b""
    if token:
        tail += b',"nextPageToken":' + orjson.dumps(token)
    head = b"{"
    if opts.count_total:
        head += b'"totalCount":' + str(total).encode() + b","
    if tree is None and opts.markup == "markdown":
        parts = [_v2_bytes(got[i].record_json) for i in hits if i in got]
    else:
        parts = [orjson.dumps(project(_prepared(got[i].record_json, opts), tree or True)) for i in hits if i in got]
    return Response(head + b'"studies":[' + b",".join(parts) + b"]" + tail + b"}", media_type="application/json")


def record_sorted(web: Web, req: SearchRequest, opts: ApiOptions) -> tuple[list[str], int, str | None]:
    """A page of a search sorted by keys the index has no column for (any date or number
    piece, or a second key): the whole result set, at most MAX_SORTED studies, is sorted by
    the records' values, stably, missing values last whatever the direction."""
    fp = fingerprint(dataclasses.replace(req, sort=f"relevance|{opts.sort_text}"))
    first = web.search(dataclasses.replace(req, limit=1, page_token=None))
    total = first.total
    if opts.record_sort == [("@geoDecay", "desc")]:
        if total > GEO_DECAY_IGNORED_ABOVE:  # the contract: ignored for more than 10,000 studies
            result = web.search(req)
            return [h.nct_id for h in result.hits], result.total, result.next_page_token
        if total > MAX_SORTED:
            raise ParamError("geoDecay", f"geoDecay ranks at most {MAX_SORTED:,} studies and this search has "
                                         f"{total:,}: narrow the search (a smaller distance)")
    elif total > MAX_SORTED:
        keys = ", ".join(f"{p}:{d}" for p, d in opts.record_sort or [])
        raise ParamError("sort", f"sort={opts.sort_text.split('|')[0][:80]} ({keys}) sorts at most {MAX_SORTED:,} "
                                 f"studies and this search has {total:,}: narrow the search, or sort by one "
                                 "indexed field", [k for k in API_SORTS])
    offset = read_token(req.page_token, fp)
    if offset > total:
        raise past_end(req.page_token, offset, total)
    result = web.search(dataclasses.replace(req, limit=max(1, total), page_token=None)) if total > 1 else first
    ids = [h.nct_id for h in result.hits]
    got = web.store.get_many(ids)
    scores = {h.nct_id: h.score or 1.0 for h in result.hits}  # filters alone score 0: proximity alone ranks
    # the search's nearest site where it says (sites geocoded from their city count too)
    nearest = {h.nct_id: (getattr(h, "nearest", None) or {}).get("km") for h in result.hits}
    rows = [(rank, i, orjson.loads(got[i].record_json)) for rank, i in enumerate(ids) if i in got]
    for piece_name, direction in reversed(opts.record_sort or []):
        if piece_name == "@geoDecay":
            decay = opts.geo_decay

            def km(row, decay=decay):
                found = nearest.get(row[1])
                return found if found is not None else _closest_km(row[2], decay.lat, decay.lon)

            rows.sort(key=lambda row, decay=decay: -scores[row[1]] * decay.factor(km(row)))
        else:
            rows.sort(key=_sort_key(piece_name, direction))
    page = [i for _, i, _ in rows[offset: offset + req.limit]]
    end = offset + len(page)
    return page, total, make_token(end, fp) if page and end < total else None


def _closest_km(record: dict, lat: float, lon: float) -> float | None:
    """The distance from a point to a study's closest site with coordinates."""
    points = piece_values(record, "protocolSection.contactsLocationsModule.locations.geoPoint")
    km = [haversine_km(lat, lon, p["lat"], p["lon"]) for p in points
          if isinstance(p, dict) and isinstance(p.get("lat"), (int, float)) and isinstance(p.get("lon"), (int, float))]
    return min(km) if km else None


def _sort_key(piece_name: str, direction: str):
    if piece_name == "@relevance":
        return lambda row: row[0]
    desc = direction == "desc"
    counted = count_path(piece_name)
    if counted is not None:  # NumArmGroups: a study without arm groups has 0
        return lambda row: -len(piece_values(row[2], counted)) if desc else len(piece_values(row[2], counted))
    p = PIECES[piece_name]

    def key(row):
        nums = [n for n in (piece_number(p.type, v) for v in piece_values(row[2], p.path)) if n is not None]
        if not nums:
            return (1, 0)
        return (0, -max(nums) if desc else min(nums))

    return key


def _prepared(record_json: bytes, opts: ApiOptions) -> dict:
    record = _v2(record_json)
    return legacy_markup(record) if opts.markup == "legacy" else record


def _csv_page(opts: ApiOptions, records: list[dict], columns, token: str | None, total: int) -> Response:
    """One page of CSV: the header on the first page only; paging and the total in headers."""
    headers = {"Content-Disposition": 'attachment; filename="ctg-studies.csv"'}
    if token:
        headers["x-next-page-token"] = token
    if opts.count_total:
        headers["x-total-count"] = str(total)
    return Response(to_csv(records, columns, header=opts.first_page), media_type="text/csv; charset=utf-8",
                    headers=headers)


_Q = dict[str, Any]


def _q(description: str, **schema: Any) -> _Q:
    return {"description": description, **schema}


def router(web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/v2", tags=["ClinicalTrials.gov API v2"])
    pipe = "comma- or pipe-separated"

    @r.get("/studies", summary="Search studies (API v2 contract)", responses=S.SEARCH_RESPONSES,
           response_class=Response)
    def studies(
        request: Request,
        format: str = Query("json", description="json: a page of studies; csv: a page as CSV (header on the first page)",
                            json_schema_extra={"enum": ["json", "csv"]}),
        markupFormat: str = Query("markdown", description="markup fields as markdown, or legacy plain text",
                                  json_schema_extra={"enum": ["markdown", "legacy"]}),
        query_cond: str | None = Query(None, alias="query.cond", description="Conditions or disease (query language)",
                                       examples=["lung cancer", "(head OR neck) AND pain"]),
        query_term: str | None = Query(None, alias="query.term", description="Other terms (query language)",
                                       examples=["AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX]"]),
        query_locn: str | None = Query(None, alias="query.locn", description="Location terms"),
        query_titles: str | None = Query(None, alias="query.titles", description="Titles and acronyms"),
        query_intr: str | None = Query(None, alias="query.intr", description="Interventions / treatments"),
        query_outc: str | None = Query(None, alias="query.outc", description="Outcome measures"),
        query_spons: str | None = Query(None, alias="query.spons", description="Sponsors and collaborators"),
        query_lead: str | None = Query(None, alias="query.lead", description="Lead sponsor name"),
        query_id: str | None = Query(None, alias="query.id", description="Study ids (NCT ids, aliases, org ids)"),
        query_patient: str | None = Query(None, alias="query.patient", description="A patient's note: the studies "
                                          "the matcher ranks for them (at most 100), best first; other parameters restrict them",
                                          examples=["60-year-old man with advanced hepatocellular carcinoma after sorafenib"]),
        filter_status: str | None = Query(None, alias="filter.overallStatus", description=f"statuses, {pipe}",
                                          examples=["NOT_YET_RECRUITING|RECRUITING", "COMPLETED"]),
        filter_geo: str | None = Query(None, alias="filter.geo", description="distance(lat,lon,50mi); units mi, km, m, ft",
                                       examples=["distance(39.0035707,-77.1013313,50mi)"]),
        filter_ids: str | None = Query(None, alias="filter.ids", description=f"NCT ids, {pipe}; obsolete ids (aliases) match their study",
                                       examples=["NCT04852770|NCT01728545|NCT02109302"]),
        filter_advanced: str | None = Query(None, alias="filter.advanced", description="a filter in the query language",
                                            examples=["AREA[StartDate]2022", "AREA[Phase]PHASE3"]),
        filter_switched: str | None = Query(None, alias="filter.outcomeSwitched",
                                            description="trialscope extension: true (or false) for studies whose primary "
                                                        "outcome changed after the start date; see /studies/{nctId}/history"),
        filter_synonyms: str | None = Query(None, alias="filter.synonyms",
                                            description="not supported (no registry synonym ids): a 400 names it"),
        post_status: str | None = Query(None, alias="postFilter.overallStatus", description="as filter.overallStatus"),
        post_geo: str | None = Query(None, alias="postFilter.geo", description="as filter.geo"),
        post_ids: str | None = Query(None, alias="postFilter.ids", description="as filter.ids"),
        post_advanced: str | None = Query(None, alias="postFilter.advanced", description="as filter.advanced"),
        post_synonyms: str | None = Query(None, alias="postFilter.synonyms", description="as filter.synonyms"),
        aggFilters: str | None = Query(None, description="website filters, e.g. results:with,status:com",
                                       examples=["results:with,status:com", "status:not rec,sex:f,healthy:y"]),
        geoDecay: str | None = Query(None, description="with filter.geo: relevance times a proximity factor of the "
                                     "distance to a study's closest site (result sets of up to 1,000 studies; "
                                     "ignored above 10,000 and without filter.geo)",
                                     examples=["func:exp,scale:300mi,offset:0mi,decay:0.5"]),
        fields: str | None = Query(None, description="json: piece, module, area names or v2 paths (or @query); "
                                   "csv: column names (NCT Number|Study Title)", examples=["NCTId|BriefTitle|OverallStatus"]),
        sort: str | None = Query(None, description="one or two keys: @relevance or a date/number piece, with :asc "
                                 "or :desc (dates default to desc, numbers to asc; missing values last); "
                                 "keys without an index column sort result sets of at most 1,000 studies",
                                 examples=["@relevance", "LastUpdatePostDate", "EnrollmentCount:desc"]),
        countTotal: bool = Query(False, description="add totalCount (csv: x-total-count) on the first page"),
        pageSize: int = Query(10, ge=0, description="0 is the default (10); more than 1000 is cut to 1000"),
        pageToken: str | None = Query(None, description="nextPageToken of the previous page (csv: x-next-page-token)"),
    ):
        return _search_page(web, request)

    @r.get("/studies/metadata", summary="Data model fields", responses=S.ok_json("FieldNode", array=True),
           response_class=Response)
    def studies_metadata(
        includeIndexedOnly: bool = Query(False, description="also fields only the index has (trialscope has none)"),
        includeHistoricOnly: bool = Query(False, description="also fields of historic data only (trialscope has none)"),
    ):
        return _json(metadata())

    @r.get("/studies/search-areas", summary="Search documents and their areas",
           responses=S.ok_json("SearchDocument", array=True), response_class=Response)
    def search_areas():
        return _json(search_areas_json())

    @r.get("/studies/enums", summary="Enumeration types and their values",
           responses=S.ok_json("EnumInfo", array=True), response_class=Response)
    def enums():
        return _json(ENUMS)

    @r.get("/studies/{nctId}", summary="One study", responses=S.STUDY_RESPONSES, response_class=Response)
    def study(
        request: Request,
        nctId: str = Path(description="NCT number, any letter case", pattern=_NCT_PATTERN,
                          examples=["NCT03949231"]),
        format: str = Query("json", description="json, csv, json.zip, fhir.json (a FHIR ResearchStudy) or ris",
                            json_schema_extra={"enum": ["json", "csv", "json.zip", "fhir.json", "ris"]}),
        markupFormat: str = Query("markdown", json_schema_extra={"enum": ["markdown", "legacy"]},
                                  description="markup fields as markdown, or legacy plain text"),
        fields: str | None = Query(None, description="json: piece, module, area names or paths; csv: column names"),
    ):
        allowed = ["fields", "format", "markupFormat"]
        for key in request.query_params:
            if key not in allowed:
                raise ParamError(key, f"unknown parameter {key[:40]!r}", allowed)
        nct = _nct_or_error(nctId)
        fmt = (format or "json").lower()
        if fmt not in ("json", "csv", "json.zip", "fhir.json", "ris"):
            raise ParamError("format", f"unknown format {fmt[:40]!r}", ["json", "csv", "json.zip", "fhir.json", "ris"])
        markup = (markupFormat or "markdown").lower()
        if markup not in ("markdown", "legacy"):
            raise ParamError("markupFormat", f"unknown markupFormat {markup[:40]!r}", ["markdown", "legacy"])
        if fmt in ("fhir.json", "ris") and fields:
            raise ParamError("fields", f"format={fmt} returns every field: fields must be unset")
        columns = csv_columns(fields or "") if fmt == "csv" else None
        tree = parse_fields(fields or "") if fmt in ("json", "json.zip") else None
        stored = web.store.get(nct)
        if stored is None:
            current = current_id(web, nct)
            if current is None:
                raise HTTPException(404, f"study {nct} not found")
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/api/v2/studies/{current}{query}", status_code=301)
        record = _v2(stored.record_json)
        if markup == "legacy" and fmt == "json":  # markupFormat applies to JSON only
            record = legacy_markup(record)
        if fmt == "csv":
            return Response(to_csv([record], columns), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{nct}.csv"'})
        if fmt == "ris":
            return Response(to_ris([record]), media_type="application/x-research-info-systems",
                            headers={"Content-Disposition": f'attachment; filename="{nct}.ris"'})
        if fmt == "fhir.json":
            return Response(orjson.dumps(research_study(record)), media_type="application/fhir+json")
        body = orjson.dumps(project(record, tree) if tree is not None else record)
        if fmt == "json.zip":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(f"{nct}.json", body)
            return Response(buf.getvalue(), media_type="application/zip",
                            headers={"Content-Disposition": f'attachment; filename="{nct}.zip"'})
        if tree is None and markup == "markdown":
            return Response(_v2_bytes(stored.record_json), media_type="application/json")
        return Response(body, media_type="application/json")

    @r.get("/studies/{nctId}/similar", summary="Related studies (trialscope extension)",
           responses={**S.ok_json("SimilarStudies"), **S.NOT_FOUND}, response_class=Response)
    def similar_studies(
        nctId: str = Path(description="NCT number", pattern=_NCT_PATTERN, examples=["NCT03949231"]),
        limit: int = Query(10, ge=1, le=100, description="how many related studies"),
    ):
        nct = _nct_or_error(nctId)
        stored = web.store.get(nct)
        if stored is None:
            raise HTTPException(404, f"study {nct} not found")
        return _json({"nctId": nct, "similar": similar(web, nct, orjson.loads(stored.record_json), limit)})

    def stats(pieces) -> dict:
        """The statistics of these pieces: one pass over the store per store state and set."""
        return web.cached(("field-stats", tuple(p.name for p in pieces)), lambda: field_stats.gather(
            ((s.nct_id, s.record_json) for s in web.store.iter_studies()), pieces))

    @r.get("/stats/field/values", summary="Value statistics of the study leaf fields",
           responses=S.ok_json("FieldValuesStats", array=True), response_class=Response)
    def field_values(
        types: str | None = Query(None, description=f"field types, {pipe}: ENUM, STRING, DATE, INTEGER, NUMBER, BOOLEAN",
                                  examples=["ENUM|BOOLEAN"]),
        fields: str | None = Query(None, description=f"piece names or v2 paths, {pipe} (default: every field)",
                                   examples=["Phase", "Condition|InterventionName"]),
    ):
        pieces = field_stats.select(fields, types)
        key = ("field-values", tuple(p.name for p in pieces))
        return Response(web.cached(key, lambda: orjson.dumps(field_stats.field_values(stats(pieces), pieces))),
                        media_type="application/json")

    @r.get("/stats/field/sizes", summary="Sizes of list fields",
           responses=S.ok_json("ListSizes", array=True), response_class=Response)
    def field_sizes(
        fields: str | None = Query(None, description=f"piece names or v2 paths of list fields, {pipe} (default: every list field)",
                                   examples=["Phase", "Condition|InterventionName"]),
    ):
        pieces = field_stats.select(fields, None, lists=True)
        return _json(field_stats.field_sizes(stats(pieces), pieces, explicit=bool((fields or "").strip())))

    @r.get("/stats/size", summary="Study JSON sizes", responses=S.ok_json("SizeStats"), response_class=Response)
    def stats_size():
        return _json(web.cached("size", lambda: _size_stats(web)))

    @r.get("/version", summary="API version and data timestamp", responses=S.ok_json("Version"),
           response_class=Response)
    def version():
        return _json({"apiVersion": API_VERSION, "dataTimestamp": _data_timestamp(web)})

    return r


def _data_timestamp(web: Web) -> str | None:
    for run in web.store.runs(limit=20):
        if run.finished_at:
            return run.finished_at.replace("+00:00", "")
    return None


def _size_stats(web: Web) -> dict:
    sizes: list[tuple[int, str]] = []
    for s in web.store.iter_studies():
        sizes.append((len(s.record_json), s.nct_id))
    if not sizes:
        return {"totalStudies": 0, "averageSizeBytes": 0, "percentiles": {}, "ranges": [], "largestStudies": []}
    ordered = sorted(n for n, _ in sizes)
    pct = {str(p): ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] for p in (5, 25, 50, 75, 90, 95, 99)}
    bounds = [0, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, None]
    ranges = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        n = sum(1 for x in ordered if x >= lo and (hi is None or x < hi))
        if n:
            ranges.append({"sizeRange": f"{lo // 1000}KB-{hi // 1000}KB" if hi else f">={lo // 1000}KB", "studiesCount": n})
    largest = sorted(sizes, reverse=True)[:10]
    return {
        "totalStudies": len(sizes),
        "averageSizeBytes": round(sum(ordered) / len(ordered)),
        "percentiles": pct,
        "ranges": ranges,
        "largestStudies": [{"id": nct, "sizeBytes": n} for n, nct in largest],
    }


"""`/api/v2`: the ClinicalTrials.gov API v2 contract (read-only) over the local store."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..record import NCT_RE
from .backend import FilterError, QueryError, SearchRequest, Web, similar
from .export import to_csv
from .fields import parse_fields, project
from .params import LABELS, PHASES, SEXES, STATUSES, STUDY_TYPES, ParamError, api_request

API_VERSION = "2.0.3"

# search-layer parameter names -> the API v2 parameter a client gave
_API_PARAM = {
    "page_token": "pageToken", "limit": "pageSize", "near": "filter.geo", "dates": "filter.advanced",
    "status": "filter.overallStatus", "ids": "filter.ids", "phase": "filter.advanced",
    "study_type": "filter.advanced", "sex": "filter.advanced", "sort": "sort",
}

FIELD_FACETS = {
    "OverallStatus": ("status", "ENUM"),
    "Phase": ("phase", "ENUM"),
    "StudyType": ("study_type", "ENUM"),
    "InterventionType": ("intervention_type", "ENUM"),
    "LeadSponsorClass": ("sponsor_class", "ENUM"),
    "LocationCountry": ("country", "STRING"),
    "ConditionMeshTerm": ("condition_mesh", "STRING"),
    "HasResults": ("has_results", "BOOLEAN"),
}
_INTERVENTION_TYPES = ["BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
                       "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER"]
_AGENCY_CLASSES = ["NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"]


def _enum(type_: str, pieces: list[str], values: list[str]) -> dict:
    return {"type": type_, "pieces": pieces,
            "values": [{"value": v, "legacyValue": LABELS.get(v, v.replace("_", " ").title())} for v in values]}


ENUMS = [
    _enum("Status", ["OverallStatus", "LastKnownStatus", "LocationStatus"], STATUSES),
    _enum("Phase", ["Phase"], PHASES),
    _enum("StudyType", ["StudyType"], STUDY_TYPES),
    _enum("Sex", ["Sex"], SEXES),
    _enum("StandardAge", ["StdAge"], ["CHILD", "ADULT", "OLDER_ADULT"]),
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
        raise ParamError("nctId", f"not an NCT id: {value!r}", "NCT followed by 8 digits, e.g. NCT03949231")
    return nct


def router(web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/v2", tags=["ClinicalTrials.gov API v2"])

    @r.get("/studies", summary="Search studies (API v2 contract)")
    def studies(
        request: Request,
        query_cond: str | None = Query(None, alias="query.cond", description="Conditions or disease"),
        query_term: str | None = Query(None, alias="query.term", description="Other terms (query language)"),
        query_intr: str | None = Query(None, alias="query.intr", description="Interventions / treatments"),
        query_titles: str | None = Query(None, alias="query.titles", description="Titles and acronyms"),
        query_outc: str | None = Query(None, alias="query.outc", description="Outcome measures"),
        query_spons: str | None = Query(None, alias="query.spons", description="Sponsors and collaborators"),
        query_lead: str | None = Query(None, alias="query.lead", description="Lead sponsor"),
        query_locn: str | None = Query(None, alias="query.locn", description="Locations"),
        query_id: str | None = Query(None, alias="query.id", description="Study ids"),
        filter_status: str | None = Query(None, alias="filter.overallStatus", description="e.g. RECRUITING|COMPLETED"),
        filter_ids: str | None = Query(None, alias="filter.ids", description="NCT ids, comma or pipe separated"),
        filter_geo: str | None = Query(None, alias="filter.geo", description="distance(lat,lon,50mi)"),
        filter_advanced: str | None = Query(None, alias="filter.advanced",
                                            description="AREA[Phase]PHASE3 AND AREA[LastUpdatePostDate]RANGE[2023-01-01,MAX]"),
        filter_switched: str | None = Query(None, alias="filter.outcomeSwitched",
                                            description="trialscope extension: true (or false) for studies whose primary "
                                                        "outcome changed after the start date; see /studies/{nctId}/history"),
        sort: str | None = Query(None, description="@relevance, LastUpdatePostDate:desc, StartDate, EnrollmentCount, ResultsFirstPostDate"),
        fields: str | None = Query(None, description="NCTId,BriefTitle,OverallStatus,Phase or ConditionsModule or protocolSection paths"),
        countTotal: str | None = Query(None, description="true adds totalCount"),
        pageSize: str | None = Query(None, description="1 to 1000, default 10"),
        pageToken: str | None = Query(None, description="nextPageToken of the previous page"),
        format: str | None = Query(None, description="json (default) or csv"),
    ):
        req, opts = api_request(request.query_params)
        tree = parse_fields(opts["fields"])
        try:
            result = web.search(req)
        except QueryError as exc:
            given = [k for k in request.query_params if k.startswith("query.")]
            exc.param = given[0] if len(given) == 1 else "query.*"
            raise
        except FilterError as exc:  # name the API parameter, not the search field
            base = str(exc.param).split(".")[0]
            exc.param = _API_PARAM.get(base, exc.param)
            raise
        ids = [h.nct_id for h in result.hits]
        got = web.store.get_many(ids)
        if opts["format"] == "csv":
            records = [orjson.loads(got[i].record_json) for i in ids if i in got]
            headers = {"Content-Disposition": 'attachment; filename="ctg-studies.csv"'}
            if result.next_page_token:
                headers["x-next-page-token"] = result.next_page_token
            if opts["countTotal"]:
                headers["x-total-count"] = str(result.total)
            return Response(to_csv(records), media_type="text/csv; charset=utf-8", headers=headers)
        tail = b""
        if result.next_page_token:
            tail += b',"nextPageToken":' + orjson.dumps(result.next_page_token)
        head = b"{"
        if opts["countTotal"]:
            head += b'"totalCount":' + str(result.total).encode() + b","
        if tree is None:
            parts = [_v2_bytes(got[i].record_json) for i in ids if i in got]
        else:
            parts = [orjson.dumps(project(orjson.loads(got[i].record_json), tree)) for i in ids if i in got]
        body = head + b'"studies":[' + b",".join(parts) + b"]" + tail + b"}"
        return Response(body, media_type="application/json")

    @r.get("/studies/enums", summary="Enumeration types and their values")
    def enums():
        return _json(ENUMS)

    @r.get("/studies/{nctId}", summary="One study, in the API v2 structure")
    def study(nctId: str, request: Request, fields: str | None = None, format: str | None = None):
        for key in request.query_params:
            if key not in ("fields", "format", "markupFormat"):
                raise ParamError(key, f"unknown parameter {key!r}", ["fields", "format", "markupFormat"])
        nct = _nct_or_error(nctId)
        tree = parse_fields(fields or "")
        stored = web.store.get(nct)
        if stored is None:
            raise HTTPException(404, f"study {nct} not found")
        fmt = (format or "json").lower()
        if fmt not in ("json", "csv"):
            raise ParamError("format", f"unknown format {fmt!r}", ["json", "csv"])
        if fmt == "csv":
            return Response(to_csv([orjson.loads(stored.record_json)]), media_type="text/csv; charset=utf-8")
        if tree is None:
            return Response(_v2_bytes(stored.record_json), media_type="application/json")
        return _json(project(orjson.loads(stored.record_json), tree))

    @r.get("/studies/{nctId}/similar", summary="Related studies (trialscope extension)")
    def similar_studies(nctId: str, limit: int = Query(10, ge=1, le=100)):
        nct = _nct_or_error(nctId)
        stored = web.store.get(nct)
        if stored is None:
            raise HTTPException(404, f"study {nct} not found")
        return _json({"nctId": nct, "similar": similar(web, nct, orjson.loads(stored.record_json), limit)})

    @r.get("/stats/field/values", summary="Most frequent values of enum-like fields")
    def field_values(fields: str | None = Query(None, description="e.g. OverallStatus,Phase (default: all)")):
        wanted = [f.strip() for f in (fields or "").replace("|", ",").split(",") if f.strip()] or list(FIELD_FACETS)
        for f in wanted:
            if f not in FIELD_FACETS:
                raise ParamError("fields", f"no value statistics for {f!r}", list(FIELD_FACETS))

        def compute():
            res = web.search(SearchRequest(limit=1, facets=True, snippets=False))
            out = []
            for f in FIELD_FACETS:
                facet, kind = FIELD_FACETS[f]
                buckets = res.facets.get(facet) or []
                out.append({"field": f, "piece": f, "type": kind, "uniqueValuesCount": len(buckets),
                            "topValues": [{"value": v, "studiesCount": n} for v, n in buckets]})
            return out

        return _json([x for x in web.cached("field-values", compute) if x["field"] in wanted])

    @r.get("/stats/size", summary="Study JSON sizes")
    def stats_size():
        return _json(web.cached("size", lambda: _size_stats(web)))

    @r.get("/version", summary="API version and data timestamp")
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
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", ""),
    }

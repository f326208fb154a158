"""The FastAPI application: server-rendered pages, the API v2 router, security headers, errors."""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import anyio
import anyio.to_thread
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..geo import suggest
from ..normalize import unescape_markdown
from ..record import NCT_RE
from ..trust import month_year
from . import api, api_schema
from .backend import FilterError, QueryError, Web, similar
from .charts import bar_chart
from .export import to_csv, to_ris
from .history import history_stamp, record_section
from .history import router as history_routes
from .maps import search_map, study_map, warm_maps
from .match import router as match_routes
from .params import (
    LABELS,
    PHASES,
    SEXES,
    STATUSES,
    STUDY_TYPES,
    UI_SORTS,
    ParamError,
    label,
    near_place,
    next_pairs,
    parse_ui,
    prev_pairs,
    ui_request,
)
from .safety import PanicGuard
from .view import display_text, preview_text, study_view

log = logging.getLogger("trialscope.web")
HERE = Path(__file__).parent
REGISTRY = "ClinicalTrials.gov (US)"
SEE_ALSO = 20  # on the record page, as on the registry page; "more" opens up to SEE_ALSO_MORE
SEE_ALSO_MORE = 100
PAGE_FACETS = ("status", "phase", "study_type", "country", "outcome_switched")  # the filters the search page shows
EXPORT_CAP = 10_000  # rows in one CSV / RIS export

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}

STATUS_CLASS = {
    "RECRUITING": "ok", "NOT_YET_RECRUITING": "soon", "ENROLLING_BY_INVITATION": "ok",
    "ACTIVE_NOT_RECRUITING": "active", "COMPLETED": "done", "AVAILABLE": "ok",
    "TERMINATED": "stop", "WITHDRAWN": "stop", "SUSPENDED": "stop", "UNKNOWN": "unknown",
}


_RAW_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): adds the security headers
    and answers HEAD as GET without a body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        head = scope["method"] == "HEAD"
        if head:  # answer HEAD like GET, without the body
            scope = {**scope, "method": "GET"}

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in _RAW_HEADERS if k not in have]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


_BULLET_LINE = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")


class Block(str):
    """A paragraph of record text; `items` holds its entries when it is a markdown list."""

    items: list[str] | None = None


def _paragraphs(text: str | None) -> list[Block]:
    """Record text as paragraphs, markdown bullet lists (`* item`) as lists (`Block.items`)."""
    if not text:
        return []
    text = display_text(unescape_markdown(text.replace("\r\n", "\n")))
    out: list[Block] = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln for ln in para.split("\n") if ln.strip()]
        if not lines:
            continue
        starts = [i for i, ln in enumerate(lines) if _BULLET_LINE.match(ln)]
        if starts and (starts[0] == 0 or len(starts) >= 2):
            lead = " ".join(" ".join(lines[: starts[0]]).split())
            if lead:
                out.append(Block(lead))
            items: list[str] = []
            for i, ln in enumerate(lines[starts[0]:], starts[0]):
                if i in starts:
                    items.append(_BULLET_LINE.sub("", ln, count=1))
                else:
                    items[-1] += " " + ln.strip()
            block = Block(" ".join(items))
            block.items = [" ".join(x.split()) for x in items]
            out.append(block)
        else:
            out.append(Block(" ".join(para.split())))
    return out


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html", "xml", "svg"], default_for_string=True, default=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["label"] = label
    env.filters["status_class"] = lambda s: STATUS_CLASS.get(s or "", "other")
    env.filters["paragraphs"] = _paragraphs
    env.filters["qs"] = lambda pairs: urlencode(pairs)
    env.filters["month_year"] = month_year
    env.globals.update(REGISTRY=REGISTRY, STATUSES=STATUSES, PHASES=PHASES, STUDY_TYPES=STUDY_TYPES,
                       SEXES=SEXES, UI_SORTS=UI_SORTS, LABELS=LABELS)
    return env


def create_app(db: str | None = None) -> FastAPI:
    db = db or os.environ.get("TRIALSCOPE_DB")
    web = Web(db)
    env = make_env()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # open the search index, compile the templates and build the map outlines before the
        # first request (each process of `serve --workers N` pays these once, at start)
        def warm() -> None:
            try:
                web.searcher  # noqa: B018
                for name in ("search.html", "study.html", "stats.html", "error.html"):
                    env.get_template(name)
                warm_maps()
            except Exception:
                log.exception("warm-up failed; the first request will retry")

        await anyio.to_thread.run_sync(warm)
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="trialscope API",
        version="2.0.3",
        description="A ClinicalTrials.gov API v2 compatible, read-only API over a local trialscope store.",
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
    )
    app.state.web = web
    app.state.env = env

    def page(name: str, status_code: int = 200, **ctx) -> HTMLResponse:
        html = env.get_template(name).render(data_age=web.data_age(), **ctx)
        return HTMLResponse(html, status_code=status_code)

    def error_500() -> str:
        return env.get_template("error.html").render(
            code=500, heading="Something went wrong", allowed=None, back="/",
            message="The server hit an unexpected error. It has been logged.")

    app.add_middleware(PanicGuard, html=error_500)  # inside SecurityHeaders: its 500 gets them too
    app.add_middleware(SecurityHeaders)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    @app.exception_handler(ParamError)
    async def param_error(request: Request, exc: ParamError):
        if wants_json(request):
            return JSONResponse(exc.as_json(), status_code=400)
        return page("error.html", 400, code=400, heading="That search could not be read",
                    message=exc.message, allowed=exc.allowed, back="/")

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError):
        body = api.query_error_json(exc)
        if wants_json(request):
            return JSONResponse(body, status_code=400)
        q = request.query_params.get("q") or ""
        return page("error.html", 400, code=400, heading="That query could not be read",
                    message=body["message"], allowed=None, back="/", query=q[:2000],
                    position=getattr(exc, "position", None) if q else None)

    @app.exception_handler(FilterError)
    async def filter_error(request: Request, exc: FilterError):
        body = api.filter_error_json(exc)
        if wants_json(request):
            return JSONResponse(body, status_code=400)
        return page("error.html", 400, code=400, heading="That filter could not be used",
                    message=body["message"], allowed=body.get("allowed"), back="/")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        param = ".".join(str(x) for x in (errs[0].get("loc") or ())[1:]) if errs else ""
        return JSONResponse({"error": "bad parameter", "parameter": param,
                             "message": errs[0].get("msg") if errs else "invalid request"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if wants_json(request):
            return JSONResponse({"error": exc.detail if isinstance(exc.detail, str) else "error",
                                 "status": exc.status_code}, status_code=exc.status_code)
        if exc.status_code == 404:
            return page("error.html", 404, code=404, heading="Not found",
                        message=exc.detail if exc.detail != "Not Found" else "There is no page at this address.",
                        allowed=None, back="/")
        return page("error.html", exc.status_code, code=exc.status_code, heading="Request failed",
                    message=str(exc.detail), allowed=None, back="/")

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        if wants_json(request):
            return JSONResponse({"error": "internal error", "status": 500}, status_code=500,
                                headers=SECURITY_HEADERS)
        return HTMLResponse(error_500(), status_code=500, headers=SECURITY_HEADERS)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router(web))
    app.include_router(history_routes(web, env))
    app.include_router(match_routes(web, env))
    api_schema.install(app)

    # -- pages --------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request):
        ui = parse_ui(request.query_params)
        result = web.search(ui_request(ui, facets=False))  # the facets come after: /facets
        nxt = next_pairs(ui, result.next_page_token, len(result.hits)) if result.next_page_token else None
        place = near_place(ui)
        return page("search.html", ui=ui, result=result, export_qs=urlencode(ui.pairs()),
                    facets_qs=urlencode([*ui.pairs(), ("n", result.total)]),
                    next_qs=urlencode(nxt) if nxt else None,
                    prev_qs=urlencode(prev_pairs(ui)) if ui.page else None, place=place,
                    map_svg=search_map(result.hits, place, ui_request(ui).near))

    @app.get("/facets", response_class=HTMLResponse, include_in_schema=False)
    def facets_page(request: Request):
        """The search page's filter counts: loaded by htmx after the page, a page of its own without JavaScript."""
        ui = parse_ui(request.query_params)
        n = request.query_params.get("n") or ""  # the total the page showed: saves a count pass
        total = int(n) if n.isdigit() and len(n) <= 9 else None
        facets, approximate = web.facet_counts(ui_request(ui, snippets=False), PAGE_FACETS, total)
        # a facet with a choice made is counted without its own choice (as the registry
        # does), so ticking Recruiting leaves Not yet recruiting there to add (OR within a
        # facet, AND across facets)
        for key, facet_name in (("status", "status"), ("phase", "phase"), ("type", "study_type"),
                                ("country", "country")):
            if getattr(ui, key):
                other = copy.copy(ui)
                setattr(other, key, None)
                other.page = ""
                counts, _ = web.facet_counts(ui_request(other, snippets=False), (facet_name,))
                facets[facet_name] = counts.get(facet_name) or facets.get(facet_name)
        name = "_facets.html" if request.headers.get("hx-request") else "facets.html"
        return page(name, ui=ui, facets=facets, approximate=approximate)

    @app.get("/places/suggest", include_in_schema=False)
    def places_suggest(q: str = ""):
        """As-you-type suggestions for the search form's "Near" box."""
        return JSONResponse({"q": q[:100], "places": [p.as_json() for p in suggest(q[:100])]})

    @app.get("/study/{nct}", response_class=HTMLResponse, include_in_schema=False)
    def study_page(nct: str, request: Request):
        canonical = _canonical(nct)
        if canonical != nct:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/study/{canonical}{query}", status_code=301)
        # See also is loaded by htmx after the page (a plain link without JavaScript),
        # unless it is already computed for this store state.
        see_also = web.similar_cached(canonical, SEE_ALSO)
        entries = web.store.history(canonical)  # an index probe for a study held once
        key = ("study", canonical, request.url.query, see_also is not None, history_stamp(entries))
        html = web.page_get(key)
        if html is None:
            stored = web.store.get(canonical)
            if stored is None:
                raise StarletteHTTPException(404, f"{canonical} is not in this registry copy.")
            v = study_view(stored)
            results = _results_view(v["record"]) if v["has_results"] else None
            html = env.get_template("study.html").render(
                s=v, results=results, see_also=see_also, request=request, nct=canonical, more=True, data_age=web.data_age(),
                map_svg=study_map(v["locations"], v["record"]), hv=record_section(web.store, stored, entries))
            web.page_put(key, html)
        return HTMLResponse(html)

    @app.get("/study/{nct}/see-also", response_class=HTMLResponse, include_in_schema=False)
    def see_also_page(nct: str, request: Request, limit: str = ""):
        canonical = _canonical(nct)
        stored = web.store.get(canonical)
        if stored is None:
            raise StarletteHTTPException(404, f"{canonical} is not in this registry copy.")
        if limit and not (limit.isdigit() and 1 <= int(limit) <= SEE_ALSO_MORE):
            raise ParamError("limit", f"limit must be a whole number from 1 to {SEE_ALSO_MORE}",
                             f"1 to {SEE_ALSO_MORE}")
        n = int(limit) if limit else SEE_ALSO
        record = orjson.loads(stored.record_json)
        try:
            rows = similar(web, canonical, record, n)
        except Exception:
            log.exception("see also failed for %s", canonical)
            rows = []
        if request.headers.get("hx-request"):
            return page("_see_also.html", see_also=rows, nct=canonical, more=n < SEE_ALSO_MORE)
        from ..record import RecordError, display_title, validate

        try:
            title = display_title(validate(record))
        except RecordError:
            title = canonical
        return page("see_also.html", see_also=rows, nct=canonical, title=title,
                    more=n < SEE_ALSO_MORE and len(rows) >= n, next_limit=min(SEE_ALSO_MORE, n + 30))

    @app.get("/study/{nct}/preview", response_class=HTMLResponse, include_in_schema=False)
    def study_preview(nct: str, request: Request, kind: str = "raw"):
        canonical = _canonical(nct)
        if kind not in ("raw", "v2"):
            raise ParamError("kind", f"unknown preview kind {kind!r}", ["raw", "v2"])
        stored = web.store.get(canonical)
        if stored is None:
            raise StarletteHTTPException(404, f"{canonical} is not in this registry copy.")
        text, cut = preview_text(stored, None, kind)
        name = "_preview.html" if request.headers.get("hx-request") else "preview.html"
        return page(name, text=text, cut=cut, kind=kind, nct=canonical)

    @app.get("/study/{nct}/raw", include_in_schema=False)
    def study_raw(nct: str):
        canonical = _canonical(nct)
        stored = web.store.get(canonical)
        if stored is None:
            raise StarletteHTTPException(404, f"{canonical} is not in this registry copy.")
        # untrusted bytes: a download, never a document the browser renders (XHTML in an
        # ingested XML file would run as a page of this origin)
        ext = "xml" if stored.raw_format == "xml" else "json"
        return Response(stored.raw, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{canonical}.{ext}"'})

    @app.get("/stats", response_class=HTMLResponse, include_in_schema=False)
    def stats_page(request: Request):
        ui = parse_ui(request.query_params)
        pairs = ui.pairs()
        data = web.cached(("stats", tuple(pairs)), lambda: _aggregate(web, ui))

        def link(key, value):
            return "/?" + urlencode(ui.pairs(**{key: [value]})) if value else None

        charts = [
            bar_chart("c-status", "Studies by status",
                      [(label(k), n, link("status", k)) for k, n in data["status"]]),
            bar_chart("c-phase", "Studies by phase",
                      [(label(k), n, link("phase", k)) for k, n in data["phase"]]),
            bar_chart("c-year", "Studies by start year",
                      [(k, n, None) for k, n in data["year"]]),
            bar_chart("c-cond", "Top conditions",
                      [(k, n, "/?" + urlencode([("cond", f'"{k}"')])) for k, n in data["conditions"]]),
            bar_chart("c-country", "Top countries",
                      [(k, n, link("country", k)) for k, n in data["country"]]),
        ]
        titles = ["Studies by status", "Studies by phase", "Studies by start year", "Top conditions", "Top countries"]
        return page("stats.html", ui=ui, data=data, charts=list(zip(titles, charts, strict=True)),
                    search_qs=urlencode(pairs))

    def _export_records(request: Request, cap: int = EXPORT_CAP):
        """Every study the search matches (up to cap), in the search's order."""
        ui = parse_ui(request.query_params)
        ui.page = ""
        out: list[dict] = []
        token = None
        while len(out) < cap:
            req = ui_request(ui, limit=min(1000, cap - len(out)), facets=False, snippets=False)
            req.page_token = token
            result = web.search(req)
            got = web.store.get_many([h.nct_id for h in result.hits])
            out += [orjson.loads(got[h.nct_id].record_json) for h in result.hits if h.nct_id in got]
            token = result.next_page_token
            if not token:
                break
        return out

    @app.get("/export.csv", include_in_schema=False)
    def export_csv(request: Request):
        return Response(to_csv(_export_records(request)), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="trialscope-search.csv"'})

    @app.get("/export.ris", include_in_schema=False)
    def export_ris(request: Request):
        return Response(to_ris(_export_records(request)), media_type="application/x-research-info-systems",
                        headers={"Content-Disposition": 'attachment; filename="trialscope-search.ris"'})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page():
        return page("docs.html")

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        # the pid tells the processes of `serve --workers N` apart
        return {"ok": True, "studies": web.store.count(), "pid": os.getpid()}

    return app


def _canonical(nct: str) -> str:
    up = nct.strip().upper()
    if not NCT_RE.match(up):
        raise StarletteHTTPException(404, f"{nct!r} is not an NCT id (NCT followed by 8 digits).")
    return up


def _results_view(record: dict):
    try:
        from . import results as results_mod
    except ModuleNotFoundError as exc:
        if exc.name != "trialscope.web.results":
            raise
        return None
    try:
        return results_mod.view(record)
    except Exception:
        log.exception("results view failed")
        return None


def _aggregate(web: Web, ui) -> dict:
    """Counts for /stats over every study the search matches: the search's own facets
    (counted exactly), so a bar and the filter it links to always agree; start years from
    the hits."""
    from .params import ui_request as _req

    req = _req(ui, limit=1, facets=True, snippets=False)
    req.exact_facets = True
    req.sort = "relevance"
    first = web.search(req)
    facets = first.facets or {}
    year: Counter = Counter()
    token = None
    for _ in range(50):
        req = _req(ui, limit=1000, facets=False, snippets=False)
        req.page_token = token
        req.sort = "relevance"
        result = web.search(req)
        for h in result.hits:
            if h.start_date:
                year[h.start_date[:4]] += 1
        token = result.next_page_token
        if not token:
            break
    years = sorted(year.items())
    if len(years) > 30:
        years = years[-30:]
    return {
        "total": first.total,
        "status": list(facets.get("status") or []),
        "phase": sorted(facets.get("phase") or [], key=lambda kv: PHASES.index(kv[0]) if kv[0] in PHASES else 99),
        "year": years,
        "conditions": list(facets.get("condition_mesh") or [])[:15],
        "country": list(facets.get("country") or [])[:15],
        "outcome_switched": dict(facets.get("outcome_switched") or []).get("true", 0),
    }

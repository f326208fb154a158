"""Turning URL parameters (search page and API v2) into a SearchRequest, with clear errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .backend import SearchRequest

MAX_QUERY = 2000
MAX_PAGE_SIZE = 1000

STATUSES = [
    "RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING", "ENROLLING_BY_INVITATION",
    "COMPLETED", "SUSPENDED", "TERMINATED", "WITHDRAWN", "UNKNOWN", "AVAILABLE",
    "NO_LONGER_AVAILABLE", "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD",
]
PHASES = ["EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"]
STUDY_TYPES = ["INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"]
AGES = ["CHILD", "ADULT", "OLDER_ADULT"]
SEXES = ["ALL", "FEMALE", "MALE"]
QUERY_AREAS = ["cond", "term", "intr", "titles", "outc", "spons", "lead", "locn", "id"]

LABELS = {
    "RECRUITING": "Recruiting", "NOT_YET_RECRUITING": "Not yet recruiting",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting", "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "COMPLETED": "Completed", "SUSPENDED": "Suspended", "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn", "UNKNOWN": "Unknown status", "AVAILABLE": "Available",
    "NO_LONGER_AVAILABLE": "No longer available", "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing", "WITHHELD": "Withheld",
    "EARLY_PHASE1": "Early phase 1", "PHASE1": "Phase 1", "PHASE2": "Phase 2", "PHASE3": "Phase 3",
    "PHASE4": "Phase 4", "NA": "Not applicable", "INTERVENTIONAL": "Interventional",
    "OBSERVATIONAL": "Observational", "EXPANDED_ACCESS": "Expanded access",
    "CHILD": "Child (birth–17)", "ADULT": "Adult (18–64)", "OLDER_ADULT": "Older adult (65+)",
    "ALL": "All", "FEMALE": "Female", "MALE": "Male", "true": "Yes", "false": "No",
}


def label(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = str(value)
    if text in LABELS:
        return LABELS[text]
    return text.replace("_", " ").capitalize() if text.isupper() else text


class ParamError(ValueError):
    """A bad request parameter: which one, and what it accepts."""

    def __init__(self, param: str, message: str, allowed: Any = None):
        super().__init__(message)
        self.param = param
        self.message = message
        self.allowed = allowed

    def as_json(self) -> dict:
        body = {"error": "bad parameter", "parameter": self.param, "message": self.message}
        if self.allowed is not None:
            body["allowed"] = self.allowed
        return body


def _split(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,|]", value) if v.strip()]


def _enum(param: str, values: list[str], allowed: list[str]) -> list[str] | None:
    out = []
    for v in values:
        for part in _split(v):
            up = part.upper()
            if up not in allowed:
                raise ParamError(param, f"unknown value {part!r} for {param}", allowed)
            if up not in out:
                out.append(up)
    return out or None


def _text(param: str, value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > MAX_QUERY:
        raise ParamError(param, f"{param} is longer than {MAX_QUERY} characters", f"at most {MAX_QUERY} characters")
    return value


def _float(param: str, value: str, lo: float, hi: float) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ParamError(param, f"{param} must be a number", f"a number from {lo} to {hi}") from None
    if not lo <= x <= hi:
        raise ParamError(param, f"{param} must be between {lo} and {hi}", f"a number from {lo} to {hi}")
    return x


# -- the search page (and /stats, /export.*) ----------------------------------------------

PAGE_SIZE = 20
UI_SORTS = {
    "relevance": "Best match",
    "last_update:desc": "Recently updated",
    "start_date:desc": "Start date (newest)",
    "start_date:asc": "Start date (oldest)",
    "enrollment:desc": "Enrollment (largest)",
    "results_first_posted:desc": "Results posted (newest)",
}


@dataclass
class UiSearch:
    """The search page's state, all of it in the URL."""

    q: str = ""
    cond: str = ""
    intr: str = ""
    locn: str = ""
    spons: str = ""
    status: list[str] | None = None
    phase: list[str] | None = None
    type: list[str] | None = None
    country: list[str] | None = None
    switched: list[str] | None = None  # "true" / "false": the outcome-switch flag (one = a filter)
    age: str = ""
    sex: str = ""
    results: str = ""
    lat: str = ""
    lon: str = ""
    dist: str = ""
    sort: str = "relevance"
    page: str = ""
    start: int = 0
    back: list[str] | None = None  # the page tokens before this one (for "Previous")

    @property
    def empty(self) -> bool:
        return not any([self.q, self.cond, self.intr, self.locn, self.spons, self.status, self.phase,
                        self.type, self.country, self.age, self.sex, self.results, self.lat, self.switched])

    def pairs(self, **override: Any) -> list[tuple[str, str]]:
        """URL parameters for this state (override: replace some; page resets unless given)."""
        state = {k: getattr(self, k) for k in self.__dataclass_fields__}
        state["page"] = ""
        state["start"] = 0
        state["back"] = []
        state.update(override)
        out: list[tuple[str, str]] = []
        for k, v in state.items():
            if k == "sort" and v == "relevance":
                continue
            if k == "back":
                out.extend((k, x) for x in v or [])  # "" (the first page) counts
            elif isinstance(v, list):
                out.extend((k, x) for x in v)
            elif v not in ("", None, 0):
                out.append((k, str(v)))
        return out

    def toggle(self, key: str, value: str) -> list[tuple[str, str]]:
        current = list(getattr(self, key) or [])
        if value in current:
            current.remove(value)
        else:
            current.append(value)
        return self.pairs(**{key: current})


def parse_ui(params) -> UiSearch:
    """params: a starlette QueryParams (multi-valued)."""
    ui = UiSearch()
    for key in ("q", "cond", "intr", "locn", "spons"):
        setattr(ui, key, _text(key, params.get(key)))
    ui.status = _enum("status", params.getlist("status"), STATUSES)
    ui.phase = _enum("phase", params.getlist("phase"), PHASES)
    ui.type = _enum("type", params.getlist("type"), STUDY_TYPES)
    age = (params.get("age") or "").strip()
    if age:
        _float("age", age, 0, 150)
    ui.age = age
    ui.country = [c.strip() for c in params.getlist("country") if c.strip()][:20] or None
    ui.switched = _enum("switched", params.getlist("switched"), ["TRUE", "FALSE"])
    ui.switched = [v.lower() for v in ui.switched] if ui.switched else None
    sex = (params.get("sex") or "").upper()
    if sex and sex not in SEXES:
        raise ParamError("sex", f"unknown value {sex!r} for sex", SEXES)
    ui.sex = sex
    results = (params.get("results") or "").lower()
    if results not in ("", "yes", "no"):
        raise ParamError("results", "results must be yes or no", ["yes", "no"])
    ui.results = results
    ui.lat, ui.lon, ui.dist = (params.get(k, "").strip() for k in ("lat", "lon", "dist"))
    if any((ui.lat, ui.lon)):
        _float("lat", ui.lat, -90, 90)
        _float("lon", ui.lon, -180, 180)
        _float("dist", ui.dist or "100", 0.1, 20000)
    sort = params.get("sort") or "relevance"
    if sort not in UI_SORTS:
        raise ParamError("sort", f"unknown sort {sort!r}", list(UI_SORTS))
    ui.sort = sort
    ui.page = _text("page", params.get("page"))[:200]
    try:
        ui.start = max(0, int(params.get("start") or 0))
    except ValueError:
        ui.start = 0
    ui.back = [b[:200] for b in params.getlist("back")][-60:] if ui.page else []
    return ui


def next_pairs(ui: UiSearch, token: str, shown: int) -> list[tuple[str, str]]:
    return ui.pairs(page=token, start=ui.start + shown, back=[*(ui.back or []), ui.page])


def prev_pairs(ui: UiSearch) -> list[tuple[str, str]] | None:
    if not ui.page:
        return None
    back = list(ui.back or [])
    token = back.pop() if back else ""
    return ui.pairs(page=token, start=max(0, ui.start - PAGE_SIZE) if token else 0, back=back if token else [])


def ui_request(ui: UiSearch, *, limit: int = PAGE_SIZE, facets: bool = True, snippets: bool = True) -> SearchRequest:
    fields = {k: getattr(ui, k) for k in ("cond", "intr", "locn", "spons") if getattr(ui, k)}
    sort = ui.sort
    if sort == "relevance" and not (ui.q or fields):
        sort = "last_update:desc"  # nothing to rank by: newest first
    near = None
    if ui.lat and ui.lon:
        near = (float(ui.lat), float(ui.lon), float(ui.dist or 100))
    return SearchRequest(
        query=ui.q, fields=fields, status=ui.status or [], phase=ui.phase or [],
        study_type=ui.type or [], country=ui.country or [], age=float(ui.age) if ui.age else None,
        sex=ui.sex or None, has_results={"yes": True, "no": False}.get(ui.results), near=near,
        outcome_switched={("true",): True, ("false",): False}.get(tuple(ui.switched or ())),
        sort=sort, limit=limit, page_token=ui.page or None, facets=facets, snippets=snippets,
    )


# -- API v2 -------------------------------------------------------------------------------

API_SORTS = {
    "@relevance": "relevance",
    "LastUpdatePostDate": "last_update",
    "StartDate": "start_date",
    "EnrollmentCount": "enrollment",
    "ResultsFirstPostDate": "results_first_posted",
}
DATE_AREAS = {
    "LastUpdatePostDate": "last_update",
    "StartDate": "start",
    "StudyFirstPostDate": "first_posted",
    "CompletionDate": "completion",
    "ResultsFirstPostDate": "results_first_posted",
}
ENUM_AREAS = {
    "Phase": ("phase", PHASES),
    "StudyType": ("study_type", STUDY_TYPES),
    "OverallStatus": ("status", STATUSES),
    "Sex": ("sex", SEXES),
}
_FILTERS = ("overallStatus", "ids", "geo", "advanced", "outcomeSwitched")  # the last: a trialscope extension
API_PARAMS = {f"query.{a}" for a in QUERY_AREAS} | {f"filter.{f}" for f in _FILTERS} | {
    f"postFilter.{f}" for f in _FILTERS} | {"sort", "fields", "countTotal", "pageSize", "pageToken",
                                            "format", "markupFormat"}
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_AREA = re.compile(r"^AREA\[(\w+)\]\s*(.+)$", re.S)


def parse_advanced(expr: str, req_kwargs: dict) -> None:
    """filter.advanced: AREA[...] terms joined by AND."""
    expr = _text("filter.advanced", expr)
    if not expr:
        return
    allowed = ("AREA[Phase]PHASE3, AREA[StudyType]INTERVENTIONAL, AREA[OverallStatus]RECRUITING, "
               "AREA[Sex]FEMALE, AREA[<date field>]RANGE[from,to] with date fields "
               + ", ".join(DATE_AREAS) + " (MIN/MAX allowed), joined by AND")
    for part in re.split(r"\s+AND\s+", expr.strip().strip("()")):
        part = part.strip().strip("()").strip()
        m = _AREA.match(part)
        if not m:
            raise ParamError("filter.advanced", f"cannot read {part!r}", allowed)
        area, value = m.group(1), m.group(2).strip()
        if area in DATE_AREAS:
            rm = re.match(r"^RANGE\[\s*([^,\]]*)\s*,\s*([^\]]*)\s*\]$", value)
            if not rm:
                raise ParamError("filter.advanced", f"AREA[{area}] needs RANGE[from,to]", allowed)
            lo, hi = (x.strip() for x in rm.groups())
            # MIN / MAX are open ends, but the study must have the date (as in v2)
            lo = "1800-01-01" if lo.upper() in ("MIN", "") else lo
            hi = "2199-12-31" if hi.upper() in ("MAX", "") else hi
            for d in (lo, hi):
                if not _DATE.match(d):
                    raise ParamError("filter.advanced", f"bad date {d!r} in AREA[{area}]", "YYYY, YYYY-MM or YYYY-MM-DD, MIN or MAX")
            req_kwargs.setdefault("dates", {})[DATE_AREAS[area]] = (lo, hi)
        elif area in ENUM_AREAS:
            key, values = ENUM_AREAS[area]
            wanted = [v.strip().strip('"').upper() for v in re.split(r"\s+OR\s+", value.strip("()"))]
            for v in wanted:
                if v not in values:
                    raise ParamError("filter.advanced", f"unknown value {v!r} for AREA[{area}]", values)
            if key == "sex":
                req_kwargs["sex"] = wanted[0]
            else:
                prev = req_kwargs.get(key)
                req_kwargs[key] = [v for v in wanted if v in prev] if prev else wanted
        else:
            raise ParamError("filter.advanced", f"unsupported area {area!r}", allowed)


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_GEO = re.compile(rf"^distance\(\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*(mi|km|m|ft)?\s*\)$", re.I)


class _Merged:
    """filter.X and postFilter.X (the v2 API has both; here they filter alike) read as one."""

    def __init__(self, params):
        self.params = params

    def get(self, key: str, default=None):
        value = self.params.get(key)
        if key.startswith("filter.") and not value:
            value = self.params.get("post" + key[0].upper() + key[1:])
        return value if value is not None else default


def api_request(params) -> tuple[SearchRequest, dict]:
    """API v2 /studies parameters → (SearchRequest, options)."""
    for key in params:
        if key not in API_PARAMS:
            raise ParamError(key, f"unknown parameter {key!r}", sorted(API_PARAMS))
    for f in _FILTERS:
        if params.get(f"filter.{f}") and params.get(f"postFilter.{f}"):
            raise ParamError(f"postFilter.{f}", f"give filter.{f} or postFilter.{f}, not both", [f"filter.{f}"])
    params = _Merged(params)
    kw: dict[str, Any] = {"fields": {}}
    for area in QUERY_AREAS:
        value = _text(f"query.{area}", params.get(f"query.{area}"))
        if value:
            kw["fields"][area] = value
    if "term" in kw["fields"]:
        kw["query"] = kw["fields"].pop("term")
    status = params.get("filter.overallStatus")
    if status:
        kw["status"] = _enum("filter.overallStatus", [status], STATUSES)
    ids = params.get("filter.ids")
    if ids:
        out = []
        for raw in _split(ids):
            if not re.fullmatch(r"NCT\d{8}", raw.upper()):
                raise ParamError("filter.ids", f"not an NCT id: {raw!r}", "NCT ids like NCT03949231, comma or pipe separated")
            out.append(raw.upper())
        kw["ids"] = out[:1000]
    geo = params.get("filter.geo")
    if geo:
        m = _GEO.match(geo.strip())
        if not m:
            raise ParamError("filter.geo", f"cannot read {geo!r}", "distance(lat,lon,50mi) — units mi, km, m or ft")
        lat, lon, dist = float(m.group(1)), float(m.group(2)), float(m.group(3))
        unit = (m.group(4) or "mi").lower()
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ParamError("filter.geo", "latitude/longitude out of range", "lat -90..90, lon -180..180")
        km = dist * {"mi": 1.609344, "km": 1.0, "m": 0.001, "ft": 0.0003048}[unit]
        if not 0 < km <= 20000:
            raise ParamError("filter.geo", "distance must be above 0 and at most 20,000 km",
                             "distance(lat,lon,50mi) — a distance above 0")
        kw["near"] = (lat, lon, km)
    parse_advanced(params.get("filter.advanced") or "", kw)
    switched = params.get("filter.outcomeSwitched")
    if switched:
        if switched.lower() not in ("true", "false"):
            raise ParamError("filter.outcomeSwitched", "filter.outcomeSwitched must be true or false", ["true", "false"])
        kw["outcome_switched"] = switched.lower() == "true"
    sort = params.get("sort") or ""
    if sort.strip():
        keys = _split(sort)
        if not keys:
            raise ParamError("sort", f"cannot read sort {sort!r}", list(API_SORTS))
        first = keys[0]
        name, _, direction = first.partition(":")
        if name not in API_SORTS:
            raise ParamError("sort", f"unknown sort field {name!r}", list(API_SORTS))
        if direction and direction not in ("asc", "desc"):
            raise ParamError("sort", f"unknown sort direction {direction!r}", ["asc", "desc"])
        kw["sort"] = API_SORTS[name] if name == "@relevance" else f"{API_SORTS[name]}:{direction or 'desc'}"
    size = params.get("pageSize") or "10"
    try:
        limit = int(size)
    except ValueError:
        raise ParamError("pageSize", f"pageSize must be an integer, got {size!r}", f"1 to {MAX_PAGE_SIZE}") from None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ParamError("pageSize", f"pageSize {limit} out of range", f"1 to {MAX_PAGE_SIZE}")
    kw["limit"] = limit
    token = params.get("pageToken")
    if token:
        if len(token) > 500:
            raise ParamError("pageToken", "pageToken too long", "a nextPageToken from a previous response")
        kw["page_token"] = token
    fmt = (params.get("format") or "json").lower()
    if fmt not in ("json", "csv"):
        raise ParamError("format", f"unknown format {fmt!r}", ["json", "csv"])
    count = (params.get("countTotal") or "false").lower()
    if count not in ("true", "false"):
        raise ParamError("countTotal", "countTotal must be true or false", ["true", "false"])
    if not kw["fields"]:
        kw.pop("fields")
    kw["snippets"] = False
    kw["facets"] = False
    return SearchRequest(**kw), {"format": fmt, "countTotal": count == "true", "fields": params.get("fields") or ""}

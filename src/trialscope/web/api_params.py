"""API v2 `/studies` parameters -> a SearchRequest and the response options, with clear errors.

Every parameter of the contract is either honoured with its semantics or answered with a
400 that names it and says why (never silently ignored). Numbers are parsed strictly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .backend import SearchRequest
from .params import (
    QUERY_AREAS,
    STATUSES,
    ParamError,
    _enum,
    _split,
    _text,
)

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
MAX_IDS = 1000

# sortable pieces: piece -> (search sort key, kind); kind decides the default direction
# (the contract: dates `desc`, numbers `asc`, @relevance `desc`)
API_SORTS: dict[str, tuple[str, str]] = {
    "@relevance": ("relevance", "relevance"),
    "LastUpdatePostDate": ("last_update", "DATE"),
    "StartDate": ("start_date", "DATE"),
    "StudyFirstPostDate": ("first_posted", "DATE"),
    "CompletionDate": ("completion", "DATE"),
    "ResultsFirstPostDate": ("results_first_posted", "DATE"),
    "EnrollmentCount": ("enrollment", "INTEGER"),
}
_SORT_LOWER = {k.lower(): k for k in API_SORTS}
# aggFilters: the registry website's filter ids and option keys -> SearchRequest values
AGG_FILTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "status": ("status", {
        "not": "NOT_YET_RECRUITING", "rec": "RECRUITING", "act": "ACTIVE_NOT_RECRUITING",
        "com": "COMPLETED", "enr": "ENROLLING_BY_INVITATION", "sus": "SUSPENDED", "ter": "TERMINATED",
        "wit": "WITHDRAWN", "unk": "UNKNOWN", "ava": "AVAILABLE", "nla": "NO_LONGER_AVAILABLE",
        "tna": "TEMPORARILY_NOT_AVAILABLE", "afm": "APPROVED_FOR_MARKETING", "wh": "WITHHELD"}),
    "phase": ("phase", {"0": "EARLY_PHASE1", "1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4",
                        "na": "NA"}),
    "studyType": ("study_type", {"int": "INTERVENTIONAL", "obs": "OBSERVATIONAL", "exp": "EXPANDED_ACCESS"}),
    "funderType": ("sponsor_class", {"nih": "NIH", "fed": "FED", "industry": "INDUSTRY", "other": "OTHER",
                                     "other_gov": "OTHER_GOV", "indiv": "INDIV", "network": "NETWORK"}),
    "results": ("has_results", {"with": True, "without": False}),
    "sex": ("sex", {"f": "FEMALE", "m": "MALE", "a": "ALL"}),
    "healthy": ("healthy_volunteers", {"y": True}),
}
_FILTERS = ("overallStatus", "ids", "geo", "advanced", "synonyms")
API_PARAMS = {f"query.{a}" for a in QUERY_AREAS} | {f"filter.{f}" for f in _FILTERS} | {
    f"postFilter.{f}" for f in _FILTERS} | {"sort", "fields", "countTotal", "pageSize", "pageToken",
                                            "format", "markupFormat", "aggFilters", "geoDecay", "query.patient"}
_INT = re.compile(r"^\+?\d{1,9}$")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_GEO = re.compile(rf"^distance\(\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*(mi|km|m|ft)?\s*\)$", re.I)
_GEO_DECAY = re.compile(r"^func:(gauss|exp|linear),scale:(\d+(\.\d+)?(km|mi)),offset:(\d+(\.\d+)?(km|mi)),"
                        r"decay:(\d+(\.\d+)?)$")


@dataclass
class ApiOptions:
    """How to answer a search, beside what to search for."""

    format: str = "json"
    count_total: bool = False
    fields: str = ""
    markup: str = "markdown"
    first_page: bool = True
    nothing: bool = False  # the filters contradict each other: the answer is empty


def _intersect(kw: dict, key: str, values: list) -> None:
    """Two filters on one field (filter.X and aggFilters): a study must pass both; when no
    value passes both, nothing can match (`ApiOptions.nothing`)."""
    prev = kw.get(key)
    both = [v for v in values if v in prev] if prev else values
    if not both:
        kw["_nothing"] = True
    kw[key] = both or prev


def _merged(params, name: str) -> str | None:
    """filter.X and postFilter.X (the contract: both filter alike, as no aggregation is
    computed) read as one; both given is a 400."""
    a, b = params.get(f"filter.{name}"), params.get(f"postFilter.{name}")
    if a and b:
        raise ParamError(f"postFilter.{name}", f"give filter.{name} or postFilter.{name}, not both", [f"filter.{name}"])
    return a or b


def _which(params, name: str) -> str:
    return f"postFilter.{name}" if params.get(f"postFilter.{name}") else f"filter.{name}"


def parse_page_size(value: str | None) -> int:
    """The contract: unset or 0 -> the default; above 1,000 -> 1,000; anything else is a 400."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_PAGE_SIZE
    if not _INT.match(text):
        if re.fullmatch(r"\+?\d+", text):  # a very large integer: coerced down, as the contract says
            return MAX_PAGE_SIZE
        raise ParamError("pageSize", f"pageSize must be a non-negative integer, got {text[:40]!r}",
                         f"0 (the default, {DEFAULT_PAGE_SIZE}) to {MAX_PAGE_SIZE}; larger is cut to {MAX_PAGE_SIZE}")
    n = int(text)
    return DEFAULT_PAGE_SIZE if n == 0 else min(n, MAX_PAGE_SIZE)


def parse_bool(param: str, value: str | None, default: bool = False) -> bool:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text not in ("true", "false"):
        raise ParamError(param, f"{param} must be true or false", ["true", "false"])
    return text == "true"


def parse_sort(value: str) -> str:
    """`sort`: up to two `piece[:asc|desc]` keys -> the search's sort key. A key's default
    direction is the contract's (dates desc, numbers asc). trialscope sorts by one key; a
    second key is honoured only when it cannot change the order (it repeats the first)."""
    allowed = [*API_SORTS, *(f"{k}:{d}" for k in list(API_SORTS)[1:] for d in ("asc", "desc"))]
    keys = _split(value)
    if not keys:
        raise ParamError("sort", f"cannot read sort {value!r}", allowed)
    if len(keys) > 2:
        raise ParamError("sort", "sort takes at most two keys", allowed)
    parsed = []
    for key in keys:
        name, _, direction = key.partition(":")
        piece = _SORT_LOWER.get(name.strip().lower())
        if piece is None:
            raise ParamError("sort", f"cannot sort by {name!r}: sortable fields are dates and numbers "
                                     "the index keeps", allowed)
        direction = direction.strip().lower()
        if direction not in ("", "asc", "desc") or (piece == "@relevance" and direction == "asc"):
            raise ParamError("sort", f"unknown sort direction {direction!r} for {piece}",
                             ["desc"] if piece == "@relevance" else ["asc", "desc"])
        search_key, kind = API_SORTS[piece]
        if not direction:
            direction = "asc" if kind == "INTEGER" else "desc"
        parsed.append((piece, search_key, direction))
    if len(parsed) == 2 and parsed[1][0] not in (parsed[0][0], "@relevance"):
        raise ParamError("sort", f"a second sort key ({parsed[1][0]}) is not supported: trialscope "
                                 "sorts by one field (add @relevance to break ties)", allowed)
    _, search_key, direction = parsed[0]
    return "relevance" if search_key == "relevance" else f"{search_key}:{direction}"


def _ids(param: str, value: str) -> list[str]:
    out = []
    for raw in _split(value.replace(" ", ",")):
        if not re.fullmatch(r"NCT[0-9]{8}", raw.upper()):
            raise ParamError(param, f"not an NCT id: {raw[:40]!r}", "NCT ids like NCT03949231, comma or pipe separated")
        out.append(raw.upper())
    if len(out) > MAX_IDS:
        raise ParamError(param, f"at most {MAX_IDS} ids", f"1 to {MAX_IDS} NCT ids")
    return list(dict.fromkeys(out))


def _geo(param: str, geo: str) -> tuple[float, float, float]:
    m = _GEO.match(geo.strip())
    if not m:
        raise ParamError(param, f"cannot read {geo[:80]!r}", "distance(lat,lon,50mi) — units mi, km, m or ft")
    lat, lon, dist = float(m.group(1)), float(m.group(2)), float(m.group(3))
    unit = (m.group(4) or "mi").lower()
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ParamError(param, "latitude/longitude out of range", "lat -90..90, lon -180..180")
    km = dist * {"mi": 1.609344, "km": 1.0, "m": 0.001, "ft": 0.0003048}[unit]
    if not 0 < km <= 20000:
        raise ParamError(param, "distance must be above 0 and at most 20,000 km",
                         "distance(lat,lon,50mi) — a distance above 0")
    return lat, lon, km


def parse_agg_filters(value: str, kw: dict) -> None:
    """aggFilters (`results:with,status:com`): each filter id with its space-separated options."""
    allowed = [f"{fid}:{opt}" for fid, (_, opts) in AGG_FILTERS.items() for opt in opts]
    for pair in _split(value):
        fid, sep, opts = pair.partition(":")
        fid = fid.strip()
        if not sep or fid not in AGG_FILTERS:
            raise ParamError("aggFilters", f"unknown aggregation filter {fid[:40]!r}", allowed)
        key, table = AGG_FILTERS[fid]
        values = []
        for opt in opts.split():
            if opt.lower() not in table:
                raise ParamError("aggFilters", f"unknown option {opt[:40]!r} for {fid}", sorted(table))
            values.append(table[opt.lower()])
        if not values:
            raise ParamError("aggFilters", f"{fid} has no option", sorted(table))
        if key in ("has_results", "healthy_volunteers", "sex"):
            if len(set(values)) > 1 and key != "sex":
                continue  # with and without: no filter
            if key == "sex":
                values = ["ALL"] if "ALL" in values or len(set(values)) > 1 else values
            kw[key] = values[0]
        else:
            _intersect(kw, key, values)


def api_request(params) -> tuple[SearchRequest, ApiOptions]:
    """API v2 /studies parameters → (SearchRequest, options)."""
    for key in params:
        if key not in API_PARAMS:
            raise ParamError(key, f"unknown parameter {key!r}", sorted(API_PARAMS))
    for name in ("synonyms",):
        if _merged(params, name):
            raise ParamError(_which(params, name), f"{_which(params, name)} is not supported: trialscope has "
                                                   "no registry synonym ids (query terms are expanded with MeSH instead)")
    kw: dict[str, Any] = {"fields": {}}
    for area in QUERY_AREAS:
        value = _text(f"query.{area}", params.get(f"query.{area}"))
        if value:
            kw["fields"][area] = value
    if "term" in kw["fields"]:
        kw["query"] = kw["fields"].pop("term")
    for name in ("filter.overallStatus", "postFilter.overallStatus"):  # both given: both apply
        if params.get(name):
            _intersect(kw, "status", _enum(name, [params.get(name)], STATUSES))
    for name in ("filter.ids", "postFilter.ids"):
        if params.get(name):
            _intersect(kw, "ids", _ids(name, params.get(name)))
    geo = _merged(params, "geo")
    if geo:
        kw["near"] = _geo(_which(params, "geo"), geo)
    decay = (params.get("geoDecay") or "").strip()
    if decay:
        if not _GEO_DECAY.match(decay):
            raise ParamError("geoDecay", f"cannot read geoDecay {decay[:80]!r}",
                             "func:(gauss|exp|linear),scale:<n>(km|mi),offset:<n>(km|mi),decay:<n>")
        if geo:  # the contract ignores it without filter.geo; with it, it would rank by distance
            raise ParamError("geoDecay", "geoDecay is not supported: trialscope filters by distance "
                                         "but does not rank by it")
    # filter.advanced and postFilter.advanced: Essie expressions the searcher ANDs in as filters
    for name in ("filter.advanced", "postFilter.advanced"):
        expr = _text(name, params.get(name))
        if expr:
            kw.setdefault("advanced", []).append((name, expr))
    agg = (params.get("aggFilters") or "").strip()
    if agg:
        parse_agg_filters(agg, kw)
    sort = params.get("sort") or ""
    if sort.strip():
        kw["sort"] = parse_sort(sort)
    kw["limit"] = parse_page_size(params.get("pageSize"))
    token = params.get("pageToken")
    if token:
        if len(token) > 500:
            raise ParamError("pageToken", "pageToken too long", "a nextPageToken from a previous response")
        kw["page_token"] = token
    fmt = (params.get("format") or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise ParamError("format", f"unknown format {fmt[:40]!r}", ["json", "csv"])
    markup = (params.get("markupFormat") or "markdown").strip().lower()
    if markup not in ("markdown", "legacy"):
        raise ParamError("markupFormat", f"unknown markupFormat {markup[:40]!r}", ["markdown", "legacy"])
    count = parse_bool("countTotal", params.get("countTotal"))
    if not kw["fields"]:
        kw.pop("fields")
    nothing = kw.pop("_nothing", False)
    kw["snippets"] = False
    kw["facets"] = False
    opts = ApiOptions(format=fmt, count_total=count and not token, fields=params.get("fields") or "",
                      markup=markup, first_page=not token, nothing=nothing)
    return SearchRequest(**kw), opts

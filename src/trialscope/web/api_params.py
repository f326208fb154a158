"""API v2 `/studies` parameters -> a SearchRequest and the response options, with clear errors.

Every parameter of the contract is either honoured with its semantics or answered with a
400 that names it and says why (never silently ignored). Numbers are parsed strictly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..essie.areas import PIECES
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
# every date, number and age piece sorts; those with an index column sort in the index, the
# others (and second keys) on result sets of at most MAX_SORTED studies
_SORTABLE = {p.name.lower(): p for p in PIECES.values() if p.sortable}
MAX_SORTED = 1000
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
                                            "format", "markupFormat", "aggFilters", "geoDecay", "query.patient",
                                            "filter.outcomeSwitched"}  # the last: a trialscope extension
_INT = re.compile(r"^\+?\d{1,9}$")
_ONLY_IDS = re.compile(r"^[\s,]*(?:NCT[0-9]{8}[\s,]*)+$", re.I)
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
    record_sort: list[tuple[str, str]] | None = None  # keys the index cannot sort by (record_sorted)
    sort_text: str = ""
    geo_decay: GeoDecay | None = None


@dataclass
class GeoDecay:
    """geoDecay: relevance times a factor that falls with the distance from filter.geo's point
    to a study's closest site (the decay functions of Elasticsearch's function score)."""

    func: str  # gauss, exp or linear
    scale_km: float
    offset_km: float
    decay: float  # the factor at offset + scale
    lat: float
    lon: float

    def factor(self, km: float | None) -> float:
        if km is None:
            return 0.0
        d = max(0.0, km - self.offset_km)
        if self.func == "gauss":
            return math.exp(d * d * math.log(self.decay) / (self.scale_km * self.scale_km))
        if self.func == "exp":
            return math.exp(math.log(self.decay) * d / self.scale_km)
        return max(0.0, 1 - d * (1 - self.decay) / self.scale_km)


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


def count_path(name: str) -> str | None:
    """`Num<List>s` (NumArmGroups, NumLocations, ...): the path of the list it counts, or None."""
    from .metadata import branches

    if not (name[:3].lower() == "num" and name.endswith("s")):
        return None
    found = {k.lower(): v for k, v in branches().items()}.get(name[3:-1].lower())
    return found[0] if found and found[1] else None


def parse_sort(value: str) -> tuple[str, list[tuple[str, str]] | None]:
    """`sort`: up to two `piece[:asc|desc]` keys, each with the contract's default direction
    (dates desc, numbers asc, @relevance desc) -> (the search's sort key, None) when the index
    sorts it (one indexed key, maybe with @relevance after it), else ("relevance", the keys as
    (piece, direction)) for `sort_page` to sort a small result set (MAX_SORTED) by the records."""
    keys = _split(value)
    allowed = (f"@relevance, date/number pieces ({', '.join(p.name for p in _SORTABLE.values())}) or list "
               "counts (NumArmGroups, NumLocations, ...), each with :asc or :desc")
    if not keys or len(keys) > 2:
        raise ParamError("sort", f"sort takes one or two keys, got {value[:80]!r}", allowed)
    parsed: list[tuple[str, str]] = []
    for key in keys:
        name, _, direction = key.partition(":")
        name, direction = name.strip(), direction.strip().lower()
        if name == "@relevance":
            piece, kind = "@relevance", "relevance"
        elif count_path(name) is not None:  # NumArmGroups: how many items a list has
            piece, kind = name, "number"
        else:
            p = _SORTABLE.get(name.lower())
            if p is None:
                raise ParamError("sort", f"cannot sort by {name[:80]!r}: only dates and numbers sort", allowed)
            piece, kind = p.name, p.type
        if direction not in ("", "asc", "desc") or (piece == "@relevance" and direction == "asc"):
            raise ParamError("sort", f"unknown sort direction {direction!r} for {piece}",
                             ["desc"] if piece == "@relevance" else ["asc", "desc"])
        parsed.append((piece, direction or ("desc" if kind in ("date", "relevance") else "asc")))
    first, direction = parsed[0]
    if first in API_SORTS and (len(parsed) == 1 or parsed[1][0] in ("@relevance", first)):
        search_key = API_SORTS[first][0]
        return ("relevance" if search_key == "relevance" else f"{search_key}:{direction}"), None
    return "relevance", parsed


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


def _check_essie(param: str, expr: str) -> None:
    from ..essie import QueryError, parse

    try:
        parse(expr)
    except QueryError as exc:
        exc.param = param
        raise


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
    # the contract: when a query parameter holds only NCT ids, the filter.* and postFilter.*
    # parameters are ignored (they are still checked)
    only_ids = False
    for area, value in kw["fields"].items():
        if _ONLY_IDS.match(value):  # a list of ids is any of them
            only_ids = True
            kw["fields"][area] = " OR ".join(re.findall(r"NCT[0-9]{8}", value.upper()))
    if "term" in kw["fields"]:
        kw["query"] = kw["fields"].pop("term")
    f: dict[str, Any] = {} if only_ids else kw
    for name in ("filter.overallStatus", "postFilter.overallStatus"):  # both given: both apply
        if params.get(name):
            _intersect(f, "status", _enum(name, [params.get(name)], STATUSES))
    for name in ("filter.ids", "postFilter.ids"):
        if params.get(name):
            _intersect(f, "ids", _ids(name, params.get(name)))
    geo = _merged(params, "geo")
    if geo:
        f["near"] = _geo(_which(params, "geo"), geo)
    decay = (params.get("geoDecay") or "").strip()
    geo_decay = None
    if decay:
        m = _GEO_DECAY.match(decay)
        if not m:
            raise ParamError("geoDecay", f"cannot read geoDecay {decay[:80]!r}",
                             "func:(gauss|exp|linear),scale:<n>(km|mi),offset:<n>(km|mi),decay:<n>")
        if geo:  # the contract ignores it without filter.geo
            km = {"km": 1.0, "mi": 1.609344}
            scale, offset = float(m.group(2)[:-2]) * km[m.group(4)], float(m.group(5)[:-2]) * km[m.group(7)]
            factor = float(m.group(8))
            if scale <= 0 or not 0 < factor < 1:
                raise ParamError("geoDecay", "geoDecay needs a scale above 0 and a decay between 0 and 1",
                                 "e.g. func:exp,scale:300mi,offset:0mi,decay:0.5")
            geo_decay = GeoDecay(m.group(1), scale, offset, factor, kw["near"][0], kw["near"][1])
    switched = params.get("filter.outcomeSwitched")  # beyond the contract (history.outcomes)
    if switched and switched.strip():
        f["outcome_switched"] = parse_bool("filter.outcomeSwitched", switched)
    # filter.advanced and postFilter.advanced: Essie expressions the searcher ANDs in as filters
    for name in ("filter.advanced", "postFilter.advanced"):
        expr = _text(name, params.get(name))
        if expr:
            if only_ids:  # ignored, but a malformed one is still a 400
                _check_essie(name, expr)
            f.setdefault("advanced", []).append((name, expr))
    agg = (params.get("aggFilters") or "").strip()
    if agg:
        parse_agg_filters(agg, kw)
    sort = params.get("sort") or ""
    record_sort = None
    if sort.strip():
        kw["sort"], record_sort = parse_sort(sort)
    if geo_decay is not None and kw.get("sort", "relevance") == "relevance" and not record_sort:
        record_sort = [("@geoDecay", "desc")]  # relevance times the proximity factor
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
                      markup=markup, first_page=not token, nothing=nothing,
                      record_sort=record_sort, sort_text=sort.strip() + "|" + decay, geo_decay=geo_decay)
    return SearchRequest(**kw), opts

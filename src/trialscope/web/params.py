"""Turning the search page's URL parameters into a SearchRequest, with clear errors; the
values and helpers the API's parameters (`api_params.py`) share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..history.labels import enum as enum_words
from .backend import SearchRequest

MAX_QUERY = 2000

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

# the filters' values in words: the record's own words (history.labels, which the record
# page's history and diffs use too), but for the age groups, which say their ranges here
LABELS = {
    **{v: enum_words(v) for v in STATUSES + PHASES + STUDY_TYPES},
    "CHILD": "Child (birth–17)", "ADULT": "Adult (18–64)", "OLDER_ADULT": "Older adult (65+)",
    **{v: enum_words(v) for v in SEXES},
    "true": "Yes", "false": "No",
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
    "distance": "Distance (nearest first)",
}
OPEN = ["RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"]  # status=open


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
    near: str = ""  # a place, a US ZIP code or "lat,lon" (see trialscope.geo)
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
                        self.type, self.country, self.age, self.sex, self.results, self.lat,
                        self.near, self.switched])

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
    statuses = [v for v in params.getlist("status") if v.strip().lower() != "open"]
    if len(statuses) < len(params.getlist("status")):  # "open", as in the CLI and the registry
        statuses += OPEN
    ui.status = _enum("status", statuses, STATUSES)
    ui.phase = _enum("phase", params.getlist("phase"), PHASES)
    ui.type = _enum("type", params.getlist("type"), STUDY_TYPES)
    age = (params.get("age") or "").strip()
    if age:
        _float("age", age, 0, 150)
    ui.age = age
    ui.country = [c.strip() for c in params.getlist("country") if c.strip()][:20] or None
    switched = _enum("switched", params.getlist("switched"), ["TRUE", "FALSE"])
    ui.switched = [v.lower() for v in switched] if switched else None
    sex = (params.get("sex") or "").upper()
    if sex and sex not in SEXES:
        raise ParamError("sex", f"unknown value {sex!r} for sex", SEXES)
    ui.sex = sex
    results = (params.get("results") or "").lower()
    if results not in ("", "yes", "no"):
        raise ParamError("results", "results must be yes or no", ["yes", "no"])
    ui.results = results
    ui.near = _text("near", params.get("near"))[:200]
    ui.lat, ui.lon, ui.dist = (params.get(k, "").strip() for k in ("lat", "lon", "dist"))
    if any((ui.lat, ui.lon)):
        _float("lat", ui.lat, -90, 90)
        _float("lon", ui.lon, -180, 180)
    if ui.near or ui.lat or ui.lon:
        _float("dist", ui.dist or "100", 0.1, 20000)
    if ui.near:
        near_place(ui)  # a clear 400 for a place the gazetteer does not know
    sort = params.get("sort") or ("distance" if (ui.near or ui.lat) and not ui.q else "relevance")
    if sort not in UI_SORTS:
        raise ParamError("sort", f"unknown sort {sort!r}", list(UI_SORTS))
    if sort == "distance" and not (ui.near or ui.lat):
        raise ParamError("sort", "sorting by distance needs a place (near) to measure from",
                         "a place in near, or lat and lon")
    ui.sort = sort
    ui.page = _text("page", params.get("page"))[:200]
    try:
        ui.start = max(0, int(params.get("start") or 0))
    except ValueError:
        ui.start = 0
    ui.back = [b[:200] for b in params.getlist("back")][-60:] if ui.page else []
    return ui


def near_place(ui: UiSearch):
    """The point a search measures distance from: `near` (a place) or `lat`/`lon`."""
    from ..geo import Place, PlaceError, geocode

    if ui.near:
        try:
            return geocode(ui.near)
        except PlaceError as exc:
            raise ParamError("near", str(exc), "a city (Chicago, IL · Lyon, France), a US ZIP code "
                             "(60611) or coordinates (41.88,-87.63)") from None
    if ui.lat and ui.lon:
        return Place(float(ui.lat), float(ui.lon), f"{float(ui.lat):.4f}, {float(ui.lon):.4f}", None, None,
                     "point")
    return None


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
    place = near_place(ui)
    if place is not None:
        near = (place.lat, place.lon, float(ui.dist or 100))
    return SearchRequest(
        query=ui.q, fields=fields, status=ui.status or [], phase=ui.phase or [],
        study_type=ui.type or [], country=ui.country or [], age=float(ui.age) if ui.age else None,
        sex=ui.sex or None, has_results={"yes": True, "no": False}.get(ui.results), near=near,
        outcome_switched={("true",): True, ("false",): False}.get(tuple(ui.switched or ())),
        sort=sort, limit=limit, page_token=ui.page or None, facets=facets, snippets=snippets,
    )

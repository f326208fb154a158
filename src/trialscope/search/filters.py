"""Filters: each a constant-score clause over the index's raw fields, checked first.

A value outside the allowed set is a `FilterError` that names the parameter and lists what
it accepts. Ages never drop a trial for a missing bound (stored open); "open" status means
recruiting or about to.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tantivy
from tantivy import FieldType, Occur, Query

from ..index.fulltext import DATE_FIELDS, OPEN_MAX_AGE, date_int, geo_cover
from ..normalize import parse_date, years_to_days
from ..record import RecordError, normalize_nct
from .request import (
    INTERVENTION_TYPE_VALUES,
    OPEN_STATUSES,
    PHASE_VALUES,
    SEX_VALUES,
    SORT_KEYS,
    SPONSOR_CLASS_VALUES,
    STATUS_VALUES,
    STUDY_TYPE_VALUES,
    FilterError,
    SearchRequest,
)


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


def const(q: Query) -> Query:
    return Query.const_score_query(q, 0.0)


def _date_bound(param: str, text: str | None, upper: bool) -> int | None:
    if text is None or text == "":
        return None
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


def parse_sort(value: str) -> tuple[str, bool]:
    """-> (key, descending)."""
    text = (value or "relevance").strip().lower()
    key, _, direction = text.partition(":")
    allowed = SORT_KEYS + [f"{k}:{d}" for k in SORT_KEYS[1:] for d in ("asc", "desc")]
    if key not in SORT_KEYS or direction not in ("", "asc", "desc") or (key == "relevance" and direction == "asc"):
        raise FilterError("sort", allowed, value)
    return key, direction != "asc"


def as_list(value) -> list:
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


def negate(q: Query) -> Query:
    return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, q)])


class Filters:
    """Builds a request's filter clauses against one index schema; `known_countries` gives
    the index's country spellings (lower case -> as indexed)."""

    def __init__(self, schema: tantivy.Schema, known_countries: Callable[[], dict[str, str]]):
        self.schema = schema
        self._known_countries = known_countries

    def _terms(self, fld: str, values: list[str]) -> Query:
        if len(values) == 1:
            return Query.term_query(self.schema, fld, values[0])
        return Query.term_set_query(self.schema, fld, values)

    def build(self, req: SearchRequest) -> list[Query]:
        """One constant-score clause per filter the request sets."""
        out: list[Query] = []
        s = self.schema
        if req.status:
            vals = _enum_values("status", as_list(req.status), STATUS_VALUES, {"open": OPEN_STATUSES})
            out.append(self._terms("status", vals))
        if req.phase:
            out.append(self._terms("phase", _enum_values("phase", as_list(req.phase), PHASE_VALUES)))
        if req.study_type:
            out.append(self._terms("stype", _enum_values("study_type", as_list(req.study_type), STUDY_TYPE_VALUES)))
        if req.intervention_type:
            vals = _enum_values("intervention_type", as_list(req.intervention_type), INTERVENTION_TYPE_VALUES)
            out.append(self._terms("itype", vals))
        if req.sponsor_class:
            vals = _enum_values("sponsor_class", as_list(req.sponsor_class), SPONSOR_CLASS_VALUES)
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
            out.append(q if req.healthy_volunteers else negate(q))
        if req.country:
            out.append(self._terms("country", self.countries(as_list(req.country))))
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
                ids = [normalize_nct(i) for i in as_list(req.ids)]
            except RecordError as exc:
                raise FilterError("ids", ["NCT ids (NCT followed by 8 digits)"], message=f"ids: {exc}") from None
            out.append(self._terms("nct", ids))
        if not req.include_withdrawn:
            out.append(negate(Query.term_query(s, "withdrawn", "true")))
        return out

    def countries(self, values: list[str]) -> list[str]:
        """Country names as the index spells them (matched without regard to case)."""
        known = self._known_countries()
        out = []
        for v in values:
            key = str(v).strip().lower()
            if key in known:
                out.append(known[key])
            elif known:
                raise FilterError("country", sorted(known.values()), v)
            else:
                out.append(str(v).strip())
        return out

"""The full-text index: tantivy schema, analyzers, and study -> document.

One tantivy document per current study. Text fields are analysed with `en` (simple word
tokenizer, lower case, accent folding, English stemming); the enum-like fields used by
filters and facets are raw, fast (columnar) fields so tantivy counts facets in Rust; dates
are integers YYYYMMDD; ages are days (a missing bound is stored open: 0 / 1e9); site
coordinates become geo grid cells at six resolutions (see `geo_cells` / `geo_cover`).
"""

from __future__ import annotations

import base64
import contextlib
import math
import zlib
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import tantivy

from ..normalize import age_days
from ..trust import effective_status

SCHEMA_VERSION = 15  # 8: trust and places; 9: the Essie pieces (see the block at the end);
# 10: their value counts; 11: long texts; 12: value counts of list pieces only;
# 13: each distinct value once; 14: the outcome-switch flag (oswitch);
# 15: present pieces in pkey, counts from two values

# Free-text fields and their weights (BM25 per field, summed over fields).
TEXT_WEIGHTS: dict[str, float] = {
    "title": 4.0,  # brief + official title
    "acronym": 3.0,
    "cond": 3.0,  # conditions as written
    "mesh": 2.0,  # condition MeSH terms
    "mesh_anc": 0.5,  # their MeSH ancestors
    "intr": 2.5,  # intervention names + other names (+ intervention MeSH terms)
    "kw": 2.0,
    "summary": 1.5,
    "descr": 1.0,
    "elig": 0.5,
    "outc": 1.0,  # planned outcomes + posted result outcome measures
    "lead": 1.0,
    "collab": 0.8,
    "loc": 0.5,  # facility, city, state, country
    "ids": 3.0,  # NCT id, aliases, org study id, secondary ids
}

# Fields indexed without positions (smaller, faster to build): a phrase there matches as
# all of its words.
NO_POSITIONS = frozenset({"elig", "loc", "mesh_anc", "collab", "outc"})

# Fielded query names -> index fields.
QUERY_FIELDS: dict[str, list[str]] = {
    "cond": ["cond", "mesh"],  # + MeSH ancestors / lookup expansion, see search.py
    "intr": ["intr"],
    "term": list(TEXT_WEIGHTS),
    "title": ["title", "acronym"],
    "titles": ["title", "acronym"],
    "outc": ["outc"],
    "spons": ["lead", "collab"],
    "lead": ["lead"],
    "loc": ["loc"],
    "locn": ["loc"],
    "id": ["ids"],
    "kw": ["kw"],
    "elig": ["elig"],
    "summary": ["summary", "descr"],
}

# Raw fast fields (filters + facets).
RAW_FIELDS = (
    "status", "phase", "stype", "itype", "sclass", "country", "results", "sex", "hv", "withdrawn",
    "oswitch",  # the outcome-switch flag (trialscope.history.outcomes), computed from the versions
)
# facet name -> the raw field whose values it counts (in the shared "facet" column)
GROUPED_FACETS = {
    "status": "status", "phase": "phase", "study_type": "stype", "intervention_type": "itype",
    "sponsor_class": "sclass", "has_results": "results", "outcome_switched": "oswitch",
}
DATE_FIELDS = ("start", "first_posted", "last_update", "completion", "results_first_posted")
SORT_FIELDS = (*DATE_FIELDS, "enrollment")
MISSING_DESC = -(10**12)  # the value of a missing sort key in the negated (ascending) column
OPEN_MAX_AGE = 1e9
SHARDS = 64

# Geo grid: cell sizes in degrees, finest first.
GEO_LEVELS = tuple(0.01 * 4**k for k in range(6))
EARTH_KM = 6371.0088


def analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def folding_analyzer() -> tantivy.TextAnalyzer:
    """Like `analyzer` without stemming (for prefix queries)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("nct", stored=True, tokenizer_name="raw", index_option="basic")
    for name in TEXT_WEIGHTS:
        option = "freq" if name in NO_POSITIONS else "position"
        sb.add_text_field(name, stored=name == "summary", tokenizer_name="en", index_option=option)
    sb.add_text_field("mesh_exact", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("geo", tokenizer_name="raw", index_option="basic")
    for name in RAW_FIELDS:  # filters (inverted index)
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    # facets (columnar): the low-cardinality ones share one column, "status:RECRUITING",
    # "phase:PHASE2", ..., so one terms aggregation counts them all in one pass
    for name in ("facet", "country_facet", "mesh_facet"):
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field("shard", indexed=True, fast=True)  # hash(nct) % SHARDS, for facet sampling
    sb.add_float_field("min_age", indexed=True, fast=True)
    sb.add_float_field("max_age", indexed=True, fast=True)
    for name in SORT_FIELDS:
        sb.add_integer_field(name, indexed=True, fast=True)
        sb.add_integer_field("neg_" + name, fast=True)
    sb.add_integer_field(STALE_FIELD, indexed=True)  # see "trust and places" below
    sb.add_bytes_field("pts", stored=True)  # site positions, float32 [lat, lon, approximate]
    sb.add_bytes_field("hit", stored=True)
    add_piece_fields(sb)
    return sb.build()


def date_int(text: str | None) -> int:
    """`2019-05-17` -> 20190517, `2019-05` -> 20190501, `2019` -> 20190101; else 0."""
    if not text or len(text) < 4 or not text[:4].isdigit():
        return 0
    y = int(text[:4])
    m = int(text[5:7]) if len(text) >= 7 and text[5:7].isdigit() else 1
    d = int(text[8:10]) if len(text) >= 10 and text[8:10].isdigit() else 1
    return y * 10000 + m * 100 + d


def _age(text: str | None) -> float | None:
    try:
        return age_days(text)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _vocab():
    try:
        from ..mesh import vocabulary

        return vocabulary()
    except Exception:  # the vocabulary is optional: without it no expansion
        return None


@lru_cache(maxsize=200_000)
def mesh_ancestors(name: str) -> tuple[str, ...]:
    vocab = _vocab()
    if vocab is None:
        return ()
    try:
        return tuple(vocab.ancestors(name))
    except Exception:
        return ()


@lru_cache(maxsize=200_000)
def mesh_lookup(text: str) -> tuple[str, ...]:
    vocab = _vocab()
    if vocab is None:
        return ()
    try:
        return tuple(vocab.lookup(text))
    except Exception:
        return ()


class Fields(dict):
    """A study's document as plain values, field -> [values], with the `tantivy.Document`
    adders the builder calls: cheap to build, and it serialises to the JSON that
    `IndexWriter.add_json` reads (`study_json`), so a parse worker can build it and the
    process that writes the index only adds it."""

    def add_text(self, field: str, value: str) -> None:
        self.setdefault(field, []).append(value)

    add_integer = add_unsigned = add_float = add_bytes = add_json = add_text

    def get_first(self, field: str):
        values = self.get(field)
        return values[0] if values else None


def _add_all(doc: Fields, field: str, values) -> None:
    got = [v for v in values if v]
    if got:
        doc.setdefault(field, []).extend(got)


def geo_cells(lat: float, lon: float) -> list[str]:
    return [f"{k}:{math.floor(lat / s)}:{math.floor(lon / s)}" for k, s in enumerate(GEO_LEVELS)]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def geo_cover(lat: float, lon: float, radius_km: float, steps: int = 20) -> list[str]:
    """Grid cells whose union covers the circle: cells wholly inside at the coarsest level
    possible, boundary cells refined down to a level of at most radius/`steps` (so a site
    counts as within the radius when it lies within about 7% of the radius outside it, never
    less, at the default 20; the grid's levels are 4x apart, so most radii get finer cells).
    Fewer, coarser boundary cells make the filter cheaper: at 100 km, 590 cells instead of
    2,420 at radius/40. Sites are never dropped when inside; the antimeridian is not wrapped.
    Cached: a search's pages, facet passes and distance rings reuse their covers."""
    return list(_geo_cover(round(lat, 5), round(lon, 5), round(radius_km, 3), steps))


@lru_cache(maxsize=2048)
def _geo_cover(lat: float, lon: float, radius_km: float, steps: int) -> tuple[str, ...]:
    finest = 0
    while finest < len(GEO_LEVELS) - 1 and GEO_LEVELS[finest + 1] * 111.2 <= radius_km / steps:
        finest += 1
    start = finest
    while start < len(GEO_LEVELS) - 1 and GEO_LEVELS[start] * 111.2 < radius_km / 2:
        start += 1
    dlat = radius_km / 111.2
    coslat = max(math.cos(math.radians(min(89.9, abs(lat) + dlat))), 1e-6)
    dlon = min(180.0, radius_km / (111.2 * coslat))
    out: list[str] = []
    kx = 111.2 * math.cos(math.radians(lat))

    def visit(k: int, i: int, j: int) -> None:
        s = GEO_LEVELS[k]
        la0, la1, lo0, lo1 = i * s, (i + 1) * s, j * s, (j + 1) * s
        near = haversine_km(lat, lon, min(max(lat, la0), la1), min(max(lon, lo0), lo1))
        if near > radius_km:
            return
        if k == finest:
            out.append(f"{k}:{i}:{j}")
            return
        # wholly inside? a flat-earth estimate settles the clear cases, haversine the rest
        fx, fy = max(abs(lo0 - lon), abs(lo1 - lon)) * kx, max(abs(la0 - lat), abs(la1 - lat)) * 111.2
        flat = math.hypot(fx, fy)
        if flat > radius_km * 1.1:
            far = flat
        else:
            far = max(haversine_km(lat, lon, a, b) for a in (la0, la1) for b in (lo0, lo1))
        if far <= radius_km:
            out.append(f"{k}:{i}:{j}")
            return
        for di in range(4):
            for dj in range(4):
                visit(k - 1, i * 4 + di, j * 4 + dj)

    s = GEO_LEVELS[start]
    for i in range(math.floor((lat - dlat) / s), math.floor((lat + dlat) / s) + 1):
        for j in range(math.floor((lon - dlon) / s), math.floor((lon + dlon) / s) + 1):
            visit(start, i, j)
    return tuple(out)


def _outcome_texts(proto: dict, record: dict) -> list[str]:
    texts = []
    om = proto.get("outcomesModule") or {}
    for key in ("primaryOutcomes", "secondaryOutcomes", "otherOutcomes"):
        for o in om.get(key) or ():
            texts.append(o.get("measure"))
            texts.append(o.get("description"))
    res = (record.get("resultsSection") or {}).get("outcomeMeasuresModule") or {}
    for o in res.get("outcomeMeasures") or ():
        if isinstance(o, dict):
            texts.append(o.get("title"))
            texts.append(o.get("description"))
    return texts


def study_document(record: dict, withdrawn: bool = False, asof: date | None = None,
                   outcome_switched: bool = False) -> tantivy.Document:
    """The tantivy document of one v2 study record (see `study_fields`)."""
    return tantivy.Document.from_dict(study_fields(record, withdrawn, asof, outcome_switched), schema())


def study_json(record: dict, withdrawn: bool = False, asof: date | None = None,
               outcome_switched: bool = False) -> str:
    """The document of one v2 study record as the JSON `IndexWriter.add_json` reads: the
    same document as `study_document`, and cheaper to add (0.19 vs 0.6 ms a study to build
    and add the object, on the shared corpus) and to pass between processes."""
    return orjson.dumps(study_fields(record, withdrawn, asof, outcome_switched), default=_base64).decode()


def _base64(value):
    if isinstance(value, bytes):  # a bytes field: tantivy's JSON documents hold them in base64
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")


@lru_cache(maxsize=1)
def schema() -> tantivy.Schema:
    return build_schema()


def warm() -> None:
    """Load what building a document reads on first use (MeSH, the gazetteer, the pieces'
    walker), so that processes forked afterwards share it instead of each loading it."""
    _vocab()
    _approximate({"city": "Boston", "state": "Massachusetts", "country": "United States"})  # the gazetteer
    _walker()
    _piece_kinds()
    schema()


def study_fields(record: dict, withdrawn: bool = False, asof: date | None = None,
                 outcome_switched: bool = False) -> Fields:
    """The indexed fields of one v2 study record; its status is the effective one as of
    `asof` (default today; see `trialscope.trust`); `outcome_switched`: its flag, which
    depends on the study's versions, not on this record (see `history.flags`)."""
    proto = record.get("protocolSection") or {}
    ident = proto.get("identificationModule") or {}
    status = proto.get("statusModule") or {}
    spons = proto.get("sponsorCollaboratorsModule") or {}
    desc = proto.get("descriptionModule") or {}
    conds = proto.get("conditionsModule") or {}
    design = proto.get("designModule") or {}
    arms = proto.get("armsInterventionsModule") or {}
    elig = proto.get("eligibilityModule") or {}
    locs = (proto.get("contactsLocationsModule") or {}).get("locations") or ()
    derived = record.get("derivedSection") or {}
    cbrowse = derived.get("conditionBrowseModule") or {}
    ibrowse = derived.get("interventionBrowseModule") or {}

    nct = ident.get("nctId") or ""
    doc = Fields()
    doc.add_text("nct", nct)
    doc.add_unsigned("shard", zlib.crc32(nct.encode()) % SHARDS)
    brief = ident.get("briefTitle")
    _add_all(doc, "title", (brief, ident.get("officialTitle")))
    _add_all(doc, "acronym", (ident.get("acronym"),))
    conditions = [c for c in conds.get("conditions") or () if isinstance(c, str)]
    _add_all(doc, "cond", conditions)
    _add_all(doc, "kw", conds.get("keywords") or ())

    mesh_terms = [m.get("term") for m in cbrowse.get("meshes") or () if m.get("term")]
    mesh_anc = [m.get("term") for m in cbrowse.get("ancestors") or () if m.get("term")]
    if not mesh_terms:  # e.g. converted legacy records without browse data: look the conditions up
        mesh_terms = list(dict.fromkeys(n for c in conditions for n in mesh_lookup(c)))
    anc = dict.fromkeys(mesh_anc)
    for t in mesh_terms:
        anc.update(dict.fromkeys(mesh_ancestors(t)))
    for t in mesh_terms:
        anc.pop(t, None)
    _add_all(doc, "mesh", mesh_terms)
    _add_all(doc, "mesh_anc", anc)
    _add_all(doc, "mesh_facet", dict.fromkeys(mesh_terms))
    # cond: expansion matches these exactly: the record's MeSH terms and ancestors, plus what
    # each condition string names in MeSH (records often list conditions their browse data
    # lacks, e.g. "Hepatocellular Carcinoma" among seven GI cancers) and those ancestors
    exact = {t.lower() for t in (*mesh_terms, *anc)}
    for c in conditions:
        for name in mesh_lookup(c):
            if name.lower() not in exact:
                exact.add(name.lower())
                exact.update(a.lower() for a in mesh_ancestors(name))
    _add_all(doc, "mesh_exact", exact)

    interventions = arms.get("interventions") or ()
    intr_texts: list[str] = []
    itypes = set()
    for iv in interventions:
        intr_texts.append(iv.get("name"))
        intr_texts.extend(iv.get("otherNames") or ())
        if iv.get("type"):
            itypes.add(iv["type"])
    intr_texts.extend(m.get("term") for m in ibrowse.get("meshes") or ())
    _add_all(doc, "intr", intr_texts)
    _add_all(doc, "itype", itypes)

    summary = desc.get("briefSummary")
    _add_all(doc, "summary", (summary,))
    _add_all(doc, "descr", (desc.get("detailedDescription"),))
    _add_all(doc, "elig", (elig.get("eligibilityCriteria"),))
    _add_all(doc, "outc", _outcome_texts(proto, record))

    lead = spons.get("leadSponsor") or {}
    _add_all(doc, "lead", (lead.get("name"),))
    _add_all(doc, "collab", (c.get("name") for c in spons.get("collaborators") or ()))
    if lead.get("class"):
        doc.add_text("sclass", lead["class"])

    countries = set()
    loc_texts: list[str] = []
    for loc in locs:
        loc_texts.extend((loc.get("facility"), loc.get("city"), loc.get("state"), loc.get("country")))
        if loc.get("country"):
            countries.add(loc["country"])
    points = site_points(locs)
    _add_all(doc, "loc", dict.fromkeys(t for t in loc_texts if t))
    _add_all(doc, "country", countries)
    _add_all(doc, "geo", {c for p in points for c in geo_cells(p[0], p[1])})

    ids = [nct, *(ident.get("nctIdAliases") or ())]
    ids.append((ident.get("orgStudyIdInfo") or {}).get("id"))
    ids.extend(s.get("id") for s in ident.get("secondaryIdInfos") or ())
    _add_all(doc, "ids", ids)

    effective = effective_status(record, asof)
    overall = effective.status
    doc.add_integer(STALE_FIELD, date_int(effective.stale_from.isoformat()) if effective.stale_from else 0)
    _add_all(doc, "status", (overall,))
    phases = design.get("phases") or []
    _add_all(doc, "phase", phases)
    _add_all(doc, "stype", (design.get("studyType"),))
    has_results = bool(record.get("hasResults") or record.get("resultsSection"))
    doc.add_text("results", "true" if has_results else "false")
    doc.add_text("sex", (elig.get("sex") or "ALL").upper())
    hv = elig.get("healthyVolunteers")
    doc.add_text("hv", "unknown" if hv is None else ("true" if hv else "false"))
    doc.add_text("withdrawn", "true" if withdrawn else "false")
    doc.add_text("oswitch", "true" if outcome_switched else "false")
    lo, hi = _age(elig.get("minimumAge")), _age(elig.get("maximumAge"))
    doc.add_float("min_age", lo if lo is not None else 0.0)
    doc.add_float("max_age", hi if hi is not None else OPEN_MAX_AGE)

    start = (status.get("startDateStruct") or {}).get("date")
    last_upd = (status.get("lastUpdatePostDateStruct") or {}).get("date") or status.get("lastUpdateSubmitDate")
    values = {
        "start": date_int(start),
        "first_posted": date_int((status.get("studyFirstPostDateStruct") or {}).get("date")
                                 or status.get("studyFirstSubmitDate")),
        "last_update": date_int(last_upd),
        "completion": date_int((status.get("completionDateStruct") or {}).get("date")),
        "results_first_posted": date_int((status.get("resultsFirstPostDateStruct") or {}).get("date")),
    }
    enrollment = (design.get("enrollmentInfo") or {}).get("count")
    values["enrollment"] = enrollment if isinstance(enrollment, int) and enrollment >= 0 else -1
    for name, v in values.items():
        missing = v <= 0 if name != "enrollment" else v < 0
        doc.add_integer(name, v)
        doc.add_integer("neg_" + name, MISSING_DESC if missing else -v)

    for name, values in (("status", (overall,)), ("phase", phases), ("study_type", (design.get("studyType"),)),
                         ("intervention_type", itypes), ("sponsor_class", (lead.get("class"),)),
                         ("has_results", ("true" if has_results else "false",)),
                         ("outcome_switched", ("true" if outcome_switched else "false",))):
        for v in values:
            if v:
                doc.add_text("facet", f"{name}:{v}")
    _add_all(doc, "country_facet", countries)

    add_pieces(doc, record, overall)
    title = brief or ident.get("officialTitle") or _display_title(record)
    doc.add_bytes("hit", orjson.dumps({
        "t": title, "s": overall, "p": phases, "c": conditions[:10], "sp": lead.get("name"),
        "ty": design.get("studyType"), "sd": start, "lu": last_upd,
        "s0": effective.reported, "v": effective.verified, "gl": [p[3] for p in points[:MAX_HIT_POINTS]],
    }))
    doc.add_bytes("pts", np.asarray([p[:3] for p in points[:MAX_HIT_POINTS]], dtype=np.float32).tobytes())
    return doc


# -- trust and places (issue 14) --------------------------------------------------------
# The status indexed is the effective one as of the index's as-of date (trialscope.trust):
# `stale_at` (YYYYMMDD, 0 = never) is the day a study turns "Unknown status", so when the
# date moves on the few studies whose status flips are found by a range query and
# re-indexed (index/__init__.py, redate). Sites without the registry's geoPoint get an
# approximate, city-level point from the shipped gazetteer (trialscope.geo); the stored
# record is unchanged. Each hit keeps its sites' points, for the nearest site and maps.

STALE_FIELD = "stale_at"
MAX_HIT_POINTS = 300  # site points kept per hit (the nearest site, the map)
GEOCODE_SITES = True  # off only to measure what geocoding costs (benchmarks/geocode.py)


def site_points(locs) -> list[list]:
    """[lat, lon, approximate (0/1), "facility, city"] of each site with a position, the
    registry's geoPoint first; sites sharing a position are kept once."""
    out: list[list] = []
    seen: set[tuple] = set()
    for loc in locs:
        if not isinstance(loc, dict):
            continue
        gp = loc.get("geoPoint") or {}
        point, approx = None, 0
        with contextlib.suppress(TypeError, ValueError):
            if gp.get("lat") is not None and gp.get("lon") is not None:
                point = (float(gp["lat"]), float(gp["lon"]))
        if point is None and GEOCODE_SITES and (loc.get("city") or loc.get("zip")):
            point, approx = _approximate(loc), 1
        if point is None or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
            continue
        key = (round(point[0], 4), round(point[1], 4), loc.get("facility"))
        if key in seen:
            continue
        seen.add(key)
        label = ", ".join(str(x) for x in (loc.get("facility"), loc.get("city")) if x)[:120]
        out.append([round(point[0], 4), round(point[1], 4), approx, label])
    return out


class HitSites:
    """A hit's site positions as stored (`pts`, float32 rows of lat, lon, approximate) with
    their labels; iterating gives [lat, lon, approximate, label] lists."""

    def __init__(self, doc: tantivy.Document, labels: list[str] | None):
        raw = doc.get_first("pts") or b""
        self.array = np.frombuffer(raw, dtype=np.float32).reshape(-1, 3)
        self.labels = labels or []

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self):
        for (lat, lon, approx), label in zip(self.array.tolist(), self.labels, strict=False):
            yield [round(lat, 4), round(lon, 4), int(approx), label]

    def nearest(self, lat: float, lon: float) -> dict | None:
        """{"label", "km", "approximate"} of the site nearest to (lat, lon)."""
        if not len(self.array):
            return None
        p1, p2 = np.radians(lat), np.radians(self.array[:, 0].astype(np.float64))
        dl = np.radians(self.array[:, 1].astype(np.float64) - lon)
        a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        km = 2 * EARTH_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        i = int(np.argmin(km))
        label = self.labels[i] if i < len(self.labels) else ""
        return {"label": label, "km": round(float(km[i]), 1), "approximate": bool(self.array[i, 2])}


def _approximate(loc: dict) -> tuple[float, float] | None:
    from ..geo import site_point

    def text(key: str) -> str | None:
        v = loc.get(key)
        return v if isinstance(v, str) else None

    return site_point(text("city"), text("state"), text("zip"), text("country"))


def _display_title(record: dict) -> str:
    from ..record import RecordError, display_title, validate

    try:
        return display_title(validate(record))
    except RecordError:
        nct = ((record.get("protocolSection") or {}).get("identificationModule") or {}).get("nctId")
        return f"Untitled study {nct}"


def hit_data(doc: tantivy.Document) -> dict[str, Any]:
    raw = doc.get_first("hit")
    return orjson.loads(raw) if raw else {}


# -- Essie pieces: AREA[piece], RANGE, MISSING and SEARCH[Location] (trialscope.essie) ------
# Every indexed piece of `essie.areas.PIECES`, by type: text pieces in one JSON field keyed by
# piece name, each value between two sentinel words so COVERAGE[FullMatch|StartsWith|EndsWith]
# are phrases (and no phrase spans two values); enums and booleans exact in a raw JSON field;
# dates (YYYYMMDD), numbers and ages (days) in one integer field per piece; the names of the
# pieces a study has (for MISSING); and each site's parts, stored, for SEARCH[Location].
PIECE_TEXT, PIECE_KEY, PIECE_SITES = "pieces", "pkey", "sites"
PRESENT_KEY = "_present"  # pkey._present: the names of the pieces a study has (MISSING)
# long texts without a full-text field of their own (citations: a third of all piece words),
# indexed without positions: words, not phrases
PIECE_LONG = "pieces_long"
OWN_FIELD = {"BriefSummary": "summary", "DetailedDescription": "descr", "EligibilityCriteria": "elig"}
VALUE_START, VALUE_END = "qqbos", "qqeos"  # sentinel words around each text value
MAX_PIECE_VALUES = 2000  # values kept per piece and study (a study may list thousands of sites)


def number_field(piece_name: str) -> str:
    return "n_" + piece_name


def size_field(piece_name: str) -> str:
    """How many values a list piece has in a study (AREA[Phase:size]), when two or more."""
    return "z_" + piece_name


def add_piece_fields(sb: tantivy.SchemaBuilder) -> None:
    from ..essie.areas import PIECES

    sb.add_json_field(PIECE_TEXT, tokenizer_name="en", index_option="position")
    sb.add_json_field(PIECE_LONG, tokenizer_name="en", index_option="freq")
    sb.add_json_field(PIECE_KEY, tokenizer_name="raw", index_option="basic")
    sb.add_bytes_field(PIECE_SITES, stored=True)
    for p in PIECES.values():
        if p.type in ("date", "number", "age"):
            sb.add_integer_field(number_field(p.name), indexed=True)
        if p.indexed and p.is_list:
            sb.add_integer_field(size_field(p.name), indexed=True)


def piece_values(record: dict, path: str) -> list:
    """The values at a dotted path; lists are crossed (and flattened) transparently."""
    nodes = [record]
    for key in path.split("."):
        nxt = []
        for n in nodes:
            v = n.get(key) if isinstance(n, dict) else None
            if isinstance(v, list):
                nxt.extend(v)
            elif v is not None:
                nxt.append(v)
        nodes = nxt
        if not nodes:
            return []
    return [v for v in nodes if v is not None and v != ""][:MAX_PIECE_VALUES]


def piece_number(kind: str, value) -> int | None:
    """A date, number or age as the integer its field holds (None if unreadable)."""
    if kind == "date":
        n = date_int(str(value))
        return n or None
    if kind == "age":
        days = _age(str(value))
        return None if days is None else round(days)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(str(value)))
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _piece_trie() -> dict:
    """The indexed pieces' paths as a tree of keys: {key: (subtree, [pieces ending here])}."""
    from ..essie.areas import PIECES

    root: dict = {}
    for p in PIECES.values():
        if not p.indexed:
            continue
        node, keys = root, p.path.split(".")
        for i, key in enumerate(keys):
            sub, ends = node.setdefault(key, ({}, []))
            if i == len(keys) - 1:
                ends.append(p.name)
            node = sub
    return root


def _walker_source(trie: dict) -> str:
    """Python source of a function that reads every piece of a record in one pass: straight-line
    `.get` chains over the paths' tree (lists crossed), several times faster than walking the
    tree generically for each study."""
    lines = ["def walk(record):", "    out = {}"]
    counter = iter(range(10**6))

    def emit(node: dict, var: str, depth: int) -> None:
        pad = "    " * depth
        for key, (sub, ends) in node.items():
            v = f"v{next(counter)}"
            lines.append(f"{pad}{v} = {var}.get({key!r})")
            lines.append(f"{pad}if {v} is not None:")
            for name in ends:
                lines.append(f"{pad}    (out.setdefault({name!r}, []).extend if type({v}) is list "
                             f"else out.setdefault({name!r}, []).append)({v})")
            if sub:
                item = f"i{next(counter)}"
                lines.append(f"{pad}    for {item} in ({v} if type({v}) is list else ({v},)):")
                lines.append(f"{pad}        if type({item}) is dict:")
                emit(sub, item, depth + 3)

    lines.append("    if type(record) is dict:")
    emit(trie, "record", 2)
    lines.append("    return out")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def _walker():
    scope: dict = {}
    exec(compile(_walker_source(_piece_trie()), "<essie pieces walker>", "exec"), scope)  # noqa: S102
    return scope["walk"]


@lru_cache(maxsize=1)
def _piece_kinds() -> dict[str, tuple[str, bool]]:
    """piece name -> (how its values are indexed, whether it counts its values)."""
    from ..essie.areas import PIECES

    kinds = {}
    for p in PIECES.values():
        kind = p.type
        if kind == "markup":
            kind = "own" if p.name in OWN_FIELD else "long"
        elif kind in ("date", "number", "age"):
            kind = "int:" + kind
        elif kind == "boolean":
            kind = "enum"
        kinds[p.name] = (kind, p.is_list)
    return kinds


def add_pieces(doc: Fields, record: dict, overall_status: str | None = None) -> None:
    """`overall_status`: the effective status (`trust.effective_status`), which AREA[OverallStatus]
    matches, as the status filter and facet do; the stored record keeps what was ingested."""
    found = _walker()(record)
    if "hasResults" not in record:
        found["HasResults"] = [bool(record.get("resultsSection"))]
    if overall_status:
        found["OverallStatus"] = [overall_status]
    kinds = _piece_kinds()
    texts: dict[str, list[str]] = {}
    longs: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    present: list[str] = []
    for name, values in found.items():
        # each distinct value once (500 sites in one country are one country); counts count all
        try:
            uniq = dict.fromkeys(values)
        except TypeError:  # an object where a value was expected: skipped
            uniq = dict.fromkeys(v for v in values if isinstance(v, (str, int, float)))
        uniq.pop("", None)
        if not uniq:
            continue
        distinct = list(uniq)
        kind, is_list = kinds[name]
        present.append(name)
        if is_list and len(values) > 1:  # one value: present and no count
            doc.add_integer(size_field(name), min(len(values), MAX_PIECE_VALUES))
        distinct = distinct[:MAX_PIECE_VALUES]
        if kind == "text":
            texts[name] = [f"{VALUE_START} {v} {VALUE_END}" for v in distinct]
        elif kind == "enum":
            keys[name] = list(dict.fromkeys(str(v).lower() if isinstance(v, bool) else str(v).upper()
                                            for v in distinct))
        elif kind == "long":
            longs[name] = [v for v in distinct if isinstance(v, str)]
        elif kind.startswith("int:"):
            for v in distinct:
                n = piece_number(kind[4:], v)
                if n is not None:
                    doc.add_integer(number_field(name), n)
    if texts:
        doc.add_json(PIECE_TEXT, texts)
    if longs:
        doc.add_json(PIECE_LONG, longs)
    keys[PRESENT_KEY] = present
    doc.add_json(PIECE_KEY, keys)
    locs = ((record.get("protocolSection") or {}).get("contactsLocationsModule") or {}).get("locations") or ()
    sites = [[loc.get(k) for k in SITE_PARTS] for loc in locs if isinstance(loc, dict)]
    if sites:
        doc.add_bytes(PIECE_SITES, orjson.dumps(sites[:MAX_PIECE_VALUES]))


# the parts of one site, in the order `sites` stores them (essie.areas.GROUPS["Location"])
SITE_PARTS = ("facility", "status", "city", "state", "zip", "country")

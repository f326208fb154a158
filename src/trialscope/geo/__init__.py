"""Offline places: a shipped gazetteer (GeoNames cities of 1,000+ people, US ZIP codes) for
geocoding what people type ("Chicago, IL", "60611", "Lyon, France", "41.88,-87.63") and the
registry's site addresses (city, state, ZIP, country) that come without coordinates.

Nothing is fetched: the data is in `trialscope/data/geo/` (see its README for sources and
licences), loaded once per process on first use.
"""

from __future__ import annotations

import bisect
import gzip
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

from .regions import COUNTRY_ALIASES, US_STATES

__all__ = ["Place", "PlaceError", "geocode", "parse_near", "site_point", "suggest"]

_COORDS = re.compile(r"^\s*([-+]?\d{1,2}(?:\.\d+)?)\s*[,; ]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
_ZIP = re.compile(r"^\s*(\d{5})(?:-\d{4})?\s*$")
_DIST = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km|mi|miles?)?\s*$", re.I)


class PlaceError(ValueError):
    """A place that cannot be found (or read); the message says what was tried."""


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    name: str
    region: str | None
    country: str | None  # ISO 3166 alpha-2
    kind: str  # "city", "postal_code" or "point"

    @property
    def label(self) -> str:
        if self.kind == "point":
            return f"{self.lat:.4f}, {self.lon:.4f}"
        parts = [self.name]
        if self.region and self.region != self.name:
            parts.append(self.region)
        if self.country and self.country != "US" or not self.region:
            parts.append(_gazetteer().country_names.get(self.country or "", self.country or ""))
        return ", ".join(p for p in parts if p)

    def as_json(self) -> dict:
        return {**asdict(self), "label": self.label}


def fold(text: str) -> str:
    """Lower case, accents and punctuation off: the key places are matched on."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"\bst\.?(?=\s)", "saint", text)
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


class Gazetteer:
    """The loaded data: cities by folded name (alternate names included), countries, ZIPs.

    Lines are parsed on use, so loading 170,000 places stays a few tenths of a second."""

    def __init__(self) -> None:
        base = resources.files("trialscope") / "data" / "geo"

        def lines(name: str) -> list[str]:
            with gzip.open(base.joinpath(name).open("rb"), "rt", encoding="utf-8") as fh:
                return fh.read().splitlines()

        self.rows = lines("cities.tsv.gz")  # name, region, cc, lat, lon, population
        self.by_key: dict[str, str] = dict(line.split("\t", 1) for line in lines("keys.tsv.gz"))
        self.country_names: dict[str, str] = {}
        self.country_by_key: dict[str, str] = {}
        for line in lines("countries.tsv.gz"):
            cc, name = line.split("\t")
            self.country_names[cc] = name
            self.country_by_key[fold(name)] = cc
            self.country_by_key[cc.lower()] = cc
        for alias, cc in COUNTRY_ALIASES.items():
            self.country_by_key[fold(alias)] = cc
        self.zips: dict[str, str] = dict(line.split("\t", 1) for line in lines("us_zips.tsv.gz"))
        self._prefix: list[tuple[str, int]] | None = None
        self.prefix_keys: list[str] = []

    @lru_cache(maxsize=100_000)  # noqa: B019 (one gazetteer per process)
    def row(self, i: int) -> tuple[str, str, str, float, float, int]:
        name, region, cc, lat, lon, pop = self.rows[i].split("\t")
        return name, region, cc, float(lat), float(lon), int(pop)

    def zip_code(self, code: str) -> tuple[str, str, float, float] | None:
        line = self.zips.get(code)
        if line is None:
            return None
        city, state, lat, lon = line.split("\t")
        return city, state, float(lat), float(lon)

    @property
    def prefix(self) -> list[tuple[str, int]]:
        """Suggestions: the folded primary names of places of 5,000+ people, sorted."""
        if self._prefix is None:
            out = []
            for i in range(len(self.rows)):
                name, *_, pop = self.row(i)
                if pop < 5000:
                    break  # rows are most populous first
                out.append((fold(name), i))
            out.sort()
            self.prefix_keys = [k for k, _ in out]
            self._prefix = out
        return self._prefix

    def country(self, text: str | None) -> str | None:
        return self.country_by_key.get(fold(text)) if text else None

    def city(self, name: str, region: str | None = None, cc: str | None = None) -> int | None:
        """The most populous place of that name (in that region / country when given; a
        region that matches none of them is ignored)."""
        ids = self.by_key.get(fold(name))
        if not ids:
            return None
        region_key = ""
        if region:
            if cc in (None, "US"):
                region = US_STATES.get(region.strip().upper(), region)
            region_key = fold(region)
        best = None
        for i in map(int, ids.split(",")):
            _, mine, where, *_ = self.row(i)
            if cc and where != cc:
                continue
            if not region_key:
                return i
            mine = fold(mine)
            if mine and (mine == region_key or mine.startswith(region_key) or region_key.startswith(mine)):
                return i
            if best is None:
                best = i
        return best

    def place(self, i: int) -> Place:
        name, region, cc, lat, lon, _ = self.row(i)
        return Place(lat, lon, name, region or None, cc, "city")


_lock = threading.Lock()
_loaded: Gazetteer | None = None


def _gazetteer() -> Gazetteer:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = Gazetteer()
    return _loaded


@lru_cache(maxsize=4096)
def geocode(text: str) -> Place:
    """A place from what a person types: coordinates, a US ZIP code, or "city[, region][,
    country]". Raises PlaceError when nothing matches."""
    text = (text or "").strip()
    if not text:
        raise PlaceError("no place given")
    if len(text) > 200:
        raise PlaceError("a place name is at most 200 characters")
    m = _COORDS.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise PlaceError(f"coordinates out of range in {text!r}: latitude -90..90, longitude -180..180")
        return Place(lat, lon, f"{lat:.4f}, {lon:.4f}", None, None, "point")
    gz = _gazetteer()
    m = _ZIP.match(text)
    if m:
        hit = gz.zip_code(m.group(1))
        if hit is None:
            raise PlaceError(f"unknown US ZIP code {m.group(1)!r}")
        city, state, lat, lon = hit
        return Place(lat, lon, m.group(1), f"{city}, {state}", "US", "postal_code")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    city, region, cc = parts[0], None, None
    if len(parts) == 2 and parts[1].upper() in US_STATES:  # "Chicago, IL" (not Israel)
        region, cc = parts[1], "US"
    elif len(parts) >= 2:
        cc = gz.country(parts[-1])
        if cc is None or len(parts) >= 3:
            region = parts[1]
    i = gz.city(city, region, cc)
    if i is None:
        raise PlaceError(f"no place called {text!r} in the gazetteer (cities of 1,000 people or "
                         "more, US ZIP codes, or coordinates such as 41.88,-87.63)")
    return gz.place(i)


def suggest(prefix: str, limit: int = 8) -> list[Place]:
    """Places whose name starts with `prefix` (most populous first); ZIP codes for digits."""
    prefix = (prefix or "").strip()[:100]
    if len(prefix) < 2:
        return []
    gz = _gazetteer()
    if prefix.isdigit():
        lo = bisect.bisect_left(_zip_keys(), prefix)
        out = []
        for z in _zip_keys()[lo:lo + limit]:
            if not z.startswith(prefix):
                break
            out.append(geocode(z))
        return out
    head, _, rest = prefix.partition(",")
    key = fold(head)
    if not key:
        return []
    prefix = gz.prefix
    lo = bisect.bisect_left(gz.prefix_keys, key)
    hi = bisect.bisect_left(gz.prefix_keys, key + "\uffff")
    ids = sorted(i for _, i in prefix[lo:hi])  # most populous first
    if rest.strip():
        r = fold(rest)

        def fits(i: int) -> bool:
            _, region, cc, *_ = gz.row(i)
            return (fold(region).startswith(r) or fold(gz.country_names.get(cc, "")).startswith(r)
                    or cc.lower() == r or cc == "US" and fold(_us_state_code(region)) == r)

        ids = [i for i in ids if fits(i)]
    return [gz.place(i) for i in ids[:limit]]


@lru_cache(maxsize=1)
def _zip_keys() -> list[str]:
    return sorted(_gazetteer().zips)


def _us_state_code(region: str) -> str:
    for code, name in US_STATES.items():
        if name == region:
            return code
    return ""


@lru_cache(maxsize=200_000)
def site_point(city: str | None, state: str | None, zip_code: str | None,
               country: str | None) -> tuple[float, float] | None:
    """Approximate (city-level) coordinates of a registry site, or None when not found."""
    gz = _gazetteer()
    cc = gz.country(country)
    if country and cc is None:
        return None
    if cc == "US" and zip_code:
        hit = gz.zip_code(zip_code.strip()[:5])
        if hit is not None:
            return hit[2], hit[3]
    if not city:
        return None
    i = gz.city(city, state, cc)
    if i is None and "," in city:  # "Shanghai, Shanghai" style cities
        i = gz.city(city.split(",")[0], state, cc)
    return gz.row(i)[3:5] if i is not None else None


def parse_near(text: str, default_km: float = 100.0) -> tuple[Place, float]:
    """CLI `--near`: "Chicago, IL", "60611,50km", "41.88,-87.63,100km", "Lyon, France, 30mi"."""
    text = (text or "").strip()
    km = default_km
    head, sep, tail = text.rpartition(",")
    m = _DIST.match(tail) if sep else None
    if m and (m.group(2) or _COORDS.match(head) or _ZIP.match(head)):
        value = float(m.group(1))
        km = value * 1.609344 if (m.group(2) or "km").lower().startswith("mi") else value
        text = head
    if not 0 < km <= 20000:
        raise PlaceError("the distance must be above 0 and at most 20,000 km")
    return geocode(text), km

"""Maps drawn on the server as SVG, offline: country outlines shipped in the package
(Natural Earth via world-atlas, `data/world/`, see scripts/build_world.py) and site points.

A site with the registry's own geoPoint is a filled dot; one placed by the gazetteer (city
level, approximate) is a ring. The projection is equirectangular, scaled by the cosine of
the view's middle latitude so small areas keep their shape.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources

import numpy as np
from markupsafe import Markup, escape

W, H = 640, 360
MAX_POINTS = 2000


@lru_cache(maxsize=2)
def _outlines(res: str) -> list[tuple[str, list[float], tuple[float, float, float, float]]]:
    """(country, flat ring, ring bbox) for every ring of the outline set."""
    path = resources.files("trialscope") / "data" / "world" / f"countries-{res}.json.gz"
    with gzip.open(path.open("rb"), "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    out = []
    for name, rings in data:
        for r in rings:
            xs, ys = r[0::2], r[1::2]
            out.append((name, r, (min(xs), min(ys), max(xs), max(ys))))
    return out


class View:
    """A lon/lat box fitted to the W x H frame."""

    def __init__(self, lon0: float, lat0: float, lon1: float, lat1: float):
        mid = max(-80.0, min(80.0, (lat0 + lat1) / 2))
        self.k = max(math.cos(math.radians(mid)), 0.2)
        # widen the box to the frame's aspect
        w, h = (lon1 - lon0) * self.k, lat1 - lat0
        if w / h < W / H:
            extra = (h * W / H / self.k - (lon1 - lon0)) / 2
            lon0, lon1 = lon0 - extra, lon1 + extra
        else:
            extra = ((lon1 - lon0) * self.k * H / W - h) / 2
            lat0, lat1 = lat0 - extra, lat1 + extra
        self.lon0, self.lat0, self.lon1, self.lat1 = lon0, lat0, lon1, lat1
        self.scale = W / (lon1 - lon0)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """A degree of latitude is 1/k times as long as one of longitude here."""
        return (lon - self.lon0) * self.scale, (self.lat1 - lat) * self.scale / self.k

    def span(self) -> float:
        return self.lon1 - self.lon0


def _fit(points: list[tuple[float, float]], min_span: float) -> View:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    pad_lat = max((lat1 - lat0) * 0.12, min_span / 2 - (lat1 - lat0) / 2, 0.05)
    pad_lon = max((lon1 - lon0) * 0.12, min_span / 2 - (lon1 - lon0) / 2, 0.05)
    lat0, lat1 = max(-85.0, lat0 - pad_lat), min(85.0, lat1 + pad_lat)
    lon0, lon1 = max(-180.0, lon0 - pad_lon), min(180.0, lon1 + pad_lon)
    return View(lon0, lat0, lon1, lat1)


@lru_cache(maxsize=2)
def _land_rings(res: str) -> tuple[list[str], np.ndarray]:
    """Each outline ring as path data in degrees (x = lon, y = -lat), and the rings' boxes
    as one array (lon0, lat0, lon1, lat1), built once: a map picks the rings in its box with
    one vectorised test (a Python loop over the 50m set cost ~2 ms a record page) and lets
    the SVG transform place them."""
    paths, boxes = [], []
    for _, ring, bbox in _outlines(res):
        d = "L".join(f"{ring[i]:.2f} {-ring[i + 1]:.2f}" for i in range(0, len(ring), 2))
        paths.append("M" + d + "Z")
        boxes.append(bbox)
    return paths, np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def warm_maps() -> None:
    """Build both outline sets now rather than on the first map a process draws."""
    for res in ("110m", "50m"):
        _land_rings(res)


def _land(view: View) -> str:
    res = "110m" if view.span() > 60 else "50m"
    rings, boxes = _land_rings(res)
    inside = ~((boxes[:, 2] < view.lon0) | (boxes[:, 0] > view.lon1)
               | (boxes[:, 3] < view.lat0) | (boxes[:, 1] > view.lat1))
    paths = [rings[i] for i in np.flatnonzero(inside)]
    if not paths:
        return ""
    # View.xy as a matrix: x = (lon - lon0) * scale, y = (lat1 - lat) * scale / k
    sx, sy = view.scale, view.scale / view.k
    return (f'<path class="land" vector-effect="non-scaling-stroke" '
            f'transform="matrix({sx:.6g} 0 0 {sy:.6g} {-sx * view.lon0:.6g} {sy * view.lat1:.6g})" '
            f'd="{"".join(paths)}"/>')


def _svg(view: View, body: list[str], title: str, desc: str, css: str) -> Markup:
    return Markup(
        f'<svg class="map {css}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="{css}-t {css}-d" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{css}-t">{escape(title)}</title>'
        f'<desc id="{css}-d">{escape(desc)}</desc><rect class="sea" width="{W}" height="{H}"/>'
        f'{_land(view)}{"".join(body)}</svg>')


def _dots(view: View, points: list[list], href=None) -> list[str]:
    out = []
    for p in points[:MAX_POINTS]:
        lat, lon, approx, label = p[0], p[1], p[2], p[3]
        if not (view.lat0 <= lat <= view.lat1 and view.lon0 <= lon <= view.lon1):
            continue
        x, y = view.xy(lon, lat)
        cls = "site approx" if approx else "site"
        dot = f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="4"><title>{escape(label)}' \
              f'{" (approximate: city-level)" if approx else ""}</title></circle>'
        link = href(p) if href else None
        out.append(f'<a href="{escape(link)}">{dot}</a>' if link else dot)
    return out


def study_map(locations: list[dict], record: dict | None = None) -> Markup | None:
    """One study's sites (None when none has a position)."""
    from ..index.fulltext import site_points

    points = site_points(locations)
    if not points:
        return None
    view = _fit([(p[0], p[1]) for p in points], min_span=6.0)
    approx = sum(1 for p in points if p[2])
    desc = f"{len(points)} site positions; {approx} placed at their city (approximate)."
    return _svg(view, _dots(view, points), "Map of the study's sites", desc, "study-map")


def search_map(hits, place=None, near: tuple[float, float, float] | None = None) -> Markup | None:
    """The sites of a page of search hits; with `near`, the search circle and its centre."""
    points: list[list] = []
    for h in hits:
        for p in h.sites or ():
            points.append([p[0], p[1], p[2], f"{h.nct_id}: {p[3]}", h.nct_id])
    if not points and near is None:
        return None
    if near is not None:
        lat, lon, km = near
        dlat = km / 111.2
        dlon = km / (111.2 * max(math.cos(math.radians(lat)), 0.05))
        view = _fit([(lat - dlat, lon - dlon), (lat + dlat, lon + dlon)], min_span=0.5)
    else:
        view = _fit([(p[0], p[1]) for p in points], min_span=6.0)
    body = []
    if near is not None:
        cx, cy = view.xy(near[1], near[0])
        rx = near[2] / 111.2 / max(math.cos(math.radians(near[0])), 0.05) * view.scale
        ry = near[2] / 111.2 * view.scale / view.k
        body.append(f'<ellipse class="radius" cx="{cx:.1f}" cy="{cy:.1f}" rx="{rx:.1f}" ry="{ry:.1f}"/>')
    body += _dots(view, points, href=lambda p: f"/study/{p[4]}#locations")
    if near is not None:
        cx, cy = view.xy(near[1], near[0])
        name = place.label if place is not None else "the point searched from"
        body.append(f'<path class="centre" d="M{cx - 7:.1f} {cy:.1f}h14M{cx:.1f} {cy - 7:.1f}v14">'
                    f'<title>{escape(name)}</title></path>')
    shown = len({p[4] for p in points})
    desc = f"Sites of the {shown} studies on this page" + (
        f", within {near[2]:.0f} km of {place.label if place else 'the point'}" if near else "") + "."
    return _svg(view, body, "Map of this page's study sites", desc, "search-map")

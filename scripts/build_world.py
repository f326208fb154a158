"""Build the shipped country outlines (src/trialscope/data/world/) for the offline maps.

Source: the npm package world-atlas 2.0.2 (ISC licence; the shapes are Natural Earth's
1:110m and 1:50m admin-0 countries, public domain). Get it without installing anything:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/build_world.py package/

Writes countries-110m.json.gz and countries-50m.json.gz: [[name, [ring, ...]], ...] with each
ring a flat [lon, lat, lon, lat, ...] list (the TopoJSON arcs decoded, rounded to 0.01°).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "trialscope" / "data" / "world"


def decode(topo: dict) -> list:
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((round(x * sx + tx, 2), round(y * sy + ty, 2)))
        arcs.append(pts)

    def ring(indexes: list[int]) -> list[float]:
        pts: list[tuple[float, float]] = []
        for i in indexes:
            arc = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(arc if not pts else arc[1:])
        flat: list[float] = []
        last = None
        for p in pts:
            if p != last:
                flat.extend(p)
                last = p
        return flat

    out = []
    for geom in topo["objects"]["countries"]["geometries"]:
        polys = geom.get("arcs") or []
        if geom["type"] == "Polygon":
            polys = [polys]
        rings = [ring(r) for poly in polys for r in poly]
        out.append([(geom.get("properties") or {}).get("name", ""), [r for r in rings if len(r) >= 6]])
    return out


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "package")
    OUT.mkdir(parents=True, exist_ok=True)
    for res in ("110m", "50m"):
        data = decode(json.loads((src / f"countries-{res}.json").read_text()))
        path = OUT / f"countries-{res}.json.gz"
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as fh:
            json.dump(data, fh, separators=(",", ":"))
        print(path.name, path.stat().st_size, len(data), "countries")


if __name__ == "__main__":
    main()

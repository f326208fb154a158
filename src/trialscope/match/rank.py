"""Ranking: one score per trial from what retrieval found and what eligibility says.

Candidates come in reciprocal-rank-fusion order (`retrieve`). The first `ASSESS` are
assessed criterion by criterion and re-ranked by a linear model (`Stage`) over named
features, standardised:

- `rrf`: the fused retrieval score (how many sources found the trial, how high);
- `cond`: how far the trial's condition MeSH terms overlap the patient's own conditions
  (diseases weigh 1, signs and symptoms 0.3, MeSH ancestors by depth, see
  `condition_weights`); `lex`: TF-IDF cosine of the note with the trial's key fields;
- `inf`: how strongly the note describes one of the trial's diseases (the best
  `retrieve.inferred_conditions` share among its condition terms, 0 when none is inferred);
- `a_*`: the assessment's own features (`Assessment.features`): the share of inclusion
  criteria met, of typed ones met, whether a criterion decisively excludes the patient,
  the overall verdict.

The weights are learned by `fit` (a logistic loss on whether each judged trial is relevant to
the topic, eligible or excluded, with a strong L2 shrinkage; numpy only) in
`scripts/train_match_ranker.py` on the shared dev collections, and shipped as a small JSON
file (`data/match/ranker.json`) that names its features: a feature a candidate lacks counts
as 0, one the model does not name is ignored. `benchmarks/match.py` reports topic-level
cross-validated figures for the same training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import orjson

from .retrieve import RRF_K, SOURCE_WEIGHTS, Candidate, Queries

# candidates assessed criterion by criterion and re-ranked; 100 measured the same (CV NDCG@10
# TREC 2022 0.545 vs 0.540, SIGIR 2016 0.288 vs 0.289) at twice the cost
ASSESS = 50
MODEL_FILE = "ranker.json"
# What the shipped model reads (chosen by cross-validation on the dev collections: the
# fusion score, condition overlap, wording, and the assessment's summary figures). Features of
# disease CONFLICT measured flat and left out (benchmarks/match.py's CV, 5 folds and 10
# shuffled splits, same run as these 8): the trial's most specific disease a MeSH sibling of
# the patient's (shares an ancestor two or more levels deep, neither is the other's ancestor),
# a second disease the patient neither has nor is read to have, a disease more specific or
# more general than the patient's: TREC 2022 P@10 within -0.001..+0.003 over the splits, SIGIR
# 2016 NDCG@10 within -0.002..+0.004. Of the off-topic (grade 0) trials in the judged top ten, most
# are filed under a disease the patient has or is read to have (145 of 248), few under a
# sibling (9) or an unrelated one (7): what conflicts is the patient's disease list itself.
FEATURES = ["rrf", "cond", "lex", "inf", "a_incl_met_frac", "a_typed_incl_met_frac", "a_decisive", "a_eligible"]
RELEVANT = 1  # the grade from which `fit` counts a judged trial relevant: excluded (1) or eligible (2)
L2 = 300.0


# --- features ---------------------------------------------------------------------------------
@dataclass
class Patient:
    """What the features compare a trial with, computed once per note."""

    conditions: dict[str, float]  # the patient's own conditions and their MeSH ancestors, weighted
    lexical_query: tuple | None  # trialscope.similar.Lexical.query of the note
    inferred: dict[str, float] | None = None  # index.conditions: the diseases the note describes


def patient_of(queries: Queries, text: str, lexical) -> Patient:
    from .retrieve import clean_text, token_features

    q = lexical.query(token_features(clean_text(text))) if lexical is not None else None
    return Patient(conditions=condition_weights(queries.cond), lexical_query=q, inferred=dict(queries.inferred))


def condition_weights(conds: list[tuple[str, float]]) -> dict[str, float]:
    """Each condition at its weight, its MeSH ancestors at the See-also weighting (0.12 per
    tree level, at most 0.6) times that: what a trial's condition terms are compared with."""
    from ..index.features import COND_ANCESTOR_MAX, COND_ANCESTOR_STEP, _weighted_cached

    out: dict[str, float] = {}
    for name, w in conds:
        for k, v in _weighted_cached((name,), COND_ANCESTOR_STEP, COND_ANCESTOR_MAX).items():
            if out.get(k, 0.0) < v * w:
                out[k] = v * w
    return out


def retrieval_features(cands: list[Candidate], patient: Patient, lexical) -> list[dict[str, float]]:
    """Each candidate's retrieval features (name -> value)."""
    from ..similar import _overlap

    lex = np.zeros(len(cands))
    with_feats = [i for i, c in enumerate(cands) if c.features is not None]
    if lexical is not None and patient.lexical_query is not None and with_feats:
        lex[with_feats] = lexical.cosines(patient.lexical_query, [cands[i].features for i in with_feats])
    scale = (RRF_K + 1) / sum(SOURCE_WEIGHTS.values())  # 1.0 = first in every source
    out = []
    for c, lx in zip(cands, lex.tolist(), strict=True):
        f = {"rrf": c.fused * scale, "lex": lx, "emb": max(0.0, c.emb)}
        if c.features is not None and patient.conditions and c.features.c:
            f["cond"] = _overlap(patient.conditions, c.features.cw)
        if c.features is not None and patient.inferred and c.features.c:
            f["inf"] = max((patient.inferred.get(t, 0.0) for t in c.features.c), default=0.0)
        out.append(f)
    return out


def eligibility_features(assessment) -> dict[str, float]:
    """The assessment's own features, prefixed `a_`; {} without an assessment."""
    if assessment is None:
        return {}
    return {"a_" + k: float(v) for k, v in assessment.features.items()}


# --- the model --------------------------------------------------------------------------------
@dataclass
class Stage:
    """score = sum(w_i * (x_i - mean_i) / scale_i) over the named features."""

    names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    about: dict | None = None

    def matrix(self, rows: list[dict[str, float]]) -> np.ndarray:
        X = np.zeros((len(rows), len(self.names)))
        index = {n: i for i, n in enumerate(self.names)}
        for r, row in enumerate(rows):
            for k, v in row.items():
                i = index.get(k)
                if i is not None:
                    X[r, i] = v
        return X

    def score(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        return ((self.matrix(rows) - self.mean) / self.scale) @ self.weights

    def as_json(self) -> dict:
        return {"about": self.about or {}, "features": [
            {"name": n, "mean": round(float(m), 6), "scale": round(float(s), 6), "weight": round(float(w), 6)}
            for n, m, s, w in zip(self.names, self.mean, self.scale, self.weights, strict=True)]}

    @classmethod
    def from_json(cls, d: dict) -> Stage:
        feats = d["features"]
        return cls([f["name"] for f in feats], np.array([f["mean"] for f in feats]),
                   np.array([f["scale"] for f in feats]), np.array([f["weight"] for f in feats]),
                   d.get("about") or {})


@cache
def shipped_model() -> Stage:
    """The model trained by scripts/train_match_ranker.py, shipped in the package."""
    data = (resources.files("trialscope") / "data" / "match" / MODEL_FILE).read_bytes()
    return Stage.from_json(orjson.loads(data))


def fit(groups: list[tuple[list[dict[str, float]], list[int]]], names: list[str] = FEATURES,
        l2: float = L2, iterations: int = 1000, rate: float = 0.5) -> Stage:
    """A linear ranker from judged groups (one per topic: feature rows and their grades).

    Loss: the logistic loss of "relevant" (grade >= RELEVANT) over every judged row, plus
    l2 / 2 * |w|^2 (the intercept is free); features are standardised over all rows first.
    The strong shrinkage keeps each weight near that feature's own correlation with
    relevance: with ~770 judged rows from 109 topics, a fit that also learns how the
    features make up for each other learns the dev topics' accidents.

    Measured against the loss it replaced (the logistic loss of each topic's pairs with
    different grades, weighed by their grade gap, pulled towards the fusion order):
    benchmarks/match.py, same run, ranker cross-validated by topic, on its folds TREC 2022
    P@10 0.368 -> 0.378, NDCG@10 0.631 -> 0.621, SIGIR 2016 NDCG@10 0.316 -> 0.322; averaged
    over ten shuffled fold splits P@10 0.3674 -> 0.3770 (better on 9 of 10, equal on 1),
    NDCG@10 0.633 -> 0.630, SIGIR 0.317 -> 0.322. An l2 from 100 to 1000 measures alike;
    chosen by an inner CV within each training fold (nested), the gain holds at +0.006 to
    +0.007 P@10. Measured worse, as split means over the pairwise loss (this one: +0.010
    P@10): learning "eligible" (grade 2) alone +0.003 (NDCG@10 -0.012), both grades as one
    ordinal scale +0.007 (-0.009), grade 1 as a soft label 0.25 to 0.75 +0.002 to +0.009, a
    second head for "eligible if relevant" multiplied in +0.006 to +0.009, and the pairwise
    loss added back (combined regression and ranking) +0.001 to +0.009, less the more it
    weighs. With these features the trials of another topic are what can be told apart, and
    the eligible trials are most of the relevant ones, so the eligibility features keep
    their weight.
    """
    probe = Stage(list(names), np.zeros(len(names)), np.ones(len(names)), np.zeros(len(names)))
    mats = [probe.matrix(rows) for rows, _ in groups]
    allx = np.vstack(mats) if mats else np.zeros((0, len(names)))
    w = np.zeros(len(names))
    if not len(allx):
        return Stage(list(names), np.zeros(len(names)), np.ones(len(names)), w)
    mean, scale = allx.mean(axis=0), allx.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (allx - mean) / scale
    y = np.concatenate([np.asarray(grades) >= RELEVANT for _, grades in groups]).astype(float)
    n = len(y)
    share = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
    b = float(np.log(share / (1 - share)))
    step = rate / (1.0 + l2 / n)  # stable however strong the shrinkage
    for _ in range(iterations):
        r = 1.0 / (1.0 + np.exp(-np.clip(z @ w + b, -30, 30))) - y
        w -= step * (z.T @ r + l2 * w) / n
        b -= step * float(r.mean())
    return Stage(list(names), mean, scale, w)


def rerank(rows: list[dict[str, float]], model: Stage) -> tuple[list[int], np.ndarray]:
    """Positions best first by the model's score (ties keep the fused order), and the scores."""
    scores = model.score(rows)
    return sorted(range(len(rows)), key=lambda i: (-scores[i], i)), scores

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

The weights are learned by `fit` (a pairwise logistic loss over each topic's judged trials,
each pair weighing its grade gap, regularised towards the fusion order itself, numpy only) in `scripts/train_match_ranker.py`
on the shared dev collections, and shipped as a small JSON file (`data/match/ranker.json`)
that names its features: a feature a candidate lacks counts as 0, one the model does not
name is ignored. `benchmarks/match.py` reports topic-level cross-validated figures for the
same training.
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
# fusion score, condition overlap, wording, and the assessment's summary figures).
FEATURES = ["rrf", "cond", "lex", "inf", "a_incl_met_frac", "a_typed_incl_met_frac", "a_decisive", "a_eligible"]
PRIOR = {"rrf": 1.0}  # the model fit starts from, and is pulled towards: the fusion order
L2 = 0.03


def grade_gap(better: np.ndarray, worse: np.ndarray) -> np.ndarray:
    """A pair's weight in `fit`: how far apart its grades are, the gain NDCG (linear gains)
    loses when the two swap. An eligible trial under a trial for another disease (2, 0)
    weighs twice an eligible one under an excluded one (2, 1). Against every pair weighing
    the same (benchmarks/match.py, same run, ranker cross-validated): on its folds TREC 2022
    NDCG@10 0.633 -> 0.636, P@10 0.346 -> 0.350, SIGIR 2016 0.3148 -> 0.3145; averaged over
    ten shuffled fold splits +0.000, +0.001 and -0.000: the objective the metrics ask for,
    at no measurable cost or gain."""
    return (better - worse).astype(float)


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
        l2: float = L2, prior: dict[str, float] = PRIOR, iterations: int = 400, rate: float = 0.5,
        pair_weight=grade_gap) -> Stage:
    """A linear ranker from judged groups (one per topic: feature rows and their grades).

    Loss: the logistic loss of every pair of a topic's trials with different grades (the
    better one should score higher), each pair weighing `pair_weight(better grade, worse
    grade)` (arrays in, weights out) within its topic and each topic weighing the same, plus
    l2 * |w - w0|^2, where w0 is `prior` (by default the fusion score alone: with little
    data the model stays close to the retrieval order). Features are standardised over all
    rows first.
    """
    probe = Stage(list(names), np.zeros(len(names)), np.ones(len(names)), np.zeros(len(names)))
    mats = [probe.matrix(rows) for rows, _ in groups]
    allx = np.vstack(mats) if mats else np.zeros((0, len(names)))
    mean = allx.mean(axis=0) if len(allx) else np.zeros(len(names))
    scale = allx.std(axis=0) if len(allx) else np.ones(len(names))
    scale[scale < 1e-9] = 1.0
    w0 = np.array([prior.get(n, 0.0) for n in names])
    w = w0.copy()
    diffs, weights = [], []
    for m, (_, grades) in zip(mats, groups, strict=True):
        y = np.asarray(grades)
        i, j = np.nonzero(y[:, None] > y[None, :])
        if len(i):
            z = (m - mean) / scale
            pw = np.asarray(pair_weight(y[i], y[j]), dtype=float)
            if pw.sum() <= 0:
                continue
            diffs.append(z[i] - z[j])
            weights.append(pw / pw.sum())
    if diffs:
        D = np.vstack(diffs)
        pw = np.concatenate(weights)
        pw /= pw.sum()
        step = rate / (1.0 + 2 * l2)  # stable however strong the pull to the prior
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(np.clip(D @ w, -30, 30)))
            w -= step * (-(D * (p * pw)[:, None]).sum(axis=0) + 2 * l2 * (w - w0))
    return Stage(list(names), mean, scale, w)


def rerank(rows: list[dict[str, float]], model: Stage) -> tuple[list[int], np.ndarray]:
    """Positions best first by the model's score (ties keep the fused order), and the scores."""
    scores = model.score(rows)
    return sorted(range(len(rows)), key=lambda i: (-scores[i], i)), scores

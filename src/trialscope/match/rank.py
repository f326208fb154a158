"""Ranking: one score per candidate from what retrieval found and what eligibility says.

Two stages, each a linear function of named features (`Model`):

1. `retrieval` ranks every candidate from cheap features: its rank in each source, the
   BM25 scores, embedding and TF-IDF similarity to the note, how far its condition MeSH
   terms overlap the patient's, and how specific its population is to the patient;
2. `eligibility` re-ranks the first `ASSESS` of those with the same features plus the
   criterion-by-criterion assessment (`Assessment.features`: criteria met, failed,
   unknown, decisive exclusions ...).

The weights are learned (`fit`: a pairwise logistic loss over the judged trials of each
topic, L2-regularised, numpy only) by `scripts/train_match_ranker.py` on the shared dev
collections, and shipped as a small JSON file (`data/match/ranker.json`) that names its
features, so a feature the model does not know is ignored and one it knows but a candidate
lacks counts as 0. `benchmarks/match.py` reports topic-level cross-validated figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import orjson

from .retrieve import SOURCE_WEIGHTS, Candidate, Queries

ASSESS = 100  # candidates assessed criterion by criterion and re-ranked
MAX_AGE_YEARS = 120.0
MODEL_FILE = "ranker.json"
BM25_SOURCES = ("note", "brief", "cond", "key", "intr")


# --- features ---------------------------------------------------------------------------------
@dataclass
class Patient:
    """What the features compare a trial with, derived once per note."""

    age: float | None
    sex: str | None  # "female" / "male"
    conditions: dict[str, float]  # the patient's own conditions and their MeSH ancestors, weighted
    treatments: frozenset[str]
    lexical_query: tuple | None  # trialscope.similar.Lexical.query of the note


def patient_of(facts, queries: Queries, text: str, lexical) -> Patient:
    from ..similar import text_features
    from .retrieve import clean_text

    q = None
    if lexical is not None:
        q = lexical.query(text_features(clean_text(text)[:20_000]))
    return Patient(age=facts.age, sex=facts.sex,
                   conditions=condition_weights(queries.cond), treatments=frozenset(queries.intr),
                   lexical_query=q)


def condition_weights(conds: list[tuple[str, float]]) -> dict[str, float]:
    """Each condition at its weight, its MeSH ancestors at the See-also weighting (0.12 per
    tree level, at most 0.6) times that: what a trial's condition terms are compared with."""
    from ..similar import COND_ANCESTOR_MAX, COND_ANCESTOR_STEP, _weighted_cached

    out: dict[str, float] = {}
    for name, w in conds:
        for k, v in _weighted_cached((name,), COND_ANCESTOR_STEP, COND_ANCESTOR_MAX).items():
            if out.get(k, 0.0) < v * w:
                out[k] = v * w
    return out


def retrieval_features(cands: list[Candidate], patient: Patient, lexical) -> list[dict[str, float]]:
    """The stage-1 features of every candidate (a dict of name -> value each)."""
    from ..similar import _overlap

    lex = np.zeros(len(cands))
    with_feats = [i for i, c in enumerate(cands) if c.features is not None]
    if lexical is not None and patient.lexical_query is not None and with_feats:
        lex[with_feats] = lexical.cosines(patient.lexical_query, [cands[i].features for i in with_feats])
    top = {s: max((c.scores[s] for c in cands if s in c.scores), default=0.0) for s in BM25_SOURCES}
    out = []
    for c, lx in zip(cands, lex.tolist(), strict=True):
        f: dict[str, float] = {"rrf": c.fused * (60 + 1) / sum(SOURCE_WEIGHTS.values())}
        for s in SOURCE_WEIGHTS:
            r = c.ranks.get(s)
            f["r_" + s] = 1.0 / math.log2(1 + r) if r else 0.0
        for s in BM25_SOURCES:
            if top[s] > 0 and s in c.scores:
                f["s_" + s] = c.scores[s] / top[s]
        f["emb"] = max(0.0, c.emb)
        f["lex"] = lx
        feats = c.features
        if feats is not None:
            if patient.conditions and feats.c:
                f["cond"] = _overlap(patient.conditions, feats.cw)
                f["cond_exact"] = max((patient.conditions.get(t, 0.0) for t in feats.c), default=0.0)
            f["cond_none"] = 0.0 if feats.c else 1.0
            f["cond_derived"] = 1.0 if feats.cd else 0.0
            lo, hi = feats.ag
            f["age_span"] = max(0.0, hi - lo) / MAX_AGE_YEARS
            f["age_bounded"] = (lo > 0) + (hi < MAX_AGE_YEARS) * 1.0
            if patient.sex and feats.sx in ("FEMALE", "MALE"):
                f["sex_specific"] = 1.0 if feats.sx == patient.sex.upper() else -1.0
            if patient.treatments and feats.iv:
                f["intr_shared"] = 1.0 if patient.treatments & set(feats.iv) else 0.0
            f["interventional"] = 1.0 if feats.st == "INTERVENTIONAL" else 0.0
        out.append(f)
    return out


def eligibility_features(assessment) -> dict[str, float]:
    """The assessment's own features, prefixed (`a_incl_met`, ...); {} without one."""
    if assessment is None:
        return {}
    feats = getattr(assessment, "features", None) or {}
    out = {}
    for k, v in feats.items():
        try:
            out["a_" + k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


# --- the model --------------------------------------------------------------------------------
@dataclass
class Stage:
    """score = sum(w_i * (x_i - mean_i) / scale_i) over the named features."""

    names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

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
        return {"features": [
            {"name": n, "mean": round(float(m), 6), "scale": round(float(s), 6), "weight": round(float(w), 6)}
            for n, m, s, w in zip(self.names, self.mean, self.scale, self.weights, strict=True)]}

    @classmethod
    def from_json(cls, d: dict) -> Stage:
        feats = d["features"]
        return cls([f["name"] for f in feats], np.array([f["mean"] for f in feats]),
                   np.array([f["scale"] for f in feats]), np.array([f["weight"] for f in feats]))


@dataclass
class Model:
    retrieval: Stage
    eligibility: Stage
    about: dict

    def as_json(self) -> dict:
        return {"about": self.about, "retrieval": self.retrieval.as_json(),
                "eligibility": self.eligibility.as_json()}

    @classmethod
    def from_json(cls, d: dict) -> Model:
        return cls(Stage.from_json(d["retrieval"]), Stage.from_json(d["eligibility"]), d.get("about") or {})


@cache
def shipped_model() -> Model:
    """The model trained by scripts/train_match_ranker.py, shipped in the package."""
    data = (resources.files("trialscope") / "data" / "match" / MODEL_FILE).read_bytes()
    return Model.from_json(orjson.loads(data))


# --- training ---------------------------------------------------------------------------------
def fit(groups: list[tuple[list[dict[str, float]], list[int]]], names: list[str] | None = None,
        l2: float = 0.01, iterations: int = 400, rate: float = 0.5) -> Stage:
    """A linear ranker from judged groups (one per topic: feature rows and their grades).

    Loss: the logistic loss of every pair of a topic's trials with different grades (the
    better one should score higher), each topic weighing the same, plus l2 * |w|^2.
    Features are standardised over all rows first; plain gradient descent (the problem is
    convex and small).
    """
    if names is None:
        names = sorted({k for rows, _ in groups for row in rows for k in row})
    probe = Stage(names, np.zeros(len(names)), np.ones(len(names)), np.zeros(len(names)))
    mats = [probe.matrix(rows) for rows, _ in groups]
    allx = np.vstack([m for m in mats if len(m)]) if mats else np.zeros((0, len(names)))
    mean = allx.mean(axis=0) if len(allx) else np.zeros(len(names))
    scale = allx.std(axis=0) if len(allx) else np.ones(len(names))
    scale[scale < 1e-9] = 1.0
    diffs, weights = [], []
    for m, (_, grades) in zip(mats, groups, strict=True):
        y = np.asarray(grades)
        i, j = np.nonzero(y[:, None] > y[None, :])
        if len(i):
            z = (m - mean) / scale
            diffs.append(z[i] - z[j])
            weights.append(np.full(len(i), 1.0 / len(i)))
    w = np.zeros(len(names))
    if diffs:
        D = np.vstack(diffs)
        pw = np.concatenate(weights)
        pw /= pw.sum()
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(np.clip(D @ w, -30, 30)))
            grad = -(D * (p * pw)[:, None]).sum(axis=0) + 2 * l2 * w
            w -= rate * grad
    return Stage(list(names), mean, scale, w)


def rank(cands: list[Candidate], rows: list[dict[str, float]], stage: Stage) -> list[int]:
    """Candidate positions, best first, by the stage's score (ties: the fused order)."""
    scores = stage.score(rows)
    return sorted(range(len(cands)), key=lambda i: (-scores[i], i))

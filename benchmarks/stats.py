"""Statistics the benchmarks share."""

from __future__ import annotations

import numpy as np


def paired_ci(a: list[float], b: list[float], rounds: int = 2000) -> list[float]:
    """95% paired-bootstrap interval of mean(a - b) over topics or targets (seeded: reproducible)."""
    d = np.asarray(a) - np.asarray(b)
    if not len(d):
        return [0.0, 0.0]
    idx = np.random.default_rng(0).integers(0, len(d), size=(rounds, len(d)))
    means = d[idx].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]

"""Confident learning on out-of-fold probabilities: ``cleanlab.filter.find_label_issues``, ordinal-aware.

cleanlab estimates the joint distribution of given and true labels from held-out probabilities and
flags the pairs it believes are mislabelled. Grades are ordinal, and a 2-vs-3 disagreement is often
rater taste, not an error: a flag here also needs the suspected grade to lie at least
``min_distance`` from the given one — the top grade (``distance="argmax"``) or the expected grade
Σ k·p_k (``distance="expected"``). The probabilities must be out-of-fold (see
:func:`ecomrel.select.helpers.crossfit`): cleanlab's estimates assume the model never saw the pair.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def find_ordinal_label_issues(
    labels: np.ndarray,
    probs: np.ndarray,
    *,
    filter_by: str = "prune_by_noise_rate",
    min_distance: float = 1.0,
    distance: str = "argmax",
) -> pd.DataFrame:
    """One row per pair: ``cl_issue`` (cleanlab's flag), ``cl_flag`` (flag ∧ far enough),
    ``cl_suspected`` (the grade cleanlab's probabilities prefer over the given one), ``cl_distance`` and
    ``cl_label_quality`` (cleanlab's self-confidence, p(given label))."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    probs = np.clip(probs, 1e-12, None)
    probs = probs / probs.sum(axis=1, keepdims=True)
    k = probs.shape[1]
    issue = np.zeros(len(labels), dtype=bool)
    present = np.unique(labels)
    if len(labels) and len(present) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cleanlab warns about classes with few examples
            if len(present) < k:  # cleanlab needs every class among the labels: work on the present ones
                sub = probs[:, present]
                sub = sub / sub.sum(axis=1, keepdims=True)
                remap = {g: i for i, g in enumerate(present)}
                issue = find_label_issues(np.array([remap[g] for g in labels]), sub, filter_by=filter_by)
            else:
                issue = find_label_issues(labels, probs, filter_by=filter_by)
    quality = (
        get_label_quality_scores(labels, probs, method="self_confidence") if len(labels) else np.zeros(0)
    )
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -1.0
    suspected = others.argmax(axis=1) if len(labels) else np.zeros(0, dtype=int)
    if distance == "expected":
        dist = np.abs(probs @ np.arange(k) - labels)
    else:
        dist = np.abs(probs.argmax(axis=1) - labels).astype(float)
    flag = np.asarray(issue, dtype=bool) & (dist >= min_distance) & (probs.argmax(axis=1) != labels)
    return pd.DataFrame(
        {
            "cl_issue": np.asarray(issue, dtype=bool),
            "cl_flag": flag,
            "cl_suspected": suspected.astype(int),
            "cl_distance": dist,
            "cl_label_quality": np.asarray(quality, dtype=float),
        }
    )

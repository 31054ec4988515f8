"""Student predictions: grade probabilities and the prediction-file frame (``ecomrel eval`` reads it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def predict_proba(
    model: Any, queries: Sequence[str], products: Sequence[str], batch_size: int = 64
) -> np.ndarray:
    """(n, K) grade probabilities of a CrossEncoder student for (query, product text) pairs."""
    if not queries:
        return np.zeros((0, model.num_labels), dtype=np.float32)
    out = model.predict(
        list(zip(queries, products, strict=True)),
        batch_size=batch_size,
        apply_softmax=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32).reshape(len(queries), -1)


def prediction_frame(pairs: pd.DataFrame, probs: np.ndarray) -> pd.DataFrame:
    """The pairs (``query_id``, ``product_id``) as a prediction file: ``score`` = expected grade,
    ``pred_grade`` = argmax, ``p_0..p_{K-1}``, ``expected_grade``."""
    k = probs.shape[1]
    exp = probs @ np.arange(k)
    out = pd.DataFrame(
        {
            "query_id": pairs["query_id"].to_numpy(),
            "product_id": pairs["product_id"].to_numpy(),
            "score": exp.astype(float),
            "pred_grade": probs.argmax(1).astype(int),
        }
    )
    for i in range(k):
        out[f"p_{i}"] = probs[:, i].astype(float)
    out["expected_grade"] = exp.astype(float)
    return out

"""A sentence-transformers evaluator for the cross-encoder student, computing ecomrel's metrics.

:class:`GradeEvaluator` is what the distill trainer hands to ``CrossEncoderTrainer(evaluator=...)``
(or calls itself): it runs ``model.predict(pairs, apply_softmax=True)`` and scores the grade
probabilities through :func:`ecomrel.eval.array_metrics` — the same ``f1_macro``, ``ece``,
``ndcg@10``, ``recall_<grade>`` … as ``ecomrel eval``, never a second implementation.

The caller formats the product side (the student recipe's text), so this module depends on
nothing but sentence-transformers. It is not imported by ``ecomrel.eval`` itself.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ecomrel.eval.arrays import array_metrics
from ecomrel.grades import DEFAULT_SCALE, GradeScale

try:  # sentence-transformers ≥ 6 moved the base class; SentenceEvaluator is its old alias
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator as SentenceEvaluator
except ImportError:  # pragma: no cover - sentence-transformers 5.x
    from sentence_transformers.evaluation import SentenceEvaluator


class GradeEvaluator(SentenceEvaluator):
    """Grade-classification and ranking metrics of a multi-class CrossEncoder on judged pairs.

    ``queries[i]``, ``products[i]`` (already formatted by the student recipe) and ``grades[i]`` are
    one judged pair; ``query_ids`` (optional) enable ``ndcg@10`` over each query's pairs ranked by
    the expected grade. Returns ``{<name>_<metric>: value}`` (sentence-transformers' convention);
    ``primary_metric`` is ``f1_macro`` unless told otherwise. With ``output_path`` and
    ``write_csv`` the metrics are appended to ``GradeEvaluator_<name>_results.csv``.
    """

    def __init__(
        self,
        queries: Sequence[str],
        products: Sequence[str],
        grades: Sequence[int],
        query_ids: Sequence[str] | None = None,
        *,
        name: str = "",
        scale: GradeScale = DEFAULT_SCALE,
        batch_size: int = 64,
        primary_metric: str = "f1_macro",
        metrics: Sequence[str] | None = None,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        if not (len(queries) == len(products) == len(grades)):
            raise ValueError("queries, products and grades must have the same length")
        if query_ids is not None and len(query_ids) != len(grades):
            raise ValueError("query_ids must have one entry per pair")
        self.pairs = [[q, p] for q, p in zip(queries, products, strict=True)]
        self.grades = np.asarray(grades, dtype=int)
        self.query_ids = None if query_ids is None else np.asarray(query_ids).astype(str)
        self.name = name
        self.scale = scale
        self.batch_size = batch_size
        self.metrics = None if metrics is None else list(metrics)
        self.primary_metric = primary_metric
        lower_is_better = ("rmse", "mae", "ece", "optimistic", "pessimistic")
        self.greater_is_better = not primary_metric.startswith(lower_is_better)
        self.write_csv = write_csv
        self.csv_file = "GradeEvaluator" + (f"_{name}" if name else "") + "_results.csv"

    def predict_proba(self, model: Any) -> np.ndarray:
        """(n, K) grade probabilities of ``model`` on the evaluator's pairs."""
        if not self.pairs:
            return np.zeros((0, self.scale.size))
        out = model.predict(
            self.pairs, batch_size=self.batch_size, apply_softmax=True, show_progress_bar=False
        )
        probs = np.asarray(out, dtype=float).reshape(len(self.pairs), -1)
        if probs.shape[1] != self.scale.size:
            raise ValueError(
                f"the model has {probs.shape[1]} labels but the grade scale has {self.scale.size} grades"
            )
        return probs

    def compute(self, probs: np.ndarray) -> dict[str, float]:
        """The metrics of given probabilities (no model call), un-prefixed."""
        values = array_metrics(
            self.grades, probs, query_ids=self.query_ids, metrics=self.metrics, scale=self.scale
        )
        return {k: float(v) for k, v in values.items()}

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        metrics = self.compute(self.predict_proba(model))
        if output_path is not None and self.write_csv:
            os.makedirs(output_path, exist_ok=True)
            path = os.path.join(output_path, self.csv_file)
            exists = os.path.isfile(path)
            with open(path, "a" if exists else "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                if not exists:
                    writer.writerow(["epoch", "steps", *metrics])
                writer.writerow([epoch, steps, *metrics.values()])
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        if hasattr(model, "model_card_data"):
            self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def get_config_dict(self) -> dict[str, Any]:
        return {"scale": list(self.scale.names), "primary_metric": self.primary_metric}

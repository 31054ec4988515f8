"""Calibration: the one confidence binning behind the ECE and the reliability diagram.

Top-label calibration (Guo et al., 2017): a prediction's *confidence* is its largest grade
probability and its predicted grade is that probability's grade. Confidences fall into
``n_bins`` equal-width bins ``(i/n, (i+1)/n]`` (a confidence of exactly 0 goes to the first
bin). ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b|. Every ECE in ecomrel (the judge, the
student evaluator, ``ecomrel eval``) and every reliability diagram in the report comes from
:func:`reliability_bins`, so they agree bin for bin.

Neither scikit-learn nor ranx has a multi-class top-label ECE; the formula is a few lines of
numpy, so adding torchmetrics/netcal for it is not worth the dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_BINS = 10


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin counts and means of a top-label reliability diagram (bins with no pairs: NaN)."""

    edges: np.ndarray  # n_bins + 1 bin edges, 0 … 1
    count: np.ndarray  # pairs per bin
    confidence: np.ndarray  # mean confidence per bin
    accuracy: np.ndarray  # share of correct top-label predictions per bin

    @property
    def n(self) -> int:
        return int(self.count.sum())

    @property
    def ece(self) -> float:
        """Σ_b (n_b/N)·|acc_b − conf_b|; NaN when there are no pairs."""
        if self.n == 0:
            return float("nan")
        filled = self.count > 0
        gap = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float((self.count[filled] * gap).sum() / self.n)

    def to_dict(self) -> dict[str, list]:
        """JSON-ready lists (NaN for empty bins becomes ``None``)."""

        def clean(a: np.ndarray) -> list:
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {
            "edges": [float(e) for e in self.edges],
            "count": [int(c) for c in self.count],
            "confidence": clean(self.confidence),
            "accuracy": clean(self.accuracy),
        }


def reliability_bins(probs: np.ndarray, y_true: np.ndarray, n_bins: int = DEFAULT_BINS) -> ReliabilityBins:
    """Bin the top-label confidence of ``probs`` (N × K) against the judged grades ``y_true``."""
    probs = np.asarray(probs, dtype=float)
    y_true = np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if len(y_true) == 0:
        empty = np.full(n_bins, np.nan)
        return ReliabilityBins(edges, np.zeros(n_bins, dtype=int), empty, empty.copy())
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(float)
    # bin i holds edges[i] < conf ≤ edges[i+1], compared with the edges themselves (not conf·n, whose
    # rounding would put 0.3 into (0.3, 0.4])
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=conf, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(count > 0, acc_sum / np.maximum(count, 1), np.nan)
        confidence = np.where(count > 0, conf_sum / np.maximum(count, 1), np.nan)
    return ReliabilityBins(edges, count, confidence, accuracy)


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = DEFAULT_BINS) -> float:
    """Top-label ECE with ``n_bins`` equal-width bins ``(i/n, (i+1)/n]`` (see the module docstring)."""
    return reliability_bins(probs, y_true, n_bins).ece

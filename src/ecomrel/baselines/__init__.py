"""Baselines every later model is compared with: BM25 and TF-IDF cosine with tuned grade cuts."""

from ecomrel.baselines.lexical import METHODS, GradeThresholds, analyze, product_text, score_pairs
from ecomrel.baselines.runner import run_baseline, write_predictions

__all__ = [
    "METHODS",
    "GradeThresholds",
    "analyze",
    "product_text",
    "run_baseline",
    "score_pairs",
    "write_predictions",
]

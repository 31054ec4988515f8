"""Evaluation: grade-classification metrics (scikit-learn), ranking metrics (ranx), reports.

Call :func:`evaluate` with a data folder and a prediction file; it returns a :class:`Report`
that prints as a Rich table and dumps JSON. ``ecomrel eval`` is the same from the shell.
"""

from ecomrel.eval.classification import classification_metrics, confusion_frame, expected_calibration_error
from ecomrel.eval.evaluate import check_predictions, evaluate, run_eval
from ecomrel.eval.metrics_io import json_safe, write_metrics_json
from ecomrel.eval.ranking import ESCI_GAINS, GAIN_PRESETS, rank_run, ranking_metrics
from ecomrel.eval.report import Report, load_stage_metrics, stages_table, write_stage_metrics

__all__ = [
    "ESCI_GAINS",
    "GAIN_PRESETS",
    "Report",
    "check_predictions",
    "classification_metrics",
    "confusion_frame",
    "evaluate",
    "expected_calibration_error",
    "load_stage_metrics",
    "rank_run",
    "ranking_metrics",
    "run_eval",
    "stages_table",
    "write_stage_metrics",
    "json_safe",
    "write_metrics_json",
]

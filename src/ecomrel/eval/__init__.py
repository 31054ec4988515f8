"""Evaluation — the only place ecomrel computes a metric.

Classification metrics (scikit-learn), ranking metrics (ranx), calibration (one ECE binning,
shared with the reliability diagrams), query segments (kind, frequency band, any column),
the one ``metrics.json`` writer and the one summary table (Rich in the CLI, HTML in the report).

Call :func:`evaluate` with a data folder and a prediction file; it returns a :class:`Report`
that prints as a Rich table and dumps JSON. ``ecomrel eval`` is the same from the shell.
Trainers evaluate through :func:`array_metrics` / :func:`ndcg_at_k` (arrays) or
:class:`ecomrel.eval.student_evaluator.GradeEvaluator` (sentence-transformers; imported from its
module so that ``ecomrel.eval`` does not import sentence-transformers).
"""

from ecomrel.eval.arrays import array_metrics
from ecomrel.eval.calibration import ReliabilityBins, expected_calibration_error, reliability_bins
from ecomrel.eval.classification import CLASSIFICATION_METRICS, classification_metrics, confusion_frame
from ecomrel.eval.evaluate import check_predictions, evaluate, run_eval
from ecomrel.eval.metrics_file import (
    json_safe,
    load_metrics,
    load_predictions_index,
    load_stage_metrics,
    record_predictions,
    scalar_metrics,
    write_metrics,
    write_metrics_json,
    write_stage_metrics,
)
from ecomrel.eval.ranking import ESCI_GAINS, GAIN_PRESETS, ndcg_at_k, rank_run, ranking_metrics
from ecomrel.eval.report import Report
from ecomrel.eval.segments import DEFAULT_SEGMENTS, available_segments, frequency_band, segment_labels
from ecomrel.eval.summary import (
    DISPLAY_METRICS,
    SHORT_NAMES,
    format_value,
    metrics_table,
    rich_table,
    segment_rows,
    stages_table,
    summary_rows,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "DEFAULT_SEGMENTS",
    "DISPLAY_METRICS",
    "ESCI_GAINS",
    "GAIN_PRESETS",
    "SHORT_NAMES",
    "ReliabilityBins",
    "Report",
    "array_metrics",
    "available_segments",
    "check_predictions",
    "classification_metrics",
    "confusion_frame",
    "evaluate",
    "expected_calibration_error",
    "format_value",
    "frequency_band",
    "json_safe",
    "load_metrics",
    "load_predictions_index",
    "load_stage_metrics",
    "metrics_table",
    "ndcg_at_k",
    "rank_run",
    "ranking_metrics",
    "reliability_bins",
    "rich_table",
    "run_eval",
    "record_predictions",
    "scalar_metrics",
    "segment_labels",
    "segment_rows",
    "stages_table",
    "summary_rows",
    "write_metrics",
    "write_metrics_json",
    "write_stage_metrics",
]

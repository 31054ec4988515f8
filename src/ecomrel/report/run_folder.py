"""What the report reads from a run folder: the stage order, each stage's marker, the metrics
rows and the prediction file behind each row.

Stage order: ``<run>/config.yaml``'s ``stages`` list (the runner writes only the stages that ran,
in pipeline order); without it, the folders that hold a ``_done.json``, oldest first.

Prediction files: ``<run>/eval/predictions.json`` (written by
:func:`ecomrel.eval.record_predictions`: ``{row: {"file", "split", "queries_from", "gains"}}``),
then each stage's ``_done.json`` ``"predictions": {row: path}`` (paths relative to the run
folder); runs with neither fall back to the files today's stages write (:data:`KNOWN_PREDICTIONS`).
Only rows present in ``metrics.json`` count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecomrel.eval import load_metrics, load_predictions_index

DONE = "_done.json"

KNOWN_PREDICTIONS: dict[str, str] = {
    "bm25": "baselines/bm25_predictions.parquet",
    "tfidf": "baselines/tfidf_predictions.parquet",
    "judge_zero_shot": "judge/test/scores.parquet",
    "judge_sft_multicot": "sft/judge_test/scores.parquet",
    "student_distilled": "distill/student_distilled_scores.parquet",
    "student_human_only": "distill/student_human_only_scores.parquet",
    "student_minilm": "distill/student_scores.parquet",
}
"""Row → prediction file of today's stages, used only when a marker records no predictions."""


@dataclass
class StageInfo:
    name: str
    marker: dict[str, Any] | None
    rows: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.marker is not None

    @property
    def seconds(self) -> float | None:
        s = (self.marker or {}).get("seconds")
        return float(s) if isinstance(s, int | float) else None


@dataclass
class Prediction:
    row: str
    stage: str | None
    file: Path
    split: str | None = "test"
    queries_from: Path | None = None
    gains: str | None = None


@dataclass
class RunFolder:
    root: Path
    config: dict[str, Any]
    stages: list[StageInfo]
    metrics: dict[str, dict[str, Any]]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def stage_rows(self) -> dict[str, list[str]]:
        return {s.name: s.rows for s in self.stages}

    def stage_of(self, row: str) -> str | None:
        return next((s.name for s in self.stages if row in s.rows), None)

    def gains(self) -> str:
        opts = (self.config.get("options") or {}).get("eval") or {}
        g = opts.get("gains", "grade") if isinstance(opts, dict) else "grade"
        return g if isinstance(g, str) else "grade"

    def predictions(self) -> list[Prediction]:
        """One entry per prediction *file*, in pipeline order (a file shared by several rows, such
        as ``bm25`` and ``bm25@judge_subset``, is listed once, under the row without ``@``)."""
        found: list[Prediction] = []
        for row, entry in load_predictions_index(self.root).items():
            if row in self.metrics and isinstance(entry, dict) and entry.get("file"):
                qf = entry.get("queries_from")
                found.append(
                    Prediction(
                        row,
                        entry.get("stage") or self.stage_of(row),
                        self.root / entry["file"],
                        entry.get("split", "test"),
                        self.root / qf if qf else None,
                        entry.get("gains") if isinstance(entry.get("gains"), str) else None,
                    )
                )
        listed = {p.row for p in found}
        for s in self.stages:
            recorded = (s.marker or {}).get("predictions") or {}
            for row, entry in recorded.items():
                if row in listed or row not in self.metrics:
                    continue
                file, split = (
                    (entry, "test") if isinstance(entry, str) else (entry.get("file"), entry.get("split"))
                )
                if file:
                    found.append(Prediction(row, s.name, self.root / file, split))
        if not found:
            for row, rel in KNOWN_PREDICTIONS.items():
                if row in self.metrics and (self.root / rel).exists():
                    found.append(Prediction(row, self.stage_of(row), self.root / rel))
        out: dict[Path, Prediction] = {}
        # a row evaluated on its own queries (or all of them) before a row on another file's subset
        subset = lambda p: p.queries_from is not None and p.queries_from != p.file  # noqa: E731
        for p in sorted(found, key=lambda p: (subset(p), "@" in p.row)):
            if p.file.exists():
                out.setdefault(p.file.resolve(), p)
        order = {row: i for i, (row, _) in enumerate((r, s) for s in self.stages for r in s.rows)}
        return sorted(out.values(), key=lambda p: order.get(p.row, len(order)))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read_run(run_dir: str | Path) -> RunFolder:
    root = Path(run_dir)
    config: dict[str, Any] = {}
    cfg_file = root / "config.yaml"
    if cfg_file.exists():
        try:
            loaded = yaml.safe_load(cfg_file.read_text())
        except yaml.YAMLError:
            loaded = None
        config = loaded if isinstance(loaded, dict) else {}
    names = [str(s) for s in config.get("stages") or []]
    if not names:
        markers = sorted(root.glob(f"*/{DONE}"), key=lambda p: p.stat().st_mtime)
        names = [p.parent.name for p in markers]
    metrics = load_metrics(root / "eval" / "metrics.json")
    stages = []
    for name in names:
        marker = _read_json(root / name / DONE)
        rows = [r for r in ((marker or {}).get("metrics") or {}) if r in metrics]
        stages.append(StageInfo(name, marker, rows))
    return RunFolder(root=root, config=config, stages=stages, metrics=metrics)

"""The evaluation report: scalar metrics, counts and confusion matrices; a Rich table and JSON.

``metrics.json`` of a run folder is ``{stage: {metric: value}}`` with scalar values only;
:func:`write_stage_metrics` merges one stage into it, so successive stages accumulate. The full
report (with confusion matrices) is written by :meth:`Report.save` beside it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console, Group
from rich.table import Table


def _fmt(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4f}"


def _json_safe(value: float | int | None) -> float | int | None:
    """NaN (an undefined metric) is written as JSON ``null``, which every JSON reader accepts."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class Report:
    """Result of :func:`ecomrel.eval.evaluate`: ``report["f1_macro"]`` reads one metric."""

    metrics: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    confusion: dict[str, pd.DataFrame] = field(default_factory=dict)
    name: str = "eval"

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def flat(self) -> dict[str, float | int]:
        """Metrics and counts in one scalar mapping — the row stored in ``metrics.json``."""
        return {**self.metrics, **self.counts}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": {k: _json_safe(v) for k, v in self.metrics.items()},
            "counts": self.counts,
            "confusion": {
                target: {"labels": list(df.index), "matrix": df.to_numpy().tolist()}
                for target, df in self.confusion.items()
            },
        }

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    def table(self) -> Table:
        """Metrics as rows; metrics against ``true_grade`` (prefix ``true_grade/``) in a second column."""
        prefix = "true_grade/"
        base = {k: v for k, v in self.metrics.items() if not k.startswith(prefix)}
        true = {k.removeprefix(prefix): v for k, v in self.metrics.items() if k.startswith(prefix)}
        t = Table(title=self.name, show_lines=False)
        t.add_column("metric")
        t.add_column("vs grade", justify="right")
        if true:
            t.add_column("vs true_grade", justify="right")
        for k, v in base.items():
            row = [k, _fmt(v)]
            if true:
                row.append(_fmt(true[k]) if k in true else "")
            t.add_row(*row)
        for k, v in self.counts.items():
            t.add_row(f"[dim]{k}[/]", f"[dim]{_fmt(v)}[/]", *([""] if true else []))
        return t

    def confusion_tables(self) -> list[Table]:
        out = []
        for target, df in self.confusion.items():
            t = Table(title=f"confusion ({target} × predicted)")
            t.add_column(f"{target} \\ pred")
            for c in df.columns:
                t.add_column(str(c), justify="right")
            for idx, row in df.iterrows():
                t.add_row(str(idx), *[f"{int(v):,}" for v in row])
            out.append(t)
        return out

    def __rich__(self) -> Group:
        return Group(self.table(), *self.confusion_tables())

    def __str__(self) -> str:
        console = Console(width=100, file=io.StringIO())
        console.print(self)
        return console.file.getvalue()


def load_stage_metrics(path: str | Path) -> dict[str, dict[str, float]]:
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def write_stage_metrics(
    path: str | Path, stage: str, metrics: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Merge ``{stage: metrics}`` into the JSON file at ``path`` (atomic), keeping other stages."""
    path = Path(path)
    current = load_stage_metrics(path)
    current[stage] = {k: _json_safe(v if isinstance(v, int) else float(v)) for k, v in metrics.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True, allow_nan=False))
    tmp.replace(path)
    return current


def stages_table(stages: Mapping[str, Mapping[str, float]], metrics: list[str] | None = None) -> Table:
    """One row per stage, one column per metric (default: metrics every stage shares, in order)."""
    if metrics is None:
        seen: list[str] = []
        for row in stages.values():
            seen.extend(k for k in row if k not in seen and not k.startswith("n_"))
        metrics = seen
    t = Table(title="metrics by stage")
    t.add_column("stage")
    for m in metrics:
        t.add_column(m, justify="right")
    for name, row in stages.items():
        t.add_row(name, *[_fmt(row[m]) if m in row else "" for m in metrics])
    return t

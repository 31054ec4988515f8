"""The evaluation report: scalar metrics, counts, confusion matrices, reliability bins and
per-segment metrics; a Rich table and JSON.

:meth:`Report.row` is what a run's ``metrics.json`` stores for one model (see
:mod:`ecomrel.eval.metrics_file`, the one writer); :meth:`Report.save` writes the full report
(with confusion matrices and reliability bins) as JSON.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console, Group
from rich.table import Table

from ecomrel.eval.calibration import ReliabilityBins
from ecomrel.eval.metrics_file import OPTIONS_KEY, SEGMENTS_KEY, json_safe
from ecomrel.eval.summary import DISPLAY_METRICS, format_value, rich_table, segment_rows


@dataclass
class Report:
    """Result of :func:`ecomrel.eval.evaluate`: ``report["f1_macro"]`` reads one metric."""

    metrics: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    confusion: dict[str, pd.DataFrame] = field(default_factory=dict)
    name: str = "eval"
    segments: dict[str, dict[str, dict[str, float | int]]] = field(default_factory=dict)
    """``{column: {value: {metric: value, n_pairs: …}}}`` when evaluated with ``by=[...]``."""
    calibration: dict[str, ReliabilityBins] = field(default_factory=dict)
    """Reliability bins per target (``grade``, ``true_grade``) when probabilities were given."""
    options: dict[str, Any] = field(default_factory=dict)
    """How the metrics were defined (``ndcg_queries``, ``gains``, ``raw_scale``, ``raw_range``)."""

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def flat(self) -> dict[str, float | int]:
        """Metrics and counts in one scalar mapping — the row stored in ``metrics.json``."""
        return {**self.metrics, **self.counts}

    def row(self) -> dict[str, Any]:
        """:meth:`flat` plus ``segments`` (if any): one row of ``metrics.json``."""
        out: dict[str, Any] = self.flat()
        if self.segments:
            out[SEGMENTS_KEY] = self.segments
        if self.options:
            out[OPTIONS_KEY] = self.options
        return out

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "name": self.name,
                "metrics": self.metrics,
                "counts": self.counts,
                "confusion": {
                    target: {"labels": list(df.index), "matrix": df.to_numpy().tolist()}
                    for target, df in self.confusion.items()
                },
                "calibration": {t: b.to_dict() for t, b in self.calibration.items()},
                SEGMENTS_KEY: self.segments,
                OPTIONS_KEY: self.options,
            }
        )

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
            row = [k, format_value(v, k)]
            if true:
                row.append(format_value(true[k], k) if k in true else "")
            t.add_row(*row)
        for k, v in self.counts.items():
            t.add_row(f"[dim]{k}[/]", f"[dim]{format_value(v, k)}[/]", *([""] if true else []))
        return t

    def segment_tables(self, columns: tuple[str, ...] = DISPLAY_METRICS) -> list[Table]:
        """One table per segment column: a row per value, the headline metrics and counts."""
        return [rich_table(segment_rows(values, col, columns)) for col, values in self.segments.items()]

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
        return Group(self.table(), *self.confusion_tables(), *self.segment_tables())

    def __str__(self) -> str:
        console = Console(width=100, file=io.StringIO())
        console.print(self)
        return console.file.getvalue()

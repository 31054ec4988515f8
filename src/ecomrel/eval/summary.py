"""The one summary table of a run: rows, columns and cell text shared by the CLI (Rich) and the report (HTML).

:func:`summary_rows` turns ``metrics.json`` (``{row: {metric: value}}``) into a
:class:`SummaryTable` — header, rows in pipeline order, cells already formatted by
:func:`format_value` — and :func:`rich_table` prints it in the terminal; the HTML report
renders the very same object, so the two never disagree on order, names or digits.

Formatting: counts (``n_*`` metrics and any integer) as integers with thousands separators
(``1,997``, never ``1997.0000``), seconds with one decimal, everything else with 3 decimals;
a missing or undefined value is ``–``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table

DISPLAY_METRICS: tuple[str, ...] = (
    "f1_macro",
    "f1_weighted",
    "rmse",
    "ndcg@10",
    "ece",
    "optimistic_rate",
    "engagement@10",
)
"""The headline metrics of the summary table, in column order."""

SHORT_NAMES: dict[str, str] = {
    "f1_macro": "mF1",
    "f1_weighted": "wF1",
    "rmse": "RMSE",
    "ndcg@10": "NDCG10",
    "ece": "ECE",
    "optimistic_rate": "optim",
    "engagement@10": "ATC10",
    "n_pairs": "pairs",
    "n_queries": "queries",
}
"""Column headers (the report prints a legend from :data:`METRIC_HELP`)."""

METRIC_HELP: dict[str, str] = {
    "f1_macro": "macro-averaged F1 over grades",
    "f1_weighted": "F1 averaged with grade frequencies as weights",
    "rmse": "root mean squared error of the predicted grade",
    "ndcg@10": "NDCG at 10 (ranx, linear gains)",
    "ece": "expected calibration error, top label, 10 bins",
    "optimistic_rate": "share of pairs graded above the human grade",
    "engagement@10": "add-to-cart rate of the top 10",
    "n_pairs": "judged pairs evaluated",
    "n_queries": "queries evaluated",
}

MISSING_CELL = "–"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, int | float)


def format_value(value: Any, metric: str = "") -> str:
    """One cell: integers as integers, seconds with 1 decimal, other numbers with 3 decimals."""
    if value is None or isinstance(value, bool):
        return MISSING_CELL
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return MISSING_CELL
    if metric.startswith("n_") and value.is_integer():
        return f"{int(value):,}"
    if metric == "seconds" or metric.endswith("_seconds"):
        return f"{value:,.1f}"
    if metric.endswith("_mb"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


@dataclass
class SummaryRow:
    name: str
    stage: str | None
    values: dict[str, Any]
    cells: list[str]


@dataclass
class SummaryTable:
    """Header (metric names and short labels) and formatted rows."""

    columns: list[str]
    labels: list[str]
    rows: list[SummaryRow] = field(default_factory=list)
    title: str = "ecomrel results"
    row_header: str = "stage"


def ordered_rows(
    metrics: Mapping[str, Mapping[str, Any]],
    stage_order: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
) -> list[tuple[str, str | None]]:
    """``(row, stage)`` in display order.

    ``stage_order`` is either ``{stage: [row names it wrote]}`` in pipeline order (the rows of
    each stage follow in the stage's own order) or a plain sequence of row names. Rows of
    ``metrics`` it does not mention follow in the file's order, with stage ``None``.
    """
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    if isinstance(stage_order, Mapping):
        for stage, names in stage_order.items():
            for name in names:
                if name in metrics and name not in seen:
                    out.append((name, stage))
                    seen.add(name)
    elif stage_order is not None:
        for name in stage_order:
            if name in metrics and name not in seen:
                out.append((name, None))
                seen.add(name)
    out.extend((name, None) for name in metrics if name not in seen)
    return out


def summary_rows(
    metrics: Mapping[str, Mapping[str, Any]],
    stage_order: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    columns: Sequence[str] = DISPLAY_METRICS,
    *,
    counts: Sequence[str] = (),
    title: str = "ecomrel results",
    row_header: str = "stage",
) -> SummaryTable:
    """The summary table of ``metrics.json``: the headline ``columns`` any row has, then ``counts``.

    See :func:`ordered_rows` for ``stage_order``.
    """
    present = [c for c in columns if any(isinstance(row.get(c), int | float) for row in metrics.values())]
    present += [c for c in counts if any(c in row for row in metrics.values())]
    table = SummaryTable(
        columns=present,
        labels=[SHORT_NAMES.get(c, c) for c in present],
        title=title,
        row_header=row_header,
    )
    for name, stage in ordered_rows(metrics, stage_order):
        row = metrics[name]
        table.rows.append(
            SummaryRow(
                name=name,
                stage=stage,
                values={c: row.get(c) for c in present},
                cells=[format_value(row.get(c), c) for c in present],
            )
        )
    return table


def rich_table(table: SummaryTable) -> Table:
    """The summary as a Rich table for the terminal."""
    out = Table(title=table.title, show_lines=False)
    out.add_column(table.row_header, style="bold", no_wrap=True)
    for label in table.labels:
        out.add_column(label, justify="right")
    for row in table.rows:
        out.add_row(escape(row.name), *row.cells)
    return out


def metrics_table(
    metrics: Mapping[str, Mapping[str, Any]],
    stage_order: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    columns: Sequence[str] = DISPLAY_METRICS,
) -> Table:
    """``rich_table(summary_rows(...))``: the demo's and ``ecomrel run``'s summary in one call."""
    return rich_table(summary_rows(metrics, stage_order, columns))


def segment_rows(
    segments: Mapping[str, Mapping[str, Any]],
    column: str,
    columns: Sequence[str] = DISPLAY_METRICS,
    counts: Sequence[str] = ("n_queries", "n_pairs"),
) -> SummaryTable:
    """One segment column's metrics (``report.segments[column]``) as a summary table, one row per value."""
    return summary_rows(segments, None, columns, counts=counts, title=f"by {column}", row_header=column)


def stages_table(stages: Mapping[str, Mapping[str, Any]], metrics: Sequence[str] | None = None) -> Table:
    """Every scalar metric the rows share (or ``metrics``), one column each — the wide variant."""
    if metrics is None:
        seen: list[str] = []
        for row in stages.values():
            seen.extend(k for k, v in row.items() if k not in seen and not k.startswith("n_") and _scalar(v))
        metrics = seen
    t = summary_rows(stages, None, metrics, title="metrics by stage")
    return rich_table(t)

"""Stage ordering, resume and the run folder.

A run folder holds one sub-folder per stage. A stage is complete when its
``_done.json`` marker exists (written last, atomically); ``run_pipeline`` skips complete
stages, so a crashed run resumes at the first incomplete stage, and stages with their own
checkpoints (the judge, the trainers) resume inside the stage too. Every stage returns
``{name: {metric: value}}`` rows that are merged into ``eval/metrics.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecomrel.config import PipelineConfig, dump_config
from ecomrel.data.schema import DataError

console = Console()

StageFn = Callable[["RunContext"], dict[str, dict[str, float]]]


@dataclass
class RunContext:
    """What a stage sees: the config, the run folder, and its own options."""

    config: PipelineConfig
    stage: str

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def data_dir(self) -> Path:
        return self.out / "data"

    @property
    def stage_dir(self) -> Path:
        return self.out / self.stage

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.config.options.get(self.stage, {}))


STAGES: dict[str, StageFn] = {}


def stage(name: str) -> Callable[[StageFn], StageFn]:
    """Register a stage function under ``name``."""

    def deco(fn: StageFn) -> StageFn:
        STAGES[name] = fn
        return fn

    return deco


def metrics_path(out: Path) -> Path:
    return Path(out) / "eval" / "metrics.json"


def merge_metrics(
    out: Path, rows: dict[str, dict[str, float]], replace: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Merge ``{stage: {metric: value}}`` rows into the run's metrics.json (atomic write).

    ``replace`` names rows an earlier run of the same stage wrote; they are dropped first, so a
    forced re-run leaves no stale rows behind.
    """
    path = metrics_path(out)
    current = json.loads(path.read_text()) if path.exists() else {}
    for name in replace or []:
        current.pop(name, None)
    current.update(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True))
    tmp.replace(path)
    return current


def is_done(out: Path, name: str) -> bool:
    return (Path(out) / name / "_done.json").exists()


def mark_done(out: Path, name: str, rows: dict[str, Any], seconds: float) -> None:
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "_done.json.tmp"
    tmp.write_text(json.dumps({"seconds": round(seconds, 2), "metrics": rows}, indent=2))
    tmp.replace(folder / "_done.json")


def run_pipeline(config: PipelineConfig, force: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the configured stages in order, skipping complete ones; returns all metrics."""
    import ecomrel.stages  # noqa: F401  (registers the stage functions)

    unknown = [s for s in config.stages if s not in STAGES]
    if unknown:
        raise DataError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    force = force or []
    for name in config.stages:
        if is_done(out, name) and name not in force and "all" not in force:
            console.print(f"[dim]✓ {name}: complete, skipped[/]")
            continue
        console.rule(f"[bold]{name}")
        start = time.perf_counter()
        done = out / name / "_done.json"
        previous = list(json.loads(done.read_text())["metrics"]) if done.exists() else []
        rows = STAGES[name](RunContext(config=config, stage=name)) or {}
        seconds = time.perf_counter() - start
        merge_metrics(out, rows, replace=previous)
        mark_done(out, name, rows, seconds)
        console.print(f"[green]✓ {name}[/] in {seconds:.1f}s")
    from ecomrel.report import write_report

    console.print(f"report: {write_report(out)}")
    path = metrics_path(out)
    return json.loads(path.read_text()) if path.exists() else {}


DISPLAY_METRICS = ("f1_macro", "f1_weighted", "rmse", "ndcg@10", "ece", "optimistic_rate", "engagement@10")
SHORT_NAMES = {
    "f1_macro": "mF1",
    "f1_weighted": "wF1",
    "rmse": "RMSE",
    "ndcg@10": "NDCG10",
    "ece": "ECE",
    "optimistic_rate": "optim",
    "engagement@10": "ATC10",
}


def metrics_table(metrics: dict[str, dict[str, float]], columns: tuple[str, ...] = DISPLAY_METRICS) -> Table:
    """The demo's summary: one row per stage, the headline metrics as columns."""
    present = [c for c in columns if any(c in row for row in metrics.values())]
    table = Table(title="ecomrel results", show_lines=False)
    table.add_column("stage", style="bold", no_wrap=True)
    for c in present:
        table.add_column(SHORT_NAMES.get(c, c), justify="right")
    for name, row in metrics.items():
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), int | float) else "–" for c in present]
        table.add_row(escape(name), *cells)
    return table

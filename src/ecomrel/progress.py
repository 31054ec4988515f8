"""One Rich progress bar style for every long loop in ecomrel."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
console = Console(stderr=True)


def progress_enabled() -> bool:
    """Bars are off when ``ECOMREL_NO_PROGRESS=1`` (tests, log files)."""
    return os.environ.get("ECOMREL_NO_PROGRESS", "0") != "1"


def make_progress(unit: str = "items") -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress_enabled(),
        transient=False,
    )


def track(items: Iterable[T], description: str, total: int | None = None, unit: str = "items") -> Iterator[T]:
    """Iterate with a progress bar showing a rate in ``unit``/s."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress(unit) as progress:
        task = progress.add_task(description, total=total, rate="")
        for item in items:
            yield item
            t = progress.tasks[task]
            elapsed = t.elapsed or 0.0
            rate = (t.completed + 1) / elapsed if elapsed > 0 else 0.0
            progress.update(task, advance=1, rate=f"{rate:,.1f} {unit}/s")

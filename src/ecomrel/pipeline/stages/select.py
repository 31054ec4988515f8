"""Stage ``select``: LREF data selection on the train split (``ecomrel.select.run_selection``).

Writes ``<run>/select/`` (decisions, selected.parquet, suspected mislabels, metrics). The metric row
``select`` holds the kept share and, on the sample catalogue, the precision/recall of the
mislabel flags against ``true_grade``. Defaults are sized for the demo: the linear helper (seconds
per fold); set ``options.select.config.scorer.kind: cross_encoder`` for the MiniLM helpers.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ecomrel.errors import ConfigError
from ecomrel.pipeline.registry import StageContext, StageOptions, stage
from ecomrel.pipeline.stages.common import one_line_errors

DEMO_DEFAULTS: dict[str, Any] = {"scorer": {"kind": "linear", "linear_features": 65536}, "folds": 3}


class SelectOptions(StageOptions):
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Any field of ecomrel.select.SelectConfig (keep_ratio, mislabel, scorer, im/ci/ms ...).",
    )

    def _build(self, data_dir: str, out: str):
        from ecomrel.select import SelectConfig

        raw = {**DEMO_DEFAULTS, **self.config, "data_dir": data_dir, "out": out}
        return one_line_errors(lambda: SelectConfig.model_validate(raw), "options.select.config")

    def check(self) -> None:
        owned = sorted({"data_dir", "out"} & set(self.config))
        if owned:
            raise ConfigError(f"options.select.config: {', '.join(owned)} is set by the pipeline itself")
        self._build(".", ".")


@stage(
    "select", options=SelectOptions, reads=("data",), summary="LREF data selection: hard, learnable, clean"
)
def select_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    from ecomrel.select import run_selection

    opts: SelectOptions = ctx.options
    res = run_selection(opts._build(str(ctx.data_dir), str(ctx.stage_dir)))
    row: dict[str, float] = {
        "pairs": res["counts"]["pairs"],
        "kept": res["counts"]["kept"],
        "keep_ratio": res["keep_ratio"],
        "suspected_mislabels": res["flags"]["suspected_mislabels"],
        "seconds": res["wall_seconds"],
    }
    for who in ("ms", "confident", "union"):
        nc = res.get("noise_check", {}).get(who)
        if nc:
            row[f"{who}_precision"] = nc["precision"]
            row[f"{who}_recall"] = nc["recall"]
    return {"select": row}

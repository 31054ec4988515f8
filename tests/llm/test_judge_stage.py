"""The pipeline's judge stage on a tiny LLM: grades by cut points tuned on dev pairs (dev_limit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomrel.config import load_config
from ecomrel.decisions import Decisions
from ecomrel.pipeline import run_pipeline


def test_judge_row_grades_by_dev_cut_points(tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    cfg = load_config(
        None,
        [
            f"out={run}",
            "stages=[data, judge]",
            "data.sample.products=120",
            "data.sample.queries=24",
            f"options.judge={{model: {tiny_model_dir}, limit: 20, dev_limit: 20, threads: 1, batch_size: 4}}",
        ],
    )
    metrics = run_pipeline(cfg)
    row = metrics["judge_zero_shot"]
    assert row["dev_pairs"] >= 20 and "f1_macro_argmax" in row
    # the cuts fitted on the dev scores are saved beside the run's judge and applied to the test pairs
    decisions = Decisions.load(run / "judge" / "decisions.json")
    assert decisions.fitted_on["split"] == "dev"
    raw = pd.read_parquet(run / "judge" / "test" / "scores.parquet")
    decided = pd.read_parquet(run / "judge" / "test" / "scores_decided.parquet")
    np.testing.assert_array_equal(decided["pred_grade"], decisions.grade(raw["expected_grade"].to_numpy()))
    np.testing.assert_array_equal(decided["argmax_grade"], raw["pred_grade"])
    assert set(pd.read_parquet(run / "judge" / "dev" / "scores.parquet")["query_id"]).isdisjoint(
        raw["query_id"]
    )

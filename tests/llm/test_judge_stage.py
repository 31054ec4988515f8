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
    # TaoSR1's CumPT tiers, tuned on the same dev scores, beside the judge (serve reads them)
    from ecomrel.llm.cumpt import CumPT

    assert set(CumPT.load(run / "judge" / "cumpt_thresholds.json").thresholds) == {"Good", "Mid"}
    assert decisions.fitted_on["split"] == "dev"
    raw = pd.read_parquet(run / "judge" / "test" / "scores.parquet")
    decided = pd.read_parquet(run / "judge" / "test" / "scores_decided.parquet")
    np.testing.assert_array_equal(decided["pred_grade"], decisions.grade(raw["expected_grade"].to_numpy()))
    np.testing.assert_array_equal(decided["argmax_grade"], raw["pred_grade"])
    assert set(pd.read_parquet(run / "judge" / "dev" / "scores.parquet")["query_id"]).isdisjoint(
        raw["query_id"]
    )


def test_lref_chain_distils_the_dpo_judge(tmp_path, tiny_model_dir, tiny_bert_base):
    """The LREF chain on tiny models: sft -> dpo (SFT reference; pass@N pairs, since a random tiny judge
    rarely has the gold grade among its beams) -> the student
    learns from the DPO judge's scores on train pairs (options.distill.teacher=dpo); the service runs
    on the DPO judge itself (options.serve.model=llm)."""
    import pytest

    pytest.importorskip("trl")
    pytest.importorskip("sentence_transformers")
    run = tmp_path / "run"
    bert = tiny_bert_base(tmp_path / "bert")
    tiny = f"base_model: {tiny_model_dir}"
    steps = "training_args: {max_steps: 2, per_device_train_batch_size: 4}"
    cfg = load_config(
        None,
        [
            f"out={run}",
            "stages=[data, judge, sft, dpo, distill, serve]",
            "data.sample.products=120",
            "data.sample.queries=24",
            f"options.judge={{model: {tiny_model_dir}, limit: 10, threads: 1, batch_size: 4}}",
            f"options.sft={{train: {{{tiny}, curriculum: label_only, max_pairs: 8, {steps}}}}}",
            f"options.dpo={{train_limit: 10, train: {{{tiny}, pairs: pass_at_n, max_prompts: 8, {steps}}}}}",
            "options.distill={teacher: dpo, compare_human_only: false, "
            f"train: {{base_model: {bert}, num_threads: 1, training_args: {{max_steps: 2}}}}}}",
            "options.serve={model: llm, queries: 2, repeats: 1}",
        ],
    )
    metrics = run_pipeline(cfg)
    assert {"judge_zero_shot", "judge_sft_label_only", "judge_sft_dpo", "student_distilled"} <= set(metrics)
    teacher = pd.read_parquet(run / "dpo" / "judge_train" / "scores.parquet")
    pairs = pd.read_parquet(run / "distill" / "train_pairs.parquet")
    # every pair the DPO judge scored on train is among the student's training pairs
    scored = set(zip(teacher["query_id"].astype(str), teacher["product_id"].astype(str), strict=True))
    trained = set(zip(pairs["query_id"].astype(str), pairs["product_id"].astype(str), strict=True))
    assert scored and scored <= trained
    # TaoSR1's serving path: the service on the DPO judge itself ranks as its offline test scores do
    served = metrics["serve:llm_dpo"]
    assert served["queries"] >= 1 and served["top3_same_as_offline"] == 1.0

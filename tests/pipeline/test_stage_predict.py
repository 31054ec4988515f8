"""The two-file job as a pipeline: data.files (one file per split), baselines, the predict stage."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomrel.config import load_config
from ecomrel.errors import DataError
from ecomrel.pipeline import run_pipeline

HD = "id,product_uid,product_title,search_term,relevance\n"
PRODUCTS = ["cordless drill 20v", "deck paint gray", "garden hose 50 ft", "wood screws", "hammer 16 oz"]
WORDS = ["drill", "paint", "hose", "screws", "hammer", "deck", "garden", "wood", "cordless", "bits"]


def hd_file(path, queries, start=0):
    lines, i = [HD], start
    for q in queries:
        for pid, title in enumerate(PRODUCTS):
            rel = 3.0 if any(w in title for w in q.split()) else (1.0 + (i % 3) * 0.33)
            lines.append(f"{i},{100 + pid},{title.title()},{q},{min(rel, 3.0):.2f}\n")
            i += 1
    path.write_text("".join(lines))
    return path


def test_two_files_through_data_baselines_and_predict(tmp_path):
    train_q = [f"{a} {b}" for a in WORDS[:5] for b in WORDS[5:]]  # 25 queries
    test_q = [f"{b} {a} kit" for a in WORDS[:2] for b in WORDS[5:]]  # 10 others
    train = hd_file(tmp_path / "train.csv", train_q)
    test = hd_file(tmp_path / "test.csv", test_q, start=1000)
    cfg = load_config(
        None,
        [
            f"out={tmp_path / 'run'}",
            "data.source=homedepot",
            f"data.files={{train: {train}, test: {test}}}",
            "data.dev=0.2",
            "stages=[data, baselines, predict]",
            "options.predict.models=[bm25, tfidf]",
            "options.eval.gains=source",
        ],
    )
    metrics = run_pipeline(cfg)
    splits = pd.read_parquet(tmp_path / "run" / "data" / "splits.parquet")
    assert splits["split"].value_counts().to_dict() == {"train": 20, "test": 10, "dev": 5}
    for name in ("bm25", "tfidf"):
        row = metrics[f"{name}_decisions"]
        assert 0 <= row["f1_macro"] <= 1 and row["raw_rmse"] > 0
        pred = pd.read_parquet(tmp_path / "run" / "predict" / f"{name}_test.parquet")
        assert len(pred) == 50 and pred["calibrated_score"].between(1, 3).all()
        assert (tmp_path / "run" / "baselines" / f"{name}_decisions.json").is_file()

    leaky = hd_file(tmp_path / "leaky.csv", [train_q[0]])
    cfg = load_config(
        None,
        [
            f"out={tmp_path / 'run2'}",
            "data.source=homedepot",
            f"data.files={{train: {train}, test: {leaky}}}",
            "stages=[data]",
        ],
    )
    with pytest.raises(DataError, match=f"query '{train_q[0]}'"):
        run_pipeline(cfg)


def test_the_homedepot_example_runs_end_to_end_on_a_tiny_student(tmp_path, tiny_bert_base):
    """examples/homedepot.yaml as it is, on two tiny files and a tiny random BERT: data → baselines →
    distill → rank (content_only: no engagement) → predict, and the report."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("lightgbm")
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "homedepot.yaml"
    train = hd_file(tmp_path / "train.csv", [f"{a} {b}" for a in WORDS[:5] for b in WORDS[5:]])
    test = hd_file(tmp_path / "test.csv", [f"{b} {a} kit" for a in WORDS[:2] for b in WORDS[5:]], start=1000)
    base = tiny_bert_base(tmp_path / "bert")
    cfg = load_config(
        example,
        [
            f"out={tmp_path / 'run'}",
            f"data.files.train={train}",
            f"data.files.test={test}",
            "data.dev=0.2",
            f"options.distill.train.base_model={base}",
            "options.distill.train.training_args.max_steps=2",
        ],
    )
    metrics = run_pipeline(cfg)
    assert {"bm25", "tfidf", "student_human_only", "rank:content_only"} <= set(metrics)
    assert {"student_decisions", "student_argmax", "bm25_decisions", "tfidf_decisions"} <= set(metrics)
    assert 0 <= metrics["rank:content_only"]["ndcg@10"] <= 1
    assert "raw_rmse" in metrics["student_decisions"]
    assert (tmp_path / "run" / "eval" / "report.html").is_file()

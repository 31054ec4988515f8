"""The ``content_only`` rank preset (issue 13 item 6): human grades, linear gain, no engagement,
price or category needed — trained, scored and evaluated on a tiny frame without any of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomrel.errors import ConfigError
from ecomrel.rank.rank_config import RankConfig, apply_preset

pytest.importorskip("lightgbm")

NOUNS = ["drill", "lamp", "chair", "hose", "faucet", "rug", "shelf", "mower"]


def bare_folder(folder: Path) -> Path:
    """Titles, queries, graded judgments and splits only: no engagement, price, brand or category."""
    from ecomrel.data.schema import Dataset

    rng = np.random.default_rng(0)
    products = pd.DataFrame(
        {"product_id": [f"p{i}" for i in range(40)], "title": [f"{NOUNS[i % 8]} {i}" for i in range(40)]}
    )
    queries = pd.DataFrame(
        {"query_id": [f"q{i}" for i in range(16)], "text": [NOUNS[i % 8] for i in range(16)]}
    )
    rows = []
    for qi in range(16):
        for pi in rng.choice(40, size=8, replace=False):
            match = NOUNS[pi % 8] == NOUNS[qi % 8]
            rows.append(
                {"query_id": f"q{qi}", "product_id": f"p{pi}", "grade": 3 if match else int(rng.integers(2))}
            )
    splits = pd.DataFrame({"query_id": [f"q{i}" for i in range(16)], "split": ["train"] * 12 + ["test"] * 4})
    return Dataset(products=products, queries=queries, judgments=pd.DataFrame(rows), splits=splits).save(
        folder
    )


def test_preset_fills_unset_fields_and_the_config_wins(tmp_path):
    cfg = RankConfig.model_validate({"preset": "content_only"})
    assert cfg.labels.content_source == "human" and cfg.labels.blend.rule == "content_only"
    assert cfg.labels.blend.label_gain == "linear" and cfg.labels.blend.levels == 4
    assert cfg.labels.content.kind == "identity"
    assert cfg.features.engagement == "none" and not cfg.features.price and not cfg.features.category
    # what the config sets itself wins over the preset
    y = tmp_path / "rank.yaml"
    y.write_text("preset: content_only\nfeatures: {lexical: [bm25]}\nranker: {n_estimators: 5}\n")
    mine = RankConfig.from_yaml(y)
    assert mine.features.lexical == ["bm25"] and not mine.features.price and mine.ranker.n_estimators == 5
    assert RankConfig.from_yaml(None, "content_only") == cfg
    assert (
        RankConfig().preset is None and RankConfig().labels.blend.rule == "content_gated"
    )  # default unchanged
    y.write_text("preset: engagement_free\n")
    with pytest.raises(ConfigError, match="preset"):
        RankConfig.from_yaml(y)
    with pytest.raises(ValueError, match="known: content_only"):
        apply_preset({}, "nope")


def test_content_only_trains_and_ranks_without_engagement_price_or_category(tmp_path):
    from ecomrel.eval import evaluate
    from ecomrel.rank.features import run_features
    from ecomrel.rank.ranker import predict_to_file, train_from_folders

    data = bare_folder(tmp_path / "data")
    assert not (data / "engagement.parquet").exists()
    cfg = RankConfig.model_validate(
        {"preset": "content_only", "ranker": {"n_estimators": 20, "min_child_samples": 2}}
    )
    feats = run_features(data, None, tmp_path / "feat", config=cfg.features)
    names = json.loads(Path(feats["feature_list"]).read_text())["features"]
    assert names == ["bm25", "tfidf"]
    res = train_from_folders(data, tmp_path / "feat", tmp_path / "model", cfg)
    assert res["label"] == "content_only[identity]" and res["n_queries"] == 12
    # the training label is the human grade itself (levels 4 on 0..3) with a linear gain
    assert res["label_counts"][3] > 0 and len(res["label_counts"]) == 4
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert "linear" in json.dumps(meta)
    pred = predict_to_file(tmp_path / "model", tmp_path / "feat", tmp_path / "pred.parquet", split="test")
    rep = evaluate(data, pred["predictions"], split="test", metrics=["ndcg@10"])
    assert 0 < rep["ndcg@10"] <= 1


def test_cli_rank_preset(tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    data = bare_folder(tmp_path / "data")
    run = CliRunner().invoke
    r = run(
        app,
        ["rank", "features", "--data", str(data), "--out", str(tmp_path / "f"), "--preset", "content_only"],
    )
    assert r.exit_code == 0, r.output
    r = run(
        app,
        [
            "rank",
            "train",
            "--data",
            str(data),
            "--features",
            str(tmp_path / "f"),
            "--out",
            str(tmp_path / "m"),
            "--preset",
            "content_only",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["label"] == "content_only[identity]"
    bad = run(app, ["rank", "train", "--data", str(data), "--features", str(tmp_path / "f"), "--preset", "x"])
    assert bad.exit_code == 2 and "preset" in bad.output and "Traceback" not in bad.output
    # without the preset the default labels ask for an engagement log and say so
    plain = run(
        app,
        [
            "rank",
            "train",
            "--data",
            str(data),
            "--features",
            str(tmp_path / "f"),
            "--out",
            str(tmp_path / "n"),
        ],
    )
    assert plain.exit_code == 2 and "Traceback" not in plain.output

"""Training on a selection: pairs restricted to a (query_id, product_id) file."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomrel.data.pair_subset import restrict_to_pairs
from ecomrel.errors import DataError


def _pairs() -> pd.DataFrame:
    return pd.DataFrame({"query_id": ["q1", "q1", "q2"], "product_id": ["a", "b", "a"], "grade": [3, 0, 2]})


def test_keeps_only_listed_pairs(tmp_path):
    path = tmp_path / "selected.parquet"
    pd.DataFrame({"query_id": ["q1", "q2"], "product_id": ["b", "a"], "kept": [True, True]}).to_parquet(path)
    out = restrict_to_pairs(_pairs(), path)
    assert list(zip(out["query_id"], out["product_id"], strict=True)) == [("q1", "b"), ("q2", "a")]


def test_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        restrict_to_pairs(_pairs(), tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"query_id": ["q1"]}).to_parquet(bad)
    with pytest.raises(DataError, match="bad.parquet: missing column"):
        restrict_to_pairs(_pairs(), bad)
    other = tmp_path / "other.parquet"
    pd.DataFrame({"query_id": ["zz"], "product_id": ["zz"]}).to_parquet(other)
    with pytest.raises(DataError, match="none of its 1 pairs"):
        restrict_to_pairs(_pairs(), other)


def test_sft_and_distill_configs_take_the_selection(tmp_path, sample_dir):
    from ecomrel.data.schema import Dataset
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import build_frames
    from ecomrel.train.sft_data import load_training_data

    train = Dataset.load(sample_dir).pairs("train")
    chosen = train.head(7)[["query_id", "product_id"]]
    path = tmp_path / "selected.parquet"
    chosen.to_parquet(path)
    pairs, _ = load_training_data(sample_dir, "train", train_pairs=path)
    assert len(pairs) == 7
    frames = build_frames(DistillConfig(data_dir=sample_dir, human_only=True, train_pairs=path))
    assert len(frames[0]) == 7

"""Splits by query: disjoint, complete, deterministic, stratified by frequency band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ecomrel.data.splits import frequency_bands, split_by_query


def _queries(n: int, seed: int = 0, with_freq: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"query_id": [f"q{i}" for i in range(n)], "text": [f"t{i}" for i in range(n)]})
    if with_freq:
        df["frequency"] = np.maximum(
            1, (5000 * rng.permutation(np.arange(1, n + 1)) ** -1.05).round()
        ).astype(int)
    return df


def test_default_fractions_and_completeness() -> None:
    q = _queries(1000)
    s = split_by_query(q, seed=0)
    assert list(s.columns) == ["query_id", "split"]
    assert s["query_id"].tolist() == q["query_id"].tolist()
    counts = s["split"].value_counts()
    assert counts["train"] == 700 and counts["dev"] == 150 and counts["test"] == 150


def test_deterministic_and_seed_dependent() -> None:
    q = _queries(300)
    a, b = split_by_query(q, seed=5), split_by_query(q, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(split_by_query(q, seed=6)["split"])
    # row order of the input does not change the assignment
    shuffled = split_by_query(q.sample(frac=1.0, random_state=1), seed=5).set_index("query_id")["split"]
    assert shuffled.loc[a["query_id"]].tolist() == a["split"].tolist()


def test_stratified_by_band() -> None:
    q = _queries(2000)
    bands = frequency_bands(q["frequency"])
    assert set(bands) == {"head", "torso", "tail"}
    s = split_by_query(q, seed=0)
    tab = pd.crosstab(bands.to_numpy(), s["split"].to_numpy(), normalize="index")
    for band in ("torso", "tail"):
        assert tab.loc[band, "train"] == pytest.approx(0.7, abs=0.02)
        assert tab.loc[band, "dev"] == pytest.approx(0.15, abs=0.02)
    # the head is small but still reaches train and at least one held-out split
    head = s["split"][bands.to_numpy() == "head"]
    assert "train" in set(head) and set(head) & {"dev", "test"}


def test_frequency_bands_by_traffic_share() -> None:
    f = pd.Series([100, 50, 20, 10, 10, 5, 3, 1, 1, 0], index=list("abcdefghij"))
    b = frequency_bands(f)
    assert b.index.tolist() == list("abcdefghij")
    assert b["a"] == "head" and b["j"] == "tail" and b["i"] == "tail"
    assert b["b"] == "torso"  # 'a' alone is already 50 % of the traffic
    assert (frequency_bands(pd.Series([0, 0])) == "tail").all()


def test_without_frequency_and_custom_fractions() -> None:
    q = _queries(101, with_freq=False)
    s = split_by_query(q, {"a": 0.5, "b": 0.5}, seed=0)
    assert set(s["split"]) == {"a", "b"} and abs((s["split"] == "a").sum() - 50.5) <= 0.5


@pytest.mark.parametrize("fractions", [{"train": 0.5, "dev": 0.2}, {"train": 1.2, "dev": -0.2}, {}])
def test_bad_fractions(fractions) -> None:
    with pytest.raises(ValueError):
        split_by_query(_queries(10), fractions, seed=0)


def test_duplicate_query_ids_rejected() -> None:
    q = pd.DataFrame({"query_id": ["a", "a"], "text": ["x", "y"]})
    with pytest.raises(ValueError, match="duplicate"):
        split_by_query(q)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 200), seed=st.integers(0, 10), train=st.floats(0.0, 1.0))
def test_always_a_partition(n: int, seed: int, train: float) -> None:
    rest = (1.0 - train) / 2
    q = _queries(n, seed)
    s = split_by_query(q, {"train": train, "dev": rest, "test": 1.0 - train - rest}, seed=seed)
    assert len(s) == n and s["query_id"].is_unique and s["split"].notna().all()
    expected = train * n
    assert abs((s["split"] == "train").sum() - expected) <= 1.0 + 1e-9


def test_cli_split(sample_dir, tmp_path) -> None:
    import shutil

    from ecomrel.cli import app
    from ecomrel.data.schema import Dataset

    folder = tmp_path / "d"
    shutil.copytree(sample_dir, folder)
    res = CliRunner().invoke(
        app, ["data", "split", str(folder), "--seed", "4", "--train", "0.6", "--dev", "0.2", "--test", "0.2"]
    )
    assert res.exit_code == 0, res.output
    assert "train" in res.output and "tail" in res.output
    ds = Dataset.load(folder)
    assert ds.splits["split"].value_counts()["train"] == round(0.6 * len(ds.queries))
    bad = CliRunner().invoke(app, ["data", "split", str(folder), "--train", "0.9"])
    assert bad.exit_code == 2 and "sum to 1" in bad.output
    missing = CliRunner().invoke(app, ["data", "split", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "traceback" not in missing.output.lower()

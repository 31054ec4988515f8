"""SFT soft targets (issue 13 item 4): label-only examples whose grades follow the rater distribution."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("datasets")

from ecomrel.grades import DEFAULT_SCALE, homedepot_grade  # noqa: E402
from ecomrel.train.sft_data import allocate_copies, rater_label_examples  # noqa: E402


def test_allocate_copies_rounds_to_the_nearest_counts():
    assert allocate_copies([0, 1 / 3, 1 / 3, 1 / 3], 6) == [0, 2, 2, 2]
    assert allocate_copies([0, 0.5, 0.5, 0], 6) == [0, 3, 3, 0]
    assert allocate_copies([0, 0.25, 0.25, 0.5], 6) == [0, 1, 2, 3] or allocate_copies(
        [0, 0.25, 0.25, 0.5], 6
    ) == [0, 2, 1, 3]
    assert sum(allocate_copies([0.1, 0.2, 0.3, 0.4], 7)) == 7
    assert allocate_copies([0, 0, 0, 1], 1) == [0, 0, 0, 1]
    with pytest.raises(ValueError):
        allocate_copies([0, 0, 0, 0], 3)


def test_rater_examples_follow_the_rater_distribution(tiny_llm_dir, sft_data_dir):
    from transformers import AutoTokenizer

    from ecomrel.data.schema import Dataset

    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    pairs = Dataset.load(sft_data_dir).pairs("train").head(4).copy()
    means = [7 / 3, 2.0, 3.0, None]  # the last pair has no rater mean: its hard grade
    pairs["raw_score"] = means
    pairs["grade"] = [*(homedepot_grade(m) for m in means[:3]), int(pairs["grade"].iloc[3])]
    ds = rater_label_examples(pairs, tok, DEFAULT_SCALE, copies=6).to_pandas()
    assert len(ds) == 4 * 6 and set(ds["kind"]) == {"rater"}
    by_pair = ds.groupby("product_id")["completion"].apply(lambda c: sorted(c.tolist()))
    pids = pairs["product_id"].tolist()
    assert by_pair[pids[0]] == ["1", "1", "2", "2", "3", "3"]  # 2.33 = {2, 2, 3}: ⅓ each of 1, 2, 3
    assert by_pair[pids[1]] == ["1", "1", "1", "2", "2", "2"]
    assert by_pair[pids[2]] == ["3"] * 6
    assert by_pair[pids[3]] == [str(int(pairs["grade"].iloc[3]))] * 6
    # one prompt per pair, the scorer's own; gold_grade stays the hard grade
    assert ds.groupby("product_id")["prompt"].nunique().eq(1).all()
    assert ds.loc[ds["product_id"] == pids[0], "gold_grade"].eq(homedepot_grade(7 / 3)).all()
    pairs.loc[0, "raw_score"] = 5.0
    with pytest.raises(ValueError, match="raw_score 5"):
        rater_label_examples(pairs, tok, DEFAULT_SCALE)

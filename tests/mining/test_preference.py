"""Preference-pair construction on hand-made beams and samples (no model)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ecomrel.errors import DataError
from ecomrel.mining.preference import (
    PAIR_COLUMNS,
    all_wrong_prompts,
    beam_pairs,
    pass_at_k,
    pass_at_n_pairs,
    read_pairs,
    write_pairs,
)


def _frame(rows: list[tuple[int, int, str, float, int | None]]) -> pd.DataFrame:
    """(prompt_idx, rank, text, score, grade) rows in the samplers' column layout."""
    df = pd.DataFrame(rows, columns=["prompt_idx", "rank", "text", "score", "grade"])
    df["grade"] = df["grade"].astype("Int64")
    df["malformed"] = df["grade"].isna()
    df["reasoning"] = ""
    df["reason"] = ""
    return df


PROMPTS = ["p0", "p1", "p2", "p3"]


def test_beam_pairs_top_wrong_gold_lower_gives_pair_and_stats():
    beams = _frame(
        [
            # p0: top beam right -> no pair
            (0, 0, "3 exact", -0.1, 3),
            (0, 1, "2 sub", -0.5, 2),
            # p1: optimistic top (2 for gold 1), gold at rank 2 and rank 3: chosen = highest-ranked
            (1, 0, "2 looks like a substitute", -0.2, 2),
            (1, 1, "1 a complement", -0.4, 1),
            (1, 2, "1 also complement", -0.6, 1),
            # p2: pessimistic top (0 for gold 3), gold absent -> "no pair possible"
            (2, 0, "0 no", -0.3, 0),
            (2, 1, "1 maybe", -0.7, 1),
            (2, 2, "2 hmm", -0.9, 2),
            # p3: malformed top, gold at rank 3
            (3, 0, "garbage", -0.1, None),
            (3, 1, "3 exact", -0.3, 3),
            (3, 2, "0 irrelevant", -0.8, 0),
        ]
    )
    gold = [3, 1, 3, 0]
    meta = pd.DataFrame({"query_id": ["q0", "q1", "q2", "q3"], "product_id": ["a", "b", "c", "d"]})
    pairs, stats = beam_pairs(beams, PROMPTS, gold, meta=meta)

    assert list(pairs.columns) == [*PAIR_COLUMNS, "query_id", "product_id"]
    assert pairs["prompt_idx"].tolist() == [1, 3]
    p1 = pairs.iloc[0]
    assert (p1["chosen"], p1["rejected"]) == ("1 a complement", "2 looks like a substitute")
    assert (p1["chosen_grade"], p1["rejected_grade"], p1["gold_grade"]) == (1, 2, 1)
    assert (p1["chosen_rank"], p1["rejected_rank"], p1["source"], p1["query_id"]) == (1, 0, "beam", "q1")
    p3 = pairs.iloc[1]
    assert p3["chosen"] == "0 irrelevant" and p3["rejected"] == "garbage"
    assert pd.isna(p3["rejected_grade"])

    assert stats["prompts"] == 4 and stats["errors"] == 3 and stats["k"] == 3
    assert stats["error_rate"] == pytest.approx(0.75)
    assert stats["malformed_top"] == 1
    # of the two graded errors, one over-grades (p1) and one under-grades (p2)
    assert stats["optimistic_share_of_errors"] == pytest.approx(0.5)
    assert stats["optimistic_top_grades"] == {"substitute": 1}
    assert stats["gold_in_topk_share_of_errors"] == pytest.approx(2 / 3)
    assert stats["gold_rank_share_of_errors"] == {"2": pytest.approx(1 / 3), "3": pytest.approx(1 / 3)}
    assert stats["pairs"] == 2


def test_beam_pairs_no_pair_possible_when_all_right():
    beams = _frame([(0, 0, "3", -0.1, 3), (0, 1, "2", -1.0, 2), (1, 0, "0", -0.1, 0), (1, 1, "1", -1.0, 1)])
    pairs, stats = beam_pairs(beams, ["a", "b"], [3, 0])
    assert pairs.empty and list(pairs.columns) == PAIR_COLUMNS
    assert stats["errors"] == 0 and stats["optimistic_share_of_errors"] is None


def test_pass_at_n_self_correction_prefers_most_confident_wrong():
    samples = _frame(
        [
            (0, 0, "2 sub (unsure)", -2.0, 2),
            (0, 1, "1 right", -1.5, 1),
            (0, 2, "3 exact (confident)", -0.2, 3),
            (0, 3, "1 right, more sure", -0.9, 1),
        ]
    )
    pairs, stats = pass_at_n_pairs(samples, ["p"], [1])
    row = pairs.iloc[0]
    assert row["source"] == "self_correction"
    assert row["rejected"] == "3 exact (confident)" and row["rejected_grade"] == 3
    assert row["chosen"] == "1 right, more sure" and row["chosen_rank"] == 3
    assert stats["self_correction_pairs"] == 1 and stats["oracle_pairs"] == 0
    assert stats["optimistic_share_of_wrong_samples"] == pytest.approx(1.0)


def test_pass_at_n_all_wrong_uses_oracle_and_no_pair_without_one():
    samples = _frame(
        [
            (0, 0, "3 wrong", -0.5, 3),
            (0, 1, "2 wrong", -0.3, 2),
            (1, 0, "0 wrong", -0.4, 0),
            (1, 1, "garbage", -0.1, None),
            (2, 0, "2 right", -0.4, 2),
            (2, 1, "2 right again", -0.3, 2),
        ]
    )
    gold = [1, 3, 2]
    assert all_wrong_prompts(samples, gold) == [0, 1]
    pairs, stats = pass_at_n_pairs(samples, ["a", "b", "c"], gold, oracle={0: "1\noracle reasoning"})
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert row["source"] == "oracle" and row["chosen"] == "1\noracle reasoning"
    assert row["chosen_grade"] == 1 and row["chosen_rank"] == -1 and math.isnan(row["chosen_score"])
    assert row["rejected"] == "2 wrong"  # the most confident of the wrong samples
    assert stats["all_wrong_prompts"] == 2 and stats["all_wrong_without_oracle"] == 1
    assert stats["all_correct_prompts"] == 1
    assert stats["oracle_share_of_pairs"] == pytest.approx(1.0)
    assert stats["malformed_samples"] == 1
    # prompt 2 passes at every k, the other two never
    assert stats["pass_at"] == {"1": pytest.approx(1 / 3), "2": pytest.approx(1 / 3)}

    # a sequence of oracle answers, with None where the oracle has nothing
    pairs2, _ = pass_at_n_pairs(samples, ["a", "b", "c"], gold, oracle=[None, "3 oracle", None])
    assert pairs2["prompt_idx"].tolist() == [1]


def test_pass_at_k_matches_definition():
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 5, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(4, 3, 2) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_pair_file_round_trip_and_errors(tmp_path):
    samples = _frame([(0, 0, "2 wrong", -0.1, 2), (0, 1, "1 right", -0.4, 1)])
    pairs, _ = pass_at_n_pairs(samples, ["prompt"], [1])
    path = write_pairs(pairs, tmp_path / "dpo" / "pairs.parquet")
    back = read_pairs(path)
    assert back[PAIR_COLUMNS].astype(str).equals(pairs[PAIR_COLUMNS].astype(str))

    with pytest.raises(DataError, match="not found"):
        read_pairs(tmp_path / "none.parquet")
    pd.DataFrame({"prompt": ["x"], "chosen": ["1"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="missing column"):
        read_pairs(tmp_path / "bad.parquet")
    bad = pairs.assign(source="other")
    bad.to_parquet(tmp_path / "src.parquet")
    with pytest.raises(DataError, match="source"):
        read_pairs(tmp_path / "src.parquet")


def test_bad_sampler_frame_is_a_data_error():
    with pytest.raises(DataError, match="misses column"):
        beam_pairs(pd.DataFrame({"prompt_idx": [0]}), ["p"], [1])
    with pytest.raises(DataError, match="gold grades"):
        beam_pairs(_frame([(0, 0, "1", 0.0, 1)]), ["p", "q"], [1])

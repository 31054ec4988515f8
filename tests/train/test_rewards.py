"""GRPO rewards on hand-written answers: correct grade (1/0 and ordinal), format, consistency, and the
discriminative-hallucination rate measured with the same check."""

from __future__ import annotations

import math

import pytest

from ecomrel.grades import LREF_SCALE
from ecomrel.train.rewards import (
    consistency_reward,
    correct_reward,
    format_reward,
    hallucination_stats,
    make_reward_funcs,
    reasoning_verdict,
)

EE_EXACT = (
    "3\n1. Query understanding: a cordless drill.\n2. Item understanding: a DEWALT drill.\n"
    "3. Category match: drill matches.\n4. Attribute match: 20v matches.\n"
    "5. Verdict: exact: the product satisfies every stated part of the query."
)
EE_SAYS_IRRELEVANT = "3\n1. Query understanding: a drill.\n5. Verdict: irrelevant: no useful relation."
RA_SUBSTITUTE = (
    "2\nChecking the business rules:\n- R2 applies: modifier mismatch => at most substitute (2).\n"
    "Result: the rules allow at most substitute (2), so the grade is substitute (2)."
)
DR_COMPLEMENT = (
    "1\nThe earlier decision exact (3) is wrong (too high).\nIt overlooked: an accessory.\n"
    "Correct grade: complement (1)."
)


def test_correct_reward_is_one_for_the_gold_grade_and_zero_otherwise():
    completions = ["3", "2\nclose", "**Grade: 3** because", "no grade here", "", "7"]
    gold = [3, 3, 3, 3, 3, 3]
    assert correct_reward(None, completions, gold_grade=gold) == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]


def test_ordinal_partial_credit_shrinks_with_the_distance():
    completions = ["3", "2", "1", "0", "oops"]
    got = correct_reward(None, completions, gold_grade=[3] * 5, ordinal=True)
    assert got == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0, 0.0])
    # five-grade LREF scale: distance over max grade 4
    assert correct_reward(None, ["3"], gold_grade=[4], ordinal=True, scale=LREF_SCALE) == [0.75]


def test_correct_reward_reads_the_gold_column_from_trl_kwargs_and_chat_completions():
    chat = [[{"role": "assistant", "content": "2\nreason"}], [{"role": "assistant", "content": "0"}]]
    assert correct_reward(["p", "p"], chat, gold_grade=[2, 1]) == [1.0, 0.0]
    assert correct_reward(None, ["1"], gold=[1], gold_column="gold") == [1.0]
    with pytest.raises(ValueError, match="gold"):
        correct_reward(None, ["1"])


def test_format_reward_wants_a_leading_grade():
    completions = ["3\nreason", "  exact - matches", "The product is exact", "", "2.5", "9"]
    assert format_reward(None, completions) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_reasoning_verdict_reads_every_chain_ending():
    assert reasoning_verdict(EE_EXACT.split("\n", 1)[1]) == 3
    assert reasoning_verdict(RA_SUBSTITUTE.split("\n", 1)[1]) == 2
    assert reasoning_verdict(DR_COMPLEMENT.split("\n", 1)[1]) == 1  # the last verdict wins
    assert reasoning_verdict("Verdict: 0") == 0
    assert reasoning_verdict("1. Query understanding: a drill.") is None
    assert reasoning_verdict("") is None
    assert reasoning_verdict("Verdict: 9") is None


def test_consistency_reward_agree_contradict_and_missing():
    completions = [EE_EXACT, EE_SAYS_IRRELEVANT, RA_SUBSTITUTE, DR_COMPLEMENT, "3", "nonsense"]
    assert consistency_reward(None, completions) == [1.0, 0.0, 1.0, 1.0, 0.5, 0.5]
    assert consistency_reward(None, ["3", EE_SAYS_IRRELEVANT], missing=0.0) == [0.0, 0.0]


def test_make_reward_funcs_keeps_weighted_rewards_with_trl_names():
    funcs, weights = make_reward_funcs({"correct": 1.0, "format": 0.25, "consistency": 0.0}, ordinal=True)
    assert [f.__name__ for f in funcs] == ["correct", "format"]
    assert weights == [1.0, 0.25]
    # the signature trl uses: prompts=, completions=, completion_ids=, dataset columns, trainer_state ...
    out = funcs[0](
        prompts=["p", "p"],
        completions=["2", "3"],
        completion_ids=[[1], [2]],
        gold_grade=[3, 3],
        trainer_state=None,
        log_metric=print,
    )
    assert out == pytest.approx([2 / 3, 1.0])
    with pytest.raises(ValueError, match="unknown reward"):
        make_reward_funcs({"length": 1.0})
    with pytest.raises(ValueError, match="every reward weight is 0"):
        make_reward_funcs({"correct": 0.0})


def test_hallucination_stats_counts_contradicting_verdicts():
    stats = hallucination_stats([EE_EXACT, EE_SAYS_IRRELEVANT, RA_SUBSTITUTE, "3", "garbage"])
    assert stats["n"] == 5
    assert stats["with_verdict"] == 3
    assert stats["contradicting"] == 1
    assert stats["hallucination_rate"] == pytest.approx(1 / 3)
    assert stats["verdict_share"] == pytest.approx(3 / 5)
    assert math.isnan(hallucination_stats(["3", "2"])["hallucination_rate"])

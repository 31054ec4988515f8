"""Parsing never raises; malformed answers are flagged and counted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ecomrel.llm.parsing import malformed_summary, parse_answer, parse_many


def test_leading_grade_forms():
    assert parse_answer("3\nthe brand matches").grade == 3
    assert parse_answer("3\nthe brand matches").reasoning == "the brand matches"
    assert parse_answer("  **2** - a substitute").grade == 2
    assert parse_answer("Grade: 1. an accessory").grade == 1
    assert parse_answer("exact: every part matches").grade == 3
    assert parse_answer("Irrelevant").grade == 0


def test_malformed_is_kept_and_flagged():
    for text, reason in [
        ("", "empty"),
        (None, "empty"),
        ("7 stars", "outside"),
        ("2.5", "no leading"),
        ("the product is good", "no leading"),
        ("exactly right", "no leading"),
    ]:
        p = parse_answer(text)
        assert p.malformed and p.grade is None and reason in p.reason


def test_parse_many_and_summary():
    df = parse_many(["3 ok", "junk", "0", None])
    assert list(df["grade"].astype("float").fillna(-1)) == [3, -1, 0, -1]
    s = malformed_summary(df)
    assert s["n"] == 4 and s["malformed"] == 2 and s["reasons"] == {"no leading grade": 1, "empty": 1}


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_raises(text):
    p = parse_answer(text)
    assert p.malformed == (p.grade is None)

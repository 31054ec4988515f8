"""The built-in short judge template (judge_short): fewer tokens, same label-first answer."""

from __future__ import annotations

from ecomrel.llm.prompts import encode, grade_tokens, render_prompt

ROW = {
    "title": "DEWALT 20V cordless drill driver kit",
    "brand": "DEWALT",
    "category": "Tools > Power Tools",
    "attributes": {"voltage": "20 V", "color": "yellow"},
    "price": 99.0,
    "description": "a compact drill with two batteries",
}


def test_short_template_drops_description_and_is_shorter(tiny_tokenizer):
    short = render_prompt("cordless drill 20v", ROW, tiny_tokenizer, template="judge_short")
    full = render_prompt("cordless drill 20v", ROW, tiny_tokenizer, template="judge_v1")
    assert "Query: cordless drill 20v" in short and "Price: 99.00" in short
    assert "voltage: 20 V" in short and "compact drill" not in short
    assert len(encode(tiny_tokenizer, short)) < len(encode(tiny_tokenizer, full))
    assert short.endswith("<|im_start|>assistant\n")


def test_short_template_grade_tokens_are_distinct(tiny_tokenizer):
    tokens = grade_tokens(tiny_tokenizer, template="judge_short")
    assert len(set(tokens.ids)) == 4


def test_title_template_keeps_query_and_title_only(tiny_tokenizer):
    title = render_prompt("cordless drill 20v", ROW, tiny_tokenizer, template="judge_title")
    short = render_prompt("cordless drill 20v", ROW, tiny_tokenizer, template="judge_short")
    assert "Query: cordless drill 20v" in title and "Product: DEWALT 20V cordless drill driver kit" in title
    assert "Price" not in title and "voltage" not in title and "Brand" not in title
    assert "0 irrelevant, 1 complement, 2 substitute, 3 exact" in title
    assert len(encode(tiny_tokenizer, title)) < len(encode(tiny_tokenizer, short))
    assert len(set(grade_tokens(tiny_tokenizer, template="judge_title").ids)) == 4

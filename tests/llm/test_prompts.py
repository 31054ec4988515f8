"""Label-first prompts: rendered fields, truncation rule, grade-token checks."""

from __future__ import annotations

import pytest

from ecomrel.llm.prompts import (
    GradeLabelError,
    completion_text,
    encode,
    grade_tokens,
    load_template,
    render_prompt,
)

ROW = {
    "title": "DEWALT 20V cordless drill driver kit",
    "brand": "DEWALT",
    "category": "Tools > Power Tools",
    "attributes": {"voltage": "20 V", "color": "yellow"},
    "price": 99.0,
    "description": "a compact drill with two batteries",
}


def test_renders_present_fields_in_chat_template(tiny_tokenizer):
    text = render_prompt("cordless drill 20v", ROW, tiny_tokenizer)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    for part in (
        "Query: cordless drill 20v",
        "Title: DEWALT",
        "Brand: DEWALT",
        "Category: Tools > Power Tools",
        "voltage: 20 V; color: yellow",
        "Price: 99.00",
        "Description: a compact drill",
    ):
        assert part in text
    # the query comes before the product so that products of one query share the prefix
    assert text.index("Query:") < text.index("Title:")


def test_missing_fields_are_skipped(tiny_tokenizer):
    text = render_prompt(
        "drill", {"title": "drill", "brand": None, "price": float("nan"), "attributes": {}}, tiny_tokenizer
    )
    assert "Title: drill" in text
    assert "Brand:" not in text and "Price:" not in text and "Attributes:" not in text


def test_truncation_cuts_description_first_and_keeps_query(tiny_tokenizer):
    tpl = load_template()
    long_row = {**ROW, "description": "battery charger bag " * 200}
    text = render_prompt("cordless drill 20v", long_row, tiny_tokenizer)
    assert len(encode(tiny_tokenizer, text)) <= tpl.max_prompt_tokens
    assert "Query: cordless drill 20v" in text
    # the character cap applies before the token budget
    desc = [line.split("<|im_end|>")[0] for line in text.splitlines() if line.startswith("Description:")]
    assert not desc or len(desc[0]) <= len("Description: ") + tpl.field_caps["description"]
    assert "Title: DEWALT" in text  # the title is the last field touched


def test_plain_format_without_chat_template(tiny_tokenizer):
    import copy

    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = None
    text = render_prompt("drill", ROW, tok)
    assert text.rstrip().endswith("Grade:")
    assert grade_tokens(tok).ids  # labels still checked in context


def test_completion_text_is_label_first():
    assert completion_text(3) == "3"
    assert completion_text(1, "  an accessory of a drill ") == "1\nan accessory of a drill"


def test_digit_labels_are_single_tokens(tiny_tokenizer):
    gt = grade_tokens(tiny_tokenizer)
    assert len(gt) == 4 and len(set(gt.ids)) == 4 and not gt.first_token_only
    for g, tid in enumerate(gt.ids):
        assert tiny_tokenizer.decode([tid]) == str(g)


def test_multi_token_labels_use_distinct_first_tokens(tiny_tokenizer):
    labels = ["irrelevant", "complement", "substitute", "exact"]
    gt = grade_tokens(tiny_tokenizer, labels=labels)
    assert gt.first_token_only  # some names span several tokens of the tiny tokenizer
    assert len(set(gt.ids)) == 4


def test_shared_first_token_raises(tiny_tokenizer):
    with pytest.raises(GradeLabelError, match="share a first token"):
        grade_tokens(tiny_tokenizer, labels=["10", "11", "12", "13"])

"""Business rules: the default file, the condition language, priorities, and errors with line numbers."""

from __future__ import annotations

import pytest

from ecomrel.data.schema import DataError
from ecomrel.reason.analyst import ANALYSIS_FIELDS
from ecomrel.reason.rules import apply_rules, default_rules, default_rules_path, load_rules, parse_rules


def fields(**kw):
    """A neutral analysis (every field present) with some fields set."""
    base = {name: None for name in ANALYSIS_FIELDS}
    base.update(
        {
            "product_word_match": "exact",
            "brand_requested": False,
            "alternative_requested": False,
            "negation_requested": False,
            "negation_violated": False,
            "is_question": False,
            "query_has_product_word": True,
            "all_constraints_satisfied": False,
        }
    )
    for name, spec in ANALYSIS_FIELDS.items():
        if spec.kind == "int":
            base[name] = 0
    base.update(kw)
    return base


def test_default_rules_load_and_are_documented():
    rs = default_rules()
    assert len(rs) >= 10 and rs.default_grade == 3
    assert all(r.description and r.explanation for r in rs)
    assert default_rules_path().read_text().startswith("# ecomrel default business rules")
    text = rs.text()
    assert "product_word_mismatch" in text and "=> grade at most irrelevant (0)" in text


@pytest.mark.parametrize(
    ("findings", "grade", "fired"),
    [
        ({"product_word_match": "none"}, 0, "product_word_mismatch"),
        ({"product_word_match": "none", "category_match": True}, 1, "same_category_only"),
        ({"product_word_match": "accessory"}, 1, "accessory_of_searched_product"),
        ({"brand_requested": True, "brand_match": False}, 2, "brand_mismatch"),
        ({"negation_requested": True, "negation_violated": True}, 1, "excluded_feature_present"),
        ({"price_intent": "max", "price_ok": False}, 2, "over_budget"),
        ({"n_query_attributes": 1, "n_attribute_mismatches": 1}, 2, "attribute_mismatch"),
        ({"all_constraints_satisfied": True}, 3, "all_constraints_satisfied"),
        ({"product_word_match": "partial", "category_match": False}, 0, "partial_other_category"),
    ],
)
def test_default_rules_force_grades(findings, grade, fired):
    out = apply_rules(fields(**findings))
    assert out.grade == grade
    assert fired in out.fired_ids


def test_stronger_rule_overrides_weaker():
    # negation (priority 100, at most complement) beats "all satisfied" (set exact) and an accessory pin
    out = apply_rules(
        fields(
            negation_requested=True,
            negation_violated=True,
            product_word_match="accessory",
            all_constraints_satisfied=True,
        )
    )
    assert out.grade == 1
    assert out.fired_ids[0] == "excluded_feature_present"
    out = apply_rules(
        fields(
            product_word_match="none",
            negation_requested=True,
            negation_violated=True,
            all_constraints_satisfied=True,
        )
    )
    assert out.grade == 0 and "all_constraints_satisfied" in out.overridden
    assert out.high == 0 and out.reasons


def test_condition_language_and_templates():
    rs = parse_rules(
        """
default_grade: substitute
rules:
  - id: many_missing
    description: Several words are missing ({n_missing_modifiers}).
    when: {any: [{n_missing_modifiers: {ge: 2}}, {not: {query_has_product_word: true}}]}
    effect: {max_grade: 1}
    priority: 5
  - id: picky_brand
    description: a picky brand rule
    explanation: "wanted {query_brand}, got {product_brand}"
    when: {all: [{brand_requested: true}, {product_brand: {in: [acme, zeta]}}], brand_match: {ne: true}}
    effect: {set_grade: irrelevant}
    priority: 9
""",
        source="custom.yaml",
    )
    assert rs.default_grade == 2
    assert apply_rules(fields(), rs).grade == 2  # nothing fires: the default grade
    out = apply_rules(fields(n_missing_modifiers=3), rs)
    assert out.grade == 1 and out.reasons == ["Several words are missing (3)."]
    out = apply_rules(
        fields(brand_requested=True, query_brand="Nike", product_brand="acme", brand_match=False), rs
    )
    assert out.grade == 0 and out.reasons[0] == "wanted Nike, got acme"
    # values are data, never code
    rs2 = parse_rules(
        "rules:\n  - id: x\n    when: {query_brand: \"__import__('os').system('echo hi')\"}\n"
        "    effect: {max_grade: 0}\n"
    )
    assert apply_rules(fields(query_brand="nike"), rs2).grade == 3


BAD = [
    ("rules: [\n", "line 2", "invalid YAML"),
    (
        "rules:\n  - id: x\n    when: {product_word_matc: none}\n    effect: {max_grade: 0}\n",
        "line 3",
        "unknown field 'product_word_matc'",
    ),
    (
        "rules:\n  - id: x\n    when: {product_word_match: nope}\n    effect: {max_grade: 0}\n",
        "line 3",
        "'nope' is not a value of 'product_word_match'",
    ),
    (
        "rules:\n  - id: x\n    when: {brand_match: true}\n    effect: {max_grade: 9}\n",
        "line 4",
        "outside the grade",
    ),
    (
        "rules:\n  - id: x\n    when: {brand_match: true}\n    effect: {max_grade: 1, set_grade: 2}\n",
        "line 4",
        "exactly one of",
    ),
    (
        "rules:\n  - id: x\n    when: {brand_match: true}\n    effect: {max_grade: great}\n",
        "line 4",
        "'great' is not a grade",
    ),
    (
        "rules:\n  - id: x\n    when: {brand_match: yes please}\n    effect: {max_grade: 0}\n",
        "line 3",
        "is true/false",
    ),
    (
        "rules:\n  - id: x\n    when: {n_missing_modifiers: {between: 2}}\n    effect: {max_grade: 0}\n",
        "line 3",
        "unknown operator 'between'",
    ),
    (
        "rules:\n  - id: x\n    when: {brand_match: {gt: 1}}\n    effect: {max_grade: 0}\n",
        "line 3",
        "compares numbers",
    ),
    ("rules:\n  - id: x\n    effect: {max_grade: 0}\n", "line 2", "missing 'when'"),
    (
        "rules:\n  - id: x\n    when: {brand_match: true}\n    effect: {max_grade: 0}\n"
        "  - id: x\n    when: {brand_match: false}\n    effect: {max_grade: 1}\n",
        "line 5",
        "duplicate rule id",
    ),
    (
        "rules:\n  - id: x\n    when: {brand_match: true}\n    effect: {max_grade: 0}\n    priority: high\n",
        "line 5",
        "must be an integer",
    ),
    (
        "rules:\n  - id: x\n    description: uses {nonsense}\n    when: {brand_match: true}\n"
        "    effect: {max_grade: 0}\n",
        "line 3",
        "unknown field {nonsense}",
    ),
    ("rulez: []\n", "line 1", "unknown top-level key 'rulez'"),
    ("rules: {a: 1}\n", "line 1", "must be a list"),
    (
        "rules:\n  - id: x\n    when: {brand_match: true}\n    effect: {max_grade: 0}\n    colour: red\n",
        "line 5",
        "unknown rule key 'colour'",
    ),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD, ids=[b[2] for b in BAD])
def test_bad_rules_files_name_line_and_problem(text, line, problem):
    with pytest.raises(DataError) as err:
        parse_rules(text, source="my_rules.yaml")
    msg = str(err.value)
    assert msg.startswith(f"my_rules.yaml, {line},"), msg
    assert problem in msg, msg


def test_load_rules_from_path(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("rules:\n  - id: only\n    when: {product_word_match: none}\n    effect: {max_grade: 0}\n")
    rs = load_rules(p)
    assert [r.id for r in rs] == ["only"] and rs.rules[0].line == 2
    assert load_rules(rs) is rs
    with pytest.raises(FileNotFoundError):
        load_rules(tmp_path / "missing.yaml")
    p.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_rules(p)

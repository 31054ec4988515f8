"""The atomic-rule knowledge base: the packaged file, YAML and CSV loading, line-numbered errors."""

from __future__ import annotations

import pytest

from ecomrel.errors import DataError, UserError
from ecomrel.reason.analyst import AttributeAnalyst
from ecomrel.reason.kb import default_kb, load_kb, parse_kb, parse_kb_csv

SAMPLE_KINDS = (
    "negation",
    "price",
    "alternative",
    "accessory",
    "question",
    "misspelling",
    "brand",
    "attribute",
)


def test_default_kb_covers_the_sample_query_kinds():
    kb = default_kb()
    assert len(kb) >= 25 and len(set(kb.ids)) == len(kb)
    text = " ".join(r.search_text().lower() for r in kb)
    for kind in SAMPLE_KINDS:
        assert kind in text, kind
    # the sample's ground-truth rules all have a declarative rule with an effect
    for rid in (
        "negation.excluded_present",
        "brand.mismatch",
        "attribute.mismatch",
        "price.over_limit",
        "alternative.is_original",
        "match.exact",
        "substitute.similar_type",
        "accessory.complement",
        "category.same_only",
        "product.different_kind",
    ):
        r = kb.get(rid)
        assert r.when is not None and r.effect is not None, rid
    assert {r.id for r in kb.ruleset()} <= set(kb.ids)
    assert kb.get("misspelling.intended").when is None  # a text-only rule


def test_declarative_rules_give_the_grade(mini_products):
    kb = default_kb()
    analyst = AttributeAnalyst.from_products(mini_products, min_count=1)
    row = mini_products.set_index("product_id").loc["p3"].to_dict()
    a = analyst.analyze("shoes not leather", row)
    out = kb.outcome(a)
    assert "negation.excluded_present" in out.fired_ids and out.grade <= 1
    assert "negation.excluded_present" in kb.fired(a.fields())


YAML_OK = """\
version: 1
default_grade: 3
rules:
  - id: kitchen.pan
    text: A  pan for a skillet query is a substitute.
    scope: {categories: [Home > Kitchen], product_words: [skillet, pan]}
    tags: [cookware]
    examples: ["skillet -> pan: substitute"]
    when: {product_word_match: partial}
    effect: {max_grade: substitute}
    priority: 40
  - id: typo
    text: Read a typo as the intended word.
"""


def test_yaml_kb_loads_with_scope_and_effect():
    kb = parse_kb(YAML_OK, source="kb.yaml")
    pan = kb.get("kitchen.pan")
    assert pan.text == "A pan for a skillet query is a substitute."
    assert pan.categories == ("Home > Kitchen",) and pan.effect == "max_grade" and pan.grade == 2
    assert pan.in_scope("Home > Kitchen > Cookware", {"pan"})
    assert not pan.in_scope("Garden", {"pan"}) and not pan.in_scope("Home > Kitchen", {"sofa"})
    assert kb.get("typo").in_scope(None, set())
    assert len(kb.ruleset()) == 1 and kb.ruleset().default_grade == 3
    assert "[typo] Read a typo" in kb.text()


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        ("rules:\n  - id: a\n    text: x\n    colour: red\n", "line 4", "unknown rule key 'colour'"),
        ("rules:\n  - id: a\n    text: x\n  - id: a\n    text: y\n", "line 4", "duplicate rule id 'a'"),
        ("rules:\n  - id: a\n", "line 2", "missing 'text'"),
        ("rules:\n  - id: 1a\n    text: x\n", "line 2", "must start with a letter"),
        (
            "rules:\n  - id: a\n    text: x\n    when: {brand_colour: true}\n",
            "line 4",
            "unknown field 'brand_colour'",
        ),
        (
            "rules:\n  - id: a\n    text: x\n    when: {brand_match: true}\n    effect: {max_grade: 9}\n",
            "line 4",
            "outside the grade scale",
        ),
        ("rules:\n  - id: a\n    text: x\n    effect: {max_grade: 1}\n", "line 4", "no 'when'"),
        ("rules:\n  - id: a\n    text: x\n    scope: {brands: [x]}\n", "line 4", "unknown scope key"),
        ("rules: [\n", "line", "invalid YAML"),
        ("colour: red\nrules: []\n", "line 1", "unknown top-level key"),
        ("", "", "empty"),
    ],
)
def test_yaml_errors_name_the_line(text, where, needle):
    with pytest.raises(DataError) as err:
        parse_kb(text, source="kb.yaml")
    msg = str(err.value)
    assert msg.startswith("kb.yaml") and where in msg and needle in msg, msg
    assert isinstance(err.value, UserError)


CSV_OK = """id,text,categories,tags,when,effect,priority
neg,Excluded features cap at complement.,,negation|without,"{negation_violated: true}",{max_grade: 1},100
typo,Read typos as intended.,Home|Garden,misspelling,,,
"""


def test_csv_kb_loads():
    kb = parse_kb_csv(CSV_OK, source="kb.csv")
    assert kb.ids == ["neg", "typo"]
    assert kb.get("neg").tags == ("negation", "without") and kb.get("neg").grade == 1
    assert kb.get("neg").priority == 100 and kb.get("typo").categories == ("Home", "Garden")
    assert kb.get("neg").line == 2 and kb.get("typo").line == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id,text,colour\na,b,c\n", "line 1: unknown column"),
        ("id\na\n", "line 1: missing the column 'text'"),
        ("id,text\na,one rule\na,again\n", "line 3: duplicate rule id 'a'"),
        ('id,text,when\na,x,"{bad: ["\n', "line 2: column 'when' is not valid inline YAML"),
        ("id,text,when\na,x,{not_a_field: 1}\n", "line 2: unknown field 'not_a_field'"),
        ("id,text,priority\na,x,high\n", "line 2: priority of rule 'a' must be an integer"),
        ("id,text\na,\n", "line 2: text of rule 'a' is empty"),
        ("id,text\n", "no rules"),
    ],
)
def test_csv_errors_name_the_line(text, needle):
    with pytest.raises(DataError) as err:
        parse_kb_csv(text, source="kb.csv")
    assert needle in str(err.value), str(err.value)


def test_load_kb_by_suffix(tmp_path):
    (tmp_path / "kb.csv").write_text(CSV_OK, encoding="utf-8")
    (tmp_path / "kb.yml").write_text(YAML_OK, encoding="utf-8")
    assert load_kb(tmp_path / "kb.csv").ids == ["neg", "typo"]
    assert load_kb(tmp_path / "kb.yml").ids == ["kitchen.pan", "typo"]
    with pytest.raises(DataError, match="not found"):
        load_kb(tmp_path / "missing.yaml")
    (tmp_path / "kb.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"\.yaml, \.yml or \.csv"):
        load_kb(tmp_path / "kb.txt")
    assert load_kb(None) is default_kb()

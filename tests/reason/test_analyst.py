"""The attribute analyst on hand-written cases, its learned vocabulary, and Home Depot titles."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ecomrel.reason.analyst import ANALYSIS_FIELDS, AttributeAnalyst, analyze_pairs
from ecomrel.reason.rules import apply_rules
from ecomrel.reason.vocabulary import Vocabulary, normalize_text, singular, title_head, tokenize

# (query, product, expected findings, expected rule grade)
CASES = [
    ("running shoes", "p1", {"product_word_match": "exact", "all_constraints_satisfied": True}, 3),
    ("nike running shoes", "p2", {"brand_requested": True, "brand_match": False}, 2),
    ("nike running shoes", "p1", {"brand_match": True}, 3),
    (
        "running shoes",
        "p5",
        {"product_word_match": "accessory", "accessory_relation": "product_is_accessory"},
        1,
    ),
    ("shoes not leather", "p3", {"negation_requested": True, "negation_violated": True}, 1),
    ("shoes not leather", "p4", {"negation_requested": True, "negation_violated": False}, 3),
    ("iphone case", "p7", {"product_word_match": "exact", "accessory_target_match": True}, 3),
    (
        "iphone case",
        "p6",
        {"product_word_match": "accessory", "accessory_relation": "query_wants_accessory"},
        1,
    ),
    ("case for iphone", "p7", {"query_product_word": "case", "accessory_target_match": True}, 3),
    ("water bottle under $20", "p10", {"price_intent": "max", "price_ok": False, "price_limit": 20.0}, 2),
    ("water bottle under 20 dollars", "p11", {"price_intent": "max", "price_ok": True}, 3),
    ("bpa free water bottle", "p10", {"negation_violated": False}, 3),  # the product is BPA-free itself
    ("gluten free pasta", "p13", {"negation_violated": True}, 1),
    ("pasta without gluten", "p12", {"negation_violated": False}, 3),
    ("lawn mower", "p15", {"product_word_match": "accessory"}, 1),
    ("lawn mower", "p14", {"product_word_match": "exact"}, 3),
    ("crocs alternative", "p17", {"alternative_requested": True, "alternative_same_brand": False}, 3),
    ("crocs alternative", "p16", {"alternative_same_brand": True}, 2),
    ("like crocs clogs", "p17", {"alternative_to": "Crocs", "query_product_word": "clog"}, 3),
    ("blue sneakers", "p4", {"n_attribute_mismatches": 1}, 2),
    ("red sneakers", "p4", {"n_attribute_matches": 1, "n_attribute_mismatches": 0}, 3),
    ("womens running shoes", "p1", {"n_attribute_mismatches": 1}, 2),
    ("32 oz water bottle", "p11", {"n_attribute_mismatches": 1}, 2),
    ("32 oz water bottle", "p10", {"n_attribute_matches": 1}, 3),
    ("rnning shoes", "p1", {"n_missing_modifiers": 0}, 3),  # a typo of a word the product has
    ("iphone case", "p9", {"product_word_match": "none"}, 0),
    ("cheap water bottle", "p11", {"price_intent": "cheap", "price_ok": True}, 3),
    ("premium water bottle", "p11", {"price_intent": "premium", "price_ok": False}, 2),
    ("rain boots", "p21", {"product_word_match": "none", "category_match": True}, 1),  # same category only
    ("sneakers", "p3", {"product_word_match": "none", "category_match": False}, 0),
    ("what shoes are good for running in the rain?", "p1", {"is_question": True}, 2),
]


@pytest.fixture()
def analyst(mini_products: pd.DataFrame) -> AttributeAnalyst:
    return AttributeAnalyst.from_products(mini_products, min_count=1)


@pytest.mark.parametrize(
    ("query", "pid", "expected", "grade"), CASES, ids=[f"{q}|{p}" for q, p, _, _ in CASES]
)
def test_hand_written_case(analyst, mini_products, query, pid, expected, grade):
    row = mini_products.set_index("product_id").loc[pid].to_dict() | {"product_id": pid}
    analysis = analyst.analyze(query, row)
    fields = analysis.fields()
    assert set(fields) == set(ANALYSIS_FIELDS)
    for key, value in expected.items():
        assert fields[key] == value, (key, fields[key], analysis)
    assert apply_rules(analysis).grade == grade, apply_rules(analysis)


def test_query_facts_extraction(analyst):
    q = analyst.analyze_query("nike womens black running shoes without laces under $120")
    assert q.product_word == "running shoe"
    assert q.brand == "Nike"
    assert ("gender", "women") in q.attributes and ("color", "black") in q.attributes
    assert q.negations == ["lace"]
    assert q.price is not None and q.price.kind == "max" and q.price.high == 120.0
    q = analyst.analyze_query("less than 30 dollars charger")
    assert q.price.high == 30.0 and q.product_word == "charger"
    q = analyst.analyze_query("$20 - $50 water bottle")
    assert q.price.kind == "range" and (q.price.low, q.price.high) == (20.0, 50.0)
    q = analyst.analyze_query("charger for samsung galaxy")
    assert q.product_word == "charger" and q.accessory_for and "samsung" in q.accessory_for
    assert analyst.analyze_query("nike dupe").alternative_requested


def test_vocabulary_is_learned_from_the_catalogue(mini_products):
    v = Vocabulary.from_products(mini_products, min_count=1)
    assert {"nike", "hydro flask", "amazon basics"} <= v.brands
    assert v.brand_name("croc") == "Crocs"
    assert {"running shoe", "water bottle", "lawn mower", "clog"} <= set(v.product_words)
    assert v.attribute_values["leather"] == "material" and v.attribute_values["black"] == "color"
    assert "Shoes > Running Shoes" in v.categories_of("running shoe")
    assert "trail runner" in v.synonyms.get("running shoe", [])
    lo, hi = v.price_band("water bottle")
    assert 12.0 <= lo <= hi <= 39.0
    again = Vocabulary.from_dict(json.loads(json.dumps(v.to_dict())))
    assert again.to_dict() == v.to_dict()


def test_brands_from_title_prefixes_when_no_brand_column():
    titles = [
        "House of Fara 3/4 in. MDF Casing",
        "House of Fara 8 ft. Wainscot Kit",
        "Delta Vero Faucet Trim Kit",
        "Delta Foundations Bathroom Faucet",
        "Whirlpool Microwave",
        "Whirlpool Gas Range",
    ]
    v = Vocabulary.from_products(pd.DataFrame({"title": titles}))
    assert {"house of fara", "delta", "whirlpool"} <= v.brands
    a = AttributeAnalyst(v).analyze("whirlpool range", {"title": "Whirlpool Gas Range"})
    assert a.query.brand == "whirlpool" and a.match.brand_match is True


def test_text_normalization():
    assert normalize_text("3/4 in. x 8 ft. MDF, 1.9 cu. ft.") == "0.75_in x 8_ft mdf, 1.9_cuft"
    assert normalize_text("Pack of 6 AA") == "6_pack aa"
    assert tokenize("Men's Batteries 2-Pack") == ["men", "battery", "2_pack"]
    assert singular("knives") == "knife" and singular("glass") == "glass" and singular("boxes") == "box"
    head, target = title_head("Replacement Filter for Whirlpool Refrigerators, White")
    assert head[-1] == "filter" and target.startswith("whirlpool")


def test_analyze_pairs_builds_its_own_vocabulary(mini_pairs):
    out = analyze_pairs(mini_pairs)
    assert len(out) == len(mini_pairs)
    assert all(a.match.product_word_match in ANALYSIS_FIELDS["product_word_match"].values for a in out)


@pytest.mark.realdata
def test_home_depot_titles(shared_data):
    """2,000 real pairs: never crashes, finds a product word for most queries and products."""
    path = shared_data / "homedepot" / "train.csv"
    df = pd.read_csv(path, encoding="latin-1", nrows=2000)
    products = df.drop_duplicates("product_uid").rename(
        columns={"product_uid": "product_id", "product_title": "title"}
    )
    analyst = AttributeAnalyst.from_products(products[["product_id", "title"]])
    sources, matches, product_words = [], [], 0
    for r in df.itertuples():
        a = analyst.analyze(r.search_term, {"product_id": str(r.product_uid), "title": r.product_title})
        apply_rules(a)
        sources.append(a.query.product_word_source)
        matches.append(a.match.product_word_match)
        product_words += a.product.product_word is not None
    found = pd.Series(sources).ne("none").mean()
    from_vocab = pd.Series(sources).isin(["vocabulary", "spelling"]).mean()
    print(
        {
            "query_product_word": round(found, 3),
            "from_vocabulary": round(from_vocab, 3),
            "product_product_word": round(product_words / len(df), 3),
            "match": pd.Series(matches).value_counts(normalize=True).round(3).to_dict(),
        }
    )
    assert found > 0.9
    assert from_vocab > 0.6
    assert product_words / len(df) > 0.95

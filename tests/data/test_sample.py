"""The built-in sample store: size, realism, determinism, noise, grade balance, engagement, CLI."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

from ecomrel.data.sample import KINDS, generate_sample
from ecomrel.data.schema import Dataset
from ecomrel.grades import DEFAULT_SCALE


@pytest.fixture(scope="module")
def full() -> Dataset:
    """The default-size sample (about 3 s)."""
    return generate_sample(seed=0)


@pytest.fixture(scope="module")
def small() -> Dataset:
    return generate_sample(n_products=400, n_queries=80, seed=0, noise=0.1)


def test_default_size_looks_like_a_store(full: Dataset) -> None:
    p = full.products
    assert len(p) >= 2000
    assert p["category"].nunique() >= 20
    assert p["category"].str.count(" > ").min() >= 1  # category paths, not flat labels
    assert p["product_id"].is_unique
    assert p["brand"].notna().all() and p["price"].gt(0).all()
    # several brands per category and brands shared across categories
    assert p.groupby("category")["brand"].nunique().min() >= 3
    assert (p.groupby("brand")["category"].nunique() > 1).sum() >= 10
    assert p["attributes"].map(len).gt(0).all()
    keys = {k for a in p["attributes"] for k in a}
    assert {"colour", "size", "material", "gender", "pack size", "capacity"} <= keys
    # prices differ realistically by category
    med = p.groupby("category")["price"].median()
    assert med.max() / med.min() > 20
    assert len(full.queries) >= 400


def test_every_query_kind_is_present(full: Dataset, small: Dataset) -> None:
    for ds in (full, small):
        assert set(ds.queries["kind"]) == set(KINDS)
        assert ds.queries["text"].is_unique
    kinds = full.queries.set_index("text")["kind"]
    texts = full.queries["text"]
    assert texts[kinds.to_numpy() == "negation"].str.contains(r"\b(?:not|without|no|non|except)\b").all()
    assert (
        texts[kinds.to_numpy() == "price"]
        .str.contains(r"under|less|below|cheap|afford|budget|cost|expensive|\$")
        .all()
    )
    assert texts[kinds.to_numpy() == "question"].str.contains(r"^(?:what|how|which|best|do)\b").all()


def test_frequency_profile_is_zipf_like(full: Dataset) -> None:
    f = full.queries["frequency"].sort_values(ascending=False).to_numpy()
    assert f.min() >= 1 and f[0] > 50 * np.median(f)
    top = f[: len(f) // 10].sum() / f.sum()
    assert top > 0.5  # the head carries most of the traffic
    by_kind = full.queries.groupby("kind")["frequency"].median()
    assert by_kind["bare"] > by_kind["question"] and by_kind["bare"] > by_kind["misspelling"]


def test_candidates_per_query(full: Dataset) -> None:
    per_q = full.judgments.groupby("query_id").size()
    assert per_q.min() >= 15 and per_q.max() <= 40
    assert set(per_q.index) == set(full.queries["query_id"])
    assert not full.judgments.duplicated(["query_id", "product_id"]).any()
    assert set(full.judgments["product_id"]) <= set(full.products["product_id"])


def test_grade_distribution_not_degenerate(full: Dataset, small: Dataset) -> None:
    for ds in (full, small):
        for col in ("grade", "true_grade"):
            share = ds.judgments[col].value_counts(normalize=True)
            assert set(share.index) == {0, 1, 2, 3}
            assert share.min() >= 0.05, (col, share.to_dict())
    j = full.judgments
    assert (j["source_label"] == j["grade"].map(DEFAULT_SCALE.name)).all()
    assert j["raw_score"].isna().all()


def test_noise_share_and_direction() -> None:
    ds = generate_sample(n_products=400, n_queries=80, seed=3, noise=0.2)
    j = ds.judgments
    flipped = j["grade"] != j["true_grade"]
    assert flipped.mean() == pytest.approx(0.2, abs=0.002)
    diff = (j["grade"] - j["true_grade"])[flipped]
    assert (diff.abs() == 1).mean() > 0.7  # mostly adjacent
    assert (diff > 0).mean() > 0.5  # annotators are optimistic more often
    clean = generate_sample(n_products=400, n_queries=80, seed=3, noise=0.0)
    assert (clean.judgments["grade"] == clean.judgments["true_grade"]).all()
    # the ground truth does not depend on the noise level
    pd.testing.assert_series_equal(clean.judgments["true_grade"], j["true_grade"])


def test_ground_truth_rules_on_examples(full: Dataset) -> None:
    """Spot-check the documented rules on the generated data itself."""
    pairs = full.pairs().merge(full.queries[["query_id", "kind"]], on="query_id")
    neg = pairs[(pairs["kind"] == "negation") & pairs["query"].str.match(r"^.* not leather$")]
    for _, r in neg.iterrows():
        if r["attributes"].get("material") == "leather":
            assert r["true_grade"] <= 1
    price = pairs[(pairs["kind"] == "price") & pairs["query"].str.contains(r"under \$\d+$")]
    for _, r in price.iterrows():
        limit = float(r["query"].rsplit("$", 1)[1])
        if r["true_grade"] == 3:
            assert r["price"] <= limit
    # an exact match for a brand query is of that brand
    brand = pairs[(pairs["kind"] == "brand") & (pairs["true_grade"] == 3)]
    assert (brand.apply(lambda r: r["brand"].lower() in r["query"], axis=1)).all()


def test_determinism(small: Dataset) -> None:
    again = generate_sample(n_products=400, n_queries=80, seed=0, noise=0.1)
    for name in ("queries", "judgments", "engagement"):
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))
    pd.testing.assert_frame_equal(
        small.products.drop(columns="attributes"), again.products.drop(columns="attributes")
    )
    assert small.products["attributes"].tolist() == again.products["attributes"].tolist()
    other = generate_sample(n_products=400, n_queries=80, seed=1, noise=0.1)
    assert not small.products["title"].equals(other.products["title"])
    assert not small.queries["text"].equals(other.queries["text"])


def test_engagement_follows_relevance_but_not_always(full: Dataset) -> None:
    e = full.engagement.merge(full.judgments, on=["query_id", "product_id"])
    assert len(e) == len(full.judgments)
    assert (e["clicks"] <= e["impressions"]).all()
    assert (e["add_to_carts"] <= e["clicks"]).all() and (e["orders"] <= e["add_to_carts"]).all()
    assert e["position"].min() == 1
    ctr = e["clicks"] / e["impressions"].clip(lower=1)
    assert spearmanr(ctr, e["true_grade"]).statistic > 0
    # disagreements: some less-than-exact items out-click the query's best exact item …
    best = e.assign(ctr=ctr).groupby(["query_id", "true_grade"])["clicks"].max().unstack()
    both = best.dropna(subset=[2, 3])
    assert ((both[2] > both[3]).mean()) > 0.1
    # … and some exact items are rarely shown
    exact = e[e["true_grade"] == 3]
    assert (exact["impressions"] < exact["impressions"].median() / 5).mean() > 0.05
    # position bias: top positions get more impressions
    assert (
        e.loc[e["position"] <= 3, "impressions"].mean() > 2 * e.loc[e["position"] > 15, "impressions"].mean()
    )


def test_round_trip_through_parquet(small: Dataset, tmp_path) -> None:
    small.save(tmp_path)
    back = Dataset.load(tmp_path)
    assert back.products["attributes"].tolist() == small.products["attributes"].tolist()
    assert back.judgments["true_grade"].tolist() == small.judgments["true_grade"].tolist()
    assert back.queries["kind"].tolist() == small.queries["kind"].tolist()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="noise"):
        generate_sample(n_products=400, n_queries=10, noise=1.5)
    with pytest.raises(ValueError, match="n_products"):
        generate_sample(n_products=5, n_queries=10)


def test_cli_sample(tmp_path) -> None:
    from ecomrel.cli import app

    out = tmp_path / "s"
    res = CliRunner().invoke(
        app,
        [
            "data",
            "sample",
            "--out",
            str(out),
            "--products",
            "300",
            "--queries",
            "40",
            "--seed",
            "2",
            "--noise",
            "0.05",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "noise flips" in res.output and "kind: negation" in res.output
    ds = Dataset.load(out)
    assert len(ds.products) == 300 and len(ds.queries) == 40
    assert ds.splits is not None and set(ds.splits["query_id"]) == set(ds.queries["query_id"])
    bad = CliRunner().invoke(app, ["data", "sample", "--out", str(out), "--noise", "2"])
    assert bad.exit_code == 2 and "noise" in bad.output


def test_brands_and_fitments_are_plausible(full: Dataset) -> None:
    p = full.products
    cases = p[p["title"].str.contains("Phone Case for|Case for iPhone|Case for Galaxy|Case for Pixel")]
    apple = cases[cases["brand"] == "Apple"]
    assert len(apple) and apple["attributes"].map(lambda a: a["compatible with"].startswith("iPhone")).all()
    phones = p[p["category"] == "Electronics > Cell Phones"]
    a15 = phones[phones["attributes"].map(lambda a: a.get("model") == "Galaxy A15")]
    ultra = phones[phones["attributes"].map(lambda a: a.get("model") == "Galaxy S24 Ultra")]
    if len(a15) and len(ultra):
        assert a15["price"].median() < ultra["price"].median()
    doubled = [t for t in p["title"] if re.search(r"\b(\w+ \w+) \1\b", t)]
    assert not doubled  # no "Tempered Glass Tempered Glass"


def test_small_sample_is_fast_and_split_by_band(small: Dataset) -> None:
    import time

    from ecomrel.data.splits import frequency_bands, split_by_query

    t0 = time.perf_counter()
    generate_sample(n_products=400, n_queries=80, seed=9)
    assert time.perf_counter() - t0 < 3.0
    s = split_by_query(small.queries, seed=0)
    bands = frequency_bands(small.queries["frequency"])
    assert set(bands) == {"head", "torso", "tail"}
    assert set(s.loc[bands.to_numpy() == "tail", "split"]) == {"train", "dev", "test"}


def test_vocabulary_is_a_validated_yaml_resource():
    import pydantic
    import yaml

    from ecomrel.data import sample_vocab as V

    types = V.build_types()
    names = {t.name for t in types}
    assert len(types) == len(names) >= 150
    for t in types:  # every relation names a type that exists, every title attribute is an attribute
        assert set(t.accessory_for) | set(t.complements) | set(t.substitutes) <= names, t.name
        assert set(t.title_attrs) <= set(t.attrs) | set(t.brand_values), t.name
    assert "Lodge" in V.POPULAR_BRANDS and V.PREMIUM_BRANDS <= V.ALTERNATIVE_TARGETS
    raw = yaml.safe_load(V.vocabulary().model_dump_json())
    raw["categories"]["Home > Kitchen > Cookware"][0]["colour_typo"] = ["red"]
    with pytest.raises(pydantic.ValidationError, match="colour_typo"):
        V.SampleVocabulary.model_validate(raw)

"""Lexical baselines: product text, BM25 against the formula, TF-IDF cosine, grade cuts, the stage."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from ecomrel.baselines import GradeThresholds, analyze, product_text, run_baseline, score_pairs
from ecomrel.baselines.lexical import _macro_f1
from ecomrel.data.schema import DataError, Dataset, read_table
from ecomrel.eval import check_predictions


def test_product_text_joins_title_brand_leaf_and_attribute_values():
    df = pd.DataFrame(
        {
            "title": ["Oak Desk", "Lamp"],
            "brand": ["Acme", None],
            "category": ["Home > Office > Desks", None],
            "attributes": [{"colour": "brown", "material": "oak"}, [("size", "XL")]],
            "description": ["solid wood", "bright"],
        }
    )
    assert product_text(df).tolist() == ["Oak Desk Acme Desks brown oak", "Lamp XL"]
    assert product_text(df, description=True)[0].endswith("solid wood")
    assert product_text(df[["title"]]).tolist() == ["Oak Desk", "Lamp"]


def test_analyzer_stems_and_drops_stop_words():
    assert analyze("The Cordless Drills for 2 walls") == ["cordless", "drill", "2", "wall"]
    assert analyze("drills", stem=False) == ["drills"]


def _bm25_by_hand(query: list[str], doc: list[str], corpus: list[list[str]], k1=1.5, b=0.75) -> float:
    """Lucene BM25 (bm25s's default): idf = ln(1 + (N − df + 0.5)/(df + 0.5)), and, as in Lucene ≥ 8,
    no (k1 + 1) factor in the numerator of the term-frequency part."""
    n = len(corpus)
    avgdl = sum(len(d) for d in corpus) / n
    total = 0.0
    for term in set(query):
        df = sum(term in d for d in corpus)
        tf = doc.count(term)
        if tf == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        total += idf * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
    return total


PAIRS = pd.DataFrame(
    {
        "query": ["red shoe", "red shoe", "red shoe", "blue lamp", "blue lamp"],
        "product_id": ["p1", "p2", "p3", "p1", "p4"],
        "title": ["red shoe", "blue shoe shoe", "desk lamp", "red shoe", "blue lamp blue"],
    }
)


def test_bm25_matches_the_formula_over_unique_products():
    scores = score_pairs("bm25", PAIRS)
    corpus = [["red", "shoe"], ["blue", "shoe", "shoe"], ["desk", "lamp"], ["blue", "lamp", "blue"]]
    docs = {"p1": corpus[0], "p2": corpus[1], "p3": corpus[2], "p4": corpus[3]}
    expected = [
        _bm25_by_hand(analyze(q), docs[p], corpus)
        for q, p in zip(PAIRS["query"], PAIRS["product_id"], strict=True)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert scores[0] > scores[1] > scores[2] == 0.0
    # row order does not matter: each row keeps its own score
    perm = [4, 2, 0, 3, 1]
    np.testing.assert_allclose(score_pairs("bm25", PAIRS.iloc[perm]), scores[perm], rtol=1e-6)


def test_tfidf_cosine():
    scores = score_pairs("tfidf", PAIRS)
    assert scores[0] == pytest.approx(1.0)  # identical text
    assert scores[2] == 0.0 and scores[3] == 0.0  # no shared word
    assert 0 < scores[1] < 1 and 0 < scores[4] < 1
    assert score_pairs("tfidf", PAIRS.iloc[:0]).shape == (0,)


def test_score_pairs_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown lexical method"):
        score_pairs("dense", PAIRS)
    with pytest.raises(ValueError, match="query"):
        score_pairs("bm25", PAIRS.drop(columns="query"))


def test_fast_macro_f1_equals_scikit_learn():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 4, 50)
        p = rng.integers(0, 3, 50)
        assert _macro_f1(y, p, 4) == pytest.approx(f1_score(y, p, average="macro", zero_division=0))


def test_thresholds_recover_separable_grades_and_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    grades = rng.integers(0, 4, 400)
    scores = grades * 10 + rng.random(400)  # grade g lives in [10g, 10g + 1)
    thr = GradeThresholds.fit(scores, grades, method="bm25")
    assert thr.objective_value == pytest.approx(1.0)
    assert list(thr.cuts) == sorted(thr.cuts) and len(thr.cuts) == 3
    assert (thr.predict(scores) == grades).all()
    expected = thr.expected_grade(np.sort(scores))
    assert (np.diff(expected) >= 0).all() and expected.min() >= 0 and expected.max() <= 3
    path = thr.save(tmp_path / "t.json")
    again = GradeThresholds.load(path)
    assert again == thr and json.loads(path.read_text())["method"] == "bm25"
    with pytest.raises(ValueError, match="objective"):
        GradeThresholds.fit(scores, grades, objective="auc")


def _tiny_folder(path) -> Dataset:
    products = pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(8)],
            "title": [
                "red running shoe",
                "blue running shoe",
                "shoe laces",
                "oak desk",
                "desk lamp",
                "pine desk",
                "red lamp",
                "garden hose",
            ],
            "brand": ["Acme", "Acme", "Lace Co", "Woody", "Brite", "Woody", "Brite", "Flow"],
            "category": [
                "Shoes",
                "Shoes",
                "Shoes > Accessories",
                "Desks",
                "Lamps",
                "Desks",
                "Lamps",
                "Garden",
            ],
        }
    )
    queries = pd.DataFrame(
        {"query_id": ["q1", "q2", "q3", "q4"], "text": ["red shoe", "desk", "lamp", "shoes"]}
    )
    judgments = pd.DataFrame(
        {
            "query_id": ["q1"] * 4 + ["q2"] * 3 + ["q3"] * 3 + ["q4"] * 3,
            "product_id": ["p0", "p1", "p2", "p7", "p3", "p5", "p4", "p4", "p6", "p3", "p0", "p1", "p7"],
            "grade": [3, 2, 1, 0, 3, 3, 1, 3, 3, 0, 3, 3, 0],
        }
    )
    splits = pd.DataFrame({"query_id": ["q1", "q2", "q3", "q4"], "split": ["dev", "dev", "test", "test"]})
    ds = Dataset(products=products, queries=queries, judgments=judgments, splits=splits)
    ds.save(path)
    return ds


def test_run_baseline_writes_contract_predictions_and_thresholds(tmp_path):
    _tiny_folder(tmp_path / "data")
    res = run_baseline("bm25", tmp_path / "data", tmp_path / "out")
    pred = read_table(res["predictions"])
    assert len(pred) == 13 and {"query_id", "product_id", "score", "pred_grade", "expected_grade"} <= set(
        pred
    )
    check_predictions(pred)
    assert GradeThresholds.load(res["thresholds"]).meta["tuned_on"] == "dev"
    assert res["metrics"]["n_pairs"] == 6 and res["metrics"]["n_missing_predictions"] == 0
    assert res["metrics"]["ndcg@10"] > 0.5
    with pytest.raises(DataError, match="split 'nope'"):
        run_baseline("tfidf", tmp_path / "data", tmp_path / "out", tune_split="nope")


def test_baseline_cli(tmp_path):
    from ecomrel.cli import app

    _tiny_folder(tmp_path / "data")
    runner = CliRunner()
    res = runner.invoke(
        app, ["baseline", "tfidf", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "tfidf_predictions.parquet").exists() and "cuts" in res.output
    bad = runner.invoke(
        app,
        [
            "baseline",
            "bm25",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "o"),
            "--tune-split",
            "train",
        ],
    )
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_bm25_beats_random_on_the_sample(request):
    pytest.importorskip("ecomrel.data.sample")
    pytest.importorskip("ecomrel.data.splits")
    sample_dir = request.getfixturevalue("sample_dir")
    res = run_baseline("bm25", sample_dir, sample_dir.parent / "bm25_out", eval_split="dev")
    ds = Dataset.load(sample_dir)
    pairs = ds.pairs(split="dev")
    rng = np.random.default_rng(0)
    from ecomrel.eval import evaluate

    random_pred = pairs[["query_id", "product_id"]].assign(score=rng.random(len(pairs)), pred_grade=0)
    rand = evaluate(ds, random_pred, split="dev", metrics=["ndcg@10"])
    assert res["metrics"]["ndcg@10"] > rand["ndcg@10"]

"""Cross-fitting (a helper never scores a pair it trained on), resume, samplers and the scorers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomrel.select.config import ScorerSettings
from ecomrel.select.helpers import (
    DONE_FILE,
    HelperScorer,
    LinearScorer,
    assign_folds,
    band_balanced_sample,
    crossfit,
    make_scorer,
    uniform_sample,
)


def pool(n_queries: int = 12, per_query: int = 5) -> pd.DataFrame:
    rows = []
    for q in range(n_queries):
        for p in range(per_query):
            rows.append(
                {
                    "query_id": f"q{q}",
                    "product_id": f"p{q}_{p}",
                    "query": f"drill {q}",
                    "title": f"drill {q} kit" if p % 2 else f"paint {p}",
                    "grade": (q + p) % 4,
                }
            )
    return pd.DataFrame(rows)


class Recording(HelperScorer):
    """Remembers what it trained on and what it scored; can fail on the n-th fit (a killed run)."""

    kind = "recording"

    def __init__(self, fail_on_fit: int | None = None):
        super().__init__(ScorerSettings(), 4)
        self.fits: list[set[str]] = []
        self.scored: list[set[str]] = []
        self.fail_on_fit = fail_on_fit

    @staticmethod
    def keys(pairs):
        return set(pairs["query_id"] + "/" + pairs["product_id"])

    def fit(self, pairs, targets, folder: Path):
        if self.fail_on_fit is not None and len(self.fits) + 1 == self.fail_on_fit:
            raise KeyboardInterrupt("killed")
        self.fits.append(self.keys(pairs))
        (folder / "model").mkdir()
        return {"n": len(pairs)}

    def predict_proba(self, pairs, folder: Path):
        self.scored.append(self.keys(pairs))
        p = np.full((len(pairs), 4), 0.1)
        p[np.arange(len(pairs)), pairs["grade"].to_numpy()] = 0.7
        return p


def uniform(idx, rng):
    return uniform_sample(idx, 1.0, None, rng)


def test_folds_are_query_disjoint_and_balanced():
    df = pool()
    folds = assign_folds(df, 3, seed=0)
    assert set(folds) == {0, 1, 2}
    per_query = df.assign(f=folds).groupby("query_id")["f"].nunique()
    assert (per_query == 1).all()
    assert np.bincount(folds).tolist() == [20, 20, 20]
    assert (assign_folds(df, 3, seed=0) == folds).all()
    by_pair = assign_folds(df, 3, seed=0, group_by_query=False)
    assert df.assign(f=by_pair).groupby("query_id")["f"].nunique().max() > 1


def test_a_helper_never_scores_its_training_pairs(tmp_path):
    df = pool()
    folds = assign_folds(df, 4, seed=1)
    scorer = Recording()
    probs, stats = crossfit("im", scorer, df, df["grade"].to_numpy(), folds, uniform, tmp_path)
    assert stats["trained"] == 4
    assert not np.isnan(probs).any()
    everything = Recording.keys(df)
    for trained, scored in zip(scorer.fits, scorer.scored, strict=True):
        assert not trained & scored
        assert trained | scored == everything  # sample_fraction 1: all the other folds
    assert sorted(k for s in scorer.scored for k in s) == sorted(everything)  # each pair scored once
    assert (probs.argmax(1) == df["grade"].to_numpy()).all()  # rows land back in pool order


def test_killed_run_resumes_without_retraining_finished_folds(tmp_path):
    df = pool()
    folds = assign_folds(df, 3, seed=0)
    targets = df["grade"].to_numpy()
    with pytest.raises(KeyboardInterrupt):
        crossfit("ci", Recording(fail_on_fit=3), df, targets, folds, uniform, tmp_path)
    assert (tmp_path / "fold_0" / DONE_FILE).exists() and (tmp_path / "fold_1" / DONE_FILE).exists()
    assert not (tmp_path / "fold_2" / DONE_FILE).exists()
    again = Recording()
    probs, stats = crossfit("ci", again, df, targets, folds, uniform, tmp_path)
    assert stats["reused"] == 2 and stats["trained"] == 1 and len(again.fits) == 1
    assert not np.isnan(probs).any()
    # different settings: nothing is reused
    third = Recording()
    _, stats = crossfit("ci", third, df, targets, folds, uniform, tmp_path, settings_fp="lr=1e-4")
    assert stats["trained"] == 3 and stats["reused"] == 0


def test_samplers():
    rng = np.random.default_rng(0)
    idx = np.arange(100)
    s = uniform_sample(idx, 0.3, None, rng)
    assert len(s) == 30 and len(set(s)) == 30
    assert len(uniform_sample(idx, 0.3, 10, rng)) == 10
    bands = np.array(["head"] * 80 + ["torso"] * 15 + ["tail"] * 5)
    b = band_balanced_sample(idx, bands, 0.3, None, rng)
    assert [int((bands[b] == x).sum()) for x in ("head", "torso", "tail")] == [10, 10, 10]
    assert set(b[bands[b] == "tail"]) == set(range(95, 100))  # all 5, then drawn again
    short = band_balanced_sample(idx, bands, 0.3, None, rng, oversample=False)
    assert int((bands[short] == "tail").sum()) == 5


def test_linear_scorer_learns_and_saves_safetensors(tmp_path):
    df = pool(30, 6)
    df["title"] = np.where(df["grade"] >= 2, df["query"] + " exact", "unrelated thing")
    s = make_scorer(ScorerSettings(kind="linear", linear_features=2048), 4)
    assert isinstance(s, LinearScorer)
    s.fit(df, df["grade"].to_numpy(), tmp_path)
    assert (tmp_path / "model" / "linear.safetensors").exists()
    p = s.predict_proba(df, tmp_path)
    assert p.shape == (len(df), 4) and np.allclose(p.sum(1), 1)
    assert ((p[:, 2:].sum(1) > 0.5) == (df["grade"] >= 2)).mean() > 0.9


def test_cross_encoder_scorer_on_a_tiny_bert(tmp_path, tiny_bert_base):
    pytest.importorskip("sentence_transformers")
    base = tiny_bert_base(tmp_path / "bert")
    df = pool(8, 4)
    s = make_scorer(ScorerSettings(base_model=str(base), max_steps=3, batch_size=8, max_length=32), 4)
    s.fit(df, df["grade"].to_numpy(), tmp_path / "fold")
    assert (tmp_path / "fold" / "model" / "model.safetensors").exists()
    fresh = make_scorer(s.settings, 4)  # a resumed run: reads the fold's model from disk
    p = fresh.predict_proba(df.head(5), tmp_path / "fold")
    assert p.shape == (5, 4) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_llm_judge_scorer_on_a_tiny_llama(tmp_path, tiny_llm_builders):
    """The second implementation: a LoRA adapter trained by ecomrel's SFT, scored by the judge's scorer."""
    pytest.importorskip("peft")
    pytest.importorskip("trl")
    import torch

    torch.set_num_threads(1)
    corpus = [
        "You are a search relevance judge for an online shop. Grade how well the product matches the query.",
        "Grades: 0 = irrelevant, 1 = complement, 2 = substitute, 3 = exact. Reply with the grade first.",
        "Query: drill kit paint Product: Title: Brand: Category: Attributes: Price:",
    ]
    tok = tiny_llm_builders.tokenizer(corpus, 400)
    model_dir = tmp_path / "tiny_llm"
    tiny_llm_builders.model(tok, max_position_embeddings=2048).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    df = pool(4, 3)
    settings = ScorerSettings(
        kind="llm_judge",
        base_model=str(model_dir),
        max_steps=2,
        batch_size=2,
        max_length=512,
        eval_batch_size=4,
    )
    s = make_scorer(settings, 4)
    s.fit(df, df["grade"].to_numpy(), tmp_path / "fold")
    assert (tmp_path / "fold" / "model" / "adapter_model.safetensors").exists()
    p = make_scorer(settings, 4).predict_proba(df.head(5), tmp_path / "fold")
    assert p.shape == (5, 4) and np.allclose(p.sum(1), 1, atol=1e-5)

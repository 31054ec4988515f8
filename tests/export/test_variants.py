"""Every serving variant on a tiny BERT: files, manifest with fidelity against torch fp32 and speed; the
bf16 decision follows the CPU (simulated with ECOMREL_CPU_BF16); the CLI.

(Whether a variant *passes* the fidelity bars is a property of a trained student, measured by
benchmarks/student_speed.py; a tiny random BERT has near-constant outputs.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("sentence_transformers")

from ecomrel.export.variants import (  # noqa: E402
    ALL_VARIANTS,
    VARIANTS_MANIFEST,
    VariantOptions,
    check_variants,
    export_variants,
    load_variant,
)
from ecomrel.student.model import make_student  # noqa: E402
from ecomrel.student.recipe import StudentRecipe  # noqa: E402

torch.set_num_threads(1)
HAS_OV = all(__import__("importlib").util.find_spec(m) is not None for m in ("openvino", "nncf"))
WANTED = ALL_VARIANTS if HAS_OV else tuple(v for v in ALL_VARIANTS if not v.startswith("openvino"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_bert_base, sample_dir) -> tuple[Path, Path, dict]:
    import os

    root = tmp_path_factory.mktemp("variants")
    base = tiny_bert_base(root / "base", seed=3)
    recipe = StudentRecipe(max_length=48)
    model = make_student(str(base), recipe, device="cpu")
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "classifier" in n and n.endswith("weight")).mul_(30)
    model.save_pretrained(str(root / "model"))
    recipe.save(root / "model")
    old = os.environ.get("ECOMREL_CPU_BF16")
    os.environ["ECOMREL_CPU_BF16"] = "0"  # a CPU without bf16, whatever this one has
    try:
        opts = VariantOptions(
            variants=WANTED,
            data_dir=sample_dir,
            calibration_pairs=24,
            heldout_pairs=40,
            batches=(1, 4),
            rounds=1,
            seconds=0.01,
        )
        manifest = export_variants(root / "model", root / "export", opts)
    finally:
        if old is None:
            os.environ.pop("ECOMREL_CPU_BF16")
        else:
            os.environ["ECOMREL_CPU_BF16"] = old
    return root, root / "export", manifest


def test_every_variant_is_written_with_fidelity_speed_and_size(exported):
    root, out, manifest = exported
    assert json.loads((out / VARIANTS_MANIFEST).read_text()) == json.loads(json.dumps(manifest, default=str))
    assert set(manifest["variants"]) == set(WANTED)
    for f in ("model.onnx", "model_int8.onnx", "model_int8_plain.onnx", "torch_bf16/model.safetensors"):
        assert (out / f).exists(), f
    if HAS_OV:
        assert (out / "openvino" / "model.xml").exists() and (out / "openvino_int8" / "model.xml").exists()
    for name, e in manifest["variants"].items():
        f = e["fidelity"]
        assert f["n"] == 40 and 0 <= f["argmax_agreement"] <= 1 and 0 <= f["decided_agreement"] <= 1, name
        assert -1 <= f["spearman"] <= 1 and f["expected_grade_mae"] >= 0, name
        assert set(e["speed"]) == {"1", "4"} and all(s["pairs_per_s"] > 0 for s in e["speed"].values()), name
        assert e["size_mb"] > 0, name
    ref = manifest["variants"]["torch-fp32"]
    assert ref["fidelity"]["expected_grade_mae"] == 0 and ref["speed"]["4"]["vs_torch_fp32"] == 1.0
    # fp32 graphs compute the same function as torch
    assert manifest["variants"]["onnx-fp32"]["fidelity"]["max_prob_diff"] < 1e-4
    # pairs came from the user's data folder: calibration from train, held-out from dev
    assert manifest["pairs"]["calibration"] == 24 and "split dev" in manifest["pairs"]["how"]
    assert manifest["machine"]["bf16"] is False and manifest["variants"]["torch-bf16"]["precision"] == "bf16"
    if HAS_OV:
        assert manifest["steps"]["openvino-int8"]["calibration_pairs"] == 24


@pytest.mark.parametrize("name", WANTED)
def test_each_variant_loads_and_predicts_distributions(exported, name):
    _, out, _ = exported
    pred = load_variant(out, name)
    p = pred.predict_proba(
        ["cast iron skillet", "usb cable"], ["Lodge 12 in skillet", "hdmi cable"], batch_size=1
    )
    assert p.shape == (2, 4) and np.allclose(p.sum(1), 1, atol=1e-4)


def test_openvino_precision_follows_the_cpu(exported, monkeypatch):
    pytest.importorskip("openvino")
    from ecomrel.export.openvino import OpenVinoStudent, inference_precision

    _, out, manifest = exported
    monkeypatch.setenv("ECOMREL_CPU_BF16", "0")
    assert inference_precision() == "f32" and manifest["variants"]["openvino"]["precision"] == "f32"
    s = OpenVinoStudent(out, "fp32")
    assert s.precision == "f32" and s.runtime_precision == "f32"
    monkeypatch.setenv("ECOMREL_CPU_BF16", "1")  # simulated AMX / AVX512-BF16 CPU
    assert inference_precision() == "bf16" and OpenVinoStudent(out, "fp32").precision == "bf16"
    assert inference_precision("f32") == "f32"


def test_unknown_variant_and_bad_batches_are_config_errors(exported, tmp_path):
    from ecomrel.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown"):
        check_variants(["onnx-int8", "tensorrt"])
    assert check_variants(["onnx-int8"]) == ["torch-fp32", "onnx-int8"]
    root, _, _ = exported
    with pytest.raises(ConfigError, match="batches"):
        export_variants(root / "model", tmp_path / "x", VariantOptions(batches=(0,)))


def test_cli_export_variants(exported, tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    root, _, _ = exported
    args = ["export", "variants", "--model", str(root / "model"), "--out", str(tmp_path / "o")]
    args += ["--variants", "onnx-fp32,onnx-int8-plain", "--heldout-pairs", "16", "--batches", "2"]
    args += ["--rounds", "1", "--seconds", "0.01"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout[r.stdout.index("{") :])
    assert set(body["variants"]) == {"torch-fp32", "onnx-fp32", "onnx-int8-plain"}
    assert (tmp_path / "o" / "variants.json").exists() and not (tmp_path / "o" / "model_int8.onnx").exists()
    r = CliRunner().invoke(app, [*args[:6], "--variants", "tensorrt"])
    assert r.exit_code == 2 and "unknown" in r.output


def test_all_means_the_variants_whose_runtime_is_installed(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda m, *a: None if m in ("openvino", "nncf") else real(m, *a)
    )
    names = check_variants(["all"])
    assert names[0] == "torch-fp32" and "onnx-int8-plain" in names and "torch-bf16" in names
    assert not any(n.startswith("openvino") for n in names)


def test_openvino_int8_with_accuracy_control(exported):
    pytest.importorskip("nncf")
    from ecomrel.export.onnx import calibration_pairs
    from ecomrel.export.openvino import OpenVinoStudent, quantize_openvino

    _, out, _ = exported
    info = quantize_openvino(out, calibration_pairs(StudentRecipe(max_length=48))[:16], max_drop=2.0)
    assert info["method"].startswith("nncf.quantize_with_accuracy_control") and info["accuracy_control"]
    p = OpenVinoStudent(out, "int8").predict_proba(["skillet"], ["Lodge skillet"])
    assert p.shape == (1, 4)

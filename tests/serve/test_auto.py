"""``--backend auto``: the fastest variant of variants.json that passes the fidelity bars, at the service's
batch size; a CPU without bf16 (simulated) does not take figures measured in bf16; the fallback
without a manifest; the CLI default and its options."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from ecomrel.export.variants import choose_variant

pytest.importorskip("fastapi")


def _entry(rate1: float, rate50: float, spearman: float = 1.0, decided: float = 1.0, precision: str = "fp32"):
    return {
        "size_mb": 10.0,
        "precision": precision,
        "fidelity": {
            "spearman": spearman,
            "decided_agreement": decided,
            "n_decided": 100,
            "n_decided_flips": round((1 - decided) * 100),
        },
        "speed": {
            "1": {"pairs_per_s": rate1, "vs_torch_fp32": rate1 / 100},
            "50": {"pairs_per_s": rate50, "vs_torch_fp32": rate50 / 200},
        },
    }


def _manifest(**variants):
    base = {"torch-fp32": _entry(100, 200)}
    return {"reference": "torch-fp32", "machine": {}, "variants": base | variants}


def test_picks_the_fastest_variant_that_passes_the_bars():
    m = _manifest(
        **{
            "onnx-int8": _entry(300, 400, spearman=0.999),
            "onnx-int8-plain": _entry(350, 900, spearman=0.990),  # fastest, fails Spearman
            "openvino-int8": _entry(320, 800, spearman=0.998, decided=0.99),  # fails decided agreement
            "onnx-fp32": _entry(250, 500),
        }
    )
    c = choose_variant(m, batch=64)
    assert c.name == "onnx-fp32" and c.batch == 50
    assert "Spearman 0.9900 < 0.995" in c.rejected["onnx-int8-plain"]
    assert (
        "decided-pair agreement" in c.rejected["openvino-int8"] and "1 of 100" in c.rejected["openvino-int8"]
    )
    assert c.rejected["onnx-int8"].startswith("slower")
    # at batch 1 the ranking differs: the service's batch size decides
    assert choose_variant(m, batch=1).name == "onnx-int8"
    # looser bars let the faster variant in
    assert choose_variant(m, batch=50, min_spearman=0.98).name == "onnx-int8-plain"
    # a runtime that is not installed is skipped
    assert (
        choose_variant(m, 50, min_spearman=0.98, available=lambda n: n != "onnx-int8-plain").name
        == "onnx-fp32"
    )
    assert any(line.startswith("auto: onnx-fp32") for line in c.log_lines())


def test_bf16_figures_are_not_used_on_a_cpu_without_bf16(monkeypatch):
    m = _manifest(openvino=_entry(500, 1000, precision="bf16"), **{"onnx-fp32": _entry(250, 500)})
    monkeypatch.setenv("ECOMREL_CPU_BF16", "0")  # simulated CPU without AVX512-BF16/AMX
    c = choose_variant(m, 50)
    assert c.name == "onnx-fp32" and "this CPU would run it at f32" in c.rejected["openvino"]
    monkeypatch.setenv("ECOMREL_CPU_BF16", "1")  # simulated AMX CPU
    assert choose_variant(m, 50).name == "openvino"
    m["variants"]["openvino"]["precision"] = "f32"  # measured without bf16, served with it: re-measure
    assert choose_variant(m, 50).name == "onnx-fp32"


def test_the_reference_is_the_fallback_and_a_machine_change_warns():
    m = _manifest(**{"onnx-int8": _entry(300, 400, spearman=0.9)})
    m["machine"] = {"cpu": "another CPU", "bf16": True}
    c = choose_variant(m, 50)
    assert c.name == "torch-fp32" and c.warnings and "another CPU" in c.warnings[0]


@pytest.fixture()
def measured_export(tiny_student, tmp_path):
    """The tiny student's ONNX folder plus a plain int8 graph and a variants.json with chosen figures."""
    from ecomrel.export.onnx import INT8_PLAIN_NAME, quantize_student

    out = tmp_path / "export"
    shutil.copytree(tiny_student / "onnx", out)
    quantize_student(
        out, out / INT8_PLAIN_NAME, per_channel=False, outlier_ratio=None, quantize_embeddings=True
    )
    m = _manifest(
        **{
            "onnx-int8": _entry(300, 400, spearman=0.99),
            "onnx-int8-plain": _entry(350, 600),
            "onnx-fp32": _entry(400, 500),
        }
    )
    m["source"] = str(tiny_student / "model")
    (out / "variants.json").write_text(json.dumps(m))
    return out


def test_load_backend_auto_serves_the_manifest_choice_and_logs_why(measured_export, caplog):
    from ecomrel.serve.backends import load_backend

    with caplog.at_level(logging.INFO, logger="ecomrel.serve"):
        be = load_backend("auto", measured_export, max_batch=64)
    assert (
        be.name == "onnx-int8-plain" and be.choice["variant"] == "onnx-int8-plain" and be.choice["measured"]
    )
    assert "onnx-int8" in be.choice["rejected"]
    assert any("auto: onnx-int8-plain" in r.getMessage() for r in caplog.records)
    p = be.predict_proba(["skillet"], [{"title": "Lodge skillet"}])
    assert p.shape == (1, 4)
    # the torch reference, when it is the only one passing, loads from the manifest's source folder
    be = load_backend("auto", measured_export, max_batch=64, auto_min_spearman=1.01)
    assert be.name == "torch" and be.choice["variant"] == "torch-fp32"


def test_auto_without_a_manifest_serves_onnx_int8_as_before(tiny_student, caplog):
    from ecomrel.serve.backends import load_backend

    with caplog.at_level(logging.WARNING, logger="ecomrel.serve"):
        be = load_backend("auto", tiny_student)
    assert be.name == "onnx-int8" and be.choice["measured"] is False
    assert any("no variants.json" in r.getMessage() for r in caplog.records)


def test_serve_cli_defaults_to_auto_and_takes_its_options(measured_export, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from ecomrel.cli import app
    from ecomrel.serve.settings import ServeSettings

    assert ServeSettings().backend == "auto"
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: started.update(app=asgi))
    r = CliRunner().invoke(
        app, ["serve", "--model", str(measured_export), "--port", "0", "--auto-batch", "1"]
    )
    assert r.exit_code == 0, r.output
    assert started["app"].state.ecomrel["backend"].name == "onnx-fp32"  # fastest at batch 1
    r = CliRunner().invoke(
        app, ["serve", "--model", str(measured_export), "--port", "0", "--auto-min-spearman", "0.98"]
    )
    assert r.exit_code == 0, r.output
    assert started["app"].state.ecomrel["backend"].name == "onnx-int8-plain"
    r = CliRunner().invoke(
        app, ["serve", "--model", str(measured_export), "--port", "0", "--auto-min-decided-agreement", "2"]
    )
    assert r.exit_code == 2 and "auto-min-decided-agreement" in r.output

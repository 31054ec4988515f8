"""``ecomrel serve`` start-up: the demo's distill folder layout is accepted by every backend, and the
model is loaded before uvicorn starts (so a bad folder is a one-line error, not a server traceback)."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi")

from ecomrel.cli import app  # noqa: E402


@pytest.fixture(scope="module")
def demo_distill(tiny_student, tmp_path_factory):
    """The pipeline's distill stage layout: ``distill/student/model`` (torch) and ``distill/onnx``."""
    root = tmp_path_factory.mktemp("demo") / "distill"
    shutil.copytree(tiny_student / "model", root / "student" / "model")
    shutil.copytree(tiny_student / "onnx", root / "onnx")
    return root


@pytest.mark.parametrize("backend", ["torch", "onnx-int8", "onnx-fp32"])
def test_serve_accepts_the_demo_distill_folder(demo_distill, backend, monkeypatch):
    import uvicorn

    started = {}

    def fake_run(asgi, **kw):
        started["app"], started["kw"] = asgi, kw

    monkeypatch.setattr(uvicorn, "run", fake_run)
    r = CliRunner().invoke(app, ["serve", "--model", str(demo_distill), "--backend", backend, "--port", "0"])
    assert r.exit_code == 0, r.output
    state = started["app"].state.ecomrel
    assert state["backend"].name == backend  # loaded before uvicorn.run was called
    assert started["kw"]["port"] == 0


def test_env_settings_reach_the_server(demo_distill, monkeypatch):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(app=asgi, **kw))
    monkeypatch.setenv("ECOMREL_SERVE_MODEL", str(demo_distill))
    monkeypatch.setenv("ECOMREL_SERVE_MAX_BODY_BYTES", "1234")
    r = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert r.exit_code == 0, r.output
    assert seen["app"].state.settings.max_body_bytes == 1234


def test_export_onnx_accepts_the_demo_distill_folder(demo_distill, tmp_path):
    r = CliRunner().invoke(
        app, ["export", "onnx", "--model", str(demo_distill), "--out", str(tmp_path / "o"), "--no-int8"]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "model.onnx").exists()
    assert "Warning" not in r.output  # TracerWarnings go to <out>/ecomrel.log (tests/cli/test_quiet.py)

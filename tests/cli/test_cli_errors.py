"""Every command turns a user error into one line and exit 2 (issue 10); bugs keep their traceback."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.cli import app
from ecomrel.cli.common import friendly_errors


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _one_line_error(result, *words: str) -> None:
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out and "error:" in out, out
    err_lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(err_lines) == 1, out
    for w in words:
        assert w in out, (w, out)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from ecomrel.data.sample import write_sample

    folder = tmp_path_factory.mktemp("cli") / "data"
    write_sample(folder, n_products=60, n_queries=12, seed=0)
    return folder


def test_bugs_keep_their_traceback_user_errors_do_not():
    from ecomrel.errors import DataError

    @friendly_errors
    def bug() -> None:
        raise KeyError("p_0")

    with pytest.raises(KeyError):
        bug()

    @friendly_errors
    def user() -> None:
        raise DataError("bad value", file="f.csv", row=3, field="price")

    import typer

    with pytest.raises(typer.Exit) as exit_info:
        user()
    assert exit_info.value.exit_code == 2


def test_data_sample_out_is_an_existing_file(tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    _one_line_error(_run("data", "sample", "--out", str(f)), "--out", "is a file")


def test_judge_out_is_an_existing_file(tmp_path, sample):
    f = tmp_path / "taken"
    f.write_text("x")
    _one_line_error(_run("judge", "--data", str(sample), "--out", str(f)), "--out", "is a file")
    _one_line_error(_run("judge", "--data", str(sample)), "--data and --out are required")


def test_judge_backend_vllm_without_vllm(tmp_path, sample):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    r = _run("judge", "--data", str(sample), "--out", str(tmp_path / "j"), "--backend", "vllm")
    _one_line_error(r, "vllm", "not installed")
    assert not (tmp_path / "j" / "manifest.json").exists()


def _predictions(sample, path):
    j = pd.read_parquet(sample / "judgments.parquet")
    pd.DataFrame(
        {"query_id": j["query_id"], "product_id": j["product_id"], "score": 1.0, "pred_grade": 1}
    ).to_parquet(path)
    return path


def test_eval_out_directory_and_stage_path_fail_before_metrics(tmp_path, sample):
    pred = _predictions(sample, tmp_path / "pred.parquet")
    r = _run("eval", "--data", str(sample), "--pred", str(pred), "--out", str(tmp_path))
    _one_line_error(r, "--out", "is a folder")
    out = tmp_path / "run" / "metrics.json"
    r = _run("eval", "--data", str(sample), "--pred", str(pred), "--out", str(out), "--stage", "../x")
    _one_line_error(r, "--stage", "../x")
    assert not (tmp_path / "x.report.json").exists() and not out.exists()
    ok = _run("eval", "--data", str(sample), "--pred", str(pred), "--out", str(out), "--stage", "lexical")
    assert ok.exit_code == 0, ok.output
    assert "lexical" in json.loads(out.read_text())


def test_eval_row_numbers_are_one_based(tmp_path, sample):
    pred = pd.read_parquet(_predictions(sample, tmp_path / "p.parquet"))
    pred.loc[0, "pred_grade"] = 9
    pred.to_parquet(tmp_path / "bad.parquet")
    r = _run("eval", "--data", str(sample), "--pred", str(tmp_path / "bad.parquet"))
    _one_line_error(r, "row 1:", "pred_grade")


def test_export_onnx_bad_options(tmp_path):
    r = _run("export", "onnx", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--opset", "3")
    _one_line_error(r, "--opset 3")
    r = _run(
        "export", "onnx", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--outlier-ratio", "-1"
    )
    _one_line_error(r, "--outlier-ratio -1", "> 1")
    r = _run("export", "onnx", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    _one_line_error(r, "missing", "no such folder")
    assert not (tmp_path / "o").exists()  # nothing written before the options are checked


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--model", "/nonexistent/model"], ["/nonexistent/model", "no such folder"]),
        (["--model", ".", "--backend", "foo"], ["--backend 'foo'", "unknown backend"]),
        (["--model", ".", "--port", "70000"], ["--port", "70000", "65535"]),
        (["--model", ".", "--threads", "0"], ["--threads", "greater than or equal to 1"]),
        ([], ["--model", "required"]),
    ],
)
def test_serve_start_up_errors_are_one_line(args, words, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    monkeypatch.delenv("ECOMREL_SERVE_MODEL", raising=False)
    _one_line_error(_run("serve", *args), *words)


def test_reason_chains_unknown_split(tmp_path, sample):
    r = _run("reason", "chains", "--data", str(sample), "--out", str(tmp_path / "r"), "--split", "nosuch")
    _one_line_error(r, "--split 'nosuch'", "splits.parquet")

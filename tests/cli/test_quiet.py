"""Quiet output (issue 10): third-party warnings and debug records go to <run folder>/ecomrel.log,
not the terminal; ``ecomrel --verbose`` shows them; ecomrel's own warnings are always shown."""

from __future__ import annotations

import logging
import warnings

import pytest
from typer.testing import CliRunner

from ecomrel.cli import app


@pytest.fixture()
def noisy_judge(monkeypatch):
    """``run_judge`` replaced by one that makes the noise the real libraries make."""
    import ecomrel.llm.judge as judge_mod

    def fake_run_judge(cfg):
        warnings.warn("`past_key_values` is deprecated (a FutureWarning)", FutureWarning, stacklevel=1)
        logging.getLogger("bm25s").info("bm25s: tokenizing")
        logging.getLogger("bm25s").debug("DEBUG:bm25s per-document detail")
        logging.getLogger("onnxruntime.quantization").warning("Please consider to run pre-processing")
        logging.getLogger("ecomrel.llm.judge").warning("ecomrel's own warning")
        out = str(cfg.out / "scores.parquet")
        return {
            "n_pairs": 1,
            "resumed": 0,
            "seconds": 0.1,
            "segment_seconds": 0.1,
            "segments": 1,
            "scores": out,
        }

    monkeypatch.setattr(judge_mod, "run_judge", fake_run_judge)
    yield
    logging.captureWarnings(False)


def _sample(tmp_path):
    from ecomrel.data.sample import write_sample

    write_sample(tmp_path / "data", n_products=60, n_queries=12, seed=0)
    return tmp_path / "data"


def test_third_party_noise_goes_to_the_run_log(tmp_path, noisy_judge):
    data = _sample(tmp_path)
    out = tmp_path / "judge"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        r = CliRunner().invoke(app, ["judge", "--data", str(data), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "Warning" not in r.output and "DEBUG" not in r.output and "pre-processing" not in r.output
    assert "ecomrel's own warning" in r.output
    log = (out / "ecomrel.log").read_text()  # the handler flushes every record
    assert "FutureWarning" in log and "bm25s: tokenizing" in log and "pre-processing" in log


def test_verbose_shows_the_noise(tmp_path, noisy_judge):
    data = _sample(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        r = CliRunner().invoke(app, ["--verbose", "judge", "--data", str(data), "--out", str(tmp_path / "j")])
    assert r.exit_code == 0, r.output
    assert "Warning" in r.output or "pre-processing" in r.output, r.output

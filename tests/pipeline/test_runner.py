"""The stage runner: options validated up front, skip/re-run by fingerprint, config.yaml of what ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import Field

from ecomrel.config import PipelineConfig, load_config
from ecomrel.errors import ConfigError
from ecomrel.pipeline import STAGES, StageOptions, is_done, metrics_path, run_pipeline, stage


class _UpOptions(StageOptions):
    size: int = Field(1, description="test option")


class _DownOptions(StageOptions):
    factor: float = Field(1.0, description="test option")


@pytest.fixture
def toy_stages():
    calls: list[str] = []

    @stage("_up", options=_UpOptions, reads=(), summary="upstream")
    def up(ctx):
        calls.append("up")
        ctx.stage_dir.mkdir(parents=True, exist_ok=True)
        (ctx.stage_dir / "value.txt").write_text(str(ctx.options.size))
        return {"up": {"size": ctx.options.size}}

    @stage("_down", options=_DownOptions, reads=("_up",), summary="downstream")
    def down(ctx):
        calls.append("down")
        size = int(ctx.path_of("_up", "value.txt").read_text())
        return {"down": {"value": size * ctx.options.factor}}

    @stage("_other", reads=(), summary="independent")
    def other(ctx):
        calls.append("other")
        return {"other": {"x": 1.0}}

    yield calls
    for name in ("_up", "_down", "_other"):
        STAGES.pop(name, None)


def _cfg(tmp_path, **options):
    return load_config(
        None,
        [f"out={tmp_path / 'run'}", "stages=[_up, _down, _other]", f"options={json.dumps(options)}"],
    )


def test_unchanged_config_skips_every_stage(tmp_path, toy_stages, capsys):
    run_pipeline(_cfg(tmp_path))
    assert toy_stages == ["up", "down", "other"]
    run_pipeline(_cfg(tmp_path))
    assert toy_stages == ["up", "down", "other"]  # nothing ran again
    assert capsys.readouterr().out.count("skip (complete, same inputs)") == 3


def test_changed_option_reruns_that_stage_and_its_dependants_only(tmp_path, toy_stages, capsys):
    run_pipeline(_cfg(tmp_path))
    metrics = run_pipeline(_cfg(tmp_path, _up={"size": 3}))
    assert toy_stages == ["up", "down", "other", "up", "down"]  # _other does not read _up
    assert metrics["down"]["value"] == 3.0
    out = capsys.readouterr().out
    assert "run (changed: options._up.size)" in out and "run (input '_up' changed)" in out
    # a downstream-only change re-runs only the downstream stage
    run_pipeline(_cfg(tmp_path, _up={"size": 3}, _down={"factor": 2.0}))
    assert toy_stages[-1:] == ["down"] and toy_stages.count("up") == 2
    assert json.loads(metrics_path(tmp_path / "run").read_text())["down"]["value"] == 6.0


def test_forced_upstream_reruns_downstream(tmp_path, toy_stages):
    run_pipeline(_cfg(tmp_path))
    run_pipeline(_cfg(tmp_path), force=["_up"])
    assert toy_stages == ["up", "down", "other", "up", "down"]


def test_config_yaml_describes_what_ran(tmp_path, toy_stages):
    cfg = _cfg(tmp_path, _up={"size": 5})
    run_pipeline(cfg)
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["stages"] == ["_up", "_down", "_other"]
    assert written["options"]["_up"] == {"size": 5}
    # a crash in a later stage leaves a config.yaml naming only the stages that finished
    STAGES["_down"] = STAGES["_down"].__class__(
        **{**STAGES["_down"].__dict__, "fn": lambda ctx: (_ for _ in ()).throw(RuntimeError("boom"))}
    )
    with pytest.raises(RuntimeError):
        run_pipeline(_cfg(tmp_path, _up={"size": 6}))
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["stages"] == ["_up"] and written["options"]["_up"] == {"size": 6}
    assert not is_done(tmp_path / "run", "_down")


@pytest.mark.parametrize(
    "override, needle",
    [
        ("options={_up: {sise: 2}}", "sise"),
        ("options={evall: {gains: grade}}", "options.evall: unknown stage or section"),
        ("stages=[_up, nosuch]", "stages[1]: unknown stage 'nosuch'"),
    ],
)
def test_bad_options_fail_before_any_stage_runs(tmp_path, toy_stages, override, needle):
    path = tmp_path / "run.yaml"
    path.write_text(f"out: {tmp_path / 'run'}\nstages: [_up, _down]\n")
    with pytest.raises(ConfigError) as err:
        run_pipeline(load_config(path, [override]))
    assert needle in str(err.value) and "run.yaml" in str(err.value)
    assert toy_stages == []


def test_force_must_name_a_stage_of_the_run(tmp_path, toy_stages):
    with pytest.raises(ConfigError, match="--force nosuch"):
        run_pipeline(_cfg(tmp_path), force=["nosuch"])


def test_metrics_json_is_strict_json(tmp_path):
    @stage("_nan", reads=())
    def nan_stage(ctx):
        return {"nan": {"ece": float("nan"), "f1_macro": 0.5}}

    try:
        run_pipeline(PipelineConfig(out=tmp_path / "r", stages=["_nan"]))
        text = metrics_path(tmp_path / "r").read_text()
        assert "NaN" not in text and json.loads(text)["nan"] == {"ece": None, "f1_macro": 0.5}
    finally:
        STAGES.pop("_nan", None)


def test_sample_size_change_reruns_data_and_downstream(tmp_path, capsys):
    """The issue's case: products 200 → 300 used to leave 200 products and a config saying 300."""
    import pandas as pd

    args = [f"out={tmp_path / 'run'}", "stages=[data, baselines]", "data.sample.queries=40"]
    run_pipeline(load_config(None, [*args, "data.sample.products=200"]))
    run_pipeline(load_config(None, [*args, "data.sample.products=300"]))
    out = capsys.readouterr().out
    assert "run (changed: data.sample.products)" in out and "run (input 'data' changed)" in out
    assert len(pd.read_parquet(tmp_path / "run" / "data" / "products.parquet")) == 300
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["data"]["sample"]["products"] == 300


@pytest.mark.parametrize("name", ["pipeline", "lref", "taosr1", "homedepot"])
def test_example_recipes_validate(name):
    """Each shipped recipe is a valid pipeline config: known stages and options, checked before a run."""
    from ecomrel.pipeline.runner import validate_run

    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.yaml"
    run = validate_run(load_config(path, []))
    assert run.config.stages and run.config.stages[0] == "data"


def test_a_changed_stage_starts_from_an_empty_folder_and_a_killed_one_resumes(tmp_path, toy_stages):
    """A stage re-run for other inputs must not find the old outputs (its trainer would resume from
    them); a stage killed mid-run and started again with the same inputs keeps its partial work."""
    run = tmp_path / "run"
    seen: list[bool] = []

    @stage("_ckpt", options=_UpOptions, reads=(), summary="writes a checkpoint, may crash")
    def ckpt(ctx):
        seen.append((ctx.stage_dir / "checkpoint").exists())
        (ctx.stage_dir / "checkpoint").write_text(str(ctx.options.size))
        if ctx.options.size < 0:
            raise RuntimeError("killed")
        return {"ckpt": {"size": ctx.options.size}}

    def cfg(size):
        return load_config(None, [f"out={run}", "stages=[_ckpt]", f"options={{_ckpt: {{size: {size}}}}}"])

    try:
        run_pipeline(cfg(1))
        run_pipeline(cfg(2))  # changed option: the old checkpoint is gone before the stage runs
        with pytest.raises(RuntimeError):
            run_pipeline(cfg(-1))
        with pytest.raises(RuntimeError):
            run_pipeline(cfg(-1))  # same inputs after the crash: the partial checkpoint is kept
        with pytest.raises(RuntimeError):
            run_pipeline(cfg(-2))  # other inputs: not resumed
        run_pipeline(cfg(3), force=["_ckpt"])
        run_pipeline(cfg(3), force=["_ckpt"])  # forced: a fresh folder too
    finally:
        STAGES.pop("_ckpt", None)
    assert seen == [False, False, False, True, False, False, False]

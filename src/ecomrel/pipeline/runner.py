"""The stage runner: validate every stage's options, then run or skip each stage by fingerprint.

A run folder holds one sub-folder per stage. A stage is complete when its ``_done.json`` marker
exists (written last, atomically). The marker stores the stage's **fingerprint**: a hash of its
validated options, the top-level config fields it depends on (``seed``, ``data``, ``options.eval``)
and the completion ids of the stages it reads. ``run_pipeline`` skips a stage only when its marker
holds the same fingerprint; a changed option re-runs that stage, and because a re-run gives the
stage a new completion id, every stage downstream of it re-runs too. Stages with their own
checkpoints (the judge, the trainers) also resume inside the stage after a crash: a stage writes
``_started.json`` (its fingerprint) before it runs, and its folder is kept for a resume only while
that fingerprint is the one it runs with. A stage that re-runs because it changed (or is forced)
starts from an empty folder, so no trainer resumes from a model of other inputs.

For every stage the runner prints ``run (why)`` or ``skip (complete, same inputs)``, and it writes
``<run>/config.yaml`` after each stage with exactly the stages whose outputs are in the folder and
the options they were produced with. Every stage returns ``{row: {metric: value}}`` rows that are
merged into ``eval/metrics.json``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from ecomrel.config import PipelineConfig, validate_config
from ecomrel.errors import ConfigError
from ecomrel.eval import metrics_table, write_metrics
from ecomrel.pipeline.registry import STAGES, Rows, Stage, StageContext, console

DONE = "_done.json"
STARTED = "_started.json"


class EvalOptions(BaseModel):
    """``options.eval``: how every stage's predictions are evaluated (not a stage of its own)."""

    model_config = {"extra": "forbid"}
    gains: str = Field(
        "grade", description="Ranking gains: 'grade' or a preset of ecomrel.eval.GAIN_PRESETS."
    )


SECTIONS: dict[str, type[BaseModel]] = {"eval": EvalOptions}
"""Keys of ``options`` that configure the whole run rather than one stage."""


def load_builtin_stages() -> dict[str, Stage]:
    """Import the built-in stage modules (each registers itself) and return the registry."""
    import ecomrel.pipeline.stages  # noqa: F401

    return STAGES


# --- validation ------------------------------------------------------------------------------------
@dataclass
class ValidatedRun:
    config: PipelineConfig
    options: dict[str, Any]
    sections: dict[str, BaseModel]


def validate_run(config: PipelineConfig, force: list[str] | None = None) -> ValidatedRun:
    """Check stage names, option keys and every stage's options **before** any stage runs."""
    stages = load_builtin_stages()
    where = f"{config.source}: " if config.source else ""
    known = ", ".join(stages)
    for i, name in enumerate(config.stages):
        if name not in stages:
            raise ConfigError(f"{where}stages[{i}]: unknown stage {name!r}; known: {known}")
    if len(set(config.stages)) != len(config.stages):
        raise ConfigError(f"{where}stages: a stage is listed twice: {config.stages}")
    for name in force or []:
        if name != "all" and name not in config.stages:
            raise ConfigError(
                f"--force {name}: not a stage of this run; stages: {', '.join(config.stages)} (or 'all')"
            )
    allowed = [*stages, *SECTIONS]
    for key in config.options:
        if key not in allowed:
            raise ConfigError(f"{where}options.{key}: unknown stage or section; known: {', '.join(allowed)}")
    options = {}
    for name in stages:
        raw = config.options.get(name, {})
        if name in config.stages or name in config.options:
            options[name] = validate_config(stages[name].options, raw, config.source, f"options.{name}")
            try:
                options[name].check()
            except ConfigError as exc:
                raise ConfigError(f"{where}{exc}") from None
    sections = {
        key: validate_config(model, config.options.get(key, {}), config.source, f"options.{key}")
        for key, model in SECTIONS.items()
    }
    return ValidatedRun(config=config, options=options, sections=sections)


# --- markers and fingerprints ----------------------------------------------------------------------
def metrics_path(out: Path) -> Path:
    return Path(out) / "eval" / "metrics.json"


def read_marker(out: Path, name: str) -> dict[str, Any] | None:
    path = Path(out) / name / DONE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a torn marker counts as not done


def is_done(out: Path, name: str) -> bool:
    return read_marker(out, name) is not None


def _stage_inputs(stage: Stage, run: ValidatedRun) -> dict[str, Any]:
    """What a stage's outputs depend on: its options, the global fields, upstream completion ids."""
    cfg = run.config
    glob: dict[str, Any] = {}
    for key in stage.globals:
        glob[key] = cfg.data.model_dump(mode="json") if key == "data" else getattr(cfg, key)
    if stage.name != "data":
        glob["eval"] = run.sections["eval"].model_dump(mode="json")
    upstream = {}
    for up in stage.reads:
        marker = read_marker(cfg.out, up)
        upstream[up] = marker.get("run_id") if marker else None
    return {
        "options": run.options[stage.name].model_dump(mode="json"),
        "globals": glob,
        "upstream": upstream,
    }


def fingerprint(inputs: dict[str, Any]) -> str:
    blob = json.dumps(inputs, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _changed(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out: list[str] = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changed(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def decide(stage: Stage, run: ValidatedRun, force: list[str]) -> tuple[bool, str, dict[str, Any]]:
    """(run it?, why, inputs) for one stage."""
    inputs = _stage_inputs(stage, run)
    marker = read_marker(run.config.out, stage.name)
    if stage.name in force or "all" in force:
        return True, "forced", inputs
    if marker is None:
        partial = (Path(run.config.out) / stage.name).exists()
        return True, "previous run did not finish" if partial else "not run before", inputs
    old = marker.get("inputs")
    if old is None:
        return True, "done by an older ecomrel without a fingerprint", inputs
    if marker.get("fingerprint") == fingerprint(inputs):
        return False, "complete, same inputs", inputs
    missing = [up for up, rid in inputs["upstream"].items() if rid != old.get("upstream", {}).get(up)]
    if missing:
        return True, "input " + ", ".join(repr(m) for m in missing) + " changed", inputs
    changed = _changed(old.get("options", {}), inputs["options"], f"options.{stage.name}.")
    changed += _changed(old.get("globals", {}), inputs["globals"])
    return True, "changed: " + (", ".join(changed) or "stage definition"), inputs


def _mark_done(out: Path, name: str, payload: dict[str, Any]) -> None:
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (DONE + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(folder / DONE)


def _prepare_folder(folder: Path, fp: str, resume: bool) -> None:
    """Empty a stage's folder unless it holds an unfinished run of the same inputs (a resume);
    then record the fingerprint it runs with."""
    started = folder / STARTED
    same = False
    if resume and started.exists():
        try:
            same = json.loads(started.read_text()).get("fingerprint") == fp
        except (OSError, json.JSONDecodeError):
            same = False
    elif resume and folder.exists():
        same = True  # an unfinished run from before _started.json existed: resume as before
    if folder.exists() and not same:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started.write_text(json.dumps({"fingerprint": fp}))


def merge_metrics(out: Path, rows: Rows, replace: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Merge ``{row: {metric: value}}`` into the run's metrics.json; ``replace`` drops stale rows first."""
    return write_metrics(metrics_path(out), rows, replace=replace)


def write_run_config(run: ValidatedRun, done: list[str]) -> Path:
    """``<run>/config.yaml``: the config restricted to the stages whose outputs the folder holds."""
    cfg = run.config
    raw = cfg.model_dump(mode="json")
    raw["stages"] = list(done)
    raw["options"] = {k: v for k, v in cfg.options.items() if k in done or k in SECTIONS}
    path = Path(cfg.out) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# --- the runner ------------------------------------------------------------------------------------
def run_pipeline(config: PipelineConfig, force: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Validate everything, then run the configured stages in order, skipping unchanged ones."""
    force = list(force or [])
    run = validate_run(config, force)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    done: list[str] = []
    for name in config.stages:
        stage = STAGES[name]
        should_run, why, inputs = decide(stage, run, force)
        if not should_run:
            console.print(f"[dim]✓ {name}: skip ({why})[/]", soft_wrap=True)
            done.append(name)
            write_run_config(run, done)
            continue
        console.rule(f"[bold]{name}")
        console.print(f"▶ {name}: run ({why})", soft_wrap=True)
        previous = read_marker(out, name)
        stale_rows = list(previous.get("metrics", {})) if previous else []
        if previous:  # outputs are about to change: the old marker no longer describes them
            merge_metrics(out, {}, replace=stale_rows)
        _prepare_folder(out / name, fingerprint(inputs), resume=previous is None)
        ctx = StageContext(config=config, name=name, options=run.options[name])
        start = time.perf_counter()
        rows = stage.fn(ctx) or {}
        seconds = time.perf_counter() - start
        merge_metrics(out, rows, replace=stale_rows)
        _mark_done(
            out,
            name,
            {
                "stage": name,
                "summary": stage.summary,
                "seconds": round(seconds, 2),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "run_id": uuid.uuid4().hex,
                "fingerprint": fingerprint(inputs),
                "inputs": inputs,
                "metrics": rows,
            },
        )
        done.append(name)
        write_run_config(run, done)
        console.print(f"[green]✓ {name}[/] in {seconds:.1f}s")
    from ecomrel.report import write_report

    console.print(f"report: {write_report(out)}")
    path = metrics_path(out)
    return json.loads(path.read_text()) if path.exists() else {}


def stage_rows(out: Path, stages: list[str]) -> dict[str, list[str]]:
    """``{stage: [metric rows it wrote]}`` in pipeline order, from the done markers."""
    order = {}
    for name in stages:
        marker = read_marker(out, name)
        if marker:
            order[name] = list(marker.get("metrics", {}))
    return order


def summary_table(config: PipelineConfig):
    """The run's summary table (Rich), rows in pipeline order."""
    out = Path(config.out)
    path = metrics_path(out)
    metrics = json.loads(path.read_text()) if path.exists() else {}
    return metrics_table(metrics, stage_rows(out, config.stages))

"""Launch SFT through ``accelerate launch``: one machine's many GPUs (DDP, FSDP, DeepSpeed ZeRO) or one CPU.

The single-machine path and the scale-out path run the same code: ``accelerate launch`` starts
``python -m ecomrel.train.sft_trainer --config <yaml>`` on every process and the trainer does
the rest (``run_sft`` builds data on the main process first and shares it through the run folder).
Packaged accelerate configs are resolved by name (:data:`PACKAGED_CONFIGS`); any other value is
taken as the path of the user's own accelerate config file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ecomrel.train.sft_config import SFTRunConfig

PACKAGED_CONFIGS = ("ddp", "deepspeed_zero2", "deepspeed_zero3", "fsdp", "cpu_single")
"""accelerate configs shipped in ``ecomrel/resources/accelerate/<name>.yaml``."""


def packaged_config_path(name: str) -> Path:
    res = resources.files("ecomrel") / "resources" / "accelerate" / f"{name}.yaml"
    return Path(str(res))


def resolve_accelerate_config(name_or_path: str | Path) -> Path:
    """A packaged config by name (``ddp``, ``fsdp`` ...) or an existing YAML file path."""
    key = str(name_or_path)
    if key in PACKAGED_CONFIGS:
        return packaged_config_path(key)
    p = Path(key).expanduser()
    if p.is_file():
        return p
    raise FileNotFoundError(
        f"accelerate config {key!r} is neither a packaged name ({', '.join(PACKAGED_CONFIGS)}) nor a file"
    )


def _config_uses_cpu(path: Path) -> bool:
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    return bool(data.get("use_cpu")) or str(data.get("distributed_type", "")).upper() == "NO"


def default_num_processes(accelerate_config: Path) -> int | None:
    """Visible GPUs for a GPU config (None: keep the file's value, e.g. on CPU or without CUDA)."""
    if _config_uses_cpu(accelerate_config):
        return None
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch/CUDA: leave it to the file
        return None
    return n or None


def accelerate_command(
    sft_config: str | Path,
    accelerate_config: str | Path,
    overrides: Sequence[str] = (),
    num_processes: int | None = None,
    main_process_port: int | None = None,
) -> list[str]:
    """The argv that launches SFT under accelerate (printable, runnable as is)."""
    acc = resolve_accelerate_config(accelerate_config)
    if num_processes is None:
        num_processes = default_num_processes(acc)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(acc)]
    if num_processes is not None:
        cmd += ["--num_processes", str(num_processes)]
    if main_process_port is not None:
        cmd += ["--main_process_port", str(main_process_port)]
    cmd += ["-m", "ecomrel.train.sft_trainer", "--config", str(sft_config)]
    for item in overrides:
        cmd += ["--set", item]
    return cmd


def launch_sft(
    config: SFTRunConfig | str | Path,
    accelerate_config: str | Path,
    overrides: Sequence[str] = (),
    num_processes: int | None = None,
    main_process_port: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run SFT under ``accelerate launch`` and return the metrics the run wrote (plus ``returncode``).

    ``config`` is an :class:`SFTRunConfig` (written to ``<output_dir>/launch_config.yaml``) or a
    YAML path; ``overrides`` are ``key=value`` strings applied on every process.
    """
    if isinstance(config, SFTRunConfig):
        merged = config
        yaml_path = config.to_yaml(Path(config.output_dir) / "launch_config.yaml")
    else:
        yaml_path = Path(config)
        merged = SFTRunConfig.from_yaml(yaml_path, overrides)  # validate before spawning anything
    cmd = accelerate_command(yaml_path, accelerate_config, overrides, num_processes, main_process_port)
    run_env = {**os.environ, **(env or {})}
    run_env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if merged.num_threads is not None:
        run_env.setdefault("OMP_NUM_THREADS", str(merged.num_threads))
    proc = subprocess.run(cmd, env=run_env, timeout=timeout, check=False)
    metrics_file = Path(merged.output_dir) / "metrics.json"
    if proc.returncode != 0:
        raise RuntimeError(f"accelerate launch failed with exit code {proc.returncode}: {' '.join(cmd)}")
    result: dict[str, Any] = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    result["returncode"] = proc.returncode
    result["command"] = cmd
    return result

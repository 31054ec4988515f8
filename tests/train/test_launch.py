"""SFT through ``accelerate launch``: packaged configs by name, and one real CPU run on the tiny model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("accelerate")

from ecomrel.train.launch import (  # noqa: E402
    PACKAGED_CONFIGS,
    accelerate_command,
    launch_sft,
    resolve_accelerate_config,
)
from ecomrel.train.sft_config import SFTRunConfig  # noqa: E402

EXPECTED = {
    "ddp": "MULTI_GPU",
    "deepspeed_zero2": "DEEPSPEED",
    "deepspeed_zero3": "DEEPSPEED",
    "fsdp": "FSDP",
    "cpu_single": "NO",
}


@pytest.mark.parametrize("name", PACKAGED_CONFIGS)
def test_packaged_configs_parse_with_accelerate(name):
    from accelerate.commands.config.config_args import load_config_from_file

    path = resolve_accelerate_config(name)
    assert path.is_file() and path.suffix == ".yaml"
    cfg = load_config_from_file(str(path))
    assert str(cfg.distributed_type).split(".")[-1] == EXPECTED[name]
    if name.startswith("deepspeed"):
        assert cfg.deepspeed_config["zero_stage"] == int(name[-1])
    if name == "fsdp":
        assert cfg.fsdp_config["fsdp_version"] == 2


def test_resolve_by_path_and_unknown(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text("distributed_type: 'NO'\nuse_cpu: true\n")
    assert resolve_accelerate_config(str(own)) == own
    with pytest.raises(FileNotFoundError, match="ddp, deepspeed_zero2"):
        resolve_accelerate_config("zero9")


def test_accelerate_command_line():
    cmd = accelerate_command(
        "sft.yaml", "ddp", ["training_args.max_steps=3"], num_processes=4, main_process_port=29511
    )
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--config_file") + 1].endswith("ddp.yaml")
    assert cmd[cmd.index("--num_processes") + 1] == "4"
    tail = cmd[cmd.index("-m", 3) :]
    assert tail == [
        "-m",
        "ecomrel.train.sft_trainer",
        "--config",
        "sft.yaml",
        "--set",
        "training_args.max_steps=3",
    ]
    assert "--num_processes" not in accelerate_command("sft.yaml", "cpu_single")


def test_accelerate_cpu_single_process_trains(tmp_path, tiny_llm_dir, sft_data_dir, sft_chains_file):
    """The only subprocess-trained model of the suite: one CPU process, two LoRA steps."""
    cfg = SFTRunConfig(
        base_model=str(tiny_llm_dir),
        data=str(sft_data_dir),
        chains=str(sft_chains_file),
        phases=["ee"],
        output_dir=str(tmp_path / "run"),
        training_args={"max_steps": 2, "save_steps": 1, "per_device_train_batch_size": 2, "max_length": 1024},
        precision="fp32",
        num_threads=1,
        lora={"r": 4, "alpha": 8},
    )
    result = launch_sft(
        cfg,
        "cpu_single",
        overrides=["training_args.logging_steps=1"],
        env={"ECOMREL_NO_PROGRESS": "1"},
        timeout=120,
    )
    assert result["returncode"] == 0
    assert result["num_processes"] == 1 and result["steps"] == 2
    adapter = Path(result["adapter"])
    assert (adapter / "adapter_model.safetensors").exists()
    assert (tmp_path / "run" / "1_ee" / "checkpoint-2").is_dir()
    assert result["train_loss"] > 0 and result["peak_rss_mb"] > 0

"""Multi-CoT SFT: config, prompt/completion data, completion-only loss, resume after a kill, curriculum."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from safetensors.torch import load_file

torch = pytest.importorskip("torch")

from ecomrel.train.sft_config import SFTRunConfig  # noqa: E402

TRAINING = {
    "max_steps",
    "per_device_train_batch_size",
    "save_steps",
    "logging_steps",
    "learning_rate",
    "max_length",
}


def _config(tmp_path: Path, model_dir: Path, data_dir: Path, **kw) -> SFTRunConfig:
    """A tiny-model config; keywords that are trl.SFTConfig fields go into ``training_args``."""
    training = {
        "max_steps": 4,
        "per_device_train_batch_size": 2,
        "save_steps": 2,
        "logging_steps": 1,
        "learning_rate": 5e-3,
        "max_length": 1024,
    }
    training.update({k: kw.pop(k) for k in list(kw) if k in TRAINING})
    base = {
        "base_model": str(model_dir),
        "data": str(data_dir),
        "output_dir": str(tmp_path / "run"),
        "training_args": training,
        "precision": "fp32",  # exactness tests (resume = uninterrupted) in full precision
        "num_threads": 1,
        "seed": 3,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.1},
    }
    base.update(kw)
    return SFTRunConfig.model_validate(base)


def _adapter(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


# --- config -------------------------------------------------------------------------------------------


def test_config_yaml_with_overrides(tmp_path):
    from ecomrel.errors import ConfigError

    path = tmp_path / "sft.yaml"
    path.write_text("base_model: smollm2\ndata: some/dir\nlora:\n  r: 16\ncurriculum: sequential\n")
    sets = ["lora.r=8", "phases=[ee, ra]", "training_args.max_steps=3", "lora.dropout=0.0"]
    cfg = SFTRunConfig.from_yaml(path, sets)
    assert cfg.lora.r == 8 and cfg.lora.alpha == 32 and cfg.lora.dropout == 0.0
    assert cfg.phases == ["ee", "ra"] and cfg.training_args == {"max_steps": 3}
    assert cfg.training_arg("max_steps") == 3 and cfg.training_arg("save_steps") == 50
    for field in ("base_model", "lora", "curriculum", "phases", "training_args", "precision", "output_dir"):
        assert SFTRunConfig.model_fields[field].description

    with pytest.raises(ConfigError, match="lr"):
        SFTRunConfig.from_yaml(path, ["lr=0.1"])  # unknown key is named
    with pytest.raises(ConfigError, match="max_steps"):  # the hand-declared TrainingArguments fields are gone
        SFTRunConfig.from_yaml(path, ["max_steps=3"])
    with pytest.raises(ConfigError, match="unknown field.*batch_size for trl.SFTConfig"):
        SFTRunConfig.from_yaml(path, ["training_args.batch_size=2"])
    with pytest.raises(ConfigError, match="output_dir is set by ecomrel"):
        SFTRunConfig.from_yaml(path, ["training_args.output_dir=x"])
    with pytest.raises(ValueError, match="key=value"):
        SFTRunConfig.from_yaml(path, ["max_steps"])
    with pytest.raises(ValueError, match="phases"):
        SFTRunConfig.from_yaml(path, ["phases=[ee, ee]"])
    with pytest.raises(ValueError, match="data"):
        SFTRunConfig.model_validate({})
    cfg.to_yaml(tmp_path / "echo.yaml")
    assert SFTRunConfig.from_yaml(tmp_path / "echo.yaml") == cfg


# --- data ---------------------------------------------------------------------------------------------


def test_chain_examples_prompt_and_completion(tiny_llm_dir, sft_data_dir, make_chains):
    from transformers import AutoTokenizer

    from ecomrel.data.schema import Dataset
    from ecomrel.grades import DEFAULT_SCALE
    from ecomrel.llm.prompts import render_prompt
    from ecomrel.train.sft_data import chain_examples, label_only_examples

    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    pairs = Dataset.load(sft_data_dir).pairs("train")
    chains = make_chains(pairs)
    ds = chain_examples(chains, pairs, tok, DEFAULT_SCALE)
    assert len(ds) == 2 * len(pairs)  # the chain marked "dropped" is not trained on
    suffix = "<|im_end|>\n<|im_start|>assistant\n"
    row0 = pairs.iloc[0].to_dict()
    for ex in ds:
        assert ex["completion"][0] == str(ex["gold_grade"])  # label first
        assert ex["prompt"].endswith(suffix)
        if ex["kind"] == "ee":  # exactly the scorer's prompt: SFT trains the token the scorer reads
            if ex["product_id"] == row0["product_id"]:
                assert ex["prompt"] == render_prompt(row0["query"], row0, tok, DEFAULT_SCALE)
        else:  # RA: the rules close the user message
            user = ex["prompt"].rsplit("<|im_start|>user\n", 1)[1]
            assert user.endswith("Rules:\nR1. product word mismatch => 0" + suffix)
    labels = label_only_examples(pairs, tok, DEFAULT_SCALE)
    assert all(ex["completion"] == str(ex["gold_grade"]) for ex in labels)


def test_examples_file_validation(tmp_path):
    from ecomrel.train.sft_data import load_examples

    good = tmp_path / "ex.jsonl"
    good.write_text(json.dumps({"prompt": "Q: a\n", "completion": "3"}) + "\n")
    assert load_examples(good)[0]["kind"] == "custom"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Q: a\n"}) + "\n")
    with pytest.raises(ValueError, match="completion"):
        load_examples(bad)


def test_prompt_tokens_masked(tmp_path, tiny_llm_dir, sft_data_dir, make_chains):
    """trl 1.16 prompt-completion + completion_only_loss: prompt labels are -100, completion is learned."""
    from ecomrel.data.schema import Dataset
    from ecomrel.grades import DEFAULT_SCALE
    from ecomrel.llm.models import load_model
    from ecomrel.llm.prompts import encode, grade_tokens
    from ecomrel.train.sft_data import chain_examples
    from ecomrel.train.sft_trainer import build_trainer, lora_config

    cfg = _config(tmp_path, tiny_llm_dir, sft_data_dir)
    model, tok = load_model(str(tiny_llm_dir), threads=1)
    pairs = Dataset.load(sft_data_dir).pairs("train")
    ds = chain_examples(make_chains(pairs), pairs, tok, DEFAULT_SCALE)
    trainer = build_trainer(cfg, tmp_path / "p", model, tok, lora_config(cfg), ds)
    grade_ids = grade_tokens(tok).ids
    by_prompt = {ex["prompt"]: ex for ex in ds}
    processed = trainer.train_dataset
    assert len(processed) == len(ds)
    seen = 0
    for row in processed:
        ids, labels = row["input_ids"], row["labels"]
        n_prompt = next(i for i, lab in enumerate(labels) if lab != -100)
        prompt_text = tok.decode(ids[:n_prompt])
        ex = by_prompt[prompt_text]
        assert encode(tok, ex["prompt"]) == ids[:n_prompt]
        assert all(lab == -100 for lab in labels[:n_prompt])
        assert labels[n_prompt:] == ids[n_prompt:]  # every completion token is learned
        assert labels[n_prompt] == grade_ids[ex["gold_grade"]]  # first learned token = grade token
        assert ids[-1] == tok.eos_token_id
        seen += 1
    assert seen == len(ds)


# --- resume -------------------------------------------------------------------------------------------


class _Kill(Exception):
    pass


def _kill_callback(phase: str, at_step: int):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if Path(args.output_dir).name == phase and state.global_step == at_step:
                raise _Kill(f"killed at {phase} step {at_step}")

    return Kill()


def test_resume_after_kill_gives_same_adapter(tmp_path, tiny_llm_dir, sft_data_dir, sft_chains_file):
    from ecomrel.train.sft_trainer import run_sft

    common = {"chains": str(sft_chains_file), "phases": ["ee", "ra"]}
    straight = run_sft(_config(tmp_path / "a", tiny_llm_dir, sft_data_dir, **common))
    assert straight["steps"] == 8 and straight["train_loss"] > 0
    assert straight["peak_rss_mb"] > 0 and straight["train_seconds"] > 0
    adapter = Path(straight["adapter"])
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "adapter_config.json").exists()
    assert [p["phase"] for p in straight["phases"]] == ["1_ee", "2_ra"]

    cfg_b = _config(tmp_path / "b", tiny_llm_dir, sft_data_dir, **common)
    with pytest.raises(_Kill):  # the process "dies" in phase 2 after step 3 (last checkpoint: step 2)
        run_sft(cfg_b, callbacks=[_kill_callback("2_ra", 3)])
    assert not (Path(cfg_b.output_dir) / "2_ra" / "metrics.json").exists()
    resumed = run_sft(cfg_b)
    assert resumed["phases"][0].get("skipped") is True  # the finished EE phase is not redone
    assert resumed["phases"][1]["resumed_from"].endswith("checkpoint-2")

    a, b = _adapter(adapter), _adapter(Path(resumed["adapter"]))
    assert a.keys() == b.keys() and len(a) > 0
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7)
    # the adapter moved away from its initialisation (lora_B starts at zero)
    assert any(v.abs().sum() > 0 for k, v in a.items() if "lora_B" in k)


# --- curriculum ---------------------------------------------------------------------------------------


def _lora_snapshot_callback(store: dict):
    from peft import get_peft_model_state_dict
    from transformers import TrainerCallback

    class Snap(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            sd = get_peft_model_state_dict(model)
            store[Path(args.output_dir).name] = {k: v.detach().clone() for k, v in sd.items()}

    return Snap()


def test_sequential_curriculum_dr_from_previous_mistakes(
    tmp_path, tiny_llm_dir, sft_data_dir, sft_chains_file
):
    from ecomrel.train.sft_trainer import run_sft

    cfg = _config(
        tmp_path, tiny_llm_dir, sft_data_dir, chains=str(sft_chains_file), phases=["ra", "dr"], max_steps=2
    )
    starts: dict[str, dict] = {}
    result = run_sft(cfg, callbacks=[_lora_snapshot_callback(starts)])
    out = Path(cfg.output_dir)
    assert [p["phase"] for p in result["phases"]] == ["1_ra", "2_dr"]

    # DR starts from the RA phase's adapter, not from a fresh one
    ra_final = _adapter(out / "1_ra" / "final")
    for k, v in starts["2_dr"].items():
        key = k if k in ra_final else k.replace(".default", "")
        torch.testing.assert_close(v, ra_final[key])

    # DR chains come from the RA model's mistakes on the training pairs
    preds = pd.read_parquet(out / "2_dr" / "predictions.parquet")
    assert {"query_id", "product_id", "grade", "pred_grade", "p_0", "p_3", "correct"} <= set(preds.columns)
    assert len(preds) == 12  # every train pair was scored
    mistakes = set(map(tuple, preds.loc[~preds["correct"], ["query_id", "product_id"]].to_numpy()))
    examples = pd.read_parquet(out / "2_dr" / "examples.parquet")
    assert (examples["kind"] == "dr").all() and len(examples) > 0
    assert set(zip(examples["query_id"], examples["product_id"], strict=True)) <= mistakes
    report = result["phases"][1]
    assert report["n_mistakes"] == len(mistakes) and report["n_scored"] == 12
    assert report["n_examples"] == len(examples) <= report["n_dr_chains_built"] == len(mistakes)
    assert all("An earlier decision graded this pair" in p for p in examples["prompt"])  # the wrong decision


def test_label_only_and_mixed(tmp_path, tiny_llm_dir, sft_data_dir, sft_chains_file):
    from ecomrel.train.sft_trainer import run_sft

    lab = run_sft(_config(tmp_path / "l", tiny_llm_dir, sft_data_dir, curriculum="label_only", max_steps=1))
    assert [p["phase"] for p in lab["phases"]] == ["label_only"]
    ex = pd.read_parquet(Path(lab["output_dir"]) / "label_only" / "examples.parquet")
    assert (ex["completion"] == ex["gold_grade"].astype(str)).all()

    mixed = run_sft(
        _config(
            tmp_path / "m",
            tiny_llm_dir,
            sft_data_dir,
            curriculum="mixed",
            phases=["ee", "ra"],
            chains=str(sft_chains_file),
            max_steps=1,
        )
    )
    assert [p["phase"] for p in mixed["phases"]] == ["mixed"]
    assert mixed["phases"][0]["by_kind"] == {"ee": 12, "ra": 12}

    # no chains file: EE and RA chains are built here (real builder) once, for every phase
    built = run_sft(
        _config(tmp_path / "s", tiny_llm_dir, sft_data_dir, phases=["ee", "ra"], max_steps=1, max_length=4096)
    )
    kinds = {p["phase"]: p.get("by_kind") for p in built["phases"]}
    assert set(kinds) == {"1_ee", "2_ra"} and all(not p.get("skipped") for p in built["phases"])
    assert set(kinds["1_ee"]) == {"ee"} and set(kinds["2_ra"]) == {"ra"}
    cache = pd.read_parquet(Path(built["output_dir"]) / "chains.parquet")
    assert set(cache["kind"]) == {"ee", "ra"}


def test_full_finetune_and_examples_file(tmp_path, tiny_llm_dir, sft_data_dir):
    from ecomrel.train.sft_trainer import run_sft

    ex = tmp_path / "ex.jsonl"
    ex.write_text(
        "\n".join(
            json.dumps(
                {"prompt": f"<|im_start|>user\nq {i}<|im_end|>\n<|im_start|>assistant\n", "completion": "2"}
            )
            for i in range(4)
        )
    )
    res = run_sft(
        _config(
            tmp_path, tiny_llm_dir, Path("unused"), data=None, examples=str(ex), finetune="full", max_steps=1
        )
    )
    assert res["adapter"] is None and res["curriculum"] == "examples"
    assert (Path(res["model_dir"]) / "model.safetensors").exists()
    assert (Path(res["model_dir"]) / "tokenizer_config.json").exists()


def test_lora_top_layers_adapts_only_the_last_layers(tiny_llm_dir, tmp_path, sft_data_dir):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from ecomrel.train.sft_trainer import lora_config

    cfg = _config(tmp_path, tiny_llm_dir, sft_data_dir, lora={"r": 4, "alpha": 8, "top_layers": 1})
    model = AutoModelForCausalLM.from_pretrained(tiny_llm_dir)
    peft_model = get_peft_model(model, lora_config(cfg, model))
    adapted = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert adapted and all(".layers.1." in n for n in adapted)
    assert any("mlp.down_proj" in n for n in adapted) and any("self_attn.q_proj" in n for n in adapted)


def test_cli_train_sft(tmp_path, tiny_llm_dir, sft_data_dir, sft_chains_file):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    cfg = _config(tmp_path, tiny_llm_dir, sft_data_dir, chains=str(sft_chains_file), phases=["ee"])
    cfg = cfg.model_copy(update={"precision": "auto"})
    path = cfg.to_yaml(tmp_path / "sft.yaml")
    res = CliRunner().invoke(
        app, ["train", "sft", "--config", str(path), "--set", "training_args.max_steps=1"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{") :])
    assert out["steps"] == 1 and Path(out["adapter"]).is_dir()
    from ecomrel.train.common import resolve_precision

    saved = json.loads((Path(cfg.output_dir) / "metrics.json").read_text())
    assert saved["precision"] == resolve_precision("auto")  # bf16 on AVX512-BF16/AMX CPUs, recorded
    bad = CliRunner().invoke(
        app, ["train", "sft", "--config", str(path), "--set", "training_args.batch_size=0"]
    )
    assert bad.exit_code == 2 and "batch_size" in bad.output and "Traceback" not in bad.output


@pytest.mark.integration
def test_demo_sft_on_smollm2(tmp_path, sample_dir):
    """The real built-in model: EE → RA → DR, one LoRA step each, then the adapter scores pairs."""
    from ecomrel.data.schema import Dataset
    from ecomrel.llm.models import load_model
    from ecomrel.llm.scorer import score_pairs
    from ecomrel.train.sft_config import demo_config
    from ecomrel.train.sft_trainer import run_sft

    cfg = demo_config(
        sample_dir,
        tmp_path / "sft",
        max_steps=1,
        max_pairs=8,
        dr_max_pairs=8,
        training_args={"per_device_train_batch_size": 2},
    )
    assert cfg.training_args["max_steps"] == 1 and cfg.training_args["learning_rate"] == 3e-4
    result = run_sft(cfg)
    assert [p["phase"] for p in result["phases"]] == ["1_ee", "2_ra", "3_dr"]
    assert all(p.get("steps") == 1 or p.get("n_examples") == 0 for p in result["phases"])
    model, tok = load_model("smollm2", adapter=result["adapter"])
    scores = score_pairs(model, tok, Dataset.load(sample_dir).pairs("dev").head(4), batch_size=4)
    assert scores[["p_0", "p_1", "p_2", "p_3"]].sum(axis=1).round(4).eq(1.0).all()


def test_trainer_args_pass_library_fields_without_future_warnings(tmp_path):
    import warnings

    from ecomrel.train.sft_trainer import trainer_args

    cfg = SFTRunConfig(
        data="d",
        precision="fp32",
        training_args={
            "optim": "adafactor",
            "max_grad_norm": 0.3,
            "lr_scheduler_type": "cosine_with_min_lr",
            "lr_scheduler_kwargs": {"min_lr": 1e-6},
            "eval_strategy": "no",
            "report_to": "none",
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # trl's gradient_checkpointing default used to warn
        args = trainer_args(cfg, tmp_path)
        legacy = trainer_args(
            cfg.model_copy(update={"training_args": {"gradient_checkpointing": True}}), tmp_path
        )
    assert args.optim == "adafactor" and args.max_grad_norm == 0.3 and not args.activation_checkpointing
    assert args.lr_scheduler_kwargs == {"min_lr": 1e-6} and args.completion_only_loss
    assert args.output_dir == str(tmp_path) and args.seed == 0 and not args.bf16
    assert legacy.activation_checkpointing  # the old name still works, under the new one

"""GRPO with dynamic sampling on a tiny random Llama and an easy synthetic task: the mean reward rises,
the kept share and CV are logged per step, a killed run resumes from its checkpoint, and any
trl.GRPOConfig field is settable (unknown ones are one-line config errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from ecomrel.errors import ConfigError  # noqa: E402
from ecomrel.train.grpo_config import GRPORunConfig, demo_config  # noqa: E402
from ecomrel.train.grpo_trainer import build_pool, grpo_arguments, read_steps, run_grpo  # noqa: E402

_CORPUS = ["color red", "color blue", "color green", "color black", "size small", "0 1 2 3"]
_WORDS = ["red", "blue", "green", "black", "small", "large", "tiny", "wide"]
GOLD = 3  # the easy task: every prompt's answer is grade 3


@pytest.fixture(scope="module")
def warm_tiny_llm(tmp_path_factory, tiny_llm_builders) -> Path:
    """A tiny Llama taught the answer format: a digit 0-3 (each equally likely), then EOS.

    GRPO then has to find that 3 is right (a random init would almost never emit a digit)."""
    from torch.nn.utils.rnn import pad_sequence

    torch.set_num_threads(1)
    tok = tiny_llm_builders.tokenizer(_CORPUS, vocab_size=300)
    model = tiny_llm_builders.model(tok, seed=0)
    ids, labels = [], []
    for w in _WORDS:
        p = tok(_prompt(tok, w), add_special_tokens=False)["input_ids"]
        for d in "0123":
            c = tok(d + tok.eos_token, add_special_tokens=False)["input_ids"]
            ids.append(torch.tensor(p + c))
            labels.append(torch.tensor([-100] * len(p) + c))
    batch = pad_sequence(ids, batch_first=True, padding_value=tok.pad_token_id)
    lab = pad_sequence(labels, batch_first=True, padding_value=-100)
    mask = pad_sequence([torch.ones(len(x), dtype=torch.long) for x in ids], batch_first=True)
    torch.manual_seed(0)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model(input_ids=batch, attention_mask=mask, labels=lab).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.8  # ≈ ln 4 / 2: the digit is a coin flip over 4, EOS certain
    out = tmp_path_factory.mktemp("grpo_tiny")
    model.eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _prompt(tok, word: str) -> str:
    return tok.apply_chat_template(
        [{"role": "user", "content": f"color {word}"}], tokenize=False, add_generation_prompt=True
    )


@pytest.fixture(scope="module")
def examples_file(tmp_path_factory, warm_tiny_llm) -> Path:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(warm_tiny_llm)
    frame = pd.DataFrame({"prompt": [_prompt(tok, w) for w in _WORDS] * 2, "gold_grade": [GOLD] * 16})
    path = tmp_path_factory.mktemp("grpo_examples") / "examples.parquet"
    frame.to_parquet(path, index=False)
    return path


def _config(model_dir: Path, examples: Path, out: Path, **changes) -> GRPORunConfig:
    raw = {
        "base_model": str(model_dir),
        "examples": str(examples),
        "output_dir": str(out),
        "max_steps": 16,
        "precision": "fp32",
        "seed": 0,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "sampling": {"resample_every": 4, "max_new_tokens": 1},
        "rewards": {"format": 0.0, "consistency": 0.0},
        "training_args": {
            "learning_rate": 5e-3,
            "max_completion_length": 1,  # the grade token only
            "num_generations": 4,
            "per_device_train_batch_size": 64,
            "beta": 0.0,
        },
    }
    for k, v in changes.items():
        raw[k] = {**raw[k], **v} if isinstance(v, dict) and isinstance(raw.get(k), dict) else v
    return GRPORunConfig.model_validate(raw)


def _expected_reward(model_dir: Path, adapter: Path | None = None) -> float:
    """The policy's expected correct reward at temperature 1: mean P(answer token = "3")."""
    from ecomrel.llm.models import load_model
    from ecomrel.llm.prompts import encode

    model, tok = load_model(str(model_dir), adapter=adapter)
    three = tok("3", add_special_tokens=False)["input_ids"][0]
    probs = []
    with torch.no_grad():
        for w in _WORDS:
            ids = torch.tensor([encode(tok, _prompt(tok, w))])
            probs.append(float(model(input_ids=ids).logits[0, -1].softmax(-1)[three]))
    return sum(probs) / len(probs)


def test_mean_reward_rises_with_dynamic_sampling(warm_tiny_llm, examples_file, tmp_path):
    result = run_grpo(_config(warm_tiny_llm, examples_file, tmp_path / "run"))
    steps = read_steps(tmp_path / "run")
    assert steps["step"].tolist() == list(range(1, 17))
    before, after = _expected_reward(warm_tiny_llm), _expected_reward(warm_tiny_llm, result["adapter"])
    assert after > before + 0.06, (before, after)
    first, last = steps["reward"].iloc[:4].mean(), steps["reward"].iloc[-4:].mean()
    assert last > first, steps[["step", "reward"]].to_string()
    # three rounds of K = 4 steps, each re-estimated from the current policy
    rounds = result["rounds"]
    assert [r["start_step"] for r in rounds] == [0, 4, 8, 12]
    assert rounds[-1]["mean_pass_rate"] > rounds[0]["mean_pass_rate"]
    for r in rounds:
        assert 0 < r["kept_share"] <= 1
        assert r["pool_size"] >= 1 and not r["fallback"]
    for col in ("reward", "reward_std", "kept_share", "cv_before", "cv_after", "pool_size", "round"):
        assert col in steps.columns and steps[col].notna().all()
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").exists()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 16
    # a finished run is not trained again
    assert run_grpo(_config(warm_tiny_llm, examples_file, tmp_path / "run"))["skipped"] is True


def test_killed_run_resumes_from_its_checkpoint(warm_tiny_llm, examples_file, tmp_path):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 6:
                raise KeyboardInterrupt

    out = tmp_path / "run"
    cfg = _config(warm_tiny_llm, examples_file, out, max_steps=8, training_args={"beta": 0.04})
    with pytest.raises(KeyboardInterrupt):
        run_grpo(cfg, callbacks=[Kill()])
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
    pool_before = pd.read_parquet(out / "rounds" / "round-001.parquet")
    result = run_grpo(cfg)
    assert result["steps"] == 8
    steps = read_steps(out)
    assert steps["step"].tolist() == list(range(1, 9))  # the steps after the checkpoint are logged once
    assert "kl" in steps.columns and steps["kl"].notna().all()  # beta > 0: KL to the start model
    pd.testing.assert_frame_equal(pool_before, pd.read_parquet(out / "rounds" / "round-001.parquet"))


def test_without_dynamic_sampling_the_pool_is_every_prompt(warm_tiny_llm, examples_file, tmp_path):
    cfg = _config(warm_tiny_llm, examples_file, tmp_path / "run", max_steps=2, sampling={"dynamic": False})
    result = run_grpo(cfg)
    assert len(result["rounds"]) == 1, result["rounds"]
    assert result["rounds"][0]["kept_share"] == 1.0 and result["rounds"][0]["num_samples"] == 0


def test_any_grpo_config_field_is_settable_and_unknown_ones_fail(tmp_path):
    cfg = GRPORunConfig.from_yaml(
        None,
        ["examples=x.parquet", "training_args.loss_type=grpo", "training_args.epsilon=0.3", "max_steps=3"],
    )
    args = grpo_arguments(cfg, tmp_path, [1.0])
    assert args.loss_type == "grpo" and args.epsilon == 0.3 and args.max_steps == 3
    assert args.num_generations == 4 and args.remove_unused_columns is False and args.save_steps == 8
    with pytest.raises(ConfigError, match="unknown field"):
        grpo_arguments(
            GRPORunConfig.from_yaml(None, ["examples=x", "training_args.bogus=1"]), tmp_path, [1.0]
        )
    with pytest.raises(ConfigError, match="set by ecomrel"):
        grpo_arguments(
            GRPORunConfig.from_yaml(None, ["examples=x", "training_args.max_steps=5"]), tmp_path, [1.0]
        )
    with pytest.raises(ConfigError):
        GRPORunConfig.from_yaml(None, ["examples=x", "sampling.gama=2"])
    assert demo_config("data", "out", max_steps=2).sampling.resample_every == 2


def test_cli_train_grpo_reports_one_line_config_errors(tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    bad = tmp_path / "grpo.yaml"
    bad.write_text("examples: x.parquet\ntraining_args:\n  bogus: 1\n")
    res = CliRunner().invoke(app, ["train", "grpo", "--config", str(bad)])
    assert res.exit_code == 2, res.output
    assert "bogus" in res.output


def test_build_pool_falls_back_when_nothing_is_informative_and_repeats_a_small_pool():
    frame = pd.DataFrame({"prompt": [f"p{i}" for i in range(6)], "gold_grade": [0, 0, 1, 1, 2, 3]})
    cfg = GRPORunConfig.from_yaml(None, ["examples=x"])
    # every group all right or all wrong: the balanced full set, flagged
    counts = pd.DataFrame({"n": [4] * 6, "correct": [0, 4, 0, 4, 0, 4], "pass_rate": [0.0, 1.0] * 3})
    pool, info = build_pool(cfg, frame, counts, min_prompts=2, round_idx=0)
    assert info["fallback"] is True and info["kept_share"] == 0.0
    assert sorted(pool["gold_grade"].tolist()) == [0, 1, 2, 3] and info["cv_after"] == 0.0
    # one informative prompt: repeated up to a generation batch of prompts
    counts = pd.DataFrame({"n": [4] * 6, "correct": [2, 4, 0, 4, 0, 4], "pass_rate": [0.5, 1, 0, 1, 0, 1]})
    pool, info = build_pool(cfg, frame, counts, min_prompts=4, round_idx=1)
    assert info["fallback"] is False and info["repeats"] == 4
    assert pool["prompt"].tolist() == ["p0"] * 4 and pool["pass_rate"].tolist() == [0.5] * 4


def test_data_prompts_are_rendered_with_the_start_adapters_template(tmp_path, warm_tiny_llm):
    """The GRPO stage passes the SFT judge's template: prompts must be that template's, not the default's."""
    from transformers import AutoTokenizer

    from ecomrel.data.sample import write_sample
    from ecomrel.grades import DEFAULT_SCALE
    from ecomrel.train.grpo_trainer import pair_prompts

    write_sample(tmp_path / "data", n_products=120, n_queries=20, seed=0)
    tok = AutoTokenizer.from_pretrained(warm_tiny_llm)
    short = pair_prompts(tmp_path / "data", "train", tok, DEFAULT_SCALE, max_pairs=5, template="judge_title")
    default = pair_prompts(tmp_path / "data", "train", tok, DEFAULT_SCALE, max_pairs=5)
    assert (short["query_id"] == default["query_id"]).all()
    assert all("Grade the product for the shop query" in p for p in short["prompt"])
    assert not any("Grade the product for the shop query" in p for p in default["prompt"])
    assert demo_config(tmp_path / "data", tmp_path / "out", template="judge_title").template == "judge_title"

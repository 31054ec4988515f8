"""DPO de-biasing on a tiny random Llama: the reference is the SFT model, DPO raises the chosen answer's
log-ratio over the rejected one, pairs are mined and reused, config errors are one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomrel.errors import ConfigError, DataError

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def sft_adapter_dir(tmp_path_factory, tiny_llm_dir) -> Path:
    """A LoRA 'SFT' adapter with non-zero weights, so the SFT model differs from the base model."""
    from peft import LoraConfig, get_peft_model

    from ecomrel.llm.models import load_model

    model, _ = load_model(str(tiny_llm_dir), threads=1)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    out = tmp_path_factory.mktemp("sft_adapter")
    peft.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def hand_pairs(tmp_path_factory, tiny_llm_dir, sft_data_dir) -> tuple[Path, pd.DataFrame]:
    """Label-first pairs on the training prompts: chosen = the gold label, rejected = an over-grade."""
    from ecomrel.data.schema import Dataset
    from ecomrel.llm.models import load_model
    from ecomrel.llm.prompts import completion_text, prompts_for_pairs
    from ecomrel.mining.preference import PAIR_COLUMNS, write_pairs

    _, tok = load_model(str(tiny_llm_dir), threads=1)
    train = Dataset.load(sft_data_dir).pairs("train").reset_index(drop=True).iloc[:8]
    prompts = prompts_for_pairs(train, tok)
    gold = train["grade"].astype(int).tolist()
    wrong = [min(g + 1, 3) if g < 3 else 2 for g in gold]
    rows = [
        {
            "prompt": p,
            "chosen": completion_text(g, "the product word matches"),
            "rejected": completion_text(w, "looks close enough"),
            "source": "beam",
            "gold_grade": g,
            "chosen_grade": g,
            "rejected_grade": w,
            "prompt_idx": i,
            "chosen_rank": 1,
            "rejected_rank": 0,
            "chosen_score": -1.0,
            "rejected_score": -0.5,
        }
        for i, (p, g, w) in enumerate(zip(prompts, gold, wrong, strict=True))
    ]
    frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    path = write_pairs(frame, tmp_path_factory.mktemp("pairs") / "pairs.parquet")
    return path, frame


def _config(tmp_path, tiny_llm_dir, **changes):
    from ecomrel.train.dpo_config import DPORunConfig

    base = {
        "base_model": str(tiny_llm_dir),
        "precision": "fp32",
        "output_dir": str(tmp_path / "dpo"),
        "num_threads": 1,
        "training_args": {"max_steps": 2, "per_device_train_batch_size": 2, "logging_steps": 1},
    }
    base.update(changes)
    return DPORunConfig.model_validate(base)


# --- config -----------------------------------------------------------------------------------------
def test_alpha_is_the_sft_weight_or_beta(tmp_path, tiny_llm_dir, hand_pairs):
    from ecomrel.train.dpo_trainer import dpo_training_args

    cfg = _config(tmp_path, tiny_llm_dir, pairs_file=str(hand_pairs[0]))
    args = dpo_training_args(cfg, tmp_path / "t")
    assert args.loss_type == ["sigmoid", "sft"] and args.loss_weights == [1.0, 0.65]
    assert args.beta == pytest.approx(0.1) and args.bf16 is False

    as_beta = dpo_training_args(cfg.model_copy(update={"alpha_reading": "beta"}), tmp_path / "t")
    assert as_beta.loss_type == ["sigmoid"] and as_beta.beta == pytest.approx(0.65)

    plain = dpo_training_args(cfg.model_copy(update={"alpha": 0.0}), tmp_path / "t")
    assert plain.loss_type == ["sigmoid"] and plain.loss_weights is None

    # any DPOConfig field from training_args; the user's value wins over what α implies
    user = cfg.model_copy(update={"training_args": {"beta": 0.3, "loss_type": ["ipo"], "max_steps": 3}})
    args = dpo_training_args(user, tmp_path / "t")
    assert (args.beta, args.loss_type, args.max_steps) == (0.3, ["ipo"], 3)


def test_config_errors_are_one_line(tmp_path, tiny_llm_dir, hand_pairs):
    from ecomrel.train.dpo_config import DPORunConfig
    from ecomrel.train.dpo_trainer import dpo_training_args

    cfg = _config(tmp_path, tiny_llm_dir, pairs_file=str(hand_pairs[0]), training_args={"betta": 0.2})
    with pytest.raises(ConfigError, match="betta"):
        dpo_training_args(cfg, tmp_path / "t")
    owned = cfg.model_copy(update={"training_args": {"output_dir": "x"}})
    with pytest.raises(ConfigError, match="set by ecomrel"):
        dpo_training_args(owned, tmp_path / "t")
    with pytest.raises(ConfigError, match="merge needs"):
        DPORunConfig.from_yaml(None, ["pairs_file=x.parquet", "reference=merge"])
    with pytest.raises(ConfigError, match="pairs"):
        DPORunConfig.from_yaml(None, ["data=x", "pairs=greedy"])
    yaml_file = tmp_path / "dpo.yaml"
    yaml_file.write_text("dpo:\n  data: d\n  pairs: pass_at_n\n  training_args: {beta: 0.2}\n")
    cfg = DPORunConfig.from_yaml(yaml_file, ["sampling.n=3", "training_args.max_steps=4"])
    assert cfg.pairs == "pass_at_n" and cfg.sampling.n == 3
    assert cfg.training_args == {"beta": 0.2, "max_steps": 4}


# --- the reference is the SFT model -------------------------------------------------------------------
@pytest.mark.parametrize("reference", ["adapter_copy", "merge"])
def test_reference_log_probs_equal_the_sft_model(
    tmp_path, tiny_llm_dir, sft_adapter_dir, hand_pairs, reference
):
    from ecomrel.llm.models import load_model
    from ecomrel.train.dpo_trainer import build_dpo_trainer, load_sft_model, sequence_logprobs

    path, pairs = hand_pairs
    cfg = _config(
        tmp_path,
        tiny_llm_dir,
        pairs_file=str(path),
        sft_adapter=str(sft_adapter_dir),
        reference=reference,
        lora={"r": 4, "alpha": 8, "dropout": 0.0},
        training_args={
            "max_steps": 3,
            "per_device_train_batch_size": 4,
            "learning_rate": 5e-2,
            "logging_steps": 1,
        },
    )
    model, tok, peft_config = load_sft_model(cfg)
    assert (peft_config is None) == (reference == "adapter_copy")
    trainer = build_dpo_trainer(cfg, model, tok, peft_config, pairs, tmp_path / "trainer")
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])

    sft, _ = load_model(str(tiny_llm_dir), adapter=str(sft_adapter_dir), threads=1)
    base, _ = load_model(str(tiny_llm_dir), threads=1)
    rows = pairs.iloc[:4]
    want_c = sequence_logprobs(sft, tok, rows["prompt"].tolist(), rows["chosen"].tolist())
    want_r = sequence_logprobs(sft, tok, rows["prompt"].tolist(), rows["rejected"].tolist())
    base_c = sequence_logprobs(base, tok, rows["prompt"].tolist(), rows["chosen"].tolist())
    assert np.abs(want_c - base_c).max() > 1e-2  # the SFT adapter matters: the test can tell them apart

    ref_c, ref_r = trainer.compute_ref_log_probs(trainer.model, batch)
    np.testing.assert_allclose(ref_c.numpy(), want_c, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ref_r.numpy(), want_r, rtol=1e-4, atol=1e-4)

    trainer.train()  # the policy moves, the reference does not
    ref_c2, _ = trainer.compute_ref_log_probs(trainer.model, batch)
    np.testing.assert_allclose(ref_c2.numpy(), want_c, rtol=1e-4, atol=1e-4)
    trainer.model.eval()
    now_c = sequence_logprobs(trainer.model, tok, rows["prompt"].tolist(), rows["chosen"].tolist())
    assert np.abs(now_c - want_c).max() > 1e-3


# --- training raises the chosen answer's log-ratio ------------------------------------------------------
def test_dpo_raises_chosen_over_rejected_and_writes_a_loadable_adapter(
    tmp_path, tiny_llm_dir, sft_adapter_dir, sft_data_dir, hand_pairs
):
    from ecomrel.llm.models import load_model
    from ecomrel.train.dpo_trainer import load_dpo_model, run_dpo, sequence_logprobs

    path, pairs = hand_pairs
    cfg = _config(
        tmp_path,
        tiny_llm_dir,
        pairs_file=str(path),
        data=str(sft_data_dir),
        sft_adapter=str(sft_adapter_dir),
        training_args={
            "max_steps": 6,
            "per_device_train_batch_size": 4,
            "learning_rate": 2e-2,
            "logging_steps": 1,
        },
    )
    result = run_dpo(cfg)
    assert result["steps"] == 6 and result["n_pairs"] == len(pairs)
    assert result["loss_type"] == ["sigmoid", "sft"] and result["loss_weights"] == [1.0, 0.65]
    for side in ("sft", "dpo"):
        m = result["eval"][side]
        assert {"f1_macro", "f1_weighted", "ece", "optimistic_rate", "optimistic_error_share"} <= set(m)
        assert any(k.startswith("recall_") for k in m)
    assert (Path(cfg.output_dir) / "eval" / "dpo_predictions.parquet").exists()

    sft, tok = load_model(str(tiny_llm_dir), adapter=str(sft_adapter_dir), threads=1)
    dpo, _ = load_dpo_model(cfg.output_dir, threads=1)
    prompts, chosen, rejected = (pairs[c].tolist() for c in ("prompt", "chosen", "rejected"))
    before = sequence_logprobs(sft, tok, prompts, chosen) - sequence_logprobs(sft, tok, prompts, rejected)
    after = sequence_logprobs(dpo, tok, prompts, chosen) - sequence_logprobs(dpo, tok, prompts, rejected)
    assert (after - before).mean() > 0.1
    assert result["final_reward_margin"] > result["first_reward_margin"]

    again = run_dpo(cfg)  # finished: returned as is
    assert again["skipped"] is True and again["steps"] == 6


# --- mining through run_dpo ---------------------------------------------------------------------------
def test_pass_at_n_mining_with_oracle_is_written_reused_and_resumed(tmp_path, tiny_llm_dir, sft_data_dir):
    from ecomrel.mining.preference import PAIR_COLUMNS, read_pairs
    from ecomrel.train.dpo_trainer import run_dpo

    cfg = _config(
        tmp_path,
        tiny_llm_dir,
        data=str(sft_data_dir),
        pairs="pass_at_n",
        sampling={"n": 2, "temperature": 1.0, "seed": 0},
        oracle="label",
        max_new_tokens=3,
        max_prompts=6,
        eval_split=None,
        training_args={"max_steps": 2, "save_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1},
    )
    first = run_dpo(cfg)
    out = Path(cfg.output_dir)
    pairs = read_pairs(out / "pairs.parquet")
    assert list(pairs.columns[: len(PAIR_COLUMNS)]) == PAIR_COLUMNS and len(pairs) > 0
    assert set(pairs["source"]) <= {"self_correction", "oracle"}
    stats = first["pair_stats"]
    assert stats["prompts"] == 6 and set(stats["pass_at"]) == {"1", "2"}
    assert stats["oracle_pairs"] + stats["self_correction_pairs"] == len(pairs)
    oracle = pairs[pairs["source"] == "oracle"]
    assert (oracle["chosen"] == oracle["gold_grade"].astype(str)).all()  # oracle: label = the gold grade
    assert len(pd.read_parquet(out / "samples.parquet")) == 6 * 2

    # a killed run: the finished marker and adapter are gone, checkpoints remain -> mined pairs are reused
    # and training continues from the last complete checkpoint
    (out / "metrics.json").unlink()
    import shutil

    shutil.rmtree(out / "adapter")
    more = cfg.model_copy(update={"training_args": {**cfg.training_args, "max_steps": 3}})
    second = run_dpo(more)
    assert second["pair_stats"].get("reused") is True
    assert second["resumed_from"].endswith("checkpoint-2") and second["steps"] == 3


def test_beam_mining_pairs_follow_lref_rule(tiny_llm_dir, sft_data_dir, tmp_path):
    from ecomrel.data.schema import Dataset
    from ecomrel.train.dpo_trainer import load_sft_model, mine_pairs

    cfg = _config(tmp_path, tiny_llm_dir, data=str(sft_data_dir), beam={"k": 3}, max_new_tokens=2)
    model, tok, _ = load_sft_model(cfg)
    train = Dataset.load(sft_data_dir).pairs("train").reset_index(drop=True).iloc[:5]
    pairs, stats, samples = mine_pairs(cfg, model, tok, train)
    assert stats["prompts"] == 5 and stats["k"] == 3 and len(samples) == 15
    assert (pairs["rejected_rank"] == 0).all() and (pairs["chosen_grade"] == pairs["gold_grade"]).all()
    assert stats["errors"] >= len(pairs)


def test_no_pairs_is_a_data_error(tmp_path, tiny_llm_dir, hand_pairs):
    from ecomrel.mining.preference import write_pairs
    from ecomrel.train.dpo_trainer import run_dpo

    empty = write_pairs(hand_pairs[1].iloc[:0], tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="no preference pairs"):
        run_dpo(_config(tmp_path, tiny_llm_dir, pairs_file=str(empty)))


@pytest.mark.parametrize("method", ["beam", "pass_at_n"])
def test_grade_token_answers_rank_or_sample_the_grade_distribution(
    tiny_llm_dir, sft_data_dir, tmp_path, method
):
    from ecomrel.data.schema import Dataset
    from ecomrel.llm.prompts import grade_tokens, prompts_for_pairs
    from ecomrel.llm.scorer import score_prompts
    from ecomrel.train.dpo_trainer import load_sft_model, mine_pairs

    cfg = _config(
        tmp_path,
        tiny_llm_dir,
        data=str(sft_data_dir),
        pairs=method,
        generation="grade_tokens",
        beam={"k": 3},
        sampling={"n": 6, "temperature": 1.0, "seed": 0},
        oracle="label",
    )
    model, tok, _ = load_sft_model(cfg)
    train = Dataset.load(sft_data_dir).pairs("train").reset_index(drop=True).iloc[:6]
    pairs, stats, samples = mine_pairs(cfg, model, tok, train)
    assert not samples["malformed"].any()
    probs = score_prompts(model, tok, prompts_for_pairs(train, tok), grade_tokens(tok).ids)
    if method == "beam":
        assert len(samples) == 6 * 3
        top = samples[samples["rank"] == 0].sort_values("prompt_idx")
        assert top["grade"].astype(int).tolist() == probs.argmax(axis=1).tolist()
        assert (samples.groupby("prompt_idx")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    else:
        assert len(samples) == 6 * 6 and set(stats["pass_at"]) == {str(k) for k in range(1, 7)}
        # every pair prompt either has a sampled right answer or was given the oracle label
        assert set(pairs["source"]) <= {"self_correction", "oracle"}
    assert (pairs["chosen_grade"] == pairs["gold_grade"]).all()


def test_pairs_use_the_sft_judges_prompt_template(tiny_llm_dir, sft_data_dir, tmp_path):
    from ecomrel.data.schema import Dataset
    from ecomrel.llm.prompts import prompts_for_pairs
    from ecomrel.train.dpo_trainer import load_sft_model, mine_pairs

    cfg = _config(
        tmp_path,
        tiny_llm_dir,
        data=str(sft_data_dir),
        pairs="pass_at_n",
        generation="grade_tokens",
        oracle="label",
        template="judge_short",
    )
    model, tok, _ = load_sft_model(cfg)
    train = Dataset.load(sft_data_dir).pairs("train").reset_index(drop=True).iloc[:4]
    pairs, _, _ = mine_pairs(cfg, model, tok, train)
    short = prompts_for_pairs(train, tok, template="judge_short")
    assert len(pairs) > 0
    assert pairs["prompt"].tolist() == [short[i] for i in pairs["prompt_idx"]]
    assert short[0] != prompts_for_pairs(train, tok)[0]

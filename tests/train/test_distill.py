"""Distillation: the soft-label loss really uses the teacher's distribution; training, resume, baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from ecomrel.data.schema import Dataset  # noqa: E402
from ecomrel.student.recipe import StudentRecipe  # noqa: E402
from ecomrel.train.distill_config import DistillConfig  # noqa: E402
from ecomrel.train.losses.soft_label_kl import SoftLabelKLLoss, pack_labels, soft_label_kl_terms  # noqa: E402

torch.set_num_threads(1)

BRANDS = ["acme", "zenith", "nova", "orbit"]
NOUNS = ["drill", "lamp", "chair", "hose", "faucet", "rug"]


def make_data(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A hand-built data folder (12 queries, 8 train / 4 dev) and a Dirichlet teacher file."""
    rng = np.random.default_rng(seed)
    products = pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(36)],
            "title": [f"{BRANDS[i % 4]} {NOUNS[i % 6]} model {i}" for i in range(36)],
            "brand": [BRANDS[i % 4] for i in range(36)],
            "category": [f"home > {NOUNS[i % 6]}s" for i in range(36)],
            "description": ["" for _ in range(36)],
            "price": [10.0 + i for i in range(36)],
        }
    )
    queries = pd.DataFrame(
        {
            "query_id": [f"q{i}" for i in range(12)],
            "text": [f"{BRANDS[i % 4]} {NOUNS[i % 6]}" for i in range(12)],
            "frequency": [1] * 12,
            "kind": ["brand"] * 12,
        }
    )
    rows, teacher = [], []
    for qi in range(12):
        pids = rng.choice(36, size=10, replace=False)
        for j, pi in enumerate(pids):
            g = int((pi % 4 == qi % 4) + (pi % 6 == qi % 6) * 2)
            p = rng.dirichlet(np.ones(4) + 4 * np.eye(4)[g])
            teacher.append(
                {"query_id": f"q{qi}", "product_id": f"p{pi}", **{f"p_{k}": p[k] for k in range(4)}}
            )
            if j < 6:  # the last 4 pairs of each query are judged by the teacher only
                rows.append({"query_id": f"q{qi}", "product_id": f"p{pi}", "grade": g, "true_grade": g})
    ds = Dataset(
        products=products,
        queries=queries,
        judgments=pd.DataFrame(rows),
        splits=pd.DataFrame({"query_id": [f"q{i}" for i in range(12)], "split": ["train"] * 8 + ["dev"] * 4}),
    )
    data = ds.save(folder / "data")
    tdf = pd.DataFrame(teacher)
    tdf["expected_grade"] = tdf[[f"p_{k}" for k in range(4)]].to_numpy() @ np.arange(4)
    tdf["score"] = tdf["expected_grade"]
    tdf["pred_grade"] = tdf[[f"p_{k}" for k in range(4)]].to_numpy().argmax(1)
    tpath = folder / "scores.parquet"
    tdf.to_parquet(tpath)
    return data, tpath


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, tiny_bert_base) -> str:
    return str(tiny_bert_base(tmp_path_factory.mktemp("tiny_base")))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    return make_data(tmp_path_factory.mktemp("distill_data"))


# --- the loss -----------------------------------------------------------------------------------


def test_same_argmax_different_soft_targets_give_different_loss_and_gradient():
    logits = torch.tensor([[0.1, -0.2, 0.3, 0.5]], requires_grad=True)
    grads, losses = [], []
    for target in ([0.05, 0.05, 0.2, 0.7], [0.0, 0.1, 0.44, 0.46]):  # both argmax = 3
        labels = torch.tensor([target + [3.0]])
        kl, _, _, _ = soft_label_kl_terms(logits, labels)
        (g,) = torch.autograd.grad(kl, logits)
        losses.append(kl.item())
        grads.append(g)
    assert abs(losses[0] - losses[1]) > 1e-3
    assert not torch.allclose(grads[0], grads[1])
    # the KL gradient w.r.t. the logits is softmax(z) - t: it points exactly at the soft target
    q = torch.softmax(logits.detach(), -1)
    assert torch.allclose(grads[1], q - torch.tensor([[0.0, 0.1, 0.44, 0.46]]), atol=1e-6)


def test_kl_is_zero_at_the_teacher_and_matches_the_formula():
    t = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    kl, _, _, _ = soft_label_kl_terms(t.log(), torch.cat([t, torch.tensor([[-1.0]])], 1))
    assert kl.item() == pytest.approx(0.0, abs=1e-6)
    z = torch.tensor([[1.0, 0.0, -1.0, 0.5]])
    q = torch.softmax(z, -1)
    kl, _, _, _ = soft_label_kl_terms(z, torch.cat([t, torch.tensor([[-1.0]])], 1))
    assert kl.item() == pytest.approx(float((t * (t / q).log()).sum()), rel=1e-5)


def test_masks_unlabeled_and_teacherless_rows():
    z = torch.randn(3, 4)
    labels = torch.tensor([[0.1, 0.2, 0.3, 0.4, -1.0], [0.0, 0.0, 0.0, 0.0, 2.0], [0.7, 0.1, 0.1, 0.1, 0.0]])
    kl, ce, n_t, n_h = soft_label_kl_terms(z, labels)
    assert (n_t.item(), n_h.item()) == (2, 2)
    expected_ce = torch.nn.functional.cross_entropy(z[[1, 2]], torch.tensor([2, 0]))
    assert ce.item() == pytest.approx(expected_ce.item(), rel=1e-6)
    kl_only, _, _, _ = soft_label_kl_terms(z[[0, 2]], labels[[0, 2]])
    assert kl.item() == pytest.approx(kl_only.item(), rel=1e-6)


def test_pack_labels_layout_and_validation():
    packed = pack_labels([[0.1, 0.2, 0.3, 0.4], None], [None, 2], 4)
    assert packed == [[0.1, 0.2, 0.3, 0.4, -1.0], [0.0, 0.0, 0.0, 0.0, 2.0]]
    with pytest.raises(ValueError, match="row 0"):
        pack_labels([[0.5, 0.5]], [1], 4)


def test_loss_module_on_a_cross_encoder_uses_soft_targets(tiny_base):
    from ecomrel.student.model import make_student

    model = make_student(tiny_base, StudentRecipe(), device="cpu")
    loss_fn = SoftLabelKLLoss(model, kl_weight=1.0, ce_weight=0.0)
    inputs = [["acme drill"], ["acme drill model 1 | acme | home > drills"]]
    grads = []
    for target in ([0.05, 0.05, 0.2, 0.7], [0.0, 0.1, 0.44, 0.46]):
        model.zero_grad()
        out = loss_fn(inputs, [torch.tensor(target + [3.0])])
        assert set(out) == {"kl"}
        out["kl"].backward()
        head = [p for n, p in model.named_parameters() if "classifier" in n and n.endswith("weight")][0]
        grads.append(head.grad.clone())
    assert not torch.allclose(grads[0], grads[1])
    with pytest.raises(ValueError):
        SoftLabelKLLoss(model, kl_weight=0, ce_weight=0)


# --- data and training ----------------------------------------------------------------------------


def test_build_frames_widens_with_unlabeled_train_pairs_only(data, tmp_path):
    from ecomrel.train.distill_trainer import build_frames

    data_dir, teacher = data
    cfg = DistillConfig(data_dir=data_dir, teacher=teacher, out=tmp_path)
    train, ev, counts = build_frames(cfg)
    assert counts["labeled"] == 8 * 6 and counts["unlabeled"] == 8 * 4
    assert set(train["query_id"]) == {f"q{i}" for i in range(8)}  # no dev query leaks in
    unl = train[train["grade"] == -1]
    assert len(unl) == 32 and np.isfinite(unl[[f"p_{k}" for k in range(4)]].to_numpy()).all()
    assert len(ev) == 4 * 6 and "true_grade" in ev
    assert "acme" in train["product"].iloc[0] or "|" in train["product"].iloc[0]
    base, _, c2 = build_frames(cfg.model_copy(update={"human_only": True}))
    assert c2["train_rows"] == 48 and (base["grade"] >= 0).all()


def test_config_validation_and_yaml_overrides(tmp_path, data):
    from ecomrel.errors import ConfigError, UserError

    assert DistillConfig(data_dir=data[0]).mode == "human_only"  # no teacher: the human-labels student
    assert DistillConfig(data_dir=data[0], teacher=data[1]).mode == "distill"
    y = tmp_path / "c.yaml"
    y.write_text(f"data_dir: {data[0]}\nteacher: {data[1]}\ntraining_args:\n  num_train_epochs: 2\n")
    cfg = DistillConfig.from_yaml(
        y, ["kl_weight=0.3", "recipe.max_length=32", "training_args.optim=adamw_torch"]
    )
    assert cfg.kl_weight == 0.3 and cfg.recipe.max_length == 32
    assert cfg.training_args == {"num_train_epochs": 2, "optim": "adamw_torch"}
    with pytest.raises(ConfigError, match="epochs"):  # the hand-declared fields are gone
        DistillConfig.from_yaml(y, ["epochs=2"])
    with pytest.raises(UserError, match="expected key=value"):
        DistillConfig.from_yaml(y, ["kl_weight"])
    with pytest.raises(ConfigError, match="output_dir is set by ecomrel"):
        DistillConfig.from_yaml(y, ["training_args.output_dir=/tmp/x"])
    with pytest.raises(ConfigError, match="unknown grade scale"):
        DistillConfig.from_yaml(y, ["scale=lrf"])
    five = DistillConfig.from_yaml(y, ["scale=lref"])
    assert five.recipe.num_labels == 5 and five.grade_scale.size == 5


def test_asking_for_distillation_without_a_teacher_is_a_config_error(tmp_path, data):
    from ecomrel.errors import ConfigError

    y = tmp_path / "c.yaml"
    y.write_text(f"data_dir: {data[0]}\n")
    for ask in (["mode=distill"], ["kl_weight=0.5"]):
        with pytest.raises(ConfigError, match="no teacher file"):
            DistillConfig.from_yaml(y, ask)
    assert DistillConfig.from_yaml(y, ["mode=human_only"]).human_only


def test_training_args_reach_the_library_and_bad_ones_are_one_line_errors(data, tmp_path):
    from ecomrel.errors import ConfigError
    from ecomrel.train.distill_trainer import training_arguments

    cfg = DistillConfig(
        data_dir=data[0],
        out=tmp_path,
        precision="fp32",
        training_args={
            "optim": "adafactor",
            "max_grad_norm": 0.5,
            "lr_scheduler_type": "cosine_with_min_lr",
            "lr_scheduler_kwargs": {"min_lr": 1e-6},
            "eval_strategy": "no",
            "report_to": "none",
            "max_steps": 7,
        },
    )
    args = training_arguments(cfg, tmp_path / "ck", "cpu")
    assert args.optim == "adafactor" and args.max_grad_norm == 0.5 and args.max_steps == 7
    assert args.lr_scheduler_kwargs == {"min_lr": 1e-6} and args.per_device_train_batch_size == 32
    assert args.output_dir == str(tmp_path / "ck") and not args.bf16 and args.seed == 0
    with pytest.raises(ConfigError, match="unknown field.*no_such_field"):
        training_arguments(cfg.model_copy(update={"training_args": {"no_such_field": 1}}), tmp_path, "cpu")
    with pytest.raises(ConfigError, match="rejected"):
        training_arguments(cfg.model_copy(update={"training_args": {"optim": "nope"}}), tmp_path, "cpu")


def test_run_distill_trains_checkpoints_resumes_and_evaluates(data, tiny_base, tmp_path):
    from ecomrel.train.distill_trainer import run_distill

    data_dir, teacher = data
    cfg = DistillConfig(
        data_dir=data_dir,
        teacher=teacher,
        out=tmp_path / "d",
        base_model=tiny_base,
        training_args={
            "max_steps": 3,
            "save_steps": 3,
            "per_device_train_batch_size": 16,
            "logging_steps": 1,
            "learning_rate": 1e-3,
        },
        recipe=StudentRecipe(max_length=48),
    )
    res = run_distill(cfg)
    model_dir = Path(res["model_dir"])
    assert (model_dir / "model.safetensors").exists() and not list(model_dir.glob("*.bin"))
    assert json.loads((model_dir / "student.json").read_text())["max_length"] == 48
    assert (tmp_path / "d" / "checkpoints" / "checkpoint-3").is_dir()
    assert res["counts"]["unlabeled"] == 32 and res["trained"]
    assert res["mode"] == "distill" and res["teacher"] == str(teacher)
    from ecomrel.train.common import resolve_precision

    assert res["precision"] == resolve_precision("auto", "cpu")  # bf16 on AVX512-BF16/AMX CPUs
    saved = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert saved["precision"] == res["precision"] and saved["mode"] == "distill"
    assert {"f1_macro", "f1_weighted", "rmse", "ndcg@10", "n"} <= set(saved["metrics"]["student@human"])
    m = res["metrics"]
    assert {"student@human", "student@truth", "teacher@human", "human@truth", "student~teacher"} <= set(m)
    pred = pd.read_parquet(res["predictions"])
    assert {"query_id", "product_id", "score", "pred_grade", "p_0", "p_3", "expected_grade"} <= set(
        pred.columns
    )
    assert np.allclose(pred[[f"p_{k}" for k in range(4)]].sum(axis=1), 1.0, atol=1e-5)
    log = json.loads((tmp_path / "d" / "train_log.json").read_text())
    assert any("kl" in h for h in log) and any("ce" in h for h in log)

    # a finished run is not retrained; force + more steps resumes from the last checkpoint
    again = run_distill(cfg)
    assert not again["trained"]
    more = run_distill(
        cfg.model_copy(update={"training_args": {**cfg.training_args, "max_steps": 5}}), force=True
    )
    assert more["resumed_from"].endswith("checkpoint-3")
    state = json.loads((tmp_path / "d" / "checkpoints" / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5


def test_human_only_baseline_runs_without_teacher(data, tiny_base, tmp_path):
    from ecomrel.train.distill_trainer import run_distill

    cfg = DistillConfig(
        data_dir=data[0],
        out=tmp_path / "b",
        base_model=tiny_base,
        precision="fp32",
        training_args={"max_steps": 2, "per_device_train_batch_size": 16},
        recipe=StudentRecipe(max_length=32),
    )
    res = run_distill(cfg)
    assert res["human_only"] and res["counts"]["train_rows"] == 48
    assert res["mode"] == "human_only" and res["teacher"] == "none" and res["precision"] == "fp32"
    assert "teacher@human" not in res["metrics"] and "student@human" in res["metrics"]
    meta = json.loads((Path(res["model_dir"]) / "student.json").read_text())
    assert meta["human_only"] and meta["kl_weight"] == 0.0


def test_cli_train_distill(data, tiny_base, tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    y = tmp_path / "c.yaml"
    y.write_text(
        f"data_dir: {data[0]}\nteacher: {data[1]}\nbase_model: {tiny_base}\n"
        "training_args:\n  per_device_train_batch_size: 16\n"
    )
    r = CliRunner().invoke(
        app,
        [
            "train",
            "distill",
            "--config",
            str(y),
            "--out",
            str(tmp_path / "c"),
            "--max-steps",
            "1",
            "--set",
            "recipe.max_length=32",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "c" / "model" / "model.safetensors").exists()
    bad = CliRunner().invoke(
        app, ["train", "distill", "--config", str(y), "--set", "training_args.batch_sise=8"]
    )
    assert bad.exit_code == 2 and "batch_sise" in bad.output and "Traceback" not in bad.output

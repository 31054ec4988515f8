"""Rater distributions as soft targets (issue 13 item 4) and distill durations across resumes (item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from ecomrel.data.schema import Dataset  # noqa: E402
from ecomrel.errors import DataError, UserError  # noqa: E402
from ecomrel.grades import homedepot_grade  # noqa: E402
from ecomrel.student.recipe import StudentRecipe  # noqa: E402
from ecomrel.train.distill_config import DistillConfig  # noqa: E402
from ecomrel.train.losses import pack_labels, rater_distribution, rater_distributions, soft_label_kl_terms  # noqa: E402

torch.set_num_threads(1)


# --- the construction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "expected"),
    [
        (1.0, [1, 0, 0, 0]),
        (4 / 3, [2 / 3, 1 / 6, 1 / 6, 0]),
        (5 / 3, [1 / 3, 1 / 3, 1 / 3, 0]),
        (2.0, [0, 0.5, 0.5, 0]),
        (7 / 3, [0, 1 / 3, 1 / 3, 1 / 3]),
        (2.5, [0, 0.25, 0.25, 0.5]),
        (8 / 3, [0, 1 / 6, 1 / 6, 2 / 3]),
        (3.0, [0, 0, 0, 1]),
    ],
)
def test_homedepot_means_give_the_documented_distributions(mean, expected):
    p = rater_distribution(mean)
    assert np.allclose(p, expected, atol=1e-9)
    assert p.sum() == pytest.approx(1.0)
    # mean-preserving: the expected grade inverts the linear raw map 1 + 2·E/3
    assert 1 + 2 * float(p @ np.arange(4)) / 3 == pytest.approx(mean)


def test_rater_count_snaps_to_a_realisable_panel_and_other_scales():
    # "2.33" as printed in the file, three raters: exactly the panel {2, 2, 3}
    assert np.allclose(rater_distribution(2.33, rater_count=3), [0, 1 / 3, 1 / 3, 1 / 3])
    # a 1..5 rater scale on the five LREF grades: rater grade r is grade r - 1
    assert np.allclose(rater_distribution(3.5, num_grades=5, rater_scale=(1, 5)), [0, 0, 0.5, 0.5, 0])
    rows = rater_distributions([1.0, float("nan"), 3.0], rater_counts=[3, None, pd.NA])
    assert np.isnan(rows[1]).all() and rows[0][0] == 1 and rows[2][3] == 1
    with pytest.raises(ValueError, match="row 1"):
        rater_distributions([2.0, 3.5])


def test_soft_human_layout_equals_hard_ce_for_one_hot_and_uses_the_distribution():
    z = torch.tensor([[0.3, -0.1, 0.2, 0.4], [1.0, 0.0, -1.0, 0.5]])
    hard = torch.tensor(pack_labels(None, [2, 0], 4))
    one_hot = torch.tensor(pack_labels(None, [2, 0], 4, human_probs=[None, [1, 0, 0, 0]]))
    assert one_hot.shape == (2, 8)
    _, ce_hard, _, n_h = soft_label_kl_terms(z, hard)
    _, ce_soft, _, n_s = soft_label_kl_terms(z, one_hot)
    assert ce_hard.item() == pytest.approx(ce_soft.item(), rel=1e-6) and n_h.item() == n_s.item() == 2
    h = rater_distribution(7 / 3).tolist()
    soft = torch.tensor(pack_labels(None, [2, 0], 4, human_probs=[h, None]))
    zz = z.clone().requires_grad_(True)
    _, ce, _, _ = soft_label_kl_terms(zz, soft)
    (g,) = torch.autograd.grad(ce, zz)
    q = torch.softmax(z, -1)
    # d CE / d z = (softmax(z) - target) / batch: row 0 points at the rater distribution
    assert torch.allclose(g[0], (q[0] - torch.tensor(h, dtype=torch.float32)) / 2, atol=1e-6)
    # a row with neither a grade nor a soft target is masked
    none = torch.tensor(pack_labels(None, [None], 4, human_probs=[None]))
    assert none.sum().item() == 0


# --- in the distill trainer ------------------------------------------------------------------


def make_rater_data(folder: Path) -> Path:
    """Home Depot-like folder: rater means in raw_score (1..3), grade = homedepot_grade(mean)."""
    rng = np.random.default_rng(0)
    nouns = ["drill", "lamp", "chair", "hose", "faucet", "rug"]
    products = pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(24)],
            "title": [f"{nouns[i % 6]} model {i}" for i in range(24)],
        }
    )
    queries = pd.DataFrame(
        {"query_id": [f"q{i}" for i in range(8)], "text": [nouns[i % 6] for i in range(8)]}
    )
    rows = []
    for qi in range(8):
        for pi in rng.choice(24, size=6, replace=False):
            mean = [1.0, 4 / 3, 5 / 3, 2.0, 7 / 3, 8 / 3, 3.0][int(rng.integers(7))]
            rows.append(
                {
                    "query_id": f"q{qi}",
                    "product_id": f"p{pi}",
                    "grade": homedepot_grade(mean),
                    "source_label": f"{mean:.2f}",
                    "raw_score": mean,
                }
            )
    ds = Dataset(
        products=products,
        queries=queries,
        judgments=pd.DataFrame(rows),
        splits=pd.DataFrame({"query_id": [f"q{i}" for i in range(8)], "split": ["train"] * 6 + ["dev"] * 2}),
    )
    return ds.save(folder / "data")


@pytest.fixture(scope="module")
def rater_data(tmp_path_factory) -> Path:
    return make_rater_data(tmp_path_factory.mktemp("rater_data"))


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, tiny_bert_base) -> str:
    return str(tiny_bert_base(tmp_path_factory.mktemp("tiny_base_rt")))


def test_config_default_is_hard_and_bad_values_are_config_errors(rater_data, tmp_path):
    cfg = DistillConfig(data_dir=rater_data, out=tmp_path)
    assert cfg.targets == "hard" and cfg.rater_scale == (1, 3)
    with pytest.raises(UserError, match="targets"):
        DistillConfig.from_yaml(None, ["targets=soft"], {"data_dir": rater_data})
    with pytest.raises(UserError, match="rater_scale"):
        DistillConfig.from_yaml(None, ["rater_scale=[3, 1]"], {"data_dir": rater_data})


def test_build_frames_adds_rater_targets_and_falls_back_to_the_hard_grade(rater_data, tmp_path):
    from ecomrel.train.distill_trainer import build_frames

    cfg = DistillConfig(data_dir=rater_data, out=tmp_path, targets="rater_distribution")
    train, _, counts = build_frames(cfg)
    h = train[[f"h_{i}" for i in range(4)]].to_numpy()
    assert counts["rater_targets"] == 36 and counts["rater_targets_fallback"] == 0
    assert np.allclose(h @ np.arange(4), 1.5 * (train["raw_score"].to_numpy() - 1))
    hard_train, _, hard_counts = build_frames(cfg.model_copy(update={"targets": "hard"}))
    assert "h_0" not in hard_train.columns and "rater_targets" not in hard_counts

    # a folder without raw scores: a one-line data error, not a silent 'hard'
    ds = Dataset.load(rater_data)
    ds.judgments["raw_score"] = np.nan
    bare = ds.save(tmp_path / "bare")
    with pytest.raises(DataError, match="raw_score"):
        build_frames(DistillConfig(data_dir=bare, out=tmp_path, targets="rater_distribution"))
    # a mean outside the rater scale names the pair
    ds.judgments["raw_score"] = 4.0
    wide = ds.save(tmp_path / "wide")
    with pytest.raises(DataError, match=r"outside rater_scale \[1, 3\]"):
        build_frames(DistillConfig(data_dir=wide, out=tmp_path, targets="rater_distribution"))


class Killed(RuntimeError):
    pass


def test_rater_targets_train_and_durations_add_up_across_a_kill_and_resume(
    rater_data, tiny_base, tmp_path, monkeypatch
):
    from ecomrel.train import distill_trainer
    from ecomrel.train.distill_trainer import TIMING_FILE, SegmentClock, run_distill

    cfg = DistillConfig(
        data_dir=rater_data,
        out=tmp_path / "d",
        base_model=tiny_base,
        targets="rater_distribution",
        precision="fp32",
        training_args={"max_steps": 4, "save_steps": 2, "per_device_train_batch_size": 8, "logging_steps": 1},
        recipe=StudentRecipe(max_length=24),
    )
    original = SegmentClock.callback

    def killing_callback(self):
        cb = original(self)
        tick = cb.on_save

        def on_save(args, state, control, **kwargs):
            tick(args, state, control, **kwargs)
            if state.global_step == 2:
                raise Killed("simulated kill after checkpoint-2")

        cb.on_save = on_save
        return cb

    monkeypatch.setattr(SegmentClock, "callback", killing_callback)
    with pytest.raises(Killed):
        run_distill(cfg)
    first = json.loads((tmp_path / "d" / TIMING_FILE).read_text())["segments"]
    assert len(first) == 1 and first[0]["seconds"] > 0 and not first[0]["finished"]

    monkeypatch.setattr(SegmentClock, "callback", original)
    res = run_distill(cfg)
    assert res["resumed_from"].endswith("checkpoint-2") and res["targets"] == "rater_distribution"
    assert res["segments"] == 2
    assert res["seconds"] == pytest.approx(first[0]["seconds"] + res["segment_seconds"], abs=0.05)
    assert res["seconds"] > res["segment_seconds"]
    saved = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert saved["seconds"] == res["seconds"] and saved["counts"]["rater_targets"] == 36
    meta = json.loads((Path(res["model_dir"]) / "student.json").read_text())
    assert meta["targets"] == "rater_distribution"
    segs = json.loads((tmp_path / "d" / TIMING_FILE).read_text())["segments"]
    assert [s["finished"] for s in segs] == [False, True]
    # a fresh run from scratch (no checkpoint) starts a new timing file
    fresh = run_distill(cfg.model_copy(update={"out": tmp_path / "e", "resume": False}))
    assert fresh["segments"] == 1 and fresh["seconds"] == fresh["segment_seconds"]
    assert distill_trainer.TIMING_FILE == "timing.json"

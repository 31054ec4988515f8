"""run_selection end to end on the sample catalogue with the fast linear helper: outputs, the known-noise
check, stage-level resume, the CLI, and the errors."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.errors import UserError
from ecomrel.select import SelectConfig, run_selection, suspected_mislabels_html

from .conftest import fast_settings


@pytest.fixture(scope="module")
def selection(select_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("select_run")
    cfg = SelectConfig(data_dir=select_sample, out=out, **fast_settings())
    return cfg, run_selection(cfg)


def test_outputs(selection, select_sample):
    cfg, res = selection
    d = pd.read_parquet(res["decisions"])
    judged = pd.read_parquet(select_sample / "judgments.parquet")
    assert len(d) == len(judged)  # split: null → every judged pair is decided
    assert set(d["reason"]) <= {"kept", "kept_floor", "easy", "not_learnable", "suspect_mislabel"}
    for h in ("im", "ci", "ms"):
        assert {f"{h}_p_0", f"{h}_pred", f"{h}_p_label", f"{h}_confidence"} <= set(d.columns)
        assert d[[f"{h}_p_{k}" for k in range(4)]].notna().all().all()
    sel = pd.read_parquet(res["selected"])
    assert len(sel) == int(d["kept"].sum()) == res["counts"]["kept"]
    assert {"query_id", "product_id", "grade", "band", "reason"} <= set(sel.columns)
    # stratified: every grade of the pool keeps at least one pair
    assert set(sel["grade"]) == set(d["grade"])
    m = json.loads((cfg.out / "metrics.json").read_text())
    total = sum(v for r in m["by_reason_grade_band"].values() for g in r.values() for v in g.values())
    assert total == len(d)
    assert m["counts"]["pairs"] == len(d)


def test_helpers_never_scored_their_training_pairs(selection):
    cfg, _ = selection
    folds = pd.read_parquet(cfg.out / "folds.parquet")
    for h in ("im", "ci", "ms"):
        for f in range(cfg.folds):
            trained = pd.read_parquet(cfg.out / "helpers" / h / f"fold_{f}" / "train_pairs.parquet")
            scored = pd.read_parquet(cfg.out / "helpers" / h / f"fold_{f}" / "oof.parquet")
            tk = set(zip(trained["query_id"], trained["product_id"], strict=True))
            sk = set(zip(scored["query_id"], scored["product_id"], strict=True))
            assert tk and sk and not tk & sk
            assert set(scored["query_id"]) == set(folds.loc[folds["fold"] == f, "query_id"])
            assert not set(trained["query_id"]) & set(scored["query_id"])  # query-disjoint


def test_known_noise_check_and_mislabel_report(selection):
    _, res = selection
    nc = res["noise_check"]
    assert nc["mislabelled"] > 0 and 0.05 < nc["noise_rate"] < 0.15
    for who in ("ms", "confident", "union"):
        assert {"precision", "recall", "random_same_rate"} <= set(nc[who])
    rep = pd.read_parquet(res["suspected_mislabels"])
    assert len(rep) == res["flags"]["suspected_mislabels"] > 0
    assert rep["rank"].tolist() == list(range(1, len(rep) + 1))
    assert (rep["suspected_grade"] != rep["given_grade"]).all()
    both = rep["flagged_by"] == "ms+confident"
    if both.any() and (~both).any():
        assert both.idxmin() > both.idxmax() or both.iloc[0]  # flagged by both come first
    html = suspected_mislabels_html(rep, limit=5)
    assert html.startswith('<table class="suspected-mislabels">') and html.count("<tr>") == 6
    assert "<script" not in html


def test_stage_resume_retrains_only_the_missing_fold(selection, tmp_path):
    cfg, first = selection
    out = tmp_path / "resumed"
    shutil.copytree(cfg.out, out)
    shutil.rmtree(out / "helpers" / "ci" / "fold_1")  # killed while training CI's fold 1
    res = run_selection(cfg.model_copy(update={"out": out}))
    assert res["helpers"]["im"]["trained"] == 0 and res["helpers"]["im"]["reused"] == cfg.folds
    assert res["helpers"]["ms"]["trained"] == 0
    assert res["helpers"]["ci"]["trained"] == 1 and res["helpers"]["ci"]["reused"] == cfg.folds - 1
    assert res["counts"] == first["counts"]  # the same decisions as the uninterrupted run


def test_keep_ratio(select_sample, tmp_path, selection):
    cfg, _ = selection
    shutil.copytree(cfg.out / "helpers", tmp_path / "helpers")  # reuse the trained folds
    res = run_selection(cfg.model_copy(update={"out": tmp_path, "keep_ratio": 0.3, "mislabel": "ms"}))
    d = pd.read_parquet(res["decisions"])
    assert res["helpers"]["im"]["trained"] == 0
    assert (
        abs(d["kept"].mean() - 0.3) < 0.03
        or d["kept"].sum() == ((~d["suspect"]) & (~d["not_learnable"])).sum()
    )


def test_degenerate_selection_is_a_user_error(select_sample, tmp_path, selection):
    cfg, _ = selection
    shutil.copytree(cfg.out / "helpers", tmp_path / "helpers")
    everything = cfg.model_copy(
        update={
            "out": tmp_path,
            "im": cfg.im.model_copy(update={"enabled": False}),
            "ci": cfg.ci.model_copy(update={"enabled": False}),
            "ms": cfg.ms.model_copy(update={"enabled": False}),
            "mislabel": "none",
        }
    )
    with pytest.raises(UserError, match="kept all"):
        run_selection(everything)


def test_config_errors(select_sample, tmp_path):
    with pytest.raises(UserError, match="keep_ratio"):
        SelectConfig.from_yaml(None, ["keep_ratio=2"], {"data_dir": select_sample})
    with pytest.raises(UserError, match="bogus"):
        SelectConfig.from_yaml(None, ["bogus=1"], {"data_dir": select_sample})
    with pytest.raises(UserError, match="needs the MS helper"):
        SelectConfig.from_yaml(None, ["mislabel=ms", "ms.enabled=false"], {"data_dir": select_sample})
    bare = tmp_path / "bare"
    shutil.copytree(select_sample, bare)
    (bare / "splits.parquet").unlink()
    with pytest.raises(UserError, match="no splits.parquet"):
        run_selection(SelectConfig(data_dir=bare, out=tmp_path / "o", split="train"))


def test_cli(select_sample, tmp_path, selection):
    from ecomrel.cli import app

    cfg, _ = selection
    shutil.copytree(cfg.out / "helpers", tmp_path / "out" / "helpers")
    yaml_file = tmp_path / "select.yaml"
    yaml_file.write_text("split: null\nfolds: 3\nscorer: {kind: linear, linear_features: 4096}\n")
    r = CliRunner().invoke(
        app,
        ["select", "--data", str(select_sample), "--out", str(tmp_path / "out"), "--config", str(yaml_file)],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["counts"]["pairs"] > 0
    r = CliRunner().invoke(app, ["select", "--data", str(select_sample), "--set", "folds=1"])
    assert r.exit_code == 2 and "folds" in r.output

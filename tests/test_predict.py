"""``ecomrel predict`` / :func:`ecomrel.predict.predict`: any model kind scores a data folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")

from ecomrel.cli import app  # noqa: E402
from ecomrel.data.schema import Dataset  # noqa: E402
from ecomrel.decisions import DECISIONS_FILE, Decisions  # noqa: E402
from ecomrel.errors import DataError  # noqa: E402
from ecomrel.predict import detect_model, predict, predict_with_info, run_predict  # noqa: E402

torch.set_num_threads(1)
P = [f"p_{k}" for k in range(4)]

QUERIES = [
    "cordless drill 20v",
    "white paint gallon",
    "red running shoes",
    "solar lamp",
    "chrome faucet",
    "sofa",
]
TITLES = [
    "DEWALT 20V cordless drill driver kit",
    "interior white paint 1 gallon",
    "running shoes red leather size 10",
    "solar outdoor lamp light",
    "kitchen faucet chrome",
    "grey sofa",
    "drill bag with charger",
    "paint roller and tray",
]
SPLITS = ["train", "train", "dev", "dev", "test", "test"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """6 queries x 8 products with grades and a 1–3 raw score (Home Depot style)."""
    rng = np.random.default_rng(0)
    rows = []
    for qi in range(len(QUERIES)):
        for pj in range(len(TITLES)):
            g = 3 if pj == qi else int(rng.integers(0, 3))
            rows.append(
                {"query_id": f"q{qi}", "product_id": f"p{pj}", "grade": g, "raw_score": 1 + 2 * g / 3}
            )
    j = pd.DataFrame(rows)
    j["source_label"] = j["raw_score"].round(2).astype(str)
    products = pd.DataFrame({"product_id": [f"p{i}" for i in range(len(TITLES))], "title": TITLES})
    products["brand"] = None
    products["attributes"] = [{} for _ in TITLES]
    queries = pd.DataFrame({"query_id": [f"q{i}" for i in range(6)], "text": QUERIES})
    splits = pd.DataFrame({"query_id": queries["query_id"], "split": SPLITS})
    out = tmp_path_factory.mktemp("predict_data")
    Dataset(products=products, queries=queries, judgments=j, splits=splits).save(out)
    return out


@pytest.fixture(scope="module")
def student(tmp_path_factory, tiny_bert_base) -> Path:
    """A distill-style folder: model/ (a tiny random BERT student) and onnx/ (its export)."""
    from ecomrel.export.onnx import export_onnx
    from ecomrel.student.model import make_student
    from ecomrel.student.recipe import StudentRecipe

    root = tmp_path_factory.mktemp("student")
    base = tiny_bert_base(root / "base", seed=2)
    recipe = StudentRecipe(max_length=48)
    model = make_student(str(base), recipe, device="cpu")
    with torch.no_grad():
        head = [p for n, p in model.named_parameters() if "classifier" in n and n.endswith("weight")][0]
        head.mul_(40.0)
    model.save_pretrained(str(root / "model"))
    recipe.save(root / "model")
    export_onnx(root / "model", root / "onnx", quantize=False)
    return root


@pytest.fixture(scope="module")
def judge(tmp_path_factory, tiny_llm_builders) -> Path:
    """A LoRA adapter folder on a tiny random Llama saved beside it (the base recorded in the adapter)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("judge")
    corpus = [
        "You are a search relevance judge. Grade how well the product matches the query. Grades: 0 1 2 3",
        *QUERIES,
        *TITLES,
    ]
    tok = tiny_llm_builders.tokenizer(corpus, 600)
    model = tiny_llm_builders.model(tok, seed=0, weight_scale=8.0)
    model.save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    base = AutoModelForCausalLM.from_pretrained(root / "base")
    peft_model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(root / "adapter")
    return root / "adapter"


@pytest.fixture(scope="module")
def baseline(data_dir, tmp_path_factory) -> tuple[Path, dict]:
    from ecomrel.baselines import run_baseline

    out = tmp_path_factory.mktemp("baselines")
    return out, run_baseline("bm25", data_dir, out)


def test_detect_model_kinds_and_unknown_folder(student, judge, baseline, tmp_path):
    assert detect_model(student).kind == "student"  # distill out folder → out/model
    assert detect_model(student / "model").path == student / "model"
    assert detect_model(student / "onnx").kind == "onnx"
    stage = tmp_path / "distill"
    stage.mkdir()
    (stage / "primary.txt").write_text(f"{student / 'model'}\n")
    assert detect_model(stage).path == student / "model"  # the pipeline's distill stage folder
    ref = detect_model(judge)
    assert ref.kind == "judge" and ref.adapter == judge and ref.base == str(judge.parent / "base")
    assert detect_model(judge.parent / "base").kind == "judge"
    folder, _ = baseline
    assert detect_model(folder).kind == "baseline" and detect_model(folder).method == "bm25"
    assert detect_model(folder / "bm25_thresholds.json").decisions_path.name == "bm25_decisions.json"
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(DataError, match="not an ecomrel model folder"):
        detect_model(tmp_path)
    res = CliRunner().invoke(
        app, ["predict", "--model", str(tmp_path), "--data", str(tmp_path), "--out", "x.parquet"]
    )
    assert (
        res.exit_code == 2 and "not an ecomrel model folder" in res.output and "Traceback" not in res.output
    )


def test_student_fits_decisions_on_dev_saves_them_and_eval_reads_the_file(student, data_dir, tmp_path):
    from ecomrel.eval import evaluate

    model = student / "model"
    (model / DECISIONS_FILE).unlink(missing_ok=True)
    out = tmp_path / "test.parquet"
    frame, info = predict_with_info(student, data_dir, "test", out=out)
    assert info["kind"] == "student" and info["decisions_fitted"] and info["calibrated"]
    assert Path(info["decisions"]) == model / DECISIONS_FILE
    dec = Decisions.load(model)
    assert dec.fitted_on["split"] == "dev" and dec.fitted_on["n_pairs"] == 16
    assert len(frame) == 16 and set(frame["query_id"]) == {"q4", "q5"}
    for col in ("score", "pred_grade", *P, "expected_grade", "tier", "argmax_grade", "calibrated_score"):
        assert col in frame.columns
    assert (frame["pred_grade"] == dec.grade(frame["expected_grade"])).all()
    assert (frame["argmax_grade"] == frame[P].to_numpy().argmax(1)).all()
    assert frame["calibrated_score"].between(1, 3).all()
    report = evaluate(data_dir, out, split="test")
    assert {"f1_macro", "rmse", "ndcg@10"} <= set(report.flat())
    # loaded the second time, not refitted; the same numbers
    again, info2 = predict_with_info(student, data_dir, "test")
    assert not info2["decisions_fitted"]
    pd.testing.assert_frame_equal(frame, again)
    # decisions=none keeps argmax
    plain = predict(student, data_dir, "test", decisions="none")
    assert (plain["pred_grade"] == plain[P].to_numpy().argmax(1)).all() and "calibrated_score" not in plain


def test_onnx_export_matches_torch_and_finds_the_students_decisions(student, data_dir):
    torch_pred = predict(student, data_dir, "test")  # fits decisions beside model/ when absent
    onnx_pred, info = predict_with_info(student / "onnx", data_dir, "test", variant="fp32")
    assert info["kind"] == "onnx" and not info["decisions_fitted"]
    assert Path(info["decisions"]) == student / "model" / DECISIONS_FILE  # via onnx.json's source
    np.testing.assert_allclose(onnx_pred[P].to_numpy(), torch_pred[P].to_numpy(), atol=1e-4)
    assert (onnx_pred["pred_grade"] == torch_pred["pred_grade"]).mean() >= 0.9


def test_baseline_with_saved_cut_points_reproduces_the_baseline_run(baseline, data_dir, tmp_path):
    folder, res = baseline
    frame, info = predict_with_info(folder, data_dir, "test", out=tmp_path / "bm25.parquet")
    assert info["kind"] == "baseline"
    assert Path(info["decisions"]).name == "bm25_decisions.json" and info["calibrated"]
    ref = pd.read_parquet(res["predictions"])
    ref = (
        ref[ref["query_id"].isin({"q4", "q5"})].sort_values(["query_id", "product_id"]).reset_index(drop=True)
    )
    np.testing.assert_allclose(frame["score"], ref["score"])
    assert (
        frame["pred_grade"].to_numpy() == ref["pred_grade"].to_numpy()
    ).all()  # the saved cuts, not refitted
    assert frame["calibrated_score"].between(1, 3).all()


def test_judge_adapter_scores_through_the_judge_path(judge, data_dir, tmp_path):
    frame, info = predict_with_info(judge, data_dir, "test", out=tmp_path / "judge.parquet")
    assert info["kind"] == "judge" and info["decisions_fitted"]
    assert len(frame) == 16 and set(frame["tier"]) <= {"Good", "Mid", "Bad"}
    np.testing.assert_allclose(frame[P].sum(axis=1), 1.0, atol=1e-6)
    assert (tmp_path / "judge_judge" / "test" / "scores.parquet").is_file()  # resumable judge folder
    assert (judge / DECISIONS_FILE).is_file()


def test_cli_predict_and_calibrate_equal_the_python_calls(student, data_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app, ["calibrate", "--model", str(student), "--data", str(data_dir), "--split", "dev"]
    )
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output[res.output.index("{") :])
    assert shown["kind"] == "student" and len(shown["cuts"]) == 3
    out = tmp_path / "cli.parquet"
    res = runner.invoke(
        app,
        ["predict", "--model", str(student), "--data", str(data_dir), "--split", "test", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "loaded" in res.output
    api = run_predict(student, data_dir, tmp_path / "api.parquet", "test")
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(api["predictions"]))
    res = runner.invoke(
        app,
        ["predict", "--model", str(student), "--data", str(data_dir), "--split", "nope", "--out", str(out)],
    )
    assert res.exit_code == 2 and "no split 'nope'" in res.output

"""The HTML report from a small synthetic run folder (no models): sections in pipeline order, a
fitted metrics table, per-model diagnostics, segments, timings, the trade-off plot — and, where
Chromium is installed, a headless render at 1280 px that checks every image loads and nothing
overflows."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ecomrel.eval import evaluate, write_metrics
from ecomrel.report import write_report

CHROMIUM = os.environ.get("ECOMREL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _predictions(pairs: pd.DataFrame, rng: np.random.Generator, noise: float, probs: bool) -> pd.DataFrame:
    grade = pairs["grade"].to_numpy(dtype=int)
    logits = np.eye(4)[grade] * 2.0 + rng.normal(0, noise, (len(pairs), 4))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    out = pd.DataFrame({"query_id": pairs["query_id"], "product_id": pairs["product_id"]})
    out["score"] = p @ np.arange(4)
    out["pred_grade"] = p.argmax(1)
    if probs:
        for k in range(4):
            out[f"p_{k}"] = p[:, k]
        out["expected_grade"] = out["score"]
    return out


def _tiny_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(13, 5.5))  # as wide as rank/tradeoff.py's figure
    ax.plot([0, 1], [0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mark(run: Path, stage: str, seconds: float, rows: dict, predictions: dict, summary: str) -> None:
    (run / stage).mkdir(parents=True, exist_ok=True)
    payload = {"stage": stage, "summary": summary, "seconds": seconds}
    payload.update(metrics=rows, predictions=predictions)
    (run / stage / "_done.json").write_text(json.dumps(payload))


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> Path:
    from ecomrel.data.sample import generate_sample
    from ecomrel.data.splits import split_by_query

    run = tmp_path_factory.mktemp("run")
    ds = generate_sample(n_products=200, n_queries=60, seed=0, noise=0.1)
    ds.splits = split_by_query(ds.queries, seed=0)
    ds.save(run / "data")
    pairs = ds.pairs()
    test_q = ds.split_queries("test")
    rng = np.random.default_rng(0)
    files = {
        "bm25": ("baselines", "baselines/bm25_predictions.parquet", _predictions(pairs, rng, 2.5, False)),
        "judge_zero_shot": (
            "judge",
            "judge/test/scores.parquet",
            _predictions(pairs[pairs["query_id"].isin(sorted(test_q)[:4])], rng, 2.0, True),
        ),
        "student_distilled": (
            "distill",
            "distill/student_scores.parquet",
            _predictions(pairs, rng, 1.0, True),
        ),
    }
    rows: dict[str, dict] = {}
    for row, (_stage, rel, frame) in files.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(run / rel, index=False)
        queries = set(frame["query_id"]) if row == "judge_zero_shot" else None
        rep = evaluate(run / "data", run / rel, split="test", queries=queries, name=row)
        rows[row] = rep.flat()
    judge_q = set(files["judge_zero_shot"][2]["query_id"])
    subset = evaluate(run / "data", run / files["bm25"][1], split="test", queries=judge_q)
    rows["bm25@judge_subset"] = subset.flat()
    rows["student_distilled"]["train_seconds"] = 123.456
    write_metrics(run / "eval" / "metrics.json", rows)
    _mark(run, "data", 1.5, {}, {}, "Products, queries and judgments")
    _mark(run, "baselines", 3.25, {"bm25": {}}, {"bm25": files["bm25"][1]}, "BM25 baseline")
    _mark(
        run,
        "judge",
        61.0,
        {"judge_zero_shot": {}, "bm25@judge_subset": {}},
        {"judge_zero_shot": files["judge_zero_shot"][1], "bm25@judge_subset": files["bm25"][1]},
        "Zero-shot LLM judge",
    )
    _mark(
        run,
        "distill",
        240.0,
        {"student_distilled": {}},
        {"student_distilled": files["student_distilled"][1]},
        "Distillation into a cross-encoder",
    )
    flagged = pairs.head(25).reset_index(drop=True)
    mislabels = pd.DataFrame(
        {
            "rank": np.arange(1, 26),
            "query_id": flagged["query_id"],
            "product_id": flagged["product_id"],
            "query": flagged["query"],
            "product": flagged["title"] + " <b>",  # markup in a title is shown, not rendered
            "given_grade": flagged["grade"].astype(int),
            "suspected_grade": (flagged["grade"].astype(int) + 1) % 4,
            "mislabel_confidence": np.linspace(0.99, 0.5, 25),
            "flagged_by": "ms+confident",
            **{f"{h}_p_{k}": 0.25 for h in ("im", "ci", "ms") for k in range(4)},
        }
    )
    (run / "select").mkdir()
    mislabels.to_parquet(run / "select" / "suspected_mislabels.parquet", index=False)
    by_reason = {
        "kept": {"0": {"head": 3, "tail": 1200}, "2": {"torso": 5}},
        "not_learnable": {"1": {"tail": 7}},
    }
    (run / "select" / "metrics.json").write_text(json.dumps({"by_reason_grade_band": by_reason}))
    steps = [
        {"step": i, "reward": i / 10, "reward_std": 0.05, "kl": i / 1e3, "kept_share": 0.5, "cv_before": 0.4}
        for i in range(1, 5)
    ]
    (run / "grpo" / "model").mkdir(parents=True)
    (run / "grpo" / "model" / "steps.jsonl").write_text("\n".join(json.dumps(r) for r in steps))
    _mark(run, "rank", 12.0, {}, {}, "Learning to rank")
    _tiny_png(run / "rank" / "tradeoff.png")
    stages = ["data", "baselines", "judge", "distill", "rank"]
    (run / "config.yaml").write_text(yaml.safe_dump({"out": str(run), "stages": stages, "options": {}}))
    return run


def test_report_tells_the_run_in_pipeline_order(synthetic_run):
    out = write_report(synthetic_run, descriptions={"rank": "Walmart-style LTR on blended labels"})
    page = out.read_text()
    assert out == synthetic_run / "eval" / "report.html"
    sections = ["Pipeline", "Results", "Per-model diagnostics", "By query segment", "Data selection"]
    sections.append("Suspected mislabels")
    sections.append("GRPO training")
    sections.append("Stage timings")
    sections.append("Ranking trade-off")
    positions = [page.index(f"<h2>{s}</h2>") for s in sections]
    assert positions == sorted(positions)
    # stages in pipeline order, each with its description (the passed one wins for rank)
    pipeline = page[positions[0] : positions[1]]
    stage_pos = [pipeline.index(f"<b>{s}</b>") for s in ["data", "baselines", "judge", "distill", "rank"]]
    assert stage_pos == sorted(stage_pos)
    assert "Zero-shot LLM judge" in pipeline and "Walmart-style LTR on blended labels" in pipeline
    # results: grouped by stage in order, integers as integers, 3 decimals, seconds with 1
    results = page[positions[1] : positions[2]]
    assert results.index("bm25") < results.index("judge_zero_shot") < results.index("student_distilled")
    assert not re.search(r"\d\.\d{4}", results) and re.search(r">0\.\d{3}<", results)
    n_pairs = json.loads((synthetic_run / "eval" / "metrics.json").read_text())["bm25"]["n_pairs"]
    assert f">{n_pairs:,}<" in results
    # one diagnostics figure per prediction file (bm25@judge_subset shares bm25's file)
    diagnostics = page[positions[2] : positions[3]]
    assert diagnostics.count("<img") == 3 and "no reliability diagram" in diagnostics  # bm25 has no p_k
    segments = page[positions[3] : positions[4]]
    assert "by kind" in segments and "by band" in segments
    assert ">head<" in segments and ">tail<" in segments and ">bare<" in segments
    selection = page[positions[4] : positions[5]]
    assert selection.count("<tr>") == 1 + 3  # header + kept grade 0, kept grade 2, not_learnable grade 1
    assert selection.index(">head<") < selection.index(">torso<") < selection.index(">tail<")
    assert ">1,203<" in selection and ">1,200<" in selection  # row total; integers with separators
    assert selection.index(">kept<") < selection.index(">not_learnable<")
    mislabels = page[positions[5] : positions[6]]
    assert "top 20 of 25 flagged pairs" in mislabels and "25 training pairs" in mislabels
    assert mislabels.count("<tr>") == 1 + 20 and "&lt;b&gt;" in mislabels and "0.99" in mislabels
    grpo = page[positions[6] : positions[7]]
    assert "4 GRPO steps" in grpo and "reward 0.100 at the first step, 0.400 at the last" in grpo
    assert page.count("data:image/png;base64,") == 3 + 1 + 1 + 1  # diagnostics, grpo, timings, trade-off
    for src in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        assert base64.b64decode(src)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "NaN" not in page


def test_report_of_an_empty_or_partial_run(tmp_path):
    page = write_report(tmp_path / "run").read_text()
    assert "No stage has run" in page and "No metrics yet" in page
    (tmp_path / "r2" / "eval").mkdir(parents=True)
    metrics = {"bm25": {"ndcg@10": 0.61, "n_pairs": 12}}
    (tmp_path / "r2" / "eval" / "metrics.json").write_text(json.dumps(metrics))
    page = write_report(tmp_path / "r2").read_text()
    assert ">0.610<" in page and ">12<" in page


CHECK_SCRIPT = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const res = {
    inner: window.innerWidth,
    scroll: document.documentElement.scrollWidth,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    wide: Array.from(document.querySelectorAll('body *'))
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map(e => e.tagName + ':' + (e.textContent || '').slice(0, 40)),
  };
  const pre = document.createElement('pre');
  pre.id = 'render-check';
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
});
</script>"""


def chromium_check(report: Path, work: Path, width: int = 1280) -> dict:
    """Render ``report`` (plus a check script) in headless Chromium at ``width`` px; the script's verdict."""
    page = work / "check.html"
    page.write_text(report.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={work / 'profile'}",
        f"--window-size={width},1000",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="render-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no render result from chromium (rc {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"Chromium not installed at {CHROMIUM} (Debian: apt-get install chromium)",
)
def test_report_renders_in_headless_chromium_without_overflow(synthetic_run, tmp_path):
    report = write_report(synthetic_run)
    res = chromium_check(report, tmp_path)
    assert res["inner"] == 1280
    assert res["images"] == 6 and res["broken"] == []
    assert res["scroll"] <= 1280 and res["wide"] == [], res


def test_report_reads_the_predictions_index(synthetic_run, tmp_path):
    """Markers without predictions: the rows come from eval/predictions.json (record_predictions)."""
    from ecomrel.eval import record_predictions

    run = tmp_path / "copy"
    shutil.copytree(synthetic_run, run)
    for marker in run.glob("*/_done.json"):
        data = json.loads(marker.read_text())
        data.pop("predictions", None)
        marker.write_text(json.dumps(data))
    judge = run / "judge/test/scores.parquet"
    record_predictions(run, "bm25", run / "baselines/bm25_predictions.parquet", stage="baselines")
    bm25 = run / "baselines/bm25_predictions.parquet"
    record_predictions(run, "bm25@judge_subset", bm25, queries_from=judge)
    record_predictions(run, "judge_zero_shot", judge, queries_from=judge)
    record_predictions(run, "gone", run / "distill/student_scores.parquet")  # not in metrics.json: ignored
    page = write_report(run).read_text()
    diagnostics = page[page.index("<h2>Per-model diagnostics") : page.index("<h2>By query segment")]
    assert diagnostics.count("<img") == 2 and "gone" not in diagnostics
    n = json.loads((run / "eval" / "metrics.json").read_text())["judge_zero_shot"]["n_predicted"]
    assert f"judge_zero_shot — {n:,} judged test pairs" in diagnostics

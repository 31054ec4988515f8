"""The run report: one self-contained HTML page that tells the run's story in pipeline order.

:func:`write_report` reads what the stages left in a run folder (``config.yaml``, each stage's
``_done.json``, ``eval/metrics.json``, the prediction files the markers name, every PNG a stage
saved) and writes ``<run>/eval/report.html`` with, in order:

1. **Pipeline** — the stages in pipeline order, each with one line saying what it is, its status,
   wall time and the metric rows it produced;
2. **Results** — the shared summary table (:func:`ecomrel.eval.summary_rows`, the same rows and
   digits as the CLI's), grouped by stage, with a legend of the column names;
3. **Per-model diagnostics** — confusion matrix and reliability diagram for every prediction file;
4. **By query segment** — macro-F1 and NDCG@10 per query kind and frequency band (any segment the
   data has), from ``metrics.json``'s ``segments`` or computed through :func:`ecomrel.eval.evaluate`;
5. **Data selection** — the select stage's pool by reason (kept, not learnable, suspect, ...) ×
   grade × frequency band; **suspected mislabels** — the select stage's top flagged pairs (query,
   product, given and suspected grade, confidence, which rule flagged it, the helpers'
   probabilities of the given grade),
6. **GRPO training** (reward mean ± std, KL, kept share and CV per step), **stage timings**
   (a bar chart), 7. the **ranking trade-off** plot and any other stage figure,
8. the run **config**.

Images are base64 PNGs (matplotlib, Agg), so the page can be mailed as one file; it is laid
out for a 1280 px wide window without horizontal scrolling.
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ecomrel.errors import UserError
from ecomrel.eval import (
    DEFAULT_SEGMENTS,
    DISPLAY_METRICS,
    SHORT_NAMES,
    Report,
    available_segments,
    evaluate,
    format_value,
    summary_rows,
)
from ecomrel.eval.summary import METRIC_HELP, SummaryTable
from ecomrel.grades import DEFAULT_SCALE, LREF_SCALE, GradeScale
from ecomrel.report.mislabels import suspected_mislabels_html
from ecomrel.report.plots import diagnostics_png, grpo_png, timings_png
from ecomrel.report.run_folder import Prediction, RunFolder, read_run

__all__ = ["STAGE_DESCRIPTIONS", "write_report"]

STAGE_DESCRIPTIONS: dict[str, str] = {
    "data": "Products, queries, graded judgments and engagement as Parquet, split by query.",
    "select": "LREF data selection: keep hard, learnable, clean training pairs (each drop has a reason).",
    "cot": "Reasoning targets: expert-explaining, rule-adherence and reflection chains, label first.",
    "baselines": "BM25 and TF-IDF: the lexical bar every learned stage must clear.",
    "judge": "Zero-shot LLM judge: grade probabilities from one forward pass of a label-first prompt.",
    "sft": "Multi-CoT SFT (LREF): the judge learns expert-explaining, rule and reflection chains.",
    "dpo": "DPO de-biasing: preference pairs from the judge's own (optimistic) mistakes.",
    "grpo": "GRPO (TaoSR1): ordinal-reward RL on prompts whose samples disagree.",
    "distill": "Distillation (LREF): a MiniLM cross-encoder learns the judge's grades + human grades.",
    "export": "Export: the student as ONNX fp32 + int8, with parity against torch.",
    "rank": "Learning to rank (Walmart): polarized LLM labels blended with engagement, LambdaMART.",
    "serve": "Serving check: the FastAPI service on the int8 student answers real test queries.",
}
"""Default one-line description per stage; a stage's own ``summary`` (in its marker) or the
``descriptions`` passed to :func:`write_report` take precedence."""

SEGMENT_METRICS = ("f1_macro", "ndcg@10")

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:16px 24px;
max-width:1200px;color:#222;line-height:1.4}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:16px 0 6px}
p.meta,p.note{color:#555;font-size:13px;margin:4px 0}
table{border-collapse:collapse;font-size:13px;width:100%;table-layout:fixed;margin:6px 0}
td,th{border:1px solid #d6d6d6;padding:3px 6px;overflow-wrap:anywhere}
th{background:#f3f5f8;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.name,th.name{text-align:left}
tr.stage th{background:#e8eef7;text-align:left}
col.name{width:22%}col.desc{width:46%}
img{max-width:100%;height:auto;display:block;margin:6px 0}
figure{margin:10px 0}figcaption{font-size:12px;color:#555}
pre{background:#f6f6f6;padding:10px;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
dl.legend{font-size:12px;color:#444;display:grid;grid-template-columns:max-content 1fr;gap:0 10px}
dl.legend dt{font-weight:600}dl.legend dd{margin:0}
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _scale_for(columns: list[str]) -> GradeScale:
    """The grade scale a prediction file was written on, from its number of ``p_k`` columns."""
    k = sum(1 for c in columns if c.startswith("p_") and c[2:].isdigit())
    for scale in (DEFAULT_SCALE, LREF_SCALE):
        if scale.size == k:
            return scale
    return DEFAULT_SCALE if k == 0 else GradeScale(names=tuple(f"grade {i}" for i in range(k)))


# --- sections -------------------------------------------------------------------------------------
def _pipeline_section(run: RunFolder, descriptions: Mapping[str, str]) -> str:
    rows = []
    for i, s in enumerate(run.stages, 1):
        summary = (s.marker or {}).get("summary")
        desc = descriptions.get(s.name) or summary or STAGE_DESCRIPTIONS.get(s.name, "")
        status = "done" if s.done else "not run"
        rows.append(
            f"<tr><td class=num>{i}</td><td class=name><b>{_esc(s.name)}</b></td>"
            f"<td class=name>{_esc(desc)}</td><td class=name>{status}</td>"
            f"<td class=num>{format_value(s.seconds, 'seconds') if s.seconds is not None else '–'}</td>"
            f"<td class=name>{_esc(', '.join(s.rows)) or '–'}</td></tr>"
        )
    if not rows:
        return "<h2>Pipeline</h2><p class=note>No stage has run in this folder yet.</p>"
    return (
        "<h2>Pipeline</h2><table><colgroup><col style='width:4%'><col style='width:11%'>"
        "<col class=desc><col style='width:7%'><col style='width:9%'><col></colgroup>"
        "<tr><th class=num>#</th><th class=name>stage</th><th class=name>what it is</th>"
        "<th class=name>status</th><th class=num>seconds</th><th class=name>metric rows</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _summary_html(table: SummaryTable, group_by_stage: bool = True) -> str:
    head = "".join(
        f"<th class=num title='{_esc(c)}'>{_esc(label)}</th>"
        for c, label in zip(table.columns, table.labels, strict=True)
    )
    body, current = [], object()
    width = len(table.columns) + 1
    for row in table.rows:
        if group_by_stage and row.stage != current:
            current = row.stage
            body.append(f"<tr class=stage><th colspan={width}>{_esc(row.stage or 'other rows')}</th></tr>")
        cells = "".join(f"<td class=num>{_esc(c)}</td>" for c in row.cells)
        body.append(f"<tr><td class=name>{_esc(row.name)}</td>{cells}</tr>")
    return (
        "<table><colgroup><col class=name></colgroup>"
        f"<tr><th class=name>{_esc(table.row_header)}</th>{head}</tr>" + "".join(body) + "</table>"
    )


def _legend(columns: list[str]) -> str:
    items = "".join(
        f"<dt>{_esc(SHORT_NAMES.get(c, c))}</dt><dd>{_esc(c)}: {_esc(METRIC_HELP.get(c, ''))}</dd>"
        for c in columns
    )
    return f"<dl class=legend>{items}</dl>"


def _results_section(run: RunFolder) -> str:
    if not run.metrics:
        return "<h2>Results</h2><p class=note>No metrics yet (eval/metrics.json is missing or empty).</p>"
    table = summary_rows(run.metrics, run.stage_rows(), DISPLAY_METRICS, counts=("n_pairs",))
    note = "Test split; '–' = not measured for that row."
    if any("@" in name or name.startswith("judge") for name in run.metrics):
        note += (
            " Rows marked <code>@judge_subset</code> and the judge rows are scored on the queries the "
            "LLM judge scored (compare them with each other)."
        )
    return f"<h2>Results</h2><p class=note>{note}</p>" + _summary_html(table) + _legend(table.columns)


def _evaluate(run: RunFolder, pred: Prediction) -> tuple[Report | None, str | None]:
    """The report of one prediction file on the split's queries it covers, with segments."""
    try:
        frame = pd.read_parquet(pred.file)
        data = run.data_dir
        queries = pd.read_parquet(data / "queries.parquet")
        by = available_segments(queries, DEFAULT_SEGMENTS)
        source = frame
        if pred.queries_from is not None:
            source = pd.read_parquet(pred.queries_from, columns=["query_id"])
        report = evaluate(
            data,
            frame,
            split=pred.split,
            queries=set(source["query_id"].astype(str)),
            gains=pred.gains or run.gains(),
            scale=_scale_for(list(frame.columns)),
            name=pred.row,
            by=by,
        )
        return report, None
    except (UserError, OSError, KeyError) as exc:
        return None, f"{pred.file.relative_to(run.root)}: {exc}"


def _diagnostics_section(run: RunFolder, reports: dict[str, Report], problems: list[str]) -> str:
    figures = []
    for name, rep in reports.items():
        if "grade" not in rep.confusion:
            continue
        png = diagnostics_png(rep.confusion["grade"], rep.calibration.get("grade"), name)
        n = rep.counts.get("n_predicted", 0)
        figures.append(
            f"<figure>{_img(png, f'{name}: confusion matrix and reliability diagram')}"
            f"<figcaption>{_esc(name)} — {n:,} judged test pairs"
            f"{'' if 'grade' in rep.calibration else ' (no grade probabilities: no reliability diagram)'}"
            "</figcaption></figure>"
        )
    if not figures:
        return ""
    notes = "".join(f"<p class=note>skipped: {_esc(p)}</p>" for p in problems)
    return (
        "<h2>Per-model diagnostics</h2><p class=note>Confusion matrix against the human grade and "
        "top-label reliability diagram (10 equal-width confidence bins, the same binning as ECE).</p>"
        f"{''.join(figures)}{notes}"
    )


def _cell(segments: Mapping[str, Any], col: str, value: str, metric: str) -> Any:
    return (segments.get(col) or {}).get(value, {}).get(metric)


def _segments_section(run: RunFolder, reports: dict[str, Report]) -> str:
    per_model: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for name, rep in reports.items():
        stored = run.metrics.get(name, {}).get("segments")
        per_model[name] = stored if isinstance(stored, dict) and stored else rep.segments
    columns = list(dict.fromkeys(c for segs in per_model.values() for c in segs))
    if not columns:
        return ""
    parts = [
        "<h2>By query segment</h2><p class=note>Each model on the test queries it scored, grouped by a "
        "column of the queries table. <code>band</code>: head = the most frequent queries that make "
        "up half of all searches, torso = the next 30 %, tail = the last 20 %.</p>"
    ]
    models = list(per_model)
    for col in columns:
        values = list(dict.fromkeys(v for m in models for v in per_model[m].get(col, {})))
        for metric in SEGMENT_METRICS:
            if not any(metric in per_model[m].get(col, {}).get(v, {}) for m in models for v in values):
                continue
            head = "".join(f"<th class=num>{_esc(m)}</th>" for m in models)
            body = []
            for v in values:
                counts = next((per_model[m][col][v] for m in models if v in per_model[m].get(col, {})), {})
                cells = "".join(
                    f"<td class=num>{format_value(_cell(per_model[m], col, v, metric), metric)}</td>"
                    for m in models
                )
                body.append(
                    f"<tr><td class=name>{_esc(v)}</td>"
                    f"<td class=num>{format_value(counts.get('n_queries'), 'n_queries')}</td>{cells}</tr>"
                )
            parts.append(
                f"<h3>{_esc(SHORT_NAMES.get(metric, metric))} ({_esc(metric)}) by {_esc(col)}</h3>"
                f"<table><colgroup><col style='width:14%'><col style='width:8%'></colgroup>"
                f"<tr><th class=name>{_esc(col)}</th><th class=num>queries</th>{head}</tr>"
                + "".join(body)
                + "</table>"
            )
    return "".join(parts)


GRPO_STEPS = ("grpo", "model", "steps.jsonl")


def _grpo_section(run: RunFolder) -> str:
    """The grpo stage's training curves (reward, KL, kept share and CV per step)."""
    path = run.root.joinpath(*GRPO_STEPS)
    if not path.exists() or not path.stat().st_size:
        return ""
    steps = pd.read_json(path, lines=True)
    if steps.empty or not {"step", "reward"} <= set(steps.columns):
        return ""
    note = (
        f"{len(steps)} GRPO steps from <code>{_esc('/'.join(GRPO_STEPS))}</code>: reward "
        f"{steps['reward'].iloc[0]:.3f} at the first step, {steps['reward'].iloc[-1]:.3f} at the "
        f"last; the pool keeps the prompts whose samples are neither all right nor all wrong."
    )
    return f"<h2>GRPO training</h2><p class=note>{note}</p>{_img(grpo_png(steps), 'GRPO training curves')}"


def _timings_section(run: RunFolder) -> str:
    done = [(s.name, s.seconds) for s in run.stages if s.seconds is not None]
    if not done:
        return ""
    total = sum(t for _, t in done)
    png = timings_png([n for n, _ in done], [t for _, t in done])
    return (
        f"<h2>Stage timings</h2><p class=note>Wall time of the last run of each stage; total "
        f"{format_value(total, 'seconds')} s.</p>{_img(png, 'stage wall time')}"
    )


def _figures_section(run: RunFolder, out: Path) -> str:
    tradeoff = run.root / "rank" / "tradeoff.png"
    parts = []
    if tradeoff.exists():
        parts.append(
            "<h2>Ranking trade-off</h2><p class=note>Content NDCG@10 (human grades) against "
            "engagement@10 for every label variant of the rank stage; the star is the best blend.</p>"
            f"<figure>{_img(tradeoff.read_bytes(), 'ranking trade-off')}"
            "<figcaption>rank/tradeoff.png</figcaption></figure>"
        )
    others = [
        p
        for p in sorted(run.root.rglob("*.png"))
        if p != tradeoff and out.parent not in p.parents and "checkpoint" not in str(p)
    ]
    if others:
        parts.append("<h2>Other stage figures</h2>")
        for p in others:
            rel = str(p.relative_to(run.root))
            parts.append(f"<figure>{_img(p.read_bytes(), rel)}<figcaption>{_esc(rel)}</figcaption></figure>")
    return "".join(parts)


SELECT_METRICS = ("select", "metrics.json")
BAND_ORDER = ("head", "torso", "tail")


def _selection_section(run: RunFolder) -> str:
    """The select stage's pool by reason x grade x frequency band: what was kept, what dropped why."""
    path = run.root.joinpath(*SELECT_METRICS)
    if not path.exists():
        return ""
    counts = json.loads(path.read_text()).get("by_reason_grade_band") or {}
    if not counts:
        return ""
    bands = sorted(
        {b for by_grade in counts.values() for by_band in by_grade.values() for b in by_band},
        key=lambda b: (BAND_ORDER.index(b) if b in BAND_ORDER else len(BAND_ORDER), b),
    )
    grades = sorted({int(g) for by_grade in counts.values() for g in by_grade})
    head = "".join(f"<th>{_esc(b)}</th>" for b in [*bands, "all"])
    rows = []
    for reason in ["kept", *sorted(r for r in counts if r != "kept")]:
        for g in grades:
            by_band = counts.get(reason, {}).get(str(g))
            if not by_band:
                continue
            cells = "".join(f"<td class=num>{by_band.get(b, 0):,}</td>" for b in bands)
            rows.append(
                f"<tr><td>{_esc(reason)}</td><td class=num>{g}</td>{cells}"
                f"<td class=num>{sum(by_band.values()):,}</td></tr>"
            )
    note = (
        "Every training pair of the select stage's pool, by the reason it was kept or dropped, its human "
        f"grade and its query-frequency band (from <code>{_esc('/'.join(SELECT_METRICS))}</code>)."
    )
    return (
        f"<h2>Data selection</h2><p class=note>{note}</p><table><thead><tr><th>reason</th><th>grade</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


MISLABELS_FILE = ("select", "suspected_mislabels.parquet")
MISLABELS_SHOWN = 20


def _mislabels_section(run: RunFolder) -> str:
    """The select stage's suspected mislabels, ranked: the pairs to send back to the raters."""
    path = run.root.joinpath(*MISLABELS_FILE)
    if not path.exists():
        return ""
    table = pd.read_parquet(path)
    flagged = len(table)
    note = (
        f"{flagged:,} training pairs whose human grade the selection's helpers (out-of-fold) doubt, "
        "flagged by the mislabeled supervisor (MS) and/or confident learning, most confident first; "
        f"the full list with every helper's probabilities is <code>{_esc('/'.join(MISLABELS_FILE))}</code>."
    )
    if not flagged:
        return f"<h2>Suspected mislabels</h2><p class=note>{note}</p>"
    return f"<h2>Suspected mislabels</h2><p class=note>{note}</p>" + suspected_mislabels_html(
        table, limit=MISLABELS_SHOWN
    )


def _config_section(run: RunFolder) -> str:
    cfg = run.root / "config.yaml"
    if not cfg.exists():
        return ""
    return (
        f"<h2>Config</h2><details><summary>config.yaml</summary><pre>{_esc(cfg.read_text())}</pre></details>"
    )


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> Path:
    """Write ``<run>/eval/report.html`` (or ``out``) from the run folder; returns its path.

    ``descriptions`` maps a stage name to its one-line description (the pipeline passes its
    registry's summaries); otherwise the stage marker's ``summary`` or :data:`STAGE_DESCRIPTIONS`.
    """
    run = read_run(run_dir)
    out = Path(out) if out else run.root / "eval" / "report.html"
    reports: dict[str, Report] = {}
    problems: list[str] = []
    for pred in run.predictions():
        rep, problem = _evaluate(run, pred)
        if rep is not None:
            reports[pred.row] = rep
        elif problem:
            problems.append(problem)
    total = sum(s.seconds or 0.0 for s in run.stages)
    title = _esc(run.root.name)
    meta = (
        f"Run folder <code>{_esc(run.root)}</code> · {sum(s.done for s in run.stages)} of "
        f"{len(run.stages)} stages done · {format_value(total, 'seconds')} s of stage time · "
        f"written {time.strftime('%Y-%m-%d %H:%M')}"
    )
    body = "".join(
        [
            f"<h1>ecomrel report: {title}</h1><p class=meta>{meta}</p>",
            _pipeline_section(run, descriptions or {}),
            _results_section(run),
            _diagnostics_section(run, reports, problems),
            _segments_section(run, reports),
            _selection_section(run),
            _mislabels_section(run),
            _grpo_section(run),
            _timings_section(run),
            _figures_section(run, out),
            _config_section(run),
        ]
    )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>ecomrel report: {title}</title><style>{CSS}</style></head><body>{body}</body></html>"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out

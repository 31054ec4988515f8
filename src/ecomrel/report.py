"""The run report: one self-contained HTML page with the metrics table and plots.

It reads what the stages left in the run folder (``eval/metrics.json``, ``config.yaml``
and every ``*.png`` a stage saved) and embeds the images, so the page can be mailed or
attached to a ticket as one file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from ecomrel.pipeline import DISPLAY_METRICS


def _metric_bars(metrics: dict[str, dict[str, float]]) -> list[tuple[str, bytes]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    for metric in DISPLAY_METRICS:
        rows = [
            (stage, row[metric]) for stage, row in metrics.items() if isinstance(row.get(metric), int | float)
        ]
        if len(rows) < 1:
            continue
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1.2))
        ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#3b7dd8")
        for i, (_, v) in enumerate(rows):
            ax.text(v, i, f" {v:.3f}", va="center", fontsize=8)
        ax.set_title(metric)
        ax.invert_yaxis()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        plots.append((metric, buf.getvalue()))
    return plots


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``<run>/eval/report.html`` from the run folder's metrics, config and plots."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "eval" / "report.html"
    metrics_file = run_dir / "eval" / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    columns = sorted({k for row in metrics.values() for k in row if isinstance(row[k], int | float)})
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr><th>{}</th>{}</tr>".format(
            html.escape(stage),
            "".join(
                f"<td>{row[c]:.4f}</td>" if isinstance(row.get(c), int | float) else "<td>–</td>"
                for c in columns
            ),
        )
        for stage, row in metrics.items()
    )
    figures = [_img(png, name) for name, png in _metric_bars(metrics)]
    for png in sorted(run_dir.rglob("*.png")):
        caption = html.escape(str(png.relative_to(run_dir)))
        image = _img(png.read_bytes(), png.stem)
        figures.append(f"<figure>{image}<figcaption>{caption}</figcaption></figure>")
    config = run_dir / "config.yaml"
    config_text = html.escape(config.read_text()) if config.exists() else ""
    title = html.escape(run_dir.name)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ecomrel report: {title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
th:first-child{{text-align:left}}img{{max-width:100%;margin:0.5em 0}}figure{{margin:1em 0}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head><body>
<h1>ecomrel report</h1><p>Run folder: <code>{html.escape(str(run_dir))}</code></p>
<h2>Metrics</h2><div style="overflow:auto"><table><tr><th>stage</th>{head}</tr>{body}</table></div>
<h2>Plots</h2>{"".join(figures)}
<h2>Config</h2><pre>{config_text}</pre></body></html>"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out

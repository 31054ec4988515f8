"""The suspected-mislabel table: what a relevance team sends back to its raters.

:func:`suspected_mislabels_html` renders the top rows of ``select/suspected_mislabels.parquet``
(written by :func:`ecomrel.select.mislabels.mislabel_report`) as an HTML ``<table>`` fragment (no
``<html>``/``<body>``; all text escaped): the run report embeds it, and the select stage writes it
beside the Parquet as ``suspected_mislabels.html``.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ecomrel.grades import DEFAULT_SCALE, GradeScale


def suspected_mislabels_html(
    report: pd.DataFrame | str | Path, limit: int = 50, scale: GradeScale = DEFAULT_SCALE
) -> str:
    """An HTML ``<table>`` fragment of the top ``limit`` suspected mislabels (a frame or its Parquet)."""
    if not isinstance(report, pd.DataFrame):
        report = pd.read_parquet(report)

    def name(g: object) -> str:
        try:
            return scale.name(int(g))
        except (TypeError, ValueError, IndexError):
            return str(g)

    head = ["#", "query", "product", "given", "suspected", "confidence", "flagged by", "helper p(given)"]
    rows = []
    for r in report.head(limit).to_dict("records"):
        g = int(r["given_grade"])
        probs = ", ".join(
            f"{h.upper()} {float(r[f'{h}_p_{g}']):.2f}" for h in ("im", "ci", "ms") if f"{h}_p_{g}" in r
        )
        cells = [
            str(r["rank"]),
            str(r["query"]),
            str(r["product"])[:120],
            name(g),
            name(r["suspected_grade"]),
            f"{float(r['mislabel_confidence']):.2f}",
            str(r["flagged_by"]),
            probs,
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    caption = f"Suspected mislabels: top {min(limit, len(report))} of {len(report)} flagged pairs"
    return (
        '<table class="suspected-mislabels">'
        f"<caption>{html.escape(caption)}</caption>"
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )

"""The suspected-mislabel report: what a relevance team sends back to its raters.

:func:`mislabel_report` ranks the pairs MS or confident learning flagged (flagged by both first,
then by confidence) with the query, the product, the given grade, the suspected grade and every
helper's probabilities; :func:`ecomrel.report.mislabels.suspected_mislabels_html` renders the top
rows as an HTML table (the run report embeds it; ``select`` writes it beside the Parquet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomrel.report.mislabels import suspected_mislabels_html

__all__ = ["REPORT_COLUMNS", "mislabel_report", "suspected_mislabels_html"]

REPORT_COLUMNS = [
    "rank",
    "query_id",
    "product_id",
    "query",
    "product",
    "given_grade",
    "suspected_grade",
    "mislabel_confidence",
    "flagged_by",
]


def mislabel_report(decisions: pd.DataFrame, num_labels: int) -> pd.DataFrame:
    """Flagged pairs of a decisions frame, ranked; empty (with the columns) when nothing is flagged.

    ``mislabel_confidence`` is the mean, over the flaggers that flagged the pair, of MS's p(given
    grade) and confident learning's 1 − p(given grade). ``suspected_grade`` is the grade the IM/CI
    probabilities prefer over the given one (MS's own runner-up where only MS ran).
    """
    ms = (
        decisions["suspect_ms"].to_numpy(dtype=bool)
        if "suspect_ms" in decisions
        else np.zeros(len(decisions), bool)
    )
    cl = (
        decisions["suspect_cl"].to_numpy(dtype=bool)
        if "suspect_cl" in decisions
        else np.zeros(len(decisions), bool)
    )
    flagged = ms | cl
    d = decisions[flagged].copy()
    helper_cols = [
        c for c in d.columns if c.split("_p_")[0] in ("im", "ci", "ms") and "_p_" in c and c[-1].isdigit()
    ]
    if d.empty:
        return pd.DataFrame(columns=[*REPORT_COLUMNS, *helper_cols])
    ms_f, cl_f = ms[flagged], cl[flagged]
    conf_ms = d["ms_p_label"].to_numpy(dtype=float) if "ms_p_label" in d else np.zeros(len(d))
    conf_cl = (
        1.0 - d["cl_label_quality"].to_numpy(dtype=float) if "cl_label_quality" in d else np.zeros(len(d))
    )
    n_flag = ms_f.astype(int) + cl_f.astype(int)
    d["mislabel_confidence"] = (np.where(ms_f, conf_ms, 0.0) + np.where(cl_f, conf_cl, 0.0)) / np.maximum(
        n_flag, 1
    )
    d["flagged_by"] = np.where(ms_f & cl_f, "ms+confident", np.where(ms_f, "ms", "confident"))
    if "cl_suspected" in d:
        suspected = d["cl_suspected"].to_numpy(dtype=int)
    else:
        p = d[[f"ms_p_{k}" for k in range(num_labels)]].to_numpy(dtype=float).copy()
        p[np.arange(len(d)), d["grade"].to_numpy(dtype=int)] = -1
        suspected = p.argmax(axis=1)
    d["suspected_grade"] = suspected
    d["given_grade"] = d["grade"].astype(int)
    d["product"] = d["title"].fillna("").astype(str) if "title" in d else ""
    d["_n"] = n_flag
    d = d.sort_values(["_n", "mislabel_confidence"], ascending=[False, False], kind="stable")
    d["rank"] = np.arange(1, len(d) + 1)
    extra = [c for c in ("true_grade", "band") if c in d.columns]
    return d[[*REPORT_COLUMNS, *extra, *helper_cols]].reset_index(drop=True)

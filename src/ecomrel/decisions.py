"""Grade decisions and calibration saved with every model: ``decisions.json`` beside it.

A model's grade distribution is not yet a decision. Argmax is a poor one on skewed data (on Home
Depot a student's argmax never predicts "complement"), and the expected grade E = Σ k·p_k is not
on the source's own scale (Home Depot's 1–3 rater mean). :class:`Decisions` holds both, fitted on
a dev split and stored beside the model, so that ``ecomrel predict`` and ``ecomrel serve`` apply
the same ones everywhere:

- **cuts**: grade = number of cut points ≤ E, the three cuts tuned on dev for macro-F1 by the one
  threshold search ecomrel has (:meth:`ecomrel.baselines.lexical.GradeThresholds.fit`, which the
  lexical baselines use on their scores);
- **calibration**: an isotonic map (scikit-learn ``IsotonicRegression``, non-decreasing, clipped
  outside the fitted range) from E to the source label ``raw_score`` where the data has one; its
  breakpoints are stored, so applying it is ``np.interp`` (no pickle).

``decisions.json`` is plain JSON::

    {"version": 1, "score": "expected_grade", "cuts": [c1, c2, c3], "objective": "macro_f1",
     "objective_value": 0.40, "argmax_objective_value": 0.31,
     "calibration": {"target": "raw_score", "x": [...], "y": [...], "range": [1.0, 3.0]} | null,
     "fitted_on": {"data": ..., "split": "dev", "n_pairs": ..., "n_calibration_pairs": ...}}

For a lexical baseline the grade comes from its own saved score cuts (``<method>_thresholds.json``)
and its decisions file (``<method>_decisions.json``) is used for the calibration only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.errors import DataError

DECISIONS_FILE = "decisions.json"
VERSION = 1
KEYS = ["query_id", "product_id"]


@dataclass
class Decisions:
    """Cut points on the expected grade and an optional isotonic map to the source scale."""

    cuts: list[float]
    objective: str = "macro_f1"
    objective_value: float | None = None
    argmax_objective_value: float | None = None
    calibration: dict[str, Any] | None = None
    fitted_on: dict[str, Any] = field(default_factory=dict)
    score: str = "expected_grade"
    version: int = VERSION

    @property
    def n_grades(self) -> int:
        return len(self.cuts) + 1

    # --- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        expected: np.ndarray,
        grades: np.ndarray,
        raw: np.ndarray | None = None,
        *,
        n_grades: int = 4,
        objective: str = "macro_f1",
        argmax: np.ndarray | None = None,
    ) -> Decisions:
        """Cuts on ``expected`` maximising ``objective`` against ``grades``; isotonic E → ``raw``.

        ``raw`` may hold NaN (pairs without a source score are left out of the calibration); no
        finite value at all means no calibration. ``argmax`` (the model's own argmax grades on the
        same pairs) is only scored, so the file says what the cuts gained.
        """
        from ecomrel.baselines.lexical import OBJECTIVES, GradeThresholds

        e = np.asarray(expected, dtype=float)
        y = np.asarray(grades, dtype=int)
        if len(e) == 0:
            raise DataError("cannot fit grade decisions on zero pairs")
        thr = GradeThresholds.fit(e, y, objective, n_grades=n_grades)
        calibration = None
        if raw is not None:
            r = np.asarray(raw, dtype=float)
            ok = np.isfinite(r) & np.isfinite(e)
            if ok.sum() >= 2:
                from sklearn.isotonic import IsotonicRegression

                lo, hi = float(r[ok].min()), float(r[ok].max())
                iso = IsotonicRegression(y_min=lo, y_max=hi, out_of_bounds="clip").fit(e[ok], r[ok])
                calibration = {
                    "target": "raw_score",
                    "x": [float(v) for v in iso.X_thresholds_],
                    "y": [float(v) for v in iso.y_thresholds_],
                    "range": [lo, hi],
                    "n_pairs": int(ok.sum()),
                }
        argmax_value = None
        if argmax is not None:
            argmax_value = float(OBJECTIVES[objective](y, np.asarray(argmax, dtype=int), n_grades))
        return cls(
            cuts=[float(c) for c in thr.cuts],
            objective=objective,
            objective_value=thr.objective_value,
            argmax_objective_value=argmax_value,
            calibration=calibration,
        )

    # --- applying --------------------------------------------------------------------------
    def grade(self, expected: np.ndarray) -> np.ndarray:
        """Grade = number of cuts ≤ the expected grade."""
        e = np.asarray(expected, dtype=float)
        return np.searchsorted(np.asarray(self.cuts), e, side="right").astype(int)

    def calibrated(self, expected: np.ndarray) -> np.ndarray | None:
        """The source-scale score (e.g. Home Depot's 1–3 mean) of each expected grade; None without a map."""
        if self.calibration is None:
            return None
        c = self.calibration
        return np.interp(np.asarray(expected, dtype=float), c["x"], c["y"])

    # --- files -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / DECISIONS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Decisions:
        """Read ``decisions.json`` (a file, or a folder holding one); errors name the file."""
        path = Path(path)
        if path.is_dir():
            path = path / DECISIONS_FILE
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a readable decisions file ({exc})") from None
        try:
            d = cls(**raw)
        except TypeError as exc:
            raise DataError(f"{path}: not a decisions file ({exc})") from None
        if list(d.cuts) != sorted(d.cuts):
            raise DataError(f"{path}: cuts must be non-decreasing, got {d.cuts}")
        if d.calibration is not None and len(d.calibration.get("x", [])) != len(d.calibration.get("y", [])):
            raise DataError(f"{path}: calibration x and y differ in length")
        return d


def find_decisions(folder: str | Path | None, name: str = DECISIONS_FILE) -> Path | None:
    """``name`` in ``folder``, else in the folder an ONNX export came from (``onnx.json``'s
    ``source``), else in its parent; None when there is none."""
    if folder is None:
        return None
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    cands = [folder / name]
    manifest = folder / "onnx.json"
    if manifest.is_file():
        try:
            src = json.loads(manifest.read_text()).get("source")
        except (OSError, json.JSONDecodeError):
            src = None
        if src:
            cands.append(Path(src) / name)
    cands.append(folder.parent / name)
    return next((c for c in cands if c.is_file()), None)


def expected_of(pred: pd.DataFrame, n_grades: int = 4) -> np.ndarray:
    """The expected grade of each prediction row (``expected_grade``, else Σ k·p_k)."""
    if "expected_grade" in pred.columns and pred["expected_grade"].notna().all():
        return pred["expected_grade"].to_numpy(dtype=float)
    cols = [f"p_{k}" for k in range(n_grades)]
    if all(c in pred.columns for c in cols):
        return pred[cols].to_numpy(dtype=float) @ np.arange(n_grades, dtype=float)
    raise DataError("predictions have neither expected_grade nor p_0..p_K: cannot fit or apply decisions")


def fit_decisions(
    predictions: pd.DataFrame,
    judgments: pd.DataFrame,
    *,
    n_grades: int = 4,
    objective: str = "macro_f1",
    meta: dict[str, Any] | None = None,
) -> Decisions:
    """:meth:`Decisions.fit` on the predicted pairs that have a judgment (joined on query/product).

    ``judgments`` needs ``grade`` and may have ``raw_score`` (the source label as a number).
    """
    cols = [*KEYS, "grade", *(["raw_score"] if "raw_score" in judgments.columns else [])]
    j = judgments[cols].copy()
    p = predictions.copy()
    for df in (j, p):
        df["query_id"] = df["query_id"].astype(str)
        df["product_id"] = df["product_id"].astype(str)
    both = p.merge(j.drop_duplicates(KEYS), on=KEYS, how="inner", suffixes=("", "_judged"))
    both = both[both["grade"].notna()].reset_index(drop=True)
    if both.empty:
        raise DataError("no predicted pair has a judgment: cannot fit grade decisions")
    e = expected_of(both, n_grades)
    probs = [f"p_{k}" for k in range(n_grades)]
    argmax = both[probs].to_numpy(dtype=float).argmax(1) if all(c in both for c in probs) else None
    raw = both["raw_score"].to_numpy(dtype=float) if "raw_score" in both.columns else None
    d = Decisions.fit(
        e, both["grade"].to_numpy(dtype=int), raw, n_grades=n_grades, objective=objective, argmax=argmax
    )
    d.fitted_on = {
        **(meta or {}),
        "n_pairs": len(both),
        "n_calibration_pairs": d.calibration["n_pairs"] if d.calibration else 0,
    }
    return d


def save_decisions(decisions: Decisions, model_dir: str | Path, name: str = DECISIONS_FILE) -> Path:
    """Write ``decisions`` as ``<model_dir>/<name>``."""
    return decisions.save(Path(model_dir) / name)


def apply_decisions(pred: pd.DataFrame, decisions: Decisions, *, grades: bool = True) -> pd.DataFrame:
    """A copy of a prediction frame with the saved decisions applied.

    ``grades``: ``pred_grade`` becomes the cut-point grade (the model's argmax is kept as
    ``argmax_grade`` when it has probabilities). ``calibrated_score`` is added when the decisions
    carry a calibration (the source scale, e.g. 1–3).
    """
    out = pred.copy()
    e = expected_of(out, decisions.n_grades)
    if grades:
        if "pred_grade" in out.columns and "argmax_grade" not in out.columns:
            out["argmax_grade"] = out["pred_grade"].astype(int)
        out["pred_grade"] = decisions.grade(e)
    cal = decisions.calibrated(e)
    if cal is not None:
        out["calibrated_score"] = cal.astype(float)
    return out

"""CumPT — cumulative-probability tiering (TaoSR1): grade distribution → serving tier.

Tiers, best first, each with the lowest grade it stands for. Default on the 4-grade scale
(TaoSR1 collapses its two best levels into Good):

=====  ======  ==========================================
tier   grades  meaning
=====  ======  ==========================================
Good   3, 2    exact or a reasonable substitute: show it
Mid    1       complement / marginal: show low, or in a related block
Bad    0       irrelevant: filter out
=====  ======  ==========================================

On another scale (:func:`default_tiers`) Good starts at the upper half of the grades
(LREF's five levels: significant and exact), Mid at grade 1, Bad is grade 0.

Rule: walking the tiers from best to worst, a pair gets the first tier ``t`` whose
cumulative probability ``P(grade >= min_grade(t)) = Σ_{k >= min_grade(t)} p_k`` reaches
``threshold(t)``; the last tier takes the rest. With one threshold β for every tier this
is exactly TaoSR1's rule ("add class probabilities from the top down, stop at the first
partial sum that reaches β"). ecomrel tunes one threshold per tier on a dev split, with
objective ``macro_f1`` (of tiers against the human grade's tier) or ``precision`` (per
tier, the lowest threshold whose precision reaches a target — the most recall at that
precision). Thresholds are saved as JSON beside the model (:data:`THRESHOLDS_FILE`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_score

from ecomrel.errors import DataError
from ecomrel.grades import GradeScale

THRESHOLDS_FILE = "cumpt_thresholds.json"
GRID = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))


@dataclass(frozen=True)
class Tier:
    name: str
    min_grade: int


DEFAULT_TIERS: tuple[Tier, ...] = (Tier("Good", 2), Tier("Mid", 1), Tier("Bad", 0))


def default_tiers(scale: GradeScale | int) -> tuple[Tier, ...]:
    """Good from the upper half of the grades (``ceil(K/2)``), Mid from grade 1, Bad = grade 0.

    4 grades: :data:`DEFAULT_TIERS` (Good ≥ 2); LREF's 5: Good ≥ 3; 2 grades: Good ≥ 1, Bad.
    """
    k = scale if isinstance(scale, int) else scale.size
    good = (k + 1) // 2
    return (
        (Tier("Good", good), Tier("Bad", 0))
        if good <= 1
        else (Tier("Good", good), Tier("Mid", 1), Tier("Bad", 0))
    )


@dataclass
class CumPT:
    """Tiers (best first) and one threshold per tier except the last."""

    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    thresholds: dict[str, float] = field(default_factory=dict)
    objective: str = "default"
    dev_metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tiers = tuple(t if isinstance(t, Tier) else Tier(**t) for t in self.tiers)
        mins = [t.min_grade for t in self.tiers]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins) or mins[-1] != 0:
            raise ValueError(f"tiers must have strictly decreasing min_grade ending at 0, got {mins}")
        for t in self.tiers[:-1]:
            self.thresholds.setdefault(t.name, 0.5)

    def check_scale(self, scale: GradeScale, source: str | Path = "CumPT thresholds") -> None:
        """Raise :class:`DataError` (naming ``source``) when a tier needs a grade the scale lacks."""
        top = max(t.min_grade for t in self.tiers)
        if top > scale.max_grade:
            raise DataError(
                f"{source}: tier {self.tiers[0].name!r} starts at grade {top}, but the judge's scale has "
                f"{scale.size} grades ({', '.join(scale.names)}); tune thresholds for this scale"
            )

    @classmethod
    def single_beta(cls, beta: float, tiers: Sequence[Tier] = DEFAULT_TIERS) -> CumPT:
        """TaoSR1's original CumPT: one β for every tier."""
        return cls(tiers=tuple(tiers), thresholds={t.name: beta for t in tiers[:-1]}, objective="single_beta")

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def tier_index_of_grade(self, grades: Sequence[int] | np.ndarray) -> np.ndarray:
        """The tier (index, 0 = best) a human grade belongs to."""
        g = np.asarray(grades)
        idx = np.full(g.shape, len(self.tiers) - 1, dtype=np.int64)
        for i in reversed(range(len(self.tiers))):
            idx[g >= self.tiers[i].min_grade] = i
        return idx

    def assign_index(self, probs: np.ndarray) -> np.ndarray:
        """Tier index (0 = best) of each row of a (N, K) grade distribution."""
        probs = np.asarray(probs, dtype=np.float64)
        # cum[:, k] = P(grade >= k)
        cum = np.flip(np.cumsum(np.flip(probs, axis=1), axis=1), axis=1)
        out = np.full(len(probs), len(self.tiers) - 1, dtype=np.int64)
        undecided = np.ones(len(probs), dtype=bool)
        for i, t in enumerate(self.tiers[:-1]):
            hit = undecided & (cum[:, t.min_grade] >= self.thresholds[t.name] - 1e-12)
            out[hit] = i
            undecided &= ~hit
        return out

    def assign(self, probs: np.ndarray) -> np.ndarray:
        """Tier names for a (N, K) grade distribution."""
        return np.asarray(self.names, dtype=object)[self.assign_index(probs)]

    # --- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "CumPT (TaoSR1): first tier whose P(grade >= min_grade) reaches its threshold",
            "tiers": [asdict(t) for t in self.tiers],
            "thresholds": self.thresholds,
            "objective": self.objective,
            "dev_metrics": self.dev_metrics,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / THRESHOLDS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, scale: GradeScale | None = None) -> CumPT:
        """Read a thresholds file (or the one in a folder); with ``scale``, check its tiers fit it.

        A missing, unreadable or malformed file raises :class:`DataError` naming it.
        """
        path = Path(path)
        if path.is_dir():
            path = path / THRESHOLDS_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"{path}: CumPT thresholds file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a readable CumPT thresholds JSON file ({exc})") from None
        try:
            cumpt = cls(
                tiers=tuple(Tier(**t) for t in data["tiers"]),
                thresholds={k: float(v) for k, v in data["thresholds"].items()},
                objective=data.get("objective", "loaded"),
                dev_metrics=data.get("dev_metrics", {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{path}: not a CumPT thresholds file ({type(exc).__name__}: {exc})") from None
        missing = [t.name for t in cumpt.tiers[:-1] if t.name not in data["thresholds"]]
        if missing:
            raise DataError(f"{path}: no threshold for tier(s) {', '.join(missing)}")
        bad = {k: v for k, v in cumpt.thresholds.items() if not 0.0 <= v <= 1.0 + 1e-6}
        if bad:
            raise DataError(f"{path}: thresholds must lie in [0, 1], got {bad}")
        if scale is not None:
            cumpt.check_scale(scale, path)
        return cumpt


def _macro_f1(truth: np.ndarray, pred: np.ndarray, k: int) -> float:
    cm = np.bincount(truth * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(0) + cm.sum(1)
    f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
    return float(f1.mean())


def tune(
    probs: np.ndarray,
    grades: Sequence[int] | np.ndarray,
    tiers: Sequence[Tier] = DEFAULT_TIERS,
    objective: str = "macro_f1",
    precision_target: float | Mapping[str, float] = 0.8,
    grid: Sequence[float] = GRID,
) -> CumPT:
    """Tune per-tier thresholds on dev (probs, human grades).

    ``macro_f1``: exhaustive grid over the thresholds, maximising tier macro-F1 (ties: the
    thresholds closest to 0.5). ``precision``: top-down, per tier the lowest threshold whose
    precision reaches the target given the tiers above; if none does, the most precise one
    (``dev_metrics['targets_met']`` says which tiers met their target).
    """
    probs = np.asarray(probs, dtype=np.float64)
    grades = np.asarray(grades)
    if len(probs) == 0:
        raise ValueError("cannot tune CumPT thresholds on an empty dev set")
    base = CumPT(tiers=tuple(tiers))
    truth = base.tier_index_of_grade(grades)
    labels = list(range(len(base.tiers)))
    decided = base.tiers[:-1]

    def evaluate(thr: Mapping[str, float]) -> tuple[float, np.ndarray]:
        pred = CumPT(tiers=base.tiers, thresholds=dict(thr)).assign_index(probs)
        return _macro_f1(truth, pred, len(labels)), pred

    def key(thr: Mapping[str, float]) -> tuple[float, float]:
        return evaluate(thr)[0], -sum(abs(v - 0.5) for v in thr.values())

    if objective == "macro_f1":
        if len(grid) ** len(decided) <= 20_000:  # exhaustive
            combos = np.array(np.meshgrid(*[grid] * len(decided), indexing="ij")).reshape(len(decided), -1).T
            candidates = [{t.name: float(v) for t, v in zip(decided, c, strict=True)} for c in combos]
            thresholds = max(candidates, key=key)
        else:  # many tiers: coordinate ascent from 0.5
            thresholds = {t.name: 0.5 for t in decided}
            for _ in range(4):
                for t in decided:
                    thresholds = max(({**thresholds, t.name: float(v)} for v in grid), key=key)
        met = None
    elif objective == "precision":
        targets = (
            {t.name: float(precision_target[t.name]) for t in decided}  # type: ignore[index]
            if isinstance(precision_target, Mapping)
            else {t.name: float(precision_target) for t in decided}
        )
        thresholds, met = {}, {}
        for i, t in enumerate(decided):
            chosen, best_prec, best_thr = None, -1.0, grid[-1]
            for v in sorted(grid):
                trial = {**thresholds, t.name: float(v)}
                for later in decided[i + 1 :]:
                    trial[later.name] = 1.0 + 1e-9  # tiers below are not yet decided
                pred = CumPT(tiers=base.tiers, thresholds=trial).assign_index(probs)
                if not (pred == i).any():
                    continue
                prec = float(precision_score(truth == i, pred == i, zero_division=0))
                if prec > best_prec:
                    best_prec, best_thr = prec, float(v)
                if prec >= targets[t.name]:
                    chosen = float(v)
                    break
            thresholds[t.name] = chosen if chosen is not None else best_thr
            met[t.name] = chosen is not None
    else:
        raise ValueError(f"unknown CumPT objective {objective!r} (macro_f1 or precision)")

    score, pred = evaluate(thresholds)
    per_tier_prec = precision_score(truth, pred, labels=labels, average=None, zero_division=0)
    metrics: dict[str, Any] = {
        "n": int(len(probs)),
        "macro_f1": score,
        "precision": {t.name: float(p) for t, p in zip(base.tiers, per_tier_prec, strict=True)},
    }
    if met is not None:
        metrics["targets_met"] = met
        metrics["precision_target"] = precision_target
    return CumPT(tiers=base.tiers, thresholds=thresholds, objective=objective, dev_metrics=metrics)

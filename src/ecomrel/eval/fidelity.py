"""Fidelity of a model variant (ONNX int8, OpenVINO, bf16, ...) to its reference (torch fp32).

Both sides are (n, K) grade distributions of the same pairs. ``decided`` pairs are those whose
reference top-two gap is at least ``decided_margin``: a soft-target student leaves some pairs on a
near-tie between two grades, and any numeric noise flips those first; a variant must agree on all
the others. The expected grade ``sum_k k * p_k`` is the continuous score a ranker consumes, so its
Spearman correlation and mean absolute error are the ranking-side fidelity.
"""

from __future__ import annotations

import numpy as np

DECIDED_MARGIN = 0.05


def variant_fidelity(
    reference: np.ndarray, probs: np.ndarray, decided_margin: float = DECIDED_MARGIN
) -> dict[str, float | int]:
    """Agreement of ``probs`` with ``reference`` (both (n, K)).

    Returns ``n``, ``argmax_agreement``, ``decided_agreement`` (on pairs whose reference top-two gap
    is >= ``decided_margin``; 1.0 when there are none), ``n_decided``, ``n_flips``, ``n_decided_flips``,
    ``spearman`` (expected grade; 1.0 when both sides are constant and equal), ``expected_grade_mae``
    and ``max_prob_diff``.
    """
    from scipy.stats import spearmanr

    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(probs, dtype=np.float64)
    if ref.shape != got.shape or ref.ndim != 2:
        raise ValueError(f"shapes differ or are not (n, K): {ref.shape} vs {got.shape}")
    n, k = ref.shape
    if n == 0:
        raise ValueError("no pairs to compare")
    grades = np.arange(k)
    top2 = np.sort(ref, 1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) >= decided_margin
    agree = ref.argmax(1) == got.argmax(1)
    e_ref, e_got = ref @ grades, got @ grades
    if np.ptp(e_ref) == 0 or np.ptp(e_got) == 0:
        rho = 1.0 if np.allclose(e_ref, e_got) else 0.0
    else:
        rho = float(spearmanr(e_ref, e_got).statistic)
    return {
        "n": int(n),
        "argmax_agreement": float(agree.mean()),
        "decided_agreement": float(agree[decided].mean()) if decided.any() else 1.0,
        "n_decided": int(decided.sum()),
        "n_flips": int((~agree).sum()),
        "n_decided_flips": int((~agree & decided).sum()),
        "spearman": rho,
        "expected_grade_mae": float(np.abs(e_ref - e_got).mean()),
        "max_prob_diff": float(np.abs(ref - got).max()),
    }

"""Splits by query: no query in two splits, deterministic by seed, stratified by frequency band.

Queries are split, never pairs, so that every model is scored on queries it has not seen. Where a
``frequency`` column exists, each query falls in a band by its share of the traffic — **head**:
the most frequent queries that together make up the first 50 % of all searches; **torso**: the
next 30 %; **tail**: the last 20 % — and each band is split with the same fractions, so that the
rare queries that make relevance hard are in every split.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.errors import ConfigError, DataError

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.7, "dev": 0.15, "test": 0.15}
BANDS: tuple[str, ...] = ("head", "torso", "tail")
BAND_TRAFFIC: tuple[float, float] = (0.5, 0.8)
"""Cumulative traffic share at which the head ends and the torso ends."""


def frequency_bands(frequency: pd.Series) -> pd.Series:
    """Head/torso/tail band of each query by cumulative share of traffic (see module docstring).

    Missing or non-positive frequencies count as the rarest queries (tail). The index is kept.
    """
    f = pd.to_numeric(frequency, errors="coerce").fillna(0).clip(lower=0).astype(float)
    bands = pd.Series("tail", index=frequency.index, dtype=object)
    total = float(f.sum())
    if total <= 0:
        return bands
    order = np.argsort(-f.to_numpy(), kind="stable")
    share_before = np.concatenate([[0.0], np.cumsum(f.to_numpy()[order])[:-1]]) / total
    labels = np.where(
        share_before < BAND_TRAFFIC[0], "head", np.where(share_before < BAND_TRAFFIC[1], "torso", "tail")
    )
    labels = np.where(f.to_numpy()[order] > 0, labels, "tail")
    out = np.empty(len(f), dtype=object)
    out[order] = labels
    return pd.Series(out, index=frequency.index)


def _check_fractions(fractions: dict[str, float]) -> dict[str, float]:
    if not fractions:
        raise ConfigError("split fractions are empty")
    bad = {
        k: v for k, v in fractions.items() if not (isinstance(v, int | float) and v >= 0 and math.isfinite(v))
    }
    if bad:
        raise ConfigError(f"split fractions must be non-negative numbers, got {bad}")
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must sum to 1, got {total:g} ({fractions})")
    return dict(fractions)


def _allocate(n: int, fractions: dict[str, float], assigned: dict[str, int], seen: int) -> dict[str, int]:
    """Counts for a stratum of ``n`` so that the running totals stay as close as possible to the fractions."""
    desired = {s: fractions[s] * (seen + n) - assigned[s] for s in fractions}
    counts = {s: max(0, math.floor(d)) for s, d in desired.items()}
    while sum(counts.values()) > n:
        s = max(counts, key=lambda s: (counts[s] - desired[s], counts[s]))
        counts[s] -= 1
    for s in sorted(fractions, key=lambda s: -(desired[s] - counts[s])):
        if sum(counts.values()) >= n:
            break
        counts[s] += 1
    return counts


def split_by_query(
    queries: pd.DataFrame, fractions: dict[str, float] | None = None, seed: int = 0
) -> pd.DataFrame:
    """Assign each query to one split; returns ``query_id, split`` in the order of ``queries``.

    Stratified by :func:`frequency_bands` when ``queries`` has a ``frequency`` column with values.
    Deterministic: the same queries, fractions and seed give the same assignment.
    """
    fractions = _check_fractions(DEFAULT_FRACTIONS if fractions is None else fractions)
    if "query_id" not in queries.columns:
        raise DataError("queries has no query_id column")
    ids = queries["query_id"].astype(str)
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise DataError(f"queries: duplicate query_id {dup!r}; a query can be in one split only")
    if "frequency" in queries.columns and pd.to_numeric(queries["frequency"], errors="coerce").notna().any():
        strata = frequency_bands(queries["frequency"]).to_numpy()
    else:
        strata = np.full(len(queries), "all", dtype=object)

    rng = np.random.default_rng(seed)
    split = np.empty(len(queries), dtype=object)
    assigned = dict.fromkeys(fractions, 0)
    seen = 0
    names = list(fractions)
    for band in [*BANDS, "all"]:
        pos = np.flatnonzero(strata == band)
        if not len(pos):
            continue
        pos = pos[np.argsort(ids.to_numpy()[pos], kind="stable")]  # independent of input row order
        pos = pos[rng.permutation(len(pos))]
        counts = _allocate(len(pos), fractions, assigned, seen)
        start = 0
        for s in names:
            split[pos[start : start + counts[s]]] = s
            start += counts[s]
            assigned[s] += counts[s]
        seen += len(pos)
    return pd.DataFrame({"query_id": ids.to_numpy(), "split": split})


def write_splits(folder: str | Path, fractions: dict[str, float] | None = None, seed: int = 0) -> dict:
    """Split the queries of a data folder and write ``splits.parquet``; returns counts per split and band."""
    from ecomrel.data.schema import SPLITS_SCHEMA, Dataset, write_table

    folder = Path(folder)
    ds = Dataset.load(folder)
    splits = split_by_query(ds.queries, fractions, seed)
    path = write_table(splits, folder / "splits.parquet", SPLITS_SCHEMA)
    counts = {
        s: int(n)
        for s, n in splits["split"]
        .value_counts()
        .reindex(list(DEFAULT_FRACTIONS if fractions is None else fractions), fill_value=0)
        .items()
    }
    out: dict = {"path": str(path), "counts": counts}
    if "frequency" in ds.queries.columns:
        bands = frequency_bands(ds.queries["frequency"]).to_numpy()
        tab = pd.crosstab(bands, splits["split"].to_numpy())
        out["by_band"] = {str(s): {str(b): int(n) for b, n in tab[s].items()} for s in tab.columns}
    return out

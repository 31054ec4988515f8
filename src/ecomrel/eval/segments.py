"""Query segments: group any metric by a column of the queries table (kind, frequency band, …).

A *segment column* is any column of ``queries.parquet`` (the sample's ``kind``, a user's own
``locale`` or ``intent`` …). ``band`` is special: when the queries table has no ``band`` column it
is derived from ``frequency`` by :func:`frequency_band`, the one rule that evaluation and data
selection (LREF's head/torso/tail stratification) share.

Frequency band rule (traffic share). Queries are sorted by ``frequency`` (descending; ties by
``query_id``) over the *whole* queries table, so a query's band never depends on the split. A
query is ``head`` if the queries before it carry less than ``head_share`` (default 50 %) of all
searches, ``torso`` if they carry less than ``torso_share`` (default 80 %), else ``tail``: head =
the few queries that make up half of the traffic, tail = the long tail that makes up the last
20 %. Missing or negative frequencies are ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecomrel.errors import DataError

BANDS: tuple[str, ...] = ("head", "torso", "tail")
BAND_COLUMN = "band"
MISSING = "unknown"
"""The segment value of a query whose column is null."""
DEFAULT_SEGMENTS: tuple[str, ...] = ("kind", BAND_COLUMN)
"""What the report breaks metrics down by when the data has the columns."""


def frequency_band(queries: pd.DataFrame, head_share: float = 0.5, torso_share: float = 0.8) -> pd.Series:
    """``head`` / ``torso`` / ``tail`` per query (indexed like ``queries``) from ``frequency``.

    See the module docstring for the rule. ``queries`` needs ``query_id`` and ``frequency``.
    """
    if not 0 < head_share <= torso_share <= 1:
        raise ValueError(f"need 0 < head_share ≤ torso_share ≤ 1, got {head_share}, {torso_share}")
    if "frequency" not in queries.columns:
        raise DataError("queries: no 'frequency' column to derive the head/torso/tail band from")
    freq = pd.to_numeric(queries["frequency"], errors="coerce").astype(float)
    valid = freq.notna() & (freq >= 0)
    out = pd.Series(MISSING, index=queries.index, dtype=object)
    if not valid.any():
        return out
    order = pd.DataFrame({"f": freq[valid], "q": queries.loc[valid, "query_id"].astype(str)}).sort_values(
        ["f", "q"], ascending=[False, True], kind="stable"
    )
    total = order["f"].sum()
    before = (order["f"].cumsum() - order["f"]) / total if total > 0 else pd.Series(0.0, index=order.index)
    band = np.where(before < head_share, "head", np.where(before < torso_share, "torso", "tail"))
    out.loc[order.index] = band
    return out


def available_segments(queries: pd.DataFrame, wanted: Sequence[str] = DEFAULT_SEGMENTS) -> list[str]:
    """The columns of ``wanted`` this queries table can be segmented by (``band`` needs ``frequency``)."""
    out = []
    for col in wanted:
        has_column = col in queries.columns and queries[col].notna().any()
        has_freq = "frequency" in queries.columns and queries["frequency"].notna().any()
        derivable = col == BAND_COLUMN and has_freq
        if has_column or derivable:
            out.append(col)
    return out


def segment_labels(queries: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """``query_id`` plus one string column per segment column; null values become ``unknown``.

    An unknown column is a ``DataError`` naming it and the columns there are.
    """
    out = pd.DataFrame({"query_id": queries["query_id"].astype(str).to_numpy()})
    for col in by:
        if col in queries.columns:
            values = queries[col]
            out[col] = [MISSING if pd.isna(v) else str(v) for v in values]
        elif col == BAND_COLUMN and "frequency" in queries.columns:
            out[col] = frequency_band(queries).to_numpy()
        else:
            usable = [c for c in queries.columns if c not in ("query_id", "text")]
            if "frequency" in queries.columns and BAND_COLUMN not in usable:
                usable.append(BAND_COLUMN)
            raise DataError(
                f"queries: no column {col!r} to segment by; available: {', '.join(usable) or 'none'}"
            )
    return out.drop_duplicates("query_id")


def segment_order(col: str, values: Sequence[str]) -> list[str]:
    """Display order of a column's values: head/torso/tail for ``band``, else sorted; ``unknown`` last."""
    vals = list(dict.fromkeys(values))
    if col == BAND_COLUMN:
        known = [b for b in BANDS if b in vals]
        rest = sorted(v for v in vals if v not in BANDS and v != MISSING)
    else:
        known, rest = [], sorted(v for v in vals if v != MISSING)
    return known + rest + ([MISSING] if MISSING in vals else [])

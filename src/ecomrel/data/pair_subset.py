"""Restrict a pair frame to the pairs a file lists (e.g. ``select/selected.parquet``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ecomrel.errors import DataError

KEY = ["query_id", "product_id"]


def restrict_to_pairs(pairs: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """The rows of ``pairs`` whose (query_id, product_id) appear in the Parquet file ``path``.

    The file needs ``query_id`` and ``product_id`` columns (any others are ignored); a missing
    file, missing columns or an empty intersection is a :class:`DataError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: training-pairs file not found")
    try:
        keep = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    missing = [c for c in KEY if c not in keep.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    keep = keep[KEY].astype(str).drop_duplicates()
    key = pairs[KEY].astype(str)
    out = pairs[pd.MultiIndex.from_frame(key).isin(pd.MultiIndex.from_frame(keep))]
    if out.empty:
        raise DataError(f"{path}: none of its {len(keep):,} pairs is a judged pair of the training split")
    return out

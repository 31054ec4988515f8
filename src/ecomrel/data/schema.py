"""The canonical data model: four Parquet tables and the rejects file.

A *data folder* holds::

    products.parquet     product_id, title, brand, category, attributes, description, price
    queries.parquet      query_id, text, frequency, [kind]
    judgments.parquet    query_id, product_id, grade, source_label, raw_score, rater_count, [true_grade]
    engagement.parquet   query_id, product_id, impressions, clicks, add_to_carts, orders, position
    splits.parquet       query_id, split            (written by ``ecomrel data split``)
    rejects.parquet      file, row, field, reason, value

``category`` is a path joined by ``" > "``; ``attributes`` is a map string → string.
``grade`` is on :data:`ecomrel.grades.DEFAULT_SCALE` unless the folder says otherwise;
``source_label`` is the source's own label, verbatim. ``true_grade`` exists only for the
synthetic sample, whose noisy ``grade`` is scored against it.

Stages exchange *prediction files* with one row per (query_id, product_id)::

    query_id, product_id, score (float, higher = more relevant), pred_grade (int),
    [p_0 .. p_{K-1}], [expected_grade], [tier]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecomrel.errors import DataError  # noqa: F401  (re-exported: data.schema.DataError)

PRODUCTS_SCHEMA = pa.schema(
    [
        ("product_id", pa.string()),
        ("title", pa.string()),
        ("brand", pa.string()),
        ("category", pa.string()),
        ("attributes", pa.map_(pa.string(), pa.string())),
        ("description", pa.string()),
        ("price", pa.float64()),
    ]
)
QUERIES_SCHEMA = pa.schema(
    [("query_id", pa.string()), ("text", pa.string()), ("frequency", pa.int64()), ("kind", pa.string())]
)
JUDGMENTS_SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("product_id", pa.string()),
        ("grade", pa.int8()),
        ("source_label", pa.string()),
        ("raw_score", pa.float64()),
        ("rater_count", pa.int32()),
        ("true_grade", pa.int8()),
    ]
)
ENGAGEMENT_SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("product_id", pa.string()),
        ("impressions", pa.int64()),
        ("clicks", pa.int64()),
        ("add_to_carts", pa.int64()),
        ("orders", pa.int64()),
        ("position", pa.float64()),
    ]
)
SPLITS_SCHEMA = pa.schema([("query_id", pa.string()), ("split", pa.string())])
REJECTS_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("value", pa.string()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "products": PRODUCTS_SCHEMA,
    "queries": QUERIES_SCHEMA,
    "judgments": JUDGMENTS_SCHEMA,
    "engagement": ENGAGEMENT_SCHEMA,
    "splits": SPLITS_SCHEMA,
    "rejects": REJECTS_SCHEMA,
}
REQUIRED_TABLES = ("products", "queries", "judgments")


def to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Conform a frame to a schema: missing optional columns become nulls, extra columns are kept."""
    df = df.copy()
    for f in schema:
        if f.name not in df.columns:
            df[f.name] = None
    if "attributes" in schema.names:
        df["attributes"] = pd.Series(
            [
                None if a is None or (isinstance(a, float) and pd.isna(a)) else list(dict(a).items())
                for a in df["attributes"]
            ],
            index=df.index,
            dtype=object,
        )
    extra = [c for c in df.columns if c not in schema.names]
    fields = list(schema) + [
        pa.field(c, pa.Schema.from_pandas(df[[c]], preserve_index=False)[0].type) for c in extra
    ]
    full = pa.schema(fields)
    if df.empty:
        return full.empty_table()
    return pa.Table.from_pandas(df[[f.name for f in full]], schema=full, preserve_index=False)


def write_table(df: pd.DataFrame, path: str | Path, schema: pa.Schema) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(to_table(df, schema), tmp)
    tmp.replace(path)  # atomic: a crash never leaves a half-written table behind
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    df = pq.read_table(path).to_pandas()
    if "attributes" in df.columns:
        df["attributes"] = [dict(a) if a is not None else {} for a in df["attributes"]]
    return df


@dataclass
class Dataset:
    """The four canonical tables of one data folder, as pandas frames."""

    products: pd.DataFrame
    queries: pd.DataFrame
    judgments: pd.DataFrame
    engagement: pd.DataFrame | None = None
    splits: pd.DataFrame | None = None

    @classmethod
    def load(cls, folder: str | Path) -> Dataset:
        folder = Path(folder)
        missing = [t for t in REQUIRED_TABLES if not (folder / f"{t}.parquet").exists()]
        if missing:
            raise DataError(f"{folder}: not an ecomrel data folder (missing {', '.join(missing)}.parquet)")
        opt = {t: (folder / f"{t}.parquet") for t in ("engagement", "splits")}
        return cls(
            products=read_table(folder / "products.parquet"),
            queries=read_table(folder / "queries.parquet"),
            judgments=read_table(folder / "judgments.parquet"),
            engagement=read_table(opt["engagement"]) if opt["engagement"].exists() else None,
            splits=read_table(opt["splits"]) if opt["splits"].exists() else None,
        )

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        for name in ("products", "queries", "judgments", "engagement", "splits"):
            df = getattr(self, name)
            if df is not None:
                write_table(df, folder / f"{name}.parquet", TABLES[name])
        return folder

    def split_queries(self, split: str) -> set[str]:
        """Query ids of one split; ``KeyError`` with a hint if the folder has no splits."""
        if self.splits is None:
            raise KeyError("this data folder has no splits.parquet; run `ecomrel data split` first")
        return set(self.splits.loc[self.splits["split"] == split, "query_id"])

    def pairs(self, split: str | None = None) -> pd.DataFrame:
        """Judged pairs joined with query text and product fields, optionally of one split."""
        j = self.judgments
        if split is not None:
            j = j[j["query_id"].isin(self.split_queries(split))]
        q = self.queries[["query_id", "text"]].rename(columns={"text": "query"})
        return j.merge(q, on="query_id", how="left").merge(self.products, on="product_id", how="left")

"""One file as one split of a new or existing data folder (``ecomrel data import ... --split test``).

The most common job of a relevance team is *train on our labelled file, evaluate on another file
of new queries*. :func:`merge_split` adds the tables a loader built from one file to the folder
``out`` as split ``split`` (``train``, ``dev`` or ``test``):

- **Query-disjoint.** A query of the file that the folder already holds (in any split, from
  another file) is a :class:`DataError` naming the query, the file and the split it is in: a
  model must never be scored on a query it was trained on.
- **One file, one set of queries.** ``splits.parquet`` records the file each query came from
  (column ``source``, the resolved path). Importing the same file again *replaces* what it
  brought (judgments, queries, its rejects and warnings): re-running an import is idempotent, and
  importing a corrected file replaces the old one. Products only the replaced judgments used are
  removed; the rest of the catalogue stays.
- **Product ids whose text differs.** The same product id in the folder with another text (title,
  brand, category, description, attributes: the fields the file gives) — e.g. a title edited
  between two exports — is counted and handled by ``on_product_conflict``:

  ``keep``  (default) each judgment keeps the text it was judged with: the file's product gets the
            id ``<id>~<8 hex digits of its text's hash>`` (deterministic, so a re-import gives the
            same id) and column ``source_product_id`` records the original id.
  ``reject`` the file's judgments of that product go to ``rejects.parquet`` with reason
            ``product id has another text in the data folder`` and both texts; nothing is
            changed in the folder.

  Either way nothing is lost: every row of the file is imported or rejected with its reason.
- **dev from the train file.** ``dev`` (a fraction, only with ``split="train"``) puts that share
  of the file's queries in ``dev`` instead (by query, seeded, as ``ecomrel data split``), so
  that cut points and calibration can be tuned on queries the student did not train on.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ecomrel.data.rejects import Rejects
from ecomrel.data.schema import REJECTS_SCHEMA, DataError, Dataset, read_table
from ecomrel.data.sources.common import Builder, FileStats, Reason

SPLITS = ("train", "dev", "test")
CONFLICT_MODES = ("keep", "reject")
TEXT_FIELDS = ("title", "brand", "category", "description", "attributes")
"""The product fields compared to decide that one id carries two texts."""
SUFFIX_SEP = "~"


@dataclass
class SplitMerge:
    """What :func:`merge_split` produced: the merged folder's tables and what it counted."""

    dataset: Dataset
    rejects: pd.DataFrame
    warnings: pd.DataFrame
    splits: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, object] = field(default_factory=dict)


def _norm(name: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if name == "attributes":
        items = value.items() if isinstance(value, dict) else (value or [])
        return "; ".join(f"{k}={v}" for k, v in sorted((str(k), str(v)) for k, v in items))
    return str(value).strip()


def product_text_key(product: dict, fields: tuple[str, ...] = TEXT_FIELDS) -> str:
    """The product's text as one comparable string (only ``fields`` it has values for)."""
    return "\x1f".join(f"{f}={_norm(f, product.get(f))}" for f in fields if _norm(f, product.get(f)))


def suffixed_id(product_id: str, text_key: str) -> str:
    """The id a conflicting product is kept under: deterministic in the id and its text."""
    digest = hashlib.blake2b(text_key.encode("utf-8"), digest_size=4).hexdigest()
    return f"{product_id}{SUFFIX_SEP}{digest}"


def source_key(path: str | Path) -> str:
    """How a file is named in ``splits.parquet``'s ``source`` column (its resolved path)."""
    return str(Path(path).resolve())


def _same_file(files: pd.Series, key: str) -> pd.Series:
    return files.astype(str).map(lambda f: source_key(f) == key)


def _load_existing(out: Path) -> Dataset | None:
    if not (out / "judgments.parquet").exists():
        return None
    ds = Dataset.load(out)
    if ds.splits is None:
        raise DataError(
            f"{out}: the data folder has no splits.parquet, so its queries belong to no split; import "
            "its file again with --split train, or run `ecomrel data split` first"
        )
    if "source" not in ds.splits.columns:
        ds.splits["source"] = None
    return ds


def _read_side_table(path: Path, key: str) -> pd.DataFrame:
    """Rows of an existing rejects/warnings file that came from other files."""
    if not path.exists():
        return pd.DataFrame(columns=REJECTS_SCHEMA.names)
    df = read_table(path)
    return df[~_same_file(df["file"], key)].reset_index(drop=True) if len(df) else df


def _stats_by_file(builder: Builder) -> dict[str, FileStats]:
    return {f.file: f for f in builder.files}


def merge_split(
    builder: Builder,
    new: Dataset,
    rejects: Rejects,
    out: str | Path,
    path: str | Path,
    split: str,
    *,
    on_product_conflict: str = "keep",
    dev: float | None = None,
    seed: int = 0,
) -> SplitMerge:
    """The folder ``out`` with the tables of one imported file ``path`` added as split ``split``.

    ``new`` is ``builder.dataset()``; rejects of product conflicts are added to ``rejects`` and
    the builder's file statistics (``read == imported + rejected`` keeps holding). Nothing is
    written here: the caller saves :attr:`SplitMerge.dataset` and the side tables.
    """
    from ecomrel.data.splits import split_by_query

    if split not in SPLITS:
        raise DataError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    if on_product_conflict not in CONFLICT_MODES:
        raise DataError(f"--on-product-conflict {on_product_conflict!r}: choose keep or reject")
    if dev is not None and (split != "train" or not 0.0 < dev < 1.0):
        raise DataError(f"--dev {dev}: a fraction in (0, 1) of the file's queries, only with --split train")
    out, key = Path(out), source_key(path)
    existing = _load_existing(out)
    judgments = new.judgments.reset_index(drop=True).copy()
    products = new.products.reset_index(drop=True).copy()
    rows = list(builder.judgment_rows)
    stats = _stats_by_file(builder)

    removed_products: set[str] = set()
    if existing is not None:
        # what this file brought before is replaced
        mine = set(existing.splits.loc[_same_file(existing.splits["source"], key), "query_id"])
        dropped = existing.judgments["query_id"].isin(mine)
        removed_products = set(existing.judgments.loc[dropped, "product_id"].astype(str))
        existing.judgments = existing.judgments[~dropped].reset_index(drop=True)
        existing.queries = existing.queries[~existing.queries["query_id"].isin(mine)].reset_index(drop=True)
        existing.splits = existing.splits[~existing.splits["query_id"].isin(mine)].reset_index(drop=True)
        if existing.engagement is not None:
            existing.engagement = existing.engagement[
                ~existing.engagement["query_id"].isin(mine)
            ].reset_index(drop=True)

        # query-disjointness: one query, one split
        taken = existing.splits.set_index("query_id")
        held = set(existing.queries["query_id"]) | set(taken.index)
        shared = [q for q in new.queries["query_id"] if q in held]
        if shared:
            q = shared[0]
            text = new.queries.loc[new.queries["query_id"] == q, "text"].iloc[0]
            where = taken.loc[q] if q in taken.index else None
            if where is not None and isinstance(where, pd.DataFrame):
                where = where.iloc[0]
            in_split = f"split {where['split']!r}" if where is not None else "the folder (no split)"
            src = where["source"] if where is not None else None
            src_txt = f" (from {Path(str(src)).name})" if src not in (None, "") and not pd.isna(src) else ""
            more = f" and {len(shared) - 1:,} more" if len(shared) > 1 else ""
            raise DataError(
                f"{path}: query {text!r} ({q}){more} is already in {in_split}{src_txt} of {out}; "
                f"splits must not share queries, so this file cannot become split {split!r}"
            )

        # the same product id with another text
        known = existing.products.set_index("product_id", drop=False)
        renamed: dict[str, str] = {}
        conflicting: dict[str, tuple[str, str]] = {}
        for rec in products.to_dict("records"):
            pid = str(rec["product_id"])
            if pid not in known.index:
                continue
            fields = tuple(f for f in TEXT_FIELDS if _norm(f, rec.get(f)))
            mine_text = product_text_key(rec, fields)
            theirs = product_text_key(known.loc[pid].to_dict(), fields)
            if mine_text != theirs:
                conflicting[pid] = (str(rec.get("title") or ""), str(known.loc[pid].get("title") or ""))
                renamed[pid] = suffixed_id(pid, mine_text)
        n_conflict_judgments = int(judgments["product_id"].isin(set(conflicting)).sum())
        if conflicting and on_product_conflict == "keep":
            products["source_product_id"] = products["product_id"].map(lambda p: p if p in renamed else None)
            products["product_id"] = products["product_id"].map(lambda p: renamed.get(p, p))
            judgments["product_id"] = judgments["product_id"].map(lambda p: renamed.get(p, p))
        elif conflicting:
            bad = judgments["product_id"].isin(set(conflicting)).to_numpy()
            for i in range(len(judgments)):
                if not bad[i]:
                    continue
                file, row = rows[i]
                pid = str(judgments.at[i, "product_id"])
                new_title, old_title = conflicting[pid]
                rejects.add(
                    file, row, "product_id", Reason.PRODUCT_CONFLICT, f"{pid}: {new_title!r} vs {old_title!r}"
                )
                if file in stats:
                    stats[file].imported -= 1
                    stats[file].rejected += 1
            judgments = judgments[~bad].reset_index(drop=True)
            products = products[~products["product_id"].isin(set(conflicting))]
        # products already in the folder with the same text (a suffixed id kept before included)
        # are not repeated
        products = products[~products["product_id"].isin(set(known.index))]
        conflicts = {
            "mode": on_product_conflict,
            "products": len(conflicting),
            "judgments": n_conflict_judgments,
        }
    else:
        conflicts = {"mode": on_product_conflict, "products": 0, "judgments": 0}

    # every query of the file that kept a judgment goes to the split (dev carved out if asked)
    queries = new.queries[new.queries["query_id"].isin(set(judgments["query_id"]))].reset_index(drop=True)
    if dev is not None:
        assigned = split_by_query(queries[["query_id"]], {"train": 1.0 - dev, "dev": dev}, seed=seed)
    else:
        assigned = pd.DataFrame({"query_id": queries["query_id"], "split": split})
    assigned["source"] = key

    if existing is None:
        merged = Dataset(
            products=products.reset_index(drop=True),
            queries=queries,
            judgments=judgments,
            engagement=new.engagement,
            splits=assigned,
        )
        old_rejects = pd.DataFrame(columns=REJECTS_SCHEMA.names)
        old_warnings = pd.DataFrame(columns=REJECTS_SCHEMA.names)
    else:
        all_products = pd.concat([existing.products, products], ignore_index=True)
        used = set(existing.judgments["product_id"].astype(str)) | set(judgments["product_id"].astype(str))
        stale = removed_products - used
        all_products = all_products[~all_products["product_id"].isin(stale)].reset_index(drop=True)
        engagement = existing.engagement
        if new.engagement is not None:
            engagement = pd.concat(
                [e for e in (engagement, new.engagement) if e is not None], ignore_index=True
            )
        merged = Dataset(
            products=all_products,
            queries=pd.concat([existing.queries, queries], ignore_index=True),
            judgments=pd.concat([existing.judgments, judgments], ignore_index=True),
            engagement=engagement,
            splits=pd.concat([existing.splits, assigned], ignore_index=True),
        )
        old_rejects = _read_side_table(out / "rejects.parquet", key)
        old_warnings = _read_side_table(out / "warnings.parquet", key)
    if "attributes" in merged.products.columns:  # Parquet reads a missing map back as {}: write it so
        merged.products["attributes"] = [
            a if isinstance(a, dict) else {} for a in merged.products["attributes"]
        ]
    frames = [f for f in (old_rejects, rejects.frame()) if len(f)]
    all_rejects = pd.concat(frames, ignore_index=True) if frames else rejects.frame()
    wframes = [f for f in (old_warnings, builder.warnings.frame()) if len(f)]
    all_warnings = pd.concat(wframes, ignore_index=True) if wframes else builder.warnings.frame()
    counts = {s: int(n) for s, n in assigned["split"].value_counts().items()}
    return SplitMerge(merged, all_rejects, all_warnings, counts, conflicts)

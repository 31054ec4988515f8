"""Real-data loaders: ESCI, WANDS, Home Depot and any mapped CSV/TSV/Parquet → a data folder.

:func:`import_source` is the one entry point (the ``ecomrel data import`` command calls it). It
writes ``products``, ``queries``, ``judgments`` (and ``splits`` when the source has them) with
:meth:`Dataset.save`, ``rejects.parquet`` always (empty when nothing was rejected) and
``import_report.json``; it returns an :class:`ImportReport` whose counts always satisfy
``read == imported + rejected``. Each source has its own module with its mapping documented.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecomrel.data.rejects import Rejects
from ecomrel.data.schema import PRODUCTS_SCHEMA, DataError, Dataset
from ecomrel.data.sources.common import MAX_FIELD_CHARS, Builder, ImportReport, query_id_for
from ecomrel.data.sources.csv_generic import CsvMapping, load_csv, parse_mapping
from ecomrel.data.sources.esci import load_esci
from ecomrel.data.sources.homedepot import load_homedepot
from ecomrel.data.sources.wands import load_wands

FORMATS = ("esci", "wands", "homedepot", "csv")
READ_OPTIONS = {"encoding", "max_field_chars"}
"""Mapping keys that the fixed-layout formats accept (the column layout of those is fixed)."""

__all__ = [
    "FORMATS",
    "CsvMapping",
    "ImportReport",
    "import_source",
    "load_mapping",
    "query_id_for",
]


def load_mapping(mapping: dict | str | Path | None) -> dict | None:
    """A mapping dict from a dict, a YAML file path, or None; YAML errors become a :class:`DataError`."""
    if mapping is None or isinstance(mapping, dict):
        return mapping
    import yaml

    path = Path(mapping)
    if not path.is_file():
        raise DataError(f"{path}: mapping file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable YAML mapping ({exc})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a mapping must be a YAML map with a `columns` section")
    return raw


def _read_options(fmt: str, mapping: dict | None, source: str) -> dict[str, Any]:
    if not mapping:
        return {}
    extra = sorted(set(mapping) - READ_OPTIONS)
    if extra:
        raise DataError(
            f"{source}: the {fmt} layout is fixed; its mapping may only set "
            f"{', '.join(sorted(READ_OPTIONS))} (got {', '.join(map(str, extra))})"
        )
    opts = dict(mapping)
    limit = opts.get("max_field_chars", MAX_FIELD_CHARS)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise DataError(f"{source}: max_field_chars must be a positive integer, got {limit!r}")
    if "encoding" in opts and not isinstance(opts["encoding"], str):
        raise DataError(f"{source}: encoding must be a text such as latin-1, got {opts['encoding']!r}")
    return opts


def _clear_stale(out: Path, written: set[str]) -> None:
    """Remove optional tables of an earlier import that this one does not write."""
    for name in ("engagement", "splits"):
        if name not in written:
            (out / f"{name}.parquet").unlink(missing_ok=True)


def _save(ds: Dataset, out: Path) -> None:
    """``Dataset.save``; an empty products table is written from its schema directly, because
    ``schema.to_table`` cannot convert the ``attributes`` map of a frame with no rows."""
    if len(ds.products):
        ds.save(out)
        return
    import pyarrow.parquet as pq

    products, ds.products = ds.products, None  # type: ignore[assignment]
    try:
        ds.save(out)
    finally:
        ds.products = products
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(PRODUCTS_SCHEMA.empty_table(), out / "products.parquet")


def import_source(
    fmt: str,
    path: str | Path,
    out: str | Path,
    mapping: dict | str | Path | None = None,
    *,
    split: str | None = None,
    on_product_conflict: str = "keep",
    dev: float | None = None,
    seed: int = 0,
) -> ImportReport:
    """Import ``path`` of format ``fmt`` (esci | wands | homedepot | csv) into the data folder ``out``.

    ``mapping`` is required for ``csv`` (see :mod:`ecomrel.data.sources.csv_generic`); for the
    other formats it may set ``encoding`` and ``max_field_chars``. Raises :class:`DataError`
    for problems with a whole file; problems with rows end up in ``rejects.parquet``.

    ``split`` (``train`` | ``dev`` | ``test``) adds the file as that split of a new or existing
    folder instead of replacing the folder (see :mod:`ecomrel.data.sources.split_import`: queries
    must not be shared between files, a product id with another text is kept per judgment or
    rejected by ``on_product_conflict``, re-importing a file replaces what it brought; ``dev``
    carves that share of a train file's queries out as the dev split, seeded by ``seed``).
    """
    start = time.perf_counter()
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    path, out = Path(path), Path(out)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    source = str(mapping) if isinstance(mapping, (str, Path)) else "mapping"
    raw = load_mapping(mapping)
    rejects = Rejects()
    loader: Callable[[Builder], None]
    if fmt == "csv":
        if raw is None:
            raise DataError(f"{path}: the csv format needs a --mapping (see `ecomrel data import --help`)")
        m = parse_mapping(raw, source)
        builder = Builder(rejects, m.max_field_chars)
        loader = lambda b: load_csv(path, b, rejects, m)  # noqa: E731
    else:
        opts = _read_options(fmt, raw, source)
        builder = Builder(rejects, opts.get("max_field_chars", MAX_FIELD_CHARS))
        fn = {"esci": load_esci, "wands": load_wands, "homedepot": load_homedepot}[fmt]
        loader = lambda b: fn(path, b, rejects, encoding=opts.get("encoding"))  # noqa: E731
    loader(builder)

    empty = [f.file for f in builder.files if f.read == 0]
    if empty:  # a header-only CSV or a zero-row Parquet file: nothing to import is an error
        raise DataError(f"{empty[0]}: no data rows (only a header); nothing to import")
    ds = builder.dataset()
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    merge = None
    if split is not None or dev is not None:
        from ecomrel.data.sources.split_import import merge_split

        merge = merge_split(
            builder,
            ds,
            rejects,
            out,
            path,
            split or "train",
            on_product_conflict=on_product_conflict,
            dev=dev,
            seed=seed,
        )
    try:
        if merge is None:
            _save(ds, out)
            rejects.save(out / "rejects.parquet")
            builder.warnings.save(out / "warnings.parquet")
            _clear_stale(out, {"splits"} if ds.splits is not None else set())
        else:
            from ecomrel.data.schema import REJECTS_SCHEMA, write_table

            _save(merge.dataset, out)
            write_table(merge.rejects, out / "rejects.parquet", REJECTS_SCHEMA)
            write_table(merge.warnings, out / "warnings.parquet", REJECTS_SCHEMA)
    except OSError as exc:
        raise DataError(f"{out}: cannot write the data folder ({exc.strerror or exc})") from None
    read = sum(f.read for f in builder.files)
    imported = sum(f.imported for f in builder.files)
    rejected = sum(f.rejected for f in builder.files)
    if read != imported + rejected or rejected != len(rejects):  # an invariant, not user input
        raise RuntimeError(f"row accounting broken: read {read} != {imported} + {rejected} ({len(rejects)})")
    report = ImportReport(
        format=fmt,
        source=str(path),
        out=out,
        read=read,
        imported=imported,
        rejected=rejected,
        reasons=rejects.summary(),
        files=builder.files,
        products=len(ds.products),
        queries=len(ds.queries),
        judgments=len(ds.judgments),
        seconds=round(time.perf_counter() - start, 3),
        undecodable_hint=any(r["reason"] == "undecodable text" for r in rejects.records),
        warnings=builder.warnings.summary(),
    )
    if merge is not None:
        ds = merge.dataset
        report.split = split or "train"
        report.splits = merge.splits
        report.product_conflicts = merge.conflicts
        report.products, report.queries = len(ds.products), len(ds.queries)
        report.judgments = len(ds.judgments)
        _record_import(out, report)
    (out / "import_report.json").write_text(json.dumps(report.to_dict(), indent=2))
    return report


def _record_import(out: Path, report: ImportReport) -> None:
    """``imports.json``: the latest report of every file imported as a split, by resolved path."""
    from ecomrel.data.sources.split_import import source_key

    path = out / "imports.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    known[source_key(report.source)] = report.to_dict()
    path.write_text(json.dumps(known, indent=2))

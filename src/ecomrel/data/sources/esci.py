"""Amazon Shopping Queries Dataset (ESCI) → canonical tables.

Three layouts are accepted:

1. **One merged file** (CSV or Parquet) with the official columns ``example_id, query, query_id,
   product_id, product_locale, esci_label, small_version, large_version, split, product_title,
   product_description, product_bullet_point, product_brand, product_color``.
2. **The official two files** in a folder: ``*examples*.{parquet,csv}`` (``example_id, query,
   query_id, product_id, product_locale, esci_label, small_version, large_version, split``) and
   ``*products*.{parquet,csv}`` (``product_id, product_locale, product_title,
   product_description, product_bullet_point, product_brand, product_color``), joined on
   product id and locale.
3. **A simple lookup file**: ``query, product_id, product_text, esci_label``; the concatenated
   ``product_text`` becomes the title.

Mapping: ``esci_label`` E/S/C/I → grade by :data:`ecomrel.grades.ESCI_TO_GRADE` (the full words
Exact/Substitute/Complement/Irrelevant are accepted too), the label itself kept verbatim in
``source_label``. A missing ``query_id`` is derived from the query text. Colour goes to
``attributes["color"]``, bullet points are appended to the description, the locale is kept as an
extra ``products.locale`` column, and the official ``split`` becomes ``splits.parquet`` (first
value per query).

Product ids: an ASIN is kept as it is for the ``us`` locale (or no locale) and becomes
``ASIN@es`` / ``ASIN@jp`` for the other locales, because the same ASIN may carry different text
in different marketplaces. The id is stable whichever subset of locales is imported.
"""

from __future__ import annotations

from pathlib import Path

from ecomrel.data.rejects import Rejects
from ecomrel.data.schema import DataError
from ecomrel.data.sources.common import (
    Builder,
    Cells,
    Reason,
    RowReject,
    query_id_for,
    read_table_file,
    run_rows,
)
from ecomrel.grades import ESCI_TO_GRADE

ESCI_ALIASES = {"EXACT": "E", "SUBSTITUTE": "S", "COMPLEMENT": "C", "IRRELEVANT": "I"}
PRODUCT_FIELDS = [
    "product_title",
    "product_description",
    "product_bullet_point",
    "product_brand",
    "product_color",
]
EXAMPLE_OPTIONAL = ["query_id", "product_locale", "split"]


def esci_grade(label: str) -> int:
    key = label.strip().upper()
    key = ESCI_ALIASES.get(key, key)
    if key not in ESCI_TO_GRADE:
        raise RowReject("esci_label", Reason.UNKNOWN_LABEL, label)
    return ESCI_TO_GRADE[key]


def esci_product_id(asin: str, locale: str) -> str:
    return asin if locale in ("", "us") else f"{asin}@{locale}"


def _product_fields(c: Cells, title_col: str) -> dict:
    title = c.get(title_col, required=True)
    desc = c.get("product_description")
    bullets = c.get("product_bullet_point")
    description = "\n\n".join(p for p in (desc, bullets) if p) or None
    color = c.get("product_color")
    return {
        "title": title,
        "brand": c.get("product_brand") or None,
        "category": None,
        "attributes": {"color": color} if color else {},
        "description": description,
        "price": None,
        "locale": c.get("product_locale") or None,
    }


def _judge(builder: Builder, c: Cells, product_id: str) -> tuple[str, str, str, int, str]:
    """The shared tail of an examples row: label, query, duplicate check, split."""
    query = c.get("query", required=True)
    label = c.get("esci_label", required=True)
    grade = esci_grade(label)
    qid = c.get("query_id") or query_id_for(query)
    builder.check_pair(qid, product_id, label=label)
    return qid, query, label, grade, c.get("split")


def _commit(builder: Builder, qid: str, query: str, pid: str, label: str, grade: int, split: str) -> None:
    builder.add_query(qid, query)
    builder.add_judgment(qid, pid, grade, label)
    if split:
        builder.splits.setdefault(qid, split)


def _find(folder: Path, word: str) -> Path:
    hits = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and word in p.name.lower() and p.suffix.lower() in {".parquet", ".pq", ".csv", ".tsv"}
    )
    if len(hits) != 1:
        found = ", ".join(p.name for p in hits) or "none"
        raise DataError(
            f"{folder}: an ESCI folder needs exactly one *{word}*.parquet/.csv file "
            f"(the official examples + products layout); found {found}"
        )
    return hits[0]


def load_esci(path: str | Path, builder: Builder, rejects: Rejects, *, encoding: str | None = None) -> None:
    """Read ESCI data (a merged file, the official two-file folder, or a lookup file) into ``builder``."""
    path = Path(path)
    if path.is_dir():
        _load_two_files(_find(path, "examples"), _find(path, "products"), builder, rejects, encoding)
        return
    table = read_table_file(path, rejects, encoding=encoding)
    title_col = "product_title" if table.index("product_title") is not None else "product_text"
    cols = table.require(["query", "product_id", "esci_label", title_col])
    cols |= table.optional(EXAMPLE_OPTIONAL + PRODUCT_FIELDS)

    def handle(c: Cells, _row: int) -> None:
        asin = c.get("product_id", required=True)
        pid = esci_product_id(asin, c.get("product_locale"))
        qid, query, label, grade, split = _judge(builder, c, pid)
        fields = _product_fields(c, title_col)
        builder.add_product(pid, **fields)
        _commit(builder, qid, query, pid, label, grade, split)

    run_rows(table, builder, cols, handle, f"import {path.name}")


def _load_two_files(
    examples: Path, products: Path, builder: Builder, rejects: Rejects, encoding: str | None
) -> None:
    ptable = read_table_file(products, rejects, encoding=encoding)
    etable = read_table_file(examples, rejects, encoding=encoding)
    pcols = ptable.require(["product_id", "product_title"], "products") | ptable.optional(
        ["product_locale", *PRODUCT_FIELDS]
    )
    ecols = etable.require(["query", "product_id", "esci_label"], "examples")
    ecols |= etable.optional(EXAMPLE_OPTIONAL)

    def handle_product(c: Cells, _row: int) -> None:
        pid = esci_product_id(c.get("product_id", required=True), c.get("product_locale"))
        if pid in builder.products:
            raise RowReject("product_id", Reason.DUPLICATE_ID, pid)
        builder.add_product(pid, **_product_fields(c, "product_title"))

    def handle_example(c: Cells, _row: int) -> None:
        pid = esci_product_id(c.get("product_id", required=True), c.get("product_locale"))
        if pid not in builder.products:
            raise RowReject("product_id", Reason.UNKNOWN_PRODUCT, f"{pid} (not among the imported products)")
        qid, query, label, grade, split = _judge(builder, c, pid)
        _commit(builder, qid, query, pid, label, grade, split)

    run_rows(ptable, builder, pcols, handle_product, f"import {products.name}")
    run_rows(etable, builder, ecols, handle_example, f"import {examples.name}")

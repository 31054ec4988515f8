"""Wayfair ANnotation DataSet (WANDS) → canonical tables.

WANDS ships three tab-separated files (in a folder, or its ``dataset/`` sub-folder):

- ``query.csv``: ``query_id, query, query_class``
- ``product.csv``: ``product_id, product_name, product_class, category hierarchy,
  product_description, product_features, rating_count, average_rating, review_count``
- ``label.csv``: ``id, query_id, product_id, label`` with label Exact / Partial / Irrelevant

Mapping: label → grade by :data:`ecomrel.grades.WANDS_TO_GRADE` (case-insensitive; the label is
kept verbatim in ``source_label``). ``query_class`` is kept as an extra ``queries.query_class``
column. The category hierarchy (``A / B / C``) becomes the path ``A > B > C``; the pipe-separated
``key:value`` features, the product class and the rating figures go to ``attributes``
(features without a ``key:`` are kept under ``"features"``). Duplicate ids keep the first row;
labels for a query or product that was not imported are rejected.
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
    parse_float,
    read_table_file,
    run_rows,
)
from ecomrel.grades import WANDS_TO_GRADE

FILES = ("query.csv", "product.csv", "label.csv")
_LABELS = {k.lower(): v for k, v in WANDS_TO_GRADE.items()}


def parse_features(text: str) -> dict[str, str]:
    """``"color:red|size:large"`` → ``{"color": "red", "size": "large"}``."""
    out: dict[str, str] = {}
    loose: list[str] = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip(), value.strip())
        else:
            loose.append(part)
    if loose:
        out["features"] = "|".join(loose)
    return out


def _number(c: Cells, name: str) -> str | None:
    text = c.get(name)
    if not text:
        return None
    value = parse_float(text, name)
    return str(int(value)) if value.is_integer() else str(value)


def _folder(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"{path}: no such folder")
    if not path.is_dir():
        raise DataError(f"{path}: WANDS is a folder holding {', '.join(FILES)}; got a file")
    for cand in (path, path / "dataset"):
        if all((cand / f).is_file() for f in FILES):
            return cand
    missing = [f for f in FILES if not (path / f).is_file()]
    raise DataError(f"{path}: missing WANDS file(s): {', '.join(missing)}")


def load_wands(path: str | Path, builder: Builder, rejects: Rejects, *, encoding: str | None = None) -> None:
    """Read the three WANDS files of a folder into ``builder``."""
    folder = _folder(Path(path))
    tables = {f: read_table_file(folder / f, rejects, sep="\t", encoding=encoding) for f in FILES}
    qt, pt, lt = (tables[f] for f in FILES)
    qcols = qt.require(["query_id", "query"]) | qt.optional(["query_class"])
    pcols = pt.require(["product_id", "product_name"]) | pt.optional(
        [
            "product_class",
            "category hierarchy",
            "product_description",
            "product_features",
            "rating_count",
            "average_rating",
            "review_count",
        ]
    )
    lcols = lt.require(["query_id", "product_id", "label"])

    def handle_query(c: Cells, _row: int) -> None:
        qid = c.get("query_id", required=True)
        text = c.get("query", required=True)
        if qid in builder.queries:
            raise RowReject("query_id", Reason.DUPLICATE_ID, qid)
        builder.add_query(qid, text, query_class=c.get("query_class") or None)

    def handle_product(c: Cells, _row: int) -> None:
        pid = c.get("product_id", required=True)
        title = c.get("product_name", required=True)
        if pid in builder.products:
            raise RowReject("product_id", Reason.DUPLICATE_ID, pid)
        attributes = parse_features(c.get("product_features"))
        if pclass := c.get("product_class"):
            attributes["product_class"] = pclass
        for name in ("rating_count", "average_rating", "review_count"):
            if (value := _number(c, name)) is not None:
                attributes[name] = value
        path = [p.strip() for p in c.get("category hierarchy").split("/") if p.strip()]
        builder.add_product(
            pid,
            title=title,
            brand=None,
            category=" > ".join(path) or None,
            attributes=attributes,
            description=c.get("product_description") or None,
            price=None,
        )

    def handle_label(c: Cells, _row: int) -> None:
        qid = c.get("query_id", required=True)
        pid = c.get("product_id", required=True)
        label = c.get("label", required=True)
        grade = _LABELS.get(label.lower())
        if grade is None:
            raise RowReject("label", Reason.UNKNOWN_LABEL, label)
        if qid not in builder.queries:
            raise RowReject("query_id", Reason.UNKNOWN_QUERY, qid)
        if pid not in builder.products:
            raise RowReject("product_id", Reason.UNKNOWN_PRODUCT, pid)
        builder.check_pair(qid, pid, label=label)
        builder.add_judgment(qid, pid, grade, label)

    run_rows(qt, builder, qcols, handle_query, "import query.csv")
    run_rows(pt, builder, pcols, handle_product, "import product.csv")
    run_rows(lt, builder, lcols, handle_label, "import label.csv")

"""Home Depot Product Search Relevance (Kaggle 2016): ``train.csv`` → canonical tables.

Columns: ``id, product_uid, product_title, search_term, relevance``. ``relevance`` is the mean
of at least three raters on 1 (irrelevant) .. 3 (perfect match). It is kept as ``raw_score``
(the regression target and NDCG gain), its text verbatim as ``source_label`` (e.g. ``"2.33"``),
and mapped to a grade by :func:`ecomrel.grades.homedepot_grade`; the rater count is unknown
(null). ``product_id`` is ``product_uid``; ``query_id`` is derived from the normalized query text
(:func:`~ecomrel.data.sources.common.query_id_for`), so the same text always gets the same id.

Titles with encoding debris (``30å¡``) are valid UTF-8 and are kept as they are; rows whose bytes
are not UTF-8 are rejected with reason ``undecodable text`` (see ``common``).
"""

from __future__ import annotations

from pathlib import Path

from ecomrel.data.rejects import Rejects
from ecomrel.data.sources.common import (
    Builder,
    Cells,
    Reason,
    RowReject,
    parse_float,
    query_id_for,
    read_table_file,
    run_rows,
)
from ecomrel.grades import homedepot_grade

REQUIRED = ["product_uid", "product_title", "search_term", "relevance"]


def load_homedepot(
    path: str | Path, builder: Builder, rejects: Rejects, *, encoding: str | None = None
) -> None:
    """Read a Home Depot ``train.csv`` (or a folder holding one) into ``builder``."""
    path = Path(path)
    if path.is_dir():
        path = path / "train.csv"
    table = read_table_file(path, rejects, encoding=encoding)
    cols = table.require(REQUIRED)
    if (i := table.index("id")) is not None:
        cols["id"] = i

    def handle(c: Cells, _row: int) -> None:
        query = c.get("search_term", required=True)
        product_id = c.get("product_uid", required=True)
        title = c.get("product_title", required=True)
        label = c.get("relevance", required=True)
        score = parse_float(label, "relevance")
        if not 1.0 <= score <= 3.0:
            raise RowReject("relevance", Reason.OUT_OF_RANGE, label)
        qid = query_id_for(query)
        builder.check_pair(qid, product_id, "search_term", label=label)
        builder.add_query(qid, query)
        builder.add_product(product_id, title=title)
        builder.add_judgment(qid, product_id, homedepot_grade(score), label, raw_score=score)

    run_rows(table, builder, cols, handle, f"import {path.name}")

"""Any CSV, TSV or Parquet file of judged (query, product) rows, described by a user mapping.

The mapping (a YAML file passed with ``--mapping``, or a dict) names the columns and how labels
become grades 0..3 (3 exact, 2 substitute, 1 complement, 0 irrelevant)::

    columns:                 # file column for each canonical field
      query: search_term     # required
      product_id: sku        # required
      label: rating          # required
      query_id: qid          # optional; default: derived from the normalized query text
      title: name            # optional; when given, an empty title rejects the row
      brand: brand           # optional
      category: path         # optional
      description: details   # optional
      price: price           # optional number ("$1,299.00" is fine)
      rater_count: n_raters  # optional integer
      attributes: [color, size]    # optional: columns copied into the attributes map
                                   # (or a map {attribute name: column})
    labels:                  # label text -> grade (case-insensitive) ...
      perfect: 3
      good: 2
      related: 1
      bad: 0
    # ... or numeric labels cut by thresholds: grade = number of thresholds <= value
    # thresholds: [1.5, 2.0, 2.5]
    # range: [1, 3]          # optional: numeric labels outside are rejected
    sep: ","                 # optional; default: by extension, else sniffed from the header
    encoding: utf-8          # optional; e.g. latin-1 for legacy exports
    category_sep: "/"        # optional: split the category on this and store it as "A > B"
    max_field_chars: 20000   # optional: longer fields are rejected

Exactly one of ``labels`` and ``thresholds`` is required. The label text is kept verbatim as
``source_label``; with thresholds the number is also kept as ``raw_score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecomrel.data.rejects import Rejects
from ecomrel.data.schema import DataError
from ecomrel.data.sources.common import (
    MAX_FIELD_CHARS,
    Builder,
    Cells,
    Reason,
    RowReject,
    parse_float,
    query_id_for,
    read_table_file,
    run_rows,
)
from ecomrel.grades import DEFAULT_SCALE


class ColumnMap(BaseModel):
    """Which file column holds each canonical field."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="Column with the query text (required).")
    product_id: str = Field(description="Column with the product id (required).")
    label: str = Field(description="Column with the judgment label (required).")
    query_id: str | None = Field(None, description="Column with a query id; default: derived from the text.")
    title: str | None = Field(None, description="Column with the product title.")
    brand: str | None = Field(None, description="Column with the brand.")
    category: str | None = Field(None, description="Column with the category (path).")
    description: str | None = Field(None, description="Column with the product description.")
    price: str | None = Field(None, description="Column with the price (a number).")
    rater_count: str | None = Field(None, description="Column with the number of raters (an integer).")
    attributes: list[str] | dict[str, str] = Field(
        default_factory=list, description="Columns copied into the attributes map (list, or name → column)."
    )

    def attribute_map(self) -> dict[str, str]:
        return dict(self.attributes) if isinstance(self.attributes, dict) else {c: c for c in self.attributes}


class CsvMapping(BaseModel):
    """The user mapping of a generic CSV/TSV/Parquet import (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    columns: ColumnMap = Field(description="File column of each canonical field.")
    labels: dict[str, int] | None = Field(None, description="Label text → grade 0..3.")
    thresholds: list[float] | None = Field(
        None, description="Increasing cut points: grade = number of thresholds <= numeric label."
    )
    range: tuple[float, float] | None = Field(None, description="Valid [low, high] of numeric labels.")
    sep: str | None = Field(None, description="Field separator; default by extension or sniffed.")
    encoding: str | None = Field(None, description="Text encoding; default UTF-8.")
    category_sep: str | None = Field(None, description="Separator of category levels in the file.")
    max_field_chars: int = Field(MAX_FIELD_CHARS, gt=0, description="Fields longer than this are rejected.")

    @field_validator("labels", mode="before")
    @classmethod
    def _keys_as_text(cls, v: Any) -> Any:
        # YAML turns `3: 3` or `1.5: 1` into numbers; labels are compared as text.
        if isinstance(v, dict):
            return {_label_key(k): g for k, g in v.items()}
        return v

    @model_validator(mode="after")
    def _one_rule(self) -> CsvMapping:
        if (self.labels is None) == (self.thresholds is None):
            raise ValueError("give exactly one of `labels` (label → grade) and `thresholds` (numeric labels)")
        top = DEFAULT_SCALE.max_grade
        if self.labels is not None:
            if not self.labels:
                raise ValueError("`labels` is empty")
            bad = {k: g for k, g in self.labels.items() if not 0 <= g <= top}
            if bad:
                raise ValueError(f"grades must lie in 0..{top}; got {bad}")
        if self.thresholds is not None:
            t = self.thresholds
            if not t or len(t) > top or any(b <= a for a, b in zip(t, t[1:], strict=False)):
                raise ValueError(f"`thresholds` must be 1..{top} strictly increasing numbers; got {t}")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"`range` must be [low, high]; got {list(self.range)}")
        if self.sep is not None and len(self.sep) != 1:
            raise ValueError(f"`sep` must be one character; got {self.sep!r}")
        return self


def _label_key(k: Any) -> str:
    if isinstance(k, bool):
        return str(k).lower()
    if isinstance(k, float) and k.is_integer():
        return str(int(k))
    return str(k).strip()


def parse_mapping(raw: dict | CsvMapping, source: str = "mapping") -> CsvMapping:
    """Validate a mapping dict; a :class:`DataError` naming ``source`` and each problem."""
    if isinstance(raw, CsvMapping):
        return raw
    if not isinstance(raw, dict):
        raise DataError(f"{source}: a mapping must be a YAML map with a `columns` section")
    try:
        return CsvMapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise DataError(f"{source}: invalid mapping: {problems}") from None


class LabelRule:
    """Label text → grade, by table (exact, then case-insensitive, then as a number) or thresholds."""

    def __init__(self, m: CsvMapping) -> None:
        self.table = m.labels
        self.lower = {k.lower(): g for k, g in (m.labels or {}).items()}
        self.thresholds = m.thresholds
        self.range = m.range

    def __call__(self, label: str, field_name: str) -> tuple[int, float | None]:
        if self.table is not None:
            if label in self.table:
                return self.table[label], None
            if label.lower() in self.lower:
                return self.lower[label.lower()], None
            try:
                num = float(label)
                key = _label_key(num)
            except ValueError:
                key = None
            if key is not None and key in self.table:
                return self.table[key], None
            raise RowReject(field_name, Reason.UNKNOWN_LABEL, label)
        value = parse_float(label, field_name)
        if self.range is not None and not self.range[0] <= value <= self.range[1]:
            raise RowReject(field_name, Reason.OUT_OF_RANGE, label)
        assert self.thresholds is not None
        return sum(value >= t for t in self.thresholds), value


def load_csv(path: str | Path, builder: Builder, rejects: Rejects, mapping: dict | CsvMapping) -> None:
    """Read one mapped CSV/TSV/Parquet file into ``builder``."""
    m = parse_mapping(mapping)
    cm = m.columns
    table = read_table_file(path, rejects, sep=m.sep, encoding=m.encoding)
    required = {"query": cm.query, "product_id": cm.product_id, "label": cm.label}
    optional = {
        k: v
        for k, v in {
            "query_id": cm.query_id,
            "title": cm.title,
            "brand": cm.brand,
            "category": cm.category,
            "description": cm.description,
            "price": cm.price,
            "rater_count": cm.rater_count,
        }.items()
        if v
    }
    attrs = cm.attribute_map()
    wanted = list(dict.fromkeys([*required.values(), *optional.values(), *attrs.values()]))
    pos = table.require(wanted, "the mapping")
    # handler-side names: the canonical field (or "attr:<name>") → position of its column
    cols = {k: pos[v] for k, v in {**required, **optional}.items()}
    cols |= {f"attr:{name}": pos[col] for name, col in attrs.items()}
    rule = LabelRule(m)
    names = {**required, **optional, **{f"attr:{k}": v for k, v in attrs.items()}}

    def get(c: Cells, key: str, required: bool = False) -> str:
        try:
            return c.get(key, required)
        except RowReject as exc:  # report the user's column name, not our canonical one
            exc.field = names.get(exc.field, exc.field)
            raise

    def handle(c: Cells, _row: int) -> None:
        query = get(c, "query", True)
        pid = get(c, "product_id", True)
        label = get(c, "label", True)
        grade, raw = rule(label, cm.label)
        title = get(c, "title", True) if cm.title else None
        qid = get(c, "query_id") or query_id_for(query)
        price_text = get(c, "price")
        price = parse_float(price_text, cm.price or "price", allow_currency=True) if price_text else None
        count_text = get(c, "rater_count")
        raters = None
        if count_text:
            n = parse_float(count_text, cm.rater_count or "rater_count")
            if not n.is_integer() or n < 0 or n > 2**31 - 1:
                raise RowReject(cm.rater_count or "rater_count", Reason.BAD_NUMBER, count_text)
            raters = int(n)
        category = get(c, "category")
        if category and m.category_sep:
            category = " > ".join(p.strip() for p in category.split(m.category_sep) if p.strip())
        attributes = {k: v for k in attrs if (v := get(c, f"attr:{k}"))}
        fields = {
            "title": title,
            "brand": get(c, "brand") or None,
            "category": category or None,
            "attributes": attributes,
            "description": get(c, "description") or None,
            "price": price,
        }
        builder.check_pair(qid, pid, cm.product_id, label=label)
        builder.add_query(qid, query)
        builder.add_product(pid, **fields)
        builder.add_judgment(qid, pid, grade, label, raw_score=raw, rater_count=raters)

    run_rows(table, builder, cols, handle, f"import {Path(path).name}")

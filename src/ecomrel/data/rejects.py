"""Rows that cannot be used are never dropped silently: they go to ``rejects.parquet``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ecomrel.data.schema import REJECTS_SCHEMA, write_table

MAX_VALUE_CHARS = 200


@dataclass
class Rejects:
    """Collects rejected rows with the file, the 1-based data row number, the field and the reason."""

    records: list[dict] = field(default_factory=list)

    def add(self, file: str | Path, row: int, field_name: str, reason: str, value: object = None) -> None:
        text = None if value is None else str(value)[:MAX_VALUE_CHARS]
        self.records.append(
            {"file": str(file), "row": int(row), "field": field_name, "reason": reason, "value": text}
        )

    def __len__(self) -> int:
        return len(self.records)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=REJECTS_SCHEMA.names)

    def save(self, path: str | Path) -> Path:
        return write_table(self.frame(), path, REJECTS_SCHEMA)

    def summary(self) -> dict[str, int]:
        """Count of rejects per reason, for the printed import report."""
        return self.frame()["reason"].value_counts().to_dict() if self.records else {}

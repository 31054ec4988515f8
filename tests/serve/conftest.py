"""Serve fixtures: a tiny random BERT cross-encoder student, saved and exported to ONNX once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory, tiny_bert_base) -> Path:
    """A distill-style folder: ``model/`` (torch, safetensors) and ``onnx/`` (fp32 + int8)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("onnxruntime")
    from ecomrel.export.onnx import export_onnx
    from ecomrel.student.model import make_student
    from ecomrel.student.recipe import StudentRecipe

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny_student")
    base = tiny_bert_base(root / "base", seed=1)
    recipe = StudentRecipe(max_length=64)
    model = make_student(str(base), recipe, device="cpu")
    with torch.no_grad():  # a larger head so probabilities differ visibly between pairs
        head = [p for n, p in model.named_parameters() if "classifier" in n and n.endswith("weight")][0]
        head.mul_(40.0)
    model.save_pretrained(str(root / "model"))
    recipe.save(root / "model")
    export_onnx(root / "model", root / "onnx")
    return root

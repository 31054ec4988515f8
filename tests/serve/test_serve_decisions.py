"""The service applies a model's decisions.json: grade by its cut points, calibrated source-scale score."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from ecomrel.decisions import Decisions  # noqa: E402
from ecomrel.serve.app import create_app  # noqa: E402
from ecomrel.serve.settings import ServeSettings  # noqa: E402

PRODUCTS = [
    {"product_id": "a", "title": "Lodge 12 in Cast Iron Skillet", "brand": "Lodge"},
    {"product_id": "b", "title": "Silicone skillet handle cover"},
    {"product_id": "c", "title": "Garden hose 50 ft"},
    {"product_id": "d", "title": "T-fal nonstick frying pan 12 in", "brand": "T-fal"},
]
DECISIONS = Decisions(
    cuts=[0.9, 1.4, 2.1],
    calibration={"target": "raw_score", "x": [0.0, 1.5, 3.0], "y": [1.0, 2.2, 3.0], "range": [1.0, 3.0]},
)


@pytest.mark.parametrize("backend", ["onnx-fp32", "torch"])
def test_grade_tier_and_calibrated_score_from_decisions(tiny_student, tmp_path, backend):
    root = tmp_path / "student"
    shutil.copytree(tiny_student, root)
    DECISIONS.save((root / "onnx") if backend.startswith("onnx") else (root / "model"))
    app = create_app(ServeSettings(model=root, backend=backend))
    pairs = [{"query": "cast iron skillet", "product": p} for p in PRODUCTS]
    with TestClient(app) as client:
        body = client.post("/v1/relevance", json={"pairs": pairs}).json()
        ranked = client.post("/v1/rank", json={"query": "cast iron skillet", "candidates": PRODUCTS}).json()
    for res in body["results"]:
        e = res["expected_grade"]
        assert res["grade"] == int(DECISIONS.grade(np.array([e]))[0])
        assert res["calibrated_score"] == pytest.approx(
            float(np.interp(e, [0, 1.5, 3], [1, 2.2, 3])), abs=1e-5
        )
        assert res["tier"] in {"Good", "Mid", "Bad"}
    assert all(r["calibrated_score"] is not None for r in ranked["results"])


def test_without_decisions_grade_is_argmax_and_no_calibrated_score(tiny_student, tmp_path):
    root = tmp_path / "student"
    shutil.copytree(tiny_student, root)
    with TestClient(create_app(ServeSettings(model=root, backend="onnx-fp32"))) as client:
        body = client.post(
            "/v1/relevance", json={"pairs": [{"query": "skillet", "product": PRODUCTS[0]}]}
        ).json()
    res = body["results"][0]
    assert res["grade"] == int(np.argmax(res["probabilities"])) and res["calibrated_score"] is None

"""In-process (TestClient) tests of the relevance service: results, validation, auth, metrics, backends."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from fastapi.testclient import TestClient  # noqa: E402

from ecomrel.errors import UserError  # noqa: E402
from ecomrel.serve.app import create_app, serve_check  # noqa: E402
from ecomrel.serve.backends import Backend, Tiering, available_backends, load_backend  # noqa: E402
from ecomrel.serve.batching import MicroBatcher, NotAccepting  # noqa: E402
from ecomrel.serve.settings import ServeSettings  # noqa: E402

PRODUCTS = [
    {
        "product_id": "a",
        "title": "Lodge 12 in Cast Iron Skillet",
        "brand": "Lodge",
        "category": "Home > Kitchen",
        "attributes": {"size": "12 in"},
        "price": 29.99,
    },
    {"product_id": "b", "title": "Silicone skillet handle cover", "brand": "Lodge"},
    {"product_id": "c", "title": "Garden hose 50 ft"},
    {"product_id": "d", "title": "T-fal nonstick frying pan 12 in", "brand": "T-fal"},
]


@pytest.fixture(scope="module")
def client(tiny_student):
    app = create_app(ServeSettings(model=tiny_student, max_candidates=20, max_pairs=8, max_query_chars=64))
    with TestClient(app) as c:
        yield c


def test_health_ready_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok", "backend": None, "detail": None}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["backend"] == "onnx-int8"
    spec = client.get("/openapi.json").json()
    assert {"/v1/relevance", "/v1/rank", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    cand = spec["components"]["schemas"]["RankRequest"]["properties"]["candidates"]
    assert cand["maxItems"] == 20 and cand["minItems"] == 1


def test_relevance_returns_grade_probabilities_expected_grade_and_tier(client):
    pairs = [{"query": "cast iron skillet", "product": p} for p in PRODUCTS]
    r = client.post("/v1/relevance", json={"pairs": pairs})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["backend"] == "onnx-int8" and len(body["results"]) == 4
    for res, prod in zip(body["results"], PRODUCTS, strict=True):
        p = np.array(res["probabilities"])
        assert len(p) == 4 and p.sum() == pytest.approx(1.0, abs=1e-4)
        assert res["grade"] == int(p.argmax())
        assert res["expected_grade"] == pytest.approx(float(p @ np.arange(4)), abs=1e-4)
        assert res["tier"] in {"Good", "Mid", "Bad"} and res["product_id"] == prod["product_id"]


def test_rank_orders_candidates_by_score(client):
    r = client.post("/v1/rank", json={"query": "12 in skillet", "candidates": PRODUCTS})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    scores = [x["score"] for x in res]
    assert scores == sorted(scores, reverse=True)
    assert sorted(x["index"] for x in res) == [0, 1, 2, 3]
    assert {x["product_id"] for x in res} == {"a", "b", "c", "d"}
    # the ranking agrees with /v1/relevance on the same pairs
    rel = client.post(
        "/v1/relevance", json={"pairs": [{"query": "12 in skillet", "product": p} for p in PRODUCTS]}
    ).json()["results"]
    for x in res:
        assert x["score"] == pytest.approx(rel[x["index"]]["expected_grade"], abs=1e-5)
    top = client.post("/v1/rank", json={"query": "12 in skillet", "candidates": PRODUCTS, "top_k": 2}).json()
    assert [x["index"] for x in top["results"]] == [x["index"] for x in res[:2]]


@pytest.mark.parametrize(
    ("payload", "field", "why"),
    [
        ({"query": "x", "candidates": [{"title": "t"}] * 21}, "body.candidates", "at most 20"),
        ({"query": "x", "candidates": []}, "body.candidates", "at least 1"),
        ({"query": "", "candidates": [{"title": "t"}]}, "body.query", "at least 1"),
        ({"query": "   ", "candidates": [{"title": "t"}]}, "body.query", "pattern"),
        ({"query": "q" * 65, "candidates": [{"title": "t"}]}, "body.query", "at most 64"),
        ({"query": "x", "candidates": [{"title": "t" * 4001}]}, "body.candidates.0.title", "at most 4000"),
        (
            {"query": "x", "candidates": [{"title": "t", "colour": "red"}]},
            "body.candidates.0.colour",
            "not permitted",
        ),
        (
            {"query": "x", "candidates": [{"title": "t", "price": -1}]},
            "body.candidates.0.price",
            "greater than",
        ),
        ({"query": "x", "candidates": [{"title": "t"}], "top_k": 0}, "body.top_k", "greater than"),
        ({"candidates": [{"title": "t"}]}, "body.query", "required"),
    ],
)
def test_rank_validation_422_names_the_field(client, payload, field, why):
    r = client.post("/v1/rank", json=payload)
    assert r.status_code == 422
    body = r.json()
    assert field in body["message"] and why in body["message"].lower(), body["message"]


def test_relevance_batch_limit_and_lone_surrogates_are_replaced(client):
    pairs = [{"query": "x", "product": {"title": "t"}}] * 9
    r = client.post("/v1/relevance", json={"pairs": pairs})
    assert r.status_code == 422 and "body.pairs" in r.json()["message"] and "at most 8" in r.json()["message"]
    # a lone surrogate is valid JSON (so valid per the schema) but no tokenizer encodes it: U+FFFD
    raw = '{"query": "\\ud800 skillet", "candidates": [{"title": "pan \\udfff"}]}'
    r = client.post("/v1/rank", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    r = client.post("/v1/rank", content="{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_metrics_are_prometheus_text(client):
    client.post("/v1/rank", json={"query": "skillet", "candidates": PRODUCTS[:2]})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'ecomrel_requests_total{endpoint="/v1/rank",status="200"}' in text
    assert "ecomrel_pairs_scored_total" in text and "ecomrel_batch_pairs_bucket" in text
    assert 'ecomrel_model_info{backend="onnx-int8"' in text
    assert 'ecomrel_request_seconds_count{endpoint="/v1/rank"}' in text


def test_api_key_guards_everything_but_health(tiny_student, monkeypatch):
    monkeypatch.setenv("ECOMREL_TEST_KEY", "s3cret")
    app = create_app(ServeSettings(model=tiny_student, api_key_env="ECOMREL_TEST_KEY"))
    body = {"query": "skillet", "candidates": PRODUCTS[:1]}
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        for method, path in [
            ("post", "/v1/rank"),
            ("post", "/v1/relevance"),
            ("get", "/metrics"),
            ("get", "/openapi.json"),
            ("get", "/docs"),
        ]:
            assert getattr(c, method)(path).status_code == 401, path
        assert c.post("/v1/rank", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.post("/v1/rank", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/metrics", headers={"X-API-Key": "s3cret"}).status_code == 200
    monkeypatch.delenv("ECOMREL_TEST_KEY")
    with pytest.raises(UserError, match="ECOMREL_TEST_KEY"):
        create_app(ServeSettings(model=tiny_student, api_key_env="ECOMREL_TEST_KEY"))


# --- backends, tiers, batching -----------------------------------------------------------------------


def test_registry_and_backends_agree(tiny_student):
    names = available_backends()
    assert {"onnx-int8", "onnx-fp32", "torch"} <= set(names)
    with pytest.raises(UserError, match="unknown backend"):
        load_backend("nope", tiny_student)
    qs = ["cast iron skillet"] * len(PRODUCTS)
    torch_p = load_backend("torch", tiny_student).predict_proba(qs, PRODUCTS)
    fp32_p = load_backend("onnx-fp32", tiny_student).predict_proba(qs, PRODUCTS)
    int8_p = load_backend("onnx-int8", tiny_student / "onnx").predict_proba(qs, PRODUCTS)
    assert np.abs(torch_p - fp32_p).max() < 1e-4
    assert np.abs(fp32_p - int8_p).max() < 0.1


def test_llm_backend_adapter_contract(monkeypatch):
    pytest.importorskip("ecomrel.llm.scorer")
    import pandas as pd

    from ecomrel.serve.backends import LLMBackend

    seen = {}

    def fake_score_pairs(model, tokenizer, pairs_df, batch_size=16, **kw):
        seen["cols"] = set(pairs_df.columns)
        seen["template"] = kw.get("template")
        p = np.tile([0.1, 0.2, 0.3, 0.4], (len(pairs_df), 1))
        return pd.DataFrame(p, columns=[f"p_{k}" for k in range(4)], index=pairs_df.index)

    be = LLMBackend.__new__(LLMBackend)
    be._score_pairs, be.model, be.tokenizer, be.batch_size, be.name = fake_score_pairs, None, None, 2, "llm"
    be.grade_names = ["irrelevant", "complement", "substitute", "exact"]
    be.template = "judge_title"  # the prompt the judge was trained with is the one it is served with
    out = be.predict_proba(["q1", "q2"], PRODUCTS[:2])
    assert out.shape == (2, 4) and np.allclose(out[:, 3], 0.4)
    assert {"query", "title", "brand", "query_id", "product_id"} <= seen["cols"]
    assert seen["template"] == "judge_title"


def test_tiering_fallback_and_cumpt_file(tmp_path):
    probs = np.array([[0.1, 0.1, 0.3, 0.5], [0.2, 0.5, 0.2, 0.1], [0.7, 0.2, 0.05, 0.05]])
    assert Tiering.for_model(tmp_path)(probs) == ["Good", "Mid", "Bad"]
    pytest.importorskip("ecomrel.llm.cumpt")
    from ecomrel.llm.cumpt import CumPT

    CumPT(thresholds={"Good": 0.9, "Mid": 0.2}).save(tmp_path)
    assert Tiering.for_model(tmp_path)(probs) == ["Mid", "Mid", "Mid"]


def test_microbatcher_groups_concurrent_requests_and_drains_on_stop():
    calls: list[int] = []

    def score(queries, products):
        calls.append(len(queries))
        time.sleep(0.02)
        return np.array([[float(q), 0, 0, 0] for q in queries])

    async def main():
        b = MicroBatcher(score, max_batch=8, max_wait_ms=20)
        await b.start()
        jobs = [b.submit([str(i)] * 3, [{}] * 3) for i in range(10)]
        results = await asyncio.gather(*jobs)
        for i, r in enumerate(results):
            assert r.shape == (3, 4) and (r[:, 0] == i).all()
        late = [asyncio.create_task(b.submit([str(i)], [{}])) for i in range(5)]
        await asyncio.sleep(0)
        await b.stop(timeout=5)
        assert all(t.done() and t.result().shape == (1, 4) for t in late)
        with pytest.raises(NotAccepting):
            await b.submit(["x"], [{}])

    asyncio.run(main())
    assert max(calls) <= 8 and len(calls) < 10 + 5  # concurrent requests shared model calls


def test_model_errors_reach_every_waiting_request():
    def score(queries, products):
        raise RuntimeError("boom")

    async def main():
        b = MicroBatcher(score, max_batch=8, max_wait_ms=5)
        await b.start()
        res = await asyncio.gather(b.submit(["a"], [{}]), b.submit(["b"], [{}]), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in res)
        assert (await asyncio.gather(b.submit(["c"], [{}]), return_exceptions=True))[0].args == ("boom",)
        await b.stop()

    asyncio.run(main())


class _Slow(Backend):
    name = "slow"

    def predict_proba(self, queries, products):
        time.sleep(0.05)
        return np.tile([0.25, 0.25, 0.25, 0.25], (len(queries), 1))


def test_injected_backend_and_serve_check(tiny_student):
    app = create_app(ServeSettings(), backend=_Slow())
    with TestClient(app) as c:
        r = c.post("/v1/rank", json={"query": "q", "candidates": PRODUCTS})
        assert r.status_code == 200 and [x["index"] for x in r.json()["results"]] == [0, 1, 2, 3]
    out = serve_check(tiny_student, n_candidates=50, repeats=2)
    assert out["status"] == 200 and out["readyz"] == 200 and out["n_candidates"] == 50
    assert out["backend"] == "onnx-int8" and out["metrics_ok"] and out["latency_ms_median"] > 0
    json.dumps(out)

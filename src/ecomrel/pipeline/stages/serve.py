"""Stage ``serve``: start the HTTP service on the exported student (``model: student``, the backend
``auto`` picks from the export's measured variants) or on the LLM judge itself (``model: llm``:
the last trained adapter of grpo/dpo/sft, TaoSR1's serving path) and check it answers correctly.

The check posts real test queries with their judged candidates to ``/v1/rank`` of an in-process
app; it fails the stage when any request is not 200 or ``/readyz`` or ``/metrics`` is not 200. It
reports latency, the served NDCG@10 of those queries and the share of queries whose served top 3
equals the offline model's (the torch student's scores, or that judge's test scores; int8 may
reorder near-ties).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ecomrel.data.schema import Dataset
from ecomrel.errors import ConfigError
from ecomrel.pipeline.registry import StageContext, StageOptions, console, stage


class ServeOptions(StageOptions):
    backend: Literal["auto", "onnx-int8", "onnx-int8-plain", "onnx-fp32", "openvino", "openvino-int8"] = (
        Field(
            "auto",
            description="Serving backend checked; auto = the fastest variant the export stage measured that "
            "passes the fidelity bars (as `ecomrel serve --backend auto`).",
        )
    )
    batch: int = Field(32, ge=1, description="The service's micro-batch size (auto picks for it).")
    model: Literal["student", "llm"] = Field(
        "student",
        description="What is served: the exported student, or the LLM judge itself (TaoSR1 §3.8: the "
        "last trained adapter of grpo, dpo, sft, scored with its training template; the queries are "
        "those that judge scored offline).",
    )
    queries: int = Field(5, ge=1, le=100, description="Test queries posted to /v1/rank.")
    repeats: int = Field(3, ge=1, le=20, description="Requests per query (latency median over all).")


class ServeCheckFailed(RuntimeError):
    """The service on the exported student did not answer as the offline student does."""


def _candidates(products: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for p in products.to_dict("records"):
        attrs = p.get("attributes")
        out.append(
            {
                "product_id": str(p["product_id"]),
                "title": str(p.get("title") or ""),
                "brand": p.get("brand") if isinstance(p.get("brand"), str) else None,
                "category": p.get("category") if isinstance(p.get("category"), str) else None,
                "attributes": dict(attrs) if attrs is not None and len(attrs) else None,
                "price": float(p["price"]) if pd.notna(p.get("price")) else None,
            }
        )
    return out


def _llm_backend(ctx: StageContext):
    """(the llm backend on the run's last trained judge, its row name, its offline test scores)."""
    from ecomrel.pipeline.stages.common import judge_options, sft_template
    from ecomrel.serve.backends import load_backend

    for name in ("grpo", "dpo", "sft"):
        adapter = ctx.path_of(name, "model", "adapter")
        scores = ctx.path_of(name, "judge_test", "scores.parquet")
        if adapter.is_dir() and scores.is_file():
            break
    else:
        raise ConfigError(
            "options.serve.model=llm: no trained judge with test scores (run sft, dpo or grpo first)"
        )
    model = judge_options(ctx).get("model", "smollm2")
    backend = load_backend("llm", model, adapter=adapter, template=sft_template(ctx))
    return backend, f"llm_{name}", scores


@stage(
    "serve",
    options=ServeOptions,
    reads=("data", "export", "sft", "dpo", "grpo"),
    summary="Serving check: the service on the exported student or the LLM judge answers test queries",
)
def serve_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    from fastapi.testclient import TestClient

    from ecomrel.eval.ranking import ndcg_at_k
    from ecomrel.serve.app import create_app
    from ecomrel.serve.backends import load_backend
    from ecomrel.serve.settings import ServeSettings

    opts: ServeOptions = ctx.options
    ds = Dataset.load(ctx.data_dir)
    test_q = set(ds.splits.loc[ds.splits["split"] == "test", "query_id"].astype(str))
    judged = ds.judgments[ds.judgments["query_id"].astype(str).isin(test_q)]
    texts = ds.queries.set_index(ds.queries["query_id"].astype(str))["text"]
    products = ds.products.set_index(ds.products["product_id"].astype(str), drop=False)
    if opts.model == "llm":
        backend, served_as, offline_path = _llm_backend(ctx)
    else:
        folder = ctx.path_of("export", "onnx")
        backend = load_backend(opts.backend, folder, max_batch=opts.batch)
        choice = getattr(backend, "choice", None) or {}
        served_as = choice.get("variant") or choice.get("backend") or opts.backend
        if choice:
            console.print(f"serve: auto chose {served_as}: {choice.get('reason')}")
        offline_path = ctx.path_of("distill", "student_scores.parquet")
    offline = pd.read_parquet(offline_path)
    offline = offline.set_index([offline["query_id"].astype(str), offline["product_id"].astype(str)])["score"]
    # the first test queries the offline model scored (the student scores every pair, a judge a subset)
    qids = sorted(test_q & set(offline.index.get_level_values(0)))[: opts.queries]
    served_from = backend.model_dir if isinstance(backend.model_dir, Path) else None
    app = create_app(ServeSettings(model=served_from, max_batch=opts.batch), backend=backend)
    times, ids, scores, gains, agree = [], [], [], [], []
    with TestClient(app) as client:
        if client.get("/readyz").status_code != 200:
            raise ServeCheckFailed("/readyz is not 200 after start-up")
        for qid in qids:
            rows = judged[judged["query_id"].astype(str) == qid]
            rows = rows[[(qid, p) in offline.index for p in rows["product_id"].astype(str)]]  # scored
            pids = rows["product_id"].astype(str).tolist()
            body = {"query": str(texts[qid]), "candidates": _candidates(products.loc[pids])}
            for _ in range(opts.repeats):
                t0 = time.perf_counter()
                resp = client.post("/v1/rank", json=body)
                times.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != 200:
                    raise ServeCheckFailed(
                        f"/v1/rank returned {resp.status_code} for query {qid}: {resp.text[:200]}"
                    )
            served = resp.json()["results"]
            grade = dict(zip(pids, rows["grade"].astype(float), strict=True))
            served_order = [r["product_id"] for r in served]
            offline_order = sorted(pids, key=lambda p: (-offline[(qid, p)], p))
            agree.append(float(served_order[:3] == offline_order[:3]))
            for r in served:
                ids.append(qid)
                scores.append(r["score"])
                gains.append(grade[r["product_id"]])
        if client.get("/metrics").status_code != 200:
            raise ServeCheckFailed("/metrics is not 200")
    row = {
        "queries": len(qids),
        "top3_same_as_offline": float(np.mean(agree)) if agree else 0.0,
        "ndcg@10": ndcg_at_k(np.array(ids), np.array(scores), np.array(gains), k=10),
        "latency_ms_median": float(np.median(times)) if times else 0.0,
    }
    console.print(f"serve: {served_as} on {len(qids)} test queries: {row}")
    return {f"serve:{served_as}": row}

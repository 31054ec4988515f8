"""The Ray Data path runs the same batch function on a real local Ray instance (CPU, tiny model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="ray[data] is not installed (pip install 'ecomrel[ray]')")
pytest.importorskip("ray.data")

P = [f"p_{g}" for g in range(4)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_judge_matches_local(local_ray, tiny_model, tiny_tokenizer, tiny_model_dir, tmp_path, make_pairs):
    from ecomrel.data.schema import Dataset
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig
    from ecomrel.llm.scorer import score_pairs

    pairs = make_pairs(n_queries=3, per_query=5)
    local = score_pairs(tiny_model, tiny_tokenizer, pairs, share_prefix=True)
    # the judge stage on the Ray backend (Ray batches of 4 rows cut across queries of 5 products)
    products = pairs[["product_id", "title", "brand", "category", "attributes", "description", "price"]]
    queries = pairs[["query_id", "query"]].drop_duplicates("query_id").rename(columns={"query": "text"})
    Dataset(products, queries, pairs[["query_id", "product_id", "grade"]]).save(tmp_path / "data")
    result = run_judge(
        JudgeConfig(
            model=str(tiny_model_dir),
            data=tmp_path / "data",
            out=tmp_path / "out",
            backend="ray",
            chunk_size=4,
            batch_size=1,
            threads=1,
        )
    )
    scores = pd.read_parquet(result["scores"]).set_index("product_id").loc[pairs["product_id"]]
    assert np.abs(scores[P].to_numpy() - local[P].to_numpy()).max() < 1e-4

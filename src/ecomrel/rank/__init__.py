"""Ranking with LLM labels (Walmart, arXiv 2409.17460).

- :mod:`~ecomrel.rank.labels`: content label σ(α(s−β)) of the judge's expected grade, blend rules;
- :mod:`~ecomrel.rank.engagement`: Bayesian-average click / add-to-cart / order rates;
- :mod:`~ecomrel.rank.features`: BM25, TF-IDF, judge, student, engagement, price, category features;
- :mod:`~ecomrel.rank.ranker`: LightGBM lambdarank (XGBoost ``rank:ndcg``, Dask) with safe query groups;
- :mod:`~ecomrel.rank.tradeoff`: content NDCG@k vs engagement@k across label variants;
- :mod:`~ecomrel.rank.rank_config`: the pydantic configuration of all of the above.

Submodules are imported lazily so that ``import ecomrel.rank`` stays light.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "RankConfig": "ecomrel.rank.rank_config",
    "run_features": "ecomrel.rank.features",
    "build_features": "ecomrel.rank.features",
    "make_labels": "ecomrel.rank.labels",
    "transform_content": "ecomrel.rank.labels",
    "train_ranker": "ecomrel.rank.ranker",
    "train_ranker_dask": "ecomrel.rank.ranker",
    "train_from_folders": "ecomrel.rank.ranker",
    "predict_to_file": "ecomrel.rank.ranker",
    "RankerModel": "ecomrel.rank.ranker",
    "run_tradeoff": "ecomrel.rank.tradeoff",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ecomrel.rank' has no attribute {name!r}")

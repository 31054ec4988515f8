"""Fixtures of the selection tests: a small sample catalogue, and a fast selection config on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("ECOMREL_THREADS", "1")


@pytest.fixture(scope="session")
def select_sample(tmp_path_factory) -> Path:
    """A sample catalogue of 40 queries with splits (known 10 % noise, ``true_grade`` kept)."""
    from ecomrel.data.sample import generate_sample
    from ecomrel.data.splits import split_by_query

    out = tmp_path_factory.mktemp("select_sample")
    ds = generate_sample(n_products=300, n_queries=40, seed=0, noise=0.1)
    ds.splits = split_by_query(ds.queries, seed=0)
    ds.save(out)
    return out


def fast_settings(**extra) -> dict:
    """A linear-helper selection: seconds per fold."""
    base = {"scorer": {"kind": "linear", "linear_features": 4096}, "folds": 3, "split": None}
    base.update(extra)
    return base

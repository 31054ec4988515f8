"""Shared, session-scoped fixtures: one small sample catalogue, real-data paths, quiet progress."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(
    os.environ.get("ECOMREL_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder beside the checkout; tests that need it skip cleanly without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set ECOMREL_SHARED_DATA)")
    return SHARED_DATA.resolve()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A small built-in sample catalogue (with splits), generated once per test session."""
    from ecomrel.data.sample import generate_sample
    from ecomrel.data.splits import split_by_query

    out = tmp_path_factory.mktemp("sample")
    ds = generate_sample(n_products=400, n_queries=80, seed=0, noise=0.1)
    ds.splits = split_by_query(ds.queries, seed=0)
    ds.save(out)
    return out

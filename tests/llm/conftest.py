"""A tiny random Llama and a tiny BPE tokenizer with a ChatML template, built in-process once per session
(by the shared builders of ``tests/conftest.py``), and hand-built pairs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

# what this suite's tiny model differs in: its corpus, a larger vocabulary, scaled-up weights
_CORPUS = [
    "You are a search relevance judge for an online shop. Grade how well the product matches the query.",
    "Grades: 0 = irrelevant, 1 = complement, 2 = substitute, 3 = exact. Reply with the grade digit first.",
    "no useful relation to the query; related but not what was asked: an accessory, complement",
    "the main product matches but an attribute or modifier differs; a reasonable substitute",
    "the product satisfies every stated part of the query",
    "Query: cordless drill 20v Product: Title: DEWALT cordless drill driver kit Brand: DEWALT",
    "Category: Tools > Power Tools > Drills Attributes: voltage: 20 V; color: yellow Price: 99.00",
    "Description: a compact drill with two batteries, charger and bag. white paint gallon interior",
    "red running shoes size 10 leather sofa grey outdoor lamp solar light kitchen faucet chrome",
    "reason: the brand and the product word match; the voltage differs; it is an accessory.",
]
_VOCAB_SIZE = 1200
_MAX_POSITIONS = 1024
# random init is near-uniform; larger weights give distinct, non-trivial grade distributions
_WEIGHT_SCALE = 8.0


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_llm_builders):
    return tiny_llm_builders.tokenizer(_CORPUS, _VOCAB_SIZE)


@pytest.fixture(scope="session")
def tiny_model_factory(tiny_llm_builders, tiny_tokenizer):
    """Factory of fresh tiny models (for tests that wrap or change one)."""
    return lambda seed=0: tiny_llm_builders.model(
        tiny_tokenizer, seed=seed, weight_scale=_WEIGHT_SCALE, max_position_embeddings=_MAX_POSITIONS
    )


@pytest.fixture(scope="session")
def tiny_model(tiny_model_factory):
    torch.set_num_threads(1)
    return tiny_model_factory()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model, tiny_tokenizer) -> Path:
    """The tiny model and tokenizer saved as a local model folder (safetensors)."""
    out = tmp_path_factory.mktemp("tiny_llm")
    tiny_model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


def _make_pairs(n_queries: int = 4, per_query: int = 5) -> pd.DataFrame:
    """A hand-built pairs frame: several products per query, every product field, some missing."""
    queries = ["cordless drill 20v", "white paint gallon", "red running shoes size 10", "outdoor solar lamp"]
    titles = [
        "DEWALT 20V cordless drill driver kit",
        "interior white paint 1 gallon",
        "running shoes red leather size 10",
        "solar outdoor lamp light",
        "kitchen faucet chrome",
        "grey sofa",
        "drill bag with charger",
    ]
    rows = []
    for qi in range(n_queries):
        for j in range(per_query):
            k = (qi + j) % len(titles)
            rows.append(
                {
                    "query_id": f"q{qi}",
                    "product_id": f"p{qi}_{j}",
                    "query": queries[qi % len(queries)],
                    "title": titles[k],
                    "brand": "DEWALT" if j % 2 == 0 else None,
                    "category": "Tools > Power Tools" if j % 3 else "Home > Lighting",
                    "attributes": {"color": "red", "size": "10"} if j % 2 else {},
                    "description": "a compact product with a charger " * (j + 1),
                    "price": float(10 * j + 5) if j != 1 else float("nan"),
                    "grade": (qi + j) % 4,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def make_pairs():
    """Factory of hand-built pairs frames (tests import nothing from conftest: importlib mode)."""
    return _make_pairs

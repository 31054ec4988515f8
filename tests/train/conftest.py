"""SFT fixtures: a tiny random Llama + tiny BPE tokenizer (ChatML template, the shared builders of
``tests/conftest.py``) saved as a model folder, a hand-built data folder, and hand-built EE/RA chains.
Built in-process; nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

os.environ.setdefault("ECOMREL_THREADS", "1")

_SFT_CORPUS = [
    "You are a search relevance judge for an online shop. Grade how well the product matches the query.",
    "Grades: 0 = irrelevant, 1 = complement, 2 = substitute, 3 = exact. Reply with the grade digit first.",
    "Query: cordless drill 20v Product: Title: DEWALT cordless drill driver kit Brand: DEWALT",
    "Category: Tools > Power Tools > Drills Attributes: color: yellow Price: 99.00",
    "red running shoes size 10 white paint gallon solar lamp drill bag",
    "Product word: drill matches. Brand: DEWALT matches. Rules fired: product word mismatch.",
    "A previous decision was 3 (exact); it overlooked the brand. The correct grade is",
]

# what this suite's tiny model differs in: its corpus, a small vocabulary, long positions, plain init
_SFT_VOCAB_SIZE = 360
_SFT_MAX_POSITIONS = 4096

_QUERIES = ["cordless drill 20v", "white paint gallon", "red running shoes", "outdoor solar lamp"]
_TITLES = [
    "DEWALT 20V cordless drill driver kit",
    "interior white paint 1 gallon",
    "running shoes red size 10",
    "solar outdoor lamp light",
    "drill bag with charger",
    "grey sofa",
]


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory, tiny_llm_builders) -> Path:
    """A tiny random Llama + tokenizer saved as a local model folder (safetensors)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sft_tiny_llm")
    tok = tiny_llm_builders.tokenizer(_SFT_CORPUS, vocab_size=_SFT_VOCAB_SIZE)
    tiny_llm_builders.model(tok, max_position_embeddings=_SFT_MAX_POSITIONS).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def make_sft_dataset(n_queries: int = 4, per_query: int = 4):
    """A hand-built ecomrel Dataset: every query has products of several grades; 3 train, 1 dev query."""
    from ecomrel.data.schema import Dataset

    products, judgments, queries, splits = [], [], [], []
    for qi in range(n_queries):
        qid = f"q{qi}"
        queries.append(
            {"query_id": qid, "text": _QUERIES[qi % len(_QUERIES)], "frequency": 10, "kind": "bare"}
        )
        splits.append({"query_id": qid, "split": "dev" if qi == n_queries - 1 else "train"})
        for j in range(per_query):
            pid = f"p{qi}_{j}"
            products.append(
                {
                    "product_id": pid,
                    "title": _TITLES[(qi + j) % len(_TITLES)],
                    "brand": "DEWALT" if j % 2 == 0 else None,
                    "category": "Tools > Power Tools",
                    "attributes": {"color": "red"} if j % 2 else {},
                    "description": "a compact product",
                    "price": float(10 * j + 5),
                }
            )
            grade = (qi + j) % 4
            judgments.append(
                {
                    "query_id": qid,
                    "product_id": pid,
                    "grade": grade,
                    "source_label": str(grade),
                    "raw_score": None,
                    "rater_count": 1,
                    "true_grade": grade,
                }
            )
    return Dataset(
        products=pd.DataFrame(products),
        queries=pd.DataFrame(queries),
        judgments=pd.DataFrame(judgments),
        splits=pd.DataFrame(splits),
    )


@pytest.fixture(scope="session")
def sft_data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sft_data")
    make_sft_dataset().save(out)
    return out


def make_chains(pairs: pd.DataFrame, kinds=("ee", "ra")) -> pd.DataFrame:
    """Hand-built EE/RA chains in the chain builder's frame layout (label-first targets)."""
    from ecomrel.llm.prompts import completion_text

    rows = []
    for r in pairs.to_dict("records"):
        g = int(r["grade"])
        if "ee" in kinds:
            rows.append(
                {
                    "query_id": r["query_id"],
                    "product_id": r["product_id"],
                    "kind": "ee",
                    "prompt_extra": "",
                    "target": completion_text(g, f"Product word: drill matches. Brand: {r['brand']}."),
                    "gold_grade": g,
                    "implied_grade": g,
                    "status": "ok",
                }
            )
        if "ra" in kinds:
            rows.append(
                {
                    "query_id": r["query_id"],
                    "product_id": r["product_id"],
                    "kind": "ra",
                    "prompt_extra": "Rules:\nR1. product word mismatch => 0",
                    "target": completion_text(g, "Rules fired: none."),
                    "gold_grade": g,
                    "implied_grade": g,
                    "status": "ok",
                }
            )
    # one chain that contradicts the human grade and was dropped by the builder: never trained on
    first = pairs.iloc[0]
    rows.append(
        {
            "query_id": first["query_id"],
            "product_id": first["product_id"],
            "kind": kinds[0],
            "prompt_extra": "",
            "target": completion_text(3, "dropped"),
            "gold_grade": int(first["grade"]),
            "implied_grade": 3,
            "status": "dropped",
        }
    )
    return pd.DataFrame(rows)


@pytest.fixture(name="make_chains")
def make_chains_fixture():
    """The hand-built chain maker, for tests that build chain frames themselves."""
    return make_chains


@pytest.fixture(scope="session")
def sft_chains_file(tmp_path_factory, sft_data_dir) -> Path:
    from ecomrel.data.schema import Dataset

    pairs = Dataset.load(sft_data_dir).pairs("train")
    out = tmp_path_factory.mktemp("sft_chains") / "chains.parquet"
    make_chains(pairs).to_parquet(out, index=False)
    return out

"""A tiny random Llama and a tiny BPE tokenizer with a ChatML template, built in-process once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

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


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _build_model(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    # random init is near-uniform; larger weights give distinct, non-trivial grade distributions
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(8.0)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    torch.set_num_threads(1)
    return _build_model(tiny_tokenizer)


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


@pytest.fixture(scope="session")
def tiny_model_factory(tiny_tokenizer):
    """Factory of fresh tiny models (for tests that wrap or change one)."""
    return lambda seed=0: _build_model(tiny_tokenizer, seed)

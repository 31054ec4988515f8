"""The student in PyTorch, fp32 (the reference every variant is measured against) or bf16 weights.

``torch_bf16/`` holds the sequence-classification model cast to bfloat16 (safetensors, half the
size). bf16 matmuls are fast only where oneDNN finds AVX512-BF16 or AMX; elsewhere they are
emulated and far slower than fp32, which the export's speed figures show and ``serve --backend
auto`` then avoids. Texts are tokenized with the same fast tokenizer as the ONNX and OpenVINO
variants, so every variant sees identical input ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecomrel.export.onnx import MANIFEST, StudentRuntime, StudentTokenizer, input_names_of, resolve_model_dir
from ecomrel.student.recipe import StudentRecipe

BF16_DIR = "torch_bf16"


def export_torch_bf16(model_dir: str | Path, out_dir: str | Path) -> Path:
    """``out_dir/torch_bf16``: the student's weights in bfloat16 (config + model.safetensors)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    src = resolve_model_dir(model_dir)
    out = Path(out_dir) / BF16_DIR
    model = AutoModelForSequenceClassification.from_pretrained(str(src), dtype=torch.float32)
    model.to(torch.bfloat16).save_pretrained(str(out))
    return out


class TorchStudent(StudentRuntime):
    """A sequence-classification student in torch: texts in, grade probabilities out.

    ``weights``: the folder with config.json + model.safetensors (a trained student, or
    ``torch_bf16/``); ``tokenizer_dir``: where tokenizer.json and student.json are (default: ``weights``).
    """

    def __init__(
        self,
        weights: str | Path,
        tokenizer_dir: str | Path | None = None,
        dtype: str = "fp32",
        threads: int = 1,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        if dtype not in ("fp32", "bf16"):
            raise ValueError(f"dtype must be fp32 or bf16, got {dtype!r}")
        self.torch = torch
        torch.set_num_threads(threads)
        self.folder = Path(weights)
        tdir = Path(tokenizer_dir) if tokenizer_dir is not None else self.folder
        self.recipe = StudentRecipe.load(tdir)
        self.dtype = dtype
        torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(self.folder), dtype=torch_dtype
        ).eval()
        if (tdir / MANIFEST).exists():
            names = input_names_of(tdir)
        else:  # a trained student folder: BERT-style inputs, token types where the model has them
            names = ["input_ids", "attention_mask"]
            if getattr(self.model.config, "type_vocab_size", 0):
                names.append("token_type_ids")
        self.input_names = names
        self._tok = StudentTokenizer(tdir, self.recipe, names)

    def logits_from_features(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            out = self.model(**{n: torch.from_numpy(feats[n]) for n in self.input_names}).logits
        return out.float().numpy()

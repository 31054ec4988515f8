"""Knowledge distillation of a grade distribution into a multi-grade CrossEncoder (LREF §3.5).

The LLM judge gives every pair a distribution over the K grades; the student learns it with
KL(teacher ‖ student) over its K logits, so it inherits the judge's uncertainty (a 0.55/0.45
substitute/exact pair is not the same target as a 0.95/0.05 one, although both have the same
argmax). Where a human grade exists, a cross-entropy term on it is added, weighted by config;
pairs the judge scored but no human graded (the widened, unlabeled set) contribute only KL.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NO_GRADE = -1
"""Marker in the packed label for "no human grade"."""


def pack_labels(
    probs: Sequence[Sequence[float]] | None,
    grades: Sequence[int | None],
    num_labels: int,
    human_probs: Sequence[Sequence[float] | None] | None = None,
) -> list:
    """One label vector per pair: ``[p_0 .. p_{K-1}, human_grade]`` (floats).

    A missing teacher distribution is all zeros (its KL term is masked); a missing human grade
    is ``-1`` (its CE term is masked). Packing both into one column is what lets the stock
    CrossEncoderTrainer collate them: it passes a single ``label`` column to the loss.

    With ``human_probs`` (a soft human target per pair, e.g. the rater distribution of
    :mod:`ecomrel.train.losses.rater_targets`) the vector is ``[p_0 .. p_{K-1}, h_0 .. h_{K-1}]``
    (2K values): a row whose ``human_probs`` entry is None falls back to the one-hot of its grade,
    and to all zeros (masked) when it has no grade either.
    """
    out = []
    for i, g in enumerate(grades):
        p = [0.0] * num_labels if probs is None or probs[i] is None else [float(x) for x in probs[i]]
        if len(p) != num_labels:
            raise ValueError(f"row {i}: teacher distribution has {len(p)} values, expected {num_labels}")
        if human_probs is None:
            out.append(p + [float(NO_GRADE if g is None or g < 0 else g)])
            continue
        h = human_probs[i]
        if h is None:
            h = [0.0] * num_labels
            if g is not None and g >= 0:
                h[int(g)] = 1.0
        h = [float(x) for x in h]
        if len(h) != num_labels:
            raise ValueError(f"row {i}: human distribution has {len(h)} values, expected {num_labels}")
        out.append(p + h)
    return out


def soft_label_kl_terms(
    logits: Tensor, labels: Tensor, temperature: float = 1.0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """KL and CE terms of a batch: ``(kl, ce, n_teacher_rows, n_human_rows)``.

    ``kl`` is the mean over rows with a teacher distribution of ``T² · KL(t_T ‖ softmax(z/T))``
    where ``t_T ∝ t^{1/T}`` (temperature-softened teacher; T=1 leaves it unchanged); ``ce`` is the
    mean cross-entropy over rows with a human grade — with the 2K layout of :func:`pack_labels`
    (a soft human target ``h``) the cross-entropy ``−Σ h·log softmax(z)`` over rows whose ``h`` has
    mass (renormalised to sum 1). Each is 0 (with a gradient path) when the
    batch has no such row, so the relative weights never depend on the batch mix.
    """
    k = logits.shape[-1]
    labels = labels.to(logits.device, dtype=torch.float32)
    if labels.shape[-1] not in (k + 1, 2 * k):
        raise ValueError(
            f"labels must have {k + 1} columns (p_0..p_{k - 1}, grade) or {2 * k} "
            f"(p_0..p_{k - 1}, h_0..h_{k - 1}); got {tuple(labels.shape)}"
        )
    target = labels[:, :k]
    target = torch.nan_to_num(target, nan=0.0).clamp_min(0.0)
    mass = target.sum(-1)
    has_teacher = mass > 0
    zero = logits.sum() * 0.0
    soft_human = labels.shape[-1] == 2 * k
    if soft_human:
        human = torch.nan_to_num(labels[:, k:], nan=0.0).clamp_min(0.0)
        h_mass = human.sum(-1)
        has_human = h_mass > 0
    else:
        grade = labels[:, k]
        has_human = grade >= 0

    if has_teacher.any():
        t = target[has_teacher] / mass[has_teacher, None]
        if temperature != 1.0:
            t = t.clamp_min(1e-12) ** (1.0 / temperature)
            t = t / t.sum(-1, keepdim=True)
        log_q = F.log_softmax(logits[has_teacher].float() / temperature, dim=-1)
        # kl_div(input=log q, target=t) = Σ t·(log t − log q); xlogy makes t=0 entries exactly 0.
        kl = F.kl_div(log_q, t, reduction="batchmean") * temperature**2
    else:
        kl = zero
    if not has_human.any():
        ce = zero
    elif soft_human:  # cross-entropy with a probability target: the hard CE when the target is one-hot
        h = human[has_human] / h_mass[has_human, None]
        ce = F.cross_entropy(logits[has_human].float(), h)
    else:
        ce = F.cross_entropy(logits[has_human].float(), grade[has_human].long())
    return kl, ce, has_teacher.sum(), has_human.sum()


class SoftLabelKLLoss(nn.Module):
    def __init__(
        self, model, kl_weight: float = 1.0, ce_weight: float = 0.5, temperature: float = 1.0
    ) -> None:
        """
        Distils a teacher's grade distribution into a CrossEncoder with ``num_labels = K``:
        ``kl_weight · T²·KL(teacher ‖ softmax(logits/T)) + ce_weight · CE(logits, human grade)``.

        Args:
            model: a :class:`sentence_transformers.cross_encoder.CrossEncoder` with ``num_labels = K > 1``.
            kl_weight: weight of the soft-target term (0 gives the human-labels-only baseline).
            ce_weight: weight of the human-grade term (0 gives pure distillation).
            temperature: softening of both distributions (Hinton et al.); 1 keeps the judge's own.

        References:
            - Hinton, Vinyals, Dean: Distilling the Knowledge in a Neural Network (2015).
            - LREF (arXiv 2503.09223): the LLM judge is distilled into a BERT-size online model.

        Requirements:
            1. The model predicts K classes (``CrossEncoder(..., num_labels=K)``).
            2. The label column holds ``[p_0, .., p_{K-1}, grade]`` per pair (see :func:`pack_labels`);
               all-zero p means "no teacher", grade ``-1`` means "no human grade". Or
               ``[p_0, .., p_{K-1}, h_0, .., h_{K-1}]`` with a soft human target ``h`` (all-zero h
               means "no human label"); the CE term is then the soft cross-entropy on ``h``.

        Inputs:
            +------------------------+-------------------------------------+-------------------------------+
            | Inputs                 | Labels                              | Number of Model Output Labels |
            +========================+=====================================+===============================+
            | (query, product) pairs | [p_0 .. p_{K-1}, human grade or -1] | K                             |
            +------------------------+-------------------------------------+-------------------------------+

        Returns a dict ``{"kl": ..., "ce": ...}`` of already-weighted terms; the trainer sums them
        and logs each one.

        Example:
            ::

                from datasets import Dataset
                from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer
                from ecomrel.train.losses import SoftLabelKLLoss, pack_labels

                model = CrossEncoder("path/to/minilm", num_labels=4)
                train_dataset = Dataset.from_dict({
                    "query": ["red running shoes", "red running shoes", "usb c cable"],
                    "product": ["Nike Pegasus running shoe, red", "Shoe insoles", "HDMI cable 2 m"],
                    "label": pack_labels(
                        probs=[[0.02, 0.03, 0.25, 0.70], [0.10, 0.70, 0.15, 0.05], [0.6, 0.3, 0.1, 0.0]],
                        grades=[3, None, 0],  # the second pair has only the judge's distribution
                        num_labels=4,
                    ),
                })
                loss = SoftLabelKLLoss(model, kl_weight=1.0, ce_weight=0.5)
                CrossEncoderTrainer(model=model, train_dataset=train_dataset, loss=loss).train()
        """
        super().__init__()
        self.model = model
        self.kl_weight = float(kl_weight)
        self.ce_weight = float(ce_weight)
        self.temperature = float(temperature)
        if getattr(model, "num_labels", 2) < 2:
            raise ValueError(
                f"{type(self).__name__} needs a model with num_labels > 1, got {model.num_labels}"
            )
        if self.kl_weight < 0 or self.ce_weight < 0 or self.kl_weight + self.ce_weight == 0:
            raise ValueError("kl_weight and ce_weight must be >= 0 and not both 0")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")

    def forward(
        self,
        inputs: list[list[str]],
        labels: Tensor | list[Tensor],
        prompt: str | None = None,
        task: str | None = None,
    ) -> dict[str, Tensor]:
        from sentence_transformers.util import batch_to_device

        if len(inputs) != 2:
            raise ValueError(
                f"{type(self).__name__} expects two text columns (query, product), got {len(inputs)}"
            )
        if isinstance(labels, list):  # the collator gives a list of per-row tensors for vector labels
            labels = torch.stack([torch.as_tensor(x) for x in labels])
        pairs = list(zip(inputs[0], inputs[1], strict=True))
        tokens = batch_to_device(self.model.preprocess(pairs, prompt=prompt, task=task), self.model.device)
        logits = self.model(tokens)["scores"]
        kl, ce, _, _ = soft_label_kl_terms(logits, labels, self.temperature)
        out: dict[str, Tensor] = {}
        if self.kl_weight > 0:
            out["kl"] = self.kl_weight * kl
        if self.ce_weight > 0:
            out["ce"] = self.ce_weight * ce
        return out

    def get_config_dict(self) -> dict[str, float]:
        return {"kl_weight": self.kl_weight, "ce_weight": self.ce_weight, "temperature": self.temperature}

    @property
    def citation(self) -> str:
        return (
            "@article{hinton2015distilling, title={Distilling the Knowledge in a Neural Network}, "
            "author={Hinton, Geoffrey and Vinyals, Oriol and Dean, Jeff}, year={2015}}"
        )

"""Training losses, one per module (sentence-transformers style: inputs/labels table + example)."""

from ecomrel.train.losses.soft_label_kl import SoftLabelKLLoss, pack_labels, soft_label_kl_terms

__all__ = ["SoftLabelKLLoss", "pack_labels", "soft_label_kl_terms"]

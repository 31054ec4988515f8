"""Training losses, one per module (sentence-transformers style: inputs/labels table + example)."""

from ecomrel.train.losses.rater_targets import RATER_TARGETS, rater_distribution, rater_distributions
from ecomrel.train.losses.soft_label_kl import SoftLabelKLLoss, pack_labels, soft_label_kl_terms

__all__ = [
    "RATER_TARGETS",
    "SoftLabelKLLoss",
    "pack_labels",
    "rater_distribution",
    "rater_distributions",
    "soft_label_kl_terms",
]

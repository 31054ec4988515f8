"""Training the judge and its student, each a thin layer over the field's trainer.

- :mod:`ecomrel.train.sft_trainer` — LREF Multi-CoT / TaoSR1 label-first SFT with trl + peft LoRA
  (:mod:`~ecomrel.train.sft_config`, curriculum in :mod:`~ecomrel.train.curriculum`,
  multi-GPU launch in :mod:`~ecomrel.train.launch`).
- :mod:`ecomrel.train.distill_trainer` — LREF distillation into a cross-encoder with
  sentence-transformers (:mod:`~ecomrel.train.distill_config`, loss in
  :mod:`~ecomrel.train.losses.soft_label_kl`).
"""

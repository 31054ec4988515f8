"""Mining: what training pairs are made of, taken from the judge's own outputs.

The model's generations (beam search, pass@N samples) are compared with the human grade and
turned into training material for the later stages:

- :mod:`ecomrel.mining.preference` — DPO preference pairs: LREF's beam-error pairs (the wrong
  top beam is rejected, the highest-ranked beam with the gold grade is chosen) and TaoSR1's
  pass@N pairs (a correct sample is chosen over the most confident wrong one; when all N are
  wrong an oracle answer written for the gold grade is chosen), with the statistics the papers
  report (gold-in-top-k rank, optimistic share of errors, pass@1..N, oracle share).
- :mod:`ecomrel.mining.difficulty` — difficulty of prompts for GRPO's dynamic sampling
  (keep ``0 < #correct < γ``) and a class-balanced RL pool (TaoSR1 §3.5).

Mining is pure data work on frames: it never loads a model or calls a sampler (the trainers in
:mod:`ecomrel.train` generate and pass the sampler frames in), so it imports only
:mod:`ecomrel.grades` and :mod:`ecomrel.errors` from ecomrel.
"""

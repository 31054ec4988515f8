"""LREF data selection (papers.md §1.3): keep the pairs that are hard, learnable and not suspect.

Three helper models — the Initial Model (IM, uniform sample), the Challenge Identifier (CI,
head/torso/tail balanced sample) and the Mislabeled Supervisor (MS, trained on each label's
confusable alternative) — score every pool pair out-of-fold (K-fold cross-fitting); confident
learning (cleanlab) flags likely mislabels on the same probabilities; the rules in
:mod:`ecomrel.select.decisions` keep or drop each pair with its reason.

- :func:`run_selection` (``ecomrel select``) — the stage; :class:`SelectConfig` — its settings.
- :mod:`ecomrel.select.helpers` — :class:`HelperScorer` and its cross-encoder, LLM-judge and linear
  implementations; :func:`crossfit`.
- :func:`suspected_mislabels_html` — the suspected-mislabel table for the HTML report.
"""

from ecomrel.select.config import SelectConfig
from ecomrel.select.helpers import HelperScorer, make_scorer
from ecomrel.select.mislabels import suspected_mislabels_html
from ecomrel.select.selection import run_selection

__all__ = ["HelperScorer", "SelectConfig", "make_scorer", "run_selection", "suspected_mislabels_html"]

"""GRPO rewards for the label-first judge (TaoSR1 stage 3), in trl's reward-function signature.

Every reward is ``fn(prompts, completions, **kwargs) -> list[float]``, one value per completion,
as :class:`trl.GRPOTrainer` calls it; the human grade comes in as a dataset column (default
``gold_grade``), which trl passes to every reward function as a keyword list.

- :func:`correct_reward` — 1 for the right leading grade, 0 otherwise; with ``ordinal=True`` a near
  miss earns partial credit ``1 - |grade - gold| / max_grade`` (TaoSR1's reward is plain 1/0).
- :func:`format_reward` — 1 when the answer is well formed: it starts with a grade label
  (:func:`ecomrel.llm.parsing.parse_answer`), 0 otherwise.
- :func:`consistency_reward` — the verdict the reasoning reaches (:func:`reasoning_verdict`) agrees
  with the leading grade: 1; disagrees: 0 (a *discriminative hallucination*); no verdict to read
  (the reasoning is absent or cut before it concludes): ``missing`` (0.5, neutral by default).

:func:`make_reward_funcs` turns a weight mapping into trl's ``reward_funcs`` + ``reward_weights``;
:func:`hallucination_stats` measures the discriminative-hallucination rate of generated answers
with the same check the consistency reward uses.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.parsing import parse_answer

GOLD_COLUMN = "gold_grade"
REWARD_NAMES = ("correct", "format", "consistency")

RewardFunc = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The generated text of one trl completion: a string, or a list of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        return str(completion[-1].get("content", ""))
    return "" if completion is None else str(completion)


def _cue_pattern(scale: GradeScale) -> re.Pattern[str]:
    names = "|".join(re.escape(n) for n in sorted(scale.names, key=len, reverse=True))
    # the phrases ecomrel's chains conclude with: EE "Verdict: exact", RA "Result: ... the grade is
    # exact (3)" / "sets the grade: exact (3)", DR "Correct grade: exact (3)"; also "grade: 3"
    cues = r"verdict|correct\s+grade|final\s+grade|the\s+grade\s+is|sets\s+the\s+grade|grade"
    return re.compile(
        rf"(?:{cues})\s*(?:is\s*)?[:=\-]?\s*\**\s*(?:({names})\b|(\d+)(?![\d.]))", re.IGNORECASE
    )


@functools.lru_cache(maxsize=8)
def _cached_pattern(scale: GradeScale) -> re.Pattern[str]:
    return _cue_pattern(scale)


def reasoning_verdict(reasoning: str | None, scale: GradeScale = DEFAULT_SCALE) -> int | None:
    """The grade the reasoning concludes: its last verdict phrase, or ``None`` if it states none.

    Reads the endings ecomrel's EE/RA/DR chains write (``Verdict: <name>``, ``the grade is
    <name> (<digit>)``, ``Correct grade: <name> (<digit>)``), a grade name or a digit on the scale.
    """
    if not reasoning:
        return None
    last: int | None = None
    for m in _cached_pattern(scale).finditer(str(reasoning)):
        if m.group(1):
            last = scale.grade_of(m.group(1))
        else:
            g = int(m.group(2))
            if 0 <= g <= scale.max_grade:
                last = g
    return last


def correct_reward(
    prompts: Sequence[Any] | None,
    completions: Sequence[Any],
    gold_grade: Sequence[int] | None = None,
    *,
    ordinal: bool = False,
    scale: GradeScale = DEFAULT_SCALE,
    gold_column: str = GOLD_COLUMN,
    **kwargs: Any,
) -> list[float]:
    """1.0 when the leading grade equals the gold grade, else 0.0 (malformed answers: 0.0).

    ``ordinal``: partial credit ``1 - |grade - gold| / max_grade`` for a wrong but close grade.
    """
    gold = gold_grade if gold_grade is not None else kwargs.get(gold_column)
    if gold is None:
        raise ValueError(f"correct_reward needs the gold grade column {gold_column!r} in the dataset")
    out: list[float] = []
    for completion, g in zip(completions, gold, strict=True):
        parsed = parse_answer(completion_text(completion), scale)
        if parsed.grade is None:
            out.append(0.0)
        elif parsed.grade == int(g):
            out.append(1.0)
        elif ordinal:
            out.append(max(0.0, 1.0 - abs(parsed.grade - int(g)) / max(scale.max_grade, 1)))
        else:
            out.append(0.0)
    return out


def format_reward(
    prompts: Sequence[Any] | None,
    completions: Sequence[Any],
    *,
    scale: GradeScale = DEFAULT_SCALE,
    **kwargs: Any,
) -> list[float]:
    """1.0 for a well-formed label-first answer (it starts with a grade on the scale), else 0.0."""
    return [0.0 if parse_answer(completion_text(c), scale).malformed else 1.0 for c in completions]


def consistency_reward(
    prompts: Sequence[Any] | None,
    completions: Sequence[Any],
    *,
    missing: float = 0.5,
    scale: GradeScale = DEFAULT_SCALE,
    **kwargs: Any,
) -> list[float]:
    """1.0 when the reasoning's verdict equals the leading grade, 0.0 when it contradicts it.

    ``missing`` is given to answers with nothing to compare: malformed (no leading grade) or a
    reasoning that reaches no verdict (absent, or cut by the completion length).
    """
    out: list[float] = []
    for c in completions:
        parsed = parse_answer(completion_text(c), scale)
        verdict = reasoning_verdict(parsed.reasoning, scale) if parsed.grade is not None else None
        if verdict is None:
            out.append(float(missing))
        else:
            out.append(1.0 if verdict == parsed.grade else 0.0)
    return out


def _named(fn: Callable[..., list[float]], name: str, **bound: Any) -> RewardFunc:
    """``fn`` with keyword arguments bound and a ``__name__`` (trl logs ``rewards/<name>/mean``)."""

    def reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return fn(prompts, completions, **{**kwargs, **bound})

    reward.__name__ = name
    reward.__qualname__ = name
    reward.__doc__ = fn.__doc__
    return reward


def make_reward_funcs(
    weights: Mapping[str, float],
    *,
    ordinal: bool = False,
    missing_verdict: float = 0.5,
    scale: GradeScale = DEFAULT_SCALE,
    gold_column: str = GOLD_COLUMN,
) -> tuple[list[RewardFunc], list[float]]:
    """(trl ``reward_funcs``, ``reward_weights``) for the rewards with a non-zero weight.

    ``weights`` maps ``correct`` / ``format`` / ``consistency`` to their weight in the total reward
    (trl sums ``weight × reward``); unknown names raise ``ValueError``.
    """
    unknown = sorted(set(weights) - set(REWARD_NAMES))
    if unknown:
        raise ValueError(f"unknown reward(s) {unknown}; known: {', '.join(REWARD_NAMES)}")
    funcs: list[RewardFunc] = []
    used: list[float] = []
    for name in REWARD_NAMES:
        w = float(weights.get(name, 0.0))
        if w == 0.0:
            continue
        if name == "correct":
            fn = _named(correct_reward, "correct", ordinal=ordinal, scale=scale, gold_column=gold_column)
        elif name == "format":
            fn = _named(format_reward, "format", scale=scale)
        else:
            fn = _named(consistency_reward, "consistency", missing=missing_verdict, scale=scale)
        funcs.append(fn)
        used.append(w)
    if not funcs:
        raise ValueError("every reward weight is 0: give correct, format or consistency a weight")
    return funcs, used


def hallucination_stats(texts: Sequence[Any], scale: GradeScale = DEFAULT_SCALE) -> dict[str, float]:
    """Discriminative hallucination of generated answers: the reasoning concludes one grade, the
    leading label states another (TaoSR1 §3.5), by the check :func:`consistency_reward` uses.

    Returns ``hallucination_rate`` (contradicting answers / answers whose reasoning states a
    verdict; NaN when none does), ``verdict_share`` (answers with a readable verdict / all) and the
    counts ``n``, ``with_verdict``, ``contradicting``.
    """
    n = with_verdict = contradicting = 0
    for t in texts:
        n += 1
        parsed = parse_answer(completion_text(t), scale)
        if parsed.grade is None:
            continue
        verdict = reasoning_verdict(parsed.reasoning, scale)
        if verdict is None:
            continue
        with_verdict += 1
        contradicting += int(verdict != parsed.grade)
    return {
        "hallucination_rate": contradicting / with_verdict if with_verdict else float("nan"),
        "verdict_share": with_verdict / n if n else float("nan"),
        "n": float(n),
        "with_verdict": float(with_verdict),
        "contradicting": float(contradicting),
    }

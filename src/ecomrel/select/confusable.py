"""The Mislabeled Supervisor's targets: the *confusable alternative* of each human label.

LREF asks GPT, for a (query, item, label) triple, which *other* label a rater could most plausibly have
swapped the given one for, and trains MS on (q, i, label′). If MS, on an unseen pair, outputs the
human label itself, that label looks like the confusion of some other grade: a suspected mislabel.

Two teachers:

- :func:`builtin_alternatives` — no LLM. The attribute analyst and the business rules
  (:mod:`ecomrel.reason.rules`) give the grade the catalogue facts imply, ``r``. The alternative of
  label ``g`` is the neighbouring grade on the side of ``r`` (``g ± 1``) when ``r ≠ g``; when the facts
  agree with the label it is the *optimistic* neighbour ``g + 1`` (``g − 1`` for the top grade): LREF
  found ~70 % of relevance errors over-grade a pair.
- :func:`teacher_alternatives` — an OpenAI-compatible chat endpoint
  (:class:`ecomrel.reason.teacher.OpenAITeacher`, with its retries, rate limit and on-disk cache);
  answers that name no other grade fall back to the built-in rule (counted).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.grades import DEFAULT_SCALE, GradeScale


def alternative_from_rules(gold: int, rule_grade: int, max_grade: int) -> int:
    """The built-in rule: the neighbour of ``gold`` towards ``rule_grade``; the optimistic one if equal."""
    if rule_grade > gold:
        return min(gold + 1, max_grade)
    if rule_grade < gold:
        return max(gold - 1, 0)
    return gold + 1 if gold < max_grade else gold - 1


def builtin_alternatives(
    pairs: pd.DataFrame, grades: np.ndarray, scale: GradeScale = DEFAULT_SCALE
) -> tuple[np.ndarray, dict[str, Any]]:
    """Confusable alternatives from the attribute analyst + default rules; (alternatives, counts)."""
    from ecomrel.reason.analyst import analyze_pairs
    from ecomrel.reason.rules import apply_rules, default_rules

    rules = default_rules(scale)
    analyses = analyze_pairs(pairs.reset_index(drop=True))
    rule_grades = np.array([apply_rules(a, rules).grade for a in analyses], dtype=int)
    grades = np.asarray(grades, dtype=int)
    alt = np.array(
        [
            alternative_from_rules(int(g), int(r), scale.max_grade)
            for g, r in zip(grades, rule_grades, strict=True)
        ]
    )
    counts = {
        "teacher": "builtin",
        "rules_agree": int((rule_grades == grades).sum()),
        "rules_higher": int((rule_grades > grades).sum()),
        "rules_lower": int((rule_grades < grades).sum()),
    }
    return alt, counts


ALT_PROMPT = (
    "You review labels of an e-commerce search relevance data set. For the query and product below, a "
    "human rater gave the grade shown. Which OTHER grade could a rater most plausibly have confused it "
    "with? Answer with one line: 'Alternative: <grade name>'."
)


def alternative_messages(
    query: str, product: dict[str, Any], gold: int, scale: GradeScale = DEFAULT_SCALE
) -> list[dict[str, str]]:
    """The chat messages asking for the confusable alternative of one pair's label."""
    fields = []
    for key in ("title", "brand", "category", "attributes", "price"):
        v = product.get(key)
        if v is None or (isinstance(v, float) and v != v) or v == "" or v == {}:
            continue
        if isinstance(v, dict):
            v = "; ".join(f"{k}: {x}" for k, x in v.items())
        fields.append(f"{key.title()}: {str(v)[:300]}")
    grades = "\n".join(f"- {scale.name(g)} ({g})" for g in reversed(scale.grades))
    user = "\n".join(
        [
            f"Query: {query}",
            "Product:",
            *fields,
            "",
            "Grades:",
            grades,
            "",
            f"Given grade: {scale.name(gold)} ({gold})",
        ]
    )
    return [{"role": "system", "content": ALT_PROMPT}, {"role": "user", "content": user}]


def parse_alternative(text: str, scale: GradeScale = DEFAULT_SCALE) -> int | None:
    """The grade named on the answer's last 'Alternative: …' line (a name or a digit)."""
    names = "|".join(re.escape(n) for n in scale.names)
    hits = re.findall(rf"alternative\s*[:\-]\s*\**\s*({names}|\d)\b", text, flags=re.IGNORECASE)
    if not hits:
        return None
    last = hits[-1]
    if last.isdigit():
        g = int(last)
        return g if 0 <= g <= scale.max_grade else None
    return scale.grade_of(last)


def teacher_alternatives(
    pairs: pd.DataFrame, grades: np.ndarray, teacher: Any, scale: GradeScale = DEFAULT_SCALE
) -> tuple[np.ndarray, dict[str, Any]]:
    """Alternatives from an OpenAI-compatible teacher (``complete(messages) -> (text, cached)``)."""
    fallback, _ = builtin_alternatives(pairs, grades, scale)
    out = fallback.copy()
    counts = {"teacher": "openai", "answered": 0, "cached": 0, "fallback": 0}
    for i, row in enumerate(pairs.reset_index(drop=True).to_dict("records")):
        gold = int(grades[i])
        text, cached = teacher.complete(alternative_messages(str(row.get("query", "")), row, gold, scale))
        g = parse_alternative(text, scale)
        counts["cached"] += int(bool(cached))
        if g is None or g == gold:
            counts["fallback"] += 1
            continue
        out[i] = g
        counts["answered"] += 1
    return out, counts

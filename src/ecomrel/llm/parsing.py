"""Robust parsing of generated judge answers: the leading grade, then the reasoning.

A well-formed answer starts with the grade label (a digit on the scale), optionally
after whitespace, markdown emphasis or a ``Grade:`` prefix, then the reasoning. The grade
name (``exact``, ``substitute``, ...) is accepted in place of the digit. Anything else is
*malformed*: it is kept with ``malformed=True`` and ``grade=None`` — parsing never raises,
so a batch of samples is always fully accounted for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from ecomrel.grades import DEFAULT_SCALE, GradeScale

_PREFIX = re.compile(r"^\s*(?:[*_`#>\"'(\[]\s*)*(?:(?:grade|label|answer|relevance)\s*[:=\-]?\s*)?", re.I)


@dataclass(frozen=True)
class ParsedAnswer:
    raw: str
    grade: int | None
    reasoning: str
    malformed: bool
    reason: str  # why it is malformed ("" when well-formed)


def parse_answer(text: object, scale: GradeScale = DEFAULT_SCALE) -> ParsedAnswer:
    """Read the leading grade of one generated answer; never raises."""
    raw = "" if text is None else str(text)
    if not raw.strip():
        return ParsedAnswer(raw, None, "", True, "empty")
    rest = raw[_PREFIX.match(raw).end() :]  # type: ignore[union-attr]
    m = re.match(r"(\d+)(?!\d|[.,]\d)", rest)  # "3" or "3." but not "2.5"
    if m:
        g = int(m.group(1))
        if 0 <= g <= scale.max_grade:
            return ParsedAnswer(raw, g, _reason(rest[m.end() :]), False, "")
        return ParsedAnswer(raw, None, raw.strip(), True, f"grade {g} outside 0..{scale.max_grade}")
    lowered = rest.lower()
    for g in sorted(scale.grades, key=lambda k: -len(scale.name(k))):  # longest name first
        name = scale.name(g).lower()
        if lowered.startswith(name) and not lowered[len(name) : len(name) + 1].isalnum():
            return ParsedAnswer(raw, g, _reason(rest[len(name) :]), False, "")
    return ParsedAnswer(raw, None, raw.strip(), True, "no leading grade")


def _reason(tail: str) -> str:
    return re.sub(r"^[\s*_`)\]\"'.:;,\-–—|]+", "", tail).strip()


def parse_many(texts: Iterable[object], scale: GradeScale = DEFAULT_SCALE) -> pd.DataFrame:
    """One row per text: raw, grade (nullable Int64), reasoning, malformed, reason."""
    rows = [asdict(parse_answer(t, scale)) for t in texts]
    df = pd.DataFrame(rows, columns=["raw", "grade", "reasoning", "malformed", "reason"])
    df["grade"] = df["grade"].astype("Int64")
    df["malformed"] = df["malformed"].astype(bool)
    return df


def malformed_summary(parsed: pd.DataFrame) -> dict[str, object]:
    """Counts for logs and reports: how many answers were malformed, and why."""
    bad = parsed[parsed["malformed"]]
    return {
        "n": int(len(parsed)),
        "malformed": int(len(bad)),
        "malformed_rate": float(len(bad) / len(parsed)) if len(parsed) else 0.0,
        "reasons": {str(k): int(v) for k, v in bad["reason"].value_counts().items()},
    }

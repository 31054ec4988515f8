"""The ordinal grade scale and every source's mapping into it.

ecomrel judges on an ordinal scale whose default has four grades (TaoSR1's scale):

======  ===============  ===========================================
grade   name             meaning
======  ===============  ===========================================
3       exact            the product is what the query asks for
2       substitute       main attributes match; a reasonable stand-in
1       complement       related (accessory, same category, marginal)
0       irrelevant       no useful relation
======  ===============  ===========================================

The scale is configuration, not a constant: :func:`get_scale` is the one registry every
config reads (``scale: default`` / ``taosr1`` = the four grades above, ``scale: lref`` =
LREF's five levels, :data:`LREF_SCALE`; or a custom scale written out in the config as
``scale: {names: [...], descriptions: [...]}``). Every data source maps its own label into
the scale with an explicit table defined here, and the source's label is always kept verbatim
beside the grade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecomrel.errors import ConfigError


@dataclass(frozen=True)
class GradeScale:
    """An ordinal scale: grade ``i`` is ``names[i]``; higher is more relevant."""

    names: tuple[str, ...]
    descriptions: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def max_grade(self) -> int:
        return len(self.names) - 1

    @property
    def grades(self) -> list[int]:
        return list(range(len(self.names)))

    def name(self, grade: int) -> str:
        return self.names[grade]

    def grade_of(self, name: str) -> int:
        """The grade of a name, case-insensitive; ``KeyError`` if unknown."""
        lowered = name.strip().lower()
        for i, n in enumerate(self.names):
            if n.lower() == lowered:
                return i
        raise KeyError(f"unknown grade name {name!r}; known: {', '.join(self.names)}")

    def prob_columns(self) -> list[str]:
        """Column names of per-grade probabilities in prediction files: ``p_0 .. p_{K-1}``."""
        return [f"p_{g}" for g in self.grades]


DEFAULT_SCALE = GradeScale(
    names=("irrelevant", "complement", "substitute", "exact"),
    descriptions=(
        "no useful relation to the query",
        "related but not what was asked: an accessory, complement or only the same category",
        "the main product matches but an attribute or modifier differs; a reasonable substitute",
        "the product satisfies every stated part of the query",
    ),
)

LREF_SCALE = GradeScale(
    names=("irrelevant", "trivial", "marginal", "significant", "exact"),
    descriptions=(
        "no relation",
        "only the category matches",
        "some attributes match",
        "the main attributes match",
        "the product matches the query exactly",
    ),
)

SCALES: dict[str, GradeScale] = {"default": DEFAULT_SCALE, "taosr1": DEFAULT_SCALE, "lref": LREF_SCALE}
"""Named grade scales: ``default`` and ``taosr1`` (4 grades), ``lref`` (5 grades)."""

ScaleSpec = str | list[str] | dict[str, Any]
"""How a config names a scale: a registry name, a list of grade names (lowest first) or a mapping
``{names: [...], descriptions: [...]}``. Pydantic fields use it as ``scale: ScaleSpec = "default"``."""

SCALE_FIELD_DESCRIPTION = (
    "Grade scale: 'default' / 'taosr1' (4 grades), 'lref' (5 grades: irrelevant, trivial, marginal, "
    "significant, exact), or a custom {names: [lowest, ..., highest], descriptions: [...]}."
)


def get_scale(spec: ScaleSpec | GradeScale | None = "default") -> GradeScale:
    """The grade scale a config names (see :data:`ScaleSpec`); ``None`` is the default scale.

    An unknown name or a malformed custom scale raises :class:`ecomrel.errors.ConfigError`
    naming the allowed names.
    """
    if spec is None:
        return DEFAULT_SCALE
    if isinstance(spec, GradeScale):
        return spec
    if isinstance(spec, str):
        try:
            return SCALES[spec.strip().lower()]
        except KeyError:
            raise ConfigError(
                f"unknown grade scale {spec!r}; known: {', '.join(SCALES)} (or a custom "
                "{names: [...], descriptions: [...]})",
                field="scale",
            ) from None
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"names", "descriptions"}
        if unknown:
            raise ConfigError(f"custom scale: unknown key(s) {', '.join(sorted(unknown))}", field="scale")
        names, descriptions = spec.get("names"), spec.get("descriptions") or ()
    elif isinstance(spec, Sequence):
        names, descriptions = spec, ()
    else:
        raise ConfigError(f"a grade scale is a name or a list of grade names, got {spec!r}", field="scale")
    if not isinstance(names, Sequence) or isinstance(names, str) or len(names) < 2:
        raise ConfigError("custom scale: 'names' must list at least two grade names", field="scale")
    names = tuple(str(n).strip() for n in names)
    if len({n.lower() for n in names}) != len(names) or not all(names):
        raise ConfigError(
            f"custom scale: grade names must be distinct and non-empty: {list(names)}", field="scale"
        )
    descriptions = tuple(str(d) for d in descriptions)
    if descriptions and len(descriptions) != len(names):
        raise ConfigError(
            f"custom scale: {len(descriptions)} descriptions for {len(names)} grades", field="scale"
        )
    return GradeScale(names=names, descriptions=descriptions)


def scale_spec(scale: GradeScale) -> ScaleSpec:
    """The inverse of :func:`get_scale` for files: a registry name when the scale has one."""
    for name, known in SCALES.items():
        if known == scale:
            return name
    return {"names": list(scale.names), "descriptions": list(scale.descriptions)}


# --- source mappings -------------------------------------------------------------------
# Each table maps the source's own label to a grade on DEFAULT_SCALE.

ESCI_TO_GRADE: Mapping[str, int] = {"E": 3, "S": 2, "C": 1, "I": 0}
"""Amazon ESCI: Exact, Substitute, Complement, Irrelevant map one-to-one onto the scale."""

WANDS_TO_GRADE: Mapping[str, int] = {"Exact": 3, "Partial": 2, "Irrelevant": 0}
"""Wayfair WANDS: Exact → exact, Partial → substitute, Irrelevant → irrelevant (no complement)."""

HOMEDEPOT_THRESHOLDS: tuple[float, float, float] = (1.5, 2.0, 2.5)
"""Home Depot rater mean on 1–3: ``<1.5 → 0``, ``<2.0 → 1``, ``<2.5 → 2``, ``≥2.5 → 3``."""


def homedepot_grade(mean_score: float) -> int:
    """Map Home Depot's 1–3 rater mean to a grade (thresholds from the data README)."""
    if math.isnan(mean_score) or not 1.0 <= mean_score <= 3.0:
        raise ValueError(f"Home Depot relevance must lie in [1, 3], got {mean_score}")
    return sum(mean_score >= t for t in HOMEDEPOT_THRESHOLDS)


SOURCE_MAPPINGS: dict[str, Mapping[str, int] | tuple[float, ...]] = {
    "esci": ESCI_TO_GRADE,
    "wands": WANDS_TO_GRADE,
    "homedepot": HOMEDEPOT_THRESHOLDS,
}


def expected_grade(probs: list[float] | tuple[float, ...]) -> float:
    """Σ k·p_k: the continuous relevance score of a grade distribution."""
    return float(sum(k * p for k, p in enumerate(probs)))

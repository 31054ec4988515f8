"""Request and response models of the relevance service.

The limits (pairs per request, candidates per ranking, text lengths) come from
:class:`~ecomrel.serve.settings.ServeSettings`, so the models are built per app by
:func:`build_schemas`; the OpenAPI schema therefore shows the limits the server enforces.
Request models are strict (pydantic ``strict=True``): no coercion, so ``"price": "12.5"``,
``"price": false`` and ``"top_k": true`` are 422 rather than silently converted; a price must be
a finite JSON number (``NaN``/``Infinity`` → 422 "finite number").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ecomrel.serve.settings import ServeSettings

_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(value: object) -> object:
    """JSON allows lone surrogates ("\\ud800"), which are valid per the schema but no tokenizer can
    encode: they become U+FFFD (the replacement character) instead of failing the request."""
    if isinstance(value, str) and _SURROGATE.search(value):
        return _SURROGATE.sub("\ufffd", value)
    return value


def _whole_number(value: object) -> object:
    """JSON Schema's ``integer`` includes ``5.0``; strict mode would refuse it. Booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class GradeOut(BaseModel):
    """One scored pair."""

    grade: int = Field(
        description="Grade (0 = irrelevant .. 3 = exact): by the cut points of the model's decisions.json "
        "on the expected grade when it has one, else the most probable grade."
    )
    grade_name: str = Field(description="Name of that grade.")
    probabilities: list[float] = Field(description="P(grade = k) for k = 0..K-1; sums to 1.")
    expected_grade: float = Field(description="Σ k·p_k: the continuous relevance score.")
    tier: str = Field(description="Serving tier by cumulative-probability thresholds (CumPT).")
    calibrated_score: float | None = Field(
        None,
        description="The expected grade on the source's own scale (e.g. Home Depot's 1-3 rater mean) by "
        "the isotonic map in the model's decisions.json; null when the model has none.",
    )


class RelevanceResult(GradeOut):
    product_id: str | None = Field(None, description="Echo of the request's product_id.")


class RankedResult(GradeOut):
    index: int = Field(description="Position of the candidate in the request.")
    product_id: str | None = Field(None, description="Echo of the candidate's product_id.")
    score: float = Field(description="Ranking score (= expected grade), higher is more relevant.")


class RelevanceResponse(BaseModel):
    backend: str
    results: list[RelevanceResult]


class RankResponse(BaseModel):
    backend: str
    query: str
    results: list[RankedResult] = Field(description="Candidates ordered by score, best first.")


class Health(BaseModel):
    status: str
    backend: str | None = None
    detail: str | None = None


class ErrorOut(BaseModel):
    detail: str | list = Field(description="Error details (for 422: one entry per invalid field).")
    message: str | None = Field(None, description="One line naming the field(s) and why.")


@dataclass(frozen=True)
class Schemas:
    Product: type[BaseModel]
    Pair: type[BaseModel]
    RelevanceRequest: type[BaseModel]
    RankRequest: type[BaseModel]


def build_schemas(settings: ServeSettings) -> Schemas:
    """Request models carrying the limits of ``settings`` (max_length/min_length → 422 naming the field)."""
    Text = Annotated[str, Field(max_length=settings.max_text_chars), BeforeValidator(_utf8)]
    # "not blank" is a schema pattern (not a Python check) so that the OpenAPI schema states it
    Query = Annotated[
        str,
        Field(
            min_length=1,
            max_length=settings.max_query_chars,
            pattern=r"\S",
            description="The search query; must contain a non-space character.",
        ),
        BeforeValidator(_utf8),
    ]

    class Product(BaseModel):
        """A product as the client knows it; the server builds the student's text from these fields."""

        model_config = ConfigDict(extra="forbid", strict=True)
        product_id: Annotated[str, Field(max_length=256), BeforeValidator(_utf8)] | None = None
        title: Annotated[Text, Field(min_length=1)]
        brand: Text | None = None
        category: Text | None = Field(None, description="Category path, e.g. 'Home > Kitchen > Drinkware'.")
        attributes: (
            Annotated[
                dict[Annotated[str, Field(max_length=256), BeforeValidator(_utf8)], Text],
                Field(max_length=settings.max_attributes),
            ]
            | None
        ) = None
        price: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] | None = None
        description: Text | None = None

    class Pair(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        query: Query
        product: Product

    class RelevanceRequest(BaseModel):
        """Pairs to grade."""

        model_config = ConfigDict(extra="forbid", strict=True)
        pairs: list[Pair] = Field(min_length=1, max_length=settings.max_pairs)

    class RankRequest(BaseModel):
        """One query and its candidates, to be ordered by relevance."""

        model_config = ConfigDict(extra="forbid", strict=True)
        query: Query
        candidates: list[Product] = Field(min_length=1, max_length=settings.max_candidates)
        top_k: (
            Annotated[int, Field(ge=1, le=settings.max_candidates), BeforeValidator(_whole_number)] | None
        ) = Field(None, description="Return only the best top_k candidates.")

    return Schemas(Product=Product, Pair=Pair, RelevanceRequest=RelevanceRequest, RankRequest=RankRequest)

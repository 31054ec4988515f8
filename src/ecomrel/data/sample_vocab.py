"""The embedded vocabulary of the sample store: categories, product types, brands, attributes.

The vocabulary is data, not code: ``ecomrel/resources/sample/vocab.yaml`` (its header documents
every field), validated by :class:`SampleVocabulary` on first use and exposed under the names
:mod:`ecomrel.data.sample` reads (``build_types()``, ``PREMIUM_BRANDS``, ``QUESTIONS`` ...).
Nothing is read at import time; the file is parsed once, on the first attribute access.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ecomrel.errors import DataError

RESOURCE = ("ecomrel", "resources/sample/vocab.yaml")


@dataclass(frozen=True)
class ProductType:
    """One kind of product (a *product word*): the unit of the ground-truth rules."""

    name: str
    category: str
    synonyms: tuple[str, ...]
    price: float
    attrs: dict[str, tuple[str, ...]]
    title_attrs: tuple[str, ...]
    brands: tuple[str, ...]
    negations: tuple[tuple[str, str, str], ...] = ()
    accessory_for: tuple[str, ...] = ()
    complements: tuple[str, ...] = ()
    substitutes: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    compat: str | None = None
    pscale: str | None = None
    brand_values: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    weight: float = 1.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Negation(_Strict):
    """A query phrase ("without hood") and the attribute values it excludes (``hood=hooded``)."""

    phrase: str = Field(description="The negation phrase as a query writes it.")
    attribute: str = Field(description="The attribute it is about.")
    values: str = Field(description="The excluded value(s), '|'-separated.")


class ProductTypeSpec(_Strict):
    """One product type as written in the YAML (see the file's header)."""

    name: str = Field(description="The product word.")
    synonyms: list[str] = Field(default_factory=list, description="Other words for it.")
    price: float = Field(gt=0, description="Base price.")
    attrs: dict[str, list[str]] = Field(default_factory=dict, description="Attribute -> values.")
    title_attrs: list[str] = Field(default_factory=list, description="Attributes printed before the noun.")
    brands: list[str] = Field(description="Brands that make it.")
    negations: list[Negation] = Field(default_factory=list, description="Negation phrases.")
    accessory_for: list[str] = Field(default_factory=list, description="Types it is an accessory for.")
    complements: list[str] = Field(default_factory=list, description="Complementary types.")
    substitutes: list[str] = Field(default_factory=list, description="Substitute types.")
    uses: list[str] = Field(default_factory=list, description="What it is used for (question queries).")
    compat: str | None = Field(None, description="The attribute an accessory query names.")
    pscale: str | None = Field(None, description="The attribute whose ordered values scale the price.")
    brand_values: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="Attribute -> brand -> the values that brand makes."
    )
    weight: float = Field(1.0, gt=0, description="Sampling weight.")

    def record(self, category: str) -> ProductType:
        return ProductType(
            name=self.name,
            category=category,
            synonyms=tuple(self.synonyms),
            price=float(self.price),
            attrs={k: tuple(v) for k, v in self.attrs.items()},
            title_attrs=tuple(self.title_attrs),
            brands=tuple(self.brands),
            negations=tuple((n.phrase, n.attribute, n.values) for n in self.negations),
            accessory_for=tuple(self.accessory_for),
            complements=tuple(self.complements),
            substitutes=tuple(self.substitutes),
            uses=tuple(self.uses),
            compat=self.compat,
            pscale=self.pscale,
            brand_values={k: {b: tuple(v) for b, v in m.items()} for k, m in self.brand_values.items()},
            weight=float(self.weight),
        )


class Question(_Strict):
    """A question query, the product types that answer it and the attribute values they need."""

    question: str = Field(description="The query text.")
    types: list[str] = Field(description="Product types that answer it.")
    attrs: dict[str, list[str]] = Field(default_factory=dict, description="Attribute -> required values.")


class SampleVocabulary(_Strict):
    """The whole sample-store vocabulary file."""

    categories: dict[str, list[ProductTypeSpec]] = Field(description="Category path -> product types.")
    model_price: dict[str, float] = Field(description="Price multiplier of a model word.")
    premium_brands: list[str] = Field(description="Brands priced above the rest.")
    budget_brands: list[str] = Field(description="Brands priced below the rest.")
    popular_brands: dict[str, float] = Field(description="Brand -> popularity weight in queries.")
    alternative_targets: list[str] = Field(description="Brands queries ask alternatives to.")
    line_words: list[str] = Field(description="Product-line words in titles.")
    description_fillers: list[str] = Field(description="Sentences that pad descriptions.")
    questions: list[Question] = Field(description="Question queries.")
    question_templates: list[str] = Field(description="Templates of 'use' questions.")
    common_misspellings: dict[str, str] = Field(description="Word -> a common misspelling.")
    keyboard_neighbours: dict[str, str] = Field(description="Key -> neighbouring keys (typos).")


@functools.cache
def vocabulary() -> SampleVocabulary:
    """The packaged vocabulary, read and validated once."""
    path = resources.files(RESOURCE[0]).joinpath(RESOURCE[1])
    try:
        return SampleVocabulary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except Exception as exc:  # a broken package resource: say which file
        raise DataError(f"{path}: invalid sample vocabulary ({exc})") from exc


def build_types() -> list[ProductType]:
    """Every product type as a :class:`ProductType` (category order, then file order)."""
    return [spec.record(cat) for cat, specs in vocabulary().categories.items() for spec in specs]


@functools.cache
def _tables() -> dict[str, Any]:
    v = vocabulary()
    return {
        "MODEL_PRICE": dict(v.model_price),
        "PREMIUM_BRANDS": frozenset(v.premium_brands),
        "BUDGET_BRANDS": frozenset(v.budget_brands),
        "POPULAR_BRANDS": dict(v.popular_brands),
        "ALTERNATIVE_TARGETS": frozenset(v.alternative_targets),
        "LINE_WORDS": tuple(v.line_words),
        "DESCRIPTION_FILLERS": tuple(v.description_fillers),
        "QUESTIONS": tuple(
            (q.question, tuple(q.types), {k: tuple(x) for k, x in q.attrs.items()}) for q in v.questions
        ),
        "QUESTION_TEMPLATES": tuple(v.question_templates),
        "COMMON_MISSPELLINGS": dict(v.common_misspellings),
        "KEYBOARD_NEIGHBOURS": dict(v.keyboard_neighbours),
    }


TABLES = (
    "MODEL_PRICE",
    "PREMIUM_BRANDS",
    "BUDGET_BRANDS",
    "POPULAR_BRANDS",
    "ALTERNATIVE_TARGETS",
    "LINE_WORDS",
    "DESCRIPTION_FILLERS",
    "QUESTIONS",
    "QUESTION_TEMPLATES",
    "COMMON_MISSPELLINGS",
    "KEYBOARD_NEIGHBOURS",
)
"""The module-level tables, read from the YAML on first access (``sample_vocab.PREMIUM_BRANDS``)."""


def __getattr__(name: str) -> Any:
    if name in TABLES:
        return _tables()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

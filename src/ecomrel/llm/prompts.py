"""Label-first judge prompts: templates kept as package data, rendered with the model's chat template.

The answer the model gives (and is trained to give) starts with the grade label, then an
optional reason (TaoSR1's "post-CoT" order). Serving therefore reads the grade from the
first answer position in one forward pass; see :mod:`ecomrel.llm.scorer`.

**Grade labels.** Grade ``g`` is written as the digit ``str(g)``. :func:`grade_tokens` checks,
for the tokenizer in use, which token the model would emit first for each label *in
context* (right after the rendered prompt). If every label is one token, those tokens are
scored. If a label is several tokens but the first tokens of all labels are distinct, the
grade is scored by its first token (the rest of the label is then determined by training
and irrelevant to ranking). If two labels share their first token, no single forward pass can
tell them apart and :class:`GradeLabelError` is raised.

**Truncation rule.** (1) Every field is cut to its character cap (``field_caps`` in the
template; a cut value ends with ``...``); attributes keep at most ``max_attributes`` pairs.
(2) If the rendered prompt is still longer than ``max_prompt_tokens`` tokens, fields are
shortened in ``truncation_order`` — description first, then attributes, category, brand,
title — each as far as needed (dropping it if needed) before the next is touched. The
query is only cut by its character cap, never by the token budget, so prompts of one
query always share their prefix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined

from ecomrel.grades import DEFAULT_SCALE, GradeScale

DEFAULT_TEMPLATE = "judge_v1"
ELLIPSIS = "..."
PRODUCT_FIELDS = ("title", "brand", "category", "attributes", "price", "description")


class GradeLabelError(ValueError):
    """The grade labels cannot be told apart from the first answer token of this tokenizer."""


@dataclass(frozen=True)
class PromptTemplate:
    """One judge prompt: Jinja system/user texts plus the truncation settings."""

    name: str
    system: str
    user: str
    plain_format: str = "{system}\n\n{user}\nGrade:\n"
    field_caps: Mapping[str, int] = field(default_factory=dict)
    max_attributes: int = 8
    max_prompt_tokens: int = 320
    truncation_order: tuple[str, ...] = ("description", "attributes", "category", "brand", "title")
    field_labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PromptTemplate:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return cls._from_dict(data, str(path))

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any], where: str) -> PromptTemplate:
        missing = [k for k in ("name", "system", "user") if k not in data]
        if missing:
            raise ValueError(f"{where}: prompt template misses {', '.join(missing)}")
        data = dict(data)
        if "truncation_order" in data:
            data["truncation_order"] = tuple(data["truncation_order"])
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown prompt template keys {unknown}")
        return cls(**data)


@lru_cache(maxsize=16)
def load_template(name_or_path: str = DEFAULT_TEMPLATE) -> PromptTemplate:
    """A built-in template by name (``resources/prompts/<name>.yaml``) or a YAML file path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return PromptTemplate.from_yaml(p)
    res = resources.files("ecomrel") / "resources" / "prompts" / f"{name_or_path}.yaml"
    if not res.is_file():
        raise ValueError(f"unknown prompt template {name_or_path!r} (not a built-in name nor a YAML file)")
    return PromptTemplate._from_dict(yaml.safe_load(res.read_text(encoding="utf-8")), str(res))


_ENV = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


def grade_label(grade: int) -> str:
    """The answer label of a grade: its digit."""
    return str(int(grade))


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        return len(v) == 0  # type: ignore[arg-type]
    except TypeError:
        return False


def _cap(text: str, limit: int | None) -> str:
    text = " ".join(str(text).split())
    if limit is None or len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def _attributes_text(attrs: Any, max_items: int) -> str:
    # pyarrow map columns can arrive as a list of (key, value) tuples
    items = list(attrs.items()) if isinstance(attrs, Mapping) else [tuple(kv) for kv in attrs]
    items = [(str(k), str(v)) for k, v in items if not _missing(v)]
    return "; ".join(f"{k}: {v}" for k, v in items[:max_items])


def product_fields(row: Mapping[str, Any], template: PromptTemplate) -> dict[str, str]:
    """The product fields that exist in ``row``, as capped display strings, in prompt order."""
    out: dict[str, str] = {}
    caps = template.field_caps
    for name in PRODUCT_FIELDS:
        v = row.get(name) if hasattr(row, "get") else None
        if _missing(v):
            continue
        if name == "attributes":
            text = _attributes_text(v, template.max_attributes)
        elif name == "price":
            try:
                price = float(v)
            except (TypeError, ValueError):
                continue
            if math.isnan(price):
                continue
            text = f"{price:.2f}"
        else:
            text = str(v)
        text = _cap(text, caps.get(name))
        if text:
            out[name] = text
    return out


def _messages(
    query: str, fields: Mapping[str, str], template: PromptTemplate, scale: GradeScale
) -> list[dict]:
    grades = [
        {
            "label": grade_label(g),
            "name": scale.name(g),
            "description": scale.descriptions[g] if g < len(scale.descriptions) else scale.name(g),
        }
        for g in scale.grades
    ]
    labels = template.field_labels
    shown = [{"name": labels.get(k, k.title()), "value": v} for k, v in fields.items()]
    system = _ENV.from_string(template.system).render(grades=grades).strip()
    user = _ENV.from_string(template.user).render(query=query, fields=shown).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _assemble(messages: list[dict], tokenizer: Any, template: PromptTemplate) -> str:
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return template.plain_format.format(system=messages[0]["content"], user=messages[1]["content"])


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered prompt (or prompt + answer) exactly as the scorer feeds them.

    A chat template writes its own special tokens into the text, so none are added then;
    the plain format gets the tokenizer's usual BOS.
    """
    return list(tokenizer(text, add_special_tokens=not has_chat_template(tokenizer))["input_ids"])


def render_prompt(
    query: str,
    product_row: Mapping[str, Any],
    tokenizer: Any,
    scale: GradeScale = DEFAULT_SCALE,
    template: PromptTemplate | str | None = None,
) -> str:
    """The full prompt text for one (query, product) pair, ending where the grade label goes.

    Applies the truncation rule of the module docstring.
    """
    tpl = template if isinstance(template, PromptTemplate) else load_template(template or DEFAULT_TEMPLATE)
    query_text = _cap(query, tpl.field_caps.get("query"))
    fields = product_fields(product_row, tpl)
    text = _assemble(_messages(query_text, fields, tpl, scale), tokenizer, tpl)
    budget = tpl.max_prompt_tokens
    if not budget:
        return text
    n = len(encode(tokenizer, text))
    for name in tpl.truncation_order:
        for _ in range(12):  # shrink this field by the token overflow (~3 characters a token) until it fits
            if n <= budget or name not in fields:
                break
            keep = len(fields[name]) - max(8, 3 * (n - budget))
            floor = keep < 12
            if floor and name != "title":
                del fields[name]
            else:  # the title is never dropped: 12 characters at least
                fields[name] = _cap(fields[name], max(12, keep))
            text = _assemble(_messages(query_text, fields, tpl, scale), tokenizer, tpl)
            n = len(encode(tokenizer, text))
            if floor:
                break
    return text


def completion_text(grade: int, reasoning: str | None = None) -> str:
    """The label-first answer: the grade label, then (optionally) the reasoning on the next line.

    This is the training target of the SFT/DPO/GRPO stages; the end-of-turn token is left
    to the trainer (trl appends the tokenizer's EOS).
    """
    label = grade_label(grade)
    if reasoning is None or not str(reasoning).strip():
        return label
    return f"{label}\n{str(reasoning).strip()}"


@dataclass(frozen=True)
class GradeTokens:
    """Token ids read at the answer position, one per grade, and how they were found."""

    ids: tuple[int, ...]
    labels: tuple[str, ...]
    first_token_only: bool  # True when some label spans several tokens and its first token stands for it

    def __len__(self) -> int:
        return len(self.ids)


_PROBE_ROW = {"title": "probe product", "brand": "probe", "category": "probe"}


def grade_tokens(
    tokenizer: Any,
    scale: GradeScale = DEFAULT_SCALE,
    template: PromptTemplate | str | None = None,
    labels: Sequence[str] | None = None,
) -> GradeTokens:
    """Which token the model emits first for each grade label, checked in context.

    ``labels`` overrides the digit labels (one per grade), e.g. to check grade names.

    Tokenizes a rendered probe prompt with and without each label appended and takes the
    tokens that the label adds. See the module docstring for the multi-token rule.
    """
    prompt = render_prompt("probe query", _PROBE_ROW, tokenizer, scale, template)
    base = encode(tokenizer, prompt)
    first: list[int] = []
    multi: list[str] = []
    labels = tuple(labels) if labels is not None else tuple(grade_label(g) for g in scale.grades)
    for label in labels:
        full = encode(tokenizer, prompt + label)
        if full[: len(base)] != base or len(full) == len(base):
            raise GradeLabelError(
                f"the tokenizer merges grade label {label!r} into the end of the prompt; "
                "end the template's assistant turn with a separator (newline or space)"
            )
        added = full[len(base) :]
        first.append(added[0])
        if len(added) > 1:
            multi.append(label)
    if len(set(first)) != len(first):
        raise GradeLabelError(
            f"grade labels {list(labels)} share a first token for this tokenizer "
            f"(first tokens {first}); one forward pass cannot score them: choose other labels"
        )
    return GradeTokens(ids=tuple(first), labels=labels, first_token_only=bool(multi))


def prompts_for_pairs(
    pairs: Any,
    tokenizer: Any,
    scale: GradeScale = DEFAULT_SCALE,
    template: PromptTemplate | str | None = None,
) -> list[str]:
    """Rendered prompts for every row of a pairs frame (``query`` + product columns)."""
    if "query" not in pairs.columns:
        raise ValueError("pairs frame needs a 'query' column (use Dataset.pairs())")
    tpl = template if isinstance(template, PromptTemplate) else load_template(template or DEFAULT_TEMPLATE)
    cols = [c for c in PRODUCT_FIELDS if c in pairs.columns]
    records: Sequence[dict] = pairs[["query", *cols]].to_dict("records")
    return [render_prompt(str(r["query"]), r, tokenizer, scale, tpl) for r in records]

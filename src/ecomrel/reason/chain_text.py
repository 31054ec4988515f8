"""The text pieces of reasoning chains: what the EE, RA, DR and RAG chain builders write.

Plain functions from an :class:`~ecomrel.reason.analyst.Analysis` (and rule outcomes) to text,
shared by :mod:`ecomrel.reason.chains`, :mod:`ecomrel.reason.rag_chains` and the teachers.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.reason.analyst import Analysis
from ecomrel.reason.rules import RuleOutcome, RuleSet


def grade_text(grade: int, scale: GradeScale = DEFAULT_SCALE) -> str:
    return f"{scale.name(grade)} ({grade})"


def _a(word: str | None) -> str:
    if not word:
        return "an unclear product"
    return ("an " if word[0] in "aeiou" else "a ") + word


def query_understanding(a: Analysis) -> str:
    q = a.query
    parts = [f"the query '{q.text.strip()}' searches for {q.product_word or 'no clear product word'}"]
    if q.brand:
        parts.append(f"of the brand {q.brand}")
    if q.attributes:
        parts.append("with " + ", ".join(f"{t} {v}" for t, v in q.attributes))
    if q.accessory_for:
        parts.append(f"for {q.accessory_for}")
    if q.negations:
        parts.append("excluding " + ", ".join(q.negations))
    if q.price is not None:
        parts.append(f"with the price intent '{q.price.text or q.price.kind}'")
    if q.alternative_requested:
        parts.append(f"as an alternative to {q.alternative_to}" if q.alternative_to else "as an alternative")
    if q.modifiers:
        parts.append("also saying " + ", ".join(q.modifiers))
    return ", ".join(parts)


def item_understanding(a: Analysis) -> str:
    p = a.product
    text = f"'{p.title.strip()[:120]}' is {_a(p.product_word)}"
    if p.brand:
        text += f" by {p.brand}"
    if p.category:
        text += f" in {p.category}"
    attrs = [f"{t} {', '.join(v)}" for t, v in list(p.attributes.items())[:4]]
    if attrs:
        text += " (" + "; ".join(attrs) + ")"
    if p.price is not None:
        text += f", price {p.price:.2f}"
    if p.is_accessory and p.accessory_for:
        text += f", made for {p.accessory_for}"
    return text


def category_match_text(a: Analysis) -> str:
    q, p, m = a.query, a.product, a.match
    qpw, ppw = q.product_word, p.product_word or "an unclear product"
    kind = m.product_word_match
    if kind == "exact" and m.product_word_basis == "synonym":
        text = f"the product is {_a(ppw)}, another name for the {qpw} searched for"
    elif kind == "exact" and m.product_word_basis == "named by the category":
        text = f"the product is {_a(ppw)}, listed in the category the query names ({qpw})"
    elif kind == "exact":
        text = f"the product is {_a(ppw)}, the kind of product searched for ({qpw})"
    elif kind == "partial" and m.product_word_basis == "similar kind of product":
        text = f"the query asks for {qpw}, the product is {_a(ppw)}: a similar kind of product, a substitute"
    elif kind == "partial":
        text = f"the query asks for {qpw}, the product is {_a(ppw)}: close, but not the same kind"
    elif kind == "accessory" and m.accessory_relation == "query_wants_accessory":
        text = (
            f"the query wants {_a(qpw)} for {q.accessory_for}; the product is the {ppw} itself, a complement"
        )
    elif kind == "accessory":
        text = f"the product is {_a(ppw)}, an accessory for {p.accessory_for or qpw}, not the {qpw} itself"
    elif kind == "none":
        text = f"the query asks for {qpw}, but the product is {_a(ppw)}: a different kind of product"
    else:
        text = "the query names no specific product" + (f", only the brand {q.brand}" if q.brand else "")
    if m.category_match is True and p.category:
        text += f"; the category {p.category} fits"
    elif m.category_match is False and p.category:
        text += f"; the category {p.category} does not fit"
    return text


def attribute_match_text(a: Analysis) -> str:
    q, p, m = a.query, a.product, a.match
    parts: list[str] = []
    if m.brand_requested:
        if m.brand_match is True:
            parts.append(f"the brand {q.brand} matches")
        elif m.brand_match is False:
            parts.append(
                f"the brand {q.brand} is asked for but the product is by {p.brand or 'another brand'}"
            )
        else:
            parts.append(f"the brand {q.brand} is asked for and the product's brand is not stated")
    if m.alternative_requested and q.alternative_to:
        if m.alternative_same_brand:
            parts.append(
                f"an alternative to {q.alternative_to} is wanted, yet the product is {q.alternative_to}"
            )
        else:
            parts.append(f"an alternative to {q.alternative_to} is wanted and the product is one")
    if m.accessory_target_match is True:
        parts.append(f"it is made for {q.accessory_for}")
    elif m.accessory_target_match is False:
        parts.append(f"it is not made for {q.accessory_for}")
    if m.attribute_matches:
        parts.append("it has " + ", ".join(x.replace("=", " ") for x in m.attribute_matches))
    if m.attribute_mismatches:
        parts.append("it differs in " + "; ".join(m.attribute_mismatches))
    if m.attributes_unverified:
        parts.append("not stated: " + ", ".join(x.replace("=", " ") for x in m.attributes_unverified))
    if m.negation_requested:
        if m.negation_violated:
            parts.append(f"the query excludes {', '.join(m.violated_negations)} and the product has it")
        else:
            parts.append(f"it has no {', '.join(q.negations)}, as the query asks")
    if m.price_intent:
        label = q.price.text if q.price and q.price.text else m.price_intent
        if m.price_ok is True:
            parts.append(f"its price {p.price:.2f} fits '{label}'")
        elif m.price_ok is False:
            parts.append(f"its price {p.price:.2f} does not fit '{label}'")
        else:
            parts.append(f"its price cannot be checked against '{label}'")
    if m.missing_modifiers:
        parts.append("it does not mention " + ", ".join(m.missing_modifiers))
    return "; ".join(parts) if parts else "the query states no further constraints"


def findings_text(a: Analysis) -> str:
    """The analyst's findings in a few lines (also the hints an API teacher gets)."""
    return "\n".join(
        [
            f"- Query: {query_understanding(a)}.",
            f"- Item: {item_understanding(a)}.",
            f"- Product word: {category_match_text(a)}.",
            f"- Attributes: {attribute_match_text(a)}.",
        ]
    )


def _description(grade: int, scale: GradeScale) -> str:
    return scale.descriptions[grade] if grade < len(scale.descriptions) else scale.name(grade)


def _verdict(grade: int, scale: GradeScale) -> str:
    return f"Verdict: {scale.name(grade)}: {_description(grade, scale)}."


def ee_reasoning(a: Analysis, grade: int, scale: GradeScale = DEFAULT_SCALE) -> str:
    """TaoSR1's five steps, ending in the verdict ``grade``."""
    return "\n".join(
        [
            f"1. Query understanding: {query_understanding(a)}.",
            f"2. Item understanding: {item_understanding(a)}.",
            f"3. Category match: {category_match_text(a)}.",
            f"4. Attribute match: {attribute_match_text(a)}.",
            f"5. {_verdict(grade, scale)}",
        ]
    )


def ra_reasoning(outcome: RuleOutcome, rules: RuleSet, shown: Sequence[str] | None = None) -> str:
    """Which rules fire, why, and the grade they force."""
    scale = rules.scale
    by_id = {r.id: r for r in rules.rules}
    lines = ["Checking the business rules:"]
    for f in outcome.fired:
        r = by_id[f.id]
        if f.applied:
            lines.append(f"- {f.id} applies: {f.reason} => {r.effect_text(scale)}.")
        else:
            lines.append(f"- {f.id} also holds ({f.reason}) but a stronger rule overrides it.")
    fired = {f.id for f in outcome.fired}
    quiet = [rid for rid in (shown or []) if rid not in fired]
    if quiet:
        lines.append("- " + ", ".join(quiet) + (" does" if len(quiet) == 1 else " do") + " not apply.")
    if not outcome.fired:
        lines.append("- no rule applies, so nothing limits the grade.")
    pinned = [f for f in outcome.fired if f.applied and f.effect == "set_grade"]
    if pinned:
        lines.append(f"Result: {pinned[0].id} sets the grade: {grade_text(outcome.grade, scale)}.")
    elif outcome.high < scale.max_grade:
        lines.append(
            f"Result: the rules allow at most {grade_text(outcome.high, scale)}, so the grade is "
            f"{grade_text(outcome.grade, scale)}."
        )
    else:
        lines.append(f"Result: the grade is {grade_text(outcome.grade, scale)}.")
    return "\n".join(lines)


def _overlooked(a: Analysis, outcome: RuleOutcome, wrong: int, gold: int, scale: GradeScale) -> str:
    m = a.match
    if wrong > gold:  # too optimistic: what holds the grade down
        caps = [f.reason for f in outcome.fired if f.applied and f.effect != "min_grade" and f.grade < wrong]
        if caps:
            return "; ".join(caps)
        return f"the pair is only {scale.name(gold)}: {_description(gold, scale)}"
    # too strict: what lifts the grade
    if m.product_word_match == "accessory" and gold >= 1:
        return f"{category_match_text(a)}, so the pair is related"
    ups = []
    if m.product_word_match in ("exact", "partial"):
        ups.append(category_match_text(a))
    if m.brand_match:
        ups.append(f"the brand {a.query.brand} matches")
    if m.attribute_matches:
        ups.append("the product has " + ", ".join(x.replace("=", " ") for x in m.attribute_matches))
    if gold == scale.max_grade and m.all_constraints_satisfied:
        ups.append("every stated part of the query holds")
    return "; ".join(ups) if ups else f"the pair is {scale.name(gold)}"


def dr_reasoning(
    a: Analysis, outcome: RuleOutcome, wrong: int, gold: int, scale: GradeScale = DEFAULT_SCALE
) -> str:
    """The wrong decision, what it overlooked, the corrected reasoning and grade."""
    direction = "too high" if wrong > gold else "too low"
    return "\n".join(
        [
            f"The earlier decision {grade_text(wrong, scale)} is wrong ({direction}).",
            f"It overlooked: {_overlooked(a, outcome, wrong, gold, scale)}.",
            f"Corrected reasoning: {category_match_text(a)}; {attribute_match_text(a)}.",
            f"Correct grade: {grade_text(gold, scale)}.",
        ]
    )


def dr_prompt(wrong: int, scale: GradeScale = DEFAULT_SCALE) -> str:
    return (
        f"An earlier decision graded this pair {grade_text(wrong, scale)}. "
        "Check that decision and give the correct grade."
    )


def corrected_reasoning(reasoning: str, gold: int, implied: int | None, scale: GradeScale) -> str:
    """Rewrite a contradicting chain so it concludes the human grade, saying what it overrides."""
    lines = [
        ln
        for ln in reasoning.rstrip().splitlines()
        if not ln.lower().lstrip("0123456789. ").startswith(("verdict", "result", "correct grade"))
    ]
    note = f" The checks above point to {scale.name(implied)}, but on balance" if implied is not None else ""
    desc = scale.descriptions[gold] if gold < len(scale.descriptions) else scale.name(gold)
    lines.append(f"Verdict: {scale.name(gold)}.{note} {desc}.".replace("  ", " "))
    return "\n".join(lines)


# --- building -----------------------------------------------------------------------------

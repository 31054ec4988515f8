"""The attribute analyst: what a query asks for, what a product is, and where the two agree.

No LLM: regular expressions and the catalogue's own :class:`~ecomrel.reason.vocabulary.Vocabulary`.
It is LREF's split of relevance into *product relevance* (does the product word match?) and
*modifier relevance* (brand, attributes, negations, price), made explicit so that business rules
(:mod:`ecomrel.reason.rules`) can act on it and chains (:mod:`ecomrel.reason.chains`) can explain it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from ecomrel.reason.vocabulary import (
    ACCESSORY_TARGET,
    ACCESSORY_WORDS,
    ALT_AFTER,
    ALT_BARE,
    ALT_BEFORE,
    CHEAP_CUES,
    GENDERS,
    NEGATION_PATTERNS,
    PREMIUM_CUES,
    PRICE_MAX,
    PRICE_MIN,
    PRICE_RANGE,
    QUESTION_CUES,
    STOPWORDS,
    Vocabulary,
    attribute_type,
    generic_attribute,
    is_code,
    is_measure,
    measure_family,
    misspelt_in,
    normalize_text,
    phrase,
    title_head,
    tokenize,
)

_SPEC_LABEL = re.compile(r"(?:^|(?<=[.;—-]))\s*[a-z][a-z ]{0,24}:")
_CUT_PREPOSITIONS = frozenset(
    "for with in on over under from by at near inside above below into onto".split()  # noqa: SIM905
)


# --- typed records ------------------------------------------------------------------------


@dataclass
class PriceIntent:
    """A price constraint stated in the query: an explicit bound, or a cheap/premium tier."""

    kind: str  # "max" | "min" | "range" | "cheap" | "premium"
    low: float | None = None
    high: float | None = None
    text: str = ""


@dataclass
class QueryFacts:
    text: str
    product_word: str | None
    product_word_source: str  # "vocabulary" | "spelling" | "fallback" | "none"
    brand: str | None = None
    category: str | None = None
    attributes: list[tuple[str, str]] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    negations: list[str] = field(default_factory=list)
    price: PriceIntent | None = None
    alternative_requested: bool = False
    alternative_to: str | None = None
    accessory_for: str | None = None
    is_question: bool = False


@dataclass
class ProductFacts:
    product_id: str | None
    title: str
    product_word: str | None
    product_words: list[str] = field(default_factory=list)  # candidates, best first
    brand: str | None = None
    brand_source: str | None = None  # "column" | "title"
    category: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    is_accessory: bool = False
    accessory_for: str | None = None
    free_of: list[str] = field(default_factory=list)
    price: float | None = None


@dataclass
class MatchFindings:
    product_word_match: str  # "exact" | "partial" | "accessory" | "none" | "unknown"
    accessory_relation: str | None = None  # "product_is_accessory" | "query_wants_accessory"
    product_word_basis: str | None = None  # why the product word matches (synonym, same head, similar kind)
    accessory_target_match: bool | None = None
    brand_requested: bool = False
    brand_match: bool | None = None
    alternative_requested: bool = False
    alternative_same_brand: bool | None = None
    category_match: bool | None = None
    attribute_matches: list[str] = field(default_factory=list)
    attribute_mismatches: list[str] = field(default_factory=list)
    attributes_unverified: list[str] = field(default_factory=list)
    missing_modifiers: list[str] = field(default_factory=list)
    negation_requested: bool = False
    negation_violated: bool = False
    violated_negations: list[str] = field(default_factory=list)
    price_intent: str | None = None
    price_ok: bool | None = None
    is_question: bool = False
    n_violations: int = 0
    all_constraints_satisfied: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """One field that rules may test: its type, allowed values (enums) and meaning."""

    kind: str  # "bool" | "int" | "float" | "str" | "enum"
    description: str
    values: tuple[str, ...] = ()
    nullable: bool = False


ANALYSIS_FIELDS: dict[str, FieldSpec] = {
    "product_word_match": FieldSpec(
        "enum",
        "how the searched product word relates to the product's",
        ("exact", "partial", "accessory", "none", "unknown"),
    ),
    "accessory_relation": FieldSpec(
        "enum",
        "which side is the accessory when product_word_match is accessory",
        ("product_is_accessory", "query_wants_accessory"),
        nullable=True,
    ),
    "accessory_target_match": FieldSpec(
        "bool", "the query asks for an accessory of X and the product is made for X", nullable=True
    ),
    "query_has_product_word": FieldSpec("bool", "a product word was found in the query"),
    "query_product_word": FieldSpec("str", "the product word of the query", nullable=True),
    "product_product_word": FieldSpec("str", "the product word of the product", nullable=True),
    "query_brand": FieldSpec("str", "the brand the query asks for", nullable=True),
    "product_brand": FieldSpec("str", "the product's brand", nullable=True),
    "brand_requested": FieldSpec("bool", "the query names a brand it wants"),
    "brand_match": FieldSpec("bool", "the product is of the requested brand (null: unknown)", nullable=True),
    "alternative_requested": FieldSpec("bool", "the query asks for an alternative to something"),
    "alternative_to": FieldSpec("str", "what the query wants an alternative to", nullable=True),
    "alternative_same_brand": FieldSpec(
        "bool", "the product is the very brand/item the query wants an alternative to", nullable=True
    ),
    "category_match": FieldSpec("bool", "the product sits in the category the query names", nullable=True),
    "n_query_attributes": FieldSpec("int", "typed attributes the query states (colour, size, material ...)"),
    "n_attribute_matches": FieldSpec("int", "stated attributes the product has"),
    "n_attribute_mismatches": FieldSpec("int", "stated attributes the product has a different value of"),
    "n_attributes_unverified": FieldSpec("int", "stated attributes the product says nothing about"),
    "attribute_mismatches": FieldSpec("str", "the mismatched attributes, as text"),
    "n_query_modifiers": FieldSpec("int", "untyped query words that narrow the search"),
    "n_missing_modifiers": FieldSpec("int", "untyped query words the product text never mentions"),
    "missing_modifiers": FieldSpec("str", "those words, as text"),
    "negation_requested": FieldSpec("bool", "the query excludes something (without X, not X, X-free)"),
    "negation_violated": FieldSpec("bool", "the product has something the query excludes"),
    "violated_negations": FieldSpec("str", "the excluded things the product has, as text"),
    "price_intent": FieldSpec(
        "enum",
        "the price constraint of the query",
        ("max", "min", "range", "cheap", "premium"),
        nullable=True,
    ),
    "price_ok": FieldSpec(
        "bool", "the product's price satisfies the price intent (null: unknown)", nullable=True
    ),
    "price_limit": FieldSpec("float", "the bound of the price intent", nullable=True),
    "product_price": FieldSpec("float", "the product's price", nullable=True),
    "is_question": FieldSpec("bool", "the query is phrased as a question"),
    "n_violations": FieldSpec(
        "int",
        "stated constraints the product breaks (brand, attributes, excluded "
        "things, price, alternative, accessory target)",
    ),
    "all_constraints_satisfied": FieldSpec("bool", "every stated part of the query holds for the product"),
}
"""The flat namespace rules are written against; :meth:`Analysis.fields` fills it."""


@dataclass
class Analysis:
    """Query-side facts, product-side facts and the match findings of one pair."""

    query: QueryFacts
    product: ProductFacts
    match: MatchFindings

    def fields(self) -> dict[str, Any]:
        m, q, p = self.match, self.query, self.product
        price_limit = None
        if q.price is not None:
            price_limit = q.price.high if q.price.high is not None else q.price.low
        return {
            "product_word_match": m.product_word_match,
            "accessory_relation": m.accessory_relation,
            "accessory_target_match": m.accessory_target_match,
            "query_has_product_word": q.product_word is not None,
            "query_product_word": q.product_word,
            "product_product_word": p.product_word,
            "query_brand": q.brand,
            "product_brand": p.brand,
            "brand_requested": m.brand_requested,
            "brand_match": m.brand_match,
            "alternative_requested": m.alternative_requested,
            "alternative_to": q.alternative_to,
            "alternative_same_brand": m.alternative_same_brand,
            "category_match": m.category_match,
            "n_query_attributes": len(q.attributes),
            "n_attribute_matches": len(m.attribute_matches),
            "n_attribute_mismatches": len(m.attribute_mismatches),
            "n_attributes_unverified": len(m.attributes_unverified),
            "attribute_mismatches": "; ".join(m.attribute_mismatches),
            "n_query_modifiers": len(q.modifiers),
            "n_missing_modifiers": len(m.missing_modifiers),
            "missing_modifiers": ", ".join(m.missing_modifiers),
            "negation_requested": m.negation_requested,
            "negation_violated": m.negation_violated,
            "violated_negations": ", ".join(m.violated_negations),
            "price_intent": m.price_intent,
            "price_ok": m.price_ok,
            "price_limit": price_limit,
            "product_price": p.price,
            "is_question": m.is_question,
            "n_violations": m.n_violations,
            "all_constraints_satisfied": m.all_constraints_satisfied,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the analyst --------------------------------------------------------------------------


class AttributeAnalyst:
    """Analyses (query, product) pairs against one catalogue's vocabulary."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocab = vocabulary
        self._query_cache: dict[str, QueryFacts] = {}

    @classmethod
    def from_products(cls, products: pd.DataFrame, min_count: int = 2) -> AttributeAnalyst:
        return cls(Vocabulary.from_products(products, min_count=min_count))

    def analyze(self, query: str, product: dict[str, Any] | pd.Series) -> Analysis:
        """Analyse one pair; ``product`` has ``title`` and optionally brand, category, attributes,
        description, price, product_id."""
        q = self.analyze_query(query)
        p = self.analyze_product(product)
        return Analysis(query=q, product=p, match=self.match(q, p, raw=dict(product)))

    # --- query side -------------------------------------------------------------------
    def analyze_query(self, query: str) -> QueryFacts:
        key = str(query)
        if key not in self._query_cache:
            if len(self._query_cache) > 100_000:
                self._query_cache.clear()
            self._query_cache[key] = self._analyze_query(key)
        return self._query_cache[key]

    def _analyze_query(self, query: str) -> QueryFacts:
        v = self.vocab
        raw = str(query)
        s = normalize_text(raw)
        first = s.split(" ", 1)[0] if s else ""
        is_question = raw.strip().endswith("?") or first in QUESTION_CUES
        s = s.replace("?", " ")

        price, s = _extract_price(s)
        if price is None:
            price, s = self._extract_tier(s)
        alt_requested, alt_to, s = self._extract_alternative(s)
        negations, s = self._extract_negations(s)
        accessory_for, s = self._extract_accessory_target(s)

        toks = tokenize(s, already_normalized=True)
        while toks and toks[0] in QUESTION_CUES:
            toks = toks[1:]
        used = [False] * len(toks)

        brand = None
        brand_span = self._longest(toks, used, v.brands, max_n=v.max_brand_tokens)
        if brand_span:
            i, j = brand_span
            brand = v.brand_name(phrase(toks[i:j]))
            used[i:j] = [True] * (j - i)

        pw, source = None, "none"
        pw_span = self._product_word_span(toks, used)
        if pw_span:
            i, j = pw_span
            pw, source = phrase(toks[i:j]), "vocabulary"
            used[i:j] = [True] * (j - i)
        else:
            for k in range(len(toks) - 1, -1, -1):
                if not used[k] and (fixed := v.correct_spelling(toks[k])):
                    pw, source, used[k] = fixed, "spelling", True
                    break
            else:
                if alt_to and _key(alt_to) in v.brand_product_words:  # "crocs alternative" → clog
                    pw, source = v.brand_product_words[_key(alt_to)], "alternative"
                for k in range(len(toks) - 1, -1, -1):
                    t = toks[k]
                    if (
                        pw is None
                        and not used[k]
                        and t not in STOPWORDS
                        and not is_code(t)
                        and not v.attribute_of(t)
                        and t not in _CUT_PREPOSITIONS
                        and len(t) > 1
                    ):
                        pw, source, used[k] = t, "fallback", True
                        break

        attributes: list[tuple[str, str]] = []
        for n in (3, 2, 1):
            for i in range(len(toks) - n + 1):
                if any(used[i : i + n]):
                    continue
                term = phrase(toks[i : i + n])
                att = v.attribute_of(term)
                if att:
                    attributes.append(att)
                    used[i : i + n] = [True] * n

        if pw and accessory_for is None and pw.split()[-1] in ACCESSORY_WORDS and pw_span is not None:
            # "iphone case", "kitchenaid stock pot lid": the product words (and a brand) right before an
            # accessory word name what it is for; the brand then belongs to that product, not the lid
            words = pw.split()
            if len(words) > 1 and v.is_product_word(phrase(words[:-1])):
                accessory_for = phrase(words[:-1])
            else:
                i = pw_span[0]
                in_brand = lambda k: brand_span is not None and brand_span[0] <= k < brand_span[1]  # noqa: E731
                while (
                    i > 0
                    and (not used[i - 1] or in_brand(i - 1))
                    and toks[i - 1] not in STOPWORDS
                    and toks[i - 1] not in _CUT_PREPOSITIONS
                    and not v.attribute_of(toks[i - 1])
                ):
                    i -= 1
                run = toks[i : pw_span[0]]
                if any(v.is_product_word(w) or w in v.brands for w in run + [phrase(run[-2:])]):
                    accessory_for = phrase(run)
                    used[i : pw_span[0]] = [True] * (pw_span[0] - i)
                    if brand_span and i <= brand_span[0] and brand_span[1] <= pw_span[0]:
                        brand = None

        modifiers = [
            t
            for k, t in enumerate(toks)
            if not used[k] and t not in STOPWORDS and t not in _CUT_PREPOSITIONS and len(t) > 1
        ]
        category = None
        if pw:
            paths = v.categories_of(pw)
            category = paths[0] if paths else None
        return QueryFacts(
            text=raw,
            product_word=pw,
            product_word_source=source,
            brand=brand,
            category=category,
            attributes=attributes,
            modifiers=modifiers,
            negations=negations,
            price=price,
            alternative_requested=alt_requested,
            alternative_to=alt_to,
            accessory_for=accessory_for,
            is_question=is_question,
        )

    def _longest(
        self, toks: list[str], used: list[bool], terms: set[str] | dict[str, Any], max_n: int = 3
    ) -> tuple[int, int] | None:
        for n in range(min(max_n, len(toks)), 0, -1):
            for i in range(len(toks) - n + 1):
                if not any(used[i : i + n]) and phrase(toks[i : i + n]) in terms:
                    return i, i + n
        return None

    def _product_word_span(self, toks: list[str], used: list[bool]) -> tuple[int, int] | None:
        """The rightmost, longest catalogue product word of the first clause that has one
        ("microwave over stove" → microwave; "gas lawn mower" → lawn mower)."""
        segments: list[list[int]] = [[]]
        for k, t in enumerate(toks):
            if t in _CUT_PREPOSITIONS:
                segments.append([])
            elif not used[k]:
                segments[-1].append(k)
        for seg in segments:
            best = None
            for end in range(len(seg), 0, -1):
                for n in (3, 2, 1):
                    start = end - n
                    if start < 0:
                        continue
                    idx = seg[start:end]
                    if idx[-1] - idx[0] != n - 1:  # only contiguous words
                        continue
                    if self.vocab.is_product_word(phrase(toks[i] for i in idx)):
                        best = (idx[0], idx[-1] + 1)
                        break
                if best:
                    return best
        return None

    def _extract_tier(self, s: str) -> tuple[PriceIntent | None, str]:
        for kind, cues in (("cheap", CHEAP_CUES), ("premium", PREMIUM_CUES)):
            for cue in cues:
                m = re.search(rf"\b{re.escape(cue)}(?:er|est)?\b", s)
                if m and not any(cue in b.split() for b in self.vocab.brands):
                    return PriceIntent(kind=kind, text=m.group(0)), _cut(s, m)
        return None, s

    def _extract_alternative(self, s: str) -> tuple[bool, str | None, str]:
        """'like yeti', 'crocs alternative', 'dupe': (requested, what to replace, the rest of the query).
        The target is a known brand among the cue's words, else the single word after 'like'."""
        for rx, side in ((ALT_BEFORE, "before"), (ALT_AFTER, "after")):
            m = rx.search(s)
            if not m:
                continue
            words = [w for w in tokenize(m.group(1), already_normalized=True) if w not in STOPWORDS]
            span = self._longest(words, [False] * len(words), self.vocab.brands, self.vocab.max_brand_tokens)
            if span is None and side == "before" and words and not self.vocab.is_product_word(words[0]):
                span = (0, 1)
            target = phrase(words[span[0] : span[1]]) if span else None
            rest_words = words[: span[0]] + words[span[1] :] if span else words
            rest = (_cut(s, m) + " " + phrase(rest_words)).strip()
            shown = self.vocab.brand_name(target) if target in self.vocab.brands else target
            return True, shown, rest
        m = ALT_BARE.search(s)
        if m:
            return True, None, _cut(s, m)
        return False, None, s

    def _extract_negations(self, s: str) -> tuple[list[str], str]:
        found: list[str] = []
        for rx in NEGATION_PATTERNS:
            while (m := rx.search(s)) is not None:
                words = [w for w in tokenize(m.group(1), already_normalized=True) if w not in STOPWORDS]
                term = None
                if len(words) >= 2 and self._known(phrase(words[:2])):
                    term = phrase(words[:2])
                elif words:
                    term = words[0]
                # keep the words after a one-word term: "without laces running shoes"
                tail = words[len(term.split()) :] if term else []
                s = (s[: m.start()] + " " + phrase(tail) + " " + s[m.end() :]).strip()
                if term and term not in found:
                    found.append(term)
        return found, re.sub(r"\s+", " ", s)

    def _extract_accessory_target(self, s: str) -> tuple[str | None, str]:
        m = ACCESSORY_TARGET.search(s)
        if not m:
            return None, s
        words = tokenize(m.group(1), already_normalized=True)
        words = [w for w in words if w not in STOPWORDS]
        if not words or words[0] in GENDERS:
            return None, s
        end = 0  # the target runs to the last product word or brand: "for kitchenaid wok"
        for n in range(min(3, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                cand = phrase(words[i : i + n])
                if self.vocab.is_product_word(cand) or cand in self.vocab.brands:
                    end = max(end, i + n)
        if end:
            return phrase(words[:end]), (_cut(s, m) + " " + phrase(words[end:])).strip()
        return None, s

    def _names(self, text: str) -> tuple[set[str], set[str]]:
        """(product words, brands) named in a short text such as an accessory target."""
        toks = tokenize(text, already_normalized=True)
        grams = set(toks) | {phrase(toks[i : i + 2]) for i in range(len(toks) - 1)}
        return {g for g in grams if self.vocab.is_product_word(g)}, {
            g for g in grams if g in self.vocab.brands
        }

    def _known(self, term: str) -> bool:
        v = self.vocab
        return term in v.brands or v.is_product_word(term) or v.attribute_of(term) is not None

    # --- product side -----------------------------------------------------------------
    def analyze_product(self, product: dict[str, Any] | pd.Series) -> ProductFacts:
        v = self.vocab
        get = product.get
        title = _text(get("title"))
        head, target = title_head(title)
        brand, brand_source = None, None
        if _text(get("brand")):
            brand, brand_source = _text(get("brand")).strip(), "column"
        else:
            ttoks = tokenize(title)
            for n in range(min(v.max_brand_tokens, len(ttoks)), 0, -1):
                if phrase(ttoks[:n]) in v.brands:
                    brand, brand_source = v.brand_name(phrase(ttoks[:n])), "title"
                    break
        bkey = _key(brand).split()
        if bkey and head[: len(bkey)] == bkey and len(head) > len(bkey):
            head = head[len(bkey) :]
        cands = v.product_word_candidates(head)
        pw = cands[0] if cands else None
        accessory_for = None
        if target:
            twords = [w for w in tokenize(target, already_normalized=True) if w not in STOPWORDS]
            if (
                twords
                and twords[0] not in GENDERS
                and any(v.is_product_word(w) or w in v.brands for w in twords + [phrase(twords[:2])])
            ):
                accessory_for = phrase(twords[:4])
        norm_title = normalize_text(title)
        if accessory_for is None and pw and " " in pw and pw.split()[-1] in ACCESSORY_WORDS:
            owner = phrase(pw.split()[:-1])  # "headphone case" is made for headphones
            if v.is_product_word(owner) or owner in v.brands:
                accessory_for = owner
        is_accessory = (
            bool(accessory_for)
            or (pw is not None and pw.split()[-1] in ACCESSORY_WORDS)
            or "replacement" in norm_title.split()
        )

        attributes: dict[str, list[str]] = {}
        amap = get("attributes")
        if isinstance(amap, dict):
            for key, value in amap.items():
                if not _text(value):
                    continue
                vt = phrase(tokenize(_text(value)))
                atype = attribute_type(str(key))
                _add(attributes, atype, vt)
                for t in vt.split():  # "matte black" → also colour black
                    g = generic_attribute(t)
                    if g and g[0] == atype:
                        _add(attributes, atype, g[1])
        ttoks = tokenize(norm_title, already_normalized=True)
        for n in (3, 2, 1):
            for i in range(len(ttoks) - n + 1):
                att = v.attribute_of(phrase(ttoks[i : i + n]))
                if att:
                    _add(attributes, att[0], att[1])
        desc = _text(get("description"))
        values = " . ".join(x for vals in attributes.values() for x in vals)
        free_of, _ = self._extract_negations(normalize_text(f"{desc} . {title} . {values}"))
        price = get("price")
        price = float(price) if price is not None and not pd.isna(price) else None
        return ProductFacts(
            product_id=_text(get("product_id")) or None,
            title=title,
            product_word=pw,
            product_words=cands,
            brand=brand,
            brand_source=brand_source,
            category=_text(get("category")) or None,
            attributes=attributes,
            is_accessory=is_accessory,
            accessory_for=accessory_for,
            free_of=free_of,
            price=price,
        )

    def _product_text(self, p: ProductFacts, raw: dict[str, Any] | None) -> tuple[list[str], list[str]]:
        """(title tokens, all tokens of the product's text with its own negations removed)."""
        title_toks = tokenize(p.title)
        parts = [p.title, p.brand or "", (p.category or "").replace(">", " ")]
        parts += [val for vals in p.attributes.values() for val in vals]
        if raw is not None:  # spec-sheet labels ("battery: tool only") are not claims about the product
            parts.append(_SPEC_LABEL.sub(" ", normalize_text(_text(raw.get("description")))))
        text = normalize_text(" . ".join(parts))
        for rx in NEGATION_PATTERNS:
            text = rx.sub(" ", text)
        return title_toks, tokenize(text, already_normalized=True)

    # --- match ------------------------------------------------------------------------
    def match(self, q: QueryFacts, p: ProductFacts, raw: dict[str, Any] | None = None) -> MatchFindings:
        v = self.vocab
        title_toks, all_toks = self._product_text(p, raw)
        all_set = set(all_toks)
        all_text = " " + phrase(all_toks) + " "
        title_text = " " + phrase(title_toks) + " "
        cat_terms = _category_terms(p.category)
        leaf = cat_terms[-1] if cat_terms else None

        m = MatchFindings(product_word_match="unknown", is_question=q.is_question)
        qpw, ppw = q.product_word, p.product_word
        pcands = list(p.product_words) or ([ppw] if ppw else [])
        if leaf:
            pcands += [leaf, leaf.split()[-1]]

        # product relevance: the product word
        if qpw is not None:
            qhead = qpw.split()[-1]
            phead = ppw.split()[-1] if ppw else None
            acc_text = " " + (p.accessory_for or "") + " "
            before_head = (
                " " + phrase(title_toks[: title_toks.index(phead)] if phead in title_toks else []) + " "
            )
            if any(v.are_synonyms(qpw, c) or c.endswith(" " + qpw) for c in pcands):
                same = any(
                    c == qpw or c.endswith(" " + qpw) or c.replace(" ", "") == qpw.replace(" ", "")
                    for c in pcands
                )
                m.product_word_match, m.product_word_basis = (
                    "exact",
                    "same product word" if same else "synonym",
                )
            elif (
                p.is_accessory
                and qhead != phead
                and (f" {qpw} " in acc_text or f" {qhead} " in acc_text or f" {qhead} " in before_head)
            ):
                m.product_word_match, m.accessory_relation = "accessory", "product_is_accessory"
            elif (
                qhead in ACCESSORY_WORDS
                and ppw
                and q.accessory_for
                and (
                    ppw in q.accessory_for
                    or phead in q.accessory_for.split()
                    or any(v.are_synonyms(ppw, w) for w in q.accessory_for.split())
                )
            ):
                m.product_word_match, m.accessory_relation = "accessory", "query_wants_accessory"
            elif qpw in cat_terms:
                m.product_word_match, m.product_word_basis = "exact", "named by the category"
            elif ppw and any(qhead == c.split()[-1] for c in pcands[:2]):
                extra = [w for w in qpw.split()[:-1] if w not in all_set]
                m.product_word_match = "partial" if extra else "exact"
                m.product_word_basis = "same head, other kind" if extra else "same product word"
            elif ppw and v.similar_kind(qpw, ppw):
                m.product_word_match, m.product_word_basis = "partial", "similar kind of product"
            elif f" {qpw} " in title_text or (q.product_word_source != "vocabulary" and qhead in all_set):
                m.product_word_match, m.product_word_basis = "partial", "mentioned in the title"
            else:
                m.product_word_match = "none"

        # an accessory for something: is it made for the thing the query names?
        if q.accessory_for:
            if set(q.accessory_for.split()) <= all_set:
                m.accessory_target_match = True
            elif p.accessory_for:
                (qw, qb), (pw_, pb) = self._names(q.accessory_for), self._names(p.accessory_for)
                related = any(
                    v.are_synonyms(a, b) or a.split()[-1] == b.split()[-1] or v.similar_kind(a, b)
                    for a in qw
                    for b in pw_
                )
                if (qb and pb and not qb & pb) or (qw and pw_ and not related):
                    m.accessory_target_match = False

        # category: where the query's product word lives in this catalogue
        qcats = v.categories_of(qpw) if qpw else []
        if q.alternative_to and not qcats:
            qcats = v.categories_of(v.brand_product_words.get(_key(q.alternative_to)))
        if p.category and qcats:
            pc = " > ".join(x.strip() for x in p.category.split(">"))
            m.category_match = pc in qcats or any(pc.startswith(c + " >") for c in qcats)
        elif qpw and p.category and qpw in cat_terms:
            m.category_match = True

        # brand
        if q.brand:
            m.brand_requested = True
            qb = _key(q.brand)
            if p.brand:
                m.brand_match = qb == _key(p.brand) or f" {qb} " in title_text
            else:
                m.brand_match = True if f" {qb} " in all_text else None
        if q.alternative_requested:
            m.alternative_requested = True
            if q.alternative_to:
                alt = _key(q.alternative_to)
                m.alternative_same_brand = alt == _key(p.brand) or f" {alt} " in title_text

        # attributes
        for atype, value in q.attributes:
            have = p.attributes.get(atype, [])
            label = f"{atype}={value}"
            if value in have or f" {value} " in all_text or (atype == "gender" and "unisex" in have):
                m.attribute_matches.append(label)
            elif have:
                m.attribute_mismatches.append(f"{atype}: wanted {value}, product has {', '.join(have)}")
            elif is_measure(value) and any(measure_family(t) == atype for t in title_toks):
                got = [t for t in title_toks if measure_family(t) == atype]
                m.attribute_mismatches.append(f"{atype}: wanted {value}, product has {', '.join(got)}")
            else:
                m.attributes_unverified.append(label)
        m.missing_modifiers = [
            w
            for w in q.modifiers
            if w not in all_set and not _prefix_in(w, all_set) and not misspelt_in(w, all_set)
        ]

        # negations: anything excluded must not be present (the product's own "X-free" does not count)
        if q.negations:
            m.negation_requested = True
            for term in q.negations:
                present = f" {term} " in all_text or term == _key(p.brand) or term == ppw
                if present and term not in p.free_of:
                    m.violated_negations.append(term)
            m.negation_violated = bool(m.violated_negations)

        # price
        if q.price is not None:
            m.price_intent = q.price.kind
            if p.price is not None:
                pr = q.price
                if pr.kind in ("max", "min", "range"):
                    m.price_ok = (pr.low is None or p.price >= pr.low) and (
                        pr.high is None or p.price <= pr.high
                    )
                else:
                    band = v.price_band(qpw if qpw and qpw in v.price_bands else ppw)
                    if band is not None:
                        m.price_ok = p.price <= band[0] if pr.kind == "cheap" else p.price >= band[1]

        m.n_violations = sum(
            [
                m.brand_match is False,
                len(m.attribute_mismatches),
                m.negation_violated,
                m.price_ok is False,
                m.alternative_same_brand is True,
                m.accessory_target_match is False,
            ]
        )
        product_ok = m.product_word_match == "exact" or (
            m.product_word_match == "unknown" and m.brand_requested and m.brand_match is True
        )
        m.all_constraints_satisfied = bool(
            product_ok
            and m.brand_match is not False
            and not m.attribute_mismatches
            and not m.negation_violated
            and m.price_ok is not False
            and not m.missing_modifiers
            and m.alternative_same_brand is not True
            and m.accessory_target_match is not False
        )
        return m


def analyze_pairs(pairs: pd.DataFrame, analyst: AttributeAnalyst | None = None) -> list[Analysis]:
    """Analyse every row of a pairs frame (``query`` plus product columns)."""
    if analyst is None:
        prod_cols = [
            c
            for c in ("product_id", "title", "brand", "category", "attributes", "description", "price")
            if c in pairs.columns
        ]
        products = pairs[prod_cols].drop_duplicates(
            subset=["product_id"] if "product_id" in prod_cols else ["title"]
        )
        analyst = AttributeAnalyst.from_products(products)
    out = []
    for row in pairs.to_dict("records"):
        q = analyst.analyze_query(row.get("query", ""))
        p = analyst.analyze_product(row)
        out.append(Analysis(query=q, product=p, match=analyst.match(q, p, raw=row)))
    return out


# --- helpers ------------------------------------------------------------------------------


def _extract_price(s: str) -> tuple[PriceIntent | None, str]:
    m = PRICE_RANGE.search(s)
    if m and (m.group(1) or m.group(3) or m.group(5)):
        lo, hi = float(m.group(2)), float(m.group(4))
        return PriceIntent("range", low=min(lo, hi), high=max(lo, hi), text=m.group(0).strip()), _cut(s, m)
    m = PRICE_MAX.search(s)
    if m:
        return PriceIntent("max", high=float(m.group(2)), text=m.group(0).strip()), _cut(s, m)
    m = PRICE_MIN.search(s)
    if m and (m.group(1) or m.group(3)):
        return PriceIntent("min", low=float(m.group(2)), text=m.group(0).strip()), _cut(s, m)
    return None, s


def _cut(s: str, m: re.Match[str]) -> str:
    return re.sub(r"\s+", " ", s[: m.start()] + " " + s[m.end() :]).strip()


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return str(v)


def _add(d: dict[str, list[str]], key: str, value: str) -> None:
    vals = d.setdefault(key, [])
    if value and value not in vals:
        vals.append(value)


def _category_terms(category: str | None) -> list[str]:
    if not category:
        return []
    out = []
    for part in str(category).split(">"):
        toks = [t for t in tokenize(part) if t not in STOPWORDS]
        if toks:
            out.append(phrase(toks))
    return out


@lru_cache(maxsize=100_000)
def _key(name: str | None) -> str:
    """The matching key of a brand or name: normalized, singular tokens ('Crocs' → 'croc')."""
    return phrase(tokenize(name)) if name else ""


def _prefix_in(word: str, vocab: set[str]) -> bool:
    """Abbreviations and compounds: 'elec' ~ 'electric', 'deck' ~ 'deckover'."""
    if len(word) < 4:
        return False
    return any(len(t) >= 4 and (t.startswith(word) or word.startswith(t)) for t in vocab)

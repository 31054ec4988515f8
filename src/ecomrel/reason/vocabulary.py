"""Word lists for the attribute analyst: a few generic ones built in, the rest learned from the catalogue.

Brands, product words (what shoppers search for) and attribute values differ from store to store,
so :meth:`Vocabulary.from_products` learns them from the store's own products: the brand column
(or, where it is empty, recurring title prefixes), category leaves, attribute maps and the head
nouns of titles. Only words that mean the same in every store are built in: colours, materials,
genders, sizes, units, and the cue words of negation, price, "alternative to" and accessories.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz import fuzz, process

# --- built-in generic words ---------------------------------------------------------------

COLOURS = frozenset(
    """black white red blue green yellow orange purple pink brown grey gray beige ivory cream tan
        navy teal turquoise maroon burgundy silver gold bronze copper chrome nickel khaki olive
        charcoal aqua lavender violet magenta coral mint rose clear transparent multicolor
        multicolour natural walnut espresso cherry oak mahogany almond bisque""".split()  # noqa: SIM905
)
COLOUR_SYNONYMS = {"gray": "grey", "multicolour": "multicolor", "transparent": "clear"}
MATERIALS = frozenset(
    """leather suede cotton wool silk linen polyester nylon denim canvas rubber plastic vinyl metal
        steel aluminum aluminium iron brass wood wooden bamboo glass ceramic porcelain stone marble
        granite concrete mdf plywood fiberglass acrylic velvet fleece cashmere latex foam mesh
        wicker rattan cast-iron titanium carbon silicone resin pvc copper""".split()  # noqa: SIM905
)
MATERIAL_SYNONYMS = {"aluminium": "aluminum", "wooden": "wood"}
GENDERS = {
    "men": "men",
    "mens": "men",
    "man": "men",
    "male": "men",
    "gentlemen": "men",
    "women": "women",
    "womens": "women",
    "woman": "women",
    "ladies": "women",
    "lady": "women",
    "female": "women",
    "kids": "kids",
    "kid": "kids",
    "children": "kids",
    "child": "kids",
    "boys": "boys",
    "boy": "boys",
    "girls": "girls",
    "girl": "girls",
    "unisex": "unisex",
    "baby": "baby",
    "toddler": "baby",
    "infant": "baby",
}
SIZE_WORDS = frozenset(
    """xxs xs small medium large xl xxl xxxl 2xl 3xl petite tall plus mini compact oversized king
        queen twin full""".split()  # noqa: SIM905
)

STOPWORDS = frozenset(
    """a an the and or of for with in on to by at from is are be it its this that these those my me
        i you your we our need want looking look find get buy some any do does should would will
        what which who how why where when best good great top very really most more please one x vs""".split()  # noqa: SIM905
)
QUESTION_CUES = frozenset("what which how why where when can does do should is are who best".split())  # noqa: SIM905

ACCESSORY_WORDS = frozenset(
    """case cover charger cable cord adapter filter cartridge refill replacement lid strap band
        mount holder stand bag sleeve protector battery blade bulb part insole liner pad sheath
        nozzle attachment accessory accessorie bracket bit gasket seal""".split()  # noqa: SIM905
)
"""Product words that usually name an accessory or spare part of another product."""

NEGATION_PATTERNS = (
    re.compile(r"\bwithout (?:an? |the |any )?((?:[a-z0-9]+ ?){1,2})"),
    re.compile(r"\bno (?!more\b|longer\b)((?:[a-z0-9]+ ?){1,2})"),
    re.compile(r"\bnot (?:an? |made of |made from )?((?:[a-z0-9]+ ?){1,2})"),
    re.compile(r"\bnon[- ]?((?:[a-z0-9]+ ?){1})"),
    re.compile(r"\b(?:except|excluding|minus) ((?:[a-z0-9]+ ?){1,2})"),
    re.compile(r"\b([a-z0-9]+)[- ]free\b"),
    re.compile(r"(?:^| )-([a-z][a-z0-9]+)"),
)
"""Regexes whose first group is the negated term ("without X", "no X", "not X", "X-free", "-X")."""

PRICE_MAX = re.compile(
    r"\b(?:under|below|less than|cheaper than|max(?:imum)?|up to|within|no more than|at most|<)\s*"
    r"(\$\s*)?(\d+(?:\.\d+)?)(?![\d_/])\s*(\$|dollars?|usd|bucks)?"
)
PRICE_MIN = re.compile(
    r"\b(?:over|above|more than|at least|min(?:imum)?|>)\s*(\$\s*)?(\d+(?:\.\d+)?)(?![\d_/])\s*"
    r"(\$|dollars?|usd|bucks)?"
)
PRICE_RANGE = re.compile(
    r"\b(?:between\s*)?(\$\s*)?(\d+(?:\.\d+)?)\s*(?:-|to|and)\s*(\$\s*)?(\d+(?:\.\d+)?)(?![\d_/])\s*"
    r"(\$|dollars?|usd|bucks)?"
)
CONTAINER_WORDS = frozenset("set kit pack piece collection bundle combo assortment system unit lot".split())  # noqa: SIM905
"""Title heads that name a packaging, not a product: "Drill Bit Set" is searched as "drill bit"."""
CHEAP_CUES = (
    "cheapest",
    "cheap",
    "budget",
    "affordable",
    "inexpensive",
    "low cost",
    "low-cost",
    "bargain",
    "discount",
    "economical",
    "value",
)
PREMIUM_CUES = (
    "premium",
    "luxury",
    "high end",
    "high-end",
    "expensive",
    "designer",
    "top of the line",
    "professional grade",
)

ALT_BEFORE = re.compile(
    r"\b(?:like|similar to|alternative to|alternatives to|alternative for|instead of|compared to|"
    r"comparable to|dupe for|dupe of|dupes for|cheaper version of|version of)\s+((?:[a-z0-9']+ ?){1,3})"
)
ALT_AFTER = re.compile(
    r"((?:[a-z0-9']+ ){0,2}[a-z0-9']+)\s+(?:alternative|alternatives|dupe|dupes|knockoff|knock off|"
    r"lookalike|look alike|equivalent)\b"
)
ALT_BARE = re.compile(r"\b(?:dupe|dupes|alternative|alternatives|knockoff|similar)\b")

ACCESSORY_TARGET = re.compile(
    r"\b(?:for|compatible with|fits|fit for|designed for|to fit|works with)\s+((?:[a-z0-9'_./-]+ ?){1,4})"
)
"""The target of an accessory relation: "case for iphone", "filter compatible with whirlpool"."""

TITLE_CUTS = re.compile(
    r"\s(?:with|in|for|featuring|includes|including|by|compatible|fits|that|w/)\s|,|\(|\[|\s-\s|\||;|:"
)
"""Where a title's head noun phrase ends: "Gas Lawn Mower| with Briggs Engine", "Faucet| in Chrome"."""

# Units: (regex alternative, canonical unit, attribute family, may stand apart from the number)
_UNITS: tuple[tuple[str, str, str, bool], ...] = (
    (r"cu\.?\s*ft\.?|cubic\s*f(?:ee|oo)t", "cuft", "capacity", True),
    (r"sq\.?\s*ft\.?|square\s*f(?:ee|oo)t", "sqft", "area", True),
    (r"fl\.?\s*oz\.?", "floz", "capacity", True),
    (r"in\.|inch(?:es)?\b|in\b|\"", "in", "length", True),
    (r"ft\.|ft\b|feet\b|foot\b|'", "ft", "length", True),
    (r"mm\b|millimet(?:er|re)s?\b", "mm", "length", True),
    (r"cm\b|centimet(?:er|re)s?\b", "cm", "length", True),
    (r"m\b|met(?:er|re)s?\b", "m", "length", False),
    (r"oz\.?|ounces?\b", "oz", "weight", True),
    (r"lbs?\.?|pounds?\b", "lb", "weight", True),
    (r"kg\b|kilograms?\b", "kg", "weight", True),
    (r"g\b|grams?\b", "g", "weight", False),
    (r"gal\.?|gallons?\b", "gal", "capacity", True),
    (r"qt\.?|quarts?\b", "qt", "capacity", True),
    (r"ml\b|millilit(?:er|re)s?\b", "ml", "capacity", True),
    (r"l\b|lit(?:er|re)s?\b", "l", "capacity", False),
    (r"watts?\b|w\b", "w", "power", False),
    (r"volts?\b|v\b", "v", "power", False),
    (r"amps?\b|a\b", "a", "power", False),
    (r"btu\b", "btu", "power", True),
    (r"hp\b", "hp", "power", True),
    (r"mah\b", "mah", "power", True),
    (r"gb\b", "gb", "storage", True),
    (r"tb\b", "tb", "storage", True),
    (r"-?packs?\b|pk\b|pcs?\.?|pieces?\b|count\b|ct\.?|pairs?\b", "pack", "pack_size", True),
)
UNIT_FAMILY = {canon: fam for _, canon, fam, _ in _UNITS}
_NUM = r"(?<![a-wyz0-9./_])(\d+(?:\.\d+)?(?:[- ]\d+/\d+|/\d+)?)"
_MEASURE_RE = re.compile(
    _NUM
    + r"(?:\s*-?\s*)("
    + "|".join(f"(?:{rx})" for rx, _, _, sep in _UNITS if sep)
    + r")"
    + r"|"
    + _NUM
    + r"("
    + "|".join(f"(?:{rx})" for rx, _, _, sep in _UNITS if not sep)
    + r")"
)
_SYNONYM_CUE = re.compile(r"\b(?:also sold as|also known as|also called|aka|a\.k\.a\.)\s*:?\s*([^.;()]+)")
_PACK_OF = re.compile(r"\b(?:pack|set|box|case|bundle|lot) of (\d+)\b")
_TOKEN_RE = re.compile(r"\d+(?:[./]\d+)*_[a-z]+|[a-z0-9]+(?:[./][0-9]+)*")


def _canon_unit(raw: str) -> str:
    raw = raw.strip().lower()
    for rx, canon, _, _ in _UNITS:
        if re.fullmatch(rf"(?:{rx})\.?", raw):
            return canon
    return raw


def _canon_number(raw: str) -> str:
    """'1-1/2' → '1.5', '3/4' → '0.75', '2.50' → '2.5': the same size written differently compares equal."""
    raw = raw.strip()
    try:
        if re.fullmatch(r"\d+[- ]\d+/\d+", raw):
            whole, frac = re.split(r"[- ]", raw)
            num, den = frac.split("/")
            value = int(whole) + int(num) / int(den)
        elif "/" in raw:
            num, den = raw.split("/")
            value = int(num) / int(den)
        else:
            value = float(raw)
    except (ValueError, ZeroDivisionError):
        return raw
    return f"{value:g}"


def normalize_text(text: Any) -> str:
    """Lower-case, HTML-unescaped text with measurements glued to canonical units ('3 in.' → '3_in')."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    s = html.unescape(str(text)).lower().replace("’", "'").replace("&", " and ")
    s = _PACK_OF.sub(lambda m: f" {m.group(1)}_pack ", s)

    def glue(m: re.Match[str]) -> str:
        num, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return f" {_canon_number(num)}_{_canon_unit(unit)} "

    s = _MEASURE_RE.sub(glue, s)
    return re.sub(r"\s+", " ", s).strip()


@lru_cache(maxsize=200_000)
def singular(word: str) -> str:
    """A cheap English singular form, enough to match 'batteries'/'battery', 'shoes'/'shoe'."""
    w = word
    if len(w) <= 3 or not w.isalpha() or w.endswith(("ss", "us", "is", "ous", "ics")):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "zes", "sses")):
        return w[:-2]
    if w.endswith("ves") and w[:-3] in {"kni", "shel", "hal", "lea", "wol", "loa", "sel"}:
        return w[:-3] + ("fe" if w.startswith("kni") else "f")
    if w.endswith("s") and not w.endswith("'s"):
        return w[:-1]
    return w


def tokenize(text: str, already_normalized: bool = False) -> list[str]:
    """Tokens of normalized text, singular forms; measurements stay one token ('3_in')."""
    s = text if already_normalized else normalize_text(text)
    s = s.replace("'s ", " ").replace("'", "")
    return [singular(t) for t in _TOKEN_RE.findall(s)]


def is_measure(token: str) -> bool:
    return "_" in token and token.split("_", 1)[0][:1].isdigit()


def measure_family(token: str) -> str | None:
    return UNIT_FAMILY.get(token.split("_", 1)[1]) if is_measure(token) else None


def is_code(token: str) -> bool:
    """Numbers, model numbers and sizes: never product words."""
    return any(ch.isdigit() for ch in token)


def generic_attribute(token: str) -> tuple[str, str] | None:
    """(type, canonical value) of a built-in attribute word or measurement, else None."""
    if token in COLOURS:
        return "color", COLOUR_SYNONYMS.get(token, token)
    if token in MATERIALS:
        return "material", MATERIAL_SYNONYMS.get(token, token)
    if token in GENDERS:
        return "gender", GENDERS[token]
    if token in SIZE_WORDS:
        return "size", token
    fam = measure_family(token)
    if fam:
        return fam, token
    return None


def phrase(tokens: Iterable[str]) -> str:
    return " ".join(tokens)


def title_head(title: str) -> tuple[list[str], str | None]:
    """(tokens of the head noun phrase, accessory target text or None) of a product title.

    The head phrase is the part before the first cut word ("with", "in", "for", a comma ...) with
    trailing sizes, codes, colours and stopwords removed; "X for Y" gives the accessory target Y.
    """
    s = normalize_text(title)
    target = None
    m = ACCESSORY_TARGET.search(s)
    if m:
        target = m.group(1).strip()
    seg = TITLE_CUTS.split(f" {s} ", maxsplit=1)[0]
    toks = tokenize(seg, already_normalized=True)
    while toks and (
        is_code(toks[-1]) or toks[-1] in STOPWORDS or generic_attribute(toks[-1]) or len(toks[-1]) < 2
    ):
        toks.pop()
    return toks, target


# --- the learned vocabulary ---------------------------------------------------------------


@dataclass
class Vocabulary:
    """What one catalogue calls things: brands, product words, categories, attribute values, prices."""

    brands: set[str] = field(default_factory=set)
    product_words: dict[str, int] = field(default_factory=dict)
    category_terms: dict[str, list[str]] = field(default_factory=dict)
    attribute_values: dict[str, str] = field(default_factory=dict)
    median_price: dict[str, float] = field(default_factory=dict)
    brand_names: dict[str, str] = field(default_factory=dict)
    brand_product_words: dict[str, str] = field(default_factory=dict)
    price_bands: dict[str, list[float]] = field(default_factory=dict)
    word_categories: dict[str, list[str]] = field(default_factory=dict)
    word_attribute_keys: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    max_brand_tokens: int = 4

    # --- learning -----------------------------------------------------------------------
    @classmethod
    def from_products(cls, products: pd.DataFrame, min_count: int = 2) -> Vocabulary:
        """Learn the vocabulary from a products frame (columns as in ``data/schema.py``; only
        ``title`` is required)."""
        if "title" not in products.columns:
            raise ValueError("products frame needs a 'title' column to learn a vocabulary")
        titles = [normalize_text(t) for t in products["title"].tolist()]
        n = len(titles)
        brands_col = products["brand"].tolist() if "brand" in products.columns else [None] * n
        cats_col = products["category"].tolist() if "category" in products.columns else [None] * n
        attrs_col = products["attributes"].tolist() if "attributes" in products.columns else [None] * n
        price_col = products["price"].tolist() if "price" in products.columns else [None] * n

        vocab = cls()
        # brands: the brand column, and recurring title prefixes where the column is empty
        for b in brands_col:
            if _present(b):
                toks = tokenize(str(b))
                if toks:
                    vocab.brands.add(phrase(toks))
                    vocab.brand_names.setdefault(phrase(toks), str(b).strip())
        if sum(_present(b) for b in brands_col) < 0.5 * max(n, 1):
            vocab.brands |= _title_prefix_brands(titles, min_count)

        # product words: title heads (unigram head + bigram ending in it) and category leaves
        heads: Counter[str] = Counter()
        for t in titles:
            toks, _ = title_head(t)
            toks = [x for x in toks if x not in vocab.brands]
            if toks:
                heads[toks[-1]] += 1
                if len(toks) >= 2 and not _blocked_word(toks[-2]) and toks[-2] not in _NOT_MODIFIERS:
                    heads[phrase(toks[-2:])] += 1
        for cat in cats_col:
            if not _present(cat):
                continue
            parts = [p.strip() for p in str(cat).split(">") if p.strip()]
            path = " > ".join(parts)
            for i, part in enumerate(parts):
                toks = [x for x in tokenize(part) if x not in STOPWORDS]
                if not toks:
                    continue
                term = phrase(toks)
                paths = vocab.category_terms.setdefault(term, [])
                if path not in paths:
                    paths.append(path)
                if i == len(parts) - 1:  # leaves name products: "Running Shoes" → "running shoe", "shoe"
                    heads[term] += min_count
                    heads[toks[-1]] += min_count
        vocab.product_words = {
            w: c
            for w, c in heads.items()
            if c >= min_count
            and not all(_blocked_word(x) for x in w.split())
            and w not in vocab.brands
            and len(w) > 1
        }

        # a second pass with the product words known: per product word its categories, attribute
        # keys, prices and brands; synonyms from "also sold as" lines of descriptions
        descs = products["description"].tolist() if "description" in products.columns else [None] * n
        cats: dict[str, Counter[str]] = defaultdict(Counter)
        keys: dict[str, Counter[str]] = defaultdict(Counter)
        n_word: Counter[str] = Counter()
        prices: dict[str, list[float]] = defaultdict(list)
        sold: dict[str, Counter[str]] = defaultdict(Counter)
        syn_pairs: list[tuple[str, str]] = []
        for t, b, cat, attrs, price, desc in zip(
            titles, brands_col, cats_col, attrs_col, price_col, descs, strict=True
        ):
            toks, _ = title_head(t)
            bkey = phrase(tokenize(str(b))) if _present(b) else vocab.brand_prefix(toks)
            if bkey and toks[: len(bkey.split())] == bkey.split() and len(toks) > len(bkey.split()):
                toks = toks[len(bkey.split()) :]
            cands = vocab.product_word_candidates(toks)
            if not cands:
                continue
            words = {cands[0], cands[0].split()[-1]}
            for w in words:
                n_word[w] += 1
                if _present(cat):
                    cats[w][" > ".join(x.strip() for x in str(cat).split(">"))] += 1
                if isinstance(attrs, dict):
                    keys[w].update(attribute_type(str(k)) for k, v in attrs.items() if _present(v))
                if _present(price):
                    prices[w].append(float(price))
            if _present(price):
                prices["*"].append(float(price))
            if bkey and cands[0].split()[-1] in vocab.product_words:
                sold[bkey][cands[0].split()[-1]] += 1
            if _present(desc):
                for m in _SYNONYM_CUE.finditer(normalize_text(desc)):
                    for alt in re.split(r",|/|\bor\b|;", m.group(1)):
                        atoks = [x for x in tokenize(alt, already_normalized=True) if x not in STOPWORDS]
                        if atoks and len(atoks) <= 3:
                            syn_pairs.append((cands[0], phrase(atoks)))
        vocab.word_categories = {w: [c for c, _ in cnt.most_common(3)] for w, cnt in cats.items()}
        vocab.word_attribute_keys = {
            w: sorted(k for k, c in cnt.items() if c >= 0.5 * n_word[w]) for w, cnt in keys.items()
        }
        vocab.brand_product_words = {b: c.most_common(1)[0][0] for b, c in sold.items() if c}
        for w, ps in prices.items():
            q = pd.Series(ps).quantile([0.35, 0.5, 0.65]).tolist()
            vocab.median_price[w] = float(q[1])
            vocab.price_bands[w] = [float(q[0]), float(q[2])]
        groups: dict[str, set[str]] = defaultdict(set)
        for a, b in syn_pairs:  # direct pairs only: no chaining through a generic word ("case")
            if a == b or (" " not in b and a.split()[-1] == b) or (" " not in a and b.split()[-1] == a):
                continue
            groups[a].add(b)
            groups[b].add(a)
        vocab.synonyms = {w: sorted(g) for w, g in groups.items()}
        for w in vocab.synonyms:  # a synonym is a product word too
            vocab.product_words.setdefault(w, min_count)

        # attribute values from the attributes maps: value → type
        for attrs in attrs_col:
            if not isinstance(attrs, dict):
                continue
            for key, value in attrs.items():
                if not _present(value):
                    continue
                vtoks = tokenize(str(value))
                if 0 < len(vtoks) <= 3:
                    vocab.attribute_values.setdefault(phrase(vtoks), attribute_type(str(key)))
        return vocab

    # --- lookups ------------------------------------------------------------------------
    def brand_name(self, key: str | None) -> str | None:
        """The catalogue's spelling of a brand key ('croc' → 'Crocs')."""
        return None if key is None else self.brand_names.get(key, key)

    def is_product_word(self, term: str) -> bool:
        return term in self.product_words

    def category_paths(self, term: str) -> list[str]:
        return self.category_terms.get(term, [])

    def attribute_of(self, term: str) -> tuple[str, str] | None:
        """(type, value) of an attribute term: catalogue values first, then the built-in lists."""
        if term in self.attribute_values:
            return self.attribute_values[term], term
        return generic_attribute(term) if " " not in term else None

    def correct_spelling(self, token: str) -> str | None:
        """The product word a misspelt token most likely means ('mowe' → 'mower'), or None."""
        if len(token) < 4 or not token.isalpha():
            return None
        return _closest(
            token, tuple(sorted(w for w in self.product_words if " " not in w and w[0] == token[0]))
        )

    def price_band(self, word: str | None) -> list[float] | None:
        """[35th, 65th] price percentile of a product word (of the whole catalogue if unknown):
        below the first is "cheap", above the second "premium"."""
        for w in (word, word.split()[-1] if word else None, "*"):
            if w and w in self.price_bands:
                return self.price_bands[w]
        return None

    def brand_prefix(self, toks: list[str]) -> str | None:
        """The longest known brand the token list starts with."""
        for k in range(min(self.max_brand_tokens, len(toks)), 0, -1):
            if phrase(toks[:k]) in self.brands:
                return phrase(toks[:k])
        return None

    def product_word_candidates(self, head: list[str]) -> list[str]:
        """Product words of a title head phrase, best first: the longest catalogue phrase ending at the
        head ("drill bit set"), then without a packaging word ("drill bit"), then the bare head."""
        if not head:
            return []
        ends = [len(head)]
        if head[-1] in CONTAINER_WORDS and len(head) > 1:
            ends.append(len(head) - 1)
        out: list[str] = []
        for end in ends:
            for n in (3, 2):
                if end >= n and phrase(head[end - n : end]) in self.product_words:
                    out.append(phrase(head[end - n : end]))
            out.append(head[end - 1])
        if len(out) > 1 and out[0] in CONTAINER_WORDS:
            out = out[1:] + out[:1]
        return list(dict.fromkeys(out))

    def categories_of(self, word: str | None) -> list[str]:
        """Categories whose products carry this product word (or its synonyms / head)."""
        if not word:
            return []
        out: list[str] = []
        for w in (word, *self.synonyms.get(word, []), word.split()[-1]):
            out += self.word_categories.get(w, []) + self.category_terms.get(w, [])
            if out:
                break
        return list(dict.fromkeys(out))

    def are_synonyms(self, a: str, b: str) -> bool:
        return a == b or b in self.synonyms.get(a, ()) or a.replace(" ", "") == b.replace(" ", "")

    def similar_kind(self, a: str, b: str, min_jaccard: float = 0.6) -> bool:
        """Two product words of the same category described by the same attributes: likely substitutes
        (a wok for a skillet, a tumbler for a water bottle)."""
        ca, cb = self.categories_of(a)[:1], self.categories_of(b)[:1]
        ka, kb = set(self.word_attribute_keys.get(a, ())), set(self.word_attribute_keys.get(b, ()))
        ka.discard("color")
        kb.discard("color")
        if not ca or ca != cb or not ka or not kb:
            return False
        return len(ka & kb) / len(ka | kb) >= min_jaccard

    # --- persistence (JSON, never pickle) ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "brands": sorted(self.brands),
            "product_words": self.product_words,
            "category_terms": self.category_terms,
            "attribute_values": self.attribute_values,
            "median_price": self.median_price,
            "brand_names": self.brand_names,
            "brand_product_words": self.brand_product_words,
            "price_bands": self.price_bands,
            "word_categories": self.word_categories,
            "word_attribute_keys": self.word_attribute_keys,
            "synonyms": self.synonyms,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        return cls(
            brands=set(d.get("brands", [])),
            product_words=dict(d.get("product_words", {})),
            category_terms={k: list(v) for k, v in d.get("category_terms", {}).items()},
            attribute_values=dict(d.get("attribute_values", {})),
            median_price=dict(d.get("median_price", {})),
            brand_names=dict(d.get("brand_names", {})),
            brand_product_words=dict(d.get("brand_product_words", {})),
            price_bands={k: list(v) for k, v in d.get("price_bands", {}).items()},
            word_categories={k: list(v) for k, v in d.get("word_categories", {}).items()},
            word_attribute_keys={k: list(v) for k, v in d.get("word_attribute_keys", {}).items()},
            synonyms={k: list(v) for k, v in d.get("synonyms", {}).items()},
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def stats(self) -> dict[str, int]:
        return {
            "brands": len(self.brands),
            "product_words": len(self.product_words),
            "category_terms": len(self.category_terms),
            "attribute_values": len(self.attribute_values),
            "synonym_groups": len(self.synonyms),
        }


def _present(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and pd.isna(v):
        return False
    return str(v).strip() != ""


_NOT_MODIFIERS = frozenset(["free", "non", "no", "without", "replacement", "new"])


def misspelt_in(word: str, tokens: set[str] | frozenset[str]) -> bool:
    """'rnning' ~ 'running': one or two typos in a word of five letters or more (same first letter,
    rapidfuzz similarity ≥ 0.8)."""
    if len(word) < 5 or not word.isalpha():
        return False
    pool = [t for t in tokens if abs(len(t) - len(word)) <= 2 and t[:1] == word[:1]]
    return process.extractOne(word, pool, scorer=fuzz.ratio, score_cutoff=80) is not None


def _blocked_word(w: str) -> bool:
    return is_code(w) or w in STOPWORDS or generic_attribute(w) is not None or len(w) < 2


def attribute_type(key: str) -> str:
    """The attribute type a product attribute key names (``"Colour"`` → ``"color"``, ...)."""
    k = key.strip().lower().replace("colour", "color")
    for t in (
        "color",
        "material",
        "gender",
        "size",
        "pack",
        "capacity",
        "length",
        "weight",
        "width",
        "height",
        "style",
        "pattern",
        "flavor",
        "scent",
        "model",
    ):
        if t in k:
            return "pack_size" if t == "pack" else t
    return re.sub(r"\W+", "_", k).strip("_") or "attribute"


def _title_prefix_brands(titles: list[str], min_count: int) -> set[str]:
    """Brands of a catalogue without a brand column: title prefixes that start ≥ min_count titles.

    A prefix is extended word by word while every title that starts with it continues the same way
    ("house" → "house of" → "house of fara"), so a brand is the longest prefix shared as a block.
    """
    toks = [tokenize(t, already_normalized=True)[:4] for t in titles]
    counts: Counter[tuple[str, ...]] = Counter()
    for ts in toks:
        for k in range(1, len(ts) + 1):
            counts[tuple(ts[:k])] += 1
    brands: set[str] = set()
    for ts in toks:
        if not ts or _blocked_word(ts[0]) or ts[0] in ACCESSORY_WORDS:
            continue
        first = counts[(ts[0],)]
        if first < min_count:
            continue
        k = 1
        while k < len(ts) and counts[tuple(ts[: k + 1])] == first and not is_code(ts[k]):
            k += 1
        while k > 1 and ts[k - 1] in STOPWORDS:
            k -= 1
        brands.add(phrase(ts[:k]))
    return brands


@lru_cache(maxsize=50_000)
def _closest(token: str, candidates: tuple[str, ...]) -> str | None:
    """The most similar candidate (rapidfuzz's normalised Indel similarity ≥ 0.8), ties to the first."""
    pool = [c for c in candidates if abs(len(c) - len(token)) <= 2]
    best = process.extractOne(token, pool, scorer=fuzz.ratio, score_cutoff=80)
    return best[0] if best else None

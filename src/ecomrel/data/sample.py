"""The built-in sample catalogue: a synthetic store whose relevance is hard in the ways real ones are.

:func:`generate_sample` builds products, queries, graded judgments and engagement logs from the
embedded vocabulary in :mod:`ecomrel.data.sample_vocab` (≈40 leaf categories, ≈180 product types).
Everything is drawn from one ``numpy.random.Generator`` seeded by ``seed``: same seed, same frames.
A sample too small for every type (fewer than 8 products per type) keeps whole categories, the
most useful first, so each type still has several products to tell apart.

Query kinds (``queries.kind``)
------------------------------
``bare`` ("skillet"), ``brand`` ("lodge skillet"), ``attribute`` ("12 in cast iron skillet"),
``negation`` ("sofa not leather", "rain jacket without hood", "running shoes not nike"),
``price`` ("tumbler under $30", "cheap air fryer"), ``alternative`` ("tumbler like yeti",
"cheaper alternative to dyson hair dryer"), ``accessory`` ("case for iphone 15", "cover for gas
grill"), ``question`` ("what do i need to clean a cast iron pan"), ``misspelling`` (a bare, brand
or attribute query with a typo: "skillit", "stanly tumbler"). Each query carries a hidden *intent*:
target product type(s), brand, required attribute values, one excluded value, a price ceiling, an
alternative-to brand. ``frequency`` is Zipf-like over a popularity order that favours bare and brand
queries (head) and leaves questions, negations and misspellings in the tail.

Ground-truth rules (``true_grade``)
-----------------------------------
For a query intent and a product, the first rule that applies decides:

1. The product's type is a target type of the query:
   a. it has the value the query excludes (negated attribute or brand) → **1**;
   b. else any stated constraint is violated — brand differs, an attribute value differs,
      price above the ceiling ("under $X"; "cheap" = the type's 35th price percentile;
      "cheaper alternative" = the median price of the named brand's products of that type),
      or the product *is* of the brand an ``alternative`` query wants to replace → **2**;
   c. else → **3**.
2. The product's type is a declared substitute of a target type (earbuds for headphones,
   a wok for a skillet): **2** if no constraint is violated and no excluded value is present,
   else **1**.
3. The product is an accessory or complement of a target type, or a target type is an accessory
   or complement of it (a case for "iphone 15", the phone for "case for iphone 15") → **1**.
4. The product is in the same leaf category as a target type → **1**.
5. Otherwise → **0** (including lexical look-alikes: "samsung tv" for "samsung phone case").

Candidates and annotator noise
------------------------------
Each query is judged on 15–40 products: true matches, same-type near misses (wrong brand,
attribute or price), excluded-value items, substitutes, accessories/complements, same-category
other types, lexical traps from other categories and random products, with per-query quotas so
that every grade is well represented. ``grade`` starts as ``true_grade``; then exactly
``round(noise · n)`` judgments, chosen at random, are flipped like a human annotator would err:
85 % to an adjacent grade, otherwise two steps; upwards (optimistic) with probability 0.65 where
both directions exist. ``source_label`` is the name of the (noisy) grade; ``raw_score`` is null;
``rater_count`` is 1.

Engagement
----------
A simulated store search ranks each query's candidates by a popularity-biased lexical score
(token overlap with title and brand + ``0.35·log popularity`` + noise), which sets ``position``.
Impressions ~ Binomial(frequency, view(position)) with view = 1 on the first four slots, then
0.85 per slot; clicks ~ Binomial(impressions, examination(position)·attractiveness) with
examination = 1/log2(position + 1) and attractiveness a logistic function of the *perceived* grade
(substitutes look like the real thing), popularity, price attractiveness and a boost for accessories
of the searched product (people searching "iphone 15" click cases); add-to-carts ~ Binomial(clicks,
p(true grade, price, popularity)); orders ~ Binomial(add-to-carts, 0.6). So clicks mostly follow
relevance, but popular substitutes draw many clicks and exact items ranked low are rarely seen —
the disagreements real logs have.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.data import sample_vocab as V
from ecomrel.data.schema import Dataset
from ecomrel.errors import ConfigError
from ecomrel.grades import DEFAULT_SCALE

KINDS: tuple[str, ...] = (
    "bare",
    "brand",
    "attribute",
    "negation",
    "price",
    "alternative",
    "accessory",
    "question",
    "misspelling",
)
KIND_SHARES: dict[str, float] = {
    "bare": 0.12,
    "brand": 0.13,
    "attribute": 0.15,
    "negation": 0.09,
    "price": 0.10,
    "alternative": 0.08,
    "accessory": 0.11,
    "question": 0.10,
    "misspelling": 0.12,
}
# How "head" a kind tends to be: bare and brand queries are typed most often.
_KIND_HEADNESS = {
    "bare": 1.6,
    "brand": 1.0,
    "attribute": 0.2,
    "price": 0.1,
    "accessory": 0.3,
    "alternative": -0.4,
    "negation": -0.9,
    "question": -1.3,
    "misspelling": -1.0,
}
# Categories kept first when a small sample cannot hold every type (related categories together).
_SMALL_SAMPLE_ORDER = (
    "Home > Kitchen > Cookware",
    "Home > Kitchen > Kitchen Utensils & Cleaning",
    "Home > Kitchen > Drinkware",
    "Electronics > Cell Phones",
    "Electronics > Cell Phone Accessories",
    "Clothing, Shoes & Jewelry > Shoes",
    "Garden & Outdoor > Grills & Outdoor Cooking",
    "Electronics > TV & Video",
    "Electronics > Audio",
    "Home > Furniture > Living Room Furniture",
    "Home > Bedding",
    "Tools & Home Improvement > Power Tools",
    "Pet Supplies > Dogs",
    "Beauty & Personal Care > Skin Care",
    "Clothing, Shoes & Jewelry > Outerwear",
    "Home > Kitchen > Small Appliances",
    "Electronics > Computers > Laptops",
    "Electronics > Computers > Computer Accessories",
)
# fmt: off
_STOP = frozenset({
    "a", "an", "and", "the", "for", "of", "to", "in", "with", "without", "not", "no", "non", "is", "i",
    "my", "do", "what", "how", "which", "can", "should", "need", "like", "under", "less", "than",
    "below", "best", "good", "get", "buy", "sell", "you", "me", "on", "at", "it", "that",
})
# fmt: on
_PRICE_STEPS = (
    5,
    10,
    15,
    20,
    25,
    30,
    40,
    50,
    60,
    75,
    100,
    150,
    200,
    250,
    300,
    400,
    500,
    600,
    750,
    1000,
    1500,
)


@dataclass
class _Intent:
    """What a query really asks for; only the generator sees it."""

    kind: str
    text: str
    types: tuple[int, ...]
    brand: str | None = None
    attrs: dict[str, frozenset[str]] = field(default_factory=dict)
    neg: tuple[str, frozenset[str]] | None = None  # (attribute or "brand", excluded values)
    price_max: float | None = None
    alt_brand: str | None = None


@dataclass
class _Store:
    types: list[V.ProductType]
    subs: list[set[int]]
    related: list[set[int]]
    cat_of: list[str]
    products: pd.DataFrame  # with helper columns type_idx, popularity
    by_type: list[np.ndarray]
    token_index: dict[str, np.ndarray]
    tokens: list[set[str]]
    # column copies for fast per-product lookups in the grading loop
    p_type: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    p_brand: list[str] = field(default_factory=list)
    p_attrs: list[dict] = field(default_factory=list)
    p_price: np.ndarray = field(default_factory=lambda: np.zeros(0))
    type_median_price: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.p_type = self.products["type_idx"].to_numpy()
        self.p_brand = self.products["brand"].tolist()
        self.p_attrs = self.products["attributes"].tolist()
        self.p_price = self.products["price"].to_numpy()
        self.type_median_price = np.array(
            [np.median(self.p_price[b]) if len(b) else np.nan for b in self.by_type]
        )


# --- text helpers ---------------------------------------------------------------------------

_UNITS = frozenset({"in", "oz", "qt", "lb", "ft", "fl", "gal", "mm", "l", "w"})


_ACRONYMS = {"tv": "TV", "usb": "USB", "hdmi": "HDMI", "led": "LED", "bbq": "BBQ", "pvc": "PVC", "tpe": "TPE"}


def _title_case(text: str) -> str:
    words = []
    for w in text.split(" "):
        if w.lower() in _ACRONYMS:
            words.append(_ACRONYMS[w.lower()])
        elif not w or any(c.isdigit() for c in w) or any(c.isupper() for c in w) or w in _UNITS:
            words.append(w)
        else:
            words.append("-".join(p[:1].upper() + p[1:] for p in w.split("-")))
    return " ".join(words)


def _stem(tok: str) -> str:
    if len(tok) > 4 and tok.endswith("es") and not tok.endswith("ses"):
        return tok[:-2]
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        return tok[:-1]
    return tok


def _tokens(text: str) -> set[str]:
    """Lower-cased, lightly stemmed content tokens (the simulated store search's analyser)."""
    return {_stem(t) for t in re.findall(r"[a-z0-9]+", text.lower().replace("'", "")) if t not in _STOP}


def _q_value(attr: str, value: str, rng: np.random.Generator) -> str:
    """How a user types an attribute value."""
    v = value.lower()
    if attr == "gender" and rng.random() < 0.4:
        v = v.replace("'", "")
    if attr == "size" and v.isdigit():  # shoe sizes: "size 10 running shoes"
        v = f"size {v}"
    return v


def _suffix_value(value: str) -> bool:
    return value.lower().startswith(("set of", "with ", "seats ", "for "))


def _typo(word: str, rng: np.random.Generator) -> str:
    if word in V.COMMON_MISSPELLINGS and rng.random() < 0.6:
        return V.COMMON_MISSPELLINGS[word]
    if len(word) < 4:
        return word + word[-1]
    i = int(rng.integers(1, len(word) - 1))
    op = rng.choice(["drop", "swap", "double", "neighbour"])
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "swap":
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    nb = V.KEYBOARD_NEIGHBOURS.get(word[i], word[i])
    return word[:i] + nb[int(rng.integers(len(nb)))] + word[i + 1 :]


def _round_price(p: float) -> float:
    if p < 20:
        return max(2.99, round(p) - 0.01)
    if p < 200:
        return round(p) - 0.01
    return round(p / 10) * 10 - 0.01


# --- the store -------------------------------------------------------------------------------


def _choose_types(all_types: list[V.ProductType], n_products: int) -> list[V.ProductType]:
    """Every type when the sample is big enough; otherwise whole categories, most useful first."""
    budget = max(12, n_products // 8)
    if budget >= len(all_types):
        return all_types
    cats = list(dict.fromkeys([*_SMALL_SAMPLE_ORDER, *(t.category for t in all_types)]))
    chosen: list[V.ProductType] = []
    for c in cats:
        group = [t for t in all_types if t.category == c]
        if chosen and len(chosen) + len(group) > budget:
            continue
        chosen.extend(group)
    return chosen


def _build_store(n_products: int, rng: np.random.Generator) -> _Store:
    types = _choose_types(V.build_types(), n_products)
    idx = {t.name: i for i, t in enumerate(types)}
    subs: list[set[int]] = [set() for _ in types]
    related: list[set[int]] = [set() for _ in types]
    for i, t in enumerate(types):
        for name in t.substitutes:
            if name in idx:
                subs[i].add(idx[name])
                subs[idx[name]].add(i)
        for name in (*t.accessory_for, *t.complements):
            if name in idx:
                related[i].add(idx[name])
                related[idx[name]].add(i)

    # Allocate products to types: at least 2 each, the rest by type weight.
    w = np.array([t.weight for t in types])
    base = min(2, n_products // len(types))
    counts = np.full(len(types), base) + rng.multinomial(n_products - base * len(types), w / w.sum())
    rows = []
    for ti, t in enumerate(types):
        bw = np.array([V.POPULAR_BRANDS.get(b, 1.0) ** 0.5 for b in t.brands])
        for _ in range(int(counts[ti])):
            rows.append(_make_product(t, ti, bw / bw.sum(), rng))
    order = rng.permutation(len(rows))
    products = pd.DataFrame([rows[i] for i in order])
    width = max(5, len(str(len(products))))
    products.insert(0, "product_id", [f"P{i:0{width}d}" for i in range(len(products))])

    by_type = [np.flatnonzero(products["type_idx"].to_numpy() == ti) for ti in range(len(types))]
    toks = [_tokens(f"{t} {b}") for t, b in zip(products["title"], products["brand"], strict=True)]
    index: dict[str, list[int]] = {}
    for i, ts in enumerate(toks):
        for tok in ts:
            index.setdefault(tok, []).append(i)
    return _Store(
        types=types,
        subs=subs,
        related=related,
        cat_of=[t.category for t in types],
        products=products,
        by_type=by_type,
        token_index={k: np.array(v) for k, v in index.items()},
        tokens=toks,
    )


def _make_product(t: V.ProductType, ti: int, brand_p: np.ndarray, rng: np.random.Generator) -> dict:
    brand = str(rng.choice(t.brands, p=brand_p))
    attrs: dict[str, str] = {}
    hidden: set[str] = set()
    for k, m in t.brand_values.items():
        attrs[k] = str(rng.choice(m[brand]))
    scale = 1.0
    for k, vals in t.attrs.items():
        if k in attrs:  # fixed by the brand (a Samsung case fits a Galaxy)
            continue
        j = int(rng.integers(len(vals)))
        v = vals[j]
        if v.startswith("~"):
            v = v[1:]
            hidden.add(k)
        attrs[k] = v
        if k == t.pscale and len(vals) > 1:
            scale *= 1.3 ** (j - (len(vals) - 1) / 2)
    tier = 1.8 if brand in V.PREMIUM_BRANDS else 0.6 if brand in V.BUDGET_BRANDS else 1.0
    base = t.price
    if attrs.get("model") in V.MODEL_PRICE:
        base, tier = V.MODEL_PRICE[attrs["model"]], 1.0
    price = _round_price(base * tier * scale * float(rng.lognormal(0.0, 0.22)))

    noun = t.name if rng.random() < 0.8 or not t.synonyms else str(rng.choice(t.synonyms))
    parts = [brand]
    if "model" not in attrs and rng.random() < 0.45:
        parts.append(str(rng.choice(V.LINE_WORDS)))
    if "gender" in attrs:
        parts.append(_title_case(attrs["gender"]))
    for k in t.title_attrs:
        if k in ("gender", "colour", t.compat) or k in hidden or attrs[k].lower() in noun:
            continue
        parts.append(attrs[k] if k in t.brand_values else _title_case(attrs[k]))
    parts.append(_title_case(noun))
    title = " ".join(parts)
    if t.compat == "compatible with":
        title += f" for {attrs[t.compat]}"
    elif t.compat:
        title += f" for {attrs[t.compat]} {_title_case(t.accessory_for[0])}s"
    if "colour" in attrs:
        title += f", {_title_case(attrs['colour'])}"

    feats = [f"{k}: {v}" for k, v in attrs.items() if k not in ("colour", "gender")]
    sentences = [f"The {brand} {noun} for everyday use."]
    if t.uses:
        sentences.append(f"Great for {rng.choice(t.uses)}.")
    if feats:
        sentences.append("Features — " + "; ".join(feats) + ".")
    if t.accessory_for and not t.compat:
        sentences.append(f"Works with most {t.accessory_for[0]}s.")
    if t.synonyms and rng.random() < 0.4:
        sentences.append(f"Also sold as: {', '.join(t.synonyms[:2])}.")
    sentences.extend(rng.choice(V.DESCRIPTION_FILLERS, size=2, replace=False).tolist())
    return {
        "title": title,
        "brand": brand,
        "category": t.category,
        "attributes": attrs,
        "description": " ".join(sentences),
        "price": price,
        "type_idx": ti,
        "popularity": V.POPULAR_BRANDS.get(brand, 1.0) * t.weight * float(rng.lognormal(0.0, 0.9)),
    }


# --- queries ---------------------------------------------------------------------------------


def _word(t: V.ProductType, rng: np.random.Generator, p_syn: float = 0.35) -> str:
    return str(rng.choice(t.synonyms)) if t.synonyms and rng.random() < p_syn else t.name


def _pick_type(store: _Store, rng: np.random.Generator, ok=None) -> int | None:
    cand = [i for i, t in enumerate(store.types) if len(store.by_type[i]) and (ok is None or ok(i, t))]
    if not cand:
        return None
    w = np.array([store.types[i].weight for i in cand])
    return int(cand[int(rng.choice(len(cand), p=w / w.sum()))])


def _seed_product(store: _Store, ti: int, rng: np.random.Generator) -> pd.Series:
    return store.products.iloc[int(rng.choice(store.by_type[ti]))]


def _shown_attrs(t: V.ProductType, attrs: dict) -> list[str]:
    return [k for k in t.attrs if k != t.compat and not any(v == "~" + attrs[k] for v in t.attrs[k])]


def _q_bare(store, rng) -> _Intent:
    ti = _pick_type(store, rng)
    return _Intent("bare", _word(store.types[ti], rng), (ti,))


def _q_brand(store, rng) -> _Intent:
    ti = _pick_type(store, rng)
    t, p = store.types[ti], _seed_product(store, ti, rng)
    b, w = p["brand"].lower(), _word(t, rng)
    if "model" in t.brand_values and rng.random() < 0.5:  # "samsung galaxy s24"
        model = p["attributes"]["model"]
        return _Intent(
            "brand", f"{b} {model.lower()}", (ti,), brand=p["brand"], attrs={"model": frozenset([model])}
        )
    text = f"{w} {b}" if rng.random() < 0.2 else f"{b} {w}"
    return _Intent("brand", text, (ti,), brand=p["brand"])


def _q_attribute(store, rng) -> _Intent:
    ti = _pick_type(store, rng, lambda i, t: len(t.attrs) > 0)
    t, p = store.types[ti], _seed_product(store, ti, rng)
    keys = _shown_attrs(t, p["attributes"])
    if not keys:
        return _q_bare(store, rng)
    chosen = list(rng.choice(keys, size=min(len(keys), 1 + int(rng.random() < 0.35)), replace=False))
    chosen.sort(key=lambda k: (k != "gender", k != "colour"))
    pre, post = [], []
    for k in chosen:
        v = p["attributes"][k]
        (post if _suffix_value(v) else pre).append(_q_value(k, v, rng))
    brand = p["brand"] if rng.random() < 0.15 else None
    words = ([brand.lower()] if brand else []) + pre + [_word(t, rng, 0.25)] + post
    return _Intent(
        "attribute",
        " ".join(words),
        (ti,),
        brand=brand,
        attrs={k: frozenset([p["attributes"][k]]) for k in chosen},
    )


def _negations(t: V.ProductType) -> list[tuple[str | None, str, str]]:
    out: list[tuple[str | None, str, str]] = list(t.negations)
    if "material" in t.attrs and len(t.attrs["material"]) > 1:
        out.extend((None, "material", v) for v in t.attrs["material"])
    return out


def _q_negation(store, rng) -> _Intent:
    ti = _pick_type(store, rng, lambda i, t: bool(_negations(t)))
    t = store.types[ti]
    negs = _negations(t)
    w = _word(t, rng, 0.25)
    brands = [b for b in store.products["brand"].to_numpy()[store.by_type[ti]] if not _tokens(b) & _tokens(w)]
    if brands and (not negs or rng.random() < 0.15):  # brand negation: "running shoes not nike"
        b = str(rng.choice(brands))
        tmpl = str(rng.choice(["{w} not {b}", "{w} except {b}", "non {b} {w}"]))
        return _Intent("negation", tmpl.format(w=w, b=b.lower()), (ti,), neg=("brand", frozenset([b])))
    phrase, k, v = negs[int(rng.integers(len(negs)))]
    if phrase is None:
        tmpl = str(rng.choice(["{w} not {v}", "non {v} {w}", "{w} no {v}", "{w} that is not {v}"]))
        phrase = tmpl.format(w=w, v=v.lower())
    return _Intent("negation", phrase, (ti,), neg=(k, frozenset(v.split("|"))))


def _price_step(x: float) -> int:
    return int(min(_PRICE_STEPS, key=lambda s: abs(math.log(s) - math.log(max(x, 1.0)))))


def _q_price(store, rng) -> _Intent:
    ti = _pick_type(store, rng)
    t = store.types[ti]
    prices = store.products["price"].to_numpy()[store.by_type[ti]]
    w = _word(t, rng, 0.25)
    if rng.random() < 0.4:
        word = str(rng.choice(["cheap", "affordable", "budget", "inexpensive", "cheapest", "low cost"]))
        return _Intent("price", f"{word} {w}", (ti,), price_max=float(np.quantile(prices, 0.35)))
    x = _price_step(float(np.quantile(prices, rng.uniform(0.3, 0.7))))
    tmpl = str(
        rng.choice(
            [
                "{w} under ${x}",
                "{w} under {x} dollars",
                "{w} less than ${x}",
                "{w} below ${x}",
                "{w} under {x}",
            ]
        )
    )
    intent = _Intent("price", tmpl.format(w=w, x=x), (ti,), price_max=float(x))
    if rng.random() < 0.3:
        p = _seed_product(store, ti, rng)
        keys = _shown_attrs(t, p["attributes"])
        if keys:
            k = str(rng.choice(keys))
            v = p["attributes"][k]
            if not _suffix_value(v):
                intent.text = f"{_q_value(k, v, rng)} {intent.text}"
                intent.attrs = {k: frozenset([v])}
    return intent


def _q_alternative(store, rng) -> _Intent:
    def ok(i, t):
        return bool(set(store.products["brand"].to_numpy()[store.by_type[i]]) & V.ALTERNATIVE_TARGETS)

    ti = _pick_type(store, rng, ok)
    if ti is None:
        return _q_brand(store, rng)
    t = store.types[ti]
    brands = store.products["brand"].to_numpy()[store.by_type[ti]]
    b = str(rng.choice(sorted(set(brands) & V.ALTERNATIVE_TARGETS)))
    w = _word(t, rng, 0.25)
    if rng.random() < 0.25:
        prices = store.products["price"].to_numpy()[store.by_type[ti]][brands == b]
        return _Intent(
            "alternative",
            f"cheaper alternative to {b.lower()} {w}",
            (ti,),
            alt_brand=b,
            price_max=float(np.median(prices)),
        )
    tmpl = str(
        rng.choice(
            [
                "{w} like {b}",
                "{b} alternative {w}",
                "{w} similar to {b}",
                "{b} dupe {w}",
                "{b} {w} alternative",
                "{w} like {b} but cheaper",
            ]
        )
    )
    intent = _Intent("alternative", tmpl.format(w=w, b=b.lower()), (ti,), alt_brand=b)
    if "cheaper" in intent.text:
        prices = store.products["price"].to_numpy()[store.by_type[ti]][brands == b]
        intent.price_max = float(np.median(prices))
    return intent


_SHORT_ACCESSORY = {
    "phone case": "case",
    "battery pack": "battery",
    "replacement straw lid": "straw lid",
    "ink cartridge": "ink",
    "screen protector": "screen protector",
    "laptop sleeve": "sleeve",
    "tv wall mount": "mount",
}


def _q_accessory(store, rng) -> _Intent:
    names = {t.name: i for i, t in enumerate(store.types)}

    def ok(i, t):
        return any(m in names and len(store.by_type[names[m]]) for m in t.accessory_for)

    ai = _pick_type(store, rng, ok)
    if ai is None:
        return _q_bare(store, rng)
    a = store.types[ai]
    aw = a.name if rng.random() < 0.6 or not a.synonyms else str(rng.choice(a.synonyms))
    if a.compat and rng.random() < 0.75:
        p = _seed_product(store, ai, rng)
        v = p["attributes"][a.compat]
        main = a.accessory_for[0]
        target = v.lower() if a.compat == "compatible with" else f"{v} {main}"
        short = _SHORT_ACCESSORY.get(a.name, aw) if rng.random() < 0.5 else aw
        return _Intent("accessory", f"{short} for {target}", (ai,), attrs={a.compat: frozenset([v])})
    mains = [m for m in a.accessory_for if m in names and len(store.by_type[names[m]])]
    m = store.types[names[str(rng.choice(mains))]]
    mw = _word(m, rng, 0.3)
    if rng.random() < 0.25:
        mb = _seed_product(store, names[m.name], rng)["brand"].lower()
        mw = f"{mb} {mw}"
    templates = ["{a} for {m}", "{a} for {m}", "{a} for my {m}"]
    if not set(mw.split()) & set(aw.split()):  # "pellet grill wood pellets", not "stroller stroller caddy"
        templates.append("{m} {a}")
    return _Intent("accessory", str(rng.choice(templates)).format(a=aw, m=mw), (ai,))


def _q_question(store, rng) -> _Intent:
    names = {t.name: i for i, t in enumerate(store.types) if len(store.by_type[i])}
    fixed = [q for q in V.QUESTIONS if all(n in names for n in q[1])]
    if fixed and rng.random() < 0.55:
        text, targets, attrs = fixed[int(rng.integers(len(fixed)))]
        return _Intent(
            "question",
            text,
            tuple(names[n] for n in targets),
            attrs={k: frozenset(v) for k, v in attrs.items()},
        )
    ti = _pick_type(store, rng, lambda i, t: bool(t.uses))
    if ti is None:
        return _q_bare(store, rng)
    t = store.types[ti]
    tmpl = str(rng.choice(V.QUESTION_TEMPLATES))
    text = tmpl.format(type=_word(t, rng, 0.2), use=rng.choice(t.uses))
    return _Intent("question", re.sub(r"\ba ([aeiou])", r"an \1", text), (ti,))


def _q_misspelling(store, rng) -> _Intent:
    base = [_q_bare, _q_brand, _q_attribute][int(rng.choice(3, p=[0.45, 0.3, 0.25]))](store, rng)
    words = base.text.split()
    known = [i for i, w in enumerate(words) if w in V.COMMON_MISSPELLINGS]
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    pool = known if known and rng.random() < 0.6 else long or list(range(len(words)))
    i = int(rng.choice(pool))
    words[i] = _typo(words[i], rng)
    if rng.random() < 0.15 and len(words) > 1:  # a lost space as well
        j = int(rng.integers(len(words) - 1))
        words[j : j + 2] = [words[j] + words[j + 1]]
    base.kind, base.text = "misspelling", " ".join(words)
    return base


_GENERATORS = {
    "bare": _q_bare,
    "brand": _q_brand,
    "attribute": _q_attribute,
    "negation": _q_negation,
    "price": _q_price,
    "alternative": _q_alternative,
    "accessory": _q_accessory,
    "question": _q_question,
    "misspelling": _q_misspelling,
}


def _kind_counts(n: int) -> dict[str, int]:
    """Largest-remainder allocation of ``n`` queries to kinds; every kind gets one when n ≥ 9."""
    raw = {k: KIND_SHARES[k] * n for k in KINDS}
    counts = {k: int(v) for k, v in raw.items()}
    if n >= len(KINDS):
        for k in KINDS:
            counts[k] = max(counts[k], 1)
    while sum(counts.values()) > n:
        k = max(counts, key=lambda k: counts[k] - raw[k])
        counts[k] -= 1
    for k in sorted(KINDS, key=lambda k: counts[k] - raw[k]):
        if sum(counts.values()) >= n:
            break
        counts[k] += 1
    return counts


def _make_queries(store: _Store, n_queries: int, rng: np.random.Generator) -> list[_Intent]:
    intents: list[_Intent] = []
    seen: set[str] = set()
    for kind, n in _kind_counts(n_queries).items():
        made = tries = 0
        while made < n and tries < 60 * n + 100:
            tries += 1
            it = _GENERATORS[kind](store, rng)
            it.kind = kind
            it.text = re.sub(r"\s+", " ", it.text.strip().lower())
            if it.text in seen:
                continue
            seen.add(it.text)
            intents.append(it)
            made += 1
    order = rng.permutation(len(intents))
    return [intents[i] for i in order]


# --- ground truth ------------------------------------------------------------------------------


def _violations(it: _Intent, brand: str, attrs: dict, price: float) -> bool:
    if it.brand is not None and brand != it.brand:
        return True
    if it.alt_brand is not None and brand == it.alt_brand:
        return True
    if it.price_max is not None and price > it.price_max + 1e-9:
        return True
    return any(k in attrs and attrs[k] not in vals for k, vals in it.attrs.items())


def _excluded(it: _Intent, brand: str, attrs: dict) -> bool:
    if it.neg is None:
        return False
    k, values = it.neg
    return brand in values if k == "brand" else attrs.get(k) in values


def _rule_grade(store: _Store, it: _Intent, i: int) -> int:
    """The documented ground-truth rules (module docstring) for query intent ``it`` and product ``i``."""
    ti = int(store.p_type[i])
    brand, attrs, price = store.p_brand[i], store.p_attrs[i], float(store.p_price[i])
    if ti in it.types:
        if _excluded(it, brand, attrs):
            return 1
        return 2 if _violations(it, brand, attrs, price) else 3
    if any(ti in store.subs[t] for t in it.types):
        return 1 if _excluded(it, brand, attrs) or _violations(it, brand, attrs, price) else 2
    if any(ti in store.related[t] for t in it.types):
        return 1
    if any(store.cat_of[ti] == store.cat_of[t] for t in it.types):
        return 1
    return 0


def _candidates(store: _Store, it: _Intent, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_prod = len(store.products)
    pool: set[int] = set()
    for t in it.types:
        pool.update(store.by_type[t].tolist())
        for r in store.subs[t] | store.related[t]:
            pool.update(store.by_type[r].tolist())
        same_cat = [j for j, c in enumerate(store.cat_of) if c == store.cat_of[t]]
        for j in same_cat:
            pool.update(store.by_type[j].tolist())
    traps: set[int] = set()
    for tok in _tokens(it.text):
        if tok in store.token_index:
            traps.update(store.token_index[tok].tolist())
    traps -= pool
    trap_list = np.array(sorted(traps), dtype=int)
    if len(trap_list) > 60:
        trap_list = rng.choice(trap_list, 60, replace=False)
    rand = rng.choice(n_prod, size=min(n_prod, 40), replace=False)
    cand = np.array(sorted(pool | set(trap_list.tolist()) | set(rand.tolist())), dtype=int)
    grades = np.array([_rule_grade(store, it, int(i)) for i in cand], dtype=int)
    is_trap = np.isin(cand, trap_list)

    n = int(rng.integers(15, 41))
    share = rng.dirichlet([6.0, 5.0, 5.0, 4.0])  # g3, g2, g1, g0
    quota = {3: share[0], 2: share[1], 1: share[2], 0: share[3]}
    picked: list[int] = []
    for g in (3, 2, 1, 0):
        idx = np.flatnonzero(grades == g)
        if g == 0:  # prefer look-alikes over random products
            idx = np.concatenate([rng.permutation(idx[is_trap[idx]]), rng.permutation(idx[~is_trap[idx]])])
            take = idx[: max(1, round(quota[g] * n))]
        else:
            k = min(len(idx), max(1, round(quota[g] * n)))
            take = rng.choice(idx, k, replace=False) if k else idx[:0]
        picked.extend(take.tolist())
    rest = np.setdiff1d(np.arange(len(cand)), picked)
    if len(picked) < n and len(rest):
        picked.extend(rng.choice(rest, min(n - len(picked), len(rest)), replace=False).tolist())
    picked_arr = np.array(sorted(picked[: max(n, 15)]), dtype=int)
    return cand[picked_arr], grades[picked_arr]


def _flip(grades: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Annotator noise: exactly round(noise·n) flips, mostly adjacent, optimistic more often."""
    out = grades.copy()
    n_flip = int(round(noise * len(grades)))
    top = DEFAULT_SCALE.max_grade
    for i in rng.choice(len(grades), n_flip, replace=False):
        g = int(grades[i])
        up = g == 0 or (g < top and rng.random() < 0.65)
        step = 2 if rng.random() < 0.15 else 1
        new = g + step if up else g - step
        out[i] = min(top, max(0, new)) if min(top, max(0, new)) != g else (g + 1 if up else g - 1)
    return out


# --- engagement ----------------------------------------------------------------------------------


def _engagement(
    store: _Store, it: _Intent, freq: int, cand: np.ndarray, grades: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    prods = store.products
    qtok = _tokens(it.text)
    overlap = np.array([len(qtok & store.tokens[i]) / max(1, len(qtok)) for i in cand])
    pop = prods["popularity"].to_numpy()[cand]
    score = overlap + 0.35 * np.log(pop) + rng.normal(0.0, 0.25, len(cand))
    order = np.argsort(-score, kind="stable")
    position = np.empty(len(cand), dtype=float)
    position[order] = np.arange(1, len(cand) + 1)

    type_idx = prods["type_idx"].to_numpy()[cand]
    price = prods["price"].to_numpy()[cand]
    medians = store.type_median_price[type_idx]
    price_attr = -np.log(price / medians)  # > 0: cheaper than usual for its type
    is_acc = np.array([any(t in store.related[x] for x in it.types) for t in type_idx])
    perceived = np.where(grades == 2, 2.4, grades.astype(float))  # substitutes look like the real thing
    z_pop = (np.log(pop) - np.log(pop).mean()) / (np.log(pop).std() + 1e-9)

    sessions = max(1, int(freq))
    view = np.where(position <= 4, 1.0, 0.85 ** (position - 4))
    impressions = rng.binomial(sessions, np.clip(view, 0, 1))
    attract = 1 / (
        1
        + np.exp(
            -(
                -3.2
                + 1.0 * perceived
                + 0.6 * z_pop
                + 0.5 * price_attr
                + 1.2 * is_acc
                + rng.normal(0.0, 0.4, len(cand))
            )
        )
    )
    exam = 1 / np.log2(position + 1)
    clicks = rng.binomial(impressions, np.clip(exam * attract, 0, 0.95))
    p_atc = 1 / (1 + np.exp(-(-3.0 + 0.9 * grades + 0.5 * price_attr + 0.2 * z_pop + 0.8 * is_acc)))
    atc = rng.binomial(clicks, np.clip(p_atc, 0, 0.95))
    orders = rng.binomial(atc, 0.6)
    return {
        "impressions": impressions,
        "clicks": clicks,
        "add_to_carts": atc,
        "orders": orders,
        "position": position,
    }


def _frequencies(intents: list[_Intent], store: _Store, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like searches per query over an order that puts bare/brand queries at the head."""
    head = np.array(
        [
            _KIND_HEADNESS[it.kind] + 0.8 * math.log(max(store.types[it.types[0]].weight, 0.1))
            for it in intents
        ]
    ) + rng.normal(0.0, 1.0, len(intents))
    rank = np.empty(len(intents), dtype=int)
    rank[np.argsort(-head, kind="stable")] = np.arange(1, len(intents) + 1)
    freq = 5000.0 * rank**-1.05 * rng.lognormal(0.0, 0.1, len(intents))
    return np.maximum(1, np.round(freq)).astype(np.int64)


# --- public ----------------------------------------------------------------------------------------


def generate_sample(
    n_products: int = 2400, n_queries: int = 500, seed: int = 0, noise: float = 0.1
) -> Dataset:
    """Generate the sample store: products, queries (``kind``), judgments (``true_grade``), engagement.

    Deterministic by ``seed``. ``noise`` is the exact share of judgments whose ``grade`` is flipped away
    from ``true_grade``. Splits are not made here: call :func:`ecomrel.data.splits.split_by_query`.
    """
    if n_products < 50:
        raise ConfigError(f"n_products must be at least 50, got {n_products}")
    if n_queries < 1:
        raise ConfigError(f"n_queries must be at least 1, got {n_queries}")
    if not 0.0 <= noise <= 1.0:
        raise ConfigError(f"noise must lie in [0, 1], got {noise}")
    rng = np.random.default_rng(seed)
    store = _build_store(n_products, rng)
    intents = _make_queries(store, n_queries, rng)
    freq = _frequencies(intents, store, rng)
    width = max(4, len(str(len(intents))))
    qids = [f"Q{i:0{width}d}" for i in range(len(intents))]
    queries = pd.DataFrame(
        {
            "query_id": qids,
            "text": [it.text for it in intents],
            "frequency": freq,
            "kind": [it.kind for it in intents],
        }
    )

    pid = store.products["product_id"].to_numpy()
    j_parts, e_parts = [], []
    for qid, it, f in zip(qids, intents, freq, strict=True):
        cand, grades = _candidates(store, it, rng)
        eng = _engagement(store, it, int(f), cand, grades, rng)
        j_parts.append(pd.DataFrame({"query_id": qid, "product_id": pid[cand], "true_grade": grades}))
        e_parts.append(pd.DataFrame({"query_id": qid, "product_id": pid[cand], **eng}))
    judgments = pd.concat(j_parts, ignore_index=True)
    noisy = _flip(judgments["true_grade"].to_numpy(), noise, rng)
    judgments["grade"] = noisy.astype("int8")
    judgments["true_grade"] = judgments["true_grade"].astype("int8")
    judgments["source_label"] = [DEFAULT_SCALE.name(int(g)) for g in noisy]
    judgments["raw_score"] = np.nan
    judgments["rater_count"] = pd.array([1] * len(judgments), dtype="Int32")
    judgments = judgments[
        ["query_id", "product_id", "grade", "source_label", "raw_score", "rater_count", "true_grade"]
    ]
    engagement = pd.concat(e_parts, ignore_index=True)
    for c in ("impressions", "clicks", "add_to_carts", "orders"):
        engagement[c] = engagement[c].astype("int64")

    products = store.products.drop(columns=["type_idx", "popularity"]).reset_index(drop=True)
    return Dataset(products=products, queries=queries, judgments=judgments, engagement=engagement)


def write_sample(
    out: str | Path,
    n_products: int = 2400,
    n_queries: int = 500,
    seed: int = 0,
    noise: float = 0.1,
    fractions: dict[str, float] | None = None,
) -> dict:
    """Generate the sample, split it by query (same seed) and write the data folder; returns its summary."""
    from ecomrel.data.splits import split_by_query

    ds = generate_sample(n_products=n_products, n_queries=n_queries, seed=seed, noise=noise)
    ds.splits = split_by_query(ds.queries, fractions, seed=seed)
    folder = ds.save(out)
    return {"path": str(folder), **summarize(ds)}


def summarize(ds: Dataset) -> dict:
    """Counts for the CLI table and for the demo's log: sizes, kinds, grades, noise, engagement."""
    j = ds.judgments
    out: dict = {
        "products": len(ds.products),
        "categories": int(ds.products["category"].nunique()),
        "brands": int(ds.products["brand"].nunique()),
        "queries": len(ds.queries),
        "judgments": len(j),
        "queries_by_kind": {k: int(v) for k, v in ds.queries["kind"].value_counts().sort_index().items()}
        if "kind" in ds.queries
        else {},
        "judgments_by_grade": {int(k): int(v) for k, v in j["grade"].value_counts().sort_index().items()},
    }
    if "true_grade" in j and j["true_grade"].notna().any():
        out["true_by_grade"] = {
            int(k): int(v) for k, v in j["true_grade"].value_counts().sort_index().items()
        }
        out["noise_flips"] = int((j["grade"] != j["true_grade"]).sum())
    if ds.splits is not None:
        out["splits"] = {str(k): int(v) for k, v in ds.splits["split"].value_counts().items()}
    if ds.engagement is not None:
        out["engagement"] = {
            c: int(ds.engagement[c].sum()) for c in ("impressions", "clicks", "add_to_carts", "orders")
        }
    return out

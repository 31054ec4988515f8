"""TaoSR1 rule retrieval and RAG chains on the built-in sample catalogue (issue 18); prints JSON.

**Retrieval recall@k** (k = 1, 3, 5) against *the rule the sample's ground truth applied*. The sample
grades every pair with documented rules (:mod:`ecomrel.data.sample`: 1a excluded value → 1; 1b a
violated constraint → 2; 1c all hold → 3; 2 substitute type → 2, with a violation → 1; 3 accessory /
complement → 1; 4 same leaf category → 1; 5 otherwise → 0). The query intents are hidden in the data,
so this script regenerates the sample with the generator's own internals (same seed, same random
stream; it checks that every regenerated ``true_grade`` equals the saved one) and names, for each
pair, the rule(s) of the packaged knowledge base that correspond to the ground-truth branch taken:

====================================  ===================================================
ground truth                          knowledge-base rule(s)
====================================  ===================================================
1a excluded value / brand             negation.excluded_present
1b brand differs                      brand.mismatch
1b attribute differs                  attribute.mismatch (accessory.wrong_model for the
                                      compatibility attribute of an accessory query)
1b above the price ceiling            price.over_limit ("under $X"), price.not_cheap
                                      ("cheap X"), alternative.cheaper ("cheaper
                                      alternative to ...")
1b the brand to replace               alternative.is_original
1c every constraint holds             match.exact
2  substitute / with a violation      substitute.similar_type / substitute.with_violation
3  accessory or complement            accessory.complement
4  same leaf category                 category.same_only
5  otherwise                          product.different_kind
====================================  ===================================================

recall@k of a pair = |gold rules ∩ top-k| / |gold rules| (most pairs have one gold rule), averaged per
query kind and over all pairs. Arms (same pairs, same knowledge base):

- ``bm25_query`` (the named baseline): BM25 over rule text against the query and product only;
- ``bm25_findings``: BM25 with the analyst's findings added to the query text;
- ``conditions``: only the declarative conditions that fire (+ decisive bonus and priority);
- ``hybrid``: conditions + BM25 with findings (the default retriever);
- ``hybrid_minilm`` (``--embeddings``): hybrid + MiniLM-L6 cosine (weight 0.3), on ``--embed-pairs``.

**Chains**: ``rag`` chains from the built-in teacher on the same pairs (``on_conflict`` drop and
correct): share label-first, with all five steps, verdict = gold grade, citing a retrieved rule; the
built-in teacher's wall time per 1,000 chains (retrieval + writing; and the whole build including the
analyst). The OpenAI-compatible teacher's cost is *estimated* here (no endpoint is reachable): prompt
tokens = characters of the real rag prompts / 4, completion tokens = characters of the built-in
chains / 4, × ``--price-in`` / ``--price-out`` per million tokens (the tested client reads the real
``usage`` counts when a server sends them).

    python benchmarks/rag_retrieval.py [--products 2400 --queries 500 --seed 0] [--max-pairs N]
        [--embeddings --embed-pairs 2000] [--out runs/rag_retrieval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")

KS = (1, 3, 5)
CHEAP_WORDS = ("cheap", "affordable", "budget", "inexpensive", "cheapest", "low cost")


# --- the ground truth's rule per pair ------------------------------------------------------------


def regenerate(
    n_products: int, n_queries: int, seed: int
) -> tuple[Any, list, list[tuple[np.ndarray, np.ndarray]]]:
    """(store, intents, [(candidates, true grades)] per query), replaying generate_sample's random stream."""
    from ecomrel.data import sample as S

    rng = np.random.default_rng(seed)
    store = S._build_store(n_products, rng)
    intents = S._make_queries(store, n_queries, rng)
    freq = S._frequencies(intents, store, rng)
    cands = []
    for it, f in zip(intents, freq, strict=True):
        cand, grades = S._candidates(store, it, rng)
        S._engagement(store, it, int(f), cand, grades, rng)
        cands.append((cand, grades))
    return store, intents, cands


def gold_rules(store: Any, it: Any, i: int) -> tuple[str, list[str]]:
    """(ground-truth branch, knowledge-base rule ids) for intent ``it`` and product index ``i``."""
    from ecomrel.data import sample as S

    ti = int(store.p_type[i])
    brand, attrs, price = store.p_brand[i], store.p_attrs[i], float(store.p_price[i])
    if ti in it.types:
        if S._excluded(it, brand, attrs):
            return "1a", ["negation.excluded_present"]
        out = []
        if it.brand is not None and brand != it.brand:
            out.append("brand.mismatch")
        if it.alt_brand is not None and brand == it.alt_brand:
            out.append("alternative.is_original")
        if it.price_max is not None and price > it.price_max + 1e-9:
            if it.alt_brand is not None:
                out.append("alternative.cheaper")
            elif any(w in it.text for w in CHEAP_WORDS):
                out.append("price.not_cheap")
            else:
                out.append("price.over_limit")
        compat = store.types[ti].compat
        for k, vals in it.attrs.items():
            if k in attrs and attrs[k] not in vals:
                out.append("accessory.wrong_model" if k == compat else "attribute.mismatch")
        return ("1b", sorted(set(out))) if out else ("1c", ["match.exact"])
    if any(ti in store.subs[t] for t in it.types):
        bad = S._excluded(it, brand, attrs) or S._violations(it, brand, attrs, price)
        return "2", ["substitute.with_violation" if bad else "substitute.similar_type"]
    if any(ti in store.related[t] for t in it.types):
        return "3", ["accessory.complement"]
    if any(store.cat_of[ti] == store.cat_of[t] for t in it.types):
        return "4", ["category.same_only"]
    return "5", ["product.different_kind"]


def gold_frame(n_products: int, n_queries: int, seed: int) -> tuple[pd.DataFrame, Any]:
    """Sample pairs (Dataset.pairs columns + query_kind, true_grade) with their gold rule ids."""
    from ecomrel.data.sample import generate_sample

    ds = generate_sample(n_products=n_products, n_queries=n_queries, seed=seed)
    store, intents, cands = regenerate(n_products, n_queries, seed)
    pid = store.products["product_id"].to_numpy()
    rows = []
    for qid, it, (cand, grades) in zip(ds.queries["query_id"], intents, cands, strict=True):
        for i, g in zip(cand, grades, strict=True):
            branch, rules = gold_rules(store, it, int(i))
            rows.append(
                {
                    "query_id": qid,
                    "product_id": pid[i],
                    "regen_grade": int(g),
                    "branch": branch,
                    "gold_rules": rules,
                }
            )
    gold = pd.DataFrame(rows)
    pairs = ds.pairs()
    qk = ds.queries[["query_id", "kind"]].rename(columns={"kind": "query_kind"})
    pairs = pairs.merge(qk, on="query_id").merge(gold, on=["query_id", "product_id"], how="left")
    if pairs["regen_grade"].isna().any() or (pairs["regen_grade"] != pairs["true_grade"]).any():
        raise SystemExit("the regenerated sample does not match generate_sample (the generator changed?)")
    return pairs, ds


# --- retrieval ------------------------------------------------------------------------------------


def recall_table(pairs: pd.DataFrame, topk: list[list[str]]) -> dict[str, Any]:
    per: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for kind, gold, ids in zip(pairs["query_kind"], pairs["gold_rules"], topk, strict=True):
        for k in KS:
            r = len(set(gold) & set(ids[:k])) / len(gold)
            per[kind][k].append(r)
            per["all"][k].append(r)
    out = {}
    for kind in sorted(per, key=lambda x: (x == "all", x)):
        out[kind] = {
            "n": len(per[kind][1]),
            **{f"recall@{k}": round(float(np.mean(per[kind][k])), 4) for k in KS},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--products", type=int, default=2400)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-pairs", type=int, default=None, help="Seeded subset of pairs (default: all).")
    ap.add_argument("--embeddings", action="store_true", help="Also run hybrid + MiniLM-L6 embeddings.")
    ap.add_argument(
        "--embed-pairs", type=int, default=2000, help="Pairs for the embedding arm (seeded subset)."
    )
    ap.add_argument("--price-in", type=float, default=0.15, help="Price per 1M prompt tokens (estimate).")
    ap.add_argument(
        "--price-out", type=float, default=0.60, help="Price per 1M completion tokens (estimate)."
    )
    ap.add_argument("--out", type=Path, default=None, help="Also write the JSON here.")
    args = ap.parse_args()

    from ecomrel.reason.analyst import Analysis, AttributeAnalyst
    from ecomrel.reason.chains import build_chains, findings_text
    from ecomrel.reason.chains_config import ChainConfig, RagConfig, RetrieverConfig
    from ecomrel.reason.kb import default_kb
    from ecomrel.reason.rag_chains import rag_messages
    from ecomrel.reason.retriever import PairText, RuleRetriever, binding_rules
    from ecomrel.reason.vocabulary import Vocabulary

    t0 = time.perf_counter()
    pairs, ds = gold_frame(args.products, args.queries, args.seed)
    if args.max_pairs and len(pairs) > args.max_pairs:
        pairs = pairs.sample(n=args.max_pairs, random_state=args.seed)
    pairs = pairs.reset_index(drop=True)
    kb = default_kb()
    analyst = AttributeAnalyst(Vocabulary.from_products(ds.products))
    t1 = time.perf_counter()
    texts: list[PairText] = []
    for rec in pairs.to_dict("records"):
        q = analyst.analyze_query(str(rec["query"]))
        p = analyst.analyze_product(rec)
        a = Analysis(query=q, product=p, match=analyst.match(q, p, raw=rec))
        texts.append(PairText(str(rec["query"]), rec, a, binding_rules(kb.outcome(a))))
    analysis_s = time.perf_counter() - t1

    no_cond = {"condition_weight": 0.0, "decisive_bonus": 0.0, "priority_weight": 0.0}
    arms = {
        "bm25_query": RetrieverConfig(k=5, use_findings=False, **no_cond),
        "bm25_findings": RetrieverConfig(k=5, use_findings=True, **no_cond),
        "conditions": RetrieverConfig(k=5, bm25_weight=0.0),
        "hybrid": RetrieverConfig(k=5),
    }
    result: dict[str, Any] = {
        "benchmark": "rag_retrieval",
        "data": {
            "products": args.products,
            "queries": args.queries,
            "seed": args.seed,
            "pairs": len(pairs),
            "by_kind": {k: int(v) for k, v in pairs["query_kind"].value_counts().sort_index().items()},
            "by_branch": {k: int(v) for k, v in pairs["branch"].value_counts().sort_index().items()},
        },
        "kb": {"source": kb.source, "rules": len(kb), "declarative_with_effect": len(kb.ruleset())},
        "baseline": "bm25_query",
        "arms": {},
    }
    for name, cfg in arms.items():
        r = RuleRetriever(kb, cfg)
        t = time.perf_counter()
        top = [[h.rule_id for h in hits] for hits in r.retrieve_many(texts)]
        secs = time.perf_counter() - t
        result["arms"][name] = {
            "config": cfg.model_dump(),
            "ms_per_pair": round(1000 * secs / len(texts), 3),
            "recall": recall_table(pairs, top),
        }
    if args.embeddings:
        sub = pairs.sample(n=min(args.embed_pairs, len(pairs)), random_state=args.seed).index.to_numpy()
        sub_pairs, sub_texts = pairs.loc[sub].reset_index(drop=True), [texts[i] for i in sub]
        for name, cfg in {
            "hybrid_subset": RetrieverConfig(k=5),
            "hybrid_minilm": RetrieverConfig(k=5, embedding_weight=0.3),
            "minilm_only": RetrieverConfig(k=5, bm25_weight=0.0, embedding_weight=1.0, **no_cond),
        }.items():
            t = time.perf_counter()
            r = RuleRetriever(kb, cfg)
            top = [[h.rule_id for h in hits] for hits in r.retrieve_many(sub_texts)]
            secs = time.perf_counter() - t
            result["arms"][name] = {
                "config": cfg.model_dump(),
                "pairs": len(sub_texts),
                "ms_per_pair": round(1000 * secs / len(sub_texts), 3),
                "recall": recall_table(sub_pairs, top),
            }
    base = result["arms"]["bm25_query"]["recall"]["all"]
    result["vs_bm25_query"] = {
        name: {
            f"recall@{k}": round(a["recall"]["all"][f"recall@{k}"] / max(base[f"recall@{k}"], 1e-9), 3)
            for k in KS
        }
        for name, a in result["arms"].items()
        if "pairs" not in a
    }

    # --- chains: validity and built-in teacher cost ---------------------------------------------
    chains_out: dict[str, Any] = {}
    for mode in ("drop", "correct"):
        cfg = ChainConfig(kinds=["rag"], on_conflict=mode, split=None, rag=RagConfig())
        t = time.perf_counter()
        chains, report = build_chains(pairs, kinds=["rag"], config=cfg, products=ds.products, analyst=analyst)
        secs = time.perf_counter() - t
        rag = report["rag"]
        chains_out[mode] = {
            "n_chains": rag["n_chains"],
            "kept": report["by_kind"]["rag"]["kept"],
            "corrected": report["by_kind"]["rag"]["corrected"],
            "dropped": report["by_kind"]["rag"]["dropped"],
            "teacher_output_validity": rag["validity"],
            "final_validity": rag["final_validity"],
            "builtin_seconds_per_1000_chains": rag["cost"]["seconds_per_1000_chains"],
            "build_seconds_per_1000_chains": round(1000 * secs / max(1, len(pairs)), 3),
        }
        if mode == "drop":
            per_kind = {}
            kinds = pairs["query_kind"].to_numpy()
            ok = chains["implied_grade"].astype(float).to_numpy() == chains["gold_grade"].to_numpy()
            for k in sorted(set(kinds)):
                per_kind[k] = round(float(ok[kinds == k].mean()), 4)
            chains_out["verdict_is_gold_by_kind"] = per_kind
            sample_chains = chains
    result["chains"] = chains_out

    # --- OpenAI-compatible teacher: estimated tokens and price per 1,000 chains --------------------
    hybrid = RuleRetriever(kb, RetrieverConfig(k=5))
    n_est = min(500, len(texts))
    prompt_chars = []
    for pt, hits in zip(texts[:n_est], hybrid.retrieve_many(texts[:n_est]), strict=True):
        msgs = rag_messages(
            pt.query,
            pt.product,
            kb.text([h.rule_id for h in hits]),
            int(pairs.loc[0, "grade"]),
            findings=findings_text(pt.analysis),
        )
        prompt_chars.append(sum(len(m["content"]) for m in msgs))
    completion_chars = sample_chains["target"].str.len().head(n_est).to_numpy()
    p_tok, c_tok = float(np.mean(prompt_chars)) / 4, float(np.mean(completion_chars)) / 4
    result["openai_teacher_estimate"] = {
        "method": "characters / 4 of the real rag prompts and of the built-in chains (no endpoint reached)",
        "pairs": n_est,
        "prompt_tokens_per_chain": round(p_tok, 1),
        "completion_tokens_per_chain": round(c_tok, 1),
        "tokens_per_1000_chains": round(1000 * (p_tok + c_tok)),
        "price_per_1m_input_tokens": args.price_in,
        "price_per_1m_output_tokens": args.price_out,
        "price_per_1000_chains": round(1000 * (p_tok * args.price_in + c_tok * args.price_out) / 1e6, 4),
    }
    result["seconds"] = {
        "data_and_gold": round(t1 - t0, 1),
        "analysis": round(analysis_s, 1),
        "total": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

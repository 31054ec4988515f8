"""TaoSR1's RAG chains (chain kind ``rag``, papers.md §3.3): retrieved atomic rules → a 5-step,
label-first chain that cites the ids of the rules it uses.

For each judged pair the retriever (:mod:`ecomrel.reason.retriever`) picks the top-k rules of the
knowledge base (:mod:`ecomrel.reason.kb`); a teacher, given the pair, those rules and the gold
grade, writes

.. code-block:: text

    2
    1. Query understanding: the query 'tumbler like yeti' searches for tumbler, as an alternative to yeti.
    2. Item understanding: 'YETI Rambler Tumbler' is a tumbler by YETI in Home > Kitchen > Drinkware.
    3. Category match: the product is a tumbler, the kind of product searched for [product.exact_type].
    4. Attribute match: an alternative to yeti is wanted, yet the product is yeti [alternative.is_original].
    5. Verdict: Substitute: ... Rules: alternative.is_original.

The grade digit comes first (post-CoT, what the judge's label-first prompt expects: the scorer reads
the grade from the first answer token). Teachers:

- ``builtin``: the attribute analyst; the verdict is the grade of the knowledge base's declarative
  rules (:meth:`KnowledgeBase.outcome`); each step cites the retrieved rules that fired on it;
- ``openai``: any OpenAI-compatible endpoint (:class:`ecomrel.reason.teacher.OpenAITeacher`) given
  the retrieved rules and the gold grade, asked for the same format; its token counts
  (``usage``, read from the response cache) times the configured prices give the cost.

A chain whose verdict contradicts the gold grade is dropped or corrected (``on_conflict``) and
counted; :func:`chain_validity` measures the share label-first, with all five steps, verdict = gold
and citing a retrieved rule.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.prompts import completion_text
from ecomrel.reason.analyst import Analysis
from ecomrel.reason.chain_text import (
    attribute_match_text,
    category_match_text,
    item_understanding,
    query_understanding,
)
from ecomrel.reason.chains_config import ChainConfig, RagConfig, TeacherConfig
from ecomrel.reason.kb import AtomicRule, KnowledgeBase, load_kb
from ecomrel.reason.retriever import Hit, PairText, RuleRetriever, binding_rules
from ecomrel.reason.teacher import TeacherError, parse_verdict

STEP_NAMES = (
    "Query understanding",
    "Item understanding",
    "Category match",
    "Attribute match",
    "Verdict",
)
"""TaoSR1's five steps, in order."""

# Fields whose rules speak about the kind of product (step 3); all other conditions are attributes (step 4).
_CATEGORY_FIELDS = frozenset(
    {"product_word_match", "category_match", "accessory_relation", "query_has_product_word"}
)
_QUERY_FIELDS = frozenset({"is_question"})
_STEP_RE = [re.compile(rf"^\s*{i + 1}\s*[.)]\s*{name}\b", re.I | re.M) for i, name in enumerate(STEP_NAMES)]
_CITE_RE = re.compile(r"\[([A-Za-z][A-Za-z0-9_.\-]*(?:\s*,\s*[A-Za-z][A-Za-z0-9_.\-]*)*)\]")

RAG_SYSTEM_PROMPT = (
    "You are an expert in e-commerce search relevance. Given a search query, a product, the relevance "
    "rules retrieved for this pair and the correct grade, write the reasoning that leads to that grade. "
    "Answer in exactly this format: the first line is the grade number alone; then five numbered steps: "
    "'1. Query understanding:', '2. Item understanding:', '3. Category match:', '4. Attribute match:', "
    "'5. Verdict: <grade name>: <one sentence>'. Cite the rules you use by their id in square brackets, "
    "e.g. [brand.mismatch]; cite only the rules given. Keep it under 130 words."
)


def rule_step(rule: AtomicRule) -> int:
    """Which of the five steps (1-based) a rule belongs to: query (1), category (3) or attribute (4)."""
    if rule.when is None:
        return 1
    fields = rule.when.fields()
    if fields <= _QUERY_FIELDS:
        return 1
    if fields <= _CATEGORY_FIELDS:
        return 3
    return 4


def _cite(ids: Sequence[str]) -> str:
    return f" [{', '.join(ids)}]" if ids else ""


def builtin_reasoning(
    analysis: Analysis,
    hits: Sequence[Hit],
    kb: KnowledgeBase,
    grade: int,
    decisive: Sequence[str],
    scale: GradeScale = DEFAULT_SCALE,
) -> tuple[str, list[str]]:
    """The five steps written from the analyst's findings, citing the retrieved rules; returns
    ``(reasoning, cited ids)``. ``decisive``: the ids whose effect decided ``grade``."""
    retrieved = [h.rule_id for h in hits]
    by_step: dict[int, list[str]] = {1: [], 3: [], 4: []}
    for h in hits:
        rule = kb.get(h.rule_id)
        step = rule_step(rule)
        if rule.when is None or h.fired:  # a condition rule is only cited when it holds
            by_step[step].append(h.rule_id)
    verdict_ids = [i for i in retrieved if i in set(decisive)]
    if not verdict_ids:  # nothing decisive retrieved: cite the strongest retrieved rule that holds
        verdict_ids = [h.rule_id for h in hits if h.fired][:1]
    desc = scale.descriptions[grade] if grade < len(scale.descriptions) else scale.name(grade)
    verdict = f"5. Verdict: {scale.name(grade)}: {desc}."
    if verdict_ids:
        verdict += f" Rules: {', '.join(verdict_ids)}."
    lines = [
        f"1. Query understanding: {query_understanding(analysis)}{_cite(by_step[1])}.",
        f"2. Item understanding: {item_understanding(analysis)}.",
        f"3. Category match: {category_match_text(analysis)}{_cite(by_step[3])}.",
        f"4. Attribute match: {attribute_match_text(analysis)}{_cite(by_step[4])}.",
        verdict,
    ]
    cited = list(dict.fromkeys([*by_step[1], *by_step[3], *by_step[4], *verdict_ids]))
    return "\n".join(lines), cited


def rag_messages(
    query: str,
    product: Mapping[str, Any],
    rules_text: str,
    gold: int,
    scale: GradeScale = DEFAULT_SCALE,
    findings: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages for the OpenAI-compatible teacher: the pair, the retrieved rules, the gold grade."""
    fields = []
    for key in ("title", "brand", "category", "attributes", "price", "description"):
        v = product.get(key)
        if v is None or (isinstance(v, float) and v != v) or v == "" or v == {}:
            continue
        if isinstance(v, dict):
            v = "; ".join(f"{k}: {x}" for k, x in v.items())
        fields.append(f"{key.title()}: {str(v)[:400]}")
    grades = "\n".join(
        f"- {g} {scale.name(g)}: {scale.descriptions[g] if g < len(scale.descriptions) else ''}"
        for g in reversed(scale.grades)
    )
    user = [f"Query: {query}", "Product:", *fields, "", "Grades:", grades, "", rules_text, ""]
    if findings:
        user += ["Notes from an automatic analysis (may be incomplete):", findings, ""]
    user += [
        f"The correct grade is: {gold} {scale.name(gold)}.",
        "Write the label-first, five-step reasoning.",
    ]
    return [{"role": "system", "content": RAG_SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(user)}]


def split_label(text: str, scale: GradeScale = DEFAULT_SCALE) -> tuple[int | None, str]:
    """``(grade on the first line, the rest)`` of a label-first answer; ``(None, text)`` if it is not."""
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    m = re.fullmatch(r"\**\s*(?:grade\s*[:=]?\s*)?(\d)\s*\**", first.strip(), flags=re.I)
    if m and 0 <= int(m.group(1)) <= scale.max_grade:
        return int(m.group(1)), rest.strip()
    return None, stripped


def cited_ids(text: str, known: set[str] | Sequence[str]) -> list[str]:
    """Rule ids cited in ``[id]`` / ``[id, id]`` brackets or after 'Rules:' that the knowledge base knows."""
    known = set(known)
    found: list[str] = []
    for grp in _CITE_RE.findall(text):
        found.extend(x.strip() for x in grp.split(","))
    for m in re.finditer(r"rules?\s*:\s*([^\n]+)", text, flags=re.I):
        found.extend(x.strip(" .;") for x in m.group(1).split(","))
    return [x for x in dict.fromkeys(found) if x in known]


def steps_present(text: str) -> list[bool]:
    """Whether each of the five numbered steps is there."""
    return [bool(r.search(text)) for r in _STEP_RE]


def correct_verdict(reasoning: str, gold: int, implied: int | None, scale: GradeScale) -> str:
    """Rewrite the verdict step so the chain concludes ``gold`` (keeping the steps and citations)."""
    lines = [ln for ln in reasoning.rstrip().splitlines() if not _STEP_RE[4].search(ln)]
    desc = scale.descriptions[gold] if gold < len(scale.descriptions) else scale.name(gold)
    note = f" The rules above point to {scale.name(implied)}, but on balance" if implied is not None else ""
    lines.append(f"5. Verdict: {scale.name(gold)}:{note} {desc}.".replace("  ", " "))
    return "\n".join(lines)


class RagBuilder:
    """Builds one ``rag`` chain per pair and keeps the counts, validity and cost for the report."""

    def __init__(
        self,
        config: ChainConfig,
        teacher: Any,
        scale: GradeScale = DEFAULT_SCALE,
        kb: KnowledgeBase | None = None,
        retriever: RuleRetriever | None = None,
    ):
        self.cfg = config
        self.rag: RagConfig = config.rag
        self.scale = scale
        self.kb = kb if kb is not None else load_kb(self.rag.kb, scale=scale)
        self.retriever = retriever if retriever is not None else RuleRetriever(self.kb, self.rag.retriever)
        self.teacher = teacher
        self.is_api = hasattr(teacher, "complete") and getattr(teacher, "name", "builtin") != "builtin"
        self.seconds = 0.0
        self.tokens = {"prompt": 0, "completion": 0, "estimated": 0, "cached": 0}
        self.validity = Counter()
        self.n = 0
        self.errors = 0
        self.consecutive = 0

    # --- one chain -------------------------------------------------------------------------
    def row(self, rec: Mapping[str, Any], analysis: Analysis, base: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        gold = int(base["gold_grade"])
        query = str(rec.get("query", ""))
        outcome = self.kb.outcome(analysis)
        applied = binding_rules(outcome)
        hits = self.retriever.retrieve_many([PairText(query, rec, analysis, applied)])[0]
        retrieved = [h.rule_id for h in hits]
        extra = self.kb.text(retrieved) if (self.rag.prompt_rules and retrieved) else ""
        row = {**base, "kind": "rag", "prompt_extra": extra, "rules_retrieved": ",".join(retrieved)}
        if self.is_api:
            try:
                text, origin = self._api_text(query, rec, retrieved, gold, analysis)
                self.consecutive = 0
            except TeacherError:
                self.errors += 1
                self.consecutive += 1
                limit = getattr(getattr(self.teacher, "config", None), "max_consecutive_errors", 5)
                if self.consecutive >= limit:
                    raise
                self.seconds += time.perf_counter() - started
                self.n += 1
                return {
                    **row,
                    "target": "",
                    "implied_grade": None,
                    "status": "dropped",
                    "origin": "teacher_error",
                }
            label, reasoning = split_label(text, self.scale)
            verdict = parse_verdict(reasoning, self.scale)
            implied = verdict if verdict is not None else label
            cited = cited_ids(text, retrieved)
            label_first = label is not None
        else:
            reasoning, cited = builtin_reasoning(
                analysis, hits, self.kb, outcome.grade, sorted(applied), self.scale
            )
            implied, label_first, origin = outcome.grade, True, "builtin"
        self._count(label_first, reasoning, implied, gold, cited)
        status = (
            "kept" if implied == gold else ("corrected" if self.cfg.on_conflict == "correct" else "dropped")
        )
        if status == "corrected":
            reasoning = correct_verdict(reasoning, gold, implied, self.scale)
        label_out = gold if status != "dropped" or implied is None else implied
        row.update(
            target=completion_text(label_out, reasoning),
            implied_grade=implied,
            status=status,
            origin=origin,
            rules_fired=",".join(cited),
        )
        self.seconds += time.perf_counter() - started
        self.n += 1
        return row

    def _count(
        self, label_first: bool, reasoning: str, implied: int | None, gold: int, cited: list[str]
    ) -> None:
        steps = steps_present(reasoning)
        v = self.validity
        v["label_first"] += int(label_first)
        v["five_steps"] += int(all(steps))
        v["verdict_is_gold"] += int(implied == gold)
        v["cites_retrieved"] += int(bool(cited))
        v["all_valid"] += int(label_first and all(steps) and implied == gold and bool(cited))

    def _api_text(
        self, query: str, rec: Mapping[str, Any], retrieved: list[str], gold: int, analysis: Analysis
    ) -> tuple[str, str]:
        from ecomrel.reason.chain_text import findings_text

        tcfg: TeacherConfig | None = getattr(self.teacher, "config", None)
        findings = findings_text(analysis) if (tcfg is None or tcfg.include_analysis) else None
        rules_text = self.kb.text(retrieved) if retrieved else "Relevance rules: (none retrieved)"
        messages = rag_messages(query, rec, rules_text, gold, self.scale, findings)
        text, cached = self.teacher.complete(messages)
        self._usage(messages, text, cached)
        if not text.strip():
            raise TeacherError("the teacher returned an empty answer")
        return text.strip(), "cache" if cached else "api"

    def _usage(self, messages: list[dict[str, str]], text: str, cached: bool) -> None:
        """Token counts from the response's ``usage`` (read back from the teacher's cache entry);
        characters / 4 when the server sent none."""
        usage = None
        t = self.teacher
        cache_dir = getattr(t, "cache_dir", None)
        if cache_dir is not None and hasattr(t, "cache_key") and hasattr(t, "payload"):
            path = cache_dir / f"{t.cache_key(t.payload(messages))}.json"
            try:
                usage = json.loads(path.read_text(encoding="utf-8"))["response"].get("usage")
            except (OSError, ValueError, KeyError, AttributeError):
                usage = None
        if cached:
            self.tokens["cached"] += 1
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            self.tokens["prompt"] += int(usage.get("prompt_tokens") or 0)
            self.tokens["completion"] += int(usage.get("completion_tokens") or 0)
        else:
            self.tokens["estimated"] += 1
            self.tokens["prompt"] += sum(len(m["content"]) for m in messages) // 4
            self.tokens["completion"] += len(text) // 4

    # --- report ------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        n = max(1, self.n)
        out: dict[str, Any] = {
            "kb": self.kb.source,
            "kb_rules": len(self.kb),
            "k": self.rag.retriever.k,
            "embeddings": self.rag.retriever.embedding_weight > 0,
            "n_chains": self.n,
            "teacher_errors": self.errors,
            "validity": {
                k: round(self.validity[k] / n, 4)
                for k in ("label_first", "five_steps", "verdict_is_gold", "cites_retrieved", "all_valid")
            },
        }
        cost: dict[str, Any] = {
            "teacher": "openai" if self.is_api else "builtin",
            "seconds": round(self.seconds, 3),
            "seconds_per_1000_chains": round(1000 * self.seconds / n, 3),
        }
        if self.is_api:
            tcfg = getattr(self.teacher, "config", None)
            pin = getattr(tcfg, "price_per_1m_input_tokens", 0.0)
            pout = getattr(tcfg, "price_per_1m_output_tokens", 0.0)
            price = (self.tokens["prompt"] * pin + self.tokens["completion"] * pout) / 1e6
            cost.update(
                prompt_tokens=self.tokens["prompt"],
                completion_tokens=self.tokens["completion"],
                tokens_per_1000_chains=round(
                    1000 * (self.tokens["prompt"] + self.tokens["completion"]) / n, 1
                ),
                price=round(price, 6),
                price_per_1000_chains=round(1000 * price / n, 6),
                price_per_1m_input_tokens=pin,
                price_per_1m_output_tokens=pout,
                responses_without_usage=self.tokens["estimated"],
                cache_hits=self.tokens["cached"],
            )
        out["cost"] = cost
        return out


def chain_validity(chains: pd.DataFrame, scale: GradeScale = DEFAULT_SCALE) -> dict[str, Any]:
    """Format checks of the final ``rag`` targets (after correction), over chains not dropped:
    share label-first, with all five steps, verdict = gold (first label and Verdict line), citing a
    rule among ``rules_retrieved``."""
    rag = chains[(chains["kind"] == "rag") & (chains["status"] != "dropped")]
    n = len(rag)
    if not n:
        return {"n": 0}
    c = Counter()
    for rec in rag.to_dict("records"):
        label, reasoning = split_label(str(rec["target"]), scale)
        verdict = parse_verdict(reasoning, scale)
        retrieved = [x for x in str(rec.get("rules_retrieved") or "").split(",") if x]
        gold = int(rec["gold_grade"])
        ok = [
            label is not None,
            all(steps_present(reasoning)),
            label == gold and verdict == gold,
            bool(cited_ids(reasoning, retrieved)),
        ]
        for key, v in zip(
            ("label_first", "five_steps", "verdict_is_gold", "cites_retrieved"), ok, strict=True
        ):
            c[key] += int(v)
        c["all_valid"] += int(all(ok))
    return {
        "n": n,
        **{
            k: round(c[k] / n, 4)
            for k in ("label_first", "five_steps", "verdict_is_gold", "cites_retrieved", "all_valid")
        },
    }

"""LREF's Multi-CoT chains, label first: expert explaining (EE), rule adherence (RA), decision
reflection (DR); and TaoSR1's retrieved-rule chains (``rag``, built by :mod:`ecomrel.reason.rag_chains`).

Every target is written by :func:`ecomrel.llm.prompts.completion_text`: the grade label first, then
the reasoning (TaoSR1's post-CoT order, so the scorer reads the grade from the first answer token).

- **EE**: TaoSR1's five steps (query understanding → item understanding → category match →
  attribute match → verdict), written by a teacher (:mod:`ecomrel.reason.teacher`).
- **RA**: which business rules (:mod:`ecomrel.reason.rules`) fire, why, and the grade they force;
  the prompt carries the rules concerning the pair (``prompt_extra``).
- **DR**: a wrong decision (the model's own mistake, or a flagged random wrong grade — the papers
  disagree, both are supported), what it overlooked, the corrected reasoning and grade; the
  prompt carries the wrong decision.

A chain whose implied grade contradicts the human grade is dropped or corrected
(``ChainConfig.on_conflict``); both are counted in the build report.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.prompts import completion_text
from ecomrel.progress import track
from ecomrel.reason.analyst import Analysis, AttributeAnalyst
from ecomrel.reason.chain_text import (  # noqa: F401  (the text pieces, re-exported)
    attribute_match_text,
    category_match_text,
    corrected_reasoning,
    dr_prompt,
    dr_reasoning,
    ee_reasoning,
    findings_text,
    grade_text,
    item_understanding,
    query_understanding,
    ra_reasoning,
)
from ecomrel.reason.chains_config import LREF_KINDS, ChainConfig, TeacherConfig
from ecomrel.reason.rules import RuleSet, apply_rules, load_rules
from ecomrel.reason.teacher import Teacher, TeacherError, TeacherRequest, make_teacher
from ecomrel.reason.vocabulary import Vocabulary

log = logging.getLogger(__name__)

CHAIN_COLUMNS = [
    "query_id",
    "product_id",
    "kind",
    "prompt_extra",
    "target",
    "gold_grade",
    "implied_grade",
    "status",
    "origin",
    "wrong_grade",
    "rule_grade",
    "rules_fired",
    "rules_retrieved",
]
"""Columns of ``cot/chains.parquet``. ``status``: kept | corrected | dropped; ``origin``: who wrote the
chain (builtin / api / cache / rules / model_error / random_wrong); ``wrong_grade``: DR only;
``rules_fired``: the business rules that fired (ee/ra/dr) or the rule ids the chain cites (rag);
``rules_retrieved``: rag only, the knowledge-base rules retrieved for the pair, strongest first."""


# --- text pieces --------------------------------------------------------------------------


def _resolve_pairs(data: Any, split: str | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(pairs, products of the whole catalogue or None) from a folder, a Dataset or a pairs frame."""
    from ecomrel.data.schema import Dataset

    if isinstance(data, str | Path):
        data = Dataset.load(data)
    if isinstance(data, Dataset):
        pairs = data.pairs(split) if (split and data.splits is not None) else data.pairs()
        if "kind" in data.queries.columns:
            qk = data.queries[["query_id", "kind"]].rename(columns={"kind": "query_kind"})
            pairs = pairs.merge(qk, on="query_id", how="left")
        return pairs, data.products
    if isinstance(data, pd.DataFrame):
        need = {"query_id", "product_id", "query", "title", "grade"}
        missing = need - set(data.columns)
        if missing:
            raise ValueError(f"pairs frame lacks column(s) {sorted(missing)} (use Dataset.pairs())")
        pairs = data.copy()
        if "kind" in pairs.columns and "query_kind" not in pairs.columns:
            pairs = pairs.rename(columns={"kind": "query_kind"})
        return pairs, None
    raise TypeError(
        f"build_chains takes a data folder, a Dataset or a pairs frame, not {type(data).__name__}"
    )


def _products_of(pairs: pd.DataFrame) -> pd.DataFrame:
    cols = [
        c
        for c in ("product_id", "title", "brand", "category", "attributes", "description", "price")
        if c in pairs.columns
    ]
    return pairs[cols].drop_duplicates(subset=["product_id"]).reset_index(drop=True)


def _random_wrong(qid: str, pid: str, gold: int, seed: int, scale: GradeScale) -> int:
    rng = np.random.default_rng(zlib.crc32(f"{seed}|{qid}|{pid}".encode()))
    others = [g for g in scale.grades if g != gold]
    return int(rng.choice(others))


def _status(implied: int | None, gold: int, on_conflict: str) -> str:
    if implied == gold:
        return "kept"
    return "corrected" if on_conflict == "correct" else "dropped"


def build_chains(
    data: Any,
    kinds: Sequence[str] = LREF_KINDS,
    rules: str | Path | RuleSet | None = None,
    teacher: Teacher | TeacherConfig | str | None = None,
    predictions: pd.DataFrame | None = None,
    config: ChainConfig | None = None,
    products: pd.DataFrame | None = None,
    scale: GradeScale = DEFAULT_SCALE,
    analyst: AttributeAnalyst | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """EE / RA / DR chains for judged pairs, and a build report.

    ``data``: a data folder, a :class:`~ecomrel.data.schema.Dataset` (the config's split is used
    when it has splits) or a pairs frame (``Dataset.pairs()`` columns). ``predictions``: a frame
    with ``query_id, product_id, pred_grade`` (the model's decisions) for DR chains from mistakes.
    ``products``: the whole catalogue to learn the vocabulary from (default: the pairs' products).
    Returns ``(chains, report)``; chains have :data:`CHAIN_COLUMNS`.
    """
    cfg = (config or ChainConfig()).model_copy()
    cfg.kinds = list(ChainConfig(kinds=list(kinds)).kinds)
    started = time.perf_counter()
    pairs, catalogue = _resolve_pairs(data, cfg.split)
    if cfg.max_pairs is not None and len(pairs) > cfg.max_pairs:
        pairs = pairs.sample(n=cfg.max_pairs, random_state=cfg.seed).sort_index()
    pairs = pairs.reset_index(drop=True)
    ruleset = load_rules(rules if rules is not None else cfg.rules, scale=scale)
    if analyst is None:
        prods = (
            products
            if products is not None
            else (catalogue if catalogue is not None else _products_of(pairs))
        )
        analyst = AttributeAnalyst(Vocabulary.from_products(prods))
    owns_teacher = isinstance(teacher, TeacherConfig | str) or teacher is None
    if owns_teacher:
        teacher = make_teacher(teacher if teacher is not None else cfg.teacher)
    try:
        return _build(pairs, cfg, ruleset, analyst, teacher, predictions, scale, started)
    finally:
        if owns_teacher and hasattr(teacher, "close"):
            teacher.close()


def _build(
    pairs: pd.DataFrame,
    cfg: ChainConfig,
    ruleset: RuleSet,
    analyst: AttributeAnalyst,
    teacher: Teacher,
    predictions: pd.DataFrame | None,
    scale: GradeScale,
    started: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:

    wrong_by_pair = _wrong_decisions(pairs, predictions, cfg, scale) if "dr" in cfg.kinds else {}
    rag = None
    if "rag" in cfg.kinds:
        from ecomrel.reason.rag_chains import RagBuilder  # rag_chains builds on this module's text pieces

        rag = RagBuilder(cfg, teacher, scale)

    rows: list[dict[str, Any]] = []
    rule_grades: list[int] = []
    teacher_errors, consecutive = 0, 0
    for rec in track(pairs.to_dict("records"), "building chains", unit="pairs"):
        qid, pid, gold = str(rec["query_id"]), str(rec["product_id"]), int(rec["grade"])
        q = analyst.analyze_query(str(rec.get("query", "")))
        p = analyst.analyze_product(rec)
        a = Analysis(query=q, product=p, match=analyst.match(q, p, raw=rec))
        outcome = apply_rules(a, ruleset)
        rule_grades.append(outcome.grade)
        base = {
            "query_id": qid,
            "product_id": pid,
            "gold_grade": gold,
            "rule_grade": outcome.grade,
            "rules_fired": ",".join(outcome.fired_ids),
            "rules_retrieved": "",
            "wrong_grade": None,
        }

        if "ee" in cfg.kinds:
            req = TeacherRequest(
                query=str(rec.get("query", "")),
                product=rec,
                gold_grade=gold,
                analysis=a,
                outcome=outcome,
                scale=scale,
            )
            try:
                reply = teacher.explain(req)
                consecutive = 0
            except TeacherError as exc:
                teacher_errors += 1
                consecutive += 1
                max_errors = getattr(getattr(teacher, "config", None), "max_consecutive_errors", 5)
                if consecutive >= max_errors:
                    raise TeacherError(f"{consecutive} teacher failures in a row, last: {exc}") from exc
                log.warning("teacher failed on (%s, %s): %s", qid, pid, exc)
                reply = None
            if reply is not None:
                rows.append(
                    _chain(
                        base,
                        "ee",
                        "",
                        reply.reasoning,
                        reply.implied_grade,
                        gold,
                        cfg,
                        scale,
                        origin=reply.source,
                    )
                )
            else:
                rows.append(
                    {
                        **base,
                        "kind": "ee",
                        "prompt_extra": "",
                        "target": "",
                        "implied_grade": None,
                        "status": "dropped",
                        "origin": "teacher_error",
                    }
                )

        if "ra" in cfg.kinds:
            shown = ruleset.relevant(a, outcome) if cfg.ra_prompt_rules == "relevant" else None
            extra = ruleset.text(only=shown)
            rows.append(
                _chain(
                    base,
                    "ra",
                    extra,
                    ra_reasoning(outcome, ruleset, shown),
                    outcome.grade,
                    gold,
                    cfg,
                    scale,
                    origin="rules",
                )
            )

        if rag is not None:
            rows.append(rag.row(rec, a, base))

        for wrong, origin in wrong_by_pair.get((qid, pid), []):
            rows.append(
                _chain(
                    {**base, "wrong_grade": wrong},
                    "dr",
                    dr_prompt(wrong, scale),
                    dr_reasoning(a, outcome, wrong, gold, scale),
                    outcome.grade,
                    gold,
                    cfg,
                    scale,
                    origin=origin,
                )
            )

    chains = pd.DataFrame(rows, columns=CHAIN_COLUMNS)
    chains["implied_grade"] = chains["implied_grade"].astype("Int64")
    chains["wrong_grade"] = chains["wrong_grade"].astype("Int64")
    report = _report(pairs, chains, rule_grades, cfg, teacher, teacher_errors, scale)
    report["analyst"] = {"vocabulary": analyst.vocab.stats()}
    if rag is not None:
        from ecomrel.reason.rag_chains import chain_validity

        report["rag"] = {**rag.report(), "final_validity": chain_validity(chains, scale)}
    report["rules_source"] = ruleset.source
    report["seconds"] = round(time.perf_counter() - started, 2)
    return chains, report


def _chain(
    base: dict[str, Any],
    kind: str,
    extra: str,
    reasoning: str,
    implied: int | None,
    gold: int,
    cfg: ChainConfig,
    scale: GradeScale,
    origin: str,
) -> dict[str, Any]:
    status = _status(implied, gold, cfg.on_conflict)
    if status == "corrected":
        reasoning = corrected_reasoning(reasoning, gold, implied, scale)
    label = gold if status != "dropped" or implied is None else implied
    return {
        **base,
        "kind": kind,
        "prompt_extra": extra,
        "target": completion_text(label, reasoning),
        "implied_grade": implied,
        "status": status,
        "origin": origin,
    }


def _wrong_decisions(
    pairs: pd.DataFrame, predictions: pd.DataFrame | None, cfg: ChainConfig, scale: GradeScale
) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """For DR chains: (wrong grade, origin) per pair, from the model's mistakes and/or at random."""
    mode = cfg.dr_source
    if mode == "auto":
        mode = "model" if predictions is not None else "random"
    if mode in ("model", "both") and predictions is None:
        raise ValueError(
            f"dr_source={cfg.dr_source!r} needs a predictions frame (query_id, product_id, pred_grade)"
        )
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    gold = {
        (str(q), str(p)): int(g)
        for q, p, g in zip(pairs["query_id"], pairs["product_id"], pairs["grade"], strict=True)
    }
    if mode in ("model", "both"):
        missing = {"query_id", "product_id", "pred_grade"} - set(predictions.columns)
        if missing:
            raise ValueError(f"predictions frame lacks column(s) {sorted(missing)}")
        for q, p, g in zip(
            predictions["query_id"], predictions["product_id"], predictions["pred_grade"], strict=True
        ):
            key = (str(q), str(p))
            if key in gold and not pd.isna(g) and int(g) != gold[key]:
                out[key] = [(int(g), "model_error")]
    if mode in ("random", "both"):
        for key, g in gold.items():
            if key not in out:
                out[key] = [(_random_wrong(key[0], key[1], g, cfg.seed, scale), "random_wrong")]
    return out


def _report(
    pairs: pd.DataFrame,
    chains: pd.DataFrame,
    rule_grades: list[int],
    cfg: ChainConfig,
    teacher: Any,
    teacher_errors: int,
    scale: GradeScale,
) -> dict[str, Any]:
    gold = pairs["grade"].astype(int).to_numpy()
    rg = np.asarray(rule_grades, dtype=int)
    report: dict[str, Any] = {
        "n_pairs": len(pairs),
        "kinds": list(cfg.kinds),
        "on_conflict": cfg.on_conflict,
        "n_chains": len(chains),
    }
    by_kind: dict[str, dict[str, int]] = {}
    for kind, grp in chains.groupby("kind", sort=False):
        counts = Counter(grp["status"])
        by_kind[str(kind)] = {
            "kept": counts.get("kept", 0),
            "corrected": counts.get("corrected", 0),
            "dropped": counts.get("dropped", 0),
            "conflicts": int((grp["status"] != "kept").sum()),
        }
    report["by_kind"] = by_kind
    if "dr" in cfg.kinds:
        report["dr_origin"] = {
            str(k): int(v) for k, v in chains.loc[chains["kind"] == "dr", "origin"].value_counts().items()
        }
    report["rule_accuracy"] = rule_accuracy(rg, gold, pairs.get("query_kind"), pairs.get("true_grade"), scale)
    if teacher is not None and hasattr(teacher, "stats"):
        report["teacher"] = {"name": teacher.name, **teacher.stats, "failed_pairs": teacher_errors}
    else:
        report["teacher"] = {"name": getattr(teacher, "name", "builtin"), "failed_pairs": teacher_errors}
    return report


def rule_accuracy(
    rule_grade: np.ndarray,
    gold: np.ndarray,
    query_kind: pd.Series | None = None,
    true_grade: pd.Series | None = None,
    scale: GradeScale = DEFAULT_SCALE,
) -> dict[str, Any]:
    """How often the rules' grade equals the human grade (and the true grade, for the sample), overall and
    per query kind: how good the built-in teacher is."""
    rule_grade, gold = np.asarray(rule_grade, dtype=int), np.asarray(gold, dtype=int)
    out: dict[str, Any] = {"n": int(len(gold))}
    if not len(gold):
        return out
    out["accuracy"] = round(float((rule_grade == gold).mean()), 4)
    out["within_one"] = round(float((np.abs(rule_grade - gold) <= 1).mean()), 4)
    out["optimistic_rate"] = round(float((rule_grade > gold).mean()), 4)
    out["confusion"] = {
        f"gold_{g}": {f"rule_{r}": int(((gold == g) & (rule_grade == r)).sum()) for r in scale.grades}
        for g in scale.grades
    }
    if true_grade is not None and true_grade.notna().all():
        tg = true_grade.astype(int).to_numpy()
        out["accuracy_vs_true"] = round(float((rule_grade == tg).mean()), 4)
    if query_kind is not None and query_kind.notna().any():
        per: dict[str, Any] = {}
        kinds = query_kind.fillna("?").astype(str).to_numpy()
        for k in sorted(set(kinds)):
            sel = kinds == k
            entry = {"n": int(sel.sum()), "accuracy": round(float((rule_grade[sel] == gold[sel]).mean()), 4)}
            if true_grade is not None and true_grade.notna().all():
                entry["accuracy_vs_true"] = round(float((rule_grade[sel] == tg[sel]).mean()), 4)
            per[k] = entry
        out["per_query_kind"] = per
    return out


def run_chains(
    data: str | Path,
    out: str | Path,
    config: ChainConfig | None = None,
    predictions: str | Path | pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The ``cot`` stage: build chains for a data folder and write ``<out>/cot/chains.parquet``,
    ``report.json`` and the learned ``vocabulary.json``. Returns the report with the paths."""
    from ecomrel.data.schema import Dataset

    cfg = config or ChainConfig()
    cot = Path(out) / "cot"
    cot.mkdir(parents=True, exist_ok=True)
    ds = Dataset.load(data)
    preds = pd.read_parquet(predictions) if isinstance(predictions, str | Path) else predictions
    teacher_cfg = cfg.teacher
    if teacher_cfg.kind == "openai" and teacher_cfg.cache_dir is None:
        teacher_cfg = teacher_cfg.model_copy(update={"cache_dir": str(cot / "teacher_cache")})
    teacher = make_teacher(teacher_cfg)
    analyst = AttributeAnalyst(Vocabulary.from_products(ds.products))
    try:
        chains, report = build_chains(
            ds,
            kinds=cfg.kinds,
            rules=cfg.rules,
            teacher=teacher,
            predictions=preds,
            config=cfg,
            analyst=analyst,
        )
    finally:
        if hasattr(teacher, "close"):
            teacher.close()
    path = cot / "chains.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    chains.to_parquet(tmp, index=False)
    tmp.replace(path)
    analyst.vocab.save(cot / "vocabulary.json")
    report["paths"] = {
        "chains": str(path),
        "report": str(cot / "report.json"),
        "vocabulary": str(cot / "vocabulary.json"),
    }
    (cot / "report.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return report

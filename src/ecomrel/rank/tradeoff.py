"""The content-relevance / engagement trade-off of LLM labels (Walmart, arXiv 2409.17460, §2.7).

For each label variant — engagement-only, content without a sigmoid, content through σ(α(s−β))
on a grid of (α, β), and the content/engagement blends — one LambdaMART model is trained on the
train queries with the *same* features, and evaluated on held-out queries by

- ``ndcg@k``: NDCG on the human content grades (``grade``; ``ndcg_true@k`` on ``true_grade``
  where the synthetic sample has it), and
- ``engagement@k``: the add-to-cart rate of the top k (``ecomrel.eval.ranking_metrics``).

The *best blend* is chosen on the dev queries (the largest dev NDCG among blends whose dev
engagement is within ``max_engagement_loss`` of engagement-only), then reported on the test
queries, so the choice does not peek at the numbers it is judged by.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.data.schema import DataError, Dataset
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.progress import track
from ecomrel.rank.features import KEY, build_features, read_prediction_file, write_features
from ecomrel.rank.labels import label_gain, make_labels
from ecomrel.rank.rank_config import BlendConfig, ContentTransform, LabelConfig, RankConfig
from ecomrel.rank.ranker import RankerModel, train_ranker

BLEND_RULES = ("content_gated", "weighted_sum", "multiplicative")


def label_variants(config: RankConfig) -> list[tuple[str, LabelConfig]]:
    """(family, label config) of every variant in the trade-off, configured labels included."""
    base = config.labels
    tc = config.tradeoff
    identity = ContentTransform(kind="identity")
    sigmoids = [ContentTransform(kind="sigmoid", alpha=a, beta=b) for a in tc.alphas for b in tc.betas]

    def lab(rule: str, content: ContentTransform, **blend: Any) -> LabelConfig:
        b = base.blend.model_copy(update={"rule": rule, **blend})
        return base.model_copy(
            update={"content": content, "blend": BlendConfig.model_validate(b.model_dump())}
        )

    out: list[tuple[str, LabelConfig]] = [("engagement", lab("engagement_only", base.content))]
    out.append(("content", lab("content_only", identity)))
    out += [("content_sigmoid", lab("content_only", s)) for s in sigmoids]
    out += [("blend", lab("content_gated", t)) for t in [identity, *sigmoids]]
    out += [("blend", lab("weighted_sum", base.content, weight=w)) for w in tc.blend_weights]
    out.append(("blend", lab("multiplicative", base.content)))
    family = {"engagement_only": "engagement", "content_only": "content"}.get(base.blend.rule, "blend")
    if family == "content" and base.content.kind != "identity":
        family = "content_sigmoid"
    out.append((family, base))
    seen: set[str] = set()
    unique = []
    for fam, lc in out:
        if lc.name() not in seen:
            seen.add(lc.name())
            unique.append((fam, lc))
    return unique


def _metrics(
    frame: pd.DataFrame, scores: np.ndarray, ds: Dataset, queries: set[str], k: int
) -> dict[str, float]:
    """NDCG@k on human (and true) grades and engagement@k of one scored set of held-out queries."""
    from ecomrel.eval import ranking_metrics

    run = frame[KEY].assign(score=scores)
    run = run[run["query_id"].isin(queries)]
    judged = ds.judgments[ds.judgments["query_id"].isin(queries)]
    eng = None
    names = [f"ndcg@{k}"]
    if ds.engagement is not None and len(ds.engagement):
        eng = ds.engagement[ds.engagement["query_id"].isin(queries)]
        names.append(f"engagement@{k}")
    out = ranking_metrics(judged, run, names, engagement=eng)
    if "true_grade" in judged.columns and judged["true_grade"].notna().all():
        true = ranking_metrics(judged, run, [f"ndcg@{k}"], grade_col="true_grade")
        out[f"ndcg_true@{k}"] = true[f"ndcg@{k}"]
    return out


def per_query_metrics(
    frame: pd.DataFrame, scores: np.ndarray, ds: Dataset, queries: set[str], k: int
) -> pd.DataFrame:
    """NDCG@k and engagement@k of each query separately (same definitions as :func:`_metrics`)."""
    from ecomrel.eval import ranking_metrics

    run = frame[KEY].assign(score=scores)
    names = [f"ndcg@{k}", f"engagement@{k}"]
    judged, eng = ds.judgments, ds.engagement
    rows = {}
    for q in sorted(queries):
        jq = judged[judged["query_id"] == q]
        if jq.empty:
            continue
        rows[q] = ranking_metrics(jq, run[run["query_id"] == q], names, engagement=eng[eng["query_id"] == q])
    return pd.DataFrame.from_dict(rows, orient="index")


def paired_bootstrap(base: pd.DataFrame, other: pd.DataFrame, n: int = 2000, seed: int = 0) -> dict:
    """95% percentile intervals of the relative change of each metric's mean (other vs base),
    resampling queries in pairs (``scipy.stats.bootstrap(..., paired=True)``)."""
    from scipy.stats import bootstrap

    def rel_change(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return b.mean(axis=axis) / np.maximum(a.mean(axis=axis), 1e-12) - 1

    out: dict[str, Any] = {"n_queries": len(base), "resamples": n, "method": "scipy.stats.bootstrap, paired"}
    rng = np.random.default_rng(seed)
    for col in base.columns:
        a, b = base[col].to_numpy(float), other.loc[base.index, col].to_numpy(float)
        ok = ~(np.isnan(a) | np.isnan(b))
        a, b = a[ok], b[ok]
        if len(a) < 2 or a.sum() == 0:
            continue
        res = bootstrap(
            (a, b),
            rel_change,
            paired=True,
            vectorized=True,
            n_resamples=n,
            confidence_level=0.95,
            method="percentile",
            random_state=rng,
        )
        ci = res.confidence_interval
        out[f"{col}_rel_change_ci95"] = [float(ci.low), float(ci.high)]
    return out


def _describe(family: str, lc: LabelConfig) -> dict[str, Any]:
    c, b = lc.content, lc.blend
    uses_content = b.rule != "engagement_only"
    return {
        "name": lc.name(),
        "family": family,
        "rule": b.rule,
        "transform": c.kind if uses_content else None,
        "alpha": c.alpha if uses_content and c.kind in ("sigmoid", "sigmoid_rescaled") else None,
        "beta": c.beta if uses_content and c.kind != "identity" else None,
        "weight": b.weight if b.rule == "weighted_sum" else None,
    }


def pick_best_blend(rows: list[dict], k: int, max_loss: float, on: str) -> tuple[dict | None, bool]:
    """Largest NDCG among blends within ``max_loss`` relative engagement of engagement-only, on ``on``."""
    prefix = "dev_" if on == "dev" else ""
    base = next(r for r in rows if r["family"] == "engagement")
    blends = [r for r in rows if r["family"] == "blend"]
    if not blends:
        return None, False
    nd, en = f"{prefix}ndcg@{k}", f"{prefix}engagement@{k}"
    floor = base.get(en, np.nan) * (1 - max_loss)
    ok = [r for r in blends if not np.isnan(r.get(en, np.nan)) and r[en] >= floor - 1e-12]
    pool = ok or blends
    return max(pool, key=lambda r: r[nd]), bool(ok)


def pareto_front(rows: list[dict], x: str, y: str) -> list[dict]:
    """Rows not beaten on both metrics by another row: the trade-off curve, by increasing ``x``."""
    front, best_y = [], -np.inf
    for r in sorted(rows, key=lambda r: (-r[x], -r[y])):
        if r[y] > best_y:
            front.append(r)
            best_y = r[y]
    return front[::-1]


def plot_tradeoff(
    rows: list[dict], path: str | Path, k: int = 10, best: str | None = None, max_loss: float = 0.02
) -> Path:
    """Content NDCG@k against engagement@k, one point per label variant (PNG, Agg backend).

    Left: the trained label variants (zoomed); right: the same with the unsupervised references.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "engagement": "tab:red",
        "content": "tab:blue",
        "content_sigmoid": "tab:cyan",
        "blend": "tab:green",
        "reference": "tab:gray",
    }
    x, y = f"engagement@{k}", f"ndcg@{k}"
    rows = [r for r in rows if x in r and r.get(y) is not None]
    base = next((r for r in rows if r["family"] == "engagement"), None)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    for ax, with_refs in zip(axes, (False, True), strict=True):
        shown = [r for r in rows if with_refs or r["family"] != "reference"]
        for fam, color in colors.items():
            pts = [r for r in shown if r["family"] == fam]
            if pts:
                marker = "s" if fam == "reference" else "o"
                ax.scatter([r[x] for r in pts], [r[y] for r in pts], c=color, label=fam, s=36, marker=marker)
        front = pareto_front([r for r in rows if r["family"] != "reference"], x, y)
        ax.plot([r[x] for r in front], [r[y] for r in front], c="k", lw=0.8, alpha=0.5, label="Pareto front")
        if base:
            ax.axvline(
                base[x] * (1 - max_loss),
                ls="--",
                c="tab:red",
                lw=0.8,
                label=f"engagement-only −{max_loss:.0%}",
            )
        if best:
            b = next(r for r in rows if r["name"] == best)
            ax.scatter(
                [b[x]], [b[y]], marker="*", s=260, c="gold", edgecolors="k", zorder=5, label="best blend"
            )
        for r in shown:
            if r["name"] == best or r["family"] in ("engagement", "content", "reference"):
                ax.annotate(r["name"], (r[x], r[y]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel(f"engagement@{k} (add-to-cart rate of the top {k})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"content NDCG@{k} (human grades)")
    axes[0].set_title("label variants (held-out queries)")
    axes[1].set_title("with unsupervised references")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("LLM labels: content relevance vs engagement")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tradeoff_table(result: dict) -> Any:
    """A Rich table of the trade-off (test metrics, relative changes vs engagement-only)."""
    from rich.markup import escape
    from rich.table import Table

    k = result["k"]
    t = Table(title=f"Label trade-off on held-out queries ({result['eval_split']})")
    cols = ["label variant", "family", f"NDCG@{k}", f"eng@{k}", "ΔNDCG", "Δeng"]
    has_true = any(f"ndcg_true@{k}" in r for r in result["table"])
    if has_true:
        cols.insert(3, f"NDCG_true@{k}")
    for c in cols:
        t.add_column(c, justify="left" if c in ("label variant", "family") else "right")
    for r in result["table"]:
        star = " ★" if result.get("best_blend") and r["name"] == result["best_blend"]["name"] else ""
        vals = [escape(r["name"]) + star, r["family"], f"{r[f'ndcg@{k}']:.4f}"]
        if has_true:
            vals.append(f"{r.get(f'ndcg_true@{k}', float('nan')):.4f}")
        vals += [
            f"{r.get(f'engagement@{k}', float('nan')):.4f}",
            f"{r.get('ndcg_rel_change', float('nan')):+.1%}",
            f"{r.get('engagement_rel_change', float('nan')):+.1%}",
        ]
        t.add_row(*vals)
    return t


def run_tradeoff(
    data_dir: str | Path,
    judge_scores: str | Path | pd.DataFrame,
    out_dir: str | Path,
    config: RankConfig | None = None,
    student_scores: str | Path | pd.DataFrame | None = None,
    scale: GradeScale = DEFAULT_SCALE,
) -> dict:
    """Features → one LambdaMART per label variant → NDCG@k / engagement@k on held-out queries.

    Writes ``features/``, ``tradeoff.json``, ``tradeoff.png``, the best blend's model in
    ``best_model/`` and its held-out predictions ``predictions.parquet`` (prediction-file format).
    Returns ``{"table", "best_blend", "engagement_only", "criterion", "paths", ...}``.
    """
    config = config or RankConfig()
    tc = config.tradeoff
    k = tc.k
    out_dir = Path(out_dir)
    ds = Dataset.load(data_dir)
    if ds.splits is None:
        raise DataError(f"{data_dir}: no splits.parquet; run `ecomrel data split` first")
    if ds.engagement is None or len(ds.engagement) == 0:
        raise DataError(f"{data_dir}: the trade-off needs engagement.parquet (clicks, add-to-carts, orders)")
    judge = (
        judge_scores
        if isinstance(judge_scores, pd.DataFrame)
        else read_prediction_file(judge_scores, "judge")
    )
    student = student_scores
    if student_scores is not None and not isinstance(student_scores, pd.DataFrame):
        student = read_prediction_file(student_scores, "student")
    train_q, eval_q = ds.split_queries(tc.train_split), ds.split_queries(tc.eval_split)
    dev_q = ds.split_queries("dev") if "dev" in set(ds.splits["split"]) else set()
    if not train_q or not eval_q:
        raise DataError(f"{data_dir}: splits need queries in both {tc.train_split!r} and {tc.eval_split!r}")

    frame, names = build_features(ds, judge, student, config.features, log_queries=train_q, scale=scale)
    feat_paths = write_features(
        frame,
        names,
        out_dir / "features",
        {"engagement_mode": config.features.engagement, "engagement_log_queries": f"{tc.train_split} split"},
    )
    train = frame[frame["query_id"].isin(train_q)].reset_index(drop=True)
    no_judge = train["expected_grade"].isna() if "expected_grade" in train.columns else None
    if no_judge is None:
        raise DataError(
            "judge scores must give expected_grade, p_0..p_K or score (features.judge must be on)"
        )
    dropped = int(no_judge.sum())
    train = train[~no_judge].reset_index(drop=True)
    eng_train = ds.engagement[ds.engagement["query_id"].isin(train_q)]

    rows: list[dict] = []
    models: dict[str, RankerModel] = {}
    for family, lc in track(label_variants(config), "rank: label variants", unit="models"):
        labels = make_labels(train, eng_train, lc, scale)
        model = train_ranker(
            train.assign(label=labels["label"].to_numpy()),
            names,
            config.ranker,
            label_gain(lc.blend),
            label_config=lc.model_dump(),
        )
        scores = model.predict(frame)
        row = _describe(family, lc)
        row.update(_metrics(frame, scores, ds, eval_q, k))
        if dev_q:
            row.update({f"dev_{m}": v for m, v in _metrics(frame, scores, ds, dev_q, k).items()})
        rows.append(row)
        models[lc.name()] = model

    for name, col in (
        ("BM25 only", "bm25"),
        ("judge expected grade only", "expected_grade"),
        ("product ATC rate only", "prod_atc_rate"),
    ):
        if col in frame.columns:
            row = {
                "name": name,
                "family": "reference",
                "rule": None,
                "transform": None,
                "alpha": None,
                "beta": None,
                "weight": None,
            }
            row.update(_metrics(frame, frame[col].fillna(-1.0).to_numpy(), ds, eval_q, k))
            rows.append(row)

    base = next(r for r in rows if r["family"] == "engagement")
    for r in rows:
        r["ndcg_rel_change"] = r[f"ndcg@{k}"] / base[f"ndcg@{k}"] - 1 if base[f"ndcg@{k}"] else float("nan")
        if f"engagement@{k}" in r and base.get(f"engagement@{k}"):
            r["engagement_rel_change"] = r[f"engagement@{k}"] / base[f"engagement@{k}"] - 1

    selected_on = "dev" if dev_q else tc.eval_split
    best, within = pick_best_blend(rows, k, tc.max_engagement_loss, "dev" if dev_q else "test")
    criterion = None
    if best is not None:
        criterion = {
            "selected_on": selected_on,
            "within_engagement_budget_on_selection_split": within,
            "ndcg_improves": bool(best[f"ndcg@{k}"] > base[f"ndcg@{k}"]),
            "engagement_loss_ok": bool(
                best.get("engagement_rel_change", -1.0) >= -tc.max_engagement_loss - 1e-12
            ),
        }
        criterion["met"] = criterion["ndcg_improves"] and criterion["engagement_loss_ok"]
        # How much of the difference is query sampling noise: paired bootstrap over held-out queries.
        per_base = per_query_metrics(frame, models[base["name"]].predict(frame), ds, eval_q, k)
        per_best = per_query_metrics(frame, models[best["name"]].predict(frame), ds, eval_q, k)
        criterion["bootstrap_vs_engagement_only"] = paired_bootstrap(
            per_base, per_best, seed=config.ranker.seed
        )

    paths = {**feat_paths, "table": str(out_dir / "tradeoff.json"), "plot": str(out_dir / "tradeoff.png")}
    if best is not None:
        bm = models[best["name"]]
        paths.update({f"best_{k_}": v for k_, v in bm.save(out_dir / "best_model").items()})
        held = frame[frame["query_id"].isin(eval_q)].reset_index(drop=True)
        pred = held[KEY].assign(score=bm.predict(held))
        pred["pred_grade"] = (
            np.rint(held["expected_grade"].fillna(0)).astype(int) if "expected_grade" in held.columns else 0
        )
        pred.to_parquet(out_dir / "predictions.parquet", index=False)
        paths["predictions"] = str(out_dir / "predictions.parquet")
    result = {
        "k": k,
        "train_split": tc.train_split,
        "eval_split": tc.eval_split,
        "n_train_rows": len(train),
        "n_train_rows_without_judge": dropped,
        "n_train_queries": len(train_q),
        "n_eval_queries": len(eval_q),
        "features": names,
        "table": rows,
        "engagement_only": base,
        "best_blend": best,
        "criterion": criterion,
        "config": config.model_dump(),
        "paths": paths,
    }
    plot_tradeoff(rows, out_dir / "tradeoff.png", k, best["name"] if best else None, tc.max_engagement_loss)
    (out_dir / "tradeoff.json").write_text(json.dumps(_clean(result), indent=2, default=_json_default))
    return result


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _clean(o: Any) -> Any:
    """NaN → null, so that tradeoff.json is strict JSON."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)) and np.isnan(o):
        return None
    return o

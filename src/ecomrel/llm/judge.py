"""Batch judging: score every pair of a data folder, resumably, into a prediction file.

``run_judge(JudgeConfig(...))`` writes into ``out``::

    parts/part-00000.parquet ...   one file per chunk of whole queries, written atomically
    manifest.json                  the run's fingerprint, the chunks already committed and the
                                   seconds of every segment (call) that worked on the folder
    scores.parquet                 the prediction file: query_id, product_id, score (= expected
                                   grade), pred_grade, p_0..p_3, expected_grade, tier
    cumpt_thresholds.json          the CumPT thresholds used for ``tier``
    metrics.json                   classification metrics where the pairs carry human grades

A run killed at any point continues where it stopped: a chunk counts as done only once its
part file is on disk *and* listed in the manifest, so a chunk cut off mid-way is scored
again from scratch and none is scored twice or lost. A different configuration (model,
prompt, pairs) in the same folder is refused unless ``overwrite``.

Everything a user can get wrong is checked before the first pair is scored: the grade scale
(``scale``), the thresholds file (read and checked against the scale; the error names the
file) and the backend's dependencies (``backend: vllm`` without vLLM is a
:class:`~ecomrel.errors.MissingDependencyError`). The manifest is written with the first
committed chunk, so a run that fails to start (a model that does not load) leaves nothing that
blocks the next, corrected run; a manifest with no committed chunk never blocks one either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.data.schema import Dataset
from ecomrel.errors import ConfigError, DataError, MissingDependencyError
from ecomrel.eval.classification import classification_metrics
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.cumpt import THRESHOLDS_FILE, CumPT, default_tiers, tune
from ecomrel.llm.judge_config import JudgeConfig
from ecomrel.progress import make_progress

SCORES_FILE = "scores.parquet"
MANIFEST_FILE = "manifest.json"
PARTS_DIR = "parts"
KEYS = ["query_id", "product_id"]


# --- which pairs, in which chunks ------------------------------------------------------
def select_pairs(
    ds: Dataset,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    limit_queries: int | None = None,
) -> pd.DataFrame:
    """Judged pairs (one per query/product) in a stable order: by query, then product.

    ``limit`` takes whole queries in a seeded random order until the limit is reached (the
    last query may be cut), so prefix sharing keeps working on a subset. ``limit_queries`` takes
    the first ``limit_queries`` queries of the same seeded order with *all* their pairs (so
    ``limit_queries=150`` is "150 whole queries"); the two are mutually exclusive.
    """
    if limit is not None and limit_queries is not None:
        raise ConfigError("limit and limit_queries are mutually exclusive: set one")
    try:
        pairs = ds.pairs(split)
    except KeyError as exc:
        raise DataError(str(exc).strip("'\"")) from None
    pairs = pairs.drop_duplicates(KEYS).sort_values(KEYS, kind="stable").reset_index(drop=True)
    if pairs["query"].isna().any():
        bad = pairs.loc[pairs["query"].isna(), "query_id"].iloc[0]
        raise DataError(f"judgments.parquet: query_id {bad!r} has no row in queries.parquet")
    if limit is not None and limit < len(pairs):
        queries = pairs["query_id"].unique()
        order = np.random.default_rng(seed).permutation(len(queries))
        sizes = pairs.groupby("query_id", sort=False).size()
        chosen, total = [], 0
        for q in queries[order]:
            chosen.append(q)
            total += int(sizes[q])
            if total >= limit:
                break
        pairs = pairs[pairs["query_id"].isin(set(chosen))].head(limit).reset_index(drop=True)
    if limit_queries is not None:
        queries = pairs["query_id"].unique()
        if limit_queries < len(queries):
            order = np.random.default_rng(seed).permutation(len(queries))
            chosen = set(queries[order[:limit_queries]])
            pairs = pairs[pairs["query_id"].isin(chosen)].reset_index(drop=True)
    return pairs


def plan_chunks(pairs: pd.DataFrame, chunk_size: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, end)`` of about ``chunk_size`` pairs that never split a query
    (a query larger than ``chunk_size`` is a chunk of its own)."""
    bounds: list[tuple[int, int]] = []
    q = pairs["query_id"].to_numpy()
    starts = [0] + [i for i in range(1, len(q)) if q[i] != q[i - 1]] + [len(q)]
    begin = 0
    for s in starts[1:]:
        if s - begin >= chunk_size or s == len(q):
            bounds.append((begin, s))
            begin = s
    return [b for b in bounds if b[1] > b[0]]


def fingerprint(config: JudgeConfig, pairs: pd.DataFrame, scale: GradeScale) -> str:
    """What the parts of a run depend on: model, adapter, prompt, scale, chunking and the pair list."""
    h = hashlib.sha256()
    spec = {
        "model": config.model,
        "adapter": str(config.adapter) if config.adapter else None,
        "template": config.template,
        "scale": list(scale.names),
        "chunk_size": config.chunk_size,
        "dtype": config.dtype,
    }
    h.update(json.dumps(spec, sort_keys=True).encode())
    for q, p in zip(pairs["query_id"], pairs["product_id"], strict=True):
        h.update(f"{q}\t{p}\n".encode())
    return h.hexdigest()


# --- manifest ------------------------------------------------------------------------
def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def _part_path(out: Path, i: int) -> Path:
    return out / PARTS_DIR / f"part-{i:05d}.parquet"


def _load_manifest(out: Path, fp: str, overwrite: bool) -> dict:
    path = out / MANIFEST_FILE
    if path.exists():
        manifest = json.loads(path.read_text())
        if manifest.get("fingerprint") == fp:
            return manifest
        if not overwrite and manifest.get("done"):
            raise ConfigError(
                f"{out} holds a judge run with a different configuration (model, prompt or pairs); "
                "use another --out or pass --overwrite"
            )
        shutil.rmtree(out / PARTS_DIR, ignore_errors=True)
        for name in (MANIFEST_FILE, SCORES_FILE):
            (out / name).unlink(missing_ok=True)
    return {"fingerprint": fp, "done": {}}


def _start_segment(manifest: dict) -> dict:
    """A new entry in ``manifest["segments"]``: one per call that works on the folder (a killed run
    resumed is two), so the run's seconds add up across resumes."""
    seg = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": 0.0, "scored": 0}
    manifest.setdefault("segments", []).append(seg)
    return seg


def total_seconds(manifest: dict) -> float:
    """Seconds of every segment recorded in a manifest (each updated at its every committed chunk)."""
    return float(sum(float(s.get("seconds") or 0.0) for s in manifest.get("segments", [])))


def _chunk_is_done(out: Path, manifest: dict, i: int, n_rows: int) -> bool:
    rec = manifest["done"].get(str(i))
    p = _part_path(out, i)
    return bool(rec) and rec["rows"] == n_rows and p.is_file()


def _commit_chunk(out: Path, manifest: dict, i: int, scored: pd.DataFrame) -> None:
    p = _part_path(out, i)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    scored.to_parquet(tmp, index=False)
    tmp.replace(p)  # the part is complete on disk before the manifest names it
    manifest["done"][str(i)] = {"rows": int(len(scored)), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write_json(out / MANIFEST_FILE, manifest)


# --- scoring backends ----------------------------------------------------------------
ChunkScores = Iterator[tuple[int, pd.DataFrame]]


def _local_chunks(
    config: JudgeConfig,
    pairs: pd.DataFrame,
    todo: list[tuple[int, int, int]],
    scale: GradeScale,
    progress: Callable[[int], None],
) -> ChunkScores:
    import torch

    from ecomrel.llm.models import load_model
    from ecomrel.llm.scorer import score_pairs

    model, tokenizer = load_model(
        config.model,
        config.adapter,
        dtype=getattr(torch, config.dtype),
        threads=config.threads,
        merge_adapter=True,
    )
    for i, a, b in todo:
        chunk = pairs.iloc[a:b]
        yield (
            i,
            score_pairs(
                model,
                tokenizer,
                chunk,
                config.batch_size,
                config.share_prefix,
                scale,
                config.template,
                config.padding_side,
                progress,
            ),
        )


def _vllm_chunks(
    config: JudgeConfig,
    pairs: pd.DataFrame,
    todo: list[tuple[int, int, int]],
    scale: GradeScale,
    progress: Callable[[int], None],
) -> ChunkScores:
    from ecomrel.llm.vllm_backend import VLLMJudge

    judge = VLLMJudge(config.model, adapter=config.adapter, template=config.template, scale=scale)
    for i, a, b in todo:
        scored = judge.score(pairs.iloc[a:b])
        progress(len(scored))
        yield i, scored


def _ray_chunks(
    config: JudgeConfig,
    pairs: pd.DataFrame,
    todo: list[tuple[int, int, int]],
    scale: GradeScale,
    progress: Callable[[int], None],
) -> ChunkScores:
    from ecomrel.llm.ray_backend import score_stream

    tagged = pd.concat([pairs.iloc[a:b].assign(_chunk=i) for i, a, b in todo], ignore_index=True)
    want = {i: b - a for i, a, b in todo}
    got: dict[int, list[pd.DataFrame]] = {}
    for batch in score_stream(tagged, config, scale):
        progress(len(batch))
        for i, part in batch.groupby("_chunk", sort=False):
            got.setdefault(int(i), []).append(part.drop(columns="_chunk"))
            if sum(len(x) for x in got[int(i)]) == want[int(i)]:
                yield int(i), pd.concat(got.pop(int(i)), ignore_index=True)


BACKENDS = {"local": _local_chunks, "ray": _ray_chunks, "vllm": _vllm_chunks}


# --- tiers and metrics ---------------------------------------------------------------
def _model_folders(config: JudgeConfig) -> list[Path]:
    from ecomrel.llm.models import BUILTIN_MODELS

    folders = []
    if config.adapter is not None:
        folders.append(Path(config.adapter))
    if config.model not in BUILTIN_MODELS and Path(config.model).is_dir():
        folders.append(Path(config.model))
    return folders


def _given_thresholds(config: JudgeConfig, scale: GradeScale) -> CumPT | None:
    """The thresholds a run applies without tuning (``thresholds``, else a file beside the model),
    read and checked against the scale; ``None`` when there are none (or the run tunes its own)."""
    if config.tune_split is not None:
        return None
    if config.thresholds is not None:
        return CumPT.load(config.thresholds, scale)
    for folder in _model_folders(config):
        if (folder / THRESHOLDS_FILE).is_file():
            return CumPT.load(folder / THRESHOLDS_FILE, scale)
    return None


def _check_backend(config: JudgeConfig) -> None:
    """The backend's optional dependencies, before any work."""
    if config.backend == "vllm":
        from ecomrel.llm.vllm_backend import vllm_available

        ok, why = vllm_available()
    elif config.backend == "ray":
        from ecomrel.llm.ray_backend import ray_available

        ok, why = ray_available()
    else:
        return
    if not ok:
        raise MissingDependencyError(f"judge backend {config.backend!r}: {why}", field="backend")


def _cumpt(
    config: JudgeConfig,
    scores: pd.DataFrame,
    pairs: pd.DataFrame,
    ds: Dataset,
    scale: GradeScale,
    given: CumPT | None,
) -> CumPT:
    probs = scores[scale.prob_columns()].to_numpy()
    if config.tune_split is not None:
        if "grade" not in pairs.columns:
            raise DataError("cannot tune CumPT thresholds: the judgments have no grade column")
        mask = (
            pairs["query_id"].isin(ds.split_queries(config.tune_split)).to_numpy()
            & pairs["grade"].notna().to_numpy()
        )
        if not mask.any():
            raise DataError(f"no scored pairs of split {config.tune_split!r} to tune CumPT thresholds on")
        return tune(
            probs[mask],
            pairs.loc[mask, "grade"].astype(int).to_numpy(),
            tiers=default_tiers(scale),
            objective=config.cumpt_objective,
            precision_target=config.precision_target,
        )
    return given if given is not None else CumPT.single_beta(0.5, default_tiers(scale))


def judge_metrics(
    scores: pd.DataFrame, grades: np.ndarray, scale: GradeScale = DEFAULT_SCALE
) -> dict[str, float]:
    """Macro/weighted F1, RMSE, ECE, optimistic-bias rate of the judge against human grades."""
    probs = scores[scale.prob_columns()].to_numpy()
    pred = scores["pred_grade"].to_numpy().astype(int)
    grades = np.asarray(grades).astype(int)
    names = ["accuracy", "f1_macro", "f1_weighted", "rmse", "rmse_expected", "ece"]
    names += ["optimistic_rate", "pessimistic_rate"]
    expected = scores["expected_grade"].to_numpy(dtype=float)
    out = classification_metrics(grades, pred, names, probs=probs, expected=expected, scale=scale)
    out["n"] = int(len(grades))
    return out


# --- the stage -------------------------------------------------------------------------
def run_judge(
    config: JudgeConfig,
    scale: GradeScale | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score the configured pairs (resuming an earlier run), assign CumPT tiers, write the files.

    The grade scale is ``config.scale`` (``scale`` overrides it for callers that hold a
    :class:`GradeScale` already).

    ``on_chunk(i)`` is called after chunk ``i`` is committed (tests interrupt a run from it).
    Returns paths, counts, speed (pairs/s of this run) and metrics.
    """
    t0 = time.perf_counter()
    scale = scale if scale is not None else config.grade_scale
    _check_backend(config)
    given = _given_thresholds(config, scale)
    out = Path(config.out)
    ds = Dataset.load(config.data)
    pairs = select_pairs(ds, config.split, config.limit, config.limit_seed, config.limit_queries)
    if pairs.empty:
        raise DataError(
            f"{config.data}: no judged pairs to score"
            + (f" in split {config.split!r}" if config.split else "")
        )
    chunks = plan_chunks(pairs, config.chunk_size)
    fp = fingerprint(config, pairs, scale)
    manifest = _load_manifest(out, fp, config.overwrite)
    manifest.update(n_pairs=int(len(pairs)), n_chunks=len(chunks), config=config.model_dump(mode="json"))
    out.mkdir(parents=True, exist_ok=True)  # the manifest itself is written with the first chunk

    segment = _start_segment(manifest)
    todo = [(i, a, b) for i, (a, b) in enumerate(chunks) if not _chunk_is_done(out, manifest, i, b - a)]
    already = len(pairs) - sum(b - a for _, a, b in todo)
    scored_now = 0
    t_score = time.perf_counter()
    if todo:
        with make_progress("pairs") as bar:
            task = bar.add_task("judge", total=len(pairs), completed=already, rate="")

            def advance(n: int) -> None:
                nonlocal scored_now
                scored_now += n
                rate = scored_now / max(time.perf_counter() - t_score, 1e-9)
                bar.update(task, advance=n, rate=f"{rate:,.1f} pairs/s")

            for i, scored in BACKENDS[config.backend](config, pairs, todo, scale, advance):
                a, b = chunks[i]
                expected = pairs.iloc[a:b][KEYS].reset_index(drop=True)
                if not scored[KEYS].reset_index(drop=True).equals(expected):
                    scored = expected.merge(scored, on=KEYS, how="left", validate="one_to_one")
                segment.update(seconds=round(time.perf_counter() - t0, 3), scored=scored_now)
                _commit_chunk(out, manifest, i, scored.reset_index(drop=True))
                if on_chunk is not None:
                    on_chunk(i)
    score_seconds = time.perf_counter() - t_score

    scores = pd.concat([pd.read_parquet(_part_path(out, i)) for i in range(len(chunks))], ignore_index=True)
    if len(scores) != len(pairs) or scores.duplicated(KEYS).any():
        raise RuntimeError(
            f"{out}: parts hold {len(scores)} rows for {len(pairs)} pairs; rerun with --overwrite"
        )
    cumpt = _cumpt(config, scores, pairs, ds, scale, given)
    probs = scores[scale.prob_columns()].to_numpy()
    scores["tier"] = cumpt.assign(probs)
    scores["score"] = scores["expected_grade"]
    cols = KEYS + ["score", "pred_grade", *scale.prob_columns(), "expected_grade", "tier"]
    scores = scores[cols]
    tmp = out / (SCORES_FILE + ".tmp")
    scores.to_parquet(tmp, index=False)
    tmp.replace(out / SCORES_FILE)
    thresholds_path = cumpt.save(out / THRESHOLDS_FILE)
    if config.tune_split is not None and config.save_thresholds_beside_model:
        for folder in _model_folders(config)[:1]:
            with contextlib.suppress(OSError):  # a read-only model folder keeps only <out>/ thresholds
                cumpt.save(folder / THRESHOLDS_FILE)

    segment.update(seconds=round(time.perf_counter() - t0, 3), scored=scored_now, finished=True)
    _write_json(out / MANIFEST_FILE, manifest)
    result: dict[str, Any] = {
        "scores": str(out / SCORES_FILE),
        "thresholds": str(thresholds_path),
        "n_pairs": int(len(pairs)),
        "scored_now": int(scored_now),
        "resumed": int(already),
        # every segment of this folder (a killed run and its resumes add up); this call's alone
        "seconds": round(total_seconds(manifest), 3),
        "segment_seconds": round(time.perf_counter() - t0, 3),
        "segments": len(manifest["segments"]),
        "pairs_per_s": round(scored_now / score_seconds, 3) if scored_now else None,
        "tiers": {str(k): int(v) for k, v in scores["tier"].value_counts().items()},
    }
    if "grade" in pairs.columns and pairs["grade"].notna().any():
        ok = pairs["grade"].notna().to_numpy()
        metrics = {"all": judge_metrics(scores[ok], pairs.loc[ok, "grade"].to_numpy(), scale)}
        if ds.splits is not None:
            for split in sorted(ds.splits["split"].unique()):
                m = ok & pairs["query_id"].isin(ds.split_queries(split)).to_numpy()
                if m.any():
                    metrics[str(split)] = judge_metrics(scores[m], pairs.loc[m, "grade"].to_numpy(), scale)
        _write_json(out / "metrics.json", metrics)
        result["metrics"] = metrics
    return result

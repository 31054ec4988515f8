"""LREF's helper models behind one interface, and K-fold cross-fitting with per-fold checkpoints.

A *helper* is any ecomrel relevance scorer that can be trained on a frame of pairs with integer
targets and then return grade probabilities for other pairs (:class:`HelperScorer`):

- :class:`CrossEncoderScorer` — the MiniLM cross-encoder student (the CPU default);
- :class:`LLMJudgeScorer` — the LLM judge: a LoRA adapter trained with ecomrel's SFT on label-only
  targets, scored with :func:`ecomrel.llm.scorer.score_pairs` (one forward pass per pair);
- :class:`LinearScorer` — hashed query-word × product-word features and logistic regression:
  trains in seconds, for smoke runs and the known-noise check.

:func:`crossfit` trains one helper K times: fold ``f``'s model learns from a sample of the *other*
folds (drawn by the helper's own sampler) and scores fold ``f`` only, so every pair gets an
out-of-fold prediction from a model that never saw it (checked, not assumed). Each finished fold
is a checkpoint — ``fold_<f>/model`` (safetensors) + ``fold_<f>/oof.parquet`` + ``done.json`` with
a fingerprint of everything that shaped it — so a killed run continues with the next fold.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.select.config import ScorerSettings

DONE_FILE = "done.json"
OOF_FILE = "oof.parquet"
TRAIN_FILE = "train_pairs.parquet"
MODEL_DIR = "model"


# --- the interface ---------------------------------------------------------------------------------


class HelperScorer(ABC):
    """A relevance scorer that trains on (pairs, integer targets) and predicts (n, K) probabilities.

    ``pairs`` frames carry ``query_id``, ``product_id``, ``query`` and the product fields (``title``,
    ``brand``, ``category``, ``attributes``, ``price``, ...), as :meth:`ecomrel.data.Dataset.pairs`
    returns them. ``fit`` saves everything needed to predict into ``folder`` (safetensors weights);
    ``predict_proba`` reads it back from ``folder``, so a resumed run can score with a fold's model.
    """

    kind: str = "abstract"

    def __init__(self, settings: ScorerSettings, num_labels: int, seed: int = 0) -> None:
        self.settings = settings
        self.num_labels = num_labels
        self.seed = seed

    @abstractmethod
    def fit(self, pairs: pd.DataFrame, targets: np.ndarray, folder: Path) -> dict[str, Any]:
        """Train on ``pairs`` (targets in 0..K-1) and save the model into ``folder``; return stats."""

    @abstractmethod
    def predict_proba(self, pairs: pd.DataFrame, folder: Path) -> np.ndarray:
        """(n, K) grade probabilities of the model saved in ``folder``."""


def _threads(settings: ScorerSettings) -> None:
    if settings.num_threads:
        import torch

        torch.set_num_threads(settings.num_threads)


def _student_api():
    """The cross-encoder student's public pieces (``ecomrel.student`` once it exists, else ``train``)."""
    try:  # the student's own package (used by train, export and serve) when it is there
        from ecomrel.student.model import default_student_base, make_student
        from ecomrel.student.predict import predict_proba
        from ecomrel.student.recipe import StudentRecipe
    except ImportError:
        from ecomrel.train.distill_config import StudentRecipe, default_student_base
        from ecomrel.train.distill_trainer import make_student, predict_proba
    return StudentRecipe, default_student_base, make_student, predict_proba


class CrossEncoderScorer(HelperScorer):
    """The MiniLM cross-encoder student (sentence-transformers ``CrossEncoder``, one logit per grade),
    fine-tuned with cross-entropy on the targets by ``CrossEncoderTrainer``."""

    kind = "cross_encoder"

    def _recipe(self):
        StudentRecipe, *_ = _student_api()
        from ecomrel.grades import DEFAULT_SCALE

        names = list(DEFAULT_SCALE.names)[: self.num_labels]
        names += [f"grade_{i}" for i in range(len(names), self.num_labels)]
        return StudentRecipe(
            product_fields=self.settings.product_fields,
            max_length=self.settings.max_length,
            grade_names=names,
        )

    def texts(self, pairs: pd.DataFrame) -> tuple[list[str], list[str]]:
        recipe = self._recipe()
        return (
            pairs["query"].fillna("").astype(str).tolist(),
            [recipe.product_text(r) for r in pairs.to_dict("records")],
        )

    def fit(self, pairs: pd.DataFrame, targets: np.ndarray, folder: Path) -> dict[str, Any]:
        import torch
        from datasets import Dataset as HFDataset
        from sentence_transformers.cross_encoder import CrossEncoderTrainer
        from sentence_transformers.cross_encoder.losses import CrossEntropyLoss
        from sentence_transformers.cross_encoder.training_args import CrossEncoderTrainingArguments
        from transformers import set_seed

        _, default_base, make_student, _ = _student_api()
        s = self.settings
        _threads(s)
        device = s.device or ("cuda" if torch.cuda.is_available() else "cpu")
        set_seed(self.seed)
        model = make_student(s.base_model or default_base(), self._recipe(), device=device)
        q, p = self.texts(pairs)
        ds = HFDataset.from_dict({"query": q, "product": p, "label": [int(t) for t in targets]})
        bf16 = s.precision == "bf16" or (
            s.precision == "auto" and device != "cpu" and torch.cuda.is_bf16_supported()
        )
        args = CrossEncoderTrainingArguments(
            output_dir=str(folder / "trainer"),
            num_train_epochs=s.epochs,
            max_steps=s.max_steps,
            per_device_train_batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            warmup_steps=0.1,
            save_strategy="no",
            logging_steps=50,
            seed=self.seed,
            data_seed=self.seed,
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=device == "cpu",
            bf16=bf16,
        )
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=ds, loss=CrossEntropyLoss(model))
        result = trainer.train()
        model.save_pretrained(str(folder / MODEL_DIR), safe_serialization=True)
        shutil.rmtree(folder / "trainer", ignore_errors=True)
        self._model, self._folder = model, folder
        return {"train_loss": float(result.training_loss), "steps": int(trainer.state.global_step)}

    def predict_proba(self, pairs: pd.DataFrame, folder: Path) -> np.ndarray:
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        *_, predict = _student_api()
        _threads(self.settings)
        model = getattr(self, "_model", None) if getattr(self, "_folder", None) == folder else None
        if model is None:
            device = self.settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model = CrossEncoder(str(folder / MODEL_DIR), device=device, local_files_only=True)
        q, p = self.texts(pairs)
        return predict(model, q, p, self.settings.eval_batch_size)


class LLMJudgeScorer(HelperScorer):
    """The LLM judge as a helper: a LoRA adapter trained by :func:`ecomrel.train.sft_trainer.run_sft` on
    label-only targets (the judge's own prompt, the target grade as the answer), then scored with
    :func:`ecomrel.llm.scorer.score_pairs` — the grade-token probabilities at the answer position."""

    kind = "llm_judge"

    def _base(self) -> str:
        return self.settings.base_model or "smollm2"

    def fit(self, pairs: pd.DataFrame, targets: np.ndarray, folder: Path) -> dict[str, Any]:
        from ecomrel.grades import DEFAULT_SCALE
        from ecomrel.llm.models import load_model
        from ecomrel.train.sft_config import SFTRunConfig
        from ecomrel.train.sft_data import label_only_examples, save_examples
        from ecomrel.train.sft_trainer import run_sft

        s = self.settings
        _, tokenizer = load_model(self._base(), threads=s.num_threads)
        frame = pairs.copy()
        frame["grade"] = np.asarray(targets, dtype=int)
        examples = save_examples(
            label_only_examples(frame, tokenizer, DEFAULT_SCALE), folder / "examples.parquet"
        )
        lora: dict[str, Any] = {"r": s.lora_r, "alpha": 2 * s.lora_r, "dropout": 0.0}
        if s.lora_top_layers:
            lora["top_layers"] = s.lora_top_layers
        cfg = SFTRunConfig(
            base_model=self._base(),
            examples=str(examples),
            output_dir=str(folder / "sft"),
            training_args={
                "num_train_epochs": s.epochs,
                "max_steps": s.max_steps,
                "per_device_train_batch_size": s.batch_size,
                "learning_rate": s.learning_rate,
                "max_length": s.max_length,
                "save_steps": 10**6,
                "logging_steps": 10,
            },
            precision=s.precision,
            seed=self.seed,
            num_threads=s.num_threads,
            lora=lora,
            resume=False,
        )
        result = run_sft(cfg)
        adapter = Path(result["adapter"])
        if (folder / MODEL_DIR).exists():
            shutil.rmtree(folder / MODEL_DIR)
        shutil.copytree(adapter, folder / MODEL_DIR)
        shutil.rmtree(folder / "sft", ignore_errors=True)
        return {"train_loss": result.get("train_loss"), "steps": result.get("steps")}

    def predict_proba(self, pairs: pd.DataFrame, folder: Path) -> np.ndarray:
        from ecomrel.llm.models import load_model
        from ecomrel.llm.scorer import score_pairs

        s = self.settings
        device = s.device or "cpu"
        model, tokenizer = load_model(
            self._base(), adapter=folder / MODEL_DIR, threads=s.num_threads, device=device, merge_adapter=True
        )
        scored = score_pairs(model, tokenizer, pairs.reset_index(drop=True), batch_size=s.eval_batch_size)
        return scored[[f"p_{k}" for k in range(self.num_labels)]].to_numpy(dtype=np.float64)


def _words(text: Any) -> list[str]:
    import re

    return re.findall(r"[a-z0-9]+", str(text or "").lower())


class LinearScorer(HelperScorer):
    """Hashed features — query words, product words, every (query word, product word) pair, and the
    share of query words found in the product — with multinomial logistic regression (scikit-learn).
    Weights are saved as safetensors. Seconds to train: a fast helper for checks, not a judge."""

    kind = "linear"

    def _features(self, pairs: pd.DataFrame):
        from scipy import sparse
        from sklearn.feature_extraction import FeatureHasher

        fields = self.settings.product_fields
        rows = []
        cover = np.zeros((len(pairs), 3), dtype=np.float64)
        for i, r in enumerate(pairs.to_dict("records")):
            q = _words(r.get("query"))
            parts = []
            for f in fields:
                v = r.get(f)
                if isinstance(v, dict):
                    v = " ".join(f"{k} {x}" for k, x in v.items())
                elif isinstance(v, list | tuple):
                    v = " ".join(
                        " ".join(map(str, kv)) if isinstance(kv, list | tuple) else str(kv) for kv in v
                    )
                parts += _words(v)
            pset = set(parts)
            qs = set(q)
            feats = [f"q={w}" for w in qs] + [f"p={w}" for w in pset]
            feats += [f"x={a}|{b}" for a in qs for b in pset]
            feats += [f"m={w}" for w in qs if w in pset] + [f"u={w}" for w in qs if w not in pset]
            rows.append(feats)
            hit = sum(w in pset for w in qs)
            cover[i] = (hit / max(len(qs), 1), float(hit == len(qs)), float(hit == 0))
        hashed = FeatureHasher(n_features=self.settings.linear_features, input_type="string").transform(rows)
        return sparse.hstack([hashed, sparse.csr_matrix(cover)]).tocsr()

    def fit(self, pairs: pd.DataFrame, targets: np.ndarray, folder: Path) -> dict[str, Any]:
        from safetensors.numpy import save_file
        from sklearn.linear_model import LogisticRegression

        x = self._features(pairs)
        y = np.asarray(targets, dtype=int)
        c = 1e-4 / self.settings.learning_rate
        clf = LogisticRegression(C=c, max_iter=300, random_state=self.seed)
        clf.fit(x, y)
        coef = np.zeros((self.num_labels, x.shape[1]), dtype=np.float32)
        bias = np.full(self.num_labels, -30.0, dtype=np.float32)  # a grade never seen in training
        classes = clf.classes_.astype(int)
        if len(classes) == 2:  # scikit-learn's binary case: one weight row for the second class
            coef[classes[1]], bias[classes[1]] = clf.coef_[0], clf.intercept_[0]
            bias[classes[0]] = 0.0
        else:
            coef[classes], bias[classes] = clf.coef_, clf.intercept_
        (folder / MODEL_DIR).mkdir(parents=True, exist_ok=True)
        save_file({"coef": coef, "bias": bias}, str(folder / MODEL_DIR / "linear.safetensors"))
        return {"classes": classes.tolist(), "features": int(x.shape[1])}

    def predict_proba(self, pairs: pd.DataFrame, folder: Path) -> np.ndarray:
        from safetensors.numpy import load_file

        w = load_file(str(folder / MODEL_DIR / "linear.safetensors"))
        logits = self._features(pairs) @ w["coef"].T.astype(np.float64) + w["bias"].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


SCORERS: dict[str, type[HelperScorer]] = {
    "cross_encoder": CrossEncoderScorer,
    "llm_judge": LLMJudgeScorer,
    "linear": LinearScorer,
}


def make_scorer(settings: ScorerSettings, num_labels: int, seed: int = 0) -> HelperScorer:
    """The helper scorer ``settings.kind`` names."""
    return SCORERS[settings.kind](settings, num_labels, seed)


# --- folds and samples -------------------------------------------------------------------------------


def assign_folds(pool: pd.DataFrame, k: int, seed: int = 0, group_by_query: bool = True) -> np.ndarray:
    """Fold number 0..k-1 of every pool row: whole queries per fold (or single pairs), shuffled by seed,
    each fold as close to n/k pairs as whole queries allow (greedy: largest query to the smallest fold)."""
    rng = np.random.default_rng(seed)
    if not group_by_query:
        order = rng.permutation(len(pool))
        folds = np.empty(len(pool), dtype=int)
        folds[order] = np.arange(len(pool)) % k
        return folds
    qids = pool["query_id"].astype(str).to_numpy()
    uniq, inverse, counts = np.unique(qids, return_inverse=True, return_counts=True)
    if len(uniq) < k:
        from ecomrel.errors import DataError

        raise DataError(
            f"the pool has {len(uniq)} queries, fewer than folds={k}; "
            "lower `folds` or set group_by_query: false"
        )
    perm = rng.permutation(len(uniq))
    order = perm[np.argsort(-counts[perm], kind="stable")]
    sizes = np.zeros(k, dtype=int)
    of_query = np.empty(len(uniq), dtype=int)
    for qi in order:
        f = int(np.argmin(sizes))
        of_query[qi] = f
        sizes[f] += counts[qi]
    return of_query[inverse]


def uniform_sample(idx: np.ndarray, fraction: float, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """IM's sample: a uniform share of the rows (the online exposure distribution as it is)."""
    n = max(1, int(round(fraction * len(idx))))
    if cap is not None:
        n = min(n, cap)
    return np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False))


def band_balanced_sample(
    idx: np.ndarray,
    bands: np.ndarray,
    fraction: float,
    cap: int | None,
    rng: np.random.Generator,
    oversample: bool = True,
) -> np.ndarray:
    """CI's sample: equal shares of head, torso and tail pairs (LREF's equal-proportion buckets).

    The sample has the size a uniform sample would have; each band present gets an equal quota, drawn
    without replacement, or with replacement when the band is short and ``oversample`` is on.
    """
    n = max(1, int(round(fraction * len(idx))))
    if cap is not None:
        n = min(n, cap)
    present = [b for b in ("head", "torso", "tail") if (bands[idx] == b).any()]
    present += sorted({str(b) for b in bands[idx]} - set(present))
    quota = max(1, n // max(len(present), 1))
    picked = []
    for b in present:
        members = idx[bands[idx] == b]
        if len(members) >= quota:
            picked.append(rng.choice(members, size=quota, replace=False))
        elif oversample:
            picked.append(
                np.concatenate([members, rng.choice(members, size=quota - len(members), replace=True)])
            )
        else:
            picked.append(members)
    return np.sort(np.concatenate(picked)) if picked else idx[:0]


# --- cross-fitting ------------------------------------------------------------------------------------

Sampler = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def fingerprint(*parts: Any) -> str:
    """SHA-256 of JSON-serialisable parts (settings, ids): what a finished fold must match to be reused."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray | pd.Series | pd.Index):
            h.update(np.ascontiguousarray(np.asarray(p).astype(str)).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _fold_done(folder: Path, fp: str) -> bool:
    done = folder / DONE_FILE
    if not (done.exists() and (folder / OOF_FILE).exists()):
        return False
    try:
        return json.loads(done.read_text()).get("fingerprint") == fp
    except ValueError:
        return False


def crossfit(
    name: str,
    scorer: HelperScorer,
    pool: pd.DataFrame,
    targets: np.ndarray,
    folds: np.ndarray,
    sampler: Sampler,
    folder: Path,
    seed: int = 0,
    settings_fp: str = "",
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-fold probabilities (n, K) of helper ``name`` for every pool row, and per-fold stats.

    For fold ``f``: train rows = ``sampler(rows not in f)``; the model scores the rows in ``f`` only.
    A fold whose ``done.json`` fingerprint matches is read back instead of retrained (resume); a
    stale one (other settings, other pool) is retrained. Raises ``RuntimeError`` if a model would
    score a pair it trained on — that would be a bug in the fold plan, never a user error.
    """
    say = log or (lambda _m: None)
    n, k = len(pool), scorer.num_labels
    keys = pool["query_id"].astype(str) + "\x1f" + pool["product_id"].astype(str)
    probs = np.full((n, k), np.nan)
    stats: dict[str, Any] = {"folds": [], "trained": 0, "reused": 0}
    base_fp = fingerprint(name, settings_fp, keys.to_numpy(), np.asarray(targets), np.asarray(folds), seed)
    for f in sorted(set(int(x) for x in folds)):
        fdir = folder / f"fold_{f}"
        fp = fingerprint(base_fp, f)
        held = np.flatnonzero(folds == f)
        if _fold_done(fdir, fp):
            oof = pd.read_parquet(fdir / OOF_FILE)
            if len(oof) == len(held) and (oof["row"].to_numpy() == held).all():
                probs[held] = oof[[f"p_{i}" for i in range(k)]].to_numpy()
                info = json.loads((fdir / DONE_FILE).read_text())
                stats["folds"].append({**info, "reused": True})
                stats["reused"] += 1
                say(f"{name} fold {f}: finished earlier, reused")
                continue
        if fdir.exists():
            shutil.rmtree(fdir)
        fdir.mkdir(parents=True)
        rng = np.random.default_rng([seed, f, int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)])
        train_rows = sampler(np.flatnonzero(folds != f), rng)
        overlap = set(keys.to_numpy()[train_rows]) & set(keys.to_numpy()[held])
        if overlap:
            raise RuntimeError(
                f"{name} fold {f}: {len(overlap)} training pairs are among the pairs it scores"
            )
        pd.DataFrame(
            {
                "row": train_rows,
                "query_id": pool["query_id"].to_numpy()[train_rows],
                "product_id": pool["product_id"].to_numpy()[train_rows],
                "target": np.asarray(targets)[train_rows],
            }
        ).to_parquet(fdir / TRAIN_FILE, index=False)
        t0 = time.perf_counter()
        say(f"{name} fold {f}: training on {len(train_rows)} pairs")
        fit_stats = scorer.fit(
            pool.iloc[train_rows].reset_index(drop=True), np.asarray(targets)[train_rows], fdir
        )
        t1 = time.perf_counter()
        p = np.asarray(scorer.predict_proba(pool.iloc[held].reset_index(drop=True), fdir), dtype=np.float64)
        if p.shape != (len(held), k):
            raise RuntimeError(f"{name} fold {f}: scorer returned shape {p.shape}, expected {(len(held), k)}")
        probs[held] = p
        oof = pd.DataFrame(
            {
                "row": held,
                "query_id": pool["query_id"].to_numpy()[held],
                "product_id": pool["product_id"].to_numpy()[held],
            }
        )
        for i in range(k):
            oof[f"p_{i}"] = p[:, i]
        oof.to_parquet(fdir / OOF_FILE, index=False)
        info = {
            "fold": f,
            "fingerprint": fp,
            "n_train": int(len(train_rows)),
            "n_scored": int(len(held)),
            "train_seconds": round(t1 - t0, 2),
            "score_seconds": round(time.perf_counter() - t1, 2),
            **{k_: v for k_, v in fit_stats.items() if isinstance(v, int | float | str | None)},
        }
        (fdir / DONE_FILE).write_text(json.dumps(info, indent=1))  # written last: the fold is complete
        stats["folds"].append(info)
        stats["trained"] += 1
    return probs, stats

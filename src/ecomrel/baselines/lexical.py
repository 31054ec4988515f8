"""Lexical baselines: BM25 (bm25s) and TF-IDF cosine (scikit-learn) over product text.

Every later model is compared with these on the same metrics. A lexical score is not a grade,
so :class:`GradeThresholds` maps scores to grades by three cut points tuned on a dev split.

Text. :func:`product_text` is title + brand + category leaf + attribute values (+ description on
request). Products and queries go through the same analyzer (:func:`analyze`): lower-case,
alphanumeric runs, scikit-learn's English stop words removed, single letters dropped (digits kept),
Snowball English stemming (PyStemmer), so "drills" matches "drill" for both methods.

Corpus. The corpus is the set of unique products in ``pairs`` (by ``product_id`` when present),
so IDF reflects the judged catalogue; each pair is scored from its query's full score vector
(one sparse pass per distinct query in bm25s; one sparse row product per pair for TF-IDF).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METHODS = ("bm25", "tfidf")
_TOKEN = re.compile(r"[^\W_]+")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _attribute_values(attrs: Any) -> str:
    if _is_missing(attrs):
        return ""
    items = attrs.items() if isinstance(attrs, dict) else attrs  # pyarrow maps arrive as (key, value) lists
    return " ".join(str(v) for _, v in items if not _is_missing(v))


def product_text(df: pd.DataFrame, *, description: bool = False) -> pd.Series:
    """The text a lexical baseline indexes for each product row (title, brand, category leaf, attributes)."""
    if "title" not in df.columns:
        raise ValueError("product rows need a 'title' column")
    parts: list[pd.Series] = [df["title"].fillna("").astype(str)]
    if "brand" in df.columns:
        parts.append(df["brand"].fillna("").astype(str))
    if "category" in df.columns:
        parts.append(df["category"].fillna("").astype(str).str.split(">").str[-1].str.strip())
    if "attributes" in df.columns:
        parts.append(df["attributes"].map(_attribute_values))
    if description and "description" in df.columns:
        parts.append(df["description"].fillna("").astype(str))
    text = parts[0]
    for p in parts[1:]:
        text = text.str.cat(p, sep=" ")
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


class Analyzer:
    """Tokenize → drop stop words and single letters → stem; stems are cached per word."""

    def __init__(self, stem: bool = True) -> None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self.stop = ENGLISH_STOP_WORDS
        self.stemmer = None
        if stem:
            try:
                import Stemmer
            except ImportError as exc:  # pragma: no cover - PyStemmer is a core dependency
                raise ImportError("stemming needs PyStemmer: pip install PyStemmer") from exc
            self.stemmer = Stemmer.Stemmer("english")
        self.cache: dict[str, str] = {}

    def __call__(self, text: str) -> list[str]:
        return self.many([text])[0]

    def many(self, texts: Iterable[str]) -> list[list[str]]:
        raw = [
            [
                t
                for t in _TOKEN.findall(str(text).lower())
                if t not in self.stop and (len(t) > 1 or t.isdigit())
            ]
            for text in texts
        ]
        if self.stemmer is None:
            return raw
        new = list({t for doc in raw for t in doc if t not in self.cache})
        if new:
            self.cache.update(zip(new, self.stemmer.stemWords(new), strict=True))
        return [[self.cache[t] for t in doc] for doc in raw]


def analyze(text: str, stem: bool = True) -> list[str]:
    """The tokens of ``text`` as both baselines see them."""
    return Analyzer(stem)(text)


def _bm25_scores(
    doc_tokens: list[list[str]],
    query_tokens: list[list[str]],
    q_idx: np.ndarray,
    d_idx: np.ndarray,
    k1: float,
    b: float,
) -> np.ndarray:
    import bm25s

    from ecomrel.progress import track

    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index(doc_tokens, show_progress=False)
    vocab = retriever.vocab_dict
    out = np.zeros(len(q_idx), dtype=np.float64)
    order = np.argsort(q_idx, kind="stable")
    bounds = np.flatnonzero(np.diff(q_idx[order])) + 1
    groups = np.split(order, bounds) if len(order) else []
    for rows in track(groups, "bm25 scoring", unit="queries"):
        ids = [vocab[t] for t in query_tokens[q_idx[rows[0]]] if t in vocab]
        if ids:
            scores = retriever.get_scores_from_ids(ids)  # one sparse pass: scores of every document
            out[rows] = scores[d_idx[rows]]
    return out


def _tfidf_scores(
    doc_tokens: list[list[str]], query_tokens: list[list[str]], q_idx: np.ndarray, d_idx: np.ndarray
) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=lambda tokens: tokens, norm="l2", sublinear_tf=True)
    docs = vec.fit_transform(doc_tokens)
    queries = vec.transform(query_tokens)  # unseen query words are ignored, as in any fitted vocabulary
    # Both sides are L2-normalized, so the row-wise dot product is the cosine similarity.
    return np.asarray(queries[q_idx].multiply(docs[d_idx]).sum(axis=1), dtype=np.float64).ravel()


def score_pairs(
    method: str,
    pairs: pd.DataFrame,
    *,
    description: bool = False,
    stem: bool = True,
    k1: float = 1.5,
    b: float = 0.75,
) -> np.ndarray:
    """One lexical relevance score per row of ``pairs`` (columns ``query`` and product fields).

    ``method`` is ``"bm25"`` (bm25s, Lucene variant, ``k1``/``b``) or ``"tfidf"`` (cosine of
    sublinear TF-IDF vectors). Higher is more relevant; scores are comparable within a call.
    """
    if method not in METHODS:
        raise ValueError(f"unknown lexical method {method!r}; choose one of {', '.join(METHODS)}")
    missing = [c for c in ("query", "title") if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs need column(s) {', '.join(missing)}")
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float64)
    pairs = pairs.reset_index(drop=True)
    texts = product_text(pairs, description=description)
    key = pairs["product_id"].astype(str) if "product_id" in pairs.columns else texts
    d_idx, doc_keys = pd.factorize(key)
    first = pd.Series(np.arange(len(pairs))).groupby(d_idx).first().to_numpy()
    q_idx, query_texts = pd.factorize(pairs["query"].fillna("").astype(str))
    analyzer = Analyzer(stem)
    doc_tokens = analyzer.many(texts.iloc[first].tolist())
    query_tokens = analyzer.many(list(query_texts))
    if method == "bm25":
        return _bm25_scores(doc_tokens, query_tokens, q_idx, d_idx, k1, b)
    return _tfidf_scores(doc_tokens, query_tokens, q_idx, d_idx)


# --- scores → grades -------------------------------------------------------------------


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    """Macro-F1 over the grades present in y_true ∪ y_pred — equal to scikit-learn's
    ``f1_score(average="macro", zero_division=0)``, but from one ``bincount`` so that the
    threshold search can afford thousands of evaluations."""
    cm = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1) + cm.sum(axis=0)
    present = support > 0
    return float(np.mean(2 * tp[present] / support[present])) if present.any() else 0.0


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    return float(np.mean(y_true == y_pred))


OBJECTIVES = {"macro_f1": _macro_f1, "accuracy": _accuracy}


@dataclass
class GradeThresholds:
    """Grade = number of cut points ≤ score; ``cuts`` are non-decreasing (equal cuts skip a grade).

    ``calibration`` holds the breakpoints of an isotonic regression of grade on score fitted on
    the same split: :meth:`expected_grade` gives E[grade | score], a continuous prediction for the
    raw-scale errors (a lexical score has no grade probabilities of its own).
    """

    cuts: list[float]
    objective: str = "macro_f1"
    objective_value: float | None = None
    method: str = ""
    calibration: dict[str, list[float]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        scores: Sequence[float] | np.ndarray,
        grades: Sequence[int] | np.ndarray,
        objective: str = "macro_f1",
        *,
        n_grades: int = 4,
        n_candidates: int = 200,
        max_sweeps: int = 10,
        method: str = "",
    ) -> GradeThresholds:
        """Coordinate search over score quantiles for the ``n_grades − 1`` cuts that maximise ``objective``.

        Starts from the cuts that reproduce the judged grade distribution, then repeatedly moves
        each cut to the best candidate between its neighbours until a sweep changes nothing.
        """
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
        s = np.asarray(scores, dtype=float)
        y = np.asarray(grades, dtype=int)
        if len(s) == 0 or len(s) != len(y):
            raise ValueError("GradeThresholds.fit needs equally long, non-empty scores and grades")
        if np.isnan(s).any():
            raise ValueError("scores contain NaN")
        fn = OBJECTIVES[objective]
        cand = np.unique(np.quantile(s, np.linspace(0, 1, n_candidates + 1)))
        cand = np.unique(np.concatenate([cand, [np.nextafter(s.max(), np.inf)]]))  # "never this grade"
        share_below = [float(np.mean(y < g)) for g in range(1, n_grades)]
        cuts = np.maximum.accumulate(np.quantile(s, share_below))
        cand = np.unique(np.concatenate([cand, cuts]))

        def value(c: np.ndarray) -> float:
            return fn(y, np.searchsorted(c, s, side="right"), n_grades)

        best = value(cuts)
        for _ in range(max_sweeps):
            changed = False
            for i in range(len(cuts)):
                lo = cuts[i - 1] if i > 0 else -np.inf
                hi = cuts[i + 1] if i + 1 < len(cuts) else np.inf
                for c in cand[(cand >= lo) & (cand <= hi)]:
                    trial = cuts.copy()
                    trial[i] = c
                    v = value(trial)
                    if v > best + 1e-12:
                        best, cuts, changed = v, trial, True
            if not changed:
                break
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0, y_max=n_grades - 1, out_of_bounds="clip").fit(s, y)
        calibration = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        return cls(
            cuts=[float(c) for c in cuts],
            objective=objective,
            objective_value=best,
            method=method,
            calibration=calibration,
        )

    def predict(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.cuts), np.asarray(scores, dtype=float), side="right").astype(
            int
        )

    def expected_grade(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """E[grade | score] from the isotonic calibration (clipped outside the fitted range)."""
        if self.calibration is None:
            raise ValueError("these thresholds carry no calibration; refit them")
        return np.interp(np.asarray(scores, dtype=float), self.calibration["x"], self.calibration["y"])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> GradeThresholds:
        return cls(**json.loads(Path(path).read_text()))

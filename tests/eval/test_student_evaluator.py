"""GradeEvaluator: the sentence-transformers evaluator of the student computes ecomrel.eval's metrics."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")


def test_grade_evaluator_matches_array_metrics(tmp_path, tiny_bert_base):
    from sentence_transformers import CrossEncoder

    from ecomrel.eval import array_metrics
    from ecomrel.eval.student_evaluator import GradeEvaluator

    model = CrossEncoder(str(tiny_bert_base(tmp_path / "bert")), num_labels=4, device="cpu")
    queries = ["cast iron skillet", "cast iron skillet", "chef knife", "chef knife", "tumbler"]
    products = ["lodge skillet 12 in", "chef knife 8 in", "chef knife", "skillet", "steel tumbler"]
    grades = [3, 0, 3, 1, 2]
    qids = ["q1", "q1", "q2", "q2", "q3"]
    ev = GradeEvaluator(queries, products, grades, qids, name="dev")
    out = ev(model, output_path=str(tmp_path / "eval"), epoch=1, steps=2)
    probs = ev.predict_proba(model)
    want = array_metrics(grades, probs, query_ids=qids)
    assert ev.primary_metric == "dev_f1_macro" and ev.primary_metric in out
    assert out["dev_f1_macro"] == pytest.approx(want["f1_macro"])
    assert out["dev_ece"] == pytest.approx(want["ece"])
    assert out["dev_ndcg@10"] == pytest.approx(want["ndcg@10"])
    assert "dev_recall_exact" in out and np.isfinite(out["dev_rmse_expected"])
    assert (tmp_path / "eval" / "GradeEvaluator_dev_results.csv").read_text().startswith("epoch,steps,n,")
    with pytest.raises(ValueError, match="same length"):
        GradeEvaluator(queries, products[:2], grades)

"""Content transformations, blend rules, integer binning and label gains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomrel.errors import UserError
from ecomrel.rank.labels import blend_grades, label_gain, make_labels, normalise_grade, transform_content
from ecomrel.rank.rank_config import BlendConfig, ContentTransform, LabelConfig, RankConfig

S = np.linspace(0, 1, 101)


def test_normalise_grade_clips_to_unit_interval():
    assert normalise_grade([0, 1.5, 3, 4, -1]).tolist() == [0.0, 0.5, 1.0, 1.0, 0.0]


def test_identity_and_step():
    assert np.allclose(transform_content(S, ContentTransform(kind="identity")), S)
    step = transform_content(S, ContentTransform(kind="step", beta=0.6))
    assert step[S >= 0.6].min() == 1.0 and step[S < 0.6].max() == 0.0


def test_sigmoid_polarizes_the_middle_and_is_monotone():
    c = transform_content(S, ContentTransform(kind="sigmoid", alpha=10, beta=0.5))
    assert np.all(np.diff(c) > 0)
    assert c[50] == pytest.approx(0.5)
    # s = 0.7 moves up, s = 0.3 moves down: the middle is pushed to the extremes
    assert c[70] > 0.7 and c[30] < 0.3
    steeper = transform_content(S, ContentTransform(kind="sigmoid", alpha=30, beta=0.5))
    assert steeper[70] > c[70] and steeper[30] < c[30]


def test_rescaled_sigmoid_hits_both_ends():
    c = transform_content(S, ContentTransform(kind="sigmoid_rescaled", alpha=5, beta=0.6))
    assert c[0] == pytest.approx(0.0) and c[-1] == pytest.approx(1.0)
    plain = transform_content(S, ContentTransform(kind="sigmoid", alpha=5, beta=0.6))
    assert plain[0] > 0.04 and plain[-1] < 0.9  # what the rescaling fixes


def test_content_gated_orders_bands_before_engagement():
    cfg = BlendConfig(rule="content_gated", content_bands=3, engagement_levels=4)
    c = np.array([1.0, 1.0, 0.5, 0.0])
    e = np.array([0.0, 1.0, 1.0, 1.0])
    g = blend_grades(c, e, cfg)
    assert g.tolist() == [8, 11, 7, 3]
    # any product of a higher band beats any product of a lower band
    assert g[0] > g[2] > g[3]
    assert cfg.n_grades() == 12 and len(label_gain(cfg)) == 12


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("weighted_sum", [2, 2, 0]),
        ("multiplicative", [0, 1, 0]),
        ("content_only", [4, 2, 0]),
        ("engagement_only", [0, 2, 0]),
    ],
)
def test_other_rules_bin_to_levels(rule, expected):
    cfg = BlendConfig(rule=rule, weight=0.5, levels=5)
    assert blend_grades(np.array([1.0, 0.5, 0.0]), np.array([0.0, 0.5, 0.0]), cfg).tolist() == expected


def test_label_gain_kinds():
    assert label_gain(BlendConfig(rule="content_only", levels=4)) == [0.0, 1.0, 3.0, 7.0]
    assert label_gain(BlendConfig(rule="content_only", levels=4, label_gain="linear")) == [0.0, 1.0, 2.0, 3.0]


def test_too_many_gated_levels_rejected():
    with pytest.raises(ValueError):
        BlendConfig(rule="content_gated", content_bands=8, engagement_levels=8)


def test_make_labels_with_engagement():
    frame = pd.DataFrame(
        {"query_id": ["a", "a", "a"], "product_id": ["x", "y", "z"], "expected_grade": [3.0, 3.0, 0.2]}
    )
    eng = pd.DataFrame(
        {
            "query_id": ["a"] * 3,
            "product_id": ["x", "y", "z"],
            "impressions": [100, 100, 100],
            "clicks": [5, 40, 60],
            "add_to_carts": [1, 10, 30],
            "orders": [0, 5, 10],
            "position": 1.0,
        }
    )
    lab = make_labels(frame, eng, LabelConfig())
    assert lab["label"].dtype.kind == "i"
    # y outranks x (same content, more engagement); z (irrelevant, most engaging) stays below both
    assert lab["label"][1] > lab["label"][0] > lab["label"][2]
    only = make_labels(frame, None, LabelConfig(blend=BlendConfig(rule="content_only")))
    assert only["label"].tolist()[0] == 4
    with pytest.raises(UserError, match="engagement"):
        make_labels(frame, None, LabelConfig())


def test_missing_judge_score_names_the_pair():
    frame = pd.DataFrame({"query_id": ["a"], "product_id": ["x"], "expected_grade": [np.nan]})
    with pytest.raises(UserError, match="query a, product x"):
        make_labels(frame, None, LabelConfig(blend=BlendConfig(rule="content_only")))


def test_rank_config_yaml(tmp_path):
    p = tmp_path / "rank.yaml"
    p.write_text(
        "labels:\n  content: {kind: sigmoid_rescaled, alpha: 8, beta: 0.7}\n  blend: {rule: weighted_sum}\n"
        "ranker: {engine: xgboost}\n"
    )
    cfg = RankConfig.from_yaml(p)
    assert cfg.labels.content.kind == "sigmoid_rescaled" and cfg.ranker.engine == "xgboost"
    p.write_text("labels:\n  blend: {rule: nonsense}\n")
    with pytest.raises(UserError, match="rank.yaml.*labels.blend.rule"):
        RankConfig.from_yaml(p)

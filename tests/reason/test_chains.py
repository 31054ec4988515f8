"""EE / RA / DR chain builders: label-first targets, conflicts with the human grade, DR sources, CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.data.schema import Dataset
from ecomrel.errors import UserError
from ecomrel.reason.chains import CHAIN_COLUMNS, build_chains, run_chains
from ecomrel.reason.chains_config import ChainConfig


def _label(target: str) -> int:
    return int(target.split("\n", 1)[0])


def test_build_chains_label_first(mini_pairs):
    chains, report = build_chains(mini_pairs, kinds=("ee", "ra", "dr"))
    assert list(chains.columns) == CHAIN_COLUMNS
    assert chains["kind"].value_counts().to_dict() == {"ee": 18, "ra": 18, "dr": 18}
    kept = chains[chains["status"] == "kept"]
    assert (kept["implied_grade"] == kept["gold_grade"]).all()
    assert all(_label(t) == g for t, g in zip(kept["target"], kept["gold_grade"], strict=True))
    ee = kept[kept["kind"] == "ee"].iloc[0]["target"].splitlines()
    assert [line[:3] for line in ee[1:]] == ["1. ", "2. ", "3. ", "4. ", "5. "]
    assert "Category match" in ee[3] and ee[5].startswith("5. Verdict:")
    ra = kept[kept["kind"] == "ra"].iloc[0]
    assert ra["prompt_extra"].startswith("Business rules") and "Result:" in ra["target"]
    dr = chains[chains["kind"] == "dr"]
    assert (dr["origin"] == "random_wrong").all() and (dr["wrong_grade"] != dr["gold_grade"]).all()
    assert dr["prompt_extra"].str.contains("An earlier decision graded this pair").all()
    assert report["n_pairs"] == 18 and report["by_kind"]["ee"]["kept"] == len(kept) // 3
    assert 0.5 <= report["rule_accuracy"]["accuracy"] <= 1.0


def test_conflicting_chains_are_dropped_or_corrected(mini_pairs):
    # whole wheat pasta for "gluten free pasta": the rules say complement (1), the human said 2
    key = (mini_pairs["query_id"] == "q8") & (mini_pairs["product_id"] == "p13")
    dropped, rep = build_chains(mini_pairs, kinds=("ee", "ra"))
    row = dropped[(dropped["query_id"] == "q8") & (dropped["product_id"] == "p13")]
    assert set(row["status"]) == {"dropped"} and set(row["implied_grade"]) == {1}
    assert all(_label(t) == 1 for t in row["target"])  # the chain as written, not trained on
    assert rep["by_kind"]["ee"]["dropped"] >= 1 and rep["by_kind"]["ee"]["conflicts"] >= 1
    fixed, rep2 = build_chains(mini_pairs, kinds=("ee", "ra"), config=ChainConfig(on_conflict="correct"))
    row = fixed[(fixed["query_id"] == "q8") & (fixed["product_id"] == "p13")]
    assert set(row["status"]) == {"corrected"}
    for t in row["target"]:
        assert _label(t) == 2
        assert "Verdict: substitute. The checks above point to complement" in t
    assert rep2["by_kind"]["ee"]["corrected"] == rep["by_kind"]["ee"]["dropped"]
    assert int(key.sum()) == 1


def test_dr_from_model_mistakes_random_or_both(mini_pairs):
    preds = mini_pairs[["query_id", "product_id", "grade"]].copy()
    preds["pred_grade"] = preds["grade"]
    preds.loc[0, "pred_grade"] = 1  # one optimistic, one pessimistic mistake
    preds.loc[2, "pred_grade"] = 3
    chains, report = build_chains(mini_pairs, kinds=("dr",), predictions=preds)
    assert len(chains) == 2 and (chains["origin"] == "model_error").all()
    assert sorted(chains["wrong_grade"].tolist()) == [1, 3]
    over = chains[chains["wrong_grade"] == 3].iloc[0]
    assert "too high" in over["target"] and "It overlooked:" in over["target"]
    both, _ = build_chains(mini_pairs, kinds=("dr",), predictions=preds, config=ChainConfig(dr_source="both"))
    assert both["origin"].value_counts().to_dict() == {"random_wrong": 16, "model_error": 2}
    rnd, _ = build_chains(
        mini_pairs, kinds=("dr",), predictions=preds, config=ChainConfig(dr_source="random")
    )
    again, _ = build_chains(mini_pairs, kinds=("dr",), config=ChainConfig(dr_source="random"))
    assert rnd["wrong_grade"].tolist() == again["wrong_grade"].tolist()  # seeded
    with pytest.raises(ValueError, match="needs a predictions frame"):
        build_chains(mini_pairs, kinds=("dr",), config=ChainConfig(dr_source="model"))
    assert report["dr_origin"] == {"model_error": 2}


def test_ra_prompt_shows_relevant_or_all_rules(mini_pairs):
    rel, _ = build_chains(mini_pairs, kinds=("ra",))
    full, _ = build_chains(mini_pairs, kinds=("ra",), config=ChainConfig(ra_prompt_rules="all"))
    assert (rel["prompt_extra"].str.len() < full["prompt_extra"].str.len()).all()
    brand = rel[(rel["query_id"] == "q2") & (rel["product_id"] == "p2")].iloc[0]
    assert "brand_mismatch" in brand["prompt_extra"] and "brand_mismatch applies" in brand["target"]


def test_rejects_bad_input(mini_pairs):
    with pytest.raises(ValueError, match="lacks column"):
        build_chains(mini_pairs.drop(columns=["grade"]))
    with pytest.raises(ValueError, match="unknown chain kind"):
        build_chains(mini_pairs, kinds=("xx",))


def _folder(tmp_path, mini_pairs, mini_products):
    ds = Dataset(
        products=mini_products,
        queries=mini_pairs[["query_id", "query"]]
        .drop_duplicates()
        .rename(columns={"query": "text"})
        .assign(frequency=1, kind="bare"),
        judgments=mini_pairs[["query_id", "product_id", "grade"]],
    )
    return ds.save(tmp_path / "data")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on_conflict: keep\n", "on_conflict"),  # a bad value: the field is named
        ("teacher:\n  timeout_s: -1\n", "teacher.timeout_s"),  # nested fields by their dotted path
        ("kinds: [ee, xx]\n", "unknown chain kind"),
        ("kinds: [ee\n", "invalid YAML"),
        ("- ee\n", "must be a mapping"),
    ],
)
def test_chain_config_yaml_errors_name_file_and_field(tmp_path, text, expected):
    p = tmp_path / "bad_chains.yaml"
    p.write_text(text)
    with pytest.raises(UserError) as err:  # a ConfigError since the errors module
        ChainConfig.from_yaml(p)
    assert str(p) in str(err.value) and expected in str(err.value)
    ok = tmp_path / "chains.yaml"
    ok.write_text("kinds: [ra]\nteacher: {timeout_s: 5}\n")
    cfg = ChainConfig.from_yaml(ok)
    assert cfg.kinds == ["ra"] and cfg.teacher.timeout_s == 5


def test_run_chains_and_cli(tmp_path, mini_pairs, mini_products):
    data = _folder(tmp_path, mini_pairs, mini_products)
    report = run_chains(data, tmp_path / "run", ChainConfig(kinds=["ee", "ra"]))
    chains = pd.read_parquet(report["paths"]["chains"])
    assert len(chains) == 36 and set(chains["kind"]) == {"ee", "ra"}
    assert json.loads((tmp_path / "run" / "cot" / "report.json").read_text())["n_pairs"] == 18
    assert (tmp_path / "run" / "cot" / "vocabulary.json").exists()
    assert report["rule_accuracy"]["per_query_kind"]["bare"]["n"] == 18

    from ecomrel.cli import app

    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "reason",
            "chains",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "cli"),
            "--kinds",
            "ra,dr",
            "--on-conflict",
            "correct",
        ],
    )
    assert res.exit_code == 0, res.output
    out = pd.read_parquet(tmp_path / "cli" / "cot" / "chains.parquet")
    assert set(out["kind"]) == {"ra", "dr"} and "dropped" not in set(out["status"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    when: {brand_match: maybe}\n    effect: {max_grade: 0}\n")
    res = runner.invoke(app, ["reason", "check-rules", str(bad)])
    assert res.exit_code == 2 and "line 3" in res.output
    res = runner.invoke(
        app, ["reason", "chains", "--data", str(data), "--out", str(tmp_path / "x"), "--rules", str(bad)]
    )
    assert res.exit_code == 2 and "line 3" in res.output


def test_rule_accuracy_on_the_sample(sample_dir):
    """How good the built-in teacher is: rule grade vs the sample's human and true grades, per query kind."""
    chains, report = build_chains(sample_dir, kinds=("ra",), config=ChainConfig(split=None))
    acc = report["rule_accuracy"]
    print(json.dumps({k: v for k, v in acc.items() if k != "confusion"}))
    assert acc["n"] == len(chains)
    assert set(acc["per_query_kind"]) >= {"bare", "brand", "negation", "accessory"}
    assert acc["accuracy_vs_true"] > 0.7
    assert acc["within_one"] > 0.85

"""``ecomrel data import ... --split``: a second file as the test split of an existing folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.cli import app
from ecomrel.data.schema import DataError, Dataset
from ecomrel.data.sources import import_source, query_id_for
from ecomrel.data.sources.common import Reason
from ecomrel.data.sources.split_import import SUFFIX_SEP

HD = "id,product_uid,product_title,search_term,relevance\n"
TRAIN = HD + (
    "1,100,Cordless Drill 20V,cordless drill,3.0\n"
    "2,101,Hammer 16 oz,cordless drill,1.33\n"
    "3,102,Deck Paint Gray,deck paint,2.67\n"
    "4,100,Cordless Drill 20V,drill bits,2.0\n"
    "5,103,Garden Hose 50 ft,garden hose,3.0\n"
    "6,104,Hose Nozzle,garden hose,2.33\n"
)
TEST = HD + (
    "7,100,Cordless Drill 20V Max Kit,power drill,2.67\n"  # 100: another title than in train
    "8,105,Wood Screws 1 lb,wood screws,3.0\n"
    "9,102,Deck Paint Gray,exterior paint,2.33\n"  # same title: no conflict
    "10,100,Cordless Drill 20V Max Kit,drill,2.0\n"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def two_files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "in" / "train.csv", TRAIN), write(tmp_path / "in" / "test.csv", TEST)


def test_second_file_becomes_the_test_split_and_conflicts_are_kept_per_judgment(tmp_path):
    train, test = two_files(tmp_path)
    out = tmp_path / "data"
    r1 = import_source("homedepot", train, out, split="train")
    assert r1.splits == {"train": 4} and r1.product_conflicts["products"] == 0
    r2 = import_source("homedepot", test, out, split="test")
    assert (r2.read, r2.imported, r2.rejected) == (4, 4, 0)
    assert r2.product_conflicts == {"mode": "keep", "products": 1, "judgments": 2}
    ds = Dataset.load(out)
    assert len(ds.judgments) == 10
    assert ds.splits["split"].value_counts().to_dict() == {"train": 4, "test": 4}
    test_q = ds.split_queries("test")
    assert test_q.isdisjoint(ds.split_queries("train"))
    pairs = ds.pairs()
    # the train judgments still see the train title; the test judgments the test title
    train_100 = pairs[(pairs["product_id"] == "100")]
    assert set(train_100["title"]) == {"Cordless Drill 20V"}
    kept = pairs[pairs["product_id"].str.startswith("100" + SUFFIX_SEP)]
    assert len(kept) == 2 and set(kept["title"]) == {"Cordless Drill 20V Max Kit"}
    assert set(kept["query_id"]) <= test_q
    assert set(
        ds.products.loc[ds.products["product_id"] == kept["product_id"].iloc[0], "source_product_id"]
    ) == {"100"}
    assert (ds.products["product_id"] == "102").sum() == 1  # same text: one product
    assert any("1 products, 2 judgments kept under a suffixed id" in line for line in r2.iter_lines())


def test_reimport_is_idempotent_and_replaces_what_the_file_brought(tmp_path):
    train, test = two_files(tmp_path)
    out = tmp_path / "data"
    import_source("homedepot", train, out, split="train")
    import_source("homedepot", test, out, split="test")
    first = {t: pd.read_parquet(out / f"{t}.parquet") for t in ("products", "queries", "judgments", "splits")}
    import_source("homedepot", test, out, split="test")
    import_source("homedepot", train, out, split="train")
    for t, df in first.items():
        again = pd.read_parquet(out / f"{t}.parquet")
        key = [c for c in ("query_id", "product_id") if c in df.columns]
        pd.testing.assert_frame_equal(
            df.sort_values(key).reset_index(drop=True), again.sort_values(key).reset_index(drop=True)
        )
    # a corrected test file replaces the old one: its products that nobody else uses go too
    write(test, HD + "8,105,Wood Screws 1 lb,wood screws,3.0\n")
    import_source("homedepot", test, out, split="test")
    ds = Dataset.load(out)
    assert ds.split_queries("test") == {query_id_for("wood screws")}
    assert not ds.products["product_id"].str.contains(SUFFIX_SEP).any()
    assert len(ds.judgments) == 7


def test_reject_mode_sends_the_judgments_to_rejects_with_the_reason(tmp_path):
    train, test = two_files(tmp_path)
    out = tmp_path / "data"
    import_source("homedepot", train, out, split="train")
    r = import_source("homedepot", test, out, split="test", on_product_conflict="reject")
    assert (r.read, r.imported, r.rejected) == (4, 2, 2)
    assert r.reasons == {Reason.PRODUCT_CONFLICT: 2}
    assert r.product_conflicts == {"mode": "reject", "products": 1, "judgments": 2}
    rej = pd.read_parquet(out / "rejects.parquet")
    assert sorted(rej["row"]) == [1, 4] and set(rej["reason"]) == {Reason.PRODUCT_CONFLICT}
    assert rej["value"].str.contains("Max Kit").all()
    ds = Dataset.load(out)
    assert ds.products.loc[ds.products["product_id"] == "100", "title"].tolist() == ["Cordless Drill 20V"]
    assert ds.split_queries("test") == {query_id_for("wood screws"), query_id_for("exterior paint")}
    # the train file's rejects survive a re-import of the test file (and vice versa)
    import_source("homedepot", test, out, split="test", on_product_conflict="reject")
    assert len(pd.read_parquet(out / "rejects.parquet")) == 2


def test_test_file_sharing_a_query_with_train_is_an_error_naming_the_query_and_file(tmp_path):
    train, _ = two_files(tmp_path)
    out = tmp_path / "data"
    import_source("homedepot", train, out, split="train")
    bad = write(
        tmp_path / "in" / "leaky.csv", HD + "20,200,Saw,hand saw,2.0\n21,201,Hose Reel,Garden Hose,3.0\n"
    )
    with pytest.raises(
        DataError, match=r"leaky\.csv: query 'Garden Hose' .* already in split 'train' \(from train\.csv\)"
    ):
        import_source("homedepot", bad, out, split="test")
    assert Dataset.load(out).splits["split"].eq("train").all()  # nothing written
    res = CliRunner().invoke(
        app, ["data", "import", "homedepot", str(bad), "--out", str(out), "--split", "test"]
    )
    assert res.exit_code == 2
    assert "Garden Hose" in res.output and "leaky.csv" in res.output and "Traceback" not in res.output


def test_dev_carved_from_the_train_file_and_folder_without_splits(tmp_path):
    train, test = two_files(tmp_path)
    out = tmp_path / "data"
    r = import_source("homedepot", train, out, split="train", dev=0.5, seed=0)
    assert r.splits == {"train": 2, "dev": 2}
    with pytest.raises(DataError, match="only with --split train"):
        import_source("homedepot", test, out, split="test", dev=0.5)
    plain = tmp_path / "plain"
    import_source("homedepot", train, plain)  # a whole-folder import: no splits
    with pytest.raises(DataError, match="no splits.parquet"):
        import_source("homedepot", test, plain, split="test")


def test_cli_split_import_prints_the_conflict_count(tmp_path):
    train, test = two_files(tmp_path)
    out = tmp_path / "data"
    runner = CliRunner()
    res = runner.invoke(app, ["data", "import", "homedepot", str(train), "-o", str(out), "--split", "train"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            "data",
            "import",
            "homedepot",
            str(test),
            "-o",
            str(out),
            "--split",
            "test",
            "--on-product-conflict",
            "reject",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "rejected 2: product id has another text in the data folder" in res.output
    assert "1 products, 2 judgments rejected" in res.output


@pytest.mark.realdata
def test_homedepot_split_into_two_files_imports_as_train_and_test(shared_data, tmp_path):
    from ecomrel.data.sources import query_id_for as qid

    df = pd.read_csv(shared_data / "homedepot" / "train.csv", dtype=str, keep_default_na=False)
    ids = df["search_term"].map(qid)
    test_q = set(pd.Series(sorted(ids.unique())).sample(frac=0.2, random_state=0))
    df[~ids.isin(test_q)].to_csv(tmp_path / "train.csv", index=False)
    df[ids.isin(test_q)].to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "data"
    r1 = import_source("homedepot", tmp_path / "train.csv", out, split="train", dev=0.1)
    r2 = import_source("homedepot", tmp_path / "test.csv", out, split="test")
    assert r1.read + r2.read == 59_535 and r1.rejected == r2.rejected == 0
    ds = Dataset.load(out)
    assert len(ds.judgments) == 59_535 and set(ds.splits["split"]) == {"train", "dev", "test"}
    assert ds.split_queries("test") == test_q
    # Home Depot itself has 12 product ids with two titles; those whose first title differs between
    # the halves are conflicts, and each test judgment keeps the title it was judged with
    tr, te = df[~ids.isin(test_q)], df[ids.isin(test_q)]
    first_tr = tr.groupby("product_uid")["product_title"].first()
    first_te = te.groupby("product_uid")["product_title"].first()
    both = first_tr.index.intersection(first_te.index)
    expected = int((first_tr[both] != first_te[both]).sum())
    assert expected >= 1 and r2.product_conflicts["products"] == expected
    pairs = ds.pairs("test")
    kept = pairs[pairs["product_id"].str.contains(SUFFIX_SEP, regex=False)]
    assert set(kept["source_product_id"]) == set(both[(first_tr[both] != first_te[both]).to_numpy()])

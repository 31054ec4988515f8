"""The real-data loaders: each source on its real fixture and on tiny hand-written files."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.cli import app
from ecomrel.data.schema import DataError, Dataset
from ecomrel.data.sources import import_source, query_id_for
from ecomrel.data.sources.common import MAX_FIELD_CHARS, Reason, Warn
from ecomrel.data.sources.wands import parse_features


def rejects_of(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "rejects.parquet")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_adds_up(report, out: Path) -> None:
    assert report.read == report.imported + report.rejected
    assert len(rejects_of(out)) == report.rejected
    assert sum(report.reasons.values()) == report.rejected


# --- Home Depot ------------------------------------------------------------------------------

HD_HEADER = "id,product_uid,product_title,search_term,relevance\n"


@pytest.mark.realdata
def test_homedepot_full_import_has_no_rejects(shared_data, tmp_path):
    start = time.perf_counter()
    report = import_source("homedepot", shared_data / "homedepot" / "train.csv", tmp_path)
    seconds = time.perf_counter() - start
    assert (report.read, report.imported, report.rejected) == (59_535, 59_535, 0)
    assert_adds_up(report, tmp_path)
    ds = Dataset.load(tmp_path)
    assert len(ds.judgments) == 59_535
    assert ds.queries["query_id"].nunique() == 9_461  # "fence  mesh" and "fence mesh" stay two queries
    assert ds.judgments["raw_score"].between(1, 3).all()
    assert ds.judgments["rater_count"].isna().all()
    assert set(ds.judgments["source_label"]) >= {"3.0", "2.33", "1.67"}
    assert ds.products["title"].str.contains("30å¡", regex=False).any()  # encoding debris kept
    assert ds.judgments["grade"].value_counts().to_dict() == {3: 27_579, 2: 22_388, 1: 5_482, 0: 4_086}
    print(f"homedepot import: {report.read:,} rows in {seconds:.2f} s")
    assert seconds < 60


def test_homedepot_tiny_file_rejects_each_bad_row_with_its_reason(tmp_path):
    src = write(
        tmp_path / "train.csv",
        HD_HEADER.encode()
        + b"1,100,Drill 20V,cordless drill,3.0\n"
        + b"2,101,Hammer,Cordless Drill ,2.33\n"  # same normalized query, other product: fine
        + b"3,100,Drill 20V,CORDLESS DRILL,1.0\n"  # same (query, product), another label: a conflict
        + b"4,102,Saw,,2.0\n"  # empty query
        + b"5,103,Saw,saw,abc\n"  # not a number
        + b"6,104,Saw,saw,4\n"  # out of range
        + b"7,105,Saw,saw\n"  # wrong column count
        + b"8,106,Bad \xff\xfe title,saw,2\n"  # not UTF-8
        + b"9,107,"
        + b"x" * (MAX_FIELD_CHARS + 1)
        + b",saw,2\n"  # huge field
        + b"\n"  # a blank line is not a row
        + b'10,108,"Nails 30\xc3\xa5\xc2\xa1, ""galvanized""",nails,1.67\n',  # debris kept, quotes
    )
    out = tmp_path / "out"
    report = import_source("homedepot", src, out)
    assert (report.read, report.imported, report.rejected) == (10, 3, 7)
    assert_adds_up(report, out)
    rej = rejects_of(out).set_index("row")
    assert rej.loc[3, "reason"] == Reason.CONFLICTING_LABELS and "'1.0'" in rej.loc[3, "value"]
    assert (rej.loc[4, "field"], rej.loc[4, "reason"]) == ("search_term", Reason.EMPTY)
    assert (rej.loc[5, "field"], rej.loc[5, "reason"]) == ("relevance", Reason.BAD_NUMBER)
    assert rej.loc[6, "reason"] == Reason.OUT_OF_RANGE
    assert rej.loc[7, "reason"] == Reason.COLUMN_COUNT
    assert (rej.loc[8, "field"], rej.loc[8, "reason"]) == ("product_title", Reason.UNDECODABLE)
    assert "\\xff" in rej.loc[8, "value"]
    assert rej.loc[9, "reason"] == Reason.TOO_LONG
    assert set(rej["file"]) == {str(src)}
    assert report.undecodable_hint

    ds = Dataset.load(out)
    j = ds.judgments.set_index("product_id")
    assert j.loc["100", "grade"] == 3 and j.loc["101", "grade"] == 2 and j.loc["108", "grade"] == 1
    assert j.loc["101", "source_label"] == "2.33" and j.loc["101", "raw_score"] == pytest.approx(2.33)
    assert j.loc["100", "query_id"] == j.loc["101", "query_id"] == query_id_for("cordless drill")
    assert ds.products.set_index("product_id").loc["108", "title"] == 'Nails 30å¡, "galvanized"'


def test_query_id_is_deterministic_and_keeps_inner_whitespace():
    assert query_id_for("Deck Over ") == query_id_for("deck over") == query_id_for("deck over")
    assert query_id_for("fence  mesh") != query_id_for("fence mesh")
    assert query_id_for("deck over").startswith("q") and len(query_id_for("x")) == 17


def test_missing_columns_name_the_file_and_columns(tmp_path):
    src = write(tmp_path / "test.csv", "id,product_uid,product_title,search_term\n1,2,t,q\n")
    with pytest.raises(DataError, match=r"test\.csv.*relevance"):
        import_source("homedepot", src, tmp_path / "out")
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(DataError, match=r"empty\.csv.*empty"):
        import_source("homedepot", empty, tmp_path / "out")
    with pytest.raises(DataError, match="no such"):
        import_source("homedepot", tmp_path / "nope.csv", tmp_path / "out")
    with pytest.raises(DataError, match="unknown format"):
        import_source("xml", src, tmp_path / "out")


def test_rejects_file_always_written_and_stale_splits_removed(tmp_path):
    out = tmp_path / "out"
    esci = write(
        tmp_path / "esci.csv",
        "query_id,query,product_id,product_locale,esci_label,split,product_title\n1,q,P1,us,E,train,T\n",
    )
    import_source("esci", esci, out)
    assert (out / "splits.parquet").exists()
    src = write(tmp_path / "train.csv", HD_HEADER + "1,100,Drill,drill,3\n")
    report = import_source("homedepot", src, out)
    assert report.rejected == 0 and rejects_of(out).empty
    assert not (out / "splits.parquet").exists()
    assert Dataset.load(out).splits is None


# --- ESCI ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_esci_official_merged_file(shared_data, tmp_path):
    report = import_source("esci", shared_data / "esci_sample" / "grandi9_sample_2c_full_data.csv", tmp_path)
    assert (report.read, report.imported, report.rejected) == (485, 485, 0)
    ds = Dataset.load(tmp_path)
    assert ds.queries["query_id"].nunique() == 50 and set(ds.judgments["source_label"]) == {"E"}
    assert (ds.judgments["grade"] == 3).all()
    assert set(ds.splits["split"]) == {"train"} and len(ds.splits) == 50
    chairs = ds.products.set_index("product_id").loc["B08CZ6TC2L"]
    assert chairs["brand"] == "Yaheetech" and chairs["attributes"] == {"color": "Grey"}
    assert "STRONG METAL LEGS" in chairs["description"]  # bullet points appended
    assert chairs["locale"] == "us"


@pytest.mark.realdata
def test_esci_lookup_layout(shared_data, tmp_path):
    report = import_source("esci", shared_data / "esci_sample" / "parthu_query_esci_lookup.csv", tmp_path)
    assert (report.read, report.imported, report.rejected) == (99, 99, 0)
    ds = Dataset.load(tmp_path)
    assert ds.judgments["source_label"].value_counts().to_dict() == {"E": 76, "I": 17, "S": 5, "C": 1}
    assert ds.judgments.groupby("source_label")["grade"].first().to_dict() == {"E": 3, "S": 2, "C": 1, "I": 0}
    assert ds.queries["query_id"].tolist() == [query_id_for("iphone charger")]
    assert ds.splits is None


def test_esci_tiny_file_rejects_and_locales(tmp_path):
    src = write(
        tmp_path / "esci.csv",
        "example_id,query,query_id,product_id,product_locale,esci_label,split,product_title,"
        "product_description,product_bullet_point,product_brand,product_color\n"
        "1,red shoes,7,A1,us,E,train,Red Shoe,Nice,Bullet one,Acme,red\n"
        "2,red shoes,7,A1,es,s,train,Zapato rojo,,,,\n"  # other locale: another product id
        "3,red shoes,7,A2,us,X,train,Blue Shoe,,,,\n"  # unknown label
        "4,red shoes,7,A1,us,C,train,Red Shoe,,,,\n"  # same pair, another label
        "5,laces,8,A3,us,Complement,test,,,,,\n"  # empty title
        "6,laces,8,A4,us,Irrelevant,test,Lace,,,,\n",
    )
    report = import_source("esci", src, tmp_path / "out")
    assert (report.read, report.imported, report.rejected) == (6, 3, 3)
    assert_adds_up(report, tmp_path / "out")
    ds = Dataset.load(tmp_path / "out")
    j = ds.judgments.set_index("product_id")
    assert j.loc["A1@es", "grade"] == 2 and j.loc["A1@es", "source_label"] == "s"
    assert j.loc["A4", "grade"] == 0
    p = ds.products.set_index("product_id")
    assert p.loc["A1", "description"] == "Nice\n\nBullet one"
    assert p.loc["A1", "attributes"] == {"color": "red"}
    assert dict(zip(ds.splits["query_id"], ds.splits["split"], strict=True)) == {"7": "train", "8": "test"}
    reasons = rejects_of(tmp_path / "out").set_index("row")["reason"].to_dict()
    assert reasons == {3: Reason.UNKNOWN_LABEL, 4: Reason.CONFLICTING_LABELS, 5: Reason.EMPTY}


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_esci_two_file_folder(tmp_path, ext):
    examples = pd.DataFrame(
        {
            "example_id": [1, 2, 3, 4],
            "query": ["kettle", "kettle", "kettle", "mug"],
            "query_id": [10, 10, 10, 11],
            "product_id": ["B1", "B2", "B9", "B1"],
            "product_locale": ["us", "jp", "us", "us"],
            "esci_label": ["E", "S", "E", "C"],
            "small_version": [1, 1, 1, 0],
            "large_version": [1, 1, 1, 1],
            "split": ["train", "train", "train", "test"],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["B1", "B2", "B1"],
            "product_title": ["Steel kettle", "ケトル", "dup"],
            "product_description": [None, "説明", None],
            "product_bullet_point": ["Boils fast", None, None],
            "product_brand": ["Brew", None, None],
            "product_color": [None, "white", None],
            "product_locale": ["us", "jp", "us"],
        }
    )
    folder = tmp_path / "esci"
    folder.mkdir()
    for kind, df in (("examples", examples), ("products", products)):
        name = f"shopping_queries_dataset_{kind}"
        if ext == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet")
    out = tmp_path / "out"
    report = import_source("esci", folder, out)
    assert (report.read, report.imported, report.rejected) == (7, 5, 2)  # 3 products + 4 examples
    assert_adds_up(report, out)
    reasons = set(rejects_of(out)["reason"])
    assert reasons == {Reason.DUPLICATE_ID, Reason.UNKNOWN_PRODUCT}
    ds = Dataset.load(out)
    assert set(ds.judgments["product_id"]) == {"B1", "B2@jp"}
    p = ds.products.set_index("product_id")
    assert p.loc["B1", "description"] == "Boils fast" and p.loc["B2@jp", "attributes"] == {"color": "white"}
    assert set(ds.queries["query_id"]) == {"10", "11"}


def test_esci_folder_without_the_two_files_is_a_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="examples"):
        import_source("esci", tmp_path, tmp_path / "out")


# --- WANDS -----------------------------------------------------------------------------------

WANDS_PRODUCTS = (
    "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features"
    "\trating_count\taverage_rating\treview_count\n"
    "0\tsolid wood platform bed\tBeds\tFurniture / Bedroom Furniture / Beds & Headboards / Beds\t"
    "good , deep sleep\toverallwidth-sidetoside:64.7|dsprimaryproductstyle:modern|solid wood"
    "\t15.0\t4.5\t15.0\n"
    "1\tall-clad 7 qt . slow cooker\tSlow Cookers\tKitchen & Tabletop / Small Kitchen Appliances\t"
    "\tcapacityquarts:7\t100.0\t2.0\t98.0\n"
    "2\tmassage chair\tMassage Chairs\tFurniture / Chairs\tcomfy\t\t\t\t\n"
    "3\tbroken rating\tBeds\tFurniture\t\t\tmany\t\t\n"  # unparseable number
    "0\tduplicate id\tBeds\tFurniture\t\t\t\t\t\n"  # duplicate product id
)
WANDS_LABELS = (
    "id\tquery_id\tproduct_id\tlabel\n"
    "0\t0\t2\tExact\n"
    "1\t0\t0\tIrrelevant\n"
    "2\t1\t1\tPartial\n"
    "3\t1\t1\tExact\n"  # same pair, another label
    "4\t9999\t1\tExact\n"  # unknown query
    "5\t0\t77\tExact\n"  # unknown product
    "6\t0\t1\tMaybe\n"  # unknown label
)


def wands_folder(tmp_path: Path, query_csv: Path | None) -> Path:
    folder = tmp_path / "wands"
    folder.mkdir()
    if query_csv is not None:
        shutil.copy(query_csv, folder / "query.csv")
    else:
        write(
            folder / "query.csv",
            "query_id\tquery\tquery_class\n0\tsalon chair\tMassage Chairs\n"
            "1\tsmart coffee table\tCoffee & Cocktail Tables\n",
        )
    write(folder / "product.csv", WANDS_PRODUCTS)
    write(folder / "label.csv", WANDS_LABELS)
    return folder


def check_wands(report, out: Path, n_queries: int) -> None:
    assert report.read == n_queries + 5 + 7
    assert report.rejected == 2 + 4
    assert_adds_up(report, out)
    ds = Dataset.load(out)
    assert len(ds.queries) == n_queries
    assert ds.queries.set_index("query_id").loc["0", "query_class"] == "Massage Chairs"
    g = ds.judgments.set_index(["query_id", "product_id"])["grade"].to_dict()
    assert g == {("0", "2"): 3, ("0", "0"): 0, ("1", "1"): 2}
    bed = ds.products.set_index("product_id").loc["0"]
    assert bed["category"] == "Furniture > Bedroom Furniture > Beds & Headboards > Beds"
    assert bed["attributes"]["dsprimaryproductstyle"] == "modern"
    assert bed["attributes"]["rating_count"] == "15" and bed["attributes"]["product_class"] == "Beds"
    reasons = rejects_of(out)["reason"].value_counts().to_dict()
    assert reasons == {
        Reason.BAD_NUMBER: 1,
        Reason.DUPLICATE_ID: 1,
        Reason.CONFLICTING_LABELS: 1,
        Reason.UNKNOWN_QUERY: 1,
        Reason.UNKNOWN_PRODUCT: 1,
        Reason.UNKNOWN_LABEL: 1,
    }


@pytest.mark.realdata
def test_wands_with_the_real_query_file(shared_data, tmp_path):
    folder = wands_folder(tmp_path, shared_data / "wands" / "query.csv")
    report = import_source("wands", folder, tmp_path / "out")
    check_wands(report, tmp_path / "out", 480)


def test_wands_tiny(tmp_path):
    report = import_source("wands", wands_folder(tmp_path, None), tmp_path / "out")
    check_wands(report, tmp_path / "out", 2)


@pytest.mark.realdata
def test_wands_folder_missing_files(shared_data, tmp_path):
    with pytest.raises(DataError, match=r"missing WANDS file\(s\): product\.csv, label\.csv"):
        import_source("wands", shared_data / "wands", tmp_path / "out")


def test_parse_features():
    assert parse_features("a:1| b : two |loose|") == {"a": "1", "b": "two", "features": "loose"}


# --- generic CSV -----------------------------------------------------------------------------

MAPPING_YAML = """\
columns:
  query: Search
  product_id: SKU
  label: Judgement
  title: Name
  brand: Brand
  category: Path
  price: Price
  attributes: {colour: Color}
labels: {perfect: 3, good: 2, related: 1, bad: 0, 5: 3}
category_sep: "/"
"""


def test_csv_with_label_table_from_yaml(tmp_path):
    src = write(
        tmp_path / "judged.tsv",
        "Search\tSKU\tJudgement\tName\tBrand\tPath\tPrice\tColor\n"
        "red mug\tS1\tPerfect\tRed Mug\tAcme\tKitchen / Mugs\t$1,299.00\tred\n"
        "red mug\tS2\t5\tRed Cup\t\t\t\t\n"
        "red mug\tS3\tawful\tX\t\t\t\t\n"  # unknown label
        "red mug\tS4\tgood\tX\t\t\tcheap\t\n"  # bad price
        "red mug\tS5\tgood\t\t\t\t\t\n",  # empty title
    )
    mapping = write(tmp_path / "mapping.yaml", MAPPING_YAML)
    out = tmp_path / "out"
    report = import_source("csv", src, out, mapping)
    assert (report.read, report.imported, report.rejected) == (5, 2, 3)
    assert_adds_up(report, out)
    rej = rejects_of(out).set_index("row")
    assert (rej.loc[3, "field"], rej.loc[3, "reason"]) == ("Judgement", Reason.UNKNOWN_LABEL)
    assert (rej.loc[4, "field"], rej.loc[4, "reason"]) == ("Price", Reason.BAD_NUMBER)
    assert (rej.loc[5, "field"], rej.loc[5, "reason"]) == ("Name", Reason.EMPTY)
    ds = Dataset.load(out)
    p = ds.products.set_index("product_id").loc["S1"]
    assert p["price"] == 1299.0 and p["category"] == "Kitchen > Mugs" and p["attributes"] == {"colour": "red"}
    assert ds.judgments.set_index("product_id")["grade"].to_dict() == {"S1": 3, "S2": 3}


def test_csv_parquet_with_thresholds(tmp_path):
    df = pd.DataFrame(
        {"q": ["a", "a", "b", "b"], "pid": [1, 2, 1, 3], "score": [2.7, 1.2, None, 9.0], "raters": [3] * 4}
    )
    src = tmp_path / "judged.parquet"
    df.to_parquet(src)
    mapping = {
        "columns": {"query": "q", "product_id": "pid", "label": "score", "rater_count": "raters"},
        "thresholds": [1.5, 2.0, 2.5],
        "range": [1, 3],
    }
    report = import_source("csv", src, tmp_path / "out", mapping)
    assert (report.read, report.imported, report.rejected) == (4, 2, 2)
    assert report.reasons == {Reason.EMPTY: 1, Reason.OUT_OF_RANGE: 1}
    j = Dataset.load(tmp_path / "out").judgments.set_index("product_id")
    assert j.loc["1", "grade"] == 3 and j.loc["1", "raw_score"] == pytest.approx(2.7)
    assert j.loc["2", "grade"] == 0 and j.loc["1", "rater_count"] == 3


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"columns": {"query": "q", "product_id": "p", "label": "l"}}, "exactly one of"),
        ({"columns": {"query": "q", "product_id": "p", "label": "l"}, "labels": {"x": 7}}, "0..3"),
        ({"columns": {"query": "q", "product_id": "p", "label": "l"}, "thresholds": [2, 1]}, "increasing"),
        ({"columns": {"query": "q", "product_id": "p"}, "labels": {"x": 1}}, "columns.label"),
        ({"columns": {"query": "q", "product_id": "p", "label": "l"}, "labels": {"x": 1}, "oops": 1}, "oops"),
    ],
)
def test_csv_bad_mappings_are_clear_errors(tmp_path, mapping, match):
    src = write(tmp_path / "f.csv", "q,p,l\na,b,x\n")
    with pytest.raises(DataError, match=match):
        import_source("csv", src, tmp_path / "out", mapping)


def test_csv_mapped_column_missing_from_file(tmp_path):
    src = write(tmp_path / "f.csv", "q,p\na,b\n")
    mapping = {"columns": {"query": "q", "product_id": "p", "label": "grade"}, "labels": {"x": 1}}
    with pytest.raises(DataError, match=r"f\.csv: missing required column\(s\) for the mapping: grade"):
        import_source("csv", src, tmp_path / "out", mapping)
    with pytest.raises(DataError, match="needs a --mapping"):
        import_source("csv", src, tmp_path / "out")
    bad_yaml = write(tmp_path / "m.yaml", "columns: [unclosed\n")
    with pytest.raises(DataError, match=r"m\.yaml"):
        import_source("csv", src, tmp_path / "out", bad_yaml)


def test_encoding_option_reads_legacy_files(tmp_path):
    src = write(tmp_path / "train.csv", (HD_HEADER + "1,100,Caf\xe9 table,table,3\n").encode("latin-1"))
    assert import_source("homedepot", src, tmp_path / "a").rejected == 1
    report = import_source("homedepot", src, tmp_path / "b", {"encoding": "latin-1"})
    assert report.rejected == 0
    assert Dataset.load(tmp_path / "b").products["title"].tolist() == ["Café table"]
    with pytest.raises(DataError, match="layout is fixed"):
        import_source("homedepot", src, tmp_path / "c", {"columns": {}})


# --- CLI -------------------------------------------------------------------------------------


def test_cli_import_prints_the_accounting_line(tmp_path):
    src = write(tmp_path / "train.csv", HD_HEADER + "1,100,Drill,drill,3\n2,101,Saw,saw,x\n3,102,Saw\n")
    result = CliRunner().invoke(app, ["data", "import", "homedepot", str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "read 3 = imported 1 + rejected 2" in result.output
    assert f"rejected 1: {Reason.BAD_NUMBER}" in result.output
    assert (tmp_path / "o" / "rejects.parquet").exists()


def test_cli_errors_exit_2_without_traceback(tmp_path):
    src = write(tmp_path / "[bold]x.csv", "[/],b\n1,2\n")
    runner = CliRunner()
    for args in (
        ["data", "import", "homedepot", str(src), "--out", str(tmp_path / "o")],
        ["data", "import", "csv", str(src), "--out", str(tmp_path / "o")],
        ["data", "import", "wands", str(src), "--out", str(tmp_path / "o")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


# --- issue 10: duplicates vs conflicts, title conflicts, files without rows --------------------------


def test_exact_duplicates_conflicting_labels_and_title_conflicts_are_told_apart(tmp_path):
    src = write(
        tmp_path / "train.csv",
        HD_HEADER
        + "1,100,Drill 20V,cordless drill,3.0\n"
        + "2,100,Drill 20V,cordless drill,3.0\n"  # exact duplicate
        + "3,100,Drill 20V,cordless drill,2.33\n"  # same pair, another label
        + "4,100,Drill 18V kit,drill,2.0\n"  # same product id, another title: imported, warned
        + "5,101,Saw,saw,2.0\n",
    )
    out = tmp_path / "out"
    report = import_source("homedepot", src, out)
    assert (report.read, report.imported, report.rejected) == (5, 3, 2)
    rej = rejects_of(out).set_index("row")
    assert rej.loc[2, "reason"] == Reason.DUPLICATE_PAIR
    assert rej.loc[3, "reason"] == Reason.CONFLICTING_LABELS
    assert Reason.CONFLICTING_LABELS != Reason.DUPLICATE_PAIR
    warn = pd.read_parquet(out / "warnings.parquet")
    assert warn[["row", "field"]].values.tolist() == [[4, "title"]]
    assert "Drill 18V kit" in warn.loc[0, "value"] and "Drill 20V" in warn.loc[0, "value"]
    assert report.warnings == {Warn.TITLE_CONFLICT: 1}
    assert any("warning 1 rows" in line for line in report.iter_lines())
    ds = Dataset.load(out)
    assert ds.products.set_index("product_id").loc["100", "title"] == "Drill 20V"  # the first is kept


def test_header_only_csv_and_zero_row_parquet_are_errors(tmp_path):
    src = write(tmp_path / "train.csv", HD_HEADER)
    with pytest.raises(DataError, match=r"train\.csv: no data rows"):
        import_source("homedepot", src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    pq_file = tmp_path / "pairs.parquet"
    pd.DataFrame({c: pd.Series([], dtype=str) for c in ("q", "p", "t", "g")}).to_parquet(pq_file)
    mapping = {
        "columns": {"query": "q", "product_id": "p", "title": "t", "label": "g"},
        "labels": {"good": 3, "bad": 0},
    }
    with pytest.raises(DataError, match=r"pairs\.parquet: no data rows"):
        import_source("csv", pq_file, tmp_path / "out2", mapping)

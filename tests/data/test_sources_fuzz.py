"""Malformed input never escapes as a traceback: a DataError naming the file, or counts that add up."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ecomrel.cli import app
from ecomrel.data.schema import DataError, Dataset
from ecomrel.data.sources import import_source

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HUGE = "\x01HUGE\x01"  # replaced by a 25,000-character value when written

LAYOUTS = {
    "homedepot": ["id", "product_uid", "product_title", "search_term", "relevance"],
    "esci": ["query_id", "query", "product_id", "product_locale", "esci_label", "split", "product_title"],
    "csv": ["Search", "SKU", "Label", "Name", "Price"],
    "wands": ["id", "query_id", "product_id", "label"],  # label.csv; query.csv and product.csv are fixed
}
CSV_MAPPINGS = [
    {
        "columns": {
            "query": "Search",
            "product_id": "SKU",
            "label": "Label",
            "title": "Name",
            "price": "Price",
        },
        "labels": {"E": 3, "Exact": 3, "Partial": 2, "3": 3, "1": 0},
    },
    {"columns": {"query": "Search", "product_id": "SKU", "label": "Label"}, "thresholds": [1.5, 2.0, 2.5]},
]
WANDS_QUERY = "query_id\tquery\tquery_class\n0\tsalon chair\tChairs\n1\tdrill\tTools\n"
WANDS_PRODUCT = (
    "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features"
    "\trating_count\taverage_rating\treview_count\n"
    "0\tchair\tChairs\tFurniture / Chairs\tnice\tcolor:red\t1\t4.0\t1\n1\tdrill\tTools\tTools\t\t\t\t\t\n"
)

cells = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "1",
            "2",
            "3",
            "1.0",
            "2.33",
            "3.0",
            "4",
            "-1",
            "abc",
            "nan",
            "inf",
            "E",
            "S",
            "C",
            "I",
            "Exact",
            "Partial",
            "Irrelevant",
            "X",
            "us",
            "es",
            "train",
            "drill",
            "Drill 20V",
            'say "hi"',
            "a,b",
            "tab\there",
            "line\nbreak",
            "30å¡",
            "[bold]",
            "[/]",
            "\x00",
            "$1,299",
            HUGE,
        ]
    ),
    st.text(max_size=12),
)


def rows_for(n_cols: int):
    row = st.lists(cells, min_size=n_cols, max_size=n_cols)

    # duplicates come from repeating a drawn row
    def with_repeats(rows: list[list[str]]):
        return st.lists(st.sampled_from(rows), max_size=3).map(lambda d: rows + d) if rows else st.just(rows)

    return st.lists(row, max_size=12).flatmap(with_repeats)


def to_csv_bytes(header: list[str], rows: list[list[str]], sep: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")  # quotes both \r and \n
    w.writerow(header)
    for r in rows:
        w.writerow(["x" * 25_000 if c == HUGE else c for c in r])
    return buf.getvalue().encode("utf-8")


corruptions = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("drop_header_column"), st.integers(0, 10)),
    st.tuples(st.just("drop_column"), st.integers(0, 10)),
    st.tuples(st.just("stray_quote"), st.floats(0, 1)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("insert_bytes"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("random_file"), st.binary(max_size=300)),
)


def corrupt(header: list[str], rows: list[list[str]], sep: str, how: tuple) -> tuple[bytes, bool]:
    """The file bytes, and whether its rows are still exactly ``rows``."""
    kind = how[0]
    if kind == "drop_header_column":
        i = how[1] % len(header)
        return to_csv_bytes(header[:i] + header[i + 1 :], rows, sep), False
    if kind == "drop_column":
        i = how[1] % len(header)
        return to_csv_bytes(header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in rows], sep), False
    data = to_csv_bytes(header, rows, sep)
    if kind == "none":
        return data, True
    if kind == "random_file":
        return how[1], False
    pos = int(how[1] * len(data))
    if kind == "stray_quote":
        return data[:pos] + b'"' + data[pos:], False
    if kind == "truncate":
        return data[:pos], False
    return data[:pos] + how[2] + data[pos:], False


def check_outcome(fn, names: list[str], out: Path, n_rows: int | None):
    """Run an import; a DataError must name one of ``names``, otherwise the books must balance."""
    try:
        report = fn()
    except DataError as exc:
        assert any(n in str(exc) for n in names), f"error does not name the file: {exc}"
        event("DataError")
        return None
    event("imported" if report.rejected == 0 else "imported with rejects")
    assert report.read == report.imported + report.rejected
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert len(rejects) == report.rejected
    assert (rejects["row"] >= 1).all()
    if n_rows is not None and report.format != "wands":
        assert report.read == n_rows
    ds = Dataset.load(out)
    if report.format in ("homedepot", "csv", "esci"):
        assert len(ds.judgments) == report.imported
    assert not ds.judgments.duplicated(["query_id", "product_id"]).any()
    return report


def write_source(tmp: Path, fmt: str, data: bytes) -> tuple[Path, list[str]]:
    if fmt == "wands":
        folder = tmp / "wands"
        folder.mkdir()
        (folder / "query.csv").write_text(WANDS_QUERY)
        (folder / "product.csv").write_text(WANDS_PRODUCT)
        (folder / "label.csv").write_bytes(data)
        return folder, ["label.csv", str(folder)]
    path = tmp / f"{fmt}_input.csv"
    path.write_bytes(data)
    return path, [path.name]


@SETTINGS
@given(
    fmt=st.sampled_from(sorted(LAYOUTS)),
    data=st.data(),
    how=corruptions,
    mapping_i=st.integers(0, len(CSV_MAPPINGS) - 1),
)
def test_malformed_text_files(fmt, data, how, mapping_i):
    header = LAYOUTS[fmt]
    rows = data.draw(rows_for(len(header)))
    sep = "\t" if fmt == "wands" else ","
    raw, intact = corrupt(header, rows, sep, how)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src, names = write_source(tmp, fmt, raw)
        mapping = CSV_MAPPINGS[mapping_i] if fmt == "csv" else None
        check_outcome(
            lambda: import_source(fmt, src, tmp / "out", mapping),
            names,
            tmp / "out",
            len(rows) if intact else None,
        )


def column_of(values, arrow_type):
    return st.lists(values, min_size=6, max_size=6).map(lambda v: pa.array(v, arrow_type))


parquet_columns = st.one_of(
    column_of(cells, pa.string()),
    column_of(st.one_of(st.none(), st.integers(-5, 5)), pa.int64()),
    column_of(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), pa.float64()),
    st.just(pa.nulls(6, pa.string())),
)


@SETTINGS
@given(
    present=st.one_of(
        st.permutations(LAYOUTS["csv"]),  # all columns, in any order
        st.lists(st.sampled_from(LAYOUTS["csv"]), unique=True),  # usually some missing
    ),
    columns=st.lists(parquet_columns, min_size=5, max_size=5),
    damage=st.one_of(st.none(), st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=16))),
    mapping_i=st.integers(0, len(CSV_MAPPINGS) - 1),
)
def test_malformed_parquet(present, columns, damage, mapping_i):
    table = pa.table({name: columns[i] for i, name in enumerate(present)}) if present else pa.table({})
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "judged.parquet"
        pq.write_table(table, src)
        if damage is not None:
            raw = src.read_bytes()
            pos = int(damage[0] * len(raw))
            src.write_bytes(raw[:pos] + damage[1] + raw[pos + len(damage[1]) :])
        n_rows = table.num_rows if damage is None else None
        mapping = CSV_MAPPINGS[mapping_i]
        out = tmp / "out"
        check_outcome(lambda: import_source("csv", src, out, mapping), [src.name], out, n_rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["homedepot", "esci", "wands"]), data=st.data(), how=corruptions)
def test_cli_never_shows_a_traceback(fmt, data, how):
    header = LAYOUTS[fmt]
    rows = data.draw(rows_for(len(header)))
    raw, _ = corrupt(header, rows, "\t" if fmt == "wands" else ",", how)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src, _names = write_source(tmp, fmt, raw)
        result = CliRunner().invoke(app, ["data", "import", fmt, str(src), "--out", str(tmp / "out")])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            assert " = imported " in result.output and " + rejected " in result.output
        else:
            assert "error:" in result.output

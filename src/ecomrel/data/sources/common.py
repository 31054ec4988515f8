"""What every loader shares: robust table reading, row checks, query ids and the import report.

The contract of every loader: each data row of each input file is either *imported* or written
to the rejects with its file, 1-based data row number, field and reason, so that
``read == imported + rejected`` holds per file and in total. Problems with a whole file
(missing, empty, not Parquet, missing required columns) raise :class:`DataError` naming the file.

Encoding policy. Text files are decoded as UTF-8 (a BOM is accepted) unless the caller names
another encoding. Valid UTF-8 is kept as it is, including mojibake such as Home Depot's ``30å¡``:
that is what the source holds. A byte sequence that is *not* valid UTF-8 makes its row a reject
(reason ``undecodable text``, value shown with ``\\xNN`` escapes) rather than being replaced
silently; the report then suggests naming the encoding (``encoding: latin-1`` in the mapping).

Blank lines are not rows (as in pandas). Row numbers count data records after the header, so a
quoted field that spans lines is one row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ecomrel.data.rejects import Rejects
from ecomrel.data.schema import DataError, Dataset

MAX_FIELD_CHARS = 20_000
"""Default size limit of one field; longer values are rejected (a broken quote swallows lines)."""

CHUNK_ROWS = 5_000


class Reason:
    """The reject reasons, as stable strings: the report counts rejects per reason."""

    EMPTY = "empty required field"
    UNKNOWN_LABEL = "unknown label"
    DUPLICATE_PAIR = "duplicate (query, product) pair"
    CONFLICTING_LABELS = "conflicting labels for one (query, product) pair"
    DUPLICATE_ID = "duplicate id"
    BAD_NUMBER = "unparseable number"
    OUT_OF_RANGE = "value out of range"
    TOO_LONG = "field over size limit"
    UNDECODABLE = "undecodable text"
    COLUMN_COUNT = "wrong column count"
    UNKNOWN_QUERY = "unknown query_id"
    UNKNOWN_PRODUCT = "unknown product_id"
    PRODUCT_CONFLICT = "product id has another text in the data folder"


class Warn:
    """Warnings: rows that were imported, but with something the user should know (``warnings.parquet``)."""

    TITLE_CONFLICT = "product id seen with another title (first kept)"


class RowReject(Exception):  # noqa: N818 - a control-flow signal, not an error that escapes
    """Raised inside a loader's row loop; the caller records it as one reject."""

    def __init__(self, field_name: str, reason: str, value: object = None) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason
        self.value = value


# --- text helpers ------------------------------------------------------------------------

_SURROGATE = re.compile("[\udc80-\udcff]")


def printable(text: str) -> str:
    """A string safe to print and to store in Parquet: undecodable bytes become ``\\xNN``."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def normalize_query(text: str) -> str:
    """The key that decides query identity: Unicode NFC, trimmed, case-folded.

    Inner whitespace is kept on purpose: Home Depot judged ``"fence  mesh"`` and ``"fence mesh"``
    as two queries with different scores, and merging them would turn real judgments into
    duplicate pairs.
    """
    return unicodedata.normalize("NFC", text).strip().casefold()


def query_id_for(text: str) -> str:
    """A deterministic id from the normalized query text: same text, same id, on any machine."""
    digest = hashlib.blake2b(normalize_query(text).encode("utf-8"), digest_size=8).hexdigest()
    return f"q{digest}"


def parse_float(text: str, field_name: str, *, allow_currency: bool = False) -> float:
    """A finite float or a :class:`RowReject` (``"$1,299.00"`` is accepted for prices)."""
    s = text.strip()
    if allow_currency:
        s = s.replace(",", "").replace("$", "").replace("€", "").replace("£", "").strip()
    try:
        value = float(s)
    except ValueError:
        raise RowReject(field_name, Reason.BAD_NUMBER, text) from None
    if not math.isfinite(value):
        raise RowReject(field_name, Reason.BAD_NUMBER, text)
    return value


# --- reading -------------------------------------------------------------------------------


@dataclass
class FileStats:
    """Per-file row accounting: ``read == imported + rejected`` always holds."""

    file: str
    read: int = 0
    imported: int = 0
    rejected: int = 0


@dataclass
class RawTable:
    """One input file as text cells: the header and the structurally sound data rows.

    Rows with the wrong number of cells are already rejected (and counted in ``stats``) by the
    reader; the loader sees only rows it can index by column.
    """

    path: Path
    columns: list[str]
    rows: list[tuple[int, list[str]]]
    stats: FileStats
    undecodable: bool = False

    @property
    def file(self) -> str:
        return self.stats.file

    def index(self, name: str) -> int | None:
        """Position of a column by exact name, else case-insensitively; None if absent."""
        if name in self.columns:
            return self.columns.index(name)
        lowered = [c.lower() for c in self.columns]
        return lowered.index(name.lower()) if name.lower() in lowered else None

    def require(self, names: list[str], what: str = "") -> dict[str, int]:
        """Column positions of ``names``; a :class:`DataError` naming the file and every missing one."""
        found = {n: self.index(n) for n in names}
        missing = [n for n, i in found.items() if i is None]
        if missing:
            have = ", ".join(printable(c) for c in self.columns) or "(none)"
            kind = f" for {what}" if what else ""
            raise DataError(
                f"{self.file}: missing required column(s){kind}: {', '.join(missing)} (found: {have})"
            )
        return {n: i for n, i in found.items() if i is not None}

    def optional(self, names: list[str]) -> dict[str, int]:
        return {n: i for n in names if (i := self.index(n)) is not None}

    def chunks(self, size: int = CHUNK_ROWS) -> list[list[tuple[int, list[str]]]]:
        return [self.rows[i : i + size] for i in range(0, len(self.rows), size)]


def _guess_sep(header_line: str, path: Path) -> str:
    if path.suffix.lower() in {".tsv", ".tab"}:
        return "\t"
    counts = {sep: header_line.count(sep) for sep in ("\t", ",", ";", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _decode(data: bytes, encoding: str | None, path: Path) -> tuple[str, bool]:
    """Decode a whole file; undecodable bytes survive as surrogates so that their rows can be rejected."""
    if encoding is None or encoding.lower().replace("_", "-") in {"utf-8", "utf8", "utf-8-sig"}:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16", errors="replace"), False
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            return data.decode("utf-8", errors="surrogateescape"), True
    try:
        text = data.decode(encoding, errors="surrogateescape")
    except LookupError:
        raise DataError(f"{path}: unknown encoding {encoding!r}") from None
    except UnicodeError:  # codecs without surrogateescape support (e.g. utf-16)
        text = data.decode(encoding, errors="replace")
    return text, bool(_SURROGATE.search(text))


def check_file(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a file")
    return path


def read_text_table(
    path: str | Path,
    rejects: Rejects,
    *,
    sep: str | None = None,
    encoding: str | None = None,
) -> RawTable:
    """Read a CSV/TSV file into text cells, rejecting rows with the wrong number of cells."""
    path = check_file(Path(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text, undecodable = _decode(data, encoding, path)
    if not text.strip():
        raise DataError(f"{path}: file is empty (no header row)")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    sep = sep or _guess_sep(first_line, path)
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # we enforce our own per-field limit
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    stats = FileStats(file=str(path))
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    rownum = 0
    line_before = 0
    try:
        for rec in reader:
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                line_before = reader.line_num
                continue  # blank line: not a row
            if header is None:
                header = [c.strip().lstrip("\ufeff").strip() for c in rec]
                line_before = reader.line_num
                continue
            rownum += 1
            stats.read += 1
            if len(rec) != len(header):
                lines = (line_before + 1, reader.line_num)
                span = f"lines {lines[0]}-{lines[1]}" if lines[1] > lines[0] else f"line {lines[1]}"
                preview = printable(sep.join(rec))[:150]
                rejects.add(
                    path,
                    rownum,
                    "*",
                    Reason.COLUMN_COUNT,
                    f"expected {len(header)} fields, got {len(rec)} ({span}): {preview}",
                )
                stats.rejected += 1
            else:
                rows.append((rownum, rec))
            line_before = reader.line_num
    except csv.Error as exc:
        raise DataError(f"{path}: row {rownum + 1}: cannot parse CSV ({exc})") from None
    if header is None:
        raise DataError(f"{path}: file is empty (no header row)")
    if any(not c for c in header):
        header = [c or f"_unnamed_{i}" for i, c in enumerate(header)]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) in the header: {', '.join(map(printable, dupes))}")
    return RawTable(path=path, columns=header, rows=rows, stats=stats, undecodable=undecodable)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="surrogateescape")
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str, ensure_ascii=False)
    return str(v)


def read_parquet_table(path: str | Path) -> RawTable:
    """Read a Parquet file into text cells (nulls become empty strings)."""
    import pyarrow.parquet as pq

    path = check_file(Path(path))
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    columns = [str(c).strip() for c in table.column_names]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column name(s): {', '.join(dupes)}")
    try:
        cols = [[_cell(v) for v in table.column(i).to_pylist()] for i in range(table.num_columns)]
    except Exception as exc:
        raise DataError(f"{path}: cannot read the Parquet values ({type(exc).__name__}: {exc})") from None
    n = table.num_rows
    rows = [(i + 1, [c[i] for c in cols]) for i in range(n)]
    stats = FileStats(file=str(path), read=n)
    undecodable = any(_SURROGATE.search(v) for c in cols for v in c if v)
    return RawTable(path=path, columns=columns, rows=rows, stats=stats, undecodable=undecodable)


def read_table_file(
    path: str | Path, rejects: Rejects, *, sep: str | None = None, encoding: str | None = None
) -> RawTable:
    """CSV, TSV or Parquet by extension (``.parquet``/``.pq``), else sniffed from the magic bytes."""
    path = check_file(Path(path))
    is_parquet = path.suffix.lower() in {".parquet", ".pq"}
    if not is_parquet:
        try:
            with path.open("rb") as fh:
                is_parquet = fh.read(4) == b"PAR1"
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if is_parquet:
        return read_parquet_table(path)
    return read_text_table(path, rejects, sep=sep, encoding=encoding)


# --- row checks ----------------------------------------------------------------------------


class Cells:
    """Checked access to the cells of one row: decoding, size limit and emptiness."""

    __slots__ = ("cols", "rec", "limit", "check_decoding")

    def __init__(self, cols: dict[str, int], rec: list[str], limit: int, check_decoding: bool) -> None:
        self.cols, self.rec, self.limit, self.check_decoding = cols, rec, limit, check_decoding

    def has(self, name: str) -> bool:
        return name in self.cols

    def get(self, name: str, required: bool = False) -> str:
        """The stripped cell of column ``name`` ("" when the column is absent)."""
        i = self.cols.get(name)
        if i is None:
            if required:
                raise RowReject(name, Reason.EMPTY, None)
            return ""
        value = self.rec[i]
        if len(value) > self.limit:
            raise RowReject(name, Reason.TOO_LONG, f"{len(value):,} chars > {self.limit:,}: {value[:120]}")
        if self.check_decoding and _SURROGATE.search(value):
            raise RowReject(name, Reason.UNDECODABLE, printable(value))
        value = value.strip()
        if required and not value:
            raise RowReject(name, Reason.EMPTY, None)
        return value


# --- building the canonical tables ---------------------------------------------------------


class Builder:
    """Accumulates products, queries and judgments; the first of a duplicate wins.

    A repeated (query, product) pair is a reject: ``duplicate`` when it carries the same label,
    ``conflicting labels`` when another one (the first label is kept). A product id repeated with
    another title keeps the first and is counted in :attr:`warnings` (``warnings.parquet``).
    """

    def __init__(self, rejects: Rejects, max_field_chars: int = MAX_FIELD_CHARS) -> None:
        self.rejects = rejects
        self.warnings = Rejects()
        self.limit = max_field_chars
        self.products: dict[str, dict] = {}
        self.queries: dict[str, dict] = {}
        self.judgments: list[dict] = []
        self.judgment_rows: list[tuple[str, int]] = []  # (file, 1-based row) of each judgment
        self.pairs: dict[tuple[str, str], str] = {}  # → the source label first seen
        self.where: tuple[str, int] | None = None  # (file, 1-based row) being handled
        self.splits: dict[str, str] = {}
        self.files: list[FileStats] = []
        self.undecodable = False

    def track_file(self, table: RawTable) -> FileStats:
        self.files.append(table.stats)
        self.undecodable = self.undecodable or table.undecodable
        return table.stats

    def reject(self, stats: FileStats, row: int, exc: RowReject) -> None:
        value = exc.value if exc.value is None else printable(str(exc.value))
        self.rejects.add(stats.file, row, exc.field, exc.reason, value)
        stats.rejected += 1

    def check_pair(
        self, query_id: str, product_id: str, field_name: str = "product_id", label: str | None = None
    ) -> None:
        first = self.pairs.get((query_id, product_id))
        if first is None:
            return
        if label is not None and label.strip() != first.strip():
            raise RowReject(
                field_name,
                Reason.CONFLICTING_LABELS,
                f"{query_id} / {product_id}: label {label!r}, first row said {first!r} (kept)",
            )
        raise RowReject(field_name, Reason.DUPLICATE_PAIR, f"{query_id} / {product_id}")

    def add_query(self, query_id: str, text: str, **extra: object) -> None:
        if query_id not in self.queries:
            self.queries[query_id] = {"query_id": query_id, "text": text, "frequency": None, **extra}

    def add_product(self, product_id: str, **fields: object) -> None:
        known = self.products.get(product_id)
        if known is None:
            self.products[product_id] = {"product_id": product_id, **fields}
            return
        title = fields.get("title")
        if title is not None and known.get("title") is not None and title != known["title"]:
            file, row = self.where or ("?", 0)
            self.warnings.add(
                file, row, "title", Warn.TITLE_CONFLICT, f"{product_id}: {title!r} vs kept {known['title']!r}"
            )

    def add_judgment(
        self,
        query_id: str,
        product_id: str,
        grade: int,
        source_label: str,
        raw_score: float | None = None,
        rater_count: int | None = None,
    ) -> None:
        self.pairs.setdefault((query_id, product_id), source_label)
        self.judgment_rows.append(self.where or ("?", 0))
        self.judgments.append(
            {
                "query_id": query_id,
                "product_id": product_id,
                "grade": int(grade),
                "source_label": source_label,
                "raw_score": raw_score,
                "rater_count": rater_count,
            }
        )

    def dataset(self) -> Dataset:
        base = ["product_id", "title", "brand", "category", "attributes", "description", "price"]
        extra_p = sorted({k for p in self.products.values() for k in p} - set(base))
        products = pd.DataFrame(list(self.products.values()), columns=[*base, *extra_p])
        products = products.drop(columns=[c for c in extra_p if products[c].isna().all()])
        products["price"] = pd.to_numeric(products["price"], errors="coerce").astype("float64")
        extra_q = sorted({k for q in self.queries.values() for k in q} - {"query_id", "text", "frequency"})
        queries = pd.DataFrame(
            list(self.queries.values()), columns=["query_id", "text", "frequency", *extra_q]
        )
        queries["frequency"] = queries["frequency"].astype("Int64")
        judgments = pd.DataFrame(
            self.judgments,
            columns=["query_id", "product_id", "grade", "source_label", "raw_score", "rater_count"],
        )
        judgments["grade"] = judgments["grade"].astype("int8")
        judgments["raw_score"] = judgments["raw_score"].astype("float64")
        judgments["rater_count"] = judgments["rater_count"].astype("Int32")
        splits = None
        if self.splits:
            splits = pd.DataFrame({"query_id": list(self.splits), "split": list(self.splits.values())})
        return Dataset(products=products, queries=queries, judgments=judgments, splits=splits)


def run_rows(
    table: RawTable,
    builder: Builder,
    cols: dict[str, int],
    handle: Callable[[Cells, int], None],
    description: str,
) -> None:
    """Apply ``handle`` to every row of ``table``; a :class:`RowReject` becomes one reject.

    ``cols`` maps the names the handler asks for to column positions (from ``RawTable.require``).
    """
    from ecomrel.progress import track

    stats = builder.track_file(table)
    limit, check = builder.limit, table.undecodable
    for chunk in track(table.chunks(), description, unit="chunks"):
        for rownum, rec in chunk:
            builder.where = (stats.file, rownum)
            try:
                handle(Cells(cols, rec, limit, check), rownum)
            except RowReject as exc:
                builder.reject(stats, rownum, exc)
            else:
                stats.imported += 1


# --- the report ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: every row read is either imported or rejected."""

    format: str
    source: str
    out: Path
    read: int
    imported: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    files: list[FileStats] = field(default_factory=list)
    products: int = 0
    queries: int = 0
    judgments: int = 0
    seconds: float = 0.0
    undecodable_hint: bool = False
    warnings: dict[str, int] = field(default_factory=dict)
    split: str | None = None
    splits: dict[str, int] = field(default_factory=dict)
    product_conflicts: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        return d

    def iter_lines(self) -> Iterator[str]:
        yield f"read {self.read:,} = imported {self.imported:,} + rejected {self.rejected:,}"
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            yield f"  rejected {n:,}: {reason}"
        for reason, n in sorted(self.warnings.items(), key=lambda kv: (-kv[1], kv[0])):
            yield f"  warning {n:,} rows: {reason} (see warnings.parquet)"
        if self.split is not None:
            parts = ", ".join(f"{s} {n:,}" for s, n in self.splits.items())
            yield f"split {self.split}: queries of this file by split: {parts}"
        c = self.product_conflicts
        if c.get("products"):
            yield (
                f"product id with another text in the folder: {c['products']:,} products, "
                f"{c['judgments']:,} judgments "
                f"{'kept under a suffixed id' if c['mode'] == 'keep' else 'rejected'}"
                f" (--on-product-conflict {c['mode']})"
            )

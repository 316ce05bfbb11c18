"""Strict reading of labelled numeric tables (CSV, TSV, parquet).

Input-output tables arrive as text files with one or more label columns (the row
index: product, or region and sector) and one or more header rows (the column
labels). :func:`read_table` reads such a file into a float
:class:`pandas.DataFrame` and refuses, with a :class:`~gosplan.errors.TableFormatError`
that names the file, the 1-based line as an editor shows it, the column label and
the row label, every cell it cannot take at face value:

* text in a numeric cell (``"n/a"``, ``"12 3"``);
* a decimal comma (``"0,5"``) or thousands separator (``"1,234"``); a reader may
  accept decimal commas explicitly with ``decimal_comma=True``, which converts them
  and emits a :class:`~gosplan.errors.DataQualityWarning` naming the cells;
* ``NaN`` or ``inf``;
* an empty cell (unless ``empty="zero"`` or ``empty="nan"``);
* duplicate row or column labels, empty labels;
* ragged rows (fewer cells than the header, or extra cells that are not empty);
* a missing file (a ``TableFormatError`` naming the path, not a bare
  ``FileNotFoundError``).

Compressed text (``.gz``, ``.xz``, ``.bz2``) is read transparently; this is how the
bundled datasets are stored. Parquet files are read with pandas and checked the same
way (without line numbers: parquet has no lines; the message gives the row number).

The returned frame carries ``frame.attrs["file"]`` (the path as given) and
``frame.attrs["lines"]`` (the editor line of every data row), so later checks
(:func:`gosplan.io.flows.economy_from_flows`) can point at the line too.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import warnings
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from gosplan.errors import DataQualityWarning, Location, TableFormatError

__all__ = [
    "read_table",
    "find_table",
    "label_str",
    "flatten_labels",
    "TABLE_SUFFIXES",
    "row_line",
]

#: Suffixes :func:`find_table` tries, in this order.
TABLE_SUFFIXES: tuple[str, ...] = (
    ".csv",
    ".csv.gz",
    ".csv.xz",
    ".txt",
    ".txt.gz",
    ".tsv",
    ".tsv.gz",
    ".parquet",
)

_COMPRESSED = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_LEVEL_SEP = ":"


# ----------------------------------------------------------------------------- labels
def label_str(label: Any) -> str:
    """A row or column label as users see it: tuples joined with ``":"``."""
    if isinstance(label, tuple):
        return _LEVEL_SEP.join(str(p) for p in label)
    return str(label)


def flatten_labels(index: pd.Index) -> pd.Index:
    """String labels: a :class:`~pandas.MultiIndex` ``(region, sector)`` becomes
    ``"region:sector"``; other labels become ``str``."""
    return pd.Index([label_str(v) for v in index], dtype=object, name=None)


def row_line(frame: pd.DataFrame, position: int) -> int | None:
    """Editor line of data row ``position`` of a frame read by :func:`read_table`."""
    lines = frame.attrs.get("lines")
    if lines is None or position >= len(lines):
        return None
    value = lines[position]
    return None if value is None or value < 0 else int(value)


# ----------------------------------------------------------------------------- files
def _suffixes(path: Path) -> tuple[str, str | None]:
    """(table suffix, compression suffix) of ``path``: ``Z.csv.gz`` -> (".csv", ".gz")."""
    sfx = [s.lower() for s in path.suffixes]
    comp = sfx[-1] if sfx and sfx[-1] in _COMPRESSED else None
    if comp is not None:
        sfx = sfx[:-1]
    return (sfx[-1] if sfx else ""), comp


def find_table(directory: str | Path, stem: str, *, required: bool = True) -> Path | None:
    """The file ``directory/stem.<suffix>`` for one of :data:`TABLE_SUFFIXES`.

    Raises :class:`TableFormatError` when none exists (``required``) or when two
    exist (``Z.csv`` and ``Z.parquet``: which one is meant is not ours to guess).
    """
    directory = Path(directory)
    found = [directory / f"{stem}{s}" for s in TABLE_SUFFIXES if (directory / f"{stem}{s}").is_file()]
    if len(found) > 1:
        raise TableFormatError(
            f"several files hold table {stem!r}: {', '.join(p.name for p in found)}; keep one",
            Location(file=directory),
        )
    if not found:
        if required:
            raise TableFormatError(
                f"table {stem!r} not found (looked for {stem}{{{','.join(TABLE_SUFFIXES)}}})",
                Location(file=directory / f"{stem}.csv"),
            )
        return None
    return found[0]


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    _, comp = _suffixes(path)
    if comp is None:
        return open(path, encoding=encoding, newline="")
    return _COMPRESSED[comp](path, "rt", encoding=encoding, newline="")  # type: ignore[return-value]


def _read_text(path: Path) -> tuple[str, str]:
    """Whole text of ``path`` (decompressed) and the encoding used.

    UTF-8 (with or without BOM) first; a file that is not UTF-8 is read as cp1252
    (Windows Excel exports) with a :class:`DataQualityWarning` naming the first line
    that is not UTF-8.
    """
    _, comp = _suffixes(path)
    if comp is None:
        raw = path.read_bytes()
    else:
        with _COMPRESSED[comp](path, "rb") as fh:
            raw = fh.read()
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")
            enc = "cp1252"
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            enc = "latin-1"
        warnings.warn(
            f"{path}, line {line}: file is not UTF-8 (byte 0x{raw[exc.start]:02x}); read as {enc}",
            DataQualityWarning,
            stacklevel=4,
        )
        return text, enc


def _sniff_sep(first_line: str, table_suffix: str) -> str:
    counts = {sep: first_line.count(sep) for sep in ("\t", ",", ";")}
    if counts["\t"] and counts["\t"] >= counts[","]:
        return "\t"
    if counts[";"] > counts[","]:
        return ";"
    if table_suffix in (".tsv",) and not counts[","]:
        return "\t"
    return ","


# ----------------------------------------------------------------------------- parsing
def _records(text: str, sep: str) -> list[tuple[int, list[str]]]:
    """``(start line, cells)`` of every non-blank record; lines as an editor shows them
    (a quoted cell spanning lines counts all its lines)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    out: list[tuple[int, list[str]]] = []
    last = 0
    for cells in reader:
        start = last + 1
        last = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        out.append((start, cells))
    return out


def _classify(cell: str) -> str:
    s = cell.strip()
    if not s:
        return "empty"
    if _DECIMAL_COMMA.match(s) or _THOUSANDS.match(s):
        return "comma"
    if "_" in s or not s.isascii():  # float() takes "1_000" and non-ASCII digits; we do not
        return "text"
    try:
        v = float(s)
    except ValueError:
        return "text"
    return "ok" if np.isfinite(v) else "nonfinite"


def _fail(
    kind: str,
    cell: str,
    *,
    file: Path,
    line: int | None,
    column: str,
    product: str,
    row_number: int | None = None,
) -> TableFormatError:
    where = f" (row {row_number})" if line is None and row_number is not None else ""
    if kind == "empty":
        msg = f"empty cell{where}: a number is required"
    elif kind == "comma":
        msg = (
            f"{cell.strip()!r}{where} is written with a decimal comma or a thousands separator; "
            "write numbers with a '.' decimal point and no grouping"
        )
    elif kind == "nonfinite":
        msg = f"{cell.strip()!r}{where} is not a finite number (NaN/inf are not allowed)"
    else:
        msg = f"text {cell.strip()!r} in a numeric cell{where}"
    return TableFormatError(msg, Location(file=file, line=line, column=column, product=product))


def _labels(parts: Sequence[Sequence[str]]) -> pd.Index:
    if len(parts) == 1:
        return pd.Index(list(parts[0]), dtype=object)
    return pd.MultiIndex.from_arrays([list(p) for p in parts])


def read_table(
    path: str | Path,
    *,
    index_cols: int = 1,
    header_rows: int = 1,
    sep: str | None = None,
    empty: Literal["error", "zero", "nan"] = "error",
    decimal_comma: bool = False,
    strip_labels: bool = True,
    index_names_row: bool | None = None,
    ragged: Literal["error", "pad"] = "error",
) -> pd.DataFrame:
    """Read a labelled numeric table.

    Parameters
    ----------
    path:
        ``.csv``, ``.txt`` (pymrio: tab separated), ``.tsv`` (each optionally
        ``.gz``/``.xz``/``.bz2``) or ``.parquet``.
    index_cols:
        Number of label columns at the left (2 for pymrio's ``region, sector``).
    header_rows:
        Number of header rows at the top (2 for pymrio's ``region`` / ``sector``).
    sep:
        Field separator; by default tab, ``;`` or ``,``, whichever the first line uses.
    empty:
        What an empty numeric cell means: an error (default), ``0`` or ``NaN``
        (the caller then decides; NaN is never passed on silently by gosplan).
    decimal_comma:
        Accept ``"0,5"`` as ``0.5`` (with a :class:`DataQualityWarning` naming the
        cells). Off by default: a comma is reported, never guessed.
    strip_labels:
        Strip surrounding white space from labels (``"Forestry "`` -> ``"Forestry"``).
    index_names_row:
        Whether a row of index names follows the header rows (what pandas writes for
        a frame with several column levels). ``None``: detect it (a row whose cells
        after the labels are all empty).
    ragged:
        A row with fewer cells than the header is an error (default), or ``"pad"``:
        its missing trailing cells count as empty cells (then subject to ``empty``),
        reported with a :class:`DataQualityWarning` naming the lines.

    Returns
    -------
    pandas.DataFrame
        Float values; row labels from the label columns (a ``MultiIndex`` when
        ``index_cols > 1``), column labels from the header rows. ``attrs["file"]``,
        ``attrs["lines"]`` (list: editor line of each data row) and
        ``attrs["header_line"]`` are set.

    Raises
    ------
    TableFormatError
        Naming file, line, column and row label of the first bad cell, label or row.
    """
    path = Path(path)
    if not path.exists():
        raise TableFormatError("file not found", Location(file=path))
    if path.is_dir():
        raise TableFormatError("is a directory, expected a table file", Location(file=path))
    table_suffix, _ = _suffixes(path)
    if table_suffix in (".parquet", ".pq"):
        return _read_parquet(path, empty=empty)
    if index_cols < 1 or header_rows < 1:
        raise ValueError("index_cols and header_rows must be >= 1")

    text, _enc = _read_text(path)
    if not text.strip():
        raise TableFormatError("file is empty", Location(file=path, line=1))
    first_line = text.split("\n", 1)[0]
    if sep is None:
        sep = _sniff_sep(first_line, table_suffix)
    records = _records(text, sep)
    if len(records) < header_rows:
        raise TableFormatError(
            f"expected {header_rows} header row(s), the file has {len(records)} non-blank line(s)",
            Location(file=path, line=1),
        )
    clean = (lambda s: s.strip()) if strip_labels else (lambda s: s)

    # ---- header rows: column labels
    headers = records[:header_rows]
    width = max(len(cells) for _, cells in headers)
    # trailing empty header cells (Excel exports) are not columns
    while width > index_cols and all(len(c) < width or not c[width - 1].strip() for _, c in headers):
        width -= 1
    if width <= index_cols:
        raise TableFormatError(
            f"the header has no column labels after the {index_cols} label column(s)",
            Location(file=path, line=headers[0][0]),
        )
    col_parts: list[list[str]] = []
    for line, cells in headers:
        cells = cells + [""] * (width - len(cells))
        labels = [clean(c) for c in cells[index_cols:width]]
        col_parts.append(labels)
    header_line = headers[-1][0]
    for k in range(width - index_cols):
        if all(not part[k] for part in col_parts):
            raise TableFormatError(
                f"column {index_cols + k + 1} has no label",
                Location(file=path, line=header_line),
            )
    columns = _labels(col_parts)
    level_names = [clean(cells[0]) or None for _, cells in headers] if header_rows > 1 else None

    body = records[header_rows:]
    index_names: list[str | None] = [None] * index_cols
    if body:
        line0, cells0 = body[0]
        looks_like_names = all(not c.strip() for c in cells0[index_cols:]) and any(
            c.strip() for c in cells0[:index_cols]
        )
        if index_names_row is None:
            index_names_row = header_rows > 1 and looks_like_names
        if index_names_row:
            index_names = [clean(c) or None for c in (cells0[:index_cols] + [""] * index_cols)[:index_cols]]
            body = body[1:]
    if header_rows == 1:
        index_names = [clean(c) or None for c in headers[0][1][:index_cols]]

    # ---- data rows
    nrow = len(body)
    ncol = width - index_cols
    values = np.empty((nrow, ncol), dtype=np.float64)
    row_parts: list[list[str]] = [[] for _ in range(index_cols)]
    lines = np.empty(nrow, dtype=np.int64)
    col_label = [label_str(c) for c in columns]
    comma_cells: list[tuple[int, str, str]] = []
    padded: list[int] = []
    # numpy's float parsing takes "1_000" and non-ASCII digits like Python's float();
    # rows are screened for those only when the file has such characters at all
    screen = not text.isascii() or "_" in text
    for r, (line, cells) in enumerate(body):
        lines[r] = line
        labels = [clean(c) for c in cells[:index_cols]]
        product = _LEVEL_SEP.join(labels) if index_cols > 1 else (labels[0] if labels else "")
        if len(cells) < width and ragged == "pad" and len(cells) > index_cols:
            padded.append(line)
            cells = cells + [""] * (width - len(cells))
        if len(cells) < width:
            raise TableFormatError(
                f"ragged row: {len(cells)} cells, the header has {width}",
                Location(file=path, line=line, product=product),
            )
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            k = width + next(i for i, c in enumerate(cells[width:]) if c.strip())
            raise TableFormatError(
                f"ragged row: {len(cells)} cells, the header has {width} (extra value "
                f"{cells[k].strip()!r} in field {k + 1})",
                Location(file=path, line=line, product=product),
            )
        if not all(labels):
            raise TableFormatError(
                "empty row label", Location(file=path, line=line, product=product or None)
            )
        for k in range(index_cols):
            row_parts[k].append(labels[k])
        data = cells[index_cols:width]
        try:
            values[r] = np.asarray(data, dtype=np.float64)
            if np.isfinite(values[r]).all() and not (
                screen and any("_" in c or not c.isascii() for c in data)
            ):
                continue
        except ValueError:
            pass
        for k, cell in enumerate(data):
            kind = _classify(cell)
            if kind == "ok":
                values[r, k] = float(cell)
            elif kind == "empty" and empty != "error":
                values[r, k] = 0.0 if empty == "zero" else np.nan
            elif kind == "comma" and decimal_comma and _DECIMAL_COMMA.match(cell.strip()):
                values[r, k] = float(cell.strip().replace(",", "."))
                comma_cells.append((line, col_label[k], cell.strip()))
            else:
                raise _fail(kind, cell, file=path, line=line, column=col_label[k], product=product)
    if padded:
        warnings.warn(
            f"{path}: {len(padded)} ragged row(s) with fewer cells than the header, the missing "
            f"trailing cells read as empty (ragged='pad'): line(s) {', '.join(map(str, padded[:10]))}",
            DataQualityWarning,
            stacklevel=2,
        )
    if comma_cells:
        first = comma_cells[0]
        warnings.warn(
            f"{path}: {len(comma_cells)} cell(s) written with a decimal comma read as decimals "
            f"(decimal_comma=True), first at line {first[0]}, column {first[1]!r}: {first[2]!r}",
            DataQualityWarning,
            stacklevel=2,
        )
    index = _labels(row_parts) if nrow else (
        pd.MultiIndex.from_arrays([[]] * index_cols) if index_cols > 1 else pd.Index([], dtype=object)
    )
    _check_duplicates(index, columns, path=path, lines=lines, header_line=header_line, first_col=index_cols)
    if index_cols > 1:
        index.names = index_names
    else:
        index.name = index_names[0]
    if level_names is not None:
        columns.names = level_names
    frame = pd.DataFrame(values, index=index, columns=columns)
    frame.attrs["file"] = str(path)
    frame.attrs["lines"] = [int(v) for v in lines]  # a list: attrs must stay JSON-serialisable
    frame.attrs["header_line"] = header_line
    return frame


def _check_duplicates(
    index: pd.Index,
    columns: pd.Index,
    *,
    path: Path,
    lines: np.ndarray | None,
    header_line: int | None,
    first_col: int,
) -> None:
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        pos = np.flatnonzero(np.asarray([v == dup for v in index]))
        where = (
            f"lines {', '.join(str(int(lines[p])) for p in pos)}"
            if lines is not None
            else f"rows {', '.join(str(int(p) + 1) for p in pos)}"
        )
        raise TableFormatError(
            f"duplicate row label {label_str(dup)!r} ({where})",
            Location(file=path, line=int(lines[pos[1]]) if lines is not None else None, product=label_str(dup)),
        )
    if columns.has_duplicates:
        dup = columns[columns.duplicated()][0]
        pos = np.flatnonzero(np.asarray([v == dup for v in columns]))
        raise TableFormatError(
            f"duplicate column label {label_str(dup)!r} (fields {', '.join(str(int(p) + first_col + 1) for p in pos)})",
            Location(file=path, line=header_line, column=label_str(dup)),
        )


def _read_parquet(path: Path, *, empty: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types
        raise TableFormatError(f"cannot read parquet file: {exc}", Location(file=path)) from exc
    if isinstance(frame.columns, pd.MultiIndex):
        cols = frame.columns
    else:
        cols = pd.Index([str(c) for c in frame.columns], dtype=object, name=frame.columns.name)
        frame.columns = cols
    if not isinstance(frame.index, pd.MultiIndex) and pd.api.types.is_string_dtype(frame.index.dtype):
        frame.index = pd.Index(frame.index.astype(object), dtype=object, name=frame.index.name)
    _check_duplicates(frame.index, frame.columns, path=path, lines=None, header_line=None, first_col=0)
    out = np.empty(frame.shape, dtype=np.float64)
    for k, name in enumerate(frame.columns):
        col = frame.iloc[:, k]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            num = pd.to_numeric(col, errors="coerce")
            bad = num.isna() & col.notna()
            if bad.any():
                r = int(np.flatnonzero(bad.to_numpy())[0])
                raise _fail(
                    _classify(str(col.iloc[r])), str(col.iloc[r]), file=path, line=None,
                    column=label_str(name), product=label_str(frame.index[r]), row_number=r + 1,
                )
            col = num
        arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
        nan = np.isnan(arr)
        if nan.any():
            if empty == "zero":
                arr = np.where(nan, 0.0, arr)
            elif empty == "error":
                r = int(np.flatnonzero(nan)[0])
                raise _fail("empty", "", file=path, line=None, column=label_str(name),
                            product=label_str(frame.index[r]), row_number=r + 1)
        inf = np.isinf(arr)
        if inf.any():
            r = int(np.flatnonzero(inf)[0])
            raise _fail("nonfinite", str(arr[r]), file=path, line=None, column=label_str(name),
                        product=label_str(frame.index[r]), row_number=r + 1)
        out[:, k] = arr
    result = pd.DataFrame(out, index=frame.index, columns=frame.columns)
    result.attrs["file"] = str(path)
    result.attrs["lines"] = None
    result.attrs["header_line"] = None
    return result

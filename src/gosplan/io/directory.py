"""gosplan's own on-disk format: an *economy directory*.

A directory holds ``economy.toml`` (metadata, and how the tables are laid out) and
long-form tables, each ``NAME.csv`` or ``NAME.parquet``:

* ``products``: ``product`` (label), optional ``recorded_output``, ``unit``, ``name``
  and any other metadata columns;
* ``technology``: ``input``, ``output``, ``coefficient`` (``A[input, output]``, units of
  input per unit of output), optional ``technique``;
* ``primary`` (optional): ``resource``, ``product``, ``coefficient`` (``P``; the resource
  named ``labour`` is labour, ``l``);
* ``demand`` (optional): ``product``, ``category``, ``quantity`` (``Y``; zero rows omitted).

Products are referred to by label (``keys = "label"``) or by 0-based row position in the
products table (``keys = "position"``, for 10^7 products and 10^8 coefficients).
The full specification, with a runnable example, is ``docs/economy-format.md``.

Reading is columnar (pyarrow), batch by batch into preallocated integer and float
arrays; the sparse matrices are built from those arrays without a Python loop per row.
"""

from __future__ import annotations

import csv
import re
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, NoReturn, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import scipy.sparse as sp

from gosplan.errors import (
    GosplanWarning,
    InvalidEconomyError,
    Location,
    TableFormatError,
    UnknownProductError,
)
from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["read_directory", "write_directory", "read_product_table", "FORMAT_VERSION"]

FORMAT_VERSION = 1
"""Version of the economy-directory format written by :func:`write_directory`."""

TABLES = ("products", "technology", "primary", "demand")
#: Optional tables of the chain of command (:mod:`gosplan.io.hierarchy_tables`).
HIERARCHY_TABLES = ("ministries", "enterprises", "norms", "distances")
FORMATS = ("csv", "parquet")
KEYS = ("label", "position")
LABOUR = "labour"

_BATCH_ROWS = 1 << 20  # Parquet rows per read batch
_CSV_BLOCK = 1 << 24  # bytes per CSV read block
ROW_GROUP = 1 << 20  # Parquet rows per row group written (fixed: files do not depend on chunking)
COMPRESSION = "zstd"

Format = Literal["csv", "parquet"]
Keys = Literal["label", "position"]


# ---------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class _Source:
    """One table file; turns 0-based data-row numbers into locations for messages."""

    path: Path
    kind: str  # "csv" | "parquet"

    def location(
        self, row: int | None = None, column: str | None = None, product: str | None = None
    ) -> Location:
        line = self.csv_line(row) if self.kind == "csv" and row is not None else None
        return Location(file=str(self.path), line=line, column=column, product=product)

    def prefix(self, row: int | None) -> str:
        """Parquet has no lines: name the 1-based row in the message instead."""
        return f"row {row + 1}: " if self.kind == "parquet" and row is not None else ""

    def where(self, row: int) -> str:
        """``line N`` (CSV) or ``row N`` (Parquet), for messages naming a second place."""
        return f"line {self.csv_line(row)}" if self.kind == "csv" else f"row {row + 1}"

    def csv_line(self, row: int) -> int | None:
        """1-based editor line of data row ``row`` (header is the first non-empty line).

        pyarrow skips empty lines, so does this count; quoted fields may span lines.
        Only called on error paths: it rescans the file.
        """
        with open(self.path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            index, previous = -1, 0
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if not record:
                    continue
                if index == row:
                    return start
                index += 1
        return None


def _fail(
    src: _Source,
    row: int | None,
    message: str,
    *,
    column: str | None = None,
    product: str | None = None,
    cls: type[InvalidEconomyError] = TableFormatError,
) -> NoReturn:
    raise cls(src.prefix(row) + message, src.location(row, column, product))


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


# ------------------------------------------------------------------------------- converters
class _Conv:
    """Turns one column of one batch (a pyarrow array) into a numpy array, checking it."""

    kind = "str"  # for CSV diagnosis: "str" | "float" | "int"
    csv_type: pa.DataType = pa.string()
    dtype: np.dtype | None = None  # None: keep a pyarrow array

    def __call__(self, src: _Source, column: str, arr: pa.Array, offset: int) -> Any:
        raise NotImplementedError

    @staticmethod
    def nulls(src: _Source, column: str, arr: pa.Array, offset: int) -> None:
        if arr.null_count:
            k = _first(arr.is_null().to_numpy(zero_copy_only=False))
            _fail(src, offset + k, f"missing value in column {column!r}", column=column)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _decoded(arr: pa.Array) -> pa.Array:
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def _bad_text(src: _Source, column: str, arr: pa.Array, offset: int, parse: Callable, what: str) -> NoReturn:
    for k, value in enumerate(arr.to_pylist()):
        if value is None:
            continue
        try:
            parse(value)
        except (TypeError, ValueError):
            _fail(src, offset + k, f"{value!r} in column {column!r} is not {what}", column=column)
    _fail(src, None, f"column {column!r} holds {arr.type}, expected {what}", column=column)


class _Float(_Conv):
    kind = "float"
    csv_type = pa.float64()
    dtype = np.dtype(np.float64)

    def __call__(self, src, column, arr, offset):
        arr = _decoded(arr)
        if not (pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type)):
            if not _is_text(arr.type):
                _fail(src, None, f"column {column!r} holds {arr.type}, expected numbers", column=column)
            try:
                arr = pc.cast(arr, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                _bad_text(src, column, arr, offset, float, "a number")
        self.nulls(src, column, arr, offset)
        return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


class _Position(_Conv):
    """Product key as a 0-based row position in the products table."""

    kind = "int"
    csv_type = pa.int64()
    dtype = np.dtype(np.int32)

    def __init__(self, n: int, labels: pa.Array):
        self.n, self.labels = n, labels

    def __call__(self, src, column, arr, offset):
        arr = _decoded(arr)
        if not pa.types.is_integer(arr.type):
            if _is_text(arr.type):
                try:
                    arr = pc.cast(arr, pa.int64())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    _bad_text(src, column, arr, offset, int, "an integer position")
            else:
                _fail(
                    src, None,
                    f'column {column!r} holds {arr.type}; keys = "position" needs integer positions',
                    column=column,
                )
        self.nulls(src, column, arr, offset)
        a = arr.to_numpy(zero_copy_only=False)
        if a.size and (a.min() < 0 or a.max() >= self.n):
            k = _first((a < 0) | (a >= self.n))
            _fail(
                src, offset + k,
                f"product position {int(a[k])} in column {column!r} is out of range "
                f"(the products table has {self.n} rows, positions 0..{self.n - 1})",
                column=column, cls=UnknownProductError,
            )
        return a.astype(np.int32, copy=False)


def _fixed_width(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of each string, zero-padded to ``width`` (``uint8``, ``len x width``),
    and the byte lengths; from Arrow's buffers, without Python objects."""
    arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    buffer = arr.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(1, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    out = np.zeros((len(arr), width), dtype=np.uint8)
    for k in range(width):
        has = lengths > k
        out[has, k] = data[starts[has] + k]
    return out, lengths


def _hash_rows(rows: np.ndarray) -> np.ndarray:
    """64-bit FNV-style hash of each row of a ``uint8`` matrix."""
    h = np.full(rows.shape[0], 14695981039346656037, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(rows.shape[1]):
            h ^= rows[:, k].astype(np.uint64)
            h *= np.uint64(1099511628211)
    return h


class _LabelIndex:
    """Label -> position lookups against the products table, hash table built once.

    Labels of up to 64 bytes: a sorted array of 64-bit hashes of the zero-padded bytes,
    searched with ``np.searchsorted`` and confirmed byte by byte (about 0.3 s per 10^6
    lookups into 10^7 labels). Longer labels, or a hash collision: pandas' index.
    """

    MAX_WIDTH = 64

    def __init__(self, labels: pa.Array, index: pd.Index):
        self.index = index
        self.width = int(pc.max(pc.binary_length(labels)).as_py() or 0)
        self.fast = 0 < self.width <= self.MAX_WIDTH
        if self.fast:
            self.bytes, self.lengths = _fixed_width(labels, self.width)
            h = _hash_rows(self.bytes)
            self.order = np.argsort(h, kind="stable")
            self.sorted = h[self.order]
            self.fast = not (self.sorted[1:] == self.sorted[:-1]).any()

    def positions(self, values: pa.Array) -> np.ndarray:
        """Positions of ``values`` (strings without nulls); -1 where unknown."""
        if not self.fast:
            return self.index.get_indexer(values.to_pandas())
        query, lengths = _fixed_width(values, self.width)
        h = _hash_rows(query)
        k = np.minimum(np.searchsorted(self.sorted, h), len(self.sorted) - 1)
        cand = self.order[k]
        ok = (self.sorted[k] == h) & (self.lengths[cand] == lengths)
        ok[ok] = (self.bytes[cand[ok]] == query[ok]).all(axis=1)
        return np.where(ok, cand, -1)


class _Label(_Conv):
    """Product key as a product label; looked up in the products table."""

    def __init__(self, lookup: _LabelIndex):
        self.lookup = lookup
        self.dtype = np.dtype(np.int32)

    def __call__(self, src, column, arr, offset):
        if pa.types.is_dictionary(arr.type):
            self.nulls(src, column, arr, offset)
            indices = arr.indices.to_numpy(zero_copy_only=False)
            lut = self._lookup(src, column, _text(arr.dictionary), offset, indices)
            return lut[indices]
        arr = _text(arr)
        self.nulls(src, column, arr, offset)
        return self._lookup(src, column, arr, offset, None)

    def _lookup(self, src, column, values, offset, indices) -> np.ndarray:
        pos = self.lookup.positions(values)
        if (pos < 0).any():
            k = _first(pos < 0)
            label = values[k].as_py()
            # plain values: row k; a dictionary: the first row using entry k
            row = offset + (k if indices is None else _first(indices == k))
            _fail(
                src, row, f"unknown product {label!r} in column {column!r}",
                column=column, product=label, cls=UnknownProductError,
            )
        return pos.astype(np.int32)


def _text(arr: pa.Array) -> pa.Array:
    return arr if _is_text(arr.type) else pc.cast(arr, pa.string())


class _Code(_Conv):
    """A small vocabulary (resource, category, technique) coded 0, 1, ... in order of
    first appearance, or in a declared order (``fixed``)."""

    dtype = np.dtype(np.int32)

    def __init__(self, what: str, declared: Sequence[str] | None = None):
        self.what = what
        self.fixed = declared is not None
        self.codes: dict[str, int] = {v: k for k, v in enumerate(declared or ())}

    @property
    def names(self) -> list[str]:
        return list(self.codes)

    def __call__(self, src, column, arr, offset):
        if not (_is_text(arr.type) or pa.types.is_dictionary(arr.type)):
            arr = pc.cast(arr, pa.string())
        self.nulls(src, column, arr, offset)
        enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        lut = np.empty(len(enc.dictionary), dtype=np.int32)
        for k, value in enumerate(enc.dictionary.to_pylist()):
            if value is None or str(value).strip() == "":
                _fail(src, offset + _first(idx == k), f"empty {self.what} in column {column!r}",
                      column=column)
            if value not in self.codes:
                if self.fixed:
                    _fail(
                        src, offset + _first(idx == k),
                        f"{self.what} {value!r} is not among those declared in economy.toml "
                        f"{list(self.codes)}",
                        column=column,
                    )
                self.codes[value] = len(self.codes)
            lut[k] = self.codes[value]
        return lut[idx]


class _Text(_Conv):
    """Keep strings (product labels) as a pyarrow array."""

    def __call__(self, src, column, arr, offset):
        arr = _decoded(arr)
        if not _is_text(arr.type):
            arr = pc.cast(arr, pa.string())
        self.nulls(src, column, arr, offset)
        return arr


class _OptText(_Conv):
    """Optional strings (product names, units): missing cells are allowed."""

    def __call__(self, src, column, arr, offset):
        arr = _decoded(arr)
        if not _is_text(arr.type):
            arr = pc.cast(arr, pa.string())
        return arr


def _texts(arr: pa.Array | None) -> pd.Series | None:
    """An optional text column as a pandas string array (None when absent)."""
    if arr is None:
        return None
    return arr.to_pandas(types_mapper=lambda t: pd.StringDtype() if _is_text(t) else None)


# ----------------------------------------------------------------------------- table reads
def _find(directory: Path, name: str, fmt: str, required: bool) -> _Source | None:
    path = directory / f"{name}.{fmt}"
    if path.is_file():
        return _Source(path, fmt)
    if required:
        other = [p.name for p in directory.glob(f"{name}.*")]
        hint = (
            f" (found {', '.join(sorted(other))}; [tables] format in economy.toml is {fmt!r})"
            if other
            else ""
        )
        raise TableFormatError(f"missing table {path.name}{hint}", Location(file=str(path)))
    return None


def _read_table(
    src: _Source, convs: Mapping[str, _Conv], required: Sequence[str]
) -> dict[str, Any]:
    """Read the columns named in ``convs`` (those in ``required`` must exist)."""
    reader = _read_parquet if src.kind == "parquet" else _read_csv
    return reader(src, convs, required)


def _check_columns(src: _Source, names: Sequence[str], required: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            _fail(src, None, f"duplicate column {name!r}", column=name)
        seen.add(name)
    missing = [c for c in required if c not in seen]
    if missing:
        _fail(
            src, None,
            f"missing column {missing[0]!r} (the table has columns {list(names)}; "
            f"it needs {list(required)})",
            column=missing[0],
        )


def _assemble(parts: list, conv: _Conv) -> Any:
    if conv.dtype is None:
        return pa.chunked_array(parts, type=parts[0].type if parts else pa.string()).combine_chunks()
    if not parts:
        return np.empty(0, dtype=conv.dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _read_parquet(src: _Source, convs: Mapping[str, _Conv], required: Sequence[str]) -> dict[str, Any]:
    try:
        pf = pq.ParquetFile(src.path, pre_buffer=False, buffer_size=1 << 22)
    except (pa.ArrowException, OSError) as exc:
        _fail(src, None, f"cannot read as Parquet: {exc}")
    names = pf.schema_arrow.names
    _check_columns(src, names, required)
    cols = [c for c in convs if c in names]
    rows = pf.metadata.num_rows
    out: dict[str, Any] = {
        c: (np.empty(rows, dtype=convs[c].dtype) if convs[c].dtype is not None else []) for c in cols
    }
    offset = 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=cols):
        k = batch.num_rows
        for c in cols:
            value = convs[c](src, c, batch.column(c), offset)
            if isinstance(out[c], list):
                out[c].append(value)
            else:
                out[c][offset : offset + k] = value
        offset += k
    return {c: (_assemble(v, convs[c]) if isinstance(v, list) else v) for c, v in out.items()}


def _csv_header(src: _Source) -> list[str]:
    with open(src.path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        for record in csv.reader(fh):
            if record:
                return record
    _fail(src, None, "empty file: no header line")


def _read_csv(src: _Source, convs: Mapping[str, _Conv], required: Sequence[str]) -> dict[str, Any]:
    header = _csv_header(src)
    _check_columns(src, header, required)
    cols = [c for c in convs if c in header]
    options = pcsv.ConvertOptions(
        column_types={c: convs[c].csv_type for c in cols},
        include_columns=cols,
        null_values=[""],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    parts: dict[str, list] = {c: [] for c in cols}
    offset = 0
    try:
        reader = pcsv.open_csv(
            src.path, read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK), convert_options=options
        )
        for batch in reader:
            for c in cols:
                parts[c].append(convs[c](src, c, batch.column(c), offset))
            offset += batch.num_rows
    except pa.ArrowInvalid as exc:
        _diagnose_csv(src, header, {c: convs[c].kind for c in cols}, exc)
    return {c: _assemble(parts[c], convs[c]) for c in cols}


def _diagnose_csv(src: _Source, header: list[str], kinds: Mapping[str, str], exc: Exception) -> NoReturn:
    """pyarrow names no line in its CSV errors: rescan the file to find it."""
    where = {c: header.index(c) for c in kinds}
    with open(src.path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        seen_header, previous = False, 0
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record:
                continue
            if not seen_header:
                seen_header = True
                continue
            loc = Location(file=str(src.path), line=start)
            if len(record) != len(header):
                raise TableFormatError(
                    f"expected {len(header)} fields (as in the header), found {len(record)}", loc
                )
            for c, i in where.items():
                value, kind = record[i], kinds[c]
                cloc = Location(file=str(src.path), line=start, column=c)
                if kind in ("float", "int") and value == "":
                    raise TableFormatError(f"missing value in column {c!r}", cloc)
                if kind == "float" and not _parses(value, float):
                    raise TableFormatError(f"{value!r} in column {c!r} is not a number", cloc)
                if kind == "int" and not _parses(value, int):
                    raise TableFormatError(f"{value!r} in column {c!r} is not an integer position", cloc)
    raise TableFormatError(f"cannot read as CSV: {exc}", Location(file=str(src.path)))


def _parses(value: str, parse: Callable) -> bool:
    if "_" in value or value != value.strip():
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _check_finite(
    src: _Source, values: np.ndarray, column: str, product: Callable[[int], str] | None
) -> None:
    ok = np.isfinite(values)
    if not ok.all():
        k = _first(~ok)
        _fail(
            src, k, f"{column} is {values[k]}, not a finite number", column=column,
            product=product(k) if product is not None else None,
        )


def _duplicate_pairs(
    src: _Source, a: np.ndarray, b: np.ndarray, width: int, what: str, names: Callable[[int], tuple[str, str]]
) -> NoReturn | None:
    """Raise naming the first row that repeats an earlier (a, b) pair, if there is one."""
    keys = a.astype(np.int64) * width + b
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    dup = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    if dup.size == 0:
        return None
    later = order[dup + 1]
    j = int(np.argmin(later))
    row, first = int(later[j]), int(order[dup[j]])
    x, y = names(row)
    _fail(
        src, row,
        f"duplicate {what} ({x!r}, {y!r}): already on {src.where(first)}; "
        f"a pair may appear once (sum the rows if that was meant)",
        product=y,
    )


def _square_by_output(
    src: _Source, key: Callable[[], _Conv], n: int, label: Callable[[int], str]
) -> sp.csr_array | None:
    """``U`` from a Parquet technology table ordered by output (as gosplan writes it), in
    one pass: the rows are the compressed columns of ``U``; a transposition gives CSR.

    Peak memory: 12 bytes per row for the CSC arrays, then 12 more for the CSR copy.
    ``None`` when the table has a ``technique`` column, is not ordered by output, or
    repeats a pair (the general path then reads it again and names the fault).
    """
    try:
        pf = pq.ParquetFile(src.path, pre_buffer=False, buffer_size=1 << 22)
    except (pa.ArrowException, OSError) as exc:
        _fail(src, None, f"cannot read as Parquet: {exc}")
    names = pf.schema_arrow.names
    _check_columns(src, names, ["input", "output", "coefficient"])
    if "technique" in names:
        return None
    rows = pf.metadata.num_rows
    conv_in, conv_out, conv_coef = key(), key(), _Float()
    indices = np.empty(rows, dtype=np.int32)
    data = np.empty(rows, dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    offset, last = 0, 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=["input", "output", "coefficient"]):
        k = batch.num_rows
        out = conv_out(src, "output", batch.column("output"), offset)
        if k and (out[0] < last or (out[1:] < out[:-1]).any()):
            return None
        indices[offset : offset + k] = conv_in(src, "input", batch.column("input"), offset)
        coef = conv_coef(src, "coefficient", batch.column("coefficient"), offset)
        ok = np.isfinite(coef)
        if not ok.all():
            j = _first(~ok)
            _fail(src, offset + j, f"coefficient is {coef[j]}, not a finite number",
                  column="coefficient", product=label(out[j]))
        data[offset : offset + k] = coef
        if k:
            counts[out[0] : out[-1] + 1] += np.bincount(out - out[0])
            last = int(out[-1])
        offset += k
    indptr = np.zeros(n + 1, dtype=np.int32 if rows < 2**31 else np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts
    use = sp.csc_array((data, indices, indptr), shape=(n, n)).tocsr()
    del data, indices, indptr
    return use if use.has_canonical_format else None  # CSR from CSC is sorted: else repeats


# ----------------------------------------------------------------------------------- reading
def _load_toml(directory: Path) -> dict[str, Any]:
    path = directory / "economy.toml"
    if not directory.is_dir():
        raise TableFormatError(f"no such directory {str(directory)!r}", Location(file=str(directory)))
    if not path.is_file():
        raise TableFormatError(
            "missing economy.toml: an economy directory needs it (see docs/economy-format.md)",
            Location(file=str(path)),
        )
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise TableFormatError(
            f"invalid TOML: {exc}", Location(file=str(path), line=int(m.group(1)) if m else None)
        ) from None
    except UnicodeDecodeError as exc:
        raise TableFormatError(f"invalid TOML: not UTF-8 ({exc})", Location(file=str(path))) from None


_TOP_KEYS = {
    "format_version": int, "name": str, "year": int, "units": str, "labour_unit": str,
    "source": str, "licence": str, "notes": (str, list), "labour_resource": str,
    "tables": dict, "synthetic": dict, "resource_names": dict, "resource_units": dict,
}
_TABLE_KEYS = {"format": str, "keys": str, "resources": list, "categories": list}


def _settings(directory: Path) -> tuple[EconomyMeta, dict[str, Any], str]:
    doc = _load_toml(directory)
    path = str(directory / "economy.toml")

    def check(table: Mapping[str, Any], spec: Mapping[str, Any], section: str) -> None:
        for key, value in table.items():
            if key not in spec:
                if section == "" and isinstance(value, dict):
                    continue  # other sections: kept for people, ignored here
                warnings.warn(
                    f"{path}: unknown key {section}{key!r} ignored", GosplanWarning, stacklevel=4
                )
            elif not isinstance(value, spec[key]) or isinstance(value, bool):
                raise TableFormatError(
                    f"{section}{key} must be {_typename(spec[key])}, got {value!r}", Location(file=path)
                )

    check(doc, _TOP_KEYS, "")
    version = doc.get("format_version", FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise TableFormatError(
            f"format_version {version} is newer than this gosplan reads ({FORMAT_VERSION})",
            Location(file=path),
        )
    tables = doc.get("tables")
    if tables is None:
        raise TableFormatError(
            'missing [tables] section (format = "csv" or "parquet", keys = "label" or "position")',
            Location(file=path),
        )
    check(tables, _TABLE_KEYS, "tables.")
    for key, allowed in (("format", FORMATS), ("keys", KEYS)):
        if tables.get(key) not in allowed:
            raise TableFormatError(
                f"tables.{key} must be one of {list(allowed)}, got {tables.get(key)!r}", Location(file=path)
            )
    for key in ("resources", "categories"):
        values = tables.get(key)
        if values is not None and (
            not all(isinstance(v, str) and v for v in values) or len(set(values)) != len(values)
        ):
            raise TableFormatError(
                f"tables.{key} must list distinct non-empty names, got {values!r}", Location(file=path)
            )
    notes = doc.get("notes", ())
    notes = (notes,) if isinstance(notes, str) else tuple(str(v) for v in notes)
    for key in ("resource_names", "resource_units"):
        bad = {k: v for k, v in doc.get(key, {}).items() if not isinstance(v, str)}
        if bad:
            k, v = next(iter(bad.items()))
            raise TableFormatError(f"{key}.{k} must be a string, got {v!r}", Location(file=path))
    meta = EconomyMeta(
        name=doc.get("name", directory.resolve().name),
        year=doc.get("year"),
        units=doc.get("units", "units"),
        labour_unit=doc.get("labour_unit", "labour"),
        source=doc.get("source", ""),
        licence=doc.get("licence", ""),
        notes=notes,
        resource_names=doc.get("resource_names", {}),
        resource_units=doc.get("resource_units", {}),
    )
    return meta, tables, doc.get("labour_resource", LABOUR)


def _typename(t: Any) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a table"}
    return " or ".join(names[x] for x in t) if isinstance(t, tuple) else names[t]


def _read_products(src: _Source) -> tuple[pa.Array, pd.Index, np.ndarray | None]:
    labels, index, recorded, _ = _read_products_with_texts(src)
    return labels, index, recorded


def _read_products_with_texts(
    src: _Source,
) -> tuple[pa.Array, pd.Index, np.ndarray | None, dict[str, Any]]:
    cols = _read_table(
        src, {"product": _Text(), "recorded_output": _Float(), "name": _OptText(), "unit": _OptText()}, ["product"]
    )
    labels: pa.Array = cols["product"]
    if labels.type != pa.string() and len(labels) < 2**31 // 64:
        labels = labels.cast(pa.string())
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(labels)), 0)
    if pc.any(empty).as_py():
        _fail(src, _first(empty.to_numpy(zero_copy_only=False)), "empty product label", column="product")
    index = pd.Index(labels.to_pandas())  # pd.Index(pa.Array) copies: 3x slower, +0.8 GB at 10^7
    if index.has_duplicates:
        k = _first(index.duplicated())
        label = labels[k].as_py()
        first = _first(pc.equal(labels, label).to_numpy(zero_copy_only=False))
        _fail(
            src, k, f"duplicate product label {label!r} (first on {src.where(first)})",
            column="product", product=label,
        )
    recorded = cols.get("recorded_output")
    if recorded is not None:
        bad = ~np.isfinite(recorded) | (recorded < 0)
        if bad.any():
            k = _first(bad)
            _fail(
                src, k, f"recorded_output is {recorded[k]} (must be finite and >= 0)",
                column="recorded_output", product=labels[k].as_py(),
            )
    return labels, index, recorded, {"name": _texts(cols.get("name")), "unit": _texts(cols.get("unit"))}


def read_product_table(path: str | Path) -> pd.DataFrame:
    """The products table of an economy directory, every column, as a DataFrame.

    :func:`read_directory` keeps the labels, ``recorded_output``, ``name``
    (:attr:`Economy.names`) and ``unit`` (:attr:`Economy.product_units`); every other
    metadata column is here.
    """
    directory = Path(path)
    _, tables, _ = _settings(directory)
    src = _find(directory, "products", tables["format"], True)
    assert src is not None
    if src.kind == "parquet":
        return pq.read_table(src.path).to_pandas()
    return pd.read_csv(src.path, dtype={"product": str}, keep_default_na=False, na_values=[""])


def read_directory(path: str | Path) -> Economy:
    """Read an economy directory (``economy.toml`` + CSV or Parquet tables).

    Parameters
    ----------
    path:
        The directory.

    Returns
    -------
    Economy
        Square (``make=None``, ``A = U``) unless the technology table has a
        ``technique`` column giving some product several techniques; then ``use`` ``U``,
        ``make`` ``O`` (one output per technique) and activities ``"product/technique"``.
        With the hierarchy of the ``ministries``, ``enterprises``, ``norms`` and
        ``distances`` tables when there are any (:mod:`gosplan.io.hierarchy_tables`).

    Raises
    ------
    TableFormatError
        Missing ``economy.toml``, bad TOML, missing table or column, text, ``NaN`` or
        ``inf`` in a numeric cell, duplicate product labels, duplicate
        ``(input, output)``, ``(resource, product)`` or ``(product, category)`` pairs.
        Messages name the file, the line (CSV, 1-based as an editor shows it; Parquet:
        the 1-based row), the column and the product.
    UnknownProductError
        A table names a product label absent from the products table, or a position
        out of range.
    """
    directory = Path(path)
    meta, tables, labour_name = _settings(directory)
    fmt, keys = tables["format"], tables["keys"]
    products_src = _find(directory, "products", fmt, True)
    technology_src = _find(directory, "technology", fmt, True)
    primary_src = _find(directory, "primary", fmt, False)
    demand_src = _find(directory, "demand", fmt, False)
    assert products_src is not None and technology_src is not None

    labels, index, recorded, texts = _read_products_with_texts(products_src)
    n = len(labels)

    def key() -> _Conv:
        return _Position(n, labels) if keys == "position" else _Label(lookup())

    lookups: list[_LabelIndex] = []

    def lookup() -> _LabelIndex:
        if not lookups:
            lookups.append(_LabelIndex(labels, index))
        return lookups[0]

    def label(k: int) -> str:
        return str(labels[int(k)].as_py())

    # technology --------------------------------------------------------------------
    techniques = _Code("technique")
    use = _square_by_output(technology_src, key, n, label) if technology_src.kind == "parquet" else None
    if use is None:  # CSV, techniques, or rows not ordered by output
        tech = _read_table(
            technology_src,
            {"input": key(), "output": key(), "coefficient": _Float(), "technique": techniques},
            ["input", "output", "coefficient"],
        )
        inp, out, coef = tech["input"], tech["output"], tech["coefficient"]
        _check_finite(technology_src, coef, "coefficient", lambda k: label(out[k]))
    has_techniques = use is None and "technique" in tech

    # primary -----------------------------------------------------------------------
    resources = _Code("resource", tables.get("resources"))
    prim: dict[str, Any] = {}
    if primary_src is not None:
        prim = _read_table(
            primary_src,
            {"resource": resources, "product": key(), "coefficient": _Float(), "technique": techniques},
            ["resource", "product", "coefficient"],
        )
        _check_finite(primary_src, prim["coefficient"], "coefficient", lambda k: label(prim["product"][k]))
        if has_techniques != ("technique" in prim):
            _fail(
                primary_src, None,
                "technology and primary must both have a technique column or both lack it",
                column="technique",
            )

    # activities --------------------------------------------------------------------
    make = activities = None
    act_out = act_prim = None
    if has_techniques:
        n_tech = max(len(techniques.codes), 1)
        keys_t = out.astype(np.int64) * n_tech + tech["technique"]
        keys_p = (
            prim["product"].astype(np.int64) * n_tech + prim["technique"] if prim else np.empty(0, np.int64)
        )
        codes, uniques = pd.factorize(np.concatenate([keys_t, keys_p]))
        act_product, act_tech = uniques // n_tech, uniques % n_tech
        if len(uniques) == n and np.unique(act_product).size == n:
            has_techniques = False  # one technique per product: the square case
        else:
            m = len(uniques)
            names = techniques.names
            activities = pd.Index(
                [f"{label(p)}/{names[t]}" for p, t in zip(act_product, act_tech)], dtype=object
            )
            make = sp.coo_array(
                (np.ones(m), (act_product.astype(np.int32), np.arange(m, dtype=np.int32))), shape=(n, m)
            ).tocsr()
            act_out, act_prim = codes[: len(keys_t)].astype(np.int32), codes[len(keys_t) :].astype(np.int32)
    m = n if make is None else make.shape[1]
    if use is None:
        col = out if act_out is None else act_out
        use = sp.coo_array((coef, (inp, col)), shape=(n, m)).tocsr()
        if use.nnz != coef.size:
            _duplicate_pairs(
                technology_src, inp, col, m,
                "(input, output) pair" if make is None else "(input, activity) pair",
                lambda k: (label(inp[k]), label(out[k]) if make is None else str(activities[col[k]])),
            )
        del tech, inp, out, coef, col
    pa.default_memory_pool().release_unused()

    # primary matrix ----------------------------------------------------------------
    if prim:
        pcol = prim["product"] if act_prim is None else act_prim
        r_codes = prim["resource"]
        names = resources.names
        if not resources.fixed:  # labour first, then in order of first appearance
            order = sorted(range(len(names)), key=lambda k: (names[k] != labour_name, k))
            lut = np.empty(len(names), dtype=np.int32)
            lut[order] = np.arange(len(names), dtype=np.int32)
            r_codes, names = lut[r_codes], [names[k] for k in order]
        P = sp.coo_array((prim["coefficient"], (r_codes, pcol)), shape=(len(names), m)).tocsr()
        if P.nnz != r_codes.size:
            _duplicate_pairs(
                primary_src, r_codes, pcol, m, "(resource, product) pair",  # type: ignore[arg-type]
                lambda k: (names[r_codes[k]], label(prim["product"][k])),
            )
        del prim
    else:
        names = list(tables.get("resources") or ())
        P = sp.csr_array((len(names), m))

    # demand ------------------------------------------------------------------------
    categories = _Code("final-demand category", tables.get("categories"))
    if demand_src is not None:
        dem = _read_table(
            demand_src,
            {"product": key(), "category": categories, "quantity": _Float()},
            ["product", "category", "quantity"],
        )
        pos, cat, qty = dem["product"], dem["category"], dem["quantity"]
        _check_finite(demand_src, qty, "quantity", lambda k: label(pos[k]))
        c = len(categories.codes)
        keys_d = pos.astype(np.int64) * max(c, 1) + cat
        if keys_d.size > 1 and not (np.diff(keys_d) > 0).all():
            _duplicate_pairs(
                demand_src, pos, cat, max(c, 1), "(product, category) pair",
                lambda k: (label(pos[k]), categories.names[cat[k]]),
            )
        Y = np.zeros((n, c))
        Y[pos, cat] = qty
        del dem, pos, cat, qty, keys_d
    else:
        Y = np.zeros((n, len(categories.codes)))

    # the chain of command (optional tables) ------------------------------------------
    from gosplan.io.hierarchy_tables import read_hierarchy_tables

    hierarchy = read_hierarchy_tables(directory, index, names, fmt=fmt, key=key, lookup=lookup)

    return Economy(
        products=index,
        use=use,
        make=make,
        activities=activities,
        primary=P,
        resources=pd.Index(names, dtype=object),
        demand=Y,
        categories=pd.Index(categories.names, dtype=object),
        recorded_output=recorded,
        labour=labour_name if labour_name in names else None,
        meta=meta,
        hierarchy=hierarchy,
        names=None if texts["name"] is None else texts["name"].to_numpy(),
        product_units=None if texts["unit"] is None else texts["unit"].to_numpy(),
    )


# ----------------------------------------------------------------------------------- writing
class TableSink:
    """Write one table in chunks, CSV or Parquet.

    Parquet row groups hold a fixed number of rows (:data:`ROW_GROUP`) whatever the
    chunks, so the bytes written do not depend on how the caller chunked its data.
    """

    def __init__(self, path: Path, fmt: str, schema: pa.Schema, *, quote: bool = True):
        self.path, self.fmt, self.schema = path, fmt, schema
        self.rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        if fmt == "parquet":
            self._writer: Any = pq.ParquetWriter(path, schema, compression=COMPRESSION)
        else:
            # the header is written here, unquoted (pyarrow quotes it); column names are plain
            self._file = open(path, "wb")
            self._file.write((",".join(schema.names) + "\n").encode())
            self._writer = pcsv.CSVWriter(
                self._file,
                schema,
                write_options=pcsv.WriteOptions(
                    include_header=False, quoting_style="needed" if quote else "none"
                ),
            )

    def write(self, columns: Mapping[str, Any]) -> None:
        table = pa.table(dict(columns), schema=self.schema)
        self.rows += table.num_rows
        if self.fmt == "csv":
            self._writer.write_table(table)
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self._pending_rows:
            return
        table = pa.concat_tables(self._pending)
        start = 0
        while table.num_rows - start >= ROW_GROUP or (final and start < table.num_rows):
            piece = table.slice(start, ROW_GROUP)
            self._writer.write_table(piece, row_group_size=ROW_GROUP)
            start += piece.num_rows
        rest = table.slice(start)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> None:
        if self.fmt == "parquet":
            self._flush(final=True)
        self._writer.close()
        if self.fmt == "csv":
            self._file.close()


def key_type(keys: str) -> pa.DataType:
    return pa.int32() if keys == "position" else pa.string()


def table_schema(
    name: str, keys: str, *, techniques: bool = False, extra: Mapping[str, pa.DataType] | None = None
) -> pa.Schema:
    """Arrow schema of table ``name`` as :func:`write_directory` writes it."""
    k = key_type(keys)
    fields: list[tuple[str, pa.DataType]] = {
        "products": [("product", pa.string())],
        "technology": [("input", k), ("output", k)]
        + ([("technique", pa.string())] if techniques else [])
        + [("coefficient", pa.float64())],
        "primary": [("resource", pa.string()), ("product", k)]
        + ([("technique", pa.string())] if techniques else [])
        + [("coefficient", pa.float64())],
        "demand": [("product", k), ("category", pa.string()), ("quantity", pa.float64())],
    }[name]
    return pa.schema(fields + list((extra or {}).items()))


def toml_document(
    meta: EconomyMeta,
    *,
    fmt: str,
    keys: str,
    resources: Sequence[str],
    categories: Sequence[str],
    labour: str | None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Text of ``economy.toml``."""
    import tomli_w

    doc: dict[str, Any] = {"format_version": FORMAT_VERSION, "name": meta.name}
    if meta.year is not None:
        doc["year"] = int(meta.year)
    doc.update(units=meta.units, labour_unit=meta.labour_unit, source=meta.source, licence=meta.licence)
    doc["notes"] = list(meta.notes)
    if labour is not None and labour != LABOUR:
        doc["labour_resource"] = labour
    doc["tables"] = {
        "format": fmt,
        "keys": keys,
        "resources": [str(r) for r in resources],
        "categories": [str(c) for c in categories],
    }
    for key in ("resource_names", "resource_units"):
        wanted = {str(r) for r in resources}
        texts = {k: v for k, v in getattr(meta, key).items() if k in wanted}
        if texts:
            doc[key] = texts
    if extra:
        doc.update(extra)
    return tomli_w.dumps(doc)


def prepare_directory(path: Path, overwrite: bool) -> None:
    """Create ``path``; refuse to clobber an economy there unless ``overwrite``, and then
    remove only the files of this format."""
    path.mkdir(parents=True, exist_ok=True)
    ours = [path / "economy.toml"] + [path / f"{t}.{f}" for t in TABLES + HIERARCHY_TABLES for f in FORMATS]
    present = [p for p in ours if p.exists()]
    if present and not overwrite:
        raise FileExistsError(
            f"{path} already holds an economy ({present[0].name}); pass overwrite=True to replace it"
        )
    for p in present:
        p.unlink()


def _labels(index: pd.Index) -> pa.Array:
    if isinstance(index, pd.MultiIndex):
        return pa.array(["/".join(map(str, t)) for t in index], type=pa.string())
    if pd.api.types.is_string_dtype(index.dtype) and not pd.api.types.is_object_dtype(index.dtype):
        return pa.array(index.array).cast(pa.string())
    return pa.array([str(v) for v in index], type=pa.string())


def needs_quotes(*texts: pa.Array | Sequence[str]) -> bool:
    """Whether any text holds a comma, quote or line break (else CSV is written unquoted)."""
    for t in texts:
        arr = t if isinstance(t, pa.Array) else pa.array(list(t), type=pa.string())
        if len(arr) and pc.any(pc.match_substring_regex(arr, '[,"\\r\\n]')).as_py():
            return True
    return False


def _chunks(indptr: np.ndarray, target: int = 1 << 22) -> list[tuple[int, int]]:
    """Column ranges of a compressed matrix holding about ``target`` entries each."""
    m = len(indptr) - 1
    bounds = np.searchsorted(indptr, np.arange(0, int(indptr[-1]) + target, target), side="left")
    bounds = np.unique(np.concatenate([[0], np.clip(bounds, 0, m), [m]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def write_directory(
    economy: Economy,
    path: str | Path,
    *,
    format: Format = "csv",
    keys: Keys = "label",
    overwrite: bool = False,
) -> Path:
    """Write ``economy`` as an economy directory (see ``docs/economy-format.md``), with the
    hierarchy tables when it has a hierarchy (:mod:`gosplan.io.hierarchy_tables`).

    Parameters
    ----------
    economy:
        Square, or with one-output techniques (each column of ``make`` ``O`` has one
        nonzero; coefficients are written per unit of that output).
    path:
        Directory to create (parents too).
    format:
        ``"csv"`` or ``"parquet"`` for every table.
    keys:
        ``"label"``: tables name products by label; ``"position"``: by 0-based row in
        the products table (fast at 10^7 products).
    overwrite:
        Replace an economy already in ``path`` (only its own files are removed).

    Returns
    -------
    Path
        The directory.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if keys not in KEYS:
        raise ValueError(f"keys must be one of {KEYS}, got {keys!r}")
    directory = Path(path)
    n = economy.n_products
    labels = _labels(economy.products)

    # per activity: its product and the scale of its output
    U, P = economy.use, economy.primary
    techniques = economy.make is not None
    if techniques:
        O = sp.csc_array(economy.make)
        O.sum_duplicates()
        counts = np.diff(O.indptr)
        if (counts != 1).any():
            j = _first(counts != 1)
            raise InvalidEconomyError(
                f"activity {economy.activities[j]!r} has {counts[j]} outputs; the directory format "
                "holds one-output techniques only",
                Location(product=str(economy.activities[j])),
            )
        act_product = O.indices.astype(np.int32)
        scale = sp.diags_array(1.0 / O.data)
        U, P = sp.csr_array(U @ scale), sp.csr_array(P @ scale)
        act_labels = [str(a) for a in economy.activities]
        prod_labels = [str(economy.products[p]) for p in act_product]
        tech_names = pa.array(
            [a[len(p) + 1 :] if a.startswith(p + "/") else a for a, p in zip(act_labels, prod_labels)],
            type=pa.string(),
        )
    else:
        act_product = np.arange(n, dtype=np.int32)

    def keyed(positions: np.ndarray) -> pa.Array:
        positions = np.asarray(positions, dtype=np.int32)
        return pa.array(positions) if keys == "position" else labels.take(pa.array(positions))

    resources = [str(r) for r in economy.resources]
    categories = [str(c) for c in economy.categories]
    quote = needs_quotes(labels, resources, categories, *([tech_names] if techniques else []))
    prepare_directory(directory, overwrite)

    # products
    extra = {"recorded_output": pa.float64()} if economy.recorded_output is not None else {}
    columns: dict[str, Any] = {"product": labels}
    products_quote = quote  # names hold commas: quoting them leaves the other tables unquoted
    if economy.recorded_output is not None:
        columns["recorded_output"] = economy.recorded_output
    for column, texts in (("name", economy.names), ("unit", economy.product_units)):
        if texts is not None:
            extra[column] = pa.string()
            columns[column] = pa.array(texts.to_numpy(dtype=object, na_value=None), type=pa.string())
            products_quote = products_quote or needs_quotes(columns[column].fill_null(""))
    sink = TableSink(
        directory / f"products.{format}", format, table_schema("products", keys, extra=extra),
        quote=products_quote,
    )
    sink.write(columns)
    sink.close()

    # technology, by output (activity) then input
    C = sp.csc_array(U)
    C.sum_duplicates()
    sink = TableSink(
        directory / f"technology.{format}",
        format,
        table_schema("technology", keys, techniques=techniques),
        quote=quote,
    )
    for a, b in _chunks(C.indptr):
        lo, hi = int(C.indptr[a]), int(C.indptr[b])
        act = np.repeat(np.arange(a, b, dtype=np.int32), np.diff(C.indptr[a : b + 1]))
        columns = {"input": keyed(C.indices[lo:hi]), "output": keyed(act_product[act])}
        if techniques:
            columns["technique"] = tech_names.take(pa.array(act))
        columns["coefficient"] = C.data[lo:hi]
        sink.write(columns)
    sink.close()
    del C

    # primary, by resource then activity
    if len(resources):
        R = sp.csr_array(P)
        R.sum_duplicates()
        sink = TableSink(
            directory / f"primary.{format}",
            format,
            table_schema("primary", keys, techniques=techniques),
            quote=quote,
        )
        names = pa.array(resources, type=pa.string())
        for r in range(R.shape[0]):
            lo, hi = int(R.indptr[r]), int(R.indptr[r + 1])
            for s in range(lo, max(hi, lo + 1), 1 << 22):
                e = min(s + (1 << 22), hi)
                act = R.indices[s:e]
                columns = {"resource": names.take(pa.array(np.full(e - s, r, dtype=np.int32))),
                           "product": keyed(act_product[act])}
                if techniques:
                    columns["technique"] = tech_names.take(pa.array(act))
                columns["coefficient"] = R.data[s:e]
                sink.write(columns)
        sink.close()

    # demand, by product then category
    if len(categories):
        sink = TableSink(
            directory / f"demand.{format}", format, table_schema("demand", keys), quote=quote
        )
        cats = pa.array(categories, type=pa.string())
        step = max(1, (1 << 22) // max(len(categories), 1))
        for s in range(0, n, step):
            block = economy.demand[s : s + step]
            rows, cols = np.nonzero(block)
            sink.write(
                {"product": keyed(rows + s), "category": cats.take(pa.array(cols.astype(np.int32))),
                 "quantity": block[rows, cols]}
            )
        sink.close()

    (directory / "economy.toml").write_text(
        toml_document(
            economy.meta, fmt=format, keys=keys, resources=resources, categories=categories,
            labour=economy.labour,
        ),
        encoding="utf-8",
    )
    if economy.hierarchy is not None:  # ministries, enterprises, norms, distances
        from gosplan.io.hierarchy_tables import write_hierarchy_tables

        write_hierarchy_tables(economy, directory)
    return directory

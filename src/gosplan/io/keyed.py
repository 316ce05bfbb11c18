"""Two-column ``key,value`` tables: demand, targets, priorities, resources, capacities, weights.

Every such file is a CSV (or TSV, or Parquet) with a fixed header, e.g.
``product,quantity`` or ``resource,available``, and one row per key. Every problem
is reported with the file, the 1-based line (as an editor shows it) and the key:
text, a decimal comma, ``NaN`` or ``inf`` in a value, an empty cell, a duplicate
key, a key the economy does not have, a negative value where none is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from gosplan.errors import InvalidEconomyError, Location, TableFormatError, UnknownProductError
from gosplan.io.tables import read_table

__all__ = ["read_keyed", "align_keyed"]


def _parquet(path: Path, header: tuple[str, str]) -> pd.Series:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types
        raise TableFormatError(f"cannot read parquet file: {exc}", Location(file=path)) from exc
    missing = [c for c in header if c not in frame.columns]
    if missing:
        raise TableFormatError(
            f"table lacks column(s) {missing}; expected columns {header[0]!r} and {header[1]!r}",
            Location(file=path),
        )
    labels = frame[header[0]].astype(str)
    raw = frame[header[1]]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise TableFormatError(
            f"{header[1]} {raw.iloc[r]!r} (row {r + 1}) is not a finite number",
            Location(file=path, column=header[1], product=labels.iloc[r]),
        )
    series = pd.Series(values, index=pd.Index(labels.to_numpy(), dtype=object))
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        rows = np.flatnonzero(series.index == dup) + 1
        raise TableFormatError(
            f"duplicate {header[0]} {dup!r} (rows {', '.join(map(str, rows))})",
            Location(file=path, product=dup),
        )
    return series


def read_keyed(
    path: str | Path,
    header: tuple[str, str],
    *,
    minimum: float | None = None,
    integer: bool = False,
    kind: str = "this file",
) -> pd.Series:
    """Read a ``key,value`` table with the given header into a Series ``{key: value}``.

    ``minimum`` rejects smaller values (e.g. ``0`` for quantities); ``integer``
    requires whole numbers (priority classes); ``kind`` names the file in messages
    ("a demand file"). ``series.attrs["file"]`` holds the
    path and ``series.attrs["lines"]`` the editor line of every row (``None`` for
    Parquet).

    Raises
    ------
    TableFormatError
        Missing file, another header, a bad, negative or fractional value, a
        duplicate key; the message names file, line and key.
    """
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        series, lines = _parquet(path, header), None
    else:
        frame = read_table(path, index_cols=1, header_rows=1)
        got = (str(frame.index.name or ""), *map(str, frame.columns))
        if got != tuple(header):
            raise TableFormatError(
                f"header is {','.join(got)!r}; {kind} starts with {','.join(header)!r}",
                Location(file=path, line=frame.attrs.get("header_line") or 1),
            )
        series = pd.Series(frame[header[1]].to_numpy(), index=frame.index.astype(str))
        lines = frame.attrs.get("lines")
    values = series.to_numpy(dtype=np.float64)
    checks = []
    if minimum is not None:
        checks.append((values < minimum, f"must be at least {minimum:g}"))
    if integer:
        checks.append((values != np.round(values), "must be a whole number"))
    for bad, why in checks:
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise TableFormatError(
                f"{header[1]} {values[k]:g} {why}",
                Location(
                    file=path,
                    line=None if lines is None else int(lines[k]),
                    column=header[1],
                    product=str(series.index[k]),
                    key=header[0],
                ),
            )
    series.attrs["file"] = str(path)
    series.attrs["lines"] = None if lines is None else np.asarray(lines)
    series.attrs["header"] = tuple(header)
    return series


def align_keyed(
    series: pd.Series,
    labels: pd.Index,
    *,
    what: str,
    owner: str,
    fill: float = 0.0,
) -> np.ndarray:
    """Values of ``series`` in the order of ``labels`` (``fill`` where not named).

    ``what`` names the kind of key ("product", "resource") and ``owner`` the economy
    in the message when the series names a key ``labels`` lacks; the error carries
    the file and line from ``series.attrs`` when the series came from
    :func:`read_keyed`.
    """
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        raise InvalidEconomyError(f"{what} {dup!r} named twice", Location(file=series.attrs.get("file"), product=str(dup)))
    keys = labels
    if not (pd.api.types.is_object_dtype(keys.dtype) or pd.api.types.is_string_dtype(keys.dtype)):
        keys = pd.Index([str(p) for p in keys], dtype=object)
    pos = keys.get_indexer(pd.Index([str(k) for k in series.index], dtype=object))
    unknown = np.flatnonzero(pos < 0)
    if unknown.size:
        k = int(unknown[0])
        lines: Sequence[int] | None = series.attrs.get("lines")
        more = f" ({unknown.size - 1} more unknown)" if unknown.size > 1 else ""
        cls = UnknownProductError if what == "product" else InvalidEconomyError
        raise cls(
            f"unknown {what}: {owner} has no such {what}{more}",
            Location(
                file=series.attrs.get("file"),
                line=None if lines is None else int(lines[k]),
                product=str(series.index[k]),
                key=what,
            ),
        )
    out = np.full(len(labels), fill, dtype=np.float64)
    out[pos] = series.to_numpy(dtype=np.float64)
    return out

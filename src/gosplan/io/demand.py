"""Final-demand files: ``product,quantity`` tables that replace an economy's own demand.

A demand file is a CSV (or TSV, or Parquet) with a header ``product,quantity`` and one
row per product named; products not named get zero demand::

    product,quantity
    bread,120
    coal,0.5

Every problem is reported with the file, the 1-based line (as an editor shows it) and
the product: text, a decimal comma, ``NaN`` or ``inf`` in a quantity, an empty cell, a
duplicate product, a product the economy does not have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gosplan.errors import Location, TableFormatError, UnknownProductError
from gosplan.io.tables import read_table
from gosplan.model.economy import Economy

__all__ = ["read_demand", "demand_from_file"]

HEADER = ("product", "quantity")


def _parquet(path: Path) -> tuple[pd.Series, None]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types
        raise TableFormatError(f"cannot read parquet file: {exc}", Location(file=path)) from exc
    missing = [c for c in HEADER if c not in frame.columns]
    if missing:
        raise TableFormatError(
            f"demand table lacks column(s) {missing}; expected columns 'product' and 'quantity'",
            Location(file=path),
        )
    labels = frame["product"].astype(str)
    raw = frame["quantity"]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise TableFormatError(
            f"quantity {raw.iloc[r]!r} (row {r + 1}) is not a finite number",
            Location(file=path, column="quantity", product=labels.iloc[r]),
        )
    series = pd.Series(values, index=pd.Index(labels.to_numpy(), dtype=object))
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        rows = np.flatnonzero(series.index == dup) + 1
        raise TableFormatError(
            f"duplicate product {dup!r} (rows {', '.join(map(str, rows))})",
            Location(file=path, product=dup),
        )
    return series, None


def read_demand(path: str | Path) -> pd.Series:
    """Read a demand file into a Series ``{product: quantity}``.

    ``series.attrs["file"]`` holds the path and ``series.attrs["lines"]`` the editor
    line of every row (``None`` for Parquet).

    Raises
    ------
    TableFormatError
        Missing file, a header other than ``product,quantity``, a bad quantity,
        a duplicate product; the message names file, line and product.
    """
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        series, lines = _parquet(path)
    else:
        frame = read_table(path, index_cols=1, header_rows=1)
        header = (str(frame.index.name or ""), *map(str, frame.columns))
        if header != HEADER:
            raise TableFormatError(
                f"header is {','.join(header)!r}; a demand file starts with 'product,quantity'",
                Location(file=path, line=frame.attrs.get("header_line") or 1),
            )
        series = pd.Series(frame["quantity"].to_numpy(), index=frame.index.astype(str))
        lines = frame.attrs.get("lines")
    series.attrs["file"] = str(path)
    series.attrs["lines"] = None if lines is None else np.asarray(lines)
    return series


def demand_from_file(economy: Economy, path: str | Path) -> np.ndarray:
    """Final demand ``y`` (in the economy's product order) from a demand file.

    Products the file does not name get zero.

    Raises
    ------
    TableFormatError
        See :func:`read_demand`.
    UnknownProductError
        The file names a product the economy does not have (file, line, product).
    """
    series = read_demand(path)
    products = economy.products
    if not (pd.api.types.is_object_dtype(products.dtype) or pd.api.types.is_string_dtype(products.dtype)):
        products = pd.Index([str(p) for p in products], dtype=object)
    pos = products.get_indexer(series.index)
    unknown = np.flatnonzero(pos < 0)
    if unknown.size:
        k = int(unknown[0])
        lines = series.attrs.get("lines")
        line = int(lines[k]) if lines is not None else None
        more = f" ({unknown.size - 1} more unknown)" if unknown.size > 1 else ""
        raise UnknownProductError(
            f"unknown product: economy {economy.meta.name!r} has no such product{more}",
            Location(file=path, line=line, product=str(series.index[k])),
        )
    y = np.zeros(economy.n_products)
    y[pos] = series.to_numpy(dtype=np.float64)
    return y

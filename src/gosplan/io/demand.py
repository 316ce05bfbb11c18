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

from gosplan.io.keyed import align_keyed, read_keyed
from gosplan.model.economy import Economy

__all__ = ["read_demand", "demand_from_file"]

HEADER = ("product", "quantity")


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
    return read_keyed(path, HEADER, kind="a demand file")


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
    return align_keyed(series, economy.products, what="product", owner=f"economy {economy.meta.name!r}")

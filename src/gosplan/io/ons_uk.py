"""UK ONS input-output analytical tables, in the layout Cockshott prepared (``domesticiot.csv``).

The domestic use table, products x products, £ million, basic prices::

    Product, <129 products>, Total Intermediate Demand, Households, PublicSector,
        Non-Profit Institutions Serving Households, Central Government, Local Authorities,
        Gross Fixed Capital Formation, Valuables, Changes in Inventories,
        Exports of Goods - EU, ... Exports of Services - Non EU, Total Exports,
        Total Demand for Products at Basic Prices
    <129 product rows>
    Total Consumption                      (column sums of Z: intermediate inputs)
    Imports of goods and services          |
    Taxes less subsidies on products       |  primary inputs (resources)
    Taxes less subsidies on production     |
    labour                                 |  (compensation of employees)
    Gross operating surplus                |
    Output                                 (gross output x)

``Z`` is the product block, ``x`` the ``Output`` row, primary inputs the rows between
``Total Consumption`` and ``Output`` (``labour`` first). Final demand ``Y`` keeps the
component categories only: totals and subtotals (``Total Intermediate Demand``,
``PublicSector`` = central government + local authorities + NPISH, ``Total Exports``,
``Total Demand ...``, ``Total Consumption``) are never used as data; the reader
checks them against their parts and reports mismatches beyond rounding with a
:class:`~gosplan.errors.DataQualityWarning` naming the line and column.

Defects of the 2015 file (``wc22m/ukgreen``), found and handled explicitly:

* line 79, ``Owner-Occupiers' Housing``: ``Total Demand ...`` is empty and
  ``Total Exports`` holds the row's total demand (194407, equal to its output) while
  its export cells sum to 453: the two total cells are shifted by one. Totals are not
  used, so the row's data are intact; a warning says so.
* labels carry trailing spaces (``"Forestry And Logging "``): stripped.
* a row shorter than the header (say a ``labour`` row without final-demand cells) is
  read with its missing cells empty (a warning names the line); an empty cell where
  data are needed (products x products and categories, primary rows x products,
  ``Output``) is an error.
* imports and product taxes bought directly by final demand (the primary rows in the
  final-demand columns) have no place in a square economy of domestic products and are
  left out (noted in ``meta.notes``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gosplan.errors import DataQualityWarning, Location, TableFormatError
from gosplan.io.flows import economy_from_flows
from gosplan.io.tables import find_table, read_table, row_line
from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["read_uk_ons"]

INTERMEDIATE_TOTAL_COL = "Total Intermediate Demand"
INTERMEDIATE_TOTAL_ROW = "Total Consumption"
OUTPUT_ROW = "Output"
LABOUR_ROW = "labour"
TOTAL_DEMAND_COL = "Total Demand for Products at Basic Prices"
#: subtotal column -> its parts
SUBTOTALS: dict[str, tuple[str, ...]] = {
    "PublicSector": ("Central Government", "Local Authorities", "Non-Profit Institutions Serving Households"),
    "Total Exports": (
        "Exports of Goods - EU",
        "Exports of Goods - Non EU",
        "Exports of Services - EU",
        "Exports of Services - Non EU",
    ),
}


def _find_label(labels: pd.Index, wanted: str, what: str, file: Path, line: int | None) -> int:
    matches = [k for k, v in enumerate(labels) if str(v).strip().lower() == wanted.lower()]
    if not matches:
        raise TableFormatError(f"{what} {wanted!r} not found", Location(file=file, line=line))
    return matches[0]


def read_uk_ons(
    path: str | Path,
    *,
    decimal_comma: bool = False,
    meta: EconomyMeta | None = None,
    allow_negative_value_added: bool = False,
) -> Economy:
    """Read the UK domestic use table (``domesticiot.csv``) into a square economy.

    Parameters
    ----------
    path:
        The directory holding ``domesticiot.csv`` (or ``.csv.gz``), or the file.
    decimal_comma:
        Accept numbers written with a decimal comma (``"0,5"``), reported with a
        :class:`DataQualityWarning`; by default such a cell is an error.
    meta:
        Metadata; by default "UK ONS 2015 domestic use", £ million.
    allow_negative_value_added:
        Accept products whose inputs exceed their output (a
        :class:`~gosplan.errors.DataQualityWarning` names them) instead of refusing
        the table.

    Returns
    -------
    Economy
        129 products, labelled (and named, :attr:`Economy.names`) by the ONS product
        names; resources ``labour`` (compensation of employees, £ million),
        imports, taxes on products, taxes on production, gross operating surplus;
        11 final-demand categories; ``recorded_output`` = the ``Output`` row.
    """
    p = Path(path)
    file = find_table(p, "domesticiot") if p.is_dir() else p
    assert file is not None
    # totals may be empty, rows may stop early (a value-added row without final-demand
    # cells): both are read as empty cells and allowed only where no data are needed
    table = read_table(file, empty="nan", decimal_comma=decimal_comma, ragged="pad")
    header_line = table.attrs["header_line"]
    cols = table.columns
    rows = table.index
    n_col = _find_label(cols, INTERMEDIATE_TOTAL_COL, "column", file, header_line)
    n_row = _find_label(rows, INTERMEDIATE_TOTAL_ROW, "row", file, None)
    out_row = _find_label(rows, OUTPUT_ROW, "row", file, None)
    if out_row <= n_row:
        raise TableFormatError(
            f"row {OUTPUT_ROW!r} must follow {INTERMEDIATE_TOTAL_ROW!r}",
            Location(file=file, line=row_line(table, out_row)),
        )
    if n_row != n_col:
        raise TableFormatError(
            f"{n_row} product rows (before {INTERMEDIATE_TOTAL_ROW!r}) but {n_col} product columns "
            f"(before {INTERMEDIATE_TOTAL_COL!r})",
            Location(file=file, line=row_line(table, n_row)),
        )
    primary_rows = rows[n_row + 1 : out_row]
    if LABOUR_ROW not in primary_rows:
        raise TableFormatError(
            f"no {LABOUR_ROW!r} row between {INTERMEDIATE_TOTAL_ROW!r} and {OUTPUT_ROW!r}",
            Location(file=file, product=LABOUR_ROW),
        )
    fd_all = list(cols[n_col + 1 :])
    totals = {TOTAL_DEMAND_COL} | set(SUBTOTALS)
    categories = [c for c in fd_all if c not in totals and not str(c).lower().startswith("total")]
    values = table.to_numpy()

    # ---- data cells must be present: products x (products + categories), primary rows, output
    data_cols = list(range(n_col)) + [cols.get_loc(c) for c in categories]
    data_rows = list(range(n_row)) + list(range(n_row + 1, out_row + 1))
    for r in data_rows:
        cs = data_cols if r < n_row else list(range(n_col))
        bad = np.flatnonzero(np.isnan(values[r, cs]))
        if bad.size:
            c = cs[int(bad[0])]
            raise TableFormatError(
                "empty cell: a number is required",
                Location(file=file, line=row_line(table, r), column=str(cols[c]), product=str(rows[r])),
            )

    # ---- totals: checks only
    Zv = values[:n_row, :n_col]
    cat_idx = [cols.get_loc(c) for c in categories]
    problems: list[str] = []

    def check(r: int, label: str, expected: float, ncells: int) -> None:
        c = cols.get_loc(label)
        got = values[r, c]
        if np.isnan(got):
            problems.append(f"line {row_line(table, r)} ({rows[r]!r}), column {label!r}: empty (expected {expected:.10g})")
        elif abs(got - expected) > 0.5 * (ncells + 1):
            problems.append(
                f"line {row_line(table, r)} ({rows[r]!r}), column {label!r}: {got:.10g}, its parts sum to {expected:.10g}"
            )

    for r in range(n_row):
        check(r, INTERMEDIATE_TOTAL_COL, Zv[r].sum(), n_col)
        for sub, parts in SUBTOTALS.items():
            if sub in cols and all(pt in cols for pt in parts):
                check(r, sub, sum(values[r, cols.get_loc(pt)] for pt in parts), len(parts))
        if TOTAL_DEMAND_COL in cols:
            check(r, TOTAL_DEMAND_COL, Zv[r].sum() + values[r, cat_idx].sum(), n_col + len(cat_idx))
    inputs = Zv.sum(axis=0)
    tc = values[n_row, :n_col]
    x = values[out_row, :n_col]
    prim = values[n_row + 1 : out_row, :n_col]
    for c in range(n_col):
        if abs(tc[c] - inputs[c]) > 0.5 * (n_row + 1):
            problems.append(f"column {cols[c]!r}: {INTERMEDIATE_TOTAL_ROW} {tc[c]:.10g}, Z column sum {inputs[c]:.10g}")
        if abs(inputs[c] + prim[:, c].sum() - x[c]) > 0.5 * (n_row + len(primary_rows) + 1):
            problems.append(
                f"column {cols[c]!r}: inputs + primary inputs = {inputs[c] + prim[:, c].sum():.10g}, {OUTPUT_ROW} = {x[c]:.10g}"
            )
    if TOTAL_DEMAND_COL in cols:
        td = values[:n_row, cols.get_loc(TOTAL_DEMAND_COL)]
        for r in range(n_row):
            if not np.isnan(td[r]) and abs(td[r] - x[r]) > 0.5:
                problems.append(f"product {rows[r]!r}: {OUTPUT_ROW} {x[r]:.10g} but {TOTAL_DEMAND_COL} {td[r]:.10g}")
    if problems:
        warnings.warn(
            f"{file}: {len(problems)} total(s) inconsistent with their parts (totals are not used; "
            f"the component cells are): " + "; ".join(problems[:6]) + (" ..." if len(problems) > 6 else ""),
            DataQualityWarning,
            stacklevel=2,
        )

    Z = table.iloc[:n_row, :n_col]
    Y = table.iloc[:n_row][categories]
    xs = pd.Series(x, index=cols[:n_col])
    F = table.iloc[n_row + 1 : out_row, :n_col]
    notes = [
        "final demand: component categories only (PublicSector, Total Exports, totals left out)",
        "imports and product taxes bought directly by final demand are not part of the economy",
    ]
    if meta is None:
        meta = EconomyMeta(
            name="UK ONS 2015 domestic use (products x products)",
            year=2015,
            units="million GBP (basic prices, current)",
            labour_unit="million GBP of compensation",
            source=f"Office for National Statistics, UK input-output analytical tables 2015 ({file})",
            licence="Open Government Licence v3.0",
        )
    # the primary-input rows are labelled by name; all but labour are in million GBP
    money = {str(r): "million GBP" for r in F.index if str(r) != LABOUR_ROW}
    meta = meta.amended(notes, resource_units=money)
    return economy_from_flows(
        Z, Y, xs, F, labour=LABOUR_ROW, meta=meta, source=str(file),
        allow_negative_value_added=allow_negative_value_added,
        names=[str(label).strip() for label in Z.index],  # the table labels products by name
    )

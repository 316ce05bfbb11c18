"""UK 2015 multi-year data: capital stocks, depreciation and a labour path for the ONS tables.

The folder of the ``uk-2015`` dataset (Cockshott's ``wc22m/ukgreen``, ``iouk/``) holds,
beside the domestic use table read by :func:`gosplan.io.ons_uk.read_uk_ons`:

``fullcapitalstockmatrix2015.csv``
    128 product rows and a ``TOTAL`` row x 142 columns: 128 industries, then the 14
    final-demand and total columns of the use table. ``K[i, j]``: stock of product ``i``
    (the asset, by the industry that makes it: construction for buildings, motor
    vehicles, machinery, software ...) held by industry ``j``, whole £ million. Cockshott
    made it from the ONS stocks (``netcapitalstockmatrix2015.csv``: 13 asset types x 89
    industry groups) by spreading each group over its industries in proportion to output
    and each asset type over the industries that make it. **Used as** ``capital``: labels
    are the use table's in upper case, matched ignoring case and spacing.
``dep.csv``
    The same products x industries (129 x 129, with Owner-Occupiers' Housing) plus a
    ``TOTAL CONSUMPTION`` row and 15 final-demand columns: the rate of each stock, ``1``
    where there is none. **Used as** ``depreciation`` on the stocks of ``K``.
``deprates.csv``
    One rate per asset product (what ``dep.csv`` was made from). **Checked** against
    ``dep.csv``, not used.
``netcapitalstockmatrix2015.csv``, ``translationAtocapstocktitles.csv``, ``Amatrix2015.csv``
    ONS net capital stocks by asset and industry group, the group of each product (named
    by its A-matrix title, in the use table's order) and the A matrix (which shows that
    order: same labels as the translation, same coefficients as the use table).
    **Used to check** ``K``: the stocks each industry group holds, against ONS.
``labtargs.csv``
    ``Year1..Year5``: ``labour`` (compensation of employees, £ million, growing 1 % a
    year) and ``tradedeficit``. **Used as** ``labour_supply``; Year1 (928459) equals the
    use table's compensation of employees (928458, the economy's labour row times output):
    the same unit, so no scaling. Were it not within 1 %, ``L[t] = l x0 *
    labtargs[t] / labtargs[Year1]`` (a warning says so). The trade deficit has no place in
    a Horizon (imports are a resource row of the economy): not used, noted.

Targets are the economy's final demand, summed over its 11 categories (households,
NPISH, government, gross fixed capital formation, valuables, inventories, exports),
negatives clipped to 0, for every year, or growing: ``target_t = y (1 + g)^(t - 1)``.
``base_output`` is the use table's ``Output`` row.

Defects of the 2015 files, found and handled explicitly (each a
:class:`~gosplan.errors.DataQualityWarning` naming file, line and column, and a line in
``Horizon.notes``):

* ``fullcapitalstockmatrix2015.csv`` lacks Owner-Occupiers' Housing (row and column):
  that industry (output 194407) holds no capital in ``K``; seven more industries with
  output have no capital at all (residential care, households as employers, non-market
  land transport and four NPISH ones): their output is not limited by capital. Its
  ``Total Exports`` column is empty, the other final-demand columns are 0, and the TOTAL
  row's ``TOTAL DEMAND ...`` cell is the grand total: ignored (checked). The TOTAL row
  equals the column sums: ``K`` sums to 7151150 exactly.
* the stocks disagree with the ONS stocks they were made from: 7151150 in all against
  ONS's 4337207, and by more than a factor 2 for 33 of 63 industry groups: construction
  holds 3526696 (ONS 415427), crop and animal production 614951 (ONS 37765), real estate
  19360 (ONS 1452233: the dwellings are not where ONS has them). This is what the author
  calls "not quite right". ``K`` is used as the file gives it; the comparison is reported.
* ``dep.csv``: the header has one more (empty) field than the rows; two labels are cut
  at 80 characters (soft drinks, gas supply: matched to the only product they begin);
  ``1`` written as ``" 1"`` fills every cell without a stock (placeholders; no stock has
  rate 1); it gives rates to stocks ``K`` lacks (6 in the Owner-Occupiers' Housing
  column, 4 elsewhere: it was made from another version of the stock matrix), ignored;
  the ``TOTAL CONSUMPTION`` row and the final-demand columns are ignored.
* ``deprates.csv``: one rate written with a decimal comma (``"0,5"``, fishing, line 4:
  read as 0.5; fishing is no capital good, so it is unused) and a last row with a blank
  label (line 130): ignored. It agrees with ``dep.csv`` on every stock.
* ``capitalstockmatrix2015.csv`` is ``netcapitalstockmatrix2015.csv`` again (same
  numbers), with one header label broken over two lines.
* the translation names products by their A-matrix titles ("Products of agriculture
  ..."), not the use table's; rows are paired by position, checked through
  ``Amatrix2015.csv``. One industry (households as employers) has no group; some groups
  overlap in the ONS file (``69-71`` contains ``71``), so those comparisons are rough.
* the use table's final demand is negative for one product (cement, -214: inventories
  run down more than the rest bought): its target is 0.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import DataQualityWarning, InvalidEconomyError, Location, TableFormatError
from gosplan.io.cockshott_horizon import year_rows
from gosplan.io.ons_uk import read_uk_ons
from gosplan.io.tables import (
    _DECIMAL_COMMA,
    _classify,
    _fail,
    _read_text,
    _records,
    _sniff_sep,
    find_table,
    read_table,
    row_line,
)
from gosplan.model.economy import Economy, EconomyMeta
from gosplan.model.horizon import Horizon

__all__ = ["read_uk_ons_horizon", "normalise_label"]

CAPITAL = "fullcapitalstockmatrix2015"
DEPRECIATION = "dep"
RATES = "deprates"
LABOUR = "labtargs"
ONS_STOCKS = "netcapitalstockmatrix2015"
ONS_STOCKS_COPY = "capitalstockmatrix2015"
TRANSLATION = "translationAtocapstocktitles"
AMATRIX = "Amatrix2015"
#: a label at least this long that begins exactly one product label is a cut copy of it
TRUNCATED_MIN = 40
#: how far the stocks of an industry group may be from ONS's before it is reported
FACTOR = 2.0
#: labtargs' Year1 within this share of the base-year labour use: same unit
SAME_UNIT = 0.01


def normalise_label(label: Any) -> str:
    """A label for matching across the files: no-break spaces and runs of white space
    become one space, ends stripped, case folded (``"Forestry And Logging "`` ->
    ``"forestry and logging"``)."""
    return " ".join(str(label).replace("\xa0", " ").split()).casefold()


class _Matcher:
    """Position of a file's label among the economy's labels (see :func:`normalise_label`),
    accepting a label cut short (at least :data:`TRUNCATED_MIN` characters) that begins
    exactly one of them."""

    def __init__(self, labels: pd.Index):
        self.labels = [str(v) for v in labels]
        self.keys: dict[str, int] = {}
        for k, label in enumerate(self.labels):
            key = normalise_label(label)
            if key in self.keys:
                raise InvalidEconomyError(
                    f"products {self.labels[self.keys[key]]!r} and {label!r} differ only in case or spacing: "
                    "the capital files cannot tell them apart",
                    Location(product=label),
                )
            self.keys[key] = k

    def __call__(self, label: Any) -> tuple[int | None, bool]:
        key = normalise_label(label)
        if key in self.keys:
            return self.keys[key], False
        if len(key) >= TRUNCATED_MIN:
            hits = [k for s, k in self.keys.items() if s.startswith(key)]
            if len(hits) == 1:
                return hits[0], True
        return None, False


class _Report:
    """Defects: a DataQualityWarning each (with the full path) and a line in the notes."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def defect(
        self,
        file: Path,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        note: str | None = None,
    ) -> None:
        where = Location(file=file, line=line, column=column)
        frame, level = sys._getframe(0), 1  # point the warning at the caller of this module
        while frame is not None and frame.f_globals.get("__name__") == __name__:
            frame, level = frame.f_back, level + 1
        warnings.warn(f"{where}: {message}", DataQualityWarning, stacklevel=level)
        self.notes.append(
            f"{Location(file=file.name, line=line, column=column)}: {note or message}"
        )

    def note(self, message: str) -> None:
        self.notes.append(message)


def _short(labels: list[str], k: int = 3, *, quote: bool = True) -> str:
    shown = ", ".join(repr(v) if quote else v for v in labels[:k])
    return shown + (f" and {len(labels) - k} more" if len(labels) > k else "")


def _align(
    table: pd.DataFrame, match: _Matcher, file: Path, report: _Report, what: str
) -> tuple[list[tuple[int, int]], list[int], list[tuple[int, int]], list[int]]:
    """Match rows and columns to the economy's products: ``(table row, product)`` pairs,
    unmatched rows, ``(table column, product)`` pairs, unmatched columns; cut labels
    reported, two labels for one product an error."""
    header = table.attrs.get("header_line")
    cut: list[str] = []

    def side(labels: pd.Index, is_row: bool) -> tuple[list[tuple[int, int]], list[int]]:
        pairs: list[tuple[int, int]] = []
        unmatched: list[int] = []
        seen: dict[int, int] = {}
        for k, label in enumerate(labels):
            pos, truncated = match(label)
            if pos is None:
                unmatched.append(k)
                continue
            line = row_line(table, k) if is_row else header
            if pos in seen:
                raise TableFormatError(
                    f"{what}: {'rows' if is_row else 'columns'} {str(labels[seen[pos]])!r} and {str(label)!r} "
                    f"both match product {match.labels[pos]!r}",
                    Location(
                        file=file,
                        line=line,
                        column=None if is_row else str(label),
                        product=str(label) if is_row else None,
                    ),
                )
            seen[pos] = k
            if truncated:
                cut.append(f"{str(label)!r} ({'line ' + str(line) if is_row else 'header'})")
            pairs.append((k, pos))
        return pairs, unmatched

    rows, other_rows = side(table.index, True)
    cols, other_cols = side(table.columns, False)
    if cut:
        report.defect(
            file,
            f"{len(cut)} label(s) cut short, each matched to the only product it begins: "
            + "; ".join(cut),
            line=header,
        )
    return rows, other_rows, cols, other_cols


# ----------------------------------------------------------------------------- capital
def _capital(directory: Path, economy: Economy, match: _Matcher, report: _Report) -> sp.csr_array:
    file = find_table(directory, CAPITAL)
    assert file is not None
    table = read_table(file, empty="nan")
    header = table.attrs["header_line"]
    values = table.to_numpy()
    rows, other_rows, cols, other_cols = _align(table, match, file, report, "capital stocks")
    names = economy.products
    total_rows = [k for k in other_rows if normalise_label(table.index[k]) == "total"]
    stray_rows = [k for k in other_rows if k not in total_rows]
    body = [k for k, _ in rows] + stray_rows  # every row but TOTAL
    r_idx = np.array([k for k, _ in rows], dtype=np.int64)
    c_idx = np.array([k for k, _ in cols], dtype=np.int64)
    block = values[np.ix_(r_idx, c_idx)]
    if np.isnan(block).any():
        i, j = (int(v) for v in np.argwhere(np.isnan(block))[0])
        raise TableFormatError(
            "empty cell: a stock is required (0 for none)",
            Location(
                file=file,
                line=row_line(table, int(r_idx[i])),
                column=str(table.columns[c_idx[j]]),
                product=str(table.index[r_idx[i]]),
            ),
        )
    if (block < 0).any():
        i, j = (int(v) for v in np.argwhere(block < 0)[0])
        raise TableFormatError(
            f"negative capital stock {block[i, j]:g}",
            Location(
                file=file,
                line=row_line(table, int(r_idx[i])),
                column=str(table.columns[c_idx[j]]),
                product=str(table.index[r_idx[i]]),
            ),
        )
    for k in stray_rows:
        held = float(np.nansum(values[k, c_idx]))
        report.defect(
            file,
            f"row {str(table.index[k])!r} matches no product of the use table: ignored"
            + (f" (its stocks, {held:.10g}, are left out)" if held else " (all zero)"),
            line=row_line(table, k),
        )
    # columns that are not industries: the use table's final-demand and total columns
    if other_cols:
        cells = values[np.ix_(body, other_cols)] if body else np.zeros((0, len(other_cols)))
        used = [k for j, k in enumerate(other_cols) if np.nansum(np.abs(cells[:, j])) > 0]
        empty = [k for j, k in enumerate(other_cols) if np.isnan(cells[:, j]).all()]
        labels = [str(table.columns[k]) for k in other_cols]
        message = (
            f"{len(other_cols)} column(s) are not industries of the use table ({_short(labels)}): "
            + (
                "empty or 0 in every product row"
                if not used
                else f"{len(used)} of them hold stocks, left out: {_short([str(table.columns[k]) for k in used])}"
            )
            + (f"; {_short([str(table.columns[k]) for k in empty], 2)} empty" if empty else "")
            + "; ignored"
        )
        report.defect(file, message, line=header, column=labels[0])
    total = float(block.sum())
    # the TOTAL row: column sums, and the grand total in a total column
    for k in total_rows:
        line = row_line(table, k)
        sums = np.nansum(values[body][:, c_idx], axis=0)
        given = values[k, c_idx]
        off = [
            j
            for j in range(len(c_idx))
            if not np.isnan(given[j]) and abs(given[j] - sums[j]) > max(1.0, 1e-9 * abs(sums[j]))
        ]
        if off:
            j = off[0]
            report.defect(
                file,
                f"the TOTAL row differs from the column sums in {len(off)} column(s), e.g. "
                f"{str(table.columns[c_idx[j]])!r}: {given[j]:.10g} against {sums[j]:.10g}",
                line=line,
                column=str(table.columns[c_idx[j]]),
            )
        extra = [j for j in other_cols if not np.isnan(values[k, j]) and values[k, j] != 0]
        grand = [
            j
            for j in extra
            if abs(values[k, j] - np.nansum(values[np.ix_(body, list(c_idx))]))
            <= max(1.0, 1e-9 * total)
        ]
        if grand:
            report.note(
                f"{file.name}: K sums to {total:.10g} (£ million), the TOTAL row's cell in column "
                f"{str(table.columns[grand[0]])!r} is that grand total"
            )
        for j in extra:
            if j not in grand:
                report.defect(
                    file,
                    f"the TOTAL row has {values[k, j]:.10g} in a column that is not an industry: ignored",
                    line=line,
                    column=str(table.columns[j]),
                )
    if not total_rows:
        report.note(
            f"{file.name}: K sums to {total:.10g} (£ million); the file has no TOTAL row to check it"
        )
    # industries and products the file lacks
    have_rows = {p for _, p in rows}
    have_cols = {p for _, p in cols}
    x0 = (
        economy.recorded_output
        if economy.recorded_output is not None
        else np.zeros(economy.n_products)
    )
    for p in range(economy.n_products):
        if p not in have_cols:
            report.defect(
                file,
                f"no column for industry {names[p]!r} (base-year output {x0[p]:.10g}): it holds no capital in K",
                line=header,
            )
        if p not in have_rows:
            report.note(f"{file.name}: no row for product {names[p]!r}: no stocks of it")
    K = sp.coo_array(
        (
            block.ravel(),
            (np.repeat([p for _, p in rows], len(cols)), np.tile([p for _, p in cols], len(rows))),
        ),
        shape=(economy.n_products, economy.n_products),
    )
    K = sp.csr_array(K)
    K.eliminate_zeros()
    held = np.asarray(K.sum(axis=0)).ravel()
    idle = [
        str(names[p])
        for p in range(economy.n_products)
        if p in have_cols and held[p] == 0 and x0[p] > 0
    ]
    if idle:
        report.defect(
            file,
            f"{len(idle)} industries with output hold no capital at all (their output is not limited by "
            f"capital): {_short(idle, 7)}",
            line=header,
        )
    return K


# ------------------------------------------------------------------- check against ONS
def _text_rows(file: Path) -> list[tuple[int, list[str]]]:
    text, _ = _read_text(file)
    return _records(text, _sniff_sep(text.split("\n", 1)[0], ".csv"))


def _compare_with_ons(directory: Path, economy: Economy, K: sp.csr_array, report: _Report) -> None:
    files = {
        stem: find_table(directory, stem, required=False)
        for stem in (ONS_STOCKS, TRANSLATION, AMATRIX)
    }
    if any(f is None for f in files.values()):
        missing = [s for s, f in files.items() if f is None]
        report.note(f"capital stocks not compared with ONS: {', '.join(missing)} not found")
        return
    net_file, trans_file, a_file = files[ONS_STOCKS], files[TRANSLATION], files[AMATRIX]
    assert net_file is not None and trans_file is not None and a_file is not None
    net = read_table(net_file)
    copy_file = find_table(directory, ONS_STOCKS_COPY, required=False)
    if copy_file is not None:
        copy = read_table(copy_file)
        same_labels = [normalise_label(c) for c in copy.columns] == [
            normalise_label(c) for c in net.columns
        ]
        broken = [str(c) for c in copy.columns if "\n" in str(c)]
        if (
            copy.shape == net.shape
            and same_labels
            and np.array_equal(copy.to_numpy(), net.to_numpy())
        ):
            report.defect(
                copy_file,
                f"the same numbers as {net_file.name}"
                + (
                    f"; header label {broken[0].splitlines()[0]!r}... is broken over two lines"
                    if broken
                    else ""
                ),
                line=copy.attrs.get("header_line"),
            )
    n = economy.n_products
    trans = _text_rows(trans_file)[1:]
    if len(trans) != n:
        report.defect(
            trans_file, f"{len(trans)} rows for {n} products: stocks not compared with ONS"
        )
        return
    amat = read_table(a_file, empty="nan", ragged="pad")
    A = economy.A.toarray()
    ok = (
        amat.shape[0] >= n
        and amat.shape[1] >= n
        and all(normalise_label(amat.index[k]) == normalise_label(trans[k][1][0]) for k in range(n))
        and np.nanmax(np.abs(amat.to_numpy()[:n, :n] - A)) < 0.005
    )
    if not ok:
        report.defect(
            trans_file,
            f"its rows cannot be paired with the use table's products (checked through {a_file.name}): "
            "stocks not compared with ONS",
        )
        return
    cols = {normalise_label(c): str(c) for c in net.columns}
    rows = {normalise_label(r): r for r in net.index}
    if "total assets" not in rows:
        report.defect(net_file, "no 'Total assets' row: stocks not compared with ONS")
        return
    ons = net.loc[rows["total assets"]]
    held = np.asarray(K.sum(axis=0)).ravel()
    groups: dict[str, list[int]] = {}
    ungrouped: list[str] = []
    unknown: list[str] = []
    for k, (line, cells) in enumerate(trans):
        group = cells[1].strip() if len(cells) > 1 else ""
        if not group:
            ungrouped.append(str(economy.products[k]))
        elif normalise_label(group) not in cols:
            unknown.append(f"{group!r} (line {line})")
        else:
            groups.setdefault(cols[normalise_label(group)], []).append(k)
    if ungrouped:
        report.note(f"{trans_file.name}: no ONS industry group for {_short(ungrouped)}")
    if unknown:
        report.defect(
            trans_file, f"group(s) not among the columns of {net_file.name}: {_short(unknown)}"
        )
    flagged: list[tuple[float, str, float, float]] = []
    for group, members in groups.items():
        ours, theirs = float(held[members].sum()), float(ons[group])
        if ours == theirs:
            continue
        ratio = math.inf if min(ours, theirs) <= 0 else max(ours / theirs, theirs / ours)
        if ratio > FACTOR:
            flagged.append((ratio, group, ours, theirs))
    flagged.sort(key=lambda f: -f[0])
    total_col = next((c for k, c in cols.items() if k.startswith("total")), None)
    total = float(held.sum())
    ons_total = float(ons[total_col]) if total_col is not None else float("nan")

    def listing(items: list[tuple[float, str, float, float]]) -> str:
        return "; ".join(f"{g.split(':')[0]} {o:.10g} (ONS {t:.10g})" for _, g, o, t in items)

    head = (
        f"K sums to {total:.10g}, ONS net capital stocks ({net_file.name}, 'Total assets') to {ons_total:.10g}; "
        f"the stocks held by {len(flagged)} of {len(groups)} industry groups ({trans_file.name}) differ from "
        f"ONS by more than a factor {FACTOR:g}: "
    )
    tail = ". K is used as the file gives it (its author: 'not quite right')"
    if flagged:
        file = find_table(directory, CAPITAL)
        assert file is not None
        report.defect(
            file,
            head + listing(flagged[:8]) + (" ..." if len(flagged) > 8 else "") + tail,
            note=head + listing(flagged) + tail,
        )
    else:
        report.note(head.rstrip(": ") + " (none)")


# ------------------------------------------------------------------------ depreciation
def _depreciation(
    directory: Path, economy: Economy, match: _Matcher, K: sp.csr_array, report: _Report
) -> sp.csr_array:
    file = find_table(directory, DEPRECIATION)
    assert file is not None
    table = read_table(file, empty="nan")
    header = table.attrs["header_line"]
    fields = len(_text_rows(file)[0][1])
    if fields > table.shape[1] + 1:
        report.defect(
            file,
            f"the header has {fields} fields, the rows {table.shape[1] + 1}: its trailing empty field is ignored",
            line=header,
        )
    rows, other_rows, cols, other_cols = _align(table, match, file, report, "depreciation rates")
    names = economy.products
    for k in other_rows:
        vals = table.iloc[k].to_numpy()
        report.defect(
            file,
            f"row {str(table.index[k])!r} is not a product"
            + (" (every cell 1)" if np.all(vals == 1) else "")
            + ": ignored",
            line=row_line(table, k),
        )
    if other_cols:
        labels = [str(table.columns[k]) for k in other_cols]
        every_one = bool(np.all(table.iloc[:, other_cols].to_numpy() == 1))
        report.defect(
            file,
            f"{len(other_cols)} column(s) are not industries (the use table's final-demand and total "
            f"columns: {_short(labels)}){' every cell 1' if every_one else ''}: ignored",
            line=header,
            column=labels[0],
        )
    row_of = {p: k for k, p in rows}
    col_of = {p: k for k, p in cols}
    values = table.to_numpy()
    Kc = sp.coo_array(K)
    rates = np.empty(Kc.nnz)
    for s, (i, j) in enumerate(zip(Kc.row.tolist(), Kc.col.tolist())):
        if i not in row_of or j not in col_of:
            raise TableFormatError(
                f"no rate for the stock of {names[i]!r} held by {names[j]!r}: no "
                + ("row" if i not in row_of else "column")
                + " for it",
                Location(
                    file=file,
                    line=header if i in row_of else None,
                    product=str(names[i if i not in row_of else j]),
                ),
            )
        rates[s] = values[row_of[i], col_of[j]]
    bad = np.isnan(rates) | (rates < 0) | (rates > 1)
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        i, j = int(Kc.row[s]), int(Kc.col[s])
        why = (
            "empty: a stock needs a rate"
            if np.isnan(rates[s])
            else f"rate {rates[s]:g} is not in [0, 1]"
        )
        raise TableFormatError(
            why,
            Location(
                file=file,
                line=row_line(table, row_of[i]),
                column=str(table.columns[col_of[j]]),
                product=str(table.index[row_of[i]]),
            ),
        )
    # cells without a stock: the placeholders, and rates of stocks K lacks
    r_idx = np.array([k for k, _ in rows])
    c_idx = np.array([k for k, _ in cols])
    grid = values[np.ix_(r_idx, c_idx)]
    stock = np.zeros(grid.shape, dtype=bool)
    pos_r = {p: a for a, (_, p) in enumerate(rows)}
    pos_c = {p: b for b, (_, p) in enumerate(cols)}
    for i, j in zip(Kc.row.tolist(), Kc.col.tolist()):
        stock[pos_r[i], pos_c[j]] = True
    ones = int(((grid == 1) & ~stock).sum())
    if ones:
        report.defect(
            file,
            f"{ones} of the {grid.size} cells without a stock hold 1 (written ' 1'): placeholders, ignored",
            line=header,
        )
    at_one = int((rates == 1).sum())
    if at_one:
        report.defect(
            file,
            f"{at_one} stock(s) have rate 1 (worn out within the year): kept as given",
            line=header,
        )
    orphans = np.argwhere(~stock & ~np.isnan(grid) & (grid != 1) & (grid != 0))
    if orphans.size:
        by_col: dict[str, int] = {}
        for a, b in orphans:
            label = str(table.columns[c_idx[b]])
            by_col[label] = by_col.get(label, 0) + 1
        many = sorted(by_col.items(), key=lambda kv: -kv[1])
        a, b = (int(v) for v in orphans[0])
        report.defect(
            file,
            f"{len(orphans)} rate(s) for stocks that {CAPITAL}.csv does not have ("
            + ", ".join(f"{c!r}: {m}" for c, m in many[:3])
            + (" ..." if len(many) > 3 else "")
            + "): made from another version of the stock matrix? ignored",
            line=row_line(table, int(r_idx[a])),
            column=str(table.columns[c_idx[b]]),
        )
    return sp.csr_array((rates, (Kc.row, Kc.col)), shape=K.shape)


def _check_rates(
    directory: Path, economy: Economy, match: _Matcher, D: sp.csr_array, report: _Report
) -> None:
    """``deprates.csv`` (one rate per asset product) against the rates of ``dep.csv``."""
    file = find_table(directory, RATES, required=False)
    if file is None:
        return
    records = _text_rows(file)
    if not records:
        return
    (_, header), body = records[0], records[1:]
    column = header[1].strip() if len(header) > 1 else "rate"
    per_product: dict[int, tuple[float, int]] = {}
    unknown: list[str] = []
    for line, cells in body:
        label = cells[0].strip()
        cell = cells[1] if len(cells) > 1 else ""
        if not label:
            report.defect(
                file, f"a row with a blank label (rate {cell.strip()!r}): ignored", line=line
            )
            continue
        kind = _classify(cell)
        if kind == "comma" and _DECIMAL_COMMA.match(cell.strip()):
            value = float(cell.strip().replace(",", "."))
            report.defect(
                file,
                f"{cell.strip()!r} is written with a decimal comma: read as {value:g}",
                line=line,
                column=column,
            )
        elif kind != "ok":
            raise _fail(kind, cell, file=file, line=line, column=column, product=label)
        else:
            value = float(cell)
        pos, _ = match(label)
        if pos is None:
            unknown.append(f"{label!r} (line {line})")
        else:
            per_product[pos] = (value, line)
    if unknown:
        report.defect(
            file, f"label(s) matching no product: {_short(unknown, quote=False)}: ignored"
        )
    names = economy.products
    Dc = sp.coo_array(D)
    differ: list[str] = []
    missing: set[int] = set()
    for i, j, r in zip(Dc.row.tolist(), Dc.col.tolist(), Dc.data.tolist()):
        if i not in per_product:
            missing.add(i)
        elif per_product[i][0] != r:
            differ.append(
                f"{names[i]!r} held by {names[j]!r}: {r:g} against {per_product[i][0]:g} (line {per_product[i][1]})"
            )
    capital_goods = {int(i) for i in Dc.row}
    unused = [p for p in per_product if p not in capital_goods]
    if differ or missing:
        report.defect(
            file,
            f"disagrees with {DEPRECIATION}.csv (whose rates are used) on {len(differ)} stock(s)"
            + (f", e.g. {differ[0]}" if differ else "")
            + (
                f"; no rate for {_short([str(names[i]) for i in sorted(missing)])}"
                if missing
                else ""
            ),
        )
    else:
        report.note(
            f"{file.name} agrees with {DEPRECIATION}.csv on every stock (one rate per asset product); "
            f"used as a check only ({len(unused)} of its {len(per_product)} rates are for products that are no capital good)"
        )


# ------------------------------------------------------------------------ labour, targets
def _labour(
    directory: Path, economy: Economy, years: int, report: _Report
) -> tuple[list[str], np.ndarray]:
    file = find_table(directory, LABOUR)
    assert file is not None
    table = read_table(file, empty="nan")
    labels = year_rows(table, file)
    col = next((c for c in table.columns if normalise_label(c) == "labour"), None)
    if col is None:
        raise TableFormatError(
            "no 'labour' column", Location(file=file, line=table.attrs.get("header_line"))
        )
    values = table[col].to_numpy(dtype=np.float64)
    for t, v in enumerate(values):
        where = Location(
            file=file, line=row_line(table, t), column=str(col), product=labels[t], key="year"
        )
        if np.isnan(v):
            raise TableFormatError(f"year {labels[t]!r} has no labour supply (empty cell)", where)
        if v < 0:
            raise TableFormatError(f"labour supply {v:g} in year {labels[t]!r} is negative", where)
    if years > len(labels):
        raise InvalidEconomyError(
            f"{file.name} has {len(labels)} years; cannot read {years}", Location(file=file)
        )
    others = [str(c) for c in table.columns if c != col]
    if others:
        report.note(
            f"{file.name}: column(s) {_short(others)} not used (a Horizon has no trade balance; "
            "imports are a resource row of the economy)"
        )
    k = economy.resources.get_loc(economy.labour)
    assert economy.recorded_output is not None
    base = float(economy.primary[[k], :].toarray().ravel() @ economy.recorded_output)
    supply = values[:years].copy()
    gap = abs(values[0] - base) / base if base > 0 else math.inf
    if gap <= SAME_UNIT:
        report.note(
            f"labour supply: {file.name} column {str(col)!r}, {economy.meta.labour_unit} like the economy's labour row "
            f"({labels[0]} {values[0]:.10g} against base-year labour use {base:.10g})"
        )
    else:
        supply = base * values[:years] / values[0]
        report.defect(
            file,
            f"{labels[0]} labour {values[0]:.10g} is not the base-year labour use {base:.10g} "
            f"({economy.meta.labour_unit}): another unit; scaled, L[t] = {base:.10g} x labour[t] / labour[{labels[0]}]",
            line=row_line(table, 0),
            column=str(col),
        )
    return labels[:years], supply


def _targets(
    directory: Path, economy: Economy, years: int, growth: float, report: _Report
) -> np.ndarray:
    y = economy.demand.sum(axis=1)
    negative = np.flatnonzero(y < 0)
    if negative.size:
        file = find_table(directory, "domesticiot")
        assert file is not None
        listing = [f"{economy.products[i]!r} ({y[i]:.10g})" for i in negative]
        report.defect(
            file,
            f"final demand (sum of the {len(economy.categories)} categories) is negative for "
            f"{_short(listing, quote=False)}: target 0",
        )
        y = np.maximum(y, 0.0)
    report.note(
        f"targets: base-year final demand of every product, all {len(economy.categories)} categories summed"
        + (f", growing {growth:g} a year" if growth else ", the same every year")
    )
    return y[:, None] * (1.0 + growth) ** np.arange(years)[None, :]


def read_uk_ons_horizon(
    path: str | Path,
    *,
    years: int = 5,
    target_growth: float = 0.0,
    meta: EconomyMeta | None = None,
) -> Horizon:
    """The UK 2015 economy with Cockshott's capital stocks, depreciation and labour path.

    Parameters
    ----------
    path:
        The folder of the ``uk-2015`` dataset (``domesticiot.csv``,
        ``fullcapitalstockmatrix2015.csv``, ``dep.csv``, ``labtargs.csv``; the others
        only for checks), or one of its files.
    years:
        Number of years, at most the 5 of ``labtargs.csv``.
    target_growth:
        ``g``: targets ``y (1 + g)^(t - 1)`` (``y`` the base-year final demand).
    meta:
        Metadata of the economy (default: :func:`gosplan.io.ons_uk.read_uk_ons`'s).

    Returns
    -------
    Horizon
        129 products, ``K`` in £ million (1213 stocks), ``years`` ``Year1..``; every
        defect of the files (see the module) is a :class:`DataQualityWarning` and a line
        of ``notes``.
    """
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    if not (math.isfinite(target_growth) and target_growth > -1):
        raise ValueError(f"target_growth must be a finite rate above -1, got {target_growth}")
    p = Path(path)
    directory = p if p.is_dir() else p.parent
    economy = read_uk_ons(directory, meta=meta)
    report = _Report()
    match = _Matcher(economy.products)
    K = _capital(directory, economy, match, report)
    _compare_with_ons(directory, economy, K, report)
    D = _depreciation(directory, economy, match, K, report)
    _check_rates(directory, economy, match, D, report)
    labels, supply = _labour(directory, economy, years, report)
    targets = _targets(directory, economy, len(labels), target_growth, report)
    return Horizon(
        economy=economy,
        capital=K,
        depreciation=D,
        base_output=economy.recorded_output,
        years=pd.Index(labels, dtype=object),
        labour_supply=supply,
        targets=targets,
        notes=tuple(report.notes),
    )

"""Multi-year plans in Cockshott's four-file format (``wc22m/5yearplan``, ``nyearplan.java``).

A directory with::

    flows.csv     headings,iron,coal,...     Z[i, j]: product i used by industry j,
                  <product rows>             then the rows ``labour`` (labour used by
                  labour,...                 industry j) and ``output`` (gross output x0)
                  output,...
    cap.csv       headings,iron,coal,...     K[i, j]: stock of product i held by
                  <product rows>             industry j at the start of year 1
    dep.csv       headings,iron,coal,...     delta[i, j]: share of that stock worn out
                  <product rows>             per year, in [0, 1]
    labtarg.csv   headings,iron,...,labour   one row per year ``year1..yearT``: final
                  year1,...                  consumption targets per product and the
                  ...                        labour supply of the year

read by :func:`read_cockshott_horizon` into a :class:`~gosplan.model.horizon.Horizon`:
the economy from :func:`gosplan.io.cockshott.read_cockshott` (``A = Z diag(x0)^-1``,
``l = labour / x0``, final demand = the targets of ``year1``), ``base_output`` = the
``output`` row, ``capital`` = ``cap.csv``, ``depreciation`` = ``dep.csv`` on the stocks of
``cap.csv``, ``years`` / ``labour_supply`` / ``targets`` = ``labtarg.csv``.

Cockshott's program requires the headings of ``cap.csv``, ``dep.csv`` and ``labtarg.csv``
to be those of ``flows.csv`` in the same order (it matches them by position). Here they
may come in any order but must name the same products: an unknown or a missing product is
an error naming the file, the line and the label. Also errors, each naming the cell: a
stock or rate that is negative or not a number, a rate above 1, an empty rate where
``cap.csv`` has a stock (an empty or ``0`` rate where there is no stock is ignored), a
year row without a labour value or with a negative one, an empty or negative target,
years not numbered ``year1..yearT`` in order (inconsistent horizons), a missing file.

:func:`write_cockshott` writes a square Horizon back in this format, as his program
reads it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location, TableFormatError, UnknownProductError
from gosplan.io.cockshott import read_cockshott
from gosplan.io.tables import TABLE_SUFFIXES, find_table, read_table, row_line
from gosplan.model.economy import EconomyMeta
from gosplan.model.horizon import Horizon

__all__ = ["read_cockshott_horizon", "write_cockshott", "COCKSHOTT_TABLES"]

#: The four tables of the format, in the order of ``nyearplan``'s arguments.
COCKSHOTT_TABLES: tuple[str, ...] = ("flows", "cap", "dep", "labtarg")

_YEAR = re.compile(r"year\s*(\d+)", re.IGNORECASE)
_SPECIAL_ROWS = ("labour", "output", "headings")


# ----------------------------------------------------------------------------- years
def year_rows(table: pd.DataFrame, file: Path) -> list[str]:
    """The row labels of a per-year table, checked to be ``year1..yearT`` in order.

    ``Year1`` is accepted for ``year1`` (the UK files capitalise it). A row that is not a
    year, or a year out of sequence (``year1, year2, year4``), is a
    :class:`TableFormatError` naming the line: the horizon would be inconsistent.
    """
    labels = [str(v) for v in table.index]
    if not labels:
        raise TableFormatError("no year rows (year1..yearT)", Location(file=file))
    for k, label in enumerate(labels):
        m = _YEAR.fullmatch(label)
        where = Location(file=file, line=row_line(table, k), product=label, key="year")
        if m is None:
            raise TableFormatError(
                f"row {label!r} is not a year: the rows must be year1..yearT", where
            )
        if int(m.group(1)) != k + 1:
            raise TableFormatError(
                f"inconsistent horizons: year row {k + 1} is {label!r}, expected 'year{k + 1}' "
                "(years must be numbered year1..yearT consecutively, in order)",
                where,
            )
    return labels


# ----------------------------------------------------------------------------- reading
def _product_matrix(
    file: Path, products: pd.Index, what: str, *, empty: str
) -> tuple[np.ndarray, pd.DataFrame, dict[str, int | None]]:
    """``file`` as a products x industries array in the order of ``products``.

    Returns the array, the table as read and the editor line of each row label.
    """
    table = read_table(file, empty=empty)  # type: ignore[arg-type]
    header = table.attrs.get("header_line")
    known = set(products)
    lines = {str(label): row_line(table, k) for k, label in enumerate(table.index)}
    for k, label in enumerate(table.index):
        if label not in known:
            raise UnknownProductError(
                f"{what} of unknown product {label!r} (row): flows.csv has no such product",
                Location(file=file, line=row_line(table, k), product=str(label)),
            )
    for label in table.columns:
        if label not in known:
            raise UnknownProductError(
                f"{what} held by unknown industry {label!r} (column): flows.csv has no such industry",
                Location(file=file, line=header, column=str(label)),
            )
    rows, cols = set(table.index), set(table.columns)
    for p in products:
        if p not in rows:
            raise TableFormatError(
                f"no row for product {p!r} (flows.csv has it): {file.name} must have one row per product",
                Location(file=file, product=str(p)),
            )
        if p not in cols:
            raise TableFormatError(
                f"no column for industry {p!r} (flows.csv has it): {file.name} must have one column per industry",
                Location(file=file, line=header, column=str(p)),
            )
    values = table.loc[products, products].to_numpy(dtype=np.float64)
    return values, table, lines


def _first_cell(mask: np.ndarray) -> tuple[int, int]:
    i, j = np.argwhere(mask)[0]
    return int(i), int(j)


def read_cockshott_horizon(path: str | Path, *, meta: EconomyMeta | None = None) -> Horizon:
    """Read Cockshott's ``flows.csv``, ``cap.csv``, ``dep.csv`` and ``labtarg.csv``.

    Parameters
    ----------
    path:
        The directory holding the four files (each ``.csv`` or ``.csv.gz``), or one of
        them.
    meta:
        Metadata of the economy (default: the directory name, physical units).

    Returns
    -------
    Horizon
        ``years`` = the ``labtarg.csv`` row labels (``year1..yearT``).

    Raises
    ------
    TableFormatError, UnknownProductError
        A missing file, an unknown or missing product, a bad cell, inconsistent years
        (see the module); the message names the file, the line, the column and the label.
    """
    p = Path(path)
    directory = p if p.is_dir() else p.parent
    files = {stem: find_table(directory, stem) for stem in COCKSHOTT_TABLES}
    cap_file, dep_file, targ_file = files["cap"], files["dep"], files["labtarg"]
    assert cap_file is not None and dep_file is not None and targ_file is not None

    # labtarg.csv first: read_cockshott reads its year1 row and takes a full cell grid
    targ = read_table(targ_file, empty="nan")
    years = year_rows(targ, targ_file)
    labour_cols = [c for c in targ.columns if str(c).lower() == "labour"]
    if not labour_cols:
        raise TableFormatError(
            "no 'labour' column: labtarg.csv gives the labour supply of every year in a column 'labour'",
            Location(file=targ_file, line=targ.attrs.get("header_line")),
        )
    lab_col = labour_cols[0]
    supply = targ[lab_col].to_numpy(dtype=np.float64)
    for t, value in enumerate(supply):
        where = Location(
            file=targ_file,
            line=row_line(targ, t),
            column=str(lab_col),
            product=years[t],
            key="year",
        )
        if np.isnan(value):
            raise TableFormatError(f"year {years[t]!r} has no labour supply (empty cell)", where)
        if value < 0:
            raise TableFormatError(
                f"labour supply {value:g} in year {years[t]!r} is negative", where
            )
    target_cols = [c for c in targ.columns if c != lab_col]
    tv = targ[target_cols].to_numpy(dtype=np.float64)
    for bad, why in (
        (np.isnan(tv), "empty target cell: write 0 for no target"),
        (tv < 0, "is negative"),
    ):
        if bad.any():
            t, c = _first_cell(bad)
            raise TableFormatError(
                why if np.isnan(tv[t, c]) else f"target {tv[t, c]:g} {why}",
                Location(
                    file=targ_file,
                    line=row_line(targ, t),
                    column=str(target_cols[c]),
                    product=years[t],
                    key="year",
                ),
            )

    economy = read_cockshott(directory, meta=meta)
    products = economy.products
    targets = (
        targ.loc[:, list(products)].to_numpy(dtype=np.float64).T
    )  # (the columns were checked by read_cockshott)

    # cap.csv
    K, cap, cap_lines = _product_matrix(cap_file, products, "capital stock", empty="error")
    if (K < 0).any():
        i, j = _first_cell(K < 0)
        raise TableFormatError(
            f"negative capital stock {K[i, j]:g}",
            Location(
                file=cap_file,
                line=cap_lines[str(products[i])],
                column=str(products[j]),
                product=str(products[i]),
            ),
        )

    # dep.csv: only rates of existing stocks count; an empty cell elsewhere is no rate
    D, dep, dep_lines = _product_matrix(dep_file, products, "depreciation rate", empty="nan")
    for bad, why in (
        (D < 0, "is negative"),
        (D > 1, "is above 1 (more than the whole stock cannot wear out in a year)"),
        (np.isnan(D) & (K > 0), None),
    ):
        if bad.any():
            i, j = _first_cell(bad)
            where = Location(
                file=dep_file,
                line=dep_lines[str(products[i])],
                column=str(products[j]),
                product=str(products[i]),
            )
            if why is None:
                raise TableFormatError(
                    f"empty depreciation rate of a stock: cap.csv has {K[i, j]:g} of {products[i]!r} held by "
                    f"{products[j]!r} (line {cap_lines[str(products[i])]})",
                    where,
                )
            raise TableFormatError(f"depreciation rate {D[i, j]:g} {why}", where)
    notes: list[str] = []
    ignored = int(((np.nan_to_num(D) > 0) & (K == 0)).sum())
    if ignored:
        notes.append(
            f"{dep_file.name}: {ignored} rate(s) where {cap_file.name} has no stock, ignored"
        )
    D = np.where(K > 0, np.nan_to_num(D), 0.0)
    Ks = sp.csr_array(K)
    Ks.eliminate_zeros()
    return Horizon(
        economy=economy,
        capital=Ks,
        depreciation=sp.csr_array(D),
        base_output=economy.recorded_output,
        years=pd.Index(years, dtype=object),
        labour_supply=supply,
        targets=targets,
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------- writing
def _number(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` (``10`` for ``10.0``)."""
    v = float(value)
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def numerators(coefficients: np.ndarray, denominators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values ``z`` that give back ``c`` exactly as the readers compute coefficients,
    ``z * (1 / d)`` in floating point (:func:`gosplan.io.flows.coefficients`), where one exists.

    ``c * d`` rounded to 15 significant digits is tried first (the number a file held, if
    ``c`` was read from one), then ``c * d`` and its neighbours, up to 4 units in the last
    place each way. Returns ``z`` and a mask of the entries reproduced exactly (elsewhere
    ``z = c * d``, within a unit in the last place). ``d = 0`` gives ``z = 0``.
    """
    c = np.asarray(coefficients, dtype=np.float64)
    d = np.asarray(denominators, dtype=np.float64)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    z = c * d
    short = np.array([float(f"{v:.15g}") for v in z.tolist()], dtype=np.float64).reshape(z.shape)
    z = np.where(short * inv == c, short, z)
    ok = z * inv == c
    for step in range(1, 5):
        if ok.all():
            break
        for direction in (np.inf, -np.inf):
            trial = z
            for _ in range(step):
                trial = np.nextafter(trial, direction)
            hit = ~ok & (trial * inv == c)
            z = np.where(hit, trial, z)
            ok |= hit
    return z, ok


def _existing(directory: Path, stems: Iterable[str]) -> list[Path]:
    return [
        directory / f"{s}{x}"
        for s in stems
        for x in TABLE_SUFFIXES
        if (directory / f"{s}{x}").is_file()
    ]


def _write_rows(
    path: Path, header: Sequence[str], rows: Iterable[tuple[str, Iterable[float]]]
) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(list(header))
        for label, values in rows:
            out.writerow([label, *(_number(v) for v in values)])


def write_cockshott(horizon: Horizon, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``horizon`` as ``flows.csv``, ``cap.csv``, ``dep.csv`` and ``labtarg.csv``.

    ``flows = U diag(x0)`` with the rows ``labour`` (``l * x0``) and ``output`` (``x0``),
    ``cap = K``, ``dep = delta`` (``0`` where there is no stock), ``labtarg`` = targets and
    labour supply per year. Numbers are written in their shortest exact form, and each
    flow is chosen so that ``flow / output`` gives back the coefficient bit for bit: a
    Horizon read from this format is written and read back unchanged. (A coefficient no
    flow reproduces — possible for arbitrary ``A`` and ``x0`` — is written as ``a * x0``
    and reads back within one unit in the last place; a
    :class:`~gosplan.errors.GosplanWarning` counts them.)

    Not kept: the economy's final demand (the format's is the targets of year 1), the
    horizon's notes, and year labels that are not ``year1..yearT`` (written as such).

    Parameters
    ----------
    horizon:
        A square economy (one industry per product) whose only resource is labour.
    path:
        Directory to write (created with its parents).
    overwrite:
        Replace the four tables if the directory holds them already.

    Raises
    ------
    InvalidEconomyError
        Not square, resources other than labour, a product labelled ``labour``,
        ``output`` or ``headings``, an industry with coefficients but no base output.
    FileExistsError
        The directory holds one of the four tables and ``overwrite`` is false.
    """
    import warnings

    from gosplan.errors import GosplanWarning

    eco = horizon.economy
    if eco.make is not None:
        raise InvalidEconomyError(
            f"Cockshott's format holds square economies (one industry per product); this one has "
            f"{eco.n_activities} activities for {eco.n_products} products"
        )
    others = [str(r) for r in eco.resources if r != eco.labour]
    if eco.labour is None or others:
        raise InvalidEconomyError(
            "Cockshott's format has one primary input, labour; "
            + (
                f"this economy also has {others[:5]}"
                if eco.labour is not None
                else "this economy has no labour row"
            )
        )
    labels = [str(p) for p in eco.products]
    for k, label in enumerate(labels):
        if label.strip().lower() in _SPECIAL_ROWS or label != label.strip() or not label:
            raise InvalidEconomyError(
                f"product label {label!r} cannot be written: flows.csv reserves 'labour', 'output' and "
                "'headings', and labels are read without surrounding spaces",
                Location(product=label),
            )
    x0 = horizon.base_output
    A = sp.csc_array(eco.use)
    A.sum_duplicates()
    cols = np.repeat(np.arange(A.shape[1]), np.diff(A.indptr))
    l = horizon.labour_coefficients
    idle = np.zeros(len(x0), dtype=bool)
    idle[cols[A.data != 0]] = True
    idle &= x0 == 0
    idle |= (x0 == 0) & (l != 0)
    if idle.any():
        j = int(np.flatnonzero(idle)[0])
        raise InvalidEconomyError(
            "industry has input or labour coefficients but no base output: flows.csv "
            "(flows = coefficients x output) cannot hold them",
            Location(product=labels[j]),
        )
    zdata, ok_z = numerators(A.data, x0[cols])
    Z = sp.csr_array(sp.csc_array((zdata, A.indices, A.indptr), shape=A.shape))
    lab, ok_l = numerators(l, x0)
    inexact = int((~ok_z).sum() + (~ok_l).sum())
    if inexact:
        warnings.warn(
            f"{inexact} coefficient(s) cannot be written as a flow that divides back to them exactly; "
            "they read back within one unit in the last place",
            GosplanWarning,
            stacklevel=2,
        )

    directory = Path(path)
    present = _existing(directory, COCKSHOTT_TABLES) if directory.is_dir() else []
    if present and not overwrite:
        raise FileExistsError(
            f"{directory} already holds Cockshott's files ({present[0].name}); pass overwrite=True to replace them"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for p in present:
        p.unlink()

    header = ["headings", *labels]

    def dense_rows(mat: sp.csr_array) -> Iterable[tuple[str, np.ndarray]]:
        for i, label in enumerate(labels):
            row = np.zeros(mat.shape[1])
            lo, hi = mat.indptr[i], mat.indptr[i + 1]
            row[mat.indices[lo:hi]] = mat.data[lo:hi]
            yield label, row

    def flow_rows() -> Iterable[tuple[str, np.ndarray]]:
        yield from dense_rows(Z)
        yield "labour", lab
        yield "output", x0

    _write_rows(directory / "flows.csv", header, flow_rows())
    _write_rows(directory / "cap.csv", header, dense_rows(horizon.capital))
    _write_rows(directory / "dep.csv", header, dense_rows(horizon.depreciation))
    years = [str(y) for y in horizon.years]
    if not all(
        (m := _YEAR.fullmatch(y)) is not None and int(m.group(1)) == t + 1
        for t, y in enumerate(years)
    ):
        years = [f"year{t + 1}" for t in range(len(years))]
    _write_rows(
        directory / "labtarg.csv",
        [*header, "labour"],
        (
            (years[t], [*horizon.targets[:, t], horizon.labour_supply[t]])
            for t in range(horizon.n_years)
        ),
    )
    return directory

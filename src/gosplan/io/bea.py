"""US BEA make and use tables (benchmark detail and annual summary).

Commodity-by-commodity coefficients under the **industry-technology assumption**
(as USEEIO does):

* ``U`` (commodities x industries) the use table, ``V`` (industries x commodities)
  the make table, ``g`` industry output (``T008`` / ``Total Industry Output``),
  ``q`` commodity output (``T007`` / ``Total Commodity Output``);
* ``B = U diag(g)^-1`` (inputs per unit of industry output),
  ``D = V diag(q)^-1`` (market shares: industry ``j``'s part in commodity ``k``);
* ``A = B D`` (commodity x commodity), ``y`` = row sums of the 20 final-demand
  columns (kept as categories), primary coefficients ``W diag(g)^-1 D`` for every
  value-added row ``W`` (``V00100`` compensation of employees -> ``"labour"``,
  ``V00200`` taxes on production and imports less subsidies, ``V00300`` gross
  operating surplus; summary: ``V001``-``V003``).

The economy is built from the commodity flows ``Z = U diag(g)^-1 V`` (so that
``A = Z diag(q)^-1``) with :func:`gosplan.io.flows.economy_from_flows`; ``q`` is
its recorded output. Since ``D q = V 1 = g`` and ``B g = U 1``, ``A q = U 1`` and
``(I - A) q = y`` up to the table's rounding.

A commodity no industry makes (``q_k = 0``: detail ``S00300`` non-comparable
imports and ``S00402`` used and second-hand goods) gets a zero column in ``A`` and
in the primary coefficients; its final demand is then the negative of its
intermediate use (e.g. imports recorded in ``F05000``), so that ``x_k = 0``. An
industry with ``g_j = 0`` would likewise get zero coefficients (none in the shipped
tables). Both are recorded in :attr:`EconomyMeta.notes`.

``domestic=True`` (tables with an import matrix ``M``, detail only):
``U_d = U - M_U`` and ``Y_d = Y - M_Y``; the imports column ``F05000`` is dropped,
because imported goods no longer appear among the uses, so subtracting imports again
would count them twice. Imported intermediate inputs ``1' M_U`` become a primary
resource ``"imports"`` (per unit of industry output, through ``D`` like value added).
BEA's import matrix reports more imports of some margin commodities (wholesale
trade, transport, insurance) than the use table's ``F05000``; then
``(I - A_d) q - y_d`` equals that difference, which the reader reports with a
:class:`~gosplan.errors.DataQualityWarning` (it does not invent a balancing item).
Cells where ``M > U`` (imports above total use) give negative domestic flows, also
reported.

Names: a ``commodity_codes`` table in the directory (column 1 the code, column 2 the
name, as BEA's code lists and the bundled detail table have it) gives
:attr:`Economy.names`; codes it does not name take BEA's published names bundled with
gosplan (the 402 detail commodities of 2017 and the 73 summary commodities,
``gosplan/datasets/bea_crosswalk/PROVENANCE.md``). The resources are named the same
way (:attr:`EconomyMeta.resource_names`): a ``value_added_codes`` table in the
directory first, then BEA's names of the detail (``V00100``..) and summary (``V001``..)
value-added rows; all but labour are in million USD (:attr:`EconomyMeta.resource_units`).
"""

from __future__ import annotations

import csv
import gzip
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gosplan.errors import DataQualityWarning, Location, TableFormatError
from gosplan.io.flows import economy_from_flows
from gosplan.io.tables import TABLE_SUFFIXES, read_table
from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["read_bea", "find_bea_files", "bea_names"]

LABOUR_UNIT = "million USD of compensation"
MONEY_UNIT = "million USD"


@dataclass(frozen=True)
class _Layout:
    name: str
    intermediate_total_row: str  # T005
    value_added_total_row: str  # T006
    industry_output_row: str  # T008
    intermediate_total_col: str  # T001
    final_uses_total_col: str  # T019
    commodity_output_col: str  # T007
    make_commodity_output_row: str  # T007 in the make table
    make_industry_output_col: str  # T008 in the make table
    imports_col: str  # F05000
    compensation_row: str  # V00100


_LAYOUTS = (
    _Layout("detail", "T005", "T006", "T008", "T001", "T019", "T007", "T007", "T008", "F05000", "V00100"),
    _Layout(
        "summary",
        "Total Intermediate",
        "Total Value Added",
        "Total Industry Output",
        "Total Intermediate",
        "Total Final Uses (GDP)",
        "Total Commodity Output",
        "Total Commodity Output",
        "Total Industry Output",
        "F050",
        "V001",
    ),
)


def _glob_one(directory: Path, prefix: str, *, required: bool) -> Path | None:
    found = sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.name.lower().startswith(prefix) and any(p.name.lower().endswith(s) for s in TABLE_SUFFIXES)
    )
    if len(found) > 1:
        raise TableFormatError(
            f"several {prefix}* tables: {', '.join(p.name for p in found)}; keep one",
            Location(file=directory),
        )
    if not found:
        if required:
            raise TableFormatError(
                f"no {prefix}*.csv table: a BEA directory needs use_*.csv and make_*.csv",
                Location(file=directory),
            )
        return None
    return found[0]


def find_bea_files(path: str | Path) -> tuple[Path, Path, Path | None]:
    """``(use, make, import)`` tables of a BEA directory (``import`` may be ``None``)."""
    directory = Path(path)
    if not directory.is_dir():
        raise TableFormatError("BEA make/use directory not found", Location(file=directory))
    return (
        _glob_one(directory, "use", required=True),  # type: ignore[return-value]
        _glob_one(directory, "make", required=True),  # type: ignore[return-value]
        _glob_one(directory, "import", required=False),
    )


def _layout(use: pd.DataFrame, file: Path) -> _Layout:
    for layout in _LAYOUTS:
        if layout.industry_output_row in use.index and layout.commodity_output_col in use.columns:
            return layout
    raise TableFormatError(
        "not a BEA use table: no total industry output row ('T008' or 'Total Industry Output') "
        "and total commodity output column ('T007' or 'Total Commodity Output')",
        Location(file=file),
    )


def _need(labels: pd.Index, label: str, what: str, file: Path) -> int:
    if label not in labels:
        raise TableFormatError(f"{what} {label!r} not found", Location(file=file, product=label))
    return int(labels.get_loc(label))


def _check_total(
    parts: np.ndarray, total: np.ndarray, labels: pd.Index, *, what: str, file: Path, cells: np.ndarray
) -> None:
    """Warn where a published total differs from the sum of its parts by more than rounding.

    Every published cell (a displayed ``0`` too) and the total are rounded to a whole
    unit, so sum and total may differ by up to ``0.5 (cells + 1)``.
    """
    diff = parts - total
    tol = 0.5 * (cells + 1) + 1e-9 * np.abs(total)
    bad = np.flatnonzero(np.abs(diff) > tol)
    if bad.size:
        k = int(bad[np.argmax(np.abs(diff[bad]))])
        warnings.warn(
            f"{file}: {what} differs from the sum of its parts beyond rounding for {bad.size} "
            f"label(s), largest {labels[k]!r}: {parts[k]:.10g} vs {total[k]:.10g}",
            DataQualityWarning,
            stacklevel=3,
        )


def _code_names(path: Path) -> dict[str, str]:
    """``{code: name}`` of a two-column code list (header line first), plain or gzipped CSV."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
        rows = list(csv.reader(fh))
    return {r[0].strip(): r[1].strip() for r in rows[1:] if len(r) >= 2 and r[0].strip()}


def bea_names(codes: Any, directory: str | Path | None = None) -> dict[str, str]:
    """BEA's published names of commodity ``codes``: the directory's own
    ``commodity_codes`` table first, then the detail (2017) and summary names bundled
    with gosplan. Codes without a name are left out."""
    from gosplan.datasets import DATA_DIR

    wanted = {str(c) for c in codes}
    sources: list[Path] = []
    if directory is not None:
        sources += sorted(Path(directory).glob("commodity_codes.csv*"))
    sources += [
        DATA_DIR / "us_bea_detail_2017" / "commodity_codes.csv.gz",
        DATA_DIR / "bea_crosswalk" / "bea_summary_names.csv.gz",
    ]
    out: dict[str, str] = {}
    for source in sources:
        if len(out) == len(wanted):
            break
        if source.is_file():
            for code, name in _code_names(source).items():
                if code in wanted and name:
                    out.setdefault(code, name)
    return out


#: BEA's names of the summary tables' value-added rows (the detail rows' names are the
#: bundled ``value_added_codes`` table).
SUMMARY_VALUE_ADDED_NAMES = {
    "V001": "Compensation of employees",
    "V002": "Taxes on production and imports, less subsidies",
    "V003": "Gross operating surplus",
}


def value_added_names(codes: Any, directory: str | Path | None = None) -> dict[str, str]:
    """BEA's names of value-added ``codes``: the directory's own ``value_added_codes``
    table first, then the detail names bundled with gosplan, then the summary ones."""
    from gosplan.datasets import DATA_DIR

    wanted = {str(c) for c in codes}
    sources: list[Path] = []
    if directory is not None:
        sources += sorted(Path(directory).glob("value_added_codes.csv*"))
    sources.append(DATA_DIR / "us_bea_detail_2017" / "value_added_codes.csv.gz")
    out: dict[str, str] = {}
    for source in sources:
        if source.is_file():
            for code, name in _code_names(source).items():
                if code in wanted and name:
                    out.setdefault(code, name)
    for code, name in SUMMARY_VALUE_ADDED_NAMES.items():
        if code in wanted:
            out.setdefault(code, name)
    return out


def read_bea(
    path: str | Path,
    *,
    domestic: bool = False,
    meta: EconomyMeta | None = None,
    allow_negative_value_added: bool = False,
) -> Economy:
    """Read a BEA make/use directory into a commodity-by-commodity economy.

    Parameters
    ----------
    path:
        Directory with ``use_*.csv`` (commodities x industries, value-added rows,
        final-demand columns, totals), ``make_*.csv`` (industries x commodities) and,
        for ``domestic=True``, ``import_*.csv`` (the imported part of the use table).
        Both the detail layout (``T005``-``T008``, ``V00100``..) and the summary
        layout (``Total Intermediate``, ``V001``.., ``Total Industry Output``) are read.
    domestic:
        Remove imports (see the module notes). Needs an import matrix.
    meta:
        Metadata; by default built from the layout and the year in the file name.
    allow_negative_value_added:
        Accept commodities whose inputs exceed their output (a
        :class:`~gosplan.errors.DataQualityWarning` names them) instead of refusing the
        table. (An *industry* with negative value added is always accepted and listed in
        ``meta.notes``: it is spread over the commodities it makes.)

    Returns
    -------
    Economy
        Square; products = commodity codes, named by BEA (module notes); categories = the final-demand codes
        (``F05000`` dropped when domestic); resources ``labour`` (compensation of
        employees, million USD), the other value-added codes and, when domestic,
        ``imports``; ``recorded_output = q``.
    """
    directory = Path(path)
    use_file, make_file, import_file = find_bea_files(directory)
    use = read_table(use_file)
    make = read_table(make_file)
    lay = _layout(use, use_file)

    # ---- the use table's blocks, by position between its totals
    t005 = _need(use.index, lay.intermediate_total_row, "intermediate-input total row", use_file)
    t006 = _need(use.index, lay.value_added_total_row, "value-added total row", use_file)
    t008 = _need(use.index, lay.industry_output_row, "industry output row", use_file)
    t001 = _need(use.columns, lay.intermediate_total_col, "intermediate-use total column", use_file)
    t019 = _need(use.columns, lay.final_uses_total_col, "final-uses total column", use_file)
    t007 = _need(use.columns, lay.commodity_output_col, "commodity output column", use_file)
    if not (t005 < t006 < t008 and t001 < t019 < t007):
        raise TableFormatError("BEA use table: totals rows/columns are out of order", Location(file=use_file))
    commodities = use.index[:t005]
    industries = use.columns[:t001]
    va_rows = use.index[t005 + 1 : t006]
    fd_cols = use.columns[t001 + 1 : t019]
    if lay.compensation_row not in va_rows:
        raise TableFormatError(
            f"compensation of employees row {lay.compensation_row!r} not among the value-added rows "
            f"{list(va_rows)}",
            Location(file=use_file, product=lay.compensation_row),
        )
    U = use.loc[commodities, industries].to_numpy()
    W = use.loc[va_rows, industries].to_numpy()
    Yfd = use.loc[commodities, fd_cols]
    g = use.loc[lay.industry_output_row, industries].to_numpy()
    q = use.loc[commodities, lay.commodity_output_col].to_numpy()

    # ---- the make table, aligned by label
    mk_c = _need(make.columns, lay.make_industry_output_col, "industry output column", make_file)
    mk_r = _need(make.index, lay.make_commodity_output_row, "commodity output row", make_file)
    make_ind = make.index[:mk_r]
    make_com = make.columns[:mk_c]
    for what, have, want in (("industries", make_ind, industries), ("commodities", make_com, commodities)):
        if set(have) != set(want):
            extra = sorted(set(have) - set(want))[:5]
            missing = sorted(set(want) - set(have))[:5]
            raise TableFormatError(
                f"make and use tables disagree on the {what}: make only {extra}, use only {missing}",
                Location(file=make_file, product=(extra or missing)[0]),
            )
    V = make.loc[industries, commodities].to_numpy()
    for label, vec in (("g", g), ("q", q)):
        if (vec < 0).any():
            k = int(np.flatnonzero(vec < 0)[0])
            labels = industries if label == "g" else commodities
            raise TableFormatError(
                f"negative {'industry' if label == 'g' else 'commodity'} output {vec[k]:.10g}",
                Location(file=use_file, product=str(labels[k])),
            )

    # ---- identities, within rounding
    _check_total(V.sum(axis=1), g, industries, what="industry output (make row sums vs use T008)",
                 file=make_file, cells=np.full(len(industries), V.shape[1]))
    _check_total(V.sum(axis=0), q, commodities, what="commodity output (make column sums vs use T007)",
                 file=make_file, cells=np.full(len(commodities), V.shape[0]))
    _check_total(U.sum(axis=1) + Yfd.to_numpy().sum(axis=1), q, commodities,
                 what="commodity balance U 1 + Y 1 = q", file=use_file,
                 cells=np.full(len(commodities), U.shape[1] + Yfd.shape[1]))

    notes: list[str] = [
        "industry-technology assumption: A = B D, B = U diag(g)^-1, D = V diag(q)^-1",
    ]
    resources = [str(r) for r in va_rows]
    if domestic:
        if import_file is None:
            raise TableFormatError(
                "domestic=True needs an import matrix (import_*.csv) in the BEA directory; "
                "this table has none (the summary tables ship without one)",
                Location(file=directory),
            )
        imp = read_table(import_file)
        M = imp.reindex(index=commodities, columns=industries)
        if M.isna().any().any():
            missing = [c for c in commodities if c not in imp.index][:3] + [c for c in industries if c not in imp.columns][:3]
            raise TableFormatError(f"import matrix lacks labels of the use table: {missing}", Location(file=import_file))
        fd_dom = [c for c in fd_cols if c != lay.imports_col]
        missing_fd = [c for c in fd_dom + [lay.imports_col] if c not in imp.columns]
        if missing_fd:
            raise TableFormatError(f"import matrix lacks final-demand columns {missing_fd}", Location(file=import_file, column=missing_fd[0]))
        MU = M.to_numpy()
        MY = imp.loc[commodities, fd_dom].to_numpy()
        U_d = U - MU
        neg = (U_d < -0.5)
        if neg.any():
            i, j = np.unravel_index(np.argmin(U_d), U_d.shape)
            warnings.warn(
                f"{import_file}: imports exceed total use in {int(neg.sum())} intermediate cell(s); "
                f"their domestic flows are negative, largest {commodities[i]!r} into {industries[j]!r}: "
                f"use {U[i, j]:.10g}, imports {MU[i, j]:.10g}",
                DataQualityWarning,
                stacklevel=2,
            )
        Y_d = Yfd[fd_dom].to_numpy() - MY
        # the imports the use table nets out (F05000 < 0) vs those the import matrix allocates
        allocated = MU.sum(axis=1) + MY.sum(axis=1)
        netted = -Yfd[lay.imports_col].to_numpy()
        gap = allocated - netted  # = (I - A_d) q - y_d, up to rounding
        cells = MU.shape[1] + MY.shape[1] + 1
        big = np.flatnonzero(np.abs(gap) > 0.5 * (cells + 1))
        if big.size:
            k = int(big[np.argmax(np.abs(gap[big]))])
            warnings.warn(
                f"{import_file}: the import matrix allocates imports that differ from the use table's "
                f"{lay.imports_col} for {big.size} commodit{'y' if big.size == 1 else 'ies'} "
                f"(largest {commodities[k]!r}: {allocated[k]:.10g} allocated, {netted[k]:.10g} netted "
                f"out by {lay.imports_col}); the domestic demand y_d does not reproduce q there: "
                f"(I - A_d) q - y_d = allocated - netted",
                DataQualityWarning,
                stacklevel=2,
            )
            notes.append(
                f"domestic: import matrix vs {lay.imports_col} differ for {', '.join(map(str, commodities[big]))}"
            )
        U, Y_use, categories = U_d, Y_d, fd_dom
        W = np.vstack([W, MU.sum(axis=0, keepdims=True)])
        resources.append("imports")
        notes.append(
            f"domestic: U - M, Y - M_Y, imports column {lay.imports_col} dropped, "
            "imported intermediate inputs as resource 'imports'"
        )
    else:
        Y_use, categories = Yfd.to_numpy(), list(fd_cols)

    # ---- zero outputs: explicit zero columns
    ginv = np.zeros_like(g, dtype=np.float64)
    np.divide(1.0, g, out=ginv, where=g != 0)
    if (g == 0).any():
        notes.append(f"industries with g = 0 (zero columns of B): {', '.join(map(str, industries[g == 0]))}")
    if (q == 0).any():
        notes.append(
            f"commodities with q = 0 (zero columns of D, A, l; x = 0): {', '.join(map(str, commodities[q == 0]))}"
        )
    # ---- commodity-by-commodity flows: Z = U diag(g)^-1 V, factor flows W diag(g)^-1 V
    Zc = (U * ginv[None, :]) @ V
    Fc = (W * ginv[None, :]) @ V
    low = np.flatnonzero(W.sum(axis=0)[: len(industries)] < 0) if not domestic else np.flatnonzero(
        W[:-1].sum(axis=0) < 0
    )
    if low.size:
        notes.append(
            f"industries with negative value added (inputs exceed output): {', '.join(map(str, industries[low]))}"
        )

    year = _year(use_file.name)
    if meta is None:
        meta = EconomyMeta(
            name=f"US BEA {year or ''} {lay.name} make/use{' (domestic)' if domestic else ''}".replace("  ", " "),
            year=year,
            units="million USD (producers' prices, current)",
            labour_unit=LABOUR_UNIT,
            source=f"U.S. Bureau of Economic Analysis, Input-Output Accounts ({directory})",
            licence="public domain (US federal government work, 17 U.S.C. 105)",
        )
    # resources by name and unit; the compensation row becomes "labour" (labour_unit)
    resource_names = {
        ("labour" if code == lay.compensation_row else code): name
        for code, name in value_added_names(resources, directory).items()
    }
    resource_units = {r: MONEY_UNIT for r in resources if r != lay.compensation_row}
    if domestic:
        resource_names["imports"] = "Imported intermediate inputs"
    meta = meta.amended(notes, resource_names=resource_names, resource_units=resource_units)
    products = pd.Index([str(c) for c in commodities], dtype=object)
    Z = pd.DataFrame(Zc, index=products, columns=products)
    Y = pd.DataFrame(Y_use, index=products, columns=[str(c) for c in categories])
    x = pd.Series(q, index=products)
    F = pd.DataFrame(Fc, index=resources, columns=products)
    return economy_from_flows(
        Z, Y, x, F, labour=lay.compensation_row, meta=meta, source=str(directory),
        # a monetary table: commodity inputs must not exceed commodity output. (An
        # industry with negative value added, detail S00201, is genuine and is
        # spread over the commodities it makes; it is listed in meta.notes.)
        check_inputs=True,
        allow_negative_value_added=allow_negative_value_added,
        names=bea_names(products, directory),
    )


def _year(name: str) -> int | None:
    m = re.search(r"(19|20)\d{2}", name)
    return int(m.group(0)) if m else None

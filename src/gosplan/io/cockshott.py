"""Cockshott's five-year-plan format (``wc22m/5yearplan``).

``flows.csv``, in physical units::

    headings,iron,coal,corn,bread
    iron,0.1,0,0,0          <- Z[i, j]: product i used by industry j
    ...
    labour,0.3,1,2,0.1      <- labour used by industry j
    output,10,6,10,1        <- gross output x_j

gives ``A = Z diag(x)^-1`` and ``l = labour / x``. Final demand: year 1 of
``labtarg.csv`` (rows ``year1``..``year5``, one column per product and a ``labour``
column, the labour supply, kept in ``meta.notes``) when the directory has one, else
the base year's net output ``y = x - A x = x - Z 1``.

The multi-year files (``cap.csv`` capital stocks, ``dep.csv`` depreciation rates) are
not read here (a later reader); their presence is harmless. The units are physical
and differ by product, so column sums of ``Z`` mean nothing and inputs are not checked
against output.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gosplan.errors import Location, TableFormatError
from gosplan.io.flows import economy_from_flows
from gosplan.io.tables import find_table, read_table, row_line
from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["read_cockshott"]


def _row(table: pd.DataFrame, label: str, file: Path) -> int:
    hits = [k for k, v in enumerate(table.index) if str(v).lower() == label]
    if not hits:
        raise TableFormatError(f"no {label!r} row", Location(file=file, product=label))
    return hits[0]


def read_cockshott(path: str | Path, *, target_year: str = "year1", meta: EconomyMeta | None = None) -> Economy:
    """Read Cockshott's ``flows.csv`` (and ``labtarg.csv`` if present).

    Parameters
    ----------
    path:
        Directory with ``flows.csv`` (or the file itself).
    target_year:
        Row of ``labtarg.csv`` whose targets become final demand.
    meta:
        Metadata; by default the directory name, physical units.

    Returns
    -------
    Economy
        Square; resource ``labour``; one final-demand category (``target_year`` or
        ``net_output``); ``recorded_output`` = the ``output`` row.
    """
    p = Path(path)
    directory = p if p.is_dir() else p.parent
    file = find_table(directory, "flows") if p.is_dir() else p
    assert file is not None
    table = read_table(file)
    if str(table.index.name or "").lower() != "headings":
        raise TableFormatError(
            f"the first cell of the header must be 'headings', found {table.index.name!r}",
            Location(file=file, line=table.attrs["header_line"]),
        )
    k_lab = _row(table, "labour", file)
    k_out = _row(table, "output", file)
    special = {k_lab, k_out}
    prod_rows = [k for k in range(len(table)) if k not in special]
    if max(prod_rows, default=-1) > min(special):
        k = next(k for k in prod_rows if k > min(special))
        raise TableFormatError(
            "product rows must come before the 'labour' and 'output' rows",
            Location(file=file, line=row_line(table, k), product=str(table.index[k])),
        )
    Z = table.iloc[prod_rows]
    x = table.iloc[k_out]
    labour = table.iloc[[k_lab]]
    notes: list[str] = []
    targets = find_table(directory, "labtarg", required=False)
    if targets is not None:
        tt = read_table(targets)
        hits = [k for k, v in enumerate(tt.index) if str(v).lower() == target_year.lower()]
        if not hits:
            raise TableFormatError(
                f"no {target_year!r} row (rows: {list(tt.index)})", Location(file=targets, product=target_year)
            )
        row = tt.iloc[hits[0]]
        missing = [c for c in table.columns if c not in row.index]
        extra = [c for c in row.index if c not in table.columns and str(c).lower() != "labour"]
        if missing or extra:
            raise TableFormatError(
                f"targets do not match the products of flows.csv: missing {missing}, unknown {extra}",
                Location(file=targets, line=tt.attrs["header_line"], column=(missing or extra)[0]),
            )
        Y = pd.DataFrame({target_year: row[list(table.columns)].to_numpy()}, index=table.columns)
        if "labour" in [str(c).lower() for c in row.index]:
            lab = row[[c for c in row.index if str(c).lower() == "labour"][0]]
            notes.append(f"labour supply in {target_year}: {lab:.10g} ({targets.name})")
    else:
        net = x.to_numpy() - Z.to_numpy().sum(axis=1)
        Y = pd.DataFrame({"net_output": net}, index=Z.index)
        notes.append("final demand = base-year net output x - A x (no labtarg.csv)")
    if meta is None:
        meta = EconomyMeta(
            name=directory.name,
            units="physical units (per product)",
            labour_unit="labour (units of flows.csv)",
            source=f"Cockshott five-year-plan format ({directory})",
        )
    meta = meta.amended(notes)
    xs = x.to_frame("output")
    xs.attrs = {"file": str(file), "lines": [row_line(table, k_out) or -1] * len(xs)}
    return economy_from_flows(
        Z, Y, xs, labour, labour=str(table.index[k_lab]),
        meta=meta, source=str(file), check_inputs=False,
    )

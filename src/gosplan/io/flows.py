"""A square :class:`~gosplan.model.Economy` from a flow table ``Z, Y, x``.

The symmetric input-output table in flows (money or physical units):

* ``Z`` (``n x n``): ``Z[i, j]`` of product ``i`` delivered to the making of product ``j``;
* ``Y`` (``n x c``): final demand by category;
* ``x`` (``n``): gross output (if absent, ``x = Z 1 + Y 1``);
* ``F`` (``factors``, ``r x n``): primary inputs (labour, value added, imports,
  satellite accounts) used by each product's activity.

gives the coefficients ``A = Z diag(x)^-1`` and ``S = F diag(x)^-1``; a product with
``x_j = 0`` gets a zero column in ``A`` and ``S`` (as pymrio does).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from gosplan.errors import DataQualityWarning, InvalidEconomyError, Location
from gosplan.io.tables import flatten_labels, label_str, row_line
from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["economy_from_flows", "coefficients"]


def _frame(obj: Any, what: str, source: str | None) -> pd.DataFrame:
    if isinstance(obj, pd.Series):
        return obj.to_frame()
    if isinstance(obj, pd.DataFrame):
        return obj
    raise InvalidEconomyError(
        f"{what} must be a labelled pandas DataFrame, got {type(obj).__name__}", Location(file=source)
    )


def _file(frame: pd.DataFrame, source: str | None) -> str | None:
    return frame.attrs.get("file") or source


def _dup_check(index: pd.Index, what: str, frame: pd.DataFrame, source: str | None, *, axis: int) -> None:
    if index.has_duplicates:
        dup = label_str(index[index.duplicated()][0])
        pos = [k for k, v in enumerate(index) if label_str(v) == dup]
        line = row_line(frame, pos[1]) if axis == 0 else frame.attrs.get("header_line")
        raise InvalidEconomyError(
            f"duplicate {what} label {dup!r} (positions {', '.join(str(p + 1) for p in pos)})",
            Location(file=_file(frame, source), line=line, product=dup),
        )


def _finite_check(values: np.ndarray, frame: pd.DataFrame, what: str, source: str | None) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise InvalidEconomyError(
            f"{what}[{label_str(frame.index[r])!r}, {label_str(frame.columns[c])!r}] is {values[r, c]}",
            Location(
                file=_file(frame, source),
                line=row_line(frame, r),
                column=label_str(frame.columns[c]),
                product=label_str(frame.index[r]),
            ),
        )


def _align_rows(frame: pd.DataFrame, products: pd.Index, what: str, source: str | None) -> pd.DataFrame:
    """``frame`` with rows in the order of ``products`` (matched by label)."""
    labels = flatten_labels(frame.index)
    _dup_check(labels, f"{what} row", frame, source, axis=0)
    if labels.equals(products):
        return frame
    missing = products.difference(labels, sort=False)
    extra = labels.difference(products, sort=False)
    if len(missing) or len(extra):
        parts = []
        if len(extra):
            parts.append(f"{what} has rows that Z lacks: {list(extra[:5])}")
        if len(missing):
            parts.append(f"{what} lacks rows of Z: {list(missing[:5])}")
        first = extra[0] if len(extra) else missing[0]
        line = row_line(frame, labels.get_loc(first)) if len(extra) else None
        raise InvalidEconomyError(
            "; ".join(parts), Location(file=_file(frame, source), line=line, product=str(first))
        )
    pos = labels.get_indexer(products)
    out = frame.iloc[pos]
    out.attrs = dict(frame.attrs)
    if frame.attrs.get("lines") is not None:
        out.attrs["lines"] = [int(frame.attrs["lines"][k]) for k in pos]
    return out


def coefficients(flows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``flows diag(x)^-1`` with zero columns where ``x_j = 0``."""
    scale = np.zeros_like(x, dtype=np.float64)
    np.divide(1.0, x, out=scale, where=x != 0)
    return flows * scale[None, :]


def economy_from_flows(
    Z: pd.DataFrame,
    Y: pd.DataFrame | pd.Series,
    x: pd.Series | pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
    *,
    labour: str | None = None,
    meta: EconomyMeta | None = None,
    source: str | None = None,
    check_inputs: bool = True,
    allow_negative_value_added: bool = False,
    rtol: float = 1e-6,
    atol: float = 1.0,
    names: Any = None,
    product_units: Any = None,
) -> Economy:
    """A square economy from flows: ``A = Z diag(x)^-1``, ``S = F diag(x)^-1``, demand ``Y``.

    Parameters
    ----------
    Z:
        Inter-industry flows, ``n x n``, rows and columns labelled by the same products
        (a ``(region, sector)`` MultiIndex becomes ``"region:sector"`` labels).
        Columns are matched to rows by label (a permuted column order is reordered).
    Y:
        Final demand, ``n x c`` (a Series is one category).
    x:
        Gross output (Series or one-column frame). ``None``: ``x = Z 1 + Y 1``.
        Given ``x`` becomes :attr:`Economy.recorded_output`.
    factors:
        Primary inputs / satellite accounts ``F``, ``r x n`` (columns = products).
    labour:
        Label of the row of ``factors`` that is labour. It is renamed ``"labour"`` and
        put first. ``None``: no labour resource (unless ``factors`` has a row named
        ``"labour"``).
    meta:
        Metadata of the economy.
    source:
        File or directory the tables came from, for messages (frames read by
        :func:`gosplan.io.tables.read_table` carry their own file and lines).
    check_inputs:
        Refuse a column whose inputs exceed its output, ``Z' 1 > x`` (a monetary table
        with negative value added is almost always a data error). Switch off for
        physical tables, whose column sums add incommensurable units.
    allow_negative_value_added:
        Accept such columns instead (a table whose negative value added is genuine:
        subsidised industries, a rest-of-the-world column): the economy is read and a
        :class:`~gosplan.errors.DataQualityWarning` names the columns (also in
        ``meta.notes``). The Leontief system stays solvable as long as ``A`` is productive.
    rtol, atol:
        Tolerance of that check: ``sum_i Z[i, j] - x_j > rtol * x_j + atol`` is refused.
        ``atol = 1`` allows one unit of rounding (tables published in whole millions).
    names, product_units:
        The products' published names and units (:attr:`Economy.names`): a Series or
        mapping by (flattened) product label, or a sequence in the order of ``Z``'s rows.

    Returns
    -------
    Economy
        ``make=None`` (square), ``use = A``, ``primary = S``, ``demand = Y``.

    Raises
    ------
    InvalidEconomyError
        Non-square or mislabelled ``Z``; labels of ``Y``, ``x`` or ``factors`` that do not
        match ``Z``'s; duplicate labels; NaN/inf; negative ``x``; inputs exceeding output.
        Each message names the product (and the file and line when known).
    """
    meta = meta or EconomyMeta()
    Z = _frame(Z, "Z", source)
    Y = _frame(Y, "Y", source)
    zfile = _file(Z, source)
    if Z.shape[0] != Z.shape[1]:
        raise InvalidEconomyError(
            f"Z is not square: {Z.shape[0]} rows x {Z.shape[1]} columns", Location(file=zfile)
        )
    rows = flatten_labels(Z.index)
    cols = flatten_labels(Z.columns)
    _dup_check(rows, "Z row", Z, source, axis=0)
    _dup_check(cols, "Z column", Z, source, axis=1)
    if not rows.equals(cols):
        only_rows = rows.difference(cols, sort=False)
        only_cols = cols.difference(rows, sort=False)
        if len(only_rows) or len(only_cols):
            k = next(i for i, (a, b) in enumerate(zip(rows, cols)) if a != b)
            raise InvalidEconomyError(
                f"Z is mislabelled: row {k + 1} is {rows[k]!r} but column {k + 1} is {cols[k]!r} "
                f"(rows only: {list(only_rows[:5])}, columns only: {list(only_cols[:5])})",
                Location(file=zfile, line=row_line(Z, k), column=cols[k], product=rows[k]),
            )
        Z = Z.iloc[:, cols.get_indexer(rows)]
    products = rows
    zv = Z.to_numpy(dtype=np.float64)
    _finite_check(zv, Z, "Z", source)

    Y = _align_rows(Y, products, "Y", source)
    categories = flatten_labels(Y.columns)
    _dup_check(categories, "Y column (final-demand category)", Y, source, axis=1)
    yv = Y.to_numpy(dtype=np.float64)
    _finite_check(yv, Y, "Y", source)

    recorded: np.ndarray | None
    if x is None:
        xv = zv.sum(axis=1) + yv.sum(axis=1)
        recorded = None
        xframe = None
    else:
        xframe = _frame(x, "x", source)
        if xframe.shape[1] != 1:
            raise InvalidEconomyError(
                f"x must have one column, got {xframe.shape[1]}", Location(file=_file(xframe, source))
            )
        xframe = _align_rows(xframe, products, "x", source)
        xv = xframe.to_numpy(dtype=np.float64)[:, 0].copy()
        _finite_check(xv[:, None], xframe, "x", source)
        recorded = xv
    neg = np.flatnonzero(xv < 0)
    if neg.size:
        j = int(neg[0])
        where = xframe if xframe is not None else Z
        raise InvalidEconomyError(
            f"negative gross output x = {xv[j]:.10g}"
            + ("" if xframe is not None else " (computed as Z 1 + Y 1)")
            + (f"; {neg.size} products in all" if neg.size > 1 else ""),
            Location(file=_file(where, source), line=row_line(where, j), product=products[j]),
        )
    if check_inputs:
        inputs = zv.sum(axis=0)
        excess = inputs - xv
        bad = np.flatnonzero(excess > rtol * np.abs(xv) + atol)
        if bad.size and allow_negative_value_added:
            shown = ", ".join(map(str, products[bad[:10]])) + (f" and {bad.size - 10} more" if bad.size > 10 else "")
            message = (
                f"{meta.name}: {bad.size} column(s) with negative value added (inputs exceed output) "
                f"accepted: {shown}"
            )
            warnings.warn(message, DataQualityWarning, stacklevel=3)
            meta = meta.amended([message])
        elif bad.size:
            j = int(bad[0])
            raise InvalidEconomyError(
                f"inputs exceed output: column sum of Z = {inputs[j]:.10g} > gross output "
                f"x = {xv[j]:.10g} (by {excess[j]:.6g}; negative value added)"
                + (f"; {bad.size} products in all" if bad.size > 1 else "")
                + " (allow_negative_value_added=True, or --allow-negative-value-added, accepts it)",
                Location(file=zfile, column=products[j], product=products[j]),
            )

    A = coefficients(zv, xv)
    resources: list[str] = []
    S = np.zeros((0, len(products)))
    labour_label: str | None = None
    if factors is not None:
        F = _frame(factors, "factors", source)
        fcols = flatten_labels(F.columns)
        _dup_check(fcols, "factors column", F, source, axis=1)
        if not fcols.equals(products):
            missing = products.difference(fcols, sort=False)
            extra = fcols.difference(products, sort=False)
            if len(missing) or len(extra):
                first = str(extra[0] if len(extra) else missing[0])
                raise InvalidEconomyError(
                    f"factor inputs' columns do not match Z: columns Z lacks {list(extra[:5])}, "
                    f"products missing {list(missing[:5])}",
                    Location(file=_file(F, source), line=F.attrs.get("header_line"), column=first, product=first),
                )
            F = F.iloc[:, fcols.get_indexer(products)]
        flabels = flatten_labels(F.index)
        _dup_check(flabels, "factor", F, source, axis=0)
        fv = F.to_numpy(dtype=np.float64)
        _finite_check(fv, F, "factors", source)
        resources = list(flabels)
        S = coefficients(fv, xv)
        if labour is not None:
            if labour not in resources:
                raise InvalidEconomyError(
                    f"labour row {labour!r} not among the factor inputs {resources[:10]}",
                    Location(file=_file(F, source)),
                )
            k = resources.index(labour)
            if labour != "labour" and "labour" in resources:
                raise InvalidEconomyError(
                    f"cannot rename {labour!r} to 'labour': a factor row is already named 'labour'",
                    Location(file=_file(F, source)),
                )
            order = [k] + [i for i in range(len(resources)) if i != k]
            S = S[order]
            resources = ["labour"] + [resources[i] for i in order[1:]]
            labour_label = "labour"
        elif "labour" in resources:
            k = resources.index("labour")
            order = [k] + [i for i in range(len(resources)) if i != k]
            S = S[order]
            resources = [resources[i] for i in order]
            labour_label = "labour"
    elif labour is not None:
        raise InvalidEconomyError(f"labour row {labour!r} given but no factor inputs", Location(file=source))

    return Economy(
        products=products,
        use=A,
        primary=S,
        resources=pd.Index(resources, dtype=object),
        demand=yv,
        categories=categories,
        recorded_output=recorded,
        labour=labour_label,
        meta=meta,
        names=_by_row(names, rows, products),
        product_units=_by_row(product_units, rows, products),
    )


def _by_row(values: Any, rows: pd.Index, products: pd.Index) -> Any:
    """Per-product texts given in ``Z``'s row order (a sequence) or by label, as a Series."""
    if values is None or isinstance(values, (pd.Series, dict)):
        return values
    values = list(values)
    if len(values) != len(rows):
        raise InvalidEconomyError(f"{len(values)} product names or units for {len(rows)} products")
    return pd.Series(values, index=rows, dtype=object).reindex(products)

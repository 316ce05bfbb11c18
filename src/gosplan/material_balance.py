"""Material balances: the gross output every product needs so that final demand is met.

``balance(economy, demand)`` solves ``(I - A) x = y`` and, on the transposed system
``(I - A)^T [v, m_r, m] = [l, p_r, 1]``, the labour values ``v = l (I - A)^-1``,
the primary-input multipliers ``p_r (I - A)^-1`` and the output multipliers
``1' (I - A)^-1``, in one pass over the matrix for all of them.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from gosplan.errors import DataQualityWarning, InvalidEconomyError, Location
from gosplan.linalg.both import solve_both
from gosplan.linalg.leontief import Method, prepare, solve
from gosplan.model.economy import Economy, worded_name
from gosplan.results import BalanceResult, Status

__all__ = ["balance", "demand_vector"]

Progress = Callable[[str, int, float], None]


def demand_vector(economy: Economy, demand: Any = None, *, source: str | None = None) -> np.ndarray:
    """Final demand ``y`` (length ``n``) from one of:

    * ``None``: the economy's own final demand ``Y 1``;
    * an array of length ``n`` in product order;
    * a mapping or :class:`pandas.Series` ``{product: quantity}`` (products not
      named get zero);
    * a :class:`pandas.DataFrame` with columns ``product`` and ``quantity``.

    Unknown products raise :class:`~gosplan.errors.UnknownProductError`.
    """
    n = economy.n_products
    if demand is None:
        return economy.y.copy()
    if isinstance(demand, pd.DataFrame):
        missing = {"product", "quantity"} - set(demand.columns)
        if missing:
            raise InvalidEconomyError(
                f"demand table lacks column(s) {sorted(missing)}; expected 'product,quantity'",
                Location(file=source),
            )
        demand = pd.Series(demand["quantity"].to_numpy(), index=demand["product"].astype(str))
    if isinstance(demand, Mapping) and not isinstance(demand, pd.Series):
        demand = pd.Series(demand, dtype=float)
    if isinstance(demand, pd.Series):
        if demand.index.has_duplicates:
            dup = demand.index[demand.index.duplicated()][0]
            raise InvalidEconomyError(f"demand names product {dup!r} twice", Location(file=source, product=str(dup)))
        labels = demand.index
        if economy.products.dtype != object and not pd.api.types.is_string_dtype(economy.products.dtype):
            labels = labels  # numeric labels compared as they are
        pos = economy.product_index(labels.astype(economy.products.dtype) if len(labels) else labels, file=source)
        values = pd.to_numeric(demand, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidEconomyError(
                f"demand quantity {demand.iloc[k]!r} is not a finite number",
                Location(file=source, product=str(demand.index[k])),
            )
        y = np.zeros(n)
        y[pos] = values
        return y
    y = np.asarray(demand, dtype=np.float64).reshape(-1)
    if y.shape != (n,):
        raise InvalidEconomyError(f"demand has length {y.size}, economy has {n} products")
    if not np.isfinite(y).all():
        k = int(np.flatnonzero(~np.isfinite(y))[0])
        raise InvalidEconomyError(f"demand is {y[k]}", Location(product=str(economy.products[k])))
    return y


NEGATIVE_SHOWN = 3
"""Products named in the note on negative gross outputs."""


def _negative_outputs(economy: Economy, x: np.ndarray, y: np.ndarray, tol: float) -> str:
    """A note (also a :class:`~gosplan.errors.DataQualityWarning`) naming the products whose gross
    output comes out negative, ``""`` where none does. ``(I - A)^-1 >= 0``, so only a negative final
    demand (net imports, sales of used goods) larger than what the economy uses of a product makes
    its gross output negative: the balance is exact, but no production plan has such a figure."""
    floor = tol * max(float(np.abs(x).max(initial=0.0)), 1.0)
    neg = np.flatnonzero(x < -floor)
    if neg.size == 0:
        return ""
    order = neg[np.argsort(x[neg])][:NEGATIVE_SHOWN]
    words = ", ".join(
        f"{worded_name(economy.names, economy.products, economy.products[i])} {x[i]:.6g} "
        f"(final demand {y[i]:.6g})"
        for i in order
    )
    more = f" and {neg.size - order.size} more" if neg.size > order.size else ""
    note = (
        f"{neg.size} product(s) have a negative gross output, from a negative final demand larger than "
        f"the economy uses of them (net imports, sales of used goods): {words}{more}"
    )
    warnings.warn(f"{economy.meta.name}: {note}", DataQualityWarning, stacklevel=3)
    return note


def balance(
    economy: Economy,
    demand: Any = None,
    *,
    scale: float = 1.0,
    method: Method = "auto",
    tol: float = 1e-10,
    maxiter: int = 5000,
    values: bool = True,
    multipliers: bool = True,
    progress: Progress | None = None,
) -> BalanceResult:
    """Material balance: gross output ``x`` with ``(I - A) x = y`` and the values with it.

    Parameters
    ----------
    economy:
        A square economy (one technique per product).
    demand:
        Final demand ``y``; see :func:`demand_vector`. Default: the economy's own.
    scale:
        Multiplies the demand (``--scale`` of the CLI).
    method:
        ``"auto"`` (dense LU up to 2,500 products, else ``"trim-bicgstab"``: acyclic
        levels peeled off and solved exactly, BiCGSTAB on the rest), ``"dense"``,
        ``"trim-gs"``, ``"trim-jacobi"``, ``"trim-bicgstab"``, ``"scc-gs"``,
        ``"scc-jacobi"``, ``"scc-bicgstab"``, ``"bicgstab"``. See
        :mod:`gosplan.linalg.leontief`.
    tol:
        Relative residual every system must reach, checked by gosplan after the solve.
    values:
        Also compute labour values (and, with ``multipliers``, the multipliers).
    multipliers:
        Also compute primary-input multipliers ``P (I - A)^-1`` for every resource
        and output multipliers ``1' (I - A)^-1``.
    progress:
        ``progress(system, iteration, residual)`` during iterative solves.

    Returns
    -------
    BalanceResult
        ``status`` is :attr:`Status.SOLVED` only if every system passed ``tol``.

    Examples
    --------
    >>> import numpy as np, gosplan
    >>> eco = gosplan.Economy.from_coefficients(
    ...     np.array([[0.2, 0.3], [0.4, 0.1]]), y=[10.0, 20.0], l=[1.0, 2.0])
    >>> res = gosplan.balance(eco)
    >>> np.round(res.gross_output, 6)
    array([25.      , 33.333333])
    >>> np.round(res.labour_values, 6)
    array([2.833333, 3.166667])
    """
    if not np.isfinite(scale):
        raise InvalidEconomyError(f"scale must be finite, got {scale}")
    t0 = time.perf_counter()
    y = demand_vector(economy, demand) * float(scale)
    A = economy.A
    system = prepare(A, labels=economy.products)

    def cb(name: str) -> Callable[[int, float], None] | None:
        if progress is None:
            return None
        return lambda it, r: progress(name, it, r)

    r = len(economy.resources)
    P = economy.primary_coefficients if r else np.zeros((0, economy.n_products))
    labour_k = economy.resources.get_loc(economy.labour) if economy.labour is not None else None
    rows: list[np.ndarray] = []  # right-hand sides of the values system
    if values and (r or multipliers):
        rows = [P[k] for k in range(r)] if multipliers else []
        if not multipliers and labour_k is not None:
            rows = [P[labour_k]]
        if multipliers:
            rows.append(np.ones(economy.n_products))
    V = info_v = None
    if len(rows) == 1 and method in ("auto", "trim-bicgstab"):
        # gross output and one column of values: iterated together where both take the
        # trimmed BiCGSTAB (one pass over R's rows a product for both), else one after the other
        x, info_x, v, info_v = solve_both(system, y, rows[0], method=method, tol=tol, maxiter=maxiter)
        V = v[:, None]
    else:
        x, info_x = solve(
            system, y, method=method, tol=tol, maxiter=maxiter, progress=cb("x"), system_name="x",
            verify_productive=not rows,  # the values solve certifies it once
        )
        if rows:
            V, info_v = solve(
                system, np.column_stack(rows), transpose=True, method=method, tol=tol, maxiter=maxiter,
                progress=cb("values"), system_name="values",
            )
    solves = [info_x] if info_v is None else [info_x, info_v]
    primary_totals = P @ x if r else np.zeros(0)
    labour_values = primary_multipliers = output_multipliers = None
    if V is not None:
        if multipliers:
            primary_multipliers = V[:, :r].T.copy()
            output_multipliers = V[:, r].copy()
            if labour_k is not None:
                labour_values = primary_multipliers[labour_k].copy()
        elif labour_k is not None:
            labour_values = V[:, 0].copy()
    ok = all(s.converged for s in solves)
    worst = max(s.relative_residual for s in solves)
    negative = _negative_outputs(economy, x, y, tol)
    if ok:
        message = f"solved: relative residual {worst:.2e} <= {tol:.0e}" + (f"; {negative}" if negative else "")
    else:
        message = (
            f"not converged: relative residual {worst:.2e} > tolerance {tol:.0e} "
            f"({', '.join(f'{s.system}: {s.relative_residual:.2e} after {s.iterations} iterations' for s in solves)})"
        )
    return BalanceResult(
        economy=economy.meta.name,
        products=economy.products,
        final_demand=y,
        gross_output=x,
        labour_values=labour_values,
        resources=economy.resources,
        primary_totals=primary_totals,
        primary_multipliers=primary_multipliers,
        output_multipliers=output_multipliers,
        status=Status.SOLVED if ok else Status.NOT_CONVERGED,
        message=message,
        solves=tuple(solves),
        seconds=time.perf_counter() - t0,
        labour_unit=economy.meta.labour_unit,
        units=economy.meta.units,
        resource_texts=economy.meta.resource_texts(economy.resources),
    )

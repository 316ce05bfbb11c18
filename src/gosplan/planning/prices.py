"""Prices that come with a plan: shadow prices from the program's duals, and the
labour values and cost prices of the techniques the plan uses.

Sign convention (every price ``>= 0``): a price is the gain in the planning
objective per unit by which its constraint is relaxed — one more unit of a
product available beyond the balance, one more unit of a resource, one more unit
of capacity. For ``cost`` the "gain" is the cost saved. The reduced cost of a
technique is the objective lost per unit of it forced into the plan: ``0`` for
techniques in use, ``>= 0`` for the others (capacity rents excluded).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gosplan.errors import NotProductiveError
from gosplan.optim.lp import LinearProgram
from gosplan.planning.formulate import Layout
from gosplan.planning.problem import PlanProblem

__all__ = ["duals_to_prices", "chosen_techniques", "values_and_cost_prices"]


def duals_to_prices(
    problem: PlanProblem, lp: LinearProgram, layout: Layout, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(shadow_price, resource_price, capacity_price, reduced_cost, bound_price)`` from the
    row duals ``y`` (HiGHS' convention, see :mod:`gosplan.optim.lp`).

    ``shadow_price`` is the dual of each product's balance row (one more unit of the
    product available from outside the plan). ``bound_price`` is the dual of the
    separate floor/ceiling row of a product whose balance row carries the objective
    variable: ``> 0`` where its floor binds, ``< 0`` where its ceiling binds (the gain
    per unit the ceiling is raised is ``-bound_price``); for other products a floor is
    the balance row's own bound and its price is the shadow price.
    """
    n, m = problem.n, problem.m
    p = np.maximum(y[:n], 0.0)  # a dual of -1e-15 is a zero price
    bound = np.zeros(n)
    if layout.bound_rows.size:
        bound[layout.bound_rows] = y[layout.bound_start :]
    mu = np.zeros(len(problem.resources))
    mu[layout.resource_rows] = np.maximum(-y[layout.resource_start : layout.capacity_start], 0.0)
    kappa = np.zeros(n)
    kappa[layout.capacity_rows] = np.maximum(-y[layout.capacity_start : layout.bound_start], 0.0)
    reduced = lp.c[:m] - (lp.K.T @ y)[:m]  # every row counts, bound rows too
    if layout.capacity_cols.size:
        outputs = np.asarray(problem.make[layout.capacity_col_product, layout.capacity_cols]).ravel()
        rent = np.maximum(-reduced[layout.capacity_cols], 0.0)
        kappa[layout.capacity_col_product] = rent / outputs
        reduced[layout.capacity_cols] += rent  # the rent is the capacity's, not the technique's
    return p, mu, kappa, np.asarray(reduced), bound


def chosen_techniques(problem: PlanProblem, x: np.ndarray) -> np.ndarray | None:
    """For each product the activity making most of it in the plan (``None`` with joint products).

    Ties and products nobody makes in the plan go to the first technique listed;
    products no technique makes get ``-1``.
    """
    make = problem.make
    if np.bincount(make.indices, minlength=problem.m).max(initial=0) > 1:
        return None
    made = np.zeros(problem.m)
    made[make.indices] = make.data * np.asarray(x)[make.indices]
    return problem.best_technique(-made)[0]


def values_and_cost_prices(
    problem: PlanProblem, x: np.ndarray, resource_price: np.ndarray, objective: str = "fulfilment"
) -> tuple[np.ndarray, np.ndarray, str]:
    """Labour values ``v = l_B (I - A_B)^-1`` and cost prices ``p = (w' P_B)(I - A_B)^-1``.

    ``B`` picks one technique per product (:func:`chosen_techniques`); ``A_B`` and
    ``P_B`` are its input and resource coefficients per unit of output. Cost prices
    value resources at ``w``: their shadow prices ``mu`` (in labour units when labour
    has a positive price) for ``fulfilment`` and ``harmony``; for ``cost``, where the
    shadow prices are costs saved, at their cost plus their scarcity rent,
    ``w = cost + mu``. Capacity rents are left out: where a capacity binds the shadow
    price exceeds the cost price by the rents embodied. Returns ``NaN`` arrays and the
    reason when they are undefined (joint production, an unproductive choice).
    """
    from gosplan.linalg.leontief import prepare, solve

    n = problem.n
    nan = np.full(n, np.nan)
    choice = chosen_techniques(problem, x)
    if choice is None:
        return nan, nan.copy(), "joint production: labour values are not defined per product"
    if (choice < 0).any():
        return nan, nan.copy(), "some products have no technique"
    scale = np.asarray(problem.make[np.arange(n), choice]).ravel()
    A = sp.csr_array(problem.net[:, choice] * -1.0)
    A = sp.csr_array(A + sp.diags_array(scale))  # U_B (the diagonal of O_B removed)
    A = sp.csr_array(A @ sp.diags_array(1.0 / scale))
    P = sp.csr_array(problem.primary[:, choice] @ sp.diags_array(1.0 / scale))
    rows = []
    if problem.labour is not None:
        rows.append(P[[problem.labour], :].toarray().ravel())
    mu = resource_price
    if objective == "cost":
        mu = np.asarray(problem.cost, dtype=np.float64) + mu
    elif problem.labour is not None and mu[problem.labour] > 0:
        mu = mu / mu[problem.labour]
    rows.append(np.asarray(P.T @ mu).ravel())
    try:
        Z, _ = solve(prepare(A), np.column_stack(rows), transpose=True, tol=1e-10)
    except NotProductiveError as exc:
        return nan, nan.copy(), f"the techniques in use are not productive: {exc}"
    values = Z[:, 0] if problem.labour is not None else nan
    return values, Z[:, -1], ""

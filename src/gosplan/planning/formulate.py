"""The linear (and harmony) programs behind each objective, and the map back from their rows.

Columns: the activity levels ``x`` (``m``), then the objective's own variables —
the plan ray ``z`` for ``fulfilment``, the relative deviations ``s_i`` of the
targeted products for ``harmony``, none for ``cost``.

Rows, in this order (a :class:`Layout` remembers where each block starts):

* **balance** ``i = 0..n-1``: ``N_i x - y_i z >= b_i`` for the products being
  maximised (``fulfilment``), ``N_i x - y_i s_i >= y_i + b_i`` for targeted products
  (``harmony``), ``N_i x >= max(floor_i, held_i, b_i)`` otherwise, with the ceiling as
  upper bound where the row carries no objective variable; ``b`` is the committed
  final demand (:attr:`PlanProblem.base`, zero unless given);
* **resource** ``P_r x <= R_r`` for each limited resource;
* **capacity** ``O_i x <= cap_i`` for products made by several activities or as
  by-products (a product made by exactly one single-output activity gets the
  column bound ``x_j <= cap_i / O_ij`` instead);
* **bounds** ``floor_i <= N_i x <= ceiling_i`` for products whose balance row
  carries an objective variable and that have a floor above zero or a ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram
from gosplan.planning.problem import PlanProblem

__all__ = ["Layout", "fulfilment_lp", "harmony_lp", "cost_lp", "capacity_structure"]


@dataclass(frozen=True)
class Layout:
    """Where each block of rows and columns sits in a formulated program."""

    m: int
    extra: np.ndarray  # product index of each extra column (z: [-1])
    resource_rows: np.ndarray  # resource index of each resource row
    capacity_rows: np.ndarray  # product index of each capacity row
    bound_rows: np.ndarray  # product index of each bound row
    capacity_cols: np.ndarray  # activity j bounded by a product capacity
    capacity_col_product: np.ndarray  # that product i
    n: int

    @property
    def resource_start(self) -> int:
        return self.n

    @property
    def capacity_start(self) -> int:
        return self.n + self.resource_rows.size

    @property
    def bound_start(self) -> int:
        return self.capacity_start + self.capacity_rows.size


def capacity_structure(problem: PlanProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split capacities into column bounds and rows.

    Returns ``(col_products, cols, row_products)``: capacity of product
    ``col_products[q]`` becomes the bound of column ``cols[q]``; products in
    ``row_products`` get a capacity row.
    """
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    if capped.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    make = problem.make
    makers_per_product = np.diff(make.indptr)
    outputs_per_activity = np.bincount(make.indices, minlength=problem.m)
    single = capped[makers_per_product[capped] == 1]
    cols = make.indices[make.indptr[single]].astype(np.int64)
    ok = outputs_per_activity[cols] == 1
    return single[ok], cols[ok], np.setdiff1d(capped, single[ok])


def _assemble(
    problem: PlanProblem,
    *,
    extra_cols: sp.csr_array,
    extra: np.ndarray,
    c_extra: np.ndarray,
    extra_lower: np.ndarray,
    extra_upper: np.ndarray,
    balance_lower: np.ndarray,
    balance_upper: np.ndarray,
    bound_products: np.ndarray,
    c_x: np.ndarray | None = None,
    harmony_weights: np.ndarray | None = None,
) -> tuple[LinearProgram, Layout]:
    n, m = problem.n, problem.m
    limited = np.flatnonzero(np.isfinite(problem.available))
    cap_col_products, cap_cols, cap_row_products = capacity_structure(problem)
    blocks = [sp.hstack([problem.net, extra_cols], format="csr")]
    lower = [balance_lower]
    upper = [balance_upper]
    ne = extra.size
    if limited.size:
        blocks.append(sp.hstack([problem.primary[limited], sp.csr_array((limited.size, ne))], format="csr"))
        lower.append(np.full(limited.size, -np.inf))
        upper.append(problem.available[limited])
    if cap_row_products.size:
        blocks.append(sp.hstack([problem.make[cap_row_products], sp.csr_array((cap_row_products.size, ne))], format="csr"))
        lower.append(np.full(cap_row_products.size, -np.inf))
        upper.append(problem.capacity[cap_row_products])
    if bound_products.size:
        blocks.append(sp.hstack([problem.net[bound_products], sp.csr_array((bound_products.size, ne))], format="csr"))
        lower.append(problem.floor[bound_products])
        upper.append(problem.ceiling[bound_products])
    K = sp.csr_array(sp.vstack(blocks, format="csr"))
    col_upper = np.full(m, np.inf)
    if cap_cols.size:
        outputs = problem.make[cap_col_products, cap_cols]
        col_upper[cap_cols] = problem.capacity[cap_col_products] / np.asarray(outputs).ravel()
    layout = Layout(
        m=m,
        extra=extra,
        resource_rows=limited,
        capacity_rows=cap_row_products,
        bound_rows=bound_products,
        capacity_cols=cap_cols,
        capacity_col_product=cap_col_products,
        n=n,
    )
    products, activities, resources = problem.products, problem.activities, problem.resources

    def product(i: int) -> str:
        """``code (published name)`` where the economy names its products, else the code."""
        return problem.product_words(products[i])

    def row_name(i: int) -> str:
        if i < n:
            return f"balance of {product(i)}"
        if i < layout.capacity_start:
            return f"resource {resources[limited[i - n]]}"
        if i < layout.bound_start:
            return f"capacity of {product(cap_row_products[i - layout.capacity_start])}"
        return f"floor/ceiling of {product(bound_products[i - layout.bound_start])}"

    def col_name(j: int) -> str:
        if j < m:
            return f"activity {activities[j]}"
        e = extra[j - m]
        return "plan ray z" if e < 0 else f"deviation of {product(e)}"

    c = np.concatenate([np.zeros(m) if c_x is None else c_x, c_extra])
    # The rows gosplan's check judges against the user's own number (a target, a held
    # class, a floor, a ceiling, a resource, a capacity): every row but the plain
    # material balances N_i x >= 0 of products nobody asked for, judged by their flows.
    bal_lower = np.asarray(lower[0])
    bal_upper = np.asarray(upper[0])
    own = sp.csr_array(extra_cols, copy=True)
    own.eliminate_zeros()
    asked = (np.diff(own.indptr) > 0) | (np.isfinite(bal_lower) & (bal_lower != 0)) | np.isfinite(bal_upper)
    row_user = np.concatenate([asked, np.ones(K.shape[0] - n, dtype=bool)])
    lp = LinearProgram(
        c=c,
        K=K,
        row_lower=np.concatenate(lower),
        row_upper=np.concatenate(upper),
        col_lower=np.concatenate([np.zeros(m), extra_lower]),
        col_upper=np.concatenate([col_upper, extra_upper]),
        harmony_columns=None if harmony_weights is None else m + np.arange(ne),
        harmony_weights=harmony_weights,
        row_names=row_name,
        col_names=col_name,
        row_user=row_user,
        objective_columns=m + np.arange(ne),
    )
    return lp, layout


def fulfilment_lp(
    problem: PlanProblem,
    active: np.ndarray,
    held: np.ndarray,
    *,
    z_lower: float = 0.0,
    z_upper: float = np.inf,
) -> tuple[LinearProgram, Layout]:
    """``min -z`` s.t. ``N_i x >= b_i + z y_i`` (``i`` in ``active``), ``N_i x >= held_i`` elsewhere.

    ``held`` (``n``) carries the net outputs earlier priority stages secured; ``b`` the
    committed final demand.
    """
    n = problem.n
    y = problem.target
    b = problem.base
    is_active = np.zeros(n, dtype=bool)
    is_active[active] = True
    zcol = sp.csr_array((np.where(is_active, -y, 0.0), (np.arange(n), np.zeros(n, dtype=np.int64))), shape=(n, 1))
    balance_lower = np.where(is_active, b, np.maximum(np.maximum(problem.floor, held), problem.base_floor))
    balance_upper = np.where(is_active, np.inf, problem.ceiling)
    bound_products = np.flatnonzero(is_active & ((problem.floor > 0) | np.isfinite(problem.ceiling)))
    return _assemble(
        problem,
        extra_cols=zcol,
        extra=np.array([-1]),
        c_extra=np.array([-1.0]),
        extra_lower=np.array([z_lower]),
        extra_upper=np.array([z_upper]),
        balance_lower=balance_lower,
        balance_upper=balance_upper,
        bound_products=bound_products,
    )


def harmony_lp(problem: PlanProblem) -> tuple[LinearProgram, Layout]:
    """``max sum w_i H(s_i)`` s.t. ``N_i x >= b_i + y_i (1 + s_i)``, ``s_i >= -1`` for targeted ``i``."""
    n = problem.n
    y = problem.target
    b = problem.base
    targeted = np.flatnonzero(y > 0)
    cols = sp.csr_array((-y[targeted], (targeted, np.arange(targeted.size))), shape=(n, targeted.size))
    has = y > 0
    balance_lower = np.where(has, y + b, np.maximum(problem.floor, problem.base_floor))
    balance_upper = np.where(has, np.inf, problem.ceiling)
    bound_products = np.flatnonzero(has & ((problem.floor > 0) | np.isfinite(problem.ceiling)))
    return _assemble(
        problem,
        extra_cols=cols,
        extra=targeted,
        c_extra=np.zeros(targeted.size),
        extra_lower=np.full(targeted.size, -1.0),
        extra_upper=np.full(targeted.size, np.inf),
        balance_lower=balance_lower,
        balance_upper=balance_upper,
        bound_products=bound_products,
        harmony_weights=problem.weight[targeted],
    )


def cost_lp(problem: PlanProblem) -> tuple[LinearProgram, Layout]:
    """``min (cost' P) x`` s.t. ``N x >= max(b + y, floor)`` (``max(b, floor)`` where ``y = 0``), ``N x <= ceiling``."""
    n = problem.n
    b = problem.base
    c_x = problem.primary.T @ problem.cost
    return _assemble(
        problem,
        extra_cols=sp.csr_array((n, 0)),
        extra=np.zeros(0, dtype=np.int64),
        c_extra=np.zeros(0),
        extra_lower=np.zeros(0),
        extra_upper=np.zeros(0),
        balance_lower=np.where(
            problem.target > 0, np.maximum(problem.target + b, problem.floor),
            np.maximum(problem.floor, problem.base_floor),
        ),
        balance_upper=problem.ceiling,
        bound_products=np.zeros(0, dtype=np.int64),
        c_x=np.asarray(c_x, dtype=np.float64),
    )

"""Which targeted products make a plan unbounded: those nothing limits.

A plan's objective grows without end only along a *recession direction* of its constraints:
activity levels ``x >= 0`` that use no limited resource and no capped capacity on net and
take nothing from any product's balance,

.. math::

    N x \\ge 0, \\quad N_i x \\le 0 \\ (\\text{finite ceiling } i), \\quad
    P_r x \\le 0 \\ (R_r < \\infty), \\quad O_c x \\le 0 \\ (\\text{capacity } c < \\infty),
    \\quad x \\ge 0,

and make more of a targeted product, ``N_i x > 0``. Directions form a cone, so the products
each can grow along can all grow together: one linear program, ``max sum_i t_i`` subject to
the cone and ``N_i x >= t_i``, ``0 <= t_i <= 1`` over the targeted products, finds every one
(``t_i = 1``). For an input-output table with one technique per product these are the products
whose embodied limited resources are zero (say, customs duties with no labour behind them).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gosplan.planning.problem import PlanProblem

__all__ = ["unbounded_products", "EXPLAIN_MAX_COLUMNS"]

EXPLAIN_MAX_COLUMNS = 200_000
"""Activities up to which an unbounded plan's free products are found (one LP of that size)."""


def unbounded_products(problem: PlanProblem) -> np.ndarray | None:
    """Indices of the targeted products whose net output can grow without end (see the module),
    ``None`` where the program is too large to look (:data:`EXPLAIN_MAX_COLUMNS`) or the search
    fails."""
    from scipy.optimize import linprog

    m = problem.m
    T = np.flatnonzero(problem.target > 0)
    if m > EXPLAIN_MAX_COLUMNS or T.size == 0:
        return None if T.size else np.zeros(0, dtype=np.int64)
    N = sp.csr_array(problem.net)
    ceiling = np.flatnonzero(np.isfinite(problem.ceiling))
    limited = np.flatnonzero(np.isfinite(problem.available))
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    # rows "<= 0" in x, then "t_i - N_i x <= 0" for the targeted products
    zeros = lambda k: sp.csr_array((k, T.size))  # noqa: E731
    blocks = [
        [-N, zeros(problem.n)],
        [sp.csr_array(N[ceiling]), zeros(ceiling.size)],
        [sp.csr_array(problem.primary[limited]), zeros(limited.size)],
        [sp.csr_array(problem.make[capped]), zeros(capped.size)],
        [-sp.csr_array(N[T]), sp.identity(T.size, format="csr")],
    ]
    A = sp.vstack([sp.hstack(row, format="csr") for row in blocks], format="csr")
    c = np.concatenate([np.zeros(m), -np.ones(T.size)])
    bounds = [(0, None)] * m + [(0, 1)] * T.size
    found = linprog(c, A_ub=A, b_ub=np.zeros(A.shape[0]), bounds=bounds, method="highs")
    if found.status != 0:
        return None
    t = found.x[m:]
    return T[t > 0.5]


def unbounded_message(problem: PlanProblem, objective: str, shown: int = 5) -> str:
    """The message of an unbounded plan: the products nothing limits, by name, where found."""
    limits = (np.isfinite(problem.available).any() or np.isfinite(problem.capacity).any()
              or np.isfinite(problem.ceiling).any())
    free = unbounded_products(problem) if limits else None
    if free is None or free.size == 0:
        return (
            f"unbounded: nothing limits the {objective} objective; limit a resource the plan uses "
            "(resource,available) or give capacities"
        )
    names = ", ".join(problem.product_words(problem.products[i]) for i in free[:shown])
    more = f" and {free.size - shown} more" if free.size > shown else ""
    return (
        f"unbounded: nothing limits the {objective} objective in {free.size} targeted product(s), "
        f"which can be made without any limited resource or capacity: {names}{more}; give them "
        "capacities or ceilings, limit a resource they use, or leave them out of the targets"
    )

"""Primal feasibility polishing of a first-order solution (after Applegate et al.'s PDLP
feasibility polishing).

PDHG stops on norms over all rows together: its objective and prices are often accurate
to ``tol`` while single rows are still off by a hundred times more. Given the dual bound
``D`` of its prices, polishing looks for a point that meets every row and whose objective is
within ``slack`` of ``D``,

.. math::

    \\text{find } v \\quad\\text{s.t.}\\quad r^- \\le K v \\le r^+,\\; l \\le v \\le u,\\;
    c^\\top v \\le D + \\text{slack},

by PDHG on this feasibility problem (zero objective), started from the approximate
solution. PDHG converges much faster on feasibility problems than on optimisation problems;
the point found is feasible and certified within ``slack`` of the optimum by ``D``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus

__all__ = ["polish_feasibility"]


def polish_feasibility(
    lp: LinearProgram, v: np.ndarray, bound: float, slack: float, *, tol: float = 1e-9,
    time_limit: float | None = None, max_iter: int | None = None, row_tol: float | None = None,
) -> LPSolution:
    """A point of ``lp`` meeting every row with ``c'v + c0 <= bound + slack`` (see the module).

    PDHG stops at ``tol`` on its norms, or, with ``row_tol``, as soon as its iterate passes
    gosplan's per-row check within ``row_tol`` (:func:`gosplan.optim.check.max_violation`)
    with its objective within the cap: the check the caller applies, often thousands of
    iterations before the norms (each row judged against its own size, not all together).

    Returns the PDHG solution of the feasibility problem; its ``v`` has the columns of
    ``lp`` (the objective row is dropped from ``y``). ``status`` is ``OPTIMAL`` when a point
    was found, else the limit reached or ``INFEASIBLE`` (no point that good: the bound was
    too optimistic).
    """
    from gosplan.optim.pdhg import solve_pdhg

    if not lp.is_linear:
        raise ValueError("feasibility polishing handles linear programs only")
    K = sp.vstack([lp.K, sp.csr_array(lp.c.reshape(1, -1))], format="csr")
    feas = LinearProgram(
        c=np.zeros_like(lp.c),
        K=K,
        row_lower=np.append(lp.row_lower, -np.inf),
        row_upper=np.append(lp.row_upper, bound + slack - lp.offset),
        col_lower=lp.col_lower,
        col_upper=lp.col_upper,
    )
    accept = None
    if row_tol is not None:
        from gosplan.optim.check import max_violation

        cap = bound + slack

        def accept(point: np.ndarray) -> bool:
            return lp.objective(point) <= cap and max_violation(lp, point) <= row_tol

    sol = solve_pdhg(feas, tol=tol, time_limit=time_limit, max_iter=max_iter, v0=v, y0=np.zeros(K.shape[0]),
                     accept=accept)
    sol.y = sol.y[:-1]
    sol.objective = lp.objective(sol.v) if sol.status is LPStatus.OPTIMAL else float("nan")
    sol.method = "pdhg-polish"
    return sol

"""Cockshott's harmony program solved exactly, as a conic program, by Clarabel (interior point).

HiGHS meets the harmony function only by tangent cuts, whose prices miss complementary slackness
row by row by 1e-4 to 5e-3 on the bundled BEA and ONS tables; the Leontief method
(:mod:`gosplan.planning.harmony_leontief`) certifies its prices but gives up where they would not
be (negative inputs that break ``(I - A)^-1 >= 0``, more binding capacities than it prices), and
anything planned with ``method="highs"`` goes to the cuts. Here
the program of a :class:`~gosplan.optim.lp.LinearProgram` with harmony columns,
``min c'v - sum_j w_j H(v_j)``, is written exactly with

.. math::

    H(s) = \\max_{u \\le 0 \\le p,\\; u + p = s} \\; u - u^2/2 + \\ln(1 + p)

(for ``s >= 0`` the maximum takes ``u = 0``, for ``s < 0`` it takes ``p = 0``): each harmony
column ``s_j`` gets ``u_j <= 0``, ``p_j >= 0``, the row ``s_j - u_j - p_j = 0`` and ``t_j`` with
``(t_j, 1, 1 + p_j)`` in the exponential cone (``t_j <= ln(1 + p_j)``); the objective is
``c'v + sum_j w_j (u_j^2/2 - u_j - t_j)``. Rows are scaled to unit size as in
:mod:`gosplan.optim.qp`. The interior point's answer is then polished by Newton's method on
the optimality conditions over its active set (each step the diagonal QP polish of
:func:`gosplan.optim.qp._polish` at the harmony terms' curvature), so that the prices hold row by
row to rounding, not only to the interior point's tolerance. Given the first answer's prices as
well, the polish starts from that answer itself, and Clarabel runs only where it does not
certify it.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from gosplan.optim.check import Verification, verify
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus
from gosplan.optim.qp import _STATUS, _polish, clarabel_settings, row_scale

__all__ = ["solve_conic"]

POLISH_STEPS = 12
"""Newton steps of the polish at most (quadratic convergence: 3-5 are typical)."""
DROPS = 20
"""Constraints a polish step may drop from a degenerate active set (see :func:`gosplan.optim.qp._polish`)."""


def solve_conic(
    lp: LinearProgram, *, tol: float = 1e-8, time_limit: float | None = None, v0: np.ndarray | None = None,
    y0: np.ndarray | None = None,
) -> LPSolution:
    """Solve ``lp`` (with harmony columns) by Clarabel; see the module. Duals in HiGHS' sign
    convention; ``method="clarabel"`` (``"polish"`` where the polish from ``(v0, y0)`` alone
    certified it); the status is Clarabel's, which gosplan's check then judges.

    ``v0``: a plan of about the optimum's size (HiGHS' tangent cuts): the other columns are
    scaled by its magnitudes (at least 1e-3 of the largest), the harmony columns not. On the
    monetary tables, where a plan runs to millions and ``s`` to a few units, Clarabel made
    no progress unscaled (us-2022, uk-2015) and solves them in 23-34 iterations scaled. On
    random economies of 30-200 products the scaling can hurt instead (Clarabel's
    "InsufficientProgress", or an answer the polish cannot finish: 6 of the 29 harmony plans the
    cuts made of 80 economies): an answer that gosplan's check does not certify at ``tol`` is
    solved again unscaled, and the better kept.

    ``y0``: prices for ``v0`` (the cuts' duals): the polish is tried from ``(v0, y0)`` first, and
    where it certifies the plan at ``tol`` no interior point is run (the cuts' active set is
    the optimum's on all 6 of those plans and on the bundled tables)."""
    if lp.is_linear:
        raise ValueError("solve_conic is for harmony programs; a linear program is solve_diagonal_qp's with q = 0")
    start = time.perf_counter()
    best = None
    if v0 is not None and y0 is not None and np.isfinite(v0).all() and np.isfinite(y0).all():
        best = _attempt(lp, v0, tol, time_limit, start, start_from=y0)
        if best[1].passes(tol) and best[1].price_error <= tol:
            return best[0]
    for scale_by in ((v0, None) if v0 is not None else (None,)):
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 0.0)
        if left == 0.0:
            break
        got = _attempt(lp, scale_by, tol, left, start)
        if best is None or _rank(got[1], tol) < _rank(best[1], tol):
            best = got
        if best[1].passes(tol) and best[1].price_error <= tol:
            break
    assert best is not None
    return best[0]


def _rank(check: Verification, tol: float) -> tuple[bool, float]:
    """Answers that pass the check at ``100 tol`` (at least 1e-6) first, then by price error."""
    return (not check.passes(max(100 * tol, 1e-6)), check.price_error)


def _attempt(lp: LinearProgram, v0: np.ndarray | None, tol: float, time_limit: float | None, start: float,
             start_from: np.ndarray | None = None) -> tuple[LPSolution, Verification]:
    """One solve of :func:`solve_conic`, columns scaled by ``v0``: Clarabel then the polish, or
    (``start_from``: ``v0``'s prices) the polish from ``v0`` alone. With gosplan's check."""
    S = _col_scale(lp, v0)
    KS = sp.csr_array(lp.K @ sp.diags_array(S))
    R = row_scale(KS, lp.row_lower, lp.row_upper)
    scaled = LinearProgram(
        c=lp.c * S, K=sp.csr_array(sp.diags_array(R) @ KS), row_lower=R * lp.row_lower, row_upper=R * lp.row_upper,
        col_lower=lp.col_lower / S, col_upper=lp.col_upper / S, offset=lp.offset,
        harmony_columns=lp.harmony_columns, harmony_weights=lp.harmony_weights,
    )
    if start_from is not None:
        vu, yu, status, text, iters = v0 / S, start_from / R, LPStatus.NUMERICAL, "the given plan and prices", 0
    else:
        vu, yu, status, text, iters = _clarabel_harmony(scaled, tol, time_limit)
        text += "" if v0 is not None else " (unscaled)"
    if (start_from is not None or status in (LPStatus.OPTIMAL, LPStatus.ITERATION_LIMIT)) and \
            np.isfinite(vu).all() and np.isfinite(yu).all():
        polished = _newton_polish(scaled, vu, yu)
        if polished is not None:
            vu, yu = polished
            text += ", polished" if start_from is None else ""
            status = LPStatus.OPTIMAL
    # the polish holds bounds to 1e-9 of the scaled program: a level of -1e-26 is a level of 0
    v, y = np.clip(S * vu, lp.col_lower, lp.col_upper), R * yu
    finite = bool(np.isfinite(v).all() and np.isfinite(y).all())
    sol = LPSolution(
        status=status,
        v=v,
        y=y,
        d=lp.reduced_costs(v, y) if finite else np.full(v.size, np.nan),
        objective=lp.objective(v) if finite else np.nan,
        iterations=iters,
        seconds=time.perf_counter() - start,
        method="clarabel" if start_from is None else "polish",
        message=f"Clarabel (exponential cone): {text}" if start_from is None else f"a Newton polish of {text}",
    )
    unchecked = Verification(math.inf, math.inf, math.nan, math.nan, math.inf)
    return sol, (verify(lp, v, y) if finite else unchecked)


def _col_scale(lp: LinearProgram, v0: np.ndarray | None) -> np.ndarray:
    """Column scales from ``v0`` (1 without it, and on harmony columns)."""
    m = lp.shape[1]
    if v0 is None or not np.isfinite(v0).all() or not np.abs(v0).max(initial=0.0) > 0:
        return np.ones(m)
    a = np.abs(np.asarray(v0, dtype=np.float64))
    S = np.maximum(a, 1e-3 * a.max())
    S[lp.harmony_columns] = 1.0
    return S


def _clarabel_harmony(lp: LinearProgram, tol: float, time_limit: float | None):
    """The conic program of the module in Clarabel's form ``A z + s = b``, ``z = [v, u, p, t]``.
    Returns ``(v, y, status, message, iterations)``, ``y`` in HiGHS' convention."""
    import clarabel

    k, m = lp.K.shape
    H = lp.harmony_columns
    w = lp.harmony_weights
    h = H.size
    K = sp.csr_array(lp.K)
    eq = np.isfinite(lp.row_lower) & (lp.row_lower == lp.row_upper)
    up = np.isfinite(lp.row_upper) & ~eq
    lo = np.isfinite(lp.row_lower) & ~eq
    cup = np.isfinite(lp.col_upper)
    clo = np.isfinite(lp.col_lower)
    nz = m + 3 * h  # v, u, p, t
    iu, ip, it = m + np.arange(h), m + h + np.arange(h), m + 2 * h + np.arange(h)

    def wide(block: sp.csr_array) -> sp.csr_array:
        return sp.csr_array(sp.hstack([block, sp.csr_array((block.shape[0], 3 * h))], format="csr"))

    def picks(cols: np.ndarray, signs: float) -> sp.csr_array:
        return sp.csr_array((np.full(cols.size, signs), (np.arange(cols.size), cols)), shape=(cols.size, nz))

    I = sp.identity(m, format="csr")
    rows = np.arange(h)
    link = sp.csr_array(
        (np.concatenate([np.ones(h), -np.ones(h), -np.ones(h)]),
         (np.concatenate([rows, rows, rows]), np.concatenate([H, iu, ip]))), shape=(h, nz))
    # exponential cones (t_j, 1, 1 + p_j): s = b - A z with rows -t_j, 0, -p_j and b = 0, 1, 1
    e_rows = np.arange(3 * h).reshape(h, 3)
    cone = sp.csr_array(
        (np.concatenate([-np.ones(h), -np.ones(h)]),
         (np.concatenate([e_rows[:, 0], e_rows[:, 2]]), np.concatenate([it, ip]))), shape=(3 * h, nz))
    e_b = np.tile([0.0, 1.0, 1.0], h)
    blocks = [wide(K[eq]), link, wide(K[up]), wide(-K[lo]), wide(I[cup]), wide(-I[clo]), picks(iu, 1.0),
              picks(ip, -1.0), cone]
    b = np.concatenate([lp.row_lower[eq], np.zeros(h), lp.row_upper[up], -lp.row_lower[lo], lp.col_upper[cup],
                        -lp.col_lower[clo], np.zeros(2 * h), e_b])
    A = sp.csc_matrix(sp.vstack(blocks, format="csc"))
    P = sp.csc_matrix(sp.diags_array(np.concatenate([np.zeros(m), w, np.zeros(2 * h)])))
    q = np.concatenate([lp.c, -w, np.zeros(h), -w])
    n_eq = int(eq.sum()) + h
    n_ineq = int(up.sum() + lo.sum() + cup.sum() + clo.sum()) + 2 * h
    cones = [clarabel.ZeroConeT(n_eq), clarabel.NonnegativeConeT(n_ineq)] + [clarabel.ExponentialConeT()] * h
    sol = clarabel.DefaultSolver(P, q, A, b, cones, clarabel_settings(tol, time_limit)).solve()
    name = str(sol.status).split(".")[-1]
    status = _STATUS.get(name, LPStatus.NUMERICAL)
    x = np.asarray(sol.x, dtype=np.float64)
    z = np.asarray(sol.z, dtype=np.float64)
    sizes = np.cumsum([eq.sum(), h, up.sum(), lo.sum()])
    z_eq, _, z_up, z_lo = np.split(z[: sizes[-1]], sizes[:-1])
    y = np.zeros(k)
    y[eq] = -z_eq
    y[up] -= z_up
    y[lo] += z_lo
    return x[:m], y, status, name, int(sol.iterations)


def _curvature(lp: LinearProgram, v: np.ndarray) -> np.ndarray:
    """The objective's second derivative per column: ``w_j (-H''(s_j))`` on harmony columns
    (``w`` for ``s < 0``, ``w / (1 + s)^2`` beyond), 0 elsewhere."""
    q = np.zeros(v.size)
    s = v[lp.harmony_columns]
    q[lp.harmony_columns] = lp.harmony_weights * np.where(s < 0, 1.0, 1.0 / (1.0 + np.maximum(s, 0.0)) ** 2)
    return q


def _newton_polish(lp: LinearProgram, v: np.ndarray, y: np.ndarray):
    """Newton's method on the optimality conditions over the interior point's active set: each
    step the QP polish with the objective's quadratic model at ``v`` (``q`` its curvature,
    ``c - q v`` plus the gradient). ``None`` where a step fails the polish's own checks or the
    conditions do not converge (the caller keeps the interior-point answer)."""
    lin = LinearProgram(c=lp.c, K=lp.K, row_lower=lp.row_lower, row_upper=lp.row_upper,
                        col_lower=lp.col_lower, col_upper=lp.col_upper)
    for _ in range(POLISH_STEPS):
        q = _curvature(lp, v)
        lin.c = lp.gradient(v) - q * v
        step = _polish(lin, q, v, y, lp.reduced_costs(v, y), drops=DROPS)
        if step is None:
            return None
        v_new, y_new, _ = step
        change = float(np.abs(v_new - v).max() / (1.0 + np.abs(v).max()))
        v, y = v_new, y_new
        if change <= 1e-13:
            return v, y
    return None

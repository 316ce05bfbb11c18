"""Convex quadratic programs with a diagonal Hessian, solved by Clarabel (interior point).

``min c'v + 1/2 sum_j q_j v_j^2`` s.t. ``r- <= K v <= r+``, ``l <= v <= u`` with ``q >= 0``:
a :class:`~gosplan.optim.lp.LinearProgram` plus a diagonal ``q``. The consumer-feedback
loop's target revision is such a program (a proximal step over the plan's constraints,
:mod:`gosplan.cycle.revision`). Duals follow HiGHS' (and :mod:`gosplan.optim.lp`'s)
sign convention.

HiGHS' active-set QP solver was tried first: on the revision programs of the BEA tables it
reported "optimal" at objectives 0.5 % short of Clarabel's, with shadow prices of small goods
off by 0.4 % (and "solve error" unscaled); Clarabel agrees with cvxpy to 1e-9.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus

__all__ = ["solve_diagonal_qp"]


def solve_diagonal_qp(
    lp: LinearProgram,
    q: np.ndarray,
    *,
    tol: float = 1e-8,
    time_limit: float | None = None,
    col_scale: np.ndarray | None = None,
) -> LPSolution:
    """Solve ``lp`` with the extra objective term ``1/2 sum_j q_j v_j^2`` (``q >= 0``, one per column).

    ``col_scale`` (positive, one per column): the expected magnitude of each variable. The
    program is solved in ``u = v / col_scale`` with every row divided by the larger of its
    largest coefficient and its largest finite bound, and the objective by its largest
    coefficient (HiGHS' QP solver refuses its own answers on badly scaled programs), then
    mapped back: ``v = col_scale u``, ``y = row_scale y_u / objective_scale``.

    Returns an :class:`LPSolution` (``v``, row duals ``y``, reduced costs ``d``) whose
    status is HiGHS'; callers check what they need (the loop checks feasibility and the
    stationarity of the quadratic columns itself).
    """
    start = time.perf_counter()
    q = np.asarray(q, dtype=np.float64)
    k, m = lp.K.shape
    if q.shape != (m,) or (q < 0).any() or not np.isfinite(q).all():
        raise ValueError("the diagonal Hessian must hold one finite non-negative entry per column")
    original = lp
    S = np.ones(m) if col_scale is None else np.asarray(col_scale, dtype=np.float64)
    if S.shape != (m,) or not (S > 0).all() or not np.isfinite(S).all():
        raise ValueError("col_scale must hold one finite positive entry per column")
    KS = sp.csr_array(lp.K @ sp.diags_array(S))
    R = row_scale(KS, lp.row_lower, lp.row_upper)
    cs, qs = lp.c * S, q * S * S
    alpha = 1.0 / max(float(np.abs(cs).max(initial=0.0)), 1e-300)
    lp = LinearProgram(
        c=alpha * cs,
        K=sp.csr_array(sp.diags_array(R) @ KS),
        row_lower=R * lp.row_lower,
        row_upper=R * lp.row_upper,
        col_lower=lp.col_lower / S,
        col_upper=lp.col_upper / S,
    )
    q = alpha * qs
    v_u, yu, du, status, text, iters = _clarabel(lp, q, tol, time_limit)
    if status in (LPStatus.OPTIMAL, LPStatus.ITERATION_LIMIT) and np.isfinite(v_u).all():
        # the polish solves the optimality conditions on the active set and accepts the answer
        # only if it is feasible with duals of the right sign: a KKT point, hence optimal (the
        # program is convex), also from an interior point stopped by its iteration limit
        polished = _polish(lp, q, v_u, yu, du)
        if polished is not None:
            v_u, yu, du = polished
            text += ", polished"
            status = LPStatus.OPTIMAL
    v, y, d = S * v_u, R * yu / alpha, du / (S * alpha)
    q0 = q / (alpha * S * S)
    obj = float(original.c @ v + 0.5 * q0 @ (v * v) + original.offset) if np.isfinite(v).all() else np.nan
    return LPSolution(
        status=status,
        v=v,
        y=y,
        d=d,
        objective=obj,
        iterations=iters,
        seconds=time.perf_counter() - start,
        method="clarabel",
        message=text,
    )



def clarabel_settings(tol: float, time_limit: float | None):
    """Clarabel's settings at ``tol`` (gap, feasibility and KKT ratio), 500 iterations, quiet."""
    import clarabel

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = float(tol)
    settings.tol_ktratio = min(settings.tol_ktratio, float(tol))
    settings.max_iter = 500
    if time_limit is not None:
        settings.time_limit = float(time_limit)
    return settings


def row_scale(K: sp.csr_array, row_lower: np.ndarray, row_upper: np.ndarray) -> np.ndarray:
    """Each row's scale factor: one over the larger of its largest coefficient and its largest
    finite bound (1 for an empty row without bounds)."""
    K = sp.csr_array(K)
    row_max = np.zeros(K.shape[0])
    if K.nnz:
        row_max = np.maximum.reduceat(np.abs(K.data), K.indptr[:-1]) * (np.diff(K.indptr) > 0)
    bound_max = np.maximum(
        np.where(np.isfinite(row_lower), np.abs(row_lower), 0.0),
        np.where(np.isfinite(row_upper), np.abs(row_upper), 0.0),
    )
    R = 1.0 / np.maximum(np.maximum(row_max, bound_max), 1e-300)
    R[(row_max == 0) & (bound_max == 0)] = 1.0
    return R


_STATUS = {
    "Solved": LPStatus.OPTIMAL,
    "AlmostSolved": LPStatus.OPTIMAL,
    "PrimalInfeasible": LPStatus.INFEASIBLE,
    "AlmostPrimalInfeasible": LPStatus.INFEASIBLE,
    "DualInfeasible": LPStatus.UNBOUNDED,
    "AlmostDualInfeasible": LPStatus.UNBOUNDED,
    "MaxIterations": LPStatus.ITERATION_LIMIT,
    "MaxTime": LPStatus.TIME_LIMIT,
}


def _clarabel(lp: LinearProgram, q: np.ndarray, tol: float, time_limit: float | None):
    """``min 1/2 v'diag(q)v + c'v`` over ``lp``'s rows and bounds, in Clarabel's form
    ``A v + s = b``, ``s`` in the non-negative cone (equal bounds: the zero cone).

    Returns ``(v, y, d, status, message, iterations)`` with ``y``, ``d`` in HiGHS' sign
    convention: a row's ``y`` is the dual of its lower bound minus that of its upper bound.
    """
    import clarabel

    k, m = lp.K.shape
    K = sp.csr_array(lp.K)
    I = sp.identity(m, format="csr")
    eq = np.isfinite(lp.row_lower) & (lp.row_lower == lp.row_upper)
    up = np.isfinite(lp.row_upper) & ~eq
    lo = np.isfinite(lp.row_lower) & ~eq
    cup = np.isfinite(lp.col_upper)
    clo = np.isfinite(lp.col_lower)
    blocks = [K[eq], K[up], -K[lo], I[cup], -I[clo]]
    b = np.concatenate([lp.row_lower[eq], lp.row_upper[up], -lp.row_lower[lo], lp.col_upper[cup], -lp.col_lower[clo]])
    A = sp.csc_matrix(sp.vstack(blocks, format="csc"))
    P = sp.csc_matrix(sp.diags_array(q))
    cones = []
    if eq.any():
        cones.append(clarabel.ZeroConeT(int(eq.sum())))
    cones.append(clarabel.NonnegativeConeT(int(up.sum() + lo.sum() + cup.sum() + clo.sum())))
    solver = clarabel.DefaultSolver(P, lp.c, A, b, cones, clarabel_settings(tol, time_limit))
    sol = solver.solve()
    name = str(sol.status).split(".")[-1]
    status = _STATUS.get(name, LPStatus.NUMERICAL)
    v = np.asarray(sol.x, dtype=np.float64)
    z = np.asarray(sol.z, dtype=np.float64)
    sizes = np.cumsum([eq.sum(), up.sum(), lo.sum(), cup.sum(), clo.sum()])
    z_eq, z_up, z_lo, z_cup, z_clo = np.split(z, sizes[:-1])
    y = np.zeros(k)
    y[eq] = -z_eq
    y[up] -= z_up
    y[lo] += z_lo
    d = np.zeros(m)
    d[cup] -= z_cup
    d[clo] += z_clo
    return v, y, d, status, name, int(sol.iterations)


def _polish(lp: LinearProgram, q: np.ndarray, v: np.ndarray, y: np.ndarray, d: np.ndarray, feas: float = 1e-9,
            drops: int = 0):
    """Solve the optimality conditions exactly on the interior-point answer's active set.

    A row or bound is active where its dual exceeds its slack. With ``A`` the active rows
    (bounds as unit rows) at their bound values ``b``: ``[diag(q) -A'; A 0] [v; lam] = [-c; b]``.
    Accepted only if every inactive row and bound still holds (to ``feas``, the program being
    scaled to unit rows) and every multiplier has its sign; ``None`` otherwise (the caller keeps
    the interior-point answer). Interior points leave the duals of small, slack-rich variables
    accurate to ~1e-4 only; the polished answer is exact to rounding. ``drops``: where only
    signs fail, up to this many times the constraint whose multiplier has the wrong sign the
    most leaves the active set and the system is solved again (a degenerate vertex: a harmony
    target given nothing, its balance, its bound and its producer's zero all active at once).
    """
    K = sp.csr_array(lp.K)
    k, m = K.shape
    Kv = K @ v
    slack_lo = Kv - lp.row_lower
    slack_up = lp.row_upper - Kv
    row_lo = np.isfinite(lp.row_lower) & (y > np.maximum(slack_lo, 0.0))
    row_up = np.isfinite(lp.row_upper) & (-y > np.maximum(slack_up, 0.0)) & ~row_lo
    col_lo = np.isfinite(lp.col_lower) & (d > np.maximum(v - lp.col_lower, 0.0))
    col_up = np.isfinite(lp.col_upper) & (-d > np.maximum(lp.col_upper - v, 0.0)) & ~col_lo
    rows = np.flatnonzero(row_lo | row_up)
    cols = np.flatnonzero(col_lo | col_up)
    for attempt in range(drops + 1):
        A = sp.vstack([K[rows], sp.identity(m, format="csr")[cols]], format="csr")
        b = np.concatenate([np.where(row_lo[rows], lp.row_lower[rows], lp.row_upper[rows]),
                            np.where(col_lo[cols], lp.col_lower[cols], lp.col_upper[cols])])
        na = A.shape[0]
        if na > m:
            return None
        # Quasi-definite regularisation (delta on the primal block, -delta on the dual block: the
        # linear-programming part leaves directions with no curvature, and degenerate active sets
        # rank-deficient rows), then iterative refinement against the unregularised system.
        kkt = sp.bmat([[sp.diags_array(q), -A.T], [A, None]], format="csc")
        delta = 1e-10
        reg = sp.bmat([[sp.diags_array(q + delta), -A.T], [A, sp.diags_array(np.full(na, -delta))]], format="csc")
        # The regularisation is proximal, around the interior-point answer: directions the active
        # set leaves free keep their interior-point values instead of drifting to zero.
        rhs = np.concatenate([-lp.c, b])
        try:
            with np.errstate(all="raise"):
                solve = _factor(reg)
                sol = solve(rhs + np.concatenate([delta * v, np.zeros(na)]))
                for _ in range(5):
                    sol = sol + solve(rhs - kkt @ sol)
        except (RuntimeError, FloatingPointError, ValueError, np.linalg.LinAlgError):
            return None
        if not np.isfinite(sol).all():
            return None
        v2, lam = sol[:m], sol[m:]
        Kv2 = K @ v2
        ok_rows = np.all(Kv2 >= lp.row_lower - feas) and np.all(Kv2 <= lp.row_upper + feas)
        ok_cols = np.all(v2 >= lp.col_lower - feas) and np.all(v2 <= lp.col_upper + feas)
        lam_rows, lam_cols = lam[: rows.size], lam[rows.size:]
        sign = np.concatenate([np.where(row_lo[rows], 1.0, -1.0), np.where(col_lo[cols], 1.0, -1.0)])
        ok_sign = np.all(sign * lam >= -feas)
        if ok_rows and ok_cols and ok_sign:
            y2 = np.zeros(k)
            y2[rows] = lam_rows
            d2 = np.zeros(m)
            d2[cols] = lam_cols
            return v2, y2, d2
        if not (ok_rows and ok_cols) or attempt == drops:
            return None
        worst = int(np.argmin(sign * lam))
        if worst < rows.size:
            rows = np.delete(rows, worst)
        else:
            cols = np.delete(cols, worst - rows.size)
    return None


DENSE_KKT = 8_000
"""KKT systems up to this order with at least :data:`DENSE_KKT_FILL` of their entries set are
factorised dense (LAPACK): on WIOD's dense table (5,665 equations, 2.6 % set) SuperLU fills
them in and takes 13.4 s, LAPACK 2.9 s (BENCHMARKS.md, consumer feedback loop)."""
DENSE_KKT_FILL = 0.01


def _factor(kkt: sp.csc_matrix):
    """A solve with ``kkt`` (square, quasi-definite after regularisation): dense LU where the
    system is small and dense enough that sparse elimination fills it in anyway, else SuperLU."""
    n = kkt.shape[0]
    if n <= DENSE_KKT and kkt.nnz >= DENSE_KKT_FILL * n * n:
        import scipy.linalg as la

        lu = la.lu_factor(kkt.toarray(), check_finite=False)
        if not np.isfinite(lu[0]).all() or (np.abs(np.diag(lu[0])) == 0).any():
            raise np.linalg.LinAlgError("singular KKT system")
        return lambda r: la.lu_solve(lu, r, check_finite=False)
    import scipy.sparse.linalg as spla

    # The KKT matrix is structurally symmetric: a minimum-degree ordering of A + A' with pivots
    # kept on the diagonal where they are not too small fills in a half of COLAMD's default
    # (4.1 M against 8.5 M entries and 1.0 s against 2.5 s at 3,000 products).
    lu = spla.splu(kkt, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.01, options={"SymmetricMode": True})
    return lu.solve

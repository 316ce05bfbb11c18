"""HiGHS, through highspy: gosplan's exact reference backend.

``solve_highs(lp, method=...)`` runs HiGHS' dual simplex (``"simplex"``), its
interior-point method with crossover (``"ipm"``) or its PDLP (``"pdlp"``) on a
:class:`~gosplan.optim.lp.LinearProgram`. Harmony terms are not linear; HiGHS
meets them by outer approximation (:func:`solve_highs` adds tangent cuts
``t_j <= H(s) + H'(s)(v_j - s)`` at each solution until every ``t_j`` is within
the tolerance of ``H(v_j)``; ``H`` is concave, so the cuts never cut off a
feasible point and the LP optimum bounds the true one from above).

``irreducible_infeasible_subset(lp)`` asks HiGHS for an IIS of an infeasible
program: a set of row and column bounds that cannot hold together while every
proper subset can.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus, Progress, harmony, harmony_derivative

__all__ = ["solve_highs", "irreducible_infeasible_subset", "IIS", "HIGHS_METHODS"]

HIGHS_METHODS = ("simplex", "ipm", "pdlp")
MAX_CUT_ROUNDS = 60


def _highspy():
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - highspy is a dependency
        raise ImportError("the HiGHS backend needs highspy: pip install highspy") from exc
    return highspy


_quiet = False


def _new_highs(highspy):
    """A ``Highs`` object; the first one's copyright banner (written straight to
    file descriptor 1) is kept out of gosplan's machine-readable output."""
    global _quiet
    if _quiet:
        return highspy.Highs()
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    _quiet = True
    return h


def _to_highs(lp: LinearProgram, highspy):
    inf = highspy.kHighsInf
    model = highspy.HighsLp()
    k, m = lp.K.shape
    model.num_col_ = m
    model.num_row_ = k
    model.col_cost_ = lp.c
    model.col_lower_ = np.where(np.isfinite(lp.col_lower), lp.col_lower, -inf)
    model.col_upper_ = np.where(np.isfinite(lp.col_upper), lp.col_upper, inf)
    model.row_lower_ = np.where(np.isfinite(lp.row_lower), lp.row_lower, -inf)
    model.row_upper_ = np.where(np.isfinite(lp.row_upper), lp.row_upper, inf)
    model.offset_ = lp.offset
    model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    model.a_matrix_.start_ = lp.K.indptr.astype(np.int32)
    model.a_matrix_.index_ = lp.K.indices.astype(np.int32)
    model.a_matrix_.value_ = lp.K.data
    return model


_STATUS = {
    "kOptimal": LPStatus.OPTIMAL,
    "kInfeasible": LPStatus.INFEASIBLE,
    "kUnbounded": LPStatus.UNBOUNDED,
    "kUnboundedOrInfeasible": LPStatus.INFEASIBLE,  # resolved below by a feasibility run
    "kIterationLimit": LPStatus.ITERATION_LIMIT,
    "kTimeLimit": LPStatus.TIME_LIMIT,
}


SMALL_MATRIX_VALUE = 1e-12
"""The smallest coefficient HiGHS keeps (its least allowed ``small_matrix_value``)."""
DEFAULT_SMALL_MATRIX_VALUE = 1e-9
"""HiGHS' own ``small_matrix_value``."""


def small_matrix_value(lp: LinearProgram | None) -> float:
    """HiGHS' ``small_matrix_value`` for ``lp``: its default (1e-9) unless ``lp`` has a smaller
    coefficient, then just below that coefficient, at least :data:`SMALL_MATRIX_VALUE`.

    HiGHS drops matrix entries at or below this value when the model is passed. Real tables
    have coefficients of 1e-11 on activities of 1e6: dropped, they made HiGHS' "optimal" plan
    for the US 2017 table miss a target by 4e-5 of itself. But HiGHS (1.16) also uses the value
    when it proves a program infeasible, and at 1e-11 or less its dual simplex never accepts
    its own proof: on the infeasible three-year UK plan with a terminal condition (smallest
    coefficient 3.6e-6) it said "possibly dual unbounded" and refactorised at every iteration,
    637 iterations in 20 s without an answer, where at 1e-9 it proves infeasibility in 0.12 s
    (451 iterations; 1e-10: 0.45 s). So the value is lowered only as far as ``lp`` needs."""
    if lp is not None and not lp.is_linear:
        return SMALL_MATRIX_VALUE  # tangent cuts, with coefficients of their own, come later
    if lp is None or lp.K.nnz == 0:
        return DEFAULT_SMALL_MATRIX_VALUE
    nonzero = np.abs(lp.K.data[lp.K.data != 0])
    if nonzero.size == 0:
        return DEFAULT_SMALL_MATRIX_VALUE
    return float(min(DEFAULT_SMALL_MATRIX_VALUE, max(SMALL_MATRIX_VALUE, 0.5 * float(nonzero.min()))))


def _options(h, method: str, tol: float, time_limit: float | None, threads: int | None,
             lp: LinearProgram | None = None, small: float | None = None) -> None:
    h.setOptionValue("output_flag", False)
    # Keep every coefficient of ``lp`` (see small_matrix_value); gosplan's check catches what
    # is still smaller than 1e-12, the least HiGHS accepts.
    h.setOptionValue("small_matrix_value", small_matrix_value(lp) if small is None else small)
    if method == "simplex":
        h.setOptionValue("solver", "simplex")
    elif method == "ipm":
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "on")
        h.setOptionValue("ipm_optimality_tolerance", min(tol, 1e-8))
    elif method == "pdlp":
        h.setOptionValue("solver", "pdlp")
        h.setOptionValue("pdlp_optimality_tolerance", tol)
    else:
        raise ValueError(f"unknown HiGHS method {method!r}; choose one of {HIGHS_METHODS}")
    feas = min(tol, 1e-7)
    h.setOptionValue("primal_feasibility_tolerance", feas)
    h.setOptionValue("dual_feasibility_tolerance", feas)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if threads is not None:
        h.setOptionValue("threads", int(threads))


def _iterations(h) -> int:
    info = h.getInfo()
    return int(
        max(info.simplex_iteration_count, 0)
        + max(info.ipm_iteration_count, 0)
        + max(info.pdlp_iteration_count, 0)
        + max(info.crossover_iteration_count, 0)
    )


def _run(h, lp: LinearProgram, highspy) -> tuple[LPStatus, np.ndarray, np.ndarray, np.ndarray, str]:
    h.run()
    model_status = h.getModelStatus()
    name = str(model_status).split(".")[-1]
    status = _STATUS.get(name, LPStatus.NUMERICAL)
    sol = h.getSolution()
    k, m = lp.K.shape
    v = np.asarray(sol.col_value, dtype=np.float64) if sol.value_valid else np.full(m, np.nan)
    y = np.asarray(sol.row_dual, dtype=np.float64) if sol.dual_valid else np.full(k, np.nan)
    d = np.asarray(sol.col_dual, dtype=np.float64) if sol.dual_valid else np.full(m, np.nan)
    if v.size != m:
        v = np.full(m, np.nan)
    if y.size != k:
        y, d = np.full(k, np.nan), np.full(m, np.nan)
    return status, v, y, d, h.modelStatusToString(model_status)


def _set_basis(h, highspy, cols: np.ndarray, rows: np.ndarray) -> None:
    """Start from a given basis; HiGHS repairs one that is singular for this matrix."""
    status = highspy.HighsBasisStatus
    codes = {int(v): v for v in status.__members__.values()}
    basis = highspy.HighsBasis()
    basis.col_status = [codes[int(k)] for k in cols]
    basis.row_status = [codes[int(k)] for k in rows]
    basis.valid = True
    h.setBasis(basis)


def solve_highs(
    lp: LinearProgram,
    *,
    method: str = "simplex",
    tol: float = 1e-6,
    time_limit: float | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    basis: tuple | None = None,
    presolve: bool = True,
    v0: np.ndarray | None = None,
    objective_tol: float | None = None,
    small: float | None = None,
) -> LPSolution:
    """Solve ``lp`` with HiGHS; harmony terms by outer approximation (see the module).

    ``small``: HiGHS' ``small_matrix_value`` (default :func:`small_matrix_value`). An
    "infeasible" found above :data:`SMALL_MATRIX_VALUE` whose Farkas ray does not prove it
    (:func:`gosplan.optim.check.farkas_margin`) is solved again at :data:`SMALL_MATRIX_VALUE`:
    at 8.5e-11 (half the least coefficient) its dual simplex called the bundled us-2022 table's
    cost plan infeasible, which at 1e-12 it solves (optimal), while at 1e-12 it never proves the
    infeasible three-year UK plan with a terminal condition that at 1e-9 it proves in 0.12 s.

    ``presolve=False`` switches HiGHS' presolve off (the runner's last resort when HiGHS'
    "optimal" prices fail gosplan's check, see :class:`gosplan.planning.runner.Runner`).

    ``basis``: a starting basis ``(column statuses, row statuses)`` as HiGHS'
    ``HighsBasisStatus`` codes (0 lower, 1 basic, 2 upper, ...), e.g. a previous
    solution's ``detail["basis"]`` mapped onto this program (simplex only).
    The optimal basis is returned in ``detail["basis"]``.

    For a program with harmony columns the basis is that of the program with its cuts, and comes
    with them: ``(column statuses, row statuses, (which, points))``, the cuts still binding at the
    optimum (harmony column ``which[q]`` cut at ``s = points[q]``), in row order; given back, they
    are laid first and the basis set on them (two-level planning carries it from round to round).

    ``v0``: a plan near the optimum (harmony only: the first tangent cuts are laid at its ``s``
    and 5 % either side instead of on a grid, e.g. the last round's plan of two-level planning);
    ignored for linear programs. ``objective_tol`` (harmony only; default ``tol``): the relative
    accuracy of the objective at which the cuts stop, where HiGHS' own tolerances (``tol``)
    must be tighter than the answer needs (two-level planning asks 1e-9 of HiGHS for a
    centre solved to ``tol / 10``)."""
    highspy = _highspy()
    start = time.perf_counter()
    h = _new_highs(highspy)
    used = small_matrix_value(lp) if small is None else small
    _options(h, method, tol, time_limit, threads, small=used)
    if not presolve:
        h.setOptionValue("presolve", "off")
    if lp.is_linear:
        h.passModel(_to_highs(lp, highspy))
        if basis is not None and method == "simplex":
            _set_basis(h, highspy, *basis)
        status, v, y, d, words = _run(h, lp, highspy)
        detail = {}
        if status is LPStatus.OPTIMAL and method == "simplex":
            found = h.getBasis()
            if found.valid:
                detail["basis"] = (
                    np.array([int(s) for s in found.col_status], dtype=np.int8),
                    np.array([int(s) for s in found.row_status], dtype=np.int8),
                )
        iterations = _iterations(h)
        farkas = ray = None
        if status is LPStatus.INFEASIBLE:
            farkas = _dual_ray(h, lp)
            if farkas is None and str(h.getModelStatus()).endswith("kUnboundedOrInfeasible"):
                left = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 0.0)
                status = _resolve_unbounded_or_infeasible(lp, method, tol, highspy, left)
        if status is LPStatus.INFEASIBLE and used > SMALL_MATRIX_VALUE:
            from gosplan.optim.check import farkas_margin

            if not farkas_margin(lp, farkas, 10 * tol) > 0:
                left = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 0.0)
                if left is None or left > 0:
                    again = solve_highs(lp, method=method, tol=tol, time_limit=left, threads=threads,
                                        basis=basis, presolve=presolve, small=SMALL_MATRIX_VALUE)
                    again.iterations += _iterations(h)
                    again.seconds = time.perf_counter() - start
                    again.message = (f"{again.message} (solved again keeping coefficients down to "
                                     f"{SMALL_MATRIX_VALUE:g}: HiGHS' 'infeasible' at {used:g} came with no proof)")
                    return again
        if status is LPStatus.UNBOUNDED:
            ray = _primal_ray(h, lp)
        objective = float(h.getInfo().objective_function_value) if status is LPStatus.OPTIMAL else float("nan")
        return LPSolution(
            status=status,
            v=v,
            y=y,
            d=d,
            objective=objective,
            method=f"highs-{method}",
            iterations=iterations,
            seconds=time.perf_counter() - start,
            message=f"HiGHS: {words}",
            farkas=farkas,
            ray=ray,
            detail=detail,
        )
    return _solve_outer_approximation(h, lp, highspy, method=method, tol=tol, start=start, progress=progress, v0=v0,
                                      objective_tol=tol if objective_tol is None else max(objective_tol, tol),
                                      basis=basis if method == "simplex" else None)


def _dual_ray(h, lp: LinearProgram) -> np.ndarray | None:
    try:
        status, has_ray, values = h.getDualRay()
    except Exception:  # pragma: no cover - API differences across versions
        return None
    if not has_ray:
        return None
    ray = np.asarray(values, dtype=np.float64)
    return ray if ray.size == lp.K.shape[0] else None


def _primal_ray(h, lp: LinearProgram) -> np.ndarray | None:
    try:
        status, has_ray, values = h.getPrimalRay()
    except Exception:  # pragma: no cover
        return None
    if not has_ray:
        return None
    ray = np.asarray(values, dtype=np.float64)
    return ray if ray.size == lp.K.shape[1] else None


def _resolve_unbounded_or_infeasible(lp: LinearProgram, method: str, tol: float, highspy,
                                     time_limit: float | None = None) -> LPStatus:
    """HiGHS sometimes answers "unbounded or infeasible": a zero-objective run decides (in the
    time left to the solve; ``TIME_LIMIT`` when it runs out)."""
    h = _new_highs(highspy)
    _options(h, "simplex", tol, time_limit, None, lp)
    model = _to_highs(lp, highspy)
    model.col_cost_ = np.zeros(lp.K.shape[1])
    h.passModel(model)
    h.run()
    name = str(h.getModelStatus()).split(".")[-1]
    if name == "kTimeLimit":
        return LPStatus.TIME_LIMIT
    return LPStatus.UNBOUNDED if name == "kOptimal" else LPStatus.INFEASIBLE


def _solve_outer_approximation(
    h, lp: LinearProgram, highspy, *, method: str, tol: float, start: float, progress: Progress | None,
    v0: np.ndarray | None = None, objective_tol: float | None = None, basis: tuple | None = None,
) -> LPSolution:
    """``min c'v - sum w t`` with tangent cuts ``t_j - H'(s) v_j <= H(s) - H'(s) s`` added per round."""
    inf = highspy.kHighsInf
    k, m = lp.K.shape
    cols = lp.harmony_columns
    w = lp.harmony_weights
    nh = cols.size
    # Columns: v (m) then t (nh). Row block: K v; cuts appended.
    c = np.concatenate([lp.c, -w])
    K = sp.hstack([lp.K, sp.csr_array((k, nh))], format="csr")
    aug = LinearProgram(
        c=c,
        K=K,
        row_lower=lp.row_lower,
        row_upper=lp.row_upper,
        col_lower=np.concatenate([lp.col_lower, np.full(nh, -np.inf)]),
        col_upper=np.concatenate([lp.col_upper, np.full(nh, np.inf)]),
        offset=lp.offset,
    )
    h.passModel(_to_highs(aug, highspy))
    # First cuts: tangents spread over H's two branches, geometrically over ln(1 + s)
    # (s = 2^k - 1), so that plans with large over-fulfilment start close.
    lo = np.where(np.isfinite(lp.col_lower[cols]), lp.col_lower[cols], -1.0)
    grid = [-0.75, -0.5, -0.25, 0.0] + [2.0**k - 1.0 for k in range(1, 31, 2)]
    points = [np.maximum(lo, p) for p in grid]
    if v0 is not None and v0.shape == (m,) and np.isfinite(v0[cols]).all():
        # Near a known plan: tangents at its s and on either side of it, instead of the grid.
        s0 = np.maximum(lo, v0[cols])
        step = 0.05 * (1.0 + np.abs(s0))
        points = [s0, np.maximum(lo, s0 - step), s0 + step]
    laid_which: list[np.ndarray] = []  # every cut, in row order
    laid_points: list[np.ndarray] = []

    def lay(which: np.ndarray, at: np.ndarray) -> None:
        _add_cuts(h, cols, m, which, at, inf)
        laid_which.append(which)
        laid_points.append(np.asarray(at, dtype=np.float64))

    if basis is not None and len(basis) == 3:
        b_cols, b_rows, (which, at) = basis
        if b_cols.size == m + nh and b_rows.size == k + which.size:
            lay(np.asarray(which, dtype=np.int64), at)
            _set_basis(h, highspy, b_cols, b_rows)
            points = points if v0 is not None else []
    total_iterations = 0
    history: list[float] = []
    words = ""
    status = LPStatus.NUMERICAL
    v = np.full(m, np.nan)
    for rounds in range(1, MAX_CUT_ROUNDS + 1):
        for s in points:
            lay(np.arange(nh), s)
        h.run()
        total_iterations += _iterations(h)
        name = str(h.getModelStatus()).split(".")[-1]
        status = _STATUS.get(name, LPStatus.NUMERICAL)
        words = h.modelStatusToString(h.getModelStatus())
        if status is not LPStatus.OPTIMAL:
            break
        sol = h.getSolution()
        full = np.asarray(sol.col_value)
        v, t = full[:m], full[m:]
        s_now = v[cols]
        h_now = harmony(s_now)
        excess = np.maximum(t - h_now, 0.0)  # cuts overestimate the concave H
        total = float(w @ excess)
        if progress is not None:
            progress(rounds, total, 0.0, 0.0)
        target = (tol if objective_tol is None else objective_tol) * (1.0 + abs(float(w @ h_now)))
        if total <= 0.1 * target:
            break
        # Below HiGHS' own feasibility tolerance new cuts stop moving its solution: a
        # total that no longer falls, yet is within the tolerance, is as good as it gets. So is
        # one where every cut row is violated by no more than that tolerance (a sum of many such
        # violations can exceed ``target``, and cuts at the same points change nothing).
        history.append(total)
        stalled = len(history) >= 3 and history[-1] > 0.5 * history[-3]
        if stalled and (total <= target or (excess <= min(tol, 1e-7) * (1.0 + np.abs(h_now))).all()):
            break
        bad = excess > 1e-3 * total / max(float(w.sum()), 1.0)
        idx = np.flatnonzero(bad)
        points = []
        lay(idx, s_now[idx])
    else:
        status = LPStatus.ITERATION_LIMIT
    sol = h.getSolution()
    y = np.asarray(sol.row_dual, dtype=np.float64)[:k] if sol.dual_valid else np.full(k, np.nan)
    detail: dict = {"cut_rounds": rounds}
    if status is LPStatus.OPTIMAL:
        # In the original program the harmony gradient sits in the reduced cost of v.
        d = lp.reduced_costs(v, y)
        found = h.getBasis()
        if found.valid and method == "simplex" and laid_which:
            col_status = np.array([int(x) for x in found.col_status], dtype=np.int8)
            row_status = np.array([int(x) for x in found.row_status], dtype=np.int8)
            binding = np.flatnonzero(row_status[k:] != 1)  # a basic cut row is slack: dropped
            which = np.concatenate(laid_which)[binding]
            at = np.concatenate(laid_points)[binding]
            detail["basis"] = (col_status, np.concatenate([row_status[:k], row_status[k:][binding]]), (which, at))
    elif sol.dual_valid:
        d = np.asarray(sol.col_dual, dtype=np.float64)[:m]
    else:
        d = np.full(m, np.nan)
    return LPSolution(
        status=status,
        v=v,
        y=y,
        d=d,
        objective=lp.objective(v) if status is LPStatus.OPTIMAL else float("nan"),
        method=f"highs-{method}+cuts",
        iterations=total_iterations,
        seconds=time.perf_counter() - start,
        message=(
            f"HiGHS: tangent cuts did not converge in {rounds} round(s) (the last cut program: {words})"
            if status is LPStatus.ITERATION_LIMIT
            else f"HiGHS: {words} after {rounds} round(s) of tangent cuts"
        ),
        detail=detail,
    )


def _add_cuts(h, cols: np.ndarray, m: int, which: np.ndarray, s: np.ndarray, inf: float) -> None:
    """Rows ``t_q - H'(s) v_{cols[q]} <= H(s) - H'(s) s`` for ``q in which``."""
    s = np.asarray(s, dtype=np.float64)
    g = harmony_derivative(s)
    rhs = harmony(s) - g * s
    nq = which.size
    starts = np.arange(0, 2 * nq, 2, dtype=np.int32)
    index = np.empty(2 * nq, dtype=np.int32)
    index[0::2] = cols[which]
    index[1::2] = m + which
    value = np.empty(2 * nq)
    value[0::2] = -g
    value[1::2] = 1.0
    h.addRows(nq, np.full(nq, -inf), rhs, 2 * nq, starts, index, value)


@dataclass(frozen=True)
class IIS:
    """An irreducible infeasible subset: rows and columns whose bounds conflict.

    ``row_bounds`` / ``col_bounds`` say which bound takes part: ``"lower"``,
    ``"upper"`` or ``"both"``.
    """

    rows: np.ndarray
    row_bounds: tuple[str, ...]
    cols: np.ndarray
    col_bounds: tuple[str, ...]


_BOUND = {2: "lower", 3: "upper", 4: "both"}


def irreducible_infeasible_subset(lp: LinearProgram, *, time_limit: float | None = 60.0) -> IIS | None:
    """An IIS of ``lp`` from HiGHS, or ``None`` when HiGHS finds none (feasible, or gave up)."""
    highspy = _highspy()
    h = _new_highs(highspy)
    _options(h, "simplex", 1e-7, time_limit, None, lp)
    h.setOptionValue("iis_strategy", 2)
    h.passModel(_to_highs(lp, highspy))
    h.run()
    status, iis = h.getIis()
    if str(status).split(".")[-1] != "kOk" or not iis.valid_:
        return None
    rows = np.asarray(iis.row_index_, dtype=np.int64)
    cols = np.asarray(iis.col_index_, dtype=np.int64)
    rb = [_BOUND.get(int(b)) for b in iis.row_bound_]
    cb = [_BOUND.get(int(b)) for b in iis.col_bound_]
    keep_r = [q for q, b in enumerate(rb) if b is not None]
    keep_c = [q for q, b in enumerate(cb) if b is not None]
    if not keep_r and not keep_c:
        return None
    return IIS(
        rows=rows[keep_r],
        row_bounds=tuple(rb[q] for q in keep_r),
        cols=cols[keep_c],
        col_bounds=tuple(cb[q] for q in keep_c),
    )

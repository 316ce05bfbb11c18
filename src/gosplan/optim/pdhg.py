"""gosplan's own first-order solver: PDLP's restarted primal-dual hybrid gradient.

:func:`solve_pdhg` solves a :class:`~gosplan.optim.lp.LinearProgram` through its
saddle-point form

.. math::

    \\min_{l \\le v \\le u} \\max_{y \\in Y} \\; f(v) - y^\\top K v + p(y),
    \\qquad p(y) = \\sum_i r^-_i y_i^+ - r^+_i y_i^-,

(``Y``: ``y_i >= 0`` needs a finite ``r-_i``, ``y_i <= 0`` a finite ``r+_i``;
``f(v) = c'v + sum_H w phi(v)``) following Applegate et al. (2021), "Practical
large-scale linear programming using primal-dual hybrid gradient" (PDLP):

* optionally (``presolve=True``) rows with a single nonzero moved into their column's bounds,
  and the answer mapped back to every row (:mod:`gosplan.optim.presolve`);
* Ruiz equilibration (10 passes, ``inf``-norm) then Pock-Chambolle (``alpha = 1``)
  diagonal scaling ``K~ = D_r K D_c``;
* PDHG steps ``tau = eta / omega``, ``sigma = eta omega`` with PDLP's adaptive step
  size ``eta`` and primal weight ``omega`` (initialised ``||c|| / ||b||``, updated at
  restarts with smoothing 0.5);
* adaptive restarts to the current or the step-weighted average iterate,
  whichever has the smaller weighted KKT error, when that error fell below
  ``beta_sufficient = 0.2`` of its value at the last restart, or below
  ``beta_necessary = 0.8`` and stopped falling, or after ``beta_artificial = 0.36``
  of all iterations without a restart (the KKT-error variant of cuPDLP);
* harmony columns through the closed-form prox of ``phi = -H``;
* infeasibility (and, for linear programs, unboundedness) from the difference of
  the iterate and the last restart point, which converges to a ray (Farkas
  multipliers, primal ray).

Termination is PDLP's relative criterion on the *original* problem, checked
every :data:`CHECK_EVERY` iterations on the current and on the average iterate:

.. math::

    \\|\\mathrm{viol}(Kv)\\|_2 \\le \\epsilon (1 + \\|b\\|_2), \\quad
    \\|d - \\lambda\\|_2 \\le \\epsilon (1 + \\|c\\|_2), \\quad
    |P - D| \\le \\epsilon (1 + |P| + |D|),

with ``b`` the finite row bounds (per row the larger in magnitude), ``d - lambda``
the part of the reduced costs ``c - K'y`` that no finite column bound absorbs
(as in PDLP, only a bound near ``v``, ``|v - bound| <= |v|``, absorbs), and
``P``, ``D`` the primal and dual objectives (for a harmony column the dual
objective is ``min_{l <= s <= u} w phi(s) + (c - K'y)_j s``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np

from gosplan.optim import _pdhg_kernels as _k
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus, Progress

__all__ = ["solve_pdhg", "CHECK_EVERY"]

CHECK_EVERY = 64  # iterations between termination and restart checks
PARTS_PER_THREAD = 16  # row ranges of equal work per thread in the matrix kernels
RUIZ_PASSES = 10
BETA_SUFFICIENT = 0.2
BETA_NECESSARY = 0.8
BETA_ARTIFICIAL = 0.36
WEIGHT_SMOOTHING = 0.5
INFEASIBILITY_TOL = 1e-8  # relative infeasibility of a ray certificate (PDLP's default)


@dataclass(frozen=True)
class _Eval:
    """Residuals (original and scaled units) and objectives of one iterate."""

    primal: float
    dual: float
    primal_scaled: float
    dual_scaled: float
    pobj: float
    dobj: float

    @property
    def gap(self) -> float:
        return abs(self.pobj - self.dobj)

    def relative(self, bnorm: float, cnorm: float) -> tuple[float, float, float]:
        """``(primal / (1 + ||b||), dual / (1 + ||c||), gap / (1 + |P| + |D|))``."""
        rel_gap = self.gap / (1.0 + abs(self.pobj) + abs(self.dobj))
        if not math.isfinite(rel_gap):
            rel_gap = math.inf
        return self.primal / (1.0 + bnorm), self.dual / (1.0 + cnorm), rel_gap

    def kkt(self, omega: float) -> float:
        """Weighted KKT error of the scaled problem (cuPDLP's restart metric)."""
        return math.sqrt(omega * self.primal_scaled**2 + self.dual_scaled**2 / omega + self.gap**2)


class _Solver:
    """The scaled problem, the work arrays and the PDLP outer loop."""

    def __init__(self, lp: LinearProgram) -> None:
        t0 = time.perf_counter()
        self.lp = lp
        k, m = lp.shape
        K = lp.K
        if m >= 2**31 or k >= 2**31:
            raise ValueError("solve_pdhg supports fewer than 2^31 rows and columns")
        self.ptr = np.asarray(K.indptr, dtype=np.int64)
        self.ind = np.asarray(K.indices, dtype=np.int32)
        self.val = np.array(K.data, dtype=np.float64)  # the scaled copy
        self.tptr, self.tind, self.tval = _k.transpose(self.ptr, self.ind, self.val, m)
        parts = PARTS_PER_THREAD * numba.get_num_threads()
        self.parts, self.tparts = _k.partition(self.ptr, parts), _k.partition(self.tptr, parts)
        self.row_scale, self.col_scale, max_abs = self._equilibrate(k, m)
        R, C = self.row_scale, self.col_scale

        self.c = lp.c * C
        self.lo = lp.col_lower / C
        self.hi = lp.col_upper / C
        self.rlo = lp.row_lower * R
        self.rhi = lp.row_upper * R
        self.hpos = np.full(m, -1, dtype=np.int32)  # position among the harmony columns
        if lp.is_linear:
            self.hcols = np.zeros(0, dtype=np.int64)
            self.hweight = np.zeros(0)
        else:
            self.hcols = lp.harmony_columns
            self.hweight = lp.harmony_weights
            self.hpos[self.hcols] = np.arange(self.hcols.size)
        self.hscale = C[self.hcols]

        # ||b||: per row the larger finite bound in magnitude; ||c|| as given.
        def combined(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            finite = np.where(np.isfinite(lo), np.abs(lo), 0.0)
            return np.maximum(finite, np.where(np.isfinite(hi), np.abs(hi), 0.0))

        self.bnorm = float(np.linalg.norm(combined(lp.row_lower, lp.row_upper)))
        self.cnorm = float(np.linalg.norm(lp.c))
        # Primal weight ||c~|| / ||b~||, with the harmony terms' gradient at 0 counted in c.
        grad0 = lp.c.copy()
        grad0[self.hcols] -= self.hweight
        gnorm = float(np.linalg.norm(grad0 * C))
        bnorm_s = float(np.linalg.norm(combined(self.rlo, self.rhi)))
        self.omega0 = gnorm / bnorm_s if gnorm > 1e-10 and bnorm_s > 1e-10 else 1.0
        self.eta0 = 1.0 / max_abs if max_abs > 0 else 1.0

        self.X = np.zeros((2, m))
        self.Y = np.zeros((2, k))
        self.KTY = np.zeros((2, m))
        self.x_bar = np.empty(m)
        self.x_avg = np.zeros(m)
        self.y_avg = np.zeros(k)
        self.x_rst = np.zeros(m)
        self.y_rst = np.zeros(k)
        self.setup_seconds = time.perf_counter() - t0

    def _equilibrate(self, k: int, m: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Ruiz (inf-norm) then Pock-Chambolle (alpha = 1) scaling of ``K`` and ``K'`` in place."""
        R, C = np.ones(k), np.ones(m)
        rmax, rsum, cmax, csum = np.empty(k), np.empty(k), np.empty(m), np.empty(m)

        def norms() -> None:
            _k.scaled_row_norms(self.ptr, self.ind, self.val, self.parts, C, rmax, rsum)
            _k.scaled_row_norms(self.tptr, self.tind, self.tval, self.tparts, R, cmax, csum)

        def divide(scale: np.ndarray, norm: np.ndarray) -> None:
            norm *= scale
            norm[norm == 0.0] = 1.0
            scale /= np.sqrt(norm)

        for _ in range(RUIZ_PASSES):
            norms()
            divide(R, rmax)
            divide(C, cmax)
        norms()
        divide(R, rsum)
        divide(C, csum)
        max_abs = _k.scale_values(self.ptr, self.ind, self.val, self.parts, R, C)
        _k.scale_values(self.tptr, self.tind, self.tval, self.tparts, C, R)
        return R, C, max_abs

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, x: np.ndarray, y: np.ndarray, kty: np.ndarray, kx: np.ndarray) -> _Eval:
        """Residuals and objectives at ``(x, y)`` (scaled) given ``kty = K~'y``; ``kx``: scratch."""
        _k.spmv(self.ptr, self.ind, self.val, self.parts, x, kx)
        p_o, p_s, d_rows = _k.row_stats(kx, y, self.rlo, self.rhi, self.row_scale)
        d_o, d_s, pobj, d_cols = _k.column_stats(
            x, kty, self.c, self.lo, self.hi, self.col_scale, self.hpos, self.hweight
        )
        off = self.lp.offset
        p_o, d_o, p_s, d_s = (math.sqrt(t) for t in (p_o, d_o, p_s, d_s))
        return _Eval(p_o, d_o, p_s, d_s, pobj + off, d_rows + d_cols + off)

    def farkas(self, cur: int) -> np.ndarray | None:
        """Dual ray ``y - y_rst`` (projected onto the multipliers the rows allow) if it proves
        ``r- <= Kv <= r+, l <= v <= u`` infeasible: ``K'y`` absorbed by the column bounds
        up to :data:`INFEASIBILITY_TOL` of a positive ray objective."""
        ray, kt_ray = self.Y[1 - cur], self.x_bar
        rows_obj = _k.dual_ray(self.Y[cur], self.y_rst, self.rlo, self.rhi, ray)
        _k.spmv(self.tptr, self.tind, self.tval, self.tparts, ray, kt_ray)
        worst, cols_obj = _k.dual_ray_stats(kt_ray, self.lo, self.hi, self.col_scale)
        obj = rows_obj + cols_obj
        if obj > 0.0 and worst <= INFEASIBILITY_TOL * obj:
            return ray * self.row_scale
        return None

    def primal_ray(self, cur: int) -> np.ndarray | None:
        """Primal ray ``x - x_rst`` (projected onto the bounds' recession cone) if it proves
        a linear program unbounded: ``c'x < 0`` and ``Kx`` in the rows' recession cone up
        to :data:`INFEASIBILITY_TOL` of ``|c'x|``."""
        ray, k_ray = self.x_bar, self.Y[1 - cur]
        obj = _k.primal_ray(self.X[cur], self.x_rst, self.lo, self.hi, self.c, ray)
        if not obj < 0.0:
            return None
        _k.spmv(self.ptr, self.ind, self.val, self.parts, ray, k_ray)
        worst = _k.primal_ray_stats(k_ray, self.rlo, self.rhi, self.row_scale)
        if worst <= INFEASIBILITY_TOL * -obj:
            return ray * self.col_scale
        return None

    # ------------------------------------------------------------------ solution

    def primal(self, x: np.ndarray) -> np.ndarray:
        """A scaled primal iterate in original units, within its bounds."""
        return np.clip(x * self.col_scale, self.lp.col_lower, self.lp.col_upper)

    def solution(
        self, status: LPStatus, x: np.ndarray, y: np.ndarray, kty: np.ndarray, **kw
    ) -> LPSolution:
        """Unscale ``(x, y)`` into an :class:`LPSolution` (HiGHS' sign convention)."""
        lp = self.lp
        v = self.primal(x)
        d = lp.gradient(v) - kty / self.col_scale
        y = y * self.row_scale
        return LPSolution(status, v, y, d, objective=lp.objective(v), method="pdhg", **kw)

    # ------------------------------------------------------------------ PDLP

    def warm_start(self, v0: np.ndarray | None, y0: np.ndarray | None) -> None:
        """Current iterate ``(v0, y0)`` (original units), projected; zero where not given."""
        k, m = self.lp.shape
        if v0 is not None:
            v0 = np.asarray(v0, dtype=np.float64).reshape(-1)
            if v0.shape != (m,) or not np.isfinite(v0).all():
                raise ValueError(f"v0 must hold {m} finite numbers")
            self.X[0] = np.clip(v0 / self.col_scale, self.lo, self.hi)
        if y0 is not None:
            y0 = np.asarray(y0, dtype=np.float64).reshape(-1)
            if y0.shape != (k,) or not np.isfinite(y0).all():
                raise ValueError(f"y0 must hold {k} finite numbers")
            # the projection onto the multipliers the rows allow
            _k.dual_ray(y0 / self.row_scale, np.zeros(k), self.rlo, self.rhi, self.Y[0])
        _k.spmv(self.tptr, self.tind, self.tval, self.tparts, self.Y[0], self.KTY[0])
        self.x_rst[:] = self.X[0]
        self.y_rst[:] = self.Y[0]

    def worst(self, ev: _Eval) -> float:
        """The largest of the three relative errors the criterion compares with ``tol``."""
        return max(ev.relative(self.bnorm, self.cnorm))

    def run(
        self,
        tol: float,
        max_iter: int | None,
        time_limit: float | None,
        progress: Progress | None,
        t0: float,
        accept: Callable[[np.ndarray], bool] | None = None,
    ) -> LPSolution:
        """PDLP's outer loop: blocks of :data:`CHECK_EVERY` iterations, then termination,
        certificate and restart checks."""
        X, Y, KTY = self.X, self.Y, self.KTY
        cur = 0
        omega, eta = self.omega0, self.eta0
        ev_cur = at_restart = self.evaluate(X[0], Y[0], KTY[0], Y[1])
        ev_avg: _Eval | None = None
        ratio_last, avg_weight = 1.0, 0.0
        k = k_restart = restarts = rejected = 0
        limit = math.inf if max_iter is None else max_iter

        def finish(
            status: LPStatus, ev: _Eval, average: bool = False, message: str = "", **kw
        ) -> LPSolution:
            if average:
                x, y, kty = self.x_avg, self.y_avg, KTY[1 - cur]
            else:
                x, y, kty = X[cur], Y[cur], KTY[cur]
            rp, rd, rg = ev.relative(self.bnorm, self.cnorm)
            detail = {
                "restarts": restarts,
                "rejected_steps": rejected,
                "primal_residual": ev.primal,
                "dual_residual": ev.dual,
                "primal_residual_relative": rp,
                "dual_residual_relative": rd,
                "relative_gap": rg,
                "primal_objective": ev.pobj,
                "dual_objective": ev.dobj,
                "iterate": "average" if average else "current",
                "primal_weight": omega,
                "step_size": eta,
                "setup_seconds": self.setup_seconds,
                "tolerance": tol,
            }
            seconds = time.perf_counter() - t0
            return self.solution(
                status, x, y, kty, iterations=k, seconds=seconds, message=message, detail=detail,
                **kw,
            )

        while True:
            if k >= limit or (time_limit is not None and time.perf_counter() - t0 >= time_limit):
                status, what = (
                    (LPStatus.ITERATION_LIMIT, f"iteration limit {max_iter}")
                    if k >= limit
                    else (LPStatus.TIME_LIMIT, f"time limit {time_limit:g} s")
                )
                average = ev_avg is not None and self.worst(ev_avg) < self.worst(ev_cur)
                ev = ev_avg if average else ev_cur
                rp, rd, rg = ev.relative(self.bnorm, self.cnorm)
                return finish(status, ev, average, (
                    f"{what} reached after {k} iterations: relative primal residual {rp:.2e}, "
                    f"dual residual {rd:.2e}, gap {rg:.2e} (tolerance {tol:.1e}); not optimal"
                ))

            n = int(min(CHECK_EVERY, limit - k))
            cur, eta, avg_weight, rej = _k.iterate(
                self.ptr, self.ind, self.val, self.parts,
                self.tptr, self.tind, self.tval, self.tparts,
                self.c, self.lo, self.hi, self.rlo, self.rhi, self.hcols, self.hscale, self.hweight,
                X, Y, KTY, self.x_bar, self.x_avg, self.y_avg, cur, eta, omega, k, n, avg_weight,
            )
            k += n
            rejected += rej
            if not math.isfinite(eta):
                ev = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
                why = f"step size broke down at iteration {k}"
                return finish(LPStatus.NUMERICAL, ev, message=why)

            # Certificates from the difference to the last restart point.
            farkas = self.farkas(cur)
            if farkas is not None:
                ev = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
                why = "primal infeasible: Farkas multipliers in LPSolution.farkas"
                return finish(LPStatus.INFEASIBLE, ev, message=why, farkas=farkas)
            ray = self.primal_ray(cur) if self.lp.is_linear else None
            if ray is not None:
                ev = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
                why = "unbounded: primal ray in LPSolution.ray"
                return finish(LPStatus.UNBOUNDED, ev, message=why, ray=ray)

            ev_cur = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
            _k.spmv(self.tptr, self.tind, self.tval, self.tparts, self.y_avg, KTY[1 - cur])
            ev_avg = self.evaluate(self.x_avg, self.y_avg, KTY[1 - cur], Y[1 - cur])
            if progress is not None:
                best = min((ev_cur, ev_avg), key=self.worst)
                progress(k, *best.relative(self.bnorm, self.cnorm))
            if accept is not None and accept(self.primal(X[cur])):
                return finish(LPStatus.OPTIMAL, ev_cur, message="accepted by the caller's criterion")
            if self.worst(ev_cur) <= tol:
                return finish(LPStatus.OPTIMAL, ev_cur)
            if self.worst(ev_avg) <= tol:
                return finish(LPStatus.OPTIMAL, ev_avg, average=True)

            # Adaptive restart on the KKT error of the scaled problem.
            to_avg = ev_avg.kkt(omega) < ev_cur.kkt(omega)
            candidate = ev_avg if to_avg else ev_cur
            ref = at_restart.kkt(omega)
            ratio = candidate.kkt(omega) / ref if ref > 0 else 0.0
            restart = (
                ratio < BETA_SUFFICIENT
                or ratio_last < ratio < BETA_NECESSARY
                or k - k_restart >= BETA_ARTIFICIAL * k
            )
            ratio_last = ratio
            if not restart:
                continue
            if to_avg:
                X[cur] = self.x_avg
                Y[cur] = self.y_avg
                KTY[cur] = KTY[1 - cur]
            dx = _k.distance(X[cur], self.x_rst)
            dy = _k.distance(Y[cur], self.y_rst)
            if dx > 1e-10 and dy > 1e-10:
                theta = WEIGHT_SMOOTHING
                omega = math.exp(theta * math.log(dy / dx) + (1.0 - theta) * math.log(omega))
            self.x_rst[:] = X[cur]
            self.y_rst[:] = Y[cur]
            at_restart, ratio_last, avg_weight, k_restart = candidate, 1.0, 0.0, k
            restarts += 1


def solve_pdhg(
    lp: LinearProgram,
    *,
    tol: float = 1e-6,
    max_iter: int | None = None,
    time_limit: float | None = None,
    v0: np.ndarray | None = None,
    y0: np.ndarray | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    accept: Callable[[np.ndarray], bool] | None = None,
    presolve: bool = False,
) -> LPSolution:
    """Solve ``lp`` with PDLP's restarted primal-dual hybrid gradient (see the module).

    Parameters
    ----------
    lp:
        The problem; harmony columns are handled exactly through their prox.
    tol:
        Relative tolerance ``epsilon`` of the termination criterion, evaluated on
        the original (unscaled) problem every :data:`CHECK_EVERY` iterations.
    max_iter, time_limit:
        Stop with :attr:`LPStatus.ITERATION_LIMIT` / :attr:`LPStatus.TIME_LIMIT`
        (and the residuals reached in the message) when hit; ``None``: no limit.
        Both are checked every :data:`CHECK_EVERY` iterations.
    v0, y0:
        Warm start (original units; projected onto the bounds and onto the
        multipliers the rows allow), e.g. a Leontief solution and its prices.
    progress:
        Called at every check as ``progress(iteration, primal, dual, gap)`` with
        the relative quantities the criterion compares with ``tol``.
    threads:
        Numba threads for the solve (default: numba's current setting).
    accept:
        Called at every check with the current primal iterate ``v`` (original units, within
        its bounds); when it returns ``True`` the solve stops there as
        :attr:`LPStatus.OPTIMAL`, whatever ``tol`` says. A caller's own criterion, e.g.
        feasibility polishing stopping once every row passes gosplan's per-row check.
    presolve:
        Move rows with a single nonzero into their column's bounds
        (:mod:`gosplan.optim.presolve`) and map the answer back to every row: PDHG keeps a
        bound exactly by projection, while a row needs a multiplier of its own. Measured both
        ways (BENCHMARKS.md, issue 15, run I8): five-year plans 1.0–2.7× fewer iterations
        (:func:`gosplan.multiyear.plan_years` sets it), single-year plans of 10^4 products
        1.1–5.3× more (their capacities as bounds), so it is off by default.

    Returns
    -------
    LPSolution
        ``v``, ``y`` and ``d = c + phi'(v) - K'y`` in original units and HiGHS'
        sign convention; ``status`` is :attr:`LPStatus.OPTIMAL` only when the
        criterion holds. ``detail`` has ``restarts``, ``rejected_steps``, the
        absolute and relative residuals, ``relative_gap``, both objectives and
        which iterate (``current`` or ``average``) is returned. Infeasibility
        (Farkas multipliers in ``farkas``) and, for linear programs,
        unboundedness (``ray``) are detected from iterate differences.
    """
    t0 = time.perf_counter()
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        pre = None
        if presolve:
            from gosplan.optim.presolve import singleton_rows

            pre = singleton_rows(lp)
        if pre is not None and y0 is not None and np.size(y0) != lp.shape[0]:
            raise ValueError(f"y0 must hold {lp.shape[0]} finite numbers")
        solver = _Solver(lp if pre is None else pre.reduced)
        solver.warm_start(v0, y0 if pre is None else pre.reduce_duals(y0))
        sol = solver.run(tol, max_iter, time_limit, progress, t0, accept)
        return sol if pre is None else pre.restore(sol)
    finally:
        numba.set_num_threads(previous)

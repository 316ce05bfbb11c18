"""gosplan's own first-order solver: PDLP's restarted primal-dual hybrid gradient.

:func:`solve_pdhg` solves a :class:`~gosplan.optim.lp.LinearProgram` through its
saddle-point form

.. math::

    \\min_{l \\le v \\le u} \\max_{y \\in Y} \\; f(v) - y^\\top K v + p(y),
    \\qquad p(y) = \\sum_i r^-_i y_i^+ - r^+_i y_i^-,

(``Y``: ``y_i >= 0`` needs a finite ``r-_i``, ``y_i <= 0`` a finite ``r+_i``;
``f(v) = c'v + sum_H w phi(v)``) following Applegate et al. (2021), "Practical
large-scale linear programming using primal-dual hybrid gradient" (PDLP):

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
* infeasibility and unboundedness from the difference of the iterate and the last
  restart point, which converges to a ray (Farkas multipliers, primal ray).

Termination is PDLP's relative criterion on the *original* problem, checked
every :data:`CHECK_EVERY` iterations on the current and on the average iterate:

.. math::

    \\|\\mathrm{viol}(Kv)\\|_2 \\le \\epsilon (1 + \\|b\\|_2), \\quad
    \\|d - \\lambda\\|_2 \\le \\epsilon (1 + \\|c\\|_2), \\quad
    |P - D| \\le \\epsilon (1 + |P| + |D|),

with ``b`` the finite row bounds (per row the larger in magnitude), ``d - lambda``
the part of the reduced costs no finite column bound absorbs, and ``P``, ``D``
the primal and dual objectives (for a harmony column the dual objective is
``min_{l <= s <= u} w phi(s) + (c - K'y)_j s``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np

from gosplan.optim import _pdhg_kernels as _k
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus, Progress

__all__ = ["solve_pdhg", "CHECK_EVERY"]

CHECK_EVERY = 64  # iterations between termination and restart checks
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
        self.row_scale, self.col_scale, max_abs = self._equilibrate(k, m)
        R, C = self.row_scale, self.col_scale

        self.c = lp.c * C
        self.lo = lp.col_lower / C
        self.hi = lp.col_upper / C
        self.rlo = lp.row_lower * R
        self.rhi = lp.row_upper * R
        self.hpos = np.full(m, -1, dtype=np.int64)
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
            return np.maximum(np.where(np.isfinite(lo), np.abs(lo), 0.0), np.where(np.isfinite(hi), np.abs(hi), 0.0))

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
            _k.scaled_row_norms(self.ptr, self.ind, self.val, C, rmax, rsum)
            _k.scaled_row_norms(self.tptr, self.tind, self.tval, R, cmax, csum)

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
        max_abs = _k.scale_values(self.ptr, self.ind, self.val, R, C)
        _k.scale_values(self.tptr, self.tind, self.tval, C, R)
        return R, C, max_abs

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, x: np.ndarray, y: np.ndarray, kty: np.ndarray, kx: np.ndarray) -> _Eval:
        """Residuals and objectives at ``(x, y)`` (scaled) given ``kty = K~' y``; ``kx`` is scratch."""
        _k.spmv(self.ptr, self.ind, self.val, x, kx)
        p_o, p_s, d_rows = _k.row_stats(kx, y, self.rlo, self.rhi, self.row_scale)
        d_o, d_s, pobj, d_cols = _k.column_stats(
            x, kty, self.c, self.lo, self.hi, self.col_scale, self.hpos, self.hweight
        )
        off = self.lp.offset
        return _Eval(math.sqrt(p_o), math.sqrt(d_o), math.sqrt(p_s), math.sqrt(d_s), pobj + off, d_rows + d_cols + off)

    def farkas(self, cur: int) -> np.ndarray | None:
        """Dual ray ``y - y_rst`` (projected onto the multipliers the rows allow) if it proves
        ``r- <= Kv <= r+, l <= v <= u`` infeasible: ``K'y`` absorbed by the column bounds
        up to :data:`INFEASIBILITY_TOL` of a positive ray objective."""
        ray, kt_ray = self.Y[1 - cur], self.x_bar
        rows_obj = _k.dual_ray(self.Y[cur], self.y_rst, self.rlo, self.rhi, ray)
        _k.spmv(self.tptr, self.tind, self.tval, ray, kt_ray)
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
        _k.spmv(self.ptr, self.ind, self.val, ray, k_ray)
        if _k.primal_ray_stats(k_ray, self.rlo, self.rhi, self.row_scale) <= INFEASIBILITY_TOL * -obj:
            return ray * self.col_scale
        return None

    # ------------------------------------------------------------------ solution

    def solution(
        self, status: LPStatus, x: np.ndarray, y: np.ndarray, kty: np.ndarray, **kw
    ) -> LPSolution:
        """Unscale ``(x, y)`` into an :class:`LPSolution` (HiGHS' sign convention)."""
        lp = self.lp
        v = np.clip(x * self.col_scale, lp.col_lower, lp.col_upper)
        d = lp.gradient(v) - kty / self.col_scale
        return LPSolution(
            status=status, v=v, y=y * self.row_scale, d=d, objective=lp.objective(v), method="pdhg", **kw
        )

    # ------------------------------------------------------------------ PDLP

    def run(
        self,
        tol: float,
        max_iter: int | None,
        time_limit: float | None,
        v0: np.ndarray | None,
        y0: np.ndarray | None,
        progress: Progress | None,
        t0: float,
    ) -> LPSolution:
        X, Y, KTY = self.X, self.Y, self.KTY
        cur = 0
        if v0 is not None:
            X[0] = np.clip(np.asarray(v0, dtype=np.float64) / self.col_scale, self.lo, self.hi)
        if y0 is not None:
            _k.dual_ray(np.asarray(y0, dtype=np.float64) / self.row_scale, np.zeros_like(self.y_rst), self.rlo, self.rhi, Y[0])
        _k.spmv(self.tptr, self.tind, self.tval, Y[0], KTY[0])
        self.x_rst[:] = X[0]
        self.y_rst[:] = Y[0]
        omega, eta = self.omega0, self.eta0
        at_restart = self.evaluate(X[0], Y[0], KTY[0], Y[1])
        ev_cur, ev_avg = at_restart, None
        ratio_last = 1.0
        k = k_restart = restarts = rejected = 0
        avg_weight = 0.0
        limit = math.inf if max_iter is None else max_iter

        def finish(status: LPStatus, ev: _Eval, average: bool, message: str = "", **kw) -> LPSolution:
            x, y, kty = (self.x_avg, self.y_avg, KTY[1 - cur]) if average else (X[cur], Y[cur], KTY[cur])
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
            return self.solution(
                status, x, y, kty, iterations=k, seconds=time.perf_counter() - t0,
                message=message, detail=detail, **kw,
            )

        while True:
            if k >= limit:
                status, why = LPStatus.ITERATION_LIMIT, f"iteration limit {max_iter} reached"
            elif time_limit is not None and time.perf_counter() - t0 >= time_limit:
                status, why = LPStatus.TIME_LIMIT, f"time limit {time_limit:g} s reached"
            else:
                status = None
            if status is not None:
                best_avg = ev_avg is not None and max(ev_avg.relative(self.bnorm, self.cnorm)) < max(
                    ev_cur.relative(self.bnorm, self.cnorm)
                )
                ev = ev_avg if best_avg else ev_cur
                rp, rd, rg = ev.relative(self.bnorm, self.cnorm)
                msg = (
                    f"{why} after {k} iterations: relative primal residual {rp:.2e}, dual residual "
                    f"{rd:.2e}, gap {rg:.2e} (tolerance {tol:.1e}); not optimal"
                )
                return finish(status, ev, best_avg, msg)

            n = int(min(CHECK_EVERY, limit - k))
            cur, eta, avg_weight, rej = _k.iterate(
                self.ptr, self.ind, self.val, self.tptr, self.tind, self.tval, self.c, self.lo, self.hi,
                self.rlo, self.rhi, self.hcols, self.hscale, self.hweight,
                X, Y, KTY, self.x_bar, self.x_avg, self.y_avg, cur, eta, omega, k, n, avg_weight,
            )
            k += n
            rejected += rej

            # Certificates from the difference to the last restart point.
            farkas = self.farkas(cur)
            if farkas is not None:
                ev_cur = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
                return finish(
                    LPStatus.INFEASIBLE, ev_cur, False,
                    "primal infeasible: Farkas multipliers found (LPSolution.farkas)", farkas=farkas,
                )
            if self.lp.is_linear:
                ray = self.primal_ray(cur)
                if ray is not None:
                    ev_cur = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
                    return finish(
                        LPStatus.UNBOUNDED, ev_cur, False, "unbounded: primal ray found (LPSolution.ray)", ray=ray
                    )

            ev_cur = self.evaluate(X[cur], Y[cur], KTY[cur], Y[1 - cur])
            _k.spmv(self.tptr, self.tind, self.tval, self.y_avg, KTY[1 - cur])
            ev_avg = self.evaluate(self.x_avg, self.y_avg, KTY[1 - cur], Y[1 - cur])
            rel_cur = ev_cur.relative(self.bnorm, self.cnorm)
            rel_avg = ev_avg.relative(self.bnorm, self.cnorm)
            if progress is not None:
                progress(k, *min(rel_cur, rel_avg, key=max))
            if max(rel_cur) <= tol:
                return finish(LPStatus.OPTIMAL, ev_cur, False)
            if max(rel_avg) <= tol:
                return finish(LPStatus.OPTIMAL, ev_avg, True)

            # Adaptive restart (KKT error of the scaled problem).
            to_avg = ev_avg.kkt(omega) < ev_cur.kkt(omega)
            cand = ev_avg if to_avg else ev_cur
            ref = at_restart.kkt(omega)
            ratio = cand.kkt(omega) / ref if ref > 0 else 0.0
            restart = (
                ratio < BETA_SUFFICIENT
                or (ratio < BETA_NECESSARY and ratio > ratio_last)
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
                omega = math.exp(
                    WEIGHT_SMOOTHING * math.log(dy / dx) + (1.0 - WEIGHT_SMOOTHING) * math.log(omega)
                )
            self.x_rst[:] = X[cur]
            self.y_rst[:] = Y[cur]
            at_restart = cand
            ratio_last = 1.0
            avg_weight = 0.0
            k_restart = k
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
        return _Solver(lp).run(tol, max_iter, time_limit, v0, y0, progress, t0)
    finally:
        numba.set_num_threads(previous)

"""Run a backend on a program, check its answer with gosplan's own verifier, keep the record.

Shared by single-year plans (:mod:`gosplan.planning.optimal`) and multi-year plans
(:mod:`gosplan.multiyear`).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from gosplan.optim.check import Verification, verify
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus
from gosplan.planning.result import Stage
from gosplan.results import Status

__all__ = ["Runner", "STATUS", "backend"]

#: Backend fallback size: programs with more columns than this go to pdhg, not HiGHS.
HIGHS_FALLBACK_COLUMNS = 20_000

STATUS = {
    LPStatus.OPTIMAL: Status.OPTIMAL,
    LPStatus.INFEASIBLE: Status.INFEASIBLE,
    LPStatus.UNBOUNDED: Status.UNBOUNDED,
    LPStatus.ITERATION_LIMIT: Status.ITERATION_LIMIT,
    LPStatus.TIME_LIMIT: Status.TIME_LIMIT,
    LPStatus.NUMERICAL: Status.NUMERICAL_ERROR,
}


def backend(
    lp: LinearProgram,
    method: str,
    tol: float,
    time_limit: float | None,
    v0: np.ndarray | None,
    stage: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    y0: np.ndarray | None = None,
    basis: tuple[np.ndarray, np.ndarray] | None = None,
) -> LPSolution:
    if method == "leontief":
        from gosplan.planning.substitution import NotApplicable, solve_stage

        assert stage is not None
        try:
            return solve_stage(lp=lp, tol=tol, time_limit=time_limit, progress=progress, **stage)
        except NotApplicable as exc:
            fallback = "highs" if lp.shape[1] <= HIGHS_FALLBACK_COLUMNS else "pdhg"
            sol = backend(lp, fallback, tol, time_limit, v0)
            sol.message = f"Leontief method not applicable ({exc}); {sol.message}"
            return sol
    if method.startswith("highs"):
        from gosplan.optim.highs import solve_highs

        kind = {"highs": "simplex", "highs-ipm": "ipm", "highs-pdlp": "pdlp"}[method]
        return solve_highs(lp, method=kind, tol=tol, time_limit=time_limit, basis=basis)
    from gosplan.optim.pdhg import solve_pdhg

    return solve_pdhg(lp, tol=tol, time_limit=time_limit, v0=v0, y0=y0)


class Runner:
    """Solves a sequence of programs (the stages) and keeps their record."""

    def __init__(
        self, method: str, tol: float, time_limit: float | None, progress: Callable[[str], None] | None,
        solver_tol: float | None = None,
    ):
        self.method = method
        self.tol = tol
        # The backend's own tolerance (default tol); tighter where HiGHS' absolute dual
        # tolerance, times large column bounds, would fail gosplan's relative check.
        self.solver_tol = tol if solver_tol is None else solver_tol
        self.deadline = None if time_limit is None else time.perf_counter() + time_limit
        self.progress = progress
        self.stages: list[Stage] = []
        self.verifications: list[Verification] = []

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.perf_counter(), 0.0)

    def solve(
        self, name: str, lp: LinearProgram, v0: np.ndarray | None = None, stage: dict[str, Any] | None = None,
        basis: tuple[np.ndarray, np.ndarray] | None = None, y0: np.ndarray | None = None,
    ) -> tuple[LPSolution, Status, str]:
        if self.progress is not None:
            self.progress(f"{name}: {lp.shape[0]:,} rows x {lp.shape[1]:,} columns, {lp.K.nnz:,} nonzeros")
        sol = backend(lp, self.method, self.solver_tol, self.remaining(), v0, stage, self.progress, y0=y0, basis=basis)
        status = STATUS[sol.status]
        check = verify(lp, sol.v, sol.y) if np.isfinite(sol.v).all() else None
        # PDHG stops on norms relative to all the bounds together (PDLP's criterion); a
        # row far smaller than the largest bounds can still be off by more than gosplan's
        # per-row check allows. Tighten and go on from where it stopped.
        tighter = self.tol
        iterations, seconds = sol.iterations, sol.seconds
        if (
            self.method == "pdhg" and status is Status.OPTIMAL and check is not None and lp.is_linear
            and not check.passes(self.tol * 10)
            and check.dual_residual <= self.tol * 10 and check.relative_gap <= self.tol * 10
        ):
            polished = self._polish(lp, sol, check)
            if polished is not None:
                sol, check = polished
                iterations, seconds = sol.iterations, sol.seconds
        while (
            self.method == "pdhg" and status is Status.OPTIMAL and check is not None
            and not check.passes(self.tol * 10) and tighter > self.tol * 1e-4
            and (self.remaining() is None or self.remaining() > 0)
        ):
            tighter /= 10
            sol = backend(lp, "pdhg", tighter, self.remaining(), sol.v, y0=sol.y)
            iterations += sol.iterations
            seconds += sol.seconds
            sol.iterations, sol.seconds = iterations, seconds
            status = STATUS[sol.status]
            check = verify(lp, sol.v, sol.y) if np.isfinite(sol.v).all() else None
        message = sol.message
        if status is Status.OPTIMAL:
            assert check is not None
            if not check.passes(self.tol * 10):
                status = Status.NUMERICAL_ERROR
                message = (
                    f"{sol.method} reported optimal but gosplan's check failed: violation "
                    f"{check.max_violation:.2e}, duality gap {check.relative_gap:.2e}, dual residual "
                    f"{check.dual_residual:.2e} (tolerance {self.tol * 10:.0e})"
                )
        nan = float("nan")
        self.stages.append(
            Stage(
                name=name,
                status=status,
                objective=check.primal_objective if check else nan,
                method=sol.method,
                iterations=sol.iterations,
                seconds=sol.seconds,
                max_violation=check.max_violation if check else nan,
                duality_gap=check.relative_gap if check else nan,
                dual_residual=check.dual_residual if check else nan,
                message=message,
            )
        )
        if check is not None:
            self.verifications.append(check)
        return sol, status, message

    def _polish(self, lp: LinearProgram, sol: LPSolution, check: Verification) -> tuple[LPSolution, Verification] | None:
        """PDHG's objective and prices pass but some rows do not: look for a feasible point within
        ``9 tol`` of its dual bound (:mod:`gosplan.optim.polish`), in at most as many iterations as
        the solve took (at least 1,000). An iteration budget, not a time budget, so that the same
        program gives the same plan on a busy machine; the plan's own time limit still applies."""
        from gosplan.optim.polish import polish_feasibility

        bound = check.dual_objective
        found = polish_feasibility(
            lp, sol.v, bound, 9 * self.tol * (1.0 + abs(bound)), time_limit=self.remaining(),
            max_iter=max(sol.iterations, 1000),
        )
        if found.status is not LPStatus.OPTIMAL:
            return None
        after = verify(lp, found.v, sol.y)
        if not after.passes(self.tol * 10):
            return None
        polished = LPSolution(
            status=LPStatus.OPTIMAL, v=found.v, y=sol.y, d=lp.reduced_costs(found.v, sol.y),
            objective=lp.objective(found.v), method="pdhg+polish", iterations=sol.iterations + found.iterations,
            seconds=sol.seconds + found.seconds,
            message=f"{sol.message}; rows polished to feasibility in {found.iterations} iterations",
        )
        return polished, after

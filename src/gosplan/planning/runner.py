"""Run a backend on a program, check its answer with gosplan's own verifier, keep the record.

Shared by single-year plans (:mod:`gosplan.planning.optimal`) and multi-year plans
(:mod:`gosplan.multiyear`).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from gosplan.optim.check import Verification, farkas_margin, verify
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus
from gosplan.planning.result import Stage
from gosplan.results import Status

__all__ = ["Runner", "STATUS", "backend", "FIRST_ORDER", "is_first_order", "HIGHS_FALLBACK_COLUMNS",
           "PRICE_EXACT_COLUMNS", "CONIC_COLUMNS"]

#: Backend fallback size: programs with more columns than this go to pdhg, not HiGHS; a
#: first-order answer that cannot be certified is solved again by HiGHS up to this size.
HIGHS_FALLBACK_COLUMNS = 20_000

FIRST_ORDER = ("pdhg", "highs-pdlp")
"""Backends whose answer is only as accurate as their tolerance (see :meth:`Runner.solve`)."""


def is_first_order(method: str) -> bool:
    """Whether a solution's ``method`` (``"highs-pdlp+pdhg"``, ``"pdhg+highs-simplex"``...) ends in a
    first-order solve, whose optimum and prices are only as accurate as its tolerance."""
    last = method.split("+")[-1]
    return last in FIRST_ORDER or last == "polish"

STATUS = {
    LPStatus.OPTIMAL: Status.OPTIMAL,
    LPStatus.INFEASIBLE: Status.INFEASIBLE,
    LPStatus.UNBOUNDED: Status.UNBOUNDED,
    LPStatus.ITERATION_LIMIT: Status.ITERATION_LIMIT,
    LPStatus.TIME_LIMIT: Status.TIME_LIMIT,
    LPStatus.NUMERICAL: Status.NUMERICAL_ERROR,
}


def gave_up(exc: Exception) -> str:
    """Why the Leontief method gave a stage to an LP solver, as the stage's message says it."""
    return f"Leontief method not applicable ({exc})"


def backend(
    lp: LinearProgram,
    method: str,
    tol: float,
    time_limit: float | None,
    v0: np.ndarray | None,
    stage: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    y0: np.ndarray | None = None,
    basis: tuple | None = None,
    max_iter: int | None = None,
    presolve: bool = True,
    objective_tol: float | None = None,
    pdhg_presolve: bool = False,
) -> LPSolution:
    """One program solved by ``method``; ``presolve``: HiGHS' own; ``pdhg_presolve``: PDHG's
    singleton rows as column bounds (:mod:`gosplan.optim.presolve`)."""
    if method == "leontief":
        from gosplan.planning.substitution import NotApplicable

        assert stage is not None
        started = time.perf_counter()
        try:
            from gosplan.planning.leontief_backend import solve_leontief

            return solve_leontief(lp, stage, tol, time_limit, progress)
        except NotApplicable as exc:
            # Harmony goes to HiGHS' tangent cuts only up to where method="auto" takes HiGHS
            # (beyond, pdhg is faster: BENCHMARKS.md, issue 3).
            from gosplan.planning.optimal import AUTO_HIGHS_MAX

            exact_up_to = HIGHS_FALLBACK_COLUMNS if lp.is_linear else AUTO_HIGHS_MAX
            fallback = "highs" if lp.shape[1] <= exact_up_to else "pdhg"
            # the fallback gets the time left, not the whole limit again (a method that gave up
            # at its limit, as at 10^7 products, once doubled the plan's time)
            left = None if time_limit is None else max(time_limit - (time.perf_counter() - started), 0.0)
            sol = backend(lp, fallback, tol, left, v0)
            why = gave_up(exc)
            sol.message = f"{why}; {sol.message}"
            sol.detail = {**sol.detail, "gave_up": why}
            return sol
    if method.startswith("highs"):
        from gosplan.optim.highs import solve_highs

        kind = {"highs": "simplex", "highs-ipm": "ipm", "highs-pdlp": "pdlp"}[method]
        return solve_highs(lp, method=kind, tol=tol, time_limit=time_limit, basis=basis, presolve=presolve, v0=v0,
                           objective_tol=objective_tol)
    from gosplan.optim.pdhg import solve_pdhg

    return solve_pdhg(lp, tol=tol, time_limit=time_limit, v0=v0, y0=y0, max_iter=max_iter, presolve=pdhg_presolve)


CONIC_COLUMNS = 5_000
"""Up to this many columns a harmony plan by tangent cuts whose prices miss their certificate is
solved again as an exact conic program (:mod:`gosplan.optim.conic`). Clarabel's interior point
takes 1.2 s at 1,715 columns and 7.5 s at 5,140 on the issue-3 instances, 57 s at 17,170 (where
it stopped short: BENCHMARKS.md, "Harmony's prices on the bundled tables")."""

def _carried(first: LPSolution, again: LPSolution) -> LPSolution:
    """``again``, counting the iterations and seconds of the ``first`` answer it replaces."""
    again.iterations += first.iterations
    again.seconds += first.seconds
    return again


PRICE_EXACT_COLUMNS = 5_000
"""Up to this many columns a first-order answer whose prices alone miss their certificate is
solved again exactly (HiGHS takes well under a second there); beyond, its prices are reported
as not certified, with their error, rather than paying for an exact solve of a large program."""

PRICE_EXACT_TOL = 1e-9
"""HiGHS' feasibility tolerances for the last re-solves of a simplex or Leontief-method answer
whose prices miss row by row (up to :data:`PRICE_EXACT_COLUMNS`; see :meth:`Runner.solve`)."""

FIRST_ORDER_BUDGET = 100_000
"""PDHG iterations allowed on a program HiGHS can solve again exactly (``<=``
:data:`HIGHS_FALLBACK_COLUMNS` columns) before it is: a thin feasible set (a priority
class held at ``1 - tol/10``) can take PDHG millions of iterations where the simplex
takes milliseconds."""


class Runner:
    """Solves a sequence of programs (the stages) and keeps their record."""

    def __init__(
        self, method: str, tol: float, time_limit: float | None, progress: Callable[[str], None] | None,
        solver_tol: float | None = None, exact_columns: int | None = None, polish_rows: float | None = None,
        pdhg_presolve: bool = False,
    ):
        self.method = method
        # PDHG with its singleton rows as column bounds (five-year plans: their first year's
        # capital rows; single-year plans keep them as rows, where bounds cost iterations)
        self.pdhg_presolve = pdhg_presolve
        self.tol = tol
        # The backend's own tolerance (default tol); tighter where HiGHS' absolute dual
        # tolerance, times large column bounds, would fail gosplan's relative check.
        self.solver_tol = tol if solver_tol is None else solver_tol
        # Up to this many columns an uncertified first-order answer is solved again by HiGHS
        # (default HIGHS_FALLBACK_COLUMNS; five-year plans, hard for the simplex, give less).
        self.exact_columns = exact_columns
        # Feasibility polishing stops once every row passes gosplan's check within this
        # (None: on PDHG's norms at 1e-9, which leaves rows at about 0).
        self.polish_rows = polish_rows
        self.deadline = None if time_limit is None else time.perf_counter() + time_limit
        self.progress = progress
        self.stages: list[Stage] = []
        #: What proved the last infeasible program infeasible (see :meth:`_certificate`).
        self.certificate: str | None = None
        self.verifications: list[Verification] = []

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.perf_counter(), 0.0)

    def solve(
        self, name: str, lp: LinearProgram, v0: np.ndarray | None = None, stage: dict[str, Any] | None = None,
        basis: tuple | None = None, y0: np.ndarray | None = None, exact: bool = False,
    ) -> tuple[LPSolution, Status, str]:
        """Solve ``lp``, check the answer, and certify a first-order one.

        A first-order answer (PDHG, HiGHS' PDLP) is certified when it passes gosplan's check at
        ``10 tol``, its prices pass row by row at ``tol``, its Farkas ray (if it claims
        infeasibility) proves the constraints infeasible, and, with ``exact``, when nothing
        holds it (a later priority stage holds an optimum exactly, which a first-order solve
        knows only to its gap). Otherwise, up to ``exact_columns`` (``PRICE_EXACT_COLUMNS``
        when only the prices fail) it is solved again by HiGHS' simplex; beyond, a failed check
        is first polished and continued at tighter tolerances, and what stays uncertified is
        ``numerical_error`` (plan, infeasibility) or said in the message (prices, holds).
        """
        if self.progress is not None:
            self.progress(f"{name}: {lp.shape[0]:,} rows x {lp.shape[1]:,} columns, {lp.K.nnz:,} nonzeros")
        # Up to HiGHS' size an uncertified first-order answer is solved again exactly (cheaper and
        # surer than thousands more first-order iterations); beyond, it is polished and continued.
        limit = HIGHS_FALLBACK_COLUMNS if self.exact_columns is None else self.exact_columns
        redo = lp.is_linear and lp.shape[1] <= limit
        sol = backend(lp, self.method, self.solver_tol, self.remaining(), v0, stage, self.progress, y0=y0, basis=basis,
                      max_iter=FIRST_ORDER_BUDGET if redo else None, objective_tol=self.tol / 10,
                      pdhg_presolve=self.pdhg_presolve)
        if (sol.status is LPStatus.NUMERICAL and sol.method == "highs-simplex" and lp.is_linear
                and self.remaining() != 0.0):
            # HiGHS' dual simplex can end "Unknown" (or "Solve error", "Postsolve error") on an
            # infeasible program, with or without presolve (a cost plan of 4,000 products asked
            # for more than its resources make); its interior-point method decides it (0.4 s).
            again = backend(lp, "highs-ipm", self.solver_tol, self.remaining(), None)
            if again.status in (LPStatus.OPTIMAL, LPStatus.INFEASIBLE, LPStatus.UNBOUNDED):
                again.method = f"{sol.method}+{again.method}"
                again.iterations += sol.iterations
                again.seconds += sol.seconds
                again.message = f"{sol.message} (dual simplex); solved again by its interior-point method: {again.message}"
                sol = again
        first_sol = sol
        status = STATUS[sol.status]
        check = verify(lp, sol.v, sol.y) if np.isfinite(sol.v).all() else None
        first_order = is_first_order(sol.method)
        if first_order and not redo and status is Status.OPTIMAL and check is not None:
            sol, status, check = self._tighten(lp, sol, check)
        message = sol.message
        need, prices_only = self._uncertified(lp, sol, status, check, exact, redo) if first_order else (None, False)
        if prices_only and lp.shape[1] > min(limit, PRICE_EXACT_COLUMNS):
            redo = False
        if need is not None and redo and self.remaining() != 0.0:
            again = backend(lp, "highs", self.solver_tol, self.remaining(), None)
            again_check = verify(lp, again.v, again.y) if np.isfinite(again.v).all() else None
            exact_ok = again.status is LPStatus.INFEASIBLE or (
                again.status is LPStatus.OPTIMAL and again_check is not None and again_check.passes(self.tol * 10)
            )
            if exact_ok:
                again.method = f"{sol.method}+{again.method}"
                again.iterations += sol.iterations
                again.seconds += sol.seconds
                message = f"{sol.method} {sol.status.value}, not certified ({need}); solved again exactly: {again.message}"
                sol, status, check, need = again, STATUS[again.status], again_check, None
            else:
                need = f"{need}; HiGHS' exact re-solve did not finish ({again.message})"
        if (status is Status.OPTIMAL and check is not None and not check.passes(self.tol * 10)
                and sol.method in ("highs-simplex", "highs-ipm") and lp.is_linear and self.remaining() != 0.0):
            # HiGHS' tolerances are absolute in its scaled program: on badly scaled, degenerate
            # programs (the consumer-feedback loop's targets, every capacity binding at once, committed
            # demand in millions) its "optimal" prices have missed by 5 %. Again, a hundred times
            # tighter, then also without presolve; then at 1e-9 (a us-2017 plan of the loop, its
            # targets 1e-6 inside a face where capacities bind: gap 7.8e-4 at 1e-6 and 1e-7 with
            # presolve or without, 4.7e-10 at 1e-8, 1.1e-9 at 1e-9).
            kind = "highs" if sol.method == "highs-simplex" else "highs-ipm"
            tights = sorted({max(min(self.solver_tol, self.tol) * 1e-2, 1e-10), 1e-9}, reverse=True)
            tries = [(tight, presolve) for tight in tights for presolve in (True, False)]
            for tight, presolve in tries:
                if self.remaining() == 0.0:
                    break
                again = backend(lp, kind, tight, self.remaining(), None, presolve=presolve)
                again_check = verify(lp, again.v, again.y) if np.isfinite(again.v).all() else None
                if again.status is LPStatus.OPTIMAL and again_check is not None and again_check.passes(self.tol * 10):
                    again.method = f"{again.method} (tol {tight:.0e}{'' if presolve else ', no presolve'})"
                    again.iterations += sol.iterations
                    again.seconds += sol.seconds
                    message = (f"{again.message}; solved again at tolerance {tight:.0e}"
                               f"{'' if presolve else ' without presolve'}: the first answer's prices failed "
                               "gosplan's check")
                    sol, check = again, again_check
                    break
        basis = sol.detail.get("basis") if sol.method == "highs-simplex" else None
        if (status is Status.OPTIMAL and check is not None and check.passes(self.tol * 10)
                and check.price_error > self.tol and sol.method in ("highs-simplex", "leontief") and lp.is_linear
                and (lp.shape[1] <= PRICE_EXACT_COLUMNS or basis is not None) and self.remaining() != 0.0):
            # A simplex vertex whose duals miss complementary slackness row by row. HiGHS' postsolve
            # (wiod-2011 with one resource limited: 8.6e-3, an activity running with a reduced cost
            # of 1 % of its turnover; without presolve 1.5e-8): solved again without presolve. Its
            # dual feasibility tolerance, absolute in its scaled program (1e-7 at tol 1e-6): random
            # economies of 30-200 products with capacities ended 4e-9 to 1e-8 short of their
            # optimum, an activity left out at a reduced cost of 8.5e-9 against a turnover of
            # 4.9e-7 at those prices (6 plans of 80 off by 1.5e-2 to 0.10 with or without
            # presolve; at 1e-9 by 1e-15): then at PRICE_EXACT_TOL, with presolve and without.
            # A Leontief-method answer whose prices miss (a finish whose restricted program leaves
            # out a product's own-output bound that binds: 1 random economy of 150, 8.4e-2) is
            # solved by HiGHS the same way, with presolve first. A simplex answer is first solved
            # again at PRICE_EXACT_TOL from its own optimal basis, at any size: a five-year plan of
            # 200 industries (6,065 columns, 3.5e-4) took 26 iterations and 0.12 s so, 11.7 s cold.
            first_error, simplex, first_method, first_message = (check.price_error, sol.method == "highs-simplex",
                                                                 sol.method, message)
            tries = [(PRICE_EXACT_TOL, True, True)] if basis is not None else []
            if lp.shape[1] <= PRICE_EXACT_COLUMNS:
                tries += [(self.solver_tol, not simplex, False)] + [
                    (PRICE_EXACT_TOL, presolve, False) for presolve in (True, False) if PRICE_EXACT_TOL < self.solver_tol]
            for tight, presolve, warm in tries:
                if self.remaining() == 0.0:
                    break
                again = backend(lp, "highs", tight, self.remaining(), None, presolve=presolve,
                                basis=basis if warm else None)
                again_check = self._better_prices(lp, again, check)
                if again_check is None:
                    continue
                # what sets this try apart: (in the method's label, in the message)
                parts = ([] if tight == self.solver_tol else [(f"tol {tight:.0e}", f"at tolerance {tight:.0e}")]) \
                    + ([] if presolve else [("no presolve", "without presolve")]) \
                    + ([("from its basis", "from its optimal basis")] if warm else [])
                said = " and ".join(long for _, long in parts)
                said = said if simplex else " ".join(["by HiGHS"] + ([said] if said else []))
                message = (f"{again.message if simplex else first_message}; solved again {said}: the first "
                           f"answer's prices missed row by row by {first_error:.1e}")
                label = f"{again.method} ({', '.join(short for short, _ in parts)})" if parts else again.method
                again.method = label if simplex else f"{first_method}+{label}"
                sol, check = _carried(sol, again), again_check
                if check.price_error <= self.tol:
                    break
        if (status is Status.OPTIMAL and check is not None and check.passes(self.tol * 10)
                and check.price_error > self.tol and not lp.is_linear
                and lp.shape[1] <= CONIC_COLUMNS and self.remaining() != 0.0):
            # Tangent cuts meet harmony's curve only where they touch it, first-order iterates only
            # to their tolerance: their prices missed complementary slackness row by row by 1e-4 to
            # 8e-2 on the bundled BEA and ONS tables with method="highs" (auto plans them by the
            # Leontief method). Solved again exactly, as a conic program scaled by the plan, and
            # polished (gosplan.optim.conic).
            from gosplan.optim.conic import solve_conic

            again = solve_conic(lp, tol=min(self.solver_tol, 1e-8), time_limit=self.remaining(), v0=sol.v, y0=sol.y)
            again_check = self._better_prices(lp, again, check)
            if again_check is not None:
                message = (f"{sol.message}; solved again exactly by {again.message}: the first answer's prices "
                           f"missed row by row by {check.price_error:.1e}")
                again.method = f"{sol.method}+{again.method}"
                # the first answer's basis and cuts still warm-start a related program (two-level
                # planning's next round lays its cuts from them)
                again.detail = {**sol.detail, **again.detail}
                sol, check = _carried(sol, again), again_check
                if prices_only and again_check.price_error <= self.tol:
                    need = None
        if status is Status.OPTIMAL:
            assert check is not None
            if not check.passes(self.tol * 10) and first_order and self.remaining() == 0.0:
                # the time ran out before the answer could be polished, continued or solved again
                status = Status.TIME_LIMIT
                message = (
                    f"{sol.method} stopped at its tolerance, but the time limit was reached before its answer "
                    f"passed gosplan's check: violation {check.max_violation:.2e}, duality gap "
                    f"{check.relative_gap:.2e}, dual residual {check.dual_residual:.2e} (tolerance {self.tol * 10:.0e})"
                )
            elif not check.passes(self.tol * 10):
                status = Status.NUMERICAL_ERROR
                message = (
                    f"{sol.method} reported optimal but gosplan's check failed: violation "
                    f"{check.max_violation:.2e}, duality gap {check.relative_gap:.2e}, dual residual "
                    f"{check.dual_residual:.2e} (tolerance {self.tol * 10:.0e})"
                )
            elif need is not None:
                message = f"{message}; not certified: {need}"
        elif status is Status.INFEASIBLE and need is not None:
            status = Status.NUMERICAL_ERROR
            message = f"{sol.method} reported the program infeasible but {need}"
        elif status is Status.INFEASIBLE:
            self.certificate = self._certificate(lp, sol)
            message = f"{message}; {self.certificate}"
        elif need is not None:
            message = f"{message}; {need}"
        first = first_sol.detail.get("gave_up")
        if first and not message.startswith(first):
            message = f"{first}; {message}"  # a re-solve's message does not lose why the method gave up
        nan = float("nan")
        if status is Status.INFEASIBLE:
            # the last iterate of an infeasible program is no plan: its violation and gap say
            # nothing (the Farkas ray, in the message, is what certifies the verdict)
            check = None
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
                price_error=check.price_error if check else nan,
            )
        )
        if check is not None:
            self.verifications.append(check)
        return sol, status, message

    def _better_prices(self, lp: LinearProgram, again: LPSolution, check: Verification) -> Verification | None:
        """``again``'s check where it is optimal, passes at ``10 tol`` and prices closer than ``check``."""
        again_check = verify(lp, again.v, again.y) if np.isfinite(again.v).all() else None
        if (again.status is LPStatus.OPTIMAL and again_check is not None and again_check.passes(self.tol * 10)
                and again_check.price_error < check.price_error):
            return again_check
        return None

    def _certificate(self, lp: LinearProgram, sol: LPSolution) -> str:
        """What proves ``lp`` infeasible, in words: the Farkas ray's margin when it has one."""
        margin = farkas_margin(lp, sol.farkas, 10 * self.tol)
        if margin > 0:
            return (f"certified by a Farkas ray: the rows it weighs, with every bound relaxed by "
                    f"{10 * self.tol:.0e}, cannot hold together (margin {margin:.2e})")
        return f"{sol.method}'s own proof of infeasibility (no Farkas ray to check)"

    def _uncertified(
        self, lp: LinearProgram, sol: LPSolution, status: Status, check: Verification | None, exact: bool,
        redo: bool,
    ) -> tuple[str | None, bool]:
        """Why a first-order answer is not certified as it stands (``None``: it is), and whether
        only its prices are at fault."""
        if status is Status.OPTIMAL and check is not None:
            if not check.passes(self.tol * 10):
                return (f"violation {check.max_violation:.2e}, gap {check.relative_gap:.2e}, dual residual "
                        f"{check.dual_residual:.2e} against {self.tol * 10:.0e}"), False
            if exact:
                return "a later priority class holds this optimum, which a first-order solve knows only to its gap", False
            if check.price_error > self.tol:
                return (f"its prices miss complementary slackness row by row by {check.price_error:.2e} "
                        f"> {self.tol:.0e}"), True
            return None, False
        if status is Status.ITERATION_LIMIT and sol.method == "pdhg" and redo:
            return f"no convergence in {FIRST_ORDER_BUDGET:,} iterations", False
        if status is Status.INFEASIBLE and not farkas_margin(lp, sol.farkas, 10 * self.tol) > 0:
            return "its Farkas ray does not prove the constraints infeasible once each bound is relaxed by 10 tol", False
        return None, False

    def _tighten(
        self, lp: LinearProgram, sol: LPSolution, check: Verification
    ) -> tuple[LPSolution, Status, Verification]:
        """A first-order answer whose rows fail gosplan's per-row check: polish the rows to
        feasibility when objective and prices pass, then continue PDHG at tighter tolerances.

        PDHG (and HiGHS' PDLP) stop on norms relative to all the bounds together; a row far
        smaller than the largest bounds can still be off by more than the per-row check allows.
        Harmony programs (not linear: HiGHS cannot re-solve them exactly, and the polish is for
        linear programs) are only continued."""
        status = STATUS[sol.status]
        if check.passes(self.tol * 10):
            return sol, status, check
        if lp.is_linear and check.dual_residual <= self.tol * 10 and check.relative_gap <= self.tol * 10:
            polished = self._polish(lp, sol, check)
            if polished is not None:
                return polished[0], status, polished[1]
        tighter = self.tol
        iterations, seconds, method, first = sol.iterations, sol.seconds, sol.method, sol.message
        while (
            status is Status.OPTIMAL and not check.passes(self.tol * 10) and tighter > self.tol * 1e-4
            and (self.remaining() is None or self.remaining() > 0)
        ):
            tighter /= 10
            sol = backend(lp, "pdhg", tighter, self.remaining(), sol.v, y0=sol.y, pdhg_presolve=self.pdhg_presolve)
            iterations += sol.iterations
            seconds += sol.seconds
            sol.iterations, sol.seconds = iterations, seconds
            if method != "pdhg":
                sol.method = f"{method}+pdhg"
            # what the first answer said (a Leontief method that gave up, and why) stays in the message
            sol.message = f"{first}; its rows failed gosplan's check, continued at tolerance {tighter:.0e}: {sol.message}"
            status = STATUS[sol.status]
            check = verify(lp, sol.v, sol.y) if np.isfinite(sol.v).all() else check
        return sol, status, check

    def _polish(self, lp: LinearProgram, sol: LPSolution, check: Verification) -> tuple[LPSolution, Verification] | None:
        """PDHG's objective and prices pass but some rows do not: look for a feasible point within
        ``9 tol`` of its dual bound (:mod:`gosplan.optim.polish`), stopped once every row is within
        ``polish_rows`` if given, in at most as many iterations as the solve took (at least 1,000).
        An iteration budget, not a time budget, so that the same program gives the same plan on a
        busy machine; the plan's own time limit still applies."""
        from gosplan.optim.polish import polish_feasibility

        bound = check.dual_objective
        found = polish_feasibility(
            lp, sol.v, bound, 9 * self.tol * (1.0 + abs(bound)), time_limit=self.remaining(),
            max_iter=max(sol.iterations, 1000), row_tol=self.polish_rows,
        )
        if found.status is not LPStatus.OPTIMAL:
            return None
        after = verify(lp, found.v, sol.y)
        if not after.passes(self.tol * 10):
            return None
        polished = LPSolution(
            status=LPStatus.OPTIMAL, v=found.v, y=sol.y, d=lp.reduced_costs(found.v, sol.y),
            objective=lp.objective(found.v), method=f"{sol.method}+polish", iterations=sol.iterations + found.iterations,
            seconds=sol.seconds + found.seconds,
            message=f"{sol.message}; rows polished to feasibility in {found.iterations} iterations",
        )
        return polished, after

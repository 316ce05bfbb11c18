"""``plan_years``: the optimal multi-year plan of a :class:`~gosplan.model.horizon.Horizon`."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError
from gosplan.model.horizon import Horizon
from gosplan.multiyear.formulate import MultiYearLayout, MultiYearProblem, Rays, formulate, multiyear_problem
from gosplan.multiyear.result import MultiYearPlanResult
from gosplan.optim.lp import LinearProgram, LPSolution
from gosplan.planning.runner import Runner
from gosplan.results import Status

__all__ = ["plan_years", "METHODS", "AUTO_EXACT_MAX_COLUMNS"]

METHODS = ("auto", "highs", "highs-ipm", "highs-pdlp", "pdhg")
#: ``auto`` uses HiGHS' dual simplex up to this many columns (about 200 products over five
#: years), then ``pdhg``: the Leontief blocks of random economies make the factors of
#: simplex bases and of the interior point's normal equations dense, so their cost grows
#: with the cube of ``n`` (BENCHMARKS.md: 400 products take HiGHS 12–57 s, PDHG 4 s).
AUTO_EXACT_MAX_COLUMNS = 6_000
IIS_MAX_COLUMNS = 50_000
#: First-order methods run at ``tol / FIRST_ORDER_MARGIN`` so that the plan gosplan's check
#: accepts (rows and gap within ten times the runner's tolerance) is within ``tol``.
FIRST_ORDER_MARGIN = 10.0
#: Feasibility polishing of a first-order plan stops once every row passes gosplan's check
#: within this share of ``tol`` (rather than on PDHG's norms at 1e-9): at 10,000 industries
#: 1,984 iterations instead of 12,736 (BENCHMARKS.md, issue 15, run I5).
POLISH_ROWS = 0.5
#: PDHG moves the first year's capital rows (``b_k x_{j,1} <= K_k``, one nonzero each) into the
#: bounds of ``x_{j,1}`` (:mod:`gosplan.optim.presolve`): at 10,000 industries 76,864 iterations
#: to ``1e-7`` instead of 129,344, the plan certified in 404 s instead of cut at 600 s
#: (BENCHMARKS.md, issue 15, run I8).
PDHG_PRESOLVE = True


def _choose(method: str, lp: LinearProgram) -> str:
    if method not in METHODS:
        raise InvalidEconomyError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method != "auto":
        return method
    return "highs" if lp.shape[1] <= AUTO_EXACT_MAX_COLUMNS else "pdhg"


def _classes(problem: MultiYearProblem) -> list[int]:
    return sorted(int(k) for k in np.unique(problem.priority[problem.priority > 0]))


def _priority_stages(
    problem: MultiYearProblem, runner: Runner, tol: float, first_order: bool
) -> tuple[LinearProgram, MultiYearLayout, LPSolution, Status, str, list[float]]:
    """Priority classes, lexicographically: stage ``k`` maximises ``sum_t w_t z_{k,t}``,
    ``z_{k,t} <= 1``, with the earlier classes held at ``sum_t w_t z_{h,t} >= (1 - eps) opt_h``
    (``eps = tol / 10`` after an exact solve, ``10 tol`` after a first-order one); if the last
    class stage meets every class in full in every year with targets, a last stage maximises
    one common ray over all targets, ``z_t >= (1 - eps) min_{g,t} z_{g,t}`` (over-fulfilment)."""
    classes = _classes(problem)
    masks = [problem.priority == k for k in classes]
    eps = 10 * tol if first_order else tol / 10
    T = problem.T
    held: list[float] = []
    targeted = [(problem.horizon.targets[mask] > 0).any(axis=0) for mask in masks]
    for g, k in enumerate(classes):
        rays = Rays(
            tuple(masks[:g + 1]), (0.0,) * (g + 1), (1.0,) * (g + 1),
            (0.0,) * g + (1.0,), tuple(held) + (None,),
        )
        lp, layout = formulate(problem, rays)
        sol, status, message = runner.solve(f"{T}-year plan, priority class {k}", lp)
        if status is not Status.OPTIMAL:
            return lp, layout, sol, status, message, held
        z = layout.rays(sol.v)[g]
        best = float(problem.weights @ np.where(targeted[g], z, 0.0))
        held.append(max(best * (1.0 - eps), 0.0))
    # the last stage's plan meets every class at z_{g,t}: one common ray at their least is feasible
    Z = layout.rays(sol.v)
    least = min(float(Z[g][targeted[g]].min()) for g in range(len(classes)) if targeted[g].any())
    if least >= 1.0 - 10 * tol:
        everything = np.logical_or.reduce(masks)
        rays = Rays((everything,), (min(least, 1.0) * (1.0 - eps),), (np.inf,), (1.0,), (None,))
        lp, layout = formulate(problem, rays)
        sol, status, message = runner.solve(f"{T}-year plan, over-fulfilment", lp)
    return lp, layout, sol, status, message, held


def plan_years(
    horizon: Horizon | Any,
    *,
    years: int | None = None,
    objective: str = "fulfilment",
    discount: float = 0.0,
    terminal: float | None = None,
    growth: Mapping[str, float] | None = None,
    resources: Mapping[str, Any] | None = None,
    costs: Mapping[str, float] | None = None,
    priorities: Mapping[str, int] | None = None,
    method: str = "auto",
    tol: float = 1e-6,
    time_limit: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> MultiYearPlanResult:
    """The optimal ``T``-year plan (the model: ``docs/multiyear.md``).

    Parameters
    ----------
    horizon:
        A :class:`~gosplan.model.horizon.Horizon`, or anything
        :func:`gosplan.io.load_horizon.load_horizon` reads (a bundled dataset name such
        as ``"cockshott-example"``, a directory in Cockshott's or gosplan's format).
    years:
        Plan the first ``years`` years of the horizon (default: all).
    objective:
        ``"fulfilment"``: maximise ``sum_t w_t z_t``, the plan ray of every year
        (Cockshott's choice); ``"harmony"``: maximise ``sum_t w_t sum_i H(c_it / target_it - 1)``;
        ``"cost"``: meet every target in full at least ``sum_t w_t sum_r c_r P_r x_t``.
    discount:
        Rate ``r``: year ``t`` weighs ``w_t = (1 + r)^-(t-1)``.
    terminal:
        ``None``, or a factor ``g``: every capital stock left after the last year is at least
        ``g`` times its initial level (``1``: hand over the stocks received).
    growth:
        ``{activity: g}``: that activity's output grows by at least ``g`` a year.
    resources:
        ``{resource: R}``: primary resources of the economy other than labour, limited to
        ``R`` (one number, or one per year) in every year; ``"labour"`` replaces the horizon's
        labour supply.
    costs:
        ``{resource: c_r}``: weights of the ``cost`` objective (default labour, 1).
    priorities:
        ``{product: class}`` (``1`` most urgent, targeted products not named come last):
        ``fulfilment`` class by class, lexicographically (``docs/multiyear.md``).
    method:
        ``"auto"`` (HiGHS' dual simplex up to :data:`AUTO_EXACT_MAX_COLUMNS` columns,
        ``pdhg`` beyond), ``"highs"`` (dual simplex), ``"highs-ipm"``, ``"highs-pdlp"``,
        ``"pdhg"`` (gosplan's first-order solver).
    tol:
        Relative tolerance. gosplan checks every answer itself (per-row violation, duality
        gap, dual residual); first-order methods run at ``tol / 10`` so that the plan it
        accepts is within ``tol``.
    time_limit:
        Seconds for the whole solve.
    progress:
        Called with a line of text at each stage.

    Returns
    -------
    MultiYearPlanResult
        Check ``status`` (or call ``raise_for_status()``).
    """
    start = time.perf_counter()
    if not isinstance(horizon, Horizon):
        from gosplan.io.load_horizon import load_horizon

        horizon = load_horizon(horizon)
    if years is not None:
        horizon = horizon.with_years(int(years))
    if not (np.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    problem = multiyear_problem(horizon, objective=objective, discount=discount, terminal=terminal, growth=growth,
                                resources=resources, costs=costs, priorities=priorities)
    lp, layout = formulate(problem)
    chosen = _choose(method, lp)
    first_order = chosen in ("pdhg", "highs-pdlp")
    left = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 0.0)
    runner = Runner(chosen, tol / FIRST_ORDER_MARGIN if first_order else tol, left, progress,
                    exact_columns=AUTO_EXACT_MAX_COLUMNS, polish_rows=POLISH_ROWS * tol, pdhg_presolve=PDHG_PRESOLVE)
    classes = problem.priority is not None and len(_classes(problem)) > 1
    held: list[float] = []
    if classes:
        lp, layout, sol, status, message, held = _priority_stages(problem, runner, tol, first_order)
    else:
        sol, status, message = runner.solve(f"{horizon.n_years}-year plan", lp)
    conflict: tuple[str, ...] = ()
    if status is Status.INFEASIBLE and classes and held:
        status = Status.NUMERICAL_ERROR  # the first stage met every constraint the user gave
        message = f"a later priority stage is infeasible only because of the classes held: {message}"
    elif status is Status.INFEASIBLE:
        from gosplan.planning.explain import describe_conflict

        conflict = describe_conflict(
            lp, sol, iis_max_columns=IIS_MAX_COLUMNS,
            order=("terminal", "growth", "labour", "resource", "stock", "balance", "level", "investment"),
            time_limit=runner.remaining(),
        )
        proof = f" ({runner.certificate})" if runner.certificate else ""
        message = f"no plan meets every constraint{proof}" + (": " + "; ".join(conflict[:5]) if conflict else "")
    elif status is Status.UNBOUNDED:
        message = "the objective is unbounded"
    return _result(problem, lp, layout, sol, status, message, runner, conflict, time.perf_counter() - start)


def k_index(problem: MultiYearProblem, k: int) -> int:
    """Position of class ``k`` among the priority classes (its ray in a class stage)."""
    return _classes(problem).index(k)


def _result(
    problem: MultiYearProblem,
    lp: LinearProgram,
    layout: MultiYearLayout,
    sol: LPSolution,
    status: Status,
    message: str,
    runner: Runner,
    conflict: tuple[str, ...],
    seconds: float,
) -> MultiYearPlanResult:
    h = problem.horizon
    eco = h.economy
    n, m, nk, T = problem.n, problem.m, problem.nk, problem.T
    have = status in (Status.OPTIMAL, Status.TIME_LIMIT, Status.ITERATION_LIMIT, Status.NUMERICAL_ERROR)
    v = sol.v if have and np.isfinite(sol.v).all() else np.full(lp.shape[1], np.nan)
    y = sol.y if have and np.isfinite(sol.y).all() else np.full(lp.shape[0], np.nan)
    x = layout.x(v)
    acc = layout.acc(v)
    make = eco.make if eco.make is not None else sp.eye_array(n, format="csr")
    output = make @ x
    intermediate = eco.use @ x
    accumulation = np.zeros((n, T))
    for t in range(T):
        accumulation[:, t] = np.bincount(problem.stock_product, weights=acc[:, t], minlength=n)
    consumption = output - intermediate - accumulation
    rho = problem.retention
    stock = np.empty((nk, T))
    s = problem.stock.copy()
    for t in range(T):
        stock[:, t] = s
        s = rho * s + acc[:, t]
    end_stock = s
    required = problem.coefficient[:, None] * x[problem.stock_activity, :]
    capacity = np.full((m, T), np.inf)
    allowed = np.full((nk, T), np.inf)
    used = problem.coefficient > 0
    allowed[used] = stock[used] / problem.coefficient[used, None]
    with np.errstate(invalid="ignore"):  # NaN stocks when there is no plan
        for t in range(T):
            np.minimum.at(capacity[:, t], problem.stock_activity, allowed[:, t])
    capacity[~problem.operated, :] = 0.0
    labour_use = problem.labour[:, None] * x
    price = np.stack([y[b:b + n] for b in layout.balance_start], axis=1)
    labour_price = -y[layout.labour_row]
    rent = -np.stack([y[c:c + nk] for c in layout.capital_start], axis=1) if nk else np.zeros((0, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h.targets > 0, consumption / h.targets, np.nan)
    targeted_years = (h.targets > 0).any(axis=0)
    Z = layout.rays(v)
    class_fulfilment: dict[int, np.ndarray] = {}
    if problem.objective == "fulfilment" and problem.priority is not None:
        for k in sorted(int(c) for c in np.unique(problem.priority[problem.priority > 0])):
            mask = problem.priority == k
            # the class's own ray, or the common ray of the over-fulfilment stage
            g = 0 if Z.shape[0] == 1 else k_index(problem, k)
            zk = Z[g] if g < Z.shape[0] else np.full(T, np.nan)  # a stage not reached: NaN
            class_fulfilment[k] = np.where((h.targets[mask] > 0).any(axis=0), zk, np.nan)
    if problem.objective == "fulfilment" and Z.shape[0] == 1:
        fulfilment = np.where(targeted_years, Z[0], np.nan)
    else:
        fulfilment = np.array([np.fmin.reduce(ratio[:, t]) if targeted_years[t] else np.nan for t in range(T)])
    nr = len(problem.resource_names)
    resource_use = problem.resource_use @ x if nr else np.zeros((0, T))
    resource_price = -y[layout.resource_rows()] if nr else np.zeros((0, T))
    # an infeasible program's last iterate is no plan: no violation or gap to report for it
    check = runner.verifications[-1] if runner.verifications and status is not Status.INFEASIBLE else None
    stages = tuple(runner.stages)
    sign = 1.0 if problem.objective == "cost" else -1.0
    objective = sign * check.primal_objective if check is not None and have else float("nan")
    return MultiYearPlanResult(
        economy=eco.meta.name,
        objective_kind=problem.objective,
        status=status,
        message=message,
        objective=objective,
        years=h.years,
        products=eco.products,
        activities=eco.activities,
        stock_product=problem.stock_product,
        stock_activity=problem.stock_activity,
        weights=problem.weights,
        level=x,
        output=output,
        intermediate=intermediate,
        accumulation=accumulation,
        consumption=consumption,
        target=h.targets,
        price=price,
        capacity=capacity,
        labour_use=labour_use,
        stock=stock,
        required=required,
        investment=acc,
        depreciation=(1.0 - rho)[:, None] * stock,
        rent=rent,
        end_stock=end_stock,
        fulfilment=fulfilment,
        labour_used=labour_use.sum(axis=0),
        labour_supply=problem.labour_supply if problem.labour_supply is not None else h.labour_supply,
        labour_price=labour_price,
        max_violation=check.max_violation if check else float("nan"),
        duality_gap=check.relative_gap if check else float("nan"),
        method=sol.method,
        seconds=seconds,
        iterations=sum(st.iterations for st in stages),
        stages=stages,
        conflict=conflict,
        notes=h.notes,
        units=eco.meta.units,
        labour_unit=eco.meta.labour_unit,
        resource_texts=eco.meta.resource_texts(eco.resources),
        detail={
            "rows": lp.shape[0], "columns": lp.shape[1], "nonzeros": int(lp.K.nnz),
            "discount": problem.discount, "terminal": problem.terminal,
            "growth_targets": int(np.isfinite(problem.growth).sum()),
        },
        resources=pd.Index(problem.resource_names, name="resource"),
        resource_use=resource_use,
        resource_supply=problem.resource_supply if nr else np.zeros((0, T)),
        resource_price=resource_price,
        class_fulfilment=class_fulfilment,
    )

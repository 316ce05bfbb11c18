"""Optimal plans: Kantorovich's plan ray with priority classes, Cockshott's harmony,
least cost; solved by HiGHS or by gosplan's own first-order solver, and checked.

``plan(economy, objective=...)`` is the entry point; see ``docs/planning.md`` for
the model exactly as implemented.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from gosplan.errors import InvalidEconomyError
from gosplan.model.economy import Economy
from gosplan.optim.check import Verification
from gosplan.optim.lp import LinearProgram, LPSolution
from gosplan.planning.formulate import Layout, cost_lp, fulfilment_lp, harmony_lp
from gosplan.planning.prices import duals_to_prices, values_and_cost_prices
from gosplan.planning.problem import OBJECTIVES, PlanProblem, planning_problem
from gosplan.planning.result import PlanResult
from gosplan.planning.runner import Runner as _Runner
from gosplan.planning.runner import is_first_order
from gosplan.results import Status

__all__ = ["plan", "METHODS", "AUTO_HIGHS_MAX", "AUTO_DENSE_NNZ"]

METHODS = ("auto", "highs", "highs-ipm", "highs-pdlp", "leontief", "pdhg")
AUTO_HIGHS_MAX = 5_000
"""``method="auto"`` uses HiGHS' simplex up to this many activities (unless the table is dense,
:data:`AUTO_DENSE_NNZ`); beyond, the Leontief method where it applies
(:mod:`gosplan.planning.substitution`), else gosplan's PDHG."""
AUTO_DENSE_NNZ = 100_000
"""From this many nonzeros of ``N``, ``method="auto"`` takes the Leontief method where it applies
at any size: HiGHS' simplex is slow on a dense table (WIOD 2011, 1,435 products, 414k
nonzeros: ``fulfilment`` 19-21 s against 6.5 s, ``cost`` 7.8 s against 0.6 s, ``harmony`` by
tangent cuts unfinished after 5 minutes against 1.1 s; BENCHMARKS.md, run N1)."""

IIS_MAX_COLUMNS = 200_000
"""Above this size an infeasible plan is explained from the Farkas ray alone."""

Progress = Callable[[str], None]

def _choose_method(method: str, problem: PlanProblem, objective: str) -> str:
    from gosplan.planning.substitution import applicable

    if method not in METHODS:
        raise InvalidEconomyError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "auto":
        # harmony takes the Leontief method wherever it applies, at any size: exact, and faster
        # than HiGHS' tangent cuts at every size measured (uk-2015 0.02 s against 0.43 s,
        # n = 1,000 0.23 s against 2.0 s, WIOD 0.32 s against cuts unfinished at 120 s;
        # BENCHMARKS.md, run N1 and "Harmony by the Leontief method")
        if objective != "harmony" and problem.m <= AUTO_HIGHS_MAX and problem.net.nnz < AUTO_DENSE_NNZ:
            return "highs"
        if not applicable(problem, objective):
            return "leontief"
        return "highs" if problem.m <= AUTO_HIGHS_MAX else "pdhg"
    if method == "leontief":
        why = applicable(problem, objective)
        if why:
            raise InvalidEconomyError(f"the leontief method does not apply to this plan: {why}")
    return method


def plan(
    economy: Economy,
    *,
    objective: str = "fulfilment",
    targets: Any = None,
    priorities: Any = None,
    resources: Any = None,
    capacities: Any = None,
    floors: Any = None,
    ceilings: Any = None,
    weights: Any = None,
    costs: Any = None,
    committed: Any = None,
    method: str = "auto",
    tol: float = 1e-6,
    time_limit: float | None = None,
    explain: bool = True,
    progress: Progress | None = None,
    vertex: bool | None = None,
) -> PlanResult:
    """Compute an optimal plan for ``economy``.

    Parameters
    ----------
    economy:
        Technology ``(U, O)``, primary inputs ``P`` and final demand.
    objective:
        ``"fulfilment"`` (Kantorovich's plan ray, lexicographic over priority
        classes, then over-fulfilment), ``"harmony"`` (Cockshott) or ``"cost"``
        (targets met at least cost in ``costs``-weighted resources, labour by default).
    targets:
        Final-product targets ``y >= 0``: path to a ``product,quantity`` file, a
        mapping, Series or array; default the table's own final demand (negative
        entries set to 0 with a warning).
    priorities:
        Priority class per product (``product,class``, ``1`` most urgent); targeted
        products not named form the last class. ``fulfilment`` only.
    resources:
        Available amount per resource (``resource,available``); resources not named
        are unlimited. Default: labour limited to the table's own total ``l x``.
    capacities:
        Capacity of each product's gross output ``O_i x`` (``product,capacity``).
    floors, ceilings:
        Bounds on net output ``f_i`` (``product,floor`` / ``product,ceiling``);
        floors default to ``0``.
    weights:
        Harmony weights ``w_i > 0`` (``product,weight``), default ``1``; ``"value"``: each
        target's value at the labour values, ``w_i = v_i y_i`` (the table's technique, or the
        least-labour choice among several; :func:`gosplan.planning.problem.value_weights`). With weight 1 every good above its
        target gets about the same quantity; the result's ``detail["harmony_note"]`` says
        when that gave targets nothing or more than tenfold.
    costs:
        Cost weight per resource (``resource,cost``) for ``objective="cost"``;
        default labour ``1``, others ``0``.
    committed:
        Final demand met before any target is maximised (``product,quantity``; may be
        negative, e.g. net imports): the balances read ``N x >= committed + z y``, so
        the targets ``y`` get what is left (the consumer-feedback loop commits
        government, investment and exports and plans households' consumption as ``y``).
        Default none.
    method:
        ``"auto"`` (HiGHS up to :data:`AUTO_HIGHS_MAX` activities; beyond, and on dense
        tables (:data:`AUTO_DENSE_NNZ` nonzeros), ``"leontief"`` where it applies, else
        ``"pdhg"``; ``harmony`` by ``"leontief"`` wherever it applies, at any size), ``"highs"`` (dual simplex), ``"highs-ipm"``,
        ``"highs-pdlp"``, ``"leontief"`` (decomposition over the scarce resources with
        Leontief substitution subproblems, :mod:`gosplan.planning.substitution`; for
        ``harmony`` a Newton search over their prices, :mod:`gosplan.planning.harmony_leontief`),
        ``"pdhg"``.
    tol:
        Relative tolerance of feasibility and duality gap (gosplan's own check
        allows ``10 * tol`` before refusing a backend's "optimal").
    time_limit:
        Seconds for the whole plan; on expiry the status is ``time_limit``.
    explain:
        On infeasibility, name the conflicting constraints (an irreducible
        infeasible subset from HiGHS, or the Farkas ray on large plans).
    progress:
        Called with one line of text per stage.
    vertex:
        With the Leontief method: end each stage on an optimal vertex whose prices are
        certified row by row, where Dantzig–Wolfe alone stops within ``tol/2`` of the bound
        with prices certified by the duality gap only: by the whole program on its linking
        rows (:mod:`gosplan.planning.substitution_rows`, where its rows fit) or the
        restricted program on the techniques the master mixes
        (:mod:`gosplan.planning.substitution_finish`, once they are few enough). ``None``
        (default): both, the restricted program on up to
        :data:`~gosplan.planning.substitution.FINISH_AUTO_MAX` products (200,000), where it
        costs no time; ``True``: both at any size; ``False``: neither (docs/planning.md).
        Other methods ignore it (HiGHS' simplex gives a vertex anyway).

    Returns
    -------
    PlanResult
        Always returned, whatever the status; ``result.raise_for_status()`` turns a
        non-optimal status into an exception.

    Examples
    --------
    >>> import gosplan
    >>> econ = gosplan.load("cockshott-example")
    >>> result = gosplan.plan(econ, objective="fulfilment")
    >>> result.status.value, round(result.class_fulfilment[1], 6)
    ('optimal', 1.0)
    """
    start = time.perf_counter()
    if objective not in OBJECTIVES:
        raise InvalidEconomyError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if priorities is not None and objective != "fulfilment":
        raise InvalidEconomyError(
            f"priority classes apply to the 'fulfilment' objective; for {objective!r} give weights instead"
        )
    if costs is not None and objective != "cost":
        raise InvalidEconomyError(
            f"costs weigh the 'cost' objective, not {objective!r}: plan with the cost objective "
            "(--objective cost) or leave the costs out"
        )
    if weights is not None and objective != "harmony":
        raise InvalidEconomyError(
            f"weights weigh the 'harmony' objective, not {objective!r}: plan with the harmony objective "
            "(--objective harmony) or leave the weights out"
        )
    problem = planning_problem(
        economy,
        targets=targets,
        priorities=priorities,
        resources=resources,
        capacities=capacities,
        floors=floors,
        ceilings=ceilings,
        weights=weights,
        costs=costs,
        committed=committed,
    )
    return solve_problem(problem, objective=objective, method=method, tol=tol, time_limit=time_limit,
                         explain=explain, progress=progress, start=start, vertex=vertex)


def solve_problem(
    problem: PlanProblem,
    *,
    objective: str,
    method: str = "auto",
    tol: float = 1e-6,
    time_limit: float | None = None,
    explain: bool = True,
    progress: Progress | None = None,
    start: float | None = None,
    vertex: bool | None = None,
) -> PlanResult:
    """:func:`plan` on an already checked :class:`PlanProblem`."""
    start = time.perf_counter() if start is None else start
    backend = _choose_method(method, problem, objective)
    runner = _Runner(backend, tol, time_limit, progress)
    class_z: dict[int, float] = {}
    state: dict[str, Any] = {"finish": vertex}  # carried by the Leontief method's stages
    if objective == "fulfilment":
        sol, status, message, lp, layout = _fulfilment(problem, runner, class_z, state)
    elif objective == "harmony":
        lp, layout = harmony_lp(problem)
        stage = {"problem": problem, "objective": "harmony", "layout": layout, "state": state}
        sol, status, message = runner.solve("harmony", lp, stage=stage)
    else:
        lp, layout = cost_lp(problem)
        stage = {"problem": problem, "objective": "cost", "layout": layout, "state": state}
        sol, status, message = runner.solve("cost", lp, stage=stage)
    return _result(problem, objective, runner, sol, status, message, lp, layout, class_z, explain, start)


def _fulfilment(problem: PlanProblem, runner: _Runner, class_z: dict[int, float], state: dict[str, Any]):
    """Lexicographic plan ray: ``z_1 <= 1``, held; ``z_2 <= 1``, ...; then a common ``z >= 1``.

    A class is held a little below its optimum so that later stages stay feasible:
    ``N_i x >= min(h z_k y_i, ceiling_i, f_i)`` with ``f`` the net output of the stage's own
    plan (which therefore stays feasible) and ``h = 1 - tol/10`` when ``z_k`` is exact (HiGHS,
    Leontief, or a first-order stage solved again exactly, as every stage that a later one
    holds is where HiGHS can take it); ``h = 1 - 10 tol`` for a first-order stage beyond
    HiGHS' size, whose ``z_k`` is only accurate to about ``tol``. Each held stage records how
    far below its certified optimum (its dual bound) the class is held (``held_shortfall``).
    """
    y = problem.target
    classes = problem.classes
    held = np.full(problem.n, -np.inf)
    if not classes:
        raise InvalidEconomyError("the plan has no targets: every target is zero")
    v0 = None
    sol = status = message = lp = layout = None
    single = len(classes) == 1
    hold = 1.0 - runner.tol / 10
    for number, k in enumerate(classes):
        active = np.flatnonzero(problem.priority == k)
        z_upper = np.inf if single else 1.0
        lp, layout = fulfilment_lp(problem, active, held, z_upper=z_upper)
        stage = {"problem": problem, "objective": "fulfilment", "layout": layout, "state": state,
                 "active": active, "held": held.copy(), "z_upper": z_upper}
        sol, status, message = runner.solve(f"class {k}", lp, v0, stage, exact=number < len(classes) - 1)
        if status is Status.INFEASIBLE and number > 0:
            return (sol, *_hold_artefact(runner, f"class {k}", message), lp, layout)
        if status is not Status.OPTIMAL:
            return sol, status, message, lp, layout
        z = float(sol.v[-1])
        class_z[k] = z
        hold = 1.0 - (10 * runner.tol if is_first_order(sol.method) else runner.tol / 10)
        f = problem.net[active] @ sol.v[: problem.m]
        base = problem.base[active]
        held[active] = np.minimum(np.minimum(base + z * hold * y[active], problem.ceiling[active]), f)
        if not single:
            z_bound = -runner.verifications[-1].dual_objective
            with np.errstate(divide="ignore", invalid="ignore"):
                level = np.where(y[active] > 0, (held[active] - base) / (z_bound * y[active]), 1.0)
            shortfall = float(max(1.0 - level.min(initial=1.0), 0.0)) if z_bound > 0 else 0.0
            runner.stages[-1] = replace(runner.stages[-1], held_shortfall=shortfall)
        v0 = sol.v
    if single or min(class_z.values()) < 1.0 - runner.tol:
        return sol, status, message, lp, layout
    # Every class met its target: one common ray beyond it.
    targeted = np.flatnonzero(y > 0)
    lp, layout = fulfilment_lp(problem, targeted, np.full(problem.n, -np.inf), z_lower=hold)
    stage = {"problem": problem, "objective": "fulfilment", "layout": layout, "state": state,
             "active": targeted, "held": None, "z_lower": hold}
    sol, status, message = runner.solve("over-fulfilment", lp, v0, stage)
    if status is Status.INFEASIBLE:
        return (sol, *_hold_artefact(runner, "over-fulfilment", message), lp, layout)
    if status is Status.OPTIMAL:
        for k in classes:
            class_z[k] = float(sol.v[-1])
    return sol, status, message, lp, layout


def _hold_artefact(runner: _Runner, name: str, message: str) -> tuple[Status, str]:
    """A later stage found infeasible: the first stage found a plan that meets every constraint
    the user gave, so only the holds of earlier classes can conflict. Not an infeasible plan."""
    why = (
        f"{name} is infeasible only under the holds of the earlier priority classes (the first class "
        f"found a plan that meets every constraint): an earlier optimum was not accurate enough to hold "
        f"({message}); solve with method='highs' or a smaller tol"
    )
    runner.stages[-1] = replace(runner.stages[-1], status=Status.NUMERICAL_ERROR, message=why)
    return Status.NUMERICAL_ERROR, why


def _result(
    problem: PlanProblem,
    objective: str,
    runner: _Runner,
    sol: LPSolution,
    status: Status,
    message: str,
    lp: LinearProgram,
    layout: Layout,
    class_z: dict[int, float],
    explain: bool,
    start: float,
) -> PlanResult:
    n, m, r = problem.n, problem.m, len(problem.resources)
    nan_n = np.full(n, np.nan)
    conflict: tuple[str, ...] = ()
    detail: dict[str, Any] = {}
    have_primal = np.isfinite(sol.v).all() and status in (
        Status.OPTIMAL, Status.ITERATION_LIMIT, Status.TIME_LIMIT, Status.NUMERICAL_ERROR
    )
    x = sol.v[:m] if have_primal else np.full(m, np.nan)
    have_dual = have_primal and np.isfinite(sol.y).all()
    if have_dual:
        p, mu, kappa, reduced, bound = duals_to_prices(problem, lp, layout, sol.y)
    else:
        p, mu, kappa, reduced = nan_n, np.full(r, np.nan), nan_n.copy(), np.full(m, np.nan)
        bound = nan_n.copy()
    values, cost_prices = nan_n.copy(), nan_n.copy()
    if objective == "cost":
        # what is minimised, said where a default chose it (labour, else the first resource)
        detail["cost_weights"] = {str(problem.resources[k]): float(problem.cost[k]) for k in np.flatnonzero(problem.cost)}
    last = runner.verifications[-1] if runner.verifications else None
    if status is Status.OPTIMAL and last is not None:
        # The prices are the final stage's: certified row by row (optim.check), or said not to be.
        detail["price_error"] = float(last.price_error)
        detail["prices_certified"] = bool(last.price_error <= runner.tol)
        if not detail["prices_certified"]:
            detail["prices_note"] = (
                f"prices not certified: they miss complementary slackness row by row by "
                f"{last.price_error:.2e} (> tol {runner.tol:.0e}); the plan itself is certified. The prices "
                f"are exact for a program whose bounds and costs differ from this one's by at most that, "
                f"relative. {_PRICE_ADVICE.get(objective, _PRICE_ADVICE['fulfilment'])}"
            )
    if status is Status.OPTIMAL and objective == "harmony":
        note = _harmony_note(problem, problem.net @ x)
        if note:
            detail["harmony_note"] = note
    if status is Status.OPTIMAL:
        values, cost_prices, why = values_and_cost_prices(problem, x, mu, objective)
        if why:
            detail["prices_note"] = "; ".join(filter(None, [detail.get("prices_note"), why]))
    if status is Status.INFEASIBLE:
        conflict = _explain(problem, lp, sol, runner.remaining()) if explain else ()
        message = "infeasible: no plan meets every constraint" + (
            "; these conflict: " + "; ".join(conflict) if conflict else ""
        )
    elif status is Status.UNBOUNDED:
        from gosplan.planning.unbounded import unbounded_message

        message = unbounded_message(problem, objective)
    elif status is Status.OPTIMAL:
        message = "optimal plan" + (
            f"; fulfilment {', '.join(f'class {k}: {z:.6g}' for k, z in class_z.items())}" if class_z else ""
        )
    return PlanResult(
        economy=problem.name,
        objective_kind=objective,
        status=status,
        message=message,
        objective=_objective(objective, status, last),
        products=problem.products,
        activities=problem.activities,
        resources=problem.resources,
        activity_level=x,
        gross_output=problem.make @ x,
        net_output=problem.net @ x,
        target=problem.target,
        committed=problem.committed,
        priority=problem.priority,
        capacity=problem.capacity,
        resource_use=problem.primary @ x,
        available=problem.available,
        shadow_price=p,
        resource_price=mu,
        capacity_price=kappa,
        reduced_cost=reduced,
        bound_price=bound,
        labour_value=values,
        cost_price=cost_prices,
        class_fulfilment=dict(class_z),
        max_violation=max((v.max_violation for v in runner.verifications), default=float("nan")),
        duality_gap=last.relative_gap if last and has_primal_gap(status) else float("nan"),
        method="+".join(dict.fromkeys(s.method for s in runner.stages)),
        seconds=time.perf_counter() - start,
        iterations=sum(s.iterations for s in runner.stages),
        stages=tuple(runner.stages),
        conflict=conflict,
        units=problem.units,
        labour_unit=problem.labour_unit,
        resource_texts=problem.resource_texts,
        labour=problem.labour,
        detail=detail,
    )


_VERTEX_ADVICE = ("Exact prices come from a vertex: HiGHS' simplex (--method highs) or the Leontief method's "
                  "finish (--vertex)")


def _harmony_note(problem: PlanProblem, net: np.ndarray) -> str:
    """What unit harmony weights did to targets of very different sizes, where it shows: targets
    given up (``s_i = -1``) or exceeded more than tenfold, with the remedy."""
    if not np.all(problem.weight == 1.0):
        return ""
    T = np.flatnonzero(problem.target > 0)
    if T.size < 2:
        return ""
    s = (net[T] - problem.base[T]) / problem.target[T] - 1.0
    dropped, over = T[s <= -1.0 + 1e-6], T[s >= 9.0]
    if not (dropped.size or over.size):
        return ""
    parts = []
    if dropped.size:
        shown = ", ".join(problem._named(problem.products[i]) for i in dropped[np.argsort(-problem.target[dropped])][:3])
        parts.append(f"nothing to {dropped.size:,} of {T.size:,} targets (the largest: {shown})")
    if over.size:
        parts.append(f"more than ten times the target to {over.size:,}" + ("" if dropped.size else f" of {T.size:,}"))
    return (
        "with weight 1 for every target, harmony gave " + " and ".join(parts) + ": above its target every good "
        "gets about the same quantity (y_i (1 + s_i) = 1 / pi_i), and a target of pi_i y_i >= 2 gets nothing "
        "(docs/planning.md). weights='value' (--weights value) weighs each target by its base-year labour value"
    )


_PRICE_ADVICE = {
    "fulfilment": _VERTEX_ADVICE,
    "cost": _VERTEX_ADVICE,
    "harmony": "Harmony's prices come from tangent cuts or first-order iterates: a tighter --tol usually brings "
               "them closer, not always (docs/planning.md)",
}
"""What to do where a plan's prices miss their row-by-row certificate (see ``prices_note``)."""


def has_primal_gap(status: Status) -> bool:
    """Whether a result has a plan whose duality gap means something."""
    return status not in (Status.INFEASIBLE, Status.UNBOUNDED)


def _objective(objective: str, status: Status, last: Verification | None) -> float:
    """The plan's objective in its own sense (``z``, harmony, cost); ``NaN`` without a plan."""
    if last is None or status in (Status.INFEASIBLE, Status.UNBOUNDED):
        return float("nan")
    return last.primal_objective if objective == "cost" else -last.primal_objective


def _explain(problem: PlanProblem, lp: LinearProgram, sol: LPSolution, time_left: float | None = None
             ) -> tuple[str, ...]:
    """Words for the constraints that conflict: an IIS, or the Farkas ray's support; within the
    plan's time limit (``time_left`` seconds, ``None``: none)."""
    from functools import partial

    from gosplan.planning.explain import describe_conflict, plan_col_words

    return describe_conflict(lp, sol, iis_max_columns=IIS_MAX_COLUMNS, col_words=partial(plan_col_words, problem),
                             time_limit=time_left)

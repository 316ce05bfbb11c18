"""Two-level planning: the centre plans over the ministries' aggregated reports, the
ministries price their enterprises and split what the aggregate hides, until the
centre's plan is within ``tol`` of the Lagrangian bound the ministries certify.

The enterprise-level program (each enterprise an activity ``0 <= x_e <= C_e`` with
its own technique; the products no enterprise makes by their table technique) is
never formed at the centre. Round ``k``:

1. **plan down**: the centre solves its program over the current groups
   (:mod:`gosplan.decompose.master`) and sends its prices ``(pi, w)`` to every ministry;
2. **prices and reports up**: each ministry computes its enterprises' reduced costs
   ``d_e`` at those prices, the value of its Lagrangian subproblem
   ``sum_e C_e min(0, d_e)``, and splits every group whose members disagree in sign
   (:mod:`gosplan.decompose.ministry`);
3. the centre's bound is the Lagrangian dual of the enterprise-level program at its
   prices: ``D = D_centre - sum_g C_g min(0, d_g) + sum_e C_e min(0, d_e)`` — a bound
   on the enterprise-level optimum because the prices are feasible for its dual once
   each enterprise's capacity is priced at ``max(0, -d_e)``. The centre's plan
   (``x_e = C_e / C_g * level_g``) is feasible for it. Stop when
   ``(P - D) / max(|P|, |D|) <= tol``.

This is Dantzig–Wolfe decomposition with disaggregated proposals (iterative
aggregation): each split is a new column of the centre's program, finitely many
splits exist, and in the limit every group is of one sign, where ``D = P``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from gosplan.decompose.executors import executor as make_executor, payload_bytes
from gosplan.decompose.master import CentreProgram, centre_program, prices_from_duals
from gosplan.decompose.ministry import (
    MinistryState,
    enterprise_levels,
    first_report,
    initial_state,
    ministry_data,
    price_round,
)
from gosplan.decompose.result import DecomposedPlan, Round
from gosplan.errors import GosplanWarning, InvalidEconomyError
from gosplan.model.economy import Economy
from gosplan.planning.optimal import _result
from gosplan.planning.problem import planning_problem
from gosplan.optim.lp import LinearProgram, LPSolution
from gosplan.planning.runner import Runner, is_first_order
from gosplan.results import Status

__all__ = ["plan_decomposed", "METHODS", "COORDINATIONS", "AUTO_HIGHS_MAX_COLUMNS"]

METHODS = ("auto", "highs", "highs-ipm", "pdhg")
AUTO_HIGHS_MAX_COLUMNS = 50_000
"""``method="auto"``: the centre's program goes to HiGHS' dual simplex up to this many
columns, to gosplan's PDHG beyond."""

OBJECTIVES = ("fulfilment", "cost", "harmony")
COORDINATIONS = ("aggregation", "marginal")
"""How the centre and the ministries coordinate: ``aggregation`` — the centre solves the LP over
the ministries' groups each round (Dantzig–Wolfe with disaggregated proposals); ``marginal`` —
no LP at the centre, only product-level Leontief solves over the marginal enterprises the
ministries report (:mod:`gosplan.decompose.marginal`)."""


def _build_from_data(data: Any, singletons: bool) -> MinistryState:
    """A ministry's state on whichever worker runs this (every enterprise alone if ``singletons``)."""
    state = initial_state(data)
    if singletons:
        state = MinistryState(data=data, group=np.arange(data.enterprise.size))
    return state


def _levels(state: MinistryState, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return enterprise_levels(state, level)


def _relative_gap(primal: float, dual: float, objective: str = "fulfilment") -> float:
    """``(P - D) / max(|P|, |D|, 1)``: relative, and absolute below 1, as gosplan's check
    measures a gap. Every objective's optimum can be 0 or near it: a harmony whose over- and
    under-fulfilment balance, a plan ray stopped at ``z = 0`` by a target nothing can make, a
    cost plan with (almost) nothing to pay; a purely relative gap would then ask for digits
    no solver has, and the rounds would run to their limit. (``objective`` is kept for
    callers that name it.)"""
    if not (math.isfinite(primal) and math.isfinite(dual)):
        return math.inf
    return max(primal - dual, 0.0) / max(abs(primal), abs(dual), 1.0)


def plan_decomposed(
    economy: Economy,
    *,
    hierarchy: Any = None,
    objective: str = "fulfilment",
    targets: Any = None,
    resources: Any = None,
    floors: Any = None,
    ceilings: Any = None,
    capacities: Any = None,
    costs: Any = None,
    priorities: Any = None,
    weights: Any = None,
    coordination: str = "aggregation",
    method: str = "auto",
    tol: float = 1e-6,
    max_rounds: int = 100,
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    monolithic: bool = False,
    progress: Callable[[str], None] | None = None,
    on_round: Callable[[Round, Any], None] | None = None,
) -> DecomposedPlan:
    """Plan ``economy`` down to its enterprises by two-level planning (see the module).

    Parameters
    ----------
    economy:
        A square economy with a :class:`~gosplan.model.hierarchy.Hierarchy`
        (``economy.hierarchy``, or give ``hierarchy``).
    objective:
        ``"fulfilment"`` (Kantorovich's plan ray: the largest ``z`` with every target
        ``z y_i`` met), ``"cost"`` (targets met at least cost) or ``"harmony"``
        (Cockshott's ``max sum_i w_i H(s_i)`` with net output ``y_i (1 + s_i)``; the centre
        solves the harmony program over its groups, the bound is its Lagrangian dual; the
        gap is relative to ``max(|P|, |D|, 1)``, docs/decompose.md "Harmony").
    targets, resources, floors, ceilings, costs:
        As for :func:`gosplan.plan`.
    weights:
        Harmony weights ``w_i`` (``harmony`` only; default 1), as for :func:`gosplan.plan`.
    priorities:
        Priority classes of the targets (``fulfilment`` only), as for :func:`gosplan.plan`:
        class 1's ``z_1`` is maximised first (up to 1) and held, then class 2's, ...; each
        stage is planned in rounds to ``tol``.
    capacities:
        Capacities of products *no* enterprise makes (the enterprises' own
        capacities bound the rest).
    coordination:
        ``"aggregation"`` (default: the centre's LP over the ministries' groups) or
        ``"marginal"`` (no LP at the centre: prices and gross outputs down, each product's
        marginal enterprise and saturated capacity up, Leontief solves at the centre; the
        fulfilment objective with one limited resource and one priority class).
    method:
        The centre's solver (``aggregation``): ``"auto"`` (HiGHS' dual simplex up to
        :data:`AUTO_HIGHS_MAX_COLUMNS` columns, else PDHG), ``"highs"``,
        ``"highs-ipm"``, ``"pdhg"``.
    tol:
        Relative gap between the centre's plan and the ministries' bound at which
        to stop (also the centre's solver tolerance).
    max_rounds, time_limit:
        Stop after this many rounds or seconds (status ``iteration_limit`` /
        ``time_limit``; the last plan is kept, feasible, with its gap).
    workers, scheduler, client:
        Where the ministries run: in this process (default), on a
        ``distributed.LocalCluster`` of ``workers`` processes, on the Dask scheduler at
        ``scheduler`` (``"tcp://host:8786"``), or through a ``distributed.Client``.
    monolithic:
        Solve the enterprise-level program in one piece at the centre instead (every
        enterprise its own group): the reference the decomposition converges to.
    progress:
        Called with one line of text per round (the round log).
    on_round:
        Called after each round with its :class:`Round` and the executor (tests use it
        to kill a worker mid-solve).

    Examples
    --------
    >>> import gosplan
    >>> from gosplan.synth.enterprises import synth_enterprises  # doctest: +SKIP
    """
    start = time.perf_counter()
    from gosplan.hierarchy._techniques import resolve_hierarchy

    hierarchy = resolve_hierarchy(economy, hierarchy)
    if hierarchy.n_enterprises == 0:
        # A grouping of products into ministries without enterprises (the BEA tables carry BEA's
        # summary codes and sectors as ministries): the ministries have nothing to price or split
        # and the centre plans every product by the table's technique, the one-level plan. Planned
        # (it is a valid two-level program, and property tests draw it), but said loudly.
        name = economy.meta.name
        warnings.warn(
            f"economy {name!r} has a hierarchy of {hierarchy.n_ministries} ministries but no enterprises: every "
            "product is made by the table's own technique and the two-level plan is the one-level plan. Attach "
            "enterprises with gosplan.synth.enterprises.synth_enterprises(economy) (CLI: gosplan synth --base "
            f"{name} --enterprises E --out DIR) to plan them",
            GosplanWarning, stacklevel=2,
        )
    if objective not in OBJECTIVES:
        raise InvalidEconomyError(
            f"two-level planning supports the objectives {', '.join(OBJECTIVES)}, not {objective!r}"
        )
    if coordination not in COORDINATIONS:
        raise InvalidEconomyError(
            f"unknown coordination {coordination!r}; choose one of {', '.join(COORDINATIONS)}"
        )
    if method not in METHODS:
        raise InvalidEconomyError(f"unknown method {method!r} for the centre; choose one of {', '.join(METHODS)}")
    if not economy.is_square:
        raise InvalidEconomyError(
            f"economy {economy.meta.name!r} has several techniques or joint products; enterprises are "
            "attached to products of a square economy (one technique per product)"
        )
    if not (tol > 0):
        raise InvalidEconomyError(f"tol must be positive, got {tol}")
    if priorities is not None and objective != "fulfilment":
        raise InvalidEconomyError(
            f"priority classes apply to the 'fulfilment' objective, not {objective!r}"
        )
    if weights is not None and objective != "harmony":
        raise InvalidEconomyError(
            f"weights weigh the 'harmony' objective, not {objective!r}: plan with objective='harmony' "
            "or leave the weights out"
        )
    base = planning_problem(
        economy, targets=targets, resources=resources, capacities=capacities, floors=floors,
        ceilings=ceilings, costs=costs, priorities=priorities, weights=weights,
    )
    capped = np.flatnonzero(np.isfinite(base.capacity) & hierarchy.covered)
    if capped.size:
        i = int(capped[0])
        raise InvalidEconomyError(
            f"capacity given for product {base.products[i]!r}, which enterprises make: their capacities "
            "bound it (give capacities only for products no enterprise makes)"
        )
    if objective in ("fulfilment", "harmony") and not (base.target > 0).any():
        raise InvalidEconomyError("the plan has no targets: every target is zero")
    if coordination == "marginal":
        from gosplan.decompose.marginal_centre import marginal_applicable

        why = "monolithic=True solves the enterprise-level LP at the centre" if monolithic else \
            marginal_applicable(base, objective, economy, hierarchy)
        if why:
            raise InvalidEconomyError(f"coordination='marginal' does not apply: {why}; use coordination='aggregation'")
    say = progress or (lambda line: None)
    A = sp.csc_array(economy.A)
    P = sp.csc_array(base.primary)
    uncovered = np.flatnonzero(~hierarchy.covered)
    ministries = list(range(hierarchy.n_ministries))
    ex = make_executor(workers=workers, scheduler=scheduler, client=client)
    try:
        return _run(
            economy, hierarchy, base, objective, A, P, uncovered, ministries, ex, method, tol,
            max_rounds, time_limit, monolithic, say, on_round, start, coordination,
        )
    finally:
        ex.close()


def _solver_tols(backend: str, tol: float) -> tuple[float, ...]:
    """The solver tolerances to try in turn. HiGHS' simplex tolerances are absolute: with
    capacities in the millions (BEA's million USD) a reduced cost within them still moves the
    dual bound by more than ``tol`` relative, so ask it for 1e-9 first (gosplan's check still
    judges the answer at ``tol``); where HiGHS cannot reach 1e-9 at all (status "Unknown" on
    the cost plan of us-2022, costs of 10^7) ask again at ``tol``."""
    if backend in ("highs", "highs-ipm") and tol > 1e-9:
        return (1e-9, tol)
    return (tol,)


def _solve_centre(backend: str, centre_tol: float, remaining: float | None, number: int, lp: LinearProgram,
                  v0: np.ndarray | None, basis: Any, y0: np.ndarray | None,
                  guess: bool = False) -> tuple[Runner, LPSolution, Status, str]:
    """One round's centre solve: warm (last round's basis, or plan and prices), then from scratch
    when the warm answer fails gosplan's check, then at the looser solver tolerance.

    ``guess``: ``v0`` is round 1's guess for a harmony program (``s = 0``, the targets met
    exactly), where HiGHS lays its first tangent cuts at ``s = 0`` and 5 % either side. Where the
    optimum lies far from the targets (us-2022 with capacities far above what its targets need, or
    products without enterprises and so without capacities: some products over-fulfilled
    thousands of times) those cuts are a poor start, one more cut per product and round approaches ``H``
    too slowly, and HiGHS' cut rounds run out (``iteration_limit``); the program is then solved
    again from the cuts a cold harmony solve starts from (a grid over both branches of ``H``
    up to ``s = 2^29``), as a one-level plan is."""
    runner = sol = lp_status = lp_message = None
    started = time.perf_counter()
    for k, solver_tol in enumerate(_solver_tols(backend, centre_tol)):
        runner = Runner(backend, centre_tol, remaining, None, solver_tol=solver_tol)
        label = f"centre, round {number}" + ("" if k == 0 else f" (solver tol {solver_tol:g})")
        sol, lp_status, lp_message = runner.solve(label, lp, v0, basis=basis, y0=y0)
        if guess and lp_status is Status.ITERATION_LIMIT and "cut_rounds" in sol.detail:
            left = None if remaining is None else max(remaining - (time.perf_counter() - started), 0.0)
            if left != 0.0:
                runner = Runner(backend, centre_tol, left, None, solver_tol=solver_tol)
                sol, lp_status, lp_message = runner.solve(f"{label} (cuts on a grid)", lp)
        if basis is not None and (lp_status is not Status.OPTIMAL or runner.verifications[-1].relative_gap > centre_tol):
            # A warm start can end "optimal" with dual infeasibilities HiGHS tolerates and
            # gosplan's check does not: solve the round's program again from scratch.
            runner = Runner(backend, centre_tol, remaining, None, solver_tol=solver_tol)
            sol, lp_status, lp_message = runner.solve(f"{label} (cold)", lp)
        if lp_status is not Status.NUMERICAL_ERROR:
            break
    return runner, sol, lp_status, lp_message


@dataclass
class _Stage:
    """One program of the lexicographic plan ray (or the cost plan) solved by rounds."""

    name: str  # "" for a plan of one stage
    active: np.ndarray | None = None
    held: np.ndarray | None = None
    z_lower: float = 0.0
    z_upper: float = np.inf


@dataclass
class _Outcome:
    status: Status
    message: str
    program: CentreProgram | None
    sol: LPSolution | None
    runner: Runner | None
    used: list  # the ministries' states the centre's program was made from
    primal: float
    dual: float
    gap: float


def _run(economy, hierarchy, base, objective, A, P, uncovered, ministries, ex, method, tol, max_rounds,
         time_limit, monolithic, say, on_round, start, coordination="aggregation") -> DecomposedPlan:
    deadline = None if time_limit is None else start + time_limit
    # Each ministry's part is cut here and travels inside the task that builds its state.
    datas = [ministry_data(k, hierarchy, A, P) for k in ministries]
    state_bytes = [d.nbytes for d in datas]
    handles = ex.start(_build_from_data, [(d, monolithic) for d in datas])
    del datas
    handles, reports = ex.step(first_report, handles, None)
    tables = [r["table"] for r in reports]
    bytes_up = sum(payload_bytes(r) for r in reports)
    enterprises = int(sum(r["enterprises"] for r in reports))
    where = ex.describe()
    say(
        f"reports up: {len(ministries)} ministries report {sum(len(t) for t in tables):,} "
        f"{'enterprises' if monolithic else 'aggregated products'} of {enterprises:,} enterprises "
        f"({bytes_up / 1e6:.3g} MB) [{where}]"
    )
    rounds: list[Round] = []
    if coordination == "marginal":
        from gosplan.decompose.marginal_centre import run_marginal

        out = run_marginal(base=base, A=A, P=P, uncovered=uncovered, handles=handles, ex=ex, tol=tol,
                           max_rounds=max_rounds, deadline=deadline, say=say, rounds=rounds, hierarchy=hierarchy)
        return DecomposedPlan(
            economy=economy.meta.name, objective_kind=objective, status=out["status"], message=out["message"],
            objective=out["objective"], bound=out["bound"], gap=out["gap"], rounds=tuple(rounds), plan=None,
            enterprise_output=out["x_e"], hierarchy=hierarchy, executor=where, workers=ex.workers,
            memory=ex.memory(), ministry_bytes=tuple(state_bytes), monolithic=False,
            seconds=time.perf_counter() - start, units=base.units,
            class_z={k: out["objective"] for k in base.classes} if np.isfinite(out["objective"]) else {},
            gross_output=out["gross"],
        )
    ctx = dict(base=base, objective=objective, A=A, P=P, uncovered=uncovered, ex=ex, method=method, tol=tol,
               max_rounds=max_rounds, deadline=deadline, say=say, on_round=on_round, rounds=rounds)
    class_z: dict[int, float] = {}
    classes = base.classes if objective == "fulfilment" else []
    if len(classes) <= 1:
        out, handles = _stage_rounds(_Stage(""), handles, tables, **ctx)
        if objective == "fulfilment" and out.sol is not None and np.isfinite(out.sol.v).all():
            class_z = {k: float(out.sol.v[-1]) for k in classes}
    else:
        out, handles, class_z = _lexicographic(classes, handles, tables, ctx)
    status, message, program, sol, runner, used = out.status, out.message, out.program, out.sol, out.runner, out.used
    x_e = np.zeros(hierarchy.n_enterprises)
    plan = None
    if program is not None and sol is not None and np.isfinite(sol.v).all() and status is not Status.INFEASIBLE:
        levels = sol.v[: program.groups]
        pieces = [levels[program.offsets[k]:program.offsets[k + 1]] for k in range(len(ministries))]
        for positions, x in ex.map(_levels, used, pieces):
            x_e[positions] = x
    if program is not None and sol is not None:
        plan = _result(program.problem, objective, runner, sol, runner.stages[-1].status, runner.stages[-1].message,
                       program.lp, program.layout, class_z, True, start)
    memory = ex.memory()
    return DecomposedPlan(
        economy=economy.meta.name,
        objective_kind=objective,
        status=status,
        message=message,
        objective=_sense(objective, out.primal),
        bound=_sense(objective, out.dual),
        gap=out.gap,
        rounds=tuple(rounds),
        plan=plan,
        enterprise_output=x_e,
        hierarchy=hierarchy,
        executor=where,
        workers=ex.workers,
        memory=memory,
        ministry_bytes=tuple(state_bytes),
        monolithic=monolithic,
        seconds=time.perf_counter() - start,
        units=base.units,
        class_z=class_z,
    )


def _lexicographic(classes: list[int], handles: list, tables: list, ctx: dict) -> tuple[_Outcome, list, dict[int, float]]:
    """gosplan's lexicographic plan ray (:func:`gosplan.planning.optimal._fulfilment`), each stage
    by rounds: class 1's ``z_1 <= 1`` is maximised and held at ``h z_1`` (``h = 1 - tol/10``,
    or ``1 - 10 tol`` for a first-order centre), then class 2, ...; when every class meets
    its targets, one common ``z >= h`` for all. The ministries keep their groups from stage to
    stage (a finer grouping only helps the next stage's centre)."""
    base, tol = ctx["base"], ctx["tol"]
    y, n = base.target, base.n
    held = np.full(n, -np.inf)
    class_z: dict[int, float] = {}
    hold = 1.0 - tol / 10
    out = None
    for k in classes:
        active = np.flatnonzero(base.priority == k)
        out, handles = _stage_rounds(_Stage(f"class {k}", active, held.copy(), 0.0, 1.0), handles, tables, **ctx)
        if out.status is not Status.OPTIMAL:
            out.message = f"class {k}: {out.message}"
            return out, handles, class_z
        z = float(out.sol.v[-1])
        class_z[k] = z
        hold = 1.0 - (10 * tol if is_first_order(out.sol.method) else tol / 10)
        program = out.program
        f = program.problem.net[active] @ out.sol.v[: program.problem.m]
        b = base.base[active]
        held[active] = np.minimum(np.minimum(b + z * hold * y[active], base.ceiling[active]), f)
    if min(class_z.values()) < 1.0 - tol:
        return out, handles, class_z
    targeted = np.flatnonzero(y > 0)
    out, handles = _stage_rounds(_Stage("over-fulfilment", targeted, None, hold, np.inf), handles, tables, **ctx)
    if out.status is Status.OPTIMAL:
        class_z = {k: float(out.sol.v[-1]) for k in classes}
    else:
        out.message = f"over-fulfilment: {out.message}"
    return out, handles, class_z


def _stage_rounds(stage: _Stage, handles: list, tables: list, *, base, objective, A, P, uncovered, ex, method, tol,
                  max_rounds, deadline, say, on_round, rounds) -> tuple[_Outcome, list]:
    """Rounds of one stage until the centre's plan is within ``tol`` of the ministries' bound.
    ``tables`` (the groups each ministry reported) is updated in place; returns the outcome and
    the ministries' states to go on with."""
    status, message = Status.ITERATION_LIMIT, ""
    program = sol = runner = None
    primal = dual = math.nan
    gap = math.inf
    used = handles
    centre_tol = tol / 10
    cold = False  # whether a from-scratch re-solve has been tried for a gap nothing could split
    kept = None  # the last round whose centre solve was optimal: (program, sol, runner, used)
    prefix = f"{stage.name}: " if stage.name else ""
    first = len(rounds)
    for number in range(1, max_rounds + 1):
        used = handles
        t0 = time.perf_counter()
        previous = program
        program = centre_program(base, objective, tables, uncovered, A, P, active=stage.active, held=stage.held,
                                 z_lower=stage.z_lower, z_upper=stage.z_upper)
        basis = v0 = y0 = None
        if previous is not None and sol is not None and "basis" in sol.detail:
            basis = _carry_basis(sol.detail["basis"], previous, program)
        elif previous is not None and sol is not None and np.isfinite(sol.v).all() and np.isfinite(sol.y).all():
            # First-order centre: start from last round's plan and prices (split-off groups at 0);
            # HiGHS with harmony cuts lays its first cuts at last round's s.
            v0 = _carry_columns(sol.v, previous, program).astype(np.float64)
            v0 = np.clip(v0, program.lp.col_lower, program.lp.col_upper)
            y0 = sol.y
        guess = v0 is None and basis is None and objective == "harmony"
        if guess:
            # Round 1 of a harmony plan: the first cuts at s = 0 (targets met exactly) and 5 % either
            # side instead of HiGHS' 19-point grid (n = 3,000: 5.0 s instead of 8.4 s); solved again
            # from the grid where these cuts do not converge (_solve_centre).
            v0 = np.zeros(program.lp.shape[1])
        backend = method
        if method == "auto":
            backend = "highs" if program.lp.shape[1] <= AUTO_HIGHS_MAX_COLUMNS else "pdhg"
        remaining = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        runner, sol, lp_status, lp_message = _solve_centre(backend, centre_tol, remaining, number, program.lp, v0,
                                                           basis, y0, guess=guess)
        master_seconds = time.perf_counter() - t0
        if lp_status is not Status.OPTIMAL:
            status, message = lp_status, f"the centre's program in round {number}: {lp_message}"
            if lp_status is Status.ITERATION_LIMIT and "cut_rounds" in sol.detail:
                # HiGHS' message names the status of the last cut program it solved ("Optimal"),
                # not that the cuts ran out before approximating H to tolerance.
                message = (f"the centre's harmony program in round {number}: {sol.detail['cut_rounds']} round(s) of "
                           "tangent cuts did not approximate its harmony to tolerance (each cut program was "
                           "solved; the cuts did not converge)")
            rounds.append(Round(len(rounds) + 1, program.groups, math.nan, math.nan, math.inf, master_seconds,
                                sol.method, 0.0, 0, 0, 0, 0, 0, stage=stage.name))
            say(prefix + rounds[-1].line(objective))
            if lp_status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT) and kept is not None:
                # Stopped inside this round's solve: the plan is the last round's, with its gap.
                program, sol, runner, used = kept
                message = (f"{lp_status.value.replace('_', ' ')} in round {number}'s centre solve; "
                           f"the plan of round {number - 1}, gap {gap:.2e}")
            break
        kept = (program, sol, runner, used)
        check = runner.verifications[-1]
        primal = check.primal_objective
        d_centre = program.lp.reduced_costs(sol.v, sol.y)[: program.groups]
        hidden_by_centre = float(program.lp.col_upper[: program.groups] @ np.minimum(d_centre, 0.0))
        scale = max(abs(primal), 1e-12)
        threshold = 1e-2 * tol * scale / max(program.groups, 1)
        prices = prices_from_duals(program, sol, objective, threshold)
        t1 = time.perf_counter()
        new_handles, reports = ex.step(price_round, handles, prices)
        ministry_seconds = time.perf_counter() - t1
        lagrangian = float(sum(r["lagrangian"] for r in reports))
        dual = check.dual_objective - hidden_by_centre + lagrangian
        gap = _relative_gap(primal, dual, objective)
        split = int(sum(r["split"] for r in reports))
        down = payload_bytes(prices) * len(reports)
        up = sum(payload_bytes(r) for r in reports)
        rounds.append(
            Round(
                number=len(rounds) + 1, groups=program.groups, objective=_sense(objective, primal),
                bound=_sense(objective, dual), gap=gap, master_seconds=master_seconds, master_method=sol.method,
                ministry_seconds=ministry_seconds, split=split,
                products_split=int(sum(r["products_split"] for r in reports)),
                earning=int(sum(r["earning"] for r in reports)), bytes_down=down, bytes_up=up, stage=stage.name,
            )
        )
        say(prefix + rounds[-1].line(objective))
        if on_round is not None:
            ex.handles = new_handles  # what the ministries hold now (tests inspect it)
            on_round(rounds[-1], ex)
        if gap <= tol:
            status = Status.OPTIMAL
            message = (
                f"two-level plan: the centre's plan is within {gap:.1e} of the ministries' bound after "
                f"{len(rounds) - first} round(s)"
            )
            break  # keep the handles the plan was made with (unsplit)
        if split == 0:
            # Nothing hidden in the groups: what is left of the gap is the centre's own solve
            # (dual infeasibilities within its tolerance, times large capacities). Solve the same
            # program once more from scratch; give up when that does not close it.
            if "basis" not in sol.detail or cold:
                status = Status.NUMERICAL_ERROR
                message = (
                    f"the centre's program cannot be solved accurately enough: gap {gap:.2e} with nothing "
                    f"left to split after {number} round(s) (tol {tol:g})"
                )
                break
            cold = True
            sol.detail.pop("basis", None)
        handles = new_handles
        for k, r in enumerate(reports):
            if r["table"] is not None:
                tables[k] = r["table"]
        if deadline is not None and time.perf_counter() >= deadline:
            status, message = Status.TIME_LIMIT, f"time limit after {number} round(s); gap {gap:.2e}"
            break
    else:
        message = f"{max_rounds} round(s) without reaching tol {tol:g}; gap {gap:.2e}"
    if status is Status.ITERATION_LIMIT and not message:
        message = f"{max_rounds} round(s) without reaching tol {tol:g}; gap {gap:.2e}"
    return _Outcome(status, message, program, sol, runner, used, primal, dual, gap), used


def _carry_columns(values: np.ndarray, old: CentreProgram, new: CentreProgram) -> np.ndarray:
    """Last round's per-column ``values`` on this round's program: a group keeps its value (a
    split group's stayers included), the groups split off get 0; the columns after the groups
    (products without enterprises, ``z`` or harmony's ``s``, and the cuts' ``t`` of a harmony
    basis) keep theirs."""
    out = np.zeros(values.size - old.groups + new.groups, dtype=values.dtype)
    for k in range(old.offsets.size - 1):
        a, b = old.offsets[k], old.offsets[k + 1]
        out[new.offsets[k]:new.offsets[k] + (b - a)] = values[a:b]
    out[new.groups:] = values[old.groups:]
    return out


def _carry_basis(basis: tuple, old: CentreProgram, new: CentreProgram) -> tuple:
    """Last round's optimal basis on this round's program (split-off groups nonbasic at 0); a
    harmony basis keeps its cuts (the rows after the program's own)."""
    cols, rows, *cuts = basis
    return (_carry_columns(cols, old, new), rows, *cuts)


def _sense(objective: str, value: float) -> float:
    """The objective in its own sense: ``z`` for fulfilment, ``sum w H(s)`` for harmony (the
    program minimises their negative)."""
    return -value if objective in ("fulfilment", "harmony") else value

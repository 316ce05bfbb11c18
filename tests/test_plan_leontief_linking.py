"""The program on the linking rows (gosplan.planning.substitution_rows): around *any* technique
choice it is the whole program, checked against HiGHS on the program written out here in the
space of every technique; and as the Leontief method's finish, against ``gosplan.plan``'s HiGHS."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import gosplan
from gosplan import Status
from gosplan.planning import substitution, substitution_rows
from gosplan.planning.problem import planning_problem
from gosplan.synth.planning import planning_instance


def _plan(econ, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.plan(econ, method=method, **kw)


def _three_classes(seed: int):
    """HiGHS' plan and the Leontief method's of 5,000 products with the issue's three priority classes."""
    inst = planning_instance(5000, seed=seed, classes=3)
    kw = {"resources": inst.resources, "capacities": inst.capacities, "priorities": inst.priorities}
    return _plan(inst.economy, "highs", **kw), _plan(inst.economy, "leontief", **kw)


def _reference(problem, objective: str, h: np.ndarray, d: np.ndarray):
    """HiGHS on the whole program in the space of every technique: ``N x = h + z d``,
    ``P x <= R``, ``O x <= cap``, ``x >= 0``; max ``z`` (fulfilment) or min ``c' P x`` (cost)."""
    m = problem.m
    N = sp.csr_array(problem.net)
    limited = np.flatnonzero(np.isfinite(problem.available))
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    fulfil = objective == "fulfilment"
    extra = 1 if fulfil else 0
    A_eq = sp.hstack([N, sp.csr_array(-d[:, None])]) if fulfil else N
    A_ub = sp.vstack([sp.hstack([problem.primary[limited], sp.csr_array((limited.size, extra))]),
                      sp.hstack([problem.make[capped], sp.csr_array((capped.size, extra))])])
    b_ub = np.concatenate([problem.available[limited], problem.capacity[capped]])
    c = np.zeros(m + extra)
    if fulfil:
        c[-1] = -1.0
    else:
        c[:m] = problem.primary.T @ problem.cost
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=h, bounds=[(0, None)] * (m + extra), method="highs")
    assert res.status == 0, res.message
    return (-res.fun if fulfil else res.fun), res.x[:m]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(30, 300), objective=st.sampled_from(["fulfilment", "cost"]),
       choice=st.integers(0, 10_000))
def test_program_around_any_choice_is_the_whole_program(seed: int, n: int, objective: str, choice: int) -> None:
    """From a productive choice drawn at random (not the cheapest at any prices), no capacity row
    to start and no prices: the rows the plan breaks join, the boxes widen, and the optimum is HiGHS' on
    every technique; the plan makes what is asked exactly and keeps every row."""
    inst = planning_instance(n, 4, seed=seed, classes=0)
    kw = {"resources": inst.resources, "capacities": inst.capacities}
    if objective == "cost":
        kw["targets"] = 0.85 * inst.economy.y
    problem = planning_problem(inst.economy, **kw)
    structure = substitution._Structure.build(problem, objective)
    rng = np.random.default_rng(choice)
    ptr, techs = structure.makers
    B = techs[ptr[:-1] + rng.integers(0, np.diff(ptr))]
    if objective == "fulfilment":
        h, d = np.zeros(problem.n), problem.target.copy()
    else:
        h, d = problem.target + problem.base, np.zeros(problem.n)
    A_B = (structure.U[:, B] @ sp.diags_array(1.0 / structure.out[B])).toarray()
    L = np.linalg.inv(np.eye(problem.n) - A_B)
    assume(np.abs(np.linalg.eigvals(A_B)).max() < 1)  # a productive choice, as every one the method takes
    expected, _ = _reference(problem, objective, h, d)
    found = substitution_rows.linking_plan(
        structure, B, L @ h, L @ d, h, d, objective, 0.0, np.inf, np.zeros(0, dtype=np.int64),
        np.zeros(problem.resources.size), np.zeros(problem.n), 1.0 if objective == "fulfilment" else 0.0,
    )
    assert not isinstance(found, str), found
    value, x, mu, kappa, rows = found
    assert rows >= np.isfinite(problem.available).sum()  # the resources at least
    assert value == pytest.approx(expected, rel=1e-8, abs=1e-10)
    z = value if objective == "fulfilment" else 0.0
    made = problem.net @ x
    assert np.allclose(made, h + z * d, rtol=1e-8, atol=1e-8 * np.abs(h + z * d).max())
    limited = np.flatnonzero(np.isfinite(problem.available))
    assert (problem.primary[limited] @ x <= problem.available[limited] * (1 + 1e-8)).all()
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    assert (problem.make[capped] @ x <= problem.capacity[capped] * (1 + 1e-8) + 1e-10).all()
    assert (x >= 0).all() and (mu >= 0).all() and (kappa >= 0).all()


@pytest.mark.parametrize(("objective", "classes", "seed"), [("fulfilment", 0, 5), ("cost", 0, 3), ("fulfilment", 3, 5)])
def test_the_method_ends_on_the_linking_program(objective: str, classes: int, seed: int) -> None:
    """10,000 products: the Leontief method's plan ends on the program on the linking rows, at
    HiGHS' optimum to 1e-9 with the prices certified row by row."""
    inst = planning_instance(10_000, seed=seed, classes=classes)
    kw = {"objective": objective, "resources": inst.resources, "capacities": inst.capacities}
    if objective == "cost":
        kw["targets"] = 0.85 * inst.economy.y
    if classes:
        kw["priorities"] = inst.priorities
    ref = _plan(inst.economy, "highs", **kw)
    got = _plan(inst.economy, "leontief", **kw)
    assert ref.status is got.status is Status.OPTIMAL, got.message
    last = got.stages[-1]
    assert "program(s) on the linking rows" in last.message and "the last one's plan" in last.message, last.message
    assert got.objective == pytest.approx(ref.objective, rel=1e-9)
    assert last.duality_gap <= 1e-9
    assert last.price_error <= 1e-6
    assert got.max_violation <= 1e-7
    assert got.summary()["detail"]["prices_certified"] is True


def test_without_room_for_its_rows_the_decomposition_goes_on(monkeypatch) -> None:
    """Where the rows would not fit in memory the program is not tried, and the stage's message
    says so: the plan is the decomposition's, optimal to the tolerance (5,000 products, three
    priority classes: the last two would try it)."""
    monkeypatch.setattr(substitution_rows, "MAX_ROWS", 1)  # fewer than the three limited resources
    monkeypatch.setattr(substitution, "FINISH_AUTO_MAX", 0)
    ref, got = _three_classes(3)
    assert got.status is Status.OPTIMAL, got.message
    messages = [stage.message for stage in got.stages]
    assert not any("program(s) on the linking rows" in m for m in messages), messages
    assert any("the program on the linking rows not tried in" in m for m in messages), messages
    assert got.objective == pytest.approx(ref.objective, rel=1e-6)


def test_a_choice_whose_plan_breaks_more_capacities_than_room_is_not_tried(monkeypatch) -> None:
    """The program is tried only where the limited resources, the rows the best prices price and
    the capacities its choice's own plan breaks at ``z = bound`` (read off the master's stored
    column, no solve) fit in its room; the others would be found pass by pass and the program
    given up. Room cut to four rows here (5,000 products, three priority classes): every try
    made fits, some were not made, and the plan is still HiGHS' optimum."""
    monkeypatch.setattr(substitution, "FINISH_AUTO_MAX", 0)
    monkeypatch.setattr(substitution, "LINKING_MIN_ROWS", 4)
    monkeypatch.setattr(substitution, "LINKING_ROWS_PER_SOLVE", 0)
    needed, tried = [], []
    count = substitution._linking_rows
    real = substitution_rows.linking_plan

    def counted(*args):
        needed.append(count(*args))
        return needed[-1]

    def plan_rows(st, B, g0, gd, h, d, objective, z_lower, z_upper, caps, mu0, kappa0, z_bound, max_rows=None):
        cap = st.problem.capacity
        g = g0 + z_bound * gd
        broken = st.capped[g[st.capped] > cap[st.capped] * (1 + 1e-9) + 1e-12]
        tried.append((st.limited.size + np.union1d(caps, broken).size, max_rows))
        return real(st, B, g0, gd, h, d, objective, z_lower, z_upper, caps, mu0, kappa0, z_bound, max_rows)

    monkeypatch.setattr(substitution, "_linking_rows", counted)
    monkeypatch.setattr(substitution_rows, "linking_plan", plan_rows)
    ref, got = _three_classes(3)
    assert got.status is Status.OPTIMAL, got.message
    assert got.objective == pytest.approx(ref.objective, rel=1e-6)
    assert any(k > 4 for k in needed), needed  # some tries were not made
    assert len(tried) == sum(k <= 4 for k in needed)
    assert all(rows <= room == 4 for rows, room in tried), tried


def test_the_program_ends_a_class_whose_master_still_needs_artificials(monkeypatch) -> None:
    """The last of three priority classes (5,000 products, seed 1): the held classes leave the
    master's first columns no mix within the capacities, so its artificial variables are still
    in use when the program on the linking rows is tried, and that program, with phases of its
    own, ends the class at HiGHS' optimum (at 10^6 products the master needed them for 24 rounds
    before it was allowed)."""
    artificial, at_try = [], []
    master = substitution._solve_master
    finish = substitution._linking_finish

    def solve_master(*args):
        out = master(*args)
        artificial.append(out[5])
        return out

    def linking_finish(*args):
        at_try.append(artificial[-1])
        return finish(*args)

    monkeypatch.setattr(substitution, "_solve_master", solve_master)
    monkeypatch.setattr(substitution, "_linking_finish", linking_finish)
    ref, got = _three_classes(1)
    assert ref.status is got.status is Status.OPTIMAL, got.message
    assert max(at_try) > 1e-9, at_try
    last = got.stages[-1]
    assert "the last one's plan" in last.message, last.message
    # its own stage certified by gosplan's check on the stage's program within the half of tol
    # the finish promises (5.8e-9 here), its prices row by row; HiGHS' to the plan's tolerance,
    # since the earlier classes are held at each solver's own optimum (this class's z is 2.9e-4:
    # 5.7e-7 apart)
    assert last.duality_gap <= 5e-7
    assert last.price_error <= 1e-6
    assert got.objective == pytest.approx(ref.objective, abs=1e-6)
    assert got.max_violation <= 1e-7


def test_the_program_stops_at_its_deadline(monkeypatch) -> None:
    """A deadline already past: the program stops before any solve; inside a plan's time limit
    (the deadline taken as passed at every check) a try that runs out of time is a failed try,
    named in the stage's message, and the decomposition goes on to its own optimum."""
    inst = planning_instance(200, 4, seed=3)
    problem = planning_problem(inst.economy, resources=inst.resources, capacities=inst.capacities)
    structure = substitution._Structure.build(problem, "fulfilment")
    B = structure.choice.copy()
    h, d = np.zeros(problem.n), problem.target.copy()
    with structure.at_choice(B):
        G = structure.plans(np.column_stack([h, d]))
    before = structure.solves
    found = substitution_rows.linking_plan(
        structure, B, G[:, 0], G[:, 1], h, d, "fulfilment", 0.0, np.inf, np.zeros(0, dtype=np.int64),
        np.zeros(problem.resources.size), np.zeros(problem.n), 1.0, deadline=time.perf_counter() - 1.0,
    )
    assert found == substitution_rows.OUT_OF_TIME
    assert structure.solves == before

    monkeypatch.setattr(substitution_rows, "_late", lambda deadline: deadline is not None)
    inst = planning_instance(5000, seed=1, classes=3)
    kw = {"resources": inst.resources, "capacities": inst.capacities, "priorities": inst.priorities}
    got = _plan(inst.economy, "leontief", time_limit=600, **kw)
    assert got.status is Status.OPTIMAL, got.message
    late = [s.message for s in got.stages if "failed, the last: out of time" in s.message]
    assert late, [s.message for s in got.stages]
    assert all("the last one's plan" not in s.message for s in got.stages)
    assert all(s.duality_gap <= 1e-6 for s in got.stages)


def test_row_limit() -> None:
    assert substitution_rows.row_limit(10) == substitution_rows.MAX_ROWS
    assert substitution_rows.row_limit(10**6) == 268  # 2 GiB of effects

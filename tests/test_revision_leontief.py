"""The consumer loop's target revision by the Leontief-structure method
(:mod:`gosplan.planning.proximal_leontief`), against the proximal program written out here in
cvxpy and solved by Clarabel, and against the revision's own QP path."""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp

import gosplan
from gosplan.cycle import revision
from gosplan.cycle.revision import proximal_targets
from gosplan.optim.check import verify_diagonal_qp
from gosplan.optim.lp import LinearProgram
from gosplan.planning.problem import planning_problem
from gosplan.synth.planning import planning_instance


def _revision_problem(n: int, seed: int, imports: bool):
    """A synthetic economy with second techniques, three limited resources and capacities; a
    third of the products are consumer goods, whose committed demand is the rest of final demand
    (one of them a net import where ``imports``)."""
    inst = planning_instance(n, 4, seed=seed, classes=1)
    eco = inst.economy
    rng = np.random.default_rng(seed)
    goods = np.sort(rng.choice(n, n // 3, replace=False))
    y = np.asarray(eco.y, dtype=np.float64)
    committed = 0.2 * y
    if imports:
        committed[goods[0]] = -0.2 * y[goods[0]]
    problem = planning_problem(eco, targets=np.zeros(n), resources=inst.resources, capacities=inst.capacities,
                               committed=committed)
    center = (0.7 * np.maximum(y[goods], 0.0) + 0.01 * float(np.abs(y).mean())) * rng.uniform(0.5, 1.5, goods.size)
    prices = rng.uniform(0.5, 2.0, goods.size)
    sigma = rng.uniform(0.5, 2.0, goods.size)
    return problem, goods, center, prices, sigma


def _reference(problem, goods, center, prices, sigma, step, feasible=None):
    """The revision's program (module :mod:`gosplan.cycle.revision`) in cvxpy: targets and the
    goods' shadow prices (the duals of their balance rows)."""
    n, m = problem.n, problem.m
    lower = (center if feasible is None else np.minimum(center, feasible)) / revision.MAX_FALL
    w = prices / (step * sigma * center)
    net = sp.csr_array(problem.net)
    b = problem.base
    is_good = np.zeros(n, dtype=bool)
    is_good[goods] = True
    E = sp.csr_array((np.ones(goods.size), (goods, np.arange(goods.size))), shape=(n, goods.size))
    lo = np.where(is_good, b, np.maximum(problem.floor, b))
    x = cp.Variable(m, nonneg=True)
    c = cp.Variable(goods.size)
    balance = net @ x - E @ c >= lo
    cons = [balance, c >= lower]
    limited = np.flatnonzero(np.isfinite(problem.available))
    cons.append(sp.csr_array(problem.primary)[limited] @ x <= problem.available[limited])
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    cons.append(sp.csr_array(problem.make)[capped] @ x <= problem.capacity[capped])
    scale = float(prices @ center)
    objective = cp.Maximize((prices @ c - 0.5 * cp.sum(cp.multiply(w, cp.square(c - center)))) / scale)
    cp.Problem(objective, cons).solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return np.asarray(c.value), np.asarray(balance.dual_value)[goods] * scale


@pytest.mark.parametrize("seed, imports", [(1, False), (2, True), (3, False), (4, True)])
def test_leontief_revision_matches_the_program_in_cvxpy(seed, imports):
    problem, goods, center, prices, sigma = _revision_problem(60, seed, imports)
    rev = proximal_targets(problem, goods, center, prices, sigma, 1.0)
    assert rev.method == "leontief", rev.message
    c, pi = _reference(problem, goods, center, prices, sigma, 1.0)
    np.testing.assert_allclose(rev.targets, c, rtol=1e-6, atol=1e-7 * float(np.abs(c).max()))
    np.testing.assert_allclose(rev.valuation, pi, rtol=1e-5, atol=1e-6 * float(np.abs(pi).max()))
    # the same program by the revision's own QP path (Clarabel, then the exact KKT polish)
    qp = revision._by_leontief
    try:
        revision._by_leontief = lambda *a, **k: "switched off"
        other = proximal_targets(problem, goods, center, prices, sigma, 1.0)
    finally:
        revision._by_leontief = qp
    assert other.method == "clarabel"
    np.testing.assert_allclose(rev.targets, other.targets, rtol=1e-7, atol=1e-9 * float(np.abs(c).max()))


def test_capacities_and_a_binding_lower_bound():
    """Tight capacities (half the base output) and a price far below the valuation: the target
    falls to its floor (a tenth of the last), where the reference puts it too."""
    problem, goods, center, prices, sigma = _revision_problem(60, 5, True)
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    problem = replace(problem, capacity=np.where(np.isfinite(problem.capacity), 0.8 * problem.capacity, np.inf))
    prices = prices.copy()
    prices[3] *= 1e-3
    rev = proximal_targets(problem, goods, center, prices, sigma, 1.0)
    c, pi = _reference(problem, goods, center, prices, sigma, 1.0)
    assert capped.size and rev.method == "leontief", rev.message
    assert rev.targets[3] == pytest.approx(center[3] / revision.MAX_FALL, rel=1e-9)
    np.testing.assert_allclose(rev.targets, c, rtol=1e-6, atol=1e-7 * float(np.abs(c).max()))
    np.testing.assert_allclose(rev.valuation, pi, rtol=1e-5, atol=1e-6 * float(np.abs(pi).max()))


def test_a_revision_the_method_cannot_certify_goes_to_clarabel(monkeypatch):
    """An answer that fails gosplan's check of the program is not taken."""
    problem, goods, center, prices, sigma = _revision_problem(40, 6, False)
    from gosplan.planning import proximal_leontief

    real = proximal_leontief.solve_proximal

    def off(*a, **k):
        plan = real(*a, **k)
        return replace(plan, c=plan.c * 1.01)  # 1 % off: the duality gap shows it

    monkeypatch.setattr(proximal_leontief, "solve_proximal", off)
    rev = proximal_targets(problem, goods, center, prices, sigma, 1.0)
    assert rev.method == "clarabel"
    c, _ = _reference(problem, goods, center, prices, sigma, 1.0)
    np.testing.assert_allclose(rev.targets, c, rtol=1e-6, atol=1e-7 * float(np.abs(c).max()))


def test_verify_diagonal_qp_on_a_hand_solved_program():
    """``min -2 v + 1/2 v^2`` s.t. ``v <= 1``: the optimum ``v = 1`` with the row's price ``-1``
    (HiGHS' sign); at the price 0 the dual bound is ``-2`` and the gap shows."""
    lp = LinearProgram(c=np.array([-2.0]), K=sp.csr_array(np.array([[1.0]])), row_lower=np.array([-np.inf]),
                       row_upper=np.array([1.0]), col_lower=np.array([0.0]), col_upper=np.array([np.inf]))
    q = np.array([1.0])
    good = verify_diagonal_qp(lp, q, np.array([1.0]), np.array([-1.0]))
    assert good.primal_objective == pytest.approx(-1.5) and good.dual_objective == pytest.approx(-1.5)
    assert good.passes(1e-12) and good.price_error <= 1e-12
    bad = verify_diagonal_qp(lp, q, np.array([1.0]), np.array([0.0]))
    assert bad.dual_objective == pytest.approx(-2.0) and not bad.passes(1e-3)


def test_the_loop_reports_who_revised():
    eco = gosplan.load("us-2022")
    hh = gosplan.load_households(eco, groups=3, seed=1)
    sim = gosplan.simulate(eco, hh, rule="opportunity", periods=3)
    assert set(sim.periods["revision_method"]) <= {"leontief", "clarabel"}
    assert (sim.periods["revision_method"] == "leontief").any()


def test_the_loop_stops_trying_after_two_misses(monkeypatch):
    """Two revisions in a row the method cannot make: the rest go to Clarabel without a try."""
    import importlib

    from gosplan.planning import proximal_leontief

    loop = importlib.import_module("gosplan.cycle.simulate")  # the package's ``simulate`` is the function
    from gosplan.planning.substitution import NotApplicable

    calls = []

    def refuse(*a, **k):
        calls.append(1)
        raise NotApplicable("refused in the test")

    monkeypatch.setattr(proximal_leontief, "solve_proximal", refuse)
    eco = gosplan.load("us-2022")
    hh = gosplan.load_households(eco, groups=3, seed=1)
    sim = gosplan.simulate(eco, hh, rule="opportunity", periods=5)
    assert len(calls) == loop.LEONTIEF_MISSES == 2
    assert (sim.periods["revision_method"] == "clarabel").all() and sim.n_periods == 5


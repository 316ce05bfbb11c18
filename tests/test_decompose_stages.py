"""Two-level planning with priority classes, and the cost plan of us-2022 at the centre with
HiGHS, against the enterprise-level program written out independently (tests/_enterprise_lp.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gosplan
from gosplan.decompose import plan_decomposed
from gosplan.errors import InvalidEconomyError, NegativeCoefficientWarning
from gosplan.planning.problem import planning_problem
from gosplan.results import Status

import _enterprise_lp as ref


def _economy(name: str, seed: int):
    from gosplan.synth.enterprises import synth_enterprises

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        econ = gosplan.load(name)
    return synth_enterprises(econ, per_product=4, seed=seed)


def _labour(econ, share: float) -> tuple[float, np.ndarray]:
    L = share * float(econ.l @ gosplan.balance(econ).gross_output)
    available = np.full(len(econ.resources), np.inf)
    available[econ.resources.get_loc(econ.labour)] = L
    return L, available


@pytest.mark.parametrize("method", ["highs", "highs-ipm"])
def test_cost_plan_of_us2022_at_a_highs_centre(method):
    """The centre's cost program (costs ~10^7) once ended "HiGHS: Unknown" at HiGHS' 1e-9: it is
    asked again at tol, and the plan is the enterprise-level optimum."""
    econ = _economy("us-2022", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plan_decomposed(econ, objective="cost", method=method)
        problem = planning_problem(econ)
    assert res.status is Status.OPTIMAL, res.message
    opt, _, _ = ref.solve(econ, econ.hierarchy, objective="cost", targets=problem.target,
                          available=problem.available, cost=problem.cost, floor=problem.floor)
    assert abs(res.objective - opt) <= 1e-6 * abs(opt)
    assert res.bound <= opt * (1 + 1e-9) and res.gap <= 1e-6


def test_priority_classes_against_the_enterprise_program():
    """Two classes under scarce labour: class 1 is maximised (up to 1) and held at (1 - tol/10)
    z_1, class 2 is maximised under that hold; each stage equals the enterprise-level program's
    own stage, solved here by HiGHS stage by stage."""
    econ = _economy("us-2017", seed=7)
    hier = econ.hierarchy
    n = econ.n_products
    y = np.maximum(econ.y, 0)
    floor = np.minimum(econ.y, 0)  # the table's net imports
    L, available = _labour(econ, 0.8)
    targeted = np.flatnonzero(y > 0)
    first = targeted[: targeted.size // 3]
    priority = np.full(n, 2.0)
    priority[first] = 1.0
    tol = 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the table's negative final demand, reported elsewhere
        res = plan_decomposed(econ, resources={"labour": L}, priorities=priority, tol=tol)
    assert res.status is Status.OPTIMAL, res.message
    assert sorted(res.class_z) == [1, 2]
    assert {r.stage for r in res.rounds} >= {"class 1", "class 2"}
    # The reference, stage by stage.
    y1 = np.where(priority == 1, y, 0.0)
    z1, _, _ = ref.solve(econ, hier, targets=y1, available=available, floor=floor)
    z1 = min(z1, 1.0)
    assert res.class_z[1] == pytest.approx(z1, rel=1e-6)
    held = np.where(priority == 1, res.class_z[1] * (1 - tol / 10) * y, floor)
    y2 = np.where(priority == 2, y, 0.0)
    z2, _, _ = ref.solve(econ, hier, targets=y2, available=available, floor=held)
    assert z2 < 1.0  # labour is scarce enough that class 2 falls short
    assert res.class_z[2] == pytest.approx(z2, rel=1e-6)
    assert res.objective == pytest.approx(z2, rel=1e-6)
    # The enterprise targets meet every row of the last stage.
    x = res.enterprise_output
    assert (x >= 0).all() and (x <= hier.capacity * (1 + 1e-9) + 1e-12).all()
    N, Pm, _ = ref.columns(econ, hier)
    unc = np.flatnonzero(~hier.covered)
    full = np.concatenate([x, res.plan.gross_output[unc]])
    need = np.where((priority == 2) & (y > 0), res.objective * y, held)
    scale = 1.0 + np.abs(N) @ np.abs(full)
    assert (((N @ full) - need) / scale >= -1e-7).all()
    assert Pm[econ.resources.get_loc(econ.labour)] @ full <= L * (1 + 1e-7)


def test_priority_classes_all_met_then_over_fulfilment():
    """With the table's own labour every class meets its targets; the plan then maximises a
    common z >= 1 - tol/10, as the one-class plan does (the same z within the tolerance)."""
    econ = _economy("us-2022", seed=3)
    y = np.maximum(econ.y, 0)
    L, _ = _labour(econ, 1.0)
    targeted = np.flatnonzero(y > 0)
    priority = np.full(econ.n_products, 2.0)
    priority[targeted[::2]] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        staged = plan_decomposed(econ, resources={"labour": L}, priorities=priority)
        single = plan_decomposed(econ, resources={"labour": L})
    assert staged.status is Status.OPTIMAL, staged.message
    assert any(r.stage == "over-fulfilment" for r in staged.rounds)
    assert staged.class_z[1] == staged.class_z[2] == staged.objective
    assert staged.objective == pytest.approx(single.objective, rel=1e-6)


def test_priorities_need_fulfilment():
    econ = _economy("us-2022", seed=3)
    with pytest.raises(InvalidEconomyError, match="priority classes apply to the 'fulfilment'"):
        plan_decomposed(econ, objective="cost", priorities=np.ones(econ.n_products))

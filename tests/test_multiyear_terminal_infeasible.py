"""The UK five-year plan with a terminal condition of 1 is infeasible: the verdict, its
certificate (a Farkas ray checked by hand, HiGHS through scipy on the same LP), the time it
takes HiGHS' dual simplex, and the time limit of a plan whose conflict is explained."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import gosplan
from gosplan.io.load_horizon import load_horizon
from gosplan.multiyear.formulate import formulate, multiyear_problem
from gosplan.optim import highs as highs_module
from gosplan.optim.highs import SMALL_MATRIX_VALUE, small_matrix_value, solve_highs
from gosplan.optim.lp import LinearProgram, LPStatus
from gosplan.results import Status


def _uk(years: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_horizon("uk-2015").with_years(years)


def _uk_lp(years: int, terminal: float | None) -> LinearProgram:
    problem = multiyear_problem(_uk(years), objective="fulfilment", discount=0.03, terminal=terminal, growth=None,
                                resources=None, costs=None, priorities=None)
    return formulate(problem)[0]


def _scipy_status(lp: LinearProgram) -> int:
    """scipy's HiGHS interior point on ``lp`` written as ``A_ub v <= b_ub`` (2: infeasible)."""
    lo, up = lp.row_lower, lp.row_upper
    fu, fl = np.isfinite(up), np.isfinite(lo)
    A = sp.vstack([lp.K[fu], -lp.K[fl]])
    b = np.concatenate([up[fu], -lo[fl]])
    bounds = [(l, u if np.isfinite(u) else None) for l, u in zip(lp.col_lower, lp.col_upper)]
    return linprog(lp.c, A_ub=A, b_ub=b, bounds=bounds, method="highs-ipm", options={"time_limit": 60.0}).status


def _ray_proves_infeasible(lp: LinearProgram, y: np.ndarray) -> float:
    """By hand: the least ``y'Kv`` the row bounds allow minus the most the column bounds allow
    for ``g = K'y``, relative to the terms; positive proves that no ``v`` meets both."""
    y = np.where(np.abs(y) > 1e-12 * np.abs(y).max(), y, 0.0)
    assert np.isfinite(lp.row_lower[y > 0]).all() and np.isfinite(lp.row_upper[y < 0]).all()
    rows = np.concatenate([y[y > 0] * lp.row_lower[y > 0], y[y < 0] * lp.row_upper[y < 0]])
    g = lp.K.T @ y
    g = np.where(np.abs(g) > 1e-12 * np.abs(g).max(), g, 0.0)
    assert np.isfinite(lp.col_upper[g > 0]).all() and np.isfinite(lp.col_lower[g < 0]).all()
    cols = np.concatenate([g[g > 0] * lp.col_upper[g > 0], g[g < 0] * lp.col_lower[g < 0]])
    return float((rows.sum() - cols.sum()) / (np.abs(rows).sum() + np.abs(cols).sum()))


def test_small_matrix_value_keeps_every_coefficient_but_no_lower_than_needed() -> None:
    def lp_with(smallest: float) -> LinearProgram:
        K = sp.csr_array(np.array([[1.0, smallest], [2.0, 3.0]]))
        return LinearProgram(c=np.ones(2), K=K, row_lower=np.zeros(2), row_upper=np.ones(2),
                             col_lower=np.zeros(2), col_upper=np.ones(2))

    assert small_matrix_value(lp_with(3.6e-6)) == 1e-9  # HiGHS' default
    assert SMALL_MATRIX_VALUE <= small_matrix_value(lp_with(1e-11)) < 1e-11  # the entry is kept
    assert small_matrix_value(lp_with(1e-14)) == SMALL_MATRIX_VALUE  # the least HiGHS accepts


def test_one_year_terminal_condition_is_infeasible_by_hand() -> None:
    """Crop and animal production: its stocks wear out at 30 % a year, 36,718 a year to replace,
    more than the 23,521 its industry made in the base year (its capacity, x <= x0)."""
    h = _uk(1)
    assert h.economy.make is None  # one activity per product
    problem = multiyear_problem(h, objective="fulfilment", discount=0.0, terminal=1.0, growth=None, resources=None,
                                costs=None, priorities=None)
    crop = [q for q, name in enumerate(h.economy.products) if name.startswith("Crop And Animal")]
    assert len(crop) == 1
    held = problem.stock_product == crop[0]
    replace = float(((1.0 - problem.retention[held]) * problem.stock[held]).sum())
    assert replace == pytest.approx(36718.5, rel=1e-6)
    assert h.base_output[crop[0]] == pytest.approx(23521.0) and h.base_output[crop[0]] < replace
    res = gosplan.plan_years(h, terminal=1.0, method="highs")
    assert res.status is Status.INFEASIBLE
    assert any("terminal condition on the stock of Crop And Animal" in line for line in res.conflict)


def test_three_year_terminal_plan_is_infeasible_and_certified_quickly() -> None:
    """HiGHS' dual simplex used to run past any limit here (small_matrix_value 1e-12: 637
    iterations in 20 s, "possibly dual unbounded"); now it decides in well under a second."""
    lp = _uk_lp(3, 1.0)
    assert _scipy_status(lp) == 2  # scipy's HiGHS: infeasible
    sol = solve_highs(lp, method="simplex", tol=1e-6, time_limit=30.0)
    assert sol.status is LPStatus.INFEASIBLE, sol.message
    assert sol.seconds < 10.0
    assert sol.farkas is not None and _ray_proves_infeasible(lp, sol.farkas) > 1e-3

    res = gosplan.plan_years(_uk(3), terminal=1.0, discount=0.03, method="highs", time_limit=60.0)
    assert res.status is Status.INFEASIBLE, res.message
    assert "certified by a Farkas ray" in res.message
    # the last iterate of an infeasible program is no plan: no violation or gap is reported
    assert np.isnan(res.max_violation) and np.isnan(res.duality_gap)
    assert res.summary()["max_violation"] is None
    assert res.seconds < 60.0


def test_time_limit_holds_the_explanation_of_an_infeasible_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS' IIS search is not bounded by its time limit (117 s against 5 on the five-year
    plan); under a plan's time limit the solver's Farkas ray names the conflict instead."""
    calls: list[float | None] = []

    def slow_iis(lp: LinearProgram, *, time_limit: float | None = 60.0):
        calls.append(time_limit)
        time.sleep(30.0)  # as HiGHS' IIS does on these programs
        return None

    monkeypatch.setattr(highs_module, "irreducible_infeasible_subset", slow_iis)
    h = _uk(3)
    started = time.perf_counter()
    res = gosplan.plan_years(h, terminal=1.0, discount=0.03, method="highs", time_limit=15.0)
    elapsed = time.perf_counter() - started
    assert res.status is Status.INFEASIBLE, res.message
    assert calls == []
    assert elapsed < 15.0, f"{elapsed:.1f} s against a time limit of 15 s"
    assert any("terminal condition on the stock of Crop And Animal" in line for line in res.conflict)

    # without a time limit the IIS is still asked for (the patch is where explain.py looks)
    monkeypatch.setattr(highs_module, "irreducible_infeasible_subset",
                        lambda lp, *, time_limit=60.0: calls.append(time_limit))
    res = gosplan.plan_years(h, terminal=1.0, discount=0.03, method="highs")
    assert res.status is Status.INFEASIBLE and calls == [60.0]


def test_an_unproven_highs_infeasible_is_solved_again_at_the_smallest_value() -> None:
    """At half its least coefficient (8.5e-11) HiGHS' dual simplex calls us-2022's cost plan
    infeasible without a Farkas ray that proves it; solved again keeping coefficients down to 1e-12 it is
    optimal, as the reference solvers find (tests/test_plan_reference.py)."""
    from gosplan.optim.check import verify
    from gosplan.optim.highs import DEFAULT_SMALL_MATRIX_VALUE, SMALL_MATRIX_VALUE, small_matrix_value, solve_highs
    from gosplan.optim.lp import LPStatus
    from gosplan.planning.formulate import cost_lp
    from gosplan.planning.problem import planning_problem

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lp, _ = cost_lp(planning_problem(gosplan.load("us-2022")))
    assert SMALL_MATRIX_VALUE < small_matrix_value(lp) < DEFAULT_SMALL_MATRIX_VALUE  # half its least, 1.7e-10
    got = solve_highs(lp)
    assert got.status is LPStatus.OPTIMAL
    assert "solved again keeping coefficients down to 1e-12" in got.message, got.message
    assert verify(lp, got.v, got.y).passes(1e-5)
    direct = solve_highs(lp, small=SMALL_MATRIX_VALUE)
    assert direct.status is LPStatus.OPTIMAL and direct.objective == pytest.approx(got.objective, rel=1e-9)

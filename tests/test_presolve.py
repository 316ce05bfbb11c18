"""Singleton rows moved into column bounds (gosplan.optim.presolve) and the answer mapped back.

References: HiGHS' dual simplex on the program as written; the optimality conditions of the
original program checked directly on the mapped answer (HiGHS' exact vertex of the smaller
program, mapped back, must price every original row); a Farkas ray checked by
``farkas_margin`` on the original rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosplan.optim.check import farkas_margin, verify
from gosplan.optim.highs import solve_highs
from gosplan.optim.lp import LinearProgram, LPStatus
from gosplan.optim.pdhg import solve_pdhg
from gosplan.optim.presolve import singleton_rows

INF = np.inf


def _lp(K, lo, hi, c=None, clo=None, chi=None, **kw) -> LinearProgram:
    K = np.asarray(K, dtype=float)
    m = K.shape[1]
    return LinearProgram(
        c=np.ones(m) if c is None else np.asarray(c, float), K=sp.csr_array(K),
        row_lower=np.asarray(lo, float), row_upper=np.asarray(hi, float),
        col_lower=np.zeros(m) if clo is None else np.asarray(clo, float),
        col_upper=np.full(m, INF) if chi is None else np.asarray(chi, float), **kw,
    )


def test_the_tightest_singleton_row_becomes_the_bound_and_owns_it() -> None:
    K = [[1.0, 1.0, 0.0],   # kept: two nonzeros
         [2.0, 0.0, 0.0],   # 2 x0 <= 6: x0 <= 3
         [4.0, 0.0, 0.0],   # 4 x0 <= 8: x0 <= 2 (tighter: owns the upper bound)
         [0.0, -2.0, 0.0],  # -2 x1 in [-10, 4]: x1 in [-2, 5]; the lower -2 is looser than 0
         [0.0, 0.0, 0.0],   # empty: kept
         [0.0, 0.5, 0.0]]   # 0.5 x1 >= 1: x1 >= 2 (owns the lower bound)
    lo = [-INF, -INF, -INF, -10.0, -1.0, 1.0]
    hi = [5.0, 6.0, 8.0, 4.0, 1.0, INF]
    lp = _lp(K, lo, hi, chi=[INF, INF, 7.0])
    pre = singleton_rows(lp)
    assert pre is not None and pre.moved == 4
    assert pre.kept.tolist() == [0, 4]
    assert pre.reduced.col_lower.tolist() == [0.0, 2.0, 0.0]
    assert pre.reduced.col_upper.tolist() == [2.0, 5.0, 7.0]
    assert pre.upper_row.tolist() == [2, 3, -1] and pre.lower_row.tolist() == [-1, 5, -1]


def test_explicit_zeros_do_not_count_and_no_singleton_gives_none() -> None:
    K = sp.csr_array((np.array([0.0, 3.0, 1.0, 1.0]), np.array([0, 1, 0, 1]), np.array([0, 2, 4])), shape=(2, 2))
    lp = LinearProgram(c=np.ones(2), K=K, row_lower=np.array([-INF, 1.0]), row_upper=np.array([6.0, INF]),
                       col_lower=np.zeros(2), col_upper=np.full(2, INF))
    pre = singleton_rows(lp)
    assert pre is not None and pre.kept.tolist() == [1] and pre.reduced.col_upper[1] == 2.0
    assert singleton_rows(_lp([[1.0, 1.0]], [-INF], [1.0])) is None


def test_crossing_bounds_leave_the_rows_as_written() -> None:
    """x0 <= 1 and x0 >= 2 as rows: infeasible; the rows stay for the solver to prove it."""
    assert singleton_rows(_lp([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]], [-INF, 2.0, 0.0], [1.0, INF, 5.0])) is None


def test_row_names_and_marks_follow_the_rows_kept() -> None:
    lp = _lp([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]], [-INF, 0.0, 0.0], [1.0, 3.0, 4.0],
             row_names=lambda i: f"r{i}", row_user=np.array([True, False, True]))
    pre = singleton_rows(lp)
    assert [pre.reduced.name_row(i) for i in range(2)] == ["r1", "r2"]
    assert pre.reduced.row_user.tolist() == [False, True]


def _random_lp(seed: int, singletons: int) -> LinearProgram:
    """A bounded, feasible random program with ``singletons`` extra rows of one nonzero each
    (some on the same column, of either sign, boxed or one-sided), around a known point."""
    rng = np.random.default_rng(seed)
    m, k = int(rng.integers(3, 10)), int(rng.integers(2, 8))
    K = rng.uniform(0.2, 2.0, (k, m)) * (rng.random((k, m)) < 0.6)
    S = np.zeros((singletons, m))
    S[np.arange(singletons), rng.integers(0, m, singletons)] = rng.choice([-3.0, -0.5, 0.7, 2.0], singletons)
    K = np.vstack([K, S])
    x = rng.uniform(0.1, 2.0, m)
    Kx = K @ x
    lo = np.where(rng.random(K.shape[0]) < 0.4, Kx - rng.uniform(0.0, 1.0, K.shape[0]), -INF)
    hi = np.where(rng.random(K.shape[0]) < 0.8, Kx + rng.uniform(0.0, 1.0, K.shape[0]), INF)
    return _lp(K, lo, hi, c=rng.normal(size=m), chi=np.full(m, 4.0))


def _kkt(lp: LinearProgram, v: np.ndarray, y: np.ndarray, d: np.ndarray, tol: float) -> None:
    """The optimality conditions of ``lp`` at ``(v, y, d)``, HiGHS' sign convention, row by row."""
    assert np.allclose(d, lp.c - lp.K.T @ y, atol=tol)
    Kv = lp.K @ v
    at_lo, at_hi = np.isclose(Kv, lp.row_lower, atol=tol), np.isclose(Kv, lp.row_upper, atol=tol)
    assert (y[~at_lo] <= tol).all() and (y[~at_hi] >= -tol).all()  # a row priced only where it binds
    c_lo, c_hi = np.isclose(v, lp.col_lower, atol=tol), np.isclose(v, lp.col_upper, atol=tol)
    assert (d[~c_lo] <= tol).all() and (d[~c_hi] >= -tol).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), singletons=st.integers(1, 6))
def test_an_exact_answer_of_the_smaller_program_prices_every_original_row(seed: int, singletons: int) -> None:
    """HiGHS' vertex of the reduced program, mapped back: the same optimum as HiGHS on the
    program as written, and every optimality condition of the original holds row by row."""
    lp = _random_lp(seed, singletons)
    pre = singleton_rows(lp)
    if pre is None:  # the singleton rows crossed a column's bounds: nothing to map
        return
    ref = solve_highs(lp, method="simplex", tol=1e-10)
    small = solve_highs(pre.reduced, method="simplex", tol=1e-10)
    assert small.status == ref.status
    if ref.status is not LPStatus.OPTIMAL:
        return
    back = pre.restore(small)
    assert back.objective == pytest.approx(ref.objective, rel=1e-9, abs=1e-9)
    _kkt(lp, back.v, back.y, back.d, 1e-8)
    assert back.detail["presolve_rows_moved"] == pre.moved


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), singletons=st.integers(1, 6))
def test_pdhg_with_the_presolve_meets_highs(seed: int, singletons: int) -> None:
    lp = _random_lp(seed, singletons)
    ref = solve_highs(lp, method="simplex", tol=1e-10)
    if ref.status is not LPStatus.OPTIMAL:
        return
    sol = solve_pdhg(lp, tol=1e-9, presolve=True)
    assert sol.status is LPStatus.OPTIMAL and sol.y.shape == (lp.shape[0],)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-6)
    check = verify(lp, sol.v, sol.y)
    assert check.max_violation <= 1e-6 and check.relative_gap <= 1e-6 and check.dual_residual <= 1e-6


def test_a_farkas_ray_found_on_bounds_proves_the_rows_infeasible() -> None:
    """x0 <= 1 and 2 x1 <= 2 as rows, x0 + x1 >= 5: the reduced program's ray lies on the moved
    bounds; mapped back it weighs the rows, and it certifies the original program."""
    lp = _lp([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], [-INF, -INF, 5.0], [1.0, 2.0, INF], c=np.zeros(2))
    sol = solve_pdhg(lp, tol=1e-8, presolve=True)
    assert sol.status is LPStatus.INFEASIBLE
    assert sol.farkas.shape == (3,) and (sol.farkas[:2] < 0).all() and sol.farkas[2] > 0
    assert farkas_margin(lp, sol.farkas, 1e-7) > 0


def test_warm_start_takes_the_original_rows() -> None:
    lp = _lp([[1.0, 0.0], [1.0, 1.0]], [-INF, 1.0], [3.0, 4.0], c=[1.0, 2.0])
    sol = solve_pdhg(lp, tol=1e-9, v0=np.array([1.0, 0.0]), y0=np.array([0.0, 1.0]), presolve=True)
    assert sol.status is LPStatus.OPTIMAL and sol.objective == pytest.approx(1.0, abs=1e-7)
    with pytest.raises(ValueError, match="y0 must hold 2"):
        solve_pdhg(lp, y0=np.zeros(1), presolve=True)


def test_the_first_years_capital_rows_of_a_five_year_plan_are_bounds() -> None:
    """Cockshott's program: no investment reaches year 1, so each of its capital rows is
    ``b_k x_{j,1} <= K_k``; moved, PDHG plans to HiGHS' optimum."""
    from gosplan.multiyear.formulate import formulate, multiyear_problem
    from gosplan.synth.horizon import cockshott_economy

    problem = multiyear_problem(cockshott_economy(60, 3, seed=4))
    lp, layout = formulate(problem)
    pre = singleton_rows(lp)
    first = np.arange(layout.capital_start[0], layout.capital_start[0] + problem.nk)
    K = lp.K.tocsr()
    nonempty = first[np.diff(K.indptr)[first] > 0]
    assert np.isin(nonempty, np.setdiff1d(np.arange(lp.shape[0]), pre.kept)).all()
    assert pre.moved == nonempty.size  # and no other row of the program
    ref = solve_highs(lp, method="simplex", tol=1e-10)
    sol = solve_pdhg(lp, tol=1e-8, presolve=True)
    assert sol.status is LPStatus.OPTIMAL and sol.detail["presolve_rows_moved"] == pre.moved
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6)
    assert verify(lp, sol.v, sol.y).passes(1e-6)


def test_five_year_plans_use_it_and_single_year_plans_do_not(monkeypatch) -> None:
    """``plan_years`` runs PDHG with the presolve (the first year's capital rows as bounds),
    ``gosplan.plan`` without it (a single-year plan's capacities as bounds cost iterations)."""
    import gosplan
    from gosplan.multiyear import plan_years
    from gosplan.optim import presolve
    from gosplan.synth.horizon import cockshott_economy

    calls: list[int] = []
    real = presolve.singleton_rows

    def spy(lp):
        pre = real(lp)
        calls.append(0 if pre is None else pre.moved)
        return pre

    monkeypatch.setattr(presolve, "singleton_rows", spy)
    res = plan_years(cockshott_economy(40, 3, seed=2), method="pdhg")
    assert res.status is gosplan.Status.OPTIMAL
    assert calls and calls[0] > 0
    calls.clear()
    eco = gosplan.load("us-2022")
    caps = {eco.products[0]: 1e9}  # a capacity row on a product made by one technique: a singleton
    plan = gosplan.plan(eco, method="pdhg", capacities=caps)
    assert plan.status is gosplan.Status.OPTIMAL and calls == []

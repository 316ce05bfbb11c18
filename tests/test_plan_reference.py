"""gosplan's optimal plans against the same programs written out independently.

The reference programs are built here straight from ``U``, ``O``, ``P``, ``R``,
capacities, floors, ceilings and targets and solved with ``scipy.optimize.linprog``
(HiGHS) — nothing from ``gosplan.planning.formulate`` is used — and, for harmony, with
cvxpy + Clarabel (an exponential-cone program). Random economies (hypothesis seeds)
have 5-60 products, 1-3 techniques per product, joint products, capacities, floors,
ceilings, 1-3 resources and 1-3 priority classes. Prices are checked against finite
differences of the optimal value; the real tables against the same reference.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import gosplan
from gosplan import Status

BACKENDS = ["highs", "highs-ipm", "highs-pdlp", "pdhg"]
REL = {"highs": 1e-7, "highs-ipm": 1e-7, "highs-pdlp": 1e-5, "pdhg": 1e-5}
"""Relative agreement of objectives / per-class z with the reference."""
VIOLATION = {"highs": 1e-6, "highs-ipm": 1e-6, "highs-pdlp": 1e-5, "pdhg": 1e-5}
"""Largest scaled violation of any constraint by gosplan's plan."""
PRICE = {"highs": 1e-6, "highs-ipm": 1e-6, "highs-pdlp": 1e-3, "pdhg": 1e-3}
"""Slack (relative to the largest price) of prices against finite differences."""
HOLD = 1e-7
FIRST_ORDER = ("highs-pdlp", "pdhg")
"""gosplan holds an earlier priority class at (1 - tol/10) of its optimum (docs/planning.md)."""

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
RANDOM = settings(max_examples=25, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ------------------------------------------------------------------------- backends

@pytest.fixture(params=BACKENDS)
def method(request) -> str:
    return request.param


@pytest.fixture(params=["highs", "highs-ipm", "pdhg"])
def harmony_method(request) -> str:
    """Harmony backends for the random cases (HiGHS' PDLP takes seconds per tiny plan: one case below)."""
    return request.param


# ------------------------------------------------------------------------- random economies
@dataclass
class Instance:
    """An economy as plain arrays plus the planner's inputs (``inf``: no limit)."""

    U: np.ndarray  # n x m
    O: np.ndarray  # n x m
    P: np.ndarray  # r x m
    R: np.ndarray  # r
    cap: np.ndarray  # n
    floor: np.ndarray  # n
    ceiling: np.ndarray  # n
    y: np.ndarray  # n, fulfilment / harmony targets
    y_cost: np.ndarray  # n, cost targets (met in full)
    klass: np.ndarray  # n, priority class of each target (0: none)
    x_ref: np.ndarray  # a feasible plan (for the checks)
    products: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    @property
    def N(self) -> np.ndarray:
        return self.O - self.U

    def economy(self) -> gosplan.Economy:
        return gosplan.Economy(
            products=self.products, use=self.U, make=self.O, activities=self.activities, primary=self.P,
            resources=self.resources, demand=self.y.reshape(-1, 1), categories=["fd"],
        )

    def keyed(self, values: np.ndarray, labels: list[str]) -> dict[str, float]:
        return {k: float(v) for k, v in zip(labels, values) if np.isfinite(v)}

    def inputs(self, objective: str) -> dict:
        kw = dict(
            resources=self.keyed(self.R, self.resources),
            capacities=self.keyed(self.cap, self.products),
            floors={p: float(f) for p, f in zip(self.products, self.floor) if f > 0},
            ceilings=self.keyed(self.ceiling, self.products),
        )
        if objective == "cost":
            kw["targets"] = {p: float(v) for p, v in zip(self.products, self.y_cost) if v > 0}
        else:
            kw["targets"] = {p: float(v) for p, v in zip(self.products, self.y) if v > 0}
        if objective == "fulfilment":
            kw["priorities"] = {p: int(k) for p, k in zip(self.products, self.klass) if k > 0}
        return kw


def random_instance(seed: int, *, n_max: int = 60, classes: int | None = None) -> Instance:
    """A random economy with a known feasible plan ``x_ref / 2`` (see the module)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, n_max + 1))
    r = int(rng.integers(1, 4))
    outputs: list[dict[int, float]] = []
    names = []
    for i in range(n):
        for t in range(int(rng.integers(1, 4))):
            outputs.append({i: 1.0})
            names.append(f"p{i}/t{t}")
    for q in range(int(rng.integers(0, n // 5 + 2))):  # joint products
        i, k = (int(v) for v in rng.choice(n, size=2, replace=False))
        outputs.append({i: 1.0, k: float(rng.uniform(0.2, 0.8))})
        names.append(f"joint{q}:p{i}+p{k}")
    m = len(outputs)
    O = np.zeros((n, m))
    U = np.zeros((n, m))
    for j, out in enumerate(outputs):
        for i, a in out.items():
            O[i, j] = a
        k = int(rng.integers(1, min(n, 5) + 1))
        rows = rng.choice(n, size=k, replace=False)
        w = rng.uniform(0.05, 1.0, size=k)
        U[rows, j] = w / w.sum() * rng.uniform(0.1, 0.6) * sum(out.values())
    P = np.zeros((r, m))
    P[0] = rng.uniform(0.1, 2.0, size=m)  # every activity needs labour
    for q in range(1, r):
        P[q] = rng.uniform(0.0, 1.0, size=m) * (rng.random(m) < 0.6)
    # The first technique of every product: a productive square system (column sums < 1).
    first = [names.index(f"p{i}/t0") for i in range(n)]
    y_ref = rng.uniform(0.5, 2.0, size=n)
    x_ref = np.zeros(m)
    x_ref[first] = np.linalg.solve(np.eye(n) - U[:, first], y_ref)
    assert (x_ref >= 0).all()
    R = (P @ x_ref) * rng.uniform(0.8, 1.5, size=r)
    g_ref = O @ x_ref
    cap = np.where(rng.random(n) < 0.2, g_ref * rng.uniform(0.5, 1.5, size=n), np.inf)
    floor = np.where(rng.random(n) < 0.15, 0.3 * y_ref * rng.random(n), 0.0)
    ceiling = np.where(rng.random(n) < 0.1, y_ref * rng.uniform(0.6, 2.0, size=n), np.inf)
    targeted = rng.random(n) < 0.7
    targeted[int(rng.integers(n))] = True
    y = np.where(targeted, rng.uniform(0.2, 2.0, size=n), 0.0)
    y_cost = np.where(targeted, 0.5 * y_ref * rng.uniform(0.2, 1.0, size=n), 0.0)
    k = int(rng.integers(1, 4)) if classes is None else classes
    klass = np.where(targeted, rng.integers(1, k + 1, size=n), 0)
    return Instance(
        U=U, O=O, P=P, R=R, cap=cap, floor=floor, ceiling=ceiling, y=y, y_cost=y_cost, klass=klass, x_ref=x_ref,
        products=[f"p{i}" for i in range(n)], activities=names, resources=["labour", "land", "water"][:r],
    )


# ------------------------------------------------------------------------- reference programs
def _common_rows(inst: Instance, R=None, cap=None):
    """Rows ``A v <= b`` over ``x`` shared by every objective: resources, capacities, ceilings."""
    R = inst.R if R is None else R
    cap = inst.cap if cap is None else cap
    blocks, rhs = [], []
    lim = np.isfinite(R)
    blocks.append(inst.P[lim]), rhs.append(R[lim])
    capped = np.isfinite(cap)
    blocks.append(inst.O[capped]), rhs.append(cap[capped])
    ceil = np.isfinite(inst.ceiling)
    blocks.append(inst.N[ceil]), rhs.append(inst.ceiling[ceil])
    return np.vstack(blocks), np.concatenate(rhs)


def ref_fulfilment(inst: Instance, *, y=None, R=None, cap=None, hold: float = HOLD) -> tuple[dict[int, float], float]:
    """Lexicographic plan ray (docs/planning.md) with linprog: ``({class: z}, final z)``; ``None`` z if infeasible."""
    y = inst.y if y is None else y
    n, m = inst.N.shape
    A0, b0 = _common_rows(inst, R, cap)
    classes = sorted(int(k) for k in np.unique(inst.klass[y > 0]))
    held = np.full(n, -np.inf)
    out: dict[int, float] = {}

    def stage(active: np.ndarray, z_lo: float, z_hi: float, held: np.ndarray) -> float | None:
        ya = np.where(active, y, 0.0)
        lower = np.where(active, inst.floor, np.maximum(inst.floor, held))
        A = np.vstack([np.hstack([A0, np.zeros((A0.shape[0], 1))]),
                       np.hstack([-inst.N, ya[:, None]]),  # z y_i - N_i x <= 0 (active)
                       np.hstack([-inst.N, np.zeros((n, 1))])])  # N x >= floor / held
        b = np.concatenate([b0, np.zeros(n), -lower])
        c = np.zeros(m + 1)
        c[-1] = -1.0
        res = linprog(c, A_ub=sp.csr_array(A), b_ub=b, bounds=[(0, None)] * m + [(z_lo, z_hi)], method="highs")
        if res.status == 2:
            return None
        assert res.status == 0, res.message
        return float(res.x[-1])

    single = len(classes) == 1
    for k in classes:
        active = (inst.klass == k) & (y > 0)
        z = stage(active, 0.0, None if single else 1.0, held)
        if z is None:
            return out, None
        out[k] = z
        held[active] = z * (1 - hold) * y[active]
    if single or min(out.values()) < 1 - 10 * hold:
        return out, out[classes[-1]]
    z = stage(y > 0, 1 - hold, None, np.full(n, -np.inf))
    return {k: z for k in classes}, z


def ref_cost(inst: Instance, *, y=None, R=None, cap=None, costs=None) -> float | None:
    """``min costs' P x`` s.t. ``N x >= max(y, floor)`` and the common rows; ``None`` if infeasible."""
    y = inst.y_cost if y is None else y
    costs = np.eye(inst.P.shape[0])[0] if costs is None else costs
    A0, b0 = _common_rows(inst, R, cap)
    A = np.vstack([A0, -inst.N])
    b = np.concatenate([b0, -np.maximum(y, inst.floor)])
    res = linprog(costs @ inst.P, A_ub=sp.csr_array(A), b_ub=b, bounds=[(0, None)] * inst.N.shape[1], method="highs")
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    return float(res.fun)


def violation(inst: Instance, x: np.ndarray, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """Largest violation of ``lo <= K x <= hi`` over ``rows``, each scaled like gosplan's own check
    (by ``1 + max(|bound|, sum_j |K_ij x_j|)``), and of ``x >= 0``."""
    worst = float(np.maximum(-x, 0.0).max(initial=0.0))
    for K, lo, hi in rows:
        kx, size = K @ x, np.abs(K) @ np.abs(x)
        with np.errstate(invalid="ignore"):
            below = np.where(np.isfinite(lo), (lo - kx) / (1 + np.maximum(np.abs(lo), size)), 0.0)
            above = np.where(np.isfinite(hi), (kx - hi) / (1 + np.maximum(np.abs(hi), size)), 0.0)
        worst = max(worst, float(np.max(below, initial=0.0)), float(np.max(above, initial=0.0)))
    return worst


def common_checks(inst: Instance) -> list:
    inf = np.full(inst.N.shape[0], np.inf)
    return [
        (inst.P, np.full(inst.P.shape[0], -np.inf), inst.R),
        (inst.O, -inf, inst.cap),
        (inst.N, inst.floor, inst.ceiling),
    ]


def plan(inst: Instance, objective: str, method: str, **extra) -> gosplan.PlanResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gosplan.errors.NegativeCoefficientWarning)
        return gosplan.plan(inst.economy(), objective=objective, method=method, **{**inst.inputs(objective), **extra})


# ------------------------------------------------------------------------- objectives vs reference
@RANDOM
@given(seed=SEEDS)
def test_fulfilment_matches_reference(method: str, seed: int) -> None:
    """Per-class z against the lexicographic reference. A later class can depend steeply on
    how exactly the earlier ones are held (a degenerate earlier optimum: on one instance
    found here z_3 moves by 0.03 when class 2 is held 1e-7 tighter), so each class is
    compared within the spread of the reference over holds of 0.5, 1 and 2 x 1e-7 (zero
    for a well-conditioned class, which is most of them)."""
    # First-order backends get one class: with several, gosplan's hold (1 - tol/10) is
    # tighter than their accuracy (see test_priorities_on_first_order_backends).
    inst = random_instance(seed, classes=1 if method in FIRST_ORDER else None)
    ref_z, final = ref_fulfilment(inst)
    assert final is not None  # x_ref / 2 is feasible by construction
    spread = {k: 0.0 for k in ref_z}
    if len(ref_z) > 1:
        for hold in (HOLD / 2, 2 * HOLD):
            other = ref_fulfilment(inst, hold=hold)[0]
            spread = {k: max(spread[k], abs(other[k] - ref_z[k])) for k in ref_z}
    res = plan(inst, "fulfilment", method)
    assert res.status is Status.OPTIMAL, res.message
    assert sorted(res.class_fulfilment) == sorted(ref_z)
    first = min(ref_z)
    assert res.class_fulfilment[first] == pytest.approx(ref_z[first], rel=REL[method], abs=REL[method])
    for k, z in ref_z.items():
        tol = REL[method] * (1 + abs(z)) + 2 * spread[k]
        assert abs(res.class_fulfilment[k] - z) <= tol, (k, ref_z, res.class_fulfilment, spread)
    last = max(ref_z)
    assert res.objective == pytest.approx(res.class_fulfilment[last], rel=1e-12)
    assert abs(res.objective - final) <= REL[method] * (1 + abs(final)) + 2 * spread[last]
    x = res.activity_level
    z_of = np.array([res.class_fulfilment.get(int(k), 0.0) for k in inst.klass])
    rows = common_checks(inst) + [(inst.N, z_of * inst.y, np.full(len(inst.y), np.inf))]
    assert violation(inst, x, rows) <= VIOLATION[method]
    np.testing.assert_allclose(res.net_output, inst.N @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.resource_use, inst.P @ x, rtol=1e-12, atol=1e-12)


@RANDOM
@given(seed=SEEDS)
def test_cost_matches_reference(method: str, seed: int) -> None:
    inst = random_instance(seed)
    ref = ref_cost(inst)
    assert ref is not None
    res = plan(inst, "cost", method)
    assert res.status is Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(ref, rel=REL[method], abs=REL[method])
    x = res.activity_level
    assert float(inst.P[0] @ x) == pytest.approx(res.objective, rel=1e-9)
    need = np.maximum(inst.y_cost, inst.floor)
    rows = common_checks(inst) + [(inst.N, need, np.full(len(need), np.inf))]
    assert violation(inst, x, rows) <= VIOLATION[method]


@pytest.mark.parametrize("seed", [62, 190])
def test_priorities_on_first_order_backends(seed: int) -> None:
    """Seed 62: z_2 moves by 2e6 per unit of relative hold on class 1 (0.035 at hold 0, 0.2368 at
    1e-7, 1.0 from 5e-7), so a class held from a first-order z_1 (accurate to ~1e-6) gave z_2 = 1.0;
    a stage that a later one holds is now solved again exactly and held like HiGHS' own."""
    inst = random_instance(seed)
    ref_z, _ = ref_fulfilment(inst)
    assert len(ref_z) == 3
    res = plan(inst, "fulfilment", "highs-pdlp")
    assert res.status is Status.OPTIMAL, res.message
    for k, z in ref_z.items():
        assert res.class_fulfilment[k] == pytest.approx(z, abs=1e-4), (k, ref_z, res.class_fulfilment)


# ------------------------------------------------------------------------- prices vs finite differences
def _interval_check(price: float, lo_q: float | None, hi_q: float | None, slack: float, what: str) -> bool:
    """``lo_q <= price <= hi_q`` up to ``slack``; True when the interval is tight (nondegenerate)."""
    if lo_q is not None:
        assert price >= lo_q - slack, f"{what}: price {price!r} below the finite difference {lo_q!r}"
    if hi_q is not None:
        assert price <= hi_q + slack, f"{what}: price {price!r} above the finite difference {hi_q!r}"
    return lo_q is not None and hi_q is not None and abs(hi_q - lo_q) <= slack


@RANDOM
@given(seed=SEEDS)
def test_fulfilment_prices_are_finite_differences(method: str, seed: int) -> None:
    """One class. The value z*(R) is concave in a resource's or capacity's limit: the forward
    quotient <= any optimal price <= the backward quotient (equal when nondegenerate).
    For a target, z* y_i enters as a coefficient: -dz*/dy_i / z* = p_i (central difference,
    checked where the two one-sided quotients agree)."""
    inst = random_instance(seed, classes=1)
    _, z0 = ref_fulfilment(inst)
    res = plan(inst, "fulfilment", method)
    assert res.status is Status.OPTIMAL, res.message
    scale = max(float(np.max(res.resource_price, initial=0.0)), float(np.max(res.shadow_price)),
                float(np.max(res.capacity_price, initial=0.0)))
    slack = PRICE[method] * scale + 1e-6 * (1 + scale)
    for q in np.flatnonzero(np.isfinite(inst.R)):
        eps = 1e-4 * max(inst.R[q], 1e-3)
        R_up, R_dn = inst.R.copy(), inst.R.copy()
        R_up[q] += eps
        R_dn[q] -= eps
        z_up = ref_fulfilment(inst, R=R_up)[1]
        z_dn = ref_fulfilment(inst, R=R_dn)[1] if R_dn[q] >= 0 else None
        _interval_check(res.resource_price[q], (z_up - z0) / eps, None if z_dn is None else (z0 - z_dn) / eps,
                        slack, f"resource {inst.resources[q]}")
    for i in np.flatnonzero(np.isfinite(inst.cap)):
        eps = 1e-4 * max(inst.cap[i], 1e-3)
        c_up, c_dn = inst.cap.copy(), inst.cap.copy()
        c_up[i] += eps
        c_dn[i] -= eps
        z_up = ref_fulfilment(inst, cap=c_up)[1]
        z_dn = ref_fulfilment(inst, cap=c_dn)[1]
        _interval_check(res.capacity_price[i], (z_up - z0) / eps, None if z_dn is None else (z0 - z_dn) / eps,
                        slack, f"capacity of p{i}")
    # A target whose row carries no floor or ceiling (those are folded into the product's
    # price; see test_plan_textbook.py::test_binding_ceiling_on_a_target_has_a_price).
    plain = np.flatnonzero((inst.y > 0) & (inst.floor <= 0) & ~np.isfinite(inst.ceiling))
    f = inst.N @ res.activity_level
    capped_target = (inst.y > 0) & np.isfinite(inst.ceiling)
    if not (f[capped_target] >= inst.ceiling[capped_target] - 1e-4 * (1 + inst.ceiling[capped_target])).any():
        assert float(res.shadow_price @ inst.y) == pytest.approx(1.0, abs=PRICE[method] + 1e-9)
    if plain.size == 0:
        return
    i = int(plain[0])
    eps = 1e-5 * inst.y[i]
    y_up, y_dn = inst.y.copy(), inst.y.copy()
    y_up[i] += eps
    y_dn[i] -= eps
    fwd = -(ref_fulfilment(inst, y=y_up)[1] - z0) / eps / z0
    bwd = -(z0 - ref_fulfilment(inst, y=y_dn)[1]) / eps / z0
    if abs(fwd - bwd) <= 1e-4 * (1 + abs(fwd)):
        assert res.shadow_price[i] == pytest.approx((fwd + bwd) / 2, abs=slack + 1e-4 * (1 + abs(fwd)))


def _tight_cost_instance(seed: int) -> tuple[Instance, float]:
    """A random instance whose non-labour resources bind in the least-labour plan."""
    inst = random_instance(seed)
    base = ref_cost(inst)
    A0, b0 = _common_rows(inst)
    A = np.vstack([A0, -inst.N])
    b = np.concatenate([b0, -np.maximum(inst.y_cost, inst.floor)])
    sol = linprog(inst.P[0], A_ub=A, b_ub=b, bounds=[(0, None)] * inst.N.shape[1], method="highs")
    use = inst.P @ sol.x
    for factor in (0.9, 0.97):
        trial = inst.R.copy()
        trial[1:] = np.where(use[1:] > 1e-6, use[1:] * factor, trial[1:])
        value = ref_cost(inst, R=trial)
        if value is not None:
            inst.R = trial
            return inst, value
    return inst, base


@RANDOM
@given(seed=SEEDS)
def test_cost_prices_are_finite_differences(method: str, seed: int) -> None:
    """C*(R) is convex and decreasing: with q+- the one-sided quotients, -q+ <= price <= -q-
    (the cost saved per unit of resource or capacity added); for a target p_i lies between
    the quotients of C* in y_i."""
    inst, c0 = _tight_cost_instance(seed)
    res = plan(inst, "cost", method)
    assert res.status is Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(c0, rel=REL[method], abs=REL[method])
    scale = max(float(np.max(res.resource_price, initial=0.0)), float(np.max(res.shadow_price)),
                float(np.max(res.capacity_price, initial=0.0)), 1.0)
    slack = PRICE[method] * scale + 1e-6 * scale
    for q in np.flatnonzero(np.isfinite(inst.R)):
        eps = 1e-4 * max(inst.R[q], 1e-3)
        R_up, R_dn = inst.R.copy(), inst.R.copy()
        R_up[q] += eps
        R_dn[q] -= eps
        c_up, c_dn = ref_cost(inst, R=R_up), ref_cost(inst, R=R_dn)
        _interval_check(res.resource_price[q], -(c_up - c0) / eps, None if c_dn is None else -(c0 - c_dn) / eps,
                        slack, f"resource {inst.resources[q]}")
    for i in np.flatnonzero(np.isfinite(inst.cap)):
        eps = 1e-4 * max(inst.cap[i], 1e-3)
        c_up, c_dn = inst.cap.copy(), inst.cap.copy()
        c_up[i] += eps
        c_dn[i] -= eps
        v_up, v_dn = ref_cost(inst, cap=c_up), ref_cost(inst, cap=c_dn)
        _interval_check(res.capacity_price[i], -(v_up - c0) / eps, None if v_dn is None else -(c0 - v_dn) / eps,
                        slack, f"capacity of p{i}")
    for i in np.flatnonzero(inst.y_cost > inst.floor * (1 + 1e-3))[:3]:  # the target, not a floor, binds
        eps = 1e-4 * inst.y_cost[i]
        y_up, y_dn = inst.y_cost.copy(), inst.y_cost.copy()
        y_up[i] += eps
        y_dn[i] -= eps
        v_up, v_dn = ref_cost(inst, y=y_up), ref_cost(inst, y=y_dn)
        _interval_check(res.shadow_price[i], (c0 - v_dn) / eps, None if v_up is None else (v_up - c0) / eps,
                        slack, f"target of p{i}")


@pytest.mark.parametrize("first_order", FIRST_ORDER)
def test_first_order_target_prices_seed_19774785(first_order: str) -> None:
    """PDHG and HiGHS' PDLP put the target price of p3 at 2.401 and 2.437, 1.6-3 % above the
    finite-difference interval (<= 2.3635), with a duality gap of 5e-7: their prices miss
    complementary slackness row by row by 5e-6 > tol, so gosplan solves the program again exactly."""
    test_cost_prices_are_finite_differences.hypothesis.inner_test(method=first_order, seed=19774785)


def test_finite_differences_pin_the_prices_of_a_nondegenerate_instance() -> None:
    """The interval checks above have teeth: on this instance every quotient pair is tight,
    so a wrong price (e.g. off by a sign or the normalisation) would fail."""
    inst = random_instance(1, n_max=12, classes=1)
    _, z0 = ref_fulfilment(inst)
    res = plan(inst, "fulfilment", "highs")
    eps = 1e-5 * inst.R[0]
    R_up, R_dn = inst.R.copy(), inst.R.copy()
    R_up[0] += eps
    R_dn[0] -= eps
    fwd = (ref_fulfilment(inst, R=R_up)[1] - z0) / eps
    bwd = (z0 - ref_fulfilment(inst, R=R_dn)[1]) / eps
    assert fwd > 0 and fwd == pytest.approx(bwd, rel=1e-6)
    assert res.resource_price[0] == pytest.approx(fwd, rel=1e-5)


# ------------------------------------------------------------------------- harmony vs cvxpy
def ref_harmony(inst: Instance, weights: np.ndarray) -> float:
    """``max sum w H(s)`` with s = p - q, p, q >= 0: ``sum w (log(1 + p) - q - q^2/2)``, Clarabel."""
    import cvxpy as cp

    n, m = inst.N.shape
    t = np.flatnonzero(inst.y > 0)
    x = cp.Variable(m, nonneg=True)
    p = cp.Variable(t.size, nonneg=True)
    q = cp.Variable(t.size, nonneg=True)
    N, y = inst.N, inst.y
    cons = [N[t] @ x >= cp.multiply(y[t], 1 + p - q), p - q >= -1, N @ x >= inst.floor]
    for K, hi in ((inst.P, inst.R), (inst.O, inst.cap), (N, inst.ceiling)):
        lim = np.isfinite(hi)
        if lim.any():
            cons.append(K[lim] @ x <= hi[lim])
    w = weights[t]
    prob = cp.Problem(cp.Maximize(w @ (cp.log(1 + p) - q) - 0.5 * cp.sum(cp.multiply(w, cp.square(q)))), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prob.status == cp.OPTIMAL, prob.status
    return float(prob.value)


def _check_harmony(method: str, seed: int, n_max: int) -> None:
    inst = random_instance(seed, n_max=n_max)
    rng = np.random.default_rng([seed, 1])
    weights = rng.uniform(0.5, 2.0, size=inst.N.shape[0])
    ref = ref_harmony(inst, weights)
    res = plan(inst, "harmony", method, weights=dict(zip(inst.products, weights)))
    assert res.status is Status.OPTIMAL, res.message
    rel = max(1e-6, REL[method])
    assert res.objective == pytest.approx(ref, rel=rel, abs=rel)
    # The harmony of the plan's own net outputs (s_i may sit below them: H is increasing).
    t = inst.y > 0
    s = (inst.N @ res.activity_level)[t] / inst.y[t] - 1
    H = np.where(s < 0, s - s * s / 2, np.log1p(np.maximum(s, 0)))
    assert float(weights[t] @ H) == pytest.approx(ref, rel=rel, abs=rel)
    assert violation(inst, res.activity_level, common_checks(inst)) <= VIOLATION[method]


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=SEEDS)
def test_harmony_matches_cvxpy(harmony_method: str, seed: int) -> None:
    _check_harmony(harmony_method, seed, n_max=20)


def test_harmony_matches_cvxpy_on_highs_pdlp() -> None:
    """One small case: HiGHS' PDLP runs ~2 million iterations over a dozen rounds of cuts here."""
    _check_harmony("highs-pdlp", 1, n_max=6)


# ------------------------------------------------------------------------- real tables
TABLES = ["cockshott-example", "uk-2015", "us-2022", "us-2017"]


def _table(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load(name)


def ref_table(eco: gosplan.Economy, objective: str) -> float:
    """The defaults written out: targets max(y, 0); a negative y_i is a floor; labour limited to
    l x^ with (I - A) x^ = y; other resources unlimited; cost = labour."""
    n = eco.n_products
    A = sp.csc_array(eco.use if eco.make is None else eco.use @ sp.diags_array(1 / eco.make.diagonal()))
    I_A = sp.csc_array(sp.identity(n, format="csc") - A)
    lab = eco.primary_coefficients[eco.resources.get_loc(eco.labour)]
    y = eco.y
    x_hat = sp.linalg.spsolve(I_A, y)
    L = float(lab @ x_hat)
    target, floor = np.maximum(y, 0.0), np.minimum(y, 0.0)
    if objective == "cost":
        A_ub = sp.vstack([sp.csr_array(lab[None, :]), -I_A], format="csr")
        b_ub = np.concatenate([[L], -np.where(target > 0, target, floor)])
        res = linprog(lab, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * n, method="highs")
        assert res.status == 0, res.message
        return float(res.fun)
    on = np.flatnonzero(target > 0)
    I_A = sp.csr_array(I_A)
    A_ub = sp.vstack([
        sp.hstack([sp.csr_array(lab[None, :]), sp.csr_array((1, 1))]),
        sp.hstack([-I_A[on], sp.csr_array(target[on][:, None])]),  # z y_i - (I - A)_i x <= 0, targets
        sp.hstack([-I_A, sp.csr_array((n, 1))]),  # (I - A) x >= floor (0, or a negative y_i)
    ], format="csr")
    b_ub = np.concatenate([[L], np.zeros(on.size), -floor])
    c = np.zeros(n + 1)
    c[-1] = -1
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * (n + 1), method="highs")
    assert res.status == 0, res.message
    return float(-res.fun)


@pytest.mark.parametrize("objective", ["fulfilment", "cost"])
@pytest.mark.parametrize("name", TABLES)
@pytest.mark.parametrize("table_method", ["highs", "highs-ipm"])
def test_real_tables_match_reference(name: str, objective: str, table_method: str) -> None:
    eco = _table(name)
    ref = ref_table(eco, objective)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gosplan.plan(eco, objective=objective, method=table_method)
    assert res.status is Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(ref, rel=1e-6)
    assert res.max_violation <= 1e-5


@pytest.mark.parametrize("name", ["uk-2015", "us-2022"])
def test_prices_in_labour_are_labour_values(name: str) -> None:
    """Kantorovich = Marx on a one-resource Leontief economy: with labour the only binding
    resource, p_i / mu_labour = v_i = (l (I - A)^-1)_i."""
    eco = _table(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gosplan.plan(eco, method="highs")
    assert res.status is Status.OPTIMAL
    assert res.binding_resources() == ["labour"]
    assert not np.isnan(res.price_in_labour).any()
    lab = eco.primary_coefficients[eco.resources.get_loc(eco.labour)]
    v = sp.linalg.spsolve(sp.csc_array(sp.identity(eco.n_products) - eco.A).T, lab)
    np.testing.assert_allclose(res.labour_value, v, rtol=1e-8, atol=0)
    np.testing.assert_allclose(res.price_in_labour, v, rtol=1e-8, atol=0)

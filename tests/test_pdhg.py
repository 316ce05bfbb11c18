"""gosplan's PDHG (PDLP) solver against HiGHS and, for harmony objectives, cvxpy/Clarabel:
textbook LPs, constructed nondegenerate LPs with known unique primal and dual optima,
random LPs with mixed bounds, a Leontief planning LP, harmony plans, limits,
certificates of infeasibility and unboundedness, warm starts, and a hypothesis
property (random boxed LPs)."""

from __future__ import annotations

import highspy  # a dependency of gosplan: an import error fails
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus, harmony
from gosplan.optim.pdhg import CHECK_EVERY, solve_pdhg

INF = np.inf


# ----------------------------------------------------------------------------- helpers


def highs(lp: LinearProgram) -> tuple[str, float, np.ndarray, np.ndarray, np.ndarray]:
    """HiGHS' dual simplex: ``(status, objective, v, y, d)`` in HiGHS' sign convention."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    k, m = lp.shape
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = m, k
    model.col_cost_ = lp.c
    model.col_lower_, model.col_upper_ = lp.col_lower, lp.col_upper
    model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
    model.offset_ = lp.offset
    model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    model.a_matrix_.start_ = lp.K.indptr.astype(np.int32)
    model.a_matrix_.index_ = lp.K.indices.astype(np.int32)
    model.a_matrix_.value_ = lp.K.data
    model.a_matrix_.num_row_, model.a_matrix_.num_col_ = k, m
    h.passModel(model)
    h.run()
    status = h.modelStatusToString(h.getModelStatus()).lower()
    sol = h.getSolution()
    obj = h.getInfo().objective_function_value
    return status, obj, np.array(sol.col_value), np.array(sol.row_dual), np.array(sol.col_dual)


def violation(lp: LinearProgram, v: np.ndarray) -> float:
    """Largest bound violation of ``K v`` and ``v``, relative to ``1 + |bound|``."""
    a = lp.K @ v
    size_lo = 1 + np.abs(np.nan_to_num(lp.row_lower, neginf=0.0))
    size_hi = 1 + np.abs(np.nan_to_num(lp.row_upper, posinf=0.0))
    below, above = np.maximum(lp.row_lower - a, 0), np.maximum(a - lp.row_upper, 0)
    rows = np.maximum(below / size_lo, above / size_hi)
    cols = np.maximum(lp.col_lower - v, 0) + np.maximum(v - lp.col_upper, 0)
    return float(max(rows.max(initial=0), cols.max(initial=0)))


def assert_kkt(lp: LinearProgram, s: LPSolution, tol: float) -> None:
    """Primal feasibility, dual sign conditions, ``d = c + phi' - K'y`` and complementary
    slackness of a returned solution, each relative to the size of the data."""
    assert violation(lp, s.v) <= tol
    d = lp.gradient(s.v) - lp.K.T @ s.y
    np.testing.assert_allclose(s.d, d, atol=1e-9 * (1 + np.abs(s.d).max()))
    a = lp.K @ s.v
    ys = 1 + np.abs(s.y).max()
    ds = 1 + np.abs(s.d).max()
    # multipliers only where the row (column) bound on their side is finite ...
    assert np.all(s.y[~np.isfinite(lp.row_lower)] <= tol * ys)
    assert np.all(s.y[~np.isfinite(lp.row_upper)] >= -tol * ys)
    assert np.all(s.d[~np.isfinite(lp.col_lower)] <= tol * ds)
    assert np.all(s.d[~np.isfinite(lp.col_upper)] >= -tol * ds)
    # ... and only where that bound holds with equality (infinite bounds: checked above)
    scale = 1 + np.abs(a).max() + np.abs(s.v).max()

    def complementarity(mult, value, lo, hi) -> float:
        above = np.where(np.isfinite(lo), value - lo, 0.0)
        below = np.where(np.isfinite(hi), hi - value, 0.0)
        return float(np.max(np.maximum(mult, 0) * above + np.maximum(-mult, 0) * below, initial=0))

    assert complementarity(s.y, a, lp.row_lower, lp.row_upper) <= tol * ys * scale
    assert complementarity(s.d, s.v, lp.col_lower, lp.col_upper) <= tol * ds * scale


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


# ----------------------------------------------------------------------------- textbook


def test_two_variables_one_row() -> None:
    """min -x1 - 2 x2, x1 + x2 <= 1, x >= 0: v = (0, 1), y = -2, d = (1, 0)."""
    lp = LinearProgram(
        c=np.array([-1.0, -2.0]), K=sp.csr_array(np.array([[1.0, 1.0]])),
        row_lower=np.array([-INF]), row_upper=np.array([1.0]),
        col_lower=np.zeros(2), col_upper=np.full(2, INF),
    )
    s = solve_pdhg(lp, tol=1e-10)
    assert s.status is LPStatus.OPTIMAL and s.method == "pdhg"
    np.testing.assert_allclose(s.v, [0, 1], atol=1e-8)
    np.testing.assert_allclose(s.y, [-2], atol=1e-8)
    np.testing.assert_allclose(s.d, [1, 0], atol=1e-8)
    assert s.objective == pytest.approx(-2, abs=1e-8)


def test_wyndor_glass() -> None:
    """Hillier & Lieberman's Wyndor Glass: max 3x + 5y, x <= 4, 2y <= 12, 3x + 2y <= 18:
    (2, 6), profit 36, shadow prices (0, 3/2, 1); minimised, HiGHS' signs make them <= 0."""
    lp = LinearProgram(
        c=np.array([-3.0, -5.0]), K=sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 2.0]])),
        row_lower=np.full(3, -INF), row_upper=np.array([4.0, 12.0, 18.0]),
        col_lower=np.zeros(2), col_upper=np.full(2, INF), offset=100.0,
    )
    s = solve_pdhg(lp, tol=1e-10)
    assert s.status is LPStatus.OPTIMAL
    np.testing.assert_allclose(s.v, [2, 6], atol=1e-7)
    np.testing.assert_allclose(s.y, [0, -1.5, -1], atol=1e-7)
    assert s.objective == pytest.approx(100 - 36, abs=1e-7)


def test_transportation_equalities() -> None:
    """Two plants (supply 20, 30), three markets (demand 10, 25, 15), balanced, unit costs
    [[8, 6, 10], [9, 12, 13]]: every row an equality; the optimum is unique (cost 465)."""
    cost = np.array([[8.0, 6.0, 10.0], [9.0, 12.0, 13.0]])
    K = np.zeros((5, 6))
    for p in range(2):
        K[p, 3 * p : 3 * p + 3] = 1
    for q in range(3):
        K[2 + q, [q, 3 + q]] = 1
    b = np.array([20.0, 30.0, 10.0, 25.0, 15.0])
    lp = LinearProgram(c=cost.ravel(), K=sp.csr_array(K), row_lower=b, row_upper=b,
                       col_lower=np.zeros(6), col_upper=np.full(6, INF))
    s = solve_pdhg(lp, tol=1e-10)
    status, obj, v, _, _ = highs(lp)
    assert status == "optimal" and s.status is LPStatus.OPTIMAL
    assert s.objective == pytest.approx(obj, rel=1e-9)
    np.testing.assert_allclose(s.v, v, atol=1e-6)
    assert_kkt(lp, s, 1e-7)


def test_free_and_boxed_columns_two_sided_rows() -> None:
    """min x1 + 2 x2 - 2 x3 with a free x3, 1 <= x1 - x3 <= 3, 0 <= x2 + x3 <= 2, x1, x2 in
    [0, 5]: x = (3, 0, 2), objective -1, y = (1, -1) (first row at its lower bound, second
    at its upper), d = (0, 3, 0); nondegenerate, so HiGHS agrees to the last digit."""
    lp = LinearProgram(
        c=np.array([1.0, 2.0, -2.0]), K=sp.csr_array(np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])),
        row_lower=np.array([1.0, 0.0]), row_upper=np.array([3.0, 2.0]),
        col_lower=np.array([0.0, 0.0, -INF]), col_upper=np.array([5.0, 5.0, INF]),
    )
    s = solve_pdhg(lp, tol=1e-10)
    assert s.status is LPStatus.OPTIMAL
    np.testing.assert_allclose(s.v, [3, 0, 2], atol=1e-7)
    np.testing.assert_allclose(s.y, [1, -1], atol=1e-7)
    np.testing.assert_allclose(s.d, [0, 3, 0], atol=1e-7)
    status, obj, v, y, d = highs(lp)
    assert status == "optimal" and obj == pytest.approx(-1)
    np.testing.assert_allclose(np.r_[s.v, s.y, s.d], np.r_[v, y, d], atol=1e-7)

# ----------------------------------------------------------------------------- random LPs


def nondegenerate_lp(
    seed: int, m: int = 150, k: int = 100
) -> tuple[LinearProgram, np.ndarray, np.ndarray, np.ndarray]:
    """A sparse LP with every bound type and a known unique, strictly complementary optimum.

    Rows are ``<=``, ``>=``, two-sided or equalities; columns boxed, lower- or
    upper-bounded or free. ``a`` rows are active (all equalities among them) and
    ``a`` columns basic (all free ones among them), with a nonsingular active x
    basic block; the others sit at a bound. Choosing ``x*``, ``y*`` (nonzero on the
    active rows, with the sign of their bound) and ``d*`` (nonzero off the basis) and
    setting ``c = K'y* + d*`` makes ``(x*, y*, d*)`` the unique primal-dual optimum.
    Returns ``(lp, x*, y*, d*)``.
    """
    rng = np.random.default_rng(seed)
    K = sp.random(k, m, density=0.06, random_state=rng, data_rvs=rng.standard_normal, format="lil")
    a = k // 2
    row_kind = rng.integers(0, 4, k)  # 0 <=, 1 >=, 2 two-sided, 3 equality
    eq = row_kind == 3
    active = np.r_[np.flatnonzero(eq), rng.permutation(np.flatnonzero(~eq))][:a]
    col_kind = rng.integers(0, 4, m)  # 0 boxed, 1 lower, 2 upper, 3 free
    free = col_kind == 3
    basic = np.r_[np.flatnonzero(free), rng.permutation(np.flatnonzero(~free))][:a]
    for i, j in zip(active, basic):
        K[i, j] = rng.choice([-1, 1]) * rng.uniform(2, 3)
    K = sp.csr_array(K)
    B = K[active][:, basic].toarray()
    assert np.linalg.cond(B) < 1e6
    lo = np.where(np.isin(col_kind, [0, 1]), rng.uniform(-2, 0, m), -INF)
    hi = np.where(col_kind == 2, rng.uniform(0, 2, m), INF)
    hi = np.where(col_kind == 0, lo + rng.uniform(1, 3, m), hi)
    at_upper = (col_kind == 2) | ((col_kind == 0) & (rng.random(m) < 0.5))
    x = np.where(at_upper, hi, lo)
    u = rng.uniform(0.2, 0.8, m)
    lo0, hi0 = np.nan_to_num(lo, neginf=0.0), np.nan_to_num(hi, posinf=0.0)
    inside = np.select(
        [col_kind == 0, col_kind == 1, col_kind == 2],
        [lo0 + u * (hi0 - lo0), lo0 + 4 * u, hi0 - 4 * u],
        rng.normal(size=m),
    )
    x[basic] = inside[basic]
    d = np.where(at_upper, -1, 1) * rng.uniform(0.5, 2, m)
    d[basic] = 0
    act = K @ x
    is_active = np.zeros(k, bool)
    is_active[active] = True
    upper_side = (row_kind == 0) | (np.isin(row_kind, [2, 3]) & (rng.random(k) < 0.5))
    y = np.where(upper_side, -1, 1) * rng.uniform(0.5, 2, k) * is_active
    gap = rng.uniform(0.5, 2, k)
    rl = np.where(is_active & ~upper_side, act, act - gap)
    ru = np.where(is_active & upper_side, act, act + gap)
    rl = np.select([row_kind == 0, row_kind == 3], [-INF, act], rl)
    ru = np.select([row_kind == 1, row_kind == 3], [INF, act], ru)
    rl[(row_kind == 2) & is_active & upper_side] -= gap[(row_kind == 2) & is_active & upper_side]
    ru[(row_kind == 2) & is_active & ~upper_side] += gap[(row_kind == 2) & is_active & ~upper_side]
    c = K.T @ y + d
    lp = LinearProgram(c=c, K=K, row_lower=rl, row_upper=ru, col_lower=lo, col_upper=hi, offset=1.5)
    return lp, x, y, d


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nondegenerate_random_lp_primal_and_dual(seed: int) -> None:
    lp, x, y, d = nondegenerate_lp(seed)
    status, obj, hv, hy, hd = highs(lp)
    assert status == "optimal"
    np.testing.assert_allclose(np.r_[hv, hy, hd], np.r_[x, y, d], atol=1e-8)  # construction holds
    s = solve_pdhg(lp, tol=1e-9)
    assert s.status is LPStatus.OPTIMAL
    assert rel(s.objective, obj) <= 1e-8
    assert violation(lp, s.v) <= 1e-7
    np.testing.assert_allclose(s.v, hv, atol=1e-6)
    np.testing.assert_allclose(s.y, hy, atol=1e-6)
    np.testing.assert_allclose(s.d, hd, atol=1e-6)
    assert s.detail["relative_gap"] <= 1e-9 and s.detail["restarts"] > 0


def random_lp(seed: int, m: int = 300, k: int = 200) -> LinearProgram:
    """A feasible, bounded sparse LP with mixed bounds (no structure chosen for the optimum)."""
    rng = np.random.default_rng(seed)
    K = sp.random(k, m, density=0.04, random_state=rng, data_rvs=rng.standard_normal, format="csr")
    kind = rng.integers(0, 4, k)
    x0 = rng.uniform(-1, 1, m)
    act = K @ x0
    rl = np.where(kind == 0, -INF, act - np.where(kind == 3, 0, rng.uniform(0, 1, k)))
    ru = np.where(kind == 1, INF, act + np.where(kind == 3, 0, rng.uniform(0, 1, k)))
    ck = rng.integers(0, 4, m)
    lo = np.where(ck == 1, -INF, -2.0)
    hi = np.where(ck == 2, INF, 2.0)
    lo[ck == 3], hi[ck == 3] = -INF, INF
    # bounded: c = K'w + (something absorbed by finite bounds) for a dual-feasible w
    w = rng.uniform(0.1, 1, k) * np.select([kind == 0, kind == 1], [-1, 1], rng.choice([-1, 1], k))
    sign = np.where(np.isfinite(lo), 1, -1)
    boxed = np.isfinite(lo) & np.isfinite(hi)
    dual = rng.uniform(0, 1, m) * np.where(boxed, rng.choice([-1, 1], m), sign)
    dual[ck == 3] = 0
    c = K.T @ w + dual
    return LinearProgram(c=c, K=K, row_lower=rl, row_upper=ru, col_lower=lo, col_upper=hi)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_mixed_lp_against_highs(seed: int) -> None:
    lp = random_lp(seed)
    status, obj, *_ = highs(lp)
    assert status == "optimal"
    s = solve_pdhg(lp, tol=1e-8)
    assert s.status is LPStatus.OPTIMAL
    assert rel(s.objective, obj) <= 1e-6
    assert_kkt(lp, s, 1e-6)
    assert s.detail["primal_residual_relative"] <= 1e-8
    assert s.detail["dual_residual_relative"] <= 1e-8


def test_leontief_planning_lp() -> None:
    """max z s.t. (I - A) x - z y >= 0, l'x <= L, x <= cap, with rho(A) = 0.8."""
    rng = np.random.default_rng(7)
    n = 150
    A = sp.random(n, n, density=0.05, random_state=rng, format="csr")
    A = A * (0.8 / abs(sp.linalg.eigs(A, k=1, return_eigenvectors=False)[0]))
    y = rng.uniform(0, 1, n)
    l = rng.uniform(0.5, 1.5, n)
    x_hat = sp.linalg.spsolve(sp.csc_array(sp.identity(n) - A), y)
    cap = np.full(n, INF)
    cap[::10] = 0.9 * x_hat[::10]
    K = sp.block_array(
        [[sp.identity(n) - A, sp.csr_array(-y[:, None])], [sp.csr_array(l[None, :]), None]],
        format="csr",
    )
    lp = LinearProgram(
        c=np.r_[np.zeros(n), -1.0], K=K,
        row_lower=np.r_[np.zeros(n), -INF], row_upper=np.r_[np.full(n, INF), 1.2 * l @ x_hat],
        col_lower=np.zeros(n + 1), col_upper=np.r_[cap, INF],
    )
    status, obj, *_ = highs(lp)
    s = solve_pdhg(lp, tol=1e-8)
    assert status == "optimal" and s.status is LPStatus.OPTIMAL
    assert 0.9 - 1e-9 <= -obj < 1.2  # capacities bind before labour does
    assert rel(s.objective, obj) <= 1e-6
    assert_kkt(lp, s, 1e-6)
    assert np.all(s.y[:n] >= -1e-8)  # prices of products are nonnegative


# ----------------------------------------------------------------------------- harmony


def harmony_reference(lp: LinearProgram) -> tuple[float, np.ndarray]:
    """``min c'v - sum w H(v_H)`` with cvxpy/Clarabel, ``v_H = p - q``, ``p, q >= 0`` and
    ``H`` replaced by ``log(1 + p) - q - q^2/2`` (concave; equal to ``H(p - q)`` when
    ``p q = 0``, below it otherwise, so both problems have the same optimum)."""
    cp = pytest.importorskip("cvxpy")
    k, m = lp.shape
    v = cp.Variable(m)
    hc, w = lp.harmony_columns, lp.harmony_weights
    p, q = cp.Variable(hc.size, nonneg=True), cp.Variable(hc.size, nonneg=True)
    Kv = lp.K @ v
    cons = [v[hc] == p - q]
    for arr, op in ((lp.row_lower, "lo"), (lp.row_upper, "hi")):
        f = np.isfinite(arr)
        if f.any():
            cons.append(Kv[f] >= arr[f] if op == "lo" else Kv[f] <= arr[f])
    for arr, op in ((lp.col_lower, "lo"), (lp.col_upper, "hi")):
        f = np.isfinite(arr)
        if f.any():
            cons.append(v[f] >= arr[f] if op == "lo" else v[f] <= arr[f])
    obj = lp.c @ v - w @ (cp.log(1 + p) - q - cp.square(q) / 2) + lp.offset
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prob.status == "optimal"
    # the split is exact at the optimum: p q = 0 and the objective equals the true one
    assert np.max(np.minimum(p.value, q.value)) <= 1e-6
    assert prob.value == pytest.approx(lp.objective(v.value), abs=1e-7)
    return prob.value, v.value


def harmony_plan(seed: int, n: int = 40) -> LinearProgram:
    """Plan fulfilment ``s`` (harmony, weights w) of targets y: (I - A) x - diag(y) s >= y,
    l'x <= L (80% of what the targets need), x >= 0, s >= -1, a few s capped at 0.3."""
    rng = np.random.default_rng(seed)
    A = sp.random(n, n, density=0.1, random_state=rng, format="csr")
    A = A * (0.7 / max(1e-12, abs(sp.linalg.eigs(A, k=1, return_eigenvectors=False)[0])))
    y = rng.uniform(0.5, 2, n)
    l = rng.uniform(0.5, 1.5, n)
    need = l @ sp.linalg.spsolve(sp.csc_array(sp.identity(n) - A), y)
    K = sp.block_array(
        [[sp.identity(n) - A, -sp.diags_array(y)], [sp.csr_array(l[None, :]), None]], format="csr"
    )
    s_hi = np.full(n, INF)
    s_hi[::7] = 0.3
    return LinearProgram(
        c=np.zeros(2 * n), K=K,
        row_lower=np.r_[y, -INF], row_upper=np.r_[np.full(n, INF), 0.8 * need],
        col_lower=np.r_[np.zeros(n), np.full(n, -1.0)], col_upper=np.r_[np.full(n, INF), s_hi],
        harmony_columns=np.arange(n, 2 * n), harmony_weights=rng.uniform(0.5, 2, n),
    )


def test_harmony_plan_against_clarabel() -> None:
    lp = harmony_plan(3)
    ref, v_ref = harmony_reference(lp)
    s = solve_pdhg(lp, tol=1e-9)
    assert s.status is LPStatus.OPTIMAL
    assert rel(s.objective, ref) <= 1e-6
    assert violation(lp, s.v) <= 1e-7
    n = lp.shape[0] - 1
    np.testing.assert_allclose(s.v[n:], v_ref[n:], atol=1e-4)  # fulfilment levels
    fulfil = s.v[n:]
    assert (fulfil < -1e-3).any() and (fulfil > 1e-3).any()  # both branches of H exercised
    assert_kkt(lp, s, 1e-6)


def test_harmony_box_and_linear_cost() -> None:
    """Harmony columns with both bounds finite, a linear cost on them too, and rows on a mix
    of harmony and linear columns: min sum c s - w H(s) + e'x over B s + x <= b."""
    rng = np.random.default_rng(11)
    m, k = 30, 12
    B = sp.random(k, m, density=0.3, random_state=rng, format="csr")
    B = B - 0.5 * sp.random(k, m, density=0.1, random_state=rng, format="csr")
    K = sp.hstack([B, sp.identity(k)], format="csr")
    lp = LinearProgram(
        c=np.r_[rng.uniform(-0.2, 0.2, m), np.full(k, 0.5)], K=K,
        row_lower=np.full(k, -INF), row_upper=rng.uniform(1, 3, k),
        col_lower=np.r_[rng.uniform(-2, -0.5, m), np.zeros(k)],
        col_upper=np.r_[rng.uniform(0.5, 4, m), np.full(k, INF)],
        harmony_columns=np.arange(m), harmony_weights=rng.uniform(0.5, 2, m), offset=-1.0,
    )
    ref, v_ref = harmony_reference(lp)
    s = solve_pdhg(lp, tol=1e-9)
    assert s.status is LPStatus.OPTIMAL
    assert rel(s.objective, ref) <= 1e-6
    np.testing.assert_allclose(s.v, v_ref, atol=1e-4)
    assert_kkt(lp, s, 1e-6)


def test_harmony_prox_branches() -> None:
    """The closed-form prox solves s - b = t H'(s) on both branches (and near the kink)."""
    from gosplan.optim._pdhg_kernels import _harmony_prox

    for b in (-50.0, -3.0, -1.0, -0.2, 0.0, 0.3, 2.0, 1e3):
        for t in (1e-6, 0.1, 1.0, 10.0, 1e4):
            s = _harmony_prox(b, t)
            hp = 1 - s if s < 0 else 1 / (1 + s)
            assert s - b == pytest.approx(t * hp, rel=1e-12, abs=1e-12 * (1 + abs(b) + t))
    assert harmony(np.array([0.0]))[0] == 0.0


# ----------------------------------------------------------------------------- limits, certificates


def test_iteration_and_time_limit_never_claim_optimal() -> None:
    lp = random_lp(5)
    s = solve_pdhg(lp, max_iter=CHECK_EVERY, tol=1e-12)
    assert s.status is LPStatus.ITERATION_LIMIT and s.iterations == CHECK_EVERY
    assert "not optimal" in s.message and "primal residual" in s.message
    keys = ("primal_residual_relative", "dual_residual_relative", "relative_gap")
    reached = [s.detail[key] for key in keys]
    assert max(reached) > 1e-12
    s = solve_pdhg(lp, time_limit=0.0)
    assert s.status is LPStatus.TIME_LIMIT and s.iterations == 0
    assert np.all(np.isfinite(s.v)) and np.all(np.isfinite(s.y))


def test_primal_infeasible_gives_farkas_multipliers() -> None:
    """x1 + x2 <= 1 and x1 + 2 x2 >= 3 with x in [0, 1]^2 cannot hold together."""
    lp = LinearProgram(
        c=np.array([1.0, 1.0]), K=sp.csr_array(np.array([[1.0, 1.0], [1.0, 2.0]])),
        row_lower=np.array([-INF, 3.0]), row_upper=np.array([1.0, INF]),
        col_lower=np.zeros(2), col_upper=np.ones(2),
    )
    s = solve_pdhg(lp, max_iter=100_000)
    assert s.status is LPStatus.INFEASIBLE
    y = s.farkas
    assert y[0] <= 0 <= y[1]
    # r-'y+ - r+'y- + min over the box of (-K'y)'v > 0 proves infeasibility
    g = -(lp.K.T @ y)
    bound = 3 * y[1] + 1 * y[0] + np.minimum(g * lp.col_lower, g * lp.col_upper).sum()
    assert bound > 1e-6 * np.abs(y).max()


def test_unbounded_gives_primal_ray() -> None:
    """min -x1 - x2 with x1 - x2 <= 1, x >= 0: the ray (1, 1) lowers the cost forever."""
    lp = LinearProgram(
        c=np.array([-1.0, -1.0]), K=sp.csr_array(np.array([[1.0, -1.0]])),
        row_lower=np.array([-INF]), row_upper=np.array([1.0]),
        col_lower=np.zeros(2), col_upper=np.full(2, INF),
    )
    s = solve_pdhg(lp, max_iter=100_000)
    assert s.status is LPStatus.UNBOUNDED
    r = s.ray
    assert lp.c @ r < 0 and np.all(r >= 0) and (lp.K @ r)[0] <= 1e-8 * np.abs(r).max()


def test_warm_start_from_the_optimum() -> None:
    lp, x, y, _ = nondegenerate_lp(4)
    cold = solve_pdhg(lp, tol=1e-8)
    warm = solve_pdhg(lp, tol=1e-8, v0=x, y0=y, threads=1)
    assert cold.status is warm.status is LPStatus.OPTIMAL
    assert warm.iterations == CHECK_EVERY < cold.iterations
    np.testing.assert_allclose(warm.v, x, atol=1e-7)


def test_progress_reports_relative_residuals() -> None:
    seen: list[tuple[int, float, float, float]] = []
    s = solve_pdhg(random_lp(2, m=80, k=50), tol=1e-7, progress=lambda *a: seen.append(a))
    assert s.status is LPStatus.OPTIMAL
    assert [t[0] for t in seen] == list(range(CHECK_EVERY, s.iterations + 1, CHECK_EVERY))
    assert max(seen[-1][1:]) <= 1e-7 < max(seen[0][1:])


# ----------------------------------------------------------------------------- property


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 12),
    k=st.integers(1, 8),
    density=st.floats(0.2, 1.0),
)
def test_random_boxed_lps_match_highs(seed: int, m: int, k: int, density: float) -> None:
    """Boxed columns make every LP bounded; rows are random, so some are infeasible."""
    rng = np.random.default_rng(seed)
    K = sp.random(k, m, density=density, random_state=rng, data_rvs=rng.standard_normal)
    lo = rng.uniform(-3, 0, m)
    hi = lo + rng.uniform(0, 4, m)
    rl = np.where(rng.random(k) < 0.3, -INF, rng.uniform(-2, 1, k))
    ru = np.where(rng.random(k) < 0.3, INF, np.maximum(rl, -2) + rng.uniform(0, 2, k))
    c = rng.standard_normal(m)
    lp = LinearProgram(c=c, K=K, row_lower=rl, row_upper=ru, col_lower=lo, col_upper=hi)
    status, obj, *_ = highs(lp)
    s = solve_pdhg(lp, tol=1e-9, max_iter=50_000)
    if status == "optimal":
        assert s.status is LPStatus.OPTIMAL
        assert abs(s.objective - obj) <= 1e-6 * (1 + abs(obj))
        assert violation(lp, s.v) <= 1e-7
    else:
        assert status == "infeasible"
        assert s.status is not LPStatus.OPTIMAL


@pytest.mark.parametrize("seed", [3, 4])
def test_feasibility_polishing_meets_every_row(seed: int) -> None:
    """A loose PDHG answer, polished: every row holds, and the objective is within the
    slack of PDHG's dual bound (which bounds HiGHS' optimum)."""
    from gosplan.optim.check import verify
    from gosplan.optim.polish import polish_feasibility

    lp = random_lp(seed)
    status, opt, *_ = highs(lp)
    assert status == "optimal"
    loose = solve_pdhg(lp, tol=1e-3)
    before = verify(lp, loose.v, loose.y)
    assert before.max_violation > 1e-7  # there is something to polish
    bound = before.dual_objective
    assert bound <= opt + 1e-6 * (1 + abs(opt))  # a valid lower bound of the minimum
    slack = 1e-2 * (1 + abs(bound))
    found = polish_feasibility(lp, loose.v, bound, slack, time_limit=30)
    assert found.status is LPStatus.OPTIMAL
    assert violation(lp, found.v) <= 1e-7
    assert opt - 1e-7 <= lp.objective(found.v) <= bound + slack + 1e-9
    assert found.y.shape == (lp.shape[0],)


def test_polishing_reports_an_unreachable_bound() -> None:
    """Asking for a better objective than the optimum finds nothing and says so."""
    from gosplan.optim.polish import polish_feasibility

    lp = random_lp(5)
    status, opt, *_ = highs(lp)
    found = polish_feasibility(lp, np.zeros(lp.shape[1]), opt - 1.0, 0.0, time_limit=5)
    assert found.status is not LPStatus.OPTIMAL


def test_a_caller_criterion_stops_the_solve() -> None:
    """``accept`` sees every checked iterate in original units, within its bounds; ``True`` stops
    the solve there as optimal (the criterion is the caller's, not ``tol``)."""
    lp = random_lp(3)
    seen: list[np.ndarray] = []

    def accept(v: np.ndarray) -> bool:
        assert v.shape == (lp.shape[1],)
        assert (v >= lp.col_lower).all() and (v <= lp.col_upper).all()
        seen.append(v.copy())
        return len(seen) == 3

    s = solve_pdhg(lp, tol=1e-14, accept=accept)
    assert s.status is LPStatus.OPTIMAL
    assert s.iterations == 3 * CHECK_EVERY
    assert "caller" in s.message
    np.testing.assert_array_equal(s.v, seen[-1])


@pytest.mark.parametrize("seed", [3, 4])
def test_polishing_stops_once_every_row_passes(seed: int) -> None:
    """With ``row_tol`` the polish stops as soon as gosplan's per-row check passes within it (and
    the objective within its cap): never later than on the norms, and the point is as good."""
    from gosplan.optim.check import max_violation, verify
    from gosplan.optim.polish import polish_feasibility

    lp = random_lp(seed)
    status, opt, *_ = highs(lp)
    loose = solve_pdhg(lp, tol=1e-3)
    bound = verify(lp, loose.v, loose.y).dual_objective
    slack = 1e-2 * (1 + abs(bound))
    on_norms = polish_feasibility(lp, loose.v, bound, slack, time_limit=30)
    on_rows = polish_feasibility(lp, loose.v, bound, slack, time_limit=30, row_tol=1e-7)
    assert on_rows.status is LPStatus.OPTIMAL
    assert on_rows.iterations <= on_norms.iterations
    assert max_violation(lp, on_rows.v) <= 1e-7
    assert violation(lp, on_rows.v) <= 1e-7  # the test's own measure
    assert opt - 1e-7 <= lp.objective(on_rows.v) <= bound + slack + 1e-9

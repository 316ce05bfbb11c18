"""The diagonal QP's polish (gosplan.optim.qp): an interior point stopped by its iteration limit
is accepted only when the polish turns it into a KKT point; checked against a hand-solved
program (a separable quadratic with one budget row, solved by bisection on its multiplier)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import gosplan.optim.qp as qp_mod
from gosplan.optim.lp import LinearProgram, LPStatus
from gosplan.optim.qp import solve_diagonal_qp


def instance(seed: int):
    rng = np.random.default_rng(seed)
    m = 12
    q = rng.uniform(0.5, 2.0, m)
    c = rng.uniform(-3.0, 0.5, m)
    b = 0.4 * m * 0.5
    lp = LinearProgram(c=c, K=sp.csr_array(np.ones((1, m))), row_lower=np.array([-np.inf]), row_upper=np.array([b]),
                       col_lower=np.zeros(m), col_upper=np.ones(m))
    return lp, q, c, b


def by_hand(q, c, b):
    """v(lam) = clip((-c - lam) / q, 0, 1); lam >= 0 the budget's multiplier, by bisection."""
    v = lambda lam: np.clip((-c - lam) / q, 0.0, 1.0)  # noqa: E731
    if v(0.0).sum() <= b:
        return v(0.0)
    lo, hi = 0.0, 100.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if v(mid).sum() > b else (lo, mid)
    return v(hi)


@pytest.mark.parametrize("factorisation", ["dense", "sparse"])
@pytest.mark.parametrize("seed", range(4))
def test_stopped_interior_point_is_polished_to_the_optimum(monkeypatch, seed, factorisation):
    lp, q, c, b = instance(seed)
    original = qp_mod._clarabel
    # this small system is dense: LAPACK by default, SuperLU where the dense order is 0
    monkeypatch.setattr(qp_mod, "DENSE_KKT", qp_mod.DENSE_KKT if factorisation == "dense" else 0)

    def stopped(*args, **kwargs):
        v, y, d, status, text, iters = original(*args, **kwargs)
        return v * (1 + 1e-6), y, d, LPStatus.ITERATION_LIMIT, "MaxIterations", iters

    monkeypatch.setattr(qp_mod, "_clarabel", stopped)
    sol = solve_diagonal_qp(lp, q)
    assert sol.status is LPStatus.OPTIMAL and "polished" in sol.message
    np.testing.assert_allclose(sol.v, by_hand(q, c, b), atol=1e-10)


def test_a_stopped_point_far_from_the_optimum_stays_stopped(monkeypatch):
    lp, q, c, b = instance(0)

    def garbage(lp_, q_, tol, time_limit):
        k, m = lp_.K.shape
        return np.full(m, 0.9), np.zeros(k), np.zeros(m), LPStatus.ITERATION_LIMIT, "MaxIterations", 500

    monkeypatch.setattr(qp_mod, "_clarabel", garbage)
    sol = solve_diagonal_qp(lp, q)
    assert sol.status is LPStatus.ITERATION_LIMIT


def test_dense_and_sparse_factorisations_solve_the_same_system():
    """The KKT solve of the polish, LAPACK and SuperLU, on a regularised quasi-definite system
    of a random dense program, against numpy's dense solve."""
    rng = np.random.default_rng(5)
    m, k = 60, 25
    A = sp.csr_array(rng.uniform(0.0, 1.0, (k, m)) * (rng.random((k, m)) < 0.3))
    q = rng.uniform(0.0, 2.0, m) * (rng.random(m) < 0.5)
    kkt = sp.bmat([[sp.diags_array(q + 1e-8), -A.T], [A, sp.diags_array(np.full(k, -1e-8))]], format="csc")
    rhs = rng.normal(size=m + k)
    want = np.linalg.solve(kkt.toarray(), rhs)
    dense = qp_mod._factor(kkt)(rhs)
    old = qp_mod.DENSE_KKT
    try:
        qp_mod.DENSE_KKT = 0
        sparse = qp_mod._factor(kkt)(rhs)
    finally:
        qp_mod.DENSE_KKT = old
    scale = np.abs(want).max()
    np.testing.assert_allclose(dense, want, atol=1e-8 * scale)
    np.testing.assert_allclose(sparse, want, atol=1e-8 * scale)

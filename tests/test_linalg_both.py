"""Gross output and values iterated together (``kernels.bicgstab_both``, ``linalg.both.solve_both``):
against dense numpy solves, against the two BiCGSTABs run alone (same iterations, same
answers), the one-pass residual check against scipy, and the refusals of the single solves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import gosplan
from gosplan import NotProductiveError
from gosplan.errors import InvalidEconomyError
from gosplan.linalg import kernels as K
from gosplan.linalg import leontief
from gosplan.linalg.both import _residuals_both, solve_both
from gosplan.linalg.leontief import _diagonal_inverse, prepare, solve
from gosplan.synth import generate

from test_linalg_scatter import _productive


def _parts(ptr: np.ndarray, parts: int) -> np.ndarray:
    cuts = np.searchsorted(ptr, np.linspace(0, ptr[-1], parts + 1)).astype(np.int64)
    cuts[0], cuts[-1] = 0, ptr.shape[0] - 1
    return cuts


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 300),
    density=st.floats(0.005, 0.3),
    rho=st.floats(0.1, 0.95),
    parts=st.integers(1, 4),
    seed=st.integers(0, 2**31),
    maxiter=st.sampled_from([2, 500]),
)
def test_lockstep_matches_dense_solves_and_the_single_kernel(
    n: int, density: float, rho: float, parts: int, seed: int, maxiter: int
) -> None:
    """Row 0 solves ``(I - A) x = b``, row 1 ``(I - A)^T v = c``: each as numpy does, and with the
    iteration count, verdict and answer of :func:`kernels.bicgstab` run alone on it."""
    A = _productive(n, density, rho, seed)
    ptr, ind, dat = A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data
    rng = np.random.default_rng(seed + 1)
    B = np.stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n) * (rng.random(n) < 0.7)])
    dinv = _diagonal_inverse(ptr, ind, dat)
    cuts = _parts(ptr, parts)
    goal = 1e-12 * np.maximum(np.linalg.norm(B, axis=1), 1e-300)
    X = B * dinv
    its, ok, res = K.bicgstab_both(ptr, ind, dat, cuts, np.zeros((parts, n, 2)), dinv, B, X, goal, maxiter)
    M = np.eye(n) - A.toarray()
    for q, transposed in ((0, False), (1, True)):
        x1 = B[q] * dinv
        its1, ok1, res1 = K.bicgstab(ptr, ind, dat, cuts, np.zeros((parts, n)), dinv, B[q], x1, goal[q], maxiter,
                                     transposed)
        assert its[q] == its1 and ok[q] == ok1
        np.testing.assert_allclose(X[q], x1, rtol=1e-10, atol=1e-13 * max(np.abs(x1).max(), 1e-300))
        if maxiter == 500:
            ref = np.linalg.solve(M.T if transposed else M, B[q])
            assert ok[q] and res[q] <= goal[q]
            np.testing.assert_allclose(X[q], ref, rtol=1e-9, atol=1e-12 * max(np.abs(ref).max(), 1e-300))


def _economy(n: int, seed: int) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """A table with trimmed levels and a cyclic block whose rows hold enough coefficients to scatter."""
    A = _productive(n, 0.004, 0.8, seed)
    rng = np.random.default_rng(seed + 1)
    return A, rng.uniform(0, 1, n), rng.uniform(0.1, 1, n)


@pytest.mark.parametrize("check", [True, False])
def test_solve_both_matches_dense_solves_and_two_single_solves(check: bool) -> None:
    n = 3000
    A, y, l = _economy(n, 7)
    system = prepare(A)
    x, ix, v, iv = solve_both(system, y, l, tol=1e-12, check=check)
    assert ix.detail["iterated_together"] == 1.0 and iv.detail["iterated_together"] == 1.0
    assert ix.method == iv.method == "trim-bicgstab" and ix.converged and iv.converged
    assert 0 < ix.largest_component < n  # trimmed levels and a block R: both parts exercised
    M = np.eye(n) - A.toarray()
    np.testing.assert_allclose(x, np.linalg.solve(M, y), rtol=1e-9)
    np.testing.assert_allclose(v, np.linalg.solve(M.T, l), rtol=1e-9)
    single = prepare(A)
    x1, i1 = solve(single, y, tol=1e-12)
    v1, j1 = solve(single, l, transpose=True, tol=1e-12)
    assert (ix.iterations, iv.iterations) == (i1.iterations, j1.iterations)
    if check:
        assert ix.relative_residual <= 1e-12 and iv.relative_residual <= 1e-12
        assert ix.relative_residual == pytest.approx(np.linalg.norm(y - M @ x) / np.linalg.norm(y), rel=1e-6,
                                                     abs=1e-16)
    else:
        assert np.isnan(ix.relative_residual) and np.isnan(iv.relative_residual)
    assert "RT" not in system._blocks and "RT" not in single._blocks  # neither built R^T


def test_the_one_pass_check_matches_scipy() -> None:
    """Beyond ``PARALLEL_CHECK_MIN`` both residuals come from one compiled pass over ``A``."""
    n = leontief.PARALLEL_CHECK_MIN + 1000
    eco = generate(n, 6, seed=2)
    A = sp.csr_array(eco.A)
    rng = np.random.default_rng(3)
    x, v = rng.random(n), rng.random(n)
    y, l = rng.random(n), np.zeros(n)
    rx, rv = _residuals_both(prepare(A), x, y, v, l)
    M = sp.identity(n, format="csr") - A
    assert rx == pytest.approx(np.linalg.norm(y - M @ x) / np.linalg.norm(y), rel=1e-10)
    assert rv == pytest.approx(np.linalg.norm(l - M.T @ v), rel=1e-10)  # l = 0: absolute


def test_falls_back_to_single_solves_where_lockstep_does_not_apply() -> None:
    n = 400
    A, y, l = _economy(n, 8)
    M = np.eye(n) - A.toarray()
    for method in ("auto", "dense", "trim-gs", "bicgstab"):  # auto: n <= DENSE_MAX, dense
        x, ix, v, iv = solve_both(prepare(A), y, l, method=method, tol=1e-11)
        assert "iterated_together" not in ix.detail
        np.testing.assert_allclose(x, np.linalg.solve(M, y), rtol=1e-8)
        np.testing.assert_allclose(v, np.linalg.solve(M.T, l), rtol=1e-8)
    system = prepare(A)
    solve(system, l, transpose=True)  # a pattern whose values were solved: as _solve_trimmed, keep R^T's way
    x, ix, v, iv = solve_both(system, y, l, method="trim-bicgstab", tol=1e-11)
    assert "iterated_together" not in ix.detail
    np.testing.assert_allclose(v, np.linalg.solve(M.T, l), rtol=1e-8)


def test_an_unproductive_cycle_is_refused_by_name() -> None:
    """The ring of ``test_linalg_scatter``'s refusal, with a final product: both iterations
    converge to negative answers, the certificate fails, and the error names the ring."""
    n = 200
    rng = np.random.default_rng(1)
    A = sp.lil_array((n + 1, n + 1))
    for i in range(n):
        A[i, (i + 1) % n] = 1.05
        A[i, rng.choice(n, size=6, replace=False)] = 1e-3
    A[:, n] = rng.random(n + 1) * 0.01
    system = prepare(sp.csr_array(A), labels=[f"p{i}" for i in range(n)] + ["final"])
    with pytest.raises(NotProductiveError) as err:
        solve_both(system, np.ones(n + 1), np.ones(n + 1), method="trim-bicgstab")
    assert len(err.value.products) == n and "final" not in err.value.products


@pytest.mark.parametrize("bad, what", [
    (lambda n: np.ones(n + 1), "rows"),
    (lambda n: np.ones((n, 2)), "one column"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
])
def test_bad_right_hand_sides_are_named(bad, what: str) -> None:
    A, y, l = _economy(50, 9)
    with pytest.raises(InvalidEconomyError, match=what):
        solve_both(prepare(A), bad(50), l)
    with pytest.raises(InvalidEconomyError, match="values"):
        solve_both(prepare(A), y, bad(50))


def test_balance_of_labour_values_alone_iterates_together() -> None:
    """``balance(multipliers=False)`` solves x and one column of values: together, with the
    answers of numpy's dense solves on the same table."""
    eco = generate(4000, 8, seed=11)
    res = gosplan.balance(eco, multipliers=False, tol=1e-12)
    assert [s.detail.get("iterated_together") for s in res.solves] == [1.0, 1.0]
    M = np.eye(eco.n_products) - eco.A.toarray()
    np.testing.assert_allclose(res.gross_output, np.linalg.solve(M, res.final_demand), rtol=1e-9)
    labour = eco.primary_coefficients[eco.resources.get_loc(eco.labour)]
    np.testing.assert_allclose(res.labour_values, np.linalg.solve(M.T, labour), rtol=1e-9)
    assert res.status == gosplan.Status.SOLVED

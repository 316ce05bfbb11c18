"""The values system ``(I - A)^T v = l`` solved without a transpose of ``A``: BiCGSTAB whose
products ``A^T z`` are scattered along the rows (``kernels.bicgstab`` with ``transposed``), against a
dense numpy solve; the certificate of productivity on that path; and what it builds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gosplan import NotProductiveError
from gosplan.linalg import kernels as K
from gosplan.linalg import leontief
from gosplan.linalg.leontief import _diagonal_inverse, prepare, solve


def _productive(n: int, density: float, rho: float, seed: int) -> sp.csr_array:
    """Random ``A >= 0`` with column sums ``rho`` (so ``rho(A) <= rho``), some empty rows,
    diagonal entries included."""
    rng = np.random.default_rng(seed)
    A = sp.random_array((n, n), density=density, random_state=rng, format="csr")
    A = sp.lil_array(A)
    A[rng.choice(n, size=n // 7, replace=False), :] = 0  # products used by no one
    A = sp.csr_array(A)
    colsum = np.asarray(A.sum(axis=0)).ravel()
    A = sp.csr_array(A * (rho / np.maximum(colsum, 1e-12))[None, :])
    A.sort_indices()
    return A


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 300),
    density=st.floats(0.005, 0.3),
    rho=st.floats(0.1, 0.95),
    parts=st.integers(0, 4),
    seed=st.integers(0, 2**31),
    transposed=st.booleans(),
)
def test_bicgstab_gathered_and_scattered_matches_a_dense_solve(
    n: int, density: float, rho: float, parts: int, seed: int, transposed: bool
) -> None:
    """``(I - A) x = b`` gathered along the rows, ``(I - A)^T x = b`` scattered along them."""
    A = _productive(n, density, rho, seed)
    ptr, ind, dat = A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data
    b = np.random.default_rng(seed + 1).uniform(0, 1, n)
    dinv = _diagonal_inverse(ptr, ind, dat)
    cuts = np.searchsorted(ptr, np.linspace(0, ptr[-1], parts + 1)).astype(np.int64)
    cuts[0], cuts[-1] = 0, n
    if parts == 0 and not transposed:  # the gather without parts: numba splits the rows
        cuts = np.zeros(1, dtype=np.int64)
    acc = np.zeros((max(parts, 1), n))
    if parts == 0 and transposed:
        cuts = np.array([0, n], dtype=np.int64)
    x = b * dinv
    goal = 1e-12 * np.linalg.norm(b)
    its, ok, res = K.bicgstab(ptr, ind, dat, cuts, acc, dinv, b, x, goal, 500, transposed)
    M = np.eye(n) - A.toarray()
    ref = np.linalg.solve(M.T if transposed else M, b)
    assert ok and res <= goal
    np.testing.assert_allclose(x, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["trim-bicgstab", "bicgstab", "auto"])
def test_values_of_one_column_build_no_transpose(method: str) -> None:
    n = 2000
    A = _productive(n, 0.004, 0.8, 3)
    l = np.random.default_rng(4).uniform(0.1, 1, n)
    system = prepare(A)
    x, _ = solve(system, np.ones(n), method=method, tol=1e-12)
    v, info = solve(system, l, transpose=True, method=method, tol=1e-12)
    assert info.converged
    np.testing.assert_allclose(v, np.linalg.solve((np.eye(n) - A.toarray()).T, l), rtol=1e-9)
    assert leontief._scatter_pays(system.A.indptr)
    assert "RT" not in system._blocks
    assert "transpose" not in system.timings  # the whole-system path did not transpose A either


def test_values_alone_of_an_unproductive_cycle_are_refused() -> None:
    """A 200-product ring with spectral radius 1.05: the scattered solve converges to negative
    values, the certificate fails, and the refusal names the ring."""
    n = 200
    rng = np.random.default_rng(1)
    A = sp.lil_array((n + 1, n + 1))
    for i in range(n):
        A[i, (i + 1) % n] = 1.05
        A[i, rng.choice(n, size=6, replace=False)] = 1e-3  # enough coefficients a row to scatter
    A[:, n] = rng.random(n + 1) * 0.01
    system = prepare(sp.csr_array(A), labels=[f"p{i}" for i in range(n)] + ["final"])
    assert leontief._scatter_pays(system.A.indptr)
    for method in ("trim-bicgstab", "bicgstab"):
        with pytest.raises(NotProductiveError) as err:
            solve(system, np.ones(n + 1), transpose=True, method=method)
        assert len(err.value.products) == n and "final" not in err.value.products


def test_a_pattern_solved_again_builds_the_transpose_once() -> None:
    """A plan's rounds solve the values of one pattern again and again (refilled): the first
    solve scatters, later ones build R^T once, which refill then carries and patches."""
    n = 2000
    A = _productive(n, 0.004, 0.8, 5)
    rng = np.random.default_rng(6)
    system = prepare(A)
    solve(system, np.ones(n), method="trim-bicgstab")
    for round_ in range(3):
        l = rng.uniform(0.1, 1, n)
        v, info = solve(system, l, transpose=True, method="trim-bicgstab", tol=1e-12)
        dense = np.eye(n) - system.A.toarray()
        np.testing.assert_allclose(v, np.linalg.solve(dense.T, l), rtol=1e-9)
        assert ("RT" in system._blocks) == (round_ > 0)
        system = system.refill(system.A.data * rng.uniform(0.9, 1.1, system.A.nnz))

"""The cyclic block iterated in place on the rows of ``A`` and the block BiCGSTAB for
several right-hand sides, against dense numpy solves of ``I - A``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosplan import NotProductiveError
from gosplan.linalg import inplace
from gosplan.linalg.block import RowsOperator, bicgstab_block
from gosplan.linalg.leontief import prepare, relative_residuals, solve
from gosplan.synth import generate


def synthetic(n: int, k: float, seed: int) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """A synthetic economy (tiers, universal inputs, loops) and ``[P; 1]^T`` as the
    right-hand sides of the values system (labour, two more resources, output)."""
    eco = generate(n, k, seed=seed)
    P = eco.primary_coefficients
    B = np.column_stack([*(P[q] for q in range(P.shape[0])), np.ones(n)])
    return sp.csr_array(eco.A), eco.y, B


def dense(A: sp.csr_array) -> np.ndarray:
    return np.eye(A.shape[0]) - A.toarray()


@pytest.mark.parametrize("k", [4.0, 30.0])
def test_inplace_and_copy_agree_with_dense(k: float) -> None:
    """K = 30: the cyclic block is nearly all of A; K = 4: many trimmed levels, whose
    solved outputs enter the in-place residual."""
    A, y, B = synthetic(400, k, seed=7)
    M = dense(A)
    xr, Vr = np.linalg.solve(M, y), np.linalg.solve(M.T, B)
    for share in (0.0, 2.0):  # forced in place, forced copy
        system = prepare(A)
        x, ix = solve(system, y, method="trim-bicgstab", tol=1e-12, inplace_share=share)
        V, iv = solve(system, B, transpose=True, method="trim-bicgstab", tol=1e-12, inplace_share=share)
        assert bool(ix.detail.get("x_inplace")) == (share == 0.0)
        assert ix.converged and iv.converged and iv.detail["right_hand_sides"] == 4
        np.testing.assert_allclose(x, xr, rtol=1e-9)
        np.testing.assert_allclose(V, Vr, rtol=1e-9)
    level, nlevels, _, _ = system.levels()
    if k == 4.0:
        assert nlevels >= 2 and (level > 0).sum() > 50  # trimmed products did enter
    # the values of R alone, in place too: (I - A_RR)^T scattered along the rows of A
    rows = np.flatnonzero(level == 0)
    Z = np.zeros_like(B)
    its, ok = inplace.solve_rows_inplace(
        system.A.indptr, system.A.indices, system.A.data, rows, Z, np.ascontiguousarray(B), transpose=True,
        tol=1e-12, bnorm=np.linalg.norm(B, axis=0), maxiter=500, verify=True,
    )
    MRR = M[np.ix_(rows, rows)]
    assert ok and its > 0
    np.testing.assert_allclose(Z[rows], np.linalg.solve(MRR.T, B[rows]), rtol=1e-9)
    assert not Z[level > 0].any()


def test_several_right_hand_sides_equal_separate_solves() -> None:
    A, y, B = synthetic(600, 12.0, seed=3)
    B = np.column_stack([B, np.zeros(600), 1e6 * B[:, 0]])  # a zero column and a large one
    system = prepare(A)
    for transpose in (False, True):
        for share in (0.0, 2.0):
            Z, info = solve(system, B, transpose=transpose, method="trim-bicgstab", tol=1e-11, inplace_share=share)
            assert info.converged
            for q in range(B.shape[1]):
                z, _ = solve(prepare(A), B[:, q], transpose=transpose, method="trim-bicgstab", tol=1e-11,
                             inplace_share=share)
                np.testing.assert_allclose(Z[:, q], z, rtol=1e-8, atol=1e-12 * max(1.0, np.abs(z).max()))
    # more columns than one block holds: taken in groups
    wide = np.ascontiguousarray(np.tile(B[:, :3], (1, 4)))
    Z, info = solve(prepare(A), wide, transpose=True, method="bicgstab", tol=1e-11)
    np.testing.assert_allclose(Z, np.linalg.solve(dense(A).T, wide), rtol=1e-8)


def test_block_operator_scatter_equals_transpose() -> None:
    """``(I - M)^T P`` scattered along the rows of ``M`` equals the product with the
    transpose, on a subset of rows closed under "is an input of"; and the block
    BiCGSTAB on it solves the block."""
    rng = np.random.default_rng(2)
    n = 300
    A = sp.random_array((n, n), density=0.05, rng=rng, format="csr") * 0.1
    rows = np.arange(n, dtype=np.int64)
    P = np.ascontiguousarray(rng.random((n, 3)))
    for transpose in (False, True):
        op = RowsOperator(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data, rows, n,
                          transpose=transpose)
        V = np.empty_like(P)
        d = op.apply(P, V, P, P)
        ref = P - (A.T @ P if transpose else A @ P)
        np.testing.assert_allclose(V, ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d[0], np.einsum("ij,ij->j", P, ref), rtol=1e-10)
        np.testing.assert_allclose(d[2], np.einsum("ij,ij->j", ref, ref), rtol=1e-10)
        X = np.zeros_like(P)
        its, done, res = bicgstab_block(op, P, X, np.full(3, 1e-12), 500)
        assert done.all() and its > 0
        M = np.eye(n) - A.toarray()
        np.testing.assert_allclose(X, np.linalg.solve(M.T if transpose else M, P), rtol=1e-9)


def test_transposed_residual_kernel_for_large_n() -> None:
    """Beyond 50,000 products the values residual is scattered in parallel."""
    n = 60_000
    rng = np.random.default_rng(4)
    A = sp.random_array((n, n), density=3 / n, rng=rng, format="csr") * 0.2
    system = prepare(A)
    Z = rng.random((n, 2))
    B = rng.random((n, 2))
    got = relative_residuals(system, Z, B, transpose=True)
    R = B - (Z - A.T @ Z)
    np.testing.assert_allclose(got, np.linalg.norm(R, axis=0) / np.linalg.norm(B, axis=0), rtol=1e-12)


def test_unproductive_block_in_place_is_named() -> None:
    """A loop with spectral radius > 1 inside a cyclic block that is most of A: the
    in-place BiCGSTAB may converge to a negative solution; certification catches it."""
    n = 60
    A = np.zeros((n, n))
    for i in range(n):
        A[(i + 1) % n, i] = 1.05  # one loop of n products, rho = 1.05
    y = np.ones(n)
    system = prepare(sp.csr_array(A))
    with pytest.raises(NotProductiveError):
        solve(system, y, method="trim-bicgstab", inplace_share=0.0)
    with pytest.raises(NotProductiveError):
        solve(prepare(sp.csr_array(A)), y, transpose=True, method="trim-bicgstab", inplace_share=0.0)


def test_inplace_failure_falls_back_to_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def broken(op, B, Z, goal, maxiter):  # a block BiCGSTAB that always breaks down
        calls.append(B.shape[1])
        return 1, False

    monkeypatch.setattr(inplace, "solve_columns", broken)
    A, y, B = synthetic(300, 20.0, seed=5)
    system = prepare(A)
    x, info = solve(system, y, method="trim-bicgstab", inplace_share=0.0)
    V, iv = solve(system, B, transpose=True, method="trim-bicgstab", inplace_share=0.0)
    M = dense(A)
    np.testing.assert_allclose(x, np.linalg.solve(M, y), rtol=1e-9)
    np.testing.assert_allclose(V, np.linalg.solve(M.T, B), rtol=1e-9)
    assert info.converged and iv.converged
    assert calls == [1]  # x tried in place; the values then use the copy x extracted


@st.composite
def cyclic_economies(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random productive economies: a dense-ish cyclic core and products feeding it or
    fed by it only (trimmed levels), several right-hand sides."""
    n = draw(st.integers(2, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.floats(0.05, 0.6))
    rho = draw(st.floats(0.05, 0.97))
    k = draw(st.integers(1, 5))
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < density)
    final = rng.random(n) < 0.3  # final goods: used by no one
    A[final, :] = 0.0
    colsum = A.sum(axis=0)
    A = A * (rho / np.where(colsum > 0, colsum, 1.0)) * rng.uniform(0.5, 1.0, n)
    Y = rng.random((n, k)) * (rng.random((n, k)) < 0.7)
    L = rng.random((n, k))
    return A, Y, L


@settings(derandomize=True, max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cyclic_economies(), st.sampled_from([0.0, 2.0]))
def test_in_place_agrees_with_dense_numpy(economy: tuple[np.ndarray, np.ndarray, np.ndarray], share: float) -> None:
    A, Y, L = economy
    M = np.eye(len(A)) - A
    system = prepare(sp.csr_array(A))
    X, ix = solve(system, Y, method="trim-bicgstab", tol=1e-12, inplace_share=share)
    V, iv = solve(system, L, transpose=True, method="trim-bicgstab", tol=1e-12, inplace_share=share)
    Xr, Vr = np.linalg.solve(M, Y), np.linalg.solve(M.T, L)
    np.testing.assert_allclose(X, Xr, rtol=1e-9, atol=1e-9 * max(np.abs(Xr).max(), 1e-300))
    np.testing.assert_allclose(V, Vr, rtol=1e-9)
    assert ix.converged and iv.converged

"""A Leontief system refilled with new coefficients on its pattern, and solves started
from a given point: both must give what a fresh system solved from zero gives, which a
dense numpy solve checks independently."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gosplan import InvalidEconomyError
from gosplan.linalg import leontief
from gosplan.linalg.leontief import prepare, solve

TRIMMED = ("trim-bicgstab", "trim-gs", "bicgstab", "scc-bicgstab", "auto")


def _pattern(n: int, seed: int, density: float = 0.02, fringe: bool = True) -> sp.csr_array:
    """A random pattern with a cycle through most products and (``fringe``) 20 products
    no product uses, which trimming peels off."""
    rng = np.random.default_rng(seed)
    P = sp.random_array((n, n), density=density, random_state=rng, format="csr")
    ring = sp.csr_array((np.ones(n - 20), (np.arange(n - 20), (np.arange(n - 20) + 1) % (n - 20))), shape=(n, n))
    M = sp.lil_array(P + ring)
    if fringe:
        M[n - 20 :, :] = 0  # the last 20 products are no one's input: trimmed, not in R
    M = sp.csr_array(M)
    M.eliminate_zeros()
    return M


def _values(pattern: sp.csr_array, seed: int, zero_share: float = 0.0) -> np.ndarray:
    """Coefficients on ``pattern`` with column sums <= 0.7 (productive), some explicit zeros."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.1, 1.0, size=pattern.nnz) * (rng.random(pattern.nnz) >= zero_share)
    M = sp.csr_array((data, pattern.indices, pattern.indptr), shape=pattern.shape)
    colsum = np.asarray(M.sum(axis=0)).ravel()
    scale = 0.7 / np.maximum(colsum, 0.7)
    return data * scale[pattern.indices]


def _dense(pattern: sp.csr_array, data: np.ndarray) -> np.ndarray:
    return sp.csr_array((data, pattern.indices, pattern.indptr), shape=pattern.shape).toarray()


@pytest.mark.parametrize("method", TRIMMED)
def test_refill_solves_like_a_fresh_system(method: str) -> None:
    n = 600
    pattern = _pattern(n, 1)
    first, second = _values(pattern, 2), _values(pattern, 3, zero_share=0.3)
    rng = np.random.default_rng(4)
    y = rng.uniform(0, 1, size=(n, 2))
    l = rng.uniform(0.1, 1, size=n)
    system = prepare(sp.csr_array((first, pattern.indices, pattern.indptr), shape=(n, n)))
    solve(system, y, method=method, tol=1e-12)  # builds the levels and the block copies
    solve(system, l, transpose=True, method=method, tol=1e-12)
    refilled = system.refill(second)
    x, ix = solve(refilled, y, method=method, tol=1e-12)
    v, iv = solve(refilled, l, transpose=True, method=method, tol=1e-12)
    M = np.eye(n) - _dense(pattern, second)
    assert ix.converged and iv.converged
    np.testing.assert_allclose(x, np.linalg.solve(M, y), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v, np.linalg.solve(M.T, l), rtol=1e-9, atol=1e-12)
    # and once more: the layout found on the first refill serves the next one
    again = refilled.refill(first)
    v1, _ = solve(again, l, transpose=True, method=method, tol=1e-12)
    np.testing.assert_allclose(v1, np.linalg.solve((np.eye(n) - _dense(pattern, first)).T, l), rtol=1e-9)


def test_refill_keeps_the_pattern_work_and_regathers_the_blocks() -> None:
    n = 600
    pattern = _pattern(n, 5)
    first, second = _values(pattern, 6), _values(pattern, 7, zero_share=0.5)
    system = prepare(sp.csr_array((first, pattern.indices, pattern.indptr), shape=(n, n)))
    solve(system, np.ones(n), method="trim-bicgstab")
    solve(system, np.ones(n), transpose=True, method="trim-bicgstab")
    assert "R" in system._blocks and "RT" not in system._blocks  # one column: R^T z scattered along R
    solve(system, np.ones((n, 2)), transpose=True, method="trim-bicgstab")  # two: the block solver's R^T
    assert "RT" in system._blocks
    refilled = system.refill(second)
    assert refilled._levels is system._levels  # structure only: not recomputed
    fresh = prepare(sp.csr_array((second, pattern.indices, pattern.indptr), shape=(n, n)))
    rows = fresh.levels()[3][fresh.levels()[2][0] : fresh.levels()[2][1]]
    for key, transpose in (("R", False), ("RT", True)):
        want = leontief._trimmed_block(fresh, rows, transpose)
        got = refilled._blocks[key]
        block = [sp.csr_array((d, i, p), shape=(len(rows), len(rows))).toarray() for p, i, d in (want, got)]
        np.testing.assert_array_equal(block[1], block[0])


@pytest.mark.parametrize("in_place", [False, True], ids=["copied", "in place"])
@pytest.mark.parametrize("fringe", [True, False], ids=["R inside A", "R is A"])
def test_refill_patching_the_changed_entries_equals_a_fresh_extraction(fringe: bool, in_place: bool) -> None:
    n = 800
    pattern = _pattern(n, 13, fringe=fringe)
    data = _values(pattern, 14)
    system = prepare(sp.csr_array((data, pattern.indices, pattern.indptr), shape=(n, n)))
    solve(system, np.ones(n), method="trim-bicgstab")
    solve(system, np.ones((n, 2)), transpose=True, method="trim-bicgstab")  # builds R^T too
    system = system.refill(data.copy())  # blocks now laid out by stored positions
    rng = np.random.default_rng(15)
    for _ in range(3):
        changed = rng.choice(pattern.nnz, size=pattern.nnz // 20, replace=False)
        new = system.A.data.copy()
        new[changed] = rng.uniform(0, 0.05, size=changed.size) * (rng.random(changed.size) < 0.7)
        before = {key: system._blocks[key][2] for key in ("R", "RT")}
        kept = {key: block.copy() for key, block in before.items()}
        patched = system.refill(new, changed=changed, in_place=in_place)
        for key in ("R", "RT"):
            if before[key] is system.A.data:  # R is A itself: nothing copied either way
                continue
            # in place: the old system's copies were patched and handed on; else left as they were
            assert (patched._blocks[key][2] is before[key]) == in_place
            if not in_place:
                np.testing.assert_array_equal(system._blocks[key][2], kept[key])
        fresh = prepare(sp.csr_array((new, pattern.indices, pattern.indptr), shape=(n, n)))
        level, _, ptr, members = fresh.levels()
        rows = members[ptr[0] : ptr[1]]
        for key, transpose in (("R", False), ("RT", True)):
            p_, i_, d_ = leontief._trimmed_block(fresh, rows, transpose)
            P, I, D = patched._blocks[key]
            want = sp.csr_array((d_, i_, p_), shape=(len(rows), len(rows))).toarray()
            np.testing.assert_array_equal(sp.csr_array((D, I, P), shape=want.shape).toarray(), want)
        l = rng.uniform(0.1, 1.0, size=n)
        v, _ = solve(patched, l, transpose=True, method="trim-bicgstab", tol=1e-12)
        M = np.eye(n) - _dense(pattern, new)
        np.testing.assert_allclose(v, np.linalg.solve(M.T, l), rtol=1e-9)
        system = patched


def test_refill_refuses_coefficients_of_another_pattern() -> None:
    system = prepare(_pattern(100, 8) * 0.01)
    with pytest.raises(InvalidEconomyError, match="coefficients"):
        system.refill(np.zeros(system.A.nnz + 1))


@pytest.mark.parametrize("method", ("trim-bicgstab", "bicgstab"))
def test_start_at_the_solution_needs_no_iterations_and_a_near_start_fewer(method: str) -> None:
    n = 3000
    pattern = _pattern(n, 9, density=0.003)
    data = _values(pattern, 10)
    system = prepare(sp.csr_array((data, pattern.indices, pattern.indptr), shape=(n, n)))
    y = np.random.default_rng(11).uniform(0, 1, size=(n, 2))
    x, cold = solve(system, y, method=method, tol=1e-11)
    _, warm = solve(system, y, method=method, tol=1e-11, x0=x)
    assert warm.iterations == 0 and warm.converged
    nearby = system.refill(data * 1.001)  # a nearby system: the old solution is a good start
    xn, from_zero = solve(nearby, y, method=method, tol=1e-11)
    xw, from_old = solve(nearby, y, method=method, tol=1e-11, x0=x)
    assert from_old.converged and from_old.iterations < from_zero.iterations
    np.testing.assert_allclose(xw, xn, rtol=1e-9)
    M = np.eye(n) - _dense(pattern, data * 1.001)
    np.testing.assert_allclose(xw, np.linalg.solve(M, y), rtol=1e-9)


def test_a_bad_start_is_refused() -> None:
    system = prepare(_pattern(100, 12) * 0.01)
    with pytest.raises(InvalidEconomyError, match="starting point has shape"):
        solve(system, np.ones(100), x0=np.ones(99))
    with pytest.raises(InvalidEconomyError, match="NaN"):
        solve(system, np.ones(100), x0=np.full(100, np.nan))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), transpose=st.booleans(), zero_share=st.floats(0.0, 0.9))
def test_refilled_solution_matches_dense(seed: int, transpose: bool, zero_share: float) -> None:
    n = 200
    pattern = _pattern(n, seed, density=0.03)
    system = prepare(sp.csr_array((_values(pattern, seed + 1), pattern.indices, pattern.indptr), shape=(n, n)))
    b = np.random.default_rng(seed).uniform(0, 1, size=n)
    z0, _ = solve(system, b, transpose=transpose, method="trim-bicgstab")
    data = _values(pattern, seed + 2, zero_share)
    z, info = solve(system.refill(data), b, transpose=transpose, method="trim-bicgstab", x0=z0)
    M = np.eye(n) - _dense(pattern, data)
    assert info.converged
    np.testing.assert_allclose(z, np.linalg.solve(M.T if transpose else M, b), rtol=1e-8, atol=1e-12)


def _fringed(n: int, seed: int, chains: int = 5, length: int = 12) -> sp.csr_array:
    """A random cyclic pattern whose last ``chains * length`` products are trimmed in ``length``
    levels: chains of products each using the one before it (and some products of the cycle);
    no product of the cycle uses them."""
    rng = np.random.default_rng(seed)
    core = n - chains * length
    M = sp.lil_array(_pattern(core, seed, density=0.03, fringe=False) * 1.0, shape=(n, n))
    M.resize((n, n))
    for c in range(chains):
        members = core + c * length + np.arange(length)
        for k, j in enumerate(members):
            M[rng.choice(core, size=4, replace=False), j] = 1.0  # inputs from the cycle
            M[j, j] = 1.0  # some use of itself
            if k:
                M[members[k - 1], j] = 1.0  # the chain: j uses the product before it
    return sp.csr_array(M)


@pytest.mark.parametrize("in_place", [False, True], ids=["copied", "in place"])
def test_trimmed_values_gathered_on_later_solves_match_dense(in_place: bool) -> None:
    """A pattern's values solved again gather the trimmed levels along their columns (the copy
    patched on refill); each solve matches numpy's dense solve and the first solve's push."""
    n = 700
    pattern = _fringed(n, 21)
    data = _values(pattern, 22)
    system = prepare(sp.csr_array((data, pattern.indices, pattern.indptr), shape=(n, n)))
    level, nlevels, _, _ = system.levels()
    assert nlevels >= 12 and (level > 0).sum() == 60  # every chain peeled, level by level
    rng = np.random.default_rng(23)
    l = rng.uniform(0.1, 1.0, size=(n, 2))
    pushed, _ = solve(system, l, transpose=True, method="trim-bicgstab", tol=1e-13)
    assert "T" not in system._blocks  # a first values solve pushes
    gathered, _ = solve(system, l, transpose=True, method="trim-bicgstab", tol=1e-13)
    assert "T" in system._blocks
    np.testing.assert_allclose(gathered, pushed, rtol=1e-12)
    M = np.eye(n) - _dense(pattern, data)
    np.testing.assert_allclose(gathered, np.linalg.solve(M.T, l), rtol=1e-10)
    trimmed = np.flatnonzero(level > 0)
    for _ in range(3):
        # change coefficients, the trimmed products' columns among them
        in_fringe = np.flatnonzero(np.isin(pattern.indices, trimmed))
        changed = np.union1d(rng.choice(pattern.nnz, size=pattern.nnz // 20, replace=False),
                             rng.choice(in_fringe, size=in_fringe.size // 3, replace=False))
        new = system.A.data.copy()
        new[changed] = rng.uniform(0, 0.1, size=changed.size) * (rng.random(changed.size) < 0.8)
        new *= (0.7 / np.maximum(np.asarray(sp.csr_array((new, pattern.indices, pattern.indptr),
                                                          shape=(n, n)).sum(axis=0)).ravel(), 0.7))[pattern.indices]
        # rescaling touches every entry: name them all, as a caller that rewrites columns does
        changed = np.flatnonzero(new != system.A.data)
        before = system._blocks["T"][2]
        kept = before.copy()
        patched = system.refill(new, changed=changed, in_place=in_place)
        assert (patched._blocks["T"][2] is before) == in_place
        if not in_place:
            np.testing.assert_array_equal(system._blocks["T"][2], kept)
        v, _ = solve(patched, l, transpose=True, method="trim-bicgstab", tol=1e-13)
        M = np.eye(n) - _dense(pattern, new)
        np.testing.assert_allclose(v, np.linalg.solve(M.T, l), rtol=1e-10)
        system = patched


def test_trimmed_values_push_beyond_the_gather_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leontief, "GATHER_MEMORY", 0)
    n = 700
    pattern = _fringed(n, 24)
    data = _values(pattern, 25)
    system = prepare(sp.csr_array((data, pattern.indices, pattern.indptr), shape=(n, n)))
    l = np.random.default_rng(26).uniform(0.1, 1.0, size=n)
    for _ in range(3):
        v, _ = solve(system, l, transpose=True, method="trim-bicgstab", tol=1e-13)
    assert "T" not in system._blocks and system.trimmed_columns() is None
    np.testing.assert_allclose(v, np.linalg.solve((np.eye(n) - _dense(pattern, data)).T, l), rtol=1e-10)

"""Material balances and labour values against hand-solved and textbook economies,
a dense numpy solve, and hypothesis-generated productive economies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gosplan
from gosplan import Economy, NotProductiveError, Status, UnknownProductError
from gosplan.linalg.leontief import METHODS, prepare, solve

ITERATIVE = ["trim-gs", "trim-jacobi", "trim-bicgstab", "scc-gs", "scc-jacobi", "scc-bicgstab", "bicgstab"]
ALL = ["dense", *ITERATIVE]


def dense_reference(A: np.ndarray, y: np.ndarray, l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    M = np.eye(A.shape[0]) - A
    return np.linalg.solve(M, y), np.linalg.solve(M.T, l)


# ----------------------------------------------------------------------------- hand-solved


@pytest.mark.parametrize("method", ALL)
def test_miller_blair_two_sector(method: str) -> None:
    """Miller & Blair (2009), section 2.3: Z = [[150, 500], [200, 100]], x = (1000, 2000);
    for new final demand f = (600, 1500) the book gives x = (1247.52, 1841.58)."""
    Z = np.array([[150.0, 500.0], [200.0, 100.0]])
    x0 = np.array([1000.0, 2000.0])
    A = Z / x0
    np.testing.assert_allclose(A, [[0.15, 0.25], [0.20, 0.05]])
    eco = Economy.from_coefficients(A, products=["agriculture", "manufacturing"], y=[350.0, 1700.0])
    res = gosplan.balance(eco, method=method)
    np.testing.assert_allclose(res.gross_output, x0, rtol=1e-10)  # recorded output reproduced
    res = gosplan.balance(eco, {"agriculture": 600.0, "manufacturing": 1500.0}, method=method)
    np.testing.assert_allclose(res.gross_output, [1247.52, 1841.58], atol=0.005)
    # Leontief inverse column sums (output multipliers): 1.5182, 1.4521 in the book
    np.testing.assert_allclose(res.output_multipliers, [1.5182, 1.4521], atol=5e-5)


@pytest.mark.parametrize("method", ALL)
def test_hand_solved_labour_values(method: str) -> None:
    # A = [[.2,.3],[.4,.1]]: det(I - A) = 0.6, (I - A)^-1 = [[1.5, .5], [2/3, 4/3]]
    A = np.array([[0.2, 0.3], [0.4, 0.1]])
    eco = Economy.from_coefficients(A, y=[10.0, 20.0], l=[1.0, 2.0])
    res = gosplan.balance(eco, method=method)
    np.testing.assert_allclose(res.gross_output, [1.5 * 10 + 0.5 * 20, 2 / 3 * 10 + 4 / 3 * 20])
    np.testing.assert_allclose(res.labour_values, [1.0 * 1.5 + 2.0 * 2 / 3, 1.0 * 0.5 + 2.0 * 4 / 3])
    # total labour: l x = v y
    assert res.total_labour == pytest.approx(float(res.labour_values @ res.final_demand))
    assert res.status is Status.SOLVED and res.relative_residual < (1e-12 if method == "dense" else 1e-10)


@pytest.mark.parametrize("method", ALL)
def test_triangular_economy_by_hand(method: str) -> None:
    """Coal -> steel -> cars: a chain solves by substitution."""
    # coal per steel 2, steel per car 1.5, coal per coal 0.1
    A = np.array([[0.1, 2.0, 0.0], [0.0, 0.0, 1.5], [0.0, 0.0, 0.0]])
    eco = Economy.from_coefficients(A, products=["coal", "steel", "car"], y=[0.0, 0.0, 10.0], l=[1.0, 3.0, 5.0])
    res = gosplan.balance(eco, method=method)
    np.testing.assert_allclose(res.gross_output, [15 * 2 / 0.9, 15.0, 10.0])
    v_coal = 1.0 / 0.9
    v_steel = 3.0 + 2.0 * v_coal
    np.testing.assert_allclose(res.labour_values, [v_coal, v_steel, 5.0 + 1.5 * v_steel])


def test_scale_and_demand_forms() -> None:
    A = np.array([[0.2, 0.3], [0.4, 0.1]])
    eco = Economy.from_coefficients(A, products=["a", "b"], y=[10.0, 20.0], l=[1.0, 2.0])
    base = gosplan.balance(eco).gross_output
    np.testing.assert_allclose(gosplan.balance(eco, scale=2.0).gross_output, 2 * base)
    frame = pd.DataFrame({"product": ["b", "a"], "quantity": [20.0, 10.0]})
    np.testing.assert_allclose(gosplan.balance(eco, frame).gross_output, base)
    np.testing.assert_allclose(gosplan.balance(eco, pd.Series({"a": 10.0, "b": 20.0})).gross_output, base)
    np.testing.assert_allclose(gosplan.balance(eco, np.array([10.0, 20.0])).gross_output, base)


def test_unknown_product_in_demand_is_named() -> None:
    eco = Economy.from_coefficients(np.zeros((2, 2)), products=["a", "b"], y=[1.0, 1.0])
    with pytest.raises(UnknownProductError, match="'steel'"):
        gosplan.balance(eco, {"a": 1.0, "steel": 2.0})


# ----------------------------------------------------------------------------- not productive


@pytest.mark.parametrize("method", ALL)
def test_unproductive_cycle_is_named(method: str) -> None:
    """iron needs 2 coal, coal needs 0.6 iron: the pair cannot reproduce itself
    (spectral radius sqrt(1.2)); bread, which only uses them, is not blamed."""
    A = np.array([[0.0, 2.0, 0.1], [0.6, 0.0, 0.1], [0.0, 0.0, 0.0]])
    eco = Economy.from_coefficients(A, products=["coal", "iron", "bread"], y=[0.0, 0.0, 1.0], l=[1, 1, 1])
    with pytest.raises(NotProductiveError) as err:
        gosplan.balance(eco, method=method)
    assert set(err.value.products) == {"coal", "iron"}
    assert err.value.spectral_radius == pytest.approx(np.sqrt(1.2), rel=1e-6)
    assert "coal" in str(err.value) and "bread" not in str(err.value)


@pytest.mark.parametrize("method", ALL)
def test_unproductive_self_loop_is_named(method: str) -> None:
    A = np.array([[0.5, 0.0], [0.2, 1.25]])
    eco = Economy.from_coefficients(A, products=["grain", "seed"], y=[1.0, 1.0], l=[1, 1])
    with pytest.raises(NotProductiveError, match="seed") as err:
        gosplan.balance(eco, method=method)
    assert err.value.products == ("seed",)


def test_unproductive_large_component_is_named() -> None:
    """A 200-product cycle with spectral radius 1.05 goes through the iterative path."""
    n = 200
    rng = np.random.default_rng(1)
    A = sp.lil_array((n + 1, n + 1))
    for i in range(n):
        A[i, (i + 1) % n] = 1.05  # ring: rho = 1.05
    A[:, n] = rng.random(n + 1) * 0.01
    A[n, n] = 0.0
    labels = [f"p{i}" for i in range(n)] + ["final"]
    eco = Economy.from_coefficients(A.tocsr(), products=labels, y=np.ones(n + 1), l=np.ones(n + 1))
    for method in ITERATIVE:
        with pytest.raises(NotProductiveError) as err:
            gosplan.balance(eco, method=method)
        assert len(err.value.products) == n and "final" not in err.value.products
        assert err.value.spectral_radius == pytest.approx(1.05, rel=1e-4)


# ----------------------------------------------------------------------------- structure


def block_economy(rng: np.random.Generator, sizes: list[int], density: float, rho: float) -> np.ndarray:
    """Block upper-triangular A (after a random relabelling) with strongly
    connected diagonal blocks of the given sizes, spectral radius <= rho."""
    n = sum(sizes)
    A = np.zeros((n, n))
    start = 0
    for s in sizes:
        blk = rng.random((s, s)) * (rng.random((s, s)) < density)
        if s > 1:  # a ring makes the block strongly connected
            idx = np.arange(s)
            blk[idx, (idx + 1) % s] += 0.5
        A[start : start + s, start : start + s] = blk
        A[start : start + s, start + s :] = rng.random((s, n - start - s)) * (rng.random((s, n - start - s)) < density)
        start += s
    colsum = A.sum(axis=0)
    A = A * (rho / np.maximum(colsum, 1e-12))  # column sums = rho => rho(A) <= rho
    perm = rng.permutation(n)
    return A[np.ix_(perm, perm)]


@pytest.mark.parametrize("method", ITERATIVE)
def test_components_of_every_size(method: str) -> None:
    """Singletons, small (dense) and large (iterative) components in one economy."""
    rng = np.random.default_rng(7)
    sizes = [1] * 40 + [2, 3, 5, 17, 48] + [60, 300] + [1] * 30
    A = block_economy(rng, sizes, 0.05, 0.8)
    y, l = rng.random(len(A)), rng.random(len(A))
    xr, vr = dense_reference(A, y, l)
    system = prepare(sp.csr_array(A))
    x, info = solve(system, y, method=method, tol=1e-12)
    v, info_v = solve(system, l, transpose=True, method=method, tol=1e-12)
    if method.startswith("scc-"):
        assert info.components == len(sizes)
        assert info.largest_component == 300
    np.testing.assert_allclose(x, xr, rtol=1e-9)
    np.testing.assert_allclose(v, vr, rtol=1e-9)
    assert info.converged and info_v.converged


def test_multiple_right_hand_sides_in_one_pass() -> None:
    rng = np.random.default_rng(3)
    A = block_economy(rng, [1] * 10 + [80] + [1] * 10, 0.1, 0.7)
    B = rng.random((len(A), 4))
    system = prepare(sp.csr_array(A))
    for method in ALL:
        Z, info = solve(system, B, transpose=True, method=method)
        np.testing.assert_allclose(Z, np.linalg.solve((np.eye(len(A)) - A).T, B), rtol=1e-9)
        assert info.detail["right_hand_sides"] == 4


def test_unknown_method_rejected() -> None:
    system = prepare(sp.csr_array(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="unknown method 'lu'"):
        solve(system, np.ones(2), method="lu")  # type: ignore[arg-type]
    assert "auto" in METHODS


def test_negative_coefficients_accepted_with_warning() -> None:
    A = np.array([[0.1, -0.02], [0.3, 0.2]])
    with pytest.warns(gosplan.errors.NegativeCoefficientWarning, match="negative"):
        eco = Economy.from_coefficients(A, y=[1.0, 2.0], l=[1.0, 1.0])
    res = gosplan.balance(eco)
    xr, vr = dense_reference(A, np.array([1.0, 2.0]), np.ones(2))
    np.testing.assert_allclose(res.gross_output, xr, rtol=1e-12)
    np.testing.assert_allclose(res.labour_values, vr, rtol=1e-12)


def test_result_frame_and_summary() -> None:
    A = np.array([[0.2, 0.3], [0.4, 0.1]])
    eco = Economy.from_coefficients(
        A, products=["a", "b"], y=[10.0, 20.0], primary=np.array([[1.0, 2.0], [0.5, 0.0]]),
        resources=["labour", "land"],
    )
    res = gosplan.balance(eco)
    frame = res.to_frame()
    assert list(frame.columns) == [
        "product", "final_demand", "gross_output", "labour_value", "output_multiplier", "multiplier_land",
    ]
    M = np.linalg.inv(np.eye(2) - A)
    np.testing.assert_allclose(frame["multiplier_land"], np.array([0.5, 0.0]) @ M)
    summary = res.summary()
    for key in ("relative_residual", "method", "iterations", "seconds", "total_labour"):
        assert key in summary
    assert summary["primary_totals"]["land"] == pytest.approx(0.5 * res.gross_output[0])
    assert summary["total_labour"] == pytest.approx(float(np.array([1.0, 2.0]) @ res.gross_output))


# ----------------------------------------------------------------------------- hypothesis


@st.composite
def productive_economies(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.floats(0.02, 0.6))
    rho = draw(st.floats(0.0, 0.97))
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < density)
    colsum = A.sum(axis=0)
    A = A * (rho / np.where(colsum > 0, colsum, 1.0)) * rng.uniform(0.5, 1.0, n)
    y = rng.random(n) * (rng.random(n) < 0.7)
    l = rng.random(n)
    return A, y, l


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(productive_economies(), st.sampled_from(ALL))
def test_agrees_with_dense_numpy(economy: tuple[np.ndarray, np.ndarray, np.ndarray], method: str) -> None:
    A, y, l = economy
    eco = Economy.from_coefficients(A, y=y, l=l)
    res = gosplan.balance(eco, method=method, tol=1e-12)
    xr, vr = dense_reference(A, y, l)
    scale_x = max(np.abs(xr).max(), 1e-300)
    np.testing.assert_allclose(res.gross_output, xr, rtol=1e-9, atol=1e-9 * scale_x)
    np.testing.assert_allclose(res.labour_values, vr, rtol=1e-9)
    # x >= y >= 0 and v >= l for a nonnegative productive A
    assert (res.gross_output >= y - 1e-9 * scale_x).all()
    assert (res.labour_values >= l * (1 - 1e-9)).all()
    assert res.status is Status.SOLVED


def test_trimming_stops_early_on_long_chains() -> None:
    """A chain of 600 products peels one product per pass after the first; trimming
    stops once a pass peels fewer than TRIM_STOP_SHARE * n, and the rest of the chain
    joins the iterated block. The answer must not change."""
    from gosplan.linalg import leontief

    n = 1000
    rng = np.random.default_rng(11)
    A = sp.lil_array((n, n))
    for i in range(599):  # chain: product i + 1 is an input of product i; 0 is final
        A[i + 1, i] = 0.5
    loop = np.arange(600, 700)
    for a, b in zip(loop, np.roll(loop, 1)):  # a loop that feeds the top of the chain
        A[a, b] = 0.4
    A[600, 599] = 0.3
    A = A.tocsr()
    y, l = rng.random(n), rng.random(n)
    system = prepare(A)
    level, nlevels, _, _ = system.levels()
    assert level[0] == 1 and level[1] == 2  # the chain's end was peeled ...
    assert nlevels < 10  # ... but trimming stopped long before its 600 levels
    assert (level[:600] == 0).sum() > 500  # and left most of the chain to the block
    xr, vr = dense_reference(A.toarray(), y, l)
    x, info = solve(system, y, method="trim-bicgstab")
    v, _ = solve(system, l, transpose=True, method="trim-gs")
    np.testing.assert_allclose(x, xr, rtol=1e-9)
    np.testing.assert_allclose(v, vr, rtol=1e-9)
    assert leontief.TRIM_STOP_SHARE * n > 1


def test_bicgstab_breakdown_falls_back_to_gauss_seidel(monkeypatch: pytest.MonkeyPatch) -> None:
    from gosplan.linalg import leontief

    def broken(ptr, ind, dat, rhs, **kw):  # a BiCGSTAB that always breaks down
        return np.zeros_like(rhs), 1, False

    monkeypatch.setattr(leontief, "_bicgstab_local", broken)
    rng = np.random.default_rng(5)
    A = block_economy(rng, [1] * 5 + [120] + [1] * 5, 0.1, 0.7)
    y = rng.random(len(A))
    x, info = solve(prepare(sp.csr_array(A)), y, method="trim-bicgstab", verify_productive=False,
                    inplace_share=2.0)  # on the copy of R (in place: tests/test_linalg_block.py)
    np.testing.assert_allclose(x, np.linalg.solve(np.eye(len(A)) - A, y), rtol=1e-9)
    assert info.converged


# ----------------------------------------------------------------------------- negative gross output


def test_negative_gross_output_is_named() -> None:
    """A final demand of -5 for a product the economy uses 0.1 x_1 of: the balance is exact (a
    dense solve), its gross output is negative, and the result and a DataQualityWarning say so,
    by name; a demand that leaves every output >= 0 says nothing."""
    A = np.array([[0.2, 0.0], [0.1, 0.0]])
    names = pd.Series(["Wheat", "Used goods"], index=["w", "u"])
    eco = Economy.from_coefficients(A, y=[10.0, -5.0], l=[1.0, 0.5], products=["w", "u"]).with_names(names)
    with pytest.warns(gosplan.errors.DataQualityWarning, match=r"u \(Used goods\) -3\.75 \(final demand -5\)"):
        res = gosplan.balance(eco)
    x_ref, _ = dense_reference(A, np.array([10.0, -5.0]), np.array([1.0, 0.5]))
    np.testing.assert_allclose(res.gross_output, x_ref, rtol=1e-12)
    assert x_ref[1] == pytest.approx(-3.75)
    assert res.status is Status.SOLVED and "1 product(s) have a negative gross output" in res.message
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", gosplan.errors.DataQualityWarning)
        fine = gosplan.balance(eco, [10.0, -0.5])
    assert "negative gross output" not in fine.message

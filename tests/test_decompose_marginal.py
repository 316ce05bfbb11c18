"""coordination="marginal" (no LP at the centre: Leontief solves over the ministries' marginal
enterprises) against the enterprise-level program written out independently
(tests/_enterprise_lp.py) and solved by HiGHS."""

from __future__ import annotations

import _enterprise_lp as ref
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gosplan
from gosplan.decompose import plan_decomposed
from gosplan.errors import InvalidEconomyError
from gosplan.results import Status


def _economy(n: int, seed: int, per: float = 4, M: int = 4, own: float = 0.0):
    from gosplan.synth import generate
    from gosplan.synth.enterprises import synth_enterprises

    return synth_enterprises(generate(n, seed=seed), per_product=per, ministries=M, seed=seed, own_norms_share=own)


def _labour(econ, share: float) -> tuple[float, np.ndarray]:
    L = share * float(econ.l @ gosplan.balance(econ).gross_output)
    available = np.full(len(econ.resources), np.inf)
    available[econ.resources.get_loc(econ.labour)] = L
    return L, available


def _check_feasible(res, econ, y, available, L):
    """The enterprise targets meet every row of the enterprise-level program at the plan's z
    (:func:`_check_rows` with no floors)."""
    _check_rows(res, econ, y, np.zeros(len(y)), L)


@pytest.mark.parametrize("share, own, tol", [(0.9, 0.0, 1e-9), (0.95, 0.1, 1e-6)])
def test_marginal_equals_the_enterprise_program(share, own, tol):
    """Labour binding (0.9, 0.95 of the table's use; with own norms): exact."""
    econ = _economy(150, seed=3, own=own)
    y = np.maximum(econ.y, 0)
    L, available = _labour(econ, share)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available)
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=tol)
    assert res.status is Status.OPTIMAL, res.message
    assert res.bound >= opt * (1 - 1e-9)  # a certified bound
    assert res.objective <= opt * (1 + 1e-9)
    assert abs(res.objective - opt) <= tol * opt
    assert res.gap <= tol
    _check_feasible(res, econ, y, available, L)
    assert all(r.master_method == "leontief" for r in res.rounds)


def test_capacity_bound_plan_ray():
    """Labour 1.2 times the table's use: the plan ray is stopped by capacities. The bound stays
    a bound; at tol 1e-4 the plan is certified, at 1e-9 the scheme says it cannot close the gap
    (the capacity prices it tries, one short product at a time, leave 4e-6 here)."""
    econ = _economy(150, seed=3)
    y = np.maximum(econ.y, 0)
    L, available = _labour(econ, 1.2)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available)
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-4)
    assert res.status is Status.OPTIMAL, res.message
    assert res.bound >= opt * (1 - 1e-9) and res.objective <= opt * (1 + 1e-9)
    assert abs(res.objective - opt) <= 1e-4 * opt
    _check_feasible(res, econ, y, available, L)
    tight = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-9)
    assert tight.status is Status.ITERATION_LIMIT and "aggregation" in tight.message
    assert tight.bound >= opt * (1 - 1e-9) and tight.objective <= opt * (1 + 1e-9)
    assert tight.gap < 1e-5


@settings(derandomize=True, max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(20, 60), seed=st.integers(0, 10_000), share=st.floats(0.6, 1.4), per=st.floats(1.5, 6.0))
def test_marginal_property(n, seed, share, per):
    """Whatever it ends with, the bound is a bound and the plan feasible; "optimal" is within tol
    of the optimum; otherwise it says the capacities' prices escaped it."""
    econ = _economy(n, seed=seed, per=per, M=3)
    y = np.maximum(econ.y, 0)
    L, available = _labour(econ, share)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available)
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-4)
    _check_feasible(res, econ, y, available, L)
    _judge(res, opt, 1e-4)


def _judge(res, opt: float, tol: float) -> None:
    """The bound is a bound and the plan no better than the optimum; "optimal" within ``tol`` of
    it; otherwise the scheme says the capacities' prices escaped it."""
    assert res.bound >= opt * (1 - 1e-9) and res.objective <= opt * (1 + 1e-9)
    if res.status is Status.OPTIMAL:
        assert abs(res.objective - opt) <= tol * opt
    else:
        assert res.status is Status.ITERATION_LIMIT and "aggregation" in res.message, res.message


def test_marginal_same_as_aggregation():
    econ = _economy(300, seed=5, per=6, M=6)
    a = plan_decomposed(econ, tol=1e-8)
    m = plan_decomposed(econ, coordination="marginal", tol=1e-8)
    assert a.status is m.status is Status.OPTIMAL
    assert abs(a.objective - m.objective) <= 2e-8 * a.objective


def test_marginal_refuses_what_it_cannot_plan():
    econ = _economy(40, seed=1)
    with pytest.raises(InvalidEconomyError, match="fulfilment objective only"):
        plan_decomposed(econ, objective="cost", coordination="marginal")
    with pytest.raises(InvalidEconomyError, match="one priority class"):
        plan_decomposed(econ, coordination="marginal", priorities=np.arange(econ.n_products) % 2 + 1.0)
    with pytest.raises(InvalidEconomyError, match="monolithic"):
        plan_decomposed(econ, coordination="marginal", monolithic=True)
    with pytest.raises(InvalidEconomyError, match="unknown coordination"):
        plan_decomposed(econ, coordination="admm")


def test_marginal_product_table_is_the_enterprises_net_output(tmp_path):
    """The product table of a marginal plan (no LP, no prices): gross output and the net output
    that the enterprises' own techniques leave, against the enterprise program's columns."""
    import pandas as pd

    econ = _economy(120, seed=5, own=0.2)
    y = np.maximum(econ.y, 0)
    L, _ = _labour(econ, 0.9)
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-9)
    assert res.status is Status.OPTIMAL, res.message
    h = econ.hierarchy
    N, _, _ = ref.columns(econ, h)
    full = np.concatenate([res.enterprise_output, res.gross_output[np.flatnonzero(~h.covered)]])
    frame = res.product_frame(econ)
    assert frame["product"].tolist() == [str(p) for p in econ.products]
    np.testing.assert_allclose(frame["gross_output"], res.gross_output)
    np.testing.assert_allclose(frame["net_output"], N @ full, rtol=1e-9, atol=1e-9 * float(np.abs(full).max()))
    assert (frame["net_output"].to_numpy() >= res.objective * y - 1e-7 * (1 + y)).all()
    written = {p.name for p in res.write(tmp_path / "with", economy=econ)}
    assert "plan.csv" in written
    np.testing.assert_allclose(pd.read_csv(tmp_path / "with" / "plan.csv")["net_output"], frame["net_output"])
    assert "plan.csv" not in {p.name for p in res.write(tmp_path / "without")}


def test_marginal_names_a_negative_coefficient():
    import dataclasses
    import warnings

    import scipy.sparse as sp

    econ = _economy(40, seed=2)
    use = sp.csr_array(econ.use, copy=True)
    use[3, 5] = -0.01  # scrap: product 3 comes back from making product 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = dataclasses.replace(econ, use=use)
        product, technique = bad.products[3], bad.activities[5]
        with pytest.raises(InvalidEconomyError, match=f"input of '{product}'.* by technique '{technique}'.* is -0.01"):
            plan_decomposed(bad, coordination="marginal", resources={bad.labour: 1e9})


def test_pinned_centre_solve_against_a_dense_solve():
    """The centre's solve with some products pinned (their marginal output held): the free
    products' rows hold with equality, the pinned rows report their surplus — all against
    numpy's dense solve of the same system written out here."""
    import scipy.sparse as sp

    from gosplan.decompose.marginal_centre import _Centre

    rng = np.random.default_rng(11)
    n = 40
    A = rng.uniform(0, 1, (n, n)) * (rng.uniform(0, 1, (n, n)) < 0.2)
    A *= 0.6 / A.sum(axis=0).max()
    P = rng.uniform(0.5, 1.5, (1, n))
    prod = np.arange(n)
    req = {
        "products": prod, "f": rng.uniform(0.8, 1.2, n), "h": rng.uniform(0.8, 1.2, n),
        "S": rng.uniform(0, 1, n), "s_f": rng.uniform(0, 1, n), "s_h": rng.uniform(0, 1, n),
        "s_own_inputs": np.zeros(n), "s_own_primary": np.zeros(1), "m_own_inputs": None, "m_own_primary": None,
    }
    d = rng.uniform(1, 2, n)
    centre = _Centre(A=sp.csc_array(A), P=sp.csc_array(P), w=np.ones(1), uncovered=np.zeros(0, dtype=np.int64))
    pinned = np.zeros(n, dtype=bool)
    pinned[[3, 17, 25]] = True
    fixed = np.where(pinned, rng.uniform(0, 0.5, n), 0.0)
    pi, x, g, labour, surplus = centre.solve(req, d, pinned, fixed)
    assert pi is None
    A_M = A * req["f"][None, :]
    rhs = d - req["S"] + A @ req["s_f"]
    U = np.flatnonzero(~pinned)
    ref_x = fixed.copy()
    ref_x[U] = np.linalg.solve(np.eye(U.size) - A_M[np.ix_(U, U)], rhs[U] + A_M[U][:, pinned] @ fixed[pinned])
    np.testing.assert_allclose(x, ref_x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g, req["S"] + ref_x, rtol=1e-12)
    resid = ref_x - A_M @ ref_x - rhs
    np.testing.assert_allclose(resid[U], 0.0, atol=1e-9)
    np.testing.assert_allclose(surplus[pinned], resid[pinned] / (1 + d[pinned]), rtol=1e-8, atol=1e-12)
    assert np.isinf(surplus[U]).all()
    unit = P[0]
    assert labour == pytest.approx((req["h"] * unit) @ ref_x + unit @ req["s_h"], rel=1e-12)
    # nothing pinned: the prices and quantities of the whole system
    pi, x, _, _, surplus = centre.solve(req, d)
    assert surplus is None
    np.testing.assert_allclose(pi, np.linalg.solve((np.eye(n) - A_M).T, req["h"] * unit), rtol=1e-9)
    np.testing.assert_allclose(x, np.linalg.solve(np.eye(n) - A_M, rhs), rtol=1e-9)


def test_cycling_roles_are_repaired_under_frozen_prices():
    """On this economy the roles cycle with the split infeasible at several z (ties at kinks of
    the products' supply curves): the scheme freezes the prices, pins the products whose
    marginal output would be negative, and still ends at the enterprise program's optimum
    (HiGHS) with a feasible plan. Before, the cycles ran out their 60 rounds and took 184 rounds
    in all; now 136."""
    econ = _economy(150, seed=3, own=0.1)
    y = np.maximum(econ.y, 0)
    L, available = _labour(econ, 0.95)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available)
    said: list[str] = []
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-6,
                          progress=said.append)
    assert any("prices frozen" in line for line in said)
    assert res.status is Status.OPTIMAL, res.message
    assert res.bound >= opt * (1 - 1e-9) and abs(res.objective - opt) <= 1e-6 * opt
    _check_feasible(res, econ, y, available, L)
    assert len(res.rounds) < 184


@pytest.mark.parametrize("n, seed, share, per", [(86, 8612, 1.3, 4.5), (25, 1479, 1.25, 6.0), (116, 2012, 1.4, 6.4)])
def test_scarcity_rents_turn_users_away_from_a_short_product(monkeypatch, n, seed, share, per):
    """Labour 1.25-1.4 times the table's use: the plan ray is stopped by capacities. A product
    short of capacity gets a rent on its price, so that its users turn to enterprises needing
    less of it: the plan reaches the optimum (HiGHS on the enterprise program) within tol.
    Without rents (``KAPPA_START = 0``) the same economies end 3e-4 to 8e-3 from the bound."""
    import gosplan.decompose.marginal_centre as mc

    econ = _economy(n, seed=seed, per=per, M=3)
    y = np.maximum(econ.y, 0)
    L, available = _labour(econ, share)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available)
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-4)
    assert res.status is Status.OPTIMAL, res.message
    assert res.bound >= opt * (1 - 1e-9) and opt * (1 - 1e-4) <= res.objective <= opt * (1 + 1e-9)
    _check_feasible(res, econ, y, available, L)
    monkeypatch.setattr(mc, "KAPPA_START", 0.0)
    without = plan_decomposed(econ, targets=y, resources={"labour": L}, coordination="marginal", tol=1e-4)
    assert without.status is Status.ITERATION_LIMIT and without.gap > 2e-4
    assert without.bound >= opt * (1 - 1e-9) and without.objective <= opt * (1 + 1e-9)


def test_reduced_costs_of_several_price_systems_at_once():
    """``reduced_costs`` with an ``n x k`` block of prices (the ministries' rents of many capacity
    prices in one pass) equals ``k`` one-column calls, and both equal the enterprise program's
    columns written out in tests/_enterprise_lp.py."""
    import scipy.sparse as sp

    from gosplan.decompose.ministry import Prices, ministry_data, reduced_costs

    econ = _economy(60, seed=4, own=0.2)
    h = econ.hierarchy
    A, P = sp.csc_array(econ.A), sp.csc_array(econ.primary)
    rng = np.random.default_rng(0)
    Pi = rng.uniform(0, 2, (econ.n_products, 5))
    W = rng.uniform(0, 1, (len(econ.resources), 5))
    N, Pm, _ = ref.columns(econ, h)
    for m in range(h.n_ministries):
        data = ministry_data(m, h, A, P)
        block = reduced_costs(data, Prices(pi=Pi, w=W, threshold=0.0))
        for k in range(5):
            one = reduced_costs(data, Prices(pi=Pi[:, k], w=W[:, k], threshold=0.0))
            np.testing.assert_allclose(block[:, k], one, rtol=1e-13, atol=1e-13)
            # d_e = -(o_e - a_e) . pi + p_e . w from the written-out columns
            cols = data.enterprise
            np.testing.assert_allclose(one, -(N[:, cols].T @ Pi[:, k]) + Pm[:, cols].T @ W[:, k], rtol=1e-10, atol=1e-12)


def _imports(econ, seed: int, share: float = 0.2):
    """Targets on most products; on a share of them none, and a negative floor instead (a net
    import): half of those below their use at the table's plan (imported in full, made not at
    all), half above a third of it (imported in part, made too)."""
    n = econ.n_products
    rng = np.random.default_rng(seed)
    gross = gosplan.balance(econ).gross_output
    use = np.asarray(econ.A @ gross)
    imp = rng.choice(n, int(share * n), replace=False)
    y = np.maximum(econ.y, 0).astype(float)
    y[imp] = 0.0
    floor = np.zeros(n)
    floor[imp] = -use[imp] * np.where(np.arange(imp.size) % 2 == 0, 3.0, 0.3)
    return y, floor, imp


def _check_rows(res, econ, y, floor, L, tol=1e-9):
    """Every row of the enterprise-level program at the plan's z, the floors included."""
    h = econ.hierarchy
    x = res.enterprise_output
    assert (x >= 0).all() and (x <= h.capacity * (1 + 1e-12)).all()
    N, Pm, _ = ref.columns(econ, h)
    unc = np.flatnonzero(~h.covered)
    full = np.concatenate([x, res.gross_output[unc]])
    scale = 1.0 + np.abs(N) @ np.abs(full)
    need = res.objective * y + np.where(y > 0, 0.0, floor)
    assert ((N @ full - need) / scale >= -tol).all()
    assert Pm[econ.resources.get_loc(econ.labour)] @ full <= L * (1 + 1e-9)


@pytest.mark.parametrize("seed, share", [(3, 0.9), (4, 0.95), (6, 1.2)])
def test_net_imports_equal_the_enterprise_program(seed, share):
    """Negative floors (net imports, as every bundled table has): the products whose import
    covers their use are made not at all and priced 0; the plan equals the enterprise-level
    program's optimum (HiGHS) and meets its rows, the floors included."""
    econ = _economy(150, seed=seed)
    y, floor, imp = _imports(econ, seed)
    L, available = _labour(econ, share)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available, floor=floor)
    res = plan_decomposed(econ, targets=y, floors=floor, resources={"labour": L}, coordination="marginal", tol=1e-6)
    assert res.bound >= opt * (1 - 1e-9) and res.objective <= opt * (1 + 1e-9)
    _check_rows(res, econ, y, floor, L)
    if res.status is not Status.OPTIMAL:  # capacities' prices out of its reach (see test_marginal_property)
        assert res.status is Status.ITERATION_LIMIT and "aggregation" in res.message, res.message
        return
    assert abs(res.objective - opt) <= 1e-6 * opt
    full = imp[::2]  # imported in full at the table's plan: none made by the optimum either
    assert np.abs(res.gross_output[full]).max() <= 1e-9 * max(1.0, np.abs(res.gross_output).max())


def test_a_real_table_with_net_imports_plans_as_aggregation_does():
    """uk-2015 with synthetic enterprises, the table's own targets and its net import (cement):
    refused before (a negative floor; and the negative coefficients of taxes less subsidies, a
    resource the plan does not limit); both coordinations now reach the same z, the bound
    certified."""
    from gosplan.synth.enterprises import synth_enterprises

    econ = synth_enterprises(gosplan.load("uk-2015"), per_product=3, ministries=6, seed=1)
    a = plan_decomposed(econ, tol=1e-7)
    m = plan_decomposed(econ, coordination="marginal", tol=1e-7)
    assert a.status is m.status is Status.OPTIMAL, (a.message, m.message)
    assert abs(a.objective - m.objective) <= 2e-7 * a.objective
    assert m.bound >= a.objective * (1 - 1e-9) and m.gap <= 1e-7
    # a negative input coefficient (scrap, used goods) is still refused, and named
    us = synth_enterprises(gosplan.load("us-2022"), per_product=2, ministries=4, seed=1)
    with pytest.raises(InvalidEconomyError, match="negative input or resource coefficients .input of 'Used'"):
        plan_decomposed(us, coordination="marginal")


@settings(derandomize=True, max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(20, 60), seed=st.integers(0, 10_000), share=st.floats(0.6, 1.4),
       imports=st.floats(0.05, 0.5))
def test_net_imports_property(n, seed, share, imports):
    """Random net imports on a random share of the products: the bound is a bound, the plan
    meets every row with its floors; "optimal" is within tol of the optimum."""
    econ = _economy(n, seed=seed, per=3, M=3)
    y, floor, _ = _imports(econ, seed, share=imports)
    L, available = _labour(econ, share)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available, floor=floor)
    res = plan_decomposed(econ, targets=y, floors=floor, resources={"labour": L}, coordination="marginal", tol=1e-4)
    _check_rows(res, econ, y, floor, L)
    _judge(res, opt, 1e-4)

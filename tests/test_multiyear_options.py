"""Multi-year plans with resources other than labour, the cost objective and priority classes,
against HiGHS (scipy's ``linprog``) on the same program written out here independently: dense,
with the capital stocks as variables and Cockshott's recursion ``S_{t+1} = (1 - delta) S_t + acc_t``
as equalities (gosplan substitutes the stocks), and the priority stages staged here."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from gosplan import Status
from gosplan.errors import InvalidEconomyError
from gosplan.model import Economy, Horizon
from gosplan.multiyear import plan_years
from gosplan.synth.horizon import cockshott_economy


@dataclass
class Reference:
    """The program of a horizon as dense blocks: variables ``[x_t | acc_t | S_t | z_{g,t}]``."""

    c: np.ndarray
    A_ub: list
    b_ub: list
    A_eq: list
    b_eq: list
    bounds: list
    idx: dict


def reference(h: Horizon, *, groups=None, cost=None, resources=None, labour=None, holds=(), lower=None, upper=None,
              weight=None) -> Reference:
    """``groups``: bool masks of products, each with a ray per year (fulfilment); ``cost``: per
    activity cost (targets met in full); ``resources``: ``[(P_r, R_r)]``; ``holds``: ``[(g, level)]``
    rows ``sum_t z_{g,t} >= level``; ``weight[g]`` the objective weight of ray ``g``."""
    eco = h.economy
    A = eco.use.toarray()
    n, T = A.shape[0], h.n_years
    Kd, Dd = h.capital.toarray(), h.depreciation.toarray()
    ii, jj = np.nonzero(Kd)
    nk = ii.size
    x0 = h.base_output
    b = np.where(x0[jj] > 0, Kd[ii, jj] / np.where(x0[jj] > 0, x0[jj], 1), 0)
    rho = 1 - Dd[ii, jj]
    G = 0 if groups is None else len(groups)
    per = n + nk + nk + G
    N = per * T
    idx = {"x": lambda t: t * per + np.arange(n), "acc": lambda t: t * per + n + np.arange(nk),
           "S": lambda t: t * per + n + nk + np.arange(nk), "z": lambda t, g: t * per + n + 2 * nk + g}
    A_ub, b_ub, A_eq, b_eq = [], [], [], []
    l = h.labour_coefficients
    L = h.labour_supply if labour is None else labour
    for t in range(T):
        # balance: -( (I - A) x - sum acc ) + target z <= 0   (or <= -target under cost)
        row = np.zeros((n, N))
        row[:, idx["x"](t)] = -(np.eye(n) - A)
        if t < T - 1:
            for k in range(nk):
                row[ii[k], idx["acc"](t)[k]] += 1.0
        rhs = np.zeros(n)
        if cost is not None:
            rhs = -h.targets[:, t]
        else:
            for g in range(G):
                for i in np.flatnonzero(groups[g] & (h.targets[:, t] > 0)):
                    row[i, idx["z"](t, g)] = h.targets[i, t]
        A_ub.append(row), b_ub.append(rhs)
        # labour and resources
        row = np.zeros((1, N))
        row[0, idx["x"](t)] = l
        A_ub.append(row), b_ub.append([L[t]])
        for P, R in resources or ():
            row = np.zeros((1, N))
            row[0, idx["x"](t)] = P
            A_ub.append(row), b_ub.append([R[t]])
        # capital: b_k x_j - S_k <= 0
        row = np.zeros((nk, N))
        row[np.arange(nk), idx["x"](t)[jj]] = b
        row[np.arange(nk), idx["S"](t)] = -1
        A_ub.append(row), b_ub.append(np.zeros(nk))
        # stocks: S_1 = K, S_{t+1} = rho S_t + acc_t
        row = np.zeros((nk, N))
        row[np.arange(nk), idx["S"](t)] = 1
        if t == 0:
            A_eq.append(row), b_eq.append(Kd[ii, jj])
        else:
            row[np.arange(nk), idx["S"](t - 1)] = -rho
            row[np.arange(nk), idx["acc"](t - 1)] = -1
            A_eq.append(row), b_eq.append(np.zeros(nk))
    for g, level in holds:
        row = np.zeros((1, N))
        for t in range(T):
            row[0, idx["z"](t, g)] = -1
        A_ub.append(row), b_ub.append([-level])
    bounds = [(0, None)] * N
    for t in range(T):
        for j in np.flatnonzero(x0 == 0):
            bounds[idx["x"](t)[j]] = (0, 0)
        if t == T - 1:
            for k in idx["acc"](t):
                bounds[k] = (0, 0)
        for g in range(G):
            has = (groups[g] & (h.targets[:, t] > 0)).any()
            lo = 0 if lower is None else lower[g]
            up = None if upper is None else upper[g]
            bounds[idx["z"](t, g)] = (lo, up) if has else (0, 0)
    c = np.zeros(N)
    for t in range(T):
        if cost is not None:
            c[idx["x"](t)] = cost
        for g in range(G):
            c[idx["z"](t, g)] = -(1.0 if weight is None else weight[g])
    return Reference(c, A_ub, b_ub, A_eq, b_eq, bounds, idx)


def solve(ref: Reference):
    res = linprog(ref.c, A_ub=np.vstack(ref.A_ub), b_ub=np.concatenate([np.ravel(v) for v in ref.b_ub]),
                  A_eq=np.vstack(ref.A_eq), b_eq=np.concatenate(ref.b_eq), bounds=ref.bounds, method="highs")
    return res


def with_resource(h: Horizon, seed: int) -> tuple[Horizon, np.ndarray]:
    """``h`` with a second primary resource, ``energy``, used by every activity."""
    eco = h.economy
    rng = np.random.default_rng(seed)
    energy = rng.uniform(0.5, 2.0, eco.n_products)
    primary = sp.csr_array(np.vstack([h.labour_coefficients, energy]))
    eco2 = Economy.from_coefficients(eco.use, products=list(eco.products), primary=primary,
                                     resources=["labour", "energy"], recorded_output=h.base_output)
    return replace(h, economy=eco2), energy


# ---------------------------------------------------------------------------- resources
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_resource_limits_match_highs(seed: int) -> None:
    h, energy = with_resource(cockshott_economy(8, 3, seed=seed), seed)
    free = plan_years(h, method="highs")
    used = (energy[:, None] * free.level).sum(axis=0)
    supply = 0.8 * used  # binding in every year
    res = plan_years(h, resources={"energy": supply}, method="highs")
    assert res.status is Status.OPTIMAL, res.message
    ref = solve(reference(h, groups=[(h.targets > 0).any(axis=1)], resources=[(energy, supply)]))
    assert ref.status == 0
    assert res.objective == pytest.approx(-ref.fun, rel=1e-6)
    assert res.objective < free.objective
    assert (res.resource_use[0] <= supply * (1 + 1e-7)).all()
    assert list(res.resources) == ["energy"]
    # the resource's price is the objective gained per unit more (one-sided difference)
    t = int(np.argmax(res.resource_price[0]))
    step = 1e-4 * supply[t]
    more = supply.copy()
    more[t] += step
    up = plan_years(h, resources={"energy": more}, method="highs")
    assert (up.objective - res.objective) / step == pytest.approx(res.resource_price[0, t], rel=1e-3, abs=1e-7)


def test_labour_in_resources_replaces_the_supply() -> None:
    h = cockshott_economy(8, 3, seed=4)
    L = h.labour_supply * 0.9
    res = plan_years(h, resources={"labour": L}, method="highs")
    ref = solve(reference(h, groups=[(h.targets > 0).any(axis=1)], labour=L))
    assert res.objective == pytest.approx(-ref.fun, rel=1e-6)
    np.testing.assert_allclose(res.labour_supply, L)


# ---------------------------------------------------------------------------- cost
@pytest.mark.parametrize("seed", [1, 5])
@pytest.mark.parametrize("method", ["highs", "pdhg"])
def test_cost_objective_matches_highs(seed: int, method: str) -> None:
    h, energy = with_resource(cockshott_economy(8, 3, seed=seed), seed)
    h = replace(h, targets=h.targets * 0.3)  # met in full within the stocks
    costs = {"labour": 1.0, "energy": 0.5}
    res = plan_years(h, objective="cost", costs=costs, method=method, tol=1e-6)
    assert res.status is Status.OPTIMAL, res.message
    ref = solve(reference(h, cost=h.labour_coefficients + 0.5 * energy))
    assert ref.status == 0
    assert res.objective == pytest.approx(ref.fun, rel=1e-5)
    assert (res.consumption >= h.targets - 1e-5 * (1 + h.targets)).all()
    assert np.nanmin(res.fulfilment) >= 1 - 1e-5


def test_cost_defaults_to_labour_and_prices_are_costs_saved() -> None:
    h = cockshott_economy(8, 3, seed=2)
    h = replace(h, targets=h.targets * 0.3)
    res = plan_years(h, objective="cost", method="highs")
    ref = solve(reference(h, cost=h.labour_coefficients))
    assert res.objective == pytest.approx(ref.fun, rel=1e-6)
    # price of product i in year t: the cost saved by one more unit of it (lower target)
    i, t = np.unravel_index(np.argmax(res.price * (h.targets > 0)), res.price.shape)
    step = 1e-4 * h.targets[i, t]
    tg = h.targets.copy()
    tg[i, t] -= step
    less = plan_years(replace(h, targets=tg), objective="cost", method="highs")
    assert (res.objective - less.objective) / step == pytest.approx(res.price[i, t], rel=1e-3)


def test_cost_infeasible_when_targets_cannot_be_met() -> None:
    res = plan_years("cockshott-example", objective="cost")
    assert res.status is Status.INFEASIBLE
    assert "balance of bread in year1" in res.message


# ---------------------------------------------------------------------------- priority classes
@pytest.mark.parametrize("seed", [1, 2, 6])
def test_priority_classes_match_staged_highs(seed: int) -> None:
    h = cockshott_economy(8, 3, seed=seed)
    h = replace(h, labour_supply=h.labour_supply * 0.7)  # scarce: class 1 first
    targeted = np.flatnonzero((h.targets > 0).any(axis=1))
    first = targeted[: targeted.size // 2]
    prio = {h.economy.products[i]: 1 for i in first}
    tol = 1e-6
    res = plan_years(h, priorities=prio, method="highs", tol=tol)
    assert res.status is Status.OPTIMAL, res.message
    m1 = np.zeros(h.economy.n_products, dtype=bool)
    m1[first] = True
    m2 = (h.targets > 0).any(axis=1) & ~m1
    # stage 1: class 1 alone, z <= 1
    s1 = solve(reference(h, groups=[m1], upper=[1.0]))
    assert s1.status == 0
    opt1 = -s1.fun
    # stage 2: class 1 held at (1 - tol/10) opt1, class 2 maximised, z <= 1
    s2 = solve(reference(h, groups=[m1, m2], upper=[1.0, 1.0], weight=[0.0, 1.0], holds=[(0, opt1 * (1 - tol / 10))]))
    assert s2.status == 0
    opt2 = -s2.fun
    assert not res.stages[-1].name.endswith("over-fulfilment")
    z1 = np.nansum(res.class_fulfilment[1])
    z2 = np.nansum(res.class_fulfilment[2])
    assert z1 == pytest.approx(opt1, rel=1e-6)
    assert z2 == pytest.approx(opt2, rel=1e-6)
    # class 1 gets at least what the plain plan (one ray for all targets, capped at 1) gives it
    plain = plan_years(h, method="highs")
    assert z1 >= np.nansum(np.minimum(plain.fulfilment, 1.0)) * (1 - 1e-6)


def test_priority_over_fulfilment_when_every_class_is_met() -> None:
    h = cockshott_economy(8, 3, seed=3)
    h = replace(h, targets=h.targets * 0.3)
    targeted = np.flatnonzero((h.targets > 0).any(axis=1))
    prio = {h.economy.products[targeted[0]]: 1}
    res = plan_years(h, priorities=prio, method="highs")
    assert res.status is Status.OPTIMAL, res.message
    assert res.stages[-1].name.endswith("over-fulfilment")
    ref = solve(reference(h, groups=[(h.targets > 0).any(axis=1)], lower=[1.0]))
    assert res.objective == pytest.approx(-ref.fun, rel=1e-6)
    for zk in res.class_fulfilment.values():
        assert (zk >= 1 - 1e-6).all()


def test_bread_first_in_cockshotts_example() -> None:
    """Bread first: year 1 gives bread all it can (0.5 of its target, as iron and coal bind)."""
    res = plan_years("cockshott-example", priorities={"bread": 1})
    assert res.status is Status.OPTIMAL
    h = res  # the example's own targets
    assert set(res.class_fulfilment) == {1, 2}
    m = np.array([p == "bread" for p in res.products])
    from gosplan import load_horizon

    hz = load_horizon("cockshott-example")
    s1 = solve(reference(hz, groups=[m], upper=[1.0]))
    assert np.nansum(res.class_fulfilment[1]) == pytest.approx(-s1.fun, rel=1e-6)
    assert h.consumption[m, 0] >= 0.5 * hz.targets[m, 0] - 1e-9


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"resources": {"steel": 1.0}}, "unknown resource 'steel'"),
        ({"resources": {"labour": [1.0, 2.0]}}, "2 yearly amounts"),
        ({"resources": {"labour": -1.0}}, "must be finite and >= 0"),
        ({"objective": "cost", "costs": {"labour": -1}}, "cost of resource 'labour'"),
        ({"costs": {"labour": 1}}, "costs weigh the cost objective"),
        ({"priorities": {"bread": 0}}, "integer >= 1"),
        ({"priorities": {"steel": 1}}, "unknown product 'steel'"),
        ({"objective": "harmony", "priorities": {"bread": 1}}, "priority classes apply"),
    ],
)
def test_bad_options_name_what_is_wrong(kwargs, words) -> None:
    with pytest.raises((InvalidEconomyError, ValueError), match=words):
        plan_years("cockshott-example", **kwargs)


def test_priority_classes_with_pdhg_hold_within_ten_tol() -> None:
    """A first-order stage is held at (1 - 10 tol) of its optimum: class 1 within that of HiGHS's."""
    h = cockshott_economy(8, 3, seed=2)
    h = replace(h, labour_supply=h.labour_supply * 0.7)
    targeted = np.flatnonzero((h.targets > 0).any(axis=1))
    first = targeted[: targeted.size // 2]
    tol = 1e-6
    res = plan_years(h, priorities={h.economy.products[i]: 1 for i in first}, method="pdhg", tol=tol)
    assert res.status is Status.OPTIMAL, res.message
    m1 = np.zeros(h.economy.n_products, dtype=bool)
    m1[first] = True
    opt1 = -solve(reference(h, groups=[m1], upper=[1.0])).fun
    z1 = np.nansum(res.class_fulfilment[1])
    assert opt1 * (1 - 10 * tol) * (1 - 1e-6) <= z1 <= opt1 * (1 + 1e-6)
    assert [s.name for s in res.stages][0].endswith("priority class 1")

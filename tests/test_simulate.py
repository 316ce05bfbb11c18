"""The plan cycle with consumer feedback against independent references.

* the Eisenberg–Gale program over the production set, in cvxpy + Clarabel
  (tests/_eisenberg_gale.py), whose optimum is the competitive equilibrium the
  ``opportunity`` rule must reach (and ``values`` too when labour alone is scarce);
* the competitive-equilibrium certificate written here: each group buys its CES demand at
  the loop's prices (the formula, not gosplan's market), and the delivered bundle is worth
  the most at those prices among everything the plan's constraints allow (an LP solved by
  scipy's HiGHS);
* a hand-solved economy (labour only, Cobb–Douglas: ``c_j = beta_j L / v_j``);
* conservation in every period: markets clear, budgets are spent or saved, stock is sold,
  diverted or left.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import gosplan
from gosplan.errors import InvalidEconomyError
from gosplan.io.households import household_demand
from gosplan.model.households import Households
from gosplan.planning.problem import _default_labour_available, planning_problem

from _eisenberg_gale import eisenberg_gale

pytestmark = pytest.mark.filterwarnings("ignore::gosplan.GosplanWarning")


def _households(economy, sigma, seed=1):
    """Groups around the table's household mix (square-rooted: no vanishing weights, which
    the reference's power cones cannot take), lognormal noise, the given elasticities."""
    y_h = household_demand(economy)
    goods = np.flatnonzero(y_h > 0)
    rng = np.random.default_rng(seed)
    H = len(sigma)
    w = np.sqrt(y_h[goods])[None, :] * rng.lognormal(0.0, 0.5, (H, goods.size))
    w /= w.sum(axis=1, keepdims=True)
    hh = Households(
        groups=[f"g{h}" for h in range(H)], population=np.arange(1.0, H + 1), budget=None,
        elasticity=np.asarray(sigma, dtype=float), goods=economy.products[goods], weights=sp.csr_array(w),
    )
    return hh, goods, w


def _demand(prices, weights, sigma, budgets):
    """CES demand ``c_hj = B_h a_hj p_j^-sigma_h / sum_k a_hk p_k^(1-sigma_h)``, written here."""
    out = np.empty_like(weights)
    for h in range(weights.shape[0]):
        a = weights[h] / weights[h].sum()
        out[h] = budgets[h] * a * prices ** (-sigma[h]) / np.sum(a * prices ** (1.0 - sigma[h]))
    return out


def _reference(economy, resources, capacities, w, sigma, goods, budgets, x_scale, c_scale):
    y_h = household_demand(economy)
    committed = economy.y - np.maximum(y_h, 0.0)
    prob = planning_problem(
        economy, targets=np.zeros(economy.n_products), resources=resources, capacities=capacities,
        committed=committed,
    )
    C, total, prices, mu, err = eisenberg_gale(
        prob.net, prob.make, prob.primary, prob.available, prob.capacity, committed, goods, w, sigma,
        budgets, x_scale=x_scale, c_scale=c_scale,
    )
    assert err < 2e-5, f"the reference itself is off by {err:.1e}"
    return prob, C, total, prices, mu


def _best_value(prob, goods, prices):
    """``max p'c`` over the plan's constraints (households' goods free, the rest committed):
    an LP in scipy's HiGHS, written here."""
    n, m = prob.n, prob.m
    G = goods.size
    E = sp.csr_array((np.ones(G), (goods, np.arange(G))), shape=(n, G))
    A_ub = [sp.hstack([-sp.csr_array(prob.net), E])]
    b_ub = [-prob.base]
    lim = np.flatnonzero(np.isfinite(prob.available))
    if lim.size:
        A_ub.append(sp.hstack([sp.csr_array(prob.primary)[lim], sp.csr_array((lim.size, G))]))
        b_ub.append(prob.available[lim])
    cap = np.flatnonzero(np.isfinite(prob.capacity))
    if cap.size:
        A_ub.append(sp.hstack([sp.csr_array(prob.make)[cap], sp.csr_array((cap.size, G))]))
        b_ub.append(prob.capacity[cap])
    res = linprog(
        np.concatenate([np.zeros(m), -prices]), A_ub=sp.vstack(A_ub, format="csr"), b_ub=np.concatenate(b_ub),
        bounds=(0, None), method="highs",
    )
    assert res.status == 0, res.message
    return -res.fun


def _certify(sim, prob, goods, weights, sigma):
    """The last period is a competitive equilibrium: demand at its prices, best value at its prices."""
    last = sim.prices[sim.prices.period == sim.n_periods]
    p = last["price"].to_numpy()
    supply = last["supply"].to_numpy()
    B = sim.groups[sim.groups.period == sim.n_periods]["budget"].to_numpy()
    demand = _demand(p, weights, sigma, B)
    np.testing.assert_allclose(demand.sum(axis=0), supply, rtol=1e-7)
    np.testing.assert_allclose(sim.final_consumption.toarray(), demand, rtol=1e-7, atol=0)
    best = _best_value(prob, goods, p)
    assert best <= p @ supply * (1 + 2e-5)  # within the plans' tolerance (plan_tol 1e-5)


SIGMA = [1.0, 1.2, 1.5, 2.5]


@pytest.fixture(scope="module")
def us2022():
    economy = gosplan.load("us-2022")
    use = _default_labour_available(economy)
    return economy, use


def test_opportunity_reaches_eisenberg_gale_with_another_resource_binding(us2022):
    economy, use = us2022
    hh, goods, w = _households(economy, SIGMA)
    resources = {"labour": use[0], "V003": 0.9 * use[2]}  # gross operating surplus held below its own use
    sim = gosplan.simulate(economy, hh, rule="opportunity", periods=40, tol=1e-7, resources=resources)
    assert sim.converged, sim.message
    B = hh.population / hh.population.sum()
    prob, C, total, prices, mu = _reference(
        economy, resources, None, w, np.asarray(SIGMA), goods, B, sim.plan.activity_level,
        household_demand(economy)[goods],
    )
    assert mu[0] > 0 and mu[2] > 0  # labour and V003 both bind at the equilibrium
    loop = sim.final_consumption.toarray()
    # Consumption within 1e-4 of the reference (its primal, and its prices' demand, which are
    # the more accurate part of an interior-point answer).
    np.testing.assert_allclose(loop.sum(axis=0), total, rtol=1e-4)
    np.testing.assert_allclose(loop, C, rtol=1e-4, atol=1e-4 * C.max())
    at_prices = _demand(prices, w, np.asarray(SIGMA), B)
    scale = loop.sum() / at_prices.sum()
    np.testing.assert_allclose(loop, scale * at_prices, rtol=1e-4)
    _certify(sim, prob, goods, w, np.asarray(SIGMA))
    # Clearing prices equal the plan's opportunity costs at the end.
    assert sim.periods["gap"].iloc[-1] < 1e-6


def test_values_matches_the_equilibrium_only_when_labour_alone_is_scarce(us2022):
    economy, use = us2022
    hh, goods, w = _households(economy, SIGMA)
    sigma = np.asarray(SIGMA)
    B = hh.population / hh.population.sum()
    labour_only = {"labour": use[0]}
    sim = gosplan.simulate(economy, hh, rule="values", periods=40, tol=1e-7, resources=labour_only)
    assert sim.converged, sim.message
    prob, C, total, prices, mu = _reference(
        economy, labour_only, None, w, sigma, goods, B, sim.plan.activity_level, household_demand(economy)[goods]
    )
    loop = sim.final_consumption.toarray()
    _certify(sim, prob, goods, w, sigma)
    np.testing.assert_allclose(loop.sum(axis=0), total, rtol=1e-4)
    assert sim.periods["shortage"].iloc[-1] < 1e-9

    # Another resource binding: values settles elsewhere, with shortages period after period.
    both = {"labour": use[0], "V003": 0.9 * use[2]}
    sim = gosplan.simulate(economy, hh, rule="values", periods=40, tol=1e-7, resources=both)
    assert sim.converged, sim.message  # a steady state ...
    opp = gosplan.simulate(economy, hh, rule="opportunity", periods=40, tol=1e-7, resources=both)
    _, C, total, _, mu = _reference(economy, both, None, w, sigma, goods, B, opp.plan.activity_level,
                                    household_demand(economy)[goods])
    assert mu[2] > 0
    loop = sim.final_consumption.toarray().sum(axis=0)
    assert np.max(np.abs(loop - total) / total) > 0.1  # ... that is not the equilibrium
    tail = sim.periods.tail(5)
    assert (tail["plan_shortfall"] > 0.05).all()  # the taut targets are never met
    assert opp.periods["welfare_per_head"].iloc[-1] > sim.periods["welfare_per_head"].iloc[-1]
    assert opp.periods["eg_objective"].iloc[-1] > sim.periods["eg_objective"].iloc[-1]


@pytest.mark.slow
def test_us2017_with_capacities_reaches_the_equilibrium():
    economy = gosplan.load("us-2017")
    use = _default_labour_available(economy)
    sigma = np.array([1.0, 1.5, 2.0])
    hh, goods, w = _households(economy, sigma, seed=3)
    labour = economy.resources.get_loc("labour")
    resources = {"labour": use[labour]}
    # Capacities 3 % below the uncapped equilibrium's output on a tenth of the consumer goods
    # (those mostly bought by households, so that the committed demand stays feasible).
    free = gosplan.simulate(economy, hh, rule="opportunity", periods=40, tol=1e-6, resources=resources)
    y_o = economy.y - np.maximum(household_demand(economy), 0.0)
    gross, net = free.plan.gross_output, free.plan.net_output
    candidates = goods[(y_o[goods] < 0.5 * net[goods]) & (net[goods] > 0.5 * gross[goods])]
    capped = np.random.default_rng(0).choice(candidates, min(candidates.size, economy.n_products // 10), replace=False)
    capacities = pd.Series(0.97 * gross[capped], index=economy.products[capped].astype(str))
    sim = gosplan.simulate(economy, hh, rule="opportunity", periods=40, tol=1e-6, resources=resources,
                           capacities=capacities)
    assert sim.converged, sim.message
    at_capacity = sim.plan.gross_output[capped] >= 0.97 * gross[capped] * (1 - 1e-6)
    assert at_capacity.sum() >= 5  # capacities bind at the equilibrium
    B = hh.population / hh.population.sum()
    # The production set the loop planned over: these capacities and those it gave the goods
    # that need no limited resource (noncomparable imports, used goods: the table's output).
    used = np.isfinite(sim.plan.capacity)
    assert {"S00300", "S00402"} <= set(economy.products[used]) and set(economy.products[capped]) <= set(economy.products[used])
    cap = pd.Series(sim.plan.capacity[used], index=economy.products[used].astype(str))
    prob, C, total, prices, mu = _reference(
        economy, resources, cap, w, sigma, goods, B, sim.plan.activity_level, household_demand(economy)[goods]
    )
    loop = sim.final_consumption.toarray()
    np.testing.assert_allclose(loop.sum(axis=0), total, rtol=1e-4)
    _certify(sim, prob, goods, w, sigma)


def test_hand_solved_labour_economy():
    """Two products, labour only, one Cobb–Douglas group: ``c_j = beta_j (L - l x_o) / v_j``."""
    A = np.array([[0.1, 0.2], [0.3, 0.1]])
    l = np.array([1.0, 2.0])
    y_o = np.array([1.0, 0.5])  # government
    y_h = np.array([3.0, 2.0])
    economy = gosplan.Economy.from_coefficients(
        A, l=l, demand=np.column_stack([y_o, y_h]), products=["bread", "cloth"],
        categories=["government", "Households"],
    )
    v = l @ np.linalg.inv(np.eye(2) - A)
    L = v @ (y_o + y_h)
    beta = np.array([0.25, 0.75])
    hh = Households(groups=["all"], population=[10.0], budget=None, elasticity=[1.0],
                    goods=["bread", "cloth"], weights=sp.csr_array(beta[None, :]))
    expect = beta * (L - v @ y_o) / v
    for rule in ("opportunity", "values"):
        sim = gosplan.simulate(economy, hh, rule=rule, periods=30, tol=1e-10)
        assert sim.converged, sim.message
        np.testing.assert_allclose(sim.final_consumption.toarray()[0], expect, rtol=1e-7)
        # Clearing prices proportional to labour values.
        p = sim.final_prices
        np.testing.assert_allclose(p / p[0], v / v[0], rtol=1e-7)
    fixed = gosplan.simulate(economy, hh, rule="fixed", periods=5)
    assert fixed.converged
    # The base-year mix (3 : 2) against wanted 0.25/v0 : 0.75/v1: bread is left, cloth queued for.
    last = fixed.prices[fixed.prices.period == fixed.n_periods].set_index("product")
    assert last.loc["bread", "unsold"] > 0 and last.loc["cloth", "queue"] > 0


def test_every_period_conserves(us2022):
    economy, use = us2022
    hh = gosplan.load_households(economy, groups=6, seed=2)
    for rule in ("opportunity", "fixed"):
        sim = gosplan.simulate(economy, hh, rule=rule, periods=4, tol=0.0)
        for t in range(1, sim.n_periods + 1):
            pr = sim.prices[sim.prices.period == t]
            cons = sim.consumption[sim.consumption.period == t] if sim.consumption_periods == "all" else None
            supply = pr["supply"].to_numpy()
            if rule == "opportunity":
                # Markets clear: what the groups consume is what was delivered.
                bought = cons.groupby("product")["quantity"].sum().reindex(pr["product"]).to_numpy()
                np.testing.assert_allclose(bought, supply, rtol=1e-7)
                spent = (cons.merge(pr[["product", "price"]], on="product")
                         .assign(v=lambda d: d.quantity * d.price).groupby("household")["v"].sum())
                budgets = sim.groups[sim.groups.period == t].set_index("household")["budget"]
                np.testing.assert_allclose(spent.reindex(budgets.index).to_numpy(), budgets.to_numpy(), rtol=1e-7)
            else:
                bought = cons.groupby("product")["quantity"].sum().reindex(pr["product"]).fillna(0).to_numpy()
                # Every unit delivered is bought (officially or on the hidden market) or left unsold.
                np.testing.assert_allclose(bought + pr["unsold"].to_numpy(), supply, rtol=1e-7, atol=1e-9 * supply.max())


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), n=st.integers(3, 7), sigma=st.sampled_from([0.5, 1.0, 1.3, 2.0]))
@example(seed=0, n=5, sigma=0.5)  # the reference's own error 2.3e-5 there
@example(seed=45933, n=5, sigma=1.3)  # not settled at 1e-10 with plans solved to 1e-5
def test_labour_only_rules_agree_with_the_equilibrium(seed, n, sigma):
    """Random productive economies, labour alone scarce: opportunity = values = Eisenberg–Gale."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    A *= 0.6 / A.sum(axis=0).clip(min=1e-9).max()
    l = rng.uniform(0.5, 2.0, n)
    y_h = rng.uniform(1.0, 3.0, n)
    y_o = rng.uniform(0.0, 1.0, n)
    names = [f"p{i}" for i in range(n)]
    economy = gosplan.Economy.from_coefficients(A, l=l, demand=np.column_stack([y_o, y_h]),
                                                products=names, categories=["government", "Households"])
    w = rng.uniform(0.2, 1.0, (2, n))
    w /= w.sum(axis=1, keepdims=True)
    hh = Households(groups=["a", "b"], population=[1.0, 3.0], budget=None, elasticity=[1.0, sigma],
                    goods=names, weights=sp.csr_array(w))
    results = {r: gosplan.simulate(economy, hh, rule=r, periods=60, tol=1e-7, plan_tol=1e-8) for r in ("opportunity", "values")}
    B = np.array([0.25, 0.75])
    prob = planning_problem(economy, targets=np.zeros(n), committed=y_o)
    C, total, prices, mu, err = eisenberg_gale(prob.net, prob.make, prob.primary, prob.available, prob.capacity,
                                               y_o, np.arange(n), w, np.array([1.0, sigma]), B)
    assert err < 5e-5  # the reference's own accuracy (power cones for sigma < 1 reach ~2e-5)
    for rule, sim in results.items():
        assert sim.converged, (rule, sim.message)
        _certify(sim, prob, np.arange(n), w, np.array([1.0, sigma]))
        # Each good's consumption within 1e-4; each group's within 1e-3, the reference's own
        # accuracy per group (the certificate above holds the loop's answer to 1e-8).
        loop = sim.final_consumption.toarray()
        np.testing.assert_allclose(loop.sum(axis=0), C.sum(axis=0), rtol=1e-4)
        np.testing.assert_allclose(loop, C, rtol=1e-3, atol=1e-7)


def test_bad_arguments():
    economy = gosplan.load("us-2022")
    with pytest.raises(InvalidEconomyError, match="unknown rule"):
        gosplan.simulate(economy, rule="market-socialism")
    with pytest.raises(InvalidEconomyError, match="step"):
        gosplan.simulate(economy, step=1.5)
    with pytest.raises(InvalidEconomyError, match="hidden_share"):
        gosplan.simulate(economy, rule="fixed", hidden_share=1.0)
    with pytest.raises(InvalidEconomyError, match="household final-demand"):
        gosplan.simulate(gosplan.load("cockshott-example"))


def test_least_cost_plans_reach_the_same_equilibrium(us2022):
    """The loop with the cost objective (targets met at least cost) ends where the plan ray does."""
    economy, use = us2022
    hh = gosplan.load_households(economy, groups=5, seed=1)
    resources = {"labour": use[0], "V003": 0.9 * use[2]}
    ray = gosplan.simulate(economy, hh, rule="opportunity", resources=resources, periods=40, tol=1e-6)
    cost = gosplan.simulate(economy, hh, rule="opportunity", objective="cost", resources=resources, periods=40,
                            tol=1e-6)
    assert ray.converged and cost.converged
    np.testing.assert_allclose(cost.final_consumption.toarray(), ray.final_consumption.toarray(), rtol=1e-4,
                               atol=1e-9 * ray.final_consumption.max())
    # values, with the same synthetic groups: a steady state short of its taut targets.
    before = hh.weights.copy()
    values = gosplan.simulate(economy, hh, rule="values", resources=resources, periods=40)
    # The households come back as they went in (consumption matrices once shared their indices,
    # and sorting those in place scrambled the preferences of unsorted synthetic groups).
    assert (hh.weights != before).nnz == 0 and np.array_equal(hh.weights.indices, before.indices)
    assert values.converged, values.message
    assert values.periods["plan_shortfall"].iloc[-1] > 0.5
    assert values.periods["welfare_per_head"].iloc[-1] < ray.periods["welfare_per_head"].iloc[-1]


def _harmony_economy():
    """Three goods, labour only, households' targets four orders of magnitude apart."""
    A = np.array([[0.1, 0.05, 0.0], [0.2, 0.1, 0.1], [0.0, 0.1, 0.2]])
    l = np.array([1.0, 0.5, 2.0])
    y_o = np.array([1.0, 2.0, 0.5])
    y_h = np.array([100.0, 1.0, 0.01])
    economy = gosplan.Economy.from_coefficients(
        A, l=l, demand=np.column_stack([y_o, y_h]), products=["bread", "cloth", "salt"],
        categories=["government", "Households"],
    )
    v = l @ np.linalg.inv(np.eye(3) - A)
    hh = Households(groups=["all"], population=[1.0], budget=None, elasticity=[1.0],
                    goods=["bread", "cloth", "salt"], weights=sp.csr_array(np.array([[0.6, 0.3, 0.1]])))
    return economy, hh, v, y_o, y_h


def _first_delivery(sim):
    first = sim.prices[sim.prices.period == 1]
    return first["supply"].to_numpy()


def test_harmony_loop_weighs_targets_by_value():
    """Under harmony the loop weighs each target by its value at labour values (``w = v c``):
    with labour the only limit, ``w_i H'(s_i) / c_i = mu v_i`` gives ``H'(s_i) = mu`` for all
    goods, so the first plan delivers the targets themselves (the labour left is exactly theirs).
    With unit weights ``H'(s_i) = mu v_i c_i``: solved here for ``mu`` by bisection on the
    labour the households' goods take."""
    economy, hh, v, y_o, y_h = _harmony_economy()
    sim = gosplan.simulate(economy, hh, objective="harmony", periods=1, method="leontief")
    assert sim.settings["weights"] == "value"
    assert not sim.converged and sim.message.startswith("stopped after 1 period without"), sim.message
    np.testing.assert_allclose(_first_delivery(sim), y_h, rtol=1e-5)

    unit = gosplan.simulate(economy, hh, objective="harmony", periods=1, method="leontief", weights="unit")
    left = float(v @ y_h)  # labour for the households' goods: the table's total less v y_o
    c = unit.prices[unit.prices.period == 1]["target"].to_numpy()  # y_h, a hair inside the frontier

    def delivered(mu):
        g = mu * v * c  # H'(s) = g, weight 1: s = 1/g - 1 (g <= 1), 1 - g (g < 2), else -1
        s = np.where(g <= 1, 1 / g - 1, np.where(g < 2, 1 - g, -1.0))
        return c * (1 + s)

    lo, hi = 1e-9, 1e9
    for _ in range(200):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if v @ delivered(mid) > left else (lo, mid)
    expect = delivered(np.sqrt(lo * hi))
    assert expect[0] < 0.5 * y_h[0] and expect[2] > 10 * y_h[2]  # the case the value weights mend
    np.testing.assert_allclose(_first_delivery(unit), expect, rtol=1e-5, atol=1e-7)

    # Weights given: as gosplan.plan takes them (here the value weights, by hand).
    w = v * y_h / np.mean(v * y_h)
    given_ = gosplan.simulate(economy, hh, objective="harmony", periods=1, method="leontief", weights=w)
    assert given_.settings["weights"] == "given"
    np.testing.assert_allclose(_first_delivery(given_), y_h, rtol=1e-5)
    with pytest.raises(InvalidEconomyError, match="unknown weights"):
        gosplan.simulate(economy, hh, objective="harmony", weights="values")


@pytest.mark.filterwarnings("ignore")
def test_values_rule_keeps_the_capacity_of_goods_that_need_no_labour():
    """us-2017-domestic under the values rule: the centre believes labour alone is scarce, and its
    belief dropped every capacity, also that of used goods (made from nothing, capped at the
    table's output so that the plan stays bounded). Free in the belief, their valuation was 0,
    their target rose without end and the loop ended with 100 % shortage and price ratios of
    1e17, the cost plan infeasible in period 2, harmony's revision failing. Kept, the loop
    converges, every target met."""
    economy = gosplan.load("us-2017-domestic")
    hh = gosplan.load_households(economy, groups=3)
    for objective in ("fulfilment", "cost"):
        sim = gosplan.simulate(economy, hh, rule="values", objective=objective, periods=12)
        assert sim.converged, (objective, sim.message)
        assert sim.periods["shortage"].iloc[-1] < 1e-6
        assert sim.periods["gap"].iloc[-1] < 1e-4

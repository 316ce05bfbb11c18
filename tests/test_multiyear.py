"""Multi-year plans against independent references.

* Cockshott's LP written out as his ``nyearplan`` writes it (``tests/_cockshott_lp.py``,
  flows, labour, consumption and stocks as variables) and solved by HiGHS: his example
  and random economies, every backend, optimum to 1e-6 relative;
* the model written again in cvxpy with stock variables (Clarabel): discounting, terminal
  conditions, growth targets and the harmony objective;
* every constraint of the plan re-checked from the result's own tables (not the LP);
* prices by finite differences of the optimum (labour supply, initial stocks, product balances);
* bad input, infeasible plans and the CLI.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import gosplan
from gosplan import Status
from gosplan.datasets import dataset_path
from gosplan.errors import InvalidEconomyError
from gosplan.model import Economy, Horizon
from gosplan.multiyear import plan_years
from gosplan.multiyear.formulate import formulate, multiyear_problem
from gosplan.synth.horizon import cockshott_economy

sys.path.insert(0, str(Path(__file__).parent))
from _cockshott_lp import cockshott_lp, read_four_files, solve_highs  # noqa: E402

RANDOM = settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
EXACT = ("highs", "highs-ipm")


def literal(h: Horizon, weights=None) -> float:
    """Optimum of Cockshott's LP, written out variable by variable, for the horizon ``h``."""
    x0 = h.base_output
    Z = h.economy.use.toarray() * x0
    built = cockshott_lp(
        Z, h.capital.toarray(), h.depreciation.toarray(), h.labour_coefficients * x0, x0, h.targets.T,
        h.labour_supply, weights=weights,
    )
    obj, _, _, status = solve_highs(*built[:6])
    assert status.endswith("kOptimal"), status
    return obj


def horizon_of_example() -> Horizon:
    """Cockshott's example read by the csv module alone (no gosplan reader)."""
    d = read_four_files(dataset_path("cockshott-example"))
    x0 = d["x0"]
    inv = np.where(x0 > 0, 1 / np.where(x0 > 0, x0, 1), 0)
    eco = Economy.from_coefficients(d["Z"] * inv, products=d["products"], l=d["lab"] * inv, y=d["targ"][0],
                                    recorded_output=x0)
    return Horizon(eco, d["K"], d["delta"], x0, [f"year{t + 1}" for t in range(len(d["L"]))], d["L"], d["targ"].T)


def check_constraints(res, h: Horizon, tol: float = 1e-6) -> None:
    """Every constraint of the model, from the result's tables."""
    assert res.status is Status.OPTIMAL, res.message
    scale = 1.0 + np.abs(res.output).max()
    assert (res.level >= -tol * scale).all()
    assert (res.investment >= -tol * scale).all()
    # balance and targets: c = O x - U x - acc >= z target (>= 0 without a target)
    if h.economy.make is None:
        assert np.array_equal(res.output, res.level)
    assert np.allclose(res.consumption, res.output - res.intermediate - res.accumulation, atol=tol * scale)
    if res.objective_kind == "fulfilment":
        need = np.nan_to_num(res.fulfilment)[None, :] * h.targets
        assert (res.consumption - need >= -tol * scale).all()
    assert (res.consumption >= -tol * scale).all()
    # labour
    assert (res.labour_used <= h.labour_supply + tol * (1 + h.labour_supply)).all()
    # capital: b x <= S, S_{t+1} = (1 - delta) S_t + acc_t, S_1 = K
    assert (res.required <= res.stock + tol * (1 + res.stock)).all()
    K = h.capital.toarray()[res.stock_product, res.stock_activity]
    delta = h.depreciation.toarray()[res.stock_product, res.stock_activity]
    assert np.allclose(res.stock[:, 0], K)
    for t in range(1, len(res.years)):
        assert np.allclose(res.stock[:, t], (1 - delta) * res.stock[:, t - 1] + res.investment[:, t - 1], atol=tol * scale)
    # accumulation by product = investment summed over the stocks of that product
    acc = np.zeros_like(res.accumulation)
    np.add.at(acc, res.stock_product, res.investment)
    assert np.allclose(acc, res.accumulation, atol=1e-9 * scale)
    # not-operated activities stay idle
    assert np.all(res.level[h.base_output == 0] == 0)


# ---------------------------------------------------------------------------- Cockshott's example
@pytest.mark.parametrize("method", ["auto", "highs", "highs-ipm", "pdhg"])
def test_cockshott_example_equals_his_lp(method: str) -> None:
    h = horizon_of_example()
    ref = literal(h)
    res = plan_years(h, method=method, tol=1e-7 if method == "pdhg" else 1e-6)
    assert res.objective == pytest.approx(ref, rel=1e-6)
    check_constraints(res, h)


def test_bundled_example_reads_as_the_csv_files() -> None:
    """The dataset loader and the csv-module reading give the same plan."""
    res = gosplan.plan_years("cockshott-example")
    assert res.objective == pytest.approx(literal(horizon_of_example()), rel=1e-9)
    assert list(res.products) == ["iron", "coal", "corn", "bread"]
    # Cockshott's plan gives up consumption in year 1 to build stocks (his example's point).
    assert res.fulfilment[0] < res.fulfilment[1:].min()
    assert res.investment[:, 0].sum() > 0


def test_years_truncates_the_horizon() -> None:
    h = horizon_of_example()
    res = plan_years(h, years=3)
    assert list(res.years) == ["year1", "year2", "year3"]
    assert res.objective == pytest.approx(literal(h.with_years(3)), rel=1e-6)
    with pytest.raises(InvalidEconomyError, match="5 years"):
        plan_years(h, years=6)


# ---------------------------------------------------------------------------- random economies
def random_horizon(seed: int, n: int, years: int) -> Horizon:
    """Cockshott's random economy with depreciation rates and labour supply perturbed."""
    h = cockshott_economy(n, years, seed=seed)
    rng = np.random.default_rng([seed, 99])
    D = h.depreciation.copy()
    D.data = rng.choice([0.0, 0.05, 0.2, 0.5, 1.0], size=D.nnz)
    L = h.labour_supply * rng.uniform(0.7, 1.3, size=years)
    return replace(h, depreciation=D, labour_supply=L)


@RANDOM
@given(seed=st.integers(0, 10_000), n=st.integers(2, 14), years=st.integers(1, 5))
def test_random_economies_equal_his_lp(seed: int, n: int, years: int) -> None:
    h = random_horizon(seed, n, years)
    ref = literal(h)
    for method in EXACT:
        res = plan_years(h, method=method)
        assert res.objective == pytest.approx(ref, rel=1e-6, abs=1e-9), method
        check_constraints(res, h)


@pytest.mark.parametrize("seed", [31, 32])
def test_larger_random_economies_equal_his_lp(seed: int) -> None:
    h = cockshott_economy(60, 5, seed=seed)
    ref = literal(h)
    for method in EXACT:
        res = plan_years(h, method=method)
        assert res.objective == pytest.approx(ref, rel=1e-6), method
        check_constraints(res, h)


def test_uk_2015_equals_his_lp() -> None:
    """The real UK tables with their capital stocks (129 products): his LP and gosplan agree."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's data-quality warnings are tested in test_io_horizon
        h = gosplan.load_horizon("uk-2015")
    res = plan_years(h)
    assert res.objective == pytest.approx(literal(h), rel=1e-6)
    check_constraints(res, h)


@pytest.mark.parametrize("seed", [1, 2])
def test_pdhg_reaches_the_optimum(seed: int) -> None:
    h = random_horizon(seed, 30, 5)
    ref = literal(h)
    res = plan_years(h, method="pdhg", tol=1e-6)  # run at 1e-7: within ~tol of the optimum
    assert res.objective == pytest.approx(ref, rel=3e-6)  # the gap is relative to 1 + |P| + |D|
    check_constraints(res, h, tol=1e-6)


def test_discounting_equals_weighted_lp() -> None:
    h = random_horizon(5, 12, 5)
    r = 0.1
    res = plan_years(h, discount=r)
    w = (1 + r) ** -np.arange(5)
    assert np.allclose(res.weights, w)
    assert res.objective == pytest.approx(literal(h, weights=w), rel=1e-6)
    assert res.objective == pytest.approx(float(w @ res.fulfilment), rel=1e-9)


# ---------------------------------------------------------------------------- cvxpy reference
def cvxpy_plan(h: Horizon, *, objective="fulfilment", discount=0.0, terminal=None, growth=None) -> float:
    """The model with stock variables S[k, t] (t = 1..T+1), written in cvxpy, solved by Clarabel."""
    import cvxpy as cp

    eco = h.economy
    n, T, m = eco.n_products, h.n_years, eco.n_activities
    A = eco.use.toarray()
    O = eco.make.toarray() if eco.make is not None else np.eye(n)
    x0 = h.base_output
    Kc = sp.coo_array(h.capital)
    ks = list(zip(Kc.row, Kc.col))
    Kv = Kc.data
    delta = np.array([h.depreciation[i, j] for i, j in ks])
    b = np.array([Kv[q] / x0[j] if x0[j] > 0 else 0.0 for q, (i, j) in enumerate(ks)])
    lab = h.labour_coefficients
    w = (1 + discount) ** -np.arange(T)
    x = cp.Variable((m, T), nonneg=True)
    acc = cp.Variable((len(ks), T), nonneg=True)
    S = cp.Variable((len(ks), T + 1), nonneg=True)
    G = np.zeros((n, len(ks)))
    for q, (i, j) in enumerate(ks):
        G[i, q] = 1.0
    cons = [S[:, 0] <= Kv, x[x0 == 0, :] == 0] if (x0 == 0).any() else [S[:, 0] <= Kv]
    cons.append(acc[:, T - 1] == 0) if terminal is None else None
    J = np.array([j for (_, j) in ks])
    obj = 0
    for t in range(T):
        c = O @ x[:, t] - A @ x[:, t] - G @ acc[:, t]
        cons += [c >= 0, lab @ x[:, t] <= h.labour_supply[t]]
        cons += [cp.multiply(b, x[J, t]) <= S[:, t], S[:, t + 1] <= cp.multiply(1 - delta, S[:, t]) + acc[:, t]]
        tg = h.targets[:, t]
        on = np.flatnonzero(tg > 0)
        if objective == "fulfilment":
            z = cp.Variable(nonneg=True)
            cons.append(c[on] >= z * tg[on])
            obj = obj + w[t] * z
        else:
            p = cp.Variable(on.size, nonneg=True)
            qv = cp.Variable(on.size, nonneg=True)
            cons += [c[on] == cp.multiply(tg[on], 1 + p - qv), p - qv >= -1]
            obj = obj + w[t] * (cp.sum(cp.log(1 + p) - qv) - 0.5 * cp.sum_squares(qv))
    if terminal is not None:
        cons.append(S[:, T] >= terminal * Kv)
    if growth:
        for label, g in growth.items():
            j = eco.activities.get_loc(label)
            for t in range(T - 1):
                cons.append(x[j, t + 1] >= (1 + g) * x[j, t])
    prob = cp.Problem(cp.Maximize(obj), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if prob.status == cp.INFEASIBLE:
        return None
    assert prob.status == cp.OPTIMAL, prob.status
    return float(prob.value)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_terminal_condition_matches_cvxpy(seed: int) -> None:
    h = random_horizon(seed, 10, 4)
    for g in (0.0, 0.5, 1.0, 1.3):
        res = plan_years(h, terminal=g)
        ref = cvxpy_plan(h, terminal=g)
        if ref is None:  # both find the condition out of reach
            assert res.status is Status.INFEASIBLE and res.conflict
            continue
        assert res.objective == pytest.approx(ref, rel=1e-6, abs=1e-8)
        check_constraints(res, h)
        K = h.capital.toarray()[res.stock_product, res.stock_activity]
        assert (res.end_stock >= g * K - 1e-7 * (1 + K)).all()
    # without a condition the plan is the same as with g = 0 (the last year's investment is useless)
    assert plan_years(h).objective == pytest.approx(plan_years(h, terminal=0.0).objective, rel=1e-9)


def test_growth_targets_match_cvxpy() -> None:
    h = random_horizon(7, 10, 4)
    ops = h.economy.activities[h.base_output > 0][:3]
    growth = {ops[0]: 0.05, ops[1]: 0.0, ops[2]: 0.2}
    res = plan_years(h, growth=growth)
    assert res.objective == pytest.approx(cvxpy_plan(h, growth=growth), rel=1e-6, abs=1e-8)
    for label, g in growth.items():
        j = h.economy.activities.get_loc(label)
        assert (res.level[j, 1:] >= (1 + g) * res.level[j, :-1] - 1e-7 * (1 + res.level[j, :-1])).all()
    assert res.objective <= plan_years(h).objective + 1e-9


@pytest.mark.parametrize("seed", [11, 12])
def test_harmony_matches_cvxpy(seed: int) -> None:
    h = random_horizon(seed, 8, 3)
    ref = cvxpy_plan(h, objective="harmony", discount=0.05)
    for method, tol in (("highs", 1e-6), ("pdhg", 1e-7)):
        res = plan_years(h, objective="harmony", discount=0.05, method=method, tol=tol)
        assert res.status is Status.OPTIMAL, res.message
        assert res.objective == pytest.approx(ref, rel=1e-5, abs=1e-6), method
        check_constraints(res, h, tol=1e-5)


def test_fulfilment_matches_cvxpy_too() -> None:
    """Both references agree with each other and with gosplan on one case."""
    h = random_horizon(21, 9, 4)
    ref = literal(h)
    assert cvxpy_plan(h) == pytest.approx(ref, rel=1e-6)
    assert plan_years(h).objective == pytest.approx(ref, rel=1e-6)


def test_choice_of_techniques_matches_cvxpy() -> None:
    """Second techniques for some products (their own inputs, labour and capital): the plan
    uses the make matrix O, and its optimum equals the cvxpy model's."""
    base = random_horizon(9, 8, 4)
    eco = base.economy
    n = eco.n_products
    rng = np.random.default_rng(9)
    alt = np.flatnonzero(base.base_output > 0)[:3]
    U = sp.hstack([eco.use, sp.csr_array(eco.use[:, alt].toarray() * rng.uniform(0.5, 1.5, (n, alt.size)))])
    l = np.concatenate([base.labour_coefficients, base.labour_coefficients[alt] * rng.uniform(0.6, 1.4, alt.size)])
    O = sp.hstack([sp.eye_array(n), sp.eye_array(n, format="csc")[:, alt]])
    acts = list(eco.products) + [f"{eco.products[j]}-b" for j in alt]
    two = Economy(products=eco.products, use=U, primary=l.reshape(1, -1), resources=["labour"],
                  demand=eco.demand, categories=eco.categories, make=O, activities=acts,
                  recorded_output=eco.recorded_output, meta=eco.meta)
    K = sp.hstack([base.capital, sp.csr_array(base.capital[:, alt].toarray() * rng.uniform(0.5, 1.5, (n, alt.size)))])
    D = sp.hstack([base.depreciation, base.depreciation[:, alt]])
    h = Horizon(two, K, D, np.concatenate([base.base_output, base.base_output[alt]]), base.years,
                base.labour_supply, base.targets)
    res = plan_years(h)
    assert res.objective == pytest.approx(cvxpy_plan(h), rel=1e-6)
    assert res.objective >= plan_years(base).objective - 1e-9  # more techniques never hurt
    assert res.level[n:].sum() > 0  # and here the second techniques are used
    assert np.allclose(res.output, O @ res.level)
    check_constraints(res, h)


# ---------------------------------------------------------------------------- prices
def _value(h: Horizon, **kw) -> float:
    res = plan_years(h, method="highs", **kw)
    assert res.status is Status.OPTIMAL
    return res.objective


def test_labour_prices_are_derivatives() -> None:
    """λ_t lies between the one-sided derivatives of the optimum in L_t (equal where smooth)."""
    h = horizon_of_example()
    res = plan_years(h, method="highs")
    eps = 1e-6
    for t in range(h.n_years):
        up = h.labour_supply.copy()
        up[t] += eps
        dn = h.labour_supply.copy()
        dn[t] -= eps
        right = (_value(replace(h, labour_supply=up)) - res.objective) / eps
        left = (res.objective - _value(replace(h, labour_supply=dn))) / eps
        assert right - 1e-5 <= res.labour_price[t] <= left + 1e-5
    assert (res.labour_price >= 0).all()
    assert res.labour_price[1:].min() > 0  # labour binds after the first year


def test_stock_rents_are_derivatives() -> None:
    """d(optimum)/d K_k = sum_t (1 - delta_k)^(t-1) r_{k,t}: the value of one more unit of
    initial stock k (its capital coefficient b_k unchanged), by moving the right-hand sides
    rho^(t-1) K_k of its capital rows."""
    from gosplan.optim.highs import solve_highs as gs

    h = horizon_of_example()
    res = plan_years(h, method="highs")
    lp, layout = formulate(multiyear_problem(h))
    delta = h.depreciation.toarray()[res.stock_product, res.stock_activity]
    eps = 1e-6
    for q in range(res.stock_product.size):
        shift = (1 - delta[q]) ** np.arange(h.n_years)
        rows = layout.capital_start + q

        def opt(d):
            lp2 = replace(lp, row_upper=lp.row_upper.copy())
            lp2.row_upper[rows] += d * shift
            return -gs(lp2, method="simplex", tol=1e-10).objective

        value = shift @ res.rent[q]
        right = (opt(eps) - res.objective) / eps
        left = (res.objective - opt(-eps)) / eps
        assert right - 1e-5 <= value <= left + 1e-5, (q, right, value, left)
        assert (res.rent[q] >= -1e-12).all()


def test_product_prices_are_derivatives() -> None:
    """p_{i,t}: the gain from one more unit of product i available in year t."""
    h = random_horizon(8, 6, 3)
    res = plan_years(h, method="highs")
    lp, layout = formulate(multiyear_problem(h))
    from gosplan.optim.highs import solve_highs as gs

    eps = 1e-6
    for t in range(h.n_years):
        for i in range(h.economy.n_products):
            row = layout.balance_start[t] + i

            def opt(d):
                lp2 = replace(lp, row_lower=lp.row_lower.copy())
                lp2.row_lower[row] -= d  # d units of i given to the economy in year t
                return -gs(lp2, method="simplex", tol=1e-10).objective

            right = (opt(eps) - res.objective) / eps
            left = (res.objective - opt(-eps)) / eps
            p = res.price[i, t]
            assert p >= 0
            assert right - 1e-5 <= p <= left + 1e-5, (t, i, right, p, left)


# ---------------------------------------------------------------------------- frames, files
def test_frames_are_consistent() -> None:
    res = gosplan.plan_years("cockshott-example")
    T = len(res.years)
    pf = res.products_frame()
    assert len(pf) == 4 * T
    assert np.allclose(pf.output - pf.intermediate - pf.accumulation, pf.consumption)
    sf = res.stocks_frame()
    assert len(sf) == res.stock_product.size * T
    assert set(sf.columns) == {"year", "product", "activity", "stock", "required", "investment", "depreciation", "rent"}
    yf = res.years_frame()
    assert list(yf.year) == [str(y) for y in res.years]
    assert np.allclose(yf.fulfilment, res.fulfilment)
    af = res.activities_frame()
    assert (af.level <= af.capacity * (1 + 1e-9) + 1e-12).all()
    summary = res.summary()
    json.dumps(summary)
    assert summary["status"] == "optimal" and summary["capital_stocks"] == 9
    html = res.to_html()
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html


def test_write_csv_and_parquet(tmp_path: Path) -> None:
    res = gosplan.plan_years("cockshott-example")
    for fmt in ("csv", "parquet"):
        paths = res.write(tmp_path / fmt, format=fmt)
        names = sorted(p.name for p in paths)
        assert names == sorted([f"years.{fmt}", f"products.{fmt}", f"activities.{fmt}", f"stocks.{fmt}",
                                "summary.json", "report.html"])
    import pandas as pd

    a = pd.read_csv(tmp_path / "csv" / "products.csv")
    b = pd.read_parquet(tmp_path / "parquet" / "products.parquet")
    assert np.allclose(a.consumption, b.consumption, rtol=1e-9)


# ---------------------------------------------------------------------------- errors
def test_bad_options_name_what_is_wrong() -> None:
    h = horizon_of_example()
    with pytest.raises(InvalidEconomyError, match="unknown activity 'steel'"):
        plan_years(h, growth={"steel": 0.1})
    with pytest.raises(InvalidEconomyError, match="growth rate of 'iron'"):
        plan_years(h, growth={"iron": -2})
    with pytest.raises(ValueError, match="discount"):
        plan_years(h, discount=-0.1)
    with pytest.raises(ValueError, match="terminal"):
        plan_years(h, terminal=float("nan"))
    with pytest.raises(ValueError, match="objective"):
        plan_years(h, objective="profit")
    with pytest.raises(InvalidEconomyError, match="unknown method"):
        plan_years(h, method="leontief")


def test_bad_horizons_name_the_cell() -> None:
    h = horizon_of_example()
    D = h.depreciation.toarray()
    D[0, 1] = -0.1
    with pytest.raises(InvalidEconomyError, match="depreciation rate of 'iron' held by 'coal' is -0.1"):
        replace(h, depreciation=D)
    D[0, 1] = 1.5
    with pytest.raises(InvalidEconomyError, match="above 1"):
        replace(h, depreciation=D)
    L = h.labour_supply.copy()
    L[2] = np.nan
    with pytest.raises(InvalidEconomyError, match="labour supply in year 'year3'"):
        replace(h, labour_supply=L)
    with pytest.raises(InvalidEconomyError, match="labour_supply has 4 years, the horizon has 5"):
        replace(h, labour_supply=L[:4])
    tg = h.targets.copy()
    tg[1, 0] = -1
    with pytest.raises(InvalidEconomyError, match="target of 'coal' in year 'year1'"):
        replace(h, targets=tg)
    K = h.capital.toarray()
    K[3, 0] = -2
    with pytest.raises(InvalidEconomyError, match="capital stock of 'bread' held by 'iron'"):
        replace(h, capital=K)
    with pytest.raises(InvalidEconomyError, match="appears twice"):
        replace(h, years=["y1", "y1", "y2", "y3", "y4"])


def test_infeasible_terminal_condition_is_explained() -> None:
    res = plan_years(horizon_of_example(), terminal=1000.0)
    assert res.status is Status.INFEASIBLE
    assert any("terminal condition" in line for line in res.conflict), res.conflict
    with pytest.raises(gosplan.planning.InfeasiblePlanError):
        res.raise_for_status()


# ---------------------------------------------------------------------------- CLI
def test_cli_years(tmp_path: Path) -> None:
    from gosplan.cli.app import app

    runner = CliRunner()
    out = tmp_path / "plan"
    r = runner.invoke(app, ["plan", "cockshott-example", "--years", "5", "--out", str(out), "--format", "parquet"])
    assert r.exit_code == 0, r.output
    assert "multi-year plan" in r.output and "year5" in r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(literal(horizon_of_example()), rel=1e-6)
    assert summary["files"]["stocks"] == "stocks.parquet"
    assert (out / "report.html").exists() and (out / "years.parquet").exists()
    r = runner.invoke(app, ["plan", "cockshott-example", "--years", "3", "--json", "--discount", "0.05", "--terminal", "1"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["years"] == ["year1", "year2", "year3"] and data["detail"]["terminal"] == 1.0
    growth = tmp_path / "growth.csv"
    growth.write_text("activity,rate\niron,0.1\n")
    r = runner.invoke(app, ["plan", "cockshott-example", "--years", "5", "--growth", str(growth), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["detail"]["growth_targets"] == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["--years", "5", "--targets", "t.csv"], "--targets"),
        (["--discount", "0.1"], "only with --years"),
        # cost is offered over several years now: Cockshott's full targets cannot all be met
        # from year 1's stocks, and the conflict is named
        (["--years", "5", "--objective", "cost"], "infeasible"),
        (["--years", "5", "--method", "leontief"], "--method"),
        (["--years", "9"], "cannot plan 9"),
    ],
)
def test_cli_years_errors(args, words, tmp_path: Path) -> None:
    from gosplan.cli.app import app

    (tmp_path / "t.csv").write_text("product,quantity\niron,1\n")
    r = CliRunner().invoke(app, ["plan", "cockshott-example", *[a.replace("t.csv", str(tmp_path / "t.csv")) for a in args]])
    assert r.exit_code != 0
    assert words in r.output


def test_cli_infeasible_exit_code() -> None:
    from gosplan.cli.app import app

    r = CliRunner().invoke(app, ["plan", "cockshott-example", "--years", "5", "--terminal", "1000"])
    assert r.exit_code == 3
    assert "terminal condition" in r.output


def test_summary_says_which_capital_stocks_bind() -> None:
    """Per year the summary counts the stocks used to their limit and those with a rent, and
    names the dearest: a priced stock is at its limit (complementary slackness of gosplan's
    certified plan), and the dearest is the one with the largest rent in the result's arrays."""
    from gosplan.multiyear import plan_years

    res = plan_years("cockshott-example", years=3)
    assert res.status is gosplan.Status.OPTIMAL
    capital = res.summary()["capital"]
    assert list(capital) == [str(y) for y in res.years]
    assert all(capital[str(y)]["priced"] > 0 for y in res.years)  # stocks bind in every year here
    for t, y in enumerate(res.years):
        rec = capital[str(y)]
        priced = res.rent[:, t] > 1e-9 * max(float(res.rent.max()), 1.0)
        at_limit = (res.stock[:, t] > 0) & (res.required[:, t] >= (1 - 1e-7) * res.stock[:, t])
        assert rec["at_limit"] == int(at_limit.sum())
        assert rec["priced"] >= int(priced.sum()) and not (priced & ~at_limit).any()
        if priced.any():
            k = int(np.argmax(res.rent[:, t]))
            assert rec["dearest"][0] == f"{res.products[res.stock_product[k]]} in {res.activities[res.stock_activity[k]]}"

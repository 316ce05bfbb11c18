"""The Leontief method (decomposition over scarce resources with substitution
subproblems) against HiGHS on the same plans: objective, per-class fulfilment, prices."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import gosplan
from gosplan import Economy, InvalidEconomyError, Status
from gosplan.planning.substitution import applicable
from gosplan.planning.problem import planning_problem
from gosplan.synth.planning import planning_instance


def random_economy(seed: int, n: int, alt_share: float = 0.4, resources: int = 3) -> tuple[Economy, dict, dict]:
    """Products with one or two techniques, ``resources`` resources, capacities on some products."""
    rng = np.random.default_rng(seed)
    A = sp.random_array((n, n), density=min(1.0, 4 / n), random_state=rng).toarray()
    A *= 0.6 / max(A.sum(axis=0).max(), 1e-9)  # column sums <= 0.6: productive
    alt = np.flatnonzero(rng.random(n) < alt_share)
    Aalt = A[:, alt] * rng.uniform(0.5, 1.5, size=(n, alt.size))
    Aalt *= 0.6 / np.maximum(Aalt.sum(axis=0), 0.6)
    P = rng.uniform(0.1, 1.0, size=(resources, n))
    Palt = P[:, alt] * rng.uniform(0.4, 1.6, size=(resources, alt.size))
    U = np.hstack([A, Aalt])
    O = np.hstack([np.eye(n), np.eye(n)[:, alt]])
    names = [f"p{i}" for i in range(n)]
    acts = names + [f"p{i}/alt" for i in alt]
    res = ["labour"] + [f"r{k}" for k in range(1, resources)]
    y = rng.uniform(0.0, 2.0, size=n) * (rng.random(n) < 0.7)
    y[0] = max(y[0], 0.5)
    econ = Economy(products=names, use=U, make=O, activities=acts, primary=np.hstack([P, Palt]), resources=res,
                   demand=y.reshape(-1, 1), categories=["fd"])
    x_hat = np.linalg.solve(np.eye(n) - A, y)
    used = P @ x_hat
    available = {r: float(used[k] * rng.uniform(0.8, 1.2)) for k, r in enumerate(res)}
    capped = rng.choice(n, size=max(1, n // 5), replace=False)
    capacities = {names[i]: float(x_hat[i] * rng.uniform(0.85, 1.3)) for i in capped}
    return econ, available, capacities


def _plan(econ, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.plan(econ, method=method, **kw)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 40), objective=st.sampled_from(["fulfilment", "cost"]))
def test_leontief_matches_highs(seed: int, n: int, objective: str) -> None:
    econ, available, capacities = random_economy(seed, n)
    kw = {"objective": objective, "resources": available, "capacities": capacities}
    if objective == "cost":
        kw["targets"] = 0.5 * econ.y  # feasible most of the time; infeasible both ways otherwise
    ref = _plan(econ, "highs", **kw)
    got = _plan(econ, "leontief", **kw)
    if ref.status is Status.INFEASIBLE:
        assert got.status is Status.INFEASIBLE
        return
    assert ref.status is Status.OPTIMAL, ref.message
    assert got.status is Status.OPTIMAL, got.message
    # Within the method's own certified gap (tol = 1e-6): hypothesis found seed 35, n = 32
    # (fulfilment) 1.27e-7 apart, which a 1e-7 test had wrongly called a failure.
    assert got.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-9)
    assert got.max_violation <= 1e-7
    assert got.duality_gap <= 1e-6
    # Prices: different optimal duals are possible in degenerate plans; the value of
    # the resources at their prices is the objective in both (strong duality).
    if objective == "fulfilment":
        for r in (ref, got):
            rent = np.nansum(r.resource_price * np.where(np.isfinite(r.available), r.available, 0.0))
            rent += np.nansum(r.capacity_price * np.where(np.isfinite(r.capacity), r.capacity, 0.0))
            assert rent == pytest.approx(r.objective, rel=1e-6)


def test_priorities_and_over_fulfilment_match_highs() -> None:
    econ, available, capacities = random_economy(7, 30)
    classes = {p: 1 + (i % 3) for i, p in enumerate(econ.products)}
    for scale in (0.5, 1.0, 3.0):  # class 1 short; classes partly met; all met -> over-fulfilment
        res = {k: v * scale for k, v in available.items()}
        ref = _plan(econ, "highs", resources=res, capacities=capacities, priorities=classes)
        got = _plan(econ, "leontief", resources=res, capacities=capacities, priorities=classes)
        assert ref.status is got.status is Status.OPTIMAL
        assert set(got.class_fulfilment) == set(ref.class_fulfilment)
        for k, z in ref.class_fulfilment.items():
            assert got.class_fulfilment[k] == pytest.approx(z, rel=1e-6, abs=1e-9)


def test_three_priority_classes_of_a_synthetic_instance_match_highs() -> None:
    """Issue 15's instances plan fulfilment by three classes. Here class 1's first master stops
    at z <= 1 with nothing priced, so its prices are 0: they were solved from the last prices
    (rounding of 1e-12), a bound of 0 was taken from them and the class stalled for 2,000 rounds.
    Zero costs now have the prices 0, such prices bound z by 1, and a bound below the master's
    own plan is refused."""
    inst = planning_instance(5000, seed=20240601, classes=3)
    kw = {"resources": inst.resources, "capacities": inst.capacities, "priorities": inst.priorities}
    ref = _plan(inst.economy, "highs", **kw)
    got = _plan(inst.economy, "leontief", **kw)
    assert ref.status is got.status is Status.OPTIMAL, got.message
    assert all("Leontief decomposition" in stage.message for stage in got.stages)
    assert set(got.class_fulfilment) == set(ref.class_fulfilment) == {1, 2, 3}
    for k, z in ref.class_fulfilment.items():  # class 3 is left with z ~ 0: within the gap, 1e-6 of 1
        assert got.class_fulfilment[k] == pytest.approx(z, rel=1e-6, abs=2e-6)
    assert got.max_violation <= 1e-7


def test_bound_of_prices_that_value_nothing_is_z_upper() -> None:
    from gosplan.planning.substitution import _bound

    pi, h, d = np.zeros(4), np.array([0.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 2.0, 0.0])
    assert _bound("fulfilment", pi, h, d, 0.0, 1.0) == 1.0  # z <= 1 is all that is left
    assert _bound("fulfilment", pi, h, d, 0.0, np.inf) == np.inf
    pi = np.array([0.5, 0.25, 0.25, 1.0])  # (rent - pi'h) / pi'd = (3 - 0.25) / 1
    assert _bound("fulfilment", pi, h, d, 3.0, 5.0) == pytest.approx(2.75)
    assert _bound("fulfilment", pi, h, d, 3.0, 2.0) == 2.0


def test_substitution_theorem_one_resource() -> None:
    """With labour the only scarce resource, the plan uses the techniques with the least labour value."""
    econ, available, _ = random_economy(3, 25, resources=1)
    got = _plan(econ, "leontief", resources=available)
    assert got.status is Status.OPTIMAL
    # Labour values with the chosen techniques are minimal: no technique undercuts them.
    v = got.labour_value
    problem = planning_problem(econ, resources=available)
    U = (problem.make - problem.net).toarray()
    unit = (problem.primary.toarray()[0] + U.T @ v) / problem.make.toarray().sum(axis=0)
    product_of = problem.make.toarray().argmax(axis=0)
    assert (unit >= v[product_of] * (1 - 1e-9)).all()
    # And prices in labour are those labour values (Kantorovich = Marx here).
    assert np.allclose(got.price_in_labour, v, rtol=1e-8)


@pytest.mark.parametrize(
    ("dense_max", "n", "seed"), [(None, 2000, 3), (50, 1500, 7)], ids=["dense LU", "iterative, refilled, warm-started"]
)
def test_synthetic_instance_matches_highs(monkeypatch: pytest.MonkeyPatch, dense_max: int | None, n: int,
                                          seed: int) -> None:
    """Also beyond DENSE_MAX, where the method writes each technique choice into one pattern
    and starts every BiCGSTAB from the last solution: the plans must still be HiGHS' optimum."""
    from gosplan.linalg import leontief

    if dense_max is not None:
        monkeypatch.setattr(leontief, "DENSE_MAX", dense_max)
    inst = planning_instance(n, seed=seed)
    for objective, targets in (("fulfilment", None), ("cost", 0.85 * inst.economy.y)):
        kw = {"objective": objective, "resources": inst.resources, "capacities": inst.capacities, "targets": targets}
        ref = _plan(inst.economy, "highs", **kw)
        got = _plan(inst.economy, "leontief", **kw)
        assert ref.status is got.status is Status.OPTIMAL
        assert got.objective == pytest.approx(ref.objective, rel=1e-7)
        assert "Leontief decomposition" in got.stages[0].message


def test_not_applicable_is_an_error_or_a_fallback() -> None:
    # Joint production: a technique with two outputs.
    U = np.array([[0.1, 0.2], [0.2, 0.1]])
    O = np.array([[1.0, 0.5], [0.3, 1.0]])
    econ = Economy(products=["a", "b"], use=U, make=O, activities=["ta", "tb"], primary=[[1.0, 1.0]],
                   resources=["labour"], demand=np.array([[1.0], [1.0]]), categories=["fd"])
    problem = planning_problem(econ, resources={"labour": 10.0})
    assert "joint production" in applicable(problem, "fulfilment")
    with pytest.raises(InvalidEconomyError, match="joint production"):
        _plan(econ, "leontief", resources={"labour": 10.0})
    assert "joint production" in applicable(problem, "harmony")  # harmony too (harmony_leontief)
    # The real tables have scrap (negative coefficients) and net imports (negative floors). With
    # one technique per product nothing is substituted: the method applies and its answer is
    # certified (test_bea_tables_by_the_leontief_method); with a second technique it is refused.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        us = gosplan.load("us-2022")
        assert applicable(planning_problem(us), "fulfilment") == ""
        # a second technique for the first product: a copy of its first
        one = planning_problem(us)
        problem = dataclasses.replace(
            one, activities=one.activities.append(pd.Index(["second"])),
            net=sp.csr_array(sp.hstack([one.net, one.net[:, [0]]])),
            make=sp.csr_array(sp.hstack([one.make, one.make[:, [0]]])),
            primary=sp.csr_array(sp.hstack([one.primary, one.primary[:, [0]]])),
        )
        why = applicable(problem, "fulfilment")
        assert "negative input" in why
        # the entry is named, with its value (the most negative one) and how many more
        use = sp.coo_array(problem.make - problem.net)
        k = int(np.argmin(use.data))
        code = problem.products[use.row[k]]
        tech = problem.activities[use.col[k]]
        assert (f"input of {code!r} ({us.name_of(code)}) by technique {tech!r} ({us.name_of(tech)}) "
                f"is {use.data[k]:.6g}") in why
        assert f"and {int((use.data < -1e-15).sum()) - 1} more" in why
    small, available, _ = random_economy(1, 5)
    target = planning_problem(small, resources=available).target
    targeted = str(small.products[int(np.flatnonzero(target > 0)[0])])
    # a negative floor on a targeted product: every objective plans it (as negative demand)
    floors = {targeted: -1.0}
    for objective in ("fulfilment", "cost", "harmony"):
        assert applicable(planning_problem(small, resources=available, floors=floors), objective) == ""
    ref = _plan(small, "highs", resources=available, floors=floors)
    got = _plan(small, "leontief", resources=available, floors=floors)
    assert got.status is Status.OPTIMAL and got.method == "leontief"
    assert got.objective == pytest.approx(ref.objective, rel=1e-9)


@pytest.mark.parametrize("objective", ["fulfilment", "cost", "harmony"])
def test_negative_coefficients_of_resources_nothing_prices(objective: str) -> None:
    """uk-2015's "taxes less subsidies on production" has negative coefficients; the default plan
    limits labour alone and costs labour alone, so no technique's unit cost reads them: the
    method plans the table (it refused it before), to HiGHS' optimum."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uk = gosplan.load("uk-2015")
        problem = planning_problem(uk)
        taxes = int(np.flatnonzero(uk.resources == "Taxes less subsidies on production")[0])
        assert (sp.csr_array(problem.primary)[[taxes]].toarray() < 0).any()
        assert applicable(problem, objective) == ""
        ref = gosplan.plan(uk, objective=objective, method="highs")
        got = gosplan.plan(uk, objective=objective, method="leontief")
    assert ref.status is got.status is Status.OPTIMAL
    assert got.method == "leontief"
    assert got.objective == pytest.approx(ref.objective, rel=1e-9)
    assert got.max_violation <= 1e-9 and got.duality_gap <= 1e-9


@pytest.mark.parametrize("table, objectives", [("us-2022", ("fulfilment", "cost", "harmony")),
                                               ("us-2017-domestic", ("fulfilment", "cost"))])
def test_bea_tables_by_the_leontief_method(table: str, objectives) -> None:
    """The BEA tables' negative inputs (scrap, used goods), one technique per product: the method
    plans them (it refused them before), to HiGHS' optimum, with its answer certified."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        economy = gosplan.load(table)
        assert (sp.csr_array(economy.use).data < 0).any()
        for objective in objectives:
            ref = gosplan.plan(economy, objective=objective, method="highs")
            got = gosplan.plan(economy, objective=objective, method="leontief")
            assert ref.status is got.status is Status.OPTIMAL
            assert got.method == "leontief", got.stages[-1].message
            assert got.objective == pytest.approx(ref.objective, rel=1e-9)
            assert got.max_violation <= 1e-9 and got.duality_gap <= 1e-9
            assert got.detail["price_error"] <= 1e-9


def test_an_unbounded_harmony_plan_by_the_leontief_method() -> None:
    """us-2017's harmony plan is unbounded: customs duties (`4200ID`) are targeted and use no
    limited resource and no capacity. The method said so only through HiGHS' tangent cuts (1.5 s
    against 0.6 s); it now gives the ray itself, checked here on the plan's problem written out:
    every balance keeps its side, nothing limited is used, no activity runs backwards, and the
    harmony of customs duties grows."""
    from gosplan.planning.formulate import harmony_lp
    from gosplan.planning.leontief_backend import solve_leontief

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        economy = gosplan.load("us-2017")
        got = gosplan.plan(economy, objective="harmony", method="leontief")
        ref = gosplan.plan(economy, objective="harmony", method="highs")
        problem = planning_problem(economy)
    assert ref.status is got.status is Status.UNBOUNDED
    assert got.method == "leontief" and "4200ID" in got.stages[-1].message and "4200ID" in got.message
    lp, layout = harmony_lp(problem)
    sol = solve_leontief(lp, {"problem": problem, "objective": "harmony", "layout": layout, "state": {}}, 1e-6,
                         None, None)
    x, s = sol.ray[: problem.m], sol.ray[problem.m:]
    T = np.flatnonzero(problem.target > 0)
    net = problem.net @ x
    net[T] -= problem.target[T] * s
    assert (net >= -1e-9 * (abs(problem.net) @ x + 1e-12)).all()  # every balance keeps its side
    limited = np.isfinite(problem.available)
    assert np.abs(problem.primary[limited] @ x).max() <= 1e-12 * x.max()
    capped = np.isfinite(problem.capacity)
    assert np.abs(problem.make[capped] @ x).max(initial=0.0) <= 1e-12 * x.max()
    assert (x >= 0).all() and (s >= 0).all()
    duties = list(problem.products).index("4200ID")
    assert s[list(T).index(duties)] > 0


@pytest.mark.parametrize("objective", ["fulfilment", "cost", "harmony"])
def test_negative_inputs_that_break_the_plan_fall_back(objective: str) -> None:
    """Cars yield half a unit of grain each (a negative input) and households want 0.1 grain: the
    Leontief plan ``(I - A)^-1 y`` makes grain at a negative level (the by-product exceeds its
    use). Its certificate fails, so HiGHS plans it (no grain made, its row in surplus), and
    the message says why."""
    econ = Economy.from_coefficients(np.array([[0.0, -0.5], [0.2, 0.0]]), l=np.array([1.0, 1.0]),
                                     demand=np.array([0.1, 1.0]), products=["grain", "cars"])
    got = _plan(econ, "leontief", objective=objective, resources={"labour": 2.0})
    ref = _plan(econ, "highs", objective=objective, resources={"labour": 2.0})
    assert got.status is ref.status is Status.OPTIMAL
    assert not got.method.startswith("leontief")
    message = got.stages[-1].message
    assert "Leontief method not applicable" in message and "fails its certificate" in message
    assert "input of 'grain' by technique 'cars' is -0.5" in message
    assert got.objective == pytest.approx(ref.objective, rel=1e-9)
    assert got.gross_output[0] == pytest.approx(0.0, abs=1e-9)


def test_negative_coefficients_of_a_priced_resource_are_refused() -> None:
    """Limited, or weighed by the cost objective, the same resource makes unit costs that the
    substitution theorem does not cover: refused, naming the entry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uk = gosplan.load("uk-2015")
        name = "Taxes less subsidies on production"
        limited = planning_problem(uk, resources={"labour": 1e6, name: 1e5})
        costed = planning_problem(uk, costs={"labour": 1.0, name: 0.5})
    for problem, objective in ((limited, "fulfilment"), (limited, "harmony"), (costed, "cost")):
        why = applicable(problem, objective)
        assert why.startswith("negative input or resource coefficients (use of") and repr(name) in why, why
    assert applicable(costed, "fulfilment") == ""  # costs weigh only the cost objective


def test_technique_matrix_written_into_the_pattern() -> None:
    """The coefficients of a choice written into the shared pattern, switch after switch,
    equal ``U[:, B] / O_B`` built directly."""
    from gosplan.planning.substitution import _Structure

    econ, available, capacities = random_economy(5, 30, alt_share=0.6)
    problem = planning_problem(econ, resources=available, capacities=capacities)
    st_ = _Structure.build(problem, "fulfilment")
    rng = np.random.default_rng(0)
    makers = [problem.make.indices[problem.make.indptr[i] : problem.make.indptr[i + 1]] for i in range(problem.n)]
    for _ in range(6):
        st_.choice = np.array([rng.choice(m) for m in makers])
        B = st_.choice
        want = (st_.U[:, B] @ sp.diags_array(1.0 / st_.out[B])).toarray()
        np.testing.assert_allclose(st_.system().A.toarray(), want, rtol=1e-15, atol=0)


def test_fallback_gets_only_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the Leontief method gives up, the fallback solver gets what is left of the plan's
    time limit, not the whole limit again."""
    import time

    from gosplan.planning import runner, substitution

    def gives_up_late(**_: object) -> None:
        time.sleep(0.4)
        raise substitution.NotApplicable("gave up at its limit")

    limits: list[tuple[str, float | None]] = []
    real = runner.backend

    def spy(lp, method, tol, time_limit, *args, **kwargs):
        limits.append((method, time_limit))
        return real(lp, method, tol, time_limit, *args, **kwargs)

    monkeypatch.setattr(substitution, "solve_stage", gives_up_late)
    monkeypatch.setattr(runner, "backend", spy)
    econ, available, capacities = random_economy(3, 12)
    got = _plan(econ, "leontief", resources=available, capacities=capacities, time_limit=30.0)
    first, fallback = limits[0], limits[1]
    assert first == ("leontief", pytest.approx(30.0, abs=1.0))
    assert fallback[0] == "highs" and fallback[1] <= first[1] - 0.4
    assert "Leontief method not applicable (gave up at its limit)" in got.stages[0].message


@pytest.mark.slow
def test_infeasible_cost_plan_is_certified_by_the_method() -> None:
    """97 % of final demand is more than this economy of 20,000 products makes: its fulfilment
    plan (optimal, certified) reaches z < 1, so the cost plan is infeasible. The master needs its
    artificial variables, and their prices are a Farkas certificate that gosplan's own check
    verifies; the Leontief method said so after 2,000 rounds and a PDHG fallback at 10^5
    products before (a time limit, not 'infeasible')."""
    inst = planning_instance(20_000, seed=1)
    kw = {"resources": inst.resources, "capacities": inst.capacities, "targets": 0.97 * inst.economy.y}
    ray = _plan(inst.economy, "leontief", objective="fulfilment", **kw)
    assert ray.status is Status.OPTIMAL
    assert ray.objective < 1 - 1e-3
    got = _plan(inst.economy, "leontief", objective="cost", **kw)
    assert got.status is Status.INFEASIBLE, got.message
    assert "Farkas certificate" in got.stages[0].message
    assert got.conflict and any(line.startswith("resource") for line in got.conflict)
    small = planning_instance(4000, seed=1)  # HiGHS' verdict beside it
    kw = {"resources": small.resources, "capacities": small.capacities, "targets": 0.95 * small.economy.y}
    ref = _plan(small.economy, "highs", objective="cost", **kw)
    got = _plan(small.economy, "leontief", objective="cost", **kw)
    assert ref.status is got.status is Status.INFEASIBLE
    assert "Farkas certificate" in got.stages[0].message


def test_infeasible_cost_plan_of_a_small_economy_is_certified_at_once() -> None:
    """Six products, labour and land short of what the targets need: the master's prices are a
    Farkas certificate from round 5 on, but the products' prices equal their techniques' costs,
    which leaves a column's ``K'y`` at 1e-10 of rounding against multipliers of 1e6; the check
    read that as a direction left open, and the method tailed off for 200 rounds before HiGHS
    said infeasible."""
    from test_plan_harmony_leontief import _random_economy

    econ, resources, _ = _random_economy(74, 6)
    kw = {"resources": resources, "costs": {"labour": 1.0, "land": 0.5}}
    got = _plan(econ, "leontief", objective="cost", **kw)
    ref = _plan(econ, "highs", objective="cost", **kw)
    assert ref.status is got.status is Status.INFEASIBLE, got.message
    assert got.method == "leontief" and "Farkas certificate" in got.stages[0].message


def test_farkas_of_a_feasible_stage_is_none() -> None:
    """Prices that do not make h cost more than the resources are worth prove nothing."""
    from gosplan.planning import substitution as S
    from gosplan.planning.formulate import cost_lp

    inst = planning_instance(500, seed=2)
    problem = planning_problem(inst.economy, resources=inst.resources, capacities=inst.capacities,
                               targets=0.5 * inst.economy.y)
    lp, layout = cost_lp(problem)
    st_ = S._Structure.build(problem, "cost")
    h = np.maximum(problem.target + problem.base, problem.floor)
    mu = np.where(np.isfinite(problem.available), 1.0, 0.0)
    assert S._farkas(st_, lp, layout, mu, np.zeros(problem.n), None, h, S._rent(st_), 1e-6) is None


def test_a_class_met_in_full_with_nothing_scarce_stays_with_the_method() -> None:
    """Class 1 met in full (its ray at the cap z <= 1) while nothing binds: no row has a price, and
    the method gave the stage to HiGHS ("the targets being maximised have no value at the final
    prices"). The cap's own multiplier certifies it: every stage by the method, HiGHS' fulfilments."""
    econ = gosplan.Economy.from_coefficients(
        [[0.1, 0.2, 0.1], [0.1, 0.1, 0.2], [0.05, 0.0, 0.1]], products=["grain", "steel", "coal"],
        y=[10.0, 2.0, 1.0], l=[1.0, 2.0, 1.5],
    )
    # labour values v = l (I - A)^-1: class 1 (grain 10) needs 15.29, class 2 (steel 2, coal 1) 7.53
    kw = {"resources": {"labour": 20.0}, "priorities": {"grain": 1, "steel": 2, "coal": 2}}
    got = _plan(econ, "leontief", **kw)
    ref = _plan(econ, "highs", **kw)
    assert got.status is ref.status is Status.OPTIMAL
    assert [st.method for st in got.stages] == ["leontief"] * len(got.stages), [st.message for st in got.stages]
    assert got.class_fulfilment[1] == pytest.approx(1.0, abs=1e-9)  # labour is left over at z_1 = 1
    A = np.array([[0.1, 0.2, 0.1], [0.1, 0.1, 0.2], [0.05, 0.0, 0.1]])
    v = np.array([1.0, 2.0, 1.5]) @ np.linalg.inv(np.eye(3) - A)
    # (class 1 is held at 1 - tol/10 of its optimum, which leaves class 2 a little more labour)
    assert got.class_fulfilment[2] == pytest.approx((20.0 - v @ [10.0, 0, 0]) / (v @ [0, 2.0, 1.0]), rel=1e-6)
    for k in (1, 2):
        assert got.class_fulfilment[k] == pytest.approx(ref.class_fulfilment[k], rel=1e-7)
    assert got.objective == pytest.approx(ref.objective, rel=1e-7)


@pytest.mark.parametrize("budget", [0, 10**9], ids=["on disk", "in memory"])
def test_plan_store_keeps_the_columns_that_are_not_zero(budget: int) -> None:
    from gosplan.planning.substitution import _PlanStore

    store = _PlanStore(budget)
    rng = np.random.default_rng(0)
    both = rng.uniform(size=(50, 2))
    second = np.column_stack([np.zeros(50), rng.uniform(size=50)])
    store.add(both)
    store.add(second, live=[1])
    assert store.resident == (0 if budget == 0 else both.nbytes + second.nbytes // 2)
    np.testing.assert_array_equal(store.get(0), both)
    np.testing.assert_array_equal(store.get(1), second)
    store.close()
    assert store.items == []

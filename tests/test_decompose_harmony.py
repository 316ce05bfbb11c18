"""Cockshott's harmony plan by two-level planning (``plan_decomposed(objective="harmony")``)
against a hand-solved economy and against the enterprise-level harmony program written out
here in cvxpy (Clarabel), column by column from the hierarchy's fields
(tests/_enterprise_lp.py), independent of gosplan.decompose and gosplan.planning.formulate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gosplan
from gosplan.decompose import plan_decomposed
from gosplan.errors import InvalidEconomyError
from gosplan.optim.lp import harmony
from gosplan.results import Status

import _clarabel as clarabel
import _enterprise_lp as ref
from test_decompose import _hand_economy, _random_economy, _with_random_enterprises

cp = pytest.importorskip("cvxpy")


def reference(economy, hierarchy, *, targets, labour, weights):
    """``max sum_i w_i H(s_i)`` s.t. ``sum_e (o_e - a_e) x_e >= y (1 + s)`` (targeted products),
    ``>= 0`` (the others), ``p . x <= labour``, ``0 <= x_e <= C_e``, ``s >= -1``, with
    ``H(s) = max_{u <= 0 <= v, u + v = s} u - u^2/2 + ln(1 + v)``. Returns the optimum.

    Written in ``xi = x / C`` (products without enterprises: their gross output in the table's
    own plan) with every row divided by its largest coefficient: a real table's millions of
    dollars otherwise stop Clarabel."""
    N, Pm, upper = ref.columns(economy, hierarchy)
    n, m = N.shape
    gross = np.abs(gosplan.balance(economy).gross_output)
    uncovered = np.flatnonzero(~hierarchy.covered)
    scale = np.concatenate([hierarchy.capacity, np.maximum(gross[uncovered], 1.0)])
    N = N * scale
    rows = np.maximum(np.abs(N).max(axis=1), 1e-12)
    N = N / rows[:, None]
    p = Pm[0] * scale / labour
    T = np.flatnonzero(targets > 0)
    others = np.flatnonzero(targets <= 0)
    bounded = np.flatnonzero(np.isfinite(upper))

    def program():
        xi = cp.Variable(m, nonneg=True)
        u = cp.Variable(T.size, nonpos=True)
        v = cp.Variable(T.size, nonneg=True)
        s = u + v
        net = N @ xi
        cons = [s >= -1, net[T] >= cp.multiply(targets[T] / rows[T], 1 + s), p @ xi <= 1, xi[bounded] <= 1]
        if others.size:
            cons.append(net[others] >= 0)
        return (cp.Problem(cp.Maximize(weights[T] @ (u - 0.5 * cp.square(u) + cp.log(1 + v))), cons),)

    (prob,) = clarabel.solve(program)
    return float(prob.value)


def plan_harmony(res, economy, hierarchy, targets, labour, weights, tol=1e-7) -> float:
    """The enterprise targets meet the enterprise-level constraints; returns the harmony of the
    net outputs they make (``s_i = net_i / y_i - 1``, capped below at -1 as the program caps it)."""
    x = res.enterprise_output
    assert (x >= 0).all() and (x <= hierarchy.capacity * (1 + 1e-9) + 1e-12).all()
    N, Pm, _ = ref.columns(economy, hierarchy)
    full = np.concatenate([x, res.plan.gross_output[np.flatnonzero(~hierarchy.covered)]])
    net = N @ full
    scale = 1.0 + np.abs(N) @ np.abs(full)
    T = targets > 0
    assert (net[~T] / scale[~T] >= -tol).all()
    assert Pm[0] @ full <= labour * (1 + tol)
    s = np.maximum(net[T] / targets[T] - 1.0, -1.0)
    return float(weights[T] @ harmony(s))


def test_hand_solved():
    """The hand economy of test_decompose (a: e0 capacity 1 at labour 0.5, e1 capacity 2 at 1.5;
    b: e2 capacity 2 at 1), targets 1 and 1, labour 2.6. With a past e0 (marginal labour 1.5),
    ``H'(s_a) / 1.5 = H'(s_b) / 1``: ``1 + s_b = 1.5 (1 + s_a)`` and ``0.5 + 1.5 (q_a - 1) + q_b
    = 2.6``: ``q_a = 1.2``, ``q_b = 1.8``, harmony ``ln 1.2 + ln 1.8 = ln 2.16``."""
    econ = _hand_economy()
    lines: list[str] = []
    res = plan_decomposed(econ, objective="harmony", resources={"labour": 2.6}, tol=1e-9, progress=lines.append)
    assert res.status is Status.OPTIMAL, res.message
    assert res.objective_kind == "harmony"
    assert res.objective == pytest.approx(math.log(2.16), rel=1e-9)
    assert res.bound >= math.log(2.16) - 1e-12 and res.gap <= 1e-9
    # H is flat at its optimum: the plan is known to the square root of the objective's accuracy.
    np.testing.assert_allclose(res.enterprise_output, [1.0, 0.2, 1.8], atol=1e-4)
    assert res.rounds[0].split == 1 and len(res.rounds) == 2  # a's two enterprises disagree, as for z
    assert lines[1].startswith("round 1: centre plans 2 groups: harmony = ")
    assert res.plan.resource_price[0] == pytest.approx(1 / 1.8, rel=1e-4)  # H'(s_b) / 1: labour makes b


def random_case(n, seed, M, own_share, uncovered, untargeted, weighted, slack):
    """A random economy with enterprises (tests/test_decompose.py), targets (a share
    ``untargeted`` of products without), weights (uniform 0.5-2 or 1) and labour ``slack`` times
    the table's own use: ``(economy, y, w, labour)``."""
    econ = _with_random_enterprises(_random_economy(n, seed), seed=seed, M=M, own_share=own_share,
                                    uncovered_share=uncovered)
    rng = np.random.default_rng(seed + 1)
    y = np.where(rng.random(n) < untargeted, 0.0, econ.y)
    if not (y > 0).any():
        y[0] = 1.0
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    return econ, y, w, float(econ.l @ gosplan.balance(econ).gross_output) * slack


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 10),
    seed=st.integers(0, 10_000),
    M=st.integers(1, 4),
    own_share=st.sampled_from([0.0, 0.3]),
    uncovered=st.sampled_from([0.0, 0.25]),
    untargeted=st.sampled_from([0.0, 0.3]),
    weighted=st.booleans(),
    slack=st.sampled_from([0.6, 1.0, 1.5]),
)
def test_random_economies_match_the_enterprise_program(n, seed, M, own_share, uncovered, untargeted, weighted,
                                                        slack):
    """The optimum, a bound above it every round, and a feasible plan that attains it; with labour
    scarce (``slack`` 0.6: targets underfulfilled, ``s < 0``) or plentiful (capacities bind)."""
    econ, y, w, labour = random_case(n, seed, M, own_share, uncovered, untargeted, weighted, slack)
    hier = econ.hierarchy
    best = reference(econ, hier, targets=y, labour=labour, weights=w)
    res = plan_decomposed(econ, objective="harmony", targets=y, resources={"labour": labour}, tol=1e-8,
                          weights=dict(zip(econ.products, w)) if weighted else None)
    assert res.status is Status.OPTIMAL, res.message
    scale = max(abs(best), 1.0)
    assert abs(res.objective - best) <= 1e-6 * scale
    for r in res.rounds:
        assert r.bound >= best - 1e-6 * scale
        assert r.objective <= best + 1e-6 * scale
    assert plan_harmony(res, econ, hier, y, labour, w) >= best - 1e-6 * scale
    mono = plan_decomposed(econ, objective="harmony", targets=y, resources={"labour": labour}, monolithic=True,
                           weights=dict(zip(econ.products, w)) if weighted else None)
    assert mono.status is Status.OPTIMAL and len(mono.rounds) == 1
    assert abs(mono.objective - best) <= 1e-6 * scale


def test_real_table_with_synthetic_enterprises():
    """us-2022 with four enterprises per product (5 % with their own norms), targets the table's
    non-negative final demand, labour 10 % short of what the table's own plan uses."""
    import warnings

    from gosplan.errors import NegativeCoefficientWarning
    from gosplan.synth.enterprises import synth_enterprises

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        econ = synth_enterprises(gosplan.load("us-2022"), per_product=4, seed=11, own_norms_share=0.05)
    hier = econ.hierarchy
    y = np.maximum(econ.y, 0)
    labour = 0.9 * float(econ.l @ gosplan.balance(econ).gross_output)
    w = np.ones(econ.n_products)
    best = reference(econ, hier, targets=y, labour=labour, weights=w)
    res = plan_decomposed(econ, objective="harmony", targets=y, resources={"labour": labour}, tol=1e-6)
    assert res.status is Status.OPTIMAL, res.message
    assert len(res.rounds) > 1
    assert abs(res.objective - best) <= 1e-5 * abs(best)
    assert plan_harmony(res, econ, hier, y, labour, w, tol=1e-6) >= best - 1e-5 * abs(best)


def test_errors():
    econ = _hand_economy()
    with pytest.raises(InvalidEconomyError, match="weights weigh the 'harmony' objective"):
        plan_decomposed(econ, weights={"a": 2.0})
    with pytest.raises(InvalidEconomyError, match="coordination='marginal' does not apply: it plans the fulfilment"):
        plan_decomposed(econ, objective="harmony", coordination="marginal", resources={"labour": 3.0})
    with pytest.raises(InvalidEconomyError, match="no targets"):
        plan_decomposed(econ, objective="harmony", targets={"a": 0.0, "b": 0.0})


def test_cli(tmp_path):
    """``gosplan plan DIR --decompose --objective harmony --weights FILE``: the API's plan, its
    files, names in the log."""
    import json
    import warnings

    import pandas as pd
    from typer.testing import CliRunner

    from gosplan.cli.app import app
    from gosplan.errors import DataQualityWarning, NegativeCoefficientWarning

    runner = CliRunner()
    economy = tmp_path / "us"
    done = runner.invoke(app, ["synth", "--base", "us-2022", "--enterprises", "3", "--seed", "4", "--out", str(economy)])
    assert done.exit_code == 0, done.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        econ = gosplan.load(str(economy))
    weights = tmp_path / "weights.csv"
    pd.DataFrame({"product": econ.products[:5], "weight": [3.0, 2.0, 2.0, 0.5, 0.5]}).to_csv(weights, index=False)
    out = tmp_path / "out"
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--objective", "harmony", "--weights", str(weights),
                               "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["status"] == "optimal" and summary["objective_kind"] == "harmony" and summary["gap"] <= 1e-6
    for name in ("plan.csv", "enterprises.csv", "rounds.csv", "summary.json", "breakdown/ministries.csv"):
        assert (out / name).exists(), name
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--objective", "harmony"])
    assert done.exit_code == 0, done.output
    panel = done.output.split("reports up")[0]
    assert "harmony" in panel and "cost" not in panel  # the summary names the objective it planned
    # Names beside the codes in the product and enterprise tables.
    names = econ.product_names
    for name in ("plan.csv", "enterprises.csv"):
        table = pd.read_csv(out / name, dtype={"product": str})
        assert list(table.columns[:3]).index("name") == list(table.columns).index("product") + 1, name
        assert (table["name"] == names.reindex(table["product"]).to_numpy()).all(), name
    with pytest.warns(DataQualityWarning, match="negative final demand"):
        api = plan_decomposed(econ, objective="harmony", weights=weights)
    assert summary["objective"] == pytest.approx(api.objective, rel=1e-9)
    with pytest.warns(DataQualityWarning, match="negative final demand"):
        unweighted = plan_decomposed(econ, objective="harmony")
    assert unweighted.objective != pytest.approx(api.objective, rel=1e-3)  # the weights were read


def test_highs_cut_basis_round_trip():
    """solve_highs on a harmony program returns its binding cuts with the basis; solving the same
    program again from them starts at the optimum (no cut round adds anything, next to no simplex
    iterations) and ends at the same harmony; a start v0 or a looser objective_tol reaches it too."""
    from gosplan.optim.check import verify
    from gosplan.optim.highs import solve_highs
    from gosplan.planning.formulate import harmony_lp
    from gosplan.planning.problem import planning_problem

    econ = _random_economy(8, 3)
    problem = planning_problem(econ, resources={"labour": float(econ.l @ gosplan.balance(econ).gross_output) * 0.8})
    lp, _ = harmony_lp(problem)
    cold = solve_highs(lp, tol=1e-9)
    assert cold.status.value == "optimal"
    cols, rows, (which, at) = cold.detail["basis"]
    assert cols.size == lp.shape[1] + lp.harmony_columns.size and rows.size == lp.shape[0] + which.size
    assert which.size >= lp.harmony_columns.size  # every t_j sits on at least one cut
    warm = solve_highs(lp, tol=1e-9, basis=cold.detail["basis"])
    assert warm.status.value == "optimal", warm.message
    assert warm.iterations <= 0.1 * cold.iterations, (warm.iterations, cold.iterations)
    assert warm.objective == pytest.approx(cold.objective, abs=1e-9)
    for sol in (warm, solve_highs(lp, tol=1e-9, v0=cold.v), solve_highs(lp, tol=1e-9, objective_tol=1e-6)):
        check = verify(lp, sol.v, sol.y)
        assert check.passes(1e-5) and sol.objective == pytest.approx(cold.objective, abs=1e-5)

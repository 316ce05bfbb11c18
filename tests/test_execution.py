"""Plans carried out (gosplan.execution): the greatest fixed point of production under shortages
against independent references, hand-worked shortage chains, the material balance every period,
the plan carried out exactly without shocks, behaviour switches, the ratchet, and the regimes on
us-2022 with households."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import gosplan
from gosplan.errors import InvalidEconomyError, TableFormatError
from gosplan.execution import Behaviour, RandomShocks, execute, greatest_fixed_point, read_shocks
from gosplan.execution.producers import Producers

pytestmark = pytest.mark.filterwarnings("ignore::gosplan.errors.GosplanWarning")


# ---------------------------------------------------------------------------- references
def plain_map(x, ceiling, product, pairs, base, demand, byproducts=()):
    """One application of the production rule, enterprise by enterprise (the test's own loop).

    ``pairs``: list of ``(e, j, held, ordered, a)``; ``byproducts``: ``(e, j, b)``."""
    n = len(base)
    supply = list(base)
    for e, xe in enumerate(x):
        supply[product[e]] += xe
    for e, j, b in byproducts:
        supply[j] += b * x[e]
    phi = [1.0 if demand[j] <= 0 else min(1.0, supply[j] / demand[j]) for j in range(n)]
    out = list(ceiling)
    for e, j, held, ordered, a in pairs:
        out[e] = min(out[e], (held + phi[j] * ordered) / a)
    return out, phi


def lp_reference(ceiling, product, pairs, base, demand, byproducts=()):
    """``max sum x`` over ``{x : x <= F(x)}`` written as an LP in (x, phi) by scipy/HiGHS: its
    optimum is the greatest fixed point (the post-fixed points form a lattice)."""
    E, n = len(ceiling), len(base)
    A, b = [], []
    for e, j, held, ordered, a in pairs:  # a x_e - ordered phi_j <= held
        row = np.zeros(E + n)
        row[e], row[E + j] = a, -ordered
        A.append(row)
        b.append(held)
    for j in range(n):  # demand_j phi_j - supply_j(x) <= base_j
        row = np.zeros(E + n)
        row[E + j] = demand[j]
        for e in range(E):
            if product[e] == j:
                row[e] -= 1.0
        for e, k, bb in byproducts:
            if k == j:
                row[e] -= bb
        A.append(row)
        b.append(base[j])
    res = linprog(-np.ones(E + n), A_ub=np.array(A), b_ub=np.array(b),
                  bounds=[(0, c) for c in ceiling] + [(0, 1)] * n, method="highs")
    assert res.status == 0, res.message
    return res.x[:E]


def as_arrays(ceiling, product, pairs, E, n):
    rows = [p[0] for p in pairs]
    cols = [p[1] for p in pairs]
    A = sp.csr_array((np.ones(len(pairs)), (rows, cols)), shape=(E, n))
    A.sort_indices()
    # pairs sorted as CSR stores them
    order = np.lexsort((cols, rows))
    held = np.array([pairs[k][2] / pairs[k][4] for k in order])
    ordered = np.array([pairs[k][3] / pairs[k][4] for k in order])
    return A, held, ordered


@st.composite
def instances(draw):
    n = draw(st.integers(1, 6))
    extra = draw(st.integers(0, 5))
    E = n + extra
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    product = np.concatenate([np.arange(n), rng.integers(0, n, extra)])
    target = rng.uniform(0.5, 2.0, E)
    pairs = []
    for e in range(E):
        for j in range(n):
            if rng.random() < 0.5:
                a = float(rng.uniform(0.05, 0.6))
                ordered = a * target[e]
                held = float(rng.uniform(0, 0.5) * ordered) if rng.random() < 0.3 else 0.0
                pairs.append((e, j, held, ordered, a))
    shocked = rng.random(E) < 0.4
    ceiling = np.where(shocked, target * rng.uniform(0.0, 1.0, E), target)
    use = np.zeros(n)
    for e, j, held, ordered, a in pairs:
        use[j] += ordered
    base = np.where(rng.random(n) < 0.3, rng.uniform(0, 0.3, n), 0.0)
    planned = np.bincount(product, weights=target, minlength=n) + base
    # a balanced plan (allocations = planned supply: gain-1 loops) or a slack one
    demand = np.maximum(planned, use) if draw(st.booleans()) else use + rng.uniform(0, 1, n)
    byproducts = []
    if draw(st.booleans()) and E > 1:
        byproducts = [(int(rng.integers(E)), int(rng.integers(n)), float(rng.uniform(0.01, 0.1)))]
    return ceiling, product, pairs, base, demand, byproducts


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_greatest_fixed_point_against_plain_loop_and_lp(case):
    ceiling, product, pairs, base, demand, byproducts = case
    E, n = len(ceiling), len(base)
    A, held, ordered = as_arrays(ceiling, product, pairs, E, n)
    B = sp.csr_array((np.ones(E), (product, np.arange(E))), shape=(n, E)).tolil()
    for e, j, b in byproducts:
        B[j, e] += b
    fp = greatest_fixed_point(ceiling, product, A, held, ordered, base, demand, sp.csr_array(B))
    x = fp.output
    # a fixed point of the rule, evaluated by the test's own loop
    fx, _ = plain_map(list(x), ceiling, product, pairs, base, demand, byproducts)
    scale = max(1.0, float(np.max(ceiling, initial=0.0)))
    assert np.allclose(fx, x, atol=1e-9 * scale)
    # below every Kleene iterate from the top (each bounds the greatest fixed point from above)
    k = list(ceiling)
    for _ in range(60):
        assert (x <= np.array(k) + 1e-9 * scale).all()
        k, _ = plain_map(k, ceiling, product, pairs, base, demand, byproducts)
    # and the greatest: equal to the LP's maximal solution
    assert np.allclose(x, lp_reference(ceiling, product, pairs, base, demand, byproducts), atol=1e-7 * scale)


def test_shortage_chain_by_hand():
    """Steel -> machines -> consumer goods, steel at 60 % of plan: everyone downstream at 60 %."""
    # products: 0 steel, 1 machines, 2 goods; one producer each
    product = np.array([0, 1, 2])
    target = np.array([100.0, 50.0, 40.0])
    ceiling = np.array([60.0, 50.0, 40.0])
    # machines need 1.5 steel per unit (75 of the 100 steel), goods 0.5 machine (20 of 50)
    pairs = [(1, 0, 0.0, 75.0, 1.5), (2, 1, 0.0, 20.0, 0.5)]
    demand = np.array([100.0, 50.0, 40.0])  # steel: 75 to machines, 25 final; machines: 20 + 30
    A, held, ordered = as_arrays(ceiling, product, pairs, 3, 3)
    fp = greatest_fixed_point(ceiling, product, A, held, ordered, np.zeros(3), demand)
    assert np.allclose(fp.output, [60.0, 30.0, 24.0], rtol=1e-12)
    assert np.allclose(fp.phi, [0.6, 0.6, 0.6], rtol=1e-12)
    assert fp.limit.tolist() == [-1, 0, 1]  # steel by its capacity, the rest by their input


def test_shortage_loop_by_hand():
    """A and B feed each other (A: 0.2 B per unit, B: 0.5 A); B's capacity cut to 60 of 100.

    x_A = min(100, 100 phi_B), x_B = min(60, 100 phi_A), phi = x / 100: the greatest fixed
    point is (60, 60), not the zero that a plain sweep from below would find; with 10 units of
    B in A's stock (A orders 10 more), A makes 50 + 50 phi_B with phi_B = 60 / 90."""
    product = np.array([0, 1])
    ceiling = np.array([100.0, 60.0])
    pairs = [(0, 1, 0.0, 20.0, 0.2), (1, 0, 0.0, 50.0, 0.5)]
    A, held, ordered = as_arrays(ceiling, product, pairs, 2, 2)
    fp = greatest_fixed_point(ceiling, product, A, held, ordered, np.zeros(2), np.array([100.0, 100.0]))
    assert np.allclose(fp.output, [60.0, 60.0], rtol=1e-12)
    pairs = [(0, 1, 10.0, 10.0, 0.2), (1, 0, 0.0, 50.0, 0.5)]
    A, held, ordered = as_arrays(ceiling, product, pairs, 2, 2)
    fp = greatest_fixed_point(ceiling, product, A, held, ordered, np.zeros(2), np.array([100.0, 90.0]))
    # x_B = min(60, 100 phi_A) = 60 (phi_A >= 0.6), phi_B = 60 / 90, x_A = 50 + 50 * 2 / 3
    assert np.allclose(fp.output, [50 + 50 * 60 / 90, 60.0], rtol=1e-12)


# ---------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def us2022():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load("us-2022")


@pytest.fixture(scope="module")
def with_enterprises(us2022):
    from gosplan.synth.enterprises import synth_enterprises

    return synth_enterprises(us2022, per_product=3, seed=3, ministries=6)


def _balance_from_frames(run) -> float:
    """Every product's material balance recomputed from the ``products`` table (stocks of the
    period before, this period's flows): the largest relative error over periods."""
    f = run.products
    worst = 0.0
    prev = None
    for t, g in f.groupby("period", sort=True):
        g = g.reset_index(drop=True)
        opening = np.zeros(len(g)) if prev is None else prev["stock"].to_numpy() + prev["input_stock"].to_numpy()
        sources = opening + g["output"] + g["byproduct"] + g["imports"]
        uses = g["intermediate_use"] + g["final_use"] + g["stock"] + g["input_stock"] + g["waste"]
        scale = np.maximum(np.maximum(sources.abs(), uses.abs()), g["allocated"].abs())
        err = np.where(scale > 0, (sources - uses).abs() / np.where(scale > 0, scale, 1), 0.0)
        worst = max(worst, float(err.max()))
        prev = g
    return worst


@pytest.mark.parametrize("regime", ["command", "liberman", "optimal"])
def test_no_shocks_truthful_carries_the_plan_out_exactly(us2022, regime):
    run = execute(us2022, regime=regime, periods=3, monitoring=False)
    assert run.completed, run.message
    p = run.periods
    assert (p["fulfilment"] > 1 - 1e-9).all()
    assert (p["targets_met"] == 1.0).all()
    assert (p["shortage"] < 1e-9).all()
    assert (p["hidden_reserves"] == 0).all()
    V = run.enterprise_values
    assert np.allclose(V["output"], V["target"], rtol=1e-9, atol=0)
    assert _balance_from_frames(run) < 1e-9


def test_no_shocks_with_enterprises(with_enterprises):
    run = execute(with_enterprises, regime="command", periods=2, monitoring=False)
    assert run.completed, run.message
    assert run.producers.E > with_enterprises.n_products  # enterprises, not one per product
    V = run.enterprise_values
    assert np.allclose(V["output"], V["target"], rtol=1e-9)
    assert (run.periods["shortage"] < 1e-9).all()
    # enterprises' outputs add up to the products'
    out = run.products.query("period == 2")["output"].to_numpy()
    assert np.allclose(run.producers.by_product(V["output"][-1]), out)


@pytest.mark.parametrize("regime", ["command", "liberman", "optimal"])
def test_balance_every_period_under_shocks(us2022, regime):
    run = execute(us2022, regime=regime, periods=6, shocks=RandomShocks(0.1, depth=0.6, persistence=0.5, seed=4),
                  behaviour=Behaviour(hoarding=0.3, spoilage=0.2), monitoring=False)
    assert len(run.periods) >= 3
    assert run.periods["balance_error"].max() <= 1e-9
    assert _balance_from_frames(run) <= 1e-9
    assert (run.periods["shortage"] > 1e-6).any()  # the shocks bite


def test_shortage_spreads_from_one_shocked_product(us2022, tmp_path):
    """One producer at half capacity: its users fall short, and theirs; the rest of the economy
    is rationed by the same share (no stocks, a balanced plan)."""
    path = tmp_path / "shocks.csv"
    path.write_text("period,product,capacity_factor\n1,331,0.5\n", encoding="utf-8")
    run = execute(us2022, regime="command", periods=1, shocks=read_shocks(path), monitoring=False)
    prod = run.products
    steel = prod.query("product == '331'").iloc[0]
    assert steel["capacity"] < steel["target"]  # the shock cut it below the plan
    assert steel["output"] == pytest.approx(steel["capacity"], rel=1e-9)  # it makes all it can
    others = prod.query("product != '331' and allocated > 0")
    assert (others["delivered_share"] < 1 - 1e-3).mean() > 0.5  # most products are rationed too
    short_of = run.enterprises_frame()["short_of"]
    assert (short_of == "331").any()  # some producers were held back by primary metals
    assert run.periods["shortage"].iloc[0] > 0.01


def test_ratchet_understatement_only_when_looking_ahead(us2022):
    ahead = execute(us2022, regime="command", periods=5, monitoring=False,
                    behaviour=Behaviour(lookahead=0.9, reporting="understated"))
    myopic = execute(us2022, regime="command", periods=5, monitoring=False,
                     behaviour=Behaviour(lookahead=0.0, reporting="understated"))
    assert Behaviour(lookahead=0.9).holds_back and not Behaviour(lookahead=0.0).holds_back
    assert (ahead.periods["hidden_reserves"] > 0.01).all()
    assert (myopic.periods["hidden_reserves"] == 0).all()
    # the myopic report their capacity; those that look ahead report what they were told to
    # make, and the centre, believing them, never plans more of them than in the first period
    V, W = ahead.enterprise_values, myopic.enterprise_values
    assert np.allclose(W["reported"], W["capacity"])
    assert np.allclose(V["reported"], V["target"], rtol=1e-9)
    assert (V["target"][1:] <= V["target"][0] * (1 + 1e-9)).all()


def test_hoarding_and_spoilage_switches(us2022):
    shocks = dict(rate=0.1, depth=0.6, persistence=0.5, seed=11)
    plain = execute(us2022, regime="command", periods=6, shocks=RandomShocks(**shocks), monitoring=False)
    hoard = execute(us2022, regime="command", periods=6, shocks=RandomShocks(**shocks), monitoring=False,
                    behaviour=Behaviour(hoarding=0.5))
    assert hoard.periods["input_hoards"].iloc[1:].mean() > plain.periods["input_hoards"].iloc[1:].mean()
    spoil = execute(us2022, regime="command", periods=6, shocks=RandomShocks(**shocks), monitoring=False,
                    behaviour=Behaviour(spoilage=1.0))
    assert (spoil.periods["unsold_stock"] == 0).all()
    assert spoil.periods["waste"].sum() > 0
    nostock = execute(us2022, regime="command", periods=6, shocks=RandomShocks(**shocks), monitoring=False,
                      behaviour=Behaviour(stocks=False))
    assert (nostock.periods["input_hoards"] == 0).all()
    assert nostock.periods["waste"].sum() > 0  # inputs delivered to producers short of others


def test_buffer_absorbs_a_one_period_shock(us2022, tmp_path):
    """Half a period of inputs in stock: a one-period cut of 30 % at one producer is absorbed by
    its users (no one else falls short), and the stock is ordered back afterwards."""
    path = tmp_path / "shocks.csv"
    path.write_text("period,product,capacity_factor\n2,331,0.7\n", encoding="utf-8")
    bare = execute(us2022, regime="command", periods=4, shocks=read_shocks(path), monitoring=False)
    buffered = execute(us2022, regime="command", periods=4, shocks=read_shocks(path), monitoring=False,
                       behaviour=Behaviour(buffer=0.5))
    assert bare.periods["shortage"].iloc[1] > 0.05
    assert buffered.periods["shortage"].iloc[0] < 1e-9
    assert buffered.periods["fulfilment"].iloc[1] > bare.periods["fulfilment"].iloc[1]
    p = buffered.products.query("product != '331' and period == 2")
    assert (p["output"] >= p["target"] * (1 - 1e-9)).all()  # only 331 fell short
    assert buffered.periods["balance_error"].max() <= 1e-9


def test_random_shocks_reproducible_and_shared():
    a, b, c = RandomShocks(0.2, seed=5), RandomShocks(0.2, seed=5), RandomShocks(0.2, seed=6)
    labels = pd.Index([f"e{k}" for k in range(50)])
    for s in (a, b, c):
        s.start(labels, np.zeros(50, np.int64), pd.Index(["p"]))
    fa = [a.factors(t) for t in range(1, 8)]
    fb = [b.factors(t) for t in range(1, 8)]
    fc = [c.factors(t) for t in range(1, 8)]
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb))
    assert not all(np.array_equal(x, y) for x, y in zip(fa, fc))
    assert all(((f > 0) & (f <= 1)).all() for f in fa)
    assert any((f < 1).any() for f in fa)
    with pytest.raises(InvalidEconomyError, match="rate"):
        RandomShocks(1.5)
    with pytest.raises(InvalidEconomyError, match="persistence"):
        RandomShocks(0.1, persistence=1.0)


def test_shocks_file_errors(us2022, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("period,product,capacity_factor\n1,331,0.5\n2,331,1.5\n", encoding="utf-8")
    with pytest.raises(TableFormatError, match="capacity_factor") as info:
        read_shocks(bad)
    assert "line 3" in str(info.value) or ":3" in str(info.value)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("period,product,capacity_factor\n1,nosuch,0.5\n", encoding="utf-8")
    with pytest.raises(InvalidEconomyError, match="nosuch"):
        execute(us2022, regime="command", periods=1, shocks=read_shocks(unknown), monitoring=False)
    both = tmp_path / "both.csv"
    both.write_text("period,enterprise,product,capacity_factor\n1,a,b,0.5\n", encoding="utf-8")
    with pytest.raises(TableFormatError, match="one of enterprise or product"):
        read_shocks(both)


def test_bad_arguments(us2022):
    with pytest.raises(InvalidEconomyError, match="regime"):
        execute(us2022, regime="market")
    with pytest.raises(InvalidEconomyError, match="periods"):
        execute(us2022, periods=0)
    with pytest.raises(InvalidEconomyError, match="hoarding needs stocks"):
        Behaviour(stocks=False, hoarding=0.2)
    with pytest.raises(InvalidEconomyError, match="reporting"):
        Behaviour(reporting="honest")


def test_regimes_with_households_on_us2022(us2022):
    hh = gosplan.load_households(us2022, groups=4, seed=2)
    shocks = dict(rate=0.05, depth=0.5, persistence=0.6, seed=7)
    runs = {r: execute(us2022, hh, regime=r, periods=8, shocks=RandomShocks(**shocks)) for r in
            ("command", "liberman", "optimal")}
    for name, run in runs.items():
        assert run.completed, (name, run.message)
        p = run.periods
        assert len(p) == 8
        assert p["balance_error"].max() <= 1e-9
        for col in ("fulfilment", "shortage", "idle_capacity", "hidden_share", "queue"):
            assert ((p[col] >= -1e-12) & (p[col] <= 1 + 1e-9)).all(), (name, col)
        assert set(run.groups["household"]) == set(hh.groups.astype(str))
        assert run.alerts is not None and set(run.alerts["level"]) <= {"enterprise", "ministry", "centre"}
    # identical shock draws across regimes
    assert np.allclose(runs["command"].periods["shock_share"], runs["optimal"].periods["shock_share"])
    # prices fixed: queues and a hidden market; clearing prices: neither
    assert runs["command"].periods["hidden_share"].max() > 0
    assert runs["optimal"].periods["queue"].max() == 0 and runs["optimal"].periods["hidden_share"].max() == 0


def test_write_files(us2022, tmp_path):
    run = execute(us2022, regime="command", periods=4, shocks=RandomShocks(0.05, seed=1))
    paths = run.write(tmp_path / "out")
    names = {p.name for p in paths}
    assert {"periods.csv", "products.csv", "ministries.csv", "enterprises.csv", "groups.csv", "alerts.csv",
            "summary.json"} <= names
    ent = pd.read_csv(tmp_path / "out" / "enterprises.csv")
    assert len(ent) == 4 * run.producers.E
    assert set(ent.columns) >= {"period", "enterprise", "ministry", "target", "output", "capacity", "reported",
                                "hidden_reserve", "short_of"}


def test_producers_split_matches_breakdown(with_enterprises):
    """The proportional split used to give enterprises their targets is gosplan.breakdown's rule."""
    from gosplan.hierarchy import breakdown

    eco = with_enterprises
    P = Producers.of(eco)
    g = 0.9 * np.minimum(P.by_product(P.capacity), np.abs(eco.y) + 1.0)
    bd = breakdown(eco, g, rule="proportional")
    E0 = eco.hierarchy.n_enterprises
    assert np.allclose(P.split(g, P.capacity)[:E0], bd.enterprise_output, rtol=1e-12, atol=1e-9)

"""Two-level planning (gosplan.decompose) against a hand-solved economy and against the
enterprise-level program written out independently (tests/_enterprise_lp.py, HiGHS via
scipy), in-process and on a real distributed.LocalCluster, including a worker killed
mid-solve."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gosplan
from gosplan.decompose import plan_decomposed
from gosplan.decompose.executors import restore_environ
from gosplan.errors import DataQualityWarning, InvalidEconomyError, NegativeCoefficientWarning
from gosplan.model import Economy, EnterpriseNorms, Hierarchy
from gosplan.results import Status

import _enterprise_lp as ref


def _load(name: str) -> Economy:
    """A real table; its negative coefficients (scrap, by-products) are the loader's concern,
    tested with the readers, so their warning is silenced here and only here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        return gosplan.load(name)


def _plan_table_demand(economy: Economy, **options):
    """plan_decomposed with the table's own final demand as targets: a real table's negative
    final demand (net imports) is reported, once, as a DataQualityWarning."""
    with pytest.warns(DataQualityWarning, match="negative final demand") as seen:
        res = plan_decomposed(economy, **options)
    assert sum(issubclass(w.category, DataQualityWarning) for w in seen) == 1
    return res


def _check_plan(res, economy, hierarchy, targets, available, tol=1e-7, floor=None):
    """The enterprise targets meet every constraint of the enterprise-level program."""
    x = res.enterprise_output
    assert (x >= 0).all() and (x <= hierarchy.capacity * (1 + 1e-9) + 1e-12).all()
    N, Pm, upper = ref.columns(economy, hierarchy)
    unc = np.flatnonzero(~hierarchy.covered)
    full = np.concatenate([x, res.plan.gross_output[unc]])
    net = N @ full
    need = targets * (res.objective if res.objective_kind == "fulfilment" else 1.0)
    if floor is not None:
        need = np.where(targets > 0, need, floor)
    scale = 1.0 + np.abs(N) @ np.abs(full)
    assert ((net - need) / scale >= -tol).all()
    use = Pm @ full
    limited = np.isfinite(available)
    assert (use[limited] <= available[limited] * (1 + tol) + tol).all()
    # Enterprise targets add up to the centre's plan per product.
    per_product = np.bincount(hierarchy.enterprise_product, weights=x, minlength=hierarchy.n_products)
    covered = hierarchy.covered
    np.testing.assert_allclose(per_product[covered], res.plan.gross_output[covered], rtol=1e-9, atol=1e-9)


def _available(econ, L):
    """Labour limited to ``L``, every other primary resource unlimited."""
    out = np.full(len(econ.resources), np.inf)
    out[econ.resources.get_loc(econ.labour)] = L
    return out


# ------------------------------------------------------------------ a hand-solved economy
def _hand_economy() -> Economy:
    """Two products without inputs, labour 1 per unit each, targets 1 and 1, labour 3.

    Product a: enterprise e0 (capacity 1, labour factor 0.5), e1 (capacity 2, factor 1.5);
    product b: e2 (capacity 2, factor 1). Max z: b needs z labour; a uses e0 first (0.5 per
    unit) then e1 (1.5): 0.5 + 1.5 (z - 1) + z = 3 -> z = 1.6, x = (1, 0.6, 1.6).
    The centre first sees a's average technique (labour 3.5/3 per unit): z = 3/(1+7/6) = 1.3846.
    """
    econ = Economy.from_coefficients(np.zeros((2, 2)), products=["a", "b"], y=[1.0, 1.0], l=[1.0, 1.0], name="hand")
    h = Hierarchy(
        products=econ.products, ministries=["light", "heavy"], product_ministry=[0, 1],
        enterprises=["e0", "e1", "e2"], enterprise_product=np.array([0, 0, 1]), capacity=[1.0, 2.0, 2.0],
        labour_factor=[0.5, 1.5, 1.0],
    )
    return econ.with_hierarchy(h)


def test_hand_solved():
    econ = _hand_economy()
    lines: list[str] = []
    res = plan_decomposed(econ, resources={"labour": 3.0}, progress=lines.append)
    assert res.status is Status.OPTIMAL
    assert res.objective == pytest.approx(1.6, rel=1e-12)
    np.testing.assert_allclose(res.enterprise_output, [1.0, 0.6, 1.6], rtol=1e-12)
    first = res.rounds[0]
    assert first.objective == pytest.approx(3 / (1 + 3.5 / 3), rel=1e-12)  # the aggregate
    assert first.split == 1 and first.products_split == 1  # a's two enterprises disagree
    assert len(res.rounds) == 2 and res.gap <= 1e-12
    assert res.bound >= res.objective - 1e-12
    assert any(line.startswith("round 1: centre plans 2 groups") for line in lines)
    assert "bound" in res.log() and "split" in res.log()
    frame = res.enterprise_frame()
    assert list(frame["enterprise"]) == ["e0", "e1", "e2"]
    np.testing.assert_allclose(frame["utilisation"], [1.0, 0.3, 0.8])


@pytest.mark.parametrize("objective", ["fulfilment", "cost", "harmony"])
def test_gap_is_absolute_below_one_as_the_check_measures_it(objective):
    """An optimum at (or near) 0 certifies once the bound is within tol of it, for every objective
    (a plan ray stopped at z = 0, a cost plan with almost nothing to pay); above 1 the gap is
    relative. Worked by hand: (P - D) / max(|P|, |D|, 1)."""
    from gosplan.decompose.solve import _relative_gap

    assert _relative_gap(0.0, -5e-7, objective) == pytest.approx(5e-7, rel=1e-12)
    assert _relative_gap(2e-9, 1e-9, objective) == pytest.approx(1e-9, rel=1e-12)
    assert _relative_gap(-200.0, -200.0002, objective) == pytest.approx(0.0002 / 200.0002, rel=1e-9)
    assert _relative_gap(1.0, 2.0, objective) == 0.0  # a bound past the plan: no gap
    assert _relative_gap(float("nan"), 0.0, objective) == float("inf")


def test_bound_is_a_bound_every_round():
    """Each round's bound is above the enterprise-level optimum and the centre's plan below it."""
    econ = _load("us-2022")
    econ = _with_random_enterprises(econ, seed=5, M=5)
    y = np.maximum(econ.y, 0)
    L = float(econ.l @ gosplan.balance(econ).gross_output)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=_available(econ, L))
    res = plan_decomposed(econ, targets=y, resources={"labour": L})
    assert len(res.rounds) >= 2
    for r in res.rounds:
        assert r.objective <= opt * (1 + 1e-9)
        assert r.bound >= opt * (1 - 1e-9)
    assert abs(res.objective - opt) <= 1e-6 * opt


# ------------------------------------------------------------------ random economies
def _with_random_enterprises(econ: Economy, *, seed: int, M: int, per: int = 4, own_share: float = 0.0,
                             uncovered_share: float = 0.0) -> Economy:
    rng = np.random.default_rng(seed)
    n = econ.n_products
    x = gosplan.balance(econ).gross_output
    makers = np.flatnonzero(rng.random(n) >= uncovered_share)
    counts = rng.integers(1, 2 * per, size=makers.size)
    prod = np.repeat(makers, counts)
    size = rng.pareto(1.5, prod.size) + 0.05
    total = np.bincount(prod, size, n)
    cap = size / total[prod] * (np.abs(x) * rng.uniform(1.05, 1.4, n) + 1e-3)[prod]
    f = np.exp(rng.normal(0, 0.2, prod.size))
    h = np.exp(rng.normal(0, 0.2, prod.size))
    norms = None
    own = np.flatnonzero(rng.random(prod.size) < own_share)
    if own.size:
        A = econ.A.toarray()
        P = econ.primary.toarray()
        N = A[:, prod[own]].T * np.exp(rng.normal(0, 0.3, (own.size, n)))
        Q = P[:, prod[own]].T * np.exp(rng.normal(0, 0.3, (own.size, P.shape[0])))
        norms = EnterpriseNorms(enterprise=own, inputs=sp.csr_array(N), primary=sp.csr_array(Q))
        f[own] = 0.0
        h[own] = 0.0
    hier = Hierarchy(
        products=econ.products, ministries=[f"m{k}" for k in range(M)], product_ministry=rng.integers(0, M, n),
        enterprises=pd.RangeIndex(prod.size), enterprise_product=prod, capacity=cap, input_factor=f,
        labour_factor=h, norms=norms,
    )
    return econ.with_hierarchy(hier)


def _random_economy(n: int, seed: int) -> Economy:
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
    A *= 0.6 / max(A.sum(axis=0).max(), 1e-9)
    return Economy.from_coefficients(A, y=rng.uniform(0.5, 2.0, n), l=rng.uniform(0.2, 1.0, n), name=f"random-{n}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 10_000),
    M=st.integers(1, 4),
    own_share=st.sampled_from([0.0, 0.3]),
    uncovered=st.sampled_from([0.0, 0.25]),
    objective=st.sampled_from(["fulfilment", "cost"]),
)
def test_random_economies_match_the_enterprise_program(n, seed, M, own_share, uncovered, objective):
    econ = _with_random_enterprises(_random_economy(n, seed), seed=seed, M=M, own_share=own_share,
                                    uncovered_share=uncovered)
    hier = econ.hierarchy
    y = econ.y
    L = float(econ.l @ gosplan.balance(econ).gross_output) * 1.2
    available = np.array([L])
    if objective == "cost":
        # Targets the enterprises can meet: a fraction of what they can make.
        y = 0.5 * y
    try:
        opt, _, _ = ref.solve(econ, hier, objective=objective, targets=y, available=available, cost=np.array([1.0]))
    except AssertionError:  # infeasible cost plan: the decomposition must say so too
        res = plan_decomposed(econ, objective=objective, targets=y, resources={"labour": L})
        assert res.status is not Status.OPTIMAL
        return
    res = plan_decomposed(econ, objective=objective, targets=y, resources={"labour": L}, tol=1e-9)
    assert res.status is Status.OPTIMAL, res.message
    assert abs(res.objective - opt) <= 1e-7 * max(abs(opt), 1e-9)
    _check_plan(res, econ, hier, y, available)
    mono = plan_decomposed(econ, objective=objective, targets=y, resources={"labour": L}, monolithic=True)
    assert abs(mono.objective - opt) <= 1e-7 * max(abs(opt), 1e-9)
    assert len(mono.rounds) == 1


@pytest.mark.parametrize("name", ["us-2022", "us-2017"])
def test_real_tables_with_synthetic_enterprises(name):
    """The table's own final demand as targets (net imports as floors), labour limited to the
    table's own use: the defaults of gosplan.plan."""
    from gosplan.synth.enterprises import synth_enterprises

    econ = synth_enterprises(_load(name), per_product=4, seed=11, own_norms_share=0.05)
    hier = econ.hierarchy
    assert hier.n_ministries > 1 and hier.norms is not None
    y = np.maximum(econ.y, 0)
    floor = np.minimum(econ.y, 0)
    L = float(econ.l @ gosplan.balance(econ).gross_output)
    opt, _, _ = ref.solve(econ, hier, targets=y, available=_available(econ, L), floor=floor)
    res = _plan_table_demand(econ, tol=1e-6)
    assert res.status is Status.OPTIMAL, res.message
    assert opt > 0.5
    assert abs(res.objective - opt) / opt <= 1e-4  # the criterion
    assert abs(res.objective - opt) / opt <= 2e-6  # and what it reaches
    assert len(res.rounds) > 1
    _check_plan(res, econ, hier, y, _available(econ, L), tol=1e-6, floor=floor)


def test_iteration_limit_keeps_a_feasible_plan():
    econ = _with_random_enterprises(_load("us-2022"), seed=3, M=4)
    y = np.maximum(econ.y, 0)
    L = float(econ.l @ gosplan.balance(econ).gross_output)
    res = plan_decomposed(econ, targets=y, resources={"labour": L}, max_rounds=1)
    assert res.status is Status.ITERATION_LIMIT
    assert res.gap > 1e-6 and np.isfinite(res.bound)
    _check_plan(res, econ, econ.hierarchy, y, _available(econ, L), tol=1e-7)
    with pytest.raises(gosplan.errors.PlanningError):
        res.raise_for_status()


def test_write(tmp_path):
    res = plan_decomposed(_hand_economy(), resources={"labour": 3.0})
    files = res.write(tmp_path / "out")
    names = sorted(p.name for p in files)
    assert names == ["enterprises.csv", "plan.csv", "rounds.csv", "summary.json"]
    frame = pd.read_csv(tmp_path / "out" / "enterprises.csv")
    np.testing.assert_allclose(frame["target"], [1.0, 0.6, 1.6])
    import json

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rounds"] == 2 and summary["status"] == "optimal"
    # a caller's summary (the CLI's, with its run's options) in place of the library's, in one write
    res.write(tmp_path / "cli", summary={**res.summary(), "tolerance": 1e-6, "coordination": "marginal"})
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert cli["tolerance"] == 1e-6 and cli["coordination"] == "marginal" and cli["rounds"] == 2


# ------------------------------------------------------------------ errors
def test_errors():
    econ = _hand_economy()
    with pytest.raises(InvalidEconomyError, match="no hierarchy"):
        plan_decomposed(econ.with_hierarchy(None))
    with pytest.raises(InvalidEconomyError, match="objectives fulfilment, cost, harmony"):
        plan_decomposed(econ, objective="welfare")
    with pytest.raises(InvalidEconomyError, match="capacity given for product 'a'"):
        plan_decomposed(econ, capacities={"a": 1.0})
    with pytest.raises(InvalidEconomyError, match="unknown method"):
        plan_decomposed(econ, method="simplex")
    with pytest.raises(ValueError, match="at most one"):
        plan_decomposed(econ, workers=2, scheduler="tcp://127.0.0.1:1")


# ------------------------------------------------------------------ on a real cluster
# Only these tests need Dask distributed (an optional extra, gosplan[distributed]); every
# other test of this module runs without it.
try:
    import distributed
except ImportError:
    distributed = None
needs_distributed = pytest.mark.skipif(
    distributed is None, reason="Dask distributed is not installed (pip install 'gosplan[distributed]')"
)


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes. The test process's environment is put back after the nanny has
    set its workers' variables (OMP_NUM_THREADS=1, ...), as gosplan's own executor does, so
    that later tests in this process run their OpenMP code as before."""
    saved = dict(os.environ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                     silence_logs=40)
        client = distributed.Client(c)
    restore_environ(saved)
    yield client
    client.close()
    c.close()
    restore_environ(saved)


@pytest.fixture(scope="module")
def cluster_economy():
    return _with_random_enterprises(_load("us-2017"), seed=2, M=6, own_share=0.02)


@needs_distributed
def test_same_answer_on_a_local_cluster(cluster, cluster_economy):
    local = _plan_table_demand(cluster_economy)
    remote = _plan_table_demand(cluster_economy, client=cluster)
    assert remote.executor.startswith("dask") and remote.workers == 2
    assert remote.objective == local.objective
    np.testing.assert_array_equal(remote.enterprise_output, local.enterprise_output)
    assert [r.split for r in remote.rounds] == [r.split for r in local.rounds]
    assert len(remote.memory) == 2 and all(v > 0 for v in remote.memory.values())


@needs_distributed
def test_killed_worker_is_retried(cluster, cluster_economy):
    """Kill the worker holding a ministry's state after round 2: the scheduler rebuilds the
    lost states from their lineage, and the plan is the same to the last bit."""
    import psutil

    local = _plan_table_demand(cluster_economy)
    killed: dict[str, object] = {}

    def kill(rnd, ex):
        if rnd.number != 2 or killed:
            return
        held = ex.client.who_has(ex.handles)
        holders = sorted({w for ws in held.values() for w in ws})
        victim = holders[0]
        killed["held"] = sum(victim in ws for ws in held.values())
        pid = ex.client.run(os.getpid, workers=[victim])[victim]
        psutil.Process(pid).kill()
        killed["address"] = victim

    saved = dict(os.environ)
    res = _plan_table_demand(cluster_economy, client=cluster, on_round=kill)
    restore_environ(saved)  # the nanny that restarted the worker set its variables here again
    assert killed and killed["held"] >= 1  # the dead worker held ministries' states
    assert len(res.rounds) > 2  # and the solve went on after it died
    assert res.status is Status.OPTIMAL
    assert res.objective == local.objective
    np.testing.assert_array_equal(res.enterprise_output, local.enterprise_output)
    assert killed["address"] not in res.memory  # a new worker took its place


@needs_distributed
def test_workers_option_starts_a_local_cluster():
    before = dict(os.environ)
    res = plan_decomposed(_hand_economy(), resources={"labour": 3.0}, workers=2)
    assert dict(os.environ) == before  # the nanny's OMP_NUM_THREADS=1 etc. did not stay here
    assert "LocalCluster" in res.executor and res.workers == 2
    assert res.objective == pytest.approx(1.6, rel=1e-12)


# ------------------------------------------------------------------ the command line
def test_cli_plan_decompose(tmp_path):
    import json

    from typer.testing import CliRunner

    from gosplan.cli.app import app

    runner = CliRunner()
    economy = tmp_path / "us"
    done = runner.invoke(app, ["synth", "--base", "us-2022", "--enterprises", "3", "--seed", "4", "--out", str(economy)])
    assert done.exit_code == 0, done.output
    out = tmp_path / "out"
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["status"] == "optimal" and summary["rounds"] >= 2 and summary["gap"] <= 1e-6
    assert summary["ministries"] == 17 and summary["executor"] == "in-process"
    for name in ("plan.csv", "enterprises.csv", "rounds.csv", "summary.json", "breakdown/ministries.csv",
                 "breakdown/allocations.csv"):
        assert (out / name).exists(), name
    targets = pd.read_csv(out / "enterprises.csv")
    assert (targets["target"] <= targets["capacity"] * (1 + 1e-9)).all()
    # The same plan as the API on the economy read back from the directory.
    api = _plan_table_demand(_load(str(economy)))
    assert summary["objective"] == pytest.approx(api.objective, rel=1e-12)
    rounds = pd.read_csv(out / "rounds.csv")
    assert len(rounds) == summary["rounds"] and (rounds["bytes_down"] > 0).all()
    # Options that need --decompose, and objectives it does not take.
    done = runner.invoke(app, ["plan", str(economy), "--workers", "2"])
    assert done.exit_code == 2 and "--decompose" in done.output
    weights = tmp_path / "weights.csv"
    weights.write_text("product,weight\n" + f"{_load(str(economy)).products[0]},2\n")
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--weights", str(weights)])
    assert done.exit_code == 2 and "harmony" in done.output
    done = runner.invoke(app, ["plan", "cockshott-example", "--decompose"])
    assert done.exit_code == 1 and "no hierarchy" in done.output

"""Breaking plans down to ministries and enterprises.

Known answers: a hierarchy solved by hand (targets, allocations, ministry totals and
flows, the merit order, a shortfall); on the real BEA tables with synthetic enterprises:
targets add up to the plan and stay within capacity, the proportional rule's inputs add
up to the aggregated economy's A' g, and the merit order costs what HiGHS' least-cost
dispatch costs. Hypothesis checks the split on random capacities and plans.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import gosplan
from gosplan.errors import InvalidEconomyError, PlanningError, TableFormatError, UnknownProductError
from gosplan.hierarchy import (
    Breakdown,
    CapacityShortfallError,
    aggregate,
    breakdown,
    breakdown_levels,
)
from gosplan.model.hierarchy import EnterpriseNorms, Hierarchy
from gosplan.planning.result import InfeasiblePlanError
from gosplan.results import Status


# --------------------------------------------------------------------------- the hand-solved hierarchy
def toy_economy() -> gosplan.Economy:
    """grain, steel, service; labour only."""
    A = np.array([[0.1, 0.2, 0.0], [0.0, 0.1, 0.3], [0.0, 0.0, 0.0]])
    return gosplan.Economy.from_coefficients(
        A, products=["grain", "steel", "service"], y=[10.0, 20.0, 5.0], l=[1.0, 2.0, 0.5],
        meta=gosplan.EconomyMeta(name="toy", units="tonnes", labour_unit="hours"),
    )


def toy_hierarchy(products: pd.Index, regions: bool = False) -> Hierarchy:
    """grain: g1 (C 60, f 1, h 1), g2 (C 40, f 0.5, h 2); steel: s1 (C 50, own norms: 0.3 grain and
    0.2 service, 1 hour), s2 (C 150, table technique); service: no enterprise (implicit).
    Ministries: agriculture (grain, service), industry (steel)."""
    extra = {}
    if regions:
        extra = dict(regions=pd.Index(["west", "east"]), enterprise_region=np.array([0, 1, 1, 0]),
                     distances=np.array([[0.0, 4.0], [4.0, 0.0]]))
    return Hierarchy(
        products=products,
        ministries=pd.Index(["agriculture", "industry"]),
        product_ministry=np.array([0, 1, 0]),
        enterprises=pd.Index(["g1", "g2", "s1", "s2"]),
        enterprise_product=np.array([0, 0, 1, 1]),
        capacity=np.array([60.0, 40.0, 50.0, 150.0]),
        input_factor=np.array([1.0, 0.5, 0.0, 1.0]),
        labour_factor=np.array([1.0, 2.0, 0.0, 1.0]),
        norms=EnterpriseNorms(
            enterprise=np.array([2]),
            inputs=sp.csr_array(np.array([[0.3, 0.0, 0.2]])),
            primary=sp.csr_array(np.array([[1.0]])),
        ),
        **extra,
    )


@pytest.fixture
def toy() -> gosplan.Economy:
    eco = toy_economy()
    return eco.with_hierarchy(toy_hierarchy(eco.products))


PLAN = [50.0, 100.0, 30.0]


def _alloc(result: Breakdown) -> dict[tuple[str, str], float]:
    frame = result.allocations_frame()
    return {(e, i): q for e, i, q in zip(frame["enterprise"], frame["input"], frame["quantity"])}


def test_proportional_by_hand(toy: gosplan.Economy) -> None:
    res = breakdown(toy, PLAN)
    assert res.status is Status.SOLVED and res.success
    assert res.raise_for_status() is res
    ent = res.enterprises_frame().set_index("enterprise")
    # utilisation 1/2 for grain (50 of 100) and steel (100 of 200)
    assert ent["target"].to_dict() == {"g1": 30.0, "g2": 20.0, "s1": 25.0, "s2": 75.0, "service": 30.0}
    assert ent.loc["service", "implicit"] and not ent.loc["g1", "implicit"]
    assert ent.loc["service", "capacity"] == np.inf and np.isnan(ent.loc["service", "utilisation"])
    assert ent.loc[["g1", "g2", "s1", "s2"], "utilisation"].tolist() == [0.5] * 4
    assert ent["ministry"].tolist() == ["agriculture", "agriculture", "industry", "industry", "agriculture"]
    # a_e x_e and p_e x_e worked out by hand
    assert _alloc(res) == pytest.approx({
        ("g1", "grain"): 3.0, ("g1", "labour"): 30.0,
        ("g2", "grain"): 1.0, ("g2", "labour"): 40.0,
        ("s1", "grain"): 7.5, ("s1", "service"): 5.0, ("s1", "labour"): 25.0,
        ("s2", "grain"): 15.0, ("s2", "steel"): 7.5, ("s2", "labour"): 150.0,
        ("service", "steel"): 9.0, ("service", "labour"): 15.0,
    }, rel=1e-15)
    assert res.intermediate_use == pytest.approx([26.5, 16.5, 5.0], rel=1e-15)
    # the proportional rule's consistency: the enterprises' inputs are the aggregated economy's A' g
    assert res.aggregate_inputs == pytest.approx([26.5, 16.5, 5.0], rel=1e-15)
    assert res.primary_use == pytest.approx([260.0])
    assert res.final_use == pytest.approx([23.5, 83.5, 25.0])
    # ministries: agriculture makes grain and service, industry steel
    mins = res.ministries_frame().set_index("ministry")
    assert mins.loc["agriculture", "gross_output"] == 80.0 and mins.loc["industry", "gross_output"] == 100.0
    assert mins["capacity"].tolist() == [100.0, 200.0]
    assert mins["utilisation"].tolist() == [0.5, 0.5]
    assert mins["labour"].tolist() == pytest.approx([85.0, 175.0])
    # flows: agriculture -> agriculture 4 (grain to grain), -> industry 27.5 (grain 22.5, service 5);
    # industry -> agriculture 9 (steel to service), -> industry 7.5 (steel to steel)
    assert res.ministry_flows == pytest.approx(np.array([[4.0, 27.5], [9.0, 7.5]]))
    assert mins["inputs"].tolist() == pytest.approx([13.0, 35.0])
    assert mins["inputs_from_other_ministries"].tolist() == pytest.approx([9.0, 27.5])
    assert mins["deliveries_to_other_ministries"].tolist() == pytest.approx([27.5, 9.0])
    flows = res.ministry_flows_frame()
    assert set(zip(flows["supplier_ministry"], flows["user_ministry"])) == {
        ("agriculture", "agriculture"), ("agriculture", "industry"), ("industry", "agriculture"), ("industry", "industry")
    }
    mp = res.ministry_products_frame()
    assert mp[["ministry", "product"]].values.tolist() == [["agriculture", "grain"], ["agriculture", "service"],
                                                           ["industry", "steel"]]
    assert mp["enterprises"].tolist() == [2, 0, 2] and mp["implicit"].tolist() == [False, True, False]
    s = res.summary()
    json.dumps(s, allow_nan=False)
    assert s["labour"] == pytest.approx(260.0) and s["implicit_producers"] == 1
    assert s["checks"]["allocations_vs_aggregate"] < 1e-15


def test_merit_by_hand(toy: gosplan.Economy) -> None:
    """Labour per unit: g1 1 h, g2 2 h; s1 1 h (own norm), s2 2 h. Cheapest first."""
    res = breakdown(toy, PLAN, rule="merit")
    ent = res.enterprises_frame().set_index("enterprise")
    assert ent["target"].to_dict() == {"g1": 50.0, "g2": 0.0, "s1": 50.0, "s2": 50.0, "service": 30.0}
    assert res.primary_use == pytest.approx([50.0 + 50.0 + 100.0 + 15.0])
    assert res.summary()["enterprises_idle"] == 1 and res.summary()["enterprises_at_capacity"] == 1
    # the merit order's inputs differ from the aggregated economy's: grain 5 + 15 + 10 against 26.5
    assert res.intermediate_use[0] == pytest.approx(0.1 * 50 + 0.3 * 50 + 0.2 * 50)
    assert res.checks["allocations_vs_aggregate"] > 0.01
    # other prices, another order: steel at 10, service at 100, labour free
    res2 = breakdown(toy, PLAN, rule="merit", product_prices={"grain": 0.0, "steel": 10.0, "service": 100.0},
                     resource_prices=[0.0])
    ent2 = res2.enterprises_frame().set_index("enterprise")
    # s1 costs 0.2 * 100 = 20 a unit, s2 0.1 * 10 = 1: s2 first (100 of 150), s1 idle
    assert ent2.loc[["s1", "s2"], "target"].tolist() == [0.0, 100.0]
    # grain: g1 costs 0, g2 costs 0 (grain is free): ties keep the enterprise order
    assert ent2.loc[["g1", "g2"], "target"].tolist() == [50.0, 0.0]


def test_merit_by_a_plans_shadow_prices(toy: gosplan.Economy) -> None:
    plan = gosplan.plan(aggregate(toy).economy, objective="fulfilment")
    res = breakdown(toy, plan, rule="merit")
    assert "the plan's shadow prices" in " ".join(res.notes)
    same = breakdown(toy, plan.gross_output, rule="merit", product_prices=plan.shadow_price,
                     resource_prices=dict(zip(toy.resources, plan.resource_price)))
    assert res.enterprise_output.tolist() == same.enterprise_output.tolist()
    assert res.gross_output.tolist() == plan.gross_output.tolist()


def test_infeasible_by_hand(toy: gosplan.Economy) -> None:
    res = breakdown(toy, [120.0, 230.0, 30.0])
    assert res.status is Status.INFEASIBLE and not res.success
    assert res.shortfall.to_dict("records") == [
        {"product": "steel", "ministry": "industry", "planned": 230.0, "capacity": 200.0, "shortfall": 30.0},
        {"product": "grain", "ministry": "agriculture", "planned": 120.0, "capacity": 100.0, "shortfall": 20.0},
    ]
    assert "'steel'" in res.message and "shortfall 30 tonnes" in res.message and "2 product(s)" in res.message
    with pytest.raises(CapacityShortfallError, match="'steel'.*shortfall 30") as err:
        res.raise_for_status()
    assert isinstance(err.value, InfeasiblePlanError) and isinstance(err.value, PlanningError)
    assert err.value.shortfall["shortfall"].tolist() == [30.0, 20.0]
    # enterprises of short products work at capacity
    ent = res.enterprises_frame().set_index("enterprise")["target"]
    assert ent[["g1", "g2", "s1", "s2"]].tolist() == [60.0, 40.0, 50.0, 150.0]
    summary = res.summary()
    assert summary["status"] == "infeasible" and summary["shortfall"]["total"] == 50.0
    # links are not found for a plan that cannot be met
    res = breakdown(toy, [120.0, 100.0, 30.0], links=True)
    assert res.links is None and any("no links" in n for n in res.notes)


def test_infeasible_write_only_the_shortfall(toy: gosplan.Economy, tmp_path: Path) -> None:
    res = breakdown(toy, [120.0, 100.0, 30.0])
    res.write(tmp_path, "csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shortfall.csv", "summary.json"]
    assert pd.read_csv(tmp_path / "shortfall.csv").to_dict("records") == [
        {"product": "grain", "ministry": "agriculture", "planned": 120.0, "capacity": 100.0, "shortfall": 20.0}
    ]


def test_plan_at_capacity_within_tolerance(toy: gosplan.Economy) -> None:
    """A solver's plan at capacity (1e-12 above) is met at capacity, noted; 1e-6 above is short."""
    res = breakdown(toy, [100.0 * (1 + 1e-12), 200.0, 30.0])
    assert res.success and any("met at capacity" in n for n in res.notes)
    assert res.enterprise_output[:4].tolist() == [60.0, 40.0, 50.0, 150.0]
    assert breakdown(toy, [100.0 * (1 + 1e-6), 200.0, 30.0]).status is Status.INFEASIBLE


def test_zero_capacity_products(toy: gosplan.Economy) -> None:
    h = toy.hierarchy
    zero = Hierarchy(products=h.products, ministries=h.ministries, product_ministry=h.product_ministry,
                     enterprises=h.enterprises, enterprise_product=h.enterprise_product,
                     capacity=np.array([0.0, 0.0, 50.0, 150.0]))
    res = breakdown(toy, [0.0, 100.0, 30.0], hierarchy=zero)
    assert res.success and res.enterprise_output.tolist() == [0.0, 0.0, 25.0, 75.0]
    res = breakdown(toy, [1e-3, 100.0, 30.0], hierarchy=zero)
    assert res.status is Status.INFEASIBLE and res.shortfall["shortfall"].tolist() == [1e-3]


# --------------------------------------------------------------------------- the plan's forms
def test_plan_forms(toy: gosplan.Economy, tmp_path: Path) -> None:
    ref = breakdown(toy, PLAN).enterprise_output
    series = pd.Series(PLAN, index=["grain", "steel", "service"])
    bal = gosplan.balance(toy)
    path = tmp_path / "plan.csv"
    bal.to_frame().to_csv(path, index=False)  # product, final_demand, gross_output, ...
    for plan in (np.array(PLAN), series, series.to_dict(), series.iloc[::-1]):
        assert breakdown(toy, plan).enterprise_output.tolist() == ref.tolist()
    assert breakdown(toy, path).enterprise_output == pytest.approx(breakdown(toy, bal).enterprise_output, rel=0)
    assert breakdown(toy, str(path)).success
    pq = tmp_path / "plan.parquet"
    bal.to_frame().to_parquet(pq)
    assert breakdown(toy, pq).gross_output.tolist() == bal.gross_output.tolist()
    # products not named produce nothing
    assert breakdown(toy, {"steel": 100.0}).gross_output.tolist() == [0.0, 100.0, 0.0]


def test_plan_errors(toy: gosplan.Economy, tmp_path: Path) -> None:
    with pytest.raises(UnknownProductError, match="'iron'"):
        breakdown(toy, {"iron": 1.0})
    bad = tmp_path / "bad.csv"
    bad.write_text("product,gross_output\ngrain,1\nsteel,abc\n")
    with pytest.raises(TableFormatError, match=r"bad.csv, line 3, column 'gross_output', product 'steel'"):
        breakdown(toy, bad)
    bad.write_text("product,gross_output\ngrain,1\ngrain,2\n")
    with pytest.raises(TableFormatError, match=r"named twice \(lines 2, 3\)"):
        breakdown(toy, bad)
    bad.write_text("product,quantity\ngrain,1\n")
    with pytest.raises(TableFormatError, match="needs columns 'product' and 'gross_output'"):
        breakdown(toy, bad)
    bad.write_text("product,gross_output\nflour,1\n")
    with pytest.raises(UnknownProductError, match=r"line 2.*'flour'"):
        breakdown(toy, bad)
    with pytest.raises(TableFormatError, match="not found"):
        breakdown(toy, tmp_path / "missing.csv")
    with pytest.raises(InvalidEconomyError, match=r"shape \(2,\)"):
        breakdown(toy, [1.0, 2.0])
    with pytest.raises(InvalidEconomyError, match="nan"):
        breakdown(toy, [1.0, np.nan, 2.0])
    with pytest.raises(InvalidEconomyError, match="'grain'.*negative"):
        breakdown(toy, [-1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Invalid rule.*'cheapest'"):
        breakdown(toy, PLAN, rule="cheapest")


def test_tiny_negative_plan_is_zero(toy: gosplan.Economy) -> None:
    res = breakdown(toy, [-1e-13, 100.0, 30.0])
    assert res.gross_output[0] == 0.0 and any("tiny negative" in n for n in res.notes)
    # an implicit producer carries the plan as it is, negative or not
    assert breakdown(toy, [1.0, 100.0, -2.0]).gross_output[2] == -2.0


def test_hierarchy_errors(toy: gosplan.Economy) -> None:
    eco = toy.with_hierarchy(None)
    with pytest.raises(InvalidEconomyError, match="has no hierarchy"):
        breakdown(eco, PLAN)
    other = gosplan.Economy.from_coefficients(np.zeros((2, 2)), products=["a", "b"], l=[1.0, 1.0])
    with pytest.raises(InvalidEconomyError, match="does not match"):
        breakdown(other, [1.0, 1.0], hierarchy=toy.hierarchy)
    # several techniques for a product: enterprises need a square economy
    square = toy_economy()
    U = sp.csr_array(np.hstack([square.A.toarray(), square.A.toarray()[:, [0]] * 0.5]))
    O = sp.csr_array(np.hstack([np.eye(3), np.eye(3)[:, [0]]]))
    multi = gosplan.Economy(
        products=square.products, use=U, make=O, activities=["grain", "steel", "service", "grain2"],
        primary=np.array([[1.0, 2.0, 0.5, 3.0]]), resources=["labour"], demand=square.demand,
        categories=square.categories,
    )
    with pytest.raises(InvalidEconomyError, match="square economy"):
        breakdown(multi, PLAN, hierarchy=toy.hierarchy)


def test_write_csv_and_parquet(toy: gosplan.Economy, tmp_path: Path) -> None:
    res = breakdown(toy, PLAN, links=True)
    for fmt in ("csv", "parquet"):
        out = tmp_path / fmt
        res.write(out, fmt)
        names = sorted(p.name for p in out.iterdir())
        stems = ["allocations", "enterprises", "links", "ministries", "ministry_flows", "ministry_products"]
        assert names == sorted([f"{s}.{fmt}" for s in stems] + ["summary.json"])
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        ent = read(out / f"enterprises.{fmt}")
        assert ent["target"].tolist() == [30.0, 20.0, 25.0, 75.0, 30.0]
        alloc = read(out / f"allocations.{fmt}")
        assert len(alloc) == 12 and alloc["quantity"].sum() == pytest.approx(3 + 30 + 1 + 40 + 7.5 + 5 + 25 + 15 + 7.5 + 150 + 9 + 15)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["files"]["enterprises"] == f"enterprises.{fmt}" and summary["status"] == "solved"
    # without allocations: no allocation file, no allocation check
    res = breakdown(toy, PLAN, allocations=False)
    assert res.allocation_totals is None and "allocations_vs_techniques" not in res.checks
    res.write(tmp_path / "none")
    assert not (tmp_path / "none" / "allocations.csv").exists()
    # ... but they can still be asked for
    assert len(res.allocations_frame()) == 12


# --------------------------------------------------------------------------- levels given
def test_breakdown_levels(toy: gosplan.Economy) -> None:
    ref = breakdown(toy, PLAN, rule="merit")
    res = breakdown_levels(toy, ref.enterprise_output, gross_output=PLAN)
    assert res.rule == "levels" and res.success
    assert res.gross_output.tolist() == PLAN
    assert _alloc(res) == _alloc(ref)
    with pytest.raises(InvalidEconomyError, match="needed for the 1 product.*'service'"):
        breakdown_levels(toy, ref.enterprise_output)
    with pytest.raises(InvalidEconomyError, match="'grain'.*add up to 50"):
        breakdown_levels(toy, ref.enterprise_output, gross_output=[60.0, 100.0, 30.0])
    with pytest.raises(InvalidEconomyError, match="enterprise 'g1'"):
        breakdown_levels(toy, [61.0, 0.0, 50.0, 50.0], gross_output=PLAN)
    with pytest.raises(InvalidEconomyError, match=r"shape \(3,\)"):
        breakdown_levels(toy, [1.0, 2.0, 3.0], gross_output=PLAN)
    # every product with enterprises: the sums are the plan
    full = Hierarchy(products=toy.products, ministries=pd.Index(["m"]), product_ministry=np.zeros(3, np.int64),
                     enterprises=pd.RangeIndex(3), enterprise_product=np.arange(3), capacity=np.full(3, 10.0))
    res = breakdown_levels(toy, [1.0, 2.0, 3.0], hierarchy=full)
    assert res.gross_output.tolist() == [1.0, 2.0, 3.0] and res.implicit.size == 0


# --------------------------------------------------------------------------- real tables, synthetic enterprises
def synthetic_hierarchy(
    economy: gosplan.Economy,
    enterprises: int,
    *,
    seed: int = 0,
    uncovered: float = 0.1,
    own_norms: float = 0.05,
    regions: int = 0,
    distances: bool = True,
    headroom: float = 1.25,
    ministries: int | None = None,
) -> Hierarchy:
    """Random enterprises on a real table: heavy-tailed (Pareto) capacities, factors around 1,
    some own norms (the table's column perturbed), capacities scaled so that each product's
    add up to ``headroom`` times the gross output the aggregated economy's balance needs."""
    rng = np.random.default_rng(seed)
    n = economy.n_products
    covered = np.sort(rng.choice(n, max(1, int(round(n * (1 - uncovered)))), replace=False))
    popularity = rng.pareto(1.0, covered.size) + 1
    ep = np.concatenate([covered, rng.choice(covered, enterprises - covered.size, p=popularity / popularity.sum())])
    ep = np.sort(rng.permutation(ep)[:enterprises]) if enterprises < covered.size else rng.permutation(ep)
    E = ep.size
    cap = rng.pareto(1.2, E) + 0.05
    f = np.exp(rng.normal(0, 0.1, E))
    h = np.exp(rng.normal(0, 0.15, E))
    own = np.sort(rng.choice(E, int(E * own_norms), replace=False))
    norms = None
    if own.size:
        f[own] = 0.0
        h[own] = 0.0
        AT = sp.csr_array(economy.A.T)
        N = sp.csr_array(AT[ep[own]])
        N.data = N.data * rng.uniform(0.7, 1.3, N.nnz)
        Q = economy.primary_coefficients[:, ep[own]].T * rng.uniform(0.7, 1.3, (own.size, 1))
        norms = EnterpriseNorms(enterprise=own, inputs=N, primary=sp.csr_array(Q))
    M = ministries or max(1, int(math.sqrt(n)))
    extra: dict = {}
    if regions:
        pts = rng.uniform(0, 10, (regions, 2))
        extra = dict(regions=pd.Index([f"r{k}" for k in range(regions)]),
                     enterprise_region=rng.integers(0, regions, E))
        if distances:
            extra["distances"] = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    hier = Hierarchy(
        products=economy.products, ministries=pd.Index([f"ministry {k}" for k in range(M)]),
        product_ministry=rng.integers(0, M, n), enterprises=pd.RangeIndex(E), enterprise_product=ep,
        capacity=cap, input_factor=f, labour_factor=h, norms=norms, **extra,
    )
    # scaling a product's capacities leaves A' alone: fit them to the balance A' needs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = gosplan.balance(aggregate(economy, hier, balance=False).economy).gross_output
    total = np.bincount(ep, weights=cap, minlength=n)
    scale = headroom * np.maximum(g, 1e-3 * np.abs(g).max()) / np.where(total > 0, total, 1)
    return Hierarchy(
        products=hier.products, ministries=hier.ministries, product_ministry=hier.product_ministry,
        enterprises=hier.enterprises, enterprise_product=ep, capacity=cap * scale[ep],
        input_factor=f, labour_factor=h, norms=norms, **extra,
    )


def load(name: str) -> gosplan.Economy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load(name)


def check_split(res: Breakdown, rel: float = 1e-13) -> None:
    """Targets within [0, C_e] and adding up to each product's plan (math.fsum, to rounding)."""
    h = res.hierarchy
    x, C = res.enterprise_output, h.capacity
    assert (x >= 0).all() and (x <= C).all()
    order = np.argsort(h.enterprise_product, kind="stable")
    bounds = np.searchsorted(h.enterprise_product[order], np.arange(h.n_products + 1))
    for i in np.flatnonzero(h.covered):
        part = x[order[bounds[i]:bounds[i + 1]]]
        assert math.fsum(part) == pytest.approx(res.gross_output[i], rel=rel, abs=1e-300), h.products[i]


@pytest.mark.parametrize("name", ["us-2017", "us-2022"])
@pytest.mark.parametrize("rule", ["proportional", "merit"])
def test_real_tables_sum_and_respect_capacity(name: str, rule: str) -> None:
    eco = load(name)
    hier = synthetic_hierarchy(eco, 20_000, seed=1)
    agg = aggregate(eco, hier)
    res = breakdown(eco, agg.gross_output, hierarchy=hier, rule=rule)
    assert res.success, res.message
    check_split(res)
    assert res.checks["split_max_relative_error"] < 1e-14
    assert res.checks["allocations_vs_techniques"] < 1e-12
    # implicit producers make exactly the plan of the uncovered products
    ent = res.enterprises_frame()
    imp = ent[ent["implicit"]]
    assert imp["product"].tolist() == [str(p) for p in eco.products[~hier.covered]]
    assert imp["target"].to_numpy() == pytest.approx(agg.gross_output[~hier.covered], rel=0)
    # the enterprises' inputs and the plan leave the table's final demand (balance of A')
    if rule == "proportional":
        assert res.final_use == pytest.approx(eco.y, rel=1e-8, abs=1e-6 * np.abs(eco.y).max())


def test_proportional_consistency_on_us_2017() -> None:
    """sum_e a_e x_e, summed from the allocation table itself, equals A' g with A' from aggregate()."""
    eco = load("us-2017")
    hier = synthetic_hierarchy(eco, 5_000, seed=2, own_norms=0.2)
    agg = aggregate(eco, hier)
    g = agg.gross_output * np.random.default_rng(0).uniform(0.5, 1.0, eco.n_products)
    res = breakdown(eco, g, hierarchy=hier)
    alloc = res.allocations_frame()
    prod = alloc[alloc["kind"] == "product"].groupby("input")["quantity"].sum()
    used = prod.reindex([str(p) for p in eco.products], fill_value=0.0).to_numpy()
    Ag = agg.economy.A @ g
    scale = np.abs(agg.economy.A) @ g
    assert np.abs(used - Ag).max() <= 1e-12 * scale.max()
    assert (np.abs(used - Ag) <= 1e-12 * scale + 1e-300).all()
    res_ = alloc[alloc["kind"] == "resource"].groupby("input")["quantity"].sum()
    Pg = agg.economy.primary @ g
    assert res_.reindex([str(r) for r in eco.resources]).to_numpy() == pytest.approx(Pg, rel=1e-12)


def _dispatch_highs(cost: np.ndarray, cap: np.ndarray, ep: np.ndarray, g: np.ndarray) -> float:
    """min sum c_e x_e s.t. sum_{e: i(e)=i} x_e = g_i, 0 <= x_e <= C_e, by HiGHS (one LP)."""
    from scipy.optimize import linprog

    cov = np.unique(ep)
    rows = np.searchsorted(cov, ep)
    K = sp.csr_array((np.ones(ep.size), (rows, np.arange(ep.size))), shape=(cov.size, ep.size))
    res = linprog(cost, A_eq=K, b_eq=g[cov], bounds=np.column_stack([np.zeros_like(cap), cap]), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


@pytest.mark.parametrize("seed", [0, 1])
def test_merit_order_is_least_cost_dispatch(seed: int) -> None:
    eco = load("us-2022")
    hier = synthetic_hierarchy(eco, 3_000, seed=seed, headroom=1.6)
    g = aggregate(eco, hier).gross_output
    rng = np.random.default_rng(seed)
    cases = [(None, None)]
    cases.append((rng.uniform(0, 1, eco.n_products), rng.uniform(0, 2, len(eco.resources))))
    for pi, w in cases:
        res = breakdown(eco, g, hierarchy=hier, rule="merit", product_prices=pi, resource_prices=w)
        assert res.success
        if pi is None:
            pi, w = np.zeros(eco.n_products), np.eye(len(eco.resources))[0]
        cost = res.techniques.unit_costs(pi, w)
        # unit costs by a dense computation of a_e and p_e
        e = rng.choice(hier.n_enterprises, 50, replace=False)
        A, P = eco.A.toarray(), eco.primary_coefficients
        a = hier.input_factor[e, None] * A[:, hier.enterprise_product[e]].T
        p = hier.labour_factor[e, None] * P[:, hier.enterprise_product[e]].T
        own = np.searchsorted(hier.norms.enterprise, e)
        has = hier.has_own_norms[e]
        a[has] += hier.norms.inputs.toarray()[own[has]]
        p[has] += hier.norms.primary.toarray()[own[has]]
        assert cost[e] == pytest.approx(a @ pi + p @ w, rel=1e-12)
        ours = float(cost @ res.enterprise_output)
        ref = _dispatch_highs(cost, hier.capacity, hier.enterprise_product, g)
        assert ours == pytest.approx(ref, rel=1e-7)
        prop = breakdown(eco, g, hierarchy=hier)
        assert float(cost @ prop.enterprise_output) >= ours * (1 - 1e-12)


# --------------------------------------------------------------------------- property tests
@st.composite
def split_cases(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(1, 4))
    E = draw(st.integers(1, 25))
    ep = np.array(draw(st.lists(st.integers(0, n - 1), min_size=E, max_size=E)))
    cap = np.array(draw(st.lists(
        st.one_of(st.just(0.0), st.floats(1e-6, 1e6, allow_nan=False), st.sampled_from([1.0, 3.0, 0.1])),
        min_size=E, max_size=E,
    )))
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    labour = np.array(draw(st.lists(st.floats(0.0, 3.0), min_size=E, max_size=E)))
    return ep, cap, share, labour


@settings(max_examples=150, deadline=None)
@given(split_cases(), st.sampled_from(["proportional", "merit"]))
def test_split_property(case: tuple, rule: str) -> None:
    ep, cap, share, labour = case
    n = share.size
    eco = gosplan.Economy.from_coefficients(np.full((n, n), 0.1 / n), l=np.ones(n))
    hier = Hierarchy(products=eco.products, ministries=pd.Index(["m"]), product_ministry=np.zeros(n, np.int64),
                     enterprises=pd.RangeIndex(ep.size), enterprise_product=ep, capacity=cap, labour_factor=labour)
    C = np.bincount(ep, weights=cap, minlength=n)
    g = np.where(hier.covered, share * C, share)
    res = breakdown(eco, g, hierarchy=hier, rule=rule, allocations=False)
    assert res.success, res.message
    check_split(res, rel=1e-12)
    # a product planned at its full capacity: every enterprise at capacity
    full = breakdown(eco, np.where(hier.covered, C, 1.0), hierarchy=hier, rule=rule, allocations=False)
    assert full.success
    assert full.enterprise_output.tolist() == cap.tolist()
    if rule == "proportional":
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(C[ep] > 0, res.enterprise_output / np.where(cap > 0, cap, np.nan), np.nan)
        for i in range(n):
            u = util[(ep == i) & (cap > 0)]
            if u.size:
                assert np.nanmax(u) - np.nanmin(u) <= 1e-12
    else:
        # merit: never a dearer enterprise working while a cheaper one of its product has room
        for i in range(n):
            es = np.flatnonzero(ep == i)
            for a in es:
                for b in es:
                    if labour[a] < labour[b] and res.enterprise_output[b] > 1e-9 * max(cap[b], 1e-300):
                        assert res.enterprise_output[a] >= cap[a] * (1 - 1e-12)


# --------------------------------------------------------------------------- the command line
@pytest.fixture
def runner():
    from typer.testing import CliRunner

    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    """The hand-solved hierarchy (with regions) as an economy directory."""
    from gosplan.io.directory import write_directory

    eco = toy_economy()
    return write_directory(eco.with_hierarchy(toy_hierarchy(eco.products, regions=True)), tmp_path / "toy")


def _cli(runner, *args: str):
    from gosplan.cli.app import app

    return runner.invoke(app, [str(a) for a in args])


def test_cli_aggregate(runner, toy_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "agg"
    res = _cli(runner, "aggregate", toy_dir, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert "Ministries by capacity" in res.stdout and "agriculture" in res.stdout
    assert sorted(p.name for p in out.iterdir()) == ["ministries.csv", "products.csv", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["capacity"] == 300.0 and summary["labour_at_capacity"] == pytest.approx(490.0)
    assert summary["source"] == str(toy_dir) and summary["files"]["products"] == "products.csv"
    products = pd.read_csv(out / "products.csv")
    assert products["capacity"].tolist()[:2] == [100.0, 200.0] and products["implicit"].tolist() == [False, False, True]
    res = _cli(runner, "aggregate", toy_dir, "--json", "--out", out, "--format", "parquet")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["enterprises"] == 4
    assert sorted(p.name for p in out.iterdir()) == ["ministries.parquet", "products.parquet", "summary.json"]


def test_cli_breakdown(runner, toy_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bd"
    # default: the balance of the aggregated economy for its own final demand
    res = _cli(runner, "breakdown", toy_dir, "--out", out, "--links")
    assert res.exit_code == 0, res.stderr
    assert "Ministries by gross output" in res.stdout
    eco = gosplan.load(str(toy_dir))
    g = gosplan.balance(aggregate(eco).economy).gross_output
    ent = pd.read_csv(out / "enterprises.csv")
    assert ent.groupby("product")["target"].sum().reindex(["grain", "steel", "service"]).to_numpy() == pytest.approx(g, rel=1e-14)
    assert ent["region"].tolist()[:4] == ["west", "east", "east", "west"] and pd.isna(ent["region"].iloc[4])
    links = pd.read_csv(out / "links.csv")
    # the plan meets the table's own final demand: final demand receives y
    final = links[links["user"] == "final demand"].groupby("product")["quantity"].sum()
    assert final.reindex(["grain", "steel", "service"]).to_numpy() == pytest.approx(eco.y, rel=1e-12)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plan"].startswith("balance of the aggregated economy") and summary["status"] == "solved"
    assert set(summary["files"]) == {"ministries", "ministry_products", "ministry_flows", "enterprises",
                                     "allocations", "links", "summary"}
    # a plan file, the merit order, no allocations, Parquet: stale files go
    plan = tmp_path / "plan.csv"
    pd.DataFrame({"product": ["grain", "steel", "service"], "gross_output": PLAN, "other": 1}).to_csv(plan, index=False)
    res = _cli(runner, "breakdown", toy_dir, "--plan", plan, "--rule", "merit", "--no-allocations", "--out", out,
               "--format", "parquet")
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["enterprises.parquet", "ministries.parquet", "ministry_flows.parquet", "ministry_products.parquet", "summary.json"]
    )
    assert pd.read_parquet(out / "enterprises.parquet")["target"].tolist() == [50.0, 0.0, 50.0, 50.0, 30.0]
    res = _cli(runner, "breakdown", toy_dir, "--plan", plan, "--json")
    assert res.exit_code == 0
    summary = json.loads(res.stdout)
    assert summary["rule"] == "proportional" and summary["labour"] == pytest.approx(260.0) and summary["plan"] == str(plan)


def test_cli_breakdown_infeasible(runner, toy_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bd"
    assert _cli(runner, "breakdown", toy_dir, "--out", out).exit_code == 0
    plan = tmp_path / "plan.csv"
    plan.write_text("product,gross_output\ngrain,120\nsteel,100\nservice,30\n")
    res = _cli(runner, "breakdown", toy_dir, "--plan", plan, "--out", out)
    assert res.exit_code == 3
    assert "Plan above capacity" in res.stdout and "grain" in res.stdout
    assert res.stderr.startswith("error: the plan exceeds capacity for 1 product(s); first 'grain'")
    assert "shortfall 20 " in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["shortfall.csv", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["shortfall"]["total"] == 20.0
    res = _cli(runner, "breakdown", toy_dir, "--plan", plan, "--json")
    assert res.exit_code == 3 and json.loads(res.stdout)["status"] == "infeasible"


def test_cli_breakdown_errors(runner, toy_dir: Path, tmp_path: Path) -> None:
    from gosplan.io.directory import write_directory

    bare = write_directory(toy_economy(), tmp_path / "bare")
    for command in ("breakdown", "aggregate"):
        res = _cli(runner, command, bare)
        assert res.exit_code == 1 and "has no hierarchy" in res.stderr
    plan = tmp_path / "plan.csv"
    plan.write_text("product,gross_output\ngrain,1\nflour,2\n")
    res = _cli(runner, "breakdown", toy_dir, "--plan", plan)
    assert res.exit_code == 1 and "line 3" in res.stderr and "'flour'" in res.stderr
    res = _cli(runner, "breakdown", toy_dir, "--rule", "cheapest")
    assert res.exit_code == 2


def test_cli_aggregate_refuses_ministries_without_enterprises(runner) -> None:
    """us-2022 carries BEA's grouping of products as 17 ministries and no enterprises: aggregate
    printed capacity 0 everywhere and a Python None; it now refuses with the synth hint, while
    breakdown still breaks the balance down to those ministries."""
    with pytest.warns(Warning):
        eco = gosplan.load("us-2022")
    assert eco.hierarchy is not None and eco.hierarchy.n_ministries == 17 and eco.hierarchy.n_enterprises == 0
    res = _cli(runner, "aggregate", "us-2022")
    assert res.exit_code == 1
    assert "17 ministries but no enterprises" in res.stderr and "gosplan synth --base us-2022" in res.stderr
    assert _cli(runner, "breakdown", "us-2022", "--no-allocations").exit_code == 0

"""Supplier-user links: the material-technical supply of a breakdown.

Known answers: the north-west corner on the hand-solved hierarchy; with regions, each
product's transport cost against HiGHS on the full enterprise-level transportation
problem (small cases) or on the region-level problem built here from the frames (real
tables); every supplier delivers exactly its supply and every user receives its use.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog
from test_breakdown import PLAN, load, synthetic_hierarchy, toy_economy, toy_hierarchy

import gosplan
from gosplan.errors import PlanningError
from gosplan.hierarchy import Breakdown, breakdown, supply_links
from gosplan.model.hierarchy import Hierarchy


def links_of(res: Breakdown) -> dict[str, list[tuple[str, str, float]]]:
    frame = res.links_frame()
    out: dict[str, list] = {}
    for p, s, u, q in zip(frame["product"], frame["supplier"], frame["user"], frame["quantity"]):
        out.setdefault(p, []).append((s, u, q))
    return out


def test_north_west_corner_by_hand() -> None:
    eco = toy_economy()
    res = breakdown(eco, PLAN, hierarchy=toy_hierarchy(eco.products), links=True)
    assert res.success
    # grain: g1 (30) serves g1 3, g2 1, s1 7.5, s2 15 and final demand 3.5; g2 (20) final demand 20
    # steel: s1 (25) serves s2 7.5, service 9, final demand 8.5; s2 (75) final demand
    # service (implicit, 30): s1 5, final demand 25
    assert links_of(res) == {
        "grain": [("g1", "g1", 3.0), ("g1", "g2", 1.0), ("g1", "s1", 7.5), ("g1", "s2", 15.0),
                  ("g1", "final demand", 3.5), ("g2", "final demand", 20.0)],
        "steel": [("s1", "s2", 7.5), ("s1", "service", 9.0), ("s1", "final demand", 8.5),
                  ("s2", "final demand", 75.0)],
        "service": [("service", "s1", 5.0), ("service", "final demand", 25.0)],
    }
    assert list(res.links_frame().columns) == ["product", "supplier", "user", "quantity"]
    assert res.links.summary()["links"] == 12 and "north-west" in res.links.method


def test_regions_by_hand() -> None:
    """g1, s2 in the west, g2, s1 in the east, 4 apart. Grain: the west uses 18 (g1 3, s2 15), the
    east 8.5 (g2 1, s1 7.5); g1 (west, 30) and g2 (east, 20) serve their own region and final demand
    (no region, free to reach) takes the rest: nothing crosses. Plan grain at 26.5: g1 makes 15.9
    and g2 10.6; the west uses 1.59 + 15 = 16.59, the east 0.53 + 7.5 = 8.03, final demand 1.88:
    the west lacks 0.69, which only the east can send, at 4 a unit."""
    eco = toy_economy()
    h = toy_hierarchy(eco.products, regions=True)
    res = breakdown(eco, PLAN, hierarchy=h, links=True)
    assert res.links.cost.tolist() == [0.0, 0.0, 0.0]
    frame = res.links_frame()
    assert list(frame.columns)[-3:] == ["from_region", "to_region", "distance"]
    assert frame["distance"].max() == 0.0
    res = breakdown(eco, [26.5, 100.0, 30.0], hierarchy=h, links=True)
    assert res.links.cost[0] == pytest.approx(4.0 * 0.69)
    frame = res.links_frame()
    crossing = frame[(frame["product"] == "grain") & (frame["distance"] > 0)]
    assert crossing[["from_region", "to_region"]].values.tolist() == [["east", "west"]]
    assert crossing["quantity"].sum() == pytest.approx(0.69)
    assert res.links.summary()["between_regions"] == pytest.approx(0.69)
    assert pd.isna(frame.loc[frame["supplier"] == "service", "from_region"]).all()


# --------------------------------------------------------------------------- references
def supply_and_use(res: Breakdown) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(suppliers, users) built from the breakdown's own tables: ``product, node, region, quantity``."""
    ent = res.enterprises_frame()
    region = dict(zip(ent["enterprise"], ent["region"] if "region" in ent else [None] * len(ent)))
    alloc = res.allocations_frame()
    alloc = alloc[alloc["kind"] == "product"]
    use = alloc.groupby("input")["quantity"].sum()
    labels = [str(p) for p in res.products]
    final = pd.Series(res.gross_output, index=labels) - use.reindex(labels, fill_value=0.0)
    volume = np.maximum(np.abs(res.gross_output), alloc["quantity"].abs().groupby(alloc["input"]).sum()
                        .reindex(labels, fill_value=0.0).to_numpy())
    final[np.abs(final.to_numpy()) <= 1e-12 * volume] = 0.0  # rounding, not final demand
    sup = [pd.DataFrame({"product": ent["product"], "node": ent["enterprise"], "quantity": ent["target"]})]
    dem = []
    for sign, frame in ((1, sup), (-1, dem)):
        part = alloc[np.sign(alloc["quantity"]) == -sign]
        frame.append(pd.DataFrame({"product": part["input"], "node": part["enterprise"], "quantity": -sign * part["quantity"]}))
    sup.append(pd.DataFrame({"product": final.index[final < 0], "node": "imports", "quantity": -final[final < 0].to_numpy()}))
    dem.append(pd.DataFrame({"product": final.index[final > 0], "node": "final demand", "quantity": final[final > 0].to_numpy()}))
    out = []
    for parts in (sup, dem):
        frame = pd.concat(parts, ignore_index=True)
        frame = frame[frame["quantity"] > 0].copy()
        frame["region"] = frame["node"].map(region)
        out.append(frame.reset_index(drop=True))
    return out[0], out[1]


def cost_matrix(h: Hierarchy) -> dict[tuple, float]:
    regions = list(h.regions)
    d = h.distances if h.distances is not None else 1.0 - np.eye(len(regions))
    return {(r, s): float(d[a, b]) for a, r in enumerate(regions) for b, s in enumerate(regions)}


def unit_cost(c: dict, r: object, s: object) -> float:
    return 0.0 if pd.isna(r) or pd.isna(s) else c[(r, s)]


def transport_lp(sup: pd.DataFrame, dem: pd.DataFrame, c: dict) -> float:
    """HiGHS on min sum cost q over every (supplier, user) pair, supplies and uses met exactly."""
    S, U = len(sup), len(dem)
    cost = np.array([[unit_cost(c, r, s) for s in dem["region"]] for r in sup["region"]]).ravel()
    rows = np.concatenate([np.repeat(np.arange(S), U), S + np.tile(np.arange(U), S)])
    cols = np.concatenate([np.arange(S * U)] * 2)
    K = sp.csr_array((np.ones(2 * S * U), (rows, cols)), shape=(S + U, S * U))
    b = np.concatenate([sup["quantity"], dem["quantity"] * sup["quantity"].sum() / dem["quantity"].sum()])
    res = linprog(cost, A_eq=K, b_eq=b, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def check_balances(res: Breakdown, rel: float = 1e-12) -> None:
    """Every supplier delivers its supply, every user receives its use (relative to the product's total)."""
    sup, dem = supply_and_use(res)
    links = res.links_frame()
    total = sup.groupby("product")["quantity"].sum()
    for frame, side in ((sup, "supplier"), (dem, "user")):
        want = frame.groupby(["product", "node"])["quantity"].sum()
        got = links.groupby(["product", side])["quantity"].sum()
        got.index.names = ["product", "node"]
        got = got.reindex(want.index, fill_value=0.0)
        scale = total.reindex(want.index.get_level_values(0)).to_numpy()
        assert (np.abs(got.to_numpy() - want.to_numpy()) <= rel * scale).all(), side
        assert len(links.groupby(["product", side])) == len(want)  # nobody else delivers or receives


def small_case(seed: int, distances: bool = True) -> gosplan.Economy:
    """Four products, ~30 enterprises in three regions; a by-product (negative coefficient) and a
    product with negative final demand (net imports)."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(0, 0.15, (4, 4)) * (rng.random((4, 4)) < 0.7)
    A[3, 1] = -0.05  # product 1 hands product 3 back as scrap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eco = gosplan.Economy.from_coefficients(A, y=[10.0, 20.0, 5.0, -1.0], l=rng.uniform(0.5, 2, 4))
    E = 30
    ep = np.concatenate([[0, 1, 2, 3], rng.integers(0, 3, E - 4)])  # product 3 has one enterprise
    pts = rng.uniform(0, 10, (3, 2))
    h = Hierarchy(
        products=eco.products, ministries=pd.Index(["a", "b"]), product_ministry=np.array([0, 0, 1, 1]),
        enterprises=pd.Index([f"e{k}" for k in range(E)]), enterprise_product=ep,
        capacity=rng.uniform(5, 30, E), input_factor=rng.uniform(0.8, 1.2, E),
        regions=pd.Index(["r0", "r1", "r2"]), enterprise_region=rng.integers(0, 3, E),
        distances=np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)) if distances else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eco.with_hierarchy(h)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rule", ["proportional", "merit"])
def test_cost_equals_enterprise_level_lp(seed: int, rule: str) -> None:
    eco = small_case(seed, distances=seed % 3 != 2)
    g = gosplan.balance(eco).gross_output
    g[3] = max(g[3], 1.0)
    if (g > eco.hierarchy.product_capacity).any():
        pytest.skip("random capacities short of the balance")
    res = breakdown(eco, g, rule=rule, links=True)
    assert res.success, res.message
    check_balances(res)
    sup, dem = supply_and_use(res)
    c = cost_matrix(eco.hierarchy)
    labels = [str(p) for p in eco.products]
    for j, p in enumerate(labels):
        s, d = sup[sup["product"] == p], dem[dem["product"] == p]
        ref = transport_lp(s.reset_index(drop=True), d.reset_index(drop=True), c)
        assert res.links.cost[j] == pytest.approx(ref, rel=1e-8, abs=1e-9 * s["quantity"].sum()), p
    # per link: its distance is the cost between its regions
    frame = res.links_frame()
    dist = [unit_cost(c, r, s) for r, s in zip(frame["from_region"], frame["to_region"])]
    assert frame["distance"].tolist() == dist


def test_by_products_and_imports_are_suppliers() -> None:
    """Product 1 hands 0.05 of its output of product 3 back (a negative coefficient); product 3's
    final demand is negative (net imports): both supply product 3."""
    eco = small_case(0)
    g = gosplan.balance(eco).gross_output
    res = breakdown(eco, g, links=True)
    assert res.success
    frame = res.links_frame()
    p3 = frame[frame["product"] == "p3"]
    imports = p3.loc[p3["supplier"] == "imports", "quantity"].sum()
    assert res.final_use[3] < 0 and imports == pytest.approx(-res.final_use[3], rel=1e-12)
    makers_of_1 = np.flatnonzero(eco.hierarchy.enterprise_product == 1)
    scrap = p3[p3["supplier"].isin([f"e{k}" for k in makers_of_1])]
    expect = 0.05 * (eco.hierarchy.input_factor[makers_of_1] * res.enterprise_output[makers_of_1]).sum()
    assert scrap["quantity"].sum() == pytest.approx(expect, rel=1e-12)
    assert "final demand" not in set(p3["user"])
    check_balances(res)


def region_level_cost(res: Breakdown) -> np.ndarray:
    """The optimal cost of each product by HiGHS on the transportation problem between regions,
    built from the frames (cost depends on regions only, so this is the enterprise-level optimum)."""
    sup, dem = supply_and_use(res)
    c = cost_matrix(res.hierarchy)
    out = np.zeros(res.hierarchy.n_products)
    for j, p in enumerate(str(q) for q in res.products):
        s = sup[sup["product"] == p].fillna({"region": "<none>"}).groupby("region")["quantity"].sum()
        d = dem[dem["product"] == p].fillna({"region": "<none>"}).groupby("region")["quantity"].sum()
        s = s.reset_index().replace({"region": {"<none>": None}})
        d = d.reset_index().replace({"region": {"<none>": None}})
        if len(s) and len(d):
            out[j] = transport_lp(s, d, c)
    return out


@pytest.mark.parametrize("name,distances", [("us-2022", True), ("us-2022", False), ("us-2017", True)])
def test_real_tables_optimal_and_balanced(name: str, distances: bool) -> None:
    eco = load(name)
    h = synthetic_hierarchy(eco, 4_000 if name == "us-2022" else 6_000, seed=5, regions=6, distances=distances)
    g = gosplan.hierarchy.aggregate(eco, h).gross_output
    res = breakdown(eco, g, hierarchy=h, links=True)
    assert res.success, res.message
    assert res.checks["links_max_imbalance"] < 1e-12
    assert res.checks["links_unmatched"] <= 1e-12 * g.sum()
    check_balances(res)
    if name == "us-2022":
        ref = region_level_cost(res)
        assert res.links.cost == pytest.approx(ref, rel=1e-7, abs=1e-9 * g.max())
    # at most S + U - 1 links per product and pair of regions
    frame = res.links_frame().fillna({"from_region": "-", "to_region": "-"})
    per = frame.groupby(["product", "from_region", "to_region"]).agg(
        links=("quantity", "size"), s=("supplier", "nunique"), u=("user", "nunique"))
    assert (per["links"] <= per["s"] + per["u"] - 1).all()


def test_without_regions_any_assignment() -> None:
    eco = load("us-2017")
    h = synthetic_hierarchy(eco, 5_000, seed=6)
    res = breakdown(eco, gosplan.hierarchy.aggregate(eco, h).gross_output, hierarchy=h, links=True)
    assert res.success and not res.links.has_regions
    check_balances(res)
    frame = res.links_frame()
    per = frame.groupby("product").agg(links=("quantity", "size"), s=("supplier", "nunique"), u=("user", "nunique"))
    assert (per["links"] <= per["s"] + per["u"] - 1).all()
    assert res.links.cost.sum() == 0.0


def test_links_need_a_feasible_breakdown() -> None:
    eco = toy_economy()
    res = breakdown(eco, [500.0, 100.0, 30.0], hierarchy=toy_hierarchy(eco.products))
    with pytest.raises(PlanningError, match="infeasible"):
        supply_links(res)
    # on a feasible one the function and the option agree
    res = breakdown(eco, PLAN, hierarchy=toy_hierarchy(eco.products, regions=True), links=True)
    again = supply_links(res)
    assert again.quantity.tolist() == res.links.quantity.tolist()


def test_regions_with_tiny_totals_balance_exactly() -> None:
    """A region whose use of a product is below HiGHS' tolerance (1e-9 of the product) still gets
    exactly its use: the flows come from the LP's basis, not from its rounded values."""
    eco = small_case(1)
    h = eco.hierarchy
    cap = h.capacity.copy()
    tiny = np.flatnonzero(h.enterprise_region == 2)
    cap[tiny] *= 1e-9
    hier = Hierarchy(products=h.products, ministries=h.ministries, product_ministry=h.product_ministry,
                     enterprises=h.enterprises, enterprise_product=h.enterprise_product, capacity=cap,
                     input_factor=h.input_factor, regions=h.regions, enterprise_region=h.enterprise_region,
                     distances=h.distances)
    C = hier.product_capacity
    g = np.where(hier.covered, 0.9 * C, 1.0)
    res = breakdown(eco, g, hierarchy=hier, links=True)
    assert res.success, res.message
    assert res.checks["links_max_imbalance"] < 1e-14
    check_balances(res, rel=1e-14)
    sup, dem = supply_and_use(res)
    c = cost_matrix(hier)
    for j, p in enumerate(str(q) for q in eco.products):
        s, d = sup[sup["product"] == p].reset_index(drop=True), dem[dem["product"] == p].reset_index(drop=True)
        assert res.links.cost[j] == pytest.approx(transport_lp(s, d, c), rel=1e-8, abs=1e-9 * s["quantity"].sum())

"""Aggregating the enterprises' reports: capacities and capacity-weighted techniques by product.

Known answers: the hand-solved hierarchy of test_breakdown; on the real tables, A' and P'
against a dense numpy computation that forms every enterprise's technique.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from test_breakdown import load, synthetic_hierarchy, toy_economy, toy_hierarchy

import gosplan
from gosplan.errors import InvalidEconomyError
from gosplan.hierarchy import aggregate
from gosplan.model.hierarchy import Hierarchy


@pytest.fixture
def toy() -> gosplan.Economy:
    eco = toy_economy()
    return eco.with_hierarchy(toy_hierarchy(eco.products))


def test_aggregate_by_hand(toy: gosplan.Economy) -> None:
    agg = aggregate(toy)
    # grain: (60 * 1 + 40 * 0.5) / 100 = 0.8 of the table's column; labour (60 * 1 + 40 * 2) / 100 = 1.4
    # steel: (50 * [0.3, 0, 0.2] + 150 * [0.2, 0.1, 0]) / 200 = [0.225, 0.075, 0.05]; labour (50 + 300) / 200
    # service: no enterprise, the table's column
    A = np.array([[0.08, 0.225, 0.0], [0.0, 0.075, 0.3], [0.0, 0.05, 0.0]])
    assert agg.economy.A.toarray() == pytest.approx(A, rel=1e-15, abs=0)
    assert agg.economy.primary_coefficients == pytest.approx(np.array([[1.4, 1.75, 0.5]]), rel=1e-15)
    assert agg.capacities.to_dict() == {"grain": 100.0, "steel": 200.0, "service": np.inf}
    assert agg.economy.hierarchy is toy.hierarchy and agg.table is toy
    assert agg.economy.y.tolist() == toy.y.tolist()
    # the balance of A' for the table's demand y = (10, 20, 5)
    x = np.linalg.solve(np.eye(3) - A, toy.y)
    assert agg.gross_output == pytest.approx(x, rel=1e-12)
    prod = agg.products_frame().set_index("product")
    assert prod["enterprises"].tolist() == [2, 2, 0]
    assert prod["implicit"].tolist() == [False, False, True]
    assert prod["input_factor"].iloc[:2].tolist() == pytest.approx([0.8, 0.75])
    assert prod["labour_factor"].iloc[:2].tolist() == pytest.approx([1.4, 0.75])
    assert prod["own_norms_capacity_share"].iloc[:2].tolist() == [0.0, 0.25]
    assert prod["own_norms_enterprises"].tolist() == [0, 1, 0]
    assert prod["labour_coefficient"].tolist() == pytest.approx([1.4, 1.75, 0.5])
    assert prod["labour_coefficient_table"].tolist() == [1.0, 2.0, 0.5]
    # largest changes: grain into grain 0.08 - 0.1; grain into steel 0.225 - 0.2 ... service into steel +0.05
    assert prod["max_input_change"].tolist() == pytest.approx([-0.02, 0.05, 0.0])
    assert prod["max_input_change_of"].iloc[:2].tolist() == ["grain", "service"]
    assert pd.isna(prod["max_input_change_of"].iloc[2])
    assert prod["utilisation"].iloc[:2].tolist() == pytest.approx(x[:2] / [100.0, 200.0])
    mins = agg.ministries_frame().set_index("ministry")
    assert mins["products"].tolist() == [2, 1] and mins["products_with_enterprises"].tolist() == [1, 1]
    assert mins["enterprises"].tolist() == [2, 2]
    assert mins["capacity"].tolist() == [100.0, 200.0]
    assert mins["labour_at_capacity"].tolist() == pytest.approx([140.0, 350.0])
    assert mins["gross_output"].tolist() == pytest.approx([x[0], x[1]])
    assert mins["gross_output_implicit"].tolist() == pytest.approx([x[2], 0.0])
    assert mins["utilisation"].tolist() == pytest.approx([x[0] / 100, x[1] / 200])
    s = agg.summary()
    json.dumps(s, allow_nan=False)
    assert s["capacity"] == 300.0 and s["labour_at_capacity"] == pytest.approx(490.0)
    assert s["max_input_change"] == {"product": "steel", "input": "service", "change": pytest.approx(0.05)}
    assert s["products_implicit"] == 1 and s["enterprises_with_own_norms"] == 1


def test_zero_capacity_products_keep_the_table(toy: gosplan.Economy) -> None:
    h = toy.hierarchy
    zero = Hierarchy(products=h.products, ministries=h.ministries, product_ministry=h.product_ministry,
                     enterprises=h.enterprises, enterprise_product=h.enterprise_product,
                     capacity=np.array([0.0, 0.0, 50.0, 150.0]), input_factor=h.input_factor,
                     labour_factor=h.labour_factor, norms=h.norms)
    agg = aggregate(toy, zero)
    assert agg.economy.A.toarray()[:, 0].tolist() == toy.A.toarray()[:, 0].tolist()
    assert agg.capacity.tolist() == [0.0, 200.0, np.inf]
    assert any("zero capacity" in n and "'grain'" in n for n in agg.notes)
    assert agg.summary()["products_zero_capacity"] == 1
    assert np.isnan(agg.products_frame()["utilisation"].iloc[0])


def dense_reference(economy: gosplan.Economy, h: Hierarchy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A', P' and C by forming every enterprise's technique as a dense column."""
    A, P = economy.A.toarray(), economy.primary_coefficients
    n = A.shape[0]
    ep, C = h.enterprise_product, h.capacity
    a = A[:, ep] * h.input_factor  # n x E
    p = P[:, ep] * h.labour_factor
    if h.norms is not None:
        a[:, h.norms.enterprise] += h.norms.inputs.toarray().T
        p[:, h.norms.enterprise] += h.norms.primary.toarray().T
    cap = np.zeros(n)
    np.add.at(cap, ep, C)
    A2, P2 = A.copy(), P.copy()
    for i in range(n):
        mine = ep == i
        if mine.any() and cap[i] > 0:
            A2[:, i] = (a[:, mine] * C[mine]).sum(axis=1) / cap[i]
            P2[:, i] = (p[:, mine] * C[mine]).sum(axis=1) / cap[i]
    return A2, P2, cap


@pytest.mark.parametrize("name", ["us-2017", "us-2022", "wiod-2011"])
def test_aggregate_against_dense_numpy(name: str) -> None:
    eco = load(name)
    h = synthetic_hierarchy(eco, 3_000 if name != "wiod-2011" else 6_000, seed=3, own_norms=0.1)
    agg = aggregate(eco, h, balance=False)
    A2, P2, cap = dense_reference(eco, h)
    scale = np.abs(A2).max()
    assert np.abs(agg.economy.A.toarray() - A2).max() <= 1e-14 * scale
    assert agg.economy.primary_coefficients == pytest.approx(P2, rel=1e-13, abs=1e-15 * np.abs(P2).max())
    assert agg.capacity[h.covered] == pytest.approx(cap[h.covered], rel=1e-14)
    assert np.isinf(agg.capacity[~h.covered]).all()
    # products without enterprises keep the table's column exactly
    unc = np.flatnonzero(~h.covered)
    assert (agg.economy.A.toarray()[:, unc] == eco.A.toarray()[:, unc]).all()
    # the largest coefficient change of each product, by the dense difference
    D = A2 - eco.A.toarray()
    k = np.abs(D).argmax(axis=0)
    frame = agg.products_frame()
    expect = D[k, np.arange(eco.n_products)]
    assert frame["max_input_change"].to_numpy() == pytest.approx(expect, abs=1e-14 * scale)
    assert agg.gross_output is None and np.isnan(frame["utilisation"]).all()


def test_labour_at_capacity_against_enterprises() -> None:
    eco = load("us-2022")
    h = synthetic_hierarchy(eco, 2_000, seed=4)
    agg = aggregate(eco, h)
    lab = eco.primary_coefficients[0][h.enterprise_product] * h.labour_factor
    lab[h.norms.enterprise] += h.norms.primary.toarray()[:, 0]
    per_ministry = np.bincount(h.enterprise_ministry, weights=h.capacity * lab, minlength=h.n_ministries)
    assert agg.ministries_frame()["labour_at_capacity"].to_numpy() == pytest.approx(per_ministry, rel=1e-12)
    # synthetic capacities were fitted to 1.25 times the balance of A'
    util = agg.products_frame()["utilisation"].to_numpy()[h.covered]
    assert util.max() <= 1 / 1.25 + 1e-9
    assert agg.summary()["utilisation"] == pytest.approx(
        agg.gross_output[h.covered].sum() / h.capacity.sum(), rel=1e-12
    )


def test_aggregate_scales_to_many_enterprises() -> None:
    """10^6 enterprises on the BEA detail table: bincounts and sparse products, no loop. (How
    long it takes is measured by benchmarks/bench_decompose.py --aggregate, not asserted here.)"""
    eco = load("us-2017")
    rng = np.random.default_rng(0)
    E = 1_000_000
    ep = rng.integers(0, eco.n_products, E)
    h = Hierarchy(products=eco.products, ministries=pd.Index(["all"]), product_ministry=np.zeros(eco.n_products, np.int64),
                  enterprises=pd.RangeIndex(E), enterprise_product=ep, capacity=rng.pareto(1.2, E) + 0.1,
                  input_factor=rng.uniform(0.9, 1.1, E))
    agg = aggregate(eco, h, balance=False)
    f = np.bincount(ep, weights=h.capacity * h.input_factor) / np.bincount(ep, weights=h.capacity)
    assert agg.economy.A.toarray() == pytest.approx(eco.A.toarray() * f[None, :], rel=1e-12, abs=1e-18)


def test_write_and_errors(toy: gosplan.Economy, tmp_path: Path) -> None:
    agg = aggregate(toy)
    for fmt in ("csv", "parquet"):
        agg.write(tmp_path / fmt, fmt)
        assert sorted(p.name for p in (tmp_path / fmt).iterdir()) == sorted(
            [f"products.{fmt}", f"ministries.{fmt}", "summary.json"]
        )
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        assert read(tmp_path / fmt / f"ministries.{fmt}")["capacity"].tolist() == [100.0, 200.0]
    summary = json.loads((tmp_path / "csv" / "summary.json").read_text())
    assert summary["files"]["products"] == "products.csv"
    with pytest.raises(InvalidEconomyError, match="has no hierarchy"):
        aggregate(toy.with_hierarchy(None))
    with pytest.raises(ValueError, match="format"):
        agg.write(tmp_path / "x", "xlsx")
    # a hierarchy without enterprises changes nothing
    bare = aggregate(toy, Hierarchy.single_ministry(toy.products))
    assert (bare.economy.A != toy.A).nnz == 0 and np.isinf(bare.capacity).all()


def test_aggregated_economy_round_trips_through_a_directory(toy: gosplan.Economy, tmp_path: Path) -> None:
    from gosplan.io.directory import read_directory, write_directory

    agg = aggregate(toy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = read_directory(write_directory(agg.economy, tmp_path / "eco"))
    assert sp.csr_array(back.A).toarray() == pytest.approx(agg.economy.A.toarray(), rel=1e-15)


def test_bea_ministries_keep_their_names_through_synth_aggregate_and_breakdown() -> None:
    """BEA's ministry and sector names survive synthetic enterprises and reach the ministries
    frames of aggregate and breakdown (and so their CSV files and the CLI's tables)."""
    from gosplan.hierarchy import breakdown
    from gosplan.synth.enterprises import synth_enterprises

    eco = synth_enterprises(load("us-2017"), per_product=2, seed=1)
    h = eco.hierarchy
    assert h.ministry_names["111CA"] == "Farms" and h.sector_names["31G"] == "Manufacturing"
    agg = aggregate(eco, h).ministries_frame().set_index("ministry")
    assert list(agg.columns[:3]) == ["name", "sector", "sector_name"]
    assert tuple(agg.loc["111CA", ["name", "sector", "sector_name"]]) == (
        "Farms", "11", "Agriculture, forestry, fishing, and hunting")
    plan = gosplan.balance(eco)
    frame = breakdown(eco, plan).ministries_frame().set_index("ministry")
    assert frame.loc["42", "name"] == "Wholesale trade"

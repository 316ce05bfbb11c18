"""Synthetic enterprises and ministries (gosplan.synth.enterprises) and `gosplan synth --enterprises`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gosplan
from gosplan.cli.app import app
from gosplan.io.directory import read_directory
from gosplan.synth import generate
from gosplan.synth.enterprises import group_products, synth_enterprises


@pytest.fixture(scope="module")
def eco():
    return generate(3000, 8, seed=4)


@pytest.fixture(scope="module")
def x(eco):
    return gosplan.balance(eco, values=False, multipliers=False).gross_output


@pytest.fixture(scope="module")
def synth(eco):
    return synth_enterprises(eco, per_product=6, seed=11, own_norms_share=0.1, regions=12)


def _us(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load(name)


def test_capacities_exceed_the_balance_by_the_headroom(eco, x, synth) -> None:
    h = synth.hierarchy
    made = x > 0
    assert made.mean() > 0.5
    assert (h.product_capacity[~made] == 0).all()  # nothing to make, no capacity
    ratio = h.product_capacity[made] / x[made]
    assert ratio.min() >= 1.05 - 1e-12 and ratio.max() <= 1.30 + 1e-12
    assert ratio.min() < 1.06 and ratio.max() > 1.29  # drawn over the whole range
    assert (h.product_capacity >= x).all()  # the table's own plan is feasible
    exact = synth_enterprises(eco, per_product=3, seed=1, headroom=(0.1, 0.1)).hierarchy
    np.testing.assert_allclose(exact.product_capacity, 1.1 * x, rtol=1e-12)
    given = synth_enterprises(eco, seed=1, headroom=(0.2, 0.2), gross_output=np.arange(3000.0) - 5).hierarchy
    np.testing.assert_allclose(given.product_capacity, 1.2 * np.maximum(np.arange(3000.0) - 5, 0), rtol=1e-12)


def test_counts_and_heavy_tailed_sizes(synth) -> None:
    h = synth.hierarchy
    counts = np.bincount(h.enterprise_product, minlength=h.n_products)
    assert counts.min() >= 1 and abs(counts.mean() - 6) < 0.15 and counts.std() > 1
    assert (np.diff(h.enterprise_product) >= 0).all()  # ordered by product
    cap = np.sort(h.capacity)[::-1]
    assert cap[: cap.size // 10].sum() > 0.4 * cap.sum()  # top 10 % hold more than 40 %
    # within products too: shares of the product's capacity are unequal
    made = h.product_capacity[h.enterprise_product] > 0
    share = np.sort(h.capacity[made] / h.product_capacity[h.enterprise_product][made])[::-1]
    assert share[: share.size // 10].sum() > 0.25 * share.sum()
    assert share.max() > 0.9 and share.min() < 0.01


def test_factors_average_one_per_product(synth) -> None:
    h = synth.hierarchy
    own = h.has_own_norms
    assert (h.input_factor[own] == 0).all() and (h.labour_factor[own] == 0).all()
    for f in (h.input_factor, h.labour_factor):
        w = h.capacity * ~own
        num = np.bincount(h.enterprise_product, weights=w * f, minlength=h.n_products)
        den = np.bincount(h.enterprise_product, weights=w, minlength=h.n_products)
        mean = num[den > 0] / den[den > 0]
        np.testing.assert_allclose(mean, 1.0, rtol=1e-10)
        spread = np.log(f[~own]).std()
        assert 0.1 < spread < 0.2  # efficiency 0.15
    corr = np.corrcoef(np.log(h.input_factor[~own]), np.log(h.labour_factor[~own]))[0, 1]
    assert 0.35 < corr < 0.65


def test_own_norms_perturb_the_table(eco, synth) -> None:
    h = synth.hierarchy
    e = h.norms.enterprise
    assert abs(e.size / h.n_enterprises - 0.1) < 0.01
    A, P = eco.A.tocsc(), eco.primary.tocsc()
    N, Q = h.norms.inputs, h.norms.primary
    for k in range(0, e.size, max(1, e.size // 50)):
        i = h.enterprise_product[e[k]]
        for table, own in ((A, N), (P, Q)):
            column = table[:, [i]].toarray().ravel()
            row = own[[k], :].toarray().ravel()
            assert ((row != 0) == (column != 0)).all()
            ratio = row[column != 0] / column[column != 0]
            assert (ratio > 0).all() and (np.abs(np.log(ratio)) < 1.0).all()


def test_regions(synth) -> None:
    h = synth.hierarchy
    assert len(h.regions) == 12 and h.regions[0] == "region-01"
    sizes = np.bincount(h.enterprise_region, minlength=12)
    assert sizes[0] > sizes[5] > sizes[11] > 0  # Zipf weights
    D = h.distances
    assert D.shape == (12, 12) and (np.diag(D) == 0).all() and np.array_equal(D, D.T)
    assert (D[~np.eye(12, dtype=bool)] > 0).all() and D.max() < 1000 * np.sqrt(2)


def test_deterministic_per_seed(eco, synth) -> None:
    again = synth_enterprises(eco, per_product=6, seed=11, own_norms_share=0.1, regions=12).hierarchy
    h = synth.hierarchy
    for name in ("enterprise_product", "capacity", "input_factor", "labour_factor", "enterprise_region", "distances"):
        np.testing.assert_array_equal(getattr(h, name), getattr(again, name), err_msg=name)
    assert (h.norms.inputs != again.norms.inputs).nnz == 0
    other = synth_enterprises(eco, per_product=6, seed=12, own_norms_share=0.1, regions=12).hierarchy
    assert not np.array_equal(other.capacity[:100], h.capacity[:100])
    # parts draw from their own streams: regions do not move the capacities
    plain = synth_enterprises(eco, per_product=6, seed=11, own_norms_share=0.1).hierarchy
    np.testing.assert_array_equal(plain.capacity, h.capacity)
    assert plain.regions is None


def test_ministries_kept_or_grouped(eco) -> None:
    us = _us("us-2017")
    h = synth_enterprises(us, per_product=2, seed=0).hierarchy
    assert h.ministries.equals(us.hierarchy.ministries) and h.sectors.equals(us.hierarchy.sectors)
    np.testing.assert_array_equal(h.product_ministry, us.hierarchy.product_ministry)
    assert h.notes[: len(us.hierarchy.notes)] == us.hierarchy.notes and "synthetic enterprises" in h.notes[-1]
    x = gosplan.balance(us, values=False, multipliers=False).gross_output
    assert (h.product_capacity >= np.maximum(x, 0)).all()
    assert synth_enterprises(us, ministries=9, seed=0).hierarchy.n_ministries == 9
    g = synth_enterprises(eco, seed=0).hierarchy
    assert g.n_ministries == round(np.sqrt(3000))
    g = group_products(eco, 40, seed=3)
    sizes = np.bincount(g.product_ministry)
    assert g.n_ministries == 40 and (sizes > 0).all() and sizes.std() > 0
    assert (np.diff(g.product_ministry) >= 0).all()  # runs of neighbouring products
    assert g.n_enterprises == 0 and list(g.ministries[:2]) == ["ministry-01", "ministry-02"]
    np.testing.assert_array_equal(group_products(eco, 40, seed=3).product_ministry, g.product_ministry)


def test_bad_arguments(eco) -> None:
    for kwargs in ({"per_product": 0}, {"size_tail": 0}, {"headroom": (0.3, 0.1)}, {"own_norms_share": 1.5},
                   {"regions": -1}, {"efficiency": -0.1}, {"gross_output": np.ones(3)}):
        with pytest.raises(ValueError):
            synth_enterprises(eco, **kwargs)
    with pytest.raises(ValueError, match="ministries must be between 1 and"):
        group_products(eco, 0)


def test_a_million_enterprises(eco) -> None:
    """10^6 enterprises (not timed: about a second)."""
    h = synth_enterprises(eco, per_product=333, seed=5, regions=100, own_norms_share=0.001).hierarchy
    assert 0.98e6 < h.n_enterprises < 1.02e6
    assert np.isfinite(h.capacity).all() and (h.capacity >= 0).all()
    assert h.norms.enterprise.size > 500


# ------------------------------------------------------------------------------ CLI
@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.filterwarnings("ignore::gosplan.errors.NegativeCoefficientWarning")
def test_cli_base_economy_with_enterprises(runner, tmp_path: Path) -> None:
    out = tmp_path / "us"
    result = runner.invoke(app, ["synth", "--base", "us-2022", "--enterprises", "3", "--regions", "4",
                                 "--seed", "2", "--out", str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "17 ministries" in result.stderr and "enterprises in 4 regions" in result.stderr
    eco = read_directory(out)
    expected = synth_enterprises(_us("us-2022"), per_product=3, regions=4, seed=2).hierarchy
    h = eco.hierarchy
    assert list(h.ministries) == list(expected.ministries) and h.n_enterprises == expected.n_enterprises
    np.testing.assert_array_equal(h.capacity, expected.capacity)
    assert {p.name for p in out.iterdir()} >= {"ministries.csv", "enterprises.csv", "distances.csv"}


def test_cli_synthetic_economy_with_enterprises(runner, tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = runner.invoke(app, ["synth", "--products", "400", "--enterprises", "2", "--own-norms", "0.2",
                                 "--ministries", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    h = read_directory(out).hierarchy
    assert h.n_ministries == 7 and h.n_enterprises > 400 and h.norms is not None and h.regions is None
    out = tmp_path / "m"
    result = runner.invoke(app, ["synth", "-n", "100", "--ministries", "5", "--out", str(out), "-f", "csv"])
    assert result.exit_code == 0, result.output
    h = read_directory(out).hierarchy
    assert h.n_ministries == 5 and h.n_enterprises == 0
    assert not (out / "enterprises.csv").exists()


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--products", "10", "--regions", "3"], "--regions"),
        (["--products", "10", "--own-norms", "0.5"], "--own-norms"),
        (["--base", "us-2022", "--products", "10", "--enterprises", "2"], "--products"),
        (["--base", "us-2022"], "--base"),
        (["--products", "10", "--years", "3", "--enterprises", "2"], "--enterprises"),
        (["--enterprises", "2"], "--products"),
        (["--products", "10", "--enterprises", "0"], "--enterprises"),
    ],
)
def test_cli_usage_errors(runner, tmp_path: Path, args: list[str], flag: str) -> None:
    result = runner.invoke(app, ["synth", *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert flag in result.stderr
    assert not (tmp_path / "x").exists()

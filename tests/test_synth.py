"""Synthetic economies: exact spectral radius, tiers, loops, heavy tails, reproducibility,
streamed files equal to the in-memory economy."""

from __future__ import annotations

import filecmp
import tomllib

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from gosplan.io.directory import read_directory, read_product_table
from gosplan.synth import generate, write_synthetic
from gosplan.synth._generator import BLOCK, Generator, SynthSpec

TABLES = ("products", "technology", "primary", "demand")


def groups(eco) -> np.ndarray:
    """u universal, r raw, i intermediate, f final (the label's first letter)."""
    return np.array(eco.products.str[0])


@pytest.fixture(scope="module")
def mid():
    return generate(50_000, 10, seed=11)


# ------------------------------------------------------------------------ spectral radius
@pytest.mark.parametrize("n,K,rho", [(60, 4, 0.5), (300, 10, 0.3), (500, 30, 0.9), (400, 8, 0.6)])
def test_spectral_radius_exact_dense(n, K, rho):
    eco = generate(n, K, seed=n, spectral_radius=rho)
    A = eco.A.toarray()
    assert (A >= 0).all()
    assert abs(np.abs(np.linalg.eigvals(A)).max() - rho) < 1e-12


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(10, 200), K=st.floats(1, 12), rho=st.floats(0.01, 0.99), seed=st.integers(0, 2**32),
    feedback=st.floats(0, 0.5), popularity=st.floats(0, 0.95),
)
def test_spectral_radius_hypothesis(n, K, rho, seed, feedback, popularity):
    eco = generate(n, K, seed=seed, spectral_radius=rho, feedback=feedback, popularity=popularity)
    A = eco.A.toarray()
    assert np.diff(eco.A.tocsc().indptr).min() >= 1  # every column has an input
    assert abs(np.abs(np.linalg.eigvals(A)).max() - rho) < 1e-10


def test_spectral_radius_exact_sparse(mid):
    vals = spla.eigs(mid.A, k=1, which="LM", return_eigenvectors=False, tol=1e-12)
    assert abs(abs(vals[0]) - 0.5) < 1e-9
    # the price vector w is the positive left Perron vector: w^T A = rho w^T
    w = Generator(SynthSpec.make(50_000, 10, seed=11, spectral_radius=0.5, tiers=(0.05, 0.12, 0.12, 0.12, 0.59),
                                 universal=None, universal_use=0.97, feedback=0.05, popularity=0.8,
                                 resources=("land", "co2"),
                                 categories=("households", "government", "investment", "exports"))).w
    assert np.allclose(mid.A.T @ w, 0.5 * w, rtol=1e-12)


# ------------------------------------------------------------------------------ structure
def test_mean_inputs_and_every_column_used():
    for K in (10, 30):
        eco = generate(20_000, K, seed=2)
        per_column = np.diff(eco.A.tocsc().indptr)
        assert per_column.min() >= 1
        assert abs(per_column.mean() - K) / K < 0.02


def test_tiers(mid):
    g = groups(mid)
    assert g[:3].tolist() == ["u", "u", "u"]  # round(0.3 K) universal inputs first
    order = np.array(["urif".index(k) for k in g])
    assert (np.diff(order) >= 0).all()  # laid out by group
    share = {k: (g == k).mean() for k in "rif"}
    assert share["f"] > 0.5 and 0.04 < share["r"] < 0.06
    users = np.diff(mid.A.indptr)  # row nnz: how many products use i
    inputs = np.diff(mid.A.tocsc().indptr)
    n = mid.n_products
    # universal inputs: used by almost every product
    assert (users[g == "u"] > 0.95 * n).all()
    # raw materials have few inputs besides the universal ones; final goods are barely used
    assert inputs[g == "r"].mean() < inputs[g == "i"].mean() / 1.5
    assert (users[g == "f"] == 0).mean() > 0.6
    assert users[g == "f"].sum() < 0.05 * mid.A.nnz
    # inputs of intermediates come mostly from lower tiers
    coo = mid.A.tocoo()
    mask = (g[coo.col] == "i") & (g[coo.row] != "u")
    assert (order[coo.row[mask]] <= order[coo.col[mask]]).mean() > 0.9


def test_final_goods_unused_without_feedback():
    eco = generate(5_000, 10, seed=4, feedback=0.0)
    g = groups(eco)
    assert np.diff(eco.A.indptr)[g == "f"].max() == 0


def test_strongly_connected_core(mid):
    n = mid.n_products
    count, label = connected_components(mid.A, directed=True, connection="strong")
    sizes = np.bincount(label)
    core = sizes.argmax()
    g = groups(mid)
    assert (label[g == "u"] == core).all()
    assert 0.2 * n < sizes[core] < 0.7 * n
    # the rest is (nearly) acyclic: singletons and tiny loops
    assert np.sort(sizes)[-2] <= 5
    assert (sizes == 1).sum() > 0.3 * n
    coo = mid.A.tocoo()
    inside = (label[coo.row] == core) & (label[coo.col] == core)
    assert 0.2 < inside.mean() < 0.8


def test_no_feedback_is_still_cyclic_through_universal_inputs():
    eco = generate(5_000, 10, seed=4, feedback=0.0)
    count, label = connected_components(eco.A, directed=True, connection="strong")
    assert np.bincount(label).max() > 100


def test_heavy_tailed_in_degree(mid):
    g = groups(mid)
    users = np.diff(mid.A.indptr)[g != "u"]
    assert users.max() > 200 * np.median(users[users > 0])
    # top 1 % of products take a large share of all uses (not so without popularity)
    top = np.sort(users)[::-1][: users.size // 100].sum() / users.sum()
    flat = generate(50_000, 10, seed=11, popularity=0.0)
    users_flat = np.diff(flat.A.indptr)[groups(flat) != "u"]
    top_flat = np.sort(users_flat)[::-1][: users_flat.size // 100].sum() / users_flat.sum()
    assert top > 0.4 and top_flat < 0.1


def test_heterogeneous_coefficients_and_primary(mid):
    logs = np.log10(mid.A.data)
    assert logs.std() > 0.6
    l = mid.l
    assert (l > 0).all() and np.log10(l).std() > 0.3
    assert list(mid.resources) == ["labour", "land", "co2"]
    g = groups(mid)
    land = mid.primary.toarray()[1] > 0
    assert land[g == "r"].mean() > 0.4 and land[g == "f"].mean() < 0.05
    co2 = mid.primary.toarray()[2] > 0
    assert co2[g == "u"].all()


def test_final_demand(mid):
    g = groups(mid)
    Y = mid.demand
    assert list(mid.categories) == ["households", "government", "investment", "exports"]
    assert (Y >= 0).all()
    hh = Y[:, 0] > 0
    assert (g[hh] == "f").mean() > 0.9
    exports = Y[:, 3] > 0
    assert (g[exports] != "f").mean() > 0.1  # some exports are intermediates
    assert (mid.y > 0).mean() > 0.5


def test_labels():
    eco = generate(1_000, 5, seed=1)
    assert eco.products[0] == "u000" and eco.products[-1] == "f999"
    assert all(len(p) == 4 for p in eco.products)


# ------------------------------------------------------------------ reproducibility, files
def test_reproducible():
    a, b = generate(3_000, 10, seed=9), generate(3_000, 10, seed=9)
    assert (a.A != b.A).nnz == 0 and np.array_equal(a.demand, b.demand)
    assert np.array_equal(a.primary.toarray(), b.primary.toarray())
    c = generate(3_000, 10, seed=10)
    assert (a.A != c.A).nnz > 0


def test_streamed_equals_in_memory(tmp_path):
    n = 2 * BLOCK + 5_000  # three generation blocks
    seen: list[tuple[int, int]] = []
    write_synthetic(tmp_path / "small", n, 6, seed=3, chunk_size=1, progress=lambda d, t: seen.append((d, t)))
    write_synthetic(tmp_path / "big", n, 6, seed=3, chunk_size=10**7)
    assert seen == [(BLOCK, n), (2 * BLOCK, n), (n, n)]
    for name in TABLES:  # chunking changes nothing, not even a byte
        assert filecmp.cmp(tmp_path / "small" / f"{name}.parquet", tmp_path / "big" / f"{name}.parquet",
                           shallow=False)
    eco = generate(n, 6, seed=3)
    back = read_directory(tmp_path / "small")
    assert np.array_equal(back.A.indptr, eco.A.indptr) and np.array_equal(back.A.indices, eco.A.indices)
    assert np.array_equal(back.A.data, eco.A.data)
    assert np.array_equal(back.primary.toarray(), eco.primary.toarray())
    assert np.array_equal(back.demand, eco.demand)
    assert back.products.equals(eco.products) and back.meta == eco.meta
    assert back.A.indices.dtype == np.int32


def test_streamed_csv(tmp_path):
    write_synthetic(tmp_path / "c", 4_000, 10, seed=8, format="csv", tiers=(0.1, 0.3, 0.6), resources=())
    eco = generate(4_000, 10, seed=8, tiers=(0.1, 0.3, 0.6), resources=())
    back = read_directory(tmp_path / "c")
    assert np.array_equal(back.A.data, eco.A.data) and np.array_equal(back.demand, eco.demand)
    assert list(back.resources) == ["labour"]
    header = (tmp_path / "c" / "technology.csv").read_text().splitlines()[:2]
    assert header[0] == "input,output,coefficient" and header[1].startswith("1,0,")
    table = read_product_table(tmp_path / "c")
    assert list(table.columns) == ["product", "tier", "name"]
    assert table["name"].iloc[0] == "energy" and table["tier"].iloc[-1] == 3


def test_toml_records_parameters(tmp_path):
    write_synthetic(tmp_path / "t", 1_000, 7, seed=2, feedback=0.1)
    doc = tomllib.loads((tmp_path / "t" / "economy.toml").read_text())
    assert doc["tables"] == {
        "format": "parquet", "keys": "position", "resources": ["labour", "land", "co2"],
        "categories": ["households", "government", "investment", "exports"],
    }
    syn = doc["synthetic"]
    assert syn["n_products"] == 1_000 and syn["inputs"] == 7 and syn["seed"] == 2 and syn["feedback"] == 0.1
    assert syn["block"] == BLOCK and syn["universal"] == 2
    assert "feedback=0.1" in doc["notes"][0]
    with pytest.raises(FileExistsError):
        write_synthetic(tmp_path / "t", 1_000, 7, seed=2)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(spectral_radius=1.0), "spectral_radius must be in (0, 1)"),
        (dict(tiers=(0.5, 0.4)), "tiers must sum to 1"),
        (dict(tiers=(1.0,)), "tiers must give >= 2 positive shares"),
        (dict(universal=9), "universal must be in 0..8"),
        (dict(feedback=1.0), "feedback must be in [0, 1)"),
        (dict(popularity=1.0), "popularity must be in [0, 1)"),
        (dict(universal_use=1.5), "universal_use must be in [0, 1]"),
        (dict(resources=("labour",)), "resources must be distinct non-empty names other than 'labour'"),
        (dict(categories=("a", "a")), "categories must be distinct"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(n_products=5), "n_products must be >= 8"),
        (dict(inputs=0.5), "inputs (mean inputs per product) must be >= 1"),
        (dict(inputs=3, universal=8), "inputs (mean inputs per product, universal ones included) must be >= 1 + universal * universal_use = 8.76"),
    ],
)
def test_invalid_parameters(kwargs, fragment):
    args = dict(n_products=100, inputs=10, seed=1) | kwargs
    with pytest.raises(ValueError, match="Invalid input for the synthetic economy: " + _re(fragment)):
        generate(**args)


def _re(text: str) -> str:
    import re

    return re.escape(text)

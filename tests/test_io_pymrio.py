"""pymrio layout reader and IOSystem conversion: pymrio's test system and WIOD 2011."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _realdata import data
from gosplan.io.pymrio_layout import from_iosystem, read_pymrio, split_labels

try:  # the pymrio package (test extra): only the tests that build a pymrio IOSystem need it;
    import pymrio  # gosplan's reader of the saved layout does not
except ImportError:
    pymrio = None
needs_pymrio = pytest.mark.skipif(pymrio is None, reason="pymrio is not installed (pip install 'gosplan[pymrio]')")


@pytest.fixture(scope="module")
def test_system():
    io = pymrio.load_test()
    io.calc_all()
    return io


@needs_pymrio
def test_pymrio_test_system_layout_and_coefficients(test_system) -> None:
    eco = read_pymrio(data("pymrio_test"))
    assert eco.n_products == 48 and len(eco.categories) == 42
    assert eco.products[0] == "reg1:food" and eco.categories[0] == "reg1:Final consumption expenditure by households"
    assert list(split_labels(eco.products)) == list(test_system.Z.index)
    assert eco.labour is None
    assert list(eco.resources) == ["Value Added", "emissions:emission_type1:air", "emissions:emission_type2:water"]
    np.testing.assert_allclose(eco.A.toarray(), test_system.A.to_numpy(), rtol=1e-8, atol=1e-14)
    S = np.vstack([test_system.factor_inputs.S.to_numpy(), test_system.emissions.S.to_numpy()])
    np.testing.assert_allclose(eco.primary_coefficients, S, rtol=1e-8, atol=0)
    np.testing.assert_allclose(eco.demand, test_system.Y.to_numpy())
    assert any("F_Y" in note for note in eco.meta.notes)


def test_pymrio_test_recorded_output_reproduced() -> None:
    """x.csv is Z 1 + Y 1 written with 10 significant digits: reproduced to ~1e-10."""
    eco = read_pymrio(data("pymrio_test"))
    A = eco.A.toarray()
    x = np.linalg.solve(np.eye(len(A)) - A, eco.y)
    np.testing.assert_allclose(x, eco.recorded_output, rtol=1e-8)
    d = data("pymrio_test")
    Z = pd.read_csv(d / "Z.csv", index_col=[0, 1], header=[0, 1])
    Y = pd.read_csv(d / "Y.csv", index_col=[0, 1], header=[0, 1])
    np.testing.assert_allclose(eco.recorded_output, Z.sum(axis=1) + Y.sum(axis=1), rtol=1e-9)


@needs_pymrio
@pytest.mark.parametrize("fmt", ["txt", "parquet"])
def test_pymrio_saved_layouts_equal_iosystem(tmp_path, fmt: str) -> None:
    io = pymrio.load_test()
    io.save_all(tmp_path / fmt, table_format=fmt)
    eco = read_pymrio(tmp_path / fmt)
    ref = from_iosystem(pymrio.load_test())
    assert list(eco.products) == list(ref.products) and list(eco.categories) == list(ref.categories)
    assert list(eco.resources) == list(ref.resources)
    np.testing.assert_allclose(eco.A.toarray(), ref.A.toarray(), rtol=1e-11, atol=0)
    np.testing.assert_allclose(eco.primary_coefficients, ref.primary_coefficients, rtol=1e-11)
    assert eco.recorded_output is None  # pymrio saved no x: x = Z 1 + Y 1 was computed
    assert eco.meta.units == "Mill USD"


@needs_pymrio
def test_from_iosystem_labour_option(test_system) -> None:
    eco = from_iosystem(test_system, labour="Value Added")
    assert eco.labour == "labour" and eco.resources[0] == "labour"
    np.testing.assert_allclose(eco.l, test_system.factor_inputs.S.to_numpy()[0], rtol=1e-12)


def test_wiod_2011_layout_and_coefficients() -> None:
    d = data("wiod2013_2011")
    Z = pd.read_csv(d / "Z.csv", index_col=[0, 1], header=[0, 1])
    Y = pd.read_csv(d / "Y.csv", index_col=[0, 1], header=[0, 1])
    x = pd.read_csv(d / "x.csv", index_col=[0, 1])["indout"].to_numpy(float)
    va = pd.read_csv(d / "va_residual.csv", index_col=0, header=[0, 1]).to_numpy(float)
    eco = read_pymrio(d)
    assert eco.n_products == 1435 == 41 * 35 and len(eco.categories) == 205
    assert eco.products[0] == "AUS:c1" and eco.products[-1] == "RoW:c35"
    assert eco.categories[0] == "AUS:CONS_h"
    assert list(eco.resources) == ["va_residual"] and eco.labour is None
    xinv = np.divide(1.0, x, out=np.zeros_like(x), where=x != 0)
    np.testing.assert_allclose(eco.A.toarray(), Z.to_numpy(float) * xinv, rtol=1e-14, atol=0)
    np.testing.assert_allclose(eco.primary_coefficients, va * xinv, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(eco.demand, Y.to_numpy(float))
    np.testing.assert_array_equal(eco.recorded_output, x)
    assert (x == 0).sum() == 22 and not eco.A.toarray()[:, x == 0].any()


def test_wiod_recorded_output_within_rounding() -> None:
    """Values are whole millions: the row identity d = x - Z 1 - Y 1 holds to +-108 (data
    README), and x_solved - x = (I - A)^-1 (y + Z1 - x) ... = -L d exactly, so
    |x_solved - x| <= L |d| <= 108 L 1."""
    eco = read_pymrio(data("wiod2013_2011"))
    A = eco.A.toarray()
    n = len(A)
    xrec = eco.recorded_output
    Z = A * xrec
    d = xrec - Z.sum(1) - eco.y
    assert np.abs(d).max() <= 108
    L = np.linalg.inv(np.eye(n) - A)
    x = L @ eco.y
    np.testing.assert_allclose(x - xrec, -L @ d, atol=1e-6)
    assert np.all(np.abs(x - xrec) <= L @ np.abs(d) + 1e-6)
    assert np.all(np.abs(x - xrec) <= 108 * L.sum(1) + 1e-6)

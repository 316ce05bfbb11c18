"""UK ONS 2015 domestic use table (Cockshott's domesticiot.csv)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _realdata import data
from gosplan.errors import DataQualityWarning
from gosplan.io.ons_uk import read_uk_ons

CATEGORIES = [
    "Households", "Non-Profit Institutions Serving Households", "Central Government",
    "Local Authorities", "Gross Fixed Capital Formation", "Valuables", "Changes in Inventories",
    "Exports of Goods - EU", "Exports of Goods - Non EU", "Exports of Services - EU",
    "Exports of Services - Non EU",
]


def read_quietly(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return read_uk_ons(path)


def reference():
    t = pd.read_csv(data("uk_ons_2015") / "domesticiot.csv", index_col=0)
    t.index = t.index.str.strip()
    t.columns = t.columns.str.strip()
    n = 129
    return t, t.iloc[:n, :n].to_numpy(float), t.loc["Output"].iloc[:n].to_numpy(float)


def test_uk_layout_and_coefficients() -> None:
    t, Z, x = reference()
    eco = read_quietly(data("uk_ons_2015"))
    assert eco.n_products == 129
    assert list(eco.products) == list(t.index[:129]) and eco.products[1] == "Forestry And Logging"
    assert list(eco.categories) == CATEGORIES
    assert list(eco.resources) == [
        "labour", "Imports of goods and services", "Taxes less subsidies on products",
        "Taxes less subsidies on production", "Gross operating surplus",
    ]
    np.testing.assert_allclose(eco.A.toarray(), Z / x, rtol=1e-14)
    np.testing.assert_allclose(eco.l, t.loc["labour"].iloc[:129].to_numpy(float) / x, rtol=1e-14)
    np.testing.assert_array_equal(eco.demand, t.loc[t.index[:129], CATEGORIES].to_numpy(float))
    np.testing.assert_array_equal(eco.recorded_output, x)
    assert eco.meta.year == 2015 and "GBP" in eco.meta.units


def test_uk_totals_checked_and_defect_reported() -> None:
    with pytest.warns(DataQualityWarning) as caught:
        read_uk_ons(data("uk_ons_2015") / "domesticiot.csv")
    msg = " ".join(str(w.message) for w in caught)
    assert "line 79" in msg and "Owner-Occupiers' Housing" in msg
    assert "'Total Exports': 194407, its parts sum to 453" in msg
    assert "'Total Demand for Products at Basic Prices': empty" in msg
    assert "PublicSector" not in msg  # = central + local government + NPISH on every row


def test_uk_recorded_output_within_rounding() -> None:
    """Whole £ millions: d = x - Z 1 - y is rounding (|d_i| <= 65 = (129 + 1) / 2 at most,
    8 in practice) and x_solved - x = -L d."""
    t, Z, x = reference()
    eco = read_quietly(data("uk_ons_2015"))
    A = eco.A.toarray()
    L = np.linalg.inv(np.eye(129) - A)
    d = x - Z.sum(axis=1) - eco.y
    assert np.abs(d).max() <= 0.5 * (129 + len(CATEGORIES) + 1)
    xs = L @ eco.y
    np.testing.assert_allclose(xs - x, -L @ d, atol=1e-6)
    assert np.abs(xs - x).max() < 10 and (np.abs(xs - x) / x).max() < 3e-3

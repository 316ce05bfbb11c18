"""economy_from_flows: A = Z diag(x)^-1, S = F diag(x)^-1, demand, labour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gosplan import EconomyMeta
from gosplan.errors import NegativeCoefficientWarning
from gosplan.io.flows import economy_from_flows

P = ["agri", "manu", "serv"]


def flows() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]:
    Z = pd.DataFrame([[10.0, 20, 0], [30, 40, 0], [0, 0, 0]], index=P, columns=P)
    Y = pd.DataFrame({"hh": [60.0, 20, 0], "gov": [5.0, 10, 0]}, index=P)
    x = Z.sum(axis=1) + Y.sum(axis=1)
    F = pd.DataFrame([[50.0, 30, 0], [5.0, 10, 0]], index=["wages", "profit"], columns=P)
    return Z, Y, x, F


def test_coefficients_demand_and_primary() -> None:
    Z, Y, x, F = flows()
    eco = economy_from_flows(Z, Y, x, F, labour="wages", meta=EconomyMeta(name="t"))
    xv = x.to_numpy()
    np.testing.assert_allclose(eco.A.toarray()[:, :2], Z.to_numpy()[:, :2] / xv[:2])
    # x = 0 for 'serv': a zero column (as pymrio does), no division by zero
    assert xv[2] == 0 and not eco.A.toarray()[:, 2].any()
    np.testing.assert_array_equal(eco.demand, Y.to_numpy())
    assert list(eco.categories) == ["hh", "gov"]
    assert list(eco.resources) == ["labour", "profit"] and eco.labour == "labour"
    np.testing.assert_allclose(eco.l[:2], [50 / xv[0], 30 / xv[1]])
    np.testing.assert_array_equal(eco.recorded_output, xv)


def test_x_defaults_to_row_sums_and_no_recorded_output() -> None:
    Z, Y, x, _ = flows()
    eco = economy_from_flows(Z, Y)
    assert eco.recorded_output is None and eco.labour is None and len(eco.resources) == 0
    np.testing.assert_allclose(eco.A.toarray()[:, 0], Z.to_numpy()[:, 0] / x.iloc[0])


def test_permuted_columns_and_rows_aligned_by_label() -> None:
    Z, Y, x, F = flows()
    eco = economy_from_flows(Z, Y, x, F)
    eco2 = economy_from_flows(Z[P[::-1]], Y.iloc[::-1], x.iloc[::-1], F[P[::-1]])
    np.testing.assert_array_equal(eco.A.toarray(), eco2.A.toarray())
    np.testing.assert_array_equal(eco.demand, eco2.demand)
    np.testing.assert_array_equal(eco.primary_coefficients, eco2.primary_coefficients)


def test_multiindex_labels_flattened() -> None:
    idx = pd.MultiIndex.from_tuples([("r1", "a"), ("r2", "a")], names=["region", "sector"])
    Z = pd.DataFrame([[1.0, 2], [3, 4]], index=idx, columns=idx)
    Y = pd.DataFrame([[10.0], [10.0]], index=idx, columns=pd.MultiIndex.from_tuples([("r1", "hh")]))
    eco = economy_from_flows(Z, Y)
    assert list(eco.products) == ["r1:a", "r2:a"] and list(eco.categories) == ["r1:hh"]


def test_negative_flows_accepted_with_warning() -> None:
    Z, Y, x, F = flows()
    Z.loc["agri", "manu"] = -2.0
    with pytest.warns(NegativeCoefficientWarning):
        eco = economy_from_flows(Z, Y, x, F)
    assert eco.A.toarray()[0, 1] < 0


def test_labour_row_named_labour_goes_first() -> None:
    Z, Y, x, F = flows()
    F = F.rename(index={"profit": "labour"})
    eco = economy_from_flows(Z, Y, x, F)
    assert list(eco.resources) == ["labour", "wages"] and eco.labour == "labour"

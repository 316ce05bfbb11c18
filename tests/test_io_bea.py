"""BEA make/use reader against an independent pandas/numpy computation from the CSVs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _realdata import data
from gosplan.errors import DataQualityWarning, NegativeCoefficientWarning, TableFormatError
from gosplan.io.bea import read_bea

DETAIL = dict(folder="us_bea_detail_2017", use="use_detail_2017_pro_before_redef.csv",
              make="make_detail_2017_before_redef.csv", t005="T005", t001="T001", t019="T019",
              g="T008", q="T007", va=["V00100", "V00200", "V00300"], imports="F05000")
SUMMARY = dict(folder="us_bea_summary_2022", use="use_summary_2022_pro_before_redef.csv",
               make="make_summary_2022_before_redef.csv", t005="Total Intermediate",
               t001="Total Intermediate", t019="Total Final Uses (GDP)", g="Total Industry Output",
               q="Total Commodity Output", va=["V001", "V002", "V003"], imports="F050")


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        warnings.simplefilter("ignore", DataQualityWarning)
        return fn(*args, **kw)


def reference(spec: dict) -> dict:
    """A, y, l, q straight from the CSVs (industry technology, as USEEIO)."""
    d = data(spec["folder"])
    use = pd.read_csv(d / spec["use"], index_col=0)
    make = pd.read_csv(d / spec["make"], index_col=0)
    nc = use.index.get_loc(spec["t005"])
    ni = use.columns.get_loc(spec["t001"])
    com, ind = use.index[:nc], use.columns[:ni]
    fd = use.columns[ni + 1 : use.columns.get_loc(spec["t019"])]
    U = use.loc[com, ind].to_numpy(float)
    V = make.loc[ind, com].to_numpy(float)
    g = use.loc[spec["g"], ind].to_numpy(float)
    q = use.loc[com, spec["q"]].to_numpy(float)
    B = U / g
    D = np.divide(V, q, out=np.zeros_like(V), where=q != 0)
    W = use.loc[spec["va"], ind].to_numpy(float)
    return dict(com=com, ind=ind, fd=fd, U=U, V=V, g=g, q=q, A=B @ D, D=D,
                Y=use.loc[com, fd].to_numpy(float), P=(W / g) @ D, use=use, make=make)


@pytest.mark.parametrize("spec", [DETAIL, SUMMARY], ids=["detail-2017", "summary-2022"])
def test_bea_coefficients_match_independent_computation(spec: dict) -> None:
    ref = reference(spec)
    eco = quiet(read_bea, data(spec["folder"]))
    n = len(ref["com"])
    assert eco.n_products == n == {"us_bea_detail_2017": 402, "us_bea_summary_2022": 73}[spec["folder"]]
    assert list(eco.products) == list(ref["com"])
    assert list(eco.categories) == list(ref["fd"]) and len(eco.categories) == 20
    assert list(eco.resources) == ["labour", *spec["va"][1:]] and eco.labour == "labour"
    np.testing.assert_allclose(eco.A.toarray(), ref["A"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(eco.demand, ref["Y"], rtol=0, atol=0)
    np.testing.assert_allclose(eco.primary_coefficients, ref["P"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(eco.l, ref["P"][0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(eco.recorded_output, ref["q"])
    assert eco.meta.labour_unit == "million USD of compensation"
    assert eco.meta.year == {"us_bea_detail_2017": 2017, "us_bea_summary_2022": 2022}[spec["folder"]]


@pytest.mark.parametrize("spec", [DETAIL, SUMMARY], ids=["detail-2017", "summary-2022"])
def test_bea_recorded_output_reproduced_within_rounding(spec: dict) -> None:
    """x = (I - A)^-1 y equals q up to the propagated rounding of the published cells.

    With A q = U diag(g)^-1 V 1 the residual is e = (I - A) q - y
    = (q - U 1 - y) + U (1 - V 1 / g), so x - q = -(I - A)^-1 e exactly; both terms are
    rounding: every published cell (a displayed 0 too) and every total is rounded to a
    whole million, so |q - U 1 - y|_i <= (cells in the use row + 1) / 2 and
    |g - V 1|_j <= (cells in the make row + 1) / 2. Hence
    |x - q| <= |L| (e_row + |U| diag(g)^-1 e_make).
    """
    ref = reference(spec)
    eco = quiet(read_bea, data(spec["folder"]))
    A, y, q, U, V, g = eco.A.toarray(), eco.y, ref["q"], ref["U"], ref["V"], ref["g"]
    n = len(q)
    L = np.linalg.inv(np.eye(n) - A)
    x = np.linalg.solve(np.eye(n) - A, y)
    e = (q - U.sum(1) - y) + U @ (1 - V.sum(1) / g)
    np.testing.assert_allclose(x - q, -L @ e, rtol=1e-6, atol=1e-6)
    row_bound = 0.5 * (U.shape[1] + len(ref["fd"]) + 1)
    make_bound = 0.5 * (V.shape[1] + 1)
    assert np.all(np.abs(q - U.sum(1) - y) <= row_bound)
    assert np.all(np.abs(g - V.sum(1)) <= make_bound)
    bound = np.abs(L) @ (row_bound + np.abs(U) @ (make_bound / g))
    assert np.all(np.abs(x - q) <= bound)
    # and in practice far inside it: tens of millions of USD at most
    assert np.abs(x - q).max() < 50
    big = q >= 1e4
    assert (np.abs(x - q)[big] / q[big]).max() < 2e-3


def test_bea_zero_output_commodities_have_zero_columns() -> None:
    eco = quiet(read_bea, data("us_bea_detail_2017"))
    q = eco.recorded_output
    zero = list(eco.products[q == 0])
    assert zero == ["S00402", "S00300"]
    A = eco.A.toarray()
    assert not A[:, q == 0].any() and not eco.primary_coefficients[:, q == 0].any()
    assert any("q = 0" in note and "S00300" in note for note in eco.meta.notes)
    assert any("S00201" in note for note in eco.meta.notes)  # negative value added, kept


def test_bea_domestic_subtracts_imports() -> None:
    d = data("us_bea_detail_2017")
    ref = reference(DETAIL)
    imp = pd.read_csv(d / "import_detail_2017_before_redef.csv", index_col=0)
    com, ind = ref["com"], ref["ind"]
    fd_dom = [c for c in ref["fd"] if c != "F05000"]
    U_d = ref["U"] - imp.loc[com, ind].to_numpy(float)
    A_d = (U_d / ref["g"]) @ ref["D"]
    Y_d = ref["Y"][:, [list(ref["fd"]).index(c) for c in fd_dom]] - imp.loc[com, fd_dom].to_numpy(float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eco = read_bea(d, domestic=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    assert any("imports exceed total use in 18" in m and "'325414'" in m for m in messages)
    assert any("'4200ID'" in m and "F05000" in m for m in messages)
    assert list(eco.categories) == fd_dom and "F05000" not in eco.categories
    assert list(eco.resources) == ["labour", "V00200", "V00300", "imports"]
    np.testing.assert_allclose(eco.A.toarray(), A_d, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(eco.demand, Y_d)
    imports_coef = (imp.loc[com, ind].to_numpy(float).sum(0) / ref["g"]) @ ref["D"]
    np.testing.assert_allclose(eco.primary_coefficients[3], imports_coef, rtol=1e-12, atol=1e-15)
    # (I - A_d) q - y_d = imports allocated by the import matrix - imports netted out by F05000
    q = ref["q"]
    allocated = imp.loc[com, list(ind) + fd_dom].to_numpy(float).sum(1)
    netted = -ref["use"].loc[com, "F05000"].to_numpy(float)
    resid = q - A_d @ q - eco.y
    gap = allocated - netted
    assert np.abs(resid - gap).max() < 250  # the total table's own rounding (see above)
    assert gap[list(com).index("4200ID")] == 38513


def test_bea_summary_domestic_needs_import_matrix() -> None:
    with pytest.raises(TableFormatError, match="import matrix") as err:
        quiet(read_bea, data("us_bea_summary_2022"), domestic=True)
    assert "us_bea_summary_2022" in str(err.value)

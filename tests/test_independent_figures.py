"""Figures that were copied from gosplan's own output into the README, the docs and the tests,
computed again here without gosplan, and compared with what gosplan says.

* The five-year plan of Cockshott's example (README, docs/api.md): the fulfilment ``z_t`` of
  each year, from Cockshott's LP written out variable by variable (tests/_cockshott_lp.py:
  the csv module, numpy, scipy and HiGHS through highspy, no gosplan code). Only the sum of
  the ``z_t`` is optimised, so each year's figure is checked to be the same at every optimum
  (the smallest and largest ``z_t`` on the optimal face) before it is compared.
* The counts in the data-quality messages about the UK 2015 tables
  (``read_uk_ons``, ``read_uk_ons_horizon``; asserted literally in tests/test_io_uk.py and
  tests/test_io_horizon.py, stated in docs/multiyear.md): counted from the CSV files with the
  csv module and pandas.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import gosplan
from _cockshott_lp import cockshott_lp, read_four_files, solve_highs
from _realdata import data
from gosplan.errors import DataQualityWarning

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the five-year plan
@pytest.fixture(scope="module")
def literal_plan():
    """Cockshott's example, his LP as he writes it, solved by HiGHS: the optimum and, per
    year, the smallest and the largest ``z_t`` among the plans within 1e-10 of it."""
    d = read_four_files(data("cockshott_5yearplan_example"))
    c, A, lo, hi, clo, chi, zc = cockshott_lp(d["Z"], d["K"], d["delta"], d["lab"], d["x0"], d["targ"], d["L"])
    best, sol, _, status = solve_highs(c, A, lo, hi, clo, chi)
    assert status.endswith("kOptimal"), status
    # the optimal face: sum_t z_t >= (1 - 1e-10) best (the objective is -c . v)
    A_face = sp.vstack([A, sp.csr_array(-c[None, :])]).tocsr()
    lo_face, hi_face = np.append(lo, best * (1 - 1e-10)), np.append(hi, np.inf)
    low, high = [], []
    for col in zc:
        e = np.zeros(A.shape[1])
        e[col] = -1.0  # maximise z_t
        top, _, _, s1 = solve_highs(e, A_face, lo_face, hi_face, clo, chi)
        bottom, _, _, s2 = solve_highs(-e, A_face, lo_face, hi_face, clo, chi)  # maximise -z_t
        assert s1.endswith("kOptimal") and s2.endswith("kOptimal"), (s1, s2)
        high.append(top)
        low.append(-bottom)
    return best, sol[zc], np.array(low), np.array(high)


def test_each_years_fulfilment_is_the_same_at_every_optimum(literal_plan) -> None:
    _, z, low, high = literal_plan
    assert (low <= z + 1e-9).all() and (z <= high + 1e-9).all()
    np.testing.assert_allclose(high - low, 0.0, atol=1e-6)
    for digits in (3, 4):  # what the README and docs/api.md print is determined by the optimum
        assert np.round(low, digits).tolist() == np.round(high, digits).tolist()


def _doctest_output(path: Path, source: str) -> str:
    """The expected output of the doctest line ``>>> SOURCE...`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^>>> {re.escape(source)}.*\n(.+)$", text, re.M)
    assert match, f"{path.name}: no doctest {source!r}"
    return match.group(1)


def test_readme_per_year_fulfilment(literal_plan) -> None:
    _, z, _, _ = literal_plan
    shown = _doctest_output(ROOT / "README.md", "five.status.value, five.fulfilment.round(3).tolist()")
    assert shown == f"('optimal', {np.round(z, 3).tolist()})"


def test_api_docs_objective_and_per_year_fulfilment(literal_plan) -> None:
    best, z, _, _ = literal_plan
    shown = _doctest_output(
        ROOT / "docs" / "api.md", "five.status.value, round(five.objective, 6), five.fulfilment.round(4).tolist()"
    )
    assert shown == f"('optimal', {round(best, 6)}, {np.round(z, 4).tolist()})"
    assert f"optimal {round(best, 6)}" in (ROOT / "docs" / "multiyear.md").read_text(encoding="utf-8")


def test_gosplan_per_year_fulfilment_equals_the_literal_lp(literal_plan) -> None:
    best, z, _, _ = literal_plan
    five = gosplan.plan_years("cockshott-example")
    assert five.objective == pytest.approx(best, rel=1e-9)
    np.testing.assert_allclose(five.fulfilment, z, rtol=1e-6)


# ------------------------------------------------------------------ the UK 2015 tables
def _key(label: str) -> str:
    return " ".join(str(label).replace("\xa0", " ").split()).casefold()


CATEGORIES = [
    "Households", "Non-Profit Institutions Serving Households", "Central Government", "Local Authorities",
    "Gross Fixed Capital Formation", "Valuables", "Changes in Inventories", "Exports of Goods - EU",
    "Exports of Goods - Non EU", "Exports of Services - EU", "Exports of Services - Non EU",
]
EXPORTS = CATEGORIES[-4:]
HOUSING = "Owner-Occupiers' Housing"


@pytest.fixture(scope="module")
def uk() -> dict:
    """Everything the messages count, counted from the files."""
    d = data("uk_ons_2015")
    out: dict = {}
    # the use table: products (the rows above 'Total Consumption'), output, final demand
    use = pd.read_csv(d / "domesticiot.csv", index_col=0)
    products = list(use.index[: use.index.get_loc("Total Consumption")])
    keys = {_key(p): k for k, p in enumerate(products)}
    n = len(products)
    x0 = use.loc["Output"].iloc[:n].to_numpy(float)
    y = use.loc[products, CATEGORIES].to_numpy(float).sum(axis=1)
    totals = (use.loc[products, "Total Demand for Products at Basic Prices"]
              - use.loc[products, "Total Intermediate Demand"]).to_numpy(float)
    known = ~np.isnan(totals)
    np.testing.assert_array_equal(y[known], totals[known])  # the 11 categories are the final demand
    out.update(n=n, negative=[(products[i], y[i]) for i in np.flatnonzero(y < 0)])
    housing = products.index(HOUSING)
    out["housing_line"] = housing + 2  # header on line 1
    out["housing_total_exports"] = use.loc[HOUSING, "Total Exports"]
    out["housing_exports"] = use.loc[HOUSING, EXPORTS].sum()
    out["housing_output"] = x0[housing]

    # fullcapitalstockmatrix2015.csv: K by label, upper case
    full = pd.read_csv(d / "fullcapitalstockmatrix2015.csv", index_col=0)
    body = full.drop(index="TOTAL")
    industries = [c for c in full.columns if _key(c) in keys]
    others = [c for c in full.columns if _key(c) not in keys]
    out["capital_other_columns"] = len(others)
    out["capital_empty_columns"] = [c for c in others if body[c].isna().all()]
    out["capital_missing"] = [p for p in products if _key(p) not in {_key(c) for c in full.columns}]
    K = np.zeros((n, n))
    for r in body.index:
        K[keys[_key(r)], [keys[_key(c)] for c in industries]] = body.loc[r, industries].to_numpy(float)
    held = K.sum(axis=0)
    with_column = {keys[_key(c)] for c in industries}
    out["idle"] = sorted(j for j in with_column if held[j] == 0 and x0[j] > 0)
    out["K_total"] = K.sum()
    out["stocks"] = int((K != 0).sum())

    # ONS's net capital stocks, by industry group (the translation pairs products by position)
    net = pd.read_csv(d / "netcapitalstockmatrix2015.csv", index_col=0)
    ons = net.loc["Total assets"]
    out["ons_total"] = ons["TOTAL: Total Industry"]
    with open(d / "translationAtocapstocktitles.csv", newline="") as fh:
        translation = list(csv.reader(fh))[1:]
    amatrix = pd.read_csv(d / "Amatrix2015.csv", index_col=0)
    assert len(translation) == n and all(_key(amatrix.index[k]) == _key(translation[k][0]) for k in range(n))
    groups: dict[str, list[int]] = {}
    for k, row in enumerate(translation):
        if len(row) > 1 and row[1].strip():
            groups.setdefault(row[1].strip(), []).append(k)
    differ = {}
    for group, members in groups.items():
        ours, theirs = held[members].sum(), float(ons[group])
        if ours != theirs and (min(ours, theirs) <= 0 or max(ours / theirs, theirs / ours) > 2):
            differ[group] = (ours, theirs)
    out.update(groups=len(groups), differ=differ)
    copy = pd.read_csv(d / "capitalstockmatrix2015.csv", index_col=0)
    out["copy_is_net"] = np.array_equal(copy.to_numpy(), net.to_numpy())

    # dep.csv: rates, products x industries, with placeholders
    with open(d / "dep.csv", newline="") as fh:
        header, *records = list(csv.reader(fh))
    out["dep_fields"] = (len(header), {len(r) for r in records})

    def match(label: str) -> tuple[int | None, bool]:
        k = _key(label)
        if k in keys:
            return keys[k], False
        hits = [v for s, v in keys.items() if s.startswith(k)]
        return (hits[0], True) if len(hits) == 1 else (None, False)

    col_of, row_of, cut, other_cols, other_rows = {}, {}, [], [], []
    for j, label in enumerate(header[1 : len(records[0])]):
        p, short = match(label)
        if p is None:
            other_cols.append(label)
        else:
            col_of[p] = j
        if short:
            cut.append(("header", label))
    for i, row in enumerate(records):
        p, short = match(row[0])
        line = i + 2
        if p is None:
            other_rows.append((line, row[0], all(float(v) == 1 for v in row[1:])))
        else:
            row_of[p] = i
        if short:
            cut.append((line, row[0]))
    values = np.array([[float(v) for v in row[1:]] for row in records])
    grid = values[np.ix_([row_of[i] for i in range(n)], [col_of[j] for j in range(n)])]
    no_stock = K == 0
    orphans = no_stock & (grid != 1) & (grid != 0)
    out.update(
        dep_cut=cut, dep_other_columns=len(other_cols), dep_other_rows=other_rows, dep_cells=grid.size,
        dep_placeholders=int(((grid == 1) & no_stock).sum()), dep_orphans=int(orphans.sum()),
        dep_orphans_housing=int(orphans[:, housing].sum()),
    )

    # deprates.csv: one rate per asset product
    with open(d / "deprates.csv", newline="") as fh:
        rates = list(csv.reader(fh))
    out["decimal_comma"] = [(line, r[1]) for line, r in enumerate(rates, 1) if line > 1 and "," in r[1]]
    out["blank_label"] = [line for line, r in enumerate(rates, 1) if line > 1 and not r[0].strip()]
    return out


@pytest.fixture(scope="module")
def reported() -> tuple[str, str]:
    """What gosplan's readers say about the same files: their warnings, the Horizon's notes."""
    from gosplan.io.ons_uk_horizon import read_uk_ons_horizon

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = read_uk_ons_horizon(data("uk_ons_2015"))
    return "\n".join(str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)), "\n".join(h.notes)


@pytest.fixture(scope="module")
def messages(reported: tuple[str, str]) -> str:
    return reported[0]


def test_uk_use_table_messages(uk: dict, messages: str) -> None:
    assert uk["n"] == 129
    (cement, value), = uk["negative"]  # one product with negative final demand
    assert "cement" in cement and value == -214
    assert re.search(rf"final demand .* negative for '{re.escape(cement)}' \({value:.10g}\): target 0", messages)
    assert uk["housing_line"] == 79 and (uk["housing_total_exports"], uk["housing_exports"]) == (194407, 453)
    assert f"line {uk['housing_line']}" in messages
    total, parts = uk["housing_total_exports"], uk["housing_exports"]
    assert f"'Total Exports': {total:.10g}, its parts sum to {parts:.10g}" in messages


def test_uk_capital_stock_messages(uk: dict, messages: str, reported: tuple[str, str]) -> None:
    assert uk["capital_missing"] == [HOUSING]
    assert f"no column for industry \"{HOUSING}\" (base-year output {uk['housing_output']:.10g})" in messages
    assert f"{len(uk['idle'])} industries with output hold no capital" in messages and len(uk["idle"]) == 7
    assert uk["capital_empty_columns"] == ["Total Exports"]
    assert re.search(rf"{uk['capital_other_columns']} column\(s\) are not industries.*'Total Exports' empty", messages)
    assert uk["stocks"] == 1213
    groups_line = (f"K sums to {uk['K_total']:.10g}, ONS net capital stocks (netcapitalstockmatrix2015.csv, "
                   f"'Total assets') to {uk['ons_total']:.10g}; the stocks held by {len(uk['differ'])} of "
                   f"{uk['groups']} industry groups")
    assert groups_line in messages
    assert (uk["K_total"], uk["ons_total"], len(uk["differ"]), uk["groups"]) == (7151150, 4337207, 33, 63)
    notes = reported[1]
    for group, (ours, theirs) in uk["differ"].items():  # the warning shows the 8 worst, the note all
        assert f"{group.split(':')[0]} {ours:.10g} (ONS {theirs:.10g})" in notes, group
    assert notes.count("(ONS ") == len(uk["differ"])
    assert uk["differ"]["F: CONSTRUCTION"] == (3526696, 415427)
    assert f"68 {uk['differ']['68: Real estate activities'][0]:.10g} (ONS 1452233)" in messages
    assert uk["copy_is_net"] and "the same numbers as netcapitalstockmatrix2015" in messages


def test_uk_depreciation_messages(uk: dict, messages: str) -> None:
    fields, row_fields = uk["dep_fields"]
    assert row_fields == {fields - 1}
    assert f"the header has {fields} fields, the rows {fields - 1}" in messages
    assert len(uk["dep_cut"]) == 4  # two labels, each as a row and as a column
    assert f"{len(uk['dep_cut'])} label(s) cut short" in messages
    (line, label, every_one), = uk["dep_other_rows"]
    assert label == "TOTAL CONSUMPTION" and every_one
    assert f"line {line}: row '{label}' is not a product (every cell 1)" in messages
    soft_drinks = next(r for r in uk["dep_cut"] if r[0] != "header" and "SOFT DRINKS" in r[1])
    assert f"{soft_drinks[1]!r} (line {soft_drinks[0]})" in messages
    assert f"{uk['dep_other_columns']} column(s) are not industries" in messages
    ones, cells = uk["dep_placeholders"], uk["dep_cells"]
    assert (ones, cells) == (15418, 16641)
    assert f"{ones} of the {cells} cells without a stock hold 1" in messages
    assert re.search(rf"{uk['dep_orphans']} rate\(s\) for stocks that fullcapitalstockmatrix2015\.csv does not "
                     rf"have \(\"{HOUSING.upper()}\": {uk['dep_orphans_housing']}", messages)
    assert (uk["dep_orphans"], uk["dep_orphans_housing"]) == (10, 6)


def test_uk_deprates_messages(uk: dict, messages: str) -> None:
    (line, cell), = uk["decimal_comma"]
    assert f"line {line}, column 'Deprate': '{cell}' is written with a decimal comma" in messages
    (blank,) = uk["blank_label"]
    assert re.search(rf"deprates\.csv(\.gz)?, line {blank}: a row with a blank label", messages)


def test_uk_figures_in_the_docs(uk: dict) -> None:
    """docs/multiyear.md's account of the UK files."""
    text = " ".join((ROOT / "docs" / "multiyear.md").read_text(encoding="utf-8").split())
    no_capital = len(uk["idle"]) + len(uk["capital_missing"])  # housing has no column at all
    assert f"{no_capital} industries with output hold no capital" in text
    assert f"{uk['dep_placeholders']:,} placeholder rates of 1" in text
    construction = uk["differ"]["F: CONSTRUCTION"]
    assert (f"the stock matrix sums to {uk['K_total'] / 1e6:.2f} million against ONS's "
            f"{uk['ons_total'] / 1e6:.2f} million (construction {construction[0] / 1e6:.1f} million against "
            f"{construction[1] / 1e6:.1f} million)") in text

"""Multi-year data: Cockshott's four files, gosplan's directory tables, the UK capital files,
load_horizon and ``gosplan synth --years``. Values are checked against the CSV files."""

from __future__ import annotations

import gzip
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from _realdata import data
from gosplan.datasets import dataset_path
from gosplan.errors import (
    GosplanWarning,
    InvalidEconomyError,
    TableFormatError,
    UnknownProductError,
)
from gosplan.io.cockshott_horizon import numerators, read_cockshott_horizon, write_cockshott
from gosplan.io.horizon_directory import read_horizon_directory, write_horizon_directory
from gosplan.model.economy import Economy
from gosplan.model.horizon import Horizon

PRODUCTS = ["iron", "coal", "corn", "bread"]
# the numbers of /work/shared/data/cockshott_5yearplan_example, typed from the files
FLOWS = np.array([[0.1, 0, 0, 0], [2, 1, 0.04, 0.2], [0, 0, 1, 1], [0, 0, 0, 0]])
LABOUR = np.array([0.3, 1, 2, 0.1])
OUTPUT = np.array([10.0, 6, 10, 1])
CAP = np.array([[10, 7, 1.4, 1], [2, 1, 0.04, 0.1], [0, 0, 1, 0], [0, 0, 0, 0]])
DEP = np.array([[0.07, 0.07, 0.07, 0.06], [0.5, 0.5, 0.5, 0.5], [0, 0, 0.5, 0], [0, 0, 0, 0]])
TARGETS = np.array(
    [[0.1, 3, 0, 2.0], [0.1, 3, 0, 2.01], [0.1, 3, 0, 2.02], [0.1, 3.1, 0, 2.1], [0.1, 3.1, 0, 2.1]]
).T
SUPPLY = np.array([3.0, 3.01, 3.02, 3.03, 3.07])


def assert_same(a: Horizon, b: Horizon) -> None:
    """Equal to the last bit: economy coefficients, stocks, rates, output, years, labour, targets."""
    assert list(a.economy.products) == list(b.economy.products)
    for x, y in ((a.economy.use, b.economy.use), (a.economy.primary, b.economy.primary),
                 (a.capital, b.capital), (a.depreciation, b.depreciation)):
        assert x.shape == y.shape
        assert (sp.csr_array(x) != sp.csr_array(y)).nnz == 0
    np.testing.assert_array_equal(a.base_output, b.base_output)
    np.testing.assert_array_equal(a.labour_supply, b.labour_supply)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert [str(y) for y in a.years] == [str(y) for y in b.years]
    assert list(a.economy.resources) == list(b.economy.resources)


@pytest.fixture
def cockshott_dir(tmp_path: Path) -> Path:
    """An editable copy of the bundled example (uncompressed)."""
    out = tmp_path / "ck"
    out.mkdir()
    for gz in dataset_path("cockshott-example").glob("*.csv.gz"):
        (out / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
    return out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1))


# ============================================================================ Cockshott
def test_cockshott_example_read_exactly() -> None:
    h = read_cockshott_horizon(dataset_path("cockshott-example"))
    assert list(h.economy.products) == PRODUCTS
    np.testing.assert_allclose(h.economy.A.toarray(), FLOWS / OUTPUT, rtol=1e-15)
    np.testing.assert_allclose(h.labour_coefficients, LABOUR / OUTPUT, rtol=1e-15)
    np.testing.assert_array_equal(h.capital.toarray(), CAP)
    np.testing.assert_array_equal(h.depreciation.toarray(), DEP)
    np.testing.assert_array_equal(h.base_output, OUTPUT)
    np.testing.assert_array_equal(h.labour_supply, SUPPLY)
    np.testing.assert_array_equal(h.targets, TARGETS)
    assert list(h.years) == [f"year{t}" for t in range(1, 6)]
    assert h.capital.nnz == 9  # corn is held only by corn; bread is no capital good
    np.testing.assert_allclose(h.capital_coefficients.toarray(), CAP / OUTPUT)
    assert h.notes == ()


def test_cockshott_example_same_from_shared_data() -> None:
    assert_same(read_cockshott_horizon(data("cockshott_5yearplan_example")),
                read_cockshott_horizon(dataset_path("cockshott-example")))


def test_cockshott_any_order_of_headings(cockshott_dir: Path) -> None:
    # cap.csv with its rows and columns permuted: matched by label, not by position
    cap = pd.read_csv(cockshott_dir / "cap.csv", index_col=0).dropna(how="all")
    order = ["bread", "corn", "iron", "coal"]
    cap.loc[order, order[::-1]].to_csv(cockshott_dir / "cap.csv")
    h = read_cockshott_horizon(cockshott_dir)
    np.testing.assert_array_equal(h.capital.toarray(), CAP)


def test_cockshott_round_trip_exact(cockshott_dir: Path, tmp_path: Path) -> None:
    h = read_cockshott_horizon(dataset_path("cockshott-example"))
    out = write_cockshott(h, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["cap.csv", "dep.csv", "flows.csv", "labtarg.csv"]
    assert_same(read_cockshott_horizon(out), h)
    # the flows are Cockshott's own numbers again (0.1, not 0.10000000000000002)
    assert (out / "flows.csv").read_text() == (cockshott_dir / "flows.csv").read_text()
    assert (out / "dep.csv").read_text() == (cockshott_dir / "dep.csv").read_text()
    with pytest.raises(FileExistsError, match="overwrite"):
        write_cockshott(h, out)
    write_cockshott(h, out, overwrite=True)


def test_cockshott_round_trip_of_random_economy(tmp_path: Path) -> None:
    from gosplan.synth.horizon import cockshott_economy

    h = cockshott_economy(60, 4, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_cockshott_horizon(write_cockshott(h, tmp_path / "r"))
    assert_same(back, h)
    np.testing.assert_array_equal(back.labour_coefficients, h.labour_coefficients)


def test_numerators_reproduce_quotients() -> None:
    rng = np.random.default_rng(0)
    d = np.floor(rng.random(20000) * 97) + 1
    z = np.round(rng.random(20000) * 50, 3)
    c = z * (1.0 / d)  # as the readers compute coefficients
    back, ok = numerators(c, d)
    assert ok.all()
    np.testing.assert_array_equal(back * (1.0 / d), c)
    np.testing.assert_array_equal(back, z)  # the file's own numbers come back


def test_write_cockshott_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    h = read_cockshott_horizon(dataset_path("cockshott-example"))
    eco = h.economy
    two = replace(eco, primary=sp.vstack([eco.primary, eco.primary]).tocsr(), resources=pd.Index(["labour", "land"]))
    with pytest.raises(InvalidEconomyError, match="one primary input, labour.*land"):
        write_cockshott(replace(h, economy=two), tmp_path / "a")
    bad = replace(eco, products=pd.Index(["iron", "coal", "labour", "bread"]), activities=None)
    with pytest.raises(InvalidEconomyError, match="'labour' cannot be written"):
        write_cockshott(replace(h, economy=bad), tmp_path / "b")
    with pytest.raises(InvalidEconomyError, match="no base output"):
        write_cockshott(replace(h, base_output=np.array([10.0, 6, 0, 1])), tmp_path / "c")


def test_write_cockshott_warns_when_a_coefficient_cannot_be_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 30
    A = sp.random_array((n, n), density=0.5, random_state=rng) * 0.02
    eco = Economy.from_coefficients(A, l=rng.random(n), y=np.ones(n))
    x0 = rng.random(n) * 1000 + 1
    h = Horizon(eco, sp.csr_array((n, n)), sp.csr_array((n, n)), x0, ["year1"], [1.0], np.ones((n, 1)))
    with pytest.warns(GosplanWarning, match="one unit in the last place"):
        out = write_cockshott(h, tmp_path / "w")
    back = read_cockshott_horizon(out)
    np.testing.assert_allclose(back.economy.A.toarray(), A.toarray(), rtol=2.5e-16, atol=0)


# ---------------------------------------------------------------------------- errors
def _raises(cls: type, directory: Path, *patterns: str) -> str:
    with pytest.raises(cls) as info:
        read_cockshott_horizon(directory)
    text = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, text), (pattern, text)
    return text


def test_cockshott_error_unknown_product_in_cap(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "cap.csv", "bread,0,0,0,0", "brad,0,0,0,0")
    _raises(UnknownProductError, cockshott_dir, r"cap\.csv, line 5", "product 'brad'", "unknown product")


def test_cockshott_error_unknown_industry_in_dep(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "headings,iron,coal,corn,bread", "headings,iron,coal,corn,beer")
    _raises(UnknownProductError, cockshott_dir, r"dep\.csv, line 1, column 'beer'", "unknown industry")


def test_cockshott_error_missing_product_row(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "cap.csv", "bread,0,0,0,0\n", "")
    _raises(TableFormatError, cockshott_dir, r"cap\.csv", "product 'bread'", "no row for product 'bread'")


def test_cockshott_error_negative_and_text_stock(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "cap.csv", "coal,2,1,0.04,0.1", "coal,2,-1,0.04,0.1")
    _raises(TableFormatError, cockshott_dir, r"cap\.csv, line 3, column 'coal', product 'coal'", "negative capital stock -1")
    edit(cockshott_dir / "cap.csv", "coal,2,-1,0.04,0.1", "coal,2,1,lots,0.1")
    _raises(TableFormatError, cockshott_dir, r"cap\.csv, line 3, column 'corn', product 'coal'", "text 'lots'")


def test_cockshott_error_depreciation_above_one(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "iron,0.07,0.07,0.07,0.06", "iron,0.07,1.07,0.07,0.06")
    _raises(TableFormatError, cockshott_dir, r"dep\.csv, line 2, column 'coal', product 'iron'", "rate 1.07 is above 1")


def test_cockshott_error_negative_rate(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "bread,0,0,0,0", "bread,0,0,-0.1,0")
    _raises(TableFormatError, cockshott_dir, r"dep\.csv, line 5, column 'corn', product 'bread'", "-0.1 is negative")


def test_cockshott_empty_rate_only_matters_where_there_is_a_stock(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "bread,0,0,0,0", "bread,,,,")  # bread is held by no one
    h = read_cockshott_horizon(cockshott_dir)
    np.testing.assert_array_equal(h.depreciation.toarray(), DEP)
    edit(cockshott_dir / "dep.csv", "corn,0,0,0.5,0", "corn,0,0,,0")  # corn holds corn
    _raises(TableFormatError, cockshott_dir, r"dep\.csv, line 4, column 'corn', product 'corn'",
            "empty depreciation rate of a stock: cap.csv has 1 of 'corn' held by 'corn'")


def test_cockshott_rates_without_stock_are_ignored_and_noted(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "bread,0,0,0,0", "bread,0.1,0,0,0")
    h = read_cockshott_horizon(cockshott_dir)
    np.testing.assert_array_equal(h.depreciation.toarray(), DEP)
    assert h.notes == ("dep.csv: 1 rate(s) where cap.csv has no stock, ignored",)


def test_cockshott_error_year_without_labour(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "labtarg.csv", "year3,0.1,3,0.00,2.020000,3.020000", "year3,0.1,3,0.00,2.020000,")
    _raises(TableFormatError, cockshott_dir, r"labtarg\.csv, line 4, column 'labour', year 'year3'",
            "year 'year3' has no labour supply")


def test_cockshott_error_negative_labour_and_target(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "labtarg.csv", "year2,0.1,3,0.00,2.010000,3.010000", "year2,0.1,3,0.00,2.010000,-3")
    _raises(TableFormatError, cockshott_dir, r"line 3, column 'labour', year 'year2'", "labour supply -3 .* negative")
    edit(cockshott_dir / "labtarg.csv", "year2,0.1,3,0.00,2.010000,-3", "year2,0.1,-3,0.00,2.010000,3")
    _raises(TableFormatError, cockshott_dir, r"line 3, column 'coal', year 'year2'", "target -3 is negative")


def test_cockshott_error_inconsistent_years(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "labtarg.csv", "year4,", "year6,")
    _raises(TableFormatError, cockshott_dir, r"labtarg\.csv, line 5, year 'year6'", "inconsistent horizons",
            "expected 'year4'")
    edit(cockshott_dir / "labtarg.csv", "year6,", "total,")
    _raises(TableFormatError, cockshott_dir, r"line 5", "row 'total' is not a year")


def test_cockshott_error_labtarg_missing_or_without_labour(cockshott_dir: Path) -> None:
    (cockshott_dir / "labtarg.csv").unlink()
    _raises(TableFormatError, cockshott_dir, r"labtarg\.csv", "table 'labtarg' not found")


def test_cockshott_error_labtarg_without_labour_column(cockshott_dir: Path) -> None:
    path = cockshott_dir / "labtarg.csv"
    frame = pd.read_csv(path, index_col=0).drop(columns="labour")
    frame.to_csv(path)
    _raises(TableFormatError, cockshott_dir, r"labtarg\.csv, line 1", "no 'labour' column")


# ============================================================================ directory
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("keys", ["label", "position"])
def test_directory_round_trip(tmp_path: Path, fmt: str, keys: str) -> None:
    h = read_cockshott_horizon(dataset_path("cockshott-example"))
    h = replace(h, notes=("a note", "another"))
    out = write_horizon_directory(h, tmp_path / "h", format=fmt, keys=keys)
    back = read_horizon_directory(out)
    assert_same(back, h)
    assert back.notes == ("a note", "another")
    assert back.economy.meta.name == h.economy.meta.name


def test_directory_round_trip_random_economy(tmp_path: Path) -> None:
    from gosplan.synth.horizon import cockshott_economy

    h = cockshott_economy(80, 3, seed=11)
    back = read_horizon_directory(write_horizon_directory(h, tmp_path / "h", format="parquet"))
    assert_same(back, h)
    assert back.notes == h.notes


def test_directory_tables_as_written(tmp_path: Path) -> None:
    h = read_cockshott_horizon(dataset_path("cockshott-example"))
    out = write_horizon_directory(h, tmp_path / "h")
    assert (out / "horizon.csv").read_text().splitlines() == [
        "year,labour", "year1,3", "year2,3.01", "year3,3.02", "year4,3.03", "year5,3.07"]
    cap = pd.read_csv(out / "capital.csv")
    assert list(cap.columns) == ["product", "activity", "stock"]
    assert len(cap) == 9 and cap["stock"].sum() == pytest.approx(CAP.sum())
    dep = pd.read_csv(out / "depreciation.csv")
    assert dep.set_index(["product", "activity"]).loc[("iron", "bread"), "rate"] == 0.06
    tg = pd.read_csv(out / "targets.csv")
    assert len(tg) == 15  # corn has no target in any year
    with pytest.raises(FileExistsError, match="overwrite"):
        write_horizon_directory(h, out)


TINY = {
    "economy.toml": 'name = "tiny"\n[tables]\nformat = "csv"\nkeys = "label"\n',
    "products.csv": "product,recorded_output\ncoal,100\nsteel,50\n",
    "technology.csv": "input,output,coefficient\ncoal,steel,0.5\nsteel,coal,0.1\n",
    "primary.csv": "resource,product,coefficient\nlabour,coal,2\nlabour,steel,5\n",
    "horizon.csv": "year,labour\n2026,450\n2027,460\n",
    "capital.csv": "product,stock\ncoal,30\nsteel,200\n",
    "depreciation.csv": "product,rate\ncoal,0.5\nsteel,0.05\n",
    "targets.csv": "year,product,target\n2026,steel,10\n2027,steel,12\n2027,coal,1\n",
}


def tiny(tmp_path: Path, **changes: str | None) -> Path:
    d = tmp_path / "tiny"
    d.mkdir(exist_ok=True)
    for name, text in {**TINY, **changes}.items():
        if text is not None:
            (d / name).write_text(text)
        elif (d / name).exists():
            (d / name).unlink()
    return d


def test_directory_by_hand(tmp_path: Path) -> None:
    h = read_horizon_directory(tiny(tmp_path))
    assert list(h.years) == ["2026", "2027"]  # years are text labels
    np.testing.assert_array_equal(h.labour_supply, [450, 460])
    np.testing.assert_array_equal(h.capital.toarray(), [[30, 0], [0, 200]])  # activity = product
    np.testing.assert_array_equal(h.depreciation.toarray(), [[0.5, 0], [0, 0.05]])
    np.testing.assert_array_equal(h.targets, [[0, 1], [10, 12]])
    np.testing.assert_array_equal(h.base_output, [100, 50])
    np.testing.assert_allclose(h.capital_coefficients.toarray(), [[0.3, 0], [0, 4]])


def test_directory_per_stock_rates(tmp_path: Path) -> None:
    d = tiny(tmp_path, **{
        "capital.csv": "product,activity,stock\ncoal,steel,30\nsteel,steel,200\n",
        "depreciation.csv": "product,activity,rate\ncoal,steel,0.5\nsteel,steel,0.05\nsteel,coal,0.2\n",
    })
    h = read_horizon_directory(d)
    np.testing.assert_array_equal(h.capital.toarray(), [[0, 30], [0, 200]])
    np.testing.assert_array_equal(h.depreciation.toarray(), [[0, 0.5], [0, 0.05]])
    assert h.notes == ("depreciation.csv: 1 rate(s) of stocks that the capital table lacks, ignored",)


def _dir_raises(cls: type, d: Path, *patterns: str) -> None:
    with pytest.raises(cls) as info:
        read_horizon_directory(d)
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


def test_directory_errors(tmp_path: Path) -> None:
    _dir_raises(TableFormatError, tiny(tmp_path, **{"targets.csv": TINY["targets.csv"] + "2031,coal,3\n"}),
                r"targets\.csv, line 5, column 'year', product 'coal'", "inconsistent horizons: year '2031'")
    _dir_raises(UnknownProductError, tiny(tmp_path, **{"capital.csv": "product,stock\ncoal,30\nstel,200\n"}),
                r"capital\.csv, line 3, column 'product'", "unknown product 'stel'")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"capital.csv": "product,stock\ncoal,30\nsteel,-2\n"}),
                r"capital\.csv, line 3, column 'stock', product 'steel'", "stock -2 is negative")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"capital.csv": "product,stock\ncoal,30\nsteel,lots\n"}),
                r"capital\.csv, line 3, column 'stock'", "'lots' in column 'stock' is not a number")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"depreciation.csv": "product,rate\ncoal,0.5\nsteel,1.5\n"}),
                r"depreciation\.csv, line 3, column 'rate', product 'steel'", "rate 1.5 is above 1")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"depreciation.csv": "product,rate\ncoal,0.5\n"}),
                r"depreciation\.csv", r"no depreciation rate for the stock of 'steel' held by 'steel' \(capital\.csv, line 3\)")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"depreciation.csv": None}),
                r"missing table depreciation\.csv")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"horizon.csv": "year,labour\n2026,450\n2027,\n"}),
                r"horizon\.csv, line 3, column 'labour'", "missing value")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"horizon.csv": "year,labour\n2026,450\n2026,460\n"}),
                r"horizon\.csv, line 3, column 'year', product '2026'", "appears twice")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"horizon.csv": "year,labour\n2026,450\n2027,-1\n"}),
                r"horizon\.csv, line 3, column 'labour'", "labour supply -1 in year '2027' is negative")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"horizon.csv": None}), r"missing table horizon\.csv")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"targets.csv": TINY["targets.csv"] + "2026,steel,11\n"}),
                r"targets\.csv, line 5", r"duplicate \(year, product\) pair \('2026', 'steel'\): already on line 2")
    _dir_raises(TableFormatError, tiny(tmp_path, **{"products.csv": "product\ncoal\nsteel\n"}),
                r"products\.csv, column 'recorded_output'", "base-year output")


def test_directory_without_capital_or_output(tmp_path: Path) -> None:
    d = tiny(tmp_path, **{"products.csv": "product\ncoal\nsteel\n", "capital.csv": None, "depreciation.csv": None})
    h = read_horizon_directory(d)
    assert h.capital.nnz == 0
    np.testing.assert_array_equal(h.base_output, [1, 1])
    assert "base-year output set to 1" in h.notes[0]
    back = read_horizon_directory(write_horizon_directory(h, tmp_path / "again"))
    assert_same(back, h)
    assert back.economy.recorded_output is None and back.notes == h.notes


def test_directory_writer_puts_base_output_in_products(tmp_path: Path) -> None:
    h = read_horizon_directory(tiny(tmp_path))
    other = replace(h, base_output=np.array([90.0, 60.0]))
    with pytest.warns(GosplanWarning, match="recorded_output is written as the horizon's base-year output"):
        out = write_horizon_directory(other, tmp_path / "o")
    np.testing.assert_array_equal(read_horizon_directory(out).base_output, [90, 60])

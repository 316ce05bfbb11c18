"""Multi-year data: Cockshott's four files, gosplan's directory tables, the UK capital files,
load_horizon and ``gosplan synth --years``. Values are checked against the CSV files."""

from __future__ import annotations

import gzip
import re
import shutil
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
    DataQualityWarning,
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
    for x, y in (
        (a.economy.use, b.economy.use),
        (a.economy.primary, b.economy.primary),
        (a.capital, b.capital),
        (a.depreciation, b.depreciation),
    ):
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
    assert_same(
        read_cockshott_horizon(data("cockshott_5yearplan_example")),
        read_cockshott_horizon(dataset_path("cockshott-example")),
    )


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
    assert sorted(p.name for p in out.iterdir()) == [
        "cap.csv",
        "dep.csv",
        "flows.csv",
        "labtarg.csv",
    ]
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
    two = replace(
        eco,
        primary=sp.vstack([eco.primary, eco.primary]).tocsr(),
        resources=pd.Index(["labour", "land"]),
    )
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
    h = Horizon(
        eco, sp.csr_array((n, n)), sp.csr_array((n, n)), x0, ["year1"], [1.0], np.ones((n, 1))
    )
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
    _raises(
        UnknownProductError, cockshott_dir, r"cap\.csv, line 5", "product 'brad'", "unknown product"
    )


def test_cockshott_error_unknown_industry_in_dep(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "headings,iron,coal,corn,bread", "headings,iron,coal,corn,beer")
    _raises(
        UnknownProductError, cockshott_dir, r"dep\.csv, line 1, column 'beer'", "unknown industry"
    )


def test_cockshott_error_missing_product_row(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "cap.csv", "bread,0,0,0,0\n", "")
    _raises(
        TableFormatError,
        cockshott_dir,
        r"cap\.csv",
        "product 'bread'",
        "no row for product 'bread'",
    )


def test_cockshott_error_negative_and_text_stock(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "cap.csv", "coal,2,1,0.04,0.1", "coal,2,-1,0.04,0.1")
    _raises(
        TableFormatError,
        cockshott_dir,
        r"cap\.csv, line 3, column 'coal', product 'coal'",
        "negative capital stock -1",
    )
    edit(cockshott_dir / "cap.csv", "coal,2,-1,0.04,0.1", "coal,2,1,lots,0.1")
    _raises(
        TableFormatError,
        cockshott_dir,
        r"cap\.csv, line 3, column 'corn', product 'coal'",
        "text 'lots'",
    )


def test_cockshott_error_depreciation_above_one(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "iron,0.07,0.07,0.07,0.06", "iron,0.07,1.07,0.07,0.06")
    _raises(
        TableFormatError,
        cockshott_dir,
        r"dep\.csv, line 2, column 'coal', product 'iron'",
        "rate 1.07 is above 1",
    )


def test_cockshott_error_negative_rate(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "bread,0,0,0,0", "bread,0,0,-0.1,0")
    _raises(
        TableFormatError,
        cockshott_dir,
        r"dep\.csv, line 5, column 'corn', product 'bread'",
        "-0.1 is negative",
    )


def test_cockshott_empty_rate_only_matters_where_there_is_a_stock(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "bread,0,0,0,0", "bread,,,,")  # bread is held by no one
    h = read_cockshott_horizon(cockshott_dir)
    np.testing.assert_array_equal(h.depreciation.toarray(), DEP)
    edit(cockshott_dir / "dep.csv", "corn,0,0,0.5,0", "corn,0,0,,0")  # corn holds corn
    _raises(
        TableFormatError,
        cockshott_dir,
        r"dep\.csv, line 4, column 'corn', product 'corn'",
        "empty depreciation rate of a stock: cap.csv has 1 of 'corn' held by 'corn'",
    )


def test_cockshott_rates_without_stock_are_ignored_and_noted(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "dep.csv", "bread,0,0,0,0", "bread,0.1,0,0,0")
    h = read_cockshott_horizon(cockshott_dir)
    np.testing.assert_array_equal(h.depreciation.toarray(), DEP)
    assert h.notes == ("dep.csv: 1 rate(s) where cap.csv has no stock, ignored",)


def test_cockshott_error_year_without_labour(cockshott_dir: Path) -> None:
    edit(
        cockshott_dir / "labtarg.csv",
        "year3,0.1,3,0.00,2.020000,3.020000",
        "year3,0.1,3,0.00,2.020000,",
    )
    _raises(
        TableFormatError,
        cockshott_dir,
        r"labtarg\.csv, line 4, column 'labour', year 'year3'",
        "year 'year3' has no labour supply",
    )


def test_cockshott_error_negative_labour_and_target(cockshott_dir: Path) -> None:
    edit(
        cockshott_dir / "labtarg.csv",
        "year2,0.1,3,0.00,2.010000,3.010000",
        "year2,0.1,3,0.00,2.010000,-3",
    )
    _raises(
        TableFormatError,
        cockshott_dir,
        r"line 3, column 'labour', year 'year2'",
        "labour supply -3 .* negative",
    )
    edit(
        cockshott_dir / "labtarg.csv",
        "year2,0.1,3,0.00,2.010000,-3",
        "year2,0.1,-3,0.00,2.010000,3",
    )
    _raises(
        TableFormatError,
        cockshott_dir,
        r"line 3, column 'coal', year 'year2'",
        "target -3 is negative",
    )


def test_cockshott_error_inconsistent_years(cockshott_dir: Path) -> None:
    edit(cockshott_dir / "labtarg.csv", "year4,", "year6,")
    _raises(
        TableFormatError,
        cockshott_dir,
        r"labtarg\.csv, line 5, year 'year6'",
        "inconsistent horizons",
        "expected 'year4'",
    )
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


def test_cockshott_error_labtarg_unknown_product(cockshott_dir: Path) -> None:
    edit(
        cockshott_dir / "labtarg.csv",
        "headings,iron,coal,corn,bread,labour",
        "headings,iron,coal,corn,beer,labour",
    )
    _raises(
        TableFormatError,
        cockshott_dir,
        r"labtarg\.csv, line 1, column 'bread'",
        r"missing \['bread'\], unknown \['beer'\]",
    )


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
        "year,labour",
        "year1,3",
        "year2,3.01",
        "year3,3.02",
        "year4,3.03",
        "year5,3.07",
    ]
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
    d = tiny(
        tmp_path,
        **{
            "capital.csv": "product,activity,stock\ncoal,steel,30\nsteel,steel,200\n",
            "depreciation.csv": "product,activity,rate\ncoal,steel,0.5\nsteel,steel,0.05\nsteel,coal,0.2\n",
        },
    )
    h = read_horizon_directory(d)
    np.testing.assert_array_equal(h.capital.toarray(), [[0, 30], [0, 200]])
    np.testing.assert_array_equal(h.depreciation.toarray(), [[0, 0.5], [0, 0.05]])
    assert h.notes == (
        "depreciation.csv: 1 rate(s) of stocks that the capital table lacks, ignored",
    )


def _dir_raises(cls: type, d: Path, *patterns: str) -> None:
    with pytest.raises(cls) as info:
        read_horizon_directory(d)
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


def test_directory_errors(tmp_path: Path) -> None:
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"targets.csv": TINY["targets.csv"] + "2031,coal,3\n"}),
        r"targets\.csv, line 5, column 'year', product 'coal'",
        "inconsistent horizons: year '2031'",
    )
    _dir_raises(
        UnknownProductError,
        tiny(tmp_path, **{"capital.csv": "product,stock\ncoal,30\nstel,200\n"}),
        r"capital\.csv, line 3, column 'product'",
        "unknown product 'stel'",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"capital.csv": "product,stock\ncoal,30\nsteel,-2\n"}),
        r"capital\.csv, line 3, column 'stock', product 'steel'",
        "stock -2 is negative",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"capital.csv": "product,stock\ncoal,30\nsteel,lots\n"}),
        r"capital\.csv, line 3, column 'stock'",
        "'lots' in column 'stock' is not a number",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"depreciation.csv": "product,rate\ncoal,0.5\nsteel,1.5\n"}),
        r"depreciation\.csv, line 3, column 'rate', product 'steel'",
        "rate 1.5 is above 1",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"depreciation.csv": "product,rate\ncoal,0.5\n"}),
        r"depreciation\.csv",
        r"no depreciation rate for the stock of 'steel' held by 'steel' \(capital\.csv, line 3\)",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"depreciation.csv": None}),
        r"missing table depreciation\.csv",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"horizon.csv": "year,labour\n2026,450\n2027,\n"}),
        r"horizon\.csv, line 3, column 'labour'",
        "missing value",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"horizon.csv": "year,labour\n2026,450\n2026,460\n"}),
        r"horizon\.csv, line 3, column 'year', product '2026'",
        "appears twice",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"horizon.csv": "year,labour\n2026,450\n2027,-1\n"}),
        r"horizon\.csv, line 3, column 'labour'",
        "labour supply -1 in year '2027' is negative",
    )
    _dir_raises(
        TableFormatError, tiny(tmp_path, **{"horizon.csv": None}), r"missing table horizon\.csv"
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"targets.csv": TINY["targets.csv"] + "2026,steel,11\n"}),
        r"targets\.csv, line 5",
        r"duplicate \(year, product\) pair \('2026', 'steel'\): already on line 2",
    )
    _dir_raises(
        TableFormatError,
        tiny(tmp_path, **{"products.csv": "product\ncoal\nsteel\n"}),
        r"products\.csv, column 'recorded_output'",
        "base-year output",
    )


def test_directory_parquet_errors_name_the_row(tmp_path: Path) -> None:
    h = read_horizon_directory(tiny(tmp_path))
    out = write_horizon_directory(h, tmp_path / "pq", format="parquet")
    cap = pd.read_parquet(out / "capital.parquet")
    cap.loc[1, "stock"] = -2.0
    cap.to_parquet(out / "capital.parquet")
    _dir_raises(
        TableFormatError,
        out,
        r"capital\.parquet, column 'stock', product 'steel'",
        "row 2: stock -2 is negative",
    )


def test_directory_without_horizon_table(tmp_path: Path) -> None:
    from gosplan.io.load_horizon import load_horizon

    with pytest.raises(TableFormatError, match=r"missing table horizon\.csv"):
        load_horizon(tiny(tmp_path, **{"horizon.csv": None}))


def test_directory_without_capital_or_output(tmp_path: Path) -> None:
    d = tiny(
        tmp_path,
        **{"products.csv": "product\ncoal\nsteel\n", "capital.csv": None, "depreciation.csv": None},
    )
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
    with pytest.warns(
        GosplanWarning, match="recorded_output is written as the horizon's base-year output"
    ):
        out = write_horizon_directory(other, tmp_path / "o")
    np.testing.assert_array_equal(read_horizon_directory(out).base_output, [90, 60])


DOC = Path(__file__).resolve().parents[1] / "docs" / "economy-format.md"


def test_documented_example(tmp_path: Path) -> None:
    """The example of docs/economy-format.md, "Multi-year tables", read from the page."""
    text = DOC.read_text(encoding="utf-8")
    d = tmp_path / "tiny"
    d.mkdir()
    for marker in ("file", "horizon file"):
        for name, body in re.findall(
            rf"<!-- {marker}: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S
        ):
            (d / name).write_text(body, encoding="utf-8")
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [
            "economy.toml",
            "products.csv",
            "technology.csv",
            "primary.csv",
            "demand.csv",
            "horizon.csv",
            "capital.csv",
            "depreciation.csv",
            "targets.csv",
        ]
    )
    h = read_horizon_directory(d)
    coal, steel, bread = 0, 1, 2
    assert list(h.years) == ["2025", "2026", "2027"]
    np.testing.assert_array_equal(h.labour_supply, [800, 820, 840])
    assert h.capital[steel, coal] == 40 and h.capital[coal, steel] == 5 and h.capital.nnz == 4
    assert h.capital_coefficients[steel, coal] == pytest.approx(0.4)
    np.testing.assert_array_equal(h.depreciation.toarray()[steel], [0.05, 0.05, 0.05])
    assert h.depreciation[coal, steel] == 0.5
    np.testing.assert_array_equal(h.targets[bread], [200, 210, 220])
    np.testing.assert_array_equal(h.targets[:, 2], [0, 25, 220])
    np.testing.assert_array_equal(h.base_output, [100, 50, 200])
    from gosplan.io.load_horizon import load_horizon

    assert load_horizon(d, years=2).n_years == 2
    # the error shown on the page
    (d / "targets.csv").write_text(
        TINY["targets.csv"].replace("2026", "2025").replace("2027", "2026") + "2031,coal,3\n"
    )
    with pytest.raises(
        TableFormatError,
        match=r"targets\.csv, line 5, column 'year', product 'coal': "
        r"inconsistent horizons: year '2031' is not a year of horizon\.csv \(2025, 2026, 2027\)",
    ):
        read_horizon_directory(d)


# ============================================================================ UK 2015
@pytest.fixture(scope="module")
def uk() -> tuple[Horizon, list[str]]:
    from gosplan.io.ons_uk_horizon import read_uk_ons_horizon

    with pytest.warns(DataQualityWarning) as caught:
        h = read_uk_ons_horizon(dataset_path("uk-2015"))
    return h, [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]


def _upper(label: str) -> str:
    return " ".join(str(label).replace("\xa0", " ").split()).upper()


def test_uk_capital_is_the_file_matrix(uk: tuple[Horizon, list[str]]) -> None:
    h, _ = uk
    eco = h.economy
    assert eco.n_products == 129 and h.n_years == 5
    # independently: pandas, upper-case labels
    full = pd.read_csv(data("uk_ons_2015") / "fullcapitalstockmatrix2015.csv", index_col=0)
    total_row = full.loc["TOTAL"]
    body = full.drop(index="TOTAL")
    industries = [c for c in full.columns if _upper(c) in {_upper(p) for p in eco.products}]
    assert len(industries) == 128  # all but Owner-Occupiers' Housing
    pos = {_upper(p): k for k, p in enumerate(eco.products)}
    K = h.capital.toarray()
    assert K.sum() == total_row[industries].sum() == 7151150  # the TOTAL row, every stock kept
    assert K.sum() == total_row["TOTAL DEMAND FOR PRODUCTS AT BASIC PRICES"]  # the grand total cell
    for c in industries:  # each industry's holdings = the file's TOTAL row
        assert K[:, pos[_upper(c)]].sum() == total_row[c], c
    for r in body.index:
        for c in industries:
            assert K[pos[_upper(r)], pos[_upper(c)]] == body.loc[r, c]
    construction = pos["CONSTRUCTION"]
    crops = pos[_upper("Crop And Animal Production, Hunting And Related Service Activities")]
    assert K[construction, crops] == 290962
    assert h.capital.nnz == 1213
    housing = eco.products.get_loc("Owner-Occupiers' Housing")
    assert K[:, housing].sum() == 0 and K[housing].sum() == 0
    np.testing.assert_array_equal(h.base_output, eco.recorded_output)


def test_uk_depreciation_from_dep_csv(uk: tuple[Horizon, list[str]]) -> None:
    h, _ = uk
    eco = h.economy
    D = h.depreciation
    assert D.nnz == h.capital.nnz
    rates = pd.read_csv(data("uk_ons_2015") / "deprates.csv", index_col=0, dtype=str).iloc[:, 0]
    rates.index = [_upper(v) for v in rates.index]
    Dc = sp.coo_array(D)
    for i, r in zip(Dc.row, Dc.data):  # one rate per asset product, as deprates.csv says
        assert r == float(rates[_upper(eco.products[i])].replace(",", "."))
    computers = eco.products.get_loc("Manufacture Of Computer, Electronic And Optical Products")
    vehicles = eco.products.get_loc("Manufacture Of Motor Vehicles, Trailers And Semi-Trailers")
    construction = eco.products.get_loc("Construction")
    held = D.toarray()
    assert set(held[computers][held[computers] > 0]) == {0.13}
    assert set(held[vehicles][held[vehicles] > 0]) == {0.1}
    assert set(held[construction][held[construction] > 0]) == {0.03}
    assert (D.data < 1).all()  # no placeholder 1 on a stock


def test_uk_labour_and_targets(uk: tuple[Horizon, list[str]]) -> None:
    h, _ = uk
    eco = h.economy
    np.testing.assert_array_equal(
        h.labour_supply, [928459, 937743.59, 947121.0259, 956592.236159, 966158.15852059]
    )
    assert list(h.years) == ["Year1", "Year2", "Year3", "Year4", "Year5"]
    # same unit as the labour row: compensation of employees, £ million
    assert h.labour_coefficients @ h.base_output == pytest.approx(928458, abs=1)
    y = eco.demand.sum(axis=1)
    cement = eco.products.get_loc(
        "Manufacture of cement, lime, plaster and articles of concrete, cement and plaster"
    )
    assert y[cement] < 0 and (y < 0).sum() == 1
    np.testing.assert_array_equal(h.targets[:, 0], np.maximum(y, 0))
    np.testing.assert_array_equal(h.targets[:, 4], h.targets[:, 0])
    assert any("same every year" in n for n in h.notes)
    assert any("'tradedeficit' not used" in n for n in h.notes)


def test_uk_defects_reported(uk: tuple[Horizon, list[str]]) -> None:
    h, messages = uk
    text = "\n".join(messages)
    expected = [
        r"deprates\.csv\.gz, line 4, column 'Deprate': '0,5' is written with a decimal comma: read as 0\.5",
        r"deprates\.csv\.gz, line 130: a row with a blank label",
        r"dep\.csv\.gz, line 1: the header has 146 fields, the rows 145",
        r"dep\.csv\.gz, line 1: 4 label\(s\) cut short.*'MANUFACTURE OF SOFT DRINKS.*WATE' \(line 18\)",
        r"dep\.csv\.gz, line 131: row 'TOTAL CONSUMPTION' is not a product \(every cell 1\)",
        r"dep\.csv\.gz, line 1, column 'TOTAL INTERMEDIATE DEMAND': 15 column\(s\) are not industries",
        r"dep\.csv\.gz, line 1: 15418 of the 16641 cells without a stock hold 1 \(written ' 1'\): placeholders",
        r"dep\.csv\.gz, line \d+, column '.*': 10 rate\(s\) for stocks that fullcapitalstockmatrix2015\.csv "
        r"does not have \(\"OWNER-OCCUPIERS' HOUSING\": 6",
        r"fullcapitalstockmatrix2015\.csv\.gz, line 1: no column for industry \"Owner-Occupiers' Housing\" "
        r"\(base-year output 194407\)",
        r"fullcapitalstockmatrix2015\.csv\.gz, line 1: 7 industries with output hold no capital",
        r"fullcapitalstockmatrix2015\.csv\.gz, line 1, column 'TOTAL INTERMEDIATE DEMAND': 14 column\(s\) are "
        r"not industries.*'Total Exports' empty",
        r"K sums to 7151150, ONS net capital stocks .* to 4337207; the stocks held by 33 of 63 industry groups",
        r"68 19360 \(ONS 1452233\)",
        r"capitalstockmatrix2015\.csv\.gz, line 1: the same numbers as netcapitalstockmatrix2015",
        r"domesticiot\.csv\.gz: final demand .* negative for .*cement.* \(-214\): target 0",
    ]
    for pattern in expected:
        assert re.search(pattern, text), pattern
    # every defect is also a note (with the file name), beside the notes on what was assumed
    for pattern in (
        "'0,5' is written with a decimal comma",
        "TOTAL CONSUMPTION",
        "not quite right",
        'no column for industry "Owner-Occupiers\' Housing"',
    ):
        assert any(pattern in n for n in h.notes), pattern
    assert any("deprates.csv.gz agrees with dep.csv on every stock" in n for n in h.notes)
    # the warning shows the 8 worst groups, the note all 33: construction holds 8.5 times ONS's
    assert any("F 3526696 (ONS 415427)" in n and n.count("(ONS ") == 33 for n in h.notes)


def test_uk_years_growth_and_shared_folder() -> None:
    from gosplan.io.ons_uk_horizon import read_uk_ons_horizon

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        h = read_uk_ons_horizon(data("uk_ons_2015"), years=3, target_growth=0.02)
        with pytest.raises(InvalidEconomyError, match="labtargs.csv has 5 years; cannot read 6"):
            read_uk_ons_horizon(data("uk_ons_2015"), years=6)
    assert list(h.years) == ["Year1", "Year2", "Year3"]
    np.testing.assert_allclose(h.targets[:, 2], h.targets[:, 0] * 1.02**2, rtol=1e-15)
    assert h.capital.sum() == 7151150
    assert any("growing 0.02 a year" in n for n in h.notes)


@pytest.fixture
def uk_copy(tmp_path: Path) -> Path:
    out = tmp_path / "uk"
    shutil.copytree(dataset_path("uk-2015"), out)
    return out


def _ungzip(folder: Path, name: str) -> Path:
    gz = folder / f"{name}.gz"
    plain = folder / name
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    return plain


def test_uk_labour_in_another_unit_is_scaled(uk_copy: Path) -> None:
    from gosplan.io.ons_uk_horizon import read_uk_ons_horizon

    path = _ungzip(uk_copy, "labtargs.csv")
    path.write_text("headings,labour\nYear1,32000\nYear2,32320\n")  # thousands of people, say
    with pytest.warns(DataQualityWarning) as caught:
        h = read_uk_ons_horizon(uk_copy, years=2)
    assert any(
        re.search(
            r"labtargs\.csv, line 2, column 'labour': Year1 labour 32000 is not the base-year labour "
            r"use 928458 .*another unit; scaled",
            str(w.message),
        )
        for w in caught
    )
    np.testing.assert_allclose(h.labour_supply, [928458, 928458 * 1.01], rtol=1e-12)


def test_uk_errors_name_the_cell(uk_copy: Path) -> None:
    from gosplan.io.ons_uk_horizon import read_uk_ons_horizon

    dep = _ungzip(uk_copy, "dep.csv")
    lines = dep.read_text().split("\n")
    assert lines[57].startswith('"CONSTRUCTION",')  # line 58; the first column is a stock (0.03)
    lines[57] = lines[57].replace(",0.03,", ",1.5,", 1)
    dep.write_text("\n".join(lines))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        with pytest.raises(
            TableFormatError,
            match=r"dep\.csv, line 58, column 'CROP AND ANIMAL PRODUCTION, "
            r"HUNTING AND RELATED SERVICE ACTIVITIES', product 'CONSTRUCTION': rate 1\.5 is not in \[0, 1\]",
        ):
            read_uk_ons_horizon(uk_copy)
        lines[57] = lines[57].replace(",1.5,", ",,", 1)
        dep.write_text("\n".join(lines))
        with pytest.raises(
            TableFormatError, match=r"dep\.csv, line 58, .*empty: a stock needs a rate"
        ):
            read_uk_ons_horizon(uk_copy)
        cap = _ungzip(uk_copy, "fullcapitalstockmatrix2015.csv")
        cap.write_text(cap.read_text().replace("290962", "29O962", 1))
        with pytest.raises(
            TableFormatError,
            match=r"fullcapitalstockmatrix2015\.csv, line 58, column 'CROP AND "
            r"ANIMAL PRODUCTION.*', product 'CONSTRUCTION': text '29O962' in a numeric cell",
        ):
            read_uk_ons_horizon(uk_copy)


# ============================================================================ load_horizon
def test_load_horizon_dispatch(tmp_path: Path, cockshott_dir: Path) -> None:
    from gosplan.io.load_horizon import load_horizon

    ref = read_cockshott_horizon(dataset_path("cockshott-example"))
    bundled = load_horizon("cockshott-example")
    assert_same(bundled, ref)
    assert bundled.economy.meta.name == "cockshott-example"  # the registry's metadata
    assert_same(load_horizon(cockshott_dir), ref)
    assert_same(
        load_horizon(str(write_horizon_directory(ref, tmp_path / "g", format="parquet"))), ref
    )
    assert load_horizon(ref) is ref
    three = load_horizon("cockshott-example", years=3)
    assert three.n_years == 3
    np.testing.assert_array_equal(three.labour_supply, SUPPLY[:3])
    np.testing.assert_array_equal(three.targets, TARGETS[:, :3])
    with pytest.raises(
        InvalidEconomyError, match="cockshott-example has 5 year.* of data; cannot plan 8"
    ):
        load_horizon("cockshott-example", years=8)
    with pytest.raises(InvalidEconomyError, match="has 5 year.*cannot plan 6"):
        load_horizon(ref, years=6)


def test_load_horizon_uk(tmp_path: Path) -> None:
    from gosplan.io.load_horizon import load_horizon

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        h = load_horizon("uk-2015", years=2, target_growth=0.1)
        folder = load_horizon(data("uk_ons_2015"), years=2, target_growth=0.1)
    assert h.n_years == 2 and h.economy.meta.name == "uk-2015"
    np.testing.assert_allclose(h.targets[:, 1], h.targets[:, 0] * 1.1, rtol=1e-15)
    assert_same(h, folder)


def test_load_horizon_unknown_sources(tmp_path: Path) -> None:
    from gosplan.io.load_horizon import load_horizon

    looked = r"gosplan's directory format .*tables horizon, capital.*Cockshott's format \(flows, cap, dep, labtarg"
    with pytest.raises(
        TableFormatError,
        match=r"dataset 'us-2017' has no multi-year data.*cockshott-example, uk-2015",
    ):
        load_horizon("us-2017")
    with pytest.raises(
        TableFormatError,
        match="'no-such-thing' is neither a directory nor a bundled dataset.*" + looked,
    ):
        load_horizon("no-such-thing")
    (tmp_path / "flows.csv").write_text(
        "headings,a\na,0\nlabour,1\noutput,1\n"
    )  # one-year data only
    with pytest.raises(TableFormatError, match="no multi-year data found: looked for " + looked):
        load_horizon(tmp_path)
    with pytest.raises(TypeError):
        load_horizon(42)


# ============================================================================ CLI
def test_cli_synth_years(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gosplan.cli.app import app
    from gosplan.io.load_horizon import load_horizon
    from gosplan.synth.horizon import cockshott_economy

    runner = CliRunner()
    ref = cockshott_economy(40, 3, seed=7)
    result = runner.invoke(
        app,
        [
            "synth",
            "-n",
            "40",
            "--years",
            "3",
            "--seed",
            "7",
            "-o",
            str(tmp_path / "g"),
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "40 products, 3 years" in result.output
    assert_same(read_horizon_directory(tmp_path / "g"), ref)
    result = runner.invoke(
        app,
        [
            "synth",
            "-n",
            "40",
            "--years",
            "3",
            "--seed",
            "7",
            "-o",
            str(tmp_path / "c"),
            "--horizon-format",
            "cockshott",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "cap.csv",
        "dep.csv",
        "flows.csv",
        "labtarg.csv",
    ]
    assert_same(load_horizon(tmp_path / "c"), ref)
    again = runner.invoke(
        app,
        [
            "synth",
            "-n",
            "40",
            "--years",
            "3",
            "-o",
            str(tmp_path / "c"),
            "--horizon-format",
            "cockshott",
        ],
    )
    assert again.exit_code == 1 and "already holds Cockshott's files" in again.output
    for args, what in (
        (["--horizon-format", "cockshott"], "give --years"),
        (["--years", "2", "--inputs", "4"], "does not apply with --years"),
        (["--years", "0"], "--years"),
    ):
        bad = runner.invoke(app, ["synth", "-n", "10", "-o", str(tmp_path / "x"), *args])
        assert bad.exit_code == 2 and what in bad.output, (args, bad.output)

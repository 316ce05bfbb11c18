"""Households as data: the households and preferences tables, the default households of every
bundled dataset, synthetic household groups and ``gosplan synth --households``."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

import gosplan
from gosplan.cli.app import app
from gosplan.datasets import dataset_path
from gosplan.errors import InvalidEconomyError, TableFormatError, UnknownProductError
from gosplan.io.households import (
    default_households,
    household_categories,
    household_demand,
    is_household_category,
    load_households,
    read_households,
    write_households,
)
from gosplan.model.economy import Economy
from gosplan.synth.households import (
    ELASTICITY_RANGE,
    synth_households,
    gini,
)


def _load(name: str) -> Economy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load(name)


@pytest.fixture(scope="module")
def us2022() -> Economy:
    return _load("us-2022")


def _toy() -> Economy:
    return Economy(
        products=pd.Index(["bread", "coal", "iron", "wine"]),
        use=sp.csr_array(np.diag([0.1, 0.2, 0.1, 0.1])),
        primary=sp.csr_array(np.ones((1, 4))),
        resources=pd.Index(["labour"]),
        demand=np.array([[5.0, 1.0], [0.0, 2.0], [-1.0, 3.0], [2.0, 0.0]]),
        categories=pd.Index(["Households", "exports"]),
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HH = "household,population,budget,elasticity\nworkers,10,60,1\npeasants,5,40,0.5\n"
PREFS = "household,product,weight\nworkers,bread,2\nworkers,wine,1\npeasants,bread,1\npeasants,coal,3\n"


# ---------------------------------------------------------------------------------- reading
def test_read_and_round_trip(tmp_path: Path) -> None:
    eco = _toy()
    hh = read_households(_write(tmp_path / "h.csv", HH), _write(tmp_path / "p.csv", PREFS), eco)
    assert list(hh.groups) == ["workers", "peasants"]
    assert list(hh.goods) == ["bread", "coal", "wine"]  # the economy's order, positive weights
    np.testing.assert_allclose(hh.weights.toarray(), [[2 / 3, 0, 1 / 3], [0.25, 0.75, 0]])
    np.testing.assert_array_equal(hh.budget, [60, 40])
    np.testing.assert_array_equal(hh.elasticity, [1, 0.5])
    for fmt in ("csv", "parquet"):
        h_path, p_path = write_households(hh, tmp_path / fmt, format=fmt)
        back = read_households(h_path, p_path, eco)
        for a, b in zip(hh.to_frames(), back.to_frames()):
            pd.testing.assert_frame_equal(a, b)
    # to_frames -> CSV -> read, as the brief's round trip
    frames = hh.to_frames()
    frames[0].to_csv(tmp_path / "hh.csv", index=False)
    frames[1].to_csv(tmp_path / "pr.csv", index=False)
    back = read_households(tmp_path / "hh.csv", tmp_path / "pr.csv", eco)
    np.testing.assert_allclose(back.weights.toarray(), hh.weights.toarray())


def test_optional_columns(tmp_path: Path) -> None:
    hh = read_households(
        _write(tmp_path / "h.csv", "household,population\nall,3\n"),
        _write(tmp_path / "p.csv", "household,product,weight\nall,iron,1\nall,coal,0\n"),
        _toy(),
    )
    assert hh.budget is None
    np.testing.assert_array_equal(hh.elasticity, [1.0])  # Cobb-Douglas
    assert list(hh.goods) == ["iron"]  # a zero weight names no consumer good


BAD = [
    # (households, preferences, error, file, line, words)
    ("household,population\nall,3\n", "household,product,weight\nall,steel,1\n",
     UnknownProductError, "p", 2, ["'steel'"]),
    ("household,population\nall,3\n", "household,product,weight\nall,iron,1\nkulaks,iron,1\n",
     InvalidEconomyError, "p", 3, ["'kulaks'", "unknown household"]),
    ("household,population,budget\nall,3,-2\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 2, ["budget", "-2"]),
    ("household,population,budget\nall,3,\nb,1,1\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 2, ["missing value", "budget"]),
    ("household,population\nall,3\nb,1\n", "household,product,weight\nall,iron,1\nb,iron,0\nb,coal,0\n",
     TableFormatError, "p", 3, ["'b'", "sum to zero"]),
    ("household,population\nall,3\nb,1\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 3, ["'b'", "no preferences"]),
    ("household,population\nall,3\n", "household,product,weight\nall,iron,1\nall,coal,-0.5\n",
     TableFormatError, "p", 3, ["weight", "-0.5"]),
    ("household,population\nall,3\n", "household,product,weight\nall,iron,1\nall,coal,inf\n",
     TableFormatError, "p", 3, ["weight", "inf"]),
    ("household,population\nall,3\n", "household,product,weight\nall,iron,1\nall,coal,lots\n",
     TableFormatError, "p", 3, ["'lots'"]),
    ("household,population,elasticity\nall,3,0\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 2, ["elasticity", "0"]),
    ("household,population,elasticity\nall,3,-1\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 2, ["elasticity", "-1"]),
    ("household,population\nall,3\nb,0\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 3, ["population", "0"]),
    ("household,population\nall,3\nall,4\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 3, ["duplicate household", "'all'", "line 2"]),
    ("household,population\nall,3\n", "household,product,weight\nall,iron,1\nall,iron,2\n",
     TableFormatError, "p", 3, ["duplicate", "'iron'", "line 2"]),
    ("household,people\nall,3\n", "household,product,weight\nall,iron,1\n",
     TableFormatError, "h", 1, ["missing column 'population'"]),
    ("household,population\nall,3\n", "household,good,weight\nall,iron,1\n",
     TableFormatError, "p", 1, ["missing column 'product'"]),
]


@pytest.mark.parametrize("hh, prefs, error, where, line, words", BAD, ids=[str(k) for k in range(len(BAD))])
def test_bad_input_names_file_line_and_value(tmp_path, hh, prefs, error, where, line, words) -> None:
    h, p = _write(tmp_path / "h.csv", hh), _write(tmp_path / "p.csv", prefs)
    with pytest.raises(error) as info:
        read_households(h, p, _toy())
    text = str(info.value)
    assert str({"h": h, "p": p}[where]) in text
    assert f"line {line}" in text
    for word in words:
        assert word in text, text


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    pd.DataFrame({"household": ["all"], "population": [-3.0]}).to_parquet(tmp_path / "h.parquet")
    pd.DataFrame({"household": ["all"], "product": ["iron"], "weight": [1.0]}).to_parquet(tmp_path / "p.parquet")
    with pytest.raises(TableFormatError, match=r"h\.parquet.*row 1: population -3\.0"):
        read_households(tmp_path / "h.parquet", tmp_path / "p.parquet", _toy())


# ---------------------------------------------------------------------------- categories
@pytest.mark.parametrize(
    "name, expected",
    [("us-2017", ["F01000"]), ("us-2017-domestic", ["F01000"]), ("us-2022", ["F010"]), ("uk-2015", ["Households"]),
     ("cockshott-example", [])],
)
def test_household_category_of_every_dataset(name: str, expected: list[str]) -> None:
    eco = _load(name)
    assert [str(eco.categories[k]) for k in household_categories(eco)] == expected


def test_multiregional_categories() -> None:
    wiod = _load("wiod-2011")
    cats = [str(wiod.categories[k]) for k in household_categories(wiod)]
    assert len(cats) == 41 and all(c.endswith(":CONS_h") for c in cats)
    pym = _load("pymrio-test")
    cats = [str(pym.categories[k]) for k in household_categories(pym)]
    assert cats == [f"reg{r}:Final consumption expenditure by households" for r in range(1, 7)]
    assert not is_household_category("reg1:Final consumption expenditure by non-profit organisations serving "
                                      "households (NPISH)")
    assert not is_household_category("AUS:CONS_np")
    hh = load_households(pym)
    assert list(hh.groups) == [f"reg{r}:households" for r in range(1, 7)]
    np.testing.assert_array_equal(hh.population[:2], [780e6, 3700e6])  # pymrio's population.csv


@pytest.mark.parametrize("name, column", [("us-2022", "F010"), ("us-2017", "F01000")])
def test_default_households_are_pce_shares(name: str, column: str) -> None:
    eco = _load(name)
    folder = dataset_path(name)
    raw = pd.read_csv(next(folder.glob("use_*.csv.gz")), index_col=0)
    raw.index = raw.index.astype(str)
    pce = raw.loc[[str(p) for p in eco.products], column].astype(float)
    pce = pce[pce > 0]
    hh = load_households(eco)
    assert hh.H == 1 and list(hh.groups) == ["households"]
    assert list(hh.goods.astype(str)) == list(pce.index)
    np.testing.assert_allclose(hh.weights.toarray()[0], (pce / pce.sum()).to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(hh.elasticity, [1.0])
    assert hh.budget[0] == pytest.approx(pce.sum())


def test_no_household_category_is_a_clear_error() -> None:
    with pytest.raises(InvalidEconomyError, match=r"'year1'.*--households FILE --preferences FILE"):
        load_households(_load("cockshott-example"))


def test_household_demand_keeps_negative_entries() -> None:
    eco = _toy()
    np.testing.assert_array_equal(household_demand(eco), [5, 0, -1, 2])
    hh = default_households(eco)
    assert list(hh.goods) == ["bread", "wine"] and hh.budget[0] == 7


def test_synthetic_economy_has_households() -> None:
    eco = gosplan.synth.generate(500, seed=3)
    hh = load_households(eco)
    assert hh.G == int((household_demand(eco) > 0).sum())


# ----------------------------------------------------------------------------- where from
def test_load_households_sources(tmp_path: Path, us2022: Economy) -> None:
    eco = _toy()
    h, p = _write(tmp_path / "households.csv", HH), _write(tmp_path / "preferences.csv", PREFS)
    assert list(load_households(eco, h, p).groups) == ["workers", "peasants"]
    assert list(load_households(eco, directory=tmp_path).groups) == ["workers", "peasants"]
    assert list(load_households(eco, directory=tmp_path / "nothing-here").groups) == ["households"]
    with pytest.raises(InvalidEconomyError, match="both"):
        load_households(eco, h)
    p.unlink()
    with pytest.raises(TableFormatError, match="needs a preferences table"):
        load_households(eco, directory=tmp_path)
    syn = load_households(us2022, groups=20, seed=4)
    assert syn.H == 20 and syn.source.startswith("synthetic")


# ------------------------------------------------------------------------------ synthetic
def test_synth_is_seeded_and_deterministic(us2022: Economy) -> None:
    a = synth_households(us2022, 50, seed=7)
    b = synth_households(us2022, 50, seed=7)
    c = synth_households(us2022, 50, seed=8)
    for x, y in zip(a.to_frames(), b.to_frames()):
        pd.testing.assert_frame_equal(x, y)
    assert not np.array_equal(a.budget, c.budget)


def test_synth_spread_within_documented_ranges(us2022: Economy) -> None:
    hh = synth_households(us2022, 1000, seed=1)
    g = gini(hh.budget / hh.population, hh.population)
    assert 0.35 <= g <= 0.45
    lo, hi = ELASTICITY_RANGE
    assert hh.elasticity.min() >= lo and hh.elasticity.max() <= hi
    assert 0.9 <= np.median(hh.elasticity) <= 1.1
    assert hh.population.max() / hh.population.min() > 5
    # budgets sum to the household demand, and the groups buy it at base prices
    d = np.maximum(household_demand(us2022), 0)
    d = d[d > 0]
    assert hh.budget.sum() == pytest.approx(d.sum())
    np.testing.assert_allclose(hh.weights.T @ hh.budget, d, rtol=1e-6)
    # tastes differ, and tilt with income: per-good slopes of log weight on log income spread out
    A = hh.weights.toarray()
    assert (A > 0).all()  # 64 goods: every group buys every good
    s = d / d.sum()
    logy = np.log(hh.budget / hh.population)
    X = np.column_stack([np.ones_like(logy), logy])
    slopes = np.linalg.lstsq(X, np.log(A / s), rcond=None)[0][1]
    assert 0.2 < slopes.std() < 0.7


def test_synth_is_sparse_at_scale() -> None:
    rng = np.random.default_rng(0)
    demand = np.exp(2 * rng.standard_normal(50_000))
    t = time.perf_counter()
    hh = synth_households(demand, 500, seed=2)
    seconds = time.perf_counter() - t
    assert hh.G == 50_000
    assert 1.2e6 < hh.weights.nnz < 1.8e6  # about 3,000 goods per group
    buyers = np.bincount(hh.weights.indices, minlength=hh.G)
    assert buyers.min() >= 1
    assert np.corrcoef(np.log(demand), np.log(buyers))[0, 1] > 0.8  # popular goods, more buyers
    np.testing.assert_allclose(hh.weights.T @ hh.budget, demand, rtol=1e-6)
    assert seconds < 10


# ------------------------------------------------------------------------------------ CLI
@pytest.fixture
def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_synth_writes_households(tmp_path: Path, runner: CliRunner, fmt: str) -> None:
    out = tmp_path / "eco"
    res = runner.invoke(app, ["synth", "--products", "300", "--households", "12", "--seed", "5",
                              "--format", fmt, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / f"households.{fmt}").is_file() and (out / f"preferences.{fmt}").is_file()
    eco = gosplan.load(out)
    hh = load_households(eco, directory=out)
    assert hh.H == 12 and hh.source.endswith(f"preferences.{fmt}")
    again = synth_households(eco, 12, seed=5)
    np.testing.assert_allclose(hh.weights.toarray(), again.weights.toarray(), rtol=1e-12)
    np.testing.assert_allclose(hh.budget, again.budget, rtol=1e-12)


def test_cli_base_default_households(tmp_path: Path, runner: CliRunner, us2022: Economy) -> None:
    out = tmp_path / "us"
    res = runner.invoke(app, ["synth", "--base", "us-2022", "--households", "1", "--format", "csv",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    hh = read_households(out / "households.csv", out / "preferences.csv", gosplan.load(out))
    ref = default_households(us2022)
    np.testing.assert_allclose(hh.weights.toarray(), ref.weights.toarray(), rtol=1e-15)
    assert list(hh.goods) == list(ref.goods)


def test_cli_households_errors(tmp_path: Path, runner: CliRunner) -> None:
    res = runner.invoke(app, ["synth", "--base", "cockshott-example", "--households", "3", "--out", str(tmp_path / "c")])
    assert res.exit_code == 1 and "year1" in res.stderr
    assert not (tmp_path / "c").exists()
    res = runner.invoke(app, ["synth", "--products", "10", "--years", "2", "--households", "3",
                              "--out", str(tmp_path / "y")])
    assert res.exit_code == 2


# ------------------------------------------------------------------------------------ docs
def test_documented_example(tmp_path: Path) -> None:
    """The example of docs/economy-format.md, "Households", read from the page."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "economy-format.md").read_text(encoding="utf-8")
    d = tmp_path / "tiny"
    d.mkdir()
    for marker in ("file", "households file"):
        for name, body in re.findall(rf"<!-- {marker}: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S):
            (d / name).write_text(body, encoding="utf-8")
    hh = load_households(gosplan.load(d), directory=d)
    assert list(hh.goods) == ["coal", "bread"]
    np.testing.assert_allclose(hh.weights.toarray(), [[0.25, 0.75], [0.0, 1.0]])
    np.testing.assert_array_equal(hh.budget, [600, 400])
    np.testing.assert_array_equal(hh.elasticity, [1.0, 0.5])
    bad = d / "preferences.csv"
    bad.write_text("household,product,weight\nworkers,bread,3\nworkers,caviar,1\n", encoding="utf-8")
    with pytest.raises(UnknownProductError, match=r"preferences\.csv, line 3, column 'product', product 'caviar'"):
        load_households(gosplan.load(d), directory=d)

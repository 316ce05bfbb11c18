"""Product names (Economy.names): every reader fills them from its source, every copy keeps them."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gosplan import Economy
from gosplan.datasets import load_dataset
from gosplan.errors import DataQualityWarning, InvalidEconomyError
from gosplan.io.directory import read_directory, write_directory


def _load(name: str) -> Economy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_dataset(name)


# code -> name pairs read off the source files (commodity_codes.csv, bea_summary_names.csv,
# sectors.csv, domesticiot.csv, unit.csv)
KNOWN = {
    "us-2017": {"1111A0": "Oilseed farming", "111200": "Vegetable and melon farming", "S00300": "Noncomparable imports"},
    "us-2017-domestic": {"1111B0": "Grain farming"},
    "us-2022": {
        "111CA": "Farms",
        "3361MV": "Motor vehicles, bodies and trailers, and parts",
        "GFGD": "Federal general government (defense)",
        "Other": "Noncomparable imports and rest-of-the-world adjustment",
    },
    "wiod-2011": {"AUS:c1": "Agriculture, Hunting, Forestry and Fishing (AUS)", "DEU:c2": "Mining and Quarrying (DEU)"},
    "uk-2015": {"Forestry And Logging": "Forestry And Logging"},
    "pymrio-test": {"reg1:food": "food (reg1)", "reg2:mining": "mining (reg2)"},
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_bundled_datasets_are_named(name: str) -> None:
    eco = _load(name)
    assert eco.names is not None and eco.names.notna().all(), "every product has a name"
    for code, expected in KNOWN[name].items():
        assert eco.name_of(code) == expected
        assert eco.label(eco.products.get_loc(code)) == expected
    codes = list(KNOWN[name])
    assert eco.names_of(codes) == list(KNOWN[name].values())


def test_pymrio_units_per_product() -> None:
    eco = _load("pymrio-test")
    assert eco.unit_of("reg1:food") == "Mill USD"
    assert _load("us-2017").unit_of("1111A0") == _load("us-2017").meta.units  # no unit per product: the table's


@pytest.mark.parametrize("name", ["us-2022", "pymrio-test"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_names_round_trip_through_the_directory_format(name: str, fmt: str, tmp_path) -> None:
    eco = _load(name)
    write_directory(eco, tmp_path / "eco", format=fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = read_directory(tmp_path / "eco")
    pd.testing.assert_series_equal(back.product_names, eco.product_names, check_index_type=False)
    if eco.product_units is not None:
        pd.testing.assert_series_equal(back.product_units, eco.product_units, check_index_type=False)


def test_directory_names_column_optional_and_blank_cells_fall_back(tmp_path) -> None:
    d = tmp_path / "eco"
    d.mkdir()
    (d / "economy.toml").write_text('name = "t"\n[tables]\nformat = "csv"\nkeys = "label"\n')
    (d / "products.csv").write_text('product,name,unit\na,"Apples, red",kg\nb,,\n')
    (d / "technology.csv").write_text("input,output,coefficient\na,b,0.5\n")
    eco = read_directory(d)
    assert eco.product_names.tolist() == ["Apples, red", "b"]
    assert eco.unit_of("a") == "kg" and eco.unit_of("b") == eco.meta.units


def test_names_kept_by_every_copy() -> None:
    eco = Economy.from_coefficients(np.array([[0.1, 0.2], [0.0, 0.3]]), products=["x", "y"], y=[1, 1],
                                    l=[1, 1], names={"x": "Ex"})
    assert eco.product_names.tolist() == ["Ex", "y"]
    assert eco.with_demand([2.0, 2.0]).names_of(["x"]) == ["Ex"]
    assert replace(eco, recorded_output=np.ones(2)).label(0) == "Ex"
    assert eco.with_names(["A", "B"]).product_names.tolist() == ["A", "B"]
    assert eco.names.tolist()[0] == "Ex"  # the original is unchanged
    with pytest.raises(InvalidEconomyError, match="names names product 'z'"):
        eco.with_names({"z": "Zed"})


def test_aggregated_and_hierarchy_copies_keep_names() -> None:
    eco = _load("us-2022")
    from gosplan.io.bea_hierarchy import bea_hierarchy

    assert eco.with_hierarchy(bea_hierarchy(eco)).name_of("111CA") == "Farms"


def test_synthetic_economy_names_its_universal_products() -> None:
    from gosplan.synth import generate

    eco = generate(200, seed=3)
    assert eco.names is not None
    assert eco.label(0) != str(eco.products[0])  # a generated name
    assert eco.label(199) == str(eco.products[199])  # no name: the label


# ----------------------------------------------------------------------------- the CLI
def _runner():
    from typer.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def test_cli_balance_of_us_2017_shows_and_writes_names(tmp_path) -> None:
    from gosplan.cli.app import app

    result = _runner().invoke(app, ["balance", "us-2017", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "Hospitals" in result.stdout and "622000" in result.stdout  # top tables: name and code
    plan = pd.read_csv(tmp_path / "o" / "plan.csv", dtype={"product": str}).set_index("product")
    assert list(plan.columns[:2]) == ["name", "final_demand"]
    assert plan.loc["1111A0", "name"] == "Oilseed farming"


def test_cli_plan_tables_carry_names(tmp_path) -> None:
    from gosplan.cli.app import app

    result = _runner().invoke(app, ["plan", "us-2022", "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code in (0, 3), result.output
    if result.exit_code == 0:
        plan = pd.read_csv(tmp_path / "o" / "plan.csv", dtype={"product": str}).set_index("product")
        assert plan.loc["111CA", "name"] == "Farms"


def test_cli_info_shows_the_chain_of_command() -> None:
    import json

    from gosplan.cli.app import app

    result = _runner().invoke(app, ["info", "us-2017", "--json"])
    assert result.exit_code == 0, result.output
    h = json.loads(result.stdout)["hierarchy"]
    assert h["ministries"] == 73 and h["sectors"] == 17 and h["enterprises"] == 0
    farms = next(m for m in h["per_ministry"] if m["ministry"] == "111CA")
    assert farms == {"ministry": "111CA", "name": "Farms", "sector": "11",
                     "sector_name": "Agriculture, forestry, fishing, and hunting", "products": 10, "enterprises": 0}
    assert sum(m["products"] for m in h["per_ministry"]) == 402
    text = _runner().invoke(app, ["info", "us-2017"])
    assert text.exit_code == 0
    assert "chain of command" in text.stdout and "73 ministries" in text.stdout and "111CA" in text.stdout
    assert re.search(r"111CA\s+Farms\s+11\s", text.stdout)  # BEA's name beside the code
    plain = _runner().invoke(app, ["info", "pymrio-test", "--json"])
    assert "hierarchy" not in json.loads(plain.stdout)


def test_cli_allow_negative_value_added(tmp_path) -> None:
    import shutil

    from gosplan.cli.app import app
    from gosplan.datasets import dataset_path

    d = tmp_path / "t"
    shutil.copytree(dataset_path("pymrio-test"), d)
    x = pd.read_csv(d / "x.csv.gz", index_col=[0, 1])
    x.iloc[0, 0] = 1000.0  # reg1 food: its inputs now exceed its output
    (d / "x.csv.gz").unlink()
    x.to_csv(d / "x.csv")
    refused = _runner().invoke(app, ["info", str(d)])
    assert refused.exit_code == 1
    assert "negative value added" in refused.stderr and "--allow-negative-value-added" in refused.stderr
    accepted = _runner().invoke(app, ["info", str(d), "--allow-negative-value-added", "--json"])
    assert accepted.exit_code == 0, accepted.output
    assert "negative value added" in accepted.stderr and "reg1:food" in accepted.stderr


def test_html_report_shows_names() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _report_frames import large_plan

    from gosplan.report.html import plan_html

    summary, years, products, activities, stocks = large_plan(n=60, T=2)
    first = str(products["product"].iloc[0])
    html = plan_html(summary, years, products, activities, stocks, names={first: "Oilseed farming"})
    assert "Oilseed farming" in html
    assert "Oilseed farming" not in plan_html(summary, years, products, activities, stocks)


def test_conflicts_of_an_infeasible_plan_name_the_products() -> None:
    """A cost plan of us-2022 with $1 billion of labour is infeasible; the conflicting balances
    carry the BEA's names beside the codes ('balance of 493' told a planner nothing)."""
    import gosplan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gosplan.plan(_load("us-2022"), objective="cost", resources={"labour": 1000.0})
    assert res.status is gosplan.Status.INFEASIBLE
    assert res.conflict[0] == "resource labour: use <= 1000"
    balances = [line for line in res.conflict if line.startswith("balance of ")]
    assert balances and all(" (" in line.split(":")[0] for line in balances)
    assert any(line.startswith("balance of 493 (Warehousing and storage): ") for line in balances)


def test_negative_coefficient_warning_names_the_products() -> None:
    """us-2022's scrap-like negative coefficients were reported by bare BEA codes."""
    from gosplan.errors import NegativeCoefficientWarning

    with pytest.warns(NegativeCoefficientWarning) as caught:
        load_dataset("us-2022")
    text = " ".join(str(w.message) for w in caught if issubclass(w.category, NegativeCoefficientWarning))
    assert "'111CA' (Farms) into 'GFGN' (Federal general government (nondefense))" in text, text

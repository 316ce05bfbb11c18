"""Resource names and units (EconomyMeta.resource_names / resource_units): filled by the
readers from their sources, kept by the directory format, shown by every report."""

from __future__ import annotations

import csv
import gzip
import json
import warnings

import pytest

from gosplan import Economy
from gosplan.datasets import DATA_DIR, load_dataset
from gosplan.errors import DataQualityWarning, TableFormatError
from gosplan.io.directory import read_directory, write_directory
from gosplan.model.economy import EconomyMeta
from gosplan.report.labels import resource_label, resource_name, resource_unit


def _load(name: str) -> Economy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_dataset(name)


def _published_value_added() -> dict[str, str]:
    """BEA's value-added code list bundled with the detail table, read here with csv."""
    with gzip.open(DATA_DIR / "us_bea_detail_2017" / "value_added_codes.csv.gz", "rt", encoding="utf-8") as fh:
        return {row[0]: row[1] for row in list(csv.reader(fh))[1:]}


def test_bea_detail_resources_take_bea_names_and_money_units() -> None:
    published = _published_value_added()
    eco = _load("us-2017")
    assert list(eco.resources) == ["labour", "V00200", "V00300"]
    meta = eco.meta
    assert meta.resource_name("labour") == published["V00100"] == "Compensation of employees"
    assert meta.resource_name("V00200") == published["V00200"]
    assert meta.resource_name("V00300") == published["V00300"] == "Gross operating surplus"
    assert meta.resource_unit("V00300") == "million USD"
    assert meta.resource_unit("labour") == meta.labour_unit  # labour's unit is labour_unit


def test_bea_domestic_and_summary_resources_are_named() -> None:
    domestic = _load("us-2017-domestic").meta
    assert domestic.resource_name("imports") == "Imported intermediate inputs"
    assert domestic.resource_unit("imports") == "million USD"
    summary = _load("us-2022")
    assert list(summary.resources) == ["labour", "V002", "V003"]
    assert summary.meta.resource_name("V002") == _published_value_added()["V00200"]
    assert summary.meta.resource_name("labour") == "Compensation of employees"


def test_other_readers_give_units() -> None:
    wiod = _load("wiod-2011")
    assert wiod.meta.resource_unit("va_residual") == wiod.meta.units
    assert "residual" in wiod.meta.resource_name("va_residual")
    uk = _load("uk-2015")  # labelled by name already: no names added, units in million GBP
    assert uk.meta.resource_name("Gross operating surplus") == "Gross operating surplus"
    assert uk.meta.resource_unit("Gross operating surplus") == "million GBP"
    assert uk.meta.resource_unit("labour") == uk.meta.labour_unit


def test_pymrio_extension_units_from_the_iosystem_and_its_saved_folder(tmp_path) -> None:
    pymrio = pytest.importorskip("pymrio")
    from gosplan.io.pymrio_layout import from_iosystem, read_pymrio

    io = pymrio.load_test().calc_all()
    expected = {f"emissions:{a}:{b}": str(u) for (a, b), u in io.emissions.unit["unit"].items()}
    expected["Value Added"] = str(io.factor_inputs.unit["unit"].iloc[0])
    eco = from_iosystem(io)
    assert {r: eco.meta.resource_unit(r) for r in eco.resources} == expected
    io.save_all(tmp_path / "saved")
    read = read_pymrio(tmp_path / "saved")
    assert {r: read.meta.resource_unit(r) for r in read.resources} == expected


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_resource_texts_round_trip_through_the_directory_format(fmt: str, tmp_path) -> None:
    eco = _load("us-2017-domestic")
    write_directory(eco, tmp_path / "d", format=fmt)
    back = read_directory(tmp_path / "d")
    assert back.meta.resource_names == eco.meta.resource_names
    assert back.meta.resource_units == eco.meta.resource_units


def test_directory_refuses_a_resource_name_that_is_not_text(tmp_path) -> None:
    eco = _load("us-2022")
    write_directory(eco, tmp_path / "d")
    toml = tmp_path / "d" / "economy.toml"
    toml.write_text(toml.read_text().replace('V003 = "Gross operating surplus"', "V003 = 3"))
    with pytest.raises(TableFormatError, match=r"resource_names\.V003 must be a string, got 3"):
        read_directory(tmp_path / "d")


def test_meta_refuses_texts_that_are_not_a_mapping() -> None:
    with pytest.raises(TypeError, match="resource_names must map"):
        EconomyMeta(resource_names=["labour"])  # type: ignore[arg-type]


def test_resource_texts_picks_the_economy_s_resources() -> None:
    meta = EconomyMeta(resource_names={"a": "Alpha", "b": "Beta"}, resource_units={"b": "t"})
    assert meta.resource_texts(["b", "c"]) == {"resource_names": {"b": "Beta"}, "resource_units": {"b": "t"}}
    assert meta.resource_texts(["c"]) == {}


def test_labels_read_a_summary_or_its_economy_metadata() -> None:
    own = {"resource_names": {"V1": "Taxes"}, "resource_units": {"V1": "EUR"}, "labour_unit": "hours"}
    assert resource_label("V1", own) == "Taxes (V1)" and resource_unit("V1", own) == "EUR"
    assert resource_label("V2", own) == "V2" and resource_unit("V2", own) is None
    assert resource_unit("labour", own) == "hours" and resource_name("labour", own) == "labour"
    nested = {"economy_metadata": own}
    assert resource_label("V1", nested) == "Taxes (V1)" and resource_unit("labour", nested) == "hours"


# ----------------------------------------------------------------------------- the reports
def test_cli_balance_names_the_primary_inputs_and_their_units(tmp_path, runner) -> None:
    from gosplan.cli.app import app

    result = runner.invoke(app, ["balance", "us-2017", "--out", str(tmp_path / "o")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "V00300" in line)
    assert "Gross operating surplus" in row and "million USD" in row
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["resource_names"]["V00200"] == _published_value_added()["V00200"]
    assert summary["resource_units"] == {"V00200": "million USD", "V00300": "million USD"}
    total = summary["primary_totals"]["V00300"]
    assert f"{total:,.0f}" in row  # the figure on the named row is that resource's


def test_cli_plan_names_resources_and_binding_capacities(tmp_path, runner) -> None:
    from gosplan.cli.app import app

    eco = _load("us-2017")
    labour = float(eco.l @ eco.recorded_output)
    (tmp_path / "r.csv").write_text(f"resource,available\nlabour,{labour}\nV00300,{0.9 * labour}\n")
    (tmp_path / "c.csv").write_text("product,capacity\n531HSO,1000000\n")
    result = runner.invoke(
        app,
        ["plan", "us-2017", "--resources", str(tmp_path / "r.csv"), "--capacities", str(tmp_path / "c.csv"),
         "--out", str(tmp_path / "o")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "V00300" in line)
    assert "Gross operating surplus" in row and "million USD" in row
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["resource_names"]["V00300"] == "Gross operating surplus"
    assert "531HSO" in summary["binding_capacities"]  # its output at the table's fulfilment exceeds 10^6
    assert "Owner-occupied housing (531HSO)" in result.stdout


def test_html_report_names_other_resources() -> None:
    from gosplan.report.html import _classes_and_resources

    summary = {
        "resources": {"V003": {"2025": {"supply": 10.0, "used": 9.0, "price": 0.0}}},
        "resource_names": {"V003": "Gross operating surplus"},
    }
    html = _classes_and_resources(summary, ["2025"])
    assert "Gross operating surplus (V003)" in html
    del summary["resource_names"]
    assert "<td>V003</td>" in _classes_and_resources(summary, ["2025"])  # no name: the label alone


def test_multiyear_plan_reports_name_its_resources() -> None:
    from dataclasses import replace

    import numpy as np
    import scipy.sparse as sp

    from gosplan.cli.report import multiyear_report
    from gosplan.multiyear import plan_years
    from gosplan.synth.horizon import cockshott_economy
    from rich.console import Console

    h = cockshott_economy(6, 2, seed=3)
    eco = h.economy
    energy = np.full(eco.n_products, 0.5)
    meta = replace(eco.meta, resource_names={"energy": "Electric energy"}, resource_units={"energy": "MWh"})
    eco2 = Economy.from_coefficients(
        eco.use, products=list(eco.products), primary=sp.csr_array(np.vstack([h.labour_coefficients, energy])),
        resources=["labour", "energy"], recorded_output=h.base_output,
    )
    supply = np.full(h.n_years, 1e9)  # limited (so reported year by year), never binding
    res = plan_years(replace(h, economy=replace(eco2, meta=meta)), resources={"energy": supply}, method="highs")
    summary = res.summary()
    assert summary["resource_names"] == {"energy": "Electric energy"}
    assert summary["resource_units"] == {"energy": "MWh"}
    console = Console(width=200, record=True)
    console.print(multiyear_report(summary))
    rows = [line for line in console.export_text().splitlines() if "Electric energy" in line]
    assert rows and all("energy" in r and "MWh" in r for r in rows)

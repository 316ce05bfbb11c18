"""gosplan.load: dispatch by dataset name, object, directory contents and format=."""

from __future__ import annotations

import shutil
import warnings

import pytest

import gosplan
from _realdata import data
from gosplan.errors import DataQualityWarning, NegativeCoefficientWarning, TableFormatError
from gosplan.io.directory import write_directory
from gosplan.io.load import FORMATS, detect_format


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        yield


@pytest.mark.parametrize(
    "folder, fmt",
    [("us_bea_detail_2017", "bea"), ("us_bea_summary_2022", "bea"), ("wiod2013_2011", "pymrio"),
     ("pymrio_test", "pymrio"), ("uk_ons_2015", "uk-ons"), ("cockshott_5yearplan_example", "cockshott")],
)
def test_detect_format_of_real_directories(folder: str, fmt: str) -> None:
    assert detect_format(data(folder)) == fmt


def test_load_directory_file_and_options() -> None:
    assert gosplan.load(data("us_bea_summary_2022")).n_products == 73
    assert gosplan.load(data("cockshott_5yearplan_example") / "flows.csv").n_products == 4
    assert gosplan.load(data("uk_ons_2015") / "domesticiot.csv").n_products == 129
    eco = gosplan.load(data("us_bea_detail_2017"), domestic=True)
    assert "imports" in eco.resources


def test_load_iosystem_object() -> None:
    pymrio = pytest.importorskip("pymrio")
    eco = gosplan.load(pymrio.load_test())
    assert eco.n_products == 48


def test_format_forces_reader(tmp_path) -> None:
    # a Cockshott directory whose flows file has another name is read only when forced...
    with pytest.raises(TableFormatError, match="directory in no known format"):
        gosplan.load(tmp_path)
    shutil.copy(data("cockshott_5yearplan_example") / "flows.csv", tmp_path / "flows.csv")
    assert gosplan.load(tmp_path, format="cockshott").n_products == 4
    with pytest.raises(TableFormatError, match="table 'Z' not found"):
        gosplan.load(tmp_path, format="pymrio")


def test_unknown_source_lists_datasets_and_formats(tmp_path) -> None:
    with pytest.raises(TableFormatError) as err:
        gosplan.load("no-such-economy")
    msg = str(err.value)
    assert "us-2017" in msg and "cockshott-example" in msg
    assert all(repr(f) in msg for f in FORMATS)
    with pytest.raises(TableFormatError, match="unknown format 'excel'"):
        gosplan.load(tmp_path, format="excel")
    with pytest.raises(TableFormatError, match="cannot load an economy from a int"):
        gosplan.load(42)


def test_load_economy_directory_round_trip(tmp_path) -> None:
    eco = gosplan.load("cockshott-example")
    write_directory(eco, tmp_path / "eco")
    assert detect_format(tmp_path / "eco") == "directory"
    back = gosplan.load(tmp_path / "eco")
    assert list(back.products) == list(eco.products)
    assert (back.A != eco.A).nnz == 0
    back = gosplan.load(tmp_path / "eco" / "economy.toml")
    assert list(back.products) == list(eco.products)

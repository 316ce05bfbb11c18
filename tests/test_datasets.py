"""Bundled datasets: registry, byte-identical copies of the real tables, loading."""

from __future__ import annotations

import gzip
import hashlib
import re
import warnings

import numpy as np
import pytest

import gosplan
from _realdata import DATA, data, needs_data
from gosplan.datasets import DATA_DIR, dataset_info, list_datasets, load_dataset
from gosplan.errors import DataQualityWarning, NegativeCoefficientWarning, TableFormatError

NAMES = ["us-2017", "us-2017-domestic", "us-2022", "wiod-2011", "uk-2015", "pymrio-test", "cockshott-example"]
SECTORS = {"us-2017": 402, "us-2017-domestic": 402, "us-2022": 73, "wiod-2011": 1435,
           "uk-2015": 129, "pymrio-test": 48, "cockshott-example": 4}


def load_quietly(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        return load_dataset(name)


def test_registry_records() -> None:
    records = list_datasets()
    assert [r.name for r in records] == NAMES
    for r in records:
        d = r.to_dict()
        for key in ("title", "description", "units", "labour_unit", "source", "licence", "citation"):
            assert isinstance(d[key], str) and d[key], (r.name, key)
        assert r.sectors == SECTORS[r.name]
        assert (r.path / "PROVENANCE.md").is_file()
    assert dataset_info("us-2017").year == 2017 and dataset_info("pymrio-test").year is None


@pytest.mark.parametrize("name", NAMES)
def test_load_each_dataset(name: str) -> None:
    eco = load_quietly(name)
    info = dataset_info(name)
    assert eco.n_products == info.sectors
    assert eco.meta.name == name and eco.meta.licence == info.licence and eco.meta.year == info.year
    assert eco.meta.units == info.units and eco.meta.labour_unit == info.labour_unit
    assert np.isfinite(eco.A.data).all()
    assert (eco.labour is not None) == (name not in ("wiod-2011", "pymrio-test"))


def test_gosplan_load_by_name_equals_load_dataset() -> None:
    a = load_quietly("uk-2015")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        b = gosplan.load("uk-2015")
    assert (a.A != b.A).nnz == 0


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(TableFormatError, match="us-2017, us-2017-domestic") as err:
        load_dataset("us-2071")
    assert "did you mean 'us-2017'" in str(err.value)


@needs_data
@pytest.mark.parametrize("folder", sorted({r.folder for r in list_datasets()}))
def test_bundled_copies_identical_to_shared_tables(folder: str) -> None:
    original = DATA / folder
    bundled = DATA_DIR / folder
    names = sorted(p.name for p in original.iterdir())
    assert sorted(p.name[:-3] for p in bundled.glob("*.gz")) == names
    provenance = (bundled / "PROVENANCE.md").read_text()
    for name in names:
        raw = (original / name).read_bytes()
        assert gzip.decompress((bundled / f"{name}.gz").read_bytes()) == raw, name
        digest = hashlib.sha256(raw).hexdigest()
        assert re.search(rf"`{re.escape(name)}` {len(raw)} bytes, sha256 `{digest}`", provenance), name


@pytest.mark.parametrize("folder", sorted({r.folder for r in list_datasets()} | {"bea_crosswalk"}))
def test_bundled_copies_match_their_recorded_digests(folder: str) -> None:
    """Without the originals (a clone without ../shared): each .gz decompresses to the file
    whose size and sha256 PROVENANCE.md records, and every recorded file is bundled."""
    bundled = DATA_DIR / folder
    listed = re.finditer(
        r"^\* `([^`]+)` (\d+) bytes, sha256 `([0-9a-f]{64})`", (bundled / "PROVENANCE.md").read_text(), re.M
    )
    recorded = {m[1]: (int(m[2]), m[3]) for m in listed}
    assert recorded and sorted(recorded) == sorted(p.name[:-3] for p in bundled.glob("*.gz"))
    for name, (size, digest) in recorded.items():
        raw = gzip.decompress((bundled / f"{name}.gz").read_bytes())
        assert (len(raw), hashlib.sha256(raw).hexdigest()) == (size, digest), name


@pytest.mark.parametrize(
    "name, folder, reader",
    [("us-2022", "us_bea_summary_2022", "bea"), ("pymrio-test", "pymrio_test", "pymrio"),
     ("uk-2015", "uk_ons_2015", "uk-ons"), ("cockshott-example", "cockshott_5yearplan_example", "cockshott")],
)
def test_bundled_dataset_equals_reading_the_originals(name: str, folder: str, reader: str) -> None:
    a = load_quietly(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        b = gosplan.load(data(folder), format=reader)  # plain CSV files, not the .gz
    assert list(a.products) == list(b.products) and list(a.resources) == list(b.resources)
    np.testing.assert_array_equal(a.A.toarray(), b.A.toarray())
    np.testing.assert_array_equal(a.demand, b.demand)
    np.testing.assert_array_equal(a.primary_coefficients, b.primary_coefficients)


def test_package_data_is_small() -> None:
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 1.5e6

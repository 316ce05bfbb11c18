"""Real input-output tables shipped with gosplan.

A pip-installed gosplan needs no other files::

    >>> from gosplan.datasets import list_datasets, load_dataset
    >>> [d.name for d in list_datasets()]            # doctest: +SKIP
    ['us-2017', 'us-2017-domestic', 'us-2022', 'wiod-2011', 'uk-2015', 'pymrio-test', 'cockshott-example']
    >>> eco = load_dataset("us-2017")                 # doctest: +SKIP

Each dataset is a folder of gzip-compressed copies (byte for byte) of the CSV files
described in the folder's ``PROVENANCE.md`` (source, licence, citation, sha256 of
every file), read by the same reader as the uncompressed originals
(:mod:`gosplan.io.bea`, :mod:`gosplan.io.pymrio_layout`, :mod:`gosplan.io.ons_uk`,
:mod:`gosplan.io.cockshott`). ``registry.toml`` describes them.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gosplan.errors import TableFormatError

if TYPE_CHECKING:  # pragma: no cover  (listing the datasets loads no pandas: docs/cli.md, "Start-up")
    from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["DatasetInfo", "list_datasets", "load_dataset", "dataset_info", "dataset_path", "DATA_DIR"]

#: Folder of the bundled data.
DATA_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DatasetInfo:
    """One bundled dataset: what it is, where it comes from, how to cite it."""

    name: str
    title: str
    description: str
    sectors: int
    year: int | None
    units: str
    labour_unit: str
    source: str
    licence: str
    citation: str
    reader: str
    folder: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The folder holding the data files and ``PROVENANCE.md``."""
        return DATA_DIR / self.folder

    @property
    def meta(self) -> EconomyMeta:
        """The economy metadata every reader of this dataset starts from."""
        from gosplan.model.economy import EconomyMeta

        return EconomyMeta(
            name=self.name,
            year=self.year,
            units=self.units,
            labour_unit=self.labour_unit,
            source=self.source,
            licence=self.licence,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "sectors": self.sectors,
            "year": self.year,
            "units": self.units,
            "labour_unit": self.labour_unit,
            "source": self.source,
            "licence": self.licence,
            "citation": self.citation,
            "reader": self.reader,
            "options": dict(self.options),
        }


@lru_cache(maxsize=1)
def _registry() -> dict[str, DatasetInfo]:
    with open(DATA_DIR / "registry.toml", "rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, DatasetInfo] = {}
    for name, entry in raw.items():
        out[name] = DatasetInfo(
            name=name,
            title=entry["title"],
            description=entry["description"],
            sectors=int(entry["sectors"]),
            year=int(entry["year"]) or None,
            units=entry["units"],
            labour_unit=entry["labour_unit"],
            source=entry["source"],
            licence=entry["licence"],
            citation=entry["citation"],
            reader=entry["reader"],
            folder=entry["folder"],
            options=dict(entry.get("options", {})),
        )
    return out


def list_datasets() -> list[DatasetInfo]:
    """Every bundled dataset, in registry order (what ``gosplan datasets`` prints)."""
    return list(_registry().values())


def dataset_info(name: str) -> DatasetInfo:
    """The record of dataset ``name``; :class:`TableFormatError` listing the names if unknown."""
    reg = _registry()
    if name not in reg:
        close = difflib.get_close_matches(name, list(reg), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TableFormatError(f"unknown dataset {name!r}{hint}; bundled datasets: {', '.join(reg)}")
    return reg[name]


def dataset_path(name: str) -> Path:
    """The folder of dataset ``name``."""
    return dataset_info(name).path


def load_dataset(name: str, **options: Any) -> Economy:
    """Read bundled dataset ``name`` into an :class:`~gosplan.model.Economy`.

    ``meta`` carries the registry's name, year, units, source and licence (with the
    reader's notes). The BEA tables come with BEA's own grouping as their hierarchy
    (:func:`gosplan.io.bea_hierarchy.bea_hierarchy`: ministries, and sectors for the
    detail tables). Readers may emit :class:`~gosplan.errors.DataQualityWarning` for
    known defects of a table (see each dataset's description). ``options`` go to the
    reader over the registry's own (``labour="Value Added"`` for a pymrio table).
    """
    info = dataset_info(name)
    meta = info.meta
    path = info.path
    options = {**info.options, **options}
    if info.reader == "bea":
        from gosplan.io.bea import read_bea
        from gosplan.io.bea_hierarchy import bea_hierarchy

        economy = read_bea(path, meta=meta, **options)
        return economy.with_hierarchy(bea_hierarchy(economy))  # BEA's summary codes / sectors
    if info.reader == "pymrio":
        from gosplan.io.pymrio_layout import read_pymrio

        return read_pymrio(path, meta=meta, **options)
    if info.reader == "uk-ons":
        from gosplan.io.ons_uk import read_uk_ons

        return read_uk_ons(path, meta=meta, **options)
    if info.reader == "cockshott":
        from gosplan.io.cockshott import read_cockshott

        options.pop("allow_negative_value_added", None)  # a physical table: nothing to allow
        return read_cockshott(path, meta=meta, **options)
    raise TableFormatError(f"dataset {name!r}: unknown reader {info.reader!r} in registry.toml")

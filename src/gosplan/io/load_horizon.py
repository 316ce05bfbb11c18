"""``load_horizon``: one entry point for every source of multi-year data.

* a :class:`~gosplan.model.horizon.Horizon`: returned as it is;
* a bundled dataset with multi-year data: ``cockshott-example`` (Cockshott's four files)
  or ``uk-2015`` (the ONS tables with Cockshott's capital files);
* a directory in gosplan's format: ``economy.toml`` and a ``horizon`` table
  (:func:`gosplan.io.horizon_directory.read_horizon_directory`);
* a directory in Cockshott's format: ``flows``, ``cap``, ``dep`` and ``labtarg``
  (:func:`gosplan.io.cockshott_horizon.read_cockshott_horizon`);
* a directory laid out like the ``uk-2015`` dataset: ``domesticiot`` and
  ``fullcapitalstockmatrix2015`` (:func:`gosplan.io.ons_uk_horizon.read_uk_ons_horizon`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gosplan.errors import InvalidEconomyError, Location, TableFormatError
from gosplan.io.cockshott_horizon import COCKSHOTT_TABLES
from gosplan.io.tables import TABLE_SUFFIXES
from gosplan.model.economy import EconomyMeta
from gosplan.model.horizon import Horizon

__all__ = ["load_horizon", "HORIZON_DATASETS", "detect_horizon_format"]

#: Bundled datasets with multi-year data -> the format of their folder.
HORIZON_DATASETS: dict[str, str] = {"cockshott-example": "cockshott", "uk-2015": "uk-ons"}

_UK_TABLES = ("domesticiot", "fullcapitalstockmatrix2015")

#: What :func:`detect_horizon_format` looks for, in words (for the error message).
LOOKED_FOR = (
    "gosplan's directory format (economy.toml and the tables horizon, capital, ...)",
    f"Cockshott's format ({', '.join(COCKSHOTT_TABLES)}: .csv or .csv.gz)",
    f"the UK ONS 2015 layout ({', '.join(_UK_TABLES)})",
)


def _has(directory: Path, stem: str) -> bool:
    return any((directory / f"{stem}{s}").is_file() for s in TABLE_SUFFIXES)


def detect_horizon_format(directory: str | Path) -> str | None:
    """``"directory"``, ``"cockshott"`` or ``"uk-ons"`` for a directory of multi-year data, else ``None``."""
    from gosplan.io.horizon_directory import is_horizon_directory

    d = Path(directory)
    if not d.is_dir():
        return None
    if is_horizon_directory(d):
        return "directory"
    if all(_has(d, stem) for stem in COCKSHOTT_TABLES):
        return "cockshott"
    if all(_has(d, stem) for stem in _UK_TABLES):
        return "uk-ons"
    return None


def _read(fmt: str, path: Path, meta: EconomyMeta | None, options: dict[str, Any]) -> Horizon:
    if fmt == "directory":
        from gosplan.io.horizon_directory import read_horizon_directory

        if options:
            raise TypeError(f"read_horizon_directory takes no options, got {sorted(options)}")
        return read_horizon_directory(path)
    if fmt == "cockshott":
        from gosplan.io.cockshott_horizon import read_cockshott_horizon

        return read_cockshott_horizon(path, meta=meta, **options)
    from gosplan.io.ons_uk_horizon import read_uk_ons_horizon

    return read_uk_ons_horizon(path, meta=meta, **options)


def load_horizon(source: Any, *, years: int | None = None, **options: Any) -> Horizon:
    """Multi-year data from a dataset name, a directory or a :class:`Horizon`.

    Parameters
    ----------
    source:
        A :class:`Horizon`; a bundled dataset name (``"cockshott-example"``,
        ``"uk-2015"``); or a directory in gosplan's format, Cockshott's or the UK layout
        (see the module).
    years:
        Keep the first ``years`` years (:meth:`Horizon.with_years`); more years than the
        data has is an :class:`~gosplan.errors.InvalidEconomyError` naming both numbers.
    options:
        Passed to the reader (``target_growth=0.02`` for the UK tables).

    Raises
    ------
    TableFormatError
        ``source`` is none of these (the message lists what was looked for), or a dataset
        without multi-year data.
    """
    if isinstance(source, Horizon):
        if options:
            raise TypeError(f"options {sorted(options)} do not apply to a Horizon")
        horizon = source
        where = "the horizon"
    else:
        if not isinstance(source, (str, Path)):
            raise TypeError(
                f"source must be a dataset name, a directory or a Horizon, not {type(source).__name__}"
            )
        path = Path(source)
        meta = None
        if path.exists():
            fmt = detect_horizon_format(path)
            if fmt is None:
                raise TableFormatError(
                    "no multi-year data found: looked for "
                    + "; ".join(LOOKED_FOR)
                    + ("" if path.is_dir() else " (give a directory)"),
                    Location(file=path),
                )
        else:
            from gosplan.datasets import dataset_info, list_datasets

            name = str(source)
            if name not in HORIZON_DATASETS:
                known = [d.name for d in list_datasets()]
                what = (
                    f"dataset {name!r} has no multi-year data (capital stocks, labour supply per year)"
                    if name in known
                    else f"{name!r} is neither a directory nor a bundled dataset"
                )
                raise TableFormatError(
                    f"{what}; datasets with multi-year data: {', '.join(HORIZON_DATASETS)}; "
                    "or a directory in " + "; ".join(LOOKED_FOR)
                )
            info = dataset_info(name)
            fmt, path, meta = HORIZON_DATASETS[name], info.path, info.meta
        horizon = _read(fmt, path, meta, dict(options))
        where = str(source)
    if years is not None:
        if not 1 <= years <= horizon.n_years:
            raise InvalidEconomyError(
                f"{where} has {horizon.n_years} year(s) of data; cannot plan {years}"
            )
        horizon = horizon.with_years(years)
    return horizon

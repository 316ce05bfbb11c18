"""``gosplan.load``: one entry point for every source of an economy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from gosplan.errors import Location, TableFormatError
from gosplan.io.tables import TABLE_SUFFIXES
from gosplan.model.economy import Economy

__all__ = ["load", "FORMATS", "detect_format"]

#: Formats :func:`load` reads, with what identifies each in a directory.
FORMATS: dict[str, str] = {
    "dataset": "a bundled dataset short name (gosplan.datasets.list_datasets())",
    "directory": "gosplan's own directory format: economy.toml and its tables",
    "bea": "US BEA make/use directory: use_*.csv, make_*.csv (import_*.csv)",
    "pymrio": "pymrio layout: Z, Y (x, extensions) as .txt/.csv/.parquet, or file_parameters.json",
    "uk-ons": "UK ONS domestic use table: domesticiot.csv",
    "cockshott": "Cockshott's five-year-plan format: flows.csv (labtarg.csv)",
}


def _has(directory: Path, stem: str) -> bool:
    return any((directory / f"{stem}{s}").is_file() for s in TABLE_SUFFIXES)


def _has_prefix(directory: Path, prefix: str) -> bool:
    return any(
        p.is_file() and p.name.lower().startswith(prefix) and any(p.name.lower().endswith(s) for s in TABLE_SUFFIXES)
        for p in directory.iterdir()
    )


def _is_iosystem(obj: Any) -> bool:
    return type(obj).__name__ == "IOSystem" and type(obj).__module__.startswith("pymrio")


def detect_format(directory: str | Path) -> str | None:
    """The format of a directory (a key of :data:`FORMATS`), or ``None``."""
    from gosplan.io.pymrio_layout import is_pymrio_dir

    d = Path(directory)
    if not d.is_dir():
        return None
    if (d / "economy.toml").is_file():
        return "directory"
    if _has_prefix(d, "use") and _has_prefix(d, "make"):
        return "bea"
    if is_pymrio_dir(d):
        return "pymrio"
    if _has(d, "domesticiot"):
        return "uk-ons"
    if _has(d, "flows"):
        return "cockshott"
    return None


#: Readers that never refuse negative value added (physical tables, gosplan's own
#: directories): ``allow_negative_value_added`` is accepted and has nothing to do there.
_NO_VALUE_ADDED_CHECK = ("cockshott", "directory")


def _reader(fmt: str) -> Callable[..., Economy]:
    read = _reader_of(fmt)
    if fmt not in _NO_VALUE_ADDED_CHECK:
        return read

    def without_check(*args: Any, allow_negative_value_added: bool = False, **options: Any) -> Economy:
        return read(*args, **options)

    return without_check


def _reader_of(fmt: str) -> Callable[..., Economy]:
    if fmt == "bea":
        from gosplan.io.bea import read_bea

        return read_bea
    if fmt == "pymrio":
        from gosplan.io.pymrio_layout import read_pymrio

        return read_pymrio
    if fmt == "uk-ons":
        from gosplan.io.ons_uk import read_uk_ons

        return read_uk_ons
    if fmt == "cockshott":
        from gosplan.io.cockshott import read_cockshott

        return read_cockshott
    if fmt == "directory":
        try:
            from gosplan.io.directory import read_directory
        except ImportError as exc:  # pragma: no cover - the module is part of gosplan
            raise TableFormatError(f"the directory reader is not available: {exc}") from exc
        return read_directory
    raise AssertionError(fmt)


def _unknown(source: Any, why: str) -> TableFormatError:
    from gosplan.datasets import list_datasets

    names = ", ".join(d.name for d in list_datasets())
    formats = ", ".join(f"{k!r} ({v})" for k, v in FORMATS.items())
    return TableFormatError(
        f"{why}. Give a bundled dataset name ({names}), a pymrio IOSystem, or a directory "
        f"in one of the formats {formats}; format= forces one",
        Location(file=str(source)) if isinstance(source, (str, Path)) else None,
    )


def load(source: Any, *, format: str | None = None, **options: Any) -> Economy:
    """Load an economy from a bundled dataset, a pymrio object or a directory.

    Parameters
    ----------
    source:
        * a bundled dataset name (``"us-2017"``, see :func:`gosplan.datasets.list_datasets`);
        * a pymrio ``IOSystem``;
        * a directory: gosplan's own (``economy.toml``), a BEA make/use directory, a
          pymrio layout, a UK ONS directory (``domesticiot.csv``) or Cockshott's
          format (``flows.csv``), detected from the files in it (in this order); or a
          file of such a directory (``.../flows.csv``, ``.../economy.toml``).
    format:
        Force one of :data:`FORMATS` instead of detecting.
    **options:
        Passed to the reader (``domestic=True`` for BEA, ``labour=`` for pymrio, ...).
        ``allow_negative_value_added=True`` makes the BEA, pymrio and UK ONS readers
        accept columns whose inputs exceed their output, with a
        :class:`~gosplan.errors.DataQualityWarning` (every reader takes it).

    Raises
    ------
    TableFormatError
        Unknown source or format, listing the dataset names and the formats.
    """
    if format is not None and format not in FORMATS:
        raise _unknown(source, f"unknown format {format!r}")
    if _is_iosystem(source):
        if format not in (None, "pymrio"):
            raise _unknown(source, f"a pymrio IOSystem cannot be read as format {format!r}")
        from gosplan.io.pymrio_layout import from_iosystem

        return from_iosystem(source, **options)
    if not isinstance(source, (str, Path)):
        raise _unknown(source, f"cannot load an economy from a {type(source).__name__}")
    path = Path(source)
    if format == "dataset" or (format is None and isinstance(source, str) and not path.exists()):
        from gosplan.datasets import _registry, load_dataset

        if format == "dataset" or source in _registry():
            return load_dataset(str(source), **options)
        raise _unknown(source, f"{str(source)!r} is neither a bundled dataset nor an existing path")
    if not path.exists():
        raise _unknown(source, "path not found")
    if path.is_file():
        directory = path.parent
        if format is None:
            name = path.name.lower()
            if name == "economy.toml":
                format = "directory"
            elif name == "file_parameters.json":
                format = "pymrio"
            elif name.startswith("domesticiot"):
                return _reader("uk-ons")(path, **options)
            elif name.startswith("flows"):
                return _reader("cockshott")(path, **options)
            else:
                format = detect_format(directory)
        path = directory
    fmt = format or detect_format(path)
    if fmt is None:
        raise _unknown(source, "directory in no known format")
    if fmt == "dataset":  # pragma: no cover - handled above
        raise _unknown(source, "not a dataset name")
    return _reader(fmt)(path, **options)

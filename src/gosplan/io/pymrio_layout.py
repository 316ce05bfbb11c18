"""pymrio's on-disk layout and pymrio ``IOSystem`` objects.

A pymrio directory holds ``Z``, ``Y`` and optionally ``x`` (``.txt`` tab separated as
pymrio saves them, ``.csv``, or ``.parquet``), with row labels ``(region, sector)``
in the first columns and column labels in header rows (``region`` / ``sector`` for
``Z``, ``region`` / ``category`` for ``Y``). Satellite accounts (*extensions*) are
either pymrio's sub-directories ``<name>/F.txt`` (with ``file_parameters.json``) or
flat files ``<name>_F.csv``; ``F_Y`` (final-demand emissions) is not an input of
production and is left out (noted in ``meta.notes``). The WIOD carrier file
``va_residual.csv`` (``x`` minus the column sums of ``Z``) is read as a factor input.

Labels
------
The :class:`~gosplan.model.Economy` takes flat labels: a ``(region, sector)`` row
becomes the product ``"region:sector"`` (``"AUS:c1"``), a ``(region, category)``
column the final-demand category ``"AUS:CONS_h"``. :func:`split_labels` turns them
back into a ``MultiIndex``. Regions and sectors may therefore not contain ``":"``.
Factor inputs keep their own label (``"Value Added"``, ``"va_residual"``); rows of
other extensions become ``"<extension>:<stressor>[:<compartment>]"``
(``"emissions:emission_type1:air"``). All of them are primary resources: their
multipliers ``P (I - A)^-1`` are pymrio's ``M = S L``.

These tables have no labour row: the economy has no labour resource unless
``labour=`` names a factor row (it is then renamed ``"labour"``).

Names and units
---------------
A product ``(region, sector)`` is named ``"<sector name> (<region>)"``, the sector's
name taken from a ``sectors`` table (columns ``sector``, ``name``; WIOD's
``sectors.csv``) when there is one, else the sector label (``"food (reg1)"``).
pymrio's ``unit`` table (``region, sector, unit``) gives each product's unit
(:attr:`~gosplan.model.Economy.product_units`).

Negative value added
--------------------
A column whose inputs exceed its gross output (``Z' 1 > x``) is refused as a data
error unless ``allow_negative_value_added=True`` (CLI ``--allow-negative-value-added``):
then it is read, and a :class:`~gosplan.errors.DataQualityWarning` names the columns.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from gosplan.errors import InvalidEconomyError, Location, TableFormatError
from gosplan.io.flows import economy_from_flows
from gosplan.io.tables import (
    TABLE_SUFFIXES,
    _read_text,
    _sniff_sep,
    _suffixes,
    find_table,
    flatten_labels,
    read_table,
)
from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["read_pymrio", "from_iosystem", "split_labels", "is_pymrio_dir"]

_FACTOR_NAMES = {"factor_inputs", "factor inputs", "factor_input", "factorinputs"}
_VA_RESIDUAL = "va_residual"


def split_labels(labels: Any) -> pd.MultiIndex:
    """``"region:sector"`` labels back to a ``(region, sector)`` MultiIndex."""
    parts = [str(v).split(":", 1) for v in labels]
    if any(len(p) != 2 for p in parts):
        bad = next(str(v) for v, p in zip(labels, parts) if len(p) != 2)
        raise ValueError(f"label {bad!r} is not of the form 'region:sector'")
    return pd.MultiIndex.from_tuples([tuple(p) for p in parts], names=["region", "sector"])


def is_pymrio_dir(path: str | Path) -> bool:
    """Whether ``path`` looks like a pymrio directory (``file_parameters.json`` or ``Z`` and ``Y``)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if (path / "file_parameters.json").is_file():
        return True
    has = lambda stem: any((path / f"{stem}{s}").is_file() for s in TABLE_SUFFIXES)  # noqa: E731
    return has("Z") and has("Y")


# ----------------------------------------------------------------------------- shapes
def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _infer_shape(path: Path) -> tuple[int, int]:
    """``(index_cols, header_rows)`` of a pymrio text table without file_parameters.json.

    pandas writes a frame with several column levels as one header row per level and
    then a row of index names (labels, then empty cells); with one column level, a
    single header row. Data rows start with the labels, then numbers.
    """
    text, _ = _read_text(path)
    first = text.split("\n", 1)[0]
    sep = _sniff_sep(first, _suffixes(path)[0])
    rows: list[list[str]] = []
    for cells in csv.reader(io.StringIO(text), delimiter=sep):
        if cells and any(c.strip() for c in cells):
            rows.append(cells)
        if len(rows) >= 12:
            break
    for r, cells in enumerate(rows[1:], start=1):
        lead = 0
        while lead < len(cells) and cells[lead].strip():
            lead += 1
        if lead < len(cells) and all(not c.strip() for c in cells[lead:]) and not any(
            _is_number(c) for c in cells[:lead]
        ):
            return lead, r  # a row of index names after r header rows
    for r, cells in enumerate(rows):
        k = 0
        while k < len(cells) and not _is_number(cells[k]):
            k += 1
        if k < len(cells) and r > 0:
            return max(k, 1), r
    raise TableFormatError("cannot find where the numbers start (header rows, label columns)", Location(file=path))


def _read(path: Path, shape: tuple[int, int] | None = None) -> pd.DataFrame:
    if _suffixes(path)[0] == ".parquet":
        return read_table(path)
    index_cols, header_rows = shape if shape is not None else _infer_shape(path)
    return read_table(path, index_cols=index_cols, header_rows=header_rows)


def _params(directory: Path) -> dict[str, Any] | None:
    f = directory / "file_parameters.json"
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as exc:
        raise TableFormatError(f"invalid JSON: {exc.msg}", Location(file=f, line=exc.lineno)) from exc


def _from_params(directory: Path, params: dict[str, Any], key: str) -> pd.DataFrame | None:
    entry = params.get("files", {}).get(key)
    if entry is None:
        return None
    path = directory / entry["name"]
    return _read(path, (int(entry.get("nr_index_col", 1)), int(entry.get("nr_header", 1))))


def _check_colon(index: pd.Index, what: str, file: Any) -> None:
    if isinstance(index, pd.MultiIndex):
        for v in index:
            for part in v:
                if ":" in str(part):
                    raise TableFormatError(
                        f"{what} label {str(part)!r} contains ':', which gosplan uses to join region and sector",
                        Location(file=file, product=str(part)),
                    )


def _extension_label(ext: str, index: pd.Index) -> list[str]:
    flat = [":".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in index]
    if ext.lower().replace("-", "_") in _FACTOR_NAMES or ext == _VA_RESIDUAL:
        return flat
    return [f"{ext}:{v}" for v in flat]


def _collect_extensions(
    directory: Path,
) -> tuple[list[tuple[str, pd.DataFrame]], list[str], dict[str, str]]:
    """``(name, F)`` of every extension in ``directory``, notes on what was left out,
    and the units of the extensions' rows (by resource label) where a ``unit`` table gives them."""
    exts: list[tuple[str, pd.DataFrame]] = []
    notes: list[str] = []
    units: dict[str, str] = {}

    def add_units(name: str, f: Path | None) -> None:
        for label, unit in ((_unit_table(f) if f is not None else None) or {}).items():
            units[_extension_label(name, pd.Index([label]))[0]] = unit

    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        params = _params(sub)
        if params is not None:
            F = _from_params(sub, params, "F")
            if F is None:
                continue
            exts.append((sub.name, F))
            entry = params.get("files", {}).get("unit")
            add_units(sub.name, sub / entry["name"] if entry else None)
            if "F_Y" in params.get("files", {}):
                notes.append(f"extension {sub.name!r}: F_Y (final-demand accounts) left out")
        else:
            f = find_table(sub, "F", required=False)
            if f is not None:
                exts.append((sub.name, _read(f)))
                add_units(sub.name, find_table(sub, "unit", required=False))
    seen = {name for name, _ in exts}
    for f in sorted(directory.iterdir()):
        if not f.is_file():
            continue
        name = f.name
        for sfx in TABLE_SUFFIXES:
            if name.endswith(sfx):
                stem = name[: -len(sfx)]
                break
        else:
            continue
        if stem.endswith("_F_Y"):
            notes.append(f"{name}: final-demand accounts (F_Y) left out")
        elif stem.endswith("_F") and stem[:-2] not in seen:
            exts.append((stem[:-2], _read(f)))
            seen.add(stem[:-2])
            add_units(stem[:-2], find_table(directory, f"{stem[:-2]}_unit", required=False))
        elif stem == _VA_RESIDUAL:
            exts.append((_VA_RESIDUAL, _read(f)))
            seen.add(_VA_RESIDUAL)
    return exts, notes, units


def _factors(exts: list[tuple[str, pd.DataFrame]], source: Any, products: pd.Index) -> pd.DataFrame | None:
    """All extensions stacked, columns in the order of ``products`` (Z's rows: a
    mislabelled column of Z is then reported by the check of Z itself)."""
    # factor inputs first (value added, labour), then satellite accounts, each in file order
    exts = sorted(exts, key=lambda e: not (e[0].lower().replace("-", "_") in _FACTOR_NAMES or e[0] == _VA_RESIDUAL))
    target = flatten_labels(products)
    frames = []
    for name, F in exts:
        cols = flatten_labels(F.columns)
        file = F.attrs.get("file", source)
        if cols.has_duplicates:
            dup = cols[cols.duplicated()][0]
            raise TableFormatError(
                f"extension {name!r}: duplicate column {dup!r}",
                Location(file=file, line=F.attrs.get("header_line"), column=dup, product=dup),
            )
        if not cols.equals(target):
            extra = cols.difference(target, sort=False)
            missing = target.difference(cols, sort=False)
            if len(extra) or len(missing):
                first = str(extra[0] if len(extra) else missing[0])
                raise TableFormatError(
                    f"extension {name!r}: columns do not match Z's: unknown {list(extra[:5])}, "
                    f"missing {list(missing[:5])}",
                    Location(file=file, line=F.attrs.get("header_line"), column=first, product=first),
                )
        G = pd.DataFrame(
            F.to_numpy()[:, cols.get_indexer(target)],
            index=pd.Index(_extension_label(name, F.index), dtype=object),
            columns=target,
        )
        frames.append(G)
    if not frames:
        return None
    out = pd.concat(frames)
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise TableFormatError(f"factor input {dup!r} appears in two extensions", Location(file=source, product=dup))
    out.attrs = {"file": str(source)}
    return out


def read_pymrio(
    path: str | Path,
    *,
    labour: str | None = None,
    extensions: bool = True,
    meta: EconomyMeta | None = None,
    allow_negative_value_added: bool = False,
) -> Economy:
    """Read a single- or multi-regional table in pymrio's on-disk layout.

    Parameters
    ----------
    path:
        Directory with ``Z``, ``Y``, optionally ``x`` and extensions (see module notes).
        With pymrio's ``file_parameters.json`` the number of label columns and header
        rows is taken from it; otherwise it is detected.
    labour:
        Label of a factor-input row that is labour (renamed ``"labour"``).
    extensions:
        Read factor inputs and satellite accounts as primary resources.
    meta:
        Metadata; by default the directory name and the units of ``unit.*``.
    allow_negative_value_added:
        Accept columns whose inputs exceed their output (with a
        :class:`~gosplan.errors.DataQualityWarning` naming them) instead of refusing
        the table (see the module notes).

    Returns
    -------
    Economy
        Products ``"region:sector"``; ``A = Z diag(x)^-1`` (``x = Z 1 + Y 1`` if no
        ``x``), demand ``Y``, resources from the extensions, ``recorded_output = x``
        when the directory has one.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise TableFormatError("pymrio directory not found", Location(file=directory))
    params = _params(directory)
    if params is not None and params.get("systemtype") not in (None, "IOSystem"):
        raise TableFormatError(
            f"file_parameters.json describes a {params.get('systemtype')!r}, not an IOSystem",
            Location(file=directory / "file_parameters.json"),
        )
    Z: pd.DataFrame | None
    if params is not None:
        Z = _from_params(directory, params, "Z")
        Y = _from_params(directory, params, "Y")
        x = _from_params(directory, params, "x")
        if Z is None or Y is None:
            raise TableFormatError(
                "file_parameters.json lists no Z or no Y (a system saved with A only cannot be read)",
                Location(file=directory / "file_parameters.json"),
            )
    else:
        Z = _read(find_table(directory, "Z"))  # type: ignore[arg-type]
        Y = _read(find_table(directory, "Y"))  # type: ignore[arg-type]
        xf = find_table(directory, "x", required=False)
        x = _read(xf) if xf is not None else None
    _check_colon(Z.index, "region or sector", Z.attrs.get("file"))
    _check_colon(Y.columns, "region or category", Y.attrs.get("file"))
    notes: list[str] = []
    factors = None
    resource_units: dict[str, str] = {}
    if extensions:
        exts, notes, resource_units = _collect_extensions(directory)
        factors = _factors(exts, directory, Z.index)
    if meta is None:
        meta = EconomyMeta(name=directory.name, units=_units(directory), source=str(directory))
    if isinstance(Z.index, pd.MultiIndex):
        notes.append("products are 'region:sector' (gosplan.io.pymrio_layout.split_labels)")
    meta = _with_resource_texts(meta, factors, resource_units, notes)
    return economy_from_flows(
        Z, Y, x, factors, labour=labour, meta=meta, source=str(directory),
        allow_negative_value_added=allow_negative_value_added,
        names=_names(Z.index, _sector_names(directory)), product_units=_product_units(directory),
    )


def _with_resource_texts(
    meta: EconomyMeta, factors: pd.DataFrame | None, units: Mapping[str, str], notes: list[str]
) -> EconomyMeta:
    """``meta`` with ``notes`` added and its resources' units (the extensions' ``unit``
    tables; the value-added residual in the table's money unit) and names where missing."""
    labels = [] if factors is None else [str(r) for r in factors.index]
    names: dict[str, str] = {}
    units = {r: u for r, u in units.items() if r in labels}
    if _VA_RESIDUAL in labels:
        names[_VA_RESIDUAL] = "Value added, residual (x minus the column sums of Z)"
        units.setdefault(_VA_RESIDUAL, meta.units)
    return meta.amended(notes, resource_names=names, resource_units=units)


def _csv_rows(f: Path) -> list[list[str]]:
    text, _ = _read_text(f)
    sep = _sniff_sep(text.split("\n", 1)[0], _suffixes(f)[0])
    return [r for r in csv.reader(io.StringIO(text), delimiter=sep) if r and any(c.strip() for c in r)]


def _sector_names(directory: Path) -> dict[str, str]:
    """``{sector: name}`` from a ``sectors`` table (columns ``sector``, ``name``), if any."""
    f = find_table(directory, "sectors", required=False)
    if f is None:
        return {}
    if _suffixes(f)[0] == ".parquet":
        frame = pd.read_parquet(f)
        rows = [list(frame.columns)] + frame.astype(str).values.tolist()
    else:
        rows = _csv_rows(f)
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "sector" not in header or "name" not in header:
        return {}
    k, v = header.index("sector"), header.index("name")
    return {r[k].strip(): r[v].strip() for r in rows[1:] if len(r) > max(k, v)}


def _names(index: pd.Index, sectors: dict[str, str]) -> list[str] | None:
    """Product names: ``"<sector name> (<region>)"`` for ``(region, sector)`` rows."""
    if isinstance(index, pd.MultiIndex) and index.nlevels == 2:
        return [f"{sectors.get(str(s), str(s))} ({r})" for r, s in index]
    if sectors:
        return [sectors.get(str(v), str(v)) for v in index]
    return None


def _product_units(directory: Path) -> dict[str, str] | None:
    """``{"region:sector": unit}`` from pymrio's ``unit`` table (last column the unit)."""
    f = find_table(directory, "unit", required=False)
    return None if f is None else _unit_table(f)


def _unit_table(f: Path) -> dict[str, str] | None:
    """``{"a:b": unit}`` of a pymrio ``unit`` table: its label columns joined by ``:``, the last the unit."""
    if _suffixes(f)[0] == ".parquet":
        frame = pd.read_parquet(f)
        rows = [[*map(str, k), str(u)] for k, u in zip(frame.index, frame.iloc[:, -1])] if frame.shape[1] else []
    else:
        rows = _csv_rows(f)[1:]
    out = {":".join(c.strip() for c in r[:-1]): r[-1].strip() for r in rows if len(r) >= 2}
    return out or None


def _units(directory: Path) -> str:
    f = find_table(directory, "unit", required=False)
    if f is None:
        return "units"
    if _suffixes(f)[0] == ".parquet":
        frame = pd.read_parquet(f)
        units = set(map(str, frame.iloc[:, -1])) if frame.shape[1] else set()
        return units.pop() if len(units) == 1 else "units"
    text, _ = _read_text(f)
    rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_sep(text.split("\n", 1)[0], _suffixes(f)[0])))
    units = {r[-1].strip() for r in rows[1:] if r}
    return units.pop() if len(units) == 1 else "units"


def from_iosystem(
    io_system: Any,
    *,
    labour: str | None = None,
    extensions: bool = True,
    meta: EconomyMeta | None = None,
    allow_negative_value_added: bool = False,
) -> Economy:
    """An economy from a pymrio ``IOSystem`` (pymrio itself is not imported).

    Uses ``Z`` (or ``A`` and ``x``: ``Z = A diag(x)``), ``Y``, ``x`` if calculated, and
    the ``F`` of every extension (see :func:`read_pymrio` for labels).
    """
    Z = getattr(io_system, "Z", None)
    Y = getattr(io_system, "Y", None)
    x = getattr(io_system, "x", None)
    if Z is None:
        A = getattr(io_system, "A", None)
        if A is None or x is None:
            raise InvalidEconomyError("the IOSystem has neither Z nor A and x: call io.calc_all() first")
        Z = A * x.iloc[:, 0].to_numpy()[None, :]
    if Y is None:
        raise InvalidEconomyError("the IOSystem has no final demand Y")
    _check_colon(Z.index, "region or sector", "IOSystem")
    exts: list[tuple[str, pd.DataFrame]] = []
    if extensions:
        for ext in io_system.get_extensions(data=True):
            F = getattr(ext, "F", None)
            if F is None:
                S = getattr(ext, "S", None)
                if S is None or x is None:
                    continue
                F = S * x.iloc[:, 0].to_numpy()[None, :]
            name = str(getattr(ext, "name", "extension"))
            exts.append((name.lower().replace(" ", "_"), F))
    factors = _factors(exts, "IOSystem", Z.index)
    resource_units: dict[str, str] = {}
    if extensions:
        for ext in io_system.get_extensions(data=True):
            unit = getattr(ext, "unit", None)
            if isinstance(unit, pd.DataFrame) and unit.shape[1] >= 1:
                name = str(getattr(ext, "name", "extension")).lower().replace(" ", "_")
                for label, u in zip(_extension_label(name, unit.index), unit.iloc[:, -1]):
                    resource_units[label] = str(u)
    if meta is None:
        unit = getattr(io_system, "unit", None)
        units = "units"
        if isinstance(unit, pd.DataFrame) and unit.shape[1] >= 1:
            vals = set(map(str, unit.iloc[:, 0]))
            units = vals.pop() if len(vals) == 1 else "units"
        meta = EconomyMeta(name=str(getattr(io_system, "name", None) or "pymrio"), units=units, source="pymrio IOSystem")
    meta = _with_resource_texts(meta, factors, resource_units, [])
    unit = getattr(io_system, "unit", None)
    units_by_product = None
    if isinstance(unit, pd.DataFrame) and unit.shape[1] >= 1 and len(unit) == len(Z.index):
        units_by_product = {
            ":".join(map(str, k)) if isinstance(k, tuple) else str(k): str(u) for k, u in zip(unit.index, unit.iloc[:, 0])
        }
    return economy_from_flows(
        Z, Y, x, factors, labour=labour, meta=meta, source="IOSystem",
        allow_negative_value_added=allow_negative_value_added,
        names=_names(Z.index, {}), product_units=units_by_product,
    )

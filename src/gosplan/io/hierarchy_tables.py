"""The chain of command in gosplan's economy directory (``docs/economy-format.md``, "Hierarchy tables").

Four optional tables next to the economy's own, each ``NAME.csv`` or ``NAME.parquet`` in the
directory's format, give the :class:`~gosplan.model.hierarchy.Hierarchy`:

* ``ministries``: ``product``, ``ministry``, optional ``sector``: every product exactly once;
  a ministry's sector is the same on all its rows;
* ``enterprises``: ``enterprise``, ``product``, ``capacity``, optional ``input_factor``,
  ``labour_factor`` and ``region``: one product per enterprise, labels unique;
* ``norms``: ``enterprise``, ``input``, ``coefficient``: an enterprise's own norms per unit
  of output; ``input`` is a product label or a resource label (``labour``), whatever the
  directory's ``keys``;
* ``distances``: ``from_region``, ``to_region``, ``distance`` between the regions of the
  enterprises table.

Product keys of ``ministries`` and ``enterprises`` follow the directory's ``keys`` (labels
or 0-based positions). ``[hierarchy]`` in ``economy.toml`` holds the notes and, where the
order of first appearance in the tables is not the hierarchy's, the order of ``ministries``,
``sectors`` and ``regions``. Reading is columnar and vectorised (10^6 enterprises in about a
second); errors name the file, the line (CSV) or row (Parquet), the column and the product,
enterprise or region, like the economy's own tables (:mod:`gosplan.io.directory`, whose table
readers these are).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location, TableFormatError, UnknownProductError
from gosplan.io.directory import (
    FORMATS,
    HIERARCHY_TABLES,
    TableSink,
    _check_finite,
    _Code,
    _Conv,
    _decoded,
    _duplicate_pairs,
    _find,
    _first,
    _Float,
    _is_text,
    _labels,
    _load_toml,
    _OptText,
    _read_table,
    _Source,
    _Text,
    key_type,
    needs_quotes,
)
from gosplan.model.hierarchy import EnterpriseNorms, Hierarchy

__all__ = ["read_hierarchy_tables", "write_hierarchy_tables", "HIERARCHY_TABLES", "DEFAULT_MINISTRY"]

#: The one ministry of a directory with an enterprises table and no ministries table.
DEFAULT_MINISTRY = "centre"

_CHUNK = 1 << 22  # rows per write
_INTEGER_LABEL = r"^(0|[1-9][0-9]{0,17})$"


def _fail(
    src: _Source, row: int | None, message: str, *, column: str | None = None, name: str | None = None,
    key: str = "product", cls: type[InvalidEconomyError] = TableFormatError,
) -> NoReturn:
    raise cls(src.prefix(row) + message, replace(src.location(row, column, name), key=key))


class _Names(_Conv):
    """Enterprise labels: integer columns stay integers (Parquet), anything else is text."""

    def __call__(self, src, column, arr, offset):
        arr = _decoded(arr)
        if not (pa.types.is_integer(arr.type) or _is_text(arr.type)):
            arr = pc.cast(arr, pa.string())
        self.nulls(src, column, arr, offset)
        return arr.cast(pa.int64()) if pa.types.is_integer(arr.type) else arr


# ------------------------------------------------------------------------------------ [hierarchy]
def _section(directory: Path) -> dict[str, Any]:
    doc = _load_toml(directory)
    section = doc.get("hierarchy", {})
    where = Location(file=str(directory / "economy.toml"))
    if not isinstance(section, dict):
        raise TableFormatError("[hierarchy] must be a table", where)
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key == "notes":
            notes = [value] if isinstance(value, str) else value
            if not isinstance(notes, list) or not all(isinstance(v, str) for v in notes):
                raise TableFormatError("hierarchy.notes must be a string or a list of strings", where)
            out["notes"] = notes
        elif key in ("ministries", "sectors", "regions"):
            if (
                not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)
                or len(set(value)) != len(value)
            ):
                raise TableFormatError(f"hierarchy.{key} must list distinct non-empty names, got {value!r}", where)
            out[key] = value
        else:
            raise TableFormatError(
                f"unknown key hierarchy.{key} (known: notes, ministries, sectors, regions)", where
            )
    return out


# ------------------------------------------------------------------------------------------ reading
def read_hierarchy_tables(
    directory: str | Path,
    products: pd.Index,
    resources: Sequence[str],
    *,
    fmt: str,
    key: Callable[[], _Conv],
    lookup: Callable[[], Any],
) -> Hierarchy | None:
    """The hierarchy of an economy directory, or ``None`` when it has no hierarchy table.

    Called by :func:`gosplan.io.directory.read_directory` (which attaches the result to the
    economy it returns) with the economy's products and resources, the directory's format,
    a factory of product-key converters in the directory's ``keys`` and the label index of
    the products table.

    Raises
    ------
    TableFormatError
        A hierarchy table in another format than the directory's, a missing column, a
        product without a ministry or with two, a ministry in two sectors, an empty or
        repeated label, a negative or non-finite capacity, factor or distance, an ambiguous
        input label, a missing distance, norms or distances without enterprises.
    UnknownProductError
        A product, enterprise or input that is not there.
    """
    directory = Path(directory)
    srcs = {t: _find(directory, t, fmt, False) for t in HIERARCHY_TABLES}
    for t in HIERARCHY_TABLES:
        other = [directory / f"{t}.{f}" for f in FORMATS if f != fmt and (directory / f"{t}.{f}").is_file()]
        if other and srcs[t] is None:
            raise TableFormatError(
                f"{other[0].name} is not in the directory's format ([tables] format = {fmt!r} in economy.toml)",
                Location(file=str(other[0])),
            )
    if all(s is None for s in srcs.values()):
        return None
    section = _section(directory)
    notes = list(section.get("notes", []))
    n = len(products)
    product_name = _namer(products)

    # ministries -------------------------------------------------------------------------
    src = srcs["ministries"]
    sectors = ministry_sector = ministry_names = sector_names = None
    if src is not None:
        mcode, scode = _Code("ministry", section.get("ministries")), _Code("sector", section.get("sectors"))
        cols = _read_table(
            src,
            {"product": key(), "ministry": mcode, "sector": scode, "ministry_name": _OptText(),
             "sector_name": _OptText()},
            ["product", "ministry"],
        )
        p, m = cols["product"].astype(np.int64), cols["ministry"].astype(np.int64)
        _once(src, p, n, product_name)
        product_ministry = np.empty(n, dtype=np.int64)
        product_ministry[p] = m
        ministries = pd.Index(mcode.names, dtype=object)
        if "ministry_name" in cols:
            ministry_names = _unit_names(src, m, cols["ministry_name"], ministries, "ministry")
        if "sector" in cols:
            s = cols["sector"].astype(np.int64)
            ministry_sector = _sector_of(src, m, s, ministries, scode.names)
            sectors = pd.Index(scode.names, dtype=object)
            if "sector_name" in cols:
                sector_names = _unit_names(src, s, cols["sector_name"], sectors, "sector")
        elif "sectors" in section:
            _fail(src, None, "economy.toml declares hierarchy.sectors but the table has no sector column",
                  column="sector")
        elif "sector_name" in cols:
            _fail(src, None, "the table has a sector_name column but no sector column", column="sector_name")
    else:
        ministries = pd.Index([DEFAULT_MINISTRY], dtype=object)
        product_ministry = np.zeros(n, dtype=np.int64)
        note = f"no ministries table: every product under one ministry, {DEFAULT_MINISTRY!r}"
        if note not in notes:
            notes.append(note)

    # enterprises ------------------------------------------------------------------------
    src = srcs["enterprises"]
    if src is None:
        for t in ("norms", "distances"):
            if srcs[t] is not None:
                _fail(srcs[t], None, f"a {t} table needs an enterprises table ({t} refer to enterprises)")  # type: ignore[arg-type]
        return Hierarchy(products=products, ministries=ministries, product_ministry=product_ministry,
                         sectors=sectors, ministry_sector=ministry_sector, notes=tuple(notes),
                         ministry_names=ministry_names, sector_names=sector_names)
    rcode = _Code("region", section.get("regions"))
    cols = _read_table(
        src,
        {"enterprise": _Names(), "product": key(), "capacity": _Float(), "input_factor": _Float(),
         "labour_factor": _Float(), "region": rcode},
        ["enterprise", "product", "capacity"],
    )
    enterprises = _enterprise_index(src, cols["enterprise"])
    E = len(enterprises)
    ent_name = _namer(enterprises)
    enterprise_product = cols["product"].astype(np.int64)
    capacity = cols["capacity"]
    for column in ("capacity", "input_factor", "labour_factor"):
        if column in cols:
            _nonnegative(src, cols[column], column, ent_name)
    input_factor, labour_factor = cols.get("input_factor"), cols.get("labour_factor")

    # norms --------------------------------------------------------------------------------
    norms = None
    src_n = srcs["norms"]
    if src_n is not None:
        nc = _read_table(
            src_n, {"enterprise": _Names(), "input": _Text(), "coefficient": _Float()},
            ["enterprise", "input", "coefficient"],
        )
        e = _positions_of(src_n, nc["enterprise"], enterprises)
        code = _inputs(src_n, nc["input"], products, resources, lookup)
        coef = nc["coefficient"]
        _check_finite(src_n, coef, "coefficient", lambda k: str(enterprises[e[k]]))
        width = n + len(resources)
        def input_name(c: int) -> str:
            return product_name(c) if c < n else str(resources[c - n])

        _duplicate_pairs(src_n, e, code, width, "(enterprise, input) pair",
                         lambda k: (str(enterprises[e[k]]), input_name(int(code[k]))))
        own = np.unique(e)
        row = np.searchsorted(own, e)
        is_product = code < n
        N = sp.csr_array(sp.coo_array((coef[is_product], (row[is_product], code[is_product])), shape=(own.size, n)))
        Q = sp.csr_array(sp.coo_array(
            (coef[~is_product], (row[~is_product], code[~is_product] - n)), shape=(own.size, len(resources))
        ))
        norms = EnterpriseNorms(enterprise=own, inputs=N, primary=Q)
        for name in ("input_factor", "labour_factor"):
            if name not in cols:  # own norms replace the table's technique
                values = np.ones(E)
                values[own] = 0.0
                if name == "input_factor":
                    input_factor = values
                else:
                    labour_factor = values

    # regions and distances ----------------------------------------------------------------
    regions = enterprise_region = distances = None
    src_d = srcs["distances"]
    if src_d is not None and "region" not in cols:
        _fail(src_d, None, f"distances need regions: {src.path.name} has no region column", column="region")
    if "region" in cols:
        enterprise_region = cols["region"].astype(np.int64)
        if src_d is not None:
            dc = _read_table(
                src_d, {"from_region": rcode, "to_region": rcode, "distance": _Float()},
                ["from_region", "to_region", "distance"],
            )
            fr, to, d = dc["from_region"].astype(np.int64), dc["to_region"].astype(np.int64), dc["distance"]
            names = rcode.names
            _nonnegative(src_d, d, "distance", lambda k: names[fr[k]], key="region")
            R = len(names)
            _duplicate_pairs(src_d, fr, to, R, "(from_region, to_region) pair", lambda k: (names[fr[k]], names[to[k]]))
            D = np.full((R, R), np.nan)
            D[fr, to] = d
            np.fill_diagonal(D, np.where(np.isnan(np.diag(D)), 0.0, np.diag(D)))
            D = np.where(np.isnan(D), D.T, D)
            if np.isnan(D).any():
                a, b = (int(v) for v in np.argwhere(np.isnan(D))[0])
                _fail(src_d, None, f"no distance from region {names[a]!r} to {names[b]!r} (nor back): every "
                      "pair of regions needs one (one direction is enough when they are the same)",
                      name=names[a], key="region")
            distances = D
        regions = pd.Index(rcode.names, dtype=object)
    return Hierarchy(
        products=products, ministries=ministries, product_ministry=product_ministry,
        enterprises=enterprises, enterprise_product=enterprise_product, capacity=capacity,
        input_factor=input_factor, labour_factor=labour_factor, norms=norms,
        sectors=sectors, ministry_sector=ministry_sector, ministry_names=ministry_names, sector_names=sector_names,
        regions=regions, enterprise_region=enterprise_region, distances=distances,
        notes=tuple(notes),
    )


def _namer(index: pd.Index) -> Callable[[int], str]:
    return lambda k: str(index[int(k)])


def _once(src: _Source, p: np.ndarray, n: int, name: Callable[[int], str]) -> None:
    """Every product on exactly one row."""
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    dup = np.flatnonzero(sorted_p[1:] == sorted_p[:-1])
    if dup.size:
        later = order[dup + 1]
        j = int(np.argmin(later))
        row, first = int(later[j]), int(order[dup[j]])
        _fail(src, row, f"product {name(p[row])!r} appears twice (first on {src.where(first)}): a product "
              "belongs to one ministry", column="product", name=name(p[row]))
    if p.size < n:
        counts = np.bincount(p, minlength=n)
        i = _first(counts == 0)
        _fail(src, None, f"product {name(i)!r} has no ministry: the ministries table lists every product once "
              f"({n - p.size} of {n} missing)", column="product", name=name(i))


def _unit_names(src: _Source, unit: np.ndarray, names: pa.Array, labels: pd.Index, what: str) -> pd.Series | None:
    """The published name of each ministry (sector) from a ``ministry_name`` (``sector_name``)
    column: the one name its rows give (empty cells give none); two different names for one
    unit are an error naming both rows. ``None`` when the column names nothing."""
    text = pd.Series(names.to_pandas(types_mapper=lambda t: pd.StringDtype()), dtype=pd.StringDtype()).str.strip()
    given = np.flatnonzero(text.notna().to_numpy() & (text.str.len() > 0).fillna(False).to_numpy())
    if given.size == 0:
        return None
    u, t = unit[given], text.to_numpy(dtype=object)[given]
    order = np.argsort(u, kind="stable")
    u, t, rows = u[order], t[order], given[order]
    first = np.r_[True, u[1:] != u[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(u.size), 0))
    clash = np.flatnonzero(t != t[start])
    if clash.size:
        j = int(clash[0])
        k, row0 = int(u[j]), int(rows[start[j]])
        _fail(src, int(rows[j]), f"{what} {labels[k]!r} is named {t[j]!r} here but {t[start[j]]!r} on "
              f"{src.where(row0)}: a {what} has one name", column=f"{what}_name", name=str(labels[k]), key=what)
    out = pd.Series(pd.NA, index=labels, dtype=pd.StringDtype())
    out.iloc[u[first]] = t[first]
    return out


def _sector_of(
    src: _Source, m: np.ndarray, s: np.ndarray, ministries: pd.Index, sector_names: list[str]
) -> np.ndarray:
    M = len(ministries)
    first_row = np.full(M, -1, dtype=np.int64)
    _, where = np.unique(m, return_index=True)
    first_row[m[where]] = where
    if (first_row < 0).any():
        k = _first(first_row < 0)
        _fail(src, None, f"ministry {ministries[k]!r} (declared in economy.toml) has no product, so no sector",
              column="ministry", name=str(ministries[k]), key="ministry")
    ministry_sector = s[first_row]
    bad = s != ministry_sector[m]
    if bad.any():
        row = _first(bad)
        k = int(m[row])
        _fail(src, row, f"ministry {ministries[k]!r} is in sector {sector_names[s[row]]!r} here but in "
              f"{sector_names[ministry_sector[k]]!r} on {src.where(int(first_row[k]))}: a ministry has one sector",
              column="sector", name=str(ministries[k]), key="ministry")
    return ministry_sector.astype(np.int64)


def _enterprise_index(src: _Source, labels: pa.Array) -> pd.Index:
    """Unique, non-empty labels; ``0, 1, ..., E-1`` in order as a RangeIndex."""
    E = len(labels)
    if pa.types.is_integer(labels.type):
        values = labels.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        if np.array_equal(values, np.arange(E)):
            return pd.RangeIndex(E)
        index = pd.Index(values)
    else:
        empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(labels)), 0).to_numpy(zero_copy_only=False)
        if empty.any():
            _fail(src, _first(empty), "empty enterprise label", column="enterprise")
        if E and pc.all(pc.match_substring_regex(labels, _INTEGER_LABEL)).as_py():
            values = pc.cast(labels, pa.int64()).to_numpy(zero_copy_only=False)
            if np.array_equal(values, np.arange(E)):
                return pd.RangeIndex(E)
        index = pd.Index(labels.to_pandas(), dtype=object)
    if index.has_duplicates:
        k = _first(index.duplicated())
        first = _first(np.asarray(index == index[k]))
        _fail(src, k, f"enterprise {str(index[k])!r} appears twice (first on {src.where(first)}); "
              "enterprise labels are unique", column="enterprise", name=str(index[k]), key="enterprise")
    return index


def _positions_of(src: _Source, values: pa.Array, enterprises: pd.Index) -> np.ndarray:
    """Positions of enterprise labels (as read) in ``enterprises``; unknown ones are an error."""
    integer = isinstance(enterprises, pd.RangeIndex) or pd.api.types.is_integer_dtype(enterprises.dtype)
    if integer:
        if pa.types.is_integer(values.type):
            query = values.to_numpy(zero_copy_only=False)
        else:
            ok = pc.match_substring_regex(values, _INTEGER_LABEL).to_numpy(zero_copy_only=False)
            if not ok.all():
                k = _first(~ok)
                _unknown_enterprise(src, k, values[k].as_py())
            query = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
        pos = enterprises.get_indexer(pd.Index(query))
    else:
        pos = enterprises.get_indexer(pd.Index(pc.cast(values, pa.string()).to_pandas(), dtype=object))
    if (pos < 0).any():
        k = _first(pos < 0)
        _unknown_enterprise(src, k, values[k].as_py())
    return pos.astype(np.int64)


def _unknown_enterprise(src: _Source, row: int, label: Any) -> NoReturn:
    _fail(src, row, f"unknown enterprise {str(label)!r} (not in the enterprises table)",
          column="enterprise", name=str(label), key="enterprise", cls=UnknownProductError)


def _inputs(src: _Source, values: pa.Array, products: pd.Index, resources: Sequence[str], lookup: Callable) -> np.ndarray:
    """Input codes: product position ``i``, or ``n + r`` for resource ``r``."""
    n = len(products)
    encoded = pc.dictionary_encode(values)
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    unique = encoded.dictionary
    as_product = lookup().positions(unique) if len(unique) else np.zeros(0, dtype=np.int64)
    res = {name: r for r, name in enumerate(resources)}
    as_resource = np.array([res.get(v, -1) for v in unique.to_pylist()], dtype=np.int64)
    both = (as_product >= 0) & (as_resource >= 0)
    if both.any():
        k = _first(both)
        label = unique[k].as_py()
        _fail(src, _first(idx == k), f"input {label!r} is both a product and a resource: rename one",
              column="input", name=label)
    neither = (as_product < 0) & (as_resource < 0)
    if neither.any():
        k = _first(neither)
        label = unique[k].as_py()
        _fail(src, _first(idx == k), f"unknown input {label!r}: neither a product nor a resource "
              f"(resources: {', '.join(resources) or 'none'})", column="input", name=label, cls=UnknownProductError)
    lut = np.where(as_product >= 0, as_product, n + as_resource).astype(np.int64)
    return lut[idx]


def _nonnegative(
    src: _Source, values: np.ndarray, column: str, name: Callable[[int], str], *, key: str = "enterprise"
) -> None:
    ok = np.isfinite(values) & (values >= 0)
    if not ok.all():
        k = _first(~ok)
        _fail(src, k, f"{column} is {float(values[k])!r}; it must be finite and >= 0", column=column,
              name=name(k), key=key)


# ------------------------------------------------------------------------------------------ writing
def _first_appearance_is(codes: np.ndarray, size: int) -> bool:
    """Whether the distinct values of ``codes``, in order of first appearance, are 0..size-1."""
    if codes.size == 0:
        return size == 0
    seen = pd.unique(codes)
    return seen.size == size and bool((seen == np.arange(size)).all())


def _enterprise_labels(index: pd.Index, start: int, stop: int) -> pa.Array:
    if isinstance(index, pd.RangeIndex):
        return pa.array(np.asarray(index[start:stop], dtype=np.int64))
    if pd.api.types.is_integer_dtype(index.dtype):
        return pa.array(np.asarray(index[start:stop], dtype=np.int64))
    return _labels(index[start:stop])


def write_hierarchy_tables(economy: Any, path: str | Path) -> list[Path]:
    """Write ``economy.hierarchy`` into the economy directory ``path`` (already written).

    The tables take the directory's format and keys (``economy.toml``); hierarchy tables
    already there, in either format, are replaced (removed when the economy has no
    hierarchy). ``[hierarchy]`` in ``economy.toml`` gets the notes and, where needed, the
    order of the ministries, sectors and regions, so that
    :func:`gosplan.io.directory.read_directory` reads the same hierarchy back.
    :func:`~gosplan.io.directory.write_directory` calls this.

    Parameters
    ----------
    economy:
        The economy written in ``path`` (its products, resources and hierarchy).
    path:
        The economy directory.

    Returns
    -------
    list of Path
        The tables written.

    Raises
    ------
    InvalidEconomyError
        Sectors with a ministry that has no product (the table cannot say its sector), or
        own norms naming an input whose label is both a product and a resource.
    """
    import tomli_w

    directory = Path(path)
    doc = _load_toml(directory)
    fmt, keys = doc["tables"]["format"], doc["tables"]["keys"]
    for t in HIERARCHY_TABLES:
        for f in FORMATS:
            stale = directory / f"{t}.{f}"
            if stale.is_file():
                stale.unlink()
    h = economy.hierarchy
    section: dict[str, Any] = {}
    written: list[Path] = []
    if h is not None:
        section, written = _write_tables(h, economy, directory, fmt, keys)
    toml = directory / "economy.toml"
    if "hierarchy" in doc:
        doc.pop("hierarchy")
        if section:
            doc["hierarchy"] = section
        toml.write_text(tomli_w.dumps(doc), encoding="utf-8")
    elif section:
        text = toml.read_text(encoding="utf-8")
        toml.write_text(text.rstrip("\n") + "\n\n" + tomli_w.dumps({"hierarchy": section}), encoding="utf-8")
    return written


def _write_tables(h: Hierarchy, economy: Any, directory: Path, fmt: str, keys: str) -> tuple[dict, list[Path]]:
    n, M, E = h.n_products, h.n_ministries, h.n_enterprises
    labels = _labels(h.products)
    ministry_names = _labels(h.ministries)
    sector_names = _labels(h.sectors) if h.sectors is not None else None
    region_names = _labels(h.regions) if h.regions is not None else None
    resources = [str(r) for r in economy.resources]
    has_norms = h.norms is not None and h.norms.enterprise.size > 0
    if has_norms:
        clash = set(resources) & set(labels.to_pylist())
        if clash:
            raise InvalidEconomyError(
                f"{min(clash)!r} is both a product and a resource: the norms table could not tell them apart"
            )
    ent_text = not (isinstance(h.enterprises, pd.RangeIndex) or pd.api.types.is_integer_dtype(h.enterprises.dtype))
    quote = needs_quotes(labels, ministry_names, *(x for x in (sector_names, region_names) if x is not None))
    if ent_text and E:
        quote = quote or needs_quotes(_labels(h.enterprises))
    kt = key_type(keys)

    def keyed(positions: np.ndarray) -> pa.Array:
        positions = np.asarray(positions, dtype=np.int32)
        return pa.array(positions) if keys == "position" else labels.take(pa.array(positions))

    section: dict[str, Any] = {}
    if h.notes:
        section["notes"] = list(h.notes)
    written: list[Path] = []

    # ministries
    fields = [("product", kt), ("ministry", pa.string())]
    columns: dict[str, Any] = {"product": keyed(np.arange(n)), "ministry": ministry_names.take(pa.array(h.product_ministry))}
    if not _first_appearance_is(h.product_ministry, M):
        section["ministries"] = ministry_names.to_pylist()
    if h.sectors is not None:
        assert h.ministry_sector is not None and sector_names is not None
        counts = np.bincount(h.product_ministry, minlength=M)
        if (counts == 0).any():
            k = _first(counts == 0)
            raise InvalidEconomyError(
                f"ministry {h.ministries[k]!r} has no product: the ministries table cannot give its sector"
            )
        row_sector = h.ministry_sector[h.product_ministry]
        fields.append(("sector", pa.string()))
        columns["sector"] = sector_names.take(pa.array(row_sector))
        if not _first_appearance_is(row_sector, len(h.sectors)):
            section["sectors"] = sector_names.to_pylist()
    for what, names, of_row in (
        ("ministry", h.ministry_names, h.product_ministry),
        ("sector", h.sector_names, None if h.ministry_sector is None else h.ministry_sector[h.product_ministry]),
    ):
        if names is not None and of_row is not None:
            fields.append((f"{what}_name", pa.string()))
            columns[f"{what}_name"] = pa.array(names.to_numpy(dtype=object, na_value=None), pa.string()).take(
                pa.array(of_row))
            quote = quote or needs_quotes(columns[f"{what}_name"].drop_null())
    written.append(_write(directory / f"ministries.{fmt}", fmt, fields, [columns], quote))
    if E == 0 and h.regions is None:
        return section, written

    # enterprises
    fields = [
        ("enterprise", pa.string() if ent_text else pa.int64()), ("product", kt), ("capacity", pa.float64()),
        ("input_factor", pa.float64()), ("labour_factor", pa.float64()),
    ]
    if h.regions is not None:
        fields.append(("region", pa.string()))
        assert h.enterprise_region is not None and region_names is not None
        if not _first_appearance_is(h.enterprise_region, len(h.regions)):
            section["regions"] = region_names.to_pylist()

    def chunks():
        for a in range(0, max(E, 1), _CHUNK):
            b = min(a + _CHUNK, E)
            cols = {
                "enterprise": _enterprise_labels(h.enterprises, a, b),
                "product": keyed(h.enterprise_product[a:b]),
                "capacity": h.capacity[a:b],
                "input_factor": h.input_factor[a:b],  # type: ignore[index]
                "labour_factor": h.labour_factor[a:b],  # type: ignore[index]
            }
            if h.regions is not None:
                cols["region"] = region_names.take(pa.array(h.enterprise_region[a:b].astype(np.int32)))  # type: ignore[union-attr,index]
            yield cols

    written.append(_write(directory / f"enterprises.{fmt}", fmt, fields, chunks(), quote))

    # norms: by enterprise, products then resources; an enterprise with empty norms gets a
    # zero row for its own product (it still has own norms)
    if has_norms:
        assert h.norms is not None
        own, N, Q = h.norms.enterprise, sp.csr_array(h.norms.inputs), sp.csr_array(h.norms.primary)
        rows = np.concatenate([np.repeat(np.arange(own.size), np.diff(N.indptr)),
                               np.repeat(np.arange(own.size), np.diff(Q.indptr))])
        codes = np.concatenate([N.indices.astype(np.int64), n + Q.indices.astype(np.int64)])
        coef = np.concatenate([N.data, Q.data])
        empty = np.flatnonzero((np.diff(N.indptr) == 0) & (np.diff(Q.indptr) == 0))
        rows = np.concatenate([rows, empty])
        codes = np.concatenate([codes, h.enterprise_product[own[empty]]])
        coef = np.concatenate([coef, np.zeros(empty.size)])
        order = np.lexsort((codes, rows))
        rows, codes, coef = rows[order], codes[order], coef[order]
        input_names = pa.concat_arrays([labels, pa.array(resources, type=pa.string())])
        ent_field = ("enterprise", pa.string() if ent_text else pa.int64())

        def norm_chunks():
            for a in range(0, max(rows.size, 1), _CHUNK):
                b = min(a + _CHUNK, rows.size)
                yield {
                    "enterprise": _enterprise_take(h.enterprises, own[rows[a:b]]),
                    "input": input_names.take(pa.array(codes[a:b])),
                    "coefficient": coef[a:b],
                }

        written.append(_write(directory / f"norms.{fmt}", fmt,
                              [ent_field, ("input", pa.string()), ("coefficient", pa.float64())],
                              norm_chunks(), quote or needs_quotes(pa.array(resources, type=pa.string()))))

    # distances: every ordered pair of different regions, and the diagonal where not 0
    if h.distances is not None:
        assert region_names is not None
        R = len(h.regions)  # type: ignore[arg-type]
        a, b = np.meshgrid(np.arange(R), np.arange(R), indexing="ij")
        keep = (a != b) | (h.distances != 0)
        a, b = a[keep].astype(np.int32), b[keep].astype(np.int32)
        written.append(_write(
            directory / f"distances.{fmt}", fmt,
            [("from_region", pa.string()), ("to_region", pa.string()), ("distance", pa.float64())],
            [{"from_region": region_names.take(pa.array(a)), "to_region": region_names.take(pa.array(b)),
              "distance": h.distances[keep]}],
            quote,
        ))
    return section, written


def _enterprise_take(index: pd.Index, positions: np.ndarray) -> pa.Array:
    if isinstance(index, pd.RangeIndex):
        return pa.array(index.start + index.step * positions.astype(np.int64))
    if pd.api.types.is_integer_dtype(index.dtype):
        return pa.array(np.asarray(index, dtype=np.int64)[positions])
    return _labels(index[positions])


def _write(path: Path, fmt: str, fields: list, chunks: Any, quote: bool) -> Path:
    sink = TableSink(path, fmt, pa.schema(fields), quote=quote)
    try:
        for columns in chunks:
            sink.write(columns)
    finally:
        sink.close()
    return path

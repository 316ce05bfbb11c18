"""Multi-year tables in gosplan's economy directory (``docs/economy-format.md``, "Multi-year tables").

An economy directory (``economy.toml``, ``products``, ``technology``, ...) becomes a
:class:`~gosplan.model.horizon.Horizon` with four more tables, each ``NAME.csv`` or
``NAME.parquet`` in the directory's format:

* ``horizon`` (required): ``year``, ``labour``: one row per year, in order; it defines
  the years (labels, read as text) and the labour supply ``L``;
* ``capital`` (optional): ``product``, ``activity``, ``stock``: ``K[product, activity]``
  (``activity`` defaults to ``product`` when the column is absent);
* ``depreciation`` (required with ``capital``): ``product``, ``rate`` (one rate for every
  stock of that product) or ``product``, ``activity``, ``rate`` (one per stock); a stock
  without a rate is an error, a rate without a stock is ignored;
* ``targets`` (optional): ``year``, ``product``, ``target`` (long; a missing row means no
  target; a year that ``horizon`` lacks is an error: inconsistent horizons).

Product keys follow the directory's ``keys`` (labels or 0-based positions). The
base-year output ``x0`` is the products table's ``recorded_output`` (an error if
capital is given without it; without capital it defaults to 1 per activity, noted).
The horizon's notes are kept in a ``[horizon]`` section of ``economy.toml``. Square
economies only (one activity per product): the format has no place for a base output
per technique.

Errors name the file, the line (CSV) or row (Parquet), the column and the product, like
the economy's own tables (:mod:`gosplan.io.directory`, whose table readers these are).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from gosplan.errors import GosplanWarning, InvalidEconomyError, Location, TableFormatError
from gosplan.io.directory import (
    FORMATS,
    KEYS,
    TableSink,
    _check_finite,
    _duplicate_pairs,
    _fail,
    _find,
    _first,
    _Float,
    _Label,
    _LabelIndex,
    _load_toml,
    _Position,
    _read_table,
    _Text,
    key_type,
    needs_quotes,
    read_directory,
    write_directory,
)
from gosplan.model.horizon import Horizon

__all__ = [
    "read_horizon_directory",
    "write_horizon_directory",
    "HORIZON_TABLES",
    "is_horizon_directory",
]

#: The multi-year tables, beyond the economy's own.
HORIZON_TABLES: tuple[str, ...] = ("horizon", "capital", "depreciation", "targets")


def _bounded(
    src: Any, values: np.ndarray, column: str, name_of: Callable[[int], str], what: Callable[[int], str],
    *, upper: float | None = None, upper_why: str = "",
) -> None:
    """Finite values ``>= 0`` (and ``<= upper``), else an error naming the row: ``'<what> is negative'``."""
    _check_finite(src, values, column, name_of)
    checks = [(values < 0, "is negative")]
    if upper is not None:
        checks.append((values > upper, upper_why))
    for bad, why in checks:
        if bad.any():
            k = _first(bad)
            _fail(src, k, f"{what(k)} {why}", column=column, product=name_of(k))


def is_horizon_directory(path: str | Path) -> bool:
    """Whether ``path`` holds an economy directory with multi-year tables (any of
    :data:`HORIZON_TABLES`: a missing ``horizon`` table is then the reader's error)."""
    d = Path(path)
    return (d / "economy.toml").is_file() and any(
        (d / f"{t}.{f}").is_file() for t in HORIZON_TABLES for f in FORMATS
    )


def _square(economy: Any, what: str) -> None:
    if economy.make is not None:
        raise InvalidEconomyError(
            f"{what}: multi-year tables hold square economies (one activity per product); this one has "
            f"{economy.n_activities} activities for {economy.n_products} products"
        )


def _stored_notes(directory: Path) -> list[str]:
    section = _load_toml(directory).get("horizon", {})
    notes = section.get("notes", []) if isinstance(section, dict) else None
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(v, str) for v in notes):
        raise TableFormatError(
            "[horizon] notes must be a string or a list of strings",
            Location(file=directory / "economy.toml"),
        )
    return notes


def read_horizon_directory(path: str | Path) -> Horizon:
    """Read an economy directory with multi-year tables into a :class:`Horizon`.

    Parameters
    ----------
    path:
        The directory: ``economy.toml``, the economy's tables (see
        :func:`gosplan.io.directory.read_directory`) and ``horizon``, ``capital``,
        ``depreciation``, ``targets`` (see the module).

    Raises
    ------
    TableFormatError
        A missing ``horizon`` table (or ``depreciation`` with ``capital``), a missing
        column, a bad, negative or non-finite number, a rate above 1, a repeated year or
        pair, a stock without a rate, capital without ``recorded_output``, a target for a
        year ``horizon`` lacks.
    UnknownProductError
        A product or activity the products table lacks.
    """
    directory = Path(path)
    economy = read_directory(directory)
    _square(economy, str(directory))
    toml = _load_toml(directory)
    fmt, keys = toml["tables"]["format"], toml["tables"]["keys"]
    notes = _stored_notes(directory)
    n = economy.n_products
    labels = pa.array([str(p) for p in economy.products], type=pa.string())
    lookups: list[_LabelIndex] = []

    def key() -> Any:
        if keys == "position":
            return _Position(n, labels)
        if not lookups:
            lookups.append(_LabelIndex(labels, pd.Index(labels.to_pylist(), dtype=object)))
        return _Label(lookups[0])

    def label(k: int) -> str:
        return str(economy.products[int(k)])

    # horizon: the years and the labour supply
    src = _find(directory, "horizon", fmt, True)
    assert src is not None
    cols = _read_table(src, {"year": _Text(), "labour": _Float()}, ["year", "labour"])
    years = [str(v) for v in cols["year"].to_pylist()]
    supply = cols["labour"]
    if not years:
        _fail(src, None, "no years: the horizon table needs one row per year")
    seen: dict[str, int] = {}
    for t, y in enumerate(years):
        if not y.strip():
            _fail(src, t, "empty year label", column="year")
        if y in seen:
            _fail(
                src,
                t,
                f"year {y!r} appears twice (first on {src.where(seen[y])})",
                column="year",
                product=y,
            )
        seen[y] = t
    _bounded(src, supply, "labour", lambda t: years[t], lambda t: f"labour supply {supply[t]:g} in year {years[t]!r}")
    T = len(years)

    # capital
    cap_src = _find(directory, "capital", fmt, False)
    K = sp.csr_array((n, n))
    cap_rows: dict[tuple[int, int], int] = {}
    if cap_src is not None:
        cap = _read_table(
            cap_src, {"product": key(), "activity": key(), "stock": _Float()}, ["product", "stock"]
        )
        prod, stock = cap["product"], cap["stock"]
        act = cap.get("activity", prod)
        _bounded(cap_src, stock, "stock", lambda k: label(prod[k]), lambda k: f"stock {stock[k]:g}")
        _duplicate_pairs(
            cap_src,
            prod,
            act,
            n,
            "(product, activity) pair",
            lambda k: (label(prod[k]), label(act[k])),
        )
        K = sp.csr_array(sp.coo_array((stock, (prod, act)), shape=(n, n)))
        K.eliminate_zeros()
        cap_rows = {(int(i), int(j)): r for r, (i, j) in enumerate(zip(prod, act)) if stock[r] != 0}

    x0 = economy.recorded_output
    if x0 is None:
        if K.nnz:
            products_src = _find(directory, "products", fmt, True)
            assert products_src is not None
            raise TableFormatError(
                "capital stocks refer to the base-year output, which the products table lacks "
                "(column recorded_output)",
                Location(file=str(products_src.path), column="recorded_output"),
            )
        x0 = np.ones(n)
        note = "no recorded output and no capital: base-year output set to 1 per activity (it only scales capital)"
        if note not in notes:
            notes.append(note)

    # depreciation
    dep_src = _find(directory, "depreciation", fmt, bool(K.nnz))
    D = sp.csr_array((n, n))
    if dep_src is not None:
        dep = _read_table(
            dep_src, {"product": key(), "activity": key(), "rate": _Float()}, ["product", "rate"]
        )
        dprod, rate = dep["product"], dep["rate"]
        _bounded(
            dep_src, rate, "rate", lambda k: label(dprod[k]), lambda k: f"depreciation rate {rate[k]:g}",
            upper=1.0, upper_why="is above 1 (more than the whole stock cannot wear out in a year)",
        )
        if "activity" in dep:
            dact = dep["activity"]
            _duplicate_pairs(
                dep_src,
                dprod,
                dact,
                n,
                "(product, activity) pair",
                lambda k: (label(dprod[k]), label(dact[k])),
            )
            given = set(zip(dprod.tolist(), dact.tolist()))
            D = sp.csr_array(sp.coo_array((rate, (dprod, dact)), shape=(n, n)))
            missing = [(i, j) for (i, j) in cap_rows if (i, j) not in given]
            extra = len(given - set(cap_rows))
            if extra:
                note = f"{dep_src.path.name}: {extra} rate(s) of stocks that the capital table lacks, ignored"
                if note not in notes:
                    notes.append(note)
        else:
            per_product = np.full(n, np.nan)
            order = np.argsort(dprod, kind="stable")
            dup = np.flatnonzero(dprod[order][1:] == dprod[order][:-1])
            if dup.size:
                first, k = int(order[dup[0]]), int(order[dup[0] + 1])
                _fail(
                    dep_src,
                    k,
                    f"product {label(dprod[k])!r} has a second rate (first on {dep_src.where(first)})",
                    column="product",
                    product=label(dprod[k]),
                )
            per_product[dprod] = rate
            i, j = K.nonzero()
            missing = [(int(a), int(b)) for a, b in zip(i, j) if np.isnan(per_product[a])]
            vals = per_product[i]
            D = sp.csr_array((np.nan_to_num(vals), (i, j)), shape=(n, n))
        if missing:
            a, b = min(missing, key=lambda ij: cap_rows[ij])
            assert cap_src is not None
            _fail(
                dep_src,
                None,
                f"no depreciation rate for the stock of {label(a)!r} held by {label(b)!r} "
                f"({cap_src.path.name}, {cap_src.where(cap_rows[(a, b)])})"
                + (f" and {len(missing) - 1} other stock(s)" if len(missing) > 1 else ""),
                product=label(a),
            )

    # targets
    targets = np.zeros((n, T))
    tgt_src = _find(directory, "targets", fmt, False)
    if tgt_src is not None:
        tg = _read_table(
            tgt_src,
            {"year": _Text(), "product": key(), "target": _Float()},
            ["year", "product", "target"],
        )
        ty = [str(v) for v in tg["year"].to_pylist()]
        tprod, value = tg["product"], tg["target"]
        t_idx = pd.Index(years, dtype=object).get_indexer(pd.Index(ty, dtype=object))
        if (t_idx < 0).any():
            k = _first(t_idx < 0)
            _fail(
                tgt_src,
                k,
                f"inconsistent horizons: year {ty[k]!r} is not a year of {src.path.name} "
                f"({', '.join(years[:6])}{' ...' if T > 6 else ''})",
                column="year",
                product=label(tprod[k]),
            )
        _bounded(tgt_src, value, "target", lambda k: label(tprod[k]), lambda k: f"target {value[k]:g}")
        _duplicate_pairs(
            tgt_src, t_idx, tprod, n, "(year, product) pair", lambda k: (ty[k], label(tprod[k]))
        )
        targets[tprod, t_idx] = value

    return Horizon(
        economy=economy,
        capital=K,
        depreciation=D,
        base_output=x0,
        years=pd.Index(years, dtype=object),
        labour_supply=supply,
        targets=targets,
        notes=tuple(notes),
    )


def write_horizon_directory(
    horizon: Horizon,
    path: str | Path,
    *,
    format: str = "csv",
    keys: str = "label",
    overwrite: bool = False,
) -> Path:
    """Write ``horizon`` as an economy directory with multi-year tables.

    The economy goes through :func:`gosplan.io.directory.write_directory` (its
    ``recorded_output`` is the base-year output ``x0``: a differing recorded output is
    replaced, with a :class:`~gosplan.errors.GosplanWarning`), then ``horizon``,
    ``capital``, ``depreciation`` (one rate per stock) and ``targets`` (nonzero targets)
    in the same format, and the notes in ``[horizon]`` of ``economy.toml``.
    :func:`read_horizon_directory` reads it back exactly.

    Parameters
    ----------
    format:
        ``"csv"`` or ``"parquet"``.
    keys:
        ``"label"`` or ``"position"`` (0-based rows of the products table), for every table.
    overwrite:
        Replace an economy or multi-year tables already in ``path``.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if keys not in KEYS:
        raise ValueError(f"keys must be one of {KEYS}, got {keys!r}")
    eco = horizon.economy
    _square(eco, "write_horizon_directory")
    x0 = horizon.base_output
    rec = eco.recorded_output
    default = rec is None and horizon.capital.nnz == 0 and bool((x0 == 1).all())
    if not default and (rec is None or not np.array_equal(rec, x0)):
        if rec is not None:
            warnings.warn(
                "the products table's recorded_output is written as the horizon's base-year output, "
                "which differs from the economy's recorded output",
                GosplanWarning,
                stacklevel=2,
            )
        eco = replace(eco, recorded_output=x0)
    directory = Path(path)
    present = [
        directory / f"{t}.{f}"
        for t in HORIZON_TABLES
        for f in FORMATS
        if (directory / f"{t}.{f}").exists()
    ]
    if present and not overwrite:
        raise FileExistsError(
            f"{directory} already holds multi-year tables ({present[0].name}); pass overwrite=True to replace them"
        )
    write_directory(eco, directory, format=format, keys=keys, overwrite=overwrite)  # type: ignore[arg-type]
    for p in present:
        p.unlink()

    labels = pa.array([str(p) for p in eco.products], type=pa.string())
    years = pa.array([str(y) for y in horizon.years], type=pa.string())
    quote = needs_quotes(labels, years)
    kt = key_type(keys)

    def keyed(positions: np.ndarray) -> pa.Array:
        positions = np.asarray(positions, dtype=np.int32)
        return pa.array(positions) if keys == "position" else labels.take(pa.array(positions))

    def write(name: str, fields: list[tuple[str, pa.DataType]], columns: dict[str, Any]) -> None:
        sink = TableSink(directory / f"{name}.{format}", format, pa.schema(fields), quote=quote)
        sink.write(columns)
        sink.close()

    write(
        "horizon",
        [("year", pa.string()), ("labour", pa.float64())],
        {"year": years, "labour": horizon.labour_supply},
    )
    K = sp.coo_array(horizon.capital)
    order = np.lexsort((K.col, K.row))
    rows, cols = K.row[order], K.col[order]
    rate = np.asarray(horizon.depreciation[rows, cols]).ravel() if K.nnz else np.zeros(0)
    write(
        "capital",
        [("product", kt), ("activity", kt), ("stock", pa.float64())],
        {"product": keyed(rows), "activity": keyed(cols), "stock": K.data[order]},
    )
    write(
        "depreciation",
        [("product", kt), ("activity", kt), ("rate", pa.float64())],
        {"product": keyed(rows), "activity": keyed(cols), "rate": rate},
    )
    t_rows, t_cols = np.nonzero(horizon.targets.T)  # by year, then product
    write(
        "targets",
        [("year", pa.string()), ("product", kt), ("target", pa.float64())],
        {
            "year": years.take(pa.array(t_rows.astype(np.int32))),
            "product": keyed(t_cols),
            "target": horizon.targets[t_cols, t_rows],
        },
    )
    if horizon.notes:
        import tomli_w

        toml = directory / "economy.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(
            text.rstrip("\n") + "\n\n" + tomli_w.dumps({"horizon": {"notes": list(horizon.notes)}}),
            encoding="utf-8",
        )
    return directory

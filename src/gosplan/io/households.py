"""Household groups as data: the ``households`` and ``preferences`` tables, and where
:class:`~gosplan.model.households.Households` come from.

Two tables (``docs/economy-format.md``, "Households"), each ``NAME.csv`` or ``NAME.parquet``:

* ``households``: ``household`` (label), ``population`` (> 0), optional ``budget`` (>= 0, in
  the economy's money units; complete when the column is there; without it each group is paid
  its population share of the labour the plan uses) and ``elasticity`` (``sigma_h > 0``,
  default 1: Cobb--Douglas);
* ``preferences``: ``household``, ``product`` (a product label of the economy), ``weight``
  (finite, >= 0; each group's weights are normalised to sum to 1).

The consumer goods are the products some group names with a positive weight, in the economy's
product order. Errors name the file, the line (CSV, 1-based as an editor shows it, header =
line 1; Parquet: the 1-based row), the column and the value.

:func:`load_households` is the one entry point: explicit files, else the tables in the
economy's directory, else the economy's own household final demand
(:func:`default_households`; :func:`synth_households <gosplan.synth.households.synth_households>`
with ``groups > 1``). Which final-demand categories are households' is decided in one place,
:func:`is_household_category` (:data:`HOUSEHOLD_CATEGORIES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location, TableFormatError
from gosplan.io.directory import (
    FORMATS,
    _csv_header,
    _duplicate_pairs,
    _first,
    _Float,
    _Label,
    _LabelIndex,
    _read_table,
    _Source,
    _Text,
)
from gosplan.model.economy import Economy
from gosplan.model.households import Households

__all__ = [
    "HOUSEHOLD_CATEGORIES",
    "HOUSEHOLD_TABLES",
    "DEFAULT_GROUP",
    "is_household_category",
    "household_categories",
    "household_demand",
    "default_households",
    "read_households",
    "write_households",
    "find_household_tables",
    "load_households",
]

#: The two tables, in the order of :func:`read_households`'s arguments.
HOUSEHOLD_TABLES = ("households", "preferences")

#: Label of the one group of :func:`default_households` (``"REGION:households"`` per region).
DEFAULT_GROUP = "households"

#: Final-demand category labels that are households' consumption, compared case-insensitively
#: after dropping a ``"REGION:"`` prefix (multi-regional tables: one column per region):
#:
#: * ``F01000`` (BEA detail), ``F010`` (BEA summary): personal consumption expenditures;
#: * ``Personal consumption expenditures``: the BEA's own name of that column;
#: * ``CONS_h`` (WIOD): final consumption expenditure by households;
#: * ``Final consumption expenditure by households`` (pymrio, EXIOBASE);
#: * ``Households`` (UK ONS analytical tables; gosplan's synthetic economies);
#: * ``HFCE`` (OECD ICIO), ``P3_S14`` / ``P.3 S.14`` (ESA/SNA code of households' final
#:   consumption, Eurostat and FIGARO tables).
#:
#: Non-profit institutions serving households (``CONS_np``, ``NPISH``) are not households.
HOUSEHOLD_CATEGORIES: tuple[str, ...] = (
    "F01000",
    "F010",
    "Personal consumption expenditures",
    "CONS_h",
    "Final consumption expenditure by households",
    "Households",
    "HFCE",
    "P3_S14",
    "P.3 S.14",
)
_RECOGNISED = frozenset(c.casefold() for c in HOUSEHOLD_CATEGORIES)


# ------------------------------------------------------------------------------ categories
def is_household_category(label: Any) -> bool:
    """Whether a final-demand category label is households' consumption
    (:data:`HOUSEHOLD_CATEGORIES`, after a ``"REGION:"`` prefix)."""
    text = str(label).strip()
    tail = text.rsplit(":", 1)[-1].strip()
    return tail.casefold() in _RECOGNISED or text.casefold() in _RECOGNISED


def household_categories(economy: Economy) -> list[int]:
    """Positions of the economy's household final-demand categories (several in a
    multi-regional table, one per region; none when no label is recognised)."""
    return [k for k, c in enumerate(economy.categories) if is_household_category(c)]


def household_demand(economy: Economy) -> np.ndarray | None:
    """Households' final demand by product (``n``), the household columns of ``Y`` summed
    (negative entries kept, so that ``economy.y - household_demand(economy)`` is the rest of
    final demand), or ``None`` when no category is recognised."""
    cols = household_categories(economy)
    if not cols:
        return None
    return np.asarray(economy.demand[:, cols], dtype=np.float64).sum(axis=1)


def _no_category(economy: Economy) -> InvalidEconomyError:
    cats = [str(c) for c in economy.categories]
    shown = ", ".join(repr(c) for c in cats[:12]) + (f", ... ({len(cats)} in all)" if len(cats) > 12 else "")
    return InvalidEconomyError(
        f"economy {economy.meta.name!r} has no household final-demand category among its categories "
        f"[{shown}] (recognised: {', '.join(HOUSEHOLD_CATEGORIES)}), so there are no default households: "
        "give households and preferences tables (--households FILE --preferences FILE)"
    )


def _region(label: str) -> str | None:
    return label.rsplit(":", 1)[0] if ":" in label else None


def _known_population(economy: Economy, directory: Path | None) -> dict[str, float]:
    """``{region or "": people}`` where the dataset has a population table (pymrio's
    ``population.csv``: one row, one column per region), else empty."""
    folders: list[Path] = []
    if directory is not None:
        folders.append(Path(directory))
    try:
        from gosplan.datasets import _registry, dataset_path

        if economy.meta.name in _registry():
            folders.append(dataset_path(economy.meta.name))
    except Exception:  # pragma: no cover - the registry is part of gosplan
        pass
    for folder in folders:
        for name in ("population.csv", "population.csv.gz", "population.txt", "population.txt.gz"):
            path = folder / name
            if path.is_file():
                from gosplan.io.tables import read_table

                frame = read_table(path, index_cols=1, header_rows=1)
                if len(frame) == 1:
                    row = frame.iloc[0]
                    return {str(k): float(v) for k, v in row.items() if np.isfinite(v) and v > 0}
    return {}


def default_households(economy: Economy, *, directory: str | Path | None = None) -> Households:
    """The economy's own households: one Cobb--Douglas group per household column of ``Y``.

    Consumer goods are the products with positive household final demand; each group's
    weights are its column's shares of that demand (negative entries dropped), its budget the
    column's positive total (the economy's money units), its population 1 unless the dataset
    has a population table (pymrio's ``population.csv``, one column per region). One column:
    group ``"households"``; several (multi-regional tables): ``"REGION:households"``.

    Raises
    ------
    InvalidEconomyError
        No category is recognised (:data:`HOUSEHOLD_CATEGORIES`; the message lists the
        economy's categories), or households buy nothing.
    """
    cols = household_categories(economy)
    if not cols:
        raise _no_category(economy)
    Y = np.maximum(np.asarray(economy.demand[:, cols], dtype=np.float64), 0.0)  # n x R
    bought = np.flatnonzero((Y > 0).any(axis=1))
    if bought.size == 0:
        raise InvalidEconomyError(
            f"economy {economy.meta.name!r}: the household final demand "
            f"({', '.join(repr(str(economy.categories[c])) for c in cols)}) has no positive entry"
        )
    Yg = Y[bought]
    budget = Yg.sum(axis=0)
    keep = budget > 0
    labels = [str(economy.categories[c]) for c in cols]
    regions = [_region(lab) for lab in labels]
    if len(cols) == 1:
        groups = [DEFAULT_GROUP if regions[0] is None else f"{regions[0]}:{DEFAULT_GROUP}"]
    else:
        groups = [f"{r if r is not None else lab}:{DEFAULT_GROUP}" for r, lab in zip(regions, labels)]
        if len(set(groups)) != len(groups):
            groups = labels
    people = _known_population(economy, None if directory is None else Path(directory))
    population = np.array([people.get(r if r is not None else "", 1.0) for r in regions])
    W = sp.csr_array(Yg[:, keep].T)
    return Households(
        groups=pd.Index(np.asarray(groups, dtype=object)[keep], dtype=object),
        population=population[keep],
        budget=budget[keep],
        elasticity=np.ones(int(keep.sum())),
        goods=economy.products[bought],
        weights=W,
        source=f"default: household final demand of {economy.meta.name!r} ({', '.join(labels)})",
    )


# ------------------------------------------------------------------------------------ reading
def _source(path: str | Path) -> _Source:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        kind = "parquet"
    elif suffix == ".csv":
        kind = "csv"
    else:
        raise TableFormatError(
            f"unknown table format {path.suffix!r}: household tables are .csv or .parquet",
            Location(file=str(path)),
        )
    if not path.is_file():
        raise TableFormatError("no such file", Location(file=str(path)))
    return _Source(path, kind)


def _fail(
    src: _Source, row: int | None, message: str, *, column: str | None = None, name: str | None = None,
    key: str = "household", cls: type[InvalidEconomyError] = TableFormatError,
) -> NoReturn:
    loc = src.location(row, column, name)
    raise cls(src.prefix(row) + message, Location(loc.file, loc.line, loc.column, loc.product, key))


def _columns(src: _Source, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
    """Check the header (line 1 of a CSV); the columns the table has."""
    if src.kind == "csv":
        header = [h.strip() for h in _csv_header(src)]
    else:
        import pyarrow.parquet as pq

        try:
            header = list(pq.ParquetFile(src.path).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            _fail(src, None, f"cannot read as Parquet: {exc}")
    line = 1 if src.kind == "csv" else None
    where = Location(file=str(src.path), line=line)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TableFormatError(f"duplicate column {name!r}", Location(where.file, where.line, name))
        seen.add(name)
    missing = [c for c in required if c not in seen]
    if missing:
        raise TableFormatError(
            f"missing column {missing[0]!r} (the table has columns {header}; it needs {list(required)}"
            + (f", optionally {list(optional)}" if optional else "") + ")",
            Location(where.file, where.line, missing[0]),
        )
    unknown = [c for c in header if c not in required + optional]
    if unknown:
        raise TableFormatError(
            f"unknown column {unknown[0]!r} (known: {list(required + optional)})",
            Location(where.file, where.line, unknown[0]),
        )
    return header


def _labels_of(src: _Source, arr: pa.Array, column: str) -> pa.Array:
    arr = arr.cast(pa.string()) if arr.type != pa.string() else arr
    stripped = pc.utf8_trim_whitespace(arr)
    empty = pc.equal(pc.utf8_length(stripped), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        _fail(src, _first(empty), f"empty label in column {column!r}", column=column)
    return stripped


def _finite(src: _Source, values: np.ndarray, column: str, labels: pa.Array, *, positive: bool) -> None:
    bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
    if bad.any():
        k = _first(bad)
        rule = "finite and > 0" if positive else "finite and >= 0"
        _fail(src, k, f"{column} {float(values[k])!r} must be {rule}", column=column, name=labels[k].as_py())


def read_households(
    households_path: str | Path, preferences_path: str | Path, economy: Economy
) -> Households:
    """Read the ``households`` and ``preferences`` tables (CSV or Parquet) of ``economy``.

    Returns
    -------
    Households
        Groups in the order of the households table; consumer goods the products named with a
        positive weight, in the economy's product order; ``budget`` ``None`` when the table has
        no budget column.

    Raises
    ------
    TableFormatError
        A missing file or column, an unknown column, text or an empty cell in a numeric column,
        an empty or repeated household label, a repeated (household, product) pair, a population
        or elasticity that is not > 0, a budget or weight that is negative or not finite, a group
        whose weights sum to zero.
    InvalidEconomyError
        A preference of a household the households table lacks.
    UnknownProductError
        A preference for a product the economy lacks.

    Every message names the file, the line (CSV; header = line 1) or row (Parquet), the column
    and the household or product.
    """
    hsrc, psrc = _source(households_path), _source(preferences_path)
    _columns(hsrc, ("household", "population"), ("budget", "elasticity"))
    cols = _read_table(
        hsrc, {"household": _Text(), "population": _Float(), "budget": _Float(), "elasticity": _Float()},
        ["household", "population"],
    )
    names = _labels_of(hsrc, cols["household"], "household")
    H = len(names)
    if H == 0:
        _fail(hsrc, None, "no household groups (the table has no rows)")
    groups = pd.Index(names.to_pandas(), dtype=object)
    if groups.has_duplicates:
        k = _first(groups.duplicated())
        first = _first(np.asarray(groups == groups[k]))
        _fail(hsrc, k, f"duplicate household {groups[k]!r} (first on {hsrc.where(first)})",
              column="household", name=str(groups[k]))
    population = cols["population"]
    _finite(hsrc, population, "population", names, positive=True)
    budget = cols.get("budget")
    if budget is not None:
        _finite(hsrc, budget, "budget", names, positive=False)
    elasticity = cols.get("elasticity")
    if elasticity is None:
        elasticity = np.ones(H)
    else:
        _finite(hsrc, elasticity, "elasticity", names, positive=True)

    _columns(psrc, ("household", "product", "weight"), ())
    products = economy.products
    labels = pa.array(np.asarray(products.astype(str)), type=pa.string())
    lookup = _LabelIndex(labels, pd.Index(np.asarray(products.astype(str)), dtype=object))
    pcols = _read_table(
        psrc, {"household": _Text(), "product": _Label(lookup), "weight": _Float()},
        ["household", "product", "weight"],
    )
    who = _labels_of(psrc, pcols["household"], "household")
    h = pc.fill_null(pc.index_in(who, value_set=names), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    unknown = h < 0
    if unknown.any():
        k = _first(unknown)
        _fail(psrc, k, f"unknown household {who[k].as_py()!r}: {hsrc.path.name} has no such group",
              column="household", name=who[k].as_py(), cls=InvalidEconomyError)
    j = pcols["product"].astype(np.int64)
    weight = pcols["weight"]
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        k = _first(bad)
        _fail(psrc, k, f"weight {float(weight[k])!r} of product {str(products[j[k]])!r} must be finite and >= 0",
              column="weight", name=who[k].as_py())
    n = len(products)
    _duplicate_pairs(psrc, h, j, n, "(household, product) pair",
                     lambda k: (str(groups[h[k]]), str(products[j[k]])))
    sums = np.bincount(h, weights=weight, minlength=H)
    zero = sums <= 0
    if zero.any():
        g = _first(zero)
        rows = np.flatnonzero(h == g)
        if rows.size:
            _fail(psrc, int(rows[0]), f"the weights of household {groups[g]!r} sum to zero "
                  f"({rows.size} row(s), every weight 0): a group must buy something",
                  column="weight", name=str(groups[g]))
        _fail(hsrc, g, f"household {groups[g]!r} has no preferences in {psrc.path.name}: a group must "
              "buy something", column="household", name=str(groups[g]))
    pos = weight > 0
    h, j, weight = h[pos], j[pos], weight[pos]
    goods_pos = np.unique(j)
    W = sp.csr_array(sp.coo_array((weight, (h, np.searchsorted(goods_pos, j))), shape=(H, goods_pos.size)))
    return Households(
        groups=groups,
        population=population,
        budget=budget,
        elasticity=elasticity,
        goods=products[goods_pos],
        weights=W,
        source=f"{hsrc.path} and {psrc.path}",
    )


# ------------------------------------------------------------------------------------ writing
def write_households(
    households: Households, directory: str | Path, *, format: str = "csv"
) -> tuple[Path, Path]:
    """Write ``households.<format>`` and ``preferences.<format>`` into ``directory``
    (replacing household tables there in either format); :func:`read_households` reads them
    back. Preferences are written group by group, goods in the order of ``households.goods``
    (columnar, no sort: 10^6 rows in about a second)."""
    from gosplan.io.directory import TableSink, needs_quotes

    if format not in FORMATS:
        raise InvalidEconomyError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for t in HOUSEHOLD_TABLES:
        for f in FORMATS:
            stale = directory / f"{t}.{f}"
            if stale.is_file():
                stale.unlink()
    groups = pa.array(np.asarray(households.groups.astype(str)), type=pa.string())
    goods = pa.array(np.asarray(households.goods.astype(str)), type=pa.string())
    quote = needs_quotes(groups, goods)
    fields: list[tuple[str, pa.DataType]] = [("household", pa.string()), ("population", pa.float64())]
    columns: dict[str, Any] = {"household": groups, "population": households.population}
    if households.budget is not None:
        fields.append(("budget", pa.float64()))
        columns["budget"] = households.budget
    fields.append(("elasticity", pa.float64()))
    columns["elasticity"] = households.elasticity
    paths = (directory / f"households.{format}", directory / f"preferences.{format}")
    sink = TableSink(paths[0], format, pa.schema(fields), quote=quote)
    sink.write(columns)
    sink.close()
    W = households.weights
    rows = np.repeat(np.arange(households.H, dtype=np.int32), np.diff(W.indptr))
    sink = TableSink(
        paths[1], format, pa.schema([("household", pa.string()), ("product", pa.string()), ("weight", pa.float64())]),
        quote=quote,
    )
    step = 1 << 22
    for start in range(0, max(W.nnz, 1), step):
        stop = min(start + step, W.nnz)
        sink.write({
            "household": groups.take(pa.array(rows[start:stop])),
            "product": goods.take(pa.array(W.indices[start:stop])),
            "weight": W.data[start:stop],
        })
    sink.close()
    return paths


# ---------------------------------------------------------------------------------- finding
def find_household_tables(directory: str | Path) -> tuple[Path, Path] | None:
    """``(households, preferences)`` files of an economy directory (``.csv`` or
    ``.parquet``), or ``None`` when it has neither; one without the other is an error."""
    directory = Path(directory)
    found: list[Path | None] = []
    for t in HOUSEHOLD_TABLES:
        paths = [directory / f"{t}.{f}" for f in FORMATS if (directory / f"{t}.{f}").is_file()]
        if len(paths) > 1:
            raise TableFormatError(f"several files hold table {t!r}: {', '.join(p.name for p in paths)}; keep one",
                                   Location(file=str(directory)))
        found.append(paths[0] if paths else None)
    if found[0] is None and found[1] is None:
        return None
    if found[0] is None or found[1] is None:
        have, lack = (found[1], "households") if found[0] is None else (found[0], "preferences")
        raise TableFormatError(f"{have.name} needs a {lack} table next to it ({lack}.csv or {lack}.parquet)",  # type: ignore[union-attr]
                               Location(file=str(directory / f"{lack}.csv")))
    return found[0], found[1]


def load_households(
    economy: Economy,
    households: str | Path | None = None,
    preferences: str | Path | None = None,
    *,
    directory: str | Path | None = None,
    groups: int | None = None,
    seed: int | None = None,
) -> Households:
    """The economy's household groups, from the first source that has them:

    1. explicit ``households`` and ``preferences`` files (both, or neither);
    2. ``households.{csv,parquet}`` and ``preferences.{csv,parquet}`` in ``directory`` (the
       economy directory the economy was read from; :func:`gosplan.load` does not record it);
    3. the economy's household final demand: :func:`default_households` (one Cobb--Douglas
       group per household column), or with ``groups = H > 1`` the synthetic spread of
       :func:`gosplan.synth.households.synth_households` around it (``seed``, default 0).

    ``groups`` and ``seed`` apply to the third source only.

    Raises
    ------
    InvalidEconomyError
        One of the two files without the other, ``groups`` with files, bad tables
        (:func:`read_households`), or no recognised household category for the default.
    """
    if (households is None) != (preferences is None):
        raise InvalidEconomyError(
            "give both a households and a preferences table (--households FILE --preferences FILE), or neither"
        )
    if groups is not None and (int(groups) != groups or groups < 1):
        raise InvalidEconomyError(f"groups must be a positive whole number, got {groups!r}")
    if households is not None:
        if groups is not None:
            raise InvalidEconomyError("groups applies to default or synthetic households, not to files")
        return read_households(households, preferences, economy)  # type: ignore[arg-type]
    if directory is not None:
        found = find_household_tables(directory)
        if found is not None:
            if groups is not None:
                raise InvalidEconomyError(
                    f"{directory} has household tables ({found[0].name}, {found[1].name}); groups applies "
                    "to default or synthetic households"
                )
            return read_households(found[0], found[1], economy)
    if groups is None or groups == 1:
        return default_households(economy, directory=directory)
    from gosplan.synth.households import synth_households

    return synth_households(economy, int(groups), seed=0 if seed is None else int(seed))


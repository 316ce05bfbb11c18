"""The Economy: a small immutable container of an economy's technology, primary
inputs and final demand.

Notation (the field's own):

* products ``i = 0..n-1`` and activities (techniques) ``j = 0..m-1``;
* ``U`` (``use``): ``U[i, j]`` units of product ``i`` used per unit of activity ``j``;
* ``O`` (``make``): ``O[i, j]`` units of product ``i`` made per unit of activity ``j``.
  ``make=None`` means ``O = I``: one activity per product, activity ``j`` makes one
  unit of product ``j``. This is the square input-output table, where ``A = U``;
* ``P`` (``primary``): ``P[r, j]`` units of primary resource ``r`` (labour first) per
  unit of activity ``j``; the labour row is ``l``;
* ``Y`` (``demand``): final demand by product and category; ``y = Y 1``.

Algorithms are plain functions over this container (see :mod:`gosplan.balance`).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import (
    InvalidEconomyError,
    Location,
    NegativeCoefficientWarning,
)

__all__ = ["Economy", "EconomyMeta"]


@dataclass(frozen=True)
class EconomyMeta:
    """Descriptive metadata: what the numbers are and where they came from."""

    name: str = "economy"
    year: int | None = None
    units: str = "units"
    labour_unit: str = "labour"
    source: str = ""
    licence: str = ""
    notes: tuple[str, ...] = ()
    #: Published names of primary resources by label (``{"V00200": "Taxes on production
    #: and imports, less subsidies"}``); a label without one is shown as it is.
    resource_names: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: Units of primary resources by label; labour's is :attr:`labour_unit`, and a
    #: resource without one is shown without a unit.
    resource_units: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for key in ("resource_names", "resource_units"):
            value = getattr(self, key)
            if not isinstance(value, Mapping):
                raise TypeError(f"EconomyMeta.{key} must map resource labels to texts, got {type(value).__name__}")
            object.__setattr__(self, key, {str(k): str(v) for k, v in value.items() if v is not None and str(v)})

    def resource_name(self, resource: Any) -> str:
        """The published name of ``resource``, or its label where there is none."""
        return self.resource_names.get(str(resource), str(resource))

    def resource_unit(self, resource: Any, labour: Any = "labour") -> str | None:
        """The unit of ``resource`` (``labour_unit`` for the labour resource ``labour``), or ``None``."""
        if labour is not None and str(resource) == str(labour) and str(resource) not in self.resource_units:
            return self.labour_unit
        return self.resource_units.get(str(resource))

    def resource_texts(self, resources: Any) -> dict[str, dict[str, str]]:
        """``{"resource_names": {..}, "resource_units": {..}}`` of ``resources`` (labels),
        each left out where empty: what a result's summary carries so that reports name
        its resources."""
        wanted = [str(r) for r in resources]
        out = {}
        for key in ("resource_names", "resource_units"):
            texts = getattr(self, key)
            picked = {r: texts[r] for r in wanted if r in texts}
            if picked:
                out[key] = picked
        return out

    def amended(
        self, notes: Any = (), *, resource_names: Mapping[str, str] | None = None,
        resource_units: Mapping[str, str] | None = None,
    ) -> "EconomyMeta":
        """A copy with ``notes`` added and the resources' names and units a reader found,
        where this metadata gives none (what it gives wins)."""
        return replace(
            self,
            notes=(*self.notes, *notes),
            resource_names={**(resource_names or {}), **self.resource_names},
            resource_units={**(resource_units or {}), **self.resource_units},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "year": self.year,
            "units": self.units,
            "labour_unit": self.labour_unit,
            "source": self.source,
            "licence": self.licence,
            "notes": list(self.notes),
            "resource_names": dict(self.resource_names),
            "resource_units": dict(self.resource_units),
        }


def published_name(names: pd.Series | None, products: pd.Index, label: Any) -> str | None:
    """The published name of product ``label`` in ``names`` (indexed by ``products``), or ``None``."""
    if names is not None and label in products:
        name = names.loc[label]
        if not pd.isna(name):
            return str(name)
    return None


def quoted_name(names: pd.Series | None, products: pd.Index, label: Any) -> str:
    """``'code' (name)`` for a product label (or a technique labelled like its product) that has
    a published name in ``names``, else ``'code'``: how messages name a product."""
    name = published_name(names, products, label)
    return f"{label!r} ({name})" if name is not None and name != str(label) else repr(label)


def worded_name(names: pd.Series | None, products: pd.Index, label: Any) -> str:
    """``code (name)`` for a product label that has a published name in ``names``, else the
    code: how notes and lists name a product (:func:`quoted_name` without the quotes)."""
    name = published_name(names, products, label)
    return f"{label} ({name})" if name is not None and name != str(label) else str(label)


def with_product_names(frame: pd.DataFrame | None, economy: Any) -> pd.DataFrame | None:
    """``frame`` with a ``name`` column after ``product`` when ``economy`` names its products
    (the label where a product has none); the frame itself otherwise."""
    if frame is None or economy.names is None or "product" not in frame.columns or "name" in frame.columns:
        return frame
    codes = frame["product"]
    names = economy.product_names.reindex(pd.Index(codes)).to_numpy(dtype=object, na_value=None)
    names = [str(c) if n is None else n for n, c in zip(names, codes)]
    out = frame.copy()
    out.insert(int(frame.columns.get_loc("product")) + 1, "name", names)
    return out


def _as_index(labels: Any, what: str) -> pd.Index:
    index = labels if isinstance(labels, pd.Index) else pd.Index(labels)
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise InvalidEconomyError(f"duplicate {what} label {dup!r}", Location(product=str(dup)))
    return index


def _as_csr(matrix: Any, shape: tuple[int, int], what: str) -> sp.csr_array:
    if sp.issparse(matrix):
        out = sp.csr_array(matrix)
    else:
        arr = np.asarray(matrix, dtype=np.float64)
        if arr.ndim != 2:
            raise InvalidEconomyError(f"{what} must be a 2-D matrix, got {arr.ndim}-D")
        out = sp.csr_array(arr)
    if out.shape != shape:
        raise InvalidEconomyError(f"{what} has shape {out.shape}, expected {shape}")
    if out.dtype != np.float64:
        out = out.astype(np.float64)
    if sp.issparse(matrix) and (not out.has_canonical_format or (out.data == 0).any()):
        out = out.copy()  # canonicalise a copy: never change the caller's matrix in place
    out.sum_duplicates()
    out.eliminate_zeros()
    # 32-bit indices halve index memory; scipy keeps int32 when nnz allows it.
    if out.nnz < np.iinfo(np.int32).max and out.indices.dtype != np.int32:
        out.indices = out.indices.astype(np.int32)
        out.indptr = out.indptr.astype(np.int32 if out.nnz < np.iinfo(np.int32).max else np.int64)
    return out


#: The dtype of per-product texts: pandas' string dtype with ``pd.NA`` for missing entries.
_TEXT = pd.StringDtype(na_value=pd.NA)


def _as_texts(values: Any, products: pd.Index, what: str, unit: str = "product") -> pd.Series | None:
    """Per-product texts (names, units) as a string Series on ``products``; missing or
    blank entries are ``NA``; ``None`` when there is none at all. ``unit`` is what
    ``products`` label in messages (``"ministry"`` for a hierarchy's names)."""
    if values is None:
        return None
    if (
        isinstance(values, pd.Series) and values.index is products and values.name == what
        and values.dtype == _TEXT
    ):
        return values  # already ours (a dataclasses.replace of an economy): no second pass
    if isinstance(values, pd.Series) and values.index.equals(products):
        series = values
    elif isinstance(values, (pd.Series, Mapping)):
        series = values if isinstance(values, pd.Series) else pd.Series(dict(values), dtype=object)
        extra = series.index.difference(products, sort=False)
        if len(extra):
            raise InvalidEconomyError(
                f"{what} names {unit} {extra[0]!r}, which the {'economy' if unit == 'product' else 'hierarchy'} "
                "does not have",
                Location(product=str(extra[0])),
            )
        series = series.reindex(products)
    else:
        arr = values if isinstance(values, (np.ndarray, pd.api.extensions.ExtensionArray)) else list(values)
        if len(arr) != len(products):
            raise InvalidEconomyError(f"{what} has length {len(arr)}, expected {len(products)}")
        series = pd.Series(arr, index=products, copy=False)
    if series.dtype != _TEXT or series.dtype.na_value is not pd.NA:
        series = series.astype(_TEXT)
    series = series.str.strip()
    series = series.mask(series.str.len() == 0)
    if not series.notna().any():
        return None
    series.name = what
    return series


@dataclass(frozen=True, eq=False)
class Economy:
    """An economy: technology ``(U, O)``, primary inputs ``P``, final demand ``Y``.

    Build one with :meth:`Economy.from_coefficients` (square tables), a reader in
    :mod:`gosplan.io`, or :func:`gosplan.load`.

    Attributes
    ----------
    products:
        Product labels (length ``n``), unique.
    use:
        ``U``, sparse ``n x m``.
    make:
        ``O``, sparse ``n x m``, or ``None`` for the square one-technique case ``O = I``.
    activities:
        Activity labels (length ``m``); equal to ``products`` when ``make is None``.
    primary:
        ``P``, sparse ``r x m``, primary-input coefficients.
    resources:
        Resource labels (length ``r``).
    demand:
        ``Y``, dense ``n x c`` final demand by category.
    categories:
        Final-demand category labels (length ``c``).
    recorded_output:
        Gross output by product as recorded in the source table (``n``), if any.
    labour:
        Label of the labour resource among ``resources``, or ``None``.
    meta:
        :class:`EconomyMeta`.
    hierarchy:
        The chain of command (:class:`~gosplan.model.hierarchy.Hierarchy`:
        ministries, enterprises), or ``None``. Its products must be these.
    names:
        The published name of each product (``"Oilseed farming"`` for BEA's
        ``"1111A0"``), a string Series indexed by ``products``, or ``None``. Products
        without a name (missing or empty) fall back to their label: see :meth:`label`,
        :meth:`names_of` and :attr:`product_names`. Give a Series/mapping by label or a
        sequence of length ``n``.
    product_units:
        The unit of each product where the source gives one per product (pymrio's
        ``unit`` table, a ``unit`` column of the directory format), else ``None``
        (``meta.units`` holds the table's unit).
    """

    products: pd.Index
    use: sp.csr_array
    primary: sp.csr_array
    resources: pd.Index
    demand: np.ndarray
    categories: pd.Index
    make: sp.csr_array | None = None
    activities: pd.Index | None = None
    recorded_output: np.ndarray | None = None
    labour: str | None = "labour"
    meta: EconomyMeta = field(default_factory=EconomyMeta)
    hierarchy: Any = None
    names: pd.Series | None = None
    product_units: pd.Series | None = None

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        products = _as_index(self.products, "product")
        object.__setattr__(self, "products", products)
        object.__setattr__(self, "names", _as_texts(self.names, products, "names"))
        object.__setattr__(self, "product_units", _as_texts(self.product_units, products, "product_units"))
        n = len(products)
        if self.make is None:
            if self.activities is not None and not pd.Index(self.activities).equals(products):
                raise InvalidEconomyError("activities must equal products when make is None")
            activities = products
        else:
            if self.activities is None:
                raise InvalidEconomyError("an economy with a make matrix needs activity labels")
            activities = _as_index(self.activities, "activity")
        object.__setattr__(self, "activities", activities)
        m = len(activities)
        object.__setattr__(self, "use", _as_csr(self.use, (n, m), "use (U)"))
        if self.make is not None:
            object.__setattr__(self, "make", _as_csr(self.make, (n, m), "make (O)"))
        resources = _as_index(self.resources, "resource")
        object.__setattr__(self, "resources", resources)
        object.__setattr__(self, "primary", _as_csr(self.primary, (len(resources), m), "primary (P)"))
        categories = _as_index(self.categories, "final-demand category")
        object.__setattr__(self, "categories", categories)
        demand = np.asarray(self.demand, dtype=np.float64)
        if demand.ndim == 1:
            demand = demand.reshape(-1, 1)
        if demand.shape != (n, len(categories)):
            raise InvalidEconomyError(
                f"demand (Y) has shape {demand.shape}, expected {(n, len(categories))}"
            )
        object.__setattr__(self, "demand", demand)
        if self.recorded_output is not None:
            rec = np.asarray(self.recorded_output, dtype=np.float64).reshape(-1)
            if rec.shape != (n,):
                raise InvalidEconomyError(f"recorded_output has length {rec.size}, expected {n}")
            object.__setattr__(self, "recorded_output", rec)
        if self.labour is not None and self.labour not in resources:
            if len(resources) == 0:
                object.__setattr__(self, "labour", None)
            else:
                raise InvalidEconomyError(
                    f"labour resource {self.labour!r} is not among the resources {list(resources)[:10]}"
                )
        self._validate_values()
        self._check_hierarchy(self.hierarchy)

    def _check_hierarchy(self, hierarchy: Any) -> None:
        if hierarchy is None:
            return
        from gosplan.model.hierarchy import Hierarchy

        if not isinstance(hierarchy, Hierarchy):
            raise InvalidEconomyError(f"hierarchy must be a Hierarchy, got {type(hierarchy).__name__}")
        hierarchy.check_matches(self.products, f"economy {self.meta.name!r}")

    def with_hierarchy(self, hierarchy: Any) -> "Economy":
        """A copy with the chain of command replaced (``None`` removes it).

        Only the hierarchy is checked: the technology is this economy's, already checked
        (no second pass over ``U``, ``P``, no repeated warnings), and shared, not copied."""
        self._check_hierarchy(hierarchy)
        out = copy.copy(self)  # keeps cached views (A, primary coefficients): same technology
        object.__setattr__(out, "hierarchy", hierarchy)
        return out

    def _validate_values(self) -> None:
        for what, mat, labels in (
            ("use (U)", self.use, self.products),
            ("make (O)", self.make, self.products),
            ("primary (P)", self.primary, self.resources),
        ):
            if mat is None:
                continue
            bad = ~np.isfinite(mat.data)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                row = int(np.searchsorted(mat.indptr, k, side="right") - 1)
                col = int(mat.indices[k])
                raise InvalidEconomyError(
                    f"{what}[{labels[row]!r}, {self.activities[col]!r}] is {mat.data[k]}",
                    Location(product=str(self.activities[col])),
                )
        bad_rows = ~np.isfinite(self.demand).all(axis=1)
        if bad_rows.any():
            i = int(np.flatnonzero(bad_rows)[0])
            raise InvalidEconomyError(
                f"final demand is {self.demand[i].tolist()}", Location(product=str(self.products[i]))
            )
        if self.recorded_output is not None:
            rec = self.recorded_output
            bad = ~np.isfinite(rec) | (rec < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidEconomyError(
                    f"recorded gross output is {rec[i]} (must be finite and >= 0)",
                    Location(product=str(self.products[i])),
                )
        if self.make is not None and (self.make.data < 0).any():
            k = int(np.flatnonzero(self.make.data < 0)[0])
            col = int(self.make.indices[k])
            raise InvalidEconomyError(
                "negative output coefficient in make (O)", Location(product=str(self.activities[col]))
            )
        negative = int((self.use.data < 0).sum())
        if negative:
            k = int(np.flatnonzero(self.use.data < 0)[0])
            row = int(np.searchsorted(self.use.indptr, k, side="right") - 1)
            col = int(self.use.indices[k])
            names = getattr(self, "names", None)
            warnings.warn(
                f"{self.meta.name}: {negative} negative technical coefficient(s) accepted (scrap, by-products), "
                f"e.g. {quoted_name(names, self.products, self.products[row])} into "
                f"{quoted_name(names, self.products, self.activities[col])}: "
                f"{self.use.data[k]:.6g}",
                NegativeCoefficientWarning,
                stacklevel=4,
            )

    @classmethod
    def from_coefficients(
        cls,
        A: Any,
        *,
        products: Any | None = None,
        y: Any | None = None,
        l: Any | None = None,
        demand: Any | None = None,
        categories: Any | None = None,
        primary: Any | None = None,
        resources: Any | None = None,
        recorded_output: Any | None = None,
        meta: EconomyMeta | None = None,
        name: str | None = None,
        names: Any | None = None,
    ) -> "Economy":
        """A square economy from technical coefficients ``A`` (dense or sparse).

        ``y`` is a single final-demand vector (or give ``demand`` ``n x c`` with
        ``categories``); ``l`` the labour coefficients (or give ``primary`` ``r x n``
        with ``resources``, labour first); ``names`` the products' published names.
        """
        A = A if sp.issparse(A) else np.asarray(A, dtype=np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise InvalidEconomyError(f"A must be square, got shape {A.shape}")
        n = A.shape[0]
        if products is None:
            products = [f"p{i}" for i in range(n)]
        if demand is None:
            yv = np.zeros(n) if y is None else np.asarray(y, dtype=np.float64).reshape(-1)
            if yv.shape != (n,):
                raise InvalidEconomyError(f"y has length {yv.size}, expected {n}")
            demand, categories = yv.reshape(-1, 1), ["final_demand"]
        elif categories is None:
            demand = np.asarray(demand, dtype=np.float64)
            categories = [f"fd{k}" for k in range(demand.reshape(n, -1).shape[1])]
        labour: str | None = "labour"
        if primary is None:
            if l is None:
                primary, resources, labour = sp.csr_array((0, n)), [], None
            else:
                lv = np.asarray(l, dtype=np.float64).reshape(1, -1)
                primary, resources = lv, ["labour"]
        else:
            if resources is None:
                raise InvalidEconomyError("primary given without resource labels")
            resources = list(resources)
            labour = resources[0] if resources else None
        if meta is None:
            meta = EconomyMeta(name=name or "economy")
        return cls(
            products=products,
            use=A,
            primary=primary,
            resources=resources,
            demand=demand,
            categories=categories,
            recorded_output=recorded_output,
            labour=labour,
            meta=meta,
            names=names,
        )

    # ------------------------------------------------------------------ derived views
    @property
    def n_products(self) -> int:
        return len(self.products)

    @property
    def n_activities(self) -> int:
        return len(self.activities)  # type: ignore[arg-type]

    @property
    def is_square(self) -> bool:
        """One activity per product, each making only its own product (``O`` diagonal)."""
        if self.make is None:
            return True
        if self.make.shape[0] != self.make.shape[1]:
            return False
        off = self.make - sp.diags_array(self.make.diagonal())
        return off.count_nonzero() == 0 and bool((self.make.diagonal() > 0).all())

    @cached_property
    def A(self) -> sp.csr_array:
        """Technical coefficients ``A = U diag(O)^-1`` of the square case.

        Raises :class:`InvalidEconomyError` when products have several techniques or
        techniques several outputs: such economies need an optimal plan, not a balance.
        """
        if self.make is None:
            return self.use
        if not self.is_square:
            raise InvalidEconomyError(
                "A is defined only for one technique per product without joint products; "
                "this economy needs an optimal plan (several techniques or joint outputs)"
            )
        scale = 1.0 / self.make.diagonal()
        return _as_csr(self.use @ sp.diags_array(scale), self.use.shape, "A")

    @cached_property
    def product_names(self) -> pd.Series:
        """Every product's name (its label where it has none), a string Series on ``products``."""
        codes = pd.Series(np.asarray(self.products.astype(str), dtype=object), index=self.products, dtype=_TEXT)
        if self.names is None:
            return codes.rename("name")
        return self.names.fillna(codes).rename("name")

    def label(self, i: int) -> str:
        """The name of the product at position ``i`` (its label when it has no name)."""
        if self.names is not None:
            name = self.names.iat[i]
            if not pd.isna(name):
                return str(name)
        return str(self.products[i])

    def name_of(self, product: Any) -> str:
        """The name of product ``product`` (a label); the label itself when it has none."""
        name = published_name(self.names, self.products, product)
        return str(product) if name is None else name

    def names_of(self, labels: Any) -> list[str]:
        """The names of products ``labels`` (labels, in order), each label where there is no name."""
        labels = list(labels)
        if self.names is None:
            return [str(p) for p in labels]
        pos = self.products.get_indexer(pd.Index(labels))
        out = []
        for p, k in zip(labels, pos):
            name = self.names.iat[k] if k >= 0 else None
            out.append(str(p) if name is None or pd.isna(name) else str(name))
        return out

    def unit_of(self, product: Any) -> str:
        """The unit of product ``product``: its own where the source gives one, else ``meta.units``."""
        if self.product_units is not None and product in self.products:
            unit = self.product_units.loc[product]
            if not pd.isna(unit):
                return str(unit)
        return self.meta.units

    def with_names(self, names: Any, units: Any = None) -> "Economy":
        """A copy with product names (and units, when given) replaced; the technology is shared."""
        out = copy.copy(self)
        out.__dict__.pop("product_names", None)
        object.__setattr__(out, "names", _as_texts(names, self.products, "names"))
        if units is not None:
            object.__setattr__(out, "product_units", _as_texts(units, self.products, "product_units"))
        return out

    @property
    def y(self) -> np.ndarray:
        """Final demand by product, ``y = Y 1``."""
        return self.demand.sum(axis=1)

    @property
    def l(self) -> np.ndarray:
        """Labour coefficients per unit of each product (square case): ``l = P[labour] diag(O)^-1``."""
        if self.labour is None:
            raise InvalidEconomyError(f"economy {self.meta.name!r} has no labour resource")
        return self.primary_coefficients[self.resources.get_loc(self.labour)]

    @cached_property
    def primary_coefficients(self) -> np.ndarray:
        """Dense ``r x n`` primary-input coefficients per unit of product (square case)."""
        P = self.primary.toarray() if self.primary.shape[0] * self.n_activities <= 5e7 else None
        if P is None:
            P = np.vstack([self.primary[[k], :].toarray().ravel() for k in range(self.primary.shape[0])])
        if self.make is not None:
            if not self.is_square:
                raise InvalidEconomyError("primary coefficients per product need the square case")
            P = P / self.make.diagonal()[None, :]
        return P

    def product_index(self, labels: Any, *, what: str = "demand", file: str | None = None) -> np.ndarray:
        """Positions of product ``labels``; :class:`UnknownProductError` naming the first unknown one."""
        from gosplan.errors import UnknownProductError

        labels = pd.Index(labels)
        pos = self.products.get_indexer(labels)
        if (pos < 0).any():
            k = int(np.flatnonzero(pos < 0)[0])
            raise UnknownProductError(
                f"{what} names product {labels[k]!r}, which economy {self.meta.name!r} does not have",
                Location(file=file, product=str(labels[k])),
            )
        return pos

    def with_demand(self, demand: Any, categories: Any = ("final_demand",)) -> "Economy":
        """A copy with final demand replaced (``n`` vector or ``n x c`` matrix)."""
        demand = np.asarray(demand, dtype=np.float64)
        if demand.ndim == 1:
            demand = demand.reshape(-1, 1)
        return replace(self, demand=demand, categories=pd.Index(list(categories)))

    def summary(self) -> Mapping[str, Any]:
        """Sizes and metadata, JSON-ready."""
        return {
            **self.meta.to_dict(),
            "products": self.n_products,
            "activities": self.n_activities,
            "nonzeros": int(self.use.nnz),
            "resources": [str(r) for r in self.resources],
            "categories": [str(c) for c in self.categories],
            "named_products": 0 if self.names is None else int(self.names.notna().sum()),
        }

    def __repr__(self) -> str:
        return (
            f"Economy({self.meta.name!r}, products={self.n_products}, activities={self.n_activities}, "
            f"nnz={self.use.nnz}, resources={list(map(str, self.resources))})"
        )

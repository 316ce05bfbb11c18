"""The chain of command: products -> ministries (-> sectors), enterprises -> products.

A :class:`Hierarchy` says which ministry answers for each product and which
enterprises make it, with what capacity and by what technique.

Notation. Products ``i = 0..n-1`` (the economy's, in its order), ministries
``k = 0..M-1``, enterprises ``e = 0..E-1``; ``i(e)`` the product enterprise ``e``
makes (one product per enterprise), ``C_e`` its capacity (units of ``i(e)`` a year).
Enterprise ``e``'s technique, per unit of output:

* intermediate inputs ``a_e = f_e A[:, i(e)] + N_e``,
* primary inputs ``p_e = h_e P[:, i(e)] + Q_e``,

with ``f_e`` its *input factor*, ``h_e`` its *labour factor* (it scales every
primary input; labour is usually the only one) and ``N_e``, ``Q_e`` its own
norms where it reports them (:class:`EnterpriseNorms`; an enterprise with own
norms has ``f_e = h_e = 0``). An enterprise with ``f_e = h_e = 1`` and no own
norms works exactly to the table's technique.

Products no enterprise makes are produced by the product's own technique
without a capacity limit (an *implicit* producer in breakdowns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location
from gosplan.model.economy import _as_texts, quoted_name

__all__ = ["Hierarchy", "EnterpriseNorms"]


def _int_array(values: Any, size: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (size,):
        raise InvalidEconomyError(f"{what} has shape {arr.shape}, expected ({size},)")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidEconomyError(f"{what} must hold integer positions, got {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _float_array(values: Any, size: int, what: str, labels: pd.Index) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (size,):
        raise InvalidEconomyError(f"{what} has shape {arr.shape}, expected ({size},)")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        e = int(np.flatnonzero(bad)[0])
        raise InvalidEconomyError(
            f"{what} of enterprise {labels[e]!r} is {arr[e]!r}; it must be finite and >= 0",
            Location(key="enterprise", product=str(labels[e])),
        )
    return arr


def _named(names: pd.Series) -> pd.Series:
    """``names`` with each missing name replaced by its unit's label."""
    labels = pd.Series(np.asarray(names.index.astype(str), dtype=object), index=names.index)
    return names.astype(object).where(names.notna(), labels)


@dataclass(frozen=True, eq=False)
class EnterpriseNorms:
    """Own norms reported by some enterprises.

    Attributes
    ----------
    enterprise:
        Positions ``e`` of the enterprises with own norms (``k``, strictly increasing).
    inputs:
        ``N`` (``k x n`` CSR): units of each product used per unit of output.
    primary:
        ``Q`` (``k x r`` CSR): units of each primary resource per unit of output.
    """

    enterprise: np.ndarray
    inputs: sp.csr_array
    primary: sp.csr_array

    def __post_init__(self) -> None:
        e = np.asarray(self.enterprise, dtype=np.int64)
        if e.ndim != 1 or (np.diff(e) <= 0).any():
            raise InvalidEconomyError("enterprise norms must list each enterprise once, in increasing order")
        object.__setattr__(self, "enterprise", e)
        for name in ("inputs", "primary"):
            mat = sp.csr_array(getattr(self, name), dtype=np.float64)
            if mat.shape[0] != e.size:
                raise InvalidEconomyError(f"enterprise norms: {name} has {mat.shape[0]} rows, expected {e.size}")
            mat.sum_duplicates()
            object.__setattr__(self, name, mat)


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """Products -> ministries (optionally -> sectors); enterprises -> products.

    Attributes
    ----------
    products:
        The economy's product labels, in its order (``n``).
    ministries:
        Ministry labels (``M``).
    product_ministry:
        Ministry position of each product (``n``).
    enterprises:
        Enterprise labels (``E``), unique (a :class:`pandas.RangeIndex` is fine for
        millions of them).
    enterprise_product:
        Product position ``i(e)`` of each enterprise (``E``).
    capacity:
        ``C_e`` (``E``), finite and ``>= 0``.
    input_factor, labour_factor:
        ``f_e``, ``h_e`` (``E``), finite and ``>= 0``; default ``1``.
    norms:
        Own norms (:class:`EnterpriseNorms`) or ``None``.
    sectors, ministry_sector:
        Optional level above the ministries: sector labels and each ministry's sector.
    regions, enterprise_region:
        Optional region labels and each enterprise's region position (``E``).
    distances:
        Optional ``R x R`` transport cost between regions (``[r, s]``: from ``r`` to ``s``).
    ministry_names, sector_names:
        Optional published names of the ministries and sectors (string Series on
        ``ministries`` / ``sectors``, ``NA`` where a unit has none; give a mapping by label
        or a sequence in order). Reports show a unit by its name next to its label.
    notes:
        What the hierarchy's source left out or assumed.
    """

    products: pd.Index
    ministries: pd.Index
    product_ministry: np.ndarray
    enterprises: pd.Index = field(default_factory=lambda: pd.RangeIndex(0))
    enterprise_product: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    capacity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    input_factor: np.ndarray | None = None
    labour_factor: np.ndarray | None = None
    norms: EnterpriseNorms | None = None
    sectors: pd.Index | None = None
    ministry_sector: np.ndarray | None = None
    regions: pd.Index | None = None
    enterprise_region: np.ndarray | None = None
    distances: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    ministry_names: pd.Series | None = None
    sector_names: pd.Series | None = None

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        products = pd.Index(self.products)
        set_("products", products)
        ministries = pd.Index(self.ministries)
        if ministries.has_duplicates:
            raise InvalidEconomyError(f"duplicate ministry {ministries[ministries.duplicated()][0]!r}")
        set_("ministries", ministries)
        n, M = len(products), len(ministries)
        pm = _int_array(self.product_ministry, n, "product_ministry")
        if pm.size and (pm.min() < 0 or pm.max() >= M):
            i = int(np.flatnonzero((pm < 0) | (pm >= M))[0])
            raise InvalidEconomyError(f"product {products[i]!r} has no ministry", Location(product=str(products[i])))
        set_("product_ministry", pm)
        enterprises = self.enterprises if isinstance(self.enterprises, pd.Index) else pd.Index(self.enterprises)
        if not isinstance(enterprises, pd.RangeIndex) and enterprises.has_duplicates:
            dup = enterprises[enterprises.duplicated()][0]
            raise InvalidEconomyError(f"duplicate enterprise {dup!r}", Location(key="enterprise", product=str(dup)))
        set_("enterprises", enterprises)
        E = len(enterprises)
        ep = _int_array(self.enterprise_product, E, "enterprise_product")
        if ep.size and (ep.min() < 0 or ep.max() >= n):
            e = int(np.flatnonzero((ep < 0) | (ep >= n))[0])
            raise InvalidEconomyError(f"enterprise {enterprises[e]!r} makes no known product")
        set_("enterprise_product", ep)
        set_("capacity", _float_array(self.capacity, E, "capacity", enterprises))
        for name in ("input_factor", "labour_factor"):
            value = getattr(self, name)
            set_(name, np.ones(E) if value is None else _float_array(value, E, name.replace("_", " "), enterprises))
        if self.norms is not None:
            e = self.norms.enterprise
            if e.size and (e[0] < 0 or e[-1] >= E):
                raise InvalidEconomyError("enterprise norms refer to an enterprise position out of range")
            if self.norms.inputs.shape[1] != n:
                raise InvalidEconomyError(f"enterprise norms: inputs have {self.norms.inputs.shape[1]} columns, expected {n}")
            for what, mat in (("input", self.norms.inputs), ("primary", self.norms.primary)):
                bad = ~np.isfinite(mat.data)
                if bad.any():
                    row = int(np.searchsorted(mat.indptr, int(np.flatnonzero(bad)[0]), side="right") - 1)
                    raise InvalidEconomyError(f"{what} norm of enterprise {enterprises[e[row]]!r} is not finite")
        if self.sectors is not None or self.ministry_sector is not None:
            if self.sectors is None or self.ministry_sector is None:
                raise InvalidEconomyError("sectors and ministry_sector go together")
            sectors = pd.Index(self.sectors)
            ms = _int_array(self.ministry_sector, M, "ministry_sector")
            if ms.size and (ms.min() < 0 or ms.max() >= len(sectors)):
                raise InvalidEconomyError("a ministry's sector position is out of range")
            set_("sectors", sectors)
            set_("ministry_sector", ms)
        if self.regions is not None or self.enterprise_region is not None:
            if self.regions is None or self.enterprise_region is None:
                raise InvalidEconomyError("regions and enterprise_region go together")
            regions = pd.Index(self.regions)
            er = _int_array(self.enterprise_region, E, "enterprise_region")
            if er.size and (er.min() < 0 or er.max() >= len(regions)):
                raise InvalidEconomyError("an enterprise's region position is out of range")
            set_("regions", regions)
            set_("enterprise_region", er)
        if self.distances is not None:
            if self.regions is None:
                raise InvalidEconomyError("distances need regions")
            d = np.asarray(self.distances, dtype=np.float64)
            R = len(self.regions)
            if d.shape != (R, R):
                raise InvalidEconomyError(f"distances have shape {d.shape}, expected {(R, R)}")
            if not np.isfinite(d).all() or (d < 0).any():
                raise InvalidEconomyError("distances must be finite and >= 0")
            set_("distances", d)
        set_("notes", tuple(self.notes))
        set_("ministry_names", _as_texts(self.ministry_names, ministries, "ministry_names", "ministry"))
        if self.sector_names is not None and self.sectors is None:
            raise InvalidEconomyError("sector_names need sectors")
        if self.sectors is not None:
            set_("sector_names", _as_texts(self.sector_names, self.sectors, "sector_names", "sector"))

    # ------------------------------------------------------------------ sizes and views
    @property
    def n_products(self) -> int:
        return len(self.products)

    @property
    def n_ministries(self) -> int:
        return len(self.ministries)

    @property
    def n_enterprises(self) -> int:
        return len(self.enterprises)

    @cached_property
    def product_capacity(self) -> np.ndarray:
        """``sum_{e: i(e) = i} C_e`` (``n``); ``inf`` where no enterprise makes the product."""
        cap = np.bincount(self.enterprise_product, weights=self.capacity, minlength=self.n_products)
        return np.where(self.covered, cap, np.inf)

    @cached_property
    def covered(self) -> np.ndarray:
        """Products some enterprise makes (``n`` booleans)."""
        return np.bincount(self.enterprise_product, minlength=self.n_products) > 0

    @cached_property
    def enterprise_ministry(self) -> np.ndarray:
        """Ministry position of each enterprise (through its product)."""
        return self.product_ministry[self.enterprise_product]

    @cached_property
    def has_own_norms(self) -> np.ndarray:
        """Enterprises that report their own norms (``E`` booleans)."""
        out = np.zeros(self.n_enterprises, dtype=bool)
        if self.norms is not None:
            out[self.norms.enterprise] = True
        return out

    def ministry_label(self, k: int) -> str:
        """Ministry ``k`` as reports name it: ``'code' (name)`` where it has a published
        name, else ``'code'``."""
        return quoted_name(self.ministry_names, self.ministries, self.ministries[k])

    def ministry_frame(self) -> pd.DataFrame:
        """One row per ministry: ``ministry``, ``[name]``, ``[sector, [sector_name]]``,
        ``products``, ``enterprises``; ``name`` (the label where a ministry has none) when
        the hierarchy names its ministries, ``sector_name`` when it names its sectors."""
        frame = pd.DataFrame(
            {
                "ministry": self.ministries,
                "products": np.bincount(self.product_ministry, minlength=self.n_ministries),
                "enterprises": np.bincount(self.enterprise_ministry, minlength=self.n_ministries),
            }
        )
        at = 1
        if self.ministry_names is not None:
            frame.insert(at, "name", _named(self.ministry_names).to_numpy(dtype=object))
            at += 1
        if self.sectors is not None:
            frame.insert(at, "sector", self.sectors[self.ministry_sector])
            if self.sector_names is not None:
                names = _named(self.sector_names).to_numpy(dtype=object)
                frame.insert(at + 1, "sector_name", names[self.ministry_sector])
        return frame

    def restricted_to(self, ministries: Any) -> np.ndarray:
        """Enterprise positions of the given ministry positions (increasing)."""
        keep = np.isin(self.enterprise_ministry, np.asarray(ministries, dtype=np.int64))
        return np.flatnonzero(keep)

    def check_matches(self, products: pd.Index, owner: str) -> None:
        """Raise unless this hierarchy's products are ``products``, in that order."""
        if not self.products.equals(products):
            missing = products.difference(self.products)
            extra = self.products.difference(products)
            detail = (
                f"e.g. {missing[0]!r} has no ministry" if len(missing)
                else f"e.g. {extra[0]!r} is not a product of it" if len(extra)
                else "the products are in a different order"
            )
            raise InvalidEconomyError(f"the hierarchy does not match {owner}: {detail}")

    @classmethod
    def single_ministry(cls, products: pd.Index, name: str = "centre") -> "Hierarchy":
        """Every product under one ministry, no enterprises."""
        return cls(products=products, ministries=pd.Index([name]), product_ministry=np.zeros(len(products), dtype=np.int64))

    def summary(self) -> dict[str, Any]:
        return {
            "ministries": self.n_ministries,
            "sectors": None if self.sectors is None else len(self.sectors),
            "enterprises": self.n_enterprises,
            "products_with_enterprises": int(self.covered.sum()),
            "enterprises_with_own_norms": int(self.has_own_norms.sum()),
            "regions": None if self.regions is None else len(self.regions),
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        return (
            f"Hierarchy(products={self.n_products}, ministries={self.n_ministries}, "
            f"enterprises={self.n_enterprises})"
        )

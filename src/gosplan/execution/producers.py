"""The producers who carry a plan out: the hierarchy's enterprises plus one implicit producer
for every product no enterprise makes (every product when the economy has no hierarchy).

Producer ``e`` makes product ``i(e)`` with, per unit of output, intermediate inputs
``a_e = f_e A[:, i(e)] + N_e`` and primary inputs ``p_e = h_e P[:, i(e)] + Q_e``
(:mod:`gosplan.model.hierarchy`); an implicit producer works to the table's technique.
Everything is held as arrays over producers (``E``) and one ``E x n`` CSR matrix of the
``a_e``: no object per enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError
from gosplan.model.economy import Economy

__all__ = ["Producers", "CAPACITY_SLACK", "leontief_solve", "table_output"]

CAPACITY_SLACK = 0.05
"""Default capacity of a producer the data give none (implicit producers, economies without a
hierarchy): the table's gross output of its product times ``1 + CAPACITY_SLACK``."""


@dataclass(frozen=True, eq=False)
class Producers:
    """Enterprises and implicit producers as arrays (see the module).

    Attributes
    ----------
    products, resources:
        The economy's product and primary-resource labels (``n``, ``r``).
    labels:
        Producer labels (``E``): the enterprise's, or the product's for an implicit producer.
    product:
        ``i(e)`` (``E``).
    ministries, ministry:
        Ministry labels and each producer's ministry position (its product's ministry; one
        ministry ``"centre"`` when the economy has no hierarchy).
    capacity:
        ``K_e`` (``E``), finite.
    inputs:
        The positive part of ``a_e`` as the rows of an ``E x n`` CSR matrix.
    byproducts:
        Minus its negative part (scrap, by-products: the table's negative coefficients), ``E x n``:
        producer ``e`` puts out ``b_je x_e`` of product ``j`` besides its own.
    primary:
        ``p_e`` as the rows of an ``E x r`` array.
    implicit:
        Which producers are implicit (``E``, bool).
    labour:
        Position of labour among the resources, or ``None``.
    """

    products: pd.Index
    resources: pd.Index
    labels: pd.Index
    product: np.ndarray
    ministries: pd.Index
    ministry: np.ndarray
    capacity: np.ndarray
    inputs: sp.csr_array
    byproducts: sp.csr_array
    primary: np.ndarray
    implicit: np.ndarray
    labour: int | None

    @classmethod
    def of(
        cls,
        economy: Economy,
        hierarchy: Any = None,
        *,
        capacities: Any = None,
        slack: float = CAPACITY_SLACK,
    ) -> Producers:
        """The producers of ``economy`` under ``hierarchy`` (default the economy's own).

        ``capacities`` (``{product: capacity}``, a Series or an array of length ``n``) sets the
        capacity of the implicit producers; products it leaves out get the table's gross output
        times ``1 + slack``.
        """
        from gosplan.hierarchy._techniques import resolve_hierarchy

        if not isinstance(economy, Economy):
            raise TypeError(f"economy must be an Economy, got {type(economy).__name__}")
        if not economy.is_square:
            raise InvalidEconomyError(
                f"economy {economy.meta.name!r} has several techniques per product or joint outputs; "
                "producers work to one technique per product, so execution needs a square economy"
            )
        if slack < 0 or not np.isfinite(slack):
            raise InvalidEconomyError(f"capacity slack must be finite and >= 0, got {slack!r}")
        n = economy.n_products
        h = hierarchy if hierarchy is not None else economy.hierarchy
        if h is not None:
            h = resolve_hierarchy(economy, h)
        AT = sp.csr_array(economy.A.T)
        AT.sort_indices()
        P = np.asarray(economy.primary_coefficients.toarray() if sp.issparse(economy.primary_coefficients)
                       else economy.primary_coefficients, dtype=np.float64).reshape(len(economy.resources), n)
        default_cap = _default_capacity(economy, capacities, slack)
        if h is None or h.n_enterprises == 0:
            ministries = pd.Index(["centre"]) if h is None else h.ministries
            pm = np.zeros(n, np.int64) if h is None else h.product_ministry
            uncovered = np.arange(n)
            ent_labels: list[Any] = []
            ep = np.zeros(0, np.int64)
            cap = np.zeros(0)
            f = hf = np.zeros(0)
            norms = None
        else:
            ministries, pm = h.ministries, h.product_ministry
            uncovered = np.flatnonzero(~h.covered)
            ent_labels = list(h.enterprises) if not isinstance(h.enterprises, pd.RangeIndex) else None  # type: ignore[assignment]
            ep, cap = h.enterprise_product, h.capacity
            f, hf = h.input_factor, h.labour_factor
            norms = h.norms
        E0 = ep.size
        product = np.concatenate([ep, uncovered]).astype(np.int64)
        factor = np.concatenate([f, np.ones(uncovered.size)])
        lfactor = np.concatenate([hf, np.ones(uncovered.size)])
        inputs = sp.csr_array(sp.diags_array(factor) @ AT[product])
        primary = P.T[product] * lfactor[:, None]
        if norms is not None and norms.enterprise.size:
            rows = norms.enterprise
            N = sp.csr_array((norms.inputs.data, norms.inputs.indices, norms.inputs.indptr), shape=norms.inputs.shape)
            S = sp.csr_array((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(product.size, rows.size))
            inputs = sp.csr_array(inputs + S @ N)
            primary[rows] += norms.primary.toarray()
        inputs.sum_duplicates()
        # negative coefficients (scrap, by-products) are outputs of the producer, not inputs
        negative = sp.csr_array(inputs.minimum(0.0) * -1.0)
        inputs = sp.csr_array(inputs.maximum(0.0))
        for mat in (inputs, negative):
            mat.eliminate_zeros()
            mat.sort_indices()
        names = economy.products.astype(str)
        if ent_labels is None:
            labels = pd.Index([f"enterprise {k}" for k in range(E0)] + [str(names[i]) for i in uncovered], dtype=object)
        else:
            labels = pd.Index([str(v) for v in ent_labels] + [str(names[i]) for i in uncovered], dtype=object)
        if labels.has_duplicates:
            # an enterprise named like a product no enterprise makes
            dup = labels.duplicated()
            labels = pd.Index([f"{v} (implicit)" if d and k >= E0 else v for k, (v, d) in enumerate(zip(labels, dup))],
                              dtype=object)
        capacity = np.concatenate([cap, default_cap[uncovered]])
        if not np.isfinite(capacity).all():
            raise InvalidEconomyError("a producer's capacity is not finite")
        labour = None if economy.labour is None else int(economy.resources.get_loc(economy.labour))
        return cls(
            products=economy.products, resources=economy.resources, labels=labels, product=product,
            ministries=pd.Index(ministries), ministry=np.asarray(pm, np.int64)[product], capacity=capacity,
            inputs=inputs, byproducts=negative, primary=primary, implicit=np.arange(product.size) >= E0,
            labour=labour,
        )

    # ------------------------------------------------------------------ sizes and sums
    @property
    def E(self) -> int:
        return int(self.product.size)

    @property
    def n(self) -> int:
        return len(self.products)

    def by_product(self, values: np.ndarray) -> np.ndarray:
        """``sum_{e: i(e)=i} values_e`` for every product (``n``)."""
        return np.bincount(self.product, weights=values, minlength=self.n)

    def by_ministry(self, values: np.ndarray) -> np.ndarray:
        """``sum_{e in ministry k} values_e`` (``M``)."""
        return np.bincount(self.ministry, weights=values, minlength=len(self.ministries))

    @cached_property
    def supply_matrix(self) -> sp.csr_array:
        """``n x E``: what a unit of each producer's output adds to each product's supply (its
        product, and its by-products)."""
        S = sp.csr_array((np.ones(self.E), (self.product, np.arange(self.E))), shape=(self.n, self.E))
        out = sp.csr_array(S + self.byproducts.T)
        out.sum_duplicates()
        out.sort_indices()
        return out

    def output_of(self, x: np.ndarray) -> np.ndarray:
        """Each product's supply from the producers at outputs ``x`` (by-products included)."""
        return np.asarray(self.supply_matrix @ x).reshape(-1)

    def input_use(self, x: np.ndarray) -> np.ndarray:
        """``sum_e a_e x_e``: each product's use by the producers at outputs ``x`` (``n``)."""
        return np.asarray(self.inputs.T @ x).reshape(-1)

    def primary_use(self, x: np.ndarray) -> np.ndarray:
        """``sum_e p_e x_e`` (``r``)."""
        return self.primary.T @ x

    @cached_property
    def pair_row(self) -> np.ndarray:
        """The producer of every stored ``(e, j)`` input pair (``nnz``)."""
        return np.repeat(np.arange(self.E), np.diff(self.inputs.indptr))

    def split(self, gross_output: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each product's gross output split among its producers in proportion to ``weights``
        (the proportional rule of :func:`gosplan.breakdown`; equal shares where the weights
        of a product are all zero)."""
        w = np.maximum(np.asarray(weights, dtype=np.float64), 0.0)
        tot = self.by_product(w)
        count = np.bincount(self.product, minlength=self.n).astype(np.float64)
        share = np.where(tot[self.product] > 0, w / np.where(tot > 0, tot, 1.0)[self.product],
                         1.0 / np.maximum(count[self.product], 1.0))
        return share * np.asarray(gross_output, dtype=np.float64)[self.product]

    def unit_costs(self, prices: np.ndarray, resource_prices: np.ndarray) -> np.ndarray:
        """``a_e . prices + p_e . resource_prices`` for every producer (``E``)."""
        return (np.asarray(self.inputs @ prices).reshape(-1) - np.asarray(self.byproducts @ prices).reshape(-1)
                + self.primary @ resource_prices)


def _default_capacity(economy: Economy, capacities: Any, slack: float) -> np.ndarray:
    from gosplan.planning.problem import planning_problem

    g = table_output(economy)
    cap = np.maximum(g, 0.0) * (1.0 + slack)
    if capacities is not None:
        given = planning_problem(economy, targets=np.zeros(economy.n_products), capacities=capacities).capacity
        cap = np.where(np.isfinite(given), given, cap)
    return cap


def table_output(economy: Economy) -> np.ndarray:
    """The table's gross output: as recorded, else ``(I - A)^{-1} y``."""
    if economy.recorded_output is not None:
        return np.asarray(economy.recorded_output, dtype=np.float64)
    return leontief_solve(economy.A, np.asarray(economy.y, dtype=np.float64))


def leontief_solve(A: sp.sparray, B: np.ndarray) -> np.ndarray:
    """``(I - A)^{-1} B`` by gosplan's Leontief solver (strongly connected components, Krylov
    on the large ones; the residual checked to 1e-12): a sparse LU of ``I - A`` fills in badly
    at 10^4 products and more."""
    from gosplan.linalg.leontief import prepare, solve

    Z, _ = solve(prepare(sp.csr_array(A)), np.asarray(B, dtype=np.float64), tol=1e-12)
    return np.asarray(Z, dtype=np.float64)

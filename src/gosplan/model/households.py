"""Households: the population as groups with CES preferences over consumer goods.

Notation: groups ``h = 0..H-1``, consumer goods ``j = 0..G-1`` (a subset of the
economy's products, :attr:`Households.goods`). Group ``h`` has ``population_h`` people,
a budget ``B_h`` and CES preferences with elasticity of substitution ``sigma_h > 0`` and
weights ``a_hj >= 0`` (each row normalised to sum to 1). At prices ``p`` it demands

.. math::

    c_{hj} = B_h \\, a_{hj} \\, p_j^{-\\sigma_h} \\Big/ \\sum_k a_{hk} p_k^{1-\\sigma_h},

the demand of the utility ``u_h(c) = (sum_j a_hj^(1/sigma) c_j^((sigma-1)/sigma))^(sigma/(sigma-1))``
(``sigma_h = 1``: Cobb--Douglas ``u_h = prod_j (c_j / a_hj)^a_hj`` with budget shares
``a_hj``), whose unit expenditure function (price index) is
``e_h(p) = (sum_j a_hj p_j^(1-sigma))^(1/(1-sigma))`` (``prod_j p_j^a_hj`` at ``sigma = 1``),
so that ``u_h(c_h(p, B)) = B / e_h(p)``.

``budget`` is ``None`` when budgets are not given: each group is then paid its
population share of the labour the plan uses (labour tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location

__all__ = ["Households", "utility", "price_index"]


@dataclass(frozen=True, eq=False)
class Households:
    """Household groups and their CES preferences.

    Attributes
    ----------
    groups:
        Group labels (``H``), unique.
    population:
        People per group (``H``), positive.
    budget:
        ``B_h`` (``H``, non-negative) in the economy's money or labour units, or ``None``:
        each group's population share of the labour the plan uses.
    elasticity:
        ``sigma_h > 0`` (``H``); ``1`` is Cobb--Douglas.
    goods:
        The consumer goods (``G`` product labels of the economy).
    weights:
        ``a`` (``H x G``, CSR, non-negative), every row summing to 1.
    source:
        Where the groups came from (a file, ``"synthetic"``, ``"default"``), for messages.
    """

    groups: pd.Index
    population: np.ndarray
    budget: np.ndarray | None
    elasticity: np.ndarray
    goods: pd.Index
    weights: sp.csr_array
    source: str = ""

    def __post_init__(self) -> None:
        groups = pd.Index(self.groups)
        if groups.has_duplicates:
            raise InvalidEconomyError(f"duplicate household group {groups[groups.duplicated()][0]!r}")
        if len(groups) == 0:
            raise InvalidEconomyError("no household groups")
        object.__setattr__(self, "groups", groups)
        goods = pd.Index(self.goods)
        if goods.has_duplicates:
            raise InvalidEconomyError(f"duplicate consumer good {goods[goods.duplicated()][0]!r}")
        object.__setattr__(self, "goods", goods)
        H, G = len(groups), len(goods)
        pop = np.asarray(self.population, dtype=np.float64).reshape(-1)
        sigma = np.asarray(self.elasticity, dtype=np.float64).reshape(-1)
        for name, arr in (("population", pop), ("elasticity", sigma)):
            if arr.shape != (H,):
                raise InvalidEconomyError(f"household {name} has {arr.size} entries for {H} groups")
        self._check_positive(pop, "population", groups)
        self._check_positive(sigma, "elasticity", groups)
        object.__setattr__(self, "population", pop)
        object.__setattr__(self, "elasticity", sigma)
        if self.budget is not None:
            budget = np.asarray(self.budget, dtype=np.float64).reshape(-1)
            if budget.shape != (H,):
                raise InvalidEconomyError(f"household budget has {budget.size} entries for {H} groups")
            bad = np.flatnonzero(~np.isfinite(budget) | (budget < 0))
            if bad.size:
                h = bad[0]
                raise InvalidEconomyError(
                    f"budget {budget[h]!r} of household group {groups[h]!r} must be finite and >= 0",
                    Location(product=str(groups[h]), key="household"),
                )
            object.__setattr__(self, "budget", budget)
        w = sp.csr_array(self.weights, dtype=np.float64)
        if w.shape != (H, G):
            raise InvalidEconomyError(f"preference weights have shape {w.shape}, expected {(H, G)}")
        w.sum_duplicates()
        w.eliminate_zeros()
        if w.nnz and (not np.isfinite(w.data).all() or (w.data < 0).any()):
            raise InvalidEconomyError("preference weights must be finite and >= 0")
        rows = np.asarray(w.sum(axis=1)).reshape(-1)
        zero = np.flatnonzero(rows <= 0)
        if zero.size:
            raise InvalidEconomyError(
                f"the preference weights of household group {groups[zero[0]]!r} sum to zero",
                Location(product=str(groups[zero[0]]), key="household"),
            )
        w = sp.csr_array(sp.diags_array(1.0 / rows) @ w)
        # Canonical (sorted, no duplicates): matrices built on these indices (consumption,
        # demand) may be sorted in place later, and must not reorder ours under our data.
        w.sum_duplicates()
        w.sort_indices()
        object.__setattr__(self, "weights", w)

    @staticmethod
    def _check_positive(arr: np.ndarray, what: str, groups: pd.Index) -> None:
        bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if bad.size:
            h = bad[0]
            raise InvalidEconomyError(
                f"{what} {arr[h]!r} of household group {groups[h]!r} must be finite and > 0",
                Location(product=str(groups[h]), key="household"),
            )

    # ------------------------------------------------------------------ views
    @property
    def H(self) -> int:
        return len(self.groups)

    @property
    def G(self) -> int:
        return len(self.goods)

    def budgets(self, total: float | None = None) -> np.ndarray:
        """``B_h``: the given budgets, or ``total`` split by population share."""
        if self.budget is not None:
            return self.budget.copy()
        if total is None:
            raise InvalidEconomyError("the households have no budgets: give the total income to split")
        return float(total) * self.population / self.population.sum()

    def with_budget(self, budget: Any) -> "Households":
        return replace(self, budget=None if budget is None else np.asarray(budget, dtype=np.float64))

    def goods_in(self, products: pd.Index) -> np.ndarray:
        """Positions of the consumer goods among ``products``; every good must be there."""
        pos = pd.Index(products).get_indexer(self.goods)
        missing = np.flatnonzero(pos < 0)
        if missing.size:
            raise InvalidEconomyError(
                f"consumer good {self.goods[missing[0]]!r} (households from {self.source or 'input'}) "
                "is not a product of the economy",
                Location(product=str(self.goods[missing[0]])),
            )
        return pos.astype(np.int64)

    def to_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``households`` (``household,population,budget,elasticity``) and ``preferences``
        (``household,product,weight``) tables."""
        hh = pd.DataFrame({"household": np.asarray(self.groups.astype(str)), "population": self.population})
        if self.budget is not None:
            hh["budget"] = self.budget
        hh["elasticity"] = self.elasticity
        coo = self.weights.tocoo()
        prefs = pd.DataFrame(
            {
                "household": np.asarray(self.groups.astype(str))[coo.row],
                "product": np.asarray(self.goods.astype(str))[coo.col],
                "weight": coo.data,
            }
        ).sort_values(["household", "product"], kind="stable", ignore_index=True)
        return hh, prefs


def price_index(households: Households, prices: np.ndarray) -> np.ndarray:
    """``e_h(p)`` (``H``): the cost of one unit of utility at prices ``p`` (``G``, positive
    wherever a group has weight)."""
    a = households.weights
    p = np.asarray(prices, dtype=np.float64)
    sigma = households.elasticity
    rows = np.repeat(np.arange(households.H), np.diff(a.indptr))
    pj = p[a.indices]
    one = np.isclose(sigma, 1.0)
    out = np.empty(households.H)
    with np.errstate(divide="ignore"):
        logs = np.bincount(rows, weights=a.data * np.log(pj), minlength=households.H)
    out[one] = np.exp(logs[one])
    s = sigma[rows]
    terms = np.bincount(rows, weights=a.data * pj ** (1.0 - s), minlength=households.H)
    out[~one] = terms[~one] ** (1.0 / (1.0 - sigma[~one]))
    return out


def utility(households: Households, consumption: sp.sparray | np.ndarray) -> np.ndarray:
    """``u_h(c_h)`` (``H``) of consumption ``c`` (``H x G``), the CES utilities above
    (homogeneous of degree one, so that ``u_h = B_h / e_h(p)`` at demand)."""
    a = households.weights
    c = sp.csr_array(consumption) if sp.issparse(consumption) else np.asarray(consumption)
    rows = np.repeat(np.arange(households.H), np.diff(a.indptr))
    cols = a.indices
    if sp.issparse(c):
        cij = np.asarray(sp.csr_array(c)[rows, cols]).reshape(-1)
    else:
        cij = c[rows, cols]
    sigma = households.elasticity
    out = np.empty(households.H)
    one = np.isclose(sigma, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.bincount(rows, weights=a.data * (np.log(cij) - np.log(a.data)), minlength=households.H)
        out[one] = np.exp(logs[one])
        s = sigma[rows]
        rho = (s - 1.0) / s
        terms = np.bincount(rows, weights=a.data ** (1.0 / s) * cij ** rho, minlength=households.H)
        rho_h = (sigma - 1.0) / sigma
        out[~one] = terms[~one] ** (1.0 / rho_h[~one])
    return out

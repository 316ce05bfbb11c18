"""Synthetic household groups with realistic spreads of income, size and taste, built
around an economy's household final demand.

:func:`synth_households` draws ``H`` groups (one seeded :class:`numpy.random.Generator`,
vectorised; the same arguments give the same groups byte for byte):

* **Incomes.** Per-capita incomes are lognormal with ``sigma = INCOME_SIGMA = 0.74``, taken at
  the mid-quantiles ``(k + 1/2) / H`` of that distribution (in random order), so the spread is
  the same at every seed: the Gini of a lognormal is ``2 Phi(sigma / sqrt 2) - 1``, 0.40 at
  0.74, the middle of the OECD's disposable-income Ginis (0.26 in Nordic countries, 0.33 in
  Germany and France, 0.35 in the UK, 0.39 in the US; OECD Income Distribution Database,
  2019-2021). Unequal group sizes make the population-weighted Gini across groups differ a
  little (0.37--0.43 for ``H >= 100``).
* **Sizes.** Populations lognormal with ``sigma = POPULATION_SIGMA = 0.5`` (the largest of
  100 groups about 10 times the smallest), scaled to sum to ``population`` (default ``H``:
  relative sizes, mean 1).
* **Budgets.** Absolute, in the economy's money units: ``B_h = population_h * income_h``, scaled
  so that the budgets sum to the households' positive final demand ``sum_j d_j`` (what the
  table's households spend). ``Households.with_budget(None)`` turns them into labour shares.
* **Elasticities.** ``sigma_h = exp(N(0, ELASTICITY_SPREAD = 0.35))`` clipped to
  ``[0.5, 2]`` (median 1, Cobb--Douglas; about 95 % within 0.5--2), the range of the
  estimates of the elasticity of substitution between broad consumption categories.
* **Tastes.** Group ``h``'s raw weight on good ``j`` is
  ``s_j * g_hj * (y_h / ybar)^(eta_j - 1)``: the economy's household mix ``s = d / sum d``,
  Dirichlet-like noise ``g_hj ~ Gamma(TASTE_SHAPE = 4) / 4`` (coefficient of variation 0.5),
  and an income tilt with income elasticities ``eta_j = exp(N(0, ENGEL_SPREAD = 0.4))`` drawn
  per good (0.45--2.2; food near 0.5, recreation near 1.5 in household budget surveys):
  necessities (``eta_j < 1``) take larger shares of poor groups' budgets, luxuries of rich
  ones'. The weights are then balanced (RAS, biproportional scaling) so that every row sums to
  1 and ``sum_h B_h a_hj = d_j``: at base prices (1 per unit of value) the groups together buy
  exactly the table's household final demand, whatever their elasticities.
* **Sparsity.** Each group buys a subset of the goods: good ``j`` with probability
  ``p_j = min(1, c * s_j^POPULARITY)`` (``POPULARITY = 0.5``; ``c`` chosen so that a group
  buys ``goods_per_group`` goods on average, default ``GOODS_PER_GROUP = 3000``), so popular
  goods are bought by more groups and the large goods by all; a good nobody drew is given to
  one random group. At ``10^5`` goods and ``1,000`` groups: about 3 million weights, generated
  in about 2 seconds. Economies with at most ``goods_per_group`` goods: every group buys every
  good.

Multi-regional tables: the household columns are summed (one world household mix).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtri

from gosplan.errors import InvalidEconomyError
from gosplan.model.economy import Economy
from gosplan.model.households import Households

__all__ = [
    "synth_households",
    "gini",
    "INCOME_SIGMA",
    "POPULATION_SIGMA",
    "ELASTICITY_SPREAD",
    "ELASTICITY_RANGE",
    "TASTE_SHAPE",
    "ENGEL_SPREAD",
    "POPULARITY",
    "GOODS_PER_GROUP",
]

INCOME_SIGMA = 0.74
"""Lognormal sigma of per-capita income across groups: Gini 0.40."""
POPULATION_SIGMA = 0.5
"""Lognormal sigma of group sizes."""
ELASTICITY_SPREAD = 0.35
"""Lognormal sigma of the elasticities of substitution around 1."""
ELASTICITY_RANGE = (0.5, 2.0)
"""Elasticities are clipped to this range."""
TASTE_SHAPE = 4.0
"""Shape ``k`` of the multiplicative Gamma(k)/k taste noise (coefficient of variation 1/sqrt k)."""
ENGEL_SPREAD = 0.4
"""Lognormal sigma of the goods' income elasticities around 1."""
POPULARITY = 0.5
"""Exponent of a good's share in the probability that a group buys it."""
GOODS_PER_GROUP = 3000
"""Mean number of goods a group buys (when the economy has more)."""
RAS_ITERATIONS = 50
_CHUNK = 1 << 24  # Bernoulli draws per block (group x good)


def gini(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Gini coefficient of ``values`` (per-capita incomes) with population ``weights``."""
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cw = np.cumsum(w)
    cxw = np.cumsum(x * w)
    # area under the Lorenz curve by trapezoids
    lorenz = cxw / cxw[-1]
    prev = np.concatenate([[0.0], lorenz[:-1]])
    return float(1.0 - np.sum(w / cw[-1] * (lorenz + prev)))


def _base(base: Any, products: Any) -> tuple[np.ndarray, pd.Index, str]:
    """(household demand d, product labels, name) of an Economy, a Series or an array."""
    if isinstance(base, Economy):
        from gosplan.io.households import _no_category, household_demand

        d = household_demand(base)
        if d is None:
            raise _no_category(base)
        return d, base.products, base.meta.name
    if isinstance(base, pd.Series):
        return base.to_numpy(dtype=np.float64), pd.Index(base.index), "base demand"
    d = np.asarray(base, dtype=np.float64).reshape(-1)
    labels = pd.RangeIndex(d.size) if products is None else pd.Index(products)
    if len(labels) != d.size:
        raise InvalidEconomyError(f"base demand has {d.size} entries for {len(labels)} products")
    return d, labels, "base demand"


def _buyers(
    rng: np.random.Generator, p: np.ndarray, H: int
) -> tuple[np.ndarray, np.ndarray]:
    """(group, good) pairs: group ``h`` buys good ``j`` with probability ``p_j``, sorted by
    group then good; every good bought by at least one group."""
    G = p.size
    always = np.flatnonzero(p >= 1.0)
    some = np.flatnonzero(p < 1.0)
    rows_parts, cols_parts = [], []
    if always.size:
        rows_parts.append(np.repeat(np.arange(H, dtype=np.int64), always.size))
        cols_parts.append(np.tile(always, H))
    if some.size:
        ps = p[some].astype(np.float32)
        step = max(1, _CHUNK // H)
        for start in range(0, some.size, step):
            block = ps[start : start + step]
            hit = rng.random((H, block.size), dtype=np.float32) < block
            r, c = np.nonzero(hit)
            rows_parts.append(r.astype(np.int64))
            cols_parts.append(some[start + c])
    rows = np.concatenate(rows_parts) if rows_parts else np.empty(0, np.int64)
    cols = np.concatenate(cols_parts) if cols_parts else np.empty(0, np.int64)
    lonely = np.flatnonzero(np.bincount(cols, minlength=G) == 0)
    if lonely.size:
        rows = np.concatenate([rows, rng.integers(0, H, lonely.size)])
        cols = np.concatenate([cols, lonely])
    order = np.lexsort((cols, rows))
    return rows[order], cols[order]


def _purchase_probability(s: np.ndarray, m: float) -> np.ndarray:
    """``p_j = min(1, c s_j^POPULARITY)`` with ``sum_j p_j = m`` (water-filling on ``c``)."""
    G = s.size
    if m >= G:
        return np.ones(G)
    q = s**POPULARITY
    order = np.argsort(-q, kind="stable")
    qs = q[order]
    tail = np.cumsum(qs[::-1])[::-1]  # sum of qs[k:]
    # the first k goods capped at 1: c = (m - k) / sum(qs[k:]); the least k with c * qs[k] <= 1
    c = (m - np.arange(G)) / tail
    k = _first_true(c * qs <= 1.0)
    return np.minimum(1.0, c[k] * q)


def _first_true(mask: np.ndarray) -> int:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else mask.size - 1


def synth_households(
    base: Economy | pd.Series | np.ndarray,
    groups: int,
    *,
    seed: int,
    products: Any = None,
    population: float | None = None,
    goods_per_group: int = GOODS_PER_GROUP,
    income_sigma: float = INCOME_SIGMA,
) -> Households:
    """``groups`` synthetic household groups around a household final demand (see the module).

    Parameters
    ----------
    base:
        An economy (its household final demand, :func:`gosplan.io.households.household_demand`),
        or the demand itself by product: a Series indexed by product label, or an array (with
        ``products`` the labels).
    groups:
        ``H >= 1``.
    seed:
        Seed of the one random generator; the same arguments give the same households.
    population:
        Total population (default ``H``: relative sizes, mean 1).
    goods_per_group:
        Mean number of goods a group buys (every group buys every good when the economy has
        no more goods than this).
    income_sigma:
        Lognormal sigma of per-capita income (Gini ``2 Phi(sigma/sqrt 2) - 1``).

    Returns
    -------
    Households
        Groups ``"h0001"``, ...; consumer goods the products with positive household demand;
        absolute budgets summing to that demand's total; ``source`` ``"synthetic ..."``.
    """
    if int(groups) != groups or groups < 1:
        raise InvalidEconomyError(f"groups must be a positive whole number, got {groups!r}")
    if goods_per_group < 1:
        raise InvalidEconomyError(f"goods_per_group must be at least 1, got {goods_per_group!r}")
    H = int(groups)
    d_all, labels, name = _base(base, products)
    if not np.isfinite(d_all).all():
        raise InvalidEconomyError("the base household demand has a value that is not finite")
    bought = np.flatnonzero(d_all > 0)
    if bought.size == 0:
        raise InvalidEconomyError(f"{name}: the household final demand has no positive entry")
    d = d_all[bought]
    total = float(d.sum())
    s = d / total
    G = d.size
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x4855]))  # "HU": households

    # incomes, sizes, budgets, elasticities -------------------------------------------------
    quantiles = (np.arange(H) + 0.5) / H
    income = np.exp(income_sigma * ndtri(quantiles))[rng.permutation(H)] if H > 1 else np.ones(1)
    people = np.exp(POPULATION_SIGMA * rng.standard_normal(H)) if H > 1 else np.ones(1)
    people *= (float(population) if population is not None else float(H)) / people.sum()
    budget = people * income
    budget *= total / budget.sum()
    per_head = budget / people
    lo, hi = ELASTICITY_RANGE
    elasticity = np.clip(np.exp(ELASTICITY_SPREAD * rng.standard_normal(H)), lo, hi) if H > 1 else np.ones(1)

    # who buys what ----------------------------------------------------------------------------
    p = _purchase_probability(s, float(goods_per_group))
    rows, cols = _buyers(rng, p, H)

    # tastes: base mix x noise x income tilt ----------------------------------------------------
    eta = np.exp(ENGEL_SPREAD * rng.standard_normal(G))
    noise = rng.gamma(TASTE_SHAPE, 1.0 / TASTE_SHAPE, rows.size)
    rel = np.log(per_head / np.exp(np.average(np.log(per_head), weights=budget)))
    x = s[cols] * noise * np.exp(rel[rows] * (eta[cols] - 1.0))
    # RAS: rows of X = B_h a_h sum to B_h, columns to d_j
    x *= budget[rows] / np.bincount(rows, weights=x, minlength=H)[rows]
    for _ in range(RAS_ITERATIONS):
        col = np.bincount(cols, weights=x, minlength=G)
        x *= (d / col)[cols]
        row = np.bincount(rows, weights=x, minlength=H)
        x *= (budget / row)[rows]
        if np.max(np.abs(np.bincount(cols, weights=x, minlength=G) / d - 1.0)) < 1e-9:
            break
    a = x / budget[rows]
    indptr = np.zeros(H + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=H), out=indptr[1:])
    idx_type = np.int32 if max(G, rows.size) < 2**31 else np.int64
    W = sp.csr_array((a, cols.astype(idx_type), indptr.astype(idx_type)), shape=(H, G))
    width = max(4, len(str(H)))
    return Households(
        groups=pd.Index([f"h{k + 1:0{width}d}" for k in range(H)], dtype=object),
        population=people,
        budget=budget,
        elasticity=elasticity,
        goods=pd.Index(labels)[bought],
        weights=W,
        source=f"synthetic: {H} groups around the household demand of {name!r}, seed {int(seed)}",
    )

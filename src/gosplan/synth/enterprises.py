"""Synthetic enterprises (and ministries) for an economy: the chain of command to plan with.

:func:`synth_enterprises` gives every product of an economy several enterprises:

* **how many**: ``1 + Poisson(per_product - 1)`` per product (at least one; mean
  ``per_product``);
* **how big**: Pareto sizes with tail index ``size_tail`` (1.5: a few giants and many small
  works); a product's capacities add up to ``(1 + headroom_i)`` times its gross output in
  the economy's own balance (``gosplan.balance``: the table's own plan), ``headroom_i``
  drawn uniformly in ``headroom`` (5-30 %), so the table's own plan is feasible;
* **how efficient**: input and labour factors ``f_e``, ``h_e`` lognormal around 1
  (``efficiency`` is the log standard deviation, correlation 0.5 between the two), then
  scaled per product so that the capacity-weighted mean is exactly 1: the table's column is
  the average enterprise, as a statistical table is;
* **own norms** for a share ``own_norms_share`` of the enterprises (at random): the table's
  column of ``A`` and ``P`` with each coefficient scaled by ``exp(N(0, efficiency))``;
  such enterprises have ``f = h = 0`` and are left out of the averaging;
* **regions** (``regions = R > 0``): enterprises placed with Zipf weights ``1/r`` (a few big
  regions), regions at random points of a 1,000 x 1,000 km square, distances Euclidean (km).

Ministries: the economy's own hierarchy's (``gosplan.load("us-2017")`` has BEA's), else
:func:`group_products`: ``ministries`` (default ``round(sqrt(n))``) ministries of
neighbouring products (table order: BEA codes and the synthetic generator's tiers put similar
products together), at random cut points.

Everything is vectorised numpy: 10^7 enterprises take about 2 seconds and 70 bytes each
at the peak (2 cores; the balance that sizes them comes on top). The same arguments give the same enterprises (each part draws from
its own stream of ``seed``, so adding regions does not change the capacities).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.model.economy import Economy
from gosplan.model.hierarchy import EnterpriseNorms, Hierarchy

__all__ = ["synth_enterprises", "group_products"]

# one random stream per part
_MINISTRIES, _COUNTS, _SIZES, _HEADROOM, _FACTORS, _NORMS, _REGIONS = range(7)


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), part])


def group_products(economy: Economy, ministries: int | None = None, *, seed: int = 0) -> Hierarchy:
    """Products in ``ministries`` ministries of neighbouring products; no enterprises.

    Parameters
    ----------
    economy:
        The economy (its products, in order).
    ministries:
        ``M``, at most the number of products; default ``round(sqrt(n))``. Ministry ``k``
        holds the ``k``-th run of products in table order, runs cut at ``M - 1`` random
        places (so ministries differ in size).
    seed:
        Random seed.
    """
    n = economy.n_products
    M = max(1, round(math.sqrt(n))) if ministries is None else int(ministries)
    if not 1 <= M <= max(n, 1):
        raise ValueError(f"ministries must be between 1 and the number of products ({n}), got {ministries}")
    cuts = np.sort(_rng(seed, _MINISTRIES).choice(n - 1, size=M - 1, replace=False)) + 1 if M > 1 else []
    product_ministry = np.zeros(n, dtype=np.int64)
    np.add.at(product_ministry, np.asarray(cuts, dtype=np.int64), 1)
    product_ministry = np.cumsum(product_ministry)
    width = len(str(M))
    return Hierarchy(
        products=economy.products,
        ministries=pd.Index([f"ministry-{k + 1:0{width}d}" for k in range(M)], dtype=object),
        product_ministry=product_ministry,
        notes=(f"{M} ministries of neighbouring products (gosplan.synth.enterprises.group_products, seed {seed})",),
    )


def _gross_output(economy: Economy) -> np.ndarray:
    from gosplan.material_balance import balance

    result = balance(economy, values=False, multipliers=False)
    result.raise_for_status()
    return np.asarray(result.gross_output, dtype=np.float64)


def synth_enterprises(
    economy: Economy,
    *,
    per_product: float = 5.0,
    seed: int = 0,
    size_tail: float = 1.5,
    headroom: tuple[float, float] = (0.05, 0.30),
    efficiency: float = 0.15,
    own_norms_share: float = 0.0,
    regions: int = 0,
    ministries: int | None = None,
    gross_output: Any = None,
) -> Economy:
    """``economy`` with synthetic enterprises in its hierarchy (see the module).

    Parameters
    ----------
    economy:
        A square economy. Its hierarchy's ministries (and sectors) are kept unless
        ``ministries`` is given; its enterprises, if any, are replaced.
    per_product:
        Mean number of enterprises per product (at least 1 each, so at least 1 on average).
    seed:
        Random seed: the same arguments give the same enterprises.
    size_tail:
        Pareto tail index of enterprise sizes (> 0; smaller is more unequal).
    headroom:
        ``(low, high)``: each product's capacity is ``1 + U(low, high)`` times its gross output.
    efficiency:
        Log standard deviation of the input and labour factors (and of own norms).
    own_norms_share:
        Share of enterprises, in ``[0, 1]``, with their own norms.
    regions:
        Number of regions (0: none).
    ministries:
        Regroup the products into this many ministries (:func:`group_products`).
    gross_output:
        ``x`` per product to size the capacities on; default the balance of the economy's
        own final demand. Negative entries count as 0 (capacity 0).

    Returns
    -------
    Economy
        ``economy.with_hierarchy(...)``: enterprises labelled ``0..E-1`` (a
        :class:`pandas.RangeIndex`), ordered by product.
    """
    if not per_product > 0 or not math.isfinite(per_product):
        raise ValueError(f"per_product must be a positive number, got {per_product}")
    if not size_tail > 0:
        raise ValueError(f"size_tail must be > 0, got {size_tail}")
    lo, hi = (float(v) for v in headroom)
    if not 0 <= lo <= hi:
        raise ValueError(f"headroom must be (low, high) with 0 <= low <= high, got {headroom}")
    if not 0 <= own_norms_share <= 1:
        raise ValueError(f"own_norms_share must be in [0, 1], got {own_norms_share}")
    if not efficiency >= 0:
        raise ValueError(f"efficiency must be >= 0, got {efficiency}")
    if regions < 0:
        raise ValueError(f"regions must be >= 0, got {regions}")
    n = economy.n_products
    base = economy.hierarchy
    if ministries is not None or base is None:
        base = group_products(economy, ministries, seed=seed)
    x = _gross_output(economy) if gross_output is None else np.asarray(gross_output, dtype=np.float64)
    if x.shape != (n,) or not np.isfinite(x).all():
        raise ValueError(f"gross_output must hold {n} finite numbers")
    x = np.maximum(x, 0.0)

    # how many per product, and whose
    counts = 1 + _rng(seed, _COUNTS).poisson(per_product - 1.0, size=n) if per_product > 1 else np.ones(n, np.int64)
    counts = counts.astype(np.int64)
    E = int(counts.sum())
    product = np.repeat(np.arange(n, dtype=np.int64), counts)

    # sizes: Pareto shares of (1 + headroom) x
    size = _rng(seed, _SIZES).pareto(size_tail, size=E)
    size += 1.0
    total = np.bincount(product, weights=size, minlength=n)
    room = 1.0 + _rng(seed, _HEADROOM).uniform(lo, hi, size=n)
    size *= (room * x / total)[product]
    capacity = size
    del size, total

    # own norms: a random share of the enterprises
    rng = _rng(seed, _NORMS)
    own = np.flatnonzero(rng.random(E) < own_norms_share) if own_norms_share > 0 else np.zeros(0, np.int64)
    norms = _own_norms(economy, product[own], own, rng, efficiency) if own.size else None

    # factors around 1, capacity-weighted mean 1 per product among enterprises without own norms
    rng = _rng(seed, _FACTORS)
    z1 = rng.standard_normal(E)
    z2 = rng.standard_normal(E)
    z2 *= math.sqrt(0.75)
    z2 += 0.5 * z1
    factors = []
    for z in (z1, z2):
        f = np.exp(efficiency * z, out=z)
        if own.size:
            f[own] = 0.0
        weighted = np.bincount(product, weights=capacity * f, minlength=n)
        weight = np.bincount(product, weights=capacity * (f > 0), minlength=n)
        mean = np.divide(weighted, weight, out=np.ones(n), where=weighted > 0)
        f /= mean[product]
        factors.append(f)
    del z1, z2

    # regions
    region_labels = enterprise_region = distances = None
    if regions:
        rng = _rng(seed, _REGIONS)
        weights = 1.0 / np.arange(1, regions + 1)
        enterprise_region = rng.choice(regions, size=E, p=weights / weights.sum()).astype(np.int64)
        points = rng.uniform(0.0, 1000.0, size=(regions, 2))
        distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
        width = len(str(regions))
        region_labels = pd.Index([f"region-{r + 1:0{width}d}" for r in range(regions)], dtype=object)

    note = (
        f"synthetic enterprises (gosplan.synth.enterprises): per_product={per_product:g}, seed={seed}, "
        f"size_tail={size_tail:g}, headroom=[{lo:g}, {hi:g}] over the "
        f"{'balance' if gross_output is None else 'given'} gross output, efficiency={efficiency:g}, "
        f"own_norms_share={own_norms_share:g}, regions={regions}"
    )
    hierarchy = Hierarchy(
        products=economy.products,
        ministries=base.ministries,
        product_ministry=base.product_ministry,
        enterprises=pd.RangeIndex(E),
        enterprise_product=product,
        capacity=capacity,
        input_factor=factors[0],
        labour_factor=factors[1],
        norms=norms,
        sectors=base.sectors,
        ministry_names=base.ministry_names,
        sector_names=base.sector_names,
        ministry_sector=base.ministry_sector,
        regions=region_labels,
        enterprise_region=enterprise_region,
        distances=distances,
        notes=tuple(base.notes) + (note,),
    )
    return economy.with_hierarchy(hierarchy)


def _own_norms(
    economy: Economy, products: np.ndarray, own: np.ndarray, rng: np.random.Generator, sigma: float
) -> EnterpriseNorms:
    """Rows ``k``: the columns ``products[k]`` of ``A`` and ``P``, each entry times ``exp(N(0, sigma))``."""
    mats = []
    for M in (sp.csc_array(economy.A), sp.csc_array(economy.primary)):
        M.sum_duplicates()
        starts, lengths = M.indptr[products], np.diff(M.indptr)[products]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        take = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        data = M.data[take] * np.exp(sigma * rng.standard_normal(take.size))
        mats.append(sp.csr_array((data, M.indices[take], indptr), shape=(own.size, M.shape[0])))
    return EnterpriseNorms(enterprise=own, inputs=mats[0], primary=mats[1])

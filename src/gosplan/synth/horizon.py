"""Cockshott's random test economies for multi-year plans (``testeconomy`` of ``wc22m/5yearplan``).

For ``n`` sectors, each cell ``(i, j)`` (input ``i``, industry ``j``) is drawn with
probability ``(log2 n + 5) / n`` (about ``log2 n + 5`` inputs per industry); a drawn cell
gets a random integer ``R``:

* a flow ``Z[i, j] = R & 3`` (1 or 3) when ``R`` is odd;
* a capital stock ``K[i, j] = R & 7`` (2, 3, 6 or 7) when bit 1 of ``R`` is set;
* depreciation ``delta = 0.07`` everywhere;
* ``netuse[i] = sum_j Z[i, j] + 0.07 sum_j K[i, j]`` (in single precision, as Java's
  ``float``); base-year output ``x0[j] = 2 floor(netuse[j])``; labour ``U{1..9}`` per
  industry;
* targets ``floor(0.9 netuse[i])`` in year 1, ``netuse`` growing 3 % a year; labour supply
  ``sum_j labour[j]`` in year 1, growing 2 % a year (truncated to an integer each year).

Industries whose output is zero (no one uses their product) cannot be operated.
Random numbers come from numpy (``seed``), not Java's generator: the same family of
economies, not his files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.model.economy import Economy, EconomyMeta
from gosplan.model.horizon import Horizon

__all__ = ["cockshott_economy"]

DEPRECIATION = 0.07


def _cells(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The drawn cells ``(i, j)``, each with probability ``min(1, (log2 n + 5) / n)``."""
    p = min(1.0, (np.log2(n) + 5.0) / n) if n > 1 else 1.0
    counts = rng.binomial(n, p, size=n)
    rows = np.repeat(np.arange(n), counts)
    cols = np.empty(rows.size, dtype=np.int64)
    start = 0
    for i, k in enumerate(counts):  # distinct columns per row
        cols[start:start + k] = rng.choice(n, size=k, replace=False) if k else ()
        start += k
    return rows, cols


def cockshott_economy(n: int, years: int = 5, *, seed: int) -> Horizon:
    """A random ``n``-sector economy with capital stocks and a ``years``-year path (see the module).

    >>> h = cockshott_economy(50, 5, seed=1)
    >>> h.economy.n_products, h.n_years
    (50, 5)
    """
    if n < 1 or years < 1:
        raise ValueError(f"need n >= 1 and years >= 1, got n={n}, years={years}")
    rng = np.random.default_rng(seed)
    rows, cols = _cells(n, rng)
    R = rng.integers(0, 2**31, size=rows.size)
    zf = np.where(R & 1, R & 3, 0).astype(np.float64)
    kf = np.where(R & 2, R & 7, 0).astype(np.float64)
    Z = sp.csr_array((zf, (rows, cols)), shape=(n, n))
    K = sp.csr_array((kf, (rows, cols)), shape=(n, n))
    Z.eliminate_zeros()
    K.eliminate_zeros()
    netuse = (np.asarray(Z.sum(axis=1)).ravel() + DEPRECIATION * np.asarray(K.sum(axis=1)).ravel()).astype(np.float32)
    x0 = 2.0 * np.floor(netuse.astype(np.float64))
    labour = rng.integers(1, 10, size=n).astype(np.float64)
    inv = np.divide(1.0, x0, out=np.zeros(n), where=x0 > 0)
    A = sp.csr_array(Z @ sp.diags_array(inv))
    targets = np.empty((n, years))
    supply = np.empty(years)
    total = float(labour.sum())
    nu = netuse.copy()
    for t in range(years):
        targets[:, t] = np.floor(0.9 * nu.astype(np.float64))
        nu = (nu * np.float32(1.03)).astype(np.float32)
        supply[t] = total
        total = float(np.floor(total * 1.02))
    products = pd.Index([f"P{i}" for i in range(n)])
    year_labels = pd.Index([f"year{t + 1}" for t in range(years)])
    meta = EconomyMeta(
        name=f"cockshott-random-{n}",
        units="physical units (per product)",
        labour_unit="labour",
        source=f"gosplan.synth.horizon.cockshott_economy(n={n}, years={years}, seed={seed})",
    )
    economy = Economy.from_coefficients(
        A, products=products, l=labour * inv, y=targets[:, 0], recorded_output=x0, meta=meta
    )
    idle = int((x0 == 0).sum())
    notes = (f"{idle} industries with zero base output (their product is used by no one) are not operated",) if idle else ()
    return Horizon(
        economy=economy,
        capital=K,
        depreciation=sp.csr_array((np.full(K.nnz, DEPRECIATION), K.indices, K.indptr), shape=K.shape),
        base_output=x0,
        years=year_labels,
        labour_supply=supply,
        targets=targets,
        notes=notes,
    )

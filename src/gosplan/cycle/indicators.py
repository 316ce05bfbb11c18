"""Per-capita indicators of one period: consumption, labour and welfare per head by group,
and inequality across groups.

* consumption per head: ``sum_j v_j c_hj / population_h``, valued at fixed reference
  prices ``v`` (the economy's base-year labour values, the same for every rule, so that
  figures are comparable across rules on one economy);
* labour per head: the labour a group is paid for (its budget share of the labour the
  plan uses) per head;
* money-metric welfare per head: ``e_h(v) u_h(c_h) / population_h``, the income that buys
  the group's utility at the reference prices;
* Gini of per-capita consumption across groups, each weighted by its population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.model.households import Households, price_index, utility

__all__ = ["gini", "group_indicators"]


def gini(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Population-weighted Gini coefficient of ``values`` (``0`` equal, toward ``1`` unequal).

    ``G = sum_ab w_a w_b |x_a - x_b| / (2 (sum w)^2 mean_w(x))``, computed in ``O(n log n)``.

    >>> round(gini(np.array([1.0, 1.0, 1.0])), 12)
    0.0
    >>> round(gini(np.array([0.0, 1.0]), np.array([1.0, 1.0])), 12)
    0.5
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum()
    mean = float(w @ x) / total
    if not np.isfinite(mean) or mean <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cum_w = np.cumsum(w) - w  # weight strictly below each entry
    cum_wx = np.cumsum(w * x) - w * x
    # sum_{a,b} w_a w_b |x_a - x_b| = 2 sum_a w_a (x_a W_below - (wx)_below)
    s = 2.0 * float(np.sum(w * (x * cum_w - cum_wx)))
    return s / (2.0 * total * total * mean)


def group_indicators(
    households: Households,
    consumption: sp.sparray,
    budgets: np.ndarray,
    reference: np.ndarray,
    labour_used: float | None,
    unspent: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per group: ``household, population, budget, consumption_per_head,
    labour_per_head, welfare_per_head, unspent``."""
    C = sp.csr_array(consumption)
    pop = households.population
    value = np.asarray(C @ reference).reshape(-1)
    u = utility(households, C)
    e = price_index(households, reference)
    welfare = np.where(np.isfinite(u), u * e, 0.0)
    share = budgets / budgets.sum() if budgets.sum() > 0 else np.zeros_like(budgets)
    labour = share * labour_used if labour_used is not None else np.full(households.H, np.nan)
    return pd.DataFrame(
        {
            "household": np.asarray(households.groups.astype(str)),
            "population": pop,
            "budget": budgets,
            "consumption_per_head": value / pop,
            "labour_per_head": labour / pop,
            "welfare_per_head": welfare / pop,
            "unspent": np.zeros(households.H) if unspent is None else unspent,
        }
    )

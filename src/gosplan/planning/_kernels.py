"""Numba kernel of the Leontief method's policy iteration: every product's cheapest technique.

Compiled on first use and cached on disk (and shipped in the wheel by ``gosplan.precompile``).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gosplan._jit import njit


@njit(parallel=True)
def cheapest_techniques(tech_ptr, techs, use_ptr, use_rows, use_data, w, out, pi, products, current,
                        choice, best, cost_now):  # pragma: no cover - compiled
    """For every product ``i = products[a]``: the technique ``j`` making it
    (``techs[tech_ptr[a]:tech_ptr[a+1]]``) with the least unit cost ``q_j = (w_j + U_j' pi) / O_j``
    (the first listed on ties), that cost, and the cost of its current technique ``current[i]``, in
    ``choice[a]``, ``best[a]``, ``cost_now[a]``; ``-1``, ``inf``, ``inf`` where nothing makes ``i``.
    ``U_j`` is the ``e``-th column of ``(use_ptr, use_rows, use_data)`` for ``j = techs[e]``: the
    techniques' inputs laid out in the order they are priced. One pass, in parallel over products:
    ``U^T pi``, the division and the choice fused. The caller passes only the products with a
    choice to make (several techniques): a product of one technique keeps it at any prices."""
    for a in prange(products.shape[0]):
        i = products[a]
        arg = -1
        low = np.inf
        now = np.inf
        for e in range(tech_ptr[a], tech_ptr[a + 1]):
            j = techs[e]
            acc = w[j]
            for f in range(use_ptr[e], use_ptr[e + 1]):
                acc += use_data[f] * pi[use_rows[f]]
            q = acc / out[j]
            if q < low:
                low = q
                arg = j
            if j == current[i]:
                now = q
        choice[a] = arg
        best[a] = low
        cost_now[a] = now


@njit(parallel=True)
def column_totals(G, choice, product_of, out, p_ptr, p_cols, p_data, base_cost, use, cost):  # pragma: no cover
    """What a plan of technique choice ``choice`` uses: for gross outputs ``G`` (``n x k``) the
    level of technique ``j`` is ``x_j = G_{i(j)} / O_j`` where ``choice[i(j)] = j`` (else 0), and
    ``use[q, r] = sum_j P_rj x_jq`` (``P``'s rows: ``p_ptr, p_cols, p_data``), ``cost[q] = sum_i
    c_{B(i)} x_{B(i)q}``. In parallel over chunks of products and of each row's coefficients,
    each chunk with its own partial sums: the levels of every technique are never formed."""
    n, k = G.shape
    chunks = 64
    part_cost = np.zeros((chunks, k))
    for c in prange(chunks):
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            b = choice[i]
            for q in range(k):
                part_cost[c, q] += base_cost[b] * G[i, q] / out[b]
    for c in range(chunks):
        for q in range(k):
            cost[q] += part_cost[c, q]
    rows = p_ptr.shape[0] - 1
    part_use = np.zeros((chunks, k))
    for r in range(rows):
        lo, hi = p_ptr[r], p_ptr[r + 1]
        part_use[:] = 0.0
        for c in prange(chunks):
            for e in range(lo + c * (hi - lo) // chunks, lo + (c + 1) * (hi - lo) // chunks):
                j = p_cols[e]
                i = product_of[j]
                if choice[i] == j:
                    for q in range(k):
                        part_use[c, q] += p_data[e] * G[i, q] / out[j]
        for c in range(chunks):
            for q in range(k):
                use[q, r] += part_use[c, q]

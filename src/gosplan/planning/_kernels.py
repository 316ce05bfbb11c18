"""Numba kernel of the Leontief method's policy iteration: every product's cheapest technique.

Compiled on first use and cached on disk (and shipped in the wheel by ``gosplan.precompile``).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gosplan._jit import njit


@njit(parallel=True)
def cheapest_techniques(make_ptr, make_tech, use_ptr, use_rows, use_data, w, out, pi, current,
                        choice, best, cost_now):  # pragma: no cover - compiled
    """For every product ``i``: the technique ``j`` making it (``make_tech[make_ptr[i]:make_ptr[i+1]]``)
    with the least unit cost ``q_j = (w_j + U_j' pi) / O_j`` (the first listed on ties), that
    cost, and the cost of its current technique ``current[i]``; ``-1``, ``inf``, ``inf`` where
    nothing makes ``i``. One pass over ``U``'s columns of the techniques, in parallel over
    products: ``U^T pi``, the division and the choice fused."""
    n = make_ptr.shape[0] - 1
    for i in prange(n):
        arg = -1
        low = np.inf
        now = np.inf
        for e in range(make_ptr[i], make_ptr[i + 1]):
            j = make_tech[e]
            acc = w[j]
            for f in range(use_ptr[j], use_ptr[j + 1]):
                acc += use_data[f] * pi[use_rows[f]]
            q = acc / out[j]
            if q < low:
                low = q
                arg = j
            if j == current[i]:
                now = q
        choice[i] = arg
        best[i] = low
        cost_now[i] = now

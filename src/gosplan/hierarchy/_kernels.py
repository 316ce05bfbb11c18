"""Numba kernels of the breakdown: stable grouping, segmented sums, the north-west corner.

Every kernel is O(size of its input), compiled on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np

from gosplan._jit import njit


@njit
def counting_order(keys, nkeys):  # pragma: no cover - compiled
    """Stable order of ``keys`` (integers in ``[0, nkeys)``) by key: a counting sort."""
    start = np.zeros(nkeys + 1, np.int64)
    for k in keys:
        start[k + 1] += 1
    for k in range(nkeys):
        start[k + 1] += start[k]
    out = np.empty(keys.size, np.int64)
    for idx in range(keys.size):
        k = keys[idx]
        out[start[k]] = idx
        start[k] += 1
    return out


@njit
def exclusive_group_cumsum(groups, values):  # pragma: no cover - compiled
    """Sum of ``values`` before each item within its run of equal ``groups`` (sorted)."""
    out = np.empty(values.size, np.float64)
    acc = 0.0
    for k in range(values.size):
        if k == 0 or groups[k] != groups[k - 1]:
            acc = 0.0
        out[k] = acc
        acc += values[k]
    return out


@njit
def nw_merge(ga, qa, gb, qb):  # pragma: no cover - compiled
    """North-west corner rule within groups.

    ``a`` items (groups ``ga``, quantities ``qa >= 0``) are matched with ``b`` items
    (``gb``, ``qb >= 0``); both lists sorted by group. Within a group the first ``a``
    item serves the first ``b`` item until one of them is exhausted, then the next,
    and so on: at most ``|a| + |b| - 1`` links per group. Each step subtracts the
    amount from the remaining quantity of one side and zeroes the other exactly, so
    an item's links add up to its quantity to the rounding of its own size.

    When a group's two totals differ (by rounding), what remains of an item once the
    other side of its group is exhausted goes to the group's last link (its own
    balance stays exact; the partner takes the difference): ``absorbed`` sums it.
    Items whose group has no partner at all are left out: ``lost`` sums them.

    Returns ``(ia, ib, amount, absorbed, lost)``.
    """
    na = qa.size
    nb = qb.size
    cap = na + nb + 1
    ia = np.empty(cap, np.int64)
    ib = np.empty(cap, np.int64)
    amt = np.empty(cap, np.float64)
    k = 0
    i = 0
    j = 0
    ra = qa[0] if na > 0 else 0.0
    rb = qb[0] if nb > 0 else 0.0
    absorbed = 0.0
    lost = 0.0
    while i < na or j < nb:
        if i < na and (j >= nb or ga[i] < gb[j]):
            # a item i has no partner left in its group
            if ra > 0.0:
                if k > 0 and ga[ia[k - 1]] == ga[i]:
                    if ia[k - 1] == i:
                        amt[k - 1] += ra
                    else:
                        ia[k] = i
                        ib[k] = ib[k - 1]
                        amt[k] = ra
                        k += 1
                    absorbed += ra
                else:
                    lost += ra
            i += 1
            ra = qa[i] if i < na else 0.0
            continue
        if j < nb and (i >= na or gb[j] < ga[i]):
            if rb > 0.0:
                if k > 0 and gb[ib[k - 1]] == gb[j]:
                    if ib[k - 1] == j:
                        amt[k - 1] += rb
                    else:
                        ia[k] = ia[k - 1]
                        ib[k] = j
                        amt[k] = rb
                        k += 1
                    absorbed += rb
                else:
                    lost += rb
            j += 1
            rb = qb[j] if j < nb else 0.0
            continue
        # same group
        if ra <= rb:
            if ra > 0.0:
                ia[k] = i
                ib[k] = j
                amt[k] = ra
                k += 1
            rb -= ra
            i += 1
            ra = qa[i] if i < na else 0.0
        else:
            if rb > 0.0:
                ia[k] = i
                ib[k] = j
                amt[k] = rb
                k += 1
            ra -= rb
            j += 1
            rb = qb[j] if j < nb else 0.0
    return ia[:k], ib[:k], amt[:k], absorbed, lost


@njit
def peel_forest(n_nodes, margin, eu, ev, hint):  # pragma: no cover - compiled
    """Flows on the edges ``(eu[k], ev[k])`` that meet the node ``margin`` s exactly.

    The edges are the support of a basic (vertex) solution of a transportation
    problem: a forest, on which the margins determine the flows. Leaves are peeled
    off one by one: a leaf's only edge carries what the leaf still needs, which is
    then taken from the other end. If rounding left a cycle, its edge with the least
    ``hint`` (the solver's flow) is dropped. Returns ``(flow, cycles_broken)``.
    """
    m = eu.size
    deg = np.zeros(n_nodes, np.int64)
    for k in range(m):
        deg[eu[k]] += 1
        deg[ev[k]] += 1
    start = np.zeros(n_nodes + 1, np.int64)
    for v in range(n_nodes):
        start[v + 1] = start[v] + deg[v]
    fill = start[:-1].copy()
    adj = np.empty(2 * m, np.int64)
    for k in range(m):
        adj[fill[eu[k]]] = k
        fill[eu[k]] += 1
        adj[fill[ev[k]]] = k
        fill[ev[k]] += 1
    alive = np.ones(m, np.bool_)
    rem = margin.copy()
    flow = np.zeros(m, np.float64)
    stack = np.empty(n_nodes + 2 * m + 1, np.int64)
    top = 0
    for v in range(n_nodes):
        if deg[v] == 1:
            stack[top] = v
            top += 1
    left = m
    broken = 0
    while left > 0:
        if top == 0:
            # a cycle: drop its alive edge with the least hint
            best = -1
            for k in range(m):
                if alive[k] and (best < 0 or hint[k] < hint[best]):
                    best = k
            alive[best] = False
            left -= 1
            broken += 1
            for v in (eu[best], ev[best]):
                deg[v] -= 1
                if deg[v] == 1:
                    stack[top] = v
                    top += 1
            continue
        top -= 1
        v = stack[top]
        if deg[v] != 1:
            continue
        k = -1
        for p in range(start[v], start[v + 1]):
            if alive[adj[p]]:
                k = adj[p]
                break
        w = ev[k] if eu[k] == v else eu[k]
        flow[k] = max(0.0, rem[v])
        rem[w] -= flow[k]
        rem[v] = 0.0
        alive[k] = False
        left -= 1
        deg[v] = 0
        deg[w] -= 1
        if deg[w] == 1:
            stack[top] = w
            top += 1
    return flow, broken

"""The enterprise-level program written out directly from a Hierarchy's fields, column by
column in plain Python (independent of gosplan.decompose), solved by HiGHS via scipy.

Columns: one per enterprise (capacity ``C_e``; technique ``a_e = f_e A[:, i] + N_e``,
``p_e = h_e P[:, i] + Q_e``), one per product no enterprise makes (its table column, no
bound), then ``z`` for the fulfilment objective.

* fulfilment: max z  s.t.  sum_e (o_e - a_e) x_e >= z y + floor-part,  P x <= R;
* cost:       min c' P x  s.t.  sum_e (o_e - a_e) x_e >= y,  P x <= R.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog


def columns(economy, hierarchy):
    A = economy.A.toarray()
    P = economy.primary.toarray()
    n, r = A.shape[0], P.shape[0]
    own = {}
    if hierarchy.norms is not None:
        N = hierarchy.norms.inputs.toarray()
        Q = hierarchy.norms.primary.toarray()
        for k, e in enumerate(hierarchy.norms.enterprise):
            own[int(e)] = (N[k], Q[k])
    makes, inputs, prim, upper = [], [], [], []
    for e in range(hierarchy.n_enterprises):
        i = int(hierarchy.enterprise_product[e])
        a = hierarchy.input_factor[e] * A[:, i]
        p = hierarchy.labour_factor[e] * P[:, i]
        if e in own:
            a = a + own[e][0]
            p = p + own[e][1]
        makes.append(i)
        inputs.append(a)
        prim.append(p)
        upper.append(hierarchy.capacity[e])
    for i in range(n):
        if not hierarchy.covered[i]:
            makes.append(i)
            inputs.append(A[:, i])
            prim.append(P[:, i])
            upper.append(np.inf)
    m = len(makes)
    O = np.zeros((n, m))
    O[makes, np.arange(m)] = 1.0
    U = np.array(inputs).T if m else np.zeros((n, 0))
    Pm = np.array(prim).T if m else np.zeros((r, 0))
    return O - U, Pm, np.array(upper)


def solve(economy, hierarchy, *, objective="fulfilment", targets, available, cost=None, floor=None):
    """Optimum of the enterprise-level program and the plan (x, z); ``floor``: lower bounds on
    the net output of untargeted products (default 0)."""
    N, Pm, upper = columns(economy, hierarchy)
    n, m = N.shape
    floor = np.zeros(n) if floor is None else np.where(targets > 0, 0.0, floor)
    limited = np.flatnonzero(np.isfinite(available))
    bounds = [(0.0, None if not np.isfinite(u) else float(u)) for u in upper]
    if objective == "fulfilment":
        c = np.zeros(m + 1)
        c[-1] = -1.0
        A_ub = np.vstack([np.hstack([-N, targets.reshape(-1, 1)]), np.hstack([Pm[limited], np.zeros((limited.size, 1))])])
        b_ub = np.concatenate([-floor, available[limited]])
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds + [(0.0, None)], method="highs")
        assert res.status == 0, res.message
        return -res.fun, res.x[:m], res.x[-1]
    c = Pm.T @ cost
    A_ub = np.vstack([-N, Pm[limited]])
    b_ub = np.concatenate([-np.where(targets > 0, targets, floor), available[limited]])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.fun, res.x, None

"""An independent reference: the Eisenberg–Gale program with production, in cvxpy + Clarabel.

``max sum_h B_h log u_h(c_h)`` over household consumption ``c_h >= 0`` and activity
levels ``x >= 0`` subject to ``(O - U) x - sum_h c_h >= committed`` (consumer goods; the
other products ``(O - U)_i x >= committed_i``), ``P_r x <= R_r`` for the limited resources and
``O_i x <= cap_i`` for the capacities. ``u_h`` is the CES utility whose demand is
``c_hj = B_h a_hj p_j^-sigma / sum_k a_hk p_k^(1 - sigma)``:
``u = (sum_j a_j^(1/sigma) c_j^((sigma-1)/sigma))^(sigma/(sigma-1))``, i.e. the p-norm
``(1/rho) log sum_j a_j^(1/sigma) c_j^rho`` in logs for ``sigma > 1`` (``rho = (sigma-1)/sigma``),
for ``sigma < 1`` (``rho < 0``) the hypograph ``u >= t`` as ``sum_j a_j^(1/sigma) r_j <= t`` with
power cones ``r_j c_j^(q-1) >= t^q``, ``q = 1 - rho`` (weights stay outside the powers, so tiny
ones are harmless), and ``sum_j a_j log(c_j / a_j)`` at ``sigma = 1``.

Written from the formulas, sharing no code with gosplan (the benchmarks import it too).
Its solution is the competitive equilibrium the consumer-feedback loop must reach.
"""

from __future__ import annotations

import numpy as np
VERBOSE = False
import scipy.sparse as sp


def eisenberg_gale(*args, passes: int = 2, **kwargs):
    """:func:`_solve`, then again in the units of its answer (activity levels and
    consumption totals, floored at a range of fractions of their largest): Clarabel stops
    short ("almost solved") on the raw magnitudes of real tables and is sensitive to these
    units. Of the answers, the one whose consumption best matches the CES demand at its own
    prices (:func:`self_error`, measured here with the formula) is returned, with that error
    as a fifth value."""
    import cvxpy as cp

    net, make, primary, available, capacity, committed, goods, weights, elasticity, budgets = args[:10]
    B = np.asarray(budgets, dtype=float) / np.sum(budgets)
    best = None
    first = None
    for floor in (0.0, 1e-3, 1e-2):  # the raw units, then floored (tiny units fail on us-2017)
        kw = dict(kwargs)
        for key in ("x_scale", "c_scale"):
            if kw.get(key) is not None:
                kw[key] = np.maximum(kw[key], floor * np.max(kw[key]))
        try:
            first = _solve(*args, **kw)
            break
        except (cp.error.SolverError, RuntimeError):
            continue
    if first is None:
        raise RuntimeError("Eisenberg-Gale reference: Clarabel failed in every set of units")
    tries = [first]
    if passes > 1:
        C, total, prices, mu, x = first
        for fx, fc in ((1e-3, 1e-1), (1e-2, 1e-2), (1e-1, 1e-3), (1e-3, 1e-3)):
            kw = dict(kwargs, x_scale=np.maximum(x, fx * x.max()), c_scale=np.maximum(total, fc * total.max()))
            try:
                tries.append(_solve(*args, **kw))
            except (cp.error.SolverError, RuntimeError):
                continue
    for out in tries:
        err = self_error(out[0], out[2], weights, elasticity, B)
        if best is None or err < best[1]:
            best = (out, err)
    out, err = best
    return (*out[:4], err)


def self_error(consumption, prices, weights, elasticity, budgets):
    """Largest relative gap between the answer's consumption and the CES demand
    ``B_h a_hj p_j^-sigma / sum_k a_hk p_k^(1-sigma)`` at its own prices (budgets summing to one;
    the demand is rescaled to the answer's total, as the prices' level is the duals')."""
    demand = np.empty_like(consumption)
    for h in range(weights.shape[0]):
        a = weights[h] / weights[h].sum()
        s = elasticity[h]
        demand[h] = budgets[h] * a * prices ** (-s) / np.sum(a * prices ** (1.0 - s))
    demand *= consumption.sum() / demand.sum()
    total, dtotal = consumption.sum(axis=0), demand.sum(axis=0)
    return float(np.max(np.abs(dtotal - total) / total))


def _solve(
    net: sp.sparray,
    make: sp.sparray,
    primary: sp.sparray,
    available: np.ndarray,
    capacity: np.ndarray,
    committed: np.ndarray,
    goods: np.ndarray,
    weights: np.ndarray,
    elasticity: np.ndarray,
    budgets: np.ndarray,
    x_scale: np.ndarray | None = None,
    c_scale: np.ndarray | None = None,
):
    """Solve; returns ``(consumption H x G, total G, prices G, resource duals)``.

    ``net = O - U`` (n x m), ``make = O``, ``primary = P`` (r x m), ``available`` (r, inf where
    unlimited), ``capacity`` (n, inf where none), ``committed`` (n), ``goods`` (G product
    indices), ``weights`` (H x G dense, rows summing to 1), ``elasticity`` (H), ``budgets`` (H).
    ``x_scale`` (m) and ``c_scale`` (G): typical magnitudes of activity levels and of each
    good's total consumption (the program is solved in these units, rows scaled to unit size;
    Clarabel fails on the raw BEA magnitudes). Budgets are normalised to sum to one (the
    equilibrium consumption does not depend on their level).
    """
    import cvxpy as cp

    n, m = net.shape
    H, G = weights.shape
    sx = np.ones(m) if x_scale is None else np.maximum(np.asarray(x_scale, dtype=float), 1e-9 * np.max(x_scale))
    sc = np.ones(G) if c_scale is None else np.asarray(c_scale, dtype=float)
    budgets = np.asarray(budgets, dtype=float) / np.sum(budgets)
    Nx = sp.csr_array(net) @ sp.diags_array(sx)
    E = sp.csr_array((sc, (goods, np.arange(G))), shape=(n, G))
    rb = 1.0 / np.maximum(np.maximum(abs(Nx).max(axis=1).toarray().ravel(), np.abs(committed)), 1e-300)
    x = cp.Variable(m, nonneg=True)
    C = cp.Variable((H, G), nonneg=True)
    balance = sp.diags_array(rb) @ Nx @ x - sp.diags_array(rb) @ E @ cp.sum(C, axis=0) >= rb * committed
    cons = [balance]
    lim = np.flatnonzero(np.isfinite(available))
    res = None
    if lim.size:
        rr = 1.0 / np.asarray(available[lim], dtype=float)
        res = sp.diags_array(rr) @ (sp.csr_array(primary)[lim] @ sp.diags_array(sx)) @ x <= 1.0
        cons.append(res)
    cap = np.flatnonzero(np.isfinite(capacity))
    if cap.size:
        rc = 1.0 / np.asarray(capacity[cap], dtype=float)
        cons.append(sp.diags_array(rc) @ (sp.csr_array(make)[cap] @ sp.diags_array(sx)) @ x <= 1.0)
    terms = []
    for h in range(H):
        a = weights[h]
        buys = np.flatnonzero(a > 0)
        s = float(elasticity[h])
        if abs(s - 1.0) < 1e-12:
            terms.append(budgets[h] * (a[buys] @ cp.log(cp.multiply(sc[buys], C[h, buys]))))
        elif s > 1.0:  # log u = (1/rho) log sum_j a_j^(1/sigma) c_j^rho, rho in (0, 1): concave
            rho = (s - 1.0) / s
            coef = a[buys] ** (1.0 / s) * sc[buys] ** rho
            terms.append(budgets[h] / rho * cp.log(coef @ cp.power(C[h, buys], rho)))
        else:  # rho < 0: u >= t  <=>  sum_j a_j^(1/sigma) r_j <= t with r_j >= t^q c_j^(1-q), q = 1 - rho
            rho = (s - 1.0) / s
            q = 1.0 - rho
            t = cp.Variable(pos=True)
            r = cp.Variable(buys.size, nonneg=True)
            c = cp.multiply(sc[buys], C[h, buys])
            # power cone r^(1/q) c^(1 - 1/q) >= |t|, i.e. r c^(q-1) >= t^q
            cons.append(cp.constraints.PowCone3D(r, c, cp.hstack([t] * buys.size), 1.0 / q))
            cons.append(a[buys] ** (1.0 / s) @ r <= t)
            terms.append(budgets[h] * cp.log(t))
    problem = cp.Problem(cp.Maximize(cp.sum(cp.hstack(terms))), cons)
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=500, verbose=VERBOSE)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"Eisenberg-Gale reference: {problem.status}")
    consumption = np.maximum(C.value, 0.0) * sc[None, :]
    prices = (np.asarray(balance.dual_value) * rb)[goods]
    mu = np.zeros(len(available))
    if res is not None:
        mu[lim] = np.asarray(res.dual_value) * rr
    return consumption, consumption.sum(axis=0), prices, mu, np.maximum(x.value, 0.0) * sx

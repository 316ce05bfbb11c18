"""An exact finish for the Leontief method: the program restricted to the techniques the
master mixes, solved in the space of their substitutions.

Dantzig–Wolfe mixes whole plans: the master's plan is a convex combination of the plans
``g_k = (I - A_{B_k})^{-1} (h + z d)`` of technique choices ``B_k``, and its last digits come
one round per new choice (the tail of a 10^6-product plan: the bound meets the optimum long
before the master's plan does). The program's optimum, though, runs one technique per product
except on at most as many products as linking rows bind (resources and capacities).

Take the choice ``B`` of the master's heaviest column and the set ``J`` of the other techniques
its weighted columns run. Every plan on ``B ∪ J`` that makes ``h + z d`` exactly has ``B``'s
gross outputs

    g(z, t) = (I - A_B)^{-1} (h + z d - sum_j t_j a_j),   t >= 0,

with ``a_j = O_j e_i(j) - U_j`` the net output of technique ``j`` per unit of activity: one
Leontief solve per technique in ``J`` (eight a solve), ``(I - A_B)^{-1} h`` and ``(I - A_B)^{-1}
d`` being the heaviest column's own plan. The restricted program in ``(z, t)`` (``1 + |J|``
variables; ``t`` alone for a cost plan) keeps the resource rows, and the capacity rows and
``g >= 0`` where its plan breaks them (added lazily, starting from the master's capacity
rows). It contains the master's plan (which mixes the same techniques), so its optimum is at
least as good; its duals on the resource and capacity rows are prices, whose Lagrangian bound
the method takes like any round's. A plan that meets the bound within the tolerance is optimal;
while the bound misses it by more than :data:`EXACT`, the techniques the policy iteration picks
at its prices beyond ``B ∪ J`` join ``J`` and the program is solved again (:data:`PASSES`).

The finish needs ``n |J|`` floats for the directions, so it waits until the master's columns
differ in few enough techniques (:data:`MAX_SUBSTITUTIONS`, :data:`MEMORY`).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

__all__ = ["mixed_techniques", "restricted_plan", "substitution_limit"]

#: Techniques substituted at most (one Leontief solve per :data:`BLOCK`).
MAX_SUBSTITUTIONS = 512
#: Bytes of directions (``n`` floats per substituted technique) at most.
MEMORY = 2 * 2**30
#: Right-hand sides per Leontief solve of the directions.
BLOCK = 8
#: Rounds of lazily added rows before the restricted program is given up.
MAX_ROW_ROUNDS = 20
#: Restricted programs at most in one finish: after each, the techniques the policy iteration
#: picks at its prices beyond ``B ∪ J`` join ``J``, until its own bound meets its plan to
#: :data:`EXACT` (its prices then certified row by row).
PASSES = 3
EXACT = 1e-9


def substitution_limit(n: int) -> int:
    """Techniques the finish substitutes at most in an economy of ``n`` products."""
    return int(min(MAX_SUBSTITUTIONS, MEMORY // (8 * max(n, 1))))


def _techniques_at(master, k: int, products: np.ndarray) -> np.ndarray:
    """The techniques column ``k`` runs for ``products`` (sorted), from its recorded changes."""
    where, techniques = master.changes[master.columns[k].base]
    chosen = master.reference[products].copy()
    if where.size:
        pos = np.minimum(np.searchsorted(where, products), where.size - 1)
        hit = where[pos] == products
        chosen[hit] = techniques[pos[hit]]
    return chosen


def mixed_techniques(master, weights: np.ndarray) -> tuple[int, np.ndarray]:
    """The heaviest column and the techniques the other weighted columns run in its place,
    from the columns' changes against the first choice (no full choice is built)."""
    live = np.flatnonzero(weights > 0)
    ref = int(live[np.argmax(weights[live])])
    ref_where = master.changes[master.columns[ref].base][0]
    found = []
    for k in live:
        if k == ref:
            continue
        products = np.union1d(ref_where, master.changes[master.columns[k].base][0])
        if products.size:
            theirs = _techniques_at(master, k, products)
            found.append(theirs[theirs != _techniques_at(master, ref, products)])
    J = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    return ref, J


def restricted_plan(st, master, ref: int, J: np.ndarray, h: np.ndarray, d: np.ndarray, objective: str,
                    z_lower: float, z_upper: float, directions: dict | None = None):
    """The restricted program around column ``ref`` with substitutions ``J``: ``(value, x, mu,
    kappa)`` (``x``: activity levels of every technique; ``mu``, ``kappa``: the duals of its
    resource and capacity rows), or ``None`` when the program fails or keeps breaking rows.
    ``directions``: the directions already solved around ``ref``'s choice (``{"G": n x k}`` for
    ``J[:k]``), extended in place with those of the rest of ``J``."""
    from scipy.optimize import OptimizeWarning, linprog

    p = st.problem
    n, nj = p.n, J.size
    B = master.choice(master.columns[ref].base)
    G = np.asarray(master.plans.get(ref))
    g0, Gd = G[:, 0], G[:, 1]
    fulfil = objective == "fulfilment"
    # directions (I - A_B)^{-1} a_j, a_j = O_j e_i(j) - U_j, for the techniques of J not yet
    # solved (J extends the last program's J, in order)
    directions = {} if directions is None else directions
    done = directions.get("G", np.zeros((n, 0)))
    missing = J[done.shape[1] :]
    if missing.size:
        with st.at_choice(B):
            net = sp.csc_array(p.net[:, missing])
            fresh = np.empty((n, missing.size))
            for lo in range(0, missing.size, BLOCK):
                fresh[:, lo : lo + BLOCK] = st.plans(net[:, lo : lo + BLOCK].toarray())
        done = fresh if done.shape[1] == 0 else np.hstack([done, fresh])
        directions["G"] = done
    GJ = done
    nz = 1 if fulfil else 0

    def dg(rows) -> np.ndarray:
        """Rows of ``dg/dv``, ``v = [z, t]`` (``t`` for a cost plan)."""
        return np.hstack([Gd[rows, None], -GJ[rows]]) if fulfil else -GJ[rows]

    # resource rows: P_lim[:, B] diag(1/out_B) g + P_lim[:, J] t <= R
    PB = sp.csr_array(st.P_lim[:, B] @ sp.diags_array(1.0 / st.out[B]))
    r_lhs = np.hstack([(PB @ Gd)[:, None], -(PB @ GJ)]) if fulfil else -(PB @ GJ)
    r_lhs[:, nz:] += st.P_lim[:, J].toarray()
    r0 = PB @ g0
    R = p.available[st.limited]
    sr = np.where(R > 0, R, 1.0)
    if fulfil:
        c = np.zeros(nz + nj)
        c[0] = -1.0
        bounds = [(z_lower, z_upper if np.isfinite(z_upper) else None)] + [(0, None)] * nj
    else:  # cost c_B' diag(1/out_B) g + c_J' t, less the constant c_B' diag(1/out_B) g0
        c = st.base_cost[J] - (st.base_cost[B] / st.out[B]) @ GJ
        bounds = [(0, None)] * nj
    # technique j's own output O_j adds to the gross output of its product i(j)
    E = sp.csr_array((st.out[J], (st.product_of[J], np.arange(nj))), shape=(n, nj))
    caps = {int(st.capped[k]) for k in master.cap_rows}
    nonneg = {int(i) for i in st.product_of[J]}
    for _ in range(MAX_ROW_ROUNDS):
        crow = np.array(sorted(caps), dtype=np.int64)
        nrow = np.array(sorted(nonneg), dtype=np.int64)
        cap_vals = p.capacity[crow]
        sc = np.where(cap_vals > 0, cap_vals, 1.0)
        Mc = dg(crow)
        Mc[:, nz:] += E[crow].toarray()
        Mn = dg(nrow)
        sn = np.maximum(np.abs(Mn).max(axis=1, initial=0.0), 1e-300)
        A_ub = np.vstack([r_lhs / sr[:, None], Mc / sc[:, None], -Mn / sn[:, None]])
        b_ub = np.concatenate([(R - r0) / sr, (cap_vals - g0[crow]) / sc, g0[nrow] / sn])
        A_ub[np.abs(A_ub) < 1e-13] = 0.0  # the solves' rounding (down to 1e-309)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # scipy does not know the option; HiGHS does
            # HiGHS drops coefficients below small_matrix_value (1e-9 by default); here they are a
            # substitution's effect on a resource row, times levels of 10^2 and more (1.6e-7 off).
            res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs-ds",
                          options={"small_matrix_value": 1e-12, "primal_feasibility_tolerance": 1e-10,
                                   "dual_feasibility_tolerance": 1e-10})
        if res.status != 0:
            return None
        v = res.x
        t = v[nz:]
        g = g0 + dg(slice(None)) @ v
        made = g + E @ t
        over = st.over_capacity(made)
        neg = np.flatnonzero(g < -1e-9 * max(float(np.abs(g).max()), 1.0))
        new_caps, new_neg = set(over.tolist()) - caps, set(neg.tolist()) - nonneg
        if not new_caps and not new_neg:
            x = np.zeros(st.out.size)
            x[B] = np.maximum(g, 0.0) / st.out[B]
            x[J] += t
            value = float(v[0]) if fulfil else float(st.base_cost @ x)
            marg = -np.asarray(res.ineqlin.marginals)  # gain per unit of each row bound, >= 0
            mu = np.zeros(p.resources.size)
            mu[st.limited] = marg[: R.size] / sr
            kappa = np.zeros(n)
            kappa[crow] = marg[R.size : R.size + crow.size] / sc
            return value, x, mu, kappa
        caps |= new_caps
        nonneg |= new_neg
    return None

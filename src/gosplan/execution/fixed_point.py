r"""The period's outputs: the greatest fixed point of production under input shortages.

Producer ``e`` makes ``x_e = min(u_e, min_{j: a_je > 0} (s_je + phi_j d_je) / a_je)`` with
``u_e`` its ceiling (target, capacity after shocks, its own intent), ``s_je`` its stock of
input ``j`` and ``d_je`` its order of ``j``. Product ``j`` is delivered to all its users in
proportion to what the plan allocated them: each gets the share
``phi_j = min(1, (q_j + sum_{e: i(e)=j} x_e) / D_j)`` of its allocation, with ``q_j`` the
stock and imports of ``j`` and ``D_j`` the sum of its allocations (``phi_j = 1`` where
``D_j = 0``). With ``c_je = s_je / a_je`` and ``w_je = d_je / a_je`` the map
``phi -> G(phi)`` is monotone and a minimum of affine pieces, so the fixed points form a
lattice with a greatest element: the outputs that carry the plan out as far as the
shortages let it (Tarski). :func:`greatest_fixed_point` computes it exactly by *policy
iteration* from the top (Gawlitza & Seidl, 2007): at the current ``phi`` every producer and
product takes its smallest piece, the affine system of those pieces is solved once by a
sparse LU, and the answer is a new upper bound on the greatest fixed point (certified: the
system's matrix is checked to be a nonsingular M-matrix, so its solution dominates every
fixed point); the iterates decrease and a policy is never repeated, so the loop ends, on the
fixed point, after a handful of solves. Where a policy's matrix is singular (a closed loop
of producers each limited only by the next, with no loss: a measure-zero case) the
step is a plain Kleene step ``phi <- G(phi)``, and after :data:`MAX_POLICIES` policies the
linear program ``max sum x`` over ``{x <= F(x)}`` (whose optimum is the greatest fixed point)
is solved by HiGHS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["FixedPoint", "greatest_fixed_point", "production_map", "MAX_POLICIES"]

MAX_POLICIES = 200
TOL = 1e-12
"""Absolute tolerance on ``phi`` (a share in ``[0, 1]``) for the fixed point."""
TIE = 1e-12
"""Pieces within this relative distance of the smallest count as tied."""
CLOSED = 1e-9
"""A product whose producers' pieces return all but this share of its allocation to it is
closed (its row of the policy's matrix sums to 1)."""


@dataclass(frozen=True, eq=False)
class FixedPoint:
    """The greatest fixed point.

    Attributes
    ----------
    output:
        ``x`` (``E``).
    phi:
        ``phi`` (``n``): the share of its allocation every user of a product receives.
    limit:
        What limits each producer: ``-1`` its ceiling ``u_e``, else the product position of
        the input it is short of.
    policies, kleene:
        Linear systems solved and plain steps taken.
    method:
        ``"policy"`` or ``"lp"`` (the fallback).
    residual:
        ``max |G(phi) - phi|`` at the answer.
    """

    output: np.ndarray
    phi: np.ndarray
    limit: np.ndarray
    policies: int
    kleene: int
    method: str
    residual: float


def _row_min(indptr: np.ndarray, values: np.ndarray, E: int) -> np.ndarray:
    out = np.full(E, np.inf)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if nonempty.size:
        out[nonempty] = np.minimum.reduceat(values, indptr[nonempty])
    return out


def production_map(
    phi: np.ndarray,
    ceiling: np.ndarray,
    product: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    c: np.ndarray,
    w: np.ndarray,
    base: np.ndarray,
    demand: np.ndarray,
    supply_matrix: sp.csr_array | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x(phi), G(phi), supply)`` (see the module)."""
    E, n = ceiling.size, base.size
    val = c + w * phi[indices]
    x = np.minimum(ceiling, _row_min(indptr, val, E))
    supply = base + (np.bincount(product, weights=x, minlength=n) if supply_matrix is None
                     else np.asarray(supply_matrix @ x).reshape(-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(demand > 0, np.minimum(1.0, supply / np.where(demand > 0, demand, 1.0)), 1.0)
    return x, g, supply


def greatest_fixed_point(
    ceiling: np.ndarray,
    product: np.ndarray,
    coefficients: sp.csr_array,
    c: np.ndarray,
    w: np.ndarray,
    base: np.ndarray,
    demand: np.ndarray,
    supply_matrix: sp.csr_array | None = None,
) -> FixedPoint:
    """The greatest fixed point of production under shortages (see the module).

    Parameters
    ----------
    ceiling:
        ``u_e >= 0`` (``E``).
    product:
        ``i(e)`` (``E``).
    coefficients:
        The ``E x n`` CSR pattern of the ``a_je > 0`` (its data are not read): pair ``p`` is
        producer ``e`` (its row) and input ``j`` (its column).
    c, w:
        ``c_p = s_je / a_je`` and ``w_p = d_je / a_je`` per stored pair (``>= 0``).
    base:
        ``q_j >= 0``: stock and imports of each product (``n``).
    demand:
        ``D_j >= 0``: the sum of each product's allocations (``n``).
    supply_matrix:
        ``B >= 0`` (``n x E``): what a unit of each producer's output adds to each product's
        supply; default one unit of its own product (by-products add entries off it).
    """
    A = coefficients
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    E, n = ceiling.size, base.size
    if supply_matrix is None:
        supply_matrix = sp.csr_array((np.ones(E), (product, np.arange(E))), shape=(n, E))
    Bc = sp.csc_array(supply_matrix)
    args = (ceiling, product, indptr, indices, c, w, base, demand, supply_matrix)
    rows = np.repeat(np.arange(E), np.diff(indptr))
    phi = np.ones(n)
    x, g, supply = production_map(phi, *args)
    policies = kleene = 0
    while True:
        if np.max(np.abs(g - phi), initial=0.0) <= TOL:
            break
        if policies + kleene >= MAX_POLICIES:
            return _lp(args, rows)
        trial = _policy_step(phi, g, args, rows, Bc)
        if trial is None or not (trial < phi).any():
            phi = g  # a plain Kleene step: still above the greatest fixed point
            kleene += 1
        else:
            phi = trial
            policies += 1
        x, g, supply = production_map(phi, *args)
    limit = _limits(phi, ceiling, indptr, indices, c, w, rows)
    residual = float(np.max(np.abs(g - phi), initial=0.0))
    return FixedPoint(output=x, phi=g, limit=limit, policies=policies, kleene=kleene, method="policy", residual=residual)


def _lp(args: tuple, rows: np.ndarray) -> FixedPoint:
    """The greatest fixed point as the linear program ``max sum x + sum phi`` over
    ``x_e <= u_e``, ``x_e <= c_p + w_p phi_j``, ``D_j phi_j <= q_j + sum x``, ``phi <= 1``."""
    from scipy.optimize import linprog

    ceiling, product, indptr, indices, c, w, base, demand, B = args
    E, n = ceiling.size, base.size
    nnz = indices.size
    # pairs: x_e - w_p phi_j <= c_p
    r1 = np.arange(nnz)
    A1 = sp.csr_array(
        (np.concatenate([np.ones(nnz), -w]), (np.concatenate([r1, r1]), np.concatenate([rows, E + indices]))),
        shape=(nnz, E + n),
    )
    # products: D_j phi_j - sum_e B_je x_e <= q_j
    A2 = sp.csr_array(sp.hstack([-sp.csr_array(B), sp.diags_array(demand)]))
    res = linprog(
        -np.ones(E + n), A_ub=sp.vstack([A1, A2]).tocsr(), b_ub=np.concatenate([c, base]),
        bounds=np.column_stack([np.zeros(E + n), np.concatenate([ceiling, np.ones(n)])]), method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"the fixed point's linear program failed: {res.message}")
    phi = np.clip(res.x[E:], 0.0, 1.0)
    x, g, _ = production_map(phi, *args)
    limit = _limits(g, ceiling, indptr, indices, c, w, rows)
    return FixedPoint(output=x, phi=g, limit=limit, policies=0, kleene=0, method="lp",
                      residual=float(np.max(np.abs(g - phi), initial=0.0)))


def _limits(phi, ceiling, indptr, indices, c, w, rows) -> np.ndarray:
    """``-1`` where the ceiling binds, else the input a producer is short of (the first of ties)."""
    E = ceiling.size
    limit = np.full(E, -1, np.int64)
    val = c + w * phi[indices]
    xin = _row_min(indptr, val, E)
    short = xin < ceiling
    hit = np.flatnonzero((val <= xin[rows]) & short[rows])
    first = np.full(E, -1, np.int64)
    first[rows[hit[::-1]]] = hit[::-1]
    limit[short] = indices[first[short]]
    return limit


def _policy_step(phi: np.ndarray, g: np.ndarray, args: tuple, rows: np.ndarray, Bc: sp.csc_array) -> np.ndarray | None:
    """One policy-iteration step from the pre-fixed point ``phi`` (``G(phi) = g <= phi``).

    The policy: every producer takes its smallest piece at ``phi`` (its ceiling where tied;
    among tied inputs one delivered in full, else one whose product reaches an open product);
    products with ``g < 1`` their ratio piece. Its matrix ``M`` (``phi_R = M phi_R + b``) is
    substochastic; products that cannot reach a row summing to less than ``1 - CLOSED`` form
    closed classes on which ``phi`` is already a fixed point of the policy (a stochastic
    ``M`` with ``M phi <= phi``): they keep their value. The rest is solved by a sparse LU and
    certified (``(I - M)^{-1} 1 >= 1``: a nonsingular M-matrix), so the answer bounds the
    greatest fixed point from above. Returns ``None`` when the solve fails."""
    from scipy.sparse.csgraph import breadth_first_order

    ceiling, product, indptr, indices, c, w, base, demand, _ = args
    E, n = ceiling.size, base.size
    val = c + w * phi[indices]
    xin = _row_min(indptr, val, E)
    const = ceiling <= xin * (1.0 + TIE)
    R = np.flatnonzero(g < 1.0)
    if R.size == 0:
        return None
    inR = np.zeros(n, dtype=bool)
    inR[R] = True
    tied = (val <= xin[rows] * (1.0 + TIE)) & ~const[rows]
    # choices: -1 constant; else a pair. Prefer tied inputs off R (delivered in full).
    choice = np.full(E, -1, np.int64)
    hit = np.flatnonzero(tied)
    first = np.full(E, -1, np.int64)
    first[rows[hit[::-1]]] = hit[::-1]
    off = hit[~inR[indices[hit]]]
    first_off = np.full(E, -1, np.int64)
    first_off[rows[off[::-1]]] = off[::-1]
    limited = ~const
    choice[limited] = np.where(first_off[limited] >= 0, first_off[limited], first[limited])
    pos = np.full(n, -1, np.int64)
    pos[R] = np.arange(R.size)

    def matrix(choice: np.ndarray) -> sp.csr_array:
        var = np.flatnonzero((choice >= 0))
        var = var[inR[indices[choice[var]]]]
        Z = sp.csr_array((w[choice[var]], (var, pos[indices[choice[var]]])), shape=(E, R.size))
        W = sp.csr_array(Bc[R] @ Z)
        W.sum_duplicates()
        return W

    def open_rows(W: sp.csr_array) -> np.ndarray:
        """Products of R that reach a row with leakage (BFS on the reversed graph of ``W``)."""
        rowsum = np.asarray(W.sum(axis=1)).reshape(-1)
        leak = rowsum < demand[R] * (1.0 - CLOSED)
        m = R.size
        G = sp.csr_array(W.T)  # edge j -> k where k's producers wait on j
        src = np.flatnonzero(leak)
        if src.size == 0:
            return np.zeros(m, dtype=bool)
        hub = sp.csr_array((np.ones(src.size), (np.full(src.size, m), src)), shape=(m + 1, m + 1))
        G = sp.csr_array(sp.block_diag([G, sp.csr_array((1, 1))]) + hub)
        order = breadth_first_order(G, m, directed=True, return_predecessors=False)
        reach = np.zeros(m + 1, dtype=bool)
        reach[order] = True
        return reach[:m]

    W = matrix(choice)
    good = open_rows(W)
    for _ in range(64):  # switch tied choices towards open products
        if good.all():
            break
        ok_pair = tied & ~inR[indices] | (tied & inR[indices] & good[np.maximum(pos[indices], 0)] & (pos[indices] >= 0))
        cand = np.flatnonzero(ok_pair)
        best = np.full(E, -1, np.int64)
        best[rows[cand[::-1]]] = cand[::-1]
        cur = choice
        cur_ok = np.zeros(E, dtype=bool)
        has = cur >= 0
        cur_ok[has] = ok_pair[cur[has]]
        switch = has & ~cur_ok & (best >= 0)
        if not switch.any():
            break
        choice = np.where(switch, best, choice)
        W = matrix(choice)
        good = open_rows(W)
    # constants of each ratio product: ceilings, stocks c_p, inputs delivered in full
    const_x = np.where(choice < 0, ceiling, 0.0)
    has = np.flatnonzero(choice >= 0)
    p = choice[has]
    const_x[has] = c[p] + np.where(inR[indices[p]], 0.0, w[p])
    rhs = (base + np.asarray(Bc @ const_x).reshape(-1))[R]
    out = phi.copy()
    keep = ~good
    if keep.any():  # closed classes stay where they are
        rhs = rhs[good] + np.asarray(W[good][:, keep] @ phi[R][keep]).reshape(-1)
        W = W[good][:, good]
    Rg = R[good]
    if Rg.size == 0:
        return None
    M = sp.csc_array(sp.diags_array(demand[Rg]) - W)
    try:
        lu = spla.splu(M)
        psi = lu.solve(rhs)
        u = lu.solve(demand[Rg])
    except RuntimeError:  # exactly singular
        return None
    if not (np.isfinite(psi).all() and np.isfinite(u).all() and (u >= 1.0 - 1e-9).all() and u.max() < 1e12):
        return None
    out[Rg] = np.clip(psi, 0.0, phi[Rg])
    return out

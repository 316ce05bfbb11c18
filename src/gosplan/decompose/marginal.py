"""Two-level planning without an LP at the centre: ministries report marginal enterprises.

``coordination="marginal"`` of :func:`gosplan.plan_decomposed`. The centre never solves a
linear program. It holds the table (``A``, ``P``) and, each round, solves two sparse
Leontief systems of the product level (iteratively, :mod:`gosplan.linalg.leontief`); the
ministries do the enterprise-level work — pricing, ordering and choosing among their
millions of enterprises — in parallel.

For the fulfilment plan with one limited resource (labour, ``R``), the enterprise-level
program is ``max z`` s.t. ``sum_e (o_e - a_e) x_e >= z y + h``, ``sum_e p_e x_e <= R``,
``0 <= x_e <= C_e``. For a fixed ``z`` its inner problem — the least labour ``L(z)`` that
makes ``d = z y + h`` — is a Leontief program with capacities, solved by a
primal–dual fixed point:

* **down**: prices ``pi`` (labour values) and gross outputs ``g``;
* **ministries**: each product's enterprises ordered by their unit cost at these prices,
  ``c_e = a_e . pi + p_e . w``; the cheapest run at capacity (*saturated*) until their
  capacity reaches ``g_i``; the one where it does is the *marginal* enterprise; the rest
  idle. Reported up per product: the marginal enterprise's technique and the saturated
  block's totals (capacity, capacity-weighted factors) — and the ministry's Lagrangian
  term ``sum_e C_e (pi_i(e) - c_e)^+``;
* **centre**: ``pi = (I - A_M)^-T w_M`` (the marginal techniques price every product) and
  ``x_M = (I - A_M)^-1 (d - S + A s)`` (the marginal enterprises make what the saturated
  ones do not), ``g = S + x_M``.

A net import (``h_i < 0``) that covers all of product ``i``'s use makes none of it: the
centre holds its marginal output at 0 and prices it 0 (its row slack), solving the others
around it (:meth:`gosplan.decompose.marginal_centre._Centre._imports`).

When the ministries' choice no longer changes, every saturated enterprise costs at most the
product's price and every idle one at least (dual feasible) and ``0 <= x_M <= C_M`` (primal
feasible): the inner problem is solved, with ``L(z)`` and its slope ``pi . y``.

Two things keep the fixed point from stalling at 10^5 products and more
(:mod:`gosplan.decompose.marginal_centre`):

* **scarcity rents**: a product whose enterprises cannot make ``g_i`` (*short*) has its
  price raised by a rent ``kappa_i`` (``pi = (I - A_M)^-T (w_M + kappa)``; doubled while
  short, then bisected), so that its users turn to enterprises that need less of it — the
  capacity's price in the enterprise-level program;
* **frozen prices at a cycle**: roles that come back with the split infeasible (a product's
  demand sits at a kink of its supply curve, its marginal output flipping between just
  above its capacity and just below zero) freeze the prices; only quantities move, and a
  product whose marginal output would be negative is *pinned*: made by its saturated
  enterprises alone, in surplus, the rest solved around it. The plan so made is feasible;
  it ends the fixed point when its labour is within ``tol / 20`` of the bound, else the
  prices move again from it.

**The certificate.** For any prices ``pi >= 0`` with ``pi . y > 0`` (labour's price 1),

    z* <= D(pi) = (R + sum_e C_e (pi_i(e) - c_e)^+ - pi . h) / (pi . y)

(weak duality of the enterprise-level program; each enterprise's capacity priced at its
rent). At an inner optimum ``D = z + (R - L(z)) / (pi . y)``, Newton's step on the convex
``L``. The outer loop keeps a feasible ``z_lo`` (``L(z_lo) <= R``, its plan kept) and the
least ``D`` seen; it tries the secant between the last feasible and infeasible ``z`` (below
``z*`` by convexity) or ``D`` itself, and stops when ``(D - z_lo) / D <= tol``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from gosplan.decompose.ministry import MinistryState, Prices, reduced_costs

__all__ = ["SupplyOrder", "MarginalReport", "supply_round", "supply_levels", "requirements", "rents"]

RENT_COLUMNS = 16
"""Price systems whose rents :func:`rents` evaluates together (an ``enterprises x 16`` block)."""


@dataclass(frozen=True, eq=False)
class SupplyOrder:
    """What the centre sends down each round: prices and the gross outputs wanted."""

    pi: np.ndarray  # (n) product prices (labour values)
    w: np.ndarray  # (r) resource weights (1 on the limited resource)
    g: np.ndarray  # (n) gross output wanted of each product


@dataclass(frozen=True, eq=False)
class MarginalReport:
    """One ministry's answer, per product it covers (``products``)."""

    ministry: int
    products: np.ndarray  # global ids
    m_input_factor: np.ndarray  # f of each product's marginal enterprise
    m_labour_factor: np.ndarray  # h
    m_capacity: np.ndarray  # C_m
    m_own_inputs: sp.csr_array | None  # N_m rows (products x n)
    m_own_primary: sp.csr_array | None  # Q_m rows
    s_capacity: np.ndarray  # S_i: capacity of the saturated enterprises
    s_input_factor: np.ndarray  # sum_sat C_e f_e
    s_labour_factor: np.ndarray  # sum_sat C_e h_e
    s_own_inputs: np.ndarray | None  # sum_sat C_e N_e (n)
    s_own_primary: np.ndarray | None  # sum_sat C_e Q_e (r)
    rent: float  # sum_e C_e (pi_i(e) - c_e)^+
    short: np.ndarray  # products whose enterprises cannot make g_i (global ids)
    changed: int  # enterprises whose role (saturated / marginal / idle) changed since the last round
    signature: int  # CRC-32 of the roles (the centre detects roles that come back: a cycle)


def _order(state: MinistryState, order: SupplyOrder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float,
                                                                np.ndarray]:
    """Roles at these prices and quantities: ``role`` (0 idle, 1 marginal, 2 saturated) per
    enterprise, the marginal enterprise of each local product, its unit costs, the rent."""
    data = state.data
    d = reduced_costs(data, Prices(pi=order.pi, w=order.w, threshold=0.0))
    local = np.searchsorted(data.products, data.product)
    rent = float(-(data.capacity * np.minimum(d, 0.0)).sum())
    # by product, then unit cost (d_e + pi_i orders like d_e within a product), then position
    rank = np.lexsort((np.arange(d.size), d, local))
    loc_sorted = local[rank]
    cap_sorted = data.capacity[rank]
    cum = np.cumsum(cap_sorted)
    starts = np.searchsorted(loc_sorted, np.arange(data.products.size))
    before = cum - cap_sorted  # capacity of the cheaper enterprises of the same product, plus earlier products
    offset = np.where(starts < cum.size, before[np.minimum(starts, cum.size - 1)], 0.0)
    before = before - offset[loc_sorted]
    want = order.g[data.products][loc_sorted]
    ends = np.append(starts[1:], cum.size)
    # marginal: the first enterprise whose cumulative capacity reaches g_i (the last one if none does)
    reach = before + cap_sorted >= want
    is_last = np.zeros(cum.size, dtype=bool)
    is_last[ends - 1] = True
    first_reach = np.full(data.products.size, -1, dtype=np.int64)
    cand = np.flatnonzero(reach | is_last)
    # the first candidate of each product
    prod_c = loc_sorted[cand]
    keep = np.ones(cand.size, dtype=bool)
    keep[1:] = prod_c[1:] != prod_c[:-1]
    first_reach[prod_c[keep]] = cand[keep]
    short = data.products[~reach[ends - 1]]
    role_sorted = np.zeros(cum.size, dtype=np.int8)
    pos = np.arange(cum.size)
    role_sorted[pos < first_reach[loc_sorted]] = 2
    role_sorted[first_reach] = 1
    role = np.empty_like(role_sorted)
    role[rank] = role_sorted
    marginal = rank[first_reach]  # local enterprise index of each product's marginal one
    return role, marginal, local, d, rent, short


def supply_round(state: MinistryState, order: SupplyOrder) -> tuple[MinistryState, MarginalReport]:
    """The ministry's answer to ``order`` (see the module); its state remembers the roles."""
    data = state.data
    role, marginal, local, _, rent, short = _order(state, order)
    previous = state.group
    changed = int((previous != role).sum()) if previous.size == role.size else role.size
    sat = role == 2
    P = data.products.size
    w_cap = np.where(sat, data.capacity, 0.0)
    s_cap = np.bincount(local, weights=w_cap, minlength=P)
    s_f = np.bincount(local, weights=w_cap * data.input_factor, minlength=P)
    s_h = np.bincount(local, weights=w_cap * data.labour_factor, minlength=P)
    m_own_inputs = m_own_primary = s_own_inputs = s_own_primary = None
    if data.own_inputs is not None:
        m_own_inputs = sp.csr_array(data.own_inputs[marginal])
        m_own_primary = sp.csr_array(data.own_primary[marginal])
        s_own_inputs = np.asarray(data.own_inputs.T @ w_cap).ravel()
        s_own_primary = np.asarray(data.own_primary.T @ w_cap).ravel()
    report = MarginalReport(
        ministry=data.ministry, products=data.products, m_input_factor=data.input_factor[marginal],
        m_labour_factor=data.labour_factor[marginal], m_capacity=data.capacity[marginal],
        m_own_inputs=m_own_inputs, m_own_primary=m_own_primary, s_capacity=s_cap, s_input_factor=s_f,
        s_labour_factor=s_h, s_own_inputs=s_own_inputs, s_own_primary=s_own_primary, rent=rent, short=short,
        changed=changed, signature=zlib.crc32(role.tobytes()),
    )
    return replace(state, group=role.astype(np.int64), rounds=state.rounds + 1), report


def supply_levels(state: MinistryState, order_and_x: tuple[SupplyOrder, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each enterprise's target at the order's roles: saturated ``C_e``, marginal ``x_M`` of its
    product (``order_and_x[1]``, by the ministry's products), idle 0."""
    order, x_m = order_and_x
    data = state.data
    role, marginal, _, _, _, _ = _order(state, order)
    x = np.where(role == 2, data.capacity, 0.0)
    x[marginal] = np.clip(x_m, 0.0, data.capacity[marginal])
    return data.enterprise, x


def requirements(reports: list[MarginalReport], n: int, r: int) -> dict[str, Any]:
    """The ministries' reports gathered into product-level vectors (covered products only)."""
    prod = np.concatenate([rep.products for rep in reports])
    out = {
        "products": prod,
        "f": np.concatenate([rep.m_input_factor for rep in reports]),
        "h": np.concatenate([rep.m_labour_factor for rep in reports]),
        "cap": np.concatenate([rep.m_capacity for rep in reports]),
        "S": np.zeros(n), "s_f": np.zeros(n), "s_h": np.zeros(n),
        "s_own_inputs": np.zeros(n), "s_own_primary": np.zeros(r),
        "m_own_inputs": None, "m_own_primary": None,
        "rent": float(sum(rep.rent for rep in reports)),
        "short": int(sum(rep.short.size for rep in reports)),
        "short_products": np.concatenate([rep.short for rep in reports]),
        "changed": int(sum(rep.changed for rep in reports)),
        "signature": tuple(rep.signature for rep in reports),
    }
    out["S"][prod] = np.concatenate([rep.s_capacity for rep in reports])
    out["s_f"][prod] = np.concatenate([rep.s_input_factor for rep in reports])
    out["s_h"][prod] = np.concatenate([rep.s_labour_factor for rep in reports])
    if any(rep.m_own_inputs is not None for rep in reports):
        rows_in, rows_pr = [], []
        for rep in reports:
            k = rep.products.size
            rows_in.append(rep.m_own_inputs if rep.m_own_inputs is not None else sp.csr_array((k, n)))
            rows_pr.append(rep.m_own_primary if rep.m_own_primary is not None else sp.csr_array((k, r)))
            if rep.s_own_inputs is not None:
                out["s_own_inputs"] += rep.s_own_inputs
                out["s_own_primary"] += rep.s_own_primary
        out["m_own_inputs"] = sp.csr_array(sp.vstack(rows_in))
        out["m_own_primary"] = sp.csr_array(sp.vstack(rows_pr))
    return out


def rents(state: MinistryState, prices: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``sum_e C_e (pi_i(e) - c_e)^+`` for each column of ``prices = (Pi, W)`` (``n x k``, ``r x k``):
    the ministry's part of the bound at several price systems at once."""
    Pi, W = prices
    data = state.data
    out = np.empty(Pi.shape[1])
    for k in range(0, Pi.shape[1], RENT_COLUMNS):  # several price systems a pass, in bounded memory
        part = slice(k, k + RENT_COLUMNS)
        d = reduced_costs(data, Prices(pi=Pi[:, part], w=W[:, part], threshold=0.0))
        out[part] = -(data.capacity[:, None] * np.minimum(d, 0.0)).sum(axis=0)
    return out

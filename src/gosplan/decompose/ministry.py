"""A ministry's side of two-level planning: its enterprises, their groups, its answer to prices.

A ministry holds what only it knows in detail: its enterprises (product ``i(e)``,
capacity ``C_e``, factors ``f_e``, ``h_e``, own norms ``N_e``, ``Q_e``) and the
table's technique of each of its products (``A[:, i]``, ``P[:, i]``). The centre
knows each ministry only through *groups* of enterprises: for a group ``g`` of
enterprises of one product, its capacity ``C_g = sum C_e`` and its capacity-weighted
technique (``f_g = sum_e C_e f_e / C_g``, likewise ``h_g``, ``N_g``, ``Q_g``), the
"aggregated report" the centre plans with.

Given the centre's prices (``pi`` on products, ``w = cost - rho`` on primary
resources), an enterprise's reduced cost per unit of output is

    d_e = -pi_i(e) + a_e . pi + p_e . w,

negative when it earns more at these prices than its inputs cost. The ministry's
Lagrangian subproblem — run every enterprise with ``d_e < 0`` at capacity, idle the
others — has value ``sum_e C_e min(0, d_e)``; a group whose members disagree in sign
hides part of that value from the centre, which sees only the group's average. Such a
group is split (members with ``d_e < 0`` / the rest) and reported up again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "MinistryData", "MinistryState", "Prices", "GroupTable", "ministry_data", "initial_state", "group_table",
    "first_report", "price_round", "enterprise_levels",
]


@dataclass(frozen=True, eq=False)
class MinistryData:
    """What one ministry knows (positions are global unless said otherwise)."""

    ministry: int
    enterprise: np.ndarray  # global positions of its enterprises with C_e > 0 (E_k)
    product: np.ndarray  # global product of each (E_k)
    capacity: np.ndarray  # C_e
    input_factor: np.ndarray  # f_e
    labour_factor: np.ndarray  # h_e
    own_inputs: sp.csr_array | None  # N_e rows (E_k x n), None when no enterprise has own norms
    own_primary: sp.csr_array | None  # Q_e rows (E_k x r)
    products: np.ndarray  # its covered products (global, increasing)
    table_inputs: sp.csc_array  # A[:, products] (n x len(products))
    table_primary: sp.csc_array  # P[:, products] (r x len(products))

    @property
    def nbytes(self) -> int:
        mats = [m for m in (self.own_inputs, self.own_primary, self.table_inputs, self.table_primary) if m is not None]
        arrays = (self.enterprise, self.product, self.capacity, self.input_factor, self.labour_factor, self.products)
        return sum(a.nbytes for a in arrays) + sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in mats)


@dataclass(frozen=True, eq=False)
class GroupTable:
    """The groups one ministry reports up: one row each (``G_k``)."""

    product: np.ndarray  # global product of the group
    capacity: np.ndarray  # C_g
    input_factor: np.ndarray  # f_g
    labour_factor: np.ndarray  # h_g
    own_inputs: sp.csr_array | None  # N_g (G_k x n)
    own_primary: sp.csr_array | None  # Q_g (G_k x r)
    members: np.ndarray  # enterprises per group

    def __len__(self) -> int:
        return self.product.size


@dataclass(frozen=True, eq=False)
class MinistryState:
    """A ministry between rounds: its data and which group each enterprise is in."""

    data: MinistryData
    group: np.ndarray  # local group id of each enterprise (E_k), ids 0..G_k-1
    rounds: int = 0


@dataclass(frozen=True, eq=False)
class Prices:
    """What the centre sends down each round: product prices ``pi`` and resource weights ``w``."""

    pi: np.ndarray  # (n)
    w: np.ndarray  # (r): cost weight minus resource price
    threshold: float  # a group is split when the value it hides exceeds this


def ministry_data(ministry: int, hierarchy: Any, A: sp.csc_array, P: sp.csc_array) -> MinistryData:
    """Cut ministry ``ministry``'s part out of a :class:`~gosplan.model.hierarchy.Hierarchy`."""
    h = hierarchy
    mine = np.flatnonzero((h.enterprise_ministry == ministry) & (h.capacity > 0))
    own_inputs = own_primary = None
    if h.norms is not None:
        rows = np.full(h.n_enterprises, -1, dtype=np.int64)
        rows[h.norms.enterprise] = np.arange(h.norms.enterprise.size)
        local = rows[mine]
        if (local >= 0).any():
            own_inputs = _take_rows(h.norms.inputs, local)
            own_primary = _take_rows(h.norms.primary, local)
    products = np.unique(h.enterprise_product[mine])
    return MinistryData(
        ministry=ministry,
        enterprise=mine,
        product=h.enterprise_product[mine],
        capacity=h.capacity[mine],
        input_factor=h.input_factor[mine],
        labour_factor=h.labour_factor[mine],
        own_inputs=own_inputs,
        own_primary=own_primary,
        products=products,
        table_inputs=sp.csc_array(A[:, products]),
        table_primary=sp.csc_array(P[:, products]),
    )


def _take_rows(mat: sp.csr_array, rows: np.ndarray) -> sp.csr_array:
    """Rows ``rows`` of ``mat``, an empty row where ``rows < 0``."""
    keep = rows >= 0
    counts = np.zeros(rows.size, dtype=np.int64)
    counts[keep] = np.diff(mat.indptr)[rows[keep]]
    indptr = np.concatenate([[0], np.cumsum(counts)])
    sub = mat[rows[keep]] if keep.any() else sp.csr_array((0, mat.shape[1]))
    return sp.csr_array((sub.data, sub.indices, indptr), shape=(rows.size, mat.shape[1]))


def initial_state(data: MinistryData) -> MinistryState:
    """One group per product: the ministry's first report is the capacity-weighted aggregate."""
    return MinistryState(data=data, group=np.searchsorted(data.products, data.product))


def group_table(state: MinistryState) -> GroupTable:
    """The capacity-weighted technique of every group (what the centre plans with)."""
    data, group = state.data, state.group
    G = int(group.max()) + 1 if group.size else 0
    cap = np.bincount(group, weights=data.capacity, minlength=G)
    weight = data.capacity / cap[group]
    f = np.bincount(group, weights=weight * data.input_factor, minlength=G)
    h = np.bincount(group, weights=weight * data.labour_factor, minlength=G)
    product = np.zeros(G, dtype=np.int64)
    product[group] = data.product
    own_inputs = own_primary = None
    if data.own_inputs is not None:
        W = sp.csr_array((weight, (group, np.arange(group.size))), shape=(G, group.size))
        own_inputs = sp.csr_array(W @ data.own_inputs)
        own_primary = sp.csr_array(W @ data.own_primary)
    members = np.bincount(group, minlength=G)
    return GroupTable(product, cap, f, h, own_inputs, own_primary, members)


def first_report(state: MinistryState, _: Any = None) -> tuple[MinistryState, dict[str, Any]]:
    """The ministry's first report up: its products' aggregated techniques and capacities."""
    return state, {"ministry": state.data.ministry, "table": group_table(state), "enterprises": state.data.enterprise.size}


def reduced_costs(data: MinistryData, prices: Prices) -> np.ndarray:
    """``d_e = -pi_i(e) + f_e A_i . pi + h_e P_i . w + N_e . pi + Q_e . w`` for every enterprise
    (``pi`` of shape ``n`` or ``n x k``, ``w`` ``r`` or ``r x k``: one column of ``d`` per
    price system)."""
    alpha = data.table_inputs.T @ prices.pi  # A_i . pi for the ministry's products
    beta = data.table_primary.T @ prices.w
    local = np.searchsorted(data.products, data.product)
    f, h = data.input_factor, data.labour_factor
    if np.ndim(prices.pi) == 2:
        f, h = f[:, None], h[:, None]
    d = -prices.pi[data.product] + f * alpha[local] + h * beta[local]
    if data.own_inputs is not None:
        d += data.own_inputs @ prices.pi + data.own_primary @ prices.w
    return d


def price_round(state: MinistryState, prices: Prices) -> tuple[MinistryState, dict[str, Any]]:
    """Answer the centre's prices: the Lagrangian bound of this ministry, and its groups split
    where their members disagree (a new :class:`GroupTable` when anything changed)."""
    data = state.data
    d = reduced_costs(data, prices)
    value = data.capacity * d
    G = int(state.group.max()) + 1 if state.group.size else 0
    whole = np.bincount(state.group, weights=value, minlength=G)  # C_g d_g
    best = np.bincount(state.group, weights=np.minimum(value, 0.0), minlength=G)
    hidden = np.minimum(whole, 0.0) - best  # >= 0: what the group's average hides
    split = np.flatnonzero(hidden > prices.threshold)
    group = state.group
    if split.size:
        # Members earning at these prices (d_e < 0) leave for a new group; the rest stay.
        is_split = np.zeros(G, dtype=bool)
        is_split[split] = True
        leaving = is_split[group] & (d < 0)
        new_id = np.full(G, -1, dtype=np.int64)
        new_id[split] = G + np.arange(split.size)
        group = group.copy()
        group[leaving] = new_id[group[leaving]]
    new_state = replace(state, group=group, rounds=state.rounds + 1)
    report = {
        "ministry": data.ministry,
        "lagrangian": float(best.sum()),
        "hidden": float(hidden.sum()),
        "split": int(split.size),
        "products_split": int(np.unique(data.product[np.isin(state.group, split)]).size) if split.size else 0,
        "groups": G + int(split.size),
        "earning": int((d < 0).sum()),
        "table": group_table(new_state) if split.size else None,
    }
    return new_state, report


def enterprise_levels(state: MinistryState, group_level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each enterprise's share of its group's planned output: ``x_e = C_e / C_g * level_g``."""
    data = state.data
    G = int(state.group.max()) + 1 if state.group.size else 0
    cap = np.bincount(state.group, weights=data.capacity, minlength=G)
    x = data.capacity / cap[state.group] * group_level[state.group]
    return data.enterprise, np.minimum(x, data.capacity)

"""The centre's side of two-level planning: the plan over the ministries' reported groups.

The centre's program is gosplan's ordinary optimal plan (:mod:`gosplan.planning.formulate`)
with one activity per reported group ``g`` — it makes one unit of its product with
the group's capacity-weighted technique, ``0 <= level_g <= C_g`` — plus the table's
technique, without a capacity, for each product no enterprise makes. Its duals are the
prices sent down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.decompose.ministry import GroupTable, Prices
from gosplan.optim.lp import LinearProgram, LPSolution
from gosplan.planning.formulate import Layout, cost_lp, fulfilment_lp, harmony_lp
from gosplan.planning.problem import PlanProblem

__all__ = ["CentreProgram", "centre_program", "prices_from_duals"]


@dataclass(frozen=True, eq=False)
class CentreProgram:
    problem: PlanProblem
    lp: LinearProgram
    layout: Layout
    offsets: np.ndarray  # groups of ministry k are columns offsets[k]:offsets[k+1]
    groups: int  # G: the group columns come first
    uncovered: np.ndarray  # products produced by their table technique, columns G..G+len-1


def _stack(tables: list[GroupTable], name: str, width: int) -> sp.csr_array | None:
    mats = [getattr(t, name) for t in tables]
    if all(m is None for m in mats):
        return None
    return sp.csr_array(sp.vstack([m if m is not None else sp.csr_array((len(t), width)) for m, t in zip(mats, tables)]))


def centre_program(
    base: PlanProblem,
    objective: str,
    tables: list[GroupTable],
    uncovered: np.ndarray,
    A: sp.csc_array,
    P: sp.csc_array,
    *,
    active: np.ndarray | None = None,
    held: np.ndarray | None = None,
    z_lower: float = 0.0,
    z_upper: float = np.inf,
) -> CentreProgram:
    """The centre's program for the groups the ministries reported (in ministry order).

    ``fulfilment``: the stage of gosplan's lexicographic plan ray
    (:func:`gosplan.planning.formulate.fulfilment_lp`): maximise ``z`` for the products
    ``active`` (default: every targeted product), net outputs of the others at least
    ``held`` (what earlier priority classes secured), ``z_lower <= z <= z_upper``."""
    n, r = base.n, len(base.resources)
    sizes = np.array([len(t) for t in tables], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    G = int(offsets[-1])
    product = np.concatenate([t.product for t in tables]) if tables else np.zeros(0, dtype=np.int64)
    cap = np.concatenate([t.capacity for t in tables]) if tables else np.zeros(0)
    f = np.concatenate([t.input_factor for t in tables]) if tables else np.zeros(0)
    h = np.concatenate([t.labour_factor for t in tables]) if tables else np.zeros(0)
    use = sp.hstack([A[:, product] @ sp.diags_array(f.astype(np.float64)), A[:, uncovered]], format="csc")
    primary = sp.hstack([P[:, product] @ sp.diags_array(h.astype(np.float64)), P[:, uncovered]], format="csc")
    own_inputs = _stack(tables, "own_inputs", n)
    if own_inputs is not None:
        own_primary = _stack(tables, "own_primary", r)
        pad = sp.csr_array((uncovered.size, n))
        use = use + sp.vstack([own_inputs, pad]).T
        primary = primary + sp.vstack([own_primary, sp.csr_array((uncovered.size, r))]).T
    makers = np.concatenate([product, uncovered])
    m = makers.size
    make = sp.csr_array((np.ones(m), (makers, np.arange(m))), shape=(n, m))
    use = sp.csr_array(use)
    net = sp.csr_array(make - use)
    net.sum_duplicates()
    net.eliminate_zeros()
    problem = replace(
        base,
        activities=pd.RangeIndex(m),
        net=net,
        make=make,
        primary=sp.csr_array(primary),
        square=False,
    )
    if objective == "fulfilment":
        if active is None:
            active = np.flatnonzero(base.target > 0)
        lp, layout = fulfilment_lp(problem, active, np.full(n, -np.inf) if held is None else held,
                                   z_lower=z_lower, z_upper=z_upper)
    elif objective == "harmony":
        lp, layout = harmony_lp(problem)
    else:
        lp, layout = cost_lp(problem)
    col_upper = lp.col_upper.copy()
    col_upper[:G] = cap
    lp.col_upper = col_upper
    labels = base.products
    targeted = np.flatnonzero(base.target > 0)

    def col_name(j: int) -> str:
        if j < G:
            return f"enterprise group {j} of {labels[product[j]]}"
        if j < m:
            return f"activity {labels[uncovered[j - G]]}"
        if objective == "harmony":
            return f"harmony s of {labels[targeted[j - m]]}"
        return "plan ray z"

    lp.col_names = col_name
    return CentreProgram(problem, lp, layout, offsets, G, uncovered)


def prices_from_duals(program: CentreProgram, sol: LPSolution, objective: str, threshold: float) -> Prices:
    """``pi``: the balance rows' duals (plus those of the floor/ceiling rows that repeat them);
    ``w = cost - rho``: each primary resource's cost weight minus its (non-positive) dual."""
    layout, base = program.layout, program.problem
    y = sol.y
    n = base.n
    pi = y[:n].copy()
    if layout.bound_rows.size:
        np.add.at(pi, layout.bound_rows, y[layout.bound_start:layout.bound_start + layout.bound_rows.size])
    rho = np.zeros(len(base.resources))
    rho[layout.resource_rows] = y[layout.resource_start:layout.capacity_start]
    cost = base.cost if objective == "cost" else np.zeros(len(base.resources))
    return Prices(pi=pi, w=cost - rho, threshold=threshold)

"""Net imports in the Leontief method: a floor below zero as a capped import technique.

Real tables carry products whose final demand is negative (WIOD's inventories, BEA's
noncomparable imports): more of them is used than the economy makes, and their net output
may fall to that figure (``floor_i < 0``, see :class:`~gosplan.planning.problem.PlanProblem`).
The substitution theorem behind the Leontief method needs ``d >= 0`` in ``x = (I - A_B)^-1 d``,
so such a floor is planned as an equivalent program in which

* every such product ``i`` gets one more technique, *import*, which makes a unit of ``i``
  from a unit of a new product ``i*``, its *import quota*;
* ``i*`` is made from nothing by a technique of its own, with capacity ``-floor_i``;
* the floor of ``i`` becomes ``0`` (and negative committed demand of ``i``, which bounds its
  net output the same way, ``0``: the quota is then ``-max(floor_i, committed_i)``):

.. math::

    N_i x + s_i \\ge 0, \\quad 0 \\le s_i \\le -\\mathrm{floor}_i
    \\quad\\Longleftrightarrow\\quad N_i x \\ge \\mathrm{floor}_i .

The quota's capacity rent is the import's price, and the price of ``i`` is the dual of the
original floor row (both are zero while the quota is not used in full), so the plan and the
row duals of the original program are those of the equivalent one with the new rows and
columns left out; gosplan's check then judges them on the original program. ``fulfilment``
and ``cost`` (Dantzig–Wolfe) plan this program as it is.

``harmony`` (a Newton search over the prices, which the choice between making and importing
a product at the same price would make non-smooth) keeps a net import as negative demand
``h_i = floor_i`` while the plan uses at least that much of the product (the import is used
in full, the product's price is what making it costs); a product of which the plan uses
less is imported only (:func:`with_free_imports`: an import technique that costs nothing,
capped at the quota, whose rent is then the product's price, ``0`` while the quota is not
used in full), and the plan is made again. The answer is checked on the original program
(a product made at home after all would show as a technique priced below its cost).

Only products nothing is asked of (no target) can import: a target is met by the economy's
own net output. The Leontief method keeps refusing a negative floor or negative committed
demand on a targeted product, and a capacity on a product that imports.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, LPSolution
from gosplan.planning.formulate import Layout, cost_lp, fulfilment_lp, harmony_lp
from gosplan.planning.problem import PlanProblem

__all__ = ["lower_bound", "importing", "refusal", "with_imports", "with_free_imports", "stage_program", "restricted"]


def lower_bound(problem: PlanProblem) -> np.ndarray:
    """The least net output of each untargeted product: ``max(floor, committed)`` (``n``)."""
    return np.maximum(problem.floor, problem.base_floor)


def importing(problem: PlanProblem) -> np.ndarray:
    """Untargeted products whose net output may fall below zero (a negative floor, or negative
    committed demand above it)."""
    return np.flatnonzero((problem.target == 0) & (lower_bound(problem) < 0))


def refusal(problem: PlanProblem) -> str:
    """Why the net imports of ``problem`` cannot be planned as import techniques (``""``: they can)."""
    for what, values in (("floor", problem.floor), ("committed demand", problem.base)):
        targeted = np.flatnonzero((values < 0) & (problem.target > 0))
        if targeted.size:
            return (f"negative {what} (net imports) on a targeted product, e.g. "
                    f"{problem.product_words(problem.products[targeted[0]])}")
    capped = importing(problem)
    capped = capped[np.isfinite(problem.capacity[capped])]
    if capped.size:
        return (f"a capacity on a product with net imports, e.g. "
                f"{problem.product_words(problem.products[capped[0]])}")
    return ""


def with_imports(problem: PlanProblem) -> PlanProblem:
    """The equivalent program of the module: products ``[products, quotas]``, activities
    ``[activities, imports, quota sources]``, floors of the importing products ``0``."""
    imp = importing(problem)
    k, n = imp.size, problem.n
    if k == 0:
        return problem
    eye = sp.identity(k, format="csr")
    into = sp.csr_array((np.ones(k), (imp, np.arange(k))), shape=(n, k))
    zero_nk, zero_kk = sp.csr_array((n, k)), sp.csr_array((k, k))
    net = sp.csr_array(sp.block_array([[problem.net, into, zero_nk], [None, -eye, eye]], format="csr"))
    make = sp.csr_array(sp.block_array([[problem.make, into, zero_nk], [None, zero_kk, eye]], format="csr"))
    for mat in (net, make):
        mat.sort_indices()
    primary = sp.csr_array(sp.hstack([problem.primary, sp.csr_array((problem.primary.shape[0], 2 * k))], format="csr"))
    labels = [str(p) for p in problem.products[imp]]
    taken = set(map(str, problem.products)) | set(map(str, problem.activities))
    quota = _unique([f"{p} (import quota)" for p in labels], taken)
    imports = _unique([f"{p} (import)" for p in labels], taken | set(quota))
    sources = _unique([f"{p} (quota)" for p in labels], taken | set(quota) | set(imports))
    allowance = -lower_bound(problem)[imp]
    floor = problem.floor.copy()
    floor[imp] = 0.0
    names = None if problem.names is None else pd.concat(
        [problem.names, pd.Series(pd.NA, index=pd.Index(quota), dtype=problem.names.dtype)]
    )
    committed = None
    if problem.committed is not None:
        committed = problem.committed.copy()
        committed[imp] = np.maximum(committed[imp], 0.0)
        committed = np.concatenate([committed, np.zeros(k)])
    return replace(
        problem,
        products=problem.products.append(pd.Index(quota, dtype=object)),
        activities=pd.Index(list(problem.activities) + imports + sources, dtype=object),
        net=net,
        make=make,
        primary=primary,
        capacity=np.concatenate([problem.capacity, allowance]),
        target=np.concatenate([problem.target, np.zeros(k)]),
        priority=np.concatenate([problem.priority, np.zeros(k, dtype=problem.priority.dtype)]),
        floor=np.concatenate([floor, np.zeros(k)]),
        ceiling=np.concatenate([problem.ceiling, np.full(k, np.inf)]),
        weight=np.concatenate([problem.weight, np.ones(k)]),
        square=False,
        committed=committed,
        names=names,
    )


def with_free_imports(problem: PlanProblem, free: np.ndarray) -> PlanProblem:
    """``problem`` with products ``free`` (net imports the plan does not use in full) made by an
    import technique that costs nothing, their floors ``0`` and their gross output capped at
    the quota ``-max(floor_i, committed_i)``: a restriction of ``problem`` (nothing of them is made at home),
    optimal for it when its prices pass gosplan's check on ``problem`` (the caller's)."""
    k, n = free.size, problem.n
    if k == 0:
        return problem
    into = sp.csr_array((np.ones(k), (free, np.arange(k))), shape=(n, k))
    net = sp.csr_array(sp.hstack([problem.net, into], format="csr"))
    make = sp.csr_array(sp.hstack([problem.make, into], format="csr"))
    for mat in (net, make):
        mat.sort_indices()
    primary = sp.csr_array(sp.hstack([problem.primary, sp.csr_array((problem.primary.shape[0], k))], format="csr"))
    taken = set(map(str, problem.products)) | set(map(str, problem.activities))
    imports = _unique([f"{p} (import)" for p in map(str, problem.products[free])], taken)
    capacity = problem.capacity.copy()
    capacity[free] = -lower_bound(problem)[free]
    floor = problem.floor.copy()
    floor[free] = 0.0
    committed = None
    if problem.committed is not None:
        committed = problem.committed.copy()
        committed[free] = np.maximum(committed[free], 0.0)
    return replace(problem, activities=pd.Index(list(problem.activities) + imports, dtype=object), net=net,
                   make=make, primary=primary, floor=floor, capacity=capacity, committed=committed, square=False)


def _unique(labels: list[str], taken: set[str]) -> list[str]:
    out = []
    for label in labels:
        while label in taken:
            label += "'"
        taken.add(label)
        out.append(label)
    return out


def stage_program(stage: dict[str, Any], augmented: PlanProblem) -> tuple[LinearProgram, Layout, dict[str, Any]]:
    """The stage's program written again for ``augmented`` (:func:`gosplan.planning.formulate`),
    and the stage's arguments for it."""
    objective = stage["objective"]
    n2 = augmented.n
    out = dict(stage, problem=augmented)
    if objective == "fulfilment":
        held = stage.get("held")
        held2 = np.full(n2, -np.inf)
        if held is not None:
            held2[: held.size] = held
            out["held"] = held2
        lp, layout = fulfilment_lp(augmented, stage["active"], held2, z_lower=stage.get("z_lower", 0.0),
                                   z_upper=stage.get("z_upper", np.inf))
    elif objective == "harmony":
        lp, layout = harmony_lp(augmented)
    else:
        lp, layout = cost_lp(augmented)
    out["layout"] = layout
    return lp, layout, out


def restricted(sol: LPSolution, lp: LinearProgram, layout: Layout, layout2: Layout) -> LPSolution:
    """``sol`` (of the augmented stage program, laid out as ``layout2``) as an answer to ``lp``
    (laid out as ``layout``): the quota balance rows, the capacity rows of the imports and the
    import and quota columns left out (see the module)."""
    n, m, n2, m2 = layout.n, layout.m, layout2.n, layout2.m
    cap2 = {int(p): k for k, p in enumerate(layout2.capacity_rows)}
    keep_rows = np.concatenate([
        np.arange(n),
        layout2.resource_start + np.arange(layout.resource_rows.size),
        layout2.capacity_start + np.array([cap2[int(p)] for p in layout.capacity_rows], dtype=np.int64),
        layout2.bound_start + np.arange(layout.bound_rows.size),
    ]).astype(np.int64)
    keep_cols = np.r_[0:m, m2 : m2 + lp.shape[1] - m]

    def rows(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)[keep_rows]

    def cols(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)[keep_cols]

    quotas = n2 > n  # with_imports: a quota product per import; with_free_imports: none
    k = n2 - n if quotas else m2 - m
    message = sol.message + (
        f"; {k} net import(s) planned as {'capped import techniques' if quotas else 'free imports'}" if k else ""
    )
    v, y = cols(sol.v), rows(sol.y)
    # reduced costs on lp's own rows (an import's capacity row, left out, priced its product's techniques)
    d = lp.reduced_costs(v, y) if v is not None and y is not None and np.isfinite(v).all() and np.isfinite(y).all() \
        else cols(sol.d)
    return replace(sol, v=v, y=y, d=d, farkas=rows(sol.farkas), ray=cols(sol.ray), message=message)

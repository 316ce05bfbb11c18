"""Net imports in the Leontief method: a floor below zero as a capped import technique.

Real tables carry products whose final demand is negative (WIOD's inventories, BEA's
noncomparable imports): more of them is used than the economy makes, and their net output
may fall to that figure (``floor_i < 0``, see :class:`~gosplan.planning.problem.PlanProblem`).
The consumer-feedback loop commits the rest of final demand, which is negative where
households buy more of a product than the whole of final demand holds.

``fulfilment`` and ``cost`` first keep such a bound as *negative demand* ``h_i < 0`` in the
plans ``x = (I - A_B)^-1 (h + z d)`` (:func:`gosplan.planning.substitution.solve_stage`): the
plan then imports the whole quota, which is optimal while it uses at least that much of the
product (checked on the plan). The products whose imports exceed what the plan uses (WIOD
2011 has two with a gross output of -1 in the table), or all of them where negative demand
would run a product of several techniques backwards, are planned as an equivalent program
(:func:`with_imports`; :mod:`gosplan.planning.leontief_backend` drives both) in which

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
columns left out; gosplan's check then judges them on the original program.

``harmony`` (a Newton search over the prices, which the choice between making and importing
a product at the same price would make non-smooth) keeps a net import as negative demand
``h_i = floor_i`` while the plan uses at least that much of the product (the import is used
in full, the product's price is what making it costs); a product of which the plan uses
less is imported only (:func:`with_free_imports`: an import technique that costs nothing,
capped at the quota, whose rent is then the product's price, ``0`` while the quota is not
used in full), and the plan is made again. The answer is checked on the original program
(a product made at home after all would show as a technique priced below its cost).

A targeted product imports the same way when its committed demand is negative (the rest of
final demand is met partly from abroad, as in a table's household and export columns): its
balance ``N_i x >= committed_i + z y_i`` becomes ``N_i x + s_i >= z y_i`` with the quota
``-committed_i``, provided its floor is at or below the committed demand (else the floor would
bound the net output as well: such a product is planned as negative demand only, and where its
imports exceed the plan's use the method gives the plan to HiGHS). An importing product with a capacity
(a bound on what is made of it at home) is split: its techniques make a *home* product that
carries the capacity, and a *delivery* technique turns it into the product at no cost, beside
the import. ``harmony``'s free imports take targeted products under the same rule (the balance
``N_i x >= committed_i + y_i (1 + s_i)`` becomes ``N_i x >= y_i (1 + s_i)`` with the quota
``-committed_i`` on the import), and capped ones too: nothing of them is made at home, so
their capacity holds and the quota takes its place (priced 0 where it is above zero; where it
is zero it binds, priced at what making the product at home would save). Where a capacity above
zero is worth using (the product's price above what making it at home costs), the caller runs
that technique at the capacity beside the import (``made``: its inputs committed, its output
added to the quota).
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
    """The least net output of each product beyond its target: ``max(floor, committed)`` (``n``)."""
    return np.maximum(problem.floor, problem.base_floor)


def importing(problem: PlanProblem) -> np.ndarray:
    """Products whose net output may fall below zero: untargeted ones with a negative floor, or
    negative committed demand above it; targeted ones with negative committed demand."""
    low = lower_bound(problem)
    return np.flatnonzero((low < 0) & ((problem.target == 0) | (problem.floor <= problem.base)))


def refusal(problem: PlanProblem, objective: str = "fulfilment", imp: np.ndarray | None = None) -> str:
    """Why the net imports of ``problem`` (of products ``imp``, default all) cannot be planned as
    import techniques for ``objective`` (``""``: they can).

    A targeted product may import when its committed demand is negative and its floor at or
    below it (its net output is then bounded by ``committed + z y`` alone); a floor between them
    would bound it too, and a negative floor without negative committed demand is refused; for
    every objective (``harmony``'s free imports, :func:`with_free_imports`, included)."""
    targeted = problem.target > 0
    floor, base = problem.floor, problem.base
    if imp is not None:
        chosen = np.zeros(problem.n, dtype=bool)
        chosen[imp] = True
        targeted = targeted & chosen
    above = np.flatnonzero(targeted & (base < 0) & (floor > base))
    if above.size:
        i = above[0]
        return (f"negative committed demand (net imports) on a targeted product whose floor ({floor[i]:g}) is "
                f"above it ({base[i]:g}): a floor at or below it lets the product be imported, e.g. "
                f"{problem.product_words(problem.products[i])}")
    alone = np.flatnonzero(targeted & (floor < 0)) if problem.committed is None else np.zeros(0, dtype=np.int64)
    if alone.size:
        return (f"negative floor (net imports) without committed demand on a targeted product, e.g. "
                f"{problem.product_words(problem.products[alone[0]])}")
    return ""


def with_imports(problem: PlanProblem, imp: np.ndarray | None = None) -> PlanProblem:
    """The equivalent program of the module for the importing products ``imp`` (default all of
    :func:`importing`): products ``[products, quotas, homes]``, activities ``[activities, imports,
    quota sources, deliveries]``, floors and negative committed demand of ``imp`` ``0``.

    An importing product ``i`` with a capacity (on what is made of it at home) is split: its own
    techniques make ``i*h`` (made at home, carrying the capacity), a *delivery* turns a unit of
    ``i*h`` into a unit of ``i`` at no cost, and the import technique makes ``i`` beside it."""
    imp = importing(problem) if imp is None else np.asarray(imp, dtype=np.int64)
    k, n, m = imp.size, problem.n, problem.m
    if k == 0:
        return problem
    capped = imp[np.isfinite(problem.capacity[imp])]
    h = capped.size
    into = sp.csr_array((np.ones(k), (imp, np.arange(k))), shape=(n, k))
    to_capped = sp.csr_array((np.ones(h), (capped, np.arange(h))), shape=(n, h))
    made = sp.csr_array(problem.make[capped])  # (h x m): moved to the home rows
    moved = sp.csr_array(to_capped @ made)
    eye_k, eye_h = sp.identity(k, format="csr"), sp.identity(h, format="csr")
    zero_nk, zero_kk = sp.csr_array((n, k)), sp.csr_array((k, k))
    zero_kh, zero_hk = sp.csr_array((k, h)), sp.csr_array((h, k))
    net = sp.csr_array(sp.block_array([
        [problem.net - moved, into, zero_nk, to_capped],
        [sp.csr_array((k, m)), -eye_k, eye_k, zero_kh],
        [made, zero_hk, zero_hk, -eye_h],
    ], format="csr"))
    make = sp.csr_array(sp.block_array([
        [problem.make - moved, into, zero_nk, to_capped],
        [sp.csr_array((k, m)), zero_kk, eye_k, zero_kh],
        [made, zero_hk, zero_hk, sp.csr_array((h, h))],
    ], format="csr"))
    for mat in (net, make):
        mat.eliminate_zeros()
        mat.sort_indices()
    primary = sp.csr_array(sp.hstack([problem.primary, sp.csr_array((problem.primary.shape[0], 2 * k + h))],
                                     format="csr"))
    labels = [str(p) for p in problem.products[imp]]
    taken = set(map(str, problem.products)) | set(map(str, problem.activities))
    quota = _unique([f"{p} (import quota)" for p in labels], taken)
    homes = _unique([f"{p} (made at home)" for p in map(str, problem.products[capped])], taken)
    imports = _unique([f"{p} (import)" for p in labels], taken)
    sources = _unique([f"{p} (quota)" for p in labels], taken)
    deliveries = _unique([f"{p} (delivery)" for p in map(str, problem.products[capped])], taken)
    allowance = -lower_bound(problem)[imp]
    floor = problem.floor.copy()
    floor[imp] = 0.0
    capacity = problem.capacity.copy()
    capacity[capped] = np.inf
    names = None if problem.names is None else pd.concat(
        [problem.names, pd.Series(pd.NA, index=pd.Index(quota + homes), dtype=problem.names.dtype)]
    )
    committed = None
    if problem.committed is not None:
        committed = problem.committed.copy()
        committed[imp] = np.maximum(committed[imp], 0.0)
        committed = np.concatenate([committed, np.zeros(k + h)])
    extra = k + h
    return replace(
        problem,
        products=problem.products.append(pd.Index(quota + homes, dtype=object)),
        activities=pd.Index(list(problem.activities) + imports + sources + deliveries, dtype=object),
        net=net,
        make=make,
        primary=primary,
        capacity=np.concatenate([capacity, allowance, problem.capacity[capped]]),
        target=np.concatenate([problem.target, np.zeros(extra)]),
        priority=np.concatenate([problem.priority, np.zeros(extra, dtype=problem.priority.dtype)]),
        floor=np.concatenate([floor, np.zeros(extra)]),
        ceiling=np.concatenate([problem.ceiling, np.full(extra, np.inf)]),
        weight=np.concatenate([problem.weight, np.ones(extra)]),
        square=False,
        committed=committed,
        names=names,
    )


def home_of(problem: PlanProblem, imp: np.ndarray) -> np.ndarray:
    """Index in ``with_imports(problem, imp)`` of the product that carries each product's
    capacity: its home product where it was split, else itself (``n``)."""
    out = np.arange(problem.n)
    capped = imp[np.isfinite(problem.capacity[imp])]
    out[capped] = problem.n + imp.size + np.arange(capped.size)
    return out


def with_free_imports(problem: PlanProblem, free: np.ndarray, made: np.ndarray | None = None) -> PlanProblem:
    """``problem`` with products ``free`` (net imports the plan does not use in full) made by an
    import technique that costs nothing (activities ``m, m + 1, ...`` in the order of ``free``),
    their floors and negative committed demand ``0`` and their gross output capped at the quota
    ``-max(floor_i, committed_i)``: a restriction of ``problem`` where nothing of them is made at
    home (the caller starts the technique choice on the imports, which ties keep), so a capacity
    on what is made at home holds and the quota takes its place; optimal for ``problem`` when its
    prices pass gosplan's check there (the caller's, with those capacities priced again).

    ``made`` (``m``, default none): activities run at fixed levels, each making a free product
    at home up to its capacity, where that costs less than the product's price (used goods in
    the BEA tables need nothing limited). Their inputs are committed (the bounds of the products
    they use move up by ``U x_made``, the resources they use are set aside) and what they make
    is added to the product's quota: the free technique then delivers home production and
    imports together."""
    k, n = free.size, problem.n
    if k == 0:
        return problem
    fixed = None if made is None or not np.any(made) else np.asarray(made, dtype=np.float64)
    if fixed is not None:
        problem = _made_at_home(problem, fixed)
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
    if fixed is not None:
        capacity[free] += (problem.make @ fixed)[free]
    floor = problem.floor.copy()
    floor[free] = 0.0
    committed = None
    if problem.committed is not None:
        committed = problem.committed.copy()
        committed[free] = np.maximum(committed[free], 0.0)
    return replace(problem, activities=pd.Index(list(problem.activities) + imports, dtype=object), net=net,
                   make=make, primary=primary, floor=floor, capacity=capacity, committed=committed, square=False)


def _made_at_home(problem: PlanProblem, made: np.ndarray) -> PlanProblem:
    """``problem`` for the activities other than those run at the levels ``made``: the inputs
    ``U made`` added to every product's bounds (committed demand, floor, ceiling; where there is
    no committed demand it is ``0`` under a target and the floor elsewhere, which reads the
    same), ``P made`` taken from the available resources. What they make is left to the caller."""
    use = (problem.make - problem.net) @ made
    base = problem.committed if problem.committed is not None else np.where(problem.target > 0, 0.0, problem.floor)
    available = problem.available - problem.primary @ made
    return replace(problem, committed=base + use, floor=problem.floor + use, ceiling=problem.ceiling + use,
                   available=np.where(np.isfinite(problem.available), available, np.inf))


def _unique(labels: list[str], taken: set[str]) -> list[str]:
    out = []
    for label in labels:
        while label in taken:
            label += "'"
        taken.add(label)
        out.append(label)
    return out


def stage_program(stage: dict[str, Any], augmented: PlanProblem,
                  imp: np.ndarray | None = None) -> tuple[LinearProgram, Layout, dict[str, Any]]:
    """The stage's program written again for ``augmented`` (:func:`gosplan.planning.formulate`;
    ``imp``: the products :func:`with_imports` gave import techniques, if it made ``augmented``),
    and the stage's arguments for it."""
    objective = stage["objective"]
    n2 = augmented.n
    out = dict(stage, problem=augmented)
    if objective == "fulfilment":
        held = stage.get("held")
        held2 = np.full(n2, -np.inf)
        if held is not None:
            held2[: held.size] = held
            # an earlier class's importing product holds N_i x + s_i >= held_i + quota_i
            if imp is not None:
                held2[imp] += augmented.capacity[stage["problem"].n + np.arange(imp.size)]
            out["held"] = held2
        lp, layout = fulfilment_lp(augmented, stage["active"], held2, z_lower=stage.get("z_lower", 0.0),
                                   z_upper=stage.get("z_upper", np.inf))
    elif objective == "harmony":
        lp, layout = harmony_lp(augmented)
    else:
        lp, layout = cost_lp(augmented)
    out["layout"] = layout
    return lp, layout, out


def restricted(sol: LPSolution, lp: LinearProgram, layout: Layout, layout2: Layout,
               home: np.ndarray | None = None) -> LPSolution:
    """``sol`` (of the augmented stage program, laid out as ``layout2``) as an answer to ``lp``
    (laid out as ``layout``): the quota and home balance rows, the capacity rows of the imports
    and the import, quota and delivery columns left out (see the module); ``home``
    (:func:`home_of`) says which augmented product carries each product's capacity."""
    n, m, n2, m2 = layout.n, layout.m, layout2.n, layout2.m
    cap2 = {int(p): k for k, p in enumerate(layout2.capacity_rows)}
    carried = np.arange(n) if home is None else home
    keep_rows = np.concatenate([
        np.arange(n),
        layout2.resource_start + np.arange(layout.resource_rows.size),
        layout2.capacity_start + np.array([cap2[int(carried[p])] for p in layout.capacity_rows], dtype=np.int64),
        layout2.bound_start + np.arange(layout.bound_rows.size),
    ]).astype(np.int64)
    keep_cols = np.r_[0:m, m2 : m2 + lp.shape[1] - m]

    def rows(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)[keep_rows]

    def cols(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)[keep_cols]

    quotas = n2 > n  # with_imports: a quota product per import (and a home one per split); with_free_imports: none
    k = (n2 - n) - (0 if home is None else int((home >= n).sum())) if quotas else m2 - m
    message = sol.message + (
        f"; {k} net import(s) planned as {'capped import techniques' if quotas else 'free imports'}" if k else ""
    )
    v, y = cols(sol.v), rows(sol.y)
    # reduced costs on lp's own rows (an import's capacity row, left out, priced its product's techniques)
    d = lp.reduced_costs(v, y) if v is not None and y is not None and np.isfinite(v).all() and np.isfinite(y).all() \
        else cols(sol.d)
    return replace(sol, v=v, y=y, d=d, farkas=rows(sol.farkas), ray=cols(sol.ray), message=message)

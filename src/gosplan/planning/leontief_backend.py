"""The Leontief method as a backend of :class:`gosplan.planning.runner.Runner`.

:func:`solve_leontief` runs :func:`gosplan.planning.substitution.solve_stage` (``fulfilment``,
``cost``) or :func:`gosplan.planning.harmony_leontief.solve_harmony` on a stage and answers for
the stage's own program. Around them:

* **a plan nothing limits** (no limited resource, no capacity, an objective that grows): it is
  unbounded along ``x = (I - A_B)^-1 y`` for a productive technique choice ``B`` (one policy
  iteration, one Leontief solve), which is reported as the program's ray;
* **net imports** (negative floors, negative committed demand): ``fulfilment`` and ``cost``
  keep them as negative demand (the plan imports the whole quota) while the plan uses at least
  that much of each product; where it uses less, they plan the equivalent program with capped
  import techniques (:mod:`gosplan.planning.net_imports`). ``harmony`` keeps them as negative
  demand and imports only those products of which the plan uses less, until the answer passes
  gosplan's check on the original program.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from gosplan.errors import PlanningError
from gosplan.optim.check import proves_unbounded, verify
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus
from gosplan.planning import harmony_leontief, net_imports, substitution
from gosplan.planning.substitution import ImportsExceedUse, NegativeDemandMixes, NotApplicable, _Structure

__all__ = ["solve_leontief", "IMPORT_ROUNDS"]


def solve_leontief(lp: LinearProgram, stage: dict[str, Any], tol: float, time_limit: float | None,
                   progress: Callable[[str], None] | None) -> LPSolution:
    """The Leontief method on a stage (``stage``: what :func:`gosplan.planning.substitution.solve_stage`
    takes), its answer given for ``lp`` itself; raises
    :class:`~gosplan.planning.substitution.NotApplicable` where the method gives up."""
    problem = stage["problem"]
    if (stage.get("objective") in ("fulfilment", "harmony") and np.isinf(stage.get("z_upper", np.inf))
            and not np.isfinite(problem.available).any() and not np.isfinite(problem.capacity).any()):
        ray = _free_ray(lp, stage)
        if ray is not None:
            return ray
    if stage.get("objective") == "harmony":
        sol = _harmony(lp, stage, tol, time_limit, progress)
    else:
        sol = _with_net_imports(lp, stage, tol, time_limit, progress)
    if substitution.has_negative_inputs(problem):
        sol = substitution.certified_with_negative_inputs(problem, lp, sol, tol)
    return sol


def _with_net_imports(lp: LinearProgram, stage: dict[str, Any], tol: float, time_limit: float | None,
                      progress: Callable[[str], None] | None) -> LPSolution:
    """``fulfilment`` and ``cost``: net imports as negative demand; the products whose imports
    exceed what the plan uses get capped import techniques
    (:func:`gosplan.planning.net_imports.with_imports`), and the stage is planned again, at
    most :data:`IMPORT_ROUNDS` times. The set is kept in the plan's state for later stages."""
    problem = stage["problem"]
    state = stage.get("state")
    memory = {} if state is None else state.setdefault("imports", {})
    imp = memory.get("products", np.zeros(0, dtype=np.int64))
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    for _ in range(IMPORT_ROUNDS):
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        if not imp.size:
            lp2, layout2, stage2 = lp, stage["layout"], stage
        else:
            why = net_imports.refusal(problem, stage["objective"], imp)
            if why:
                raise NotApplicable(f"net imports exceed what the plan uses, and {why}")
            cached = memory.get("augmented")
            if cached is not None and cached[0] is problem and np.array_equal(cached[1], imp):
                augmented = cached[2]
            else:
                augmented = net_imports.with_imports(problem, imp)
                memory["augmented"] = (problem, imp, augmented)
                memory.pop("state", None)
            lp2, layout2, stage2 = net_imports.stage_program(dict(stage, state=memory.setdefault("state", {})),
                                                             augmented, imp)
        try:
            sol = substitution.solve_stage(lp=lp2, tol=tol, time_limit=left, progress=progress, **stage2)
        except NegativeDemandMixes:
            more = net_imports.importing(problem)  # every net import as an import technique
            if not np.setdiff1d(more, imp).size:
                raise
            imp = more
            memory["products"] = imp
            continue
        except ImportsExceedUse as exc:
            more = exc.products[exc.products < problem.n]
            if not np.setdiff1d(more, imp).size:
                raise
            imp = np.union1d(imp, more)
            memory["products"] = imp
            continue
        negative = net_imports.importing(problem).size - imp.size
        if imp.size:
            sol = net_imports.restricted(sol, lp, stage["layout"], layout2, net_imports.home_of(problem, imp))
        if negative > 0:
            sol.message += f"; {negative} net import(s) planned as negative demand"
        return sol
    raise NotApplicable(f"net imports exceeded the plan's use {IMPORT_ROUNDS} times over")


def _free_ray(lp: LinearProgram, stage: dict[str, Any]) -> LPSolution | None:
    """Nothing limited at all: the plan grows without end along ``x = (I - A_B)^-1 y`` (the targets
    being maximised) for a productive technique choice ``B``, with ``z`` (or every ``s_i``) ``+1``;
    ``None`` where the economy is not productive (the caller solves as usual)."""
    started = time.perf_counter()
    problem = stage["problem"]
    active = stage.get("active")
    t = problem.target.copy()
    if stage["objective"] == "fulfilment" and active is not None:
        keep = np.zeros(problem.n, dtype=bool)
        keep[active] = True
        t[~keep] = 0.0
    st = _Structure.build(problem, "fulfilment")
    try:
        st.cheapest(np.ones(problem.m))
        g = np.asarray(st.plans(t)).reshape(-1)
    except (PlanningError, ArithmeticError, NotApplicable):  # not productive: the usual path decides
        return None
    if not (np.isfinite(g).all() and (g >= -1e-12 * max(float(np.abs(g).max(initial=0.0)), 1.0)).all()):
        return None
    x = np.zeros(problem.m)
    x[st.choice] = np.maximum(g, 0.0) / st.out[st.choice]
    ray = np.concatenate([x, np.ones(lp.shape[1] - problem.m)])
    # The program is feasible (productive, nothing limited, no ceilings: any demand can be made);
    # the ray is checked on it as the harmony method's is.
    if not proves_unbounded(lp, ray):
        return None
    k, m = lp.shape
    return LPSolution(
        status=LPStatus.UNBOUNDED, v=np.full(m, np.nan), y=np.full(k, np.nan), d=np.full(m, np.nan),
        objective=np.nan, method="leontief", iterations=st.solves, seconds=time.perf_counter() - started,
        message=("Leontief method: nothing limits the plan (no limited resource, no capacity); it grows without "
                 "end along (I - A_B)^-1 y for a productive technique choice"),
        ray=ray,
    )


def _home_capacities_priced(sol: LPSolution, lp: LinearProgram, layout, problem, capped: np.ndarray,
                            full: np.ndarray | None = None) -> LPSolution:
    """``sol`` with the capacity rows of ``capped`` (free imports with a capacity on what is made
    at home) priced again for the original program. The restricted program gave each row the
    import quota's rent, which is already the product's own price. A capacity above zero of
    which nothing is made at home is slack and priced 0; a capacity of zero, and one made at home
    in full (``full``), binds, and is priced at what making the product at home saves at these
    prices, ``max_j (-d_j / O_ij)^+`` over its techniques."""
    if not capped.size or sol.y is None or not np.isfinite(sol.y).all() or not np.isfinite(sol.v).all():
        return sol
    position = {int(p): k for k, p in enumerate(layout.capacity_rows)}
    rows = {int(p): layout.capacity_start + position[int(p)] for p in capped if int(p) in position}
    if not rows:
        return sol
    y = sol.y.copy()
    y[list(rows.values())] = 0.0
    d = lp.reduced_costs(sol.v, y)
    make = sp.csr_array(problem.make)
    binding = set() if full is None else set(map(int, full))
    for product, row in rows.items():
        if problem.capacity[product] > 0 and product not in binding:
            continue
        span = slice(make.indptr[product], make.indptr[product + 1])
        y[row] = -max(float(np.max(-d[make.indices[span]] / make.data[span], initial=0.0)), 0.0)
    return replace(sol, y=y, d=lp.reduced_costs(sol.v, y))


#: Rounds of :func:`_harmony` and :func:`_with_net_imports` that move net imports the plan does
#: not use in full to import techniques (free ones for harmony, capped ones otherwise).
IMPORT_ROUNDS = 8


def _harmony(lp: LinearProgram, stage: dict[str, Any], tol: float, time_limit: float | None,
             progress: Callable[[str], None] | None) -> LPSolution:
    """The Leontief harmony method; net imports as negative demand, those the plan does not use in
    full as free import techniques (:mod:`gosplan.planning.net_imports`). A free import with a
    capacity above zero on what is made at home, which the plan's prices say is cheaper to make
    than the product is worth, is made at home again (negative demand), and where that was
    tried, in full beside the import (``made``); made at home no more when a later plan prices
    it below its cost."""
    problem = stage["problem"]
    free = np.zeros(0, dtype=np.int64)
    home_at: dict[int, int] = {}  # free product -> the technique that makes it at home in full
    tried: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    make, rows = sp.csc_array(problem.make), sp.csr_array(problem.make)
    for _ in range(IMPORT_ROUNDS):
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        if not free.size:
            try:
                return harmony_leontief.solve_harmony(lp=lp, tol=tol, time_limit=left, progress=progress, **stage)
            except ImportsExceedUse as exc:
                free = exc.products
                tried.add((tuple(free), ()))
                continue
        why = net_imports.refusal(problem, "harmony", free)
        if why:
            raise NotApplicable(why)
        made = np.zeros(problem.m)
        for i, j in home_at.items():
            made[j] = problem.capacity[i] / float(rows[i, j])
        augmented = net_imports.with_free_imports(problem, free, made)
        lp2, layout2, stage2 = net_imports.stage_program(stage, augmented)
        # start on the imports: a product's own techniques may cost as little (used goods need
        # nothing limited), and a tie would keep them, made at home past their capacity
        stage2["prefer"] = (free, problem.m + np.arange(free.size))
        try:
            sol = harmony_leontief.solve_harmony(lp=lp2, tol=tol, time_limit=left, progress=progress, **stage2)
        except ImportsExceedUse as exc:
            free = np.union1d(free, exc.products)
            tried.add((tuple(free), tuple(sorted(home_at))))
            continue
        sol = net_imports.restricted(sol, lp, stage["layout"], layout2)
        if home_at and sol.v is not None:
            sol = replace(sol, v=np.concatenate([sol.v[: problem.m] + made, sol.v[problem.m:]]),
                          message=sol.message + f" ({len(home_at)} of them made at home too, up to the capacity)")
        sol = _home_capacities_priced(sol, lp, stage["layout"], problem, free[np.isfinite(problem.capacity[free])],
                                      full=np.fromiter(home_at, dtype=np.int64))
        check = verify(lp, sol.v, sol.y) if sol.status is LPStatus.OPTIMAL else None
        # certified on the original program, prices row by row too: the rows and capacities left
        # out of the restriction price what it imports, and a price the restriction got wrong
        # there would not show in the check's totals (us-2017's loop: gap 3e-7, prices off by 0.63)
        if check is None or (check.passes(tol) and check.price_error <= 10 * tol):
            return sol
        # The restriction is not optimal for the program itself: products whose own techniques
        # it prices below their cost are made at home again, in full where a capacity above zero
        # limits them (the import goes on beside); those made in full whose technique it prices
        # above its cost are made at home no more.
        scale = tol * (1.0 + np.abs(lp.c[: problem.m]))
        d = sol.d[: problem.m]
        cheap = np.flatnonzero(d < -scale)
        home = np.zeros(problem.n, dtype=bool)
        home[np.asarray(make[:, cheap].tocoo().row, dtype=np.int64)] = True
        back = free[home[free]]
        dear = {i for i, j in home_at.items() if d[j] > scale[j]}
        new_home = {i: j for i, j in home_at.items() if i not in dear}
        key = (tuple(np.setdiff1d(free, back)), tuple(sorted(new_home)))
        fill = back[(problem.capacity[back] > 0) & np.isfinite(problem.capacity[back])]
        if (key in tried or (back.size == 0 and new_home == home_at)) and fill.size:
            # Made at home again as negative demand was tried (or is where the plan uses less
            # than the quota): made at home in full beside the import instead.
            for i in fill:  # the technique that saves the most a unit
                span = slice(rows.indptr[i], rows.indptr[i + 1])
                techniques, out = rows.indices[span], rows.data[span]
                new_home.setdefault(int(i), int(techniques[np.argmin(d[techniques] / out)]))
            back = np.setdiff1d(back, fill)
            key = (tuple(np.setdiff1d(free, back)), tuple(sorted(new_home)))
        if (back.size == 0 and new_home == home_at) or key in tried:
            named = ", ".join(problem.product_words(problem.products[i]) for i in free[:3])
            if back.size == 0 and new_home == home_at and check.passes(tol):
                raise NotApplicable(f"with {named} imported only, the plan's prices miss row by row by "
                                    f"{check.price_error:.1e}")
            raise NotApplicable(f"net imports not settled: importing only {named} is not optimal")
        tried.add(key)
        free = np.asarray(key[0], dtype=np.int64)
        home_at = {i: j for i, j in new_home.items() if i in set(key[0])}
    raise NotApplicable(f"net imports not settled in {IMPORT_ROUNDS} plans")

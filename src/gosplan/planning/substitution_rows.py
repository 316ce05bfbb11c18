"""An exact finish for the Leontief method in the space of its linking rows: the whole
program around one technique choice, priced by one transposed Leontief solve per binding row.

Dantzig–Wolfe mixes whole plans, and its plan climbs one column a round: at 10^6 products the
bound is within 7e-5 of the optimum after one round, and the plan takes 226 more to meet it.
The program's optimum runs one technique per product except on at most as many products as
linking rows bind (resources and capacities).

Fix a choice ``B`` (the cheapest at the best bound's prices: its column is in the master).
Every plan that makes ``h + z d`` exactly runs the other techniques ``j`` at levels ``t_j >= 0``
and ``B`` at the gross outputs

    g(z, t) = g0 + z gd - sum_j t_j (I - A_B)^{-1} a_j,   a_j = O_j e_i(j) - U_j,

with ``g0 = (I - A_B)^{-1} h``, ``gd = (I - A_B)^{-1} d`` (that column's own plan). A
linking row reads ``f'g`` for a row ``f`` of products (a resource: ``P_B / O_B``; a capacity or
``g_i >= 0``: ``e_i``), so with ``y_f = (I - A_B)^{-T} f`` (one transposed solve per row, eight at
a time) the row's coefficient of ``t_j`` is ``y_f' a_j``: every technique of the economy is
priced at once by one sparse product ``U' Y``. :mod:`gosplan.planning.substitution_finish`
solves one direction per *technique* instead, so it must wait until the master mixes few of
them; here the cost is one solve per *row*, and the program holds every technique.

The program in ``(z, t)`` (``t`` alone for a cost plan) is solved by HiGHS' dual simplex on the
techniques whose reduced cost at its duals is negative (column generation over all of them, no
Leontief solve; a first phase minimises the rows' slacks), with the capacity rows the best prices
price; one forward solve of its plan then shows the capacities and ``g >= 0`` rows it breaks,
which join (one transposed solve each) until it breaks none. Each ``t_j`` is boxed by what
replaces all of ``B``'s output of its product (a stand-in for ``g_i >= 0``, widened where it binds
on a product still made). Its duals on the resource and capacity rows are the prices of the
whole program: the Lagrangian bound they give meets its plan (up to rounding), which certifies
both.

Memory: the rows' effects ``M`` hold a float per row and technique outside ``B`` (:data:`MEMORY`).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

__all__ = ["linking_plan", "row_limit"]

#: Bytes of the rows' effects ``M`` (a float per row and technique outside the choice) at most.
MEMORY = 2 * 2**30
#: Linking rows at most.
MAX_ROWS = 2000
#: Techniques kept in the program: beyond this, those at zero with the largest reduced costs go.
KEEP = 1500
#: Right-hand sides per transposed Leontief solve.
BLOCK = 8
#: Techniques entering the program per pricing pass at most (the most negative reduced costs).
ENTER = 500
#: Passes (pricing, or rows found broken) before the program is given up.
MAX_PASSES = 500
#: A gross output below ``-NEGATIVE`` times its product's flows breaks its row ``g_i >= 0``
#: (above, it is rounding and set to zero).
NEGATIVE = 1e-10


#: Why a try stopped at the stage's deadline (its time limit).
OUT_OF_TIME = "out of time"


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def row_limit(alternatives: int) -> int:
    """Linking rows the finish may hold with ``alternatives`` techniques outside the choice."""
    return int(min(MAX_ROWS, MEMORY // (8 * max(alternatives, 1))))


def _effects(st, J: np.ndarray, Y: np.ndarray, UJT: sp.csr_array) -> np.ndarray:
    """``M[j, f] = y_f' a_j`` for techniques ``J``: the effect of one unit of ``j`` on row ``f``
    through ``B``'s gross outputs (``a_j = O_j e_i(j) - U_j``; ``UJT = U[:, J]'``)."""
    return st.out[J, None] * Y[st.product_of[J]] - np.asarray(UJT @ Y)


class _Rows:
    """The program's linking rows, and their effects ``M`` (``|J| x rows``) of the techniques
    ``J`` outside choice ``B``. Each row's ``y`` is solved, used for ``M`` and dropped.

    A unit row ``e_i`` of a product outside the cycles' core ``R`` of the Leontief solve (its
    trimmed levels) has a value vector that needs no iteration: a handful of nonzeros, pushed
    down the levels. Those rows are solved in blocks of their own, ahead of the others: at 10^6
    products 63 % of the capacities lie outside ``R``, and a block of eight of them took 0.34 s
    against 2.2 s (28 BiCGSTAB iterations) for eight inside it, while a block mixing both iterates
    for all eight. (The capacities a plan breaks lie mostly inside: 97 of the 140 that the last of
    three priority classes needed at 10^6 products, whose rows then took 25 s instead of ~30 s;
    run P23.)"""

    def __init__(self, st, B: np.ndarray, J: np.ndarray, PB: sp.csr_array, deadline: float | None) -> None:
        self.st, self.B, self.J, self.PB, self.deadline = st, B, J, PB, deadline
        self.UJT = sp.csr_array(st.U[:, J].T)  # sliced once: each block's effects multiply it
        self.kind = np.zeros(0, dtype="<U8")  # "resource", "capacity", "nonneg"
        self.at = np.zeros(0, dtype=np.int64)  # position in st.limited (resource) or product (capacity, nonneg)
        self.M = np.zeros((J.size, 0))
        self._core: np.ndarray | None = None

    def in_core(self, products: np.ndarray) -> np.ndarray:
        """Whether each of ``products`` lies in the Leontief solve's iterated core ``R``."""
        if self._core is None:
            with self.st.at_choice(self.B) as st:
                self._core = st.system().levels()[0] == 0
        return self._core[products]

    def transposed(self, F: np.ndarray) -> np.ndarray | None:
        """``(I - A_B)^{-T} F`` (``n x k``) to the method's tolerance, or ``None`` when the solve
        fails; the method's warm start for its prices is left as it was. (At 1e-9 the rows took
        19.5 s against 29 s at 10^6 products, but the plan missed the optimum by 2e-8.)"""
        from gosplan.planning.substitution import NotApplicable

        try:
            with self.st.at_choice(self.B) as st:
                Y = st._solve(np.ascontiguousarray(F), transpose=True, remember=False)
        except NotApplicable:
            return None
        return np.asarray(Y, dtype=np.float64).reshape(F.shape)

    def add(self, kind: str, at: np.ndarray) -> str | None:
        """Append rows of one kind (:data:`BLOCK` solves at a time; a product's rows outside the
        core ``R`` first, then those inside); why not, in words, when a solve fails or the
        deadline passes (none appended then)."""
        at = np.asarray(at, dtype=np.int64)
        if kind != "resource" and at.size:
            inside = self.in_core(at)
            at = np.concatenate([at[~inside], at[inside]])
        n = self.st.problem.n
        blocks = [self.M]
        for lo in range(0, at.size, BLOCK):
            if _late(self.deadline):
                return OUT_OF_TIME
            part = at[lo : lo + BLOCK]
            if kind == "resource":
                F = self.PB[part].toarray().T  # resource per unit of each product's output under B
            else:
                F = np.zeros((n, part.size))
                F[part, np.arange(part.size)] = 1.0
            Y = self.transposed(F)
            if Y is None:
                return "a row's solve failed"
            blocks.append(_effects(self.st, self.J, Y, self.UJT))
        self.M = np.hstack(blocks)
        self.kind = np.concatenate([self.kind, np.full(at.size, kind)])
        self.at = np.concatenate([self.at, at])
        return None


class _Program:
    """The program in ``(z, t)`` as a HiGHS model grown by techniques (columns) and linking
    rows, each pass warm-started from the last basis. Rows are scaled by their largest entry.
    Each row has a slack: in phase one the slacks' sum is minimised (every other cost zero), so
    that the techniques that meet a row price in before any is there; in phase two the slacks
    are fixed at zero and the program's own objective is optimised."""

    Z, SLACK = -1, -2  # kinds of the model's columns other than techniques (positions in J_all)

    def __init__(self, fulfil: bool, z_bounds: tuple[float, float]) -> None:
        from gosplan.optim.highs import _highspy, _new_highs

        self.hs = _highspy()
        self.h = _new_highs(self.hs)
        for key, value in (("output_flag", False), ("solver", "simplex"), ("small_matrix_value", 1e-12),
                           ("primal_feasibility_tolerance", 1e-10), ("dual_feasibility_tolerance", 1e-10)):
            self.h.setOptionValue(key, value)
        self.fulfil = fulfil
        self.phase_one = True
        self.cost = np.zeros(0)  # each column's own cost (phase two)
        self.scale = np.zeros(0)
        self.model = np.zeros(0, dtype=np.int64)  # what each column of the model is
        if fulfil:
            lo, hi = z_bounds
            self.h.addCol(-1.0, lo, hi if np.isfinite(hi) else self.hs.kHighsInf, 0, np.zeros(0, np.int32),
                          np.zeros(0))
            self.model = np.array([self.Z])
            self.cost = np.array([-1.0])

    @property
    def columns(self) -> np.ndarray:
        """The techniques in the model (positions in ``J_all``), in its order."""
        return self.model[self.model >= 0]

    def add_rows(self, b: np.ndarray, z_col: np.ndarray | None, A: np.ndarray) -> None:
        """Rows ``A [t] (+ z_col z) <= b`` over the model's techniques (``A``: rows x techniques)."""
        width = [np.abs(A).max(axis=1, initial=0.0), np.abs(b)]
        if z_col is not None:
            width.append(np.abs(z_col))
        scale = np.maximum.reduce(width)
        scale = np.where(scale > 0, scale, 1.0)
        full = np.zeros((b.size, self.model.size))
        full[:, self.model >= 0] = A
        if z_col is not None:
            full[:, self.model == self.Z] = z_col[:, None]
        full /= scale[:, None]
        full[np.abs(full) < 1e-13] = 0.0  # the solves' rounding
        csr = sp.csr_array(full)
        k, first = b.size, self.h.getNumRow()
        self.h.addRows(k, np.full(k, -self.hs.kHighsInf), b / scale, csr.nnz, csr.indptr[:-1].astype(np.int32),
                       csr.indices.astype(np.int32), csr.data)
        self.scale = np.concatenate([self.scale, scale])
        self.h.addCols(k, np.ones(k), np.zeros(k), np.full(k, self.hs.kHighsInf), k,
                       np.arange(k, dtype=np.int32), np.arange(first, first + k, dtype=np.int32), np.full(k, -1.0))
        self.model = np.concatenate([self.model, np.full(k, self.SLACK)])
        self.cost = np.concatenate([self.cost, np.zeros(k)])
        self.set_phase(True)

    def add_columns(self, idx: np.ndarray, A: np.ndarray, cost: np.ndarray, upper: np.ndarray) -> None:
        """Techniques ``idx`` with row coefficients ``A`` (rows x len(idx)), costs, bounds ``[0, upper]``."""
        full = A / self.scale[:, None]
        full[np.abs(full) < 1e-13] = 0.0
        csc = sp.csc_array(full)
        self.h.addCols(idx.size, np.zeros(idx.size) if self.phase_one else cost, np.zeros(idx.size), upper,
                       csc.nnz, csc.indptr[:-1].astype(np.int32), csc.indices.astype(np.int32), csc.data)
        self.model = np.concatenate([self.model, idx])
        self.cost = np.concatenate([self.cost, cost])

    def set_phase(self, one: bool) -> None:
        """Phase one: minimise the slacks' sum, free; phase two: the slacks fixed at zero, the
        columns' own costs."""
        self.phase_one = one
        slack = self.model == self.SLACK
        where = np.arange(self.model.size, dtype=np.int32)
        self.h.changeColsCost(where.size, where, np.where(slack, 1.0, 0.0) if one else self.cost)
        k = int(slack.sum())
        self.h.changeColsBounds(k, where[slack], np.zeros(k), np.full(k, self.hs.kHighsInf if one else 0.0))

    def drop(self, techniques: np.ndarray) -> None:
        """Remove the ``techniques`` (positions in ``J_all``; non-basic, at zero) from the model."""
        where = np.flatnonzero(np.isin(self.model, techniques) & (self.model >= 0))
        if where.size:
            self.h.deleteCols(where.size, where.astype(np.int32))
            self.model = np.delete(self.model, where)
            self.cost = np.delete(self.cost, where)

    def widen(self, techniques: np.ndarray, upper: np.ndarray) -> None:
        """New upper bounds of ``techniques`` (positions in ``J_all``, in the model)."""
        order = np.argsort(self.model[self.model >= 0])
        where = np.flatnonzero(self.model >= 0)[order][np.searchsorted(self.model[self.model >= 0][order],
                                                                        techniques)]
        self.h.changeColsBounds(where.size, where.astype(np.int32), np.zeros(where.size), upper)

    def solve(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float] | None:
        """``(z, t, basic, y, slack)``: the plan (``t`` and whether each technique is basic, in
        :attr:`columns`' order), the rows' shadow prices ``y >= 0`` (unscaled; in phase one, of
        the slacks' sum) and the slacks' sum; ``None`` when HiGHS finds no optimum."""
        self.h.run()
        self.status = self.h.getModelStatus()
        if self.status == self.hs.HighsModelStatus.kUnknown:
            # the simplex from the last basis gave up (numerical trouble after the model grew):
            # once more from no basis
            self.h.clearSolver()
            self.h.run()
            self.status = self.h.getModelStatus()
        if self.status != self.hs.HighsModelStatus.kOptimal:
            return None
        sol = self.h.getSolution()
        v = np.asarray(sol.col_value, dtype=np.float64)
        y = -np.asarray(sol.row_dual, dtype=np.float64) / self.scale
        tech = self.model >= 0
        status = self.h.getBasis().col_status
        basic = np.array([status[k] == self.hs.HighsBasisStatus.kBasic for k in np.flatnonzero(tech)], dtype=bool)
        z = float(v[self.model == self.Z][0]) if self.fulfil else 0.0
        slack = float(v[self.model == self.SLACK].sum())
        return z, v[tech], basic, np.maximum(y, 0.0), slack


def linking_plan(st, B: np.ndarray, g0: np.ndarray, gd: np.ndarray, h: np.ndarray, d: np.ndarray,
                 objective: str, z_lower: float, z_upper: float, capacities: np.ndarray,
                 mu0: np.ndarray, kappa0: np.ndarray, z_bound: float, max_rows: int | None = None,
                 deadline: float | None = None):
    """The whole program around choice ``B`` (gross outputs ``g0``, ``gd`` for ``h``, ``d``)
    with the capacity rows of ``capacities`` (products) to start: ``(value, x, mu, kappa,
    rows)`` (``x``: every technique's level; ``mu``, ``kappa``: its resource and capacity
    duals; ``rows``: the linking rows it held); when it fails or needs more rows
    than :func:`row_limit` or ``max_rows``: then why, in words (a ``str``). ``mu0``, ``kappa0``: prices that pick the first
    techniques to enter; ``z_bound``: a bound on ``z`` (each technique's level is boxed by what replaces ``B``'s
    output of its product there, and widened where that box binds on a product still made);
    ``deadline`` (``time.perf_counter()``): given up, :data:`OUT_OF_TIME`, once it passes (checked
    between blocks of rows and between passes)."""
    p = st.problem
    n = p.n
    fulfil = objective == "fulfilment"
    # every technique other than B's of a product with a choice
    techs = st._choosing_techniques[1]
    J_all = techs[B[st.product_of[techs]] != techs]
    prod_J, out_J = st.product_of[J_all], st.out[J_all]
    limit = row_limit(J_all.size) if max_rows is None else min(max_rows, row_limit(J_all.size))
    PB = sp.csr_array(st.P_lim[:, B] @ sp.diags_array(1.0 / st.out[B]))  # resources per unit of B's outputs
    rows = _Rows(st, B, J_all, PB, deadline)
    r_lim = st.limited.size
    if r_lim + capacities.size > limit:
        return f"more rows than room for them ({limit})"
    why = rows.add("resource", np.arange(r_lim)) or rows.add("capacity", capacities)
    if why:
        return why
    P_J = st.P_lim[:, J_all].toarray()  # r_lim x |J|
    if fulfil:
        c_J = np.zeros(J_all.size)
    else:
        # cost: c_B' g / O_B + c_J' t, with (I - A_B)^{-T} c_B / O_B pricing B's outputs at their cost
        y_cost = rows.transposed((st.base_cost[B] / st.out[B])[:, None])
        if y_cost is None:
            return "the cost row's solve failed"
        c_J = st.base_cost[J_all] - _effects(st, J_all, y_cost, rows.UJT)[:, 0]
    R = p.available[st.limited]
    cap_all = p.capacity
    PBg0, PBgd = PB @ g0, PB @ gd

    def coefficients(r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Rows ``r`` (positions in ``rows``) of the techniques ``J_all[idx]`` (unscaled)."""
        kinds, at = rows.kind[r], rows.at[r]
        A = rows.M[np.ix_(idx, r)].T.copy()
        res, cap = kinds == "resource", kinds == "capacity"
        A[res] = P_J[at[res]][:, idx] - A[res]
        A[cap] = -A[cap] + np.where(prod_J[idx][None, :] == at[cap][:, None], out_J[idx][None, :], 0.0)
        return A  # nonneg rows: M as it is

    def z_column(r: np.ndarray) -> np.ndarray:
        """``z``'s coefficients in rows ``r``: what a unit of ``d`` takes of each."""
        kinds, at = rows.kind[r], rows.at[r]
        out = -gd[at] if at.size else np.zeros(0)  # g_i >= 0 as -g_i <= g0_i
        res, cap = kinds == "resource", kinds == "capacity"
        out[res] = PBgd[at[res]]
        out[cap] = gd[at[cap]]
        return out

    def bounds(r: np.ndarray) -> np.ndarray:
        """Right-hand sides of rows ``r``: what ``B``'s plan of ``h`` leaves of each."""
        kinds, at = rows.kind[r], rows.at[r]
        out = g0[at] if at.size else np.zeros(0)
        res, cap = kinds == "resource", kinds == "capacity"
        out[res] = R[at[res]] - PBg0[at[res]]
        out[cap] = cap_all[at[cap]] - g0[at[cap]]
        return out

    def reduced_costs(y: np.ndarray, phase_one: bool = False) -> np.ndarray:
        """``c_j + A_j' y`` of every technique of ``J_all`` at the rows' shadow prices ``y >= 0``
        (``c = 0`` in phase one)."""
        kinds, at = rows.kind, rows.at
        res, cap = kinds == "resource", kinds == "capacity"
        sign = np.where(res | cap, -1.0, 1.0)
        rc = rows.M @ (sign * y) + P_J[at[res]].T @ y[res]
        if not phase_one:
            rc += c_J
        price = np.zeros(n)
        price[at[cap]] = y[cap]
        return rc + out_J * price[prod_J]

    z_top = z_bound if fulfil else 0.0
    reach = np.maximum(g0 + z_top * gd, 0.0)[prod_J] / out_J
    lp = _Program(fulfil, (z_lower, z_upper))
    every = np.arange(rows.kind.size)
    lp.add_rows(bounds(every), z_column(every) if fulfil else None, np.zeros((every.size, 0)))
    # first techniques: the cheapest against B's at the given prices (near ties, where plans mix)
    rc = reduced_costs(np.concatenate([mu0[st.limited], kappa0[capacities]]))
    entering = np.sort(np.argsort(rc)[:ENTER])
    in_model = np.zeros(J_all.size, dtype=bool)
    for _ in range(MAX_PASSES):
        if _late(deadline):
            return OUT_OF_TIME
        if entering.size:
            lp.add_columns(entering, coefficients(np.arange(rows.kind.size), entering), c_J[entering],
                           reach[entering])
            in_model[entering] = True
        found = lp.solve()
        if found is None:
            return f"HiGHS: {lp.h.modelStatusToString(lp.status)} (phase {1 if lp.phase_one else 2})"
        z, t, basic, y, slack = found
        rc = reduced_costs(y, lp.phase_one)
        if t.size > KEEP:
            # the techniques at zero with the largest reduced costs leave (they may enter again)
            idle = np.flatnonzero((t <= 0) & ~basic)
            idle = lp.columns[idle[np.argsort(-rc[lp.columns[idle]])][: t.size - KEEP // 2]]
            keep = ~np.isin(lp.columns, idle)
            t = t[keep]
            lp.drop(idle)
            in_model[idle] = False
        rc[in_model] = np.inf
        scale = 1.0 if fulfil or lp.phase_one else max(float(np.abs(c_J).max(initial=0.0)), 1e-300)
        entering = np.flatnonzero(rc < -1e-9 * scale)
        if entering.size:
            entering = np.sort(entering[np.argsort(rc[entering])[:ENTER]])
            continue
        if lp.phase_one:
            if slack > 1e-9:
                return "no technique meets its rows"  # the program around B is infeasible
            lp.set_phase(False)
            continue
        active = lp.columns
        # the plan's gross outputs by one forward solve, and the rows it breaks
        demand = h + z * d - (p.net[:, J_all[active]] @ t if active.size else 0.0)
        with st.at_choice(B):
            g = st.plans(np.asarray(demand, dtype=np.float64))
        made = g.copy()
        np.add.at(made, prod_J[active], out_J[active] * t)
        kinds, at = rows.kind, rows.at
        new_cap = np.setdiff1d(st.over_capacity(made), at[kinds == "capacity"])
        # each product's flows (what is made of it and what its users take), which its balance
        # row is judged against: a g_i below zero by rounding of those is set to zero
        levels = np.zeros(st.out.size)
        levels[B] = np.abs(g) / st.out[B]
        levels[J_all[active]] += t
        flows = np.abs(made) + np.abs(st.U @ levels)
        new_neg = np.setdiff1d(np.flatnonzero(g < -NEGATIVE * flows), at[kinds == "nonneg"])
        boxed = np.flatnonzero((t >= reach[active] * (1 - 1e-9)) & (reach[active] > 0))
        widen = boxed[g[prod_J[active[boxed]]] > 1e-9 * out_J[active[boxed]] * reach[active[boxed]]]
        if new_cap.size == 0 and new_neg.size == 0:
            if widen.size:
                reach[active[widen]] *= 2.0
                lp.widen(active[widen], reach[active[widen]])
                continue
            x = np.zeros(st.out.size)
            x[B] = np.maximum(g, 0.0) / st.out[B]
            x[J_all[active]] += t
            value = z if fulfil else float(st.base_cost @ x)
            mu = np.zeros(p.resources.size)
            mu[st.limited[at[kinds == "resource"]]] = y[kinds == "resource"]
            kappa = np.zeros(n)
            kappa[at[kinds == "capacity"]] = y[kinds == "capacity"]
            return value, x, mu, kappa, rows.kind.size
        if rows.kind.size + new_cap.size + new_neg.size > limit:
            return f"its plan breaks more rows than room for them ({limit})"
        old = rows.kind.size
        why = rows.add("capacity", new_cap) or rows.add("nonneg", new_neg)
        if why:
            return why
        new = np.arange(old, rows.kind.size)
        lp.add_rows(bounds(new), z_column(new) if fulfil else None, coefficients(new, lp.columns))
        entering = np.zeros(0, dtype=np.int64)
    return f"no plan in {MAX_PASSES} passes"

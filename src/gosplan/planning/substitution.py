"""The Leontief-structure method: Dantzig–Wolfe decomposition over the few scarce
resources, with Leontief substitution problems as subproblems.

Applies when every technique makes exactly one product (no joint production),
``U, P >= 0``, the objective is ``fulfilment`` or ``cost``, there are no ceilings,
and floors and committed demand are non-negative except for net imports (planned as negative
demand while the plan uses at least that much of the product, else as capped import techniques:
:mod:`gosplan.planning.leontief_backend`): the conditions of :func:`applicable`. ``harmony`` under
the same conditions is solved by :mod:`gosplan.planning.harmony_leontief`, on the same
structure (policy iteration, Leontief solves), with a Newton search over the prices.

**Why it works.** For resource prices ``mu >= 0`` and capacity rents
``kappa >= 0`` every activity ``j`` (making product ``i(j)``) has a unit cost
``w_j = c_j + mu' P_j + kappa_i O_ij``. The cheapest way to make any demand
``d >= 0`` is then a choice ``B`` of one technique per product, the same for
every ``d`` (Samuelson's substitution theorem), found by *policy iteration*:
prices ``pi = (w_B + U_B' pi) / O_B`` (one transposed Leontief solve), then every
product switches to its cheapest technique at those prices, until none does
(Howard's method; a handful of rounds). The plan for ``d`` is ``x_B = (I - A_B)^-1 d
/ O_B``, one more Leontief solve.

The master problem keeps only the resource rows (and the capacity rows found
violated, added lazily) and chooses a convex combination of such plans:
``fulfilment`` maximises ``z = sum eta_k`` over plans ``h + z d`` (``h``: what
earlier priority classes and floors hold, ``d``: the targets being maximised),
``cost`` minimises the cost of plans for ``h``. Its duals price the resources, the
substitution problem at those prices gives the next plan, and the Lagrangian
bound ``z <= (mu'R + kappa'cap - pi'h) / (pi'd)`` (``cost >= pi'h - mu'R -
kappa'cap``) says how far the master is from the optimum. It stops when the two
meet within the tolerance. Each round costs a few sparse Leontief solves, so the
method plans 10^7 products where a general LP solver cannot.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus
from gosplan.planning.formulate import Layout
from gosplan.planning.problem import PlanProblem
from gosplan.planning.substitution_rows import row_limit

__all__ = ["applicable", "solve_stage", "NotApplicable", "ImportsExceedUse", "NegativeDemandMixes"]

MAX_ROUNDS = 2000
TAILING_ROUNDS = 200
"""Rounds after which a stage of a small program (``<=`` :data:`TAILING_COLUMNS` columns)
gives up and is solved by HiGHS instead: Dantzig–Wolfe can tail off for thousands of rounds
on a small degenerate stage (a priority class held at its optimum: 30 products, 1,300 rounds,
20 s), where the simplex takes milliseconds. Large programs, which HiGHS cannot solve,
go on to :data:`MAX_ROUNDS`."""
TAILING_COLUMNS = 5_000
MAX_POLICY_ROUNDS = 100
MAX_CAPACITY_ROWS = 20_000
SOLVE_TOL = 1e-11
#: Bytes of the columns' gross outputs kept in memory; the rest go to temporary files.
PLAN_MEMORY = 2 * 2**30
#: Once the gap is below FINISH_FROM_GAP, each round whose master mixes few enough techniques
#: tries the restricted program of :mod:`gosplan.planning.substitution_finish` (while such
#: programs have cost at most half of the stage's Leontief solves). By default (``finish=None``)
#: on plans of at most FINISH_AUTO_MAX products, where its directions cost less than the rounds
#: it saves; off beyond (at 10^6 products it is 4-24 % slower: BENCHMARKS.md, runs P16 and P17).
FINISH_AUTO_MAX = 200_000
FINISH_FROM_GAP = 1e-3
#: The program on the linking rows (:mod:`gosplan.planning.substitution_rows`) is tried once the
#: gap is below LINKING_FROM_GAP or from round LINKING_ROUNDS on (the last of three priority classes
#: at 10^6 products: the bound is 3e-4 from the optimum, the plan 0.2 below it for 70 rounds), again
#: each time the stage's solves have doubled since the last try.
LINKING_FROM_GAP = 5e-2
LINKING_ROUNDS = 5
#: Its rows may cost at most this many transposed solves (eight rows a solve) for each Leontief
#: solve the stage has made so far, and at least LINKING_MIN_ROWS rows: a class whose plan breaks
#: 1,300 capacities (the second of three at 10^6 products) is left to the decomposition.
LINKING_ROWS_PER_SOLVE = 6
LINKING_MIN_ROWS = 256
#: Directions the restricted program may always take on the round the decomposition converges
#: (one block solve: eight right-hand sides at a time), when no round has certified a plan.
FINISH_LAST_DIRECTIONS = 8
#: Rounds between the tests for a Farkas certificate while the master needs its artificial variables.
INFEASIBLE_EVERY = 5
#: Wentges' dual smoothing: the share of the best bound's prices in the prices a round uses.
SMOOTHING = 0.5


class NotApplicable(Exception):
    """The stage is outside the method's conditions (the caller falls back to an LP solver)."""


class NegativeDemandMixes(NotApplicable):
    """Net imports as negative demand make ``products``, which have several techniques, at a
    negative level in some plan (see :func:`_column`)."""

    def __init__(self, products: np.ndarray, problem: PlanProblem) -> None:
        self.products = products
        super().__init__(f"net imports as negative demand make {products.size} product(s) of several "
                         f"techniques at a negative level, e.g. {problem.product_words(problem.products[products[0]])}")


class ImportsExceedUse(NotApplicable):
    """The plan uses less of ``products`` than their net imports (negative demand) supply."""

    def __init__(self, products: np.ndarray, problem: PlanProblem) -> None:
        self.products = products
        super().__init__(f"net imports exceed what the plan uses of {products.size} product(s), e.g. "
                         f"{problem.product_words(problem.products[products[0]])}")


def imports_within_use(st: "_Structure", x: np.ndarray, importing: np.ndarray, rel: float) -> np.ndarray:
    """``x`` (activity levels of a plan with net imports as negative demand) with levels below
    zero by at most ``rel`` of its largest set to zero; raises :class:`ImportsExceedUse` naming
    the ``importing`` products made at a lower level (they import more than the plan uses), or
    :class:`NotApplicable` where only other products are."""
    short = np.flatnonzero(x < -rel * max(float(np.abs(x).max(initial=0.0)), 1e-300))
    if short.size:
        products = np.unique(st.product_of[short])
        importers = products[importing[products]]
        if importers.size == 0:
            raise NotApplicable(f"net imports drive the plan of "
                                f"{st.problem.product_words(st.problem.products[products[0]])} below zero")
        raise ImportsExceedUse(importers, st.problem)
    return np.maximum(x, 0.0)


def applicable(problem: PlanProblem, objective: str) -> str:
    """``""`` when the method applies to ``problem``, otherwise why not."""
    if objective not in ("fulfilment", "cost", "harmony"):
        return f"the {objective} objective is not one the method knows"
    make = problem.make
    if make.nnz != problem.m or np.bincount(make.indices, minlength=problem.m).max(initial=0) > 1:
        return "joint production (a technique with several outputs)"
    if (make.data <= 0).any():
        return "a technique with a non-positive output"
    if (np.diff(make.indptr) == 0).any():
        return "a product no technique makes"
    # A technique's unit cost reads only the limited resources (priced) and, for cost, those
    # the objective weighs: the others' coefficients, negative or not (uk-2015's taxes less
    # subsidies on production), never enter.
    priced = np.isfinite(problem.available)
    if objective == "cost":
        priced |= problem.cost != 0
    # Negative inputs (scrap, used goods: the BEA tables) with one technique per product leave
    # nothing to substitute; the plan is then solved and certified as a whole
    # (:func:`certified_with_negative_inputs`). With a choice of techniques the substitution
    # argument needs (I - A_B)^-1 >= 0, which they can break.
    negative = problem.negative_coefficient(resources=np.flatnonzero(priced), inputs=problem.m != problem.n)
    if negative:
        return f"negative input or resource coefficients ({negative})"
    if np.isfinite(problem.ceiling).any():
        return "ceilings on net output"
    if objective == "cost" and (problem.cost < 0).any():
        return "negative resource costs"
    return ""


def has_negative_inputs(problem: PlanProblem) -> bool:
    """Whether some technique has a negative input (``U = O - N`` below zero: scrap, by-products)."""
    return bool((sp.csr_array(problem.make - problem.net).data < -1e-15).any())


def certified_with_negative_inputs(problem: PlanProblem, lp: LinearProgram, sol: LPSolution, tol: float) -> LPSolution:
    """``sol`` where it passes gosplan's check of ``lp`` (violation, gap and dual residual within
    ``10 tol``, prices row by row within ``10 tol``); raises :class:`NotApplicable` otherwise.

    With negative inputs ``(I - A)^-1`` can have negative entries: the plan ``x = (I - A)^-1 d``
    may then run an activity below zero, or the prices ``pi = (I - A)^-T w`` price a product
    below zero, and neither makes an optimum. Where both hold up, the check certifies the
    answer by the same duality the method uses; where they do not, the caller's LP solver plans it."""
    from gosplan.optim.check import verify

    if sol.status is not LPStatus.OPTIMAL:
        return sol
    check = verify(lp, sol.v, sol.y) if np.isfinite(sol.v).all() else None
    if check is None or not check.passes(10 * tol) or not check.price_error <= 10 * tol:
        what = "no finite plan" if check is None else check.words()
        raise NotApplicable(f"with negative input coefficients ({problem.negative_coefficient()}) the plan "
                            f"by the Leontief method fails its certificate ({what})")
    return sol


@dataclass
class _Structure:
    """The arrays the method works on, built once per plan."""

    problem: PlanProblem
    product_of: np.ndarray  # product made by each activity
    out: np.ndarray  # its output per unit of activity
    U: sp.csc_array  # inputs, by column
    limited: np.ndarray  # limited resources
    P_lim: sp.csr_array  # their rows of P
    base_cost: np.ndarray  # c_j of the objective (cost) per activity
    capped: np.ndarray  # products with a capacity
    makers: tuple[np.ndarray, np.ndarray]  # O's row pointers (int64) and techniques, by product
    choice: np.ndarray  # current technique of every product (warm start)
    solves: int = 0
    policy_rounds: int = 0
    seconds_solving: float = 0.0
    _system: object = None
    _system_choice: np.ndarray | None = None
    _pattern: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _last: dict = field(default_factory=dict)  # the last solution, by transpose flag

    @classmethod
    def build(cls, problem: PlanProblem, objective: str) -> "_Structure":
        make = problem.make.tocoo()
        m = problem.m
        product_of = np.empty(m, dtype=np.int64)
        out = np.empty(m)
        product_of[make.col] = make.row
        out[make.col] = make.data
        use = sp.csc_array(problem.make - problem.net)
        use.eliminate_zeros()
        # one compiled specialisation of the kernels: int64 pointers, int32 (or int64) indices
        use.indptr = use.indptr.astype(np.int64)
        if use.indices.dtype != np.int32 and use.shape[0] < 2**31 - 1:
            use.indices = use.indices.astype(np.int32)
        limited = np.flatnonzero(np.isfinite(problem.available))
        base = (
            np.asarray(problem.primary.T @ problem.cost, dtype=np.float64)
            if objective == "cost"
            else np.zeros(m)
        )
        first = problem.make.indices[problem.make.indptr[:-1]].astype(np.int64)
        return cls(
            problem=problem,
            product_of=product_of,
            out=out,
            U=use,
            limited=limited,
            P_lim=sp.csr_array(problem.primary[limited]),
            base_cost=base,
            capped=np.flatnonzero(np.isfinite(problem.capacity)),
            makers=(problem.make.indptr.astype(np.int64), problem.make.indices.astype(np.int64)),
            choice=first,
        )

    # ----------------------------------------------------------------- Leontief solves
    def pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, slot)``: the CSR pattern of ``A_B`` for *every* choice ``B``
        (entry ``(i, k)`` wherever some technique of product ``k`` uses ``i``) and the slot
        of each coefficient of ``U`` (CSC order) in it. Built once per plan; a choice then
        only writes its techniques' coefficients into the slots, and the Leontief system
        keeps everything that depends on the pattern alone (trimming levels, the iterated
        block's layout) from one choice to the next."""
        if self._pattern is None:
            n = self.problem.n
            U = self.U
            tech = np.repeat(np.arange(U.shape[1], dtype=np.int64), np.diff(U.indptr))
            keys = U.indices.astype(np.int64) * n + self.product_of[tech]
            del tech
            unique, slot = np.unique(keys, return_inverse=True)
            del keys
            rows = unique // n
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
            index_type = np.int32 if n < 2**31 - 1 else np.int64
            slot_type = np.int32 if unique.size < 2**31 - 1 else np.int64
            self._pattern = (indptr, (unique - rows * n).astype(index_type), slot.astype(slot_type))
        return self._pattern

    def _write(self, data: np.ndarray, techniques: np.ndarray, on: bool) -> np.ndarray:
        """Write the coefficients ``U_ij / O_j`` of ``techniques`` into their slots (``on``), or
        zeros; returns the slots written."""
        _, _, slot = self.pattern()
        U = self.U
        lo, hi = U.indptr[techniques], U.indptr[techniques + 1]
        counts = hi - lo
        entries = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        where = slot[entries]
        if on:
            data[where] = U.data[entries] / np.repeat(self.out[techniques], counts)
        else:
            data[where] = 0.0
        return where

    def system(self):
        """The prepared Leontief system of the current choice: the first one built in full,
        each later one by rewriting the coefficients of the products that switched
        (:meth:`gosplan.linalg.leontief.LeontiefSystem.refill`)."""
        from gosplan.linalg.leontief import prepare

        B = self.choice
        if self._system is None:
            indptr, indices, _ = self.pattern()
            data = np.zeros(indices.size)
            self._write(data, B, True)
            n = self.problem.n
            self._system = prepare(sp.csr_array((data, indices, indptr), shape=(n, n)))
        elif not np.array_equal(self._system_choice, B):
            switched = np.flatnonzero(B != self._system_choice)
            data = self._system.A.data  # rewritten in place: the old system is dropped
            left = self._write(data, self._system_choice[switched], False)  # zeros first: slots are shared
            taken = self._write(data, B[switched], True)
            self._system = self._system.refill(data, changed=np.concatenate([left, taken]), in_place=True)
        else:
            return self._system
        self._system_choice = B.copy()
        return self._system

    def over_capacity(self, made: np.ndarray) -> np.ndarray:
        """The products whose gross output ``made`` (``n``) exceeds their capacity beyond rounding
        (a relative 1e-9 and 1e-12): the one rule by which every part of the method adds a row."""
        cap = self.problem.capacity[self.capped]
        return self.capped[made[self.capped] > cap * (1 + 1e-9) + 1e-12]

    @contextmanager
    def at_choice(self, B: np.ndarray):
        """Solve with the choice ``B`` inside the block, the current choice restored after it."""
        saved = self.choice
        self.choice = B
        try:
            yield self
        finally:
            self.choice = saved

    def _solve(self, rhs: np.ndarray, transpose: bool, remember: bool = True) -> np.ndarray:
        """``(I - A_B)^{-1} rhs`` (or ``^{-T}``) for the current choice; ``remember``: keep it to
        start the next solve of its kind (False for a one-off, such as a finish's rows)."""
        from gosplan.linalg.leontief import solve

        if not np.any(rhs):
            # Zero unit costs (every resource and capacity unpriced: the master's plan stopped
            # by z <= 1 alone) have the prices 0 exactly. A solve warm-started from the last
            # prices returns rounding instead (1e-12), and a bound divided by pi'd of that size
            # was taken for 0: a class of 10^4 products stalled for 2,000 rounds.
            return np.zeros(np.shape(rhs))
        t0 = time.perf_counter()
        system = self.system()
        # Productivity is certified on the plan's first solve (the first technique choice):
        # an economy that cannot reproduce itself is named there. Later choices are not
        # certified one by one (a certificate can cost one more solve a choice, a third of
        # the solves of a fulfilment plan): the plan and its prices are checked at the end,
        # and weak duality, which certifies them, needs no productivity. The last solution
        # of the same kind (prices, or plans) starts the iterations: prices and choices
        # move little from one round to the next.
        last = self._last.get(transpose) if remember else None
        start = last if last is not None and last.shape == np.shape(rhs) else None
        # The residual is not recomputed after the solve: BiCGSTAB stops on the true residual
        # and the plan built from these solutions is checked as a whole at the end.
        Z, info = solve(system, rhs, transpose=transpose, tol=SOLVE_TOL, verify_productive=self.solves == 0,
                        x0=start, check=False)
        if not info.converged:
            raise NotApplicable(f"a Leontief solve did not converge ({info.method}, {info.iterations} iterations)")
        if remember:
            self._last[transpose] = Z
        self.solves += 1
        self.seconds_solving += time.perf_counter() - t0
        return Z

    def cheapest(self, w: np.ndarray) -> np.ndarray:
        """Policy iteration: the cheapest technique per product at unit costs ``w``; returns prices ``pi``."""
        from gosplan.planning._kernels import cheapest_techniques

        several = self.choosing
        new, best, current = np.empty(several.size, np.int64), np.empty(several.size), np.empty(several.size)
        w = np.ascontiguousarray(w, dtype=np.float64)
        for _ in range(MAX_POLICY_ROUNDS):
            B = self.choice
            pi = self._solve(w[B] / self.out[B], transpose=True)
            self.policy_rounds += 1
            if not several.size:
                return pi
            # unit cost q_j = (w_j + U_j' pi) / O_j of every technique of a product with a
            # choice at prices pi; the cheapest per product
            cheapest_techniques(*self._choosing_techniques, w, self.out, np.ascontiguousarray(pi), several, B,
                                new, best, current)
            better = best < current - 1e-10 * np.maximum(np.abs(current), 1e-300)
            if not better.any():
                return pi
            B = B.copy()
            B[several[better]] = new[better]
            self.choice = B
        raise NotApplicable("policy iteration did not settle")

    @cached_property
    def choosing(self) -> np.ndarray:
        """The products made by several techniques (int64): the only ones with a choice to make.
        (At 10^6 products with second techniques for a tenth, pricing them alone is a tenth of the
        pass over ``U`` that pricing every technique took: 21 of a plan's 174 s.)"""
        return np.flatnonzero(np.diff(self.makers[0]) > 1).astype(np.int64)

    @cached_property
    def alternatives(self) -> int:
        """Techniques beyond one per product."""
        return int(self.problem.m - self.problem.n)

    @cached_property
    def _choosing_techniques(self) -> tuple[np.ndarray, ...]:
        """``(tech_ptr, techs, use_ptr, use_rows, use_data)``: the techniques of the products
        with a choice (``techs[tech_ptr[a]:tech_ptr[a+1]]`` for product ``choosing[a]``) and their
        columns of ``U`` copied in that order, so that pricing them reads one contiguous stretch
        (at 10^6 products: 2.2 M coefficients, 26 MB, against a scattered tenth of ``U``'s 11 M)."""
        make_ptr, make_tech = self.makers
        products = self.choosing
        counts = make_ptr[products + 1] - make_ptr[products]
        tech_ptr = np.zeros(products.size + 1, dtype=np.int64)
        np.cumsum(counts, out=tech_ptr[1:])
        techs = make_tech[np.repeat(make_ptr[products] - tech_ptr[:-1], counts) + np.arange(tech_ptr[-1])]
        U = self.U[:, techs]  # CSC: the columns in this order (U's index type: int32 below 2^31 products)
        return tech_ptr, techs.astype(np.int64), U.indptr.astype(np.int64), U.indices, U.data.astype(np.float64)

    def totals(self, G: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(use, cost)`` of the plans ``G`` (gross outputs, ``n x k``) of choice ``B``: the
        limited resources they use (``k x r_lim``) and their cost (``k``), at activity levels
        ``G_i / O_{B(i)}`` (one compiled pass: the levels of every technique are never formed)."""
        from gosplan.planning._kernels import column_totals

        G = np.ascontiguousarray(G, dtype=np.float64)
        use = np.zeros((G.shape[1], self.limited.size))
        cost = np.zeros(G.shape[1])
        P = self.P_lim
        column_totals(G, np.ascontiguousarray(B, dtype=np.int64), self.product_of, self.out,
                      P.indptr.astype(np.int64), P.indices, P.data, self.base_cost, use, cost)
        return use, cost

    @cached_property
    def techniques(self) -> np.ndarray:
        """Number of techniques of each product (``n``)."""
        return np.bincount(self.product_of, minlength=self.problem.n)

    def plans(self, demands: np.ndarray) -> np.ndarray:
        """Gross output ``g = (I - A_B)^-1 d`` for each column of ``demands`` (current choice).

        Zero columns (the ``d`` part of a cost plan, the ``h`` part of a plan with nothing
        held) are not solved: a block solve pads its columns to four, so one real column
        alone costs half as much as one beside a zero."""
        demands = np.asarray(demands, dtype=np.float64)
        if demands.ndim == 1:
            return self._solve(demands, transpose=False) if demands.any() else np.zeros(demands.shape)
        live = [q for q in range(demands.shape[1]) if demands[:, q].any()]
        G = np.zeros(demands.shape)
        if len(live) == 1:
            G[:, live[0]] = self._solve(np.ascontiguousarray(demands[:, live[0]]), transpose=False)
        elif live:
            G[:, live] = self._solve(np.ascontiguousarray(demands[:, live]), transpose=False)
        return G

    def solution(self, lp: LinearProgram, v: np.ndarray, y: np.ndarray, status: LPStatus, start: float,
                 message: str, **detail: object) -> LPSolution:
        """The method's answer as the backends give theirs: levels ``v``, row duals ``y`` (the
        prices), reduced costs, and the Leontief solves' count and time in ``detail``."""
        return LPSolution(
            status=status, v=v, y=y, d=lp.reduced_costs(v, y), objective=lp.objective(v), method="leontief",
            iterations=self.solves, seconds=time.perf_counter() - start, message=message,
            detail={**detail, "policy_rounds": self.policy_rounds, "leontief_solves": self.solves,
                    "seconds_in_leontief_solves": self.seconds_solving},
        )


@dataclass
class _Column:
    base: int  # index of its technique choice in _Master.changes
    use: np.ndarray  # limited-resource use (h part, d part): shape (2, r_lim)
    cap_use: np.ndarray  # gross output at capped products: (2, n_capped)
    cost: np.ndarray  # objective cost of the h and d parts (cost objective)


class _PlanStore:
    """The gross outputs ``G`` (``n x 2``) of the master's columns, kept so that the final
    combination needs no Leontief solve: in memory up to ``budget`` bytes, beyond that in
    ``.npy`` files of a temporary directory (removed by :meth:`close`). Only the columns that
    are not zero are kept (a stage with nothing held has ``h = 0``: half the bytes, and at 10^6
    products 256 plans in memory instead of 128, none written to disk in a ``fulfilment`` plan
    of 231 columns)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: list[tuple[np.ndarray | str, np.ndarray, tuple[int, int]]] = []
        self.resident = 0
        self._dir: tempfile.TemporaryDirectory | None = None

    def add(self, G: np.ndarray, live: np.ndarray | None = None) -> None:
        """Keep ``G``; ``live``: the indices of its columns that are not zero (default: all)."""
        live = np.arange(G.shape[1]) if live is None else np.asarray(live, dtype=np.int64)
        kept = G if live.size == G.shape[1] else np.ascontiguousarray(G[:, live])
        if self.resident + kept.nbytes <= self.budget:
            self.items.append((kept, live, G.shape))
            self.resident += kept.nbytes
            return
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="gosplan-leontief-")
        path = os.path.join(self._dir.name, f"{len(self.items)}.npy")
        np.save(path, kept)
        self.items.append((path, live, G.shape))

    def get(self, k: int) -> np.ndarray:
        item, live, shape = self.items[k]
        kept = item if isinstance(item, np.ndarray) else np.load(item, mmap_mode="r")
        if live.size == shape[1]:
            return kept
        G = np.zeros(shape)
        G[:, live] = kept
        return G

    def close(self) -> None:
        self.items.clear()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


@dataclass
class _Master:
    columns: list[_Column] = field(default_factory=list)
    cap_rows: list[int] = field(default_factory=list)  # positions into structure.capped
    reference: np.ndarray | None = None  # technique choice of the first column
    changes: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # each choice: where it differs
    plans: _PlanStore = field(default_factory=lambda: _PlanStore(PLAN_MEMORY))

    def add_choice(self, B: np.ndarray) -> int:
        """Record ``B`` (as its difference from the first choice: a few products); returns its index."""
        if self.reference is None:
            self.reference = B.copy()
        where = np.flatnonzero(B != self.reference)
        if self.changes and np.array_equal(self.changes[-1][0], where) and np.array_equal(self.changes[-1][1], B[where]):
            return len(self.changes) - 1
        self.changes.append((where, B[where].copy()))
        return len(self.changes) - 1

    def choice(self, k: int) -> np.ndarray:
        where, techniques = self.changes[k]
        B = self.reference.copy()
        B[where] = techniques
        return B


def _column(st: _Structure, master: _Master, h: np.ndarray, d: np.ndarray) -> None:
    """Add the plan of the current choice ``B`` as a column.

    With net imports as negative demand (``h_i < 0``) a plan may make a product at a negative
    level: harmless for a product of one technique (the combination's level is its gross
    output, checked at the end), but two techniques of one product, one run backwards in a
    column and the other forwards in another, would trade resources for nothing: raises
    :class:`NegativeDemandMixes` then."""
    G = st.plans(np.column_stack([h, d]))
    B = st.choice
    if h.min(initial=0.0) < 0:
        backwards = np.flatnonzero(G[:, 0] < -1e-12 * max(float(np.abs(G[:, 0]).max(initial=0.0)), 1e-300))
        if backwards.size:
            mixed = backwards[st.techniques[backwards] > 1]
            if mixed.size:
                raise NegativeDemandMixes(mixed, st.problem)
    use, cost = st.totals(G, B)
    master.columns.append(_Column(master.add_choice(B), use, G[st.capped].T.copy(), cost))
    master.plans.add(G, live=[q for q, part in enumerate((h, d)) if part.any()])


def _solve_master(st: _Structure, master: _Master, objective: str, has_h: bool, z_lower: float, z_upper: float):
    """The restricted master LP (scipy/HiGHS); returns weights, objective, duals and the artificial total."""
    from scipy.optimize import linprog

    p = st.problem
    K = len(master.columns)
    R = p.available[st.limited]
    rows = st.limited.size
    caps = np.asarray(master.cap_rows, dtype=np.int64)
    cap_vals = p.capacity[st.capped[caps]] if caps.size else np.zeros(0)
    scale_r = np.where(R > 0, R, 1.0)
    scale_c = np.where(cap_vals > 0, cap_vals, 1.0)
    nl = K if has_h else 0
    ne = K if objective == "fulfilment" else 0
    nrow = rows + caps.size
    # columns: lambda (nl), eta (ne), artificial per row (nrow), artificial for z_lower (1)
    A = np.zeros((nrow + 1, nl + ne + nrow + 1))
    for k, col in enumerate(master.columns):
        if nl:
            A[:rows, k] = col.use[0] / scale_r
            A[rows:nrow, k] = col.cap_use[0, caps] / scale_c
        if ne:
            A[:rows, nl + k] = col.use[1] / scale_r
            A[rows:nrow, nl + k] = col.cap_use[1, caps] / scale_c
    A[np.arange(nrow), nl + ne + np.arange(nrow)] = -1.0
    b = np.concatenate([R / scale_r, cap_vals / scale_c, [0.0]])
    big = 1e6
    c = np.zeros(nl + ne + nrow + 1)
    if objective == "fulfilment":
        c[nl : nl + ne] = -1.0
        # z >= z_lower as -sum(eta) - a <= -z_lower
        A[nrow, nl : nl + ne] = -1.0
        A[nrow, -1] = -1.0
        b[nrow] = -z_lower
    else:
        costs = np.array([col.cost[0] for col in master.columns])
        scale_obj = max(np.abs(costs).max(initial=0.0), 1e-300)
        c[:nl] = costs / scale_obj
    c[nl + ne :] = big
    bounds = [(0, None)] * (nl + ne + nrow + 1)
    if objective == "fulfilment" and np.isfinite(z_upper):
        A = np.vstack([A, np.concatenate([np.zeros(nl), np.ones(ne), np.zeros(nrow + 1)])])
        b = np.concatenate([b, [z_upper]])
    A_eq = b_eq = None
    if nl:
        A_eq = np.concatenate([np.ones(nl), np.zeros(ne + nrow + 1)])[None, :]
        b_eq = np.array([1.0])
    res = linprog(c, A_ub=A, b_ub=b, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs-ds")
    if res.status != 0:
        raise NotApplicable(f"master problem: {res.message}")
    marg = -np.asarray(res.ineqlin.marginals)  # gain per unit of each row bound, >= 0
    mu = np.zeros(p.resources.size)
    mu[st.limited] = marg[:rows] / scale_r
    kappa = np.zeros(p.n)
    if caps.size:
        kappa[st.capped[caps]] = marg[rows:nrow] / scale_c
    if objective == "cost":
        mu *= scale_obj
        kappa *= scale_obj
    lam = res.x[:nl]
    eta = res.x[nl : nl + ne]
    artificial = float(res.x[nl + ne :].sum())
    value = float(eta.sum()) if objective == "fulfilment" else float(lam @ costs)
    return lam, eta, value, mu, kappa, artificial


def solve_stage(
    problem: PlanProblem,
    objective: str,
    lp: LinearProgram,
    layout: Layout,
    *,
    active: np.ndarray | None = None,
    held: np.ndarray | None = None,
    z_lower: float = 0.0,
    z_upper: float = np.inf,
    tol: float = 1e-6,
    time_limit: float | None = None,
    state: dict | None = None,
    progress=None,
    smoothing: float | None = None,
    finish: bool | None = None,
) -> LPSolution:
    """One stage (a priority class, over-fulfilment, or the cost plan) by decomposition.

    Returns an :class:`LPSolution` for ``lp`` (the same stage written as a program
    by :mod:`gosplan.planning.formulate`): ``v = [x, z]`` (or ``x``), the row duals
    in HiGHS' convention, so that gosplan's check and prices treat it like any
    backend's answer. ``state`` carries the technique choice between stages.
    ``smoothing`` (default :data:`SMOOTHING`): the weight of the best bound's prices
    in the prices each round uses (Wentges); ``0`` is plain Dantzig–Wolfe. ``finish``
    (default ``state["finish"]``, :func:`gosplan.plan`'s ``vertex``; ``None``: on up to
    :data:`FINISH_AUTO_MAX` products): try the restricted program of
    :mod:`gosplan.planning.substitution_finish` once the gap is below :data:`FINISH_FROM_GAP`.
    """
    start = time.perf_counter()
    n = problem.n
    st = (state or {}).get("structure")
    if st is None:
        st = _Structure.build(problem, objective)
        if state is not None:
            state["structure"] = st
    y = problem.target
    if objective == "fulfilment":
        is_active = np.zeros(n, dtype=bool)
        is_active[active] = True
        if (problem.floor[is_active] > 0).any():
            raise NotApplicable("floors on products being maximised")
        d = np.where(is_active, y, 0.0)
        hold = np.full(n, -np.inf) if held is None else held
        b = problem.base
        h = np.where(is_active, b, np.maximum(np.maximum(problem.floor, hold), problem.base_floor))
    else:
        b = problem.base
        d = np.zeros(n)
        h = np.where(y > 0, np.maximum(y + b, problem.floor), np.maximum(problem.floor, problem.base_floor))
    # Net imports (h_i < 0) stay negative demand: the plan's net output of such a product is its
    # least one, h_i (+ z d_i), which is optimal while the plan uses at least that much of it
    # (checked on the plan: ImportsExceedUse otherwise, and the caller plans import techniques).
    if not np.isfinite(h).all():
        raise NotApplicable("unlimited net imports (a floor of -inf)")
    has_h = bool((h != 0).any())
    r_lim = st.limited.size
    master = _Master()
    # Initial columns: each limited resource alone, then all together (and the cheapest in cost).
    starts = [np.eye(problem.resources.size)[r] / max(problem.available[r], 1e-300) for r in st.limited]
    if r_lim > 1 or not starts:
        starts.append(np.where(np.isfinite(problem.available), 1.0 / np.maximum(problem.available, 1e-300), 0.0))
    bound = np.inf if objective == "fulfilment" else -np.inf
    value = np.nan
    lam = eta = None
    rounds = 0
    status = LPStatus.ITERATION_LIMIT
    for mu0 in starts:
        st.cheapest(_unit_costs(st, mu0, None))
        _column(st, master, h, d)
    rent_of = _rent(st)

    def uncapped(prices: tuple) -> float:
        """The bound of ``prices = (mu, kappa, pi)`` before the cap ``z <= z_upper`` (fulfilment)."""
        return _bound(objective, prices[2], h, d, rent_of(prices[0], prices[1]), np.inf)
    if finish is None:
        finish = (state or {}).get("finish")
    use_finish = n <= FINISH_AUTO_MAX if finish is None else bool(finish)
    use_linking = finish is not False
    linking_after, linking_solves, linkings, linking_tries, linking_why, linking_skipped = 0, 0, 0, 0, "", 0
    finished = None  # (value, x): the restricted program's plan, once it is certified
    finished_by = ""  # which program: "linking" or "restricted"
    finish_solves, finishes, stage_solves = 0, 0, st.solves
    best = None  # (mu, kappa, pi): the prices of the best Lagrangian bound so far
    best_column = -1  # the master's column of the cheapest choice at those prices
    rows_needed: dict = {}  # by best column and bound: the linking rows its program needs at least
    prev_value = None
    smoothing = SMOOTHING if smoothing is None else smoothing
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must lie in [0, 1), got {smoothing}")
    bounded = 0  # columns checked by _bounding_capacities
    for rounds in range(1, MAX_ROUNDS + 1):
        if objective == "fulfilment" and not np.isfinite(z_upper):
            master.cap_rows.extend(_bounding_capacities(st, master, has_h, bounded))
            bounded = len(master.columns)
        lam, eta, value, mu, kappa, artificial = _solve_master(st, master, objective, has_h, z_lower, z_upper)
        # Wentges smoothing: price between the best bound's prices and the master's; a round
        # that did not improve the master prices at the master's own duals (a mis-price).
        improved = prev_value is None or (value > prev_value + 1e-12 * (1 + abs(value)) if objective == "fulfilment"
                                           else value < prev_value - 1e-12 * (1 + abs(value)))
        if best is not None and smoothing > 0 and improved and artificial <= 1e-9:
            mu = smoothing * best[0] + (1 - smoothing) * mu
            kappa = smoothing * best[1] + (1 - smoothing) * kappa
        prev_value = value
        w = _unit_costs(st, mu, kappa)
        pi = st.cheapest(w)
        _column(st, master, h, d)
        # The centre of the smoothing is the prices of the lowest bound before z's cap: capped at
        # z <= z_upper (a priority class) every price that leaves z_upper affordable bounds alike,
        # and the first such (no capacity rents) held the centre while the plan climbed (class 1
        # of three at 10^6 products: 12 rounds at bound 1, its optimum 0.97 priced by one rent).
        fulfil = objective == "fulfilment"
        raw = _bound(objective, pi, h, d, rent_of(mu, kappa), np.inf if fulfil else z_upper)
        candidate = min(raw, z_upper) if fulfil else raw
        off = tol * (1 + abs(value))
        if artificial <= 1e-9 and (candidate < value - off if objective == "fulfilment" else candidate > value + off):
            # A bound that cuts off the master's own plan by more than the tolerance is no bound:
            # prices off by more than their size (weak duality fails only through rounding, and
            # a bound 2e-8 below the plan, as the rounding of 1,371 capacity rents gives at 10^6
            # products, certifies it). Not kept.
            candidate = raw = np.inf if fulfil else -np.inf
        if np.isfinite(candidate) and (not np.isfinite(bound) or (raw < uncapped(best) if fulfil else candidate > bound)):
            bound, best = candidate, (mu, kappa, pi)
            best_column = len(master.columns) - 1
        # Capacity rows the current combination violates join the master.
        violated = _violated_capacities(st, master, lam, eta)
        if progress is not None:
            progress(
                f"round {rounds}: objective {value:.10g}, bound {bound:.10g}, "
                f"{len(master.cap_rows) + violated.size} capacity row(s), {st.solves} Leontief solves"
            )
        if violated.size:
            master.cap_rows.extend(int(c) for c in violated)
            if len(master.cap_rows) > MAX_CAPACITY_ROWS:
                raise NotApplicable(f"more than {MAX_CAPACITY_ROWS} capacities bind")
            continue
        if artificial > 1e-9 and rounds % INFEASIBLE_EVERY == 0:
            # The master still needs its artificial variables: its duals (their big cost) may
            # price a Farkas certificate that h cannot be made at all.
            ray = _farkas(st, lp, layout, mu, kappa, pi if objective == "fulfilment" else None, h, rent_of, tol)
            if ray is not None:
                master.plans.close()
                return LPSolution(
                    status=LPStatus.INFEASIBLE, v=np.full(lp.shape[1], np.nan), y=np.zeros(lp.shape[0]),
                    d=np.zeros(lp.shape[1]), objective=np.nan, method="leontief", iterations=st.solves,
                    seconds=time.perf_counter() - start, farkas=ray,
                    message=(f"Leontief decomposition: infeasible after {rounds} round(s): at the master's "
                             f"prices making what is asked costs more than the resources and capacities are worth "
                             f"(a Farkas certificate, {st.solves} Leontief solves)"),
                    detail={"rounds": rounds, "leontief_solves": st.solves},
                )
        gap = abs(bound - value) / (1.0 + abs(value))
        converged = artificial <= 1e-9 and gap <= tol / 2
        # The restricted program on the techniques the master mixes: optimal when the bound from
        # its prices meets its plan. At most half of the stage's solves go to it; a direction costs
        # about one Leontief solve (eight at a time), so it substitutes at most that many techniques.
        # Tried on the round that converges too, if none has certified a plan yet: the best bound's
        # prices certify the master's mix by the gap, not row by row (an activity the mix runs a
        # little of can keep a positive reduced cost), the restricted program's own prices do.
        # That last try may always take one block of directions.
        affordable = (st.solves - stage_solves) // 2 - finish_solves
        if converged and finished is None:
            affordable = max(affordable, FINISH_LAST_DIRECTIONS)
        if use_finish and artificial <= 1e-9 and gap <= FINISH_FROM_GAP and affordable > 0:
            before = st.solves
            found = _finish(st, master, lam, eta, h, d, objective, z_lower, z_upper, rent_of, tol, affordable)
            if found is not None:
                finish_solves += st.solves - before
                finishes += 1
                bound, best, finished = _take(found, bound, best, objective, tol, progress,
                                              f"round {rounds}: restricted program", st.solves)
                if finished is not None:
                    finished_by, status = "restricted", LPStatus.OPTIMAL
                    break
        # The whole program on its linking rows, around the choice of the best bound: exact when
        # the bound from its prices meets its plan; its rows may cost what the stage has spent.
        spent = st.solves - stage_solves
        room = min(row_limit(st.alternatives), max(LINKING_MIN_ROWS, LINKING_ROWS_PER_SOLVE * spent))
        ready = (use_linking and not converged and finished is None and best_column >= 0
                 and (gap <= LINKING_FROM_GAP or rounds >= LINKING_ROUNDS) and spent >= linking_after)
        if ready and (best_column, bound) not in rows_needed:
            rows_needed[best_column, bound] = _linking_rows(st, master, best_column, best, bound, objective)
        if ready and rows_needed[best_column, bound] > room:
            # its choice's own plan, at z = bound, already breaks more capacities than room:
            # the program would find them pass by pass and give up (no solve spent on it)
            linking_skipped += 1
        elif ready:
            before = st.solves
            found = _linking_finish(st, master, best_column, h, d, objective, z_lower, z_upper, rent_of, tol, best,
                                    bound, room, None if time_limit is None else start + time_limit)
            linking_solves += st.solves - before
            linking_tries += 1
            linking_after = 2 * (st.solves - stage_solves)  # another try once the stage's solves double
            if isinstance(found, str):
                linking_why = found
            elif found is not None:
                linkings += 1
                bound, best, finished = _take(found, bound, best, objective, tol, progress,
                                              f"round {rounds}: program on the linking rows", st.solves)
                if finished is not None:
                    finished_by, status = "linking", LPStatus.OPTIMAL
                    break
        if converged:
            status = LPStatus.OPTIMAL
            break
        if rounds >= TAILING_ROUNDS and lp.shape[1] <= TAILING_COLUMNS:
            raise NotApplicable(
                f"tailing off: {rounds} rounds left a gap of {gap:.1e} on a program of {lp.shape[1]} columns"
            )
        if time_limit is not None and time.perf_counter() - start > time_limit:
            # Out of time: still optimal if the bound already certifies the tolerance.
            status = LPStatus.OPTIMAL if artificial <= 1e-9 and gap <= tol else LPStatus.TIME_LIMIT
            break
    if artificial > 1e-9 and finished is None:
        raise NotApplicable("the master problem needs its artificial variables (infeasible?)")
    # The plan: the master's combination of the columns' plans.
    x = _plan(st, master, lam, eta)
    z = float(eta.sum()) if objective == "fulfilment" else np.nan
    if finished is not None:
        (value, x), z = finished, finished[0]
    master.plans.close()
    if (h < 0).any():
        x = imports_within_use(st, x, h < 0, 1e-9)
    # Row duals in HiGHS' convention for lp (see the module of gosplan.optim.lp): the
    # prices of the best bound, which certify the plan's optimality.
    if best is None:
        raise NotApplicable("no finite Lagrangian bound")
    mu, kappa, pi = best
    scale = float(pi @ d) if objective == "fulfilment" else 1.0
    if scale > 0:
        ydual = _row_multipliers(lp, layout, pi, mu, kappa) / scale
    elif objective == "fulfilment" and np.isfinite(z_upper) and z >= z_upper - tol / 2 * (1.0 + abs(z_upper)):
        # A class met in full (z at its cap z <= 1) with nothing scarce on the way: no row is
        # priced, the cap's own multiplier (the z column's reduced cost) certifies the plan.
        ydual = np.zeros(lp.shape[0])
    else:
        raise NotApplicable("the targets being maximised have no value at the final prices")
    v = np.concatenate([x, [z]]) if objective == "fulfilment" else x
    return st.solution(
        lp, v, ydual, status, start,
        f"Leontief decomposition: {rounds} round(s), {st.policy_rounds} policy-iteration round(s), "
        f"{st.solves} Leontief solves, {len(master.cap_rows)} capacity row(s)"
        + (f", {linking_tries} program(s) on the linking rows ({linking_solves} solves"
           + (", the last one's plan" if finished is not None and finished_by == "linking" else "")
           + (f"; {linking_tries - linkings} failed, the last: {linking_why}" if linking_tries > linkings else "")
           + ")" if linking_tries else "")
        + (f", the program on the linking rows not tried in {linking_skipped} round(s) (its choice's plan breaks "
           f"more capacities than the rows it may buy)" if linking_skipped else "")
        + (f", {finishes} restricted program(s) ({finish_solves} solves"
           + (", the last one's plan" if finished is not None and finished_by == "restricted" else "") + ")"
           if finishes else "")
        + f"; bound gap {abs(bound - value) / (1.0 + abs(value)):.1e}",
        rounds=rounds, capacity_rows=len(master.cap_rows), columns=len(master.columns),
        linking_programs=linking_tries, linking_solves=linking_solves, linking_failed=linking_tries - linkings,
        linking_skipped=linking_skipped,
        restricted_programs=finishes, restricted_solves=finish_solves, restricted_plan=finished_by == "restricted",
        linking_plan=finished_by == "linking",
    )


def _finish(st: _Structure, master: _Master, lam: np.ndarray, eta: np.ndarray, h: np.ndarray, d: np.ndarray,
            objective: str, z_lower: float, z_upper: float, rent_of, tol: float, affordable: int):
    """The restricted program (:mod:`gosplan.planning.substitution_finish`) on the techniques the
    master mixes: ``((value, x), bound)`` with ``bound = (b, (mu, kappa, pi))`` from its prices,
    or ``None`` for prices that cut off its own plan; ``None`` (no solve) when the master mixes
    nothing or more techniques than :func:`substitution_limit` or ``affordable`` allow, or the
    program fails.
    While its own bound misses its plan by more than ``EXACT``, the techniques the policy
    iteration picks at its prices beyond ``B ∪ J`` join ``J`` and it is solved again."""
    from gosplan.planning.substitution_finish import (
        EXACT, PASSES, mixed_techniques, restricted_plan, substitution_limit,
    )

    weights = np.zeros(len(master.columns))
    weights[: lam.size] += lam
    weights[: eta.size] += eta
    ref, J = mixed_techniques(master, weights)
    limit = min(substitution_limit(st.problem.n), affordable)
    B = master.choice(master.columns[ref].base)
    if J.size == 0:
        # The master runs one choice alone: its plan is that choice's best, which the bound may
        # certify only by the gap. The techniques the round's cheapest choice runs in its place
        # are substituted instead (a class held 2.9e-8 below its optimum left the next class
        # 30 % more, seed 150 of benchmarks/sweep_leontief.py).
        J = np.unique(st.choice[st.choice != B])
    if J.size == 0 or J.size > limit:
        return None
    directions: dict = {}
    out = None
    for _ in range(PASSES):
        found = restricted_plan(st, master, ref, J, h, d, objective, z_lower, z_upper, directions)
        if found is None:
            return out
        value, x, mu, kappa = found
        pi = st.cheapest(_unit_costs(st, mu, kappa))
        b = _bound(objective, pi, h, d, rent_of(mu, kappa), z_upper)
        off = tol * (1 + abs(value))
        if not np.isfinite(b) or (b < value - off if objective == "fulfilment" else b > value + off):
            return (value, x), None
        out = (value, x), (b, (mu, kappa, pi))
        more = np.setdiff1d(st.choice[st.choice != B], J)
        if abs(b - value) <= EXACT * (1 + abs(value)) or more.size == 0 or J.size + more.size > limit:
            return out
        J = np.concatenate([J, more])  # the solved directions stay in J's order
    return out


def _take(found: tuple, bound: float, best: tuple | None, objective: str, tol: float, progress, label: str,
          solves: int) -> tuple[float, tuple | None, tuple | None]:
    """A finish's ``found = ((value, x), f_best)``: ``(bound, best, finished)`` with its bound
    taken where better, and ``finished = (value, x)`` when the bound meets its plan within
    ``tol/2`` (its own prices then reported where they certify it: the exact duals of its vertex,
    not the decomposition's best bound's, which certify it by the gap alone), else ``None``."""
    (f_value, f_x), f_best = found
    if f_best is not None and (f_best[0] < bound if objective == "fulfilment" else f_best[0] > bound):
        bound, best = f_best
    if progress is not None:
        progress(f"{label} {f_value:.10g}, bound {bound:.10g}, {solves} Leontief solves")
    if abs(bound - f_value) / (1.0 + abs(f_value)) > tol / 2:
        return bound, best, None
    if f_best is not None and abs(f_best[0] - f_value) / (1.0 + abs(f_value)) <= tol / 2:
        bound, best = f_best
    return bound, best, (f_value, f_x)


def _linking_finish(st: _Structure, master: _Master, column: int, h: np.ndarray, d: np.ndarray, objective: str,
                    z_lower: float, z_upper: float, rent_of, tol: float, best: tuple, bound: float,
                    room: int, deadline: float | None):
    """The program on the linking rows (:mod:`gosplan.planning.substitution_rows`) around the
    choice of the master's ``column`` (the cheapest at the best bound's prices ``best``):
    ``((value, x), bound)`` with ``bound = (b, (mu, kappa, pi))`` from its prices, or ``None``
    for prices that cut off its own plan; why, in words, when it fails."""
    from gosplan.planning.substitution_rows import linking_plan

    B = master.choice(master.columns[column].base)
    G = np.asarray(master.plans.get(column))
    mu, kappa = best[0], best[1]
    caps = _priced_capacities(st, master, kappa)  # the others join where the plan breaks them
    found = linking_plan(st, B, G[:, 0], G[:, 1], h, d, objective, z_lower, z_upper, caps, mu, kappa, bound, room,
                         deadline=deadline)
    if isinstance(found, str):
        return found
    value, x, mu, kappa, _ = found
    pi = st.cheapest(_unit_costs(st, mu, kappa))
    b = _bound(objective, pi, h, d, rent_of(mu, kappa), z_upper)
    off = tol * (1 + abs(value))
    if not np.isfinite(b) or (b < value - off if objective == "fulfilment" else b > value + off):
        return (value, x), None
    return (value, x), (b, (mu, kappa, pi))


def _linking_rows(st: _Structure, master: _Master, column: int, best: tuple, bound: float, objective: str) -> int:
    """Linking rows the program around the choice of the master's ``column`` needs at least:
    the limited resources, the master's capacity rows the best bound's prices price (it starts
    from those), and the capacities that choice's own plan breaks at ``z = bound`` (its first
    plans break those, and they join). No solve: the column's plan is stored. At 10^6 products
    the first two of three priority classes broke 960–1,339 capacities there, and each try
    spent 3–5 solves before giving up; the last class broke 140 and ended on the program."""
    G = np.asarray(master.plans.get(column))
    g = G[:, 0] + (bound * G[:, 1] if objective == "fulfilment" and np.isfinite(bound) else 0.0)
    return int(st.limited.size + np.union1d(_priced_capacities(st, master, best[1]), st.over_capacity(g)).size)


def _priced_capacities(st: _Structure, master: _Master, kappa: np.ndarray) -> np.ndarray:
    """The products of the master's capacity rows that the rents ``kappa`` price."""
    caps = st.capped[np.asarray(master.cap_rows, dtype=np.int64)]
    return caps[kappa[caps] > 0]


def _row_multipliers(lp: LinearProgram, layout: Layout, pi: np.ndarray, mu: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Multipliers of ``lp``'s rows in HiGHS' convention: ``pi`` on the balances, ``-mu`` on
    the resources, ``-kappa`` on the capacities, 0 elsewhere."""
    y = np.zeros(lp.shape[0])
    y[: pi.size] = pi
    y[layout.resource_start : layout.capacity_start] = -mu[layout.resource_rows]
    y[layout.capacity_start : layout.bound_start] = -kappa[layout.capacity_rows]
    return y


def _farkas(st: _Structure, lp: LinearProgram, layout: Layout, mu: np.ndarray, kappa: np.ndarray,
            pi: np.ndarray | None, h: np.ndarray, rent_of, tol: float) -> np.ndarray | None:
    """Row multipliers proving the stage infeasible, or ``None``.

    With ``pi0`` the cheapest prices at unit costs ``w0_j = mu'P_j + kappa_i O_ij`` (no objective
    cost), ``N'pi0 <= w0``, so any plan ``x`` making ``h`` has ``pi0'h <= pi0'N x <= w0'x <=
    mu'R + kappa'cap``: when ``pi0'h`` exceeds that, no plan makes ``h``. The multipliers are
    ``pi0`` on the balance rows, ``-mu`` and ``-kappa`` on the resource and capacity rows, and
    :func:`gosplan.optim.check.farkas_margin` must verify them on the stage's own program (at
    ``tol``). ``pi``: prices already solved at ``w0`` (a fulfilment stage has no objective cost)."""
    from gosplan.optim.check import farkas_margin

    if pi is None:
        pi = st.cheapest(_unit_costs(st, mu, kappa) - st.base_cost)
    if not float(pi @ h) > rent_of(mu, kappa) * (1 + tol):
        return None
    ray = _row_multipliers(lp, layout, pi, mu, kappa)
    return ray if farkas_margin(lp, ray, tol) > 0 else None


def _plan(st: _Structure, master: _Master, lam: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Activity levels of the master's combination, from the columns' stored gross outputs."""
    x = np.zeros(st.out.size)
    K = max(lam.size, eta.size)
    weights = np.zeros((K, 2))
    if lam.size:
        weights[:, 0] = lam
    if eta.size:
        weights[:, 1] = eta
    for k in np.flatnonzero(weights.max(axis=1) > 0):
        B = master.choice(master.columns[k].base)
        x[B] += (master.plans.get(k) @ weights[k]) / st.out[B]  # one technique per product: no repeats
    return x


def _unit_costs(st: _Structure, mu: np.ndarray, kappa: np.ndarray | None) -> np.ndarray:
    """``w_j = c_j + mu' P_j + kappa_i O_ij`` for every activity ``j`` (making product ``i``)."""
    w = st.base_cost + st.problem.primary.T @ mu
    if kappa is not None and st.capped.size:
        w = w + kappa[st.product_of] * st.out
    return w


def _rent(st: _Structure):
    R = st.problem.available[st.limited]
    cap = st.problem.capacity[st.capped]

    def rent(mu: np.ndarray, kappa: np.ndarray) -> float:
        value = float(mu[st.limited] @ R)
        if st.capped.size:
            value += float(kappa[st.capped] @ cap)
        return value

    return rent


def _bound(objective: str, pi: np.ndarray, h: np.ndarray, d: np.ndarray, rent: float, z_upper: float) -> float:
    """Lagrangian bound: ``z <= (rent - pi'h) / pi'd`` (fulfilment), ``cost >= pi'h - rent``."""
    if objective == "fulfilment":
        pd_ = float(pi @ d)
        if pd_ > 0:
            return min((rent - float(pi @ h)) / pd_, z_upper)
        # prices that give the targets no value bound z by z <= z_upper alone (the Lagrangian
        # at multiplier 0), when they leave what is held affordable
        return z_upper if rent - float(pi @ h) >= 0 else np.inf
    return float(pi @ h) - rent


def _bounding_capacities(st: _Structure, master: _Master, has_h: bool, start: int) -> list[int]:
    """Capacity rows for the master's columns from ``start`` on whose plan ray ``d`` part uses
    nothing the master limits (no limited resource, none of its capacity rows): for each, the
    capacity the ray reaches first. A plan limited by capacities alone (no limited resource)
    would otherwise leave the first master unbounded."""
    if st.capped.size == 0:
        return []
    have = set(master.cap_rows)
    caps = np.asarray(master.cap_rows, dtype=np.int64)
    cap = st.problem.capacity[st.capped]
    for col in master.columns[start:]:
        if (col.use[1] > 0).any() or (caps.size and (col.cap_use[1, caps] > 0).any()):
            continue
        grows = col.cap_use[1] > 0
        if not grows.any():
            continue  # unbounded indeed: the master says so
        room = np.maximum(cap - (col.cap_use[0] if has_h else 0.0), 0.0)
        first = int(np.argmin(np.where(grows, room / np.where(grows, col.cap_use[1], 1.0), np.inf)))
        if first not in have:
            have.add(first)
            caps = np.append(caps, first)
    return [int(c) for c in caps[len(master.cap_rows):]]


def _violated_capacities(st: _Structure, master: _Master, lam: np.ndarray, eta: np.ndarray) -> np.ndarray:
    if st.capped.size == 0:
        return np.zeros(0, dtype=np.int64)
    g = np.zeros(st.capped.size)
    for k, col in enumerate(master.columns[: len(lam) if lam.size else len(eta)]):
        if lam.size:
            g += lam[k] * col.cap_use[0]
        if eta.size:
            g += eta[k] * col.cap_use[1]
    cap = st.problem.capacity[st.capped]
    bad = np.flatnonzero(g > cap * (1 + 1e-9) + 1e-12)
    have = set(master.cap_rows)
    return np.array([c for c in bad if c not in have], dtype=np.int64)

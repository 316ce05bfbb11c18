r"""The consumer loop's target revision by the Leontief-structure method.

The revision (:mod:`gosplan.cycle.revision`) solves the proximal program

.. math::

    \max_{c \ge l,\, x}\; \sum_j p_j c_j - \tfrac12 w_j (c_j - \hat c_j)^2
    \quad\text{s.t.}\quad N_j x \ge b_j + c_j \;(\text{goods } j),\;
    N_i x \ge \max(f_i, b_i) \;(\text{other products}),\; P x \le R,\; O x \le \mathrm{cap},\; x \ge 0,

a separable concave objective over the plan's production set: the structure of Cockshott's
harmony program with the quadratic in place of the harmony function. It is solved by the same
dual search over the few limited resources and binding capacities
(:mod:`gosplan.planning.harmony_leontief`), with each good's answer to its price ``pi_j`` in
closed form,

.. math::

    c_j(\pi_j) = \max\bigl(l_j,\; \hat c_j + (p_j - \pi_j) / w_j\bigr),

curvature ``1 / w_j`` where the bound does not hold. Each round costs a few sparse Leontief
solves instead of the direct factorisation of the economy that an interior-point method needs
(Clarabel and its KKT polish: 41-80 s a period at 10^4 synthetic products with 1,000
capacities, against 5.6-15 s by this method, which priced 619 in the first; BENCHMARKS.md,
"The target revision at 10^4 products"). Net imports the plan does not use in full are
imported only, as in harmony's plans. The method gives up where more capacities bind than the
master prices (:func:`~gosplan.planning.harmony_leontief._max_priced`: 1,000 up to 10^4
products, 316 at 10^5). The caller checks the answer as a whole
(:func:`gosplan.optim.check.verify_diagonal_qp`) and solves the program by Clarabel where the
method gives up or the check fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from gosplan.planning.formulate import Layout
from gosplan.planning.harmony_leontief import _Master, _max_priced, _search, _start
from gosplan.planning.leontief_backend import IMPORT_ROUNDS
from gosplan.planning.net_imports import with_free_imports
from gosplan.planning.problem import PlanProblem
from gosplan.planning.substitution import ImportsExceedUse, NotApplicable, _Structure, applicable

__all__ = ["ProximalPlan", "solve_proximal"]


class _ProximalResponse:
    """The goods' answer to prices ``pi`` (what the harmony method's search reads of its response:
    ``T``, ``wsum``, ``importing`` and the call): ``c_j = chat_j (1 + s_j)``, so that the search's
    deviations ``s`` and net outputs ``d_j = b_j + chat_j (1 + s_j)`` read as harmony's."""

    def __init__(self, problem: PlanProblem, goods: np.ndarray, center: np.ndarray, prices: np.ndarray,
                 weights: np.ndarray, lower: np.ndarray) -> None:
        b = problem.base
        self.T = goods
        self.y = center  # chat
        self.p = prices
        self.wq = weights
        self.a = b[goods] + center
        self.s_lo = lower / center - 1.0
        h = np.maximum(problem.floor, b)  # the revision's balance rows of the other products
        h[goods] = 0.0
        self.h = h
        self.importing = h < 0
        self.importing[goods] = b[goods] < 0
        # theta = 1 prices a row at the goods' whole value over the row's bound (see _Master.scale)
        self.wsum = float(prices @ center)

    def __call__(self, pi: np.ndarray, want_curv: bool = False):
        q = pi[self.T]
        su = (self.p - q) / (self.wq * self.y)
        s = np.maximum(su, self.s_lo)
        c = self.y * (1.0 + s)
        dT = self.a + self.y * s
        value = float(self.p @ c - 0.5 * (self.wq @ (c - self.y) ** 2) - q @ dT) - float(pi @ self.h)
        d = self.h.copy()
        d[self.T] = dT
        curv = np.where(su > self.s_lo, 1.0 / self.wq, 0.0) if want_curv else None
        return value, d, s, curv, su


@dataclass(frozen=True)
class ProximalPlan:
    """The method's answer: activity levels ``x``, targets ``c``, row duals ``y`` of the revision's
    program (HiGHS' sign convention, rows laid out as ``layout``) and what it cost."""

    x: np.ndarray
    c: np.ndarray
    y: np.ndarray
    message: str


def solve_proximal(problem: PlanProblem, layout: Layout, goods: np.ndarray, center: np.ndarray,
                   prices: np.ndarray, weights: np.ndarray, lower: np.ndarray, *, tol: float = 1e-9,
                   time_limit: float | None = None) -> ProximalPlan:
    """The proximal program of the module on ``problem`` (its committed demand ``b``, floors,
    resources and capacities), targets centred on ``center`` (positive) with weights ``w`` and
    lower bounds ``l``. Raises :class:`~gosplan.planning.substitution.NotApplicable` where the
    method does not apply or cannot finish."""
    start = time.perf_counter()
    goods = np.asarray(goods, dtype=np.int64)
    center = np.asarray(center, dtype=np.float64)
    if not (center > 0).all() or not (weights > 0).all() or not np.isfinite(weights).all():
        raise NotApplicable("targets and weights must be positive")
    target = np.zeros(problem.n)
    target[goods] = center
    problem = replace(problem, target=target)
    why = applicable(problem, "harmony")
    if why:
        raise NotApplicable(why)
    if layout.bound_rows.size:
        raise NotApplicable("floors or ceilings on consumer goods")
    deadline = None if time_limit is None else start + time_limit
    args = (goods, center, np.asarray(prices, dtype=np.float64), np.asarray(weights, dtype=np.float64),
            np.asarray(lower, dtype=np.float64))
    limited = np.isfinite(problem.available)
    if not limited.any() or (problem.available[limited] <= 0).any():
        raise NotApplicable("no limited resource with something available")
    free = np.zeros(0, dtype=np.int64)
    for _ in range(IMPORT_ROUNDS):
        # Net imports the plan does not use in full are imported only, by a free technique capped
        # at the quota (as harmony's plans are, :mod:`gosplan.planning.net_imports`); the caller's
        # check on the program itself says whether that restriction is optimal.
        stage = with_free_imports(problem, free)
        st = _Structure.build(stage, "fulfilment")
        st.choice[free] = problem.m + np.arange(free.size)
        resp = _ProximalResponse(stage, *args)
        master = _Master(st, resp)
        theta, _ = _start(st, master)
        try:
            x, s, pi, mu, kappa, rounds, _ = _search(st, resp, master, theta, _max_priced(problem.n), tol, deadline)
        except ImportsExceedUse as exc:
            free = np.union1d(free, exc.products)
            continue
        break
    else:
        raise NotApplicable(f"net imports not settled in {IMPORT_ROUNDS} plans")
    x = x[: problem.m]
    kappa[free] = 0.0  # the rent of an import quota is the good's price; its own capacity row is not priced
    y = np.zeros(layout.bound_start)
    y[: problem.n] = pi
    y[layout.resource_start : layout.capacity_start] = -mu[layout.resource_rows]
    y[layout.capacity_start : layout.bound_start] = -kappa[layout.capacity_rows]
    return ProximalPlan(
        x=x, c=center * (1.0 + s), y=y,
        message=(f"Leontief method: {rounds} round(s), {len(master.pieces)} technique choice(s), "
                 f"{len(master.caps)} priced capacit(ies), {st.solves} Leontief solves"),
    )



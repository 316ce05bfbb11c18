r"""How the centre revises next period's consumer-goods targets from what households paid.

Notation: consumer goods ``j``, this period's targets ``c_j``, the prices ``p_j`` that
cleared the markets for what the plan delivered, the centre's valuation ``pi_j``,
``sigma_j`` the spending-weighted elasticity of the good's buyers, ``theta`` the step
(``0 < theta <= 1``).

Both clearing-price rules raise a target where the good sells above its valuation and
lower it where below (Cockshott & Cottrell 1993, ch. 8; Dapprich 2022), in the implicit
(proximal) form that is stable where the production set has kinks (several resources or
capacities binding): the next targets solve

.. math::

    \max_{c, x}\; p^\top c - \tfrac12 \sum_j w_j (c_j - c^{t}_j)^2
    \quad\text{s.t. the centre's production set with } c \text{ as household demand},
    \qquad w_j = \frac{p_j}{\theta \sigma_j c^t_j},

whose optimality conditions read ``c_j = c^t_j (1 + theta sigma_j (1 - pi_j / p_j))`` with
``pi`` the program's shadow prices of the household balances, taken at the revised plan.
``w_j`` is the curvature of the households' aggregate utility along good ``j``
(``-dp_j/dc_j = p_j / (sigma_j c_j)``), so the step is a diagonal Newton step of the
Eisenberg--Gale program; a target falls at most tenfold in a period (``c >= min(c^t, chat^t) / 10``
with ``chat`` what the plan delivered, so that the program always has a solution).
The rules differ in the production set the centre believes in:

* ``opportunity`` (Dapprich): the plan's own constraints (resources, capacities,
  techniques). ``pi`` are the plan's opportunity costs; the fixed points (``p = pi``) are
  the competitive equilibria, the Eisenberg--Gale optimum over what the plan can produce.
* ``values`` (Cockshott--Cottrell): labour alone. ``pi`` is then labour's price times the
  labour value wherever the good is produced (and the clearing price of goods only net
  imports supply): the fixed points are where clearing prices are proportional to labour
  values and the targets exhaust the labour. Where another resource binds, the plan cannot
  deliver them, and the shortfall persists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gosplan.errors import PlanningError
from gosplan.optim.lp import LPStatus
from gosplan.optim.qp import solve_diagonal_qp
from gosplan.planning.formulate import _assemble
from gosplan.planning.problem import PlanProblem

__all__ = ["Revision", "proximal_targets", "MAX_FALL"]

MAX_FALL = 10.0
"""A target falls at most this many times in one period (the proximal step's lower bound)."""
CERTIFY = 1e-7
"""A revision by the Leontief method is taken where gosplan's check of the program finds violation,
duality gap and price error within this; else Clarabel solves it."""


@dataclass(frozen=True)
class Revision:
    """Next period's targets (``G``) and the valuation they were revised against."""

    targets: np.ndarray
    valuation: np.ndarray
    seconds: float
    message: str = ""
    stationarity: float = 0.0
    method: str = ""


def proximal_targets(
    problem: PlanProblem,
    goods: np.ndarray,
    center: np.ndarray,
    prices: np.ndarray,
    sigma: np.ndarray,
    step: float,
    *,
    tol: float = 1e-9,
    time_limit: float | None = None,
    activity: np.ndarray | None = None,
    feasible: np.ndarray | None = None,
    leontief: bool = True,
) -> Revision:
    """The proximal revision (see the module) from the targets ``center`` over ``problem``'s constraints.

    ``problem.committed`` holds the final demand other than households'; ``goods`` the
    product index of each consumer good. With ``leontief`` the Leontief-structure method
    (:mod:`gosplan.planning.proximal_leontief`) is tried first and its answer taken where
    gosplan's check certifies it (:data:`CERTIFY`); else, and where it is not, Clarabel solves
    the program (``Revision.method``; ``Revision.message`` says why the method was not taken).
    """
    start = time.perf_counter()
    n, G = problem.n, goods.size
    chat = np.asarray(center, dtype=np.float64)
    lower = (chat if feasible is None else np.minimum(chat, feasible)) / MAX_FALL
    w = prices / (step * sigma * chat)
    is_good = np.zeros(n, dtype=bool)
    is_good[goods] = True
    b = problem.base
    cols = sp.csr_array((-np.ones(G), (goods, np.arange(G))), shape=(n, G))
    lp, layout = _assemble(
        problem,
        extra_cols=cols,
        extra=goods,
        c_extra=-(prices + w * chat),
        extra_lower=lower,
        extra_upper=np.full(G, np.inf),
        balance_lower=np.where(is_good, b, np.maximum(problem.floor, b)),
        balance_upper=np.where(is_good, np.inf, problem.ceiling),
        bound_products=np.flatnonzero(is_good & ((problem.floor > 0) | np.isfinite(problem.ceiling))),
    )
    q = np.concatenate([np.zeros(problem.m), w])
    why = "not tried"
    if leontief:
        by_method = _by_leontief(problem, lp, layout, q, goods, chat, prices, w, lower, time_limit)
        if isinstance(by_method, str):
            why = by_method
        else:
            c, pi, message = by_method
            return Revision(targets=c, valuation=pi, seconds=time.perf_counter() - start, message=message,
                            stationarity=_stationarity(c, lower, pi, prices, w, chat), method="leontief")
    if time_limit is not None:
        time_limit = max(time_limit - (time.perf_counter() - start), 1.0)
    x_scale = np.ones(problem.m) if activity is None else np.asarray(activity, dtype=np.float64)
    x_scale = np.where(np.isfinite(x_scale) & (x_scale > 0), x_scale, 0.0)
    x_scale = np.maximum(x_scale, 1e-6 * max(float(x_scale.max(initial=0.0)), 1.0))
    # Targets in money: a reduced cost of the scaled program is then a relative error of the
    # good's shadow price, whatever the good's size (in quantities, HiGHS' absolute tolerance
    # left the prices of the smallest goods 0.4 % off).
    sol = solve_diagonal_qp(lp, q, tol=tol, time_limit=time_limit, col_scale=np.concatenate([x_scale, 1.0 / prices]))
    if sol.status is not LPStatus.OPTIMAL or not np.isfinite(sol.v).all():
        raise PlanningError(
            f"the target revision (a quadratic program over the plan's constraints) failed: {sol.message or sol.status.value}"
        )
    c = np.maximum(sol.v[problem.m:], lower)
    pi = sol.y[goods]
    return Revision(targets=c, valuation=pi, seconds=time.perf_counter() - start,
                    message=f"Leontief method {why}" if leontief else "",
                    stationarity=_stationarity(c, lower, pi, prices, w, chat), method="clarabel")


def _stationarity(c: np.ndarray, lower: np.ndarray, pi: np.ndarray, prices: np.ndarray, w: np.ndarray,
                  chat: np.ndarray) -> float:
    """Stationarity of the interior targets: ``pi_j = p_j - w_j (c_j - chat_j)``, relative to ``p_j``."""
    interior = c > lower * (1 + 1e-9)
    implied = prices - w * (c - chat)
    return float(np.max(np.abs(pi - implied)[interior] / prices[interior], initial=0.0))


def _by_leontief(problem: PlanProblem, lp, layout, q: np.ndarray, goods: np.ndarray, chat: np.ndarray,
                 prices: np.ndarray, w: np.ndarray, lower: np.ndarray,
                 time_limit: float | None) -> tuple[np.ndarray, np.ndarray, str] | str:
    """The revision by the Leontief-structure method (:mod:`gosplan.planning.proximal_leontief`),
    accepted where gosplan's check of the program certifies it (violation, duality gap and prices
    row by row within :data:`CERTIFY`); where the method does not apply or is not certified, why."""
    from gosplan.optim.check import verify_diagonal_qp
    from gosplan.planning.proximal_leontief import solve_proximal
    from gosplan.planning.substitution import NotApplicable

    try:
        plan = solve_proximal(problem, layout, goods, chat, prices, w, lower, tol=10 * CERTIFY, time_limit=time_limit)
    except (NotApplicable, ArithmeticError) as exc:
        return f"not applicable: {exc}"
    check = verify_diagonal_qp(lp, q, np.concatenate([plan.x, plan.c]), plan.y)
    if not (check.passes(CERTIFY) and check.price_error <= CERTIFY):
        return f"not certified ({check.words()})"
    return np.maximum(plan.c, lower), plan.y[goods], f"{plan.message}; {check.words()}"

"""Cockshott's harmony plan by the Leontief-structure method: a Newton (or SQP) search over
the prices of the few limited resources and binding capacities, with Leontief substitution
problems for the technique choice.

Applies under the conditions of :func:`gosplan.planning.substitution.applicable`
(single-output techniques, ``U, P >= 0``, no ceilings). A net import stays a negative demand
(``h_i = floor_i < 0``, or ``b_i + y_i (1 + s_i) < 0`` under a target): the plan
``x = (I - A_B)^-1 d`` for its prices is then still the cheapest while ``x >= 0``, which the
recovery of the round that ends checks (a round that still prices capacities is not judged;
the method gives up otherwise, and :mod:`gosplan.planning.leontief_backend` then imports
such products only). The program is
:func:`gosplan.planning.formulate.harmony_lp`::

    max sum_i w_i H(s_i)   s.t.  N_i x >= b_i + y_i (1 + s_i)   (y_i > 0),
                                 N_i x >= max(floor_i, b_i)      (otherwise; floors of
                                                                   targeted products too),
                                 P_r x <= R_r,  O_i x <= cap_i,  x >= 0,  s >= -1.

**Why it works.** Price the limited resources at ``mu >= 0`` and the capacities at
``kappa >= 0`` (together ``z``). Every activity ``j`` then has a unit cost
``mu'P_j + kappa_i O_ij``; the cheapest way to make any net output ``d >= 0`` is one choice
``B`` of technique per product (the substitution theorem; policy iteration finds it,
:meth:`gosplan.planning.substitution._Structure.cheapest`), and the products' prices are
``pi = (I - A_B)^-T (w_B / O_B)``. For a fixed choice ``pi`` is linear in ``z``:
``pi = W_B z`` with the columns of ``W_B`` the embodied resource ``r`` per unit of each
product, ``(I - A_B)^-T (P_rB / O_B)``, and the gross output of a capped product ``c``
embodied, ``(I - A_B)^-T e_c`` — one transposed Leontief solve per limited resource and
binding capacity (four at a time). The Lagrangian dual then separates by product::

    D_B(z) = sum_targeted max_{s >= s_lo} [w_i H(s) - pi_i max(floor_i, b_i + y_i (1 + s))]
             - sum_other pi_i max(floor_i, b_i) + z'(R, cap),

with the maximiser in closed form (``g = pi_i y_i / w_i``: ``s = 1/g - 1`` for ``g <= 1``,
``1 - g`` for ``1 < g < 2``, ``-1`` beyond, raised to the floor's ``s_lo``), gradient
``(R, cap) - W_B' d`` (the resources and capacities the plan for ``d`` uses) and Hessian
``W_B' diag(curvature) W_B``: vector work, no Leontief solve. The true dual is
``D(z) = max_B D_B(z)``, attained at the cheapest choice; so the method

1. minimises the maximum of the ``D_B`` collected so far over ``z >= 0`` (one choice:
   projected Newton; several: SQP whose quadratic subproblems Clarabel solves, with the
   Hessian of the Lagrangian ``sum_B lambda_B H_B``), a few to a few hundred variables;
2. finds the cheapest choice at the minimiser (policy iteration); if it is already
   collected, the minimiser minimises ``D`` itself, else it joins the collection;
3. recovers the plan: a convex combination ``lambda`` of the collected choices' plans
   for their demands ``d_B`` (a small LP makes the combination use exactly the
   resources and capacities that the prices say bind), one forward Leontief solve per
   choice in the combination. With several choices ``z`` is first polished by an
   active-set Newton method on the min-max's optimality conditions
   (``sum_k lambda_k grad D_k = 0`` on priced rows, the weighted choices at the maximum):
   the SQP stops where its quadratic programs predict no decrease, which on a flat kink can
   leave the combined plan's use of a row 1e-3 off its bound. With labour the only limited resource and no capacity
   binding the choice does not depend on ``mu``: one policy iteration, a Newton search on
   ``mu`` and one forward solve give the exact plan;
4. adds the capacities that plan exceeds to the priced set and starts again from step 1; only a
   plan that exceeds none is held to use exactly what its prices say (the prices of a round
   that still adds capacities move in the next).

The prices ``(pi, mu, kappa)`` at the final ``z`` are reported as the program's duals,
so that :func:`gosplan.optim.check.verify` certifies the plan as it certifies any other
backend's. Where the method cannot finish (no convergence within :data:`MAX_ROUNDS`, more
capacities binding than :func:`_max_priced` allows, a targeted product that no limited
resource limits, the master failing),
:class:`~gosplan.planning.substitution.NotApplicable` is raised and the caller falls back
to HiGHS or PDHG.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from gosplan.optim.check import max_violation, proves_unbounded
from gosplan.optim.lp import LinearProgram, LPSolution, LPStatus, harmony, harmony_derivative
from gosplan.planning.formulate import Layout
from gosplan.planning.problem import PlanProblem
from gosplan.planning.substitution import ImportsExceedUse, NotApplicable, _Structure, _unit_costs, imports_within_use

__all__ = ["solve_harmony", "ImportsExceedUse"]


MAX_ROUNDS = 60
"""Rounds (master solve + cheapest choice) before the method gives up."""
MAX_PIECES = 12
"""Technique choices kept in the master; the least active are dropped beyond."""
NEWTON_TOL = 1e-11
"""Projected-gradient tolerance of the master, in relative slack of each resource / capacity."""
ZERO_PRICE = 1e-12
"""A row priced below this (in units of the whole harmony weight over the row's bound) with a
positive gradient counts as unpriced (at its bound ``0``)."""
ACTIVE_SETS = 30
"""Changes of the choices and rows that the master's polish solves on before it stops."""
SNAP_PRICE = 1e-6
"""A row priced below this share of the largest price, and left short of its bound by the
choices' combination, is taken as unpriced by the master's polish."""
MAX_PRICED_CAPACITIES = 1000
"""Capacities priced in the master at most (each costs one transposed Leontief solve per
choice, ``8 n`` bytes per choice and ``n p`` operations per Hessian entry); fewer on large
plans, see :func:`_max_priced`."""
HESSIAN_BUDGET = 1e10
"""Operations of one Hessian ``W' diag W`` of the master (``n p^2``) that :func:`_max_priced` allows."""
W_BUDGET = 6e9
"""Bytes of the matrices ``W_B`` of :data:`MAX_PIECES` choices (``8 n p`` each) that :func:`_max_priced` allows."""


def _max_priced(n: int) -> int:
    """Priced capacities allowed at ``n`` products: the master's Hessian ``W' diag W`` costs
    ``n p^2`` operations, kept under :data:`HESSIAN_BUDGET`, and its choices ``8 n p`` bytes
    each, kept under :data:`W_BUDGET` together (10^4: 1,000, 10^5: 316, 10^6: 62, 10^7: 20).
    A target revision of 10^4 products prices 619 capacities, a harmony plan 705 (run H4 of
    BENCHMARKS.md); at 400 both were given to the conic or first-order solver."""
    n = max(n, 1)
    by_time = (HESSIAN_BUDGET / n) ** 0.5
    by_memory = W_BUDGET / (8.0 * n * MAX_PIECES)
    return int(min(MAX_PRICED_CAPACITIES, max(20, min(by_time, by_memory))))


class _Response:
    """The products' answer to prices ``pi``: deviations ``s``, net outputs ``d``, the
    Lagrangian's value and its curvature (see the module)."""

    def __init__(self, problem: PlanProblem) -> None:
        y = problem.target
        b = problem.base
        T = np.flatnonzero(y > 0)
        self.T = T
        self.y = y[T]
        self.w = problem.weight[T]
        self.a = b[T] + y[T]  # net output at s = 0
        floor = problem.floor[T]
        # a targeted product's floor bounds it only where positive (harmony_lp): below zero its
        # net output is bounded by b_i + y_i (1 + s_i) >= b_i alone, negative demand where b_i < 0
        self.floor = np.where(floor > 0, floor, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_lo = np.where(floor > 0, (floor - b[T]) / y[T] - 1.0, -1.0)
        self.s_lo = np.maximum(s_lo, -1.0)
        h = np.maximum(problem.floor, problem.base_floor)
        h[T] = 0.0
        # Net imports (a lower bound below zero, or negative committed demand under a target)
        # stay negative demand: the plan x = (I - A_B)^-1 d is then optimal for its prices as
        # long as x >= 0 (checked when the plan is recovered), i.e. the plan uses at least what
        # is imported.
        self.h = h
        self.importing = h < 0
        self.importing[T] = b[T] < 0
        self.wsum = float(self.w.sum())
        self.weighted = self.w > 0

    def __call__(self, pi: np.ndarray, want_curv: bool = False):
        p = pi[self.T]
        tiny = 1e-14 * max(float(np.abs(pi).max(initial=0.0)), 1e-300)
        unpriced = bool((p[self.weighted] < tiny).any())
        p = np.maximum(p, tiny)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            g = p * self.y / self.w
            su = np.where(g <= 1.0, 1.0 / g - 1.0, np.where(g < 2.0, 1.0 - g, -1.0))
            s = np.maximum(su, self.s_lo)
            dT = np.maximum(self.floor, self.a + self.y * s)
            value = float(self.w @ harmony(s) - p @ dT) - float(pi @ self.h)
        if unpriced or not np.isfinite(value):
            # A targeted product priced at (about) zero: unbounded in that direction. Held at
            # `tiny`, its price would give a finite value, a floor a line search can settle on:
            # an import quota that alone priced a consumer good was stepped to a price of 1e-23
            # and stuck there, the good's net output 10^13 times its target.
            value = np.inf
        d = self.h.copy()
        d[self.T] = dT
        curv = None
        if want_curv:
            curv = np.where(su > self.s_lo, np.where(g <= 1.0, self.w / p**2, self.y**2 / self.w), 0.0)
        return value, d, s, curv, su


class _Piece:
    """One technique choice ``B`` and its matrix ``W_B`` (``n x`` priced rows)."""

    def __init__(self, choice: np.ndarray, W: np.ndarray) -> None:
        self.choice = choice.copy()
        self.W = W


class _Master:
    def __init__(self, st: _Structure, resp: _Response) -> None:
        self.st = st
        self.resp = resp
        p = st.problem
        self.R = p.available[st.limited]
        self.caps: list[int] = []  # product indices of priced capacities
        self.pieces: list[_Piece] = []

    # ------------------------------------------------------------------ rows
    @property
    def c(self) -> np.ndarray:
        return np.concatenate([self.R, self.st.problem.capacity[np.asarray(self.caps, dtype=np.int64)]])

    def scale(self) -> np.ndarray:
        """``z = theta * scale``: theta 1 prices a row at the whole harmony weight."""
        c = self.c
        return self.resp.wsum / np.where(c > 0, c, 1.0)

    def rhs(self, B: np.ndarray, caps: list[int], resources: bool) -> np.ndarray:
        st = self.st
        n = st.problem.n
        cols = []
        if resources:
            PB = st.P_lim[:, B]  # resources x products (chosen techniques)
            PB = np.asarray(PB.todense()) if sp.issparse(PB) else np.asarray(PB)
            for r in range(PB.shape[0]):
                cols.append(PB[r] / st.out[B])
        for cprod in caps:
            e = np.zeros(n)
            e[cprod] = 1.0
            cols.append(e)
        return np.column_stack(cols) if cols else np.zeros((n, 0))

    def add_piece(self, B: np.ndarray) -> _Piece:
        st = self.st
        for piece in self.pieces:
            if np.array_equal(piece.choice, B):
                return piece
        st.choice = B.copy()
        W = st._solve(self.rhs(B, self.caps, True), transpose=True)
        W = np.asarray(W).reshape(st.problem.n, -1)
        piece = _Piece(B, W)
        self.pieces.append(piece)
        return piece

    def add_caps(self, new: list[int], keep: list[_Piece]) -> None:
        st = self.st
        self.pieces = []
        for piece in keep:
            st.choice = piece.choice.copy()
            extra = np.asarray(st._solve(self.rhs(piece.choice, new, False), transpose=True)).reshape(st.problem.n, -1)
            piece.W = np.hstack([piece.W, extra])
            self.pieces.append(piece)
        self.caps.extend(new)

    # ------------------------------------------------------------------ one piece
    def evaluate(self, piece: _Piece, theta: np.ndarray, hess: bool = False):
        """``D_B / wsum`` at ``theta``, its gradient in theta and (optionally) Hessian."""
        zs = self.scale()
        z = theta * zs
        pi = piece.W @ z
        value, d, s, curv, _ = self.resp(pi, want_curv=hess)
        c = self.c
        use = piece.W.T @ d
        wsum = self.resp.wsum
        D = (value + float(z @ c)) / wsum
        grad = zs * (c - use) / wsum
        H = self._hessian(piece, curv, zs) if hess else None
        return D, grad, H, d, s, use

    def _hessian(self, piece: _Piece, curv: np.ndarray, zs: np.ndarray) -> np.ndarray:
        """``W_T' diag(curv) W_T / wsum`` in theta: a symmetric rank-k update over the targeted
        rows with curvature (those at a bound of ``s`` add nothing), half the work of the product."""
        from scipy.linalg.blas import dsyrk

        rows = np.flatnonzero(curv > 0)
        p = zs.size
        if rows.size == 0:
            return np.zeros((p, p))
        M = piece.W[self.resp.T[rows]]
        M *= zs
        M *= np.sqrt(curv[rows])[:, None]
        H = dsyrk(1.0 / self.resp.wsum, M.T)  # M' M, upper triangle
        return np.triu(H) + np.triu(H, 1).T

    @staticmethod
    def _usable(step: np.ndarray, g: np.ndarray, theta: np.ndarray) -> bool:
        """A descent direction of a sensible length."""
        return bool(np.isfinite(step).all() and g @ step < 0
                    and np.abs(step).max() <= 1e6 * (1 + np.abs(theta).max()))

    def newton(self, piece: _Piece, theta: np.ndarray, deadline: float | None) -> np.ndarray:
        """Projected Newton on ``D_B`` over ``theta >= 0``."""
        theta = theta.copy()
        stalled = 0
        for _ in range(200):
            D, g, H, *_ = self.evaluate(piece, theta, hess=True)
            at_bound = (theta <= ZERO_PRICE) & (g > 0)
            theta[at_bound] = 0.0
            free = ~at_bound
            if np.abs(g[free]).max(initial=0.0) <= NEWTON_TOL:
                return theta
            gradient_step = -np.where(free, g, 0.0)
            step = np.zeros_like(theta)
            Hf = H[np.ix_(free, free)]
            reg = 1e-12 * max(float(np.trace(Hf)) / max(Hf.shape[0], 1), 1e-300)
            try:
                step[free] = -np.linalg.solve(Hf + reg * np.eye(Hf.shape[0]), g[free])
            except np.linalg.LinAlgError:
                step = gradient_step
            # Where D is flat in curvature along some prices (every product they reach at s = -1)
            # the Newton step is useless there: a Levenberg-Marquardt step, of the size of theta
            # itself along the flat prices and Newton's along the curved ones (a plain gradient
            # step zigzags across a curved price and crawls along the flat ones: 200 steps of
            # 1e-3 on a capacity rent beside labour and land), else a gradient step (theta is in
            # units of the whole harmony weight).
            if not self._usable(step, g, theta):
                delta = max(float(np.abs(g[free]).max()) / (1.0 + float(np.abs(theta).max())), 1e-300)
                step = np.zeros_like(theta)
                try:
                    step[free] = -np.linalg.solve(Hf + delta * np.eye(Hf.shape[0]), g[free])
                except np.linalg.LinAlgError:
                    step = gradient_step
                if not self._usable(step, g, theta):
                    step = gradient_step
            new = None
            if -float(g @ step) <= 1e-13 * (1.0 + abs(D)) and step is not gradient_step:
                # Within rounding of the minimum: Armijo cannot tell, take the full Newton step
                # (a few times at most: the caller checks the rows).
                stalled += 1
                if stalled > 5:
                    return theta
                new = np.maximum(theta + step, 0.0)
            for direction in (step, gradient_step):
                if new is not None:
                    break
                alpha = 1.0
                while alpha > 1e-10:
                    trial = np.maximum(theta + alpha * direction, 0.0)
                    Dn = self.evaluate(piece, trial)[0]
                    if Dn <= D + 1e-4 * float(g @ (trial - theta)) or (Dn < D and alpha < 1e-6):
                        new = trial
                        break
                    alpha *= 0.5
            if new is None:
                return theta  # no progress possible at this precision (the caller checks the rows)
            theta = new
            if deadline is not None and time.perf_counter() > deadline:
                return theta
        return theta

    def minimise(self, theta: np.ndarray, deadline: float | None) -> np.ndarray:
        """Minimiser of ``max_B D_B`` over ``theta >= 0`` (the pieces collected)."""
        if len(self.pieces) == 1:
            return self.newton(self.pieces[0], theta, deadline)
        theta = self.sqp(theta, deadline)
        # One choice active at the SQP's answer: finish by Newton on it (exact, quadratic),
        # as long as the others stay below it.
        vals = [self.evaluate(pc, theta)[0] for pc in self.pieces]
        top = max(vals)
        active = [k for k, v in enumerate(vals) if v >= top - 1e-9 * (1 + abs(top))]
        if len(active) == 1:
            polished = self.newton(self.pieces[active[0]], theta, deadline)
            at = [self.evaluate(pc, polished)[0] for pc in self.pieces]
            if max(at) <= at[active[0]] and at[active[0]] <= top:
                theta = polished
        return theta

    def kkt_residual(self, theta: np.ndarray, evals: list, lam: np.ndarray) -> float:
        """How far ``theta`` and the choices' weights ``lam`` are from the min-max's optimality
        conditions: ``sum_k lam_k grad D_k`` zero on priced rows and ``>= 0`` on the others (the
        combined plan uses each priced row's bound, no more of the others), each weighted
        choice at the maximum; in relative slack of the rows."""
        G = np.array([e[1] for e in evals])
        Dv = np.array([e[0] for e in evals])
        comb = lam @ G
        free = theta > ZERO_PRICE
        rows = np.where(free, np.abs(comb), np.maximum(-comb, 0.0))
        level = float((lam * (Dv.max() - Dv)).sum()) / (1.0 + abs(float(Dv.max())))
        return max(float(rows.max(initial=0.0)), level)

    def polish(self, theta: np.ndarray, deadline: float | None = None, iterations: int = 8) -> np.ndarray:
        """An active-set Newton method on the min-max's optimality conditions. For the active
        choices ``A`` and priced rows ``F``: ``sum_A lam_k g_k[F] = 0``, ``D_k(theta) = t``
        (``k`` in ``A``), ``sum_A lam_k = 1``, Jacobian ``[[sum lam_k H_k, G_A'], [G_A, -1],
        [1', 0]]``, its steps halved until they cut the residual. The choices start as those the
        combination weighs, the rows as those priced above :data:`SNAP_PRICE` of the largest
        price or overused; then the choice whose weight turns most negative leaves, every row
        whose price turns negative leaves, and, when none does, the choice most above ``t``, or
        else every row over its bound, joins (at most :data:`ACTIVE_SETS` changes). The SQP's
        quadratic programs end where they predict no decrease, which on a flat kink left the
        rows' use up to 4e-3 off its bound (4 of 44 plans of 3,000 products were given up for
        that); this converges quadratically once the sets are right. With hundreds of priced
        capacities the sets change by dozens of rows (a target revision of 10^4 products: 622
        rows, 31 unpriced at once). Its answer is kept only where it meets the conditions better
        and the maximum did not rise. Past ``deadline`` it stops after the Newton step under way
        (each costs the active choices' Hessians: 2-10 s at 10^4 products and 700 rows)."""
        evals = [self.evaluate(pc, theta) for pc in self.pieces]
        lam = self.weights(theta, evals)
        best, best_res = theta, self.kkt_residual(theta, evals, lam)
        if best_res <= 1e-13:
            return theta
        Dv = np.array([e[0] for e in evals])
        top0 = float(Dv.max())
        scale = 1.0 + abs(top0)
        A = lam > 1e-12  # choices at the maximum that the combination leaves out join when above it
        comb = lam @ np.array([e[1] for e in evals])
        # A row the combination leaves short of its bound (comb > 0) at a price of rounding size
        # is unpriced: the SQP's interior-point steps stop a price 1e-12 short of zero, not at it
        # (705 priced capacities at 10^4 products: rows 57 % short at theta 1e-12 made the Newton
        # system solve for prices that are not there).
        idle = (comb > 0) & (theta <= SNAP_PRICE * float(theta.max(initial=0.0)))
        F = ((theta > ZERO_PRICE) & ~idle) | (comb < 0)
        th, lm = np.where(F, theta, 0.0), lam.copy()
        if idle.any():
            evals = [self.evaluate(pc, th) for pc in self.pieces]

        def residual(lm: np.ndarray, evals: list, a_idx: np.ndarray, f_idx: np.ndarray):
            """The conditions' residual on the sets, and the active choices' gradients."""
            G = np.array([evals[k][1] for k in a_idx])
            Da = np.array([evals[k][0] for k in a_idx])
            t = float(lm[a_idx] @ Da)
            return np.concatenate([lm[a_idx] @ G[:, f_idx], Da - t, [lm[a_idx].sum() - 1.0]]), G

        def late() -> bool:
            return deadline is not None and time.perf_counter() > deadline

        for _ in range(ACTIVE_SETS):  # active sets
            for _ in range(iterations):  # Newton with the sets fixed
                if late():
                    break
                a_idx, f_idx = np.flatnonzero(A), np.flatnonzero(F)
                a, f = a_idx.size, f_idx.size
                if a < 2 or f == 0:
                    return best
                r, G = residual(lm, evals, a_idx, f_idx)
                size = float(np.abs(r).max())
                if size <= 1e-14:  # converged
                    break
                H = sum(lm[k] * self.evaluate(self.pieces[k], th, hess=True)[2] for k in a_idx if lm[k] != 0)
                J = np.zeros((f + a + 1, f + a + 1))
                if not np.isscalar(H):
                    J[:f, :f] = H[np.ix_(f_idx, f_idx)]
                J[:f, f:f + a] = G[:, f_idx].T
                J[f:f + a, :f] = G[:, f_idx]
                J[f:f + a, f + a] = -1.0
                J[f + a, f:f + a] = 1.0
                try:
                    step = -np.linalg.solve(J, r)
                except np.linalg.LinAlgError:
                    return best
                if not np.isfinite(step).all():
                    return best
                # Damped: the full step is taken where it cuts the residual, else halved (with
                # several choices nearly alike the system is close to singular, and a full step
                # from a residual of 1e-6 once landed at 4)
                alpha, moved = 1.0, False
                while alpha >= 1.0 / 64:
                    th_try = th.copy()
                    th_try[f_idx] += alpha * step[:f]
                    lm_try = lm.copy()
                    lm_try[a_idx] += alpha * step[f:f + a]
                    ev_try = [self.evaluate(pc, np.maximum(th_try, 0.0)) for pc in self.pieces]
                    r_try = float(np.abs(residual(lm_try, ev_try, a_idx, f_idx)[0]).max())
                    if np.isfinite(r_try) and r_try < (1.0 - 1e-4 * alpha) * size:
                        th, lm, evals, moved = th_try, lm_try, ev_try, True
                        break
                    alpha /= 2
                if not moved:  # at rounding, or no progress with these sets
                    break
            if late():
                break
            changed = False
            if (lm[A] < 0).any():
                k = np.flatnonzero(A)[np.argmin(lm[A])]
                A[k], lm[k], changed = False, 0.0, True
            if (th[F] < 0).any():  # every row whose price the solve on these sets makes negative
                neg = np.flatnonzero(F)[th[F] < 0]
                F[neg], th[neg], changed = False, 0.0, True
            if not changed:
                Dv = np.array([e[0] for e in evals])
                t = float(Dv[A].max())
                above = ~A & (Dv > t + 1e-13 * scale)
                comb = lm @ np.array([e[1] for e in evals])
                over = ~F & (comb < -1e-13)
                if above.any():
                    A[np.flatnonzero(above)[np.argmax(Dv[above])]] = changed = True
                elif over.any():  # every row the combination overuses (hundreds of capacities)
                    F[over] = changed = True
            if not changed:
                break
            lm = np.maximum(lm, 0.0)
            lm /= lm.sum()
            th = np.maximum(th, 0.0)
            evals = [self.evaluate(pc, th) for pc in self.pieces]
        th = np.maximum(th, 0.0)
        evals = [self.evaluate(pc, th) for pc in self.pieces]
        res = self.kkt_residual(th, evals, self.weights(th, evals))
        if res < best_res and max(e[0] for e in evals) <= top0 + 1e-12 * scale:
            return th
        return best

    def sqp(self, theta: np.ndarray, deadline: float | None) -> np.ndarray:
        """``min_theta>=0 max_k D_k`` by SQP: each step a QP (Clarabel) with the pieces'
        linearisations and the Hessian of the Lagrangian ``sum_k lambda_k H_k``, then a line
        search on the maximum."""
        import clarabel

        pieces = self.pieces
        K, p = len(pieces), theta.size
        lam = None
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = 1e-12
        settings.tol_feas = 1e-12
        for _ in range(100):
            ev = [self.evaluate(pc, theta) for pc in pieces]
            Dv = np.array([e[0] for e in ev])
            top = float(Dv.max())
            if lam is None:
                lam = (Dv >= top - 1e-12 * (1 + abs(top))).astype(float)
                lam /= lam.sum()
            # the Lagrangian's Hessian needs only the choices the last QP weighted (each Hessian
            # costs n p^2: at 10^4 products and 700 priced rows, most of a round when computed
            # for every choice collected)
            H = sum(l * self.evaluate(pc, theta, hess=True)[2] for l, pc in zip(lam, pieces) if l > 0)
            H = H + (1e-12 * max(float(np.trace(H)) / p, 1e-300)) * np.eye(p)
            P = sp.csc_matrix(sp.triu(sp.block_diag([sp.csr_matrix(H), sp.csr_matrix((1, 1))]), format="csc"))
            q = np.concatenate([np.zeros(p), [1.0]])
            G = np.array([e[1] for e in ev])
            A = sp.csc_matrix(np.vstack([np.hstack([G, -np.ones((K, 1))]), np.hstack([-np.eye(p), np.zeros((p, 1))])]))
            b = np.concatenate([-(Dv - top), theta])  # t measured from top
            solver = clarabel.DefaultSolver(P, q, A, b, [clarabel.NonnegativeConeT(K + p)], settings)
            sol = solver.solve()
            if str(sol.status) not in ("Solved", "AlmostSolved"):
                raise NotApplicable(f"the master's QP: {sol.status}")
            u = np.asarray(sol.x)
            step, t_model = u[:p], u[p]
            lam_new = np.maximum(np.asarray(sol.z)[:K], 0.0)
            if lam_new.sum() > 0:
                lam = lam_new / lam_new.sum()
            predicted = -(t_model + 0.5 * float(step @ H @ step))  # decrease of the model's max
            if predicted <= 1e-14 * (1 + abs(top)) or not step.any():
                break
            # The step of the QP is taken whole when the maximum does not rise beyond rounding:
            # near a kink Armijo on the maximum rejects full SQP steps (Maratos) and the search
            # crawled, 100 steps of 1/2^k at 10^5 products (25 s of 27).
            new = np.maximum(theta + step, 0.0)
            if max(self.evaluate(pc, new)[0] for pc in pieces) > top + 1e-13 * (1 + abs(top)):
                alpha = 0.5
                while alpha > 1e-6:
                    new = np.maximum(theta + alpha * step, 0.0)
                    if max(self.evaluate(pc, new)[0] for pc in pieces) <= top - 1e-4 * alpha * predicted:
                        break
                    alpha *= 0.5
                else:
                    break
            theta = new
            if deadline is not None and time.perf_counter() > deadline:
                break
        return theta

    def combination(self, theta: np.ndarray):
        """Weights ``lambda`` of the collected choices whose plans, at their demands, use
        what the prices say: every priced row with a positive price exactly, the others
        at most; from a small LP. Returns ``(lambda, evaluations)``."""
        evals = [self.evaluate(pc, theta) for pc in self.pieces]
        return self.weights(theta, evals), evals

    def weights(self, theta: np.ndarray, evals: list) -> np.ndarray:
        """The combination's weights (see :meth:`combination`) for the choices' evaluations."""
        K = len(evals)
        if K == 1:
            return np.ones(1)
        from scipy.optimize import linprog

        G = np.array([e[1] for e in evals])  # K x p, normalised gradients
        Dv = np.array([e[0] for e in evals])
        slack = Dv.max() - Dv
        p = theta.size
        free = theta > ZERO_PRICE
        # variables: lambda (K), e_plus (p), e_minus (p)
        c = np.concatenate([1e3 * slack, np.ones(p), np.ones(p)])
        A_eq = [np.concatenate([np.ones(K), np.zeros(2 * p)])]
        b_eq = [1.0]
        A_ub, b_ub = [], []
        for j in range(p):
            row = np.concatenate([G[:, j], np.zeros(2 * p)])
            row[K + j] = -1.0
            row[K + p + j] = 1.0
            if free[j]:
                A_eq.append(row)
                b_eq.append(0.0)
            else:  # G' lambda >= 0  ->  -G' lambda - e_minus <= 0
                r = -row
                r[K + j] = 0.0
                A_ub.append(r)
                b_ub.append(0.0)
        res = linprog(c, A_ub=np.array(A_ub) if A_ub else None, b_ub=np.array(b_ub) if b_ub else None,
                      A_eq=np.array(A_eq), b_eq=np.array(b_eq), bounds=[(0, None)] * (K + 2 * p), method="highs")
        if res.status != 0:
            raise NotApplicable(f"combination of technique choices: {res.message}")
        lam = np.maximum(res.x[:K], 0.0)
        return lam / lam.sum()


def _prices(st: _Structure, master: _Master, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resource prices ``mu`` and capacity rents ``kappa`` at the master's ``theta``."""
    n_res = st.limited.size
    z = theta * master.scale()
    mu = np.zeros(st.problem.resources.size)
    mu[st.limited] = z[:n_res]
    kappa = np.zeros(st.problem.n)
    if master.caps:
        kappa[np.asarray(master.caps)] = z[n_res:]
    return mu, kappa


def _start(st: _Structure, master: _Master) -> tuple[np.ndarray, _Piece]:
    """Every limited resource priced at the whole weight over its availability, and the cheapest
    choice there as the master's first piece."""
    theta = np.ones(st.limited.size)
    mu, kappa = _prices(st, master, theta)
    st.cheapest(_unit_costs(st, mu, kappa))
    return theta, master.add_piece(st.choice)


def _unbounded_ray(st: _Structure, resp: _Response, lp: LinearProgram, first: _Piece,
                   start: float) -> LPSolution | None:
    """Targeted products with a weight that embody no limited resource and no capacity (customs
    duties in us-2017): their harmony grows without end along ``x = (I - A_B)^-1 e_F``,
    ``s_i = 1 / y_i``. The ray is checked on ``lp`` itself (every row and bound it moves keeps
    its side, the objective falls) and beside a plan that meets the program; ``None`` where it is
    not a ray (negative inputs can make ``(I - A_B)^-1 e_F`` negative) or that plan fails (the
    program may be infeasible: the caller's LP solver decides)."""
    problem = st.problem
    T = resp.T
    free = (np.abs(first.W[T]).max(axis=1) <= 0) & resp.weighted
    if not free.any():
        return None
    unit = np.zeros(problem.n)
    unit[T[free]] = 1.0
    g = np.asarray(st.plans(unit)).reshape(-1)
    if not np.isfinite(g).all() or (g < -1e-12 * max(float(np.abs(g).max(initial=0.0)), 1e-300)).any():
        return None
    x = np.zeros(problem.m)
    x[st.choice] = np.maximum(g, 0.0) / st.out[st.choice]
    s = np.where(free, 1.0 / resp.y, 0.0)
    ray = np.concatenate([x, s])
    if ray.size != lp.shape[1] or not proves_unbounded(lp, ray):
        return None
    # A ray proves the program unbounded only beside a plan that meets it (else it is infeasible):
    # the least one, targets at their lowest (s at its bound), the rest of demand made, and what
    # net imports leave below zero not made (checked on the program as it stands).
    least = resp.h.copy()
    least[T] = np.maximum(resp.floor, resp.a - resp.y)
    g0 = np.asarray(st.plans(least)).reshape(-1)
    x0 = np.zeros(problem.m)
    x0[st.choice] = np.maximum(g0, 0.0) / st.out[st.choice]
    if max_violation(lp, np.concatenate([x0, resp.s_lo])) > 1e-9:
        return None
    named = ", ".join(problem.product_words(problem.products[i]) for i in T[free][:3])
    k, m = lp.shape
    return LPSolution(
        status=LPStatus.UNBOUNDED, v=np.full(m, np.nan), y=np.full(k, np.nan), d=np.full(m, np.nan),
        objective=np.nan, method="leontief", iterations=st.solves, seconds=time.perf_counter() - start,
        message=(f"Leontief harmony method: unbounded: {int(free.sum())} targeted product(s) use no limited "
                 f"resource and no capacity, directly or indirectly ({named}); their harmony grows without end "
                 "along (I - A_B)^-1 e for a productive technique choice"),
        ray=ray,
    )


def solve_harmony(
    problem: PlanProblem,
    lp: LinearProgram,
    layout: Layout,
    *,
    tol: float = 1e-6,
    time_limit: float | None = None,
    progress=None,
    state: dict | None = None,
    prefer: tuple[np.ndarray, np.ndarray] | None = None,
    **_: object,
) -> LPSolution:
    """The harmony plan by the Leontief-structure method (see the module); an
    :class:`LPSolution` of ``lp`` (``v = [x, s]``, duals in HiGHS' convention). ``prefer``:
    ``(products, techniques)`` the technique choice starts from (and keeps on ties)."""
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    n = problem.n
    st = _Structure.build(problem, "fulfilment")  # unit costs come from the prices alone
    if prefer is not None:
        st.choice[np.asarray(prefer[0], dtype=np.int64)] = np.asarray(prefer[1], dtype=np.int64)
    resp = _Response(problem)
    if resp.T.size == 0:
        raise NotApplicable("no targeted product: nothing to harmonise")
    if st.limited.size == 0 and st.capped.size == 0:
        raise NotApplicable("no limited resource and no capacity: the harmony is unbounded")
    if (problem.available[st.limited] <= 0).any():
        raise NotApplicable("a limited resource with nothing available")
    if np.isneginf(resp.h).any():
        raise NotApplicable("unlimited net imports (a floor of -inf)")
    if st.limited.size == 0:
        raise NotApplicable("no limited resource (capacities alone)")
    master = _Master(st, resp)
    n_res = st.limited.size
    theta, first = _start(st, master)
    limit = _max_priced(n)
    free = resp.T[np.abs(first.W[resp.T]).max(axis=1) <= 0]
    if free.size:
        # Targeted products that embody no limited resource (customs duties in us-2017): only
        # capacities can limit them, those of the products their making uses (their own, or
        # their inputs', directly or indirectly). Those are priced from the start.
        unit = np.zeros(n)
        unit[free] = 1.0
        g = np.asarray(st.plans(unit)).reshape(-1)
        reach = [int(c) for c in st.capped[g[st.capped] > 0]]
        if reach and len(reach) <= limit:
            master.add_caps(reach, [first])
            first = master.pieces[0]
            theta = np.ones(n_res + len(reach))
        if (np.abs(first.W[resp.T]).max(axis=1) <= 0).any():
            if len(reach) <= limit:
                st.choice = first.choice.copy()
                ray = _unbounded_ray(st, resp, lp, first, start)
                if ray is not None:
                    return ray
            raise NotApplicable(
                f"targeted products use no limited resource, and the {len(reach)} capacities that limit them "
                f"are more than the {limit} the method prices at {n:,} products" if len(reach) > limit else
                "a targeted product uses no limited resource and no capacity, directly or indirectly")
    x, s, pi, mu, kappa, rounds, status = _search(st, resp, master, theta, limit, tol, deadline, progress)
    info = (f"{rounds} round(s), {len(master.pieces)} technique choice(s), "
            f"{len(master.caps)} priced capacit(ies)")
    # Row duals in HiGHS' convention for lp: balance rows pi (split with the floor's bound
    # row where a targeted product's floor binds), resources -mu, capacity rows -kappa.
    ydual = np.zeros(lp.shape[0])
    ydual[:n] = pi
    T = resp.T
    if layout.bound_rows.size:
        _, _, _, _, su = resp(pi)
        floor_binds = (su < resp.s_lo) & (resp.s_lo > -1.0)
        bal = np.where(floor_binds, resp.w * harmony_derivative(s) / resp.y, pi[T])
        ydual[T] = bal
        pos = np.full(n, -1, dtype=np.int64)
        pos[layout.bound_rows] = np.arange(layout.bound_rows.size)
        where = pos[T] >= 0
        ydual[layout.bound_start + pos[T][where]] = (pi[T] - bal)[where]
    ydual[layout.resource_start : layout.capacity_start] = -mu[layout.resource_rows]
    ydual[layout.capacity_start : layout.bound_start] = -kappa[layout.capacity_rows]
    v = np.concatenate([x, s])
    return st.solution(
        lp, v, ydual, status, start,
        f"Leontief harmony method: {info}, {st.policy_rounds} policy-iteration round(s), {st.solves} Leontief solves",
        rounds=rounds,
    )


def _search(st: _Structure, resp, master: _Master, theta: np.ndarray, limit: int, tol: float,
            deadline: float | None, progress=None):
    """Steps 1-4 of the module from prices ``theta``: rounds until a plan exceeds no capacity and
    uses what its prices say. Returns ``(x, s, pi, mu, kappa, rounds, status)``; raises
    :class:`NotApplicable` where the method cannot finish."""
    problem = st.problem
    n, m = problem.n, problem.m

    def judge(theta: np.ndarray):
        """The cheapest choice at ``theta`` (left in ``st.choice``), the true dual there and the
        model's, and whether the model is exact: the choice already collected, or the true dual
        not above the model's beyond the Leontief solves' own error."""
        mu, kappa = _prices(st, master, theta)
        pi = st.cheapest(_unit_costs(st, mu, kappa))
        true_D = (resp(pi)[0] + float(mu[st.limited] @ master.R)
                  + (float(kappa[master.caps] @ problem.capacity[master.caps]) if master.caps else 0.0)) / resp.wsum
        model_D = max(master.evaluate(pc, theta)[0] for pc in master.pieces)
        collected = any(np.array_equal(pc.choice, st.choice) for pc in master.pieces)
        exact = collected or true_D - model_D <= 1e-11 * (1.0 + abs(true_D))
        return mu, kappa, pi, true_D, model_D, exact

    rounds = 0
    status = LPStatus.ITERATION_LIMIT
    x = s = pi = None
    for rounds in range(1, MAX_ROUNDS + 1):
        theta = master.minimise(theta, deadline)
        if rounds == 1 and st.capped.size > limit:
            # Give up at once when the first plan (one choice, no capacity priced) exceeds
            # several times the capacities the method can price: those that bind at the end
            # are most of them (125 of the 122 + 8 priced at 2,000 products).
            d1 = master.evaluate(master.pieces[0], theta)[3]
            st.choice = master.pieces[0].choice.copy()
            g1 = np.asarray(st.plans(d1)).reshape(-1)
            exceeded = st.over_capacity(g1).size
            if exceeded > 4 * limit:
                raise NotApplicable(
                    f"{exceeded:,} capacities are exceeded by the plan without them, far more than the "
                    f"{limit} the method prices at {n:,} products"
                )
        mu, kappa, pi, true_D, model_D, exact = judge(theta)
        if progress is not None:
            progress(
                f"harmony round {rounds}: dual {true_D * resp.wsum:.10g}, model {model_D * resp.wsum:.10g}, "
                f"{len(master.pieces)} choice(s), {len(master.caps)} priced capacit(ies), {st.solves} Leontief solves"
            )
        if exact and len(master.pieces) > 1:
            # The combination may need choices just below the maximum, where the SQP leaves the
            # rows' use off its bound: polish theta on the min-max's optimality conditions, and
            # judge again (a choice cheaper still may show there).
            polished = master.polish(theta, deadline)
            if polished is not theta:
                theta = polished
                mu, kappa, pi, true_D, model_D, exact = judge(theta)
        if not exact:
            # The cheapest choice at these prices is not collected yet.
            master.add_piece(st.choice)
            if len(master.pieces) > MAX_PIECES:
                vals = [master.evaluate(pc, theta)[0] for pc in master.pieces]
                order = np.argsort(vals)[::-1][:MAX_PIECES]
                master.pieces = [master.pieces[k] for k in sorted(order)]
            if deadline is not None and time.perf_counter() > deadline:
                status = LPStatus.TIME_LIMIT
                break
            continue
        # The model is exact at theta: recover the plan.
        lam, evals = master.combination(theta)
        x = np.zeros(m)
        s = np.zeros(resp.T.size)
        gross = np.zeros(n)
        for k in np.flatnonzero(lam > 0):
            piece = master.pieces[k]
            _, _, _, d_k, s_k, _ = evals[k]
            st.choice = piece.choice.copy()
            G = np.asarray(st.plans(d_k)).reshape(-1)
            x[piece.choice] += lam[k] * G / st.out[piece.choice]
            gross += lam[k] * G
            s += lam[k] * s_k
        # Capacities the plan exceeds join the priced rows, and the master is solved again: its
        # prices then move, so how well this plan meets the priced rows says nothing yet (a plan
        # of 10^4 products whose last three capacities were still unpriced was given up here),
        # nor whether it uses all of its net imports.
        priced = set(master.caps)
        over = [int(c) for c in st.over_capacity(gross) if int(c) not in priced]
        if not over and resp.importing.any():
            # Negative demand (net imports) is met only while the plan uses at least that much.
            x = imports_within_use(st, x, resp.importing, 1e-12)
            gross = np.maximum(gross, 0.0)
        if not over:
            # The combination must use what the prices say (else the master did not converge).
            used = np.asarray(st.P_lim @ x).reshape(-1)
            if master.caps:
                used = np.concatenate([used, gross[np.asarray(master.caps)]])
            miss = (used - master.c) / (1.0 + np.abs(master.c))
            if miss.max(initial=0.0) > tol / 2:
                raise NotApplicable(f"the master's plan exceeds a resource or capacity by {miss.max():.1e} (relative)")
            # A priced row left short of its bound costs the gap its price times the shortfall
            # (theta is the row's rent in units of the whole harmony weight).
            idle = theta * np.maximum(-miss, 0.0)
            if idle.sum() > tol / 10 * (1.0 + abs(model_D)):
                raise NotApplicable(f"the master's prices are off: priced rows left short of their bounds "
                                    f"(rent {idle.sum():.1e} of the harmony weight)")
            status = LPStatus.OPTIMAL
            break
        if len(master.caps) + len(over) > limit:
            raise NotApplicable(
                f"{len(master.caps) + len(over)} capacities bind or are exceeded, more than the "
                f"{limit} the method prices at {n:,} products"
            )
        keep = [master.pieces[k] for k in np.flatnonzero(lam > 0)]
        master.add_caps(over, keep)
        theta = np.concatenate([theta, np.zeros(len(over))])
        x = None
        if deadline is not None and time.perf_counter() > deadline:
            status = LPStatus.TIME_LIMIT
            break
    if x is None:
        raise NotApplicable(f"no certified harmony plan after {rounds} round(s) ({status.value})")
    return x, s, pi, mu, kappa, rounds, status

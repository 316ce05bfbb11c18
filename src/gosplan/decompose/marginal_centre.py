"""The centre's side of ``coordination="marginal"`` (see :mod:`gosplan.decompose.marginal`):
Leontief solves over the marginal techniques, and the search for the largest ``z``."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gosplan.decompose.executors import payload_bytes
from gosplan.decompose.marginal import SupplyOrder, rents, requirements, supply_levels, supply_round
from gosplan.decompose.result import Round
from gosplan.results import Status

__all__ = ["MAX_INNER_ROUNDS", "SOLVE_TOL", "marginal_applicable", "run_marginal"]

MAX_INNER_ROUNDS = 60
"""Rounds of prices and quantities for one ``z`` before the fixed point is given up."""
SHORT_ROUNDS = 8
"""An inner fixed point with products short of capacity this many rounds running is given up (z too high)."""
MAX_SCARCITY_PRICES = 64
"""At most this many products short of capacity are priced for the capacity bound at once."""
KAPPA_START = 0.01
"""A product short of capacity first has its price raised by this share (its scarcity rent)."""
RENT_TOL = 0.02
"""Relative bracket at which a scarcity rent's bisection settles on its upper end."""
CYCLE_RETURNS = 2
"""Roles that come back more than this many times at one ``z`` with the split infeasible freeze
the prices (see ``inner`` in :func:`run_marginal`)."""
SOLVE_TOL = 1e-12
"""Relative residual of the centre's Leontief solves."""
MAX_IMPORT_PASSES = 50
"""Passes that settle which net imports cover all their product's use (:meth:`_Centre._imports`)."""


def marginal_applicable(base: Any, objective: str, economy: Any, hierarchy: Any) -> str:
    """``""`` when ``coordination="marginal"`` applies, otherwise why not."""
    if objective != "fulfilment":
        return "it plans the fulfilment objective only"
    if len(base.classes) > 1:
        return "it plans one priority class"
    limited = np.flatnonzero(np.isfinite(base.available))
    if limited.size != 1:
        return f"it needs exactly one limited resource (the plan limits {limited.size})"
    if np.isfinite(base.ceiling).any():
        return "ceilings on net output"
    # only the limited resource prices a technique (c_e = a_e . pi + p_e . w): the others'
    # coefficients, negative or not (uk-2015's taxes less subsidies), do not enter
    negative = base.negative_coefficient(resources=limited)
    if negative:
        return f"negative input or resource coefficients ({negative})"
    if (hierarchy.input_factor < 0).any() or (hierarchy.labour_factor < 0).any():
        return "negative enterprise factors"
    if hierarchy.norms is not None and (
        hierarchy.norms.inputs.data.min(initial=0.0) < 0 or hierarchy.norms.primary.data.min(initial=0.0) < 0
    ):
        return "negative own norms"
    return ""


def _floors(base: Any) -> np.ndarray:
    """``h``: what the plan needs besides ``z y`` (committed demand on targeted products, floors elsewhere)."""
    return np.where(base.target > 0, base.base, np.maximum(base.floor, base.base_floor))


@dataclass
class _Point:
    """The inner problem solved at one ``z``."""

    z: float
    feasible: bool  # the inner problem's optimum found (capacities suffice)
    labour: float = math.inf  # L(z)
    slope: float = math.nan  # pi . y
    short: np.ndarray | None = None  # products short of capacity (infeasible points)
    pi: np.ndarray | None = None
    g: np.ndarray | None = None
    x_m: np.ndarray | None = None
    products: Any = None  # the SupplyOrder whose roles made the plan


@dataclass
class _Centre:
    A: sp.csc_array
    P: sp.csc_array
    w: np.ndarray
    uncovered: np.ndarray
    system: Any = None
    solves: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    w_M: np.ndarray | None = None  # the last roles' labour per unit of each product

    def solve(self, req: dict[str, Any], d: np.ndarray, pinned: np.ndarray | None = None,
              fixed: np.ndarray | None = None, kappa: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, float, np.ndarray | None]:
        """Prices, the marginal enterprises' outputs, gross outputs and the labour used for the
        reported roles; and the pinned products' surplus (``None`` when none is pinned).
        The prices include the scarcity rents ``kappa`` when given (see :class:`_Rents`).

        With ``pinned`` (a mask over the products) those products' marginal outputs are held
        at ``fixed`` (their rows become inequalities: the product may be made in surplus), the
        others solved from the Leontief system of the rest, ``(I - A_M)[U, U]``; no prices
        are computed then (``None``)."""
        from gosplan.linalg.leontief import prepare, solve

        t0 = time.perf_counter()
        n = self.A.shape[0]
        A_M, w_M, unit = self._marginal(req)
        self.w_M = w_M
        rhs = d - req["S"] + self.A @ req["s_f"] + req["s_own_inputs"]
        surplus = None
        if pinned is None or not pinned.any():
            system = prepare(A_M)
            cost = w_M if kappa is None else w_M + kappa
            x, _ = solve(system, rhs, tol=SOLVE_TOL)
            self.system = system
            self.solves += 1
            imported, x, rest = self._imports(A_M, rhs, d, req["S"], x)
            if imported is None:
                pi, _ = solve(system, cost, transpose=True, tol=SOLVE_TOL)
            else:  # imported products are free (their rows slack): the rest priced among themselves
                pi = np.zeros(n)
                pi[~imported], _ = solve(rest, cost[~imported], transpose=True, tol=SOLVE_TOL)
            self.solves += 1
        else:
            pi = None
            free = np.flatnonzero(~pinned)
            x = np.where(pinned, fixed, 0.0)
            inner = sp.csr_array(A_M[free][:, free])
            x[free], _ = solve(prepare(inner), rhs[free] + A_M[free] @ x, tol=SOLVE_TOL)
            self.solves += 1
            # a pinned product's row as an inequality: made (x_j + S_j) at least what is used and wanted
            surplus = np.full(n, np.inf)
            surplus[pinned] = (x[pinned] - (A_M @ x)[pinned] - rhs[pinned]) / (1.0 + np.abs(d[pinned]))
        g = req["S"] + x
        labour = float(w_M @ x + unit @ req["s_h"] + req["s_own_primary"] @ self.w)
        self.seconds += time.perf_counter() - t0
        return pi, x, g, labour, surplus

    def _imports(self, A_M: sp.csr_array, rhs: np.ndarray, d: np.ndarray, S: np.ndarray, x: np.ndarray
                 ) -> tuple[np.ndarray | None, np.ndarray, Any]:
        """Products whose net import covers all their use at these roles.

        A product with ``d_i < 0`` (a negative floor or committed demand: a net import of up to
        ``-d_i``) whose gross output ``S_i + x_i = d_i + use_i`` comes out negative is imported
        in full: its marginal output is held at 0 and its row becomes an inequality (made at
        least what is used and wanted, ``S_i >= d_i + use_i``, with the saturated ones in
        surplus), so its price is 0 — producing it would cost labour that nothing needs. The
        other products are solved from ``(I - A_M)[U, U]``; a held product whose use grows
        past its import is made again, and a product that turns negative is held, until
        neither happens (:data:`MAX_IMPORT_PASSES`). Returns ``(mask or None, x, system of U)``."""
        from gosplan.linalg.leontief import prepare, solve

        negative = d < 0
        if not negative.any():
            return None, x, None
        tiny = 1e-10 * (1.0 + np.abs(d) + S)
        held = negative & (S + x < -tiny)
        if not held.any():
            return None, x, None
        n = d.size
        full, rest = x, None
        for _ in range(MAX_IMPORT_PASSES):
            keep = np.flatnonzero(~held)
            rest = prepare(sp.csr_array(A_M[keep][:, keep]))
            x = np.zeros(n)
            x[keep], _ = solve(rest, rhs[keep], tol=SOLVE_TOL)
            self.solves += 1
            needed = rhs + A_M @ x  # what a held product's marginal enterprise would have to make
            back = held & (needed > tiny)
            more = negative & ~held & (S + x < -tiny)
            if not back.any() and not more.any():
                break
            held = (held & ~back) | more
            if not held.any():
                return None, full, None
        else:  # unsettled: the plain solve, whose negative outputs the caller rejects
            return None, full, None
        return held, x, rest

    def _marginal(self, req: dict[str, Any]) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
        """``A_M`` (the marginal techniques' inputs by column), their labour ``w_M`` and the
        table's ``P_i . w``."""
        n = self.A.shape[0]
        prod = req["products"]
        fvec = np.ones(n)
        fvec[prod] = req["f"]
        hvec = np.ones(n)
        hvec[prod] = req["h"]
        A_M = self.A @ sp.diags_array(fvec)
        unit = np.asarray(self.P.T @ self.w)  # P_i . w
        w_M = hvec * unit
        if req["m_own_inputs"] is not None:
            own = req["m_own_inputs"].tocoo()
            A_M = A_M + sp.csc_array((own.data, (own.col, prod[own.row])), shape=(n, n))
            w_M[prod] += req["m_own_primary"] @ self.w
        return sp.csr_array(A_M), w_M, unit

    def direction(self, y: np.ndarray) -> np.ndarray:
        """``(I - A_M)^-1 y`` at the last roles: how gross outputs move with ``z``."""
        from gosplan.linalg.leontief import solve

        t0 = time.perf_counter()
        out, _ = solve(self.system, y, tol=SOLVE_TOL)
        self.solves += 1
        self.seconds += time.perf_counter() - t0
        return out


class _Rents:
    """Scarcity rents ``kappa`` on the prices of products short of capacity, so that their
    users turn to enterprises that need less of them (``pi = (I - A_M)^-T (w_M + kappa)``).

    A product short at a round gets at least ``KAPPA_START`` of its price, doubled while it
    stays short; once a rent is known at which it is not short, the rent is bisected between
    the largest one at which it was and the least one at which it was not (the rent at which
    the product is exactly at capacity: its price in the enterprise-level program), and
    settles on the upper end when the bracket is within ``RENT_TOL``. A product still short at
    that end rises again. While every short product is being bisected, the round does not
    count towards ``SHORT_ROUNDS``."""

    def __init__(self, kappa: np.ndarray) -> None:
        self.kappa = kappa
        self.lo = np.zeros(kappa.size)
        self.hi = np.full(kappa.size, np.inf)
        self.rising = False  # some short product's rent has not yet eased it

    def update(self, short: np.ndarray, pi: np.ndarray) -> bool:
        """One round's move (``short``: the products short at it); True when a rent changed."""
        is_short = np.zeros(self.kappa.size, dtype=bool)
        is_short[short] = True
        k = self.kappa
        self.hi[is_short & (k >= self.hi)] = np.inf  # short even at the rent that had eased it: rise again
        self.lo[is_short] = np.maximum(self.lo[is_short], k[is_short])
        eased = (k > 0) & ~is_short
        self.hi[eased] = np.minimum(self.hi[eased], k[eased])
        move = is_short | eased
        start = np.maximum(2 * k, KAPPA_START * np.abs(pi))
        # bisection; once the bracket is within RENT_TOL, the rent at which it was not short
        # (the roles then make a feasible plan; the exact rent needs two enterprises at the margin)
        mid = np.where(self.hi - self.lo <= RENT_TOL * self.hi, self.hi, 0.5 * (self.lo + self.hi))
        new = np.where(move, np.where(np.isfinite(self.hi), mid, start), k)
        changed = bool((new != k).any())
        self.kappa = new
        self.rising = bool(np.isinf(self.hi[is_short]).any())
        return changed


def run_marginal(*, base, A, P, uncovered, handles, ex, tol, max_rounds, deadline, say, rounds: list[Round],
                 hierarchy) -> dict[str, Any]:
    """The outer search over ``z`` with an inner fixed point per ``z`` (module
    :mod:`gosplan.decompose.marginal`). Returns the plan's figures and the ministries' states."""
    n = base.n
    limited = int(np.flatnonzero(np.isfinite(base.available))[0])
    R = float(base.available[limited])
    w = np.zeros(len(base.resources))
    w[limited] = 1.0
    y = np.where(base.target > 0, base.target, 0.0)
    h = _floors(base)
    centre = _Centre(A=A, P=P, w=w, uncovered=uncovered)
    # Start: the table's own techniques price everything; gross outputs for z = 1.
    from gosplan.linalg.leontief import prepare, solve

    table = prepare(sp.csr_array(A))
    pi, _ = solve(table, np.asarray(P.T @ w), transpose=True, tol=SOLVE_TOL)
    g, _ = solve(table, y + h, tol=SOLVE_TOL)
    g = np.maximum(g, 0.0)  # a net import larger than the product's use makes none of it
    z = 1.0
    best_bound = math.inf
    best_pi = None
    lo: _Point | None = None
    hi: _Point | None = None
    status, message = Status.ITERATION_LIMIT, ""
    inner_total = 0
    state = {"handles": handles, "pi": pi, "g": g, "kappa": np.zeros(n)}

    def bound_of(pi_: np.ndarray, rent: float) -> float:
        py = float(pi_ @ y)
        if not (py > 0) or (pi_ < 0).any():
            return math.inf
        return (R + rent - float(pi_ @ h)) / py

    def inner(z_: float) -> _Point:
        """The fixed point at ``z_``; stops when the roles settle or the plan's labour is within
        ``tol / 20`` (in units of z) of the inner problem's Lagrangian bound at the new prices.
        Products short of capacity get scarcity rents (:class:`_Rents`); roles that cycle with
        the split infeasible freeze the prices until a feasible plan is found (module
        :mod:`gosplan.decompose.marginal`)."""
        nonlocal best_bound, best_pi, inner_total
        d = z_ * y + h
        order = SupplyOrder(pi=state["pi"], w=w, g=state["g"])
        last = None  # (order that made the roles, x_M, g, labour, primal feasible, made under frozen prices)
        point = _Point(z_, False)
        short_for = 0
        seen: list[tuple] = []
        # Once the roles cycle with the split infeasible, the prices are frozen (the ordering no
        # longer moves) and only quantities move: a product whose marginal output would be
        # negative is *pinned*, made by its saturated enterprises alone (its gross output held
        # at theirs, in surplus: a kink of its supply curve), and the rest solved around it.
        frozen = False
        pinned = np.zeros(n, dtype=bool)
        held = np.zeros(n)
        history: dict[tuple, int] = {}  # how often each role signature came at this z
        rents = _Rents(state["kappa"])
        for it in range(MAX_INNER_ROUNDS):
            t1 = time.perf_counter()
            new_handles, reports = ex.step(supply_round, state["handles"], order)
            ministry_seconds = time.perf_counter() - t1
            state["handles"] = new_handles
            req = requirements(reports, n, len(w))
            seen = (seen + [req["signature"]])[-4:]
            bound = bound_of(order.pi, req["rent"])
            if bound < best_bound:
                best_bound, best_pi = bound, order.pi
            inner_total += 1
            done = False
            if last is not None and last[4]:
                made, x_m, g_, labour, _, repaired = last
                slope = float(order.pi @ y)
                inner_dual = float(order.pi @ d) - req["rent"]
                point = _Point(z_, True, labour=labour, slope=slope, pi=order.pi, g=g_, x_m=x_m, products=made)
                near = labour - inner_dual <= 0.05 * tol * max(z_, 1e-12) * slope
                if repaired:
                    # a plan made feasible under frozen prices (pinned products in surplus): final
                    # when close enough; else kept as this z's plan while the prices move again
                    done = near
                    if not done:
                        frozen = False
                        pinned[:] = False
                        history.clear()
                else:
                    # settled, or close enough, or cycling (roles of two rounds ago again: ties
                    # between enterprises; the plan is feasible, the outer search goes on from it)
                    done = req["changed"] == 0 or near or req["signature"] in seen[:-1]
            t2 = time.perf_counter()
            if not done:
                prod = req["products"]
                fixed = None
                if frozen and pinned.any():
                    cap = np.zeros(n)
                    cap[prod] = req["cap"]
                    fixed = np.clip(held - req["S"], 0.0, cap)
                # The rents move first, from the prices sent down this round (a new rent starts at
                # a share of them), so that the centre prices once, with the rents it reports.
                if not frozen and rents.update(req["short_products"], order.pi):
                    state["kappa"] = rents.kappa
                pi_, x, g_, labour, surplus = centre.solve(req, d, pinned if fixed is not None else None, fixed,
                                                           kappa=rents.kappa if rents.kappa.any() else None)
                x_m = x[prod]
                scale = 1.0 + np.abs(x_m)
                below = x_m < -1e-9 * scale
                ok = req["short"] == 0 and not below.any() and bool((x_m <= req["cap"] + 1e-9 * scale).all()) and (
                    surplus is None or bool((surplus >= -1e-9).all()))
                last = (order, x_m, g_, labour, ok, fixed is not None)
                point.short = req["short_products"]
                history[req["signature"]] = history.get(req["signature"], 0) + 1
                if not ok and not frozen and history[req["signature"]] > CYCLE_RETURNS:
                    frozen = True
                    say(f"z = {z_:.10g}: the roles cycle with the split infeasible; prices frozen, quantities move")
                if frozen:
                    if surplus is not None:
                        pinned &= surplus >= -1e-9  # short at the kink after all: free to grow again
                    pinned[prod[below]] = True
                    held[prod[below]] = req["S"][prod[below]]
                    g_ = np.where(pinned, held, g_)
                order = SupplyOrder(pi=order.pi if frozen else pi_, w=w, g=np.maximum(g_, 0.0))
            master_seconds = time.perf_counter() - t2
            rounds.append(Round(
                number=len(rounds) + 1, groups=2 * n, objective=lo.z if lo is not None else math.nan,
                bound=best_bound, gap=_gap(lo, best_bound), master_seconds=master_seconds,
                master_method="leontief", ministry_seconds=ministry_seconds, split=0, products_split=0,
                earning=req["changed"], bytes_down=payload_bytes(order) * len(reports),
                bytes_up=sum(payload_bytes(r) for r in reports), stage=f"z = {z_:.10g}, round {it + 1}",
            ))
            say(f"z = {z_:.10g}, inner round {it + 1}: {req['changed']:,} enterprises change role, "
                f"{req['short']:,} products short; bound {best_bound:.10g} [ministries {ministry_seconds:.2f} s, "
                f"centre {master_seconds:.2f} s]")
            if done:
                break
            # short rounds count while some rent still rises, not while rents are bisected
            short_for = short_for + 1 if req["short"] and (rents.rising or frozen) else 0
            if short_for >= SHORT_ROUNDS:
                break  # capacities cannot make d at these roles, round after round: infeasible z
            if deadline is not None and time.perf_counter() >= deadline:
                break
        state["pi"], state["g"] = order.pi, order.g
        return point

    def scarcity_bound(short: np.ndarray) -> float:
        nonlocal best_pi
        from gosplan.linalg.leontief import solve

        short = short[:MAX_SCARCITY_PRICES]
        E = np.zeros((n, short.size))
        E[short, np.arange(short.size)] = 1.0
        t0 = time.perf_counter()
        Pi, _ = solve(centre.system, E, transpose=True, tol=SOLVE_TOL)
        Pi = np.maximum(np.asarray(Pi).reshape(n, -1), 0.0)
        centre.solves += 1
        centre.seconds += time.perf_counter() - t0
        W = np.zeros((len(w), short.size))
        t1 = time.perf_counter()
        parts = ex.each(rents, state["handles"], (Pi, W))
        seconds = time.perf_counter() - t1
        rent = np.sum(parts, axis=0)
        py = y @ Pi
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(py > 0, (rent - h @ Pi) / py, np.inf)
        k = int(np.argmin(values))
        say(f"capacity prices of {short.size} short product(s): bound {values[k]:.10g} [ministries {seconds:.2f} s]")
        if values[k] < best_bound:
            best_pi = Pi[:, k]
        return float(values[k])

    for _ in range(max_rounds):
        point = inner(z)
        if point.feasible and point.labour <= R * (1 + 1e-12):
            if lo is None or point.z > lo.z:
                lo = point
        elif hi is None or point.z < hi.z:
            hi = point
        if not point.feasible and point.short is not None and point.short.size and centre.system is not None:
            # The plan ray stopped by capacities rather than labour: price each short product's
            # capacity alone (labour free), pi = (I - A_M)^-T e_j, and bound z with those prices.
            cand = scarcity_bound(point.short)
            best_bound = min(best_bound, cand)
        gap = _gap(lo, best_bound)
        if lo is not None and gap <= tol:
            status = Status.OPTIMAL
            message = (f"two-level plan (marginal enterprises): z within {gap:.1e} of the certified bound "
                       f"after {inner_total} round(s)")
            break
        if deadline is not None and time.perf_counter() >= deadline:
            status, message = Status.TIME_LIMIT, f"time limit; gap {gap:.2e}"
            break
        if lo is None and z <= 1e-9:
            status, message = Status.INFEASIBLE, "no plan found even for z near 0: the floors exceed what the " \
                "enterprises' capacities or the limited resource allow"
            break
        z = _next_z(lo, hi, best_bound, R, tol)
        if z is None:
            status = Status.ITERATION_LIMIT
            message = (f"the bound stays {gap:.2e} above the best plan: the plan ray is stopped by capacities "
                       "whose prices this scheme does not find (one short product's capacity alone, or labour, "
                       "does not certify it); coordination='aggregation' does")
            break
        # warm start: move the gross outputs along the marginal techniques' ray
        if centre.system is not None and state["g"] is not None:
            state["g"] = np.maximum(state["g"] + (z - point.z) * centre.direction(y), 0.0)
    else:
        message = f"{max_rounds} values of z without reaching tol {tol:g}; gap {_gap(lo, best_bound):.2e}"
    x_e = np.zeros(hierarchy.n_enterprises)
    if lo is not None:
        order = lo.products  # the order whose roles made lo's plan
        # each ministry's marginal outputs, by its products
        prods = ex.each(_products_of, state["handles"], None)
        x_full = np.zeros(n)
        x_full[np.concatenate(prods)] = lo.x_m
        args = [(order, x_full[p]) for p in prods]
        for positions, x in ex.map(supply_levels, state["handles"], args):
            x_e[positions] = x
    return {
        "status": status, "message": message, "objective": lo.z if lo is not None else math.nan,
        "bound": best_bound, "gap": _gap(lo, best_bound), "x_e": x_e, "gross": None if lo is None else lo.g,
        "prices": best_pi, "handles": state["handles"], "leontief_solves": centre.solves,
        "centre_seconds": centre.seconds,
    }


def _products_of(state: Any, _: Any) -> np.ndarray:
    return state.data.products


def _gap(lo: _Point | None, bound: float) -> float:
    if lo is None or not math.isfinite(bound):
        return math.inf
    return max(bound - lo.z, 0.0) / max(abs(bound), abs(lo.z), 1e-12)


def _next_z(lo: _Point | None, hi: _Point | None, bound: float, R: float, tol: float) -> float | None:
    """The next ``z``: the secant between the best feasible and the least infeasible point
    (feasible by convexity of ``L``) when both are known, else the certified bound (Newton's
    step from below), else a step down from an infeasible point."""
    if lo is not None and hi is not None:
        if hi.z - lo.z <= 1e-3 * tol * max(lo.z, 1e-12):
            return None  # the feasible and the infeasible z meet: nothing left to search
        if hi.feasible and math.isfinite(hi.labour) and hi.labour > lo.labour:
            z = lo.z + (R - lo.labour) * (hi.z - lo.z) / (hi.labour - lo.labour)
        else:
            # short of capacity at hi: the capacity prices' bound is usually tight; try just below it
            z = max(0.5 * (lo.z + hi.z), bound * (1 - tol / 2))
        z = min(z, bound)
        if not (lo.z < z < hi.z):
            z = 0.5 * (lo.z + min(hi.z, bound))
        return z if z > lo.z else None
    if lo is not None:
        return bound if math.isfinite(bound) and bound > lo.z else None
    if hi is not None:
        if hi.feasible and math.isfinite(hi.labour) and hi.slope > 0:
            # Where the chord from (0, 0) reaches R (below z* when no floors hold labour at z = 0).
            return hi.z * R / hi.labour
        return 0.5 * hi.z
    return None

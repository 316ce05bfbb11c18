r"""Consumer-goods markets: the Fisher market that clears them, and sales at fixed prices.

Notation as in :mod:`gosplan.model.households`: groups ``h`` with budgets ``B_h``, CES
elasticities ``sigma_h > 0`` and weights ``a_hj`` over the consumer goods ``j``; supply ``s_j``.
At prices ``p`` group ``h`` demands

.. math::

    c_{hj}(p) = B_h a_{hj} p_j^{-\sigma_h} \Big/ \sum_k a_{hk} p_k^{1-\sigma_h}.

:func:`clear` finds the prices at which ``sum_h c_hj(p) = s_j`` for every good at once (the
Fisher market; its equilibrium is the solution of the Eisenberg--Gale program
``max sum_h B_h log u_h(c_h)`` s.t. ``sum_h c_h <= s``, the prices its duals). It minimises the
convex dual

.. math::

    f(p) = \sum_j s_j p_j - \sum_h B_h \log e_h(p), \qquad \nabla f = s - D(p),

``e_h`` the unit expenditure function (price index), by damped Newton--CG: the Hessian is
``diag(sum_h sigma_h c_hj / p_j) + C' diag((1 - sigma_h) / B_h) C`` (``C`` the consumption
matrix), positive definite, and after the Jacobi scaling its condition number is at most
``max(1, max sigma_h) / min(1, min sigma_h)`` (25 for sigma in [0.2, 5]), so that conjugate
gradients need few products with ``C`` and ``C'`` (sparse, over the preferences' nonzeros). A
step moves the log prices (``p <- p exp(alpha y)``), backtracking until ``f`` decreases enough
(Armijo), so that the method converges for every ``sigma`` in ``(0, inf)``; near the solution it
takes full steps and converges quadratically. Cobb--Douglas markets (every ``sigma_h = 1``) are
solved by the starting point ``p_j = sum_h B_h a_hj / s_j`` itself.

:func:`sell_at_fixed_prices` sells the supply at prices the centre fixed (Kornai's shortage
economy): rationing of scarce goods, queues, unsold stock, forced saving and a hidden market for
the goods diverted from the shops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan._jit import njit
from gosplan.errors import ConvergenceError, InvalidEconomyError, Location
from gosplan.model.households import Households

__all__ = ["Market", "FixedPriceSale", "clear", "demand", "sell_at_fixed_prices"]

METHOD = "newton-cg"


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Market:
    """A cleared consumer-goods market (:func:`clear`).

    Attributes
    ----------
    prices:
        ``p`` (``G``) in the budgets' units. ``NaN`` for a good with zero supply (not on
        sale), ``0`` for a good with supply that no group with money wants (all unsold).
    consumption:
        ``c`` (``H x G``, CSR with the sparsity of ``households.weights``): what each group buys.
    spending:
        ``sum_j p_j c_hj`` (``H``): the budget of every group that can buy something, ``0`` for a
        group with zero budget or with no good on sale among its preferences.
    unsold:
        ``G``: the supply of goods with price 0, else 0.
    excess:
        ``max_j |sum_h c_hj - s_j| / s_j`` over the goods with a positive price, recomputed from
        scratch from :attr:`prices` (not taken from the iteration).
    iterations:
        Newton steps (0 when the starting point already cleared the market, as for
        Cobb--Douglas preferences).
    cg_iterations:
        Conjugate-gradient iterations over all Newton steps (each one product with ``C`` and
        one with ``C'``).
    evaluations:
        Evaluations of the demand (one per trial point of the line searches, plus the start).
    seconds:
        Wall time of the whole call.
    method:
        ``"newton-cg"`` (or ``"none"`` when nothing could be sold).
    goods, groups:
        The labels of ``G`` and ``H``.
    """

    prices: np.ndarray
    consumption: sp.csr_array
    spending: np.ndarray
    unsold: np.ndarray
    excess: float
    iterations: int
    cg_iterations: int
    evaluations: int
    seconds: float
    method: str
    goods: pd.Index
    groups: pd.Index

    @property
    def sold(self) -> np.ndarray:
        """``sum_h c_hj`` (``G``)."""
        return np.asarray(self.consumption.sum(axis=0)).reshape(-1)


@dataclass(frozen=True, eq=False)
class FixedPriceSale:
    """The supply sold at fixed prices (:func:`sell_at_fixed_prices`). ``H x G`` arrays are CSR
    with the sparsity of ``households.weights``; quantities in the goods' units, money in the
    budgets' units.

    Attributes
    ----------
    prices:
        The fixed prices ``p`` (``G``).
    notional:
        ``D_hj``: demand at the fixed prices with the full budgets.
    official:
        What each group got in the official shops.
    hidden:
        What each group bought on the hidden market.
    hidden_prices:
        ``G``: the prices that cleared the hidden market, ``NaN`` where nothing was diverted
        (``0`` for a diverted good nobody had money left for: it stays unsold there).
    diverted:
        ``G``: supply diverted from the shops before they opened (``diversion * s_j`` for a
        scarce good, else 0).
    queue:
        ``G``: notional demand the official shops did not serve (``sum_h D_hj - official_j``).
    excess_demand:
        ``G``, signed: ``sum_h D_hj - s_j`` (positive: scarce).
    unsold:
        ``G``: stock left in the official shops (``s_j - sum_h D_hj`` for a good that is not
        scarce, else 0).
    forced_saving:
        ``H``: budget the official shops could not take (the monetary overhang).
    hidden_budget:
        ``H``: what each group brings to the hidden market: the fixed-price value of its unserved
        demand for rationed goods (equal to its forced saving, up to rounding).
    unspent:
        ``H``: budget left after the hidden market.
    hidden_turnover:
        Money spent on the hidden market.
    hidden_premium:
        Turnover-weighted mean of ``hidden price / fixed price - 1`` (``NaN`` without turnover).
    hidden_share:
        ``turnover / (official spending + turnover)``: the hidden market's share of spending.
    diversion:
        The share of a scarce good's supply diverted (the ``hidden_share`` argument).
    market:
        The hidden :class:`Market`, or ``None`` when there was none.
    """

    prices: np.ndarray
    notional: sp.csr_array
    official: sp.csr_array
    hidden: sp.csr_array
    hidden_prices: np.ndarray
    diverted: np.ndarray
    queue: np.ndarray
    excess_demand: np.ndarray
    unsold: np.ndarray
    forced_saving: np.ndarray
    hidden_budget: np.ndarray
    unspent: np.ndarray
    hidden_turnover: float
    hidden_premium: float
    hidden_share: float
    diversion: float
    market: Market | None
    goods: pd.Index
    groups: pd.Index

    @property
    def scarce(self) -> np.ndarray:
        """``G`` booleans: notional demand above supply."""
        return self.excess_demand > 0

    @property
    def official_spending(self) -> np.ndarray:
        """``H``: ``sum_j p_j official_hj``."""
        return self.official @ self.prices

    @property
    def hidden_spending(self) -> np.ndarray:
        """``H``: money each group spent on the hidden market."""
        if self.market is None:
            return np.zeros(len(self.groups))
        return self.market.spending


# ---------------------------------------------------------------------------- kernels
@njit
def _spend(indptr, c, w, lp, k, near, b, x, spent, loge):  # pragma: no cover - numba
    """Spending ``x_hj = b_h a_hj p_j^(1-sigma_h) / sum_k a_hk p_k^(1-sigma_h)`` on the CSR
    entries (each row scaled by its weighted mean log price ``m_h``), ``spent_j = sum_h x_hj``
    and ``log e_h``."""
    spent[:] = 0.0
    for h in range(indptr.size - 1):
        lo, hi = indptr[h], indptr[h + 1]
        if lo == hi:
            loge[h] = 0.0
            continue
        m = 0.0
        for e in range(lo, hi):
            m += w[e] * lp[c[e]]
        kh = k[h]
        S = 0.0
        S1 = 0.0
        for e in range(lo, hi):
            arg = kh * (lp[c[e]] - m)
            v = w[e] * np.exp(arg)
            x[e] = v
            S += v
            if near[h]:
                S1 += w[e] * np.expm1(arg)
        scale = b[h] / S
        for e in range(lo, hi):
            x[e] *= scale
            spent[c[e]] += x[e]
        if kh == 0.0:
            loge[h] = m
        elif near[h]:
            loge[h] = m + np.log1p(S1) / kh
        else:
            loge[h] = m + np.log(S) / kh


@njit
def _curvature(indptr, c, x, sigma, wgt, d, diag):  # pragma: no cover - numba
    """``d_j = sum_h sigma_h x_hj`` and the diagonal of the scaled Hessian."""
    d[:] = 0.0
    diag[:] = 0.0
    for h in range(indptr.size - 1):
        for e in range(indptr[h], indptr[h + 1]):
            j = c[e]
            d[j] += sigma[h] * x[e]
            diag[j] += wgt[h] * x[e] * x[e]
    for j in range(d.size):
        diag[j] += d[j]


@njit
def _hess(indptr, c, x, wgt, d, v, out):  # pragma: no cover - numba
    """``out = d v + X' diag(wgt) X v`` (``X`` the spending matrix on the CSR entries)."""
    for j in range(d.size):
        out[j] = d[j] * v[j]
    for h in range(indptr.size - 1):
        lo, hi = indptr[h], indptr[h + 1]
        t = 0.0
        for e in range(lo, hi):
            t += x[e] * v[c[e]]
        t *= wgt[h]
        if t != 0.0:
            for e in range(lo, hi):
                out[c[e]] += x[e] * t


# ---------------------------------------------------------------------------- validation
def _vector(values, n: int, what: str, labels: pd.Index, key: str, *, positive: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidEconomyError(f"{what} is not numeric: {exc}") from None
    if arr.shape != (n,):
        raise InvalidEconomyError(f"{what} has {arr.size} entries for {n} {key}s")
    bad = np.flatnonzero(~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0)))
    if bad.size:
        i = bad[0]
        rule = "> 0" if positive else ">= 0"
        raise InvalidEconomyError(
            f"{what} {float(arr[i])!r} must be finite and {rule}",
            Location(product=str(labels[i]), key=key),
        )
    return arr


def _check(households: Households) -> None:
    if not isinstance(households, Households):
        raise InvalidEconomyError(f"expected Households, got {type(households).__name__}")


# ---------------------------------------------------------------------------- demand
def _entries(households: Households) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = households.weights
    rows = np.repeat(np.arange(households.H), np.diff(a.indptr))
    return rows, a.indices.astype(np.int64, copy=False), a.data


def _demand_data(households: Households, prices: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """``c_hj`` on the nonzeros of the weights, from the textbook formula: goods whose price is
    NaN are not on sale; a row's terms are scaled by its largest ``p^(1-sigma)`` (no overflow)."""
    rows, cols, w = _entries(households)
    H = households.H
    sig = households.elasticity[rows]
    lp_all = np.full(prices.shape, np.nan)
    pos = prices > 0
    lp_all[pos] = np.log(prices[pos])
    lp = lp_all[cols]
    use = (prices[cols] > 0) & (budgets[rows] > 0)
    out = np.zeros(rows.size)
    if not use.any():
        return out
    r, lpu, wu, su = rows[use], lp[use], w[use], sig[use]
    expo = (1.0 - su) * lpu
    top = np.full(H, -np.inf)
    np.maximum.at(top, r, expo)
    S = np.bincount(r, weights=wu * np.exp(expo - top[r]), minlength=H)
    # c = B a p^-sigma / (exp(top) * S)
    out[use] = budgets[r] * wu * np.exp(-su * lpu - top[r]) / S[r]
    return out


def demand(households: Households, prices, budgets) -> sp.csr_array:
    """CES demand ``c_hj`` (``H x G``, CSR with the sparsity of the weights) at ``prices``
    (``G``) with ``budgets`` (``H``). A good whose price is NaN is not on sale (the demand is
    over the other goods); a group with zero budget, or with no good on sale, buys nothing."""
    _check(households)
    p = np.asarray(prices, dtype=np.float64).reshape(-1)
    if p.shape != (households.G,):
        raise InvalidEconomyError(f"prices has {p.size} entries for {households.G} consumer goods")
    B = _vector(budgets, households.H, "budget", households.groups, "household")
    bad = np.flatnonzero(~np.isnan(p) & ~(p > 0) | np.isinf(p))
    if bad.size:
        j = bad[0]
        raise InvalidEconomyError(
            f"price {float(p[j])!r} must be finite and > 0 (or NaN: not on sale)",
            Location(product=str(households.goods[j])),
        )
    a = households.weights
    return sp.csr_array((_demand_data(households, p, B), a.indices.copy(), a.indptr.copy()), shape=a.shape)


# ---------------------------------------------------------------------------- the Fisher market
class _Market:
    """The active part of a Fisher market: groups with money and goods on sale that someone
    with money wants; budgets normalised to sum 1 (prices to match)."""

    def __init__(self, households: Households, s: np.ndarray, B: np.ndarray):
        rows, cols, w = _entries(households)
        H = households.H
        avail = s[cols] > 0
        has = np.bincount(rows[avail], minlength=H) > 0
        self.group_active = has & (B > 0)
        act = avail & self.group_active[rows]
        self.good_active = np.bincount(cols[act], minlength=households.G) > 0
        self.goods = np.flatnonzero(self.good_active)
        n = self.goods.size
        remap = np.full(households.G, -1, dtype=np.int64)
        remap[self.goods] = np.arange(n)
        self.r = rows[act]
        self.c = remap[cols[act]]
        w = w[act]
        self.w = w / np.bincount(self.r, weights=w, minlength=H)[self.r]
        self.total = float(B[self.group_active].sum())
        self.b = np.where(self.group_active, B / self.total if self.total > 0 else 0.0, 0.0)
        self.s = s[self.goods]
        sigma = households.elasticity
        self.sigma = sigma
        self.k = 1.0 - sigma
        self.b_r = self.b[self.r]
        with np.errstate(divide="ignore"):
            self.wgt = np.where(self.group_active, self.k / np.where(self.b > 0, self.b, 1.0), 0.0)
        self.k = np.where(np.abs(self.k) < 1e-12, 0.0, self.k)
        self.near = (np.abs(self.k) < 1e-2) & (self.k != 0.0)
        self.H, self.n = H, n
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(self.r, minlength=H))]).astype(np.int64)
        self.c = self.c.astype(np.int64)
        self._x = (np.empty(self.r.size), np.empty(self.r.size))  # the accepted point's and a trial's
        self._loge = np.empty(H)
        self.evaluations = 0

    def start(self) -> np.ndarray:
        """Log prices of the Cobb--Douglas market ``p_j = sum_h b_h a_hj / s_j`` (exact there)."""
        return np.log(np.bincount(self.c, weights=self.b_r * self.w, minlength=self.n) / self.s)

    def evaluate(self, lp: np.ndarray, slot: int = 0):
        """Spending ``x_hj`` (on the active entries), ``sum_h x_hj``, ``f`` and the relative
        excess ``max_j |D_j - s_j| / s_j``."""
        self.evaluations += 1
        x, spent, loge = self._x[slot], np.empty(self.n), self._loge
        _spend(self.indptr, self.c, self.w, lp, self.k, self.near, self.b, x, spent, loge)
        p = np.exp(lp)
        ps = p * self.s
        f = float(ps.sum() - self.b @ loge)
        rel = float(np.max(np.abs(spent / ps - 1.0))) if self.n else 0.0
        return x, spent, ps, f, rel

    def newton(self, lp: np.ndarray, tol: float, max_iter: int):
        slot = 0
        x, spent, ps, f, rel = self.evaluate(lp, slot)
        iters = cg_total = 0
        d, diag, Hv = np.empty(self.n), np.empty(self.n), np.empty(self.n)
        while rel > tol:
            if iters >= max_iter:
                err = ConvergenceError(
                    f"the consumer-goods market did not clear in {max_iter} Newton steps: "
                    f"relative excess {rel:.3g} > tol {tol:.3g}"
                )
                err.residual = rel  # type: ignore[attr-defined]
                raise err
            iters += 1
            g = ps - spent  # gradient of f in the scaled variables y = dp / p
            _curvature(self.indptr, self.c, x, self.sigma, self.wgt, d, diag)

            def hess(v: np.ndarray, x=x) -> np.ndarray:
                _hess(self.indptr, self.c, x, self.wgt, d, v, Hv)
                return Hv

            # Newton on log D(p) = log s in log prices: the same (scaled) Hessian, the
            # right-hand side spent * log(spent / ps) (= -g to first order), which takes long
            # steps where demand is far above or below supply; the p-space Newton step (-g)
            # or the scaled gradient when it is not a descent direction of f
            eta = min(0.1, rel)
            with np.errstate(divide="ignore"):
                rhs = spent * np.log(spent / ps)
            y, it = _pcg(hess, rhs, diag, eta, 200)
            cg_total += it
            slope = float(g @ y)
            if not (slope < 0 and np.isfinite(slope)):
                y, it = _pcg(hess, -g, diag, eta, 200)
                cg_total += it
                slope = float(g @ y)
            if not slope < 0:
                y = -g / diag
                slope = float(g @ y)
            alpha = min(1.0, 5.0 / max(float(np.max(np.abs(y))), 1e-300))
            slack = 1e-13 * (1.0 + abs(f))
            for _ in range(60):
                lp_new = lp + alpha * y
                x_n, spent_n, ps_n, f_n, rel_n = self.evaluate(lp_new, 1 - slot)
                if f_n <= f + 1e-4 * alpha * slope + slack:
                    break
                alpha *= 0.5
            else:
                err = ConvergenceError(
                    f"the consumer-goods market's line search failed: relative excess {rel:.3g} > tol {tol:.3g}"
                )
                err.residual = rel  # type: ignore[attr-defined]
                raise err
            lp, x, spent, ps, f, rel = lp_new, x_n, spent_n, ps_n, f_n, rel_n
            slot = 1 - slot
        return lp, iters, cg_total


def _pcg(hess, rhs: np.ndarray, diag: np.ndarray, rtol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Jacobi-preconditioned conjugate gradients for ``hess(y) = rhs`` from ``y = 0``."""
    y = np.zeros_like(rhs)
    r = rhs.copy()
    z = r / diag
    q = z.copy()
    rz = float(r @ z)
    stop = rtol * float(np.max(np.abs(z)))  # in the max norm: every good's relative step
    for it in range(1, max_iter + 1):
        Hq = hess(q)
        qHq = float(q @ Hq)
        if not qHq > 0:
            return y, it
        step = rz / qHq
        y += step * q
        r -= step * Hq
        z = r / diag
        if float(np.max(np.abs(z))) <= stop:
            return y, it
        rz_new = float(r @ z)
        q = z + (rz_new / rz) * q
        rz = rz_new
    return y, max_iter


def clear(
    households: Households,
    supply,
    budgets,
    *,
    tol: float = 1e-10,
    max_iter: int = 200,
    prices0=None,
) -> Market:
    """The prices that clear every consumer-good market at once, and what each group buys.

    A Fisher market: groups with budgets ``B`` (``H``) and CES preferences (``households``)
    buy the supply ``s`` (``G``, aligned with ``households.goods``) at the prices ``p`` at which
    ``sum_h c_hj(p) = s_j`` for every good, with
    ``c_hj(p) = B_h a_hj p_j^-sigma_h / sum_k a_hk p_k^(1-sigma_h)``.

    Conventions:

    - a good with zero supply is not on sale: it leaves every group's choice set (price NaN,
      consumption 0), and the CES demand is over the remaining goods;
    - a good with supply but no buyer (every group with weight on it has zero budget, or none
      has weight) has price 0 and is all unsold;
    - a group with zero budget buys nothing; so does a group none of whose goods is on sale
      (its budget is then not spent: :attr:`Market.spending` is 0);
    - prices are in the budgets' units and Walras' law holds:
      ``sum_j p_j s_j = sum_h spending_h`` (the sum of the budgets of the groups that buy).

    Parameters
    ----------
    households:
        The groups and their preferences (their own ``budget`` is not used).
    supply:
        ``s`` (``G``), finite and ``>= 0``.
    budgets:
        ``B`` (``H``), finite and ``>= 0``.
    tol:
        Relative clearing: stop when ``max_j |sum_h c_hj - s_j| / s_j <= tol``.
    max_iter:
        Newton steps before :class:`~gosplan.errors.ConvergenceError`.
    prices0:
        Starting prices (``G``; only the entries of goods on sale are used, positive); default the
        Cobb--Douglas prices ``sum_h B_h a_hj / s_j``.

    Raises
    ------
    InvalidEconomyError
        ``supply`` or ``budgets`` of the wrong length, negative or not finite (the message names
        the good or group and the value).
    ConvergenceError
        Not cleared to ``tol`` within ``max_iter`` steps; ``.residual`` is the excess reached.
    """
    start = time.perf_counter()
    _check(households)
    s = _vector(supply, households.G, "supply", households.goods, "consumer good")
    B = _vector(budgets, households.H, "budget", households.groups, "household")
    if not (tol > 0):
        raise InvalidEconomyError(f"tol must be > 0, got {tol!r}")
    if int(max_iter) < 0:
        raise InvalidEconomyError(f"max_iter must be >= 0, got {max_iter!r}")
    mk = _Market(households, s, B)
    prices = np.where(s > 0, 0.0, np.nan)
    iters = cg = 0
    method = "none"
    if mk.n:
        method = METHOD
        if prices0 is not None:
            p0 = np.asarray(prices0, dtype=np.float64).reshape(-1)
            if p0.shape != (households.G,):
                raise InvalidEconomyError(f"prices0 has {p0.size} entries for {households.G} consumer goods")
            p0 = p0[mk.goods]
            bad = np.flatnonzero(~(np.isfinite(p0) & (p0 > 0)))
            if bad.size:
                j = mk.goods[bad[0]]
                raise InvalidEconomyError(
                    f"starting price {float(p0[bad[0]])!r} must be finite and > 0",
                    Location(product=str(households.goods[j])),
                )
            lp0 = np.log(p0 / mk.total)
        else:
            lp0 = mk.start()
        lp, iters, cg = mk.newton(lp0, float(tol), int(max_iter))
        prices[mk.goods] = mk.total * np.exp(lp)
    # the check, from scratch
    data = _demand_data(households, prices, B)
    a = households.weights
    consumption = sp.csr_array((data, a.indices.copy(), a.indptr.copy()), shape=a.shape)
    sold = np.bincount(a.indices, weights=data, minlength=households.G)
    priced = prices > 0
    excess = float(np.max(np.abs(sold[priced] - s[priced]) / s[priced])) if priced.any() else 0.0
    spending = consumption @ np.nan_to_num(prices)
    unsold = np.where(prices == 0, s, 0.0)
    return Market(
        prices=prices,
        consumption=consumption,
        spending=spending,
        unsold=unsold,
        excess=excess,
        iterations=iters,
        cg_iterations=cg,
        evaluations=mk.evaluations,
        seconds=time.perf_counter() - start,
        method=method,
        goods=households.goods,
        groups=households.groups,
    )


# ---------------------------------------------------------------------------- fixed prices
def sell_at_fixed_prices(
    households: Households,
    supply,
    budgets,
    prices,
    *,
    hidden_share: float = 0.1,
    tol: float = 1e-10,
) -> FixedPriceSale:
    """Sell the supply at prices fixed by the centre (Kornai's shortage economy).

    1. Notional demand ``D_hj``: the CES demand at the fixed prices ``p`` with the full budgets
       (over every good, also those with zero supply: the shelves are empty, the wish is not).
    2. For each scarce good (``sum_h D_hj > s_j``) a share ``hidden_share`` of its supply is
       diverted before the shops open.
    3. The official shops sell at ``p``: a good that is not scarce serves everyone's demand and
       the rest of its supply is unsold stock; a scarce good's remaining supply
       ``(1 - hidden_share) s_j`` is rationed in proportion to demand (group ``h`` gets
       ``remaining_j D_hj / sum_k D_kj``). The unserved demand is the queue.
    4. The money the official shops could not take is each group's forced saving (monetary
       overhang): ``B_h - sum_j p_j official_hj``.
    5. The hidden market: the diverted goods are sold at the prices that clear them (a Fisher
       market, :func:`clear`, with the CES demand restricted to the diverted goods) to the money
       each group could not spend on scarce goods, ``sum_{j scarce} p_j (D_hj - official_hj)``.

    ``official + diverted + unsold = supply`` for every good and
    ``official spending + hidden spending + unspent = budget`` for every group (to rounding).
    ``hidden_share = 0`` means no hidden market.

    Parameters
    ----------
    households, supply, budgets:
        As for :func:`clear`.
    prices:
        The fixed prices (``G``), finite and positive.
    hidden_share:
        Share of a scarce good's supply diverted, in ``[0, 1]``.
    tol:
        The hidden market's clearing tolerance.
    """
    _check(households)
    G, H = households.G, households.H
    s = _vector(supply, G, "supply", households.goods, "consumer good")
    B = _vector(budgets, H, "budget", households.groups, "household")
    p = _vector(prices, G, "price", households.goods, "consumer good", positive=True)
    share = float(hidden_share)
    if not (0.0 <= share <= 1.0):
        raise InvalidEconomyError(f"hidden_share must be in [0, 1], got {hidden_share!r}")
    a = households.weights
    cols = a.indices
    rows = np.repeat(np.arange(H), np.diff(a.indptr))

    def csr(data: np.ndarray) -> sp.csr_array:
        return sp.csr_array((data, a.indices.copy(), a.indptr.copy()), shape=a.shape)

    D = _demand_data(households, p, B)  # step 1
    total = np.bincount(cols, weights=D, minlength=G)
    excess_demand = total - s
    scarce = excess_demand > 0
    diverted = np.where(scarce, share * s, 0.0)  # step 2
    remaining = s - diverted
    ratio = np.ones(G)
    ratio[scarce] = remaining[scarce] / total[scarce]  # step 3
    official = D * ratio[cols]
    served = np.bincount(cols, weights=official, minlength=G)
    queue = total - served
    unsold = np.where(scarce, 0.0, s - total)
    spent = np.bincount(rows, weights=official * p[cols], minlength=H)
    forced = B - spent  # step 4
    short = scarce[cols]
    hidden_budget = np.bincount(rows[short], weights=(p[cols] * (D - official))[short], minlength=H)
    hidden_budget = np.maximum(hidden_budget, 0.0)
    market = None
    hidden = np.zeros(rows.size)
    hidden_prices = np.full(G, np.nan)
    hidden_spent = np.zeros(H)
    if share > 0 and diverted.any() and hidden_budget.any():  # step 5
        market = clear(households, diverted, hidden_budget, tol=tol)
        hidden = market.consumption.data
        hidden_prices = market.prices
        hidden_spent = market.spending
    turnover_j = np.bincount(cols, weights=hidden, minlength=G) * np.nan_to_num(hidden_prices)
    turnover = float(turnover_j.sum())
    premium = float(turnover_j @ (np.nan_to_num(hidden_prices) / p - 1.0) / turnover) if turnover > 0 else float("nan")
    official_total = float(spent.sum())
    share_out = turnover / (official_total + turnover) if official_total + turnover > 0 else 0.0
    return FixedPriceSale(
        prices=p,
        notional=csr(D),
        official=csr(official),
        hidden=csr(hidden),
        hidden_prices=hidden_prices,
        diverted=diverted,
        queue=queue,
        excess_demand=excess_demand,
        unsold=unsold,
        forced_saving=forced,
        hidden_budget=hidden_budget,
        unspent=forced - hidden_spent,
        hidden_turnover=turnover,
        hidden_premium=premium,
        hidden_share=share_out,
        diversion=share,
        market=market,
        goods=households.goods,
        groups=households.groups,
    )

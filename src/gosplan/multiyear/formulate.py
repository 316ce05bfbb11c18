"""The multi-year plan as one sparse program (Cockshott's N-year model, compactly).

For years ``t = 1..T``, activities ``j``, products ``i`` and capital stocks
``k = (i, j)`` with ``K[i, j] > 0`` (``rho_k = 1 - delta_k``, ``b_k = K_k / x0_j``):

* columns, year by year: activity levels ``x_t`` (``m``), the year's objective
  variables (the plan ray ``z_t``, or for ``harmony`` the deviations
  ``s_it = c_it / target_it - 1`` of its targeted products), and investment
  ``acc_{k,t}`` in every stock (years ``1..T-1``; year ``T`` too under a terminal
  condition: investment in the last year only matters for the stocks left after the plan);
* **balance** of product ``i`` in year ``t``:
  ``c_it = (O - U)_i x_t - sum_{k: i(k) = i} acc_{k,t} >= target_it z_t`` (``>= 0`` for
  products without a target; ``= target_it (1 + s_it)`` and ``s_it >= -1`` under
  harmony);
* **labour** ``l x_t <= L_t``;
* **capital** ``b_k x_{j(k),t} <= S_{k,t} = rho_k^(t-1) K_k + sum_{s<t} rho_k^(t-1-s) acc_{k,s}``:
  Cockshott's stock recursion ``S_{k,1} <= K_k``, ``S_{k,t+1} <= S_{k,t} + acc_{k,t} -
  delta_k S_{k,t}`` with the stocks substituted (the same feasible plans; a stock kept
  below what is available never helps);
* **growth** ``x_{j,t+1} >= (1 + g_j) x_{j,t}`` for activities with a growth target;
* **terminal** ``S_{k,T+1} >= g K_k`` for every stock when a terminal factor ``g`` is set;
* **resources** other than labour: ``P_r x_t <= R_{r,t}`` for every limited resource ``r``;
* **held classes** (priority stages, :class:`Rays`): ``sum_t w_t z_{h,t} >= level_h``.

Under priority classes every class ``g`` has its own ray ``z_{g,t}`` (its products'
balances read ``c_it >= target_it z_{g,t}``); under ``cost`` there is no ray: every target is
met in full (``c_it >= target_it``).

A year without any target has ``z_t = 0`` (Cockshott's ``z_t <= c_it / target_it`` would
leave it unbounded).

Cockshott's flows ``flow[j,i,t] >= a_ij x_jt``, labour ``labour[j,t] >= l_j x_jt`` and
consumption variables are substituted too: a larger flow than the technique needs only
wastes product. Activities with ``x0_j = 0`` are not operated (``x_jt = 0``), as in his
model (``x <= x0 / Z * flow``).

Objective (minimised; the plan maximises): ``-sum_t w_t z_t`` (``fulfilment``; with priority
classes the ray of the class being maximised), ``-sum_t w_t sum_i H(s_it)`` (``harmony``), or
``sum_t w_t sum_r c_r P_r x_t`` (``cost``, minimised), ``w_t = (1 + r)^-(t-1)`` for a
discount rate ``r``.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location
from gosplan.model.horizon import Horizon
from gosplan.optim.lp import LinearProgram

__all__ = ["MultiYearProblem", "multiyear_problem", "MultiYearLayout", "Rays", "formulate"]

OBJECTIVES: tuple[str, ...] = ("fulfilment", "harmony", "cost")


@dataclass(frozen=True, eq=False)
class MultiYearProblem:
    """A :class:`~gosplan.model.horizon.Horizon` with the planner's choices, as arrays."""

    horizon: Horizon
    objective: str
    weights: np.ndarray  # w_t
    net: sp.csr_array  # O - U, n x m
    labour: np.ndarray  # l, m
    stock_product: np.ndarray  # i(k), nk
    stock_activity: np.ndarray  # j(k), nk
    stock: np.ndarray  # K_k
    coefficient: np.ndarray  # b_k
    retention: np.ndarray  # rho_k = 1 - delta_k
    operated: np.ndarray  # bool, m: x0_j > 0
    growth: np.ndarray  # g_j (NaN: none), m
    terminal: float | None
    discount: float
    resource_names: tuple[str, ...] = ()  # limited resources other than labour
    resource_use: sp.csr_array | None = None  # P_r, one row per limited resource, r' x m
    resource_supply: np.ndarray | None = None  # R_{r,t}, r' x T
    labour_supply: np.ndarray | None = None  # L_t (the horizon's unless overridden)
    cost: np.ndarray | None = None  # sum_r c_r P_r, m (objective "cost")
    priority: np.ndarray | None = None  # class of each product (0: no target), n

    @property
    def n(self) -> int:
        return self.net.shape[0]

    @property
    def m(self) -> int:
        return self.net.shape[1]

    @property
    def T(self) -> int:
        return self.horizon.n_years

    @property
    def nk(self) -> int:
        return self.stock.size

    def invest_years(self) -> int:
        """Years with investment columns: ``T`` under a terminal condition, else ``T - 1``."""
        return self.T if self.terminal is not None else self.T - 1


def _growth_vector(horizon: Horizon, growth) -> np.ndarray:
    eco = horizon.economy
    g = np.full(eco.n_activities, np.nan)
    if growth is None:
        return g
    items = growth.items() if hasattr(growth, "items") else growth
    for label, rate in items:
        if label not in eco.activities:
            raise InvalidEconomyError(
                f"growth target for unknown activity {label!r}", Location(product=str(label), key="activity")
            )
        rate = float(rate)
        if not np.isfinite(rate) or rate <= -1:
            raise InvalidEconomyError(
                f"growth rate of {label!r} is {rate} (must be finite and > -1)", Location(product=str(label), key="activity")
            )
        g[eco.activities.get_loc(label)] = rate
    return g


def multiyear_problem(
    horizon: Horizon,
    *,
    objective: str = "fulfilment",
    discount: float = 0.0,
    terminal: float | None = None,
    growth=None,
    resources=None,
    costs=None,
    priorities=None,
) -> MultiYearProblem:
    """Arrays of the program for ``horizon`` (see the module for the model).

    Parameters
    ----------
    objective:
        ``"fulfilment"`` (``max sum_t w_t z_t``) or ``"harmony"``.
    discount:
        Rate ``r >= 0``: year ``t`` weighs ``(1 + r)^-(t-1)``.
    terminal:
        ``None`` (the plan may run its stocks down in the last year) or a factor ``g >= 0``:
        every stock left after year ``T`` is at least ``g`` times its initial level.
    growth:
        ``{activity: g_j}``: output grows by at least ``g_j`` a year from year to year.
    resources:
        ``{resource: R}``: primary resources of the economy (``economy.resources``) limited in
        every year, ``R`` one number for all years or one per year; ``labour`` here replaces
        the horizon's labour supply.
    costs:
        ``{resource: c_r >= 0}``: the cost objective's weights (default: labour, 1).
    priorities:
        ``{product: class}`` (``1`` most urgent; targeted products not named come last):
        priority classes of the ``fulfilment`` objective.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    discount = float(discount)
    if not np.isfinite(discount) or discount < 0:
        raise ValueError(f"discount rate must be finite and >= 0, got {discount}")
    if terminal is not None:
        terminal = float(terminal)
        if not np.isfinite(terminal) or terminal < 0:
            raise ValueError(f"terminal factor must be finite and >= 0, got {terminal}")
    eco = horizon.economy
    make = eco.make if eco.make is not None else sp.eye_array(eco.n_products, format="csr")
    net = sp.csr_array(make - eco.use)
    K = sp.coo_array(horizon.capital)  # CSR order, entry by entry with depreciation.data
    order = np.lexsort((K.row, K.col))  # stocks grouped by activity
    rows, cols, stock = K.row[order].astype(np.int64), K.col[order].astype(np.int64), K.data[order]
    delta = horizon.depreciation.data[order]
    x0 = horizon.base_output
    operated = x0 > 0
    coef = np.divide(stock, x0[cols], out=np.zeros_like(stock), where=operated[cols])
    T = horizon.n_years
    names, use, supply, labour_supply = _resources(horizon, resources)
    if costs is not None and objective != "cost":
        raise ValueError(f"costs weigh the cost objective; objective is {objective!r}")
    if priorities is not None and objective != "fulfilment":
        raise ValueError(f"priority classes apply to the fulfilment objective, not {objective!r} (give weights)")
    return MultiYearProblem(
        horizon=horizon,
        objective=objective,
        weights=(1.0 + discount) ** -np.arange(T, dtype=np.float64),
        net=net,
        labour=horizon.labour_coefficients,
        stock_product=rows,
        stock_activity=cols,
        stock=stock,
        coefficient=coef,
        retention=1.0 - delta,
        operated=operated,
        growth=_growth_vector(horizon, growth),
        terminal=terminal,
        discount=discount,
        resource_names=names,
        resource_use=use,
        resource_supply=supply,
        labour_supply=labour_supply,
        cost=_cost_vector(horizon, costs) if objective == "cost" else None,
        priority=_priority_vector(horizon, priorities) if priorities is not None else None,
    )


def _resource_row(eco, name) -> int:
    if name not in eco.resources:
        known = ", ".join(map(str, eco.resources)) or "none"
        raise InvalidEconomyError(f"unknown resource {name!r} (the economy has: {known})", Location(key="resource", product=str(name)))
    return int(eco.resources.get_loc(name))


def _resources(horizon: Horizon, resources) -> tuple[tuple[str, ...], sp.csr_array, np.ndarray, np.ndarray]:
    """Limited resources other than labour (``P_r`` rows and ``R_{r,t}``) and the labour supply."""
    eco, T = horizon.economy, horizon.n_years
    labour_supply = horizon.labour_supply
    names: list[str] = []
    rows: list[int] = []
    supply: list[np.ndarray] = []
    items = () if resources is None else (resources.items() if hasattr(resources, "items") else resources)
    for name, amount in items:
        r = _resource_row(eco, name)
        R = np.asarray(amount, dtype=np.float64).reshape(-1)
        if R.size == 1:
            R = np.full(T, R[0])
        if R.shape != (T,):
            raise InvalidEconomyError(
                f"resource {name!r} has {R.size} yearly amounts, the horizon has {T} years", Location(key="resource", product=str(name))
            )
        if (~np.isfinite(R) | (R < 0)).any():
            raise InvalidEconomyError(
                f"resource {name!r} available is {R[~np.isfinite(R) | (R < 0)][0]} (must be finite and >= 0)",
                Location(key="resource", product=str(name)),
            )
        if eco.labour is not None and name == eco.labour:
            labour_supply = R
            continue
        if name in names:
            raise InvalidEconomyError(f"resource {name!r} given twice", Location(key="resource", product=str(name)))
        names.append(str(name)), rows.append(r), supply.append(R)
    use = sp.csr_array(eco.primary[rows, :]) if rows else sp.csr_array((0, eco.n_activities))
    return tuple(names), use, np.array(supply).reshape(len(names), T), labour_supply


def _cost_vector(horizon: Horizon, costs) -> np.ndarray:
    """``sum_r c_r P_r`` per unit of activity (labour alone, weight 1, by default)."""
    eco = horizon.economy
    if costs is None:
        return horizon.labour_coefficients.copy()
    out = np.zeros(eco.n_activities)
    items = costs.items() if hasattr(costs, "items") else costs
    for name, c in items:
        r = _resource_row(eco, name)
        c = float(c)
        if not np.isfinite(c) or c < 0:
            raise InvalidEconomyError(f"cost of resource {name!r} is {c} (must be finite and >= 0)", Location(key="resource", product=str(name)))
        out += c * np.asarray(eco.primary[[r], :].toarray()).ravel()
    return out


def _priority_vector(horizon: Horizon, priorities) -> np.ndarray:
    """Class of every targeted product (``1`` most urgent, the unnamed last), ``0`` elsewhere."""
    eco = horizon.economy
    k = np.zeros(eco.n_products, dtype=np.int64)
    items = priorities.items() if hasattr(priorities, "items") else priorities
    for label, cls in items:
        if label not in eco.products:
            raise InvalidEconomyError(f"priority class for unknown product {label!r}", Location(product=str(label), key="priorities"))
        c = float(cls)
        if not (np.isfinite(c) and c >= 1 and c == int(c)):
            raise InvalidEconomyError(
                f"priority class of {label!r} is {cls} (must be an integer >= 1)", Location(product=str(label), key="priorities")
            )
        k[eco.products.get_loc(label)] = int(c)
    targeted = (horizon.targets > 0).any(axis=1)
    k[targeted & (k == 0)] = k.max(initial=0) + 1
    k[~targeted] = 0
    return k


@dataclass(frozen=True)
class Rays:
    """The plan rays of one program (``fulfilment``): group ``g`` has a ray ``z_{g,t}`` per year
    with ``lower_g <= z_{g,t} <= upper_g`` (``0`` in a year without targets of its products),
    its products' balances read ``c_it >= target_it z_{g,t}`` (products in no group need only
    ``c_it >= 0``), the objective weighs it by ``weight_g`` and, where ``hold_g`` is set, a row
    ``sum_t w_t z_{g,t} >= hold_g`` holds a class an earlier stage secured."""

    products: tuple[np.ndarray, ...]  # bool, n per group
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    weight: tuple[float, ...]
    hold: tuple[float | None, ...]

    @staticmethod
    def single(targets: np.ndarray) -> "Rays":
        """One ray for all targets (Cockshott's plan)."""
        return Rays(((targets > 0).any(axis=1),), (0.0,), (np.inf,), (1.0,), (None,))

    @property
    def size(self) -> int:
        return len(self.products)


@dataclass(frozen=True)
class MultiYearLayout:
    """Where each block sits. Columns per year ``t``: ``x`` at ``x_start[t]``,
    objective variables at ``obj_start[t]`` (``obj_products[t]``: product of each, ``-1`` for
    a ray ``z_{g,t}``, one per group of :class:`Rays`; none under ``cost``), investment at
    ``acc_start[t]`` (``nk`` columns; ``-1`` when the year has none). Rows per year: balance at
    ``balance_start[t]`` (``n``), labour ``labour_row[t]``, capital at ``capital_start[t]``
    (``nk``); then growth rows (``growth_rows``: ``(j, t)`` pairs,
    ``x_{j,t+1} - (1+g) x_{j,t} >= 0``), terminal rows (``nk``, from ``terminal_start``),
    hold rows (one per held group, from ``hold_start``: ``hold_groups``) and resource rows
    (``r' T``, year by year from ``resource_start``)."""

    n: int
    m: int
    nk: int
    T: int
    x_start: np.ndarray
    obj_start: np.ndarray
    obj_products: tuple[np.ndarray, ...]
    acc_start: np.ndarray
    balance_start: np.ndarray
    labour_row: np.ndarray
    capital_start: np.ndarray
    growth_start: int
    growth_rows: np.ndarray  # (q, 2): activity, year of the lower year
    terminal_start: int
    n_rows: int
    n_cols: int
    hold_start: int = 0
    hold_groups: tuple[int, ...] = ()
    resource_start: int = 0
    n_resources: int = 0
    n_rays: int = 0

    def x(self, v: np.ndarray) -> np.ndarray:
        """Activity levels, ``m x T``."""
        return np.stack([v[s:s + self.m] for s in self.x_start], axis=1)

    def acc(self, v: np.ndarray) -> np.ndarray:
        """Investment, ``nk x T`` (zeros in years without investment columns)."""
        out = np.zeros((self.nk, self.T))
        for t, s in enumerate(self.acc_start):
            if s >= 0:
                out[:, t] = v[s:s + self.nk]
        return out

    def rays(self, v: np.ndarray) -> np.ndarray:
        """``z_{g,t}``, ``groups x T`` (empty under ``cost`` and ``harmony``)."""
        return np.stack([v[s:s + self.n_rays] for s in self.obj_start], axis=1) if self.n_rays else np.zeros((0, self.T))

    def resource_rows(self) -> np.ndarray:
        """Rows of the limited resources, ``r' x T``."""
        return self.resource_start + np.arange(self.n_resources * self.T).reshape(self.T, self.n_resources).T


def formulate(problem: MultiYearProblem, rays: Rays | None = None) -> tuple[LinearProgram, MultiYearLayout]:
    """The program of the module docstring, as a :class:`~gosplan.optim.lp.LinearProgram`.

    ``rays``: the plan rays under ``fulfilment`` (default :meth:`Rays.single`, one for all
    targets); priority stages pass their own."""
    h = problem.horizon
    n, m, nk, T = problem.n, problem.m, problem.nk, problem.T
    harmony = problem.objective == "harmony"
    cost = problem.objective == "cost"
    targets = h.targets
    if problem.objective == "fulfilment":
        rays = rays if rays is not None else Rays.single(targets)
    else:
        rays = Rays((), (), (), (), ())
    G = rays.size
    net = sp.coo_array(problem.net)
    inv_years = problem.invest_years()
    rho, stock, coef = problem.retention, problem.stock, problem.coefficient
    ks = np.arange(nk)
    labour_supply = problem.labour_supply if problem.labour_supply is not None else h.labour_supply

    # ---- columns
    x_start, obj_start, acc_start, obj_products = [], [], [], []
    col = 0
    for t in range(T):
        x_start.append(col)
        col += m
        obj_start.append(col)
        prods = np.flatnonzero(targets[:, t] > 0) if harmony else np.full(G, -1)
        obj_products.append(prods)
        col += prods.size
        if t < inv_years:
            acc_start.append(col)
            col += nk
        else:
            acc_start.append(-1)
    n_cols = col

    # ---- rows (COO pieces)
    R, C, V = [], [], []
    lo, hi = [], []
    balance_start, labour_row, capital_start = [], [], []
    row = 0
    for t in range(T):
        xs = x_start[t]
        # balance
        balance_start.append(row)
        R.append(net.row + row), C.append(net.col + xs), V.append(net.data)
        if acc_start[t] >= 0:
            R.append(problem.stock_product + row), C.append(ks + acc_start[t]), V.append(-np.ones(nk))
        tg = targets[:, t]
        b_lo = np.zeros(n)
        prods = obj_products[t]
        if harmony:
            R.append(prods + row), C.append(np.arange(prods.size) + obj_start[t]), V.append(-tg[prods])
            b_lo[prods] = tg[prods]
        elif cost:
            b_lo = tg.copy()
        else:
            for g in range(G):
                w = np.flatnonzero((tg > 0) & rays.products[g])
                R.append(w + row), C.append(np.full(w.size, obj_start[t] + g)), V.append(-tg[w])
        lo.append(b_lo), hi.append(np.full(n, np.inf))
        row += n
        # labour
        labour_row.append(row)
        nzl = np.flatnonzero(problem.labour)
        R.append(np.full(nzl.size, row)), C.append(nzl + xs), V.append(problem.labour[nzl])
        lo.append([-np.inf]), hi.append([labour_supply[t]])
        row += 1
        # capital: b_k x_{j,t} - sum_{s<t} rho^(t-1-s) acc_{k,s} <= rho^(t-1) K_k
        capital_start.append(row)
        R.append(ks + row), C.append(problem.stock_activity + xs), V.append(coef)
        for s in range(t):
            if acc_start[s] >= 0:
                R.append(ks + row), C.append(ks + acc_start[s]), V.append(-(rho ** (t - 1 - s)))
        lo.append(np.full(nk, -np.inf)), hi.append(stock * rho ** t)
        row += nk
    # growth: x_{j,t+1} - (1+g) x_{j,t} >= 0
    growth_start = row
    gj = np.flatnonzero(np.isfinite(problem.growth) & problem.operated)
    pairs = []
    for t in range(T - 1):
        q = np.arange(gj.size) + row
        R.append(q), C.append(gj + x_start[t + 1]), V.append(np.ones(gj.size))
        R.append(q), C.append(gj + x_start[t]), V.append(-(1.0 + problem.growth[gj]))
        lo.append(np.zeros(gj.size)), hi.append(np.full(gj.size, np.inf))
        pairs.append(np.column_stack([gj, np.full(gj.size, t)]))
        row += gj.size
    growth_rows = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    # terminal: sum_{s<=T} rho^(T-s) acc_{k,s} >= g K_k - rho^T K_k
    terminal_start = row
    if problem.terminal is not None:
        for s in range(T):
            R.append(ks + row), C.append(ks + acc_start[s]), V.append(rho ** (T - 1 - s))
        lo.append(stock * (problem.terminal - rho ** T)), hi.append(np.full(nk, np.inf))
        row += nk
    # held classes: sum_t w_t z_{g,t} >= hold_g
    hold_start = row
    hold_groups = tuple(g for g in range(G) if rays.hold[g] is not None)
    for g in hold_groups:
        R.append(np.full(T, row)), C.append(np.asarray(obj_start) + g), V.append(problem.weights.copy())
        lo.append([rays.hold[g]]), hi.append([np.inf])
        row += 1
    # other resources: P_r x_t <= R_{r,t}
    resource_start = row
    nr = len(problem.resource_names)
    if nr:
        P = sp.coo_array(problem.resource_use)
        for t in range(T):
            R.append(P.row + row), C.append(P.col + x_start[t]), V.append(P.data)
            lo.append(np.full(nr, -np.inf)), hi.append(problem.resource_supply[:, t])
            row += nr
    n_rows = row

    K = sp.csr_array(
        (np.concatenate(V).astype(np.float64), (np.concatenate(R), np.concatenate(C))), shape=(n_rows, n_cols)
    )
    K.sum_duplicates()
    c = np.zeros(n_cols)
    col_lo = np.zeros(n_cols)
    col_hi = np.full(n_cols, np.inf)
    hcols, hweights = [], []
    for t in range(T):
        col_hi[x_start[t]:x_start[t] + m] = np.where(problem.operated, np.inf, 0.0)
        prods = obj_products[t]
        if harmony:
            cols = np.arange(prods.size) + obj_start[t]
            col_lo[cols] = -1.0
            hcols.append(cols), hweights.append(np.full(prods.size, problem.weights[t]))
        elif cost:
            c[x_start[t]:x_start[t] + m] = problem.weights[t] * problem.cost
        else:
            for g in range(G):
                j = obj_start[t] + g
                c[j] = -problem.weights[t] * rays.weight[g]
                if not ((targets[:, t] > 0) & rays.products[g]).any():
                    col_hi[j] = 0.0  # a year without targets: nothing to fulfil
                else:
                    col_lo[j], col_hi[j] = rays.lower[g], rays.upper[g]
    layout = MultiYearLayout(
        n=n, m=m, nk=nk, T=T,
        x_start=np.asarray(x_start), obj_start=np.asarray(obj_start), obj_products=tuple(obj_products),
        acc_start=np.asarray(acc_start), balance_start=np.asarray(balance_start),
        labour_row=np.asarray(labour_row), capital_start=np.asarray(capital_start),
        growth_start=growth_start, growth_rows=growth_rows, terminal_start=terminal_start,
        n_rows=n_rows, n_cols=n_cols, hold_start=hold_start, hold_groups=hold_groups,
        resource_start=resource_start, n_resources=nr, n_rays=G,
    )
    # gosplan's check judges a targeted balance row against its target (target_it z_t, or
    # target_it (1 + s_it) under harmony, target_it under cost), a labour or resource row
    # against its supply and a hold row against the level held; the other rows (balances of
    # untargeted products, stocks, growth) against the flows that meet there.
    own_cols = np.concatenate([
        np.arange(obj_products[t].size) + obj_start[t] for t in range(T)
    ]).astype(np.int64)
    row_user = np.zeros(n_rows, dtype=bool)
    if own_cols.size:
        own = sp.csr_array(K[:, own_cols])
        own.eliminate_zeros()
        row_user[np.diff(own.indptr) > 0] = True
    if cost:
        for t in range(T):
            row_user[balance_start[t] + np.flatnonzero(targets[:, t] > 0)] = True
    row_user[np.asarray(labour_row, dtype=np.int64)] = True
    row_user[hold_start:n_rows] = True
    lp = LinearProgram(
        c=c, K=K,
        row_user=row_user, objective_columns=own_cols,
        row_lower=np.concatenate([np.asarray(a, dtype=np.float64) for a in lo]),
        row_upper=np.concatenate([np.asarray(a, dtype=np.float64) for a in hi]),
        col_lower=col_lo, col_upper=col_hi,
        harmony_columns=np.concatenate(hcols) if harmony else None,
        harmony_weights=np.concatenate(hweights) if harmony else None,
        row_names=lambda r: _row_name(problem, layout, r),
        col_names=lambda j: _col_name(problem, layout, j),
    )
    return lp, layout


def _year_of(starts: np.ndarray, k: int) -> int:
    return int(np.searchsorted(starts, k, side="right") - 1)


def _stock_name(problem: MultiYearProblem, k: int) -> str:
    eco = problem.horizon.economy
    return f"stock of {eco.products[problem.stock_product[k]]!s} held by {eco.activities[problem.stock_activity[k]]!s}"


def _row_name(problem: MultiYearProblem, layout: MultiYearLayout, r: int) -> str:
    eco, years = problem.horizon.economy, problem.horizon.years
    if r >= layout.resource_start and layout.n_resources:
        q = r - layout.resource_start
        return f"resource {problem.resource_names[q % layout.n_resources]} in {years[q // layout.n_resources]}"
    if r >= layout.hold_start and layout.hold_groups:
        return f"held priority class {layout.hold_groups[r - layout.hold_start] + 1}"
    if r >= layout.terminal_start:
        return f"terminal condition on the {_stock_name(problem, r - layout.terminal_start)}"
    if r >= layout.growth_start:
        j, t = layout.growth_rows[r - layout.growth_start]
        return f"growth of {eco.activities[j]!s} from {years[t]} to {years[t + 1]}"
    t = _year_of(layout.balance_start, r)
    off = r - layout.balance_start[t]
    if off < layout.n:
        return f"balance of {eco.products[off]!s} in {years[t]}"
    if off == layout.n:
        return f"labour supply in {years[t]}"
    return f"{_stock_name(problem, off - layout.n - 1)} in {years[t]}"


def _col_name(problem: MultiYearProblem, layout: MultiYearLayout, j: int) -> str:
    eco, years = problem.horizon.economy, problem.horizon.years
    t = _year_of(layout.x_start, j)
    off = j - layout.x_start[t]
    if off < layout.m:
        return f"level of {eco.activities[off]!s} in {years[t]}"
    off -= layout.m
    prods = layout.obj_products[t]
    if off < prods.size:
        if prods[0] < 0:
            return f"fulfilment in {years[t]}" if layout.n_rays == 1 else f"fulfilment of ray {off + 1} in {years[t]}"
        return f"deviation of {eco.products[prods[off]]!s} in {years[t]}"
    return f"investment in the {_stock_name(problem, off - prods.size)} in {years[t]}"

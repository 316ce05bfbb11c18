"""The plan cycle with consumer feedback: plan, sell, revise, period after period.

Each period ``t``:

1. **Plan.** The centre plans (:func:`gosplan.plan`, any objective, resources, capacities,
   priorities, techniques) with households' targets ``c_t`` as the targets ``y`` and the
   rest of final demand (government, investment, exports: the table's final demand less
   households') committed: ``N x >= committed + z y``.
2. **Sell.** What the plan delivers to households, ``chat_t = N x - committed`` on the
   consumer goods, is sold to the household groups, paid their budgets (by default each
   group's population share of the labour the plan uses: labour tokens): at the prices that
   clear every market (rules ``values`` and ``opportunity``, :func:`gosplan.consumers.clear`)
   or at prices fixed by the centre with rationing, queues and a hidden market (rule
   ``fixed``, :func:`gosplan.consumers.sell_at_fixed_prices`).
3. **Revise** (:mod:`gosplan.cycle.revision`): ``values`` compares the clearing price with
   the labour value, ``opportunity`` with the plan's own shadow price (an implicit, proximal
   step over the plan's constraints), ``fixed`` keeps the base-year mix.

The loop stops when the largest relative gap between price ratios and the largest
relative revision of a target are both below ``tol`` (``fixed``: when a period repeats the
last), or after ``periods`` periods. With ``opportunity`` its fixed point is the
competitive equilibrium: the Eisenberg–Gale program ``max sum_h B_h log u_h(c_h)`` over
everything the plan's constraints allow. ``values`` and ``fixed`` scale their targets so
that their labour content fills the labour left for households (the centre plans as if
labour were the only scarce resource: taut plans), so that where another resource binds the
plan falls short of them, period after period, and the shortfall is reported.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.cycle.indicators import gini, group_indicators
from gosplan.cycle.result import Simulation
from gosplan.cycle.revision import proximal_targets
from gosplan.errors import GosplanWarning, InvalidEconomyError, PlanningError
from gosplan.model.economy import Economy
from gosplan.model.households import Households, utility

__all__ = ["simulate", "RULES", "KEEP_CONSUMPTION"]

RULES = ("opportunity", "values", "fixed")
WEIGHTS = ("value", "unit")
"""Harmony weights the loop derives itself (``weights=`` as a string): ``"value"``, each
target's value at the reference prices; ``"unit"``, 1 for every product."""
KEEP_CONSUMPTION = 5_000_000
"""Consumption entries (groups x goods bought, summed over periods) kept for every period;
beyond, only the last period's consumption is kept."""

MIN_STEP = 1.0 / 64
CLIP = 1e3
SHRINK = 1.0 - 1e-6
"""Revised targets are planned this little inside the production set: exactly on its boundary
(capacities binding) the plan ray's program is so degenerate that HiGHS' answers fail gosplan's
own check; the plan's ray (z >= 1) takes what is delivered back to the boundary."""
LEONTIEF_MISSES = 2
"""After this many revisions in a row that the Leontief method could not make (or certify), the loop
leaves the rest to Clarabel: a failed try costs seconds at 10^4 products."""


def plan_with_fallbacks(economy: Economy, targets: np.ndarray, committed: np.ndarray, **kwargs: Any) -> Any:
    """:func:`gosplan.plan` (warnings silenced); with ``method="auto"``, a plan that fails
    gosplan's own check (HiGHS' simplex leaves duality gaps of 1e-5 on some BEA targets) is
    solved again by HiGHS' interior point, then by PDHG."""
    from gosplan.planning import plan as make_plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = make_plan(economy, targets=targets, committed=committed, **kwargs)
        if kwargs.get("method", "auto") == "auto":
            for fallback in ("highs-ipm", "pdhg"):
                if out.status.value != "numerical_error":
                    break
                out = make_plan(economy, targets=targets, committed=committed, **{**kwargs, "method": fallback})
    return out


def committed_and_targets(
    economy: Economy, hh: Households, goods: np.ndarray, committed: Any, targets: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``(y_o, c0)``: final demand other than households' (``committed``, default the table's
    final demand less its household category) and households' first targets per consumer good
    (``targets``, default the table's household final demand; goods it leaves out start at a
    thousandth of the mean)."""
    from gosplan.io.households import household_demand
    from gosplan.planning.problem import planning_problem

    y_h = household_demand(economy)  # (n,) or None
    if committed is None:
        if y_h is None:
            raise InvalidEconomyError(
                f"economy {economy.meta.name!r} has no household final-demand category, so the rest of "
                "final demand is unknown: give committed (product,quantity)"
            )
        # Households' negative entries (their sales of used goods) stay with the rest, as supply.
        y_o = economy.y - np.maximum(y_h, 0.0)
    else:
        y_o = planning_problem(economy, committed=committed).base
    c0 = _goods_vector(targets, hh, "targets")
    if c0 is None:
        base = np.maximum(y_h[goods], 0.0) if y_h is not None else np.zeros(hh.G)
        if not (base > 0).any():
            base = np.asarray(hh.weights.T @ hh.population).reshape(-1)
        c0 = np.where(base > 0, base, 1e-3 * base[base > 0].mean())
    if (c0 <= 0).any() or not np.isfinite(c0).all():
        raise InvalidEconomyError("households' first targets must be positive and finite")
    return y_o, c0


def _goods_vector(value: Any, households: Households, what: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, (pd.Series, dict)):
        s = pd.Series(value, dtype=float)
        s.index = s.index.astype(str)
        unknown = s.index.difference(households.goods.astype(str))
        if len(unknown):
            raise InvalidEconomyError(f"{what} names {unknown[0]!r}, which is not a consumer good")
        return s.reindex(households.goods.astype(str)).to_numpy(dtype=np.float64)
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (households.G,):
        raise InvalidEconomyError(f"{what} has {arr.size} entries for {households.G} consumer goods")
    return arr


def _spending_elasticity(households: Households, consumption: sp.csr_array, prices: np.ndarray) -> np.ndarray:
    """Spending-weighted elasticity of each good's buyers (the mean elasticity where nobody buys)."""
    C = sp.csr_array(consumption)
    spend = C.multiply(prices[None, :]) if C.nnz else C
    by_good = np.asarray(spend.sum(axis=0)).reshape(-1)
    weighted = np.asarray((sp.diags_array(households.elasticity) @ spend).sum(axis=0)).reshape(-1)
    mean = float(households.population @ households.elasticity / households.population.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(by_good > 0, weighted / by_good, mean)


def _start(prices: np.ndarray | None) -> np.ndarray | None:
    """Last period's clearing prices as the next market's start (goods not on sale then: the median)."""
    if prices is None:
        return None
    ok = np.isfinite(prices) & (prices > 0)
    if not ok.any():
        return None
    return np.where(ok, prices, float(np.median(prices[ok])))


def _relative_change(new: np.ndarray, old: np.ndarray) -> float:
    """``max_j |new_j - old_j| / max(old_j, 1e-9 max old)``: relative, but not blown up by goods
    near zero."""
    scale = np.maximum(np.abs(old), 1e-9 * float(np.max(np.abs(old), initial=0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(new - old) / scale
    return float(np.max(np.nan_to_num(out, nan=0.0), initial=0.0))


def _ratio_gap(prices: np.ndarray, valuation: np.ndarray, supply: np.ndarray, mask: np.ndarray | None = None) -> float:
    """``max_j |(p_j / pi_j) / rbar - 1|`` with ``rbar = sum p c / sum pi c``, over the goods in
    ``mask`` (default all)."""
    ok = (valuation > 0) & np.isfinite(prices) & (supply > 0)
    if mask is not None:
        ok &= mask
    if not ok.any():
        return float("nan")
    rbar = float(prices[ok] @ supply[ok]) / float(valuation[ok] @ supply[ok])
    return float(np.max(np.abs(prices[ok] / (rbar * valuation[ok]) - 1.0)))


def simulate(
    economy: Economy,
    households: Households | None = None,
    *,
    rule: str = "opportunity",
    periods: int = 30,
    tol: float = 1e-4,
    objective: str = "fulfilment",
    resources: Any = None,
    capacities: Any = None,
    priorities: Any = None,
    floors: Any = None,
    ceilings: Any = None,
    weights: Any = None,
    costs: Any = None,
    committed: Any = None,
    targets: Any = None,
    prices: Any = None,
    step: float = 1.0,
    hidden_share: float = 0.1,
    method: str = "auto",
    plan_tol: float = 1e-5,
    time_limit: float | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> Simulation:
    """Run the plan cycle with consumer feedback (see the module).

    Parameters
    ----------
    economy:
        The economy (:func:`gosplan.load`).
    households:
        Household groups (:func:`gosplan.io.households.load_households`); default the
        economy's own household final demand as one Cobb–Douglas group.
    rule:
        ``"opportunity"`` (Dapprich: clearing prices against the plan's shadow prices),
        ``"values"`` (Cockshott–Cottrell: against labour values) or ``"fixed"`` (prices fixed
        by the centre, targets from the base-year mix: the old system).
    periods:
        At most this many periods.
    tol:
        Convergence: largest relative price-ratio gap and target revision.
    objective, resources, capacities, priorities, floors, ceilings, costs, method:
        As :func:`gosplan.plan`, for every period's plan.
    weights:
        Harmony weights of every period's plan (``objective="harmony"``): ``"value"`` (the
        default) weighs each household target by its value at the reference prices
        (base-year labour values; unit quantities where the economy has no labour),
        ``w_i = v_i c_i`` for the period's target ``c_i``, scaled to mean 1 over the targets;
        ``"unit"`` gives every product weight 1 (Cockshott's; :func:`gosplan.plan`'s default);
        or the weights themselves, as :func:`gosplan.plan` takes them. With unit weights the
        harmony plan gives every good about the same *quantity* where it exceeds its target
        (``y_i (1 + s_i) = w_i / pi_i``) and drops targets of ``pi_i y_i >= 2 w_i``: on a
        table whose households' targets span orders of magnitude most goods are then vastly
        over- or under-delivered (wiod-2011: 31,766 of every good, nothing of the largest).
    committed:
        Final demand other than households' (``product,quantity``); default the table's final
        demand less the households' category.
    targets:
        Households' first targets per consumer good; default the table's household final demand
        (goods the table's households do not buy start at a thousandth of the mean).
    prices:
        Fixed prices per consumer good (rule ``fixed``); default the base-year labour values,
        scaled so that the first plan's household goods cost the households' income.
    step:
        ``theta`` in ``(0, 1]`` (:mod:`gosplan.cycle.revision`); halved when a period goes
        backwards (the Eisenberg–Gale objective falls under ``opportunity``, the gap grows
        under ``values``), down to 1/64.
    hidden_share:
        Share of each scarce good diverted to the hidden market (rule ``fixed``).
    plan_tol:
        ``tol`` of each period's plan.
    progress:
        Called with ``(period, line)`` after each period.
    """
    start = time.perf_counter()
    from gosplan.consumers import clear, sell_at_fixed_prices
    from gosplan.io.households import load_households
    from gosplan.planning.problem import planning_problem, value_weights

    if rule not in RULES:
        raise InvalidEconomyError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if not 0 < step <= 1:
        raise InvalidEconomyError(f"step must be in (0, 1], got {step!r}")
    if not 0 <= hidden_share < 1:
        raise InvalidEconomyError(f"hidden_share must be in [0, 1), got {hidden_share!r}")
    if periods < 1:
        raise InvalidEconomyError(f"periods must be at least 1, got {periods!r}")
    if weights is None:
        weights = "value"
    if isinstance(weights, str) and weights not in WEIGHTS and not Path(weights).suffix:
        raise InvalidEconomyError(
            f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)} or give the weights (or their file)"
        )
    derived = weights if isinstance(weights, str) and weights in WEIGHTS else None
    if derived is not None:
        weights = None
    hh = households if households is not None else load_households(economy)
    goods = hh.goods_in(economy.products)
    n = economy.n_products
    name_of = getattr(economy, "names_of", None)
    good_names = np.asarray(name_of(hh.goods) if callable(name_of) else hh.goods.astype(str), dtype=object)

    y_o, c0 = committed_and_targets(economy, hh, goods, committed, targets)
    if floors is None:
        floors = np.minimum(y_o, 0.0)  # net imports may cover committed demand, as in the table

    base = _base_balance(economy)
    capacities = _cap_free_goods(economy, base, goods, resources, capacities)
    plan_kwargs = dict(
        objective=objective, resources=resources, capacities=capacities, priorities=priorities,
        floors=floors, ceilings=ceilings, weights=weights, costs=costs, method=method, tol=plan_tol,
        explain=False,
    )
    problem = planning_problem(
        economy, targets=np.zeros(n), resources=resources, capacities=capacities, floors=floors,
        ceilings=ceilings, committed=y_o,
    )
    labour = problem.labour
    if labour is None and hh.budget is None and rule != "fixed":
        raise InvalidEconomyError(
            "the households have no budgets and the economy no labour to pay them in: give budgets"
        )

    def full(c: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        out[goods] = c
        return out

    # Reference prices for welfare: base-year labour values (the same for every rule).
    reference = _reference_values(economy, base, goods)

    def run_plan(c: np.ndarray):
        kwargs = plan_kwargs
        if objective == "harmony" and derived == "value":
            kwargs = {**plan_kwargs, "weights": value_weights(economy, full(c), values=full(reference))}
        return plan_with_fallbacks(economy, full(c), y_o, **kwargs)

    # The production set the centre revises its targets over: the plan's own constraints
    # (opportunity), or labour alone (values and fixed: the centre believes labour is the only
    # scarce resource, so its targets are taut wherever something else binds).
    belief = problem
    if rule in ("values", "fixed"):
        if labour is None or not np.isfinite(problem.available[labour]):
            raise InvalidEconomyError(f"the {rule!r} rule needs labour, limited: the economy has none or it is unlimited")
        only = np.full(len(problem.resources), np.inf)
        only[labour] = problem.available[labour]
        # Consumer goods that need no labour (used goods) would be free, and their targets grow
        # without end, in a belief without capacities: they keep theirs (the table's output, as
        # in the plan), so that their valuation is their price where imports supply them.
        believed = np.full(n, np.inf)
        if base is not None and base.primary_multipliers is not None:
            free = goods[np.abs(base.primary_multipliers[labour][goods]) <= 1e-12]
            believed[free] = problem.capacity[free]
        belief = replace(problem, available=only, capacity=believed)
    if rule == "fixed":
        from gosplan.planning.optimal import solve_problem

        ray = solve_problem(replace(belief, target=full(c0), priority=np.where(full(c0) > 0, 1, 0)),
                            objective="fulfilment", method=method, tol=plan_tol, explain=False)
        if not ray.success:
            raise PlanningError(f"the base-year mix cannot be planned with labour alone: {ray.message}")
        c0 = c0 * ray.class_fulfilment[1]
    elif objective != "fulfilment":
        # Least-cost and harmony plans take the targets as they are: start from a feasible mix,
        # the base-year one scaled by the plan ray where it is not.
        from gosplan.planning.optimal import solve_problem

        ray = solve_problem(replace(problem, target=full(c0), priority=np.where(full(c0) > 0, 1, 0)),
                            objective="fulfilment", method=method, tol=plan_tol, explain=False)
        if ray.success and ray.class_fulfilment[1] < 1:
            c0 = c0 * ray.class_fulfilment[1] * (1 - 10 * plan_tol)
    fixed_prices = None
    if rule == "fixed":
        fixed_prices = _goods_vector(prices, hh, "prices")

    rows: list[dict[str, Any]] = []
    price_frames: list[pd.DataFrame] = []
    cons_frames: list[tuple[int, sp.csr_array]] = []
    group_frames: list[pd.DataFrame] = []
    target = c0.copy()
    theta = float(step)
    prev_phi = -np.inf
    misses = 0  # revisions in a row the Leontief method did not make
    prev_delivered = None
    p_prev = None
    converged = False
    message = f"stopped after {periods} period{'' if periods == 1 else 's'} without converging to {tol:g}"
    result = None
    C = None
    kept_entries = 0
    error = ""
    for t in range(1, periods + 1):
        t0 = time.perf_counter()
        result = run_plan(target)
        t_plan = time.perf_counter() - t0
        if not result.success:
            message = f"period {t}: the plan is {result.status.value}: {result.message}"
            break
        f = result.net_output
        delivered = np.maximum(f[goods] - y_o[goods], 0.0)
        waste = np.zeros(hh.G)
        if rule != "opportunity" and objective == "fulfilment" and result.class_fulfilment:
            # A taut plan falls short of its targets by the ray z; where it makes a good beyond
            # z times its target although the good is produced (so that less could be made), the
            # surplus is an accident of the linear program's vertex, nobody's order: it is counted
            # as waste, not sold. Surplus of goods not produced at all (net imports) is sold.
            z = min(result.class_fulfilment.values())
            produced = result.gross_output[goods] > 1e-12 * float(np.max(result.gross_output, initial=0.0))
            cap_at = np.where(produced, z * target, np.inf)
            waste = np.maximum(delivered - cap_at, 0.0)
            delivered = delivered - waste
        if not (delivered > 0).any():
            message = f"period {t}: the plan leaves nothing for households"
            break
        labour_used = float(result.resource_use[labour]) if labour is not None else None
        B = hh.budgets(labour_used)
        t1 = time.perf_counter()
        sale = None
        if rule == "fixed":
            clearing = clear(hh, delivered, B, prices0=_start(p_prev))
            p_clear = clearing.prices
            if fixed_prices is None:
                # Base-year labour values, scaled so that the goods cost the households' income;
                # a good without labour value (noncomparable imports) at its first clearing price.
                v = np.nan_to_num(result.labour_value[goods], nan=0.0)
                v = v * (B.sum() / float(v @ delivered))
                fixed_prices = np.where(v > 0, v, np.nan_to_num(p_clear, nan=0.0))
                fixed_prices = np.where(fixed_prices > 0, fixed_prices, np.median(v[v > 0]))
            sale = sell_at_fixed_prices(hh, delivered, B, fixed_prices, hidden_share=hidden_share)
            C = sp.csr_array(sale.official + sale.hidden)
            p = fixed_prices
            p_prev = p_clear
        else:
            market = clear(hh, delivered, B, prices0=_start(p_prev))
            C = sp.csr_array(market.consumption)
            p = p_clear = market.prices
            p_prev = p
        t_market = time.perf_counter() - t1
        sigma = _spending_elasticity(hh, C, np.nan_to_num(p_clear, nan=0.0))
        t2 = time.perf_counter()
        if rule in ("opportunity", "values"):
            # A good the plan did not deliver has no clearing price (every unit would sell at any
            # price): the revision raises its target as if it sold at twice the dearest good.
            # Prices beyond a thousandfold of the median either way (a good delivered in a trace)
            # are clipped there: the step is the same (the target moves as far as it can), and the
            # program stays well scaled.
            ok = np.isfinite(p) & (p > 0)
            mid = float(np.median(p[ok]))
            p_rev = np.clip(np.where(ok, p, 2 * float(np.max(p[ok]))), mid / CLIP, mid * CLIP)
            center = target
            over = np.zeros(hh.G, dtype=bool)
            if rule == "values":
                # Goods the plan delivers beyond the ray of the targets (net imports that cannot be
                # cut) sold where the centre did not aim: it takes what it got, scaled back by the
                # ray, as their target, so that their price is read at the target it plans for.
                z = delivered @ target / (target @ target)
                over = delivered > z * target * (1 + 1e-6)
                center = np.where(over, delivered / max(z, 1e-12), target)
            try:
                rev = proximal_targets(
                    belief, goods, center, p_rev, sigma, theta, time_limit=time_limit,
                    activity=result.activity_level, feasible=delivered, leontief=misses < LEONTIEF_MISSES,
                )
            except PlanningError as exc:
                # Stop here, keeping the periods before (their tables are what the run has to show).
                error = message = f"period {t}: {exc}"
                break
            valuation = rev.valuation
            revision_method = rev.method
            misses = misses + 1 if rev.method != "leontief" else 0
            nxt = rev.targets * SHRINK
            gap = _ratio_gap(p, valuation, delivered, ~over)
        else:
            valuation = fixed_prices
            revision_method = ""
            nxt = target
            gap = _ratio_gap(p_clear, valuation, delivered)
        t_rev = time.perf_counter() - t2
        change = _relative_change(nxt, target)
        budgets_share = B / B.sum()
        u = utility(hh, C)
        phi = float(budgets_share @ np.log(np.maximum(u, 1e-300)))
        groups = group_indicators(hh, C, B, reference, labour_used, None if sale is None else sale.unspent)
        pop = hh.population
        # Shortage: value share of household demand not served.
        shortfall = np.maximum(target - delivered, 0.0)
        value_p = np.nan_to_num(p_clear if rule == "fixed" else p, nan=0.0)
        plan_shortfall = float(value_p @ shortfall) / max(float(value_p @ target), 1e-300)
        if sale is not None:
            notional = np.asarray(sale.notional.sum(axis=0)).reshape(-1)
            queue = float(fixed_prices @ sale.queue) / max(float(fixed_prices @ notional), 1e-300)
            unsold = float(fixed_prices @ sale.unsold) / max(float(fixed_prices @ delivered), 1e-300)
            forced = float(sale.forced_saving.sum()) / B.sum()
            hidden_share_t, premium = float(sale.hidden_share), float(sale.hidden_premium)
            shortage = queue
        else:
            queue = forced = hidden_share_t = premium = 0.0
            unsold = float(np.nan_to_num(p, nan=0.0) @ market.unsold) / max(float(np.nan_to_num(p) @ delivered), 1e-300)
            shortage = plan_shortfall
        row = {
            "period": t,
            "status": result.status.value,
            "fulfilment": float(result.class_fulfilment.get(max(result.class_fulfilment), np.nan))
            if result.class_fulfilment else np.nan,
            "gap": gap,
            "change": change,
            "shortage": shortage,
            "plan_shortfall": plan_shortfall,
            "queue": queue,
            "unsold": unsold,
            "forced_saving": forced,
            "waste": float(np.nan_to_num(p_clear if rule == "fixed" else p, nan=0.0) @ waste)
            / max(float(np.nan_to_num(p_clear if rule == "fixed" else p, nan=0.0) @ (delivered + waste)), 1e-300),
            "hidden_share": hidden_share_t,
            "hidden_premium": premium,
            "consumption_per_head": float(groups["consumption_per_head"] @ pop / pop.sum()),
            "welfare_per_head": float(groups["welfare_per_head"] @ pop / pop.sum()),
            "labour_per_head": float(groups["labour_per_head"] @ pop / pop.sum()),
            "gini": gini(groups["consumption_per_head"].to_numpy(), pop),
            "eg_objective": phi,
            "labour_used": labour_used if labour_used is not None else np.nan,
            "step": theta,
            "plan_method": result.method,
            "revision_method": revision_method,
            "plan_seconds": t_plan,
            "market_seconds": t_market,
            "revision_seconds": t_rev,
        }
        rows.append(row)
        demand = np.asarray(C.sum(axis=0)).reshape(-1)
        price_frames.append(
            pd.DataFrame(
                {
                    "period": t,
                    "product": np.asarray(hh.goods.astype(str)),
                    "name": good_names,
                    "price": p,
                    "valuation": valuation,
                    "shadow_price": result.shadow_price[goods],
                    "supply": delivered,
                    "target": target,
                    "demand": demand if sale is None else np.asarray(sale.notional.sum(axis=0)).reshape(-1),
                    "queue": np.zeros(hh.G) if sale is None else sale.queue,
                    "unsold": market.unsold if sale is None else sale.unsold,
                    "waste": waste,
                    "hidden_price": np.full(hh.G, np.nan) if sale is None else sale.hidden_prices,
                }
            )
        )
        groups.insert(0, "period", t)
        group_frames.append(groups)
        cons_frames.append((t, C))
        kept_entries += C.nnz
        if kept_entries > KEEP_CONSUMPTION and len(cons_frames) > 1:
            cons_frames = cons_frames[-1:]
            kept_entries = C.nnz
        if progress is not None:
            progress(t, f"period {t}: gap {gap:.2e}, change {change:.2e}, shortage {shortage:.2%}, step {theta:g}")
        # Convergence and step control.
        if rule == "fixed":
            if prev_delivered is not None and _relative_change(delivered, prev_delivered) <= tol:
                converged = True
                message = f"converged: period {t} repeats the last (fixed prices and targets)"
                break
        elif change <= tol and (prev_delivered is None or _relative_change(delivered, prev_delivered) <= tol):
            converged = True
            message = f"converged in {t} periods: target change {change:.1e}, price-ratio gap {gap:.1e} (tol {tol:g})"
            break
        if rule == "opportunity" and phi < prev_phi - 1e-12 * abs(prev_phi):
            theta = max(theta / 2, MIN_STEP)
        prev_phi = max(prev_phi, phi)
        prev_delivered = delivered
        target = nxt
    periods_frame = pd.DataFrame(rows)
    consumption = _consumption_frame(hh, cons_frames)
    return Simulation(
        rule=rule,
        economy=economy.meta.name,
        converged=converged,
        message=message,
        households=hh,
        periods=periods_frame,
        prices=pd.concat(price_frames, ignore_index=True) if price_frames else pd.DataFrame(),
        consumption=consumption,
        groups=pd.concat(group_frames, ignore_index=True) if group_frames else pd.DataFrame(),
        final_consumption=C,
        final_prices=price_frames[-1]["price"].to_numpy() if price_frames else np.full(hh.G, np.nan),
        final_targets=target,
        plan=result,
        settings={
            "periods": periods, "tol": tol, "objective": objective, "method": method, "step": step,
            "hidden_share": hidden_share, "plan_tol": plan_tol,
            **({"weights": derived or "given"} if objective == "harmony" else {}),
        },
        consumption_periods="all" if len(cons_frames) == len(rows) else "last",
        seconds=time.perf_counter() - start,
        error=error,
    )


def _consumption_frame(hh: Households, frames: list[tuple[int, sp.csr_array]]) -> pd.DataFrame:
    parts = []
    groups = np.asarray(hh.groups.astype(str))
    goods = np.asarray(hh.goods.astype(str))
    for t, C in frames:
        coo = sp.coo_array(C)
        parts.append(
            pd.DataFrame({"period": t, "household": groups[coo.row], "product": goods[coo.col], "quantity": coo.data})
        )
    if not parts:
        return pd.DataFrame(columns=["period", "household", "product", "quantity"])
    return pd.concat(parts, ignore_index=True)


def _base_balance(economy: Economy) -> Any:
    """The table's own material balance with values and multipliers (square economies; once per
    run: both the free goods and the reference prices read it), or ``None``."""
    if not economy.is_square:
        return None
    from gosplan.material_balance import balance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return balance(economy)


def _cap_free_goods(economy: Economy, res: Any, goods: np.ndarray, resources: Any, capacities: Any) -> Any:
    """Consumer goods whose making needs no limited resource, directly or through inputs (the
    BEA's noncomparable imports and used goods), could be planned without bound, and so would
    households' welfare: they get the table's gross output as capacity, with a warning. Square
    economies only; a capacity the user gave is kept."""
    from gosplan.planning.problem import planning_problem

    if res is None or res.primary_multipliers is None:
        return capacities
    problem = planning_problem(economy, targets=np.zeros(economy.n_products), resources=resources,
                               capacities=capacities)
    limited = np.flatnonzero(np.isfinite(problem.available))
    needs = res.primary_multipliers[limited][:, goods] if limited.size else np.zeros((0, goods.size))
    free = goods[(np.abs(needs) <= 1e-12).all(axis=0) & ~np.isfinite(problem.capacity[goods])]
    if free.size == 0:
        return capacities
    cap = problem.capacity.copy()
    cap[free] = np.maximum(np.asarray(res.gross_output)[free], 0.0)
    capped = np.flatnonzero(np.isfinite(cap))
    cap = pd.Series(cap[capped], index=pd.Index(economy.products[capped].astype(str), dtype=object))
    names = ", ".join(f"{economy.products[i]!r}" for i in free[:5])
    warnings.warn(
        f"{economy.meta.name}: {free.size} consumer good(s) need no limited resource ({names}); "
        "their capacity is the table's output, so that the plan stays bounded",
        GosplanWarning,
        stacklevel=3,
    )
    return cap


def _reference_values(economy: Economy, res: Any, goods: np.ndarray) -> np.ndarray:
    """Base-year labour values of the consumer goods (ones where the economy has none)."""
    if economy.labour is not None and res is not None:
        v = res.labour_values
        if v is not None and np.isfinite(v[goods]).all() and (v[goods] > 0).all():
            return np.asarray(v[goods], dtype=np.float64)
    return np.ones(goods.size)

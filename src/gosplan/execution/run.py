r"""Plans carried out, period after period, under the regimes of the planned economy.

Each period ``t`` (:func:`execute`):

1. **Directive.** The centre gives every producer a target ``T_e`` and allocates each
   product's planned supply (output, imports, stock) among its users: the producers' orders and
   final users, committed demand (government, investment, exports) first, households the rest.
2. **Execution** (:mod:`gosplan.execution.period`): capacities cut by the period's shocks,
   outputs the greatest fixed point under input shortages, deliveries in proportion to the
   allocations, stocks, spoilage, waste; the material balance of every product checked.
3. **Households** buy what reaches them (:mod:`gosplan.consumers`): at fixed prices with
   rationing, queues and a hidden market (``command``, ``liberman``) or at clearing prices
   (``optimal``).
4. **Reports** of output and capacity go up (truthful or understated), and the regime sets
   the next period's directive.

Regimes:

* ``command``: period 1 is the centre's taut material balance (the base-year mix of final
  demand scaled up until a reported capacity or a limited resource binds), broken down in
  proportion to reported capacity; then the centre believes the reports ``R`` but no more than
  ``(1 + g)`` times the achieved level (the most each enterprise made, or was first told to
  make): the ratchet (Weitzman 1980).
  Enterprises are paid a bonus for output against target, so a myopic one makes all it can;
  one that looks ahead holds output at its target (:mod:`gosplan.execution.behaviour`).
* ``liberman``: the same first period; then each enterprise's target is its share (by reported
  capacity) of last period's orders for its product, at most its reported capacity, the sales
  it expects: it makes what it expects to sell if that pays at the centre's fixed prices
  (``p_i >= a_e . p + p_e . w``, inputs and labour at fixed prices), nothing if it does not.
* ``optimal``: every period the centre solves the optimal plan (:func:`gosplan.plan`) with the
  households' targets, the reported capacities and limited resources, on the enterprises'
  aggregated technique; households buy at clearing prices and the targets are revised by the
  ``opportunity`` rule (:mod:`gosplan.cycle.revision`); reports truthful.

Fixed prices (``command``, ``liberman``) are the base-year labour values scaled so that the
first period's planned household goods cost the households' income (labour tokens: each
unit of labour earns one); every regime's indicators are valued at the base-year labour
values, so that they compare.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, PlanningError
from gosplan.execution.behaviour import Behaviour
from gosplan.execution.period import BALANCE_TOL, State, balance_error, carry_out, close, orders
from gosplan.execution.producers import Producers, leontief_solve
from gosplan.execution.result import Execution
from gosplan.execution.shocks import NoShocks, Shocks
from gosplan.model.economy import Economy
from gosplan.model.households import Households, utility

__all__ = ["execute", "REGIMES"]

REGIMES = ("command", "liberman", "optimal")
KEEP_ENTERPRISE_VALUES = 5_000_000
"""Producer-periods kept for the ``enterprises`` table (beyond, only the last period's)."""


class ExecutionError(PlanningError):
    """A period could not be carried out (the message names it)."""


def _aggregate_technique(producers: Producers, weights: np.ndarray) -> tuple[sp.csc_array, np.ndarray]:
    """``A'`` (``n x n``) and ``P'`` (``r x n``): each product's producers' techniques averaged
    with ``weights`` (equal weights where a product's are all zero)."""
    n = producers.n
    w = np.maximum(weights, 0.0)
    tot = producers.by_product(w)
    count = np.bincount(producers.product, minlength=n).astype(float)
    share = np.where(tot[producers.product] > 0, w / np.where(tot > 0, tot, 1.0)[producers.product],
                     1.0 / np.maximum(count[producers.product], 1.0))
    S = sp.csr_array((share, (np.arange(producers.E), producers.product)), shape=(producers.E, n))
    A = sp.csc_array((producers.inputs - producers.byproducts).T @ S)
    P = np.asarray((S.T @ producers.primary)).T
    return A, P


def _labour_values(economy: Economy) -> np.ndarray:
    """Base-year labour values on the table's technique, positive (a product without one at the
    median of the others; all ones without labour or with several techniques)."""
    from gosplan.planning.problem import labour_values

    return labour_values(economy) if economy.is_square else np.ones(economy.n_products)


def execute(
    economy: Economy,
    households: Households | None = None,
    *,
    regime: str = "optimal",
    periods: int = 12,
    hierarchy: Any = None,
    shocks: Shocks | None = None,
    behaviour: Behaviour | None = None,
    capacities: Any = None,
    resources: Any = None,
    committed: Any = None,
    targets: Any = None,
    hidden_share: float = 0.1,
    step: float = 1.0,
    method: str = "auto",
    plan_tol: float = 1e-5,
    monitoring: bool = True,
    escalate_after: int = 3,
    threshold: float = 0.5,
    progress: Callable[[int, str], None] | None = None,
) -> Execution:
    """Carry plans out for ``periods`` periods under ``regime`` (see the module).

    Parameters
    ----------
    economy:
        A square economy (:func:`gosplan.load`), with a hierarchy or without (one producer per
        product).
    households:
        Household groups; default the economy's own (:func:`gosplan.load_households`).
    regime:
        ``"command"``, ``"liberman"`` or ``"optimal"``.
    hierarchy:
        The chain of command; default the economy's own.
    shocks:
        :class:`~gosplan.execution.RandomShocks`, :func:`~gosplan.execution.read_shocks` or
        ``None`` (no shocks).
    behaviour:
        :class:`~gosplan.execution.Behaviour` (default: stocks kept, truthful, myopic).
    capacities:
        Capacities of the producers the hierarchy leaves implicit (``{product: capacity}``);
        default the table's gross output plus 5 %.
    resources, committed, targets:
        As :func:`gosplan.simulate`: limited resources, final demand other than households'
        (default the table's less the households' category), households' first targets.
    hidden_share:
        Share of each scarce consumer good diverted to the hidden market (fixed prices).
    step, method, plan_tol:
        The ``optimal`` regime's revision step, plan method and tolerance.
    monitoring, escalate_after, threshold:
        Run Cyberstride on every producer's series (:mod:`gosplan.monitoring`): alerts at
        posterior probability ``threshold``, escalated after ``escalate_after`` periods.
    progress:
        Called with ``(period, line)`` after each period.
    """
    start = time.perf_counter()
    from gosplan.consumers import clear, sell_at_fixed_prices
    from gosplan.cycle.indicators import gini, group_indicators
    from gosplan.io.households import load_households
    from gosplan.planning.problem import planning_problem

    if regime not in REGIMES:
        raise InvalidEconomyError(f"unknown regime {regime!r}; choose one of {', '.join(REGIMES)}")
    if periods < 1:
        raise InvalidEconomyError(f"periods must be at least 1, got {periods!r}")
    if not 0 <= hidden_share < 1:
        raise InvalidEconomyError(f"hidden_share must be in [0, 1), got {hidden_share!r}")
    if escalate_after < 1:
        raise InvalidEconomyError(f"escalate_after must be at least 1 period, got {escalate_after!r}")
    behaviour = behaviour or Behaviour()
    if not isinstance(behaviour, Behaviour):
        raise TypeError(f"behaviour must be a Behaviour, got {type(behaviour).__name__}")
    shocks = shocks if shocks is not None else NoShocks()
    producers = Producers.of(economy, hierarchy, capacities=capacities)
    shocks.start(producers.labels, producers.product, producers.products)
    hh = households if households is not None else load_households(economy)
    goods = hh.goods_in(economy.products)
    n, E = producers.n, producers.E
    is_good = np.zeros(n, dtype=bool)
    is_good[goods] = True

    from gosplan.cycle.simulate import committed_and_targets

    y_o, c0 = committed_and_targets(economy, hh, goods, committed, targets)
    values = _labour_values(economy)  # the yardstick of every indicator
    problem0 = planning_problem(economy, targets=np.zeros(n), resources=resources)
    available = problem0.available
    labour = producers.labour
    if labour is None and hh.budget is None:
        raise InvalidEconomyError("the households have no budgets and the economy no labour to pay them in: give budgets")

    K = producers.capacity
    pm = np.zeros(n, np.int64)
    pm[producers.product] = producers.ministry
    product_ministry = np.asarray(producers.ministries.astype(str))[pm]
    state = State.empty(producers)
    rows_out: list[dict[str, Any]] = []
    product_frames: list[pd.DataFrame] = []
    group_frames: list[pd.DataFrame] = []
    keep_all = E * periods <= KEEP_ENTERPRISE_VALUES
    ent: dict[str, list[np.ndarray]] = {k: [] for k in ("target", "output", "capacity", "reported", "limit", "stock")}
    series_output = np.full((periods, E), np.nan, dtype=np.float32)
    series_fulfil = np.full((periods, E), np.nan, dtype=np.float32)

    def full(c: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        out[goods] = c
        return out

    # ---------------------------------------------------------------- the centre
    reported = K.copy()
    regime_state: dict[str, Any] = {"c": full(c0), "margin": np.zeros(E)}
    centre = None
    if regime == "optimal":
        centre = _OptimalCentre(economy, hierarchy, producers, hh, goods, y_o, c0, resources, method, plan_tol, step,
                                available)
    p_fixed = None
    p_scale = 1.0
    failures: list[str] = []
    message = f"carried out {periods} periods"
    C = None
    T = x = None
    for t in range(1, periods + 1):
        t0 = time.perf_counter()
        factor = shocks.factors(t)
        K_eff = K * factor
        # ------------------------------------------------------------ directive
        try:
            if regime == "optimal":
                T, h_plan = centre.directive(centre.expected(reported, K))
                intent = T
            elif regime == "command":
                # the centre believes the reports, and no more than the ratchet: (1 + g) times
                # the achieved level, the most each enterprise made (or was first told to make)
                if t > 1:
                    regime_state["best"] = np.maximum(regime_state.get("best", T), x)
                belief = reported if t == 1 else np.minimum(reported, (1.0 + behaviour.ratchet) * regime_state["best"])
                T, h_plan = _balance_plan(producers, belief, y_o, regime_state["c"], available)
                intent = T if behaviour.holds_back else np.full(E, np.inf)
            else:  # liberman
                profitable = regime_state["margin"] >= -1e-9 * p_scale
                weights = np.where(profitable, reported, 0.0)
                if t == 1:
                    T, h_plan = _balance_plan(producers, reported, y_o, regime_state["c"], available)
                else:
                    T, h_plan = _sales_plan(producers, reported, y_o, regime_state["c"], p_fixed, available,
                                             weights=weights)
                intent = np.where(profitable, T, 0.0)
        except (PlanningError, InvalidEconomyError) as exc:
            if t == 1:
                raise
            # the centre repeats last period's directive (and says so)
            failures.append(f"period {t}: the centre could not plan ({exc}); last period's directive was repeated")
            intent = T if (regime != "command" or behaviour.holds_back) else np.full(E, np.inf)
            if regime == "liberman":
                intent = np.where(regime_state["margin"] >= -1e-9 * p_scale, T, 0.0)
        ceiling = np.minimum(intent, K_eff)
        if t == 1 and behaviour.buffer > 0:  # the normative stock held at the start
            state.input_stock = behaviour.buffer * producers.inputs.data * T[producers.pair_row]
        # allocations, in the order of the plan's priorities: the producers' norms for their
        # targets and committed demand first; then, from what is left, the households' planned
        # goods and the producers' orders beyond their norms (buffers topped up, hoarders' extra)
        # in proportion; stock beyond is offered to households. The plan balances.
        d_plan = orders(producers, state, T, behaviour)
        rows_p, cols_p = producers.pair_row, producers.inputs.indices
        norm = np.minimum(d_plan, np.maximum(producers.inputs.data * T[rows_p] - state.input_stock, 0.0))
        extra = d_plan - norm
        committed_pos = np.maximum(centre.committed if centre is not None else y_o, 0.0)
        h_plan = np.where(is_good, np.maximum(h_plan, 0.0), 0.0)
        # imports: what the targets' norms and the planned final uses need beyond their output
        # (the table's net imports: a product whose final demand is negative)
        made = producers.output_of(T)
        imports = np.maximum(producers.input_use(T) - made + committed_pos + h_plan, 0.0)
        planned_supply = made + imports + state.product_stock
        first = np.bincount(cols_p, weights=norm, minlength=n) + committed_pos
        second = np.bincount(cols_p, weights=extra, minlength=n) + h_plan
        with np.errstate(divide="ignore", invalid="ignore"):
            r1 = np.where(first > planned_supply, planned_supply / np.where(first > 0, first, 1.0), 1.0)
            left = np.maximum(planned_supply - r1 * first, 0.0)
            r2 = np.where(second > left, left / np.where(second > 0, second, 1.0), 1.0)
        d_plan = r1[cols_p] * norm + r2[cols_p] * extra
        committed_alloc = r1 * committed_pos
        spare = np.maximum(left - r2 * second, 0.0)
        household_alloc = r2 * h_plan + np.where(is_good, spare, 0.0)
        # ------------------------------------------------------------ execution
        opening_products = state.product_stock.copy()
        opening_inputs = np.bincount(producers.inputs.indices, weights=state.input_stock, minlength=n)
        flows = carry_out(producers, state, d_plan, ceiling, committed_alloc, household_alloc, imports, behaviour,
                          targets=T)
        x = flows.output
        t_exec = time.perf_counter() - t0
        # ------------------------------------------------------------ households
        labour_used = float(producers.primary_use(x)[labour]) if labour is not None else None
        B = hh.budgets(labour_used)
        supply_h = flows.household_delivered[goods]
        sale = market = None
        t1 = time.perf_counter()
        if regime == "optimal":
            market = clear(hh, supply_h, B, prices0=centre.start_prices())
            C = sp.csr_array(market.consumption)
            unsold_h = market.unsold
            prices_h = market.prices
        else:
            if p_fixed is None:
                planned_h = household_alloc[goods]
                p_fixed = values * (B.sum() / max(float(values[goods] @ planned_h), 1e-300))
                p_scale = float(np.max(p_fixed))
                regime_state["margin"] = p_fixed[producers.product] - producers.unit_costs(
                    p_fixed, _wages(producers, labour))
            sale = sell_at_fixed_prices(hh, supply_h, B, p_fixed[goods], hidden_share=hidden_share)
            C = sp.csr_array(sale.official + sale.hidden)
            unsold_h = sale.unsold
            prices_h = p_fixed[goods]
        t_market = time.perf_counter() - t1
        bought = supply_h - unsold_h
        unsold_full = full(unsold_h)
        spoiled, left_over = close(state, flows, unsold_full, behaviour)
        waste = spoiled + flows.input_waste
        closing_inputs = np.bincount(producers.inputs.indices, weights=state.input_stock, minlength=n)
        err = balance_error(
            opening_products, opening_inputs, producers.output_of(x), imports, flows.intermediate_use,
            flows.committed_delivered + full(bought), state.product_stock, closing_inputs, waste, flows.demand,
        )
        max_err = float(err.max(initial=0.0))
        if max_err > BALANCE_TOL:
            i = int(np.argmax(err))
            raise ExecutionError(
                f"period {t}: the material balance of {economy.products[i]!r} is off by {max_err:.2e} "
                "(relative): a defect of gosplan, please report it"
            )
        # ------------------------------------------------------------ reports
        if behaviour.reporting == "truthful":
            new_reported = K_eff.copy()
        else:
            # what it chose to make (or made), never more than it has: an enterprise holding
            # output at its target reports the target, one that makes all it can its capacity
            new_reported = np.minimum(K_eff, np.maximum(np.where(np.isfinite(intent), intent, K_eff), x))
        hidden = np.maximum(K_eff - new_reported, 0.0)
        # ------------------------------------------------------------ indicators
        val_p = values[producers.product]
        alloc_value = float(values @ flows.demand)
        unmet_i, unmet_f = flows.unmet_intermediate, flows.unmet_final
        out_value = float(val_p @ x)
        pop = hh.population
        groups = group_indicators(hh, C, B, values[goods], labour_used, None if sale is None else sale.unspent)
        bonus = behaviour.bonus_over * np.maximum(x - T, 0.0) - behaviour.bonus_under * np.maximum(T - x, 0.0)
        row: dict[str, Any] = {
            "period": t,
            "fulfilment": float(val_p @ np.minimum(x, T)) / max(float(val_p @ T), 1e-300),
            "targets_met": float(np.mean(x >= T * (1 - 1e-9))) if E else np.nan,
            "output": out_value,
            "shortage": float(values @ (unmet_i + unmet_f)) / max(alloc_value, 1e-300),
            "shortage_intermediate": float(values @ unmet_i) / max(alloc_value, 1e-300),
            "shortage_final": float(values @ unmet_f) / max(alloc_value, 1e-300),
            "producers_short": float(np.mean(flows.short_input)) if E else 0.0,
            "idle_capacity": float(val_p @ np.maximum(K_eff - x, 0.0)) / max(float(val_p @ K_eff), 1e-300),
            "hidden_reserves": float(val_p @ hidden) / max(float(val_p @ K_eff), 1e-300),
            "input_hoards": float(values @ closing_inputs) / max(out_value, 1e-300),
            "unsold_stock": float(values @ state.product_stock) / max(out_value, 1e-300),
            "waste": float(values @ waste) / max(out_value, 1e-300),
            "bonus": float(bonus @ val_p) / max(float(val_p @ T), 1e-300),
            "shock_share": float(np.mean(factor < 1.0)) if E else 0.0,
            "queue": 0.0, "forced_saving": 0.0, "hidden_share": 0.0, "hidden_premium": 0.0,
            "consumption_per_head": float(groups["consumption_per_head"] @ pop / pop.sum()),
            "welfare_per_head": float(groups["welfare_per_head"] @ pop / pop.sum()),
            "gini": gini(groups["consumption_per_head"].to_numpy(), pop),
            "labour_used": labour_used if labour_used is not None else np.nan,
            "balance_error": max_err,
            "fixed_point_solves": flows.fixed_point.policies,
            "execution_seconds": t_exec,
            "market_seconds": t_market,
        }
        if sale is not None:
            notional = np.asarray(sale.notional.sum(axis=0)).reshape(-1)
            row["queue"] = float(prices_h @ sale.queue) / max(float(prices_h @ notional), 1e-300)
            row["forced_saving"] = float(sale.forced_saving.sum()) / max(float(B.sum()), 1e-300)
            row["hidden_share"] = float(sale.hidden_share)
            row["hidden_premium"] = float(sale.hidden_premium)
        # ------------------------------------------------------------ next period
        t2 = time.perf_counter()
        if regime == "optimal":
            eg = float((B / B.sum()) @ np.log(np.maximum(utility(hh, C), 1e-300)))
            try:
                centre.revise(C, prices_h, supply_h, eg, reported=new_reported)
            except PlanningError as exc:
                centre.revised = False
                failures.append(f"period {t}: {exc}")
            if not centre.revised:
                failures.append(f"period {t}: the revision of the households' targets failed "
                                f"({centre.failure}); they were kept")
            row["plan_method"] = centre.last_method
        elif regime == "liberman":
            # sales targets: next period's households' goods are what they asked for at the fixed prices
            regime_state["c"] = full(np.asarray(sale.notional.sum(axis=0)).reshape(-1))
        row["planning_seconds"] = time.perf_counter() - t2
        rows_out.append(row)
        product_frames.append(pd.DataFrame({
            "period": t,
            "product": np.asarray(economy.products.astype(str)),
            "ministry": product_ministry,
            "target": producers.by_product(T),
            "output": producers.by_product(x),
            "byproduct": producers.output_of(x) - producers.by_product(x),
            "imports": imports,
            "capacity": producers.by_product(K_eff),
            "allocated": flows.demand,
            "delivered_share": flows.fixed_point.phi,
            "unmet_intermediate": unmet_i,
            "unmet_final": unmet_f,
            "intermediate_use": flows.intermediate_use,
            "final_use": flows.committed_delivered + full(bought),
            "stock": state.product_stock,
            "input_stock": closing_inputs,
            "waste": waste,
        }))
        groups.insert(0, "period", t)
        group_frames.append(groups)
        series_output[t - 1] = x
        with np.errstate(divide="ignore", invalid="ignore"):
            series_fulfil[t - 1] = np.where(T > 0, x / np.where(T > 0, T, 1.0), np.nan)
        if keep_all or t == periods:
            ent["target"].append(T.copy())
            ent["output"].append(x.copy())
            ent["capacity"].append(K_eff)
            ent["reported"].append(new_reported)
            ent["limit"].append(np.where(flows.short_input, flows.fixed_point.limit, -1))
            ent["stock"].append(np.bincount(producers.pair_row, weights=state.input_stock * values[producers.inputs.indices], minlength=E))
        reported = new_reported
        if progress is not None:
            progress(t, f"period {t}: fulfilment {row['fulfilment']:.2%}, shortage {row['shortage']:.2%}, "
                        f"waste {row['waste']:.2%}, hidden market {row['hidden_share']:.2%}")
    periods_frame = pd.DataFrame(rows_out)
    done = len(rows_out)
    if failures:
        message = f"{message}; " + "; ".join(failures)
    alerts = None
    if monitoring and done >= 3:
        alerts = _alerts(producers, series_output[:done], series_fulfil[:done], escalate_after, threshold)
    return Execution(
        regime=regime,
        economy=economy.meta.name,
        message=message,
        completed=done == periods,
        producers=producers,
        households=hh,
        behaviour=behaviour,
        shocks=shocks.describe(),
        periods=periods_frame,
        products=pd.concat(product_frames, ignore_index=True) if product_frames else pd.DataFrame(),
        groups=pd.concat(group_frames, ignore_index=True) if group_frames else pd.DataFrame(),
        enterprise_values={k: np.vstack(v) if v else np.zeros((0, E)) for k, v in ent.items()},
        enterprise_periods=np.arange(1, done + 1) if keep_all else np.array([done]),
        alerts=alerts,
        values=values,
        final_consumption=C,
        failures=tuple(failures),
        settings={"periods": periods, "hidden_share": hidden_share, "step": step, "method": method,
                  "plan_tol": plan_tol, "escalate_after": escalate_after, "threshold": threshold},
        seconds=time.perf_counter() - start,
    )


def _wages(producers: Producers, labour: int | None) -> np.ndarray:
    """Resource prices at which enterprises pay: labour at 1 (labour tokens), nothing else."""
    w = np.zeros(len(producers.resources))
    if labour is not None:
        w[labour] = 1.0
    return w


def _balance_plan(
    producers: Producers,
    reported: np.ndarray,
    y_o: np.ndarray,
    c: np.ndarray,
    available: np.ndarray,
    *,
    z: float | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The centre's taut material balance: ``g = (I - A')^{-1} (y_o + z c)`` with ``z`` as large
    as the capacities ``reported`` and the limited resources allow (or ``z`` as given: a plan
    by demand, which capacities may not meet); targets
    ``g`` split in proportion to ``weights`` (default ``reported``; a product whose weights are
    all zero by ``reported``), ``A'`` the techniques averaged with the same weights, so that
    the targets' inputs add up to ``A' g``. Returns the targets and the households' planned
    goods ``z c``."""
    if weights is None:
        weights = reported
    else:
        has = producers.by_product(weights) > 0
        weights = np.where(has[producers.product], weights, reported)
    A, P = _aggregate_technique(producers, weights)
    G = leontief_solve(A, np.column_stack([y_o, c]))
    g_o, g_c = G[:, 0], G[:, 1]
    cap = producers.by_product(reported)
    # taut: committed demand is planned whatever the capacities (a product it alone overloads
    # is planned beyond its capacity, and falls short when carried out); households get the
    # largest z the other products and the limited resources leave
    scale = max(float(np.max(np.abs(g_c), initial=0.0)), 1e-300)
    bounds = [np.inf]
    up = (g_c > 1e-12 * scale) & (g_o <= cap)
    if up.any():
        bounds.append(float(np.min((cap[up] - g_o[up]) / g_c[up])))
    if P.size:
        u_o, u_c = P @ g_o, P @ g_c
        lim = np.isfinite(available) & (u_c > 0) & (u_o <= available)
        if lim.any():
            bounds.append(float(np.min((available[lim] - u_o[lim]) / u_c[lim])))
    if z is None:
        z = min(bounds)
    if not np.isfinite(z):
        raise InvalidEconomyError("the centre's balance is unbounded: households' goods need no capacity and no limited resource")
    z = max(z, 0.0)
    g = np.maximum(g_o + z * g_c, 0.0)
    return producers.split(g, weights), z * np.maximum(c, 0.0)


def _sales_plan(
    producers: Producers,
    reported: np.ndarray,
    y_o: np.ndarray,
    demand: np.ndarray,
    prices: np.ndarray,
    available: np.ndarray,
    *,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Liberman's plan: the sales worth most at the fixed prices that the profitable
    enterprises' reported capacities and the limited resources allow, ``max p . s`` over
    ``(I - A') g - s >= y_o``, ``0 <= s <= demand``, ``g <= C`` (reported capacity of the
    profitable enterprises; a product none of them makes keeps all its producers'), ``P' g <=
    available``, by HiGHS; committed demand alone may overload a product or a resource (then
    its bound is what committed demand needs: taut, as in the balance)."""
    from scipy.optimize import linprog

    n = producers.n
    has = producers.by_product(weights) > 0
    weights = np.where(has[producers.product], weights, reported)
    A, P = _aggregate_technique(producers, weights)
    cap = producers.by_product(weights)
    I = sp.eye_array(n, format="csr")
    rows = [sp.hstack([-(I - A), I, -I])]  # -(I - A') g + s - u <= -y_o
    rhs = [-y_o]
    lim = np.flatnonzero(np.isfinite(available)) if P.size else np.zeros(0, np.int64)
    if lim.size:
        rows.append(sp.hstack([sp.csr_array(P[lim]), sp.csr_array((lim.size, 2 * n))]))
        rhs.append(available[lim])
    p = np.maximum(prices, 0.0)
    penalty = 1e3 * max(float(p.max(initial=0.0)), 1.0)
    args = dict(A_ub=sp.csr_array(sp.vstack(rows)), b_ub=np.concatenate(rhs),
                bounds=np.column_stack([np.zeros(3 * n), np.concatenate([cap, np.maximum(demand, 0.0),
                                                                         np.maximum(y_o, 0.0)])]))
    cost = np.concatenate([np.zeros(n), -p, np.full(n, penalty)])
    for how in ("highs", "highs-ipm"):  # HiGHS' dual simplex may end "Not Set" on this scaling
        res = linprog(cost, method=how, **args)
        if res.status == 0:
            break
    if res.status != 0:
        raise PlanningError(f"the sales plan (a linear program) failed: {res.message}")
    g = np.maximum(res.x[:n], 0.0)
    return producers.split(g, weights), np.maximum(res.x[n:2 * n], 0.0)


class _OptimalCentre:
    """The ``optimal`` regime's centre: the optimal plan with households' targets, revised by
    the ``opportunity`` rule (the machinery of :func:`gosplan.simulate`)."""

    def __init__(self, economy, hierarchy, producers, hh, goods, y_o, c0, resources, method, plan_tol, step, available):
        from gosplan.hierarchy import aggregate

        self.producers, self.hh, self.goods, self.y_o = producers, hh, goods, y_o
        self.n = producers.n
        h = hierarchy if hierarchy is not None else economy.hierarchy
        # the centre plans on the enterprises' technique averaged by their capacities
        self.economy = aggregate(economy, h, balance=False).economy if h is not None and h.n_enterprises else economy
        self.resources, self.method, self.plan_tol = resources, method, plan_tol
        self.available = available
        self.last_short = None
        self.stayed = self.ended = 0
        self.revised = False
        self.failure = ""
        self.committed = y_o
        self.floors = np.minimum(y_o, 0.0)
        self.target = np.asarray(c0, dtype=np.float64).copy()
        self.theta = float(step)
        self.prev_eg = -np.inf
        self.prices = None
        self.plan = None
        self.last_method = ""
        self.capacity = None

    def _capacities(self, reported: np.ndarray) -> np.ndarray:
        return self.producers.by_product(reported)

    def expected(self, reported: np.ndarray, nominal: np.ndarray) -> np.ndarray:
        """The capacity the centre expects next period from truthful reports: a producer below
        its nominal capacity stays there with the persistence the centre has seen (the share
        of producers short one period that were still short the next, with one prior
        observation each way), and is back at nominal otherwise."""
        short = reported < nominal * (1.0 - 1e-12)
        if self.last_short is not None:
            self.stayed += int((self.last_short & short).sum())
            self.ended += int((self.last_short & ~short).sum())
        self.last_short = short
        rho = (self.stayed + 1.0) / (self.stayed + self.ended + 2.0)
        return np.where(short, rho * reported + (1.0 - rho) * nominal, reported)

    def _plan(self, full: np.ndarray, cap: np.ndarray):
        from gosplan.cycle.simulate import plan_with_fallbacks

        kwargs = dict(objective="fulfilment", resources=self.resources, capacities=cap, floors=self.floors,
                      method=self.method, tol=self.plan_tol, explain=False)
        out = plan_with_fallbacks(self.economy, full, self.committed, **kwargs)
        if out.status.value == "numerical_error":
            # targets revised onto the production set's boundary leave programs so degenerate
            # that no solver passes gosplan's check: the same targets a hair inside
            out = plan_with_fallbacks(self.economy, full * (1.0 - 1e-5), self.committed, **kwargs)
        return out

    def _fit_committed(self, cap: np.ndarray) -> None:
        """Scale committed demand (its positive part; net imports stay) to what the capacities
        allow: ``s`` the plan ray of committed demand alone, less 1e-6 (households get nothing
        while it is below 1: they are the residual)."""
        from gosplan.planning import plan as make_plan

        pos, neg = np.maximum(self.y_o, 0.0), np.minimum(self.y_o, 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ray = make_plan(self.economy, targets=pos, committed=neg, resources=self.resources, capacities=cap,
                            floors=neg, objective="fulfilment", method=self.method, tol=self.plan_tol, explain=False)
        s = min(ray.class_fulfilment.values()) if ray.success and ray.class_fulfilment else 0.0
        s = min(1.0, s) * (1.0 - 1e-6)
        self.committed = neg + s * pos
        self.floors = neg

    def directive(self, reported: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cap = self._capacities(reported)
        self.capacity = cap
        self.committed, self.floors = self.y_o, np.minimum(self.y_o, 0.0)
        full = np.zeros(self.n)
        full[self.goods] = self.target
        out = self._plan(full, cap)
        if out.status.value == "infeasible":
            # the reports cannot carry committed demand: the shortfall is shared, committed
            # demand and the households' targets planned on one ray (as the period's deliveries
            # share a shortage in proportion), not committed demand first and households nothing
            pos, neg = np.maximum(self.y_o, 0.0), np.minimum(self.y_o, 0.0)
            self.committed, self.floors = neg, neg
            out = self._plan(full + pos, cap)
            if out.success and out.class_fulfilment:
                z = min(1.0, min(out.class_fulfilment.values()))
                self.committed = neg + z * pos * (1.0 - 1e-6)
        if out.status.value == "infeasible":
            self._fit_committed(cap)
            out = self._plan(full, cap)
        if not out.success:
            raise PlanningError(f"the plan is {out.status.value}: {out.message}")
        self.plan = out
        self.last_method = out.method
        g = np.maximum(np.asarray(out.gross_output, dtype=np.float64), 0.0)
        T = self.producers.split(g, reported)
        h = np.zeros(self.n)
        f = np.asarray(out.net_output, dtype=np.float64)
        h[self.goods] = np.maximum(f[self.goods] - self.committed[self.goods], 0.0)
        return T, h

    def start_prices(self):
        from gosplan.cycle.simulate import _start

        return _start(self.prices)

    def revise(self, C, prices, delivered, eg, *, reported) -> None:
        """The ``opportunity`` step over the constraints of this period's plan (its capacities
        and committed demand)."""
        self.revised = False
        from gosplan.cycle.revision import proximal_targets
        from gosplan.cycle.simulate import CLIP, MIN_STEP, SHRINK, _spending_elasticity
        from gosplan.planning.problem import planning_problem

        self.prices = prices
        p = np.asarray(prices, dtype=np.float64)
        ok = np.isfinite(p) & (p > 0)
        if not ok.any():
            return
        mid = float(np.median(p[ok]))
        p_rev = np.clip(np.where(ok, p, 2 * float(np.max(p[ok]))), mid / CLIP, mid * CLIP)
        sigma = _spending_elasticity(self.hh, C, np.nan_to_num(p, nan=0.0))
        cap = self.capacity
        if eg < self.prev_eg - 1e-12 * abs(self.prev_eg):
            self.theta = max(self.theta / 2, MIN_STEP)
        self.prev_eg = max(self.prev_eg, eg)
        feasible = np.maximum(np.asarray(delivered, dtype=np.float64), 0.0)
        self.revised = False
        for attempt in range(2):
            belief = planning_problem(self.economy, targets=np.zeros(self.n), resources=self.resources,
                                      capacities=cap, floors=self.floors, committed=self.committed)
            try:
                rev = proximal_targets(belief, self.goods, self.target, p_rev, sigma, self.theta,
                                       activity=self.plan.activity_level if self.plan is not None else None,
                                       feasible=np.where(feasible > 0, feasible, self.target))
            except PlanningError as exc:
                self.failure = str(exc)
                if attempt:
                    return  # the targets stay: next period's plan falls short of them
                self._fit_committed(cap)  # the new reports may not carry committed demand
                continue
            self.target = rev.targets * SHRINK
            self.revised = True
            return


def _alerts(producers: Producers, output: np.ndarray, fulfilment: np.ndarray, k: int, threshold: float) -> pd.DataFrame | None:
    """Cyberstride's alerts on every producer's output and fulfilment (output over target)."""
    from gosplan.monitoring import monitor_arrays

    return monitor_arrays(
        {"output": output, "fulfilment": fulfilment},
        enterprises=producers.labels, ministries=producers.ministries.astype(str)[producers.ministry],
        k=k, threshold=threshold,
    )

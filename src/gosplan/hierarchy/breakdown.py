"""The plan going down: gross output by product split among each product's enterprises.

Rules (``g_i`` the product's gross output, ``C_i = sum_{e: i(e)=i} C_e``):

* ``"proportional"``: ``x_e = C_e g_i / C_i``, every enterprise of a product at the same
  utilisation. Then the enterprises' inputs add up to the aggregated economy's:
  ``sum_e a_e x_e = sum_i (g_i / C_i) sum_{e: i(e)=i} C_e a_e = A' g``.
* ``"merit"``: each product's enterprises filled to capacity in order of unit cost
  ``c_e = a_e . pi + p_e . w`` (product prices ``pi``, resource prices ``w``; by
  default labour at 1 and everything else at 0, i.e. labour per unit; with a
  :class:`~gosplan.planning.PlanResult` its shadow prices), the last one partly: the
  least-cost dispatch ``min sum c_e x_e`` s.t. ``sum_e x_e = g_i``, ``0 <= x_e <= C_e``.

Either way ``0 <= x_e <= C_e`` and the targets of a product add up to ``g_i``: the
rounding left over is given to the enterprise of the product with the most room
(the largest, under the proportional rule). Products without enterprises are made by
their implicit producer at ``g_i``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location, TableFormatError
from gosplan.hierarchy._kernels import counting_order, exclusive_group_cumsum
from gosplan.hierarchy._techniques import Techniques
from gosplan.hierarchy.result import CACHE_ROWS, Breakdown
from gosplan.model.economy import Economy
from gosplan.model.hierarchy import Hierarchy
from gosplan.results import Status

__all__ = ["breakdown", "breakdown_levels", "RULES", "gross_output_of"]

RULES = ("proportional", "merit")


# --------------------------------------------------------------------------- the plan
def _read_plan_file(path: Path) -> pd.Series:
    """``product, gross_output`` (other columns ignored) from a CSV or Parquet file."""
    if not path.is_file():
        raise TableFormatError("plan file not found", Location(file=path))
    wanted = ["product", "gross_output"]
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise TableFormatError(f"cannot read parquet file: {exc}", Location(file=path)) from exc
        lines = None
    else:
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except Exception as exc:
            raise TableFormatError(f"cannot read CSV file: {exc}", Location(file=path)) from exc
        lines = np.arange(len(frame)) + 2  # header is line 1
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise TableFormatError(
            f"a plan file needs columns 'product' and 'gross_output' (as gosplan's plan.csv has); "
            f"missing {missing}, found {list(frame.columns)[:8]}",
            Location(file=path, line=None if lines is None else 1),
        )
    labels = frame["product"].astype(str).str.strip()
    raw = frame["gross_output"]
    values = pd.to_numeric(raw.astype(str).str.strip() if lines is not None else raw, errors="coerce")
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise TableFormatError(
            f"gross_output {raw.iloc[k]!r} is not a finite number",
            Location(file=path, line=None if lines is None else int(lines[k]), column="gross_output",
                     product=str(labels.iloc[k])),
        )
    series = pd.Series(values, index=pd.Index(labels.to_numpy(), dtype=object))
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        rows = np.flatnonzero(series.index == dup)
        where = ", ".join(str(int(lines[r])) if lines is not None else f"row {r + 1}" for r in rows)
        raise TableFormatError(f"product named twice (lines {where})", Location(file=path, product=str(dup)))
    series.attrs["file"] = str(path)
    series.attrs["lines"] = lines
    return series


def gross_output_of(economy: Economy, plan: Any, *, what: str = "plan") -> np.ndarray:
    """Gross output by product (in the economy's order) from a plan in any of its forms.

    ``plan``: a :class:`~gosplan.planning.PlanResult` or :class:`~gosplan.BalanceResult`
    (its ``gross_output``), an array of length ``n``, a Series or mapping
    ``{product: gross output}`` (products not named get 0), or the path of a
    ``product,gross_output`` table (CSV or Parquet, such as the CLI's ``plan.csv``;
    other columns are ignored).
    """
    from gosplan.io.keyed import align_keyed

    n = economy.n_products
    owner = f"economy {economy.meta.name!r}"
    if hasattr(plan, "gross_output") and hasattr(plan, "products"):
        products = pd.Index(plan.products)
        if not products.equals(economy.products):
            raise InvalidEconomyError(f"the {what} is for other products than those of {owner}")
        g = np.asarray(plan.gross_output, dtype=np.float64)
    elif isinstance(plan, (str, Path)):
        g = align_keyed(_read_plan_file(Path(plan)), economy.products, what="product", owner=owner)
    elif isinstance(plan, pd.Series) or isinstance(plan, Mapping):
        series = plan if isinstance(plan, pd.Series) else pd.Series(dict(plan), dtype=np.float64)
        g = align_keyed(series.astype(np.float64), economy.products, what="product", owner=owner)
    else:
        g = np.asarray(plan, dtype=np.float64)
        if g.shape != (n,):
            raise InvalidEconomyError(f"the {what} has shape {g.shape}, expected ({n},) (one gross output per product)")
    g = np.array(g, dtype=np.float64)
    bad = ~np.isfinite(g)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidEconomyError(f"the {what}'s gross output is {g[i]}", Location(product=str(economy.products[i])))
    return g


def _check_nonnegative(g: np.ndarray, h: Hierarchy, tol: float, notes: list[str], what: str) -> np.ndarray:
    """Tiny negatives (``|g_i| <= tol max|g|``) of products with enterprises become 0; larger
    ones are an error: enterprises cannot produce less than nothing."""
    cov = h.covered
    neg = cov & (g < 0)
    if not neg.any():
        return g
    scale = float(np.abs(g).max())
    real = neg & (g < -tol * scale)
    if real.any():
        i = int(np.flatnonzero(real)[0])
        raise InvalidEconomyError(
            f"the {what} gives gross output {g[i]:.6g}; enterprises cannot produce a negative amount",
            Location(product=str(h.products[i])),
        )
    g = g.copy()
    g[neg] = 0.0
    notes.append(f"{int(neg.sum())} tiny negative gross output(s) of products with enterprises set to 0")
    return g


# --------------------------------------------------------------------------- splits
def _fix_remainder(x: np.ndarray, cap: np.ndarray, ep: np.ndarray, target: np.ndarray, todo: np.ndarray) -> None:
    """Make ``bincount(ep, x)`` equal ``target`` on products ``todo`` to the last bit where
    floating point allows: the rounding left over goes to the enterprise with the most
    room (``r > 0``) or the largest target (``r < 0``). In place."""
    n = target.size
    for _ in range(4):
        r = np.where(todo, target - np.bincount(ep, weights=x, minlength=n), 0.0)
        if not r.any():
            return
        es = np.flatnonzero(r[ep] != 0)
        ri = r[ep[es]]
        room = np.where(ri > 0, cap[es] - x[es], x[es])
        best_room = np.full(n, -np.inf)
        np.maximum.at(best_room, ep[es], room)
        cand = es[room == best_room[ep[es]]]
        _, first = np.unique(ep[cand], return_index=True)
        best = cand[first]
        x[best] = np.clip(x[best] + r[ep[best]], 0.0, cap[best])


def _split_proportional(g: np.ndarray, h: Hierarchy, feasible: np.ndarray) -> np.ndarray:
    ep, C = h.enterprise_product, h.capacity
    cap = np.bincount(ep, weights=C, minlength=h.n_products)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cap > 0, np.minimum(g / np.where(cap > 0, cap, 1.0), 1.0), 0.0)
    ratio = np.where(feasible & (g < cap), ratio, np.where(cap > 0, 1.0, 0.0))
    x = C * ratio[ep]
    _fix_remainder(x, C, ep, g, feasible & (g < cap))
    return x


def _split_merit(g: np.ndarray, h: Hierarchy, feasible: np.ndarray, cost: np.ndarray) -> np.ndarray:
    ep, C = h.enterprise_product, h.capacity
    cap = np.bincount(ep, weights=C, minlength=h.n_products)
    by_cost = np.argsort(cost, kind="stable")  # ties: enterprise order
    order = by_cost[counting_order(ep[by_cost], h.n_products)]
    before = exclusive_group_cumsum(ep[order], C[order])
    x = np.empty_like(C)
    gi = g[ep[order]]
    x[order] = np.clip(gi - before, 0.0, C[order])
    full = ~(feasible & (g < cap))
    x[full[ep]] = C[full[ep]]
    _fix_remainder(x, C, ep, g, feasible & (g < cap))
    return x


def _shortfall(g: np.ndarray, h: Hierarchy, tol: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Products whose plan exceeds capacity by more than ``tol`` of the plan."""
    cap = np.bincount(h.enterprise_product, weights=h.capacity, minlength=h.n_products)
    short = h.covered & (g - cap > tol * np.abs(g))
    idx = np.flatnonzero(short)
    amount = g[idx] - cap[idx]
    order = np.argsort(-amount, kind="stable")
    idx, amount = idx[order], amount[order]
    frame = pd.DataFrame(
        {
            "product": np.asarray(h.products[idx].astype(str), dtype=object),
            "ministry": np.asarray(h.ministries.astype(str), dtype=object)[h.product_ministry[idx]],
            "planned": g[idx],
            "capacity": cap[idx],
            "shortfall": amount,
        }
    )
    return ~short, frame


def _prices(tech: Techniques, plan: Any, product_prices: Any, resource_prices: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """``(pi, w, words)`` of the merit order."""
    from gosplan.io.keyed import align_keyed

    eco = tech.economy
    owner = f"economy {eco.meta.name!r}"

    def vector(value: Any, labels: pd.Index, what: str) -> np.ndarray:
        if isinstance(value, (pd.Series, Mapping)):
            s = value if isinstance(value, pd.Series) else pd.Series(dict(value), dtype=np.float64)
            out = align_keyed(s.astype(np.float64), labels, what=what, owner=owner)
        else:
            out = np.asarray(value, dtype=np.float64).reshape(-1)
            if out.shape != (len(labels),):
                raise InvalidEconomyError(f"{what} prices have length {out.size}, expected {len(labels)}")
        if not np.isfinite(out).all():
            raise InvalidEconomyError(f"{what} prices must be finite")
        return out

    if product_prices is not None or resource_prices is not None:
        pi = np.zeros(tech.n) if product_prices is None else vector(product_prices, eco.products, "product")
        w = np.zeros(tech.r) if resource_prices is None else vector(resource_prices, eco.resources, "resource")
        return pi, w, "given prices"
    if hasattr(plan, "shadow_price") and hasattr(plan, "resource_price"):
        pi = np.asarray(plan.shadow_price, dtype=np.float64).reshape(-1)
        w = np.asarray(plan.resource_price, dtype=np.float64).reshape(-1)
        if pi.shape != (tech.n,) or w.shape != (tech.r,) or not (np.isfinite(pi).all() and np.isfinite(w).all()):
            raise InvalidEconomyError(
                f"the plan's shadow prices ({pi.size} products, {w.size} resources) do not price economy "
                f"{eco.meta.name!r} ({tech.n} products, {tech.r} resources): pass product_prices/resource_prices"
            )
        return pi, w, "the plan's shadow prices"
    if tech.labour is None:
        raise InvalidEconomyError(
            f"the merit order ranks enterprises by cost, and economy {eco.meta.name!r} has no labour "
            "resource to cost them by default: pass product_prices/resource_prices or a PlanResult"
        )
    w = np.zeros(tech.r)
    w[tech.labour] = 1.0
    return np.zeros(tech.n), w, "labour per unit"


# --------------------------------------------------------------------------- entry points
def breakdown(
    economy: Economy,
    plan: Any,
    *,
    hierarchy: Hierarchy | None = None,
    rule: str = "proportional",
    links: bool = False,
    allocations: bool = True,
    product_prices: Any = None,
    resource_prices: Any = None,
    tol: float = 1e-9,
) -> Breakdown:
    """Break a plan down: targets for every ministry and enterprise, and their inputs.

    Parameters
    ----------
    economy:
        A square economy (one technique per product).
    plan:
        Gross output by product: a :class:`~gosplan.planning.PlanResult`, a
        :class:`~gosplan.BalanceResult`, an array, a Series or mapping by product label,
        or the path of a ``product,gross_output`` table (the CLI's ``plan.csv``).
    hierarchy:
        The chain of command; default ``economy.hierarchy``.
    rule:
        ``"proportional"`` (equal utilisation; the enterprises' inputs then add up to the
        aggregated economy's ``A' g``) or ``"merit"`` (cheapest enterprises first).
    links:
        Also compute the supplier-user links (:func:`gosplan.hierarchy.supply_links`).
    allocations:
        Generate the input allocations ``a_e x_e``, ``p_e x_e`` and check that they add up
        (they are written by :meth:`Breakdown.write`). About ``E nnz(A) / n`` rows.
    product_prices, resource_prices:
        Prices of the merit order (by product and resource; array, Series or mapping).
        Default: the plan's shadow prices if ``plan`` is a PlanResult, else labour per unit.
    tol:
        A plan above capacity by at most ``tol`` of itself is met at capacity (a solver's
        rounding), not reported as a shortfall.

    Returns
    -------
    Breakdown
        Always returned: ``status`` is ``infeasible`` when some product's plan exceeds its
        enterprises' capacity (``shortfall`` names them); ``raise_for_status()`` raises then.
    """
    start = time.perf_counter()
    if rule not in RULES:
        raise ValueError(f"Invalid rule for breakdown: {rule!r}; choose one of {RULES}")
    if not (np.isfinite(tol) and 0 <= tol < 1):
        raise ValueError(f"tol must be in [0, 1), got {tol!r}")
    tech = Techniques.of(economy, hierarchy)
    h = tech.hierarchy
    notes: list[str] = []
    g = _check_nonnegative(gross_output_of(economy, plan), h, tol, notes, "plan")
    feasible, shortfall = _shortfall(g, h, tol)
    cap = h.product_capacity
    rounded = h.covered & feasible & (g > cap)
    if rounded.any():
        notes.append(
            f"{int(rounded.sum())} product(s) planned above capacity by at most {tol:g} of the plan are "
            f"met at capacity (largest excess {float((g - cap)[rounded].max()):.3g})"
        )
    words = ""
    if rule == "proportional":
        x = _split_proportional(g, h, feasible)
    else:
        pi, w, words = _prices(tech, plan, product_prices, resource_prices)
        x = _split_merit(g, h, feasible, tech.unit_costs(pi, w))
        notes.append(f"merit order by unit cost at {words}")
    return _assemble(tech, g, x, rule, shortfall, feasible, notes, links=links, allocations=allocations, start=start)


def breakdown_levels(
    economy: Economy,
    enterprise_output: Any,
    *,
    gross_output: Any = None,
    hierarchy: Hierarchy | None = None,
    links: bool = False,
    allocations: bool = True,
    tol: float = 1e-9,
) -> Breakdown:
    """The breakdown of enterprise levels decided elsewhere (two-level planning).

    Parameters
    ----------
    enterprise_output:
        ``x_e`` for every enterprise (``E``, in the hierarchy's order), ``0 <= x_e <= C_e``
        (up to ``tol`` of ``C_e``).
    gross_output:
        The product-level plan (any form :func:`breakdown` takes). Needed for the
        products without enterprises (their implicit producers make it); for the others
        it must equal the sum of their enterprises' levels within ``tol``. ``None``:
        the sums, when every product has enterprises.

    Other parameters as :func:`breakdown`. The result's ``rule`` is ``"levels"``.
    """
    start = time.perf_counter()
    tech = Techniques.of(economy, hierarchy)
    h = tech.hierarchy
    E = h.n_enterprises
    x = np.array(enterprise_output, dtype=np.float64).reshape(-1) if E else np.zeros(0)
    if x.shape != (E,):
        raise InvalidEconomyError(f"enterprise_output has shape {x.shape}, expected ({E},)")
    C = h.capacity
    bad = ~np.isfinite(x) | (x < 0) | (x > C + tol * C)
    if bad.any():
        e = int(np.flatnonzero(bad)[0])
        raise InvalidEconomyError(
            f"level {x[e]!r} of enterprise {h.enterprises[e]!r} is outside [0, capacity {C[e]:.6g}]",
            Location(key="enterprise", product=str(h.enterprises[e])),
        )
    x = np.minimum(x, C)
    sums = np.bincount(h.enterprise_product, weights=x, minlength=h.n_products)
    cov = h.covered
    if gross_output is None:
        if (~cov).any():
            i = int(np.flatnonzero(~cov)[0])
            raise InvalidEconomyError(
                f"gross_output is needed for the {int((~cov).sum())} product(s) without enterprises "
                f"(their implicit producers make it), e.g. {str(h.products[i])!r}"
            )
        g = sums
    else:
        given = gross_output_of(economy, gross_output, what="gross output")
        off = cov & (np.abs(given - sums) > tol * np.maximum(np.abs(given), np.abs(sums)) + 1e-300)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise InvalidEconomyError(
                f"the enterprises' levels add up to {sums[i]:.9g}, the gross output given is {given[i]:.9g}",
                Location(product=str(h.products[i])),
            )
        g = np.where(cov, sums, given)
    feasible, empty = _shortfall(np.zeros(h.n_products), h, tol)
    return _assemble(tech, g, x, "levels", empty, feasible, [], links=links, allocations=allocations, start=start)


def _assemble(
    tech: Techniques,
    g: np.ndarray,
    x: np.ndarray,
    rule: str,
    shortfall: pd.DataFrame,
    feasible: np.ndarray,
    notes: list[str],
    *,
    links: bool,
    allocations: bool,
    start: float,
) -> Breakdown:
    """Targets -> the Breakdown: inputs by product, allocations and links, with gosplan's checks."""
    h = tech.hierarchy
    n, r = tech.n, tech.r
    unc = tech.uncovered
    ep = h.enterprise_product
    # inputs by producing product: enterprises' own techniques, implicit producers the table's
    g_unc = np.zeros(n)
    g_unc[unc] = g[unc]
    U, V = tech.product_totals(x)
    U = sp.csr_array(U + tech.A @ sp.diags_array(g_unc))
    V = V + tech.P * g_unc[None, :]
    # the aggregated economy's plan A' g (capacity-weighted techniques)
    cap = np.bincount(ep, weights=h.capacity, minlength=n)
    usable = h.covered & (cap > 0)
    UC, _ = tech.product_totals(h.capacity)
    ratio = np.where(usable, g / np.where(usable, cap, 1.0), 0.0)
    aggregate_inputs = np.asarray(UC @ ratio).ravel() + np.asarray(tech.A @ np.where(usable, 0.0, g)).ravel()

    checks: dict[str, Any] = {}
    sums = np.bincount(ep, weights=x, minlength=n)
    met = h.covered & feasible & (g <= h.product_capacity)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(sums - g) / np.maximum(np.abs(g), np.finfo(float).tiny)
    checks["split_max_relative_error"] = float(rel[met].max(initial=0.0))
    checks["over_capacity"] = int((x > h.capacity).sum())

    status = Status.SOLVED if not len(shortfall) else Status.INFEASIBLE
    if len(shortfall):
        top = shortfall.iloc[0]
        message = (
            f"the plan exceeds capacity for {len(shortfall)} product(s); first {top['product']!r} "
            f"(ministry {top['ministry']!r}): planned {top['planned']:.6g}, capacity {top['capacity']:.6g}, "
            f"shortfall {top['shortfall']:.6g} {tech.economy.meta.units}"
        )
    else:
        message = (
            f"{rule} breakdown of {n:,} products to {h.n_ministries:,} ministries and "
            f"{h.n_enterprises:,} enterprises ({unc.size:,} implicit producers)"
        )

    totals = scale = None
    cache: dict[str, Any] = {}
    if allocations or links:
        totals = np.zeros(n + r)
        scale = np.zeros(n + r)
        blocks, rows = [], 0
        for node, inp, q in tech.allocation_blocks(x, g[unc]):
            totals += np.bincount(inp, weights=q, minlength=n + r)
            scale += np.bincount(inp, weights=np.abs(q), minlength=n + r)
            rows += q.size
            if blocks is not None:
                blocks.append((node, inp, q))
                if rows > CACHE_ROWS and not links:
                    blocks = None  # generated again when written
        if blocks is not None:
            cache["allocations"] = blocks
        expected = np.concatenate([np.asarray(U.sum(axis=1)).ravel(), V.sum(axis=1)])
        denom = np.maximum(scale, np.finfo(float).tiny)
        checks["allocation_rows"] = rows
        checks["allocations_vs_techniques"] = float((np.abs(totals - expected) / denom).max(initial=0.0))
        denom_agg = np.maximum(denom[:n], np.abs(aggregate_inputs))
        checks["allocations_vs_aggregate"] = float((np.abs(totals[:n] - aggregate_inputs) / denom_agg).max(initial=0.0))
        if checks["allocations_vs_techniques"] > 1e-9:
            status = Status.NUMERICAL_ERROR
            message = (
                f"gosplan's check failed: the allocations differ from the enterprises' techniques by "
                f"{checks['allocations_vs_techniques']:.2e} (relative)"
            )
    result = Breakdown(
        economy=tech.economy,
        hierarchy=h,
        rule=rule,
        status=status,
        message=message,
        gross_output=g,
        enterprise_output=x,
        shortfall=shortfall,
        product_inputs=U,
        product_primary=V,
        aggregate_inputs=aggregate_inputs,
        allocation_totals=totals if allocations else None,
        allocation_scale=scale if allocations else None,
        notes=tuple(notes),
        checks=checks,
        techniques=tech,
        _cache=cache,
    )
    if links and status is Status.SOLVED:
        from gosplan.hierarchy.links import supply_links

        found = supply_links(result)
        object.__setattr__(result, "links", found)
        checks.update(found.checks)
        if found.checks["links_max_imbalance"] > 1e-9:
            object.__setattr__(result, "status", Status.NUMERICAL_ERROR)
            object.__setattr__(
                result, "message",
                f"gosplan's check failed: deliveries differ from supplies or uses by "
                f"{found.checks['links_max_imbalance']:.2e} (relative)",
            )
    elif links:
        notes.append("no links: the plan exceeds capacity")
        object.__setattr__(result, "notes", tuple(notes))
    if checks.get("allocation_rows", 0) > CACHE_ROWS:
        cache.pop("allocations", None)  # kept for the links only; generated again when written
    object.__setattr__(result, "seconds", time.perf_counter() - start)
    return result

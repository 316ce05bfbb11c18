"""The HTML report of a simulation of the plan cycle with consumer feedback
(:func:`gosplan.simulate`): one self-contained file, inline CSS and SVG, nothing fetched.

What it shows, in order: headline figures; convergence (the largest price-ratio gap and the
largest target revision per period, log scale); shortage, unsold goods and the hidden market
over the periods; consumption and welfare per head by household group in the last period
(every group up to :data:`MAX_GROUPS`, population deciles beyond, said in the caption);
prices against the centre's valuations in the last period (a scatter, each good's name on
hover); the goods with the largest gap; the final indicators.

The input is the long frames of :class:`gosplan.cycle.result.Simulation` and its
``summary()`` (see :func:`simulation_html`); :meth:`Simulation.to_html` calls it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from gosplan.report.html import _e, _empty, _figure, _num, _table, _txt, page
from gosplan.report.svg import (
    GRID,
    INK,
    PALETTE,
    Series,
    _legend,
    _n,
    _svg_open,
    bar_chart,
    compact_number,
    format_number,
    format_percent,
    line_chart,
    nice_ticks,
)

__all__ = ["simulation_html", "write_simulation_html", "price_gaps", "MAX_GROUPS", "TOP_GOODS"]

#: up to this many household groups the group charts show every group; beyond, deciles
MAX_GROUPS = 20
#: rows of the table of the goods with the largest price/valuation gap
TOP_GOODS = 20

_INDICATORS = (
    ("gap", "price-ratio gap", format_number),
    ("change", "target change", format_number),
    ("fulfilment", "plan ray over households' targets", format_number),
    ("shortage", "shortage", format_percent),
    ("plan_shortfall", "plan shortfall", format_percent),
    ("queue", "queues", format_percent),
    ("unsold", "unsold", format_percent),
    ("forced_saving", "forced saving", format_percent),
    ("hidden_share", "hidden market share", format_percent),
    ("hidden_premium", "hidden market premium", format_percent),
    ("consumption_per_head", "consumption per head", format_number),
    ("welfare_per_head", "welfare per head", format_number),
    ("labour_per_head", "labour per head", format_number),
    ("gini", "Gini of consumption per head", format_number),
    ("eg_objective", "Eisenberg–Gale objective", format_number),
    ("labour_used", "labour used", format_number),
)


# --------------------------------------------------------------------------------- data
def price_gaps(prices: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The last period's goods with their price against the centre's valuation, largest
    gap first: ``product, name, price, valuation, ratio, gap``.

    ``ratio = (p_j / pi_j) / rbar`` with ``rbar = sum p c / sum pi c`` over the goods supplied
    (so a uniform scale of prices is no gap) and ``gap = |ratio - 1|``, as the ``gap`` of the
    periods table. Under ``fixed`` the price is the fixed price and the valuation equals it,
    so the hidden market's price stands in for the price where a good has one.
    """
    cols = ["product", "name", "price", "valuation", "ratio", "gap"]
    if prices is None or prices.empty:
        return pd.DataFrame(columns=cols)
    last = prices[prices["period"] == prices["period"].max()]
    p = last["price"].to_numpy(dtype=float)
    if rule == "fixed" and "hidden_price" in last:
        hidden = last["hidden_price"].to_numpy(dtype=float)
        p = np.where(np.isfinite(hidden), hidden, p)
    v = last["valuation"].to_numpy(dtype=float)
    c = last["supply"].to_numpy(dtype=float)
    ok = np.isfinite(p) & np.isfinite(v) & (v > 0) & (c > 0)
    ratio = np.full(len(last), np.nan)
    if ok.any():
        rbar = float(p[ok] @ c[ok]) / float(v[ok] @ c[ok])
        if rbar > 0:
            ratio[ok] = p[ok] / (rbar * v[ok])
    names = last["name"] if "name" in last else last["product"]
    out = pd.DataFrame({
        "product": last["product"].astype(str).to_numpy(), "name": names.astype(str).to_numpy(),
        "price": p, "valuation": v, "ratio": ratio, "gap": np.abs(ratio - 1.0),
    })
    return out.sort_values("gap", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def _group_view(groups: pd.DataFrame, max_groups: int) -> tuple[pd.DataFrame, str]:
    """The last period's groups (``label, consumption_per_head, welfare_per_head``), or their
    population deciles by consumption per head when there are more than ``max_groups``."""
    last = groups[groups["period"] == groups["period"].max()]
    if len(last) <= max_groups:
        frame = pd.DataFrame({
            "label": last["household"].astype(str).to_numpy(),
            "consumption_per_head": last["consumption_per_head"].to_numpy(dtype=float),
            "welfare_per_head": last["welfare_per_head"].to_numpy(dtype=float),
            "population": last["population"].to_numpy(dtype=float),
        })
        return frame, f"each of the {len(last):,} household groups"
    order = np.argsort(last["consumption_per_head"].to_numpy(dtype=float), kind="stable")
    pop = last["population"].to_numpy(dtype=float)[order]
    cons = last["consumption_per_head"].to_numpy(dtype=float)[order] * pop
    welf = last["welfare_per_head"].to_numpy(dtype=float)[order] * pop
    share = (np.cumsum(pop) - pop / 2) / pop.sum()  # each group in the decile its midpoint falls in
    decile = np.minimum((share * 10).astype(int), 9)
    rows = []
    for d in range(10):
        m = decile == d
        if m.any():
            rows.append({"label": f"D{d + 1}", "consumption_per_head": cons[m].sum() / pop[m].sum(),
                         "welfare_per_head": welf[m].sum() / pop[m].sum(), "population": pop[m].sum()})
    return pd.DataFrame(rows), (
        f"population deciles of the {len(last):,} household groups ranked by consumption per head "
        "(D1 poorest; each group in the decile its population midpoint falls in)"
    )


# ------------------------------------------------------------------------------- charts
def _log_chart(x: Sequence[str], series: Sequence[Series], *, title: str, desc: str) -> str:
    """Lines on a log10 y axis (zero or missing values leave a gap)."""
    logged = [
        Series(s.name, [math.log10(v) if v is not None and np.isfinite(v) and v > 0 else math.nan for v in s.values],
               s.colour, s.dash)
        for s in series
    ]

    def fmt(v: float) -> str:
        return format_number(10.0 ** v, 3)

    def tick(v: float) -> str:
        return f"1e{v:g}" if float(v).is_integer() else f"{10.0 ** v:.2g}"

    svg = line_chart(x, logged, title=title, value_format=fmt, y_title="log scale", desc=desc)
    # line_chart's ticks are labelled with compact_number; relabel them as powers of ten
    return _relabel_ticks(svg, tick)


def _relabel_ticks(svg: str, tick: Any) -> str:
    import re

    def sub(m: re.Match) -> str:
        try:
            value = _parse_compact(m.group(2))
        except ValueError:
            return m.group(0)
        return f'{m.group(1)}{tick(value)}</text>'

    return re.sub(r'(<text x="[^"]*" y="[^"]*" text-anchor="end" font-size="[^"]*">)([^<]*)</text>', sub, svg)


def _parse_compact(text: str) -> float:
    for suffix, size in (("tn", 1e12), ("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * size
    return float(text.replace("−", "-"))


def _scatter(points: pd.DataFrame, *, title: str, desc: str, width: float = 720, height: float = 420) -> str:
    """Price ratio (y) against valuation (x) per good, log axes when the values span over
    two orders of magnitude; the line ``price = valuation`` dotted; each point's name on hover."""
    pts = points[np.isfinite(points["x"]) & np.isfinite(points["y"]) & (points["x"] > 0) & (points["y"] > 0)]
    parts = _svg_open(width, height, title, desc)
    legend, legend_h = _legend([("good", PALETTE[0], "box"), ("price = valuation", INK, "dash:2 3")], 64, 18, width - 80)
    parts += legend
    left, top = 72.0, 18.0 + legend_h + 4
    w, h = width - left - 16, height - top - 44
    values = np.concatenate([pts["x"].to_numpy(), pts["y"].to_numpy()]) if len(pts) else np.array([1.0])
    lo, hi = float(values.min()), float(values.max())
    log = hi / lo > 100
    f = np.log10 if log else (lambda a: a)
    ticks = nice_ticks(float(f(lo)), float(f(hi)), 5) if hi > lo else [float(f(lo)) - 1, float(f(lo)) + 1]
    t0, t1 = ticks[0], ticks[-1]

    def X(v: float) -> float:
        return left + w * (float(f(v)) - t0) / (t1 - t0)

    def Y(v: float) -> float:
        return top + h * (1 - (float(f(v)) - t0) / (t1 - t0))

    def label(t: float) -> str:
        return (f"1e{t:g}" if float(t).is_integer() else f"{10.0 ** t:.2g}") if log else compact_number(t)

    for t in ticks:
        xx, yy = left + w * (t - t0) / (t1 - t0), top + h * (1 - (t - t0) / (t1 - t0))
        parts.append(f'<line x1="{_n(left)}" y1="{_n(yy)}" x2="{_n(left + w)}" y2="{_n(yy)}" stroke="{GRID}"/>')
        parts.append(f'<line x1="{_n(xx)}" y1="{_n(top)}" x2="{_n(xx)}" y2="{_n(top + h)}" stroke="{GRID}"/>')
        parts.append(f'<text x="{_n(left - 6)}" y="{_n(yy + 4)}" text-anchor="end">{_e(label(t))}</text>')
        parts.append(f'<text x="{_n(xx)}" y="{_n(top + h + 16)}" text-anchor="middle">{_e(label(t))}</text>')
    parts.append(f'<line x1="{_n(left)}" y1="{_n(top + h)}" x2="{_n(left + w)}" y2="{_n(top + h)}" stroke="{INK}"/>')
    parts.append(f'<line x1="{_n(left)}" y1="{_n(top)}" x2="{_n(left)}" y2="{_n(top + h)}" stroke="{INK}"/>')
    parts.append(f'<line x1="{_n(left)}" y1="{_n(top + h)}" x2="{_n(left + w)}" y2="{_n(top)}" stroke="{INK}" '
                 'stroke-dasharray="2 3"/>')
    parts.append(f'<text x="{_n(left + w / 2)}" y="{_n(height - 6)}" text-anchor="middle">'
                 f'valuation{" (log scale)" if log else ""}</text>')
    parts.append(f'<text transform="translate({_n(16)} {_n(top + h / 2)}) rotate(-90)" text-anchor="middle">'
                 f'price, rescaled{" (log scale)" if log else ""}</text>')
    for row in pts.itertuples(index=False):
        parts.append(
            f'<circle cx="{_n(X(row.x))}" cy="{_n(Y(row.y))}" r="4" fill="{PALETTE[0]}" fill-opacity="0.7">'
            f"<title>{_e(row.name)} ({_e(row.product)}): price {_e(format_number(row.y))}, valuation "
            f"{_e(format_number(row.x))}, gap {_e(format_percent(row.gap, 3))}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------- report
def simulation_html(
    summary: dict,
    periods: pd.DataFrame,
    prices: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    title: str | None = None,
    max_groups: int = MAX_GROUPS,
) -> str:
    """The self-contained HTML report of a simulation.

    Parameters
    ----------
    summary:
        :meth:`Simulation.summary` (``rule``, ``economy``, ``periods``, ``converged``,
        ``message``, ``final``, ``households``, ``goods``, ``seconds``, ...).
    periods, prices, groups:
        The :class:`~gosplan.cycle.result.Simulation` tables of the same names (the
        ``consumption`` table is not needed).
    title:
        The heading; by default the economy and the rule.
    max_groups:
        Up to this many groups the group charts show each; beyond, population deciles.
    """
    if not isinstance(summary, dict):
        raise TypeError(f"summary must be a dict, not {type(summary).__name__}")
    rule = str(summary.get("rule", ""))
    economy = summary.get("economy")
    if title is None:
        title = f"{economy}: plan cycle with consumer feedback ({rule})" if economy else f"Simulation ({rule})"
    n = len(periods)
    labels = [str(int(p)) for p in periods["period"]] if n else []
    sections = [
        ("headline", "Headline figures", _headline(summary, periods)),
        ("convergence", "1. Convergence", _convergence(labels, periods, rule)),
        ("shortage", "2. Shortage, unsold goods and the hidden market", _shortage(labels, periods, rule)),
        ("groups", "3. Household groups in the last period", _groups(groups, max_groups)),
        ("prices", "4. Prices against valuations in the last period", _prices(prices, rule)),
        ("final", "Final indicators", _final(periods)),
    ]
    ok = bool(summary.get("converged"))
    sub = " · ".join(_e(p) for p in (
        str(economy) if economy else "", f"rule {rule}", f"{n} period{'s' if n != 1 else ''}",
        "converged" if ok else "not converged",
    ) if p)
    return page(title, sub, sections)


def write_simulation_html(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Write :func:`simulation_html` (same arguments) to ``path`` as UTF-8; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(simulation_html(*args, **kwargs), encoding="utf-8")
    return path


def plan_objective(summary: dict) -> str:
    """Every period's plan objective as the summary's settings give it: ``fulfilment``, or
    ``harmony (value weights)``, ``harmony (unit weights)``, ``harmony (given weights)``."""
    settings = summary.get("settings") or {}
    objective = str(settings.get("objective", "—"))
    weights = settings.get("weights")
    return f"{objective} ({weights} weights)" if weights else objective


# ------------------------------------------------------------------------------ sections
def solved_by(periods: pd.DataFrame) -> str:
    """Who solved the periods' plans and target revisions, with how many periods each:
    ``plans: leontief (8); target revisions: leontief (7), clarabel (1)`` (``""`` when the
    table records neither; the fixed rule revises no targets)."""
    parts = []
    for key, what in (("plan_method", "plans"), ("revision_method", "target revisions")):
        if periods is None or key not in periods:
            continue
        named = periods[key].fillna("").astype(str)
        counts = named[named != ""].value_counts(sort=False)  # no revision under the fixed rule
        if counts.empty:
            continue
        parts.append(f"{what}: " + ", ".join(f"{name} ({int(k)})" for name, k in counts.items()))
    return "; ".join(parts)


def _headline(summary: dict, periods: pd.DataFrame | None = None) -> str:
    ok = bool(summary.get("converged"))
    rows = [
        f"<th>Economy</th>{_txt(summary.get('economy', '—'))}",
        f"<th>Rule</th>{_txt(summary.get('rule', '—'))}",
        f"<th>Plan objective</th>{_txt(plan_objective(summary))}",
        f'<th>Outcome</th><td><span class="status {"ok" if ok else "warn"}">'
        f"{'converged' if ok else 'not converged'}</span> {_e(summary.get('message', ''))}</td>",
        f"<th>Periods</th>{_num(summary.get('periods'))}",
        f"<th>Household groups</th>{_num(summary.get('households'))}",
        f"<th>Consumer goods</th>{_num(summary.get('goods'))}",
        f"<th>Time</th>{_num(summary.get('seconds'), lambda v: f'{format_number(v)} s')}",
    ]
    who = solved_by(periods)
    if who:
        rows.append(f"<th>Solved by</th>{_txt(who)}")
    if summary.get("failed_period") is not None:
        what = "Target revision failed in period" if summary.get("error") else "Plan failed in period"
        rows.append(f"<th>{what}</th>{_num(summary['failed_period'])}")
    return _table([], rows, cls="kv")


def _column(periods: pd.DataFrame, name: str) -> list[float]:
    if name not in periods:
        return [math.nan] * len(periods)
    return pd.to_numeric(periods[name], errors="coerce").astype(float).tolist()


def _convergence(labels: list[str], periods: pd.DataFrame, rule: str) -> str:
    if not labels:
        return _empty("No period was completed.")
    svg = _log_chart(
        labels,
        [Series("price-ratio gap", _column(periods, "gap")), Series("target change", _column(periods, "change"), dash="6 4")],
        title="Largest price-ratio gap and target revision per period (log scale)",
        desc="x: period; y: relative gap and relative change, log scale",
    )
    what = ("the clearing prices against the fixed prices" if rule == "fixed"
            else "the clearing prices against the centre's valuations "
            + ("(labour values)" if rule == "values" else "(the plan's shadow prices)"))
    return _figure(svg, f"The gap compares {what}: max |(p/π)/r̄ − 1| over the goods, r̄ the overall "
                        "price level. The target change is the largest relative revision of a household "
                        "target. The loop has converged when both are below the tolerance; zero shows as a gap.")


def _shortage(labels: list[str], periods: pd.DataFrame, rule: str) -> str:
    if not labels:
        return _empty("No period was completed.")
    series = [Series("shortage", _column(periods, "shortage")), Series("unsold", _column(periods, "unsold"))]
    if rule == "fixed":
        series += [Series("hidden market share", _column(periods, "hidden_share"), dash="6 4"),
                   Series("forced saving", _column(periods, "forced_saving"), dash="2 3")]
    else:
        series += [Series("hidden market share", _column(periods, "hidden_share"), dash="6 4")]
    svg = line_chart(labels, series, title="Shortage, unsold goods and hidden market per period", percent=True,
                     zero=True, desc="x: period; y: share of value")
    return _figure(svg, "Shortage: the value share of households' demand not served (the plan's shortfall "
                        "under clearing prices; queues under fixed prices). Unsold: the value share of the "
                        "supply nobody bought. Hidden market: the share of spending that went to the hidden "
                        "market (fixed prices only; zero where prices clear).")


def _groups(groups: pd.DataFrame, max_groups: int) -> str:
    if groups is None or groups.empty:
        return _empty("No period was completed.")
    view, what = _group_view(groups, max_groups)
    x = view["label"].tolist()
    cons = bar_chart(x, [Series("consumption per head", view["consumption_per_head"].tolist())],
                     title="Consumption per head by household group, last period", width=520, height=300)
    welf = bar_chart(x, [Series("welfare per head", view["welfare_per_head"].tolist(), colour=PALETTE[2])],
                     title="Welfare per head by household group, last period", width=520, height=300)
    return (f'<div class="pair">{_figure(cons, "Consumption per head at the base-year labour values.")}'
            f'{_figure(welf, "Welfare per head: the utility of what the group bought, in the same units.")}</div>'
            f'<p class="lead">The charts show {_e(what)}.</p>')


def _prices(prices: pd.DataFrame, rule: str) -> str:
    gaps = price_gaps(prices, rule)
    if gaps.empty:
        return _empty("No period was completed.")
    last = prices[prices["period"] == prices["period"].max()]
    rbar_ok = np.isfinite(gaps["ratio"])
    pts = pd.DataFrame({
        "product": gaps["product"], "name": gaps["name"], "x": gaps["valuation"],
        "y": gaps["ratio"] * gaps["valuation"], "gap": gaps["gap"],
    })[rbar_ok.to_numpy()]
    svg = _scatter(pts, title="Prices against valuations per consumer good, last period",
                   desc="x: the centre's valuation; y: the price rescaled to the valuations' level")
    against = {"opportunity": "the plan's shadow prices", "values": "labour values",
               "fixed": "the fixed prices (y: the hidden market's price where a good has one)"}.get(rule, "valuations")
    html = _figure(svg, f"Each point is a consumer good ({len(last):,} in all): its price, rescaled so that the "
                        f"goods supplied cost the same at prices and at valuations, against {against}. On the "
                        "dotted line the price equals the valuation; hover over a point for its name.")
    rows = [
        f"{_txt(r.name)}{_txt(r.product)}{_num(r.price)}{_num(r.valuation)}{_num(r.ratio)}{_num(r.gap, format_percent)}"
        for r in gaps.head(TOP_GOODS).itertuples(index=False)
    ]
    more = f"… {len(gaps) - TOP_GOODS:,} more goods" if len(gaps) > TOP_GOODS else ""
    html += "<h3>Goods with the largest gap</h3>" + _table(
        ["name", "product", "price", "valuation", "ratio", "gap"], rows, more=more,
        numeric=(False, False, True, True, True, True),
    )
    return html


def _final(periods: pd.DataFrame) -> str:
    if periods is None or periods.empty:
        return _empty("No period was completed.")
    last = periods.iloc[-1]
    rows = [f"<th>{_e(label)}</th>{_num(last[key], fmt)}" for key, label, fmt in _INDICATORS if key in periods]
    return _table([], rows, cls="kv")

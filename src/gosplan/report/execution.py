"""HTML reports of plans carried out (:func:`gosplan.execute`): one run, and runs compared.

Self-contained like every gosplan report (inline CSS and SVG, nothing fetched).

:func:`execution_report` shows, in order: headline figures; plan fulfilment; shortages, split
between those to producers (intermediate) and to final users; idle capacity, hidden reserves
and the shocks; waste and stocks; the households (hidden market, queues, forced saving,
consumption and welfare per head); Cyberstride's alerts by level and period; the products and
ministries with the largest shortages (by name); every indicator period by period.

:func:`comparison_report` draws the same indicators with one line per run (regime), on the
same axes: fulfilment, shortage, idle capacity, waste, hidden market, queues, consumption per
head and alerts; and a table of each run's means.

Every share is valued at the base-year labour values (the yardstick of every regime), so
that runs compare; the definitions are :data:`gosplan.execution.result.PERIOD_COLUMNS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gosplan.report.html import _e, _empty, _figure, _num, _table, _txt, page
from gosplan.report.svg import PALETTE, Series, bar_chart, format_number, format_percent, line_chart

__all__ = [
    "execution_report", "comparison_report", "write_execution_report", "shortage_products", "alerts_by_level",
    "TOP_PRODUCTS",
]

#: rows of the table of the products with the largest shortages
TOP_PRODUCTS = 20
#: ministries shown in the ministries' chart (the rest in the table)
TOP_MINISTRIES = 15
LEVELS = ("enterprise", "ministry", "centre")

_INDICATORS = (
    ("fulfilment", "fulfilment", True),
    ("targets_met", "producers that met their target", True),
    ("shortage", "shortage", True),
    ("shortage_intermediate", "shortage to producers", True),
    ("shortage_final", "shortage to final users", True),
    ("producers_short", "producers held back by an input", True),
    ("idle_capacity", "idle capacity", True),
    ("hidden_reserves", "hidden reserves", True),
    ("shock_share", "producers in a shock", True),
    ("input_hoards", "input stocks", True),
    ("unsold_stock", "unsold stock", True),
    ("waste", "waste", True),
    ("queue", "queues", True),
    ("forced_saving", "forced saving", True),
    ("hidden_share", "hidden market share", True),
    ("hidden_premium", "hidden market premium", True),
    ("consumption_per_head", "consumption per head", False),
    ("welfare_per_head", "welfare per head", False),
    ("gini", "Gini of consumption per head", False),
)


# --------------------------------------------------------------------------------- data
def _names(economy: Any, codes: Sequence[str]) -> list[str]:
    if economy is None:
        return [str(c) for c in codes]
    return [str(n) for n in economy.names_of(list(codes))]


def shortage_products(execution: Any, economy: Any = None) -> pd.DataFrame:
    """Every product's shortages over the run, largest first: ``product, name, ministry,
    unmet_intermediate, unmet_final, unmet, allocated, share`` (quantities valued at the
    base-year labour values and summed over the periods; ``share = unmet / allocated``)."""
    cols = ["product", "name", "ministry", "unmet_intermediate", "unmet_final", "unmet", "allocated", "share"]
    f = execution.products
    if f is None or f.empty:
        return pd.DataFrame(columns=cols)
    v = np.tile(np.asarray(execution.values, dtype=float), len(f) // len(execution.values))
    g = pd.DataFrame({
        "product": f["product"].astype(str).to_numpy(), "ministry": f["ministry"].astype(str).to_numpy(),
        "unmet_intermediate": f["unmet_intermediate"].to_numpy(dtype=float) * v,
        "unmet_final": f["unmet_final"].to_numpy(dtype=float) * v,
        "allocated": f["allocated"].to_numpy(dtype=float) * v,
    })
    s = g.groupby(["product", "ministry"], sort=False)[["unmet_intermediate", "unmet_final", "allocated"]].sum()
    s = s.reset_index()
    s["unmet"] = s["unmet_intermediate"] + s["unmet_final"]
    with np.errstate(divide="ignore", invalid="ignore"):
        s["share"] = np.where(s["allocated"] > 0, s["unmet"] / s["allocated"].where(s["allocated"] > 0, 1.0), np.nan)
    s.insert(1, "name", _names(economy, s["product"].tolist()))
    s = s.sort_values("unmet", ascending=False, kind="stable").reset_index(drop=True)
    return s[cols]


def alerts_by_level(execution: Any) -> pd.DataFrame:
    """Cyberstride's alert rows per period (index: every period of the run) and level
    (columns: enterprise, ministry, centre): a raising counts at ``enterprise``, an escalation
    at the level it reached."""
    periods = execution.periods["period"].astype(int).tolist() if len(execution.periods) else []
    out = pd.DataFrame(0, index=pd.Index(periods, name="period"), columns=list(LEVELS))
    a = execution.alerts
    if a is None or not len(a):
        return out
    counts = a.groupby(["period", "level"]).size().unstack(fill_value=0)
    for level in LEVELS:
        if level in counts:
            out[level] = counts[level].reindex(out.index, fill_value=0).astype(int)
    return out


def _col(periods: pd.DataFrame, name: str, x: Sequence[int] | None = None) -> list[float]:
    if name not in periods or periods.empty:
        return [math.nan] * (len(x) if x is not None else len(periods))
    values = pd.to_numeric(periods[name], errors="coerce").astype(float)
    if x is None:
        return values.tolist()
    return pd.Series(values.to_numpy(), index=periods["period"].astype(int).to_numpy()).reindex(list(x)).tolist()


def _labels(periods: pd.DataFrame) -> list[str]:
    return [str(int(p)) for p in periods["period"]] if len(periods) else []


# --------------------------------------------------------------------------- one run
def execution_report(execution: Any, economy: Any = None, *, title: str | None = None) -> str:
    """The self-contained HTML report of one run (:class:`gosplan.execution.Execution`).

    ``economy`` (the :class:`~gosplan.model.economy.Economy` the run was made on) gives the
    products their names; without it the tables show the products' codes.
    """
    ex = execution
    p = ex.periods
    labels = _labels(p)
    if title is None:
        title = f"{ex.economy}: plans carried out ({ex.regime})"
    sections = [
        ("headline", "Headline figures", _headline(ex)),
        ("fulfilment", "1. Plan fulfilment", _fulfilment(labels, p)),
        ("shortages", "2. Shortages", _shortages(labels, p)),
        ("capacity", "3. Capacity: idle, hidden, shocked", _capacity(labels, p)),
        ("waste", "4. Waste and stocks", _waste(labels, p)),
        ("households", "5. Households", _households(labels, p, ex.regime)),
        ("alerts", "6. Alerts (Cyberstride)", _alerts(labels, ex)),
        ("products", "7. Products with the largest shortages", _products(ex, economy)),
        ("ministries", "8. Ministries", _ministries(ex)),
        ("periods", "Period by period", _period_table(p)),
    ]
    n = len(p)
    sub = " · ".join(_e(s) for s in (
        str(ex.economy), f"regime {ex.regime}", f"{n} period{'s' if n != 1 else ''}",
        "completed" if ex.completed else "stopped early",
    ))
    return page(title, sub, sections)


def write_execution_report(path: str | Path, execution: Any, economy: Any = None, **kwargs: Any) -> Path:
    """Write :func:`execution_report` to ``path`` as UTF-8; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(execution_report(execution, economy, **kwargs), encoding="utf-8")
    return path


def _headline(ex: Any) -> str:
    ok = bool(ex.completed)
    shocks = ex.shocks or {}
    shock_text = {"none": "none", "file": f"from {shocks.get('file')} ({shocks.get('rows')} rows)"}.get(
        str(shocks.get("kind")),
        f"random: rate {shocks.get('rate')}, depth {shocks.get('depth')}, persistence {shocks.get('persistence')}, "
        f"seed {shocks.get('seed')}",
    )
    behaviour = ex.behaviour.to_dict() if hasattr(ex.behaviour, "to_dict") else dict(ex.behaviour or {})
    rows = [
        f"<th>Economy</th>{_txt(ex.economy)}",
        f"<th>Regime</th>{_txt(ex.regime)}",
        f'<th>Outcome</th><td><span class="status {"ok" if ok else "warn"}">'
        f"{'completed' if ok else 'stopped early'}</span> {_e(ex.message)}</td>",
        f"<th>Periods</th>{_num(len(ex.periods))}",
        f"<th>Producers</th>{_num(ex.producers.E)}",
        f"<th>Products</th>{_num(ex.producers.n)}",
        f"<th>Household groups</th>{_num(ex.households.H)}",
        f"<th>Shocks</th>{_txt(shock_text)}",
        f"<th>Behaviour</th>{_txt(', '.join(f'{k} {v}' for k, v in behaviour.items()))}",
        f"<th>Time</th>{_num(ex.seconds, lambda v: f'{format_number(v)} s')}",
    ]
    p = ex.periods
    if len(p):
        rows += [f"<th>Mean {_e(label)}</th>{_num(p[key].mean(), format_percent if share else format_number)}"
                 for key, label, share in _INDICATORS[:1] + _INDICATORS[2:3] + _INDICATORS[11:12] + _INDICATORS[14:15]
                 if key in p]
    return _table([], rows, cls="kv")


def _fulfilment(labels: list[str], p: pd.DataFrame) -> str:
    if not labels:
        return _empty("No period was carried out.")
    svg = line_chart(
        labels,
        [Series("fulfilment", _col(p, "fulfilment")),
         Series("producers that met their target", _col(p, "targets_met"), dash="6 4")],
        title="Plan fulfilment per period", percent=True, zero=True, reference=1.0, reference_label="100% (the plan)",
        y_title="% (of target value / of producers)", desc="x: period; y: share",
    )
    return _figure(svg, "Fulfilment: output up to each producer's target over the targets, both valued at base-year "
                        "labour values (100%: every target met). Producers that met their target: their share "
                        "of all producers, unweighted.")


def _shortages(labels: list[str], p: pd.DataFrame) -> str:
    if not labels:
        return _empty("No period was carried out.")
    svg = line_chart(
        labels,
        [Series("shortage, all", _col(p, "shortage")),
         Series("to producers (intermediate)", _col(p, "shortage_intermediate"), dash="6 4"),
         Series("to final users", _col(p, "shortage_final"), dash="2 3"),
         Series("producers held back by an input", _col(p, "producers_short"), colour=PALETTE[3], width=1.5)],
        title="Shortages per period", percent=True, zero=True, y_title="% of allocations (value)",
        desc="x: period; y: share of allocations not delivered",
    )
    return _figure(svg, "Shortage: the allocations (the producers' orders and the final users' shares) not delivered, "
                        "over all allocations, valued at base-year labour values; split into those owed to producers "
                        "(intermediate) and to final users (households, government, investment, exports): the two add "
                        "up to the whole. Producers held back: the share of producers whose output a missing input "
                        "limited (a count, not a value).")


def _capacity(labels: list[str], p: pd.DataFrame) -> str:
    if not labels:
        return _empty("No period was carried out.")
    svg = line_chart(
        labels,
        [Series("idle capacity", _col(p, "idle_capacity")),
         Series("hidden reserves", _col(p, "hidden_reserves"), dash="6 4"),
         Series("producers in a shock", _col(p, "shock_share"), dash="2 3", colour=PALETTE[3])],
        title="Idle capacity, hidden reserves and shocks per period", percent=True, zero=True,
        y_title="% of capacity (value) / of producers", desc="x: period; y: share",
    )
    return _figure(svg, "Idle capacity: capacity after the period's shocks not used, over that capacity (value). "
                        "Hidden reserves: capacity the enterprises did not report to the centre, over capacity "
                        "(value; zero with truthful reports). Producers in a shock: the share of producers whose "
                        "capacity a shock cut that period (a count).")


def _waste(labels: list[str], p: pd.DataFrame) -> str:
    if not labels:
        return _empty("No period was carried out.")
    svg = line_chart(
        labels,
        [Series("waste", _col(p, "waste")), Series("unsold stock", _col(p, "unsold_stock"), dash="6 4"),
         Series("input stocks (hoards)", _col(p, "input_hoards"), dash="2 3")],
        title="Waste and stocks per period", percent=True, zero=True, y_title="% of the period's output (value)",
        desc="x: period; y: share of output",
    )
    return _figure(svg, "Waste: output that spoiled and inputs wasted, over the period's output. Unsold stock: "
                        "finished goods held at the end of the period; input stocks: inputs held by producers (their "
                        "hoards); both over the period's output, valued at base-year labour values.")


def _households(labels: list[str], p: pd.DataFrame, regime: str) -> str:
    if not labels:
        return _empty("No period was carried out.")
    shares = line_chart(
        labels,
        [Series("hidden market share", _col(p, "hidden_share")), Series("queues", _col(p, "queue"), dash="6 4"),
         Series("forced saving", _col(p, "forced_saving"), dash="2 3")],
        title="Hidden market, queues and forced saving", percent=True, zero=True, y_title="%",
        width=520, height=300, desc="x: period; y: share",
    )
    per_head = line_chart(
        labels,
        [Series("consumption per head", _col(p, "consumption_per_head")),
         Series("welfare per head", _col(p, "welfare_per_head"), dash="6 4", colour=PALETTE[2])],
        title="Consumption and welfare per head", zero=True, y_title="base-year labour values per head",
        width=520, height=300, desc="x: period; y: value per head",
    )
    fixed = regime in ("command", "liberman")
    left = ("Hidden market share: hidden-market turnover over all household spending. Queues: households' unmet "
            "demand at the fixed prices over their demand (value). Forced saving: money they could not spend, over "
            "their income." + ("" if fixed else " Zero under the optimal regime: prices clear."))
    right = ("Consumption per head at base-year labour values; welfare per head: the money-metric utility of what "
             "households bought, in the same units (population-weighted means of the household groups).")
    return f'<div class="pair">{_figure(shares, left)}{_figure(per_head, right)}</div>'


def _alerts(labels: list[str], ex: Any) -> str:
    if ex.alerts is None:
        return _empty("Monitoring did not run (it needs at least three periods, and monitoring on).")
    counts = alerts_by_level(ex)
    if not len(counts):
        return _empty("No period was carried out.")
    colours = {"enterprise": PALETTE[0], "ministry": PALETTE[1], "centre": PALETTE[3]}
    svg = bar_chart(
        labels, [Series(level, counts[level].tolist(), colour=colours[level]) for level in LEVELS],
        title="Alerts per period by level", stacked=True, totals=True, y_title="alert rows",
        value_format=lambda v: f"{int(v):,}", desc="x: period of the change; y: number of alert rows",
    )
    total = counts.sum()
    return _figure(svg, "Cyberstride's alerts on every producer's output and fulfilment series: a raising counts at "
                        "the enterprise level in the period of the change it detected; an alert still open after "
                        f"{ex.settings.get('escalate_after', 3)} periods is escalated to the ministry, after twice "
                        "as long to the centre (a row at that level). In all: "
                        + ", ".join(f"{int(total[level]):,} at {level} level" for level in LEVELS) + ".")


def _products(ex: Any, economy: Any) -> str:
    frame = shortage_products(ex, economy)
    frame = frame[frame["unmet"] > 0]
    if frame.empty:
        return _empty("No product fell short in any period.")
    top = frame.head(TOP_PRODUCTS)
    rows = [
        f"{_txt(r.name)}{_txt(r.product)}{_txt(r.ministry)}{_num(r.unmet_intermediate)}{_num(r.unmet_final)}"
        f"{_num(r.unmet)}{_num(r.share, format_percent)}"
        for r in top.itertuples(index=False)
    ]
    more = f"… {len(frame) - TOP_PRODUCTS:,} more products fell short" if len(frame) > TOP_PRODUCTS else ""
    return ('<p class="lead">Allocations not delivered, summed over the periods and valued at base-year labour '
            "values; share: of the product's allocations.</p>"
            + _table(["product", "code", "ministry", "to producers", "to final users", "unmet", "share"], rows,
                     more=more, numeric=(False, False, False, True, True, True, True)))


def _ministries(ex: Any) -> str:
    m = ex.ministries_frame()
    if m is None or m.empty:
        return _empty("No period was carried out.")
    s = m.groupby("ministry", sort=False)[["output", "unmet_intermediate", "unmet_final", "waste"]].sum()
    s["unmet"] = s["unmet_intermediate"] + s["unmet_final"]
    s = s.sort_values("unmet", ascending=False, kind="stable").reset_index()
    top = s.head(TOP_MINISTRIES)
    svg = bar_chart(
        top["ministry"].astype(str).tolist(),
        [Series("to producers", top["unmet_intermediate"].tolist()),
         Series("to final users", top["unmet_final"].tolist())],
        title="Shortages by ministry over the run", stacked=True, y_title="base-year labour values",
        desc="x: ministry; y: allocations of its products not delivered, summed over the periods",
    )
    rows = [
        f"{_txt(r.ministry)}{_num(r.output)}{_num(r.unmet_intermediate)}{_num(r.unmet_final)}{_num(r.waste)}"
        for r in s.itertuples(index=False)
    ]
    caption = ("Allocations of each ministry's products that were not delivered, summed over the periods, valued "
               "at base-year labour values" + (f"; the {TOP_MINISTRIES} with the largest shortages" if len(s) >
                                               TOP_MINISTRIES else "") + ".")
    return _figure(svg, caption) + _table(
        ["ministry", "output", "unmet to producers", "unmet to final users", "waste"], rows,
        numeric=(False, True, True, True, True),
    )


def _period_table(p: pd.DataFrame) -> str:
    if p is None or p.empty:
        return _empty("No period was carried out.")
    keys = [(k, label, share) for k, label, share in _INDICATORS if k in p]
    rows = [
        f"{_num(int(r['period']))}"
        + "".join(_num(r[k], format_percent if share else format_number) for k, _, share in keys)
        for _, r in p.iterrows()
    ]
    table = _table(["period", *(label for _, label, _ in keys)], rows, numeric=(True,) * (len(keys) + 1))
    return f'<div style="overflow-x:auto">{table}</div>'


# --------------------------------------------------------------------------- runs compared
_COMPARED = (
    ("fulfilment", "Plan fulfilment", True, "output up to target over target (value)", "fulfilment"),
    ("shortage", "Shortages", True, "allocations not delivered over all allocations (value)", "shortage"),
    ("idle_capacity", "Idle capacity", True, "capacity after shocks not used, over capacity (value)", "idle cap."),
    ("waste", "Waste", True, "spoiled output and wasted inputs over the period's output (value)", "waste"),
    ("hidden_share", "Hidden market share", True, "hidden-market turnover over households' spending (fixed prices)",
     "hidden mkt"),
    ("queue", "Queues", True, "households' unmet demand at fixed prices over their demand (value)", "queues"),
    ("consumption_per_head", "Consumption per head", False, "households' consumption per head, base-year labour values",
     "cons./head"),
)


def comparison_report(
    runs: Mapping[str, Any],
    *,
    economy: Any = None,
    title: str | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """The self-contained HTML report of runs compared: ``runs`` maps a run's name to its
    :class:`~gosplan.execution.Execution`; one line per run in every chart, on the same axes.
    ``links`` maps a run's name to its own report (a relative path) for the table."""
    if not runs:
        raise ValueError("no runs to compare")
    names = list(runs)
    last = max((int(ex.periods["period"].max()) for ex in runs.values() if len(ex.periods)), default=0)
    x = list(range(1, last + 1))
    labels = [str(t) for t in x]
    eco_name = next(iter(runs.values())).economy
    if title is None:
        title = f"{eco_name}: regimes compared"
    colours = {name: PALETTE[k % len(PALETTE)] for k, name in enumerate(names)}
    dashes = (None, "6 4", "2 3", "10 3 2 3")

    def series(column: str) -> list[Series]:
        return [Series(f"{name} ({runs[name].regime})", _col(runs[name].periods, column, x), colour=colours[name],
                       dash=dashes[k % len(dashes)]) for k, name in enumerate(names)]

    figures = []
    if x:
        for column, head, share, definition, _ in _COMPARED:
            svg = line_chart(labels, series(column), title=f"{head} per period", percent=share, zero=True,
                             y_title="%" if share else "labour values per head", width=480, height=300,
                             desc=f"x: period; y: {definition}")
            figures.append(_wide_figure(svg, f"{head}: {definition}."))
        alert_series = []
        for k, name in enumerate(names):
            ex = runs[name]
            counts = alerts_by_level(ex).sum(axis=1) if ex.alerts is not None else pd.Series(dtype=float)
            alert_series.append(Series(f"{name} ({ex.regime})", counts.reindex(x).astype(float).tolist(),
                                       colour=colours[name], dash=dashes[k % len(dashes)]))
        svg = line_chart(labels, alert_series, title="Alerts per period (every level)", zero=True, y_title="alert rows",
                         value_format=lambda v: f"{v:,.0f}", width=480, height=300,
                         desc="x: period of the change; y: Cyberstride's alert rows")
        figures.append(_wide_figure(svg, "Alerts: Cyberstride's alert rows (raisings and escalations to ministry and "
                                    "centre) on the producers' output and fulfilment series, by the period of the "
                                    "change detected."))
    charts = f'<div class="pair">{"".join(figures)}</div>' if figures else _empty("No period was carried out.")
    sections = [
        ("runs", "Runs", _runs_table(runs, links)),
        ("charts", "Indicators per period, one line per run", charts),
        ("shortages", "Largest shortages by run", _shortages_by_run(runs, economy)),
    ]
    sub = " · ".join(_e(s) for s in (str(eco_name), f"{len(names)} runs: " + ", ".join(names),
                                     f"{last} period{'s' if last != 1 else ''}"))
    return page(title, sub, sections)


def _wide_figure(svg: str, caption: str) -> str:
    """A figure two to a row (the charts stay at their own size, legible)."""
    return f'<figure style="flex:1 1 460px;max-width:520px">{svg}<figcaption>{_e(caption)}</figcaption></figure>'


def _runs_table(runs: Mapping[str, Any], links: Mapping[str, str] | None) -> str:
    rows = []
    for name, ex in runs.items():
        p = ex.periods
        link = (f'<td><a href="{_e(links[name])}">{_e(name)}</a></td>' if links and name in links else _txt(name))
        means = "".join(_num(p[c].mean() if c in p and len(p) else math.nan, format_percent if share else format_number)
                        for c, _, share, _, _ in _COMPARED)
        n_alerts = len(ex.alerts) if ex.alerts is not None else math.nan
        rows.append(f"{link}{_txt(ex.regime)}{_num(len(p))}<td>{_e('completed' if ex.completed else 'stopped: ' + ex.message)}</td>"
                    f"{means}{_num(n_alerts)}")
    return ('<p class="lead">Means over each run\'s periods; every run met the same shocks. Shares are valued at '
            "base-year labour values, the same yardstick for every regime.</p>"
            + _table(["run", "regime", "periods", "outcome", *(short for *_, short in _COMPARED), "alerts"],
                     rows, numeric=(False, False, True, False) + (True,) * (len(_COMPARED) + 1)))


def _shortages_by_run(runs: Mapping[str, Any], economy: Any, k: int = 5) -> str:
    rows = []
    for name, ex in runs.items():
        frame = shortage_products(ex, economy)
        frame = frame[frame["unmet"] > 0].head(k)
        for r in frame.itertuples(index=False):
            rows.append(f"{_txt(name)}{_txt(r.name)}{_txt(r.product)}{_num(r.unmet)}{_num(r.share, format_percent)}")
    if not rows:
        return _empty("No product fell short in any run.")
    return (f'<p class="lead">Each run\'s {k} products with the largest allocations not delivered, summed over the '
            "periods (base-year labour values); share: of the product's allocations.</p>"
            + _table(["run", "product", "code", "unmet", "share"], rows, numeric=(False, False, False, True, True)))

"""Plotly figures of the dashboard, built from a published version's payload and the reports.

Every builder is a pure function from plain rows (the :mod:`gosplan.service.payload` tables,
report tuples) to a plotly.js figure ``{"data": [...], "layout": {...}}`` (or to the series it
plots), so that it can be tested against hand-computed values without a browser or a database.
The pages hand the figures to plotly.js as JSON; plotly (the Python package) is not imported.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PALETTE", "fulfilment_by_group", "fulfilment_figure", "resources_figure", "prices_figure",
    "sankey_figure", "ReportPoint", "plan_vs_reported", "plan_vs_reported_figure",
    "execution_ratio_figure", "directive_inputs_figure", "labour_price", "top_ministries",
]

#: Colours of the dashboard (the CSS uses the same ones).
PALETTE = ("#c0392b", "#2c6e9b", "#d68910", "#1e8449", "#7d3c98", "#17a589", "#a04000",
           "#5d6d7e", "#b7950b", "#2e4053", "#cb4335", "#5499c7", "#52be80", "#af7ac5")
RED, BLUE, GREY, GREEN = "#c0392b", "#2c6e9b", "#95a5a6", "#1e8449"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _layout(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "font": {"family": FONT, "size": 13, "color": "#222"},
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#fbfbfa",
        "hoverlabel": {"font": {"family": FONT}},
        "autosize": True,
    }
    base.update(extra)
    return base


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# ------------------------------------------------------------------------------------------------
# plan overview


def fulfilment_by_group(products: Iterable[Mapping[str, Any]], key: str = "ministry") -> list[dict[str, Any]]:
    """Fulfilment of the targets grouped by ``key`` (a product row's ministry by default).

    For each group, over its products with a positive target: ``final`` and ``target`` summed
    (in the economy's units), ``fulfilment = final / target``, the lowest product fulfilment and
    how many products fall short of their target (by more than one part in a million).
    Groups without any target are left out; rows come sorted by group label. Products without
    a group are put in the group ``"—"``.
    """
    acc: dict[str, dict[str, Any]] = {}
    for row in products:
        target = row.get("target")
        if not _finite(target) or target <= 0:
            continue
        final = float(row.get("final") or 0.0)
        g = str(row.get(key) or "—")
        a = acc.setdefault(g, {"group": g, "final": 0.0, "target": 0.0, "n": 0, "short": 0, "lowest": math.inf})
        a["final"] += final
        a["target"] += float(target)
        a["n"] += 1
        ratio = final / float(target)
        a["lowest"] = min(a["lowest"], ratio)
        if ratio < 1.0 - 1e-6:
            a["short"] += 1
    out = []
    for g in sorted(acc):
        a = acc[g]
        a["fulfilment"] = a["final"] / a["target"]
        out.append(a)
    return out


def fulfilment_figure(groups: Sequence[Mapping[str, Any]], *, names: Mapping[str, str] | None = None,
                      units: str = "") -> dict[str, Any]:
    """Horizontal bars of :func:`fulfilment_by_group` rows (percent), a line at 100 %.

    The lowest fulfilment is drawn on top (plotly stacks categories from the bottom up).
    """
    names = names or {}
    rows = sorted(groups, key=lambda a: (-a["fulfilment"], a["group"]))
    labels = [_label(a["group"], names) for a in rows]
    pct = [100.0 * a["fulfilment"] for a in rows]
    colours = [GREEN if a["fulfilment"] >= 1.0 - 1e-6 else (RED if a["fulfilment"] < 0.95 else "#d68910")
               for a in rows]
    text = [f"{p:.1f} %" for p in pct]
    custom = [[a["final"], a["target"], a["n"], a["short"], 100.0 * a["lowest"],
               _escape_template(_label(a["group"], names, 200))] for a in rows]
    u = f" {units}" if units else ""
    trace = {
        "type": "bar", "orientation": "h", "x": pct, "y": labels, "text": text, "textposition": "auto",
        "marker": {"color": colours}, "customdata": custom, "name": "fulfilment",
        "hovertemplate": "<b>%{customdata[5]}</b><br>fulfilment %{x:.2f} %<br>final %{customdata[0]:,.4~g}" + u
        + "<br>target %{customdata[1]:,.4~g}" + u + "<br>%{customdata[2]} products with a target, "
        "%{customdata[3]} short<br>lowest %{customdata[4]:.1f} %<extra></extra>",
    }
    top = max([100.0, *pct]) if pct else 100.0
    layout = _layout(
        height=max(240, 26 * len(rows) + 80),
        xaxis={"title": {"text": "final output / target (%)"}, "range": [0, top * 1.08], "ticksuffix": " %"},
        yaxis={"automargin": True},
        shapes=[{"type": "line", "x0": 100, "x1": 100, "yref": "paper", "y0": 0, "y1": 1,
                 "line": {"color": "#555", "dash": "dot", "width": 1}}],
        showlegend=False,
    )
    return {"data": [trace], "layout": layout}


def resources_figure(resources: Sequence[Mapping[str, Any]], *, units: str = "") -> dict[str, Any]:
    """Use of each limited resource as a percent of what is available; binding ones in red.

    Unlimited resources (``available`` None) are left out. The shadow price is in the hover.
    """
    rows = [r for r in resources if _finite(r.get("available")) and r["available"] > 0]
    labels = [str(r.get("name") or r["resource"]) for r in rows]
    pct = [100.0 * float(r.get("used") or 0.0) / float(r["available"]) for r in rows]
    colours = [RED if r.get("binding") else BLUE for r in rows]
    custom = [[float(r.get("used") or 0.0), float(r["available"]),
               float(r["price"]) if _finite(r.get("price")) else 0.0,
               "binding" if r.get("binding") else "slack"] for r in rows]
    trace = {
        "type": "bar", "x": labels, "y": pct, "marker": {"color": colours}, "customdata": custom,
        "text": [f"{p:.0f} %" for p in pct], "textposition": "auto", "name": "use",
        "hovertemplate": "<b>%{x}</b> (%{customdata[3]})<br>used %{customdata[0]:,.4~g} of "
        "%{customdata[1]:,.4~g}<br>shadow price %{customdata[2]:.4~g}<extra></extra>",
    }
    layout = _layout(
        height=240, yaxis={"title": {"text": "used / available (%)"}, "ticksuffix": " %",
                           "range": [0, max([100.0, *pct]) * 1.1]},
        xaxis={"automargin": True, "type": "category"}, showlegend=False,
        shapes=[{"type": "line", "y0": 100, "y1": 100, "xref": "paper", "x0": 0, "x1": 1,
                 "line": {"color": "#555", "dash": "dot", "width": 1}}],
    )
    return {"data": [trace], "layout": layout}


def top_prices(products: Iterable[Mapping[str, Any]], n: int = 15) -> list[Mapping[str, Any]]:
    """The ``n`` products with the highest price (ties by label), products without a price left out."""
    rows = [p for p in products if _finite(p.get("price"))]
    rows.sort(key=lambda p: (-float(p["price"]), str(p["product"])))
    return rows[:n]


def labour_price(resources: Iterable[Mapping[str, Any]]) -> float | None:
    """The shadow price of the resource ``labour`` when it is positive (finite), else None."""
    for r in resources:
        if str(r.get("resource")).lower() == "labour" and _finite(r.get("price")) and r["price"] > 0:
            return float(r["price"])
    return None


def prices_figure(products: Iterable[Mapping[str, Any]], *, n: int = 15, units: str = "",
                  per_labour: float | None = None, labour_unit: str = "labour") -> dict[str, Any]:
    """Horizontal bars of the ``n`` highest prices, labelled by the products' names.

    With ``per_labour`` (labour's shadow price, positive) the bars are the prices divided by it:
    labour per unit of product (``labour_unit`` per unit), the raw dual in the hover.
    """
    rows = top_prices(products, n)[::-1]  # highest on top
    names = [_short(str(p.get("name") or p["product"])) for p in rows]
    scale = per_labour if per_labour and per_labour > 0 else 1.0
    trace = {
        "type": "bar", "orientation": "h", "x": [float(p["price"]) / scale for p in rows], "y": names,
        "marker": {"color": BLUE}, "name": "price",
        "customdata": [[str(p["product"]), str(p.get("name") or p["product"]), str(p.get("ministry") or ""),
                        float(p["price"])] for p in rows],
        "hovertemplate": "<b>%{customdata[1]}</b> (%{customdata[0]})<br>ministry %{customdata[2]}"
        + ("<br>%{x:.4~g} " + _escape_template(labour_unit) + " per unit<br>shadow price %{customdata[3]:.4~g}"
           if scale != 1.0 or per_labour else "<br>price %{x:.4~g}") + "<extra></extra>",
    }
    title = f"{labour_unit} per unit (price / labour's price)" if per_labour else "shadow price per unit"
    layout = _layout(height=max(260, 24 * len(rows) + 70), showlegend=False,
                     xaxis={"title": {"text": title}, "exponentformat": "e", "tickformat": "~g"},
                     yaxis={"automargin": True})
    return {"data": [trace], "layout": layout}


def sankey_figure(flows: Iterable[Mapping[str, Any]], *, ministries: Sequence[str] | None = None,
                  names: Mapping[str, str] | None = None, units: str = "",
                  min_share: float = 0.0, max_nodes: int | None = None) -> dict[str, Any]:
    """A Sankey of flows between ministries: suppliers on the left, users on the right.

    Node ``i`` (``0 <= i < m``) is ministry ``i`` as a supplier, node ``m + i`` the same ministry
    as a user, so flows within a ministry and flows both ways between two ministries are drawn
    without cycles. ``ministries`` fixes the order (else the labels met in ``flows``, sorted);
    flows that are not positive and finite are left out (a Sankey cannot draw them), as are flows
    below ``min_share`` of the total (to keep a large economy readable). With ``max_nodes``, only the
    ``max_nodes - 1`` ministries with the largest flows (supplied plus used) are drawn, the others
    merged into one node :data:`OTHER` ("k other ministries").
    """
    names = dict(names or {})
    rows = [f for f in flows if _finite(f.get("value")) and f["value"] > 0]
    if ministries is None:
        ministries = sorted({str(f["source"]) for f in rows} | {str(f["target"]) for f in rows})
    if max_nodes is not None and len(ministries) > max_nodes:
        keep = top_ministries(rows, max_nodes - 1, among=ministries)
        known = set(ministries)
        other = OTHER
        names[other] = f"{len(ministries) - len(keep)} other ministries"
        merged: dict[tuple[str, str], float] = defaultdict(float)
        for f in rows:
            s, t = str(f["source"]), str(f["target"])
            if s in known and t in known:
                merged[(s if s in keep else other, t if t in keep else other)] += float(f["value"])
        rows = [{"source": s, "target": t, "value": v} for (s, t), v in merged.items()]
        ministries = [m for m in ministries if m in keep] + [other]
    index = {m: i for i, m in enumerate(ministries)}
    m = len(ministries)
    total = sum(float(f["value"]) for f in rows if str(f["source"]) in index and str(f["target"]) in index)
    source, target, value = [], [], []
    for f in rows:
        s, t = str(f["source"]), str(f["target"])
        if s not in index or t not in index:
            continue
        v = float(f["value"])
        if total > 0 and v < min_share * total:
            continue
        source.append(index[s])
        target.append(m + index[t])
        value.append(v)
    labels = [_label(x, names, 30) for x in ministries]
    colours = [PALETTE[i % len(PALETTE)] for i in range(m)]
    u = f" {units}" if units else ""
    node = {
        "label": labels + labels, "color": colours + colours, "pad": 12, "thickness": 16,
        "line": {"color": "#fff", "width": 0.5},
        "customdata": [[_escape_template(_label(x, names, 200)), "supplies"] for x in ministries]
        + [[_escape_template(_label(x, names, 200)), "uses"] for x in ministries],
        "hovertemplate": "<b>%{customdata[0]}</b> %{customdata[1]}<br>%{value:,.4~g}" + u + "<extra></extra>",
    }
    link = {
        "source": source, "target": target, "value": value,
        "color": [_alpha(colours[s], 0.35) for s in source],
        "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,.4~g}" + u + "<extra></extra>",
    }
    trace = {"type": "sankey", "orientation": "h", "arrangement": "snap", "node": node, "link": link,
             "valueformat": ",.4~g"}
    layout = _layout(height=max(380, 34 * m + 80), margin={"l": 10, "r": 10, "t": 30, "b": 10},
                     annotations=[
                         {"text": "supplies", "x": 0, "y": 1.06, "xref": "paper", "yref": "paper",
                          "showarrow": False, "xanchor": "left", "font": {"color": "#666"}},
                         {"text": "uses", "x": 1, "y": 1.06, "xref": "paper", "yref": "paper",
                          "showarrow": False, "xanchor": "right", "font": {"color": "#666"}}])
    return {"data": [trace], "layout": layout}


#: The node of the ministries a Sankey does not draw one by one.
OTHER = "…"


def top_ministries(flows: Iterable[Mapping[str, Any]], n: int, *, among: Sequence[str] | None = None) -> set[str]:
    """The ``n`` ministries with the largest positive flows, supplied plus used (ties by label)."""
    total: dict[str, float] = defaultdict(float)
    for f in flows:
        if _finite(f.get("value")) and f["value"] > 0:
            total[str(f["source"])] += float(f["value"])
            total[str(f["target"])] += float(f["value"])
    pool = list(among) if among is not None else list(total)
    return set(sorted(pool, key=lambda m: (-total.get(m, 0.0), m))[:n])


def directive_inputs_figure(inputs: Sequence[Mapping[str, Any]], *, names: Mapping[str, str] | None = None,
                            n: int = 15) -> dict[str, Any]:
    """An enterprise's largest input allocations (products in blue, resources in amber)."""
    names = names or {}
    rows = sorted((r for r in inputs if _finite(r.get("quantity"))),
                  key=lambda r: (-float(r["quantity"]), str(r["input"])))[:n][::-1]
    trace = {
        "type": "bar", "orientation": "h", "x": [float(r["quantity"]) for r in rows],
        "y": [_short(_label(str(r["input"]), names)) for r in rows],
        "marker": {"color": [BLUE if r.get("kind") == "product" else "#d68910" for r in rows]},
        "customdata": [[str(r["input"]), str(r.get("kind") or "")] for r in rows],
        "hovertemplate": "<b>%{y}</b> (%{customdata[0]}, %{customdata[1]})<br>%{x:,.4~g}<extra></extra>",
    }
    return {"data": [trace], "layout": _layout(height=max(220, 24 * len(rows) + 70), showlegend=False,
                                               yaxis={"automargin": True})}


# ------------------------------------------------------------------------------------------------
# plan against reported execution


@dataclass(frozen=True)
class ReportPoint:
    """What the series need of one report row."""

    id: int
    enterprise: str
    period: int
    output: float
    version: int | None = None
    capacity: float | None = None


def plan_vs_reported(targets: Mapping[int, Mapping[str, float]], reports: Iterable[ReportPoint],
                     groups: Mapping[str, str], *, version: int) -> dict[str, dict[str, list[Any]]]:
    """Planned output against reported output per group (ministry or enterprise) and period.

    ``targets[v][e]`` is enterprise ``e``'s target in plan version ``v``; ``groups[e]`` the group
    of each enterprise in scope (enterprises not in ``groups`` are ignored, reports included);
    ``version`` the version an enterprise is held to when its report names none (or one whose
    targets are not known), and when it did not report in a period.

    Of several reports of one enterprise for one period the latest (highest id) counts. For
    each period with at least one report in scope:

    - ``planned`` = the sum over all enterprises of the group of their targets, each in the
      version its report of that period names (else ``version``): an enterprise that did not
      report is still planned;
    - ``reported`` = the sum of the reported outputs;
    - ``capacity`` = the sum of the reported capacities (``None`` when no report gave one);
    - ``reporting`` = how many enterprises of the group reported.

    Returns ``{group: {"period": [...], "planned": [...], "reported": [...], "capacity": [...],
    "reporting": [...]}}`` with the groups sorted and, per group, every period in scope
    (sorted; a group without reports in a period shows ``reported`` 0).
    """
    latest: dict[tuple[str, int], ReportPoint] = {}
    for r in reports:
        if r.enterprise not in groups:
            continue
        key = (r.enterprise, r.period)
        if key not in latest or r.id > latest[key].id:
            latest[key] = r
    periods = sorted({p for _, p in latest})
    members: dict[str, list[str]] = defaultdict(list)
    for e, g in groups.items():
        members[g].append(e)
    base = targets.get(version, {})
    out: dict[str, dict[str, list[Any]]] = {}
    for g in sorted(members):
        series: dict[str, list[Any]] = {"period": [], "planned": [], "reported": [], "capacity": [],
                                        "reporting": []}
        for p in periods:
            planned = reported = 0.0
            capacity: float | None = None
            reporting = 0
            for e in members[g]:
                r = latest.get((e, p))
                held = targets.get(r.version, base) if r is not None and r.version is not None else base
                planned += float(held.get(e, base.get(e, 0.0)))
                if r is not None:
                    reporting += 1
                    reported += float(r.output)
                    if r.capacity is not None:
                        capacity = (capacity or 0.0) + float(r.capacity)
            series["period"].append(p)
            series["planned"].append(planned)
            series["reported"].append(reported)
            series["capacity"].append(capacity)
            series["reporting"].append(reporting)
        out[g] = series
    return out


def _total(series: Mapping[str, Mapping[str, list[Any]]]) -> dict[str, list[Any]]:
    periods = sorted({p for s in series.values() for p in s["period"]})
    planned = dict.fromkeys(periods, 0.0)
    reported = dict.fromkeys(periods, 0.0)
    for s in series.values():
        for p, a, b in zip(s["period"], s["planned"], s["reported"]):
            planned[p] += a
            reported[p] += b
    return {"period": periods, "planned": [planned[p] for p in periods],
            "reported": [reported[p] for p in periods]}


def plan_vs_reported_figure(series: Mapping[str, Mapping[str, list[Any]]], *, title: str = "",
                            units: str = "", show_capacity: bool = False) -> dict[str, Any]:
    """Reported output (bars) against the planned target (line) per period, summed over the groups.

    With ``show_capacity`` (one enterprise's view) the reported capacity is drawn as well.
    """
    total = _total(series)
    u = f" {units}" if units else ""
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": "reported output", "x": total["period"], "y": total["reported"],
         "marker": {"color": BLUE}, "hovertemplate": "period %{x}<br>reported %{y:,.4~g}" + u + "<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "name": "planned target", "x": total["period"],
         "y": total["planned"], "line": {"color": RED, "width": 2.5, "shape": "hv"},
         "hovertemplate": "period %{x}<br>planned %{y:,.4~g}" + u + "<extra></extra>"},
    ]
    if show_capacity:
        periods = total["period"]
        cap: dict[int, float | None] = dict.fromkeys(periods)
        for s in series.values():
            for p, c in zip(s["period"], s["capacity"]):
                if c is not None:
                    cap[p] = (cap[p] or 0.0) + c
        if any(v is not None for v in cap.values()):
            data.append({"type": "scatter", "mode": "markers", "name": "reported capacity", "x": periods,
                         "y": [cap[p] for p in periods], "marker": {"color": GREY, "symbol": "line-ew-open",
                                                                    "size": 18, "line": {"width": 3}},
                         "hovertemplate": "period %{x}<br>capacity %{y:,.4~g}" + u + "<extra></extra>"})
    xaxis: dict[str, Any] = {"title": {"text": "period"}}
    if len(total["period"]) <= 24:
        xaxis["dtick"] = 1
    layout = _layout(height=340, barmode="overlay", xaxis=xaxis,
                     yaxis={"title": {"text": units or "output"}, "rangemode": "tozero"},
                     legend={"orientation": "h", "y": 1.12, "x": 0})
    if title:
        layout["title"] = {"text": title, "font": {"size": 14}}
        layout["margin"] = {"l": 60, "r": 20, "t": 60, "b": 50}
    return {"data": data, "layout": layout}


def execution_ratio_figure(series: Mapping[str, Mapping[str, list[Any]]], *,
                           names: Mapping[str, str] | None = None,
                           order: Sequence[str] | None = None) -> dict[str, Any]:
    """Reported / planned (percent) per group and period, one line per group (in ``order``, else sorted)."""
    names = names or {}
    data = []
    keys = [g for g in order if g in series] if order is not None else sorted(series)
    for i, (g, s) in enumerate((g, series[g]) for g in keys):
        ratio = [100.0 * r / p if p > 0 else None for p, r in zip(s["planned"], s["reported"])]
        data.append({"type": "scatter", "mode": "lines+markers", "name": _label(g, names, 30),
                     "x": s["period"], "y": ratio, "line": {"color": PALETTE[i % len(PALETTE)], "width": 1.8},
                     "marker": {"size": 5},
                     "hovertemplate": "<b>" + _escape_template(_label(g, names, 200))
                     + "</b><br>period %{x}<br>%{y:.1f} % of plan<extra></extra>"})
    periods = {p for s in series.values() for p in s["period"]}
    xaxis: dict[str, Any] = {"title": {"text": "period"}}
    if len(periods) <= 24:
        xaxis["dtick"] = 1
    layout = _layout(height=360, xaxis=xaxis,
                     yaxis={"title": {"text": "reported / planned (%)"}, "ticksuffix": " %", "rangemode": "tozero"},
                     shapes=[{"type": "line", "y0": 100, "y1": 100, "xref": "paper", "x0": 0, "x1": 1,
                              "line": {"color": "#555", "dash": "dot", "width": 1}}],
                     legend={"font": {"size": 11}})
    return {"data": data, "layout": layout}


# ------------------------------------------------------------------------------------------------
# helpers


def _label(code: str, names: Mapping[str, str], n: int = 44) -> str:
    """``name (code)``, the name shortened so that the whole stays within ``n`` characters."""
    name = names.get(code)
    if code == OTHER and name:
        return name
    if not name or name == code:
        return str(code)
    return f"{_short(name, max(12, n - len(code) - 3))} ({code})"


def _short(s: str, n: int = 42) -> str:
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def _alpha(hex_colour: str, a: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return f"rgba({r},{g},{b},{a})"


def _escape_template(s: str) -> str:
    """``s`` safe inside a plotly hovertemplate (no ``%{...}`` substitutions)."""
    return s.replace("%{", "% {").replace("<", "&lt;").replace(">", "&gt;")

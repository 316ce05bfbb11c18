"""The HTML report of a multi-year plan: one self-contained file a planner can open, mail or
archive. Inline CSS and SVG only (no network, no fonts, no images); a few lines of optional
JavaScript sort the tables when a header is clicked, and nothing depends on them.

What it shows, in order: headline figures; four charts (the fulfilment path, output growth
by industry, capital growth and investment, labour use against supply with the labour
price), each with a caption saying what to read from it; a year-by-year table; the most
binding capital stocks; the products furthest below target; the solver's notes.

The input is the long-format frames of a multi-year plan result (see :func:`plan_html`).
Charts show only the ``top`` largest activities and capital goods and tables at most
:data:`TABLE_ROWS` rows with a "… N more" line, so a plan of 10,000 products gives a report
of some hundred kilobytes.
"""

from __future__ import annotations

import math
from html import escape
from numbers import Number
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from gosplan._version import __version__
from gosplan.report.labels import resource_label
from gosplan.report.svg import (
    INK,
    OTHER,
    PALETTE,
    Band,
    Series,
    bar_chart,
    format_number,
    format_percent,
    line_chart,
    small_multiples,
)

__all__ = ["plan_html", "write_plan_html", "COLUMNS", "TABLE_ROWS"]

#: the columns each frame must have (an empty frame may lack them)
COLUMNS: dict[str, tuple[str, ...]] = {
    "years": ("year", "fulfilment", "labour_supply", "labour_used", "labour_price", "weight"),
    "products": (
        "year",
        "product",
        "output",
        "intermediate",
        "accumulation",
        "consumption",
        "target",
        "fulfilment",
        "price",
    ),
    "activities": ("year", "activity", "level", "capacity", "labour"),
    "stocks": (
        "year",
        "product",
        "activity",
        "stock",
        "required",
        "investment",
        "depreciation",
        "rent",
    ),
}
_LABELS = {"year", "product", "activity"}
#: rows shown in the binding-stocks and below-target tables
TABLE_ROWS = 20
#: a fulfilment below 1 - this is "below target" (solver round-off is not a shortfall)
BELOW = 1e-9
#: the fulfilment chart's band is cut here (or at 1.1 x the plan ray, if higher)
FULFILMENT_CAP = 2.0
_KNOWN_SUMMARY = {"status", "objective", "method", "economy", "years", "seconds", "notes", "title"}


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _label(value: object) -> str:
    """A year, product or activity label as text (2026.0 -> ``2026``)."""
    if (
        isinstance(value, (float, np.floating))
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------- frames
def _frame(df: pd.DataFrame | None, name: str) -> pd.DataFrame:
    """A copy of the columns the report uses, numbers as floats (non-numbers -> NaN)."""
    columns = COLUMNS[name]
    if df is None:
        df = pd.DataFrame(columns=list(columns))
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, not {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing and len(df):
        raise ValueError(f"the {name} frame lacks the column(s) {', '.join(missing)}")
    out = pd.DataFrame(index=range(len(df)))
    for c in columns:
        if c not in df.columns:
            out[c] = pd.Series(dtype=object if c in _LABELS else float)
        elif c in _LABELS:
            out[c] = df[c].to_numpy(dtype=object)
        else:
            out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
    return out


def _year_order(summary: dict, frames: Sequence[pd.DataFrame]) -> list[Any]:
    """Year labels as they first appear in ``years``, else ``summary['years']``, then any
    year found only in the other frames."""
    order: list[Any] = []
    seen: set = set()

    def add(values: Iterable[Any]) -> None:
        for v in pd.unique(pd.Series(list(values), dtype=object)):
            if _missing(v):
                continue
            if v not in seen:
                seen.add(v)
                order.append(v)

    add(frames[0]["year"])
    if not order:
        add(summary.get("years") or [])
    for df in frames[1:]:
        add(df["year"])
    return order


def _index_years(df: pd.DataFrame, pos: dict) -> pd.DataFrame:
    df["t"] = df["year"].map(lambda v: pos.get(v, pos.get(str(v), -1)) if not _missing(v) else -1)
    return df[df["t"] >= 0]


def _per_year(df: pd.DataFrame, column: str, n: int) -> list[float]:
    """One value per year (the first row of each year), NaN where a year has none."""
    s = df.groupby("t", sort=True)[column].first()
    return [float(v) for v in s.reindex(range(n)).to_numpy(dtype=float)]


def _with_names(pf: pd.DataFrame, af: pd.DataFrame, sf: pd.DataFrame, names: Any) -> tuple:
    """The frames with product (and activity) labels replaced by names, one to one."""
    lookup = dict(names.items()) if hasattr(names, "items") else dict(names)
    codes = pd.unique(pd.concat([pf["product"], af["activity"], sf["product"], sf["activity"]], ignore_index=True))
    shown = {c: str(lookup.get(c) or c) for c in codes}
    if len(set(shown.values())) < len(shown):  # two products share a name: keep them apart
        shown = {c: (v if v == str(c) else f"{v} ({c})") for c, v in shown.items()}
    rename = lambda frame, *cols: frame.assign(**{c: frame[c].map(shown) for c in cols})  # noqa: E731
    return rename(pf, "product"), rename(af, "activity"), rename(sf, "product", "activity")


def _wide(df: pd.DataFrame, key: str, column: str, n: int) -> pd.DataFrame:
    """``key`` x year table of ``column`` summed (NaN where all values are missing)."""
    if df.empty:
        return pd.DataFrame(columns=range(n), dtype=float)
    w = df.groupby([key, "t"], sort=False)[column].sum(min_count=1).unstack("t")
    return w.reindex(columns=range(n)).astype(float)


def _first_column(wide: pd.DataFrame) -> int | None:
    """The first year with any finite value."""
    for t in wide.columns:
        if np.isfinite(wide[t].to_numpy(dtype=float)).any():
            return int(t)
    return None


def _at_first_prices(wide: pd.DataFrame, products: pd.DataFrame, t0: int) -> list[float] | None:
    """Totals per year of the rows of ``wide`` (indexed by product) valued at the product
    prices of year ``t0``, as an index relative to ``t0``; None when that value is not
    positive (no prices, or all zero)."""
    first = products[products["t"] == t0]
    if first.empty or wide.empty:
        return None
    prices = first.groupby("product", sort=False)["price"].first()
    p = prices.reindex(wide.index).to_numpy(dtype=float)
    vals = wide.to_numpy(dtype=float)
    ok = np.isfinite(p) & np.isfinite(vals[:, t0])
    if not ok.any():
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        totals = np.nansum(vals[ok] * p[ok, None], axis=0)
    base = totals[t0]
    if not (math.isfinite(base) and base > 0):
        return None
    return [float(v) / base for v in totals]


def _plain_index(wide: pd.DataFrame, t0: int) -> list[float]:
    with np.errstate(invalid="ignore", over="ignore"):
        totals = np.nansum(wide.to_numpy(dtype=float), axis=0)
    base = totals[t0] if len(totals) else math.nan
    if not (math.isfinite(base) and base > 0):
        return [math.nan] * wide.shape[1]
    return [float(v) / base for v in totals]


def _top_index(wide: pd.DataFrame, t0: int, top: int) -> list[tuple[str, list[float]]]:
    """The ``top`` rows largest in year ``t0`` (finite, positive), each as an index."""
    base = wide[t0]
    base = base[np.isfinite(base.to_numpy(dtype=float)) & (base > 0)]
    chosen = base.nlargest(top, keep="first")
    rows = wide.loc[chosen.index].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        index = rows / chosen.to_numpy(dtype=float)[:, None]
    return [(_label(k), [float(v) for v in row]) for k, row in zip(chosen.index, index)]


# ------------------------------------------------------------------------------- tables
def _num(value: object, fmt=format_number) -> str:
    v = _float(value)
    key = (
        ""
        if math.isnan(v)
        else ("Infinity" if v == math.inf else "-Infinity" if v == -math.inf else repr(v))
    )
    return f'<td class="num" data-v="{key}">{_e(fmt(value))}</td>'


def _txt(value: object) -> str:
    return f"<td>{'—' if value is None else _e(_label(value))}</td>"


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _table(
    headers: Sequence[str],
    rows: Sequence[str],
    *,
    more: str = "",
    cls: str = "sortable",
    numeric: Sequence[bool] = (),
) -> str:
    head = "".join(
        f"<th{' class=num' if k < len(numeric) and numeric[k] else ''}>{_e(h)}</th>"
        for k, h in enumerate(headers)
    )
    head = head.replace("<th class=num>", '<th class="num">')
    parts = [
        f'<table class="{cls}">'
        + (f"<thead><tr>{head}</tr></thead>" if headers else "")
        + "<tbody>"
    ]
    parts += [f"<tr>{row}</tr>" for row in rows]
    parts.append("</tbody>")
    if more:
        parts.append(
            f'<tfoot><tr><td colspan="{len(headers)}" class="more">{_e(more)}</td></tr></tfoot>'
        )
    parts.append("</table>")
    return "".join(parts)


def _more(n: int, what: str) -> str:
    return f"… {n:,} more {what}" if n > 0 else ""


def _seconds(value: object) -> str:
    v = _float(value)
    return "—" if math.isnan(v) else f"{format_number(v)} s"


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, bool, Number, np.generic))


# ------------------------------------------------------------------------------- report
def plan_html(
    summary: dict,
    years: pd.DataFrame,
    products: pd.DataFrame,
    activities: pd.DataFrame,
    stocks: pd.DataFrame,
    *,
    title: str | None = None,
    top: int = 12,
    names: Any = None,
) -> str:
    """The self-contained HTML report of a multi-year plan.

    Parameters
    ----------
    summary:
        JSON-able facts of the solve: ``status``, ``objective``, ``method``, ``economy``,
        ``years`` (labels), ``seconds``, ``notes`` (list of text); other scalar keys are
        shown in a small table.
    years:
        One row per year: ``year``, ``fulfilment`` (the plan ray ``z_t``, NaN without
        targets), ``labour_supply``, ``labour_used``, ``labour_price``, ``weight``.
    products:
        One row per (year, product): ``year``, ``product``, ``output``, ``intermediate``,
        ``accumulation``, ``consumption``, ``target`` (0 = none), ``fulfilment``,
        ``price``.
    activities:
        One row per (year, activity): ``year``, ``activity``, ``level``, ``capacity``
        (inf where no stock limits it), ``labour``.
    stocks:
        One row per (year, capital good, holding activity): ``year``, ``product``,
        ``activity``, ``stock``, ``required``, ``investment``, ``depreciation``, ``rent``;
        may be empty (or None) for a plan without capital.
    title:
        The report's heading; by default the economy and the years.
    top:
        How many activities (and capital goods, at most 7 colours) the charts show.
    names:
        The products' names (a Series or mapping from label to name, such as
        :attr:`Economy.product_names`): tables and charts then show names instead of labels
        (``"name (label)"`` where two products share a name). Activities named like a
        product take its name.

    Years are ordered as they first appear in ``years``. Missing values show as an em
    dash, infinite ones as ``∞``; every label is HTML-escaped.
    """
    if not isinstance(summary, dict):
        raise TypeError(f"summary must be a dict, not {type(summary).__name__}")
    top = int(top)
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    frames = [
        _frame(df, name)
        for df, name in zip(
            (years, products, activities, stocks), ("years", "products", "activities", "stocks")
        )
    ]
    order = _year_order(summary, frames)
    pos: dict = {v: k for k, v in enumerate(order)}
    pos.update({str(v): k for k, v in enumerate(order) if str(v) not in pos})
    yf, pf, af, sf = (_index_years(df, pos) for df in frames)
    if names is not None:
        pf, af, sf = _with_names(pf, af, sf, names)
    n = len(order)
    labels = [_label(v) for v in order]

    economy = summary.get("economy")
    if title is None:
        span = f"{labels[0]}–{labels[-1]}" if n > 1 else (labels[0] if n else "")
        title = f"{economy}: plan {span}".strip() if economy else f"Plan {span}".strip()

    sections: list[tuple[str, str, str]] = []  # (id, heading, body)
    sections.append(("headline", "Headline figures", _headline(summary, labels, pf, af, sf)))
    sections.append(("fulfilment", "1. Fulfilment path", _fulfilment_chart(labels, yf, pf)))
    sections.append(("output", "2. Output growth by industry", _output_chart(labels, af, pf, top)))
    sections.append(("capital", "3. Capital and investment", _capital_charts(labels, sf, pf, top)))
    sections.append(("labour", "4. Labour", _labour_charts(labels, yf)))
    sections.append(("years", "Year by year", _years_table(labels, yf, pf)))
    sections.append(("binding", "Most binding capital stocks", _binding_table(sf, labels)))
    sections.append(("shortfalls", "Products furthest below target", _shortfall_table(pf, labels)))
    sections.append(("notes", "Notes", _notes(summary.get("notes"))))

    status = str(summary.get("status", "unknown"))
    sub = " · ".join(
        _e(p)
        for p in (
            str(economy) if economy else "",
            f"status {status}",
            f"{n} year{'s' if n != 1 else ''}" if n else "no years",
            f"method {summary['method']}" if summary.get("method") else "",
        )
        if p
    )
    return page(title, sub, sections)


def page(title: str, sub: str, sections: list[tuple[str, str, str]]) -> str:
    """A self-contained report page: header (``title``, the already escaped ``sub``), a link
    to each ``(id, heading, html)`` section, the sections, the footer, the sorting script."""
    nav = " ".join(f'<a href="#{sid}">{_e(head)}</a>' for sid, head, _ in sections)
    body = "".join(
        f'<section id="{sid}"><h2>{_e(head)}</h2>{html}</section>' for sid, head, html in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="sub">{sub}</p><nav>{nav}</nav></header>'
        f"<main>{body}</main>"
        f"<footer>Made by gosplan {_e(__version__)}. Self-contained: no scripts, fonts or "
        "images are loaded from anywhere. Hover over a chart's marks for their values; click "
        "a table header to sort.</footer>"
        f"<script>{_JS}</script></body></html>\n"
    )


def write_plan_html(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Write :func:`plan_html` (same arguments) to ``path`` as UTF-8; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan_html(*args, **kwargs), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ sections
def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _headline(
    summary: dict, labels: list[str], pf: pd.DataFrame, af: pd.DataFrame, sf: pd.DataFrame
) -> str:
    status = str(summary.get("status", "unknown"))
    good = status.lower() in ("optimal", "solved", "success")
    years = ", ".join(labels) if len(labels) <= 8 else f"{labels[0]} … {labels[-1]}"
    rows = [
        f"<th>Economy</th>{_txt(summary.get('economy', '—'))}",
        f'<th>Status</th><td><span class="status {"ok" if good else "warn"}">'
        f"{_e(status)}</span></td>",
        f"<th>Objective</th>{_num(summary.get('objective'))}",
        f"<th>Method</th>{_txt(summary.get('method', '—'))}",
        f"<th>Solve time</th>{_num(summary.get('seconds'), _seconds)}",
        f"<th>Years</th><td>{len(labels)}: {_e(years)}</td>",
        f"<th>Products</th>{_num(int(pf['product'].nunique()))}",
        f"<th>Activities</th>{_num(int(af['activity'].nunique()))}",
        f"<th>Capital stocks</th>{_num(int(len(sf[['product', 'activity']].drop_duplicates())))}",
    ]
    html = _table([], rows, cls="kv")
    extra = [
        f"<th>{_e(k)}</th>"
        + (_num(v) if isinstance(v, Number) and not isinstance(v, bool) else _txt(v))
        for k, v in summary.items()
        if k not in _KNOWN_SUMMARY and _is_scalar(v)
    ]
    if extra:
        html += "<h3>More about the solve</h3>" + _table([], extra, cls="kv")
    return html + _classes_and_resources(summary, labels)


def _classes_and_resources(summary: dict, labels: list[str]) -> str:
    """Tables of the priority classes' rays ``z_{k,t}`` and of the resources other than labour
    (available, used, price per year), when the plan has them (``class_fulfilment``, ``resources``)."""
    html = ""
    classes = summary.get("class_fulfilment") or {}
    if classes:
        rows = [
            f"<td>class {_e(k)}</td>" + "".join(_num(per.get(y), format_percent) for y in labels)
            for k, per in sorted(classes.items(), key=lambda kv: int(kv[0]))
        ]
        html += (
            "<h3>Priority classes</h3><p class=\"lead\">The share of its targets each class gets per year "
            "(class 1 first; a later class gets what is left).</p>"
            + _table(["class", *labels], rows, numeric=[False] + [True] * len(labels))
        )
    resources = summary.get("resources") or {}
    if resources:
        rows = [
            f"<td>{_e(resource_label(r, summary))}</td><td>{_e(what)}</td>"
            + "".join(_num((per.get(y) or {}).get(key)) for y in labels)
            for r, per in resources.items()
            for what, key in (("available", "supply"), ("used", "used"), ("price", "price"))
        ]
        html += "<h3>Other resources</h3>" + _table(
            ["resource", "", *labels], rows, numeric=[False, False] + [True] * len(labels)
        )
    return html


def _fulfilment_chart(labels: list[str], yf: pd.DataFrame, pf: pd.DataFrame) -> str:
    n = len(labels)
    z = _per_year(yf, "fulfilment", n)
    tg = pf[(pf["target"] > 0) & np.isfinite(pf["fulfilment"].to_numpy(dtype=float))]
    g = tg.groupby("t")["fulfilment"]
    lo, mid, hi = (
        list(s.reindex(range(n)).to_numpy(dtype=float)) for s in (g.min(), g.median(), g.max())
    )
    if not any(math.isfinite(v) for v in z + hi):
        return _empty(
            "No year of the plan has consumption targets, so there is no fulfilment to show."
        )
    series = [Series("plan ray z_t", z, PALETTE[0], width=3)]
    bands = []
    if any(math.isfinite(v) for v in hi):
        # a few products far above target must not flatten the plan ray: clip the band
        cap = max([FULFILMENT_CAP] + [1.1 * v for v in z if math.isfinite(v)])
        name, median = "products: least to best fulfilled", "median product"
        if any(v > cap for v in hi if math.isfinite(v)):
            cut = f" (cut at {format_percent(cap, 3)})"
            name += cut
            hi = [min(v, cap) for v in hi]
            if any(v > cap for v in mid if math.isfinite(v)):
                median += cut
                mid = [min(v, cap) for v in mid]
        bands.append(Band(name, lo, hi, PALETTE[0]))
        series.append(Series(median, mid, INK, "5 3", 1.5, markers=False))
    svg = line_chart(
        labels,
        series,
        title="Fulfilment of the consumption targets per year",
        bands=bands,
        reference=1.0,
        reference_label="target met (100%)",
        percent=True,
        desc="Plan ray z_t per year with the range and median of the products' fulfilment.",
    )
    return _figure(
        svg,
        "The thick line is the share of every target the plan guarantees each year (the plan "
        "ray z_t; on the dotted 100% line every target is met), and the band shows how far "
        "individual products fall below or rise above it, from the least to the best supplied "
        "(dashed: the median product).",
    )


def _output_chart(labels: list[str], af: pd.DataFrame, pf: pd.DataFrame, top: int) -> str:
    n = len(labels)
    wide = _wide(af, "activity", "level", n)
    t0 = _first_column(wide)
    if t0 is None:
        return _empty("No activity has a level in the plan, so there is no output to show.")
    panels = _top_index(wide, t0, top)
    if not panels:
        return _empty(f"No activity runs in {labels[t0]}, so output has no base to grow from.")
    out = _wide(pf, "product", "output", n)
    agg = _at_first_prices(out, pf, t0) if not out.empty else None
    agg_name = f"all products: gross output at {labels[t0]} prices"
    if agg is None:
        agg, agg_name = _plain_index(wide, t0), "all activities: sum of levels"
    svg = small_multiples(
        labels,
        [Series(name, values) for name, values in panels],
        title=(
            f"Output index (activity level relative to {labels[t0]}) of the {len(panels)} largest "
            "activities"
        ),
        reference=Series(agg_name, agg),
        rule=1.0,
        panel_label="the activity's level (index)",
        desc=f"One panel per activity, largest first by {labels[t0]} level; dashed: {agg_name}.",
    )
    return _figure(
        svg,
        f"Each panel is one of the {len(panels)} largest activities (by level in {labels[t0]}), "
        f"its level as a multiple of {labels[t0]} (dotted: 1, no growth), against the economy "
        f"as a whole (dashed grey: {agg_name}), so an industry above the grey line grows faster "
        "than the economy; the panels share one scale, except one far above the rest (marked 'own scale').",
    )


def _capital_charts(labels: list[str], sf: pd.DataFrame, pf: pd.DataFrame, top: int) -> str:
    n = len(labels)
    if sf.empty:
        return _empty(
            "The plan has no capital stocks, so there is no capital growth or investment to show."
        )
    held = _wide(sf, "activity", "stock", n)
    t0 = _first_column(held)
    parts = []
    panels = _top_index(held, t0, top) if t0 is not None else []
    if panels:
        by_good = _wide(sf, "product", "stock", n)
        agg = _at_first_prices(by_good, pf, t0)
        agg_name = f"all stocks at {labels[t0]} prices"
        if agg is None:
            agg, agg_name = _plain_index(held, t0), "all stocks: plain sum"
        svg = small_multiples(
            labels,
            [Series(name, values, PALETTE[2]) for name, values in panels],
            title=(
                f"Capital index (stock held relative to {labels[t0]}) of the {len(panels)} "
                "largest holders"
            ),
            reference=Series(agg_name, agg),
            rule=1.0,
            panel_label="the activity's capital (index)",
            desc="One panel per activity: its stocks summed over capital goods, as an index.",
        )
        parts.append(
            _figure(
                svg,
                f"Each panel is the capital one of the {len(panels)} best-equipped activities "
                "holds at the start of each year (its stocks summed over capital goods, as a "
                f"multiple of {labels[t0]}), against all capital (dashed grey: {agg_name}): "
                "where the line climbs, the plan is building that industry up.",
            )
        )
    else:
        parts.append(_empty("No activity holds a positive capital stock at the start of the plan."))
    inv = _wide(sf, "product", "investment", n).fillna(0.0)
    totals = inv.sum(axis=1)
    totals = totals[np.isfinite(totals.to_numpy(dtype=float)) & (totals.abs() > 0)]
    if totals.empty:
        parts.append(_empty("The plan invests nothing: no capital good is added in any year."))
        return "".join(parts)
    k = min(top, len(PALETTE))
    goods = (
        totals.abs().nlargest(k, keep="first").index
        if len(totals) > k
        else totals.abs().sort_values(ascending=False, kind="stable").index
    )
    series = [Series(_label(g), list(inv.loc[g].to_numpy(dtype=float))) for g in goods]
    rest = inv.drop(index=goods)
    if len(rest):
        series.append(
            Series(
                f"other goods ({len(rest):,})", list(rest.sum(axis=0).to_numpy(dtype=float)), OTHER
            )
        )
    dep = _wide(sf, "product", "depreciation", n).sum(axis=0, min_count=1)
    lines = [
        Series(
            "depreciation, all goods",
            list(dep.reindex(range(n)).to_numpy(dtype=float)),
            INK,
            "5 3",
            2,
        )
    ]
    svg = bar_chart(
        labels,
        series,
        stacked=True,
        totals=True,
        lines=lines,
        title="Investment per year by capital good, with depreciation",
        desc="Stacked bars: investment per capital good; dashed line: depreciation of all stocks.",
    )
    parts.append(
        _figure(
            svg,
            "Each bar is what the plan invests in a year (new capital goods, working from the "
            f"next year), split by good ({len(goods)} largest over the plan, the rest in grey); "
            "where a bar rises above the dashed depreciation line the capital stock grows, below "
            "it the economy is eating its capital.",
        )
    )
    return "".join(parts)


def _labour_charts(labels: list[str], yf: pd.DataFrame) -> str:
    n = len(labels)
    used = _per_year(yf, "labour_used", n)
    supply = _per_year(yf, "labour_supply", n)
    price = _per_year(yf, "labour_price", n)
    if not any(math.isfinite(v) for v in used + supply + price):
        return _empty("The plan reports no labour figures.")
    left = bar_chart(
        labels,
        [Series("labour used", used, PALETTE[0])],
        lines=[Series("labour supply", supply, INK, None, 2)],
        title="Labour used and labour available per year",
        width=470,
        height=300,
        desc="Bars: labour the plan uses; line: labour supply.",
    )
    right = line_chart(
        labels,
        [Series("labour price (shadow)", price, PALETTE[3])],
        zero=True,
        title="Shadow price of labour per year",
        width=300,
        height=300,
        desc="The shadow price of one unit of labour in each year.",
    )
    left_caption = (
        "A bar that reaches the line means all labour is employed that year and labour limits "
        "the plan; a gap below the line is labour left idle."
    )
    right_caption = (
        "A positive price marks the years in which labour is scarce (one more unit that year "
        "would raise the objective by about that much); it is zero where labour is left idle."
    )
    return f'<div class="pair">{_figure(left, left_caption)}{_figure(right, right_caption)}</div>'


def _years_table(labels: list[str], yf: pd.DataFrame, pf: pd.DataFrame) -> str:
    n = len(labels)
    if not n:
        return _empty("The plan has no years.")
    cols = {
        c: _per_year(yf, c, n)
        for c in ("fulfilment", "labour_supply", "labour_used", "labour_price", "weight")
    }
    tg = pf[pf["target"] > 0]
    f = tg["fulfilment"].to_numpy(dtype=float)
    counts = tg.groupby("t").size().reindex(range(n), fill_value=0)
    below = tg[np.isfinite(f) & (f < 1 - BELOW)].groupby("t").size().reindex(range(n), fill_value=0)
    rows = []
    for t in range(n):
        rows.append(
            _txt(labels[t])
            + _num(cols["fulfilment"][t], format_percent)
            + _num(cols["labour_supply"][t])
            + _num(cols["labour_used"][t])
            + _num(cols["labour_price"][t])
            + _num(cols["weight"][t])
            + _num(int(counts.iloc[t]))
            + _num(int(below.iloc[t]))
        )
    headers = [
        "year",
        "fulfilment z_t",
        "labour supply",
        "labour used",
        "labour price",
        "weight",
        "targets",
        "below target",
    ]
    return _table(headers, rows, numeric=[False] + [True] * 7)


def _binding_table(sf: pd.DataFrame, labels: list[str]) -> str:
    if sf.empty:
        return _empty("The plan has no capital stocks.")
    with np.errstate(invalid="ignore", over="ignore"):
        value = sf["rent"].to_numpy(dtype=float) * sf["stock"].to_numpy(dtype=float)
    ok = np.isfinite(value) & (value > 0)
    if not ok.any():
        return _empty("No capital stock is binding: every stock's rent is zero.")
    b = sf[ok].assign(value=value[ok])
    b = b.sort_values(["value", "t"], ascending=[False, True], kind="stable")
    shown = b.head(TABLE_ROWS)
    rows = [
        _txt(labels[int(r.t)])
        + _txt(r.product)
        + _txt(r.activity)
        + _num(r.stock)
        + _num(r.required)
        + _num(r.investment)
        + _num(r.depreciation)
        + _num(r.rent)
        + _num(r.value)
        for r in shown.itertuples(index=False)
    ]
    headers = [
        "year",
        "capital good",
        "held by",
        "stock",
        "required",
        "investment",
        "depreciation",
        "rent",
        "rent × stock",
    ]
    intro = (
        '<p class="lead">Capital stocks whose shadow price (rent) times quantity is largest: '
        "the places where one more unit of capital would raise the plan most.</p>"
    )
    return intro + _table(
        headers,
        rows,
        more=_more(len(b) - len(shown), "binding stocks"),
        numeric=[False] * 3 + [True] * 6,
    )


def _shortfall_table(pf: pd.DataFrame, labels: list[str]) -> str:
    tg = pf[pf["target"] > 0]
    if tg.empty:
        return _empty("No product has a consumption target.")
    f = tg["fulfilment"].to_numpy(dtype=float)
    s = tg[np.isfinite(f) & (f < 1 - BELOW)]
    if s.empty:
        return _empty("Every target is met in full in every year.")
    s = s.sort_values(["fulfilment", "t"], kind="stable")
    shown = s.head(TABLE_ROWS)
    rows = [
        _txt(labels[int(r.t)])
        + _txt(r.product)
        + _num(r.target)
        + _num(r.consumption)
        + _num(r.fulfilment, format_percent)
        + _num(r.target - r.consumption)
        + _num(r.price)
        for r in shown.itertuples(index=False)
    ]
    headers = ["year", "product", "target", "consumption", "fulfilment", "shortfall", "price"]
    intro = '<p class="lead">Products and years with the lowest share of their target met.</p>'
    return intro + _table(
        headers,
        rows,
        more=_more(len(s) - len(shown), "products below target"),
        numeric=[False] * 2 + [True] * 5,
    )


def _notes(notes: object) -> str:
    if notes is None or (isinstance(notes, (list, tuple)) and not notes):
        return _empty("No notes.")
    if isinstance(notes, str):
        notes = [notes]
    items = list(notes) if isinstance(notes, Iterable) else [notes]
    return "<ul>" + "".join(f"<li>{_e(note)}</li>" for note in items) + "</ul>"


_CSS = """
:root{--ink:#222;--muted:#666;--line:#ddd;--accent:#0072B2}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;
font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
header,main,footer{max-width:1120px;margin:0 auto;padding:0 20px}
header{padding-top:24px;border-bottom:1px solid var(--line)}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:32px 0 10px;border-bottom:2px solid var(--accent);padding-bottom:3px}
h3{font-size:16px;margin:18px 0 6px}
.sub{color:var(--muted);margin:0 0 10px}
nav{display:flex;flex-wrap:wrap;gap:4px 14px;padding-bottom:12px;font-size:14px}
nav a{color:var(--accent);text-decoration:none}
figure{margin:8px 0 18px}
figcaption{color:var(--muted);font-size:14px;max-width:760px;margin-top:4px}
svg.chart{max-width:100%;height:auto;display:block}
.pair{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
.pair figure{flex:1 1 300px;max-width:480px}
table{border-collapse:collapse;font-size:14px;margin:6px 0 14px}
th,td{padding:3px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #999;cursor:pointer;white-space:nowrap}
table.kv th{font-weight:600;color:var(--muted);cursor:default}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td.more{color:var(--muted);font-style:italic;border-bottom:none}
tbody tr:nth-child(even){background:#f7f7f7}
.status{padding:1px 8px;border-radius:9px;font-weight:600}
.status.ok{background:#d9f0e3;color:#055a2c}
.status.warn{background:#fbe3cf;color:#8a3b00}
.empty,.lead{color:var(--muted)}
footer{color:var(--muted);font-size:13px;border-top:1px solid var(--line);margin-top:32px;
padding:12px 20px 24px}
@media print{nav{display:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
""".strip().replace("\n", "")

# Optional: click a header to sort a table (numbers by their data-v value). No '<' or '&'.
_JS = (
    "document.querySelectorAll('table.sortable thead th').forEach(function(th){"
    "th.addEventListener('click',function(){"
    "var t=th.closest('table'),b=t.tBodies[0],i=th.cellIndex,"
    "d=th.dataset.dir==='a'?'d':'a';th.dataset.dir=d;var r=Array.prototype.slice.call(b.rows);"
    "r.sort(function(x,y){var p=x.cells[i],q=y.cells[i],c;"
    "if(p.dataset.v!==undefined){var u=parseFloat(p.dataset.v),v=parseFloat(q.dataset.v);"
    "if(isNaN(u))return isNaN(v)?0:1;if(isNaN(v))return -1;c=u-v;}"
    "else c=p.textContent.localeCompare(q.textContent);return d==='a'?c:-c;});"
    "r.forEach(function(x){b.appendChild(x);});});});"
)

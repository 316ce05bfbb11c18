"""Small inline-SVG charts for self-contained reports: no plotting library, no scripts.

Every chart is one ``<svg>`` string that starts with a ``<title>`` (what the chart is), is
valid XML (it parses with :mod:`xml.etree`), and carries a ``<title>`` on each data mark, so
that a browser shows the exact value as a tooltip without JavaScript. Labels are escaped.
The x axis is categorical (one slot per label, e.g. a plan year); the y axis is linear with
"nice" ticks (1, 2, 2.5, 5 x 10^k steps). Colours are the Okabe-Ito palette, which people
with the common colour-vision deficiencies can tell apart; lines also differ by dash.

Charts: :func:`line_chart` (lines with optional min-max bands and a reference rule),
:func:`bar_chart` (grouped or stacked bars, optional lines on top) and
:func:`small_multiples` (one small line chart per series on a shared scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Sequence

__all__ = [
    "PALETTE",
    "OTHER",
    "Series",
    "Band",
    "format_number",
    "format_percent",
    "compact_number",
    "nice_ticks",
    "line_chart",
    "bar_chart",
    "small_multiples",
]

#: Okabe & Ito (2008), "Color universal design": blue, orange, bluish green, vermillion,
#: reddish purple, sky blue, yellow (black is kept for reference lines).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
#: the colour of an "other" category and of reference series
OTHER = "#999999"
INK = "#222222"
GRID = "#e3e3e3"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

Format = Callable[[float], str]


# ------------------------------------------------------------------------------- numbers
def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def format_number(value: object, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, grouped thousands (values of
    1,000 or more are rounded to whole units), scientific notation below 0.001 or from
    10^15, an em dash for missing values (None, NaN) and ``∞`` for infinity."""
    if value is None or isinstance(value, bool):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    v = _float(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    a = abs(float(f"{v:.{digits}g}"))  # rounded first: 999.96 is 1,000, not 1000
    if a >= 1e15 or a < 1e-3:
        return f"{v:.{max(digits - 1, 1)}e}"
    if a >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def format_percent(value: object, digits: int = 4) -> str:
    """A share as a percentage (0.9731 -> ``97.31%``), em dash when missing."""
    v = _float(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return format_number(v)
    return format_number(v * 100.0, digits) + "%"


_SUFFIXES = ((1e12, "tn"), (1e9, "bn"), (1e6, "M"), (1e3, "k"))


def compact_number(value: float) -> str:
    """A short tick label: 1500 -> ``1.5k``, 2e6 -> ``2M``, 0.25 -> ``0.25``."""
    v = _float(value)
    if not math.isfinite(v):
        return format_number(v)
    if v == 0:
        return "0"
    a = abs(v)
    for size, suffix in _SUFFIXES:
        if a >= size:
            return f"{v / size:.3g}{suffix}"
    if a < 1e-3:
        return f"{v:.2g}"
    return f"{v:.3g}"


def _percent_tick(value: float) -> str:
    return compact_number(value * 100.0) + "%"


# --------------------------------------------------------------------------------- ticks
_MANTISSAS = (1.0, 2.0, 2.5, 5.0)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``: the smallest step of 1, 2, 2.5 or 5 x 10^k
    that needs at most ``count + 1`` ticks, so the axis hugs the data. The first and last
    ticks bound the data; a degenerate or non-finite range is widened."""
    lo, hi = _float(lo), _float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if lo > hi:
        lo, hi = hi, lo
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300):
        pad = abs(lo) * 0.1 if lo != 0 else 1.0
        lo, hi = (lo - pad, hi + pad) if lo != 0 else (0.0, 1.0)
    count = max(int(count), 1)
    first = math.floor(math.log10((hi - lo) / count)) - 1
    for exp in range(first, first + 4):
        for m in _MANTISSAS:
            step = m * 10.0**exp
            start = math.floor(lo / step + 1e-9)
            stop = math.ceil(hi / step - 1e-9)
            if stop - start <= count:
                decimals = max(0, -math.floor(math.log10(step)) + 1)
                return [round((start + k) * step, decimals) for k in range(stop - start + 1)]
    raise AssertionError("unreachable: a step of 10^(first+3) covers the range")  # pragma: no cover


# ------------------------------------------------------------------------------ elements
@dataclass(frozen=True)
class Series:
    """One named sequence of values, one per x label (NaN or inf: no mark there)."""

    name: str
    values: Sequence[float]
    colour: str | None = None
    dash: str | None = None
    width: float = 2.0
    markers: bool = True


@dataclass(frozen=True)
class Band:
    """A shaded range between ``lower`` and ``upper`` (e.g. min and max) per x label."""

    name: str
    lower: Sequence[float]
    upper: Sequence[float]
    colour: str = PALETTE[0]
    opacity: float = 0.18


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(v: float) -> str:
    """Coordinates with one decimal: small files, sharp enough."""
    return f"{v:.1f}".rstrip("0").rstrip(".") if math.isfinite(v) else "0"


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def _text_width(text: str, size: float) -> float:
    return 0.58 * size * len(text)


def _finite(values: Sequence[float]) -> list[float]:
    out = []
    for v in values:
        f = _float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def _svg_open(width: float, height: float, title: str, desc: str = "") -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
        f'height="{_n(height)}" role="img" font-family="{_e(FONT)}" font-size="12" '
        f'fill="{INK}"><title>{_e(title)}</title>'
    ]
    if desc:
        parts.append(f"<desc>{_e(desc)}</desc>")
    return parts


def _legend(
    items: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[list[str], float]:
    """Legend entries ``(name, colour, kind)`` (kind: line, dash:<pattern>, box, band) laid
    out in rows from ``(x0, y0)``; returns the SVG parts and the height used."""
    parts: list[str] = []
    x, y, row_h = x0, y0, 18.0
    for name, colour, kind in items:
        label = _clip(name, 64)
        w = 26 + _text_width(label, 12) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + row_h
        parts.append(f"<g><title>{_e(name)}</title>")
        if kind == "box":
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="18" height="11" fill="{colour}"/>'
            )
        elif kind == "band":
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="18" height="13" fill="{colour}" '
                'fill-opacity="0.25"/>'
            )
        else:
            dash = f' stroke-dasharray="{kind[5:]}"' if kind.startswith("dash:") else ""
            parts.append(
                f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 18)}" y2="{_n(y - 4)}" '
                f'stroke="{colour}" stroke-width="2.5"{dash}/>'
            )
        parts.append(f'<text x="{_n(x + 24)}" y="{_n(y)}">{_e(label)}</text></g>')
        x += w
    return parts, (y - y0 + row_h) if items else 0.0


class _Axes:
    """A categorical x axis and a linear y axis inside a pixel box."""

    def __init__(
        self,
        labels: Sequence[str],
        values: Sequence[float],
        box: tuple[float, float, float, float],
        *,
        zero: bool = False,
        ticks: int = 5,
    ) -> None:
        self.labels = [str(label) for label in labels]
        self.left, self.top, self.width, self.height = box
        vals = _finite(values)
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        if zero:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        self.ticks = nice_ticks(lo, hi, ticks)
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.step = self.width / max(len(self.labels), 1)

    def x(self, i: int) -> float:
        return self.left + (i + 0.5) * self.step

    def y(self, v: float) -> float:
        return self.top + self.height * (1.0 - (v - self.lo) / (self.hi - self.lo))

    def render(
        self, tick_format: Format, *, x_labels: str = "all", font: float = 12, y_title: str = ""
    ) -> list[str]:
        parts = []
        right = self.left + self.width
        for t in self.ticks:
            yy = self.y(t)
            parts.append(
                f'<line x1="{_n(self.left)}" y1="{_n(yy)}" x2="{_n(right)}" y2="{_n(yy)}" '
                f'stroke="{GRID}"/>'
            )
            parts.append(
                f'<text x="{_n(self.left - 6)}" y="{_n(yy + font * 0.35)}" text-anchor="end" '
                f'font-size="{_n(font)}">{_e(tick_format(t))}</text>'
            )
        base = self.y(0.0) if self.lo <= 0.0 <= self.hi else self.top + self.height
        parts.append(
            f'<line x1="{_n(self.left)}" y1="{_n(base)}" x2="{_n(right)}" y2="{_n(base)}" '
            f'stroke="{INK}" stroke-width="1"/>'
        )
        n = len(self.labels)
        if x_labels == "ends":
            shown = sorted({0, n - 1}) if n else []
        else:
            widest = max((_text_width(label, font) for label in self.labels), default=0.0) + 8
            every = max(1, math.ceil(widest / max(self.step, 1e-9)))
            shown = list(range(0, n, every))
        chars = max(int(self.width / 2 / (0.58 * font)), 4)  # for "ends": half the width each
        for i in shown:
            anchor = "middle"
            if x_labels == "ends" and n > 1:
                anchor = "start" if i == 0 else "end"
            xx = self.x(i) if anchor == "middle" else (self.left if i == 0 else right)
            label = _clip(self.labels[i], chars if x_labels == "ends" else 24)
            parts.append(
                f'<text x="{_n(xx)}" y="{_n(self.top + self.height + font + 4)}" '
                f'text-anchor="{anchor}" font-size="{_n(font)}">{_e(label)}</text>'
            )
        if y_title:
            cy = self.top + self.height / 2
            parts.append(
                f'<text transform="translate({_n(self.left - 48)} {_n(cy)}) rotate(-90)" '
                f'text-anchor="middle" font-size="{_n(font)}">{_e(y_title)}</text>'
            )
        return parts


def _segments(values: Sequence[float]) -> list[list[int]]:
    """Runs of consecutive indices with finite values."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, v in enumerate(values):
        if math.isfinite(_float(v)):
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _line(
    ax: _Axes, s: Series, colour: str, value_format: Format, *, radius: float = 3.5
) -> list[str]:
    parts = []
    vals = [_float(v) for v in s.values]
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    for run in _segments(vals):
        if len(run) > 1:
            d = " ".join(
                f"{'M' if k == 0 else 'L'}{_n(ax.x(i))} {_n(ax.y(vals[i]))}"
                for k, i in enumerate(run)
            )
            parts.append(
                f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{_n(s.width)}" '
                f'stroke-linejoin="round"{dash}/>'
            )
    joined = {i for run in _segments(vals) if len(run) > 1 for i in run}
    for i, v in enumerate(vals):
        if not math.isfinite(v):
            continue
        if s.markers or i not in joined:
            parts.append(
                f'<circle cx="{_n(ax.x(i))}" cy="{_n(ax.y(v))}" r="{_n(radius)}" fill="{colour}">'
                f"<title>{_e(s.name)}, {_e(ax.labels[i])}: {_e(value_format(v))}</title></circle>"
            )
    return parts


def _band(ax: _Axes, b: Band, value_format: Format) -> list[str]:
    lo = [_float(v) for v in b.lower]
    hi = [_float(v) for v in b.upper]
    both = [lv if math.isfinite(hv) else math.nan for lv, hv in zip(lo, hi)]
    parts = []
    for run in _segments(both):
        if len(run) == 1:
            i = run[0]
            top, bottom = ax.y(max(lo[i], hi[i])), ax.y(min(lo[i], hi[i]))
            parts.append(
                f'<rect x="{_n(ax.x(i) - 6)}" y="{_n(top)}" width="12" '
                f'height="{_n(max(bottom - top, 1))}" '
                f'fill="{b.colour}" fill-opacity="{b.opacity}"/>'
            )
        else:
            pts = [f"{_n(ax.x(i))},{_n(ax.y(hi[i]))}" for i in run]
            pts += [f"{_n(ax.x(i))},{_n(ax.y(lo[i]))}" for i in reversed(run)]
            parts.append(
                f'<polygon points="{" ".join(pts)}" fill="{b.colour}" fill-opacity="{b.opacity}"/>'
            )
        for i in run:  # a hover target per label with both ends
            top, bottom = ax.y(max(lo[i], hi[i])), ax.y(min(lo[i], hi[i]))
            parts.append(
                f'<rect x="{_n(ax.x(i) - 6)}" y="{_n(top)}" width="12" '
                f'height="{_n(max(bottom - top, 1))}" '
                f'fill="transparent"><title>{_e(b.name)}, {_e(ax.labels[i])}: '
                f"{_e(value_format(lo[i]))} to {_e(value_format(hi[i]))}</title></rect>"
            )
    return parts


def _colours(series: Sequence[Series]) -> list[str]:
    out, k = [], 0
    for s in series:
        if s.colour:
            out.append(s.colour)
        else:
            out.append(PALETTE[k % len(PALETTE)])
            k += 1
    return out


def _legend_kind(s: Series) -> str:
    return f"dash:{s.dash}" if s.dash else "line"


# -------------------------------------------------------------------------------- charts
def line_chart(
    x: Sequence[object],
    series: Sequence[Series],
    *,
    title: str,
    bands: Sequence[Band] = (),
    reference: float | None = None,
    reference_label: str = "",
    percent: bool = False,
    zero: bool = False,
    y_title: str = "",
    value_format: Format | None = None,
    width: float = 720,
    height: float = 320,
    desc: str = "",
) -> str:
    """Lines over categorical ``x`` (gaps where a value is missing), optional shaded
    ``bands`` behind them and a dotted horizontal ``reference`` rule (e.g. 1 = target).
    ``percent``: values are shares, shown as percentages."""
    labels = [str(v) for v in x]
    fmt = value_format or (format_percent if percent else format_number)
    tick = _percent_tick if percent else compact_number
    colours = _colours(series)
    items = [(b.name, b.colour, "band") for b in bands]
    items += [(s.name, c, _legend_kind(s)) for s, c in zip(series, colours)]
    if reference is not None and reference_label:
        items.append((reference_label, INK, "dash:2 3"))
    parts = _svg_open(width, height, title, desc)
    left, right = 64.0, 16.0
    legend, legend_h = _legend(items, left, 18.0, width - left - right)
    parts += legend
    top = 18.0 + legend_h + 4
    box = (left, top, width - left - right, height - top - 28)
    values = [v for s in series for v in s.values]
    values += [v for b in bands for v in (*b.lower, *b.upper)]
    if reference is not None:
        values.append(reference)
    ax = _Axes(labels, values, box, zero=zero)
    parts += ax.render(tick, y_title=y_title)
    for b in bands:
        parts += _band(ax, b, fmt)
    if reference is not None:
        yy = ax.y(reference)
        parts.append(
            f'<line x1="{_n(ax.left)}" y1="{_n(yy)}" x2="{_n(ax.left + ax.width)}" y2="{_n(yy)}" '
            f'stroke="{INK}" stroke-dasharray="2 3"/>'
        )
    for s, c in zip(series, colours):
        parts += _line(ax, s, c, fmt)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    x: Sequence[object],
    series: Sequence[Series],
    *,
    title: str,
    stacked: bool = False,
    lines: Sequence[Series] = (),
    totals: bool = False,
    y_title: str = "",
    value_format: Format | None = None,
    width: float = 720,
    height: float = 320,
    desc: str = "",
) -> str:
    """Bars per x label: side by side (grouped) or ``stacked`` (positive values upwards,
    negative downwards), optional ``lines`` drawn over them on the same axis, and with
    ``totals`` the stack's sum written above each stacked bar."""
    labels = [str(v) for v in x]
    fmt = value_format or format_number
    colours = _colours(series)
    line_colours = _colours(lines) if lines else []
    if lines:  # lines continue the palette after the bars unless coloured
        k = len([s for s in series if not s.colour])
        line_colours = [s.colour or PALETTE[(k + j) % len(PALETTE)] for j, s in enumerate(lines)]
    items = [(s.name, c, "box") for s, c in zip(series, colours)]
    items += [(s.name, c, _legend_kind(s)) for s, c in zip(lines, line_colours)]
    parts = _svg_open(width, height, title, desc)
    left, right = 64.0, 16.0
    legend, legend_h = _legend(items, left, 18.0, width - left - right)
    parts += legend
    top = 18.0 + legend_h + (16 if totals else 4)
    box = (left, top, width - left - right, height - top - 28)
    n = len(labels)
    mats = [[_float(v) for v in s.values] for s in series]
    if stacked:
        pos = [sum(max(m[i], 0.0) for m in mats if math.isfinite(m[i])) for i in range(n)]
        neg = [sum(min(m[i], 0.0) for m in mats if math.isfinite(m[i])) for i in range(n)]
        values = pos + neg
    else:
        values = [v for m in mats for v in m]
    values += [_float(v) for s in lines for v in s.values]
    ax = _Axes(labels, values, box, zero=True)
    parts += ax.render(compact_number, y_title=y_title)
    zero_y = ax.y(0.0)
    group = min(
        ax.step * 0.72, 80.0 if stacked else 56.0 * max(len(series), 1)
    )  # no slabs for few years
    for i in range(n):
        if stacked:
            up, down = 0.0, 0.0
            bw = group
            for s, c, m in zip(series, colours, mats):
                v = m[i]
                if not math.isfinite(v) or v == 0:
                    continue
                base = up if v > 0 else down
                y0, y1 = ax.y(base), ax.y(base + v)
                if v > 0:
                    up += v
                else:
                    down += v
                parts.append(
                    f'<rect x="{_n(ax.x(i) - bw / 2)}" y="{_n(min(y0, y1))}" width="{_n(bw)}" '
                    f'height="{_n(max(abs(y1 - y0), 0.5))}" fill="{c}"><title>{_e(s.name)}, '
                    f"{_e(labels[i])}: {_e(fmt(v))}</title></rect>"
                )
            if totals and (up or down):
                parts.append(
                    f'<text x="{_n(ax.x(i))}" y="{_n(ax.y(up) - 4)}" text-anchor="middle" '
                    f'font-size="11">{_e(compact_number(up + down))}<title>total, {_e(labels[i])}: '
                    f"{_e(fmt(up + down))}</title></text>"
                )
        else:
            k = max(len(series), 1)
            bw = group / k
            for j, (s, c, m) in enumerate(zip(series, colours, mats)):
                v = m[i]
                if not math.isfinite(v):
                    continue
                x0 = ax.x(i) - group / 2 + j * bw
                yv = ax.y(v)
                parts.append(
                    f'<rect x="{_n(x0)}" y="{_n(min(yv, zero_y))}" width="{_n(bw * 0.92)}" '
                    f'height="{_n(max(abs(zero_y - yv), 0.5))}" fill="{c}"><title>{_e(s.name)}, '
                    f"{_e(labels[i])}: {_e(fmt(v))}</title></rect>"
                )
    for s, c in zip(lines, line_colours):
        parts += _line(ax, s, c, fmt, radius=4)
    parts.append("</svg>")
    return "".join(parts)


def small_multiples(
    x: Sequence[object],
    panels: Sequence[Series],
    *,
    title: str,
    reference: Series | None = None,
    rule: float | None = None,
    percent: bool = False,
    columns: int = 4,
    panel_width: float = 210,
    panel_height: float = 130,
    value_format: Format | None = None,
    panel_label: str = "the panel's series",
    desc: str = "",
) -> str:
    """One small line chart per series in ``panels`` on a grid, on one y scale (a panel whose
    top is over 3x the median panel's gets its own, marked "own scale" in its title), each
    with the ``reference`` series (e.g. the aggregate) drawn dashed grey behind it and an
    optional dotted horizontal ``rule`` (e.g. 1 for an index); ``panel_label`` names the
    panels' own line in the legend."""
    labels = [str(v) for v in x]
    fmt = value_format or (format_percent if percent else format_number)
    tick = _percent_tick if percent else compact_number
    columns = max(1, min(columns, len(panels) or 1))
    rows = max(1, math.ceil(len(panels) / columns))
    gap_x, gap_y, left, head = 14.0, 34.0, 44.0, 22.0
    width = columns * (left + panel_width) + (columns - 1) * gap_x + 8
    main = panels[0].colour if panels and panels[0].colour else PALETTE[0]
    items = [(panel_label, main, "line")]
    if reference is not None:
        items.append((reference.name, OTHER, "dash:5 3"))
    legend, legend_h = _legend(items, left, 18.0, width - left - 8)
    top0 = 18.0 + legend_h + 4
    height = top0 + rows * (head + panel_height + gap_y)
    extra = list(reference.values) if reference is not None else []
    if rule is not None:
        extra.append(rule)
    # One scale for all, except panels far above the rest (more than 3x the median panel's
    # top): they get their own scale, said in their title, so they cannot flatten the others.
    tops = [max((v for v in s.values if math.isfinite(v)), default=math.nan) for s in panels]
    finite_tops = sorted(t for t in tops if math.isfinite(t) and t > 0)
    cap = 3 * finite_tops[len(finite_tops) // 2] if finite_tops else math.inf
    own = [math.isfinite(t) and t > cap for t in tops]
    values = [v for s, o in zip(panels, own) if not o for v in s.values] + extra
    parts = _svg_open(width, height, title, desc)
    parts += legend
    for k, s in enumerate(panels):
        r, c = divmod(k, columns)
        px = c * (left + panel_width + gap_x) + left
        py = top0 + r * (head + panel_height + gap_y) + head
        scale = list(s.values) + extra if own[k] else values
        ax = _Axes(labels, scale, (px, py, panel_width, panel_height), ticks=4)
        name = f"{s.name} (own scale)" if own[k] else s.name
        parts.append(f"<g><title>{_e(name)}</title>")
        parts.append(
            f'<text x="{_n(px)}" y="{_n(py - 8)}" font-weight="600"'
            f'{" fill=" + chr(34) + "#b35806" + chr(34) if own[k] else ""}>'
            f"{_e(_clip(name, int(panel_width / (0.6 * 12))))}</text></g>"
        )
        parts += ax.render(tick, x_labels="ends", font=10)
        if rule is not None:
            yy = ax.y(rule)
            parts.append(
                f'<line x1="{_n(px)}" y1="{_n(yy)}" x2="{_n(px + panel_width)}" y2="{_n(yy)}" '
                f'stroke="{INK}" stroke-dasharray="2 3" stroke-opacity="0.6"/>'
            )
        if reference is not None:
            ref = Series(reference.name, reference.values, OTHER, "5 3", 1.5, markers=False)
            parts += _line(ax, ref, OTHER, fmt, radius=2)
        colour = s.colour or main
        parts += _line(
            ax,
            Series(s.name, s.values, colour, s.dash, s.width, s.markers),
            colour,
            fmt,
            radius=2.5,
        )
    parts.append("</svg>")
    return "".join(parts)

"""Terminal rendering (rich) of gosplan's results. No planning logic here: every number
comes from a result object or a summary dictionary computed by the library."""

from __future__ import annotations

import math
import numbers
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from gosplan.report.labels import resource_label, resource_name, resource_unit

if TYPE_CHECKING:  # pragma: no cover  (numpy and pandas load where a report needs them)
    import pandas as pd

__all__ = [
    "fmt_number",
    "fmt_seconds",
    "balance_report",
    "economy_report",
    "datasets_table",
    "Activity",
]


# ------------------------------------------------------------------------- numbers
def fmt_number(value: Any, digits: int = 6) -> str:
    """A number for people: grouped thousands for large values, ``digits`` significant
    digits, scientific notation for very small or very large ones."""
    if value is None:
        return "—"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # numpy's integers too
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e15 or a < 1e-4:
        return f"{v:.{max(digits - 1, 1)}e}"
    if a >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    text = f"{v:,.{digits}g}" if a >= 1 else f"{v:.{digits}g}"
    return text


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _kv_table(rows: Sequence[tuple[str, Any]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else str(value))
    return table


def _top_table(
    frame: pd.DataFrame, by: str, columns: Sequence[tuple[str, str]], title: str, k: int = 10
) -> Group:
    """The top ``k`` rows of ``frame`` by column ``by``: rank, product (its name and code
    where the frame names products), then ``columns`` (numbers are never cut; a long name
    wraps instead)."""
    import numpy as np

    values = frame[by].to_numpy(dtype=float)
    finite = np.where(np.isfinite(values), values, -np.inf)
    k = min(k, len(frame))
    top = np.argpartition(-finite, k - 1)[:k] if len(frame) > k else np.arange(len(frame))
    top = top[np.argsort(-finite[top], kind="stable")]
    products = [str(p) for p in frame["product"].to_numpy()[top]]
    names = [str(n) for n in frame["name"].to_numpy()[top]] if "name" in frame.columns else products
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("product", overflow="fold", min_width=10)
    named = names != products  # named products: the name, and the code in a column of its own
    if named:
        table.add_column("code", style="dim", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for rank, i in enumerate(top, start=1):
        code_cell = [products[rank - 1]] if named else []
        table.add_row(str(rank), names[rank - 1], *code_cell, *(fmt_number(frame[c].iat[i]) for c, _ in columns))
    return Group(Text("\n" + title, style="bold"), table)


def _resource_table(
    summary: Mapping[str, Any], resources: Sequence[Any], columns: Sequence[str], *, title: str | None = None
) -> Table:
    """A table of ``resources``: their name, their code where a name differs from it, their
    unit where one is known, then ``columns`` (right-aligned but ``year``)."""
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    # wide enough for the longest word of a name, so that a narrow terminal wraps names
    # between words ("Compensation / of employees") instead of cutting one ("Compensati…")
    words = [w for r in resources for w in resource_name(r, summary).split()]
    table.add_column("resource", min_width=min(max(map(len, words), default=8), 20))
    if any(resource_name(r, summary) != str(r) for r in resources):
        table.add_column("code")
    if any(resource_unit(r, summary) for r in resources):
        table.add_column("unit")
    for col in columns:
        table.add_column(col, justify="left" if col == "year" else "right", no_wrap=True)
    return table


def _resource_cells(resource: Any, summary: Mapping[str, Any], table: Table, *, style: str = "") -> list[Any]:
    """The leading cells of ``resource``'s row in a :func:`_resource_table`."""
    code = str(resource)
    headers = [c.header for c in table.columns]
    cells: list[Any] = [Text(resource_name(code, summary), style=style)]
    if "code" in headers:
        cells.append(code)
    if "unit" in headers:
        cells.append(resource_unit(code, summary) or "—")
    return cells


# ------------------------------------------------------------------------- reports
def balance_report(
    summary: Mapping[str, Any],
    frame: pd.DataFrame,
    *,
    written: Sequence[str] = (),
) -> Group:
    """A rich renderable of a material balance: the summary, the primary-input totals,
    the top 10 products by gross output and by labour value, the files written."""
    import numpy as np

    meta = summary.get("economy_metadata", {})
    units = summary.get("units") or meta.get("units") or "units"
    labour_unit = summary.get("labour_unit") or meta.get("labour_unit") or "labour"
    name = str(summary.get("economy", "economy"))
    if meta.get("year"):
        name += f" ({meta['year']})"
    products = int(summary.get("products", len(frame)))
    nnz = meta.get("nonzeros")
    residual = summary.get("relative_residual")
    tol = summary.get("tolerance")
    ok = summary.get("status") == "solved"
    res_text = Text(f"{residual:.2e}" if residual is not None else "—")
    if tol is not None:
        res_text.append(f"  (tolerance {tol:.0e}) ", style="dim")
        res_text.append("✓" if ok else "✗", style="green" if ok else "red bold")
    demand = summary.get("demand_file") or "the table's own final demand"
    if summary.get("scale", 1.0) != 1.0:
        demand += f" × {summary['scale']:g}"
    rows: list[tuple[str, Any]] = [("economy", name), ("products", fmt_number(products))]
    if nnz is not None:
        density = nnz / products**2 if products else 0.0
        rows.append(("nonzeros in A", f"{fmt_number(int(nnz))} ({density:.2%} dense)"))
    rows += [
        ("final demand", demand),
        ("method", str(summary.get("method", "—"))),
        ("iterations", fmt_number(int(summary.get("iterations", 0)))),
        ("relative residual", res_text),
        ("solve time", fmt_seconds(summary.get("seconds"))),
    ]
    if summary.get("load_seconds") is not None:
        rows.append(("load time", fmt_seconds(summary["load_seconds"])))
    rows.append(("total final demand", f"{fmt_number(summary.get('total_final_demand'))} {units}"))
    rows.append(("total gross output", f"{fmt_number(summary.get('total_gross_output'))} {units}"))
    total_labour = summary.get("total_labour")
    rows.append(
        ("total labour", f"{fmt_number(total_labour)} {labour_unit}" if total_labour is not None else "— (no labour input in this economy)")
    )
    parts: list[Any] = [
        Panel(_kv_table(rows), title="[bold]gosplan · material balance", title_align="left", expand=False)
    ]

    primary = dict(summary.get("primary_totals") or {})
    if len(primary) > 1 or (primary and "labour" not in primary):
        table = _resource_table(summary, list(primary), ("used by the plan",))
        for resource, total in primary.items():
            table.add_row(*_resource_cells(resource, summary, table), fmt_number(total))
        parts.append(table)

    has_values = "labour_value" in frame and bool(np.isfinite(frame["labour_value"].to_numpy(dtype=float)).any())
    by_output = [("gross_output", "gross output"), ("final_demand", "final demand")]
    if has_values:
        by_output.append(("labour_value", "labour value"))
    parts.append(_top_table(frame, "gross_output", by_output, f"Top 10 products by gross output ({units})"))
    if has_values:
        by_value = [("labour_value", "labour value"), ("gross_output", "gross output")]
        if "output_multiplier" in frame:
            by_value.append(("output_multiplier", "output multiplier"))
        parts.append(
            _top_table(frame, "labour_value", by_value, f"Top 10 products by labour value ({labour_unit} per unit)")
        )
    if meta.get("source"):
        parts.append(Text(f"source: {meta['source']}", style="dim"))
    if meta.get("licence"):
        parts.append(Text(f"licence: {meta['licence']}", style="dim"))
    if written:
        parts.append(Text("wrote " + ", ".join(written), style="dim"))
    return Group(*parts)


def _objective_text(summary: Mapping[str, Any]) -> str:
    """The objective's kind; for ``cost``, what it weighs (``cost: 1 × Value Added``)."""
    kind = str(summary.get("objective_kind"))
    weights = (summary.get("detail") or {}).get("cost_weights")
    if kind != "cost" or not weights:
        return kind
    return "cost: " + " + ".join(f"{fmt_number(w)} × {r}" for r, w in weights.items())


def _solve_rows(summary: Mapping[str, Any], fulfilment: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The headline rows of a plan report: economy, objective, status, gosplan's checks, method, times."""
    status = str(summary.get("status"))
    status_text = Text(status, style="green bold" if status == "optimal" else "red bold")
    tol = summary.get("tolerance")
    rows: list[tuple[str, Any]] = [
        ("economy", str(summary.get("economy"))),
        ("products / activities", f"{fmt_number(summary.get('products'))} / {fmt_number(summary.get('activities'))}"),
        ("objective", _objective_text(summary)),
        ("status", status_text),
    ]
    if summary.get("objective") is not None:
        rows.append(("objective value", fmt_number(summary["objective"])))
    for label, z in fulfilment:
        rows.append((label, "—" if z is None else f"{z:.6g}"))
    for key, label in (("max_violation", "max violation"), ("duality_gap", "duality gap")):
        value = summary.get(key)
        text = Text("—" if value is None else f"{value:.2e}")
        if tol is not None and value is not None:
            text.append(f"  (tolerance {tol:.0e})", style="dim")
        rows.append((label, text))
    price_error = (summary.get("detail") or {}).get("price_error")
    if price_error is not None:
        certified = (summary.get("detail") or {}).get("prices_certified")
        rows.append(("price error", Text(f"{price_error:.2e}").append(
            "  (certified)" if certified else "  (not certified)", style="dim" if certified else "yellow")))
    rows += [
        ("method", str(summary.get("method", "—"))),
        ("iterations", fmt_number(int(summary.get("iterations") or 0))),
        ("solve time", fmt_seconds(summary.get("seconds"))),
    ]
    if summary.get("load_seconds") is not None:
        rows.append(("load time", fmt_seconds(summary["load_seconds"])))
    return rows


def _conflict_table(summary: Mapping[str, Any]) -> Table | None:
    conflict = summary.get("conflict") or []
    if not conflict:
        return None
    table = Table(box=box.SIMPLE_HEAD, title="Conflicting constraints", title_justify="left")
    table.add_column("constraint")
    for line in conflict:
        table.add_row(str(line))
    return table


def plan_report(
    summary: Mapping[str, Any],
    frame: pd.DataFrame | None,
    *,
    written: Sequence[str] = (),
) -> Group:
    """A rich renderable of an optimal plan: status and checks, fulfilment per class, the
    binding resources and capacities, the top products by shadow price, the files written."""
    units = summary.get("units") or "units"
    ok = str(summary.get("status")) == "optimal"
    rows = _solve_rows(summary, [("fulfilment, class " + str(k), z) for k, z in (summary.get("fulfilment") or {}).items()])
    parts: list[Any] = [
        Panel(_kv_table(rows), title="[bold]gosplan · " + ("optimal plan" if ok else "plan"), title_align="left",
              expand=False)
    ]
    if not ok:
        parts.append(Text(str(summary.get("message", "")), style="red"))
    detail = summary.get("detail") or {}
    if ok and detail.get("prices_certified") is False:
        parts.append(Text("note: " + str(detail.get("prices_note", "prices not certified")), style="yellow"))
    if ok and detail.get("harmony_note"):
        parts.append(Text("note: " + str(detail["harmony_note"]), style="yellow"))
    conflict = _conflict_table(summary)
    if conflict is not None:
        parts.append(conflict)
    resources = summary.get("resources") or {}
    if resources:
        table = _resource_table(summary, list(resources), ("used", "available", "shadow price"), title="Resources")
        for name, rec in resources.items():
            binding = (rec.get("shadow_price") or 0) > 0
            table.add_row(
                *_resource_cells(name, summary, table, style="bold" if binding else ""),
                fmt_number(rec.get("used")) if rec.get("used") is not None else "—",
                fmt_number(rec.get("available")) if rec.get("available") is not None else "unlimited",
                fmt_number(rec.get("shadow_price")) if rec.get("shadow_price") is not None else "—",
            )
        parts.append(table)
    capacities = summary.get("binding_capacities") or []
    if capacities:
        count = summary.get("binding_capacities_count", len(capacities))
        named: Mapping[str, Any] = {}
        if frame is not None and {"product", "name"} <= set(frame.columns):
            named = dict(zip(frame["product"].astype(str), frame["name"]))
        shown = ", ".join(
            f"{named[c]} ({c})" if named.get(c) not in (None, c) else c for c in map(str, capacities[:10])
        )
        more = f" and {count - 10} more" if count > 10 else ""
        parts.append(Text(f"binding capacities ({count}): {shown}{more}"))
    if frame is not None and ok and len(frame):
        columns = [("shadow_price", "shadow price"), ("price_in_labour", "in labour"),
                   ("gross_output", "gross output"), ("fulfilment", "fulfilment")]
        # a column with nothing in it (prices in labour of an economy without labour) only takes
        # the width the products' names need
        columns = [(c, t) for c, t in columns if c not in frame.columns or frame[c].notna().any()]
        parts.append(
            _top_table(frame, "shadow_price", columns, f"Top 10 products by shadow price (gross output in {units})")
        )
    if written:
        parts.append(Text("wrote " + ", ".join(written), style="dim"))
    return Group(*parts)


def multiyear_report(summary: Mapping[str, Any], *, written: Sequence[str] = ()) -> Group:
    """A rich renderable of a multi-year plan: status and checks, then year by year the
    fulfilment (plan ray; each priority class's ray where there are classes), labour supply,
    use and price, and the other limited resources' supply, use and price."""
    labour_unit = summary.get("labour_unit") or "labour"
    ok = str(summary.get("status")) == "optimal"
    rows = _solve_rows(summary, [])
    rows.insert(3, ("years", ", ".join(map(str, summary.get("years") or []))))
    rows.insert(4, ("capital stocks", fmt_number(summary.get("capital_stocks"))))
    parts: list[Any] = [
        Panel(_kv_table(rows), title="[bold]gosplan · multi-year plan", title_align="left", expand=False)
    ]
    if not ok:
        parts.append(Text(str(summary.get("message", "")), style="red"))
    conflict = _conflict_table(summary)
    if conflict is not None:
        parts.append(conflict)
    fulfilment = summary.get("fulfilment") or {}
    labour = summary.get("labour") or {}
    classes = summary.get("class_fulfilment") or {}
    capital = summary.get("capital") or {}
    if fulfilment:
        table = Table(box=box.SIMPLE_HEAD, title="Year by year", title_justify="left")
        for col in ("year", "fulfilment", *(f"class {k}" for k in classes),
                    f"labour supply ({labour_unit})", "labour used", "labour price"):
            table.add_column(col, justify="left" if col == "year" else "right")
        for year, z in fulfilment.items():
            rec = labour.get(year, {})
            by_class = [(classes[k] or {}).get(year) for k in classes]
            table.add_row(
                str(year), "—" if z is None else f"{z:.6g}", *("—" if c is None else f"{c:.6g}" for c in by_class),
                fmt_number(rec.get("supply")), fmt_number(rec.get("used")), fmt_number(rec.get("price")),
            )
        parts.append(table)
        if capital:
            parts.append(Text("capital stocks at their limit (with a rent; the dearest): " + "; ".join(
                f"{year} {fmt_number(rec.get('at_limit'))} ({fmt_number(rec.get('priced'))}"
                + (f"; {', '.join(map(str, rec['dearest']))})" if rec.get("dearest") else ")")
                for year, rec in capital.items())))
    resources = summary.get("resources") or {}
    if resources:
        table = _resource_table(summary, list(resources), ("year", "available", "used", "price"), title="Other resources")
        for name, by_year in resources.items():
            cells = _resource_cells(name, summary, table)
            for year, rec in (by_year or {}).items():
                table.add_row(
                    *cells, str(year), fmt_number(rec.get("supply")), fmt_number(rec.get("used")),
                    fmt_number(rec.get("price")),
                )
        parts.append(table)
    for note in summary.get("notes") or []:
        parts.append(Text("note: " + str(note), style="dim"))
    if written:
        parts.append(Text("wrote " + ", ".join(written), style="dim"))
    return Group(*parts)


def economy_report(info: Mapping[str, Any]) -> Group:
    """A rich renderable of ``gosplan info``."""
    rows: list[tuple[str, Any]] = [("name", info.get("name", "—"))]
    for key in ("year", "source", "licence", "units", "labour_unit"):
        if info.get(key):
            rows.append((key.replace("_", " "), info[key]))
    rows.append(("products", fmt_number(info.get("products"))))
    if info.get("activities") != info.get("products"):
        rows.append(("activities", fmt_number(info.get("activities"))))
    nnz = info.get("nonzeros")
    if nnz is not None:
        rows.append(("nonzeros in A", f"{fmt_number(int(nnz))} ({info.get('density', 0.0):.2%} dense)"))
    if info.get("negative_coefficients"):
        rows.append(("negative coefficients", fmt_number(int(info["negative_coefficients"]))))
    resources = info.get("resources") or []
    rows.append(("primary inputs", ", ".join(resource_label(r, info) for r in resources) if resources else "—"))
    rows.append(("labour", info.get("labour") or "—"))
    categories = info.get("categories") or []
    shown = ", ".join(categories[:8]) + (f", … ({len(categories)} in all)" if len(categories) > 8 else "")
    rows.append(("final-demand categories", shown or "—"))
    if info.get("total_final_demand") is not None:
        rows.append(("total final demand", fmt_number(info["total_final_demand"])))
    if info.get("has_recorded_output"):
        rows.append(("recorded gross output", fmt_number(info.get("total_recorded_output"))))
    comp = info.get("components")
    if comp:
        rows.append(
            (
                "strongly connected components",
                f"{fmt_number(comp['count'])} (largest {fmt_number(comp['largest'])} products, "
                f"{fmt_number(comp['singletons'])} singletons)",
            )
        )
    if info.get("named_products") is not None:
        rows.append(("product names", f"{fmt_number(int(info['named_products']))} of {fmt_number(info.get('products'))}"))
    h = info.get("hierarchy")
    if h:
        chain = f"{fmt_number(h['ministries'])} ministries"
        if h.get("sectors"):
            chain = f"{fmt_number(h['sectors'])} sectors, " + chain
        chain += f", {fmt_number(h['enterprises'])} enterprises"
        if h.get("regions"):
            chain += f" in {fmt_number(h['regions'])} regions"
        rows.append(("chain of command", chain))
    if info.get("load_seconds") is not None:
        rows.append(("load time", fmt_seconds(info["load_seconds"])))
    parts: list[Any] = [Panel(_kv_table(rows), title="[bold]gosplan · economy", title_align="left", expand=False)]
    if h and h.get("per_ministry"):
        parts.append(_ministry_table(h["per_ministry"]))
    notes = list(info.get("notes") or []) + list((h or {}).get("notes") or [])
    for note in notes:
        parts.append(Text(f"note: {note}", style="dim"))
    return Group(*parts)


def _ministry_table(rows: Sequence[Mapping[str, Any]], k: int = 25) -> Group:
    """The ministries of ``gosplan info``: name, sector, products, enterprises (the first ``k``)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    with_sector = any(r.get("sector") is not None for r in rows)
    with_name = any(r.get("name") is not None for r in rows)
    table.add_column("ministry", overflow="fold")
    if with_name:
        table.add_column("name", overflow="ellipsis", no_wrap=True, max_width=40)
    if with_sector:
        table.add_column("sector")
    table.add_column("products", justify="right")
    table.add_column("enterprises", justify="right")
    for r in rows[:k]:
        cells = [str(r["ministry"])]
        if with_name:
            cells.append(str(r.get("name") or r["ministry"]))
        if with_sector:
            cells.append(str(r.get("sector") or "—"))
        table.add_row(*cells, fmt_number(int(r["products"])), fmt_number(int(r["enterprises"])))
    parts: list[Any] = [Text("\nChain of command: ministries", style="bold"), table]
    if len(rows) > k:
        parts.append(Text(f"… {len(rows) - k:,} more ministries (--json lists them all)", style="dim"))
    return Group(*parts)


def datasets_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """The bundled datasets: name, title, size and year, source, licence (wrapped to the
    terminal's width, one block per dataset)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for k, row in enumerate(rows):
        facts = [f"{fmt_number(row['products'])} products" if row.get("products") is not None else None,
                 str(row["year"]) if row.get("year") else None, row.get("units")]
        body = Text()
        body.append(str(row.get("title") or ""), style="bold")
        line = " · ".join(str(f) for f in facts if f)
        if line:
            body.append("\n" + line)
        if row.get("source"):
            body.append("\nsource: ", style="dim")
            body.append(str(row["source"]))
        if row.get("licence"):
            body.append("\nlicence: ", style="dim")
            body.append(str(row["licence"]))
        if k:
            table.add_row("", "")
        table.add_row(str(row.get("name", "")), body)
    return table


# ------------------------------------------------------------------------- progress
class Activity:
    """A spinner / progress bar on stderr for long work; a no-op when ``enabled`` is
    false (stderr not a terminal, ``--json``)."""

    def __init__(self, console: Console, enabled: bool, *, bar: bool = False):
        self.enabled = enabled
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
        if bar:
            columns.append(BarColumn(bar_width=30))
        columns += [TextColumn("{task.fields[detail]}", style="dim"), TimeElapsedColumn()]
        self._progress = Progress(*columns, console=console, transient=True, disable=not enabled)
        self._task: Any = None
        self._last = 0.0

    def __enter__(self) -> "Activity":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    @contextmanager
    def step(self, description: str, total: float | None = None) -> Iterator["Activity"]:
        """One phase of work (``total=None``: a spinner without a bar)."""
        if not self.enabled:
            yield self
            return
        self._task = self._progress.add_task(description, total=total, detail="")
        try:
            yield self
        finally:
            self._progress.remove_task(self._task)
            self._task = None

    def update(self, *, completed: float | None = None, total: float | None = None, detail: str | None = None,
               force: bool = False) -> None:
        """Update the current phase, at most ten times a second unless ``force``."""
        if not self.enabled or self._task is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        kwargs: dict[str, Any] = {}
        if completed is not None:
            kwargs["completed"] = completed
        if total is not None:
            kwargs["total"] = total
        if detail is not None:
            kwargs["detail"] = detail
        self._progress.update(self._task, **kwargs)

    def solver_callback(self) -> Any:
        """A ``progress(system, iteration, residual)`` callback for :func:`gosplan.balance`."""
        if not self.enabled:
            return None

        def callback(system: str, iteration: int, residual: float) -> None:
            what = "gross output x" if system == "x" else "values v" if system == "values" else system
            self.update(detail=f"{what}: iteration {iteration:,}, residual {residual:.1e}")

        return callback


def decomposed_report(summary: Mapping[str, Any], log: Sequence[str], *, written: Sequence[str] = ()) -> Group:
    """A rich renderable of a two-level plan: status, the round log, the files written."""
    from gosplan.decompose.result import objective_label

    ok = str(summary.get("status")) == "optimal"
    what = objective_label(str(summary.get("objective_kind")))
    rows = [
        ("economy", str(summary.get("economy"))),
        ("coordination", str(summary.get("coordination", "aggregation"))),
        ("status", str(summary.get("status"))),
        (what, fmt_number(summary.get("objective"))),
        ("bound", fmt_number(summary.get("bound"))),
        ("gap", "—" if summary.get("gap") is None else f"{summary['gap']:.2e}"),
        ("rounds", str(summary.get("rounds"))),
        ("ministries · enterprises", f"{summary.get('ministries'):,} · {summary.get('enterprises'):,}"),
        ("ran on", str(summary.get("executor"))),
        ("seconds (centre, ministries)", f"{summary.get('seconds', 0):.2f} ({summary.get('centre_seconds', 0):.2f}, "
                                         f"{summary.get('ministry_seconds', 0):.2f})"),
    ]
    parts: list[Any] = [
        Panel(_kv_table(rows), title="[bold]gosplan · two-level plan", title_align="left", expand=False)
    ]
    if not ok:
        parts.append(Text(str(summary.get("message", "")), style="red"))
    for line in log:
        parts.append(Text(line, style="dim"))
    if written:
        parts.append(Text("wrote " + ", ".join(written[:8]) + (" ..." if len(written) > 8 else ""), style="dim"))
    return Group(*parts)

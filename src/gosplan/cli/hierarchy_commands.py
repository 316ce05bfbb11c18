"""``gosplan aggregate`` and ``gosplan breakdown``: the chain of command on the command line.

Registered on :data:`gosplan.cli.app.app` when :mod:`gosplan.cli.app` imports this
module. Like every command, they load an economy, call one library function
(:func:`gosplan.aggregate`, :func:`gosplan.breakdown`) and render its result.
"""

# no `from __future__ import annotations`: typer would then eval every annotation string
# (compile + eval, ~50 ms for all commands) on each start-up (docs/cli.md, "Start-up")

import enum
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gosplan._version import __version__
from gosplan.cli.app import (
    ECONOMY_HELP,
    EXIT_ERROR,
    EXIT_INFEASIBLE,
    SUMMARY_NAME,
    AllowNegativeValueAdded,
    Format,
    _check_out,
    _consoles,
    _dumps,
    _fail,
    _guard,
    _load,
    _publish,
    app,
)

BREAKDOWN_STEMS = ("ministries", "ministry_products", "ministry_flows", "enterprises", "allocations", "links", "shortfall")
AGGREGATE_STEMS = ("products", "ministries")


class Rule(str, enum.Enum):
    proportional = "proportional"
    merit = "merit"


def _out_option(what: str) -> Any:
    return typer.Option(
        "--out", "-o", metavar="DIR", show_default=False, file_okay=False,
        help=f"Write {what} and DIR/summary.json. Without it the report goes to the terminal only.",
    )


def _number(value: Any, digits: int = 6) -> str:
    from gosplan.cli.report import fmt_number

    return fmt_number(value, digits)


def _kv(rows: Sequence[tuple[str, Any]]) -> Any:
    from gosplan.cli.report import _kv_table

    return _kv_table(rows)


def _frame_table(frame: Any, columns: Sequence[tuple[str, str]], title: str, k: int = 15) -> Any:
    """The first ``k`` rows of ``frame`` as a rich table (text columns as they are, numbers formatted)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", title_style="bold")
    for name, header in columns:
        text = frame[name].dtype == object or str(frame[name].dtype) in ("str", "string")
        if text:
            table.add_column(header, justify="left", no_wrap=True, overflow="ellipsis", max_width=32)
        else:
            table.add_column(header, justify="right", no_wrap=True)
    for row in frame.head(k).itertuples(index=False):
        values = dict(zip(frame.columns, row))
        table.add_row(*(str(values[c]) if isinstance(values[c], str) else _number(values[c]) for c, _ in columns))
    if len(frame) > k:
        table.caption = f"{k} of {len(frame):,} rows"
    return table


def _name_column(frame: Any) -> list[tuple[str, str]]:
    """The ``name`` column of a ministries frame, where the hierarchy names its ministries."""
    return [("name", "name")] if "name" in frame.columns else []


def _written(written: Sequence[str]) -> list[Any]:
    from rich.text import Text

    return [Text("\nwritten: " + ", ".join(written), style="dim")] if written else []


def shortfall_table(shortfall: Any, units: str) -> Any:
    """The products whose plan exceeds capacity, largest shortfall first."""
    return _frame_table(
        shortfall,
        [("product", "product"), ("ministry", "ministry"), ("planned", "planned"), ("capacity", "capacity"),
         ("shortfall", "shortfall")],
        f"Plan above capacity ({units})",
        k=20,
    )


def aggregate_report(summary: Mapping[str, Any], ministries: Any, *, written: Sequence[str] = ()) -> Any:
    from rich.console import Group

    units = summary.get("units") or "units"
    change = summary.get("max_input_change") or {}
    rows = [
        ("economy", f"{summary['economy']} ({summary['products']:,} products)"),
        ("ministries", f"{summary['ministries']:,}"),
        ("enterprises", f"{summary['enterprises']:,} ({summary['enterprises_with_own_norms']:,} with own norms)"),
        ("products with enterprises", f"{summary['products_with_enterprises']:,} "
                                      f"({summary['products_implicit']:,} made by their implicit producer)"),
        ("capacity", f"{_number(summary['capacity'])} {units}"),
        ("labour at capacity", f"{_number(summary['labour_at_capacity'])} {summary.get('labour_unit') or ''}"),
        ("balance of own demand", f"{_number(summary['gross_output_with_enterprises'])} {units} "
                                  f"(utilisation {_number(summary['utilisation'], 4)})"),
        ("largest coefficient change", f"{change.get('input')} into {change.get('product')}: "
                                       f"{_number(change.get('change'))}"),
        ("seconds", f"{_number(summary['seconds'], 3)} (load {_number(summary.get('load_seconds'), 3)})"),
    ]
    for note in summary.get("notes") or []:
        rows.append(("note", note))
    frame = ministries.sort_values("capacity", ascending=False, kind="stable")
    table = _frame_table(
        frame,
        [("ministry", "ministry"), *_name_column(frame), ("enterprises", "enterprises"), ("capacity", "capacity"),
         ("utilisation", "utilisation"), ("labour_at_capacity", "labour at capacity")],
        f"Ministries by capacity ({units})",
    )
    return Group(_kv(rows), table, *_written(written))


def breakdown_report(summary: Mapping[str, Any], ministries: Any | None, *, written: Sequence[str] = ()) -> Any:
    from rich.console import Group

    units = summary.get("units") or "units"
    checks = summary.get("checks") or {}
    rows = [
        ("economy", f"{summary['economy']} ({summary['products']:,} products)"),
        ("plan", str(summary.get("plan"))),
        ("rule", str(summary["rule"])),
        ("status", f"{summary['status']}: {summary['message']}"),
        ("ministries", f"{summary['ministries']:,}"),
        ("enterprises", f"{summary['enterprises']:,} (+ {summary['implicit_producers']:,} implicit producers; "
                        f"{summary['enterprises_at_capacity']:,} at capacity, {summary['enterprises_idle']:,} idle)"),
        ("gross output", f"{_number(summary['gross_output'])} {units}"),
        ("utilisation", _number(summary.get("utilisation"), 4)),
        ("labour", f"{_number(summary.get('labour'))} {summary.get('labour_unit') or ''}"),
        ("check: targets sum to plan", f"max relative error {_number(checks.get('split_max_relative_error'), 2)}"),
    ]
    if "allocations_vs_techniques" in checks:
        rows.append(("check: allocations", f"{checks['allocation_rows']:,} rows, relative error "
                                           f"{_number(checks['allocations_vs_techniques'], 2)}; vs A'g "
                                           f"{_number(checks['allocations_vs_aggregate'], 2)}"))
    links = summary.get("links")
    if links:
        cost = f", transport cost {_number(links['transport_cost'])}" if "transport_cost" in links else ""
        rows.append(("links", f"{links['links']:,}{cost}; balance error {_number(links['links_max_imbalance'], 2)}"))
    rows.append(("seconds", f"{_number(summary['seconds'], 3)} (load {_number(summary.get('load_seconds'), 3)})"))
    for note in summary.get("notes") or []:
        rows.append(("note", note))
    parts: list[Any] = [_kv(rows)]
    if ministries is not None:
        frame = ministries.sort_values("gross_output", ascending=False, kind="stable")
        parts.append(_frame_table(
            frame,
            [("ministry", "ministry"), *_name_column(frame), ("enterprises", "enterprises"), ("gross_output", "gross output"),
             ("utilisation", "utilisation"), ("labour", "labour")],
            f"Ministries by gross output ({units})",
        ))
    return Group(*parts, *_written(written))


@app.command()
def aggregate(
    economy: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="ECONOMY", show_default=False)],
    out: Annotated[Optional[Path], _out_option("DIR/products.csv, DIR/ministries.csv (or .parquet)")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of the tables.")] = Format.csv,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (and nothing else).")
    ] = False,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Aggregate the enterprises' reports: capacities and capacity-weighted techniques by product.

    A'[:, i] = sum_e C_e a_e / C_i and P'[:, i] = sum_e C_e p_e / C_i over the enterprises
    making product i; the products, ministries, capacities, labour at capacity and the
    utilisation that the table's own final demand asks of them (docs/hierarchy.md).
    """
    _check_out(out)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        from gosplan.hierarchy import aggregate as run_aggregate

        n_ent = eco.hierarchy.n_enterprises if eco.hierarchy is not None else 0
        if eco.hierarchy is not None and n_ent == 0:
            from gosplan.errors import InvalidEconomyError

            # BEA's tables carry its grouping of products as ministries, without enterprises:
            # every capacity would read 0 (gosplan breakdown still breaks a plan down to them).
            raise InvalidEconomyError(
                f"economy {economy!r} has {eco.hierarchy.n_ministries} ministries but no enterprises: nothing "
                f"to aggregate; add enterprises with gosplan synth --base {economy} --enterprises E --out DIR"
            )
        with activity.step(f"aggregating {n_ent:,} enterprises"):
            result = run_aggregate(eco)
        extra = {"load_seconds": load_seconds, "source": economy, "gosplan_version": __version__}
        summary: dict[str, Any] = {**result.summary(), **extra}
        ministries = result.ministries_frame()
        written: list[str] = []
        if out is not None:
            files = result.files(fmt.value, extra=extra)
            summary["files"] = {stem: f"{stem}.{fmt.value}" for stem in AGGREGATE_STEMS} | {"summary": SUMMARY_NAME}
            others = tuple(f"{s}.{f.value}" for s in AGGREGATE_STEMS for f in Format if f is not fmt)
            with activity.step(f"writing {out}"):
                written = [str(p) for p in _publish(out, files, remove=others)]
    if as_json:
        sys.stdout.write(_dumps(summary) + "\n")
        return
    out_console, _, _ = _consoles(True)
    out_console.print(aggregate_report(summary, ministries, written=written))


@app.command()
def breakdown(
    economy: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="ECONOMY", show_default=False)],
    plan: Annotated[
        Optional[Path],
        typer.Option(
            "--plan", "-p", metavar="FILE", show_default=False, dir_okay=False,
            help="Gross output to break down: a table with columns 'product' and 'gross_output' "
            "(CSV or Parquet, such as the plan.csv of 'gosplan plan' or 'gosplan balance'). "
            "Default: the material balance of the aggregated economy for its own final demand.",
        ),
    ] = None,
    rule: Annotated[
        Rule,
        typer.Option(
            "--rule", "-r",
            help="proportional: every enterprise of a product at the same utilisation; merit: the "
            "enterprises with the least labour per unit first, to capacity.",
        ),
    ] = Rule.proportional,
    links: Annotated[
        bool, typer.Option("--links", help="Also find the supplier-user links (DIR/links.csv).")
    ] = False,
    allocations: Annotated[
        bool,
        typer.Option(
            "--allocations/--no-allocations",
            help="Write every enterprise's input allocations (DIR/allocations.csv) and check they add up.",
        ),
    ] = True,
    out: Annotated[
        Optional[Path],
        _out_option("DIR/ministries.csv, ministry_products, ministry_flows, enterprises, allocations, links"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of the tables.")] = Format.csv,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (and nothing else).")
    ] = False,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Break a plan down to ministries and enterprises: targets, inputs, supply links.

    Splits each product's gross output among the enterprises that make it (0 <= target <=
    capacity, adding up to the plan), gives every enterprise its inputs and, with --links,
    its suppliers. Exit code 3: the plan exceeds some product's capacity (the shortfall is
    printed; DIR gets shortfall.csv and summary.json only).
    """
    _check_out(out)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity
    from gosplan.results import Status

    with _guard(), Activity(err_console, show_progress) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        from gosplan.hierarchy import aggregate as run_aggregate
        from gosplan.hierarchy import breakdown as run_breakdown
        from gosplan.hierarchy._techniques import resolve_hierarchy

        h = resolve_hierarchy(eco, None)
        if plan is None:
            from gosplan.material_balance import balance

            with activity.step("balancing the aggregated economy"):
                agg = run_aggregate(eco, balance=False)
                bal = balance(agg.economy, values=False, multipliers=False)
            if not bal.success:
                raise _fail(f"no balance of the aggregated economy to break down: {bal.message}")
            target: Any = bal.gross_output
            plan_words = "balance of the aggregated economy for its own final demand"
        else:
            target, plan_words = plan, str(plan)
        with activity.step(f"breaking down to {h.n_ministries:,} ministries, {h.n_enterprises:,} enterprises"):
            result = run_breakdown(eco, target, rule=rule.value, links=links, allocations=allocations)
        extra = {"plan": plan_words, "load_seconds": load_seconds, "source": economy, "gosplan_version": __version__}
        summary: dict[str, Any] = {**result.summary(), **extra}
        infeasible = result.status is Status.INFEASIBLE
        ministries = None if infeasible else result.ministries_frame()
        written: list[str] = []
        if out is not None:
            files = result.files(fmt.value, extra=extra)
            summary["files"] = {Path(name).stem if name != SUMMARY_NAME else "summary": name for name in files}
            others = tuple(f"{s}.{f.value}" for s in BREAKDOWN_STEMS for f in Format if f"{s}.{f.value}" not in files)
            with activity.step(f"writing {out}"):
                written = [str(p) for p in _publish(out, files, remove=others)]
    out_console, _, _ = _consoles(True)
    if as_json:
        sys.stdout.write(_dumps(summary) + "\n")
    else:
        out_console.print(breakdown_report(summary, ministries, written=written))
    if infeasible:
        if not as_json:
            out_console.print(shortfall_table(result.shortfall, summary.get("units") or "units"))
        raise _fail(result.message, EXIT_INFEASIBLE)
    if result.status is not Status.SOLVED:
        raise _fail(result.message, EXIT_ERROR)

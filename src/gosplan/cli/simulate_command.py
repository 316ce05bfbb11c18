"""``gosplan simulate``: the plan cycle with consumer feedback on the command line.

Registered on :data:`gosplan.cli.app.app` when :mod:`gosplan.cli.app` imports this module.
Like every command it loads an economy, calls one library function
(:func:`gosplan.simulate`) and renders its result: the ``periods``, ``prices``,
``consumption`` and ``groups`` tables, ``summary.json`` and ``report.html``, written only
when everything before them succeeded.
"""

# no `from __future__ import annotations`: typer would then eval every annotation string
# (compile + eval, ~50 ms for all commands) on each start-up (docs/cli.md, "Start-up")

import enum
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gosplan._version import __version__
from gosplan.cli.app import (
    ECONOMY_HELP,
    EXIT_ERROR,
    EXIT_INFEASIBLE,
    EXIT_OK,
    EXIT_UNBOUNDED,
    SUMMARY_NAME,
    AllowNegativeValueAdded,
    Format,
    Objective,
    PlanMethod,
    _check_out,
    _consoles,
    _dumps,
    _fail,
    _guard,
    _load,
    _option_file,
    _publish,
    app,
)

TABLES = ("periods", "prices", "consumption", "groups")
REPORT_NAME = "report.html"
TOP_GAPS = 5


class Rule(str, enum.Enum):
    opportunity = "opportunity"
    values = "values"
    fixed = "fixed"


class Regime(str, enum.Enum):
    command = "command"
    liberman = "liberman"
    optimal = "optimal"


class Reporting(str, enum.Enum):
    truthful = "truthful"
    understated = "understated"


def _read_prices(path: Path, households: Any) -> Any:
    """``product,price`` per consumer good, aligned to ``households.goods``: every consumer good
    priced, every price > 0; errors name the file, line and product."""
    import numpy as np

    from gosplan.errors import InvalidEconomyError, Location
    from gosplan.io.keyed import align_keyed, read_keyed

    series = read_keyed(path, ("product", "price"), minimum=0.0, kind="a prices file")
    lines = series.attrs.get("lines")
    zero = np.flatnonzero(series.to_numpy(dtype=float) <= 0)
    if zero.size:
        k = int(zero[0])
        raise InvalidEconomyError(
            f"price {float(series.iloc[k])!r} must be > 0",
            Location(file=str(path), line=None if lines is None else int(lines[k]), product=str(series.index[k])),
        )
    prices = align_keyed(series, households.goods, what="product", owner="the households' consumer goods",
                         fill=math.nan)
    missing = np.flatnonzero(~np.isfinite(prices))
    if missing.size:
        raise InvalidEconomyError(
            f"no price for consumer good {str(households.goods[missing[0]])!r}"
            + (f" ({missing.size - 1} more unpriced)" if missing.size > 1 else "")
            + ": price every good some household buys",
            Location(file=str(path)),
        )
    return prices


def _exit_code(plan: Any) -> int:
    """``plan``'s exit code for the last period's plan: 0 when it succeeded."""
    from gosplan.results import Status

    if plan is None or plan.success:
        return EXIT_OK
    return {Status.INFEASIBLE: EXIT_INFEASIBLE, Status.UNBOUNDED: EXIT_UNBOUNDED}.get(plan.status, EXIT_ERROR)


def _number(value: Any, digits: int = 4) -> str:
    from gosplan.cli.report import fmt_number

    return fmt_number(value, digits)


def _percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * float(value):.3g}%"


def simulate_report(summary: Mapping[str, Any], *, written: list[str]) -> Any:
    """A rich renderable: outcome, final indicators, the goods with the largest gap."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from gosplan.report.simulation import plan_objective

    ind = summary.get("indicators") or {}
    rows = [
        ("economy", f"{summary['economy']} ({summary['households']:,} household groups, {summary['goods']:,} goods)"),
        ("rule", str(summary["rule"])),
        ("plan objective", plan_objective(summary)),
        ("periods", f"{summary['periods']}"),
        ("converged", f"{'yes' if summary['converged'] else 'no'}: {summary['message']}"),
        ("final gap", f"{_number(summary.get('gap'), 3)} (target change {_number(summary.get('change'), 3)})"),
        ("shortage", f"{_percent(ind.get('shortage'))} (unsold {_percent(ind.get('unsold'))})"),
        ("hidden market", f"{_percent(ind.get('hidden_share'))} of spending (premium "
                          f"{_percent(ind.get('hidden_premium'))})"),
        ("welfare per head", _number(ind.get("welfare_per_head"))),
        ("consumption per head", _number(ind.get("consumption_per_head"))
         + (f"  (at {summary['valued_at']})" if summary.get("valued_at") else "")),
        ("Gini (consumption per head)", _number(ind.get("gini"), 3)),
        ("seconds", f"{_number(summary.get('seconds'), 3)} (load {_number(summary.get('load_seconds'), 3)})"),
    ]
    from gosplan.cli.report import _kv_table

    parts: list[Any] = [_kv_table(rows)]
    gaps = summary.get("largest_gaps") or []
    if gaps:
        what = "hidden-market price against fixed price" if summary["rule"] == "fixed" else "price against valuation"
        table = Table(box=box.SIMPLE_HEAD, title=f"Largest gaps, last period ({what})", title_justify="left",
                      title_style="bold")
        table.add_column("good", no_wrap=True, overflow="ellipsis", max_width=40)
        table.add_column("product", no_wrap=True)
        table.add_column("ratio", justify="right")
        table.add_column("gap", justify="right")
        for g in gaps:
            table.add_row(str(g["name"]), str(g["product"]), _number(g["ratio"], 6), _number(g["gap"], 3))
        parts.append(table)
    if written:
        parts.append(Text("\nwritten: " + ", ".join(written), style="dim"))
    return Group(*parts)


@app.command()
def simulate(
    ctx: typer.Context,
    economy: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="ECONOMY", show_default=False)],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="DIR", show_default=False, file_okay=False,
            help="Write DIR/periods.csv, prices.csv, consumption.csv, groups.csv (or .parquet), "
            "DIR/summary.json and DIR/report.html.",
        ),
    ],
    rule: Annotated[
        Rule,
        typer.Option(
            "--rule", "-r",
            help="opportunity: clearing prices against the plan's shadow prices (the loop's fixed point is "
            "the competitive equilibrium); values: against labour values; fixed: prices fixed by the centre, "
            "targets kept at the base-year mix, with rationing, queues and a hidden market.",
        ),
    ] = Rule.opportunity,
    periods: Annotated[int, typer.Option("--periods", "-T", min=1, metavar="T", help="At most T periods.")] = 30,
    households: Annotated[
        Optional[Path],
        _option_file("Households table (CSV or Parquet: household,population[,budget,elasticity]); with --preferences.",
                     "--households"),
    ] = None,
    preferences: Annotated[
        Optional[Path],
        _option_file("Preferences table (household,product,weight); with --households.", "--preferences"),
    ] = None,
    groups: Annotated[
        Optional[int],
        typer.Option(
            "--groups", "-H", min=1, metavar="H", show_default=False,
            help="Without household files: H synthetic household groups around the table's household "
            "demand (1: the table's households as one group; the default when no tables are found).",
        ),
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option("--seed", metavar="S", show_default=False, help="With --groups: random seed (default 0); with --regime also the seed of --shock-rate and --enterprises.")
    ] = None,
    resources: Annotated[
        Optional[Path], _option_file("CSV 'resource,available' for every period's plan (default: labour limited to the table's own total).", "--resources")
    ] = None,
    capacities: Annotated[
        Optional[Path], _option_file("CSV 'product,capacity': limit on each product's gross output.", "--capacities")
    ] = None,
    priorities: Annotated[
        Optional[Path], _option_file("CSV 'product,class': priority class of each household target.", "--priorities")
    ] = None,
    committed: Annotated[
        Optional[Path],
        _option_file("CSV 'product,quantity': final demand other than households' (default: the table's final "
                     "demand less the households' category).", "--committed"),
    ] = None,
    prices: Annotated[
        Optional[Path],
        _option_file("With --rule fixed: CSV 'product,price', the fixed price of every consumer good (default: "
                     "base-year labour values, scaled to the households' income).", "--prices"),
    ] = None,
    objective: Annotated[
        Objective, typer.Option("--objective", "-O", help="Objective of every period's plan (as 'gosplan plan').")
    ] = Objective.fulfilment,
    method: Annotated[
        PlanMethod, typer.Option("--method", "-m", help="Solver of every period's plan (as 'gosplan plan').")
    ] = PlanMethod.auto,
    weights: Annotated[
        Optional[str],
        typer.Option(
            "--weights", metavar="value|unit|FILE", show_default=False,
            help="With --objective harmony: each target weighted by its value at base-year labour values (value, "
            "the default), weight 1 for every product (unit, as 'gosplan plan'), or CSV 'product,weight'.",
        ),
    ] = None,
    tol: Annotated[
        float, typer.Option("--tol", metavar="X", help="Convergence: largest price-ratio gap and target revision.")
    ] = 1e-4,
    step: Annotated[
        float, typer.Option("--step", metavar="X", help="Step theta in (0, 1] of the target revision (halved when a period goes backwards).")
    ] = 1.0,
    hidden_share: Annotated[
        float, typer.Option("--hidden-share", metavar="X", help="With --rule fixed: share of each scarce good diverted to the hidden market, in [0, 1).")
    ] = 0.1,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of the tables.")] = Format.csv,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (and nothing else).")
    ] = False,
    regime: Annotated[
        Optional[Regime],
        typer.Option(
            "--regime", show_default=False,
            help="Carry plans out instead (gosplan.execute): enterprises executing the centre's plans under "
            "shocks, shortages that spread. command: taut balance, ratcheted gross-output targets; liberman: "
            "sales targets, profitability at fixed prices; optimal: the optimal plan every period, clearing "
            "prices. Writes periods, products, ministries, enterprises, groups, alerts (docs/cli.md).",
        ),
    ] = None,
    shocks: Annotated[
        Optional[Path],
        _option_file("With --regime: capacity shocks, CSV or Parquet 'period,enterprise|product,capacity_factor'.",
                     "--shocks"),
    ] = None,
    shock_rate: Annotated[
        Optional[float],
        typer.Option("--shock-rate", metavar="R", show_default=False,
                     help="With --regime: random shocks, each producer not in one starts one with probability R "
                     "per period (--seed)."),
    ] = None,
    shock_depth: Annotated[
        float, typer.Option("--shock-depth", metavar="D", help="With --shock-rate: deepest cut of capacity, in (0, 1].")
    ] = 0.5,
    shock_persistence: Annotated[
        float, typer.Option("--shock-persistence", metavar="P",
                            help="With --shock-rate: probability that a shock lasts into the next period, in [0, 1).")
    ] = 0.5,
    stocks: Annotated[
        bool, typer.Option("--stocks/--no-stocks", help="With --regime: inputs not used are kept (or wasted).")
    ] = True,
    hoarding: Annotated[
        float, typer.Option("--hoarding", metavar="H", help="With --regime: order-multiplier step after a shortage "
                            "(0: no hoarding; needs --stocks).")
    ] = 0.0,
    spoilage: Annotated[
        float, typer.Option("--spoilage", metavar="S", help="With --regime: share of unsold goods that spoils each "
                            "period, in [0, 1].")
    ] = 0.0,
    reporting: Annotated[
        Reporting, typer.Option("--reporting", help="With --regime: enterprises report their capacity "
                                "truthfully or understate it (hidden reserves).")
    ] = Reporting.truthful,
    lookahead: Annotated[
        float, typer.Option("--lookahead", metavar="D", help="With --regime: enterprises' discount factor in [0, 1) "
                            "against the ratchet (0: myopic).")
    ] = 0.0,
    ratchet: Annotated[
        float, typer.Option("--ratchet", metavar="G", help="With --regime command: growth g of the ratchet, "
                            "T' = min(R, max(T, (1 + g) x)).")
    ] = 0.02,
    enterprises: Annotated[
        Optional[float],
        typer.Option("--enterprises", min=0, metavar="E", show_default=False,
                     help="With --regime: synthetic enterprises, E per product on average, as 'gosplan synth "
                     "--enterprises' (--seed; default: the economy's own chain of command, else one producer per "
                     "product)."),
    ] = None,
    ministries: Annotated[
        Optional[int],
        typer.Option("--ministries", min=1, metavar="M", show_default=False,
                     help="With --regime: group the products into M synthetic ministries, as 'gosplan synth'."),
    ] = None,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Plan cycle with consumer feedback: plan, sell to household groups, revise the targets.

    Each period the centre plans with the households' targets (the rest of final demand
    committed), sells what the plan delivers at clearing prices (or at fixed prices, with
    rationing and a hidden market) and revises its targets against its valuations
    (docs/consumers.md). Stops when the price-ratio gap and the target revision are below
    --tol, or after --periods. Exit code 3: a period's plan is infeasible (4: unbounded); the
    summary names the period, and the periods before it are written.

    With --regime command|liberman|optimal: plans carried out instead (gosplan.execute), under
    shocks (--shocks FILE or --shock-rate R) and the enterprises' behaviour (--stocks, --hoarding,
    --spoilage, --reporting, --lookahead, --ratchet); exit code 1 (3: infeasible) when the centre
    fails mid-way, with the periods before it written.
    """

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name != "DEFAULT"

    execution_only = (("shocks", "--shocks"), ("shock_rate", "--shock-rate"), ("shock_depth", "--shock-depth"),
                      ("shock_persistence", "--shock-persistence"), ("stocks", "--stocks"),
                      ("hoarding", "--hoarding"), ("spoilage", "--spoilage"), ("reporting", "--reporting"),
                      ("lookahead", "--lookahead"), ("ratchet", "--ratchet"), ("enterprises", "--enterprises"),
                      ("ministries", "--ministries"))
    if regime is None:
        for name, flag in execution_only:
            if given(name):
                raise typer.BadParameter("applies to plans carried out: give --regime", param_hint=flag)
    else:
        return _simulate_regime(
            given, economy=economy, out=out, regime=regime, periods=periods, households=households,
            preferences=preferences, groups=groups, seed=seed, resources=resources, capacities=capacities,
            committed=committed, method=method, step=step, hidden_share=hidden_share, shocks=shocks,
            shock_rate=shock_rate, shock_depth=shock_depth, shock_persistence=shock_persistence,
            behaviour={"stocks": stocks, "hoarding": hoarding, "spoilage": spoilage,
                       "reporting": Reporting(reporting).value, "lookahead": lookahead, "ratchet": ratchet},
            enterprises=enterprises, ministries=ministries, fmt=fmt, as_json=as_json,
            allow_negative_value_added=allow_negative_value_added,
        )
    if not (math.isfinite(tol) and 0 < tol < 1):
        raise typer.BadParameter(f"must be in (0, 1), got {tol}", param_hint="--tol")
    if not (math.isfinite(step) and 0 < step <= 1):
        raise typer.BadParameter(f"must be in (0, 1], got {step}", param_hint="--step")
    if not (math.isfinite(hidden_share) and 0 <= hidden_share < 1):
        raise typer.BadParameter(f"must be in [0, 1), got {hidden_share}", param_hint="--hidden-share")
    if (households is None) != (preferences is None):
        raise typer.BadParameter("give both --households FILE and --preferences FILE, or neither",
                                 param_hint="--households" if households is None else "--preferences")
    if households is not None and (groups is not None or seed is not None):
        raise typer.BadParameter("applies to synthetic households, not to household files",
                                 param_hint="--groups" if groups is not None else "--seed")
    if rule is not Rule.fixed:
        if prices is not None:
            raise typer.BadParameter("only with --rule fixed (other rules clear the markets)", param_hint="--prices")
        if hidden_share != 0.1:
            raise typer.BadParameter("only with --rule fixed", param_hint="--hidden-share")
    if weights is not None:
        if objective is not Objective.harmony:
            raise typer.BadParameter(
                f"weights weigh the harmony objective; give --objective harmony (the objective is {objective.value!r})",
                param_hint="--weights",
            )
        if weights not in ("value", "unit") and not Path(weights).is_file():
            raise typer.BadParameter(f"neither 'value', 'unit' nor a file: {weights!r}", param_hint="--weights")
    _check_out(out)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress, bar=True) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        from gosplan.io.households import load_households

        directory = Path(economy) if Path(economy).is_dir() else None
        with activity.step("reading the households"):
            hh = load_households(eco, households, preferences, directory=directory, groups=groups, seed=seed)
        fixed = _read_prices(prices, hh) if prices is not None else None
        from gosplan import simulate as run_simulate

        with activity.step(f"simulating {periods} periods ({rule.value}, {hh.H:,} groups, {hh.G:,} goods)",
                           total=float(periods)) as bar:
            sim = run_simulate(
                eco, hh, rule=rule.value, periods=periods, tol=tol, objective=objective.value, method=method.value,
                resources=resources, capacities=capacities, priorities=priorities, committed=committed,
                prices=fixed, step=step, hidden_share=hidden_share,
                weights=weights if weights in (None, "value", "unit") else Path(weights),
                progress=lambda t, line: bar.update(completed=float(t), detail=line, force=True),
            )
        from gosplan.report.simulation import price_gaps

        code = _exit_code(sim.plan)
        summary: dict[str, Any] = sim.summary()
        if code != EXIT_OK:
            summary["failed_period"] = sim.n_periods + 1
            summary["plan_status"] = sim.plan.status.value
        elif sim.error:  # the target revision failed: the periods before it are written
            code = EXIT_ERROR
            summary["failed_period"] = sim.n_periods + 1
        gaps = price_gaps(sim.prices, sim.rule).head(TOP_GAPS)
        summary["largest_gaps"] = [
            {"product": r.product, "name": r.name, "price": r.price, "valuation": r.valuation, "ratio": r.ratio,
             "gap": r.gap}
            for r in gaps.itertuples(index=False)
        ]
        summary.update({
            # consumption and welfare per head are valued at the base year's labour values of the
            # consumer goods (unit quantities where the economy has no labour): cycle.simulate
            "valued_at": (f"base-year labour values ({eco.meta.labour_unit})" if eco.labour is not None
                          else "unit quantities (no labour in the economy)"),
            "load_seconds": load_seconds,
            "source": economy,
            "households_source": hh.source if getattr(hh, "source", None) else None,
            "inputs": {k: str(v) for k, v in {
                "households": households, "preferences": preferences, "resources": resources,
                "capacities": capacities, "priorities": priorities, "committed": committed, "prices": prices,
                "weights": weights,
            }.items() if v is not None},
            "gosplan_version": __version__,
        })
        names = {stem: f"{stem}.{fmt.value}" for stem in TABLES}
        summary["files"] = {**names, "summary": SUMMARY_NAME, "report": REPORT_NAME}
        text = _dumps(summary) + "\n"
        html = sim.to_html() if code == EXIT_OK else _html_with(summary, sim)
        files: dict[str, Any] = {
            names[stem]: (lambda frame: lambda p: _write(frame, p, fmt.value))(getattr(sim, stem)) for stem in TABLES
        }
        files[SUMMARY_NAME] = lambda p: p.write_text(text, encoding="utf-8")
        files[REPORT_NAME] = lambda p: p.write_text(html, encoding="utf-8")
        others = tuple(f"{s}.{f.value}" for s in TABLES for f in Format if f is not fmt)
        with activity.step(f"writing {out}"):
            written = [str(p) for p in _publish(out, files, remove=others)]
    if as_json:
        sys.stdout.write(text)
    else:
        out_console, _, _ = _consoles(True)
        out_console.print(simulate_report(summary, written=written))
    if code != EXIT_OK:
        raise _fail(sim.message, code)


def _simulate_regime(given: Any, *, regime: Regime, shocks: Optional[Path], shock_rate: Optional[float],
                     shock_depth: float, shock_persistence: float, households: Optional[Path],
                     groups: Optional[int], seed: Optional[int], step: float, hidden_share: float,
                     preferences: Optional[Path], **rest: Any) -> None:
    """``simulate --regime``: checks the options, then :func:`gosplan.cli.execute_command.run_regime`."""
    from gosplan.cli.execute_command import run_regime

    for name, flag in (("rule", "--rule"), ("priorities", "--priorities"), ("prices", "--prices"),
                       ("objective", "--objective"), ("weights", "--weights"), ("tol", "--tol")):
        if given(name):
            raise typer.BadParameter("does not apply with --regime (plans carried out)", param_hint=flag)
    if shocks is not None and shock_rate is not None:
        raise typer.BadParameter("give --shocks FILE or --shock-rate R, not both", param_hint="--shocks")
    if shock_rate is None:
        for name, flag in (("shock_depth", "--shock-depth"), ("shock_persistence", "--shock-persistence")):
            if given(name):
                raise typer.BadParameter("needs --shock-rate R", param_hint=flag)
    else:
        if not (math.isfinite(shock_rate) and 0 <= shock_rate <= 1):
            raise typer.BadParameter(f"must be in [0, 1], got {shock_rate}", param_hint="--shock-rate")
        if not (math.isfinite(shock_depth) and 0 < shock_depth <= 1):
            raise typer.BadParameter(f"must be in (0, 1], got {shock_depth}", param_hint="--shock-depth")
        if not (math.isfinite(shock_persistence) and 0 <= shock_persistence < 1):
            raise typer.BadParameter(f"must be in [0, 1), got {shock_persistence}", param_hint="--shock-persistence")
    if not (math.isfinite(step) and 0 < step <= 1):
        raise typer.BadParameter(f"must be in (0, 1], got {step}", param_hint="--step")
    if not (math.isfinite(hidden_share) and 0 <= hidden_share < 1):
        raise typer.BadParameter(f"must be in [0, 1), got {hidden_share}", param_hint="--hidden-share")
    if (households is None) != (preferences is None):
        raise typer.BadParameter("give both --households FILE and --preferences FILE, or neither",
                                 param_hint="--households" if households is None else "--preferences")
    if households is not None and groups is not None:
        raise typer.BadParameter("applies to synthetic households, not to household files", param_hint="--groups")
    b = rest.pop("behaviour")
    checks = (("hoarding", "--hoarding", b["hoarding"] >= 0, ">= 0"), ("spoilage", "--spoilage", 0 <= b["spoilage"] <= 1,
              "in [0, 1]"), ("lookahead", "--lookahead", 0 <= b["lookahead"] < 1, "in [0, 1)"),
              ("ratchet", "--ratchet", b["ratchet"] >= 0, ">= 0"))
    for key, flag, ok, what in checks:
        if not (math.isfinite(b[key]) and ok):
            raise typer.BadParameter(f"must be {what}, got {b[key]}", param_hint=flag)
    if b["hoarding"] > 0 and not b["stocks"]:
        raise typer.BadParameter("needs --stocks: an enterprise hoards inputs it can keep", param_hint="--hoarding")
    run_regime(regime=regime.value, shocks_file=shocks, shock_rate=shock_rate, shock_depth=shock_depth,
               shock_persistence=shock_persistence, households=households, preferences=preferences, groups=groups,
               seed=seed, step=step, hidden_share=hidden_share, behaviour=b,
               method=rest.pop("method").value, **rest)


def _html_with(summary: Mapping[str, Any], sim: Any) -> str:
    from gosplan.report.simulation import simulation_html

    return simulation_html(dict(summary), sim.periods, sim.prices, sim.groups)


def _write(frame: Any, path: Path, fmt: str) -> None:
    """A simulation table as CSV or Parquet (an empty table keeps its columns)."""
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)

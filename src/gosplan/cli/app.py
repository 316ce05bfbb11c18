"""gosplan's command line (typer + rich).

The CLI holds no planning logic: every command loads an economy with
:func:`gosplan.load`, calls one library function and renders its result.

Exit codes
----------
0  success
1  error: bad input (file, line and product named on stderr), an unproductive economy,
   a solve that did not converge, an unexpected failure
   (``plan``: also a plan stopped at an iteration or time limit, or one that failed
   gosplan's own optimality check; its files are still written, with the gap)
2  usage error: unknown option, bad option value
3  infeasible plan (the conflicting constraints are named on stderr)
4  unbounded plan

Set ``GOSPLAN_DEBUG=1`` to get a Python traceback instead of the one-line message.
"""

# no `from __future__ import annotations`: typer would then eval every annotation string
# (compile + eval, ~50 ms for all commands) on each start-up (docs/cli.md, "Start-up")

import enum
import json
import math
import os
import shutil
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator, Mapping, Optional

import typer

from gosplan._version import __version__
from gosplan.cli.choices import BALANCE_METHODS, DECOMPOSE_COORDINATIONS, PLAN_METHODS, PLAN_OBJECTIVES, choice_enum
from gosplan.cli.group import GosplanGroup
from gosplan.errors import PlanningError

__all__ = ["app", "main", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_INFEASIBLE", "EXIT_UNBOUNDED"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INFEASIBLE = 3
EXIT_UNBOUNDED = 4

PLAN_STEM = "plan"
#: Columns of the tables and notes written to a pipe or a file (``COLUMNS`` overrides it).
PIPE_WIDTH = 160
#: ``plan`` input files that also apply with ``--years`` (the others are single-year only).
MULTIYEAR_INPUTS = ("priorities", "resources", "costs")
MULTIYEAR_OBJECTIVES = ("fulfilment", "harmony", "cost")
SUMMARY_NAME = "summary.json"


#: ``--allow-negative-value-added`` of every command that loads an economy.
AllowNegativeValueAdded = Annotated[
    bool,
    typer.Option(
        "--allow-negative-value-added",
        help="Read a monetary table whose inputs exceed the gross output of some columns "
        "(negative value added) instead of refusing it; a warning names the columns "
        "(docs/economy-format.md).",
    ),
]


class Format(str, enum.Enum):
    csv = "csv"
    parquet = "parquet"


class Keys(str, enum.Enum):
    label = "label"
    position = "position"


# constants, not the solvers' own lists: importing those loads numba (docs/cli.md, "Start-up")
Method = choice_enum("Method", BALANCE_METHODS)
Objective = choice_enum("Objective", PLAN_OBJECTIVES)
PlanMethod = choice_enum("PlanMethod", PLAN_METHODS)
Coordination = choice_enum("Coordination", DECOMPOSE_COORDINATIONS)


app = typer.Typer(
    name="gosplan",
    cls=GosplanGroup,
    help=(
        "Economic planning from input-output data: material balances, Leontief systems, "
        "labour values and multipliers, from a 4-product example to 10^7 products.\n\n"
        "Exit codes: 0 ok (optimal plan), 1 error (bad input, unproductive economy, no convergence, "
        "a plan stopped at a limit), 2 usage error, 3 infeasible plan, 4 unbounded plan."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --------------------------------------------------------------------------- helpers
_BUNDLED = str(Path(__file__).resolve().parents[1] / "datasets") + os.sep


def _one_line(text: str) -> str:
    """``text`` on one line; a bundled dataset's files named from the datasets folder
    (``bundled uk_ons_2015/...``), not by the install's absolute path."""
    text = str(text).replace(_BUNDLED, "bundled ")
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    sys.stderr.write(f"error: {_one_line(message)}\n")
    sys.stderr.flush()
    return typer.Exit(code)


@contextmanager
def _guard() -> Iterator[None]:
    """Turn errors into one line on stderr and an exit code; warnings into one line each."""
    debug = os.environ.get("GOSPLAN_DEBUG", "") not in ("", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("default")

        def show(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None) -> None:
            sys.stderr.write(f"warning: {_one_line(str(message))}\n")

        warnings.showwarning = show
        try:
            yield
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except PlanningError as exc:
            if debug:
                raise
            raise _fail(str(exc)) from None
        except FileExistsError as exc:
            if debug:
                raise
            raise _fail(str(exc)) from None
        except OSError as exc:
            if debug:
                raise
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            raise _fail(f"{where}{exc.strerror or exc}") from None
        except Exception as exc:  # a bug or an unforeseen input: still one line, not a traceback
            if debug:
                raise
            typename = type(exc).__name__
            raise _fail(f"{typename}: {exc} (set GOSPLAN_DEBUG=1 for a traceback)") from None


def _json_ready(value: Any) -> Any:
    from gosplan._json import json_ready

    return json_ready(value)


def _dumps(value: Any) -> str:
    return json.dumps(_json_ready(value), indent=2, allow_nan=False)


def _consoles(quiet: bool) -> tuple[Any, Any, bool]:
    """(stdout console, stderr console, progress enabled)."""
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        # Piped or redirected: rich would wrap every table at 80 columns (a resource's name over
        # five lines); a file is read with a pager or an editor, not a terminal's width.
        out = Console(highlight=False, width=PIPE_WIDTH)
    err = Console(stderr=True, highlight=False)
    return out, err, (not quiet) and err.is_terminal


def _check_out(out: Optional[Path], param: str = "--out") -> None:
    if out is not None and out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} exists and is not a directory", param_hint=param)


def _load(source: str, activity: Any, allow_negative_value_added: bool = False) -> tuple[Any, float]:
    from gosplan.io.load import load

    options = {"allow_negative_value_added": True} if allow_negative_value_added else {}
    with activity.step(f"loading {source}"):
        t0 = time.perf_counter()
        economy = load(source, **options)
        return economy, time.perf_counter() - t0


def _named(frame: Any, economy: Any) -> Any:
    """:func:`gosplan.model.economy.with_product_names` (imported when a command writes)."""
    from gosplan.model.economy import with_product_names

    return with_product_names(frame, economy)


def _write_frame(frame: Any, path: Path, fmt: str) -> None:
    """A plan table, CSV (unquoted unless a label needs quotes, NaN as empty) or Parquet."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path, compression="zstd")
        return
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    quote = False
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if len(column) and pc.any(pc.match_substring_regex(column, '[,"\\r\\n]')).as_py():
                quote = True
    def cell(name: str) -> str:
        return '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\r\n') else name

    with open(path, "wb") as fh:
        fh.write((",".join(cell(n) for n in table.column_names) + "\n").encode())
        pcsv.write_csv(
            table,
            fh,
            write_options=pcsv.WriteOptions(include_header=False, quoting_style="needed" if quote else "none"),
        )


def _publish(out: Path, files: Mapping[str, Any], remove: tuple[str, ...] = ()) -> list[Path]:
    """Write ``files`` ({name: writer(path)}) into a temporary directory next to them and
    move them into ``out`` only when all were written: an error leaves nothing behind."""
    import tempfile

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gosplan-", dir=out))
    try:
        for name, writer in files.items():
            writer(staging / name)
        written = []
        for name in files:
            os.replace(staging / name, out / name)
            written.append(out / name)
        for name in remove:
            stale = out / name
            if stale.is_file():
                stale.unlink()
        return written
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _record(obj: Any) -> dict[str, Any]:
    """A dataset description as a dict, whatever its type."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if hasattr(obj, "_asdict"):
        return dict(obj._asdict())
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _first_key(record: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


# --------------------------------------------------------------------------- root
def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gosplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """gosplan: economic planning from input-output data."""


# --------------------------------------------------------------------------- balance
ECONOMY_HELP = (
    "A bundled dataset (see 'gosplan datasets', e.g. us-2017) or a path: a gosplan economy "
    "directory, BEA make/use tables, pymrio-layout flow tables, the ONS UK or Cockshott tables."
)


@app.command()
def balance(
    economy: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="ECONOMY", show_default=False)],
    demand: Annotated[
        Optional[Path],
        typer.Option(
            "--demand", "-d", metavar="FILE", show_default=False,
            help="CSV with header 'product,quantity' replacing the table's own final demand "
            "(products not named get zero).",
        ),
    ] = None,
    scale: Annotated[float, typer.Option("--scale", "-s", help="Multiply the final demand by S.", metavar="S")] = 1.0,
    method: Annotated[
        Method,
        typer.Option(
            "--method", "-m",
            help="Solver: dense LU; trim-*: products peeled off level by level (those no "
            "remaining product uses) and the rest iterated by Gauss-Seidel, Jacobi or BiCGSTAB; "
            "scc-*: strongly connected components in topological order, the same iterations "
            "inside the large ones; bicgstab on the whole system. auto: dense for small tables, "
            "trim-bicgstab beyond (docs/maths.md).",
        ),
    ] = Method.auto,
    tol: Annotated[
        float, typer.Option("--tol", help="Relative residual every system must reach.", metavar="T")
    ] = 1e-10,
    maxiter: Annotated[
        int, typer.Option("--maxiter", min=1, help="Iteration limit per large component.", metavar="N")
    ] = 5000,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out", "-o", metavar="DIR", show_default=False, file_okay=False,
            help="Write DIR/plan.csv (or plan.parquet) and DIR/summary.json. Without it the "
            "report goes to the terminal only.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of the plan table.")] = Format.csv,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (and nothing else).")
    ] = False,
    multipliers: Annotated[
        bool,
        typer.Option(
            "--multipliers/--no-multipliers",
            help="Also compute output multipliers and every primary input's multipliers (labour "
            "values are always computed when the economy has labour).",
        ),
    ] = True,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Material balance: gross output and labour values for a demand.

    Solves (I - A) x = y for the gross output x and (I - A)^T v = l for the labour values
    v = l (I - A)^-1 (with the output and primary-input multipliers), and checks the relative
    residual ||(I - A) x - y|| / ||y|| itself. Nothing is written when anything fails.
    """
    if not math.isfinite(scale):
        raise typer.BadParameter(f"must be a finite number, got {scale}", param_hint="--scale")
    if not (math.isfinite(tol) and 0 < tol < 1):
        raise typer.BadParameter(f"must be in (0, 1), got {tol}", param_hint="--tol")
    _check_out(out)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        y = None
        if demand is not None:
            from gosplan.io.demand import demand_from_file

            y = demand_from_file(eco, demand)
        from gosplan.material_balance import balance as solve_balance

        with activity.step(f"balancing {eco.n_products:,} products"):
            result = solve_balance(
                eco, y, scale=scale, method=method.value, tol=tol, maxiter=maxiter,
                values=True, multipliers=multipliers, progress=activity.solver_callback(),
            )
        if not result.success:
            raise _fail(
                f"{result.message}; nothing written (try --method scc-bicgstab, a larger --maxiter "
                "or a looser --tol)"
            )
        frame = _named(result.to_frame(), eco)
        summary: dict[str, Any] = {
            **result.summary(),
            "tolerance": tol,
            "scale": scale,
            "demand_file": str(demand) if demand is not None else None,
            "load_seconds": load_seconds,
            "source": economy,
            "economy_metadata": dict(eco.summary()),
            "gosplan_version": __version__,
        }
        written: list[str] = []
        if out is not None:
            plan_name = f"{PLAN_STEM}.{fmt.value}"
            other = tuple(f"{PLAN_STEM}.{f.value}" for f in Format if f is not fmt)
            summary["files"] = {"plan": plan_name, "summary": SUMMARY_NAME}
            text = _dumps(summary) + "\n"
            with activity.step(f"writing {out}"):
                paths = _publish(
                    out,
                    {
                        plan_name: lambda p: _write_frame(frame, p, fmt.value),
                        SUMMARY_NAME: lambda p: p.write_text(text, encoding="utf-8"),
                    },
                    remove=other,
                )
            written = [str(p) for p in paths]
    if as_json:
        sys.stdout.write(_dumps(summary) + "\n")
        return
    from gosplan.cli.report import balance_report

    out_console, _, _ = _consoles(True)
    out_console.print(balance_report(summary, frame, written=written))


# --------------------------------------------------------------------------- plan
def _option_file(help_text: str, flag: str) -> Any:
    return typer.Option(flag, metavar="FILE", show_default=False, dir_okay=False, help=help_text)


@app.command()
def plan(
    economy: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="ECONOMY", show_default=False)],
    objective: Annotated[
        Objective,
        typer.Option(
            "--objective", "-O",
            help="fulfilment: Kantorovich's plan ray (max z with f >= z y), lexicographic over "
            "priority classes, then over-fulfilment; harmony: Cockshott's sum of w H((f - y) / y); "
            "cost: meet every target at least cost in (weighted) resources. With --years: "
            "fulfilment and harmony year by year (discounted), cost summed over the years.",
        ),
    ] = Objective.fulfilment,
    targets: Annotated[
        Optional[Path], _option_file("CSV 'product,quantity': final-product targets (default: the table's own final demand).", "--targets")
    ] = None,
    priorities: Annotated[
        Optional[Path],
        _option_file(
            "CSV 'product,class': priority class of each target (1 most urgent; unnamed targets come last). "
            "With --years: the same classes in every year (objective fulfilment).", "--priorities",
        ),
    ] = None,
    resources: Annotated[
        Optional[Path],
        _option_file(
            "CSV 'resource,available' (default: labour limited to the table's own total; others unlimited). "
            "With --years: the same amount every year, or one column per year 'resource,<year1>,...' "
            "(the horizon's year labels; 'labour' replaces its labour supply).", "--resources",
        ),
    ] = None,
    capacities: Annotated[
        Optional[Path], _option_file("CSV 'product,capacity': limit on each product's gross output.", "--capacities")
    ] = None,
    floors: Annotated[
        Optional[Path], _option_file("CSV 'product,floor': least net output of a product.", "--floors")
    ] = None,
    ceilings: Annotated[
        Optional[Path], _option_file("CSV 'product,ceiling': most net output of a product.", "--ceilings")
    ] = None,
    committed: Annotated[
        Optional[Path],
        _option_file("CSV 'product,quantity': final demand met before any target is planned (government, "
                     "investment, exports; negative: net imports).", "--committed"),
    ] = None,
    weights: Annotated[
        Optional[Path],
        typer.Option("--weights", metavar="FILE|value", show_default=False, dir_okay=False,
                     help="CSV 'product,weight': harmony weights (default 1); value: each target weighted by its "
                     "base-year labour value, w = v y (docs/planning.md)."),
    ] = None,
    costs: Annotated[
        Optional[Path],
        _option_file(
            "CSV 'resource,cost': weights of the cost objective (default labour 1). "
            "With --years: the same weights every year; only with --objective cost.", "--costs",
        ),
    ] = None,
    method: Annotated[
        PlanMethod,
        typer.Option(
            "--method", "-m",
            help="auto: HiGHS simplex up to 5,000 activities (below 100,000 nonzeros); beyond, "
            "gosplan's Leontief method where it applies (no joint production, no negative "
            "coefficients or ceilings; net imports allowed), else gosplan's "
            "PDHG. highs (dual simplex), highs-ipm, highs-pdlp; leontief: "
            "decomposition over the scarce resources with Leontief substitution subproblems; "
            "pdhg: gosplan's first-order solver (docs/planning.md).",
        ),
    ] = PlanMethod.auto,
    tol: Annotated[
        float, typer.Option("--tol", help="Relative feasibility and duality-gap tolerance.", metavar="T")
    ] = 1e-6,
    time_limit: Annotated[
        Optional[float], typer.Option("--time-limit", help="Seconds for the whole plan.", metavar="S", show_default=False)
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out", "-o", metavar="DIR", show_default=False, file_okay=False,
            help="Write DIR/plan.csv, DIR/prices.csv, DIR/activities.csv and DIR/summary.json "
            "(only summary.json for an infeasible or unbounded plan).",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of the tables.")] = Format.csv,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (and nothing else).")
    ] = False,
    years: Annotated[
        Optional[int],
        typer.Option(
            "--years", "-y", metavar="T", show_default=False, min=1,
            help="Plan T years with capital stocks, investment and depreciation (Cockshott's N-year "
            "model; the economy needs capital, depreciation and a horizon: 'cockshott-example', "
            "'uk-2015', a directory in Cockshott's four-file or gosplan's format). Writes "
            "years/products/activities/stocks tables, summary.json and report.html.",
        ),
    ] = None,
    discount: Annotated[
        float, typer.Option("--discount", metavar="R", help="With --years: year t weighs (1 + R)^-(t-1).")
    ] = 0.0,
    terminal: Annotated[
        Optional[float],
        typer.Option(
            "--terminal", metavar="G", show_default=False,
            help="With --years: every capital stock left after the last year is at least G times its "
            "initial level (default: none, the last year may run its stocks down).",
        ),
    ] = None,
    growth: Annotated[
        Optional[Path], _option_file("With --years: CSV 'activity,rate': output grows by at least rate a year.", "--growth")
    ] = None,
    html: Annotated[
        bool, typer.Option("--html/--no-html", help="With --years and --out: write report.html.")
    ] = True,
    decompose: Annotated[
        bool,
        typer.Option(
            "--decompose",
            help="Two-level planning down to the enterprises (docs/decompose.md): the centre plans over "
            "the ministries' aggregated reports, the ministries price their enterprises and report "
            "back, until the plan is within --tol of the bound they certify. Needs ministries and "
            "enterprises in the economy directory (the bundled BEA tables have ministries only: add "
            "enterprises with gosplan synth --base NAME --enterprises E --out DIR). Objectives fulfilment, cost and harmony (--weights). "
            "Writes plan, enterprises, rounds, summary.json and the breakdown (ministries, allocations) "
            "under DIR/breakdown.",
        ),
    ] = False,
    workers: Annotated[
        Optional[int],
        typer.Option("--workers", metavar="N", min=1, show_default=False,
                     help="With --decompose: run the ministries on a Dask LocalCluster of N worker processes."),
    ] = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option("--scheduler", metavar="ADDRESS", show_default=False,
                     help="With --decompose: run the ministries on the running Dask cluster at ADDRESS (tcp://host:8786)."),
    ] = None,
    max_rounds: Annotated[
        int, typer.Option("--max-rounds", metavar="K", min=1, help="With --decompose: stop after K rounds.")
    ] = 100,
    coordination: Annotated[
        Optional[Coordination],
        typer.Option(
            "--coordination", show_default=False,
            help="With --decompose: 'aggregation' (default) — the centre solves an LP over the ministries' "
            "aggregated groups each round; 'marginal' — no LP at the centre: prices and gross outputs down, "
            "each product's marginal enterprise up, two Leontief solves a round (fulfilment, one priority "
            "class, one limited resource; docs/decompose.md).",
        ),
    ] = None,
    vertex: Annotated[
        Optional[bool],
        typer.Option(
            "--vertex/--no-vertex",
            help="With the Leontief method (--method leontief, or auto beyond HiGHS' size): end each stage "
            "on an optimal vertex whose prices are certified row by row: the whole program on its linking "
            "rows (every size, where its rows fit) and the restricted program on the techniques the master "
            "mixes. Default: both, the second up to 200,000 products; --no-vertex: neither, Dantzig-Wolfe "
            "alone (docs/planning.md).",
            show_default=False,
        ),
    ] = None,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Optimal plan: Kantorovich's linear programs, Cockshott's harmony, least cost; with prices.

    Maximises the objective subject to the product balances (O - U) x >= targets, the
    resources P x <= R, the capacities and floors/ceilings, and reports the plan, the
    shadow prices of every product, resource and capacity, and gosplan's own check of
    feasibility and duality gap. Exit code 3: infeasible (the conflicting constraints are
    named); 4: unbounded.
    """
    if not (math.isfinite(tol) and 0 < tol < 1):
        raise typer.BadParameter(f"must be in (0, 1), got {tol}", param_hint="--tol")
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise typer.BadParameter(f"must be a positive number of seconds, got {time_limit}", param_hint="--time-limit")
    _check_out(out)
    if weights is not None and not weights.exists():
        if str(weights) != "value":
            raise typer.BadParameter(f"neither 'value' nor a file: {str(weights)!r}", param_hint="--weights")
        weights = "value"  # type: ignore[assignment]  (the weights derived from labour values)
    inputs = {
        "targets": targets, "priorities": priorities, "resources": resources, "capacities": capacities,
        "floors": floors, "ceilings": ceilings, "weights": weights, "costs": costs, "committed": committed,
    }
    _objective_inputs(objective, costs=costs, priorities=priorities, weights=weights)
    if vertex is not None and (decompose or years is not None):
        raise typer.BadParameter(
            "only for a single-year plan solved whole", param_hint="--vertex" if vertex else "--no-vertex"
        )
    if decompose:
        if years is not None:
            raise typer.BadParameter("two-level planning is for single-year plans", param_hint="--decompose")
        if committed is not None:
            raise typer.BadParameter("not with --decompose (two-level planning plans the targets alone)",
                                     param_hint="--committed")
        _plan_decomposed(
            economy, objective=objective, method=method, tol=tol, time_limit=time_limit, out=out, fmt=fmt,
            as_json=as_json, workers=workers, scheduler=scheduler, max_rounds=max_rounds,
            coordination=(coordination or Coordination.aggregation).value,
            inputs={k: v for k, v in inputs.items() if v is not None},
            allow_negative_value_added=allow_negative_value_added,
        )
        return
    for name, given in (("--workers", workers is not None), ("--scheduler", scheduler is not None),
                        ("--max-rounds", max_rounds != 100), ("--coordination", coordination is not None)):
        if given:
            raise typer.BadParameter("only with --decompose (two-level planning)", param_hint=name)
    if years is not None:
        if allow_negative_value_added:
            raise typer.BadParameter(
                "is for single-year plans (a horizon's tables are not checked for it)",
                param_hint="--allow-negative-value-added",
            )
        _plan_years(
            economy, years, objective=objective, method=method, tol=tol, time_limit=time_limit, out=out,
            fmt=fmt, as_json=as_json, discount=discount, terminal=terminal, growth=growth, html=html,
            priorities=priorities, resources=resources, costs=costs,
            single_year={k: v for k, v in inputs.items() if v is not None and k not in MULTIYEAR_INPUTS},
        )
        return
    for name, given in (("--discount", discount != 0.0), ("--terminal", terminal is not None), ("--growth", growth is not None)):
        if given:
            raise typer.BadParameter("only with --years (a multi-year plan)", param_hint=name)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity
    from gosplan.results import Status

    with _guard(), Activity(err_console, show_progress) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        from gosplan.planning import plan as solve_plan

        with activity.step(f"planning {eco.n_products:,} products ({objective.value})") as step:
            result = solve_plan(
                eco, objective=objective.value, method=method.value, tol=tol, time_limit=time_limit,
                progress=lambda text: step.update(detail=text, force=True), vertex=vertex, **inputs,
            )
        summary: dict[str, Any] = {
            **result.summary(),
            "tolerance": tol,
            "load_seconds": load_seconds,
            "source": economy,
            "inputs": {k: str(v) for k, v in inputs.items() if v is not None},
            "economy_metadata": dict(eco.summary()),
            "gosplan_version": __version__,
        }
        has_plan = result.status not in (Status.INFEASIBLE, Status.UNBOUNDED)
        frame = _named(result.to_frame(), eco) if has_plan else None
        written: list[str] = []
        if out is not None:
            files: dict[str, Any] = {}
            names: dict[str, str] = {"summary": SUMMARY_NAME}
            if has_plan:
                tables = {"plan": frame, "prices": _named(result.prices_frame(), eco)}
                if not result_is_square(result):
                    tables["activities"] = _named(result.activities_frame(), eco)
                for stem, table in tables.items():
                    name = f"{stem}.{fmt.value}"
                    names[stem] = name
                    files[name] = (lambda t: lambda p: _write_frame(t, p, fmt.value))(table)
            summary["files"] = names
            text = _dumps(summary) + "\n"
            files[SUMMARY_NAME] = lambda p: p.write_text(text, encoding="utf-8")
            others = [f"{stem}.{f.value}" for stem in ("plan", "prices", "activities") for f in Format]
            with activity.step(f"writing {out}"):
                paths = _publish(out, files, remove=tuple(o for o in others if o not in files))
            written = [str(p) for p in paths]
    from gosplan.cli.report import plan_report

    _finish_plan(result, summary, as_json, lambda: plan_report(summary, frame, written=written))


def _objective_inputs(objective: Objective, *, costs: Optional[Path], priorities: Optional[Path],
                      weights: Optional[Path]) -> None:
    """Refuse, as a usage error (exit 2), the inputs that weigh another objective than the one
    planned: the same for single-year, multi-year and two-level plans."""
    if costs is not None and objective.value != "cost":
        raise typer.BadParameter(
            f"weighs the cost objective; give --objective cost (the objective is {objective.value!r})",
            param_hint="--costs",
        )
    if priorities is not None and objective.value != "fulfilment":
        raise typer.BadParameter(
            f"priority classes apply to --objective fulfilment, not {objective.value!r}; for harmony give "
            "--weights", param_hint="--priorities",
        )
    if weights is not None and objective.value != "harmony":
        raise typer.BadParameter(
            f"weights weigh the harmony objective; give --objective harmony (the objective is {objective.value!r})",
            param_hint="--weights",
        )


def _finish_plan(result: Any, summary: Mapping[str, Any], as_json: bool, render: Any) -> None:
    """Print the summary (JSON) or ``render()`` (rich), then exit with the plan's code:
    0 optimal, 3 infeasible, 4 unbounded, 1 otherwise."""
    from gosplan.results import Status

    code = {
        Status.OPTIMAL: EXIT_OK,
        Status.INFEASIBLE: EXIT_INFEASIBLE,
        Status.UNBOUNDED: EXIT_UNBOUNDED,
    }.get(result.status, EXIT_ERROR)
    if as_json:
        sys.stdout.write(_dumps(summary) + "\n")
    else:
        out_console, _, _ = _consoles(True)
        out_console.print(render())
    if code != EXIT_OK:
        raise _fail(result.message, code)


def _plan_years(
    economy: str, years: int, *, objective: Objective, method: PlanMethod, tol: float, time_limit: Optional[float],
    out: Optional[Path], fmt: Format, as_json: bool, discount: float, terminal: Optional[float],
    growth: Optional[Path], html: bool, single_year: Mapping[str, Path],
    priorities: Optional[Path] = None, resources: Optional[Path] = None, costs: Optional[Path] = None,
) -> None:
    """``gosplan plan ECONOMY --years T``: the multi-year plan (docs/multiyear.md)."""
    from gosplan.multiyear import METHODS
    from gosplan.results import Status

    if single_year:
        raise typer.BadParameter(
            "is for single-year plans; a multi-year plan takes its targets and labour supply from the "
            "economy's horizon (docs/multiyear.md)", param_hint="--" + next(iter(single_year)),
        )
    if objective.value not in MULTIYEAR_OBJECTIVES:
        raise typer.BadParameter(
            "a multi-year plan maximises 'fulfilment' or 'harmony', or minimises 'cost'", param_hint="--objective"
        )
    if method.value not in METHODS:
        raise typer.BadParameter(f"a multi-year plan is solved by {', '.join(METHODS)}", param_hint="--method")
    if not (math.isfinite(discount) and discount >= 0):
        raise typer.BadParameter(f"must be a rate >= 0, got {discount}", param_hint="--discount")
    if terminal is not None and not (math.isfinite(terminal) and terminal >= 0):
        raise typer.BadParameter(f"must be a factor >= 0, got {terminal}", param_hint="--terminal")
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress) as activity:
        from gosplan.io.keyed import read_keyed
        from gosplan.io.load_horizon import load_horizon
        from gosplan.multiyear import plan_years

        start = time.perf_counter()
        with activity.step(f"loading {economy}"):
            horizon = load_horizon(economy, years=years)
        load_seconds = time.perf_counter() - start
        rates = None
        if growth is not None:
            rates = read_keyed(growth, ("activity", "rate"), kind="growth rate").to_dict()
        eco = horizon.economy
        classes = weights = amounts = None
        if priorities is not None:
            classes = {k: int(v) for k, v in _keyed_file(priorities, "priorities", eco.products, economy).items()}
        if costs is not None:
            weights = _keyed_file(costs, "costs", eco.resources, economy)
        if resources is not None:
            amounts = _yearly_resources(resources, eco.resources, horizon.years, economy)
        with activity.step(f"planning {eco.n_products:,} products over {years} years ({objective.value})") as step:
            result = plan_years(
                horizon, objective=objective.value, method=method.value, tol=tol, time_limit=time_limit,
                discount=discount, terminal=terminal, growth=rates,
                priorities=classes, resources=amounts, costs=weights,
                progress=lambda text: step.update(detail=text, force=True),
            )
        summary: dict[str, Any] = {
            **result.summary(),
            "tolerance": tol,
            "load_seconds": load_seconds,
            "source": economy,
            "inputs": {
                name: str(path) for name, path in
                (("priorities", priorities), ("resources", resources), ("costs", costs), ("growth", growth))
                if path is not None
            },
            "economy_metadata": dict(eco.summary()),
            "gosplan_version": __version__,
        }
        has_plan = result.status not in (Status.INFEASIBLE, Status.UNBOUNDED)
        written: list[str] = []
        if out is not None:
            files: dict[str, Any] = {}
            names: dict[str, str] = {"summary": SUMMARY_NAME}
            if has_plan:
                tables = {
                    "years": result.years_frame(), "products": _named(result.products_frame(), eco),
                    "activities": result.activities_frame(), "stocks": _named(result.stocks_frame(), eco),
                }
                for stem, table in tables.items():
                    name = f"{stem}.{fmt.value}"
                    names[stem] = name
                    files[name] = (lambda t: lambda p: _write_frame(t, p, fmt.value))(table)
                if html:
                    names["report"] = "report.html"
                    named = eco.product_names if eco.names is not None else None
                    files["report.html"] = lambda p: p.write_text(result.to_html(names=named), encoding="utf-8")
            summary["files"] = names
            text = _dumps(summary) + "\n"
            files[SUMMARY_NAME] = lambda p: p.write_text(text, encoding="utf-8")
            stems = ("years", "products", "activities", "stocks", "plan", "prices")
            others = [f"{stem}.{f.value}" for stem in stems for f in Format] + ["report.html"]
            with activity.step(f"writing {out}"):
                paths = _publish(out, files, remove=tuple(o for o in others if o not in files))
            written = [str(p) for p in paths]
    from gosplan.cli.report import multiyear_report

    _finish_plan(result, summary, as_json, lambda: multiyear_report(summary, written=written))


#: header, least value and whole numbers only, of the ``key,value`` files of a multi-year plan
#: (as ``gosplan.planning`` reads them for a single-year plan)
_KEYED = {
    "priorities": (("product", "class"), 1.0, True),
    "costs": (("resource", "cost"), 0.0, False),
}


def _keyed_file(path: Path, kind: str, labels: Any, economy: str) -> dict[str, float]:
    """``{key: value}`` of a ``key,value`` file, every key one of ``labels``; errors name the
    file, the line and the key."""
    from gosplan.io.keyed import align_keyed, read_keyed

    header, minimum, integer = _KEYED[kind]
    series = read_keyed(path, header, minimum=minimum, integer=integer, kind=f"a {kind} file")
    align_keyed(series, labels, what=header[0], owner=economy)  # unknown or repeated keys
    return {str(k): float(v) for k, v in series.items()}


def _yearly_resources(path: Path, labels: Any, years: Any, economy: str) -> dict[str, Any]:
    """``--resources`` of a multi-year plan: ``resource,available`` (the same amount every year)
    or ``resource,<year1>,...,<yearT>`` with the plan's year labels; ``{resource: R_t}``.
    Every amount finite and ``>= 0``, every resource the economy's; errors name the file,
    the 1-based line and the resource."""
    import numpy as np

    from gosplan.errors import InvalidEconomyError, Location, TableFormatError
    from gosplan.io.tables import read_table

    frame = read_table(path, index_cols=1, header_rows=1)
    header_line = frame.attrs.get("header_line") or 1
    key = str(frame.index.name or "")
    columns = [str(c) for c in frame.columns]
    wanted = [str(y) for y in years]
    forms = f"'resource,available' or 'resource,{','.join(wanted)}'"
    if key != "resource":
        raise TableFormatError(f"header starts with {key!r}; a resources file is {forms}", Location(file=path, line=header_line))
    if columns != ["available"]:
        if len(columns) != len(wanted):
            raise TableFormatError(
                f"header has {len(columns)} year column(s) ({','.join(columns)}); the plan has {len(wanted)} "
                f"years: give {forms}", Location(file=path, line=header_line),
            )
        if columns != wanted:
            raise TableFormatError(
                f"year columns {','.join(columns)} are not the plan's years {','.join(wanted)}; give {forms}",
                Location(file=path, line=header_line),
            )
    lines = frame.attrs.get("lines")
    values = frame.to_numpy(dtype=np.float64)
    out: dict[str, Any] = {}
    for r, name in enumerate(map(str, frame.index)):
        where = Location(file=path, line=None if lines is None else int(lines[r]), product=name, key="resource")
        if name not in labels:
            known = ", ".join(map(str, labels)) or "none"
            raise InvalidEconomyError(f"unknown resource: {economy} has {known}", where)
        if name in out:
            raise TableFormatError("resource named twice", where)
        row = values[r]
        bad = ~np.isfinite(row) | (row < 0)
        if bad.any():
            c = int(np.flatnonzero(bad)[0])
            raise TableFormatError(
                f"available {row[c]:g} in column {columns[c]!r} must be finite and >= 0", where,
            )
        out[name] = float(row[0]) if columns == ["available"] else row.copy()
    return out


def _plan_decomposed(
    economy: str, *, objective: Objective, method: PlanMethod, tol: float, time_limit: Optional[float],
    out: Optional[Path], fmt: Format, as_json: bool, workers: Optional[int], scheduler: Optional[str],
    max_rounds: int, inputs: Mapping[str, Path], allow_negative_value_added: bool = False,
    coordination: str = "aggregation",
) -> None:
    """``gosplan plan ECONOMY --decompose``: two-level planning (docs/decompose.md), coordinated by
    the centre's LP over aggregated groups or by marginal enterprises and Leontief solves."""
    from gosplan.decompose import METHODS
    from gosplan.decompose.solve import OBJECTIVES

    if objective.value not in OBJECTIVES:
        raise typer.BadParameter(f"two-level planning plans the objectives {', '.join(OBJECTIVES)}",
                                 param_hint="--objective")
    if method.value not in METHODS:
        raise typer.BadParameter(f"the centre's program is solved by {', '.join(METHODS)}", param_hint="--method")
    if coordination == "marginal" and method.value != "auto":
        raise typer.BadParameter("not with --coordination marginal (the centre solves no LP)", param_hint="--method")
    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers or --scheduler, not both", param_hint="--scheduler")
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    log: list[str] = []
    with _guard(), Activity(err_console, show_progress) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        from gosplan.decompose import plan_decomposed

        def progress(line: str) -> None:
            log.append(line)
            step.update(detail=line.split(";")[0], force=True)

        where = f"{workers} workers" if workers else scheduler or "in-process"
        with activity.step(f"two-level planning of {eco.n_products:,} products ({where})") as step:
            result = plan_decomposed(
                eco, objective=objective.value, method=method.value, tol=tol, time_limit=time_limit,
                max_rounds=max_rounds, workers=workers, scheduler=scheduler, coordination=coordination,
                progress=progress, **inputs,
            )
        summary: dict[str, Any] = {
            **result.summary(),
            "coordination": coordination,
            "tolerance": tol,
            "load_seconds": load_seconds,
            "source": economy,
            "inputs": {k: str(v) for k, v in inputs.items()},
            "gosplan_version": __version__,
        }
        written: list[str] = []
        if out is not None:
            with activity.step(f"writing {out}"):
                # A usable plan is written with its products' names and its breakdown (ministries,
                # allocations); the product table of a marginal plan comes from that breakdown.
                usable = result.status.value in ("optimal", "iteration_limit", "time_limit") and (
                    result.plan is not None or result.gross_output is not None)
                broken = result.breakdown(eco, allocations=True) if usable else None
                # summary.json: the library's summary plus the run's options, written once
                written = [str(p) for p in result.write(out, fmt.value, economy=eco if usable else None,
                                                         breakdown=broken, summary=summary)]
                if broken is not None:
                    written += [str(p) for p in broken.write(out / "breakdown", fmt.value)]
    from gosplan.cli.report import decomposed_report

    _finish_plan(result, summary, as_json, lambda: decomposed_report(summary, log, written=written))


def result_is_square(result: Any) -> bool:
    """One activity per product, labelled like the products (then activities.csv adds nothing)."""
    return len(result.activities) == len(result.products) and bool((result.activities == result.products).all())


# --------------------------------------------------------------------------- datasets
@app.command()
def datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON on stdout.")] = False,
) -> None:
    """List the bundled real input-output tables and their licences."""
    with _guard():
        from gosplan.datasets import list_datasets

        records = [_record(d) for d in list_datasets()]
    if as_json:
        sys.stdout.write(_dumps(records) + "\n")
        return
    rows = [
        {
            "name": _first_key(r, "name", "short_name", "key"),
            "title": _first_key(r, "title", "description", "economy", "label"),
            "products": _first_key(r, "products", "n_products", "sectors", "size"),
            "year": _first_key(r, "year"),
            "units": _first_key(r, "units"),
            "source": _first_key(r, "source", "provenance", "publisher", "origin"),
            "licence": _first_key(r, "licence", "license"),
        }
        for r in records
    ]
    from gosplan.cli.report import datasets_table

    out_console, _, _ = _consoles(True)
    out_console.print(datasets_table(rows))
    out_console.print("Use a name wherever an ECONOMY is expected, e.g. 'gosplan balance us-2017'.", style="dim")


# --------------------------------------------------------------------------- info
@app.command()
def info(
    economy: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="ECONOMY", show_default=False)],
    components: Annotated[
        bool,
        typer.Option(
            "--components/--no-components",
            help="Also find the strongly connected components of the product graph.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the description as JSON on stdout.")] = False,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Describe an economy: sizes, metadata, structure, its chain of command (no solve)."""
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress) as activity:
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        import numpy as np

        description: dict[str, Any] = dict(eco.summary())
        n = eco.n_products
        nnz = int(eco.use.nnz)
        description.update(
            source_argument=economy,
            labour=eco.labour,
            density=nnz / (n * eco.n_activities) if n and eco.n_activities else 0.0,
            negative_coefficients=int((eco.use.data < 0).sum()),
            square=bool(eco.is_square),
            total_final_demand=float(eco.demand.sum()),
            has_recorded_output=eco.recorded_output is not None,
            total_recorded_output=float(eco.recorded_output.sum()) if eco.recorded_output is not None else None,
            load_seconds=load_seconds,
        )
        if eco.hierarchy is not None:
            description["hierarchy"] = _hierarchy_description(eco)
        if components:
            from gosplan.linalg.leontief import prepare

            with activity.step("finding strongly connected components"):
                ncomp, _, ptr, _ = prepare(eco.A).components()
                sizes = np.diff(ptr)
            description["components"] = {
                "count": int(ncomp),
                "largest": int(sizes.max()) if len(sizes) else 0,
                "singletons": int((sizes == 1).sum()),
            }
    if as_json:
        sys.stdout.write(_dumps(description) + "\n")
        return
    from gosplan.cli.report import economy_report

    out_console, _, _ = _consoles(True)
    out_console.print(economy_report(description))


def _hierarchy_description(eco: Any) -> dict[str, Any]:
    """The chain of command for ``gosplan info``: counts, and per ministry its name and
    sector (where the hierarchy has them), products and enterprises."""
    h = eco.hierarchy
    frame = h.ministry_frame()
    per_ministry = []
    for row in frame.itertuples(index=False):
        entry: dict[str, Any] = {"ministry": str(row.ministry)}
        if h.ministry_names is not None:
            entry["name"] = str(row.name)
        if h.sectors is not None:
            entry["sector"] = str(row.sector)
            if h.sector_names is not None:
                entry["sector_name"] = str(row.sector_name)
        entry["products"] = int(row.products)
        entry["enterprises"] = int(row.enterprises)
        per_ministry.append(entry)
    return {**h.summary(), "per_ministry": per_ministry}


# --------------------------------------------------------------------------- convert
@app.command()
def convert(
    source: Annotated[str, typer.Argument(help=ECONOMY_HELP, metavar="SOURCE", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory to write.", show_default=False, file_okay=False)
    ],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of every table.")] = Format.csv,
    keys: Annotated[
        Keys,
        typer.Option(
            "--keys",
            help="How tables name products: by label, or by 0-based position in the products "
            "table (compact and fast for millions of products).",
        ),
    ] = Keys.label,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an economy already in DIR.")
    ] = False,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Convert an economy to gosplan's directory format.

    The directory holds economy.toml and the products, technology, primary and demand tables
    (docs/economy-format.md).
    """
    _check_out(out)
    if out.is_dir() and (out / "economy.toml").exists() and not overwrite:
        raise _fail(f"{out} already holds an economy (economy.toml); pass --overwrite to replace it")
    _, err_console, show_progress = _consoles(False)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress) as activity:
        eco, _ = _load(source, activity, allow_negative_value_added)
        from gosplan.io.directory import write_directory

        with activity.step(f"writing {out}"):
            write_directory(eco, out, format=fmt.value, keys=keys.value, overwrite=overwrite)
    sys.stderr.write(
        f"wrote {out} ({eco.meta.name}: {eco.n_products:,} products, {int(eco.use.nnz):,} coefficients, "
        f"{fmt.value})\n"
    )


# --------------------------------------------------------------------------- synth
class HorizonFormat(str, enum.Enum):
    """How ``gosplan synth --years`` writes a multi-year instance."""

    gosplan = "gosplan"
    cockshott = "cockshott"


def _synth_horizon(
    products: int, years: int, seed: int, out: Path, fmt: str, horizon_format: str, overwrite: bool,
    activity: Any,
) -> str:
    """Cockshott's random economy with ``years`` years, written to ``out``; says what was written."""
    from gosplan.synth.horizon import cockshott_economy

    with activity.step(f"generating {products:,} products, {years} years"):
        horizon = cockshott_economy(products, years, seed=seed)
    with activity.step(f"writing {out}"):
        if horizon_format == HorizonFormat.cockshott.value:
            from gosplan.io.cockshott_horizon import write_cockshott

            write_cockshott(horizon, out, overwrite=overwrite)
            return "Cockshott's flows/cap/dep/labtarg.csv"
        from gosplan.io.horizon_directory import write_horizon_directory

        write_horizon_directory(horizon, out, format=fmt, overwrite=overwrite)
        return f"economy directory with multi-year tables, {fmt}"


@app.command()
def synth(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory to write.", show_default=False, file_okay=False)
    ],
    products: Annotated[
        Optional[int],
        typer.Option("--products", "-n", min=1, help="Number of products N (or --base).", metavar="N",
                     show_default=False),
    ] = None,
    inputs: Annotated[
        float, typer.Option("--inputs", "-k", min=1, help="Mean number of inputs per product K.", metavar="K")
    ] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same economy).", metavar="S")] = 0,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of every table.")] = Format.parquet,
    spectral_radius: Annotated[
        Optional[float],
        typer.Option(
            "--spectral-radius", metavar="R", show_default=False,
            help="Spectral radius of A (0 < R < 1; the generator's default when omitted).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an economy already in DIR.")
    ] = False,
    years: Annotated[
        Optional[int],
        typer.Option(
            "--years", min=1, metavar="T", show_default=False,
            help="Write a multi-year instance instead: Cockshott's random test economy "
            "with capital stocks, 7% depreciation, labour supply and targets for T years.",
        ),
    ] = None,
    horizon_format: Annotated[
        Optional[HorizonFormat],
        typer.Option(
            "--horizon-format", show_default=False,
            help="With --years: gosplan's economy directory with multi-year tables (default; "
            "tables in --format) or Cockshott's four CSV files.",
        ),
    ] = None,
    base: Annotated[
        Optional[str],
        typer.Option(
            "--base", metavar="ECONOMY", show_default=False,
            help="Instead of generating an economy, take this one (a bundled dataset such as "
            "us-2017, a directory or a file) and write it with synthetic enterprises.",
        ),
    ] = None,
    enterprises: Annotated[
        Optional[float],
        typer.Option(
            "--enterprises", min=0, metavar="E", show_default=False,
            help="Add synthetic enterprises: E per product on average (at least one each), "
            "heavy-tailed sizes, capacities 5-30% above the balance's gross output.",
        ),
    ] = None,
    ministries: Annotated[
        Optional[int],
        typer.Option(
            "--ministries", min=1, metavar="M", show_default=False,
            help="Group the products into M ministries (default: the economy's own "
            "ministries, else about sqrt(N)).",
        ),
    ] = None,
    regions: Annotated[
        int,
        typer.Option("--regions", min=0, metavar="R", help="With --enterprises: place them in R regions, "
                     "with a distance table (0: no regions)."),
    ] = 0,
    own_norms: Annotated[
        float,
        typer.Option("--own-norms", min=0, max=1, metavar="SHARE",
                     help="With --enterprises: share of enterprises reporting their own input norms."),
    ] = 0.0,
    households: Annotated[
        Optional[int],
        typer.Option(
            "--households", min=1, metavar="H", show_default=False,
            help="Also write households and preferences tables (in --format): 1 = the economy's own "
            "household final demand as one Cobb-Douglas group (one per region in multi-regional "
            "tables); H > 1 = H synthetic groups around it (income Gini about 0.4, elasticities "
            "0.5-2, tastes and budgets spread; --seed).",
        ),
    ] = None,
) -> None:
    """Generate a synthetic economy, streamed to disk.

    Realistic structure: tiers of raw materials, intermediate and final goods, universal
    inputs (energy, transport) used by almost everything, feedback loops, heavy-tailed
    in-degrees, the spectral radius of A chosen. Memory stays bounded up to 10^7 products.
    With --years T: a multi-year instance (Cockshott's random economies) instead.
    With --enterprises E (and --ministries M, --regions R): the chain of command too,
    ministries and enterprises tables; with --base ECONOMY on a real economy.
    With --households H: household groups too (households and preferences tables).
    """
    hierarchy_wanted = enterprises is not None or ministries is not None
    if enterprises is not None and not (enterprises > 0 and math.isfinite(enterprises)):
        raise typer.BadParameter(f"must be a positive number, got {enterprises}", param_hint="--enterprises")

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name != "DEFAULT"

    if enterprises is None:
        for name, flag in (("regions", "--regions"), ("own_norms", "--own-norms")):
            if given(name):
                raise typer.BadParameter("needs --enterprises E", param_hint=flag)
    if base is not None:
        for name, flag in (("products", "--products"), ("inputs", "--inputs"),
                           ("spectral_radius", "--spectral-radius"), ("years", "--years"),
                           ("horizon_format", "--horizon-format")):
            if given(name):
                raise typer.BadParameter("does not apply with --base (the economy is given)", param_hint=flag)
        if not hierarchy_wanted and households is None:
            raise typer.BadParameter("needs --enterprises E, --ministries M or --households H", param_hint="--base")
    elif products is None:
        raise typer.BadParameter("give the number of products N, or --base ECONOMY", param_hint="--products")
    if years is not None and households is not None:
        raise typer.BadParameter("does not apply with --years", param_hint="--households")
    if years is not None and hierarchy_wanted:
        raise typer.BadParameter("does not apply with --years",
                                 param_hint="--enterprises" if enterprises is not None else "--ministries")
    if spectral_radius is not None and not (0 < spectral_radius < 1):
        raise typer.BadParameter(f"must be in (0, 1), got {spectral_radius}", param_hint="--spectral-radius")
    if years is None and horizon_format is not None:
        raise typer.BadParameter(
            "applies to multi-year instances: give --years T", param_hint="--horizon-format"
        )
    if years is not None:
        for name, flag in (("inputs", "--inputs"), ("spectral_radius", "--spectral-radius")):
            given = ctx.get_parameter_source(name)
            if given is not None and given.name != "DEFAULT":
                raise typer.BadParameter(
                    "does not apply with --years (Cockshott's generator has its own "
                    "structure: about log2(N) + 5 inputs per industry)", param_hint=flag,
                )
    _check_out(out)
    chosen = (horizon_format or HorizonFormat.gosplan).value
    if years is not None and chosen == HorizonFormat.cockshott.value:
        if out.is_dir() and (out / "flows.csv").exists() and not overwrite:
            raise _fail(
                f"{out} already holds Cockshott's files (flows.csv); pass --overwrite to replace them"
            )
    elif out.is_dir() and (out / "economy.toml").exists() and not overwrite:
        raise _fail(f"{out} already holds an economy (economy.toml); pass --overwrite to replace it")
    _, err_console, show_progress = _consoles(False)
    from gosplan.cli.report import Activity

    chain = {"per_product": enterprises, "ministries": ministries, "regions": regions,
             "own_norms_share": own_norms, "seed": seed}
    if base is not None:
        with _guard(), Activity(err_console, show_progress) as activity:
            t0 = time.perf_counter()
            eco, _ = _load(base, activity)
            if hierarchy_wanted:
                eco = _synth_chain(eco, chain, activity)
            hh = _make_households(eco, households, seed, activity) if households is not None else None
            from gosplan.io.directory import write_directory

            with activity.step(f"writing {out}"):
                write_directory(eco, out, format=fmt.value, overwrite=overwrite)
            words = [_chain_words(eco.hierarchy)] if hierarchy_wanted else []
            if hh is not None:
                words.append(_write_households(hh, out, fmt.value, activity))
            seconds = time.perf_counter() - t0
        sys.stderr.write(
            f"wrote {out} ({eco.meta.name}: {eco.n_products:,} products, {', '.join(words)}, "
            f"seed {seed}, {fmt.value}) in {seconds:.1f} s\n"
        )
        return
    assert products is not None

    if years is not None:
        with _guard(), Activity(err_console, show_progress) as activity:
            t0 = time.perf_counter()
            what = _synth_horizon(
                products, years, seed, out, fmt.value, chosen, overwrite, activity
            )
            seconds = time.perf_counter() - t0
        sys.stderr.write(
            f"wrote {out} ({products:,} products, {years} years, Cockshott's random economy, "
            f"seed {seed}; {what}) in {seconds:.1f} s\n"
        )
        return

    with _guard(), Activity(err_console, show_progress, bar=True) as activity:
        from gosplan.synth import write_synthetic

        kwargs: dict[str, Any] = {"seed": seed, "format": fmt.value}
        if spectral_radius is not None:
            kwargs["spectral_radius"] = spectral_radius
        if overwrite:
            kwargs["overwrite"] = True
        t0 = time.perf_counter()
        with activity.step(f"generating {products:,} products", total=float(products)):

            def progress(done: float, total: float | None = None, *rest: Any) -> None:
                activity.update(completed=float(done), total=float(total) if total else None,
                                detail=f"{int(done):,} / {int(total or products):,}")

            kwargs["progress"] = progress
            write_synthetic(out, products, inputs=inputs, **kwargs)
        chain_text = ""
        if hierarchy_wanted or households is not None:
            from gosplan.io.directory import read_directory

            with activity.step(f"reading {out}"):
                eco = read_directory(out)
        if hierarchy_wanted:
            from gosplan.io.hierarchy_tables import write_hierarchy_tables

            eco = _synth_chain(eco, chain, activity)
            with activity.step(f"writing the chain of command to {out}"):
                write_hierarchy_tables(eco, out)
            chain_text = f", {_chain_words(eco.hierarchy)}"
        if households is not None:
            hh = _make_households(eco, households, seed, activity)
            chain_text += ", " + _write_households(hh, out, fmt.value, activity)
        seconds = time.perf_counter() - t0
    sys.stderr.write(
        f"wrote {out} ({products:,} products, about {inputs:g} inputs each{chain_text}, seed {seed}, "
        f"{fmt.value}) in {seconds:.1f} s\n"
    )


def _synth_chain(eco: Any, chain: Mapping[str, Any], activity: Any) -> Any:
    """``eco`` with synthetic ministries (and enterprises, if asked) attached."""
    from gosplan.synth.enterprises import group_products, synth_enterprises

    if chain["per_product"] is None:
        with activity.step(f"grouping {eco.n_products:,} products into ministries"):
            return eco.with_hierarchy(group_products(eco, chain["ministries"], seed=chain["seed"]))
    with activity.step(f"generating about {chain['per_product']:g} enterprises per product"):
        return synth_enterprises(
            eco, per_product=chain["per_product"], ministries=chain["ministries"], regions=chain["regions"],
            own_norms_share=chain["own_norms_share"], seed=chain["seed"],
        )


def _make_households(eco: Any, groups: int, seed: int, activity: Any) -> Any:
    """``eco``'s own households (``groups == 1``) or ``groups`` synthetic groups around them."""
    from gosplan.io.households import load_households

    what = "the economy's own households" if groups == 1 else f"{groups:,} synthetic household groups"
    with activity.step(f"generating {what}"):
        return load_households(eco, groups=groups, seed=seed)


def _write_households(hh: Any, out: Path, fmt: str, activity: Any) -> str:
    """Write the households and preferences tables into ``out``; says what was written."""
    from gosplan.io.households import write_households

    with activity.step(f"writing households and preferences to {out}"):
        write_households(hh, out, format=fmt)
    return f"{hh.H:,} household group{'s' if hh.H != 1 else ''} buying {hh.G:,} goods ({hh.weights.nnz:,} weights)"


def _chain_words(h: Any) -> str:
    words = f"{h.n_ministries:,} ministries"
    if h.n_enterprises:
        words += f", {h.n_enterprises:,} enterprises"
    if h.regions is not None:
        words += f" in {len(h.regions):,} regions"
    return words


from gosplan.cli import hierarchy_commands  # noqa: E402,F401  (registers aggregate, breakdown)
from gosplan.cli import simulate_command  # noqa: E402,F401  (registers simulate)
from gosplan.cli import execute_command  # noqa: E402,F401  (registers scenario)
from gosplan.cli import service_commands  # noqa: E402,F401  (registers serve, db, users)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``gosplan`` command."""
    app(args=argv, prog_name="gosplan")


if __name__ == "__main__":  # pragma: no cover
    main()

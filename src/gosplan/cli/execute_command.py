"""Plans carried out on the command line: ``gosplan simulate --regime ...`` and ``gosplan scenario``.

Registered on :data:`gosplan.cli.app.app` when :mod:`gosplan.cli.app` imports this module
(``scenario``); ``simulate`` calls :func:`run_regime` when ``--regime`` is given. Like every
command they load an economy, call one library function (:func:`gosplan.execute`) and render
its result: the ``periods``, ``products``, ``ministries``, ``enterprises``, ``groups`` and
``alerts`` tables, ``summary.json`` and ``report.html``, written only when everything before
them succeeded.

A scenario file (TOML) names an economy, the households, the shocks, the enterprises'
behaviour and a list of runs (regimes); every run meets the same shocks (a fresh
:class:`~gosplan.execution.RandomShocks` with the scenario's seed per run draws the same
factors, or the same shocks file). See docs/cli.md, "gosplan scenario".
"""

# no `from __future__ import annotations`: typer would then eval every annotation string
# (compile + eval, ~50 ms for all commands) on each start-up (docs/cli.md, "Start-up")

import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gosplan._version import __version__
from gosplan.cli.app import (
    EXIT_ERROR,
    EXIT_INFEASIBLE,
    EXIT_OK,
    EXIT_UNBOUNDED,
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
from gosplan.cli.simulate_command import _number
from gosplan.cli.simulate_command import _percent as _pct
from gosplan.cli.simulate_command import _write as _write_table

EXECUTION_TABLES = ("periods", "products", "ministries", "enterprises", "groups", "alerts")
REPORT_NAME = "report.html"
COMPARISON_CSV = "comparison.csv"
COMPARISON_HTML = "comparison.html"
SCENARIO_JSON = "scenario.json"
TOP_SHORTAGES = 5
ENTERPRISE_COLUMNS = ("period", "enterprise", "ministry", "product", "target", "output", "capacity", "reported",
                      "hidden_reserve", "short_of", "input_stock")

#: columns of ``comparison.csv`` after ``run`` and ``regime`` (those a run has)
COMPARISON_COLUMNS = (
    "period", "fulfilment", "targets_met", "output", "shortage", "shortage_intermediate", "shortage_final",
    "producers_short", "idle_capacity", "hidden_reserves", "input_hoards", "unsold_stock", "waste", "bonus",
    "shock_share", "queue", "forced_saving", "hidden_share", "hidden_premium", "consumption_per_head",
    "welfare_per_head", "gini", "labour_used", "balance_error", "alerts",
)


# ------------------------------------------------------------------------------ shared pieces
def make_shocks(shocks_file: Optional[Path], rate: Optional[float], depth: float, persistence: float, seed: int) -> Any:
    """The run's shocks: a file's, random ones (``rate``) or ``None``."""
    from gosplan.execution import RandomShocks, read_shocks

    if shocks_file is not None:
        return read_shocks(shocks_file)
    if rate is not None:
        return RandomShocks(rate, depth=depth, persistence=persistence, seed=seed)
    return None


def attach_chain(eco: Any, enterprises: Optional[float], ministries: Optional[int], seed: int, activity: Any) -> Any:
    """``eco`` with synthetic enterprises / ministries attached (as ``gosplan synth``), or as it is."""
    if enterprises is None and ministries is None:
        return eco
    from gosplan.cli.app import _synth_chain

    chain = {"per_product": enterprises, "ministries": ministries, "regions": 0, "own_norms_share": 0.0, "seed": seed}
    return _synth_chain(eco, chain, activity)


def read_capacities(path: Optional[Path]) -> Any:
    """``product,capacity`` as a Series (the implicit producers' capacities), or ``None``."""
    if path is None:
        return None
    from gosplan.io.keyed import read_keyed

    return read_keyed(path, ("product", "capacity"), minimum=0.0, kind="a capacities file")


def exit_code(execution: Any) -> int:
    """0 when every period was carried out; 3 (4) when the centre's plan became infeasible
    (unbounded) mid-way; 1 otherwise."""
    if execution.completed:
        return EXIT_OK
    message = str(execution.message)
    if "infeasible" in message:
        return EXIT_INFEASIBLE
    if "unbounded" in message:
        return EXIT_UNBOUNDED
    return EXIT_ERROR


def execution_tables(execution: Any) -> dict[str, Any]:
    """The Execution's tables by stem (an empty alerts table when monitoring did not run)."""
    import pandas as pd

    from gosplan.monitoring.alerts import ALERT_COLUMNS

    try:
        enterprises = execution.enterprises_frame()
    except ValueError:
        # a run stopped by a failed revision keeps one period fewer of enterprise values than
        # of periods (gosplan.execution.run): the table is left empty rather than wrong
        enterprises = pd.DataFrame(columns=list(ENTERPRISE_COLUMNS))
    return {
        "periods": execution.periods,
        "products": execution.products,
        "ministries": execution.ministries_frame(),
        "enterprises": enterprises,
        "groups": execution.groups,
        "alerts": execution.alerts if execution.alerts is not None else pd.DataFrame(columns=list(ALERT_COLUMNS)),
    }


def top_shortages(execution: Any, economy: Any, k: int = TOP_SHORTAGES) -> list[dict[str, Any]]:
    """The ``k`` products with the largest unmet allocations over the run (valued at base-year
    labour values), with their names."""
    from gosplan.report.execution import shortage_products

    frame = shortage_products(execution, economy).head(k)
    return [
        {"product": r.product, "name": r.name, "ministry": r.ministry, "unmet": r.unmet,
         "unmet_intermediate": r.unmet_intermediate, "unmet_final": r.unmet_final, "share": r.share}
        for r in frame.itertuples(index=False)
    ]


def execution_files(execution: Any, economy: Any, summary: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """``{file name: writer(path)}`` for one run: the tables, summary.json, report.html."""
    from gosplan.report.execution import execution_report

    files: dict[str, Any] = {}
    for stem, frame in execution_tables(execution).items():
        files[f"{stem}.{fmt}"] = (lambda f: lambda p: _write_table(f, p, fmt))(frame)
    text = _dumps(summary) + "\n"
    html = execution_report(execution, economy)
    files[SUMMARY_NAME] = lambda p: p.write_text(text, encoding="utf-8")
    files[REPORT_NAME] = lambda p: p.write_text(html, encoding="utf-8")
    return files


def execution_summary_report(summary: Mapping[str, Any], *, written: list[str]) -> Any:
    """A rich renderable: what ran, how it ended, mean indicators, the largest shortages."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    mean = summary.get("mean") or {}
    alerts = summary.get("alerts")
    rows = [
        ("economy", f"{summary['economy']} ({summary['products']:,} products, {summary['producers']:,} producers, "
                    f"{summary['household_groups']:,} household groups)"),
        ("regime", str(summary["regime"])),
        ("periods", f"{summary['periods']} ({'completed' if summary['completed'] else 'stopped'}: {summary['message']})"),
        ("shocks", ", ".join(f"{k} {v}" for k, v in (summary.get("shocks") or {}).items())),
        ("fulfilment (mean)", _pct(mean.get("fulfilment"))),
        ("shortage (mean)", f"{_pct(mean.get('shortage'))} (to producers {_pct(mean.get('shortage_intermediate'))}, "
                            f"to final users {_pct(mean.get('shortage_final'))})"),
        ("idle capacity (mean)", f"{_pct(mean.get('idle_capacity'))} (hidden reserves "
                                 f"{_pct(mean.get('hidden_reserves'))})"),
        ("waste (mean)", f"{_pct(mean.get('waste'))} (unsold stock {_pct(mean.get('unsold_stock'))})"),
        ("hidden market (mean)", f"{_pct(mean.get('hidden_share'))} of spending (queue {_pct(mean.get('queue'))})"),
        ("consumption per head (mean)", _number(mean.get("consumption_per_head"))),
        ("alerts", "monitoring off" if alerts is None else
         (", ".join(f"{k} {v}" for k, v in alerts.items()) or "none")),
        ("seconds", f"{_number(summary.get('seconds'), 3)} (load {_number(summary.get('load_seconds'), 3)})"),
    ]
    from gosplan.cli.report import _kv_table

    parts: list[Any] = [_kv_table(rows)]
    top = summary.get("largest_shortages") or []
    if top:
        table = Table(box=box.SIMPLE_HEAD, title="Largest shortages over the run (at base-year labour values)",
                      title_justify="left", title_style="bold")
        table.add_column("product", no_wrap=True, overflow="ellipsis", max_width=40)
        table.add_column("code", no_wrap=True)
        table.add_column("unmet", justify="right")
        table.add_column("of its allocations", justify="right")
        for g in top:
            table.add_row(str(g["name"]), str(g["product"]), _number(g["unmet"], 4), _pct(g["share"]))
        parts.append(table)
    if written:
        parts.append(Text("\nwritten: " + ", ".join(written), style="dim"))
    return Group(*parts)


# ------------------------------------------------------------------------------ simulate --regime
def run_regime(
    *,
    economy: str,
    out: Path,
    regime: str,
    periods: int,
    households: Optional[Path],
    preferences: Optional[Path],
    groups: Optional[int],
    seed: Optional[int],
    resources: Optional[Path],
    capacities: Optional[Path],
    committed: Optional[Path],
    method: str,
    step: float,
    hidden_share: float,
    shocks_file: Optional[Path],
    shock_rate: Optional[float],
    shock_depth: float,
    shock_persistence: float,
    behaviour: Mapping[str, Any],
    enterprises: Optional[float],
    ministries: Optional[int],
    fmt: Format,
    as_json: bool,
    allow_negative_value_added: bool,
) -> None:
    """``gosplan simulate ECONOMY --regime ...``: one :func:`gosplan.execute` run, its files and report."""
    _check_out(out)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    seed_value = 0 if seed is None else int(seed)
    with _guard(), Activity(err_console, show_progress, bar=True) as activity:
        from gosplan.execution import Behaviour

        behave = Behaviour(**behaviour)
        shocks = make_shocks(shocks_file, shock_rate, shock_depth, shock_persistence, seed_value)
        caps = read_capacities(capacities)
        eco, load_seconds = _load(economy, activity, allow_negative_value_added)
        eco = attach_chain(eco, enterprises, ministries, seed_value, activity)
        from gosplan.io.households import load_households

        directory = Path(economy) if Path(economy).is_dir() else None
        with activity.step("reading the households"):
            hh = load_households(eco, households, preferences, directory=directory, groups=groups,
                                 seed=seed if households is None else None)
        execution = _execute(eco, hh, regime, periods, shocks, behave, caps, resources, committed, hidden_share,
                             step, method, activity)
        summary = _run_summary(execution, eco, load_seconds, economy, fmt.value, {
            "households": households, "preferences": preferences, "resources": resources,
            "capacities": capacities, "committed": committed, "shocks": shocks_file,
        })
        text = _dumps(summary) + "\n"
        files = execution_files(execution, eco, summary, fmt.value)
        others = tuple(f"{s}.{f.value}" for s in EXECUTION_TABLES for f in Format if f is not fmt)
        with activity.step(f"writing {out}"):
            written = [str(p) for p in _publish(out, files, remove=others)]
    if as_json:
        sys.stdout.write(text)
    else:
        out_console, _, _ = _consoles(True)
        out_console.print(execution_summary_report(summary, written=written))
    code = exit_code(execution)
    if code != EXIT_OK:
        raise _fail(execution.message, code)


def _execute(eco: Any, hh: Any, regime: str, periods: int, shocks: Any, behave: Any, caps: Any, resources: Any,
             committed: Any, hidden_share: float, step: float, method: str, activity: Any, name: str = "") -> Any:
    from gosplan.execution import execute

    what = f"{name}: " if name else ""
    with activity.step(f"{what}{regime}, {periods} periods ({eco.n_products:,} products, {hh.H:,} groups)",
                       total=float(periods)) as bar:
        return execute(
            eco, hh, regime=regime, periods=periods, shocks=shocks, behaviour=behave, capacities=caps,
            resources=resources, committed=committed, hidden_share=hidden_share, step=step, method=method,
            progress=lambda t, line: bar.update(completed=float(t), detail=line, force=True),
        )


def _run_summary(execution: Any, eco: Any, load_seconds: float, source: str, fmt: str,
                 inputs: Mapping[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = execution.summary()
    if not execution.completed:
        summary["failed_period"] = int(len(execution.periods)) + 1
    summary["largest_shortages"] = top_shortages(execution, eco)
    summary.update({
        "load_seconds": load_seconds,
        "source": source,
        "inputs": {k: str(v) for k, v in inputs.items() if v is not None},
        "files": {**{stem: f"{stem}.{fmt}" for stem in EXECUTION_TABLES}, "summary": SUMMARY_NAME,
                  "report": REPORT_NAME},
        "gosplan_version": __version__,
    })
    return summary


# ------------------------------------------------------------------------------ scenario files
_TOP_KEYS = {
    "economy", "periods", "seed", "households", "shocks", "behaviour", "enterprises", "ministries",
    "hidden_share", "step", "method", "resources", "capacities", "committed", "run",
}
_HOUSEHOLD_KEYS = {"groups", "file", "preferences"}
_SHOCK_KEYS = {"rate", "depth", "persistence", "file"}
_RUN_KEYS = {"name", "regime", "behaviour", "hidden_share", "step", "method"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _scenario_error(path: Path, message: str) -> Exception:
    from gosplan.errors import InvalidEconomyError, Location

    return InvalidEconomyError(message, Location(file=str(path)))


def _check_keys(path: Path, table: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise _scenario_error(path, f"unknown key {where}{key!r} (known: {', '.join(sorted(known))})")


def _typed(path: Path, value: Any, kind: Any, where: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> Any:
    ok = isinstance(value, kind) and not isinstance(value, bool) if kind is not bool else isinstance(value, bool)
    if ok and kind in (int, float, (int, float)):
        v = float(value)
        ok = math.isfinite(v)
        if ok and low is not None:
            ok = v > low if low_open else v >= low
        if ok and high is not None:
            ok = v < high if high_open else v <= high
    if not ok:
        names = {int: "an integer", float: "a number", (int, float): "a number", str: "a string", bool: "true or false"}
        rng = ""
        if low is not None and high is not None:
            rng = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            rng = f" {'>' if low_open else '>='} {low:g}"
        raise _scenario_error(path, f"{where} must be {names.get(kind, str(kind))}{rng}, got {value!r}")
    return value


def _relative(path: Path, value: Any, where: str) -> Path:
    _typed(path, value, str, where)
    p = Path(value)
    return p if p.is_absolute() else (path.parent / p)


def read_scenario(path: Path) -> dict[str, Any]:
    """The resolved settings of a scenario file (paths made relative to it, defaults filled),
    or an error naming the file and the key."""
    import tomllib

    from gosplan.execution import REGIMES, Behaviour

    if not path.is_file():
        raise _scenario_error(path, "scenario file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _scenario_error(path, f"not a valid TOML file: {exc}") from None
    _check_keys(path, raw, _TOP_KEYS, "")
    if "economy" not in raw:
        raise _scenario_error(path, "missing key 'economy' (a bundled dataset such as us-2022, or a path)")
    economy = _typed(path, raw["economy"], str, "economy")
    local = path.parent / economy
    if not Path(economy).is_absolute() and local.exists():
        economy = str(local)
    settings: dict[str, Any] = {
        "economy": economy,
        "periods": _typed(path, raw.get("periods", 12), int, "periods", low=1),
        "seed": _typed(path, raw.get("seed", 0), int, "seed", low=0),
        "enterprises": None, "ministries": None,
        "hidden_share": _typed(path, raw.get("hidden_share", 0.1), (int, float), "hidden_share", low=0, high=1,
                               high_open=True),
        "step": _typed(path, raw.get("step", 1.0), (int, float), "step", low=0, high=1, low_open=True),
        "method": _typed(path, raw.get("method", "auto"), str, "method"),
    }
    if "enterprises" in raw:
        settings["enterprises"] = _typed(path, raw["enterprises"], (int, float), "enterprises", low=0, low_open=True)
    if "ministries" in raw:
        settings["ministries"] = _typed(path, raw["ministries"], int, "ministries", low=1)
    for key in ("resources", "capacities", "committed"):
        settings[key] = str(_relative(path, raw[key], key)) if key in raw else None
    hh = raw.get("households", {})
    if not isinstance(hh, dict):
        raise _scenario_error(path, f"households must be a table, got {hh!r}")
    _check_keys(path, hh, _HOUSEHOLD_KEYS, "households.")
    if ("file" in hh) != ("preferences" in hh):
        raise _scenario_error(path, "households.file and households.preferences go together: give both or neither")
    if "file" in hh and "groups" in hh:
        raise _scenario_error(path, "households.groups applies to synthetic households, not to household files")
    settings["households"] = {
        "groups": _typed(path, hh["groups"], int, "households.groups", low=1) if "groups" in hh else None,
        "file": str(_relative(path, hh["file"], "households.file")) if "file" in hh else None,
        "preferences": str(_relative(path, hh["preferences"], "households.preferences")) if "preferences" in hh else None,
    }
    sh = raw.get("shocks", {})
    if not isinstance(sh, dict):
        raise _scenario_error(path, f"shocks must be a table, got {sh!r}")
    _check_keys(path, sh, _SHOCK_KEYS, "shocks.")
    if "file" in sh:
        extra = [k for k in ("rate", "depth", "persistence") if k in sh]
        if extra:
            raise _scenario_error(path, f"shocks.file and shocks.{extra[0]} exclude each other: shocks come from a "
                                        "file or are drawn at random")
        settings["shocks"] = {"kind": "file", "file": str(_relative(path, sh["file"], "shocks.file"))}
    elif sh:
        if "rate" not in sh:
            raise _scenario_error(path, "shocks needs rate (or file)")
        settings["shocks"] = {
            "kind": "random",
            "rate": _typed(path, sh["rate"], (int, float), "shocks.rate", low=0, high=1),
            "depth": _typed(path, sh.get("depth", 0.5), (int, float), "shocks.depth", low=0, high=1, low_open=True),
            "persistence": _typed(path, sh.get("persistence", 0.5), (int, float), "shocks.persistence", low=0, high=1,
                                  high_open=True),
            "seed": settings["seed"],
        }
    else:
        settings["shocks"] = {"kind": "none"}
    fields = set(Behaviour.__dataclass_fields__)
    base = _behaviour(path, raw.get("behaviour", {}), fields, "behaviour.")
    runs = raw.get("run")
    if not isinstance(runs, list) or not runs:
        raise _scenario_error(path, "no runs: add at least one [[run]] table with name and regime")
    resolved_runs = []
    seen: set[str] = set()
    for k, run in enumerate(runs, start=1):
        where = f"run[{k}]."
        if not isinstance(run, dict):
            raise _scenario_error(path, f"run[{k}] must be a table")
        _check_keys(path, run, _RUN_KEYS, where)
        for key in ("name", "regime"):
            if key not in run:
                raise _scenario_error(path, f"missing key {where}{key}")
        name = _typed(path, run["name"], str, f"{where}name")
        if not _NAME.match(name):
            raise _scenario_error(path, f"{where}name {name!r} must be letters, digits, '_', '-' or '.' (it names "
                                        "a directory)")
        if name in seen:
            raise _scenario_error(path, f"two runs are named {name!r}")
        seen.add(name)
        regime = _typed(path, run["regime"], str, f"{where}regime")
        if regime not in REGIMES:
            raise _scenario_error(path, f"{where}regime {regime!r} is not one of {', '.join(REGIMES)}")
        behave = {**base, **_behaviour(path, run.get("behaviour", {}), fields, f"{where}behaviour.")}
        try:
            Behaviour(**behave)
        except Exception as exc:
            raise _scenario_error(path, f"{where}behaviour: {exc}") from None
        resolved_runs.append({
            "name": name, "regime": regime, "behaviour": Behaviour(**behave).to_dict(),
            "hidden_share": _typed(path, run.get("hidden_share", settings["hidden_share"]), (int, float),
                                   f"{where}hidden_share", low=0, high=1, high_open=True),
            "step": _typed(path, run.get("step", settings["step"]), (int, float), f"{where}step", low=0, high=1,
                           low_open=True),
            "method": _typed(path, run.get("method", settings["method"]), str, f"{where}method"),
        })
    settings["runs"] = resolved_runs
    settings["source"] = str(path)
    return settings


def _behaviour(path: Path, table: Any, fields: set[str], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _scenario_error(path, f"{where.rstrip('.')} must be a table, got {table!r}")
    _check_keys(path, table, fields, where)
    out = {}
    for key, value in table.items():
        if key == "stocks":
            out[key] = _typed(path, value, bool, f"{where}{key}")
        elif key == "reporting":
            out[key] = _typed(path, value, str, f"{where}{key}")
        else:
            out[key] = float(_typed(path, value, (int, float), f"{where}{key}"))
    return out


def comparison_frame(runs: Mapping[str, Any]) -> Any:
    """One row per run and period: ``run``, ``regime`` and :data:`COMPARISON_COLUMNS`
    (``alerts``: Cyberstride's alert rows of that period, every level)."""
    import pandas as pd

    frames = []
    for name, ex in runs.items():
        p = ex.periods.copy()
        counts = (ex.alerts.groupby("period").size() if ex.alerts is not None and len(ex.alerts)
                  else pd.Series(dtype=float))
        p["alerts"] = p["period"].map(counts).fillna(0).astype(int) if len(p) else []
        cols = [c for c in COMPARISON_COLUMNS if c in p.columns]
        p = p[cols]
        p.insert(0, "regime", ex.regime)
        p.insert(0, "run", name)
        frames.append(p)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run", "regime", "period"])


@app.command()
def scenario(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE.toml", show_default=False, dir_okay=False,
                       help="The scenario: economy, households, shocks, behaviour and a list of [[run]] tables "
                       "(docs/cli.md)."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", show_default=False, file_okay=False,
                     help="Write DIR/<run>/ (each run's tables, summary.json, report.html), DIR/comparison.csv, "
                     "DIR/comparison.html and DIR/scenario.json."),
    ],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Format of each run's tables.")] = Format.csv,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the scenario's summary as JSON on stdout (and nothing else).")
    ] = False,
    allow_negative_value_added: AllowNegativeValueAdded = False,
) -> None:
    """Run the regimes of a scenario file on the same economy and the same shocks, and compare them.

    Each [[run]] is one 'gosplan simulate --regime' run; every run meets the same shocks (the
    same draws from the scenario's seed, or the same shocks file). Exit code 1: bad input
    (the message names the file and the key; nothing written), or a run whose centre failed
    mid-way (3: its plan was infeasible), in which case every run's periods are written.
    """
    _check_out(out)
    _, err_console, show_progress = _consoles(as_json)
    from gosplan.cli.report import Activity

    with _guard(), Activity(err_console, show_progress, bar=True) as activity:
        from gosplan.execution import Behaviour

        settings = read_scenario(file)
        hs = settings["households"]
        sh = settings["shocks"]
        caps = read_capacities(Path(settings["capacities"]) if settings["capacities"] else None)
        if sh["kind"] == "file":
            make_shocks(Path(sh["file"]), None, 0.5, 0.5, 0)  # read it now: a bad file fails before any run
        eco, load_seconds = _load(settings["economy"], activity, allow_negative_value_added)
        eco = attach_chain(eco, settings["enterprises"], settings["ministries"], settings["seed"], activity)
        from gosplan.io.households import load_households

        directory = Path(settings["economy"]) if Path(settings["economy"]).is_dir() else None
        with activity.step("reading the households"):
            hh = load_households(
                eco, Path(hs["file"]) if hs["file"] else None, Path(hs["preferences"]) if hs["preferences"] else None,
                directory=directory, groups=hs["groups"], seed=settings["seed"] if hs["file"] is None else None,
            )
        runs: dict[str, Any] = {}
        for run in settings["runs"]:
            # a fresh shocks object per run: the same draws (RandomShocks draws period t from [seed, t])
            shocks = make_shocks(Path(sh["file"]) if sh["kind"] == "file" else None, sh.get("rate"),
                                 sh.get("depth", 0.5), sh.get("persistence", 0.5), settings["seed"])
            runs[run["name"]] = _execute(
                eco, hh, run["regime"], settings["periods"], shocks, Behaviour(**run["behaviour"]), caps,
                settings["resources"], settings["committed"], run["hidden_share"], run["step"], run["method"],
                activity, name=run["name"],
            )
        from gosplan.report.execution import comparison_report

        inputs = {"households": hs["file"], "preferences": hs["preferences"], "resources": settings["resources"],
                  "capacities": settings["capacities"], "committed": settings["committed"],
                  "shocks": sh.get("file"), "scenario": str(file)}
        summaries = {name: _run_summary(ex, eco, load_seconds, settings["economy"], fmt.value, inputs)
                     for name, ex in runs.items()}
        comparison = comparison_frame(runs)
        html = comparison_report(runs, economy=eco, title=f"{file.stem}: regimes compared on {eco.meta.name}",
                                 links={name: f"{name}/{REPORT_NAME}" for name in runs})
        resolved = {**settings, "load_seconds": load_seconds, "gosplan_version": __version__,
                    "runs_outcome": {name: {"completed": ex.completed, "message": ex.message,
                                            "periods": int(len(ex.periods))} for name, ex in runs.items()},
                    "files": {"comparison": COMPARISON_CSV, "report": COMPARISON_HTML, "scenario": SCENARIO_JSON,
                              "runs": {name: f"{name}/" for name in runs}}}
        text = _dumps(resolved) + "\n"
        others = tuple(f"{s}.{f.value}" for s in EXECUTION_TABLES for f in Format if f is not fmt)
        written: list[str] = []
        with activity.step(f"writing {out}"):
            for name, ex in runs.items():
                files = execution_files(ex, eco, summaries[name], fmt.value)
                written += [str(p) for p in _publish(out / name, files, remove=others)]
            written += [str(p) for p in _publish(out, {
                COMPARISON_CSV: lambda p: comparison.to_csv(p, index=False),
                COMPARISON_HTML: lambda p: p.write_text(html, encoding="utf-8"),
                SCENARIO_JSON: lambda p: p.write_text(text, encoding="utf-8"),
            })]
    if as_json:
        sys.stdout.write(text)
    else:
        out_console, _, _ = _consoles(True)
        out_console.print(scenario_report(comparison, runs, written=[str(out / n) for n in runs]
                                          + [str(out / n) for n in (COMPARISON_CSV, COMPARISON_HTML, SCENARIO_JSON)]))
    failed = [(name, ex) for name, ex in runs.items() if not ex.completed]
    if failed:
        name, ex = failed[0]
        raise _fail(f"run {name!r}: {ex.message}", exit_code(ex))


def scenario_report(comparison: Any, runs: Mapping[str, Any], *, written: list[str]) -> Any:
    """A rich table: each run's mean indicators."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, title="Runs compared (means over the T periods; ! stopped early)",
                  title_justify="left", title_style="bold")
    cols = [("fulfilment", "fulfil."), ("shortage", "short."), ("idle_capacity", "idle"),
            ("waste", "waste"), ("hidden_share", "hidden"), ("consumption_per_head", "cons./head")]
    table.add_column("run", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("regime", no_wrap=True)
    table.add_column("T", justify="right")
    for _, head in cols:
        table.add_column(head, justify="right")
    for name, ex in runs.items():
        rows = comparison[comparison["run"] == name]
        cells = [_compact(rows[c].mean()) if c == "consumption_per_head" else _pct(rows[c].mean()) for c, _ in cols]
        table.add_row(name, ex.regime, f"{len(rows)}{'' if ex.completed else '!'}", *cells)
    parts: list[Any] = [table]
    if written:
        parts.append(Text("\nwritten: " + ", ".join(written), style="dim"))
    return Group(*parts)


def _compact(value: Any) -> str:
    from gosplan.report.svg import compact_number

    v = float(value)
    return compact_number(v) if math.isfinite(v) else "—"

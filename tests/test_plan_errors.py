"""Plans that cannot be made, inputs that are wrong, solves that stop early — through the
API and through ``gosplan plan`` (exit codes 0 optimal, 3 infeasible, 4 unbounded, 1 the
rest; ``error: ...`` on stderr naming file, line and product) — and the files it writes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gosplan
from gosplan import Status
from gosplan.cli.app import app
from gosplan.errors import InvalidEconomyError, UnknownProductError
from gosplan.planning.result import InfeasiblePlanError, UnboundedPlanError

pytestmark = pytest.mark.filterwarnings("ignore::gosplan.errors.DataQualityWarning")

PLAN_COLUMNS = {"product", "gross_output", "net_output", "target", "fulfilment", "shadow_price"}
SUMMARY_KEYS = {"status", "objective", "fulfilment", "duality_gap", "max_violation", "method", "seconds"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cockshott() -> gosplan.Economy:
    return gosplan.load("cockshott-example")  # iron, coal, corn, bread; labour only


@pytest.fixture(scope="module")
def us2017() -> gosplan.Economy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load("us-2017")


# ------------------------------------------------------------------------- infeasible
def test_infeasible_floor_names_labour_and_the_product(cockshott) -> None:
    res = gosplan.plan(cockshott, floors={"bread": 10.0}, method="highs")
    assert res.status is Status.INFEASIBLE
    assert math.isnan(res.objective) and res.class_fulfilment == {}
    assert any(line.startswith("resource labour") for line in res.conflict), res.conflict
    assert any("bread" in line and ">= 10" in line for line in res.conflict), res.conflict
    assert "infeasible" in res.message and "labour" in res.message
    with pytest.raises(InfeasiblePlanError, match="labour"):
        res.raise_for_status()


def test_infeasible_under_a_time_limit_still_names_the_conflict(cockshott, monkeypatch) -> None:
    """Under a time limit the conflict comes from the solver's Farkas ray (HiGHS' IIS search
    ignores time limits); the same constraints are named, and the IIS is not asked for."""
    import gosplan.optim.highs as highs

    def no_iis(*args, **kwargs):
        raise AssertionError("the IIS search was asked for under a time limit")

    monkeypatch.setattr(highs, "irreducible_infeasible_subset", no_iis)
    res = gosplan.plan(cockshott, floors={"bread": 10.0}, method="highs", time_limit=30)
    assert res.status is Status.INFEASIBLE
    assert any(line.startswith("resource labour") for line in res.conflict), res.conflict
    assert any("bread" in line for line in res.conflict), res.conflict


def test_harmony_cuts_running_out_are_said_so(cockshott, monkeypatch) -> None:
    """HiGHS allowed one round of tangent cuts: the plan stops at its iteration limit and says the
    cuts did not converge (it repeated HiGHS' "Optimal" for the last cut program)."""
    import gosplan.optim.highs as highs

    monkeypatch.setattr(highs, "MAX_CUT_ROUNDS", 1)
    res = gosplan.plan(cockshott, objective="harmony", method="highs", tol=1e-9)
    assert res.status is Status.ITERATION_LIMIT
    assert "tangent cuts did not converge in 1 round(s)" in res.message, res.message


def test_infeasible_floors_on_two_products(cockshott) -> None:
    """Floors that fit one at a time but not together: both named, with labour."""
    alone = [gosplan.plan(cockshott, floors={p: f}, method="highs") for p, f in (("bread", 2.5), ("coal", 6.0))]
    assert [r.status for r in alone] == [Status.OPTIMAL, Status.OPTIMAL]
    res = gosplan.plan(cockshott, floors={"bread": 2.5, "coal": 6.0}, method="highs")
    assert res.status is Status.INFEASIBLE
    text = "; ".join(res.conflict)
    assert "resource labour" in text and "bread" in text and "coal" in text, res.conflict


def test_infeasible_cli_exit_3_conflict_on_stderr(runner, tmp_path: Path) -> None:
    floors = _write(tmp_path / "floors.csv", "product,floor\nbread,10\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "cockshott-example", "--floors", str(floors), "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: infeasible")
    assert "resource labour" in result.stderr and "bread" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]  # no plan tables
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    assert any("bread" in c for c in summary["conflict"]) and any("labour" in c for c in summary["conflict"])


# ------------------------------------------------------------------------- unbounded
def test_unbounded_without_resource_limits(cockshott) -> None:
    res = gosplan.plan(cockshott, resources={}, method="highs")
    assert res.status is Status.UNBOUNDED
    assert math.isnan(res.objective)
    assert "unbounded" in res.message
    with pytest.raises(UnboundedPlanError):
        res.raise_for_status()
    # the cost objective is bounded below by 0 whatever the resources
    assert gosplan.plan(cockshott, objective="cost", resources={}, method="highs").status is Status.OPTIMAL


def test_unbounded_when_a_product_needs_no_limited_resource() -> None:
    """Labour limited, but the targeted product is made with land alone (unlimited)."""
    eco = gosplan.Economy.from_coefficients(
        [[0.1, 0.0], [0.0, 0.1]], y=[1.0, 1.0], primary=[[1.0, 0.0], [0.0, 1.0]], resources=["labour", "land"]
    )
    res = gosplan.plan(eco, targets={"p1": 1.0}, resources={"labour": 5.0}, method="highs")
    assert res.status is Status.UNBOUNDED
    assert "in 1 targeted product(s)" in res.message and ": p1;" in res.message, res.message
    bounded = gosplan.plan(eco, targets={"p1": 1.0}, resources={"labour": 5.0, "land": 1.8}, method="highs")
    assert bounded.status is Status.OPTIMAL and bounded.objective == pytest.approx(1.8 * 0.9, rel=1e-9)


def test_unbounded_harmony_names_the_products_nothing_limits(us2017) -> None:
    """US 2017 with labour limited: harmony is unbounded because customs duties (4200ID) take no
    labour, directly or through their inputs (their labour value is 0 in the table's balance,
    the independent check); the message names that product, not "nothing limits" in general."""
    res = gosplan.plan(us2017, objective="harmony")
    assert res.status is Status.UNBOUNDED
    assert "4200ID (Customs duties)" in res.message, res.message
    values = pd.Series(gosplan.balance(us2017).labour_values, index=us2017.products)
    named = [p for p in us2017.products if f"{p} (" in res.message or f": {p};" in res.message]
    assert named and all(abs(values[p]) <= 1e-12 for p in named), named
    bounded = gosplan.plan(us2017, objective="harmony", capacities={p: 1e6 for p in named})
    assert bounded.status is not Status.UNBOUNDED


def test_report_title_says_optimal_only_for_an_optimal_plan(runner) -> None:
    """The panel of an unbounded plan was titled "optimal plan"."""
    unbounded = runner.invoke(app, ["plan", "us-2017", "--objective", "harmony"])
    assert unbounded.exit_code == 4
    assert "gosplan · plan" in unbounded.stdout and "optimal plan" not in unbounded.stdout
    optimal = runner.invoke(app, ["plan", "cockshott-example"])
    assert optimal.exit_code == 0 and "gosplan · optimal plan" in optimal.stdout


def test_unbounded_cli_exit_4(runner, tmp_path: Path) -> None:
    resources = _write(tmp_path / "resources.csv", "resource,available\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "cockshott-example", "--resources", str(resources), "--out", str(out), "--json"])
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["status"] == "unbounded"
    assert "error: unbounded" in result.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "unbounded"


# ------------------------------------------------------------------------- bad input files
@pytest.mark.parametrize(
    ("flag", "text", "bad"),
    [
        ("--targets", "product,quantity\niron,1\nsteel,2\n", "steel"),
        ("--capacities", "product,capacity\ncoal,5\nsteel,2\n", "steel"),
        ("--priorities", "product,class\nbread,1\nsugar,2\n", "sugar"),
        ("--floors", "product,floor\ncorn,0.1\nrye,0.2\n", "rye"),
    ],
)
def test_unknown_product_in_a_file(runner, tmp_path: Path, flag: str, text: str, bad: str) -> None:
    path = _write(tmp_path / "input.csv", text)
    result = runner.invoke(app, ["plan", "cockshott-example", flag, str(path)])
    assert result.exit_code == 1, result.output
    err = result.stderr
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(path) in err and "line 3" in err and repr(bad) in err and "unknown product" in err
    assert result.stdout == ""


def test_unknown_product_in_a_file_through_the_api(cockshott, tmp_path: Path) -> None:
    path = _write(tmp_path / "targets.csv", "product,quantity\nbread,1\n\nsteel,2\n")
    with pytest.raises(UnknownProductError) as info:
        gosplan.plan(cockshott, targets=path)
    loc = info.value.location
    assert (Path(loc.file), loc.line, loc.product) == (path, 4, "steel")


def test_unknown_resource_in_a_file(runner, tmp_path: Path) -> None:
    path = _write(tmp_path / "resources.csv", "resource,available\nlabour,1\nwater,3\n")
    result = runner.invoke(app, ["plan", "cockshott-example", "--resources", str(path)])
    assert result.exit_code == 1, result.output
    assert str(path) in result.stderr and "line 3" in result.stderr and "'water'" in result.stderr
    assert "unknown resource" in result.stderr
    with pytest.raises(InvalidEconomyError, match="water"):
        gosplan.plan(gosplan.load("cockshott-example"), resources={"labour": 1.0, "water": 3.0})


@pytest.mark.parametrize(
    ("flag", "text", "column"),
    [
        ("--capacities", "product,capacity\niron,1\ncoal,-2\n", "capacity"),
        ("--targets", "product,quantity\niron,1\ncoal,-2\n", "quantity"),
        ("--resources", "resource,available\nlabour,-1\n", "available"),
    ],
)
def test_negative_value_names_its_row(runner, tmp_path: Path, flag: str, text: str, column: str) -> None:
    path = _write(tmp_path / "input.csv", text)
    result = runner.invoke(app, ["plan", "cockshott-example", flag, str(path)])
    assert result.exit_code == 1, result.output
    line = 3 if flag != "--resources" else 2
    key = "coal" if flag != "--resources" else "labour"
    assert f"line {line}" in result.stderr and repr(key) in result.stderr and "must be at least 0" in result.stderr
    assert f"column {column!r}" in result.stderr and str(path) in result.stderr


@pytest.mark.parametrize("kind", ["targets", "capacities"])
def test_negative_value_through_the_api_names_the_product(cockshott, kind: str) -> None:
    with pytest.raises(InvalidEconomyError, match="'coal'.*must be at least 0") as info:
        gosplan.plan(cockshott, **{kind: {"iron": 1.0, "coal": -2.0}})
    assert info.value.location.product == "coal"


def test_technique_without_output_is_named() -> None:
    make = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # "idle" makes nothing
    eco = gosplan.Economy(
        products=["a", "b"], use=np.zeros((2, 3)), make=make, activities=["make-a", "make-b", "idle"],
        primary=np.ones((1, 3)), resources=["labour"], demand=np.ones((2, 1)), categories=["fd"],
    )
    with pytest.raises(InvalidEconomyError, match="technique 'idle' has no output") as info:
        gosplan.plan(eco, resources={"labour": 1.0})
    assert info.value.location.product == "idle"


@pytest.mark.parametrize("objective", ["harmony", "cost"])
def test_priorities_only_with_fulfilment(runner, cockshott, tmp_path: Path, objective: str) -> None:
    with pytest.raises(InvalidEconomyError, match="priority classes apply to the 'fulfilment' objective"):
        gosplan.plan(cockshott, objective=objective, priorities={"bread": 1})
    path = _write(tmp_path / "priorities.csv", "product,class\nbread,1\n")
    result = runner.invoke(app, ["plan", "cockshott-example", "--objective", objective, "--priorities", str(path)])
    assert result.exit_code == 2 and "priority classes" in result.stderr  # a usage error, as with --years


@pytest.mark.parametrize(
    ("option", "objective", "text"),
    [("--costs", "fulfilment", "weighs the cost objective"), ("--weights", "cost", "weigh the harmony objective"),
     ("--priorities", "harmony", "priority classes apply")],
)
@pytest.mark.parametrize("extra", [[], ["--years", "2"], ["--decompose"]])
def test_inputs_of_another_objective_are_usage_errors(runner, tmp_path: Path, option: str, objective: str,
                                                       text: str, extra: list[str]) -> None:
    """An input that weighs another objective than the one planned exits 2 (usage) naming the
    option, whether the plan is for one year, several or two levels (it exited 1 for one year)."""
    path = _write(tmp_path / "input.csv", "product,value\nbread,1\n")
    result = runner.invoke(app, ["plan", "cockshott-example", "--objective", objective, option, str(path), *extra])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.stderr and text in result.stderr


@pytest.mark.parametrize(
    ("option", "header", "row", "objective", "message"),
    [
        ("costs", "resource,cost", "labour,2", "fulfilment", "costs weigh the 'cost' objective"),
        ("costs", "resource,cost", "labour,2", "harmony", "costs weigh the 'cost' objective"),
        ("weights", "product,weight", "bread,2", "fulfilment", "weights weigh the 'harmony' objective"),
        ("weights", "product,weight", "bread,2", "cost", "weights weigh the 'harmony' objective"),
    ],
)
def test_objective_weights_only_with_their_objective(
    runner, cockshott, tmp_path: Path, option: str, header: str, row: str, objective: str, message: str
) -> None:
    """Costs or harmony weights given with another objective were silently ignored."""
    key, value = row.split(",")
    with pytest.raises(InvalidEconomyError, match=message):
        gosplan.plan(cockshott, objective=objective, **{option: {key: float(value)}})
    path = _write(tmp_path / f"{option}.csv", f"{header}\n{row}\n")
    result = runner.invoke(app, ["plan", "cockshott-example", "--objective", objective, f"--{option}", str(path)])
    assert result.exit_code == 2 and f"Invalid value for --{option}" in result.stderr  # the CLI: a usage error


def test_fractional_priority_class_is_refused(runner, tmp_path: Path) -> None:
    path = _write(tmp_path / "priorities.csv", "product,class\nbread,1.5\n")
    result = runner.invoke(app, ["plan", "cockshott-example", "--priorities", str(path)])
    assert result.exit_code == 1 and "whole number" in result.stderr and "line 2" in result.stderr


def test_no_targets_at_all(cockshott) -> None:
    with pytest.raises(InvalidEconomyError, match="no targets"):
        gosplan.plan(cockshott, targets={"bread": 0.0})


# ------------------------------------------------------------------------- limits
@pytest.mark.parametrize("method", ["highs", "highs-ipm", "highs-pdlp"])
def test_time_limit_is_reported_never_optimal(us2017, method: str) -> None:
    res = gosplan.plan(us2017, method=method, time_limit=1e-6)
    assert res.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT), res.status
    assert not res.success
    assert res.stages and res.stages[-1].status is res.status
    assert "duality_gap" in res.summary() and res.summary()["status"] == res.status.value
    with pytest.raises(gosplan.errors.ConvergenceError):
        res.raise_for_status()


def test_time_limited_plan_does_not_claim_a_closed_gap(us2017) -> None:
    res = gosplan.plan(us2017, method="highs", time_limit=1e-6)
    assert res.status is Status.TIME_LIMIT
    assert res.objective < 0.5  # the optimum is 1.0: this plan is far from it
    assert not res.duality_gap <= 1e-3


_PDHG_LIMIT = r"""
import time, gosplan
e = gosplan.Economy.from_coefficients([[0.1, 0.2], [0.3, 0.1]], l=[1, 2], y=[1, 1])
for objective in ("fulfilment", "cost"):
    t = time.perf_counter()
    r = gosplan.plan(e, objective=objective, resources={"labour": 10.0}, method="pdhg", time_limit=0.05)
    print(objective, r.status.value, round(time.perf_counter() - t, 3), flush=True)
"""


def test_pdhg_honours_its_time_limit() -> None:
    """Run in a child process: a solver looping inside a numba kernel cannot be interrupted.
    (gosplan's committed pdhg looped forever on the cost objective: eta_next =
    (1 - k**-0.3) * inf = NaN at k = 1 in _pdhg_kernels.iterate.)"""
    import gosplan.optim.pdhg  # noqa: F401  (gosplan's own solver: an import error fails)
    try:
        done = subprocess.run([sys.executable, "-c", _PDHG_LIMIT], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"pdhg did not return within 60 s with time_limit=0.05: {exc.stdout!r}")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line.split() for line in done.stdout.splitlines()]
    assert [line[0] for line in lines] == ["fulfilment", "cost"]
    for objective, status, seconds in lines:
        assert status in ("optimal", "time_limit", "iteration_limit"), (objective, status)
        if status != "optimal":
            assert float(seconds) < 10.0


def test_pdhg_time_limit_on_a_real_table(us2017) -> None:
    import gosplan.optim.pdhg  # noqa: F401  (gosplan's own solver: an import error fails)
    res = gosplan.plan(us2017, method="pdhg", time_limit=1e-6)
    assert res.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT)
    assert res.method == "pdhg"


def test_time_limit_cli_exit_1_with_the_gap_in_summary(runner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "us-2017", "--method", "highs", "--time-limit", "0.000001", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "error:" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "time_limit"
    assert "duality_gap" in summary and SUMMARY_KEYS <= set(summary)
    assert (out / "plan.csv").exists()  # the plan reached so far is still written


# ------------------------------------------------------------------------- files written
def test_cli_writes_plan_prices_and_summary(runner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "cockshott-example", "--method", "highs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    api = gosplan.plan(gosplan.load("cockshott-example"), method="highs")
    plan = pd.read_csv(out / "plan.csv")
    assert PLAN_COLUMNS <= set(plan.columns)
    assert plan["product"].tolist() == ["iron", "coal", "corn", "bread"]
    np.testing.assert_allclose(plan["net_output"], api.net_output, rtol=1e-12)
    np.testing.assert_allclose(plan["shadow_price"], api.shadow_price, rtol=1e-12)
    np.testing.assert_allclose(plan["fulfilment"], api.fulfilment, rtol=1e-12)
    prices = pd.read_csv(out / "prices.csv")
    assert {"kind", "name", "shadow_price"} <= set(prices.columns)
    labour = prices[(prices["kind"] == "resource") & (prices["name"] == "labour")]
    assert float(labour["shadow_price"].iloc[0]) == pytest.approx(api.resource_price[0], rel=1e-12)
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["status"] == "optimal" and summary["method"] == "highs-simplex"
    assert summary["objective"] == pytest.approx(1.0, rel=1e-9)
    assert summary["fulfilment"] == {"1": pytest.approx(1.0, rel=1e-9)}
    assert summary["max_violation"] <= 1e-6 and summary["duality_gap"] <= 1e-6


def test_cli_parquet_tables(runner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "cockshott-example", "--out", str(out), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    assert PLAN_COLUMNS <= set(pd.read_parquet(out / "plan.parquet").columns)
    assert not (out / "plan.csv").exists()


def test_json_stdout_is_only_json_in_a_fresh_process(tmp_path: Path) -> None:
    """A new process: HiGHS prints its banner to file descriptor 1 on first use."""
    done = subprocess.run(
        [sys.executable, "-m", "gosplan", "plan", "cockshott-example", "--json", "--method", "highs"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # the whole of stdout
    assert done.stdout.startswith("{") and done.stdout.endswith("}\n")
    assert summary["status"] == "optimal" and SUMMARY_KEYS <= set(summary)


def test_harmony_value_weights_on_the_command_line(runner, tmp_path: Path) -> None:
    """`--weights value` on us-2022: every target met in about the same proportion (labour the
    only limit); with weight 1 the summary and the report carry the note naming what was given up."""
    import json

    import pandas as pd

    unit = runner.invoke(app, ["plan", "us-2022", "--objective", "harmony", "--out", str(tmp_path / "unit")])
    assert unit.exit_code == 0, unit.output
    note = json.loads((tmp_path / "unit" / "summary.json").read_text())["detail"]["harmony_note"]
    assert "targets (the largest: 'GSLG' (State and local general government), '23' (Construction)" in note
    assert "note: with weight 1 for every target" in unit.stdout
    bogus = runner.invoke(app, ["plan", "us-2022", "--objective", "harmony", "--weights", "valeu"])
    assert bogus.exit_code == 2 and "neither 'value' nor a file: 'valeu'" in bogus.stderr
    value = runner.invoke(app, ["plan", "us-2022", "--objective", "harmony", "--weights", "value",
                                "--out", str(tmp_path / "value")])
    assert value.exit_code == 0, value.output
    summary = json.loads((tmp_path / "value" / "summary.json").read_text())
    assert "harmony_note" not in summary["detail"] and summary["inputs"]["weights"] == "value"
    plan = pd.read_csv(tmp_path / "value" / "plan.csv")
    plan = plan[plan.target > 0]
    ratio = plan.net_output / plan.target
    assert ratio.min() > 0.99 and ratio.max() < 1.01  # the tangent cuts' precision: within 4e-4 here

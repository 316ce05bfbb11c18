"""``gosplan simulate``: files, summary, report, JSON, bad input and exit codes, on us-2022
(64 consumer goods; five synthetic household groups converge in about nine periods, ~1 s)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gosplan.cli.app import app

ECONOMY = "us-2022"
TABLES = ("periods", "prices", "consumption", "groups")
SUMMARY_KEYS = {"rule", "economy", "periods", "converged", "message", "final", "gap", "change", "indicators",
                "households", "goods", "seconds", "settings", "largest_gaps", "load_seconds", "files",
                "gosplan_version"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("rule,periods", [("opportunity", 15), ("values", 15), ("fixed", 3)])
def test_each_rule_writes_tables_summary_and_report(runner: CliRunner, tmp_path: Path, rule: str, periods: int) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--rule", rule, "--groups", "5", "--periods", str(periods),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    for stem in TABLES:
        assert (out / f"{stem}.csv").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["rule"] == rule and summary["households"] == 5 and summary["goods"] == 64
    assert summary["converged"], summary["message"]
    periods_frame = pd.read_csv(out / "periods.csv")
    assert len(periods_frame) == summary["periods"] <= periods
    assert summary["gap"] == pytest.approx(periods_frame["gap"].iloc[-1])
    assert set(pd.read_csv(out / "groups.csv")["household"]) == {f"h{k:04d}" for k in range(1, 6)}
    # the five largest gaps, by name
    gaps = summary["largest_gaps"]
    assert len(gaps) == 5 and all(g["name"] and g["product"] for g in gaps)
    assert [g["gap"] for g in gaps] == sorted((g["gap"] for g in gaps), reverse=True)
    assert gaps[0]["name"] in result.stdout
    for word in ("converged", "final gap", "shortage", "hidden market", "welfare per head", "Gini"):
        assert word in result.stdout
    # what the per-head figures are measured in (us-2022 has labour: its base-year labour values)
    assert summary["valued_at"] == "base-year labour values (million USD of compensation)"
    assert "at base-year labour values" in " ".join(result.stdout.split())
    # the report: self-contained, well-formed charts with tooltips
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html), "the report must not reference anything outside itself"
    assert not re.search(r"<(link|img|iframe)\b|src=", html)
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(svgs) >= 5  # convergence, shortage, consumption, welfare, prices
    for svg in svgs:
        ET.fromstring(svg)
    assert "log scale" in html and gaps[0]["name"].replace("&", "&amp;") in html
    for heading in ("Convergence", "Shortage", "Household groups", "Prices against valuations", "Final indicators"):
        assert heading in html
    # who solved the periods, counted from the periods table
    plans = periods_frame["plan_method"].value_counts()
    assert "Solved by" in html
    for method, count in plans.items():
        assert f"{method} ({count})" in html
    revised = periods_frame["revision_method"].dropna().astype(str)
    revised = revised[revised != ""]
    if rule == "fixed":
        assert revised.empty and "target revisions:" not in html
    else:
        assert len(revised) == len(periods_frame)
        text = "target revisions: " + ", ".join(f"{m} ({k})" for m, k in revised.value_counts(sort=False).items())
        assert text in html


def test_json_is_the_summary(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--groups", "3", "--periods", "3", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "summary.json").read_text())
    assert printed["periods"] == 3 and not printed["converged"]
    assert printed["files"]["report"] == "report.html"


def test_parquet(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--groups", "2", "--periods", "2", "--format", "parquet",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    for stem in TABLES:
        assert not (out / f"{stem}.csv").exists()
        frame = pd.read_parquet(out / f"{stem}.parquet")
        assert "period" in frame.columns and len(frame)
    assert set(pd.read_parquet(out / "prices.parquet")["period"]) == {1, 2}


def test_households_from_the_economy_directory(runner: CliRunner, tmp_path: Path) -> None:
    import gosplan
    from gosplan.io.directory import write_directory
    from gosplan.io.households import load_households, write_households

    eco = gosplan.load(ECONOMY)
    directory = write_directory(eco, tmp_path / "eco", format="csv")
    write_households(load_households(eco, groups=3, seed=1), directory)
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", str(directory), "--periods", "2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["households"] == 3 and "households.csv" in summary["households_source"]


def test_fixed_prices_from_a_file(runner: CliRunner, tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert runner.invoke(app, ["simulate", ECONOMY, "--rule", "fixed", "--groups", "2", "--periods", "1",
                               "--out", str(first)]).exit_code == 0
    prices = pd.read_csv(first / "prices.csv")
    path = tmp_path / "prices.csv"
    pd.DataFrame({"product": prices["product"], "price": prices["price"] * 2}).to_csv(path, index=False)
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--rule", "fixed", "--groups", "2", "--periods", "1",
                                 "--prices", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    again = pd.read_csv(out / "prices.csv")
    assert again["price"].to_numpy() == pytest.approx(2 * prices["price"].to_numpy())


HOUSEHOLDS = "household,population,budget,elasticity\nh1,2,10,1\nh2,1,5,0.5\n"
PREFERENCES = "household,product,weight\nh1,111CA,1\nh1,HS,2\nh2,HS,1\n"


@pytest.mark.parametrize(
    "households,preferences,prices,expected",
    [
        (HOUSEHOLDS, PREFERENCES.replace("h2,HS,1", "h2,nope,1"), None, ("preferences.csv", "line 4", "nope")),
        (HOUSEHOLDS.replace("h2,1,5,", "h2,1,-5,"), PREFERENCES, None, ("households.csv", "line 3", "-5")),
        (HOUSEHOLDS, PREFERENCES.replace("h2,HS,1", "h2,HS,0"), None, ("preferences.csv", "line 4", "h2")),
        (HOUSEHOLDS.replace(",0.5", ",0"), PREFERENCES, None, ("households.csv", "line 3", "elasticity 0")),
        (HOUSEHOLDS.replace("h1,2,", "h1,abc,"), PREFERENCES, None, ("households.csv", "line 2", "abc")),
        (HOUSEHOLDS, PREFERENCES, "product,price\n111CA,1\nHS,1\nnope,2\n", ("prices.csv", "line 4", "nope")),
        (HOUSEHOLDS, PREFERENCES, "product,price\n111CA,1\nHS,-1\n", ("prices.csv", "line 3", "HS")),
        (HOUSEHOLDS, PREFERENCES, "product,price\n111CA,1\n", ("prices.csv", "HS")),
    ],
    ids=["unknown-product", "negative-budget", "zero-weights", "elasticity-0", "text-population",
         "price-unknown-product", "negative-price", "unpriced-good"],
)
def test_bad_input_exits_1_and_writes_nothing(runner: CliRunner, tmp_path: Path, households: str,
                                              preferences: str, prices: str | None, expected: tuple) -> None:
    args = ["simulate", ECONOMY, "--households", str(_write(tmp_path / "households.csv", households)),
            "--preferences", str(_write(tmp_path / "preferences.csv", preferences))]
    if prices is not None:
        args += ["--rule", "fixed", "--prices", str(_write(tmp_path / "prices.csv", prices))]
    out = tmp_path / "out"
    result = runner.invoke(app, [*args, "--periods", "2", "--out", str(out)])
    assert result.exit_code == 1, (result.stdout, result.stderr)
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and "Traceback" not in result.stderr
    for part in expected:
        assert part in message, message
    assert not out.exists()


def test_an_infeasible_period_exits_3_and_says_which(runner: CliRunner, tmp_path: Path) -> None:
    """Utilities' capacity 0 while the rest of final demand is committed: period 1 is infeasible."""
    capacities = _write(tmp_path / "capacities.csv", "product,capacity\n22,0\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--groups", "2", "--capacities", str(capacities),
                                 "--out", str(out), "--json"])
    assert result.exit_code == 3, result.stderr
    summary = json.loads(result.stdout)
    assert summary["failed_period"] == 1 and summary["plan_status"] == "infeasible"
    assert "period 1" in summary["message"] and "period 1" in result.stderr
    assert json.loads((out / "summary.json").read_text())["failed_period"] == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Plan failed in period" in html and "No period was completed." in html


@pytest.mark.parametrize(
    "extra,flag",
    [
        (["--prices", "p.csv"], "--prices"),
        (["--households", "h.csv"], "--preferences"),
        (["--tol", "0"], "--tol"),
        (["--step", "1.5"], "--step"),
        (["--rule", "fixed", "--hidden-share", "1"], "--hidden-share"),
        (["--periods", "0"], "--periods"),
        (["--weights", "unit"], "--weights"),
        (["--objective", "harmony", "--weights", "w.csv"], "--weights"),
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, tmp_path: Path, extra: list[str], flag: str) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, *extra, "--out", str(out)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert flag in result.stderr
    assert not out.exists()


def test_harmony_weights(runner: CliRunner, tmp_path: Path) -> None:
    """--weights value (the default) | unit | FILE reach every period's harmony plan; the summary says which."""
    import numpy as np

    import gosplan

    settings, supply = {}, {}
    eco = gosplan.load(ECONOMY)
    weights = _write(tmp_path / "w.csv", "product,weight\n" + "".join(f"{p},1\n" for p in eco.products))
    for name, extra in (("value", []), ("unit", ["--weights", "unit"]), ("file", ["--weights", str(weights)])):
        out = tmp_path / name
        result = runner.invoke(app, ["simulate", ECONOMY, "-O", "harmony", "--groups", "2", "--periods", "1",
                                     *extra, "--out", str(out), "--json"])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        summary = json.loads(result.stdout)
        settings[name] = summary["settings"]["weights"]
        shown = {"value": "value", "unit": "unit", "file": "given"}[name]
        assert f"harmony ({shown} weights)" in (out / "report.html").read_text(encoding="utf-8")
        supply[name] = pd.read_csv(out / "prices.csv")["supply"].to_numpy()
    assert settings == {"value": "value", "unit": "unit", "file": "given"}
    np.testing.assert_allclose(supply["file"], supply["unit"], rtol=1e-9)  # a file of ones is the unit weights
    assert not np.allclose(supply["value"], supply["unit"], rtol=1e-2)


def test_a_failed_target_revision_exits_1_and_keeps_the_periods_before(runner: CliRunner, tmp_path: Path,
                                                                      monkeypatch) -> None:
    """The revision's quadratic program failing in period 2 (Clarabel's InsufficientProgress on
    us-2017 under the values rule, before its used goods kept their capacity in the centre's
    belief): the run stops there, exits 1 and writes period 1's tables, summary and report,
    saying which period failed. It ended with an error and wrote nothing."""
    import importlib

    from gosplan.errors import PlanningError

    loop = importlib.import_module("gosplan.cycle.simulate")
    real, calls = loop.proximal_targets, []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise PlanningError("the target revision (a quadratic program over the plan's constraints) failed: "
                                "InsufficientProgress")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "proximal_targets", fail_second)
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--groups", "2", "--out", str(out), "--json"])
    assert result.exit_code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["periods"] == 1 and summary["failed_period"] == 2
    assert summary["error"].startswith("period 2: the target revision") and "period 2" in result.stderr
    assert len(pd.read_csv(out / "periods.csv")) == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Target revision failed in period" in html

"""``gosplan simulate --regime`` and ``gosplan scenario``: files, the same numbers as
:func:`gosplan.execute` in-process, shocks (file and drawn), reproducibility, scenario files,
bad input and the reports, on us-2022 (73 products, a few periods: about a second a run)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import gosplan
from gosplan.cli.app import app
from gosplan.execution import Behaviour, RandomShocks, read_shocks

ECONOMY = "us-2022"
TABLES = ("periods", "products", "ministries", "enterprises", "groups", "alerts")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def economy():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load(ECONOMY)


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The periods table without its timings (which differ from run to run)."""
    return frame.drop(columns=[c for c in frame.columns if c.endswith("_seconds")])


def _self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html), "the report must not reference anything outside itself"
    assert not re.search(r"<(link|img|iframe)\b|src=", html)
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert svgs
    for svg in svgs:
        ET.fromstring(svg)


@pytest.mark.parametrize("regime,behaviour,flags", [
    ("command", {"reporting": "understated", "lookahead": 0.9}, ["--reporting", "understated", "--lookahead", "0.9"]),
    ("liberman", {"spoilage": 0.2}, ["--spoilage", "0.2"]),
    ("optimal", {}, []),
])
def test_each_regime_writes_what_execute_computes(runner: CliRunner, tmp_path: Path, economy, regime: str,
                                                  behaviour: dict, flags: list[str]) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--regime", regime, "--periods", "4", "--shock-rate", "0.1",
                                 "--seed", "3", *flags, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    for stem in TABLES:
        assert (out / f"{stem}.csv").is_file(), stem
    ref = gosplan.execute(economy, regime=regime, periods=4, shocks=RandomShocks(0.1, seed=3),
                          behaviour=Behaviour(**behaviour))
    periods = pd.read_csv(out / "periods.csv")
    pd.testing.assert_frame_equal(_numbers(periods), _numbers(ref.periods), check_dtype=False, rtol=1e-12)
    products = pd.read_csv(out / "products.csv", dtype={"product": str, "ministry": str})
    assert len(products) == 4 * economy.n_products
    np.testing.assert_allclose(products["output"], ref.products["output"], rtol=1e-12)
    np.testing.assert_allclose(products["unmet_final"], ref.products["unmet_final"], rtol=1e-12, atol=1e-9)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["regime"] == regime and summary["periods"] == 4 and summary["completed"]
    assert summary["shocks"] == {"kind": "random", "rate": 0.1, "depth": 0.5, "persistence": 0.5, "seed": 3}
    assert summary["behaviour"] == Behaviour(**behaviour).to_dict()
    assert summary["mean"]["fulfilment"] == pytest.approx(ref.periods["fulfilment"].mean(), rel=1e-12)
    # the largest shortages by name, in the summary, on the terminal and in the report
    top = summary["largest_shortages"]
    assert top and all(t["name"] != t["product"] for t in top)
    assert [t["unmet"] for t in top] == sorted((t["unmet"] for t in top), reverse=True)
    assert top[0]["name"][:30] in result.stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    _self_contained(html)
    assert f"({regime})" in html and top[0]["name"] in html
    for section in ("Plan fulfilment", "Shortages", "Idle capacity", "Hidden reserves", "Waste", "Unsold stock",
                    "Hidden market share", "Queues", "Consumption per head", "Alerts per period by level",
                    "Shortages by ministry"):
        assert section.lower() in html.lower(), section


def test_shocks_file_product_wide(runner: CliRunner, tmp_path: Path, economy) -> None:
    shocks = tmp_path / "shocks.csv"
    shocks.write_text("period,product,capacity_factor\n2,211,0\n2,331,0.5\n3,331,0.5\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--regime", "command", "--periods", "3", "--shocks", str(shocks),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    products = pd.read_csv(out / "products.csv", dtype={"product": str, "ministry": str})
    cap = products.set_index(["period", "product"])["capacity"]
    assert cap[(2, "211")] == 0 and cap[(1, "211")] > 0 and cap[(3, "211")] == cap[(1, "211")]
    assert cap[(2, "331")] == pytest.approx(0.5 * cap[(1, "331")], rel=1e-12)
    periods = pd.read_csv(out / "periods.csv")
    assert periods["shock_share"].tolist() == pytest.approx([0, 2 / 73, 1 / 73])
    ref = gosplan.execute(economy, regime="command", periods=3, shocks=read_shocks(shocks))
    pd.testing.assert_frame_equal(_numbers(periods), _numbers(ref.periods), check_dtype=False, rtol=1e-12)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shocks"]["kind"] == "file" and summary["inputs"]["shocks"] == str(shocks)


@pytest.mark.parametrize("rows,words", [
    ("2,211,0\n3,331,1.5\n", ["line 3", "capacity_factor", "1.5"]),
    ("2,211,0\n2,nonesuch,0.5\n", ["line 3", "nonesuch"]),
])
def test_bad_shocks_file_names_the_line_and_writes_nothing(runner: CliRunner, tmp_path: Path, rows: str,
                                                           words: list[str]) -> None:
    shocks = tmp_path / "shocks.csv"
    shocks.write_text("period,product,capacity_factor\n" + rows, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--regime", "liberman", "--periods", "3", "--shocks",
                                 str(shocks), "--out", str(out)])
    assert result.exit_code == 1
    assert "shocks.csv" in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert not out.exists()


@pytest.mark.parametrize("args,flag", [
    (["--regime", "command", "--shocks", "{shocks}", "--shock-rate", "0.1"], "--shocks"),
    (["--regime", "command", "--shock-depth", "0.3"], "--shock-depth"),
    (["--shock-rate", "0.1"], "--shock-rate"),
    (["--reporting", "understated"], "--reporting"),
    (["--regime", "optimal", "--rule", "fixed"], "--rule"),
    (["--regime", "command", "--shock-rate", "1.5"], "--shock-rate"),
    (["--regime", "command", "--lookahead", "1"], "--lookahead"),
])
def test_option_errors(runner: CliRunner, tmp_path: Path, args: list[str], flag: str) -> None:
    shocks = tmp_path / "shocks.csv"
    shocks.write_text("period,product,capacity_factor\n1,211,0.5\n", encoding="utf-8")
    out = tmp_path / "out"
    args = [a.replace("{shocks}", str(shocks)) for a in args]
    result = runner.invoke(app, ["simulate", ECONOMY, *args, "--periods", "2", "--out", str(out)])
    assert result.exit_code == 2, result.stdout
    assert flag in result.stderr
    assert not out.exists()


def test_same_seed_same_run_other_seed_other_shocks(runner: CliRunner, tmp_path: Path) -> None:
    def run(seed: int, name: str) -> pd.DataFrame:
        out = tmp_path / name
        result = runner.invoke(app, ["simulate", ECONOMY, "--regime", "command", "--periods", "5", "--shock-rate", "0.2",
                                     "--seed", str(seed), "--out", str(out)])
        assert result.exit_code == 0, result.stderr
        return pd.read_csv(out / "periods.csv")

    a, b, c = run(1, "a"), run(1, "b"), run(2, "c")
    pd.testing.assert_frame_equal(_numbers(a), _numbers(b))  # identical, to the last digit
    assert not np.array_equal(a["shock_share"], c["shock_share"])
    assert not np.allclose(a["fulfilment"], c["fulfilment"])


def test_centre_failing_mid_way_is_reported(runner: CliRunner, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision that fails keeps the households' targets: the run goes on, and the failure is
    in the message, the summary and the report."""
    from gosplan.errors import PlanningError
    from gosplan.execution import run as run_module

    original = run_module._OptimalCentre.revise
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise PlanningError("the plan is infeasible: injected by the test")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(run_module._OptimalCentre, "revise", failing)
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", ECONOMY, "--regime", "optimal", "--periods", "4", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(out / "periods.csv")) == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed"] is True
    assert any("period 2" in f and "injected by the test" in f for f in summary["failures"])


SCENARIO = """\
economy = "us-2022"
periods = 4
seed = 7
[shocks]
rate = 0.1
depth = 0.5
persistence = 0.6
[[run]]
name = "command"
regime = "command"
[run.behaviour]
lookahead = 0.9
reporting = "understated"
[[run]]
name = "liberman"
regime = "liberman"
[[run]]
name = "optimal"
regime = "optimal"
"""


def test_scenario_three_regimes_same_shocks(runner: CliRunner, tmp_path: Path, economy) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["scenario", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["run"].unique().tolist() == ["command", "liberman", "optimal"]
    assert len(comparison) == 12
    shocks = comparison.pivot(index="period", columns="run", values="shock_share")
    assert (shocks.nunique(axis=1) == 1).all(), shocks  # every run met the same draws
    assert shocks.to_numpy().max() > 0
    # each run's own files, and its numbers those of gosplan.execute with the same settings
    for name in ("command", "liberman", "optimal"):
        for stem in TABLES:
            assert (out / name / f"{stem}.csv").is_file()
        assert (out / name / "report.html").is_file()
    ref = gosplan.execute(economy, regime="command", periods=4,
                          shocks=RandomShocks(0.1, depth=0.5, persistence=0.6, seed=7),
                          behaviour=Behaviour(lookahead=0.9, reporting="understated"))
    own = pd.read_csv(out / "command" / "periods.csv")
    pd.testing.assert_frame_equal(_numbers(own), _numbers(ref.periods), check_dtype=False, rtol=1e-12)
    np.testing.assert_allclose(comparison.loc[comparison["run"] == "command", "fulfilment"], ref.periods["fulfilment"],
                               rtol=1e-12)
    settings = json.loads((out / "scenario.json").read_text())
    assert settings["periods"] == 4 and settings["seed"] == 7
    assert settings["files"]["scenario"] == "scenario.json"
    assert "scenario.json" in result.stdout.replace("\n", "")  # listed among the files written (it was not)
    assert settings["shocks"] == {"kind": "random", "rate": 0.1, "depth": 0.5, "persistence": 0.6, "seed": 7}
    assert [r["regime"] for r in settings["runs"]] == ["command", "liberman", "optimal"]
    assert settings["runs"][0]["behaviour"]["reporting"] == "understated"
    assert settings["runs"][1]["behaviour"]["reporting"] == "truthful"
    html = (out / "comparison.html").read_text(encoding="utf-8")
    _self_contained(html)
    for word in ("command (command)", "liberman (liberman)", "optimal (optimal)", 'href="command/report.html"',
                 "State and local general government"):
        assert word in html, word
    assert len(re.findall(r"<svg\b", html)) == 8


def test_scenario_shocks_file_relative_to_the_toml(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "shocks.csv").write_text("period,product,capacity_factor\n2,211,0.2\n", encoding="utf-8")
    path = tmp_path / "in" / "s.toml"
    path.write_text('economy = "us-2022"\nperiods = 3\n[shocks]\nfile = "shocks.csv"\n'
                    '[[run]]\nname = "a"\nregime = "command"\n[[run]]\nname = "b"\nregime = "liberman"\n',
                    encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["scenario", str(path), "--out", str(out), "--format", "parquet"])
    assert result.exit_code == 0, result.stderr
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["shock_share"].tolist() == pytest.approx([0, 1 / 73, 0] * 2)
    assert (out / "a" / "periods.parquet").is_file() and not (out / "a" / "periods.csv").exists()


@pytest.mark.parametrize("text,words", [
    (SCENARIO.replace("seed = 7", "seed = 7\nsed = 3"), ["'sed'"]),
    (SCENARIO.replace('reporting = "understated"', 'reportng = "understated"'), ["run[1].behaviour.", "'reportng'"]),
    (SCENARIO.replace("persistence = 0.6", "persistance = 0.6"), ["shocks.", "'persistance'"]),
    (SCENARIO.replace('regime = "liberman"', 'regime = "market"'), ["run[2].regime", "'market'"]),
    (SCENARIO.replace("rate = 0.1", "rate = 0.1\nfile = 'x.csv'"), ["shocks.file"]),
    (SCENARIO.replace('name = "optimal"', 'name = "command"'), ["two runs", "'command'"]),
    (SCENARIO.replace("periods = 4", "periods = 0"), ["periods"]),
    ("economy = 'us-2022'\n", ["no runs"]),
    ("economy = \n", ["not a valid TOML"]),
])
def test_scenario_bad_file_names_file_and_key(runner: CliRunner, tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["scenario", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "bad.toml" in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert not out.exists()


def test_documented_scenario_runs(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cli.md's scenario example, as written, runs."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## `gosplan scenario`", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```toml\n(.*?)^```", section, re.M | re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    Path("scenario.toml").write_text(blocks[0], encoding="utf-8")
    result = runner.invoke(app, ["scenario", "scenario.toml", "--out", "out/scenario"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "scenario" / "comparison.html").is_file()

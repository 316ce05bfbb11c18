"""The command line: every command, its files, its JSON, its errors and exit codes.

Values written by the CLI are checked against the Python API and, for a demand file,
against a dense numpy solve of (I - A) x = y.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import gosplan
from gosplan.cli.app import app
from gosplan.io.directory import read_directory, write_directory

PLAN_COLUMNS = ["product", "final_demand", "gross_output", "labour_value", "output_multiplier"]
SUMMARY_KEYS = {"relative_residual", "method", "iterations", "seconds", "total_labour", "load_seconds",
                "economy", "products", "status", "economy_metadata", "tolerance"}

A_TOY = np.array([
    [0.1, 0.2, 0.0],
    [0.3, 0.1, 0.2],
    [0.0, 0.4, 0.1],
])
PRODUCTS = ["iron", "coal", "bread"]


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A three-product economy directory with labour and CO2."""
    eco = gosplan.Economy.from_coefficients(
        A_TOY,
        products=PRODUCTS,
        y=[10.0, 5.0, 20.0],
        primary=np.array([[1.0, 2.0, 0.5], [0.3, 1.5, 0.0]]),
        resources=["labour", "co2"],
        meta=gosplan.EconomyMeta(name="toy", units="tonnes", labour_unit="hours"),
    )
    return write_directory(eco, tmp_path / "toy", format="csv")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- basics
def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"gosplan {gosplan.__version__}\n"


@pytest.mark.parametrize("command", [[], ["balance"], ["datasets"], ["info"], ["convert"], ["synth"]])
def test_help_of_every_command(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: gosplan" in result.stdout
    assert "-h, --help" in result.stdout


def test_no_command_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "Usage: gosplan" in result.output
    assert result.exit_code in (0, 2)


@pytest.mark.parametrize(
    "args",
    [
        ["balance", "us-2022", "--format", "xml"],
        ["balance", "us-2022", "--method", "magic"],
        ["balance", "us-2022", "--scale", "nan"],
        ["balance", "us-2022", "--tol", "0"],
        ["balance", "us-2022", "--no-such-option"],
        ["synth", "--products", "10"],  # --out missing
        ["synth", "--products", "0", "--out", "x"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_out_must_not_be_a_file(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    target = _write(tmp_path / "afile", "x")
    result = runner.invoke(app, ["balance", str(toy), "--out", str(target)])
    assert result.exit_code == 2
    assert "--out" in result.stderr
    assert target.read_text() == "x"


# ---------------------------------------------------------------------------- balance
def test_balance_writes_plan_and_summary_equal_to_the_api(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "toy"
    result = runner.invoke(app, ["balance", str(toy), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert sorted(p.name for p in out.iterdir()) == ["plan.csv", "summary.json"]

    with open(out / "plan.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == PLAN_COLUMNS + ["multiplier_co2"]
    assert [r[0] for r in rows[1:]] == PRODUCTS
    expected = gosplan.balance(read_directory(toy)).to_frame()
    for k, column in enumerate(expected.columns[1:], start=1):  # full precision: read back bit for bit
        written = np.array([float(r[k]) for r in rows[1:]])
        np.testing.assert_array_equal(written, expected[column].to_numpy())

    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["status"] == "solved"
    assert summary["relative_residual"] <= 1e-10
    assert summary["products"] == 3
    assert summary["economy"] == "toy"
    assert summary["economy_metadata"]["nonzeros"] == int(np.count_nonzero(A_TOY))
    x = np.linalg.solve(np.eye(3) - A_TOY, [10.0, 5.0, 20.0])
    assert summary["total_labour"] == pytest.approx(float(np.array([1.0, 2.0, 0.5]) @ x), rel=1e-12)
    assert summary["labour_unit"] == "hours"
    assert summary["files"] == {"plan": "plan.csv", "summary": "summary.json"}

    # the terminal report
    assert "material balance" in result.stdout
    assert "Top 10 products by gross output" in result.stdout
    assert "Top 10 products by labour value" in result.stdout
    assert "hours" in result.stdout


def test_balance_without_out_writes_nothing(runner: CliRunner, toy: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, ["balance", str(toy)])
    assert result.exit_code == 0, result.output
    assert "relative residual" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_balance_json_is_the_only_stdout(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = runner.invoke(app, ["balance", str(toy), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    stored = json.loads((out / "summary.json").read_text())
    assert printed == stored
    assert SUMMARY_KEYS <= set(printed)


def test_balance_parquet_no_multipliers_scale_method(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["balance", str(toy), "--out", str(out), "--format", "parquet", "--no-multipliers",
            "--scale", "2", "--method", "scc-gs", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    plan = pd.read_parquet(out / "plan.parquet")
    assert list(plan.columns) == ["product", "final_demand", "gross_output", "labour_value"]
    x = np.linalg.solve(np.eye(3) - A_TOY, 2 * np.array([10.0, 5.0, 20.0]))
    np.testing.assert_allclose(plan["gross_output"], x, rtol=1e-9)
    summary = json.loads(result.stdout)
    assert summary["method"] == "scc-gs"
    assert summary["scale"] == 2.0


def test_demand_file_replaces_the_table_demand(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    demand = _write(tmp_path / "demand.csv", "product,quantity\nbread,100\ncoal,2.5\n")
    out = tmp_path / "o"
    result = runner.invoke(app, ["balance", str(toy), "--demand", str(demand), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(out / "plan.csv", dtype={"product": str}).set_index("product")
    y = np.array([0.0, 2.5, 100.0])  # iron not named: zero
    x = np.linalg.solve(np.eye(3) - A_TOY, y)
    v = np.linalg.solve((np.eye(3) - A_TOY).T, [1.0, 2.0, 0.5])
    np.testing.assert_allclose(plan.loc[PRODUCTS, "final_demand"], y, rtol=0)
    np.testing.assert_allclose(plan.loc[PRODUCTS, "gross_output"], x, rtol=1e-12)
    np.testing.assert_allclose(plan.loc[PRODUCTS, "labour_value"], v, rtol=1e-12)
    summary = json.loads(result.stdout)
    assert summary["demand_file"] == str(demand)
    assert summary["total_labour"] == pytest.approx(float(v @ y), rel=1e-12)


@pytest.mark.parametrize(
    "body, message",
    [
        ("product,quantity\nbread,1\nsteel,7\n",
         "line 3, product 'steel': unknown product: economy 'toy' has no such product"),
        ("product,quantity\nbread,1\ncoal,abc\n",
         "line 3, column 'quantity', product 'coal': text 'abc' in a numeric cell"),
        ("product,quantity\nbread,1\nbread,2\n",
         "line 3, product 'bread': duplicate row label 'bread' (lines 2, 3)"),
        ("product,quantity\nbread,\n",
         "line 2, column 'quantity', product 'bread': empty cell: a number is required"),
        ("item,amount\nbread,1\n",
         "line 1: header is 'item,amount'; a demand file starts with 'product,quantity'"),
    ],
)
def test_bad_demand_file(runner: CliRunner, toy: Path, tmp_path: Path, body: str, message: str) -> None:
    demand = _write(tmp_path / "demand.csv", body)
    out = tmp_path / "o"
    result = runner.invoke(app, ["balance", str(toy), "--demand", str(demand), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {demand}, {message}\n"
    assert not out.exists()


def test_missing_demand_file(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["balance", str(toy), "--demand", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path / 'nope.csv'}: file not found\n"


def test_error_leaves_an_existing_out_dir_untouched(runner: CliRunner, toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert runner.invoke(app, ["balance", str(toy), "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    demand = _write(tmp_path / "demand.csv", "product,quantity\nsteel,1\n")
    result = runner.invoke(app, ["balance", str(toy), "--demand", str(demand), "--out", str(out)])
    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unproductive_economy_names_its_products(runner: CliRunner, tmp_path: Path) -> None:
    A = np.array([[0.5, 0.0, 0.0], [0.0, 0.6, 0.7], [0.0, 0.8, 0.5]])  # {b, c} cannot reproduce itself
    eco = gosplan.Economy.from_coefficients(A, products=["a", "b", "c"], y=[1.0, 1.0, 1.0], l=[1.0, 1.0, 1.0],
                                            name="broken")
    path = write_directory(eco, tmp_path / "broken")
    out = tmp_path / "o"
    result = runner.invoke(app, ["balance", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "not productive" in result.stderr
    assert result.stderr.endswith(": b, c\n")
    assert not out.exists()


def test_unknown_economy(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["balance", "no-such-economy"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "no-such-economy" in result.stderr


def test_bad_table_names_file_and_line(runner: CliRunner, toy: Path) -> None:
    technology = toy / "technology.csv"
    lines = technology.read_text().splitlines()
    fields = lines[2].split(",")
    fields[-1] = "n/a"
    lines[2] = ",".join(fields)
    technology.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["balance", str(toy)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {technology}")
    assert "line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_real_dataset_with_warnings_keeps_stdout_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["balance", "us-2022", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["economy"] == "us-2022"
    assert summary["products"] == 73
    assert summary["relative_residual"] <= 1e-10
    assert summary["total_labour"] > 0
    assert summary["economy_metadata"]["licence"]
    for line in result.stderr.splitlines():  # warnings: one line each, no source echo
        assert line.startswith("warning: ")


# ---------------------------------------------------------------------------- datasets
def test_datasets_lists_all_with_licence(runner: CliRunner) -> None:
    from gosplan.datasets import list_datasets

    names = [d.name for d in list_datasets()]
    assert {"us-2017", "us-2022", "wiod-2011", "uk-2015", "pymrio-test", "cockshott-example"} <= set(names)
    result = runner.invoke(app, ["datasets", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["name"] for r in records] == names
    for record in records:
        assert record["licence"], record["name"]
        assert record["source"], record["name"]
    text = runner.invoke(app, ["datasets"], env={"COLUMNS": "200"})
    assert text.exit_code == 0
    for name in names:
        assert name in text.stdout
    assert "licence:" in text.stdout


# ---------------------------------------------------------------------------- info
def test_info(runner: CliRunner, toy: Path) -> None:
    result = runner.invoke(app, ["info", str(toy), "--json", "--components"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["products"] == 3
    assert info["nonzeros"] == 7
    assert info["resources"] == ["labour", "co2"]
    assert info["components"] == {"count": 1, "largest": 3, "singletons": 0}
    text = runner.invoke(app, ["info", str(toy)])
    assert text.exit_code == 0
    assert "toy" in text.stdout and "labour, co2" in text.stdout


# ---------------------------------------------------------------------------- convert
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_convert_round_trip(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "cockshott"
    result = runner.invoke(app, ["convert", "cockshott-example", "--out", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert (out / "economy.toml").is_file() and (out / f"technology.{fmt}").is_file()
    original = gosplan.load("cockshott-example")
    copy = read_directory(out)
    assert list(copy.products) == list(original.products)
    np.testing.assert_array_equal(copy.A.toarray(), original.A.toarray())
    np.testing.assert_array_equal(copy.y, original.y)
    np.testing.assert_array_equal(copy.l, original.l)
    # the converted economy balances to the same plan
    a = runner.invoke(app, ["balance", "cockshott-example", "--json"])
    b = runner.invoke(app, ["balance", str(out), "--json"])
    assert json.loads(a.stdout)["total_labour"] == json.loads(b.stdout)["total_labour"]


def test_convert_refuses_to_overwrite(runner: CliRunner, toy: Path) -> None:
    result = runner.invoke(app, ["convert", "cockshott-example", "--out", str(toy)])
    assert result.exit_code == 1
    assert result.stderr == f"error: {toy} already holds an economy (economy.toml); pass --overwrite to replace it\n"
    assert read_directory(toy).n_products == 3
    result = runner.invoke(app, ["convert", "cockshott-example", "--out", str(toy), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert read_directory(toy).n_products == 4


# ---------------------------------------------------------------------------- synth
def test_synth_then_balance(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "syn"
    result = runner.invoke(
        app, ["synth", "--products", "1500", "--inputs", "6", "--seed", "3", "--out", str(out), "--format", "csv",
              "--spectral-radius", "0.6"],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"wrote {out} (1,500 products")
    plan_dir = tmp_path / "plan"
    result = runner.invoke(app, ["balance", str(out), "--out", str(plan_dir), "--json", "--method", "scc-gs"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["products"] == 1500
    assert summary["relative_residual"] <= 1e-10
    from gosplan.synth import generate

    eco = generate(1500, 6, seed=3, spectral_radius=0.6)
    expected = gosplan.balance(eco, method="dense")
    plan = pd.read_csv(plan_dir / "plan.csv")
    np.testing.assert_allclose(plan["gross_output"], expected.gross_output, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(plan["labour_value"], expected.labour_values, rtol=1e-8, atol=1e-12)


def test_synth_rejects_bad_spectral_radius(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "-n", "10", "-o", str(tmp_path / "s"), "--spectral-radius", "1.2"])
    assert result.exit_code == 2
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------- the real executable
def test_installed_entry_point(toy: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("gosplan")
    if not exe.exists():
        pytest.skip("the gosplan entry point is not installed next to this Python")
    out = tmp_path / "o"
    proc = subprocess.run(
        [str(exe), "balance", str(toy), "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "solved"
    assert (out / "plan.csv").is_file()
    bad = subprocess.run([str(exe), "balance", str(tmp_path / "missing")], capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    usage = subprocess.run([str(exe), "balance"], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
    assert usage.returncode == 2


def test_warnings_name_bundled_files_without_the_install_path(runner: CliRunner) -> None:
    """The bundled UK table's data-quirk warnings named each file by the absolute path of the
    install (site-packages/...); they name it from the datasets folder."""
    from gosplan.cli.app import _BUNDLED

    done = runner.invoke(app, ["balance", "uk-2015", "--json"])
    assert done.exit_code == 0, done.output
    assert "warning: bundled uk_ons_2015/domesticiot.csv.gz:" in done.stderr
    assert _BUNDLED not in done.stderr and _BUNDLED.rstrip("/") not in done.stderr


def test_cost_plan_says_what_it_weighs(runner: CliRunner) -> None:
    """pymrio's test MRIO has no labour: the cost objective weighs its first resource, Value
    Added, by default. The result and the report say so; the objective is that resource's use."""
    eco = gosplan.load("pymrio-test")
    res = gosplan.plan(eco, objective="cost")
    assert res.detail["cost_weights"] == {"Value Added": 1.0}
    used = dict(zip(map(str, res.resources), res.resource_use))
    assert res.objective == pytest.approx(used["Value Added"], rel=1e-9)
    done = runner.invoke(app, ["plan", "pymrio-test", "--objective", "cost"], env={"COLUMNS": "120"})
    assert done.exit_code == 0, done.output
    assert "cost: 1 × Value Added" in done.stdout


def test_plan_with_committed_demand(runner: CliRunner, tmp_path: Path) -> None:
    """`--committed FILE`: final demand met before the targets, as the API's `committed=`. The
    plan ray against the LP written here: max z s.t. (I - A) x >= c + z y, l x <= L, x >= 0."""
    from scipy.optimize import linprog

    eco = gosplan.load("cockshott-example")
    committed = {"corn": 2.0, "coal": -0.1}  # coal partly imported
    path = tmp_path / "committed.csv"
    path.write_text("product,quantity\n" + "".join(f"{k},{v}\n" for k, v in committed.items()))
    resources = tmp_path / "resources.csv"
    resources.write_text("resource,available\nlabour,1.5\n")
    done = runner.invoke(app, ["plan", "cockshott-example", "--committed", str(path), "--resources", str(resources),
                               "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["inputs"]["committed"] == str(path)

    n = eco.n_products
    A = (eco.use @ np.linalg.inv(eco.make.toarray())) if eco.make is not None else eco.use.toarray()
    A = np.asarray(A.toarray() if hasattr(A, "toarray") else A)
    l = np.asarray(eco.primary.toarray() if hasattr(eco.primary, "toarray") else eco.primary)[0]
    y = np.asarray(eco.y).reshape(-1)
    c = np.array([committed.get(str(p), 0.0) for p in eco.products])
    # variables (x, z): minimise -z; -(I - A) x + z y <= -c; l x <= 1.5
    A_ub = np.vstack([np.hstack([-(np.eye(n) - A), y[:, None]]), np.concatenate([l, [0.0]])[None, :]])
    b_ub = np.concatenate([-c, [1.5]])
    ref = linprog(np.concatenate([np.zeros(n), [-1.0]]), A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    assert ref.status == 0
    assert summary["objective"] == pytest.approx(-ref.fun, rel=1e-7)
    api = gosplan.plan(eco, committed=committed, resources={"labour": 1.5})
    assert api.objective == pytest.approx(-ref.fun, rel=1e-9)
    for extra, flag in ((["--decompose"], "--committed"), (["--years", "2"], "--committed")):
        refused = runner.invoke(app, ["plan", "cockshott-example", "--committed", str(path), *extra])
        assert refused.exit_code == 2 and flag in refused.stderr, refused.output


def test_tables_in_a_pipe_are_not_wrapped_at_80_columns():
    """Written to a pipe or a file (CliRunner's output is not a terminal), a table row stays on
    one line (us-2022's second resource's name ran over five lines at rich's 80 columns);
    ``COLUMNS`` still sets the width."""
    name = "Taxes on production and imports, less subsidies"
    wide = CliRunner().invoke(app, ["plan", "us-2022"], env={"COLUMNS": None})
    assert wide.exit_code == 0, wide.output
    row = next(line for line in wide.output.splitlines() if "V002" in line)
    assert name in row and "unlimited" in row
    narrow = CliRunner().invoke(app, ["plan", "us-2022"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert name not in narrow.output  # wrapped within its cell
    assert max(len(line) for line in narrow.output.splitlines() if "│" in line or "V002" in line) <= 80

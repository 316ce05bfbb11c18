"""``gosplan plan ECONOMY --years T`` with --priorities, --resources, --costs and --objective cost:
the CLI's plan equals :func:`gosplan.plan_years` called with the same mappings, and bad files
are reported naming the file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

import gosplan
from gosplan.cli.app import app
from gosplan.io.horizon_directory import write_horizon_directory
from gosplan.model.economy import Economy

runner = CliRunner()
ENERGY = np.array([1.0, 0.5, 2.0, 1.5])  # energy per unit of iron, coal, corn, bread


def plan(*args: str):
    return runner.invoke(app, ["plan", *args, "--json"])


def summary_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_resources(tmp_path_factory) -> Path:
    """Cockshott's example with a second primary resource, energy, and a third of his targets
    (met in full within his stocks: the cost objective has a plan), as a gosplan directory."""
    h = gosplan.load_horizon("cockshott-example")
    eco = h.economy
    primary = sp.csr_array(np.vstack([h.labour_coefficients, ENERGY]))
    eco2 = Economy.from_coefficients(eco.use, products=list(eco.products), primary=primary,
                                     resources=["labour", "energy"], recorded_output=h.base_output)
    out = tmp_path_factory.mktemp("horizon") / "energy"
    write_horizon_directory(replace(h, economy=eco2, targets=h.targets / 3), out)
    return out


def test_priorities_and_resources_match_plan_years(tmp_path: Path) -> None:
    prio = write(tmp_path / "prio.csv", "product,class\nbread,1\niron,2\n")
    res = write(tmp_path / "res.csv", "resource,year1,year2\nlabour,2.5,2.6\n")
    s = summary_of(plan("cockshott-example", "--years", "2", "--priorities", str(prio), "--resources", str(res),
                        "--method", "highs"))
    ref = gosplan.plan_years("cockshott-example", years=2, priorities={"bread": 1, "iron": 2},
                             resources={"labour": [2.5, 2.6]}, method="highs")
    assert s["status"] == "optimal"
    assert s["objective"] == pytest.approx(ref.objective, abs=1e-9)
    for t, year in enumerate(ref.years):
        assert s["fulfilment"][year] == pytest.approx(ref.fulfilment[t], abs=1e-9)
        assert s["labour"][year]["supply"] == pytest.approx([2.5, 2.6][t], abs=1e-12)
        for k, z in ref.class_fulfilment.items():
            assert s["class_fulfilment"][str(k)][year] == pytest.approx(z[t], abs=1e-9, nan_ok=True)
    assert s["inputs"] == {"priorities": str(prio), "resources": str(res)}
    # the rich report shows each class's ray
    text = runner.invoke(app, ["plan", "cockshott-example", "--years", "2", "--priorities", str(prio)])
    assert text.exit_code == 0, text.output
    assert "class 1" in text.stdout and "class 3" in text.stdout
    # and so does the HTML report, one row per class
    html = ref.to_html()
    assert "<h3>Priority classes</h3>" in html
    assert all(f"<td>class {k}</td>" in html for k in ref.class_fulfilment)


def test_cost_objective_and_per_year_resources_match_plan_years(two_resources: Path, tmp_path: Path) -> None:
    costs = write(tmp_path / "costs.csv", "resource,cost\nlabour,1\nenergy,0.5\n")
    res = write(tmp_path / "res.csv", "resource,year1,year2\nenergy,3.5,3.3\n")
    out = tmp_path / "out"
    s = summary_of(plan(str(two_resources), "--years", "2", "--objective", "cost", "--costs", str(costs),
                        "--resources", str(res), "--method", "highs", "--out", str(out)))
    ref = gosplan.plan_years(str(two_resources), years=2, objective="cost", costs={"labour": 1.0, "energy": 0.5},
                             resources={"energy": [3.5, 3.3]}, method="highs")
    assert ref.status.value == s["status"] == "optimal", ref.message
    assert s["objective_kind"] == "cost"
    assert s["objective"] == pytest.approx(ref.objective, abs=1e-9)
    # the cost is what the plan's levels use, weighed: labour + 0.5 energy
    cost = float((ref.labour_use.sum() + 0.5 * ref.resource_use.sum()))
    assert s["objective"] == pytest.approx(cost, rel=1e-9)
    for t, year in enumerate(ref.years):
        assert s["resources"]["energy"][year]["supply"] == [3.5, 3.3][t]
        assert s["resources"]["energy"][year]["used"] == pytest.approx(ref.resource_use[0, t], abs=1e-9)
        assert s["resources"]["energy"][year]["used"] <= [3.5, 3.3][t] * (1 + 1e-9)
    products = (out / "products.csv").read_text().splitlines()
    assert products[0].startswith("year,product")
    assert json.loads((out / "summary.json").read_text())["inputs"] == {"resources": str(res), "costs": str(costs)}
    html = (out / "report.html").read_text()
    assert "<h3>Other resources</h3>" in html and "<td>energy</td><td>available</td>" in html
    # one amount every year: the same as one column per year with that amount
    same = write(tmp_path / "same.csv", "resource,available\nenergy,3.3\n")
    each = write(tmp_path / "each.csv", "resource,year1,year2\nenergy,3.3,3.3\n")
    a = summary_of(plan(str(two_resources), "--years", "2", "--resources", str(same), "--method", "highs"))
    b = summary_of(plan(str(two_resources), "--years", "2", "--resources", str(each), "--method", "highs"))
    assert a["objective"] == pytest.approx(b["objective"], abs=1e-12)
    text = runner.invoke(app, ["plan", str(two_resources), "--years", "2", "--resources", str(same)])
    assert text.exit_code == 0, text.output
    assert "Other resources" in text.stdout and "energy" in text.stdout


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("years.csv", "resource,year1\nlabour,2.5\n", "1 year column(s)"),
        ("labels.csv", "resource,y1,y2\nlabour,2.5,2.6\n", "not the plan's years"),
        ("negative.csv", "resource,available\nlabour,-1\n", "line 2, resource 'labour'"),
        ("unknown.csv", "resource,year1,year2\nlabour,1,1\ncoal,1,1\n", "line 3, resource 'coal'"),
    ],
)
def test_bad_resources_file_names_the_file(tmp_path: Path, name: str, text: str, says: str) -> None:
    path = write(tmp_path / name, text)
    result = plan("cockshott-example", "--years", "2", "--resources", str(path))
    assert result.exit_code == 1
    assert str(path) in result.stderr and says in result.stderr


def test_bad_priorities_and_costs_files(tmp_path: Path) -> None:
    half = write(tmp_path / "half.csv", "product,class\nbread,1.5\n")
    result = plan("cockshott-example", "--years", "2", "--priorities", str(half))
    assert result.exit_code == 1 and str(half) in result.stderr and "line 2" in result.stderr
    unknown = write(tmp_path / "unknown.csv", "resource,cost\nlabour,1\nsteam,2\n")
    result = plan("cockshott-example", "--years", "2", "--objective", "cost", "--costs", str(unknown))
    assert result.exit_code == 1 and str(unknown) in result.stderr and "'steam'" in result.stderr


def test_refusals(tmp_path: Path) -> None:
    costs = write(tmp_path / "costs.csv", "resource,cost\nlabour,1\n")
    result = plan("cockshott-example", "--years", "2", "--costs", str(costs))
    assert result.exit_code == 2 and "--objective cost" in result.output and "Traceback" not in result.output
    prio = write(tmp_path / "prio.csv", "product,class\nbread,1\n")
    result = plan("cockshott-example", "--years", "2", "--objective", "harmony", "--priorities", str(prio))
    assert result.exit_code == 2 and "--priorities" in result.output
    targets = write(tmp_path / "targets.csv", "product,quantity\nbread,1\n")
    result = plan("cockshott-example", "--years", "2", "--targets", str(targets))
    assert result.exit_code == 2 and "is for single-year plans" in result.output

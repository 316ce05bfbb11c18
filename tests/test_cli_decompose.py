"""``gosplan plan ECONOMY --decompose``: --coordination and --priorities against
:func:`gosplan.plan_decomposed` called directly on the economy read back from its directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import gosplan
from gosplan.cli.app import app
from gosplan.decompose import plan_decomposed
from gosplan.results import Status

TOL = 1e-8
runner = CliRunner()


@pytest.fixture(scope="module")
def economy(tmp_path_factory) -> Path:
    """60 products, about 4 enterprises each, 4 ministries, written by ``gosplan synth``."""
    where = tmp_path_factory.mktemp("cli-decompose") / "eco"
    done = runner.invoke(app, ["synth", "-n", "60", "--enterprises", "4", "--ministries", "4", "--seed", "1",
                               "-f", "csv", "--out", str(where)])
    assert done.exit_code == 0, done.output
    return where


def _cli(economy: Path, *args: str) -> dict:
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--tol", str(TOL), "--json", *args])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_coordination_choices_equal_the_librarys():
    from gosplan.cli.choices import DECOMPOSE_COORDINATIONS
    from gosplan.decompose import COORDINATIONS

    assert DECOMPOSE_COORDINATIONS == COORDINATIONS


def test_coordination_marginal_and_aggregation_match_the_library(economy, tmp_path):
    eco = gosplan.load(str(economy))
    z = {}
    for coordination in ("aggregation", "marginal"):
        out = tmp_path / coordination
        summary = _cli(economy, "--coordination", coordination, "--out", str(out))
        api = plan_decomposed(eco, coordination=coordination, tol=TOL)
        assert api.status is Status.OPTIMAL and summary["status"] == "optimal"
        assert summary["coordination"] == coordination
        assert abs(summary["objective"] - api.objective) <= 1e-9 * api.objective
        z[coordination] = summary["objective"]
        written = json.loads((out / "summary.json").read_text())
        assert written["coordination"] == coordination and written["objective"] == summary["objective"]
        plan = pd.read_csv(out / "plan.csv")
        gross = api.plan.gross_output if api.plan is not None else api.gross_output
        np.testing.assert_allclose(plan["gross_output"], gross, rtol=1e-9, atol=1e-12)
        # The enterprises' targets sum, with what products without enterprises make, to x.
        targets = pd.read_csv(out / "enterprises.csv")
        np.testing.assert_allclose(targets["target"], api.enterprise_output, rtol=1e-9, atol=1e-12)
        assert (out / "breakdown" / "ministries.csv").exists() and (out / "breakdown" / "allocations.csv").exists()
    # marginal: no LP, so its plan table is x and the net output x - U 1 of the enterprises'
    # own techniques: gross output less every input allocated to the enterprises (not (I - A) x,
    # whose A is the table's average technique)
    assert api.plan is None
    alloc = pd.read_csv(tmp_path / "marginal" / "breakdown" / "allocations.csv")
    used = alloc[alloc["kind"] == "product"].groupby("input")["quantity"].sum()
    inputs = used.reindex(plan["product"].astype(str)).fillna(0.0).to_numpy()
    np.testing.assert_allclose(plan["net_output"], gross - inputs, rtol=1e-9, atol=1e-9)
    # ... which makes the plan's ray of the targets
    y = np.asarray(eco.y, dtype=float)
    assert (plan["net_output"].to_numpy() >= z["marginal"] * y - 1e-7 * (1 + np.abs(y))).all()
    # Both coordinations certify the same enterprise-level optimum to the tolerance.
    assert abs(z["marginal"] - z["aggregation"]) <= 2 * TOL * z["aggregation"]
    # The rich report names the coordination.
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--coordination", "marginal"])
    assert done.exit_code == 0, done.output
    assert "coordination" in done.output and "marginal" in done.output


def test_priorities_with_decompose_match_the_library(economy, tmp_path):
    eco = gosplan.load(str(economy))
    classes = tmp_path / "classes.csv"
    pd.DataFrame({"product": eco.products[:20].astype(str), "class": 1}).to_csv(classes, index=False)
    summary = _cli(economy, "--priorities", str(classes))
    api = plan_decomposed(eco, priorities=classes, tol=TOL)
    assert api.status is Status.OPTIMAL and summary["status"] == "optimal"
    assert len(api.class_z) == 2 and summary["class_z"] == {str(k): v for k, v in api.class_z.items()}
    assert abs(summary["objective"] - api.objective) <= 1e-9 * abs(api.objective)
    assert summary["inputs"] == {"priorities": str(classes)}


def test_refusals(economy):
    done = runner.invoke(app, ["plan", str(economy), "--coordination", "marginal"])
    assert done.exit_code == 2 and "only with --decompose" in done.output
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--coordination", "marginal", "-O", "cost"])
    assert done.exit_code == 1 and "coordination='marginal' does not apply" in done.output
    assert "fulfilment objective only" in done.output and "Traceback" not in done.output
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--coordination", "marginal", "-m", "highs"])
    assert done.exit_code == 2 and "solves no LP" in done.output
    classes = Path(economy).parent / "two-classes.csv"
    classes.write_text("product,class\nu00,1\n")
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--coordination", "marginal",
                               "--priorities", str(classes)])
    assert done.exit_code == 1 and "one priority class" in done.output and "Traceback" not in done.output
    weights = Path(economy) / "products.csv"  # any file: --weights is refused before it is read
    done = runner.invoke(app, ["plan", str(economy), "--decompose", "--weights", str(weights)])
    assert done.exit_code == 2 and "--weights" in done.output

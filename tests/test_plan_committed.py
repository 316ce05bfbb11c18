"""Committed final demand: ``N x >= committed + z y`` against the same plan written without it."""

from __future__ import annotations

import numpy as np
import pytest

import gosplan

pytestmark = pytest.mark.filterwarnings("ignore::gosplan.GosplanWarning")


@pytest.mark.parametrize("method", ["highs", "pdhg"])
def test_half_committed_is_the_full_ray_shifted(method):
    """Committing half the demand and targeting the other half: ``0.5 + 0.5 z' = z``."""
    economy = gosplan.load("us-2022")
    y = np.maximum(economy.y, 0.0)
    floors = np.minimum(economy.y, 0.0)
    full = gosplan.plan(economy, targets=y, floors=floors, method="highs")
    # Net imports (negative demand) committed as they are: N x >= committed there too.
    half = gosplan.plan(economy, targets=y / 2, committed=y / 2 + floors, floors=floors, method=method)
    assert half.success, half.message
    z, z_half = full.class_fulfilment[1], half.class_fulfilment[1]
    assert abs(0.5 + 0.5 * z_half - z) <= 1e-5 * z
    # Fulfilment is measured net of the committed demand.
    np.testing.assert_allclose(np.nanmin(half.fulfilment), z_half, rtol=1e-5)


def test_committed_cost_plan_equals_the_summed_targets():
    economy = gosplan.load("us-2022")
    y = np.maximum(economy.y, 0.0) * 0.9
    floors = np.minimum(economy.y, 0.0)
    a = gosplan.plan(economy, targets=y, floors=floors, objective="cost", method="highs")
    b = gosplan.plan(economy, targets=y * 0.4, committed=y * 0.6 + floors, floors=floors, objective="cost",
                     method="highs")
    assert a.success and b.success
    assert abs(a.objective - b.objective) <= 1e-7 * abs(a.objective)


def test_committed_must_be_finite_and_known():
    economy = gosplan.load("us-2022")
    with pytest.raises(gosplan.InvalidEconomyError, match="no-such-product"):
        gosplan.plan(economy, committed={"no-such-product": 1.0})
    bad = np.zeros(economy.n_products)
    bad[0] = np.inf
    with pytest.raises(gosplan.InvalidEconomyError):
        gosplan.plan(economy, committed=bad)

"""Two-level planning (Kornai–Lipták's centre and sectors; Dantzig–Wolfe with aggregated
proposals): the centre plans over the ministries' reports, the ministries price their
enterprises at the centre's prices and report back, on Dask ``distributed`` or in-process."""

from gosplan.decompose.result import DecomposedPlan, Round
from gosplan.decompose.solve import COORDINATIONS, METHODS, plan_decomposed

__all__ = ["plan_decomposed", "DecomposedPlan", "Round", "METHODS", "COORDINATIONS"]

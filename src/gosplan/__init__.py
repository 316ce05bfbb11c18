"""gosplan: economic planning from input-output data.

Quick use::

    import gosplan
    eco = gosplan.load("us-2017")          # a bundled real economy
    res = gosplan.balance(eco)             # (I - A) x = y and v = l (I - A)^-1
    res.to_frame().head()
    opt = gosplan.plan(eco, objective="fulfilment")  # Kantorovich's optimal plan
    five = gosplan.plan_years("cockshott-example")   # a five-year plan with capital stocks

Layers: data (:mod:`gosplan.model`, :mod:`gosplan.io`) -> algorithms
(:mod:`gosplan.linalg`, :func:`balance`) -> results (:mod:`gosplan.results`) ->
interfaces (:mod:`gosplan.cli`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gosplan._version import __version__
from gosplan.errors import (
    ConvergenceError,
    GosplanWarning,
    InvalidEconomyError,
    NotProductiveError,
    PlanningError,
    TableFormatError,
    UnknownProductError,
)
from gosplan.model import Economy, EconomyMeta, Horizon
from gosplan.results import BalanceResult, SolveInfo, Status

if TYPE_CHECKING:  # pragma: no cover
    from gosplan.material_balance import balance
    from gosplan.io.load import load
    from gosplan.io.load_horizon import load_horizon
    from gosplan.multiyear import MultiYearPlanResult, plan_years
    from gosplan.planning import PlanResult, plan
    from gosplan.hierarchy import aggregate, breakdown
    from gosplan.decompose import DecomposedPlan, plan_decomposed
    from gosplan.model import Hierarchy
    from gosplan.cycle import Simulation, simulate
    from gosplan.execution import Behaviour, Execution, RandomShocks, execute, read_shocks
    from gosplan.model.households import Households
    from gosplan.io.households import load_households

__all__ = [
    "__version__",
    "Economy",
    "EconomyMeta",
    "BalanceResult",
    "SolveInfo",
    "Status",
    "balance",
    "load",
    "plan",
    "PlanResult",
    "plan_years",
    "MultiYearPlanResult",
    "load_horizon",
    "Horizon",
    "aggregate",
    "breakdown",
    "plan_decomposed",
    "simulate",
    "Simulation",
    "execute",
    "Execution",
    "Behaviour",
    "RandomShocks",
    "read_shocks",
    "Households",
    "load_households",
    "DecomposedPlan",
    "Hierarchy",
    "PlanningError",
    "InvalidEconomyError",
    "TableFormatError",
    "UnknownProductError",
    "NotProductiveError",
    "ConvergenceError",
    "GosplanWarning",
]


def __getattr__(name: str) -> Any:  # lazy: keep `import gosplan` light (no numba JIT at import)
    if name == "balance":
        from gosplan.material_balance import balance

        return balance
    if name == "load":
        from gosplan.io.load import load

        return load
    if name in ("plan", "PlanResult"):
        import gosplan.planning as _plan

        return getattr(_plan, name)
    if name in ("plan_years", "MultiYearPlanResult"):
        import gosplan.multiyear as _multiyear

        return getattr(_multiyear, name)
    if name in ("aggregate", "breakdown"):
        import gosplan.hierarchy as _hierarchy

        return getattr(_hierarchy, name)
    if name in ("plan_decomposed", "DecomposedPlan"):
        import gosplan.decompose as _decompose

        return getattr(_decompose, name)
    if name in ("simulate", "Simulation"):
        import gosplan.cycle as _cycle

        return getattr(_cycle, name)
    if name in ("execute", "Execution", "Behaviour", "RandomShocks", "read_shocks"):
        import gosplan.execution as _execution

        return getattr(_execution, name)
    if name in ("Households", "load_households"):
        if name == "Households":
            from gosplan.model.households import Households

            return Households
        from gosplan.io.households import load_households

        return load_households
    if name == "Hierarchy":
        from gosplan.model import Hierarchy

        return Hierarchy
    if name == "load_horizon":
        from gosplan.io.load_horizon import load_horizon

        return load_horizon
    raise AttributeError(f"module 'gosplan' has no attribute {name!r}")

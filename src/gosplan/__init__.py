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

if TYPE_CHECKING:  # pragma: no cover
    from gosplan.model import Economy, EconomyMeta, Horizon
    from gosplan.results import BalanceResult, SolveInfo, Status
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


#: Public name -> (module, attribute): imported on first use (PEP 562), so that
#: ``import gosplan`` and the ``gosplan`` command's start-up (``--help``, ``--version``)
#: load neither numpy, pandas, scipy nor numba (docs/cli.md, "Start-up").
_LAZY: dict[str, tuple[str, str]] = {
    "Economy": ("gosplan.model.economy", "Economy"),
    "EconomyMeta": ("gosplan.model.economy", "EconomyMeta"),
    "Horizon": ("gosplan.model.horizon", "Horizon"),
    "Hierarchy": ("gosplan.model.hierarchy", "Hierarchy"),
    "BalanceResult": ("gosplan.results", "BalanceResult"),
    "SolveInfo": ("gosplan.results", "SolveInfo"),
    "Status": ("gosplan.results", "Status"),
    "balance": ("gosplan.material_balance", "balance"),
    "load": ("gosplan.io.load", "load"),
    "load_horizon": ("gosplan.io.load_horizon", "load_horizon"),
    "plan": ("gosplan.planning", "plan"),
    "PlanResult": ("gosplan.planning", "PlanResult"),
    "plan_years": ("gosplan.multiyear", "plan_years"),
    "MultiYearPlanResult": ("gosplan.multiyear", "MultiYearPlanResult"),
    "aggregate": ("gosplan.hierarchy", "aggregate"),
    "breakdown": ("gosplan.hierarchy", "breakdown"),
    "plan_decomposed": ("gosplan.decompose", "plan_decomposed"),
    "DecomposedPlan": ("gosplan.decompose", "DecomposedPlan"),
    "simulate": ("gosplan.cycle", "simulate"),
    "Simulation": ("gosplan.cycle", "Simulation"),
    "execute": ("gosplan.execution", "execute"),
    "Execution": ("gosplan.execution", "Execution"),
    "Behaviour": ("gosplan.execution", "Behaviour"),
    "RandomShocks": ("gosplan.execution", "RandomShocks"),
    "read_shocks": ("gosplan.execution", "read_shocks"),
    "Households": ("gosplan.model.households", "Households"),
    "load_households": ("gosplan.io.households", "load_households"),
}


#: Submodules ``import gosplan`` used to import (``gosplan.model.Economy`` after a bare
#: ``import gosplan`` keeps working): imported on first access too.
_LAZY_MODULES = frozenset({"model", "results"})


def __getattr__(name: str) -> Any:  # lazy: keep `import gosplan` light (no numpy, pandas, numba)
    from importlib import import_module

    if name in _LAZY_MODULES:
        return import_module(f"gosplan.{name}")
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'gosplan' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

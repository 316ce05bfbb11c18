"""Plans carried out: enterprises executing plans under shocks, shortages that spread, the
regimes of the planned economy compared (:func:`execute`).

Layers: :mod:`~gosplan.execution.producers` (enterprises as arrays),
:mod:`~gosplan.execution.fixed_point` (outputs under shortages),
:mod:`~gosplan.execution.period` (one period's flows and the material balance),
:mod:`~gosplan.execution.behaviour`, :mod:`~gosplan.execution.shocks`,
:mod:`~gosplan.execution.run` (the regimes), :mod:`~gosplan.execution.result`.
"""

from gosplan.execution.behaviour import REPORTING, Behaviour
from gosplan.execution.fixed_point import FixedPoint, greatest_fixed_point
from gosplan.execution.producers import Producers
from gosplan.execution.result import Execution
from gosplan.execution.run import REGIMES, ExecutionError, execute
from gosplan.execution.shocks import FileShocks, NoShocks, RandomShocks, Shocks, read_shocks

__all__ = [
    "execute", "Execution", "ExecutionError", "REGIMES", "Behaviour", "REPORTING", "Producers",
    "greatest_fixed_point", "FixedPoint", "Shocks", "RandomShocks", "FileShocks", "NoShocks", "read_shocks",
]

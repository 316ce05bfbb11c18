"""The plan cycle: plan, sell to households, revise, period after period (``docs/consumers.md``).

:func:`simulate` runs it; :class:`Simulation` holds every period's tables.
"""

from gosplan.cycle.result import Simulation
from gosplan.cycle.simulate import RULES, simulate

__all__ = ["simulate", "Simulation", "RULES"]

"""Optimal plans (Kantorovich, Cockshott) and the prices that come with them."""

from gosplan.planning.optimal import METHODS, plan
from gosplan.planning.problem import OBJECTIVES, PlanProblem, planning_problem
from gosplan.planning.result import InfeasiblePlanError, PlanResult, Stage, UnboundedPlanError

__all__ = [
    "plan",
    "METHODS",
    "OBJECTIVES",
    "PlanProblem",
    "planning_problem",
    "PlanResult",
    "Stage",
    "InfeasiblePlanError",
    "UnboundedPlanError",
]

"""Typed results returned by gosplan's algorithms.

Every solver returns one frozen dataclass carrying the solution, a :class:`Status`,
a message, the residuals gosplan checked itself after the solve, the method,
iteration count and timings.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gosplan.errors import ConvergenceError

__all__ = ["Status", "SolveInfo", "BalanceResult"]


class Status(str, enum.Enum):
    """Outcome of a solve."""

    SOLVED = "solved"
    """Converged; gosplan's own residual check passed."""
    NOT_CONVERGED = "not_converged"
    """Stopped at the iteration limit or stagnated above the tolerance."""
    OPTIMAL = "optimal"
    """An optimal plan; gosplan's own feasibility and duality-gap check passed."""
    INFEASIBLE = "infeasible"
    """No plan meets every constraint (the message names the conflicting ones)."""
    UNBOUNDED = "unbounded"
    """The objective grows without limit: nothing bounds the plan."""
    ITERATION_LIMIT = "iteration_limit"
    """Stopped at the iteration limit; the plan is the last iterate, with its gap."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit; the plan is the last iterate, with its gap."""
    NUMERICAL_ERROR = "numerical_error"
    """The backend claimed success but gosplan's own check failed, or it broke down."""


@dataclass(frozen=True)
class SolveInfo:
    """How one linear system ``(I - A) x = y`` or ``(I - A)^T v = l`` was solved.

    ``relative_residual`` is ``max_k ||(I - A) X_k - B_k||_2 / ||B_k||_2`` over the
    right-hand sides ``k``, recomputed by gosplan after the solve (not taken from the
    iteration). ``components`` and ``largest_component`` describe the strongly
    connected components of the product graph that the solve worked through.
    """

    system: str
    method: str
    iterations: int
    relative_residual: float
    tolerance: float
    seconds: float
    components: int = 1
    largest_component: int = 0
    converged: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "method": self.method,
            "iterations": self.iterations,
            "relative_residual": self.relative_residual,
            "tolerance": self.tolerance,
            "seconds": self.seconds,
            "components": self.components,
            "largest_component": self.largest_component,
            "converged": self.converged,
            **({"detail": self.detail} if self.detail else {}),
        }


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True, eq=False)
class BalanceResult:
    """A material-balance plan: gross output for a final demand, and the values that go with it.

    Attributes
    ----------
    products:
        Product labels.
    final_demand:
        ``y``, the demand the plan meets.
    gross_output:
        ``x`` with ``(I - A) x = y``.
    labour_values:
        ``v = l (I - A)^-1``, labour embodied per unit of each product (``None``
        without a labour resource or when not asked for).
    resources:
        Primary resources (labour first, when present).
    primary_totals:
        ``P x``: use of each primary resource by the plan.
    primary_multipliers:
        ``P (I - A)^-1`` (``r x n``): each resource embodied per unit of final demand.
        Row ``labour`` equals ``labour_values``. ``None`` when not asked for.
    output_multipliers:
        ``1' (I - A)^-1``: gross output of all products per unit of final demand.
        ``None`` when not asked for.
    status, message:
        :class:`Status` and words.
    solves:
        One :class:`SolveInfo` per linear system solved (``"x"``, ``"values"``).
    seconds:
        Wall time of the whole computation (loading excluded).
    """

    economy: str
    products: pd.Index
    final_demand: np.ndarray
    gross_output: np.ndarray
    labour_values: np.ndarray | None
    resources: pd.Index
    primary_totals: np.ndarray
    primary_multipliers: np.ndarray | None
    output_multipliers: np.ndarray | None
    status: Status
    message: str
    solves: tuple[SolveInfo, ...]
    seconds: float
    labour_unit: str = "labour"
    units: str = "units"
    #: the economy's names and units of its resources (:meth:`EconomyMeta.resource_texts`)
    resource_texts: dict[str, dict[str, str]] = field(default_factory=dict)

    # ---------------------------------------------------------------- convenience
    @property
    def success(self) -> bool:
        return self.status is Status.SOLVED

    @property
    def relative_residual(self) -> float:
        """Worst relative residual over all systems solved."""
        return max((s.relative_residual for s in self.solves), default=0.0)

    @property
    def iterations(self) -> int:
        return sum(s.iterations for s in self.solves)

    @property
    def method(self) -> str:
        methods = list(dict.fromkeys(s.method for s in self.solves))
        return "+".join(methods)

    @property
    def total_labour(self) -> float | None:
        """Labour the plan needs, ``l x`` (equal to ``v y``)."""
        if "labour" in self.resources:
            return float(self.primary_totals[self.resources.get_loc("labour")])
        if len(self.resources) and self.labour_values is not None:
            return float(self.primary_totals[0])
        return None

    def raise_for_status(self) -> "BalanceResult":
        """Raise :class:`ConvergenceError` unless the solve converged; return self."""
        if self.status is not Status.SOLVED:
            raise ConvergenceError(self.message)
        return self

    def to_frame(self) -> pd.DataFrame:
        """One row per product: ``product, final_demand, gross_output, labour_value,
        output_multiplier, multiplier_<resource>...``."""
        cols: dict[str, Any] = {
            "product": np.asarray(self.products.astype(str)),
            "final_demand": self.final_demand,
            "gross_output": self.gross_output,
        }
        cols["labour_value"] = (
            self.labour_values if self.labour_values is not None else np.full(len(self.products), np.nan)
        )
        if self.output_multipliers is not None:
            cols["output_multiplier"] = self.output_multipliers
        if self.primary_multipliers is not None:
            for k, r in enumerate(self.resources):
                if str(r) == "labour":
                    continue
                cols[f"multiplier_{r}"] = self.primary_multipliers[k]
        return pd.DataFrame(cols)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (what ``summary.json`` holds)."""
        return {
            "economy": self.economy,
            "status": self.status.value,
            "message": self.message,
            "products": len(self.products),
            "method": self.method,
            "iterations": self.iterations,
            "relative_residual": self.relative_residual,
            "seconds": self.seconds,
            "total_labour": _finite_or_none(self.total_labour) if self.total_labour is not None else None,
            "labour_unit": self.labour_unit,
            "units": self.units,
            "total_final_demand": float(self.final_demand.sum()),
            "total_gross_output": float(self.gross_output.sum()),
            "primary_totals": {str(r): float(t) for r, t in zip(self.resources, self.primary_totals)},
            **self.resource_texts,
            "solves": [s.to_dict() for s in self.solves],
        }

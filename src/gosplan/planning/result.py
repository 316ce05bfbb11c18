"""The optimal plan and the prices that come with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gosplan._json import finite_or_none as _num
from gosplan.errors import PlanningError
from gosplan.results import Status

__all__ = ["PlanResult", "Stage", "InfeasiblePlanError", "UnboundedPlanError"]


class InfeasiblePlanError(PlanningError):
    """No plan meets every constraint."""


class UnboundedPlanError(PlanningError):
    """Nothing bounds the objective."""


def raise_unless_optimal(status: Status, message: str) -> None:
    """:class:`InfeasiblePlanError`, :class:`UnboundedPlanError` or
    :class:`~gosplan.errors.ConvergenceError` (limits, failed checks) unless ``status`` is optimal."""
    from gosplan.errors import ConvergenceError

    if status is Status.OPTIMAL:
        return
    if status is Status.INFEASIBLE:
        raise InfeasiblePlanError(message)
    if status is Status.UNBOUNDED:
        raise UnboundedPlanError(message)
    raise ConvergenceError(message)


def _price_rows(
    kind: str, names: np.ndarray, price: np.ndarray, quantity: np.ndarray, limit: Any,
    binding: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rows of ``prices.csv`` for one kind of price; binding where the price is positive unless given."""
    return pd.DataFrame(
        {
            "kind": kind,
            "name": names,
            "shadow_price": price,
            "quantity": quantity,
            "limit": limit,
            "binding": np.asarray(price) > 0 if binding is None else binding,
        }
    )


@dataclass(frozen=True)
class Stage:
    """One program solved on the way to the plan (a priority class, the over-fulfilment stage...)."""

    name: str
    status: Status
    objective: float
    method: str
    iterations: int
    seconds: float
    max_violation: float
    duality_gap: float
    dual_residual: float
    message: str = ""
    price_error: float = float("nan")
    """Row-by-row error of the stage's prices (:func:`gosplan.optim.check.verify`)."""
    held_shortfall: float = float("nan")
    """For a priority class that later stages hold: how far below its certified optimum (the
    stage's dual bound) it is held, relative; ``NaN`` for a stage nothing holds."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "objective": _num(self.objective),
            "method": self.method,
            "iterations": self.iterations,
            "seconds": self.seconds,
            "max_violation": _num(self.max_violation),
            "duality_gap": _num(self.duality_gap),
            "dual_residual": _num(self.dual_residual),
            "price_error": _num(self.price_error),
            "held_shortfall": _num(self.held_shortfall),
            "message": self.message,
        }


@dataclass(frozen=True, eq=False)
class PlanResult:
    """An optimal plan (or the reason there is none).

    Quantities per product ``i``: ``gross_output = O x``, ``net_output = (O - U) x``,
    ``target`` ``y``, ``fulfilment = f_i / y_i``. Per activity: ``activity_level``
    ``x`` and ``reduced_cost``. Per resource: ``resource_use = P x``,
    ``available``.

    Prices (all ``>= 0``; the gain in the objective per unit relaxed, see
    ``docs/planning.md``): ``shadow_price`` of each product balance (Kantorovich's
    objectively determined valuations), ``resource_price`` of each resource,
    ``capacity_price`` of each product's capacity; ``price_in_labour`` is the
    shadow price divided by labour's (when labour binds); ``labour_value`` and
    ``cost_price`` come from the techniques the plan uses.
    """

    economy: str
    objective_kind: str
    status: Status
    message: str
    objective: float
    products: pd.Index
    activities: pd.Index
    resources: pd.Index
    activity_level: np.ndarray
    gross_output: np.ndarray
    net_output: np.ndarray
    target: np.ndarray
    priority: np.ndarray
    capacity: np.ndarray
    resource_use: np.ndarray
    available: np.ndarray
    shadow_price: np.ndarray
    resource_price: np.ndarray
    capacity_price: np.ndarray
    reduced_cost: np.ndarray
    labour_value: np.ndarray
    cost_price: np.ndarray
    class_fulfilment: dict[int, float]
    max_violation: float
    duality_gap: float
    method: str
    seconds: float
    iterations: int
    stages: tuple[Stage, ...] = ()
    conflict: tuple[str, ...] = ()
    bound_price: np.ndarray | None = None
    units: str = "units"
    labour_unit: str = "labour"
    labour: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    #: the economy's names and units of its resources (:meth:`EconomyMeta.resource_texts`)
    resource_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    committed: np.ndarray | None = None

    # ------------------------------------------------------------------ convenience
    @property
    def success(self) -> bool:
        return self.status is Status.OPTIMAL

    @property
    def fulfilment(self) -> np.ndarray:
        """``(f_i - b_i) / y_i`` for targeted products (``b`` the committed demand, zero
        unless given), ``NaN`` elsewhere."""
        f = self.net_output if self.committed is None else self.net_output - self.committed
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.target > 0, f / self.target, np.nan)

    @property
    def price_in_labour(self) -> np.ndarray:
        """Shadow prices in units of labour (divided by labour's shadow price), ``NaN`` if labour is free."""
        if self.labour is None or not self.resource_price[self.labour] > 0:
            return np.full(len(self.products), np.nan)
        return self.shadow_price / self.resource_price[self.labour]

    def binding_resources(self, tol: float = 1e-9) -> list[str]:
        return [str(r) for r, p in zip(self.resources, self.resource_price) if p > tol]

    def binding_capacities(self, tol: float = 1e-9) -> list[str]:
        return [str(self.products[i]) for i in np.flatnonzero(self.capacity_price > tol)]

    def raise_for_status(self) -> "PlanResult":
        """Raise unless the plan is optimal (infeasible, unbounded, limits, failed checks); return self."""
        raise_unless_optimal(self.status, self.message)
        return self

    # ------------------------------------------------------------------ tables
    def to_frame(self) -> pd.DataFrame:
        """``plan.csv``: one row per product."""
        return pd.DataFrame(
            {
                "product": np.asarray(self.products.astype(str)),
                "gross_output": self.gross_output,
                "net_output": self.net_output,
                "target": self.target,
                "priority": self.priority,
                "fulfilment": self.fulfilment,
                "shadow_price": self.shadow_price,
                "price_in_labour": self.price_in_labour,
                "labour_value": self.labour_value,
                "cost_price": self.cost_price,
                "capacity": self.capacity,
                "capacity_price": self.capacity_price,
            }
        )

    def activities_frame(self) -> pd.DataFrame:
        """One row per activity (technique): level and reduced cost."""
        return pd.DataFrame(
            {
                "activity": np.asarray(self.activities.astype(str)),
                "level": self.activity_level,
                "reduced_cost": self.reduced_cost,
            }
        )

    def prices_frame(self) -> pd.DataFrame:
        """``prices.csv``: every price the centre issues, one row each.

        Columns ``kind`` (``product``, ``resource``, ``floor``, ``ceiling``, ``capacity``,
        ``technique``),
        ``name``, ``shadow_price`` (for techniques: the reduced cost), ``quantity``
        (net output, resource use, gross output, activity level), ``limit``
        (target, available, capacity) and ``binding``.
        """
        products = np.asarray(self.products.astype(str))
        parts = [
            _price_rows("product", products, self.shadow_price, self.net_output, self.target),
            _price_rows(
                "resource", np.asarray(self.resources.astype(str)), self.resource_price,
                self.resource_use, self.available,
            ),
        ]
        if self.bound_price is not None:
            for kind, sign in (("floor", 1.0), ("ceiling", -1.0)):
                rows = np.flatnonzero(sign * np.nan_to_num(self.bound_price) > 0)
                parts.append(
                    _price_rows(kind, products[rows], sign * self.bound_price[rows], self.net_output[rows], np.nan)
                )
        capped = np.flatnonzero(np.isfinite(self.capacity))
        parts.append(
            _price_rows(
                "capacity", products[capped], self.capacity_price[capped], self.gross_output[capped],
                self.capacity[capped],
            )
        )
        parts.append(
            _price_rows(
                "technique", np.asarray(self.activities.astype(str)), self.reduced_cost, self.activity_level,
                np.nan, binding=self.activity_level > 0,
            )
        )
        return pd.concat([p for p in parts if len(p)], ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``summary.json``)."""
        return {
            "economy": self.economy,
            "objective_kind": self.objective_kind,
            "status": self.status.value,
            "message": self.message,
            "objective": _num(self.objective),
            "fulfilment": {str(k): _num(z) for k, z in self.class_fulfilment.items()},
            "duality_gap": _num(self.duality_gap),
            "max_violation": _num(self.max_violation),
            "method": self.method,
            "seconds": self.seconds,
            "iterations": self.iterations,
            "products": len(self.products),
            "activities": len(self.activities),
            "resources": {
                str(r): {"available": _num(a), "used": _num(u), "shadow_price": _num(p)}
                for r, a, u, p in zip(self.resources, self.available, self.resource_use, self.resource_price)
            },
            "binding_resources": self.binding_resources(),
            "binding_capacities": self.binding_capacities()[:100],
            "binding_capacities_count": len(self.binding_capacities()),
            "conflict": list(self.conflict),
            "stages": [s.to_dict() for s in self.stages],
            "units": self.units,
            "labour_unit": self.labour_unit,
            **self.resource_texts,
            **({"detail": self.detail} if self.detail else {}),
        }

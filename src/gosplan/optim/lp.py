"""The problem form every optimisation backend reads, and the solution form it returns.

A :class:`LinearProgram` is

.. math::

    \\min_v \\; c^\\top v + \\sum_{j \\in \\mathcal H} w_j \\, \\phi(v_j) + c_0
    \\quad\\text{s.t.}\\quad r^- \\le K v \\le r^+, \\qquad l \\le v \\le u,

with ``phi(s) = -H(s)`` the negated harmony function of Cockshott,
``H(s) = s - s^2/2`` for ``s < 0`` and ``ln(1 + s)`` for ``s >= 0`` (concave, C^2,
``H(0) = 0``, ``H'(0) = 1``).  Without harmony columns it is a linear program.
Infinite bounds are ``±inf``.

Sign convention of the duals (the same as HiGHS'): with the Lagrangian
``L(v, y) = c'v + ... - y'(K v)``, the reduced costs are ``d = c + phi'(v) - K' y``;
at an optimum ``y_i >= 0`` when row ``i`` sits at its lower bound, ``y_i <= 0``
at its upper bound, ``y_i = 0`` when it is slack; likewise ``d_j >= 0`` at a
column's lower bound and ``d_j <= 0`` at its upper bound. ``y_i`` is the rate at
which the optimal objective grows per unit increase of a binding row bound.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

__all__ = [
    "LinearProgram",
    "LPSolution",
    "LPStatus",
    "harmony",
    "harmony_derivative",
    "Progress",
]


def harmony(s: np.ndarray) -> np.ndarray:
    """Cockshott's harmony ``H(s) = s - s^2/2`` (``s < 0``), ``ln(1 + s)`` (``s >= 0``)."""
    s = np.asarray(s, dtype=np.float64)
    neg = s < 0
    out = np.empty_like(s)
    out[neg] = s[neg] - 0.5 * s[neg] ** 2
    out[~neg] = np.log1p(s[~neg])
    return out


def harmony_derivative(s: np.ndarray) -> np.ndarray:
    """``H'(s) = 1 - s`` (``s < 0``), ``1 / (1 + s)`` (``s >= 0``); positive and decreasing."""
    s = np.asarray(s, dtype=np.float64)
    return np.where(s < 0, 1.0 - s, 1.0 / (1.0 + np.maximum(s, 0.0)))


class LPStatus(str, enum.Enum):
    """What a backend reports (before gosplan's own check)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ITERATION_LIMIT = "iteration_limit"
    TIME_LIMIT = "time_limit"
    NUMERICAL = "numerical_error"


# progress(iteration, primal_residual, dual_residual, relative_gap) -> None
Progress = Callable[[int, float, float, float], None]


@dataclass
class LinearProgram:
    """``min c'v + sum_{j in H} w_j phi(v_j) + c0`` s.t. ``r- <= K v <= r+``, ``l <= v <= u``.

    ``K`` is a CSR matrix (``k x m``). ``harmony_columns`` (int array) and
    ``harmony_weights`` (positive, same length) select the columns with a harmony
    term; leave them ``None`` for a linear program. ``row_names`` and
    ``col_names`` are optional callables ``index -> str`` used in messages.

    ``row_user`` (bool per row, optional) marks the rows that state a number the user
    gave (a target, a held class, a resource's availability, a capacity, a floor or
    ceiling); ``objective_columns`` (int indices) are the program's own variables
    (the plan ray ``z``, harmony deviations). gosplan's check judges a marked row
    against that number, ``1 + max(|bound|, |sum_{j in objective} K_ij v_j|)``,
    rather than against the flows that meet in the row (see
    :func:`gosplan.optim.check.verify`).
    """

    c: np.ndarray
    K: sp.csr_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    offset: float = 0.0
    harmony_columns: np.ndarray | None = None
    harmony_weights: np.ndarray | None = None
    row_names: Callable[[int], str] | None = None
    col_names: Callable[[int], str] | None = None
    row_user: np.ndarray | None = None
    objective_columns: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.K = sp.csr_array(self.K)
        k, m = self.K.shape
        for name, size in (("c", m), ("col_lower", m), ("col_upper", m), ("row_lower", k), ("row_upper", k)):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64).reshape(-1)
            if arr.shape != (size,):
                raise ValueError(f"LinearProgram.{name} has length {arr.size}, expected {size}")
            setattr(self, name, arr)
        if (self.row_lower > self.row_upper).any() or (self.col_lower > self.col_upper).any():
            raise ValueError("LinearProgram has a lower bound above its upper bound")
        if self.harmony_columns is not None:
            self.harmony_columns = np.asarray(self.harmony_columns, dtype=np.int64)
            w = np.ones(self.harmony_columns.size) if self.harmony_weights is None else self.harmony_weights
            self.harmony_weights = np.asarray(w, dtype=np.float64).reshape(-1)
            if self.harmony_weights.shape != self.harmony_columns.shape:
                raise ValueError("harmony_weights must match harmony_columns")
            if (self.harmony_weights <= 0).any():
                raise ValueError("harmony weights must be positive")
        if self.row_user is not None:
            self.row_user = np.asarray(self.row_user, dtype=bool).reshape(-1)
            if self.row_user.shape != (k,):
                raise ValueError(f"LinearProgram.row_user has length {self.row_user.size}, expected {k}")
        if self.objective_columns is not None:
            self.objective_columns = np.asarray(self.objective_columns, dtype=np.int64).reshape(-1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.K.shape  # (rows, columns)

    @property
    def is_linear(self) -> bool:
        return self.harmony_columns is None or self.harmony_columns.size == 0

    def objective(self, v: np.ndarray) -> float:
        """``c'v + sum w phi(v_H) + c0`` at ``v``."""
        val = float(self.c @ v) + self.offset
        if not self.is_linear:
            val -= float(self.harmony_weights @ harmony(v[self.harmony_columns]))
        return val

    def gradient(self, v: np.ndarray) -> np.ndarray:
        """Gradient of the objective at ``v`` (``c`` plus the harmony terms)."""
        g = self.c.copy()
        if not self.is_linear:
            g[self.harmony_columns] -= self.harmony_weights * harmony_derivative(v[self.harmony_columns])
        return g

    def reduced_costs(self, v: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``d = grad(v) - K'y`` (see the module's sign convention)."""
        return self.gradient(v) - self.K.T @ y

    def name_row(self, i: int) -> str:
        return self.row_names(i) if self.row_names else f"row {i}"

    def name_col(self, j: int) -> str:
        return self.col_names(j) if self.col_names else f"column {j}"


@dataclass
class LPSolution:
    """A backend's answer: primal ``v``, row duals ``y``, reduced costs ``d`` (see the module's sign convention).

    ``status`` is what the backend claims; :func:`gosplan.optim.check.verify` decides
    whether gosplan believes it. ``farkas`` holds a dual ray proving infeasibility
    (row multipliers) when the backend found one; ``ray`` a primal ray proving
    unboundedness.
    """

    status: LPStatus
    v: np.ndarray
    y: np.ndarray
    d: np.ndarray
    objective: float
    method: str
    iterations: int
    seconds: float
    message: str = ""
    farkas: np.ndarray | None = None
    ray: np.ndarray | None = None
    detail: dict[str, Any] = field(default_factory=dict)

"""gosplan's own check of a backend's answer, independent of the backend.

For a solution ``(v, y)`` of a :class:`~gosplan.optim.lp.LinearProgram`:

* **violation**: the largest amount by which ``v`` breaks a row or column bound,
  each relative to the size of the numbers that meet there: ``1 + max(|bound|,
  sum_j |K_ij v_j|)`` for row ``i`` (so a balance ``N x - z y >= 0`` between
  flows of a million is judged relative to a million), ``1 + |bound|`` for columns;
* **dual residual**: the part of the reduced costs ``d = grad(v) - K'y`` and of
  ``y`` that has the wrong sign for the bounds that exist (a positive ``d_j`` on a
  column without a lower bound, a positive ``y_i`` on a row without one, ...),
  as ``||.||_2 / (1 + ||c||_2)``; above ``1e-3`` the prices give no bound at
  all and the gap is infinite;
* **duality gap**: ``|P - D| / (1 + |P| + |D|)`` between the primal objective ``P``
  and the Lagrangian dual bound ``D(y) = min_{l<=v<=u} L(v, y)`` (for harmony
  columns the inner minimum is taken in closed form through ``H'^{-1}``).

A backend's "optimal" is believed only when all three are within tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gosplan.optim.lp import LinearProgram, harmony

__all__ = ["Verification", "verify"]

DUAL_BOUND_RESIDUAL = 1e-3
"""Above this dual residual the prices bound nothing and the gap is reported infinite."""


@dataclass(frozen=True)
class Verification:
    """What gosplan measured on a solution (see the module)."""

    max_violation: float
    dual_residual: float
    primal_objective: float
    dual_objective: float
    relative_gap: float

    def passes(self, tol: float) -> bool:
        return (
            self.max_violation <= tol
            and self.dual_residual <= tol
            and self.relative_gap <= tol
        )

    def to_dict(self) -> dict[str, float | None]:
        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "max_violation": f(self.max_violation),
            "dual_residual": f(self.dual_residual),
            "primal_objective": f(self.primal_objective),
            "dual_objective": f(self.dual_objective),
            "duality_gap": f(self.relative_gap),
        }


def _scaled_violation(
    value: np.ndarray, lower: np.ndarray, upper: np.ndarray, size: np.ndarray | None = None
) -> float:
    with np.errstate(invalid="ignore"):
        lo = 1.0 + np.abs(lower) if size is None else 1.0 + np.maximum(np.abs(lower), size)
        hi = 1.0 + np.abs(upper) if size is None else 1.0 + np.maximum(np.abs(upper), size)
        below = np.where(np.isfinite(lower), (lower - value) / lo, 0.0)
        above = np.where(np.isfinite(upper), (value - upper) / hi, 0.0)
    worst = np.maximum(below, above)
    if worst.size == 0:
        return 0.0
    if not np.isfinite(worst).all():
        return math.inf
    return max(float(worst.max()), 0.0)


def _bound_term(mult: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[float, np.ndarray]:
    """``sum mult+ * lower - mult- * upper`` over finite bounds; the wrong-signed part separately."""
    pos = np.maximum(mult, 0.0)
    neg = np.minimum(mult, 0.0)
    has_lo, has_hi = np.isfinite(lower), np.isfinite(upper)
    value = float(pos[has_lo] @ lower[has_lo] + neg[has_hi] @ upper[has_hi])
    return value, np.where(has_lo, 0.0, pos) + np.where(has_hi, 0.0, neg)


def _harmony_inner_min(a: np.ndarray, w: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``min_{l<=v<=u} a v - w H(v)`` per coordinate (``-inf`` where unbounded below)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = a / w  # H'(v*) = q
        v = np.where(q >= 1.0, 1.0 - q, 1.0 / q - 1.0)
        v = np.where(q <= 0.0, np.inf, v)  # decreasing everywhere: push to the upper bound
    v = np.clip(v, lower, upper)
    out = np.full(a.shape, -np.inf)
    ok = np.isfinite(v)
    out[ok] = a[ok] * v[ok] - w[ok] * harmony(v[ok])
    return out


def verify(lp: LinearProgram, v: np.ndarray, y: np.ndarray) -> Verification:
    """Measure ``(v, y)`` on ``lp`` (see the module)."""
    v = np.asarray(v, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not (np.isfinite(v).all() and np.isfinite(y).all()):
        return Verification(math.inf, math.inf, math.nan, math.nan, math.inf)
    Kv = lp.K @ v
    size = abs(lp.K) @ np.abs(v)
    violation = max(
        _scaled_violation(Kv, lp.row_lower, lp.row_upper, size),
        _scaled_violation(v, lp.col_lower, lp.col_upper),
    )
    primal = lp.objective(v)
    Kty = lp.K.T @ y
    row_value, row_wrong = _bound_term(y, lp.row_lower, lp.row_upper)
    a = lp.c - Kty  # linear coefficient of v in the Lagrangian
    dual = lp.offset + row_value
    lin = np.ones(a.size, dtype=bool)
    if not lp.is_linear:
        cols = lp.harmony_columns
        lin[cols] = False
        inner = _harmony_inner_min(a[cols], lp.harmony_weights, lp.col_lower[cols], lp.col_upper[cols])
        dual += float(inner.sum())
    col_value, col_wrong = _bound_term(a[lin], lp.col_lower[lin], lp.col_upper[lin])
    dual += col_value
    residual = float(np.sqrt(np.sum(row_wrong**2) + np.sum(col_wrong**2))) / (1.0 + float(np.linalg.norm(lp.c)))
    if not math.isfinite(dual) or residual > DUAL_BOUND_RESIDUAL:
        # Prices of the wrong sign on a bound that does not exist give no dual bound.
        gap = math.inf
    else:
        gap = abs(primal - dual) / (1.0 + abs(primal) + abs(dual))
    return Verification(violation, residual, primal, dual, gap)

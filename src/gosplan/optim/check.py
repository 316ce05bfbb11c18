"""gosplan's own check of a backend's answer, independent of the backend.

For a solution ``(v, y)`` of a :class:`~gosplan.optim.lp.LinearProgram`:

* **violation**: the largest amount by which ``v`` breaks a row or column bound,
  each relative to the number it is judged against. A row that states a number
  the user gave (``LinearProgram.row_user``: a target, a held priority class, a
  resource's availability, a capacity, a floor or ceiling) is judged against that
  number, ``1 + max(|bound|, |sum_{j in objective} K_ij v_j|)`` — a target row
  ``N_i x - z y_i >= 0`` against ``z y_i``, however large the flows through the
  product; any other row (a material balance ``N_i x >= 0`` of an intermediate
  product) against the flows that meet there, ``1 + max(|bound|, sum_j |K_ij v_j|)``;
  columns against ``1 + |bound|``;
* **dual residual**: the part of the reduced costs ``d = grad(v) - K'y`` and of
  ``y`` that has the wrong sign for the bounds that exist (a positive ``d_j`` on a
  column without a lower bound, a positive ``y_i`` on a row without one, ...),
  as ``||.||_2 / (1 + ||c||_2)``; above ``1e-3`` the prices give no bound at
  all and the gap is infinite;
* **duality gap**: ``|P - D| / (1 + |P| + |D|)`` between the primal objective ``P``
  and the Lagrangian dual bound ``D(y) = min_{l<=v<=u} L(v, y)`` (for harmony
  columns the inner minimum is taken in closed form through ``H'^{-1}``);
* **price error**: the prices checked row by row and column by column, not in
  norm: the largest of, per column, the wrong-signed part of its reduced cost
  ``d_j`` relative to the column's turnover at those prices ``|grad_j| + sum_i
  |K_ij y_i|``, and its complementary slackness ``min(distance of v_j from the
  bound d_j pushes it to, relative to 1 + |v_j| + |bound|; |d_j| / turnover)``; per
  row, a price on a bound the row does not have, relative to the largest price,
  and ``min(slack of the row at the bound its price binds, relative as the
  violation; |y_i| / max|y|)``. A price error ``e`` says that ``(v, y)`` is an
  exact optimal pair of a program whose every bound and cost differ from this one's
  by at most ``e`` relative: the prices are the exact prices of a neighbouring plan.
  Prices are known only to a solver's accuracy relative to the largest, as rows judge
  them (``|y_i| / max|y|``): a column's reduced cost within
  ``PRICE_NOISE max|y| sum_i |K_ij|`` of zero (what prices off by ``1e-9`` of the
  largest can make of it) counts as zero, so that an activity whose every input and
  output is priced at rounding level (``1e-15``) is not judged by its own rounding.

A backend's "optimal" is believed only when violation, dual residual and gap are
within tolerance; its prices are reported as certified only when the price error is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, harmony

__all__ = ["Verification", "verify", "verify_diagonal_qp", "max_violation", "row_sizes", "farkas_margin",
           "proves_unbounded"]

DUAL_BOUND_RESIDUAL = 1e-3
"""Above this dual residual the prices bound nothing and the gap is reported infinite."""
PRICE_NOISE = 1e-9
"""Prices within this share of the largest price are rounding for the price error (see the module)."""


@dataclass(frozen=True)
class Verification:
    """What gosplan measured on a solution (see the module)."""

    max_violation: float
    dual_residual: float
    primal_objective: float
    dual_objective: float
    relative_gap: float
    price_error: float = math.inf

    def passes(self, tol: float) -> bool:
        return (
            self.max_violation <= tol
            and self.dual_residual <= tol
            and self.relative_gap <= tol
        )

    def words(self) -> str:
        """``violation ..., gap ..., dual residual ..., price error ...`` for messages."""
        return (f"violation {self.max_violation:.1e}, gap {self.relative_gap:.1e}, "
                f"dual residual {self.dual_residual:.1e}, price error {self.price_error:.1e}")

    def to_dict(self) -> dict[str, float | None]:
        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "max_violation": f(self.max_violation),
            "dual_residual": f(self.dual_residual),
            "primal_objective": f(self.primal_objective),
            "dual_objective": f(self.dual_objective),
            "duality_gap": f(self.relative_gap),
            "price_error": f(self.price_error),
        }


def _scaled_gaps(
    value: np.ndarray, lower: np.ndarray, upper: np.ndarray, size: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(lower - value, value - upper)`` each over ``1 + max(|bound|, size)`` (0 where no bound)."""
    with np.errstate(invalid="ignore"):
        lo = 1.0 + np.abs(lower) if size is None else 1.0 + np.maximum(np.abs(lower), size)
        hi = 1.0 + np.abs(upper) if size is None else 1.0 + np.maximum(np.abs(upper), size)
        below = np.where(np.isfinite(lower), (lower - value) / lo, 0.0)
        above = np.where(np.isfinite(upper), (value - upper) / hi, 0.0)
    return below, above


def _worst(below: np.ndarray, above: np.ndarray) -> float:
    worst = np.maximum(below, above)
    if worst.size == 0:
        return 0.0
    if not np.isfinite(worst).all():
        return math.inf
    return max(float(worst.max()), 0.0)


def row_sizes(lp: LinearProgram, v: np.ndarray) -> np.ndarray:
    """The number each row is judged against, less the bound (see the module): the objective
    columns' part ``|sum_{j in objective} K_ij v_j|`` on the user's rows, the flows elsewhere."""
    size = abs(lp.K) @ np.abs(v)
    if lp.row_user is not None:
        own = np.zeros_like(v)
        if lp.objective_columns is not None and lp.objective_columns.size:
            own[lp.objective_columns] = v[lp.objective_columns]
        size = np.where(lp.row_user, np.abs(lp.K @ own), size)
    return size


def _price_error(lp: LinearProgram, v: np.ndarray, y: np.ndarray, a: np.ndarray, Kv: np.ndarray,
                 size: np.ndarray, grad: np.ndarray | None = None) -> float:
    """Row-by-row and column-by-column error of the prices ``y`` (see the module); ``grad`` the
    objective's gradient at ``v`` (default ``lp``'s)."""
    grad = lp.gradient(v) if grad is None else grad
    d = grad - (lp.c - a)  # grad - K'y
    abs_kt = abs(lp.K).T
    turnover = np.abs(grad) + abs_kt @ np.abs(y)
    ymax = float(np.abs(y).max(initial=0.0))
    noise = PRICE_NOISE * ymax * (abs_kt @ np.ones(lp.K.shape[0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_d = np.where(turnover > 0, np.maximum(np.abs(d) - noise, 0.0) / turnover, 0.0)
        lo, hi = lp.col_lower, lp.col_upper
        dist_lo = np.where(np.isfinite(lo), (v - lo) / (1.0 + np.abs(v) + np.abs(lo)), np.inf)
        dist_hi = np.where(np.isfinite(hi), (hi - v) / (1.0 + np.abs(v) + np.abs(hi)), np.inf)
        # d_j > 0 pushes v_j to its lower bound: wrong sign without one, else complementary slackness.
        col = np.where(d > 0, np.minimum(np.maximum(dist_lo, 0.0), rel_d), np.minimum(np.maximum(dist_hi, 0.0), rel_d))
        col = np.where(d == 0, 0.0, col)
        rel_y = np.abs(y) / ymax if ymax > 0 else np.zeros_like(y)
        slack_lo, slack_hi = _scaled_gaps(Kv, lp.row_lower, lp.row_upper, size)
        slack_lo = np.where(np.isfinite(lp.row_lower), np.maximum(-slack_lo, 0.0), np.inf)
        slack_hi = np.where(np.isfinite(lp.row_upper), np.maximum(-slack_hi, 0.0), np.inf)
        row = np.where(y > 0, np.minimum(slack_lo, rel_y), np.minimum(slack_hi, rel_y))
        row = np.where(y == 0, 0.0, row)
    worst = max(float(col.max(initial=0.0)), float(row.max(initial=0.0)))
    return worst if math.isfinite(worst) else math.inf


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


def _violation(lp: LinearProgram, v: np.ndarray, Kv: np.ndarray, size: np.ndarray) -> float:
    return max(
        _worst(*_scaled_gaps(Kv, lp.row_lower, lp.row_upper, size)),
        _worst(*_scaled_gaps(v, lp.col_lower, lp.col_upper)),
    )


def max_violation(lp: LinearProgram, v: np.ndarray) -> float:
    """The violation of :func:`verify` alone (no prices): each row and column bound that ``v``
    breaks, relative to the number it is judged against."""
    v = np.asarray(v, dtype=np.float64)
    if not np.isfinite(v).all():
        return math.inf
    return _violation(lp, v, lp.K @ v, row_sizes(lp, v))


def verify(lp: LinearProgram, v: np.ndarray, y: np.ndarray) -> Verification:
    """Measure ``(v, y)`` on ``lp`` (see the module)."""
    v = np.asarray(v, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not (np.isfinite(v).all() and np.isfinite(y).all()):
        return Verification(math.inf, math.inf, math.nan, math.nan, math.inf)
    Kv = lp.K @ v
    size = row_sizes(lp, v)
    violation = _violation(lp, v, Kv, size)
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
    return Verification(violation, residual, primal, dual, gap, _price_error(lp, v, y, a, Kv, size))


def verify_diagonal_qp(lp: LinearProgram, q: np.ndarray, v: np.ndarray, y: np.ndarray) -> Verification:
    """:func:`verify` for ``lp`` with the extra objective ``1/2 sum_j q_j v_j^2`` (``q >= 0``, linear
    ``lp``): the dual bound's inner minimum over a column with ``q_j > 0`` is taken at
    ``clip(-a_j / q_j, l_j, u_j)``."""
    v = np.asarray(v, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if not lp.is_linear:
        raise ValueError("verify_diagonal_qp takes a linear program plus the diagonal term")
    if not (np.isfinite(v).all() and np.isfinite(y).all()):
        return Verification(math.inf, math.inf, math.nan, math.nan, math.inf)
    Kv = lp.K @ v
    size = row_sizes(lp, v)
    violation = _violation(lp, v, Kv, size)
    primal = lp.objective(v) + 0.5 * float(q @ (v * v))
    a = lp.c - lp.K.T @ y
    row_value, row_wrong = _bound_term(y, lp.row_lower, lp.row_upper)
    quad = q > 0
    lo, hi = lp.col_lower[quad], lp.col_upper[quad]
    vq = np.clip(-a[quad] / q[quad], lo, hi)
    col_value, col_wrong = _bound_term(a[~quad], lp.col_lower[~quad], lp.col_upper[~quad])
    dual = lp.offset + row_value + col_value + float(a[quad] @ vq + 0.5 * q[quad] @ (vq * vq))
    residual = float(np.sqrt(np.sum(row_wrong**2) + np.sum(col_wrong**2))) / (1.0 + float(np.linalg.norm(lp.c)))
    if not math.isfinite(dual) or residual > DUAL_BOUND_RESIDUAL:
        gap = math.inf
    else:
        gap = abs(primal - dual) / (1.0 + abs(primal) + abs(dual))
    return Verification(violation, residual, primal, dual, gap,
                        _price_error(lp, v, y, a, Kv, size, grad=lp.c + q * v))


def _wrong_row(m: np.ndarray, lo: np.ndarray, hi: np.ndarray, columns: bool = False) -> np.ndarray:
    """1 where the sign of ``m`` leans on a bound that does not exist, else 0. Rows: ``m > 0``
    needs a lower bound, ``m < 0`` an upper one; columns the other way round."""
    up, down = (m > 0, m < 0) if not columns else (m < 0, m > 0)
    return ((up & ~np.isfinite(lo)) | (down & ~np.isfinite(hi))).astype(np.float64)


def farkas_margin(lp: LinearProgram, ray: np.ndarray | None, relax: float) -> float:
    """How far the row multipliers ``ray`` prove ``lp`` infeasible, with every bound relaxed by
    ``relax (1 + |bound|)``: ``(b(y) - S(y)) / (sum |y_i bound_i| + sum |g_j bound_j|)`` with
    ``b(y) = sum_{y>0} y_i lo_i + sum_{y<0} y_i hi_i`` the least ``y'K v`` the rows allow and
    ``S(y) = max_{l<=v<=u} g'v``, ``g = K'y``, the most the columns allow. Positive: no ``v``
    meets the relaxed constraints (a verified certificate); ``-inf`` when the ray proves nothing
    (a multiplier on a bound that does not exist, a direction the columns leave open)."""
    if ray is None:
        return -math.inf
    y = np.asarray(ray, dtype=np.float64)
    if y.shape != (lp.shape[0],) or not np.isfinite(y).all() or not np.any(y):
        return -math.inf
    lo = lp.row_lower - relax * (1.0 + np.abs(lp.row_lower))
    hi = lp.row_upper + relax * (1.0 + np.abs(lp.row_upper))
    # Multipliers and column coefficients of the wrong sign but within ``relax`` of the largest
    # count as zero: the ray then proves a program whose coefficients differ by that much.
    y = np.where(np.abs(y) <= relax * np.abs(y).max() * _wrong_row(y, lo, hi), 0.0, y)
    pos, neg = y > 0, y < 0
    if not (np.isfinite(lo[pos]).all() and np.isfinite(hi[neg]).all()):
        return -math.inf
    b_terms = np.concatenate([y[pos] * lo[pos], y[neg] * hi[neg]])
    g = lp.K.T @ y
    cl = lp.col_lower - relax * (1.0 + np.abs(lp.col_lower))
    cu = lp.col_upper + relax * (1.0 + np.abs(lp.col_upper))
    # A column's g is a sum of terms |K_ij y_i|: within relax of their size it is their rounding
    # (prices that equal a technique's cost leave 1e-10 of 1e6), not a direction left open.
    size = np.maximum(abs(lp.K).T @ np.abs(y), np.abs(g).max(initial=0.0))
    g = np.where(np.abs(g) <= relax * size * _wrong_row(g, cl, cu, columns=True), 0.0, g)
    gp, gn = g > 0, g < 0
    if not (np.isfinite(cu[gp]).all() and np.isfinite(cl[gn]).all()):
        return -math.inf
    s_terms = np.concatenate([g[gp] * cu[gp], g[gn] * cl[gn]])
    scale = float(np.abs(b_terms).sum() + np.abs(s_terms).sum())
    if scale == 0.0:
        return -math.inf
    return float((b_terms.sum() - s_terms.sum()) / scale)


def proves_unbounded(lp: LinearProgram, ray: np.ndarray, rel: float = 1e-9) -> bool:
    """``ray`` is a direction of unboundedness of ``lp``: every row with a lower bound does not
    fall along it, every row with an upper bound does not rise (within ``rel`` of the terms'
    size), every bounded column keeps its side, and the objective falls (its linear cost falls,
    or a weighted harmony column grows and no linear cost rises). With a plan that meets ``lp`` beside it, the program
    is unbounded; alone it proves nothing (the program may be infeasible)."""
    K = sp.csr_array(lp.K)
    moved = K @ ray
    size = abs(K) @ np.abs(ray) + 1e-300
    rows_ok = (np.where(np.isfinite(lp.row_lower), moved >= -rel * size, True).all()
               and np.where(np.isfinite(lp.row_upper), moved <= rel * size, True).all())
    top = float(np.abs(ray).max(initial=0.0))
    cols_ok = (np.where(np.isfinite(lp.col_lower), ray >= -rel * top, True).all()
               and np.where(np.isfinite(lp.col_upper), ray <= rel * top, True).all())
    h = np.asarray(lp.harmony_columns if lp.harmony_columns is not None else [], dtype=np.int64)
    w = np.asarray(lp.harmony_weights if lp.harmony_weights is not None else [], dtype=np.float64)
    grows = bool(h.size and ((ray[h] > 0) & (w > 0)).any())
    slope, terms = float(lp.c @ ray), rel * float(np.abs(lp.c) @ np.abs(ray) + 1e-300)
    falls = slope < -terms or (grows and slope <= terms)  # a linear program's cost falls along it
    return bool(rows_ok and cols_ok and falls)

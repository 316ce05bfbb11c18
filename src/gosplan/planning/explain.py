"""Why a plan is infeasible, in the planner's words.

An infeasible program has a Farkas certificate: row multipliers ``y`` with
``y' K`` compatible with the column bounds and ``y'`` (bounds) ``> 0`` — a
weighted sum of the constraints that says ``0 > 0``. The constraints with nonzero
weight are the ones that conflict, with the column bounds that ``g = K' y`` leans on
(an upper bound where ``g_j > 0``, a lower one where ``g_j < 0``). HiGHS' irreducible infeasible subset (IIS) is
the smallest such set (drop any one and the rest can hold); it is used when the
program is small enough (and, when the solver gave a Farkas ray, at most
:data:`IIS_WITH_RAY_MAX_COLUMNS` columns), the Farkas ray's support otherwise.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gosplan.optim.lp import LinearProgram, LPSolution
from gosplan.planning.problem import PlanProblem

__all__ = ["describe_conflict"]

MAX_LISTED = 25
#: Beyond this many columns a solution's own Farkas ray names the conflict, not HiGHS' IIS:
#: HiGHS' IIS of a 19,800-column infeasible cost plan took 165 s, of a 110,000-column one minutes past its time limit
#: (the time limit holds its LP solve, not the IIS search after it).
IIS_WITH_RAY_MAX_COLUMNS = 5_000


def _row_words(lp: LinearProgram, i: int, bound: str) -> str:
    name = lp.name_row(i)
    parts = []
    if bound in ("lower", "both") and np.isfinite(lp.row_lower[i]):
        parts.append(f">= {lp.row_lower[i]:.6g}")
    if bound in ("upper", "both") and np.isfinite(lp.row_upper[i]):
        parts.append(f"<= {lp.row_upper[i]:.6g}")
    what = {
        "balance": "net output",
        "resource": "use",
        "capacity": "gross output",
        "floor/ceiling": "net output",
    }
    for key, noun in what.items():
        if name.startswith(key):
            return f"{name}: {noun} {' and '.join(parts)}"
    return f"{name} {' and '.join(parts)}"


def plan_col_words(problem: PlanProblem, lp: LinearProgram, j: int, bound: str) -> str | None:
    """Column bounds of a single-year plan: activity capacities in the product's words."""
    if bound == "lower" and lp.col_lower[j] == 0 and j < problem.m:
        return None  # "activity >= 0" is part of every plan; not worth a line
    if bound in ("upper", "both") and j < problem.m and np.isfinite(lp.col_upper[j]):
        made = problem.make[:, [j]].tocoo()
        product = problem.product_words(problem.products[made.row[0]]) if made.nnz else lp.name_col(j)
        return f"capacity of {product}: gross output <= {problem.capacity[made.row[0]]:.6g}"
    return bound_words(lp, j, bound)


def bound_words(lp: LinearProgram, j: int, bound: str) -> str | None:
    """``<column name> >= lo and <= hi`` for the bounds of column ``j`` in a conflict."""
    parts = []
    if bound in ("lower", "both") and np.isfinite(lp.col_lower[j]):
        parts.append(f">= {lp.col_lower[j]:.6g}")
    if bound in ("upper", "both") and np.isfinite(lp.col_upper[j]):
        parts.append(f"<= {lp.col_upper[j]:.6g}")
    return f"{lp.name_col(j)} {' and '.join(parts)}" if parts else None


def describe_conflict(
    lp: LinearProgram,
    sol: LPSolution,
    *,
    iis_max_columns: int,
    col_words: Callable[[LinearProgram, int, str], str | None] = bound_words,
    order: tuple[str, ...] = ("resource", "capacity", "floor/ceiling", "balance"),
    time_limit: float | None = None,
) -> tuple[str, ...]:
    """One line per conflicting constraint (at most :data:`MAX_LISTED`, then a count).

    ``col_words(lp, j, bound)`` words a column bound of the conflict (``None``: leave it out);
    lines are listed by the first of ``order`` they start with (the planner's levers first).

    ``time_limit``: seconds left to the plan (``None``: no limit). HiGHS bounds the LP solve
    before its IIS by its time limit but not the IIS search itself (the five-year UK plan with a
    terminal condition: 39 s against a limit of 30, 117 s against 5), so under a time limit the
    solver's Farkas ray names the conflict whenever there is one, and the IIS is tried only
    without a ray, with time left, up to :data:`IIS_WITH_RAY_MAX_COLUMNS` columns.
    """
    lines: list[str] = []
    iis = None
    has_ray = sol.farkas is not None and np.isfinite(sol.farkas).all()
    use_iis = lp.shape[1] <= (min(iis_max_columns, IIS_WITH_RAY_MAX_COLUMNS) if has_ray else iis_max_columns)
    if time_limit is not None:
        use_iis = (use_iis and not has_ray and time_limit > 0
                   and lp.shape[1] <= min(iis_max_columns, IIS_WITH_RAY_MAX_COLUMNS))
    if use_iis:
        from gosplan.optim.highs import irreducible_infeasible_subset

        iis = irreducible_infeasible_subset(lp, time_limit=60.0 if time_limit is None else time_limit)
    if iis is not None:
        for i, b in zip(iis.rows, iis.row_bounds):
            lines.append(_row_words(lp, int(i), b))
        for j, b in zip(iis.cols, iis.col_bounds):
            words = col_words(lp, int(j), b)
            if words:
                lines.append(words)
    elif has_ray:
        ray = sol.farkas
        scale = np.abs(ray).max(initial=0.0)
        support = np.flatnonzero(np.abs(ray) > 1e-9 * scale) if scale > 0 else []
        ranked = sorted(support, key=lambda i: -abs(ray[i]))
        for i in ranked:
            lines.append(_row_words(lp, int(i), "lower" if ray[i] > 0 else "upper"))
        # The column bounds the ray leans on: g = K'y > 0 against an upper bound, < 0 against
        # a lower one (a capacity of a product made by one technique is such a bound).
        g = lp.K.T @ ray
        g_scale = np.abs(g).max(initial=0.0)
        if g_scale > 0:
            for j in np.flatnonzero(np.abs(g) > 1e-9 * g_scale):
                bound = "upper" if g[j] > 0 else "lower"
                if np.isfinite(lp.col_upper[j] if bound == "upper" else lp.col_lower[j]):
                    words = col_words(lp, int(j), bound)
                    if words:
                        lines.append(words)
    lines.sort(key=lambda t: next((k for k, w in enumerate(order) if t.startswith(w)), len(order)))
    if len(lines) > MAX_LISTED:
        extra = len(lines) - MAX_LISTED
        lines = lines[:MAX_LISTED] + [f"... and {extra} more"]
    return tuple(lines)

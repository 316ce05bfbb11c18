"""Singleton rows as column bounds: the presolve of gosplan's first-order solver.

A row with one nonzero, ``r-_i <= a_i v_j <= r+_i``, is a bound on ``v_j``:
``r-_i / a_i <= v_j <= r+_i / a_i`` (the two sides swapped where ``a_i < 0``). PDHG keeps a
bound by projection, exactly, at no cost; a row needs a multiplier of its own, which the
iterations must find. :func:`singleton_rows` moves every such row into its column's bounds
(the tightest of them, where several bound one column), and :meth:`SingletonRows.restore`
maps an answer of the smaller program back to the rows of the original:

* ``v`` is the same;
* each row keeps its multiplier; a singleton row that gave its column's binding bound gets
  ``y_i = d_j / a_i`` from the part of the column's reduced cost ``d_j`` that the bound
  absorbs (``d_j < 0`` at an upper bound, ``> 0`` at a lower, HiGHS' convention), and the
  column keeps the rest, so that ``d = grad f(v) - K'y`` holds in the original;
* a Farkas ray maps the same way, with ``g = -K'y`` in the place of ``d``: the rows it adds
  carry what the moved bounds absorbed, and the ray then proves the original infeasible.

In Cockshott's multi-year program every capital row of the first year is a singleton,
``b_k x_{j,1} <= K_k``, since no investment reaches that year (``docs/multiyear.md``); at
10,000 industries they are 91,835 of its 509,180 rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from gosplan.optim.lp import LinearProgram, LPSolution

__all__ = ["SingletonRows", "singleton_rows"]


@dataclass(frozen=True)
class SingletonRows:
    """The program without its singleton rows, and what maps its answers back.

    ``reduced``: rows ``kept`` of the original, the moved rows' bounds in its column bounds;
    ``lower_row`` / ``upper_row``: per column, the original row that gives its lower / upper
    bound (``-1``: the column's own); ``coef``: each original row's single coefficient (0 for
    rows kept)."""

    original: LinearProgram
    reduced: LinearProgram
    kept: np.ndarray
    lower_row: np.ndarray
    upper_row: np.ndarray
    coef: np.ndarray

    @property
    def moved(self) -> int:
        """Rows moved into column bounds."""
        return self.original.shape[0] - self.kept.size

    def reduce_duals(self, y: np.ndarray | None) -> np.ndarray | None:
        """Row multipliers of the original restricted to the rows kept (a warm start)."""
        return None if y is None else np.asarray(y, dtype=np.float64).reshape(-1)[self.kept]

    def _attribute(self, d: np.ndarray, y_kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Original row multipliers from the kept rows' ``y_kept`` and the columns' ``d``
        (reduced costs, or ``-K'y`` of a ray): the part of ``d_j`` a moved bound absorbs goes to
        the row that gave it. Returns ``(y, d)`` for the original."""
        y = np.zeros(self.original.shape[0])
        y[self.kept] = y_kept
        d = d.copy()
        for owner, side in ((self.upper_row, d < 0), (self.lower_row, d > 0)):
            j = np.flatnonzero((owner >= 0) & side)
            rows = owner[j]
            y[rows] = d[j] / self.coef[rows]
            d[j] = 0.0
        return y, d

    def restore(self, sol: LPSolution) -> LPSolution:
        """``sol`` (an answer of :attr:`reduced`) as an answer of the original program."""
        y, d = self._attribute(np.asarray(sol.d, dtype=np.float64), np.asarray(sol.y, dtype=np.float64))
        farkas = None
        if sol.farkas is not None:
            ray = np.asarray(sol.farkas, dtype=np.float64)
            farkas, _ = self._attribute(-(self.reduced.K.T @ ray), ray)
        detail = dict(sol.detail)
        detail["presolve_rows_moved"] = self.moved
        return replace(sol, y=y, d=d, farkas=farkas, detail=detail)


def singleton_rows(lp: LinearProgram) -> SingletonRows | None:
    """``lp`` with its singleton rows moved into column bounds, or ``None`` when it has none,
    or when they leave a column with its lower bound above its upper (the program is then
    infeasible, and the solver proves it on the rows as given)."""
    K = sp.csr_array(lp.K)
    nonzero = K.data != 0.0
    upto = np.concatenate([[0], np.cumsum(nonzero)])
    counts = upto[K.indptr[1:]] - upto[K.indptr[:-1]]  # nonzeros per row
    single = np.flatnonzero(counts == 1)
    if single.size == 0:
        return None
    k, m = lp.shape
    # the one nonzero of each singleton row
    pos = np.repeat(np.arange(k), np.diff(K.indptr))
    at = np.flatnonzero(nonzero & (counts[pos] == 1))
    rows, cols, a = pos[at], K.indices[at].astype(np.int64), K.data[at]
    lo_r, hi_r = lp.row_lower[rows], lp.row_upper[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        lo_c = np.where(a > 0, lo_r / a, hi_r / a)
        hi_c = np.where(a > 0, hi_r / a, lo_r / a)
    lower, upper = lp.col_lower.copy(), lp.col_upper.copy()
    lower_row, upper_row = np.full(m, -1, dtype=np.int64), np.full(m, -1, dtype=np.int64)
    # the tightest bound per column, where it is tighter than the column's own; its row owns it
    for bound, owner, cand, tightest in ((lower, lower_row, lo_c, np.maximum), (upper, upper_row, hi_c, np.minimum)):
        own = bound.copy()
        tightest.at(bound, cols, cand)
        wins = np.flatnonzero((cand == bound[cols]) & (cand != own[cols]))
        first = np.unique(cols[wins], return_index=True)[1]
        owner[cols[wins[first]]] = rows[wins[first]]
    if (lower > upper).any():
        return None
    kept = np.setdiff1d(np.arange(k), single)
    coef = np.zeros(k)
    coef[rows] = a
    names = lp.row_names
    reduced = LinearProgram(
        c=lp.c, K=sp.csr_array(K[kept]), row_lower=lp.row_lower[kept], row_upper=lp.row_upper[kept],
        col_lower=lower, col_upper=upper, offset=lp.offset, harmony_columns=lp.harmony_columns,
        harmony_weights=lp.harmony_weights,
        row_names=None if names is None else (lambda i: names(int(kept[i]))),
        col_names=lp.col_names, row_user=None if lp.row_user is None else lp.row_user[kept],
        objective_columns=lp.objective_columns,
    )
    return SingletonRows(lp, reduced, kept, lower_row, upper_row, coef)

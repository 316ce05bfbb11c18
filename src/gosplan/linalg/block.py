"""Block BiCGSTAB: ``k`` right-hand sides of ``(I - M) Z = B`` (or ``(I - M)^T Z = B``)
at once, one pass over the matrix per product for all of them.

Each column runs its own BiCGSTAB (van der Vorst 1992; its own ``alpha``, ``omega``,
``rho``), right-preconditioned by ``D^-1 = diag(1 / (1 - M_ii))``; only the sparse
products are shared: ``V = (I - M) P`` with ``P`` an ``N x k`` block, so that every
coefficient, fetched once, serves ``k`` columns. The product is bound by memory
latency (one random gather per coefficient), so ``k`` columns cost little more than
one. A column that has converged is frozen (its coefficients are set to zero) while
the others go on.

:class:`RowsOperator` restricts ``I - M`` to a set of rows of a CSR held elsewhere:
either a compact block (rows ``0 .. s-1``) or the block ``R`` of ``A`` *in place*,
its rows picked from ``A`` and the vectors kept at full length ``n`` and zero
outside ``R``, so that no copy of ``R`` is made. With ``transpose=True`` the product
is ``(I - M)^T P``, scattered from the rows of ``M`` into one accumulator per thread:
no transpose is built either.

Stopping rule: the *true* residual ``||B_q - (I - M) X_q||_2 <= goal_q`` for every
column; the recurrence's residual only decides when to check it, and a column whose
true residual still misses restarts from its current ``X`` (at most 5 restarts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gosplan.linalg import _block_kernels as BK

__all__ = ["RowsOperator", "bicgstab_block", "solve_columns", "BLOCK_COLUMNS"]

#: Right-hand sides iterated together (more are taken in groups of this size; a
#: group of 2 or 3 is padded with zero columns, which stop at once): the product
#: kernels keep 4 columns in registers. ``k`` columns need ``7 k`` vectors.
BLOCK_COLUMNS = 4


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


def _chunks(row_nnz: np.ndarray, nchunks: int) -> np.ndarray:
    """Positions ``0 = b_0 <= ... <= b_c = len(rows)`` splitting the rows into
    ``nchunks`` runs of about equal nonzeros (plus one per row, for the vector work)."""
    s = row_nnz.shape[0]
    nchunks = max(1, min(nchunks, s))
    work = np.cumsum(row_nnz + 1, dtype=np.int64)
    total = int(work[-1]) if s else 0
    goals = (np.arange(1, nchunks, dtype=np.int64) * total) // nchunks
    inner = np.searchsorted(work, goals, side="left") + 1 if s else np.zeros(0, np.int64)
    return np.concatenate(([0], np.minimum(inner, s), [s])).astype(np.int64)


@dataclass(eq=False)
class RowsOperator:
    """``I - M`` (``transpose``: ``(I - M)^T``) on the rows ``rows`` of the CSR ``M``.

    ``size`` is the length of the vectors (``n`` in place, ``len(rows)`` for a
    compact block). ``M[rows][:, rows]`` must hold every coefficient the operator
    needs: for the transpose, columns outside ``rows`` are skipped; for the plain
    product they are read, so the vectors must be zero there (``X`` aside: its
    values outside ``rows`` are the solved ones folded into the residual).
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    rows: np.ndarray
    size: int
    transpose: bool = False
    bounds: np.ndarray = field(init=False)
    inside: np.ndarray = field(init=False)
    dinv: np.ndarray = field(init=False)
    bad_diagonal: int = field(init=False)
    _acc: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # one compiled specialization per kernel: int64 row pointers, int32 or int64 rows
        self.indptr = np.asarray(self.indptr, dtype=np.int64)
        self.rows = rows = np.asarray(self.rows, dtype=np.int64)
        row_nnz = self.indptr[rows + 1] - self.indptr[rows]
        nthreads = _threads()
        # the scatter keeps one accumulator per chunk: as many chunks as threads
        self.bounds = _chunks(row_nnz, nthreads if self.transpose else 4 * nthreads)
        if self.transpose and len(rows) < self.size:
            self.inside = np.zeros(self.size, np.uint8)
            self.inside[rows] = 1
        else:
            self.inside = np.ones(self.size if self.transpose else 0, np.uint8)
        self.dinv = np.zeros(self.size)
        self.bad_diagonal = int(BK.diagonal_inverse(self.indptr, self.indices, self.data, rows, self.dinv))

    @property
    def nchunks(self) -> int:
        return len(self.bounds) - 1

    def apply(self, P: np.ndarray, V: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
        """``V = op(P)`` on ``rows``; returns ``[W1 . V, W2 . V, V . V]`` per column (``3 x k``)."""
        k = P.shape[1]
        part = np.empty((self.nchunks, 3, k))
        if self.transpose:
            if self._acc is None or self._acc.shape[2] != k:
                self._acc = np.zeros((self.nchunks, self.size, k))
            BK.spmv_scatter(self.indptr, self.indices, self.data, self.rows, self.bounds, self.inside,
                            P, V, self._acc, W1, W2, part)
        else:
            BK.spmv_gather(self.indptr, self.indices, self.data, self.rows, self.bounds, P, V, W1, W2, part)
        return part.sum(axis=0)

    def release(self) -> None:
        """Free the scatter accumulators."""
        self._acc = None


@dataclass(eq=False)
class _Vectors:
    R: np.ndarray
    Rhat: np.ndarray
    P: np.ndarray
    V: np.ndarray
    W: np.ndarray
    T: np.ndarray


def bicgstab_block(
    op: RowsOperator,
    B: np.ndarray,
    X: np.ndarray,
    goal: np.ndarray,
    maxiter: int,
    *,
    jacobi_start: bool = True,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Solve ``op(X) = B`` on ``op.rows`` for every column of ``B`` (``size x k``).

    ``X`` (``size x k``, C order) receives the solution on ``op.rows``; with
    ``jacobi_start`` its rows are first set to ``D^-1 (B - op(X with those rows 0))``
    (one Jacobi step from zero: it folds in the values ``X`` holds off ``rows``).
    Returns ``(iterations, converged per column, true residual norm per column)``;
    iterations count matrix passes in pairs, as for one-column BiCGSTAB.
    """
    k = B.shape[1]
    size = op.size
    rows, bounds, dinv = op.rows, op.bounds, op.dinv
    nch = len(bounds) - 1
    vec = _Vectors(*(np.zeros((size, k)) for _ in range(6)))
    zero = np.zeros(k)
    part = np.empty((nch, 2, k))

    def step(mode: int, c1: np.ndarray = zero, c2: np.ndarray = zero) -> np.ndarray:
        BK.update(mode, rows, bounds, X, vec.R, vec.Rhat, vec.P, vec.V, vec.W, vec.T, B, dinv, c1, c2, part)
        return part.sum(axis=0)

    def true_residual() -> np.ndarray:
        """``R = Rhat = B - op(X)``, ``P = V = 0``; returns ``||R||`` per column."""
        op.apply(X, vec.V, vec.V, vec.V)
        return np.sqrt(step(3)[0])

    if jacobi_start:
        step(5)
        true_residual()
        step(4)
    res = true_residual()
    done = res <= goal
    its = 0
    restarts = 0
    while not done.all() and its < maxiter and restarts < 5:
        restarts += 1
        active = ~done
        rho = res * res  # Rhat . R with Rhat = R
        rho_old = np.ones(k)
        alpha = np.ones(k)
        omega = np.ones(k)
        while its < maxiter and active.any():
            its += 1
            active &= (rho != 0.0) & np.isfinite(rho)
            if not active.any():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                beta = np.where(active, (rho / rho_old) * (alpha / omega), 0.0)
            step(0, beta, np.where(active, omega, 0.0))  # P, W = D^-1 P
            rv = op.apply(vec.W, vec.V, vec.Rhat, vec.Rhat)[0]  # V = op(W)
            active &= (rv != 0.0) & np.isfinite(rv)
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(active, rho / rv, 0.0)
            ss = step(1, alpha)[0]  # X += alpha W; R = s; W = D^-1 s
            active &= ~(np.sqrt(ss) <= goal)
            d = op.apply(vec.W, vec.T, vec.R, vec.R)  # T = op(W); [s . t, s . t, t . t]
            ts, tt = d[0], d[2]
            with np.errstate(divide="ignore", invalid="ignore"):
                omega = np.where(active & (tt > 0.0), ts / tt, 0.0)
            d = step(2, zero, omega)  # X += omega W; R -= omega T
            rr, rho_new = d[0], d[1]
            active &= (omega != 0.0) & np.isfinite(rr) & ~(np.sqrt(rr) <= goal)
            rho_old, rho = rho, rho_new
        res = true_residual()
        if not np.isfinite(res).all():
            break
        done = res <= goal
    op.release()
    return its, done, res


def solve_columns(
    op: RowsOperator, B: np.ndarray, Z: np.ndarray, goal: np.ndarray, maxiter: int, *,
    jacobi_start: bool = True,
) -> tuple[int, bool]:
    """:func:`bicgstab_block` on the columns of ``B`` in groups of :data:`BLOCK_COLUMNS`
    (single columns alone, 2 or 3 padded to 4), writing ``Z`` (``size x k``; its values
    off ``op.rows`` are kept and folded in; without ``jacobi_start`` its values on
    ``op.rows`` are the start). Returns ``(iterations, all converged)``."""
    k = B.shape[1]
    iterations, ok = 0, True
    for g0 in range(0, k, BLOCK_COLUMNS):
        g1 = min(k, g0 + BLOCK_COLUMNS)
        width = 1 if g1 - g0 == 1 else BLOCK_COLUMNS
        if g0 == 0 and g1 == k and width == k:
            X, Bg = Z, B
        else:
            X = np.zeros((op.size, width))
            Bg = np.zeros((op.size, width))
            X[:, : g1 - g0] = Z[:, g0:g1]
            Bg[:, : g1 - g0] = B[:, g0:g1]
        gg = np.zeros(width)
        gg[: g1 - g0] = goal[g0:g1]
        its, done, _ = bicgstab_block(op, Bg, X, gg, maxiter, jacobi_start=jacobi_start)
        if X is not Z:
            Z[:, g0:g1] = X[:, : g1 - g0]
        iterations = max(iterations, its)
        ok = ok and bool(done[: g1 - g0].all())
    return iterations, ok

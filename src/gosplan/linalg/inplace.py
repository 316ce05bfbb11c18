"""The cyclic block ``R`` iterated *in place*, on the rows of ``A`` itself.

When ``R`` holds most of ``A``'s coefficients, copying it out (and transposing the
copy for the values system) costs about as much as the iterations (13 s of 28.8 s at
``n = 10^7``, ``K = 30``). In place, BiCGSTAB runs on ``I - A`` restricted to the rows
of ``R``: the vectors keep their full length ``n`` and stay zero outside ``R``, so the
coefficients of ``R``'s rows that point outside ``R`` multiply zeros, and the products
already solved (the trimmed levels, for gross output) enter through the residual
``b - (I - A) x`` with their final values. The values system multiplies by
``(I - A)^T`` by scattering along the same rows (one accumulator per thread; columns
outside ``R`` skipped): no copy, no transpose.

The price: every iteration reads the coefficients of ``R``'s rows that point outside
``R`` and gathers from vectors of length ``n`` rather than ``|R|``, so a compact copy
iterates faster; in place wins when the copy is most of ``A``
(:data:`gosplan.linalg.leontief.INPLACE_SHARE`).
"""

from __future__ import annotations

import numpy as np

from gosplan.linalg.block import RowsOperator, bicgstab_block, solve_columns

__all__ = ["solve_rows_inplace", "rows_share"]


def rows_share(indptr: np.ndarray, rows: np.ndarray) -> float:
    """Share of the coefficients of a CSR held by the rows ``rows``."""
    total = int(indptr[-1])
    if total == 0:
        return 0.0
    return float((indptr[rows + 1] - indptr[rows]).sum()) / total


def solve_rows_inplace(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    rows: np.ndarray,
    Z: np.ndarray,
    B: np.ndarray,
    *,
    transpose: bool,
    tol: float,
    bnorm: np.ndarray,
    maxiter: int,
    verify: bool,
) -> tuple[int, bool]:
    """Solve the rows ``rows`` of ``(I - A) Z = B`` (``transpose``: of ``(I - A)^T Z = B``)
    in place, writing ``Z[rows]``; ``Z`` (``n x k``, C order) holds the solved values
    outside ``rows`` (gross output: the trimmed levels; values: unused).

    ``rows`` must be closed under "is an input of" (``A_ij != 0`` with ``j`` in
    ``rows`` implies ``i`` in ``rows``), so that the values of ``rows`` need nothing
    outside. Returns ``(iterations, ok)``; ``ok`` is False when BiCGSTAB missed
    ``tol`` or, with ``verify``, when the block could not be certified productive
    (then the caller looks closer).
    """
    n, k = B.shape
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    op = RowsOperator(indptr, indices, data, rows, n, transpose=transpose)
    if op.bad_diagonal:
        return 0, False
    goal = 0.5 * tol * np.where(bnorm > 0, bnorm, 1.0)
    iterations, ok = solve_columns(op, B, Z, goal, maxiter)
    if ok and verify:
        ok = _certify(op, Z, B, rows, transpose, tol)
    return iterations, ok


def _certify(op: RowsOperator, Z: np.ndarray, B: np.ndarray, rows: np.ndarray, transpose: bool,
             tol: float) -> bool:
    """``rho(A_RR) < 1`` shown by some column with ``(I - A_RR) z_R = c > 0`` and
    ``z_R > 0`` (then ``A_RR z_R < z_R``), as in
    :func:`gosplan.linalg.leontief._certify_productive`. For gross output ``c`` is
    ``b_R`` plus the trimmed users' outputs, positive when ``b_R > 0`` and those are
    ``>= 0``. Failing that, one more solve: ``(I - A_RR) z = 1``, ``z > 0``."""
    for q in range(B.shape[1]):
        if (B[rows, q] > 0).all() and (Z[rows, q] > 0).all() and (transpose or (Z[:, q] >= 0).all()):
            return True
    n = op.size
    ones = np.zeros((n, 1))
    ones[rows] = 1.0
    z = np.zeros((n, 1))
    goal = np.array([0.5 * max(tol, 1e-8) * np.sqrt(len(rows))])
    _, done, _ = bicgstab_block(op, ones, z, goal, 2000)
    return bool(done.all() and (z[rows] > 0).all())

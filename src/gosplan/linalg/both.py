"""Gross output and values together: ``(I - A) x = y`` and ``(I - A)^T v = l`` in one run.

A balance solves both systems on the same matrix. Beyond :data:`~gosplan.linalg.leontief.DENSE_MAX`
products both go through the trimmed method: the trimmed levels solved exactly, the remaining
block ``R`` (the products on or upstream of a cycle, whose rows hold nearly every coefficient of
a large table) iterated by BiCGSTAB. The iterations spend their time in products ``R z``
(gathered along ``R``'s rows, for ``x``) and ``R^T w`` (scattered along the same rows, for
``v``: no transpose is built). :func:`solve_both` runs the two BiCGSTABs in lockstep
(:func:`gosplan.linalg.kernels.bicgstab_both`) so that one pass over ``R``'s rows serves a
product of each, and checks both answers in one pass over ``A``. Each system keeps its own
recurrences, stopping test on its true residual and restarts; the answers are those of two
:func:`~gosplan.linalg.leontief.solve` calls up to rounding (the same iteration counts).

Measured at ``n = 10^7`` with 30 inputs a product: ``benchmarks/bench_balance.py --focus linalg``
(BENCHMARKS.md, issue 15 item 5).
"""

from __future__ import annotations

import time

import numpy as np

from gosplan.errors import InvalidEconomyError
from gosplan.linalg import kernels as K
from gosplan.linalg import leontief
from gosplan.linalg.leontief import (
    LeontiefSystem,
    _as_2d,
    _certify_productive,
    _check_productive,
    _diagonal_inverse,
    _folded_block,
    _pull_levels,
    _push_levels,
    _row_parts,
    _scatter_pays,
    _threads,
    relative_residuals,
    solve,
)
from gosplan.results import SolveInfo

__all__ = ["solve_both"]


def _residuals_both(system: LeontiefSystem, x: np.ndarray, y: np.ndarray, v: np.ndarray, l: np.ndarray
                    ) -> tuple[float, float]:
    """``||y - (I - A) x|| / ||y||`` and ``||l - (I - A)^T v|| / ||l||`` (absolute where the
    right-hand side is 0), both from one pass over the rows of ``A`` beyond
    :data:`~gosplan.linalg.leontief.PARALLEL_CHECK_MIN` products."""
    n = system.n
    if n <= leontief.PARALLEL_CHECK_MIN:
        rx = relative_residuals(system, x, y)[0]
        rv = relative_residuals(system, v, l, transpose=True)[0]
        return float(rx), float(rv)
    A = system.A
    ptr = np.asarray(A.indptr, dtype=np.int64)  # the kernel's one specialisation
    B = np.stack([y, l])
    X = np.stack([x, v])
    R = np.empty_like(B)
    res = np.zeros(2)
    K._true_residuals(ptr, A.indices, A.data, _row_parts(ptr), np.empty((_threads(), n, 2)), X, B, R,
                      np.ones(2, np.bool_), res)
    norms = np.sqrt(np.einsum("ij,ij->i", B, B))
    rel = np.where(norms > 0, res / np.where(norms > 0, norms, 1.0), res)
    return float(rel[0]), float(rel[1])


def _vector(b: np.ndarray, n: int, what: str) -> np.ndarray:
    b2, was_1d = _as_2d(b)
    if not was_1d and b2.shape[1] != 1:
        raise InvalidEconomyError(f"{what} must be one column, got shape {b2.shape}")
    if b2.shape[0] != n:
        raise InvalidEconomyError(f"{what} has {b2.shape[0]} rows, A has {n}")
    if not np.isfinite(b2).all():
        raise InvalidEconomyError(f"{what} holds NaN or infinity")
    return np.ascontiguousarray(b2[:, 0])


def solve_both(
    system: LeontiefSystem,
    y: np.ndarray,
    l: np.ndarray,
    *,
    method: str = "auto",
    tol: float = 1e-10,
    maxiter: int = 5000,
    verify_productive: bool = True,
    check: bool = True,
) -> tuple[np.ndarray, SolveInfo, np.ndarray, SolveInfo]:
    """Gross output ``x = (I - A)^-1 y`` and values ``v = (I - A)^-T l`` of one economy.

    The answers, checks and errors of ``solve(system, y)`` followed by
    ``solve(system, l, transpose=True)``; where both go to the trimmed BiCGSTAB
    (``method="trim-bicgstab"``, or ``"auto"`` beyond ``DENSE_MAX`` products) the two iterate in
    lockstep over one copy of ``R`` and are checked in one pass over ``A``. Otherwise (other
    methods, the scatter not paying, an iteration that fails) it falls back to the two calls.

    Parameters
    ----------
    system:
        From :func:`~gosplan.linalg.leontief.prepare`.
    y, l:
        Final demand and the value-adding input (labour) per unit of output, ``n`` each.
    method, tol, maxiter:
        As for :func:`~gosplan.linalg.leontief.solve`; ``tol`` applies to each system.
    verify_productive:
        Certify ``rho(A) < 1`` (free when ``l > 0`` and ``v > 0``, see
        :func:`~gosplan.linalg.leontief.solve`).
    check:
        Recompute both residuals from scratch after the solve (one pass over ``A`` for both).

    Returns
    -------
    x, info_x, v, info_v:
        The solutions and their :class:`~gosplan.results.SolveInfo`. When iterated together the
        time of the shared iterations is counted in ``info_x.seconds`` (``info_v.seconds``
        holds the values' own steps); both details hold ``"iterated_together": 1.0``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from gosplan.linalg.leontief import prepare
    >>> from gosplan.linalg.both import solve_both
    >>> A = sp.csr_array(np.array([[0.2, 0.3], [0.4, 0.1]]))
    >>> x, ix, v, iv = solve_both(prepare(A), np.array([10.0, 20.0]), np.array([1.0, 2.0]))
    >>> np.round(x, 6), np.round(v, 6)
    (array([25.      , 33.333333]), array([2.833333, 3.166667]))
    """
    n = system.n
    yv = _vector(y, n, "final demand y")
    lv = _vector(l, n, "the values' right-hand side l")
    chosen = "trim-bicgstab" if method == "auto" and n > leontief.DENSE_MAX else method
    done = _together(system, yv, lv, tol=tol, maxiter=maxiter, verify=verify_productive, check=check) \
        if chosen == "trim-bicgstab" else None
    if done is not None:
        return done
    x, info_x = solve(system, yv, method=method, tol=tol, maxiter=maxiter, check=check,
                      verify_productive=False, system_name="x")  # the values' solve certifies once
    v, info_v = solve(system, lv, transpose=True, method=method, tol=tol, maxiter=maxiter, check=check,
                      verify_productive=verify_productive, system_name="values")
    return x, info_x, v, info_v


def _together(
    system: LeontiefSystem, y: np.ndarray, l: np.ndarray, *, tol: float, maxiter: int, verify: bool, check: bool
) -> tuple[np.ndarray, SolveInfo, np.ndarray, SolveInfo] | None:
    """The lockstep path; ``None`` where it does not apply or an iteration failed (the caller
    then solves each system alone, with Gauss–Seidel to finish a BiCGSTAB breakdown)."""
    t0 = time.perf_counter()
    n = system.n
    _, nlevels, ptr, members = system.levels()
    rows = members[ptr[0] : ptr[1]]
    s = len(rows)
    if s == 0 or system._blocks.get("values_solves", 0):
        return None  # nothing to iterate; or a pattern solved again (keeps R^T: see _solve_trimmed)
    t_levels = time.perf_counter()
    Y, L = y.reshape(-1, 1), l.reshape(-1, 1)
    X = np.zeros((n, 1))
    V = np.zeros((n, 1))
    bad = _pull_levels(system, X, Y)
    t_sweep = time.perf_counter()
    rhs = np.empty((s, 1))
    bptr, bind, bdat = _folded_block(system, rows, X, Y, rhs)
    if not _scatter_pays(bptr):
        return None
    bptr = np.asarray(bptr, dtype=np.int64)
    B = np.empty((2, s))
    B[0] = rhs[:, 0]
    K.gather_rows(rows, L, rhs)
    B[1] = rhs[:, 0]
    del rhs
    t_extract = time.perf_counter()
    dinv = _diagonal_inverse(bptr, bind, bdat)
    Zb = B * dinv  # a Jacobi step from zero, as the single solves start
    norms = np.array([np.linalg.norm(y), np.linalg.norm(l)])
    goal = 0.5 * tol * np.where(norms > 0, norms, 1.0)
    its, ok, _ = K.bicgstab_both(bptr, bind, bdat, _row_parts(bptr), np.empty((_threads(), s, 2)), dinv, B, Zb,
                                 goal, maxiter)
    t_iterate = time.perf_counter()
    if not ok.all():
        return None
    system._blocks["values_solves"] = 1  # as after a single values solve: a later one builds R^T
    if verify and not (_certify_productive(bptr, bind, bdat, B[1][:, None], Zb[1][:, None], tol)
                       or _certify_productive(bptr, bind, bdat, B[0][:, None], Zb[0][:, None], tol)):
        _check_productive(system)  # raises, naming the group that cannot reproduce itself
    K.scatter_rows(rows, Zb[0][:, None], X)
    K.scatter_rows(rows, Zb[1][:, None], V)
    del Zb, B
    t_values = time.perf_counter()
    bad += _push_levels(system, V, L)
    if bad:
        _check_productive(system)
    t_push = time.perf_counter()
    x, v = X[:, 0], V[:, 0]
    if check:
        rx, rv = _residuals_both(system, x, y, v, l)
    else:
        rx = rv = float("nan")
    t_check = time.perf_counter()
    timings = {"x_sweep": t_sweep - t_levels, "x_extract": t_extract - t_sweep, "both_iterate": t_iterate - t_extract,
               "values_sweep": t_push - t_values, "both_check_seconds": t_check - t_push}
    system.timings.update(timings)

    def info(name: str, q: int, seconds: float, res: float) -> SolveInfo:
        return SolveInfo(
            system=name, method="trim-bicgstab", iterations=int(its[q]), relative_residual=res, tolerance=tol,
            seconds=seconds, components=int(nlevels), largest_component=s,
            converged=bool(ok[q]) if not check else bool(res <= tol),
            detail={"check_seconds": (t_check - t_push) / 2, "right_hand_sides": 1, "iterated_together": 1.0,
                    **{k: float(val) for k, val in system.timings.items()}},
        )

    return (x, info("x", 0, t_iterate - t0, rx), v, info("values", 1, t_push - t_iterate, rv))

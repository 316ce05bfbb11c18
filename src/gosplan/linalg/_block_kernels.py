"""Numba kernels of the block BiCGSTAB (:mod:`gosplan.linalg.block`).

Vectors are ``N x k`` C-ordered arrays (``k`` right-hand sides side by side), so one
pass over the matrix serves every column: each gathered (or scattered) coefficient
moves ``k`` numbers of one cache line. Every kernel touches only the rows listed in
``rows`` (split into chunks at ``bounds``, balanced by nonzeros); the other rows of
the vectors are never written.

``M`` is a CSR ``(indptr, indices, data)``; the operator is ``I - M`` over the rows
``rows`` (the block ``M[rows][:, rows]`` when the vectors are zero off ``rows``).
:func:`spmv_gather` applies it, :func:`spmv_scatter` applies ``(I - M)^T`` from the
same arrays (no transpose is built), with one accumulator per chunk.

Five parallel kernels (``spmv_scatter`` only for the transposed residual check and
in-place values); compiled on first use (8 s in all on 2 busy cores, measured) and
then loaded from the disk cache (:mod:`gosplan._jit`).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gosplan._jit import njit
from gosplan.linalg.kernels import _pivot


@njit(parallel=True)
def spmv_gather(indptr, indices, data, rows, bounds, P, V, W1, W2, part):  # pragma: no cover - compiled
    """``V_i = P_i - sum_j M_ij P_j`` for ``i`` in ``rows``; per chunk ``c`` and column
    ``q``: ``part[c, 0, q] = W1 . V``, ``part[c, 1, q] = W2 . V``, ``part[c, 2, q] = V . V``."""
    nch = bounds.shape[0] - 1
    k = P.shape[1]
    if k == 1:  # one column: scalar accumulators (the generic loop is 2x slower)
        p1 = P.reshape(-1)
        v1 = V.reshape(-1)
        w1 = W1.reshape(-1)
        w2 = W2.reshape(-1)
        for c in prange(nch):
            d0 = 0.0
            d1 = 0.0
            d2 = 0.0
            for a_ in range(bounds[c], bounds[c + 1]):
                i = rows[a_]
                acc = p1[i]
                e = np.uint64(indptr[i])
                e_end = np.uint64(indptr[i + 1])
                while e < e_end:
                    acc -= data[e] * p1[np.uint32(indices[e])]
                    e += np.uint64(1)
                v1[i] = acc
                d0 += w1[i] * acc
                d1 += w2[i] * acc
                d2 += acc * acc
            part[c, 0, 0] = d0
            part[c, 1, 0] = d1
            part[c, 2, 0] = d2
        return
    pf = P.reshape(-1)  # flat views: 2-d indexing in the inner loop was 2x slower
    vf = V.reshape(-1)
    uk = np.uint64(k)
    if k == 4:  # four columns in registers (an accumulator array was 5x slower than k = 1)
        for c in prange(nch):
            d0 = np.zeros(4)
            d1 = np.zeros(4)
            d2 = np.zeros(4)
            for a_ in range(bounds[c], bounds[c + 1]):
                i = np.uint64(rows[a_])
                ik = i * np.uint64(4)
                a0 = pf[ik]
                a1 = pf[ik + np.uint64(1)]
                a2 = pf[ik + np.uint64(2)]
                a3 = pf[ik + np.uint64(3)]
                e = np.uint64(indptr[i])
                e_end = np.uint64(indptr[i + np.uint64(1)])
                while e < e_end:
                    jk = np.uint64(indices[e]) * np.uint64(4)
                    a = data[e]
                    a0 -= a * pf[jk]
                    a1 -= a * pf[jk + np.uint64(1)]
                    a2 -= a * pf[jk + np.uint64(2)]
                    a3 -= a * pf[jk + np.uint64(3)]
                    e += np.uint64(1)
                vf[ik] = a0
                vf[ik + np.uint64(1)] = a1
                vf[ik + np.uint64(2)] = a2
                vf[ik + np.uint64(3)] = a3
                for q in range(4):
                    v = vf[ik + np.uint64(q)]
                    d0[q] += W1[i, q] * v
                    d1[q] += W2[i, q] * v
                    d2[q] += v * v
            for q in range(4):
                part[c, 0, q] = d0[q]
                part[c, 1, q] = d1[q]
                part[c, 2, q] = d2[q]
        return
    for c in prange(nch):
        acc = np.empty(k)
        d0 = np.zeros(k)
        d1 = np.zeros(k)
        d2 = np.zeros(k)
        for a_ in range(bounds[c], bounds[c + 1]):
            i = np.uint64(rows[a_])
            ik = i * uk
            for q in range(k):
                acc[q] = pf[ik + np.uint64(q)]
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + np.uint64(1)])
            while e < e_end:
                jk = np.uint64(indices[e]) * uk
                a = data[e]
                for q in range(k):
                    acc[q] -= a * pf[jk + np.uint64(q)]
                e += np.uint64(1)
            for q in range(k):
                v = acc[q]
                vf[ik + np.uint64(q)] = v
                d0[q] += W1[i, q] * v
                d1[q] += W2[i, q] * v
                d2[q] += v * v
        for q in range(k):
            part[c, 0, q] = d0[q]
            part[c, 1, q] = d1[q]
            part[c, 2, q] = d2[q]


@njit(parallel=True)
def spmv_scatter(indptr, indices, data, rows, bounds, inside, P, V, ACC, W1, W2, part):  # pragma: no cover
    """``V_j = P_j - sum_{i in rows} M_ij P_i`` for ``j`` in ``rows`` (``(I - M)^T``
    from the rows of ``M``), with the dots of :func:`spmv_gather`.

    Chunk ``c`` of ``rows`` pushes ``M_ij P_i`` into its own accumulator ``ACC[c]``
    (no write conflicts) for ``j`` with ``inside[j]``; the sum over chunks is then
    taken row by row and the accumulators are zeroed for the next call.
    ``ACC`` is ``(nchunks, N, k)`` with ``nchunks = len(bounds) - 1``, zero on entry.
    """
    nch = bounds.shape[0] - 1
    k = P.shape[1]
    pf = P.reshape(-1)
    uk = np.uint64(k)
    for c in prange(nch):
        accf = ACC[c].reshape(-1)
        pi = np.empty(k)
        for a_ in range(bounds[c], bounds[c + 1]):
            i = np.uint64(rows[a_])
            ik = i * uk
            for q in range(k):
                pi[q] = pf[ik + np.uint64(q)]
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + np.uint64(1)])
            if k == 1:
                p0 = pi[0]
                while e < e_end:
                    j = np.uint32(indices[e])
                    if inside[j]:
                        accf[j] += data[e] * p0
                    e += np.uint64(1)
            elif k == 4:
                p0, p1, p2, p3 = pi[0], pi[1], pi[2], pi[3]
                while e < e_end:
                    j = np.uint64(indices[e])
                    if inside[j]:
                        a = data[e]
                        jk = j * np.uint64(4)
                        accf[jk] += a * p0
                        accf[jk + np.uint64(1)] += a * p1
                        accf[jk + np.uint64(2)] += a * p2
                        accf[jk + np.uint64(3)] += a * p3
                    e += np.uint64(1)
            else:
                while e < e_end:
                    j = np.uint64(indices[e])
                    if inside[j]:
                        a = data[e]
                        jk = j * uk
                        for q in range(k):
                            accf[jk + np.uint64(q)] += a * pi[q]
                    e += np.uint64(1)
    for c in prange(nch):
        d0 = np.zeros(k)
        d1 = np.zeros(k)
        d2 = np.zeros(k)
        for a_ in range(bounds[c], bounds[c + 1]):
            j = np.uint64(rows[a_])
            for q in range(k):
                v = P[j, q]
                for t in range(nch):
                    v -= ACC[t, j, q]
                    ACC[t, j, q] = 0.0
                V[j, q] = v
                d0[q] += W1[j, q] * v
                d1[q] += W2[j, q] * v
                d2[q] += v * v
        for q in range(k):
            part[c, 0, q] = d0[q]
            part[c, 1, q] = d1[q]
            part[c, 2, q] = d2[q]


@njit(parallel=True)
def update(mode, rows, bounds, X, R, Rhat, P, V, W, T, B, dinv, c1, c2, part):  # pragma: no cover
    """The vector steps of BiCGSTAB on the rows ``rows``, per column ``q``
    (``c1``, ``c2``: per-column coefficients; ``part[c, :, q]``: per-chunk dots).

    ``mode`` 0: ``P = R + c1 (P - c2 V)``, ``W = D^-1 P``.
    ``mode`` 1: ``X += c1 W``, ``R -= c1 V``, ``W = D^-1 R``; ``part0 = R . R``.
    ``mode`` 2: ``X += c2 W``, ``R -= c2 T``; ``part0 = R . R``, ``part1 = Rhat . R``.
    ``mode`` 3: ``R = B - V``, ``Rhat = R``, ``P = V = 0``; ``part0 = R . R``.
    ``mode`` 4: ``X = D^-1 R``.  ``mode`` 5: ``X = 0``.
    """
    nch = bounds.shape[0] - 1
    k = X.shape[1]
    for c in prange(nch):
        d0 = np.zeros(k)
        d1 = np.zeros(k)
        for a_ in range(bounds[c], bounds[c + 1]):
            i = np.uint64(rows[a_])
            di = dinv[i]
            if mode == 0:
                for q in range(k):
                    p = R[i, q] + c1[q] * (P[i, q] - c2[q] * V[i, q])
                    P[i, q] = p
                    W[i, q] = di * p
            elif mode == 1:
                for q in range(k):
                    X[i, q] += c1[q] * W[i, q]
                    r = R[i, q] - c1[q] * V[i, q]
                    R[i, q] = r
                    W[i, q] = di * r
                    d0[q] += r * r
            elif mode == 2:
                for q in range(k):
                    X[i, q] += c2[q] * W[i, q]
                    r = R[i, q] - c2[q] * T[i, q]
                    R[i, q] = r
                    d0[q] += r * r
                    d1[q] += Rhat[i, q] * r
            elif mode == 3:
                for q in range(k):
                    r = B[i, q] - V[i, q]
                    R[i, q] = r
                    Rhat[i, q] = r
                    P[i, q] = 0.0
                    V[i, q] = 0.0
                    d0[q] += r * r
            elif mode == 4:
                for q in range(k):
                    X[i, q] = di * R[i, q]
            else:
                for q in range(k):
                    X[i, q] = 0.0
        for q in range(k):
            part[c, 0, q] = d0[q]
            part[c, 1, q] = d1[q]


@njit(parallel=True)
def diagonal_inverse(indptr, indices, data, rows, out):  # pragma: no cover - compiled
    """``out[i] = 1 / (1 - M_ii)`` for ``i`` in ``rows`` (duplicates summed); returns the
    number of rows with ``1 - M_ii <= 0`` (left at 1: such a product cannot reproduce
    itself, which the caller reports)."""
    bad = 0
    for a_ in prange(rows.shape[0]):
        i = np.uint64(rows[a_])
        piv, nonpositive = _pivot(indices, data, indptr[i], indptr[i + 1], i)
        bad += nonpositive
        out[i] = 1.0 / piv
    return bad


@njit(parallel=True)
def transpose_block(indptr, indices, data, rows, local, nchunks):  # pragma: no cover - compiled
    """CSR of ``M[rows][:, rows]^T`` in local numbering, straight from the rows of ``M``
    (``local[j]``: position of ``j`` in ``rows``, ``-1`` outside): one counting sort,
    no intermediate copy of the block. Chunks of ``rows`` count and fill disjoint
    slots of every column, so the result equals the sequential transpose."""
    s = rows.shape[0]
    step = (s + nchunks - 1) // nchunks
    cnt = np.zeros((nchunks, s + 1), np.int64)
    for t in prange(nchunks):
        lo = min(s, t * step)
        hi = min(s, lo + step)
        for a_ in range(lo, hi):
            i = np.uint64(rows[a_])
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + np.uint64(1)])
            while e < e_end:
                lj = local[np.uint32(indices[e])]
                if lj >= 0:
                    cnt[t, lj] += 1
                e += np.uint64(1)
    t_ptr = np.zeros(s + 1, np.int64)
    for j in range(s):
        tot = 0
        for t in range(nchunks):
            c = cnt[t, j]
            cnt[t, j] = t_ptr[j] + tot
            tot += c
        t_ptr[j + 1] = t_ptr[j] + tot
    nnz = t_ptr[s]
    t_ind = np.empty(nnz, np.int32)
    t_dat = np.empty(nnz, np.float64)
    for t in prange(nchunks):
        lo = min(s, t * step)
        hi = min(s, lo + step)
        for a_ in range(lo, hi):
            i = np.uint64(rows[a_])
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + np.uint64(1)])
            while e < e_end:
                lj = local[np.uint32(indices[e])]
                if lj >= 0:
                    p = cnt[t, lj]
                    t_ind[p] = a_
                    t_dat[p] = data[e]
                    cnt[t, lj] = p + 1
                e += np.uint64(1)
    return t_ptr, t_ind, t_dat

"""Numba kernels for sparse Leontief systems ``(I - M) Z = B``.

``M`` is held in CSR (``indptr, indices, data``); ``M = A`` for gross output and
``M = A^T`` for values. Right-hand sides and solutions are ``n x k`` C-ordered
arrays so that one pass over the matrix serves all ``k`` right-hand sides.

Every kernel is compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import os

# Threads that sleep at barriers instead of spinning: on a busy machine (a second
# process, a monitoring thread) spinning OpenMP workers were measured 2x slower
# than one thread. Set before numba starts its OpenMP runtime; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from numba import prange  # noqa: E402

from gosplan._jit import njit  # noqa: E402

# ----------------------------------------------------------------------------- graph


@njit
def strong_components(indptr, indices, n):  # pragma: no cover - compiled
    """Tarjan's strongly connected components, iterative (no recursion).

    Returns ``(ncomp, comp)`` with ``comp[i]`` the component of node ``i``.
    Components are numbered in the order Tarjan's algorithm completes them,
    which is a reverse topological order of the condensation: for an edge
    ``i -> j`` (``M[i, j] != 0``) between components, ``comp[j] < comp[i]``.
    """
    index = np.full(n, -1, np.int64)
    low = np.zeros(n, np.int64)
    onstack = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int32)
    cs_node = np.empty(n, np.int32)
    cs_edge = np.empty(n, np.int64)
    comp = np.full(n, -1, np.int32)
    ncomp = 0
    counter = 0
    sp = 0
    for s in range(n):
        if index[s] != -1:
            continue
        top = 0
        cs_node[0] = s
        cs_edge[0] = indptr[s]
        index[s] = counter
        low[s] = counter
        counter += 1
        stack[sp] = s
        sp += 1
        onstack[s] = True
        while top >= 0:
            v = cs_node[top]
            e = cs_edge[top]
            end = indptr[v + 1]
            pushed = False
            while e < end:
                w = indices[e]
                e += 1
                if index[w] == -1:
                    cs_edge[top] = e
                    top += 1
                    cs_node[top] = w
                    cs_edge[top] = indptr[w]
                    index[w] = counter
                    low[w] = counter
                    counter += 1
                    stack[sp] = w
                    sp += 1
                    onstack[w] = True
                    pushed = True
                    break
                elif onstack[w]:
                    if index[w] < low[v]:
                        low[v] = index[w]
            if pushed:
                continue
            if low[v] == index[v]:
                while True:
                    sp -= 1
                    w = stack[sp]
                    onstack[w] = False
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
            top -= 1
            if top >= 0:
                u = cs_node[top]
                if low[v] < low[u]:
                    low[u] = low[v]
    return ncomp, comp


@njit
def group_by_component(comp, ncomp):  # pragma: no cover - compiled
    """Counting sort of nodes by component (or level): ``(ptr, members)`` so that
    group ``c`` is ``members[ptr[c]:ptr[c+1]]``, its nodes in ascending index order
    (memory locality; measured faster than a depth-first Gauss-Seidel order)."""
    n = comp.shape[0]
    ptr = np.zeros(ncomp + 1, np.int64)
    for i in range(n):
        ptr[comp[i] + 1] += 1
    for c in range(ncomp):
        ptr[c + 1] += ptr[c]
    fill = ptr[:-1].copy()
    members = np.empty(n, np.int32)
    for i in range(n):
        c = comp[i]
        members[fill[c]] = i
        fill[c] += 1
    return ptr, members



# ----------------------------------------------------------------------------- products


@njit(parallel=True)
def leontief_residual(indptr, indices, data, parts, Z, B, R):  # pragma: no cover - compiled
    """``R = B - (I - M) Z`` for all rows, in parallel (``parts``: each thread's rows, with
    equal shares of the coefficients). Returns nothing."""
    n, k = Z.shape
    for c in prange(parts.shape[0] - 1):
        for i in range(parts[c], parts[c + 1]):
            if k == 1:
                acc = B[i, 0] - Z[i, 0]
                e = np.uint64(indptr[i])
                e_end = np.uint64(indptr[i + 1])
                while e < e_end:
                    acc += data[e] * Z[np.uint32(indices[e]), 0]
                    e += np.uint64(1)
                R[i, 0] = acc
                continue
            for q in range(k):
                R[i, q] = B[i, q] - Z[i, q]
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + 1])
            while e < e_end:
                j = np.uint32(indices[e])
                a = data[e]
                for q in range(k):
                    R[i, q] += a * Z[j, q]
                e += np.uint64(1)


# ----------------------------------------------------------------------------- rows


@njit(inline="always")
def _row1(indptr, indices, data, i, Z):  # pragma: no cover - compiled
    """``(sum_{j != i} M_ij z_j, M_ii)`` for one right-hand side (scalar accumulator)."""
    acc = 0.0
    d = 0.0
    e = np.uint64(indptr[i])
    e_end = np.uint64(indptr[i + 1])
    while e < e_end:
        j = np.uint32(indices[e])
        if j == i:
            d += data[e]
        else:
            acc += data[e] * Z[j, 0]
        e += np.uint64(1)
    return acc, d


@njit(inline="always")
def _rowk(indptr, indices, data, i, Z, out):  # pragma: no cover - compiled
    """``out += sum_{j != i} M_ij Z[j, :]``; returns ``M_ii``."""
    k = Z.shape[1]
    d = 0.0
    e = np.uint64(indptr[i])
    e_end = np.uint64(indptr[i + 1])
    while e < e_end:
        j = np.uint32(indices[e])
        if j == i:
            d += data[e]
        else:
            a = data[e]
            for q in range(k):
                out[q] += a * Z[j, q]
        e += np.uint64(1)
    return d


# ----------------------------------------------------------------------------- sweeps


@njit
def sweep_components(
    indptr, indices, data, comp, comp_ptr, members, c_first, c_last, step, small, Z, B, flags
):  # pragma: no cover - compiled
    """Solve components ``c_first, c_first+step, ...`` (up to ``c_last`` inclusive)
    of ``(I - M) Z = B`` exactly, in order, while they are small.

    Every entry ``M[i, j]`` of a row in component ``c`` points to ``c`` itself or to
    an already solved component, so a component is solved from final values only.
    Singletons: ``z_i = (b_i + sum_{j != i} M_ij z_j) / (1 - M_ii)``; components of at
    most ``small`` nodes: a dense solve of their block. Stops at the first component
    larger than ``small`` and returns its number (or ``c_last + step`` when done).
    ``flags[c] = 1`` marks a component whose block failed the productivity test
    (``1 - M_ii <= 0``, or ``(I - M_cc)^-1 1`` not positive).
    """
    k = Z.shape[1]
    c = c_first
    while c != c_last + step:
        lo = comp_ptr[c]
        hi = comp_ptr[c + 1]
        s = hi - lo
        if s == 1:
            i = members[lo]
            if k == 1:
                acc, d = _row1(indptr, indices, data, i, Z)
                Z[i, 0] = B[i, 0] + acc
            else:
                for q in range(k):
                    Z[i, q] = B[i, q]
                d = _rowk(indptr, indices, data, i, Z, Z[i])
            piv = 1.0 - d
            if piv <= 0.0:
                flags[c] = 1
                piv = 1.0 if piv == 0.0 else piv
            for q in range(k):
                Z[i, q] /= piv
        elif s <= small:
            # dense block solve; local numbering by position in members
            Mloc = np.eye(s)
            rhs = np.zeros((s, k + 1))
            for a_ in range(s):
                i = members[lo + a_]
                for q in range(k):
                    rhs[a_, q] = B[i, q]
                rhs[a_, k] = 1.0
                e = np.uint64(indptr[i])
                e_end = np.uint64(indptr[i + 1])
                while e < e_end:
                    j = np.uint32(indices[e])
                    if comp[j] == c:
                        # find local position of j (blocks are small: linear scan)
                        for b_ in range(s):
                            if members[lo + b_] == j:
                                Mloc[a_, b_] -= data[e]
                                break
                    else:
                        a = data[e]
                        for q in range(k):
                            rhs[a_, q] += a * Z[j, q]
                    e += np.uint64(1)
            sol = np.linalg.solve(Mloc, rhs)
            for a_ in range(s):
                if not (sol[a_, k] > 0.0):
                    flags[c] = 1
                i = members[lo + a_]
                for q in range(k):
                    Z[i, q] = sol[a_, q]
        else:
            return c
        c += step
    return c


@njit(parallel=True)
def jacobi_component(indptr, indices, data, rows, Z, B, Znew):  # pragma: no cover - compiled
    """One Jacobi step on the rows ``rows`` of one component, in parallel.

    ``Znew[a] = (b_i + sum_{j != i} M_ij Z[j]) / (1 - M_ii)`` for ``i = rows[a]``,
    then ``Z[rows] = Znew``. Returns the squared norm of the block residual
    ``(1 - M_ii)(Znew - Z)`` before the update, per right-hand side.
    """
    s = rows.shape[0]
    k = Z.shape[1]
    nthreads = 64
    chunk = (s + nthreads - 1) // nthreads
    partial = np.zeros((nthreads, k))
    for t in prange(nthreads):
        start = t * chunk
        stop = min(s, start + chunk)
        for a_ in range(start, stop):
            i = rows[a_]
            if k == 1:
                acc, d = _row1(indptr, indices, data, i, Z)
                Znew[a_, 0] = B[i, 0] + acc
            else:
                for q in range(k):
                    Znew[a_, q] = B[i, q]
                d = _rowk(indptr, indices, data, i, Z, Znew[a_])
            piv = 1.0 - d
            for q in range(k):
                r = Znew[a_, q] - piv * Z[i, q]
                partial[t, q] += r * r
                Znew[a_, q] /= piv
    for a_ in prange(s):
        i = rows[a_]
        for q in range(k):
            Z[i, q] = Znew[a_, q]
    out = np.zeros(k)
    for t in range(nthreads):
        for q in range(k):
            out[q] += partial[t, q]
    return out


@njit
def gauss_seidel_component(indptr, indices, data, rows, Z, B, reverse):  # pragma: no cover
    """One Gauss-Seidel sweep in place over ``rows`` (backwards when ``reverse``).

    Returns the squared norm of the residual of each row at the moment it was
    updated (a cheap upper estimate of the block residual), per right-hand side.
    """
    s = rows.shape[0]
    k = Z.shape[1]
    out = np.zeros(k)
    acc = np.empty(k)
    for t in range(s):
        a_ = s - 1 - t if reverse else t
        i = rows[a_]
        if k == 1:
            a1, d = _row1(indptr, indices, data, i, Z)
            acc[0] = B[i, 0] + a1
        else:
            for q in range(k):
                acc[q] = B[i, q]
            d = _rowk(indptr, indices, data, i, Z, acc)
        piv = 1.0 - d
        for q in range(k):
            r = acc[q] - piv * Z[i, q]
            out[q] += r * r
            Z[i, q] = acc[q] / piv
    return out



@njit(parallel=True)
def block_rhs(indptr, indices, data, rows, comp, c, Z, B, out):  # pragma: no cover
    """``out[a] = b_i + sum_{j not in c} M_ij z_j``: right-hand side of component ``c``."""
    s = rows.shape[0]
    k = Z.shape[1]
    for a_ in prange(s):
        i = rows[a_]
        for q in range(k):
            out[a_, q] = B[i, q]
        e = np.uint64(indptr[i])
        e_end = np.uint64(indptr[i + 1])
        while e < e_end:
            j = np.uint32(indices[e])
            if comp[j] != c:
                a = data[e]
                for q in range(k):
                    out[a_, q] += a * Z[j, q]
            e += np.uint64(1)



# ----------------------------------------------------------------------------- blocks


@njit(parallel=True)
def extract_block(indptr, indices, data, rows, parts, local, Z, B, rhs, fold):  # pragma: no cover
    """Local CSR of the block ``M[rows][:, rows]`` and its constant right-hand side.

    ``local[j]`` is the position of node ``j`` in ``rows`` (``-1`` outside the block).
    With ``fold``, entries to nodes outside the block are folded into
    ``rhs[a] = B[rows[a]] + sum_{j not in block} M_ij Z[j]`` (those ``Z[j]`` are final);
    without, ``rhs[a] = B[rows[a]]``. ``parts`` bounds the positions in ``rows`` each thread
    takes, with equal shares of the coefficients (see :func:`_minus_product`).
    Returns ``(ptr, ind, dat)`` with local column numbers.
    """
    s = rows.shape[0]
    k = Z.shape[1]
    nparts = parts.shape[0] - 1
    counts = np.zeros(s + 1, np.int64)
    for c in prange(nparts):
        for a_ in range(parts[c], parts[c + 1]):
            i = rows[a_]
            cnt = 0
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + 1])
            while e < e_end:
                if local[np.uint32(indices[e])] >= 0:
                    cnt += 1
                e += np.uint64(1)
            counts[a_ + 1] = cnt
    for a_ in range(s):
        counts[a_ + 1] += counts[a_]
    nnz = counts[s]
    ind = np.empty(nnz, np.int32)
    dat = np.empty(nnz, np.float64)
    for c in prange(nparts):
        for a_ in range(parts[c], parts[c + 1]):
            i = rows[a_]
            p = counts[a_]
            for q in range(k):
                rhs[a_, q] = B[i, q]
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + 1])
            while e < e_end:
                j = np.uint32(indices[e])
                lj = local[j]
                if lj >= 0:
                    ind[p] = lj
                    dat[p] = data[e]
                    p += 1
                elif fold:
                    a = data[e]
                    for q in range(k):
                        rhs[a_, q] += a * Z[j, q]
                e += np.uint64(1)
    return counts, ind, dat


@njit
def push_sweep(
    indptr, indices, data, comp, comp_ptr, members, c_first, c_last, step, small, Z, B, ACC, flags
):  # pragma: no cover - compiled
    """Solve components of ``(I - M)^T Z = B`` exactly, in order, from the CSR of ``M``.

    The transposed system needs columns of ``M``; instead, each solved node pushes its
    value along its row: ``ACC[j] += M_ij z_i``. When a component's turn comes, every
    node feeding it has pushed, so ``ACC`` holds its whole outside contribution.
    Stops at the first component larger than ``small`` (returned) like
    :func:`sweep_components`; the caller solves it and calls :func:`push_rows`.
    """
    k = Z.shape[1]
    c = c_first
    while c != c_last + step:
        lo = comp_ptr[c]
        hi = comp_ptr[c + 1]
        s = hi - lo
        if s == 1:
            i = members[lo]
            d = 0.0
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + 1])
            while e < e_end:
                if np.uint32(indices[e]) == i:
                    d += data[e]
                e += np.uint64(1)
            piv = 1.0 - d
            if piv <= 0.0:
                flags[c] = 1
                piv = 1.0 if piv == 0.0 else piv
            for q in range(k):
                Z[i, q] = (B[i, q] + ACC[i, q]) / piv
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + 1])
            while e < e_end:
                j = np.uint32(indices[e])
                if j != i:
                    a = data[e]
                    for q in range(k):
                        ACC[j, q] += a * Z[i, q]
                e += np.uint64(1)
        elif s <= small:
            Mloc = np.eye(s)
            rhs = np.zeros((s, k + 1))
            for a_ in range(s):
                i = members[lo + a_]
                for q in range(k):
                    rhs[a_, q] = B[i, q] + ACC[i, q]
                rhs[a_, k] = 1.0
            for a_ in range(s):
                i = members[lo + a_]
                e = np.uint64(indptr[i])
                e_end = np.uint64(indptr[i + 1])
                while e < e_end:
                    j = np.uint32(indices[e])
                    if comp[j] == c:
                        for b_ in range(s):
                            if members[lo + b_] == j:
                                Mloc[b_, a_] -= data[e]  # transposed block
                                break
                    e += np.uint64(1)
            sol = np.linalg.solve(Mloc, rhs)
            for a_ in range(s):
                if not (sol[a_, k] > 0.0):
                    flags[c] = 1
                i = members[lo + a_]
                for q in range(k):
                    Z[i, q] = sol[a_, q]
            push_rows(indptr, indices, data, comp, c, members[lo:hi], Z, ACC)
        else:
            return c
        c += step
    return c


@njit
def push_rows(indptr, indices, data, comp, c, rows, Z, ACC):  # pragma: no cover - compiled
    """``ACC[j] += M_ij Z[i]`` for ``i`` in ``rows`` (component ``c``) and ``j`` outside ``c``."""
    k = Z.shape[1]
    for a_ in range(rows.shape[0]):
        i = rows[a_]
        e = np.uint64(indptr[i])
        e_end = np.uint64(indptr[i + 1])
        while e < e_end:
            j = np.uint32(indices[e])
            if comp[j] != c:
                a = data[e]
                for q in range(k):
                    ACC[j, q] += a * Z[i, q]
            e += np.uint64(1)


# Row moves and the diagonal: numpy/scipy do these memory-bound passes in C as fast as a
# compiled loop (measured in benchmarks/bench_coldstart.py), so they are plain functions
# with the kernels' signatures and cost no compilation on a first run.


def set_local(rows: np.ndarray, local: np.ndarray, value: bool) -> None:
    """``local[rows[a]] = a`` (or ``-1`` when ``value`` is False)."""
    if value:
        local[rows] = np.arange(rows.shape[0], dtype=local.dtype)
    else:
        local[rows] = -1


def gather_rows(rows: np.ndarray, src: np.ndarray, out: np.ndarray) -> None:
    """``out[a, :] = src[rows[a], :]``."""
    np.take(src, rows, axis=0, out=out)


def scatter_rows(rows: np.ndarray, values: np.ndarray, Z: np.ndarray) -> None:
    """``Z[rows[a], :] = values[a, :]``."""
    Z[rows] = values


def csr_diagonal(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Diagonal of a square CSR matrix (duplicates summed)."""
    n = indptr.shape[0] - 1
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr.astype(np.int64, copy=False)))
    on = indices == row
    return np.bincount(row[on], weights=data[on], minlength=n).astype(np.float64, copy=False)


# ----------------------------------------------------------------------------- levels (trimming)


@njit(parallel=True)
def trim_pass(indptr, indices, cand, level, t, out):  # pragma: no cover - compiled
    """``out[a]`` is True when every user ``j != i`` of ``i = cand[a]`` (row ``i`` of
    ``A``) already has a level in ``1 .. t-1``: then ``i`` gets level ``t``.
    Reads only levels set by earlier passes, so the result is deterministic."""
    for a_ in prange(cand.shape[0]):
        i = cand[a_]
        ok = True
        e = np.uint64(indptr[i])
        e_end = np.uint64(indptr[i + 1])
        while e < e_end:
            j = np.uint32(indices[e])
            if j != i:
                lj = level[j]
                if lj == 0 or lj >= t:
                    ok = False
                    break
            e += np.uint64(1)
        out[a_] = ok


@njit(parallel=True)
def solve_level_pull(indptr, indices, data, nodes, Z, B):  # pragma: no cover - compiled
    """``z_i = (b_i + sum_{j != i} M_ij z_j) / (1 - M_ii)`` for every ``i`` in ``nodes``,
    in parallel: their users are all solved already. Returns the number of nodes
    with ``1 - M_ii <= 0`` (unproductive on their own)."""
    k = Z.shape[1]
    bad = 0
    for a_ in prange(nodes.shape[0]):
        i = nodes[a_]
        if k == 1:
            acc, d = _row1(indptr, indices, data, i, Z)
            Z[i, 0] = B[i, 0] + acc
        else:
            for q in range(k):
                Z[i, q] = B[i, q]
            d = _rowk(indptr, indices, data, i, Z, Z[i])
        piv = 1.0 - d
        if piv <= 0.0:
            bad += 1
            piv = 1.0
        for q in range(k):
            Z[i, q] /= piv
    return bad


def transpose_csr_parallel(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_cols: int, nchunks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(indptr int64, indices int32, data float64)`` of ``M^T``, duplicates kept.

    scipy's counting sort (``csr_tocsc``, in C++): as fast on 2 cores as the parallel numba
    kernel it replaced (0.31 s against 0.33 s for 10^7 nonzeros, benchmarks/bench_coldstart.py
    notes) without its 1.8 s of compilation on a first run. ``nchunks`` is accepted for
    the callers and unused; within each row of ``M^T`` the columns ascend, as before.
    """
    del nchunks
    n_rows = indptr.shape[0] - 1
    T = sp.csr_array((data, indices, indptr), shape=(n_rows, int(n_cols))).T.tocsr()
    return (
        T.indptr.astype(np.int64, copy=False),
        T.indices.astype(np.int32, copy=False),
        T.data.astype(np.float64, copy=False),
    )


# ----------------------------------------------------------------------------- BiCGSTAB


@njit(inline="always")
def _minus_row(ptr, ind, dat, z, i):  # pragma: no cover - compiled
    """``z_i - sum_j M_ij z_j`` along row ``i`` of ``M``."""
    acc = z[i]
    e = np.uint64(ptr[i])
    e_end = np.uint64(ptr[i + 1])
    while e < e_end:
        acc -= dat[e] * z[np.uint32(ind[e])]
        e += np.uint64(1)
    return acc


@njit(parallel=True)
def _minus_product(ptr, ind, dat, parts, ACC, z, out, weight, transposed):  # pragma: no cover - compiled
    """``out = z - M z``, gathered along the rows of ``M``; or, ``transposed``,
    ``out = z - M^T z``, scattered along the rows (``ACC``: one accumulator of ``len(z)``
    per part of the rows), so that no transpose of ``M`` is needed. ``parts`` bounds the
    parts of the rows, each holding an equal share of the coefficients: a product's rows
    are far from equal (a universal input has a user in every row), and the gather over
    equal numbers of rows a thread was 1.3x slower (184 M coefficients, 2 threads). The
    gather without parts (``parts`` of length 1) leaves the split of the rows to numba.
    Returns ``weight' out``."""
    s = z.shape[0]
    nparts = parts.shape[0] - 1
    dot = 0.0
    if not transposed and nparts == 0:  # no parts given: numba's split of the rows
        for i in prange(s):
            acc = _minus_row(ptr, ind, dat, z, i)
            out[i] = acc
            dot += weight[i] * acc
        return dot
    if not transposed:
        for c in prange(nparts):
            dc = 0.0
            for i in range(parts[c], parts[c + 1]):
                acc = _minus_row(ptr, ind, dat, z, i)
                out[i] = acc
                dc += weight[i] * acc
            dot += dc
        return dot
    for c in prange(nparts):
        acc_c = ACC[c]
        for j in range(s):
            acc_c[j] = 0.0
        for i in range(parts[c], parts[c + 1]):
            zi = z[i]
            if zi != 0.0:
                e = np.uint64(ptr[i])
                e_end = np.uint64(ptr[i + 1])
                while e < e_end:
                    acc_c[np.uint32(ind[e])] += dat[e] * zi
                    e += np.uint64(1)
    for j in prange(s):
        tot = 0.0
        for c in range(nparts):
            tot += ACC[c, j]
        v = z[j] - tot
        out[j] = v
        dot += weight[j] * v
    return dot


@njit(parallel=True)
def _true_residual(ptr, ind, dat, parts, ACC, x, b, r, transposed):  # pragma: no cover - compiled
    """``r = b - (I - M) x`` (or ``(I - M)^T x``); returns ``||r||_2``."""
    _minus_product(ptr, ind, dat, parts, ACC, x, r, b, transposed)  # its dot with b is not needed
    rr = 0.0
    for i in prange(b.shape[0]):
        r[i] = b[i] - r[i]
        rr += r[i] * r[i]
    return np.sqrt(rr)


@njit(parallel=True)
def bicgstab(ptr, ind, dat, parts, ACC, dinv, b, x, goal, maxiter, transposed):  # pragma: no cover - compiled
    """BiCGSTAB (van der Vorst 1992) for ``(I - M) x = b``, or with ``transposed`` for
    ``(I - M)^T x = b`` (``M^T z`` scattered along the rows of ``M``; ``parts``, ``ACC`` as in
    :func:`_minus_product`, ``ACC`` unused without ``transposed``), right-preconditioned by ``D^-1 = diag(dinv)``,
    every vector operation fused into parallel loops.

    ``x`` holds the start and receives the solution. Stops when the *true*
    residual ``||b - (I - M) x||_2 <= goal`` (the recurrence's residual is checked
    against it before stopping, and the method restarts from ``x`` if they drift
    apart). Returns ``(iterations, converged, residual_norm)``.
    """
    s = b.shape[0]
    r = np.empty(s)
    rhat = np.empty(s)
    p = np.zeros(s)
    v = np.zeros(s)
    phat = np.empty(s)
    sv = np.empty(s)
    shat = np.empty(s)
    t = np.empty(s)
    res = _true_residual(ptr, ind, dat, parts, ACC, x, b, r, transposed)
    it = 0
    restarts = 0
    while res > goal and it < maxiter and restarts < 5:
        restarts += 1
        for i in prange(s):
            rhat[i] = r[i]
            p[i] = 0.0
            v[i] = 0.0
        rho_old = 1.0
        alpha = 1.0
        omega = 1.0
        while it < maxiter:
            it += 1
            rho = 0.0
            for i in prange(s):
                rho += rhat[i] * r[i]
            if rho == 0.0 or not np.isfinite(rho):
                break
            beta = (rho / rho_old) * (alpha / omega)
            for i in prange(s):
                p[i] = r[i] + beta * (p[i] - omega * v[i])
                phat[i] = p[i] * dinv[i]
            rv = _minus_product(ptr, ind, dat, parts, ACC, phat, v, rhat, transposed)
            if rv == 0.0:
                break
            alpha = rho / rv
            ss = 0.0
            for i in prange(s):
                sv[i] = r[i] - alpha * v[i]
                shat[i] = sv[i] * dinv[i]
                ss += sv[i] * sv[i]
            if np.sqrt(ss) <= goal:
                for i in prange(s):
                    x[i] += alpha * phat[i]
                break
            ts = _minus_product(ptr, ind, dat, parts, ACC, shat, t, sv, transposed)
            tt = 0.0
            for i in prange(s):
                tt += t[i] * t[i]
            omega = ts / tt if tt > 0.0 else 0.0
            rr = 0.0
            for i in prange(s):
                x[i] += alpha * phat[i] + omega * shat[i]
                r[i] = sv[i] - omega * t[i]
                rr += r[i] * r[i]
            rho_old = rho
            if omega == 0.0 or not np.isfinite(rr) or np.sqrt(rr) <= goal:
                break
        res = _true_residual(ptr, ind, dat, parts, ACC, x, b, r, transposed)
        if not np.isfinite(res):
            break
    return it, res <= goal, res


@njit(parallel=True)
def _minus_products_both(ptr, ind, dat, parts, W, zx, outx, wx, zv, outv, wv):  # pragma: no cover - compiled
    """``outx = zx - M zx`` (gathered) and ``outv = zv - M^T zv`` (scattered) in one pass over
    the rows of ``M``: each coefficient is read once for both. ``W`` is ``nparts x s x 2``:
    part ``c`` (rows ``parts[c]:parts[c+1]``, as in :func:`_minus_product`) keeps a copy of
    ``zx`` beside its accumulator, so the entry gathered and the entry scattered for a
    coefficient share one cache line (measured 0.54 s against 0.66 s a product with the two
    apart, 184 M coefficients). Returns ``(wx' outx, wv' outv)``."""
    s = zx.shape[0]
    nparts = parts.shape[0] - 1
    dotx = 0.0
    for c in prange(nparts):
        Wc = W[c]
        for j in range(s):
            Wc[j, 0] = zx[j]
            Wc[j, 1] = 0.0
        dc = 0.0
        for i in range(parts[c], parts[c + 1]):
            acc = zx[i]
            zi = zv[i]
            e = np.uint64(ptr[i])
            e_end = np.uint64(ptr[i + 1])
            while e < e_end:
                j = np.uint32(ind[e])
                a = dat[e]
                acc -= a * Wc[j, 0]
                Wc[j, 1] += a * zi
                e += np.uint64(1)
            outx[i] = acc
            dc += wx[i] * acc
        dotx += dc
    dotv = 0.0
    for j in prange(s):
        tot = 0.0
        for c in range(nparts):
            tot += W[c, j, 1]
        val = zv[j] - tot
        outv[j] = val
        dotv += wv[j] * val
    return dotx, dotv


@njit
def _products(ptr, ind, dat, parts, W, Z, out, Wt, on, dots):  # pragma: no cover - compiled
    """``out[0] = Z[0] - M Z[0]`` where ``on[0]``, ``out[1] = Z[1] - M^T Z[1]`` where
    ``on[1]``: one pass over ``M`` when both (``W`` as in :func:`_minus_products_both`; a
    lone scatter accumulates in ``W[:, :, 1]``); ``dots[q] = Wt[q]' out[q]``."""
    if on[0] and on[1]:
        dots[0], dots[1] = _minus_products_both(ptr, ind, dat, parts, W, Z[0], out[0], Wt[0], Z[1], out[1], Wt[1])
    elif on[0]:
        dots[0] = _minus_product(ptr, ind, dat, parts, W[:, :, 1], Z[0], out[0], Wt[0], False)
    elif on[1]:
        dots[1] = _minus_product(ptr, ind, dat, parts, W[:, :, 1], Z[1], out[1], Wt[1], True)


@njit(parallel=True)
def _true_residuals(ptr, ind, dat, parts, W, X, B, R, on, res):  # pragma: no cover - compiled
    """``R[q] = B[q] - (I - M) X[q]`` (``q = 0``) and ``B[q] - (I - M)^T X[q]`` (``q = 1``)
    where ``on[q]``, in one pass when both; ``res[q] = ||R[q]||_2``."""
    dots = np.zeros(2)
    _products(ptr, ind, dat, parts, W, X, R, B, on, dots)  # their dots with B are not needed
    s = B.shape[1]
    for q in range(2):
        if on[q]:
            rr = 0.0
            for i in prange(s):
                R[q, i] = B[q, i] - R[q, i]
                rr += R[q, i] * R[q, i]
            res[q] = np.sqrt(rr)


@njit(parallel=True)
def bicgstab_both(ptr, ind, dat, parts, W, dinv, B, X, goal, maxiter):  # pragma: no cover - compiled
    """:func:`bicgstab` on ``(I - M) X[0] = B[0]`` and ``(I - M)^T X[1] = B[1]`` in lockstep:
    while both iterate, each product ``M z`` (gathered) and ``M^T w`` (scattered) shares one
    pass over the rows of ``M``; each system keeps its own recurrences, true-residual stops
    and restarts, and one that has stopped leaves the other to iterate alone.
    ``B``, ``X``: ``2 x s``; ``goal``: 2; ``parts``, ``W`` as in :func:`_minus_products_both`.
    Returns ``(iterations, converged, residual norms)``, each of length 2."""
    s = B.shape[1]
    r = np.empty((2, s))
    rhat = np.empty((2, s))
    p = np.zeros((2, s))
    v = np.zeros((2, s))
    phat = np.empty((2, s))
    sv = np.empty((2, s))
    shat = np.empty((2, s))
    t = np.empty((2, s))
    res = np.zeros(2)
    its = np.zeros(2, np.int64)
    restarts = np.zeros(2, np.int64)
    state = np.zeros(2, np.int64)  # 0: judge the true residual, 1: iterating, 2: finished, 3: stopped
    rho = np.zeros(2)
    rho_old = np.ones(2)
    alpha = np.ones(2)
    omega = np.ones(2)
    on = np.ones(2, np.bool_)
    dots = np.zeros(2)
    _true_residuals(ptr, ind, dat, parts, W, X, B, r, on, res)
    while True:
        for q in range(2):
            if state[q] == 0:
                if res[q] > goal[q] and its[q] < maxiter and restarts[q] < 5:
                    restarts[q] += 1
                    for i in prange(s):
                        rhat[q, i] = r[q, i]
                        p[q, i] = 0.0
                        v[q, i] = 0.0
                    rho_old[q] = 1.0
                    alpha[q] = 1.0
                    omega[q] = 1.0
                    state[q] = 1
                else:
                    state[q] = 2
        if state[0] == 2 and state[1] == 2:
            break
        for q in range(2):
            on[q] = False
            if state[q] != 1:
                continue
            if its[q] >= maxiter:
                state[q] = 3
                continue
            its[q] += 1
            rq = 0.0
            for i in prange(s):
                rq += rhat[q, i] * r[q, i]
            if rq == 0.0 or not np.isfinite(rq):
                state[q] = 3
                continue
            beta = (rq / rho_old[q]) * (alpha[q] / omega[q])
            rho[q] = rq
            om = omega[q]
            for i in prange(s):
                p[q, i] = r[q, i] + beta * (p[q, i] - om * v[q, i])
                phat[q, i] = p[q, i] * dinv[i]
            on[q] = True
        _products(ptr, ind, dat, parts, W, phat, v, rhat, on, dots)
        for q in range(2):
            if not on[q]:
                continue
            if dots[q] == 0.0:
                state[q] = 3
                on[q] = False
                continue
            a_ = rho[q] / dots[q]
            alpha[q] = a_
            ss = 0.0
            for i in prange(s):
                sv[q, i] = r[q, i] - a_ * v[q, i]
                shat[q, i] = sv[q, i] * dinv[i]
                ss += sv[q, i] * sv[q, i]
            if np.sqrt(ss) <= goal[q]:
                for i in prange(s):
                    X[q, i] += a_ * phat[q, i]
                state[q] = 3
                on[q] = False
        _products(ptr, ind, dat, parts, W, shat, t, sv, on, dots)
        for q in range(2):
            if not on[q]:
                continue
            tt = 0.0
            for i in prange(s):
                tt += t[q, i] * t[q, i]
            om = dots[q] / tt if tt > 0.0 else 0.0
            omega[q] = om
            a_ = alpha[q]
            rr = 0.0
            for i in prange(s):
                X[q, i] += a_ * phat[q, i] + om * shat[q, i]
                r[q, i] = sv[q, i] - om * t[q, i]
                rr += r[q, i] * r[q, i]
            rho_old[q] = rho[q]
            if om == 0.0 or not np.isfinite(rr) or np.sqrt(rr) <= goal[q]:
                state[q] = 3
        for q in range(2):
            on[q] = state[q] == 3
        if on[0] or on[1]:
            _true_residuals(ptr, ind, dat, parts, W, X, B, r, on, res)
            for q in range(2):
                if on[q]:
                    state[q] = 0 if np.isfinite(res[q]) else 2
    return its, res <= goal, res


@njit(inline="always")
def _pivot(ind, dat, lo, hi, i):  # pragma: no cover - compiled
    """``(1 - M_ii, bad)`` from the entries ``lo:hi`` of row (or column) ``i``; where ``1 - M_ii <= 0``
    the pivot is 1 and ``bad`` is 1 (counted for the productivity check)."""
    d = 0.0
    e = np.uint64(lo)
    e_end = np.uint64(hi)
    while e < e_end:
        if np.uint64(ind[e]) == np.uint64(i):
            d += dat[e]
        e += np.uint64(1)
    piv = 1.0 - d
    if piv <= 0.0:
        return 1.0, 1
    return piv, 0


@njit(parallel=True)
def gather_level(cptr, cind, cdat, members, lo, hi, base, Z, B):  # pragma: no cover - compiled
    """Values system on a level of trimmed nodes ``members[lo:hi]`` (all their inputs solved),
    gathering along their columns of ``A``: ``z_j = (b_j + sum_{i != j} A_ij z_i) / (1 - A_jj)``,
    column ``j = members[a]`` held as row ``a - base`` of ``(cptr, cind, cdat)``. In parallel over
    the level's nodes: no accumulators. Returns the number of nodes with ``1 - A_jj <= 0``."""
    k = Z.shape[1]
    bad = 0
    for a in prange(lo, hi):
        j = members[a]
        r = a - base
        piv, nonpositive = _pivot(cind, cdat, cptr[r], cptr[r + 1], j)
        bad += nonpositive
        for q in range(k):
            acc = B[j, q]
            for e in range(cptr[r], cptr[r + 1]):
                i = cind[e]
                if i != j:
                    acc += cdat[e] * Z[i, q]
            Z[j, q] = acc / piv
    return bad


@njit(parallel=True)
def push_level_parallel(indptr, indices, data, nodes, parts, level, Z, B, ACC, finalize):  # pragma: no cover
    """Values system on a level of trimmed nodes, by pushing along rows of ``A``.

    With ``finalize``: ``z_i = (b_i + ACC_i) / (1 - A_ii)`` first (all inputs of ``i``
    have pushed). Then ``ACC_j += A_ij z_i`` for users ``j != i`` with ``level[j] > 0``
    (users in the remaining block ``R`` were part of its own solve). ``ACC`` is ``(nchunks, n, k)``, one accumulator per
    chunk of ``nodes`` (no write conflicts; ``parts`` bounds the chunks, with equal shares of the
    coefficients); a node's total is the sum over chunks.
    Returns the number of nodes with ``1 - A_ii <= 0``."""
    nchunks = ACC.shape[0]
    k = Z.shape[1]
    m = nodes.shape[0]
    bad = 0
    if finalize:
        for a_ in prange(m):
            i = nodes[a_]
            piv, nonpositive = _pivot(indices, data, indptr[i], indptr[i + 1], i)
            bad += nonpositive
            for q in range(k):
                tot = B[i, q]
                for c in range(nchunks):
                    tot += ACC[c, i, q]
                Z[i, q] = tot / piv
    for c in prange(nchunks):
        for a_ in range(parts[c], parts[c + 1]):
            i = nodes[a_]
            e = np.uint64(indptr[i])
            e_end = np.uint64(indptr[i + 1])
            while e < e_end:
                j = np.uint32(indices[e])
                if j != i and level[j] > 0:
                    a = data[e]
                    for q in range(k):
                        ACC[c, j, q] += a * Z[i, q]
                e += np.uint64(1)
    return bad

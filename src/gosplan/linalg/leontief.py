"""Solving Leontief systems ``(I - A) X = Y`` and ``(I - A)^T V = L`` at any scale.

Methods
-------
``dense``
    LU factorisation of ``I - A`` (LAPACK ``getrf``), one factorisation for both
    systems. For small tables only (``n <=`` :data:`DENSE_MAX`).
``trim-gs`` / ``trim-jacobi`` / ``trim-bicgstab``
    Products no product uses are peeled off, then those all of whose users are
    peeled, level by level (streaming parallel passes over the rows of ``A``);
    every level is solved exactly and in parallel, and only the remainder ``R``
    (the products on or upstream of a loop, closed under "is an input of") is
    iterated, on a compact copy of its own block, by Gauss-Seidel, Jacobi or
    BiCGSTAB. See ``docs/maths.md``. With ``inplace_share`` (off by default: measured
    slower), ``trim-bicgstab`` iterates gross output on the rows of ``A`` in place
    (:mod:`gosplan.linalg.inplace`): no copy of ``R``; the values system then
    transposes ``R`` straight from ``A``.
``scc-gs`` / ``scc-jacobi`` / ``scc-bicgstab``
    The product graph (edge ``i -> j`` when ``A[i, j] != 0``) is split into its
    strongly connected components (Tarjan), which are solved one after the other
    in topological order: a component only needs the solutions of components
    already solved. Singletons are one division, small components a dense
    solve, and large components an iterative method (Gauss-Seidel in index
    order, parallel Jacobi, or BiCGSTAB with diagonal preconditioning). Most of a
    product-level economy is near-triangular, so most of it costs one pass.
``bicgstab``
    BiCGSTAB with diagonal preconditioning on the whole system, with numba-parallel
    sparse products (``A^T`` built once by a counting sort for the values system).
``auto``
    ``dense`` up to :data:`DENSE_MAX` products, else ``trim-bicgstab`` (measured
    fastest from 10^6 to 10^7 products, level with ``trim-gs`` below; see
    BENCHMARKS.md). Should BiCGSTAB break down, the block falls back to Gauss-Seidel.

The values system ``(I - A)^T v = l`` runs through the levels (components) in the
opposite order and *pushes* each solved value along its row of ``A``
(``acc_j += A_ij v_i``), so ``A^T`` is never formed; only the iterated block is
extracted (and transposed) for its iterations, which then run on a compact local
matrix. Hot loops index with unsigned integers: numba then drops its negative-index
wraparound checks, which made a random-access sparse product 3x slower at 10^7.

Several right-hand sides (the multipliers: one column per resource, and the output
multipliers) are iterated together by a block BiCGSTAB (:mod:`gosplan.linalg.block`):
every column has its own BiCGSTAB, but one pass over the matrix serves them all.

After every solve the residual ``||B - (I - M) Z||_2 / ||B||_2`` of each
right-hand side is recomputed from scratch; a solve is reported converged only if
every right-hand side passes ``tol``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, NotProductiveError
from gosplan.linalg import _block_kernels as BK
from gosplan.linalg import kernels as K
from gosplan.linalg.block import BLOCK_COLUMNS, RowsOperator, solve_columns
from gosplan.linalg.inplace import rows_share, solve_rows_inplace
from gosplan.results import SolveInfo

__all__ = [
    "Method",
    "LeontiefSystem",
    "prepare",
    "solve",
    "relative_residuals",
    "DENSE_MAX",
    "INPLACE_SHARE",
]

Method = Literal[
    "auto", "dense", "trim-gs", "trim-jacobi", "trim-bicgstab", "scc-gs", "scc-jacobi", "scc-bicgstab", "bicgstab"
]
METHODS: tuple[str, ...] = (
    "auto", "dense", "trim-gs", "trim-jacobi", "trim-bicgstab", "scc-gs", "scc-jacobi", "scc-bicgstab", "bicgstab",
)
#: Trimming stops when a pass peels off fewer than this share of the products (the
#: few products still peelable then are left to the block iteration: correct, and
#: cheaper than more passes over the remaining rows).
TRIM_STOP_SHARE = 5e-3

#: Largest ``n`` solved by a dense LU under ``method="auto"``.
DENSE_MAX = 2500
#: The values of one right-hand side scatter ``A_R^T z`` along the rows of ``R`` (no transpose
#: built) while the per-thread accumulators hold at most this share of ``R``'s coefficients.
SCATTER_ACCUMULATORS = 0.5
#: ``trim-bicgstab`` iterates gross output on ``A`` in place (no copy of ``R``) when the
#: rows of ``R`` hold at least this share of ``A``'s coefficients; below, on a compact
#: copy of ``R``. Off by default (2 > any share): measured slower everywhere, because
#: ``R``'s rows also hold the coefficients pointing outside ``R`` (at n = 10^7, K = 30:
#: 99.6 % of A in R's rows, 61 % inside R) and gather from vectors of length n
#: (x: 67 s in place against 32 s with the copy; 2x at n = 10^6, K = 10).
INPLACE_SHARE = 2.0
#: Bytes the values' gathering copy of the trimmed products' columns of ``A`` may take (with its
#: positions and the map back from ``A``). Once a pattern's values are solved again (a plan's
#: rounds), the trimmed levels' values gather along that copy, kept and patched by
#: :meth:`LeontiefSystem.refill` as ``R``'s copies are, instead of pushing along ``A``'s rows
#: into per-thread accumulators: 0.024 s against 0.051 s a solve at 10^6 products with 10
#: inputs each (6.4 M coefficients in those columns, 143 MB). Beyond this budget (10^7 products
#: would take 1.4 GB) and on a pattern's first values solve, they push.
GATHER_MEMORY = 2**29
#: Components up to this size are solved densely inside the sweep.
SMALL_COMPONENT = 48
#: Above this ``n`` the residual check runs in compiled parallel kernels; up to it, in scipy
#: (no compilation for small tables).
PARALLEL_CHECK_MIN = 50_000


@dataclass(eq=False)
class LeontiefSystem:
    """``A`` prepared for repeated solves: its CSR and its strongly connected components.

    Built by :func:`prepare`; the expensive parts (components, dense LU) are
    computed on first use and kept. No transpose of ``A`` is ever stored: the
    values system pushes along the rows of ``A``.
    """

    A: sp.csr_array
    labels: object = None
    _scc: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
    _lu: tuple[np.ndarray, np.ndarray] | None = None
    _levels: tuple[np.ndarray, int, np.ndarray, np.ndarray] | None = None
    _blocks: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _positions: dict | None = None

    @property
    def n(self) -> int:
        return self.A.shape[0]

    def components(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """``(ncomp, comp, ptr, members)``; components numbered sinks first."""
        if self._scc is None:
            t0 = time.perf_counter()
            ncomp, comp = K.strong_components(self.A.indptr, self.A.indices, self.n)
            ptr, members = K.group_by_component(comp, ncomp)
            self._scc = (int(ncomp), comp, ptr, members)
            self.timings["components"] = time.perf_counter() - t0
        return self._scc

    def levels(self) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """``(level, nlevels, ptr, members)``: trimming levels of the product graph.

        Level 1: products no product uses (empty row of ``A``, self-use aside);
        level ``t``: products all of whose users have levels ``< t``. Level 0 is the
        rest, ``R``: the products on or upstream of a cycle (and the last few
        peelable ones, once a pass peels fewer than :data:`TRIM_STOP_SHARE` of
        ``n``). ``R`` is closed under "is an input of", so its values need
        nothing outside it, and the gross
        output of every trimmed product needs only lower levels. Group ``t`` of
        ``members[ptr[t]:ptr[t+1]]`` keeps the products in index order.
        """
        if self._levels is None:
            t0 = time.perf_counter()
            n = self.n
            level = np.zeros(n, np.int32)
            cand = np.arange(n, dtype=np.int32)
            t = 1
            stop = max(1, int(TRIM_STOP_SHARE * n))
            while len(cand):
                out = np.empty(len(cand), np.bool_)
                K.trim_pass(self.A.indptr, self.A.indices, cand, level, t, out)
                decided = cand[out]
                if len(decided) == 0:
                    break
                level[decided] = t
                cand = cand[~out]
                t += 1
                if len(decided) < stop:
                    break
            nlevels = t - 1
            ptr, members = K.group_by_component(level, nlevels + 1)
            self._levels = (level, nlevels, ptr, members)
            self.timings["levels"] = time.perf_counter() - t0
        return self._levels

    def refill(self, data: np.ndarray, changed: np.ndarray | None = None, *, in_place: bool = False) -> "LeontiefSystem":
        """The system with the same pattern and new coefficients ``data`` (aligned with
        ``A.indices``; explicit zeros allowed).

        What depends on the pattern alone is kept: the trimming levels, the strongly
        connected components, and the layout of the iterated block's copies ``R`` and
        ``R^T``, whose values are gathered from ``data`` by stored positions instead of
        extracted and transposed again. Levels and components of a pattern are valid for
        any values on it (an explicit zero is an edge that carries nothing), so a sequence
        of technique choices written into one pattern pays for them once. ``changed``
        (positions into ``data`` where it differs from ``A.data``) lets the block copies be
        copied and patched there instead of gathered whole. This system is left as it was,
        unless ``in_place``: then its block copies are patched where they are and handed to
        the new system (for a caller that drops this system, as a sequence of technique
        choices does: at 10^6 products the copies cost 11 s of a 210 s plan).
        """
        data = np.ascontiguousarray(data, dtype=np.float64)
        if data.shape != self.A.data.shape:
            raise InvalidEconomyError(f"refill needs {self.A.data.size} coefficients, got {data.size}")
        A = sp.csr_array((data, self.A.indices, self.A.indptr), shape=self.A.shape)
        new = LeontiefSystem(A=A, labels=self.labels, _scc=self._scc, _levels=self._levels)
        positions = self._block_positions()
        for key in ("R", "RT", "T"):
            if positions.get(key) is None:
                continue
            ptr, ind, pos = positions[key]
            if pos is None:
                new._blocks[key] = (A.indptr, A.indices, A.data)
                continue
            where = None
            if changed is not None and key in self._blocks and self._blocks[key][0] is ptr:
                where = self._block_entries(key, np.asarray(changed))  # this block is laid out by pos
            if where is None:
                new._blocks[key] = (ptr, ind, data[pos])
            else:
                block = self._blocks[key][2] if in_place else self._blocks[key][2].copy()
                block[where] = data[pos[where]]
                new._blocks[key] = (ptr, ind, block)
        for key in ("R_share", "values_solves", "level_parts"):
            if key in self._blocks:
                new._blocks[key] = self._blocks[key]
        new._positions = positions  # shared along the sequence: one pattern, one layout
        return new

    def _block_entries(self, key: str, changed: np.ndarray) -> np.ndarray | None:
        """Entries of block ``key`` holding the coefficients ``A.data[changed]`` (None: not
        known cheaply, gather the block whole). ``R``'s positions ascend (rows in order,
        entries in order), so a binary search finds them; ``R^T``'s follow through the
        permutation from ``R`` to ``R^T``, built once."""
        positions = self._positions
        if key == "T":  # through the map from A's positions to the copy's entries, built once
            if "T_of_A" not in positions:
                tpos = positions["T"][2]
                t_of_a = np.full(self.A.nnz, -1, dtype=_position_type(tpos.size))
                t_of_a[tpos] = np.arange(tpos.size)
                positions["T_of_A"] = t_of_a
            hit = positions["T_of_A"][changed]
            return hit[hit >= 0]
        pos_r = positions["R"][2]
        if pos_r is None:  # R is A itself: its entries are A's
            pos_r = np.arange(self.A.nnz, dtype=_position_type(self.A.nnz))
        if "R_sorted" not in positions:
            positions["R_sorted"] = bool(pos_r.size < 2 or (np.diff(pos_r) > 0).all())
        if not positions["R_sorted"]:
            return None
        # needles sorted and of pos_r's type (numpy would otherwise copy pos_r to compare): at 10^7
        # products, 5e6 changed entries in 0.5 s against 9 s
        changed = np.sort(changed).astype(pos_r.dtype, copy=False)
        at = np.searchsorted(pos_r, changed)
        inside = at < pos_r.size
        at = at[inside]
        at = at[pos_r[at] == changed[inside]]
        if key == "R":
            return at
        if "RT_of_R" not in positions:
            rt_of_r = np.empty(pos_r.size, dtype=_position_type(pos_r.size))
            rt_of_r[np.searchsorted(pos_r, positions["RT"][2])] = np.arange(pos_r.size)
            positions["RT_of_R"] = rt_of_r
        return positions["RT_of_R"][at]

    def _block_positions(self) -> dict:
        """``{key: (ptr, ind, positions into A.data)}`` for the block copies ``R`` and ``R^T``
        this system holds (``None``: ``R`` is ``A`` itself), found by extracting (and
        transposing) the positions ``0 .. nnz-1`` in place of the values; computed once
        per pattern, the first time a block is there to be laid out."""
        if self._positions is None:
            self._positions = {}
        positions = self._positions
        if "R" in self._blocks and "R" not in positions and self._levels is not None:
            A = self.A
            if self._blocks["R"][2] is A.data:
                positions["R"] = (A.indptr, A.indices, None)
            else:
                level, _, ptr, members = self._levels
                rows = members[ptr[0] : ptr[1]]
                local = np.full(self.n, -1, np.int32)
                K.set_local(rows, local, True)
                where = np.arange(A.nnz, dtype=np.float64)  # exact up to 2^53
                dummy = np.empty((0, 0))
                pptr, pind, pos = K.extract_block(A.indptr, A.indices, where, rows, _subset_parts(A.indptr, rows),
                                                  local, dummy, dummy, np.empty((len(rows), 0)), False)
                positions["R"] = (pptr, pind, pos.astype(_position_type(A.nnz)))
        if "RT" in self._blocks and "RT" not in positions and "R" in positions:
            pptr, pind, pos = positions["R"]
            where = np.arange(self.A.nnz, dtype=np.float64) if pos is None else pos.astype(np.float64)
            tptr, tind, tpos = K.transpose_csr_parallel(pptr, pind, where, self.n if pos is None else len(pptr) - 1,
                                                        _threads())
            positions["RT"] = (tptr, tind, tpos.astype(_position_type(self.A.nnz)))
        return positions

    def trimmed_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(ptr, ind, dat)``: the columns of ``A`` of the trimmed products (levels ``1, 2,
        ...``, in ``levels()``'s order of ``members``), i.e. their rows of ``A^T``: what each
        one's value gathers from its inputs. Laid out once per pattern (its positions in
        ``A.data`` shared along a refilled sequence) and kept; ``None`` when nothing is trimmed
        or the copy would take more than :data:`GATHER_MEMORY` bytes."""
        if "T" in self._blocks:
            return self._blocks["T"]
        if self._positions is None:
            self._positions = {}
        positions = self._positions
        if "T" not in positions:
            positions["T"] = self._trimmed_positions()
        if positions["T"] is None:
            return None
        ptr, ind, pos = positions["T"]
        self._blocks["T"] = (ptr, ind, self.A.data[pos])
        return self._blocks["T"]

    def _trimmed_positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        _, _, ptr, members = self.levels()
        nodes = members[ptr[1] :].astype(np.int64)
        A = self.A
        if nodes.size == 0:
            return None
        counts = np.bincount(A.indices, minlength=self.n)[nodes]
        entries = int(counts.sum())
        position = np.dtype(_position_type(A.nnz)).itemsize
        if entries * (4 + 8 + position) + A.nnz * np.dtype(_position_type(entries)).itemsize > GATHER_MEMORY:
            return None
        # A^T of the positions 0 .. nnz-1, then the trimmed products' rows of it, in level order
        tptr, tind, tpos = K.transpose_csr_parallel(A.indptr, A.indices, np.arange(A.nnz, dtype=np.float64),
                                                    self.n, _threads())
        lo = tptr[nodes]
        out_ptr = np.zeros(nodes.size + 1, dtype=np.int64)
        np.cumsum(counts, out=out_ptr[1:])
        take = np.repeat(lo - out_ptr[:-1], counts) + np.arange(entries)
        return out_ptr, tind[take], tpos[take].astype(_position_type(A.nnz))

    def lu(self) -> tuple[np.ndarray, np.ndarray]:
        if self._lu is None:
            t0 = time.perf_counter()
            M = np.eye(self.n) - self.A.toarray()
            self._lu = la.lu_factor(M, check_finite=False)
            self.timings["factorize"] = time.perf_counter() - t0
        return self._lu


def _position_type(nnz: int) -> type:
    return np.int32 if nnz < 2**31 - 1 else np.int64


def prepare(A: sp.csr_array | sp.spmatrix | np.ndarray, labels: object = None) -> LeontiefSystem:
    """Wrap ``A`` (square) for :func:`solve`."""
    A = sp.csr_array(A)
    if A.shape[0] != A.shape[1]:
        raise InvalidEconomyError(f"A must be square, got shape {A.shape}")
    if A.dtype != np.float64:
        A = A.astype(np.float64)
    if not A.has_sorted_indices:
        A.sort_indices()
    if A.indices.dtype != np.int32 and A.nnz < 2**31 - 1 and A.shape[0] < 2**31 - 1:
        A = sp.csr_array((A.data, A.indices.astype(np.int32), A.indptr.astype(np.int64)), shape=A.shape)
    return LeontiefSystem(A=A, labels=labels)


def _as_2d(B: np.ndarray) -> tuple[np.ndarray, bool]:
    B = np.asarray(B, dtype=np.float64)
    if B.ndim == 1:
        return np.ascontiguousarray(B.reshape(-1, 1)), True
    return np.ascontiguousarray(B), False


def relative_residuals(
    system: LeontiefSystem, Z: np.ndarray, B: np.ndarray, *, transpose: bool = False
) -> np.ndarray:
    """``||B_q - (I - M) Z_q||_2 / ||B_q||_2`` per column ``q`` (absolute where ``B_q = 0``)."""
    Z2, _ = _as_2d(Z)
    B2, _ = _as_2d(B)
    if system.n <= PARALLEL_CHECK_MIN:  # scipy: no JIT for small n; A^T Z without a transpose
        M = system.A.T if transpose else system.A
        R = B2 - (Z2 - M @ Z2)
    elif transpose:  # (I - A)^T Z scattered along the rows of A, in parallel
        A = system.A
        op = RowsOperator(A.indptr, A.indices, A.data, np.arange(system.n, dtype=np.int64), system.n,
                          transpose=True)
        R = np.empty_like(Z2)
        for g0 in range(0, Z2.shape[1], BLOCK_COLUMNS):  # one pass per 4 columns
            g1 = min(Z2.shape[1], g0 + BLOCK_COLUMNS)
            zg = np.ascontiguousarray(Z2[:, g0:g1])
            vg = np.empty_like(zg)
            op.apply(zg, vg, vg, vg)
            R[:, g0:g1] = B2[:, g0:g1] - vg
        op.release()
    else:
        R = np.empty_like(Z2)
        indptr, indices, data = system.A.indptr, system.A.indices, system.A.data
        K.leontief_residual(indptr, indices, data, _row_parts(indptr), Z2, B2, R)
    num = np.sqrt(np.einsum("ij,ij->j", R, R))
    den = np.sqrt(np.einsum("ij,ij->j", B2, B2))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), num)


def _label(system: LeontiefSystem, i: int) -> str:
    if system.labels is None:
        return str(i)
    return str(system.labels[i])


def _not_productive(system: LeontiefSystem, nodes: np.ndarray, rho: float | None) -> NotProductiveError:
    names = [_label(system, int(i)) for i in nodes[:20]]
    more = f" and {len(nodes) - 20} more" if len(nodes) > 20 else ""
    rho_txt = f" (spectral radius of its block of A: {rho:.6g})" if rho is not None else ""
    return NotProductiveError(
        f"the economy is not productive: a group of {len(nodes)} product(s) cannot reproduce "
        f"itself{rho_txt}: {', '.join(names)}{more}",
        products=[_label(system, int(i)) for i in nodes],
        spectral_radius=rho,
    )


def _block_radius(system: LeontiefSystem, nodes: np.ndarray) -> float:
    """Spectral radius of ``A[nodes][:, nodes]`` (dense eigvals when small, ARPACK else)."""
    idx = np.sort(nodes)
    block = system.A[idx][:, idx]
    if len(idx) <= 1500:
        return float(np.abs(np.linalg.eigvals(block.toarray())).max()) if len(idx) else 0.0
    from scipy.sparse.linalg import eigs

    vals = eigs(sp.csr_matrix(block), k=1, which="LM", return_eigenvectors=False, maxiter=5000, tol=1e-8)
    return float(np.abs(vals).max())


def _check_productive(system: LeontiefSystem) -> None:
    """Raise :class:`NotProductiveError` naming the first component whose block has
    spectral radius ``>= 1``. Used on the error path only."""
    ncomp, comp, ptr, members = system.components()
    sizes = np.diff(ptr)
    diag = system.A.diagonal()
    for c in range(ncomp):
        nodes = members[ptr[c] : ptr[c + 1]]
        if sizes[c] == 1:
            if diag[nodes[0]] >= 1.0:
                raise _not_productive(system, nodes, float(diag[nodes[0]]))
            continue
        rho = _block_radius(system, nodes)
        if rho >= 1.0 - 1e-12:
            raise _not_productive(system, nodes, rho)


# ----------------------------------------------------------------------------- dense


def _solve_dense(system: LeontiefSystem, B: np.ndarray, transpose: bool) -> np.ndarray:
    lu, piv = system.lu()
    if not np.isfinite(lu).all() or np.any(np.abs(np.diag(lu)) < 1e-14):
        _check_productive(system)
        raise InvalidEconomyError("I - A is singular")
    return la.lu_solve((lu, piv), B, trans=1 if transpose else 0, check_finite=False)


def _dense_productive(system: LeontiefSystem) -> None:
    """Productivity check for the dense path: ``(I - A)^-1 1 > 0`` iff ``rho(A) < 1``
    for ``A >= 0``; when it fails, the components are examined one by one."""
    lu, piv = system.lu()
    z = la.lu_solve((lu, piv), np.ones(system.n), check_finite=False)
    if not (z > 0).all():
        _check_productive(system)


# ----------------------------------------------------------------------------- iterative blocks


def _iterate_local(
    ptr: np.ndarray,
    ind: np.ndarray,
    dat: np.ndarray,
    rhs: np.ndarray,
    *,
    method: str,
    tol: float,
    bnorm: np.ndarray,
    maxiter: int,
    backwards: bool,
    progress: Callable[[int, float], None] | None,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, int, bool]:
    """Solve ``(I - Mb) z = rhs`` for one large component held as a local CSR ``Mb``
    (BiCGSTAB from ``start`` when given).

    Stops when the block residual is below ``tol * ||B||`` (the block residual is the
    whole system's residual: every other row is solved exactly from these values).
    """
    s, k = rhs.shape
    method = method.removeprefix("scc-")
    if method == "bicgstab":
        Z, its, ok = _bicgstab_local(ptr, ind, dat, rhs, tol=tol, bnorm=bnorm, maxiter=maxiter, start=start)
        if ok:
            return Z, its, ok
        # BiCGSTAB can break down (rho or omega vanishing); Gauss-Seidel converges on
        # every productive block, so it finishes the job (or shows the block is not)
        method = "gs"
    rows = np.arange(s, dtype=np.int32)
    Z = np.zeros((s, k))
    target = (0.5 * tol * np.where(bnorm > 0, bnorm, 1.0)) ** 2
    Znew = np.empty((s, k)) if method == "jacobi" else None
    first = None
    best = np.inf
    stall = 0
    for it in range(1, maxiter + 1):
        if method == "jacobi":
            r2 = K.jacobi_component(ptr, ind, dat, rows, Z, rhs, Znew)
        else:
            r2 = K.gauss_seidel_component(ptr, ind, dat, rows, Z, rhs, backwards)
        worst = float(np.max(r2 / np.where(target > 0, target, 1.0)))
        if progress is not None:
            progress(it, float(np.sqrt(np.max(r2))))
        if first is None:
            first = worst
        if worst <= 1.0:
            return Z, it, True
        if not np.isfinite(worst) or worst > 1e12 * max(first, 1.0):
            return Z, it, False
        if worst < 0.999 * best:
            best, stall = worst, 0
        else:
            stall += 1
            if stall >= 50:
                return Z, it, False
    return Z, maxiter, False


_NO_ACC = np.zeros((0, 0))  # the gathering BiCGSTAB needs no accumulators
_NO_PARTS = np.zeros(1, dtype=np.int64)  # ... and, on a small block, no parts (numba splits the rows)

#: From this many coefficients in the iterated block on, the gathering BiCGSTAB splits the
#: rows between threads by equal work (:func:`_row_parts`): 1.3x faster a product at 184 M
#: (10^7 products, K = 30), but 9 % slower a plan at 1.1 M (3·10^5 products, K = 10, where
#: the block stays in the caches); between the two it was not resolved from the noise.
BALANCED_GATHER_MIN = 1 << 24


def _subset_parts(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """:func:`_row_parts` of the rows ``rows`` of a CSR: bounds of positions in ``rows``."""
    ends = np.cumsum(indptr[rows + 1] - indptr[rows], dtype=np.int64)
    return _row_parts(np.concatenate([np.zeros(1, np.int64), ends]))


#: A row's fixed cost in coefficients, in the split of rows between threads (the row's own
#: entries, its pointer, the write of its result): with 10 coefficients a row, parts of
#: equal ``nnz + 4 rows`` gathered 1.4x faster than parts of equal ``nnz`` (10^6 products).
ROW_WEIGHT = 4


def _row_parts(ptr: np.ndarray) -> np.ndarray:
    """Bounds of one part of the rows a thread, each holding an equal share of the work
    (coefficients, plus :data:`ROW_WEIGHT` a row; a row is never split)."""
    s = ptr.shape[0] - 1
    cost = ptr + ROW_WEIGHT * np.arange(s + 1, dtype=np.int64)
    parts = np.searchsorted(cost, np.linspace(0, cost[-1], _threads() + 1)).astype(np.int64)
    parts[0], parts[-1] = 0, s
    return parts


def _bicgstab_local(
    ptr: np.ndarray,
    ind: np.ndarray,
    dat: np.ndarray,
    rhs: np.ndarray,
    *,
    tol: float,
    bnorm: np.ndarray,
    maxiter: int,
    start: np.ndarray | None = None,
    transposed: bool = False,
) -> tuple[np.ndarray, int, bool]:
    """BiCGSTAB (fused numba kernel) on ``(I - Mb) z = rhs`` with diagonal preconditioning,
    from ``start`` (``s x k``) or else a Jacobi step from zero; several columns by the block
    solver. With ``transposed`` (one column) on ``(I - Mb)^T z = rhs``, each product ``Mb^T z``
    scattered along the rows of ``Mb``, so no transpose is built (at 10^6 products with 30
    inputs the transpose took longer than the whole solve).

    A Krylov method also converges for an unproductive ``Mb`` (to a solution with
    negative entries), so the caller must certify productivity: see
    :func:`_certify_productive`.
    """
    s, k = rhs.shape
    if k > 1:  # several right-hand sides: one pass over the matrix serves them all
        if transposed:
            raise ValueError("the scattered (transposed) BiCGSTAB solves one right-hand side")
        op = RowsOperator(ptr, ind, dat, np.arange(s, dtype=np.int64), s)
        Z = np.zeros((s, k)) if start is None else np.array(start, dtype=np.float64, order="C")
        goal = 0.5 * tol * np.where(bnorm > 0, bnorm, 1.0)
        total_it, ok_all = solve_columns(op, np.ascontiguousarray(rhs), Z, goal, maxiter,
                                         jacobi_start=start is None)
        return Z, total_it, ok_all
    if k == 0:
        return np.zeros((s, 0)), 0, True
    ptr = np.asarray(ptr, dtype=np.int64)  # one compiled specialisation (R's copy has int64 offsets)
    # each thread's rows an equal share of the work where the block is far beyond the caches
    parts = _row_parts(ptr) if transposed or ptr[-1] >= BALANCED_GATHER_MIN else _NO_PARTS
    # scattered: one accumulator per thread, each product zeroes them first
    acc = np.empty((len(parts) - 1, s)) if transposed else _NO_ACC
    dinv = _diagonal_inverse(ptr, ind, dat)  # Mb^T's diagonal is Mb's
    b = np.ascontiguousarray(rhs[:, 0], dtype=np.float64)
    x = b * dinv if start is None else np.array(start[:, 0], dtype=np.float64)
    goal = 0.5 * tol * (bnorm[0] if bnorm[0] > 0 else 1.0)
    its, ok, _ = K.bicgstab(ptr, ind, dat, parts, acc, dinv, b, x, goal, maxiter, transposed)
    return x[:, None], int(its), bool(ok)


def _scatter_pays(ptr: np.ndarray) -> bool:
    """Whether scattering ``Mb^T z`` along the rows beats building ``Mb^T``: each product
    zeroes and sums one accumulator of ``s`` entries per thread besides the ``nnz``
    coefficients, so it is used while ``threads * s <= SCATTER_ACCUMULATORS * nnz``
    (measured on 2 threads, where it is as fast per product as the gather along a
    transpose; with many threads and few coefficients a row the accumulators would dominate)."""
    s = ptr.shape[0] - 1
    return s > 0 and _threads() * s <= SCATTER_ACCUMULATORS * float(ptr[-1])


def _diagonal_inverse(ptr: np.ndarray, ind: np.ndarray, dat: np.ndarray) -> np.ndarray:
    """``1 / (1 - M_ii)``: by the parallel kernel of the block solver for the index types it
    is compiled for (no new specialisation), else by numpy; where ``1 - M_ii <= 0`` as it is,
    for the productivity checks to see."""
    s = ptr.shape[0] - 1
    if ptr.dtype == np.int64 and ind.dtype == np.int32:
        dinv = np.empty(s)
        if not BK.diagonal_inverse(ptr, ind, dat, np.arange(s, dtype=np.int64), dinv):
            return dinv
    return 1.0 / (1.0 - K.csr_diagonal(ptr, ind, dat))


def _certify_productive(
    ptr: np.ndarray, ind: np.ndarray, dat: np.ndarray, rhs: np.ndarray, Z: np.ndarray, tol: float
) -> bool:
    """True when some solved column has ``b > 0`` and ``z > 0``, or else when
    ``z = (I - Mb)^-1 1 > 0`` (one more solve): for ``Mb >= 0`` either proves
    ``rho(Mb) < 1``, since ``Mb z = z - b < z`` with ``z > 0``. False means: look closer.
    (The output-multiplier column ``b = 1`` and labour values with ``l > 0`` certify
    for free.)"""
    s = ptr.shape[0] - 1
    if s == 0 or ((rhs > 0).all(axis=0) & (Z > 0).all(axis=0)).any():
        return True
    ones = np.ones((s, 1))
    z, _, ok = _bicgstab_local(ptr, ind, dat, ones, tol=max(tol, 1e-8), bnorm=np.array([np.sqrt(s)]), maxiter=2000)
    return bool(ok and (z > 0).all())


def _solve_whole(
    system: LeontiefSystem,
    B2: np.ndarray,
    transpose: bool,
    *,
    tol: float,
    bnorm: np.ndarray,
    maxiter: int,
    verify: bool,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, int, bool]:
    """BiCGSTAB on the whole system (from ``start`` when given); on failure, look for an
    unproductive component. Returns ``(Z, iterations, converged)``."""
    A = system.A
    t0 = time.perf_counter()
    if transpose and B2.shape[1] == 1 and _scatter_pays(A.indptr):  # scattered along A's rows: no transpose
        Z, its, ok = _bicgstab_local(A.indptr, A.indices, A.data, B2, tol=tol, bnorm=bnorm, maxiter=maxiter,
                                     start=start, transposed=True)
        system.timings["values_iterate"] = time.perf_counter() - t0
        if ok and (not verify or _certify_productive(A.indptr, A.indices, A.data, B2, Z, tol)):
            return Z, its, ok
        t0 = time.perf_counter()
    if transpose:
        ptr, ind, dat = K.transpose_csr_parallel(A.indptr, A.indices, A.data, system.n, _threads())
        system.timings["transpose"] = time.perf_counter() - t0
    else:
        ptr, ind, dat = A.indptr, A.indices, A.data
    t1 = time.perf_counter()
    Z, its, ok = _bicgstab_local(ptr, ind, dat, B2, tol=tol, bnorm=bnorm, maxiter=maxiter, start=start)
    system.timings[f"{'values' if transpose else 'x'}_iterate"] = time.perf_counter() - t1
    if verify and not (ok and _certify_productive(ptr, ind, dat, B2, Z, tol)):
        _check_productive(system)
    return Z, its, ok


def _solve_trimmed(
    system: LeontiefSystem,
    B2: np.ndarray,
    transpose: bool,
    *,
    inner: str,
    tol: float,
    bnorm: np.ndarray,
    maxiter: int,
    verify: bool,
    progress: Callable[[int, float], None] | None,
    inplace_share: float = INPLACE_SHARE,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int, bool]:
    """Trimmed levels solved exactly, level by level; the remaining block ``R`` iterated.

    Gross output: levels ``1, 2, ...`` in parallel within each level (pull along rows
    of ``A``), then ``R`` with the trimmed users' outputs folded into its right-hand
    side. Values: ``R`` alone first (its inputs are all in ``R``), then the levels
    from the top down, each value pushed along its row to its users.
    With ``inner == "bicgstab"`` and ``R``'s rows holding at least ``inplace_share``
    of the coefficients, gross output iterates ``R`` in place on the rows of ``A``
    (:func:`gosplan.linalg.inplace.solve_rows_inplace`; should that fail, on a copy),
    and the values, finding no copy of ``R``, transpose ``R`` straight from ``A``
    (one counting sort instead of a copy and its transpose).
    Returns ``(Z, iterations, size of R, whether the iterations met the tolerance)``.
    """
    A = system.A
    indptr, indices, data = A.indptr, A.indices, A.data
    level, nlevels, ptr, members = system.levels()
    n, k = B2.shape
    Z = np.zeros_like(B2)
    rows = members[ptr[0] : ptr[1]]
    name = "values" if transpose else "x"
    timing = {"sweep": 0.0, "extract": 0.0, "iterate": 0.0}
    bad = 0
    iterations = 0

    inplace = False
    if inner == "bicgstab" and len(rows):
        if "R_share" not in system._blocks:
            system._blocks["R_share"] = rows_share(indptr, rows)
        share = system._blocks["R_share"]
        inplace = share >= inplace_share and "R" not in system._blocks

    def solve_inplace() -> tuple[int, bool]:
        """``R`` in place, writing ``Z[R]``; False when the copy must take over."""
        t1 = time.perf_counter()
        its, ok_ = solve_rows_inplace(
            indptr, indices, data, rows, Z, B2, transpose=transpose, tol=tol, bnorm=bnorm,
            maxiter=maxiter, verify=verify,
        )
        timing["iterate"] += time.perf_counter() - t1
        timing["inplace"] = 1.0
        return its, ok_

    def solve_scattered() -> tuple[np.ndarray, int, bool] | None:
        """Values of one column on the rows of ``R``'s copy (shared with gross output),
        scattering ``R^T z`` instead of building ``R^T``, on a pattern's first values solve;
        ``None``: use the transpose."""
        # a pattern whose values are solved again (a plan's rounds, refilled) pays for R^T once
        # and refill patches it; a single solve (a balance) scatters and builds nothing
        again = system._blocks.get("values_solves", 0)
        system._blocks["values_solves"] = again + 1
        if again or not (inner == "bicgstab" and k == 1 and "RT" not in system._blocks
                         and ("R" in system._blocks or not inplace or len(rows) == n)):
            return None
        t0 = time.perf_counter()
        bptr, bind, bdat = _trimmed_block(system, rows, False)
        if not _scatter_pays(bptr):
            return None
        rhs = np.empty((len(rows), k))
        K.gather_rows(rows, B2, rhs)
        t1 = time.perf_counter()
        timing["extract"] += t1 - t0
        Zb, its, ok = _bicgstab_local(bptr, bind, bdat, rhs, tol=tol, bnorm=bnorm, maxiter=maxiter,
                                      start=None if start is None else start[rows], transposed=True)
        if ok and verify and not _certify_productive(bptr, bind, bdat, rhs, Zb, tol):
            ok = False
        timing["iterate"] += time.perf_counter() - t1
        return (Zb, its, ok) if ok else None

    def solve_block(fold: bool) -> tuple[np.ndarray, int, bool]:
        if transpose:
            done = solve_scattered()
            if done is not None:
                return done
        t0 = time.perf_counter()
        rhs = np.empty((len(rows), k))
        if transpose and "R" not in system._blocks and len(rows) < n:
            # R not copied (gross output iterated in place): its transpose straight from A
            if "RT" not in system._blocks:
                local = np.full(n, -1, np.int32)
                K.set_local(rows, local, True)
                system._blocks["RT"] = BK.transpose_block(indptr, indices, data, rows, local, _threads())
                del local
            bptr, bind, bdat = system._blocks["RT"]
            K.gather_rows(rows, B2, rhs)
        elif fold:
            bptr, bind, bdat = _folded_block(system, rows, Z, B2, rhs)
        else:
            bptr, bind, bdat = _trimmed_block(system, rows, transpose)
            K.gather_rows(rows, B2, rhs)
        t1 = time.perf_counter()
        timing["extract"] += t1 - t0
        Zb, its, ok = _iterate_local(
            bptr, bind, bdat, rhs, method=inner, tol=tol, bnorm=bnorm, maxiter=maxiter,
            backwards=not transpose, progress=progress, start=None if start is None else start[rows],
        )
        if ok and verify and inner == "bicgstab" and not _certify_productive(bptr, bind, bdat, rhs, Zb, tol):
            ok = False
        timing["iterate"] += time.perf_counter() - t1
        return Zb, its, ok

    t_start = time.perf_counter()
    ok = True
    if not transpose:
        bad += _pull_levels(system, Z, B2)
        timing["sweep"] += time.perf_counter() - t_start
        if inplace:
            iterations, ok = solve_inplace()
        if len(rows) and not (inplace and ok):
            Zb, iterations, ok = solve_block(True)
            K.scatter_rows(rows, Zb, Z)
    else:
        if len(rows):
            Zb, iterations, ok = solve_block(False)
            K.scatter_rows(rows, Zb, Z)
        t0 = time.perf_counter()
        bad += _push_levels(system, Z, B2)
        timing["sweep"] += time.perf_counter() - t0
    system.timings.update({f"{name}_{key}": val for key, val in timing.items()})
    if bad or not ok:
        _check_productive(system)  # raises, naming the group, when one cannot reproduce itself
    return Z, iterations, len(rows), ok


def _folded_block(
    system: LeontiefSystem, rows: np.ndarray, Z: np.ndarray, B2: np.ndarray, rhs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``R``'s copy, and in ``rhs`` gross output's right-hand side of ``R`` with the solved
    users outside ``R`` folded in (``Z`` holds them): one pass over ``R``'s rows of ``A``
    when the copy is not made yet."""
    A = system.A
    if len(rows) == system.n:  # nothing trimmed: R is A, nothing to fold
        K.gather_rows(rows, B2, rhs)
        return _trimmed_block(system, rows, False)
    if "R" not in system._blocks:
        system._blocks["R"] = _extract(system, rows, Z, B2, rhs, True)
        return system._blocks["R"]
    K.block_rhs(A.indptr, A.indices, A.data, rows, system.levels()[0], 0, Z, B2, rhs)
    return system._blocks["R"]


def _pull_levels(system: LeontiefSystem, Z: np.ndarray, B2: np.ndarray) -> int:
    """Gross output of the trimmed levels ``1, 2, ...`` (each in parallel, pulling along the
    rows of ``A``: a level's users are solved already). Returns the number of products
    with ``1 - A_ii <= 0``."""
    A = system.A
    level, nlevels, ptr, members = system.levels()
    bad = 0
    for t in range(1, nlevels + 1):
        bad += int(K.solve_level_pull(A.indptr, A.indices, A.data, members[ptr[t] : ptr[t + 1]], Z, B2))
    return bad


def _push_levels(system: LeontiefSystem, Z: np.ndarray, B2: np.ndarray) -> int:
    """Values of the trimmed levels once ``Z[R]`` is solved: ``R``'s values pushed along its
    rows to their trimmed users, then the levels from the top down, each value pushed to
    its users; or, on a pattern's later values solves, the levels from the top down, each
    value gathered along its column (:meth:`LeontiefSystem.trimmed_columns`). Returns the
    number of products with ``1 - A_ii <= 0``."""
    A = system.A
    level, nlevels, ptr, members = system.levels()
    columns = system.trimmed_columns() if system._blocks.get("values_solves", 0) >= 2 else None
    if columns is not None:  # a pattern solved again: gather along its trimmed columns, top level down
        cptr, cind, cdat = columns
        bad = 0
        for t in range(nlevels, 0, -1):
            bad += int(K.gather_level(cptr, cind, cdat, members, ptr[t], ptr[t + 1], ptr[1], Z, B2))
        return bad
    threads = _threads()
    parts = system._blocks.get("level_parts")
    if parts is None or len(parts[0]) != threads + 1:  # the pattern's, kept (and carried by refill)
        parts = [_subset_parts(A.indptr, members[ptr[t] : ptr[t + 1]]) for t in range(nlevels + 1)]
        system._blocks["level_parts"] = parts
    ACC = np.zeros((threads, system.n, Z.shape[1]))  # one accumulator per thread: no write conflicts
    bad = 0
    for t in (0, *range(nlevels, 0, -1)):  # R (pushing only), then the levels from the top down
        bad += int(K.push_level_parallel(A.indptr, A.indices, A.data, members[ptr[t] : ptr[t + 1]], parts[t], level,
                                         Z, B2, ACC, t > 0))
    return bad


def _trimmed_block(
    system: LeontiefSystem, rows: np.ndarray, transpose: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A[R][:, R]`` as a local CSR (and its transpose), extracted once and kept:
    the gross-output and the values systems share it."""
    key = "RT" if transpose else "R"
    if key not in system._blocks:
        if len(rows) == system.n:  # nothing trimmed (a dense table): R is A itself, no copy
            A = system.A
            system._blocks["R"] = (A.indptr, A.indices, A.data)
        if "R" not in system._blocks:
            dummy = np.empty((0, 0))
            system._blocks["R"] = _extract(system, rows, dummy, dummy, np.empty((len(rows), 0)), False)
        if transpose:
            bptr, bind, bdat = system._blocks["R"]
            system._blocks["RT"] = K.transpose_csr_parallel(bptr, bind, bdat, len(rows), _threads())
    return system._blocks[key]


def _extract(
    system: LeontiefSystem, rows: np.ndarray, Z: np.ndarray, B2: np.ndarray, rhs: np.ndarray, fold: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    A = system.A
    local = np.full(system.n, -1, np.int32)
    K.set_local(rows, local, True)
    return K.extract_block(A.indptr, A.indices, A.data, rows, _subset_parts(A.indptr, rows), local, Z, B2, rhs,
                           fold)


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


# ----------------------------------------------------------------------------- driver


def solve(
    system: LeontiefSystem,
    B: np.ndarray,
    *,
    transpose: bool = False,
    method: Method = "auto",
    tol: float = 1e-10,
    maxiter: int = 5000,
    progress: Callable[[int, float], None] | None = None,
    system_name: str | None = None,
    verify_productive: bool = True,
    inplace_share: float | None = None,
    x0: np.ndarray | None = None,
    check: bool = True,
) -> tuple[np.ndarray, SolveInfo]:
    """Solve ``(I - A) Z = B`` (or ``(I - A)^T Z = B`` with ``transpose=True``).

    Parameters
    ----------
    system:
        From :func:`prepare`.
    B:
        Right-hand side(s), ``n`` or ``n x k``.
    method:
        See the module docstring.
    tol:
        Target relative residual ``||B - (I - M) Z||_2 / ||B||_2`` per column.
    maxiter:
        Iteration limit of the iterative methods (per large component).
    progress:
        Called as ``progress(iteration, residual)`` by the iterative methods.
    verify_productive:
        Whole-system Krylov solves (``bicgstab``) converge for unproductive
        economies too; with this flag they also certify ``(I - A)^-1 1 > 0`` (one
        more solve). Components-based and dense methods always check.
    inplace_share:
        ``trim-bicgstab`` (and ``auto`` beyond :data:`DENSE_MAX`) iterates on ``A`` in
        place when the rows of the cyclic block ``R`` hold at least this share of the
        coefficients (0: always, above 1: never). Default :data:`INPLACE_SHARE` (never:
        measured slower than the copy).
    x0:
        A starting point (same shape as ``B``) for the BiCGSTAB iterations of
        ``bicgstab`` and of ``trim-bicgstab``'s block on a copy (``auto`` beyond
        :data:`DENSE_MAX`); ignored by the other methods. A solution of a nearby system
        (the previous prices or technique choice of an iterative planner) saves
        iterations; the stopping test and the residual check are the same as from zero.
    check:
        Recompute the residual from scratch after the solve (one more pass over ``A``).
        ``False`` skips it for the methods whose iterations stop on the true residual
        (``trim-bicgstab``, ``bicgstab``; the dense LU is exact): ``converged`` is then their
        own verdict and ``relative_residual`` is NaN. For callers that verify what they
        build from the solution anyway (the Leontief planning method checks its plan).

    Returns
    -------
    Z, info:
        The solution (same shape as ``B``) and a :class:`SolveInfo` whose
        ``relative_residual`` gosplan recomputed after the solve.

    Raises
    ------
    NotProductiveError
        When a strongly connected group of products has a block of ``A`` with
        spectral radius ``>= 1``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    B2, was_1d = _as_2d(B)
    n = system.n
    if B2.shape[0] != n:
        raise InvalidEconomyError(f"right-hand side has {B2.shape[0]} rows, A has {n}")
    if not np.isfinite(B2).all():
        raise InvalidEconomyError("right-hand side holds NaN or infinity")
    name = system_name or ("values" if transpose else "x")
    t0 = time.perf_counter()
    chosen = method
    if method == "auto":
        chosen = "dense" if n <= DENSE_MAX else "trim-bicgstab"
    bnorm = np.sqrt(np.einsum("ij,ij->j", B2, B2))
    start = None
    if x0 is not None:
        start, _ = _as_2d(x0)
        if start.shape != B2.shape:
            raise InvalidEconomyError(f"starting point has shape {start.shape}, the right-hand side {B2.shape}")
        if not np.isfinite(start).all():
            raise InvalidEconomyError("starting point holds NaN or infinity")
    iterations = 0
    ncomp, largest = 1, n
    iterated_ok: bool | None = None  # the iterations' own verdict, where one exists
    if n == 0:
        Z = B2.copy()
    elif chosen == "dense":
        _dense_productive(system)
        Z = _solve_dense(system, B2, transpose)
        iterations = 1
        iterated_ok = True
    elif chosen.startswith("trim-"):
        Z, iterations, largest, iterated_ok = _solve_trimmed(
            system, B2, transpose, inner=chosen[5:], tol=tol, bnorm=bnorm, maxiter=maxiter,
            verify=verify_productive, progress=progress,
            inplace_share=INPLACE_SHARE if inplace_share is None else float(inplace_share), start=start,
        )
        level, nlevels, _, _ = system.levels()
        ncomp = nlevels
        if chosen != "trim-bicgstab":  # Gauss-Seidel and Jacobi stop on a sweep's estimate
            iterated_ok = None
    elif chosen == "bicgstab":
        Z, iterations, iterated_ok = _solve_whole(
            system, B2, transpose, tol=tol, bnorm=bnorm, maxiter=maxiter, verify=verify_productive, start=start
        )
        ncomp, largest = 0, 0
    else:
        ncomp, comp, ptr, members = system.components()
        sizes = np.diff(ptr)
        largest = int(sizes.max())
        indptr, indices, data = system.A.indptr, system.A.indices, system.A.data
        Z = np.zeros_like(B2)
        ACC = np.zeros_like(B2) if transpose else None
        flags = np.zeros(ncomp, np.int8)
        local = np.full(n, -1, np.int32) if largest > SMALL_COMPONENT else None
        timing = {"extract": 0.0, "iterate": 0.0}
        t_solve = time.perf_counter()
        # (I - A) x: pull along rows of A, sinks first (components 0..ncomp-1).
        # (I - A)^T v: push along rows of A, in the reverse order.
        c, last, step = (ncomp - 1, 0, -1) if transpose else (0, ncomp - 1, 1)
        while c != last + step:
            if transpose:
                c = int(K.push_sweep(indptr, indices, data, comp, ptr, members, c, last, step,
                                     SMALL_COMPONENT, Z, B2, ACC, flags))
            else:
                c = int(K.sweep_components(indptr, indices, data, comp, ptr, members, c, last, step,
                                           SMALL_COMPONENT, Z, B2, flags))
            if c == last + step:
                break
            rows = members[ptr[c] : ptr[c + 1]]
            t_blk = time.perf_counter()
            K.set_local(rows, local, True)
            rhs = np.empty((len(rows), B2.shape[1]))
            bptr, bind, bdat = K.extract_block(indptr, indices, data, rows, _subset_parts(indptr, rows), local, Z,
                                               B2, rhs, not transpose)
            K.set_local(rows, local, False)
            if transpose:
                acc = np.empty_like(rhs)
                K.gather_rows(rows, ACC, acc)
                rhs += acc
                del acc
                bptr, bind, bdat = K.transpose_csr_parallel(bptr, bind, bdat, len(rows), _threads())
            t_it = time.perf_counter()
            timing["extract"] += t_it - t_blk
            Zb, its, ok = _iterate_local(
                bptr, bind, bdat, rhs, method=chosen, tol=tol, bnorm=bnorm, maxiter=maxiter,
                backwards=not transpose, progress=progress,
            )
            timing["iterate"] += time.perf_counter() - t_it
            if chosen == "scc-bicgstab" and ok and not _certify_productive(bptr, bind, bdat, rhs, Zb, tol):
                ok = False
            del bptr, bind, bdat
            K.scatter_rows(rows, Zb, Z)
            if transpose:
                K.push_rows(indptr, indices, data, comp, c, rows, Z, ACC)
            iterations = max(iterations, its)
            if not ok:
                rho = _block_radius(system, rows)
                if rho >= 1.0 - 1e-12:
                    raise _not_productive(system, rows, rho)
            c += step
        timing["sweep"] = time.perf_counter() - t_solve - timing["extract"] - timing["iterate"]
        system.timings.update({f"{name}_{key}": val for key, val in timing.items()})
        if flags.any():
            bad = int(np.flatnonzero(flags)[0])
            nodes = members[ptr[bad] : ptr[bad + 1]]
            rho = float(system.A.diagonal()[nodes[0]]) if len(nodes) == 1 else _block_radius(system, nodes)
            if rho >= 1.0 - 1e-12:
                raise _not_productive(system, nodes, rho)
    solve_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    if check or iterated_ok is None:
        rel = relative_residuals(system, Z, B2, transpose=transpose) if n else np.zeros(B2.shape[1])
        worst = float(rel.max()) if rel.size else 0.0
        converged = worst <= tol
    else:
        worst, converged = float("nan"), bool(iterated_ok)
    info = SolveInfo(
        system=name,
        method=chosen,
        iterations=int(iterations),
        relative_residual=worst,
        tolerance=tol,
        seconds=solve_seconds,
        components=int(ncomp),
        largest_component=int(largest),
        converged=bool(converged),
        detail={
            "check_seconds": time.perf_counter() - t1,
            "right_hand_sides": int(B2.shape[1]),
            **{k: float(v) for k, v in system.timings.items()},
        },
    )
    return (Z[:, 0] if was_1d else Z), info

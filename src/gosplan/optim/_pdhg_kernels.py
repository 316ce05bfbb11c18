"""Numba kernels of the primal-dual hybrid gradient solver :mod:`gosplan.optim.pdhg`.

All kernels work on the *scaled* problem ``min c'x`` s.t. ``r- <= K x <= r+``,
``l <= x <= u`` (plus harmony terms), with ``K`` in CSR (``ptr, ind, val``) and
its transpose ``K^T`` in CSR (``tptr, tind, tval``), built once. Column indices
are int32 read as unsigned, offsets int64 read as unsigned (measured faster for
random-access gathers in this repository). Work arrays are preallocated by the
caller; the iteration allocates nothing.

One PDHG iteration is three passes: the primal step (columns; projection and
extrapolation ``2x' - x`` fused), the dual step (rows; ``K (2x' - x)`` and the
projection fused) and the product ``K^T y'`` (columns; fused with the
reductions the adaptive step size needs). The step-size weighted running
averages of ``x`` and ``y`` ride along in the first two passes, one iteration
late (the accepted iterate is folded in when the next iteration reads it).
"""

from __future__ import annotations

import os

# Threads that sleep at barriers instead of spinning (see gosplan.linalg.kernels).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import math  # noqa: E402

import numpy as np  # noqa: E402
from numba import prange  # noqa: E402

from gosplan._jit import njit  # noqa: E402

# ----------------------------------------------------------------------------- setup


@njit
def transpose(ptr, ind, val, ncols):  # pragma: no cover - compiled
    """CSR of ``K^T`` from the CSR of ``K``: ``(tptr int64, tind int32, tval float64)``."""
    nrows = ptr.shape[0] - 1
    nnz = ptr[nrows]
    tptr = np.zeros(ncols + 1, np.int64)
    for e in range(nnz):
        tptr[np.uint32(ind[e]) + 1] += 1
    for j in range(ncols):
        tptr[j + 1] += tptr[j]
    fill = tptr[:-1].copy()
    tind = np.empty(nnz, np.int32)
    tval = np.empty(nnz, np.float64)
    for i in range(nrows):
        e = np.uint64(ptr[i])
        e_end = np.uint64(ptr[i + 1])
        while e < e_end:
            j = np.uint32(ind[e])
            p = fill[j]
            tind[p] = i
            tval[p] = val[e]
            fill[j] = p + 1
            e += np.uint64(1)
    return tptr, tind, tval


def partition(ptr: np.ndarray, parts: int) -> np.ndarray:
    """Row ranges ``[b[p], b[p+1])`` of about equal work (nonzeros plus two per row).

    The matrix kernels run ``prange`` over these parts rather than over rows:
    numba splits a ``prange`` into equal counts per thread, and the nonzeros of
    a planning problem are far from evenly spread over its rows (universal
    inputs and resource rows are dense), which left one of two threads with 80%
    of the work.
    """
    rows = ptr.shape[0] - 1
    work = ptr + 2 * np.arange(rows + 1)
    b = np.searchsorted(work, np.linspace(0, work[-1], parts + 1)).astype(np.int64)
    b[0], b[-1] = 0, rows
    return np.maximum.accumulate(b)


@njit(inline="always")
def _dot(ptr, ind, val, x, i):  # pragma: no cover - compiled
    """``(K x)_i``, four partial sums (dense rows are otherwise bound by the add latency)."""
    e = np.uint64(ptr[i])
    e_end = np.uint64(ptr[i + 1])
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    while e + np.uint64(4) <= e_end:
        a0 += val[e] * x[np.uint32(ind[e])]
        a1 += val[e + np.uint64(1)] * x[np.uint32(ind[e + np.uint64(1)])]
        a2 += val[e + np.uint64(2)] * x[np.uint32(ind[e + np.uint64(2)])]
        a3 += val[e + np.uint64(3)] * x[np.uint32(ind[e + np.uint64(3)])]
        e += np.uint64(4)
    while e < e_end:
        a0 += val[e] * x[np.uint32(ind[e])]
        e += np.uint64(1)
    return (a0 + a1) + (a2 + a3)


@njit(parallel=True)
def scaled_row_norms(ptr, ind, val, parts, col_scale, out_max, out_sum):  # pragma: no cover
    """``out_max[i] = max_j |K_ij| s_j``, ``out_sum[i] = sum_j |K_ij| s_j`` (``s = col_scale``)."""
    for p in prange(parts.shape[0] - 1):
        for i in range(parts[p], parts[p + 1]):
            mx = 0.0
            sm = 0.0
            e = np.uint64(ptr[i])
            e_end = np.uint64(ptr[i + 1])
            while e < e_end:
                a = abs(val[e]) * col_scale[np.uint32(ind[e])]
                sm += a
                if a > mx:
                    mx = a
                e += np.uint64(1)
            out_max[i] = mx
            out_sum[i] = sm


@njit(parallel=True)
def scale_values(ptr, ind, val, parts, row_scale, col_scale):  # pragma: no cover - compiled
    """``K_ij <- r_i K_ij s_j`` in place; returns ``max |K_ij|`` afterwards."""
    mx = 0.0
    for p in prange(parts.shape[0] - 1):
        for i in range(parts[p], parts[p + 1]):
            r = row_scale[i]
            e = np.uint64(ptr[i])
            e_end = np.uint64(ptr[i + 1])
            while e < e_end:
                a = val[e] * r * col_scale[np.uint32(ind[e])]
                val[e] = a
                mx = max(mx, abs(a))
                e += np.uint64(1)
    return mx


@njit(parallel=True)
def spmv(ptr, ind, val, parts, x, out):  # pragma: no cover - compiled
    """``out = K x``."""
    for p in prange(parts.shape[0] - 1):
        for i in range(parts[p], parts[p + 1]):
            out[i] = _dot(ptr, ind, val, x, i)


# ----------------------------------------------------------------------------- harmony


@njit(inline="always")
def _harmony(s):  # pragma: no cover - compiled
    """``H(s)``."""
    return s - 0.5 * s * s if s < 0.0 else math.log1p(s)


@njit(inline="always")
def _harmony_prime(s):  # pragma: no cover - compiled
    """``H'(s)``."""
    return 1.0 - s if s < 0.0 else 1.0 / (1.0 + s)


@njit(inline="always")
def _harmony_prox(b, t):  # pragma: no cover - compiled
    """``argmin_s -t H(s) + (s - b)^2 / 2`` (``t > 0``), i.e. ``s - b = t H'(s)``.

    ``s < 0`` iff ``b + t < 0``: then ``s = (b + t) / (1 + t)``; otherwise ``s`` is
    the nonnegative root of ``s^2 + (1 - b) s - (b + t) = 0``, taken in the form
    free of cancellation.
    """
    bt = b + t
    if bt < 0.0:
        return bt / (1.0 + t)
    q = 1.0 - b
    disc = math.sqrt(q * q + 4.0 * bt)
    if q > 0.0:
        return 2.0 * bt / (q + disc)
    return 0.5 * (disc - q)


# ----------------------------------------------------------------------------- iteration


@njit(parallel=True)
def primal_step(x, kty, c, lo, hi, tau, x_new, x_bar, x_avg, avg_frac):  # pragma: no cover
    """``x' = P_[l,u](x - tau (c - K^T y))``, ``x_bar = 2 x' - x``; with ``avg_frac > 0``
    also ``x_avg += avg_frac (x - x_avg)`` (folds the last accepted iterate in)."""
    fold = avg_frac > 0.0
    for j in prange(x.shape[0]):
        xj = x[j]
        if fold:
            x_avg[j] += avg_frac * (xj - x_avg[j])
        v = xj - tau * (c[j] - kty[j])
        v = min(max(v, lo[j]), hi[j])
        x_new[j] = v
        x_bar[j] = 2.0 * v - xj


@njit(parallel=True)
def harmony_step(hcols, hscale, hweight, x, kty, c, lo, hi, tau, x_new, x_bar):  # pragma: no cover
    """Primal step of the harmony columns (overwrites what :func:`primal_step` wrote).

    In the original variable ``s = d x`` (``d = hscale``) the step is the prox of
    ``tau w d^2 phi`` at ``d (x - tau (c - K^T y))``, clipped to the bounds.
    """
    for q in prange(hcols.shape[0]):
        j = hcols[q]
        d = hscale[q]
        xj = x[j]
        s = _harmony_prox(d * (xj - tau * (c[j] - kty[j])), tau * hweight[q] * d * d)
        v = min(max(s / d, lo[j]), hi[j])
        x_new[j] = v
        x_bar[j] = 2.0 * v - xj


@njit(parallel=True)
def dual_step(
    ptr, ind, val, parts, x_bar, y, rlo, rhi, sigma, y_new, y_avg, avg_frac
):  # pragma: no cover - compiled
    """``y' = y - sigma K x_bar + sigma P_[r-,r+](K x_bar - y / sigma)``, row by row.

    With ``u = y - sigma (K x_bar)_i`` that is ``y' = max(u + sigma r-, 0) + min(u + sigma r+, 0)``
    (``r- <= r+``: at most one term is nonzero), so that a row whose bound on one side is
    infinite gets an exact zero multiplier on that side. Written without branches: the
    per-case form (``u + sigma r-`` if positive, ``u + sigma r+`` if negative, else 0) gives
    the same multipliers bit for bit; on the five-year plan of 10,000 industries it took
    1.3-1.8x the time of this pass alone, and whole iterations 3-13 % longer in two
    interleaved runs (its branch goes either way at random). Folds ``y`` into ``y_avg`` like
    :func:`primal_step`. Returns ``||y' - y||^2``.
    """
    fold = avg_frac > 0.0
    dy2 = 0.0
    for p in prange(parts.shape[0] - 1):
        for i in range(parts[p], parts[p + 1]):
            yi = y[i]
            if fold:
                y_avg[i] += avg_frac * (yi - y_avg[i])
            u = yi - sigma * _dot(ptr, ind, val, x_bar, i)
            yn = max(u + sigma * rlo[i], 0.0) + min(u + sigma * rhi[i], 0.0)
            y_new[i] = yn
            dy2 += (yn - yi) * (yn - yi)
    return dy2


@njit(parallel=True)
def dual_product(tptr, tind, tval, tparts, y_new, x, x_new, kty, kty_new):  # pragma: no cover
    """``kty_new = K^T y'``; returns ``(||x' - x||^2, (x' - x)' K^T (y' - y))``."""
    dx2 = 0.0
    cross = 0.0
    for p in prange(tparts.shape[0] - 1):
        for j in range(tparts[p], tparts[p + 1]):
            acc = _dot(tptr, tind, tval, y_new, j)
            kty_new[j] = acc
            dx = x_new[j] - x[j]
            dx2 += dx * dx
            cross += dx * (acc - kty[j])
    return dx2, cross


@njit(parallel=True)
def fold_average(x, x_avg, frac):  # pragma: no cover - compiled
    """``x_avg += frac (x - x_avg)``."""
    for j in prange(x.shape[0]):
        x_avg[j] += frac * (x[j] - x_avg[j])


@njit
def iterate(
    ptr, ind, val, parts, tptr, tind, tval, tparts, c, lo, hi, rlo, rhi, hcols, hscale, hweight,
    X, Y, KTY, x_bar, x_avg, y_avg, cur, eta, omega, k0, n_iter, avg_weight,
):  # pragma: no cover - compiled
    """``n_iter`` PDHG iterations with PDLP's adaptive step size.

    ``X, Y, KTY`` hold two copies each (current ``[cur]`` and candidate
    ``[1 - cur]``) of ``x``, ``y`` and ``K^T y``; an accepted step flips ``cur``.
    Steps ``tau = eta / omega``, ``sigma = eta omega``; a step is accepted when
    ``eta <= ||dz||_omega^2 / (2 |dx' K^T dy|)`` (Applegate et al. 2021, Alg. 2).
    Accepted iterates enter the averages with weight ``eta``; all are folded in
    on return. Returns ``(cur, eta, avg_weight, rejected)``; stops early with a
    NaN ``eta`` when the step size breaks down (non-finite data or iterates).
    """
    rejected = 0
    pending = 0.0
    for it in range(n_iter):
        k = k0 + it + 2  # PDLP's k + 1 for the (1-based) iteration k
        frac = 0.0
        if pending > 0.0:
            avg_weight += pending
            frac = pending / avg_weight
        while True:
            tau = eta / omega
            sigma = eta * omega
            x, y, kty = X[cur], Y[cur], KTY[cur]
            x_new, y_new, kty_new = X[1 - cur], Y[1 - cur], KTY[1 - cur]
            primal_step(x, kty, c, lo, hi, tau, x_new, x_bar, x_avg, frac)
            if hcols.shape[0] > 0:
                harmony_step(hcols, hscale, hweight, x, kty, c, lo, hi, tau, x_new, x_bar)
            dy2 = dual_step(ptr, ind, val, parts, x_bar, y, rlo, rhi, sigma, y_new, y_avg, frac)
            frac = 0.0  # a retried step must not fold the same iterate in twice
            dx2, cross = dual_product(tptr, tind, tval, tparts, y_new, x, x_new, kty, kty_new)
            limit = np.inf
            if cross != 0.0:
                limit = 0.5 * (omega * dx2 + dy2 / omega) / abs(cross)
            eta_next = min((1.0 - k ** -0.3) * limit, (1.0 + k ** -0.6) * eta)
            if eta <= limit:
                pending = eta
                eta = eta_next
                cur = 1 - cur
                break
            rejected += 1
            eta = eta_next
            if not (eta > 0.0 and eta < np.inf):
                return cur, np.nan, avg_weight, rejected
    if pending > 0.0:
        avg_weight += pending
        frac = pending / avg_weight
        fold_average(X[cur], x_avg, frac)
        fold_average(Y[cur], y_avg, frac)
    return cur, eta, avg_weight, rejected


# ----------------------------------------------------------------------------- residuals


@njit(parallel=True)
def row_stats(kx, y, rlo, rhi, row_scale):  # pragma: no cover - compiled
    """Primal residual and the rows' part of the dual objective.

    ``kx = K x`` and the bounds are scaled (``kx_i = r_i (K v)_i``). Returns
    ``(||viol||^2 original, ||viol||^2 scaled, sum_i (r-_i y_i^+ - r+_i y_i^-))``.
    """
    orig = 0.0
    scaled = 0.0
    dobj = 0.0
    for i in prange(kx.shape[0]):
        a = kx[i]
        viol = max(rlo[i] - a, 0.0) + max(a - rhi[i], 0.0)
        scaled += viol * viol
        viol /= row_scale[i]
        orig += viol * viol
        yi = y[i]
        if yi > 0.0:
            dobj += rlo[i] * yi
        elif yi < 0.0:
            dobj += rhi[i] * yi
    return orig, scaled, dobj


@njit(parallel=True)
def column_stats(x, kty, c, lo, hi, col_scale, hpos, hweight):  # pragma: no cover
    """Dual residual and the columns' parts of both objectives.

    With ``g = c - K^T y`` in original units (``g_j = (c~_j - (K~^T y~)_j) / d_j``),
    a linear column's reduced cost ``lam`` is ``g`` projected onto the cone its
    bounds allow (``lam >= 0`` needs ``l``, ``lam <= 0`` needs ``u``); ``g - lam``
    is its dual residual and ``l lam^+ - u lam^-`` its dual objective. As in PDLP
    a bound only counts when it is finite and near ``v`` (``|v - bound| <= |v|``):
    a far bound would multiply a small error of ``lam`` by its size in the dual
    objective. A harmony column (``hpos[j] >= 0``, weight ``w``) contributes
    ``min_{l <= s <= u} w phi(s) + g s`` (closed form through ``H'^{-1}``) when
    finite, i.e. unless ``g <= 0`` and ``u`` does not count; then its residual is
    ``g - w H'(v)`` and its dual term ``w (H'(v) v - H(v))``.
    Returns ``(||res||^2 original, ||res||^2 scaled, c'v + w'phi(v_H), dual part)``.
    """
    orig = 0.0
    scaled = 0.0
    pobj = 0.0
    dobj = 0.0
    for j in prange(x.shape[0]):
        d = col_scale[j]
        v = x[j] * d
        lj = lo[j] * d
        uj = hi[j] * d
        if not abs(v - lj) <= abs(v):
            lj = -np.inf
        if not abs(v - uj) <= abs(v):
            uj = np.inf
        g = (c[j] - kty[j]) / d
        q = hpos[j]
        pj = c[j] * x[j]
        res = 0.0
        if q < 0:
            lam = g
            if lam > 0.0 and lj == -np.inf:
                lam = 0.0
            elif lam < 0.0 and uj == np.inf:
                lam = 0.0
            res = g - lam
            if lam > 0.0:
                dobj += lj * lam
            elif lam < 0.0:
                dobj += uj * lam
        else:
            w = hweight[q]
            pj -= w * _harmony(v)
            if g > 0.0 or uj < np.inf:
                if g > 0.0:
                    t = g / w
                    s = 1.0 - t if t > 1.0 else 1.0 / t - 1.0
                    s = min(max(s, lj), uj)
                else:
                    s = uj
                dobj += g * s - w * _harmony(s)
            else:
                hp = _harmony_prime(v)
                res = g - w * hp
                dobj += w * (hp * v - _harmony(v))
        pobj += pj
        scaled += (res * d) * (res * d)
        orig += res * res
    return orig, scaled, pobj, dobj


@njit(parallel=True)
def dual_ray_stats(kty, lo, hi, col_scale):  # pragma: no cover - compiled
    """For a dual ray ``y`` with ``kty = K~^T y~``: ``(max_j |g_j - lam_j|, sum_j l_j lam_j^+ -
    u_j lam_j^-)`` with ``g = -K^T y`` and ``lam`` its projection onto the cone the finite
    column bounds allow (original units); a Farkas certificate has a positive total
    (rows and columns) ray objective and a small first entry."""
    worst = 0.0
    dobj = 0.0
    for j in prange(kty.shape[0]):
        d = col_scale[j]
        g = -kty[j] / d
        lam = g
        if lam > 0.0 and lo[j] == -np.inf:
            lam = 0.0
        elif lam < 0.0 and hi[j] == np.inf:
            lam = 0.0
        worst = max(worst, abs(g - lam))
        if lam > 0.0:
            dobj += lo[j] * d * lam
        elif lam < 0.0:
            dobj += hi[j] * d * lam
    return worst, dobj


@njit(parallel=True)
def primal_ray_stats(kx, rlo, rhi, row_scale):  # pragma: no cover - compiled
    """For a primal ray ``x`` with ``kx = K~ x~``: ``max_i`` violation of the recession
    cone of the rows (``(K x)_i >= 0`` where ``r-_i`` is finite, ``<= 0`` where
    ``r+_i`` is), original units."""
    worst = 0.0
    for i in prange(kx.shape[0]):
        a = kx[i] / row_scale[i]
        if rlo[i] > -np.inf:
            worst = max(worst, -a)
        if rhi[i] < np.inf:
            worst = max(worst, a)
    return worst


@njit(parallel=True)
def dual_ray(y, y_ref, rlo, rhi, out):  # pragma: no cover - compiled
    """``out = y - y_ref`` projected onto the multipliers the rows allow (``<= 0``
    where ``r-`` is infinite, ``>= 0`` where ``r+`` is); returns its row objective
    ``sum_i r-_i out_i^+ - r+_i out_i^-``."""
    obj = 0.0
    for i in prange(y.shape[0]):
        r = y[i] - y_ref[i]
        if rlo[i] == -np.inf:
            r = min(r, 0.0)
        if rhi[i] == np.inf:
            r = max(r, 0.0)
        out[i] = r
        if r > 0.0:
            obj += rlo[i] * r
        elif r < 0.0:
            obj += rhi[i] * r
    return obj


@njit(parallel=True)
def primal_ray(x, x_ref, lo, hi, c, out):  # pragma: no cover - compiled
    """``out = x - x_ref`` projected onto the recession cone of ``[lo, hi]`` (``>= 0``
    where ``lo`` is finite, ``<= 0`` where ``hi`` is); returns ``c'out``."""
    obj = 0.0
    for j in prange(x.shape[0]):
        r = x[j] - x_ref[j]
        if lo[j] > -np.inf:
            r = max(r, 0.0)
        if hi[j] < np.inf:
            r = min(r, 0.0)
        out[j] = r
        obj += c[j] * r
    return obj


@njit(parallel=True)
def distance(a, b):  # pragma: no cover - compiled
    """``||a - b||_2``."""
    acc = 0.0
    for j in prange(a.shape[0]):
        t = a[j] - b[j]
        acc += t * t
    return math.sqrt(acc)

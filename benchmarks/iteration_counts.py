#!/usr/bin/env python
"""How many passes over ``A`` a Leontief solve needs, by method: is there a cheaper iteration?

Every solve of a large economy is bound by passes over its coefficients (one matrix-vector
product each; BENCHMARKS.md, runs L3-L7). This script counts the passes that reach a relative
residual of ``--tol`` on one synthetic economy, for

* **BiCGSTAB** (what gosplan and scipy run; two products an iteration),
* **GMRES(m)**, which minimises the residual over the whole Krylov space: no Krylov method
  can need fewer products than it does for the same start,
* **Gauss-Seidel sweeps** (one pass each) in several orders of the products, among them
  "downstream first" by Antras' upstreamness (the order in which a sweep would meet most
  inputs already updated), and **Jacobi** (the Neumann series, one pass each),

for gross output ``(I - A) x = y`` and for values ``(I - A)^T v = l`` with random positive
right-hand sides, and for unit right-hand sides ``e_f`` of the values system (the rows that
the Leontief method's finish on its linking rows solves one by one, :mod:`gosplan.planning.
substitution_rows`) of the products with the most users.

    python benchmarks/iteration_counts.py --n 1e6 --inputs 30          # about 3 minutes
    python benchmarks/iteration_counts.py --n 1e5 --inputs 10 --json counts.json

The counts, not the seconds, are the result: scipy's solvers and the sweeps here run
single-threaded in Python. Counts are the products computed until the residual is met
(GMRES and BiCGSTAB also count the product of their first residual).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def _rtol(tol: float) -> dict:
    """The relative tolerance in scipy's keyword (``rtol`` from scipy 1.12, ``tol`` before)."""
    return {"rtol": tol} if "rtol" in inspect.signature(spla.bicgstab).parameters else {"tol": tol}


def _counting(M: sp.csr_array) -> tuple[spla.LinearOperator, list[int]]:
    count = [0]

    def matvec(z: np.ndarray) -> np.ndarray:
        count[0] += 1
        return M @ z

    return spla.LinearOperator(M.shape, matvec=matvec, dtype=np.float64), count


def krylov(M: sp.csr_array, b: np.ndarray, method: str, tol: float, restart: int) -> tuple[int, float]:
    """Products ``M z`` until ``||b - M x|| <= tol ||b||``, and the residual reached."""
    op, count = _counting(M)
    if method == "bicgstab":
        x, _ = spla.bicgstab(op, b, atol=0.0, maxiter=1000, **_rtol(tol))
    else:
        x, _ = spla.gmres(op, b, atol=0.0, restart=restart, maxiter=100, **_rtol(tol))
    return count[0], float(np.linalg.norm(b - M @ x) / np.linalg.norm(b))


@functools.cache
def _gauss_seidel_kernel():
    """The compiled sweep, compiled once per process."""
    import numba as nb

    @nb.njit(cache=False)
    def sweep(ptr, ind, dat, order, x, b):  # pragma: no cover - compiled
        # x_i = (b_i + sum_{j != i} A_ij x_j) / (1 - A_ii), products in ``order``, in place
        for k in range(order.size):
            i = order[k]
            s = b[i]
            dii = 0.0
            for p in range(ptr[i], ptr[i + 1]):
                j = ind[p]
                if j == i:
                    dii += dat[p]
                else:
                    s += dat[p] * x[j]
            x[i] = s / (1.0 - dii)

    return sweep


def sweeps(A: sp.csr_array, b: np.ndarray, order: np.ndarray | None, tol: float, most: int) -> tuple[int | None, float]:
    """Gauss-Seidel sweeps in ``order`` (``None``: Jacobi) on ``x = A x + b`` until the residual
    of ``(I - A) x = b`` is at most ``tol ||b||``; ``(None, rate)`` if ``most`` do not reach it.
    ``rate``: the residual's geometric mean reduction per sweep."""
    sweep = _gauss_seidel_kernel()
    ptr, ind = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    x = np.zeros(A.shape[0])
    norm = float(np.linalg.norm(b))
    first = None
    for k in range(1, most + 1):
        if order is None:
            x = b + A @ x
        else:
            sweep(ptr, ind, A.data, order, x, b)
        res = float(np.linalg.norm(b - x + A @ x)) / norm
        first = res if first is None else first
        if res <= tol:
            return k, (res / first) ** (1.0 / max(k - 1, 1))
    return None, (res / first) ** (1.0 / max(most - 1, 1))


def upstreamness(A: sp.csr_array, x: np.ndarray) -> np.ndarray:
    """Antras' upstreamness ``u = (I - D)^{-1} 1`` with ``D_ij = A_ij x_j / x_i``: 1 for a product
    sold to final use only, larger the more stages its output passes through."""
    x = np.maximum(x, 1e-300)
    D = sp.csr_array(sp.diags_array(1.0 / x) @ A @ sp.diags_array(x))
    u, _ = spla.bicgstab(sp.csr_array(sp.identity(A.shape[0], format="csr")) - D, np.ones(A.shape[0]), atol=0.0,
                         **_rtol(1e-8))
    return u


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6, help="products (default 1e6)")
    ap.add_argument("--inputs", type=float, default=30, help="mean inputs a product, K (default 30)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--tol", type=float, default=1e-11, help="relative residual (default 1e-11, the method's)")
    ap.add_argument("--restart", type=int, default=30, help="GMRES restart length (default 30)")
    ap.add_argument("--sweeps", type=int, default=60, help="most Jacobi / Gauss-Seidel sweeps (default 60)")
    ap.add_argument("--units", type=int, default=3, help="unit right-hand sides of the most used products")
    ap.add_argument("--json", help="write the rows as JSON here")
    args = ap.parse_args(argv)

    from gosplan.synth import generate

    n = int(args.n)
    t = time.perf_counter()
    try:
        A = sp.csr_array(generate(n, args.inputs, seed=args.seed).A)
    except ValueError as exc:  # the generator names what is wrong (e.g. too few products)
        ap.error(str(exc))
    A.sum_duplicates()
    print(f"economy: n={n:,}, K={args.inputs:g}, {A.nnz:,} coefficients, built in {time.perf_counter() - t:.1f} s",
          flush=True)
    M = sp.csr_array(sp.identity(n, format="csr") - A)
    AT = sp.csr_array(A.T)
    MT = sp.csr_array(M.T)
    rng = np.random.default_rng(args.seed)
    y, l = rng.random(n), rng.random(n)
    x, _ = spla.bicgstab(M, y, atol=0.0, **_rtol(1e-8))
    down_first = np.argsort(upstreamness(A, x), kind="stable")
    orders = {"natural": np.arange(n), "random": rng.permutation(n), "downstream first": down_first,
              "upstream first": down_first[::-1].copy()}
    users = np.diff(A.indptr)
    rows: list[dict] = []

    def report(system: str, rhs: str, method: str, products: int | None, residual: float | None = None,
               rate: float | None = None) -> None:
        rows.append({"system": system, "rhs": rhs, "method": method, "products": products, "residual": residual,
                     "rate": rate})
        extra = f"residual {residual:.1e}" if residual is not None else f"rate {rate:.3f} a sweep"
        print(f"{system:6} {rhs:28} {method:34} {products if products is not None else '>' + str(args.sweeps):>6}"
              f"  {extra}", flush=True)

    print(f"{'system':6} {'right-hand side':28} {'method':34} {'passes':>6}")
    for system, (op, trans, b) in {"x": (M, A, y), "v": (MT, AT, l)}.items():
        for method in ("bicgstab", "gmres"):
            k, res = krylov(op, b, method, args.tol, args.restart)
            report(system, "random", method if method == "bicgstab" else f"gmres({args.restart})", k, res)
        k, rate = sweeps(trans, b, None, args.tol, args.sweeps)
        report(system, "random", "jacobi (Neumann series)", k, rate=rate)
        for name, order in orders.items():
            k, rate = sweeps(trans, b, order, args.tol, args.sweeps)
            report(system, "random", f"gauss-seidel, {name}", k, rate=rate)
    for f in np.argsort(-users, kind="stable")[: args.units]:
        e = np.zeros(n)
        e[f] = 1.0
        for method in ("bicgstab", "gmres"):
            k, res = krylov(MT, e, method, args.tol, args.restart)
            report("v", f"e_f, product {f} ({users[f]:,} users)",
                   method if method == "bicgstab" else f"gmres({args.restart})", k, res)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"n": n, "inputs": args.inputs, "seed": args.seed, "tol": args.tol, "rows": rows}, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()

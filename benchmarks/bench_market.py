#!/usr/bin/env python
"""Consumer-market benchmark (issue 12): ``gosplan.consumers.clear`` against the
Eisenberg--Gale program solved by cvxpy + Clarabel, and against plain tatonnement, in one process.

    python benchmarks/bench_market.py                    # the four sizes of BENCHMARKS.md
    python benchmarks/bench_market.py --sizes 20:73,1000:100000 --ref-max 500 --markdown

Markets: ``H`` groups, ``G`` goods; group ``h`` wants a random subset of ``density * G``
goods (at least 3) with lognormal weights (sigma 1), every good wanted by at least one group;
elasticities drawn from {0.2, 0.5, 1, 2, 5} (mixed across groups); supply and budgets lognormal
(sigma 1). Columns: seconds of ``clear`` (best of ``--repeat``, after one untimed call that
compiles the kernels), peak memory (tracemalloc, a separate call), Newton steps, CG
iterations, demand evaluations, the relative excess ``clear`` rechecks from scratch; plain
tatonnement in log prices (``log p += log(D / s) / sigma_j``, ``sigma_j`` the spending-weighted
elasticity of the buyers, no safeguard) with its seconds and steps to the same tolerance; the
reference (EG by Clarabel, for markets up to ``--ref-max`` groups x goods): build + solve
seconds, the relative excess of the CES demand at the reference's prices (its own accuracy),
the largest relative price difference, and reference seconds / ``clear`` seconds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gosplan.consumers import clear, demand  # noqa: E402
from gosplan.consumers.market import _Market  # noqa: E402
from gosplan.model.households import Households  # noqa: E402

SIGMAS = (0.2, 0.5, 1.0, 2.0, 5.0)  # away from 1 but for 1 itself: the reference's a^(1/(sigma-1)) stays finite
DENSITY = {73: 0.3, 402: 0.1, 10_000: 0.02, 100_000: 0.01}


def market(H: int, G: int, density: float, seed: int):
    rng = np.random.default_rng(seed)
    k = max(3, int(round(density * G)))
    rows = np.repeat(np.arange(H), k)
    cols = np.concatenate([rng.choice(G, size=k, replace=False) for _ in range(H)])
    rows = np.concatenate([rows, rng.integers(0, H, G)])  # every good has a buyer
    cols = np.concatenate([cols, np.arange(G)])
    w = sp.csr_array(sp.coo_array((rng.lognormal(0.0, 1.0, rows.size), (rows, cols)), shape=(H, G)))
    sigma = rng.choice(SIGMAS, H)
    hh = Households(
        groups=pd.Index([f"h{i}" for i in range(H)]),
        population=np.ones(H),
        budget=None,
        elasticity=sigma,
        goods=pd.Index([f"g{j}" for j in range(G)]),
        weights=w,
    )
    return hh, rng.lognormal(0.0, 1.0, G), rng.lognormal(0.0, 1.0, H)


def tatonnement(hh, s, B, tol: float, max_iter: int) -> tuple[float, int, float]:
    """Plain log-price tatonnement with theta_j = 1 / (spending-weighted sigma of j's buyers)."""
    start = time.perf_counter()
    mk = _Market(hh, s, B)
    lp = mk.start()
    sig_r = mk.sigma[mk.r]
    rel = np.inf
    for it in range(max_iter + 1):
        x, spent, ps, _, rel = mk.evaluate(lp)
        if rel <= tol or not np.isfinite(rel):
            break
        theta = spent / np.bincount(mk.c, weights=sig_r * x, minlength=mk.n)
        lp = lp + theta * np.log(spent / ps)
    return time.perf_counter() - start, it, rel


def eisenberg_gale(hh, s, B) -> tuple[float, np.ndarray]:
    import cvxpy as cp

    start = time.perf_counter()
    a = hh.weights
    b = B / B.sum()  # budgets summing to 1, quantities in units of supply: c_hj = s_j q_hj
    terms = []
    cvars = []
    for h in range(hh.H):
        on = a.indices[a.indptr[h] : a.indptr[h + 1]]
        ah = a.data[a.indptr[h] : a.indptr[h + 1]]
        q = cp.Variable(on.size, nonneg=True)
        cvars.append((on, q))
        sig = hh.elasticity[h]
        if abs(sig - 1.0) < 1e-12:
            terms.append(b[h] * (ah @ cp.log(q)))  # + constant
        else:
            rho = (sig - 1.0) / sig
            terms.append(b[h] * cp.log(cp.pnorm(cp.multiply(ah ** (1.0 / (sig - 1.0)) * s[on], q), rho)))
    total = 0
    for on, q in cvars:
        P = sp.csr_array((np.ones(on.size), (on, np.arange(on.size))), shape=(hh.G, on.size))
        total = total + P @ q
    supply = total <= 1.0
    prob = cp.Problem(cp.Maximize(cp.sum(terms)), [supply])
    status = ""
    for tol in (1e-10, 1e-8, 1e-6):  # Clarabel may fail at 1e-10: then looser
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, max_iter=500)
            status = f"{prob.status} at tol {tol:g}"
            break
        except cp.error.SolverError:
            status += f"failed at tol {tol:g}; "
    dual = supply.dual_value  # the price of all of good j's supply, per unit of total budget
    prices = np.asarray(dual) * B.sum() / s if dual is not None else np.asarray(np.nan)
    return time.perf_counter() - start, prices, status


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" if c not in ("note", "tatonnement") else ":---" for c in cols) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="20:73,100:402,1000:10000,1000:100000", help="H:G,...")
    ap.add_argument("--density", type=float, default=None, help="share of goods each group wants (default by size)")
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--ref-max", type=int, default=50_000, help="largest H*G for the cvxpy reference")
    ap.add_argument("--tatonnement-max", type=int, default=200, help="steps before plain tatonnement gives up")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()

    load = os.getloadavg()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{_dt.date.today()}, load {load[0]:.2f}")
    warm = market(5, 20, 0.5, 0)
    clear(*warm)  # numba compiles (or loads) the kernels
    rows = []
    for spec in args.sizes.split(","):
        H, G = (int(float(v)) for v in spec.split(":"))
        density = args.density or DENSITY.get(G, 0.01)
        hh, s, B = market(H, G, density, args.seed)
        best, m = np.inf, None
        for _ in range(args.repeat):
            t = time.perf_counter()
            m = clear(hh, s, B, tol=args.tol)
            best = min(best, time.perf_counter() - t)
        tracemalloc.start()
        clear(hh, s, B, tol=args.tol)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t_sec, t_it, t_rel = tatonnement(hh, s, B, args.tol, args.tatonnement_max)
        t_cell = f"{t_sec:.3g} s, {t_it} steps" + ("" if t_rel <= args.tol else f" (stopped at {t_rel:.1e})")
        ref_s = ref_d = ref_x = ratio = "-"
        note = ""
        if H * G <= args.ref_max:
            sec, p_ref, status = eisenberg_gale(hh, s, B)
            ref_s = f"{sec:.3g}"
            ratio = f"{sec / best:.0f}x"
            note = f"Clarabel {status}; build + solve"
            if p_ref.ndim and np.all(p_ref > 0):
                ref_d = f"{np.max(np.abs(m.prices / p_ref - 1)):.1e}"
                sold = np.asarray(demand(hh, p_ref, B).sum(axis=0)).reshape(-1)
                ref_x = f"{np.max(np.abs(sold / s - 1)):.1e}"
            else:
                ref_d, note = "-", note + ", no prices"
        else:
            note = "EG reference skipped (H*G > --ref-max)"
        rows.append(
            {
                "groups": f"{H:,}",
                "goods": f"{G:,}",
                "nnz": f"{hh.weights.nnz:,}",
                "density": f"{hh.weights.nnz / (H * G):.3g}",
                "clear s": f"{best:.3g}",
                "peak MB": f"{peak / 1e6:.1f}",
                "Newton": m.iterations,
                "CG": m.cg_iterations,
                "evals": m.evaluations,
                "excess": f"{m.excess:.1e}",
                "tatonnement": t_cell,
                "EG s": ref_s,
                "EG excess": ref_x,
                "price diff": ref_d,
                "EG / clear": ratio,
                "note": note,
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print()
    print(_markdown(table) if args.markdown else table.to_string(index=False))
    print(f"# load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

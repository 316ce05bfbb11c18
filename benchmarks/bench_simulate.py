#!/usr/bin/env python
"""Consumer-feedback loop benchmark (issue 12): ``gosplan.simulate`` (rule ``opportunity``)
on real and synthetic economies, and one period against the Eisenberg--Gale program solved
directly by cvxpy + Clarabel, in one process.

    python benchmarks/bench_simulate.py                          # us-2022, us-2017, 1e4
    python benchmarks/bench_simulate.py --cases 1e5 --markdown   # the large case alone

Cases: ``us-2022`` (73 products, 20 groups), ``us-2017`` (402, 100 groups), synthetic economies
``1e4`` and ``1e5`` (``gosplan.synth.generate``, K = 10, resources land and co2) with 1,000 groups
(``gosplan.synth.households``, sparse above 3,000 goods per group). Each has labour limited to its
own use, two other resources limited to 97 % of theirs, and capacities at 97 % of the unconstrained
equilibrium's gross output on a tenth of the products (consumer goods mostly bought by
households, so that the committed demand stays feasible): every kind of limit binds at the
equilibrium, which the script checks and prints (resources with a positive price in the last
plan, capacities at their bound). The loop runs to ``tol = 1e-4`` (largest relative revision of a
target and of what is delivered).

Columns: products, groups, preference nonzeros, periods to converge, seconds in all, seconds per
period for the plan, the market and the revision, peak resident memory of the process (each case
runs in its own process), what binds, and where the reference fits (``--ref-max`` groups x goods):
the Eisenberg--Gale program built and solved by Clarabel (seconds, and ratio to one period of the
loop) and the largest relative difference between the loop's total consumption and the program's
(its consumption recomputed by the CES demand formula at its own prices, the more accurate part
of an interior-point answer).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

CASES = {
    "us-2022": ("us-2022", 20),
    "us-2017": ("us-2017", 100),
    "1e4": (10_000, 1000),
    "1e5": (100_000, 1000),
}


def _economy(spec):
    import gosplan

    if isinstance(spec, str):
        return gosplan.load(spec)
    from gosplan.synth import generate

    return generate(int(spec), 10, seed=1, resources=("land", "co2"))


def _limits(economy, hh):
    """Labour at its own use, the other resources at 97 %, capacities at 97 % of the
    unconstrained equilibrium's output on a tenth of the products."""
    import pandas as pd

    import gosplan
    from gosplan.io.households import household_demand
    from gosplan.planning.problem import _default_labour_available

    use = _default_labour_available(economy)
    resources = {str(r): (1.0 if r == economy.labour else 0.97) * use[k] for k, r in enumerate(economy.resources)
                 if r == economy.labour or k < 3}
    free = gosplan.simulate(economy, hh, rule="opportunity", periods=60, tol=1e-4, resources=resources)
    goods = hh.goods_in(economy.products)
    y_o = economy.y - np.maximum(household_demand(economy), 0.0)
    gross, net = free.plan.gross_output, free.plan.net_output
    candidates = goods[(y_o[goods] < 0.5 * net[goods]) & (net[goods] > 0.5 * gross[goods])]
    k = min(candidates.size, max(1, economy.n_products // 10))
    capped = np.sort(np.random.default_rng(0).choice(candidates, k, replace=False))
    caps = pd.Series(0.97 * gross[capped], index=economy.products[capped].astype(str))
    return resources, caps, capped, free.seconds


def run_case(name: str, ref_max: int, periods: int) -> dict:
    import gosplan
    from gosplan.io.households import household_demand, load_households
    from gosplan.planning.problem import planning_problem

    warnings.simplefilter("ignore")
    spec, groups = CASES[name]
    t0 = time.perf_counter()
    economy = _economy(spec)
    hh = load_households(economy, groups=groups, seed=1)
    setup = time.perf_counter() - t0
    resources, caps, capped, free_seconds = _limits(economy, hh)
    t1 = time.perf_counter()
    sim = gosplan.simulate(economy, hh, rule="opportunity", periods=periods, tol=1e-4, resources=resources,
                           capacities=caps)
    seconds = time.perf_counter() - t1
    per = sim.periods
    plan = sim.plan
    binding_resources = [str(r) for r, p in zip(plan.resources, plan.resource_price) if p > 0]
    at_cap = int((plan.gross_output[capped] >= caps.to_numpy() * (1 - 1e-6)).sum())
    out = {
        "case": name, "products": int(economy.n_products), "groups": int(hh.H), "goods": int(hh.G),
        "nnz": int(hh.weights.nnz), "converged": bool(sim.converged), "periods": int(sim.n_periods),
        "seconds": seconds, "setup_seconds": setup, "uncapped_run_seconds": free_seconds,
        "plan_s": float(per["plan_seconds"].mean()), "market_s": float(per["market_seconds"].mean()),
        "revision_s": float(per["revision_seconds"].mean()), "gap": float(per["gap"].iloc[-1]),
        "change": float(per["change"].iloc[-1]), "binding_resources": binding_resources,
        "capacities": int(caps.size), "at_capacity": at_cap,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "message": sim.message,
    }
    if hh.H * hh.G <= ref_max:
        from _eisenberg_gale import eisenberg_gale

        committed = economy.y - np.maximum(household_demand(economy), 0.0)
        used = np.isfinite(plan.capacity)
        import pandas as pd

        cap_all = pd.Series(plan.capacity[used], index=economy.products[used].astype(str))
        prob = planning_problem(economy, targets=np.zeros(economy.n_products), resources=resources,
                                capacities=cap_all, committed=committed)
        goods = hh.goods_in(economy.products)
        B = hh.budgets(1.0) / hh.budgets(1.0).sum()
        t2 = time.perf_counter()
        try:
            C, total, prices, mu, err = eisenberg_gale(
                prob.net, prob.make, prob.primary, prob.available, prob.capacity, committed, goods,
                hh.weights.toarray(), hh.elasticity, B, x_scale=plan.activity_level,
                c_scale=np.maximum(household_demand(economy)[goods], 1e-9),
            )
        except Exception as exc:  # the reference's power cones overflow on tiny weights with sigma < 1
            out.update(ref_failed=f"{type(exc).__name__}: {str(exc)[:120]}", ref_seconds_failed=time.perf_counter() - t2)
            return out
        ref_seconds = time.perf_counter() - t2
        a = hh.weights.toarray()
        dem = np.empty_like(a)
        for h in range(hh.H):
            s = hh.elasticity[h]
            dem[h] = B[h] * a[h] * prices ** (-s) / np.sum(a[h] * prices ** (1 - s))
        dem_total = dem.sum(axis=0) * (total.sum() / dem.sum())
        loop_total = np.asarray(sim.final_consumption.sum(axis=0)).ravel()
        out.update(ref_seconds=ref_seconds, ref_self_error=err,
                   ref_vs_period=ref_seconds / (seconds / sim.n_periods),
                   diff_consumption=float(np.max(np.abs(loop_total - dem_total) / dem_total)))
    return out


def _machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="us-2022,us-2017,1e4", help="comma-separated among " + ", ".join(CASES))
    ap.add_argument("--ref-max", type=int, default=50_000, help="largest groups x goods solved directly by Clarabel")
    ap.add_argument("--periods", type=int, default=60)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per case (its own process)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one, args.ref_max, args.periods)))
        return
    print(f"# {_dt.date.today()} · {_machine()}")
    rows = []
    for name in args.cases.split(","):
        cmd = [sys.executable, __file__, "--one", name, "--ref-max", str(args.ref_max), "--periods", str(args.periods)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            line = [s for s in done.stdout.splitlines() if s.startswith("{")]
            if not line:
                print(f"{name}: failed\n{done.stderr[-2000:]}")
                continue
            rows.append(json.loads(line[-1]))
        except subprocess.TimeoutExpired:
            print(f"{name}: over {args.timeout:.0f} s")
            continue
        r = rows[-1]
        print(f"{name}: {r['message']}", flush=True)
    head = ("case", "products", "groups x goods", "nnz", "periods", "s total", "s/period plan",
            "market", "revision", "peak MB", "binding", "EG s (ratio to a period)", "max rel. diff")
    fmt = []
    for r in rows:
        ref = (f"{r['ref_seconds']:.2f} ({r['ref_vs_period']:.1f}x)" if "ref_seconds" in r
               else ("failed" if "ref_failed" in r else "—"))
        diff = f"{r['diff_consumption']:.1e}" if "diff_consumption" in r else "—"
        fmt.append((r["case"], f"{r['products']:,}", f"{r['groups']:,} x {r['goods']:,}", f"{r['nnz']:,}",
                    f"{r['periods']}{'' if r['converged'] else ' (not converged)'}", f"{r['seconds']:.1f}",
                    f"{r['plan_s']:.2f}", f"{r['market_s']:.3f}", f"{r['revision_s']:.2f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{', '.join(r['binding_resources'])}; {r['at_capacity']}/{r['capacities']} capacities",
                    ref, diff))
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for f in fmt:
            print("| " + " | ".join(f) + " |")
    else:
        widths = [max(len(h), *(len(f[i]) for f in fmt)) if fmt else len(h) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for f in fmt:
            print("  ".join(c.ljust(w) for c, w in zip(f, widths)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Two-level planning benchmark: monolithic (the enterprise-level program in one piece, HiGHS)
against decomposed (centre + ministries), in-process and on Dask LocalClusters of 1, 2 and 4
worker processes, side by side in one process.

    python benchmarks/bench_decompose.py --quick             # n = 2,000, 20,000 enterprises; ~1 min
    python benchmarks/bench_decompose.py --cases 10000:10:10,100000:10:30 --workers 1,2,4 --limit 900
    python benchmarks/bench_decompose.py ... --out r.json --markdown r.md
    python benchmarks/bench_decompose.py --aggregate us-2017:1e6   # aggregate() of 10^6 enterprises alone
    python benchmarks/bench_decompose.py --cases 100000:10:30 --workers '' --coordination marginal \
        --tol 1e-4 --mono-max 0 --imports 0.05                     # net imports on 5 % of the products

A case ``n:E:M`` is a synthetic economy of ``n`` products (``gosplan.synth.generate(n,
seed=--seed)``) with on average ``E`` enterprises per product
(``gosplan.synth.enterprises.synth_enterprises``: Pareto sizes, capacities 5-30 % above the
table's own plan, input and labour factors lognormal around 1) under ``M`` ministries. The
plan: fulfilment (or with ``--objective harmony`` Cockshott's harmony) of the table's own final
demand with labour limited to the table's own use. ``--imports SHARE``: that share of the
products (drawn with ``--seed``) untargeted, with a negative floor instead (a net import: -3
times the product's use at the table's own plan, imported in full, or -0.3 times it, imported
in part, alternately), as every bundled table has; ``rows short`` then counts the floors.

Rows, for each case:

* ``monolithic highs``: ``plan_decomposed(monolithic=True, method="highs")`` — every
  enterprise its own activity, one HiGHS dual simplex solve (the reference optimum);
* ``decomposed in-process``: ``plan_decomposed(...)`` with the ministries in this process;
* ``decomposed dask wN``: the same with a ``distributed.LocalCluster`` of ``N`` worker
  processes (1 thread each) started beforehand (its start-up time is reported apart).

Columns: seconds (whole call), rounds, seconds at the centre and in the ministries' step
(wall, summed over rounds), the objective ``z`` and its relative difference from the
monolithic optimum (or, when that did not finish, from the in-process decomposed plan), the
certified gap, the plan's check on the enterprise-level rows (``rows short``: the worst
relative shortfall of a product's net output below ``z y``, computed from the hierarchy's
fields, not by gosplan.decompose; ``labour - L``: its labour over the limit, relative; both
must be <= ~1e-9; for ``--objective harmony``, ``rows short`` is instead how far the harmony
of the net outputs the enterprises' targets make, ``sum H(net_i / y_i - 1)``, falls short of the
reported objective, relative), the driver's peak RSS increase, the largest worker RSS at the end, the bytes of
prices sent down and reports sent up (pickled sizes), the largest ministry's state.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_balance import MemoryWatch, Table, error_text, fmt_bytes, fmt_s, machine_info, to_jsonable  # noqa: E402


def parse_cases(text: str) -> list[tuple[int, float, int]]:
    out = []
    for part in text.split(","):
        n, e, m = part.split(":")
        out.append((int(float(n)), float(e), int(m)))
    return out


def build(n: int, per: float, ministries: int, seed: int):
    import gosplan  # noqa: F401
    from gosplan.synth import generate
    from gosplan.synth.enterprises import synth_enterprises

    econ = generate(n, seed=seed)
    return synth_enterprises(econ, per_product=per, ministries=ministries, seed=seed)


def net_imports(econ, share: float, seed: int):
    """``(targets, floors)`` with net imports on ``share`` of the products (drawn at random): those
    untargeted, with a floor of -3 times their use at the table's own plan (imported in full, made
    not at all) or -0.3 times it (imported in part), alternately; the rest keep their targets."""
    import numpy as np

    import gosplan

    n = econ.n_products
    rng = np.random.default_rng(seed)
    use = np.asarray(econ.A @ gosplan.balance(econ).gross_output)
    imp = rng.choice(n, int(share * n), replace=False)
    y = np.maximum(econ.y, 0.0).astype(float)
    y[imp] = 0.0
    floor = np.zeros(n)
    floor[imp] = -use[imp] * np.where(np.arange(imp.size) % 2 == 0, 3.0, 0.3)
    return y, floor


def enterprise_check(econ, res, targets=None, floors=None) -> tuple[float, float]:
    """The plan's worst relative shortfall on the enterprise-level rows, ``(z y - net) / (1 +
    |made| + |used|)``, and its labour over the table's own use minus 1, computed sparsely from
    the hierarchy's fields as tests/_enterprise_lp.py writes the program (not through
    gosplan.decompose): every enterprise makes ``x_e`` of its product from ``f_e A_i x_e`` (plus
    its own norms), a product no enterprise makes comes from its table column."""
    import numpy as np
    import scipy.sparse as sp

    import gosplan

    h = econ.hierarchy
    n = econ.n_products
    x = np.asarray(res.enterprise_output)
    prod = np.asarray(h.enterprise_product)
    unc = np.flatnonzero(~h.covered)
    gross_unc = res.gross_output[unc] if res.gross_output is not None else res.plan.gross_output[unc]
    made = np.bincount(prod, weights=x, minlength=n)
    F = np.bincount(prod, weights=h.input_factor * x, minlength=n)
    H = np.bincount(prod, weights=h.labour_factor * x, minlength=n)
    for v in (made, F, H):
        v[unc] += gross_unc
    used = sp.csr_array(econ.A) @ F
    li = econ.resources.get_loc(econ.labour)
    labour = float((sp.csr_array(econ.primary) @ H)[li])
    if h.norms is not None:
        xe = x[h.norms.enterprise]
        used = used + h.norms.inputs.T @ xe
        labour += float((h.norms.primary.T @ xe)[li])
    y = np.maximum(econ.y, 0.0) if targets is None else np.asarray(targets, dtype=float)
    need_floor = np.zeros(n) if floors is None else np.where(y > 0, 0.0, np.asarray(floors, dtype=float))
    L = float(econ.l @ gosplan.balance(econ).gross_output)
    net = made - used
    if res.objective_kind == "harmony":
        from gosplan.optim.lp import harmony

        t = y > 0
        made_h = float(harmony(np.maximum(net[t] / y[t] - 1.0, -1.0)).sum())
        shortfall = max(float((-net[~t] / (1.0 + np.abs(made[~t]) + np.abs(used[~t]))).max(initial=0.0)),
                        (res.objective - made_h) / max(abs(res.objective), 1e-12))
        return shortfall, labour / L - 1.0
    shortfall = float(((res.objective * y + need_floor - net) / (1.0 + np.abs(made) + np.abs(used))).max())
    return shortfall, labour / L - 1.0


def run_one(econ, label: str, limit: float, **kw) -> dict[str, Any]:
    from gosplan.decompose import plan_decomposed

    with MemoryWatch() as mem:
        t = time.perf_counter()
        try:
            res = plan_decomposed(econ, time_limit=limit, **kw)
        except Exception as exc:  # noqa: BLE001 - a failed row is reported, not fatal
            return {"mode": label, "error": error_text(exc), "seconds": time.perf_counter() - t}
        seconds = time.perf_counter() - t
    s = res.summary()
    workers_rss = [v for k, v in res.memory.items() if k != "in-process"]
    shortfall = labour = None
    if math.isfinite(res.objective) and not kw.get("monolithic"):
        shortfall, labour = enterprise_check(econ, res, kw.get("targets"), kw.get("floors"))
    return {
        "mode": label,
        "status": s["status"],
        "seconds": seconds,
        "rounds": s["rounds"],
        "centre_s": s["centre_seconds"],
        "ministries_s": s["ministry_seconds"],
        "objective": s["objective"],
        "gap": s["gap"],
        "driver_peak": mem.increase,
        "worker_rss_max": max(workers_rss) if workers_rss else None,
        "bytes_down": s["bytes_down"],
        "bytes_up": s["bytes_up"],
        "state_max": s["ministry_state_bytes_max"],
        "executor": s["executor"],
        "row_shortfall": shortfall,
        "labour_vs_limit": labour,
    }


def ministry_costs(n: int, per: float, M: int, seed: int) -> dict[str, Any]:
    """The ministries' side alone at scale (no centre solve): per ministry, the time to cut its
    part, to make its first report, to answer one round of prices (at random positive prices,
    so that groups split), its state's bytes and its report's bytes."""
    import numpy as np
    import scipy.sparse as sp

    from gosplan.decompose.executors import payload_bytes
    from gosplan.decompose.ministry import Prices, first_report, initial_state, ministry_data, price_round

    t = time.perf_counter()
    econ = build(n, per, M, seed)
    built = time.perf_counter() - t
    h = econ.hierarchy
    A = sp.csc_array(econ.A)
    P = sp.csc_array(econ.primary)
    rng = np.random.default_rng(seed)
    pi = rng.uniform(0.5, 1.5, n)
    prices = Prices(pi=pi, w=rng.uniform(0.1, 1.0, P.shape[0]), threshold=0.0)
    rows = []
    for k in range(h.n_ministries):
        t0 = time.perf_counter()
        data = ministry_data(k, h, A, P)
        t1 = time.perf_counter()
        state, report = first_report(initial_state(data))
        t2 = time.perf_counter()
        _, answer = price_round(state, prices)
        t3 = time.perf_counter()
        rows.append({
            "ministry": k, "enterprises": int(data.enterprise.size), "products": int(data.products.size),
            "cut_s": t1 - t0, "report_s": t2 - t1, "round_s": t3 - t2, "state_bytes": data.nbytes,
            "report_bytes": payload_bytes(report), "answer_bytes": payload_bytes(answer),
            "prices_bytes": payload_bytes(prices),
        })
    return {"n": n, "enterprises": h.n_enterprises, "ministries": h.n_ministries, "build_s": built, "rows": rows}


def aggregation_costs(name: str, E: int, seed: int) -> dict[str, Any]:
    """``gosplan.hierarchy.aggregate`` of ``E`` enterprises on the bundled table ``name`` (the
    case tests/test_aggregate.py checks for correctness at 10^6 enterprises on us-2017): each
    enterprise makes a product drawn uniformly, Pareto capacities, input factors uniform in
    [0.9, 1.1], one ministry. Timed without (``balance=False``) and with the material balance
    of the aggregated economy; each the best of three calls (memory: the first call's)."""
    import numpy as np
    import pandas as pd

    import gosplan
    from gosplan.hierarchy import aggregate
    from gosplan.model.hierarchy import Hierarchy

    eco = gosplan.load(name)
    rng = np.random.default_rng(seed)
    ep = rng.integers(0, eco.n_products, E)
    t = time.perf_counter()
    h = Hierarchy(products=eco.products, ministries=pd.Index(["all"]), product_ministry=np.zeros(eco.n_products, np.int64),
                  enterprises=pd.RangeIndex(E), enterprise_product=ep, capacity=rng.pareto(1.2, E) + 0.1,
                  input_factor=rng.uniform(0.9, 1.1, E))
    built = time.perf_counter() - t
    rows = []
    for balance in (False, True):
        best: dict[str, Any] | None = None
        for _ in range(3):
            with MemoryWatch() as mem:
                t = time.perf_counter()
                agg = aggregate(eco, h, balance=balance)
                wall = time.perf_counter() - t
            if best is None:  # memory from the first call, as in bench_balance
                best = {"balance": balance, "seconds": wall, "own_seconds": agg.seconds, "peak": mem.increase}
            elif wall < best["seconds"]:
                best.update(seconds=wall, own_seconds=agg.seconds)
        rows.append(best)
    return {"table": name, "n": eco.n_products, "enterprises": E, "hierarchy_build_s": built, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="10000:10:10,100000:10:30", help="n:enterprises-per-product:ministries,...")
    ap.add_argument("--workers", default="1,2,4", help="LocalCluster sizes ('' for none)")
    ap.add_argument("--limit", type=float, default=900.0, help="seconds per solve")
    ap.add_argument("--mono-max", type=int, default=200_000, help="skip the monolithic solve above this many enterprises")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--coordination", default="aggregation",
                    help="plan_decomposed's coordination for the decomposed rows: aggregation, marginal, or both "
                         "('aggregation,marginal')")
    ap.add_argument("--tol", type=float, default=1e-6, help="plan_decomposed's tol (the certified relative gap)")
    ap.add_argument("--objective", default="fulfilment", choices=("fulfilment", "harmony"),
                    help="the plan's objective (harmony: weights 1, coordination aggregation only)")
    ap.add_argument("--method", default="auto", help="the centre's solver for the decomposed rows (plan_decomposed's method)")
    ap.add_argument("--ministry-costs", metavar="n:E:M", help="measure the ministries' side alone at this size and exit")
    ap.add_argument("--aggregate", metavar="TABLE:E", nargs="?", const="us-2017:1e6",
                    help="time gosplan.hierarchy.aggregate of E random enterprises on a bundled table and exit "
                         "(default us-2017:1e6)")
    ap.add_argument("--quick", action="store_true", help="--cases 2000:10:10 --workers 2 --limit 120")
    ap.add_argument("--imports", type=float, default=0.0, metavar="SHARE",
                    help="net imports on this share of the products (untargeted, floors of -3 or -0.3 times their use)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--markdown", nargs="?", const="-", default=None, metavar="FILE")
    args = ap.parse_args(argv)
    if args.quick:
        args.cases, args.workers, args.limit = "2000:10:10", "2", 120.0
    warnings.simplefilter("ignore")
    if args.aggregate:
        name, E = args.aggregate.rsplit(":", 1)
        out = aggregation_costs(name, int(float(E)), args.seed)
        table = Table(
            f"Aggregation: {out['enterprises']:,} enterprises on {name} ({out['n']} products; hierarchy built in "
            f"{out['hierarchy_build_s']:.1f} s), best of 3",
            ["balance", "s (wall)", "s (Aggregation.seconds)", "peak RSS increase"],
        )
        for r in out["rows"]:
            table.add("yes" if r["balance"] else "no", fmt_s(r["seconds"]), fmt_s(r["own_seconds"]), fmt_bytes(r["peak"]))
        print(table.plain())
        if args.out:
            args.out.write_text(json.dumps(to_jsonable({"info": {"machine": machine_info()}, **out}), indent=2))
        if args.markdown:
            text = table.markdown()
            print(text) if args.markdown == "-" else Path(args.markdown).write_text(text + "\n")
        return 0
    if args.ministry_costs:
        (n, per, M), = parse_cases(args.ministry_costs)
        with MemoryWatch() as mem:
            out = ministry_costs(n, per, M, args.seed)
        rows = out["rows"]
        table = Table(
            f"The ministries' side: n = {n:,}, {out['enterprises']:,} enterprises, {M} ministries "
            f"(economy and enterprises built in {out['build_s']:.1f} s; peak RSS increase {fmt_bytes(mem.increase)})",
            ["", "enterprises", "products", "cut s", "first report s", "one round s", "state", "first report",
             "answer", "prices"],
        )
        import numpy as np

        for label, fn in (("median", np.median), ("max", np.max), ("sum", np.sum)):
            table.add(label, *[
                f"{fn([r[c] for r in rows]):,.0f}" if c in ("enterprises", "products") else
                fmt_s(fn([r[c] for r in rows])) if c.endswith("_s") else fmt_bytes(fn([r[c] for r in rows]))
                for c in ("enterprises", "products", "cut_s", "report_s", "round_s", "state_bytes", "report_bytes",
                          "answer_bytes", "prices_bytes")
            ])
        print(table.plain())
        if args.out:
            args.out.write_text(json.dumps(to_jsonable({"info": {"machine": machine_info()}, **out, "peak": mem.increase}), indent=2))
        if args.markdown:
            text = table.markdown()
            print(text) if args.markdown == "-" else Path(args.markdown).write_text(text + "\n")
        return 0
    cases = parse_cases(args.cases)
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    rows: list[dict[str, Any]] = []
    for n, per, M in cases:
        t = time.perf_counter()
        econ = build(n, per, M, args.seed)
        h = econ.hierarchy
        made = time.perf_counter() - t
        case = {"n": n, "enterprises": h.n_enterprises, "ministries": h.n_ministries, "build_s": made}
        extra: dict[str, Any] = {}
        if args.imports:
            extra["targets"], extra["floors"] = net_imports(econ, args.imports, args.seed)
        print(f"case n={n:,}: {h.n_enterprises:,} enterprises, {h.n_ministries} ministries (built in {made:.1f} s)", flush=True)
        results = []
        if h.n_enterprises <= args.mono_max:
            results.append(run_one(econ, "monolithic highs", args.limit, monolithic=True, method="highs", tol=args.tol,
                                   objective=args.objective, **extra))
            print("  ", results[-1], flush=True)
        coordinations = [c.strip() for c in args.coordination.split(",") if c.strip()]
        for co in coordinations:
            results.append(run_one(econ, f"decomposed {co} in-process", args.limit, method=args.method, tol=args.tol,
                                   coordination=co, objective=args.objective, **extra))
            print("  ", results[-1], flush=True)
        for w, co in [(w, co) for co in coordinations for w in worker_counts]:
            import distributed

            t = time.perf_counter()
            cluster = distributed.LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=40)
            client = distributed.Client(cluster)
            startup = time.perf_counter() - t
            try:
                row = run_one(econ, f"decomposed {co} dask w{w}", args.limit, client=client, method=args.method,
                              tol=args.tol, coordination=co, objective=args.objective, **extra)
            finally:
                client.close()
                cluster.close()
            row["cluster_startup_s"] = startup
            results.append(row)
            print("  ", results[-1], flush=True)
        reference = next((r for r in results if r["mode"] == "monolithic highs" and r.get("status") == "optimal"), None)
        if reference is None:
            reference = next((r for r in results if r.get("status") == "optimal"), None)
        for r in results:
            z, ref = r.get("objective"), reference and reference.get("objective")
            r["rel_diff"] = abs(z - ref) / abs(ref) if z is not None and ref else None
            r["reference"] = reference["mode"] if reference else None
            rows.append({**case, **r})
    table = Table(
        "Two-level planning: monolithic vs decomposed",
        ["n", "enterprises", "ministries", "mode", "status", "s", "rounds", "centre s", "ministries s",
         "harmony" if args.objective == "harmony" else "z", "vs ref",
         "gap", "rows short", "labour - L", "driver peak", "worker RSS", "down", "up", "state/ministry"],
        align="rrrll" + "r" * 14,
    )
    for r in rows:
        table.add(
            *[f"{r['n']:,}", f"{r['enterprises']:,}", r["ministries"], r["mode"], r.get("status", "error"),
             fmt_s(r.get("seconds")), r.get("rounds", ""), fmt_s(r.get("centre_s")), fmt_s(r.get("ministries_s")),
             "" if r.get("objective") is None else f"{r['objective']:.8g}",
             "" if r.get("rel_diff") is None else f"{r['rel_diff']:.1e}",
             "" if r.get("gap") is None or not math.isfinite(r["gap"]) else f"{r['gap']:.1e}",
             "" if r.get("row_shortfall") is None else f"{r['row_shortfall']:.1e}",
             "" if r.get("labour_vs_limit") is None else f"{r['labour_vs_limit']:+.1e}",
             fmt_bytes(r.get("driver_peak")), fmt_bytes(r.get("worker_rss_max")), fmt_bytes(r.get("bytes_down")),
             fmt_bytes(r.get("bytes_up")), fmt_bytes(r.get("state_max"))]
        )
    print(table.plain())
    info = {"machine": machine_info(), "command": " ".join(["python", "benchmarks/bench_decompose.py", *(argv or sys.argv[1:])])}
    if args.out:
        args.out.write_text(json.dumps(to_jsonable({"info": info, "rows": rows}), indent=2))
    if args.markdown:
        text = table.markdown()
        if args.markdown == "-":
            print(text)
        else:
            Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Harmony's prices on the bundled tables: the tangent cuts alone against the cuts solved again
exactly as a conic program (``gosplan.optim.conic``), side by side in one process.

For each bundled table and each weighting (``unit``: Cockshott's weight 1; ``value``: each
target weighted by its labour value), ``gosplan.plan(objective="harmony")`` runs twice: with
the conic re-solve switched off (``runner.CONIC_COLUMNS = 0``, what gosplan did before it) and
with it (the default). WIOD's plan is the Leontief method's (exact already) and is listed for
completeness; us-2017's harmony is unbounded (customs duties use no labour). Prints a markdown
table: method, seconds (best of ``--repeat``), objective, gosplan's check (violation, gap, price
error row by row) and the ratio of seconds.

    python benchmarks/bench_harmony_prices.py [--tables us-2022,uk-2015] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np

TABLES = ("cockshott-example", "us-2022", "uk-2015", "us-2017", "wiod-2011")


def _limits(economy) -> dict:
    """WIOD has no labour row: its residual value added is limited to what its own plan uses."""
    if economy.labour is not None or economy.recorded_output is None:
        return {}
    used = np.asarray(economy.primary @ economy.recorded_output).reshape(-1)
    return {"resources": dict(zip(map(str, economy.resources), map(float, used)))}


def run(economy, weights: str, exact: bool, repeat: int) -> dict:
    import gosplan
    from gosplan.planning import runner

    saved = runner.CONIC_COLUMNS
    runner.CONIC_COLUMNS = saved if exact else 0
    try:
        best, result = float("inf"), None
        for _ in range(repeat):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                result = gosplan.plan(economy, objective="harmony", weights=None if weights == "unit" else "value",
                                      tol=1e-6, **_limits(economy))
                best = min(best, time.perf_counter() - t)
    finally:
        runner.CONIC_COLUMNS = saved
    return {"method": result.method, "status": result.status.value, "seconds": best, "objective": result.objective,
            "violation": result.max_violation, "gap": result.duality_gap,
            "price_error": result.detail.get("price_error", float("nan"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import gosplan

    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, gosplan "
          f"{gosplan.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| table | weights | variant | status | method | seconds | objective | violation | gap | price error | × cuts |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.tables.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            economy = gosplan.load(name)
        for weights in ("unit", "value"):
            cuts = run(economy, weights, False, args.repeat)
            exact = run(economy, weights, True, args.repeat)
            for label, r in (("cuts alone (before)", cuts), ("conic re-solve (default)", exact)):
                ratio = r["seconds"] / cuts["seconds"]
                print(f"| {name} | {weights} | {label} | {r['status']} | {r['method']} | {r['seconds']:.3f} | "
                      f"{r['objective']:.10g} | {r['violation']:.1e} | {r['gap']:.1e} | {r['price_error']:.1e} | "
                      f"{ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()

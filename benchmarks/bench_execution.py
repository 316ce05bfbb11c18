#!/usr/bin/env python
"""Execution of plans benchmark (issue 13): ``gosplan.execute`` at scale, the fixed point of
production under shortages against one sparse matrix-vector product and against the same fixed
point solved as a linear program by HiGHS, and the regimes compared on ``us-2017``.

    python benchmarks/bench_execution.py --sizes 1e3 --periods 5          # smoke: under a minute
    python benchmarks/bench_execution.py                                  # 1e3, 1e4; 120 periods; us-2017
    python benchmarks/bench_execution.py --sizes 1e4 --regimes command --periods 120 --parts sizes
    python benchmarks/bench_execution.py --sizes 1e5 --periods 3 --parts sizes,fixed-point   # opt-in
    python benchmarks/bench_execution.py --parts us2017 --markdown r.md --out r.json

Parts (``--parts``, default all):

``sizes``
    Synthetic economies ``gosplan.synth.generate(n, seed=1)`` (K = 10 inputs, spectral radius
    0.5) with enterprises ``synth_enterprises(per_product=E/n, seed=1)`` (so ``1e3`` has about
    10^4 enterprises, ``1e4`` 10^5, ``1e5`` 10^6: ``SIZE:PER`` changes the ratio) and 1,000
    household groups ``synth_households(economy, 1000, seed=1)``; shocks
    ``RandomShocks(0.02, seed=1)``; default behaviour. Per size and regime (``--regimes``,
    default ``command,liberman``; ``optimal`` is added at sizes up to ``--optimal-max``
    (1e3) for the full ``--periods``, and run for ``--optimal-probe`` (2) periods above it,
    to say how slow its LP + QP centre is): setup seconds (producers, labour values, before
    period 1), mean seconds per period split into the centre's directive (``_balance_plan`` or
    the optimal plan), the fixed point (``greatest_fixed_point``), the households' market
    (``market_seconds``), the optimal centre's revision (``planning_seconds``) and the rest
    (orders, the material balance check, indicators, frames), the total of ``execute`` for T
    periods, its Cyberstride monitoring seconds (``_alerts``), and the peak RSS increase over
    the call (``bench_balance.MemoryWatch``). The stages are timed by wrapping the module
    functions ``execute`` looks up (``run._balance_plan``, ``run._sales_plan``, ``run._alerts``,
    ``period.greatest_fixed_point``, ``_OptimalCentre.directive``) and the shocks' ``factors``
    (called first thing every period): nothing in ``gosplan.execution`` is changed.
    Target (issue 13): 10^4 products, 10^5 enterprises, 120 periods under 10 minutes.

``fixed-point``
    The arguments of the last period's ``greatest_fixed_point`` call of the ``command`` run at
    each size are kept; the fixed point is timed again on them (best of 3), against one sparse
    product ``producers.inputs.T @ x`` (the E x n input matrix times the outputs; best of 50)
    and against the reference: the same fixed point as the linear program
    ``gosplan.execution.fixed_point._lp`` builds (``max sum x + sum phi`` over
    ``x <= u``, ``x <= c + w phi``, ``D phi <= q + B x``, ``phi <= 1``) solved by
    ``scipy.optimize.linprog`` (HiGHS). Agreement: ``max|x_lp - x| / max|x|`` and
    ``max|phi_lp - phi|`` (phi is a share in [0, 1]).

``us2017``
    ``gosplan.load("us-2017")`` (402 products, no enterprises: one producer per product) with
    its default households, ``--us-periods`` (24) periods, shocks
    ``RandomShocks(0.05, depth=0.5, persistence=0.6, seed=7)`` for every regime: command
    (myopic, truthful), command (myopic, understated reports), command (looking ahead,
    ``lookahead=0.9``, understated reports), liberman, optimal. Means over periods of the
    ``periods`` frame and alerts by level.

``--sizes 1e3 --periods 5`` runs in well under a minute (all parts). The machine is shared
(2 cores, other engineers' jobs): load averages at the start and the end are printed, and
timings on a busy machine are upper bounds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_balance import MemoryWatch, Table, fmt_bytes, fmt_s, machine_info, to_jsonable  # noqa: E402

GROUPS = 1000
PER_PRODUCT = 10.0
TARGET_SECONDS = 600.0
VERBOSE = False
US_VARIANTS = ("command", "command, understated", "command, look-ahead, understated", "liberman", "optimal")


def _parse_size(text: str) -> tuple[int, float]:
    n, _, per = text.partition(":")
    return int(float(n)), float(per) if per else PER_PRODUCT


def _sci(n: float) -> str:
    e = int(np.floor(np.log10(n))) if n > 0 else 0
    m = n / 10**e
    return f"10^{e}" if abs(m - 1) < 0.05 else f"{m:.1f}e{e}"


# ============================================================================ instrumentation
class _Probe:
    """Wraps the functions ``execute`` looks up, records seconds per stage and period."""

    def __init__(self) -> None:
        import gosplan.execution.period as period_mod
        import gosplan.execution.run as run_mod

        self.run_mod, self.period_mod = run_mod, period_mod
        self.orig = {
            "balance": run_mod._balance_plan,
            "sales": getattr(run_mod, "_sales_plan", None),
            "alerts": run_mod._alerts,
            "fp": period_mod.greatest_fixed_point,
            "directive": run_mod._OptimalCentre.directive,
        }
        self.reset()

    def reset(self) -> None:
        self.t_call = 0.0
        self.starts: dict[int, float] = {}
        self.ends: dict[int, float] = {}
        self.directive: list[float] = []
        self.fp: list[float] = []
        self.policies: list[int] = []
        self.monitoring = 0.0
        self.last_fp_args: tuple | None = None

    def __enter__(self) -> "_Probe":
        o, probe = self.orig, self

        def balance(*a, **k):
            t = time.perf_counter()
            try:
                return o["balance"](*a, **k)
            finally:
                probe.directive.append(time.perf_counter() - t)

        def sales(*a, **k):
            t = time.perf_counter()
            try:
                return o["sales"](*a, **k)
            finally:
                probe.directive.append(time.perf_counter() - t)

        def directive(self_, *a, **k):
            t = time.perf_counter()
            try:
                return o["directive"](self_, *a, **k)
            finally:
                probe.directive.append(time.perf_counter() - t)

        def fp(*a, **k):
            t = time.perf_counter()
            out = o["fp"](*a, **k)
            probe.fp.append(time.perf_counter() - t)
            probe.policies.append(out.policies)
            probe.last_fp_args = (a, k)
            return out

        def alerts(*a, **k):
            t = time.perf_counter()
            try:
                return o["alerts"](*a, **k)
            finally:
                probe.monitoring += time.perf_counter() - t

        self.run_mod._balance_plan = balance
        if o["sales"] is not None:
            self.run_mod._sales_plan = sales
        self.run_mod._alerts = alerts
        self.run_mod._OptimalCentre.directive = directive
        self.period_mod.greatest_fixed_point = fp
        return self

    def __exit__(self, *exc: Any) -> None:
        self.run_mod._balance_plan = self.orig["balance"]
        if self.orig["sales"] is not None:
            self.run_mod._sales_plan = self.orig["sales"]
        self.run_mod._alerts = self.orig["alerts"]
        self.run_mod._OptimalCentre.directive = self.orig["directive"]
        self.period_mod.greatest_fixed_point = self.orig["fp"]


def _timed_shocks(probe: _Probe, base):
    """``base`` (a Shocks) with ``factors(t)`` stamping the start of period ``t``."""
    orig = base.factors

    def factors(t: int):
        probe.starts[t] = time.perf_counter()
        return orig(t)

    base.factors = factors  # instance attribute: RandomShocks is a plain dataclass
    return base


def run_execute(economy, households, regime: str, periods: int, shocks, behaviour=None) -> dict[str, Any]:
    import gosplan

    probe = _Probe()
    shocks = _timed_shocks(probe, shocks)

    def progress(t: int, line: str) -> None:
        probe.ends[t] = time.perf_counter()
        if VERBOSE:
            print(f"    {regime} {line} ({probe.ends[t] - probe.starts.get(t, probe.t_call):.2f} s)", flush=True)

    with probe, MemoryWatch() as mem, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = probe.t_call = time.perf_counter()
        ex = gosplan.execute(economy, households, regime=regime, periods=periods, shocks=shocks,
                             behaviour=behaviour, progress=progress)
        total = time.perf_counter() - t0
    p = ex.periods
    done = len(p)
    walls = [probe.ends[t] - probe.starts[t] for t in range(1, done + 1) if t in probe.ends and t in probe.starts]
    wall = float(np.mean(walls)) if walls else float("nan")
    directive = float(np.mean(probe.directive[:done])) if probe.directive else 0.0
    fp = float(np.mean(probe.fp[:done])) if probe.fp else float("nan")
    market = float(p["market_seconds"].mean()) if done else float("nan")
    planning = float(p["planning_seconds"].mean()) if done and "planning_seconds" in p else 0.0
    out = {
        "regime": regime, "products": ex.producers.n, "producers": ex.producers.E, "groups": ex.households.H,
        "periods": periods, "done": done, "completed": bool(ex.completed), "message": ex.message,
        "setup_s": (probe.starts.get(1, t0) - t0),
        "period_s": wall, "directive_s": directive, "fixed_point_s": fp, "market_s": market,
        "revision_s": planning, "rest_s": wall - directive - fp - market - planning,
        "period_max_s": float(np.max(walls)) if walls else float("nan"),
        "policies_mean": float(p["fixed_point_solves"].mean()) if done else float("nan"),
        "policies_max": int(p["fixed_point_solves"].max()) if done else 0,
        "monitoring_s": probe.monitoring, "total_s": total, "peak_rss": mem.increase,
        "fulfilment": float(p["fulfilment"].mean()) if done else float("nan"),
        "shortage": float(p["shortage"].mean()) if done else float("nan"),
        "max_balance_error": float(p["balance_error"].max()) if done else float("nan"),
    }
    return {"row": out, "execution": ex, "fp_args": probe.last_fp_args}


# ============================================================================ instances
def build_synthetic(n: int, per: float):
    from gosplan.synth import generate
    from gosplan.synth.enterprises import synth_enterprises
    from gosplan.synth.households import synth_households

    t = time.perf_counter()
    economy = synth_enterprises(generate(n, seed=1), per_product=per, seed=1)
    households = synth_households(economy, GROUPS, seed=1)
    return economy, households, time.perf_counter() - t


# ============================================================================ fixed point
def fixed_point_reference(fp_args: tuple, producers, reps: int = 3, lp: bool = True) -> dict[str, Any]:
    """The fixed point on a period's arguments, one sparse mat-vec and HiGHS on the same LP."""
    import scipy.sparse as sp

    from gosplan.execution import fixed_point as fpm

    a, k = fp_args
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        res = fpm.greatest_fixed_point(*a, **k)
        best = min(best, time.perf_counter() - t)
    x = res.output
    AT = sp.csr_array(producers.inputs.T)  # the transpose stored, for comparison
    mv = np.inf
    for _ in range(50):
        t = time.perf_counter()
        producers.inputs.T @ x
        mv = min(mv, time.perf_counter() - t)
    mv_pre = np.inf
    for _ in range(50):
        t = time.perf_counter()
        AT @ x
        mv_pre = min(mv_pre, time.perf_counter() - t)
    out: dict[str, Any] = {
        "products": int(res.phi.size), "producers": int(x.size), "pairs": int(producers.inputs.nnz),
        "fixed_point_s": best, "policies": int(res.policies), "kleene": int(res.kleene), "method": res.method,
        "residual": res.residual, "matvec_s": mv, "matvec_csr_s": mv_pre, "ratio": best / mv,
        "short_products": int((res.phi < 1.0 - 1e-12).sum()),
    }
    if lp:
        ceiling, product, coefficients, c, w, base, demand = a[:7]
        B = a[7] if len(a) > 7 else k.get("supply_matrix")
        A = coefficients
        indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
        E, n = ceiling.size, base.size
        if B is None:
            B = sp.csr_array((np.ones(E), (product, np.arange(E))), shape=(n, E))
        rows = np.repeat(np.arange(E), np.diff(indptr))
        t = time.perf_counter()
        try:
            ref = fpm._lp((ceiling, product, indptr, indices, c, w, base, demand, B), rows)
            out["lp_s"] = time.perf_counter() - t
            out["lp_x_rel"] = float(np.max(np.abs(ref.output - x)) / max(float(np.max(np.abs(x))), 1e-300))
            out["lp_phi_abs"] = float(np.max(np.abs(ref.phi - res.phi)))
            out["lp_residual"] = ref.residual
        except Exception as exc:  # noqa: BLE001 - reported
            out["lp_s"] = time.perf_counter() - t
            out["lp_error"] = f"{type(exc).__name__}: {exc}"
    return out


# ============================================================================ us-2017
def us2017(periods: int) -> list[dict[str, Any]]:
    import gosplan
    from gosplan.execution import Behaviour, RandomShocks

    economy = gosplan.load("us-2017")
    households = gosplan.load_households(economy)
    variants = {
        "command": ("command", Behaviour()),
        "command, understated": ("command", Behaviour(reporting="understated")),
        "command, look-ahead, understated": ("command", Behaviour(reporting="understated", lookahead=0.9)),
        "liberman": ("liberman", Behaviour()),
        "optimal": ("optimal", Behaviour()),
    }
    rows = []
    for name, (regime, behaviour) in variants.items():
        shocks = RandomShocks(0.05, depth=0.5, persistence=0.6, seed=7)
        try:
            r = run_execute(economy, households, regime, periods, shocks, behaviour)
        except Exception as exc:  # noqa: BLE001 - reported
            rows.append({"variant": name, "error": f"{type(exc).__name__}: {exc}"})
            print(f"  us-2017 {name}: {type(exc).__name__}: {exc}", flush=True)
            continue
        ex = r["execution"]
        p = ex.periods
        cols = ("fulfilment", "targets_met", "shortage", "idle_capacity", "hidden_reserves", "waste", "unsold_stock",
                "hidden_share", "queue", "forced_saving", "consumption_per_head", "welfare_per_head")
        row = {"variant": name, "regime": regime, "holds_back": behaviour.holds_back, "completed": ex.completed,
               "message": ex.message, "done": len(p), "seconds": ex.seconds, "monitoring_s": r["row"]["monitoring_s"]}
        row.update({k: float(p[k].mean()) for k in cols if k in p})
        a = ex.alerts
        row["alerts"] = {str(k): int(v) for k, v in a.groupby("level").size().items()} if a is not None and len(a) else {}
        rows.append(row)
        print(f"  us-2017 {name}: {len(p)}/{periods} periods, {ex.seconds:.1f} s, {ex.message}", flush=True)
    return rows


# ============================================================================ tables
def size_table(rows: list[dict[str, Any]]) -> Table:
    t = Table("Execution at scale: seconds per period (mean) and totals",
              ["products", "producers", "regime", "periods", "setup s", "directive s", "fixed point s (solves)",
               "households s", "revision s", "rest s", "period s", "T periods s", "monitoring s", "peak RSS",
               "fulfilment", "shortage"], align="rrl" + "r" * 13)
    for r in rows:
        if "error" in r:
            t.add(_sci(r["n"]), "-", r["regime"], r["periods"], *(["-"] * 10), r["error"][:60], "-")
            continue
        per = f"{r['done']}" + ("" if r["completed"] else "*")
        t.add(_sci(r["products"]), f"{r['producers']:,}", r["regime"], per, fmt_s(r["setup_s"]), fmt_s(r["directive_s"]),
              f"{fmt_s(r['fixed_point_s'])} ({r['policies_mean']:.1f})", fmt_s(r["market_s"]), fmt_s(r["revision_s"]),
              fmt_s(r["rest_s"]), fmt_s(r["period_s"]), fmt_s(r["total_s"]), fmt_s(r["monitoring_s"]),
              fmt_bytes(r["peak_rss"]), f"{r['fulfilment']:.3f}", f"{r['shortage']:.3f}")
    return t


def fp_table(rows: list[dict[str, Any]]) -> Table:
    t = Table("The fixed point against one sparse mat-vec and against HiGHS on the same LP",
              ["products", "producers", "input pairs", "short products", "policy solves", "fixed point s",
               "inputs.T @ x s", "ratio", "HiGHS LP s", "LP / fixed point", "max dx / max x", "max dphi"],
              align="r" * 12)
    for r in rows:
        lp = r.get("lp_s")
        t.add(_sci(r["products"]), f"{r['producers']:,}", f"{r['pairs']:,}", r["short_products"], r["policies"],
              fmt_s(r["fixed_point_s"]), f"{r['matvec_s']:.2e}", f"{r['ratio']:,.0f}x",
              "-" if lp is None else fmt_s(lp), "-" if lp is None else f"{lp / r['fixed_point_s']:.1f}x",
              r.get("lp_error", "-")[:40] if "lp_x_rel" not in r else f"{r['lp_x_rel']:.1e}",
              f"{r['lp_phi_abs']:.1e}" if "lp_phi_abs" in r else "-")
    return t


def us_table(rows: list[dict[str, Any]], periods: int) -> Table:
    cols = [("fulfilment", "fulfilment"), ("shortage", "shortage"), ("idle_capacity", "idle capacity"),
            ("hidden_reserves", "hidden reserves"), ("waste", "waste"), ("unsold_stock", "unsold stock"),
            ("hidden_share", "hidden market"), ("queue", "queue"), ("consumption_per_head", "consumption / head"),
            ("welfare_per_head", "welfare / head")]
    t = Table(f"Regimes on us-2017 ({periods} periods, RandomShocks(0.05, depth=0.5, persistence=0.6, seed=7); "
              "means over periods)", ["regime", "periods", *(c[1] for c in cols), "alerts (enterprise/ministry/centre)",
                                      "seconds"], align="lr" + "r" * (len(cols) + 2))
    for r in rows:
        if "error" in r:
            t.add(r["variant"], "-", *(["-"] * len(cols)), r["error"][:80], "-")
            continue
        a = r["alerts"]
        alerts = "/".join(str(a.get(k, 0)) for k in ("enterprise", "ministry", "centre"))
        t.add(r["variant"], f"{r['done']}" + ("" if r["completed"] else "*"),
              *(f"{r[k]:.4g}" if k.endswith("head") else f"{r[k]:.3f}" for k, _ in cols), alerts, fmt_s(r["seconds"]))
    return t


# ============================================================================ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e3,1e4", help="products[:enterprises per product], comma-separated (1e5 opt-in)")
    ap.add_argument("--periods", type=int, default=120)
    ap.add_argument("--regimes", default="command,liberman")
    ap.add_argument("--optimal-max", type=float, default=1e3, help="largest size the optimal regime runs in full")
    ap.add_argument("--optimal-probe", type=int, default=2, help="optimal periods above --optimal-max (0: skip)")
    ap.add_argument("--us-periods", type=int, default=24)
    ap.add_argument("--parts", default="sizes,fixed-point,us2017")
    ap.add_argument("--lp-max", type=float, default=1e4, help="largest size the HiGHS reference runs at")
    ap.add_argument("--out", help="JSON results")
    ap.add_argument("--markdown", help="write the tables as markdown")
    ap.add_argument("--verbose", action="store_true", help="a line per period")
    args = ap.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    parts = set(args.parts.split(","))
    regimes = [r for r in args.regimes.split(",") if r]
    info = machine_info()
    print(f"{info['cpu']}, {info['cores']} cores; load {os.getloadavg()}; {_dt.datetime.now():%Y-%m-%d %H:%M}", flush=True)
    results: dict[str, Any] = {"machine": info, "args": vars(args), "load_start": os.getloadavg(), "sizes": [],
                               "fixed_point": [], "us2017": []}
    tables: list[Table] = []
    if parts & {"sizes", "fixed-point"} and args.sizes:
        for size in args.sizes.split(","):
            n, per = _parse_size(size)
            economy, households, build_s = build_synthetic(n, per)
            print(f"{_sci(n)} products, {economy.hierarchy.n_enterprises:,} enterprises, {households.H} groups: "
                  f"built in {build_s:.1f} s", flush=True)
            runs = regimes if "sizes" in parts else ["command"]
            todo = [(r, args.periods) for r in runs]
            if "sizes" in parts and "optimal" not in runs:
                if n <= args.optimal_max:
                    todo.append(("optimal", args.periods))
                elif args.optimal_probe > 0:
                    todo.append(("optimal", args.optimal_probe))
            if "sizes" not in parts:
                todo = [("command", min(args.periods, 3))]
            for regime, T in todo:
                from gosplan.execution import RandomShocks

                try:
                    r = run_execute(economy, households, regime, T, RandomShocks(0.02, seed=1))
                except Exception as exc:  # noqa: BLE001 - reported
                    results["sizes"].append({"n": n, "regime": regime, "periods": T, "error": f"{type(exc).__name__}: {exc}"})
                    print(f"  {regime}: {type(exc).__name__}: {exc}", flush=True)
                    continue
                row = r["row"]
                row["build_s"] = build_s
                if "sizes" in parts:
                    results["sizes"].append(row)
                print(f"  {regime}: {row['done']}/{T} periods, {row['period_s']:.2f} s/period (directive "
                      f"{row['directive_s']:.2f}, fixed point {row['fixed_point_s']:.2f}, households {row['market_s']:.2f}, "
                      f"revision {row['revision_s']:.2f}), total {row['total_s']:.1f} s, monitoring "
                      f"{row['monitoring_s']:.1f} s, peak {fmt_bytes(row['peak_rss'])}; {row['message']}", flush=True)
                if regime == todo[0][0] and "fixed-point" in parts and r["fp_args"] is not None:
                    fr = fixed_point_reference(r["fp_args"], r["execution"].producers, lp=n <= args.lp_max)
                    results["fixed_point"].append(fr)
                    print(f"  fixed point: {fr['fixed_point_s']:.3f} s, {fr['policies']} solves, mat-vec "
                          f"{fr['matvec_s']:.2e} s, ratio {fr['ratio']:.0f}; LP {fr.get('lp_s', float('nan')):.2f} s, "
                          f"dx {fr.get('lp_x_rel', float('nan')):.1e}, dphi {fr.get('lp_phi_abs', float('nan')):.1e} "
                          f"{fr.get('lp_error', '')}", flush=True)
                del r
            del economy, households
        if results["sizes"]:
            tables.append(size_table(results["sizes"]))
            big = [r for r in results["sizes"] if "error" not in r and r["products"] >= 10_000 and r["regime"] != "optimal"
                   and r["producers"] >= 90_000 and r["products"] < 20_000]
            for r in big:
                est = r["setup_s"] + 120 * r["period_s"] + r["monitoring_s"] * (120 / max(r["done"], 1))
                verdict = "meets" if est <= TARGET_SECONDS else f"misses by {est - TARGET_SECONDS:.0f} s"
                line = (f"target (10^4 products, 10^5 enterprises, 120 periods < {TARGET_SECONDS:.0f} s), {r['regime']}: "
                        f"{'measured' if r['done'] == 120 else 'estimated'} {r['total_s'] if r['done'] == 120 else est:.0f} s: "
                        f"{verdict}")
                results.setdefault("target", []).append(line)
                print(line, flush=True)
        if results["fixed_point"]:
            tables.append(fp_table(results["fixed_point"]))
    if "us2017" in parts:
        results["us2017"] = us2017(args.us_periods)
        tables.append(us_table(results["us2017"], args.us_periods))
    results["load_end"] = os.getloadavg()
    for t in tables:
        print()
        print(t.plain())
    print(f"\nload at start {results['load_start']}, at end {results['load_end']}")
    if args.markdown:
        Path(args.markdown).write_text("\n\n".join(t.markdown() for t in tables) + "\n", encoding="utf-8")
    if args.out:
        Path(args.out).write_text(json.dumps(to_jsonable(results), indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

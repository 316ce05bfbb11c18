#!/usr/bin/env python
"""Consumer-feedback loop benchmark (issue 12): ``gosplan.simulate`` (rule ``opportunity``,
``tol = 1e-4``) at scale, and one period against the Eisenberg--Gale program solved directly
by cvxpy + Clarabel (``tests/_eisenberg_gale.py``, or :func:`eg_exp_cone` where a group has
``sigma < 1``), side by side in one process.

    python benchmarks/bench_simulate.py                                  # us-2022, us-2017, 1e4, 1e5
    python benchmarks/bench_simulate.py --sizes us-2022,us-2017,us-2017:20 --time-limit 600
    python benchmarks/bench_simulate.py --sizes 1e5 --time-limit 900 --out r.json --markdown r.md

Sizes: ``us-2022`` (73 products, 20 groups), ``us-2017`` (402, 100 groups), and synthetic
planning instances ``1e4``, ``1e5`` (``gosplan.synth.planning.planning_instance``, the economies
of ``bench_plan.py``: K = 10 inputs, a second technique for a tenth of the products) with 1,000
groups; ``SIZE:H`` sets the number of groups (``1e4:10``). Households come from
``gosplan.load_households(economy, groups=H, seed=1)`` (``synth_households``: sparse above 3,000
goods per group).

Limits, the same rule for every size, from the base plan ``x^ = (I - A)^-1 y`` (the table's own
final demand): labour at 100 % of its use, the two other primary inputs (BEA: V002 taxes on
production, V003 gross operating surplus, as stand-ins for scarce resources; synthetic: land and
co2) at ``--shares`` (85 %, 90 %) of theirs, and capacities at ``--cap-share`` (90 %) of ``x^``
on a tenth of the products, chosen among the goods households buy most of (household share of
final demand at least a half), each at least 10 % above what the committed demand alone needs.
Whether each limit binds at the loop's answer (a resource with a positive price and its use at
the limit, a capacity at its bound) is printed.

Each size runs in its own process (so that its peak RSS is its own) under ``--time-limit``
seconds; the process streams one line per period, so a run cut short still reports how far it
got. Columns: products, groups, preference nonzeros, periods (``*``: not converged), total
seconds of the ``simulate`` call, mean seconds per period of the plan, the market and the
revision (with who made the revisions, ``leontief`` or ``clarabel``, and in how many periods),
the market's share of a period and its slowest period, peak RSS of the process during the loop,
what binds, and, where ``groups x goods <= --ref-max``: seconds of the Eisenberg--Gale
program built and solved by Clarabel (and its ratio to one period of the loop), and the relative
difference between the loop's total consumption per good and the program's (its consumption
recomputed by the CES demand formula at its own prices, the more accurate part of an
interior-point answer): the largest over goods, and the spending-weighted mean.

The machine is shared: load averages at the start and the end are printed; timings on a busy
machine are upper bounds.
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
import threading
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

DEFAULT_GROUPS = {"us-2022": 20, "us-2017": 100}
SYNTH_GROUPS = 1000
SEED = 20240601


def _parse(size: str) -> tuple[str, int]:
    name, _, groups = size.partition(":")
    if groups:
        return name, int(float(groups))
    return name, DEFAULT_GROUPS.get(name, SYNTH_GROUPS)


def _instance(name: str):
    """(economy, base economy (square), base plan x^ over the products)."""
    import gosplan

    if name in DEFAULT_GROUPS or not name[0].isdigit():
        economy = gosplan.load(name)
        x_hat = gosplan.balance(economy, values=False, multipliers=False).raise_for_status().gross_output
        return economy, economy, np.asarray(x_hat)
    from gosplan.synth import generate
    from gosplan.synth.planning import planning_instance

    n = int(float(name))
    inst = planning_instance(n, 10, seed=SEED)
    base = generate(n, 10, seed=SEED, resources=("land", "co2"))
    return inst.economy, base, np.asarray(inst.base_output)


def _limits(economy, base, x_hat, shares, cap_share, seed=0):
    """Resources and capacities by the rule of the module's docstring."""
    import pandas as pd

    import gosplan
    from gosplan.io.households import household_demand

    n = economy.n_products
    use = np.asarray(base.primary @ x_hat)  # the base economy's activities are its products
    others = iter(shares)
    resources = {}
    for k, r in enumerate(economy.resources):
        if r == economy.labour:
            resources[str(r)] = use[k]
        else:
            share = next(others, None)
            if share is not None:
                resources[str(r)] = share * use[k]
    y = economy.y
    y_h = np.maximum(household_demand(economy), 0.0)
    y_o = y - y_h
    x_o = np.asarray(gosplan.balance(base, np.maximum(y_o, 0.0), values=False, multipliers=False).gross_output)
    with np.errstate(divide="ignore", invalid="ignore"):
        household_share = np.where(y > 0, y_h / y, 0.0)
    ok = (household_share >= 0.5) & (x_hat > 0) & (cap_share * x_hat >= 1.1 * x_o)
    candidates = np.flatnonzero(ok)
    k = min(candidates.size, max(1, n // 10))
    capped = np.sort(np.random.default_rng(seed).choice(candidates, k, replace=False))
    caps = pd.Series(cap_share * x_hat[capped], index=economy.products[capped].astype(str))
    return resources, caps, capped


def eg_exp_cone(net, make, primary, available, capacity, committed, goods, weights, elasticity, budgets, x_scale,
                c_scale):
    """The Eisenberg--Gale program of ``tests/_eisenberg_gale.py`` (same variables, units and
    row scaling), with the groups of elasticity below 1 written in exponential cones instead of
    a p-norm: ``log u_h = -(1/|rho|) log sum_j exp(log(a_j) / sigma + rho l_j)``, ``l_j <= log c_j``
    (``rho = (sigma - 1) / sigma < 0``), whose coefficients stay in logs. The p-norm's coefficients
    ``a^(1/(sigma-1))`` reach 1e10 for the synthetic groups' smallest weights (4e-6 at sigma = 0.5),
    and Clarabel fails on it in every set of units. Only the pairs (group, good) with a positive
    weight are variables. Returns ``(consumption H x G, prices G)``."""
    import cvxpy as cp
    import scipy.sparse as sp

    n, m = net.shape
    H, G = weights.shape
    sx = np.maximum(np.asarray(x_scale, dtype=float), 1e-9 * np.max(x_scale))
    sc = np.asarray(c_scale, dtype=float)
    Nx = sp.csr_array(net) @ sp.diags_array(sx)
    rows, cols = np.nonzero(weights)
    k = rows.size
    E = sp.csr_array((sc[cols], (goods[cols], np.arange(k))), shape=(n, k))  # product row of each pair
    rb = 1.0 / np.maximum(np.maximum(abs(Nx).max(axis=1).toarray().ravel(), np.abs(committed)), 1e-300)
    x = cp.Variable(m, nonneg=True)
    c = cp.Variable(k, nonneg=True)
    balance = sp.diags_array(rb) @ Nx @ x - sp.diags_array(rb) @ E @ c >= rb * committed
    cons = [balance]
    lim = np.flatnonzero(np.isfinite(available))
    if lim.size:
        cons.append(sp.diags_array(1.0 / available[lim]) @ (sp.csr_array(primary)[lim] @ sp.diags_array(sx)) @ x <= 1.0)
    cap = np.flatnonzero(np.isfinite(capacity))
    if cap.size:
        cons.append(sp.diags_array(1.0 / capacity[cap]) @ (sp.csr_array(make)[cap] @ sp.diags_array(sx)) @ x <= 1.0)
    B = np.asarray(budgets, dtype=float) / np.sum(budgets)
    low = np.flatnonzero(elasticity[rows] < 1.0 - 1e-12)
    l = cp.Variable(low.size) if low.size else None
    if low.size:
        cons.append(l <= cp.log(c[low]) + np.log(sc[cols[low]]))
    pos_in_low = np.full(k, -1)
    pos_in_low[low] = np.arange(low.size)
    start = np.searchsorted(rows, np.arange(H + 1))
    terms = []
    for h in range(H):
        idx = np.arange(start[h], start[h + 1])
        a = weights[h, cols[idx]]
        a = a / a.sum()
        s = float(elasticity[h])
        j = cols[idx]
        if abs(s - 1.0) < 1e-12:
            terms.append(B[h] * (a @ cp.log(cp.multiply(sc[j], c[idx]))))
        elif s > 1.0:
            rho = (s - 1.0) / s
            terms.append(B[h] / rho * cp.log((a ** (1.0 / s) * sc[j] ** rho) @ cp.power(c[idx], rho)))
        else:
            rho = (s - 1.0) / s
            terms.append(-B[h] / abs(rho) * cp.log_sum_exp(np.log(a) / s + rho * l[pos_in_low[idx]]))
    problem = cp.Problem(cp.Maximize(cp.sum(cp.hstack(terms))), cons)
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=500)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"Eisenberg-Gale (exponential cones): {problem.status}")
    C = np.zeros((H, G))
    C[rows, cols] = np.maximum(c.value, 0.0) * sc[cols]
    prices = (np.asarray(balance.dual_value) * rb)[goods]
    return C, prices


def _instrument(emit) -> None:
    """Stream the seconds of every plan, market clearing and revision as they finish (wrappers
    around the functions ``simulate`` looks up when it runs; they change nothing else), so that a
    size cut short by its time limit still says where its time went."""
    import gosplan.consumers
    import gosplan.cycle.simulate
    import gosplan.planning

    loop = sys.modules["gosplan.cycle.simulate"]  # the package's ``simulate`` is the function

    def timed(module, name, stage):
        fn = getattr(module, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            emit({"stage": stage, "seconds": time.perf_counter() - t})
            return out

        setattr(module, name, wrapper)

    timed(gosplan.planning, "plan", "plan")
    timed(gosplan.consumers, "clear", "market")
    timed(loop, "proximal_targets", "revision")


def run_one(size: str, ref_max: int, periods: int, shares, cap_share, reference: str = "auto") -> None:
    """One size, in this process: JSON lines on stdout (periods, the loop's row, the reference's)."""
    import gosplan
    from gosplan.io.households import household_demand, load_households

    warnings.simplefilter("ignore")

    def emit(obj):
        print(json.dumps(obj, default=float), flush=True)

    name, groups = _parse(size)
    t0 = time.perf_counter()
    economy, base, x_hat = _instance(name)
    hh = load_households(economy, groups=groups, seed=1)
    resources, caps, capped = _limits(economy, base, x_hat, shares, cap_share)
    setup = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit({"setup": setup, "products": int(economy.n_products), "groups": int(hh.H), "goods": int(hh.G),
          "nnz": int(hh.weights.nnz), "rss_before_mb": rss_before})
    last = [time.perf_counter()]

    def progress(t, line):
        now = time.perf_counter()
        emit({"period": t, "seconds": now - last[0], "line": line})
        last[0] = now

    _instrument(emit)
    t1 = time.perf_counter()
    last[0] = t1
    sim = gosplan.simulate(economy, hh, rule="opportunity", periods=periods, tol=1e-4, resources=resources,
                           capacities=caps, progress=progress)
    seconds = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per = sim.periods
    plan = sim.plan
    res_rows = []
    for k, r in enumerate(plan.resources):
        avail = resources.get(str(r), np.inf)
        usage = float(plan.resource_use[k])
        price = float(plan.resource_price[k])
        res_rows.append({"resource": str(r), "use_over_limit": usage / avail if np.isfinite(avail) else None,
                         "price": price})
    # Binding: used up to the limit (the last plan is a degenerate ray program, whose resource
    # duals may be zero at a limit that binds; they are printed, not used).
    binding = [r["resource"] for r in res_rows if r["use_over_limit"] is not None and r["use_over_limit"] > 1 - 1e-5]
    idx = np.flatnonzero(np.isin(economy.products.astype(str), caps.index))
    cap_vals = caps.reindex(economy.products[idx].astype(str)).to_numpy()
    out = np.asarray(plan.gross_output)[idx]
    at_cap = int((out >= cap_vals * (1 - 1e-5)).sum())
    total = per[["plan_seconds", "market_seconds", "revision_seconds"]].sum(axis=1)
    row = {
        "size": size, "products": int(economy.n_products), "activities": int(economy.n_activities)
        if hasattr(economy, "n_activities") else None, "groups": int(hh.H), "goods": int(hh.G),
        "nnz": int(hh.weights.nnz), "converged": bool(sim.converged), "periods": int(sim.n_periods),
        "seconds": seconds, "setup_seconds": setup,
        "plan_s": float(per["plan_seconds"].mean()), "market_s": float(per["market_seconds"].mean()),
        "revision_s": float(per["revision_seconds"].mean()), "market_max_s": float(per["market_seconds"].max()),
        "market_share": float(per["market_seconds"].sum() / total.sum()),
        "plan_methods": sorted(set(per["plan_method"].astype(str))),
        "revision_methods": per["revision_method"].astype(str).value_counts().to_dict()
        if "revision_method" in per else {},
        "gap": float(per["gap"].iloc[-1]), "change": float(per["change"].iloc[-1]),
        "resources": res_rows, "binding_resources": binding, "capacities": int(caps.size), "at_capacity": at_cap,
        "peak_rss_mb": peak, "rss_before_mb": rss_before, "message": sim.message,
        "per_period": per[["period", "plan_seconds", "market_seconds", "revision_seconds", "gap", "change", "step",
                           "plan_method"] + (["revision_method"] if "revision_method" in per else [])].to_dict(orient="list"),
    }
    emit({"loop": row})
    if hh.H * hh.G > ref_max:
        return
    import pandas as pd
    from _eisenberg_gale import eisenberg_gale

    from gosplan.planning.problem import planning_problem

    committed = economy.y - np.maximum(household_demand(economy), 0.0)
    used = np.isfinite(plan.capacity)  # the loop's capacities, with any it added for free goods
    cap_all = pd.Series(np.asarray(plan.capacity)[used], index=economy.products[used].astype(str))
    prob = planning_problem(economy, targets=np.zeros(economy.n_products), resources=resources, capacities=cap_all,
                            committed=committed)
    goods = hh.goods_in(economy.products)
    B = hh.budgets(1.0)
    B = B / B.sum()
    a = hh.weights.toarray()
    a = a / a.sum(axis=1, keepdims=True)
    x_scale = np.asarray(plan.activity_level)
    c_scale = np.maximum(np.asarray(household_demand(economy))[goods], 1e-9)
    t2 = time.perf_counter()
    which, failed = "tests/_eisenberg_gale.py", None
    try:
        if reference == "cones" or (reference == "auto" and (hh.elasticity < 1).any()):
            raise RuntimeError("groups with sigma < 1: the p-norm form is skipped (--reference)")
        C, total_eg, p_eg, mu, err = eisenberg_gale(
            prob.net, prob.make, prob.primary, prob.available, prob.capacity, committed, goods, a, hh.elasticity, B,
            x_scale=x_scale, c_scale=c_scale,
        )
    except Exception as exc:  # noqa: BLE001 - its p-norms fail on tiny weights with sigma < 1
        failed = f"{type(exc).__name__}: {str(exc)[:200]}"
        failed_seconds = time.perf_counter() - t2
        print(f"  {size}: the reference failed after {failed_seconds:.1f} s ({failed}); exponential cones instead",
              file=sys.stderr, flush=True)
        t2 = time.perf_counter()
        which = "exponential cones (bench_simulate.eg_exp_cone)"
        try:
            C, p_eg = eg_exp_cone(prob.net, prob.make, prob.primary, prob.available, prob.capacity, committed, goods,
                                  a, hh.elasticity, B, x_scale, c_scale)
        except Exception as exc2:  # noqa: BLE001
            emit({"ref": {"failed": f"{failed}; then {type(exc2).__name__}: {str(exc2)[:200]}",
                          "seconds": time.perf_counter() - t2}})
            return
        from _eisenberg_gale import self_error

        total_eg = C.sum(axis=0)
        err = self_error(C, p_eg, a, hh.elasticity, B)
    ref_seconds = time.perf_counter() - t2
    dem = np.empty_like(a)
    for h in range(hh.H):
        s = hh.elasticity[h]
        dem[h] = B[h] * a[h] * p_eg ** (-s) / np.sum(a[h] * p_eg ** (1 - s))
    dem_total = dem.sum(axis=0) * (total_eg.sum() / dem.sum())
    loop_total = np.asarray(sim.final_consumption.sum(axis=0)).ravel()
    rel = np.abs(loop_total - dem_total) / dem_total
    weight = p_eg * dem_total / float(p_eg @ dem_total)
    emit({"ref": {"seconds": ref_seconds, "self_error": err, "solver": which, "first_failed": failed, "per_period": ref_seconds / (seconds / sim.n_periods),
                  "per_loop": ref_seconds / seconds, "diff_max": float(rel.max()), "diff_mean": float(weight @ rel),
                  "diff_raw_max": float(np.max(np.abs(loop_total - total_eg) / total_eg)),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}})


def run_size(size: str, args) -> dict:
    """Run one size in a child process under the time limit; returns its merged record."""
    cmd = [sys.executable, __file__, "--one", size, "--ref-max", str(args.ref_max), "--periods", str(args.periods),
           "--shares", args.shares, "--cap-share", str(args.cap_share), "--mem-gb", str(args.mem_gb), "--reference", args.reference]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    lines: list[dict] = []

    def read():
        for line in proc.stdout:
            if line.startswith("{"):
                obj = json.loads(line)
                lines.append(obj)
                if "stage" in obj:
                    print(f"  {size}: {obj['stage']} {obj['seconds']:.2f} s", file=sys.stderr, flush=True)
                elif "period" in obj:
                    print(f"  {size}: {obj['line']} ({obj['seconds']:.1f} s)", file=sys.stderr, flush=True)
                elif "setup" in obj:
                    print(f"  {size}: set up in {obj['setup']:.1f} s: {obj['products']:,} products, "
                          f"{obj['groups']:,} groups x {obj['goods']:,} goods, {obj['nnz']:,} weights", file=sys.stderr,
                          flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    start = time.perf_counter()
    try:
        rc = proc.wait(timeout=args.time_limit)
    except subprocess.TimeoutExpired:
        hwm = None
        try:  # the process's peak RSS so far, before it goes
            hwm = next(int(l.split()[1]) / 1024 for l in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                       if l.startswith("VmHWM"))
        except (OSError, StopIteration):
            pass
        lines.append({"killed_peak_rss_mb": hwm})
        proc.kill()
        proc.wait()
        rc = "time limit"
    reader.join(timeout=5)
    rec: dict = {"size": size}
    for obj in lines:
        if "setup" in obj:
            rec.update({k: v for k, v in obj.items() if k != "setup"}, setup_seconds=obj["setup"])
        elif "loop" in obj:
            rec.update(obj["loop"])
        elif "ref" in obj:
            rec["ref"] = obj["ref"]
        elif "killed_peak_rss_mb" in obj:
            rec["peak_rss_mb"] = obj["killed_peak_rss_mb"]
    done = [o for o in lines if "period" in o]
    stages = [o for o in lines if "stage" in o]
    rec["stages"] = stages
    if "seconds" not in rec:  # cut short: what the periods and stages streamed say
        for key, stage in (("plan_s", "plan"), ("market_s", "market"), ("revision_s", "revision")):
            got = [o["seconds"] for o in stages if o["stage"] == stage]
            if got:
                rec[key] = float(np.mean(got))
        rec.update(status=rc if rc == "time limit" else f"error (exit {rc})", periods=len(done), converged=False,
                   seconds=sum(o["seconds"] for o in done), wall=time.perf_counter() - start,
                   last_line=done[-1]["line"] if done else None)
    elif "ref" not in rec and rc != 0 and rec.get("groups", 0) * rec.get("goods", 0) <= args.ref_max:
        rec["ref"] = {"failed": "time limit" if rc == "time limit" else f"exit {rc}"}
    return rec


def _cell(r: dict) -> list[str]:
    f = lambda v, s: "—" if v is None else format(v, s)  # noqa: E731
    ref = r.get("ref")
    if ref is None:
        eg = diff = "—"
    elif "failed" in ref:
        eg, diff = f"failed ({ref['failed'][:40]})", "—"
    else:
        eg = f"{ref['seconds']:.2f} ({ref['per_period']:.1f}x a period, {ref['per_loop']:.2f}x the loop)"
        diff = f"{ref['diff_max']:.1e} / {ref['diff_mean']:.1e}"
    binds = "—"
    if "binding_resources" in r:
        binds = f"{', '.join(r['binding_resources']) or 'none'}; {r['at_capacity']}/{r['capacities']} caps"
    periods = f"{r.get('periods', '—')}{'' if r.get('converged') else '*'}"
    return [
        r["size"], f(r.get("products"), ","), f"{f(r.get('groups'), ',')} x {f(r.get('goods'), ',')}", f(r.get("nnz"), ","),
        periods, f(r.get("seconds"), ".1f") if "wall" not in r else f"> {r['wall']:.0f} ({r.get('status')})", f(r.get("plan_s"), ".3f"), f(r.get("market_s"), ".3f"),
        f(r.get("revision_s"), ".3f") + (" (" + ", ".join(f"{m} {k}" for m, k in r["revision_methods"].items()) + ")"
                                        if r.get("revision_methods") else ""),
        "—" if "market_share" not in r else f"{r['market_share']:.0%} (max {r['market_max_s']:.2f} s)",
        f(r.get("peak_rss_mb"), ".0f"), binds, eg, diff,
    ]


HEAD = ["size", "products", "groups x goods", "pref. nnz", "periods", "total s", "plan s/period", "market s/period",
        "revision s/period", "market share", "peak RSS MB", "binding", "EG by Clarabel s", "consumption diff max / mean"]


def _table(rows: list[dict], markdown: bool) -> str:
    cells = [_cell(r) for r in rows]
    if markdown:
        out = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
        out += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEAD)]
    out = ["  ".join(h.ljust(w) for h, w in zip(HEAD, widths))]
    out += ["  ".join(c.ljust(w) for c, w in zip(cc, widths)) for cc in cells]
    return "\n".join(out)


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python", *sys.argv]), "load_start": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="us-2022,us-2017,1e4,1e5",
                    help="comma-separated: us-2022, us-2017 (or another bundled table), 1e4, 1e5, ...; SIZE:H for H groups")
    ap.add_argument("--time-limit", type=float, default=900.0, help="seconds per size (its whole process)")
    ap.add_argument("--periods", type=int, default=60, help="at most this many periods")
    ap.add_argument("--ref-max", type=int, default=50_000,
                    help="largest groups x goods for which the Eisenberg-Gale program is solved directly")
    ap.add_argument("--reference", choices=("auto", "tests", "cones"), default="auto",
                    help="Eisenberg-Gale form: tests/_eisenberg_gale.py (p-norms; fails on the synthetic groups with "
                         "sigma < 1), exponential cones (eg_exp_cone), or auto: the cones when a group has sigma < 1")
    ap.add_argument("--shares", default="0.85,0.9", help="limits of the two resources besides labour, shares of x^'s use")
    ap.add_argument("--cap-share", type=float, default=0.9, help="capacities as a share of x^")
    ap.add_argument("--mem-gb", type=float, default=18.0, help="address-space limit of each size's process (0: none)")
    ap.add_argument("--out", type=Path, help="JSON of every record, rewritten after each size")
    ap.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    shares = [float(s) for s in args.shares.split(",") if s]
    if args.one:
        if args.mem_gb:  # address-space limit: a size that would swamp the shared machine fails instead
            lim = int(args.mem_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        run_one(args.one, args.ref_max, args.periods, shares, args.cap_share, args.reference)
        return
    machine = _machine()
    print(f"# {machine['date']}: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']:.0f} GiB; "
          f"load {machine['load_start'][0]:.2f}; command `{machine['command']}`", flush=True)
    rows = []
    for size in args.sizes.split(","):
        rec = run_size(size, args)
        rows.append(rec)
        msg = rec.get("message") or f"{rec.get('status')} after {rec.get('periods')} periods ({rec.get('last_line')})"
        print(f"# {size}: {msg}", flush=True)
        for r in rec.get("resources", []):
            lim = r["use_over_limit"]
            print(f"#   {r['resource']}: use/limit {'—' if lim is None else format(lim, '.6f')}, price {r['price']:.3g}",
                  flush=True)
        if "at_capacity" in rec:
            print(f"#   capacities at their bound: {rec['at_capacity']} of {rec['capacities']}", flush=True)
        if "ref" in rec:
            print(f"#   Eisenberg-Gale reference: {rec['ref']}", flush=True)
        if args.out:
            machine["load_end"] = os.getloadavg()
            args.out.write_text(json.dumps({"machine": machine, "records": rows}, indent=1, default=str))
    machine["load_end"] = os.getloadavg()
    print(f"# load at the end {machine['load_end'][0]:.2f}; * = not converged")
    print(_table(rows, markdown=False))
    if args.markdown:
        args.markdown.write_text(
            f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']:.0f} GiB; {machine['date']}; "
            f"load {machine['load_start'][0]:.2f} at the start, {machine['load_end'][0]:.2f} at the end; "
            f"command `{machine['command']}`.\n\n" + _table(rows, markdown=True) + "\n")


if __name__ == "__main__":
    main()

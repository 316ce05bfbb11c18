#!/usr/bin/env python
"""Optimal-planning benchmark: gosplan's PDHG against HiGHS (simplex, IPM, PDLP) and
OR-Tools' PDLP, side by side in one process.

    python benchmarks/bench_plan.py                           # full run (long: n up to 10^7)
    python benchmarks/bench_plan.py --quick                   # n <= 10^4, a few minutes
    python benchmarks/bench_plan.py --sizes 1e3,1e5 --objectives fulfilment --out r.json --markdown r.md

Instances: :func:`gosplan.synth.planning.planning_instance` — a synthetic economy with a
second technique for a tenth of the products, three resources (labour, land, co2; limited
to 100 %, 95 %, 90 % of what the table's own plan uses) and capacities on a tenth of the
products — for ``fulfilment`` and ``harmony`` with the table's own final demand as target (``--limits
resources``: without the capacities; ``--limits labour``: labour alone limited, Cockshott's setting),
for ``cost`` with 85 % of it (so that the targets can be met in full); with ``--classes K``
``fulfilment`` is planned by ``K`` priority classes (the targeted products split at random in equal
shares, :attr:`PlanningInstance.priorities`: the item-1 instances of issue 15 have three); and the bundled real
tables (square, labour limited to the table's own total).

For each case and solver: seconds (the whole ``gosplan.plan`` call: formulation, solve,
gosplan's check, prices), status, objective, gosplan's measured violation and duality gap,
iterations, and the peak RSS increase. The objective of every solver is compared with the
best reference (HiGHS simplex when it finished, else IPM). Each solver gets ``--limit``
seconds; a solver that failed or timed out at a size is not run at larger sizes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_balance import MemoryWatch  # noqa: E402

SOLVERS = ("leontief", "pdhg", "highs", "highs-ipm", "highs-pdlp", "ortools-pdlp")
#: Also accepted by --solvers (not run by default): the Leontief method with its vertex finish
#: always, or never (``leontief`` is gosplan's default: the finish up to FINISH_AUTO_MAX products).
EXTRA_SOLVERS = ("leontief-vertex", "leontief-plain")
VERTEX = {"leontief-vertex": True, "leontief-plain": False}
TOL = 1e-6


def ortools_pdlp(lp, tol: float, time_limit: float) -> tuple[str, float, int]:
    """OR-Tools' PDLP on the same program gosplan formulates (objective, status, iterations)."""
    from ortools.pdlp import solve_log_pb2, solvers_pb2
    from ortools.pdlp.python import pdlp

    qp = pdlp.QuadraticProgram()
    qp.objective_vector = lp.c
    qp.objective_offset = lp.offset
    qp.constraint_matrix = lp.K.tocsc()
    qp.constraint_lower_bounds = lp.row_lower
    qp.constraint_upper_bounds = lp.row_upper
    qp.variable_lower_bounds = lp.col_lower
    qp.variable_upper_bounds = lp.col_upper
    params = solvers_pb2.PrimalDualHybridGradientParams()
    crit = params.termination_criteria
    crit.simple_optimality_criteria.eps_optimal_relative = tol
    crit.simple_optimality_criteria.eps_optimal_absolute = 0.0
    crit.time_sec_limit = time_limit
    params.num_threads = os.cpu_count() or 1
    result = pdlp.primal_dual_hybrid_gradient(qp, params)
    reason = solve_log_pb2.TerminationReason.Name(result.solve_log.termination_reason)
    obj = float(lp.c @ result.primal_solution) + lp.offset
    return reason, obj, int(result.solve_log.iteration_count), result.primal_solution, result.dual_solution


def run_case(name: str, economy, objective: str, solver: str, kwargs: dict[str, Any], limit: float) -> dict[str, Any]:
    import gosplan

    rec: dict[str, Any] = {"case": name, "objective": objective, "solver": solver}
    try:
        with MemoryWatch() as mem, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            if solver == "ortools-pdlp":
                from gosplan.optim.check import verify
                from gosplan.planning.formulate import cost_lp, fulfilment_lp
                from gosplan.planning.problem import planning_problem

                if objective == "harmony":
                    raise NotImplementedError("OR-Tools PDLP solves linear and quadratic programs only")
                problem = planning_problem(economy, **kwargs)
                if objective == "fulfilment":
                    lp, _ = fulfilment_lp(problem, np.flatnonzero(problem.target > 0), np.full(problem.n, -np.inf))
                else:
                    lp, _ = cost_lp(problem)
                reason, obj, iters, v, y = ortools_pdlp(lp, TOL, limit)
                check = verify(lp, v, y)
                rec.update(
                    status="optimal" if reason == "TERMINATION_REASON_OPTIMAL" else reason.lower(),
                    objective_value=-obj if objective == "fulfilment" else obj,
                    max_violation=check.max_violation,
                    duality_gap=check.relative_gap,
                    iterations=iters,
                )
            else:
                method = "leontief" if solver in VERTEX else solver
                vertex = VERTEX.get(solver)  # None: gosplan's default
                result = gosplan.plan(economy, objective=objective, method=method, tol=TOL, time_limit=limit,
                                      vertex=vertex, **kwargs)
                rec.update(
                    status=result.status.value,
                    objective_value=result.objective,
                    max_violation=result.max_violation,
                    duality_gap=result.duality_gap,
                    iterations=result.iterations,
                    price_error=max((st.price_error for st in result.stages), default=float("nan")),
                    stages=[f"{st.name}: {st.method}, {st.seconds:.1f} s, {st.message}" for st in result.stages],
                )
            rec["seconds"] = time.perf_counter() - start
        rec["peak_mb"] = mem.increase / 2**20
    except Exception as exc:  # noqa: BLE001 - record and go on
        rec.update(status="error", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=3))
    return rec


def instances(sizes: list[int], inputs: float, classes: int = 0):
    from gosplan.synth.planning import planning_instance

    for n in sizes:
        t = time.perf_counter()
        inst = planning_instance(n, inputs, seed=20240601, classes=classes)
        built = time.perf_counter() - t
        yield f"synthetic n={n:,}", n, inst, built


def plan_arguments(inst, objective: str, limits: str = "all", classes: int = 0, harmony_weights: str = "unit"
                   ) -> dict[str, Any]:
    """:func:`gosplan.plan`'s keyword arguments for ``inst`` (a :class:`PlanningInstance`) and
    ``objective``: what is limited (``limits``), 85 % of final demand as the targets of ``cost``,
    the priority classes of ``fulfilment`` (``classes > 0``), harmony's weights."""
    kwargs: dict[str, Any] = {"resources": inst.resources, "capacities": inst.capacities}
    if limits == "resources":  # the resources limited, no capacities
        kwargs = {"resources": inst.resources}
    elif limits == "labour":  # Cockshott's setting: labour alone limited
        kwargs = {"resources": inst.resources.iloc[:1]}
    if objective == "cost":
        kwargs["targets"] = 0.85 * inst.economy.y
    elif objective == "fulfilment" and classes:
        kwargs["priorities"] = inst.priorities
    elif objective == "harmony" and harmony_weights == "value":
        kwargs["weights"] = "value"
    return kwargs


def _fmt(x: Any, spec: str = ".3g") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return format(x, spec)


def markdown(records: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']:.0f} GiB; "
        f"{machine['date']}; command `{machine['command']}`.",
        "",
        "| case | objective | solver | status | seconds | × fastest HiGHS | objective | rel. diff. vs reference | violation | gap | price error | iterations | peak MB |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['case']} | {r['objective']} | {r['solver']} | {r.get('status')} | {_fmt(r.get('seconds'), '.2f')} | "
            f"{_fmt(r.get('speedup'), '.1f')} | {_fmt(r.get('objective_value'), '.8g')} | {_fmt(r.get('rel_diff'), '.1e')} | "
            f"{_fmt(r.get('max_violation'), '.1e')} | {_fmt(r.get('duality_gap'), '.1e')} | "
            f"{_fmt(r.get('price_error'), '.1e')} | {r.get('iterations', '—')} | "
            f"{_fmt(r.get('peak_mb'), '.0f')} |"
        )
    return "\n".join(lines) + "\n"


def compare(group: list[dict[str, Any]]) -> None:
    """Relative objective difference against the reference; speed-up against the fastest HiGHS."""
    ok = {r["solver"]: r for r in group if r.get("status") == "optimal"}
    ref = ok.get("highs") or ok.get("highs-ipm") or ok.get("highs-pdlp")
    highs_times = [r["seconds"] for s, r in ok.items() if s.startswith("highs")]
    fastest = min(highs_times) if highs_times else None
    for r in group:
        if ref is not None and r.get("objective_value") is not None and math.isfinite(r["objective_value"]):
            a, b = r["objective_value"], ref["objective_value"]
            r["rel_diff"] = abs(a - b) / max(1.0, abs(b))
        if fastest is not None and r.get("seconds") and r.get("status") == "optimal":
            r["speedup"] = fastest / r["seconds"]


REAL_TABLES = ("cockshott-example", "uk-2015", "us-2022", "us-2017", "wiod-2011")


def _real_limits(economy) -> dict[str, Any]:
    """A real table's own limits: none (labour limited to the table's total, gosplan's default),
    or, for a table without labour (WIOD: one residual value-added row), every resource limited
    to what the table's own gross output uses."""
    if economy.labour is not None or economy.recorded_output is None:
        return {}
    used = np.asarray(economy.primary @ economy.recorded_output).reshape(-1)
    return {"resources": dict(zip(map(str, economy.resources), map(float, used)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7")
    ap.add_argument("--inputs", type=float, default=10)
    ap.add_argument("--objectives", default="fulfilment,cost,harmony")
    ap.add_argument("--solvers", default=",".join(SOLVERS))
    ap.add_argument("--limit", type=float, default=600.0, help="seconds per solver and case")
    ap.add_argument("--real", action=argparse.BooleanOptionalAction, default=True, help="also the bundled real tables")
    ap.add_argument("--tables", default=",".join(REAL_TABLES),
                    help="the bundled real tables to run (wiod-2011 with its value added limited to the table's own "
                         "total: it limits nothing by default)")
    ap.add_argument("--quick", action="store_true", help="n <= 10^4, limit 120 s")
    ap.add_argument("--limits", choices=("all", "resources", "labour"), default="all",
                    help="synthetic cases: resources and capacities (all), resources alone, labour alone")
    ap.add_argument("--classes", type=int, default=0,
                    help="fulfilment by this many priority classes (the targeted products split at random in "
                         "equal shares; issue 15 asks for 3); 0: one class, as in the earlier runs")
    ap.add_argument("--harmony-weights", choices=("unit", "value"), default="unit",
                    help="harmony weights: 1 for every target (Cockshott's, as in the earlier runs) or each target's "
                         "value at the least-labour choice's labour values (weights='value', computed inside the "
                         "timed plan)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    limit = args.limit
    if args.quick:
        sizes, limit = [s for s in sizes if s <= 10_000] or [1000], min(limit, 120.0)
    objectives = args.objectives.split(",")
    solvers = args.solvers.split(",")
    unknown = sorted(set(solvers) - set(SOLVERS) - set(EXTRA_SOLVERS))
    if unknown:
        ap.error(f"unknown solver(s) {', '.join(unknown)}; known: {', '.join(SOLVERS + EXTRA_SOLVERS)}")
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", *sys.argv]),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            machine["cpu"] = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    records: list[dict[str, Any]] = []
    given_up: set[tuple[str, str]] = set()

    def emit(group: list[dict[str, Any]]) -> None:
        compare(group)
        for r in group:
            records.append(r)
            print(
                f"{r['case']:<22} {r['objective']:<10} {r['solver']:<13} {str(r.get('status')):<16} "
                f"{_fmt(r.get('seconds'), '9.2f')} s  x{_fmt(r.get('speedup'), '.1f'):<6} obj {_fmt(r.get('objective_value'), '.10g'):<16} "
                f"diff {_fmt(r.get('rel_diff'), '.1e'):<8} viol {_fmt(r.get('max_violation'), '.1e'):<8} "
                f"gap {_fmt(r.get('duality_gap'), '.1e'):<8} it {r.get('iterations', '—')!s:<8} "
                f"mem {_fmt(r.get('peak_mb'), '.0f')} MB {r.get('error', '')}",
                flush=True,
            )
        if args.out:
            args.out.write_text(json.dumps({"machine": machine, "records": records}, indent=1, default=str))

    cases = []
    if args.real:
        import gosplan

        for name in args.tables.split(","):
            eco = gosplan.load(name)
            cases.append((name, None, eco, _real_limits(eco)))
    for label, n, inst, built in instances(sizes, args.inputs, args.classes):
        if args.limits != "all":
            label = f"{label} ({args.limits} only)"
        if args.classes:
            label = f"{label}, {args.classes} priority classes"
        if args.harmony_weights == "value" and "harmony" in objectives:
            label = f"{label}, harmony by value"
        print(f"# {label}: built in {built:.1f} s", flush=True)
        for objective in objectives:
            kwargs = plan_arguments(inst, objective, args.limits, args.classes, args.harmony_weights)
            group = []
            for solver in solvers:
                if (objective, solver) in given_up:
                    continue
                rec = run_case(label, inst.economy, objective, solver, kwargs, limit)
                rec["n"] = n
                group.append(rec)
                if rec.get("status") not in ("optimal",):
                    given_up.add((objective, solver))
            emit(group)
        if cases:  # real tables once, after the smallest synthetic size
            for name, _, eco, kwargs in cases:
                for objective in objectives:
                    emit([run_case(name, eco, objective, s, kwargs, limit) for s in solvers])
            cases = []
    if args.markdown:
        args.markdown.write_text(markdown(records, machine))


if __name__ == "__main__":
    main()

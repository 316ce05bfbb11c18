#!/usr/bin/env python
"""Multi-year ("five-year") plan benchmark: gosplan's compact program against Cockshott's LP
written out variable for variable, both solved side by side in one process.

    python benchmarks/bench_multiyear.py                        # full run (long: n up to 10^4)
    python benchmarks/bench_multiyear.py --quick                # n = 50, 100; limit 60 s; well under a minute
    python benchmarks/bench_multiyear.py --sizes 50,100,200 --limit 60 --out r.json --markdown r.md
    python benchmarks/bench_multiyear.py --report 1e4,1e5       # the HTML report of a large plan alone

Economies: Cockshott's random test economies (:func:`gosplan.synth.horizon.cockshott_economy`,
about ``log2 n + 5`` inputs per industry, ``--years`` years, ``--seed``) and the UK ONS 2015
tables with capital stocks (``load_horizon("uk-2015")``, 129 products; ``--no-real`` skips
them).

Rows, for each economy:

* ``gosplan M``: ``gosplan.multiyear.plan_years(h, method=M)`` for each ``--methods`` M — the
  whole call: gosplan's compact formulation, the solve and gosplan's own check of the answer
  (its ``max_violation`` and ``duality_gap`` are reported);
* ``literal HiGHS simplex / IPM / PDLP``: the reference — the same LP written out
  independently, variable for variable as Cockshott's ``nyearplan.java`` writes it
  (``tests/_cockshott_lp.py``, imported by putting the repository's ``tests/`` directory on
  ``sys.path``), solved by HiGHS through highspy. Its Python builder loops over the cells of
  ``n x n`` matrices, so it is timed apart ("build s") and only run up to ``--literal-max``
  products.

The objective (the maximised sum of the yearly fulfilment) of every row is compared with the
best objective of the exact, verified solves of that economy (gosplan ``highs``/``highs-ipm``
or ``auto`` when it chose one of them, with status optimal; the literal LP by HiGHS simplex or
IPM with status Optimal). Every solve has a time limit (``--limit``); a timed-out solve is a
row with status ``time_limit``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import math
import os
import shlex
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_balance import (  # noqa: E402
    MemoryWatch,
    Table,
    _threading_layer,
    error_text,
    fix_malloc_thresholds,
    fmt_bytes,
    fmt_s,
    machine_info,
    to_jsonable,
    versions,
)

METHODS = ("auto", "pdhg", "highs", "highs-ipm", "highs-pdlp")
LITERAL = ("simplex", "ipm", "pdlp")  # HiGHS' ``solver`` option on the literal LP
LITERAL_LABEL = {"simplex": "literal HiGHS simplex", "ipm": "literal HiGHS IPM", "pdlp": "literal HiGHS PDLP"}
EXACT_GOSPLAN = ("highs-simplex", "highs-ipm", "highs")  # resolved methods whose optimum is a vertex/IPM+crossover
SIZES = "50,100,200,400,1600,10000"
SEED = 20261128
TOL = 1e-6
HIGHS_STATUS = {
    "kOptimal": "optimal",
    "kTimeLimit": "time_limit",
    "kIterationLimit": "iteration_limit",
    "kInfeasible": "infeasible",
    "kUnbounded": "unbounded",
    "kUnboundedOrInfeasible": "unbounded_or_infeasible",
    "kSolveError": "solve_error",
    "kNotset": "not_set",
}
GIVE_UP = ("time_limit", "iteration_limit", "error")  # not run again at larger sizes after these


def _import_literal():
    """``tests/_cockshott_lp.py``: the reference formulation (not part of the installed package)."""
    tests = HERE.parent / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    from _cockshott_lp import cockshott_lp, solve_highs

    return cockshott_lp, solve_highs


def report_costs(sizes: list[int], years: int, repeat: int = 3) -> list[dict[str, Any]]:
    """``gosplan.report.plan_html`` on the synthetic plan frames of ``tests/_report_frames.py``
    (``n`` products and activities, ``3 n`` capital stocks, ``years`` years; the frames
    tests/test_report_html.py checks at n = 10^4 for size and truncation): seconds (best of
    ``repeat``; memory from the first call), bytes of the document."""
    tests = HERE.parent / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    from _report_frames import large_plan

    from gosplan.report import plan_html

    rows = []
    for n in sizes:
        t = time.perf_counter()
        frames = large_plan(n, years)
        built = time.perf_counter() - t
        best = None
        for _ in range(repeat):
            with MemoryWatch() as mem:
                t = time.perf_counter()
                html = plan_html(*frames)
                seconds = time.perf_counter() - t
            if best is None:
                best = {"n": n, "years": years, "frames_s": built, "seconds": seconds, "peak": mem.increase,
                        "bytes": len(html.encode("utf-8"))}
            best["seconds"] = min(best["seconds"], seconds)
        rows.append(best)
    return rows


def literal_inputs(h) -> tuple:
    """Cockshott's inputs from a Horizon: flows ``Z = A diag(x0)``, ``K``, ``delta``, labour, ``x0``, targets, ``L``."""
    x0 = h.base_output
    Z = h.economy.use.toarray() * x0
    return (Z, h.capital.toarray(), h.depreciation.toarray(), h.labour_coefficients * x0, x0, h.targets.T,
            h.labour_supply)


# ============================================================================ one solve


def gosplan_row(h, method: str, limit: float, tol: float) -> dict[str, Any]:
    """``method`` as :func:`plan_years` takes it; ``M-rows``: ``M`` with PDHG on the rows as written
    (its presolve, which moves singleton rows into column bounds, switched off): the code before it."""
    import gosplan.multiyear.solve as multiyear_solve
    from gosplan.multiyear import plan_years

    rows_as_written = method.endswith("-rows")
    rec: dict[str, Any] = {"program": "gosplan", "solver": f"gosplan {method}", "method": method}
    saved = multiyear_solve.PDHG_PRESOLVE
    try:
        with MemoryWatch() as mem, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if rows_as_written:
                multiyear_solve.PDHG_PRESOLVE = False
                method = method[: -len("-rows")]
            start = time.perf_counter()
            r = plan_years(h, method=method, tol=tol, time_limit=limit)
            rec["seconds"] = time.perf_counter() - start
        rec.update(
            status=r.status.value,
            chosen=r.method,
            objective_value=r.objective,
            max_violation=r.max_violation,
            duality_gap=r.duality_gap,
            iterations=r.iterations,
            gosplan_seconds=r.seconds,
            rows=r.detail.get("rows"),
            cols=r.detail.get("columns"),
            nnz=r.detail.get("nonzeros"),
            peak_mb=mem.increase / 2**20,
        )
        if r.status.value != "optimal":
            rec["message"] = r.message[:200]
        if method == "auto":
            rec["solver"] = f"gosplan auto ({r.method})"
        if rows_as_written:
            rec["solver"] += ", rows as written (no presolve)"
    except Exception as exc:  # noqa: BLE001 - record and go on
        rec.update(status="error", error=error_text(exc), trace=traceback.format_exc(limit=3))
    finally:
        multiyear_solve.PDHG_PRESOLVE = saved
    return rec


def literal_row(lp: tuple, which: str, limit: float) -> dict[str, Any]:
    _, solve_highs = _import_literal()
    c, A, lo, hi, clo, chi, _ = lp
    rec: dict[str, Any] = {"program": "literal", "solver": LITERAL_LABEL[which], "method": which,
                           "rows": A.shape[0], "cols": A.shape[1], "nnz": int(A.nnz)}
    try:
        with MemoryWatch() as mem:
            start = time.perf_counter()
            obj, _, run_seconds, status = solve_highs(c, A, lo, hi, clo, chi, solver=which, time_limit=limit)
            wall = time.perf_counter() - start
        status = status.rsplit(".", 1)[-1]
        rec.update(
            status=HIGHS_STATUS.get(status, status),
            highs_status=status,
            seconds=run_seconds,  # HiGHS' run() alone; passing the model is in wall_seconds
            wall_seconds=wall,
            highs_objective=obj,
            # HiGHS' objective only means something for an optimal model (a timed-out PDLP reports 0)
            objective_value=obj if status == "kOptimal" else None,
            peak_mb=mem.increase / 2**20,
        )
    except Exception as exc:  # noqa: BLE001
        rec.update(status="error", error=error_text(exc), trace=traceback.format_exc(limit=3))
    return rec


# ============================================================================ comparison


def is_reference(r: dict[str, Any]) -> bool:
    """An exact, verified solve: gosplan simplex/IPM (checked by gosplan) or the literal LP by simplex/IPM."""
    if r.get("status") != "optimal" or not _finite(r.get("objective_value")):
        return False
    if r["program"] == "gosplan":
        return r.get("chosen") in EXACT_GOSPLAN
    return r["method"] in ("simplex", "ipm")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def compare(group: list[dict[str, Any]]) -> None:
    """rel_diff against the best exact objective; speed against HiGHS IPM on the literal LP."""
    refs = [r for r in group if is_reference(r)]
    ref = max(refs, key=lambda r: r["objective_value"]) if refs else None
    ipm = next((r for r in group if r["program"] == "literal" and r["method"] == "ipm"
                and r.get("status") == "optimal"), None)
    for r in group:
        r.pop("rel_diff", None)
        r.pop("vs_literal_ipm", None)
        if ref is not None:
            r["reference"] = ref["solver"]
            if _finite(r.get("objective_value")):
                b = ref["objective_value"]
                r["rel_diff"] = abs(r["objective_value"] - b) / abs(b) if b != 0 else abs(r["objective_value"])
        if ipm is not None and r.get("status") == "optimal" and r.get("seconds"):
            r["vs_literal_ipm"] = ipm["seconds"] / r["seconds"]


# ============================================================================ output

COLUMNS = ["economy", "n", "rows", "cols", "nnz", "solver", "status", "seconds", "build s", "peak MB",
           "objective", "rel. diff", "violation", "gap", "iter.", "× lit. IPM"]
ALIGN = "lrrrrllrrrrrrrrr"
WIDTHS = [16, 6, 8, 8, 9, 32, 15, 8, 7, 8, 15, 8, 8, 8, 7, 9]


def _f(x: Any, spec: str) -> str:
    return format(x, spec) if _finite(x) else "—"


def cells(r: dict[str, Any]) -> list[str]:
    return [
        r["economy"], f"{r['n']:,}", _f(r.get("rows"), ","), _f(r.get("cols"), ","), _f(r.get("nnz"), ","),
        r["solver"], str(r.get("status")), fmt_s(r.get("seconds")).replace("-", "—"),
        fmt_s(r.get("build_seconds")).replace("-", "—") if r["program"] == "literal" else "",
        _f(r.get("peak_mb"), ".0f"), _f(r.get("objective_value"), ".10g"), _f(r.get("rel_diff"), ".1e"),
        _f(r.get("max_violation"), ".1e"), _f(r.get("duality_gap"), ".1e"),
        str(r["iterations"]) if r.get("iterations") is not None else "—",
        _f(r.get("vs_literal_ipm"), ".2f" if (r.get("vs_literal_ipm") or 0) >= 0.1 else ".1g"),
    ]


def plain_line(values: list[str]) -> str:
    return "  ".join(v.ljust(w) if a == "l" else v.rjust(w) for v, w, a in zip(values, WIDTHS, ALIGN))


def md_line(values: list[str]) -> str:
    return "| " + " | ".join(v.replace("|", "/") for v in values) + " |"


MD_SEP = "|" + "|".join(":---" if a == "l" else "---:" for a in ALIGN) + "|"


# ============================================================================ main


def warm_up(methods: list[str], literal: bool) -> float:
    """Solve a tiny plan once with every method (numba compiles gosplan's kernels, HiGHS loads)."""
    from gosplan.multiyear import plan_years
    from gosplan.synth.horizon import cockshott_economy

    start = time.perf_counter()
    h = cockshott_economy(12, 2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in methods:
            try:
                plan_years(h, method=m, time_limit=60)
            except Exception:  # noqa: BLE001 - the real run reports it
                pass
        if literal:
            cockshott_lp, solve_highs = _import_literal()
            lp = cockshott_lp(*literal_inputs(h))
            for which in LITERAL:
                solve_highs(*lp[:6], solver=which, time_limit=60)
    return time.perf_counter() - start


def economies(sizes: list[int], years: int, seed: int, real: bool):
    """(label, n, horizon or error, seconds, notes) in order of size; the UK tables among them by n."""
    from gosplan.synth.horizon import cockshott_economy

    todo: list[tuple[int, str, Any]] = [(n, f"cockshott n={n:,}", None) for n in sizes]
    if real:
        todo.append((129, "uk-2015", "uk-2015"))
    todo.sort(key=lambda t: (t[0], t[2] is not None))
    for n, label, name in todo:
        start = time.perf_counter()
        notes: list[str] = []
        try:
            if name is None:
                h = cockshott_economy(n, years, seed=seed)
            else:
                from gosplan.io.load_horizon import load_horizon

                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    h = load_horizon(name)
                if caught:
                    notes.append(f"{len(caught)} data-quality warnings when loading (kept in the JSON)")
                    notes.extend(str(w.message)[:300] for w in caught)
                n = h.economy.n_products
        except Exception as exc:  # noqa: BLE001
            h = exc
        yield label, n, h, time.perf_counter() - start, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=SIZES, help="products of Cockshott's random economies (default %(default)s)")
    ap.add_argument("--years", type=int, default=5, help="years of the plan (default %(default)s)")
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the random economies (default %(default)s)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="gosplan methods (default %(default)s); M-rows: M with PDHG on the rows as written (no presolve)")
    ap.add_argument("--literal", default=",".join(LITERAL),
                    help="HiGHS solvers on the literal Cockshott LP, '' for none (default %(default)s)")
    ap.add_argument("--literal-max", type=int, default=1600,
                    help="largest n for which the literal LP is built and solved (default %(default)s)")
    ap.add_argument("--limit", type=float, default=600.0, help="seconds per solve (default %(default)g)")
    ap.add_argument("--highs-limit", type=float, default=None,
                    help="seconds per HiGHS solve (the literal LP and gosplan's highs* methods; default: --limit)")
    ap.add_argument("--tol", type=float, default=TOL, help="gosplan's tolerance (default %(default)g)")
    ap.add_argument("--real", action=argparse.BooleanOptionalAction, default=None,
                    help="also the UK 2015 tables (default: yes, except with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: sizes 50,100, limit 60 s, no UK tables, one numba thread")
    ap.add_argument("--numba-threads", type=int, default=None,
                    help="threads of gosplan's numba kernels (default: numba's, one per core; 1 with --quick); "
                         "on a shared machine 1 avoids parallel regions waiting for a scheduler slice")
    ap.add_argument("--no-give-up", action="store_true",
                    help="run every solver at every size (by default one that timed out or failed is not "
                         "run at larger sizes)")
    ap.add_argument("--out", type=Path, help="write all rows as JSON (after every row)")
    ap.add_argument("--markdown", nargs="?", const="-", default=None, metavar="FILE",
                    help="Markdown: alone, the table is printed in Markdown as the run goes; with FILE, the "
                         "header and the final table are written there as Markdown")
    ap.add_argument("--plain", action="store_true", help="plain-text final table (no rich)")
    ap.add_argument("--report", metavar="SIZES", nargs="?", const="10000",
                    help="time the HTML report (gosplan.report.plan_html) of synthetic plans of these numbers of "
                         "products over --years years and exit (default 10000)")
    args = ap.parse_args(argv)
    if args.report:
        rows = report_costs([int(float(n)) for n in args.report.split(",") if n.strip()], args.years)
        table = Table(f"HTML report of a {args.years}-year plan (synthetic frames, tests/_report_frames.py), best of 3",
                      ["products", "frames built s", "plan_html s", "document", "peak RSS increase"], "rrrrr")
        for r in rows:
            table.add(f"{r['n']:,}", fmt_s(r["frames_s"]), fmt_s(r["seconds"]), fmt_bytes(r["bytes"]),
                      fmt_bytes(r["peak"]))
        print(table.markdown() if args.markdown else table.plain())
        if args.out:
            args.out.write_text(json.dumps(to_jsonable({"machine": machine_info(), "rows": rows}), indent=1))
        return 0

    sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    limit = args.limit
    highs_limit = args.highs_limit if args.highs_limit is not None else limit
    if args.quick:
        sizes, limit, highs_limit = [50, 100], min(limit, 60.0), min(highs_limit, 60.0)
        if args.numba_threads is None:  # a smoke run: steady on a busy machine (see --numba-threads)
            args.numba_threads = 1
    real = (not args.quick) if args.real is None else args.real
    methods = [m for m in args.methods.split(",") if m]
    literal = [s for s in args.literal.split(",") if s]
    for s in literal:
        if s not in LITERAL:
            ap.error(f"unknown literal solver {s!r}; choose from {', '.join(LITERAL)}")
    md_stdout = args.markdown == "-"
    md_file = Path(args.markdown) if args.markdown not in (None, "-") else None

    if args.numba_threads:
        import numba

        numba.set_num_threads(max(1, min(args.numba_threads, numba.config.NUMBA_NUM_THREADS)))
    malloc_fixed = fix_malloc_thresholds()
    t_start = time.perf_counter()
    vers = versions()
    try:
        import importlib.metadata as md

        vers["highspy"] = md.version("highspy")
    except Exception:  # noqa: BLE001
        vers["highspy"] = None
    results: dict[str, Any] = {
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": vers,
        "settings": {"sizes": sizes, "years": args.years, "seed": args.seed, "methods": methods,
                     "literal": literal, "literal_max": args.literal_max, "limit": limit,
                     "highs_limit": highs_limit, "tol": args.tol,
                     "real": real, "give_up": not args.no_give_up, "numba_threads": args.numba_threads},
        "memory_method": "peak of VmRSS sampled every 5 ms and VmHWM, minus VmRSS before the solve; "
                         f"glibc mmap threshold fixed: {malloc_fixed}",
        "economies": [],
        "rows": [],
    }
    m = results["machine"]
    header = [
        f"Multi-year plans ({args.years} years): gosplan.multiyear.plan_years against Cockshott's LP written out "
        f"literally (tests/_cockshott_lp.py), solved by HiGHS.",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), {fmt_bytes(m['memory_total'])} "
        f"memory, numba threads {m['numba_threads']}; load average {' '.join(f'{x:.2f}' for x in m['load_average_at_start'])} at the start.",
        "Versions: gosplan " + f"{vers.get('gosplan')} (commit {vers.get('gosplan_commit')}"
        + (", src modified" if vers.get("gosplan_src_modified") else "") + f"), highspy {vers['highspy']}, "
        f"numpy {vers.get('numpy')}, scipy {vers.get('scipy')}, numba {vers.get('numba')}, python {vers.get('python')}.",
        f"Settings: seed {args.seed}, gosplan tol {args.tol:g}, limit {limit:g} s per solve "
        f"({highs_limit:g} s per HiGHS solve), literal LP up to "
        f"n = {args.literal_max:,}; {results['date']}; command `{results['command']}`.",
    ]

    def out(line: str = "") -> None:
        print(line, flush=True)

    for line in header:
        out(line)
    out()

    def save() -> None:
        results["elapsed_seconds"] = time.perf_counter() - t_start
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(args.out.suffix + ".tmp")
            tmp.write_text(json.dumps(to_jsonable(results), indent=1, default=str))
            tmp.replace(args.out)

    out("warming up (numba compiles gosplan's kernels; HiGHS loads) ...")
    try:
        results["warm_up_seconds"] = warm_up(methods, bool(literal))
        out(f"  {results['warm_up_seconds']:.1f} s")
        m["numba_threading_layer"] = _threading_layer()
    except Exception as exc:  # noqa: BLE001
        results["warm_up_error"] = error_text(exc)
        out(f"  warm-up failed: {error_text(exc)}")
    out()
    if md_stdout:
        out(md_line(COLUMNS))
        out(MD_SEP)
    else:
        out(plain_line(COLUMNS))
        out(plain_line(["-" * w for w in WIDTHS]))

    def show(r: dict[str, Any]) -> None:
        out(md_line(cells(r)) if md_stdout else plain_line(cells(r)))

    def note(text: str) -> None:
        out(f"<!-- {text} -->" if md_stdout else f"# {text}")

    given_up: dict[str, str] = {}
    for label, n, h, built, notes in economies(sizes, args.years, args.seed, real):
        econ: dict[str, Any] = {"economy": label, "n": n, "build_seconds": built, "notes": notes}
        results["economies"].append(econ)
        if isinstance(h, Exception):
            econ["error"] = error_text(h)
            note(f"{label}: could not be built: {econ['error']}")
            save()
            continue
        synthetic = label.startswith("cockshott")
        econ["stocks"] = int(h.capital.nnz)
        note(f"{label}: {n:,} products, {h.capital.nnz:,} capital stocks, {h.n_years} years; "
             f"built in {built:.2f} s" + (f"; {notes[0]}" if notes else ""))
        group: list[dict[str, Any]] = []

        def add(rec: dict[str, Any], solver_key: str) -> None:
            rec.update(economy=label, n=n)
            if rec["program"] == "literal":
                rec["build_seconds"] = econ.get("literal_build_seconds")
                rec["build_peak_mb"] = econ.get("literal_build_peak_mb")
            group.append(rec)
            results["rows"].append(rec)
            compare(group)  # against the references measured so far; recomputed when more arrive
            show(rec)
            if synthetic and not args.no_give_up and rec.get("status") in GIVE_UP:
                given_up[solver_key] = f"{rec['status']} at n={n:,}"
            save()

        def skipped(solver: str, program: str, method: str, why: str) -> dict[str, Any]:
            return {"program": program, "solver": solver, "method": method, "status": "skipped", "skipped": why}

        # The exact solves first, so that the rows after them are compared with a reference.
        order = sorted(methods, key=lambda mth: (mth not in ("highs", "highs-ipm"), methods.index(mth)))
        literal_ok = bool(literal) and h.economy.make is None and n <= args.literal_max
        lp = None
        if literal and not literal_ok:
            why = (f"n > --literal-max {args.literal_max:,}" if n > args.literal_max
                   else "the literal LP needs a square economy (one product per industry)")
            econ["literal_skipped"] = why
            note(f"{label}: literal LP skipped ({why})")
        elif literal:
            cockshott_lp, _ = _import_literal()
            try:
                with MemoryWatch() as mem:
                    t0 = time.perf_counter()
                    lp = cockshott_lp(*literal_inputs(h))
                    econ["literal_build_seconds"] = time.perf_counter() - t0
                econ["literal_build_peak_mb"] = mem.increase / 2**20
                A = lp[1]
                econ["literal_lp"] = {"rows": A.shape[0], "cols": A.shape[1], "nnz": int(A.nnz)}
                note(f"{label}: literal LP {A.shape[0]:,} rows x {A.shape[1]:,} columns, {A.nnz:,} nonzeros, "
                     f"built in {econ['literal_build_seconds']:.2f} s (+{econ['literal_build_peak_mb']:.0f} MB)")
            except Exception as exc:  # noqa: BLE001
                econ["literal_error"] = error_text(exc)
                note(f"{label}: literal LP could not be built: {econ['literal_error']}")
        runs: list[tuple[str, str]] = [("literal", s) for s in literal if s in ("simplex", "ipm")]
        runs += [("gosplan", mth) for mth in order if mth in ("highs", "highs-ipm")]
        runs += [("literal", s) for s in literal if s not in ("simplex", "ipm")]
        runs += [("gosplan", mth) for mth in order if mth not in ("highs", "highs-ipm")]
        for program, method in runs:
            key = f"{program} {method}"
            if program == "literal" and lp is None:
                continue
            label_solver = LITERAL_LABEL[method] if program == "literal" else f"gosplan {method}"
            if synthetic and key in given_up:
                note(f"{label}: {label_solver} skipped ({given_up[key]})")
                add(skipped(label_solver, program, method, given_up[key]), key)
                continue
            gc.collect()
            highs = program == "literal" or method.startswith("highs")
            run_limit = highs_limit if highs else limit
            if program == "literal":
                add(literal_row(lp, method, run_limit), key)
            else:
                add(gosplan_row(h, method, run_limit, args.tol), key)
        del lp
        compare(group)
        if group and not any(is_reference(r) for r in group):
            note(f"{label}: no exact solve finished: no reference objective")
        elif group:
            best = max((r for r in group if is_reference(r)), key=lambda r: r["objective_value"])
            note(f"{label}: reference objective {best['objective_value']:.12g} ({best['solver']}, the best of "
                 f"the exact solves)")
        save()
        gc.collect()

    results["load_average_at_end"] = os.getloadavg()
    save()
    table = Table(f"Multi-year plans ({args.years} years), limit {limit:g} s per solve", COLUMNS, ALIGN)
    for r in results["rows"]:
        table.add(*cells(r))
    out()
    out("All rows, compared with the reference of every economy:")
    if md_stdout:
        out(table.markdown())
    else:
        table.show(args.plain)
    out(f"load average at the end: {' '.join(f'{x:.2f}' for x in results['load_average_at_end'])}; "
        f"elapsed {results['elapsed_seconds']:.0f} s")
    if md_file:
        md_file.write_text("\n".join(header) + "\n\n" + table.markdown() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""One optimal plan of the Leontief method, traced round by round: where its time and memory go.

Runs :func:`gosplan.plan` (method ``leontief``) on the issue-3 instance of ``--n`` products
(:func:`gosplan.synth.planning.planning_instance`, as ``bench_plan.py`` builds it) and prints,
with the seconds since the start and the process's resident memory (now and peak), every line
of the method's progress (one a round of each stage) and every block of linking rows that the
finish on the linking rows (:mod:`gosplan.planning.substitution_rows`) solves: its columns, how
many lie in the iterated core of the Leontief solve, and its seconds.

    python benchmarks/trace_plan.py --n 1e6 --objective fulfilment --classes 3
    python benchmarks/trace_plan.py --n 1e7 --objective cost --limit 1200 \\
        --linking-memory-gib 5 --linking-min-rows 1000     # the finish allowed at 10^7 (run P25)

``--linking-memory-gib`` and ``--linking-min-rows`` override
:data:`gosplan.planning.substitution_rows.MEMORY` and
:data:`gosplan.planning.substitution.LINKING_MIN_ROWS` for this run only: how the method would
do with more room for the finish's rows than it takes by default.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_balance import rss
from bench_plan import plan_arguments


def _rss_gib() -> float:
    return rss() / 2**30


class _Clock:
    """Seconds since the start, resident memory and its peak (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.peak = _rss_gib()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            self.peak = max(self.peak, _rss_gib())
            time.sleep(0.05)

    def say(self, message: str, *_: object) -> None:
        now = _rss_gib()
        self.peak = max(self.peak, now)
        print(f"{time.perf_counter() - self.start:8.1f} s  RSS {now:5.1f} GiB (peak {self.peak:5.1f})  {message}",
              flush=True)


def _time_linking_rows(clock: _Clock) -> None:
    """Wrap the finish's rows so that the rows joining and each block of their solves are reported."""
    from gosplan.planning import substitution_rows as rows

    solve = rows._Rows.transposed

    def timed(self, F: np.ndarray):
        started = time.perf_counter()
        Y = solve(self, F)
        core = "?"
        if self._core is not None:
            unit = np.flatnonzero(F.any(axis=1))
            if unit.size <= F.shape[1]:  # unit rows (capacities): how many inside the core
                core = str(int(self._core[unit].sum()))
        clock.say(f"  linking rows: a block of {F.shape[1]}, {core} in the core, {time.perf_counter() - started:.2f} s")
        return Y

    rows._Rows.transposed = timed
    add = rows._Rows.add

    def joining(self, kind: str, at: np.ndarray):
        at = np.asarray(at, dtype=np.int64)
        if at.size:
            inside = "" if kind == "resource" else f", {int(self.in_core(at).sum())} of them in the core"
            clock.say(f"  linking rows: {at.size} {kind} row(s) join{inside}")
        return add(self, kind, at)

    rows._Rows.add = joining


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6, help="products (default 1e6)")
    ap.add_argument("--inputs", type=float, default=10, help="mean inputs a product (default 10, as bench_plan.py)")
    ap.add_argument("--objective", choices=("fulfilment", "cost"), default="fulfilment")
    ap.add_argument("--classes", type=int, default=0, help="priority classes of fulfilment (the issue's: 3)")
    ap.add_argument("--limit", type=float, default=900, help="time limit of the plan, seconds (default 900)")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--linking-memory-gib", type=float, help="bytes of the finish's row effects at most, GiB")
    ap.add_argument("--linking-min-rows", type=int, help="rows the finish may always take")
    args = ap.parse_args(argv)
    if args.linking_memory_gib is not None and not args.linking_memory_gib > 0:
        ap.error(f"--linking-memory-gib must be positive, got {args.linking_memory_gib}")
    if args.linking_min_rows is not None and args.linking_min_rows < 0:
        ap.error(f"--linking-min-rows must be at least 0, got {args.linking_min_rows}")
    if not args.limit > 0:
        ap.error(f"--limit must be positive, got {args.limit}")

    import gosplan
    from gosplan.planning import substitution, substitution_rows
    from gosplan.synth.planning import planning_instance

    if args.linking_memory_gib is not None:
        substitution_rows.MEMORY = int(args.linking_memory_gib * 2**30)
    if args.linking_min_rows is not None:
        substitution.LINKING_MIN_ROWS = args.linking_min_rows
    clock = _Clock()
    _time_linking_rows(clock)
    try:
        inst = planning_instance(int(args.n), args.inputs, seed=20240601, classes=args.classes)
    except ValueError as exc:  # the generator names what is wrong (e.g. too few products)
        ap.error(str(exc))
    clock.say(f"instance of {int(args.n):,} products built")
    kwargs = plan_arguments(inst, args.objective, classes=args.classes)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gosplan.plan(inst.economy, objective=args.objective, method="leontief", tol=args.tol,
                              time_limit=args.limit, progress=clock.say, **kwargs)
    clock.say(f"plan: {result.status.value} in {time.perf_counter() - started:.1f} s, objective {result.objective:.10g}, "
              f"violation {result.max_violation:.1e}, gap {result.duality_gap:.1e}, {result.iterations} Leontief solves")
    for stage in result.stages:
        print(f"  {stage.name}: {stage.method}, {stage.seconds:.1f} s, {stage.message}")


if __name__ == "__main__":
    main()

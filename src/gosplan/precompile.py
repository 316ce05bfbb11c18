"""Compile gosplan's numba kernels ahead of the first run: ``python -m gosplan.precompile``.

gosplan's kernels are compiled by numba on first use and cached on disk
(:mod:`gosplan._jit`); without a cache the first ``gosplan balance`` of a 10^6-product
economy spends 15-20 s compiling. This module runs gosplan's commands once on small
synthetic economies, in one process, so that every kernel is compiled for the argument
types real runs use and written to the cache; later processes load them in milliseconds.

``pip install .`` (a wheel built from the source tree) runs it when it builds the wheel
(``setup.py``), and the wheel carries the compiled kernels in ``__pycache__`` next to each
kernel module: numba keys an entry by the source file's content (sha256), the kernel's
bytecode, the argument types, the numba version and the CPU, so the installed package
finds them. A wheel built on another machine, or for another numba, is simply compiled
again on first use. ``GOSPLAN_PRECOMPILE=0`` skips the step at build time (editable
installs never run it: their kernels compile into ``src/`` on first use).

Run it yourself after installing a wheel built elsewhere, or into ``NUMBA_CACHE_DIR``::

    python -m gosplan.precompile            # prints one line per workload and the kernel count
    python -m gosplan.precompile --jobs 1   # in one process (default: two with two CPUs or more)

With two CPUs or more the workloads after the synthetic economies run in two processes side
by side (:data:`PARTS`), then all of them once more in this one, which loads what the two
compiled and compiles what a simultaneous write of a kernel's cache index lost (numba
rewrites a kernel's whole index to add an entry). On a 2-core machine this halves the time.

The workloads lower three size thresholds (the dense-solve limit, the parallel residual
check and the scattered values solve's) for the duration of the run, so that the code
paths of large economies are taken at a few thousand products.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["ENV", "KERNEL_MODULES", "PARTS", "default_jobs", "kernels", "main", "precompile"]

ENV = "GOSPLAN_PRECOMPILE"
KERNEL_MODULES = (
    "gosplan.linalg.kernels",
    "gosplan.linalg._block_kernels",
    "gosplan.optim._pdhg_kernels",
    "gosplan.hierarchy._kernels",
    "gosplan.planning._kernels",
    "gosplan.consumers.market",
)

Progress = Callable[[str], None]


def kernels() -> dict[str, object]:
    """Every numba kernel of gosplan, ``module.name -> dispatcher`` (imports the modules)."""
    from gosplan import _jit

    for name in KERNEL_MODULES:
        importlib.import_module(name)
    return {f"{k.py_func.__module__}.{k.py_func.__qualname__}": k for k in _jit.KERNELS
            if k.py_func.__module__.startswith("gosplan.")}


@contextlib.contextmanager
def _large_paths() -> Iterator[None]:
    """Take the code paths of large economies at small sizes (restored on exit)."""
    from gosplan.linalg import leontief

    saved = leontief.DENSE_MAX, leontief.PARALLEL_CHECK_MIN, leontief.SCATTER_ACCUMULATORS
    # the scattered values solve whatever the build machine's thread count
    leontief.DENSE_MAX, leontief.PARALLEL_CHECK_MIN, leontief.SCATTER_ACCUMULATORS = 0, 0, float("inf")
    try:
        yield
    finally:
        leontief.DENSE_MAX, leontief.PARALLEL_CHECK_MIN, leontief.SCATTER_ACCUMULATORS = saved


def _cli(*argv: str) -> None:
    from gosplan.cli.app import main

    try:
        main(list(argv))
    except SystemExit as exc:
        # Any answer (an infeasible plan, a plan stopped at its tolerance) ran the kernels;
        # only a usage error means the workload itself is wrong.
        if exc.code == 2:
            raise RuntimeError(f"gosplan {' '.join(argv)}: usage error") from None


def _linalg(economy: Path) -> None:
    """Every Leontief method, both directions, one and several right-hand sides."""
    import numpy as np

    import gosplan
    from gosplan.linalg.both import solve_both
    from gosplan.linalg.leontief import METHODS, prepare, solve

    econ = gosplan.load(economy)
    system = prepare(econ.A)
    rng = np.random.default_rng(0)
    for method in METHODS:
        if method in ("auto", "dense"):
            continue
        for transpose in (False, True):
            for k in (1, 2, 5):
                rhs = rng.random(system.n) if k == 1 else rng.random((system.n, k))
                solve(system, rhs, transpose=transpose, method=method, tol=1e-8)
    solve(system, rng.random(system.n), method="trim-bicgstab", inplace_share=0.0)
    solve(system, rng.random(system.n), method="trim-bicgstab", inplace_share=0.0, transpose=True)
    solve_both(prepare(econ.A), rng.random(system.n), rng.random(system.n), method="trim-bicgstab")


def _techniques() -> None:
    """The Leontief method's policy iteration, which needs products with several techniques
    (the issue-3 instances: second techniques for a tenth of the products)."""
    import gosplan
    from gosplan.synth.planning import planning_instance

    inst = planning_instance(3000, 10, seed=5)
    gosplan.plan(inst.economy, method="leontief", resources=inst.resources, capacities=inst.capacities)


def _workloads(work: Path) -> list[tuple[str, Callable[[], None]]]:
    big, small, years, hh = work / "big", work / "small", work / "years", work / "hh"
    out = work / "out"
    return [
        ("synthetic economies", lambda: (
            _cli("synth", "-o", str(big), "-n", "3000", "--seed", "1", "--enterprises", "2",
                 "--ministries", "6", "--overwrite"),
            _cli("synth", "-o", str(small), "-n", "300", "--seed", "2", "--enterprises", "2",
                 "--ministries", "4", "--regions", "3", "--overwrite"),
            _cli("synth", "-o", str(hh), "-n", "300", "--seed", "3", "--households", "4", "--overwrite"),
            _cli("synth", "-o", str(years), "--years", "3", "-n", "40", "--seed", "4", "--overwrite"),
        )),
        ("material balance", lambda: _cli("balance", str(big), "-o", str(out / "balance"))),
        ("Leontief methods", lambda: _linalg(big)),
        ("optimal plans (pdhg)", lambda: [
            _cli("plan", str(small), "-O", objective, "-m", "pdhg", "--tol", "1e-4", "--time-limit", "60",
                 "-o", str(out / f"plan-{objective}"))
            for objective in ("fulfilment", "harmony", "cost")
        ]),
        ("optimal plans (leontief)", lambda: _cli("plan", str(big), "-m", "leontief", "-o", str(out / "plan-l"))),
        ("optimal plans (leontief, a choice of techniques)", _techniques),
        ("five-year plans", lambda: _cli("plan", str(years), "--years", "3", "-m", "pdhg", "--tol", "1e-4",
                                         "--time-limit", "60", "--no-html", "-o", str(out / "years"))),
        ("chain of command", lambda: (
            _cli("breakdown", str(small), "--links", "-o", str(out / "breakdown")),
            _cli("breakdown", str(small), "--rule", "merit", "-o", str(out / "breakdown-merit")),
            _cli("aggregate", str(small), "-o", str(out / "aggregate")),
            _cli("plan", str(small), "--decompose", "--max-rounds", "3", "-o", str(out / "decompose")),
        )),
        ("consumers", lambda: _cli("simulate", str(hh), "--periods", "2", "-o", str(out / "simulate"))),
    ]


def _on_disk(disp: object) -> bool:
    """Whether numba's cache holds an index for ``disp`` (a kernel called only from other
    kernels is loaded inside its cached callers and never dispatched on its own)."""
    try:
        return Path(disp._cache._cache_file._index_path).is_file()  # type: ignore[attr-defined]
    except AttributeError:  # numba without a disk cache for it
        return False


#: The workloads run side by side (``jobs > 1``), after the synthetic economies are written:
#: the Leontief methods apart from the rest (their kernels compile in 44 s of the 120 s a serial
#: run took on a 2-core machine).
PARTS = (("Leontief methods",), None)


def _parts(names: list[str], jobs: int) -> list[list[str]]:
    """The workloads after the first, in at most ``jobs`` parts (``PARTS``, the rest in the last)."""
    later = names[1:]
    if jobs <= 1:
        return [later]
    fixed = [[n for n in part if n in later] for part in PARTS if part is not None]
    rest = [n for n in later if not any(n in part for part in fixed)]
    parts = [p for p in fixed + [rest] if p]
    while len(parts) > jobs:  # fewer workers than parts: merge the two smallest
        parts.sort(key=len)
        parts[:2] = [parts[0] + parts[1]]
    return parts


def _run(workloads: list[tuple[str, Callable[[], None]]], say: Progress) -> None:
    for name, work in workloads:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            work()
        say(f"{name}: {time.perf_counter() - t0:.1f} s")


def _side_by_side(work: Path, names: list[str], parts: list[list[str]], say: Progress) -> None:
    """Run each part in its own process (``--work``/``--only``), all at once, on the economies in ``work``.

    Two processes that add a specialisation of the same kernel at once can each write the
    kernel's index without the other's entry; the caller's pass over every workload afterwards
    compiles what was lost and writes it. A part that fails is left to that pass too."""
    import subprocess
    import threading

    def relay(number: int, proc: subprocess.Popen, last: list[str]) -> None:
        # each part's lines as they come (not when it ends), marked with the part's number
        for raw in proc.stdout:
            line = raw.rstrip().removeprefix("gosplan.precompile: ")
            if line.strip():
                last[:] = [line]
                say(f"  [part {number}] {line}")

    running = []
    for number, part in enumerate(parts, 1):
        proc = subprocess.Popen([sys.executable, "-m", "gosplan.precompile", "--work", str(work),
                                 "--only", ",".join(str(names.index(n)) for n in part)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        label, last = ", ".join(part), []
        thread = threading.Thread(target=relay, args=(number, proc, last), daemon=True)
        thread.start()
        running.append((label, proc, thread, last))
    for label, proc, thread, last in running:
        proc.wait()
        thread.join()
        if proc.returncode != 0:
            say(f"part {label} exited with {proc.returncode} (the last pass compiles it)"
                + (f": {last[0]}" if last else ""))


def precompile(progress: Progress | None = None, jobs: int = 1) -> dict[str, object]:
    """Compile and cache every kernel; returns ``{"seconds", "kernels", "compiled", "missing"}``.

    ``compiled`` counts the specialisations compiled or loaded in this process; ``missing``
    names the kernels with none and nothing in the cache: kernels no workload reached (none
    in a correct build). With ``jobs > 1`` the workloads after the synthetic economies run in
    up to ``jobs`` processes side by side (:data:`PARTS`), then every workload once more in
    this process, which loads what they compiled (and compiles what they lost)."""
    say = progress or (lambda line: None)
    start = time.perf_counter()
    found = kernels()
    with tempfile.TemporaryDirectory(prefix="gosplan-precompile-") as tmp, _large_paths():
        workloads = _workloads(Path(tmp))
        if jobs > 1:
            _run(workloads[:1], say)
            names = [n for n, _ in workloads]
            _side_by_side(Path(tmp), names, _parts(names, jobs), say)
            say("every workload again, loading what the parts compiled:")
        _run(workloads, say)
    found = kernels()
    missing = sorted(name for name, disp in found.items() if not disp.signatures and not _on_disk(disp))
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "kernels": len(found),
        "compiled": sum(len(disp.signatures) for disp in found.values()),
        "missing": missing,
    }


def _part(work: Path, only: list[int], say: Progress) -> None:
    """``--work DIR --only I,J``: run those workloads (by position) on the economies in ``DIR``."""
    with _large_paths():
        workloads = _workloads(work)
        unknown = [i for i in only if not 0 <= i < len(workloads)]
        if unknown:
            raise SystemExit(f"gosplan.precompile: no workload {unknown} (there are {len(workloads)})")
        _run([workloads[i] for i in only], say)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gosplan.precompile", description="Compile gosplan's numba kernels ahead of the first run and cache them.")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no line per workload")
    parser.add_argument("--jobs", type=int, default=None,
                        help="processes that compile side by side (default: the CPUs this process may use, at most 2)")
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)  # one part of --jobs (internal)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    say = None if args.quiet else (lambda line: print(f"gosplan.precompile: {line}", flush=True))
    if args.work is not None:
        _part(args.work, [int(i) for i in (args.only or "").split(",") if i], say or (lambda line: None))
        return 0
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        parser.error(f"--jobs must be at least 1, got {jobs}")
    summary = precompile(say, jobs=jobs)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"gosplan.precompile: {summary['kernels']} kernels, {summary['compiled']} specialisations "
              f"compiled (or loaded from the cache) in {summary['seconds']} s"
              + (f"; not reached: {', '.join(summary['missing'])}" if summary["missing"] else ""))
    return 0


def default_jobs() -> int:
    """The CPUs this process may use, at most the number of parts (2)."""
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, len(PARTS)))


if __name__ == "__main__":
    sys.exit(main())

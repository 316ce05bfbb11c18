#!/usr/bin/env python
"""Monitoring benchmark (issue 13): the Harrison-Stevens forecaster on injected changes and its
speed.

    python benchmarks/bench_monitoring.py                  # the figures of BENCHMARKS.md
    python benchmarks/bench_monitoring.py --series 500 --sizes 1000,10000

Rates: ``--series`` series of 120 periods (level uniform 10..1000, trend N(0, 0.5) per period,
noise N(0, 1) = sigma), default parameters, threshold 0.5. A change of ``size`` sigma at period
60: a step (level + size), a slope change (slope + size per period) or a transient (one
observation + size). Detected: the retrospective change probability ``1 - r(steady)`` reaches the
threshold in periods 60..64; delay: first such period - 60 (it is known one period later);
misclassified: the most probable change there is not the injected kind. False alarms: alerts
raised (a flag not flagged the period before) per series-period on the same series without a
change. Timing: ``forecast`` over S series x 120 periods, wall seconds and tracemalloc peak.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gosplan.monitoring import PROCESSES, forecast  # noqa: E402

T, T0, WINDOW = 120, 60, 5


def _series(rng: np.random.Generator, S: int) -> np.ndarray:
    level = rng.uniform(10, 1000, size=S)
    trend = rng.normal(0, 0.5, size=S)
    return level + trend * np.arange(T)[:, None] + rng.normal(size=(T, S))


def rates(S: int, seed: int) -> list[str]:
    rows = ["| kind | size (sigma) | detected | mean delay | misclassified | false alarms / series-period |", "|:---|---:|---:|---:|---:|---:|"]
    rng = np.random.default_rng(seed)
    Y = _series(rng, S)
    flag = 1 - forecast(Y).retrospective[:-1, :, 0] >= 0.5
    raised = flag & ~np.vstack([np.zeros((1, S), bool), flag[:-1]])
    rows.append(f"| none (steady) | - | - | - | - | {raised.mean():.4f} |")
    for kind in ("step", "slope", "transient"):
        for size in (1, 2, 3, 5):
            Z = Y.copy()
            if kind == "step":
                Z[T0:] += size
            elif kind == "slope":
                Z[T0:] += size * np.arange(1, T - T0 + 1)[:, None]
            else:
                Z[T0] += size
            R = forecast(Z).retrospective[T0 : T0 + WINDOW]
            hit = (1 - R[..., 0] >= 0.5)
            found = hit.any(axis=0)
            first = hit.argmax(axis=0)
            kinds = R[first, np.arange(S), 1:].argmax(axis=1) + 1
            wrong = (kinds[found] != PROCESSES.index(kind)).mean() if found.any() else float("nan")
            delay = first[found].mean() if found.any() else float("nan")
            rows.append(f"| {kind} | {size} | {found.mean():.3f} | {delay:.2f} | {wrong:.3f} | |")
    return rows


def timing(sizes: list[int], seed: int) -> list[str]:
    rows = ["| series x periods | seconds | seconds per series-period | peak memory (tracemalloc) | output arrays |", "|---:|---:|---:|---:|---:|"]
    for S in sizes:
        Y = _series(np.random.default_rng(seed), S)
        tracemalloc.start()
        t = time.perf_counter()
        F = forecast(Y)
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out = sum(a.nbytes for a in (F.probabilities, F.retrospective, F.forecast, F.sd, F.error, F.scale))
        rows.append(f"| {S:,} x {T} | {seconds:.2f} | {seconds / (S * T):.2e} | {peak / 1e6:,.0f} MB | {out / 1e6:,.0f} MB |")
        del F
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=4000, help="series per rate experiment")
    ap.add_argument("--sizes", default="1000,10000,100000", help="numbers of series to time")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), platform.processor())
    except OSError:
        model = platform.processor()
    import os

    print(f"{_dt.date.today()}, {model}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}")
    print()
    print("\n".join(rates(args.series, args.seed)))
    print()
    print("\n".join(timing([int(s) for s in args.sizes.split(",")], args.seed)))


if __name__ == "__main__":
    main()

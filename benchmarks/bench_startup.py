#!/usr/bin/env python
"""Start-up benchmark (issue 15, item 4): how long ``gosplan --help`` and friends take to answer.

    python benchmarks/bench_startup.py                                  # 10 runs of each case
    python benchmarks/bench_startup.py --compare /tmp/old/src --repeat 10 --markdown s.md --out s.json

Each case runs as a fresh process: ``gosplan --version``, ``gosplan --help``,
``gosplan plan --help`` (the console script next to ``--python``), ``python -c "import gosplan"``,
and, as the floor no start-up can beat, ``python -c pass`` (the bare interpreter). Wall seconds
run from the spawn to the exit (``os.wait4``); peak RSS is the child's own ``ru_maxrss``. Every
case runs once unmeasured (to warm the page cache and byte-code), then ``--repeat`` times; the
table gives the median and best of them.

``--compare SRC`` runs every case a second time with ``PYTHONPATH=SRC`` (e.g. the ``src`` of a
clone at an older commit: the console script then imports that gosplan) and adds the ratio
old / new. Runs of both interleave, so load on a shared machine hits both alike; the load
average before and after is recorded.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.3


def _cases(python: str) -> dict[str, list[str]]:
    script = str(Path(python).parent / "gosplan")
    return {
        "gosplan --version": [script, "--version"],
        "gosplan --help": [script, "--help"],
        "gosplan plan --help": [script, "plan", "--help"],
        'python -c "import gosplan"': [python, "-c", "import gosplan"],
        "python -c pass (floor)": [python, "-c", "pass"],
    }


def _run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one run of ``argv``; raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.strip()[-500:]}")
    return wall, usage.ru_maxrss / 1024.0  # Linux: KiB


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def _git_commit(src: str | None) -> str:
    where = Path(src).parent if src else ROOT
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "n/a"
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def measure(python: str, repeat: int, compare: str | None, bytecode: bool = True) -> dict[str, Any]:
    cases = _cases(python)
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GOSPLAN_DEBUG")}
    pyc = tempfile.TemporaryDirectory(prefix="gosplan-bench-startup-pyc-")
    if bytecode:
        base_env.pop("PYTHONDONTWRITEBYTECODE", None)
        base_env["PYTHONPYCACHEPREFIX"] = pyc.name
    else:
        base_env["PYTHONDONTWRITEBYTECODE"] = "1"
    sources: dict[str, dict[str, str]] = {"new": base_env}
    if compare:
        sources["old"] = {**base_env, "PYTHONPATH": compare}
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {(c, s): [] for c in cases for s in sources}
    load_before = _loadavg()
    with pyc:
        for case, argv in cases.items():  # one unmeasured run each
            for env in sources.values():
                _run_once(argv, env)
        for _ in range(repeat):
            for case, argv in cases.items():
                for source, env in sources.items():
                    samples[(case, source)].append(_run_once(argv, env))
    load_after = _loadavg()
    rows = []
    for case in cases:
        row: dict[str, Any] = {"case": case}
        for source in sources:
            walls = [w for w, _ in samples[(case, source)]]
            rss = [m for _, m in samples[(case, source)]]
            row[source] = {
                "median_s": statistics.median(walls), "best_s": min(walls), "worst_s": max(walls),
                "peak_rss_mib": statistics.median(rss), "walls_s": walls,
            }
        if "old" in row:
            row["old_over_new_median"] = row["old"]["median_s"] / row["new"]["median_s"]
            row["old_over_new_rss"] = row["old"]["peak_rss_mib"] / row["new"]["peak_rss_mib"]
        rows.append(row)
    return {
        "benchmark": "startup",
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": _git_commit(None),
        "compare_src": compare,
        "compare_commit": _git_commit(compare) if compare else None,
        "python": python,
        "python_version": platform.python_version(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "repeat": repeat,
        "bytecode": "cached (PYTHONPYCACHEPREFIX)" if bytecode else "none (compiled from source every run)",
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "target_s": TARGET_S,
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    compare = result["compare_src"] is not None
    lines = [
        f"Start-up, {result['repeat']} runs per case after one unmeasured run; commit {result['commit']}"
        + (f" against {result['compare_commit']} (`PYTHONPATH={result['compare_src']}`)" if compare else "")
        + f"; byte-code {result['bytecode']}; {result['date_utc']} UTC;"
        f" load {result['loadavg_before']} -> {result['loadavg_after']}.",
        "",
    ]
    if compare:
        lines += [
            "| case | before median s | before best s | before peak RSS MiB | after median s | after best s "
            "| after worst s | after peak RSS MiB | time before/after | RSS before/after |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["rows"]:
            o, n = r["old"], r["new"]
            lines.append(
                f"| {r['case']} | {o['median_s']:.3f} | {o['best_s']:.3f} | {o['peak_rss_mib']:.0f} | "
                f"{n['median_s']:.3f} | {n['best_s']:.3f} | {n['worst_s']:.3f} | {n['peak_rss_mib']:.0f} | "
                f"{r['old_over_new_median']:.1f}x | {r['old_over_new_rss']:.1f}x |"
            )
    else:
        lines += ["| case | median s | best s | worst s | peak RSS MiB |", "|---|---:|---:|---:|---:|"]
        for r in result["rows"]:
            n = r["new"]
            lines.append(
                f"| {r['case']} | {n['median_s']:.3f} | {n['best_s']:.3f} | {n['worst_s']:.3f} | {n['peak_rss_mib']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="interpreter (its gosplan console script runs too)")
    p.add_argument("--repeat", type=int, default=10, help="measured runs per case (default %(default)s)")
    p.add_argument("--compare", default=None, metavar="SRC",
                   help="also run every case with PYTHONPATH=SRC (an older gosplan's src) and give the ratios")
    p.add_argument("--no-bytecode", action="store_true",
                   help="compile every module from source on every run (no .pyc), as PYTHONDONTWRITEBYTECODE=1 does")
    p.add_argument("--markdown", default=None, help="also write the table as Markdown to this file")
    p.add_argument("--out", default=None, help="write the results as JSON to this file")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    result = measure(args.python, args.repeat, args.compare, bytecode=not args.no_bytecode)
    table = markdown(result)
    sys.stdout.write(table)
    if args.markdown:
        Path(args.markdown).write_text(table, encoding="utf-8")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

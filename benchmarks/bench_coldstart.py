#!/usr/bin/env python
"""Cold start benchmark (issue 15): the first ``gosplan`` run after an install against a warm one.

    python benchmarks/bench_coldstart.py                          # balance 1e6, plan 1e4, simulate 1e4
    python benchmarks/bench_coldstart.py --cases balance:1e4 --repeat 1 --markdown out.md --out out.json
    flock /tmp/s/heavy.lock python benchmarks/bench_coldstart.py  # runs at 1e6 on a shared machine

Each command runs as a separate process (``python -m gosplan ...``, the interpreter of this
script unless ``--python``). A *cold* run gets ``NUMBA_CACHE_DIR`` pointed at a new empty
directory, so numba finds no compiled kernel and compiles every one it needs (numba then reads
and writes only there, never ``__pycache__``); a *warm* run reuses the directory a cold run
filled, so every kernel loads from the cache. Columns: best wall seconds of ``--repeat`` cold
and warm runs (process start to exit, imports included), cold - warm, compile seconds (numba's
own ``numba:compile`` events in the cold run, outermost only, so nested compiles count once),
kernels compiled in the cold run and loaded from the cache in the warm one (the dispatchers'
``stats``), peak RSS of the cold and warm process (``wait4``). The reference is the warm run
itself: the target is cold - warm < 3 s at 10^6 products.

With ``--install precompiled,plain`` it measures what a user meets instead: for each variant a
new virtual environment gets ``pip install <this repository>`` (``precompiled``: the wheel
carries the kernels compiled at build time, ``build_backend/gosplan_build.py``; ``plain``:
``GOSPLAN_PRECOMPILE=0``, the kernels compile on first use), then each case runs twice with no
``NUMBA_CACHE_DIR`` (numba's cache in the installed package's ``__pycache__``, as after any
install): *first* - *second* is the first-run tax. Columns add the install's wall seconds.

Economies are synthetic (``gosplan synth``, seed 1) and written once under ``--data``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = "balance:1e6,plan:1e4,simulate:1e4"


# ----------------------------------------------------------------------------- child


def _child(stats_path: str, argv: list[str]) -> None:
    """Run ``gosplan argv`` in this process, recording numba's compile time and cache use."""
    from numba.core import event

    compile_s = [0.0]
    depth = [0]
    started = [0.0]
    per_kernel: dict[str, float] = {}

    class _Timer(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            if depth[0] == 0:
                started[0] = time.perf_counter()
            depth[0] += 1

        def on_end(self, ev: event.Event) -> None:
            depth[0] -= 1
            if depth[0] == 0:
                sec = time.perf_counter() - started[0]
                compile_s[0] += sec
                disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
                name = getattr(getattr(disp, "py_func", None), "__qualname__", "?")
                per_kernel[name] = per_kernel.get(name, 0.0) + sec

    event.register("numba:compile", _Timer())

    def _stats() -> None:
        from numba.core.registry import CPUDispatcher

        hits = misses = 0
        compiled: list[str] = []
        for name, mod in list(sys.modules.items()):
            if not name.startswith("gosplan") or mod is None:
                continue
            for attr, obj in list(vars(mod).items()):
                if isinstance(obj, CPUDispatcher) and obj.__module__ == name:
                    h = sum(obj.stats.cache_hits.values())
                    m = sum(obj.stats.cache_misses.values())
                    hits += h
                    misses += m
                    if m:
                        compiled.append(f"{name}.{attr}")
        Path(stats_path).write_text(
            json.dumps({"compile_s": compile_s[0], "compile_s_by_kernel": per_kernel, "cache_hits": hits, "cache_misses": misses, "compiled": compiled})
        )

    code = 0
    try:
        from gosplan.cli.app import main

        main(argv)
    except SystemExit as exc:  # click ends with sys.exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        _stats()
    sys.exit(code)


# ----------------------------------------------------------------------------- parent


def _size(text: str) -> int:
    return int(float(text))


def _economy(data: Path, n: int, households: bool, python: str) -> Path:
    out = data / (f"n{n}" + ("-hh" if households else ""))
    if not (out / "economy.toml").exists():
        cmd = [python, "-m", "gosplan", "synth", "-o", str(out), "-n", str(n), "--seed", "1", "--overwrite"]
        if households:
            cmd += ["--households", "20"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def _argv(command: str, economy: Path, outdir: Path) -> list[str]:
    if command == "balance":
        return ["balance", str(economy), "-o", str(outdir / "balance")]
    if command == "plan":
        return ["plan", str(economy), "-o", str(outdir / "plan")]
    if command == "plan-pdhg":  # PDHG's kernels; the limit must exceed the cold run's compilation,
        # or the warm run compiles the kernels the cold one never reached
        return ["plan", str(economy), "-m", "pdhg", "--tol", "1e-4", "--time-limit", "90",
                "-o", str(outdir / "plan")]
    if command == "simulate":
        return ["simulate", str(economy), "-o", str(outdir / "simulate"), "--periods", "2"]
    raise SystemExit(f"unknown command {command!r} in --cases (balance, plan, plan-pdhg, simulate)")


def _run(python: str, argv: list[str], cache_dir: Path | None, timeout: float) -> dict:
    """One ``gosplan`` process: wall seconds, peak RSS (MB), exit code, numba's stats.

    ``cache_dir=None``: numba's own cache location (no ``NUMBA_CACHE_DIR``)."""
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        stats = Path(tmp) / "stats.json"
        env = dict(os.environ)
        env.pop("NUMBA_CACHE_DIR", None)
        if cache_dir is not None:
            env["NUMBA_CACHE_DIR"] = str(cache_dir)
        out = Path(tmp) / "out"
        cmd = [python, str(Path(__file__).resolve()), "--child", str(stats), "--"] + _argv_out(argv, out)
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        finally:
            killer.cancel()
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
        rec = json.loads(stats.read_text()) if stats.exists() else {}
        rec.update(wall_s=wall, rss_mb=usage.ru_maxrss / 1024, code=proc.returncode)
        return rec


def _argv_out(argv: list[str], out: Path) -> list[str]:
    return [a.replace("{OUT}", str(out)) for a in argv]


def _install(variant: str, venv: Path, timeout: float) -> tuple[str, float]:
    """A new virtual environment with gosplan installed from this repository; (python, seconds)."""
    if variant not in ("precompiled", "plain"):
        raise SystemExit(f"unknown --install variant {variant!r} (precompiled, plain)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = dict(os.environ, GOSPLAN_PRECOMPILE="1" if variant == "precompiled" else "0",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("PYTHONPATH", None)
    t = time.perf_counter()
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(ROOT)], check=True,
                   env=env, timeout=timeout, stdout=subprocess.DEVNULL)
    return python, time.perf_counter() - t


def _install_rows(args: argparse.Namespace, data: Path) -> tuple[list[dict], list[dict]]:
    rows, records = [], []
    for variant in args.install.split(","):
        with tempfile.TemporaryDirectory(prefix=f"coldstart-{variant}-") as tmp:
            python, install_s = _install(variant, Path(tmp) / "venv", args.timeout)
            print(f"{variant}: pip install {install_s:.1f} s", flush=True)
            for spec in args.cases.split(","):
                command, size = spec.split(":")
                n = _size(size)
                economy = _economy(data, n, command == "simulate", args.python)
                argv = _argv(command, economy, Path("{OUT}"))
                first = _run(python, argv, None, args.timeout)
                second = _run(python, argv, None, args.timeout)
                row = {
                    "install": variant,
                    "pip install s": f"{install_s:.1f}",
                    "command": "gosplan " + " ".join(a for a in argv[:-2] if not a.startswith("/")),
                    "products": f"{n:,}",
                    "first run s": f"{first['wall_s']:.2f}",
                    "second run s": f"{second['wall_s']:.2f}",
                    "first - second s": f"{first['wall_s'] - second['wall_s']:.2f}",
                    "compile s (first)": f"{first.get('compile_s', float('nan')):.2f}",
                    "kernels compiled (first)": first.get("cache_misses", "-"),
                    "loaded from cache (first)": first.get("cache_hits", "-"),
                    "peak RSS MB first / second": f"{first['rss_mb']:.0f} / {second['rss_mb']:.0f}",
                }
                rows.append(row)
                records.append({"install": variant, "install_s": install_s, "command": command, "n": n,
                                "first": first, "second": second})
                print(" | ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    return rows, records


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--cases", default=CASES, help="command:size,... (balance, plan, plan-pdhg, simulate; default %(default)s)")
    p.add_argument("--repeat", type=int, default=2, help="cold and warm runs of each case; the best counts (default %(default)s)")
    p.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "gosplan-coldstart"),
                   help="directory of the synthetic economies (written once; default %(default)s)")
    p.add_argument("--python", default=sys.executable, help="interpreter whose gosplan runs (default: this one)")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run")
    p.add_argument("--install", default=None,
                   help="precompiled,plain: first run after pip install into a new venv (see above)")
    p.add_argument("--markdown", default=None, help="also write the table as Markdown to this file")
    p.add_argument("--out", default=None, help="write the results as JSON to this file")
    args, rest = p.parse_known_args()
    if args.child:
        _child(args.child, rest[1:] if rest[:1] == ["--"] else rest)
        return

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    head = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
            f"commit {commit or '?'}, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, load {load[0]:.2f}")
    print("# " + head, flush=True)
    rows, records = [], []
    specs = [] if args.install else args.cases.split(",")
    if args.install:
        rows, records = _install_rows(args, data)
    for spec in specs:
        command, size = spec.split(":")
        n = _size(size)
        economy = _economy(data, n, command == "simulate", args.python)
        argv = _argv(command, economy, Path("{OUT}"))
        cold, warm = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
                cold.append(_run(args.python, argv, Path(cache), args.timeout))
                warm.append(_run(args.python, argv, Path(cache), args.timeout))
        c = min(cold, key=lambda r: r["wall_s"])
        w = min(warm, key=lambda r: r["wall_s"])
        row = {
            "command": "gosplan " + " ".join(a for a in argv[:-2] if not a.startswith("/")),
            "products": f"{n:,}",
            "cold s": f"{c['wall_s']:.2f}",
            "warm s": f"{w['wall_s']:.2f}",
            "cold - warm s": f"{c['wall_s'] - w['wall_s']:.2f}",
            "compile s (cold)": f"{c.get('compile_s', float('nan')):.2f}",
            "kernels compiled (cold)": c.get("cache_misses", "-"),
            "loaded from cache (warm)": w.get("cache_hits", "-"),
            "compiled (warm)": w.get("cache_misses", "-"),
            "peak RSS MB cold / warm": f"{c['rss_mb']:.0f} / {w['rss_mb']:.0f}",
        }
        rows.append(row)
        records.append({"command": command, "n": n, "cold": cold, "warm": warm})
        print(" | ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    cols = list(rows[0])
    md = ["| " + " | ".join(cols) + " |", "|" + "|".join(":---" if c in ("command",) else "---:" for c in cols) + "|"]
    md += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    table = "\n".join(md)
    print()
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(f"{head}\n\n{table}\n")
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": head, "rows": rows, "runs": records}, indent=1))


if __name__ == "__main__":
    main()

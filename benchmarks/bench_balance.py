#!/usr/bin/env python
"""Material-balance benchmark: gosplan against scipy and pymrio, side by side, in one process.

    python benchmarks/bench_balance.py                      # full run (about 15-20 minutes)
    python benchmarks/bench_balance.py --quick              # n <= 10^4, a minute or two
    python benchmarks/bench_balance.py --sizes 1e3,1e5 --inputs 10 --out r.json --markdown r.md

What it measures (see benchmarks/README.md):

* the machine: CPU, cores, memory, and its memory bandwidth (a STREAM-like copy and
  triad with a numba parallel kernel on arrays far larger than the caches);
* synthetic economies written by ``gosplan.synth.write_synthetic`` to ``--data-dir``
  (reused when present) and read back with ``gosplan.io.directory.read_directory``
  (write and load seconds reported apart); for each, ``x`` with ``(I - A) x = y`` and
  labour values ``v`` with ``(I - A)^T v = l`` by gosplan (``auto`` and the other
  methods; also with every multiplier) and by scipy (``spsolve`` while a sparse LU
  still finishes, ``bicgstab``, ``gmres``); seconds, iterations, the relative residual
  ``||(I - A) z - b|| / ||b||`` recomputed here the same way for every solver, and the
  peak RSS increase of each case against the size of ``A`` itself;
* for each synthetic economy, the bandwidth bound of one sparse matrix-vector product
  and how close scipy's ``A @ x`` and gosplan's inner iteration come to it;
* pymrio's ``IOSystem.calc_all`` against ``gosplan.balance(..., multipliers=True)`` on
  dense random multi-regional tables (about 25 % nonzero) up to n = 8000;
* the bundled real tables: gosplan against a dense numpy solve and pymrio.

A failing case records its error and the run goes on; every case has a time limit.
Results go to a JSON file (``--out``) and, with ``--markdown``, to Markdown tables.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import math
import os
import platform
import resource
import select
import shlex
import signal
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as sla

REPO = Path(__file__).resolve().parent.parent
TOL = 1e-10
SEED = 20240601

# Issue targets.
TARGET_N, TARGET_K = 10_000_000, 10
TARGET_SECONDS = 10.0
TARGET_SPEEDUP = 2.0
TARGET_MEMORY = 3.0
TARGET_BANDWIDTH = 3.0
TARGET_BANDWIDTH_MIN_N = 1_000_000
TARGET_PYMRIO_N, TARGET_PYMRIO_SPEEDUP = 8000, 30.0


# ============================================================================ small helpers


def now() -> float:
    return time.perf_counter()


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 240 else text[:237] + "..."


def parse_sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def parse_floats(text: str) -> list[float]:
    return [float(s) for s in text.split(",") if s.strip()]


def fmt_n(n: float | None) -> str:
    if n is None:
        return "-"
    n = int(n)
    if n >= 1000 and n % 10 ** int(math.log10(n)) == 0:
        return f"1e{int(math.log10(n))}" if n // 10 ** int(math.log10(n)) == 1 else f"{n:,}"
    return f"{n:,}"


def fmt_s(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    if s >= 100:
        return f"{s:.0f}"
    if s >= 10:
        return f"{s:.1f}"
    if s >= 0.01:
        return f"{s:.3f}"
    return f"{s:.2g}"


def fmt_res(r: float | None) -> str:
    return "-" if r is None or not np.isfinite(r) else f"{r:.1e}"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(b) >= scale:
            return f"{b / scale:.2f} {unit}"
    return f"{b:.0f} B"


def fmt_x(r: float | None, digits: int = 1) -> str:
    if r is None or not np.isfinite(r):
        return "-"
    return f"{r:.{digits}f}x" if r >= 10 ** -digits * 5 or r == 0 else f"{r:.2g}x"


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ============================================================================ memory


def fix_malloc_thresholds() -> bool:
    """Make glibc return freed large blocks to the system at once (fixed mmap threshold
    of 128 kB, so the dynamic threshold does not climb to 32 MB and keep freed arrays in
    the heap): otherwise a case reusing memory freed by the previous one shows no RSS
    increase."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024))
    except Exception:  # noqa: BLE001
        return False


def _proc_status(field: str) -> int:
    """A ``kB`` field of /proc/self/status, in bytes (0 where unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss() -> int:
    return _proc_status("VmRSS")


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class MemoryWatch:
    """Peak RSS increase over a block, relative to the RSS just before it.

    A thread samples VmRSS from /proc/self/status every ``interval`` seconds; where the
    kernel allows it, the peak mark VmHWM is also reset at the start and read at the end,
    which catches peaks the sampler misses while a compiled kernel holds the GIL. The
    peak is the larger of the two.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.base = 0
        self.peak = 0
        self.increase = 0
        self.hwm = False
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            r = rss()
            if r > self.peak:
                self.peak = r

    def __enter__(self) -> "MemoryWatch":
        gc.collect()
        self.base = self.peak = rss()
        self.hwm = reset_peak()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(), _proc_status("VmHWM") if self.hwm else 0)
        self.increase = max(0, self.peak - self.base)


class _Null:
    increase = None

    def __enter__(self) -> "_Null":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


# ============================================================================ limits


class CaseTimeout(Exception):
    pass


def deadline(limit: float) -> Callable[..., None]:
    """A callback that raises :class:`CaseTimeout` once ``limit`` seconds have passed."""
    end = now() + limit

    def check(*_: Any) -> None:
        if now() > end:
            raise CaseTimeout(f"no result within the time limit of {limit:g} s")

    return check


def run_forked(fn: Callable[[], dict], timeout: float, mem_limit: float | None) -> dict:
    """Run ``fn`` in a forked child with a wall-clock and an address-space limit.

    Returns ``fn``'s dict plus ``peak_increase`` (the child's peak RSS over its RSS at
    the fork), or ``{"error": ...}``. Used for cases that cannot be interrupted from
    Python (a sparse LU), whose memory may explode.
    """
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process
        pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(r)
            if mem_limit:
                vm = _proc_status("VmSize")
                soft, hard = resource.getrlimit(resource.RLIMIT_AS)
                cap = int(vm + mem_limit)
                if hard != resource.RLIM_INFINITY:
                    cap = min(cap, hard)
                resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            base = rss()
            hwm = reset_peak()
            out = fn()
            peak = max(rss(), _proc_status("VmHWM") if hwm else 0)
            out["peak_increase"] = max(0, peak - base)
            payload = json.dumps(to_jsonable(out))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            payload = json.dumps({"error": error_text(exc)})
        try:
            data = payload.encode()
            while data:
                data = data[os.write(w, data):]
            os.close(w)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.close(w)
    chunks: list[bytes] = []
    end = now() + timeout
    timed_out = False
    while True:
        left = end - now()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([r], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(r)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"error": f"no result within the time limit of {timeout:g} s", "timeout": True}
    if os.WIFSIGNALED(status):
        return {"error": f"child killed by signal {os.WTERMSIG(status)} (out of memory?)"}
    try:
        return json.loads(b"".join(chunks).decode())
    except ValueError:
        return {"error": "child returned no result"}


# ============================================================================ machine


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, val = line.split(":", 1)
                if key in ("MemTotal", "MemAvailable"):
                    mem[key] = int(val.split()[0]) * 1024
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    import numba

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": _threading_layer(),
        "memory_total": mem.get("MemTotal"),
        "memory_available_at_start": mem.get("MemAvailable"),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
    }


def _threading_layer() -> str:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        return "(not yet chosen)"


def mem_available() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def versions() -> dict:
    import numba

    out = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
           "numba": numba.__version__}
    try:
        import gosplan

        out["gosplan"] = gosplan.__version__
    except Exception as exc:  # noqa: BLE001
        out["gosplan"] = error_text(exc)
    try:
        import pymrio

        out["pymrio"] = pymrio.__version__
    except Exception:  # noqa: BLE001
        out["pymrio"] = None
    try:
        import pandas

        out["pandas"] = pandas.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        import subprocess

        out["gosplan_commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip() or None
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        out["gosplan_src_modified"] = bool(dirty)
    except Exception:  # noqa: BLE001
        pass
    return out


# ============================================================================ bandwidth


def _stream_kernels():
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def fill(a, value):  # pragma: no cover - compiled
        for i in prange(a.size):
            a[i] = value

    @njit(parallel=True, cache=True)
    def copy(a, b):  # pragma: no cover - compiled
        for i in prange(a.size):
            a[i] = b[i]

    @njit(parallel=True, cache=True)
    def triad(a, b, c, s):  # pragma: no cover - compiled
        for i in prange(a.size):
            a[i] = b[i] + s * c[i]

    @njit(parallel=True, fastmath=True, cache=True)
    def read(a):  # pragma: no cover - compiled
        s = 0.0
        for i in prange(a.size):
            s += a[i]
        return s

    return fill, copy, triad, read


def measure_bandwidth(mb_per_array: int, repeats: int) -> dict:
    """STREAM-like copy (16 bytes per element) and triad (24 bytes per element), and a
    read-only sum (8 bytes per element), GB/s; best of ``repeats``; numba parallel
    kernels on first-touched arrays. Write-allocate traffic is not counted (STREAM's
    convention)."""
    fill, copy, triad, read = _stream_kernels()
    small = np.zeros(16)
    fill(small, 1.0), copy(small, small), triad(small, small, small, 3.0), read(small)  # compile
    n = mb_per_array * 1_000_000 // 8
    a, b, c = np.empty(n), np.empty(n), np.empty(n)
    fill(a, 0.0), fill(b, 1.0), fill(c, 2.0)
    best_copy = best_triad = best_read = np.inf
    for _ in range(repeats):
        t = now()
        copy(a, b)
        best_copy = min(best_copy, now() - t)
        t = now()
        triad(a, b, c, 3.0)
        best_triad = min(best_triad, now() - t)
        t = now()
        read(b)
        best_read = min(best_read, now() - t)
    del a, b, c
    gc.collect()
    return {
        "array_mb": mb_per_array,
        "repeats": repeats,
        "copy_gbs": 16 * n / best_copy / 1e9,
        "triad_gbs": 24 * n / best_triad / 1e9,
        "read_gbs": 8 * n / best_read / 1e9,
        "bound_uses": "triad",
    }


def _block_kernel():
    from numba import njit

    @njit(cache=True)
    def block_nnz(indptr, indices, comp, big):  # pragma: no cover - compiled
        """nnz of the diagonal block of component ``big``; nnz of all diagonal blocks of
        components flagged in ``large``... (here: of ``big`` only) and its rows."""
        nnz = 0
        rows = 0
        for i in range(indptr.size - 1):
            if comp[i] != big:
                continue
            rows += 1
            for k in range(indptr[i], indptr[i + 1]):
                if comp[indices[k]] == big:
                    nnz += 1
        return nnz, rows

    return block_nnz


def spmv_bytes(nnz: int, n: int, data_bytes: int = 8, index_bytes: int = 4, ptr_bytes: int = 8) -> int:
    """Bytes one ``y = M x`` must move at least: data + indices + indptr + x + y."""
    return nnz * (data_bytes + index_bytes) + (n + 1) * ptr_bytes + 16 * n


def matrix_bytes(A: sp.csr_array) -> int:
    return int(A.data.nbytes + A.indices.nbytes + A.indptr.nbytes)


def component_stats(A: sp.csr_array) -> dict:
    """The blocks gosplan's methods iterate on: the largest strongly connected
    component (``scc-*``) and the block ``R`` left after trimming (``trim-*``, where the
    solver has it); rows and nonzeros of each."""
    from gosplan.linalg.leontief import SMALL_COMPONENT, prepare

    block_nnz = _block_kernel()
    system = prepare(A)
    ncomp, comp, ptr, _members = system.components()
    sizes = np.diff(ptr)
    big = int(np.argmax(sizes))
    nnz_b, rows_b = block_nnz(system.A.indptr, system.A.indices, comp, big)
    large = sizes > SMALL_COMPONENT
    out = {
        "components": int(ncomp),
        "largest": int(sizes[big]),
        "largest_nnz": int(nnz_b),
        "large_components": int(large.sum()),
        "rows_in_large_components": int(sizes[large].sum()),
        "singletons": int((sizes == 1).sum()),
    }
    del comp, ptr, _members
    if hasattr(system, "levels"):
        level, nlevels, _ptr, _mem = system.levels()
        nnz_r, rows_r = block_nnz(system.A.indptr, system.A.indices, level, 0)
        out.update({"trim_levels": int(nlevels), "trim_rows": int(rows_r), "trim_nnz": int(nnz_r)})
    del system
    return out


def iterated_block(chosen: str, n: int, nnz: int, structure: dict) -> tuple[int, int, int] | None:
    """``(rows, nnz, sparse products per iteration)`` of the matrix a method iterates on."""
    inner = chosen.split("-")[-1]
    products = 2 if inner == "bicgstab" else 1  # BiCGSTAB: two products per iteration; GS/Jacobi: one sweep
    if chosen.startswith("scc-") and "largest_nnz" in structure:
        return structure["largest"], structure["largest_nnz"], products
    if chosen.startswith("trim-") and "trim_nnz" in structure:
        return structure["trim_rows"], structure["trim_nnz"], products
    if chosen == "bicgstab":
        return n, nnz, products
    return None


# ============================================================================ residuals


def residual(A: sp.csr_array, z: np.ndarray, b: np.ndarray, transpose: bool) -> float:
    """``||b - (I - M) z||_2 / ||b||_2`` with ``M = A`` or ``A^T``, the same for every solver."""
    if z is None or not np.all(np.isfinite(z)):
        return float("nan")
    Mz = (A.T @ z) if transpose else (A @ z)
    r = b - (z - Mz)
    nb = float(np.linalg.norm(b))
    return float(np.linalg.norm(r)) / (nb if nb > 0 else 1.0)


# ============================================================================ solvers


def gosplan_case(eco: Any, method: str, multipliers: bool, limit: float, repeat: int) -> dict:
    """``gosplan.balance`` (x and v; with ``multipliers`` every multiplier) timed whole."""
    import gosplan

    out: dict = {"solver": "gosplan", "method": method, "what": "x+v, all multipliers" if multipliers else "x+v"}
    best, kept, runs = np.inf, None, 0
    for rep in range(max(1, repeat)):
        stop = deadline(limit)
        gc.collect()
        with MemoryWatch() if rep == 0 else _Null() as mw:  # memory on the first run; time: best run
            t = now()
            res = gosplan.balance(eco, method=method, tol=TOL, multipliers=multipliers,
                                  progress=lambda *a: stop())
            dt = now() - t
        runs += 1
        if rep == 0:
            out["peak_increase"] = mw.increase
        if dt < best:
            best, kept = dt, res
        del res
        if best * (rep + 2) > 3.0:  # repeat only quick cases
            break
    res = kept
    out["seconds"] = best
    out["runs"] = runs
    info_x = res.solves[0]
    info_v = res.solves[1] if len(res.solves) > 1 else None
    out["chosen"] = info_x.method
    out["x_seconds"] = info_x.seconds
    out["x_iterations"] = info_x.iterations
    out["x_residual"] = residual(eco.A, res.gross_output, res.final_demand, False)
    out["gosplan_status"] = str(res.status.value)
    if info_v is not None:
        out["v_seconds"] = info_v.seconds
        out["v_iterations"] = info_v.iterations
        out["v_rhs"] = int(info_v.detail.get("right_hand_sides", 1))
        if res.labour_values is not None:
            out["v_residual"] = residual(eco.A, res.labour_values, eco.l, True)
        out["v_residual_gosplan_worst_rhs"] = info_v.relative_residual
        detail = info_v.detail
    else:
        detail = info_x.detail
    out["components"] = info_x.components
    out["largest_component"] = info_x.largest_component
    out["timings"] = {k: v for k, v in detail.items() if k not in ("right_hand_sides",)}
    out["check_seconds"] = (info_x.detail.get("check_seconds", 0.0)
                            + (info_v.detail.get("check_seconds", 0.0) if info_v else 0.0))
    out["solution"] = (res.gross_output, res.labour_values, res.primary_multipliers, res.output_multipliers)
    return out


def scipy_iterative_case(A: sp.csr_array, y: np.ndarray, l: np.ndarray, which: str, limit: float,
                         repeat: int) -> dict:
    """scipy ``bicgstab`` / ``gmres`` on ``I - A`` (CSR) for x and on ``(I - A)^T`` (CSR,
    built by ``.T.tocsr()``) for v; building the matrices is timed apart (setup)."""
    solver = {"bicgstab": sla.bicgstab, "gmres": sla.gmres}[which]
    out: dict = {"solver": "scipy", "method": which, "what": "x+v"}
    n = A.shape[0]
    for rep in range(max(1, repeat)):
        run: dict = {}
        with MemoryWatch() if rep == 0 else _Null() as mw:
            for part, rhs in (("x", y), ("v", l)):
                t = now()
                M = sp.csr_array(sp.identity(n, format="csr") - A)
                if part == "v":
                    M = sp.csr_array(M.T.tocsr())
                run[f"{part}_setup_seconds"] = now() - t
                its = [0]
                stop = deadline(limit)

                def cb(*_: Any) -> None:
                    its[0] += 1
                    stop()

                kw: dict = {"callback_type": "pr_norm"} if which == "gmres" else {}
                t = now()
                try:
                    z, info = solver(M, rhs, rtol=TOL, atol=0.0, x0=None, maxiter=100_000, callback=cb, **kw)
                except CaseTimeout as exc:
                    run[f"{part}_seconds"] = now() - t
                    run[f"{part}_iterations"] = its[0]
                    run["error"] = f"{part}: {exc}"
                    break
                run[f"{part}_seconds"] = now() - t
                run[f"{part}_iterations"] = its[0]
                run[f"{part}_info"] = int(info)
                del M
                run[f"{part}_residual"] = residual(A, z, rhs, part == "v")
                if info != 0:
                    run["error"] = f"{part}: scipy info = {info} (not converged)"
                del z
        if rep == 0:
            out["peak_increase"] = mw.increase
        if "error" in run:
            out.update(run)
            return out
        run["seconds"] = run["x_seconds"] + run["v_seconds"]
        if "seconds" not in out or run["seconds"] < out["seconds"]:
            out.update(run)
        out["runs"] = rep + 1
        if out["seconds"] * (rep + 2) > 3.0:
            break
    return out


def spsolve_case(A: sp.csr_array, y: np.ndarray, l: np.ndarray, limit: float, mem_limit: float) -> dict:
    """scipy ``spsolve`` (SuperLU) on ``I - A`` and its transpose, in a forked child."""

    def child() -> dict:
        n = A.shape[0]
        res: dict = {}
        t = now()
        M = sp.csr_array(sp.identity(n, format="csr") - A)
        res["x_setup_seconds"] = now() - t
        t = now()
        x = sla.spsolve(M, y)
        res["x_seconds"] = now() - t
        res["x_residual"] = residual(A, x, y, False)
        del x
        t = now()
        v = sla.spsolve(M.T, l)  # CSC of (I - A)^T: no copy
        res["v_seconds"] = now() - t
        res["v_residual"] = residual(A, v, l, True)
        res["x_iterations"] = res["v_iterations"] = 1
        res["seconds"] = res["x_seconds"] + res["v_seconds"]
        return res

    out = {"solver": "scipy", "method": "spsolve", "what": "x+v"}
    got = run_forked(child, limit, mem_limit)
    if "error" in got and got.get("timeout"):
        got["error"] = f"fill-in: sparse LU gave no result within {limit:g} s"
    elif "error" in got and ("Memory" in got["error"] or "memory" in got["error"]):
        got["error"] = f"fill-in: {got['error']}"
    out.update(got)
    return out


def spmv_seconds(A: sp.csr_array, repeats: int = 5) -> float:
    x = np.random.default_rng(0).random(A.shape[0])
    A @ x
    best = np.inf
    total = 0.0
    for _ in range(repeats):
        t = now()
        A @ x
        dt = now() - t
        best = min(best, dt)
        total += dt
        if total > 5.0:
            break
    return best


# ============================================================================ warm-up


def warm_up() -> float:
    """Compile gosplan's kernels (every method, x and values, one and several right-hand
    sides, the residual kernel for n > 50 000) before anything is timed."""
    import gosplan
    from gosplan.synth import generate

    from gosplan.linalg import leontief

    t = now()
    methods = getattr(leontief, "METHODS", ("auto", "dense", "scc-gs", "scc-jacobi", "scc-bicgstab"))
    for n in (1000, 60_000):
        eco = generate(n, 10, seed=1)
        for method in methods:
            if method == "dense" and n > leontief.DENSE_MAX:
                continue
            for mult in (False, True):
                gosplan.balance(eco, method=method, tol=TOL, multipliers=mult)
    _block_kernel()(np.zeros(2, np.int64), np.zeros(0, np.int32), np.zeros(1, np.int32), 0)
    return now() - t


# ============================================================================ synthetic economies


def synthetic_path(data_dir: Path, n: int, k: float, seed: int) -> Path:
    return data_dir / f"synth-n{n}-k{k:g}-seed{seed}"


def ensure_synthetic(data_dir: Path, n: int, k: float, seed: int) -> tuple[Path, float | None]:
    from gosplan.synth import write_synthetic

    path = synthetic_path(data_dir, n, k, seed)
    if (path / "economy.toml").exists():
        return path, None
    data_dir.mkdir(parents=True, exist_ok=True)
    t = now()
    write_synthetic(path, n, inputs=k, seed=seed, format="parquet", overwrite=True)
    return path, now() - t


def estimated_bytes(n: int, k: float) -> float:
    """Rough peak of one synthetic economy's run (load: COO arrays and CSR; scipy: A and
    I - A; labels, demand, primary)."""
    nnz = n * k
    return nnz * 40 + n * 300  # measured peaks: 7.2 GB at n = 1e7, K = 10; 13.6 GB at K = 30


def bench_synthetic(n: int, k: float, args: argparse.Namespace, bw: dict, record: Callable[[], None],
                    economies: list) -> None:
    from gosplan.io.directory import read_directory
    from gosplan.linalg.leontief import DENSE_MAX

    name = f"synth n={fmt_n(n)} K={k:g}"
    entry: dict = {"name": name, "n": n, "K": k, "seed": args.seed, "cases": [], "load_average": os.getloadavg()}
    economies.append(entry)
    need = estimated_bytes(n, k)
    avail = mem_available()
    if need > 0.85 * avail and not args.force:
        entry["error"] = (f"skipped: needs about {fmt_bytes(need)}, {fmt_bytes(avail)} available "
                          "(--force to run anyway)")
        say(f"  {name}: {entry['error']}")
        record()
        return
    say(f"\n== {name}")
    try:
        path, write_s = ensure_synthetic(Path(args.data_dir), n, k, args.seed)
        entry["path"] = str(path)
        entry["write_seconds"] = write_s
        gc.collect()
        with MemoryWatch() as mw:
            t = now()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                eco = read_directory(path)
            entry["load_seconds"] = now() - t
            t = now()
            A, y, l = eco.A, eco.y, eco.l
            entry["derive_seconds"] = now() - t
        entry["load_peak_increase"] = mw.increase
        entry["rss_after_load"] = rss()
    except Exception as exc:  # noqa: BLE001
        entry["error"] = f"load: {error_text(exc)}"
        say(f"  {entry['error']}")
        record()
        return
    entry["nnz"] = int(A.nnz)
    entry["matrix_bytes"] = matrix_bytes(A)
    say(f"  written in {fmt_s(write_s) if write_s is not None else '(reused)'} s, loaded in "
        f"{fmt_s(entry['load_seconds'])} s; nnz {A.nnz:,}, A {fmt_bytes(entry['matrix_bytes'])}")
    try:
        st = entry["structure"] = component_stats(A)
        say(f"  components {st['components']:,}, largest {st['largest']:,} ({st['largest_nnz']:,} nnz)"
            + (f"; after trimming ({st['trim_levels']} levels) R: {st['trim_rows']:,} ({st['trim_nnz']:,} nnz)"
               if "trim_rows" in st else ""))
    except Exception as exc:  # noqa: BLE001
        entry["structure"] = {"error": error_text(exc)}
    gc.collect()

    def add(case: dict) -> dict:
        case.pop("solution", None)
        if case.get("peak_increase") is not None:
            case["memory_ratio"] = case["peak_increase"] / entry["matrix_bytes"]
        entry["cases"].append(case)
        show_case(case)
        record()
        return case

    # gosplan: auto first, then the other methods (the one auto picked is not run twice)
    from gosplan.linalg import leontief

    known = list(getattr(leontief, "METHODS", ("auto", "dense", "scc-gs", "scc-jacobi", "scc-bicgstab")))
    methods = known if args.methods == "all" else [m for m in args.methods.split(",") if m]
    methods = ["auto"] + [m for m in methods if m != "auto" and not (m == "dense" and n > DENSE_MAX)]
    if A.nnz > args.methods_max_nnz:
        methods = ["auto"]
        entry["note"] = f"nnz > {args.methods_max_nnz:.3g}: method auto only (--methods-max-nnz)"
    auto_chose = None
    for method in methods:
        if method == auto_chose:
            continue
        try:
            case = gosplan_case(eco, method, False, args.time_limit, args.repeat)
            if method == "auto":
                auto_chose = case.get("chosen")
        except Exception as exc:  # noqa: BLE001
            case = {"solver": "gosplan", "method": method, "what": "x+v", "error": error_text(exc)}
        add(case)
    try:
        case = gosplan_case(eco, "auto", True, args.time_limit, args.repeat)
    except Exception as exc:  # noqa: BLE001
        case = {"solver": "gosplan", "method": "auto", "what": "x+v, all multipliers", "error": error_text(exc)}
    add(case)

    # scipy
    if n <= args.spsolve_max:
        add(spsolve_case(A, y, l, args.spsolve_limit, args.spsolve_mem_gb * 1e9))
    else:
        add({"solver": "scipy", "method": "spsolve", "what": "x+v",
             "error": f"fill-in: not run for n > {fmt_n(args.spsolve_max)}", "skipped": True})
    for which in ("bicgstab", "gmres"):
        try:
            case = scipy_iterative_case(A, y, l, which, args.time_limit, args.repeat)
        except Exception as exc:  # noqa: BLE001
            case = {"solver": "scipy", "method": which, "what": "x+v", "error": error_text(exc)}
        add(case)

    # bandwidth: scipy's A @ x and gosplan's inner iterations against the bound
    try:
        gbs = bw["triad_gbs"] * 1e9
        full = spmv_bytes(A.nnz, n, A.data.itemsize, A.indices.itemsize, A.indptr.itemsize)
        t_spmv = spmv_seconds(A, 5 if n < 10**6 else 3)
        band: dict = {"spmv_bytes": full, "bound_seconds": full / gbs, "scipy_spmv_seconds": t_spmv,
                      "scipy_spmv_ratio": t_spmv / (full / gbs), "gosplan": []}
        for c in entry["cases"]:
            if c["solver"] != "gosplan" or c["what"] != "x+v" or "error" in c:
                continue
            blk = iterated_block(c.get("chosen", ""), n, A.nnz, entry.get("structure", {}))
            if blk is None:
                continue
            rows, nnz_b, products = blk
            bound = products * spmv_bytes(nnz_b, rows) / gbs
            row = {"method": c["method"], "chosen": c.get("chosen"), "rows": rows, "nnz": nnz_b,
                   "products_per_iteration": products, "bound_seconds": bound}
            for part, key in (("x", "x"), ("v", "values")):
                its = c.get(f"{part}_iterations") or 0
                it_s = c.get("timings", {}).get(f"{key}_iterate")
                if its and it_s:
                    row[f"{part}_iteration_seconds"] = it_s / its
                    row[f"{part}_ratio"] = it_s / its / bound
            band["gosplan"].append(row)
        entry["bandwidth"] = band
    except Exception as exc:  # noqa: BLE001
        entry["bandwidth"] = {"error": error_text(exc)}
    record()
    del eco, A, y, l
    gc.collect()


# ============================================================================ in place and several right-hand sides (issue 15)


def _linalg_xv(A: sp.csr_array, y: np.ndarray, l: np.ndarray, share: float) -> dict:
    """x and labour values by ``trim-bicgstab`` with ``inplace_share = share``, one fresh
    prepared system for both (as ``balance`` does)."""
    from gosplan.linalg.leontief import prepare, solve

    out: dict = {"solver": "gosplan", "inplace_share": share}
    gc.collect()
    with MemoryWatch() as mw:
        t = now()
        system = prepare(A)
        x, ix = solve(system, y, method="trim-bicgstab", tol=TOL, inplace_share=share, verify_productive=False)
        v, iv = solve(system, l, transpose=True, method="trim-bicgstab", tol=TOL, inplace_share=share)
        out["seconds"] = now() - t
    out["peak_increase"] = mw.increase
    out["method"] = "trim-bicgstab " + ("x in place" if ix.detail.get("x_inplace") else "copy of R")
    _xv_figures(out, A, y, l, x, ix, v, iv)
    del system, x, v
    return out


def _xv_figures(out: dict, A: sp.csr_array, y: np.ndarray, l: np.ndarray, x: np.ndarray, ix: Any, v: np.ndarray,
                iv: Any) -> None:
    """Seconds, iterations, residuals (recomputed here) and gosplan's timings of an x-and-v case."""
    out["x_seconds"], out["v_seconds"] = ix.seconds, iv.seconds
    out["x_iterations"], out["v_iterations"] = ix.iterations, iv.iterations
    out["x_residual"] = residual(A, x, y, False)
    out["v_residual"] = residual(A, v, l, True)
    out["check_seconds"] = ix.detail["check_seconds"] + iv.detail["check_seconds"]
    out["timings"] = {k: val for k, val in iv.detail.items() if k != "right_hand_sides"}


def _linalg_both(A: sp.csr_array, y: np.ndarray, l: np.ndarray) -> dict:
    """x and labour values iterated together (``solve_both``: what ``balance(multipliers=False)``
    runs), one fresh prepared system."""
    from gosplan.linalg.both import solve_both
    from gosplan.linalg.leontief import prepare

    out: dict = {"solver": "gosplan", "method": "trim-bicgstab, x and v together (solve_both)"}
    gc.collect()
    with MemoryWatch() as mw:
        t = now()
        x, ix, v, iv = solve_both(prepare(A), y, l, tol=TOL)
        out["seconds"] = now() - t
    out["peak_increase"] = mw.increase
    if not ix.detail.get("iterated_together"):
        out["method"] = "solve_both, fell back to single solves"
    _xv_figures(out, A, y, l, x, ix, v, iv)
    del x, v
    return out


def _linalg_multi(A: sp.csr_array, y: np.ndarray, B: np.ndarray) -> list[dict]:
    """The values system with ``k`` right-hand sides: one block solve against ``k``
    one-column solves (same prepared system, gross output solved first as in
    ``balance``), then scipy ``bicgstab`` once per column on ``(I - A)^T``."""
    from gosplan.linalg.leontief import prepare, solve

    k = B.shape[1]
    system = prepare(A)
    solve(system, y, method="auto", tol=TOL, verify_productive=False)
    cases = []
    gc.collect()
    with MemoryWatch() as mw:
        t = now()
        V, info = solve(system, B, transpose=True, method="auto", tol=TOL)
        dt = now() - t
    worst = max(residual(A, V[:, q], B[:, q], True) for q in range(k))
    cases.append({"solver": "gosplan", "method": f"block BiCGSTAB, {k} columns together", "seconds": dt,
                  "iterations": info.iterations, "residual": worst, "peak_increase": mw.increase,
                  "check_seconds": info.detail["check_seconds"]})
    del V
    gc.collect()
    with MemoryWatch() as mw:
        t = now()
        its, worst, check = 0, 0.0, 0.0
        for q in range(k):
            vq, iq = solve(system, B[:, q], transpose=True, method="auto", tol=TOL)
            its = max(its, iq.iterations)
            check += iq.detail["check_seconds"]
            worst = max(worst, residual(A, vq, B[:, q], True))
            del vq
        dt = now() - t
    cases.append({"solver": "gosplan", "method": f"{k} one-column solves", "seconds": dt, "iterations": its,
                  "residual": worst, "peak_increase": mw.increase, "check_seconds": check})
    del system
    gc.collect()
    n = A.shape[0]
    with MemoryWatch() as mw:
        t = now()
        MT = sp.csr_array((sp.identity(n, format="csr") - A).T.tocsr())
        setup = now() - t
        t = now()
        its, worst = 0, 0.0
        for q in range(k):
            count = [0]
            z, flag = sla.bicgstab(MT, B[:, q], rtol=TOL, atol=0.0, maxiter=100_000,
                                   callback=lambda *_: count.__setitem__(0, count[0] + 1))
            its = max(its, count[0])
            worst = max(worst, residual(A, z, B[:, q], True))
        dt = now() - t
    del MT
    cases.append({"solver": "scipy", "method": f"bicgstab, {k} solves", "seconds": dt, "setup_seconds": setup,
                  "iterations": its, "residual": worst, "peak_increase": mw.increase})
    return cases


def bench_linalg(n: int, k: float, args: argparse.Namespace, record: Callable[[], None], entries: list) -> None:
    """``--focus linalg``: ``R`` in place against its copy and scipy (x and v), and the
    values system with every multiplier's right-hand side at once against one by one."""
    from gosplan.io.directory import read_directory
    from gosplan.linalg.inplace import rows_share
    from gosplan.linalg.leontief import INPLACE_SHARE, prepare

    name = f"synth n={fmt_n(n)} K={k:g}"
    entry: dict = {"name": name, "n": n, "K": k, "cases": [], "multi": [],
                   "load_average": os.getloadavg()}
    entries.append(entry)
    say(f"\n== {name} (load average {' '.join(f'{x:.2f}' for x in entry['load_average'])})")
    path, write_s = ensure_synthetic(Path(args.data_dir), n, k, args.seed)
    t = now()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eco = read_directory(path)
    A, y, l = eco.A, eco.y, eco.l
    entry["load_seconds"] = now() - t
    entry["nnz"] = int(A.nnz)
    entry["matrix_bytes"] = matrix_bytes(A)
    system = prepare(A)
    level, nlevels, ptr, members = system.levels()
    rows = members[ptr[0] : ptr[1]]
    entry["R_rows"] = int(len(rows))
    entry["R_share"] = rows_share(system.A.indptr, rows)
    entry["inplace_share"] = INPLACE_SHARE
    del system, level, ptr, members, rows
    say(f"  loaded in {fmt_s(entry['load_seconds'])} s; nnz {A.nnz:,}; R: {entry['R_rows']:,} products, "
        f"{entry['R_share']:.1%} of the coefficients in R's rows (auto in place from {INPLACE_SHARE:.0%})")

    def add(case: dict, key: str = "cases") -> None:
        if case.get("peak_increase") is not None:
            case["memory_ratio"] = case["peak_increase"] / entry["matrix_bytes"]
        entry[key].append(case)
        say("  " + ", ".join(f"{kk} {fmt_s(v) if isinstance(v, float) and kk.endswith('seconds') else v}"
                             for kk, v in case.items() if kk != "timings"))
        record()

    if args.linalg_parts in ("all", "xv"):
        for share in (0.0, 2.0):
            try:
                add(_linalg_xv(A, y, l, share))
            except Exception as exc:  # noqa: BLE001
                add({"solver": "gosplan", "inplace_share": share, "error": error_text(exc)})
        try:
            add(_linalg_both(A, y, l))
        except Exception as exc:  # noqa: BLE001
            add({"solver": "gosplan", "method": "solve_both", "error": error_text(exc)})
        try:
            add(scipy_iterative_case(A, y, l, "bicgstab", args.time_limit, 1))
        except Exception as exc:  # noqa: BLE001
            add({"solver": "scipy", "method": "bicgstab", "error": error_text(exc)})
    if args.linalg_parts in ("all", "multi"):
        P = eco.primary_coefficients
        B = np.ascontiguousarray(np.column_stack([*(P[q] for q in range(P.shape[0])), np.ones(n)]))
        try:
            for case in _linalg_multi(A, y, B):
                add(case, "multi")
        except Exception as exc:  # noqa: BLE001
            add({"solver": "gosplan", "error": error_text(exc)}, "multi")
        import gosplan

        for method in ("auto",):
            gc.collect()
            with MemoryWatch() as mw:
                t = now()
                res = gosplan.balance(eco, method=method, tol=TOL, multipliers=True)
                dt = now() - t
            add({"solver": "gosplan", "method": "balance(multipliers=True), x and every multiplier",
                 "seconds": dt, "iterations": max(s.iterations for s in res.solves),
                 "residual": max(s.relative_residual for s in res.solves), "peak_increase": mw.increase}, "multi")
            del res
    entry["load_average_at_end"] = os.getloadavg()
    record()
    del eco, A, y, l
    gc.collect()


def linalg_tables(entries: list) -> list[Table]:
    t1 = Table("x and labour values to 1e-10: R in place, R copied, both iterated together, scipy (seconds)",
               ["economy", "R share", "solver", "x+v s", "x s / it", "v s / it", "x res", "v res",
                "check s", "peak +RSS / A", "scipy / this"])
    t2 = Table("values system with every multiplier's right-hand side (seconds)",
               ["economy", "solver", "seconds", "iterations", "worst residual", "peak +RSS / A", "vs gosplan block"])
    for e in entries:
        ref = next((c.get("seconds") for c in e["cases"] if c.get("solver") == "scipy"), None)
        for c in e["cases"]:
            if "error" in c:
                t1.add(e["name"], "", f"{c['solver']} {c.get('method', '')}", c["error"], *[""] * 7)
                continue
            t1.add(e["name"], f"{e.get('R_share', float('nan')):.1%}", f"{c['solver']} {c.get('method', '')}",
                   fmt_s(c.get("seconds")), f"{fmt_s(c.get('x_seconds'))} / {c.get('x_iterations')}",
                   f"{fmt_s(c.get('v_seconds'))} / {c.get('v_iterations')}", fmt_res(c.get("x_residual")),
                   fmt_res(c.get("v_residual")), fmt_s(c.get("check_seconds")), fmt_x(c.get("memory_ratio"), 2),
                   fmt_x(ref / c["seconds"], 2) if ref and c.get("seconds") else "")
        block = next((c.get("seconds") for c in e["multi"] if c.get("method", "").startswith("block")), None)
        for c in e["multi"]:
            if "error" in c:
                t2.add(e["name"], c["solver"], c["error"], *[""] * 4)
                continue
            t2.add(e["name"], f"{c['solver']} {c.get('method', '')}", fmt_s(c.get("seconds")), c.get("iterations"),
                   fmt_res(c.get("residual")), fmt_x(c.get("memory_ratio"), 2),
                   fmt_x(c["seconds"] / block, 2) if block else "")
    return [t1, t2]


# ============================================================================ pymrio comparison


def dense_mrio(n: int, density: float, seed: int, regions: int) -> dict:
    """A productive multi-regional table with ``density`` nonzeros: random pattern,
    lognormal magnitudes, column sums (intermediate input shares) uniform in [0.3, 0.7]
    (so the spectral radius is below 0.7); final demand split over regions."""
    rng = np.random.default_rng([seed, n])
    A = rng.lognormal(0.0, 1.0, (n, n))
    A *= rng.random((n, n)) < density
    colsum = A.sum(axis=0)
    colsum[colsum == 0] = 1.0
    A *= rng.uniform(0.3, 0.7, n) / colsum
    Y = rng.lognormal(0.0, 1.0, (n, regions)) * (rng.random((n, regions)) < 0.7)
    l = rng.uniform(0.05, 0.5, n)
    return {"A": A, "Y": Y, "y": Y.sum(axis=1), "l": l}


def pymrio_system(A: np.ndarray, Y: np.ndarray, x: np.ndarray, F: np.ndarray, regions: list[str],
                  sectors: list[str], stressors: list[str]) -> Any:
    """``pymrio.IOSystem`` with ``Z = A diag(x)``, ``Y``, ``x`` and factor inputs ``F``."""
    import pandas as pd
    import pymrio

    idx = pd.MultiIndex.from_product([regions, sectors], names=["region", "sector"])
    ncat = Y.shape[1] // len(regions)
    ycols = pd.MultiIndex.from_product([regions, [f"fd{c}" for c in range(ncat)]], names=["region", "category"])
    Z = pd.DataFrame(A * x[None, :], index=idx, columns=idx)
    Ydf = pd.DataFrame(Y, index=idx, columns=ycols)
    xdf = pd.DataFrame(x, index=idx, columns=["indout"])
    Fdf = pd.DataFrame(F, index=pd.Index(stressors, name="inputtype"), columns=idx)
    unit = pd.DataFrame({"unit": ["-"] * len(stressors)}, index=Fdf.index)
    return pymrio.IOSystem(Z=Z, Y=Ydf, x=xdf, factor_inputs={"name": "factor_inputs", "F": Fdf, "unit": unit})


def pymrio_calc_all(build: Callable[[], Any], limit: float, repeat: int) -> tuple[dict, Any]:
    """``build()`` (an IOSystem; timed apart as setup), then ``calc_all()`` timed, memory
    watched on the first run; best of up to ``repeat`` runs under a second. In process:
    pymrio has no callback, so the time limit is only checked afterwards."""
    out = {"solver": "pymrio", "method": "calc_all", "what": "x, L, M (all multipliers), accounts"}
    for rep in range(max(1, repeat)):
        t = now()
        io = build()
        setup = now() - t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with MemoryWatch() if rep == 0 else _Null() as mw:
                t = now()
                io.calc_all()
                dt = now() - t
        if rep == 0:
            out["peak_increase"] = mw.increase
        if "seconds" not in out or dt < out["seconds"]:
            out["seconds"], out["setup_seconds"] = dt, setup
        out["runs"] = rep + 1
        if dt > limit:
            out["note"] = f"over the time limit of {limit:g} s"
        if out["seconds"] * (rep + 2) > 3.0:
            break
        if rep + 1 < repeat:
            del io
            gc.collect()
    return out, io


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def bench_pymrio(n: int, args: argparse.Namespace, record: Callable[[], None], rows: list) -> None:
    import gosplan
    from gosplan.linalg.leontief import DENSE_MAX

    entry: dict = {"name": f"dense MRIO n={n:,}", "n": n, "density": args.pymrio_density, "cases": [],
                   "load_average": os.getloadavg()}
    rows.append(entry)
    say(f"\n== {entry['name']} ({args.pymrio_density:.0%} nonzero)")
    try:
        regions = 20 if n % 20 == 0 else 1
        data = dense_mrio(n, args.pymrio_density, args.seed, regions)
        A, Y, y, l = data["A"], data["Y"], data["y"], data["l"]
        As = sp.csr_array(A)
        entry["nnz"] = int(As.nnz)
        entry["matrix_bytes"] = matrix_bytes(As)
        entry["regions"] = regions
        eco = gosplan.Economy.from_coefficients(As, y=y, l=l)
        eco.A, eco.l  # noqa: B018 - derive outside the timed region
    except Exception as exc:  # noqa: BLE001
        entry["error"] = f"setup: {error_text(exc)}"
        say(f"  {entry['error']}")
        record()
        return

    def add(case: dict) -> None:
        case.pop("solution", None)
        if case.get("peak_increase") is not None:
            case["memory_ratio"] = case["peak_increase"] / entry["matrix_bytes"]
        entry["cases"].append(case)
        show_case(case)
        record()

    solutions = {}
    methods = ["auto", "scc-gs" if n <= DENSE_MAX else "dense"]
    for method in methods:
        try:
            case = gosplan_case(eco, method, True, args.time_limit, args.repeat)
            solutions[method] = case["solution"]
        except Exception as exc:  # noqa: BLE001
            case = {"solver": "gosplan", "method": method, "what": "x+v, all multipliers", "error": error_text(exc)}
        add(case)
    try:
        sol = solutions.get("auto")
        x = sol[0] if sol is not None else np.linalg.solve(np.eye(n) - A, y)
        case, io = pymrio_calc_all(
            lambda A=A, Y=Y: pymrio_system(A, Y, x, (l * x)[None, :], [f"R{r:02d}" for r in range(regions)],
                                  [f"s{s}" for s in range(n // regions)], ["labour"]),
            args.time_limit, args.repeat)
        M = io.factor_inputs.M.to_numpy()[0]
        out_mult = io.L.to_numpy().sum(axis=0)
        case["v_residual"] = residual(As, M, l, True)
        if sol is not None:
            case["agreement"] = {"labour_multipliers": rel_diff(sol[1], M),
                                 "output_multipliers": rel_diff(sol[3], out_mult)}
        del io, M, out_mult
    except Exception as exc:  # noqa: BLE001
        case = {"solver": "pymrio", "method": "calc_all", "what": "x, L, M, accounts", "error": error_text(exc)}
    add(case)
    g = next((c for c in entry["cases"] if c["solver"] == "gosplan" and c["method"] == "auto" and "error" not in c), None)
    p = next((c for c in entry["cases"] if c["solver"] == "pymrio" and "error" not in c), None)
    if g and p:
        entry["pymrio_over_gosplan"] = p["seconds"] / g["seconds"]
        say(f"  pymrio / gosplan = {entry['pymrio_over_gosplan']:.1f}")
    record()
    del data, A, Y, As, eco, solutions
    gc.collect()


# ============================================================================ real tables


def bench_real(name: str, args: argparse.Namespace, record: Callable[[], None], rows: list) -> None:
    import gosplan

    entry: dict = {"name": name, "cases": []}
    rows.append(entry)
    say(f"\n== {name}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = now()
            eco = gosplan.load(name)
            entry["load_seconds"] = now() - t
            A = eco.A
            y = eco.y
            P = eco.primary_coefficients
        n = A.shape[0]
        entry["n"] = n
        entry["nnz"] = int(A.nnz)
        entry["matrix_bytes"] = matrix_bytes(A)
        entry["resources"] = [str(r) for r in eco.resources]
        entry["labour"] = eco.labour
    except Exception as exc:  # noqa: BLE001
        entry["error"] = f"load: {error_text(exc)}"
        say(f"  {entry['error']}")
        record()
        return
    has_labour = eco.labour is not None
    if not has_labour and len(eco.resources):
        import dataclasses

        eco = dataclasses.replace(eco, labour=eco.resources[0])  # v: multipliers of the first resource
    lk = eco.resources.get_loc(eco.labour) if eco.labour is not None else 0
    l = P[lk] if len(P) else np.zeros(n)
    entry["v_row"] = str(eco.resources[lk]) if len(P) else None

    def add(case: dict) -> None:
        case.pop("solution", None)
        if case.get("peak_increase") is not None:
            case["memory_ratio"] = case["peak_increase"] / entry["matrix_bytes"]
        entry["cases"].append(case)
        show_case(case)
        record()

    sols = {}
    for method, mult in (("auto", False), ("auto", True), ("scc-gs", False)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                case = gosplan_case(eco, method, mult, args.time_limit, args.repeat)
            if not has_labour:
                case["note"] = f"no labour row: v = multipliers of {entry['v_row']}"
            sols[(method, mult)] = case["solution"]
        except Exception as exc:  # noqa: BLE001
            case = {"solver": "gosplan", "method": method, "what": "x+v, all multipliers" if mult else "x+v",
                    "error": error_text(exc)}
        add(case)
    # numpy dense: np.linalg.solve on I - A and its transpose (dense built outside the timing)
    try:
        Md = np.eye(n) - A.toarray()
        MdT = np.ascontiguousarray(Md.T)
        best = np.inf
        for rep in range(3):
            with MemoryWatch() if rep == 0 else _Null() as mw:
                t = now()
                x = np.linalg.solve(Md, y)
                tx = now() - t
                t = now()
                v = np.linalg.solve(MdT, l)
                tv = now() - t
            if rep == 0:
                peak = mw.increase
            if tx + tv < best:
                best, bx, bv = tx + tv, tx, tv
        rhs = np.column_stack([*P, np.ones(n)]) if len(P) else np.ones((n, 1))
        t_all = np.inf
        for _ in range(3):
            t = now()
            np.linalg.solve(Md, y)
            np.linalg.solve(MdT, rhs)
            t_all = min(t_all, now() - t)
        add({"solver": "numpy", "method": "linalg.solve", "what": "x+v", "seconds": best, "x_seconds": bx,
             "v_seconds": bv, "x_iterations": 1, "v_iterations": 1, "x_residual": residual(A, x, y, False),
             "v_residual": residual(A, v, l, True), "all_multipliers_seconds": t_all,
             "peak_increase": peak, "note": "dense I - A and its transpose built outside the timing"})
        del Md, MdT
    except Exception as exc:  # noqa: BLE001
        add({"solver": "numpy", "method": "linalg.solve", "what": "x+v", "error": error_text(exc)})
    # pymrio on the same A
    try:
        x = sols[("auto", True)][0] if ("auto", True) in sols else np.linalg.solve(np.eye(n) - A.toarray(), y)
        products = [str(p) for p in eco.products]
        Ad = A.toarray()
        F = P * x[None, :] if len(P) else (l * x)[None, :]
        case, io = pymrio_calc_all(
            lambda: pymrio_system(Ad, y[:, None], x, F, ["R"], products, entry["resources"] or ["labour"]),
            args.time_limit, args.repeat)
        if ("auto", True) in sols:
            sol = sols[("auto", True)]
            M = io.factor_inputs.M.to_numpy()
            case["agreement"] = {"primary_multipliers": rel_diff(sol[2], M) if sol[2] is not None else None,
                                 "output_multipliers": rel_diff(sol[3], io.L.to_numpy().sum(axis=0))}
        add(case)
        del io
    except Exception as exc:  # noqa: BLE001
        add({"solver": "pymrio", "method": "calc_all", "what": "x, L, M, accounts", "error": error_text(exc)})
    del eco, A, sols
    gc.collect()


# ============================================================================ output


def show_case(c: dict) -> None:
    label = f"{c['solver']} {c['method']}" + (f" [{c['chosen']}]" if c.get("chosen") and c["chosen"] != c["method"] else "")
    if c.get("what", "").endswith("multipliers") and c["solver"] == "gosplan":
        label += " (all multipliers)"
    if "error" in c and "seconds" not in c:
        say(f"  {label:40s} {c['error']}")
        return
    if c["solver"] == "pymrio":
        say(f"  {label:40s} {fmt_s(c.get('seconds')):>12s} s | v res {fmt_res(c.get('v_residual'))} "
            f"| +{fmt_bytes(c.get('peak_increase'))}" + (f" | {c['error']}" if "error" in c else ""))
        return
    say(f"  {label:40s} x+v {fmt_s(c.get('seconds')):>8s} s | x {fmt_s(c.get('x_seconds'))} s "
        f"{c.get('x_iterations', '-')} it {fmt_res(c.get('x_residual'))} | v {fmt_s(c.get('v_seconds'))} s "
        f"{c.get('v_iterations', '-')} it {fmt_res(c.get('v_residual'))} | +{fmt_bytes(c.get('peak_increase'))}"
        + (f" | {c['error']}" if "error" in c else ""))


class Table:
    def __init__(self, title: str, columns: list[str], align: str | None = None):
        self.title, self.columns, self.rows = title, columns, []
        self.align = align or ("l" * 2 + "r" * (len(columns) - 2))

    def add(self, *cells: Any) -> None:
        self.rows.append([("" if c is None else str(c)) for c in cells])

    def plain(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.columns)]

        def line(cells: list[str]) -> str:
            return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, self.align))

        return "\n".join([self.title, line(self.columns), line(["-" * w for w in widths]),
                          *(line(r) for r in self.rows)])

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        sep = "|" + "|".join(":---" if a == "l" else "---:" for a in self.align) + "|"
        body = ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in self.rows]
        return "\n".join([f"**{self.title}**", "", head, sep, *body])

    def show(self, plain: bool) -> None:
        if not plain:
            try:
                from rich.console import Console
                from rich.table import Table as RichTable

                t = RichTable(title=self.title, title_justify="left")
                for h, a in zip(self.columns, self.align):
                    t.add_column(h, justify="left" if a == "l" else "right")
                for r in self.rows:
                    t.add_row(*r)
                Console(width=max(160, os.get_terminal_size().columns if sys.stdout.isatty() else 200)).print(t)
                return
            except Exception:  # noqa: BLE001
                pass
        say(self.plain())
        say()


def case_label(c: dict) -> str:
    s = f"{c['solver']} {c['method']}"
    if c.get("chosen") and c["chosen"] != c["method"]:
        s += f" ({c['chosen']})"
    if c["solver"] == "gosplan" and c.get("what", "").endswith("multipliers"):
        s += f", all multipliers ({c.get('v_rhs', '?')} rhs)"
    return s


def reference_seconds(entry: dict) -> float | None:
    g = next((c for c in entry.get("cases", []) if c["solver"] == "gosplan" and c["method"] == "auto"
              and c["what"] == "x+v" and "error" not in c), None)
    return g["seconds"] if g else None


def build_tables(results: dict) -> list[Table]:
    tables = []
    m, v, bw = results["machine"], results["versions"], results.get("bandwidth", {})
    t = Table("Machine", ["item", "value"], "ll")
    t.add("CPU", f"{m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), numba threads {m['numba_threads']}")
    t.add("memory", f"{fmt_bytes(m['memory_total'])} total, {fmt_bytes(m['memory_available_at_start'])} available at start")
    t.add("bandwidth", f"triad {bw.get('triad_gbs', float('nan')):.1f} GB/s (used for the bounds), copy "
          f"{bw.get('copy_gbs', float('nan')):.1f} GB/s, read-only sum {bw.get('read_gbs', float('nan')):.1f} GB/s "
          f"(numba parallel, 3 x {bw.get('array_mb', '?')} MB, best of {bw.get('repeats', '?')})" if bw else "-")
    bw_end = results.get("bandwidth_at_end") or {}
    if "triad_gbs" in bw_end:
        t.add("bandwidth at the end", f"triad {bw_end['triad_gbs']:.1f} GB/s, copy {bw_end['copy_gbs']:.1f} GB/s, "
              f"read-only sum {bw_end['read_gbs']:.1f} GB/s")
    t.add("load average at start", " ".join(f"{x:.2f}" for x in m["load_average_at_start"]))
    if results.get("load_average_at_end"):
        t.add("load average at the end", " ".join(f"{x:.2f}" for x in results["load_average_at_end"]))
    t.add("elapsed", f"{results.get('elapsed_seconds', 0):.0f} s")
    t.add("versions", ", ".join(f"{k} {val}" for k, val in v.items() if k not in ("gosplan_src_modified",)))
    t.add("command", results["command"])
    t.add("date", results["date"])
    tables.append(t)

    t = Table("Summary: x and labour values v to 1e-10 (wall seconds, load apart; scipy without building I - A "
              "and its transpose)",
              ["economy", "nnz", "load s", "gosplan auto", "it x / v", "fastest gosplan", "gosplan all multipliers",
               "scipy bicgstab", "scipy gmres", "scipy spsolve", "best scipy / gosplan auto", "gosplan peak +RSS / A"],
              "l" + "r" * 11)
    for e in results.get("synthetic", []):
        if "error" in e and not e.get("cases"):
            t.add(e["name"], "-", "-", e["error"], *[""] * 8)
            continue
        cs = {(c["solver"], c["method"], c["what"]): c for c in e.get("cases", [])}
        g = cs.get(("gosplan", "auto", "x+v"), {})
        gm = cs.get(("gosplan", "auto", "x+v, all multipliers"), {})

        def ok(c: dict) -> bool:
            return "error" not in c and bool(c.get("seconds"))

        fast = [c for c in e.get("cases", []) if c["solver"] == "gosplan" and c["what"] == "x+v" and ok(c)
                and max(c.get("x_residual", 1.0), c.get("v_residual", 1.0)) <= TOL]
        fastest = min(fast, key=lambda c: c["seconds"]) if fast else None

        def sc(method: str) -> str:
            c = cs.get(("scipy", method, "x+v"))
            if not c:
                return "-"
            return fmt_s(c["seconds"]) if ok(c) else c.get("error", "-").split(":")[0]

        scs = [c for c in e.get("cases", []) if c["solver"] == "scipy" and ok(c)]
        best = min(scs, key=lambda c: c["seconds"]) if scs else None
        t.add(e["name"], f"{e.get('nnz', 0):,}", fmt_s(e.get("load_seconds")),
              (f"{fmt_s(g['seconds'])} ({g.get('chosen')})" if ok(g) else g.get("error", "-")),
              f"{g.get('x_iterations', '-')} / {g.get('v_iterations', '-')}",
              f"{fmt_s(fastest['seconds'])} ({fastest['method']})" if fastest else "-",
              fmt_s(gm.get("seconds")) if ok(gm) else gm.get("error", "-"), sc("bicgstab"), sc("gmres"), sc("spsolve"),
              f"{fmt_x(best['seconds'] / g['seconds'])} ({best['method']})" if best and ok(g) else "-",
              fmt_x(g.get("memory_ratio"), 2))
    tables.append(t)

    t = Table("Synthetic economies: x and v to 1e-10 (seconds; iterations; relative residual ||(I-A)z-b||/||b||; "
              "peak RSS increase)",
              ["economy", "solver", "x+v s", "x s", "x it", "x res", "v s", "v it", "v res", "peak +RSS",
               "/ A bytes", "time / gosplan auto", "note"], "ll" + "r" * 10 + "l")
    for e in results.get("synthetic", []):
        if "error" in e and not e.get("cases"):
            t.add(e["name"], "-", *["-"] * 10, e["error"])
            continue
        ref = reference_seconds(e)
        t.add(e["name"], f"(load {fmt_s(e.get('load_seconds'))} s"
              + (f", write {fmt_s(e.get('write_seconds'))} s" if e.get("write_seconds") else "") + ")",
              "", "", "", "", "", "", "", "", "", "", f"A: {e.get('nnz', 0):,} nnz, {fmt_bytes(e.get('matrix_bytes'))}")
        for c in e["cases"]:
            secs = c.get("seconds")
            note = c.get("error", c.get("note", ""))
            if c["solver"] == "scipy" and c.get("x_setup_seconds") is not None and "skipped" not in c:
                setup = fmt_s(c.get("x_setup_seconds")) + (
                    f" + {fmt_s(c['v_setup_seconds'])}" if c.get("v_setup_seconds") is not None else "")
                note = (note + "; " if note else "") + f"I - A built in {setup} s (not timed)"
            t.add("", case_label(c), fmt_s(secs), fmt_s(c.get("x_seconds")), c.get("x_iterations", "-"),
                  fmt_res(c.get("x_residual")), fmt_s(c.get("v_seconds")), c.get("v_iterations", "-"),
                  fmt_res(c.get("v_residual")), fmt_bytes(c.get("peak_increase")), fmt_x(c.get("memory_ratio"), 2),
                  fmt_x(secs / ref) if (secs and ref) else "-", note)
    tables.append(t)

    t = Table("Synthetic economies: where gosplan's time goes (x + labour values; seconds from SolveInfo.detail)",
              ["economy", "method", "SCC", "levels", "transpose", "x sweep", "x extract", "x iterate", "x it",
               "v sweep", "v extract", "v iterate", "v it", "checks", "total"], "ll" + "r" * 13)
    for e in results.get("synthetic", []):
        first = True
        for c in e.get("cases", []):
            if c["solver"] != "gosplan" or c["what"] != "x+v" or "error" in c:
                continue
            tm = c.get("timings", {})
            t.add(e["name"] if first else "", c["method"] + (f" ({c['chosen']})" if c.get("chosen") != c["method"] else ""),
                  fmt_s(tm.get("components")), fmt_s(tm.get("levels")), fmt_s(tm.get("transpose")),
                  fmt_s(tm.get("x_sweep")), fmt_s(tm.get("x_extract")), fmt_s(tm.get("x_iterate")),
                  c.get("x_iterations"), fmt_s(tm.get("values_sweep")), fmt_s(tm.get("values_extract")),
                  fmt_s(tm.get("values_iterate")), c.get("v_iterations"), fmt_s(c.get("check_seconds")),
                  fmt_s(c.get("seconds")))
            first = False
    tables.append(t)

    t = Table("Synthetic economies: blocks iterated on (largest strongly connected component; R after trimming)",
              ["economy", "n", "nnz", "components", "largest SCC rows", "largest SCC nnz", "trim levels",
               "R rows", "R nnz"], "l" + "r" * 8)
    for e in results.get("synthetic", []):
        st = e.get("structure") or {}
        if "components" not in st:
            continue
        t.add(e["name"], f"{e['n']:,}", f"{e.get('nnz', 0):,}", f"{st['components']:,}", f"{st['largest']:,}",
              f"{st['largest_nnz']:,}", st.get("trim_levels", "-"), f"{st['trim_rows']:,}" if "trim_rows" in st else "-",
              f"{st['trim_nnz']:,}" if "trim_nnz" in st else "-")
    tables.append(t)

    gbs = bw.get("triad_gbs")
    t = Table(f"scipy's sparse product A @ x against its bandwidth bound: (data + indices + indptr + x + y bytes) / "
              f"{gbs:.1f} GB/s" if gbs else "Bandwidth bound",
              ["economy", "bytes", "bound s", "scipy A@x s", "/ bound"], "l" + "r" * 4)
    for e in results.get("synthetic", []):
        b = e.get("bandwidth")
        if not b or "error" in b:
            continue
        t.add(e["name"], fmt_bytes(b["spmv_bytes"]), fmt_s(b["bound_seconds"]), fmt_s(b["scipy_spmv_seconds"]),
              fmt_x(b["scipy_spmv_ratio"]))
    tables.append(t)

    t = Table("gosplan's inner iteration against the bandwidth bound of the matrix it iterates on "
              "(products per iteration x bytes of one product / triad bandwidth)",
              ["economy", "method", "block rows", "block nnz", "products / it", "bound s / it", "x s / it", "x / bound",
               "v s / it", "v / bound"], "ll" + "r" * 8)
    for e in results.get("synthetic", []):
        b = e.get("bandwidth")
        if not b or "error" in b:
            continue
        first = True
        for g in b.get("gosplan", []):
            t.add(e["name"] if first else "", g["method"] + (f" ({g['chosen']})" if g["chosen"] != g["method"] else ""),
                  f"{g['rows']:,}", f"{g['nnz']:,}", g["products_per_iteration"], fmt_s(g["bound_seconds"]),
                  fmt_s(g.get("x_iteration_seconds")), fmt_x(g.get("x_ratio")), fmt_s(g.get("v_iteration_seconds")),
                  fmt_x(g.get("v_ratio")))
            first = False
    tables.append(t)

    if results.get("pymrio"):
        t = Table("Dense multi-regional tables (~25% nonzero): pymrio calc_all vs gosplan.balance(multipliers=True)",
                  ["table", "solver", "seconds", "x res", "v res", "peak +RSS", "pymrio / this", "note"], "ll" + "r" * 5 + "l")
        for e in results["pymrio"]:
            if "error" in e and not e.get("cases"):
                t.add(e["name"], "-", "-", "-", "-", "-", "-", e["error"])
                continue
            p = next((c for c in e["cases"] if c["solver"] == "pymrio" and "error" not in c), None)
            for c in e["cases"]:
                note = c.get("error", c.get("note", ""))
                if c.get("agreement"):
                    note = (note + "; " if note else "") + "vs gosplan: " + ", ".join(
                        f"{k} {v:.1e}" for k, v in c["agreement"].items() if v is not None)
                if c["solver"] == "pymrio" and c.get("setup_seconds") is not None:
                    note = (note + "; " if note else "") + f"IOSystem built in {fmt_s(c['setup_seconds'])} s"
                ratio = p["seconds"] / c["seconds"] if (p and c.get("seconds")) else None
                t.add(e["name"] if c is e["cases"][0] else "", case_label(c), fmt_s(c.get("seconds")),
                      fmt_res(c.get("x_residual")), fmt_res(c.get("v_residual")), fmt_bytes(c.get("peak_increase")),
                      fmt_x(ratio) if c["solver"] != "pymrio" else "", note)
        tables.append(t)

    if results.get("real"):
        t = Table("Bundled real tables: x and v (gosplan, numpy dense) and everything (all multipliers, pymrio)",
                  ["table", "solver", "seconds", "x res", "v res", "peak +RSS", "note"], "ll" + "r" * 4 + "l")
        for e in results["real"]:
            if "error" in e and not e.get("cases"):
                t.add(e["name"], "-", "-", "-", "-", "-", e["error"])
                continue
            first = True
            for c in e["cases"]:
                note = c.get("error", c.get("note", ""))
                if c.get("all_multipliers_seconds") is not None:
                    note = (note + "; " if note else "") + f"all multipliers {fmt_s(c['all_multipliers_seconds'])} s"
                if c.get("agreement"):
                    note = (note + "; " if note else "") + "vs gosplan: " + ", ".join(
                        f"{k} {v:.1e}" for k, v in c["agreement"].items() if v is not None)
                name = f"{e['name']} (n={e.get('n', '?')}, nnz={e.get('nnz', 0):,})" if first else ""
                first = False
                t.add(name, case_label(c), fmt_s(c.get("seconds")), fmt_res(c.get("x_residual")),
                      fmt_res(c.get("v_residual")), fmt_bytes(c.get("peak_increase")), note)
        tables.append(t)

    t = Table("Issue targets", ["target", "measured", "verdict"], "lll")
    for tg in results.get("targets", []):
        t.add(tg["target"], tg["measured"], tg["verdict"])
    tables.append(t)
    return tables


def evaluate_targets(results: dict) -> list[dict]:
    out = []

    def find(n: int, k: float) -> dict | None:
        return next((e for e in results.get("synthetic", []) if e["n"] == n and e["K"] == k and e.get("cases")), None)

    e = find(TARGET_N, TARGET_K)
    label = f"n = {fmt_n(TARGET_N)}, K = {TARGET_K}"
    if e is None:
        for name in (f"{label}: x and v to 1e-10 in < {TARGET_SECONDS:g} s (load apart)",
                     f"{label}: >= {TARGET_SPEEDUP:g}x faster than scipy's best",
                     f"{label}: peak memory < {TARGET_MEMORY:g}x the matrix"):
            out.append({"target": name, "measured": "not run", "verdict": "pending"})
    else:
        g = next((c for c in e["cases"] if c["solver"] == "gosplan" and c["method"] == "auto" and c["what"] == "x+v"), None)
        if g is None or "error" in g:
            out.append({"target": f"{label}: x and v in < {TARGET_SECONDS:g} s", "measured": (g or {}).get("error", "no result"),
                        "verdict": "missed"})
        else:
            worst = max(g.get("x_residual", np.inf), g.get("v_residual", np.inf))
            ok = g["seconds"] < TARGET_SECONDS and worst <= TOL
            others = [c for c in e["cases"] if c["solver"] == "gosplan" and c["what"] == "x+v" and "error" not in c
                      and c.get("seconds") and max(c.get("x_residual", 1), c.get("v_residual", 1)) <= TOL]
            fastest = min(others, key=lambda c: c["seconds"]) if others else None
            out.append({"target": f"{label}: x and v to 1e-10 in < {TARGET_SECONDS:g} s (load apart)",
                        "measured": f"auto ({g.get('chosen')}) {g['seconds']:.2f} s (x {g['x_seconds']:.2f} s, "
                                    f"v {g['v_seconds']:.2f} s), residuals {fmt_res(g.get('x_residual'))} / "
                                    f"{fmt_res(g.get('v_residual'))}"
                                    + (f"; fastest method {fastest['method']} {fastest['seconds']:.2f} s"
                                       if fastest and fastest is not g else ""),
                        "verdict": ("met" if ok else "missed") + f" ({g['seconds'] / TARGET_SECONDS:.0%} of the budget)"})
            sc = [c for c in e["cases"] if c["solver"] == "scipy" and "error" not in c and c.get("seconds")]
            if sc:
                best = min(sc, key=lambda c: c["seconds"])
                ratio = best["seconds"] / g["seconds"]
                out.append({"target": f"{label}: >= {TARGET_SPEEDUP:g}x faster than scipy's best (same run)",
                            "measured": f"scipy {best['method']} {best['seconds']:.2f} s (x {best['x_seconds']:.2f} s) "
                                        f"vs gosplan {g['seconds']:.2f} s: {ratio:.1f}x",
                            "verdict": "met" if ratio >= TARGET_SPEEDUP else "missed"})
            else:
                out.append({"target": f"{label}: >= {TARGET_SPEEDUP:g}x faster than scipy's best",
                            "measured": "no scipy method finished", "verdict": "met (scipy gave no result)"})
            mem = g.get("peak_increase")
            if mem is not None:
                r = mem / e["matrix_bytes"]
                out.append({"target": f"{label}: peak memory < {TARGET_MEMORY:g}x the matrix ({fmt_bytes(e['matrix_bytes'])})",
                            "measured": f"+{fmt_bytes(mem)} during the solve = {r:.2f}x the matrix "
                                        f"(matrix + increase = {1 + r:.2f}x)",
                            "verdict": "met" if 1 + r < TARGET_MEMORY else ("met for the increase alone" if r < TARGET_MEMORY else "missed")})
    parts, worst = [], 0.0
    for e in results.get("synthetic", []):
        b = e.get("bandwidth")
        if e["n"] < TARGET_BANDWIDTH_MIN_N or not isinstance(b, dict):
            continue
        g = next((g for g in b.get("gosplan", []) if g["method"] == "auto"), None)
        if g is None or "x_ratio" not in g:
            continue
        r = max(g.get("x_ratio", 0.0), g.get("v_ratio", 0.0))
        worst = max(worst, r)
        best = min((max(h.get("x_ratio", np.inf), h.get("v_ratio", np.inf)), h["method"]) for h in b["gosplan"])
        parts.append(f"{e['name']}: auto ({g['chosen']}) x {g.get('x_ratio', float('nan')):.1f}x, "
                     f"v {g.get('v_ratio', float('nan')):.1f}x (best method: {best[1]} {best[0]:.1f}x)")
    if parts:
        out.append({"target": f"n >= {fmt_n(TARGET_BANDWIDTH_MIN_N)}: each iteration within {TARGET_BANDWIDTH:g}x "
                              "of the bandwidth bound (of the matrix it iterates on)",
                    "measured": "; ".join(parts),
                    "verdict": "met" if worst <= TARGET_BANDWIDTH else f"missed (worst {worst:.1f}x)"})
    else:
        out.append({"target": f"n >= {fmt_n(TARGET_BANDWIDTH_MIN_N)}: each iteration within {TARGET_BANDWIDTH:g}x of the bound",
                    "measured": "not run", "verdict": "pending"})
    pm = next((e for e in results.get("pymrio", []) if e["n"] == TARGET_PYMRIO_N), None)
    if pm and pm.get("pymrio_over_gosplan"):
        r = pm["pymrio_over_gosplan"]
        out.append({"target": f"n = {TARGET_PYMRIO_N:,}, ~25% nonzero: >= {TARGET_PYMRIO_SPEEDUP:g}x faster than pymrio calc_all",
                    "measured": f"{r:.1f}x", "verdict": "met" if r >= TARGET_PYMRIO_SPEEDUP else "missed"})
    else:
        out.append({"target": f"n = {TARGET_PYMRIO_N:,}: >= {TARGET_PYMRIO_SPEEDUP:g}x faster than pymrio calc_all",
                    "measured": (pm or {}).get("error", "not run"), "verdict": "pending" if pm is None else "no result"})
    return out


# ============================================================================ main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7", help="synthetic economy sizes n (default %(default)s)")
    p.add_argument("--inputs", default="10,30", help="mean inputs per product K (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="n up to 1e4, K = 10, pymrio n = 1000, small bandwidth arrays")
    p.add_argument("--out", default=None, help="JSON results (default: <data-dir>/results.json)")
    p.add_argument("--markdown", default=None, help="also write the tables as Markdown to this file")
    p.add_argument("--data-dir", default=str(REPO / "bench-data"), help="where synthetic economies are written and reused")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--methods", default="all",
                   help="gosplan methods for x+v, comma-separated, or 'all' (every method of the solver; "
                        "dense only up to its size limit); auto always runs")
    p.add_argument("--methods-max-nnz", type=float, default=1.5e8,
                   help="above this many nonzeros only method auto runs (default %(default)g)")
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds per case (gosplan, scipy iterative)")
    p.add_argument("--spsolve-max", type=float, default=1e5, help="largest n given to scipy spsolve")
    p.add_argument("--spsolve-limit", type=float, default=120.0, help="seconds for spsolve (killed beyond)")
    p.add_argument("--spsolve-mem-gb", type=float, default=8.0, help="address space allowed to spsolve's child")
    p.add_argument("--pymrio-sizes", default="1000,2000,4000,8000")
    p.add_argument("--pymrio-density", type=float, default=0.25)
    p.add_argument("--real", default="us-2017,us-2022,wiod-2011,uk-2015,pymrio-test", help="bundled tables ('' for none)")
    p.add_argument("--stream-mb", type=int, default=400, help="MB per STREAM array (3 arrays)")
    p.add_argument("--repeat", type=int, default=3, help="best of up to this many runs for cases under a second")
    p.add_argument("--force", action="store_true", help="run economies even when memory looks short")
    p.add_argument("--plain", action="store_true", help="plain-text tables (no rich)")
    p.add_argument("--from-json", default=None, help="only print (and --markdown) the tables of a results file")
    p.add_argument("--focus", choices=("all", "linalg"), default="all",
                   help="'linalg': only R in place against its copy and scipy bicgstab (x and v), and the "
                        "multipliers' right-hand sides solved together against one by one, for --sizes x --inputs")
    p.add_argument("--linalg-parts", choices=("all", "xv", "multi"), default="all",
                   help="with --focus linalg: both comparisons, or only x and v ('xv'), or only the multipliers")
    args = p.parse_args(argv)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        if results.get("focus") == "linalg":
            tables = linalg_tables(results["linalg"])
            for t in tables:
                t.show(args.plain)
            if args.markdown:
                Path(args.markdown).write_text("\n\n".join(t.markdown() for t in tables) + "\n")
            return 0
        results["targets"] = evaluate_targets(results)
        tables = build_tables(results)
        for t in tables:
            t.show(args.plain)
        if args.markdown:
            Path(args.markdown).write_text("\n\n".join(t.markdown() for t in tables) + "\n")
        return 0
    if args.quick:
        args.sizes = ",".join(s for s in args.sizes.split(",") if int(float(s)) <= 10_000) or "1e3,1e4"
        args.inputs = args.inputs.split(",")[0]
        args.pymrio_sizes = ",".join(s for s in args.pymrio_sizes.split(",") if int(float(s)) <= 1000) or "1000"
        args.stream_mb = min(args.stream_mb, 100)
    out_path = Path(args.out) if args.out else Path(args.data_dir) / "results.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    import faulthandler

    faulthandler.enable()  # a crash in compiled code leaves a Python traceback in the log
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        try:
            faulthandler.register(sig, chain=True)
        except (AttributeError, RuntimeError, ValueError):
            pass
    malloc_fixed = fix_malloc_thresholds()
    t_start = now()

    results: dict = {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "settings": {k: v for k, v in vars(args).items()},
        "tolerance": TOL,
        "memory_method": "peak of VmRSS sampled every 5 ms and VmHWM (reset through /proc/self/clear_refs: "
                         f"{reset_peak()}), minus VmRSS before the case; glibc mmap threshold fixed: {malloc_fixed}",
        "synthetic": [],
        "pymrio": [],
        "real": [],
    }

    def record() -> None:
        results["elapsed_seconds"] = now() - t_start
        results["targets"] = evaluate_targets(results)
        tmp = out_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(to_jsonable(results), indent=1))
        tmp.replace(out_path)

    m = results["machine"]
    say(f"gosplan benchmark: {m['cpu']}, {m['cores']} cores, {fmt_bytes(m['memory_total'])}; "
        f"load average {' '.join(f'{x:.2f}' for x in m['load_average_at_start'])}")
    say("versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    say(f"command: {results['command']}")

    say("\nwarming up (JIT) ...")
    try:
        results["warm_up_seconds"] = warm_up()
    except Exception as exc:  # noqa: BLE001
        results["warm_up_error"] = error_text(exc)
        traceback.print_exc()
    results["machine"]["numba_threading_layer"] = _threading_layer()

    if args.focus == "linalg":
        return run_linalg(args, results, record, out_path)

    say("measuring memory bandwidth ...")
    try:
        results["bandwidth"] = measure_bandwidth(args.stream_mb, 10)
        say(f"  copy {results['bandwidth']['copy_gbs']:.1f} GB/s, triad {results['bandwidth']['triad_gbs']:.1f} GB/s, "
            f"read {results['bandwidth']['read_gbs']:.1f} GB/s")
    except Exception as exc:  # noqa: BLE001
        results["bandwidth"] = {"error": error_text(exc), "triad_gbs": float("nan")}
    record()

    for k in parse_floats(args.inputs):
        for n in parse_sizes(args.sizes):
            try:
                bench_synthetic(n, k, args, results["bandwidth"], record, results["synthetic"])
            except Exception as exc:  # noqa: BLE001
                results["synthetic"].append({"name": f"synth n={fmt_n(n)} K={k:g}", "n": n, "K": k,
                                             "error": error_text(exc), "cases": []})
                traceback.print_exc()
            gc.collect()
            record()

    for n in parse_sizes(args.pymrio_sizes):
        try:
            bench_pymrio(n, args, record, results["pymrio"])
        except Exception as exc:  # noqa: BLE001
            results["pymrio"].append({"name": f"dense MRIO n={n:,}", "n": n, "error": error_text(exc), "cases": []})
            traceback.print_exc()
        gc.collect()
        record()

    for name in [s for s in args.real.split(",") if s]:
        try:
            bench_real(name, args, record, results["real"])
        except Exception as exc:  # noqa: BLE001
            results["real"].append({"name": name, "error": error_text(exc), "cases": []})
            traceback.print_exc()
        gc.collect()
        record()

    results["load_average_at_end"] = os.getloadavg()
    try:
        end_bw = measure_bandwidth(args.stream_mb, 10)
        results["bandwidth_at_end"] = end_bw
        say(f"\nbandwidth again at the end: copy {end_bw['copy_gbs']:.1f} GB/s, triad {end_bw['triad_gbs']:.1f} GB/s, "
            f"read {end_bw['read_gbs']:.1f} GB/s (the bounds above use the first measurement)")
    except Exception as exc:  # noqa: BLE001
        results["bandwidth_at_end"] = {"error": error_text(exc)}
    record()
    say()
    tables = build_tables(results)
    return show_tables(tables, args, results, out_path)


def show_tables(tables: list, args: argparse.Namespace, results: dict, out_path: Path) -> int:
    """Print ``tables``, write them as markdown to ``--markdown``, say where the JSON is."""
    for t in tables:
        t.show(args.plain)
    if args.markdown:
        Path(args.markdown).write_text("\n\n".join(t.markdown() for t in tables) + "\n")
    say(f"results: {out_path}  ({results['elapsed_seconds']:.0f} s)")
    return 0


def run_linalg(args: argparse.Namespace, results: dict, record: Callable[[], None], out_path: Path) -> int:
    """``--focus linalg`` (after the warm-up): see :func:`bench_linalg`."""
    from gosplan.linalg.leontief import prepare, solve
    from gosplan.synth import generate

    t = now()  # compile the in-place kernels too (the warm-up's economies may not take that path)
    eco = generate(20_000, 30, seed=1)
    system = prepare(eco.A)
    solve(system, eco.y, method="trim-bicgstab", inplace_share=0.0)
    solve(system, np.column_stack([eco.l, np.ones(eco.n_products)]), transpose=True, method="trim-bicgstab",
          inplace_share=0.0)
    results["warm_up_inplace_seconds"] = now() - t
    results["focus"] = "linalg"
    results["linalg"] = []
    for k in parse_floats(args.inputs):
        for n in parse_sizes(args.sizes):
            try:
                bench_linalg(n, k, args, record, results["linalg"])
            except Exception as exc:  # noqa: BLE001
                results["linalg"].append({"name": f"synth n={fmt_n(n)} K={k:g}", "error": error_text(exc),
                                          "cases": [], "multi": []})
                traceback.print_exc()
            gc.collect()
            record()
    results["load_average_at_end"] = os.getloadavg()
    record()
    tables = linalg_tables(results["linalg"])
    return show_tables(tables, args, results, out_path)


if __name__ == "__main__":
    sys.exit(main())

"""gosplan's build backend: setuptools', plus the numba kernels compiled into the wheel.

``pip install .`` builds a wheel with this backend (``pyproject.toml``: ``build-backend``,
``backend-path``). After setuptools has built it, :func:`build_wheel` unpacks the wheel,
runs ``python -m gosplan.precompile`` on the unpacked package (every numba kernel compiled
for the argument types real runs use; numba writes the machine code to ``__pycache__``
next to each kernel module) and adds those cache files to the wheel and its ``RECORD``.
The first ``gosplan`` run after the install then loads the kernels instead of compiling
them (15-20 s at 10^6 products).

numba keys a cache entry by the source file's sha256, the kernel's bytecode, the argument
types, the numba version and the CPU, so a wheel used on another machine, or with another
numba than the one it was built with, compiles on first use as before: the cache is an
optimisation, never a requirement. To compile, the build needs gosplan's run-time
dependencies, so :func:`get_requires_for_build_wheel` asks for them; editable installs
(``pip install -e``) and sdists ask for nothing more and compile nothing.

``GOSPLAN_PRECOMPILE=0`` builds a plain wheel. When the compilation fails the wheel is
built anyway, without the cache, and the reason is printed.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 - every other hook is setuptools'

ENV = "GOSPLAN_PRECOMPILE"
ROOT = Path(__file__).resolve().parents[1]
CACHE_SUFFIXES = (".nbi", ".nbc")


def _enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _runtime_requirements() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def get_requires_for_build_wheel(config_settings=None):
    extra = _runtime_requirements() if _enabled() else []
    return list(_setuptools.get_requires_for_build_wheel(config_settings)) + extra


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    if _enabled():
        try:
            added = add_compiled_kernels(Path(wheel_directory) / name)
            print(f"gosplan build: {added} compiled kernel file(s) added to {name}", flush=True)
        except Exception as exc:  # never fail the install: the kernels then compile on first use
            print(f"gosplan build: kernels not precompiled ({exc}); they compile on first use", flush=True)
    return name


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def add_compiled_kernels(wheel: Path, module: str = "gosplan.precompile", timeout: float = 1800) -> int:
    """Run ``python -m module`` on the unpacked ``wheel`` and add the numba cache files it
    wrote to the wheel (and to its ``RECORD``); returns how many files were added."""
    with tempfile.TemporaryDirectory(prefix="gosplan-wheel-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)
            names = zf.namelist()
        env = dict(os.environ)
        env.pop("NUMBA_CACHE_DIR", None)  # numba writes next to the modules, i.e. into the wheel
        env["GOSPLAN_NUMBA_CACHE"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run(
            [sys.executable, "-m", module], cwd=tmp, env=env, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for line in proc.stdout.splitlines()[-12:]:
            print(f"  {line}", flush=True)
        if proc.returncode != 0:
            raise RuntimeError(f"python -m {module} exited with {proc.returncode}")
        new = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix in CACHE_SUFFIXES
            and p.relative_to(root).as_posix() not in names
        )
        if not new:
            raise RuntimeError("no compiled kernel was written")
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        with zipfile.ZipFile(wheel) as zf:
            entries = [(info, zf.read(info)) for info in zf.infolist()]
        rows = list(csv.reader(io.StringIO(next(d for i, d in entries if i.filename == record_name).decode())))
        rows = [r for r in rows if r and r[0] != record_name]
        out = wheel.with_suffix(".tmp")
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for info, data in entries:
                if info.filename != record_name:
                    zf.writestr(info, data)
            for path in new:
                data = path.read_bytes()
                arc = path.relative_to(root).as_posix()
                zf.writestr(arc, data)
                rows.append([arc, _record_hash(data), str(len(data))])
            rows.append([record_name, "", ""])
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            zf.writestr(record_name, text.getvalue())
        os.replace(out, wheel)
        return len(new)

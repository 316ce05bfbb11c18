"""Kernels compiled ahead of the first run (issue 15, no cold-start tax): ``gosplan.precompile``
reaches every numba kernel, and the build backend puts the compiled kernels into the wheel so
that an installed copy loads them instead of compiling."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gosplan import _jit, precompile

ROOT = Path(__file__).resolve().parents[1]


def _backend():
    spec = importlib.util.spec_from_file_location("gosplan_build", ROOT / "build_backend" / "gosplan_build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_kernel_modules_hold_every_kernel():
    found = precompile.kernels()
    assert len(found) == len([k for k in _jit.KERNELS if k.py_func.__module__.startswith("gosplan.")])
    assert {name.rsplit(".", 1)[0] for name in found} == set(precompile.KERNEL_MODULES)


@pytest.mark.slow
def test_precompile_reaches_every_kernel(tmp_path):
    """A new kernel that no workload calls would compile on the user's first run again.

    With an empty cache (a warm one loads callers with their callees linked in, so a kernel
    called only from other kernels is never dispatched and would not show)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    # two processes side by side, as a build on two or more CPUs runs it: a kernel index that
    # one part's write lost would show as missing here (the last pass must have restored it)
    proc = subprocess.run([sys.executable, "-m", "gosplan.precompile", "--json", "--quiet", "--jobs", "2"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["missing"] == []
    assert summary["kernels"] == len(precompile.kernels())
    # the last pass loads what the parts compiled (a kernel called only from other kernels is
    # loaded inside its callers and never dispatched there: the files below count it)
    assert 0 < summary["compiled"] <= sum(1 for _ in (tmp_path / "cache").rglob("*.nbc"))
    # every kernel's machine code is on disk, each with its own index
    assert len(list((tmp_path / "cache").rglob("*.nbi"))) == summary["kernels"]
    assert len(list((tmp_path / "cache").rglob("*.nbc"))) >= summary["kernels"]


def test_parts_split_the_workloads_after_the_first():
    names = ["synthetic economies", "material balance", "Leontief methods", "optimal plans (pdhg)", "consumers"]
    assert precompile._parts(names, 1) == [names[1:]]
    two = precompile._parts(names, 2)
    assert two == [["Leontief methods"], ["material balance", "optimal plans (pdhg)", "consumers"]]
    assert precompile._parts(names, 8) == two  # no more parts than PARTS
    # every workload after the first exactly once, whatever the split
    for jobs in (1, 2, 3):
        flat = [n for part in precompile._parts(names, jobs) for n in part]
        assert sorted(flat) == sorted(names[1:])
    assert 1 <= precompile.default_jobs() <= len(precompile.PARTS)


def test_jobs_below_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        precompile.main(["--jobs", "0"])
    assert exc.value.code == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err


def test_large_paths_are_restored():
    from gosplan.linalg import leontief

    before = leontief.DENSE_MAX, leontief.PARALLEL_CHECK_MIN, leontief.SCATTER_ACCUMULATORS
    with precompile._large_paths():
        assert (leontief.DENSE_MAX, leontief.PARALLEL_CHECK_MIN, leontief.SCATTER_ACCUMULATORS) == (0, 0, np.inf)
    assert (leontief.DENSE_MAX, leontief.PARALLEL_CHECK_MIN, leontief.SCATTER_ACCUMULATORS) == before


_KERNEL_MODULE = textwrap.dedent(
    """
    from gosplan._jit import njit

    @njit
    def twice(x):
        return 2.0 * x
    """
)

_WARM = textwrap.dedent(
    """
    from toypkg.kern import twice
    assert twice(1.5) == 3.0
    """
)

_PROBE = textwrap.dedent(
    """
    import json
    from toypkg.kern import twice
    assert twice(2.5) == 5.0
    s = twice.stats
    print(json.dumps({"hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values())}))
    """
)


def _toy_wheel(path: Path) -> Path:
    """A minimal wheel: ``toypkg`` with one cached kernel and a warm-up module."""
    files = {
        "toypkg/__init__.py": "",
        "toypkg/kern.py": _KERNEL_MODULE,
        "toypkg/warm.py": _WARM,
        "toypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: toypkg\nVersion: 1.0\n",
        "toypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    rows = []
    wheel = path / "toypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            data = text.encode()
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{name},sha256={digest},{len(data)}")
        rows.append("toypkg-1.0.dist-info/RECORD,,")
        zf.writestr("toypkg-1.0.dist-info/RECORD", "\n".join(rows) + "\n")
    return wheel


def test_wheel_carries_compiled_kernels_that_an_install_loads(tmp_path, monkeypatch):
    backend = _backend()
    wheel = _toy_wheel(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    added = backend.add_compiled_kernels(wheel, module="toypkg.warm", timeout=300)
    assert added == 2  # the kernel's index (.nbi) and its machine code (.nbc)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record = zf.read("toypkg-1.0.dist-info/RECORD").decode()
        cached = [n for n in names if n.startswith("toypkg/__pycache__/") and n.endswith((".nbi", ".nbc"))]
        assert len(cached) == 2
        rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(record)) if r}
        for name in names:  # RECORD lists every file with its true hash and size
            assert name in rows, name
            if not name.endswith("RECORD"):
                data = zf.read(name)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert rows[name] == [f"sha256={digest}", str(len(data))], name
        # "install": unpack somewhere else (new paths, new modification times)
        site = tmp_path / "site"
        zf.extractall(site)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT / "src")]))
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    stats = json.loads(out.stdout.splitlines()[-1])
    assert stats == {"hits": 1, "misses": 0}


def test_backend_asks_for_the_runtime_dependencies_only_when_it_compiles(monkeypatch):
    backend = _backend()
    runtime = backend._runtime_requirements()
    assert any(r.startswith("numba") for r in runtime)
    # setuptools' own answer (read from pyproject.toml by the setuptools of the build env)
    monkeypatch.setattr(backend._setuptools, "get_requires_for_build_wheel", lambda cs=None: ["wheel-sentinel"])
    monkeypatch.setenv(backend.ENV, "1")
    with_kernels = backend.get_requires_for_build_wheel()
    assert set(runtime) <= set(with_kernels)
    monkeypatch.setenv(backend.ENV, "0")
    plain = backend.get_requires_for_build_wheel()
    assert plain == ["wheel-sentinel"]
    # editable installs: setuptools' own hook, untouched (no run-time dependencies, no compiling)
    import setuptools.build_meta

    assert backend.get_requires_for_build_editable is setuptools.build_meta.get_requires_for_build_editable


def test_failed_compilation_still_builds_the_wheel(tmp_path, monkeypatch, capsys):
    backend = _backend()
    wheel = _toy_wheel(tmp_path)
    monkeypatch.setattr(backend._setuptools, "build_wheel", lambda *a, **k: wheel.name)
    monkeypatch.setenv(backend.ENV, "1")

    def broken(path, **kw):
        raise RuntimeError("python -m gosplan.precompile exited with 1")

    monkeypatch.setattr(backend, "add_compiled_kernels", broken)
    before = wheel.read_bytes()
    assert backend.build_wheel(str(tmp_path)) == wheel.name
    assert wheel.read_bytes() == before
    assert "kernels not precompiled (python -m gosplan.precompile exited with 1)" in capsys.readouterr().out

"""The numba kernels are cached on disk (issue 15: no cold-start tax) and the plain numpy
functions that replaced the row-moving kernels compute what the loops did."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher

from gosplan import _jit
from gosplan.linalg import kernels as K
from gosplan.precompile import KERNEL_MODULES



def _dispatchers(module_name: str) -> dict[str, CPUDispatcher]:
    mod = importlib.import_module(module_name)
    return {
        name: obj
        for name, obj in vars(mod).items()
        if isinstance(obj, CPUDispatcher) and obj.__module__ == module_name
        and obj.targetoptions.get("inline", "never") == "never"
    }


@pytest.mark.parametrize("module_name", KERNEL_MODULES)
def test_every_kernel_is_cached(module_name):
    kernels = _dispatchers(module_name)
    assert kernels, module_name
    for name, disp in kernels.items():
        where = f"{module_name}.{name}"
        assert not isinstance(disp._cache, NullCache), f"{where} compiles without cache=True"
        assert any(disp is k for k in _jit.KERNELS), f"{where} does not use gosplan._jit.njit"


def test_cache_switch(monkeypatch):
    monkeypatch.setenv(_jit.CACHE_ENV, "0")
    assert not _jit.caching()
    off = _jit.njit(_plus_one)
    assert isinstance(off._cache, NullCache)
    monkeypatch.setenv(_jit.CACHE_ENV, "1")
    on = _jit.njit(parallel=False)(_plus_one)
    assert not isinstance(on._cache, NullCache)
    _jit.KERNELS.remove(off)
    _jit.KERNELS.remove(on)
    with pytest.raises(TypeError, match="keyword options only"):
        _jit.njit("float64(float64)")


def _plus_one(x):  # pragma: no cover - compiled
    return x + 1.0


_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from gosplan.hierarchy import _kernels as H
    order = H.counting_order(np.array([2, 0, 1, 0], np.int64), 3)
    assert order.tolist() == [1, 3, 2, 0]
    s = H.counting_order.stats
    print(json.dumps({"hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values())}))
    """
)


def test_second_process_loads_from_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop(_jit.CACHE_ENV, None)
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["misses"] == 1 and runs[0]["hits"] == 0  # fresh directory: compiled and written
    assert runs[1]["hits"] == 1 and runs[1]["misses"] == 0  # loaded, not compiled
    assert list(tmp_path.rglob("*.nbi")) and list(tmp_path.rglob("*.nbc"))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64, np.uint32])
def test_row_moves_match_loops(index_dtype):
    rng = np.random.default_rng(7)
    n, k = 50, 3
    rows = rng.permutation(n)[:20].astype(index_dtype)
    src = rng.standard_normal((n, k))

    out = np.empty((rows.size, k))
    K.gather_rows(rows, src, out)
    ref = np.empty_like(out)
    for a, i in enumerate(rows):
        for q in range(k):
            ref[a, q] = src[i, q]
    assert np.array_equal(out, ref)

    Z = rng.standard_normal((n, k))
    ref = Z.copy()
    values = rng.standard_normal((rows.size, k))
    K.scatter_rows(rows, values, Z)
    for a, i in enumerate(rows):
        ref[i, :] = values[a, :]
    assert np.array_equal(Z, ref)

    local = np.full(n, -1, np.int64)
    K.set_local(rows, local, True)
    ref = np.full(n, -1, np.int64)
    for a, i in enumerate(rows):
        ref[i] = a
    assert np.array_equal(local, ref)
    K.set_local(rows, local, False)
    assert np.all(local == -1)


def test_csr_diagonal_sums_duplicates():
    # rows: 0 -> (0, 1.0), (0, 2.0) duplicate, (2, 5.0); 1 -> nothing; 2 -> (1, 3.0), (2, 4.0)
    indptr = np.array([0, 3, 3, 5], np.int64)
    indices = np.array([0, 2, 0, 1, 2], np.int32)
    data = np.array([1.0, 5.0, 2.0, 3.0, 4.0])
    d = K.csr_diagonal(indptr, indices, data)
    ref = np.zeros(3)
    for i in range(3):
        for e in range(indptr[i], indptr[i + 1]):
            if indices[e] == i:
                ref[i] += data[e]
    assert d.dtype == np.float64
    assert np.array_equal(d, ref) and np.array_equal(d, [3.0, 0.0, 4.0])


def test_no_writable_cache_directory_compiles_instead_of_failing():
    # A function numba cannot locate a cache for (as a read-only install without a
    # writable home): plain numba.njit(cache=True) raises at decoration; ours compiles.
    scope: dict = {}
    exec(compile("def f(x):\n    return 2.0 * x\n", "<no file>", "exec"), scope)
    with pytest.raises(RuntimeError, match="no locator"):
        import numba

        numba.njit(cache=True)(scope["f"])
    disp = _jit.njit(scope["f"])
    _jit.KERNELS.remove(disp)
    assert isinstance(disp._cache, NullCache)
    assert disp(1.5) == 3.0


def test_transpose_matches_dense_with_duplicates():
    rng = np.random.default_rng(3)
    n_rows, n_cols, nnz = 30, 40, 200
    rows = np.sort(rng.integers(0, n_rows, nnz))
    cols = rng.integers(0, n_cols, nnz)
    cols[1] = cols[0] = 5  # a duplicate entry
    rows[1] = rows[0]
    data = rng.standard_normal(nnz)
    indptr = np.zeros(n_rows + 1, np.int64)
    np.add.at(indptr, rows + 1, 1)
    indptr = np.cumsum(indptr)
    tptr, tind, tdat = K.transpose_csr_parallel(indptr, cols.astype(np.int32), data, n_cols, 4)
    assert (tptr.dtype, tind.dtype, tdat.dtype) == (np.int64, np.int32, np.float64)
    assert tptr.shape == (n_cols + 1,) and tind.shape == (nnz,)  # duplicates kept, not summed
    dense = np.zeros((n_rows, n_cols))
    np.add.at(dense, (rows, cols), data)
    dense_t = np.zeros((n_cols, n_rows))
    for j in range(n_cols):
        assert np.all(np.diff(tind[tptr[j] : tptr[j + 1]]) >= 0)  # columns ascend in each row
        for e in range(tptr[j], tptr[j + 1]):
            dense_t[j, tind[e]] += tdat[e]
    assert np.allclose(dense_t, dense.T, rtol=0, atol=1e-15)

"""Paths to the real input-output tables the tests read.

The originals are the plain CSV files of ``../shared/data`` (override the location with the
environment variable ``GOSPLAN_TEST_SHARED_DATA``; point it at a missing folder to run the
suite as a clone without ``shared/`` would). gosplan bundles gzip-compressed copies, byte for
byte, of every one of those folders (``src/gosplan/datasets``, checked against the originals
by tests/test_datasets.py when both are present). :func:`data` returns the original folder
when it exists and otherwise a folder of the bundled copies decompressed once per test
process, so every test that reads a real table runs in a clone without ``shared/``.
"""

from __future__ import annotations

import atexit
import gzip
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from gosplan.datasets import DATA_DIR, list_datasets

#: The original tables (may be absent).
DATA = Path(os.environ.get("GOSPLAN_TEST_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

#: Folders gosplan bundles as gzip copies of the originals (``registry.toml``).
BUNDLED = frozenset(r.folder for r in list_datasets())

#: For the tests that compare the bundled copies with the originals themselves.
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"original tables not found at {DATA} (nothing to compare the bundled copies with)"
)


@lru_cache(maxsize=1)
def _unpack_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="gosplan-test-data-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@lru_cache(maxsize=None)
def _unpacked(folder: str) -> Path:
    """The bundled copies of ``folder`` decompressed: the original files, byte for byte."""
    out = _unpack_root() / folder
    out.mkdir()
    for gz in sorted((DATA_DIR / folder).glob("*.csv.gz")):
        (out / gz.name[: -len(".gz")]).write_bytes(gzip.decompress(gz.read_bytes()))
    return out


def data(folder: str) -> Path:
    """The folder of real tables ``folder``: the original, else the bundled copies."""
    path = DATA / folder
    if path.is_dir():
        return path
    if folder in BUNDLED:
        return _unpacked(folder)
    pytest.skip(f"real table folder {path} not found and gosplan bundles no copy of {folder!r}")

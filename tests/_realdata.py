"""Paths to the real tables of ../shared/data (tests skip when they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real tables not found at {DATA}")


def data(folder: str) -> Path:
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"real table folder {path} not found")
    return path

"""``benchmarks/iteration_counts.py``: the pass counts behind BENCHMARKS.md's run L8 (issue 15, item 5).

Checked against what must hold whatever the economy: GMRES minimises the residual over the
Krylov space, so it needs no more products than BiCGSTAB (whose iterate after ``k`` products
lies in the same space); and the Neumann series converges at the spectral radius of ``A``,
which the generator sets exactly (``spectral_radius``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
iteration_counts = pytest.importorskip("iteration_counts")

from gosplan.synth import DEFAULT_SPECTRAL_RADIUS  # rho(A) of every generated economy


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return iteration_counts.main(["--n", "3000", "--inputs", "10", "--units", "2", "--tol", "1e-10"])


def _find(rows: list[dict], system: str, rhs: str, method: str) -> list[dict]:
    return [r for r in rows if r["system"] == system and r["rhs"].startswith(rhs) and r["method"].startswith(method)]


def test_every_krylov_solve_reaches_the_tolerance(rows):
    krylov = [r for r in rows if r["method"].startswith(("bicgstab", "gmres"))]
    assert len(krylov) == 2 * 2 + 2 * 2  # x and v with random right-hand sides, two unit ones
    for r in krylov:
        assert r["residual"] <= 1e-10 * 1.01, r


def test_gmres_needs_no_more_products_than_bicgstab(rows):
    for system, rhs in (("x", "random"), ("v", "random"), ("v", "e_f")):
        for b, g in zip(_find(rows, system, rhs, "bicgstab"), _find(rows, system, rhs, "gmres"), strict=True):
            assert b["rhs"] == g["rhs"]
            # each counts the product of its first residual; GMRES may stop one product later
            # than the exact count at which its residual crossed the tolerance
            assert g["products"] <= b["products"] + 1, (b, g)


def test_the_neumann_series_converges_at_the_spectral_radius(rows):
    for system in ("x", "v"):
        (r,) = _find(rows, system, "random", "jacobi")
        assert r["products"] is not None
        assert r["rate"] == pytest.approx(DEFAULT_SPECTRAL_RADIUS, abs=0.03)
        # the residual falls by rho a sweep: about log(tol) / log(rho) sweeps, and never fewer
        # than a Krylov method needs
        assert r["products"] >= np.log(1e-10) / np.log(DEFAULT_SPECTRAL_RADIUS) - 8
        (b,) = _find(rows, system, "random", "bicgstab")
        assert r["products"] > b["products"]


def test_every_gauss_seidel_order_converges(rows):
    sweeps = [r for r in rows if r["method"].startswith("gauss-seidel")]
    assert len(sweeps) == 8
    for r in sweeps:
        assert r["products"] is not None, r
        # Stein-Rosenberg: on A >= 0, Gauss-Seidel converges no slower than Jacobi
        assert 0 < r["rate"] < DEFAULT_SPECTRAL_RADIUS + 0.03, r

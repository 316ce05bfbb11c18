"""gosplan.balance on every real table against a dense numpy solve, and its multipliers
against pymrio (M = S L, output multipliers = column sums of L)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import gosplan
from _realdata import data
from gosplan.datasets import list_datasets, load_dataset
from gosplan.errors import DataQualityWarning, NegativeCoefficientWarning

RTOL = 1e-9


def load_quietly(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        return load_dataset(name)


def close(actual, reference, rtol: float = RTOL) -> None:
    """Relative agreement: elementwise rtol, entries near zero measured against the largest."""
    actual, reference = np.asarray(actual), np.asarray(reference)
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=rtol * np.abs(reference).max())


@pytest.fixture(scope="module", params=[d.name for d in list_datasets()])
def solved(request):
    eco = load_quietly(request.param)
    A = eco.A.toarray()
    M = np.eye(len(A)) - A
    res = gosplan.balance(eco)
    return eco, M, res


def test_balance_gross_output_and_values_match_dense_solve(solved) -> None:
    eco, M, res = solved
    assert res.success, res.message
    close(res.gross_output, np.linalg.solve(M, eco.y))
    if eco.labour is not None:
        close(res.labour_values, np.linalg.solve(M.T, eco.l))
    else:
        assert res.labour_values is None


def test_balance_multipliers_match_dense_inverse(solved) -> None:
    eco, M, res = solved
    L = np.linalg.inv(M)
    close(res.output_multipliers, L.sum(axis=0))
    if len(eco.resources):
        P = eco.primary_coefficients
        for k in range(len(eco.resources)):
            close(res.primary_multipliers[k], P[k] @ L)


# ----------------------------------------------------------------------------- pymrio


def pymrio_system(name: str):
    pymrio = pytest.importorskip("pymrio")
    if name == "pymrio-test":
        io = pymrio.load_test()
    else:  # WIOD 2011 as a pymrio IOSystem, straight from the CSVs
        d = data("wiod2013_2011")
        Z = pd.read_csv(d / "Z.csv", index_col=[0, 1], header=[0, 1]).astype(float)
        Y = pd.read_csv(d / "Y.csv", index_col=[0, 1], header=[0, 1]).astype(float)
        x = pd.read_csv(d / "x.csv", index_col=[0, 1]).astype(float)
        va = pd.read_csv(d / "va_residual.csv", index_col=0, header=[0, 1]).astype(float)
        va.columns = Z.columns
        io = pymrio.IOSystem(Z=Z, Y=Y, x=x, name="wiod-2011")
        io.factor_inputs = pymrio.Extension(name="factor_inputs", F=va)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io.calc_all()
    return io


@pytest.mark.parametrize("name", ["pymrio-test", "wiod-2011"])
def test_multipliers_equal_pymrio(name: str) -> None:
    io = pymrio_system(name)
    eco = load_quietly(name)
    res = gosplan.balance(eco)
    L = io.L.to_numpy()
    close(res.output_multipliers, L.sum(axis=0))
    S = {}
    for ext in io.get_extensions(data=True):
        for label, row in zip(ext.M.index, ext.M.to_numpy()):
            lab = ":".join(label) if isinstance(label, tuple) else str(label)
            S[lab] = row
    for k, r in enumerate(eco.resources):
        key = r.split(":", 1)[1] if r.startswith("emissions:") else r
        close(res.primary_multipliers[k], S[key])
    # and the economy's coefficients are pymrio's
    close(eco.A.toarray(), io.A.to_numpy(), rtol=1e-8 if name == "pymrio-test" else 1e-14)

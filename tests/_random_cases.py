"""Random small economies with the features the Leontief method must handle or refuse: the
cases of ``benchmarks/sweep_leontief.py`` (which documents the distribution), shared with the
tests that pin cases found by it."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

__all__ = ["draw"]


def draw(seed: int, sizes: tuple[int, int] = (6, 30)):
    """One case of ``sizes[0] <= n < sizes[1]`` products: ``(economy, plan arguments, harmony
    weights, priority classes, features)``."""
    from test_plan_harmony_leontief import _random_economy

    import gosplan

    rng = np.random.default_rng(10_000 + seed)
    n = int(rng.integers(*sizes))
    econ, resources, caps = _random_economy(seed, n)
    negative = rng.random() < 0.35
    U, O, P = (sp.csr_array(getattr(econ, k)).toarray() for k in ("use", "make", "primary"))
    activities = list(econ.activities)
    y = np.asarray(econ.y, dtype=float)
    if negative:  # one technique each, a few negative inputs (by-products)
        U, O, P, activities = U[:, :n], O[:, :n], P[:, :n], activities[:n]
        for _ in range(int(rng.integers(1, 4))):
            k, j = rng.integers(0, n, size=2)
            if k != j:
                U[k, j] = -rng.uniform(0.01, 0.15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        econ = gosplan.Economy(products=list(econ.products), use=U, make=O, activities=activities, primary=P,
                               resources=list(econ.resources), demand=y.reshape(-1, 1), categories=["fd"])
    kw: dict = {"resources": resources}
    if rng.random() < 0.6:
        kw["capacities"] = caps
    imports = rng.random() < 0.5
    if imports:
        try:
            x = np.linalg.solve((O - U)[:, :n], y)
        except np.linalg.LinAlgError:
            x = np.ones(n)
        use = U[:, :n] @ np.maximum(x, 0)
        committed = {f"p{i}": -float(use[i] * (rng.uniform(2, 5) if rng.random() < 0.3 else rng.uniform(0.1, 0.9)))
                     for i in range(n) if use[i] > 1e-9 and rng.random() < 0.35}
        if committed:
            kw["committed"] = kw["floors"] = committed
    if not imports and rng.random() < 0.3:
        floors = {f"p{i}": -float(rng.uniform(0.01, 0.5)) for i in np.flatnonzero(y == 0)}
        if floors:
            kw["floors"] = floors
    if rng.random() < 0.25:
        kw["ceilings"] = {f"p{i}": float(y[i] * rng.uniform(1.0, 1.5) + 0.05) for i in rng.choice(n, 2, replace=False)}
    classes = {f"p{i}": int(rng.integers(1, 4)) for i in np.flatnonzero(y > 0)} if rng.random() < 0.4 else None
    r = rng.random()
    weights = "value" if r < 0.3 else ({f"p{i}": float(rng.uniform(0.3, 3)) for i in range(n)} if r < 0.5 else None)
    features = [name for name, on in (("negative inputs", negative), ("capacities", "capacities" in kw),
                                      ("net imports", "committed" in kw), ("floors", "floors" in kw and not imports),
                                      ("ceilings", "ceilings" in kw)) if on]
    return econ, kw, weights, classes, features

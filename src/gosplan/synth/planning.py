"""Synthetic planning problems: a synthetic economy with alternative techniques,
limited resources and capacities (the benchmark family of ``docs/planning.md``).

Starting from :func:`gosplan.synth.generate` (square, labour plus other resources):

* a share of the products get a second technique: the inputs of the first scaled
  coefficient by coefficient by ``U(0.6, 1.4)`` and each resource by ``U(0.5, 1.5)``,
  so that techniques trade one resource against another and against inputs;
* each resource is limited to a share of what the table's own plan ``x̂ = (I − A)⁻¹ y``
  uses (labour 100 %, then 95 %, 90 %, ...), so that several bind;
* a share of the products get a capacity of ``U(0.97, 1.4) x̂_i``;
* the targeted products (``y_i > 0``) fall into ``classes`` priority classes at random, in
  equal shares (class 1 the most urgent), for ``fulfilment`` plans by class
  (``gosplan.plan(..., priorities=instance.priorities)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.model.economy import Economy

__all__ = ["PlanningInstance", "planning_instance"]


@dataclass(frozen=True, eq=False)
class PlanningInstance:
    """An economy with techniques, and the resources and capacities a plan must respect."""

    economy: Economy
    resources: pd.Series
    capacities: pd.Series
    base_output: np.ndarray
    priorities: pd.Series | None = None  # priority class of each targeted product (1 most urgent)


def planning_instance(
    n_products: int,
    inputs: float = 10,
    *,
    seed: int,
    technique_share: float = 0.1,
    capacity_share: float = 0.1,
    resources: tuple[str, ...] = ("land", "co2"),
    classes: int = 3,
) -> PlanningInstance:
    """A synthetic planning problem (see the module); the same arguments give the same problem."""
    from gosplan.material_balance import balance
    from gosplan.synth import generate

    base = generate(n_products, inputs, seed=seed, resources=resources)
    rng = np.random.default_rng([seed, 7])
    n = base.n_products
    x_hat = balance(base, values=False, multipliers=False).raise_for_status().gross_output
    k = int(round(technique_share * n))
    alt = np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
    U = sp.csc_array(base.use)
    Ualt = sp.csc_array(U[:, alt])
    Ualt.data *= rng.uniform(0.6, 1.4, size=Ualt.nnz)
    Palt = sp.csc_array(base.primary[:, alt]).toarray() * rng.uniform(0.5, 1.5, size=(base.primary.shape[0], k))
    use = sp.csr_array(sp.hstack([U, Ualt], format="csr"))
    make = sp.csr_array(
        (np.ones(n + k), (np.concatenate([np.arange(n), alt]), np.arange(n + k))), shape=(n, n + k)
    )
    primary = sp.csr_array(sp.hstack([base.primary, sp.csr_array(Palt)], format="csr"))
    labels = base.products.astype(str)
    activities = pd.Index(np.concatenate([labels.to_numpy(), labels.to_numpy()[alt] + "/alt"]), dtype=object)
    economy = Economy(
        products=labels,
        use=use,
        make=make,
        activities=activities,
        primary=primary,
        resources=base.resources,
        demand=base.demand,
        categories=base.categories,
        labour=base.labour,
        meta=base.meta,
        names=None if base.names is None else base.names.to_numpy(),
        product_units=None if base.product_units is None else base.product_units.to_numpy(),
    )
    used = base.primary @ x_hat
    shares = np.array([1.0 - 0.05 * q for q in range(len(used))])
    available = pd.Series(used * shares, index=base.resources.astype(str))
    c = int(round(capacity_share * n))
    capped = np.sort(rng.choice(n, size=c, replace=False)) if c else np.zeros(0, dtype=np.int64)
    capacities = pd.Series(x_hat[capped] * rng.uniform(0.97, 1.4, size=c), index=labels[capped])
    priorities = None
    if classes > 0:  # drawn last: the rest of the instance is the same with or without classes
        targeted = np.flatnonzero(np.asarray(base.y) > 0)
        priorities = pd.Series(1 + rng.permutation(targeted.size) % classes, index=labels[targeted], name="class")
    return PlanningInstance(economy=economy, resources=available, capacities=capacities, base_output=x_hat,
                            priorities=priorities)

"""The planning problem: an economy together with what the plan must respect.

:func:`planning_problem` turns an :class:`~gosplan.model.economy.Economy` and the
planner's inputs (targets, priority classes, available resources, capacities,
floors, ceilings, harmony weights, resource costs) into a :class:`PlanProblem`:
plain arrays in the economy's product, activity and resource order, every input
checked and every bad entry named.

Notation: activities (techniques) ``j``, products ``i``, resources ``r``;
net output ``f = (O - U) x``, gross output ``g = O x``, resource use ``P x``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import DataQualityWarning, InvalidEconomyError, Location
from gosplan.io.keyed import align_keyed, read_keyed
from gosplan.model.economy import Economy, quoted_name, worded_name

__all__ = ["OBJECTIVES", "PlanProblem", "planning_problem"]

OBJECTIVES = ("fulfilment", "harmony", "cost")

# What each planner input file holds: (header, minimum value, whole numbers only).
FILES = {
    "targets": (("product", "quantity"), 0.0, False),
    "priorities": (("product", "class"), 1.0, True),
    "resources": (("resource", "available"), 0.0, False),
    "capacities": (("product", "capacity"), 0.0, False),
    "floors": (("product", "floor"), None, False),
    "ceilings": (("product", "ceiling"), None, False),
    "weights": (("product", "weight"), None, False),
    "costs": (("resource", "cost"), 0.0, False),
    "committed": (("product", "quantity"), None, False),
}


@dataclass(frozen=True, eq=False)
class PlanProblem:
    """Arrays of one planning problem (see the module for the notation).

    Attributes
    ----------
    net:
        ``N = O - U`` (``n x m``, CSR): net output of each product per unit of each activity.
    make:
        ``O`` (``n x m``, CSR): gross output per unit of activity.
    primary:
        ``P`` (``r x m``, CSR).
    available:
        ``R`` (``r``), ``inf`` where a resource is not limited.
    capacity:
        Capacity of each product's gross output (``n``), ``inf`` where none.
    target:
        ``y >= 0`` (``n``).
    priority:
        Priority class of each product (``n``, ``1`` most urgent); ``0`` where ``y_i = 0``.
    floor, ceiling:
        Bounds on net output (``n``); the floor defaults to ``0`` (nothing is
        consumed that is not produced) — or, with the table's own demand as target,
        to a negative final demand in the table (net imports) — the ceiling to ``inf``.
    weight:
        Harmony weights (``n``, positive).
    cost:
        Cost weight of each resource (``r``) for the ``cost`` objective.
    committed:
        Final demand met before any target (``n``, may be negative: net imports), or
        ``None``: the balances read ``N x >= committed + z y`` (see :attr:`base`).
    """

    name: str
    products: pd.Index
    activities: pd.Index
    resources: pd.Index
    labour: int | None
    net: sp.csr_array
    make: sp.csr_array
    primary: sp.csr_array
    available: np.ndarray
    capacity: np.ndarray
    target: np.ndarray
    priority: np.ndarray
    floor: np.ndarray
    ceiling: np.ndarray
    weight: np.ndarray
    cost: np.ndarray
    square: bool
    units: str = "units"
    labour_unit: str = "labour"
    committed: np.ndarray | None = None
    resource_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    names: pd.Series | None = None  # the products' published names, where the economy has them

    @property
    def n(self) -> int:
        return len(self.products)

    @property
    def m(self) -> int:
        return len(self.activities)

    @property
    def base(self) -> np.ndarray:
        """Committed final demand (``n``), zero when there is none."""
        return np.zeros(self.n) if self.committed is None else self.committed

    @property
    def base_floor(self) -> np.ndarray:
        """Committed demand as a lower bound where no target sits on top of it: ``-inf`` when
        there is none (so that negative floors, net imports, stay as they are)."""
        return np.full(self.n, -np.inf) if self.committed is None else self.committed

    @property
    def classes(self) -> list[int]:
        """Priority classes present among the targets, most urgent first."""
        return sorted(int(k) for k in np.unique(self.priority[self.target > 0]))

    def negative_coefficient(self, resources: np.ndarray | None = None, inputs: bool = True) -> str:
        """Where the most negative input (``U = O - N``) or resource coefficient sits, in
        words (``""`` when there is none), for messages that must name the entry; only the
        resources at the positions ``resources`` when given, and no inputs with ``inputs=False``."""
        primary, names = self.primary, self.resources
        if resources is not None:
            primary, names = sp.csr_array(primary)[resources], names[resources]
        parts = [("input", self.make - self.net, self.products)] if inputs else []
        for what, M, rows in parts + [("use", primary, names)]:
            M = sp.coo_array(M)
            bad = np.flatnonzero(M.data < -1e-15)
            if bad.size:
                k = bad[np.argmin(M.data[bad])]
                more = f", and {bad.size - 1} more" if bad.size > 1 else ""
                row = self._named(rows[M.row[k]]) if what == "input" else repr(rows[M.row[k]])
                return (f"{'input of' if what == 'input' else 'use of'} {row} by technique "
                        f"{self._named(self.activities[M.col[k]])} is {M.data[k]:.6g}{more}")
        return ""

    def product_words(self, label: Any) -> str:
        """``code (name)`` for a product label that has a published name, else the code."""
        return worded_name(self.names, self.products, label)

    def _named(self, label: Any) -> str:
        """``'code' (name)`` for a product label (or a technique labelled like its product)
        that has a published name, else ``'code'``."""
        return quoted_name(self.names, self.products, label)

    @cached_property
    def _makers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Products some technique makes, where their entries of ``O`` start, and the owner of each entry."""
        counts = np.diff(self.make.indptr)
        rows = np.flatnonzero(counts > 0)
        return rows, self.make.indptr[rows], np.repeat(np.arange(rows.size), counts[rows])

    def best_technique(self, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each product, the technique making it with the least ``score[j]`` (the first
        listed on ties) and that score; ``-1`` and ``inf`` for products nothing makes."""
        rows, starts, owner = self._makers
        choice = np.full(self.n, -1, dtype=np.int64)
        best = np.full(self.n, np.inf)
        if rows.size:
            by_entry = np.asarray(score)[self.make.indices]
            low = np.minimum.reduceat(by_entry, starts)
            position = np.where(by_entry <= low[owner], np.arange(by_entry.size), by_entry.size)
            choice[rows] = self.make.indices[np.minimum.reduceat(position, starts)]
            best[rows] = low
        return choice, best


def _keyed(value: Any, kind: str) -> pd.Series | np.ndarray | None:
    """A planner input as a Series (from a path, mapping, Series, frame) or an array."""
    if value is None:
        return None
    header, minimum, integer = FILES[kind]
    if isinstance(value, (str, Path)):
        return read_keyed(value, header, minimum=minimum, integer=integer, kind=f"a {kind} file")
    if isinstance(value, pd.DataFrame):
        missing = [c for c in header if c not in value.columns]
        if missing:
            raise InvalidEconomyError(f"{kind} table lacks column(s) {missing}; expected {','.join(header)}")
        value = pd.Series(value[header[1]].to_numpy(), index=value[header[0]].astype(str))
    if isinstance(value, Mapping) and not isinstance(value, pd.Series):
        value = pd.Series(dict(value), dtype=float)
    if isinstance(value, pd.Series):
        values = pd.to_numeric(value, errors="coerce").to_numpy(dtype=np.float64)
        _check_values(values, [str(k) for k in value.index], kind, value.attrs.get("file"))
        out = pd.Series(values, index=pd.Index([str(k) for k in value.index], dtype=object))
        out.attrs.update(value.attrs)
        return out
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    return arr


def _check_values(values: np.ndarray, keys: list[str], kind: str, file: str | None) -> None:
    header, minimum, integer = FILES[kind]
    problems = [(~np.isfinite(values), "is not a finite number")]
    if minimum is not None:
        problems.append((values < minimum, f"must be at least {minimum:g}"))
    if integer:
        problems.append((values != np.round(values), "must be a whole number"))
    for bad, why in problems:
        bad = bad & np.isfinite(values) if why != "is not a finite number" else bad
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidEconomyError(
                f"{kind}: {header[1]} {values[k]!r} of {header[0]} {keys[k]!r} {why}",
                Location(file=file, column=header[1], product=keys[k], key=header[0]),
            )


def _vector(value: Any, kind: str, labels: pd.Index, owner: str, fill: float) -> np.ndarray:
    keyed = _keyed(value, kind)
    header = FILES[kind][0]
    if keyed is None:
        return np.full(len(labels), fill)
    if isinstance(keyed, pd.Series):
        return align_keyed(keyed, labels, what=header[0], owner=owner, fill=fill)
    if keyed.shape != (len(labels),):
        raise InvalidEconomyError(f"{kind} has length {keyed.size}, expected {len(labels)} ({header[0]}s)")
    _check_values(keyed, [str(p) for p in labels], kind, None)
    return keyed


def labour_values(economy: Economy) -> np.ndarray:
    """Labour values ``v = l_B (I - A_B)^-1``, each positive (a product without one at the median
    of the others; ones where the economy has no labour). ``B`` is the table's own technique in a
    square economy; with several techniques per product, the least-labour choice (by the
    substitution theorem one choice is cheapest in labour for every net output; found by policy
    iteration, under the Leontief method's conditions: no joint production, no negative
    coefficients)."""
    n = economy.n_products
    if economy.labour is None:
        return np.ones(n)
    if economy.is_square:
        from gosplan.material_balance import balance

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = balance(economy, multipliers=False).labour_values
    else:
        from gosplan.planning.substitution import NotApplicable, _Structure, applicable

        problem = planning_problem(economy, targets=np.zeros(n), resources={})  # nothing limited
        why = applicable(problem, "fulfilment")
        if why:
            raise InvalidEconomyError(
                f"economy {economy.meta.name!r} has several techniques, and its labour values (those of the "
                f"least-labour choice) are not defined: {why}; give the weights (product,weight)"
            )
        st = _Structure.build(problem, "fulfilment")
        labour = np.asarray(sp.csr_array(problem.primary)[[problem.labour]].toarray()).ravel()
        try:
            v = st.cheapest(labour)
        except NotApplicable as exc:
            raise InvalidEconomyError(f"economy {economy.meta.name!r}: no least-labour technique choice ({exc})") from None
    v = np.asarray(v, dtype=np.float64)
    ok = np.isfinite(v) & (v > 0)
    if not ok.any():
        return np.ones(economy.n_products)
    return np.where(ok, v, float(np.median(v[ok])))


def value_weights(economy: Economy, targets: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Harmony weights ``w_i = v_i y_i`` (``weights="value"``): each target's value at the
    labour values (:func:`labour_values`, or ``values``), scaled to mean 1 over the
    targets; 1 where there is no target. With labour the only limited resource the harmony plan
    then meets every target in the same proportion (``H'(s_i) = pi_i / v_i``, the same for all)."""
    y = np.asarray(targets, dtype=np.float64)
    v = labour_values(economy) if values is None else np.asarray(values, dtype=np.float64)
    value = v * np.where(y > 0, y, 0.0)
    on = value > 0
    w = np.ones(economy.n_products)
    if on.any():
        w[on] = value[on] / float(value[on].mean())
    return w


def _default_labour_available(economy: Economy) -> np.ndarray:
    """Each resource's use in the table's own plan: ``P x`` for ``(I - A) x = y``."""
    if not economy.is_square:
        raise InvalidEconomyError(
            f"economy {economy.meta.name!r} has several techniques or joint products, so it has no "
            "single 'own' resource total: give the available resources (resource,available)"
        )
    from gosplan.material_balance import balance

    result = balance(economy, values=False, multipliers=False)
    result.raise_for_status()
    make = economy.make.diagonal() if economy.make is not None else 1.0
    return economy.primary @ (result.gross_output / make)


def planning_problem(
    economy: Economy,
    *,
    targets: Any = None,
    priorities: Any = None,
    resources: Any = None,
    capacities: Any = None,
    floors: Any = None,
    ceilings: Any = None,
    weights: Any = None,
    costs: Any = None,
    committed: Any = None,
) -> PlanProblem:
    """Check and align the planner's inputs with ``economy`` (see :func:`gosplan.plan`).

    Each input may be a path to a ``key,value`` CSV/Parquet file (headers in
    ``FILES``), a mapping or Series keyed by label, a two-column DataFrame, or an
    array in the economy's order; ``None`` means the default.
    """
    owner = f"economy {economy.meta.name!r}"
    products, resources_ix = economy.products, economy.resources
    n, r = economy.n_products, len(resources_ix)
    table_floor = np.zeros(n)
    if targets is None:
        y = economy.y.copy()
        negative = np.flatnonzero(y < 0)
        if negative.size:
            # Net imports and stock drawdowns: the table's own plan consumes more of these
            # than it makes. They keep that as their floor, so the table's plan stays feasible.
            k = int(negative[0])
            warnings.warn(
                f"{economy.meta.name}: {negative.size} product(s) have negative final demand in the table "
                f"(e.g. {products[k]!r}: {y[k]:.6g}); their target is 0 and their net output may fall "
                "to the table's figure",
                DataQualityWarning,
                stacklevel=3,
            )
            table_floor[negative] = y[negative]
            y[negative] = 0.0
    else:
        y = _vector(targets, "targets", products, owner, 0.0)
    priority = _vector(priorities, "priorities", products, owner, 0.0)
    if priorities is not None:
        named = priority > 0
        if (~named & (y > 0)).any():
            priority[~named] = float(priority.max(initial=0.0) + 1)  # the unnamed come last
    else:
        priority[:] = 1.0
    priority = np.where(y > 0, priority, 0.0).astype(np.int64)
    if resources is None:
        available = np.full(r, np.inf)
        if economy.labour is not None:
            k = resources_ix.get_loc(economy.labour)
            available[k] = _default_labour_available(economy)[k]
    else:
        available = _vector(resources, "resources", resources_ix, owner, np.inf)
    capacity = _vector(capacities, "capacities", products, owner, np.inf)
    floor = _vector(floors, "floors", products, owner, np.nan)
    floor = np.where(np.isnan(floor), table_floor, floor)
    ceiling = _vector(ceilings, "ceilings", products, owner, np.inf)
    bad = np.flatnonzero(floor > ceiling)
    if bad.size:
        i = int(bad[0])
        raise InvalidEconomyError(
            f"floor {floor[i]:g} is above ceiling {ceiling[i]:g}", Location(product=str(products[i]))
        )
    if isinstance(weights, str) and weights == "value":
        weight = value_weights(economy, y)
    else:
        weight = _vector(weights, "weights", products, owner, 1.0)
    if (weight <= 0).any():
        i = int(np.flatnonzero(weight <= 0)[0])
        raise InvalidEconomyError(f"harmony weight {weight[i]:g} must be positive", Location(product=str(products[i])))
    if costs is None:
        cost = np.zeros(r)
        if economy.labour is None:
            if r:
                cost[0] = 1.0
        else:
            cost[resources_ix.get_loc(economy.labour)] = 1.0
    else:
        cost = _vector(costs, "costs", resources_ix, owner, 0.0)
    base = None
    if committed is not None:
        base = _vector(committed, "committed", products, owner, 0.0)
        if not np.isfinite(base).all():
            i = int(np.flatnonzero(~np.isfinite(base))[0])
            raise InvalidEconomyError(f"committed demand {base[i]!r} must be finite", Location(product=str(products[i])))
    make = economy.make if economy.make is not None else sp.identity(n, format="csr")
    make = sp.csr_array(make)
    _check_techniques(economy, make)
    net = sp.csr_array(make - economy.use)
    net.sum_duplicates()
    net.eliminate_zeros()
    labour = resources_ix.get_loc(economy.labour) if economy.labour is not None else None
    return PlanProblem(
        name=economy.meta.name,
        products=products,
        activities=economy.activities,
        resources=resources_ix,
        labour=labour,
        net=net,
        make=make,
        primary=economy.primary,
        available=available,
        capacity=capacity,
        target=y,
        priority=priority,
        floor=floor,
        ceiling=ceiling,
        weight=weight,
        cost=cost,
        square=economy.is_square,
        units=economy.meta.units,
        labour_unit=economy.meta.labour_unit,
        committed=base,
        resource_texts=economy.meta.resource_texts(economy.resources),
        names=economy.names,
    )


def _check_techniques(economy: Economy, make: sp.csr_array) -> None:
    """Every technique makes something; every product with a target or floor can be made."""
    made = np.asarray(abs(make).sum(axis=0)).ravel()
    idle = np.flatnonzero(made <= 0)
    if idle.size:
        j = int(idle[0])
        raise InvalidEconomyError(
            f"technique {economy.activities[j]!r} has no output (its column of the make table is empty)",
            Location(product=str(economy.activities[j])),
        )

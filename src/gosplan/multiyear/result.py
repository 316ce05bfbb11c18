"""A multi-year plan: what to produce, consume and invest year by year, the stocks it builds,
and the prices of every year."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gosplan._json import finite_or_none as _num
from gosplan.planning.result import Stage, raise_unless_optimal
from gosplan.results import Status

__all__ = ["MultiYearPlanResult"]


@dataclass(frozen=True, eq=False)
class MultiYearPlanResult:
    """The plan (or why there is none), per year ``t``.

    Arrays are ``(rows, T)``: per activity ``level`` ``x``; per product ``output = O x``,
    ``intermediate = U x``, ``accumulation`` (investment goods made of it),
    ``consumption = output - intermediate - accumulation``, ``target``, ``price`` (the
    shadow price of its balance); per stock ``k = (i, j)`` ``stock`` (available at the
    start of the year), ``required = b_k x_j``, ``investment``, ``depreciation`` and ``rent``
    (shadow price of the capital constraint). Per year ``fulfilment`` (the plan ray
    ``z_t``; under harmony, cost or priority classes the smallest ``c_it / target_it``),
    ``labour_used``, ``labour_supply``, ``labour_price``; per limited resource other than
    labour (``resources``) ``resource_use``, ``resource_supply``, ``resource_price``; per
    priority class ``class_fulfilment[k]`` (its ray ``z_{k,t}``). Prices are ``>= 0``: the
    gain in the objective per unit of the product, labour, resource or stock (for ``cost``:
    the cost saved; ``docs/multiyear.md``).
    """

    economy: str
    objective_kind: str
    status: Status
    message: str
    objective: float
    years: pd.Index
    products: pd.Index
    activities: pd.Index
    stock_product: np.ndarray
    stock_activity: np.ndarray
    weights: np.ndarray
    level: np.ndarray
    output: np.ndarray
    intermediate: np.ndarray
    accumulation: np.ndarray
    consumption: np.ndarray
    target: np.ndarray
    price: np.ndarray
    capacity: np.ndarray
    labour_use: np.ndarray  # per activity, m x T
    stock: np.ndarray
    required: np.ndarray
    investment: np.ndarray
    depreciation: np.ndarray
    rent: np.ndarray
    end_stock: np.ndarray
    fulfilment: np.ndarray
    labour_used: np.ndarray
    labour_supply: np.ndarray
    labour_price: np.ndarray
    max_violation: float
    duality_gap: float
    method: str
    seconds: float
    iterations: int
    stages: tuple[Stage, ...] = ()
    conflict: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    units: str = "units"
    labour_unit: str = "labour"
    detail: dict[str, Any] = field(default_factory=dict)
    #: the economy's names and units of its resources (:meth:`EconomyMeta.resource_texts`)
    resource_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    resources: pd.Index = field(default_factory=lambda: pd.Index([], name="resource"))
    resource_use: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # P_r x_t, r' x T
    resource_supply: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # R_{r,t}
    resource_price: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # >= 0
    class_fulfilment: dict[int, np.ndarray] = field(default_factory=dict)  # z_{k,t} per priority class

    # ------------------------------------------------------------------ convenience
    @property
    def success(self) -> bool:
        return self.status is Status.OPTIMAL

    @property
    def product_fulfilment(self) -> np.ndarray:
        """``c_it / target_it`` (``n x T``), ``NaN`` where there is no target."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.target > 0, self.consumption / self.target, np.nan)

    @property
    def price_in_labour(self) -> np.ndarray:
        """Shadow prices divided by the year's labour price (``NaN`` in a year where labour is free)."""
        lab = np.where(self.labour_price > 0, self.labour_price, np.nan)
        return self.price / lab

    def raise_for_status(self) -> "MultiYearPlanResult":
        """Raise unless the plan is optimal (infeasible, unbounded, limits, failed checks); return self."""
        raise_unless_optimal(self.status, self.message)
        return self

    # ------------------------------------------------------------------ tables
    def _long(self, labels: pd.Index, name: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        T = len(self.years)
        k = len(labels)
        frame = {
            "year": np.repeat(np.asarray(self.years.astype(str)), k),
            name: np.tile(np.asarray(labels.astype(str)), T),
        }
        for col, arr in columns.items():
            frame[col] = np.asarray(arr, dtype=np.float64).T.reshape(-1)
        return pd.DataFrame(frame)

    def years_frame(self) -> pd.DataFrame:
        """One row per year: fulfilment, labour supply/use/price, objective weight."""
        return pd.DataFrame(
            {
                "year": np.asarray(self.years.astype(str)),
                "fulfilment": self.fulfilment,
                "labour_supply": self.labour_supply,
                "labour_used": self.labour_used,
                "labour_price": self.labour_price,
                "weight": self.weights,
            }
        )

    def products_frame(self) -> pd.DataFrame:
        """One row per (year, product): output, intermediate use, accumulation, consumption, target, fulfilment, prices."""
        return self._long(
            self.products, "product",
            {
                "output": self.output, "intermediate": self.intermediate, "accumulation": self.accumulation,
                "consumption": self.consumption, "target": self.target, "fulfilment": self.product_fulfilment,
                "price": self.price, "price_in_labour": self.price_in_labour,
            },
        )

    def activities_frame(self) -> pd.DataFrame:
        """One row per (year, activity): level, capacity its stocks allow, labour used."""
        return self._long(
            self.activities, "activity", {"level": self.level, "capacity": self.capacity, "labour": self.labour_use}
        )

    def stocks_frame(self) -> pd.DataFrame:
        """One row per (year, capital stock): stock, required, investment, depreciation, rent."""
        T, nk = len(self.years), self.stock_product.size
        return pd.DataFrame(
            {
                "year": np.repeat(np.asarray(self.years.astype(str)), nk),
                "product": np.tile(np.asarray(self.products[self.stock_product].astype(str)), T),
                "activity": np.tile(np.asarray(self.activities[self.stock_activity].astype(str)), T),
                "stock": self.stock.T.reshape(-1),
                "required": self.required.T.reshape(-1),
                "investment": self.investment.T.reshape(-1),
                "depreciation": self.depreciation.T.reshape(-1),
                "rent": self.rent.T.reshape(-1),
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``summary.json``)."""
        return {
            "economy": self.economy,
            "objective_kind": self.objective_kind,
            "status": self.status.value,
            "message": self.message,
            "objective": _num(self.objective),
            "years": [str(y) for y in self.years],
            "fulfilment": {str(y): _num(z) for y, z in zip(self.years, self.fulfilment)},
            "labour": {
                str(y): {"supply": _num(s), "used": _num(u), "price": _num(p)}
                for y, s, u, p in zip(self.years, self.labour_supply, self.labour_used, self.labour_price)
            },
            "resources": {
                str(r): {
                    str(y): {"supply": _num(s), "used": _num(u), "price": _num(p)}
                    for y, s, u, p in zip(self.years, self.resource_supply[q], self.resource_use[q], self.resource_price[q])
                }
                for q, r in enumerate(self.resources)
            },
            "class_fulfilment": {
                str(k): {str(y): _num(z) for y, z in zip(self.years, zk)} for k, zk in self.class_fulfilment.items()
            },
            "duality_gap": _num(self.duality_gap),
            "max_violation": _num(self.max_violation),
            "method": self.method,
            "seconds": self.seconds,
            "iterations": self.iterations,
            "products": len(self.products),
            "activities": len(self.activities),
            "capital_stocks": int(self.stock_product.size),
            "capital": self._capital_by_year(),
            "conflict": list(self.conflict),
            "stages": [s.to_dict() for s in self.stages],
            "notes": list(self.notes),
            "units": self.units,
            "labour_unit": self.labour_unit,
            **self.resource_texts,
            **({"detail": self.detail} if self.detail else {}),
        }

    def _capital_by_year(self, shown: int = 3) -> dict[str, dict[str, Any]]:
        """Per year the capital stocks the plan uses to their limit (``required >= (1 - 1e-7)
        stock``, ``stock > 0``), those with a positive rent, and the ``shown`` dearest of these
        (``product in activity``): what binds where labour does not."""
        if self.stock.size == 0 or not np.isfinite(self.required).all():
            return {}
        at_limit = (self.stock > 0) & (self.required >= (1.0 - 1e-7) * self.stock)
        rent = self.rent if np.isfinite(self.rent).all() else np.zeros_like(self.stock)
        out: dict[str, dict[str, Any]] = {}
        for t, y in enumerate(self.years):
            priced = np.flatnonzero(rent[:, t] > 0)
            dearest = priced[np.argsort(-rent[priced, t])][:shown]
            out[str(y)] = {
                "at_limit": int(at_limit[:, t].sum()),
                "priced": int(priced.size),
                "dearest": [f"{self.products[self.stock_product[k]]} in {self.activities[self.stock_activity[k]]}"
                            for k in dearest],
            }
        return out

    def to_html(self, *, title: str | None = None, names: Any = None) -> str:
        """The self-contained HTML report (charts and tables; :mod:`gosplan.report.html`);
        ``names`` (such as ``economy.product_names``) shows products by name."""
        from gosplan.report.html import plan_html

        return plan_html(
            self.summary(), self.years_frame(), self.products_frame(), self.activities_frame(), self.stocks_frame(),
            title=title, names=names,
        )

    def write(self, directory: str | Path, *, format: str = "csv", html: bool = True) -> list[Path]:
        """Write ``years``, ``products``, ``activities``, ``stocks`` (CSV or Parquet), ``summary.json``
        and ``report.html`` into ``directory``; returns the paths written."""
        if format not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', got {format!r}")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in (
            ("years", self.years_frame()), ("products", self.products_frame()),
            ("activities", self.activities_frame()), ("stocks", self.stocks_frame()),
        ):
            path = out / f"{name}.{format}"
            if format == "csv":
                frame.to_csv(path, index=False, float_format="%.10g")
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
        path = out / "summary.json"
        path.write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
        written.append(path)
        if html:
            path = out / "report.html"
            path.write_text(self.to_html(), encoding="utf-8")
            written.append(path)
        return written

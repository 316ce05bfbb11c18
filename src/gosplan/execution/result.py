"""What :func:`gosplan.execute` returns: indicators per period, products, enterprises, groups, alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Execution"]

PERIOD_COLUMNS = {
    "fulfilment": "output up to target over target, valued at base-year labour values",
    "targets_met": "share of producers that met their target",
    "shortage": "allocations not delivered (intermediate and final) over all allocations, in value",
    "shortage_intermediate": "of which to producers",
    "shortage_final": "of which to final users",
    "producers_short": "share of producers held below their target by a missing input",
    "idle_capacity": "capacity (after shocks) not used, over capacity, in value",
    "hidden_reserves": "capacity (after shocks) not reported, over capacity, in value",
    "input_hoards": "input stocks held by producers, over the period's output, in value",
    "unsold_stock": "finished goods in stock, over the period's output, in value",
    "waste": "spoiled output and wasted inputs, over the period's output, in value",
    "queue": "households' unmet demand at fixed prices over their demand, in value",
    "forced_saving": "households' money they could not spend, over their income",
    "hidden_share": "hidden-market turnover over all household spending",
    "hidden_premium": "hidden-market prices over the fixed ones, minus one",
    "consumption_per_head": "households' consumption per head at base-year labour values",
    "welfare_per_head": "money-metric utility per head at base-year labour values",
}


@dataclass(frozen=True, eq=False)
class Execution:
    """A plan carried out (see :func:`gosplan.execute`).

    Attributes
    ----------
    regime, economy, message, completed:
        What ran and how it ended.
    failures:
        Periods in which the centre could not plan and repeated its last directive.
    periods:
        One row per period: the indicators of :data:`PERIOD_COLUMNS` and more (``bonus``,
        ``shock_share``, ``gini``, ``labour_used``, ``balance_error``, seconds).
    products:
        ``period, product, ministry, target, output, byproduct, imports, capacity, allocated,
        delivered_share, unmet_intermediate, unmet_final, intermediate_use, final_use, stock,
        input_stock, waste``: the terms of every product's material balance
        (``stock + input_stock`` of the period before ``+ output + byproduct + imports =
        intermediate_use + final_use + stock + input_stock + waste``).
    groups:
        Households' indicators by group and period (:func:`gosplan.simulate`'s).
    alerts:
        Cyberstride's alerts (:mod:`gosplan.monitoring`), or ``None``.
    """

    regime: str
    economy: str
    message: str
    completed: bool
    producers: Any
    households: Any
    behaviour: Any
    shocks: dict[str, Any]
    periods: pd.DataFrame
    products: pd.DataFrame
    groups: pd.DataFrame
    enterprise_values: dict[str, np.ndarray]
    enterprise_periods: np.ndarray
    alerts: pd.DataFrame | None
    values: np.ndarray
    final_consumption: Any
    failures: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def enterprises_frame(self) -> pd.DataFrame:
        """``period, enterprise, ministry, product, target, output, capacity, reported,
        hidden_reserve, short_of, input_stock`` (every period when the run kept them, else the
        last): ``short_of`` names the input that held the producer below its target (empty: it
        met its target, or its capacity held it)."""
        P = self.producers
        V = self.enterprise_values
        T = len(self.enterprise_periods)
        if T == 0:
            return pd.DataFrame()
        E = P.E
        products = np.asarray(P.products.astype(str), dtype=object)
        limit = V["limit"].reshape(-1)
        short_of = np.where(limit >= 0, products[np.maximum(limit, 0)], "")
        return pd.DataFrame({
            "period": np.repeat(self.enterprise_periods, E),
            "enterprise": np.tile(np.asarray(P.labels, dtype=object), T),
            "ministry": np.tile(np.asarray(P.ministries.astype(str), dtype=object)[P.ministry], T),
            "product": np.tile(products[P.product], T),
            "target": V["target"].reshape(-1),
            "output": V["output"].reshape(-1),
            "capacity": V["capacity"].reshape(-1),
            "reported": V["reported"].reshape(-1),
            "hidden_reserve": np.maximum(V["capacity"] - V["reported"], 0.0).reshape(-1),
            "short_of": short_of,
            "input_stock": V["stock"].reshape(-1),
        })

    def ministries_frame(self) -> pd.DataFrame:
        """Shortages by ministry and period: ``period, ministry, output, unmet_intermediate,
        unmet_final`` (valued at base-year labour values)."""
        f = self.products
        if f.empty:
            return pd.DataFrame()
        v = np.tile(self.values, len(f) // len(self.values))
        g = f.assign(output=f["output"] * v, unmet_intermediate=f["unmet_intermediate"] * v,
                     unmet_final=f["unmet_final"] * v, waste=f["waste"] * v)
        return g.groupby(["period", "ministry"], sort=True)[["output", "unmet_intermediate", "unmet_final", "waste"]].sum().reset_index()

    def summary(self) -> dict[str, Any]:
        p = self.periods
        out: dict[str, Any] = {
            "regime": self.regime, "economy": self.economy, "message": self.message, "completed": self.completed,
            "periods": int(len(p)), "producers": int(self.producers.E), "products": int(self.producers.n),
            "household_groups": int(self.households.H), "shocks": self.shocks, "failures": list(self.failures),
            "behaviour": self.behaviour.to_dict(), "seconds": self.seconds,
        }
        if len(p):
            out["mean"] = {k: float(p[k].mean()) for k in PERIOD_COLUMNS if k in p}
            out["last"] = {k: float(p[k].iloc[-1]) for k in PERIOD_COLUMNS if k in p}
            out["max_balance_error"] = float(p["balance_error"].max())
        if self.alerts is not None:
            a = self.alerts
            out["alerts"] = {str(k): int(v) for k, v in a.groupby("level").size().items()} if len(a) else {}
        return out

    def write(self, out: str | Path, *, fmt: str = "csv") -> list[Path]:
        """``periods``, ``products``, ``ministries``, ``enterprises``, ``groups``, ``alerts``
        (CSV or Parquet) and ``summary.json`` under ``out``."""
        from gosplan._json import json_ready
        from gosplan.cycle.result import write_tables

        tables = {
            "periods": self.periods, "products": self.products, "ministries": self.ministries_frame(),
            "enterprises": self.enterprises_frame(), "groups": self.groups,
        }
        if self.alerts is not None:
            tables["alerts"] = self.alerts
        return write_tables(out, tables, json_ready(self.summary()), fmt=fmt)

    def __repr__(self) -> str:
        p = self.periods
        last = "" if p.empty else (
            f", last period: fulfilment {p['fulfilment'].iloc[-1]:.2%}, shortage {p['shortage'].iloc[-1]:.2%}")
        return f"<Execution {self.regime} of {self.economy}: {len(p)} periods, {self.producers.E} producers{last}>"

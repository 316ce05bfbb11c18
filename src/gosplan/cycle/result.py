"""The result of a simulation of the plan cycle with consumer feedback."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gosplan._json import json_ready
from gosplan.model.households import Households

__all__ = ["Simulation"]


def _num(x: Any) -> Any:
    return json_ready(x)



def write_tables(out: str | Path, tables: dict[str, pd.DataFrame], summary: dict[str, Any], *,
                 fmt: str = "csv") -> list[Path]:
    """Each of ``tables`` as ``out/<name>.<fmt>`` (CSV or Parquet) and ``summary`` as
    ``out/summary.json`` (finite numbers only); the paths written."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}; choose csv or parquet")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    written.append(path)
    return written

@dataclass(frozen=True, eq=False)
class Simulation:
    """Periods of plan, sale and revision (:func:`gosplan.simulate`).

    Tables (pandas, long format):

    * ``periods``: one row per period: ``period``, ``status``, ``fulfilment`` (the plan's
      ray over households' targets), ``gap`` (largest relative gap between price ratios
      ``|(p_j / pi_j) / rbar - 1|``), ``change`` (largest relative revision of a target),
      ``shortage`` (value share of household demand not served: plan shortfall under the
      clearing rules, queues under ``fixed``), ``plan_shortfall``, ``queue``, ``unsold``,
      ``waste`` (made beyond a taut plan's ray for nobody's order), ``forced_saving``, ``hidden_share``, ``hidden_premium`` (shares of the period's
      household spending or supply value), ``consumption_per_head``, ``welfare_per_head``,
      ``labour_per_head`` (population averages), ``gini``, ``eg_objective``
      (``sum_h beta_h log u_h``, ``beta`` the budget shares), ``labour_used``, ``step``,
      ``plan_method`` and ``revision_method`` (``leontief`` or ``clarabel``: who solved the
      period's plan and its target revision), and seconds for ``plan_seconds``,
      ``market_seconds``, ``revision_seconds``;
    * ``prices``: ``period, product, name, price, valuation, shadow_price, supply, target,
      demand, queue, unsold, waste, hidden_price`` per consumer good;
    * ``consumption``: ``period, household, product, quantity`` (every period when it fits in
      :data:`gosplan.cycle.simulate.KEEP_CONSUMPTION` entries, else the last; see
      ``consumption_periods``);
    * ``groups``: ``period, household`` and the group indicators of
      :func:`gosplan.cycle.indicators.group_indicators`.
    """

    rule: str
    economy: str
    converged: bool
    message: str
    households: Households
    periods: pd.DataFrame
    prices: pd.DataFrame
    consumption: pd.DataFrame
    groups: pd.DataFrame
    final_consumption: Any  # H x G sparse: the last period's c_hj
    final_prices: np.ndarray
    final_targets: np.ndarray
    plan: Any  # the last period's PlanResult
    settings: dict[str, Any] = field(default_factory=dict)
    consumption_periods: str = "all"
    seconds: float = 0.0
    error: str = ""  # why the loop stopped early where no plan failed (the target revision), else ""

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    def final(self) -> dict[str, Any]:
        """The last period's indicators as a dict."""
        if self.periods.empty:
            return {}
        row = self.periods.iloc[-1]
        return {k: _num(row[k]) for k in self.periods.columns}

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``summary.json``)."""
        last = self.final()
        return {
            "rule": self.rule,
            "economy": self.economy,
            "periods": self.n_periods,
            "converged": bool(self.converged),
            "message": self.message,
            "final": last,
            "gap": last.get("gap"),
            "change": last.get("change"),
            "indicators": {
                k: last.get(k)
                for k in (
                    "shortage", "plan_shortfall", "queue", "unsold", "waste", "forced_saving", "hidden_share",
                    "hidden_premium", "consumption_per_head", "welfare_per_head", "labour_per_head", "gini",
                )
            },
            "households": int(self.households.H),
            "goods": int(self.households.G),
            "consumption_periods": self.consumption_periods,
            "seconds": self.seconds,
            **({"error": self.error} if self.error else {}),
            "settings": {k: _num(v) for k, v in self.settings.items()},
        }

    def write(self, out: str | Path, *, fmt: str = "csv") -> list[Path]:
        """Write ``periods``, ``prices``, ``consumption``, ``groups`` (CSV or Parquet) and
        ``summary.json`` into ``out``; returns the paths written."""
        tables = {name: getattr(self, name) for name in ("periods", "prices", "consumption", "groups")}
        return write_tables(out, tables, self.summary(), fmt=fmt)

    def to_html(self, *, title: str | None = None) -> str:
        """The self-contained HTML report (:func:`gosplan.report.simulation.simulation_html`)."""
        from gosplan.report.simulation import simulation_html

        return simulation_html(self.summary(), self.periods, self.prices, self.groups, title=title)

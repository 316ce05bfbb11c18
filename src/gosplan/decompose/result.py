"""What two-level planning returns: the plan, each enterprise's target, the round log."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from gosplan._json import finite_or_none
from gosplan.planning.result import PlanResult, raise_unless_optimal
from gosplan.results import Status

__all__ = ["Round", "DecomposedPlan"]


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.8g}"


def objective_label(objective: str) -> str:
    """What the round log and the summary call a two-level plan's objective value."""
    return {"fulfilment": "z", "harmony": "harmony"}.get(objective, "cost")


@dataclass(frozen=True)
class Round:
    """One round: the centre's plan and prices down, the ministries' reports up."""

    number: int
    groups: int  # activities the centre planned with (groups of enterprises)
    objective: float  # the centre's plan (z, or cost)
    bound: float  # the ministries' Lagrangian bound on the enterprise-level optimum
    gap: float  # relative
    master_seconds: float
    master_method: str
    ministry_seconds: float
    split: int  # groups the ministries split
    products_split: int
    earning: int  # enterprises earning at the centre's prices (d_e < 0)
    bytes_down: int
    bytes_up: int
    stage: str = ""  # the priority class ("class 2", "over-fulfilment"); "" for a plan of one stage

    def line(self, objective: str) -> str:
        what = objective_label(objective)
        if self.master_method == "leontief":  # coordination="marginal": no groups, no LP
            return (
                f"round {self.number} ({self.stage}): {self.earning:,} enterprises change role "
                f"[ministries {self.ministry_seconds:.2f} s, {self.bytes_up / 1e6:.3g} MB up]; centre: two Leontief "
                f"solves [{self.master_seconds:.2f} s, {self.bytes_down / 1e6:.3g} MB down]; best plan {what} = "
                f"{_fmt(self.objective)}, bound {_fmt(self.bound)}, gap {self.gap:.2e}"
            )
        head = (
            f"round {self.number}: centre plans {self.groups:,} groups: {what} = {_fmt(self.objective)} "
            f"[{self.master_method}, {self.master_seconds:.2f} s]"
        )
        if not math.isfinite(self.bound):
            return head
        return (
            f"{head}; prices down ({self.bytes_down / 1e6:.3g} MB); ministries: {self.earning:,} enterprises earn at "
            f"these prices, {self.split:,} groups in {self.products_split:,} products split "
            f"[{self.ministry_seconds:.2f} s, {self.bytes_up / 1e6:.3g} MB up]; bound {_fmt(self.bound)}, gap {self.gap:.2e}"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        return out


@dataclass(frozen=True, eq=False)
class DecomposedPlan:
    """A plan made by two-level planning (:func:`gosplan.plan_decomposed`).

    ``plan`` is the centre's plan at product level (a :class:`PlanResult`: gross and
    net output, shadow prices, resource prices); ``enterprise_output`` each
    enterprise's target ``x_e`` (``0 <= x_e <= C_e``, summing per product to the
    plan's gross output less what products without enterprises make); ``rounds``
    the log; ``bound`` the certified bound on the enterprise-level optimum, ``gap``
    the relative distance of ``objective`` from it.
    """

    economy: str
    objective_kind: str
    status: Status
    message: str
    objective: float
    bound: float
    gap: float
    rounds: tuple[Round, ...]
    plan: PlanResult | None
    enterprise_output: np.ndarray
    hierarchy: Any
    executor: str
    workers: int
    memory: dict[str, int] = field(default_factory=dict)
    ministry_bytes: tuple[int, ...] = ()
    monolithic: bool = False
    seconds: float = 0.0
    units: str = "units"
    class_z: dict[int, float] = field(default_factory=dict)  # fulfilment: z of each priority class
    gross_output: np.ndarray | None = None  # coordination="marginal": gross output by product (no ``plan``)

    @property
    def success(self) -> bool:
        return self.status is Status.OPTIMAL

    def raise_for_status(self) -> "DecomposedPlan":
        raise_unless_optimal(self.status, self.message)
        return self

    def breakdown(self, economy: Any, *, links: bool = False, allocations: bool = True) -> Any:
        """The plan broken down to ministries and enterprises at the targets this plan set
        (:func:`gosplan.hierarchy.breakdown_levels`: ministry plans, input allocations, links);
        the gross output is the centre's plan's, or under ``coordination="marginal"`` (no LP,
        no ``plan``) :attr:`gross_output`."""
        from gosplan.hierarchy import breakdown_levels

        gross = self.plan.gross_output if self.plan is not None else self.gross_output
        if gross is None:
            raise ValueError(f"no plan to break down: {self.message}")
        return breakdown_levels(
            economy, self.enterprise_output, gross_output=gross, hierarchy=self.hierarchy,
            links=links, allocations=allocations, tol=1e-6,
        )

    def product_frame(self, economy: Any, *, breakdown: Any = None) -> pd.DataFrame | None:
        """One row per product: the centre's plan table (:meth:`PlanResult.to_frame`); under
        ``coordination="marginal"`` (no LP, so no prices) the gross output ``g`` and the net
        output ``g - U 1``, with ``U`` the inputs the enterprises' own techniques take for their
        targets (``breakdown.product_inputs``; pass ``breakdown`` when it is already at hand).
        ``None`` when there is no plan."""
        if self.plan is not None:
            return self.plan.to_frame()
        if self.gross_output is None:
            return None
        broken = breakdown if breakdown is not None else self.breakdown(economy, allocations=False)
        gross = np.asarray(self.gross_output, dtype=float)
        return pd.DataFrame({
            "product": np.asarray(economy.products).astype(str),
            "gross_output": gross,
            "net_output": gross - np.asarray(broken.product_inputs.sum(axis=1)).ravel(),
        })

    def log(self) -> str:
        """The round log, one line per round."""
        return "\n".join(r.line(self.objective_kind) for r in self.rounds)

    def rounds_frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_dict() for r in self.rounds])

    def enterprise_frame(self) -> pd.DataFrame:
        """One row per enterprise: product, ministry, capacity, target, utilisation."""
        h = self.hierarchy
        with np.errstate(invalid="ignore", divide="ignore"):
            utilisation = np.where(h.capacity > 0, self.enterprise_output / h.capacity, np.nan)
        return pd.DataFrame(
            {
                "enterprise": np.asarray(h.enterprises),
                "product": np.asarray(h.products[h.enterprise_product].astype(str)),
                "ministry": np.asarray(h.ministries[h.enterprise_ministry].astype(str)),
                "capacity": h.capacity,
                "target": self.enterprise_output,
                "utilisation": utilisation,
            }
        )

    def summary(self) -> dict[str, Any]:
        num = finite_or_none
        return {
            "economy": self.economy,
            "objective_kind": self.objective_kind,
            "status": self.status.value,
            "message": self.message,
            "objective": num(self.objective),
            "bound": num(self.bound),
            "gap": num(self.gap),
            "rounds": len(self.rounds),
            "monolithic": self.monolithic,
            "executor": self.executor,
            "workers": self.workers,
            "ministries": self.hierarchy.n_ministries,
            "enterprises": self.hierarchy.n_enterprises,
            "seconds": self.seconds,
            "centre_seconds": sum(r.master_seconds for r in self.rounds),
            "ministry_seconds": sum(r.ministry_seconds for r in self.rounds),
            "bytes_down": sum(r.bytes_down for r in self.rounds),
            "bytes_up": sum(r.bytes_up for r in self.rounds),
            "ministry_state_bytes_max": max(self.ministry_bytes, default=0),
            "memory": self.memory,
            "units": self.units,
            "class_z": {str(k): v for k, v in self.class_z.items()},
            "log": [r.to_dict() for r in self.rounds],
        }

    def write(self, out: str | Path, format: str = "csv", economy: Any = None, *, breakdown: Any = None,
              summary: Mapping[str, Any] | None = None) -> list[Path]:
        """``plan`` (products), ``enterprises``, ``rounds`` tables and ``summary.json`` under ``out``
        (the hierarchy's writers: :mod:`gosplan.hierarchy._io`). A ``coordination="marginal"``
        plan's product table needs the ``economy`` (:meth:`product_frame`; ``breakdown`` if it is
        at hand); without it, none. With the ``economy`` the product and enterprise tables name
        the products beside their codes. ``summary``: what ``summary.json`` holds instead of
        :meth:`summary` (the CLI's, with the run's options)."""
        from gosplan.hierarchy._io import check_format, frame_writer, json_writer, write_files
        from gosplan.model.economy import with_product_names

        check_format(format)
        frames = {"enterprises": self.enterprise_frame(), "rounds": self.rounds_frame()}
        plan = (self.product_frame(economy, breakdown=breakdown) if self.plan is not None or economy is not None
                else None)
        if plan is not None:
            frames["plan"] = plan
        if economy is not None:
            for stem in ("enterprises", "plan"):
                if stem in frames:
                    frames[stem] = with_product_names(frames[stem], economy)
        files = {f"{stem}.{format}": frame_writer(frame, format) for stem, frame in frames.items()}
        files["summary.json"] = json_writer(self.summary() if summary is None else dict(summary))
        return write_files(out, files)

    def __repr__(self) -> str:
        return (
            f"DecomposedPlan({self.economy!r}, {self.status.value}, objective={_fmt(self.objective)}, "
            f"gap={self.gap:.1e}, rounds={len(self.rounds)}, {self.executor})"
        )

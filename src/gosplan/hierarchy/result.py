"""The plan broken down: ministries' and enterprises' targets, their inputs, and what went wrong."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from gosplan._json import finite_or_none as _num
from gosplan.errors import PlanningError
from gosplan.hierarchy._io import (
    Writer,
    batches_writer,
    check_format,
    frame_writer,
    json_writer,
    write_files,
)
from gosplan.hierarchy._techniques import Techniques, labels_as_strings, node_labels
from gosplan.model.hierarchy import Hierarchy
from gosplan.planning.result import InfeasiblePlanError
from gosplan.results import Status

if TYPE_CHECKING:  # pragma: no cover
    from gosplan.hierarchy.links import Links

__all__ = ["Breakdown", "CapacityShortfallError", "BreakdownCheckError"]

# allocation rows kept in memory after the check (beyond this they are generated again when asked for)
CACHE_ROWS = 10_000_000

ALLOCATION_SCHEMA = pa.schema(
    [("enterprise", pa.string()), ("input", pa.string()), ("kind", pa.string()), ("quantity", pa.float64())]
)


class CapacityShortfallError(InfeasiblePlanError):
    """The plan asks more of some products than their enterprises can make.

    Attributes
    ----------
    shortfall:
        ``product, ministry, planned, capacity, shortfall``, largest first.
    """

    def __init__(self, message: str, shortfall: pd.DataFrame):
        self.shortfall = shortfall
        super().__init__(message)


class BreakdownCheckError(PlanningError):
    """gosplan's own check of a breakdown failed (targets, allocations or links do not add up)."""


@dataclass(frozen=True, eq=False)
class Breakdown:
    """A plan broken down to ministries and enterprises (what :func:`gosplan.breakdown` returns).

    Attributes
    ----------
    economy, hierarchy:
        The economy (its technique ``A``, ``P``) and the chain of command.
    rule:
        ``"proportional"``, ``"merit"`` or ``"levels"`` (enterprise levels given).
    status:
        :attr:`Status.SOLVED` (every product's enterprises meet its gross output),
        :attr:`Status.INFEASIBLE` (some product's plan exceeds its capacity: see
        ``shortfall``) or :attr:`Status.NUMERICAL_ERROR` (gosplan's own check failed).
    message:
        Words.
    gross_output:
        ``g``: the plan broken down, by product (``n``).
    enterprise_output:
        ``x_e``: each enterprise's target (``E``). Where the plan exceeds capacity every
        enterprise of the product is set to its capacity.
    shortfall:
        ``product, ministry, planned, capacity, shortfall`` for each product whose plan
        exceeds its capacity, largest first (empty when feasible).
    product_inputs:
        ``U`` (``n x n`` sparse): ``U[j, i]`` units of ``j`` the producers of ``i``
        (enterprises and the implicit producer) receive, ``sum_{e: i(e)=i} a_e[j] x_e``.
    product_primary:
        ``V`` (``r x n``): primary inputs of the producers of each product.
    aggregate_inputs:
        ``A' g``: the intermediate use the aggregated economy (capacity-weighted
        techniques) plans for ``g``. Equal to ``U 1`` under the proportional rule.
    allocation_totals, allocation_scale:
        Sums of the allocation rows by input (``n`` products then ``r`` resources) and of
        their absolute values; ``None`` when allocations were not asked for.
    links:
        Supplier-user links (:class:`~gosplan.hierarchy.links.Links`) or ``None``.
    notes:
        What the breakdown assumed or rounded.
    seconds:
        Wall time.
    """

    economy: Any
    hierarchy: Hierarchy
    rule: str
    status: Status
    message: str
    gross_output: np.ndarray
    enterprise_output: np.ndarray
    shortfall: pd.DataFrame
    product_inputs: sp.csr_array
    product_primary: np.ndarray
    aggregate_inputs: np.ndarray
    allocation_totals: np.ndarray | None = None
    allocation_scale: np.ndarray | None = None
    links: Links | None = None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    techniques: Techniques | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def success(self) -> bool:
        return self.status is Status.SOLVED

    @property
    def products(self) -> pd.Index:
        return self.hierarchy.products

    @property
    def resources(self) -> pd.Index:
        return self.economy.resources

    @property
    def capacity(self) -> np.ndarray:
        """``C_i`` by product (``inf`` where no enterprise makes it)."""
        return self.hierarchy.product_capacity

    @cached_property
    def implicit(self) -> np.ndarray:
        """Positions of the products made by their implicit producer (no enterprise)."""
        return np.flatnonzero(~self.hierarchy.covered)

    @cached_property
    def intermediate_use(self) -> np.ndarray:
        """``U 1``: each product's use by all producers (``n``)."""
        return np.asarray(self.product_inputs.sum(axis=1)).ravel()

    @cached_property
    def primary_use(self) -> np.ndarray:
        """``V 1``: each primary resource's use (``r``)."""
        return self.product_primary.sum(axis=1)

    @property
    def final_use(self) -> np.ndarray:
        """``g - U 1``: what the plan leaves for final demand (negative: net imports)."""
        return self.gross_output - self.intermediate_use

    def raise_for_status(self) -> Breakdown:
        """Raise unless the breakdown meets the plan (:class:`CapacityShortfallError` when the
        plan exceeds capacity, :class:`BreakdownCheckError` when a check failed); return self."""
        if self.status is Status.INFEASIBLE:
            raise CapacityShortfallError(self.message, self.shortfall)
        if self.status is not Status.SOLVED:
            raise BreakdownCheckError(self.message)
        return self

    # ------------------------------------------------------------------ labels
    @cached_property
    def _product_labels(self) -> np.ndarray:
        return np.asarray(self.products.astype(str), dtype=object)

    @cached_property
    def _ministry_labels(self) -> np.ndarray:
        return np.asarray(self.hierarchy.ministries.astype(str), dtype=object)

    @cached_property
    def _input_labels(self) -> pa.Array:
        """Products, then resources."""
        return pa.array(
            [*self._product_labels.tolist(), *(str(r) for r in self.resources)], pa.string()
        )

    @cached_property
    def _producer_labels(self) -> pa.Array:
        """Enterprises, then the implicit producers."""
        return node_labels(self.hierarchy)

    # ------------------------------------------------------------------ per level
    def enterprises_frame(self) -> pd.DataFrame:
        """One row per producer: ``enterprise, product, ministry, [region], capacity, target,
        utilisation, implicit``; the implicit producers (one per product without
        enterprises, labelled by the product, ``capacity`` ``inf``) come last."""
        return self._enterprises_table().to_pandas()

    def _enterprises_table(self) -> pa.Table:
        h = self.hierarchy
        E, unc = h.n_enterprises, self.implicit
        product = np.concatenate([h.enterprise_product, unc])
        cap = np.concatenate([h.capacity, np.full(unc.size, np.inf)])
        target = np.concatenate([self.enterprise_output, self.gross_output[unc]])
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(cap > 0, target / np.where(np.isfinite(cap) & (cap > 0), cap, np.nan), np.nan)
        cols: dict[str, Any] = {
            "enterprise": self._producer_labels,
            "product": pa.array(self._product_labels, pa.string()).take(pa.array(product)),
            "ministry": pa.array(self._ministry_labels, pa.string()).take(pa.array(h.product_ministry[product])),
        }
        if h.regions is not None:
            regions = labels_as_strings(h.regions)
            idx = pa.array(np.concatenate([h.enterprise_region, np.zeros(unc.size, np.int64)]),
                           mask=np.concatenate([np.zeros(E, bool), np.ones(unc.size, bool)]))
            cols["region"] = regions.take(idx)
        cols.update(capacity=cap, target=target, utilisation=util,
                    implicit=np.concatenate([np.zeros(E, bool), np.ones(unc.size, bool)]))
        return pa.table(cols)

    def ministry_products_frame(self) -> pd.DataFrame:
        """One row per ministry and product: ``ministry, product, gross_output, capacity,
        utilisation, enterprises, implicit``."""
        h = self.hierarchy
        order = np.argsort(h.product_ministry, kind="stable")
        cap = self.capacity
        g = self.gross_output
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(np.isfinite(cap) & (cap > 0), g / np.where(cap > 0, cap, 1), np.nan)
        return pd.DataFrame(
            {
                "ministry": self._ministry_labels[h.product_ministry[order]],
                "product": self._product_labels[order],
                "gross_output": g[order],
                "capacity": cap[order],
                "utilisation": util[order],
                "enterprises": np.bincount(h.enterprise_product, minlength=h.n_products)[order],
                "implicit": ~h.covered[order],
            }
        )

    @cached_property
    def _ministry_matrix(self) -> sp.csr_array:
        """``M x n`` indicator of each product's ministry."""
        h = self.hierarchy
        return sp.csr_array(
            (np.ones(h.n_products), (h.product_ministry, np.arange(h.n_products))),
            shape=(h.n_ministries, h.n_products),
        )

    @cached_property
    def ministry_flows(self) -> np.ndarray:
        """``M x M``: ``[k, l]`` units of ministry ``k``'s products its producers deliver to ministry ``l``'s."""
        Pm = self._ministry_matrix
        return np.asarray((Pm @ self.product_inputs @ Pm.T).todense())

    def ministry_flows_frame(self) -> pd.DataFrame:
        """``supplier_ministry, user_ministry, quantity`` (nonzero flows; in the economy's units)."""
        F = self.ministry_flows
        k, l = np.nonzero(F)
        return pd.DataFrame(
            {"supplier_ministry": self._ministry_labels[k], "user_ministry": self._ministry_labels[l], "quantity": F[k, l]}
        )

    def ministries_frame(self) -> pd.DataFrame:
        """One row per ministry: ``ministry, [sector], products, enterprises, gross_output,
        capacity`` (of its products with enterprises) ``, utilisation`` (their gross
        output over it) ``, labour`` (its producers' labour) ``, inputs`` (products its
        producers receive) ``, inputs_from_other_ministries, deliveries_to_other_ministries``."""
        h = self.hierarchy
        M, pm, cov = h.n_ministries, h.product_ministry, h.covered
        by = lambda w: np.bincount(pm, weights=w, minlength=M)
        g = self.gross_output
        cap = by(np.where(cov, self.capacity, 0.0))
        g_cov = by(np.where(cov, g, 0.0))
        F = self.ministry_flows
        frame = h.ministry_frame()
        frame["ministry"] = self._ministry_labels
        frame["gross_output"] = by(g)
        frame["capacity"] = cap
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["utilisation"] = np.where(cap > 0, g_cov / np.where(cap > 0, cap, 1), np.nan)
        lab = self.techniques.labour if self.techniques is not None else None
        frame["labour"] = by(self.product_primary[lab]) if lab is not None else np.nan
        frame["inputs"] = F.sum(axis=0)
        frame["inputs_from_other_ministries"] = F.sum(axis=0) - np.diag(F)
        frame["deliveries_to_other_ministries"] = F.sum(axis=1) - np.diag(F)
        return frame

    # ------------------------------------------------------------------ allocations
    def iter_allocations(self) -> Iterator[pa.Table]:
        """The allocation table in blocks (Arrow tables ``enterprise, input, kind, quantity``):
        ``a_e x_e`` (kind ``product``) and ``p_e x_e`` (kind ``resource``) for every producer."""
        producers, inputs = self._producer_labels, self._input_labels
        n = self.hierarchy.n_products
        kinds = pa.array(["product", "resource"], pa.string())
        for node, inp, q in self._allocation_blocks():
            yield pa.table(
                {
                    "enterprise": producers.take(pa.array(node)),
                    "input": inputs.take(pa.array(inp)),
                    "kind": kinds.take(pa.array((inp >= n).astype(np.int8))),
                    "quantity": q,
                }
            )

    def _allocation_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        cached = self._cache.get("allocations")
        if cached is not None:
            yield from cached
            return
        if self.techniques is None:
            raise PlanningError("this breakdown holds no techniques to allocate inputs from")
        yield from self.techniques.allocation_blocks(self.enterprise_output, self.gross_output[self.implicit])

    def allocations_frame(self) -> pd.DataFrame:
        """All allocation rows as one DataFrame (``enterprise, input, kind, quantity``).

        About ``E * nnz(A) / n`` rows: for millions of enterprises use
        :meth:`iter_allocations` or :meth:`write` instead.
        """
        tables = list(self.iter_allocations())
        table = pa.concat_tables(tables) if tables else ALLOCATION_SCHEMA.empty_table()
        return table.to_pandas()

    def links_frame(self) -> pd.DataFrame | None:
        """Supplier-user links (``None`` unless asked for with ``links=True``)."""
        return None if self.links is None else self.links.frame()

    # ------------------------------------------------------------------ summary and files
    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``summary.json``)."""
        h = self.hierarchy
        meta = self.economy.meta
        cov = h.covered
        g = self.gross_output
        cap_total = float(h.capacity.sum())
        x = self.enterprise_output
        lab = self.techniques.labour if self.techniques is not None else None
        short = self.shortfall
        out: dict[str, Any] = {
            "economy": meta.name,
            "rule": self.rule,
            "status": self.status.value,
            "message": self.message,
            "products": h.n_products,
            "ministries": h.n_ministries,
            "enterprises": h.n_enterprises,
            "implicit_producers": int(self.implicit.size),
            "gross_output": float(g.sum()),
            "gross_output_with_enterprises": float(g[cov].sum()),
            "capacity": cap_total,
            "utilisation": _num(x.sum() / cap_total) if cap_total > 0 else None,
            "enterprises_at_capacity": int(((x >= h.capacity) & (h.capacity > 0)).sum()),
            "enterprises_idle": int((x == 0).sum()),
            "labour": _num(self.primary_use[lab]) if lab is not None else None,
            "primary_use": {str(r): float(v) for r, v in zip(self.resources, self.primary_use)},
            "intermediate_use": float(self.intermediate_use.sum()),
            "final_use": float(self.final_use.sum()),
            "checks": dict(self.checks),
            "shortfall": {
                "products": len(short),
                "total": float(short["shortfall"].sum()) if len(short) else 0.0,
                "largest": [
                    {"product": str(p), "ministry": str(m), "planned": float(a), "capacity": float(c), "shortfall": float(s)}
                    for p, m, a, c, s in short.head(20).itertuples(index=False)
                ],
            },
            "links": None if self.links is None else self.links.summary(),
            "units": meta.units,
            "labour_unit": meta.labour_unit,
            "notes": list(self.notes),
            "seconds": self.seconds,
        }
        return out

    def files(
        self, format: str = "csv", *, allocations: bool | None = None, extra: dict[str, Any] | None = None
    ) -> dict[str, Writer]:
        """``{name: writer(path)}`` of :meth:`write` (for writing atomically elsewhere);
        ``extra`` goes into ``summary.json`` too."""
        check_format(format)
        names: dict[str, str] = {}
        files: dict[str, Writer] = {}

        def add(stem: str, writer: Writer) -> None:
            names[stem] = f"{stem}.{format}"
            files[f"{stem}.{format}"] = writer

        if self.status is Status.INFEASIBLE:
            add("shortfall", frame_writer(self.shortfall, format))
        else:
            add("ministries", frame_writer(self.ministries_frame(), format))
            add("ministry_products", frame_writer(self.ministry_products_frame(), format))
            add("ministry_flows", frame_writer(self.ministry_flows_frame(), format))
            add("enterprises", batches_writer(lambda: [self._enterprises_table()], pa.schema([]), format))
            if self.allocation_totals is not None if allocations is None else allocations:
                add("allocations", batches_writer(self.iter_allocations, ALLOCATION_SCHEMA, format))
            if self.links is not None:
                from gosplan.hierarchy.links import LINK_SCHEMA

                add("links", batches_writer(self.links.iter_tables, LINK_SCHEMA(self.links.has_regions), format))
        names["summary"] = "summary.json"
        files["summary.json"] = json_writer({**self.summary(), **(extra or {}), "files": names})
        return files

    def write(self, out: str | Path, format: str = "csv", *, allocations: bool | None = None) -> list[Path]:
        """Write the tables into ``out``: ``ministries``, ``ministry_products``,
        ``ministry_flows``, ``enterprises``, ``allocations`` (when asked for), ``links``
        (when computed), CSV or Parquet, and ``summary.json``. An infeasible breakdown
        writes ``shortfall`` and ``summary.json`` only."""
        return write_files(out, self.files(format, allocations=allocations))

    def __repr__(self) -> str:
        h = self.hierarchy
        return (
            f"Breakdown({self.economy.meta.name!r}, rule={self.rule!r}, status={self.status.value!r}, "
            f"ministries={h.n_ministries}, enterprises={h.n_enterprises}, implicit={self.implicit.size})"
        )

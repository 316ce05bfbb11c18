"""Reports going up: the enterprises' capacities and techniques aggregated to products.

For a product ``i`` that enterprises make, with ``C_i = sum_{e: i(e)=i} C_e > 0``::

    A'[:, i] = sum_e C_e a_e / C_i        P'[:, i] = sum_e C_e p_e / C_i

(capacity-weighted techniques: the technique of all its enterprises working at the
same utilisation). Products no enterprise makes, and products whose enterprises all
report zero capacity, keep the table's column. The sums never form the enterprises'
techniques: ``sum_e C_e a_e = A[:, i] sum_e C_e f_e + sum_e C_e N_e`` (see
:mod:`gosplan.hierarchy._techniques`), so 10^7 enterprises cost a few bincounts.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan._json import finite_or_none as _num
from gosplan.errors import NegativeCoefficientWarning, PlanningError
from gosplan.hierarchy._io import Writer, check_format, frame_writer, json_writer, write_files
from gosplan.hierarchy._techniques import Techniques
from gosplan.model.economy import Economy
from gosplan.model.hierarchy import Hierarchy

__all__ = ["aggregate", "Aggregation"]


@dataclass(frozen=True, eq=False)
class Aggregation:
    """The enterprises' reports aggregated to products (what :func:`aggregate` returns).

    Attributes
    ----------
    economy:
        The aggregated economy: ``A'``, ``P'``, the same final demand and hierarchy.
        Plan on it, then break the plan down (:func:`gosplan.breakdown`).
    table:
        The economy as given (the table's technique ``A``, ``P``).
    hierarchy:
        The hierarchy aggregated.
    capacity:
        ``C_i`` (``n``); ``inf`` where no enterprise makes the product.
    enterprises:
        Number of enterprises making each product.
    input_factor, labour_factor:
        Capacity-weighted mean ``f_e``, ``h_e`` of each product's enterprises (``NaN``
        without capacity). Enterprises with own norms count with their factors (usually 0).
    own_norms_enterprises, own_norms_capacity:
        Number and capacity of each product's enterprises that report own norms.
    gross_output:
        Material balance of the aggregated economy for the table's own final demand,
        ``(I - A') x = y``; ``None`` when not asked for or when it failed (see notes).
    notes:
        What the aggregation assumed (zero-capacity products, failed balance).
    seconds:
        Wall time.
    """

    economy: Economy
    table: Economy
    hierarchy: Hierarchy
    capacity: np.ndarray
    enterprises: np.ndarray
    input_factor: np.ndarray
    labour_factor: np.ndarray
    own_norms_enterprises: np.ndarray
    own_norms_capacity: np.ndarray
    gross_output: np.ndarray | None
    notes: tuple[str, ...]
    seconds: float

    @property
    def products(self) -> pd.Index:
        return self.economy.products

    @property
    def capacities(self) -> pd.Series:
        """``C_i`` by product label (``inf`` where no enterprise makes it)."""
        return pd.Series(self.capacity, index=self.products, name="capacity")

    @property
    def covered(self) -> np.ndarray:
        return self.hierarchy.covered

    @cached_property
    def _labour(self) -> int | None:
        eco = self.economy
        return None if eco.labour is None else int(eco.resources.get_loc(eco.labour))

    @cached_property
    def labour_at_capacity(self) -> np.ndarray:
        """``sum_e C_e p_e[labour]`` by product (``NaN`` without enterprises or labour)."""
        if self._labour is None:
            return np.full(len(self.products), np.nan)
        lab = self.economy.primary_coefficients[self._labour]
        return np.where(self.covered, np.where(self.covered, self.capacity, 0.0) * lab, np.nan)

    @cached_property
    def _change(self) -> tuple[np.ndarray, np.ndarray]:
        """Per product: the change ``A'[j, i] - A[j, i]`` largest in size, and its ``j``."""
        n = len(self.products)
        D = sp.csc_array(self.economy.A - self.table.A)
        D.sum_duplicates()
        D.eliminate_zeros()
        change = np.zeros(n)
        which = np.full(n, -1, dtype=np.int64)
        counts = np.diff(D.indptr)
        cols = np.flatnonzero(counts)
        if cols.size:
            size = np.abs(D.data)
            col_of = np.repeat(np.arange(n), counts)
            order = np.lexsort((-size, col_of))  # largest first within each column
            first = order[D.indptr[cols]]
            change[cols] = D.data[first]
            which[cols] = D.indices[first]
        return change, which

    # ------------------------------------------------------------------ tables
    def products_frame(self) -> pd.DataFrame:
        """One row per product: what was aggregated and how far it moved from the table.

        Columns ``product, ministry, implicit`` (no enterprise makes it), ``enterprises,
        capacity, own_norms_enterprises, own_norms_capacity_share, input_factor,
        labour_factor, labour_coefficient`` (``P'``) ``, labour_coefficient_table`` (``P``)
        ``, max_input_change`` (the largest change of a coefficient ``A'[j, i] - A[j, i]``)
        ``, max_input_change_of`` (its input ``j``) ``, gross_output, utilisation``.
        """
        h = self.hierarchy
        cap = self.capacity
        change, which = self._change
        labels = np.asarray(self.products.astype(str), dtype=object)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(self.covered & (cap > 0), self.own_norms_capacity / np.where(cap > 0, cap, 1), np.nan)
            util = (
                np.where(self.covered & (cap > 0), self.gross_output / np.where(cap > 0, cap, 1), np.nan)
                if self.gross_output is not None else np.full(len(cap), np.nan)
            )
        if self._labour is not None:
            lab_new = self.economy.primary_coefficients[self._labour]
            lab_old = self.table.primary_coefficients[self._labour]
        else:
            lab_new = lab_old = np.full(len(cap), np.nan)
        return pd.DataFrame(
            {
                "product": labels,
                "ministry": np.asarray(h.ministries.astype(str), dtype=object)[h.product_ministry],
                "implicit": ~self.covered,
                "enterprises": self.enterprises,
                "capacity": cap,
                "own_norms_enterprises": self.own_norms_enterprises,
                "own_norms_capacity_share": share,
                "input_factor": self.input_factor,
                "labour_factor": self.labour_factor,
                "labour_coefficient": lab_new,
                "labour_coefficient_table": lab_old,
                "max_input_change": change,
                "max_input_change_of": np.where(which >= 0, labels[np.maximum(which, 0)], None),
                "gross_output": self.gross_output if self.gross_output is not None else np.full(len(cap), np.nan),
                "utilisation": util,
            }
        )

    def ministries_frame(self) -> pd.DataFrame:
        """One row per ministry: ``ministry, [name], [sector, [sector_name]], products, products_with_enterprises,
        enterprises, capacity, labour_at_capacity, gross_output`` (of its products with
        enterprises, from the balance) ``, utilisation`` (``gross_output / capacity``)
        ``, gross_output_implicit`` (of its products without enterprises)."""
        h = self.hierarchy
        M = h.n_ministries
        pm = h.product_ministry
        cov = self.covered
        by = lambda w: np.bincount(pm, weights=w, minlength=M)
        cap = by(np.where(cov, self.capacity, 0.0))
        frame = h.ministry_frame()
        frame["ministry"] = np.asarray(h.ministries.astype(str), dtype=object)
        frame["products_with_enterprises"] = np.bincount(pm, weights=cov, minlength=M).astype(np.int64)
        frame["capacity"] = cap
        frame["labour_at_capacity"] = (
            by(np.where(cov, self.labour_at_capacity, 0.0)) if self._labour is not None else np.nan
        )
        if self.gross_output is not None:
            g = self.gross_output
            covered_g = by(np.where(cov, g, 0.0))
            frame["gross_output"] = covered_g
            with np.errstate(divide="ignore", invalid="ignore"):
                frame["utilisation"] = np.where(cap > 0, covered_g / np.where(cap > 0, cap, 1), np.nan)
            frame["gross_output_implicit"] = by(np.where(cov, 0.0, g))
        else:
            frame["gross_output"] = frame["utilisation"] = frame["gross_output_implicit"] = np.nan
        named = [c for c in ("name", "sector", "sector_name") if c in frame]
        cols = ["ministry", *named, "products", "products_with_enterprises",
                "enterprises", "capacity", "labour_at_capacity", "gross_output", "utilisation",
                "gross_output_implicit"]
        return frame[cols]

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``summary.json``)."""
        h = self.hierarchy
        cov = self.covered
        change, which = self._change
        k = int(np.argmax(np.abs(change))) if change.size else 0
        finite_cap = float(self.capacity[cov].sum())
        g = self.gross_output
        meta = self.economy.meta
        return {
            "economy": meta.name,
            "products": len(self.products),
            "ministries": h.n_ministries,
            "sectors": None if h.sectors is None else len(h.sectors),
            "enterprises": h.n_enterprises,
            "products_with_enterprises": int(cov.sum()),
            "products_implicit": int((~cov).sum()),
            "products_zero_capacity": int((cov & (self.capacity == 0)).sum()),
            "enterprises_with_own_norms": int(h.has_own_norms.sum()),
            "capacity": finite_cap,
            "labour_at_capacity": _num(np.nansum(self.labour_at_capacity)) if self._labour is not None else None,
            "gross_output": None if g is None else float(g.sum()),
            "gross_output_with_enterprises": None if g is None else float(g[cov].sum()),
            "utilisation": None if g is None or finite_cap <= 0 else float(g[cov].sum() / finite_cap),
            "max_input_change": {
                "product": str(self.products[k]),
                "input": None if which[k] < 0 else str(self.products[which[k]]),
                "change": float(change[k]) if change.size else 0.0,
            },
            "units": meta.units,
            "labour_unit": meta.labour_unit,
            "notes": list(self.notes),
            "seconds": self.seconds,
        }

    def files(self, format: str = "csv", *, extra: dict[str, Any] | None = None) -> dict[str, Writer]:
        """``{name: writer(path)}`` of :meth:`write` (for writing atomically elsewhere);
        ``extra`` goes into ``summary.json`` too."""
        check_format(format)
        return {
            f"products.{format}": frame_writer(self.products_frame(), format),
            f"ministries.{format}": frame_writer(self.ministries_frame(), format),
            "summary.json": json_writer({**self.summary(), **(extra or {}), "files": {
                "products": f"products.{format}", "ministries": f"ministries.{format}", "summary": "summary.json",
            }}),
        }

    def write(self, out: str | Path, format: str = "csv") -> list[Path]:
        """Write ``products``, ``ministries`` (CSV or Parquet) and ``summary.json`` into ``out``.

        The aggregated economy itself: ``gosplan.io.directory.write_directory(agg.economy, path)``.
        """
        return write_files(out, self.files(format))

    def __repr__(self) -> str:
        h = self.hierarchy
        return (
            f"Aggregation({self.economy.meta.name!r}, products={len(self.products)}, "
            f"ministries={h.n_ministries}, enterprises={h.n_enterprises})"
        )


def aggregate(economy: Economy, hierarchy: Hierarchy | None = None, *, balance: bool = True) -> Aggregation:
    """Aggregate the enterprises' capacities and techniques to products.

    Parameters
    ----------
    economy:
        A square economy (one technique per product).
    hierarchy:
        The chain of command; default ``economy.hierarchy``.
    balance:
        Also solve ``(I - A') x = y`` for the table's own final demand, to compare the
        gross output it needs with the capacities (utilisation).

    Returns
    -------
    Aggregation
        ``.economy`` (``A'``, ``P'``), ``.capacities``, ``products_frame()``,
        ``ministries_frame()``, ``summary()``, ``write(out, format)``.

    Raises
    ------
    InvalidEconomyError
        No hierarchy, one that does not match the economy's products, or an economy
        with several techniques per product.
    """
    start = time.perf_counter()
    tech = Techniques.of(economy, hierarchy)
    h = tech.hierarchy
    n = tech.n
    ep = h.enterprise_product
    C = h.capacity
    cov = h.covered
    cap = np.bincount(ep, weights=C, minlength=n)
    U, V = tech.product_totals(C)
    usable = cov & (cap > 0)
    inv = np.where(usable, 1.0 / np.where(usable, cap, 1.0), 0.0)
    keep = (~usable).astype(np.float64)  # the table's column where nothing is aggregated
    A_new = sp.csr_array(U @ sp.diags_array(inv) + tech.A @ sp.diags_array(keep))
    P_new = V * inv[None, :] + tech.P * keep[None, :]
    notes: list[str] = []
    zero = np.flatnonzero(cov & (cap == 0))
    if zero.size:
        notes.append(
            f"{zero.size} product(s) whose enterprises all report zero capacity keep the table's "
            f"technique, e.g. {str(economy.products[zero[0]])!r}"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        f_mean = np.where(usable, np.bincount(ep, weights=C * h.input_factor, minlength=n) * inv, np.nan)
        h_mean = np.where(usable, np.bincount(ep, weights=C * h.labour_factor, minlength=n) * inv, np.nan)
    own = h.has_own_norms
    meta = replace(
        economy.meta,
        notes=(*economy.meta.notes, f"technique aggregated from {h.n_enterprises:,} enterprises (capacity-weighted)"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)  # the table's own, already reported
        agg_economy = replace(
            economy, use=A_new, make=None, activities=None, primary=sp.csr_array(P_new), meta=meta, hierarchy=h,
        )
    gross = None
    if balance:
        from gosplan.material_balance import balance as solve_balance

        try:
            result = solve_balance(agg_economy, values=False, multipliers=False)
        except PlanningError as exc:
            notes.append(f"no balance of the aggregated economy: {exc}")
        else:
            if result.success:
                gross = result.gross_output
            else:
                notes.append(f"no balance of the aggregated economy: {result.message}")
    return Aggregation(
        economy=agg_economy,
        table=economy,
        hierarchy=h,
        capacity=np.where(cov, cap, np.inf),
        enterprises=np.bincount(ep, minlength=n).astype(np.int64),
        input_factor=f_mean,
        labour_factor=h_mean,
        own_norms_enterprises=np.bincount(ep, weights=own, minlength=n).astype(np.int64),
        own_norms_capacity=np.bincount(ep, weights=C * own, minlength=n),
        gross_output=gross,
        notes=tuple(notes),
        seconds=time.perf_counter() - start,
    )

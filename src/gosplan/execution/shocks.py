"""Capacity shocks: from a file or drawn at random, the same draws for every regime.

A shock multiplies a producer's capacity by a *capacity factor* in ``[0, 1]`` for a period:
``K_e,t = K_e f_e,t``.

* From a file (CSV or Parquet): columns ``period`` (1-based), ``enterprise`` or ``product``
  (a product's factor applies to all its producers), ``capacity_factor``. A producer named
  twice in a period takes the smaller factor.
* At random (:class:`RandomShocks`): in each period every producer not in a shock starts one
  with probability ``rate``; its factor is ``1 - depth U`` with ``U`` uniform on ``(0, 1]``
  (so ``depth`` is the deepest cut); a shock lasts into the next period with probability
  ``persistence`` (a geometric duration of mean ``1 / (1 - persistence)`` periods). The draws
  of period ``t`` come from ``numpy.random.default_rng([seed, t])``, three arrays of length
  ``E`` whatever happened before: runs are reproducible from the seed and every regime meets
  the same shocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gosplan.errors import InvalidEconomyError, Location, TableFormatError

__all__ = ["Shocks", "RandomShocks", "FileShocks", "NoShocks", "read_shocks"]


class Shocks:
    """Capacity factors period by period (``factors(t)``, ``t = 1, 2, ...``)."""

    def start(self, labels: pd.Index, product: np.ndarray, products: pd.Index) -> None:  # pragma: no cover
        """Bind to the producers (labels, product of each) before the first period."""

    def factors(self, t: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


@dataclass
class NoShocks(Shocks):
    """No shocks: every factor 1."""

    E: int = 0

    def start(self, labels: pd.Index, product: np.ndarray, products: pd.Index) -> None:
        self.E = len(labels)

    def factors(self, t: int) -> np.ndarray:
        return np.ones(self.E)

    def describe(self) -> dict[str, Any]:
        return {"kind": "none"}


@dataclass
class RandomShocks(Shocks):
    """Random shocks (see the module): ``rate`` (starts per producer-period), ``depth``
    (deepest cut, in ``(0, 1]``), ``persistence`` (in ``[0, 1)``), ``seed``."""

    rate: float
    depth: float = 0.5
    persistence: float = 0.5
    seed: int = 0
    _factor: np.ndarray = field(default_factory=lambda: np.ones(0), repr=False)
    _t: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise InvalidEconomyError(f"shock rate must be in [0, 1], got {self.rate!r}")
        if not 0 < self.depth <= 1:
            raise InvalidEconomyError(f"shock depth must be in (0, 1], got {self.depth!r}")
        if not 0 <= self.persistence < 1:
            raise InvalidEconomyError(f"shock persistence must be in [0, 1), got {self.persistence!r}")

    def start(self, labels: pd.Index, product: np.ndarray, products: pd.Index) -> None:
        self._factor = np.ones(len(labels))
        self._t = 0

    def factors(self, t: int) -> np.ndarray:
        if t != self._t + 1:
            raise ValueError(f"random shocks are drawn period after period: asked for {t} after {self._t}")
        self._t = t
        E = self._factor.size
        rng = np.random.default_rng([int(self.seed), int(t)])
        starts, lasts, cuts = rng.random(E), rng.random(E), rng.random(E)
        shocked = self._factor < 1.0
        keep = shocked & (lasts < self.persistence)
        new = ~shocked & (starts < self.rate)
        f = np.where(keep, self._factor, 1.0)
        f[new] = 1.0 - self.depth * (1.0 - cuts[new])  # 1 - depth U, U in (0, 1]
        self._factor = f
        return f.copy()

    def describe(self) -> dict[str, Any]:
        return {"kind": "random", "rate": self.rate, "depth": self.depth, "persistence": self.persistence,
                "seed": self.seed}


@dataclass
class FileShocks(Shocks):
    """Shocks from a table ``period, enterprise|product, capacity_factor`` (see the module)."""

    table: pd.DataFrame
    source: str = "<table>"
    _by_period: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _E: int = field(default=0, repr=False)

    def start(self, labels: pd.Index, product: np.ndarray, products: pd.Index) -> None:
        frame = self.table
        self._E = len(labels)
        lines = frame["_line"].to_numpy() if "_line" in frame else np.arange(len(frame)) + 2
        where = Location(file=self.source)
        by: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        ent_pos = pd.Index(labels.astype(str))
        prod_pos = pd.Index(products.astype(str))
        members = pd.Series(np.arange(product.size)).groupby(product).apply(np.asarray)
        key = "enterprise" if "enterprise" in frame else "product"
        names = frame[key].astype(str).str.strip().to_numpy()
        idx = (ent_pos if key == "enterprise" else prod_pos).get_indexer(names)
        if (idx < 0).any():
            k = int(np.flatnonzero(idx < 0)[0])
            raise InvalidEconomyError(
                f"shocks name {key} {names[k]!r}, which the economy does not have",
                Location(file=self.source, line=int(lines[k]), column=key),
            )
        del where
        for k, (t, i, f) in enumerate(zip(frame["period"].to_numpy(), idx, frame["capacity_factor"].to_numpy())):
            rows = np.array([i]) if key == "enterprise" else members.get(i, np.zeros(0, np.int64))
            by.setdefault(int(t), []).append((np.asarray(rows, np.int64), np.full(len(rows), float(f))))
        self._by_period = {
            t: (np.concatenate([r for r, _ in parts]), np.concatenate([v for _, v in parts])) for t, parts in by.items()
        }

    def factors(self, t: int) -> np.ndarray:
        f = np.ones(self._E)
        if t in self._by_period:
            rows, vals = self._by_period[t]
            np.minimum.at(f, rows, vals)
        return f

    def describe(self) -> dict[str, Any]:
        return {"kind": "file", "file": self.source, "rows": int(len(self.table))}


def read_shocks(path: str | Path) -> FileShocks:
    """Read a shocks table (see the module); every bad row is named by file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise TableFormatError("shocks file not found", Location(file=path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame["_line"] = np.arange(len(frame)) + 1
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
            frame["_line"] = np.arange(len(frame)) + 2
    except Exception as exc:  # pyarrow and pandas raise many types
        raise TableFormatError(f"cannot read shocks file: {exc}", Location(file=path)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    keys = [c for c in ("enterprise", "product") if c in frame.columns]
    missing = [c for c in ("period", "capacity_factor") if c not in frame.columns]
    if missing or len(keys) != 1:
        raise TableFormatError(
            "a shocks file needs columns period, capacity_factor and one of enterprise or product; "
            f"found {[c for c in frame.columns if c != '_line']}",
            Location(file=path, line=1),
        )
    for col in ("period", "capacity_factor"):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if col == "period":
            bad |= (values < 1) | (values != np.round(values))
        else:
            bad |= (values < 0) | (values > 1)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            what = "a period number >= 1" if col == "period" else "a capacity factor in [0, 1]"
            raise TableFormatError(
                f"{col} {frame[col].iloc[k]!r} is not {what}",
                Location(file=path, line=int(frame['_line'].iloc[k]), column=col),
            )
        frame[col] = values
    frame["period"] = frame["period"].astype(np.int64)
    return FileShocks(frame, source=str(path))

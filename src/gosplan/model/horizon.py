"""What a multi-year plan starts from beyond a one-year economy: capital stocks, their
depreciation, and the labour supply and consumption targets of every year.

Notation (after Cockshott's N-year plan model, ``wc22m/5yearplan``):

* the :class:`~gosplan.model.economy.Economy` gives the flow coefficients ``U``
  (``a_ij`` in the square case), the output coefficients ``O`` and the labour row ``l``,
  all per unit of activity;
* ``x0`` (``base_output``, one per activity): the base-year activity levels to which the
  capital stocks refer;
* ``K`` (``capital``, ``n x m``): ``K[i, j]`` units of product ``i`` held as a capital
  stock by activity ``j`` at the start of year 1; activity ``j`` needs
  ``b_ij = K[i, j] / x0[j]`` of it per unit of output (``x[j, t] <= S[i, j, t] / b_ij``);
* ``delta`` (``depreciation``, ``n x m``, on ``K``'s pattern): the share of the stock
  ``S[i, j, t]`` that wears out during year ``t``, in ``[0, 1]``;
* ``L[t]`` (``labour_supply``): labour available in year ``t``;
* ``target[i, t]`` (``targets``, ``n x T``): final consumption wanted of product ``i``
  in year ``t``; ``0`` means no target.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError, Location
from gosplan.model.economy import Economy, _as_csr

__all__ = ["Horizon"]


def _cell(mat: sp.csr_array, k: int) -> tuple[int, int]:
    row = int(np.searchsorted(mat.indptr, k, side="right") - 1)
    return row, int(mat.indices[k])


@dataclass(frozen=True, eq=False)
class Horizon:
    """An economy with capital stocks and a ``T``-year path of labour supply and targets.

    Attributes
    ----------
    economy:
        Flow coefficients, outputs and labour (:class:`~gosplan.model.economy.Economy`).
    capital:
        ``K``, sparse ``n x m``: stock of product ``i`` held by activity ``j`` at the
        start of year 1 (the base year's stock, in units of product ``i``).
    depreciation:
        ``delta``, sparse ``n x m`` on the pattern of ``capital`` (entries elsewhere
        are dropped): rate of wear per year, in ``[0, 1]``.
    base_output:
        ``x0`` (length ``m``): the activity levels ``K`` and the labour row refer to;
        capital coefficients are ``b_ij = K[i, j] / x0[j]``. An activity with
        ``x0[j] = 0`` is not operated in the plan.
    years:
        ``T`` year labels, in order.
    labour_supply:
        ``L`` (length ``T``), finite and ``>= 0``.
    targets:
        ``n x T`` final consumption targets, finite and ``>= 0`` (``0``: no target).
    notes:
        What the reader assumed or found wrong in the data (kept in the plan's summary).
    """

    economy: Economy
    capital: sp.csr_array
    depreciation: sp.csr_array
    base_output: np.ndarray
    years: pd.Index
    labour_supply: np.ndarray
    targets: np.ndarray
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        eco = self.economy
        n, m = eco.n_products, eco.n_activities
        years = self.years if isinstance(self.years, pd.Index) else pd.Index(self.years)
        if len(years) == 0:
            raise InvalidEconomyError("a horizon needs at least one year")
        if years.has_duplicates:
            dup = years[years.duplicated()][0]
            raise InvalidEconomyError(f"year {dup!r} appears twice in the horizon", Location(key="year", product=str(dup)))
        object.__setattr__(self, "years", years)
        T = len(years)
        K = _as_csr(self.capital, (n, m), "capital (K)")
        D = _as_csr(self.depreciation, (n, m), "depreciation (delta)")
        for what, mat in (("capital stock", K), ("depreciation rate", D)):
            bad = ~np.isfinite(mat.data) | (mat.data < 0)
            if bad.any():
                i, j = _cell(mat, int(np.flatnonzero(bad)[0]))
                raise InvalidEconomyError(
                    f"{what} of {eco.products[i]!r} held by {eco.activities[j]!r} is "
                    f"{mat.data[np.flatnonzero(bad)[0]]} (must be finite and >= 0)",
                    Location(product=str(eco.products[i]), column=str(eco.activities[j])),
                )
        if (D.data > 1).any():
            k = int(np.flatnonzero(D.data > 1)[0])
            i, j = _cell(D, k)
            raise InvalidEconomyError(
                f"depreciation rate of {eco.products[i]!r} held by {eco.activities[j]!r} is "
                f"{D.data[k]} (a rate above 1 wears out more than the stock)",
                Location(product=str(eco.products[i]), column=str(eco.activities[j])),
            )
        # delta on K's pattern, aligned entry by entry: depreciation.data[k] is the rate
        # of the stock capital.data[k] (explicit zeros kept).
        rows, cols = K.nonzero()
        rates = np.asarray(D[rows, cols]).ravel() if K.nnz else np.zeros(0)
        D = sp.csr_array((rates, K.indices.copy(), K.indptr.copy()), shape=K.shape)
        object.__setattr__(self, "capital", K)
        object.__setattr__(self, "depreciation", D)
        x0 = np.asarray(self.base_output, dtype=np.float64).reshape(-1)
        if x0.shape != (m,):
            raise InvalidEconomyError(f"base_output has length {x0.size}, expected {m} (one per activity)")
        bad = ~np.isfinite(x0) | (x0 < 0)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise InvalidEconomyError(
                f"base-year output is {x0[j]} (must be finite and >= 0)", Location(product=str(eco.activities[j]))
            )
        object.__setattr__(self, "base_output", x0)
        L = np.asarray(self.labour_supply, dtype=np.float64).reshape(-1)
        if L.shape != (T,):
            raise InvalidEconomyError(f"labour_supply has {L.size} years, the horizon has {T}")
        bad = ~np.isfinite(L) | (L < 0)
        if bad.any():
            t = int(np.flatnonzero(bad)[0])
            raise InvalidEconomyError(
                f"labour supply in year {years[t]!r} is {L[t]} (must be finite and >= 0)",
                Location(key="year", product=str(years[t])),
            )
        object.__setattr__(self, "labour_supply", L)
        targets = np.asarray(self.targets, dtype=np.float64)
        if targets.ndim == 1 and T == 1:
            targets = targets.reshape(-1, 1)
        if targets.shape != (n, T):
            raise InvalidEconomyError(f"targets have shape {targets.shape}, expected {(n, T)} (products x years)")
        bad = ~np.isfinite(targets) | (targets < 0)
        if bad.any():
            i, t = (int(v[0]) for v in np.nonzero(bad))
            raise InvalidEconomyError(
                f"target of {eco.products[i]!r} in year {years[t]!r} is {targets[i, t]} (must be finite and >= 0)",
                Location(product=str(eco.products[i]), column=str(years[t])),
            )
        object.__setattr__(self, "targets", targets)
        if eco.labour is None and (eco.primary.shape[0] == 0):
            raise InvalidEconomyError("a multi-year plan needs the labour row of the economy (it has no labour resource)")
        object.__setattr__(self, "notes", tuple(self.notes))

    # ------------------------------------------------------------------ views
    @property
    def n_years(self) -> int:
        return len(self.years)

    @property
    def capital_coefficients(self) -> sp.csr_array:
        """``B = K diag(x0)^-1`` (zero columns where ``x0 = 0``)."""
        x0 = self.base_output
        inv = np.divide(1.0, x0, out=np.zeros_like(x0), where=x0 > 0)
        return sp.csr_array(self.capital @ sp.diags_array(inv))

    @property
    def labour_coefficients(self) -> np.ndarray:
        """The economy's labour row ``l`` (per unit of activity)."""
        eco = self.economy
        k = eco.resources.get_loc(eco.labour) if eco.labour is not None else 0
        return np.asarray(eco.primary[[k], :].toarray()).ravel()

    def with_years(self, years: int) -> "Horizon":
        """The first ``years`` years (``years <= T``)."""
        if not 1 <= years <= self.n_years:
            raise InvalidEconomyError(f"the horizon has {self.n_years} years; cannot plan {years}")
        return replace(
            self,
            years=self.years[:years],
            labour_supply=self.labour_supply[:years],
            targets=self.targets[:, :years],
        )

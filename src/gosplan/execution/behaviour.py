r"""How enterprises behave: stocks, hoarding, spoilage, reports and looking ahead.

Every switch is a field of :class:`Behaviour`; the defaults are the plain model (stocks
kept, no hoarding, unsold output kept, truthful reports, myopic enterprises).

* ``stocks``: inputs delivered but not used stay with the enterprise for later periods
  (``True``) or are wasted (``False``). With stocks an enterprise orders its norm for the
  target less what it holds: ``d_je = max(m_e a_je T_e - s_je, 0)``; without,
  ``d_je = a_je T_e``.
* ``buffer`` (``b >= 0`` periods; needs ``stocks``): the normative stock of inputs an
  enterprise keeps, ``b a_je T_e``; it holds it at the start of the run and orders to keep it,
  ``d_je = max(m_e (1 + b) a_je T_e - s_je, 0)``. With ``b = 0`` (the default) nothing is
  held at the start, and any shortfall passes straight to the users.
* ``hoarding`` (``h >= 0``; 0: off; needs ``stocks``): an enterprise that was short of an
  input raises its order multiplier ``m_e <- min(m_e + h, 1 + hoard_cap)``; one that was not
  lowers it ``m_e <- max(m_e - h / 2, 1)``. It orders more than its norm and keeps the rest
  (Kornai's hoarding against the next shortage).
* ``spoilage`` (``delta`` in ``[0, 1]``): the share of finished goods left unsold (and of the
  stock carried) that spoils each period and is counted as waste; ``1``: nothing unsold is kept.
* ``reporting``: ``"truthful"``, enterprises report their capacity as it is (after this
  period's shock); ``"understated"``, they report what they chose to make (its target, for an
  enterprise that holds output at it), never more than their capacity after the shock: an
  enterprise that holds output back hides the rest (its *hidden reserve*).
* ``lookahead`` (``delta_e`` in ``[0, 1)``) with the bonus ``b = beta (x - T)^+ - alpha (T - x)^+``
  and the ratchet (regime ``command``: the centre believes at most ``(1 + g)`` times the achieved
  level ``max(T_1, x_1, ..., x_t)``): one unit
  made beyond the target earns ``beta`` now and raises next period's target by ``1 + g``,
  which costs ``alpha (1 + g)`` next period to an enterprise that cannot then meet it. An
  enterprise that looks ahead with discount ``delta_e`` holds its output at the target (and
  keeps the rest of its capacity in reserve) iff ``beta < delta_e alpha (1 + g)``; a myopic one
  (``delta_e = 0``) makes all its capacity and inputs allow (Weitzman 1980).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gosplan.errors import InvalidEconomyError

__all__ = ["Behaviour", "REPORTING"]

REPORTING = ("truthful", "understated")


@dataclass(frozen=True)
class Behaviour:
    """Enterprises' behaviour (see the module)."""

    stocks: bool = True
    buffer: float = 0.0
    hoarding: float = 0.0
    hoard_cap: float = 1.0
    spoilage: float = 0.0
    reporting: str = "truthful"
    lookahead: float = 0.0
    bonus_over: float = 0.5
    bonus_under: float = 1.0
    ratchet: float = 0.02

    def __post_init__(self) -> None:
        if self.hoarding < 0 or self.hoard_cap < 0:
            raise InvalidEconomyError(f"hoarding and hoard_cap must be >= 0, got {self.hoarding!r}, {self.hoard_cap!r}")
        if not (np.isfinite(self.buffer) and self.buffer >= 0):
            raise InvalidEconomyError(f"buffer (periods of inputs kept in stock) must be >= 0, got {self.buffer!r}")
        if self.buffer > 0 and not self.stocks:
            raise InvalidEconomyError("a buffer of inputs needs stocks")
        if self.hoarding > 0 and not self.stocks:
            raise InvalidEconomyError("hoarding needs stocks: an enterprise hoards inputs it can keep")
        if not 0 <= self.spoilage <= 1:
            raise InvalidEconomyError(f"spoilage must be in [0, 1], got {self.spoilage!r}")
        if self.reporting not in REPORTING:
            raise InvalidEconomyError(f"reporting must be one of {', '.join(REPORTING)}, got {self.reporting!r}")
        if not 0 <= self.lookahead < 1:
            raise InvalidEconomyError(f"lookahead (a discount factor) must be in [0, 1), got {self.lookahead!r}")
        if self.bonus_over < 0 or self.bonus_under < 0:
            raise InvalidEconomyError("bonus rates must be >= 0")
        if self.ratchet < 0:
            raise InvalidEconomyError(f"ratchet growth must be >= 0, got {self.ratchet!r}")

    @property
    def holds_back(self) -> bool:
        """Whether enterprises that look ahead keep output at the target (see the module)."""
        return self.bonus_over < self.lookahead * self.bonus_under * (1.0 + self.ratchet)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

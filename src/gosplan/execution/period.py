r"""One period carried out: orders, production under shortages, deliveries, stocks, waste.

Given each producer's target ``T_e``, ceiling ``u_e`` (its target, or what it intends to make,
within its capacity after shocks), order multiplier ``m_e`` and input stocks ``s_je``, and the
plan's allocations to final users (``y^c`` committed, ``y^h`` households) and imports
``M_j``:

1. orders ``d_je`` (:mod:`gosplan.execution.behaviour`); allocations
   ``D_j = sum_e d_je + y^c_j + y^h_j``;
2. outputs ``x`` and delivery shares ``phi`` (:mod:`gosplan.execution.fixed_point`), with
   ``q_j = S_j + M_j`` (finished-goods stock and imports) besides the output;
3. every user of ``j`` receives ``phi_j`` of its allocation; producer ``e`` uses
   ``a_je x_e`` and keeps (or, without stocks, wastes) ``s_je + phi_j d_je - a_je x_e``;
   what producers of ``j`` made beyond the allocations (``phi_j = 1``) joins the stock
   ``S_j``;
4. households buy what they will of ``phi_j y^h_j`` (:mod:`gosplan.consumers`); what they
   leave joins ``S_j``; a share ``delta`` of ``S_j`` spoils (waste).

The material balance of every product then reads, and is checked every period,

.. math::

    S_j + \sum_e s_{je} + x_j + M_j = \sum_e a_{je} x_e + \phi_j y^c_j + b_j + S'_j
      + \sum_e s'_{je} + w_j

(opening stocks, output, imports = intermediate use, final deliveries bought or taken,
closing stocks, waste).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gosplan.execution.behaviour import Behaviour
from gosplan.execution.fixed_point import FixedPoint, greatest_fixed_point
from gosplan.execution.producers import Producers

__all__ = ["State", "Flows", "carry_out", "BALANCE_TOL"]

BALANCE_TOL = 1e-9


@dataclass
class State:
    """What carries from one period to the next."""

    input_stock: np.ndarray  # s_je per stored pair of producers.inputs
    product_stock: np.ndarray  # S_j
    multiplier: np.ndarray  # m_e

    @classmethod
    def empty(cls, producers: Producers) -> State:
        return cls(np.zeros(producers.inputs.nnz), np.zeros(producers.n), np.ones(producers.E))


@dataclass(frozen=True, eq=False)
class Flows:
    """What happened in a period (arrays by producer ``E``, product ``n`` or input pair)."""

    output: np.ndarray
    ceiling: np.ndarray
    fixed_point: FixedPoint
    orders: np.ndarray  # d per pair
    demand: np.ndarray  # D_j
    supply: np.ndarray  # q_j + x_j
    intermediate_use: np.ndarray  # sum_e a_je x_e
    committed_delivered: np.ndarray
    household_delivered: np.ndarray
    unmet_intermediate: np.ndarray  # (1 - phi_j) sum_e d_je
    unmet_final: np.ndarray  # (1 - phi_j)(y^c_j + y^h_j)
    input_waste: np.ndarray  # by product
    short_input: np.ndarray  # producers short of an input (bool)


def orders(producers: Producers, state: State, targets: np.ndarray, behaviour: Behaviour) -> np.ndarray:
    """``d_je`` per stored pair (see :mod:`gosplan.execution.behaviour`)."""
    a = producers.inputs.data
    rows = producers.pair_row
    if not behaviour.stocks:
        return a * targets[rows]
    return np.maximum(a * ((1.0 + behaviour.buffer) * state.multiplier * targets)[rows] - state.input_stock, 0.0)


def carry_out(
    producers: Producers,
    state: State,
    d: np.ndarray,
    ceiling: np.ndarray,
    committed: np.ndarray,
    households: np.ndarray,
    imports: np.ndarray,
    behaviour: Behaviour,
    targets: np.ndarray | None = None,
) -> Flows:
    """Steps 2–3 of the module for one period, with the producers' allocations ``d`` per
    stored input pair; the state's input stocks are updated, the product stock not yet
    (households buy first: :func:`close`). ``targets``: what counts as falling short (default
    the ceilings)."""
    a = producers.inputs.data
    cols = producers.inputs.indices
    rows = producers.pair_row
    n = producers.n
    final = committed + households
    demand = np.bincount(cols, weights=d, minlength=n) + final
    base = state.product_stock + imports
    fp = greatest_fixed_point(ceiling, producers.product, producers.inputs, state.input_stock / a, d / a, base, demand,
                              producers.supply_matrix)
    x, phi = fp.output, fp.phi
    delivered = phi[cols] * d
    used = a * x[rows]
    left = state.input_stock + delivered - used
    # the fixed point holds to 1e-13 in phi: a pair may be a rounding short (used > held)
    left = np.maximum(left, 0.0)
    input_waste = np.zeros(n)
    if behaviour.stocks:
        state.input_stock = left
    else:
        input_waste = np.bincount(cols, weights=left, minlength=n)
        state.input_stock = np.zeros_like(left)
    supply = base + producers.output_of(x)
    # short of an input: held below its target (and capacity) by a missing input; an
    # enterprise that wanted to make more than its target and met it is not short
    goal = ceiling if targets is None else np.minimum(ceiling, targets)
    short = (fp.limit >= 0) & (x < goal * (1.0 - 1e-9))
    if behaviour.hoarding > 0:
        m = state.multiplier
        state.multiplier = np.where(short, np.minimum(m + behaviour.hoarding, 1.0 + behaviour.hoard_cap),
                                    np.maximum(m - behaviour.hoarding / 2, 1.0))
    return Flows(
        output=x, ceiling=ceiling, fixed_point=fp, orders=d, demand=demand, supply=supply,
        intermediate_use=np.bincount(cols, weights=used, minlength=n),
        committed_delivered=phi * committed, household_delivered=phi * households,
        unmet_intermediate=(1.0 - phi) * (demand - final), unmet_final=(1.0 - phi) * final,
        input_waste=input_waste, short_input=short,
    )


def close(state: State, flows: Flows, unsold_households: np.ndarray, behaviour: Behaviour) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: ``(spoiled, left_over)`` by product; the product stock is updated.

    ``left_over`` is what producers made beyond the allocations this period."""
    phi = flows.fixed_point.phi
    left_over = np.maximum(flows.supply - phi * flows.demand, 0.0)
    stock = left_over + unsold_households
    spoiled = behaviour.spoilage * stock
    state.product_stock = stock - spoiled
    return spoiled, left_over


def balance_error(
    opening_products: np.ndarray,
    opening_inputs: np.ndarray,
    output: np.ndarray,
    imports: np.ndarray,
    intermediate_use: np.ndarray,
    final_taken: np.ndarray,
    closing_products: np.ndarray,
    closing_inputs: np.ndarray,
    waste: np.ndarray,
    allocated: np.ndarray,
) -> np.ndarray:
    """Each product's ``|sources - uses| / max(sources, uses, allocated)`` (0 where all vanish):
    relative to the product's flows, planned (``allocated``, the ``D_j``) or actual."""
    sources = opening_products + opening_inputs + output + imports
    uses = intermediate_use + final_taken + closing_products + closing_inputs + waste
    scale = np.maximum(np.maximum(np.abs(sources), np.abs(uses)), np.abs(allocated))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, np.abs(sources - uses) / np.where(scale > 0, scale, 1.0), 0.0)

"""The chain of command: reports aggregated up, plans broken down, supplies linked.

* :func:`aggregate`: the enterprises' capacities and techniques aggregated to products
  (capacity-weighted ``A'``, ``P'``): the economy the centre plans on;
* :func:`breakdown`: a product-level plan split among ministries and enterprises
  (proportional or merit order), with every enterprise's inputs;
* :func:`breakdown_levels`: the same for enterprise levels decided elsewhere
  (two-level planning);
* :func:`supply_links`: who delivers to whom (a transportation problem by product).

Notation and the model: :mod:`gosplan.model.hierarchy` and ``docs/hierarchy.md``.
"""

from gosplan.hierarchy.aggregate import Aggregation, aggregate
from gosplan.hierarchy.breakdown import RULES, breakdown, breakdown_levels, gross_output_of
from gosplan.hierarchy.links import Links, supply_links
from gosplan.hierarchy.result import Breakdown, BreakdownCheckError, CapacityShortfallError

__all__ = [
    "aggregate",
    "Aggregation",
    "breakdown",
    "breakdown_levels",
    "Breakdown",
    "CapacityShortfallError",
    "BreakdownCheckError",
    "supply_links",
    "Links",
    "RULES",
    "gross_output_of",
]

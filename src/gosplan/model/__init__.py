"""Data layer: the Economy container."""

from gosplan.model.economy import Economy, EconomyMeta
from gosplan.model.hierarchy import EnterpriseNorms, Hierarchy
from gosplan.model.horizon import Horizon

__all__ = ["Economy", "EconomyMeta", "EnterpriseNorms", "Hierarchy", "Horizon"]

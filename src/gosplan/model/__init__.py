"""Data layer: the Economy container."""

from gosplan.model.economy import Economy, EconomyMeta

__all__ = ["Economy", "EconomyMeta"]

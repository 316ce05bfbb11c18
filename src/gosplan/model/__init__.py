"""Data layer: the Economy container.

The classes are imported on first use (PEP 562): ``import gosplan.model`` loads
neither numpy, pandas nor scipy until one of them is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gosplan.model.economy import Economy, EconomyMeta
    from gosplan.model.hierarchy import EnterpriseNorms, Hierarchy
    from gosplan.model.horizon import Horizon

__all__ = ["Economy", "EconomyMeta", "EnterpriseNorms", "Hierarchy", "Horizon"]

_LAZY: dict[str, str] = {
    "Economy": "gosplan.model.economy",
    "EconomyMeta": "gosplan.model.economy",
    "EnterpriseNorms": "gosplan.model.hierarchy",
    "Hierarchy": "gosplan.model.hierarchy",
    "Horizon": "gosplan.model.horizon",
}


#: Submodules ``import gosplan.model`` used to import: imported on first access too.
_LAZY_MODULES = frozenset({"economy", "hierarchy", "horizon"})


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _LAZY_MODULES:
        return import_module(f"gosplan.model.{name}")
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'gosplan.model' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

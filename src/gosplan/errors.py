"""Exceptions and warnings raised by gosplan.

One small tree, rooted at :class:`PlanningError`::

    PlanningError
    ├── InvalidEconomyError (also a ValueError)
    │   ├── TableFormatError        a cell, row or header of an input file is malformed
    │   └── UnknownProductError     demand/targets name a product the economy lacks
    ├── NotProductiveError          spectral radius of A >= 1 (names the self-sustaining group)
    └── ConvergenceError            an iterative solve did not reach its tolerance

Every message names what is at fault: the file, the line, the column, the product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = [
    "Location",
    "PlanningError",
    "InvalidEconomyError",
    "TableFormatError",
    "UnknownProductError",
    "NotProductiveError",
    "ConvergenceError",
    "GosplanWarning",
    "NegativeCoefficientWarning",
    "DataQualityWarning",
]


@dataclass(frozen=True)
class Location:
    """Where in an input a problem sits. Every field is optional.

    ``line`` is the 1-based line number in the file as a text editor shows it
    (the header is line 1).
    """

    file: str | Path | None = None
    line: int | None = None
    column: str | None = None
    product: str | None = None
    key: str = "product"
    """What ``product`` names: a product, or a resource in a resources file."""

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.product is not None:
            parts.append(f"{self.key} {self.product!r}")
        return ", ".join(parts)


class PlanningError(Exception):
    """Base class of every error gosplan raises on purpose."""


class InvalidEconomyError(PlanningError, ValueError):
    """The economy (or a table it is read from) breaks a modelling rule.

    Parameters
    ----------
    message:
        What is wrong, in words.
    location:
        Where: file, line, column and/or product.
    """

    def __init__(self, message: str, location: Location | None = None):
        self.location = location
        self.reason = message
        text = f"{location}: {message}" if location is not None and str(location) else message
        super().__init__(text)


class TableFormatError(InvalidEconomyError):
    """A file cannot be read as the table it should be: bad header, text in a
    numeric cell, decimal comma, duplicate or missing labels, missing file."""


class UnknownProductError(InvalidEconomyError):
    """Demand, targets or another table name a product the economy does not have."""


class NotProductiveError(PlanningError):
    """The economy cannot meet any positive demand: (I - A) is not a nonsingular M-matrix.

    Attributes
    ----------
    products:
        Labels of the strongly connected group of products that cannot
        reproduce itself (its block of A has spectral radius >= 1).
    spectral_radius:
        Estimate of the spectral radius of that block.
    """

    def __init__(self, message: str, products: Sequence[str] = (), spectral_radius: float | None = None):
        self.products = tuple(products)
        self.spectral_radius = spectral_radius
        super().__init__(message)


class ConvergenceError(PlanningError):
    """An iterative method stopped before reaching its tolerance."""


class GosplanWarning(UserWarning):
    """Base class of gosplan's warnings."""


class NegativeCoefficientWarning(GosplanWarning):
    """A technical coefficient is negative (scrap, by-products); accepted."""


class DataQualityWarning(GosplanWarning):
    """A table has a known defect that gosplan reports and works around explicitly."""

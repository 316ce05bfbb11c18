"""JSON for summaries: numpy scalars and arrays to Python, NaN/inf to null, enums to their value,
paths to strings."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_ready", "finite_or_none"]


def json_ready(value: Any) -> Any:
    """Plain JSON: numpy scalars to Python, NaN/inf to null, paths to strings."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, enum.Enum):
        return json_ready(value.value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def finite_or_none(x: Any) -> float | None:
    """``x`` as a float, ``None`` when it is missing or not finite (for summaries)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None

"""The choices the CLI offers, as constants that import nothing heavy.

The solver modules own these lists (:data:`gosplan.linalg.leontief.METHODS`,
:data:`gosplan.planning.optimal.METHODS`, :data:`gosplan.planning.problem.OBJECTIVES`,
:data:`gosplan.decompose.COORDINATIONS`),
but importing them loads numpy, scipy and numba, which ``gosplan --help`` must not wait
for (docs/cli.md, "Start-up"). tests/test_cli_startup.py asserts that every tuple here
equals the library's own, so the two cannot drift apart.
"""

from __future__ import annotations

import enum

__all__ = ["BALANCE_METHODS", "DECOMPOSE_COORDINATIONS", "PLAN_METHODS", "PLAN_OBJECTIVES", "choice_enum"]

#: ``gosplan balance --method``: :data:`gosplan.linalg.leontief.METHODS`.
BALANCE_METHODS: tuple[str, ...] = (
    "auto", "dense", "trim-gs", "trim-jacobi", "trim-bicgstab",
    "scc-gs", "scc-jacobi", "scc-bicgstab", "bicgstab",
)
#: ``gosplan plan --method``: :data:`gosplan.planning.optimal.METHODS`.
PLAN_METHODS: tuple[str, ...] = ("auto", "highs", "highs-ipm", "highs-pdlp", "leontief", "pdhg")
#: ``gosplan plan --objective``: :data:`gosplan.planning.problem.OBJECTIVES`.
PLAN_OBJECTIVES: tuple[str, ...] = ("fulfilment", "harmony", "cost")
#: ``gosplan plan --decompose --coordination``: :data:`gosplan.decompose.COORDINATIONS`.
DECOMPOSE_COORDINATIONS: tuple[str, ...] = ("aggregation", "marginal")


def choice_enum(name: str, values: tuple[str, ...]) -> type[enum.Enum]:
    """A ``str`` enum typer shows as the choices ``values`` (``-`` becomes ``_`` in member names)."""
    return enum.Enum(name, {v.replace("-", "_"): v for v in values}, type=str)  # type: ignore[return-value]

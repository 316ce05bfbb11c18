"""The ``gosplan`` command group: typer's, with a cheaper ``--help`` flag.

typer (0.29) coerces every parameter of the groups on the command line through a
pydantic validator, built on first use, and the group's own ``--help`` flag, absent
from ``gosplan plan --help``, has the value ``None``, which is not a ``bool``: typer
then imports pydantic and builds a validator for it (about 0.1 s and 12 MB), only to
return ``None``. Giving the flag the default ``False`` skips that; the flag means the
same (an absent flag shows no help) and its help line is unchanged (no default shown).
Any real command still coerces its own options through typer (docs/cli.md, "Start-up").
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

__all__ = ["GosplanGroup"]


class GosplanGroup(TyperGroup):
    """typer's group whose ``--help`` flag defaults to ``False`` instead of ``None``."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

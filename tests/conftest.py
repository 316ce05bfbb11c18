"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    """A CLI runner that keeps stderr apart from stdout."""
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first, the rest in their order. With ``-n 2`` a long test that
    starts last keeps one worker busy after the other has finished: the 46 s capacities test
    of tests/test_simulate.py started at 386 s of a 436 s run, and ended it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # a stable sort

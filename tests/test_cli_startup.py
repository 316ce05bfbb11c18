"""The ``gosplan`` command starts without the numerical stack (issue 15, item 4).

``gosplan --help``, ``--version`` and every subcommand's ``--help`` must not import
numba, scipy, pandas, pyarrow, highspy or dask: each check runs in a fresh interpreter
and looks at ``sys.modules`` (an import count, not a timing; the times are in
benchmarks/bench_startup.py). The CLI's constant choice lists must equal the solvers' own,
and ``import gosplan`` must keep its public API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


HEAVY = ("numba", "scipy", "pandas", "pyarrow", "highspy", "dask", "numpy")


def _loaded_after(code: str, extra: tuple[str, ...] = ()) -> dict:
    """Run ``code`` in a fresh interpreter; which of HEAVY (+ extra) it left in sys.modules."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {HEAVY + extra!r} if m in sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "GOSPLAN_DEBUG"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return {"loaded": json.loads(done.stdout.strip().splitlines()[-1]), "stderr": done.stderr}


def test_import_gosplan_and_the_cli_loads_no_numerical_stack() -> None:
    assert _loaded_after("import gosplan")["loaded"] == []
    assert _loaded_after("import gosplan.model, gosplan.errors, gosplan.cli.app")["loaded"] == []


# One interpreter for every invocation: each must exit 0 and print what it should.
INVOCATIONS = (
    ["--version"], ["--help"], ["-h"], ["balance", "--help"], ["plan", "--help"], ["info", "--help"],
    ["datasets", "--help"], ["convert", "--help"], ["synth", "--help"], ["aggregate", "--help"],
    ["breakdown", "--help"], ["simulate", "--help"], ["scenario", "--help"], ["serve", "--help"],
    ["db", "--help"], ["db", "upgrade", "--help"], ["users", "--help"], ["users", "create", "--help"],
)


def test_help_and_version_load_no_numerical_stack_nor_pydantic() -> None:
    code = (
        "from typer.testing import CliRunner\n"
        "from gosplan.cli.app import app\n"
        "runner = CliRunner()\n"
        f"for args in {INVOCATIONS!r}:\n"
        "    r = runner.invoke(app, args, prog_name='gosplan')\n"
        "    assert r.exit_code == 0, (args, r.exit_code, r.output)\n"
        "    assert ('gosplan ' if args == ['--version'] else 'Usage: gosplan') in r.output, (args, r.output)\n"
    )
    # pydantic: typer builds a validator for an absent group --help flag unless
    # gosplan.cli.group.GosplanGroup gives the flag a bool default
    assert _loaded_after(code, extra=("pydantic",))["loaded"] == []


def test_console_entry_point_main_loads_no_numerical_stack() -> None:
    code = (
        "from gosplan.cli.app import main\n"
        "for args in (['--version'], ['plan', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
    )
    assert _loaded_after(code)["loaded"] == []


def test_choices_equal_the_solvers_own_lists() -> None:
    from gosplan.cli import choices
    from gosplan.cli.app import Method, Objective, PlanMethod
    from gosplan.linalg.leontief import METHODS as BALANCE_METHODS
    from gosplan.planning.optimal import METHODS as PLAN_METHODS
    from gosplan.planning.problem import OBJECTIVES

    assert choices.BALANCE_METHODS == BALANCE_METHODS
    assert choices.PLAN_METHODS == PLAN_METHODS
    assert choices.PLAN_OBJECTIVES == OBJECTIVES
    assert tuple(m.value for m in Method) == BALANCE_METHODS
    assert tuple(m.value for m in PlanMethod) == PLAN_METHODS
    assert tuple(m.value for m in Objective) == OBJECTIVES


def test_other_cli_choices_equal_the_library_lists() -> None:
    from gosplan.cli import hierarchy_commands, simulate_command
    from gosplan.cycle.simulate import RULES as PRICE_RULES
    from gosplan.execution.behaviour import REPORTING
    from gosplan.execution.run import REGIMES
    from gosplan.hierarchy.breakdown import RULES as BREAKDOWN_RULES

    assert tuple(r.value for r in simulate_command.Rule) == PRICE_RULES
    assert tuple(r.value for r in simulate_command.Regime) == REGIMES
    assert tuple(r.value for r in simulate_command.Reporting) == REPORTING
    assert tuple(r.value for r in hierarchy_commands.Rule) == BREAKDOWN_RULES


def test_public_api_unchanged() -> None:
    import gosplan.model
    import gosplan.model.economy
    import gosplan.model.hierarchy
    import gosplan.results

    assert gosplan.Economy is gosplan.model.Economy is gosplan.model.economy.Economy
    assert gosplan.Hierarchy is gosplan.model.hierarchy.Hierarchy
    assert gosplan.Status is gosplan.results.Status
    assert gosplan.balance.__module__ == "gosplan.material_balance"
    listed = dir(gosplan)
    for name in gosplan.__all__:
        assert name in listed, name
        assert getattr(gosplan, name) is not None, name
    namespace: dict = {}
    exec("from gosplan import *", namespace)
    assert {n for n in gosplan.__all__} <= set(namespace)
    assert set(gosplan.model.__all__) <= set(dir(gosplan.model))
    from gosplan.model import EnterpriseNorms, Horizon  # noqa: F401  (PEP 562 from-import)

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gosplan.nope  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gosplan.model.nope  # noqa: B018


def test_bare_import_reaches_model_and_results_as_before() -> None:
    code = (
        "import gosplan\n"
        "assert gosplan.model.Economy is gosplan.Economy\n"
        "assert gosplan.results.Status.OPTIMAL.value == 'optimal'\n"
        "assert 'model' in dir(gosplan) and 'results' in dir(gosplan)\n"
        "import gosplan.model as m\n"
        "assert m.economy.Economy is m.Economy and m.horizon.Horizon is m.Horizon\n"
        "assert m.hierarchy.Hierarchy is m.Hierarchy\n"
    )
    assert "numpy" in _loaded_after(code)["loaded"]  # ran; and they do load the stack


def test_error_paths_unchanged() -> None:
    """One line and exit 1 on bad input; GOSPLAN_DEBUG=1: the traceback; exit 2 on usage errors."""
    env = {k: v for k, v in os.environ.items() if k != "GOSPLAN_DEBUG"}
    cmd = [sys.executable, "-m", "gosplan", "balance", "/nonexistent/economy"]
    plain = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 1
    assert plain.stderr.startswith("error: /nonexistent/economy: ") and plain.stderr.count("\n") == 1
    assert "Traceback" not in plain.stderr
    debug = subprocess.run(cmd, capture_output=True, text=True, env={**env, "GOSPLAN_DEBUG": "1"}, timeout=120)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "gosplan.errors.TableFormatError" in debug.stderr
    usage = subprocess.run([*cmd[:4], "cockshott-example", "--method", "nope"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert usage.returncode == 2 and "--method" in usage.stderr

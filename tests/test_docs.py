"""The README and the docs say what is true: their Python examples run (as doctests), their
`gosplan ...` command lines parse against the real CLI, their links point at files that
exist, and the README's quick start is exactly two commands."""

from __future__ import annotations

import doctest
import re
import shlex
import warnings
from pathlib import Path

import pytest
import typer

from gosplan.cli.app import Method, app

ROOT = Path(__file__).resolve().parents[1]
# docs/economy-format.md is tested with the directory format (tests/test_directory.py)
DOCS = [ROOT / "README.md", *(ROOT / "docs" / name for name in ("index.md", "api.md", "cli.md", "maths.md", "planning.md", "multiyear.md", "hierarchy.md", "decompose.md", "consumers.md", "monitoring.md", "execution.md", "service.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\[[^\]]+\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text(encoding="utf-8")) if lang == language]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_python_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block, in order, sharing one namespace per file (like a session)."""
    blocks = _blocks(path, "python")
    if path.name in ("README.md", "api.md", "maths.md"):
        assert blocks, f"{path.name} should have runnable examples"
    monkeypatch.chdir(tmp_path)  # examples may write files
    globs: dict = {"__name__": f"docs_{path.stem}"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tables' data-quality warnings are tested elsewhere
        for k, block in enumerate(blocks):
            if ">>>" in block:
                test = parser.get_doctest(block, globs, f"{path.name}[{k}]", str(path), 0)
                runner.run(test, clear_globs=False)
                globs.update(test.globs)  # DocTest works on a copy
            else:
                exec(compile(block, f"{path.name}[{k}]", "exec"), globs)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {path.name} failed"


def _command_lines(path: Path) -> list[list[str]]:
    lines = []
    for block in _blocks(path, "console"):
        for line in block.splitlines():
            if line.startswith("$ gosplan"):
                lines.append(shlex.split(line[2:])[1:])
    return lines


CLI_DOCS = [p for p in DOCS if _command_lines(p)]


@pytest.mark.parametrize("path", CLI_DOCS, ids=_ids(CLI_DOCS))
def test_documented_command_lines_parse(path: Path) -> None:
    """Each `$ gosplan ...` line names a real command and real options with valid values."""
    root = typer.main.get_command(app)
    for args in _command_lines(path):
        ctx = root.make_context("gosplan", list(args), resilient_parsing=True)
        if not args or args[0].startswith("-"):
            continue
        name, rest = args[0], args[1:]
        command = root.get_command(ctx, name)
        assert command is not None, f"{path.name}: unknown command in 'gosplan {' '.join(args)}'"
        if "--help" in rest or "-h" in rest:
            continue  # --help prints and exits while parsing
        try:
            command.make_context(name, list(rest), parent=ctx)
        except Exception as exc:  # click's UsageError / BadParameter
            pytest.fail(f"{path.name}: 'gosplan {' '.join(args)}' does not parse: {exc}")


def test_cli_doc_covers_every_command_and_option() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    ctx = root.make_context("gosplan", [], resilient_parsing=True)
    for name in root.list_commands(ctx):
        assert f"## `gosplan {name}`" in text, name
        for param in root.get_command(ctx, name).params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in text or f"[{opt}" in text, f"{name} {opt} undocumented"


def test_cli_methods_are_the_solver_methods() -> None:
    from gosplan.linalg.leontief import METHODS

    assert [m.value for m in Method] == list(METHODS)


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_relative_links_exist(path: Path) -> None:
    missing = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        if not (path.parent / target).exists():
            missing.append(target)
    assert not missing, f"{path.name} links to missing files: {missing}"


def test_readme_quick_start_is_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [body for lang, body in FENCE.findall(section) if lang == "bash"]
    assert len(blocks) == 1
    commands = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(commands) == 2
    assert "gosplan balance us-2017" in commands[0] and "pip install ." in commands[0]
    assert commands[1] == "bash .ci/run"
    assert (ROOT / ".ci" / "run").is_file()

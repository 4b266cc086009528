"""Every option of every command, the root group's included, says what it does in `--help`; README names every
command with formats."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from tools.cli_tree import commands

from mlform.compiler.cli import cli

_COMMANDS = [(("mlform",), cli), *((("mlform", *path), command) for path, command in commands())]


def _unexplained(words: tuple[str, ...], command: click.Command) -> list[str]:
    """The options of `command` with an empty help line, `--help` aside, as `mlform <words> --option`."""
    ctx = click.Context(command, info_name=words[-1])
    help_option = command.get_help_option(ctx)
    return [f"{' '.join(words)} {param.opts[0]}" for param in command.get_params(ctx)
            if isinstance(param, click.Option) and param is not help_option and not (param.help or "").strip()]


def test_every_option_has_a_help_line() -> None:
    assert [name for words, command in _COMMANDS for name in _unexplained(words, command)] == []


def test_the_check_names_an_option_without_help() -> None:
    command = click.Command("toy", params=[click.Option(["--bare"]), click.Option(["--told"], help="Told.")])
    assert _unexplained(("mlform", "toy"), command) == ["mlform toy --bare"]


@pytest.mark.parametrize(("words", "shown"), [
    (("plan",), "`text` for people, `markdown` for pull-request comments, `json` (with `format_version`) for tools."),
    (("runs", "list"), "`text` for people, `json` for tools."),
])
def test_format_help_says_what_each_format_is_for(run_mlform, words: tuple[str, ...], shown: str) -> None:
    result = run_mlform(*words, "--help")
    assert result.code == 0
    assert "".join(shown.split()) in "".join(result.out.split())  # however the terminal's width wraps it


def test_the_readme_lists_every_command_with_formats() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    listed = re.search(r"choose one with `--format`\n\(([^;]*);", readme)
    assert listed is not None
    with_formats = {" ".join(words[1:]) for words, command in _COMMANDS
                    if any("--format" in p.opts for p in command.params if isinstance(p, click.Option))}
    assert set(re.findall(r"`([\w ]+)`", listed.group(1))) == with_formats

"""Every command and every option flag of the CLI is run by some test: a flag no test passes is a flag whose
behaviour nothing checks. Read as text: a test file runs `mlform state list --env` when its source holds each
word as a string literal (`"state"`, `"list"`, `"--env"` or `"--env=..."`), as the CLI calls are written."""

from __future__ import annotations

import re
from pathlib import Path

import click
from tools.cli_tree import commands

from mlform.compiler.cli import cli

TESTS = Path(__file__).resolve().parents[2]


def _sources() -> list[str]:
    """The text of every test module but this one."""
    return [p.read_text() for p in sorted(TESTS.rglob("*.py")) if p.resolve() != Path(__file__).resolve()]


def _literal(word: str) -> re.Pattern[str]:
    """A string literal that is `word`, or for a flag also `word=VALUE`."""
    return re.compile(rf"""(["']){re.escape(word)}(\1|=)""")


def _flags(command: click.Command) -> list[str]:
    """The long flags of `command`'s options, `--no-x` switches included (short aliases name the same option)."""
    return [flag for param in command.params if isinstance(param, click.Option)
            for flag in (*param.opts, *param.secondary_opts) if flag.startswith("--")]


def unexercised(sources: list[str]) -> list[str]:
    """`mlform WORDS [FLAG]` for each command no source runs, and each flag no source running its command passes."""
    missing = [f"mlform {flag}" for flag in _flags(cli) if not any(_literal(flag).search(s) for s in sources)]
    for path, command in commands():
        running = [s for s in sources if all(_literal(word).search(s) for word in path)]
        shown = "mlform " + " ".join(path)
        if not running:
            missing.append(shown)
            continue
        missing += [f"{shown} {flag}" for flag in _flags(command) if not any(_literal(flag).search(s) for s in running)]
    return missing


def test_every_command_and_option_flag_is_run_by_a_test() -> None:
    assert unexercised(_sources()) == []


def test_a_flag_or_command_no_test_mentions_is_named() -> None:
    sources = ['run_mlform("state", "list", spec)', "run_mlform('state', 'show', '--env=dev')", '["--debug"]',
               'serving(["serve", spec, "--access-log", "--workers", "2"])',
               'assert "mlform serve --no-access-log" in text']  # a flag inside a longer literal is not passed
    missing = set(unexercised(sources))
    run = {"mlform state list", "mlform state show", "mlform state show --env", "mlform --debug", "mlform serve",
           "mlform serve --access-log", "mlform serve --workers"}
    assert not run & missing
    assert {"mlform --version", "mlform state migrate", "mlform force-unlock", "mlform serve --no-access-log",
            "mlform serve --port"} <= missing

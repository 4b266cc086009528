"""Every command of the `mlform` CLI, subcommands of groups included, imported from the `COMMANDS` table."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import click

from mlform.compiler.cli import COMMANDS

__all__ = ["commands"]


def _walk(path: tuple[str, ...], command: click.Command) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk((*path, name), sub)


def commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """(the words that invoke it, the command) for each command and group, in name order."""
    for name, (target, _) in sorted(COMMANDS.items()):
        module, _, attr = target.partition(":")
        yield from _walk((name,), getattr(importlib.import_module(module), attr))

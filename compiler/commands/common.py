"""Options and helpers shared by subcommands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["env_option", "policy_option", "spec_files", "specs_argument"]

F = TypeVar("F", bound=Callable[..., Any])


def specs_argument(func: F) -> F:
    """SPEC...: spec files or directories holding `mlform.yaml` files."""
    return click.argument("specs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))(func)


def env_option(func: F) -> F:
    """--env ENV: the environment overlay to resolve."""
    return click.option("--env", "-e", "env", default=None, metavar="ENV",
                        help="Environment overlay to resolve (default: the base spec).")(func)


def policy_option(func: F) -> F:
    """--policy FILE: the organisation policy the specs are checked against."""
    return click.option("--policy", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                        metavar="FILE", help="Policy file of organisation rules (default: $MLFORM_POLICY, else "
                                             "mlform-policy.yaml at the project root, if any).")(func)


def spec_files(paths: tuple[Path, ...]) -> list[Path]:
    """Expand spec paths; fail clearly when a directory holds no spec."""
    from mlform.specs.read.discovery import discover

    files = discover(paths)
    if not files:
        shown = ", ".join(str(p) for p in paths)
        raise click.UsageError(f"no `mlform.yaml` found in {shown}")
    return files

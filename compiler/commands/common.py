"""Options and helpers shared by subcommands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from mlform.runtime.storage.backends.base import Backend

__all__ = ["Duration", "env_option", "lock_timeout_option", "policy_option", "spec_backends",
           "spec_files", "specs_argument"]

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


class Duration(click.ParamType):
    """A duration such as `30s`, `5m`, `1h` or `90` (seconds), as seconds."""

    name = "duration"
    _UNITS = {"s": 1, "m": 60, "h": 3600}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Seconds as a float; a usage error naming the accepted forms otherwise."""
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip()
        number, unit = (text[:-1], text[-1]) if text[-1:] in self._UNITS else (text, "s")
        try:
            seconds = float(number) * self._UNITS[unit]
        except ValueError:
            seconds = -1.0
        if not seconds >= 0:  # also refuses nan
            self.fail(f"`{value}` is not a duration: use e.g. `30s`, `5m`, `1h` or `0`", param, ctx)
        return seconds


def lock_timeout_option(func: F) -> F:
    """--lock-timeout DURATION: how long to wait for a state lock another command holds."""
    return click.option("--lock-timeout", type=Duration(), default="0", metavar="DURATION",
                        help="Wait this long for a state lock held by another apply (e.g. `30s`, `5m`); "
                             "default 0: fail at once, naming the holder.")(func)


def spec_files(paths: tuple[Path, ...]) -> list[Path]:
    """Expand spec paths; fail clearly when a directory holds no spec."""
    from mlform.specs.read.discovery import discover

    files = discover(paths)
    if not files:
        shown = ", ".join(str(p) for p in paths)
        raise click.UsageError(f"no `mlform.yaml` found in {shown}")
    return files


def _sets_backend(path: Path) -> bool:
    """Whether the spec file at `path` has a `state` section, in the base spec or an overlay."""
    from mlform.specs.errors import SpecError
    from mlform.specs.read.source import read_document  # not the loader: `audit --verify` imports no pydantic

    try:
        data = read_document(path, str(path)).data
    except SpecError:
        return True  # unreadable: validating reports it
    data = data if isinstance(data, dict) else {}
    overlays = data.get("environments")
    return "state" in data or (isinstance(overlays, dict) and
                               any(isinstance(o, dict) and "state" in o for o in overlays.values()))


def spec_backends(files: list[Path]) -> list[Backend]:
    """The backends the spec files keep their state in, in order and without repeats: `$MLFORM_BACKEND` when set,
    else every environment's `state.backend` (a spec without a `state` section: its state folder, unvalidated)."""
    import os

    from mlform.runtime.storage.backends.url import BACKEND_ENV, backend_url, opened
    from mlform.runtime.storage.statedir import state_dir_for

    if os.environ.get(BACKEND_ENV):
        return [opened(os.environ[BACKEND_ENV])]
    urls: dict[str, None] = {}
    for file in files:
        if not _sets_backend(file):
            urls.setdefault(str(state_dir_for(file.resolve().parent)))
            continue
        from mlform.specs import SpecError, validate_file  # only now: validating imports pydantic

        specs, diagnostics = validate_file(file)
        if any(d.severity == "error" for d in diagnostics):
            raise SpecError(diagnostics)
        urls.update(dict.fromkeys(backend_url(spec) for spec in specs))
    return [opened(url) for url in urls]

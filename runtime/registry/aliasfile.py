"""The aliases file of a registered model, read without the registry's imports (plan receipts check it cheaply).

Format 2 is `{"format": 2, "environments": {env: {alias: version}}}`; the first format, `{alias: version}`, is one
set of aliases every environment sees.
"""

from __future__ import annotations

from typing import Any

from mlform.specs.errors import StateError

__all__ = ["ALIASES_FORMAT", "AliasTable", "ForeignFormatError", "alias_table", "env_aliases"]

ALIASES_FORMAT = 2

AliasTable = dict[str, dict[str, int]]


class ForeignFormatError(StateError, ValueError):
    """An aliases file of a format this mlform does not read; `args[0]` is the format it names."""


def alias_table(data: Any) -> tuple[AliasTable, dict[str, int] | None]:
    """The per-environment aliases in `data` (a parsed aliases file), or ({}, the flat map) for the first format.

    ForeignFormatError for another format; ValueError when it is not a mapping of aliases to versions.
    """
    if not isinstance(data, dict):
        return {}, None
    if isinstance(data.get("environments"), dict) and data.get("format") != ALIASES_FORMAT:
        raise ForeignFormatError(data.get("format"))
    try:
        if isinstance(data.get("environments"), dict):
            return {str(env): {str(a): int(v) for a, v in scoped.items()}
                    for env, scoped in data["environments"].items()}, None
        return {}, {str(alias): int(version) for alias, version in data.items()}
    except (AttributeError, TypeError, ValueError):
        raise ValueError("not a mapping of aliases to versions") from None


def env_aliases(table: AliasTable, flat: dict[str, int] | None, env: str) -> dict[str, int]:
    """Alias -> version as environment `env` sees them in an `alias_table` result."""
    return dict(flat) if flat is not None else dict(table.get(env, {}))

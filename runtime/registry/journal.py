"""The one place aliases move: each move is journaled with the version it really replaced, and audited.

Every command collects the registry changes it makes in a `Journal`. `mlform apply` puts them in its own
audit entry; any other command (`mlform run`, `mlform monitor`) appends one entry of its own when it moved
an alias, so every alias move is in exactly one audit entry, with its true before and after.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlform.runtime.storage.auditkeep import append_or_keep, settle
from mlform.runtime.storage.auditlog import command_fields
from mlform.runtime.storage.backends.url import backend_for
from mlform.specs.errors import MlformError

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

    from .models import Registry

__all__ = ["AliasMove", "Journal"]


@dataclass(frozen=True)
class AliasMove:
    """Alias `alias` of `model` moved from `before` (None: unset) to `after` in one environment."""

    model: str
    alias: str
    before: int | None
    after: int

    def to_json(self) -> dict[str, Any]:
        """The audit log's form: `{"model", "alias", "from", "to"}`."""
        return {"model": self.model, "alias": self.alias, "from": self.before, "to": self.after}


@dataclass
class Journal:
    """What one command (`apply`, `run`, `monitor`) changed in the registry of one spec and environment."""

    command: str
    registered: list[dict[str, Any]] = field(default_factory=list)
    moves: list[AliasMove] = field(default_factory=list)

    def register(self, model: str, version: int) -> None:
        """Note a version registered by this command."""
        self.registered.append({"model": model, "version": version})

    def move(self, registry: Registry, spec: ResolvedSpec, model: str, alias: str, version: int) -> int | None:
        """Point `alias` of `model` in the environment of `spec` at `version`; the version it held before.

        Outside an apply, which checks the audit log before it starts, a broken log, or kept entries that cannot
        be appended, refuse the move: no alias moves without its audit entry.
        """
        if self.command != "apply":
            settle(spec, backend_for(spec))
        before = registry.set_alias(model, alias, version, env=spec.env)
        if before != version:
            self.moves.append(AliasMove(model, alias, before, version))
        return before

    def promoted(self) -> list[dict[str, Any]]:
        """The alias moves in the audit log's form."""
        return [move.to_json() for move in self.moves]

    @contextlib.contextmanager
    def auditing(self, spec: ResolvedSpec) -> Iterator[Journal]:
        """Collect the changes made in the block, then `record` them (as failed when the block raised)."""
        try:
            yield self
        except BaseException as exc:
            self.record(spec, exc)
            raise
        self.record(spec)

    def record(self, spec: ResolvedSpec, error: BaseException | None = None) -> dict[str, Any] | None:
        """Append the audit entry of a command other than apply that moved an alias; None when it moved none.

        With `error` (the command failed after moving), a log that cannot be written is a warning, so
        that the command's own error is the one reported.
        """
        if not self.moves:
            return None
        fields = {**command_fields(spec, self.command, "failed" if error else "applied", error),
                  "plan_digest": None, "serial": None, "registered": self.registered, "promoted": self.promoted()}
        try:
            return append_or_keep(spec, backend_for(spec), fields)
        except MlformError as failure:
            if error is None:
                raise
            print(f"warning: the audit entry of this {self.command} was not written: {failure}", file=sys.stderr)
            return None

"""Plans are data: each Change has an Action, `before`, `after` and the reason it happens.

Invariants per action: CREATE has `before` None; DELETE has `after` None; UPDATE has both and they
differ; RUN is a step that will execute (`before` is the recorded fingerprint or None); a step UPDATE
records its cached output in state; NOOP is an artifact or step left as it is (`before` == `after`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from mlform.specs.errors import PlanError

__all__ = ["PLAN_FORMAT", "Action", "Change", "Plan", "PlanInputs", "alias_notes", "applied_aliases"]

PLAN_FORMAT = 1


@dataclass(frozen=True)
class PlanInputs:
    """Where artifacts go, how they are rendered and the policy file named (`--policy`): the same for plan and apply."""

    out: Path | None = None
    targets: tuple[str, ...] | None = None
    templates: Path | None = None
    policy: Path | None = None  # None: `$MLFORM_POLICY`, else `mlform-policy.yaml` at the project root, if any


class Action(str, Enum):
    """What a change does; the value is its symbol in rendered plans."""

    CREATE = "+"
    UPDATE = "~"
    DELETE = "-"
    RUN = ">"
    NOOP = "="


@dataclass(frozen=True)
class Change:
    """One planned change of an artifact (`kind="artifact"`), step (`"step"`) or alias (`"alias"`).

    `evidence` backs a promotion: metric deltas, gate results and drift of the promoted version.
    `header_only` marks an artifact UPDATE that differs only in its provenance header (as `mlform diff`
    decides, see `artifactdiff`): text views show it on one line, `diff` keeps the detail.
    """

    kind: str
    address: str
    action: Action
    before: Any = None
    after: Any = None
    reason: str = ""
    diff: str = ""
    evidence: list[str] = field(default_factory=list)
    header_only: bool = False


@dataclass
class Plan:
    """Everything one apply would do for one spec and environment, and what it was computed against.

    `problems` are reasons apply would refuse (e.g. a pinned version that failed its gates); `notes` say what
    changed outside this environment's applies (e.g. an alias moved by `mlform monitor`).
    """

    spec: str
    env: str
    spec_digest: str
    lineage: str | None
    serial: int | None
    data: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of(self, kind: str, *actions: Action) -> list[Change]:
        """The changes of `kind`, restricted to `actions` when given."""
        return [c for c in self.changes if c.kind == kind and (not actions or c.action in actions)]

    @property
    def has_changes(self) -> bool:
        """Whether applying would change anything."""
        return any(c.action is not Action.NOOP for c in self.changes)

    def summary(self) -> str:
        """`Plan: X to add, Y to change, Z to destroy; N steps to run.`"""
        counts = Counter(c.action for c in self.changes)  # by the action each row shows, whatever its kind
        return (f"Plan: {counts[Action.CREATE]} to add, {counts[Action.UPDATE]} to change, "
                f"{counts[Action.DELETE]} to destroy; {counts[Action.RUN]} steps to run.")

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data with `format_version`."""
        changes = [{**asdict(c), "action": c.action.name.lower()} for c in self.changes]
        body = {k: v for k, v in asdict(self).items() if k != "changes"}
        return {"format_version": PLAN_FORMAT, **body, "changes": changes, "summary": self.summary()}

    def to_json(self) -> str:
        """Stable JSON text of the plan."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a saved plan; raise PlanError when it is not one this mlform can apply."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PlanError(f"not an mlform plan file: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """A plan from the data `to_dict` made; raise PlanError when it is not one this mlform can apply."""
        try:
            data = dict(data)
            version = data.pop("format_version")
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"not an mlform plan file: {exc}") from None
        if version != PLAN_FORMAT:
            raise PlanError(f"plan format_version {version} is not supported (expected {PLAN_FORMAT})")
        data.pop("summary", None)
        try:
            changes = [Change(**{**c, "action": Action[c["action"].upper()]}) for c in data.pop("changes")]
            return cls(**data, changes=changes)
        except (KeyError, TypeError, AttributeError) as exc:
            raise PlanError(f"plan file has unexpected content: {exc}") from None


def applied_aliases(recorded: dict[str, int], name: str) -> dict[str, int]:
    """Alias -> version of model `name` among the `MODEL@alias` entries a state recorded."""
    return {key.rpartition("@")[2]: version for key, version in recorded.items() if key.rpartition("@")[0] == name}


def alias_notes(now: dict[str, int], applied: dict[str, int]) -> list[str]:
    """A note per alias that is not where the environment's last apply left it (moved by `mlform run`, `monitor`)."""
    notes = []
    for alias in sorted(set(now) | set(applied)):
        current, before = now.get(alias), applied.get(alias)
        if current != before:
            at = f"is at v{current}" if current is not None else "is unset"
            was = f"set v{before}" if before is not None else "left it unset"
            notes.append(f"alias `{alias}` {at}, this environment's last apply {was} (moved outside `mlform apply`; "
                         "`mlform audit` shows by what)")
    return notes
